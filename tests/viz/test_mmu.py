import gc
import re
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ccalab import PAS  # noqa: E402
from ccalab.arch.mmu import FaultKind  # noqa: E402
from ccalab.arch.sysreg import HCR_EL2  # noqa: E402
from ccalab.scenarios import two_stage_guest  # noqa: E402
from ccalab.viz import mmu as vm  # noqa: E402
from ccalab.viz.theme import THEMES  # noqa: E402

READ_LINE = re.compile(r"#(\d+)\s+S([12]) L(\d)\s")


@pytest.fixture
def g():
    return two_stage_guest()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _clear_bit(g, builder, ia, bit):
    addr = builder.descriptor_address(ia, 3)
    g.platform.memory.write64(addr, g.platform.memory.read64(addr) & ~(1 << bit))
    return addr


def _s1_table_ipa(g, level):
    """The IPA of the stage-1 table at ``level`` for the guest's VA."""
    return [a for a in vm.walk_view(g.pe, g.va).reads if a.kind == "s1"][level].table


def _red_cells(fig):
    ax = fig.axes[0]
    red = to_hex(vm.WALK_COLOURS["fault"])
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_facecolor()[3] > 0
            and to_hex(p.get_facecolor()[:3]) == red]


def _cell_texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


# --- VA fields ---------------------------------------------------------------------------------
def test_va_fields_split_a_48_bit_va_into_four_nine_bit_indexes():
    va = (5 << 39) | (256 << 30) | (7 << 21) | (3 << 12) | 0xABC
    f = vm.va_fields(va, 16)
    assert [(n, hi, lo) for n, hi, lo, _ in f] == [
        ("TTBR select (all 0s: TTBR0, all 1s: TTBR1)", 63, 48), ("L0 index", 47, 39), ("L1 index", 38, 30),
        ("L2 index", 29, 21), ("L3 index", 20, 12), ("page offset", 11, 0)]
    assert [v for *_, v in f] == [0, 5, 256, 7, 3, 0xABC]


def test_va_fields_start_lower_for_a_smaller_input_and_widen_a_concatenated_start():
    f = vm.va_fields(1 << 38, 25)  # 39 bits: the walk starts at level 1
    assert [n for n, *_ in f][1] == "L1 index" and f[1][1:3] == (38, 30) and f[1][3] == 256
    f = vm.va_fields(0xFF << 30, 24, start_level_=1)  # 40-bit IPA, two concatenated level-1 tables
    assert f[1][:3] == ("L1 index", 39, 30) and f[1][3] == 0xFF


def test_va_fields_refuse_an_impossible_t0sz():
    with pytest.raises(ValueError):
        vm.va_fields(0, 60)


# --- walk_text -------------------------------------------------------------------------------
def test_cold_walk_text_lists_the_va_fields_and_24_reads_nested_by_stage_1_level(g):
    text = vm.walk_text(g.pe, g.va)
    for needle in ("VA[47:39]", "L0 index", "VA[38:30] = 256", "L3 index", "page offset", "T0SZ = 16",
                   "TLB: miss", "24 descriptor reads (4 stage 1, 20 stage 2) + 25 GPC checks"):
        assert needle in text
    reads = READ_LINE.findall(text)
    assert [int(n) for n, *_ in reads] == list(range(1, 25))
    assert sum(1 for _, s, _ in reads if s == "1") == 4
    lines = text.splitlines()
    # each stage-1 level has its stage-2 walk nested (indented deeper) before the stage-1 read
    s1 = [ln for ln in lines if READ_LINE.search(ln) and " S1 L" in ln]
    s2_nested = [ln for ln in lines if READ_LINE.search(ln) and " S2 L" in ln and ln.startswith("    #")]
    assert len(s1) == 4 and all(ln.startswith("  #") for ln in s1) and len(s2_nested) == 16
    for lvl in range(4):
        assert f"Stage-1 level {lvl}" in text
    assert "Final IPA 0x1000000000: stage-2 walk" in text
    assert "#25  data access to PA 0x88000000" in text
    assert "GPC pass (GPI Non-secure)" in text and "Non-secure PAS" in text
    assert "table -> " in text and "page -> 0x1000000000" in text and "page -> 0x88000000" in text
    assert "IPA 0x1000000000 -> PA 0x88000000 in the Non-secure PAS" in text and "Verdict: allowed" in text


def test_walk_text_changes_nothing_in_the_pe(g):
    before = (g.pe.counters, g.pe.tlb_entries())
    vm.walk_text(g.pe, g.va)
    vm.walk_view(g.pe, g.va, "write")
    assert (g.pe.counters, g.pe.tlb_entries()) == before


def test_walk_text_after_a_translation_says_it_was_a_tlb_hit(g):
    g.pe.translate(g.va)
    text = vm.walk_text(g.pe, g.va)
    assert "TLB: HIT" in text and "no descriptor is read" in text
    assert "Result (from the TLB): PA 0x88000000" in text
    r = g.pe.translate(g.va)
    assert r.tlb_hit
    text = vm.walk_text(g.pe, g.va, result=r)
    assert "TLB: HIT" in text and "Walk (not made)" in text


def test_walk_text_marks_a_stale_tlb_entry_when_the_tables_now_fault(g):
    g.pe.translate(g.va)
    _clear_bit(g, g.s1, g.va, 10)  # AF off, no TLBI
    r = g.pe.translate(g.va)
    assert r.ok and r.tlb_hit
    text = vm.walk_text(g.pe, g.va, result=r)
    assert "STALE" in text and "access flag fault" in text


def test_look_ahead_predicts_the_reads_the_kernel_makes_with_the_walk_cache(g):
    for va in (g.va, g.va + 0x1000, g.va + 0x2000):
        v = vm.walk_view(g.pe, va)
        before = g.pe.counters
        r = g.pe.translate(va)
        after = g.pe.counters
        made = (after["s1_reads"] + after["s2_reads"]) - (before["s1_reads"] + before["s2_reads"])
        assert not r.tlb_hit and v.n_reads == made
    assert vm.walk_view(g.pe, g.va + 0x1000).tlb_hit  # now cached
    assert v.n_reads == 8 and sum(a.skipped for a in v.reads) == 16
    assert "the walk cache saves 16 stage-2 reads" in vm.walk_text(g.pe, g.va + 0x3000)


def test_stage_1_translation_fault_is_explained_at_its_read(g):
    _clear_bit(g, g.s1, g.va, 0)
    text = vm.walk_text(g.pe, g.va)
    assert "translation fault (stage 1, level 3; FSC 0x07)" in text
    assert re.search(r"#20 +S1 L3 .*invalid .*<-- FAULT \(FSC 0x07\)", text)
    assert "Taken to EL1" in text and "#21" not in text
    v = vm.walk_view(g.pe, g.va)
    assert v.faulting.number == 20 and v.faulting.row == 3 and v.faulting.col == 4


@pytest.mark.parametrize("va", [1 << 48, 0xFFFF_0000_0000_0000])
def test_a_va_outside_the_input_range_faults_before_any_read(g, va):
    text = vm.walk_text(g.pe, va)
    assert "0 descriptor reads" in text and "No table is read" in text and "FSC 0x04" in text
    v = vm.walk_view(g.pe, va)
    assert v.accesses == () and v.faulting is None and len(vm.walk_frames(g.pe, va)) == 1
    vm.draw_walk_grid(g.pe, va)


def test_stage_2_fault_on_a_table_fetch_is_s1ptw_and_goes_to_el2(g):
    _clear_bit(g, g.s2, _s1_table_ipa(g, 2), 10)  # AF off in the stage-2 entry of the level-2 table
    text = vm.walk_text(g.pe, g.va)
    assert "access flag fault (stage 2, level 3, while translating a stage-1 table address (S1PTW); FSC 0x0b)" in text
    assert "Taken to EL2: the hypervisor" in text and "S1PTW = 1" in text
    v = vm.walk_view(g.pe, g.va)
    assert v.faulting.number == 14 and (v.rows[v.faulting.row], v.cols[v.faulting.col]) == ("S1 L2", "S2 L3")
    r = g.pe.translate(g.va)
    assert r.fault.fsc == v.fault.fsc == 0x0B and r.fault.stage == 2 and r.fault.s1ptw


def test_granule_protection_fault_on_a_table_fetch_shows_the_failed_check(g):
    v = vm.walk_view(g.pe, g.va)
    table_pa = [a for a in v.reads if a.kind == "s1"][1].pa & ~0xFFF
    assert g.platform.monitor.gtsi_delegate(table_pa) == 0
    text = vm.walk_text(g.pe, g.va)
    assert "GPC FAIL (GPI Realm, GPCSC 0x0d)" in text and "FSC 0x25" in text
    v = vm.walk_view(g.pe, g.va)
    assert v.faulting.descriptor is None and not v.faulting.gpc_ok and v.fault.kind == FaultKind.GPF_ON_WALK
    assert g.pe.translate(g.va).fault.fsc == 0x25
    fig = vm.draw_walk_grid(g.pe, g.va, theme="light")
    assert len(_red_cells(fig)) == 1 and "FSC 0x25" in _cell_texts(fig)
    crosses = [ln for ln in fig.axes[0].lines if ln.get_marker() == "X"]
    assert len(crosses) == 1


def test_granule_protection_fault_on_the_output_marks_the_data_access(g):
    assert g.platform.monitor.gtsi_delegate(g.data) == 0
    text = vm.walk_text(g.pe, g.va)
    assert "#25  data access to PA 0x88000000 (Non-secure PAS, GPC FAIL" in text and "FSC 0x28" in text
    v = vm.walk_view(g.pe, g.va)
    assert v.faulting.kind == "data" and len(v.reads) == 24


def test_a_realm_guest_walks_in_the_realm_pas():
    g = two_stage_guest(realm=True)
    text = vm.walk_text(g.pe, g.va)
    assert "Realm EL1&0 regime" in text and "Realm PAS, GPC pass (GPI Realm)" in text
    assert "in the Realm PAS" in text
    r = g.pe.translate(g.va)
    assert r.pas == PAS.REALM


def test_without_stage_2_the_grid_has_one_column_and_four_reads(g):
    g.pe.set_sysreg("HCR_EL2", HCR_EL2.encode(VM=0))
    v = vm.walk_view(g.pe, g.va)
    assert v.rows == ["S1 L0", "S1 L1", "S1 L2", "S1 L3", "output"] and len(v.cols) == 1
    assert len(v.reads) == 4 and v.n_gpc == 5
    assert "4 descriptor reads (4 stage 1, 0 stage 2) + 5 GPC checks" in vm.walk_text(g.pe, g.va)


def test_tlb_off_is_said(g):
    g.pe.tlb_enabled = False
    g.pe.translate(g.va)
    assert "TLB: off" in vm.walk_text(g.pe, g.va)
    assert "TLB OFF" in vm.tlb_text(g.pe)


# --- the grid --------------------------------------------------------------------------------
def test_cold_walk_grid_numbers_24_reads_and_counts_25_checks(g):
    fig = vm.draw_walk_grid(g.pe, g.va, theme="light")
    ax = fig.axes[0]
    texts = _cell_texts(fig)
    assert sorted(int(t) for t in texts if t.isdigit()) == list(range(1, 25))
    assert "data" in texts
    assert "24 descriptor reads + 25 GPC checks" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["S1 L0", "S1 L1", "S1 L2", "S1 L3", "final IPA"]
    assert [t.get_text() for t in ax.get_xticklabels()][:4] == ["S2 L0", "S2 L1", "S2 L2", "S2 L3"]
    colours = {to_hex(p.get_facecolor()[:3]) for p in ax.patches if p.get_facecolor()[3] > 0}
    assert {to_hex(vm.WALK_COLOURS[k]) for k in ("s1", "s2", "data")} <= colours
    assert len([ln for ln in ax.lines if ln.get_marker() == "o"]) == 25  # every check passed
    assert ax.get_legend() is not None and not _red_cells(fig)


def test_a_fault_is_one_red_cell_with_its_fsc(g):
    _clear_bit(g, g.s1, g.va, 0)
    g.pe.tlbi("VAE1", g.va)
    fig = vm.draw_walk_grid(g.pe, g.va)
    assert len(_red_cells(fig)) == 1
    assert "FSC 0x07" in _cell_texts(fig)
    assert "20 descriptor reads + 20 GPC checks: translation fault" in fig.axes[0].get_title()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_grid_uses_the_theme_text_colour_and_a_transparent_background(g, theme):
    fig = vm.draw_walk_grid(g.pe, g.va, theme=theme)
    ax = fig.axes[0]
    assert to_hex(ax.title.get_color()) == to_hex(THEMES[theme]["text"])
    assert fig.patch.get_alpha() == 0.0
    legend_text = {to_hex(t.get_color()) for t in ax.get_legend().get_texts()}
    assert legend_text == {to_hex(THEMES[theme]["text"])}


def test_grid_draws_into_a_given_axes_and_shows_a_step(g):
    fig, ax = plt.subplots()
    out = vm.draw_walk_grid(g.pe, g.va, ax=ax, step=7)
    assert out is fig
    filled = [p for p in ax.patches if p.get_facecolor()[3] > 0]
    assert len(filled) == 7 and "step 7 of 24" in ax.get_title()


def test_tlb_hit_grid_says_no_reads(g):
    g.pe.translate(g.va)
    fig = vm.draw_walk_grid(g.pe, g.va)
    assert fig.axes[0].get_title().splitlines()[1].startswith("TLB hit: 0 descriptor reads + 0 GPC checks")


# --- frames and animation -------------------------------------------------------------------------
def test_walk_frames_have_one_frame_per_read_plus_the_start(g):
    frames = vm.walk_frames(g.pe, g.va)
    assert len(frames) == 25 and frames[0].done == () and frames[0].current is None
    assert [f.current.number for f in frames[1:]] == list(range(1, 25))
    assert len(frames[10].done) == 10 and frames[-1].done[-1].kind == "data"
    assert "output PA 0x88000000" in frames[-1].text


def test_animate_walk_is_a_funcanimation_over_every_step(g):
    anim = vm.animate_walk(g.pe, g.va, theme="dark")
    assert isinstance(anim, FuncAnimation)
    assert list(anim.new_frame_seq()) == list(range(25))
    assert "step 0 of 24" in anim._fig.axes[0].get_title()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # never rendered, on purpose
        del anim
        gc.collect()


# --- TLB and cost ---------------------------------------------------------------------------------
def test_tlb_text_lists_entries_and_counters(g):
    assert "0 valid entries" in vm.tlb_text(g.pe)
    g.pe.translate(g.va)
    g.pe.translate(g.va)
    text = vm.tlb_text(g.pe)
    assert "1 valid entry" in text and "0x0000004000000000" in text and "Non-secure" in text
    assert "VMID" in text and "translations 2, TLB hits 1, misses 1" in text


def test_cost_text_explains_what_the_tlb_and_walk_cache_save(g):
    assert vm.cold_walk_reads(g.pe) == 24
    g.pe.translate(g.va)
    g.pe.translate(g.va)
    g.pe.translate(g.va + 0x1000)
    text = vm.cost_text(g.pe)
    assert "Descriptor reads: 32 (8 stage 1, 24 stage 2) for 3 translations" in text
    assert "Walk cache: 4 hits" in text and "TLB: 1 hits" in text
    assert "would cost 72 reads (24 each) and 75 GPC checks; they cost 32 reads, 56% fewer" in text


# --- import hygiene ---------------------------------------------------------------------------------
def test_importing_the_mmu_pictures_loads_no_ui_libraries():
    code = ("import sys, ccalab, ccalab.viz, ccalab.viz.mmu; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
