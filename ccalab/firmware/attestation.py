"""The platform's attestation service: the keys and signatures behind a CCA attestation token.

On an Arm CCA system two parties sign a realm's attestation token:

* the **HES/RSE**, the platform's hardware root of trust, holds the CCA Platform Attestation Key
  (CPAK). At each boot it generates a Realm Attestation Key (RAK), hands the RAK to the RMM, and
  signs one **platform token** whose challenge is the hash of the RAK's public key;
* the **RMM** signs a **realm token** with the RAK for every RSI_ATTESTATION_TOKEN_INIT, and
  returns both tokens, wrapped in one collection, through RSI_ATTESTATION_TOKEN_CONTINUE.

:class:`AttestationService` plays the HES/RSE part and the RMM's signing part for one
:class:`~ccalab.platform.Platform`. The RMM reaches it through ``platform.rmm.token_provider``,
which :func:`install` sets (``platform.attestation`` creates and installs one on first use).

================  ===========================================================================
key               in this model
================  ===========================================================================
CPAK              P-384, derived from the platform's seed: the same seed gives the same key, so
                  a notebook's trust anchor stays valid from run to run
RAK               P-384, derived from the seed and the boot counter: one per boot
================  ===========================================================================

A realm gets its token from inside, as a realm kernel does: :func:`attestation_token` (or
``RealmHandle.attestation_token``) runs the :data:`ATTESTER` guest program, which receives the
challenge in the registers of a host call, asks the RMM for the token with
RSI_ATTESTATION_TOKEN_INIT/CONTINUE, and hands it back through the page it shares with the host.

The tamper tools at the end (:func:`resign_realm_token`, :func:`swap_platform_token`,
:func:`replay`, :func:`rebuild_with_changed_page`) make the broken tokens and realms a verifier
must refuse.

Spec: Arm CCA RMM DEN0137 1.0-rel0, A7.2 "Attestation token" (the token, the RAK, the delegated
model) and RSI_ATTESTATION_TOKEN_INIT/CONTINUE; draft-ffm-rats-cca-token ("Token Binding",
"Collection", the platform and realm claims); TF-RMM ``app/attestation`` (what the RMM puts in
the realm token, ``sha-256`` for the RAK hash).
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import struct

from ..errors import CCALabError
from ..guest.cpu import RsiError
from ..guest.programs import boot_args, program
from .rmm.measurement import HashAlgo

#: The seed of a platform's keys when none is given: every such machine has the same CPAK.
DEFAULT_SEED = b"ccalab platform 0"
#: The seed :func:`other_platform` uses: a second machine of the same implementation.
OTHER_SEED = b"ccalab platform 1"

#: Order of the P-384 group (SEC 2 v2, section 2.5.1: secp384r1 ``n``).
P384_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973

#: Implementation ID (claim 2396): names the platform *design*, the same for every ccalab machine.
IMPLEMENTATION_ID = hashlib.sha256(b"ccalab: Arm CCA platform model, Base FVP memory map").digest()
#: Lifecycle (claim 2395) of a production machine: secured, RoT debug locked.
LIFECYCLE_SECURED = 0x3000
#: Signer ID of the firmware components (sw-component key 5). ccalab's firmware is not signed;
#: this stands for the hash of the vendor's image signing key.
FIRMWARE_SIGNER_ID = hashlib.sha256(b"ccalab: firmware image signing key (stand-in)").digest()
#: Verification service indicator (claim 2400): a hint only, in the reserved ``.example`` domain.
VERIFICATION_SERVICE = "https://veraison.example/challenge-response/v1/"
#: Hash algorithm of the platform measurements (claim 2402) and of the RAK binding (claim 44240).
PLATFORM_HASH = "sha-256"
RAK_HASH = "sha-256"
#: The realm token's hash-algo-id (claim 44236) for each RmiHashAlgorithm.
REALM_HASH_NAMES = {HashAlgo.SHA_256: "sha-256", HashAlgo.SHA_512: "sha-512"}
#: Envelope names :attr:`AttestationService.envelope` accepts, and what each means.
ENVELOPES = {"cmw": "cmw", "cmw-907": "cmw", "legacy": "legacy", "legacy-399": "legacy"}

#: The guest program that fetches tokens for the host (see :func:`attester`).
ATTESTER = "attester"
#: Host-call immediates of the attester protocol (RSI_HOST_CALL ``imm``).
HOST_CALL_CHALLENGE = 0xCCA0  #: the realm asks for a challenge
HOST_CALL_TOKEN = 0xCCA1  #: the realm hands over a piece of the token in the shared page
HOST_CALL_FAILED = 0xCCA2  #: an RSI call failed; X0 = RSI status, X1 = 0 (INIT) or 1 (CONTINUE)
#: Commands the host answers a challenge request with (in X0 of the host call's result).
CMD_ATTEST = 0x4154_5445_5354  # "ATTEST": X1..X8 = the challenge, X9 = CONTINUE chunk size
CMD_POWER_OFF = 0x4F46_46  # "OFF": power the realm off
#: Bytes the shared page holds.
SHARED_PAGE = 4096

_FIRMWARE_DIR = pathlib.Path(__file__).resolve().parent
_MEASUREMENTS = None


class AttestationError(CCALabError, RuntimeError):
    """The realm could not obtain a token (an RSI call failed, or the realm stopped answering)."""


# ---------------------------------------------------------------------------------------------
# Keys and measurements

def derive_p384_key(seed: bytes, label: bytes):
    """A P-384 private key derived from ``seed`` and ``label``, the same every time.

    The scalar is ``SHA-512("ccalab key" || label || seed) mod (n - 1) + 1``: 512 bits reduced
    modulo the 384-bit group order, so it is uniform to within 2^-128 and never zero.

    Spec: SEC 1 v2, section 3.2.1 (a private key is an integer in [1, n-1]); FIPS 186-5, A.2.1
    (key generation from extra random bits, the method used here with a hash as the source).
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    digest = hashlib.sha512(b"ccalab key\0" + bytes(label) + b"\0" + bytes(seed)).digest()
    scalar = int.from_bytes(digest, "big") % (P384_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP384R1())


def _source_digest(files) -> bytes:
    """SHA-256 over source files: each contributes its path (relative to ``ccalab``), its length
    and its bytes, in path order, so renaming, moving or editing a file changes the digest."""
    root = _FIRMWARE_DIR.parent
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        data = path.read_bytes()
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + struct.pack("<Q", len(data)) + data)
    return h.digest()


def firmware_measurements() -> dict:
    """The measurements of the platform firmware: component type -> SHA-256 digest.

    ============  ========================================================================
    ``BL2``       ``ccalab/platform.py``: the boot stage. The model has no BL1 or BL2 code;
                  ``Platform.__init__`` does their job (lays out memory, boots the monitor,
                  loads the RMM), so its source stands for the BL1/BL2 image
    ``BL31``      ``ccalab/firmware/monitor.py``: the EL3 monitor
    ``RMM``       ``ccalab/firmware/rmm/**/*.py``: the RMM, its RMI and RSI handlers included
    ============  ========================================================================

    The digests are of the source files as installed, so they change whenever the firmware
    does: the reference values of one ccalab version do not match another's. Computed once per
    process.

    Spec: draft-ffm-rats-cca-token, CDDL ``cca-platform-sw-components`` (a measurement is the
    hash of the component as loaded); TF-A measured boot (BL2 measures BL31 and the RMM image).
    """
    global _MEASUREMENTS
    if _MEASUREMENTS is None:
        _MEASUREMENTS = {
            "BL2": _source_digest([_FIRMWARE_DIR.parent / "platform.py"]),
            "BL31": _source_digest([_FIRMWARE_DIR / "monitor.py"]),
            "RMM": _source_digest((_FIRMWARE_DIR / "rmm").rglob("*.py")),
        }
    return dict(_MEASUREMENTS)


def _as_seed(seed) -> bytes:
    if isinstance(seed, str):
        return seed.encode("utf-8")
    if isinstance(seed, (bytes, bytearray, memoryview)):
        return bytes(seed)
    raise TypeError(f"a seed is bytes or str, got {type(seed).__name__}")


def _form(envelope) -> str:
    if envelope not in ENVELOPES:
        raise ValueError(f"the envelope is 'cmw' (tag 907, RMM 1.1 and later) or 'legacy' (tag 399, "
                         f"RMM 1.0), not {envelope!r}")
    return ENVELOPES[envelope]


# ---------------------------------------------------------------------------------------------
# The service

class AttestationService:
    """The HES/RSE and the RMM's token signing for one platform.

    Parameters
    ----------
    platform : Platform
        The machine whose realms are attested (its parameters go into the config claim).
    seed : bytes or str
        Where the CPAK and the RAKs come from. A real CPAK is provisioned into the HES/RSE
        (generated inside it or injected at manufacture) and its private part never leaves it; a
        real RAK is a fresh random key each boot. Deriving both from a seed makes every run of a
        notebook produce the same trust anchor.
    envelope : {"cmw", "legacy"}
        How tokens are wrapped: the CMW collection (tag 907, RMM 1.1 and later; realm profile
        present, RAK as a COSE_Key) or the RMM 1.0 collection (tag 399; no realm profile, RAK as
        a raw point). Can be changed at any time.
    lifecycle : int
        Claim 2395 (default 0x3000, secured). Setting another value re-signs the platform token.
    boot : int
        The boot counter: each boot has its own RAK (:meth:`reboot` moves to the next).

    Nothing expensive happens here: keys are derived and the platform token is signed when first
    needed.

    Spec: Arm CCA RMM DEN0137 1.0-rel0, A7.2 "Attestation token" (the RAK and the two tokens);
    draft-ffm-rats-cca-token, "Token Binding" (the delegated model).
    """

    def __init__(self, platform, seed=DEFAULT_SEED, *, envelope: str = "cmw",
                 lifecycle: int = LIFECYCLE_SECURED, boot: int = 0):
        self.platform = platform
        self.seed = _as_seed(seed)
        self._envelope = _form(envelope)
        self._lifecycle = self._check_lifecycle(lifecycle)
        if isinstance(boot, bool) or not isinstance(boot, int) or boot < 0:
            raise ValueError(f"the boot counter is an int >= 0, got {boot!r}")
        self.boot = boot
        self._cpak = None
        self._rak = None
        self._platform_tokens = {}  # envelope form -> the CPAK-signed platform token of this boot

    # --- configuration ----------------------------------------------------------------------
    @property
    def envelope(self) -> str:
        """``"cmw"`` (tag 907) or ``"legacy"`` (tag 399): the form of the tokens the RMM returns."""
        return self._envelope

    @envelope.setter
    def envelope(self, value) -> None:
        self._envelope = _form(value)

    @property
    def lifecycle(self) -> int:
        """The lifecycle claim (2395). Setting it signs a new platform token for this boot."""
        return self._lifecycle

    @lifecycle.setter
    def lifecycle(self, value) -> None:
        self._lifecycle = self._check_lifecycle(value)
        self._platform_tokens.clear()

    @staticmethod
    def _check_lifecycle(value) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise ValueError(f"the lifecycle claim is a 16-bit unsigned int, got {value!r}")
        return value

    # --- the CPAK -----------------------------------------------------------------------------
    @property
    def _cpak_key(self):
        if self._cpak is None:
            self._cpak = derive_p384_key(self.seed, b"CPAK")
        return self._cpak

    def cpak_public_key(self):
        """The CPAK's public key (a ``cryptography`` P-384 key)."""
        return self._cpak_key.public_key()

    def cpak_public_pem(self) -> str:
        """The CPAK's public key as PEM text: the trust anchor a verifier needs for this machine
        (``ccalab.attest.verify(token, service.cpak_public_pem())``)."""
        from cryptography.hazmat.primitives import serialization

        return self.cpak_public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    @property
    def implementation_id(self) -> bytes:
        """Claim 2396 (32 bytes): the platform design, shared by every ccalab machine."""
        return IMPLEMENTATION_ID

    @property
    def instance_id(self) -> bytes:
        """Claim 256 (33 bytes): ``0x01`` (UEID type RAND) then SHA-256 of the CPAK's public key
        as an uncompressed point. It names this machine's CPAK, so a verifier can look it up.

        Spec: draft-ffm-rats-cca-token, CDDL ``cca-platform-instance-id``; RFC 9711 (EAT)
        ``ueid`` type 0x01 (RAND).
        """
        from ..attest import cose

        return b"\x01" + hashlib.sha256(cose.raw_point_from_key(self.cpak_public_key())).digest()

    def trust_anchor_store(self):
        """A :class:`~ccalab.attest.TrustAnchorStore` endorsing this CPAK for this machine's
        implementation and instance IDs (what Veraison provisions as an attest-key triple)."""
        from ..attest import TrustAnchorStore

        return TrustAnchorStore().add(self.cpak_public_pem(), self.implementation_id, self.instance_id)

    # --- the RAK ------------------------------------------------------------------------------
    @property
    def _rak_key(self):
        if self._rak is None:
            self._rak = derive_p384_key(self.seed, b"RAK" + struct.pack("<Q", self.boot))
        return self._rak

    def rak_public_key(self):
        """The public key of this boot's RAK (the private part belongs to the RMM)."""
        return self._rak_key.public_key()

    def rak_claim(self, envelope=None) -> bytes:
        """Claim 44237 as the RMM writes it: a COSE_Key (``cmw``, realm profile present) or the raw
        97-byte point ``0x04 || X || Y`` (``legacy``, no realm profile)."""
        from ..attest import cose

        form = self._envelope if envelope is None else _form(envelope)
        if form == "cmw":
            return cose.cose_key_from_key(self._rak_key)
        return cose.raw_point_from_key(self._rak_key)

    def reboot(self) -> "AttestationService":
        """Start the next boot: a new RAK, and a new platform token vouching for it. The CPAK
        stays. Tokens of earlier boots still verify; they just carry another RAK."""
        self.boot += 1
        self._rak = None
        self._platform_tokens.clear()
        return self

    # --- the platform token -----------------------------------------------------------------
    @property
    def config(self) -> bytes:
        """Claim 2401: the machine's configuration as the monitor set it up at boot, big-endian:
        DRAM size (8 bytes), granule size (2), PPS, L0GPTSZ and PAMAX (1 byte each)."""
        p = self.platform.params
        return struct.pack(">QHBBB", p["dram_size"], p["pgs"], p["pps"], p["l0gptsz"], p["pamax"])

    def sw_components(self) -> list:
        """Claim 2399: one entry per measured firmware component (see :func:`firmware_measurements`)."""
        from .._version import __version__

        return [{"measurement-type": name, "measurement-value": value, "version": __version__,
                 "signer-id": FIRMWARE_SIGNER_ID, "measurement-description": PLATFORM_HASH}
                for name, value in firmware_measurements().items()]

    def platform_claims(self, envelope=None) -> dict:
        """The platform claims of this boot, by name. The challenge is ``SHA-256(RAK claim)``.

        Spec: draft-ffm-rats-cca-token, CDDL ``cca-platform-claims`` and "Token Binding".
        """
        from ..attest import claims

        form = self._envelope if envelope is None else _form(envelope)
        return {
            "cca-platform-profile": claims.PLATFORM_PROFILE if form == "cmw" else claims.PLATFORM_PROFILE_LEGACY,
            "cca-platform-challenge": claims.HASH_ALGORITHMS[RAK_HASH](self.rak_claim(form)).digest(),
            "cca-platform-implementation-id": self.implementation_id,
            "cca-platform-instance-id": self.instance_id,
            "cca-platform-config": self.config,
            "cca-platform-lifecycle": self._lifecycle,
            "cca-platform-sw-components": self.sw_components(),
            "cca-platform-service-indicator": VERIFICATION_SERVICE,
            "cca-platform-hash-algo-id": PLATFORM_HASH,
        }

    def platform_token(self, envelope=None) -> bytes:
        """The CPAK-signed platform token (a COSE_Sign1, ES384) of this boot, signed once per boot
        and envelope form and then reused for every realm: it carries no realm's freshness."""
        from ..attest import claims, cose

        form = self._envelope if envelope is None else _form(envelope)
        tok = self._platform_tokens.get(form)
        if tok is None:
            tok = cose.sign1(claims.encode_claims(self.platform_claims(form), "platform"), self._cpak_key)
            self._platform_tokens[form] = tok
            self.platform.events.append("attest", "HES", f"platform token signed by the CPAK for boot "
                                        f"{self.boot} ({form} form, {len(tok)} bytes)", boot=self.boot,
                                        envelope=form)
        return tok

    # --- the realm token --------------------------------------------------------------------
    def _realm(self, realm):
        if hasattr(realm, "measurements"):
            return realm
        rd = getattr(realm, "rd", realm)
        if rd not in self.platform.rmm.realms:
            raise ValueError(f"no realm with RD {rd!r} on this platform")
        return self.platform.rmm.realms[rd]

    def realm_claims(self, realm, challenge: bytes, envelope=None) -> dict:
        """The realm claims the RMM reports for ``realm`` (a Realm, a RealmHandle or an RD address).

        Parameters
        ----------
        realm : Realm, RealmHandle or int
        challenge : bytes
            The 64 bytes the realm passed to RSI_ATTESTATION_TOKEN_INIT.
        envelope : {"cmw", "legacy"}, optional
            Default: :attr:`envelope`. ``cmw`` adds the realm profile and a COSE_Key RAK.

        Spec: RMM DEN0137 1.0-rel0, A7.2 "Attestation token" (the realm token claims);
        draft-ffm-rats-cca-token, CDDL ``cca-realm-claims``; TF-RMM ``attestation_token.c``.
        """
        from ..attest import claims

        r = self._realm(realm)
        challenge = bytes(challenge)
        if len(challenge) != 64:
            raise ValueError(f"a realm challenge is 64 bytes (RSI_ATTESTATION_TOKEN_INIT X1..X8), "
                             f"got {len(challenge)}")
        form = self._envelope if envelope is None else _form(envelope)
        out = {"cca-realm-challenge": challenge}
        if form == "cmw":
            out["cca-realm-profile"] = claims.REALM_PROFILE
        out.update({
            "cca-realm-personalization-value": bytes(r.rpv),
            "cca-realm-hash-algo-id": REALM_HASH_NAMES[HashAlgo(r.hash_algo)],
            "cca-realm-public-key": self.rak_claim(form),
            "cca-realm-initial-measurement": bytes(r.measurements[0]),
            "cca-realm-extensible-measurements": [bytes(m) for m in r.measurements[1:5]],
            "cca-realm-public-key-hash-algo-id": RAK_HASH,
        })
        return out

    def realm_token(self, realm, challenge: bytes, envelope=None) -> bytes:
        """The RAK-signed realm token (a COSE_Sign1, ES384) for ``realm`` and ``challenge``."""
        from ..attest import claims, cose

        return cose.sign1(claims.encode_claims(self.realm_claims(realm, challenge, envelope), "realm"),
                          self._rak_key)

    def token(self, realm, challenge: bytes, envelope=None) -> bytes:
        """The whole CCA token: this boot's platform token and a new realm token, in one collection.

        This is what the RMM returns through RSI_ATTESTATION_TOKEN_CONTINUE; calling it directly
        skips the realm (use :func:`attestation_token` for the real path).

        Spec: draft-ffm-rats-cca-token, "Collection"; TF-RMM ``attestation_token.c``.
        """
        from ..attest import encode_collection

        form = self._envelope if envelope is None else _form(envelope)
        return encode_collection(self.platform_token(form), self.realm_token(realm, challenge, form), form)

    def token_provider(self, rmm, realm, challenge: bytes) -> bytes:
        """What the RMM calls for RSI_ATTESTATION_TOKEN_INIT: the token, in :attr:`envelope` form."""
        tok = self.token(realm, challenge)
        rmm.platform.events.append("attest", "RMM", f"realm token signed by the RAK for realm "
                                   f"{realm.rd:#x} ({len(tok)}-byte {self._envelope} token)",
                                   rd=realm.rd, envelope=self._envelope)
        return tok

    # --- provisioning helpers -----------------------------------------------------------------
    def add_reference_values(self, reference_values=None):
        """Provision this machine's platform reference values (implementation ID, config,
        sw-components) into ``reference_values`` (a new :class:`~ccalab.attest.ReferenceValues`
        if None), as the platform's manufacturer would; return it."""
        from ..attest import ReferenceValues
        from ..attest.refvalues import SwComponentRef

        rv = ReferenceValues() if reference_values is None else reference_values
        comps = [SwComponentRef(c["measurement-value"], c["signer-id"], c["measurement-type"], c["version"])
                 for c in self.sw_components()]
        return rv.add_platform(self.implementation_id, self.config, comps)

    # --- installation and snapshots -----------------------------------------------------------
    def install(self) -> "AttestationService":
        """Make this the service of its platform: the RMM's token provider and ``platform.attestation``."""
        self.platform.rmm.token_provider = self.token_provider
        self.platform.attestation = self
        return self

    def state(self) -> dict:
        """What a snapshot keeps (the keys are derived again from it)."""
        return {"seed": self.seed, "envelope": self._envelope, "lifecycle": self._lifecycle, "boot": self.boot}

    @classmethod
    def from_state(cls, platform, state: dict) -> "AttestationService":
        """The service :meth:`state` describes, for ``platform``."""
        return cls(platform, state["seed"], envelope=state["envelope"], lifecycle=state["lifecycle"],
                   boot=state["boot"])

    def __repr__(self) -> str:
        return (f"AttestationService(seed={self.seed!r}, envelope={self._envelope!r}, boot={self.boot}, "
                f"lifecycle={self._lifecycle:#06x})")


def install(platform, seed=DEFAULT_SEED, **options) -> AttestationService:
    """Give ``platform`` an attestation service (replacing any) and return it.

    ``options`` are those of :class:`AttestationService` (``envelope``, ``lifecycle``, ``boot``).
    Sets ``platform.rmm.token_provider`` and ``platform.attestation``.
    """
    return AttestationService(platform, seed, **options).install()


# ---------------------------------------------------------------------------------------------
# The realm side: a guest that fetches tokens for the host

@program(ATTESTER)
def attester(cpu):
    """An attestation agent in a realm: it fetches tokens for whoever the host relays.

    The protocol, one round per token:

    1. the realm makes a host call ``imm`` :data:`HOST_CALL_CHALLENGE`; the host answers
       X0 = :data:`CMD_ATTEST`, X1..X8 = the 64-byte challenge, X9 = the CONTINUE chunk size (or
       :data:`CMD_POWER_OFF`; any other answer means "nothing yet, ask again");
    2. the realm calls RSI_ATTESTATION_TOKEN_INIT with the challenge, then
       RSI_ATTESTATION_TOKEN_CONTINUE until SUCCESS, each chunk into its scratch page;
    3. it copies the token into the page it shares with the host, one page at a time, each
       followed by a host call :data:`HOST_CALL_TOKEN` with X0 = token size, X1 = offset,
       X2 = bytes in the page (a failed RSI call gives :data:`HOST_CALL_FAILED` instead);
    4. and asks for the next challenge.

    Registers carry the challenge in (the host may not write the realm's protected memory), and
    the shared page carries the token out (it is too big for registers).
    """
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    if not shared:
        cpu.console.append("attester: no shared page to return tokens through")
        yield from cpu.system_off()
        return
    while True:
        back = yield from cpu.host_call(scratch, HOST_CALL_CHALLENGE)
        if back[0] == CMD_POWER_OFF:
            yield from cpu.system_off()
            return
        if back[0] != CMD_ATTEST:
            continue
        challenge = struct.pack("<8Q", *back[1:9])
        chunk = back[9] or SHARED_PAGE
        try:
            token = yield from cpu.attestation_token(challenge, scratch, chunk)
        except RsiError as exc:
            yield from cpu.host_call(scratch, HOST_CALL_FAILED,
                                     [exc.status, 0 if exc.call.endswith("INIT") else 1])
            continue
        cpu.notes["tokens"] = cpu.notes.get("tokens", 0) + 1
        for offset in range(0, len(token), SHARED_PAGE):
            piece = token[offset:offset + SHARED_PAGE]
            yield from cpu.write(shared, piece)
            yield from cpu.host_call(scratch, HOST_CALL_TOKEN, [len(token), offset, len(piece)])


def _challenge_words(challenge) -> list:
    if not isinstance(challenge, (bytes, bytearray, memoryview)):
        raise TypeError(f"a challenge is bytes, got {type(challenge).__name__}")
    challenge = bytes(challenge)
    if not 0 < len(challenge) <= 64:
        raise ValueError(f"a realm challenge is 1 to 64 bytes (zero-padded to 64), got {len(challenge)}")
    return list(struct.unpack("<8Q", challenge.ljust(64, b"\0")))


def attestation_token(realm, challenge: bytes, *, chunk: int = 4096, max_exits: int = 1000) -> bytes:
    """Ask a realm for an attestation token answering ``challenge``, through RSI, from inside.

    The realm must run the :data:`ATTESTER` program (``RealmConfig(program=ATTESTER)``) with a
    shared page. The host relays the challenge in a host call's registers, and runs the realm
    (servicing its other exits as :meth:`RealmHandle.run` does) until it has handed the token
    back through the shared page; the realm then waits for the next challenge. The token is
    whatever RSI_ATTESTATION_TOKEN_CONTINUE gave the realm, chunk by chunk.

    Parameters
    ----------
    realm : RealmHandle
        A realm the host built (it may already have produced tokens).
    challenge : bytes
        1 to 64 bytes, zero-padded to 64 (as Linux's ``configfs-tsm`` does).
    chunk : int
        Bytes per RSI_ATTESTATION_TOKEN_CONTINUE (1..4096; Linux asks for a granule at a time).
    max_exits : int
        REC exits to allow before giving up.

    Returns
    -------
    bytes
        The token, ready for :func:`ccalab.attest.verify`.

    Raises
    ------
    ValueError
        The realm does not run the attester or has no shared page; a bad challenge or chunk.
    AttestationError
        An RSI call in the realm failed (for instance the RMM has no token provider), or the
        realm stopped.

    Spec: RMM DEN0137 1.0-rel0, RSI_ATTESTATION_TOKEN_INIT/CONTINUE and RSI_HOST_CALL.
    """
    from ..host.builder import RunReport
    from ..host.host import HostError
    from .rmm.exits import ExitReason
    from .rmm.rsi.status import RsiStatus

    cfg = realm.cfg
    if cfg.program != ATTESTER:
        raise ValueError(f"the realm runs {cfg.program!r}; build it with RealmConfig(program={ATTESTER!r}) "
                         f"(ccalab.firmware.attestation.ATTESTER) to fetch tokens from inside it")
    if not cfg.shared:
        raise ValueError("the attester returns its token through the shared page: build the realm with shared=True")
    words = _challenge_words(challenge)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 < chunk <= 4096:
        raise ValueError(f"chunk is 1..4096 bytes, got {chunk!r}")
    answer, runnable, report = {0: (0, ())}, {0}, RunReport()
    received, token = bytearray(), None
    for _ in range(max_exits):
        flags, gprs = answer[0]
        answer[0] = (0, ())
        call, ex = realm.enter(0, flags, gprs)
        if not call.ok:
            raise HostError(call, "could not enter the attester realm")
        if ex["exit_reason"] == ExitReason.HOST_CALL and ex["imm"] == HOST_CALL_CHALLENGE:
            if token is not None:  # the realm waits for the next challenge: this round is done
                return token
            answer[0] = (0, [CMD_ATTEST, *words, chunk])
            continue
        if ex["exit_reason"] == ExitReason.HOST_CALL and ex["imm"] == HOST_CALL_TOKEN:
            total, offset, n = ex["gprs"][:3]
            pa = realm.unprotected[cfg.shared_ipa]
            received[offset:offset + n] = realm.host.peek(pa, n)
            if offset + n >= total:
                token = bytes(received[:total])
            continue
        if ex["exit_reason"] == ExitReason.HOST_CALL and ex["imm"] == HOST_CALL_FAILED:
            status, which = ex["gprs"][:2]
            name = ("RSI_ATTESTATION_TOKEN_INIT", "RSI_ATTESTATION_TOKEN_CONTINUE")[which & 1]
            try:
                what = RsiStatus(status).spec_name
            except ValueError:
                what = f"{status:#x}"
            hint = " (the RMM has no token provider)" if realm.p.rmm.token_provider is None else ""
            raise AttestationError(f"the realm's {name} returned {what}{hint}")
        # every other exit (page faults, the shared page, MMIO): as RealmHandle.run services it
        _, stop = realm._service(0, ex, answer, runnable, report)
        if stop:
            raise AttestationError(f"the attester realm stopped before returning a token: {stop}")
    raise AttestationError(f"no token after {max_exits} REC exits")


# ---------------------------------------------------------------------------------------------
# Tamper tools

def _collection(token_bytes):
    from ..attest import decode

    t = decode(token_bytes)
    return t, ("cmw" if t.envelope == "cmw-907" else "legacy")


def resign_realm_token(token: bytes, key=None, *, replace_rak: bool = False) -> bytes:
    """The token with its realm token signed again by another key: what a forger can do.

    Parameters
    ----------
    token : bytes
        A genuine token.
    key : EllipticCurvePrivateKey, optional
        The forger's P-384 key (default: one derived from the seed ``b"forger"``).
    replace_rak : bool
        False: the realm claims stay as they were, so the RAK they carry no longer verifies the
        signature (``realm_signature`` fails). True: the forger also puts its own key in the RAK
        claim, so the signature verifies, but the platform token vouches for the genuine RAK
        (``binding`` fails).

    Spec: draft-ffm-rats-cca-token, "Token Binding".
    """
    from ..attest import cbor, cose, encode_collection
    from ..attest.claims import rak_is_cose_key

    t, form = _collection(token)
    key = derive_p384_key(b"forger", b"RAK") if key is None else key
    payload = t.realm_cose.payload
    if replace_rak:
        claims_map = dict(cbor.loads(payload, what="the realm claims"))
        claims_map[44237] = (cose.cose_key_from_key(key) if rak_is_cose_key(t.realm)
                             else cose.raw_point_from_key(key))
        payload = cbor.dumps(claims_map)
    return encode_collection(t.platform_bytes, cose.sign1(payload, key), form)


def other_platform(seed=OTHER_SEED, **params):
    """Another machine of the same design with its own CPAK (``seed``); ``params`` go to
    :class:`~ccalab.platform.Platform` (default: a 256 MiB machine)."""
    from ..platform import Platform

    params.setdefault("dram_size", 256 << 20)
    q = Platform(**params)
    install(q, seed)
    return q


def swap_platform_token(token: bytes, other) -> bytes:
    """The token with its platform token replaced by another machine's (same envelope form).

    ``other`` is a Platform, an :class:`AttestationService`, or a token from the other machine.
    Against this machine's CPAK the platform signature fails; against the other machine's CPAK
    the signature holds but the binding fails: that platform never vouched for this RAK.
    """
    from ..attest import decode, encode_collection

    t, form = _collection(token)
    if isinstance(other, (bytes, bytearray, memoryview)):
        theirs = decode(bytes(other)).platform_bytes
    else:
        service = other if isinstance(other, AttestationService) else other.attestation
        theirs = service.platform_token(form)
    return encode_collection(theirs, t.realm_bytes, form)


def replay(token: bytes, nonce: bytes, trust_anchor):
    """Verify an old token against a relying party's *new* nonce, as a replay attack presents it.

    Every signature is genuine and the binding holds: only the ``freshness`` step can tell that
    the token answers another challenge. The returned :class:`~ccalab.attest.Verification` shows
    it: ``failed_step == "freshness"``. A verifier that skips the nonce check (no ``nonce``
    given) would accept the replay.
    """
    from ..attest import verify

    return verify(token, trust_anchor, nonce=nonce)


def rebuild_with_changed_page(realm, data: bytes = b"patched", offset: int = 0x800):
    """Build the realm again with ``data`` written at ``offset`` of its image, and return it.

    The new realm's measured DATA page differs, so its RIM does too: its tokens verify (the
    platform and the RMM are genuine) but reference values provisioned for the original RIM no
    longer match. ``offset`` must leave the boot header (the image's first bytes) alone. The new realm
    gets the next free VMID.

    Spec: RMM DEN0137 1.0-rel0, A7.1 "Realm measurements" (RMI_DATA_CREATE with
    RMI_MEASURE_CONTENT extends the RIM with the page's hash).
    """
    from ..guest.isa import header

    cfg = realm.cfg
    image = bytearray(cfg.image_bytes())
    data = bytes(data)
    start = len(header(cfg.program))
    if offset < start or offset + len(data) > len(image):
        raise ValueError(f"offset {offset:#x} + {len(data)} bytes must lie in the image after its boot header "
                         f"(bytes {start}..{len(image)})")
    image[offset:offset + len(data)] = data
    used = {r.vmid for r in realm.p.rmm.realms.values()}
    vmid = next(v for v in range(1, 1 << 16) if v not in used)
    return realm.host.build_realm(dataclasses.replace(cfg, image=bytes(image), vmid=vmid))


__all__ = ["AttestationService", "AttestationError", "install", "attestation_token", "attester", "ATTESTER",
           "derive_p384_key", "firmware_measurements", "resign_realm_token", "swap_platform_token",
           "other_platform", "replay", "rebuild_with_changed_page", "DEFAULT_SEED", "OTHER_SEED",
           "IMPLEMENTATION_ID", "LIFECYCLE_SECURED", "VERIFICATION_SERVICE", "HOST_CALL_CHALLENGE",
           "HOST_CALL_TOKEN", "HOST_CALL_FAILED", "CMD_ATTEST", "CMD_POWER_OFF"]
