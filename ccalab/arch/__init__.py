"""The architecture layer: registers and tables with their real bit layouts, and numba kernels
for the hot paths (each with a pure-Python reference twin). Imports NumPy and numba only."""

from .pas import GPI, PAS, SecurityState, gpi_check

__all__ = ["GPI", "PAS", "SecurityState", "gpi_check"]
