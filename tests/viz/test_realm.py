import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

from ccalab import Platform  # noqa: E402
from ccalab.firmware.rmm import s2tt  # noqa: E402
from ccalab.firmware.rmm.granule import GranuleState  # noqa: E402
from ccalab.firmware.rmm.measurement import HashAlgo, rim_init  # noqa: E402
from ccalab.host import Host, RealmConfig  # noqa: E402
from ccalab.viz import realm as vr  # noqa: E402
from ccalab.viz.theme import THEMES  # noqa: E402

G = 4096


def _built():
    p = Platform(dram_size=1 << 30)
    p.rmm.debug = True
    host = Host(p)
    realm = host.build_realm(RealmConfig(program="hello"))
    return p, host, realm


@pytest.fixture(scope="module")
def built():
    """A realm built but never run (module-wide: the tests only read it)."""
    return _built()


@pytest.fixture(scope="module")
def ran():
    """A realm built, then run to SYSTEM_OFF; ``seq`` is where the run began."""
    p, host, realm = _built()
    seq = p.events.next_seq
    report = realm.run()
    return p, host, realm, seq, report


# --- granule states -------------------------------------------------------------------------------
def _map_rows(text):
    return [line.split("|")[1] for line in text.splitlines() if line.startswith("0x") and "|" in line]


def test_granule_states_text_counts_each_state_of_the_realm(built):
    p, _host, realm = built
    text = vr.granule_states_text(p)
    assert "In this range: UNDELEGATED" in text
    for part in ("RD 1", "REC 1", "REC_AUX 16", "DATA 1", "RTT 4"):
        assert part in text.split("In this range:")[1].splitlines()[0]
    counts = p.rmm.granules.counts()
    assert f"RTT {counts[GranuleState.RTT]}" in text.split("Whole machine:")[1]
    assert f"{realm.rd:#010x}..{realm.rd + G:#010x}  RD" in text
    row = "".join(_map_rows(text))
    for sym in "RTDCa":
        assert sym in row
    assert "Legend:" in text


def test_granule_state_runs_match_the_tracker_granule_by_granule(built):
    p, _host, realm = built
    start, end = realm.rd - 8 * G, realm.rd + 64 * G
    runs = vr.state_runs(vr.granule_state_array(p, start, end), start)
    assert runs[0][0] == start and runs[-1][1] == end
    for lo, hi, code in runs:
        for pa in range(lo, hi, G):
            assert p.rmm.granules.state(pa) == code
    # consecutive runs differ
    assert all(a[2] != b[2] for a, b in zip(runs, runs[1:]))


def test_a_coarse_step_marks_cells_holding_more_than_one_state(built):
    p, _host, realm = built
    fine = vr.granule_states_text(p, realm.rd, realm.rd + 64 * G)
    assert _map_rows(fine)[0][0] == "R"
    coarse = vr.granule_states_text(p, realm.rd, realm.rd + 64 * G, step=16 * G)
    # RD, RTT, host pages, DATA, RTTs, REC, aux...: the first two 64 KB cells hold several states
    assert _map_rows(coarse) == ["??.."]
    assert "1 character = 64 KB" in coarse


def test_a_fresh_machine_shows_every_granule_undelegated():
    p = Platform(dram_size=1 << 30)
    text = vr.granule_states_text(p)
    assert set("".join(_map_rows(text))) == {"."}
    assert f"Whole machine: UNDELEGATED {(1 << 30) // G}" in text


def test_bad_ranges_and_steps_are_refused_with_a_message(built):
    p = built[0]
    with pytest.raises(ValueError, match="empty range"):
        vr.granule_states_text(p, 0x9000_0000, 0x9000_0000)
    with pytest.raises(ValueError, match="multiple"):
        vr.granule_states_text(p, 0x9000_0000, 0x9001_0000, step=100)
    with pytest.raises(ValueError, match="physical address space"):
        vr.granule_states_text(p, 0, 1 << 60)


def test_outside_dram_is_shown_as_not_tracked(built):
    p = built[0]
    text = vr.granule_states_text(p, 0x7FFF_C000, 0x8000_4000)
    assert _map_rows(text)[0] == "    ...."
    assert "not DRAM" in text


# --- RTT tree ---------------------------------------------------------------------------------------
def test_rtt_tree_text_shows_every_table_with_level_and_pa(built):
    p, _host, realm = built
    text = vr.rtt_tree_text(p, realm.rd)
    assert f"L0 RTT at {realm.rtt_base:#x}" in text
    for (region, level), pa in realm.rtts.items():
        assert f"L{level} RTT at {pa:#x}: IPA {region:#x}" in text
    data_pa = realm.data[0]
    assert f"entry 0          IPA 0x0..0x1000  ASSIGNED/RAM -> DATA {data_pa:#x}" in text
    assert "entries 1-511    IPA 0x1000..0x200000  UNASSIGNED/RAM" in text
    assert "entries 1-511    IPA 0x200000..0x40000000  UNASSIGNED/EMPTY" in text
    assert "UNASSIGNED_NS  (unprotected)" in text
    assert "beyond the 40-bit IPA space" in text
    assert "4 RTTs (L0 1, L1 1, L2 1, L3 1)" in text
    assert "UNASSIGNED/RAM 511" in text and "ASSIGNED/RAM 1" in text


def test_a_handle_is_accepted_where_an_rd_is_expected(built):
    p, _host, realm = built
    assert vr.rtt_tree_text(p, realm) == vr.rtt_tree_text(p, realm.rd)


def test_max_entries_caps_the_rows_of_a_table(built):
    p, _host, realm = built
    rows = vr.rtt_rows(p, realm.rd, max_entries=1)
    more = [r for r in rows if r.kind == "more"]
    assert more and all(r.note.endswith("more entries not listed") for r in more)


def test_classify_entries_agrees_with_the_rmm_decoder(ran):
    p, _host, realm, _seq, _rep = ran
    rd = p.rmm.realms[realm.rd]
    for rtt, level in vr._realm_rtts(p, rd):
        ents = p.rmm.rtt_entries(rtt)
        code, pa = vr.classify_entries(ents, level)
        for e, c, out in zip(ents.tolist(), code.tolist(), pa.tolist()):
            assert vr.ENTRY_STATES[c] == s2tt.name(int(e), level)
            hipas, _ripas, want = s2tt.decode(int(e), level)
            if hipas != s2tt.Hipas.UNASSIGNED and hipas != s2tt.Hipas.UNASSIGNED_NS:
                assert out == want
    synthetic = [s2tt.assigned(0x9000_0000, s2tt.Ripas.EMPTY, 3), s2tt.assigned(0x9000_1000, s2tt.Ripas.DESTROYED, 3),
                 s2tt.unassigned(s2tt.Ripas.DESTROYED), s2tt.assigned_ns(0x9000_2000 | 0xD8, 3),
                 s2tt.table(0x9000_3000)]
    for level in (2, 3):
        code, _ = vr.classify_entries(synthetic, level)
        assert [vr.ENTRY_STATES[c] for c in code] == [s2tt.name(e, level) for e in synthetic]


# --- RECs --------------------------------------------------------------------------------------------
def test_recs_text_before_the_first_run(built):
    p, _host, realm = built
    text = vr.recs_text(p, realm.rd)
    assert f"Realm RD {realm.rd:#x}: state ACTIVE, VMID 1, MECID 1" in text
    assert "s2sz 40" in text and "hash algorithm SHA-256" in text
    assert f"REC 0 at {realm.recs[0]:#x}: MPIDR 0x0, READY, runnable, PC 0x0, 16 auxiliary granules" in text
    assert "exits 0, last exit none yet; pending: none" in text


def test_recs_text_after_the_realm_powered_off(ran):
    p, _host, realm, _seq, report = ran
    text = vr.recs_text(p, realm.rd)
    rec = p.rmm.recs[realm.recs[0]]
    assert "state SYSTEM_OFF" in text
    assert f"exits {rec.exits}, last exit PSCI" in text and rec.exits == len(report.exits)
    assert "console (last line): hello from realm CPU 0" in text


def _cpu_on_program():
    from ccalab.guest.programs import PROGRAMS, program

    name = "viz-test-cpu-on"
    if name not in PROGRAMS:
        @program(name)
        def cpu_on_then_stop(cpu):
            """Ask for CPU 1 and stop: the host's answer is what the test looks at."""
            yield from cpu.cpu_on(1, cpu.pc, 0x5)
    return name


def test_recs_text_shows_a_pending_psci_request():
    p = Platform(dram_size=1 << 30)
    realm = Host(p).build_realm(RealmConfig(program=_cpu_on_program(), recs=2))
    call, ex = realm.enter(0)
    assert call.ok and ex["exit_reason"] == 3  # PSCI: the host has not answered yet
    text = vr.recs_text(p, realm.rd)
    assert "exits 1, last exit PSCI; pending: PSCI CPU_ON of MPIDR 0x1" in text
    assert f"REC 1 at {realm.recs[1]:#x}: MPIDR 0x1, READY, not runnable" in text
    assert "2 RECs (next REC_CREATE gets index 2)" in text


# --- the RIM ------------------------------------------------------------------------------------------
def test_rim_log_lists_each_measured_step_and_ends_with_the_rmm_rim(built):
    p, _host, realm = built
    text = vr.rim_log_text(p, realm.rd)
    steps = vr.rim_steps(p, realm.rd)
    assert [s.command for s in steps] == ["RMI_REALM_CREATE", "RMI_DATA_CREATE", "RMI_RTT_INIT_RIPAS",
                                          "RMI_REC_CREATE"]
    rim = p.rmm.measurement(realm.rd)
    assert steps[-1].rim == rim
    assert f"RIM now, frozen (the realm is active): {rim.hex()}" in text
    assert "The last step's RIM is the RMM's RIM." in text
    # the first step is H(the measured params), which measurement.rim_init computes independently
    first = rim_init(HashAlgo.SHA_256, realm.cfg.params())
    assert steps[0].rim == first and f"-> RIM {vr.short_hex(first)}" in text
    data_pa = realm.data[0]
    assert f"RMI_DATA_CREATE(rd={realm.rd:#x}, data={data_pa:#x}, ipa=0x0, src=" in text
    assert "flags 0x1 (content measured)" in text
    assert "base 0x1000, top 0x200000, reached 0x200000" in text
    assert "runnable, its flags, PC and GPRs are measured" in text


def test_rim_log_starts_again_when_an_rd_is_reused():
    from ccalab.firmware.rmm.structs import REALM_PARAMS

    p, host, realm = _built()
    rd = realm.rd
    realm.destroy()
    host.must("GRANULE_DELEGATE", rd)  # the same granule becomes the RD of a new realm
    root = host.alloc(2)  # two fresh pages: the root RTT and the params
    host.must("GRANULE_DELEGATE", root)
    prm = dict(RealmConfig(vmid=7).params(), rtt_base=root)
    host.must("REALM_CREATE", rd, host.write_struct(REALM_PARAMS, prm, pa=root + G))
    steps = vr.rim_steps(p, rd)
    assert [s.command for s in steps] == ["RMI_REALM_CREATE"]
    assert steps[0].rim == p.rmm.measurement(rd)
    assert "RIM now, still growing (realm NEW)" in vr.rim_log_text(p, rd)


def test_rim_log_of_a_destroyed_realm_says_so():
    p, _host, realm = _built()
    last = p.rmm.measurement(realm.rd)
    realm.destroy()
    text = vr.rim_log_text(p, realm.rd)
    assert "The realm no longer exists." in text and last.hex() in text


# --- call log and sequence -------------------------------------------------------------------------------
def test_rmi_log_shows_rsi_psci_exits_and_a_failure_label(ran):
    p, host, realm, seq, _rep = ran
    before = p.events.next_seq
    call = host.rmi("REALM_ACTIVATE", realm.rd)
    assert not call.ok
    text = vr.rmi_log_text(p, seq)
    assert "RSI  RSI_REALM_CONFIG" in text
    assert "PSCI PSCI SYSTEM_OFF from REC 0" in text
    assert "EXIT REC 0 exit PSCI" in text
    assert "EXIT REC 0 exit SYNC (ESR 0x" in text
    tail = vr.rmi_log_text(p, before)
    assert tail.splitlines() == [f"#{before + 1:<6} RMI  RMI_REALM_ACTIVATE(rd={realm.rd:#x}) -> RMI_ERROR_REALM"
                                 "  [realm_state]"]
    assert len(vr.rmi_log_text(p, seq, last=3).splitlines()) == 3


def test_rmi_log_of_nothing_says_so(built):
    p = built[0]
    assert vr.rmi_log_text(p, p.events.next_seq).startswith("(no RMI, RSI or PSCI calls since #")


def _arrow(text, label):
    """The arrow part of the sequence line whose label is ``label``."""
    for line in text.splitlines():
        if line.rstrip().endswith(label):
            return line[8:8 + 43]
    raise AssertionError(f"no line ends with {label!r}")


def test_sequence_text_draws_calls_returns_entry_and_exits_between_lanes(ran):
    p, _host, realm, seq, _rep = ran
    text = vr.sequence_text(p, seq, limit=1000)
    lines = text.splitlines()
    assert lines[1].split() == ["Host", "EL3", "monitor", "RMM", "Realm"]
    assert "elided" not in text
    enter = _arrow(text, "enter REC 0")
    assert enter.index(">") == 41 and set(enter[29:41]) == {"-"}  # RMM -> Realm
    delegate = _arrow(text, f"RMM_GTSI_DELEGATE({realm.data[0x1000]:#x})")
    assert delegate[15] == "<" and delegate[28] == "|"  # RMM -> EL3
    assert _arrow(text, "E_RMM_OK").index(">") == 27  # EL3 -> RMM, dashed
    assert "....>" in _arrow(text, "E_RMM_OK")
    exit_line = _arrow(text, "REC 0 exit PSCI (via RMM)")
    assert exit_line[1] == "<" and exit_line[42] == "|"  # Realm -> Host
    assert _arrow(text, "PSCI SYSTEM_OFF")[29] == "<"  # Realm -> RMM
    n_enter = sum(1 for ln in lines if ln.endswith("enter REC 0"))
    n_rec_enter = sum(1 for ln in lines if "RMI_REC_ENTER(" in ln)
    assert n_enter == n_rec_enter == 8


def test_a_refused_rec_enter_has_no_arrow_into_the_realm(ran):
    p, _host, realm, _seq, _rep = ran
    before = p.events.next_seq
    call, _ = realm.enter(0)
    assert not call.ok
    text = vr.sequence_text(p, before)
    assert "enter REC" not in text
    assert "[system_off]" in text


def test_long_sequences_are_elided_in_the_middle(ran):
    p, _host, _realm, seq, _rep = ran
    msgs = vr.sequence_messages(p, seq)
    text = vr.sequence_text(p, seq, limit=10)
    body = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert len(body) == 10
    assert f"... {len(msgs) - 10} messages elided" in text
    assert body[0].startswith(f"#{msgs[0].seq}") and body[-1].startswith(f"#{msgs[-1].seq}")


def test_sequence_from_boot_leaves_out_the_monitors_bookkeeping(built):
    p = built[0]
    msgs = vr.sequence_messages(p, 0)
    assert {m.kind for m in msgs} <= {"call", "return", "exit", "note"}
    assert not any("GPT" in m.label or "TLBI" in m.label for m in msgs)


# --- summary and errors ---------------------------------------------------------------------------------
def test_realm_summary_text_has_everything_in_brief(ran):
    p, _host, realm, _seq, _rep = ran
    text = vr.realm_summary_text(p, realm.rd)
    assert "state SYSTEM_OFF" in text
    assert "Granules: RD 1, RTT 4, DATA 2, REC 1, REC_AUX 16" in text
    assert f"RIM built in 4 steps (REALM_CREATE 1, DATA_CREATE 1, RTT_INIT_RIPAS 1, REC_CREATE 1): " \
           f"{p.rmm.measurement(realm.rd).hex()}" in text
    assert "REC 0: READY, runnable" in text and "last exit PSCI" in text
    assert "Last RMI calls:" in text and "RMI_REC_ENTER(rec=" in text
    owned = vr.realm_granules(p, realm.rd)
    for state, pas in owned.items():
        assert all(p.rmm.granules.state(pa) == state for pa in pas)


@pytest.mark.parametrize("fn", [vr.rtt_tree_text, vr.recs_text, vr.realm_summary_text, vr.draw_rtt_tree])
def test_an_address_that_is_not_an_rd_is_explained(built, fn):
    p = built[0]
    with pytest.raises(ValueError, match="no realm has its RD at 0x1000"):
        fn(p, 0x1000)
    with pytest.raises(ValueError, match="Realm Descriptor"):
        fn(p, "0x1000")


# --- figures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_granule_states_figure_has_a_counted_legend_in_either_theme(built, theme):
    p, _host, realm = built
    fig = vr.draw_granule_states(p, theme=theme)
    try:
        ax = fig.axes[0]
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "RD (1)" in texts and "REC_AUX (16)" in texts and "DATA (1)" in texts
        assert ax.get_legend().get_texts()[0].get_color().lower() == THEMES[theme]["text"].lower()
        assert fig.patch.get_alpha() == 0
    finally:
        plt.close(fig)


def test_granule_states_figure_colours_the_rd_cell(built):
    p, _host, realm = built
    fig = vr.draw_granule_states(p, realm.rd, realm.rd + 16 * G)
    try:
        img = np.asarray(fig.axes[0].images[0].get_array())
        codes = [int(s) for s in GranuleState] + [vr.MIXED_STATE, vr.UNTRACKED]
        assert img[0, 0] == codes.index(GranuleState.RD)
        assert img[0, 1] == codes.index(GranuleState.RTT)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_rtt_tree_figure_draws_a_box_per_row_coloured_by_state(built, theme):
    p, _host, realm = built
    rows = vr.rtt_rows(p, realm.rd, 12)
    fig = vr.draw_rtt_tree(p, realm.rd, theme=theme)
    try:
        ax = fig.axes[0]
        boxes = [r for r in ax.patches if isinstance(r, Rectangle)]
        assert len(boxes) == len([r for r in rows if r.kind != "more"])
        fills = {matplotlib.colors.to_hex(b.get_facecolor()) for b in boxes}
        assert vr.ENTRY_COLOURS["ASSIGNED/RAM"].lower() in fills and vr.ENTRY_COLOURS["TABLE"].lower() in fills
        assert "HIPAS/RIPAS" == ax.get_legend().get_title().get_text()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_rim_figure_has_one_box_per_step(built, theme):
    p, _host, realm = built
    fig = vr.draw_rim_log(p, realm.rd, theme=theme)
    try:
        ax = fig.axes[0]
        texts = " ".join(t.get_text() for t in ax.texts)
        assert "1. REALM_CREATE" in texts and "4. REC_CREATE" in texts
        assert f"RIM {vr.short_hex(p.rmm.measurement(realm.rd))}" in texts
        assert "4 measured steps" in ax.get_title()
    finally:
        plt.close(fig)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_sequence_figure_has_an_arrow_per_message_and_an_elision(ran, theme):
    p, _host, _realm, seq, _rep = ran
    msgs = vr.sequence_messages(p, seq)
    fig = vr.draw_sequence(p, seq, limit=20, theme=theme)
    try:
        ax = fig.axes[0]
        arrows = [a for a in ax.patches if isinstance(a, FancyArrowPatch)]
        head, gap, tail = vr._elide(msgs, 20)
        assert len(arrows) == sum(1 for m in head + tail if m.kind != "note")
        assert any(f"{gap} messages elided" in t.get_text() for t in ax.texts)
        lanes = [t.get_text() for t in ax.texts if t.get_text() in vr.LANES]
        assert lanes == list(vr.LANES)
    finally:
        plt.close(fig)


def test_figures_draw_into_a_given_axes(built):
    p, _host, realm = built
    for draw in (lambda ax: vr.draw_granule_states(p, ax=ax), lambda ax: vr.draw_rtt_tree(p, realm.rd, ax=ax),
                 lambda ax: vr.draw_rim_log(p, realm.rd, ax=ax), lambda ax: vr.draw_sequence(p, ax=ax)):
        fig, ax = plt.subplots()
        try:
            assert draw(ax) is fig
        finally:
            plt.close(fig)


def test_the_realm_text_views_load_no_graphics():
    code = ("import sys; from ccalab import Platform; from ccalab.host import Host, RealmConfig; "
            "import ccalab.viz as v; p = Platform(dram_size=1 << 30); r = Host(p).build_realm(RealmConfig()); "
            "v.granule_states_text(p); v.rtt_tree_text(p, r.rd); v.recs_text(p, r.rd); v.rim_log_text(p, r.rd); "
            "v.rmi_log_text(p); v.sequence_text(p); v.realm_summary_text(p, r.rd); "
            "assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
