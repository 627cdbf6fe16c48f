import pytest

from ccalab.attest import cbor, cose, token
from ccalab.attest.token import TokenError, decode, encode_collection

from .conftest import read

VALID = {"cca_token.cbor": "legacy-399", "testGoodCCAToken.cbor": "cmw-907", "cca-token-02.cbor": "legacy-399",
         "bug-33-repro.cbor": "legacy-399", "cca-token-draft-ffm-00.cbor": "legacy-399",
         "cca-good.cbor": "legacy-399"}


@pytest.mark.parametrize("name,envelope", sorted(VALID.items()))
def test_every_well_formed_vector_decodes_with_its_envelope(name, envelope):
    t = decode(read(name))
    assert t.envelope == envelope
    assert t.tag == (907 if envelope == "cmw-907" else 399)
    assert t.platform["cca-platform-profile"] in ("http://arm.com/CCA-SSD/1.0.0",
                                                  "tag:arm.com,2023:cca_platform#1.0.0")
    assert len(t.realm["cca-realm-challenge"]) == 64
    assert t.raw == read(name)


def test_the_reference_token_claims_read_as_documented():
    t = decode(read("cca_token.cbor"))
    assert t.platform["cca-platform-lifecycle"] == 0x3003
    assert t.platform["cca-platform-implementation-id"].startswith(bytes.fromhex("7f454c46"))
    assert [c["measurement-type"] for c in t.platform["cca-platform-sw-components"]] == ["BL", "M1", "M2", "M3"]
    assert t.realm["cca-realm-challenge"] == b"\xab" * 64
    assert t.realm["cca-realm-initial-measurement"] == bytes(32)
    assert t.realm["cca-realm-personalization-value"].startswith(b"The quick brown fox")
    assert len(t.realm["cca-realm-public-key"]) == 97
    assert "cca-realm-profile" not in t.realm
    assert t.platform_cose.algorithm is cose.ES384 and t.realm_cose.algorithm is cose.ES384


def test_a_bare_cose_sign1_where_a_bstr_belongs_is_refused():
    with pytest.raises(TokenError, match="wrapped in a bstr") as e:
        decode(read("testBadUnwrappedTokens.cbor"))
    assert e.value.part == "platform"


def sample_parts():
    top = cbor.loads(read("cca_token.cbor")).value
    return top[44234], top[44241]


@pytest.mark.parametrize("form,tag", [("cmw", 907), ("legacy", 399)])
def test_encode_collection_builds_both_envelopes(form, tag):
    p, r = sample_parts()
    data = encode_collection(p, r, form)
    top = cbor.loads(data)
    assert top.tag == tag
    if tag == 907:
        assert list(top.value[44234]) == [263, p] and list(top.value[44241]) == [263, r]
    else:
        assert top.value == {44234: p, 44241: r}
    t = decode(data)
    assert t.platform_bytes == p and t.realm_bytes == r
    assert t.platform == decode(read("cca_token.cbor")).platform


def test_encode_collection_refuses_an_unknown_form():
    with pytest.raises(ValueError):
        encode_collection(b"", b"", "jwt")


def envelope_cases():
    p, r = sample_parts()
    T = cbor.Tag
    return {
        "not cbor": (b"\xff\x00", "not valid CBOR"),
        "truncated": (read("cca_token.cbor")[:-10], "truncated"),
        "trailing byte": (read("cca_token.cbor") + b"\x00", "after its CBOR item"),
        "untagged map": (cbor.dumps({44234: p, 44241: r}), "not a tagged collection"),
        "other tag": (cbor.dumps(T(400, {44234: p, 44241: r})), "tag 400"),
        "psa tag": (cbor.dumps(T(61, {44234: p, 44241: r})), "tag 61"),
        "array body": (cbor.dumps(T(399, [p, r])), "must be a map"),
        "extra label": (cbor.dumps(T(399, {44234: p, 44241: r, 1: b""})), "unexpected label 1"),
        "text label": (cbor.dumps(T(399, {44234: p, "x": r})), "unexpected label"),
        "no realm": (cbor.dumps(T(399, {44234: p})), "no realm token"),
        "no platform": (cbor.dumps(T(907, {44241: [263, r]})), "no platform token"),
        "cmw without record": (cbor.dumps(T(907, {44234: p, 44241: r})), r"\[263, bstr\]"),
        "cmw wrong type": (cbor.dumps(T(907, {44234: [262, p], 44241: [263, r]})), "content format 262"),
        "cmw record of 3": (cbor.dumps(T(907, {44234: [263, p, p], 44241: [263, r]})), "CMW record"),
        "legacy with record": (cbor.dumps(T(399, {44234: [263, p], 44241: r})), "must hold a bstr"),
        "bstr not cose": (cbor.dumps(T(399, {44234: b"\x01", 44241: r})), "COSE_Sign1"),
        "payload not a map": (cbor.dumps(T(399, {44234: cose.Sign1(b"\xa1\x01\x38\x22", {}, b"\x01", b"",
                                                                     {}).encode(), 44241: r})), "map"),
    }


@pytest.mark.parametrize("case", sorted(envelope_cases()))
def test_malformed_envelopes_are_refused_with_a_reason(case):
    data, match = envelope_cases()[case]
    with pytest.raises(TokenError, match=match):
        decode(data)


def test_a_collection_that_repeats_a_label_is_refused():
    p, r = sample_parts()
    body = cbor.dumps({44234: p, 44241: r})
    # append a second 44241 entry and bump the map's length from 2 to 3
    dup = b"\xd9\x01\x8f" + bytes([0xa3]) + body[1:] + cbor.dumps(44241) + cbor.dumps(r)
    with pytest.raises(TokenError, match="[Dd]uplicate"):
        decode(dup)


def test_claims_that_repeat_a_key_are_refused():
    p, r = sample_parts()
    msg = cose.decode_sign1(r)
    payload = msg.payload
    assert payload[0] == 0xa7  # a map of 7 realm claims
    dup_payload = b"\xa8" + payload[1:] + b"\x0a\x58\x40" + bytes(64)  # a second claim 10
    forged = cose.Sign1(msg.protected, {}, dup_payload, msg.signature, msg.headers).encode()
    with pytest.raises(TokenError, match="[Dd]uplicate") as e:
        decode(encode_collection(p, forged, "legacy"))
    assert e.value.part == "realm"


def test_an_oversized_token_is_refused_before_decoding():
    with pytest.raises(TokenError, match="at most"):
        decode(b"\x00" * (token.MAX_TOKEN_SIZE + 1))


def test_decode_needs_bytes():
    with pytest.raises(TypeError):
        decode(read("cca_token.cbor").hex())


def test_str_shows_both_claim_sets():
    text = str(decode(read("testGoodCCAToken.cbor")))
    assert "envelope cmw-907" in text
    assert "platform token (ES256" in text and "realm token (ES384" in text
    assert "cca-realm-profile: 'tag:arm.com,2023:realm#1.0.0'" in text
    assert "0x3000 secured" in text


def test_ipython_shows_the_claims():
    from IPython.lib.pretty import pretty

    t = decode(read("cca_token.cbor"))
    assert pretty(t) == str(t)
