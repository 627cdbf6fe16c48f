"""System register layouts: named bit fields with encode, decode and a readable description.

Each layout is the register's architectural one (Arm ARM system register descriptions); a model
keeps the register as a plain integer and uses the layout to read and write its fields.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    hi: int
    lo: int
    meaning: str = ""
    values: tuple = ()  # ((encoding, text), ...) for enumerated fields

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo

    def get(self, value: int) -> int:
        return (int(value) >> self.lo) & ((1 << self.width) - 1)

    def text(self, encoding: int) -> str:
        for enc, txt in self.values:
            if enc == encoding:
                return txt
        return "reserved" if self.values else ""


@dataclass(frozen=True)
class RegisterLayout:
    """A system register's named fields (bits not named are RES0 in this model)."""

    name: str
    fields: tuple
    spec: str = ""

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name.upper() == name.upper():
                return f
        raise KeyError(f"{self.name} has no field {name!r}; fields: {', '.join(f.name for f in self.fields)}")

    def encode(self, **values: int) -> int:
        """Build a register value from field values; unknown fields and overflow raise ValueError."""
        out = 0
        for key, val in values.items():
            try:
                f = self.field(key)
            except KeyError as exc:
                raise ValueError(str(exc)) from None
            val = int(val)
            if val < 0 or val >= (1 << f.width):
                raise ValueError(f"{self.name}.{f.name} is {f.width} bits wide; {val:#x} does not fit")
            out |= val << f.lo
        return out

    def decode(self, value: int) -> dict:
        """Field name -> field value."""
        return {f.name: f.get(value) for f in self.fields}

    def replace(self, value: int, **values: int) -> int:
        """``value`` with the named fields replaced."""
        out = int(value)
        for key in values:
            out &= ~self.field(key).mask
        return out | self.encode(**values)

    def describe(self, value: int) -> str:
        """A multi-line explanation of every field of ``value``."""
        lines = [f"{self.name} = {int(value):#018x}"]
        for f in self.fields:
            enc = f.get(value)
            bits = f"[{f.hi}:{f.lo}]" if f.hi != f.lo else f"[{f.lo}]"
            extra = f.text(enc)
            lines.append(f"  {f.name:<8}{bits:>9} = {enc:#x}" + (f"  {extra}" if extra else "")
                         + (f"  ({f.meaning})" if f.meaning else ""))
        return "\n".join(lines)


PPS_BITS = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52}
PGS_SHIFT = {0: 12, 1: 16, 2: 14}  # note the order: 0 = 4KB, 1 = 64KB, 2 = 16KB
L0GPTSZ_BITS = {0: 30, 4: 34, 6: 36, 9: 39}

GPCCR_EL3 = RegisterLayout(
    "GPCCR_EL3",
    (
        Field("PPS", 2, 0, "protected physical address size",
              tuple((k, f"{v} bits ({1 << (v - 30)} GB)") for k, v in PPS_BITS.items())),
        Field("IRGN", 9, 8, "inner cacheability of GPT fetches",
              ((0, "Non-cacheable"), (1, "WB RA WA"), (2, "WT RA nWA"), (3, "WB RA nWA"))),
        Field("ORGN", 11, 10, "outer cacheability of GPT fetches",
              ((0, "Non-cacheable"), (1, "WB RA WA"), (2, "WT RA nWA"), (3, "WB RA nWA"))),
        Field("SH", 13, 12, "shareability of GPT fetches",
              ((0, "Non-shareable"), (2, "Outer Shareable"), (3, "Inner Shareable"))),
        Field("PGS", 15, 14, "physical granule size",
              ((0, "4KB"), (1, "64KB"), (2, "16KB"))),
        Field("GPC", 16, 16, "granule protection check enable", ((0, "disabled"), (1, "enabled"))),
        Field("GPCP", 17, 17, "GPF on stage-2 table fetch may be suppressed"),
        Field("L0GPTSZ", 23, 20, "bytes covered by one L0 entry (read-only)",
              tuple((k, f"{v} bits ({1 << (v - 30)} GB)") for k, v in L0GPTSZ_BITS.items())),
    ),
    spec="Arm ARM K.a, GPCCR_EL3",
)

GPTBR_EL3 = RegisterLayout(
    "GPTBR_EL3",
    (Field("BADDR", 39, 0, "bits [51:12] of the L0 GPT base address"),),
    spec="Arm ARM K.a, GPTBR_EL3",
)

SCR_EL3 = RegisterLayout(
    "SCR_EL3",
    (
        Field("NS", 0, 0, "with NSE: the security state of lower ELs"),
        Field("EA", 3, 3, "external aborts taken to EL3"),
        Field("RW", 10, 10, "lower ELs are AArch64"),
        Field("GPF", 48, 48, "granule protection faults taken to EL3",
              ((0, "GPFs reported at the lower EL"), (1, "GPFs routed to EL3"))),
        Field("NSE", 62, 62, "with NS: 00 Secure, 01 Non-secure, 11 Realm"),
    ),
    spec="Arm ARM K.a, SCR_EL3",
)

MFAR_EL3 = RegisterLayout(
    "MFAR_EL3",
    (
        Field("FPA", 51, 12, "faulting physical address, bits [51:12]"),
        Field("NSE", 62, 62, "with NS: the PAS of the faulting access"),
        Field("NS", 63, 63, "with NSE: the PAS of the faulting access"),
    ),
    spec="Arm ARM K.a, MFAR_EL3",
)

ESR_EL3 = RegisterLayout(
    "ESR_EL3",
    (
        Field("xFSC", 5, 0, "fault status code"),
        Field("WnR", 6, 6, "write, not read"),
        Field("S1PTW", 7, 7, "fault on a stage-2 translation of a stage-1 table walk"),
        Field("GPCSC", 19, 14, "granule protection check status code (EC 0x1E)"),
        Field("InD", 20, 20, "instruction, not data"),
        Field("S2PTW", 21, 21, "fault on a stage-2 table walk"),
        Field("IL", 25, 25, "32-bit instruction"),
        Field("EC", 31, 26, "exception class"),
    ),
    spec="Arm ARM K.a, ESR_EL3 (ISS encoding for a GPC exception)",
)

ID_AA64MMFR0_EL1 = RegisterLayout(
    "ID_AA64MMFR0_EL1",
    (Field("PARANGE", 3, 0, "physical address size supported",
           tuple((k, f"{v} bits") for k, v in PPS_BITS.items())),),
    spec="Arm ARM K.a, ID_AA64MMFR0_EL1",
)

LAYOUTS = {r.name: r for r in (GPCCR_EL3, GPTBR_EL3, SCR_EL3, MFAR_EL3, ESR_EL3, ID_AA64MMFR0_EL1)}


# --- registers for address translation (Arm ARM K.a; 4KB granule fields only) ----------------
SCTLR = tuple([
    Field("M", 0, 0, "stage-1 MMU enable", ((0, "off: VA = PA (or IPA)"), (1, "on"))),
    Field("A", 1, 1, "alignment checking"),
    Field("C", 2, 2, "data cacheability"),
    Field("WXN", 19, 19, "write implies execute-never"),
])
SCTLR_EL1 = RegisterLayout("SCTLR_EL1", SCTLR, "Arm ARM K.a, SCTLR_EL1")
SCTLR_EL2 = RegisterLayout("SCTLR_EL2", SCTLR, "Arm ARM K.a, SCTLR_EL2")
SCTLR_EL3 = RegisterLayout("SCTLR_EL3", SCTLR, "Arm ARM K.a, SCTLR_EL3")

_IPS = tuple((k, f"{v} bits") for k, v in PPS_BITS.items())
TCR_EL1 = RegisterLayout("TCR_EL1", (
    Field("T0SZ", 5, 0, "size offset of the TTBR0 region: 2^(64-T0SZ) bytes"),
    Field("EPD0", 7, 7, "no walks through TTBR0"),
    Field("TG0", 15, 14, "TTBR0 granule", ((0, "4KB"), (1, "64KB"), (2, "16KB"))),
    Field("T1SZ", 21, 16, "size offset of the TTBR1 region"),
    Field("A1", 22, 22, "ASID from TTBR1 (1) or TTBR0 (0)"),
    Field("EPD1", 23, 23, "no walks through TTBR1"),
    Field("TG1", 31, 30, "TTBR1 granule", ((1, "16KB"), (2, "4KB"), (3, "64KB"))),
    Field("IPS", 34, 32, "intermediate physical address size", _IPS),
    Field("AS", 36, 36, "16-bit ASIDs"),
), "Arm ARM K.a, TCR_EL1")
TCR_EL2 = RegisterLayout("TCR_EL2", (
    Field("T0SZ", 5, 0, "size offset of the TTBR0_EL2 region"),
    Field("TG0", 15, 14, "granule", ((0, "4KB"), (1, "64KB"), (2, "16KB"))),
    Field("PS", 18, 16, "physical address size", _IPS),
), "Arm ARM K.a, TCR_EL2 (E2H = 0)")
TCR_EL3 = RegisterLayout("TCR_EL3", (
    Field("T0SZ", 5, 0, "size offset of the TTBR0_EL3 region"),
    Field("TG0", 15, 14, "granule", ((0, "4KB"), (1, "64KB"), (2, "16KB"))),
    Field("PS", 18, 16, "physical address size", _IPS),
), "Arm ARM K.a, TCR_EL3")
_TTBR = (Field("CnP", 0, 0, "common not private"), Field("BADDR", 47, 1, "table base address bits [47:1]"),
         Field("ASID", 63, 48, "address space identifier"))
TTBR0_EL1 = RegisterLayout("TTBR0_EL1", _TTBR, "Arm ARM K.a, TTBR0_EL1")
TTBR1_EL1 = RegisterLayout("TTBR1_EL1", _TTBR, "Arm ARM K.a, TTBR1_EL1")
TTBR0_EL2 = RegisterLayout("TTBR0_EL2", _TTBR[:2], "Arm ARM K.a, TTBR0_EL2")
TTBR0_EL3 = RegisterLayout("TTBR0_EL3", _TTBR[:2], "Arm ARM K.a, TTBR0_EL3")
MAIR_EL1 = RegisterLayout("MAIR_EL1", tuple(Field(f"Attr{i}", 8 * i + 7, 8 * i, "memory attribute") for i in range(8)),
                          "Arm ARM K.a, MAIR_EL1")
HCR_EL2 = RegisterLayout("HCR_EL2", (
    Field("VM", 0, 0, "stage-2 translation for EL1&0", ((0, "off"), (1, "on"))),
    Field("TGE", 27, 27, "trap general exceptions (EL1&0 exceptions go to EL2)"),
    Field("E2H", 34, 34, "EL2 host (VHE); must be 0 in this model"),
    Field("FWB", 46, 46, "stage 2 forced write-back"),
), "Arm ARM K.a, HCR_EL2")
VTTBR_EL2 = RegisterLayout("VTTBR_EL2", (
    Field("CnP", 0, 0, "common not private"), Field("BADDR", 47, 1, "stage-2 table base address bits [47:1]"),
    Field("VMID", 63, 48, "virtual machine identifier"),
), "Arm ARM K.a, VTTBR_EL2")
VTCR_EL2 = RegisterLayout("VTCR_EL2", (
    Field("T0SZ", 5, 0, "size offset of the IPA space: 2^(64-T0SZ) bytes"),
    Field("SL0", 7, 6, "stage-2 start level (4KB)", ((0, "level 2"), (1, "level 1"), (2, "level 0"), (3, "level 3"))),
    Field("IRGN0", 9, 8, "inner cacheability of walks"),
    Field("ORGN0", 11, 10, "outer cacheability of walks"),
    Field("SH0", 13, 12, "shareability of walks"),
    Field("TG0", 15, 14, "granule", ((0, "4KB"), (1, "64KB"), (2, "16KB"))),
    Field("PS", 18, 16, "physical address size", _IPS),
    Field("VS", 19, 19, "16-bit VMIDs"),
    Field("S2PIE", 36, 36, "stage-2 permission indirection (used by Planes)"),
    Field("S2POE", 37, 37, "stage-2 permission overlays (used by Planes)"),
), "Arm ARM K.a, VTCR_EL2")
_ESR = (Field("ISS", 24, 0, "instruction specific syndrome"), Field("IL", 25, 25, "32-bit instruction"),
        Field("EC", 31, 26, "exception class"))
ESR_EL1 = RegisterLayout("ESR_EL1", _ESR, "Arm ARM K.a, ESR_EL1")
ESR_EL2 = RegisterLayout("ESR_EL2", _ESR, "Arm ARM K.a, ESR_EL2")
FAR = (Field("VA", 63, 0, "faulting virtual address"),)
FAR_EL1 = RegisterLayout("FAR_EL1", FAR, "Arm ARM K.a, FAR_EL1")
FAR_EL2 = RegisterLayout("FAR_EL2", FAR, "Arm ARM K.a, FAR_EL2")
HPFAR_EL2 = RegisterLayout("HPFAR_EL2", (Field("FIPA", 43, 4, "faulting IPA bits [51:12]"),),
                           "Arm ARM K.a, HPFAR_EL2")

PE_LAYOUTS = {r.name: r for r in (SCTLR_EL1, SCTLR_EL2, SCTLR_EL3, TCR_EL1, TCR_EL2, TCR_EL3, TTBR0_EL1, TTBR1_EL1,
                                  TTBR0_EL2, TTBR0_EL3, MAIR_EL1, HCR_EL2, VTTBR_EL2, VTCR_EL2, ESR_EL1, ESR_EL2,
                                  FAR_EL1, FAR_EL2, HPFAR_EL2)}


# --- Memory Encryption Contexts (FEAT_MEC; spec/mec.md section 2) ------------------------------
_MECID = (Field("MECID", 15, 0, "memory encryption context ID"),)
MECID_LAYOUTS = {name: RegisterLayout(name, _MECID, f"Arm ARM K.a, {name}")
                 for name in ("MECID_P0_EL2", "MECID_A0_EL2", "MECID_P1_EL2", "MECID_A1_EL2", "VMECID_P_EL2",
                              "VMECID_A_EL2", "MECID_RL_A_EL3")}
SCTLR2_EL2 = RegisterLayout("SCTLR2_EL2", (Field("EMEC", 1, 1, "MECIDs for EL2, EL2&0 and Realm EL1&0"),),
                            "Arm ARM K.a, SCTLR2_EL2")
SCTLR2_EL3 = RegisterLayout("SCTLR2_EL3", (Field("EMEC", 1, 1, "MECID_RL_A_EL3 for EL3's Realm accesses"),),
                            "Arm ARM K.a, SCTLR2_EL3")
MECIDR_EL2 = RegisterLayout("MECIDR_EL2", (Field("MECIDWidthm1", 3, 0, "MECID width minus one (read-only)"),),
                            "Arm ARM K.a, MECIDR_EL2")
PE_LAYOUTS.update(MECID_LAYOUTS)
PE_LAYOUTS.update({r.name: r for r in (SCTLR2_EL2, SCTLR2_EL3, MECIDR_EL2)})
