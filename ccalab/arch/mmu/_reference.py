"""VMSAv8-64 translation (4KB granule) written for clarity: the reference twin of ``_kernels.py``.

Follows the Arm ARM K.a pseudocode ``AArch64.S1Translate`` / ``AArch64.S2Translate`` and their
walks, with RME's granule protection check on every physical access (each descriptor fetch and
the final output). No TLB and no walk cache: it always walks, and records every step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..gpt._kernels import GPCSC_FAIL
from ..pas import PAS, SecurityState
from .faults import NO_FAULT, FaultKind, pack
from .regime import REGIME_EL3, REGIME_EL10, REGIME_EL2, Regime, start_level

READ, WRITE, EXEC = 0, 1, 2
ADDR = 0x0000_FFFF_FFFF_F000  # output address bits [47:12]


@dataclass(frozen=True)
class Step:
    """One descriptor read of a walk."""

    stage: int
    level: int
    table: int  # the table's address (an IPA for stage 1 under stage 2, else a PA)
    index: int
    pa: int  # where the descriptor was read
    pas: PAS
    descriptor: int
    s1_level: int | None = None  # for a stage-2 step: the stage-1 level whose table it translates
    note: str = ""


class _Fault(Exception):
    def __init__(self, word, ipa=None, pa=None):
        self.word, self.ipa, self.pa = word, ipa, pa


def _fetch(pa: int, pas: PAS, stage: int, level: int, s1ptw: bool, mem, gpc) -> int:
    """A descriptor fetch: granule protection check, then the memory read."""
    code, _ = gpc(pa, int(pas))
    if code:
        gpcsc = code & 0x3F
        kind = FaultKind.GPF_ON_WALK if (gpcsc & ~1) == GPCSC_FAIL else FaultKind.GPC_EXCEPTION
        raise _Fault(pack(kind, level, stage == 2, s1ptw, gpcsc))
    desc = mem.read64(pa)
    if desc is None:
        raise _Fault(pack(FaultKind.EXTERNAL_ABORT_ON_WALK, level, stage == 2, s1ptw))
    return desc


def stage2(rg: Regime, ipa: int, access: int, el: int, mem, gpc, steps, s1ptw: bool, s1_level=None):
    """IPA -> (PA, PAS). Raises _Fault."""
    if not rg.s2_ok:
        raise _Fault(pack(FaultKind.TRANSLATION, 0, True, s1ptw), ipa=ipa)
    if ipa >> rg.s2_ia:
        raise _Fault(pack(FaultKind.TRANSLATION, 0, True, s1ptw), ipa=ipa)
    walk_pas = PAS(int(rg.state)) if rg.state != SecurityState.ROOT else PAS.ROOT
    level = rg.s2_level
    table = rg.vttb
    if table >> rg.s2_oa_bits:
        raise _Fault(pack(FaultKind.ADDRESS_SIZE, 0, True, s1ptw), ipa=ipa)
    top = rg.s2_ia
    while True:
        shift = 12 + 9 * (3 - level)
        index = (ipa & ((1 << top) - 1)) >> shift
        pa = table + 8 * index
        desc = _fetch(pa, walk_pas, 2, level, s1ptw, mem, gpc)
        steps.append(Step(2, level, table, index, pa, walk_pas, desc, s1_level))
        kind = desc & 3
        if kind in (0, 2) or (kind == 1 and level in (0, 3)):
            raise _Fault(pack(FaultKind.TRANSLATION, level, True, s1ptw), ipa=ipa)
        if kind == 3 and level < 3:
            table = desc & ADDR
            if table >> rg.s2_oa_bits:
                raise _Fault(pack(FaultKind.ADDRESS_SIZE, level, True, s1ptw), ipa=ipa)
            level += 1
            top = shift
            continue
        # a block (levels 1, 2) or a page (level 3)
        oa = desc & ADDR & ~((1 << shift) - 1)
        if oa >> rg.s2_oa_bits:
            raise _Fault(pack(FaultKind.ADDRESS_SIZE, level, True, s1ptw), ipa=ipa)
        if not (desc >> 10) & 1:
            raise _Fault(pack(FaultKind.ACCESS_FLAG, level, True, s1ptw), ipa=ipa)
        readable, writable = (desc >> 6) & 1, (desc >> 7) & 1
        xn = (desc >> 53) & 3
        if access == READ and not readable or access == WRITE and not writable:
            raise _Fault(pack(FaultKind.PERMISSION, level, True, s1ptw), ipa=ipa)
        if access == EXEC:
            # XN[1:0]: 00 both execute, 01 EL1 no / EL0 yes, 10 neither, 11 EL1 yes / EL0 no
            allowed = {0: True, 1: el == 0, 2: False, 3: el != 0}[xn]
            if not allowed or not readable:
                raise _Fault(pack(FaultKind.PERMISSION, level, True, s1ptw), ipa=ipa)
        if rg.state == SecurityState.REALM and (desc >> 55) & 1:
            out_pas = PAS.NONSECURE
        else:
            out_pas = walk_pas
        return oa | (ipa & ((1 << shift) - 1)), out_pas


def translate(rg: Regime, va: int, access: int, mem, gpc, el: int | None = None, pamax: int = 48):
    """Translate ``va`` for ``access`` (READ, WRITE or EXEC) in regime ``rg``.

    ``gpc(pa, pas)`` returns ``(code, gpi)`` as the GPC twin does. Returns
    ``(pa, pas, fault_word, ipa, steps)`` with ``fault_word == NO_FAULT`` on success.
    """
    el = rg.el if el is None else el
    steps = []
    ipa = None
    try:
        ipa, pas = stage1(rg, va, access, el, mem, gpc, steps, pamax)
        if rg.s2_enabled:
            pa, pas = stage2(rg, ipa, access, el, mem, gpc, steps, False)
        else:
            pa = ipa
        code, _ = gpc(pa, int(pas))
        if code:
            gpcsc = code & 0x3F
            kind = FaultKind.GPF_ON_OUTPUT if (gpcsc & ~1) == GPCSC_FAIL else FaultKind.GPC_EXCEPTION
            raise _Fault(pack(kind, -1, False, False, gpcsc, on_output=True), ipa=ipa, pa=pa)
        return pa, pas, NO_FAULT, ipa, steps
    except _Fault as f:
        return (f.pa if f.pa is not None else -1), None, f.word, (f.ipa if f.ipa is not None else ipa), steps


def stage1(rg: Regime, va: int, access: int, el: int, mem, gpc, steps, pamax: int):
    """VA -> (IPA or PA, PAS). Raises _Fault."""
    own = PAS(int(rg.state))
    va &= (1 << 64) - 1
    if not rg.s1_enabled:
        if va >> pamax:
            raise _Fault(pack(FaultKind.ADDRESS_SIZE, 0, False, False))
        return va, own
    if rg.regime == REGIME_EL10 and (va >> 55) & 1:
        ia, table, disabled, upper = rg.ia1, rg.ttb1, rg.epd1, True
    else:
        ia, table, disabled, upper = rg.ia0, rg.ttb0, rg.epd0, False
    top_bits = va >> ia
    if disabled or top_bits != (((1 << (64 - ia)) - 1) if upper else 0):
        raise _Fault(pack(FaultKind.TRANSLATION, 0, False, False))
    if table >> rg.oa_bits:
        raise _Fault(pack(FaultKind.ADDRESS_SIZE, 0, False, False))
    level = start_level(ia)
    top = ia
    walk_pas = own
    ap_table = 0  # bit 0: no EL0 access below; bit 1: read-only below
    uxn_table = pxn_table = 0
    while True:
        shift = 12 + 9 * (3 - level)
        index = (va & ((1 << top) - 1)) >> shift
        addr = table + 8 * index
        if rg.s2_enabled:
            try:
                pa, fetch_pas = stage2(rg, addr, READ, el, mem, gpc, steps, True, level)
            except _Fault as f:
                raise _Fault(f.word, ipa=addr) from None
        else:
            pa, fetch_pas = addr, walk_pas
        desc = _fetch(pa, fetch_pas, 1, level, False, mem, gpc)
        steps.append(Step(1, level, table, index, pa, fetch_pas, desc))
        kind = desc & 3
        if kind in (0, 2) or (kind == 1 and level in (0, 3)):
            raise _Fault(pack(FaultKind.TRANSLATION, level, False, False))
        if kind == 3 and level < 3:
            table = desc & ADDR
            if table >> rg.oa_bits:
                raise _Fault(pack(FaultKind.ADDRESS_SIZE, level, False, False))
            if rg.regime != REGIME_EL3:
                ap_table |= (desc >> 61) & 3
                uxn_table |= (desc >> 60) & 1
                pxn_table |= (desc >> 59) & 1
            if _honours_ns(rg) and (desc >> 63) & 1:
                walk_pas = PAS.NONSECURE  # NSTable: later levels are fetched, and map, Non-secure
            level += 1
            top = shift
            continue
        oa = desc & ADDR & ~((1 << shift) - 1)
        if oa >> rg.oa_bits:
            raise _Fault(pack(FaultKind.ADDRESS_SIZE, level, False, False))
        if not (desc >> 10) & 1:
            raise _Fault(pack(FaultKind.ACCESS_FLAG, level, False, False))
        if not _s1_permits(rg, desc, ap_table, uxn_table, pxn_table, access, el):
            raise _Fault(pack(FaultKind.PERMISSION, level, False, False))
        return oa | (va & ((1 << shift) - 1)), _s1_output_pas(rg, desc, walk_pas)


def _s1_permits(rg: Regime, desc: int, ap_table: int, uxn_table: int, pxn_table: int, access: int, el: int) -> bool:
    ap = (desc >> 6) & 3
    ap2 = (ap >> 1) | ((ap_table >> 1) & 1)  # read-only
    if rg.regime != REGIME_EL10:
        writable = not ap2
        if access == WRITE:
            return writable
        if access == EXEC:
            return not ((desc >> 54) & 1) and not (rg.wxn and writable)
        return True
    el0_access = (ap & 1) and not (ap_table & 1)
    writable = not ap2
    if el == 0:
        if not el0_access:
            return False
        if access == WRITE:
            return writable
        if access == EXEC:
            return not ((desc >> 54) & 1) and not uxn_table and not (rg.wxn and writable)
        return True
    if access == WRITE:
        return writable
    if access == EXEC:
        el0_writable = el0_access and writable
        return (not ((desc >> 53) & 1) and not pxn_table and not el0_writable
                and not (rg.wxn and writable))
    return True


def _honours_ns(rg: Regime) -> bool:
    """Whether stage-1 NS / NSTable bits choose the PAS: Secure and Realm without stage 2
    (Realm EL1&0 output is a Realm IPA; Non-secure has nothing to choose; EL3 uses NSE/NS)."""
    if rg.state == SecurityState.SECURE:
        return not rg.s2_enabled
    return rg.state == SecurityState.REALM and rg.regime == REGIME_EL2


def _s1_output_pas(rg: Regime, desc: int, walk_pas: PAS) -> PAS:
    """The PAS a stage-1 leaf selects (Arm ARM ``AArch64.S1NextWalkStateLeaf``)."""
    if rg.state == SecurityState.NONSECURE:
        return PAS.NONSECURE
    if rg.regime == REGIME_EL3:
        return PAS((((desc >> 11) & 1) << 1) | ((desc >> 5) & 1))
    if not _honours_ns(rg):
        return PAS(int(rg.state))  # e.g. a Realm IPA: stage 2 chooses the PAS (bit 55)
    if walk_pas == PAS.NONSECURE or (desc >> 5) & 1:
        return PAS.NONSECURE
    return PAS(int(rg.state))


__all__ = ["translate", "stage1", "stage2", "Step", "READ", "WRITE", "EXEC", "REGIME_EL10", "REGIME_EL2", "REGIME_EL3"]
