"""The granule protection check written for clarity: the reference twin of ``_kernels.py``.

It follows the Arm ARM K.a pseudocode ``GranuleProtectionCheck`` / ``GPTWalk`` step by step and
uses the same result encoding and the same GPC cache arrays as the kernel, so the two can be
compared access by access. Never used on a hot path.
"""

from __future__ import annotations

from .config import GPCConfig
from .descriptors import decode_l0, decode_l1
from ..pas import PAS, gpi_check
from ._kernels import (C_GRANULE, C_L0, FAULT, GPCSC_ADDRESS_SIZE, GPCSC_EABT, GPCSC_FAIL,
                       GPCSC_WALK, K_CHECKS, K_FAULTS, K_HITS, K_MISSES, K_READS, NO_GPI)

CONTIG_CLASS = {2 << 20: 1, 32 << 20: 2, 512 << 20: 3}


def gpt_walk(pa: int, cfg: GPCConfig, read64, counters=None):
    """Walk the GPT for ``pa`` (< 2^t). Returns ``(code, gpi, cache_class, level)``.

    ``read64(addr)`` returns the 64-bit word at a Root-PAS physical address, or None on a bus
    error.
    """
    def read(addr):
        value = read64(addr)
        if value is not None and counters is not None:
            counters[K_READS] += 1
        return value

    # Step 4: the table base must lie inside the protected PA size.
    if cfg.base >= (1 << cfg.t):
        return FAULT | GPCSC_ADDRESS_SIZE, NO_GPI, 0, 0
    # Step 5: read the L0 entry.
    l0_addr = cfg.l0_base + 8 * cfg.l0_index(pa)
    d0 = read(l0_addr)
    if d0 is None:
        return FAULT | GPCSC_EABT, NO_GPI, 0, 0
    # Step 6: decode it.
    l0 = decode_l0(d0)
    if not l0.valid:
        return FAULT | GPCSC_WALK, NO_GPI, 0, 0
    if l0.kind == "block":
        return 0, l0.gpi, C_L0, 0
    l1_base = l0.next_table
    if l1_base % cfg.l1_table_size:
        return FAULT | GPCSC_WALK, NO_GPI, 0, 0
    if l1_base >= (1 << cfg.t):
        return FAULT | GPCSC_ADDRESS_SIZE, NO_GPI, 0, 0
    # Step 7: read and decode the L1 entry.
    d1 = read(l1_base + 8 * cfg.l1_index(pa))
    if d1 is None:
        return FAULT | GPCSC_EABT | 1, NO_GPI, 0, 1
    l1 = decode_l1(d1)
    if not l1.valid:
        return FAULT | GPCSC_WALK | 1, NO_GPI, 0, 1
    if l1.kind == "contiguous":
        return 0, l1.gpi, CONTIG_CLASS[l1.contig_size], 1
    return 0, l1.gpis[cfg.gpi_index(pa)], C_GRANULE, 1


def gpc_check(pa: int, pas: int, cfg: GPCConfig, read64, cache=None, counters=None):
    """One check. Returns ``(code, gpi)``; ``cache`` is ``(tags, gpis, shifts)`` or None."""
    if counters is not None:
        counters[K_CHECKS] += 1

    def fault(code, gpi=NO_GPI):
        if counters is not None:
            counters[K_FAULTS] += 1
        return code, gpi

    # Step 1: GPC disabled -> every access passes.
    if not cfg.enabled:
        return 0, NO_GPI
    # Step 2: inconsistent registers -> walk fault at level 0.
    if not cfg.consistent:
        return fault(FAULT | GPCSC_WALK)
    # Step 3: above the protected PA size only Non-secure accesses pass.
    if pa >= (1 << cfg.t):
        return (0, NO_GPI) if pas == PAS.NONSECURE else fault(FAULT | GPCSC_FAIL)
    # Cached GPT information, largest entry size first.
    if cache is not None:
        tags, gpis, shifts = cache
        nsets = tags.shape[1]
        for cls in reversed(range(tags.shape[0])):
            tag = pa >> int(shifts[cls])
            if int(tags[cls, tag % nsets]) == tag:
                if counters is not None:
                    counters[K_HITS] += 1
                gpi = int(gpis[cls, tag % nsets])
                if gpi_check(gpi, pas):
                    return 0, gpi
                return fault(FAULT | GPCSC_FAIL | (1 if cls < C_L0 else 0), gpi)
        if counters is not None:
            counters[K_MISSES] += 1
    code, gpi, cls, level = gpt_walk(pa, cfg, read64, counters)
    if code:
        return fault(code, gpi)
    # Step 8: compare the GPI with the PAS of the access.
    if not gpi_check(gpi, pas):
        return fault(FAULT | GPCSC_FAIL | level, gpi)
    if cache is not None:
        tag = pa >> int(shifts[cls])
        tags[cls, tag % nsets] = tag
        gpis[cls, tag % nsets] = gpi
    return 0, gpi
