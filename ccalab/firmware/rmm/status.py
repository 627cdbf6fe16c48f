"""RMI command return codes, and how a status and its index share register X0.

Spec: RMM DEN0137 1.0-rel0, ``RmiStatusCode`` and ``RmiCommandReturnCode``: X0 holds the status in
bits [7:0] and an index in bits [15:8]. The index is 0 except where a command says otherwise (for
``ERROR_RTT``, the RTT level at which the walk stopped or the entry was checked).
"""

from __future__ import annotations

import enum

import numpy as np


class RmiStatus(enum.IntEnum):
    """RmiStatusCode: the status of an RMI command (the values of RMM 1.0).

    Later releases add codes (1.1: ``ERROR_NOT_SUPPORTED`` 5, ``ERROR_DEVICE`` 6, ``ERROR_RTT_AUX``
    7); this model implements 1.0, so they are not listed.
    """

    SUCCESS = 0  #: the command completed
    ERROR_INPUT = 1  #: an input value is wrong (alignment, bounds, granule state, ...)
    ERROR_REALM = 2  #: the realm's state forbids the command
    ERROR_REC = 3  #: the REC's state forbids the command
    ERROR_RTT = 4  #: an RTT walk stopped early or met the wrong entry; the index is the level

    @property
    def spec_name(self) -> str:
        """The name the spec gives the value, e.g. ``RMI_ERROR_INPUT``."""
        return f"RMI_{self.name}"


_STATUS_BITS = 8
_INDEX_BITS = 8


def pack(status, index: int = 0) -> int:
    """The X0 value of a command return code: ``status | (index << 8)``.

    Parameters
    ----------
    status : RmiStatus or int
        One of the :class:`RmiStatus` values.
    index : int
        0..255; the RTT level for ``ERROR_RTT``, 0 for most others.

    Spec: RMM DEN0137 1.0-rel0, ``RmiCommandReturnCode`` (status [7:0], index [15:8]).
    """
    status = RmiStatus(status)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"a return code index is an int, got {index!r}")
    if not 0 <= int(index) < (1 << _INDEX_BITS):
        raise ValueError(f"a return code index is {_INDEX_BITS} bits wide (0..255), not {index}")
    return int(status) | (int(index) << _STATUS_BITS)


def unpack(x0: int) -> tuple:
    """``(status, index)`` from an X0 value; ValueError if the status byte is not an RMI status
    or bits above the index are set (``SMC_NOT_SUPPORTED`` is not a return code)."""
    x0 = int(x0)
    if x0 < 0 or x0 >> (_STATUS_BITS + _INDEX_BITS):
        raise ValueError(f"{x0:#x} is not an RMI return code (only bits [15:0] may be set)")
    code = x0 & ((1 << _STATUS_BITS) - 1)
    try:
        status = RmiStatus(code)
    except ValueError:
        raise ValueError(f"{x0:#x} has status {code}, which RMM 1.0 does not define") from None
    return status, x0 >> _STATUS_BITS


def describe(x0: int) -> str:
    """``RMI_ERROR_RTT (index 2)``, ``RMI_SUCCESS``, or the raw value if it is not a return code."""
    try:
        status, index = unpack(x0)
    except ValueError:
        return f"{int(x0):#x}"
    return status.spec_name + (f" (index {index})" if index else "")


__all__ = ["RmiStatus", "pack", "unpack", "describe"]
