"""Trust anchors: the CPAK public keys a verifier believes, and how it finds the one for a token.

A verifier trusts a CCA platform token only if a key it already holds verifies the signature.
That key is the platform's CPAK, endorsed by the manufacturer. A real verifier keeps many, keyed
by the platform's implementation ID (claim 2396) and instance ID (claim 256); Veraison calls
such a record an attest-key triple. This module accepts the forms a lab meets:

* a PEM public key (or the PEM private key of a test CPAK), as str or bytes;
* a ``cryptography`` EC key object;
* a JWK dict (``{"kty": "EC", "crv": "P-384", "x": ..., "y": ...}``);
* a trust-anchor store: a list of ``{"pkey": JWK, "implementation-id": hex, "instance-id": hex}``
  (rust-ccatoken's ``ta-*.json`` format), its JSON text, a path to it, or a :class:`TrustAnchorStore`.

A store entry whose key is unusable (say, a point that is not on its curve) is kept, and reported
when a token needs it: that is a verification failure, not a crash.

Spec: Veraison services ``scheme/arm-cca`` ``GetTrustAnchorIDs`` (lookup by implementation ID and
instance ID); RFC 7518 section 6.2 (EC JWK); RFC 7468 (PEM).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Mapping

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import CCALabError
from . import cose

_JWK_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


class TrustAnchorError(CCALabError, ValueError):
    """A trust anchor cannot be read or its key is unusable."""


def _b64url(text: str) -> bytes:
    if not isinstance(text, str):
        raise TrustAnchorError(f"a JWK coordinate is a base64url string, got {type(text).__name__}")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise TrustAnchorError(f"{text[:20]!r}... is not base64url") from None


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_from_jwk(jwk: Mapping):
    """An EC public key from a JWK (private members such as ``d`` are ignored).

    Raises TrustAnchorError if the JWK is not an EC key on P-256/P-384/P-521, a coordinate has
    the wrong length, or the point is not on the curve.

    Spec: RFC 7518 section 6.2.1 (``kty`` EC, ``crv``, ``x``, ``y``: base64url, full length).
    """
    if not isinstance(jwk, Mapping):
        raise TrustAnchorError(f"a JWK is a JSON object, got {type(jwk).__name__}")
    if jwk.get("kty") != "EC":
        raise TrustAnchorError(f"the JWK has kty {jwk.get('kty')!r}; a CPAK is an EC key")
    crv = jwk.get("crv")
    if crv not in _JWK_CURVES:
        raise TrustAnchorError(f"the JWK has crv {crv!r}; expected P-256, P-384 or P-521")
    x, y = _b64url(jwk.get("x", "")), _b64url(jwk.get("y", ""))
    try:
        return cose.key_from_raw_point(b"\x04" + x + y, curve=crv, what=f"the {crv} JWK")
    except cose.CoseError as e:
        raise TrustAnchorError(str(e)) from None


def jwk_from_key(key, *, private: bool = False, kid: str | None = None) -> dict:
    """The JWK of an EC key: the public part, or with ``d`` too if ``private`` and the key has it."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise TypeError(f"expected an EC key, got {type(key).__name__}")
    a = cose.algorithm_for_key(pub)
    point = cose.raw_point_from_key(pub)
    jwk = {"kty": "EC", "crv": cose.CURVE_NAMES[a.crv],
           "x": _b64url_encode(point[1:1 + a.size]), "y": _b64url_encode(point[1 + a.size:])}
    if private:
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("private=True needs a private key")
        jwk["d"] = _b64url_encode(key.private_numbers().private_value.to_bytes(a.size, "big"))
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def private_key_from_jwk(jwk: Mapping):
    """The EC private key of a JWK that carries ``d`` (a test key such as ``ec.p256.jwk``)."""
    pub = key_from_jwk(jwk)
    if "d" not in jwk:
        raise TrustAnchorError("the JWK has no private part (d)")
    d = int.from_bytes(_b64url(jwk["d"]), "big")
    try:
        key = ec.derive_private_key(d, pub.curve)
    except ValueError as e:
        raise TrustAnchorError(f"the JWK's d is not a valid private key: {e}") from None
    if cose.raw_point_from_key(key) != cose.raw_point_from_key(pub):
        raise TrustAnchorError("the JWK's d does not match its x and y")
    return key


def load_public_key(obj):
    """An EC public key from a PEM (str or bytes), a JWK dict or a ``cryptography`` key.

    Raises TrustAnchorError if the object holds no usable key: not EC, or on a curve other than
    P-256, P-384 and P-521 (the curves of ES256, ES384 and ES512).
    """
    if isinstance(obj, ec.EllipticCurvePrivateKey):
        obj = obj.public_key()
    if isinstance(obj, ec.EllipticCurvePublicKey):
        return _on_cose_curve(obj)
    if isinstance(obj, Mapping):
        return key_from_jwk(obj)
    if isinstance(obj, str):
        obj = obj.encode()
    if isinstance(obj, (bytes, bytearray)):
        data = bytes(obj)
        private = b"PRIVATE KEY-----" in data
        try:
            if private:
                key = serialization.load_pem_private_key(data, password=None).public_key()
            else:
                key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise TrustAnchorError(f"cannot read the PEM {'private' if private else 'public'} key: {e}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise TrustAnchorError(f"the PEM holds a {type(key).__name__}; a CPAK is an EC key")
        return _on_cose_curve(key)
    raise TrustAnchorError(f"cannot make a public key from a {type(obj).__name__}")


def _on_cose_curve(key):
    try:
        cose.algorithm_for_key(key)
    except cose.CoseError:
        raise TrustAnchorError(f"the key is on {key.curve.name}; a CPAK is on P-256, P-384 or P-521") from None
    return key


def _hex_id(v, what) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        try:
            return bytes.fromhex(v)
        except ValueError:
            raise TrustAnchorError(f"the {what} {v[:20]!r} is not hex") from None
    raise TrustAnchorError(f"the {what} is hex text or bytes, got {type(v).__name__}")


@dataclasses.dataclass(frozen=True)
class TrustAnchor:
    """One endorsed CPAK and the platform identities it belongs to."""

    pkey: object  #: the key as given: a JWK dict, PEM text or a key object
    implementation_id: bytes | None = None  #: claim 2396 of the platforms it signs for (None: any)
    instance_id: bytes | None = None  #: claim 256 of the platform it signs for (None: any)

    def public_key(self):
        """The EC public key; TrustAnchorError if the stored key is unusable."""
        return load_public_key(self.pkey)

    def matches(self, implementation_id: bytes, instance_id: bytes) -> bool:
        """Whether this anchor is the one for a platform with these identities."""
        return ((self.implementation_id is None or self.implementation_id == implementation_id)
                and (self.instance_id is None or self.instance_id == instance_id))

    def as_json(self) -> dict:
        """The rust-ccatoken store entry of this anchor."""
        pkey = self.pkey if isinstance(self.pkey, Mapping) else jwk_from_key(self.public_key())
        out = {"pkey": dict(pkey)}
        if self.implementation_id is not None:
            out["implementation-id"] = self.implementation_id.hex()
        if self.instance_id is not None:
            out["instance-id"] = self.instance_id.hex()
        return out


class TrustAnchorStore:
    """Endorsed CPAKs, looked up by a token's implementation ID and instance ID.

    Build one with :meth:`from_json` (the ``ta-*.json`` files) or :meth:`add`.
    """

    def __init__(self, anchors=()):
        self.anchors = list(anchors)

    def add(self, pkey, implementation_id=None, instance_id=None) -> "TrustAnchorStore":
        """Endorse a CPAK (PEM, JWK or key) for the platform with these IDs (bytes or hex)."""
        self.anchors.append(TrustAnchor(pkey, _hex_id(implementation_id, "implementation ID"),
                                        _hex_id(instance_id, "instance ID")))
        return self

    @classmethod
    def from_json(cls, source) -> "TrustAnchorStore":
        """A store from parsed JSON (a list, or one entry), JSON text, or a path to a JSON file."""
        is_path = isinstance(source, str) and not source.lstrip().startswith(("[", "{"))
        if isinstance(source, os.PathLike) or is_path:
            with open(source, encoding="utf-8") as f:
                source = f.read()
        if isinstance(source, (bytes, bytearray)):
            source = bytes(source).decode("utf-8")
        if isinstance(source, str):
            try:
                source = json.loads(source)
            except ValueError as e:
                raise TrustAnchorError(f"the trust-anchor store is not JSON: {e}") from None
        if isinstance(source, Mapping):
            source = [source]
        if not isinstance(source, list):
            raise TrustAnchorError(f"a trust-anchor store is a JSON array, got {type(source).__name__}")
        store = cls()
        for i, entry in enumerate(source):
            if not isinstance(entry, Mapping) or "pkey" not in entry:
                raise TrustAnchorError(f"trust-anchor store entry {i} has no 'pkey'")
            store.add(entry["pkey"], entry.get("implementation-id"), entry.get("instance-id"))
        return store

    def to_json(self) -> str:
        """The store in the ``ta-*.json`` format."""
        return json.dumps([a.as_json() for a in self.anchors], indent=2)

    def lookup(self, implementation_id: bytes, instance_id: bytes) -> TrustAnchor | None:
        """The first anchor endorsed for these identities, or None."""
        for a in self.anchors:
            if a.matches(implementation_id, instance_id):
                return a
        return None

    def __len__(self) -> int:
        return len(self.anchors)

    def __iter__(self):
        return iter(self.anchors)

    def __repr__(self) -> str:
        return f"TrustAnchorStore({len(self.anchors)} CPAK(s))"


def as_trust_anchor(obj):
    """Sort what a caller passed as ``trust_anchor`` into a store or a single public key.

    Returns
    -------
    TrustAnchorStore or EllipticCurvePublicKey or TrustAnchor
        A store for store-like input (list, store JSON, path to a ``.json``), a
        :class:`TrustAnchor` (unmatched, key not yet loaded) for a JWK or PEM, and a key object
        as it is.

    Raises
    ------
    TrustAnchorError
        If the object is none of the accepted forms.
    """
    if isinstance(obj, (TrustAnchorStore, TrustAnchor)):
        return obj
    if isinstance(obj, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return load_public_key(obj)
    if isinstance(obj, os.PathLike):
        with open(obj, "rb") as f:
            obj = f.read()
    if isinstance(obj, (bytes, bytearray)):
        obj = bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, str):
        text = obj.strip()
        if text.startswith("-----BEGIN"):
            return TrustAnchor(text)
        if text.startswith(("[", "{")):
            try:
                obj = json.loads(text)
            except ValueError as e:
                raise TrustAnchorError(f"the trust anchor is not valid JSON: {e}") from None
        elif os.path.exists(text):
            return as_trust_anchor(_read(text))
        else:
            raise TrustAnchorError("a trust anchor given as text must be PEM, JSON or a file path")
    if isinstance(obj, list):
        return TrustAnchorStore.from_json(obj)
    if isinstance(obj, Mapping):
        if "pkey" in obj:
            return TrustAnchorStore.from_json([obj])
        return TrustAnchor(dict(obj))
    raise TrustAnchorError(f"cannot use a {type(obj).__name__} as a trust anchor "
                           f"(give a PEM, a JWK, a key object or a trust-anchor store)")


def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


__all__ = ["TrustAnchor", "TrustAnchorStore", "TrustAnchorError", "as_trust_anchor",
           "load_public_key", "key_from_jwk", "jwk_from_key", "private_key_from_jwk"]
