"""A thin COSE_Sign1 and EC2 COSE_Key layer over ``cryptography``: what a CCA token needs, no more.

Both halves of a CCA token are COSE_Sign1 messages: a protected header ``{1: alg}``, an empty
unprotected header, the claims as payload, and an ECDSA signature written as raw ``r || s``. The
signature covers the ``Sig_structure`` ``["Signature1", protected, external_aad, payload]`` with
an empty ``external_aad``. All arithmetic is done by ``cryptography``; this module only arranges
bytes.

Spec: RFC 9052 section 4.2 (COSE_Sign1), 4.4 (Sig_structure), 7.1 (COSE_Key); RFC 9053 section
2.1 (ECDSA: ES256 -7, ES384 -35, ES512 -36; the signature is ``r || s``, each as long as the
curve's field) and 7.1.1 (EC2 keys: kty 2, crv 1/2/3, x -2, y -3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)

from ..errors import CCALabError
from . import cbor

#: CBOR tag of a COSE_Sign1 message.
TAG_COSE_SIGN1 = 18
#: Header label of the algorithm.
HEADER_ALG = 1
#: COSE_Key labels (EC2).
KEY_KTY, KEY_CRV, KEY_X, KEY_Y = 1, -1, -2, -3
#: ``kty`` value of an elliptic-curve key with x and y coordinates.
KTY_EC2 = 2


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One COSE ECDSA algorithm: its identifier, curve and hash."""

    id: int  #: COSE algorithm identifier
    name: str  #: e.g. ``"ES384"``
    curve: type  #: the ``cryptography`` curve class
    crv: int  #: the COSE_Key ``crv`` value of that curve
    hash: type  #: the ``cryptography`` hash class
    size: int  #: bytes per coordinate (and per half of the raw signature)

    @property
    def signature_size(self) -> int:
        """Length of the raw ``r || s`` signature."""
        return 2 * self.size


ES256 = Algorithm(-7, "ES256", ec.SECP256R1, 1, hashes.SHA256, 32)
ES384 = Algorithm(-35, "ES384", ec.SECP384R1, 2, hashes.SHA384, 48)
ES512 = Algorithm(-36, "ES512", ec.SECP521R1, 3, hashes.SHA512, 66)

#: The algorithms this layer knows, by COSE identifier.
ALGORITHMS = {a.id: a for a in (ES256, ES384, ES512)}
_BY_NAME = {a.name: a for a in ALGORITHMS.values()}
_BY_CRV = {a.crv: a for a in ALGORITHMS.values()}
_BY_CURVE_NAME = {a.curve.name: a for a in ALGORITHMS.values()}
#: Curve names as JOSE/COSE write them.
CURVE_NAMES = {ES256.crv: "P-256", ES384.crv: "P-384", ES512.crv: "P-521"}


class CoseError(CCALabError, ValueError):
    """A COSE structure or key is malformed, or does not fit the algorithm."""


def algorithm(alg) -> Algorithm:
    """The :class:`Algorithm` for a COSE identifier (``-35``), a name (``"ES384"``) or itself."""
    if isinstance(alg, Algorithm):
        return alg
    if isinstance(alg, str) and alg.upper() in _BY_NAME:
        return _BY_NAME[alg.upper()]
    if isinstance(alg, int) and not isinstance(alg, bool) and alg in ALGORITHMS:
        return ALGORITHMS[alg]
    raise CoseError(f"unsupported COSE algorithm {alg!r} (known: ES256 -7, ES384 -35, ES512 -36)")


def algorithm_for_key(key) -> Algorithm:
    """The ECDSA algorithm that goes with an EC key's curve (P-384 -> ES384)."""
    curve = getattr(key, "curve", None)
    if curve is None or curve.name not in _BY_CURVE_NAME:
        raise CoseError(f"not a P-256, P-384 or P-521 key: {type(key).__name__}")
    return _BY_CURVE_NAME[curve.name]


def curve_name(key) -> str:
    """``"P-256"``, ``"P-384"`` or ``"P-521"`` for an EC key."""
    return CURVE_NAMES[algorithm_for_key(key).crv]


# ---------------------------------------------------------------------------------------------
# Signatures: raw r || s <-> DER

def raw_to_der(signature: bytes, alg) -> bytes:
    """A COSE ``r || s`` signature as the DER ``ECDSA-Sig-Value`` that ``cryptography`` verifies.

    Spec: RFC 9053 section 2.1 (fixed-length big-endian ``r`` then ``s``).
    """
    a = algorithm(alg)
    if len(signature) != a.signature_size:
        raise CoseError(f"an {a.name} signature is {a.signature_size} bytes (r || s), "
                        f"got {len(signature)}")
    r = int.from_bytes(signature[:a.size], "big")
    s = int.from_bytes(signature[a.size:], "big")
    return encode_dss_signature(r, s)


def der_to_raw(der: bytes, alg) -> bytes:
    """A DER ECDSA signature as COSE's fixed-length ``r || s``."""
    a = algorithm(alg)
    r, s = decode_dss_signature(der)
    return r.to_bytes(a.size, "big") + s.to_bytes(a.size, "big")


# ---------------------------------------------------------------------------------------------
# COSE_Sign1

def sig_structure(protected: bytes, payload: bytes, external_aad: bytes = b"") -> bytes:
    """The bytes a COSE_Sign1 signature covers.

    Spec: RFC 9052 section 4.4: ``["Signature1", body_protected, external_aad, payload]``.
    """
    return cbor.dumps(["Signature1", bytes(protected), bytes(external_aad), bytes(payload)])


@dataclasses.dataclass(frozen=True)
class Sign1:
    """A decoded COSE_Sign1 message (RFC 9052 section 4.2)."""

    protected: bytes  #: the protected header exactly as sent (a bstr holding a CBOR map)
    unprotected: Mapping  #: the unprotected header map
    payload: bytes  #: the signed content (for CCA: the claims map, CBOR-encoded)
    signature: bytes  #: raw ``r || s``
    headers: Mapping  #: the protected header, decoded
    tagged: bool = True  #: whether the message carried CBOR tag 18

    @property
    def alg(self):
        """The algorithm identifier from the protected header (``None`` if absent)."""
        return self.headers.get(HEADER_ALG)

    @property
    def algorithm(self) -> Algorithm:
        """The :class:`Algorithm` named by the protected header; CoseError if unknown."""
        return algorithm(self.alg)

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        """The ``Sig_structure`` bytes of this message."""
        return sig_structure(self.protected, self.payload, external_aad)

    def verify(self, public_key, external_aad: bytes = b"") -> bool:
        """True if the signature verifies with ``public_key``.

        Raises CoseError if the algorithm is unknown or does not fit the key's curve (a P-256
        key cannot check an ES384 signature); a wrong signature just gives False.

        Spec: RFC 9052 section 4.4, verification steps; RFC 9053 section 2.1.
        """
        return verify_signature(self, public_key, external_aad)

    def encode(self, tagged: bool | None = None) -> bytes:
        """The message as CBOR, with tag 18 unless ``tagged`` is False."""
        body = [self.protected, dict(self.unprotected), self.payload, self.signature]
        tagged = self.tagged if tagged is None else tagged
        return cbor.dumps(cbor.Tag(TAG_COSE_SIGN1, body) if tagged else body)


def _is_array(x) -> bool:
    return isinstance(x, (list, tuple))


def decode_sign1(data, *, what: str = "the COSE_Sign1 message") -> Sign1:
    """Decode a COSE_Sign1 message, tagged (18) or untagged.

    Parameters
    ----------
    data : bytes-like or already-decoded item
        The CBOR bytes, or the decoded tag/array (as found inside another structure).
    what : str
        How error messages name the message.

    Raises
    ------
    CoseError
        If the structure is not a 4-element COSE_Sign1 with the right types, the protected
        header is not a map, the algorithm appears in both headers, or the payload is detached.

    Spec: RFC 9052 section 4.2 (COSE_Sign1 = [protected bstr, unprotected map, payload bstr/nil,
    signature bstr]) and 3 (a label must not appear in both buckets).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            item = cbor.loads(data, what=what)
        except cbor.CBORSyntaxError as e:
            raise CoseError(str(e)) from None
    else:
        item = data
    tagged = False
    if isinstance(item, cbor.Tag):
        if item.tag != TAG_COSE_SIGN1:
            raise CoseError(f"{what} has CBOR tag {item.tag}, expected {TAG_COSE_SIGN1} (COSE_Sign1)")
        item, tagged = item.value, True
    if not _is_array(item) or len(item) != 4:
        raise CoseError(f"{what} is not a COSE_Sign1 array of 4 items "
                        f"(got {cbor.kind(item)})")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes):
        raise CoseError(f"{what}: the protected header must be a bstr, got {cbor.kind(protected)}")
    if not isinstance(unprotected, Mapping):
        raise CoseError(f"{what}: the unprotected header must be a map, got {cbor.kind(unprotected)}")
    if payload is None:
        raise CoseError(f"{what} has a detached payload; a CCA token carries its claims inline")
    if not isinstance(payload, bytes):
        raise CoseError(f"{what}: the payload must be a bstr, got {cbor.kind(payload)}")
    if not isinstance(signature, bytes):
        raise CoseError(f"{what}: the signature must be a bstr, got {cbor.kind(signature)}")
    if protected:
        try:
            headers = cbor.loads(protected, what=f"the protected header of {what}")
        except cbor.CBORSyntaxError as e:
            raise CoseError(str(e)) from None
        if not isinstance(headers, Mapping):
            raise CoseError(f"{what}: the protected header must hold a map, got {cbor.kind(headers)}")
    else:
        headers = {}
    both = set(headers) & set(unprotected)
    if both:
        raise CoseError(f"{what}: header label(s) {sorted(both, key=repr)} appear in both the "
                        f"protected and unprotected headers")
    return Sign1(protected, unprotected, payload, signature, headers, tagged)


def verify_signature(message: Sign1, public_key, external_aad: bytes = b"") -> bool:
    """True if ``message``'s signature verifies with ``public_key`` (see :meth:`Sign1.verify`)."""
    a = message.algorithm
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CoseError(f"an {a.name} signature needs an EC public key, got {type(public_key).__name__}")
    if public_key.curve.name != a.curve.name:
        raise CoseError(f"the message says {a.name} (curve {CURVE_NAMES[a.crv]}) but the key is "
                        f"{curve_name(public_key)}")
    try:
        der = raw_to_der(message.signature, a)
    except CoseError:
        return False
    try:
        public_key.verify(der, message.to_be_signed(external_aad), ec.ECDSA(a.hash()))
    except InvalidSignature:
        return False
    return True


def sign1(payload: bytes, private_key, alg=None, *, tagged: bool = True) -> bytes:
    """Sign ``payload`` as a COSE_Sign1 message, the way the RMM and the platform RoT do.

    Parameters
    ----------
    payload : bytes
        The content to sign (for a CCA token: the CBOR claims map).
    private_key : EllipticCurvePrivateKey
        P-256, P-384 or P-521.
    alg : int, str or Algorithm, optional
        Defaults to the algorithm of the key's curve (P-384 -> ES384); must match the curve.
    tagged : bool
        Emit CBOR tag 18 (the CCA token form) or a bare array.

    Returns
    -------
    bytes
        ``18([h'A1 01 <alg>', {}, payload, r || s])``.

    Spec: RFC 9052 sections 4.2 and 4.4 (signing steps); RFC 9053 section 2.1.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"sign1 needs an EC private key, got {type(private_key).__name__}")
    key_alg = algorithm_for_key(private_key)
    a = key_alg if alg is None else algorithm(alg)
    if a is not key_alg:
        raise ValueError(f"{a.name} needs a {CURVE_NAMES[a.crv]} key, got {curve_name(private_key)}")
    protected = cbor.dumps({HEADER_ALG: a.id})
    der = private_key.sign(sig_structure(protected, payload), ec.ECDSA(a.hash()))
    message = Sign1(protected, {}, bytes(payload), der_to_raw(der, a), {HEADER_ALG: a.id}, tagged)
    return message.encode()


# ---------------------------------------------------------------------------------------------
# Keys: COSE_Key (EC2) and raw SEC1 points

def key_from_cose_key(data, *, what: str = "the COSE_Key"):
    """An EC public key from an EC2 COSE_Key (CBOR bytes or a decoded map).

    Raises CoseError unless kty is 2, crv is 1/2/3, x and y are bstrs of the curve's size and
    the point lies on the curve. Other labels (kid, alg, key_ops) are allowed and ignored.

    Spec: RFC 9052 section 7.1; RFC 9053 section 7.1.1 (EC2: crv -1, x -2, y -3).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = cbor.loads(data, what=what)
        except cbor.CBORSyntaxError as e:
            raise CoseError(str(e)) from None
    if not isinstance(data, Mapping):
        raise CoseError(f"{what} must be a map, got {cbor.kind(data)}")
    kty = data.get(KEY_KTY)
    if kty != KTY_EC2 or isinstance(kty, bool):
        raise CoseError(f"{what} has kty {kty!r}; an EC key with x and y is kty 2 (EC2)")
    crv = data.get(KEY_CRV)
    if isinstance(crv, bool) or crv not in _BY_CRV:
        raise CoseError(f"{what} has crv {crv!r}; expected 1 (P-256), 2 (P-384) or 3 (P-521)")
    a = _BY_CRV[crv]
    x, y = data.get(KEY_X), data.get(KEY_Y)
    for label, v in (("x (-2)", x), ("y (-3)", y)):
        if not isinstance(v, bytes):
            raise CoseError(f"{what}: {label} must be a bstr, got {cbor.kind(v)}")
        if len(v) != a.size:
            raise CoseError(f"{what}: {label} of a {CURVE_NAMES[crv]} key is {a.size} bytes, got {len(v)}")
    return key_from_raw_point(b"\x04" + x + y, curve=CURVE_NAMES[crv], what=what)


def cose_key_from_key(public_key) -> bytes:
    """The EC2 COSE_Key ``{1: 2, -1: crv, -2: x, -3: y}`` of a public (or private) key, as CBOR.

    This is the form the RMM puts in the RAK claim when the realm profile is present
    (107 bytes for P-384).
    """
    public_key = _public(public_key)
    a = algorithm_for_key(public_key)
    point = raw_point_from_key(public_key)
    return cbor.dumps({KEY_KTY: KTY_EC2, KEY_CRV: a.crv, KEY_X: point[1:1 + a.size],
                       KEY_Y: point[1 + a.size:]})


_RAW_LENGTHS = {1 + 2 * a.size: a for a in ALGORITHMS.values()}


def key_from_raw_point(data: bytes, curve: str | None = None, *, what: str = "the key"):
    """An EC public key from an uncompressed SEC1 point ``0x04 || X || Y``.

    ``curve`` (``"P-384"``...) defaults to the one the length implies (65 / 97 / 133 bytes).
    Raises CoseError if the point is compressed, the wrong length, or not on the curve.

    Spec: SEC 1 v2 section 2.3.3 (uncompressed point encoding).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise CoseError(f"{what} must be bytes, got {cbor.kind(data)}")
    data = bytes(data)
    if curve is None:
        if len(data) not in _RAW_LENGTHS:
            raise CoseError(f"{what} is {len(data)} bytes; an uncompressed point is 65 (P-256), "
                            f"97 (P-384) or 133 (P-521) bytes")
        a = _RAW_LENGTHS[len(data)]
    else:
        a = {v: _BY_CRV[k] for k, v in CURVE_NAMES.items()}.get(curve)
        if a is None:
            raise CoseError(f"unknown curve {curve!r}")
        if len(data) != 1 + 2 * a.size:
            raise CoseError(f"{what} is {len(data)} bytes; an uncompressed {curve} point is "
                            f"{1 + 2 * a.size} bytes")
    if data[0] != 0x04:
        raise CoseError(f"{what} starts with {data[0]:#04x}; an uncompressed point starts with 0x04")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(a.curve(), data)
    except ValueError:
        raise CoseError(f"{what} is not a point on {CURVE_NAMES[a.crv]}") from None


def raw_point_from_key(public_key) -> bytes:
    """The uncompressed SEC1 point ``0x04 || X || Y`` of a public (or private) key.

    This is the RAK claim's form when the realm profile is absent (97 bytes for P-384).
    """
    from cryptography.hazmat.primitives import serialization

    return _public(public_key).public_bytes(serialization.Encoding.X962,
                                            serialization.PublicFormat.UncompressedPoint)


def _public(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key
    raise TypeError(f"expected an EC key, got {type(key).__name__}")


__all__ = ["Algorithm", "ES256", "ES384", "ES512", "ALGORITHMS", "CURVE_NAMES", "TAG_COSE_SIGN1",
           "CoseError", "Sign1", "algorithm", "algorithm_for_key", "curve_name", "sig_structure",
           "decode_sign1", "verify_signature", "sign1", "raw_to_der", "der_to_raw",
           "key_from_cose_key", "cose_key_from_key", "key_from_raw_point", "raw_point_from_key"]
