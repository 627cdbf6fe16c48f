"""Lab 03: MECID forensics. Which encryption context does each realm granule belong to?

A machine has run several realms. Each realm's memory was encrypted by the memory encryption
engine under the realm's MECID; two of the realms share one MECID (the RMM's shared MEC policy),
the RMM's own granules (an RD, a REC) use MECID 0, and one realm has been destroyed: its MECID's
key was refreshed (crypto-erase), and the MECID may since have been given to a new realm.

The learner is an investigator with two instruments, both on the :class:`Case` that
:func:`make_exercise` builds:

- ``case.read_as(pa, mecid)``: the engine's test interface, a read in the Realm PAS under a chosen
  MECID (what ``Platform.phys_read(pa, n, PAS.REALM, mecid)`` does);
- ``case.probe(pa)``: a probe on the DRAM bus (``Platform.dram_read``): ciphertext.

The learner writes ``investigate(case)``, which returns ``{granule_pa: mecid}`` for every
granule of ``case.granules``: the MECID (one of ``case.mecids``) under which the granule reads
as the data its owner wrote, or ``None`` for a granule no MECID in use can read any more.
:func:`check` runs it on a fresh machine of the same seed (fresh keys: keys are random per boot)
and compares the answer with how the machine was built.

Lab: ``labs/03-mecid-forensics.ipynb``. Notebook that introduces the ideas:
``notebooks/03-memory-encryption-contexts.ipynb``.

Spec: FEAT_MEC and the RME system architecture as digested in ``spec/mec.md``: section 1 (one
context per PAS, one per Realm MECID), section 4 (a read under another MECID returns the data
decrypted with the wrong key, without a fault; ACS RMLFBL, RBJVZS), section 5 (TF-RMM: MECID 0
for the RMM's own granules, a shared MECID, ``RMM_MEC_REFRESH`` on realm destroy and create),
section 6 (XTS: no integrity).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import numpy as np

from ..arch.pas import PAS
from ..errors import ExternalAbort, GranuleProtectionFault
from . import progress as _progress
from .hints import Hint, pick_hint
from .result import CheckResult, learner_line

KiB, MiB = 1 << 10, 1 << 20
GRANULE = 4096
#: The MECID TF-RMM uses for its own granules (RD, REC, its heap): ``RESERVED_MECID_SYSTEM``.
RMM_MECID = 0
#: Above this many bits of entropy per byte a 4KB granule looks like random bytes (noise reads
#: about 7.95; text, tables and zero pages far less). Used for the checker's explanations only.
NOISE_BITS = 7.5
_MAX_MESSAGES = 12


def _entropy(data: bytes) -> float:
    """Shannon entropy of ``data`` in bits per byte (for the checker's explanations)."""
    if not data:
        return 0.0
    counts = np.bincount(np.frombuffer(bytes(data), np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


# --- what the realms wrote -------------------------------------------------------------------------
_WORDS = ("page", "vcpu", "timer", "virtio", "queue", "attest", "token", "measure", "ipa", "ripas", "ram",
          "block", "net", "rx", "tx", "irq", "balloon", "psci", "hvc", "config")


def _content(kind: str, who: str, rng: random.Random) -> bytes:
    """One 4KB page of what a realm (or the RMM) keeps in memory: structured, never random."""
    if kind == "log":
        lines = []
        t = rng.randrange(1000, 9000)
        while sum(len(x) for x in lines) < GRANULE:
            t += rng.randrange(1, 40)
            lines.append(f"[{t // 1000:5d}.{t % 1000:03d}] {who}: {rng.choice(_WORDS)} {rng.choice(_WORDS)} "
                         f"{rng.randrange(256):#04x} ok\n".encode())
        return b"".join(lines)[:GRANULE]
    if kind == "json":
        items = []
        while sum(len(x) for x in items) < GRANULE:
            items.append(json.dumps({"realm": who, "key": rng.choice(_WORDS), "value": rng.randrange(100)}).encode()
                         + b"\n")
        return b"".join(items)[:GRANULE]
    if kind == "table":  # a table of small little-endian counters
        return np.array([rng.randrange(64) for _ in range(GRANULE // 8)], dtype="<u8").tobytes()
    if kind == "zero":  # a page the realm cleared
        return bytes(GRANULE)
    if kind == "rmm":  # an RMM structure: a few fields, the rest zero
        head = f"{who} state=ACTIVE ipa_width=48 s2_sl=0 vmid={rng.randrange(1, 255)}".encode()
        return head + bytes(GRANULE - len(head))
    raise ValueError(kind)


@dataclass(frozen=True)
class _Realm:
    name: str
    mecid: int
    pages: int
    destroyed: bool = False


def _plan(seed: int):
    """How the machine of ``seed`` is built: the realms, the granules (in the order they are
    written) and who wrote each. Deterministic in ``seed``; keys are not (random per boot)."""
    rng = random.Random(f"ccalab-lab03-{seed}")
    ids = rng.sample(range(2, 48), 4)
    old, private_a, private_b, shared = ids
    reuse = rng.random() < 0.5  # the destroyed realm's MECID went to a new realm
    if reuse:
        private_b = old
    realms = [
        _Realm("realm-old", old, rng.randint(1, 2), destroyed=True),
        _Realm("realm-A", private_a, rng.randint(2, 3)),
        _Realm("realm-B", private_b, rng.randint(2, 3)),
        _Realm("realm-C", shared, rng.randint(1, 2)),
        _Realm("realm-D", shared, rng.randint(1, 2)),
        _Realm("RMM", RMM_MECID, rng.randint(1, 2)),
    ]
    n = sum(r.pages for r in realms)
    slots = rng.sample(range(256), n)
    writes = []  # (granule slot in the window, realm, content kind)
    slot = iter(slots)
    for r in realms:
        for _ in range(r.pages):
            writes.append((next(slot), r, "rmm" if r.name == "RMM" else rng.choice(("log", "json", "table", "zero"))))
    return realms, writes, rng, reuse


#: Where the case's granules live: 1 MB of delegated DRAM, 4 MB into Non-secure DRAM0's range.
WINDOW_OFFSET = 4 * MiB


@dataclass(frozen=True)
class Exercise:
    """The facts of a case that an investigator is given: ``granules`` (the PAs to attribute, in
    address order) and ``mecids`` (the MECIDs the RMM has assigned now, its own 0 included)."""

    seed: int
    granules: tuple
    mecids: tuple


def _window_base() -> int:
    from ..platform import DRAM0_BASE

    return DRAM0_BASE + WINDOW_OFFSET


def _exercise_and_truth(seed: int):
    realms, writes, _, _ = _plan(seed)
    base = _window_base()
    truth = {base + slot * GRANULE: (None if r.destroyed else r.mecid) for slot, r, _ in writes}
    live = sorted({r.mecid for r in realms if not r.destroyed})
    return Exercise(seed, tuple(sorted(truth)), tuple(live)), truth


def _shared_mecid(seed: int) -> int:
    realms = _plan(seed)[0]
    return next(r.mecid for r in realms if r.name == "realm-C")


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"the seed is an int, got {seed!r}")
    return int(seed)


# --- the case: a machine after the realms ran ---------------------------------------------------
class Case:
    """The machine under investigation, and the two instruments.

    ``granules``: the realm granules to attribute (PAs, address order). ``mecids``: the MECIDs the
    RMM has assigned now (0 is its own). ``read_as(pa, mecid, n=4096)`` reads in the Realm PAS
    under ``mecid`` (the engine's test interface); ``probe(pa, n=4096)`` reads DRAM (ciphertext).
    ``platform`` is the whole machine, for exploring.
    """

    def __init__(self, seed: int = 0):
        from ..platform import Platform

        seed = _check_seed(seed)
        self.exercise, _ = _exercise_and_truth(seed)
        realms, writes, rng, reuse = _plan(seed)
        p = Platform(dram_size=512 * MiB)
        self.platform = p
        base = _window_base()
        for pa in self.exercise.granules:
            if p.monitor.gtsi_delegate(pa) != 0:  # pragma: no cover - the window is Non-secure DRAM
                raise RuntimeError(f"could not delegate {pa:#x}")
        # the destroyed realm runs first; then the RMM refreshes its MECID's key (crypto-erase)
        by_realm = {}
        for slot, r, kind in writes:
            by_realm.setdefault(r.name, []).append((base + slot * GRANULE, r, kind))
        for name in ("realm-old", "RMM", "realm-A", "realm-C", "realm-D"):
            self._run(by_realm[name], rng)
        old = next(r for r in realms if r.destroyed)
        p.crypto_erase(old.mecid)
        b = next(r for r in realms if r.name == "realm-B")
        if reuse:
            p.monitor.mec_refresh(b.mecid, 0)  # REALM_CREATE with the reused MECID: a new key
        self._run(by_realm["realm-B"], rng)
        # time passes: every line has long been evicted; DRAM holds everything
        for pa in self.exercise.granules:
            p.mec.clean_invalidate(pa)

    def _run(self, pages, rng) -> None:
        for pa, r, kind in pages:
            self.platform.phys_write(pa, _content(kind, r.name, rng), PAS.REALM, mecid=r.mecid)

    @property
    def seed(self) -> int:
        return self.exercise.seed

    @property
    def granules(self) -> tuple:
        return self.exercise.granules

    @property
    def mecids(self) -> tuple:
        return self.exercise.mecids

    def read_as(self, pa: int, mecid: int, n: int = GRANULE) -> bytes:
        """Read ``n`` bytes at ``pa`` in the Realm PAS under ``mecid``. A wrong MECID does not
        fault: it returns the ciphertext decrypted with the wrong key."""
        return self.platform.phys_read(pa, n, PAS.REALM, mecid=mecid)

    def probe(self, pa: int, n: int = GRANULE) -> bytes:
        """What a probe on the DRAM bus reads at ``pa``: ciphertext, whoever owns it."""
        return self.platform.dram_read(pa, n)

    def __str__(self) -> str:
        ex = self.exercise
        return (f"Lab 03 case (seed {ex.seed}): {len(ex.granules)} Realm granules to attribute\n"
                f"  granules: {', '.join(f'{g:#x}' for g in ex.granules)}\n"
                f"  MECIDs the RMM has assigned now: {', '.join(map(str, ex.mecids))} (0 is the RMM's own)\n"
                "  instruments: case.read_as(pa, mecid) (Realm PAS, under a MECID), case.probe(pa) (DRAM bus)")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        ex = self.exercise
        rows = "".join(f"<tr><td>{i}</td><td><code>{g:#x}</code></td><td>?</td></tr>"
                       for i, g in enumerate(ex.granules))
        return (f"<p><b>Lab 03 case (seed {ex.seed})</b>: {len(ex.granules)} Realm granules to attribute. "
                f"MECIDs the RMM has assigned now: <code>{', '.join(map(str, ex.mecids))}</code> "
                "(0 is the RMM's own). Instruments: <code>case.read_as(pa, mecid)</code> (a read in the Realm "
                "PAS under a MECID) and <code>case.probe(pa)</code> (the DRAM bus).</p>"
                f"<table><tr><th>#</th><th>granule PA</th><th>MECID</th></tr>{rows}</table>")


def make_exercise(seed: int = 0) -> Case:
    """The machine of ``seed`` after its realms ran, ready for investigation (a :class:`Case`).

    The same seed always gives the same granules, MECIDs and owners; the keys (and so every byte of
    DRAM) differ from boot to boot, as EL3 draws them at random.
    """
    return Case(seed)


# --- the result ----------------------------------------------------------------------------------
@dataclass(repr=False)
class LabResult(CheckResult):
    """What :func:`check` found: ``passed``, the problems (``messages``) and one line per granule
    (``probes``: ``(ok, text)``)."""

    summary: str = ""
    PROBES_TITLE = "Granule by granule:"

    def passed_text(self) -> str:
        return self.summary


# --- the checker ---------------------------------------------------------------------------------
def _explain_exception(exc: BaseException) -> str:
    text = f"Your investigate() raised {type(exc).__name__}: {exc}{learner_line(exc)}."
    s = str(exc)
    if isinstance(exc, GranuleProtectionFault):
        text += (" That is the isolation boundary: the granule protection check refuses the access because the "
                 "granule's GPI does not allow that PAS. The host (Non-secure PAS) can never read a realm "
                 "granule, whatever it knows about keys; the engine's test interface case.read_as(pa, mecid) "
                 "reads in the Realm PAS, and case.probe(pa) reads DRAM beneath the check.")
    elif isinstance(exc, ValueError) and "only Realm PAS accesses carry a MECID" in s:
        text += (" A MECID selects one of the Realm PAS's many keys; the other PASes have one key each. Use "
                 "case.read_as(pa, mecid), which reads in the Realm PAS.")
    elif isinstance(exc, ValueError) and "bits wide" in s:
        text += " MECIDs are 16-bit numbers; the ones worth trying are in case.mecids."
    elif isinstance(exc, (ExternalAbort, ValueError)) and ("not DRAM" in s or "not memory" in s or "Bus" in s):
        text += " Read only the granules of case.granules (whole 4KB granules from their first byte)."
    elif isinstance(exc, TypeError) and "positional argument" in s and not learner_line(exc):
        text += " The checker calls investigate(case): your function must take exactly one parameter."
    elif isinstance(exc, (TypeError, AttributeError, NameError, KeyError)):
        text += (" investigate receives the case: case.granules (PAs), case.mecids (MECIDs in use), "
                 "case.read_as(pa, mecid) and case.probe(pa), each returning bytes.")
    return text


def _normalise(answer, ex: Exercise):
    """(messages, {int pa: value}) from the learner's dict; messages about its shape."""
    if answer is None:
        return ["investigate() returned None. It must return a dict {granule_pa: mecid} (did it forget "
                "`return owners`?)."], None
    if not isinstance(answer, dict):
        hint = (" One MECID per granule goes in a dict: {pa: mecid for ...}." if isinstance(answer, (list, tuple))
                else "")
        return [f"investigate() must return a dict {{granule_pa: mecid}}, not a {type(answer).__name__}.{hint}"], None
    msgs, out, strs = [], {}, []
    for k, v in answer.items():
        if isinstance(k, str):
            strs.append(k)
            try:
                k = int(k, 0)
            except ValueError:
                continue
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            msgs.append(f"The key {k!r} is not a physical address: use the int PAs from case.granules as keys.")
            continue
        out[int(k)] = v
    if strs:
        msgs.append(f"Use the int PAs of case.granules as keys, not strings such as {strs[0]!r}: "
                    "{pa: mecid for pa in case.granules} (print them in hex with f'{pa:#x}' if you like).")
    return msgs, out


def _value_problem(v, ex: Exercise):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        return (f"a MECID is an int (or None for a granule no MECID in use can read), got {v!r}"
                + (" (a string? give the number itself)" if isinstance(v, str) else ""))
    if int(v) not in ex.mecids:
        return (f"MECID {int(v)} is not one the RMM has assigned now (case.mecids = {list(ex.mecids)}): "
                "only a MECID in use has a key that can read a granule")
    return None


@_progress.recorded("lab03-mecid-forensics")  # every check is an attempt in the learner's progress store
def check(investigate, seed: int = 0) -> LabResult:
    """Run ``investigate(case)`` on a fresh machine of ``seed`` and compare its ``{pa: mecid}``.

    ``investigate`` may also be the dict itself (from a machine of the same seed). Never raises:
    an exception in the learner's code, or an answer of the wrong shape, is explained.
    """
    try:
        seed = _check_seed(seed)
    except TypeError as exc:
        return LabResult(False, [f"check(investigate, seed=...): {exc}"], seed=seed)
    ex, truth = _exercise_and_truth(seed)
    if investigate is None:
        return LabResult(False, ["`investigate` is None. Pass your function itself: check(investigate, "
                                 "seed=SEED)."], seed=seed)
    case = None
    if isinstance(investigate, dict):
        answer = investigate
    elif callable(investigate):
        case = Case(seed)
        try:
            answer = investigate(case)
        except Exception as exc:  # the learner's code: explain, never raise
            return LabResult(False, [_explain_exception(exc)], seed=seed)
    else:
        return LabResult(False, [f"check needs your function investigate(case) (or the dict it returns), got a "
                                 f"{type(investigate).__name__}."], seed=seed)
    msgs, got = _normalise(answer, ex)
    if got is None:
        return LabResult(False, msgs, seed=seed)
    case = case or Case(seed)
    return _judge(case, ex, truth, got, msgs)


def _judge(case: Case, ex: Exercise, truth: dict, got: dict, msgs: list) -> LabResult:
    probes, wrong = [], []
    missing = [g for g in ex.granules if g not in got]
    extra = [k for k in got if k not in truth]
    if missing:
        msgs.append(f"No answer for {len(missing)} of the {len(ex.granules)} granules "
                    f"({', '.join(f'{g:#x}' for g in missing[:4])}{', ...' if len(missing) > 4 else ''}): give one "
                    "entry per granule of case.granules, None for a granule nobody can read.")
    if extra:
        near = [k for k in extra if k & ~(GRANULE - 1) in truth]
        msgs.append(f"{len(extra)} key{'s are' if len(extra) != 1 else ' is'} not a granule of this case "
                    f"({', '.join(f'{k:#x}' for k in extra[:4])})"
                    + (": use the granule's first address, as listed in case.granules." if near else
                       ": the keys are the PAs listed in case.granules."))
    pattern = {}
    for g in ex.granules:
        if g not in got:
            probes.append((False, f"granule {g:#x}: no answer"))
            continue
        v = got[g]
        prob = _value_problem(v, ex)
        if prob:
            msgs.append(f"granule {g:#x}: {prob}.")
            probes.append((False, f"granule {g:#x}: {v!r} is not a MECID in use"))
            continue
        v = None if v is None else int(v)
        pattern[g] = v
        want = truth[g]
        said = "unreadable (None)" if v is None else f"MECID {v}"
        if v == want:
            probes.append((True, f"granule {g:#x}: {said}"))
            continue
        probes.append((False, f"granule {g:#x}: {said} is not right"))
        wrong.append((g, v, want))
    msgs += _explain_wrong(case, ex, truth, wrong, pattern)
    if len(msgs) > _MAX_MESSAGES:
        msgs = msgs[:_MAX_MESSAGES] + [f"... and {len(msgs) - _MAX_MESSAGES} more; fix these first."]
    passed = not msgs and all(ok for ok, _ in probes)
    owners = sorted({m for m in truth.values() if m is not None})
    erased = sum(m is None for m in truth.values())
    shared = _shared_mecid(ex.seed)
    summary = (f"all {len(truth)} granules attributed: {len(owners)} MECIDs in use ({', '.join(map(str, owners))}; "
               f"0 is the RMM's own), {erased} granule{'s' if erased != 1 else ''} crypto-erased.")
    summary += f" MECID {shared} is shared by two realms."
    return LabResult(passed, msgs, probes, seed=ex.seed, summary=summary)


def _explain_wrong(case: Case, ex: Exercise, truth: dict, wrong: list, pattern: dict) -> list:
    msgs = []
    values = [v for v in pattern.values()]
    if len(values) == len(ex.granules) and len(set(values)) == 1 and values[0] is not None:
        m = values[0]
        msgs.append(f"Every granule was given MECID {m}. A read under the wrong MECID does not fault: the engine "
                    "decrypts with the wrong key and hands back bytes. 'No exception' proves nothing about the "
                    "owner; look at what the bytes are.")
    elif len(values) == len(ex.granules) and all(v is None for v in values):
        msgs.append("Every granule was called unreadable (None), but most of them read as plain data under one of "
                    "the MECIDs in use: try each of case.mecids on each granule with case.read_as. (A DRAM probe, "
                    "case.probe, shows ciphertext for every granule: it cannot tell owners apart.)")
    readable = []  # granules called unreadable that a MECID in use reads
    noise = {}  # claimed MECID -> [(granule, entropy)] for granules that read as noise under it
    for g, v, want in wrong:
        if v is not None:
            bits = _entropy(case.read_as(g, v))
            if want is None:
                msgs.append(f"granule {g:#x}: under MECID {v} it reads as noise ({bits:.2f} bits per byte, as random "
                            "as ciphertext), and so it does under every other MECID in use: nobody can read it any "
                            "more. Its realm was destroyed and the RMM refreshed that MECID's key (crypto-erase); "
                            "if the MECID was given to a new realm since, the new key does not decrypt the old "
                            "data either. Answer None for it.")
            else:
                noise.setdefault(v, []).append((g, bits))
        else:
            readable.append((g, min(_entropy(case.read_as(g, m)) for m in ex.mecids)))
    if readable:
        many = len(readable) != 1
        msgs.append(f"granule{'s' if many else ''} {', '.join(f'{g:#x}' for g, _ in readable)} "
                    f"{'are' if many else 'is'} not unreadable: one of the MECIDs in use reads "
                    f"{'each' if many else 'it'} as structured data ("
                    f"{max(b for _, b in readable):.2f} bits per byte or less). Which one?")
    for v, items in noise.items():
        gs = ", ".join(f"{g:#x}" for g, _ in items)
        top = max(b for _, b in items)
        low = min(b for _, b in items)
        many = len(items) != 1
        msgs.append(f"granule{'s' if many else ''} {gs}: under MECID {v} {'they read' if many else 'it reads'} as "
                    f"noise ({low:.2f}{f'-{top:.2f}' if many else ''} bits per byte, as random as ciphertext): "
                    f"{'they were' if many else 'it was'} not written under MECID {v}'s key.")
    if len(wrong) >= 3 and msgs and not msgs[0].startswith("Every"):
        msgs.append(f"Noise from a wrong key has about 8 bits of entropy per byte; a realm's text, tables and "
                    f"cleared pages have far less. A threshold between the two (say {NOISE_BITS}) separates them.")
    return msgs


HINTS = (
    "A read under a MECID that is not the data's does not fault: it returns bytes (the ciphertext decrypted "
    "with the wrong key). So an exception tells you nothing; try every MECID of case.mecids on every granule of "
    "case.granules, and look at what comes back: print(hexdump(case.read_as(pa, m)[:64], pa)).",
    "Plaintext has structure; the wrong key gives bytes that look uniformly random. Measure it: "
    "entropy(data, 4096)[0] (one number for the whole 4KB granule) is close to 8 bits per byte for noise, and "
    "much lower for a log, a table of counters, or a page of zeros; looks_like_noise(data) is a ready-made test.",
    "A DRAM probe, case.probe(pa), shows ciphertext whoever owns the granule: it looks random for every granule, "
    "so it cannot tell owners apart. read_as is the instrument that can.",
    "Some granules read as noise under every MECID in use: their realm was destroyed, and the RMM refreshed its "
    "MECID's key (crypto-erase). The answer for them is None. A MECID can be reused by a new realm after the "
    "refresh, and the new key does not read the old realm's data. Two realms may also share one MECID (the "
    "RMM's shared MEC policy): their granules get the same answer.",
    "One way: owners = {}; for pa in case.granules: owners[pa] = next((m for m in case.mecids if not "
    "looks_like_noise(case.read_as(pa, m))), None); return owners.",
)


def hint(n: int = 1) -> Hint:
    """The ``n``-th hint (1 to 5), each giving a little more away."""
    return pick_hint(HINTS, n)


__all__ = ["Case", "Exercise", "LabResult", "GRANULE", "NOISE_BITS", "RMM_MECID", "make_exercise", "check",
           "hint"]
