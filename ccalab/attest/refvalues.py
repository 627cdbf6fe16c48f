"""Reference values: what a verifier expects a good platform and a good realm to measure.

Signatures only say *who* made a token. Whether what it reports is *good* is decided against
reference values that someone provisioned: the platform owner or manufacturer for the firmware
(implementation ID, configuration, sw-component measurements and signers), the realm owner for
the realm (RIM, REMs, RPV). A verifier looks platform values up by implementation ID and realm
values by RIM.

:class:`ReferenceValues` holds both, reads and writes the ``rv.json`` layout of rust-ccatoken,
and can be provisioned by hand (:meth:`~ReferenceValues.add_platform`,
:meth:`~ReferenceValues.add_realm`) or copied from a token known to be good
(:meth:`~ReferenceValues.from_token`).

Spec: Veraison services ``scheme/arm-cca`` (``GetReferenceValueIDs``: platform by
implementation ID, realm by RIM); draft-ydb-rats-cca-endorsements (``cca.platform-config``,
``cca.software-component``, ``cca.rim``, ``cca.rem0..3``, ``cca.rpv``); rust-ccatoken
``testdata/rv.json`` (the JSON layout).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping

from .claims import NUM_REMS


def _bytes(v, what: str, *, optional: bool = False) -> bytes | None:
    if v is None and optional:
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        try:
            return bytes.fromhex(v)
        except ValueError:
            raise ValueError(f"the {what} {v[:24]!r} is not hex") from None
    raise TypeError(f"the {what} is bytes or hex text, got {type(v).__name__}")


def _hex(b: bytes | None) -> str | None:
    return None if b is None else b.hex().upper()


@dataclasses.dataclass(frozen=True)
class SwComponentRef:
    """The expected measurement of one platform firmware component.

    ``signer_id``, ``component_type`` and ``version`` are checked only when set.
    """

    measurement_value: bytes
    signer_id: bytes | None = None
    component_type: str | None = None
    version: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping) -> "SwComponentRef":
        """From rv.json names (``component-type``) or token names (``measurement-type``)."""
        if isinstance(d, SwComponentRef):
            return d
        return cls(_bytes(d.get("measurement-value"), "measurement value"),
                   _bytes(d.get("signer-id"), "signer ID", optional=True),
                   d.get("component-type", d.get("measurement-type")), d.get("version"))

    def matches(self, component: Mapping) -> bool:
        """Whether a token's sw-component (named as in ``Token.platform``) fits this value."""
        return (component.get("measurement-value") == self.measurement_value
                and (self.signer_id is None or component.get("signer-id") == self.signer_id)
                and (self.component_type is None or component.get("measurement-type") == self.component_type)
                and (self.version is None or component.get("version") == self.version))

    def as_json(self) -> dict:
        out = {}
        if self.component_type is not None:
            out["component-type"] = self.component_type
        out["measurement-value"] = _hex(self.measurement_value)
        if self.signer_id is not None:
            out["signer-id"] = _hex(self.signer_id)
        if self.version is not None:
            out["version"] = self.version
        return out


@dataclasses.dataclass(frozen=True)
class PlatformRef:
    """Reference values of one platform implementation."""

    implementation_id: bytes
    config: bytes | None = None  #: expected claim 2401 (None: not checked)
    sw_components: tuple = ()  #: :class:`SwComponentRef` values every measured component must match

    def as_json(self) -> dict:
        out = {"implementation-id": _hex(self.implementation_id)}
        if self.config is not None:
            out["platform-configuration"] = _hex(self.config)
        out["sw-components"] = [c.as_json() for c in self.sw_components]
        return out


@dataclasses.dataclass(frozen=True)
class RealmRef:
    """Reference values of one realm image, found by its RIM."""

    rim: bytes
    rems: tuple | None = None  #: four expected REMs (an entry of None matches any); None: not checked
    rpv: bytes | None = None  #: expected personalization value (None: not checked)
    rak_hash_algorithm: str | None = None  #: expected claim 44240 (None: not checked)

    def as_json(self) -> dict:
        out = {"initial-measurement": _hex(self.rim)}
        if self.rems is not None:
            out["extensible-measurements"] = [_hex(r) if r is not None else None for r in self.rems]
        if self.rpv is not None:
            out["personalization-value"] = _hex(self.rpv)
        if self.rak_hash_algorithm is not None:
            out["rak-hash-algorithm"] = self.rak_hash_algorithm
        return out


class ReferenceValues:
    """A verifier's reference values for platforms and realms.

    Examples
    --------
    >>> rv = ReferenceValues()
    >>> rv.add_realm(rim=bytes(32), rems=[bytes(32)] * 4)
    ReferenceValues(0 platform(s), 1 realm(s))
    """

    def __init__(self):
        self.platform: list = []
        self.realm: list = []

    def add_platform(self, implementation_id, config=None, sw_components=()) -> "ReferenceValues":
        """Provision the expected firmware of a platform implementation.

        Parameters
        ----------
        implementation_id : bytes or hex str
            Claim 2396 of the platforms these values are for.
        config : bytes or hex str, optional
            The expected claim 2401; None leaves the configuration unappraised.
        sw_components : iterable
            :class:`SwComponentRef` values, or dicts with ``measurement-value`` and optionally
            ``signer-id``, ``component-type`` (or ``measurement-type``) and ``version``.

        Returns
        -------
        ReferenceValues
            ``self``, so calls can be chained.
        """
        self.platform.append(PlatformRef(_bytes(implementation_id, "implementation ID"),
                                         _bytes(config, "configuration", optional=True),
                                         tuple(SwComponentRef.from_dict(c) for c in sw_components)))
        return self

    def add_realm(self, rim, rems=None, rpv=None, rak_hash_algorithm=None) -> "ReferenceValues":
        """Provision the expected measurements of a realm image.

        Parameters
        ----------
        rim : bytes or hex str
            The Realm Initial Measurement the RMM computed while the host built the realm.
        rems : sequence of 4 (bytes, hex str or None), optional
            The expected REM0..REM3; None in a slot accepts any value. Without REMs only the
            boot is appraised (executables 3, "approved boot").
        rpv : bytes or hex str, optional
            The expected Realm Personalization Value.
        rak_hash_algorithm : str, optional
            The expected claim 44240 (e.g. ``"sha-256"``).

        Returns
        -------
        ReferenceValues
            ``self``, so calls can be chained.
        """
        if rems is not None:
            rems = tuple(None if r is None or (isinstance(r, (str, bytes)) and not r)
                         else _bytes(r, f"REM{i}") for i, r in enumerate(rems))
            if len(rems) != NUM_REMS:
                raise ValueError(f"a realm has {NUM_REMS} REMs, got {len(rems)} reference values")
        self.realm.append(RealmRef(_bytes(rim, "RIM"), rems, _bytes(rpv, "RPV", optional=True),
                                   rak_hash_algorithm))
        return self

    def platform_for(self, implementation_id: bytes) -> list:
        """The platform reference values provisioned for an implementation ID."""
        return [p for p in self.platform if p.implementation_id == implementation_id]

    def realm_for(self, rim: bytes) -> list:
        """The realm reference values provisioned for a RIM."""
        return [r for r in self.realm if r.rim == rim]

    @classmethod
    def from_json(cls, source) -> "ReferenceValues":
        """Reference values from the ``rv.json`` layout: parsed data, JSON text or a file path."""
        if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
            with open(source, encoding="utf-8") as f:
                source = f.read()
        if isinstance(source, (bytes, bytearray)):
            source = bytes(source).decode("utf-8")
        if isinstance(source, str):
            source = json.loads(source)
        if not isinstance(source, Mapping):
            raise ValueError(f"reference values are a JSON object with 'platform' and 'realm', "
                             f"got {type(source).__name__}")
        rv = cls()
        for p in source.get("platform", []):
            rv.add_platform(p["implementation-id"], p.get("platform-configuration"), p.get("sw-components", []))
        for r in source.get("realm", []):
            rv.add_realm(r["initial-measurement"], r.get("extensible-measurements"),
                         r.get("personalization-value"), r.get("rak-hash-algorithm"))
        return rv

    @classmethod
    def from_token(cls, evidence) -> "ReferenceValues":
        """Provision exactly what a known-good token shows (its platform and its realm).

        ``evidence`` is token bytes, a :class:`~ccalab.attest.token.Token` or a
        :class:`~ccalab.attest.verify.Verification`. This is how a lab "golden-images" a
        machine: the values are only as good as the token they came from.
        """
        from .token import Token, decode

        token = getattr(evidence, "token", evidence)
        if not isinstance(token, Token):
            token = decode(token)
        p, r = token.platform, token.realm
        rv = cls()
        rv.add_platform(p["cca-platform-implementation-id"], p["cca-platform-config"],
                        [SwComponentRef(c["measurement-value"], c.get("signer-id"), c.get("measurement-type"),
                                        c.get("version")) for c in p["cca-platform-sw-components"]])
        rv.add_realm(r["cca-realm-initial-measurement"], r["cca-realm-extensible-measurements"],
                     r["cca-realm-personalization-value"], r["cca-realm-public-key-hash-algo-id"])
        return rv

    def as_json(self) -> dict:
        return {"platform": [p.as_json() for p in self.platform], "realm": [r.as_json() for r in self.realm]}

    def to_json(self, indent: int | None = 4) -> str:
        """The values in the ``rv.json`` layout (hex in upper case, as there)."""
        return json.dumps(self.as_json(), indent=indent)

    def __len__(self) -> int:
        return len(self.platform) + len(self.realm)

    def __repr__(self) -> str:
        return f"ReferenceValues({len(self.platform)} platform(s), {len(self.realm)} realm(s))"


__all__ = ["ReferenceValues", "PlatformRef", "RealmRef", "SwComponentRef"]
