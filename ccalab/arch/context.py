"""The machine context: one ``int64`` array holding the state that hot kernels share.

numba passes every array argument to a compiled helper with reference-count traffic, and a helper
with many array arguments was measured about ten times slower than the same code written inline.
So the state that every physical access consults (the GPC configuration, the populated memory
regions, the GPC cache and its counters) lives at fixed offsets in one array; kernels and their
helpers take ``(mem64, ctx, ...)`` and read fields by offset. Python code uses named views
(:class:`ccalab.arch.gpt.GPCCache` views the cache part) and never the offsets directly.
"""

from __future__ import annotations

import numpy as np

# --- header -----------------------------------------------------------------------------------
C_GPC_ENABLED = 0  # GPCCR_EL3.GPC
C_GPC_CONSISTENT = 1  # the GPC registers are consistent
C_T = 2  # protected PA size, bits
C_P = 3  # granule size, log2
C_S = 4  # L0 entry size, log2
C_BASE = 5  # GPTBR_EL3.BADDR << 12
C_L0BASE = 6  # the base aligned to the L0 table size
C_USE_CACHE = 7  # the GPC cache is enabled
C_NSETS = 8  # GPC cache sets per size class (a power of two)
C_NREG = 9  # number of populated memory regions
C_REG = 10  # C_REG + 2*i: [lo, hi) of memory region i (up to MAX_REGIONS)
MAX_REGIONS = 8
C_SHIFT = 26  # 5 cache entry sizes, log2
C_GCNT = 32  # 5 counters: checks, hits, misses, GPT reads, faults
C_PAMAX = 40  # implemented PA size, bits
C_GTAGS_OFF = 41  # offset of the GPC cache tags (5 * nsets)
C_GGPIS_OFF = 42  # offset of the GPC cache GPIs (5 * nsets)
HEADER = 64

N_CLASSES = 5
N_GCOUNTERS = 5


def new_context(regions_lo, regions_hi, pamax: int, gpc_sets: int) -> np.ndarray:
    """Allocate a machine context for the given populated memory regions."""
    if len(regions_lo) > MAX_REGIONS:
        raise ValueError(f"at most {MAX_REGIONS} memory regions are supported")
    size = HEADER + 2 * N_CLASSES * gpc_sets
    ctx = np.zeros(size, dtype=np.int64)
    ctx[C_NSETS] = gpc_sets
    ctx[C_NREG] = len(regions_lo)
    for i, (lo, hi) in enumerate(zip(regions_lo, regions_hi)):
        ctx[C_REG + 2 * i] = lo
        ctx[C_REG + 2 * i + 1] = hi
    ctx[C_PAMAX] = pamax
    ctx[C_GTAGS_OFF] = HEADER
    ctx[C_GGPIS_OFF] = HEADER + N_CLASSES * gpc_sets
    ctx[HEADER:HEADER + N_CLASSES * gpc_sets] = -1
    ctx[C_USE_CACHE] = 1
    return ctx


def set_gpc_config(ctx: np.ndarray, cfg) -> None:
    """Copy a :class:`ccalab.arch.gpt.GPCConfig` into the header."""
    ctx[C_GPC_ENABLED] = int(cfg.enabled)
    ctx[C_GPC_CONSISTENT] = int(cfg.consistent)
    ctx[C_T] = cfg.t
    ctx[C_P] = cfg.p
    ctx[C_S] = cfg.s
    ctx[C_BASE] = cfg.base
    ctx[C_L0BASE] = cfg.l0_base
