"""VMSAv8-64 address translation (4KB granule): stage 1, stage 2, TLB and walk cache, with the
granule protection check on every physical access. Kernels in ``_kernels``, the readable twin in
``_reference``, registers decoded by ``regime``, faults in ``faults``, descriptors in ``descriptors``."""

from .faults import NO_FAULT, FaultKind, TranslationFault
from .regime import Regime

__all__ = ["NO_FAULT", "FaultKind", "TranslationFault", "Regime"]
