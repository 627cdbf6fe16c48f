"""Numba kernels for address translation: TLB, stage-1 and stage-2 walks (4KB granule), a walk
cache, and the granule protection check on every physical access. The readable twin is
``_reference.py``; tests hold them equal access by access (with the TLB and walk cache off, and
then show that turning them on changes no result, only the counters).

Every helper takes ``(mem64, ctx, pctx)`` plus scalars and is compiled without NRT reference
counting, so a walk pays almost nothing for being split into readable pieces. ``ctx`` is the
machine context (:mod:`ccalab.arch.context`); ``pctx`` the PE context laid out below.
Results are packed integers; faults use the encoding of :mod:`.faults` (``-1``: no fault).
"""

from __future__ import annotations


from ..._jit import kernel, nrt_free, nrt_free_inline
from ..context import C_NREG, C_REG
from ..gpt._kernels import GPCSC_FAIL, gpc_check_one as gpc, gpc_hit



# --- PE context layout --------------------------------------------------------------------
P_REGIME, P_STATE, P_EL, P_S1_ON, P_WXN, P_IA0, P_IA1, P_TTB0, P_TTB1, P_EPD0, P_EPD1, P_ASID, P_OA = range(13)
P_S2_ON, P_S2_IA, P_S2_LEVEL, P_S2_OK, P_VTTB, P_VMID, P_S2_OA, P_PAMAX = range(13, 21)
P_TLB_ON, P_WC_ON, P_TLB_SETS, P_WC_SETS, P_TLB_OFF, P_WC_OFF = range(21, 27)
P_CNT = 32
N_PCOUNTERS = 16
PHEADER = 64
# counters (at P_CNT + i)
Q_TRANSLATIONS, Q_TLB_HITS, Q_TLB_MISSES, Q_WALKS, Q_S1_READS, Q_S2_READS, Q_WC_HITS, Q_WC_MISSES, Q_FAULTS = range(9)
TLB_WORDS = 4  # vpn, key, PA page, info
WC_WORDS = 4  # ipa page, key, PA page, PAS

REGIME_EL10, REGIME_EL2, REGIME_EL3 = 1, 2, 3
READ, WRITE, EXEC = 0, 1, 2
ADDR = 0x0000_FFFF_FFFF_F000
NO_FAULT = -1

# fault kinds (FaultKind values) and packing (see faults.pack)
F_TRANSLATION, F_ACCESS_FLAG, F_PERMISSION, F_ADDRESS_SIZE = 1, 2, 3, 4
F_GPF_WALK, F_GPF_OUTPUT, F_EABT_WALK, F_GPC_EXC, F_EABT = 5, 6, 7, 8, 9
FSC_EABT = 0x10
FSC_BASE_ADDRESS_SIZE, FSC_BASE_TRANSLATION, FSC_BASE_ACCESS_FLAG, FSC_BASE_PERMISSION = 0x00, 0x04, 0x08, 0x0C
FSC_BASE_EABT_WALK, FSC_BASE_GPF_WALK, FSC_GPF_OUTPUT = 0x14, 0x24, 0x28


@nrt_free
def fault_word(kind, level, stage2, s1ptw, gpcsc, on_output):
    """Pack a fault as :func:`ccalab.arch.mmu.faults.pack` does."""
    if on_output:
        fsc = FSC_GPF_OUTPUT
    elif kind == F_ADDRESS_SIZE:
        fsc = FSC_BASE_ADDRESS_SIZE | level
    elif kind == F_TRANSLATION:
        fsc = FSC_BASE_TRANSLATION | level
    elif kind == F_ACCESS_FLAG:
        fsc = FSC_BASE_ACCESS_FLAG | level
    elif kind == F_PERMISSION:
        fsc = FSC_BASE_PERMISSION | level
    elif kind == F_EABT_WALK:
        fsc = FSC_BASE_EABT_WALK | level
    else:  # GPF on walk, or a GPC exception on a walk fetch
        fsc = FSC_BASE_GPF_WALK | level
    return (fsc | ((level + 1) << 6) | (stage2 << 9) | (s1ptw << 10) | (kind << 11) | (gpcsc << 16)
            | (on_output << 22))


@nrt_free_inline
def backed(pa, ctx):
    """True if the 8 bytes at ``pa`` are populated memory (a descriptor fetch elsewhere is an
    external abort)."""
    for r in range(ctx[C_NREG]):
        if pa >= ctx[C_REG + 2 * r] and pa + 8 <= ctx[C_REG + 2 * r + 1]:
            return True
    return False


@nrt_free
def s2_walk(ipa, access, el, s1ptw, mem64, ctx, pctx):
    """Stage 2: IPA -> (PA, PAS, fault, S2 attributes). ``AArch64.S2Translate`` for 4KB."""
    s2ptw = 1 if s1ptw else 0
    if pctx[P_S2_OK] == 0 or (ipa >> pctx[P_S2_IA]) != 0:
        return -1, -1, fault_word(F_TRANSLATION, 0, 1, s2ptw, 0, 0), 0
    state = pctx[P_STATE]
    walk_pas = state
    table = pctx[P_VTTB]
    oa_bits = pctx[P_S2_OA]
    if table >> oa_bits:
        return -1, -1, fault_word(F_ADDRESS_SIZE, 0, 1, s2ptw, 0, 0), 0
    level = pctx[P_S2_LEVEL]
    top = pctx[P_S2_IA]
    while True:
        shift = 12 + 9 * (3 - level)
        pa = table + 8 * ((ipa & ((1 << top) - 1)) >> shift)
        # the descriptor fetch (written out, as in s1_walk: this loop runs for every level)
        code = gpc_hit(pa, walk_pas, ctx)
        if code < 0:
            code = gpc(pa, walk_pas, mem64, ctx)
        if code != 0:
            gpcsc = code & 0x3F
            kind = F_GPF_WALK if (gpcsc & 0x3E) == GPCSC_FAIL else F_GPC_EXC
            return -1, -1, fault_word(kind, level, 1, s2ptw, gpcsc, 0), 0
        if not backed(pa, ctx):
            return -1, -1, fault_word(F_EABT_WALK, level, 1, s2ptw, 0, 0), 0
        desc = mem64[pa >> 3]
        pctx[P_CNT + Q_S2_READS] += 1
        kind = desc & 3
        if kind == 0 or kind == 2 or (kind == 1 and (level == 0 or level == 3)):
            return -1, -1, fault_word(F_TRANSLATION, level, 1, s2ptw, 0, 0), 0
        if kind == 3 and level < 3:
            table = desc & ADDR
            if table >> oa_bits:
                return -1, -1, fault_word(F_ADDRESS_SIZE, level, 1, s2ptw, 0, 0), 0
            level += 1
            top = shift
            continue
        oa = desc & ADDR & ~((1 << shift) - 1)
        if oa >> oa_bits:
            return -1, -1, fault_word(F_ADDRESS_SIZE, level, 1, s2ptw, 0, 0), 0
        if ((desc >> 10) & 1) == 0:
            return -1, -1, fault_word(F_ACCESS_FLAG, level, 1, s2ptw, 0, 0), 0
        attrs = 1 | (((desc >> 6) & 3) << 1) | (((desc >> 53) & 3) << 3)  # valid, S2AP, XN
        if not s2_permits(attrs, access, el):
            return -1, -1, fault_word(F_PERMISSION, level, 1, s2ptw, 0, 0), 0
        out_pas = 1 if (state == 3 and ((desc >> 55) & 1) == 1) else walk_pas
        return oa | (ipa & ((1 << shift) - 1)), out_pas, NO_FAULT, attrs


@nrt_free_inline
def s2_permits(attrs, access, el):
    """Stage-2 permissions from packed attributes: bit 0 valid, 1 read, 2 write, 3-4 XN[1:0]."""
    if attrs == 0:
        return True  # no stage 2
    readable = (attrs >> 1) & 1
    writable = (attrs >> 2) & 1
    xn = (attrs >> 3) & 3
    if access == READ:
        return readable == 1
    if access == WRITE:
        return writable == 1
    if readable == 0:
        return False
    if xn == 0:
        return True
    if xn == 1:
        return el == 0
    if xn == 2:
        return False
    return el != 0


@nrt_free_inline
def s1_permits(attrs, access, el, regime, wxn):
    """Stage-1 permissions from packed attributes: bit 0 valid, 1-2 AP[2:1], 3-4 APTable,
    5 UXN/XN, 6 PXN, 7 UXNTable, 8 PXNTable (bit 9, nG, does not matter here)."""
    if attrs == 0:
        return True  # MMU off
    ap = (attrs >> 1) & 3
    ap_table = (attrs >> 3) & 3
    read_only = ((ap >> 1) | (ap_table >> 1)) & 1
    writable = read_only == 0
    if regime != REGIME_EL10:
        if access == WRITE:
            return writable
        if access == EXEC:
            return ((attrs >> 5) & 1) == 0 and not (wxn and writable)
        return True
    el0_access = (ap & 1) == 1 and (ap_table & 1) == 0
    if el == 0:
        if not el0_access:
            return False
        if access == WRITE:
            return writable
        if access == EXEC:
            return ((attrs >> 5) & 1) == 0 and ((attrs >> 7) & 1) == 0 and not (wxn and writable)
        return True
    if access == WRITE:
        return writable
    if access == EXEC:
        el0_writable = el0_access and writable
        return (((attrs >> 6) & 1) == 0 and ((attrs >> 8) & 1) == 0 and not el0_writable
                and not (wxn and writable))
    return True


@nrt_free_inline
def honours_ns(pctx):
    state = pctx[P_STATE]
    if state == 0:
        return pctx[P_S2_ON] == 0
    return state == 3 and pctx[P_REGIME] == REGIME_EL2


@nrt_free_inline
def wc_lookup(ipa, mem64, ctx, pctx, el):
    """Stage-2 translation of a stage-1 table address, through the walk cache.
    Returns (PA, PAS, fault)."""
    sets = pctx[P_WC_SETS]
    base = pctx[P_WC_OFF]
    page = ipa >> 12
    key = 1 | (pctx[P_VMID] << 1) | (pctx[P_STATE] << 17)
    slot = base + WC_WORDS * (page & (sets - 1))
    if pctx[P_WC_ON] != 0:
        if pctx[slot] == page and pctx[slot + 1] == key:
            pctx[P_CNT + Q_WC_HITS] += 1
            return pctx[slot + 2] | (ipa & 0xFFF), pctx[slot + 3], NO_FAULT
        pctx[P_CNT + Q_WC_MISSES] += 1
    pa, pas, f, attrs = s2_walk(ipa, READ, el, 1, mem64, ctx, pctx)
    if f == NO_FAULT and pctx[P_WC_ON] != 0:
        pctx[slot] = page
        pctx[slot + 1] = key
        pctx[slot + 2] = pa & ~0xFFF
        pctx[slot + 3] = pas
    return pa, pas, f


@nrt_free_inline
def s1_walk(va, access, el, mem64, ctx, pctx):
    """Stage 1: VA -> (IPA or PA, PAS, fault, S1 attributes). ``AArch64.S1Translate`` for 4KB."""
    state = pctx[P_STATE]
    regime = pctx[P_REGIME]
    if pctx[P_S1_ON] == 0:
        if va < 0 or (va >> pctx[P_PAMAX]) != 0:
            return -1, -1, fault_word(F_ADDRESS_SIZE, 0, 0, 0, 0, 0), 0
        return va, state, NO_FAULT, 0
    upper = regime == REGIME_EL10 and ((va >> 55) & 1) == 1
    if upper:
        ia = pctx[P_IA1]
        table = pctx[P_TTB1]
        disabled = pctx[P_EPD1]
        expect = -1
    else:
        ia = pctx[P_IA0]
        table = pctx[P_TTB0]
        disabled = pctx[P_EPD0]
        expect = 0
    if disabled != 0 or (va >> ia) != expect:
        return -1, -1, fault_word(F_TRANSLATION, 0, 0, 0, 0, 0), 0
    oa_bits = pctx[P_OA]
    if table >> oa_bits:
        return -1, -1, fault_word(F_ADDRESS_SIZE, 0, 0, 0, 0, 0), 0
    level = 3 - ((ia - 1 - 12) // 9)
    top = ia
    walk_pas = state
    ap_table = 0
    uxn_table = 0
    pxn_table = 0
    s2_on = pctx[P_S2_ON] != 0
    ns_ok = honours_ns(pctx)
    while True:
        shift = 12 + 9 * (3 - level)
        addr = table + 8 * ((va & ((1 << top) - 1)) >> shift)
        if s2_on:
            pa, fetch_pas, f = wc_lookup(addr, mem64, ctx, pctx, el)
            if f != NO_FAULT:
                return addr, -1, f, 0
        else:
            pa = addr
            fetch_pas = walk_pas
        code = gpc_hit(pa, fetch_pas, ctx)
        if code < 0:
            code = gpc(pa, fetch_pas, mem64, ctx)
        if code != 0:
            gpcsc = code & 0x3F
            kind = F_GPF_WALK if (gpcsc & 0x3E) == GPCSC_FAIL else F_GPC_EXC
            return -1, -1, fault_word(kind, level, 0, 0, gpcsc, 0), 0
        if not backed(pa, ctx):
            return -1, -1, fault_word(F_EABT_WALK, level, 0, 0, 0, 0), 0
        desc = mem64[pa >> 3]
        pctx[P_CNT + Q_S1_READS] += 1
        kind = desc & 3
        if kind == 0 or kind == 2 or (kind == 1 and (level == 0 or level == 3)):
            return -1, -1, fault_word(F_TRANSLATION, level, 0, 0, 0, 0), 0
        if kind == 3 and level < 3:
            table = desc & ADDR
            if table >> oa_bits:
                return -1, -1, fault_word(F_ADDRESS_SIZE, level, 0, 0, 0, 0), 0
            if regime != REGIME_EL3:
                ap_table |= (desc >> 61) & 3
                uxn_table |= (desc >> 60) & 1
                pxn_table |= (desc >> 59) & 1
            if ns_ok and ((desc >> 63) & 1) == 1:
                walk_pas = 1
            level += 1
            top = shift
            continue
        oa = desc & ADDR & ~((1 << shift) - 1)
        if oa >> oa_bits:
            return -1, -1, fault_word(F_ADDRESS_SIZE, level, 0, 0, 0, 0), 0
        if ((desc >> 10) & 1) == 0:
            return -1, -1, fault_word(F_ACCESS_FLAG, level, 0, 0, 0, 0), 0
        attrs = (1 | (((desc >> 6) & 3) << 1) | (ap_table << 3) | (((desc >> 54) & 1) << 5)
                 | (((desc >> 53) & 1) << 6) | (uxn_table << 7) | (pxn_table << 8) | (((desc >> 11) & 1) << 9))
        if not s1_permits(attrs, access, el, regime, pctx[P_WXN] != 0):
            return -1, -1, fault_word(F_PERMISSION, level, 0, 0, 0, 0), 0
        if state == 1:
            out_pas = 1
        elif regime == REGIME_EL3:
            out_pas = (((desc >> 11) & 1) << 1) | ((desc >> 5) & 1)
        elif not ns_ok:
            out_pas = state
        elif walk_pas == 1 or ((desc >> 5) & 1) == 1:
            out_pas = 1
        else:
            out_pas = state
        return oa | (va & ((1 << shift) - 1)), out_pas, NO_FAULT, attrs


@nrt_free
def tlb_key(pctx):
    """The TLB tag of the current context: valid, regime, security state, VMID."""
    return 1 | (pctx[P_REGIME] << 1) | (pctx[P_STATE] << 3) | (pctx[P_VMID] << 5)


@nrt_free
def translate_miss(va, access, el, slot, key, mem64, ctx, pctx):
    """A TLB miss: the walks, the GPC on the output, and the TLB fill. Returns (PA, PAS, fault, IPA).

    The TLB entry also holds the GPT information of its output (the architecture allows TLBs to
    cache it), so a hit needs no granule protection check; ``TLBI RPALOS``/``PAALLOS`` therefore
    also remove TLB entries (see ``PE.invalidate_pa_range``).
    """
    pctx[P_CNT + Q_WALKS] += 1
    regime = pctx[P_REGIME]
    out, pas, f, a1 = s1_walk(va, access, el, mem64, ctx, pctx)
    if f != NO_FAULT:
        pctx[P_CNT + Q_FAULTS] += 1
        return -1, -1, f, out  # out: the table IPA when stage 2 faulted on it (S1PTW), else -1
    ipa = out
    a2 = 0
    if pctx[P_S2_ON] != 0:
        pa, pas, f, a2 = s2_walk(out, access, el, 0, mem64, ctx, pctx)
        if f != NO_FAULT:
            pctx[P_CNT + Q_FAULTS] += 1
            return -1, -1, f, ipa
    else:
        pa = out
    code = gpc(pa, pas, mem64, ctx)
    if code != 0:
        pctx[P_CNT + Q_FAULTS] += 1
        gpcsc = code & 0x3F
        kind = F_GPF_OUTPUT if (gpcsc & 0x3E) == GPCSC_FAIL else F_GPC_EXC
        return pa, -1, fault_word(kind, -1, 0, 0, gpcsc, 1), ipa
    if pctx[P_TLB_ON] != 0:
        glob = 1 if (a1 == 0 or regime != REGIME_EL10 or ((a1 >> 9) & 1) == 0) else 0
        pctx[slot] = va >> 12
        pctx[slot + 1] = key | (pctx[P_ASID] << 21) | (glob << 37)
        pctx[slot + 2] = pa & ~0xFFF
        pctx[slot + 3] = (a1 & 0x3FF) | ((a2 & 0x1F) << 10) | (pas << 15)
    return pa, pas, NO_FAULT, ipa


@kernel
def translate_batch(va, access, el, out_pa, out_pas, out_fault, out_ipa, mem64, ctx, pctx):
    """Translate every ``va[i]`` for ``access`` at ``el``; returns the number of faults.

    The TLB hit path is written out here (no call); a miss calls :func:`translate_miss`.
    """
    faults = 0
    n = va.shape[0]
    key = tlb_key(pctx)
    asid = pctx[P_ASID]
    regime = pctx[P_REGIME]
    wxn = pctx[P_WXN] != 0
    sets = pctx[P_TLB_SETS]
    base = pctx[P_TLB_OFF]
    tlb_on = pctx[P_TLB_ON] != 0
    hits = 0
    misses = 0
    for i in range(n):
        v = va[i]
        vpn = v >> 12
        slot = base + TLB_WORDS * (vpn & (sets - 1))
        done = False
        if tlb_on:
            e = pctx[slot + 1]
            if pctx[slot] == vpn and (e & 0x1FFFFF) == key and (((e >> 37) & 1) == 1 or ((e >> 21) & 0xFFFF) == asid):
                info = pctx[slot + 3]
                if s1_permits(info & 0x3FF, access, el, regime, wxn) and s2_permits((info >> 10) & 0x1F, access, el):
                    out_pa[i] = pctx[slot + 2] | (v & 0xFFF)
                    out_pas[i] = (info >> 15) & 3
                    out_fault[i] = NO_FAULT
                    out_ipa[i] = -1
                    hits += 1
                    done = True
            if not done:
                misses += 1
        if not done:
            pa, pas, f, ipa = translate_miss(v, access, el, slot, key, mem64, ctx, pctx)
            out_pa[i] = pa
            out_pas[i] = pas
            out_fault[i] = f
            out_ipa[i] = ipa
            if f != NO_FAULT:
                faults += 1
    pctx[P_CNT + Q_TRANSLATIONS] += n
    pctx[P_CNT + Q_TLB_HITS] += hits
    pctx[P_CNT + Q_TLB_MISSES] += misses
    return faults
