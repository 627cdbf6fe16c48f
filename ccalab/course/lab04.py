"""Lab 04: build a realm, measure it, debug a host's build, and attack the realm as the host.

Three exercises on one seeded machine, all in :class:`Exercise` (:func:`make_exercise`):

1. **Predict the RIM** (``ex.rim``, a :class:`RimExercise`). The learner's ``predict_rim(rx)``
   builds the measurement descriptors with :mod:`hashlib` and :mod:`struct` and returns the Realm
   Initial Measurement the RMM will compute for the image (or the list of RIMs after each measured
   command, which lets the checker say where a prediction first goes wrong). The checker builds
   the realm through the RMI (:meth:`ccalab.host.Host.build_realm`) and compares with the RMM's
   RIM. ccalab's own measurement code may not run while the prediction is made: the exercise is
   to build the descriptors, and ``predict_rim`` from
   :mod:`ccalab.firmware.rmm.measurement` is there to check an answer afterwards.
2. **Find the bug** (``ex.runs``, :class:`FaultyBuild`). A host's realm-building sequence with one
   mistake, run against the RMM with every status code recorded. ``diagnose(run)`` returns the
   index of the faulty step (the first call that fails: every later failure follows from it) and
   the fix, one of :data:`FIXES`.
3. **Attack the realm** (``ex.target()``, :class:`Target`). A realm running ``secret-keeper``.
   ``attack(target, approach)`` tries one of :data:`APPROACHES` as the host and returns what it
   got and why that did not reveal the secret, one of :data:`REASONS`. The checker gives each
   approach a fresh machine and verifies that the outcome is the one the hardware and the RMM
   produce: a granule protection fault, ciphertext, a refused RMI command, a zeroed granule with
   the realm's IPA left RIPAS DESTROYED.

The learner's answers are one dict, ``{"rim": predict_rim, "diagnose": diagnose, "attack":
attack}``; :func:`check` judges each exercise on its own and explains every mistake.

Lab: ``labs/04-realm-builder.ipynb``. Notebook that introduces the ideas:
``notebooks/04-life-of-a-realm.ipynb``.

Spec: RMM DEN0137 1.0-rel0 as digested in ``spec/rmm.md``: section 6 (the RIM and its
descriptors), section 3 (failure conditions of REALM_CREATE, RTT_CREATE, DATA_CREATE,
RTT_INIT_RIPAS, REC_CREATE, REALM_ACTIVATE, REC_ENTER, RTT_MAP_UNPROTECTED, DATA_DESTROY), section
5 (RIPAS DESTROYED in the realm access matrix); ``spec/gpt_mmu.md`` (the granule protection
check) and ``spec/mec.md`` (DRAM holds ciphertext).
"""

from __future__ import annotations

import html
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ExternalAbort, GranuleProtectionFault
from ..firmware.rmm import measurement as _measurement
from ..firmware.rmm import s2tt
from ..firmware.rmm.granule import GranuleState
from ..firmware.rmm.rmi.rec import REC_AUX_COUNT, index_mpidr
from ..firmware.rmm.spec import label_of
from ..firmware.rmm.status import RmiStatus, describe
from ..firmware.rmm.structs import REALM_PARAMS, REALM_PARAMS_MEASURED, REC_FLAG_RUNNABLE, REC_PARAMS, pack
from ..guest.isa import header
from . import progress as _progress
from .hints import Hint, pick_hint
from .result import ExercisesResult, learner_line

KiB, MiB = 1 << 10, 1 << 20
GRANULE = 4096
BLOCK = 2 * MiB
#: The DRAM of every machine of this lab (memory is allocated lazily: only touched pages cost).
DRAM = 256 * MiB
EXERCISE_ID = "lab04-realm-builder"
_MAX_MESSAGES = 14


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"the seed is an int, got {seed!r}")
    return int(seed)


def _machine():
    from ..host import Host
    from ..platform import Platform

    p = Platform(dram_size=DRAM)
    return p, Host(p)


# ==================================================================================================
# Exercise 1: the RIM of an image
# ==================================================================================================
@dataclass(frozen=True)
class RimExercise:
    """A realm to measure: its image, RAM, parameters and RECs, as the host will build it.

    The host (:meth:`ccalab.host.Host.build_realm`) makes these measured calls, in this order:

    1. ``REALM_CREATE`` with :attr:`params`;
    2. ``DATA_CREATE`` of each 4 KB page of :attr:`image` at IPA 0, 0x1000, ... with
       ``RMI_MEASURE_CONTENT`` (flags = 1);
    3. ``RTT_INIT_RIPAS`` from the end of the image to :attr:`ram_size`: the RMM measures every RTT
       entry it sets to RIPAS RAM. The host created RTTs down to level 3 only for the first 2 MB
       (where the image is), so these are 4 KB level-3 entries up to 2 MB and whole 2 MB level-2
       entries after it;
    4. ``REC_CREATE`` of each REC in :attr:`recs`, in order (only a runnable REC is measured).
    """

    seed: int
    image: bytes
    ram_size: int
    hash_algo: str
    params: dict
    recs: tuple
    arg: int

    @property
    def pages(self) -> list:
        """The image as ``(ipa, page)`` pairs, one per 4 KB page."""
        return [(i, self.image[i:i + GRANULE]) for i in range(0, len(self.image), GRANULE)]

    def params_page(self, keep=None) -> bytes:
        """The 4096-byte RmiRealmParams page the host writes: every field of :attr:`params` at its
        offset (``keep``: only these fields, the rest zero)."""
        names = self.params if keep is None else keep
        return bytes(pack(REALM_PARAMS, {k: self.params[k] for k in names}))

    def rec_params_page(self, k: int = 0, keep=None) -> bytes:
        """The 4096-byte RmiRecParams page of REC ``k`` (``keep``: only these fields, the rest zero)."""
        rec = self.recs[k]
        names = rec if keep is None else keep
        return bytes(pack(REC_PARAMS, {n: rec[n] for n in names}))

    def config(self):
        """The :class:`~ccalab.host.RealmConfig` the host builds this realm from."""
        from ..host import RealmConfig

        return RealmConfig(program="hello", image=self.image, ram_size=self.ram_size, hash_algo=self.hash_algo,
                           rpv=self.params["rpv"].rstrip(b"\0"), recs=len(self.recs), vmid=self.params["vmid"],
                           arg=self.arg)

    def build(self):
        """Build the realm on a fresh machine through the RMI: ``(platform, host, realm)``."""
        p, host = _machine()
        realm = host.build_realm(self.config())
        return p, host, realm

    def __str__(self) -> str:
        runnable = sum(1 for r in self.recs if r["flags"] & REC_FLAG_RUNNABLE)
        lines = [f"Realm to measure (seed {self.seed}):",
                 f"  image: {len(self.pages)} page{'s' if len(self.pages) != 1 else ''} at IPA "
                 f"[0x0, {len(self.image):#x}) (rx.image, rx.pages)",
                 f"  RAM: {self.ram_size >> 20} MiB at IPA 0x0 (rx.ram_size = {self.ram_size:#x})",
                 f"  hash algorithm: {self.hash_algo} (params['hash_algo'] = {int(self.params['hash_algo'])})",
                 "  RmiRealmParams (rx.params): " + ", ".join(
                     f"{k}={v.rstrip(bytes(1)).hex()}" if isinstance(v, bytes) else f"{k}={int(v)}"
                     for k, v in self.params.items()),
                 f"  RECs (rx.recs): {len(self.recs)}, {runnable} runnable"]
        for k, r in enumerate(self.recs):
            lines.append(f"    REC {k}: flags={r['flags']} mpidr={r['mpidr']:#x} pc={r['pc']:#x} "
                         f"gprs=[{', '.join(f'{g:#x}' for g in r['gprs'])}]")
        return "\n".join(lines)

    __repr__ = __str__


def _rim_exercise(seed: int) -> RimExercise:
    rng = random.Random(f"ccalab-lab04-rim-{seed}")
    npages = rng.randint(1, 3)
    head = header("hello").ljust(GRANULE, b"\0")
    body = bytes(rng.getrandbits(8) for _ in range((npages - 1) * GRANULE))
    image = head + body
    ram_size = rng.choice((2, 4, 6)) * MiB
    algo = rng.choice(("sha256", "sha512"))
    nrecs = rng.choice((1, 2))
    arg = rng.randrange(1, 1 << 16)
    rpv = bytes(rng.getrandbits(8) for _ in range(16)).ljust(64, b"\0")
    vmid = rng.randrange(2, 200)
    from ..host import RealmConfig

    cfg = RealmConfig(program="hello", image=image, ram_size=ram_size, hash_algo=algo, rpv=rpv, recs=nrecs,
                      vmid=vmid, arg=arg)
    params = cfg.params()
    params["hash_algo"] = int(params["hash_algo"])
    recs = tuple({"flags": REC_FLAG_RUNNABLE if k == 0 else 0, "mpidr": index_mpidr(k), "pc": 0,
                  "gprs": cfg.boot_gprs(), "num_aux": REC_AUX_COUNT} for k in range(nrecs))
    return RimExercise(seed, image, ram_size, algo, params, recs, arg)


# --- the reference: the RMM's measurement, step by step -----------------------------------------
def _ripas_entries(rx: RimExercise) -> list:
    """The ``[base, top)`` of each RTT entry RTT_INIT_RIPAS processes, in order."""
    out, a = [], len(rx.image)
    while a < rx.ram_size:
        size = GRANULE if a < BLOCK else BLOCK
        out.append((a, a + size))
        a += size
    return out


def _trail(rx: RimExercise, *, algo=None, full_params=False, ripas="entries", recs="runnable", content=True):
    """``[(what, rim), ...]``: the RIM after each measured command. The keywords describe common
    mistakes (the checker compares an answer with them to explain it); the defaults are right."""
    m = _measurement
    algo = m.HashAlgo(rx.params["hash_algo"] if algo is None else algo)
    rim = m.digest(algo, rx.params_page() if full_params else rx.params_page(REALM_PARAMS_MEASURED))
    out = [("REALM_CREATE", rim)]
    for ipa, page in rx.pages:
        desc = m.data_descriptor(rim, ipa, 1, m.digest(algo, page) if content else b"")
        rim = m.digest(algo, desc)
        out.append((f"DATA_CREATE of the page at IPA {ipa:#x}", rim))
    entries = {"entries": _ripas_entries(rx), "pages": [(a, a + GRANULE) for a in range(len(rx.image), rx.ram_size,
                                                                                        GRANULE)],
               "one": [(len(rx.image), rx.ram_size)], "none": []}[ripas]
    for base, top in entries:
        rim = m.extend_ripas(algo, rim, base, top)
        out.append((f"RTT_INIT_RIPAS entry [{base:#x}, {top:#x})", rim))
    for k, rec in enumerate(rx.recs):
        if recs == "none" or (recs == "runnable" and not rec["flags"] & REC_FLAG_RUNNABLE):
            continue
        rim = m.extend_rec(algo, rim, rec)
        out.append((f"REC_CREATE of REC {k}", rim))
    return out


# --- the learner may not run ccalab's measurement code ---------------------------------------------
_FORBIDDEN = (str(Path(_measurement.__file__).resolve()),)
_FORBIDDEN_DIRS = (str(Path(__file__).resolve().parents[1] / "host"),
                   str(Path(__file__).resolve().parents[1] / "firmware" / "rmm" / "rmi"))


def _run_watched(fn, *args):
    """``fn(*args)``, noting every function of ccalab's measurement code, host or RMI handlers it
    runs. Returns ``(result, exception, sorted names of the forbidden functions called)``."""
    seen = set()
    files = {}

    def prof(frame, event, arg):
        if event != "call":
            return
        f = frame.f_code.co_filename
        bad = files.get(f)
        if bad is None:
            rf = str(Path(f).resolve()) if f and not f.startswith("<") else f
            bad = files[f] = rf in _FORBIDDEN or any(rf.startswith(d) for d in _FORBIDDEN_DIRS)
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


def _as_rim(v):
    """A RIM the learner gave (bytes, bytearray, a hex string) as bytes, or None."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, str):
        try:
            return bytes.fromhex(v.removeprefix("0x"))
        except ValueError:
            return None
    return None


def _hx(b: bytes, n: int = 8) -> str:
    return b[:n].hex() + "..."


def _judge_rim(rx: RimExercise, fn, msgs: list, probes: list) -> bool:
    """Exercise 1: run ``fn(rx)``, build the realm through the RMI, compare."""
    tag = "Exercise 1"
    if fn is None:
        msgs.append(f"{tag}: no answer yet (answers['rim'] is your predict_rim function).")
        probes.append((False, "exercise 1: no prediction"))
        return False
    if not callable(fn):
        msgs.append(f"{tag}: answers['rim'] must be your function predict_rim(rx), not a {type(fn).__name__}.")
        probes.append((False, "exercise 1: no prediction"))
        return False
    answer, exc, used = _run_watched(fn, rx)
    if used:
        names = ", ".join(used[:5])
        msgs.append(f"{tag}: your predict_rim ran ccalab's own measurement or host code ({names}). The exercise is "
                    "to build the descriptors yourself, with hashlib and struct; use measurement.predict_rim "
                    "afterwards, to check your answer.")
        probes.append((False, "exercise 1: the prediction used ccalab's measurement code"))
        return False
    if exc is not None:
        msgs.append(f"{tag}: {_explain_exception(exc, 'predict_rim(rx)')}")
        probes.append((False, "exercise 1: predict_rim raised an exception"))
        return False
    ref = _trail(rx)
    _, _, realm = rx.build()
    truth = realm.rim
    assert ref[-1][1] == truth, "the model's measurement and the RMM disagree"  # a model bug, not the learner's
    trail = None
    if isinstance(answer, (list, tuple)):
        trail = [_as_rim(v) for v in answer]
        if not trail:
            msgs.append(f"{tag}: predict_rim returned an empty list: return the RIM (bytes), or the list of RIMs "
                        "after each measured command.")
            probes.append((False, "exercise 1: no RIM"))
            return False
        if any(t is None for t in trail):
            bad = next(v for v in answer if _as_rim(v) is None)
            msgs.append(f"{tag}: every RIM in your list must be bytes (or a hex string), got {bad!r}.")
            probes.append((False, "exercise 1: not a list of RIMs"))
            return False
        final = trail[-1]
    else:
        final = _as_rim(answer)
        if final is None:
            msgs.append(f"{tag}: predict_rim must return the RIM as bytes (what hashlib's .digest() gives), or a "
                        f"list of RIMs; got {type(answer).__name__} {answer!r:.60}.")
            probes.append((False, "exercise 1: not a RIM"))
            return False
    n_data = len(rx.pages)
    n_ripas = len(_ripas_entries(rx))
    counts = f"1 REALM_CREATE, {n_data} DATA_CREATE, {n_ripas} RIPAS entries, 1 runnable REC"
    if final == truth:  # a list may hold every RIM or only some; the last one is the prediction
        every = trail is not None and trail == [r for _, r in ref]
        probes.append((True, (f"exercise 1: all {len(ref)} RIMs match the RMM's" if every
                              else f"exercise 1: RIM {_hx(truth)} = the RMM's") + f" ({counts})"))
        return True
    if trail is not None:
        msgs.append(f"{tag}: {_explain_trail(rx, ref, trail)}")
    else:
        msgs.append(f"{tag}: {_explain_final(rx, ref, final)}")
    probes.append((False, f"exercise 1: your RIM {_hx(final)} is not the RMM's {_hx(truth)}"))
    return False


_DESC_LAYOUT = ("Every descriptor is 256 bytes, zero where nothing is said: type (1 byte) at 0x0, the length 0x100 "
                "(8 bytes) at 0x8, the RIM so far at 0x10 in a 64-byte slot (zero-padded), then the command's own "
                "fields from 0x50; the new RIM is the hash of the descriptor.")


def _step_whatifs(rx: RimExercise, what: str, prev: bytes):
    """(value, explanation) for common mistakes at one step, given the right RIM before it."""
    m = _measurement
    algo = m.HashAlgo(rx.params["hash_algo"])
    H = lambda d: m.digest(algo, d)  # noqa: E731
    out = []

    def unpadded(desc):  # the old RIM in a slot of its own length instead of 64 bytes
        return (desc[:0x10] + prev + desc[0x50:]).ljust(256, b"\0")[:256]

    def no_len(desc):
        return desc[:8] + bytes(8) + desc[16:]

    if what.startswith("DATA_CREATE"):
        ipa = int(what.rsplit(" ", 1)[1], 16)
        page = rx.image[ipa:ipa + GRANULE]
        good = m.data_descriptor(prev, ipa, 1, H(page))
        out += [(H(m.data_descriptor(prev, ipa, 1, b"")), "the content field is empty; with RMI_MEASURE_CONTENT "
                 "(flags = 1) it holds the hash of the 4 KB page, at 0x60"),
                (H(m.data_descriptor(prev, ipa, 0, H(page))), "flags is 1 (RMI_MEASURE_CONTENT), at 0x58"),
                (H(unpadded(good)), "the old RIM sits in a 64-byte slot at 0x10, zero-padded, so the IPA is at 0x50 "
                 "whatever the hash length"),
                (H(no_len(good)), "the descriptor's length field (0x100, 8 bytes at 0x8) is missing"),
                (H(page), "the new RIM is the hash of the whole descriptor, not of the page alone")]
    elif what.startswith("RTT_INIT_RIPAS"):
        base, top = (int(x, 16) for x in what.split("[", 1)[1].rstrip(")").split(", "))
        good = m.ripas_descriptor(prev, base, top)
        out += [(m.extend_ripas(algo, prev, base, base + GRANULE),
                 f"this entry is a 2 MB level-2 entry: [{base:#x}, {top:#x}) in one descriptor. The host has no "
                 "level-3 RTT beyond the first 2 MB, so RTT_INIT_RIPAS sets RIPAS on the whole block")
                if top - base == BLOCK else (None, ""),
                (m.extend_ripas(algo, prev, base, rx.ram_size),
                 "RTT_INIT_RIPAS measures each RTT entry it processes, one descriptor per entry, not the whole range"),
                (H(unpadded(good)), "the old RIM sits in a 64-byte slot at 0x10, zero-padded; base at 0x50, top at "
                 "0x58"),
                (H(no_len(good)), "the descriptor's length field (0x100, 8 bytes at 0x8) is missing")]
    elif what.startswith("REC_CREATE"):
        k = int(what.rsplit(" ", 1)[1])
        good = m.rec_descriptor(prev, m.rec_content_hash(algo, rx.recs[k]))
        out += [(H(m.rec_descriptor(prev, H(rx.rec_params_page(k)))),
                 "the REC's content hash covers only flags, pc and gprs of RmiRecParams (the rest of the page zero), "
                 "not mpidr or the auxiliary granules"),
                (H(unpadded(good)), "the old RIM sits in a 64-byte slot at 0x10, zero-padded; the content hash at "
                 "0x50"),
                (H(no_len(good)), "the descriptor's length field (0x100, 8 bytes at 0x8) is missing")]
    return [(v, t) for v, t in out if v is not None]


def _explain_trail(rx: RimExercise, ref: list, trail: list) -> str:
    n = min(len(ref), len(trail))
    i = next((k for k in range(n) if trail[k] != ref[k][1]), n)
    if i == 0:
        return _explain_create(rx, trail[0])
    if i == n:
        if len(trail) < len(ref):
            return (f"your RIMs are right up to and including {ref[i - 1][0]}, then your list stops: the RMM measures "
                    f"{len(ref) - len(trail)} more command{'s' if len(ref) - len(trail) != 1 else ''}, the next one "
                    f"{ref[i][0]}. " + _what_is_measured(rx))
        extra = len(trail) - len(ref)
        more = ""
        if any(not r["flags"] & REC_FLAG_RUNNABLE for r in rx.recs):
            more = (" REC 1 is created not runnable (flags = 0): PSCI CPU_ON starts it later, and the RMM does not "
                    "measure a REC that is not runnable.")
        return (f"your RIMs are right up to the last one the RMM computes ({ref[-1][0]}), but your list has {extra} "
                f"more.{more}")
    what, prev = ref[i][0], ref[i - 1][1]
    for v, why in _step_whatifs(rx, what, prev):
        if v == trail[i]:
            return f"your RIMs are right up to {ref[i - 1][0]}; at {what} yours differs: {why}."
    if what.startswith("RTT_INIT_RIPAS") and len(trail) != len(ref):
        return (f"your RIMs are right up to {ref[i - 1][0]}; at {what} yours differs, and your list has {len(trail)} "
                f"RIMs where the RMM computes {len(ref)}. " + _ripas_text(rx))
    return (f"your RIMs are right up to {ref[i - 1][0]}; at {what} yours differs. " + _DESC_LAYOUT + " "
            + _fields_text(what))


def _fields_text(what: str) -> str:
    if what.startswith("DATA_CREATE"):
        return "A DATA descriptor is type 0, with the IPA (8 bytes) at 0x50, flags at 0x58 and H(page) at 0x60."
    if what.startswith("RTT_INIT_RIPAS"):
        return "A RIPAS descriptor is type 2, with the entry's base at 0x50 and top at 0x58."
    return ("A REC descriptor is type 1, with the content hash at 0x50: the hash of RmiRecParams with only flags, pc "
            "and gprs kept.")


def _ripas_text(rx: RimExercise) -> str:
    n3 = sum(1 for b, t in _ripas_entries(rx) if t - b == GRANULE)
    n2 = len(_ripas_entries(rx)) - n3
    return (f"RTT_INIT_RIPAS processes RTT entries: {n3} level-3 entries of 4 KB from the end of the image to 2 MB"
            + (f", then {n2} level-2 entr{'ies' if n2 != 1 else 'y'} of 2 MB up to {rx.ram_size:#x}" if n2 else "")
            + "; one descriptor per entry.")


def _what_is_measured(rx: RimExercise) -> str:
    return (f"In order: REALM_CREATE, one DATA_CREATE per image page ({len(rx.pages)}), one RIPAS descriptor per RTT "
            f"entry RTT_INIT_RIPAS sets ({len(_ripas_entries(rx))}), and each runnable REC (1).")


def _explain_create(rx: RimExercise, got: bytes) -> str:
    m = _measurement
    own = m.HashAlgo(rx.params["hash_algo"])
    other = m.HashAlgo(1 - int(own))
    name = {0: "SHA-256", 1: "SHA-512"}
    measured = rx.params_page(REALM_PARAMS_MEASURED)
    if got == m.digest(own, rx.params_page()) or got == m.digest(other, rx.params_page()):
        wrong_algo = got != m.digest(own, rx.params_page())
        return ("your first RIM, after REALM_CREATE, hashes the whole RmiRealmParams page. The RMM keeps only the "
                f"measured fields ({', '.join(REALM_PARAMS_MEASURED)}) and zeroes the rest (rpv, vmid and the RTT "
                "fields are not measured) before hashing: rx.params_page(keep=[...]) builds that page."
                + (f" The hash is also the wrong one: the realm's algorithm is {name[int(own)]}." if wrong_algo
                   else ""))
    if got == m.digest(other, measured):
        return (f"your first RIM uses {name[int(other)]}, but this realm's hash_algo is {int(own)}, "
                f"{name[int(own)]}: every hash of the realm's measurement uses it.")
    return ("your first RIM, after REALM_CREATE, is not the RMM's: it is the hash of the 4096-byte RmiRealmParams page "
            f"with only {', '.join(REALM_PARAMS_MEASURED)} kept at their offsets and everything else zero.")


def _explain_final(rx: RimExercise, ref: list, got: bytes) -> str:
    algo = _measurement.HashAlgo(rx.params["hash_algo"])
    if len(got) != algo.digest_size:
        return (f"your RIM is {len(got)} bytes, but this realm measures with "
                f"{'SHA-256' if algo.digest_size == 32 else 'SHA-512'} ({algo.digest_size} bytes): params['hash_algo'] "
                f"is {int(algo)}.")
    variants = [
        (dict(recs="all"), "you measured REC 1 too: it is created not runnable (PSCI CPU_ON starts it later), and "
                           "the RMM measures only runnable RECs."),
        (dict(ripas="pages"), "you measured RTT_INIT_RIPAS one 4 KB page at a time beyond 2 MB. " + _ripas_text(rx)),
        (dict(ripas="one"), "you measured RTT_INIT_RIPAS as one range. " + _ripas_text(rx)),
        (dict(ripas="none"), "RTT_INIT_RIPAS is measured too. " + _ripas_text(rx)),
        (dict(recs="none"), "the runnable REC is measured too: REC_CREATE extends the RIM with H(flags, pc, gprs)."),
        (dict(full_params=True), "the RIM starts from the hash of RmiRealmParams with only the measured fields kept "
                                 f"({', '.join(REALM_PARAMS_MEASURED)}); rpv, vmid and the RTT fields are zero in it."),
        (dict(content=False), "with RMI_MEASURE_CONTENT the DATA descriptor holds the hash of the page at 0x60."),
    ]
    for kw, why in variants:
        if _trail(rx, **kw)[-1][1] == got:
            return why
    return ("your RIM is not the RMM's, and it matches none of the usual mistakes. Return the list of RIMs after each "
            "measured command instead of only the last one: the checker then tells you the first step that differs. "
            + _what_is_measured(rx))


# ==================================================================================================
# Exercise 2: the faulty builds
# ==================================================================================================
#: The fixes ``diagnose`` may name, with what each means.
FIXES = {
    "delegate": "GRANULE_DELEGATE the granule first: the command needs it DELEGATED (a Realm granule, not in use)",
    "host-memory": "pass a structure in an undelegated host page: the RMM reads RmiRealmParams and RmiRecParams "
                   "from Non-secure memory",
    "fix-params": "correct RmiRealmParams: s2sz, rtt_level_start and rtt_num_start must agree",
    "create-rtt": "RTT_CREATE the missing table(s) first, from the level below the root down to the level needed",
    "drop": "drop this step: it was done already",
    "protected-ipa": "use an IPA in the protected half (below 2^(s2sz-1)): DATA is protected memory",
    "before-activate": "move this step before REALM_ACTIVATE: only a NEW realm accepts it",
    "activate": "REALM_ACTIVATE the realm first: only an ACTIVE realm runs",
    "aux-count": "give REC_CREATE exactly REC_AUX_COUNT auxiliary granules",
    "rec-order": "create the RECs in MPIDR order: the first REC has index 0",
}

#: Each kind of bug (:func:`_plan` makes it) and its fix.
_BUGS = {
    "rd-undelegated": "delegate", "root-undelegated": "delegate", "rtt-num-start": "fix-params",
    "params-not-host": "host-memory", "data-before-rtt": "create-rtt", "rtt-level-skipped": "create-rtt",
    "rtt-twice": "drop", "data-undelegated": "delegate", "data-unprotected": "protected-ipa",
    "rec-after-activate": "before-activate", "ripas-after-activate": "before-activate", "no-activate": "activate",
    "activate-twice": "drop", "aux-count": "aux-count", "rec-mpidr": "rec-order", "rec-undelegated": "delegate",
}
BUG_KINDS = tuple(_BUGS)
RUNS_PER_SEED = 4

#: What each failure label says, for the checker's explanations.
_LABEL_TEXT = {
    "rd_state": "the RD granule is not in the state the command needs (REALM_CREATE wants it DELEGATED; later "
                "commands want a realm's RD)",
    "rtt_state": "an RTT granule or entry is not in the state the command needs (for REALM_CREATE: a root RTT "
                 "granule is not DELEGATED)",
    "params_state": "the parameters page is not an undelegated host page",
    "params_valid": "RmiRealmParams is malformed",
    "rtt_walk": "the RTT walk stopped above the level the command needs: a table is missing (the index is the level "
                "reached)",
    "rtt_entry": "the entry the new table would replace is already a table",
    "data_state": "the DATA granule is not DELEGATED",
    "ipa_bound": "the IPA is outside the protected half",
    "realm_state": "the realm is not in the state the command needs",
    "realm_new": "the realm is still NEW: it has not been activated",
    "num_aux_count": "num_aux is not REC_AUX_COUNT",
    "mpidr_index": "the MPIDR does not name the next REC index",
    "rec_state": "the REC granule is not in the state the command needs",
}


@dataclass
class FaultyBuild:
    """A host's realm-building sequence with one mistake, and what the RMM answered.

    ``steps`` are :class:`~ccalab.host.BuildStep` (command, args, why); ``calls`` the
    :class:`~ccalab.host.RmiCall` of each, in order (``.name``, ``.args``, ``.status``, ``.index``,
    ``.ok``, ``.failure``: the spec label of the condition that failed, e.g. ``"rd_state"``, sometimes
    followed by ``": "`` and the reason; :attr:`labels` has the labels alone).
    """

    number: int
    steps: list
    calls: list
    _kind: str = ""

    @property
    def labels(self) -> list:
        """The failure label of each call (None where it succeeded)."""
        return [label_of(c.failure) for c in self.calls]

    def _rows(self):
        rows, i = [], 0
        while i < len(self.steps):
            s, c = self.steps[i], self.calls[i]
            j = i
            while (j + 1 < len(self.steps) and c.ok and self.calls[j + 1].ok and s.command == "GRANULE_DELEGATE"
                   and self.steps[j + 1].command == "GRANULE_DELEGATE" and self.steps[j + 1].why == s.why):
                j += 1
            if j > i:
                rows.append((f"{i}-{j}", f"GRANULE_DELEGATE x{j - i + 1}", describe(c.results[0]), "", s.why))
            else:
                args = ", ".join(f"{a:#x}" for a in s.args)
                rows.append((str(i), f"{s.command}({args})", describe(c.results[0]), c.failure or "", s.why))
            i = j + 1
        return rows

    def text(self) -> str:
        lines = [f"Build {self.number}: {len(self.calls)} RMI calls"]
        for i, call, status, label, why in self._rows():
            lab = f" [{label}]" if label else ""
            lines.append(f"  {i:>5}  {call:<58} -> {status}{lab}   # {why}")
        return "\n".join(lines)

    __str__ = __repr__ = text

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{i}</td><td><code>{html.escape(call)}</code></td>"
            f"<td style='color:{'#1a7f37' if status == 'RMI_SUCCESS' else '#cf222e'}'>{html.escape(status)}</td>"
            f"<td><code>{html.escape(label)}</code></td><td>{html.escape(why)}</td></tr>"
            for i, call, status, label, why in self._rows())
        return (f"<p><b>Build {self.number}</b>: {len(self.calls)} RMI calls</p><table><tr><th>step</th><th>call</th>"
                f"<th>status</th><th>failure</th><th>what the host meant</th></tr>{rows}</table>")


def _plan(host, kind: str) -> list:
    """The host's plan for a one-REC "hello" realm with 2 MiB of RAM, with the mistake ``kind``:
    ``[(tag, BuildStep), ...]``. Granules are chosen (not yet delegated) and structures written."""
    from ..host import BuildStep, RealmConfig

    cfg = RealmConfig(program="hello")
    prm = cfg.params()
    alloc = host.alloc
    rd, root = alloc(), alloc()
    prm["rtt_base"] = root
    if kind == "rtt-num-start":
        prm["rtt_num_start"] = 2
    params = host.write_struct(REALM_PARAMS, prm)
    rtt = {lvl: alloc() for lvl in (1, 2, 3)}
    data, src = alloc(), alloc()
    host.poke(src, cfg.image_bytes())
    rec = alloc()
    naux = REC_AUX_COUNT // 2 if kind == "aux-count" else REC_AUX_COUNT
    aux = [alloc() for _ in range(naux)]
    mpidr = index_mpidr(1 if kind == "rec-mpidr" else 0)
    recp = host.write_struct(REC_PARAMS, {"flags": REC_FLAG_RUNNABLE, "mpidr": mpidr, "pc": 0,
                                          "gprs": cfg.boot_gprs(), "num_aux": naux, "aux": aux})
    run = alloc()
    S = BuildStep
    data_ipa = 1 << (cfg.s2sz - 1) if kind == "data-unprotected" else 0
    steps = [("del-rd", S("GRANULE_DELEGATE", (rd,), "the RD")),
             ("del-root", S("GRANULE_DELEGATE", (root,), "the root RTT")),
             ("create", S("REALM_CREATE", (rd, root if kind == "params-not-host" else params),
                          "create the realm from its RmiRealmParams"))]
    for lvl in (1, 2, 3):
        steps += [(f"del-rtt{lvl}", S("GRANULE_DELEGATE", (rtt[lvl],), f"the level-{lvl} RTT")),
                  (f"rtt{lvl}", S("RTT_CREATE", (rd, rtt[lvl], 0, lvl), f"level-{lvl} RTT for IPA 0"))]
    steps += [("del-data", S("GRANULE_DELEGATE", (data,), "the image's DATA granule")),
              ("data", S("DATA_CREATE", (rd, data, data_ipa, src, 1), "the image at IPA 0, measured")),
              ("ripas", S("RTT_INIT_RIPAS", (rd, GRANULE, BLOCK), "the rest of RAM: RIPAS RAM")),
              ("auxcount", S("REC_AUX_COUNT", (rd,), "how many auxiliary granules a REC needs")),
              ("del-rec", S("GRANULE_DELEGATE", (rec,), "the REC"))]
    steps += [("del-aux", S("GRANULE_DELEGATE", (a,), "an auxiliary granule of the REC")) for a in aux]
    steps += [("rec", S("REC_CREATE", (rd, rec, recp), "REC 0, runnable")),
              ("activate", S("REALM_ACTIVATE", (rd,), "the realm is complete")),
              ("enter", S("REC_ENTER", (rec, run), "run REC 0"))]

    def tags(t):
        return [i for i, (tag, _) in enumerate(steps) if tag == t]

    def drop(*ts):
        steps[:] = [s for s in steps if s[0] not in ts]

    def move(t, before):
        items = [steps[i] for i in tags(t)]
        drop(t)
        at = tags(before)[0]
        steps[at:at] = items

    if kind == "rd-undelegated":
        drop("del-rd")
    elif kind == "root-undelegated":
        drop("del-root")
    elif kind == "data-before-rtt":
        move("del-data", "del-rtt1")
        move("data", "del-rtt1")
    elif kind == "rtt-level-skipped":
        drop("del-rtt2", "rtt2")
    elif kind == "rtt-twice":
        extra = alloc()
        at = tags("rtt2")[0] + 1
        steps[at:at] = [("del-rtt2b", S("GRANULE_DELEGATE", (extra,), "the level-2 RTT")),
                        ("rtt2b", S("RTT_CREATE", (rd, extra, 0, 2), "level-2 RTT for IPA 0"))]
    elif kind == "data-undelegated":
        drop("del-data")
    elif kind == "rec-after-activate":
        move("activate", "rec")
    elif kind == "ripas-after-activate":
        move("activate", "ripas")
    elif kind == "no-activate":
        drop("activate")
    elif kind == "activate-twice":
        at = tags("activate")[0] + 1
        steps[at:at] = [("activate2", S("REALM_ACTIVATE", (rd,), "the realm is complete"))]
    elif kind == "rec-undelegated":
        drop("del-rec")
    return steps


def _faulty_build(seed: int, number: int, kind: str) -> FaultyBuild:
    p, host = _machine()
    rng = random.Random(f"ccalab-lab04-build-{seed}-{number}")
    host.alloc(rng.randrange(0, 64))  # where this host's granules start differs from build to build
    steps = [s for _, s in _plan(host, kind)]
    calls = [host.rmi(s.command, *s.args) for s in steps]
    return FaultyBuild(number, steps, calls, kind)


def _run_kinds(seed: int) -> list:
    rng = random.Random(f"ccalab-lab04-bugs-{seed}")
    while True:
        kinds = rng.sample(BUG_KINDS, RUNS_PER_SEED)
        if len({_BUGS[k] for k in kinds}) >= 3:
            return kinds


def _faulty_builds(seed: int) -> tuple:
    return tuple(_faulty_build(seed, n, k) for n, k in enumerate(_run_kinds(seed), 1))


def _culprit(run: FaultyBuild) -> int:
    return next(i for i, c in enumerate(run.calls) if not c.ok)


def _judge_runs(seed: int, fn, msgs: list, probes: list) -> bool:
    tag = "Exercise 2"
    if fn is None:
        msgs.append(f"{tag}: no answer yet (answers['diagnose'] is your diagnose function).")
        probes.append((False, "exercise 2: no diagnosis"))
        return False
    if not callable(fn):
        msgs.append(f"{tag}: answers['diagnose'] must be your function diagnose(run), not a {type(fn).__name__}.")
        probes.append((False, "exercise 2: no diagnosis"))
        return False
    ok_all = True
    for run in _faulty_builds(seed):
        want_i, want_fix = _culprit(run), _BUGS[run._kind]
        try:
            got = fn(run)
        except Exception as exc:  # the learner's code: explained, never raised
            msgs.append(f"{tag}, build {run.number}: {_explain_exception(exc, 'diagnose(run)')}")
            probes.append((False, f"exercise 2, build {run.number}: diagnose raised an exception"))
            ok_all = False
            continue
        problem = _judge_diagnosis(run, got, want_i, want_fix)
        if problem:
            msgs.append(f"{tag}, build {run.number}: {problem}")
            probes.append((False, f"exercise 2, build {run.number}: not the faulty step and its fix"))
            ok_all = False
        else:
            c = run.calls[want_i]
            probes.append((True, f"exercise 2, build {run.number}: step {want_i} {c.name} "
                                 f"({describe(c.results[0])} [{label_of(c.failure)}]), fix '{want_fix}'"))
    return ok_all


def _judge_diagnosis(run: FaultyBuild, got, want_i: int, want_fix: str):
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return (f"diagnose must return (step index, fix), e.g. (3, 'delegate'); got {got!r:.60}.")
    i, fix = got
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(run.calls):
        return f"the step index must be an int from 0 to {len(run.calls) - 1}, got {i!r}."
    if not isinstance(fix, str) or fix not in FIXES:
        return f"the fix must be one of {', '.join(repr(f) for f in FIXES)}; got {fix!r}."
    i = int(i)
    c = run.calls[i]
    first = run.calls[want_i]
    label = label_of(first.failure)
    if i != want_i:
        if c.ok:
            return (f"step {i} ({c.name}) succeeded: RMI_SUCCESS. The faulty step is the first call that fails, "
                    "whatever the host meant by the steps before it.")
        if i > want_i:
            return (f"step {i} ({c.name}) fails only because an earlier step failed first: the first failure is the "
                    "one to fix, and every failure after it follows from it (the host went on without checking "
                    "the status).")
        return f"step {i} is not the first call that fails."  # pragma: no cover - a failing step before the first
    if fix != want_fix:
        meaning = _LABEL_TEXT.get(label, label)
        why = f"step {i}, {first.name}, returned {describe(first.results[0])} with failure label {label}: {meaning}."
        if first.name == "RMI_REALM_ACTIVATE" and label == "realm_state":
            why += " This realm is ACTIVE already."
        return f"the step is right, the fix is not: {why} Which fix makes that condition hold?"
    return None


# ==================================================================================================
# Exercise 3: the host against the realm
# ==================================================================================================
APPROACHES = ("peek", "dram", "remap", "destroy")
#: Why an approach does not reveal the secret.
REASONS = {
    "gpc": "the granule protection check: the GPT gives the granule to the Realm PAS, so the host's Non-secure "
           "access faults before any data moves",
    "mec": "memory encryption: DRAM holds the granule encrypted under the realm's key",
    "rmm": "the RMM refuses the command: one of its failure conditions holds",
    "scrub": "the RMM wipes the granule before the host gets it back, and the realm sees RIPAS DESTROYED",
    "page-tables": "the host's own page tables do not map the realm's memory",
    "stage-2": "the realm's stage-2 permissions forbid the host's access",
}
_EXPECTED = {"peek": "gpc", "dram": "mec", "remap": "rmm", "destroy": "scrub"}
#: Why a wrong reason is wrong, for (approach, reason).
_WRONG_REASON = {
    ("peek", "mec"): "encryption never comes into it: the GPC refuses the load before any data moves, so the host "
                     "does not even get ciphertext",
    ("peek", "rmm"): "no RMI command is involved: host.peek is a plain load of the host's own CPU in the Non-secure "
                     "PAS, which the RMM never sees",
    ("peek", "scrub"): "nothing was wiped: the granule still holds the secret",
    ("dram", "gpc"): "a probe on the DRAM bus never goes through the GPC; it reads the chips directly and gets bytes",
    ("dram", "rmm"): "no RMI command is involved: the probe reads the memory chips",
    ("dram", "scrub"): "nothing was wiped: the realm can still read its secret",
    ("remap", "gpc"): "no access was made: the RMM refused the command before anything was mapped",
    ("remap", "mec"): "no access was made: the RMM refused the command before anything was mapped",
    ("remap", "scrub"): "nothing was wiped: the command was refused",
    ("destroy", "gpc"): "the GPC did not stop anything: DATA_DESTROY and GRANULE_UNDELEGATE succeeded and the host "
                        "read the granule",
    ("destroy", "mec"): "the realm's key is not what kept the secret here: before the granule left the Realm PAS the "
                        "RMM overwrote it with zeros (in its own context), so there is no secret left to decrypt; "
                        "the host reads those zeros through its own key, as noise",
    ("destroy", "rmm"): "the RMM accepted DATA_DESTROY: a host may take its memory back at any time",
}
_GENERIC_WRONG = {
    "page-tables": "the host writes its own page tables and can map any PA it likes; what stops it comes after "
                   "translation, or in the RMM",
    "stage-2": "the realm's stage 2 (its RTTs) translates the realm's addresses, never the host's",
}


class Target:
    """A machine whose realm runs ``secret-keeper``: it stored a secret at IPA :attr:`secret_ipa`
    and waits. You are its host.

    ``platform``, ``host`` (:class:`~ccalab.host.Host`: ``peek``, ``poke``, ``rmi``, ``alloc``) and
    ``realm`` (:class:`~ccalab.host.RealmHandle`: ``rd``, ``data`` = {IPA: PA of the DATA granule
    the host gave the realm there}, ``enter()``) are yours to use.
    """

    def __init__(self, seed: int = 0):
        from ..host import RealmConfig

        rng = random.Random(f"ccalab-lab04-target-{seed}")
        self.seed = seed
        self.platform, self.host = _machine()
        self.host.alloc(rng.randrange(0, 200))
        cfg = RealmConfig(program="secret-keeper", ram_size=rng.choice((2, 4)) * MiB, arg=rng.randrange(1 << 32),
                          vmid=rng.randrange(1, 200))
        self.realm = self.host.build_realm(cfg)
        self.realm.run(max_exits=6)  # it stores its secret and prints where (then it would wait in a WFI loop)
        self.secret_ipa = self.realm.guest(0).notes["secret_ipa"]
        self._secret = self.realm.guest(0).notes["secret"]
        self._secret_pa = self.realm.data[self.secret_ipa]

    @property
    def rd(self) -> int:
        return self.realm.rd

    @property
    def console(self) -> list:
        """What the realm printed on the console the host emulates."""
        return list(self.realm.console)

    def __str__(self) -> str:
        return (f"Target (seed {self.seed}): realm RD {self.rd:#x}, VMID {self.realm.cfg.vmid}, "
                f"{self.realm.cfg.ram_size >> 20} MiB of RAM\n"
                f"  console: {' | '.join(self.console)}\n"
                f"  the secret is at IPA {self.secret_ipa:#x}; target.realm.data maps each IPA the host backed to "
                "the PA of its DATA granule\n"
                "  yours: target.host (peek, poke, rmi, alloc), target.platform (dram_read), target.realm (enter)")

    __repr__ = __str__


def _judge_attack(seed: int, fn, msgs: list, probes: list) -> bool:
    tag = "Exercise 3"
    if fn is None:
        msgs.append(f"{tag}: no answer yet (answers['attack'] is your attack function).")
        probes.append((False, "exercise 3: no attack"))
        return False
    if not callable(fn):
        msgs.append(f"{tag}: answers['attack'] must be your function attack(target, approach), not a "
                    f"{type(fn).__name__}.")
        probes.append((False, "exercise 3: no attack"))
        return False
    ok_all = True
    for approach in APPROACHES:
        t = Target(seed)
        try:
            got = fn(t, approach)
        except Exception as exc:  # the learner's code: explained, never raised
            msgs.append(f"{tag}, {approach!r}: {_explain_exception(exc, 'attack(target, approach)')}")
            probes.append((False, f"exercise 3, {approach}: attack raised an exception"))
            ok_all = False
            continue
        problem, seen = _judge_one_attack(t, approach, got)
        if problem:
            msgs.append(f"{tag}, {approach!r}: {problem}")
            probes.append((False, f"exercise 3, {approach}: not yet"))
            ok_all = False
        else:
            probes.append((True, f"exercise 3, {approach}: {seen}; why: {_EXPECTED[approach]}"))
    return ok_all


def _judge_one_attack(t: Target, approach: str, got):
    if got is None or (isinstance(got, tuple) and len(got) == 2 and got[0] is None and got[1] is None):
        return "no answer yet: return (what you got, why it failed) for this approach.", ""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return f"attack must return (what you got, why), e.g. (fault, 'gpc'); got {got!r:.60}.", ""
    outcome, reason = got
    check = {"peek": _outcome_peek, "dram": _outcome_dram, "remap": _outcome_remap, "destroy": _outcome_destroy}
    problem, seen = check[approach](t, outcome)
    if problem:
        return problem, ""
    if not isinstance(reason, str) or reason not in REASONS:
        return (f"{seen}. Now say why, with one of {', '.join(repr(r) for r in REASONS)}; got {reason!r}."), ""
    want = _EXPECTED[approach]
    if reason != want:
        why = _WRONG_REASON.get((approach, reason)) or _GENERIC_WRONG.get(reason) or "not that"
        return f"{seen}, right; but {reason!r} is not why: {why}.", ""
    return None, seen


def _secret_pages(t: Target) -> set:
    return {t.secret_ipa & ~(GRANULE - 1), t._secret_pa, t.secret_ipa | (1 << (t.realm.cfg.s2sz - 1))}


def _outcome_peek(t: Target, outcome):
    pa = t._secret_pa
    if isinstance(outcome, GranuleProtectionFault):
        fpa = outcome.pa
        if fpa is not None and fpa >> 12 != pa >> 12:
            return (f"that fault is at PA {fpa:#x}, not the secret's granule: the host gave the realm PA {pa:#x} for "
                    f"IPA {t.secret_ipa:#x} (target.realm.data[target.secret_ipa])."), ""
        return None, f"host.peek of PA {pa:#x} took a granule protection fault"
    if isinstance(outcome, (bytes, bytearray)):
        if t._secret[:16] in bytes(outcome):
            return ("those bytes hold the secret, but a Non-secure read of a Realm granule cannot return them: did "
                    "you read in the Realm PAS? Only the realm and the RMM can. Use target.host.peek(pa, n)."), ""
        return (f"host.peek returned bytes, so it did not read the realm's granule: an IPA is not a PA. The "
                f"realm's secret at IPA {t.secret_ipa:#x} lives in the DATA granule at target.realm.data"
                "[target.secret_ipa]."), ""
    return (f"for 'peek', return what target.host.peek(pa, n) gave you for the secret's granule (a "
            f"GranuleProtectionFault), not a {type(outcome).__name__}."), ""


def _outcome_dram(t: Target, outcome):
    pa = t._secret_pa
    if isinstance(outcome, GranuleProtectionFault):
        return ("that is a granule protection fault: a DRAM probe goes beneath the GPC. Use "
                "target.platform.dram_read(pa, n), which reads the memory chips."), ""
    if not isinstance(outcome, (bytes, bytearray)) or len(outcome) < 16:
        return (f"for 'dram', return the bytes target.platform.dram_read(pa, n) gave you (n >= 16), not "
                f"{type(outcome).__name__} {outcome!r:.40}."), ""
    outcome = bytes(outcome)
    if t._secret[:16] in outcome:
        return ("those bytes hold the secret in plaintext, which no probe of DRAM sees: did you read in the Realm "
                "PAS with the realm's MECID? Only the realm and the RMM can. Probe the chips with "
                "target.platform.dram_read(pa, n)."), ""
    off = _offset(t.platform.dram_read(pa, GRANULE), outcome)
    if off is None:
        return (f"those bytes are not what DRAM holds in the secret's granule (PA {pa:#x}, "
                "target.realm.data[target.secret_ipa]): probe that granule."), ""
    return None, f"DRAM at PA {pa + off:#x} holds {len(outcome)} bytes of ciphertext, not the secret"


def _offset(page: bytes, chunk: bytes):
    """Where ``chunk`` sits in ``page`` (granule-relative), or None."""
    k = page.find(chunk)
    return None if k < 0 else k


def _outcome_remap(t: Target, outcome):
    from ..host import RmiCall

    calls = list(outcome) if isinstance(outcome, (list, tuple)) else [outcome]
    if not calls or not all(isinstance(c, RmiCall) for c in calls):
        return ("for 'remap', return the RmiCall of the command you tried (what target.host.rmi(...) returned), "
                "e.g. RTT_MAP_UNPROTECTED of the secret's IPA."), ""
    pages = _secret_pages(t)
    mine = [c for c in calls if any(a & ~(GRANULE - 1) in pages for a in c.args[1:])]
    if not mine:
        return (f"none of your calls names the secret: its IPA {t.secret_ipa:#x}, the unprotected alias of that IPA, "
                "or the PA of its granule."), ""
    c = mine[-1]
    if c.ok:
        return (f"{c.name} succeeded, but it did not give you the secret: an unprotected mapping gives the realm a "
                "view of a host page, and the secret stays in its Realm granule at its protected IPA. Try to map the "
                "secret's own protected IPA as unprotected memory."), ""
    if c.status not in (RmiStatus.ERROR_INPUT, RmiStatus.ERROR_RTT):
        return f"{c} is refused, but not by the mapping rules: try a mapping command.", ""
    return None, f"{c.name} -> {describe(c.results[0])} [{label_of(c.failure)}]"


def _outcome_destroy(t: Target, outcome):
    from ..firmware.rmm.rmm import RMM_CONTEXT

    rmm = t.platform.rmm
    realm = rmm.realms.get(t.rd)
    pa = t._secret_pa
    if realm is None:  # pragma: no cover - the learner destroyed the whole realm
        return "the realm is gone: DATA_DESTROY only the secret's page, then read the granule you got back.", ""
    if rmm.granules.state(pa) == GranuleState.DATA:
        return (f"the secret's granule (PA {pa:#x}) is still the realm's DATA: DATA_DESTROY(rd, ipa) takes it "
                "back."), ""
    if isinstance(outcome, GranuleProtectionFault):
        return ("after DATA_DESTROY the granule is DELEGATED: still in the Realm PAS, so the host's read faults. "
                "GRANULE_UNDELEGATE it, then read it."), ""
    if not isinstance(outcome, (bytes, bytearray)) or not outcome:
        return ("for 'destroy', return the bytes you read from the granule after taking it back "
                "(DATA_DESTROY, GRANULE_UNDELEGATE, then target.host.peek)."), ""
    outcome = bytes(outcome)
    if t._secret[:16] in outcome:  # pragma: no cover - the RMM wipes every granule it gives back
        return "those bytes hold the secret: the RMM did not wipe the granule (a model bug: please report it).", ""
    now = t.host.peek(pa, GRANULE)
    if isinstance(now, GranuleProtectionFault):
        return ("the granule is still DELEGATED, so the host cannot read it: GRANULE_UNDELEGATE it first, then "
                "read it."), ""
    if _offset(now, outcome) is None:
        return (f"those bytes are not what the host reads in the granule it got back (PA {pa:#x}): read it with "
                "target.host.peek(pa, n) after GRANULE_UNDELEGATE."), ""
    w = rmm.walk(realm, t.secret_ipa, 3)
    ripas = s2tt.decode(w.entry, w.level)[1]
    wiped = not any(t.platform.mec.read(pa, GRANULE, RMM_CONTEXT))
    assert wiped and ripas == s2tt.Ripas.DESTROYED, "DATA_DESTROY must wipe the granule and leave RIPAS DESTROYED"
    return None, (f"DATA_DESTROY gave the granule back wiped (zeros in the RMM's context; the host reads them through "
                  f"its own key: {len(outcome)} bytes of noise), and IPA {t.secret_ipa:#x} is now RIPAS DESTROYED")


# ==================================================================================================
# The lab
# ==================================================================================================
class Exercise:
    """The three exercises of ``seed``: ``rim`` (:class:`RimExercise`), ``runs`` (the
    :class:`FaultyBuild` of each build to diagnose) and :meth:`target` (a fresh :class:`Target`)."""

    def __init__(self, seed: int = 0):
        self.seed = _check_seed(seed)
        self.rim = _rim_exercise(self.seed)
        self.runs = _faulty_builds(self.seed)

    def target(self) -> Target:
        """A fresh machine whose realm keeps a secret (the same for every call with this seed)."""
        return Target(self.seed)

    def __str__(self) -> str:
        rx = self.rim
        return (f"Lab 04 (seed {self.seed}): three exercises on your own machines\n"
                f"  1. ex.rim: a {len(rx.pages)}-page image, {rx.ram_size >> 20} MiB of RAM, {rx.hash_algo}, "
                f"{len(rx.recs)} REC{'s' if len(rx.recs) != 1 else ''}: predict its RIM\n"
                f"  2. ex.runs: {len(self.runs)} realm builds, each with one mistake: find the faulty step and its "
                "fix\n"
                "  3. ex.target(): a realm that keeps a secret: try to read it as the host")

    __repr__ = __str__


def make_exercise(seed: int = 0) -> Exercise:
    """The exercises of ``seed``: the same seed always gives the same image, builds and target."""
    return Exercise(seed)


class LabResult(ExercisesResult):
    """What :func:`check` found: ``passed``, the problems (``messages``), one line per item checked
    (``probes``), and which exercises passed (``exercises``: {1: bool, 2: bool, 3: bool})."""


def _explain_exception(exc: BaseException, call: str) -> str:
    text = f"your {call} raised {type(exc).__name__}: {exc}{learner_line(exc)}."
    s = str(exc)
    if isinstance(exc, KeyError) and call.startswith("attack"):
        text += " target.realm.data has one entry per IPA the host backed: target.realm.data[target.secret_ipa]."
    elif isinstance(exc, ExternalAbort) and call.startswith("attack"):
        text += (" Nothing answers at that physical address: an IPA is not a PA. The secret's IPA is backed by the "
                 "granule at target.realm.data[target.secret_ipa].")
    elif isinstance(exc, TypeError) and "positional argument" in s and not learner_line(exc):
        want = {"predict_rim(rx)": "one parameter, rx", "diagnose(run)": "one parameter, run",
                "attack(target, approach)": "two parameters, target and approach"}[call]
        text += f" The checker calls {call}: your function must take {want}."
    elif isinstance(exc, GranuleProtectionFault):
        text += (" The host's Non-secure access to a Realm granule faults: host.peek(pa, n) returns the fault "
                 "instead of raising it.")
    return text


@_progress.recorded(EXERCISE_ID)  # every check is an attempt in the learner's progress store
def check(answers, seed: int = 0) -> LabResult:
    """Judge ``answers = {"rim": predict_rim, "diagnose": diagnose, "attack": attack}`` on fresh
    machines of ``seed``: each exercise on its own, every mistake explained. Never raises."""
    try:
        seed = _check_seed(seed)
    except TypeError as exc:
        return LabResult(False, [f"check(answers, seed=...): {exc}"], seed=seed, exercises={})
    if answers is None:
        return LabResult(False, ["`answers` is None. Pass the dict of your three functions: check(answers, "
                                 "seed=SEED)."], seed=seed, exercises={})
    if callable(answers) or not isinstance(answers, dict):
        return LabResult(False, ["check needs the dict answers = {'rim': predict_rim, 'diagnose': diagnose, 'attack': "
                                 f"attack}}, got a {type(answers).__name__}."], seed=seed, exercises={})
    msgs, probes = [], []
    unknown = [k for k in answers if k not in ("rim", "diagnose", "attack")]
    if unknown:
        msgs.append(f"answers has keys {unknown!r} that no exercise reads: use 'rim', 'diagnose' and 'attack'.")
    done = {1: _judge_rim(_rim_exercise(seed), answers.get("rim"), msgs, probes),
            2: _judge_runs(seed, answers.get("diagnose"), msgs, probes),
            3: _judge_attack(seed, answers.get("attack"), msgs, probes)}
    if len(msgs) > _MAX_MESSAGES:
        msgs = msgs[:_MAX_MESSAGES] + [f"... and {len(msgs) - _MAX_MESSAGES} more; fix these first."]
    passed = all(done.values()) and not msgs
    rx = _rim_exercise(seed)
    summary = (f"the RIM of a {len(rx.pages)}-page image predicted from the descriptors; "
               f"{RUNS_PER_SEED} faulty builds diagnosed; the secret kept from the host in all {len(APPROACHES)} "
               "attempts (GPC, encryption, RMM checks, scrubbing with RIPAS DESTROYED).")
    return LabResult(passed, msgs, probes, seed=seed, summary=summary, exercises=done)


HINTS = (
    "Exercise 1: return a list, the RIM after each measured command, and run the check: it tells you the first RIM "
    "that differs and what that step's descriptor should hold. Start with REALM_CREATE: "
    "hashlib.new(rx.hash_algo, rx.params_page(keep=[...])).digest(), keeping only the measured fields.",
    "Exercise 1: a descriptor is bytearray(256) filled with struct.pack_into('<B', d, 0x0, type), "
    "struct.pack_into('<Q', d, 0x8, 0x100), d[0x10:0x10 + len(rim)] = rim, then the command's fields from 0x50. "
    "RTT_INIT_RIPAS gives one descriptor per RTT entry it sets: 4 KB entries up to 2 MB, 2 MB entries after.",
    "Exercise 2: the faulty step is the first call whose status is not RMI_SUCCESS (call.ok is False). Its failure "
    "label (label_of(call.failure), or call.failure.split(':')[0]) names the condition that failed: map it, with the "
    "command's name, to a fix.",
    "Exercise 3: the secret's PA is target.realm.data[target.secret_ipa]. 'peek': target.host.peek(pa, 64); 'dram': "
    "target.platform.dram_read(pa, 64); 'remap': target.host.rmi('RTT_MAP_UNPROTECTED', target.rd, "
    "target.secret_ipa, 3, target.host.alloc() | (0b110 << 2) | (0b11 << 6)).",
    "Exercise 3, 'destroy': call = target.host.rmi('DATA_DESTROY', target.rd, target.secret_ipa); the granule is "
    "call.results[1]; target.host.rmi('GRANULE_UNDELEGATE', it); then target.host.peek(it, 64). The reasons, in "
    "order of the approaches: 'gpc', 'mec', 'rmm', 'scrub'.",
)


def hint(n: int = 1) -> Hint:
    """The ``n``-th hint (1 to 5), each giving a little more away."""
    return pick_hint(HINTS, n)


__all__ = ["Exercise", "RimExercise", "FaultyBuild", "Target", "LabResult", "FIXES", "REASONS", "APPROACHES",
           "BUG_KINDS", "make_exercise", "check", "hint"]
