"""The GPC configuration a walk uses, derived from GPCCR_EL3 and GPTBR_EL3.

Spec: Arm ARM K.a, GPCCR_EL3 and GPTBR_EL3; pseudocode ``GPCRegistersConsistent`` and
``GPTWalk`` (address split: L0 index PA[t-1:s], L1 index PA[s-1:p+4], GPI nibble PA[p+3:p]).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sysreg import GPCCR_EL3, GPTBR_EL3, L0GPTSZ_BITS, PGS_SHIFT, PPS_BITS

#: PGS in bytes -> GPCCR_EL3.PGS encoding.
PGS_ENCODING = {4096: 0, 65536: 1, 16384: 2}
#: PPS in bits -> GPCCR_EL3.PPS encoding (52 bits needs FEAT_LPA2 and is not modelled).
PPS_ENCODING = {bits: enc for enc, bits in PPS_BITS.items() if bits <= 48}
#: L0GPTSZ in bits -> GPCCR_EL3.L0GPTSZ encoding.
L0GPTSZ_ENCODING = {bits: enc for enc, bits in L0GPTSZ_BITS.items()}


@dataclass(frozen=True)
class GPCConfig:
    """Everything a GPT walk needs, decoded once from the registers.

    ``consistent`` is False when the Arm ARM calls the registers inconsistent (every check then
    raises a GPT walk fault at level 0): PPS reserved or larger than the implemented PA size,
    PGS reserved, SH reserved, or non-cacheable GPT fetches that are not Outer Shareable.
    """

    enabled: bool
    consistent: bool
    why_inconsistent: str
    t: int  # protected PA size, bits
    p: int  # granule size, log2 bytes
    s: int  # bytes covered by one L0 entry, log2
    base: int  # GPTBR_EL3.BADDR << 12
    l0_base: int  # the base with the bits below the L0 table alignment cleared

    @classmethod
    def from_registers(cls, gpccr: int, gptbr: int, pamax: int) -> "GPCConfig":
        f = GPCCR_EL3.decode(gpccr)
        why = ""
        if f["PPS"] not in PPS_BITS or PPS_BITS[f["PPS"]] > pamax:
            why = f"PPS={f['PPS']} is reserved or exceeds the implemented PA size ({pamax} bits)"
        elif f["PGS"] not in PGS_SHIFT:
            why = "PGS=3 is reserved"
        elif f["SH"] == 1:
            why = "SH=1 is reserved"
        elif f["IRGN"] == 0 and f["ORGN"] == 0 and f["SH"] != 2:
            why = "non-cacheable GPT fetches must be Outer Shareable (SH=2)"
        elif f["L0GPTSZ"] not in L0GPTSZ_BITS:
            why = f"L0GPTSZ={f['L0GPTSZ']} is not an implemented size"
        consistent = not why
        t = PPS_BITS.get(f["PPS"], 32) if consistent else 32
        p = PGS_SHIFT.get(f["PGS"], 12) if consistent else 12
        s = L0GPTSZ_BITS.get(f["L0GPTSZ"], 30)
        base = (GPTBR_EL3.field("BADDR").get(gptbr)) << 12
        align = max(t - s + 3, 12)
        l0_base = base & ~((1 << align) - 1)
        return cls(bool(f["GPC"]), consistent, why, t, p, s, base, l0_base)

    # --- geometry (RME spec, GPT formats) -------------------------------------------------
    @property
    def l0_entries(self) -> int:
        return 1 << max(self.t - self.s, 0)

    @property
    def l0_table_size(self) -> int:
        return 8 * self.l0_entries

    @property
    def l0_table_align(self) -> int:
        return max(self.l0_table_size, 4096)

    @property
    def l1_entries(self) -> int:
        return 1 << (self.s - self.p - 4)

    @property
    def l1_table_size(self) -> int:
        return 1 << (self.s - self.p - 1)

    @property
    def granule_size(self) -> int:
        return 1 << self.p

    @property
    def l0_region_size(self) -> int:
        return 1 << self.s

    def l0_index(self, pa: int) -> int:
        return (pa & ((1 << self.t) - 1)) >> self.s if self.t > self.s else 0

    def l1_index(self, pa: int) -> int:
        return (pa >> (self.p + 4)) & (self.l1_entries - 1)

    def gpi_index(self, pa: int) -> int:
        return (pa >> self.p) & 0xF
