"""Granule protection faults: their classes, status codes and how they are reported.

Spec: Arm ARM K.a pseudocode ``GPCFRecord``, ``EncodeGPCSC``, ``ReportAsGPCException``,
``TakeGPCException``, ``AArch64_DataAbort`` and ``EncodeLDFSC``; ESR_EL3 ISS for EC 0x1E;
MFAR_EL3.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..pas import GPI, PAS, gpi_is_valid
from ..sysreg import ESR_EL3, MFAR_EL3
from ._kernels import FAULT, NO_GPI


class GPCFaultKind(enum.IntEnum):
    """Arm ARM ``GPCF``: the class of a granule protection check failure.

    The value is the GPCSC encoding with the level bit clear.
    """

    ADDRESS_SIZE = 0b000000  # GPT base or L1 table address beyond the protected PA size
    WALK = 0b000100  # the GPT itself is malformed or the registers are inconsistent
    FAIL = 0b001100  # a genuine granule protection fault: the GPI forbids this PAS
    EABT = 0b010100  # a GPT fetch hit a bus error (synchronous external abort)


_KIND_TEXT = {
    GPCFaultKind.ADDRESS_SIZE: "GPT address size fault",
    GPCFaultKind.WALK: "GPT walk fault",
    GPCFaultKind.FAIL: "granule protection fault",
    GPCFaultKind.EABT: "external abort on a GPT fetch",
}

EC_GPC = 0x1E
EC_DABT_LOWER, EC_DABT_SAME = 0x24, 0x25
EC_IABT_LOWER, EC_IABT_SAME = 0x20, 0x21
FSC_GPF_OUTPUT = 0b101000


@dataclass(frozen=True)
class GPCFault:
    """The outcome of a failed granule protection check.

    Attributes follow the architecture: ``kind`` (GPCF class), ``level`` (GPT level 0 or 1),
    ``gpcsc`` (the ESR_EL3.GPCSC value), the faulting ``pa`` and the ``pas`` of the access,
    and ``gpi`` (the GPI the walk found, when it got that far).
    """

    kind: GPCFaultKind
    level: int
    pa: int
    pas: PAS
    gpi: int | None = None
    detail: str = ""

    @property
    def gpcsc(self) -> int:
        return int(self.kind) | self.level

    @property
    def is_gpf(self) -> bool:
        """True for a genuine GPF (class Fail); the others always go to EL3."""
        return self.kind == GPCFaultKind.FAIL

    @property
    def mfar(self) -> int:
        """MFAR_EL3 as the PE would record it (faulting PA and the PAS of the access)."""
        return MFAR_EL3.encode(FPA=(self.pa >> 12) & ((1 << 40) - 1), NSE=self.pas.nse, NS=self.pas.ns)

    @classmethod
    def from_code(cls, code: int, pa: int, pas: PAS, gpi: int = NO_GPI, detail: str = "") -> "GPCFault":
        gpcsc = int(code) & ~FAULT
        return cls(GPCFaultKind(gpcsc & ~1), gpcsc & 1, int(pa), PAS(pas),
                   None if gpi == NO_GPI else int(gpi), detail)

    def explain(self) -> str:
        """What happened and why, in words a learner can follow."""
        head = (f"{_KIND_TEXT[self.kind]} at GPT level {self.level} (GPCSC {self.gpcsc:#04x}): "
                f"a {self.pas.label} PAS access to PA {self.pa:#x}")
        if self.kind == GPCFaultKind.FAIL:
            if self.gpi is None:
                why = ("the address is above the protected physical address size, where only "
                       "Non-secure accesses may go")
            else:
                gname = GPI(self.gpi).label if gpi_is_valid(self.gpi) else f"0b{self.gpi:04b}"
                if self.gpi == GPI.NO_ACCESS:
                    why = "the granule's GPI is No access, which admits no PAS at all"
                else:
                    why = (f"the granule's GPI is {gname}, which admits only {gname} PAS accesses")
        elif self.kind == GPCFaultKind.WALK:
            why = "the GPT or the GPC registers are malformed, so no GPI could be determined"
        elif self.kind == GPCFaultKind.ADDRESS_SIZE:
            why = "a GPT table address lies beyond the protected physical address size"
        else:
            why = "a GPT entry had to be fetched from an address where no memory answers"
        text = f"{head}. Why: {why}."
        if self.detail:
            text += f" {self.detail}"
        return text

    def __str__(self) -> str:
        return self.explain()


@dataclass(frozen=True)
class ExceptionReport:
    """Where a fault is taken and the syndrome software sees (ESR, FAR / MFAR)."""

    target_el: int
    ec: int
    fsc: int
    gpcsc: int | None
    esr: int
    mfar: int | None
    summary: str


def report(fault: GPCFault, el: int, *, on_walk_level: int | None = None, stage2_walk: bool = False,
           s1ptw: bool = False, write: bool = False, instruction: bool = False, scr_gpf: bool = False,
           hcr_tge: bool = False, hcr_gpf: bool = False) -> ExceptionReport:
    """How the PE reports ``fault`` for an access made at exception level ``el``.

    ``on_walk_level`` is the translation table level when the faulting physical access was a
    descriptor fetch of a translation table walk (None: the access was the final output).

    Spec: Arm ARM K.a ``ReportAsGPCException``: Walk, AddressSize and EABT are always a GPC
    exception (EC 0x1E) to EL3; a Fail is one only when SCR_EL3.GPF = 1 and the access is below
    EL3. Otherwise the Fail is an Instruction or Data Abort with FSC 0b101000 (output) or
    0b1001LL (walk at level LL), taken to EL3 from EL3, to EL2 from EL2, and from EL0/EL1 to EL2
    when HCR_EL2.TGE or HCR_EL2.GPF is set or the fault was on a stage-2 walk, else to EL1.
    """
    if el not in (0, 1, 2, 3):
        raise ValueError(f"an exception level is 0..3, got {el!r}")
    if on_walk_level is None:
        fsc = FSC_GPF_OUTPUT
    elif on_walk_level == -1:
        fsc = 0b100011
    else:
        if on_walk_level not in (0, 1, 2, 3):
            raise ValueError("a walk level is -1..3")
        fsc = 0b100100 | on_walk_level
    as_gpc = (not fault.is_gpf) or (scr_gpf and el < 3)
    if as_gpc:
        iss = ESR_EL3.encode(xFSC=fsc, WnR=int(write), S1PTW=int(s1ptw), GPCSC=fault.gpcsc,
                             InD=int(instruction), S2PTW=int(stage2_walk))
        esr = iss | ESR_EL3.encode(EC=EC_GPC, IL=1)
        summary = (f"GPC exception (EC 0x1E) taken to EL3: GPCSC {fault.gpcsc:#04x}, "
                   f"MFAR_EL3 = {fault.mfar:#x}")
        return ExceptionReport(3, EC_GPC, fsc, fault.gpcsc, esr, fault.mfar, summary)
    if el == 3:
        target = 3
    elif el == 2:
        target = 2
    elif hcr_tge or hcr_gpf or stage2_walk:
        target = 2
    else:
        target = 1
    same = target == el
    if instruction:
        ec = EC_IABT_SAME if same else EC_IABT_LOWER
    else:
        ec = EC_DABT_SAME if same else EC_DABT_LOWER
    iss = fsc | (int(write) << 6 if not instruction else 0) | (int(s1ptw) << 7)
    esr = iss | (1 << 25) | (ec << 26)
    kind = "Instruction" if instruction else "Data"
    where = "on the final output" if on_walk_level is None else f"on a table walk at level {on_walk_level}"
    summary = (f"{kind} Abort (EC {ec:#04x}) taken to EL{target}: GPF {where}, FSC {fsc:#04x}")
    return ExceptionReport(target, ec, fsc, None, esr, None, summary)
