import subprocess
import sys
from html import unescape

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ccalab.arch.mmu import FaultKind  # noqa: E402
from ccalab.scenarios import two_stage_guest  # noqa: E402
from ccalab.widgets import TranslationExplorer  # noqa: E402
from ccalab.widgets.mmu import parse_va  # noqa: E402

VA = 0x40_0000_0000


@pytest.fixture
def ex():
    return TranslationExplorer(draw=False)


def _desc(ex, stage):
    addr, _lvl, _d = ex.leaf(stage)
    return ex.platform.memory.read64(addr)


def test_ui_is_one_root_widget_with_described_controls(ex):
    assert isinstance(ex.ui, W.VBox)
    for ctl in (ex.va, ex.access, ex.el, ex.tlb_enabled, ex.step_slider, ex.s1_valid, ex.s1_af, ex.s1_ap,
                ex.s1_uxn, ex.s1_pxn, ex.s2_valid, ex.s2_af, ex.s2_read, ex.s2_write, ex.s2_xn, ex.s2_ns):
        assert ctl.description
    for b in (ex.translate_button, ex.tlbi_va_button, ex.tlbi_all_button, ex.reset_button):
        assert b.description and b.tooltip
    assert ex.tlbi_va_button.description == "TLBI VAE1" and ex.tlbi_all_button.description == "TLBI VMALLS12E1"
    assert "does <b>not</b> invalidate the TLB" in ex.tlb_note.value
    assert hasattr(ex, "_ipython_display_")
    assert ex.va.value == hex(VA) and ex.access.value == "read" and ex.el.value == 1
    assert ex.s2_ns.disabled  # a Non-secure guest has no NS bit to choose


def test_before_translating_the_grid_previews_the_cold_walk_without_touching_the_pe(ex):
    assert ex.last_result is None
    assert ex.step_slider.max == 24 and ex.play.max == 24
    assert "24 descriptor reads" in ex.walk_html.value
    assert ex.pe.counters["translations"] == 0 and ex.pe.tlb_entries() == []


def test_translate_shows_the_walk_and_the_step_slider_spans_the_reads(ex):
    r = ex.translate()
    assert r.ok and not r.tlb_hit and r.pa == ex.setup.data
    assert ex.step_slider.max == len(ex.view.reads) == 24 == ex.play.max
    assert ex.step_slider.value == 24
    html = ex.result_html.value
    assert "allowed" in html and "#1B7F3B" in html and "24 descriptor reads + 25 GPC checks" in html
    assert "VA[47:39]" in ex.walk_html.value and "#24" in ex.walk_html.value
    assert "1 valid entry" in ex.tlb_html.value
    ex.step_slider.value = 5
    assert "#5" in ex.step_html.value and "S1 L0" in ex.step_html.value
    ex.step_slider.value = 0
    assert "24 descriptor reads to come" in ex.step_html.value


def test_access_flag_off_without_tlbi_leaves_a_stale_entry_until_tlbi(ex):
    assert ex.translate().ok
    new = ex.set_leaf_bit(1, "AF", False)
    assert new is not None and not (new >> 10) & 1 and not (_desc(ex, 1) >> 10) & 1
    assert ex.s1_af.value is False
    assert "not invalidated" in ex.message.value
    r = ex.translate()  # the TLB still holds the old translation
    assert r.ok and r.tlb_hit
    assert "Stale TLB entry" in ex.result_html.value and "access flag fault" in ex.result_html.value
    assert ex.tlbi("VAE1") == 1
    r = ex.translate()
    assert not r.ok
    f = r.fault
    assert (f.kind, f.stage, f.level, f.fsc) == (FaultKind.ACCESS_FLAG, 1, 3, 0x0B)
    html = ex.result_html.value
    assert "FAULT" in html and "#B3261E" in html and "FSC 0x0b" in html and "Taken to EL1" in html
    assert ex.view.faulting.number == 20
    assert "<-- FAULT (FSC 0x0b)" in unescape(ex.walk_html.value)


def test_the_checkboxes_write_the_descriptor_like_set_leaf_bit(ex):
    ex.s1_valid.value = False
    assert _desc(ex, 1) & 1 == 0
    ex.s1_valid.value = True
    assert _desc(ex, 1) & 3 == 3
    ex.s1_ap.value = 3
    assert (_desc(ex, 1) >> 6) & 3 == 3
    ex.s2_write.value = False
    assert not (_desc(ex, 2) >> 7) & 1
    ex.s2_xn.value = 2
    assert (_desc(ex, 2) >> 53) & 3 == 2


def test_stage_2_write_permission_fault_goes_to_the_hypervisor_after_vmalls12e1(ex):
    ex.access.value = "write"
    assert ex.translate().ok
    ex.set_leaf_bit(2, "write", False)
    assert ex.translate().tlb_hit
    assert ex.tlbi("VMALLS12E1") >= 1
    r = ex.translate()
    assert (r.fault.kind, r.fault.stage, r.fault.level) == (FaultKind.PERMISSION, 2, 3)
    assert r.fault.target_el == 2 and "the hypervisor (EL2)" in ex.result_html.value
    ex.access.value = "read"
    assert ex.translate().ok  # reads are still allowed


def test_el0_cannot_use_a_privileged_only_page(ex):
    ex.set_leaf_bit(1, "AP", 0)  # EL1 RW, EL0 none
    ex.el.value = 0
    r = ex.translate()
    assert ex.pe.el == 0
    assert (r.fault.kind, r.fault.stage) == (FaultKind.PERMISSION, 1)


def test_pxn_stops_an_instruction_fetch_at_el1(ex):
    ex.set_leaf_bit(1, "AP", 2)  # read-only, so EL1 may execute it
    ex.access.value = "exec"
    assert ex.translate().ok
    ex.set_leaf_bit(1, "PXN", True)
    ex.tlbi("VAE1")
    r = ex.translate()
    assert (r.fault.kind, r.fault.stage, r.fault.level) == (FaultKind.PERMISSION, 1, 3)


def test_turning_the_tlb_off_makes_every_change_visible_at_once(ex):
    ex.tlb_enabled.value = False
    assert ex.pe.tlb_enabled is False
    assert ex.translate().ok
    ex.set_leaf_bit(2, "valid", False)
    r = ex.translate()
    assert not r.tlb_hit and r.fault.kind == FaultKind.TRANSLATION and r.fault.stage == 2
    assert "TLB OFF" in ex.tlb_html.value
    assert ex.pe.counters["tlb_hits"] == 0


@pytest.mark.parametrize("text", ["", "hello", "0x", "0xfg", "12 34 zz", "0x1" + "0" * 17])
def test_bad_va_text_gives_a_message_and_no_exception(ex, text):
    n_events, n_tr = len(ex.platform.events), ex.pe.counters["translations"]
    ex.va.value = text
    assert ex.translate() is None
    assert "hex" in ex.message.value or "64 bits" in ex.message.value or "address" in ex.message.value
    assert len(ex.platform.events) == n_events and ex.pe.counters["translations"] == n_tr


def test_parse_va_accepts_hex_with_or_without_prefix_and_underscores():
    assert parse_va("0x40_0000_0000") == parse_va("4000000000") == VA
    with pytest.raises(ValueError):
        parse_va("0xz")


def test_unknown_field_is_a_python_error(ex):
    with pytest.raises(ValueError):
        ex.set_leaf_bit(1, "dirty", True)
    with pytest.raises(ValueError):
        ex.set_leaf_bit(3, "AF", True)
    with pytest.raises(ValueError):
        ex.set_leaf_bit(1, "AP", 7)


def test_an_unmapped_va_has_no_leaf_to_change(ex):
    ex.va.value = "0x7f0000000000"
    assert ex.leaf(1) is None and ex.s1_af.disabled
    assert ex.set_leaf_bit(1, "AF", False) is None
    assert "no stage-1 leaf" in ex.message.value
    r = ex.translate()
    assert r.fault.kind == FaultKind.TRANSLATION and r.fault.stage == 1


def test_buttons_do_the_same_as_the_methods(ex):
    ex.translate_button.click()
    assert ex.last_result is not None and ex.last_result.ok
    ex.set_leaf_bit(1, "valid", False)
    ex.tlbi_va_button.click()
    assert "1 entry dropped" in ex.message.value
    ex.translate_button.click()
    assert ex.last_result.fault.fsc == 0x07
    ex.tlbi_all_button.click()
    assert "TLBI VMALLS12E1" in ex.message.value


def test_reset_restores_the_guest_and_every_control(ex):
    old_platform = ex.platform
    ex.translate()
    ex.set_leaf_bit(1, "AF", False)
    ex.set_leaf_bit(2, "read", False)
    ex.va.value = hex(VA + 0x1000)
    ex.access.value = "write"
    ex.el.value = 0
    ex.tlb_enabled.value = False
    ex.reset()
    assert ex.platform is not old_platform
    assert ex.va.value == hex(VA) and ex.access.value == "read" and ex.el.value == 1
    assert ex.tlb_enabled.value is True and ex.pe.tlb_enabled
    assert ex.s1_af.value is True and ex.s2_read.value is True and (_desc(ex, 1) >> 10) & 1
    assert ex.last_result is None and ex.pe.counters["translations"] == 0
    assert "Reset" in ex.message.value and ex.step_slider.max == 24
    assert ex.translate().ok


def test_a_realm_guest_can_flip_the_stage_2_ns_bit():
    ex = TranslationExplorer(lambda: two_stage_guest(realm=True), draw=False)
    assert not ex.s2_ns.disabled and "RMM" in ex.title.value
    assert ex.translate().pas.name == "REALM"
    ex.set_leaf_bit(2, "NS", True)
    ex.tlbi("VMALLS12E1")
    r = ex.translate()
    # the data granule is delegated (Realm), so an access in the Non-secure PAS fails the GPC
    assert r.fault.kind == FaultKind.GPF_ON_OUTPUT and r.fault.fsc == 0x28
    ex.reset()
    assert ex.realm and ex.translate().pas.name == "REALM"


def test_a_guest_setup_instance_is_rebuilt_on_reset():
    g = two_stage_guest(s2_level=1, s2_ia=40)
    ex = TranslationExplorer(g, draw=False)
    assert ex.step_slider.max == 19  # 4 + 3 levels: (4 + 1)(3 + 1) - 1
    ex.reset()
    assert ex.platform is not g.platform and ex.step_slider.max == 19 and ex.translate().ok


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_drawing_the_grid_and_stepping_closes_its_figures(theme):
    ex = TranslationExplorer(theme=theme, draw=True)
    ex.translate()
    ex.step_slider.value = 3
    ex.step_slider.value = 24
    assert plt.get_fignums() == []


def test_importing_ccalab_loads_neither_matplotlib_nor_ipywidgets_and_viz_no_ipywidgets():
    code = ("import sys, ccalab; a = sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules); "
            "import ccalab.viz.mmu; b = 'ipywidgets' in sys.modules; print(a, b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] False"
