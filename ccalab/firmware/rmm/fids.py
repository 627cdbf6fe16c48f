"""RMI function identifiers: the SMC64 fast-call IDs of the commands of RMM 1.0.

Each ID is ``0xC4000000 | fnum`` (SMCCC, standard secure service, SMC64). RMM 1.0 uses fnum
0x150..0x169 (0x156, 0x160 and 0x163 are unused); the RMI range reserved for later releases runs
to 0x18F, and the monitor forwards that whole range from the Non-secure world to the RMM.

Spec: RMM DEN0137 1.0-rel0, "RMI commands" (each command's FID); SMCCC DEN0028 for the layout.
"""

from __future__ import annotations

import enum


class RmiFid(enum.IntEnum):
    """The function ID of each RMM 1.0 RMI command, named as in the spec."""

    RMI_VERSION = 0xC400_0150
    RMI_GRANULE_DELEGATE = 0xC400_0151
    RMI_GRANULE_UNDELEGATE = 0xC400_0152
    RMI_DATA_CREATE = 0xC400_0153
    RMI_DATA_CREATE_UNKNOWN = 0xC400_0154
    RMI_DATA_DESTROY = 0xC400_0155
    RMI_REALM_ACTIVATE = 0xC400_0157
    RMI_REALM_CREATE = 0xC400_0158
    RMI_REALM_DESTROY = 0xC400_0159
    RMI_REC_CREATE = 0xC400_015A
    RMI_REC_DESTROY = 0xC400_015B
    RMI_REC_ENTER = 0xC400_015C
    RMI_RTT_CREATE = 0xC400_015D
    RMI_RTT_DESTROY = 0xC400_015E
    RMI_RTT_MAP_UNPROTECTED = 0xC400_015F
    RMI_RTT_READ_ENTRY = 0xC400_0161
    RMI_RTT_UNMAP_UNPROTECTED = 0xC400_0162
    RMI_PSCI_COMPLETE = 0xC400_0164
    RMI_FEATURES = 0xC400_0165
    RMI_RTT_FOLD = 0xC400_0166
    RMI_REC_AUX_COUNT = 0xC400_0167
    RMI_RTT_INIT_RIPAS = 0xC400_0168
    RMI_RTT_SET_RIPAS = 0xC400_0169


#: First and last function ID of the range the RMI owns (0x150..0x18F).
RMI_FID_FIRST = 0xC400_0150
RMI_FID_LAST = 0xC400_018F

#: SMCCC ``SMC_NOT_SUPPORTED`` (-1 as a 64-bit register): the X0 of an unknown function ID.
SMC_NOT_SUPPORTED = 0xFFFF_FFFF_FFFF_FFFF


def is_rmi_fid(fid: int) -> bool:
    """Whether ``fid`` lies in the RMI's range (implemented or not)."""
    return RMI_FID_FIRST <= int(fid) <= RMI_FID_LAST


def fid_name(fid: int) -> str:
    """The spec name of ``fid`` (``RMI_GRANULE_DELEGATE``), or its hex value if it has none."""
    try:
        return RmiFid(int(fid)).name
    except ValueError:
        return f"{int(fid):#x}"


__all__ = ["RmiFid", "RMI_FID_FIRST", "RMI_FID_LAST", "SMC_NOT_SUPPORTED", "is_rmi_fid", "fid_name"]
