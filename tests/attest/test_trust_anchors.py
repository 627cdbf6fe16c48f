import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ccalab.attest import cose
from ccalab.attest.trust_anchors import (TrustAnchor, TrustAnchorError, TrustAnchorStore, as_trust_anchor,
                                         jwk_from_key, key_from_jwk, load_public_key, private_key_from_jwk)

from .conftest import DATA, read, read_json

TFA_IMPL = bytes.fromhex("7f454c4602010100000000000000000003003e00010000005058000000000000")
TFA_INST = bytes.fromhex("0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918")


def same(a, b):
    return a.public_numbers() == b.public_numbers()


def test_the_pem_the_jwk_store_and_the_private_pem_hold_the_same_cpak():
    pem = load_public_key(read("cca_platform.pub").decode())
    assert cose.curve_name(pem) == "P-384"
    assert same(load_public_key(read("cca_platform.pem")), pem)
    assert same(key_from_jwk(read_json("ta-tfa.json")[0]["pkey"]), pem)


def test_a_store_finds_the_cpak_by_implementation_and_instance_id():
    store = TrustAnchorStore.from_json(read_json("ta-tfa.json"))
    assert len(store) == 1
    entry = store.lookup(TFA_IMPL, TFA_INST)
    assert entry is not None and entry.implementation_id == TFA_IMPL
    assert store.lookup(TFA_IMPL, b"\x01" + bytes(32)) is None
    assert store.lookup(bytes(32), TFA_INST) is None


def test_a_store_reads_json_text_a_path_and_a_single_entry():
    text = read("ta-02-ok.json").decode()
    for source in (text, DATA / "ta-02-ok.json", str(DATA / "ta-02-ok.json"), json.loads(text)[0]):
        store = TrustAnchorStore.from_json(source)
        assert store.lookup(bytes(32), b"\x01" + b"\x02" * 32) is not None


def test_an_entry_with_a_point_off_the_curve_is_kept_and_fails_when_used():
    store = TrustAnchorStore.from_json(read_json("ta-02-bad.json"))
    entry = store.lookup(bytes(32), b"\x01" + b"\x02" * 32)
    with pytest.raises(TrustAnchorError, match="not a point on P-256"):
        entry.public_key()


def test_an_entry_without_ids_matches_any_platform(keys):
    store = TrustAnchorStore().add(keys["cpak256"].public_key())
    assert store.lookup(b"a", b"b").implementation_id is None


def test_jwk_round_trip_public_and_private(keys):
    for k in (keys["cpak256"], keys["cpak384"], keys["cpak521"]):
        jwk = jwk_from_key(k, private=True, kid="t")
        assert jwk["kid"] == "t" and "d" in jwk
        assert same(key_from_jwk(jwk), k.public_key())
        assert private_key_from_jwk(jwk).private_numbers() == k.private_numbers()
        assert "d" not in jwk_from_key(k)


def test_the_test_jwks_load_as_private_keys():
    p256 = private_key_from_jwk(read_json("ec.p256.jwk"))
    ta = key_from_jwk(read_json("ta-02-ok.json")[0]["pkey"])
    assert same(p256.public_key(), ta)
    assert cose.curve_name(private_key_from_jwk(read_json("ec.p384.jwk"))) == "P-384"


@pytest.mark.parametrize("jwk,match", [
    ({"kty": "RSA"}, "kty"), ({"kty": "EC", "crv": "secp256k1"}, "crv"),
    ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "bytes"),
    ({"kty": "EC", "crv": "P-256", "x": 5, "y": "AA"}, "base64url"), ("not a dict", "JSON object")])
def test_bad_jwks_are_refused(jwk, match):
    with pytest.raises(TrustAnchorError, match=match):
        key_from_jwk(jwk)


def test_private_key_from_jwk_needs_d_and_a_matching_d():
    jwk = read_json("ec.p256.jwk")
    with pytest.raises(TrustAnchorError, match="no private part"):
        private_key_from_jwk({k: v for k, v in jwk.items() if k != "d"})
    wrong_d = dict(jwk, d=jwk_from_key(ec.generate_private_key(ec.SECP256R1()), private=True)["d"])
    with pytest.raises(TrustAnchorError, match="does not match"):
        private_key_from_jwk(wrong_d)


def test_load_public_key_refuses_what_is_not_an_ec_key():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(TrustAnchorError, match="EC key"):
        load_public_key(ed)
    with pytest.raises(TrustAnchorError):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(TrustAnchorError):
        load_public_key(42)


def test_as_trust_anchor_sorts_each_accepted_form(keys):
    assert isinstance(as_trust_anchor(read_json("ta-tfa.json")), TrustAnchorStore)
    assert isinstance(as_trust_anchor(read("ta-tfa.json")), TrustAnchorStore)
    assert isinstance(as_trust_anchor(DATA / "ta-tfa.json"), TrustAnchorStore)
    assert isinstance(as_trust_anchor(read("cca_platform.pub")), TrustAnchor)
    assert isinstance(as_trust_anchor(str(DATA / "cca_platform.pub")), TrustAnchor)
    assert isinstance(as_trust_anchor(read_json("ec.p256.jwk")), TrustAnchor)
    key = keys["cpak384"]
    assert isinstance(as_trust_anchor(key), ec.EllipticCurvePublicKey)
    for bad in (42, "neither pem nor json nor a file", b"{not json"):
        with pytest.raises(TrustAnchorError):
            as_trust_anchor(bad)


def test_a_store_writes_the_ta_json_layout(keys):
    store = TrustAnchorStore().add(keys["cpak256"], "00" * 32, b"\x01" * 33)
    data = json.loads(store.to_json())
    assert data[0]["implementation-id"] == "00" * 32 and data[0]["instance-id"] == "01" * 33
    again = TrustAnchorStore.from_json(store.to_json())
    assert same(again.lookup(bytes(32), b"\x01" * 33).public_key(), keys["cpak256"].public_key())
    with pytest.raises(TrustAnchorError, match="hex"):
        store.add(keys["cpak256"], "zz")


def test_a_key_on_a_curve_cose_does_not_sign_with_is_refused():
    k1 = ec.generate_private_key(ec.SECP256K1())
    pem = k1.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for obj in (k1, k1.public_key(), pem):
        with pytest.raises(TrustAnchorError, match="secp256k1"):
            load_public_key(obj)
        with pytest.raises(TrustAnchorError):
            as_trust_anchor(obj).public_key() if isinstance(obj, bytes) else as_trust_anchor(obj)
