import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ccalab.attest import cbor, cose, verify
from ccalab.attest.token import encode_collection
from ccalab.attest.trust_anchors import TrustAnchorStore, private_key_from_jwk
from ccalab.attest.verify import STEPS, Verification

from .conftest import CCA_GOOD_NONCE_B64, IMPL_ID, INST_ID, build_token, read, read_json


def outcome(v: Verification) -> dict:
    return {s.name: s.passed for s in v.steps}


ALL_PASS = {**dict.fromkeys(STEPS, True), "freshness": None}

# (token, trust anchor (file name, loaded as its kind)) -> valid
VALID_VECTORS = [
    ("cca_token.cbor", "cca_platform.pub"),
    ("cca_token.cbor", "ta-tfa.json"),
    ("testGoodCCAToken.cbor", "ec.p256.jwk"),
    ("cca-token-02.cbor", "ta-02-ok.json"),
    ("cca-token-02.cbor", "ec.p256.jwk"),
    ("cca-token-draft-ffm-00.cbor", "ta-tfa.json"),
    ("cca-token-draft-ffm-00.cbor", "cca_platform.pub"),
    ("cca-good.cbor", "ec.p256.jwk"),
    ("bug-33-repro.cbor", "cca_platform.pub"),  # valid except for the binding, checked below
]


def anchor(name):
    return read_json(name) if name.endswith((".json", ".jwk")) else read(name)


@pytest.mark.parametrize("tok,ta", VALID_VECTORS[:-1])
def test_valid_vectors_verify(tok, ta):
    v = verify(read(tok), anchor(ta))
    assert v.ok, str(v)
    assert outcome(v) == ALL_PASS
    assert v.failed_step is None and v.fresh is None
    assert cose.curve_name(v.rak) == "P-384"


def test_the_reference_token_finds_its_cpak_in_the_store():
    v = verify(read("cca_token.cbor"), read_json("ta-tfa.json"))
    assert "the store endorses a CPAK" in v["trust_anchor"].explanation
    assert cose.curve_name(v.cpak) == "P-384"


def test_the_unwrapped_token_fails_at_syntax_and_skips_the_rest():
    v = verify(read("testBadUnwrappedTokens.cbor"), read_json("ec.p256.jwk"))
    assert not v.ok and v.failed_step == "syntax"
    assert all(s.passed is None and s.code == "skipped" for s in v.steps[1:])
    assert v.token is None


def test_a_store_whose_key_is_off_the_curve_fails_the_trust_anchor():
    v = verify(read("cca-token-02.cbor"), read_json("ta-02-bad.json"))
    assert not v.ok
    assert outcome(v) == {**ALL_PASS, "trust_anchor": False, "platform_signature": None}
    assert v["trust_anchor"].code == "bad-trust-anchor"
    assert "not a point on P-256" in v["trust_anchor"].explanation


def test_bug_33_fails_the_binding_only():
    for ta in ("cca_platform.pub", "ta-tfa.json"):
        v = verify(read("bug-33-repro.cbor"), anchor(ta))
        assert outcome(v) == {**ALL_PASS, "binding": False}
        assert v.failed_step == "binding"
        assert "platform nonce does not match RAK hash" in v["binding"].explanation


def test_cca_good_is_fresh_for_its_session_nonce():
    nonce = base64.urlsafe_b64decode(CCA_GOOD_NONCE_B64)
    v = verify(read("cca-good.cbor"), read_json("ec.p256.jwk"), nonce=nonce)
    assert v.ok and v.fresh is True
    assert outcome(v) == dict.fromkeys(STEPS, True)
    v = verify(read("cca-good.cbor"), read_json("ec.p256.jwk"), nonce=bytes(64))
    assert not v.ok and v.failed_step == "freshness" and v.fresh is False


def test_a_token_from_an_unknown_platform_fails_the_lookup():
    v = verify(read("cca-token-02.cbor"), read_json("ta-tfa.json"))
    assert v["trust_anchor"].passed is False and v["trust_anchor"].code == "no-trust-anchor"
    assert v["platform_signature"].passed is None


def test_without_a_trust_anchor_the_lookup_fails():
    v = verify(read("cca_token.cbor"))
    assert v.failed_step == "trust_anchor" and "no trust anchor" in v["trust_anchor"].explanation


def test_an_unusable_trust_anchor_is_a_failed_step_not_an_exception():
    v = verify(read("cca_token.cbor"), "/no/such/file.pem")
    assert v["trust_anchor"].code == "bad-trust-anchor"
    v = verify(read("cca_token.cbor"), 12345)
    assert v["trust_anchor"].passed is False


def test_the_wrong_cpak_fails_the_platform_signature(keys):
    v = verify(read("cca_token.cbor"), keys["other384"].public_key())
    assert outcome(v) == {**ALL_PASS, "platform_signature": False}
    v = verify(read("cca_token.cbor"), read_json("ec.p256.jwk"))
    assert v["platform_signature"].code == "key-mismatch"


# ---- round trips with fresh keys, both envelopes -------------------------------------------

@pytest.mark.parametrize("form", ["cmw", "legacy"])
@pytest.mark.parametrize("cpak", ["cpak256", "cpak384", "cpak521"])
@pytest.mark.parametrize("rak_form", ["cose", "raw"])
def test_tokens_made_with_sign1_verify(keys, make_token, form, cpak, rak_form):
    data = make_token(cpak=cpak, form=form, rak_form=rak_form)
    v = verify(data, keys[cpak].public_key(), nonce=b"\x5a" * 64)
    assert v.ok, str(v)
    assert v.token.envelope == ("cmw-907" if form == "cmw" else "legacy-399")
    assert v.fresh is True
    assert v.rak.public_numbers() == keys["rak"].public_key().public_numbers()


def test_a_fresh_token_verifies_against_a_store_lookup(keys, make_token):
    store = TrustAnchorStore().add(keys["other256"].public_key(), IMPL_ID, b"\x01" + bytes(32))
    store.add(keys["cpak384"].public_key(), IMPL_ID, INST_ID)
    assert verify(make_token(), store).ok


@pytest.mark.parametrize("rak_hash", ["sha-256", "sha-384", "sha-512"])
def test_the_binding_uses_the_hash_named_by_claim_44240(keys, make_token, rak_hash):
    data = make_token(realm={"cca-realm-public-key-hash-algo-id": rak_hash})
    v = verify(data, keys["cpak384"])
    assert v.ok and rak_hash in v["binding"].explanation


def test_a_vector_token_re_signed_with_its_test_keys_still_verifies():
    """The published test keys let a lab re-sign: cca-token-02 with ec.p256.jwk and ec.p384.jwk."""
    orig = cbor.loads(read("cca-token-02.cbor")).value
    cpak = private_key_from_jwk(read_json("ec.p256.jwk"))
    rak = private_key_from_jwk(read_json("ec.p384.jwk"))
    p = cose.sign1(cose.decode_sign1(orig[44234]).payload, cpak)
    r = cose.sign1(cose.decode_sign1(orig[44241]).payload, rak)
    for form in ("cmw", "legacy"):
        assert verify(encode_collection(p, r, form), read_json("ta-02-ok.json")).ok


# ---- tampering ------------------------------------------------------------------------------

def flip_payload_byte(cose_bytes: bytes, index: int) -> bytes:
    """The same COSE_Sign1 with one byte of a bstr claim changed, the signature kept."""
    msg = cose.decode_sign1(cose_bytes)
    claims = dict(cbor.loads(msg.payload))
    key = next(k for k, v in claims.items() if isinstance(v, bytes) and len(v) > index and k != 44237)
    b = bytearray(claims[key])
    b[index] ^= 0x01
    claims[key] = bytes(b)
    return cose.Sign1(msg.protected, {}, cbor.dumps(claims), msg.signature, msg.headers).encode()


def parts(data):
    top = cbor.loads(data).value
    get = (lambda e: e[1]) if cbor.loads(data).tag == 907 else (lambda e: e)
    return get(top[44234]), get(top[44241])


@pytest.mark.parametrize("form", ["cmw", "legacy"])
def test_flipping_a_platform_payload_byte_fails_the_platform_signature(keys, make_token, form):
    p, r = parts(make_token(form=form))
    v = verify(encode_collection(flip_payload_byte(p, 3), r, form), keys["cpak384"])
    assert v["platform_signature"].passed is False and v["platform_signature"].code == "bad-signature"
    assert not v.ok


def test_flipping_a_realm_payload_byte_fails_the_realm_signature(keys, make_token):
    p, r = parts(make_token())
    v = verify(encode_collection(p, flip_payload_byte(r, 5)), keys["cpak384"])
    assert v.failed_step == "realm_signature"
    assert v["platform_signature"].passed and v["binding"].passed


def test_flipping_a_signature_byte_fails_that_signature(keys, make_token):
    p, r = parts(make_token())
    msg = cose.decode_sign1(r)
    sig = bytearray(msg.signature)
    sig[10] ^= 0x80
    forged = cose.Sign1(msg.protected, {}, msg.payload, bytes(sig), msg.headers).encode()
    assert verify(encode_collection(p, forged), keys["cpak384"]).failed_step == "realm_signature"


def test_a_platform_token_from_another_cpak_fails(keys, make_token):
    """Swap in a platform token signed by another key: the lookup or the signature must catch it."""
    mine_p, mine_r = parts(make_token())
    other_p, _ = parts(make_token(cpak="other384"))
    v = verify(encode_collection(other_p, mine_r), keys["cpak384"])
    assert v.failed_step == "platform_signature"
    store = TrustAnchorStore().add(keys["cpak384"].public_key(), IMPL_ID, INST_ID)
    # the other platform claims to be a different instance: no CPAK is endorsed for it
    other_inst_p, _ = parts(make_token(cpak="other384", platform={"cca-platform-instance-id": b"\x01" * 33}))
    v = verify(encode_collection(other_inst_p, mine_r), store)
    assert v.failed_step == "trust_anchor"


def test_the_wrong_nonce_fails_freshness(keys, make_token):
    v = verify(make_token(), keys["cpak384"], nonce=b"\x5b" * 64)
    assert not v.ok and v.failed == (v["freshness"],)
    assert "replayed" in v["freshness"].explanation


def test_a_short_nonce_is_zero_padded_to_64_bytes(keys, make_token):
    challenge = b"\x42" * 32 + bytes(32)
    data = make_token(realm={"cca-realm-challenge": challenge})
    v = verify(data, keys["cpak384"], nonce=b"\x42" * 32)
    assert v.fresh is True and "zero-padded from 32" in v["freshness"].explanation
    assert v.nonce == challenge


@pytest.mark.parametrize("nonce", [b"", bytes(65)])
def test_a_nonce_of_impossible_length_fails_freshness(keys, make_token, nonce):
    v = verify(make_token(), keys["cpak384"], nonce=nonce)
    assert v["freshness"].passed is False and v["freshness"].code == "bad-nonce"


def test_a_nonce_must_be_bytes(make_token):
    with pytest.raises(TypeError):
        verify(make_token(), None, nonce="abc")


def test_a_changed_rak_fails_the_binding(keys, make_token):
    """Sign the realm token with another RAK (self-consistent), keep the platform token."""
    p, _ = parts(make_token())
    _, r_other = parts(make_token(rak="other384"))
    v = verify(encode_collection(p, r_other), keys["cpak384"])
    assert v.failed_step == "binding"
    assert v["realm_signature"].passed is True


def test_an_unbound_token_fails_the_binding(keys, make_token):
    v = verify(make_token(bind=False), keys["cpak384"])
    assert v.failed == (v["binding"],)


def test_a_rak_off_the_curve_fails_the_realm_key(keys, make_token):
    raw = bytearray(cose.raw_point_from_key(keys["rak"]))
    raw[-1] ^= 1
    v = verify(make_token(rak_form="raw", realm={"cca-realm-public-key": bytes(raw)}), keys["cpak384"])
    assert v["realm_key"].passed is False and "not a point on P-384" in v["realm_key"].explanation
    assert v["realm_signature"].passed is None


def test_the_rak_form_must_follow_the_realm_profile(keys, make_token):
    cose_key = cose.cose_key_from_key(keys["rak"])
    v = verify(make_token(rak_form="raw", realm={"cca-realm-public-key": cose_key}), keys["cpak384"])
    assert v["realm_key"].passed is False and "raw" in v["realm_key"].explanation
    raw = cose.raw_point_from_key(keys["rak"])
    v = verify(make_token(realm={"cca-realm-public-key": raw}), keys["cpak384"])
    assert v["realm_key"].passed is False and "COSE_Key" in v["realm_key"].explanation


def test_a_rak_that_is_not_p384_is_refused(keys, make_token):
    p256 = ec.generate_private_key(ec.SECP256R1())
    v = verify(build_token(keys["cpak384"], p256), keys["cpak384"])
    assert v["realm_key"].passed is False and "P-384" in v["realm_key"].explanation


def test_a_realm_token_not_signed_es384_is_refused(keys):
    """The RAK claim holds a P-384 key, but the realm token is signed ES256 (by a P-256 key)."""
    signer = ec.generate_private_key(ec.SECP256R1())
    data = build_token(keys["cpak384"], signer, realm={"cca-realm-public-key": cose.cose_key_from_key(keys["rak"])})
    v = verify(data, keys["cpak384"])
    assert v["realm_key"].passed is True
    assert v["realm_signature"].passed is False and v["realm_signature"].code == "key-mismatch"
    assert "ES384" in v["realm_signature"].explanation


def test_an_unknown_signing_algorithm_fails_syntax(keys, make_token):
    p, r = parts(make_token())
    msg = cose.decode_sign1(p)
    odd = cose.Sign1(cbor.dumps({1: -8}), {}, msg.payload, msg.signature, {1: -8}).encode()
    v = verify(encode_collection(odd, r), keys["cpak384"])
    assert v.failed_step == "syntax" and "-8" in v["syntax"].explanation


@pytest.mark.parametrize("bad", [None, "a string", 42, b"", bytearray(b"\xd9\x01\x8f\xa0")])
def test_anything_that_is_not_a_token_fails_syntax_without_raising(bad):
    v = verify(bad, read("cca_platform.pub"))
    assert not v.ok and v.failed_step == "syntax"


def test_text_report_marks_each_step(keys, make_token):
    v = verify(read("bug-33-repro.cbor"), read("cca_platform.pub"))
    text = str(v)
    assert text.startswith("CCA token verification: NOT VALID: binding failed (legacy-399, 2507 bytes)")
    assert "✓ syntax" in text and "✗ binding" in text and "– freshness" in text
    assert len(text.splitlines()) >= len(STEPS) + 1
    ok = str(verify(make_token(), keys["cpak384"], nonce=b"\x5a" * 64))
    assert ok.startswith("CCA token verification: VALID (cmw-907")
    assert "✗" not in ok and "–" not in ok


def test_a_verification_reads_like_a_mapping_of_steps(keys, make_token):
    v = verify(make_token(), keys["cpak384"])
    assert [s.name for s in v] == list(STEPS)
    assert v["binding"].mark == "✓"
    with pytest.raises(KeyError):
        v["nope"]
    d = v.as_dict()
    assert d["ok"] is True and d["steps"][0]["name"] == "syntax"
    assert "ok=True" in repr(v)


def test_a_cpak_on_an_unsupported_curve_fails_the_trust_anchor():
    k1 = ec.generate_private_key(ec.SECP256K1())
    for ta in (k1.public_key(), k1):
        v = verify(read("cca_token.cbor"), ta)
        assert v["trust_anchor"].passed is False and v["trust_anchor"].code == "bad-trust-anchor"


def test_ipython_shows_the_report(keys, make_token):
    from IPython.lib.pretty import pretty

    v = verify(make_token(), keys["cpak384"])
    assert pretty(v) == v.text()
