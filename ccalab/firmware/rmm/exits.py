"""REC exits as the RMM's execution loop raises them, and the syndrome values it reports.

Spec: RMM DEN0137 1.0-rel0, ``RmiRecExitReason``, A4.4 "REC exit"; Arm ARM K.a D24.2.40 ESR_ELx
(EC 0x24/0x20 and the data-abort ISS), D24.2.77 HPFAR_EL2.
"""

from __future__ import annotations

class ExitReason:
    """RmiRecExitReason values (RMM 1.0)."""

    SYNC, IRQ, FIQ, PSCI, RIPAS_CHANGE, HOST_CALL, SERROR = range(7)
    NAMES = ("SYNC", "IRQ", "FIQ", "PSCI", "RIPAS_CHANGE", "HOST_CALL", "SERROR")


EC_WFX, EC_IABT_LOW, EC_DABT_LOW = 0x01, 0x20, 0x24
_REG = 0xFFFF_FFFF_FFFF_FFFF


def esr_abort(data: bool, dfsc: int, *, isv=False, size=8, write=False) -> int:
    """ESR_EL2 of a stage-2 abort from the realm (EC 0x24 data / 0x20 instruction, IL = 1); with
    ISV the access size (SAS), the register (SRT = 0: the value travels in gprs[0]) and 64-bit SF."""
    esr = ((EC_DABT_LOW if data else EC_IABT_LOW) << 26) | (1 << 25) | (dfsc & 0x3F)
    if data and isv:
        sas = {1: 0, 2: 1, 4: 2, 8: 3}[size]
        esr |= (1 << 24) | (sas << 22) | (int(size == 8) << 15)
    if data and write:
        esr |= 1 << 6
    return esr



class _Exit(Exception):
    def __init__(self, fields, pending=None, last=None):
        self.fields, self.pending, self.last = fields, pending, last or {}


class _Sea(Exception):
    def __init__(self, ipa, why):
        self.ipa, self.why = ipa, why



__all__ = ["ExitReason", "esr_abort", "EC_WFX", "EC_IABT_LOW", "EC_DABT_LOW", "_Exit", "_Sea"]
