import json

import pytest

from ccalab.attest import decode
from ccalab.attest.refvalues import ReferenceValues, SwComponentRef

from .conftest import DATA, read

TFA_IMPL = bytes.fromhex("7f454c4602010100000000000000000003003e00010000005058000000000000")


def test_rv_json_loads_both_platforms_and_the_realm():
    rv = ReferenceValues.from_json(DATA / "rv.json")
    assert len(rv.platform) == 2 and len(rv.realm) == 1
    (tfa,) = rv.platform_for(TFA_IMPL)
    assert [c.component_type for c in tfa.sw_components] == ["BL", "M1", "M2", "M3"]
    assert tfa.sw_components[0].version == "3.4.2"
    assert len(tfa.config) == 33
    (realm,) = rv.realm_for(bytes(32))
    assert realm.rems == (bytes(32),) * 4
    assert realm.rpv.startswith(b"The quick brown fox")
    assert realm.rak_hash_algorithm == "sha-256"
    assert rv.platform_for(bytes(32)) == [] and rv.realm_for(b"\x01" * 32) == []


def test_every_rv_json_value_equals_the_reference_token():
    rv = ReferenceValues.from_json(read("rv.json").decode())
    t = decode(read("cca_token.cbor"))
    (p,) = rv.platform_for(t.platform["cca-platform-implementation-id"])
    assert p.config == t.platform["cca-platform-config"]
    for ref, comp in zip(p.sw_components, t.platform["cca-platform-sw-components"]):
        assert ref.matches(comp)
    (r,) = rv.realm_for(t.realm["cca-realm-initial-measurement"])
    assert list(r.rems) == t.realm["cca-realm-extensible-measurements"]
    assert r.rpv == t.realm["cca-realm-personalization-value"]


def test_json_round_trip_keeps_every_value():
    rv = ReferenceValues.from_json(DATA / "rv.json")
    again = ReferenceValues.from_json(rv.to_json())
    assert again.platform == rv.platform and again.realm == rv.realm
    assert json.loads(rv.to_json())["platform"][1]["implementation-id"] == TFA_IMPL.hex().upper()


def test_add_realm_and_add_platform_take_bytes_or_hex_and_chain():
    rv = (ReferenceValues()
          .add_realm("aa" * 32, rems=[b"\x01" * 32, None, "", "02" * 32], rpv=b"\x03" * 64)
          .add_platform(b"\x04" * 32, config="cfcf",
                        sw_components=[{"measurement-type": "BL", "measurement-value": "05" * 32},
                                       SwComponentRef(b"\x06" * 32, signer_id=b"\x07" * 32)]))
    assert rv.realm[0].rems == (b"\x01" * 32, None, None, b"\x02" * 32)
    assert rv.realm[0].rim == b"\xaa" * 32
    assert rv.platform[0].config == b"\xcf\xcf"
    assert rv.platform[0].sw_components[0].component_type == "BL"
    assert len(rv) == 2 and "1 platform(s), 1 realm(s)" in repr(rv)


def test_bad_reference_values_are_refused():
    with pytest.raises(ValueError, match="4 REMs"):
        ReferenceValues().add_realm(bytes(32), rems=[bytes(32)] * 3)
    with pytest.raises(ValueError, match="hex"):
        ReferenceValues().add_realm("not hex")
    with pytest.raises(TypeError):
        ReferenceValues().add_realm(12)
    with pytest.raises(ValueError):
        ReferenceValues.from_json([1, 2])


def test_a_sw_component_reference_checks_only_what_it_sets():
    comp = {"measurement-type": "BL", "measurement-value": b"m" * 32, "version": "1", "signer-id": b"s" * 32}
    assert SwComponentRef(b"m" * 32).matches(comp)
    assert SwComponentRef(b"m" * 32, b"s" * 32, "BL", "1").matches(comp)
    assert not SwComponentRef(b"m" * 32, version="2").matches(comp)
    assert not SwComponentRef(b"m" * 32, signer_id=b"x" * 32).matches(comp)
    assert not SwComponentRef(b"m" * 32, component_type="M1").matches(comp)
    assert not SwComponentRef(b"n" * 32).matches(comp)


def test_from_token_provisions_exactly_what_the_token_shows():
    t = decode(read("testGoodCCAToken.cbor"))
    rv = ReferenceValues.from_token(read("testGoodCCAToken.cbor"))
    (p,) = rv.platform_for(t.platform["cca-platform-implementation-id"])
    assert p.config == t.platform["cca-platform-config"]
    assert p.sw_components[0].matches(t.platform["cca-platform-sw-components"][0])
    (r,) = rv.realm_for(t.realm["cca-realm-initial-measurement"])
    assert r.rak_hash_algorithm == "sha-512"
    assert ReferenceValues.from_token(t).realm == rv.realm
