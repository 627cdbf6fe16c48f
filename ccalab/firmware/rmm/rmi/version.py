"""RMI_VERSION: the host and the RMM agree on an interface version.

Spec: RMM DEN0137 1.0-rel0, RMI_VERSION; ``RmiInterfaceVersion`` (major in bits [30:16], minor in
[15:0], bits [63:31] must be zero).
"""

from __future__ import annotations

from ..status import RmiStatus

#: The interface versions this RMM implements: RMM 1.0 only.
RMI_ABI_MAJOR = 1
RMI_ABI_MINOR = 0


def rmi_version_encode(major: int, minor: int) -> int:
    """The ``RmiInterfaceVersion`` value of ``major.minor``."""
    return (int(major) << 16) | int(minor)


#: This RMM's version, as ``RmiInterfaceVersion``: 0x10000.
RMI_ABI_VERSION = rmi_version_encode(RMI_ABI_MAJOR, RMI_ABI_MINOR)


def rmi_version(rmm, req: int) -> tuple:
    """RMI_VERSION(req): is the host's requested version one this RMM implements?

    Parameters
    ----------
    rmm : Rmm
    req : int
        The version the host asks for (``RmiInterfaceVersion``).

    Returns
    -------
    (status, lower, higher)
        ``SUCCESS`` if ``req`` is implemented (only 1.0 here, so any other value, including one
        with bits [63:31] set, gives ``ERROR_INPUT``). ``lower`` and ``higher`` are the lowest and
        highest implemented versions, 1.0 and 1.0, whatever the status.

    Spec: RMM DEN0137 1.0-rel0, RMI_VERSION (output values ``lower``, ``higher``).
    """
    status = RmiStatus.SUCCESS if req == RMI_ABI_VERSION else RmiStatus.ERROR_INPUT
    return status, RMI_ABI_VERSION, RMI_ABI_VERSION


__all__ = ["rmi_version", "rmi_version_encode", "RMI_ABI_VERSION", "RMI_ABI_MAJOR", "RMI_ABI_MINOR"]
