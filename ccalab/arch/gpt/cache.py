"""The GPC cache: GPT information cached with the size of the entry it came from.

Spec: Arm ARM K.a, "Caching of GPT information" (``TLBIncludesGPT``): an implementation may cache
the result of a GPT walk for the whole range the entry covers (a granule, a 2MB/32MB/512MB
contiguous block, or an L0 region) until ``TLBI RPALOS`` / ``TLBI PAALLOS`` removes it. Its size
is implementation defined; here it is five direct-mapped arrays of ``sets`` entries, one per
entry size, consulted largest first.
"""

from __future__ import annotations

import numpy as np

from ..context import C_GCNT, C_GGPIS_OFF, C_GTAGS_OFF, C_SHIFT, C_USE_CACHE, new_context
from ._kernels import N_CLASSES, N_COUNTERS, gpc_cache_invalidate_small

CLASS_NAMES = ("granule", "2MB block", "32MB block", "512MB block", "L0 region")


class GPCCache:
    """Cached GPT information for one machine (shared by every requester in this model)."""

    def __init__(self, p: int, s: int, sets: int = 256, ctx: np.ndarray | None = None):
        """A view of the GPC cache kept in the machine context ``ctx`` (a private one if None)."""
        if sets <= 0 or sets & (sets - 1):
            raise ValueError("the number of GPC cache sets must be a power of two")
        if ctx is None:
            ctx = new_context([], [], 48, sets)
        self.ctx = ctx
        self.sets = sets
        self.tags = ctx[ctx[C_GTAGS_OFF]:ctx[C_GTAGS_OFF] + N_CLASSES * sets].reshape(N_CLASSES, sets)
        self.gpis = ctx[ctx[C_GGPIS_OFF]:ctx[C_GGPIS_OFF] + N_CLASSES * sets].reshape(N_CLASSES, sets)
        self.shifts = ctx[C_SHIFT:C_SHIFT + N_CLASSES]
        self.counters = ctx[C_GCNT:C_GCNT + N_COUNTERS]
        self.reshape(p, s)

    @property
    def enabled(self) -> bool:
        return bool(self.ctx[C_USE_CACHE])

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.ctx[C_USE_CACHE] = int(bool(value))

    def reshape(self, p: int, s: int) -> None:
        """Adopt a new granule / L0 size (after a GPCCR_EL3 write); drops every entry."""
        self.shifts[:] = (p, 21, 25, 29, s)
        self.invalidate_all()

    @property
    def arrays(self):
        return self.tags, self.gpis, self.shifts

    def invalidate_all(self) -> int:
        """TLBI PAALLOS: forget all cached GPT information. Returns entries dropped."""
        n = int((self.tags >= 0).sum())
        self.tags[:] = -1
        return n

    def invalidate_range(self, pa: int, size: int) -> int:
        """TLBI RPALOS: forget every entry that overlaps ``[pa, pa + size)``."""
        n = 0
        sets = self.sets
        if 0 < size <= (1 << int(self.shifts.min())) and pa >= 0:  # at most two blocks per class
            return int(gpc_cache_invalidate_small(self.ctx, pa, size))
        for c in range(N_CLASSES):
            shift = int(self.shifts[c])
            first, last = pa >> shift, (pa + max(size, 1) - 1) >> shift
            if last - first < sets:  # few blocks: probe the one slot each can sit in (direct-mapped)
                row = self.tags[c]
                for tag in range(first, last + 1):
                    slot = tag & (sets - 1)
                    if row[slot] == tag:
                        row[slot] = -1
                        n += 1
                continue
            valid = self.tags[c] >= 0
            lo = self.tags[c] << shift
            hi = lo + (1 << shift)
            hit = valid & (lo < pa + size) & (hi > pa)
            n += int(hit.sum())
            self.tags[c][hit] = -1
        return n

    def entries(self):
        """Every valid entry as ``(base_pa, size, gpi, class_name)``, sorted by address."""
        out = []
        for c in range(N_CLASSES):
            shift = int(self.shifts[c])
            for idx in np.nonzero(self.tags[c] >= 0)[0]:
                out.append((int(self.tags[c, idx]) << shift, 1 << shift, int(self.gpis[c, idx]), CLASS_NAMES[c]))
        return sorted(out)

    def reset_counters(self) -> None:
        self.counters[:] = 0

    def stats(self) -> dict:
        from ._kernels import K_CHECKS, K_FAULTS, K_HITS, K_MISSES, K_READS

        c = self.counters
        return {"checks": int(c[K_CHECKS]), "hits": int(c[K_HITS]), "misses": int(c[K_MISSES]),
                "gpt_reads": int(c[K_READS]), "faults": int(c[K_FAULTS])}
