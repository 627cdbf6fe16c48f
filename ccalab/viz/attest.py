"""Pictures and text views of CCA attestation: the token, the verifier's steps, the appraisal, and
where the realm's measurement comes from.

* the token as a tree of claims, every claim with its CBOR key, name, size and meaning, and the
  binding between the two halves (``claims_tree_text`` / ``draw_token``);
* the verifier's steps, each passed, failed or skipped, with its explanation
  (``verification_text`` / ``draw_verification``);
* the attestation result: AR4SI trust vectors with their tiers, per submodule
  (``appraisal_text``);
* the RIM claim traced back to the RMI calls that built it (``measurement_provenance_text``).

Every picture has a text twin that needs no graphics, so terminals, tests and screen readers see
the same facts. ``import ccalab.viz`` loads neither matplotlib nor ``cryptography``: the
``draw_*`` functions import matplotlib when called, and :mod:`ccalab.attest` (which needs
``cryptography``) is imported by the functions that decode a token.

Spec: draft-ffm-rats-cca-token ("Collection", the claim CDDL, "Token Binding",
"Verification"); Arm CCA RMM DEN0137 1.0-rel0, A7.1 "Realm measurements" and A7.2 "Attestation
token"; draft-ietf-rats-ar4si section 2.3 and draft-fv-rats-ear (trust vectors, tiers, status).
"""

from __future__ import annotations

import textwrap

from .theme import resolve_theme, style_axes

#: What each verification step asks, in the verifier's words (the steps of
#: :data:`ccalab.attest.STEPS`).
STEP_QUESTIONS = {
    "syntax": "is it a well-formed CCA token (envelope, COSE_Sign1, every claim's type and size)?",
    "trust_anchor": "does the verifier hold an endorsed CPAK for this platform?",
    "platform_signature": "did that CPAK sign the platform claims?",
    "realm_key": "is the RAK claim a usable P-384 public key?",
    "realm_signature": "did that RAK sign the realm claims?",
    "binding": "does the platform vouch for this RAK (platform challenge = H(RAK claim))?",
    "freshness": "does the realm challenge equal the verifier's nonce?",
}

#: Fill colours of the verifier's panel (light fills: black text reads on them in either theme).
STEP_FILLS = {True: "#8FD3A8", False: "#F4A6A0", None: "#D4D4D4"}
#: Words for a step's outcome.
STEP_WORDS = {True: "passed", False: "FAILED", None: "skipped"}
_MARKS = {True: "\u2713", False: "\u2717", None: "\u2013"}

#: Light fills of the two halves of a token in :func:`draw_token`.
PART_FILLS = {"platform": "#BFE0F5", "realm": "#F8D9A8"}

_ENVELOPE_WORDS = {
    "cmw-907": ("CMW collection, tag 907", "907({44234: [263, platform], 44241: [263, realm]})",
                "RMM 1.1 and later"),
    "legacy-399": ("legacy collection, tag 399", "399({44234: platform, 44241: realm})", "RMM 1.0"),
}
_SIGNERS = {"platform": "the CPAK (the platform's root of trust, HES/RSE)",
            "realm": "the RAK (the RMM's attestation key for this boot)"}
_LABELS = {"platform": 44234, "realm": 44241}
_SW_SHORT = {"measurement-value": "value", "signer-id": "signer", "measurement-description": "hash"}


# --- shared helpers --------------------------------------------------------------------------------
def _short(b: bytes, n: int = 8) -> str:
    b = bytes(b)
    return b[:n].hex() + ("\u2026" if len(b) > n else "")


def _token(token_or_bytes):
    """A decoded :class:`ccalab.attest.Token` from bytes, a Token or a Verification (its token).

    Raises TypeError for anything else, and ``ccalab.attest.TokenError`` for bytes that do not decode.
    """
    from ..attest import Token, decode

    t = getattr(token_or_bytes, "token", token_or_bytes) if not isinstance(token_or_bytes, Token) else token_or_bytes
    if isinstance(t, Token):
        return t
    if isinstance(t, (bytes, bytearray, memoryview)):
        return decode(bytes(t))
    if t is None:
        raise ValueError("this verification has no decoded token: its syntax step failed")
    raise TypeError(f"expected token bytes, a Token or a Verification, got {type(token_or_bytes).__name__}")


def _claim_info(part: str, key_or_name):
    from ..attest import claims

    try:
        return claims.claim(part, key_or_name)
    except KeyError:
        return None


def _size(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} B"
    if isinstance(value, str):
        return f"{len(value)} chars"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "uint" if value >= 0 else "int"
    if isinstance(value, (list, tuple)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return type(value).__name__


def _value(name, value, limit: int = 48) -> str:
    if isinstance(value, (bytes, bytearray)):
        return _short(value, 12)
    if name == "cca-platform-lifecycle" and isinstance(value, int):
        from ..attest.lifecycle import describe

        return describe(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else repr(value[:limit - 1]) + "\u2026"
    if name == "cca-realm-extensible-measurements" and isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(m, 4) for m in value) + "]"
    if isinstance(value, (list, tuple)):
        return ""
    return repr(value)


def _binding(token) -> tuple:
    """``(holds, algorithm, digest, challenge, rak_claim)`` of a decoded token."""
    from ..attest.claims import HASH_ALGORITHMS

    alg = token.realm["cca-realm-public-key-hash-algo-id"]
    rak = token.realm["cca-realm-public-key"]
    digest = HASH_ALGORITHMS[alg](rak).digest()
    challenge = token.platform["cca-platform-challenge"]
    return digest == challenge, alg, digest, challenge, rak


def _alg_name(msg) -> str:
    try:
        return msg.algorithm.name
    except Exception:  # noqa: BLE001 - an unknown algorithm is shown, not raised
        return f"alg {msg.alg!r}"


# --- the claims tree ---------------------------------------------------------------------------------
def _claim_lines(part: str, claims: dict, bar: str) -> list:
    lines = []
    for name, value in claims.items():
        info = _claim_info(part, name)
        key = info.key if info is not None else name
        cname = info.name if info is not None else f"(claim {name}, unknown to this profile)"
        ctype = info.type if info is not None else "?"
        shown = _value(name, value)
        size = "" if isinstance(value, int) else f", {_size(value)}"
        head = f"{bar}   {key!s:>5}  {cname} ({ctype}{size})" + (f" = {shown}" if shown else "")
        lines.append(head)
        if info is not None and info.meaning:
            lines.append(f"{bar}          {info.meaning}")
        if name == "cca-platform-sw-components":
            for i, comp in enumerate(value):
                bits = [f"{_SW_SHORT.get(k, k)} {_value(k, v) if isinstance(v, (bytes, bytearray)) else v}"
                        for k, v in comp.items() if k != "measurement-type"]
                lines.append(f"{bar}          [{i}] {comp.get('measurement-type', '(no type)')}: " + ", ".join(bits))
        if name == "cca-platform-challenge":
            lines.append(f"{bar}          binds: = H(realm claim 44237, the RAK), H named by realm claim 44240")
        if name == "cca-realm-challenge":
            lines.append(f"{bar}          binds: = the verifier's nonce, zero-padded to 64 bytes (freshness)")
        if name == "cca-realm-public-key":
            lines.append(f"{bar}          binds: H(these {len(value)} bytes) = platform claim 10 (the platform vouches "
                         f"for this key)")
        if name == "cca-realm-initial-measurement":
            lines.append(f"{bar}          binds: = the RIM the RMM computed from the host's RMI calls (reference "
                         f"values are looked up by it)")
    return lines


def claims_tree_text(token_or_bytes) -> str:
    """The token as a tree: the envelope, its two signed tokens, every claim with its CBOR key,
    name, type, size, value and one-line meaning, and what binds to what.

    Parameters
    ----------
    token_or_bytes : bytes, Token or Verification
        A CCA token in either envelope (bytes), a decoded :class:`ccalab.attest.Token`, or a
        :class:`ccalab.attest.Verification` (its decoded token).

    Returns
    -------
    str
        The tree, then the binding (platform challenge = H(RAK claim), and whether it holds) and
        the freshness rule. Bytes that do not decode give the decoder's explanation instead.

    Spec: draft-ffm-rats-cca-token, "Collection", the CDDL of ``cca-platform-claims`` and
    ``cca-realm-claims``, "Token Binding".
    """
    from ..attest import TokenError

    try:
        t = _token(token_or_bytes)
    except TokenError as exc:
        return f"Not a well-formed CCA token ({exc.part}): {exc}"
    except ValueError as exc:
        return f"No token to show: {exc}"
    title, shape, rmm = _ENVELOPE_WORDS[t.envelope]
    lines = [f"CCA attestation token: {len(t.raw)} bytes, {title} ({rmm})", f"  {shape}", "\u2502"]
    parts = (("platform", t.platform, t.platform_cose, t.platform_bytes),
             ("realm", t.realm, t.realm_cose, t.realm_bytes))
    for i, (part, claims, msg, raw) in enumerate(parts):
        last = i == len(parts) - 1
        branch = "\u2514\u2500\u2500" if last else "\u251c\u2500\u2500"
        lines.append(f"{branch} {_LABELS[part]} {part} token: COSE_Sign1, {_alg_name(msg)}, {len(raw)} bytes "
                     f"({len(msg.payload)}-byte claims map)")
        lines.append(f"{' ' if last else chr(0x2502)}     signed by {_SIGNERS[part]}")
        lines += _claim_lines(part, claims, " " if last else "\u2502")
        if not last:
            lines.append("\u2502")
    holds, alg, digest, challenge, rak = _binding(t)
    lines.append("")
    lines.append(f"Binding: platform claim 10 (challenge, {len(challenge)} B) = {alg}(realm claim 44237, the RAK "
                 f"claim, {len(rak)} bytes as carried): "
                 + ("holds \u2713" if holds else f"does NOT hold \u2717 ({alg} gives {_short(digest)}, "
                                                 f"the challenge is {_short(challenge)})"))
    lines.append("  The platform token is signed once per boot and shared by every realm; it vouches for the RAK, "
                 "and the RAK signs each realm token.")
    lines.append(f"Freshness: realm claim 10 (challenge, {len(t.realm['cca-realm-challenge'])} B) = the verifier's "
                 "nonce, zero-padded to 64 bytes; only the realm token carries it.")
    return "\n".join(lines)


def draw_token(token, ax=None, theme=None, max_rows: int = 11):
    """Draw the token as nested boxes: the envelope around the platform token and the realm token,
    each listing its claims (key, short name, value), and the binding as an arrow from the realm's
    RAK claim to the platform challenge (green when ``H(RAK claim) == challenge``, red when not).

    Parameters
    ----------
    token : bytes, Token or Verification
    ax : matplotlib Axes, optional
    theme : {"auto", "light", "dark"}, optional
    max_rows : int
        Claims shown per token (the rest are counted).

    Returns
    -------
    matplotlib.figure.Figure

    Spec: draft-ffm-rats-cca-token, "Collection" and "Token Binding".
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    theme = resolve_theme(theme)
    t = _token(token)
    rows = {"platform": list(t.platform.items())[:max_rows], "realm": list(t.realm.items())[:max_rows]}
    n = max(len(r) for r in rows.values())
    height = n * 0.42 + 2.4
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 0.55 * height + 0.6), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    ax.set_xlim(0, 12)
    ax.set_ylim(height, 0)
    ax.axis("off")
    title, shape, rmm = _ENVELOPE_WORDS[t.envelope]
    ax.add_patch(FancyBboxPatch((0.1, 0.1), 11.8, height - 0.2, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor="none", edgecolor=c["edge"], linewidth=1.4))
    ax.text(0.3, 0.45, f"envelope: {title} ({rmm}), {len(t.raw)} bytes   {shape}", fontsize=8.5,
            color=c["text"], va="center", family="monospace")
    anchors = {}
    width = 5.0
    boxes = {"platform": 0.35, "realm": 12 - 0.35 - width}
    for part, msg in (("platform", t.platform_cose), ("realm", t.realm_cose)):
        x0 = boxes[part]
        claims = t.platform if part == "platform" else t.realm
        h = len(rows[part]) * 0.42 + 1.25
        ax.add_patch(FancyBboxPatch((x0, 0.85), width, h, boxstyle="round,pad=0.02,rounding_size=0.1",
                                    facecolor=PART_FILLS[part], edgecolor=c["edge"], linewidth=0.9))
        ax.text(x0 + 0.15, 1.15, f"{_LABELS[part]}  {part} token", fontsize=9, fontweight="bold", color="#000000",
                va="center")
        signer = "CPAK" if part == "platform" else "RAK"
        ax.text(x0 + 0.15, 1.5, f"COSE_Sign1, {_alg_name(msg)}, signed by the {signer}", fontsize=7.5,
                color="#000000", va="center")
        for k, (name, value) in enumerate(rows[part]):
            y = 1.95 + k * 0.42
            info = _claim_info(part, name)
            key = info.key if info is not None else name
            short = info.short_name if info is not None else "?"
            shown = _value(name, value, limit=20)
            if not shown and isinstance(value, (list, tuple)):
                shown = _size(value)
            ax.text(x0 + 0.15, y, f"{key!s:>5} {short[:20]:<20} {shown[:24]}", fontsize=6.6, color="#000000",
                    va="center", family="monospace")
            anchors[(part, name)] = y
        extra = len(claims) - len(rows[part])
        if extra > 0:
            ax.text(x0 + 0.15, 1.95 + len(rows[part]) * 0.42 - 0.1, f"... {extra} more", fontsize=6.5,
                    color="#000000")
    holds, alg, _digest, _challenge, _rak = _binding(t)
    colour = c["ok"] if holds else c["fault"]
    y_rak = anchors.get(("realm", "cca-realm-public-key"))
    y_ch = anchors.get(("platform", "cca-platform-challenge"))
    if y_rak is not None and y_ch is not None:
        ax.add_patch(FancyArrowPatch((boxes["realm"] - 0.02, y_rak), (boxes["platform"] + width + 0.02, y_ch),
                                     arrowstyle="-|>", mutation_scale=12, color=colour, linewidth=1.8,
                                     connectionstyle="arc3,rad=-0.2"))
        relation = "=" if holds else "\u2260"
        mark = "\u2713" if holds else "\u2717"
        ax.text(6.0, max(y_rak, y_ch) + 0.55, f"binding {mark}\n{alg}(RAK claim)\n{relation} platform challenge",
                ha="center", va="top", fontsize=7.5, color=colour, fontweight="bold")
    ax.set_title("CCA attestation token: the binding "
                 + ("holds: the platform vouches for the key that signed the realm token" if holds
                    else "does NOT hold: the platform never vouched for this RAK"),
                 color=c["text"], fontsize=10)
    return fig


# --- the verifier's steps ----------------------------------------------------------------------------
def _check_verification(verification):
    from ..attest import Verification

    if not isinstance(verification, Verification):
        raise TypeError(f"expected a ccalab.attest.Verification (from ccalab.attest.verify), "
                        f"got {type(verification).__name__}")
    return verification


def verification_text(verification, width: int = 100) -> str:
    """The verifier's view, step by step: what each step asks, whether it passed (✓), failed (✗)
    or was skipped (–, a step it needs did not pass, or no nonce was given), and why.

    Parameters
    ----------
    verification : Verification
        The result of :func:`ccalab.attest.verify`.
    width : int
        Wrap explanations at this many characters.

    Spec: draft-ffm-rats-cca-token, "Verification"; Veraison services ``scheme/arm-cca``
    ``ValidateEvidenceIntegrity``.
    """
    v = _check_verification(verification)
    if v.ok:
        head = "VALID"
    else:
        head = f"NOT VALID: the first step that failed is {v.failed_step}"
    if v.token is not None:
        head += f" ({v.token.envelope}, {len(v.token.raw)} bytes)"
    lines = [f"Verifier's view: {head}"]
    pad = max(len(s.name) for s in v.steps)
    for i, s in enumerate(v.steps, 1):
        first = f"  {i}. {_MARKS[s.passed]} {s.name:<{pad}}  {STEP_WORDS[s.passed]:<7}  "
        lines.append(first + STEP_QUESTIONS.get(s.name, ""))
        indent = " " * (len(f"  {i}. ") + 2)
        lines += textwrap.wrap(s.explanation, width=max(40, width - len(indent)), initial_indent=indent,
                               subsequent_indent=indent)
    lines.append(f"Legend: {_MARKS[True]} passed (green)  {_MARKS[False]} failed (red)  {_MARKS[None]} skipped "
                 "(grey: a step it needs did not pass, or no nonce was given)")
    return "\n".join(lines)


def draw_verification(verification, ax=None, theme=None, width: int = 92):
    """Draw the verifier's panel: one row per step, a green (passed), red (failed) or grey
    (skipped) badge with the step's name and question, and its explanation (the picture of
    :func:`verification_text`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    theme = resolve_theme(theme)
    v = _check_verification(verification)
    wrapped = [textwrap.wrap(s.explanation, width=width)[:3] or [""] for s in v.steps]
    heights = [0.55 + 0.28 * len(w) for w in wrapped]
    total = sum(heights) + 0.3
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.5 * total + 0.5), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    ax.set_xlim(0, 12)
    ax.set_ylim(total, 0)
    ax.axis("off")
    y = 0.15
    for i, (s, w, h) in enumerate(zip(v.steps, wrapped, heights), 1):
        ax.add_patch(FancyBboxPatch((0.05, y + 0.05), 2.6, h - 0.15, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=STEP_FILLS[s.passed], edgecolor=c["edge"], linewidth=0.7))
        ax.text(0.15, y + 0.3, f"{i}. {_MARKS[s.passed]} {s.name}", fontsize=8.5, fontweight="bold",
                color="#000000", va="center")
        ax.text(0.15, y + 0.6, STEP_WORDS[s.passed], fontsize=7.5, color="#000000", va="center")
        ax.text(2.85, y + 0.28, STEP_QUESTIONS.get(s.name, ""), fontsize=7.5, color=c["text"], va="center",
                fontweight="bold")
        for k, line in enumerate(w):
            ax.text(2.85, y + 0.56 + 0.28 * k, line, fontsize=7, color=c["muted"] if s.passed is None else c["text"],
                    va="center")
        y += h
    verdict = "VALID" if v.ok else f"NOT VALID (first failure: {v.failed_step})"
    ax.set_title(f"The verifier's steps: {verdict}", color=c["ok"] if v.ok else c["fault"], fontsize=10,
                 fontweight="bold")
    return fig


# --- the appraisal -------------------------------------------------------------------------------------
def appraisal_text(result) -> str:
    """An attestation result as text: the overall status, then per submodule (``CCA_SSD_PLATFORM``,
    ``CCA_REALM``) its status and all eight AR4SI trust-vector claims with value, EAR tag, tier
    and meaning, then the verifier's reasons.

    Parameters
    ----------
    result : AttestationResult
        From :func:`ccalab.attest.appraise`.

    Spec: draft-ietf-rats-ar4si section 2.3 (claims, values and tiers); draft-fv-rats-ear
    (``ear.status`` is the worst tier; a relying party accepts only ``affirming``).
    """
    from ..attest import ear

    if not isinstance(result, ear.AttestationResult):
        raise TypeError(f"expected a ccalab.attest.AttestationResult (from ccalab.attest.appraise), "
                        f"got {type(result).__name__}")
    verdict = "accept" if result.affirming else "refuse"
    lines = [f"Attestation result (EAR): {result.status.spec_name.upper()}: a relying party should {verdict} it",
             "  (only 'affirming' for every submodule is a pass; 'warning' is not)"]
    if result.nonce is not None:
        lines.append(f"  eat_nonce {_short(result.nonce, 12)}")
    pad = max(len(k) for k in ear.TRUST_VECTOR_CLAIMS)
    for name, a in result.submods.items():
        lines.append("")
        lines.append(f"{name}: {a.status.spec_name}")
        lines.append(f"  {'claim':<{pad}}  value  {'tier':<15}  meaning")
        for claim, value in a.trust_vector.items():
            tag, _, meaning = ear.describe(claim, value).partition("(")[2].rstrip(")").partition(": ")
            tier = ear.tier(value).spec_name
            lines.append(f"  {claim:<{pad}}  {value:>5}  {tier:<15}  {tag}: {meaning}")
        if a.reasons:
            lines.append("  why:")
            for r in a.reasons:
                lines += textwrap.wrap(r, width=100, initial_indent="    - ", subsequent_indent="      ")
    return "\n".join(lines)


# --- where the RIM comes from ------------------------------------------------------------------------
def _provenance_step(st) -> str:
    args = st.args
    if st.command == "RMI_REALM_CREATE":
        return "REALM_CREATE: RIM = H(the measured RmiRealmParams)"
    if st.command == "RMI_DATA_CREATE":
        flags = args[4] if len(args) > 4 else 0
        how = "its content hash, ipa and flags" if flags & 1 else "its ipa and flags (content not measured)"
        return f"DATA_CREATE ipa {args[2]:#x}: extends the RIM with {how}"
    if st.command == "RMI_RTT_INIT_RIPAS":
        return f"RTT_INIT_RIPAS [{args[1]:#x}, {args[2]:#x}): one extension per RTT entry made RIPAS RAM"
    if st.command == "RMI_REC_CREATE":
        if "not runnable" in st.detail:
            return f"REC_CREATE rec {args[1]:#x}: not runnable, the RIM is unchanged"
        return f"REC_CREATE rec {args[1]:#x}: extends the RIM with the REC's flags, PC and GPRs"
    return st.command


def measurement_provenance_text(p, rd, token=None, max_steps: int = 24) -> str:
    """Trace the RIM claim of a realm's token back to the RMI calls that built it.

    The "return" event of each successful REALM_CREATE, DATA_CREATE, RTT_INIT_RIPAS and (runnable)
    REC_CREATE in ``p.events`` carries the RIM after that command: the text lists each step and
    the RIM after it, then REALM_ACTIVATE (which freezes it), then the RIM claim (44238) the RMM
    puts in every token of this realm.

    Parameters
    ----------
    p : Platform
    rd : int or RealmHandle
        The realm (its RD address, or anything with an ``rd`` attribute).
    token : bytes, Token or Verification, optional
        A token to compare: does its RIM claim equal this realm's RIM?
    max_steps : int
        Long builds keep their first and last steps.

    Spec: RMM DEN0137 1.0-rel0, A7.1.1 "Realm Initial Measurement" (the RIM and the commands
    that extend it), A7.2 "Attestation token" (the RIM claim).
    """
    from .realm import _rd_of, rim_steps, short_hex

    rd = _rd_of(rd)
    steps = rim_steps(p, rd)
    realm = p.rmm.realms.get(rd)
    lines = [f"Where the RIM claim comes from: the realm at RD {rd:#x}",
             "The host built the realm with RMI calls; at each measured one the RMM hashed a descriptor holding "
             "the RIM so far:"]
    if not steps:
        lines.append("  (no measured RMI call of this realm is in the event log)")
    shown = list(enumerate(steps, 1))
    gap = 0
    if len(shown) > max_steps:
        head = max_steps // 2
        gap = len(shown) - max_steps
        shown = shown[:head] + [None] + shown[-(max_steps - head):]
    for item in shown:
        if item is None:
            lines.append(f"  ... {gap} more steps ...")
            continue
        k, st = item
        lines.append(f"  {k:>3}. #{st.seq:<6} {_provenance_step(st)}")
        lines.append(f"              -> RIM {short_hex(st.rim)}")
    activate = [e for e in p.events.of_kind("rmi") if e.data.get("phase") == "return"
                and e.data.get("command") == "RMI_REALM_ACTIVATE" and tuple(e.data.get("args", ()))[:1] == (rd,)
                and not e.data.get("failure")]
    if activate:
        lines.append(f"       #{activate[-1].seq:<6} REALM_ACTIVATE: the realm is ACTIVE; the RIM is frozen from "
                     "here on")
    if realm is None:
        lines.append("The realm no longer exists.")
        rim = steps[-1].rim if steps else None
    else:
        rim = bytes(realm.measurements[0])
        lines.append(f"RIM now: {rim.hex()}")
    if rim is not None:
        lines.append(f"In every token of this realm: realm claim 44238 (cca-realm-initial-measurement) = "
                     f"{short_hex(rim)}, the value a verifier looks its reference values up by.")
    if token is not None:
        try:
            claim = _token(token).realm["cca-realm-initial-measurement"]
        except Exception as exc:  # noqa: BLE001 - a bad token is reported in the text
            lines.append(f"The token given does not decode: {exc}")
        else:
            if rim is not None and claim == rim:
                lines.append(f"The token's RIM claim {short_hex(claim)} is this realm's RIM: it comes from the "
                             "steps above.")
            else:
                lines.append(f"The token's RIM claim {short_hex(claim)} is NOT this realm's RIM: another realm "
                             "(or another build) made it.")
    lines.append("Change any measured page, its IPA, the RIPAS ranges or the REC's entry state, and every RIM "
                 "after that step changes.")
    return "\n".join(lines)


__all__ = ["claims_tree_text", "draw_token", "verification_text", "draw_verification", "appraisal_text",
           "measurement_provenance_text", "STEP_QUESTIONS", "STEP_FILLS", "STEP_WORDS", "PART_FILLS"]
