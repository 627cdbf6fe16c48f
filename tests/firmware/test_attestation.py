"""The platform's attestation service: keys, claims, the RSI path from inside a realm, snapshots."""

import hashlib
import shutil
import subprocess
import sys

import pytest

from ccalab import Platform, snapshot
from ccalab.attest import cbor, claims, cose, decode, verify
from ccalab.firmware import attestation as att
from ccalab.firmware.attestation import (ATTESTER, AttestationError, AttestationService, derive_p384_key,
                                         install)
from ccalab.host import Host, RealmConfig

CHALLENGE = hashlib.sha512(b"relying party nonce").digest()


def _machine(**kw):
    p = Platform(dram_size=256 << 20, **kw)
    p.rmm.debug = True
    return p


@pytest.fixture(scope="module")
def built():
    """One machine with one attester realm (RPV set), shared by the read-only tests."""
    p = _machine()
    host = Host(p)
    realm = host.build_realm(RealmConfig(program=ATTESTER, rpv=b"\x42" * 64))
    return p, host, realm


@pytest.fixture
def fresh():
    """A machine of its own and an attester realm, for tests that change things."""
    p = _machine()
    host = Host(p)
    return p, host, host.build_realm(RealmConfig(program=ATTESTER))


# --- keys ---------------------------------------------------------------------------------------

def test_derived_keys_depend_on_seed_and_label_only():
    a = derive_p384_key(b"seed", b"CPAK")
    assert cose.raw_point_from_key(a) == cose.raw_point_from_key(derive_p384_key(b"seed", b"CPAK"))
    assert cose.raw_point_from_key(a) != cose.raw_point_from_key(derive_p384_key(b"seed", b"RAK"))
    assert cose.raw_point_from_key(a) != cose.raw_point_from_key(derive_p384_key(b"seed2", b"CPAK"))
    assert a.curve.name == "secp384r1"
    assert 1 <= a.private_numbers().private_value < att.P384_ORDER


def test_the_same_seed_gives_the_same_cpak_on_every_machine():
    p, q, r = _machine(), _machine(), _machine()
    install(r, seed=b"another machine")
    assert p.attestation.cpak_public_pem() == q.attestation.cpak_public_pem()
    assert p.attestation.cpak_public_pem() != r.attestation.cpak_public_pem()
    assert p.attestation.cpak_public_pem().startswith("-----BEGIN PUBLIC KEY-----")


def test_instance_id_is_0x01_then_the_hash_of_the_cpak_point():
    s = AttestationService(_machine())
    point = cose.raw_point_from_key(s.cpak_public_key())
    assert len(point) == 97
    assert s.instance_id == b"\x01" + hashlib.sha256(point).digest()


def test_implementation_id_is_32_bytes_and_the_same_for_every_machine():
    a, b = AttestationService(_machine()), AttestationService(_machine(), seed=b"other")
    assert len(a.implementation_id) == 32
    assert a.implementation_id == b.implementation_id
    assert a.instance_id != b.instance_id


def test_reboot_makes_a_new_rak_and_platform_token_and_keeps_the_cpak():
    s = AttestationService(_machine())
    cpak, rak, tok = s.cpak_public_pem(), s.rak_claim(), s.platform_token()
    s.reboot()
    assert s.boot == 1
    assert s.cpak_public_pem() == cpak
    assert s.rak_claim() != rak
    assert s.platform_token() != tok


def test_the_platform_token_is_signed_once_per_boot():
    p = _machine()
    s = p.attestation
    first = s.platform_token()
    assert s.platform_token() is first  # ECDSA signatures are randomised: equal bytes mean reuse
    assert len([e for e in p.events.of_kind("attest") if e.actor == "HES"]) == 1


@pytest.mark.parametrize("envelope", ["cmw", "legacy"])
def test_the_platform_challenge_is_the_hash_of_the_rak_claim(envelope):
    s = AttestationService(_machine(), envelope=envelope)
    named = claims.check_claims(cbor.loads(cose.decode_sign1(s.platform_token()).payload), "platform")
    assert named["cca-platform-challenge"] == hashlib.sha256(s.rak_claim()).digest()
    assert len(s.rak_claim()) == (107 if envelope == "cmw" else 97)


def test_platform_claims_are_those_of_a_secured_ccalab_machine():
    s = AttestationService(_machine())
    c = s.platform_claims()
    assert c["cca-platform-profile"] == claims.PLATFORM_PROFILE
    assert c["cca-platform-lifecycle"] == 0x3000
    assert c["cca-platform-hash-algo-id"] == "sha-256"
    assert c["cca-platform-service-indicator"].startswith("https://")
    assert [x["measurement-type"] for x in c["cca-platform-sw-components"]] == ["BL2", "BL31", "RMM"]
    assert all(len(x["measurement-value"]) == 32 and len(x["signer-id"]) == 32
               for x in c["cca-platform-sw-components"])
    claims.check_claims(cbor.loads(claims.encode_claims(c, "platform")), "platform")  # every rule holds
    assert s.platform_claims("legacy")["cca-platform-profile"] == claims.PLATFORM_PROFILE_LEGACY


def test_the_config_claim_follows_the_machine_parameters():
    a = AttestationService(Platform(dram_size=256 << 20)).config
    b = AttestationService(Platform(dram_size=512 << 20)).config
    assert a != b
    assert int.from_bytes(a[:8], "big") == 256 << 20


def test_setting_the_lifecycle_signs_a_new_platform_token():
    s = AttestationService(_machine())
    before = s.platform_token()
    s.lifecycle = 0x5000
    after = s.platform_token()
    assert after != before
    assert claims.check_claims(cbor.loads(cose.decode_sign1(after).payload), "platform")[
        "cca-platform-lifecycle"] == 0x5000
    with pytest.raises(ValueError):
        s.lifecycle = 0x10000


def test_firmware_measurements_change_when_a_firmware_source_changes(tmp_path, monkeypatch):
    src = att._FIRMWARE_DIR.parent
    copy = tmp_path / "ccalab"
    shutil.copytree(src / "firmware", copy / "firmware", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(src / "platform.py", copy / "platform.py")
    monkeypatch.setattr(att, "_FIRMWARE_DIR", copy / "firmware")
    monkeypatch.setattr(att, "_MEASUREMENTS", None)
    before = att.firmware_measurements()
    assert before == dict(att.firmware_measurements())
    (copy / "firmware" / "monitor.py").write_text((copy / "firmware" / "monitor.py").read_text() + "\n# patched\n")
    monkeypatch.setattr(att, "_MEASUREMENTS", None)
    mid = att.firmware_measurements()
    assert mid["BL31"] != before["BL31"] and mid["RMM"] == before["RMM"] and mid["BL2"] == before["BL2"]
    rsi = copy / "firmware" / "rmm" / "rsi" / "attestation.py"
    rsi.write_bytes(rsi.read_bytes() + b"\n")
    monkeypatch.setattr(att, "_MEASUREMENTS", None)
    after = att.firmware_measurements()
    assert after["RMM"] != mid["RMM"] and after["BL31"] == mid["BL31"]


def test_the_envelope_takes_only_known_forms():
    s = AttestationService(_machine())
    s.envelope = "legacy-399"
    assert s.envelope == "legacy"
    with pytest.raises(ValueError, match="cmw"):
        s.envelope = "cose"
    with pytest.raises(ValueError):
        AttestationService(_machine(), envelope="json")


# --- the platform and its service ---------------------------------------------------------------

def test_a_platform_makes_its_service_on_first_use():
    p = Platform(dram_size=256 << 20)
    assert p._attestation is None
    assert p.rmm.token_provider is not None  # a realm can ask before anyone touched p.attestation
    s = p.attestation
    assert isinstance(s, AttestationService) and p.attestation is s
    assert p.rmm.token_provider == s.token_provider


def test_install_replaces_the_service_and_the_rmm_provider():
    p = Platform(dram_size=256 << 20)
    s = install(p, seed=b"lab machine", envelope="legacy")
    assert p.attestation is s and p.rmm.token_provider == s.token_provider
    assert s.seed == b"lab machine" and s.envelope == "legacy"


def test_fresh_keeps_the_cpak_and_boots_a_new_rak():
    p = Platform(dram_size=256 << 20)
    install(p, seed=b"kept")
    q = p.fresh()
    assert q.attestation.cpak_public_pem() == p.attestation.cpak_public_pem()
    assert q.attestation.boot == p.attestation.boot + 1
    assert q.attestation.rak_claim() != p.attestation.rak_claim()


def test_import_ccalab_and_a_platform_load_no_cryptography_or_cbor2():
    code = ("import sys, ccalab; p = ccalab.Platform(dram_size=256 << 20); "
            "print(sorted(m for m in ('cryptography', 'cbor2', 'ccalab.attest', 'ccalab.firmware.attestation') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# --- tokens through RSI, from inside a realm ----------------------------------------------------

def test_a_realm_gets_its_token_through_rsi_in_chunks(fresh):
    p, host, realm = fresh
    seq = p.events.next_seq
    token = realm.attestation_token(CHALLENGE, chunk=256)
    rsi = [e.data.get("command") for e in p.events.since(seq) if e.kind == "rsi"]
    assert rsi.count("RSI_ATTESTATION_TOKEN_INIT") == 1
    assert rsi.count("RSI_ATTESTATION_TOKEN_CONTINUE") == -(-len(token) // 256)
    assert realm.guest(0).notes["tokens"] == 1
    assert verify(token, p.attestation.cpak_public_pem(), nonce=CHALLENGE).ok


def test_the_realm_answers_one_challenge_after_another(fresh):
    p, host, realm = fresh
    first = realm.attestation_token(b"\x01" * 64)
    second = realm.attestation_token(b"\x02" * 64)
    a, b = decode(first), decode(second)
    assert a.realm["cca-realm-challenge"] == b"\x01" * 64 and b.realm["cca-realm-challenge"] == b"\x02" * 64
    assert a.platform_bytes == b.platform_bytes  # one platform token per boot
    assert realm.guest(0).notes["tokens"] == 2


def test_realm_claims_are_the_rmm_measurements_and_the_rpv(built):
    p, host, realm = built
    t = decode(realm.attestation_token(CHALLENGE))
    r = t.realm
    assert r["cca-realm-initial-measurement"] == p.rmm.measurement(realm.rd, 0) == realm.rim
    assert r["cca-realm-extensible-measurements"] == [p.rmm.measurement(realm.rd, i) for i in range(1, 5)]
    assert r["cca-realm-personalization-value"] == b"\x42" * 64
    assert r["cca-realm-hash-algo-id"] == "sha-256"
    assert r["cca-realm-public-key-hash-algo-id"] == "sha-256"
    assert r["cca-realm-public-key"] == p.attestation.rak_claim()
    assert r["cca-realm-profile"] == claims.REALM_PROFILE


def test_a_sha512_realm_reports_sha512_measurements():
    p = _machine()
    realm = Host(p).build_realm(RealmConfig(program=ATTESTER, hash_algo="sha512"))
    r = decode(realm.attestation_token(CHALLENGE)).realm
    assert r["cca-realm-hash-algo-id"] == "sha-512"
    assert len(r["cca-realm-initial-measurement"]) == 64
    assert r["cca-realm-initial-measurement"] == realm.rim


def test_a_short_challenge_is_zero_padded_to_64_bytes(built):
    p, host, realm = built
    t = decode(realm.attestation_token(b"short nonce"))
    assert t.realm["cca-realm-challenge"] == b"short nonce".ljust(64, b"\0")


def test_the_legacy_envelope_is_tag_399_with_a_raw_rak_and_no_realm_profile(fresh):
    p, host, realm = fresh
    p.attestation.envelope = "legacy"
    t = decode(realm.attestation_token(CHALLENGE))
    assert t.envelope == "legacy-399"
    assert "cca-realm-profile" not in t.realm
    assert len(t.realm["cca-realm-public-key"]) == 97 and t.realm["cca-realm-public-key"][0] == 0x04
    assert t.platform["cca-platform-profile"] == claims.PLATFORM_PROFILE_LEGACY


def test_a_realm_without_a_provider_gets_an_rsi_error_and_can_retry(fresh):
    p, host, realm = fresh
    provider = p.attestation.token_provider
    p.rmm.token_provider = None
    with pytest.raises(AttestationError, match="RSI_ATTESTATION_TOKEN_INIT returned RSI_ERROR_UNKNOWN"):
        realm.attestation_token(CHALLENGE)
    p.rmm.token_provider = provider
    assert verify(realm.attestation_token(CHALLENGE), p.attestation.cpak_public_pem(), nonce=CHALLENGE).ok


def test_only_an_attester_realm_with_a_shared_page_can_be_asked():
    p = _machine()
    host = Host(p)
    hello = host.build_realm(RealmConfig(program="hello"))
    with pytest.raises(ValueError, match="attester"):
        hello.attestation_token(CHALLENGE)
    private = host.build_realm(RealmConfig(program=ATTESTER, shared=False, vmid=2))
    with pytest.raises(ValueError, match="shared"):
        private.attestation_token(CHALLENGE)


def test_bad_challenges_and_chunks_are_refused(built):
    p, host, realm = built
    with pytest.raises(ValueError):
        realm.attestation_token(bytes(65))
    with pytest.raises(ValueError):
        realm.attestation_token(b"")
    with pytest.raises(TypeError):
        realm.attestation_token("nonce")
    with pytest.raises(ValueError):
        realm.attestation_token(CHALLENGE, chunk=0)
    with pytest.raises(ValueError):
        p.attestation.realm_claims(realm, b"\x00" * 32)


def test_the_boot_time_program_gets_a_token_from_the_lazily_made_service():
    p = _machine()
    realm = Host(p).build_realm(RealmConfig(program="linux-boot", recs=2))
    realm.run()
    token = realm.guest(0).notes["token"]
    assert verify(token, p.attestation.cpak_public_pem()).ok


# --- tamper tools -------------------------------------------------------------------------------

def test_other_platform_has_its_own_cpak_and_the_same_design():
    q = att.other_platform()
    assert q.attestation.seed == att.OTHER_SEED
    s = AttestationService(_machine())
    assert q.attestation.cpak_public_pem() != s.cpak_public_pem()
    assert q.attestation.implementation_id == s.implementation_id


def test_resigning_keeps_the_claims_and_changes_the_signature(built):
    p, host, realm = built
    token = realm.attestation_token(CHALLENGE)
    forged = decode(att.resign_realm_token(token))
    original = decode(token)
    assert forged.realm == original.realm and forged.platform_bytes == original.platform_bytes
    assert forged.realm_cose.signature != original.realm_cose.signature
    swapped = decode(att.resign_realm_token(token, replace_rak=True))
    assert swapped.realm["cca-realm-public-key"] != original.realm["cca-realm-public-key"]
    assert len(swapped.realm["cca-realm-public-key"]) == 107


def test_swapping_the_platform_token_keeps_the_realm_token(built):
    p, host, realm = built
    token = realm.attestation_token(CHALLENGE)
    q = att.other_platform()
    t = decode(att.swap_platform_token(token, q))
    assert t.realm_bytes == decode(token).realm_bytes
    assert t.platform_bytes == q.attestation.platform_token()
    assert decode(att.swap_platform_token(token, q.attestation)).platform_bytes == t.platform_bytes


def test_changing_a_data_page_changes_the_rim(fresh):
    p, host, realm = fresh
    other = att.rebuild_with_changed_page(realm, b"a different kernel")
    assert other.rim != realm.rim
    assert other.cfg.vmid != realm.cfg.vmid
    assert decode(other.attestation_token(CHALLENGE)).realm["cca-realm-initial-measurement"] == other.rim
    with pytest.raises(ValueError, match="boot header"):
        att.rebuild_with_changed_page(realm, b"x", offset=0)


# --- snapshots ----------------------------------------------------------------------------------

def test_a_snapshot_keeps_the_cpak_the_boot_and_the_envelope(tmp_path):
    p = _machine()
    s = install(p, seed=b"snapshot machine", envelope="legacy", lifecycle=0x3003)
    s.reboot()
    host = Host(p)
    realm = host.build_realm(RealmConfig(program=ATTESTER))
    q = snapshot.load(snapshot.save(p, tmp_path / "m"))
    t = q.attestation
    assert t is not s
    assert t.cpak_public_pem() == s.cpak_public_pem()
    assert t.rak_claim() == s.rak_claim()
    assert (t.seed, t.envelope, t.boot, t.lifecycle) == (b"snapshot machine", "legacy", 1, 0x3003)
    assert q.rmm.token_provider == t.token_provider
    token = t.token(q.rmm.realms[realm.rd], CHALLENGE)
    assert verify(token, s.cpak_public_pem(), nonce=CHALLENGE).ok


def test_a_snapshot_of_an_unused_service_loads_with_the_default_cpak(tmp_path):
    p = _machine()
    q = snapshot.load(snapshot.save(p, tmp_path / "m"))
    assert q._attestation is None
    assert q.attestation.cpak_public_pem() == AttestationService(_machine()).cpak_public_pem()


def test_snapshots_cover_every_attribute_of_the_service():
    p = _machine()
    s = p.attestation
    s.platform_token()
    s.rak_claim()
    assert set(vars(s)) <= snapshot.COVERED["AttestationService"]
    assert "_attestation" in snapshot.COVERED["Platform"]
