"""Translation faults: classes, fault status codes, and the packed form kernels return.

Spec: Arm ARM K.a pseudocode ``EncodeLDFSC`` (ESR xFSC), ``AArch64.Abort`` routing, and the RME
additions (GPF on walk ``0b1001LL``, GPF on output ``0b101000``). A kernel reports a fault as one
``int64`` (``-1`` means no fault); :class:`TranslationFault` is its readable form.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NO_FAULT = -1


class FaultKind(enum.IntEnum):
    """The architectural class of a translation fault (Arm ARM ``Fault``)."""

    TRANSLATION = 1
    ACCESS_FLAG = 2
    PERMISSION = 3
    ADDRESS_SIZE = 4
    GPF_ON_WALK = 5  # granule protection fault (class Fail) on a descriptor fetch
    GPF_ON_OUTPUT = 6  # granule protection fault (class Fail) on the final output address
    EXTERNAL_ABORT_ON_WALK = 7  # a descriptor fetch hit no memory
    GPC_EXCEPTION = 8  # a GPT walk/address-size/external-abort fault: always taken to EL3
    EXTERNAL_ABORT = 9  # the final access reached no memory (synchronous external abort)


_FSC_BASE = {FaultKind.ADDRESS_SIZE: 0b000000, FaultKind.TRANSLATION: 0b000100, FaultKind.ACCESS_FLAG: 0b001000,
             FaultKind.PERMISSION: 0b001100, FaultKind.EXTERNAL_ABORT_ON_WALK: 0b010100,
             FaultKind.GPF_ON_WALK: 0b100100}

_TEXT = {
    FaultKind.TRANSLATION: "translation fault",
    FaultKind.ACCESS_FLAG: "access flag fault",
    FaultKind.PERMISSION: "permission fault",
    FaultKind.ADDRESS_SIZE: "address size fault",
    FaultKind.GPF_ON_WALK: "granule protection fault on a table walk",
    FaultKind.GPF_ON_OUTPUT: "granule protection fault on the output address",
    FaultKind.EXTERNAL_ABORT_ON_WALK: "synchronous external abort on a table walk",
    FaultKind.GPC_EXCEPTION: "GPC exception (the GPT itself could not be used)",
    FaultKind.EXTERNAL_ABORT: "synchronous external abort (no memory at the output address)",
}


def fsc(kind: FaultKind, level: int) -> int:
    """The ESR fault status code for ``kind`` at lookup ``level`` (0-3)."""
    if kind == FaultKind.GPF_ON_OUTPUT:
        return 0b101000
    if kind == FaultKind.GPC_EXCEPTION:
        return 0b101000 if level < 0 else 0b100100 | level
    if kind == FaultKind.EXTERNAL_ABORT:
        return 0b010000
    return _FSC_BASE[kind] | (level & 3)


# --- packed form (kernels) -------------------------------------------------------------------
# bits 0-5 FSC, 6-8 level + 1, 9 stage 2, 10 S1PTW, 11-14 kind, 16-21 GPCSC, 22 GPC on output
def pack(kind: int, level: int, stage2: bool, s1ptw: bool, gpcsc: int = 0, on_output: bool = False) -> int:
    return (fsc(FaultKind(kind), level if not on_output else -1) | ((level + 1) << 6) | (int(stage2) << 9)
            | (int(s1ptw) << 10) | (int(kind) << 11) | (gpcsc << 16) | (int(on_output) << 22))


@dataclass(frozen=True)
class TranslationFault:
    """A fault met while translating (or accessing) one address.

    ``kind`` (:class:`FaultKind`), ``stage`` (1 or 2), ``level`` (lookup level), ``fsc`` (the ESR
    fault status code), ``s1ptw`` (the fault was on the stage-2 translation of a stage-1 table
    address), ``va``, ``ipa`` and ``pa`` where known, ``gpcsc`` for granule protection faults,
    and ``target_el`` (which exception level takes it).
    """

    kind: FaultKind
    stage: int
    level: int
    fsc: int
    s1ptw: bool
    va: int | None = None
    ipa: int | None = None
    pa: int | None = None
    gpcsc: int | None = None
    target_el: int = 1
    detail: str = ""

    @classmethod
    def unpack(cls, word: int, *, va=None, ipa=None, pa=None, regime_el: int = 1, tge: bool = False,
               detail: str = "") -> "TranslationFault":
        word = int(word)
        kind = FaultKind((word >> 11) & 0xF)
        stage = 2 if (word >> 9) & 1 else 1
        level = ((word >> 6) & 7) - 1
        if kind == FaultKind.EXTERNAL_ABORT:
            level = -1
        gpcsc = (word >> 16) & 0x3F if kind in (FaultKind.GPF_ON_WALK, FaultKind.GPF_ON_OUTPUT,
                                                 FaultKind.GPC_EXCEPTION) else None
        if kind == FaultKind.GPC_EXCEPTION:
            target = 3
        elif regime_el >= 2:
            target = regime_el
        elif stage == 2 or tge:
            target = 2
        else:
            target = 1
        return cls(kind, stage, level, word & 0x3F, bool((word >> 10) & 1), va, ipa, pa, gpcsc, target, detail)

    def explain(self) -> str:
        where = f"stage {self.stage}, level {self.level}"
        if self.s1ptw:
            where += ", while translating a stage-1 table address (S1PTW)"
        addr = []
        if self.va is not None:
            addr.append(f"VA {self.va:#x}")
        if self.ipa is not None:
            addr.append(f"IPA {self.ipa:#x}")
        if self.pa is not None:
            addr.append(f"PA {self.pa:#x}")
        text = f"{_TEXT[self.kind]} ({where}; FSC {self.fsc:#04x}) at {', '.join(addr) or 'an unknown address'}"
        if self.gpcsc is not None:
            text += f", GPCSC {self.gpcsc:#04x}"
        text += f"; taken to EL{self.target_el}"
        return text + (f". {self.detail}" if self.detail else "")

    def __str__(self) -> str:
        return self.explain()
