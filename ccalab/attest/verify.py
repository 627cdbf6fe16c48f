"""Verify a CCA attestation token step by step, and say in words what each step showed.

The steps, in the order a verifier takes them:

======================  ==========================================================  ==================
step                    passes when                                                 needs
======================  ==========================================================  ==================
``syntax``              the token decodes: tag, envelope, COSE_Sign1 structure,     (nothing)
                        every claim's type and size, known profiles and
                        algorithms, no repeated map key
``trust_anchor``        a CPAK is endorsed for the platform's implementation and    syntax
                        instance IDs (or one was given directly) and is usable
``platform_signature``  the CPAK verifies the platform token's signature            trust_anchor
``realm_key``           the RAK claim decodes as a P-384 key: a raw point without   syntax
                        a realm profile, a COSE_Key with one
``realm_signature``     the RAK verifies the realm token's ES384 signature          realm_key
``binding``             ``H(RAK claim bytes) == platform challenge``, H named by    syntax
                        claim 44240: the platform vouches for this RAK
``freshness``           the realm challenge equals the verifier's nonce             syntax
                        (zero-padded to 64 bytes); skipped without a nonce
======================  ==========================================================  ==================

A step whose prerequisite failed is reported as skipped. The token is valid when every step but
``freshness`` passed and ``freshness`` did not fail. Bad input of any kind gives a failed step
with an explanation; :func:`verify` does not raise for anything in the token.

Spec: draft-ffm-rats-cca-token, "Verification" and "Token Binding"; Veraison services
``scheme/arm-cca`` ``ValidateEvidenceIntegrity`` (freshness first, then ``ccatoken.Verify``:
platform signature, RAK, realm signature, binding); Veraison ccatoken ``evidence.go``.
"""

from __future__ import annotations

import dataclasses
import hmac
import textwrap

from . import cose
from .claims import HASH_ALGORITHMS, rak_is_cose_key
from .token import Token, TokenError, decode
from .trust_anchors import TrustAnchor, TrustAnchorError, TrustAnchorStore, as_trust_anchor

#: The step names, in order.
STEPS = ("syntax", "trust_anchor", "platform_signature", "realm_key", "realm_signature", "binding",
         "freshness")
#: Which steps must have passed before a step runs.
PREREQUISITES = {
    "syntax": (),
    "trust_anchor": ("syntax",),
    "platform_signature": ("trust_anchor",),
    "realm_key": ("syntax",),
    "realm_signature": ("realm_key",),
    "binding": ("syntax",),
    "freshness": ("syntax",),
}
#: Length of the realm challenge; shorter nonces are zero-padded to it.
CHALLENGE_SIZE = 64

_MARKS = {True: "✓", False: "✗", None: "–"}


@dataclasses.dataclass(frozen=True)
class Step:
    """The outcome of one verification step."""

    name: str  #: one of :data:`STEPS`
    passed: bool | None  #: True, False, or None when skipped
    explanation: str  #: what was checked and what it showed, in a sentence or two
    code: str = ""  #: a short machine-readable reason (``no-trust-anchor``, ``skipped``, ...)

    @property
    def skipped(self) -> bool:
        return self.passed is None

    @property
    def mark(self) -> str:
        """✓ passed, ✗ failed, – skipped."""
        return _MARKS[self.passed]

    def __str__(self) -> str:
        return f"{self.mark} {self.name}: {self.explanation}"


@dataclasses.dataclass(frozen=True, eq=False)
class Verification:
    """The result of :func:`verify`: every step's outcome, and what was learnt on the way."""

    steps: tuple  #: the :class:`Step` outcomes, in :data:`STEPS` order
    token: Token | None  #: the decoded token (None if the syntax step failed)
    cpak: object = None  #: the CPAK public key used (None if none was found)
    rak: object = None  #: the RAK public key from the realm token (None if it did not decode)
    nonce: bytes | None = None  #: the nonce checked, zero-padded to 64 bytes

    @property
    def ok(self) -> bool:
        """True when every step but freshness passed and freshness did not fail."""
        return all(s.passed is True or (s.name == "freshness" and s.passed is None) for s in self.steps)

    @property
    def failed(self) -> tuple:
        """The steps that failed (skipped ones are not counted)."""
        return tuple(s for s in self.steps if s.passed is False)

    @property
    def failed_step(self) -> str | None:
        """The name of the first failed step, or None."""
        return self.failed[0].name if self.failed else None

    @property
    def fresh(self) -> bool | None:
        """True if the token answers the nonce, False if not, None if no nonce was checked."""
        return self["freshness"].passed

    def __getitem__(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no step {name!r}; the steps are {', '.join(STEPS)}")

    def __iter__(self):
        return iter(self.steps)

    def as_dict(self) -> dict:
        """``{"ok": ..., "steps": [{"name", "passed", "explanation", "code"}, ...]}`` (JSON-ready)."""
        return {"ok": self.ok, "steps": [dataclasses.asdict(s) for s in self.steps]}

    def text(self, width: int = 100) -> str:
        """The result as lines of text: a verdict, then one marked line per step."""
        if self.ok:
            head = "VALID"
        else:
            head = "NOT VALID: " + ", ".join(f"{s.name} failed" for s in self.failed)
        if self.token is not None:
            head += f" ({self.token.envelope}, {len(self.token.raw)} bytes)"
        lines = [f"CCA token verification: {head}"]
        pad = max(len(n) for n in STEPS)
        for s in self.steps:
            first = f"  {s.mark} {s.name:<{pad}}  "
            body = textwrap.wrap(s.explanation, width=max(40, width - len(first))) or [""]
            lines.append(first + body[0])
            lines.extend(" " * len(first) + b for b in body[1:])
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Verification ok={self.ok} failed={[s.name for s in self.failed]}>"

    def _repr_pretty_(self, p, cycle) -> None:  # how IPython and Jupyter show it: the report
        p.text(self.text())


class _Context:
    """What the steps hand on to each other."""

    def __init__(self, token_bytes, trust_anchor, nonce):
        self.token_bytes, self.trust_anchor, self.nonce = token_bytes, trust_anchor, nonce
        self.token: Token | None = None
        self.cpak = None
        self.rak = None


def verify(token_bytes, trust_anchor=None, nonce=None) -> Verification:
    """Verify a CCA token: syntax, CPAK lookup, both signatures, the binding, and freshness.

    Parameters
    ----------
    token_bytes : bytes
        The token as the realm obtained it (either envelope).
    trust_anchor : optional
        The verifier's belief about CPAKs: a PEM (str or bytes), a ``cryptography`` EC key, a JWK
        dict, or a trust-anchor store (a list of ``{pkey, implementation-id, instance-id}``, its
        JSON text or path, or a :class:`~ccalab.attest.trust_anchors.TrustAnchorStore`). A store
        is searched by the token's implementation ID and instance ID. Without one, the
        ``trust_anchor`` step fails.
    nonce : bytes, optional
        The challenge the relying party sent (1 to 64 bytes; zero-padded to 64, as Linux and
        Veraison do). Without one, ``freshness`` is skipped.

    Returns
    -------
    Verification
        ``.ok``, ``.steps`` (each with ``name``, ``passed`` and ``explanation``), the decoded
        ``.token``, the ``.cpak`` and ``.rak`` used. ``str()`` gives a readable report.

    Raises
    ------
    TypeError
        Only if ``nonce`` is neither None nor bytes-like (a misuse of the API). Nothing in the
        token or the trust anchor raises: it fails a step.

    Spec: draft-ffm-rats-cca-token, "Verification" and "Token Binding"; Veraison services
    ``scheme/arm-cca`` ``ValidateEvidenceIntegrity``; Linux ``arm-cca-guest`` (zero-padded
    challenge).
    """
    if nonce is not None and not isinstance(nonce, (bytes, bytearray, memoryview)):
        raise TypeError(f"the nonce is bytes, got {type(nonce).__name__}")
    ctx = _Context(token_bytes, trust_anchor, None if nonce is None else bytes(nonce))
    results: dict = {}
    for name in STEPS:
        missing = [p for p in PREREQUISITES[name] if results[p].passed is not True]
        if missing:
            results[name] = Step(name, None, f"skipped: needs {' and '.join(missing)}, which did not pass",
                                 "skipped")
            continue
        try:
            results[name] = _STEP_FUNCTIONS[name](ctx)
        except Exception as e:  # noqa: BLE001 - the contract is "never raise on bad evidence"
            results[name] = Step(name, False, f"the verifier could not complete this step "
                                 f"({type(e).__name__}: {e})", "internal-error")
    padded = None if ctx.nonce is None or not 0 < len(ctx.nonce) <= CHALLENGE_SIZE else _pad(ctx.nonce)
    return Verification(tuple(results[n] for n in STEPS), ctx.token, ctx.cpak, ctx.rak, padded)


# ---------------------------------------------------------------------------------------------
# The steps

def _syntax(ctx: _Context) -> Step:
    data = ctx.token_bytes
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return Step("syntax", False, f"a CCA token is bytes, got {type(data).__name__}", "envelope")
    try:
        token = decode(data)
    except TokenError as e:
        return Step("syntax", False, str(e), e.part)
    for part, msg in (("platform", token.platform_cose), ("realm", token.realm_cose)):
        alg = msg.alg
        if isinstance(alg, bool) or alg not in cose.ALGORITHMS:
            return Step("syntax", False, f"the {part} token's protected header names the algorithm "
                        f"{alg!r}; CCA tokens are signed with ES256 (-7), ES384 (-35) or ES512 (-36)",
                        part)
    ctx.token = token
    form = ("CMW collection (tag 907, RMM 1.1 and later)" if token.envelope == "cmw-907"
            else "legacy collection (tag 399, RMM 1.0)")
    realm_profile = token.realm.get("cca-realm-profile")
    return Step("syntax", True,
                f"a well-formed {form}; platform profile {token.platform['cca-platform-profile']}, "
                f"signed {token.platform_cose.algorithm.name}; realm "
                f"{'profile ' + realm_profile if realm_profile else 'without a profile (RMM 1.0 claims)'}, "
                f"signed {token.realm_cose.algorithm.name}; every claim has its type and size")


def _trust_anchor(ctx: _Context) -> Step:
    platform = ctx.token.platform
    impl, inst = platform["cca-platform-implementation-id"], platform["cca-platform-instance-id"]
    ids = f"implementation ID {_short(impl)} and instance ID {_short(inst)}"
    if ctx.trust_anchor is None:
        return Step("trust_anchor", False, f"no trust anchor was given, so nothing can vouch for "
                    f"the platform with {ids}", "no-trust-anchor")
    try:
        anchor = as_trust_anchor(ctx.trust_anchor)
    except (TrustAnchorError, OSError, UnicodeError) as e:
        return Step("trust_anchor", False, f"the trust anchor given cannot be used: {e}", "bad-trust-anchor")
    if isinstance(anchor, TrustAnchorStore):
        entry = anchor.lookup(impl, inst)
        if entry is None:
            return Step("trust_anchor", False, f"the store of {len(anchor)} trust anchor(s) endorses "
                        f"no CPAK for the platform with {ids}: an unknown platform", "no-trust-anchor")
        where = f"the store endorses a CPAK for {ids}"
    elif isinstance(anchor, TrustAnchor):
        entry, where = anchor, "using the CPAK given (no lookup by platform identity)"
    else:
        ctx.cpak = anchor
        return Step("trust_anchor", True, f"using the {cose.curve_name(anchor)} CPAK given "
                    f"(no lookup by platform identity)")
    try:
        key = entry.public_key()
    except TrustAnchorError as e:
        return Step("trust_anchor", False, f"{where}, but its key is unusable: {e}", "bad-trust-anchor")
    ctx.cpak = key
    return Step("trust_anchor", True, f"{where}: a {cose.curve_name(key)} key")


def _platform_signature(ctx: _Context) -> Step:
    msg = ctx.token.platform_cose
    alg = msg.algorithm
    curve = cose.curve_name(ctx.cpak)
    if curve != cose.CURVE_NAMES[alg.crv]:
        return Step("platform_signature", False, f"the platform token is signed {alg.name}, which "
                    f"needs a {cose.CURVE_NAMES[alg.crv]} key, but the CPAK is a {curve} key: "
                    f"not the key that signed this token", "key-mismatch")
    if msg.verify(ctx.cpak):
        return Step("platform_signature", True, f"the CPAK verifies the platform token's {alg.name} "
                    f"signature: these platform claims are what the platform's root of trust signed")
    return Step("platform_signature", False, f"the platform token's {alg.name} signature does not "
                f"verify with the CPAK: its claims were changed after signing, or another key "
                f"signed them", "bad-signature")


def _realm_key(ctx: _Context) -> Step:
    realm = ctx.token.realm
    rak_claim = realm["cca-realm-public-key"]
    if rak_is_cose_key(realm):
        form = f"a {len(rak_claim)}-byte COSE_Key (the realm profile is present)"
        try:
            key = cose.key_from_cose_key(rak_claim, what="the RAK claim (COSE_Key)")
        except cose.CoseError as e:
            return Step("realm_key", False, f"{e} (with a realm profile the RAK claim is a COSE_Key)",
                        "bad-key")
    else:
        form = f"a raw {len(rak_claim)}-byte point (no realm profile)"
        try:
            key = cose.key_from_raw_point(rak_claim, curve="P-384", what="the RAK claim (raw point)")
        except cose.CoseError as e:
            return Step("realm_key", False, f"{e} (without a realm profile the RAK claim is a raw "
                        f"97-byte P-384 point 0x04 || X || Y)", "bad-key")
    curve = cose.curve_name(key)
    if curve != "P-384":
        return Step("realm_key", False, f"the RAK claim is {form} on {curve}; the RMM's RAK is always "
                    f"a P-384 key", "bad-key")
    ctx.rak = key
    return Step("realm_key", True, f"the RAK claim is {form}: a P-384 public key on the curve")


def _realm_signature(ctx: _Context) -> Step:
    msg = ctx.token.realm_cose
    alg = msg.algorithm
    if alg is not cose.ES384:
        return Step("realm_signature", False, f"the realm token says {alg.name}; the RMM signs the "
                    f"realm token with ES384, the algorithm of its P-384 RAK", "key-mismatch")
    if msg.verify(ctx.rak):
        return Step("realm_signature", True, "the RAK in the realm token verifies its ES384 signature. "
                    "Alone this proves little (anyone can make a key pair); the binding step says "
                    "whether the platform vouches for this RAK")
    return Step("realm_signature", False, "the realm token's ES384 signature does not verify with "
                "the RAK it carries: its claims were changed after signing", "bad-signature")


def _binding(ctx: _Context) -> Step:
    realm, platform = ctx.token.realm, ctx.token.platform
    alg = realm["cca-realm-public-key-hash-algo-id"]
    rak_claim = realm["cca-realm-public-key"]
    digest = HASH_ALGORITHMS[alg](rak_claim).digest()
    challenge = platform["cca-platform-challenge"]
    if hmac.compare_digest(digest, challenge):
        return Step("binding", True, f"{alg}(RAK claim, {len(rak_claim)} bytes) = the platform "
                    f"challenge {_short(challenge)}: the platform token vouches for this realm's "
                    f"attestation key")
    return Step("binding", False, f"{alg}(RAK claim) = {_short(digest)} but the platform challenge is "
                f"{_short(challenge)}: the platform never vouched for this RAK (platform nonce does "
                f"not match RAK hash)", "mismatch")


def _freshness(ctx: _Context) -> Step:
    challenge = ctx.token.realm["cca-realm-challenge"]
    if ctx.nonce is None:
        return Step("freshness", None, f"skipped: no nonce given, so nothing shows the token is new; "
                    f"its realm challenge is {_short(challenge)}", "no-nonce")
    n = len(ctx.nonce)
    if not 0 < n <= CHALLENGE_SIZE:
        return Step("freshness", False, f"the nonce is {n} bytes; a realm challenge holds 1 to "
                    f"{CHALLENGE_SIZE} bytes (zero-padded to {CHALLENGE_SIZE})", "bad-nonce")
    expected = _pad(ctx.nonce)
    padded = f" (zero-padded from {n} to {CHALLENGE_SIZE} bytes)" if n < CHALLENGE_SIZE else ""
    if hmac.compare_digest(expected, challenge):
        return Step("freshness", True, f"the realm challenge equals the nonce{padded}: the token was "
                    f"made for this request")
    return Step("freshness", False, f"the realm challenge {_short(challenge)} is not the nonce "
                f"{_short(expected)}{padded}: an old (replayed) token or one made for someone else",
                "mismatch")


_STEP_FUNCTIONS = {"syntax": _syntax, "trust_anchor": _trust_anchor,
                   "platform_signature": _platform_signature, "realm_key": _realm_key,
                   "realm_signature": _realm_signature, "binding": _binding, "freshness": _freshness}


def _pad(nonce: bytes) -> bytes:
    return nonce + bytes(CHALLENGE_SIZE - len(nonce))


def _short(b: bytes, n: int = 8) -> str:
    return b[:n].hex() + ("…" if len(b) > n else "")


__all__ = ["verify", "Verification", "Step", "STEPS", "PREREQUISITES", "CHALLENGE_SIZE"]
