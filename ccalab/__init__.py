"""ccalab: an interactive model of the Arm Confidential Compute Architecture.

``import ccalab`` loads NumPy and numba only; the pictures (``ccalab.viz``) and widgets
(``ccalab.widgets``) load matplotlib and ipywidgets when first used.
"""

from ._version import SPEC_VERSION, __version__
from ._jit import ensure_cache_dir as _ensure_cache_dir  # noqa: F401  (settles NUMBA_CACHE_DIR first)
from .arch.pas import GPI, PAS, SecurityState
from .arch.gpt import GPCFault, GPCFaultKind
from .errors import ExternalAbort, GranuleProtectionFault
from .platform import Platform, PlatformLayout, WhatIf
from ._warmup import warmup

__all__ = ["GPI", "PAS", "SecurityState", "Platform", "PlatformLayout", "WhatIf", "GPCFault", "GPCFaultKind",
           "GranuleProtectionFault", "ExternalAbort", "warmup", "__version__", "SPEC_VERSION"]
