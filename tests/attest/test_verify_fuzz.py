"""Property tests: verify() never raises on any input, and a refusal always names a failing step."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccalab.attest import cbor, cose, verify
from ccalab.attest.claims import PLATFORM_CLAIMS, REALM_CLAIMS

from .conftest import read

VECTORS = ["cca_token.cbor", "testGoodCCAToken.cbor", "testBadUnwrappedTokens.cbor", "cca-token-02.cbor",
           "bug-33-repro.cbor", "cca-token-draft-ffm-00.cbor", "cca-good.cbor"]
DATA = {name: read(name) for name in VECTORS}
TA_TFA = json.loads(read("ta-tfa.json"))
TA_P256 = json.loads(read("ec.p256.jwk"))
ANCHORS = st.sampled_from([None, TA_TFA, TA_P256, read("cca_platform.pub")])
NONCES = st.one_of(st.none(), st.binary(min_size=0, max_size=70), st.just(b"\xab" * 64))


def check(v):
    """The invariants every result keeps."""
    assert [s.name for s in v.steps] == ["syntax", "trust_anchor", "platform_signature", "realm_key",
                                         "realm_signature", "binding", "freshness"]
    assert all(s.code != "internal-error" for s in v.steps), str(v)
    assert all(s.explanation for s in v.steps)
    if not v.ok:
        assert v.failed, "a refused token must name the step that failed"
        assert v.failed_step in {s.name for s in v.failed}
    else:
        assert not v.failed
    str(v)  # the report always renders


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), ta=ANCHORS, nonce=NONCES)
def test_random_bytes_never_raise(data, ta, nonce):
    v = verify(data, ta, nonce)
    check(v)
    assert not v.ok


@st.composite
def mutated_vector(draw):
    data = bytearray(DATA[draw(st.sampled_from(VECTORS))])
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "flip", "insert", "delete"]))
        if op == "set":
            data[i] = draw(st.integers(0, 255))
        elif op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) > 1:
            del data[i:i + draw(st.integers(1, 8))]
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_vector(), ta=ANCHORS, nonce=NONCES)
def test_mutated_and_truncated_vectors_never_raise(data, ta, nonce):
    check(verify(data, ta, nonce))


# Well-formed CBOR with the right outer shape but arbitrary insides, to reach the claim rules.
LEAVES = st.one_of(st.integers(-2**64, 2**64), st.binary(max_size=100), st.text(max_size=20), st.booleans(),
                   st.none(), st.sampled_from([b"\x00" * 32, b"\x01" * 33, b"\x00" * 64, b"\x04" + bytes(96),
                                               "sha-256", "sha-512", "http://arm.com/CCA-SSD/1.0.0",
                                               "tag:arm.com,2023:realm#1.0.0", 0x3000]))
ITEMS = st.recursive(LEAVES, lambda c: st.one_of(st.lists(c, max_size=5),
                                                 st.dictionaries(st.integers(-5, 3000) | st.text(max_size=3), c,
                                                                 max_size=5)), max_leaves=15)
PLATFORM_KEYS = [c.key for c in PLATFORM_CLAIMS] + [1, 99]
REALM_KEYS = [c.key for c in REALM_CLAIMS] + [2396, 7]


@st.composite
def claims_map(draw, keys, base):
    m = dict(base)
    for k in draw(st.lists(st.sampled_from(keys), max_size=4)):
        if draw(st.booleans()):
            m.pop(k, None)
        else:
            m[k] = draw(ITEMS)
    return m


def vector_claims(name):
    top = cbor.loads(DATA[name]).value
    return [dict(cbor.loads(cose.decode_sign1(top[label]).payload)) for label in (44234, 44241)]


BASE_P, BASE_R = vector_claims("cca_token.cbor")


@st.composite
def structured_token(draw):
    def part(keys, base):
        payload = cbor.dumps(draw(claims_map(keys, base)))
        alg = draw(st.sampled_from([-35, -7, -36, -8, "x"]))
        body = [cbor.dumps({1: alg}), draw(st.sampled_from([{}, {4: b"kid"}])), payload,
                draw(st.binary(min_size=0, max_size=132))]
        return cbor.dumps(cbor.Tag(18, body) if draw(st.booleans()) else body)

    p, r = part(PLATFORM_KEYS, BASE_P), part(REALM_KEYS, BASE_R)
    tag = draw(st.sampled_from([399, 907, 399, 907, 18, 61]))
    if tag == 907 and draw(st.booleans()):
        body = {44234: [263, p], 44241: [draw(st.sampled_from([263, 262])), r]}
    else:
        body = {44234: p, 44241: r}
    if draw(st.integers(0, 4)) == 0:
        body[draw(st.sampled_from([1, 44242, "x"]))] = draw(ITEMS)
    return cbor.dumps(cbor.Tag(tag, body))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=structured_token(), ta=ANCHORS, nonce=NONCES)
def test_structured_garbage_never_raises_and_never_verifies(data, ta, nonce):
    v = verify(data, ta, nonce)
    check(v)
    assert not v.ok  # nothing here carries a valid signature
