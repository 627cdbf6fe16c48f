"""The claims of a CCA token: their CBOR keys, names, types and sizes, and the checks a verifier makes.

A CCA attestation token carries two claim sets. The **platform** claims are signed by the CCA
Platform Attestation Key (CPAK) of the hardware root of trust and describe the firmware below the
realms. The **realm** claims are signed by the Realm Attestation Key (RAK), which the RMM holds,
and describe one realm. Every claim has an integer CBOR key; the names are the JSON keys Veraison
uses, so they match what a verifier's annotated evidence shows.

``PLATFORM_CLAIMS``, ``REALM_CLAIMS`` and ``SW_COMPONENT_KEYS`` are the tables;
:func:`check_claims` applies their rules and returns the claims by name; :func:`encode_claims` goes
the other way for token producers.

Spec: Arm CCA RMM DEN0137, chapter A7 (Realm attestation: the token and its claims);
draft-ffm-rats-cca-token (CDDL ``cca-platform-claims``, ``cca-realm-claims``); Veraison
ccatoken ``platform/claims.go`` and ``realm/claims.go`` (names, size rules); psatoken
``swcomponent.go`` (sw-component keys); TF-RMM ``attestation_token.c`` (what the RMM emits).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

from ..errors import CCALabError
from . import cbor
from .lifecycle import lifecycle_state

#: Platform profiles (claim 265) this verifier knows: the current one and the RMM 1.0 one.
PLATFORM_PROFILE = "tag:arm.com,2023:cca_platform#1.0.0"
PLATFORM_PROFILE_LEGACY = "http://arm.com/CCA-SSD/1.0.0"
PLATFORM_PROFILES = (PLATFORM_PROFILE, PLATFORM_PROFILE_LEGACY)
#: Realm profiles (claim 265 of the realm token; optional in 1.x). Present means the RAK claim is a
#: COSE_Key; absent means a raw P-384 point.
REALM_PROFILE = "tag:arm.com,2023:realm#1.0.0"
REALM_PROFILE_2 = "tag:arm.com,2024:realm#2.0.0"
REALM_PROFILES = (REALM_PROFILE, REALM_PROFILE_2)

#: Hash algorithm names (IANA "Named Information" registry) the realm claims may name, with the
#: function that computes each. The RIM, REMs and the RAK binding use these.
HASH_ALGORITHMS = {"sha-256": hashlib.sha256, "sha-384": hashlib.sha384, "sha-512": hashlib.sha512}
#: Names the platform hash-algorithm claims may use (the platform side only records them).
PLATFORM_HASH_NAMES = ("sha-256", "sha-384", "sha-512", "sha3-256", "sha3-384", "sha3-512")

#: UEID type byte of a random instance ID (EAT ``ueid``, type RAND).
UEID_TYPE_RAND = 0x01
#: The number of Realm Extensible Measurements (REM0..REM3).
NUM_REMS = 4

_DIGEST_SIZES = (32, 48, 64)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim: CBOR key, name, CBOR type, allowed sizes and a one-line meaning."""

    key: int  #: the CBOR map key (label)
    name: str  #: the JSON name Veraison uses
    type: str  #: CBOR type: ``bstr``, ``tstr``, ``uint``, ``int`` or ``array``
    sizes: tuple = ()  #: allowed byte lengths of a bstr (empty: any)
    required: bool = True  #: mandatory in the profile
    meaning: str = ""  #: what it tells a verifier, for learners

    @property
    def short_name(self) -> str:
        """The name without its ``cca-platform-`` / ``cca-realm-`` prefix."""
        for prefix in ("cca-platform-", "cca-realm-"):
            if self.name.startswith(prefix):
                return self.name[len(prefix):]
        return self.name

    @property
    def size_text(self) -> str:
        """``32/48/64 B``, ``64 B`` or an empty string."""
        return "/".join(str(s) for s in self.sizes) + " B" if self.sizes else ""


PLATFORM_CLAIMS = (
    Claim(265, "cca-platform-profile", "tstr", (), True,
          "which rule book the token follows; it selects the parser"),
    Claim(10, "cca-platform-challenge", "bstr", _DIGEST_SIZES, True,
          "the hash of the realm attestation key (RAK): it ties the realm token to this platform"),
    Claim(2396, "cca-platform-implementation-id", "bstr", (32,), True,
          "which platform implementation (design) this is; the key for reference values"),
    Claim(256, "cca-platform-instance-id", "bstr", (33,), True,
          "which chip: 0x01 then 32 random bytes; it names the CPAK that signs the token"),
    Claim(2401, "cca-platform-config", "bstr", (), True,
          "implementation options of the platform (any length)"),
    Claim(2395, "cca-platform-lifecycle", "uint", (), True,
          "life stage (manufacturing, secured, debug, decommissioned) in bits 15:8"),
    Claim(2399, "cca-platform-sw-components", "array", (), True,
          "the measured firmware of the platform, one map per component"),
    Claim(2400, "cca-platform-service-indicator", "tstr", (), False,
          "a hint naming a verification service (never to be followed blindly)"),
    Claim(2402, "cca-platform-hash-algo-id", "tstr", (), True,
          "the hash algorithm of the platform measurements"),
)

REALM_CLAIMS = (
    Claim(10, "cca-realm-challenge", "bstr", (64,), True,
          "the 64 bytes the realm passed to RSI_ATTESTATION_TOKEN_INIT: the freshness nonce"),
    Claim(265, "cca-realm-profile", "tstr", (), False,
          "which rule book the realm token follows; present means the RAK is a COSE_Key"),
    Claim(44235, "cca-realm-personalization-value", "bstr", (64,), True,
          "the RPV: 64 bytes the host chose when it created the realm"),
    Claim(44236, "cca-realm-hash-algo-id", "tstr", (), True,
          "the hash algorithm of the RIM and the REMs"),
    Claim(44237, "cca-realm-public-key", "bstr", (), True,
          "the RAK: the key that signs this realm token (raw P-384 point or COSE_Key)"),
    Claim(44238, "cca-realm-initial-measurement", "bstr", _DIGEST_SIZES, True,
          "the RIM: the RMM's measurement of the realm as the host built it"),
    Claim(44239, "cca-realm-extensible-measurements", "array", (), True,
          "the four REMs the realm extended at run time with RSI_MEASUREMENT_EXTEND"),
    Claim(44240, "cca-realm-public-key-hash-algo-id", "tstr", (), True,
          "the hash algorithm used to bind the RAK to the platform challenge"),
    Claim(256, "cca-realm-instance-id", "bstr", (33,), False,
          "which realm instance (RMM 2.0 profile)"),
    Claim(44243, "cca-realm-mec-policy", "int", (), False,
          "memory-encryption context policy: 1 private MECID, 0 shared (RMM 2.0 profile)"),
)

SW_COMPONENT_KEYS = (
    Claim(1, "measurement-type", "tstr", (), False,
          "a short name of the component, e.g. BL, M1, RSE_BL1_2"),
    Claim(2, "measurement-value", "bstr", _DIGEST_SIZES, True,
          "the hash of the component as loaded"),
    Claim(4, "version", "tstr", (), False,
          "the component's version string"),
    Claim(5, "signer-id", "bstr", _DIGEST_SIZES, True,
          "the hash of the key that signed the component"),
    Claim(6, "measurement-description", "tstr", (), False,
          "the hash algorithm of the measurement"),
)

#: Tables by token part.
TABLES = {"platform": PLATFORM_CLAIMS, "realm": REALM_CLAIMS}


def claim(which: str, key_or_name) -> Claim:
    """The :class:`Claim` of a part (``platform``/``realm``) by CBOR key or by name (long or short)."""
    for c in TABLES[which]:
        if key_or_name in (c.key, c.name, c.short_name) and not isinstance(key_or_name, bool):
            return c
    raise KeyError(f"no {which} claim {key_or_name!r}")


class ClaimError(CCALabError, ValueError):
    """A claim set breaks a rule of its profile (missing claim, wrong type, wrong size, ...)."""


def check_claims(claims, which: str) -> dict:
    """Check a decoded claims map against its profile and return the claims by name.

    Parameters
    ----------
    claims : Mapping
        The decoded payload of the platform or realm COSE_Sign1 (integer keys).
    which : {"platform", "realm"}
        Which table of rules applies.

    Returns
    -------
    dict
        Claim name -> value, in table order. sw-components become a list of dicts keyed by
        sub-claim name; the REMs a list of bytes. Claims the table does not know keep their
        integer key, at the end.

    Raises
    ------
    ClaimError
        The first broken rule, e.g. ``realm claim 10 (cca-realm-challenge) must be a 64-byte
        bstr, got 32 bytes``.

    Spec: draft-ffm-rats-cca-token, CDDL of ``cca-platform-claims`` / ``cca-realm-claims``; the
    size rules of Veraison ccatoken (``ValidateChallenge``, ``ValidateImplID``, ``ValidateInstID``,
    ``isValidRealmMeas``) and TF-RMM ``attestation_token.c``.
    """
    table = TABLES[which]
    if not isinstance(claims, Mapping):
        raise ClaimError(f"the {which} claims must be a CBOR map, got {_kind(claims)}")
    for k in claims:
        if isinstance(k, bool) or not isinstance(k, int):
            raise ClaimError(f"{which} claim keys are integers, found the key {k!r}")
    for c in table:
        if c.required and c.key not in claims:
            raise ClaimError(f"the {which} token lacks its mandatory claim {c.key} ({c.name})")
    named = {}
    for c in table:
        if c.key in claims:
            named[c.name] = _check_value(c, claims[c.key], f"{which} claim {c.key} ({c.name})")
    known = {c.key for c in table}
    for k, v in claims.items():
        if k not in known:
            named[k] = v
    (_check_platform if which == "platform" else _check_realm)(named)
    return named


def _check_value(c: Claim, v, where: str):
    if c.type == "bstr":
        _bstr(v, c.sizes, where)
        return v
    if c.type == "tstr":
        if not isinstance(v, str):
            raise ClaimError(f"{where} must be a tstr, got {_kind(v)}")
        return v
    if c.type in ("uint", "int"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ClaimError(f"{where} must be an integer, got {_kind(v)}")
        if c.type == "uint" and v < 0:
            raise ClaimError(f"{where} must not be negative, got {v}")
        return v
    if c.key == 2399:
        return _sw_components(v, where)
    if c.key == 44239:
        return _rems(v, where)
    raise AssertionError(f"no rule for {c}")  # pragma: no cover - the tables cover every type


def _bstr(v, sizes, where):
    if not isinstance(v, bytes):
        if isinstance(v, (list, tuple)) and "challenge" in where:
            raise ClaimError(f"{where} must be a single bstr, not an array of nonces")
        raise ClaimError(f"{where} must be a bstr, got {_kind(v)}")
    if sizes and len(v) not in sizes:
        want = str(sizes[0]) if len(sizes) == 1 else ", ".join(str(s) for s in sizes[:-1]) + f" or {sizes[-1]}"
        raise ClaimError(f"{where} must be a bstr of {want} bytes, got {len(v)} bytes")


def _sw_components(v, where):
    if not isinstance(v, (list, tuple)):
        raise ClaimError(f"{where} must be an array of maps, got {_kind(v)}")
    if not v:
        raise ClaimError(f"{where} must list at least one component")
    out = []
    for i, comp in enumerate(v):
        at = f"{where}[{i}]"
        if not isinstance(comp, Mapping):
            raise ClaimError(f"{at} must be a map, got {_kind(comp)}")
        for k in comp:
            if isinstance(k, bool) or not isinstance(k, int):
                raise ClaimError(f"{at} has the non-integer key {k!r}")
        for c in SW_COMPONENT_KEYS:
            if c.required and c.key not in comp:
                raise ClaimError(f"{at} lacks its mandatory key {c.key} ({c.name})")
        named = {}
        for c in SW_COMPONENT_KEYS:
            if c.key in comp:
                named[c.name] = _check_value(c, comp[c.key], f"{at} key {c.key} ({c.name})")
        known = {c.key for c in SW_COMPONENT_KEYS}
        named.update((k, x) for k, x in comp.items() if k not in known)
        out.append(named)
    return out


def _rems(v, where):
    if not isinstance(v, (list, tuple)):
        raise ClaimError(f"{where} must be an array of bstr, got {_kind(v)}")
    if len(v) != NUM_REMS:
        raise ClaimError(f"{where} must hold {NUM_REMS} measurements (REM0..REM3), got {len(v)}")
    for i, m in enumerate(v):
        _bstr(m, _DIGEST_SIZES, f"{where}[{i}]")
    return list(v)


def _check_platform(named: dict) -> None:
    profile = named["cca-platform-profile"]
    if profile not in PLATFORM_PROFILES:
        raise ClaimError(f"platform claim 265 (cca-platform-profile) names the unknown profile "
                         f"{profile!r}; known: {', '.join(PLATFORM_PROFILES)}")
    inst = named["cca-platform-instance-id"]
    if inst[0] != UEID_TYPE_RAND:
        raise ClaimError(f"platform claim 256 (cca-platform-instance-id) must start with the UEID "
                         f"type byte 0x01 (RAND), got {inst[0]:#04x}")
    life = named["cca-platform-lifecycle"]
    if lifecycle_state(life) is None:
        raise ClaimError(f"platform claim 2395 (cca-platform-lifecycle) {life:#x} lies in no "
                         f"lifecycle state's range (0xN000-0xN0FF, N = 0..6)")
    if "cca-platform-service-indicator" in named and not named["cca-platform-service-indicator"]:
        raise ClaimError("platform claim 2400 (cca-platform-service-indicator) must not be empty")
    alg = named["cca-platform-hash-algo-id"]
    if alg not in PLATFORM_HASH_NAMES:
        raise ClaimError(f"platform claim 2402 (cca-platform-hash-algo-id) names the unknown hash "
                         f"{alg!r}; known: {', '.join(PLATFORM_HASH_NAMES)}")
    for i, comp in enumerate(named["cca-platform-sw-components"]):
        desc = comp.get("measurement-description")
        if desc is not None and desc not in PLATFORM_HASH_NAMES:
            raise ClaimError(f"platform sw-component {i} names the unknown hash {desc!r}")


def _check_realm(named: dict) -> None:
    profile = named.get("cca-realm-profile")
    if profile is not None and profile not in REALM_PROFILES:
        raise ClaimError(f"realm claim 265 (cca-realm-profile) names the unknown profile "
                         f"{profile!r}; known: {', '.join(REALM_PROFILES)}")
    if profile == REALM_PROFILE_2 and "cca-realm-instance-id" not in named:
        raise ClaimError(f"the {REALM_PROFILE_2} profile requires realm claim 256 (cca-realm-instance-id)")
    for key, name in ((44236, "cca-realm-hash-algo-id"), (44240, "cca-realm-public-key-hash-algo-id")):
        if named[name] not in HASH_ALGORITHMS:
            raise ClaimError(f"realm claim {key} ({name}) names the unknown hash {named[name]!r}; "
                             f"known: {', '.join(HASH_ALGORITHMS)}")


def rak_is_cose_key(realm: Mapping) -> bool:
    """Whether the RAK claim of these (named) realm claims is a COSE_Key rather than a raw point.

    Spec: draft-ffm-rats-cca-token, "Realm public key": a realm profile claim means the RAK is
    a COSE_Key; without one (RMM 1.0 tokens) it is a raw uncompressed point.
    """
    return realm.get("cca-realm-profile") is not None


def encode_claims(claims: Mapping, which: str) -> bytes:
    """Encode claims (by name, short name or CBOR key) as the CBOR map a token's payload holds.

    Nothing is checked, so labs can build broken tokens too; sw-components may be given with
    sub-claim names. The output is preferred-serialization CBOR, ready for :func:`cose.sign1`.

    Spec: draft-ffm-rats-cca-token CDDL (the labels).
    """
    out = {}
    for k, v in claims.items():
        key = k if isinstance(k, int) else claim(which, k).key
        if which == "platform" and key == 2399 and isinstance(v, (list, tuple)):
            v = [_encode_component(comp) for comp in v]
        out[key] = v
    return cbor.dumps(out)


def _encode_component(comp):
    if not isinstance(comp, Mapping):
        return comp
    names = {c.name: c.key for c in SW_COMPONENT_KEYS}
    return {names.get(k, k): v for k, v in comp.items()}


def table_text(which: str) -> str:
    """The claim table of a part as aligned text (key, name, type and size, meaning)."""
    rows = [(str(c.key), c.name + ("" if c.required else " (optional)"),
             f"{c.type} {c.size_text}".strip(), c.meaning) for c in TABLES[which]]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:>{w[0]}}  {b:<{w[1]}}  {t:<{w[2]}}  {m}" for a, b, t, m in rows)


def _kind(x) -> str:
    if isinstance(x, bytes):
        return f"a {len(x)}-byte bstr"
    if isinstance(x, str):
        return f"the tstr {x[:40]!r}"
    if isinstance(x, bool):
        return f"the bool {x}"
    if isinstance(x, int):
        return f"the integer {x}"
    if x is None:
        return "null"
    if isinstance(x, (list, tuple)):
        return f"an array of {len(x)}"
    if isinstance(x, Mapping):
        return "a map"
    if isinstance(x, cbor.Tag):
        return f"tag {x.tag}"
    return f"a {type(x).__name__}"


__all__ = ["Claim", "ClaimError", "PLATFORM_CLAIMS", "REALM_CLAIMS", "SW_COMPONENT_KEYS", "TABLES",
           "PLATFORM_PROFILE", "PLATFORM_PROFILE_LEGACY", "PLATFORM_PROFILES", "REALM_PROFILE",
           "REALM_PROFILE_2", "REALM_PROFILES", "HASH_ALGORITHMS", "PLATFORM_HASH_NAMES",
           "UEID_TYPE_RAND", "NUM_REMS", "claim", "check_claims", "rak_is_cose_key",
           "encode_claims", "table_text"]
