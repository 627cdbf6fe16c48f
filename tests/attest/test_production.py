"""Tokens the platform produces, through RSI from a real realm, as the verifier sees them."""

import hashlib

import pytest

from ccalab import Platform
from ccalab.attest import STEPS, ReferenceValues, TrustTier, appraise, decode, ear, verify
from ccalab.attest import REALM_SUBMOD, PLATFORM_SUBMOD
from ccalab.firmware import attestation as att
from ccalab.host import Host, RealmConfig

NONCE = hashlib.sha512(b"verifier session").digest()


def _realm(envelope="cmw", **cfg):
    p = Platform(dram_size=256 << 20)
    p.rmm.debug = True
    p.attestation.envelope = envelope
    realm = Host(p).build_realm(RealmConfig(program=att.ATTESTER, rpv=b"\x17" * 64, **cfg))
    return p, realm


@pytest.fixture(scope="module", params=["cmw", "legacy"])
def produced(request):
    """(platform, realm, token) for each envelope, the token fetched through RSI."""
    p, realm = _realm(request.param)
    return p, realm, realm.attestation_token(NONCE)


def _passed(v):
    return [s.name for s in v.steps if s.passed is True]


def test_a_produced_token_passes_every_verification_step(produced):
    p, realm, token = produced
    v = verify(token, p.attestation.cpak_public_pem(), nonce=NONCE)
    assert v.ok, v.text()
    assert _passed(v) == list(STEPS)
    assert v.token.envelope == {"cmw": "cmw-907", "legacy": "legacy-399"}[p.attestation.envelope]


def test_the_trust_anchor_store_finds_the_cpak_by_platform_identity(produced):
    p, realm, token = produced
    assert verify(token, p.attestation.trust_anchor_store(), nonce=NONCE).ok
    stranger = att.other_platform().attestation.trust_anchor_store()
    v = verify(token, stranger, nonce=NONCE)
    assert v.failed_step == "trust_anchor"


def test_the_binding_is_the_hash_of_the_rak_claim(produced):
    p, realm, token = produced
    t = decode(token)
    rak = t.realm["cca-realm-public-key"]
    assert t.platform["cca-platform-challenge"] == hashlib.sha256(rak).digest()
    assert t.realm["cca-realm-public-key-hash-algo-id"] == "sha-256"


def test_a_realm_token_signed_by_another_key_fails_the_realm_signature(produced):
    p, realm, token = produced
    v = verify(att.resign_realm_token(token), p.attestation.cpak_public_pem(), nonce=NONCE)
    assert [s.name for s in v.failed] == ["realm_signature"]
    assert v["platform_signature"].passed and v["binding"].passed and v["freshness"].passed


def test_a_forger_with_its_own_rak_fails_the_binding(produced):
    p, realm, token = produced
    v = verify(att.resign_realm_token(token, replace_rak=True), p.attestation.cpak_public_pem(), nonce=NONCE)
    assert [s.name for s in v.failed] == ["binding"]
    assert v["realm_signature"].passed


def test_another_machines_platform_token_fails_signature_or_binding(produced):
    p, realm, token = produced
    q = att.other_platform()
    swapped = att.swap_platform_token(token, q)
    mine = verify(swapped, p.attestation.cpak_public_pem(), nonce=NONCE)
    assert [s.name for s in mine.failed] == ["platform_signature", "binding"]
    theirs = verify(swapped, q.attestation.cpak_public_pem(), nonce=NONCE)
    assert [s.name for s in theirs.failed] == ["binding"]


def test_a_replayed_token_fails_only_freshness(produced):
    p, realm, token = produced
    v = att.replay(token, hashlib.sha512(b"a newer session").digest(), p.attestation.cpak_public_pem())
    assert [s.name for s in v.failed] == ["freshness"]
    assert "replayed" in v["freshness"].explanation


def test_the_realm_is_affirmed_once_its_rim_is_provisioned(produced):
    p, realm, token = produced
    anchor = p.attestation.cpak_public_pem()
    refused = appraise(token, ReferenceValues(), nonce=NONCE, trust_anchor=anchor)
    assert refused[REALM_SUBMOD].trust_vector["executables"] == ear.UNRECOGNIZED_RUNTIME
    assert refused[REALM_SUBMOD].status is not TrustTier.AFFIRMING
    rv = ReferenceValues().add_realm(rim=realm.rim)
    ok = appraise(token, rv, nonce=NONCE, trust_anchor=anchor)
    assert ok[REALM_SUBMOD].status is TrustTier.AFFIRMING
    assert ok[REALM_SUBMOD].trust_vector["executables"] == ear.APPROVED_BOOT


def test_with_platform_and_realm_values_the_whole_result_is_affirming(produced):
    p, realm, token = produced
    rv = p.attestation.add_reference_values()
    rv.add_realm(rim=realm.rim, rems=[p.rmm.measurement(realm.rd, i) for i in range(1, 5)], rpv=b"\x17" * 64)
    result = appraise(token, rv, nonce=NONCE, trust_anchor=p.attestation.trust_anchor_store())
    assert result.affirming, result.text()
    assert result[PLATFORM_SUBMOD].trust_vector["executables"] == ear.APPROVED_RUNTIME
    assert result[PLATFORM_SUBMOD].trust_vector["configuration"] == ear.APPROVED_CONFIG
    assert result[REALM_SUBMOD].trust_vector["executables"] == ear.APPROVED_RUNTIME


def test_a_wrong_rpv_is_contraindicated(produced):
    p, realm, token = produced
    rv = ReferenceValues().add_realm(rim=realm.rim, rpv=b"\x18" * 64)
    result = appraise(token, rv, nonce=NONCE, trust_anchor=p.attestation.cpak_public_pem())
    assert result[REALM_SUBMOD].trust_vector["executables"] == ear.CONTRAINDICATED_RUNTIME


def test_a_changed_data_page_verifies_but_is_not_recognised():
    p, realm = _realm()
    rv = p.attestation.add_reference_values().add_realm(rim=realm.rim)
    anchor = p.attestation.cpak_public_pem()
    assert appraise(realm.attestation_token(NONCE), rv, nonce=NONCE, trust_anchor=anchor).affirming
    patched = att.rebuild_with_changed_page(realm, b"rootkit")
    token = patched.attestation_token(NONCE)
    assert verify(token, anchor, nonce=NONCE).ok
    result = appraise(token, rv, nonce=NONCE, trust_anchor=anchor)
    assert not result.affirming
    assert result[REALM_SUBMOD].trust_vector["executables"] == ear.UNRECOGNIZED_RUNTIME
    assert result[PLATFORM_SUBMOD].status is TrustTier.AFFIRMING


def test_a_debug_lifecycle_makes_the_platform_untrustworthy():
    p, realm = _realm()
    p.attestation.lifecycle = 0x5000  # recoverable CCA platform RoT debug
    token = realm.attestation_token(NONCE)
    assert verify(token, p.attestation.cpak_public_pem(), nonce=NONCE).ok
    result = appraise(token, p.attestation.add_reference_values(), nonce=NONCE,
                      trust_anchor=p.attestation.cpak_public_pem())
    assert result[PLATFORM_SUBMOD].trust_vector["instance-identity"] == ear.UNTRUSTWORTHY_INSTANCE


def test_tokens_of_an_earlier_boot_carry_the_old_rak():
    p, realm = _realm()
    before = realm.attestation_token(NONCE)
    p.attestation.reboot()
    after = realm.attestation_token(NONCE)
    anchor = p.attestation.cpak_public_pem()
    assert verify(before, anchor, nonce=NONCE).ok and verify(after, anchor, nonce=NONCE).ok
    assert decode(before).realm["cca-realm-public-key"] != decode(after).realm["cca-realm-public-key"]
    mixed = att.swap_platform_token(after, before)  # this boot's realm token, last boot's platform token
    assert verify(mixed, anchor, nonce=NONCE).failed_step == "binding"
