"""Shared by the attestation tests: the vectors in tests/data/attestation and a token builder."""

import hashlib
import json
import pathlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ccalab.attest import claims, cose, token

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "attestation"

#: The challenge Veraison's end-to-end script sends; cca-good.cbor answers it.
CCA_GOOD_NONCE_B64 = "byTWuWNaLIu_WOkIuU4Ewb-zroDN6-gyQkV4SZ_jF2Hn9eHYvOASGET1Sr36UobaiPU6ZXsVM1yTlrQyklS8XA=="

IMPL_ID = bytes(range(32))
INST_ID = b"\x01" + bytes(range(100, 132))


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def read_json(name: str):
    return json.loads(read(name))


@pytest.fixture
def vector():
    """``vector("cca_token.cbor")`` -> the file's bytes."""
    return read


@pytest.fixture
def vector_json():
    return read_json


@pytest.fixture(scope="session")
def keys():
    """Fresh keys for this test run: CPAKs on P-256 and P-384, a P-384 RAK, and a spare of each."""
    return {"cpak256": ec.generate_private_key(ec.SECP256R1()),
            "cpak384": ec.generate_private_key(ec.SECP384R1()),
            "cpak521": ec.generate_private_key(ec.SECP521R1()),
            "rak": ec.generate_private_key(ec.SECP384R1()),
            "other384": ec.generate_private_key(ec.SECP384R1()),
            "other256": ec.generate_private_key(ec.SECP256R1())}


def platform_claims(**over):
    c = {"cca-platform-profile": claims.PLATFORM_PROFILE,
         "cca-platform-challenge": bytes(32),
         "cca-platform-implementation-id": IMPL_ID,
         "cca-platform-instance-id": INST_ID,
         "cca-platform-config": b"\xcf\xcf",
         "cca-platform-lifecycle": 0x3000,
         "cca-platform-sw-components": [
             {"measurement-type": "BL", "measurement-value": b"\x11" * 32, "version": "1.0",
              "signer-id": b"\x22" * 32},
             {"measurement-type": "RMM", "measurement-value": b"\x33" * 32, "version": "0.5",
              "signer-id": b"\x22" * 32}],
         "cca-platform-hash-algo-id": "sha-256"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def realm_claims(**over):
    c = {"cca-realm-challenge": b"\x5a" * 64,
         "cca-realm-profile": claims.REALM_PROFILE,
         "cca-realm-personalization-value": b"\x70" * 64,
         "cca-realm-hash-algo-id": "sha-256",
         "cca-realm-initial-measurement": b"\x44" * 32,
         "cca-realm-extensible-measurements": [b"\x00" * 32] * 4,
         "cca-realm-public-key-hash-algo-id": "sha-256"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def build_token(cpak, rak, *, form="cmw", rak_form="cose", platform=None, realm=None, bind=True,
                platform_alg=None, realm_alg=None):
    """A token signed with ``cpak`` and ``rak``; the platform challenge is H(RAK claim) if ``bind``.

    ``platform`` / ``realm`` are claim overrides (a value of None removes the claim).
    """
    realm = realm_claims(**(realm or {}))
    if rak_form == "cose":
        rak_claim = cose.cose_key_from_key(rak)
    else:
        rak_claim = cose.raw_point_from_key(rak)
        realm.pop("cca-realm-profile", None)
    realm.setdefault("cca-realm-public-key", rak_claim)
    platform = platform_claims(**(platform or {}))
    if bind:
        h = claims.HASH_ALGORITHMS[realm["cca-realm-public-key-hash-algo-id"]]
        platform["cca-platform-challenge"] = h(realm["cca-realm-public-key"]).digest()
    p = cose.sign1(claims.encode_claims(platform, "platform"), cpak, platform_alg)
    r = cose.sign1(claims.encode_claims(realm, "realm"), rak, realm_alg)
    return token.encode_collection(p, r, form)


@pytest.fixture
def make_token(keys):
    """``make_token(form=..., rak_form=..., platform={...}, realm={...})`` with the session keys
    (CPAK P-384 unless ``cpak=`` names another key)."""
    def make(cpak="cpak384", rak="rak", **kw):
        return build_token(keys[cpak], keys[rak], **kw)
    return make


def sha(name: str, data: bytes) -> bytes:
    return hashlib.new(name.replace("-", ""), data).digest()
