import pytest

from ccalab.attest import cbor, claims
from ccalab.attest.claims import ClaimError, check_claims

from .conftest import platform_claims, read, realm_claims

# The labels as the attestation digest lists them (draft-ffm-rats-cca-token, Veraison ccatoken).
PLATFORM_KEYS = {265: "cca-platform-profile", 10: "cca-platform-challenge",
                 2396: "cca-platform-implementation-id", 256: "cca-platform-instance-id",
                 2401: "cca-platform-config", 2395: "cca-platform-lifecycle",
                 2399: "cca-platform-sw-components", 2400: "cca-platform-service-indicator",
                 2402: "cca-platform-hash-algo-id"}
REALM_KEYS = {10: "cca-realm-challenge", 265: "cca-realm-profile", 44235: "cca-realm-personalization-value",
              44236: "cca-realm-hash-algo-id", 44237: "cca-realm-public-key",
              44238: "cca-realm-initial-measurement", 44239: "cca-realm-extensible-measurements",
              44240: "cca-realm-public-key-hash-algo-id", 256: "cca-realm-instance-id",
              44243: "cca-realm-mec-policy"}


def payloads(name):
    top = cbor.loads(read(name)).value
    out = {}
    for label, part in ((44234, "platform"), (44241, "realm")):
        entry = top[label]
        entry = entry[1] if isinstance(entry, (list, tuple)) else entry
        out[part] = cbor.loads(cbor.loads(entry).value[2])
    return out


def test_the_tables_use_the_registered_labels():
    assert {c.key: c.name for c in claims.PLATFORM_CLAIMS} == PLATFORM_KEYS
    assert {c.key: c.name for c in claims.REALM_CLAIMS} == REALM_KEYS
    assert {c.key: c.name for c in claims.SW_COMPONENT_KEYS} == {
        1: "measurement-type", 2: "measurement-value", 4: "version", 5: "signer-id",
        6: "measurement-description"}


def test_the_tables_carry_the_size_rules():
    assert claims.claim("platform", 10).sizes == (32, 48, 64)
    assert claims.claim("platform", "implementation-id").sizes == (32,)
    assert claims.claim("platform", "cca-platform-instance-id").sizes == (33,)
    assert claims.claim("realm", "challenge").sizes == (64,)
    assert claims.claim("realm", 44235).sizes == (64,)
    assert not claims.claim("platform", 2400).required
    assert not claims.claim("realm", 265).required
    with pytest.raises(KeyError):
        claims.claim("realm", 2396)


@pytest.mark.parametrize("name", ["cca_token.cbor", "testGoodCCAToken.cbor", "cca-token-02.cbor",
                                  "bug-33-repro.cbor", "cca-token-draft-ffm-00.cbor", "cca-good.cbor"])
def test_every_vector_passes_the_claim_rules(name):
    p = payloads(name)
    platform = check_claims(p["platform"], "platform")
    realm = check_claims(p["realm"], "realm")
    assert platform["cca-platform-implementation-id"] == p["platform"][2396]
    assert len(realm["cca-realm-extensible-measurements"]) == 4
    assert all("measurement-value" in c for c in platform["cca-platform-sw-components"])


def test_sw_components_and_unknown_claims_come_back_by_name():
    p = payloads("cca_token.cbor")["platform"]
    p = {**p, 99999: "future claim"}
    named = check_claims(p, "platform")
    first = named["cca-platform-sw-components"][0]
    assert first["measurement-type"] == "BL" and first["version"] == "3.4.2"
    assert first["measurement-description"] == "sha-256"
    assert named[99999] == "future claim"
    assert list(named)[:3] == ["cca-platform-profile", "cca-platform-challenge",
                               "cca-platform-implementation-id"]


def enc(part, c):
    return cbor.loads(claims.encode_claims(c, part))


@pytest.mark.parametrize("part,change,match", [
    ("platform", {"cca-platform-challenge": bytes(31)}, "32, 48 or 64 bytes, got 31"),
    ("platform", {"cca-platform-challenge": [bytes(32)]}, "single bstr"),
    ("platform", {"cca-platform-implementation-id": bytes(33)}, "32 bytes"),
    ("platform", {"cca-platform-instance-id": b"\x02" + bytes(32)}, "0x01"),
    ("platform", {"cca-platform-instance-id": bytes(32)}, "33 bytes"),
    ("platform", {"cca-platform-lifecycle": 0x7000}, "lifecycle"),
    ("platform", {"cca-platform-lifecycle": -1}, "negative"),
    ("platform", {"cca-platform-lifecycle": "secured"}, "integer"),
    ("platform", {"cca-platform-profile": "http://arm.com/psa/2.0.0"}, "unknown profile"),
    ("platform", {"cca-platform-sw-components": []}, "at least one"),
    ("platform", {"cca-platform-sw-components": [{"measurement-value": bytes(32)}]}, "signer-id"),
    ("platform", {"cca-platform-sw-components": [{"measurement-value": bytes(20), "signer-id": bytes(32)}]},
     "got 20"),
    ("platform", {"cca-platform-sw-components": [b"BL"]}, "must be a map"),
    ("platform", {"cca-platform-service-indicator": ""}, "empty"),
    ("platform", {"cca-platform-hash-algo-id": "md5"}, "unknown hash"),
    ("platform", {"cca-platform-config": None}, "mandatory claim 2401"),
    ("platform", {"cca-platform-hash-algo-id": None}, "mandatory claim 2402"),
    ("realm", {"cca-realm-challenge": bytes(32)}, "64 bytes, got 32"),
    ("realm", {"cca-realm-personalization-value": bytes(65)}, "64 bytes"),
    ("realm", {"cca-realm-initial-measurement": bytes(20)}, "got 20"),
    ("realm", {"cca-realm-extensible-measurements": [bytes(32)] * 3}, "4 measurements"),
    ("realm", {"cca-realm-extensible-measurements": [bytes(32)] * 3 + ["x"]}, "bstr"),
    ("realm", {"cca-realm-hash-algo-id": "sha-1"}, "unknown hash"),
    ("realm", {"cca-realm-public-key-hash-algo-id": "SHA256"}, "unknown hash"),
    ("realm", {"cca-realm-profile": "tag:arm.com,2099:realm#9"}, "unknown profile"),
    ("realm", {"cca-realm-profile": claims.REALM_PROFILE_2}, "cca-realm-instance-id"),
    ("realm", {"cca-realm-public-key": None}, "mandatory claim 44237"),
])
def test_claims_that_break_a_rule_are_refused_with_the_rule(part, change, match):
    base = platform_claims(**change) if part == "platform" else realm_claims(
        **{"cca-realm-public-key": bytes(97), **change})
    with pytest.raises(ClaimError, match=match):
        check_claims(enc(part, base), part)


def test_the_unchanged_builders_pass():
    check_claims(enc("platform", platform_claims()), "platform")
    check_claims(enc("realm", realm_claims(**{"cca-realm-public-key": bytes(97)})), "realm")


def test_claim_keys_must_be_integers_and_the_set_a_map():
    with pytest.raises(ClaimError, match="integers"):
        check_claims({"10": b""}, "realm")
    with pytest.raises(ClaimError, match="map"):
        check_claims([1, 2], "platform")


def test_the_realm_2_profile_is_accepted_with_its_instance_id():
    c = realm_claims(**{"cca-realm-public-key": bytes(107), "cca-realm-profile": claims.REALM_PROFILE_2,
                        "cca-realm-instance-id": b"\x01" + bytes(32), "cca-realm-mec-policy": 1})
    named = check_claims(enc("realm", c), "realm")
    assert named["cca-realm-mec-policy"] == 1


def test_rak_form_follows_the_realm_profile():
    assert claims.rak_is_cose_key({"cca-realm-profile": claims.REALM_PROFILE})
    assert not claims.rak_is_cose_key({})


def test_encode_claims_accepts_names_short_names_and_keys():
    data = claims.encode_claims({"challenge": b"a", "cca-realm-profile": "p", 44235: b"r"}, "realm")
    assert cbor.loads(data) == {10: b"a", 265: "p", 44235: b"r"}
    data = claims.encode_claims({"sw-components": [{"measurement-value": b"m", "signer-id": b"s"}]}, "platform")
    assert cbor.loads(data) == {2399: [{2: b"m", 5: b"s"}]}


def test_table_text_lists_every_claim_with_its_key():
    text = claims.table_text("realm")
    for c in claims.REALM_CLAIMS:
        assert str(c.key) in text and c.name in text
    assert "(optional)" in text
