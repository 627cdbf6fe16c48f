"""PSCI function IDs and return codes (what a realm's PSCI calls use).

Spec: Arm Power State Coordination Interface DEN0022 (PSCI 1.1), 5.1 "Function prototypes" and
5.2.2 "Return error codes"; RMM DEN0137 1.0-rel0, B5.2 "PSCI" (which calls a realm may make and
how the RMM handles them).
"""

from __future__ import annotations

import enum


class PsciFid(enum.IntEnum):
    PSCI_VERSION = 0x8400_0000
    CPU_SUSPEND_32 = 0x8400_0001
    CPU_OFF = 0x8400_0002
    CPU_ON_32 = 0x8400_0003
    AFFINITY_INFO_32 = 0x8400_0004
    SYSTEM_OFF = 0x8400_0008
    SYSTEM_RESET = 0x8400_0009
    PSCI_FEATURES = 0x8400_000A
    CPU_SUSPEND = 0xC400_0001
    CPU_ON = 0xC400_0003
    AFFINITY_INFO = 0xC400_0004


class PsciReturn(enum.IntEnum):
    SUCCESS = 0
    NOT_SUPPORTED = -1
    INVALID_PARAMS = -2
    DENIED = -3
    ALREADY_ON = -4
    ON_PENDING = -5
    INTERNAL_FAILURE = -6
    NOT_PRESENT = -7
    DISABLED = -8
    INVALID_ADDRESS = -9

    @property
    def register(self) -> int:
        """The value as a 64-bit register."""
        return int(self) & 0xFFFF_FFFF_FFFF_FFFF


PSCI_VERSION_1_1 = 0x0001_0001
AFFINITY_ON, AFFINITY_OFF = 0, 1


def is_psci_fid(fid: int) -> bool:
    return fid in PsciFid._value2member_map_ or (0x8400_0000 <= fid <= 0x8400_001F) or \
        (0xC400_0000 <= fid <= 0xC400_001F)


def as_signed(reg: int) -> int:
    reg &= 0xFFFF_FFFF_FFFF_FFFF
    return reg - (1 << 64) if reg >> 63 else reg


__all__ = ["PsciFid", "PsciReturn", "PSCI_VERSION_1_1", "AFFINITY_ON", "AFFINITY_OFF", "is_psci_fid", "as_signed"]
