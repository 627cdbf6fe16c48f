"""Decode a CCA attestation token into its two signed halves, and wrap two halves into a token.

A CCA token is a CBOR collection of two COSE_Sign1 messages: the platform token under key 44234
and the realm token under key 44241. Two envelopes exist:

==============  =================================================  ==================================
``cmw-907``     ``907({44234: [263, bstr], 44241: [263, bstr]})``  RMM 1.1 and later (TF-RMM default)
``legacy-399``  ``399({44234: bstr, 44241: bstr})``                RMM 1.0
==============  =================================================  ==================================

263 is the CoAP content format of ``application/eat+cwt``; each bstr holds a COSE_Sign1 message.
:func:`decode` checks the whole syntax (envelope, COSE structure, every claim rule of
:mod:`ccalab.attest.claims`) but **no signature**: that is :func:`ccalab.attest.verify`'s job.

Spec: draft-ffm-rats-cca-token, "Collection" (tags 399 and 907, labels 0xACCA/0xACD1);
draft-ietf-rats-msg-wrap (CMW collections, ``[content-format, bstr]`` records); TF-RMM
``attestation_token.c`` (``TAG_CCA_TOKEN 907``, ``COAP_EAT_CWT_TYPE 263``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..errors import CCALabError
from . import cbor, cose
from .claims import ClaimError, check_claims

#: CBOR tag of the CMW collection form (RMM 1.1 and later).
TAG_CMW_COLLECTION = 907
#: CBOR tag of the legacy collection form (RMM 1.0).
TAG_LEGACY_COLLECTION = 399
#: CoAP content format of ``application/eat+cwt``: the type of each CMW record.
COAP_EAT_CWT = 263
#: Collection label of the platform token (0xACCA).
PLATFORM_LABEL = 44234
#: Collection label of the realm ("delegated") token (0xACD1).
REALM_LABEL = 44241
#: Envelope names, by tag.
ENVELOPES = {TAG_CMW_COLLECTION: "cmw-907", TAG_LEGACY_COLLECTION: "legacy-399"}
#: Largest token this verifier decodes. Real tokens are 1-3 KiB; the RMM's attestation buffer
#: is a few granules.
MAX_TOKEN_SIZE = 64 * 1024

_FORMS = {"cmw": TAG_CMW_COLLECTION, "cmw-907": TAG_CMW_COLLECTION, 907: TAG_CMW_COLLECTION,
          "legacy": TAG_LEGACY_COLLECTION, "legacy-399": TAG_LEGACY_COLLECTION,
          399: TAG_LEGACY_COLLECTION}


class TokenError(CCALabError, ValueError):
    """The bytes are not a well-formed CCA token. ``part`` says where: ``envelope``, ``platform``
    or ``realm``."""

    def __init__(self, message: str, part: str = "envelope"):
        super().__init__(message)
        self.part = part


@dataclasses.dataclass(frozen=True, eq=False)
class Token:
    """A decoded (not yet verified) CCA attestation token."""

    envelope: str  #: ``"cmw-907"`` or ``"legacy-399"``
    platform: dict  #: platform claims by name (see ``claims.PLATFORM_CLAIMS``)
    realm: dict  #: realm claims by name (see ``claims.REALM_CLAIMS``)
    platform_cose: cose.Sign1  #: the platform COSE_Sign1 (protected header, payload, signature)
    realm_cose: cose.Sign1  #: the realm COSE_Sign1
    platform_bytes: bytes  #: the platform COSE_Sign1 exactly as carried in the collection
    realm_bytes: bytes  #: the realm COSE_Sign1 exactly as carried in the collection
    raw: bytes  #: the whole token

    @property
    def tag(self) -> int:
        """The collection's CBOR tag (907 or 399)."""
        return TAG_CMW_COLLECTION if self.envelope == "cmw-907" else TAG_LEGACY_COLLECTION

    def __str__(self) -> str:
        lines = [f"CCA token, {len(self.raw)} bytes, envelope {self.envelope}"]
        for part, claims, msg in (("platform", self.platform, self.platform_cose),
                                  ("realm", self.realm, self.realm_cose)):
            lines.append(f"  {part} token ({_alg_name(msg)}, {len(msg.payload)}-byte payload)")
            for name, value in claims.items():
                lines.append(f"    {name}: {_show(name, value)}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle) -> None:  # how IPython and Jupyter show it: the claims
        p.text(str(self))


def decode(token_bytes) -> Token:
    """Decode and syntax-check a CCA token in either envelope; signatures are not checked.

    Parameters
    ----------
    token_bytes : bytes-like
        The token as the realm received it from RSI_ATTESTATION_TOKEN_CONTINUE.

    Returns
    -------
    Token
        The envelope name, both claim sets by name and both COSE_Sign1 messages.

    Raises
    ------
    TokenError
        Naming the first rule broken: not CBOR, another tag, a wrong envelope shape (a bare
        COSE_Sign1 where a bstr belongs, a missing or extra label), a malformed COSE_Sign1, or a
        claim that breaks its profile (see :func:`ccalab.attest.claims.check_claims`).

    Spec: draft-ffm-rats-cca-token, "Collection" and the claim CDDL; RFC 9052 section 4.2.
    """
    if not isinstance(token_bytes, (bytes, bytearray, memoryview)):
        raise TypeError(f"a CCA token is bytes, got {type(token_bytes).__name__}")
    raw = bytes(token_bytes)
    if len(raw) > MAX_TOKEN_SIZE:
        raise TokenError(f"the token is {len(raw)} bytes; this verifier accepts at most {MAX_TOKEN_SIZE}")
    try:
        top = cbor.loads(raw, what="the token")
    except cbor.CBORSyntaxError as e:
        raise TokenError(str(e)) from None
    if not isinstance(top, cbor.Tag):
        raise TokenError(f"the token is {cbor.kind(top)}, not a tagged collection (tag 907 or 399)")
    if top.tag not in ENVELOPES:
        raise TokenError(f"the token has CBOR tag {top.tag}; a CCA token is tagged 907 (CMW "
                         f"collection) or 399 (legacy collection)")
    envelope = ENVELOPES[top.tag]
    body = top.value
    if not isinstance(body, Mapping):
        raise TokenError(f"the {envelope} collection must be a map, got {cbor.kind(body)}")
    for label in body:
        if isinstance(label, bool) or not isinstance(label, int) or label not in (PLATFORM_LABEL, REALM_LABEL):
            raise TokenError(f"the {envelope} collection has the unexpected label {label!r} "
                             f"(only 44234 platform and 44241 realm belong there)")
    entries = {}
    for label, part in ((PLATFORM_LABEL, "platform"), (REALM_LABEL, "realm")):
        if label not in body:
            raise TokenError(f"the {envelope} collection has no {part} token (label {label})")
        entries[part] = _entry_bytes(body[label], envelope, label, part)
    messages, named = {}, {}
    for part, data in entries.items():
        try:
            messages[part] = cose.decode_sign1(data, what=f"the {part} token")
        except cose.CoseError as e:
            raise TokenError(str(e), part) from None
        try:
            payload = cbor.loads(messages[part].payload, what=f"the {part} claims")
        except cbor.CBORSyntaxError as e:
            raise TokenError(str(e), part) from None
        try:
            named[part] = check_claims(payload, part)
        except ClaimError as e:
            raise TokenError(str(e), part) from None
    return Token(envelope, named["platform"], named["realm"], messages["platform"], messages["realm"],
                 entries["platform"], entries["realm"], raw)


def _entry_bytes(entry, envelope, label, part) -> bytes:
    where = f"{envelope} collection entry {label} ({part})"
    if envelope == "cmw-907":
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise TokenError(f"the {where} must be a CMW record [263, bstr], got {cbor.kind(entry)}", part)
        ctype, entry = entry
        if ctype != COAP_EAT_CWT or isinstance(ctype, bool):
            raise TokenError(f"the {where} has content format {ctype!r}; a CCA token part is "
                             f"{COAP_EAT_CWT} (application/eat+cwt)", part)
    if not isinstance(entry, bytes):
        bare = isinstance(entry, (cbor.Tag, list, tuple))
        hint = " (a COSE_Sign1 must be wrapped in a bstr here)" if bare else ""
        raise TokenError(f"the {where} must hold a bstr, got {cbor.kind(entry)}{hint}", part)
    return entry


def encode_collection(platform_cose_bytes: bytes, realm_cose_bytes: bytes, form: str = "cmw") -> bytes:
    """Wrap a signed platform token and a signed realm token into one CCA token.

    Parameters
    ----------
    platform_cose_bytes, realm_cose_bytes : bytes
        The two COSE_Sign1 messages (e.g. from :func:`ccalab.attest.cose.sign1`).
    form : {"cmw", "legacy"}
        ``"cmw"`` gives ``907({44234: [263, p], 44241: [263, r]})`` (RMM 1.1 and later);
        ``"legacy"`` gives ``399({44234: p, 44241: r})`` (RMM 1.0).

    Spec: draft-ffm-rats-cca-token, "Collection"; TF-RMM ``attestation_token.c``.
    """
    tag = _FORMS.get(form)
    if tag is None:
        raise ValueError(f"form is 'cmw' or 'legacy', not {form!r}")
    p, r = bytes(platform_cose_bytes), bytes(realm_cose_bytes)
    if tag == TAG_CMW_COLLECTION:
        body = {PLATFORM_LABEL: [COAP_EAT_CWT, p], REALM_LABEL: [COAP_EAT_CWT, r]}
    else:
        body = {PLATFORM_LABEL: p, REALM_LABEL: r}
    return cbor.dumps(cbor.Tag(tag, body))


def _alg_name(msg: cose.Sign1) -> str:
    try:
        return msg.algorithm.name
    except cose.CoseError:
        return f"alg {msg.alg!r}"


def _show(name, value) -> str:
    if isinstance(value, bytes):
        return _hex(value)
    if name == "cca-platform-lifecycle":
        from .lifecycle import describe

        return describe(value)
    if name == "cca-platform-sw-components":
        return "".join(f"\n      - {', '.join(f'{k}: {_show(k, v)}' for k, v in c.items())}" for c in value)
    if name == "cca-realm-extensible-measurements":
        return "[" + ", ".join(_hex(m) for m in value) + "]"
    return repr(value)


def _hex(b: bytes, limit: int = 16) -> str:
    text = b.hex()
    if len(b) > limit:
        text = b[:limit].hex() + "…"
    return f"{text} ({len(b)} B)"


__all__ = ["Token", "TokenError", "decode", "encode_collection", "TAG_CMW_COLLECTION",
           "TAG_LEGACY_COLLECTION", "COAP_EAT_CWT", "PLATFORM_LABEL", "REALM_LABEL", "ENVELOPES",
           "MAX_TOKEN_SIZE"]
