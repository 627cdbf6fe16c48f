import hashlib
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from ccalab import Platform, attest  # noqa: E402
from ccalab.attest import claims as cl  # noqa: E402
from ccalab.firmware import attestation as fa  # noqa: E402
from ccalab.host import Host, RealmConfig  # noqa: E402
from ccalab.viz import attest as va  # noqa: E402
from ccalab.viz import realm as vr  # noqa: E402
from ccalab.viz.theme import THEMES  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "attestation"
NONCE = bytes(range(64))


@pytest.fixture(scope="module")
def machine():
    p = Platform(dram_size=256 << 20)
    realm = Host(p).build_realm(RealmConfig(program="attester"))
    token = realm.attestation_token(NONCE)
    return p, realm, token


@pytest.fixture(scope="module")
def other():
    return fa.other_platform()


def _lines_with(text, *words):
    return [line for line in text.splitlines() if all(w in line for w in words)]


# --- the claims tree ----------------------------------------------------------------------------
def test_claims_tree_names_every_claim_with_key_type_size_and_meaning(machine):
    _p, _realm, token = machine
    text = va.claims_tree_text(token)
    t = attest.decode(token)
    for part, claims in (("platform", t.platform), ("realm", t.realm)):
        for name, value in claims.items():
            c = cl.claim(part, name)
            (line,) = _lines_with(text, f" {c.key}  {c.name} ({c.type}")
            if isinstance(value, bytes):
                assert f"{len(value)} B)" in line and value[:12].hex() in line
            assert c.meaning in text
    assert "44234 platform token: COSE_Sign1, ES384" in text and "44241 realm token: COSE_Sign1, ES384" in text
    assert "CMW collection, tag 907" in text and "signed by the CPAK" in text and "signed by the RAK" in text
    assert text.count("[0] BL2:") == 1 and "[2] RMM:" in text  # every sw-component on its own line


def test_claims_tree_says_the_platform_challenge_is_the_hash_of_the_rak_claim(machine):
    _p, _realm, token = machine
    text = va.claims_tree_text(token)
    t = attest.decode(token)
    assert hashlib.sha256(t.realm["cca-realm-public-key"]).digest() == t.platform["cca-platform-challenge"]
    (binding,) = _lines_with(text, "Binding:")
    assert "= sha-256(realm claim 44237" in binding and "107 bytes" in binding and "holds \u2713" in binding
    assert "binds: H(these 107 bytes) = platform claim 10" in text
    assert "zero-padded to 64 bytes" in text


def test_claims_tree_shows_a_broken_binding_with_both_values(machine, other):
    _p, _realm, token = machine
    swapped = fa.swap_platform_token(token, other)
    t = attest.decode(swapped)
    text = va.claims_tree_text(swapped)
    (binding,) = _lines_with(text, "Binding:")
    digest = hashlib.sha256(t.realm["cca-realm-public-key"]).digest()
    assert "does NOT hold" in binding and digest[:8].hex() in binding
    assert t.platform["cca-platform-challenge"][:8].hex() in binding


def test_claims_tree_of_a_legacy_token_shows_tag_399_and_a_raw_rak(machine):
    p, realm, _token = machine
    p.attestation.envelope = "legacy"
    try:
        token = realm.attestation_token(NONCE)
    finally:
        p.attestation.envelope = "cmw"
    text = va.claims_tree_text(token)
    assert "legacy collection, tag 399 (RMM 1.0)" in text and "399({44234: platform, 44241: realm})" in text
    assert _lines_with(text, "44237  cca-realm-public-key (bstr, 97 B) = 04")
    assert "cca-realm-profile" not in text and "holds \u2713" in text


def test_claims_tree_accepts_a_token_a_verification_and_bytes(machine):
    p, _realm, token = machine
    want = va.claims_tree_text(token)
    assert va.claims_tree_text(attest.decode(token)) == want
    assert va.claims_tree_text(attest.verify(token, p.attestation.cpak_public_pem(), NONCE)) == want
    assert va.claims_tree_text(bytearray(token)) == want


def test_claims_tree_explains_bytes_that_are_not_a_token_instead_of_raising():
    assert va.claims_tree_text(b"\x01\x02").startswith("Not a well-formed CCA token (envelope)")
    bare = (DATA / "testBadUnwrappedTokens.cbor").read_bytes()
    assert "must hold a bstr" in va.claims_tree_text(bare)
    failed = attest.verify(b"garbage")
    assert va.claims_tree_text(failed).startswith("No token to show")
    with pytest.raises(TypeError):
        va.claims_tree_text(42)


def test_claims_tree_of_a_published_token_lists_its_four_firmware_components():
    token = (DATA / "cca_token.cbor").read_bytes()
    text = va.claims_tree_text(token)
    assert [m for m in ("[0] BL:", "[1] M1:", "[2] M2:", "[3] M3:") if m in text] == ["[0] BL:", "[1] M1:",
                                                                                     "[2] M2:", "[3] M3:"]
    assert "0x3003 secured" in text and "holds \u2713" in text and "97 B" in text


# --- the token drawing ----------------------------------------------------------------------------
def _arrows(fig):
    return [a for ax in fig.axes for a in ax.patches if isinstance(a, FancyArrowPatch)]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_draw_token_draws_envelope_two_tokens_and_a_green_binding_arrow(machine, theme):
    _p, _realm, token = machine
    fig = va.draw_token(token, theme=theme)
    ax = fig.axes[0]
    boxes = [b for b in ax.patches if isinstance(b, FancyBboxPatch)]
    assert len(boxes) == 3  # the envelope around the two tokens
    fills = {to_hex(b.get_facecolor()) for b in boxes}
    assert {va.PART_FILLS["platform"].lower(), va.PART_FILLS["realm"].lower()} <= fills
    (arrow,) = _arrows(fig)
    assert to_hex(arrow.get_edgecolor()) == THEMES[theme]["ok"].lower()
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "44234  platform token" in texts and "44241  realm token" in texts and "binding \u2713" in texts
    assert ax.title.get_color() == THEMES[theme]["text"]
    plt.close(fig)


def test_draw_token_turns_the_arrow_red_when_the_binding_breaks(machine):
    _p, _realm, token = machine
    forged = fa.resign_realm_token(token, replace_rak=True)
    fig = va.draw_token(forged, theme="light")
    (arrow,) = _arrows(fig)
    assert to_hex(arrow.get_edgecolor()) == THEMES["light"]["fault"].lower()
    assert "does NOT hold" in fig.axes[0].get_title()
    plt.close(fig)


# --- the verifier's steps -------------------------------------------------------------------------
def test_verification_text_lists_every_step_with_its_question_mark_and_explanation(machine):
    p, _realm, token = machine
    v = attest.verify(token, p.attestation.trust_anchor_store(), NONCE)
    text = va.verification_text(v)
    assert text.startswith("Verifier's view: VALID (cmw-907")
    for i, s in enumerate(v.steps, 1):
        (line,) = _lines_with(text, f"{i}. \u2713 {s.name}")
        assert "passed" in line and va.STEP_QUESTIONS[s.name] in line
    assert "the realm challenge equals the nonce" in text


@pytest.mark.parametrize("tamper, failed", [
    (lambda tok, q: fa.resign_realm_token(tok), "realm_signature"),
    (lambda tok, q: fa.resign_realm_token(tok, replace_rak=True), "binding"),
    (lambda tok, q: fa.swap_platform_token(tok, q), "platform_signature"),
])
def test_verification_text_marks_the_failed_step_and_names_it_first(machine, other, tamper, failed):
    p, _realm, token = machine
    v = attest.verify(tamper(token, other), p.attestation.cpak_public_pem(), NONCE)
    text = va.verification_text(v)
    assert text.startswith(f"Verifier's view: NOT VALID: the first step that failed is {failed}")
    (line,) = _lines_with(text, f"\u2717 {failed}")
    assert "FAILED" in line
    assert v[failed].explanation.split()[0] in text


def test_verification_text_greys_out_skipped_steps(machine):
    v = attest.verify(b"not a token")
    text = va.verification_text(v)
    assert _lines_with(text, "1. \u2717 syntax", "FAILED")
    assert len([ln for ln in _lines_with(text, "\u2013 ", "skipped") if ln.lstrip()[:1].isdigit()]) == 6
    p, _realm, token = machine
    no_nonce = va.verification_text(attest.verify(token, p.attestation.cpak_public_pem()))
    assert _lines_with(no_nonce, "7. \u2013 freshness", "skipped") and no_nonce.startswith("Verifier's view: VALID")


def test_verification_text_refuses_what_is_not_a_verification():
    with pytest.raises(TypeError, match="Verification"):
        va.verification_text("VALID")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_draw_verification_colours_each_badge_by_its_outcome(machine, theme):
    p, _realm, token = machine
    v = attest.verify(fa.resign_realm_token(token), p.attestation.cpak_public_pem())  # freshness skipped
    fig = va.draw_verification(v, theme=theme)
    ax = fig.axes[0]
    badges = [b for b in ax.patches if isinstance(b, FancyBboxPatch)]
    assert [to_hex(b.get_facecolor()) for b in badges] == [va.STEP_FILLS[s.passed].lower() for s in v.steps]
    assert [s.passed for s in v.steps].count(None) == 1 and [s.passed for s in v.steps].count(False) == 1
    assert "NOT VALID (first failure: realm_signature)" in ax.get_title()
    assert ax.title.get_color() == THEMES[theme]["fault"]
    plt.close(fig)


# --- the appraisal ----------------------------------------------------------------------------------
def test_appraisal_text_shows_all_eight_claims_with_tiers_per_submodule(machine):
    p, realm, token = machine
    rv = p.attestation.add_reference_values().add_realm(realm.rim)
    result = attest.appraise(token, rv, trust_anchor=p.attestation.trust_anchor_store(), nonce=NONCE)
    text = va.appraisal_text(result)
    assert text.startswith("Attestation result (EAR): AFFIRMING: a relying party should accept it")
    for sub in ("CCA_SSD_PLATFORM: affirming", "CCA_REALM: affirming"):
        assert sub in text
    for claim in attest.ear.TRUST_VECTOR_CLAIMS:
        assert len(_lines_with(text, f"  {claim} ")) == 2
    assert _lines_with(text, "executables", "3", "affirming", "approved_boot")
    assert _lines_with(text, "file-system", "0", "none", "no_claim")
    assert "RIM matches: approved boot" in text


def test_appraisal_text_without_reference_values_says_refuse_and_why(machine):
    p, _realm, token = machine
    result = attest.appraise(token, None, trust_anchor=p.attestation.trust_anchor_store(), nonce=NONCE)
    text = va.appraisal_text(result)
    assert text.startswith("Attestation result (EAR): WARNING: a relying party should refuse it")
    assert len(_lines_with(text, "executables", "33", "warning", "unrecognized_rt")) == 2
    assert "no reference value for RIM" in text
    with pytest.raises(TypeError):
        va.appraisal_text(attest.verify(token))


# --- measurement provenance ---------------------------------------------------------------------------
def test_provenance_lists_each_measured_step_with_its_rim_and_ends_at_the_rim_claim(machine):
    p, realm, token = machine
    text = va.measurement_provenance_text(p, realm, token)
    steps = vr.rim_steps(p, realm.rd)
    assert [s.command for s in steps] == ["RMI_REALM_CREATE", "RMI_DATA_CREATE", "RMI_RTT_INIT_RIPAS",
                                          "RMI_REC_CREATE"]
    body = text.splitlines()
    for k, st in enumerate(steps, 1):
        i = next(n for n, line in enumerate(body) if line.strip().startswith(f"{k}. #{st.seq}"))
        assert st.command.removeprefix("RMI_") in body[i] and vr.short_hex(st.rim) in body[i + 1]
    assert "DATA_CREATE ipa 0x0" in text and "REALM_ACTIVATE" in text
    assert f"RIM now: {realm.rim.hex()}" in text
    assert "claim 44238" in text and "is this realm's RIM" in text
    assert text.index("REALM_ACTIVATE") > text.index("REC_CREATE")


def test_provenance_tells_a_token_from_another_build_apart(machine):
    p, realm, token = machine
    changed = fa.rebuild_with_changed_page(realm)
    try:
        text = va.measurement_provenance_text(p, realm, changed.attestation_token(NONCE))
        assert "is NOT this realm's RIM" in text
        assert "is this realm's RIM" in va.measurement_provenance_text(p, changed, changed.attestation_token(NONCE))
        assert changed.rim != realm.rim
    finally:
        changed.destroy()


def test_provenance_of_an_unknown_rd_names_the_realms():
    p = Platform(dram_size=256 << 20)
    with pytest.raises(ValueError):
        va.measurement_provenance_text(p, None)
    text = va.measurement_provenance_text(p, 0x1234000)
    assert "no measured RMI call" in text and "no longer exists" in text


# --- layering ---------------------------------------------------------------------------------------
def test_import_ccalab_viz_loads_neither_matplotlib_nor_cryptography():
    code = ("import sys, ccalab.viz, ccalab.viz.attest; "
            "print(sorted(m for m in ('matplotlib', 'cryptography', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
