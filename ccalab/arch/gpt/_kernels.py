"""Numba kernels for the granule protection check (Arm ARM K.a ``GranuleProtectionCheck``,
``GPTWalk``, ``GPICheck``). The readable twin is ``_reference.py``; tests hold them equal.

Result codes (one ``uint8`` per access): 0 means the access passes; otherwise the value is
``FAULT | GPCSC`` with GPCSC as ESR_EL3 reports it: AddressSize 0b00000L, Walk 0b00010L,
Fail 0b00110L, EABT 0b01010L (L = GPT level). GPT fetches are Root-PAS reads that are not
themselves checked; a fetch outside populated memory is a bus error (EABT). Memory is
read through an ``int64`` view, so every value in a kernel is a signed 64-bit integer.

GPC cache: five direct-mapped arrays, one per entry size (granule, 2MB, 32MB, 512MB and a
whole L0 region), tagged with ``PA >> size``. Only passing results are filled.

All state (GPC configuration, memory regions, cache, counters) is read from the machine context
array ``ctx`` (see :mod:`ccalab.arch.context`), so the one check below can be called from any
kernel, the MMU's included, at the cost of two array arguments.
"""

from __future__ import annotations


from ..._jit import kernel, nrt_free, nrt_free_inline, scalar
from ..context import (C_BASE, C_GCNT, C_GGPIS_OFF, C_GPC_CONSISTENT, C_GPC_ENABLED, C_GTAGS_OFF,
                       C_L0BASE, C_NREG, C_NSETS, C_P, C_REG, C_S, C_SHIFT, C_T, C_USE_CACHE)

FAULT = 0x80
GPCSC_ADDRESS_SIZE = 0x00
GPCSC_WALK = 0x04
GPCSC_FAIL = 0x0C
GPCSC_EABT = 0x14
NO_GPI = 0xFF

# cache classes
C_GRANULE, C_2M, C_32M, C_512M, C_L0 = 0, 1, 2, 3, 4
N_CLASSES = 5
# counters
K_CHECKS, K_HITS, K_MISSES, K_READS, K_FAULTS = 0, 1, 2, 3, 4
N_COUNTERS = 5
# counter events packed in a gpc_ctx result (bits 16+)
EV_HIT, EV_MISS, EV_READ, EV_FAULT = 1, 2, 4, 16


@scalar
def gpi_valid(g):
    """A defined GPI encoding (base RME)."""
    return g == 0 or (g >= 8 and g <= 11) or g == 15


@scalar
def gpi_admits(g, pas):
    """Arm ARM ``GPICheck`` for a valid ``g``."""
    if g == 15:
        return True
    if g == 0:
        return False
    return (g & 3) == pas


@scalar
def granules_word_valid(d):
    """True if all 16 GPIs of an L1 granules word are defined encodings."""
    for i in range(16):
        if not gpi_valid((d >> (4 * i)) & 0xF):
            return False
    return True


@nrt_free
def gpc_ctx(a, ps, mem64, ctx, t, p, s, base, l0base, nsets, tags, gpis, use_cache, probed):
    """One granule protection check of PA ``a`` in PAS ``ps`` (Arm ARM ``GranuleProtectionCheck``,
    ``GPTWalk``, ``GPICheck``) for an enabled GPC with consistent registers (callers handle those).

    The configuration arrives as scalars (callers read it from ``ctx`` once per batch); the GPC
    cache lives in ``ctx`` at offsets ``tags`` and ``gpis``; ``probed`` says the caller has already
    looked in the cache and missed. Compiled without NRT reference
    counting, so kernels can call it for every physical access of a walk at little cost.

    Returns ``code | gpi << 8 | events << 16``: ``code`` is 0 (pass) or FAULT|GPCSC, ``gpi`` the
    GPI used (0xFF when no GPT entry was consulted), ``events`` the counter increments for the
    caller to add (bit 0 cache hit, bit 1 cache miss, bits 2-3 GPT reads, bit 4 fault).
    """
    # Above the protected PA size: only Non-secure accesses pass (no GPT entry is consulted).
    if a >> t:
        if ps == 1:
            return NO_GPI << 8
        return (FAULT | GPCSC_FAIL) | (NO_GPI << 8) | (EV_FAULT << 16)
    # Cached GPT information, largest entry size first (unless the caller has just looked and missed).
    ev = EV_MISS if use_cache else 0
    if use_cache and not probed:
        for c in range(N_CLASSES - 1, -1, -1):
            tag = a >> ctx[C_SHIFT + c]
            slot = c * nsets + (tag & (nsets - 1))
            if ctx[tags + slot] == tag:
                g = ctx[gpis + slot]
                if gpi_admits(g, ps):
                    return (g << 8) | (EV_HIT << 16)
                return (FAULT | GPCSC_FAIL | (1 if c < C_L0 else 0)) | (g << 8) | ((EV_HIT | EV_FAULT) << 16)
    # --- GPTWalk ---------------------------------------------------------------------------
    code = 0
    g = NO_GPI
    cls = 0
    level = 0
    if base >> t:
        code = FAULT | GPCSC_ADDRESS_SIZE
    else:
        a0 = l0base + 8 * ((a >> s) if t > s else 0)
        ok = False
        for r in range(ctx[C_NREG]):
            if a0 >= ctx[C_REG + 2 * r] and a0 + 8 <= ctx[C_REG + 2 * r + 1]:
                ok = True
        if not ok:
            code = FAULT | GPCSC_EABT
        else:
            ev += EV_READ
            d0 = mem64[a0 >> 3]
            typ = d0 & 0xF
            if typ == 1:  # L0 block descriptor
                g0 = (d0 >> 4) & 0xF
                if (d0 >> 8) != 0 or not gpi_valid(g0):
                    code = FAULT | GPCSC_WALK
                else:
                    g = g0
                    cls = C_L0
            elif typ != 3 or ((d0 >> 4) & 0xFF) != 0 or (d0 >> 52) != 0:
                code = FAULT | GPCSC_WALK
            else:  # L0 table descriptor
                l1base = d0 & 0x000FFFFFFFFFF000
                if l1base & ((1 << (s - p - 1)) - 1):
                    code = FAULT | GPCSC_WALK
                elif l1base >> t:
                    code = FAULT | GPCSC_ADDRESS_SIZE
                else:
                    level = 1
                    a1 = l1base + 8 * ((a >> (p + 4)) & ((1 << (s - p - 4)) - 1))
                    ok = False
                    for r in range(ctx[C_NREG]):
                        if a1 >= ctx[C_REG + 2 * r] and a1 + 8 <= ctx[C_REG + 2 * r + 1]:
                            ok = True
                    if not ok:
                        code = FAULT | GPCSC_EABT | 1
                    else:
                        ev += EV_READ
                        d1 = mem64[a1 >> 3]
                        if (d1 & 0xF) == 1:  # L1 contiguous descriptor
                            g1 = (d1 >> 4) & 0xF
                            contig = (d1 >> 8) & 3
                            if (d1 >> 10) != 0 or contig == 0 or not gpi_valid(g1):
                                code = FAULT | GPCSC_WALK | 1
                            else:
                                g = g1
                                cls = contig  # classes 1, 2, 3: 2MB, 32MB, 512MB
                        elif not granules_word_valid(d1):
                            code = FAULT | GPCSC_WALK | 1
                        else:  # L1 granules descriptor
                            g = (d1 >> (4 * ((a >> p) & 0xF))) & 0xF
                            cls = C_GRANULE
    # --- GPICheck, then remember the entry --------------------------------------------------
    if code == 0:
        if not gpi_admits(g, ps):
            code = FAULT | GPCSC_FAIL | level
        elif use_cache:
            tag = a >> ctx[C_SHIFT + cls]
            slot = cls * nsets + (tag & (nsets - 1))
            ctx[tags + slot] = tag
            ctx[gpis + slot] = g
    if code != 0:
        ev |= EV_FAULT
    return code | (g << 8) | (ev << 16)


@nrt_free_inline
def gpc_hit(pa, pas, ctx):
    """The common case of a check, small enough to be inlined into a walk loop: an enabled,
    consistent GPC whose cache holds a passing entry for ``pa``. Returns 0 (and counts the check
    and the hit) or -1 when :func:`gpc_check_one` must decide."""
    if ctx[C_GPC_ENABLED] == 0 or ctx[C_GPC_CONSISTENT] == 0 or ctx[C_USE_CACHE] == 0 or (pa >> ctx[C_T]) != 0:
        return -1
    nsets = ctx[C_NSETS]
    for c in range(N_CLASSES - 1, -1, -1):
        tag = pa >> ctx[C_SHIFT + c]
        slot = c * nsets + (tag & (nsets - 1))
        if ctx[ctx[C_GTAGS_OFF] + slot] == tag:
            if gpi_admits(ctx[ctx[C_GGPIS_OFF] + slot], pas):
                ctx[C_GCNT + K_CHECKS] += 1
                ctx[C_GCNT + K_HITS] += 1
                return 0
            return -1
    return -1


@nrt_free
def gpc_check_one(pa, pas, mem64, ctx):
    """One granule protection check with everything read from ``ctx``; returns the code
    (0 or FAULT|GPCSC) and adds to the GPC counters in ``ctx``. Every physical access of the
    model goes through here (batches of checks, and each descriptor fetch and output of a walk).

    A passing GPC-cache hit is answered here without calling :func:`gpc_ctx` (this probe is
    the first step of ``gpc_ctx``, repeated because a hit is the common case); anything else
    goes to ``gpc_ctx``, which probes again and walks the GPT.
    """
    ctx[C_GCNT + K_CHECKS] += 1
    if ctx[C_GPC_ENABLED] == 0:
        return 0
    if ctx[C_GPC_CONSISTENT] == 0:
        ctx[C_GCNT + K_FAULTS] += 1
        return FAULT | GPCSC_WALK
    t = ctx[C_T]
    nsets = ctx[C_NSETS]
    use_cache = ctx[C_USE_CACHE] != 0
    probed = False
    if use_cache and (pa >> t) == 0:
        probed = True
        for c in range(N_CLASSES - 1, -1, -1):
            tag = pa >> ctx[C_SHIFT + c]
            slot = c * nsets + (tag & (nsets - 1))
            if ctx[ctx[C_GTAGS_OFF] + slot] == tag:
                if gpi_admits(ctx[ctx[C_GGPIS_OFF] + slot], pas):
                    ctx[C_GCNT + K_HITS] += 1
                    return 0
                probed = False  # a refusing entry: let gpc_ctx build the fault
                break
    r = gpc_ctx(pa, pas, mem64, ctx, t, ctx[C_P], ctx[C_S], ctx[C_BASE], ctx[C_L0BASE], nsets,
                ctx[C_GTAGS_OFF], ctx[C_GGPIS_OFF], use_cache, probed)
    ev = r >> 16
    if ev != 0:
        ctx[C_GCNT + K_HITS] += ev & EV_HIT
        ctx[C_GCNT + K_MISSES] += (ev & EV_MISS) >> 1
        ctx[C_GCNT + K_READS] += (ev >> 2) & 3
        ctx[C_GCNT + K_FAULTS] += (ev & EV_FAULT) >> 4
    return r & 0xFF


@kernel
def gpc_check_batch(pa, pas, out_code, out_gpi, mem64, ctx):
    """Check ``pa[i]`` in ``pas[i]`` (or ``pas[0]`` for all when ``pas`` has one element).

    Writes ``out_code[i]`` (0 or FAULT|GPCSC) and ``out_gpi[i]`` (the GPI used, or 0xFF when
    no GPT entry was consulted); adds to the counters in ``ctx``; returns the number of faults.
    """
    n = pa.shape[0]
    single = pas.shape[0] == 1
    enabled = ctx[C_GPC_ENABLED] != 0
    consistent = ctx[C_GPC_CONSISTENT] != 0
    t, p, s, base, l0base = ctx[C_T], ctx[C_P], ctx[C_S], ctx[C_BASE], ctx[C_L0BASE]
    nsets, tags, gpis, use_cache = ctx[C_NSETS], ctx[C_GTAGS_OFF], ctx[C_GGPIS_OFF], ctx[C_USE_CACHE] != 0
    hits = 0
    misses = 0
    reads = 0
    faults = 0
    for i in range(n):
        a = pa[i]
        ps = pas[0] if single else pas[i]
        r = -1
        if not enabled:
            r = NO_GPI << 8
        elif not consistent:
            r = (FAULT | GPCSC_WALK) | (NO_GPI << 8) | (EV_FAULT << 16)
        elif use_cache and (a >> t) == 0:
            # the cache lookup, answered here without a call (the first step of gpc_ctx)
            for c in range(N_CLASSES - 1, -1, -1):
                tag = a >> ctx[C_SHIFT + c]
                slot = c * nsets + (tag & (nsets - 1))
                if ctx[tags + slot] == tag:
                    g = ctx[gpis + slot]
                    if gpi_admits(g, ps):
                        r = (g << 8) | (EV_HIT << 16)
                    else:
                        r = (FAULT | GPCSC_FAIL | (1 if c < C_L0 else 0)) | (g << 8) | ((EV_HIT | EV_FAULT) << 16)
                    break
            if r < 0 and (base >> t) == 0:
                # A miss. Most of the PA space is covered by L0 block descriptors, so their one-read
                # walk is answered here; anything else (L1 tables, faults) goes to gpc_ctx.
                a0 = l0base + 8 * ((a >> s) if t > s else 0)
                ok = False
                for k in range(ctx[C_NREG]):
                    if a0 >= ctx[C_REG + 2 * k] and a0 + 8 <= ctx[C_REG + 2 * k + 1]:
                        ok = True
                if ok:
                    d0 = mem64[a0 >> 3]
                    g0 = (d0 >> 4) & 0xF
                    if (d0 & 0xF) == 1 and (d0 >> 8) == 0 and gpi_valid(g0):
                        if gpi_admits(g0, ps):
                            tag = a >> ctx[C_SHIFT + C_L0]
                            slot = C_L0 * nsets + (tag & (nsets - 1))
                            ctx[tags + slot] = tag
                            ctx[gpis + slot] = g0
                            r = (g0 << 8) | ((EV_MISS | EV_READ) << 16)
                        else:
                            r = (FAULT | GPCSC_FAIL) | (g0 << 8) | ((EV_MISS | EV_READ | EV_FAULT) << 16)
            if r < 0:
                r = gpc_ctx(a, ps, mem64, ctx, t, p, s, base, l0base, nsets, tags, gpis, use_cache, True)
        if r < 0:
            r = gpc_ctx(a, ps, mem64, ctx, t, p, s, base, l0base, nsets, tags, gpis, use_cache, False)
        out_code[i] = r & 0xFF
        out_gpi[i] = (r >> 8) & 0xFF
        ev = r >> 16
        hits += ev & EV_HIT
        misses += (ev & EV_MISS) >> 1
        reads += (ev >> 2) & 3
        faults += (ev & EV_FAULT) >> 4
    ctx[C_GCNT + K_CHECKS] += n
    ctx[C_GCNT + K_HITS] += hits
    ctx[C_GCNT + K_MISSES] += misses
    ctx[C_GCNT + K_READS] += reads
    ctx[C_GCNT + K_FAULTS] += faults
    return faults


@nrt_free
def gpc_cache_invalidate_small(ctx, pa, size):
    """``TLBI RPALOS`` for a range no larger than the smallest cached entry: in each size class
    the range lies in at most two blocks, and each can sit in one slot (direct-mapped). Returns
    the entries dropped."""
    nsets = ctx[C_NSETS]
    base = ctx[C_GTAGS_OFF]
    n = 0
    for c in range(N_CLASSES):
        shift = ctx[C_SHIFT + c]
        first = pa >> shift
        last = (pa + size - 1) >> shift
        for tag in range(first, last + 1):
            slot = base + c * nsets + (tag & (nsets - 1))
            if ctx[slot] == tag:
                ctx[slot] = -1
                n += 1
    return n
