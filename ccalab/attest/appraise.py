"""Appraise a CCA token: from "the signatures are good" to "this platform and realm are trustworthy".

Verification (:func:`ccalab.attest.verify`) establishes who signed what. Appraisal compares what
was signed with what the verifier was told to expect, and writes the conclusion as an EAR-shaped
:class:`~ccalab.attest.ear.AttestationResult` with two submodules, named as Veraison names them:
``CCA_SSD_PLATFORM`` and ``CCA_REALM``.

When verification fails, the trust vectors say so and nothing is appraised:

==========================================  ===================================  ==============
verification outcome                        CCA_SSD_PLATFORM                     CCA_REALM
==========================================  ===================================  ==============
syntax failed                               every claim 99                       every claim 99
no CPAK endorsed for the platform           instance-identity 97 (unrecognized)  all 0
CPAK unusable, or platform signature bad    every claim 99                       all 0
RAK, realm signature, binding or freshness  appraised as below                   every claim 99
==========================================  ===================================  ==============

When it succeeds, the platform is appraised by implementation ID and the realm by RIM:

* platform: hardware 2 (an endorsed CPAK signed it); lifecycle secured or non-CCA-RoT debug ->
  instance-identity, runtime-opaque and storage-opaque 2, any other state -> 96; configuration 2
  if claim 2401 equals the reference value, else 32; executables 2 if every sw-component matches
  a reference value, else 33. No reference value for the implementation ID -> executables 33.
* realm: instance-identity 2; no reference value for the RIM -> executables 33; RPV (or RAK hash
  algorithm) different -> 96; RIM matches and no REMs are provisioned -> 3 (approved boot); all
  four REMs match too -> 2 (approved boot and run time); a REM differs -> 33 (unrecognized run time).

Spec: Veraison services ``scheme/arm-cca`` ``AppraiseClaims`` (submodule names, the lifecycle,
config, sw-component, RIM, RPV and REM rules); rust-ccatoken ``evidence.rs`` ``verify`` (97 for an
unknown platform, 0 for the realm behind an unverified platform); draft-ietf-rats-ar4si 2.3.
"""

from __future__ import annotations

from . import ear
from .ear import AttestationResult, Appraisal
from .lifecycle import describe as describe_lifecycle
from .lifecycle import lifecycle_state
from .refvalues import ReferenceValues
from .token import Token
from .verify import Verification, verify

#: EAR submodule names of the two halves of a CCA token (as Veraison names them).
PLATFORM_SUBMOD = "CCA_SSD_PLATFORM"
REALM_SUBMOD = "CCA_REALM"


def appraise(evidence, reference_values=None, endorsements=None, nonce=None,
             trust_anchor=None) -> AttestationResult:
    """Verify (if needed) and appraise a CCA token; return an EAR-shaped attestation result.

    Parameters
    ----------
    evidence : bytes, Token or Verification
        The token, or the result of an earlier :func:`~ccalab.attest.verify` (then ``nonce``
        and ``trust_anchor`` must not be given again).
    reference_values : ReferenceValues, dict, JSON text or path, optional
        What the verifier expects (see :class:`~ccalab.attest.refvalues.ReferenceValues`).
        Without any, every appraisal says "no reference value for ...".
    endorsements : optional
        The endorsed CPAKs (a trust-anchor store in any form :func:`~ccalab.attest.verify`
        accepts). Veraison provisions CPAKs as endorsements; ``trust_anchor`` is the same thing
        by its other name: give one of the two.
    nonce : bytes, optional
        The nonce the relying party sent; becomes the result's ``eat_nonce``.
    trust_anchor : optional
        See ``endorsements``.

    Returns
    -------
    AttestationResult
        ``.submods`` maps ``CCA_SSD_PLATFORM`` and ``CCA_REALM`` to an
        :class:`~ccalab.attest.ear.Appraisal` (trust vector, status, reasons);
        ``.affirming`` is True only if both are affirming; ``str()`` is a readable report.

    Spec: Veraison services ``scheme/arm-cca`` (``AppraiseClaims``); draft-ietf-rats-ear
    (submods, ``ear.status``); draft-ietf-rats-ar4si section 2.3.
    """
    if trust_anchor is not None and endorsements is not None:
        raise ValueError("give the CPAKs as trust_anchor or as endorsements, not both")
    anchor = trust_anchor if trust_anchor is not None else endorsements
    if isinstance(evidence, Verification):
        if anchor is not None or nonce is not None:
            raise ValueError("the evidence is already verified: its trust anchor and nonce are fixed")
        v = evidence
    else:
        raw = evidence.raw if isinstance(evidence, Token) else evidence
        v = verify(raw, anchor, nonce)
    rvs = _reference_values(reference_values)

    platform, realm = Appraisal(), Appraisal()
    token = v.token
    if token is not None:
        platform.annotated_evidence = dict(token.platform)
        realm.annotated_evidence = dict(token.realm)

    if v["syntax"].passed is not True:
        for a in (platform, realm):
            a.trust_vector.set_all(ear.CRYPTO_VALIDATION_FAILED)
            a.reasons.append(f"the token is malformed: {v['syntax'].explanation}")
    elif v["trust_anchor"].passed is not True or v["platform_signature"].passed is not True:
        _platform_unverified(platform, v)
        realm.reasons.append("not appraised: the platform the realm runs on is not verified")
    else:
        _appraise_platform(platform, token, rvs)
        failed = [s for s in (v["realm_key"], v["realm_signature"], v["binding"], v["freshness"])
                  if s.passed is False]
        if failed:
            realm.trust_vector.set_all(ear.CRYPTO_VALIDATION_FAILED)
            realm.reasons.extend(f"{s.name} failed: {s.explanation}" for s in failed)
        else:
            _appraise_realm(realm, token, rvs)
            if v["freshness"].passed is None:
                realm.reasons.append("freshness was not checked (no nonce): nothing shows this token "
                                     "is new rather than replayed")
    return AttestationResult({PLATFORM_SUBMOD: platform, REALM_SUBMOD: realm}, nonce=v.nonce, verification=v)


def _reference_values(rv) -> ReferenceValues:
    if rv is None:
        return ReferenceValues()
    if isinstance(rv, ReferenceValues):
        return rv
    return ReferenceValues.from_json(rv)


def _platform_unverified(a: Appraisal, v: Verification) -> None:
    ta = v["trust_anchor"]
    if ta.passed is not True and ta.code == "no-trust-anchor":
        a.trust_vector["instance-identity"] = ear.UNRECOGNIZED_INSTANCE
        a.reasons.append(f"unrecognized platform: {ta.explanation}")
    else:
        step = ta if ta.passed is not True else v["platform_signature"]
        a.trust_vector.set_all(ear.CRYPTO_VALIDATION_FAILED)
        a.reasons.append(f"{step.name} failed: {step.explanation}")


def _appraise_platform(a: Appraisal, token: Token, rvs: ReferenceValues) -> None:
    p = token.platform
    tv = a.trust_vector
    tv["hardware"] = ear.GENUINE_HARDWARE
    a.reasons.append("hardware: the platform token is signed by an endorsed CPAK")

    life = p["cca-platform-lifecycle"]
    state = lifecycle_state(life)
    if state is not None and state.trustworthy:
        for claim in ("instance-identity", "runtime-opaque", "storage-opaque"):
            tv[claim] = 2
        a.reasons.append(f"lifecycle {describe_lifecycle(life)}: a state the verifier trusts")
    else:
        tv["instance-identity"] = ear.UNTRUSTWORTHY_INSTANCE
        tv["runtime-opaque"] = ear.VISIBLE_MEMORY
        tv["storage-opaque"] = ear.UNENCRYPTED_SECRETS
        a.reasons.append(f"lifecycle {describe_lifecycle(life)}: not a state the verifier trusts "
                         f"(only secured and non-cca-platform-rot-debug are)")

    impl = p["cca-platform-implementation-id"]
    candidates = rvs.platform_for(impl)
    if not candidates:
        tv["executables"] = ear.UNRECOGNIZED_RUNTIME
        a.reasons.append(f"no reference value for platform implementation ID {impl.hex()}: its "
                         f"firmware and configuration cannot be recognized (provision them with "
                         f"ReferenceValues.add_platform)")
        return
    best = min((_match_platform(ref, p) for ref in candidates), key=lambda m: m[0])
    _, config, executables, reasons = best
    tv["configuration"] = config
    tv["executables"] = executables
    a.reasons.extend(reasons)


def _match_platform(ref, p) -> tuple:
    reasons = []
    config = p["cca-platform-config"]
    if ref.config is None:
        cfg = ear.NO_CLAIM
        reasons.append("configuration: no reference value provisioned, not appraised")
    elif ref.config == config:
        cfg = ear.APPROVED_CONFIG
        reasons.append("configuration matches the reference value")
    else:
        cfg = ear.UNSAFE_CONFIG
        reasons.append(f"configuration {_short(config)} differs from the reference value {_short(ref.config)}")
    unmatched = [c for c in p["cca-platform-sw-components"] if not any(r.matches(c) for r in ref.sw_components)]
    if unmatched:
        exe = ear.UNRECOGNIZED_RUNTIME
        names = ", ".join(f"{c.get('measurement-type', '(no type)')} {_short(c['measurement-value'])}"
                          for c in unmatched)
        reasons.append(f"{len(unmatched)} of {len(p['cca-platform-sw-components'])} sw-component(s) match "
                       f"no reference value: {names}")
    else:
        exe = ear.APPROVED_RUNTIME
        reasons.append(f"all {len(p['cca-platform-sw-components'])} sw-components match reference values")
    score = (exe != ear.APPROVED_RUNTIME) + (cfg != ear.APPROVED_CONFIG)
    return score, cfg, exe, reasons


_REALM_RANK = {ear.APPROVED_RUNTIME: 0, ear.APPROVED_BOOT: 1, ear.UNRECOGNIZED_RUNTIME: 2,
               ear.CONTRAINDICATED_RUNTIME: 3}


def _appraise_realm(a: Appraisal, token: Token, rvs: ReferenceValues) -> None:
    r = token.realm
    tv = a.trust_vector
    tv["instance-identity"] = ear.TRUSTWORTHY_INSTANCE
    a.reasons.append("instance: the realm token is signed by a RAK that the verified platform vouches for")
    rim = r["cca-realm-initial-measurement"]
    candidates = rvs.realm_for(rim)
    if not candidates:
        tv["executables"] = ear.UNRECOGNIZED_RUNTIME
        a.reasons.append(f"no reference value for RIM {rim.hex()}: the realm's initial image is not "
                         f"recognized (provision it with ReferenceValues.add_realm)")
        return
    exe, reasons = min((_match_realm(ref, r) for ref in candidates), key=lambda m: _REALM_RANK[m[0]])
    tv["executables"] = exe
    a.reasons.extend(reasons)


def _match_realm(ref, r) -> tuple:
    if ref.rpv is not None and ref.rpv != r["cca-realm-personalization-value"]:
        return ear.CONTRAINDICATED_RUNTIME, [
            f"RIM matches, but the RPV {_short(r['cca-realm-personalization-value'])} differs from the "
            f"reference value {_short(ref.rpv)}: the host personalized this realm differently"]
    rak_alg = r["cca-realm-public-key-hash-algo-id"]
    if ref.rak_hash_algorithm is not None and ref.rak_hash_algorithm != rak_alg:
        return ear.CONTRAINDICATED_RUNTIME, [
            f"RIM matches, but the RAK hash algorithm {rak_alg} is not the expected {ref.rak_hash_algorithm}"]
    if ref.rems is None:
        what = "RIM and RPV match" if ref.rpv is not None else "RIM matches"
        return ear.APPROVED_BOOT, [f"{what}: approved boot; no REM reference values, so the run-time "
                                   f"measurements are not appraised"]
    rems = r["cca-realm-extensible-measurements"]
    bad = [i for i, (want, got) in enumerate(zip(ref.rems, rems)) if want is not None and want != got]
    if bad:
        return ear.UNRECOGNIZED_RUNTIME, [
            "RIM matches, but " + "; ".join(f"REM{i} {_short(rems[i])} differs from the reference value "
                                            f"{_short(ref.rems[i])}" for i in bad)
            + ": the realm extended measurements the verifier does not recognize"]
    what = "RIM, RPV" if ref.rpv is not None else "RIM"
    return ear.APPROVED_RUNTIME, [f"{what} and all four REMs match: approved boot and run time"]


def _short(b: bytes, n: int = 8) -> str:
    return b[:n].hex() + ("…" if len(b) > n else "")


__all__ = ["appraise", "PLATFORM_SUBMOD", "REALM_SUBMOD"]
