"""Lab 01: lay out the physical address spaces of a machine, as a TF-A platform port does.

The learner writes the list of :class:`~ccalab.arch.gpt.PASRegion` that TF-A's ``plat_pas_regions``
holds for a machine described by :func:`make_exercise`. :func:`check` boots a machine from that
list with the same builder and EL3 monitor the platform uses (``gpt_init_l0_tables``,
``gpt_init_pas_l1_tables``, ``gpt_enable``), reads back the GPI of every DRAM granule through
the GPT walk kernel, and probes the result with granule protection checks and a delegation.

Lab: ``labs/01-pas-layout.ipynb``. Notebook that introduces the ideas:
``notebooks/01-granule-protection.ipynb``.

Spec: TF-A ``plat/arm/board/fvp/include/fvp_pas_def.h`` (the FVP's PAS regions),
``lib/gpt_rme`` ``validate_pas_mappings``; RME system architecture DEN0129 (GPI values, GPC).
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

import numpy as np

from ..arch.gpt import GPCConfig, PASRegion
from ..arch.gpt.builder import validate_regions
from ..arch.gpt.config import L0GPTSZ_ENCODING, PGS_ENCODING, PPS_ENCODING
from ..arch.memory import MemoryRegion
from ..arch.pas import GPI, PAS
from ..arch.sysreg import GPCCR_EL3
from . import progress as _progress
from ..platform import DRAM0_BASE, DRAM0_MAX, DRAM1_BASE, FVP_FIXED_REGIONS, Platform, PlatformLayout
from .hints import Hint, pick_hint
from .result import CheckResult

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

PPS, PGS, L0GPTSZ, PAMAX = 40, 4096, 30, 48


def _fmt_size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    if n >= MiB:
        return f"{n / MiB:.6g} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def _cfg() -> GPCConfig:
    gpccr = GPCCR_EL3.encode(PPS=PPS_ENCODING[PPS], PGS=PGS_ENCODING[PGS], SH=3, IRGN=1, ORGN=1,
                             L0GPTSZ=L0GPTSZ_ENCODING[L0GPTSZ], GPC=1)
    return GPCConfig.from_registers(gpccr, 0, PAMAX)


# --- the exercise --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bank:
    """One DRAM bank of the exercise machine."""

    name: str
    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class Carveout:
    """A range of DRAM that the machine description reserves for one piece of firmware."""

    name: str
    base: int
    size: int
    owner: str

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class Exercise:
    """The machine a learner lays out: DRAM banks, MMIO, and the firmware carve-outs.

    Everything in DRAM that no carve-out claims belongs to the Non-secure world. Only the
    description is public here; what each carve-out's GPI must be is for the learner to decide.
    """

    seed: int
    dram_size: int
    banks: tuple
    gpt: Carveout
    el3: Carveout
    realm: Carveout
    secure: Carveout
    memory_map: tuple
    pps: int = PPS
    pgs: int = PGS
    l0gptsz: int = L0GPTSZ

    @property
    def carveouts(self) -> tuple:
        """The carve-outs from the lowest address up."""
        return tuple(sorted((self.gpt, self.el3, self.realm, self.secure), key=lambda c: c.base))

    def _rows(self):
        rows = [(b.name, b.base, b.size, "DRAM bank") for b in self.banks]
        rows += [(c.name, c.base, c.size, c.owner) for c in self.carveouts]
        return rows

    def __str__(self) -> str:
        lines = [f"Exercise machine (seed {self.seed}): {_fmt_size(self.dram_size)} of DRAM, "
                 f"granule {self.pgs // KiB} KB, L0GPTSZ {self.l0gptsz} bits (1 GB per L0 entry), "
                 f"PPS {self.pps} bits",
                 f"{'name':<22} {'base':>14} {'end':>14} {'size':>10}  what"]
        for name, base, size, what in self._rows():
            lines.append(f"{name:<22} {base:#14x} {base + size:#14x} {_fmt_size(size):>10}  {what}")
        lines.append("Outside DRAM: " + ", ".join(f"{r.name} at {r.base:#x}" for r in self.memory_map
                                                  if r.kind != "dram"))
        lines.append("Everything else in DRAM belongs to the Non-secure world (the host).")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = (f"<p><b>Exercise machine (seed {self.seed})</b>: {_fmt_size(self.dram_size)} of DRAM, "
                f"granule {self.pgs // KiB} KB, L0GPTSZ {self.l0gptsz} bits, PPS {self.pps} bits</p>")
        rows = "".join(f"<tr><td>{html.escape(n)}</td><td><code>{b:#x}</code></td><td><code>{b + s:#x}</code></td>"
                       f"<td>{_fmt_size(s)}</td><td>{html.escape(w)}</td></tr>"
                       for n, b, s, w in self._rows())
        table = ("<table><tr><th>name</th><th>base</th><th>end</th><th>size</th><th>what</th></tr>"
                 f"{rows}</table>")
        foot = ("<p>Outside DRAM: " + html.escape(", ".join(f"{r.name} at {r.base:#x}" for r in self.memory_map
                                                           if r.kind != "dram"))
                + ".<br>Everything else in DRAM belongs to the Non-secure world (the host).</p>")
        return head + table + foot


def _gpt_area_size(cfg: GPCConfig, banks) -> int:
    """Bytes the monitor needs for the L0 table and one L1 table per L0 region holding DRAM."""
    l0_needing = {i for b in banks for i in range(b.base >> cfg.s, ((b.end - 1) >> cfg.s) + 1)}
    l0_space = -(-cfg.l0_table_size // cfg.l1_table_size) * cfg.l1_table_size
    return l0_space + len(l0_needing) * cfg.l1_table_size


def make_exercise(seed: int = 0) -> Exercise:
    """A randomised machine description for the lab; the same seed always gives the same machine.

    The DRAM size, the carve-out sizes and where the Secure carve-out sits change with the seed;
    every variant is legal for a 4 KB granule, L0GPTSZ = 30 and PPS = 40 bits.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"the seed is an int, got {seed!r}")
    seed = int(seed)
    rng = random.Random(f"ccalab-lab01-{seed}")
    cfg = _cfg()
    dram_size = rng.choice([1 * GiB, 1 * GiB + 512 * MiB, 2 * GiB, 3 * GiB, 4 * GiB])
    d0 = min(dram_size, DRAM0_MAX)
    banks = [Bank("DRAM0", DRAM0_BASE, d0)]
    if dram_size > d0:
        banks.append(Bank("DRAM1", DRAM1_BASE, dram_size - d0))
    need = _gpt_area_size(cfg, banks)
    gpt_size = -(-need // MiB) * MiB + rng.choice([0, 0, MiB])
    el3_size = rng.choice([2 * MiB, 3 * MiB, 3 * MiB + 512 * KiB, 4 * MiB])
    realm_size = rng.choice([24 * MiB, 32 * MiB, 48 * MiB, 64 * MiB, 32 * MiB + 256 * KiB])
    secure_size = rng.choice([16 * MiB, 28 * MiB, 32 * MiB, 20 * MiB + 64 * KiB])
    top = banks[0].end
    gpt = Carveout("GPT area", top - gpt_size, gpt_size, "the Granule Protection Tables (L0 and L1)")
    el3 = Carveout("EL3 data", gpt.base - el3_size, el3_size, "the EL3 monitor's data (BL31)")
    realm = Carveout("RMM carve-out", el3.base - realm_size, realm_size, "the Realm Management Monitor (RMM)")
    if rng.random() < 0.5:
        secure = Carveout("Secure carve-out", realm.base - secure_size, secure_size,
                          "the Secure world (SPMC / trusted OS)")
    else:
        secure = Carveout("Secure carve-out", DRAM0_BASE, secure_size, "the Secure world (SPMC / trusted OS)")
    memory_map = tuple(FVP_FIXED_REGIONS) + tuple(MemoryRegion(b.name, b.base, b.size, "dram") for b in banks)
    return Exercise(seed, dram_size, tuple(banks), gpt, el3, realm, secure, memory_map)


# --- hidden reference: what each byte of DRAM must be, and why -------------------------------------
_WHY = {
    "gpt": ("it must be Root: the GPC fetches the tables in the Root PAS, and only EL3 can name the Root PAS. "
            "If any other world could write them, it could rewrite its own permissions (TF-A checks that "
            "the GPT memory is Root before it builds the tables)"),
    "el3": ("it must be Root: EL3 keeps the saved context of every world there, so no lower world may read "
            "or change it"),
    "realm": ("it must be Realm: the RMM runs from it, and the Non-secure host (and the Secure world) must "
              "fault on it"),
    "secure": ("it must be Secure: it holds the Secure world's code and data, which neither the host nor a "
               "realm may reach"),
    "ns": ("it must be Non-secure: it is the host's memory, and the granules the host delegates to realms "
           "come from here"),
}


def _segments(ex: Exercise):
    """(role, name, base, end, GPI) for every byte of DRAM, in address order."""
    owned = [("gpt", ex.gpt, GPI.ROOT), ("el3", ex.el3, GPI.ROOT), ("realm", ex.realm, GPI.REALM),
             ("secure", ex.secure, GPI.SECURE)]
    out = []
    for bank in ex.banks:
        inside = sorted((c for c in owned if bank.base <= c[1].base < bank.end), key=lambda c: c[1].base)
        cur = bank.base
        for role, c, g in inside:
            if c.base > cur:
                out.append(("ns", f"Non-secure {bank.name}", cur, c.base, GPI.NONSECURE))
            out.append((role, c.name, c.base, c.end, g))
            cur = c.end
        if cur < bank.end:
            out.append(("ns", f"Non-secure {bank.name}", cur, bank.end, GPI.NONSECURE))
    return out


# --- a machine booted from the learner's regions -------------------------------------------------
def _lab_platform(ex: "Exercise", regions) -> Platform:
    """A :class:`Platform` whose PAS regions and GPT area come from the exercise and the learner."""
    layout = PlatformLayout(ex.memory_map, tuple(regions), (ex.gpt.base, ex.gpt.size))
    return Platform(dram_size=ex.dram_size, pps=ex.pps, pgs=ex.pgs, l0gptsz=ex.l0gptsz, pamax=PAMAX,
                    layout=layout)


def boot(regions, seed: int = 0) -> Platform:
    """Boot the exercise machine of ``seed`` with ``regions`` as its PAS layout.

    Raises ``ValueError`` where TF-A's boot would stop (bad regions, too little GPT space);
    :func:`check` catches that and explains it. Use it to explore a layout that passed.
    """
    return _lab_platform(make_exercise(seed), list(regions))


# --- the result ----------------------------------------------------------------------------------
@dataclass(repr=False)
class LabResult(CheckResult):
    """What :func:`check` found: ``passed``, the problems (``messages``) and the probes it ran."""

    PROBES_TITLE = "Probes on the machine booted from your regions:"

    def passed_text(self) -> str:
        return "your PAS layout boots and protects every world."


# --- the checker ---------------------------------------------------------------------------------
def _shape_problems(regions):
    """Messages about the Python shape of ``regions``, and the cleaned list (None if unusable)."""
    if regions is None:
        return ["`regions` is None: assign a list of PASRegion(name, base, size, gpi) to it."], None
    if isinstance(regions, PASRegion):
        return ["`regions` is one PASRegion; the layout is a list of them: regions = [PASRegion(...), ...]."], None
    if isinstance(regions, (str, bytes, dict)) or not hasattr(regions, "__iter__"):
        return [f"`regions` must be a list of PASRegion, got {type(regions).__name__}."], None
    items = list(regions)
    if not items:
        return ["`regions` is empty: with no PAS regions every L0 entry stays a block of All access, so "
                "every world could read and write all of memory."], None
    msgs, clean = [], []
    for i, r in enumerate(items):
        if isinstance(r, PASRegion):
            bad = [k for k in ("base", "size") if isinstance(getattr(r, k), bool)
                   or not isinstance(getattr(r, k), (int, np.integer))]
            if bad:
                msgs.append(f"regions[{i}] ({r.name}): {' and '.join(bad)} must be whole numbers of bytes (int), "
                            f"got {', '.join(repr(getattr(r, k)) for k in bad)}.")
                continue
            clean.append(PASRegion(str(r.name), int(r.base), int(r.size), r.gpi, r.mapping))
        elif isinstance(r, (tuple, list)):
            msgs.append(f"regions[{i}] is a {type(r).__name__} {tuple(r)!r:.80}; write it as "
                        "PASRegion(name, base, size, gpi) so that each field has its meaning.")
        else:
            msgs.append(f"regions[{i}] is a {type(r).__name__}, not a PASRegion(name, base, size, gpi).")
    return msgs, (None if msgs else clean)


def _describe_range(lo, hi):
    return f"[{lo:#x}, {hi:#x}) ({_fmt_size(hi - lo)})"


def _static_problems(ex: Exercise, regions, cfg: GPCConfig):
    """Alignment, PPS, overlap and DRAM-only checks, with TF-A's validation doing the judging."""
    msgs = []
    for r in regions:
        try:
            validate_regions(cfg, [r])
        except ValueError as exc:
            text = str(exc)
            if "aligned" in text:
                why = (" The GPT describes memory granule by granule (an L1 nibble per 4 KB granule), so a "
                       "region that starts or ends inside a granule cannot be described."
                       if r.mapping == "granule" else
                       " A 'block' region becomes whole L0 block descriptors, each covering 1 GB.")
            else:
                why = (" Above the protected PA size there is no GPT entry at all: only Non-secure accesses "
                       "pass there, so nothing above it can be protected.")
            msgs.append(text + "." + why)
    if msgs:
        return msgs
    try:
        validate_regions(cfg, regions)
    except ValueError as exc:
        text = str(exc)
        if "overlap" in text:
            why = (" Each granule has exactly one GPI, so two regions cannot both claim it "
                   "(TF-A's validate_pas_mappings refuses to boot).")
        else:
            why = " An L0 entry is either a block or a pointer to an L1 table, never both."
        msgs.append(text + "." + why)
    in_dram = [(b.base, b.end) for b in ex.banks]
    for r in regions:
        outside = _outside(r.base, r.end, in_dram)
        if outside:
            lo, hi = outside[0]
            where = [m.name for m in ex.memory_map if m.kind != "dram" and m.base < hi and m.end > lo]
            msgs.append(f"PAS region {r.name} covers {_describe_range(lo, hi)} outside DRAM"
                        + (f" (it includes {', '.join(where)})" if where else "")
                        + ". This lab lists DRAM only: ROM, SRAM and device registers (MMIO) are left to the "
                          "L0 default of All access, as on the FVP, and extra L1 tables would not fit in the "
                          "GPT area.")
    return msgs


def _outside(lo, hi, ranges):
    """Parts of [lo, hi) not inside any of ``ranges``."""
    parts = [(lo, hi)]
    for a, b in ranges:
        nxt = []
        for x, y in parts:
            if y <= a or x >= b:
                nxt.append((x, y))
                continue
            if x < a:
                nxt.append((x, a))
            if y > b:
                nxt.append((b, y))
        parts = nxt
    return parts


def _runs(mask: np.ndarray):
    """(start, stop) index pairs of the True runs in ``mask``."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


def _gpi_name(g: int) -> str:
    try:
        return GPI(int(g)).label
    except ValueError:
        return f"reserved 0b{int(g):04b}"


def _map_problems(p: Platform, ex: Exercise):
    """Compare the GPI of every DRAM granule (read back through the GPT) with what it must be."""
    msgs = []
    g = ex.pgs
    for role, name, lo, hi, want in _segments(ex):
        got = p.granule_gpis(lo, hi)
        wrong = got != int(want)
        if not wrong.any():
            continue
        runs = _runs(wrong)
        a, b = runs[0]
        first = got[a]
        uncovered = int((got[wrong] == GPI.ANY).sum())
        n = int(wrong.sum())
        if n == len(got) and (got == first).all():
            text = f"{name} {_describe_range(lo, hi)}: your GPT makes all of it {_gpi_name(first)}, not {want.label}."
        else:
            text = (f"{name} {_describe_range(lo, hi)}: {n} of its {len(got)} granules are not {want.label}; "
                    f"the first wrong range is {_describe_range(lo + a * g, lo + b * g)}, which your GPT gives "
                    f"{_gpi_name(first)}.")
        if uncovered:
            text += (f" {uncovered} granules are covered by no region, so they keep the default All access "
                     "and every world could read and write them: every byte of DRAM must be in a region.")
        text += f" Why: {_WHY[role]}."
        msgs.append(text)
    return msgs


def _probes(p: Platform, ex: Exercise):
    """Concrete accesses on the booted machine, as (ok, text); delegation problems as messages."""
    probes, msgs = [], []

    def expect_fault(pa, pas, who, what):
        f = p.gpc_check(pa, pas)
        ok = f is not None and f.is_gpf
        probes.append((ok, f"{who} access to {what} at {pa:#x} {'faults' if ok else 'is ALLOWED'} "
                           f"(expected a granule protection fault)"))

    def expect_pass(pa, pas, who, what):
        f = p.gpc_check(pa, pas)
        probes.append((f is None, f"{who} access to {what} at {pa:#x} "
                                  f"{'is allowed' if f is None else 'FAULTS'} (expected allowed)"))

    expect_fault(ex.realm.base, PAS.NONSECURE, "host (Non-secure PAS)", "the RMM carve-out")
    expect_fault(ex.gpt.base, PAS.NONSECURE, "host (Non-secure PAS)", "the GPT area")
    expect_fault(ex.gpt.end - ex.pgs, PAS.REALM, "RMM (Realm PAS)", "the GPT area")
    expect_fault(ex.gpt.base, PAS.SECURE, "Secure world (Secure PAS)", "the GPT area")
    expect_fault(ex.el3.base, PAS.NONSECURE, "host (Non-secure PAS)", "EL3 data")
    expect_fault(ex.secure.base, PAS.NONSECURE, "host (Non-secure PAS)", "the Secure carve-out")
    expect_fault(ex.secure.base, PAS.REALM, "RMM (Realm PAS)", "the Secure carve-out")
    expect_pass(ex.realm.base, PAS.REALM, "RMM (Realm PAS)", "its own carve-out")
    expect_pass(ex.gpt.base, PAS.ROOT, "EL3 (Root PAS)", "the GPT area")
    expect_pass(ex.secure.base, PAS.SECURE, "Secure world (Secure PAS)", "its carve-out")
    ns = [(name, lo, hi) for role, name, lo, hi, _ in _segments(ex) if role == "ns"]
    for name, lo, hi in ns:
        expect_pass(lo, PAS.NONSECURE, "host (Non-secure PAS)", name)
    for name, lo, hi in ns:
        pa = lo + ((hi - lo) // 2) // ex.pgs * ex.pgs
        if p.gpi(pa) != GPI.NONSECURE:
            continue  # already reported by the map comparison
        st = p.monitor.gtsi_delegate(pa)
        ok = st == 0 and p.gpc_check(pa, PAS.NONSECURE) is not None
        back = p.monitor.gtsi_undelegate(pa) == 0 if st == 0 else False
        ok = ok and back and p.gpc_check(pa, PAS.NONSECURE) is None
        probes.append((ok, f"RMM_GTSI_DELEGATE then UNDELEGATE of granule {pa:#x} in {name} "
                           f"{'works' if ok else 'FAILS'}"))
        if not ok:
            mapping = next((r.mapping for r in p.pas_regions if r.base <= pa < r.end), "?")
            msgs.append(f"{name}: the monitor cannot delegate granule {pa:#x} to a realm (status {st})."
                        + (" Its region uses mapping='block', an L0 block descriptor that is fixed after "
                           "boot; gpt_transition_pas needs an L1 table there, so Non-secure DRAM must use "
                           "mapping='granule' (GPT_MAP_REGION_GRANULE)." if mapping == "block" else ""))
    return probes, msgs


@_progress.recorded("lab01-pas-layout")  # every check is an attempt in the learner's progress store
def check(regions, seed: int = 0) -> LabResult:
    """Check a learner's PAS layout for the exercise machine of ``seed``. Never raises.

    The layout is validated as TF-A validates ``plat_pas_regions``, then a machine is booted from
    it and every DRAM granule's GPI is read back through the GPT and compared with what the
    machine description requires; finally the checker probes the booted machine with granule
    protection checks and one delegation per Non-secure range.
    """
    try:
        ex = make_exercise(seed)
    except TypeError as exc:
        return LabResult(False, [f"check(regions, seed=...): {exc}"], seed=seed)
    msgs, clean = _shape_problems(regions)
    if clean is None:
        return LabResult(False, msgs, seed=ex.seed)
    cfg = _cfg()
    msgs = _static_problems(ex, clean, cfg)
    if msgs:
        msgs.append("(Fix these first: TF-A refuses to build a GPT from such a list, so no machine was booted.)")
        return LabResult(False, msgs, seed=ex.seed)
    try:
        p = _lab_platform(ex, clean)
    except ValueError as exc:
        return LabResult(False, [f"The EL3 monitor could not boot with these regions: {exc}."], seed=ex.seed)
    msgs = _map_problems(p, ex)
    probes, more = _probes(p, ex)
    msgs += more
    passed = not msgs and all(ok for ok, _ in probes)
    if not msgs and not passed:  # a probe failed for a reason the map did not show
        msgs.append("A probe failed although every granule has the expected GPI; see the probes below.")
    return LabResult(passed, msgs, probes, seed=ex.seed)


# --- hints ---------------------------------------------------------------------------------------
_HINTS = (
    "Start from the machine description: print(make_exercise(SEED)). Every DRAM byte needs exactly one "
    "region; the carve-outs are given, and what is left over is the host's (Non-secure) memory.",
    "Each carve-out gets the GPI of the world that owns it: GPI.SECURE, GPI.REALM, or GPI.ROOT for what "
    "only EL3 may touch. Which two carve-outs belong to EL3?",
    "The Non-secure DRAM is the part of each bank that no carve-out takes. If a carve-out sits in the "
    "middle of a bank, the Non-secure memory is two regions, one on each side.",
    "Bases and sizes are ints in bytes and multiples of the 4 KB granule. Compute them from the exercise "
    "(ex.realm.base, ex.realm.size, ex.banks[0].end, ...) rather than typing hex by hand.",
    "Keep mapping='granule' (the default) for DRAM: only regions with L1 tables can have single granules "
    "delegated to realms later.",
)


def hint(n: int = 1) -> Hint:
    """The ``n``-th hint (1-based); later hints give more away."""
    return pick_hint(_HINTS, n)


__all__ = ["Exercise", "Bank", "Carveout", "LabResult", "make_exercise", "check", "hint", "boot", "PASRegion",
           "GPI"]
