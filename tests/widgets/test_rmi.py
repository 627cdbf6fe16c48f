import html
import re

import ipywidgets as W
import pytest

from ccalab import Platform
from ccalab.firmware.rmm.granule import GranuleState
from ccalab.firmware.rmm.objects import RealmState
from ccalab.firmware.rmm.rmm import RMI_HANDLERS
from ccalab.firmware.rmm.spec import labels
from ccalab.widgets import RmiConsole
from ccalab.widgets.rmi import conditions_text, explain_condition

G = 4096


def _text(widget_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", widget_html))


@pytest.fixture
def con():
    c = RmiConsole(Platform(dram_size=1 << 30))
    c.platform.rmm.debug = True
    return c


def _pick(con, i, marker):
    """Choose the first suggestion of argument ``i`` whose label contains ``marker``."""
    for k, (label, value) in enumerate(con.suggestions(i)):
        if marker in label and value:
            return con.choose(i, k)
    raise AssertionError(f"no suggestion with {marker!r}: {con.suggestions(i)}")


def test_ui_shows_only_the_commands_arguments(con):
    assert isinstance(con.ui, W.VBox)
    assert con.command.value == "RMI_GRANULE_DELEGATE"
    assert set(con.command.options) == {row.name for row in RMI_HANDLERS}
    assert con.args[0].description == "X1 addr:"
    assert con._rows[0].layout.display is None and con._rows[1].layout.display == "none"
    con.command.value = "RMI_DATA_CREATE"
    assert [a.description for a in con.args] == ["X1 rd:", "X2 data:", "X3 ipa:", "X4 src:", "X5 flags:"]
    assert all(r.layout.display is None for r in con._rows)
    assert "Function ID 0xc4000153" in con.doc_html.value
    for b in (con.call_button, con.reset_button, con.realm_params_button, con.rec_params_button):
        assert b.description and b.tooltip


def test_a_valid_delegate_succeeds_and_every_condition_passes(con):
    pa = int(_pick(con, 0, "ok "), 16)
    call = con.call()
    assert call.ok and con.platform.rmm.granules.state(pa) == GranuleState.DELEGATED
    text = con.result_text()
    assert f"RMI_GRANULE_DELEGATE({pa:#x}) -> RMI_SUCCESS" in text
    assert text.count(". passed ") == 4 and "FAILED" not in text
    assert "every condition passed" in text
    assert "#1B7F3B" in con.result_html.value
    assert f"RMI_GRANULE_DELEGATE({pa:#x}) -> RMI_SUCCESS" in _text(con.history_html.value)


def test_an_unaligned_address_fails_the_first_condition(con):
    _pick(con, 0, "gran_align")
    call = con.call()
    assert not call.ok and call.failure == "gran_align" == con.platform.rmm.last_failure
    text = con.result_text()
    assert "X0 = 0x1: RMI_ERROR_INPUT" in text
    assert "1. FAILED      gran_align        -> RMI_ERROR_INPUT" in text
    assert text.count("not reached") == 3
    assert "#B3261E" in con.result_html.value and "#B3261E" in con.conditions_html.value


def test_the_secure_carve_out_is_refused_by_el3_after_three_passes(con):
    _pick(con, 0, "gran_gpt")
    call = con.call()
    assert call.failure == "gran_gpt"
    text = con.result_text()
    assert text.count(". passed ") == 3 and "4. FAILED      gran_gpt" in text


def test_delegating_twice_fails_on_the_granule_state(con):
    pa = int(_pick(con, 0, "ok "), 16)
    con.call()
    con.args[0].value = hex(pa)
    assert con.call().failure == "gran_state"
    assert "gran_state        -> RMI_ERROR_INPUT: addr is a granule in state UNDELEGATED" in con.result_text()


@pytest.mark.parametrize("text,why", [("", "Type a value for X1"), ("zz", "not a hex address"),
                                      ("0x", "not a hex address"), ("0x1" + "0" * 16, "64-bit register")])
def test_bad_input_is_explained_and_nothing_is_called(con, text, why):
    n = len(con.platform.events)
    con.args[0].value = text
    assert con.call() is None
    assert why in _text(con.message.value) and "X1 (addr)" in _text(con.message.value)
    assert len(con.platform.events) == n and con.history == []


def test_realm_create_by_hand_with_the_params_helper(con):
    pa = con.write_realm_params()
    assert pa is not None and con.command.value == "RMI_REALM_CREATE"
    rd = int(con.args[0].value, 16)
    assert int(con.args[1].value, 16) == pa
    assert any("RmiRealmParams you wrote: s2sz 40" in lab for lab, _ in con.suggestions(1))
    call = con.call()
    assert call.ok and con.platform.rmm.realms[rd].state == RealmState.NEW
    assert f"realm RD {rd:#x}: NEW, VMID 1, s2sz 40" in con.state_text()


def test_an_unsupported_s2sz_trips_params_supp_with_its_reason(con):
    con.s2sz.value = 60
    con.hash_algo.value = 1
    con.write_realm_params()
    assert "expect params_supp" in _text(con.message.value)
    call = con.call()
    pamax = con.platform.pamax
    assert call.failure == f"params_supp: s2sz must be 32..{pamax}"
    text = con.result_text()
    assert "6. FAILED      params_supp" in text and f"reason: s2sz must be 32..{pamax}" in text
    assert text.count(". passed ") == 5


def test_rec_create_by_hand_extends_the_rim(con):
    con.write_realm_params()
    con.call()
    rd = int(con.args[0].value, 16)
    rim = con.platform.rmm.measurement(rd)
    assert con.write_rec_params() is not None
    assert con.command.value == "RMI_REC_CREATE" and int(con.args[0].value, 16) == rd
    call = con.call()
    assert call.ok and con.platform.rmm.measurement(rd) != rim
    assert "20. passed      num_aux_count" in con.result_text()


def test_rec_params_without_a_new_realm_are_explained(con):
    assert con.write_rec_params() is None
    assert "needs a realm in state NEW" in _text(con.message.value)


def test_rtt_create_from_the_suggestions_succeeds_then_the_next_level_is_offered(con):
    con.write_realm_params()
    con.call()
    con.command.value = "RMI_GRANULE_DELEGATE"
    for _ in range(2):  # two granules for the tables
        _pick(con, 0, "ok ")
        assert con.call().ok
    con.command.value = "RMI_RTT_CREATE"
    _pick(con, 0, "ok ")  # the RD
    _pick(con, 1, "ok ")  # a DELEGATED granule
    _pick(con, 2, "ok ")  # the IPA where a table is missing
    _pick(con, 3, "ok ")  # and its level
    assert con.args[3].value == "0x1"
    assert con.call().ok
    assert any("where the level 2 RTT is missing" in lab for lab, _ in con.suggestions(2))
    con.args[3].value = "0x3"  # skip level 2: the walk stops at level 1
    _pick(con, 1, "ok ")
    call = con.call()
    assert call.failure == "rtt_walk" and call.index == 1
    assert "RMI_ERROR_RTT (index 1)" in con.result_text()


def test_the_dropdown_fills_the_field_and_goes_back_to_its_prompt(con):
    value = con.suggestions(0)[0][1]
    con.picks[0].value = value
    assert con.args[0].value == value and con.picks[0].value == ""


@pytest.mark.parametrize("row", RMI_HANDLERS, ids=lambda r: r.name)
def test_every_command_offers_suggestions_and_a_call_never_raises(row):
    con = RmiConsole(Platform(dram_size=1 << 30))
    con.write_realm_params()
    con.call()
    con.command.value = row.name
    for i in range(row.n_args):
        opts = [(lab, v) for lab, v in con.suggestions(i) if v]
        assert opts, f"{row.name} X{i + 1} has no usable suggestion"
        con.choose(i, con.suggestions(i).index(opts[0]))
    call = con.call()
    assert call is not None and call.name == row.name
    assert con.result_text().startswith(f"{row.name}(")


def test_conditions_text_marks_passed_failed_and_not_reached():
    text = conditions_text("RMI_REALM_ACTIVATE", "realm_state")
    assert [ln.split()[1] for ln in text.splitlines()[1:5]] == ["passed", "passed", "passed", "FAILED"]
    assert "-> RMI_ERROR_REALM: the realm is NEW" in text
    assert "every condition passed" in conditions_text("RMI_REALM_ACTIVATE", None)
    assert "does not list" in conditions_text("RMI_REALM_ACTIVATE", "made_up")
    assert "no failure conditions" in conditions_text("RMI_VERSION", None)


def test_every_failure_label_has_an_explanation():
    for row in RMI_HANDLERS:
        for label in labels(row.name):
            assert explain_condition(row.name, label) != label, (row.name, label)


def test_reset_restores_a_fresh_machine_and_every_control(con):
    old = con.platform
    con.s2sz.value = 44
    con.write_realm_params()
    con.call()
    con.reset()
    p = con.platform
    assert p is not old and not p.rmm.realms and con.history == [] and con.last_call is None
    assert con.command.value == "RMI_GRANULE_DELEGATE" and con.args[0].value == ""
    assert con.s2sz.value == 40 and con.hash_algo.value == 0
    assert con.result_html.value == "" and con.conditions_html.value == ""
    assert con.realm_params_pages == [] and "Reset" in _text(con.message.value)
    assert "every granule is UNDELEGATED" in con.state_text()
    assert _text(con.history_html.value).strip() == "(no calls yet)"
