"""CCA attestation, the verifier's side: decode a token, verify it, appraise it.

A realm asks the RMM for an attestation token (RSI_ATTESTATION_TOKEN_INIT/CONTINUE). The token
joins two signed claim sets: the platform's, signed by the hardware root of trust's CPAK, and
the realm's, signed by the RAK that the platform token vouches for. A verifier

1. decodes it (:func:`decode`): envelope, COSE_Sign1 structure, every claim's type and size;
2. verifies it (:func:`verify`): finds the CPAK, checks both signatures, the RAK binding and
   the nonce, and reports each step in words;
3. appraises it (:func:`appraise`): compares the claims with reference values and writes an
   EAR-shaped attestation result with AR4SI trust vectors for the platform and the realm.

``import ccalab`` does not load this package; use ``from ccalab import attest``.

Spec: draft-ffm-rats-cca-token; Arm CCA RMM DEN0137 1.0-rel0, "Attestation"; RFC 9052;
draft-ietf-rats-ear and draft-ietf-rats-ar4si; Veraison services ``scheme/arm-cca``.
"""

from . import claims, cose, ear, lifecycle
from .appraise import PLATFORM_SUBMOD, REALM_SUBMOD, appraise
from .claims import ClaimError
from .cose import CoseError, sign1
from .ear import Appraisal, AttestationResult, TrustTier, TrustVector
from .lifecycle import LifecycleState
from .refvalues import ReferenceValues
from .token import Token, TokenError, decode, encode_collection
from .trust_anchors import TrustAnchor, TrustAnchorError, TrustAnchorStore
from .verify import STEPS, Step, Verification, verify

__all__ = ["decode", "verify", "appraise", "encode_collection", "sign1", "Token", "Verification", "Step",
           "STEPS", "AttestationResult", "Appraisal", "TrustVector", "TrustTier", "ReferenceValues",
           "TrustAnchor", "TrustAnchorStore", "LifecycleState", "TokenError", "ClaimError", "CoseError",
           "TrustAnchorError", "PLATFORM_SUBMOD", "REALM_SUBMOD", "claims", "cose", "ear", "lifecycle"]
