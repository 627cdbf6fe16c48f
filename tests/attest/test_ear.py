import json

import pytest

from ccalab.attest import ear
from ccalab.attest.ear import Appraisal, AttestationResult, TrustTier, TrustVector, describe, tier


@pytest.mark.parametrize("value,expected", [
    (-1, TrustTier.NONE), (0, TrustTier.NONE), (1, TrustTier.NONE),
    (2, TrustTier.AFFIRMING), (3, TrustTier.AFFIRMING), (31, TrustTier.AFFIRMING),
    (-2, TrustTier.AFFIRMING), (-32, TrustTier.AFFIRMING),
    (32, TrustTier.WARNING), (33, TrustTier.WARNING), (95, TrustTier.WARNING),
    (-33, TrustTier.WARNING), (-96, TrustTier.WARNING),
    (96, TrustTier.CONTRAINDICATED), (97, TrustTier.CONTRAINDICATED), (99, TrustTier.CONTRAINDICATED),
    (127, TrustTier.CONTRAINDICATED), (-97, TrustTier.CONTRAINDICATED), (-128, TrustTier.CONTRAINDICATED)])
def test_tiers_follow_the_ar4si_ranges(value, expected):
    assert tier(value) is expected


@pytest.mark.parametrize("bad", [128, -129, 2.0, True, "2"])
def test_claim_values_are_int8(bad):
    with pytest.raises((TypeError, ValueError)):
        tier(bad)


def test_describe_uses_the_ar4si_names():
    assert describe("instance-identity", 2) == "2 (recognized_instance: recognized and not compromised)"
    assert describe("executables", 3) == "3 (approved_boot: recognized and approved boot-time)"
    assert describe("executables", 33) == "33 (unrecognized_rt: unrecognized run-time)"
    assert describe("hardware", 99) == "99 (crypto_failed: cryptographic validation failed)"
    assert describe("configuration", 0) == "0 (no_claim: no claim being made)"
    assert describe("instance-identity", 97) == "97 (unrecognized_instance: not recognized)"
    assert "warning tier" in describe("file-system", 50)
    with pytest.raises(KeyError):
        describe("firmware", 2)


def test_every_claim_has_its_values_listed():
    assert set(ear.CLAIM_VALUES) == set(ear.TRUST_VECTOR_CLAIMS)
    assert ear.TRUST_VECTOR_CLAIMS == ("instance-identity", "configuration", "executables", "file-system",
                                       "hardware", "runtime-opaque", "storage-opaque", "sourced-data")


def test_status_is_the_worst_tier_of_the_vector():
    tv = TrustVector()
    assert tv.status is TrustTier.NONE
    tv["instance-identity"] = 2
    assert tv.status is TrustTier.AFFIRMING
    tv["executables"] = 33
    assert tv.status is TrustTier.WARNING
    tv["hardware"] = -1
    assert tv.status is TrustTier.WARNING
    tv["configuration"] = 96
    assert tv.status is TrustTier.CONTRAINDICATED


def test_trust_vector_keeps_to_the_eight_claims():
    tv = TrustVector(instance_identity=2, runtime_opaque=2)
    assert tv.as_dict() == {"instance-identity": 2, "runtime-opaque": 2}
    assert tv == {"instance-identity": 2, "runtime-opaque": 2, "hardware": 0}
    with pytest.raises(KeyError):
        tv["trustworthiness"] = 2
    assert TrustVector().set_all(99).as_dict() == dict.fromkeys(ear.TRUST_VECTOR_CLAIMS, 99)


def test_attestation_result_is_affirming_only_when_every_submod_is():
    good = Appraisal(TrustVector(instance_identity=2))
    warn = Appraisal(TrustVector(instance_identity=2, executables=33))
    assert AttestationResult({"A": good, "B": good}).affirming
    r = AttestationResult({"A": good, "B": warn}, nonce=b"\x01\x02")
    assert not r.affirming and r.status is TrustTier.WARNING
    assert not AttestationResult({}).affirming
    assert not AttestationResult({"A": Appraisal()}).affirming  # "none" is not a pass


def test_attestation_result_has_the_ear_shape():
    r = AttestationResult({"CCA_REALM": Appraisal(TrustVector(executables=3), ["why"],
                                                  annotated_evidence={"cca-realm-challenge": b"\xab"})},
                          nonce=b"\xff\xfe", iat=1700000000)
    d = json.loads(r.to_json())
    assert d["eat_profile"] == "tag:github.com,2023:veraison/ear"
    assert d["iat"] == 1700000000 and d["eat_nonce"] == "__4"
    sub = d["submods"]["CCA_REALM"]
    assert sub["ear.status"] == "affirming"
    assert sub["ear.trustworthiness-vector"] == {"executables": 3}
    assert sub["ear.appraisal-policy-id"] == "policy:ARM_CCA"
    assert sub["ear.veraison.annotated-evidence"] == {"cca-realm-challenge": "ab"}
    text = str(r)
    assert "CCA_REALM: affirming" in text and "executables" in text and "- why" in text


def test_ipython_shows_the_report():
    from IPython.lib.pretty import pretty

    r = AttestationResult({"A": Appraisal(TrustVector(instance_identity=2))})
    assert pretty(r) == r.text()
