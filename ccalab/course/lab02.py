"""Lab 02: build a guest's stage-1 and stage-2 translation tables.

The learner writes ``build(ex, s1, s2)``: given the layout of :func:`make_exercise` (which
virtual addresses the guest OS maps, with which permissions, to which IPAs; which IPAs the
hypervisor maps to which PAs, with 2MB blocks or 4KB pages), it writes the descriptors into two
:class:`~ccalab.arch.mmu.descriptors.TableBuilder` trees, ``s1`` (the guest's tables, in guest
memory) and ``s2`` (the hypervisor's). :func:`check` runs it on a fresh machine and judges the
result only by translating with a real :class:`~ccalab.arch.pe.PE`: every required page, for
every access kind (read, write, execute) at EL1 and EL0, must give the required PA and PAS or the
required fault; the pages around each mapping must stay unmapped.

Lab: ``labs/02-page-tables.ipynb``. Notebook that introduces the ideas:
``notebooks/02-address-translation.ipynb``.

Spec: Arm ARM K.a, D8.3 (descriptor formats), D8.4 (access permissions: AP[2:1], PXN, UXN,
S2AP, XN[1:0]), D8.5 (memory attributes: AttrIndx and MAIR_EL1, stage-2 MemAttr with
HCR_EL2.FWB = 1); ccalab spec digest section 4.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass

import numpy as np

from ..arch.mmu.descriptors import (AP_RO_NONE, AP_RO_RO, AP_RW_NONE, AP_RW_RW, LEVEL_SIZE, TableBuilder,
                                    describe, s1_leaf, s2_leaf, table)
from ..arch.mmu.faults import FaultKind
from ..arch.pas import PAS
from ..arch.sysreg import HCR_EL2, MAIR_EL1, SCTLR_EL1, TCR_EL1, VTCR_EL2
from . import progress as _progress
from .hints import Hint, pick_hint
from .result import CheckResult, learner_line

KiB, MiB = 1 << 10, 1 << 20
PAGE, BLOCK = 4 * KiB, 2 * MiB

#: MAIR_EL1 slots the guest's stage 1 uses (AttrIndx): 0 Normal write-back, 1 Device-nGnRE.
ATTR_NORMAL, ATTR_DEVICE = 0, 1
MAIR_VALUE = MAIR_EL1.encode(Attr0=0xFF, Attr1=0x04)
#: Stage-2 MemAttr with HCR_EL2.FWB = 1: 0b0110 forces Normal write-back, 0b0001 is Device-nGnRE.
S2_NORMAL, S2_DEVICE = 0b0110, 0b0001

VA_BITS, IPA_BITS, PA_BITS = 48, 40, 40
S2_START_LEVEL = 1  # a 40-bit IPA space starts at level 1 with two concatenated tables
S2_ROOT_TABLES = 2
ASID, VMID = 5, 9
EXECUTE = ("EL1 and EL0", "EL0 only", "EL1 only", "never")
#: XN[1:0] for each stage-2 execute choice (Arm ARM: 00 both, 01 EL0 only, 10 neither, 11 EL1 only).
_XN_FOR = {"EL1 and EL0": 0b00, "EL0 only": 0b01, "never": 0b10, "EL1 only": 0b11}
_AP_TEXT = {0: "RW at EL1, no access at EL0", 1: "RW at EL1 and EL0", 2: "read-only at EL1, no access at EL0",
            3: "read-only at EL1 and EL0"}
_AP_NAME = {0: "AP_RW_NONE", 1: "AP_RW_RW", 2: "AP_RO_NONE", 3: "AP_RO_RO"}
_ACC = {"r": "read", "w": "write", "x": "exec"}
_ACC_TEXT = {"r": "readable", "w": "writable", "x": "executable"}
_VERB = {"r": "reading", "w": "writing", "x": "executing"}


def _fmt_size(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n >> 20} MB"
    return f"{n >> 10} KB"


# --- the exercise --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage1Region:
    """A range of guest virtual addresses that the guest OS maps (stage 1), 4KB pages each.

    ``el1`` and ``el0`` say what the guest's own tables allow at that level: a string of ``r``
    (read), ``w`` (write) and ``x`` (execute); ``""`` means no access. ``memory`` is
    ``"normal"`` or ``"device"`` (the MAIR_EL1 slot: ``ATTR_NORMAL`` or ``ATTR_DEVICE``).
    """

    name: str
    va: int
    ipa: int
    pages: int
    el1: str
    el0: str
    memory: str = "normal"

    @property
    def size(self) -> int:
        return self.pages * PAGE

    @property
    def end(self) -> int:
        return self.va + self.size


@dataclass(frozen=True)
class Stage2Region:
    """A range of IPAs that the hypervisor maps (stage 2) to ``pa``.

    ``level`` is 2 for one 2MB block, 3 for 4KB pages. ``access`` is ``"rw"`` or ``"r"`` (S2AP);
    ``execute`` is one of ``"EL1 and EL0"``, ``"EL0 only"``, ``"EL1 only"``, ``"never"``
    (XN[1:0]); ``memory`` is ``"normal"`` or ``"device"`` (MemAttr: ``S2_NORMAL`` or ``S2_DEVICE``).
    """

    name: str
    ipa: int
    pa: int
    size: int
    level: int
    access: str
    execute: str
    memory: str = "normal"

    @property
    def end(self) -> int:
        return self.ipa + self.size

    @property
    def pages(self) -> int:
        return self.size // PAGE


@dataclass(frozen=True)
class Exercise:
    """The layout a learner builds: what the guest OS maps at stage 1, what the hypervisor maps at
    stage 2, and where the two table pools are (``s1_pool`` holds the guest's tables at
    IPA == PA; ``s2_pool`` the hypervisor's, which the guest never sees)."""

    seed: int
    stage1: tuple
    stage2: tuple
    s1_pool: tuple  # (base, size): IPA == PA
    s2_pool: tuple  # (base, size): PA
    va_bits: int = VA_BITS
    ipa_bits: int = IPA_BITS
    pa_bits: int = PA_BITS

    def region(self, name: str):
        """The stage-1 or stage-2 region called ``name`` (stage 1 first)."""
        for r in self.stage1 + self.stage2:
            if r.name == name:
                return r
        raise KeyError(f"no region {name!r}; stage 1: {[r.name for r in self.stage1]}, "
                       f"stage 2: {[r.name for r in self.stage2]}")

    @staticmethod
    def _perm(p: str) -> str:
        return p if p else "none"

    def _rows1(self):
        return [(r.name, f"{r.va:#x}", f"{r.ipa:#x}", f"{r.pages} x 4KB", self._perm(r.el1), self._perm(r.el0),
                 r.memory) for r in self.stage1]

    def _rows2(self):
        return [(r.name, f"{r.ipa:#x}", f"{r.pa:#x}", _fmt_size(r.size),
                 "one 2MB block" if r.level == 2 else "4KB pages", r.access, r.execute, r.memory)
                for r in self.stage2]

    _H1 = ("stage 1 (guest OS)", "VA", "IPA", "size", "EL1", "EL0", "memory")
    _H2 = ("stage 2 (hypervisor)", "IPA", "PA", "size", "map with", "access", "execute", "memory")

    def __str__(self) -> str:
        lines = [f"Lab 02 layout (seed {self.seed}): {self.va_bits}-bit VAs (stage 1 starts at level 0), "
                 f"{self.ipa_bits}-bit IPAs (stage 2 starts at level {S2_START_LEVEL}, {S2_ROOT_TABLES} "
                 "concatenated tables), 4KB granule"]
        for head, rows in ((self._H1, self._rows1()), (self._H2, self._rows2())):
            widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
            lines.append("  ".join(str(h).ljust(w) for h, w in zip(head, widths)))
            lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)) for row in rows]
            lines.append("")
        lines.append(f"Guest table pool (s1): {self.s1_pool[0]:#x}, {_fmt_size(self.s1_pool[1])}, at IPA == PA. "
                     f"Hypervisor table pool (s2): PA {self.s2_pool[0]:#x}, {_fmt_size(self.s2_pool[1])}.")
        lines.append("Everything not listed must stay unmapped.")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def tab(head, rows):
            h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
            b = "".join("<tr>" + "".join(f"<td><code>{html.escape(str(x))}</code></td>" if i in (1, 2) else
                                         f"<td>{html.escape(str(x))}</td>" for i, x in enumerate(row)) + "</tr>"
                        for row in rows)
            return f"<table><tr>{h}</tr>{b}</table>"

        return (f"<p><b>Lab 02 layout (seed {self.seed})</b>: {self.va_bits}-bit VAs (stage 1 starts at level 0), "
                f"{self.ipa_bits}-bit IPAs (stage 2 starts at level {S2_START_LEVEL} with {S2_ROOT_TABLES} "
                "concatenated tables), 4KB granule.</p>"
                + tab(self._H1, self._rows1()) + "<br>" + tab(self._H2, self._rows2())
                + f"<p>Guest table pool (<code>s1</code>): <code>{self.s1_pool[0]:#x}</code>, "
                  f"{_fmt_size(self.s1_pool[1])}, at IPA == PA. Hypervisor table pool (<code>s2</code>): PA "
                  f"<code>{self.s2_pool[0]:#x}</code>, {_fmt_size(self.s2_pool[1])}. "
                  "Everything not listed must stay unmapped.</p>")


def make_exercise(seed: int = 0) -> Exercise:
    """A randomised layout for the lab; the same seed always gives the same layout.

    Addresses, sizes and the UART change with the seed; the kinds of region stay the same: kernel
    code and data and a dirty-tracked buffer in guest RAM (one 2MB block at stage 2), a device
    page, a user code page and user data pages (4KB pages at stage 2), and the guest's own tables.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"the seed is an int, got {seed!r}")
    seed = int(seed)
    rng = random.Random(f"ccalab-lab02-{seed}")
    # physical memory (Non-secure DRAM of a 512 MiB machine starts at 0x8000_0000)
    s2_pool = (0x8100_0000 + rng.randrange(16) * 16 * PAGE, 64 * PAGE)
    s1_pool = (0x8200_0000 + rng.randrange(64) * 16 * PAGE, 32 * PAGE)
    ram_pa = 0x8400_0000 + rng.randrange(96) * BLOCK
    user_pa = [0x9000_0000 + n * PAGE for n in rng.sample(range(0x8000), 3)]
    tracked_pa = 0x9800_0000 + rng.randrange(0x1000) * PAGE
    uart_pa = rng.choice([0x1C09_0000, 0x1C0A_0000])
    # IPA space (40 bits)
    ram_ipa = 0x4000_0000 + rng.randrange(1, 256) * BLOCK
    uart_ipa = 0x0900_0000 + rng.randrange(16) * PAGE
    user_ipa = 0x6000_0000 + rng.randrange(1, 0x4000) * 4 * PAGE
    tracked_ipa = 0x7000_0000 + rng.randrange(1, 0x4000) * 2 * PAGE
    # virtual addresses (48 bits, TTBR0)
    kbase = rng.choice([0x0000_FFFF_8000_0000, 0x0000_8000_0000_0000, 0x0000_4000_0000_0000]) \
        + rng.randrange(512) * BLOCK
    ubase = 0x40_0000 + rng.randrange(256) * 16 * PAGE
    n_code, n_data = rng.randint(2, 4), rng.randint(2, 4)
    code_off = rng.randrange(0, 64) * PAGE
    data_off = code_off + (n_code + rng.randint(1, 8)) * PAGE
    code_va = kbase
    data_va = code_va + (n_code + 1) * PAGE
    tracked_va = data_va + (n_data + 1) * PAGE
    uart_va = kbase + rng.randint(2, 8) * BLOCK + rng.randrange(512) * PAGE
    ucode_va = ubase
    udata_va = ubase + 2 * PAGE
    stage1 = (
        Stage1Region("kernel code", code_va, ram_ipa + code_off, n_code, "rx", ""),
        Stage1Region("kernel data", data_va, ram_ipa + data_off, n_data, "rw", ""),
        Stage1Region("dirty-tracked buffer", tracked_va, tracked_ipa, 1, "rw", ""),
        Stage1Region("UART", uart_va, uart_ipa, 1, "rw", "", "device"),
        Stage1Region("user code", ucode_va, user_ipa, 1, "r", "rx"),
        Stage1Region("user data", udata_va, user_ipa + PAGE, 2, "rw", "rw"),
    )
    stage2 = (
        Stage2Region("guest RAM", ram_ipa, ram_pa, BLOCK, 2, "rw", "EL1 and EL0"),
        Stage2Region("guest page tables", s1_pool[0], s1_pool[0], s1_pool[1], 3, "rw", "never"),
        Stage2Region("UART", uart_ipa, uart_pa, PAGE, 3, "rw", "never", "device"),
        Stage2Region("user code", user_ipa, user_pa[0], PAGE, 3, "r", "EL0 only"),
        Stage2Region("user data", user_ipa + PAGE, user_pa[1], PAGE, 3, "rw", "never"),
        Stage2Region("user data (2)", user_ipa + 2 * PAGE, user_pa[2], PAGE, 3, "rw", "never"),
        Stage2Region("dirty tracking", tracked_ipa, tracked_pa, PAGE, 3, "r", "never"),
    )
    return Exercise(seed, stage1, stage2, s1_pool, s2_pool)


# --- the machine the checker builds ----------------------------------------------------------------
@dataclass
class LabMachine:
    """A machine set up for the exercise: ``platform``, the guest's PE (``pe``, stage 1 and 2 on),
    a second PE with stage 1 off (``ipa_pe``, to probe stage 2 alone), and the two builders."""

    platform: object
    pe: object
    ipa_pe: object
    s1: TableBuilder
    s2: TableBuilder
    exercise: Exercise

    @property
    def setup(self):
        """This machine as a :class:`ccalab.scenarios.translation.GuestSetup` (for the explorer)."""
        from ..scenarios.translation import GuestSetup

        first = self.exercise.stage1[0]
        ram = self.exercise.stage2[0]
        return GuestSetup(self.platform, self.pe, self.s1, self.s2, ram.pa, first.va, first.ipa)


def _configure(pe, s1: TableBuilder, s2: TableBuilder, stage1_on: bool) -> None:
    pe.set_sysreg("MAIR_EL1", MAIR_VALUE)
    pe.set_sysreg("TCR_EL1", TCR_EL1.encode(T0SZ=64 - VA_BITS, TG1=2, IPS=2, EPD1=1))
    pe.set_sysreg("TTBR0_EL1", s1.root | (ASID << 48))
    pe.set_sysreg("VTCR_EL2", VTCR_EL2.encode(T0SZ=64 - IPA_BITS, SL0=1, PS=2))
    pe.set_sysreg("VTTBR_EL2", s2.root | (VMID << 48))
    pe.set_sysreg("HCR_EL2", HCR_EL2.encode(VM=1, FWB=1))
    pe.set_sysreg("SCTLR_EL1", SCTLR_EL1.encode(M=int(stage1_on)))


def new_machine(seed: int = 0) -> LabMachine:
    """A fresh machine for the exercise of ``seed``: empty table trees, the PE's registers set
    (TCR_EL1, TTBR0_EL1, MAIR_EL1, VTCR_EL2, VTTBR_EL2, HCR_EL2, SCTLR_EL1) so that it walks them."""
    from ..platform import Platform

    ex = make_exercise(seed)
    p = Platform(dram_size=512 * MiB)
    s1 = TableBuilder(p.memory, ex.s1_pool, root_level=0, ia_bits=VA_BITS)
    s2 = TableBuilder(p.memory, ex.s2_pool, root_level=S2_START_LEVEL, root_tables=S2_ROOT_TABLES,
                      ia_bits=IPA_BITS)
    pe, ipa_pe = p.pe(0), p.pe(1)
    _configure(pe, s1, s2, True)
    _configure(ipa_pe, s1, s2, False)
    return LabMachine(p, pe, ipa_pe, s1, s2, ex)


def boot(build, seed: int = 0) -> LabMachine:
    """Run ``build(ex, s1, s2)`` on a fresh machine and return it (exceptions are not caught:
    use :func:`check` to have them explained). For exploring a layout that passed."""
    m = new_machine(seed)
    build(m.exercise, m.s1, m.s2)
    return m


# --- the result ----------------------------------------------------------------------------------
@dataclass(repr=False)
class LabResult(CheckResult):
    """What :func:`check` found: ``passed``, the problems (``messages``), and one summary line per
    region (``probes``: ``(ok, text)``)."""

    translations: int = 0
    PROBES_TITLE = "Translations checked, region by region:"

    def passed_text(self) -> str:
        return f"all {self.translations} translations give the required PA, PAS or fault."


# --- what each region requires -------------------------------------------------------------------
def _s1_needs(r: Stage1Region):
    """(AP[2:1], PXN, UXN or None when EL0 has no access) that give ``r``'s permissions."""
    ap = (0 if "w" in r.el1 else 2) | (1 if r.el0 else 0)
    return ap, int("x" not in r.el1), (int("x" not in r.el0) if r.el0 else None)


def _s1_needs_text(r: Stage1Region) -> str:
    ap, pxn, uxn = _s1_needs(r)
    out = f"AP[2:1]={ap:02b} (ap={_AP_NAME[ap]}: {_AP_TEXT[ap]}), PXN={pxn}"
    if uxn is not None:
        out += f", UXN={uxn}"
    return out


def _s1_has_text(desc: int) -> str:
    ap = (desc >> 6) & 3
    return (f"AP[2:1]={ap:02b} ({_AP_TEXT[ap]}), PXN={(desc >> 53) & 1}, UXN={(desc >> 54) & 1}, "
            f"AF={(desc >> 10) & 1}, AttrIndx={(desc >> 2) & 7}")


def _s2_exec(r: Stage2Region, el: int) -> bool:
    return r.execute == "EL1 and EL0" or (r.execute == "EL0 only" and el == 0) or (r.execute == "EL1 only" and el == 1)


def _s2_allows(r: Stage2Region, acc: str, el: int) -> bool:
    if acc == "r":
        return "r" in r.access
    if acc == "w":
        return "w" in r.access
    return "r" in r.access and _s2_exec(r, el)


def _s2_needs_text(r: Stage2Region) -> str:
    s2ap = ("R" if "r" in r.access else "-") + ("W" if "w" in r.access else "-")
    return (f"S2AP={s2ap} (read={'r' in r.access}, write={'w' in r.access}), XN[1:0]={_XN_FOR[r.execute]:02b} "
            f"(execute {r.execute})")


def _s2_has_text(desc: int) -> str:
    s2ap = ("R" if (desc >> 6) & 1 else "-") + ("W" if (desc >> 7) & 1 else "-")
    return f"S2AP={s2ap}, XN[1:0]={(desc >> 53) & 3:02b}, AF={(desc >> 10) & 1}, MemAttr={(desc >> 2) & 0xF:04b}"


def _leaf(res, stage: int):
    """(level, descriptor) of the last ``stage`` step of a translation's walk, or (None, None)."""
    steps = [s for s in res.steps if s.stage == stage and (stage == 1 or s.s1_level is None)]
    if not steps:
        return None, None
    s = steps[-1]
    return s.level, s.descriptor


def _fault_key(r, f, acc: str, el: int):
    """Problems that are the same whatever the access (an unmapped page, AF = 0) are reported once
    for all regions; a wrong permission once per region and access."""
    if f.s1ptw:
        return ("s1ptw",)
    if f.kind == FaultKind.PERMISSION:
        return (r.name, "permission", f.stage, acc, el)
    return ("fault", f.kind, f.stage)


def _also(r, f, acc: str, el: int) -> str:
    return r.name if f.kind != FaultKind.PERMISSION else f"{_VERB[acc]} at EL{el}"


# --- the checker ---------------------------------------------------------------------------------
class _Report:
    """Messages grouped and de-duplicated: one message per problem key; a problem seen again in
    another region (or for another access) is listed at the end of the first message."""

    def __init__(self):
        self._texts = {}
        self._also = {}
        self._seen = {}
        self.bad_regions = set()

    def add(self, key, text: str, region: str | None = None, also: str | None = None) -> None:
        if region is not None:
            self.bad_regions.add(region)
        extra = also if also is not None else region
        if key not in self._texts:
            self._texts[key] = text
            self._also[key] = []
            self._seen[key] = {extra}
            return
        if extra is not None and extra not in self._seen[key]:
            self._seen[key].add(extra)
            self._also[key].append(extra)

    @property
    def messages(self) -> list:
        out = []
        for key, text in self._texts.items():
            also = self._also[key]
            out.append(text + (f" The same goes for: {', '.join(also)}." if also else ""))
        return out


def _explain_exception(exc: BaseException) -> str:
    text = f"Your build() raised {type(exc).__name__}: {exc}{learner_line(exc)}."
    s = str(exc)
    if isinstance(exc, ValueError) and "not aligned to the level" in s:
        text += (" A block descriptor maps a whole aligned block: at level 2 both the input address and the "
                 "output address must be multiples of 2MB (a level-2 descriptor has no bits for the low 21 "
                 "bits of the address). Where the addresses are not 2MB aligned, map 4KB pages at level 3.")
    elif isinstance(exc, ValueError) and "blocks exist at levels" in s:
        text += " s1_leaf and s2_leaf make leaves: level 3 for a 4KB page, level 2 for a 2MB block."
    elif isinstance(exc, MemoryError):
        text += (" A table pool has room for a fixed number of 4KB tables: map each page once, and let "
                 "TableBuilder.map reuse the tables it has already made.")
    elif isinstance(exc, TypeError) and "positional argument" in s and not learner_line(exc):
        text += " The checker calls build(ex, s1, s2): your function must take exactly these three parameters."
    elif isinstance(exc, (TypeError, AttributeError, NameError, KeyError)):
        text += (" build receives the exercise (ex.stage1 and ex.stage2 are tuples of regions with fields "
                 "such as .va, .ipa, .pa, .pages, .size, .level), and the two TableBuilders s1 and s2, whose "
                 "map(address, descriptor, level) writes one leaf.")
    return text


def _probe(pe, addr: int, acc: str, el: int):
    pe.el = el
    return pe.translate(addr, _ACC[acc])


def _check_stage2(m: LabMachine, rep: _Report, probes: list) -> int:
    """Probe every stage-2 region with stage 1 off (VA == IPA) on the second PE."""
    ex, pe, n = m.exercise, m.ipa_pe, 0
    used = sorted({r.ipa + i * PAGE for r in ex.stage1 for i in range(r.pages)})
    for r in ex.stage2:
        bad = False
        if r.level == 2:
            pages = sorted({r.ipa, r.end - PAGE} | {a for a in used if r.ipa <= a < r.end})
        else:
            pages = [r.ipa + i * PAGE for i in range(r.pages)]
        for ipa in pages:
            want_pa = r.pa + (ipa - r.ipa)
            for el in (1, 0):
                for acc in "rwx":
                    if el == 0 and acc != "x":
                        continue  # read and write permissions do not depend on the EL at stage 2
                    res = _probe(pe, ipa, acc, el)
                    n += 1
                    if not _judge_s2(rep, r, ipa, acc, el, res, want_pa):
                        bad = True
            # granularity and memory type, from a read's walk
            res = _probe(pe, ipa, "r", 1)
            level, desc = _leaf(res, 2)
            if res.ok and level is not None:
                if level != r.level:
                    bad = True
                    if r.level == 3:
                        rep.add((r.name, "level"), f"IPA {ipa:#x} ({r.name}) is mapped by a "
                                f"{'2MB' if level == 2 else '1GB'} block (level {level}), but this region needs 4KB "
                                "pages (level 3): a block would also map the IPAs around it, and its PA has to be "
                                "aligned to the block size.", r.name)
                    else:
                        rep.add((r.name, "level"), f"IPA {ipa:#x} ({r.name}) is mapped with a level-{level} "
                                f"descriptor; the layout asks for one 2MB block (a level-2 block descriptor): "
                                "512 page descriptors and a level-3 table would do the same job, but cost a "
                                "table, a walk step, and 512 TLB entries instead of one.", r.name)
                memattr = (desc >> 2) & 0xF
                device = not memattr & 0b0100
                if device != (r.memory == "device"):
                    bad = True
                    rep.add((r.name, "memattr"), f"IPA {ipa:#x} ({r.name}): stage-2 MemAttr={memattr:04b} makes it "
                            f"{'Device' if device else 'Normal'} memory, but it must be {r.memory.capitalize()}: "
                            + ("use memattr=S2_DEVICE (0b0001, Device-nGnRE), so that accesses are never "
                               "cached, merged or made speculatively." if r.memory == "device" else
                               "use memattr=S2_NORMAL (0b0110: with HCR_EL2.FWB = 1 this forces Normal "
                               "write-back)."), r.name)
        # neighbours must be unmapped
        for ipa in (r.ipa - PAGE, r.end):
            if any(q.ipa <= ipa < q.end for q in ex.stage2):
                continue
            res = _probe(pe, ipa, "r", 1)
            n += 1
            if res.ok:
                bad = True
                level, _ = _leaf(res, 2)
                rep.add((r.name, "neighbour"), f"IPA {ipa:#x}, just {'before' if ipa < r.ipa else 'after'} "
                        f"{r.name}, translates to PA {res.pa:#x}, but nothing may be mapped there"
                        + (f": it is covered by a level-{level} block; map only the listed 4KB pages."
                           if level is not None and level < 3 else "."), r.name)
        probes.append((not bad, f"stage 2, {r.name}: IPA {r.ipa:#x} -> PA {r.pa:#x} ({_fmt_size(r.size)}, "
                                f"{'2MB block' if r.level == 2 else '4KB pages'}, {r.access}, execute {r.execute})"))
    return n


def _judge_s2(rep: _Report, r: Stage2Region, ipa: int, acc: str, el: int, res, want_pa: int) -> bool:
    """Compare one stage-2-only probe with what ``r`` requires; True if it is as required."""
    want = _s2_allows(r, acc, el)
    who = f"IPA {ipa:#x} ({r.name})"
    what = f"{_VERB[acc]} at EL{el}" if acc == "x" else _VERB[acc]
    f = res.fault
    if want and res.ok:
        if res.pa == want_pa and res.pas == PAS.NONSECURE:
            return True
        level, _ = _leaf(res, 2)
        text = f"{who} maps to PA {res.pa:#x}, but it must map to PA {want_pa:#x}."
        if level is not None and level < 3 and (res.pa ^ want_pa) < LEVEL_SIZE[level]:
            text += (f" It is covered by a level-{level} block, which keeps only the address bits above "
                     f"{LEVEL_SIZE[level].bit_length() - 1}: a block's output address must be aligned to its size.")
        rep.add((r.name, "pa"), text, r.name)
        return False
    if want:
        rep.add(_fault_key(r, f, acc, el), _missing_text(who, what, f, res, r=r), r.name,
                also=_also(r, f, acc, el))
        return False
    if res.ok:
        _, desc = _leaf(res, 2)
        rep.add((r.name, "allowed"),
                f"{who} is {_ACC_TEXT[acc]}{f' at EL{el}' if acc == 'x' else ''} through stage 2, but the "
                f"hypervisor must forbid that. Your descriptor: {_s2_has_text(desc)}; this region needs "
                f"{_s2_needs_text(r)}.", r.name, also=f"{_VERB[acc]}{f' at EL{el}' if acc == 'x' else ''}")
        return False
    if f.kind == FaultKind.PERMISSION and f.stage == 2:
        return True
    rep.add(_fault_key(r, f, acc, el), _missing_text(who, what, f, res, r=r), r.name, also=_also(r, f, acc, el))
    return False


def _missing_text(who: str, what: str, f, res, r=None) -> str:
    """A fault where a translation (or a permission fault) was required."""
    level, desc = _leaf(res, f.stage)
    k = f.kind
    if k == FaultKind.TRANSLATION and f.stage == 2 and f.s1ptw:
        return (f"{who}: the walk stops at stage 2 while reading a stage-1 table at IPA {f.ipa:#x} (S1PTW, a "
                f"translation fault at level {f.level}, taken to EL2). The guest's page tables live in guest "
                "memory, so the hypervisor's stage 2 must map them too: map the region 'guest page tables'.")
    if k == FaultKind.TRANSLATION:
        text = f"{who}: {what} gives a translation fault at stage {f.stage}, level {f.level}: "
        if level == 3 and desc is not None and desc & 3 == 1:
            return text + ("bits[1:0] = 01 at level 3 are reserved. A page descriptor ends in 0b11 (level=3); "
                           "0b01 is a block, which exists only at levels 1 and 2.")
        if f.stage == 1:
            return text + "this VA is not mapped at stage 1 (the guest's tables)."
        return text + (f"IPA {f.ipa:#x} is not mapped at stage 2 (the hypervisor's tables)."
                       if f.ipa is not None else "this IPA is not mapped at stage 2 (the hypervisor's tables).")
    if k == FaultKind.ACCESS_FLAG:
        return (f"{who}: {what} gives an access flag fault at stage {f.stage}, level {f.level}: AF (bit 10) of "
                "your descriptor is 0. This model, like software that does not enable hardware AF updates, "
                "faults on the first access to such a page; build the descriptor with af=True.")
    if k == FaultKind.PERMISSION:
        if f.stage == 2:
            have = _s2_has_text(desc) if desc is not None else "?"
            need = f"; this region needs {_s2_needs_text(r)}" if isinstance(r, Stage2Region) else ""
            return (f"{who}: {what} must be allowed, but stage 2 refuses it (a permission fault taken to EL2). "
                    f"Your stage-2 descriptor: {have}{need}.")
        have = _s1_has_text(desc) if desc is not None else "?"
        need = f"; this page needs {_s1_needs_text(r)}" if isinstance(r, Stage1Region) else ""
        return (f"{who}: {what} must be allowed, but your stage-1 descriptor refuses it (a permission fault "
                f"taken to EL1). It has {have}{need}.")
    if k == FaultKind.ADDRESS_SIZE:
        return (f"{who}: {what} gives an address size fault at stage {f.stage}, level {f.level}: an output "
                f"address in your descriptor is beyond the {PA_BITS}-bit size the registers allow.")
    return f"{who}: {what} faults: {f.explain()}"


def _s2_region_of(ex: Exercise, ipa: int):
    return next((q for q in ex.stage2 if q.ipa <= ipa < q.end), None)


def _check_stage1(m: LabMachine, rep: _Report, probes: list) -> int:
    ex, pe, n = m.exercise, m.pe, 0
    for r in ex.stage1:
        bad = False
        for i in range(r.pages):
            va, ipa = r.va + i * PAGE, r.ipa + i * PAGE
            s2r = _s2_region_of(ex, ipa)
            want_pa = s2r.pa + (ipa - s2r.ipa)
            for el in (1, 0):
                for acc in "rwx":
                    res = _probe(pe, va, acc, el)
                    n += 1
                    if not _judge_s1(rep, ex, r, s2r, va, acc, el, res, want_pa):
                        bad = True
            res = _probe(pe, va, "r", 1)
            level, desc = _leaf(res, 1)
            if res.ok and level is not None:
                if level != 3:
                    bad = True
                    rep.add((r.name, "level"), f"VA {va:#x} ({r.name}) is mapped by a "
                            f"{'2MB' if level == 2 else '1GB'} block at stage 1 (level {level}); every stage-1 "
                            "region here needs 4KB pages (level 3), or the pages around it are mapped too.", r.name)
                attr = (desc >> 2) & 7
                need = ATTR_DEVICE if r.memory == "device" else ATTR_NORMAL
                if attr != need:
                    bad = True
                    rep.add((r.name, "attr"), f"VA {va:#x} ({r.name}): AttrIndx={attr} selects MAIR_EL1 slot {attr}, "
                            f"but this page is {r.memory} memory: use attr_index="
                            f"{'ATTR_DEVICE (1, Device-nGnRE)' if need else 'ATTR_NORMAL (0, Normal write-back)'}.",
                            r.name)
        for va in (r.va - PAGE, r.end):
            if any(q.va <= va < q.end for q in ex.stage1):
                continue
            pe.el = 1
            res = pe.translate(va, "read")
            n += 1
            f = res.fault
            if f is not None and (f.s1ptw or (f.kind == FaultKind.TRANSLATION and f.stage == 1)):
                continue  # unmapped at stage 1 (or the walk cannot tell: reported elsewhere)
            if True:
                bad = True
                level, _ = _leaf(res, 1)
                rep.add((r.name, "neighbour"), f"VA {va:#x}, just {'before' if va < r.va else 'after'} {r.name}, is "
                        f"mapped at stage 1, but nothing may be mapped there"
                        + (f": it is covered by a level-{level} block; map only the listed 4KB pages."
                           if level is not None and level < 3 else "."), r.name)
        perms = f"EL1 {r.el1 or 'none'}, EL0 {r.el0 or 'none'}"
        probes.append((not bad, f"stage 1, {r.name}: VA {r.va:#x} -> IPA {r.ipa:#x} ({r.pages} x 4KB, {perms})"))
    return n


def _judge_s1(rep: _Report, ex: Exercise, r: Stage1Region, s2r: Stage2Region, va: int, acc: str, el: int, res,
              want_pa: int) -> bool:
    """Compare one full (two-stage) translation with what ``r`` and its stage-2 region require."""
    s1_ok = acc in (r.el1 if el == 1 else r.el0)
    s2_ok = _s2_allows(s2r, acc, el)
    who = f"VA {va:#x} ({r.name})"
    what = f"{_VERB[acc]} at EL{el}"
    f = res.fault
    s2_bad = s2r.name in rep.bad_regions  # already reported from the stage-2 probes
    if s1_ok and s2_ok:
        if res.ok:
            if res.pa == want_pa and res.pas == PAS.NONSECURE:
                return True
            if res.ipa is not None and res.ipa != r.ipa + (va - r.va):
                rep.add((r.name, "ipa"), f"{who} translates to IPA {res.ipa:#x} at stage 1, but it must translate "
                        f"to IPA {r.ipa + (va - r.va):#x} (then PA {want_pa:#x}).", r.name)
            elif not s2_bad:
                rep.add((r.name, "pa"), f"{who} translates to PA {res.pa:#x}, but it must reach PA {want_pa:#x}.",
                        r.name)
            return False
        if f.stage == 2 and s2_bad and not f.s1ptw:
            return False
        rep.add(_fault_key(r, f, acc, el), _missing_text(who, what, f, res, r=r if f.stage == 1 else s2r),
                r.name, also=_also(r, f, acc, el))
        return False
    # the access must fault: at stage 1 if the guest's tables forbid it, else at stage 2
    want_stage = 1 if not s1_ok else 2
    if res.ok:
        _, d1 = _leaf(res, 1)
        if want_stage == 1:
            if acc == "w":
                must = "read-only" if "r" in (r.el1 if el == 1 else r.el0) else "inaccessible"
                have = (d1 >> 6) & 3
                text = (f"{who} is writable at EL{el} but must be {must} there: your stage-1 descriptor has "
                        f"AP[2:1]={have:02b} ({_AP_TEXT[have]}); this page needs {_s1_needs_text(r)}.")
            elif acc == "x":
                bit = "PXN (bit 53)" if el == 1 else "UXN (bit 54)"
                text = (f"{who} is executable at EL{el} but must not be: set {bit} in the stage-1 descriptor. "
                        f"Yours has {_s1_has_text(d1)}; this page needs {_s1_needs_text(r)}.")
                if el == 1 and r.el0 and "w" in r.el0:
                    text += " (A page EL0 can write is never executable at EL1, whatever PXN says.)"
            else:
                text = (f"{who} is readable at EL{el} but EL{el} must have no access: your stage-1 descriptor has "
                        f"AP[2:1]={(d1 >> 6) & 3:02b} ({_AP_TEXT[(d1 >> 6) & 3]}); this page needs "
                        f"{_s1_needs_text(r)}.")
            rep.add((r.name, "allowed", acc, el), text, r.name)
        elif not s2_bad:
            _, d2 = _leaf(res, 2)
            rep.add((r.name, "allowed", acc, el), f"{who} is {_ACC_TEXT[acc]} at EL{el}, but the hypervisor must "
                    f"forbid it at stage 2 ({s2r.name}: access {s2r.access}, execute {s2r.execute}). Your stage-2 "
                    f"descriptor has {_s2_has_text(d2)}; it needs {_s2_needs_text(s2r)}.", r.name)
        return False
    if f.kind == FaultKind.PERMISSION and f.stage == want_stage:
        return True
    if f.kind == FaultKind.PERMISSION and f.stage == 2 and want_stage == 1:
        if s2_bad:
            return False
        rep.add((r.name, "stage", acc, el), f"{who}: {what} faults at stage 2 (taken to EL2), but the guest's "
                f"own stage-1 tables must refuse it (taken to EL1, the guest kernel): this page needs "
                f"{_s1_needs_text(r)}.", r.name)
        return False
    if f.kind == FaultKind.PERMISSION and f.stage == 1 and want_stage == 2:
        _, d1 = _leaf(res, 1)
        rep.add((r.name, "stage", acc, el), f"{who}: {what} faults at stage 1, but the guest's tables must allow "
                f"it (this page needs {_s1_needs_text(r)}; yours has {_s1_has_text(d1)}). Only the hypervisor's "
                f"stage 2 forbids it ({s2r.name}), so the fault goes to EL2, which is how a hypervisor notices "
                "the guest writing to a page it is tracking.", r.name)
        return False
    if f.stage == 2 and s2_bad and not f.s1ptw:
        return False
    rep.add(_fault_key(r, f, acc, el), _missing_text(who, what, f, res, r=r if f.stage == 1 else s2r), r.name,
            also=_also(r, f, acc, el))
    return False


_MAX_MESSAGES = 14


@_progress.recorded("lab02-page-tables")  # every check is an attempt in the learner's progress store
def check(build, seed: int = 0) -> LabResult:
    """Run the learner's ``build(ex, s1, s2)`` on a fresh machine and check every translation.

    Never raises: an exception in ``build``, or anything but a function, is explained in the
    result. The PE's TLB and walk cache are off while checking, so every probe walks the tables.
    """
    try:
        ex = make_exercise(seed)
    except TypeError as exc:
        return LabResult(False, [f"check(build, seed=...): {exc}"], seed=seed)
    if build is None:
        return LabResult(False, ["`build` is None. Pass your function itself: check(build, seed=SEED). (Did "
                                 "you pass the result of calling it, build(ex, s1, s2)? It returns None.)"],
                         seed=ex.seed)
    if not callable(build):
        return LabResult(False, [f"check needs your function build(ex, s1, s2), got a {type(build).__name__}. "
                                 "Define it with def build(ex, s1, s2): ... and pass it: check(build, seed=SEED)."],
                         seed=ex.seed)
    m = new_machine(ex.seed)
    try:
        build(m.exercise, m.s1, m.s2)
    except Exception as exc:  # the learner's code: explain, never raise
        return LabResult(False, [_explain_exception(exc)], seed=ex.seed)
    rep, probes = _Report(), []
    try:
        for pe in (m.pe, m.ipa_pe):
            pe.tlb_enabled = pe.walk_cache_enabled = False
        n = _check_stage2(m, rep, probes)
        n += _check_stage1(m, rep, probes)
    except Exception as exc:  # a table so broken the probes cannot run: still explain
        return LabResult(False, [f"The checker could not translate through your tables: {type(exc).__name__}: "
                                 f"{exc}. Did build() write something other than 64-bit descriptors?"],
                         probes, seed=ex.seed)
    msgs = rep.messages
    if len(msgs) > _MAX_MESSAGES:
        msgs = msgs[:_MAX_MESSAGES] + [f"... and {len(msgs) - _MAX_MESSAGES} more; fix these first."]
    passed = not msgs and all(ok for ok, _ in probes)
    return LabResult(passed, msgs, probes, seed=ex.seed, translations=n)


# --- hints ---------------------------------------------------------------------------------------
_HINTS = (
    "Start from the layout: print(make_exercise(SEED)). Write stage 2 first (the hypervisor's view, "
    "IPA -> PA), then stage 1 (the guest's view, VA -> IPA). One call maps one leaf: "
    "s2.map(ipa, s2_leaf(pa, level, ...), level) or s1.map(va, s1_leaf(ipa, 3, ...), 3).",
    "Loop over ex.stage2: a region with level 2 is one call with a 2MB block, s2_leaf(r.pa, 2, ...); a region "
    "with level 3 is one call per 4KB page, for i in range(r.pages). Do not forget 'guest page tables': the "
    "guest's stage-1 walk reads its tables through stage 2.",
    "Stage-2 permissions: read=True always here, write='w' in r.access, and XN[1:0] from r.execute: 0b00 EL1 "
    "and EL0, 0b01 EL0 only, 0b10 never, 0b11 EL1 only. Device memory: memattr=S2_DEVICE.",
    "Stage-1 permissions: AP[2:1] says who may read and write (AP_RW_NONE, AP_RW_RW, AP_RO_NONE, AP_RO_RO); "
    "pxn=True forbids execution at EL1, uxn=True at EL0. Device memory: attr_index=ATTR_DEVICE.",
    "The dirty-tracked buffer is read-write in the guest's own stage 1 (AP_RW_NONE): it is the hypervisor's "
    "read-only stage 2 that makes a write fault, and that fault goes to EL2. And keep af=True (the default).",
)


def hint(n: int = 1) -> Hint:
    """The ``n``-th hint (1-based); later hints give more away."""
    return pick_hint(_HINTS, n)


__all__ = ["Exercise", "Stage1Region", "Stage2Region", "LabMachine", "LabResult", "make_exercise", "new_machine",
           "boot", "check", "hint", "s1_leaf", "s2_leaf", "table", "describe", "TableBuilder", "AP_RW_NONE",
           "AP_RW_RW", "AP_RO_NONE", "AP_RO_RO", "ATTR_NORMAL", "ATTR_DEVICE", "S2_NORMAL", "S2_DEVICE",
           "MAIR_VALUE"]
