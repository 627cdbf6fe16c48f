import base64

import pytest

from ccalab.attest import PLATFORM_SUBMOD, REALM_SUBMOD, appraise, decode, verify
from ccalab.attest.ear import TRUST_VECTOR_CLAIMS, TrustTier
from ccalab.attest.refvalues import ReferenceValues

from .conftest import CCA_GOOD_NONCE_B64, DATA, IMPL_ID, read, read_json

ALL_99 = dict.fromkeys(TRUST_VECTOR_CLAIMS, 99)
PLATFORM_GOOD = {"instance-identity": 2, "configuration": 2, "executables": 2, "hardware": 2,
                 "runtime-opaque": 2, "storage-opaque": 2}


def vectors(result):
    return {name: a.trust_vector.as_dict() for name, a in result.submods.items()}


def test_the_reference_token_matches_every_reference_value():
    r = appraise(read("cca_token.cbor"), DATA / "rv.json", trust_anchor=read_json("ta-tfa.json"))
    assert vectors(r) == {PLATFORM_SUBMOD: PLATFORM_GOOD,
                          REALM_SUBMOD: {"instance-identity": 2, "executables": 2}}
    assert r.affirming and r.status is TrustTier.AFFIRMING
    assert r[PLATFORM_SUBMOD].status is TrustTier.AFFIRMING
    assert r.verification.ok


def test_endorsements_is_the_other_name_for_the_trust_anchor():
    r = appraise(read("cca_token.cbor"), DATA / "rv.json", endorsements=read_json("ta-tfa.json"))
    assert r.affirming
    with pytest.raises(ValueError, match="not both"):
        appraise(read("cca_token.cbor"), None, read_json("ta-tfa.json"), trust_anchor=read("cca_platform.pub"))


def test_a_missing_reference_value_is_refused_then_provisioning_it_succeeds():
    """The lesson: first refusal, then provision what is expected, then success."""
    token, ta = read("cca_token.cbor"), read("cca_platform.pub")
    rv = ReferenceValues()
    first = appraise(token, rv, trust_anchor=ta)
    assert not first.affirming and first.status is TrustTier.WARNING
    assert first[PLATFORM_SUBMOD].trust_vector["executables"] == 33
    assert first[REALM_SUBMOD].trust_vector["executables"] == 33
    assert any(x.startswith("no reference value for platform implementation ID 7f454c46")
               for x in first[PLATFORM_SUBMOD].reasons)
    assert any(x.startswith("no reference value for RIM 0000") for x in first[REALM_SUBMOD].reasons)

    t = decode(token)
    rv.add_realm(rim=t.realm["cca-realm-initial-measurement"], rems=t.realm["cca-realm-extensible-measurements"],
                 rpv=t.realm["cca-realm-personalization-value"])
    second = appraise(token, rv, trust_anchor=ta)
    assert second[REALM_SUBMOD].status is TrustTier.AFFIRMING
    assert second[PLATFORM_SUBMOD].status is TrustTier.WARNING

    rv.add_platform(t.platform["cca-platform-implementation-id"], t.platform["cca-platform-config"],
                    t.platform["cca-platform-sw-components"])
    third = appraise(token, rv, trust_anchor=ta)
    assert third.affirming


def test_bug_33_platform_is_recognized_and_the_realm_fails_crypto():
    r = appraise(read("bug-33-repro.cbor"), DATA / "rv.json", trust_anchor=read_json("ta-tfa.json"))
    assert r[PLATFORM_SUBMOD].trust_vector["instance-identity"] == 2
    assert r[REALM_SUBMOD].trust_vector.as_dict() == ALL_99
    assert any("binding failed" in x for x in r[REALM_SUBMOD].reasons)
    assert r.status is TrustTier.CONTRAINDICATED


def test_an_unusable_cpak_gives_platform_99_and_realm_no_claim():
    r = appraise(read("cca-token-02.cbor"), DATA / "rv.json", trust_anchor=read_json("ta-02-bad.json"))
    assert vectors(r) == {PLATFORM_SUBMOD: ALL_99, REALM_SUBMOD: {}}
    assert r[REALM_SUBMOD].status is TrustTier.NONE


def test_a_bad_platform_signature_gives_platform_99(keys):
    r = appraise(read("cca_token.cbor"), DATA / "rv.json", trust_anchor=keys["other384"].public_key())
    assert vectors(r) == {PLATFORM_SUBMOD: ALL_99, REALM_SUBMOD: {}}


def test_an_unknown_platform_is_unrecognized_instance():
    r = appraise(read("cca-token-02.cbor"), DATA / "rv.json", trust_anchor=read_json("ta-tfa.json"))
    assert vectors(r) == {PLATFORM_SUBMOD: {"instance-identity": 97}, REALM_SUBMOD: {}}
    assert r[PLATFORM_SUBMOD].status is TrustTier.CONTRAINDICATED
    assert r[PLATFORM_SUBMOD].reasons[0].startswith("unrecognized platform")
    r = appraise(read("cca-token-02.cbor"))
    assert vectors(r)[PLATFORM_SUBMOD] == {"instance-identity": 97}


def test_a_malformed_token_is_99_everywhere():
    r = appraise(read("testBadUnwrappedTokens.cbor"), DATA / "rv.json", trust_anchor=read_json("ec.p256.jwk"))
    assert vectors(r) == {PLATFORM_SUBMOD: ALL_99, REALM_SUBMOD: ALL_99}
    assert "malformed" in r[REALM_SUBMOD].reasons[0]


def test_cca_good_with_its_nonce_and_golden_values_is_affirming():
    nonce = base64.urlsafe_b64decode(CCA_GOOD_NONCE_B64)
    token = read("cca-good.cbor")
    r = appraise(token, ReferenceValues.from_token(token), nonce=nonce, trust_anchor=read_json("ec.p256.jwk"))
    assert r.affirming and r.nonce == nonce
    assert r.as_dict()["eat_nonce"] == CCA_GOOD_NONCE_B64.rstrip("=")
    stale = appraise(token, ReferenceValues.from_token(token), nonce=bytes(64), trust_anchor=read_json("ec.p256.jwk"))
    assert stale[REALM_SUBMOD].trust_vector.as_dict() == ALL_99
    assert stale[PLATFORM_SUBMOD].status is TrustTier.AFFIRMING


def test_a_verification_can_be_appraised_later():
    v = verify(read("cca_token.cbor"), read("cca_platform.pub"))
    r = appraise(v, DATA / "rv.json")
    assert r.affirming and r.verification is v
    with pytest.raises(ValueError, match="already verified"):
        appraise(v, None, nonce=b"\x00")
    assert appraise(decode(read("cca_token.cbor")), DATA / "rv.json", trust_anchor=read("cca_platform.pub")).affirming


# ---- the appraisal rules, on tokens made for the purpose ------------------------------------

def golden(make_token, **kw):
    data = make_token(**kw)
    return data, ReferenceValues.from_token(data)


def test_a_debug_lifecycle_is_untrustworthy(keys, make_token):
    data = make_token(platform={"cca-platform-lifecycle": 0x5001})
    r = appraise(data, ReferenceValues.from_token(data), trust_anchor=keys["cpak384"])
    tv = r[PLATFORM_SUBMOD].trust_vector
    assert (tv["instance-identity"], tv["runtime-opaque"], tv["storage-opaque"]) == (96, 96, 96)
    assert any("recoverable-cca-platform-rot-debug" in x for x in r[PLATFORM_SUBMOD].reasons)
    data = make_token(platform={"cca-platform-lifecycle": 0x4000})
    assert appraise(data, ReferenceValues.from_token(data), trust_anchor=keys["cpak384"]).affirming


def test_a_different_config_is_unsafe(keys, make_token):
    data, rv = golden(make_token)
    other = make_token(platform={"cca-platform-config": b"\x00"})
    r = appraise(other, rv, trust_anchor=keys["cpak384"])
    assert r[PLATFORM_SUBMOD].trust_vector["configuration"] == 32
    assert r[PLATFORM_SUBMOD].trust_vector["executables"] == 2


def test_an_unknown_firmware_measurement_is_unrecognized(keys, make_token):
    data, rv = golden(make_token)
    comps = [{"measurement-type": "BL", "measurement-value": b"\x99" * 32, "version": "1.0", "signer-id": b"\x22" * 32}]
    r = appraise(make_token(platform={"cca-platform-sw-components": comps}), rv, trust_anchor=keys["cpak384"])
    assert r[PLATFORM_SUBMOD].trust_vector["executables"] == 33
    assert any("BL 99999999" in x for x in r[PLATFORM_SUBMOD].reasons)


def test_the_best_of_several_platform_values_is_used(keys, make_token):
    data, rv = golden(make_token)
    better = ReferenceValues().add_platform(IMPL_ID, b"\x00", []).add_platform(
        *[getattr(rv.platform[0], f) for f in ("implementation_id", "config", "sw_components")])
    r = appraise(data, better, trust_anchor=keys["cpak384"])
    assert r[PLATFORM_SUBMOD].status is TrustTier.AFFIRMING


def test_realm_rules_rpv_rems_and_boot_only(keys, make_token):
    data = make_token()
    t = decode(data)
    rim, rems = t.realm["cca-realm-initial-measurement"], t.realm["cca-realm-extensible-measurements"]
    base = ReferenceValues.from_token(data)
    base.realm.clear()

    def realm_exe(**kw):
        rv = ReferenceValues()
        rv.platform = base.platform
        rv.add_realm(rim, **kw)
        return appraise(data, rv, trust_anchor=keys["cpak384"])[REALM_SUBMOD]

    assert realm_exe().trust_vector["executables"] == 3
    assert realm_exe(rems=rems).trust_vector["executables"] == 2
    assert realm_exe(rems=[None, None, None, rems[3]]).trust_vector["executables"] == 2
    changed = realm_exe(rems=[rems[0], b"\x01" * 32, rems[2], rems[3]])
    assert changed.trust_vector["executables"] == 33 and any("REM1" in x for x in changed.reasons)
    wrong_rpv = realm_exe(rpv=b"\x00" * 64, rems=rems)
    assert wrong_rpv.trust_vector["executables"] == 96 and wrong_rpv.status is TrustTier.CONTRAINDICATED
    assert realm_exe(rak_hash_algorithm="sha-512").trust_vector["executables"] == 96
    assert realm_exe(rak_hash_algorithm="sha-256", rpv=t.realm["cca-realm-personalization-value"]
                     ).trust_vector["executables"] == 3
    assert realm_exe().trust_vector["instance-identity"] == 2


def test_a_realm_reasons_note_when_freshness_was_not_checked(keys, make_token):
    data, rv = golden(make_token)
    r = appraise(data, rv, trust_anchor=keys["cpak384"])
    assert any("freshness was not checked" in x for x in r[REALM_SUBMOD].reasons)
    r = appraise(data, rv, trust_anchor=keys["cpak384"], nonce=b"\x5a" * 64)
    assert not any("freshness" in x for x in r[REALM_SUBMOD].reasons) and r.affirming


def test_the_result_carries_the_claims_as_annotated_evidence():
    r = appraise(read("cca_token.cbor"), DATA / "rv.json", trust_anchor=read("cca_platform.pub"))
    d = r.as_dict()
    platform = d["submods"][PLATFORM_SUBMOD]
    assert platform["ear.status"] == "affirming"
    assert platform["ear.veraison.annotated-evidence"]["cca-platform-lifecycle"] == 0x3003
    assert d["submods"][REALM_SUBMOD]["ear.trustworthiness-vector"] == {"instance-identity": 2, "executables": 2}
    text = str(r)
    assert text.startswith("Attestation result: AFFIRMING")
    assert "CCA_SSD_PLATFORM: affirming" in text and "recognized_instance" in text
