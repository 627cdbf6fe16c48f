import pytest

from ccalab.attest import cbor


def test_loads_decodes_one_item():
    assert cbor.loads(b"\xa2\x01\x02\x03\x44abcd") == {1: 2, 3: b"abcd"}


def test_loads_rejects_a_map_that_repeats_a_key():
    with pytest.raises(cbor.CBORSyntaxError, match="[Dd]uplicate"):
        cbor.loads(b"\xa2\x01\x02\x01\x03")


def test_loads_rejects_a_repeated_key_deep_inside():
    nested = b"\x81\xd8\x12\xa2\x0a\x40\x0a\x41\x00"  # [18({10: h'', 10: h'00'})]
    with pytest.raises(cbor.CBORSyntaxError):
        cbor.loads(nested)


def test_loads_rejects_indefinite_lengths():
    with pytest.raises(cbor.CBORSyntaxError, match="indefinite"):
        cbor.loads(b"\x5f\x41\x00\xff")
    with pytest.raises(cbor.CBORSyntaxError):
        cbor.loads(b"\x9f\x01\xff")


def test_loads_rejects_bytes_after_the_item():
    with pytest.raises(cbor.CBORSyntaxError, match="1 byte"):
        cbor.loads(b"\x01\x02")
    # a trailing fragment that is itself truncated is still trailing data, not "truncated"
    with pytest.raises(cbor.CBORSyntaxError, match="after its CBOR item"):
        cbor.loads(b"\x01\x18")


def test_loads_reports_truncation():
    with pytest.raises(cbor.CBORSyntaxError, match="truncated"):
        cbor.loads(b"\x44ab")


def test_loads_refuses_a_huge_declared_length_without_allocating_it():
    with pytest.raises(cbor.CBORSyntaxError):
        cbor.loads(b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff")


def test_loads_limits_nesting():
    with pytest.raises(cbor.CBORSyntaxError):
        cbor.loads(b"\x81" * (cbor.MAX_DEPTH + 2) + b"\x00")
    assert cbor.loads(b"\x81" * 4 + b"\x00") == [[[[0]]]]


def test_loads_refuses_empty_input_and_non_bytes():
    with pytest.raises(cbor.CBORSyntaxError, match="empty"):
        cbor.loads(b"")
    with pytest.raises(TypeError):
        cbor.loads("a1")


def test_loads_wraps_semantic_tag_failures():
    with pytest.raises(cbor.CBORSyntaxError):
        cbor.loads(b"\xc0\x61a")  # tag 0 (date-time string) holding "a"


def test_loads_accepts_non_preferred_serialization():
    # 1 encoded in two bytes is valid CBOR, only not preferred; CCA decoders must accept it
    assert cbor.loads(b"\x18\x01") == 1


def test_dumps_round_trips_through_loads():
    obj = {44234: [263, b"\x01" * 40], 44241: "x"}
    assert cbor.loads(cbor.dumps(obj)) == obj
    assert cbor.dumps(cbor.Tag(18, [])) == b"\xd2\x80"


def test_kind_names_cbor_types():
    assert cbor.kind(b"abc") == "a 3-byte bstr"
    assert cbor.kind([1, 2]) == "an array of 2"
    assert cbor.kind(cbor.Tag(18, [])) == "tag 18"
    assert cbor.kind(True) == "a bool"
    assert cbor.kind(None) == "null"
