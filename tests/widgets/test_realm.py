import html
import re

import ipywidgets as W
import pytest

from ccalab import Platform
from ccalab.firmware.rmm.granule import GranuleState
from ccalab.firmware.rmm.objects import RealmState
from ccalab.host import Host, RealmConfig
from ccalab.widgets import RealmInspector
from ccalab.widgets.realm import STAGES


def _text(widget_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", widget_html))


@pytest.fixture
def ri():
    ins = RealmInspector(draw=False)
    ins.platform.rmm.debug = True
    return ins


def test_ui_is_one_root_widget_with_described_controls(ri):
    assert isinstance(ri.ui, W.VBox)
    for b in (ri.build_next_button, ri.build_all_button, ri.run_button, ri.destroy_button, ri.reset_button,
              ri.refresh_button):
        assert b.description and b.tooltip
    assert ri.program.value == "hello" and ri.program.description
    assert [ri.tabs.get_title(k) for k in range(len(ri.PANELS))] == [t for _, t in ri.PANELS]
    assert hasattr(ri, "_ipython_display_")
    assert [r.size for r in ri.platform.memory_map if r.kind == "dram"] == [1 << 30]
    plan = _text(ri.plan_html.value)
    assert "[>] 1. Delegate the RD" in plan and plan.count("[ ]") == len(STAGES) - 1
    assert "No realm yet" in _text(ri.texts["rtt"].value)


def test_each_step_makes_its_rmi_calls_and_updates_the_panels(ri):
    p = ri.platform
    assert ri.build_next()
    rd = ri.handle.rd
    assert p.rmm.granules.state(rd) == GranuleState.DELEGATED
    assert "Stage 1" in _text(ri.message.value) and "[x] 1." in _text(ri.plan_html.value)
    assert "RMI_GRANULE_DELEGATE(addr=" in _text(ri.message.value)  # the calls, in the details
    assert ri.build_next()
    assert p.rmm.realms[rd].state == RealmState.NEW
    assert f"Realm RD {rd:#x}: state NEW" in _text(ri.texts["recs"].value)
    assert "1. #" in _text(ri.texts["rim"].value) and "RMI_REALM_CREATE(rd=" in _text(ri.texts["rim"].value)
    assert ri.build_next()
    assert "L3 RTT at" in _text(ri.texts["rtt"].value)
    seq = _text(ri.texts["sequence"].value)  # only the last action: three RTT_CREATEs and their delegations
    assert seq.count("RMI_RTT_CREATE(") == 3 and "REALM_CREATE" not in seq


def test_build_all_activates_the_realm_with_the_rim_the_rmm_holds(ri):
    assert ri.build_all()
    p, rd = ri.platform, ri.handle.rd
    assert ri.built and p.rmm.realms[rd].state == RealmState.ACTIVE
    rim = p.rmm.measurement(rd).hex()
    assert rim in _text(ri.message.value)
    assert f"RIM now, frozen (the realm is active): {rim}" in _text(ri.texts["rim"].value)
    assert ri.build_next_button.disabled and ri.build_all_button.disabled
    assert ri.build_next() is False and "built" in _text(ri.message.value)
    counts = _text(ri.texts["granules"].value)
    assert "RD 1" in counts and "REC_AUX 16" in counts


def test_the_same_build_as_the_host_gives_the_same_rim(ri):
    ri.build_all()
    ref = Host(Platform(dram_size=1 << 30)).build_realm(RealmConfig(program="hello"))
    assert ri.platform.rmm.measurement(ri.handle.rd) == ref.rim


def test_run_shows_the_console_and_the_sequence_of_the_run(ri):
    ri.build_all()
    report = ri.run()
    assert report is not None and report.console == ["hello from realm CPU 0: IPA width 40 bits"]
    msg = _text(ri.message.value)
    assert "hello from realm CPU 0" in msg and "PSCI SYSTEM_OFF" in msg
    assert "state SYSTEM_OFF" in _text(ri.texts["recs"].value)
    seq = _text(ri.texts["sequence"].value)
    assert "enter REC 0" in seq and "REC 0 exit PSCI (via RMM)" in seq
    assert "REC 0 exit PSCI" in _text(ri.texts["log"].value)


def test_run_before_the_realm_is_built_is_explained(ri):
    n = len(ri.platform.events)
    assert ri.run() is None
    assert "build it first" in _text(ri.message.value)
    ri.build_next()
    assert ri.run() is None
    assert "#B3261E" in ri.message.value
    assert len(ri.platform.events) > n  # only the build step made calls


def test_destroy_gives_every_granule_back(ri):
    ri.build_all()
    ri.run()
    assert ri.destroy()
    counts = ri.platform.rmm.granules.counts()
    assert all(n == 0 for s, n in counts.items() if s != GranuleState.UNDELEGATED)
    assert ri.handle is None and ri.stage == 0 and not ri.platform.rmm.realms
    assert "Destroyed" in _text(ri.message.value)
    assert "[>] 1." in _text(ri.plan_html.value)
    assert ri.build_all()  # a new realm can be built
    assert len(ri.platform.rmm.realms) == 1


def test_destroy_after_only_delegating_undelegates(ri):
    ri.build_next()
    rd = ri.handle.rd
    assert ri.destroy()
    assert ri.platform.rmm.granules.state(rd) == GranuleState.UNDELEGATED


def test_destroy_with_nothing_built_is_explained(ri):
    assert ri.destroy() is False
    assert "no realm" in _text(ri.message.value)


def test_a_failed_stage_names_its_failure_condition_and_stays_next(ri):
    ri.build_next()
    # the host changes its mind behind the inspector's back: the RD granule is not DELEGATED any more
    ri.host.must("GRANULE_UNDELEGATE", ri.handle.rd)
    assert "press Refresh" in ri.stale_note.value
    assert ri.build_next() is False
    msg = _text(ri.message.value)
    assert "Stage 2 (REALM_CREATE) failed" in msg and "rd_state" in msg
    assert ri.stage == 1 and "[>] 2." in _text(ri.plan_html.value)
    assert ri.stale_note.value == ""


def test_a_realm_built_elsewhere_is_inspected_and_can_run():
    p = Platform(dram_size=1 << 30)
    host = Host(p)
    realm = host.build_realm(RealmConfig(program="hello"))
    ins = RealmInspector(host=host, realm=realm, draw=False)
    assert ins.platform is p and ins.built and ins.realm_select.value == realm.rd
    assert f"L0 RTT at {realm.rtt_base:#x}" in _text(ins.texts["rtt"].value)
    assert ins.run().console


def test_the_realm_dropdown_switches_the_panels(ri):
    ri.build_all()
    p = ri.platform
    other_host = Host(p, pool=(p.ns_dram().base + (512 << 20), 64 << 20))  # pages apart from the inspector's
    other = other_host.build_realm(RealmConfig(program="hello", vmid=9))
    ri.refresh()
    assert other.rd in [v for _, v in ri.realm_select.options]
    ri.realm_select.value = other.rd
    assert "VMID 9" in _text(ri.texts["recs"].value)
    ri.refresh()  # a refresh keeps the learner's choice
    assert ri.realm_select.value == other.rd


def test_scope_everything_shows_the_whole_log(ri):
    ri.build_all()
    ri.build_next()  # nothing to do: the last action made no call
    ri.scope.value = "all"
    assert "RMI_REALM_CREATE(" in _text(ri.texts["sequence"].value)


def test_reset_restores_a_fresh_machine_and_every_control(ri):
    old = ri.platform
    ri.program.value = "memtouch"
    ri.build_all()
    ri.scope.value = "all"
    ri.tabs.selected_index = 3
    ri.reset()
    p = ri.platform
    assert p is not old and not p.rmm.realms and p.rmm.granules.counts()[GranuleState.RD] == 0
    assert ri.handle is None and ri.stage == 0 and ri.last_report is None
    assert ri.program.value == "hello" and ri.scope.value == "last" and ri.tabs.selected_index == 0
    assert "Reset" in _text(ri.message.value) and "[>] 1." in _text(ri.plan_html.value)
    assert not ri.build_next_button.disabled
    old.events.append("whatif", "test", "the old machine changes")
    assert ri.stale_note.value == ""  # the old machine no longer drives the inspector


def test_program_choice_reaches_the_realm(ri):
    ri.program.value = "memtouch"
    ri.build_all()
    report = ri.run()
    for _ in range(100):  # a slow machine may pause a Run (time budget); Run again continues
        if not report.stopped.startswith("paused"):
            break
        report = ri.run()
    assert ri.handle.cfg.program == "memtouch"
    assert ri.handle.guest(0).notes["checksum_ok"] is True
    assert report.stopped == "stopped: the realm called PSCI SYSTEM_OFF"


def _idle_program():
    from ccalab.guest.programs import PROGRAMS, program

    name = "widget-test-idle"
    if name not in PROGRAMS:
        @program(name)
        def idle(cpu):
            """Wait for interrupts for ever: each WFI traps to the host (the host sets trap_wfi)."""
            while True:
                yield from cpu.wfi()
    return name


def test_a_realm_that_keeps_running_pauses_and_continues(monkeypatch):
    from ccalab.widgets import realm as wr

    monkeypatch.setattr(wr, "RUN_EXITS", 2)
    name = _idle_program()
    ins = RealmInspector(draw=False)
    ins.program.value = name
    ins.build_all()
    report = ins.run()
    assert report.stopped == "paused after 2 exits: the realm is still running (press Run to continue)"
    assert "press Run to continue" in _text(ins.message.value)
    ins.run()
    rec = ins.platform.rmm.recs[ins.handle.recs[0]]
    assert rec.exits == 4 and rec.last_exit["reason"] == 0  # SYNC: a trapped WFI, EC 0x01
    assert ins.platform.events.of_kind("rec.exit")[-1].data["fields"]["esr"] >> 26 == 0x01


def test_panel_text_refuses_an_unknown_panel(ri):
    with pytest.raises(KeyError, match="panels"):
        ri.panel_text("nope")


def test_figures_are_drawn_for_the_selected_panel_and_closed():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ins = RealmInspector(draw=True, theme="dark")
    ins.build_all()
    for k in range(len(ins.PANELS)):
        ins.tabs.selected_index = k
    ins.run()
    ins.scope.value = "all"
    assert plt.get_fignums() == []
