"""Compile (or load from the on-disk cache) every kernel at one known moment."""

from __future__ import annotations

import time

import numpy as np


def warmup(verbose: bool = False) -> float:
    """Compile or load every numba kernel now, so no lesson pauses later. Returns seconds taken.

    The first notebook cell calls this. With warm caches (``binder/postBuild`` fills them) it
    takes a fraction of a second; the very first run on a machine compiles for a few seconds.
    """
    from .arch.gpt import _kernels as gk
    from .arch.context import new_context
    from .arch.memory import MemoryRegion, PhysicalMemory

    t0 = time.perf_counter()
    mem = PhysicalMemory([MemoryRegion("warmup", 0, 1 << 16, "dram")])
    ctx = new_context(mem.backed_lo, mem.backed_hi, 48, 4)
    pa = np.zeros(1, np.int64)
    pas = np.ones(1, np.int64)
    gk.gpc_check_batch(pa, pas, np.empty(1, np.uint8), np.empty(1, np.uint8), mem.words, ctx)
    gk.gpc_check_one(0, 1, mem.words, ctx)  # the RMM's check of a host page it is handed
    gk.gpc_cache_invalidate_small(ctx, 0, 4096)  # TLBI RPALOS of one granule (every delegation)
    from .arch.mmu import _kernels as mk

    pctx = np.zeros(mk.PHEADER + mk.TLB_WORDS * 4 + mk.WC_WORDS * 4, np.int64)
    pctx[mk.P_TLB_SETS] = pctx[mk.P_WC_SETS] = 4
    pctx[mk.P_TLB_OFF] = mk.PHEADER
    pctx[mk.P_WC_OFF] = mk.PHEADER + mk.TLB_WORDS * 4
    pctx[mk.P_PAMAX] = 48
    # the argument types must be exactly those PE passes, or a call would compile a new version
    out_pa, out_pas, out_fault, out_ipa = (np.empty(1, np.int64), np.empty(1, np.int8), np.empty(1, np.int64),
                                           np.empty(1, np.int64))
    mk.translate_batch(pa, mk.READ, 1, out_pa, out_pas, out_fault, out_ipa, mem.words, ctx, pctx)
    # the memory encryption engine's cipher (the active back end), on every memory access
    from .arch.mec import xts

    xts.warmup()
    dt = time.perf_counter() - t0
    if verbose:
        print(f"ccalab kernels ready in {dt:.2f} s")
    return dt
