"""Lab 05: be the verifier. Check the binding, provision reference values, diagnose bad tokens.

Three exercises on one seeded fleet of machines, all in :class:`Exercise` (:func:`make_exercise`):

1. **The binding** (``lab.binding_tokens``). The learner's ``binding_holds(token)`` decodes a
   token (with :func:`ccalab.attest.decode`), hashes the RAK claim (44237) *exactly as carried*
   with the algorithm claim 44240 names, and compares the digest with the platform challenge
   (claim 10). The tokens mix genuine ones (both envelopes) with a swapped platform token, a
   forger's RAK, and tokens made to catch the usual slips: the realm's *other* hash algorithm
   (44236, the RIM's), SHA-256 taken for granted, the decoded key's raw point hashed instead of
   the claim's bytes. The verifier's own binding step may not run while the learner's does.
2. **Reference values** (``lab.owner``, :class:`Owner`). The learner's ``provision(owner)``
   returns the :class:`~ccalab.attest.ReferenceValues` a verifier needs to affirm the owner's
   realm and nothing else: the manufacturer's platform values, and the realm's RIM and RPV,
   worked out from what the owner knows (the image and its configuration) *before* anything is
   deployed. The checker deploys the realm, a realm whose image the host patched, one the host
   personalized with another RPV, and the realm on a machine configured differently, and
   appraises each token with the learner's values.
3. **Diagnosis** (``lab.cases``, :class:`Case`). Three tokens a verifier refused. The learner's
   ``diagnose(case)`` returns ``(step, cause)``: the first verification step that fails (one of
   :data:`ccalab.attest.STEPS`) and why, one of :data:`CAUSES`. Two causes fail the same step
   (``binding``); telling them apart takes a token from the same realm known to be good.

The learner's answers are one dict, ``{"binding": binding_holds, "provision": provision,
"diagnose": diagnose}``; :func:`check` judges each exercise on fresh machines of the seed and
explains every mistake.

Lab: ``labs/05-be-the-verifier.ipynb``. Notebook that introduces the ideas:
``notebooks/05-attestation.ipynb`` (which also uses :func:`published_vector`).

Spec: draft-ffm-rats-cca-token ("Token Binding", "Verification", the claim CDDL); Arm CCA RMM
DEN0137 1.0-rel0, A7.1 "Realm measurements" (the RIM, the RPV is not measured) and A7.2
"Attestation token"; Veraison services ``scheme/arm-cca`` (reference values looked up by
implementation ID and by RIM; RPV, configuration and lifecycle rules).
"""

from __future__ import annotations

import hashlib
import html
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import progress as _progress
from .hints import Hint, pick_hint
from .result import ExercisesResult, learner_line

MiB = 1 << 20
#: The DRAM of the lab's machines (memory is allocated lazily), and of the machine configured differently.
DRAM, LARGE_DRAM = 256 * MiB, 512 * MiB
EXERCISE_ID = "lab05-be-the-verifier"
_MAX_MESSAGES = 14

#: Why a token is refused: cause -> (the verification step it fails first, what happened).
CAUSES = {
    "malformed": ("syntax", "the bytes are not a well-formed CCA token (cut short, or built wrongly)"),
    "unknown-platform": ("trust_anchor", "the platform token comes from a machine the verifier has no endorsed "
                                         "CPAK for"),
    "edited-platform": ("platform_signature", "someone changed the platform claims after the CPAK signed them"),
    "forged-realm": ("realm_signature", "someone other than the RAK signed the realm claims"),
    "other-platform": ("binding", "the platform token of another (known, genuine) machine was swapped in"),
    "substituted-rak": ("binding", "a forger put its own key in the RAK claim and signed the realm claims with it"),
    "replayed": ("freshness", "an old token, made for another nonce, is presented again"),
}


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"the seed is an int, got {seed!r}")
    return int(seed)


def _rng(seed: int, what: str) -> random.Random:
    return random.Random(f"ccalab-lab05-{seed}-{what}")


def _machine(seed: int, which: str, dram: int = DRAM):
    """A machine of the lab's fleet with its own CPAK (derived from the seed and ``which``)."""
    from ..firmware.attestation import install
    from ..platform import Platform

    p = Platform(dram_size=dram)
    install(p, f"ccalab lab05 {seed} {which}")
    return p


def _fleet_anchor(*machines):
    """A trust-anchor store endorsing the CPAK of each machine."""
    from ..attest import TrustAnchorStore

    store = TrustAnchorStore()
    for m in machines:
        a = m.attestation
        store.add(a.cpak_public_pem(), a.implementation_id, a.instance_id)
    return store


def _owner_config(seed: int):
    from ..firmware.attestation import ATTESTER
    from ..host import RealmConfig

    rng = _rng(seed, "owner")
    return RealmConfig(program=ATTESTER, ram_size=rng.choice((2, 4)) * MiB,
                       hash_algo=rng.choice(("sha256", "sha512")), arg=rng.randrange(1, 1 << 16),
                       rpv=f"tenant {rng.randrange(1000, 9999)}: payroll, production".encode())


def _nonce(rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(64))


# ==================================================================================================
# Exercise 1: the binding
# ==================================================================================================
#: The kinds of token of exercise 1: kind -> (does the binding hold, what the token is).
BINDING_KINDS = {
    "genuine-cmw": (True, "a genuine token, CMW envelope: the RAK claim is a COSE_Key"),
    "genuine-legacy": (True, "a genuine token, legacy envelope: the RAK claim is a raw point"),
    "swapped-platform": (False, "another machine's platform token: it vouches for another RAK"),
    "forger-rak": (False, "a forger's key in the RAK claim: the platform vouched for the genuine one"),
    "stronger-binding": (True, "claim 44240 names a longer hash than sha-256, and the platform used it"),
    "rim-hash-differs": (True, "claim 44236 (the RIM's hash) is sha-512, claim 44240 (the binding's) sha-256"),
    "hash-mismatch": (False, "claim 44240 names one hash, but the challenge is the sha-256 of the claim"),
    "raw-point-hashed": (False, "the challenge is the hash of the RAK's raw point, not of the COSE_Key carried"),
}


def _crafted(seed: int, k: int, *, cose_key: bool, rim_alg: str, bind_alg: str, challenge_of: str,
             challenge_alg: str):
    """A token of a test platform of this seed with chosen algorithms: its platform challenge is
    ``challenge_alg`` of the RAK claim (``challenge_of="claim"``) or of the RAK's raw point."""
    from ..attest import claims as cl
    from ..attest import cose, encode_collection
    from ..firmware.attestation import IMPLEMENTATION_ID, derive_p384_key

    rng = _rng(seed, f"crafted-{k}")
    cpak = derive_p384_key(f"ccalab lab05 {seed}".encode(), b"test platform CPAK")
    rak = derive_p384_key(f"ccalab lab05 {seed}".encode(), b"test RAK %d" % k)
    rak_claim = cose.cose_key_from_key(rak) if cose_key else cose.raw_point_from_key(rak)
    hashed = rak_claim if challenge_of == "claim" else cose.raw_point_from_key(rak)
    size = cl.HASH_ALGORITHMS[rim_alg]().digest_size
    realm = {"cca-realm-challenge": _nonce(rng)}
    if cose_key:
        realm["cca-realm-profile"] = cl.REALM_PROFILE
    realm.update({
        "cca-realm-personalization-value": bytes(64),
        "cca-realm-hash-algo-id": rim_alg,
        "cca-realm-public-key": rak_claim,
        "cca-realm-initial-measurement": bytes(rng.getrandbits(8) for _ in range(size)),
        "cca-realm-extensible-measurements": [bytes(size)] * 4,
        "cca-realm-public-key-hash-algo-id": bind_alg,
    })
    platform = {
        "cca-platform-profile": cl.PLATFORM_PROFILE if cose_key else cl.PLATFORM_PROFILE_LEGACY,
        "cca-platform-challenge": cl.HASH_ALGORITHMS[challenge_alg](hashed).digest(),
        "cca-platform-implementation-id": IMPLEMENTATION_ID,
        "cca-platform-instance-id": b"\x01" + hashlib.sha256(cose.raw_point_from_key(cpak)).digest(),
        "cca-platform-config": bytes.fromhex("0000000010000000" "1000281e30"),
        "cca-platform-lifecycle": 0x3000,
        "cca-platform-sw-components": [{"measurement-type": "RMM", "measurement-value": bytes(32),
                                        "signer-id": bytes(32)}],
        "cca-platform-hash-algo-id": "sha-256",
    }
    return encode_collection(cose.sign1(cl.encode_claims(platform, "platform"), cpak),
                             cose.sign1(cl.encode_claims(realm, "realm"), rak), "cmw" if cose_key else "legacy")


def _binding_tokens(seed: int, machine, realm, other) -> list:
    """``[(kind, token), ...]`` of exercise 1, in the seed's order."""
    from ..firmware.attestation import resign_realm_token, swap_platform_token

    rng = _rng(seed, "binding")
    svc = machine.attestation
    cmw = realm.attestation_token(_nonce(rng))
    svc.envelope = "legacy"
    try:
        legacy = realm.attestation_token(_nonce(rng))
    finally:
        svc.envelope = "cmw"
    strong = rng.choice(("sha-384", "sha-512"))
    out = [
        ("genuine-cmw", cmw),
        ("genuine-legacy", legacy),
        ("swapped-platform", swap_platform_token(realm.attestation_token(_nonce(rng)), other)),
        ("forger-rak", resign_realm_token(realm.attestation_token(_nonce(rng)), replace_rak=True)),
        ("stronger-binding", _crafted(seed, 0, cose_key=rng.random() < 0.5, rim_alg="sha-256", bind_alg=strong,
                                      challenge_of="claim", challenge_alg=strong)),
        ("rim-hash-differs", _crafted(seed, 1, cose_key=rng.random() < 0.5, rim_alg="sha-512", bind_alg="sha-256",
                                      challenge_of="claim", challenge_alg="sha-256")),
        ("hash-mismatch", _crafted(seed, 2, cose_key=rng.random() < 0.5, rim_alg="sha-256",
                                   bind_alg=rng.choice(("sha-384", "sha-512")), challenge_of="claim",
                                   challenge_alg="sha-256")),
        ("raw-point-hashed", _crafted(seed, 3, cose_key=True, rim_alg="sha-256", bind_alg="sha-256",
                                      challenge_of="raw", challenge_alg="sha-256")),
    ]
    rng.shuffle(out)
    return out


# ==================================================================================================
# Exercise 2: reference values
# ==================================================================================================
class Owner:
    """What the realm's owner knows before the realm is deployed (exercise 2).

    Attributes
    ----------
    config : RealmConfig
        The realm the owner will ask the host to build: its program and image, RAM size, hash
        algorithm, boot argument, and ``config.rpv``, the personalization value the host is to set
        (the RMM reports it zero-padded to 64 bytes).
    seed : int
    """

    def __init__(self, seed: int, machine=None):
        self.seed = seed
        self.config = _owner_config(seed)
        self._machine = machine

    def manufacturer_values(self):
        """The platform reference values the manufacturer publishes for the machines of this fleet
        (implementation ID, configuration, firmware measurements), as a new
        :class:`~ccalab.attest.ReferenceValues` holding no realm value yet."""
        if self._machine is None:
            self._machine = _machine(self.seed, "a")
        return self._machine.attestation.add_reference_values()

    def __str__(self) -> str:
        c = self.config
        return (f"The owner's realm (seed {self.seed}): program {c.program!r}, {c.ram_size >> 20} MiB of RAM, "
                f"{c.hash_algo}, boot argument {c.arg:#x}, RPV {c.rpv!r}; owner.manufacturer_values() "
                "for the platform")

    __repr__ = __str__


#: The deployments exercise 2 appraises: name -> (must the appraisal affirm it, what it is).
DEPLOYMENTS = {
    "genuine": (True, "the owner's realm, as configured, on a machine of the fleet"),
    "patched image": (False, "the host patched one page of the image before building the realm"),
    "other RPV": (False, "the host personalized the realm with an RPV of its own choosing"),
    "other platform config": (False, "the owner's realm on a fleet machine with a configuration the manufacturer "
                                     "did not endorse (twice the DRAM)"),
}


def _deploy(seed: int) -> dict:
    """name -> (token, nonce, trust anchor, realm RIM) for each deployment of :data:`DEPLOYMENTS`."""
    import dataclasses

    from ..firmware.attestation import rebuild_with_changed_page
    from ..host import Host

    rng = _rng(seed, "deploy")
    cfg = _owner_config(seed)
    m = _machine(seed, "a")
    large = _machine(seed, "large", LARGE_DRAM)
    anchor = _fleet_anchor(m, large)
    host = Host(m)
    good = host.build_realm(cfg)
    out = {}
    n = _nonce(rng)
    out["genuine"] = (good.attestation_token(n), n, anchor, good.rim)
    patched = rebuild_with_changed_page(good, b"host was here", 0x900)
    n = _nonce(rng)
    out["patched image"] = (patched.attestation_token(n), n, anchor, patched.rim)
    vmid = next(v for v in range(1, 1 << 16) if v not in {r.vmid for r in m.rmm.realms.values()})
    other_rpv = host.build_realm(dataclasses.replace(cfg, rpv=b"the host's own choice", vmid=vmid))
    n = _nonce(rng)
    out["other RPV"] = (other_rpv.attestation_token(n), n, anchor, other_rpv.rim)
    on_large = Host(large).build_realm(cfg)
    n = _nonce(rng)
    out["other platform config"] = (on_large.attestation_token(n), n, anchor, on_large.rim)
    return out


# ==================================================================================================
# Exercise 3: diagnosis
# ==================================================================================================
@dataclass(frozen=True)
class Case:
    """A token a verifier refused (exercise 3).

    ``token`` and ``nonce``: what the relying party received and the nonce it had sent.
    ``trust_anchor``: the verifier's endorsed CPAKs (a :class:`~ccalab.attest.TrustAnchorStore`).
    ``known_good`` and ``known_good_nonce``: a token the same realm gave earlier, which verified.
    """

    number: int
    token: bytes
    nonce: bytes
    trust_anchor: object
    known_good: bytes
    known_good_nonce: bytes

    def __str__(self) -> str:
        return (f"case {self.number}: a {len(self.token)}-byte token, the nonce {self.nonce[:6].hex()}..., "
                f"and a known-good token of the same realm")

    __repr__ = __str__


def _edited_platform(token: bytes, lifecycle: int) -> bytes:
    """``token`` with its platform lifecycle claim changed and the CPAK's signature kept."""
    from ..attest import cbor, cose, decode, encode_collection

    t = decode(token)
    claims = dict(cbor.loads(t.platform_cose.payload))
    claims[2395] = lifecycle
    msg = t.platform_cose
    edited = cose.Sign1(msg.protected, msg.unprotected, cbor.dumps(claims), msg.signature, msg.headers,
                        msg.tagged).encode()
    return encode_collection(edited, t.realm_bytes, "cmw" if t.envelope == "cmw-907" else "legacy")


def _cases(seed: int, machine, realm, other, stranger) -> list:
    """``[(cause, Case), ...]``: the three cases of ``seed``."""
    from ..firmware.attestation import resign_realm_token, swap_platform_token

    rng = _rng(seed, "cases")
    binding = rng.choice(("other-platform", "substituted-rak"))
    rest = rng.sample([c for c in CAUSES if c not in ("other-platform", "substituted-rak")], 2)
    causes = [binding] + rest
    rng.shuffle(causes)
    svc = machine.attestation
    anchor = _fleet_anchor(machine, other)
    # the debug-mode token comes first: changing the lifecycle signs a new platform token
    svc.lifecycle = 0x5000
    debug_nonce = _nonce(rng)
    debug_token = realm.attestation_token(debug_nonce)
    svc.lifecycle = 0x3000
    out = []
    for number, cause in enumerate(causes, 1):
        good_nonce = _nonce(rng)
        known_good = realm.attestation_token(good_nonce)
        nonce = _nonce(rng)
        if cause == "replayed":
            token = realm.attestation_token(_nonce(rng))
        elif cause == "malformed":
            full = realm.attestation_token(nonce)
            token = full[:len(full) - rng.randrange(20, 200)]
        elif cause == "unknown-platform":
            token = swap_platform_token(realm.attestation_token(nonce), stranger)
        elif cause == "edited-platform":  # the debug-mode token, its lifecycle claim edited to "secured"
            token = _edited_platform(debug_token, 0x3000)
            nonce = debug_nonce
        elif cause == "forged-realm":
            token = resign_realm_token(realm.attestation_token(nonce))
        elif cause == "other-platform":
            token = swap_platform_token(realm.attestation_token(nonce), other)
        else:  # substituted-rak
            token = resign_realm_token(realm.attestation_token(nonce), replace_rak=True)
        out.append((cause, Case(number, token, nonce, anchor, known_good, good_nonce)))
    return out


# ==================================================================================================
# The lab
# ==================================================================================================
class Exercise:
    """The three exercises of ``seed``.

    ``machine`` (a :class:`~ccalab.Platform`) runs ``realm``, an attester realm (ask it for tokens
    with ``lab.realm.attestation_token(nonce)``); ``trust_anchor`` endorses the fleet's machines.
    ``binding_tokens`` (exercise 1), ``owner`` (exercise 2), ``cases`` (exercise 3).
    """

    def __init__(self, seed: int = 0):
        from ..host import Host, RealmConfig

        self.seed = _check_seed(seed)
        self.machine = _machine(self.seed, "a")
        self.other = _machine(self.seed, "b")
        self.stranger = _machine(self.seed, "stranger")
        self.realm = Host(self.machine).build_realm(RealmConfig(program="attester"))
        self.trust_anchor = _fleet_anchor(self.machine, self.other)
        self._binding = _binding_tokens(self.seed, self.machine, self.realm, self.other)
        self.binding_tokens = tuple(tok for _kind, tok in self._binding)
        self.owner = Owner(self.seed, self.machine)
        self._cases = _cases(self.seed, self.machine, self.realm, self.other, self.stranger)
        self.cases = tuple(case for _cause, case in self._cases)

    def __str__(self) -> str:
        return (f"Lab 05 (seed {self.seed}): be the verifier\n"
                f"  1. lab.binding_tokens: {len(self.binding_tokens)} tokens: does each one's platform vouch for its "
                "RAK?\n"
                f"  2. lab.owner: {self.owner}\n"
                f"  3. lab.cases: {len(self.cases)} refused tokens: which step fails, and why?\n"
                "  to explore: lab.machine, lab.realm (an attester realm), lab.trust_anchor")

    __repr__ = __str__


def make_exercise(seed: int = 0) -> Exercise:
    """The exercises of ``seed``: the same seed always gives the same kinds of token, owner and
    cases (signatures differ from run to run: ECDSA signing is randomized)."""
    return Exercise(seed)


class LabResult(ExercisesResult):
    """What :func:`check` found: ``passed``, the problems (``messages``), one line per item checked
    (``probes``), and which exercises passed (``exercises``: {1: bool, 2: bool, 3: bool})."""


# --- running the learner's code ------------------------------------------------------------------
_ATTEST_DIR = Path(__file__).resolve().parents[1] / "attest"
#: Files whose code does the binding check for you: the learner's binding_holds may not run it.
_FORBIDDEN = {str(_ATTEST_DIR / "verify.py"), str(_ATTEST_DIR / "appraise.py"),
              str(Path(__file__).resolve().parents[1] / "viz" / "attest.py")}


def _run_watched(fn, *args):
    """``(result, exception, names of the verifier's functions that ran)`` for ``fn(*args)``."""
    seen = set()
    files = {}

    def prof(frame, event, arg):
        if event != "call":
            return
        f = frame.f_code.co_filename
        bad = files.get(f)
        if bad is None:
            bad = files[f] = (str(Path(f).resolve()) if f and not f.startswith("<") else f) in _FORBIDDEN
        if bad:
            seen.add(frame.f_code.co_name)

    old = sys.getprofile()
    sys.setprofile(prof)
    try:
        result, exc = fn(*args), None
    except Exception as e:  # the learner's code: explained, never raised
        result, exc = None, e
    finally:
        sys.setprofile(old)
    return result, exc, sorted(seen)


def _explain_exception(exc: BaseException, call: str) -> str:
    text = f"your {call} raised {type(exc).__name__}: {exc}{learner_line(exc)}."
    s = str(exc)
    if isinstance(exc, TypeError) and "positional argument" in s and not learner_line(exc):
        want = {"binding_holds(token)": "one parameter, the token bytes", "provision(owner)": "one parameter, owner",
                "diagnose(case)": "one parameter, case"}[call]
        text += f" The checker calls {call}: your function must take {want}."
    elif isinstance(exc, KeyError):
        text += (" decode(token).platform and .realm are dicts keyed by claim name: 'cca-platform-challenge', "
                 "'cca-realm-public-key', 'cca-realm-public-key-hash-algo-id' ...")
    elif call.startswith("binding") and ("unsupported hash type" in s or "'hashlib' has no attribute" in s):
        text += (" Claim 44240 names the hash as IANA does ('sha-256', 'sha-384', 'sha-512'); hashlib spells them "
                 "'sha256' ... : use ccalab.attest.claims.HASH_ALGORITHMS[name], or drop the dash.")
    return text


# --- judging exercise 1 ---------------------------------------------------------------------------
def _binding_variants(token: bytes) -> dict:
    """What a few common mistakes would answer for ``token``: name -> bool."""
    from ..attest import claims as cl
    from ..attest import cose, decode

    t = decode(token)
    rak, ch = t.realm["cca-realm-public-key"], t.platform["cca-platform-challenge"]
    bind, rim = t.realm["cca-realm-public-key-hash-algo-id"], t.realm["cca-realm-hash-algo-id"]
    try:
        key = (cose.key_from_cose_key(rak) if cl.rak_is_cose_key(t.realm)
               else cose.key_from_raw_point(rak, curve="P-384"))
        raw = cose.raw_point_from_key(key)
    except cose.CoseError:
        raw = rak
    return {"right": cl.HASH_ALGORITHMS[bind](rak).digest() == ch,
            "rim-hash": cl.HASH_ALGORITHMS[rim](rak).digest() == ch,
            "sha-256": hashlib.sha256(rak).digest() == ch,
            "raw-point": cl.HASH_ALGORITHMS[bind](raw).digest() == ch}


_BINDING_MISTAKES = {
    "rim-hash": "Your answers are what hashing with claim 44236 (cca-realm-hash-algo-id) gives. That claim names the "
                "hash of the RIM and the REMs; the binding uses claim 44240 (cca-realm-public-key-hash-algo-id). "
                "The two may differ.",
    "sha-256": "Your answers are what SHA-256 always gives. Claim 44240 names the binding's hash, and a platform may "
               "use sha-384 or sha-512: hash with the algorithm the token names.",
    "raw-point": "Your answers are what hashing the decoded key's raw point gives. The platform hashed the RAK claim "
                 "exactly as carried: in a CMW token that is a 107-byte COSE_Key, not the 97-byte point inside it.",
}


def _as_bool(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return None


def _judge_binding(lab: Exercise, fn, msgs: list, probes: list) -> bool:
    if fn is None:
        msgs.append("Exercise 1: answers has no 'binding' function: write binding_holds(token) and put it in answers.")
        return False
    if not callable(fn):
        msgs.append(f"Exercise 1: answers['binding'] must be your function binding_holds, not a {type(fn).__name__}.")
        return False
    got = []
    for k, (kind, token) in enumerate(lab._binding, 1):
        result, exc, forbidden = _run_watched(fn, token)
        if forbidden:
            entry = [n for n in ("verify", "appraise", "claims_tree_text", "draw_token", "_binding") if n in forbidden]
            msgs.append(f"Exercise 1: your binding_holds ran the verifier's own binding check (through "
                        f"{', '.join(entry or forbidden[:3])}). Write the check yourself: decode the token, hash the "
                        "RAK claim, compare with the challenge.")
            probes.append((False, "exercise 1: the verifier's own binding check ran"))
            return False
        if exc is not None:
            msgs.append("Exercise 1: " + _explain_exception(exc, "binding_holds(token)"))
            probes.append((False, f"exercise 1: token {k} raised"))
            return False
        b = _as_bool(result)
        if b is None:
            msgs.append(f"Exercise 1: binding_holds must return True or False, got {result!r} for token {k}"
                        + (" (compare the digest with the challenge: digest == challenge)"
                           if isinstance(result, (bytes, bytearray)) else "") + ".")
            probes.append((False, f"exercise 1: token {k} gave {type(result).__name__}"))
            return False
        got.append(b)
    truth = [BINDING_KINDS[kind][0] for kind, _ in lab._binding]
    if got == truth:
        probes.append((True, f"exercise 1: the binding of all {len(truth)} tokens judged right"))
        return True
    variants = [_binding_variants(tok) for _kind, tok in lab._binding]
    named = [name for name in _BINDING_MISTAKES if got == [v[name] for v in variants]]
    if named:
        msgs.append("Exercise 1: " + _BINDING_MISTAKES[named[0]])
    elif all(got):
        msgs.append("Exercise 1: binding_holds said True for every token, but some platform tokens vouch for another "
                    "RAK. Compare the hash of the RAK claim with the platform challenge.")
    elif not any(got):
        msgs.append("Exercise 1: binding_holds said False for every token, genuine ones included: hash the RAK "
                    "claim's bytes exactly as decode() gives them (t.realm['cca-realm-public-key']).")
    for k, ((kind, token), g, want) in enumerate(zip(lab._binding, got, truth), 1):
        if g == want:
            probes.append((True, f"exercise 1, token {k}: {'holds' if want else 'does not hold'}"))
            continue
        probes.append((False, f"exercise 1, token {k}: you said {g}"))
        if not named:
            from ..attest import decode

            t = decode(token)
            alg = t.realm["cca-realm-public-key-hash-algo-id"]
            msgs.append(f"Exercise 1, token {k} ({t.envelope}, claim 44240 = {alg!r}, claim 44236 = "
                        f"{t.realm['cca-realm-hash-algo-id']!r}, RAK claim {len(t.realm['cca-realm-public-key'])} "
                        f"bytes): the binding {'holds' if want else 'does not hold'}, you said {g}.")
    return False


# --- judging exercise 2 ---------------------------------------------------------------------------
def _as_reference_values(v):
    from ..attest import ReferenceValues

    if isinstance(v, ReferenceValues):
        return v, None
    if v is None:
        return None, ("provision returned None. It must return the ReferenceValues it built (did it forget "
                      "`return rv`?).")
    if isinstance(v, (dict, str, bytes)):
        try:
            return ReferenceValues.from_json(v), None
        except (ValueError, TypeError, KeyError, OSError) as exc:
            return None, f"provision returned a {type(v).__name__} that is not reference values: {exc}"
    return None, f"provision must return a ccalab.attest.ReferenceValues, got the {type(v).__name__} {v!r:.40}."


def _explain_genuine(result, rv, owner: Owner) -> list:
    from ..attest import ear

    out = []
    plat, realm = result["CCA_SSD_PLATFORM"], result["CCA_REALM"]
    ptv, rtv = plat.trust_vector, realm.trust_vector
    if not rv.platform:
        out.append("no platform reference values: start from owner.manufacturer_values(), the values the "
                   "manufacturer publishes for the fleet.")
    elif ptv["executables"] != ear.APPROVED_RUNTIME or ptv["configuration"] not in (ear.APPROVED_CONFIG, ear.NO_CLAIM):
        out.append("the platform's firmware or configuration does not match your platform values: use "
                   "owner.manufacturer_values() as it is. " + " ".join(plat.reasons[-2:]))
    token_rim = result.verification.token.realm["cca-realm-initial-measurement"]
    token_rpv = result.verification.token.realm["cca-realm-personalization-value"]
    if rtv["executables"] == ear.UNRECOGNIZED_RUNTIME and not rv.realm_for(token_rim):
        yours = ", ".join(r.rim[:8].hex() + "..." for r in rv.realm) or "none"
        out.append(f"the realm's RIM {token_rim[:8].hex()}... ({len(token_rim)} bytes) is not among your realm "
                   f"values (yours: {yours}). The RIM is what the RMM computes while the host builds the realm: "
                   "build owner.config yourself (on a machine of your own) and read its .rim, or predict it.")
    elif rtv["executables"] == ear.UNRECOGNIZED_RUNTIME:
        out.append("the RIM matches, but your REM values do not: this realm never extends its REMs (all zero); leave "
                   "rems out, or give four zero values of the RIM's size.")
    elif rtv["executables"] == ear.CONTRAINDICATED_RUNTIME:
        ref = rv.realm_for(token_rim)[0]
        padded = bytes(owner.config.rpv).ljust(64, b"\0")
        if ref.rpv is not None and ref.rpv != token_rpv and ref.rpv == bytes(owner.config.rpv):
            out.append(f"your RPV is owner.config.rpv as it is ({len(ref.rpv)} bytes), but the token carries 64 bytes: "
                       "the RMM keeps RmiRealmParams.rpv, which the host filled with the value zero-padded to 64. "
                       f"Provision {padded[:12].hex()}... (64 bytes).")
        else:
            out.append("the RIM matches, but " + "; ".join(realm.reasons[-1:]))
    return out


def _judge_provision(seed: int, fn, msgs: list, probes: list) -> bool:
    from ..attest import appraise

    if fn is None:
        msgs.append("Exercise 2: answers has no 'provision' function: write provision(owner) and put it in answers.")
        return False
    if not callable(fn):
        msgs.append(f"Exercise 2: answers['provision'] must be your function provision, not a {type(fn).__name__}.")
        return False
    owner = Owner(seed)
    try:
        got = fn(owner)
    except Exception as exc:  # the learner's code: explained, never raised
        msgs.append("Exercise 2: " + _explain_exception(exc, "provision(owner)"))
        probes.append((False, "exercise 2: provision raised"))
        return False
    rv, problem = _as_reference_values(got)
    if rv is None:
        msgs.append("Exercise 2: " + problem)
        probes.append((False, "exercise 2: no reference values"))
        return False
    ok = True
    for name, (token, nonce, anchor, _rim) in _deploy(seed).items():
        want, what = DEPLOYMENTS[name]
        result = appraise(token, rv, trust_anchor=anchor, nonce=nonce)
        if result.affirming == want:
            probes.append((True, f"exercise 2, {name}: {'affirmed' if want else 'refused'}"))
            continue
        ok = False
        probes.append((False, f"exercise 2, {name}: {'refused' if want else 'affirmed'}, should be "
                              f"{'affirmed' if want else 'refused'}"))
        if name == "genuine":
            why = _explain_genuine(result, rv, owner) or [result.text()]
            msgs.append("Exercise 2: the owner's own realm was not affirmed: " + " ".join(why))
        elif name == "patched image":
            msgs.append(f"Exercise 2: {what}, and your values affirmed it. Provision only the RIM of the owner's "
                        "image, nothing copied from a running realm.")
        elif name == "other RPV":
            msgs.append(f"Exercise 2: {what} (its RIM is the same: the RPV is not measured), and your values "
                        "affirmed it. The RPV is reported in the token: provision the owner's (rpv=...) so a "
                        "realm personalized otherwise is refused.")
        else:
            msgs.append(f"Exercise 2: {what}, and your values affirmed it: the platform configuration (claim 2401) "
                        "was not checked. Keep the configuration of owner.manufacturer_values().")
    return ok


# --- judging exercise 3 ---------------------------------------------------------------------------
def _as_diagnosis(v):
    if isinstance(v, dict):
        v = (v.get("step"), v.get("cause"))
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, str) for x in v):
        return v[0], v[1]
    return None


def _judge_diagnose(lab: Exercise, fn, msgs: list, probes: list) -> bool:
    from ..attest import STEPS, decode, verify

    if fn is None:
        msgs.append("Exercise 3: answers has no 'diagnose' function: write diagnose(case) and put it in answers.")
        return False
    if not callable(fn):
        msgs.append(f"Exercise 3: answers['diagnose'] must be your function diagnose, not a {type(fn).__name__}.")
        return False
    ok = True
    for cause, case in lab._cases:
        want_step = CAUSES[cause][0]
        try:
            got = fn(case)
        except Exception as exc:  # the learner's code: explained, never raised
            msgs.append(f"Exercise 3, case {case.number}: " + _explain_exception(exc, "diagnose(case)"))
            probes.append((False, f"exercise 3, case {case.number}: raised"))
            ok = False
            continue
        d = _as_diagnosis(got)
        if d is None:
            msgs.append(f"Exercise 3, case {case.number}: diagnose must return (step, cause), two strings, e.g. "
                        f"('freshness', 'replayed'); got {got!r}.")
            probes.append((False, f"exercise 3, case {case.number}: not (step, cause)"))
            ok = False
            continue
        step, said = d
        problems = []
        if step not in STEPS:
            problems.append(f"{step!r} is not a verification step (they are {', '.join(STEPS)})")
        elif step != want_step:
            s = verify(case.token, case.trust_anchor, nonce=case.nonce)[step]
            if s.passed:
                problems.append(f"step {step} passes for this token")
            elif s.passed is None:
                problems.append(f"step {step} does not even run for this token ({s.explanation})")
            else:
                problems.append(f"step {step} fails, but an earlier step fails first")
        if said not in CAUSES:
            problems.append(f"{said!r} is not one of the causes ({', '.join(CAUSES)})")
        elif said != cause:
            if CAUSES[said][0] != want_step:
                problems.append(f"the cause {said!r} would make {CAUSES[said][0]} fail first, not {want_step}"
                                if step == want_step else f"the cause {said!r} does not fit this token")
            else:  # the two binding causes
                t, g = decode(case.token), decode(case.known_good)
                same_platform = (t.platform["cca-platform-instance-id"] == g.platform["cca-platform-instance-id"])
                same_rak = t.realm["cca-realm-public-key"] == g.realm["cca-realm-public-key"]
                problems.append(f"both 'other-platform' and 'substituted-rak' break the binding; compare with "
                                f"case.known_good: the platform instance ID (claim 256) is "
                                f"{'the same' if same_platform else 'different'}, the RAK claim (44237) "
                                f"{'the same' if same_rak else 'different'}")
        if problems:
            ok = False
            msgs.append(f"Exercise 3, case {case.number}: you said ({step!r}, {said!r}): " + "; ".join(problems) + ".")
            probes.append((False, f"exercise 3, case {case.number}: not right"))
        else:
            probes.append((True, f"exercise 3, case {case.number}: {step} fails first ({cause})"))
    return ok


@_progress.recorded(EXERCISE_ID)  # every check is an attempt in the learner's progress store
def check(answers, seed: int = 0) -> LabResult:
    """Judge ``answers = {"binding": binding_holds, "provision": provision, "diagnose": diagnose}``
    on fresh machines of ``seed``: each exercise on its own, every mistake explained. Never raises."""
    try:
        seed = _check_seed(seed)
    except TypeError as exc:
        return LabResult(False, [f"check(answers, seed=...): {exc}"], seed=seed, exercises={})
    if answers is None:
        return LabResult(False, ["`answers` is None. Pass the dict of your three functions: check(answers, "
                                 "seed=SEED)."], seed=seed, exercises={})
    if not isinstance(answers, dict):
        return LabResult(False, ["check needs the dict answers = {'binding': binding_holds, 'provision': provision, "
                                 f"'diagnose': diagnose}}, got a {type(answers).__name__}."], seed=seed, exercises={})
    msgs, probes = [], []
    unknown = [k for k in answers if k not in ("binding", "provision", "diagnose")]
    if unknown:
        msgs.append(f"answers has keys {unknown!r} that no exercise reads: use 'binding', 'provision' and 'diagnose'.")
    lab = Exercise(seed)
    done = {1: _judge_binding(lab, answers.get("binding"), msgs, probes),
            2: _judge_provision(seed, answers.get("provision"), msgs, probes),
            3: _judge_diagnose(lab, answers.get("diagnose"), msgs, probes)}
    if len(msgs) > _MAX_MESSAGES:
        msgs = msgs[:_MAX_MESSAGES] + [f"... and {len(msgs) - _MAX_MESSAGES} more; fix these first."]
    passed = all(done.values()) and not msgs
    summary = (f"the binding of {len(lab.binding_tokens)} tokens judged; reference values that affirm the owner's "
               f"realm and refuse {len(DEPLOYMENTS) - 1} impostors; {len(lab.cases)} refused tokens diagnosed.")
    return LabResult(passed, msgs, probes, seed=seed, summary=summary, exercises=done)


HINTS = (
    "Exercise 1: t = decode(token); the RAK claim is t.realm['cca-realm-public-key'] (bytes, exactly as carried), "
    "the challenge t.platform['cca-platform-challenge'], and the binding's hash is named by "
    "t.realm['cca-realm-public-key-hash-algo-id'] (claim 44240), not by 'cca-realm-hash-algo-id' (44236).",
    "Exercise 1: HASH_ALGORITHMS (from ccalab.attest.claims) maps 'sha-256', 'sha-384', 'sha-512' to hashlib "
    "functions: HASH_ALGORITHMS[name](rak_claim).digest() == challenge.",
    "Exercise 2: rv = owner.manufacturer_values() gives the platform; the realm needs its RIM and its RPV. The RIM "
    "is not in any token you have: build owner.config on a machine of your own, "
    "Host(Platform(dram_size=256 << 20)).build_realm(owner.config).rim, and the RPV is owner.config.rpv zero-padded "
    "to 64 bytes. Then rv.add_realm(rim, rpv=...).",
    "Exercise 3: v = verify(case.token, case.trust_anchor, nonce=case.nonce); v.failed_step is the first step that "
    "fails, and each cause of CAUSES says which step it breaks (CAUSES[cause][0]).",
    "Exercise 3, binding: compare decode(case.token) with decode(case.known_good). Another machine's platform token: "
    "the platform instance ID (claim 256) differs, the RAK claim is the realm's own. A substituted RAK: the platform "
    "is the same machine, the RAK claim differs.",
)


def hint(n: int = 1) -> Hint:
    """The ``n``-th hint (1 to 5), each giving a little more away."""
    return pick_hint(HINTS, n)


# --- a published token, for notebook 05 ------------------------------------------------------------
@dataclass(frozen=True)
class PublishedVector:
    """A CCA token published with its verification key and reference values (public TEST data)."""

    token: bytes  #: ``cca_token.cbor``: the ``tf-rmm`` test vector of Veraison ccatoken (legacy envelope, ES384)
    cpak_pem: str  #: ``cca_platform.pub``: the CPAK that signed its platform token
    reference_values: str  #: ``rv.json``: reference values in rust-ccatoken's layout (JSON text)
    folder: Path  #: where the files were found

    def _repr_html_(self) -> str:
        return (f"<p>Published vector from <code>{html.escape(str(self.folder))}</code>: a "
                f"{len(self.token)}-byte token, its CPAK and reference values.</p>")


_VECTOR_FILES = ("cca_token.cbor", "cca_platform.pub", "rv.json")


def _vector_folders() -> list:
    from .catalog import course_root

    here = Path(__file__).resolve().parent / "data" / "attestation"
    root = course_root()
    return [here, root / "ccalab" / "course" / "data" / "attestation", root / "tests" / "data" / "attestation"]


def published_vector() -> PublishedVector:
    """A published token (Veraison ccatoken's ``tf-rmm`` test vector, first in TrustedFirmware-M's
    ``iat-verifier`` test data), with the key that verifies it and rust-ccatoken's reference values
    for it: a real-world token for the verifier of :mod:`ccalab.attest`.

    The files are read from ``ccalab/course/data/attestation`` next to this module, else from the
    course folder's copy of it (a wheel install leaves data files out) or its
    ``tests/data/attestation``; FileNotFoundError if none has them.
    """
    for folder in _vector_folders():
        if all((folder / f).is_file() for f in _VECTOR_FILES):
            return PublishedVector((folder / "cca_token.cbor").read_bytes(),
                                   (folder / "cca_platform.pub").read_text(encoding="ascii"),
                                   (folder / "rv.json").read_text(encoding="utf-8"), folder)
    raise FileNotFoundError("the published CCA vectors (cca_token.cbor, cca_platform.pub, rv.json) are in neither "
                            + " nor ".join(str(f) for f in _vector_folders()))


__all__ = ["Exercise", "Owner", "Case", "LabResult", "CAUSES", "BINDING_KINDS", "DEPLOYMENTS", "EXERCISE_ID",
           "make_exercise", "check", "hint", "published_vector", "PublishedVector"]
