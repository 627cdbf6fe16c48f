import html
import re

import ipywidgets as W
import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from ccalab import Platform  # noqa: E402
from ccalab.attest import TrustTier, decode  # noqa: E402
from ccalab.widgets import TokenExplorer  # noqa: E402
from ccalab.widgets._common import FAULT_STYLE, NOTE_STYLE, OK_STYLE  # noqa: E402
from ccalab.widgets.attest import FIRST_NONCE, LIFECYCLE_DEBUG, parse_nonce  # noqa: E402


def _text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value))


@pytest.fixture(scope="module")
def machine():
    return Platform(dram_size=256 << 20)


@pytest.fixture
def ex(machine):
    return TokenExplorer(machine.fresh(), draw=False)


def _failed(ex):
    return [s.name for s in ex.verification.steps if s.passed is False]


def test_ui_is_one_root_widget_with_described_controls(ex):
    assert isinstance(ex.ui, W.VBox)
    assert ex.challenge.description and ex.envelope.description and ex.debug.description
    assert ex.replace_rak.description
    for b in (ex.nonce_button, ex.request_button, ex.verify_button, ex.provision_button, ex.forget_button,
              ex.change_page_button, ex.replay_button, ex.swap_button, ex.resign_button, ex.reset_button):
        assert b.description and b.tooltip
    assert hasattr(ex, "_ipython_display_")
    assert [ex.tabs.get_title(k) for k in range(len(ex.PANELS))] == [t for _n, t in ex.PANELS]


def test_first_token_answers_the_first_nonce_and_verifies_but_is_not_affirmed(ex):
    assert ex.challenge.value == FIRST_NONCE.hex() and ex.nonce == FIRST_NONCE
    assert ex.verification.ok and ex.verification.fresh
    assert decode(ex.token).realm["cca-realm-challenge"] == FIRST_NONCE
    assert not ex.result.affirming and ex.reference_values is None
    assert "Provision reference values" in _text(ex.message.value)
    panel = _text(ex.verifier_html.value)
    assert panel.startswith("VALID") and panel.count("\u2713") == 7
    assert "no reference value for RIM" in ex.panel_text("appraisal")
    assert "WARNING" in _text(ex.appraisal_html.value)


def test_provisioning_turns_the_appraisal_affirming_and_forgetting_undoes_it(ex):
    result = ex.provision()
    assert result.affirming and ex.reference_values.realm_for(ex.original.rim)
    assert "AFFIRMING" in _text(ex.message.value) and OK_STYLE in ex.appraisal_html.value
    ex.forget()
    assert ex.reference_values is None and not ex.result.affirming
    assert "no reference values" in _text(ex.appraisal_html.value)


def test_each_step_of_the_verifier_panel_is_coloured_by_its_outcome(ex):
    ex.resign()
    blocks = ex.verifier_html.value.split("<div ")[2:]  # after the verdict
    assert len(blocks) == 7
    styles = [OK_STYLE if s.passed else (FAULT_STYLE if s.passed is False else NOTE_STYLE) for s in ex.verification]
    assert all(style in block for style, block in zip(styles, blocks))
    assert FAULT_STYLE in blocks[4] and "realm_signature" in blocks[4]


def test_changed_page_gives_a_genuine_token_with_another_rim_that_the_appraisal_refuses(ex):
    ex.provision()
    v = ex.change_page()
    assert v.ok and ex.realm is ex.rebuilt and ex.rebuilt.rim != ex.original.rim
    assert decode(ex.token).realm["cca-realm-initial-measurement"] == ex.rebuilt.rim
    assert ex.result["CCA_REALM"].trust_vector["executables"] == 33 and not ex.result.affirming
    msg = _text(ex.message.value)
    assert "RIM changed" in msg and ex.original.rim[:8].hex() in msg and ex.rebuilt.rim[:8].hex() in msg
    assert "is this realm's RIM" in ex.panel_text("provenance")
    first = ex.rebuilt.rd
    ex.change_page()  # the earlier rebuild is destroyed first
    assert first not in ex.platform.rmm.realms or ex.rebuilt.rd == first
    assert len(ex.platform.rmm.realms) == 2


def test_replay_fails_only_freshness(ex):
    old = ex.token
    v = ex.replay()
    assert ex.token == old and ex.nonce != FIRST_NONCE and ex.challenge.value == ex.nonce.hex()
    assert _failed(ex) == ["freshness"] and not v.ok
    assert "only freshness fails" in _text(ex.message.value)


def test_swapped_platform_token_of_an_endorsed_machine_fails_the_binding(ex):
    ex.swap_platform()
    assert _failed(ex) == ["binding"]
    assert ex.verification["trust_anchor"].passed and ex.verification["platform_signature"].passed
    assert decode(ex.token).platform["cca-platform-instance-id"] == ex.other.attestation.instance_id
    assert "vouches for one RAK only" in _text(ex.message.value)


def test_resigning_fails_the_realm_signature_or_with_the_forgers_rak_the_binding(ex):
    ex.resign()
    assert _failed(ex) == ["realm_signature"]
    ex.request()
    ex.resign(replace_rak=True)
    assert ex.replace_rak.value and _failed(ex) == ["binding"]
    assert "forger's own key" in _text(ex.message.value)


def test_switching_the_envelope_requests_a_token_in_the_other_form(ex):
    ex.set_envelope("legacy")
    assert ex.platform.attestation.envelope == "legacy"
    assert decode(ex.token).envelope == "legacy-399" and ex.verification.ok
    assert "raw 97-byte point" in _text(ex.message.value)
    ex.set_envelope("cmw")
    assert decode(ex.token).envelope == "cmw-907" and ex.verification.ok
    assert ex.set_envelope("json") is None and "not 'json'" in _text(ex.message.value)


def test_debug_lifecycle_is_contraindicated_even_with_reference_values(ex):
    ex.provision()
    ex.set_debug(True)
    assert ex.platform.attestation.lifecycle == LIFECYCLE_DEBUG
    assert ex.verification.ok and ex.result.status is TrustTier.CONTRAINDICATED
    assert ex.result["CCA_SSD_PLATFORM"].trust_vector["instance-identity"] == 96
    ex.set_debug(False)
    assert ex.result.affirming


@pytest.mark.parametrize("typed, words", [
    ("", "Type a challenge first"),
    ("hello", "is not hex"),
    ("abc", "whole number of bytes"),
    ("00" * 65, "at most 64"),
])
def test_bad_challenges_give_a_message_not_an_exception(ex, typed, words):
    before = ex.token
    ex.challenge.value = typed
    assert ex.request() is None and ex.verify() is None and ex.change_page() is None
    assert words in _text(ex.message.value) and FAULT_STYLE in ex.message.value
    assert ex.token == before and ex.last_error is None


def test_a_short_challenge_is_zero_padded(ex):
    v = ex.request("0x0102")
    assert v.ok and decode(ex.token).realm["cca-realm-challenge"] == b"\x01\x02" + bytes(62)
    assert "zero-padded" in _text(ex.message.value)
    assert parse_nonce("01 02_03") == b"\x01\x02\x03"


def test_verify_again_checks_the_shown_token_against_a_new_nonce(ex):
    ex.new_nonce()
    assert ex.challenge.value != FIRST_NONCE.hex() and len(bytes.fromhex(ex.challenge.value)) == 64
    ex.verify()
    assert _failed(ex) == ["freshness"]
    ex.request()
    assert ex.verification.ok


def test_reset_boots_a_fresh_machine_and_restores_every_control(ex):
    old = ex.platform
    ex.provision()
    ex.set_envelope("legacy")
    ex.replace_rak.value = True
    ex.set_debug(True)
    ex.reset()
    assert ex.platform is not old and ex.reference_values is None
    assert ex.envelope.value == "cmw" and not ex.debug.value and not ex.replace_rak.value
    assert ex.platform.attestation.envelope == "cmw" and ex.platform.attestation.lifecycle == 0x3000
    assert ex.challenge.value == FIRST_NONCE.hex() and ex.verification.ok and not ex.result.affirming
    assert ex.platform.attestation.boot == old.attestation.boot + 1
    assert "Reset" in _text(ex.message.value)


def test_panels_have_text_and_unknown_panels_are_named(ex):
    for name, _title in ex.PANELS:
        assert ex.panel_text(name) and _text(ex.texts[name].value)
    assert "Binding:" in ex.panel_text("claims") and "Verifier's view" in ex.panel_text("verifier")
    with pytest.raises(KeyError, match="panels"):
        ex.panel_text("nope")


def test_nothing_unexpected_happened_in_a_whole_session(ex):
    ex.provision()
    ex.change_page()
    ex.replay()
    ex.swap_platform()
    ex.resign(True)
    ex.set_envelope("legacy")
    ex.reset()
    assert ex.last_error is None


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_action_works_with_the_pictures_drawn_and_closes_its_figures(machine, theme):
    import matplotlib.pyplot as plt

    ex = TokenExplorer(machine.fresh(), draw=True, theme=theme)
    for action in (ex.provision, ex.change_page, ex.replay, ex.swap_platform, ex.resign, ex.request):
        action()
    ex.challenge.value = "not hex"
    ex.request()
    assert ex.last_error is None and ex.verification.ok
    assert plt.get_fignums() == []  # figures are closed after display
