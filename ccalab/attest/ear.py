"""EAR and AR4SI: how a verifier writes down what it concluded about an attester.

A verifier's answer is an **attestation result**. EAR (the EAT Attestation Result) carries, for
each appraised part ("submodule") of the attester, a **trustworthiness vector** of eight AR4SI
claims and a **status** tier. Each claim is a small signed integer whose range gives its tier:

===================  =======================  ================================================
tier                 values                   for example
===================  =======================  ================================================
``none``             -1 .. 1                  0 no claim, 1 unexpected evidence, -1 verifier
                                              malfunction
``affirming``        2 .. 31, -32 .. -2       2 trustworthy instance, 3 approved boot
``warning``          32 .. 95, -96 .. -33     32 unsafe configuration, 33 unrecognized runtime
``contraindicated``  96 .. 127, -128 .. -97   96 untrustworthy, 97 unrecognized, 99
                                              cryptographic validation failed
===================  =======================  ================================================

The status of a submodule is the worst tier among its claims. A relying party should accept
only ``affirming``; ``warning`` is not a pass.

Spec: draft-ietf-rats-ar4si, section 2.3 (the trustworthiness claims and their values);
draft-fv-rats-ear (EAR: ``ear.status``, ``ear.trustworthiness-vector``, ``submods``); Veraison
ear ``trustclaim.go``, ``trusttier.go``, ``ear_appraisal.go`` (``UpdateStatusFromTrustVector``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time

#: ``eat_profile`` of an EAR.
EAR_PROFILE = "tag:github.com,2023:veraison/ear"
#: The eight AR4SI claims of a trustworthiness vector, in EAR's order.
TRUST_VECTOR_CLAIMS = ("instance-identity", "configuration", "executables", "file-system", "hardware",
                       "runtime-opaque", "storage-opaque", "sourced-data")

# The values every claim may take.
VERIFIER_MALFUNCTION = -1
NO_CLAIM = 0
UNEXPECTED_EVIDENCE = 1
CRYPTO_VALIDATION_FAILED = 99
# Per-claim values (AR4SI section 2.3), named as EAR names them.
TRUSTWORTHY_INSTANCE = 2
UNTRUSTWORTHY_INSTANCE = 96
UNRECOGNIZED_INSTANCE = 97
APPROVED_CONFIG = 2
NO_CONFIG_VULNS = 3
UNSAFE_CONFIG = 32
UNSUPPORTABLE_CONFIG = 96
APPROVED_RUNTIME = 2
APPROVED_BOOT = 3
UNSAFE_RUNTIME = 32
UNRECOGNIZED_RUNTIME = 33
CONTRAINDICATED_RUNTIME = 96
GENUINE_HARDWARE = 2
UNSAFE_HARDWARE = 32
CONTRAINDICATED_HARDWARE = 96
UNRECOGNIZED_HARDWARE = 97
ENCRYPTED_MEMORY = 2
ISOLATED_MEMORY = 32
VISIBLE_MEMORY = 96
HW_KEYS_ENCRYPTED_SECRETS = 2
SW_KEYS_ENCRYPTED_SECRETS = 32
UNENCRYPTED_SECRETS = 96

_GENERAL = {
    VERIFIER_MALFUNCTION: ("verifier_malfunction", "verifier malfunction"),
    NO_CLAIM: ("no_claim", "no claim being made"),
    UNEXPECTED_EVIDENCE: ("unexpected_evidence", "unexpected evidence"),
    CRYPTO_VALIDATION_FAILED: ("crypto_failed", "cryptographic validation failed"),
}

#: For each claim, value -> (tag, short meaning), as AR4SI and EAR define them.
CLAIM_VALUES = {
    "instance-identity": {
        2: ("recognized_instance", "recognized and not compromised"),
        96: ("untrustworthy_instance", "recognized but not trustworthy"),
        97: ("unrecognized_instance", "not recognized"),
    },
    "configuration": {
        2: ("approved_config", "all recognized and approved"),
        3: ("safe_config", "no known vulnerabilities"),
        32: ("unsafe_config", "known vulnerabilities"),
        96: ("unsupportable_config", "unacceptable security vulnerabilities"),
    },
    "executables": {
        2: ("approved_rt", "recognized and approved boot- and run-time"),
        3: ("approved_boot", "recognized and approved boot-time"),
        32: ("unsafe_rt", "recognized but known bugs or vulnerabilities"),
        33: ("unrecognized_rt", "unrecognized run-time"),
        96: ("contraindicated_rt", "contraindicated run-time"),
    },
    "file-system": {
        2: ("approved_fs", "all recognized and approved"),
        32: ("unrecognized_fs", "unrecognized item(s) found"),
        96: ("contraindicated_fs", "contraindicated item(s) found"),
    },
    "hardware": {
        2: ("genuine_hw", "genuine"),
        32: ("unsafe_hw", "genuine but known bugs or vulnerabilities"),
        96: ("contraindicated_hw", "genuine but contraindicated"),
        97: ("unrecognized_hw", "unrecognized"),
    },
    "runtime-opaque": {
        2: ("encrypted_rt", "memory encryption"),
        32: ("isolated_rt", "memory isolation"),
        96: ("visible_rt", "visible"),
    },
    "storage-opaque": {
        2: ("hw_encrypted_secrets", "encrypted secrets with HW-backed keys"),
        32: ("sw_encrypted_secrets", "encrypted secrets with non HW-backed keys"),
        96: ("unencrypted_secrets", "unencrypted secrets"),
    },
    "sourced-data": {
        2: ("trusted_sources", "from attesters in the affirming tier"),
        32: ("untrusted_sources", "from unattested sources or attesters in the warning tier"),
        96: ("contraindicated_sources", "from attesters in the contraindicated tier"),
    },
}


class TrustTier(enum.IntEnum):
    """The AR4SI tier of a claim, and EAR's ``ear.status``; a larger value is a worse tier."""

    NONE = 0
    AFFIRMING = 2
    WARNING = 32
    CONTRAINDICATED = 96

    @property
    def spec_name(self) -> str:
        """``none``, ``affirming``, ``warning`` or ``contraindicated``."""
        return self.name.lower()


def tier(value: int) -> TrustTier:
    """The tier of an AR4SI claim value.

    Spec: draft-ietf-rats-ar4si section 2.3.1: none -1..1; affirming 2..31 and -32..-2; warning
    32..95 and -96..-33; contraindicated 96..127 and -128..-97.
    """
    v = _check_value(value)
    if -1 <= v <= 1:
        return TrustTier.NONE
    if 2 <= v <= 31 or -32 <= v <= -2:
        return TrustTier.AFFIRMING
    if 32 <= v <= 95 or -96 <= v <= -33:
        return TrustTier.WARNING
    return TrustTier.CONTRAINDICATED


def describe(claim: str, value: int) -> str:
    """``2 (recognized_instance: recognized and not compromised)`` for a claim and value."""
    _check_claim(claim)
    v = _check_value(value)
    tag, short = CLAIM_VALUES[claim].get(v) or _GENERAL.get(v) or ("unassigned", f"{tier(v).spec_name} tier")
    return f"{v} ({tag}: {short})"


def _check_claim(claim: str) -> None:
    if claim not in TRUST_VECTOR_CLAIMS:
        raise KeyError(f"no AR4SI claim {claim!r}; the claims are {', '.join(TRUST_VECTOR_CLAIMS)}")


def _check_value(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an AR4SI claim value is an int, got {type(value).__name__}")
    if not -128 <= value <= 127:
        raise ValueError(f"an AR4SI claim value is an int8 (-128..127), got {value}")
    return int(value)


class TrustVector:
    """The eight AR4SI claims of one submodule; unset claims are 0 (no claim)."""

    def __init__(self, **claims):
        self._values = dict.fromkeys(TRUST_VECTOR_CLAIMS, NO_CLAIM)
        for k, v in claims.items():
            self[k.replace("_", "-")] = v

    def __getitem__(self, claim: str) -> int:
        _check_claim(claim)
        return self._values[claim]

    def __setitem__(self, claim: str, value: int) -> None:
        _check_claim(claim)
        self._values[claim] = _check_value(value)

    def set_all(self, value: int) -> "TrustVector":
        """Set every claim to ``value`` (a verifier does this when evidence fails its checks)."""
        v = _check_value(value)
        for k in self._values:
            self._values[k] = v
        return self

    def items(self):
        return self._values.items()

    def __iter__(self):
        return iter(self._values)

    def __eq__(self, other) -> bool:
        if isinstance(other, TrustVector):
            return self._values == other._values
        if isinstance(other, dict):
            return self.as_dict() == {k: v for k, v in other.items() if v != NO_CLAIM}
        return NotImplemented

    @property
    def status(self) -> TrustTier:
        """The worst tier among the claims (``none`` if no claim is made).

        Spec: Veraison ear ``UpdateStatusFromTrustVector``.
        """
        return max((tier(v) for v in self._values.values()), default=TrustTier.NONE)

    def as_dict(self) -> dict:
        """Claim name -> value for every claim that is made (EAR leaves out 0)."""
        return {k: v for k, v in self._values.items() if v != NO_CLAIM}

    def __repr__(self) -> str:
        return f"TrustVector({', '.join(f'{k}={v}' for k, v in self.as_dict().items())})"


@dataclasses.dataclass
class Appraisal:
    """One submodule of an attestation result: its trust vector, status and the reasons."""

    trust_vector: TrustVector = dataclasses.field(default_factory=TrustVector)
    reasons: list = dataclasses.field(default_factory=list)  #: sentences explaining the claims
    policy_id: str = "policy:ARM_CCA"  #: ``ear.appraisal-policy-id``
    annotated_evidence: dict = dataclasses.field(default_factory=dict)  #: the claims appraised

    @property
    def status(self) -> TrustTier:
        """``ear.status``: the worst tier of the trust vector."""
        return self.trust_vector.status

    def as_dict(self) -> dict:
        """The EAR appraisal as JSON-ready data."""
        out = {"ear.status": self.status.spec_name,
               "ear.trustworthiness-vector": self.trust_vector.as_dict(),
               "ear.appraisal-policy-id": self.policy_id}
        if self.annotated_evidence:
            out["ear.veraison.annotated-evidence"] = _jsonable(self.annotated_evidence)
        return out


@dataclasses.dataclass
class AttestationResult:
    """An EAR-shaped attestation result: one :class:`Appraisal` per submodule.

    Unlike a real EAR it is not signed; :meth:`as_dict` gives the claims a verifier would sign.
    """

    submods: dict  #: submodule name -> :class:`Appraisal`
    nonce: bytes | None = None  #: ``eat_nonce``: the nonce the verification checked
    verification: object = None  #: the :class:`~ccalab.attest.verify.Verification` behind it
    iat: int = dataclasses.field(default_factory=lambda: int(time.time()))  #: issued-at time
    verifier_id: dict = dataclasses.field(default_factory=lambda: {"build": "ccalab", "developer": "ccalab"})

    @property
    def status(self) -> TrustTier:
        """The worst status among the submodules."""
        return max((a.status for a in self.submods.values()), default=TrustTier.NONE)

    @property
    def affirming(self) -> bool:
        """True when every submodule is ``affirming``: what a relying party should require."""
        return bool(self.submods) and all(a.status is TrustTier.AFFIRMING for a in self.submods.values())

    def __getitem__(self, submod: str) -> Appraisal:
        return self.submods[submod]

    def as_dict(self) -> dict:
        """The EAR claims set as JSON-ready data (``eat_nonce`` is base64url)."""
        import base64

        out = {"eat_profile": EAR_PROFILE, "iat": self.iat, "ear.verifier-id": dict(self.verifier_id)}
        if self.nonce is not None:
            out["eat_nonce"] = base64.urlsafe_b64encode(self.nonce).rstrip(b"=").decode()
        out["submods"] = {name: a.as_dict() for name, a in self.submods.items()}
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), indent=indent)

    def text(self) -> str:
        """The result as text: the overall status, then per submodule its vector and reasons."""
        lines = [f"Attestation result: {self.status.spec_name.upper()}"]
        for name, a in self.submods.items():
            lines.append(f"  {name}: {a.status.spec_name}")
            for claim, v in a.trust_vector.items():
                if v != NO_CLAIM:
                    lines.append(f"    {claim:<18} {describe(claim, v)}")
            for r in a.reasons:
                lines.append(f"    - {r}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle) -> None:  # how IPython and Jupyter show it: the report
        p.text(self.text())


def _jsonable(x):
    if isinstance(x, bytes):
        return x.hex()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


__all__ = ["EAR_PROFILE", "TRUST_VECTOR_CLAIMS", "CLAIM_VALUES", "TrustTier", "TrustVector", "Appraisal",
           "AttestationResult", "tier", "describe", "NO_CLAIM", "UNEXPECTED_EVIDENCE",
           "VERIFIER_MALFUNCTION", "CRYPTO_VALIDATION_FAILED", "TRUSTWORTHY_INSTANCE",
           "UNTRUSTWORTHY_INSTANCE", "UNRECOGNIZED_INSTANCE", "APPROVED_CONFIG", "NO_CONFIG_VULNS",
           "UNSAFE_CONFIG", "UNSUPPORTABLE_CONFIG", "APPROVED_RUNTIME", "APPROVED_BOOT", "UNSAFE_RUNTIME",
           "UNRECOGNIZED_RUNTIME", "CONTRAINDICATED_RUNTIME", "GENUINE_HARDWARE", "UNSAFE_HARDWARE",
           "CONTRAINDICATED_HARDWARE", "UNRECOGNIZED_HARDWARE", "ENCRYPTED_MEMORY", "ISOLATED_MEMORY",
           "VISIBLE_MEMORY", "HW_KEYS_ENCRYPTED_SECRETS", "SW_KEYS_ENCRYPTED_SECRETS", "UNENCRYPTED_SECRETS"]
