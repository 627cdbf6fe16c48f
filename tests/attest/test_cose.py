import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ccalab.attest import cbor, cose

from .conftest import read


@pytest.mark.parametrize("curve,alg", [(ec.SECP256R1, cose.ES256), (ec.SECP384R1, cose.ES384),
                                       (ec.SECP521R1, cose.ES512)])
def test_sign1_round_trip_verifies_for_each_algorithm(curve, alg):
    key = ec.generate_private_key(curve())
    msg = cose.decode_sign1(cose.sign1(b"claims", key))
    assert msg.tagged and msg.alg == alg.id and msg.headers == {1: alg.id}
    assert dict(msg.unprotected) == {}
    assert len(msg.signature) == alg.signature_size
    assert msg.verify(key.public_key())


def test_sign1_signature_is_over_the_rfc9052_sig_structure(keys):
    """Check the bytes independently: Sig_structure built by hand, signature converted by hand."""
    key = keys["cpak384"]
    data = cose.sign1(b"\xa1\x0a\x41\x00", key)
    protected, unprotected, payload, sig = cbor2.loads(data).value
    assert protected == b"\xa1\x01\x38\x22"  # {1: -35}
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    key.public_key().verify(der, tbs, ec.ECDSA(hashes.SHA384()))  # raises if wrong
    assert cose.sig_structure(protected, payload) == tbs


def test_verify_is_false_when_the_payload_changes(keys):
    msg = cose.decode_sign1(cose.sign1(b"payload", keys["cpak256"]))
    forged = cose.Sign1(msg.protected, msg.unprotected, b"paylobd", msg.signature, msg.headers)
    assert not forged.verify(keys["cpak256"].public_key())


def test_verify_is_false_with_another_key_of_the_same_curve(keys):
    msg = cose.decode_sign1(cose.sign1(b"payload", keys["cpak384"]))
    assert not msg.verify(keys["other384"].public_key())


def test_verify_refuses_a_key_of_the_wrong_curve(keys):
    msg = cose.decode_sign1(cose.sign1(b"payload", keys["cpak384"]))
    with pytest.raises(cose.CoseError, match="P-256"):
        msg.verify(keys["cpak256"].public_key())


def test_verify_is_false_for_a_signature_of_the_wrong_length(keys):
    msg = cose.decode_sign1(cose.sign1(b"payload", keys["cpak256"]))
    short = cose.Sign1(msg.protected, {}, msg.payload, msg.signature[:-1], msg.headers)
    assert not short.verify(keys["cpak256"].public_key())


def test_sign1_refuses_an_algorithm_that_does_not_fit_the_key(keys):
    with pytest.raises(ValueError, match="P-384"):
        cose.sign1(b"x", keys["cpak256"], "ES384")
    with pytest.raises(TypeError):
        cose.sign1(b"x", keys["cpak256"].public_key())


def test_sign1_can_emit_an_untagged_message(keys):
    data = cose.sign1(b"x", keys["cpak256"], tagged=False)
    assert data[0] == 0x84
    msg = cose.decode_sign1(data)
    assert not msg.tagged and msg.verify(keys["cpak256"].public_key())


def test_raw_and_der_signatures_convert_both_ways(keys):
    der = keys["cpak384"].sign(b"m", ec.ECDSA(hashes.SHA384()))
    raw = cose.der_to_raw(der, -35)
    assert len(raw) == 96
    assert cose.raw_to_der(raw, "ES384") == der
    with pytest.raises(cose.CoseError):
        cose.raw_to_der(raw[:95], -35)


def test_decode_sign1_rejects_malformed_messages():
    good = [b"\xa1\x01\x26", {}, b"p", b"s"]
    assert cose.decode_sign1(cbor.dumps(cbor.Tag(18, good))).payload == b"p"
    bad = {
        "tag 17": cbor.Tag(17, good),
        "3 items": good[:3],
        "protected not bstr": [{1: -7}, {}, b"p", b"s"],
        "unprotected not map": [b"", [], b"p", b"s"],
        "detached payload": [b"", {}, None, b"s"],
        "payload not bstr": [b"", {}, "p", b"s"],
        "signature not bstr": [b"", {}, b"p", 5],
        "protected holds an array": [b"\x80", {}, b"p", b"s"],
        "alg in both headers": [b"\xa1\x01\x26", {1: -7}, b"p", b"s"],
    }
    for why, item in bad.items():
        with pytest.raises(cose.CoseError):
            cose.decode_sign1(cbor.dumps(item))
        with pytest.raises(cose.CoseError):
            cose.decode_sign1(item)


def test_decode_sign1_refuses_a_protected_header_with_a_repeated_label():
    item = [b"\xa2\x01\x26\x01\x38\x22", {}, b"p", b"s"]
    with pytest.raises(cose.CoseError, match="[Dd]uplicate"):
        cose.decode_sign1(cbor.dumps(item))


def test_an_empty_protected_header_means_no_algorithm():
    msg = cose.decode_sign1(cbor.dumps([b"", {}, b"p", b"s"]))
    assert msg.alg is None
    with pytest.raises(cose.CoseError):
        msg.algorithm


def test_cose_key_round_trip_for_each_curve():
    for curve, size in ((ec.SECP256R1, 75), (ec.SECP384R1, 107), (ec.SECP521R1, 143)):
        pub = ec.generate_private_key(curve()).public_key()
        data = cose.cose_key_from_key(pub)
        assert len(data) == size
        m = cbor.loads(data)
        assert m[1] == 2 and m[-1] == cose.algorithm_for_key(pub).crv
        assert cose.key_from_cose_key(data).public_numbers() == pub.public_numbers()


def test_cose_key_rejects_wrong_kty_crv_sizes_and_points(keys):
    pub = keys["rak"].public_key()
    m = dict(cbor.loads(cose.cose_key_from_key(pub)))
    for change, match in (({1: 1}, "kty"), ({-1: 7}, "crv"), ({-1: 1}, "32 bytes"),
                          ({-2: m[-2][:-1]}, "48 bytes"), ({-3: True}, "bstr"),
                          ({-3: bytes(48)}, "not a point")):
        with pytest.raises(cose.CoseError, match=match):
            cose.key_from_cose_key({**m, **change})
    with pytest.raises(cose.CoseError):
        cose.key_from_cose_key(b"\x80")
    # extra labels such as kid are allowed
    assert cose.key_from_cose_key({**m, 2: b"kid"}).public_numbers() == pub.public_numbers()


def test_raw_points_round_trip_and_are_checked(keys):
    pub = keys["rak"].public_key()
    raw = cose.raw_point_from_key(keys["rak"])
    assert len(raw) == 97 and raw[0] == 4
    assert cose.key_from_raw_point(raw).public_numbers() == pub.public_numbers()
    with pytest.raises(cose.CoseError, match="0x04"):
        cose.key_from_raw_point(b"\x02" + raw[1:])
    with pytest.raises(cose.CoseError, match="96 bytes"):
        cose.key_from_raw_point(raw[:-1])
    with pytest.raises(cose.CoseError, match="P-256 point is 65"):
        cose.key_from_raw_point(raw, curve="P-256")
    off = bytearray(raw)
    off[-1] ^= 1
    with pytest.raises(cose.CoseError, match="not a point on P-384"):
        cose.key_from_raw_point(bytes(off))


def test_the_reference_platform_token_verifies_with_its_cpak():
    top = cbor.loads(read("cca_token.cbor"))
    msg = cose.decode_sign1(top.value[44234])
    cpak = serialization.load_pem_public_key(read("cca_platform.pub"))
    assert msg.algorithm is cose.ES384
    assert msg.verify(cpak)


def test_algorithm_lookup_by_id_name_and_key(keys):
    assert cose.algorithm(-7) is cose.ES256
    assert cose.algorithm("es512") is cose.ES512
    assert cose.algorithm_for_key(keys["rak"]) is cose.ES384
    assert cose.curve_name(keys["cpak256"].public_key()) == "P-256"
    for bad in (-8, True, "RS256", None):
        with pytest.raises(cose.CoseError):
            cose.algorithm(bad)
