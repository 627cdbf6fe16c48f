"""The Realm Management Monitor: RMI command handlers over a granule tracker (RMM 1.0)."""

from .fids import RMI_FID_FIRST, RMI_FID_LAST, SMC_NOT_SUPPORTED, RmiFid, is_rmi_fid
from .granule import GranuleInvariantError, GranuleState, GranuleTracker
from .rmm import RMI_HANDLERS, Rmm
from .status import RmiStatus, pack, unpack

__all__ = ["Rmm", "RMI_HANDLERS", "RmiFid", "RmiStatus", "GranuleState", "GranuleTracker",
           "GranuleInvariantError", "pack", "unpack", "is_rmi_fid", "RMI_FID_FIRST", "RMI_FID_LAST",
           "SMC_NOT_SUPPORTED"]
