"""The translation regime a PE is in, decoded once from its system registers.

Spec: Arm ARM K.a, D8 "The AArch64 Virtual Memory System Architecture": ``AArch64.S1TTWParams``,
``AArch64.S2TTWParams``, ``AArch64.S1StartLevel``, ``AArch64.S2InconsistentSL``. Only the 4KB
granule is modelled. Where the architecture leaves a choice (CONSTRAINED UNPREDICTABLE), the model
takes the one the pseudocode takes: a T0SZ below the minimum (16) or above the maximum (39) is
treated as that minimum or maximum; an inconsistent or invalid stage-2 start level gives a stage-2
translation fault at level 0; a 16KB or 64KB granule is refused at the API (not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pas import SecurityState
from ..sysreg import (HCR_EL2, PPS_BITS, SCTLR_EL1, TCR_EL1, TCR_EL2, TCR_EL3, TTBR0_EL1, VTCR_EL2,
                      VTTBR_EL2)

MIN_TXSZ, MAX_TXSZ = 16, 39
REGIME_EL10, REGIME_EL2, REGIME_EL3 = 1, 2, 3


def start_level(ia_bits: int) -> int:
    """``AArch64.S1StartLevel`` for 4KB: 48 bits -> 0, 39 -> 1, 30 -> 2, 21 -> 3."""
    return 3 - ((ia_bits - 1 - 12) // 9)


def s2_start_level(sl0: int) -> int:
    return {0: 2, 1: 1, 2: 0, 3: 3}[sl0]


def s2_consistent(ia_bits: int, level: int, pa_bits: int) -> bool:
    """``AArch64.S2InconsistentSL`` inverted: the IPA size suits the start level (with up to 16
    concatenated tables), and level 0 needs a PA size of at least 44 bits."""
    n = 3 - level
    if level == 0 and pa_bits < 44:
        return False
    return 9 * n + 13 <= ia_bits <= 9 * n + 25


def clamp_txsz(txsz: int) -> int:
    return min(max(txsz, MIN_TXSZ), MAX_TXSZ)


@dataclass(frozen=True)
class Regime:
    """What a walk needs, decoded from the PE's registers."""

    regime: int  # REGIME_EL10, REGIME_EL2 or REGIME_EL3
    state: SecurityState
    el: int
    s1_enabled: bool
    wxn: bool
    ia0: int  # VA bits of the TTBR0 region
    ia1: int  # VA bits of the TTBR1 region (EL1&0 only)
    ttb0: int
    ttb1: int
    epd0: bool
    epd1: bool
    asid: int
    oa_bits: int  # stage-1 output size (IPS / PS, capped by PAMax)
    s2_enabled: bool
    s2_ia: int
    s2_level: int
    s2_ok: bool
    vttb: int
    vmid: int
    s2_oa_bits: int
    tge: bool

    @classmethod
    def from_registers(cls, regs: dict, state: SecurityState, el: int, pamax: int) -> "Regime":
        state = SecurityState(state)
        if state == SecurityState.ROOT:
            regime = REGIME_EL3
        elif el == 2:
            regime = REGIME_EL2
        else:
            regime = REGIME_EL10
        sctlr = regs[{REGIME_EL10: "SCTLR_EL1", REGIME_EL2: "SCTLR_EL2", REGIME_EL3: "SCTLR_EL3"}[regime]]
        m = SCTLR_EL1.field("M").get(sctlr)
        wxn = SCTLR_EL1.field("WXN").get(sctlr)
        ttbr_base = TTBR0_EL1.field("BADDR")
        ttbr_asid = TTBR0_EL1.field("ASID")
        if regime == REGIME_EL10:
            tcr = TCR_EL1.decode(regs["TCR_EL1"])
            ia0, ia1 = 64 - clamp_txsz(tcr["T0SZ"]), 64 - clamp_txsz(tcr["T1SZ"])
            ttb0 = ttbr_base.get(regs["TTBR0_EL1"]) << 1
            ttb1 = ttbr_base.get(regs["TTBR1_EL1"]) << 1
            asid = ttbr_asid.get(regs["TTBR1_EL1"] if tcr["A1"] else regs["TTBR0_EL1"])
            if not tcr["AS"]:
                asid &= 0xFF
            oa = PPS_BITS.get(tcr["IPS"], 52)
            epd0, epd1 = bool(tcr["EPD0"]), bool(tcr["EPD1"])
        else:
            layout = TCR_EL2 if regime == REGIME_EL2 else TCR_EL3
            tcr = layout.decode(regs["TCR_EL2" if regime == REGIME_EL2 else "TCR_EL3"])
            ia0 = ia1 = 64 - clamp_txsz(tcr["T0SZ"])
            ttb0 = ttbr_base.get(regs["TTBR0_EL2" if regime == REGIME_EL2 else "TTBR0_EL3"]) << 1
            ttb1 = 0
            asid = 0
            oa = PPS_BITS.get(tcr["PS"], 52)
            epd0, epd1 = False, True
        oa = min(oa, pamax)
        hcr = HCR_EL2.decode(regs["HCR_EL2"])
        s2_on = regime == REGIME_EL10 and bool(hcr["VM"])
        vtcr = VTCR_EL2.decode(regs["VTCR_EL2"])
        s2_ia = 64 - clamp_txsz(vtcr["T0SZ"])
        s2_level = s2_start_level(vtcr["SL0"])
        s2_oa = min(PPS_BITS.get(vtcr["PS"], 52), pamax)
        vttb = VTTBR_EL2.field("BADDR").get(regs["VTTBR_EL2"]) << 1
        vmid = VTTBR_EL2.field("VMID").get(regs["VTTBR_EL2"])
        if not vtcr["VS"]:
            vmid &= 0xFF
        return cls(regime, state, el, bool(m), bool(wxn), ia0, ia1, ttb0, ttb1, epd0, epd1, asid, oa,
                   s2_on, s2_ia, s2_level, s2_consistent(s2_ia, s2_level, pamax), vttb, vmid, s2_oa,
                   bool(hcr["TGE"]))

    @property
    def regime_el(self) -> int:
        return {REGIME_EL10: 1, REGIME_EL2: 2, REGIME_EL3: 3}[self.regime]

    @property
    def s2_root_tables(self) -> int:
        """How many concatenated tables the stage-2 start level has."""
        n = 3 - self.s2_level
        return 1 << max(self.s2_ia - (9 * n + 21), 0)
