import ipywidgets as W
import pytest

from ccalab import GPI, PAS, Platform, SecurityState
from ccalab.widgets import GranuleProtectionExplorer

G = 4096
PA = 0x9000_0000


@pytest.fixture
def ex():
    return GranuleProtectionExplorer(Platform(), draw=False)


def test_ui_is_one_root_widget_with_described_controls(ex):
    assert isinstance(ex.ui, W.VBox)
    for ctl in (ex.address, ex.zoom, ex.state, ex.pas, ex.write, ex.skip_tlbi):
        assert ctl.description
    for b in (ex.delegate_button, ex.undelegate_button, ex.access_button, ex.reset_button):
        assert b.description and b.tooltip
    assert hasattr(ex, "_ipython_display_")
    assert "Granule map" in ex.map_text.value


def test_delegate_moves_the_granule_to_realm_and_reports_the_status(ex):
    ex.address.value = hex(PA)
    assert ex.delegate() == 0
    assert ex.platform.gpi(PA) == GPI.REALM
    assert "E_RMM_OK" in ex.message.value and "Realm" in ex.message.value
    assert "RMM_GTSI_DELEGATE" in ex.events_html.value


def test_delegating_twice_reports_bad_pas_by_name(ex):
    ex.address.value = hex(PA)
    ex.delegate()
    assert ex.delegate() == -3
    assert "E_RMM_BAD_PAS" in ex.message.value
    assert ex.platform.gpi(PA) == GPI.REALM


def test_misaligned_address_reports_bad_addr(ex):
    ex.address.value = "0x90000010"
    assert ex.delegate() == -2
    assert "E_RMM_BAD_ADDR" in ex.message.value


def test_undelegate_returns_the_granule_to_non_secure(ex):
    ex.address.value = "9000_0000"
    ex.delegate()
    assert ex.undelegate() == 0
    assert ex.platform.gpi(PA) == GPI.NONSECURE
    assert "E_RMM_OK" in ex.message.value


def test_clicking_the_buttons_does_the_same_as_the_methods(ex):
    ex.address.value = hex(PA)
    ex.delegate_button.click()
    assert ex.platform.gpi(PA) == GPI.REALM
    ex.access_button.click()
    assert "FAULT" in ex.result_html.value


def test_non_secure_read_of_a_delegated_granule_is_explained_as_a_fault(ex):
    ex.address.value = hex(PA)
    ex.delegate()
    r = ex.do_access()
    assert r is not None and not r.ok
    html = ex.result_html.value
    assert "FAULT" in html and "granule protection fault" in html
    assert "#B3261E" in html  # the red panel
    assert "taken to EL2" in html  # where the exception goes
    assert "L1[" in html  # the GPT entry used
    assert "L1[" in ex.walk_html.value


def test_realm_access_to_a_delegated_granule_is_allowed(ex):
    ex.address.value = hex(PA)
    ex.delegate()
    ex.state.value = SecurityState.REALM
    assert ex.pas.value == PAS.REALM
    r = ex.do_access()
    assert r.ok
    assert "allowed" in ex.result_html.value and "#1B7F3B" in ex.result_html.value


def test_pas_choices_follow_the_security_state(ex):
    assert [v for _, v in ex.pas.options] == [PAS.NONSECURE]
    ex.state.value = SecurityState.REALM
    assert {v for _, v in ex.pas.options} == {PAS.NONSECURE, PAS.REALM}
    ex.state.value = SecurityState.ROOT
    assert {v for _, v in ex.pas.options} == set(PAS) and ex.pas.value == PAS.ROOT
    ex.state.value = SecurityState.NONSECURE
    assert ex.pas.value == PAS.NONSECURE


@pytest.mark.parametrize("text", ["", "hello", "0x", "0xfg", "12 34 zz"])
def test_bad_address_text_gives_a_message_and_no_exception(ex, text):
    n = len(ex.platform.events)
    ex.address.value = text
    assert ex.delegate() is None
    assert ex.undelegate() is None
    assert ex.do_access() is None
    assert "hex" in ex.message.value or "address" in ex.message.value
    assert len(ex.platform.events) == n


def test_address_beyond_the_physical_address_space_is_refused(ex):
    ex.address.value = hex(1 << 60)
    assert ex.do_access() is None
    assert "48-bit" in ex.message.value


def test_what_if_checkbox_sets_the_platform_flag_and_leaves_stale_cache(ex):
    ex.address.value = hex(PA)
    ex.skip_tlbi.value = True
    assert ex.platform.whatif.skip_gpt_tlbi is True
    assert "deliberate firmware bug" in ex.skip_tlbi.description
    assert ex.do_access().ok  # caches the Non-secure GPT information
    ex.delegate()
    assert ex.platform.gpi(PA) == GPI.REALM
    assert ex.do_access().ok  # the stale entry still lets Non-secure in
    assert "stale" in ex.cache_html.value
    ex.skip_tlbi.value = False
    assert ex.platform.whatif.skip_gpt_tlbi is False


def test_reset_restores_a_fresh_platform_and_every_control(ex):
    old = ex.platform
    ex.address.value = hex(PA)
    ex.skip_tlbi.value = True
    ex.delegate()
    ex.state.value = SecurityState.REALM
    ex.write.value = True
    ex.zoom.value = "Whole PPS"
    ex.do_access()
    ex.reset()
    p = ex.platform
    assert p is not old and p.gpi(PA) == GPI.NONSECURE
    assert p.whatif.skip_gpt_tlbi is False and ex.skip_tlbi.value is False
    assert ex.address.value == "" and ex.state.value == SecurityState.NONSECURE and ex.pas.value == PAS.NONSECURE
    assert ex.write.value is False and ex.zoom.value == "DRAM"
    assert ex.result_html.value == ""
    assert p.gpc_cache.entries() == []
    # the old machine no longer drives the dashboard
    before = ex.events_html.value
    old.monitor.gtsi_delegate(PA + G)
    assert ex.events_html.value == before


def test_changes_made_outside_the_dashboard_show_up(ex):
    ex.platform.monitor.gtsi_delegate(PA)
    assert "RMM_GTSI_DELEGATE" in ex.events_html.value
    assert "Refresh map" in ex.map_note.value
    ex.refresh_button.click()
    assert ex.map_note.value == ""


def test_zoom_around_the_address_shows_single_granules(ex):
    ex.address.value = hex(PA + 3 * G)
    ex.delegate()
    ex.zoom.value = "Around the address"
    rows = [line.split("|")[1] for line in ex.map_text.value.splitlines() if line.startswith("0x")]
    assert rows == ["NNNRNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN"]
    ex.zoom.value = "Realm (RMM)"
    assert "0xfdc00000" in ex.map_text.value


def test_a_click_with_the_figure_redraw_closes_its_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex = GranuleProtectionExplorer(Platform(), draw=True)
    ex.address.value = hex(PA)
    ex.delegate()  # warm up
    ex.address.value = hex(PA + G)
    ex.delegate()
    ex.do_access()
    assert plt.get_fignums() == []  # figures are closed after display
