"""The Granule Protection Table and the granule protection check (GPC).

Public pieces: :class:`GPCConfig` (decoded GPCCR_EL3/GPTBR_EL3), descriptor encoders and decoders,
:class:`GPCFault` with :func:`report`, :class:`GPCCache`, the TF-A style builder, and the batched
check kernel (``_kernels``) with its readable twin (``_reference``).
"""

from .cache import GPCCache
from .config import GPCConfig, L0GPTSZ_ENCODING, PGS_ENCODING, PPS_ENCODING
from .faults import ExceptionReport, GPCFault, GPCFaultKind, report
from .builder import PASRegion

__all__ = ["GPCCache", "GPCConfig", "GPCFault", "GPCFaultKind", "ExceptionReport", "report",
           "PASRegion", "PGS_ENCODING", "PPS_ENCODING", "L0GPTSZ_ENCODING"]
