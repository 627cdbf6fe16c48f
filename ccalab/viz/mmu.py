"""Pictures and text views of one address translation: the nested stage-1/stage-2 walk, the TLB,
and what the TLB and the walk cache save.

Every picture has a text twin: :func:`walk_text` for :func:`draw_walk_grid` (and its animation,
:func:`animate_walk`), :func:`tlb_text` and :func:`cost_text` for the TLB panel. All of them are
built from one :class:`WalkView`, which :func:`walk_view` computes *without changing the PE*: the
walk comes from the reference twin (``PE.walk_steps``'s walker) with a side-effect-free granule
protection check on every physical access, and the TLB and walk cache are only looked at, never
filled. So a view computed just before :meth:`ccalab.arch.pe.PE.translate` says what that
translation will do: a TLB hit (no reads at all), or a walk whose stage-2 walks for stage-1 table
addresses the walk cache may skip.

Introduced in ``notebooks/02-address-translation.ipynb``.

Spec: Arm ARM K.a D8 (VMSAv8-64, 4KB granule), pseudocode ``AArch64.S1Translate``,
``AArch64.S2Translate`` and their walks, ``EncodeLDFSC``; RME ``GranuleProtectionCheck`` on
every physical access. The nested walk costs ``(n1 + 1)(n2 + 1) - 1`` descriptor reads: 24 for
4 + 4 levels (ccalab spec digest, section 6).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..arch.mmu import _reference as _mref
from ..arch.mmu.descriptors import ADDR, describe
from ..arch.mmu.faults import NO_FAULT, FaultKind, TranslationFault
from ..arch.mmu.regime import REGIME_EL10, start_level
from ..arch.pas import GPI, PAS
from .theme import resolve_theme, style_axes, style_legend

_ACCESS = {"read": _mref.READ, "write": _mref.WRITE, "exec": _mref.EXEC, "r": _mref.READ, "w": _mref.WRITE,
           "x": _mref.EXEC}
_ACCESS_NAME = {_mref.READ: "read", _mref.WRITE: "write", _mref.EXEC: "exec"}
_M64 = (1 << 64) - 1
_GPI_VALUES = frozenset(int(g) for g in GPI)

#: Fill colours of the walk grid (Okabe-Ito, readable on light and dark pages).
WALK_COLOURS = {
    "s1": "#E69F00",  # orange: a stage-1 descriptor read
    "s2": "#56B4E9",  # sky blue: a stage-2 descriptor read
    "data": "#009E73",  # bluish green: the data access itself
    "fault": "#E8483F",  # red: the access that faulted
    "pending": "none",  # not (yet) read
}

_REGIME_NAME = {1: "EL1&0", 2: "EL2", 3: "EL3"}


# --- the view ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhysAccess:
    """One physical access of a translation: a descriptor read, or the final data access.

    ``number`` is its place in the walk (1-based; the data access comes after every read);
    ``row``/``col`` its cell in the nested-walk grid. ``gpc_code`` is 0 when the granule
    protection check passed (else ``FAULT | GPCSC``), ``gpi`` the GPI it found (None if none).
    ``descriptor`` is None for the data access and for a fetch that never read memory.
    ``skipped`` marks a stage-2 read the walk cache saves (the kernel does not make it).
    """

    number: int
    kind: str  # "s1", "s2" or "data"
    stage: int | None
    level: int | None
    s1_level: int | None
    row: int
    col: int
    table: int | None
    index: int | None
    pa: int
    pas: PAS
    descriptor: int | None
    text: str
    gpc_code: int
    gpi: int | None
    faulted: bool = False
    skipped: bool = False

    @property
    def gpc_ok(self) -> bool:
        return self.gpc_code == 0


@dataclass(frozen=True)
class WalkView:
    """Everything the text and the pictures show about one translation (see :func:`walk_view`)."""

    va: int
    access: str
    el: int
    regime: object
    fields: list
    rows: list  # row labels of the grid
    cols: list  # column labels of the grid
    accesses: tuple  # PhysAccess, in walk order (the data access last, when reached)
    fault: TranslationFault | None  # what a walk of the tables in memory gives now
    pa: int | None
    pas: PAS | None
    ipa: int | None
    tlb_hit: bool
    tlb_entry: dict | None = None

    @property
    def reads(self) -> list:
        """The descriptor reads of the walk (the data access excluded)."""
        return [a for a in self.accesses if a.kind != "data"]

    @property
    def n_reads(self) -> int:
        """Descriptor reads the translation makes (0 on a TLB hit; walk-cache savings excluded)."""
        if self.tlb_hit:
            return 0
        return sum(1 for a in self.reads if not a.skipped)

    @property
    def n_gpc(self) -> int:
        """Granule protection checks the translation makes (each read, and the data access)."""
        if self.tlb_hit:
            return 0
        return sum(1 for a in self.accesses if not a.skipped)

    @property
    def faulting(self) -> PhysAccess | None:
        for a in self.accesses:
            if a.faulted:
                return a
        return None

    @property
    def ok(self) -> bool:
        return self.tlb_hit or self.fault is None


def _access_code(access) -> int:
    try:
        return _ACCESS[str(access).lower()]
    except KeyError:
        raise ValueError(f"access is 'read', 'write' or 'exec', not {access!r}") from None


def _ia_bits(rg, va: int) -> int:
    if rg.regime == REGIME_EL10 and (va >> 55) & 1:
        return rg.ia1
    return rg.ia0


def va_fields(va: int, t0sz: int = 16, start_level_: int | None = None) -> list:
    """Split ``va`` into the fields a 4KB-granule walk uses.

    Returns a list of ``(name, hi, lo, value)``: the bits above the input size (which select
    TTBR0/TTBR1 and must be all zeros or all ones), one index field per lookup level from the
    start level (``3 - ((ia - 1 - 12) // 9)`` with ``ia = 64 - t0sz``) down to level 3, and the
    page offset. ``start_level_`` forces the start level (a stage 2 with concatenated tables
    starts higher than its input size implies, and its first index field is wider).

    Spec: Arm ARM K.a D8.2 (translation granule, lookup levels); ``AArch64.S1StartLevel``.
    """
    ia = 64 - int(t0sz)
    if not 12 < ia <= 64:
        raise ValueError(f"T0SZ {t0sz} gives a {ia}-bit input address; this model walks 25 to 48 bits")
    va = int(va) & _M64
    level = start_level(ia) if start_level_ is None else int(start_level_)
    out = []
    if ia < 64:
        out.append(("TTBR select (all 0s: TTBR0, all 1s: TTBR1)", 63, ia, va >> ia))
    for lvl in range(level, 4):
        lo = 12 + 9 * (3 - lvl)
        hi = ia - 1 if lvl == level else lo + 8
        out.append((f"L{lvl} index", hi, lo, (va >> lo) & ((1 << (hi - lo + 1)) - 1)))
    out.append(("page offset", 11, 0, va & 0xFFF))
    return out


def tlb_lookup(pe, va: int, access: str = "read") -> dict | None:
    """The TLB entry a translation of ``va`` would use now, or None (see :meth:`PE.tlb_lookup`)."""
    return pe.tlb_lookup(va, access)


def _walk_cache_has(pe, ipa: int, filled: dict) -> bool:
    """Whether the walk cache holds the stage-2 translation of table address ``ipa``
    (``filled`` records what this walk has put there already, slot -> page)."""
    if not pe.walk_cache_enabled:
        return False
    slot = pe.walk_cache_slot(ipa)
    if slot in filled:
        return filled[slot] == ipa >> 12
    return pe.walk_cache_holds(ipa)


def walk_view(pe, va: int, access: str = "read", result=None, walk_cache: bool = True) -> WalkView:
    """Work out, without changing ``pe``, what translating ``va`` for ``access`` does.

    Parameters
    ----------
    pe : ccalab.arch.pe.PE
    va : int
    access : {"read", "write", "exec"}
    result : TranslationResult, optional
        The outcome of a :meth:`PE.translate` that just ran: its ``tlb_hit`` is used instead of
        looking at the TLB (which that translation has filled since).
    walk_cache : bool
        Mark the stage-2 reads the walk cache saves (as looked up now). Pass False to show the
        architectural walk in full.

    Returns
    -------
    WalkView
    """
    from ..arch.gpt._reference import gpc_check

    p = pe.platform
    rg = pe.regime
    acc = _access_code(access)
    va64 = int(va) & _M64
    tlb_entry = None
    if result is not None:
        tlb_hit = bool(result.tlb_hit)
    else:
        tlb_entry = tlb_lookup(pe, va64, access)
        tlb_hit = tlb_entry is not None
    cfg = p.gpc_config
    calls = []  # (pa, pas, code, gpi) in order: every physical access the walk attempts

    def gpc(pa, pas):
        code, gpi = gpc_check(pa, pas, cfg, p.memory.read64)
        calls.append((int(pa), PAS(int(pas)), int(code), int(gpi) if int(gpi) in _GPI_VALUES else None))
        return code, gpi

    out_pa, out_pas, word, ipa, steps = _mref.translate(rg, va64, acc, p.memory, gpc, el=pe.el, pamax=p.pamax)
    fault = None
    if word != NO_FAULT:
        stage2 = (word >> 9) & 1
        fault = TranslationFault.unpack(word, va=va64, ipa=ipa if ipa is not None and ipa >= 0
                                        and (stage2 or rg.s2_enabled) else None,
                                        pa=out_pa if out_pa is not None and out_pa >= 0 else None,
                                        regime_el=rg.regime_el, tge=rg.tge)
    # grid geometry
    s1_on, s2_on = rg.s1_enabled, rg.s2_enabled
    ia = _ia_bits(rg, va64)
    s1_start = start_level(ia) if s1_on else 4
    s2_start = rg.s2_level if s2_on else 4
    s1_levels = list(range(s1_start, 4)) if s1_on else []
    s2_levels = list(range(s2_start, 4)) if s2_on else []
    rows = [f"S1 L{lvl}" for lvl in s1_levels] + ["final IPA" if s2_on else "output"]
    cols = [f"S2 L{lvl}" for lvl in s2_levels] + ["S1 read / data"]
    last_col = len(cols) - 1
    final_row = len(rows) - 1

    def row_of(s1_level):
        return final_row if s1_level is None else s1_levels.index(s1_level)

    accesses = []
    filled = {}
    table_ipas = _s1_table_ipas(rg, va64, steps) if (s1_on and s2_on) else {}
    s1_done = None  # last stage-1 level read
    skip_row = None
    for k, st in enumerate(steps):
        _pa, _pas, code, gpi = calls[k]
        if st.stage == 2:
            row, col = row_of(st.s1_level), s2_levels.index(st.level)
            skipped = False
            if walk_cache and st.s1_level is not None and not tlb_hit:
                if skip_row is None or skip_row[0] != st.s1_level:
                    table_ipa = table_ipas.get(st.s1_level, -1)
                    hit = _walk_cache_has(pe, table_ipa, filled)
                    skip_row = (st.s1_level, hit, table_ipa)
                skipped = skip_row[1]
        else:
            row, col = row_of(st.level), last_col
            skipped = False
            s1_done = st.level
            if walk_cache and s2_on and skip_row is not None and not skip_row[1] and pe.walk_cache_enabled:
                filled[pe.walk_cache_slot(skip_row[2])] = skip_row[2] >> 12
            skip_row = None
        accesses.append(PhysAccess(k + 1, f"s{st.stage}", st.stage, st.level, st.s1_level, row, col, st.table,
                                   st.index, st.pa, st.pas, st.descriptor, describe(st.descriptor, st.level, st.stage),
                                   code, gpi, skipped=skipped))
    extra = calls[len(steps):]
    n = len(steps)
    if fault is not None and fault.kind in (FaultKind.GPF_ON_WALK, FaultKind.GPC_EXCEPTION,
                                            FaultKind.EXTERNAL_ABORT_ON_WALK) and fault.level >= 0 and extra:
        # a fetch that failed before memory answered: it is not among the steps
        pa_, pas_, code, gpi = extra[0]
        if fault.stage == 2:
            s1l = None
            if fault.s1ptw:
                s1l = s1_start if s1_done is None else s1_done + 1
            row, col = row_of(s1l), s2_levels.index(fault.level)
            kind, stage = "s2", 2
        else:
            s1l = None
            row, col = row_of(fault.level), last_col
            kind, stage = "s1", 1
        why = ("no memory answers at this address" if fault.kind == FaultKind.EXTERNAL_ABORT_ON_WALK
               else "the granule protection check refused the fetch")
        accesses.append(PhysAccess(n + 1, kind, stage, fault.level, s1l, row, col, None, None, pa_, pas_, None,
                                   why, code, gpi, faulted=True))
    elif fault is not None and fault.kind not in (FaultKind.GPF_ON_OUTPUT, FaultKind.GPC_EXCEPTION,
                                                   FaultKind.EXTERNAL_ABORT):
        # a fault on what a descriptor says: that read is the faulting one (none for a fault
        # before any read, e.g. a VA outside the input range or an IPA beyond the stage-2 size)
        if steps and steps[-1].stage == fault.stage and steps[-1].level == fault.level:
            accesses[-1] = replace(accesses[-1], faulted=True)
    elif extra:
        # the data access: its granule protection check
        pa_, pas_, code, gpi = extra[-1]
        bad = fault is not None
        accesses.append(PhysAccess(n + 1, "data", None, None, None, final_row, last_col, None, None, pa_, pas_, None,
                                   "the data access", code, gpi, faulted=bad))
    return WalkView(va64, _ACCESS_NAME[acc], pe.el, rg, va_fields(va64, 64 - ia) if s1_on else [], rows, cols,
                    tuple(accesses), fault, None if fault else out_pa, None if fault else out_pas,
                    ipa if (s2_on and ipa is not None and ipa >= 0) else None, tlb_hit, tlb_entry)


def _s1_table_ipas(rg, va: int, steps) -> dict:
    """Stage-1 level -> the IPA of its descriptor (the address a stage-2 walk translates)."""
    ia = _ia_bits(rg, va)
    upper = rg.regime == REGIME_EL10 and (va >> 55) & 1
    table = rg.ttb1 if upper else rg.ttb0
    level = start_level(ia)
    top = ia
    out = {}
    for st in [s for s in steps if s.stage == 1] + [None]:
        shift = 12 + 9 * (3 - level)
        out[level] = table + 8 * ((va & ((1 << top) - 1)) >> shift)
        if st is None or st.descriptor & 3 != 3 or level == 3:
            break
        table, level, top = st.descriptor & ADDR, level + 1, shift
    return out


# --- text ------------------------------------------------------------------------------------
def _gpc_words(a: PhysAccess) -> str:
    if a.gpi is None and a.gpc_code == 0:
        what = "GPC pass"
    elif a.gpc_code == 0:
        what = f"GPC pass (GPI {GPI(a.gpi).label})"
    else:
        gpi = f"GPI {GPI(a.gpi).label}, " if a.gpi is not None else ""
        what = f"GPC FAIL ({gpi}GPCSC {a.gpc_code & 0x3F:#04x})"
    return f"{a.pas.label} PAS, {what}"


def _access_line(a: PhysAccess, view: WalkView) -> str:
    stage = f"S{a.stage} L{a.level}"
    where = ""
    if a.table is not None:
        space = "IPA" if (a.stage == 1 and view.regime.s2_enabled) else "PA"
        where = f"table {space} {a.table:#x}[{a.index}] "
    raw = f"= {a.descriptor:#018x}  {a.text}" if a.descriptor is not None else f"not read: {a.text}"
    mark = ""
    if a.faulted and view.fault is not None:
        mark = f"   <-- FAULT (FSC {view.fault.fsc:#04x})"
    if a.skipped:
        mark += "   (walk cache hit: this read is skipped)"
    return f"#{a.number:<3} {stage}  {where}read PA {a.pa:#x} ({_gpc_words(a)}) {raw}{mark}"


def walk_text(pe, va: int, access: str = "read", result=None, view: WalkView | None = None) -> str:
    """The whole translation of ``va`` explained step by step (the text twin of
    :func:`draw_walk_grid`).

    Shows the VA split into its index fields, the TLB lookup, then every descriptor read in
    order (stage, level, table address, index, descriptor and what it means, the PAS of the
    fetch and its granule protection check), each stage-1 level with the stage-2 walk that
    translates its table address nested under it, then the final IPA -> PA, the output PAS and
    the verdict, or the fault explained (class, stage, level, FSC, and who takes it).

    Parameters
    ----------
    pe : ccalab.arch.pe.PE
    va : int
    access : {"read", "write", "exec"}
    result : TranslationResult, optional
        Describe this translation (e.g. a TLB hit that just happened) instead of looking at the TLB.
    view : WalkView, optional
        A view already computed by :func:`walk_view`.

    Spec: Arm ARM K.a ``AArch64.S1Translate``, ``AArch64.S2Translate``, ``EncodeLDFSC``.
    """
    v = view if view is not None else walk_view(pe, va, access, result=result)
    rg = v.regime
    lines = []
    ctx = f"{rg.state.label if hasattr(rg.state, 'label') else rg.state} {_REGIME_NAME.get(rg.regime, '?')}"
    stages = " + ".join(s for s, on in (("stage 1", rg.s1_enabled), ("stage 2", rg.s2_enabled)) if on) or "MMU off"
    tags = []
    if rg.s2_enabled:
        tags.append(f"VMID {rg.vmid}")
    if rg.s1_enabled and rg.regime == REGIME_EL10:
        tags.append(f"ASID {rg.asid}")
    lines.append(f"Translation of VA {v.va:#018x} ({v.access} at EL{v.el}), {ctx} regime, {stages}"
                 + (f" ({', '.join(tags)})" if tags else ""))
    if v.fields:
        ia = v.fields[0][2] if v.fields[0][1] == 63 else 64
        lines.append(f"VA fields (4KB granule, {ia}-bit input address, T0SZ = {64 - ia}):")
        for name, hi, lo, val in v.fields:
            bits = f"VA[{hi}:{lo}]"
            lines.append(f"  {bits:>9} = {val:<6} {f'({val:#x})':<9} {name}")
    # TLB
    if v.tlb_hit:
        lines.append("TLB: HIT. The cached translation (with its permissions and GPT information) is used, so "
                     "no descriptor is read and no granule protection check is made.")
        if v.tlb_entry is not None:
            e = v.tlb_entry
            lines.append(f"  entry: VA page {e['va']:#x} -> PA page {e['pa']:#x} ({e['pas'].label} PAS), "
                         f"VMID {e['vmid']}, " + ("global" if e["global"] else f"ASID {e['asid']}"))
        lines.append("What a walk of the tables in memory would do now (not done on a hit):")
    else:
        on = pe.tlb_enabled
        lines.append("TLB: miss, so the walk runs." if on else "TLB: off, so every translation walks.")
    n_all = len(v.reads)
    n_s1 = sum(1 for a in v.reads if a.kind == "s1")
    saved = sum(1 for a in v.reads if a.skipped)
    n_chk = len(v.accesses)
    cost = (f"{n_all} descriptor read{'s' if n_all != 1 else ''} ({n_s1} stage 1, {n_all - n_s1} stage 2) + "
            f"{n_chk} GPC check{'s' if n_chk != 1 else ''}")
    if v.tlb_hit:
        lines.append(f"Walk (not made): {cost}.")
    elif saved:
        lines.append(f"Walk: {cost}; the walk cache saves {saved} stage-2 reads, so {v.n_reads} reads + "
                     f"{v.n_gpc} GPC checks are made.")
    else:
        lines.append(f"Walk: {cost}.")
    # the steps, grouped by stage-1 level
    current = object()
    for a in v.accesses:
        group = ("row", a.row)
        if group != current:
            current = group
            label = v.rows[a.row]
            if label.startswith("S1 L"):
                lvl = int(label[4:])
                fld = next(((hi, lo) for n, hi, lo, _ in v.fields if n == f"L{lvl} index"), None)
                idx = f" (index VA[{fld[0]}:{fld[1]}])" if fld else ""
                if rg.s2_enabled:
                    lines.append(f"Stage-1 level {lvl}{idx}: the descriptor's address is an IPA, so a stage-2 walk "
                                 f"translates it first:")
                else:
                    lines.append(f"Stage-1 level {lvl}{idx}:")
            elif rg.s2_enabled:
                ipa = v.ipa if v.ipa is not None else (v.fault.ipa if v.fault is not None else None)
                lines.append("Final IPA" + (f" {ipa:#x}" if ipa is not None else "") + ": stage-2 walk to the PA:")
            else:
                lines.append("Output:")
        if a.kind == "data":
            lines.append(f"  #{a.number:<3} data access to PA {a.pa:#x} ({_gpc_words(a)})"
                         + (f"   <-- FAULT (FSC {v.fault.fsc:#04x})" if a.faulted and v.fault else ""))
        else:
            indent = "    " if (a.kind == "s2" and a.s1_level is not None) else "  "
            lines.append(indent + _access_line(a, v))
    # verdict
    if v.tlb_hit and result is not None and result.ok:
        lines.append(f"Result (from the TLB): VA {v.va:#x} -> PA {result.pa:#x} in the {result.pas.label} PAS.")
        if v.fault is not None:
            lines.append("The TLB entry is STALE: the tables in memory now say " + v.fault.explain()
                         + ". Until a TLBI removes the entry, accesses keep using it.")
        elif v.pa is not None and (v.pa != result.pa or v.pas != result.pas):
            lines.append(f"The TLB entry is STALE: the tables now give PA {v.pa:#x} ({v.pas.label} PAS).")
        return "\n".join(lines)
    if v.tlb_hit and v.tlb_entry is not None:
        e = v.tlb_entry
        lines.append(f"Result (from the TLB): PA {e['pa'] | (v.va & 0xFFF):#x} in the {e['pas'].label} PAS.")
        if v.fault is not None:
            lines.append("The TLB entry is STALE: the tables in memory now say " + v.fault.explain()
                         + ". Until a TLBI removes the entry, accesses keep using it.")
        return "\n".join(lines)
    if v.fault is None:
        via = f"IPA {v.ipa:#x} -> " if v.ipa is not None else ""
        lines.append(f"Output: VA {v.va:#x} -> {via}PA {v.pa:#x} in the {v.pas.label} PAS.")
        lines.append(f"Verdict: allowed ({v.access} at EL{v.el}).")
    else:
        f = v.fault
        if not v.accesses and f.level == 0 and f.kind == FaultKind.TRANSLATION:
            lines.append("No table is read: the address is outside the input range of the translation "
                         "(the bits above it must be all 0s for TTBR0 or all 1s for TTBR1, with that half "
                         "enabled), or beyond the stage-2 input size.")
        lines.append(f"Verdict: FAULT. {f.explain()}.")
        lines.append("  " + who_takes(f, rg))
    return "\n".join(lines)


def who_takes(f: TranslationFault, rg) -> str:
    """Who handles the fault ``f`` (met in regime ``rg``), in words: the fault's ``target_el``
    and the software that runs there.

    Spec: Arm ARM K.a ``AArch64.Abort`` routing; ESR/FAR/HPFAR reporting (spec digest section 4).
    """
    if f.target_el == 3:
        return "EL3 (the monitor) takes it: the GPT itself could not be used."
    if f.target_el == 2:
        who = "the RMM (Realm EL2)" if int(rg.state) == int(PAS.REALM) else "the hypervisor (EL2)"
        extra = (" It is a stage-2 fault: ESR_EL2, FAR_EL2 and HPFAR_EL2 (the faulting IPA) describe it"
                 + (", with ISS.S1PTW = 1 because it happened on a stage-1 table fetch." if f.s1ptw else "."))
        if f.stage != 2:
            extra = ""
        if f.kind in (FaultKind.GPF_ON_WALK, FaultKind.GPF_ON_OUTPUT):
            extra = " A granule protection fault is reported to EL2 for an EL1&0 access when stage 2 is on."
        return f"Taken to EL2: {who}.{extra}"
    text = ("Taken to EL1: the guest OS handles it (ESR_EL1 holds the FSC, FAR_EL1 the VA); "
            "the hypervisor is not involved.")
    if f.stage == 1 and f.kind in (FaultKind.TRANSLATION, FaultKind.ACCESS_FLAG, FaultKind.PERMISSION,
                                   FaultKind.ADDRESS_SIZE):
        text += " It is the guest's own stage-1 fault: its page tables said no."
    return text


def tlb_text(pe, limit: int = 16) -> str:
    """The PE's TLB contents as a table, then its counters.

    Spec: Arm ARM K.a D8.16 (TLB maintenance); entries are tagged as in ``ccalab.arch.pe``.
    """
    entries = pe.tlb_entries()
    cnt = pe.counters
    lines = [f"TLB {'on' if pe.tlb_enabled else 'OFF'}, walk cache {'on' if pe.walk_cache_enabled else 'OFF'}: "
             f"{len(entries)} valid entr{'y' if len(entries) == 1 else 'ies'}"]
    if entries:
        lines.append(f"  {'VA page':<20}{'PA page':<14}{'PAS':<12}{'regime':<8}{'VMID':<6}{'ASID':<8}")
        for e in entries[:limit]:
            asid = "global" if e["global"] else str(e["asid"])
            regime = _REGIME_NAME.get(e["regime"], "?")
            lines.append(f"  {e['va']:#018x}  {e['pa']:#012x}  {e['pas'].label:<12}{regime:<8}"
                         f"{e['vmid']:<6}{asid:<8}")
        if len(entries) > limit:
            lines.append(f"  ... {len(entries) - limit} more")
    lines.append(f"Counters: translations {cnt['translations']}, TLB hits {cnt['tlb_hits']}, "
                 f"misses {cnt['tlb_misses']}, "
                 f"walks {cnt['walks']}, faults {cnt['faults']}")
    return "\n".join(lines)


def cold_walk_reads(pe) -> int:
    """Descriptor reads of one walk with nothing cached: ``(n1 + 1)(n2 + 1) - 1``."""
    rg = pe.regime
    n1 = (4 - start_level(rg.ia0)) if rg.s1_enabled else 0
    n2 = (4 - rg.s2_level) if rg.s2_enabled else 0
    return (n1 + 1) * (n2 + 1) - 1


def cost_text(pe) -> str:
    """What the translations so far cost in descriptor reads and granule protection checks, and
    what the TLB and the walk cache saved.

    Spec: ccalab spec digest section 6 (nested walk ``(n1 + 1)(n2 + 1) - 1`` reads; one GPC
    check per physical access).
    """
    cnt = pe.counters
    reads = cnt["s1_reads"] + cnt["s2_reads"]
    per = cold_walk_reads(pe)
    t = cnt["translations"]
    naive = t * per
    lines = [f"Descriptor reads: {reads} ({cnt['s1_reads']} stage 1, {cnt['s2_reads']} stage 2) for {t} "
             f"translation{'s' if t != 1 else ''}; each also passed a granule protection check."]
    s2_levels = 4 - pe.regime.s2_level if pe.regime.s2_enabled else 0
    lines.append(f"Walk cache: {cnt['walk_cache_hits']} hits, {cnt['walk_cache_misses']} misses; each hit skips a "
                 f"whole stage-2 walk of a stage-1 table address ({s2_levels} reads here).")
    lines.append(f"TLB: {cnt['tlb_hits']} hits; a hit costs no descriptor read and no GPC check "
                 f"(the entry keeps the GPT information too).")
    if t:
        lines.append(f"With no TLB and no walk cache the same {t} translations would cost {naive} reads "
                     f"({per} each) and {naive + t} GPC checks; they cost {reads} reads"
                     + (f", {100 * (naive - reads) / naive:.0f}% fewer." if naive else "."))
    try:
        st = pe.platform.gpc_cache.stats()
        lines.append(f"Granule protection checks on this machine so far: {st['checks']} ({st['hits']} answered by "
                     f"the GPC cache, {st['gpt_reads']} GPT reads, {st['faults']} faults).")
    except AttributeError:  # pragma: no cover - a platform without a GPC cache
        pass
    return "\n".join(lines)


# --- frames (for an animated walk) ------------------------------------------------------------
@dataclass(frozen=True)
class WalkFrame:
    """The walk after ``step`` descriptor reads: ``done`` accesses, the ``current`` one, and a line."""

    step: int
    done: tuple
    current: PhysAccess | None
    text: str


def walk_frames(pe, va: int, access: str = "read", view: WalkView | None = None) -> list:
    """One :class:`WalkFrame` per step: frame 0 before any read, frame k after the k-th read;
    the last frame also holds the data access (or the fault). ``len(frames) == n + 1`` for a
    walk of ``n`` descriptor reads."""
    v = view if view is not None else walk_view(pe, va, access, walk_cache=False)
    reads = v.reads
    frames = [WalkFrame(0, (), None, f"VA {v.va:#x}: {len(reads)} descriptor reads to come"
                        + (" (a TLB hit needs none of them)" if v.tlb_hit else ""))]
    for k, a in enumerate(reads, start=1):
        done = tuple(v.accesses[:k])
        if k == len(reads):
            done = tuple(v.accesses)
        text = _access_line(a, v)
        if k == len(reads):
            if v.fault is not None:
                text += f" | FAULT: {v.fault.explain()}"
            elif v.pa is not None:
                text += f" | output PA {v.pa:#x} ({v.pas.label} PAS)"
        frames.append(WalkFrame(k, done, a, text))
    if not reads and v.accesses:
        frames[0] = WalkFrame(0, tuple(v.accesses), v.accesses[-1], frames[0].text)
    return frames


# --- pictures ----------------------------------------------------------------------------------
def _legend_handles(c):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [Patch(facecolor=WALK_COLOURS["s1"], edgecolor=c["edge"], label="stage-1 descriptor read"),
            Patch(facecolor=WALK_COLOURS["s2"], edgecolor=c["edge"], label="stage-2 descriptor read"),
            Patch(facecolor=WALK_COLOURS["data"], edgecolor=c["edge"], label="data access"),
            Patch(facecolor=WALK_COLOURS["fault"], edgecolor=c["fault"], linewidth=2, label="faulting access"),
            Patch(facecolor=WALK_COLOURS["s2"], alpha=0.3, edgecolor=c["edge"], hatch="//",
                  label="skipped: walk-cache hit"),
            Patch(facecolor="none", edgecolor=c["grid"], linestyle="--", label="not read"),
            Line2D([], [], marker="o", linestyle="", color=c["ok"], label="GPC check passed"),
            Line2D([], [], marker="X", linestyle="", color=c["fault"], markersize=8, label="GPC check failed")]


def _figsize(v: WalkView):
    return (3.6 + 1.2 * len(v.cols), 1.5 + 0.8 * len(v.rows))


def grid_title(view: WalkView) -> str:
    """The figure title: how many reads and checks the translation costs."""
    if view.tlb_hit:
        return (f"TLB hit: 0 descriptor reads + 0 GPC checks (a walk would make {len(view.reads)} reads "
                f"+ {len(view.accesses)} checks)")
    saved = sum(1 for a in view.reads if a.skipped)
    t = f"{view.n_reads} descriptor reads + {view.n_gpc} GPC checks"
    if saved:
        t += f" ({saved} stage-2 reads saved by the walk cache)"
    if view.fault is not None:
        t += f": {view.fault.explain().split(' (')[0]}"
    return t


def draw_walk_grid(pe, va: int, access: str = "read", theme: str = "auto", ax=None, step: int | None = None,
                   view: WalkView | None = None, result=None):
    """Draw the nested walk as a grid: one row per stage-1 level (and the final IPA), one column
    per stage-2 level (and the stage-1 read itself / the data access).

    Each cell is one descriptor read, numbered in walk order and coloured by stage; a dot marks
    the granule protection check of that physical access (a cross when it failed); the
    faulting access is red, with its FSC. ``step`` draws the walk after that many reads (the
    frames of :func:`animate_walk`). Reads the walk cache saves are hatched and faded, and so is
    the whole walk on a TLB hit (which makes none of them); they get no GPC mark, as no check is
    made. The text twin is :func:`walk_text`.

    Parameters
    ----------
    pe : ccalab.arch.pe.PE
    va : int
    access : {"read", "write", "exec"}
    theme : {"auto", "light", "dark"}
    ax : matplotlib Axes, optional
    step : int, optional
        Show the walk after this many descriptor reads (None: all of it).
    view : WalkView, optional
        A view from :func:`walk_view` (computed here when omitted).
    result : TranslationResult, optional
        Passed to :func:`walk_view`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    theme = resolve_theme(theme)
    v = view if view is not None else walk_view(pe, va, access, result=result)
    nrows, ncols = len(v.rows), len(v.cols)
    if ax is None:
        fig, ax = plt.subplots(figsize=_figsize(v), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    ax.set_xlim(-0.05, ncols + 0.05)
    ax.set_ylim(nrows + 0.05, -0.05)
    ax.set_xticks([k + 0.5 for k in range(ncols)])
    ax.set_xticklabels(v.cols, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks([r + 0.5 for r in range(nrows)])
    ax.set_yticklabels(v.rows, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    shown = {(a.row, a.col): a for a in v.accesses}
    reads_total = len(v.reads)
    for r in range(nrows):
        for col in range(ncols):
            a = shown.get((r, col))
            if a is None:
                ax.add_patch(Rectangle((col + 0.06, r + 0.08), 0.88, 0.84, facecolor="none", edgecolor=c["grid"],
                                       linestyle="--", linewidth=0.8))
                continue
            pending = step is not None and (a.number > step and not (a.kind == "data" and step >= reads_total))
            is_current = step is not None and a.number == step
            fill = WALK_COLOURS["fault"] if a.faulted else WALK_COLOURS[a.kind]
            alpha = 1.0
            if pending:
                fill, alpha = "none", 1.0
            elif v.tlb_hit or a.skipped:
                alpha = 0.3
            edge = c["fault"] if (a.faulted and not pending) else (c["text"] if is_current else c["edge"])
            lw = 2.6 if (a.faulted and not pending) or is_current else 0.8
            ax.add_patch(Rectangle((col + 0.06, r + 0.08), 0.88, 0.84, facecolor=fill, alpha=alpha,
                                   edgecolor=edge, linewidth=lw, linestyle="--" if pending else "-",
                                   hatch="//" if a.skipped and not pending else None))
            txt_col = "#000000" if not pending else c["muted"]
            label = "data" if a.kind == "data" else str(a.number)
            ax.text(col + 0.5, r + 0.40, label, ha="center", va="center", fontsize=11, fontweight="bold",
                    color=txt_col)
            if pending:
                sub = ""
            elif a.faulted and v.fault is not None:
                sub = f"FSC {v.fault.fsc:#04x}"
            elif a.kind == "data":
                sub = f"PA {a.pa:#x}"
            elif a.descriptor is not None:
                sub = a.text.split(" ")[0]
            else:
                sub = "not read"
            ax.text(col + 0.5, r + 0.72, sub, ha="center", va="center", fontsize=7, color=txt_col)
            if not pending and not a.skipped and not v.tlb_hit:  # only checks that are made
                if a.gpc_ok:
                    ax.plot(col + 0.84, r + 0.2, marker="o", color=c["ok"], markersize=6,
                            markeredgecolor="#000000", markeredgewidth=0.5)
                else:
                    ax.plot(col + 0.84, r + 0.2, marker="X", color=c["fault"], markersize=9,
                            markeredgecolor="#000000", markeredgewidth=0.5)
    title = grid_title(v)
    if step is not None:
        title = f"step {step} of {reads_total}  |  " + title
    ax.set_title(f"VA {v.va:#x} ({v.access}, EL{v.el})\n{title}", color=c["text"], fontsize=9)
    leg = ax.legend(handles=_legend_handles(c), loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
                    borderaxespad=0.0)
    style_legend(leg, theme)
    if v.fault is not None and (step is None or step >= reads_total):
        ax.text(0.0, -0.02, "FAULT: " + v.fault.explain(), transform=ax.transAxes, ha="left", va="top",
                fontsize=7, color=c["fault"], wrap=True)
    elif v.pa is not None and (step is None or step >= reads_total):
        ax.text(0.0, -0.02, f"output: PA {v.pa:#x} in the {v.pas.label} PAS", transform=ax.transAxes,
                ha="left", va="top", fontsize=8, color=c["ok"])
    return fig


def animate_walk(pe, va: int, access: str = "read", theme: str = "auto", interval: int = 600):
    """A matplotlib ``FuncAnimation`` of the walk, one frame per descriptor read (frame 0: none
    yet). In a notebook, show it with ``IPython.display.HTML(anim.to_jshtml())``."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    v = walk_view(pe, va, access, walk_cache=False)
    n = len(v.reads)
    fig, ax = plt.subplots(figsize=_figsize(v), layout="constrained")

    def draw(k):
        ax.clear()
        draw_walk_grid(pe, va, access, theme=theme, ax=ax, step=k, view=v)
        return []

    draw(0)
    return FuncAnimation(fig, draw, frames=range(n + 1), interval=interval, blit=False, repeat=False)


__all__ = ["walk_view", "WalkView", "PhysAccess", "WalkFrame", "va_fields", "tlb_lookup", "walk_text",
           "draw_walk_grid", "grid_title", "walk_frames", "animate_walk", "tlb_text", "cost_text",
           "cold_walk_reads", "who_takes", "WALK_COLOURS"]
