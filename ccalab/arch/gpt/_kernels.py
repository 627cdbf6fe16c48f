"""Numba kernels for the granule protection check (Arm ARM K.a ``GranuleProtectionCheck``,
``GPTWalk``, ``GPICheck``). The readable twin is ``_reference.py``; tests hold them equal.

Result codes (one ``uint8`` per access): 0 means the access passes; otherwise the value is
``FAULT | GPCSC`` with GPCSC as ESR_EL3 reports it: AddressSize 0b00000L, Walk 0b00010L,
Fail 0b00110L, EABT 0b01010L (L = GPT level). GPT fetches are Root-PAS reads that are not
themselves checked; a fetch outside populated memory is a bus error (EABT). Memory is
read through an ``int64`` view, so every value in a kernel is a signed 64-bit integer.

GPC cache: five direct-mapped arrays, one per entry size (granule, 2MB, 32MB, 512MB and a
whole L0 region), tagged with ``PA >> size``. Only passing results are filled.
"""

from __future__ import annotations

from ..._jit import kernel, scalar

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


@kernel
def gpc_check_batch(pa, pas, out_code, out_gpi, mem64, reg_lo, reg_hi, enabled, consistent,
                    t, p, s, base, l0base, cache_tag, cache_gpi, cache_shift, use_cache, counters):
    """Check ``pa[i]`` in ``pas[i]`` (or ``pas[0]`` for all when ``pas`` has one element).

    Writes ``out_code[i]`` (0 or FAULT|GPCSC) and ``out_gpi[i]`` (the GPI used, or 0xFF when
    no GPT entry was consulted); adds to ``counters``; returns the number of faults.

    The loop body is written out in full (no array-taking helpers): a helper that receives
    arrays costs reference-count traffic per call, and numba's IR-level inlining produced code
    an order of magnitude slower than this form.
    """
    n = pa.shape[0]
    single = pas.shape[0] == 1
    nsets = cache_tag.shape[1]
    nreg = reg_lo.shape[0]
    l1_align_mask = (1 << (s - p - 1)) - 1
    l1_idx_mask = (1 << (s - p - 4)) - 1
    hits = 0
    misses = 0
    reads = 0
    faults = 0
    for i in range(n):
        a = pa[i]
        ps = pas[0] if single else pas[i]
        code = 0
        g = NO_GPI
        if not enabled:
            pass
        elif not consistent:
            code = FAULT | GPCSC_WALK
        elif a >> t:
            if ps != 1:
                code = FAULT | GPCSC_FAIL
        else:
            cached = False
            if use_cache:
                for c in range(N_CLASSES - 1, -1, -1):
                    tag = a >> cache_shift[c]
                    idx = tag & (nsets - 1)
                    if cache_tag[c, idx] == tag:
                        hits += 1
                        cached = True
                        g = cache_gpi[c, idx]
                        if not gpi_admits(g, ps):
                            code = FAULT | GPCSC_FAIL | (1 if c < C_L0 else 0)
                        break
                if not cached:
                    misses += 1
            if not cached:
                # --- GPTWalk -------------------------------------------------------------
                cls = 0
                level = 0
                if base >> t:
                    code = FAULT | GPCSC_ADDRESS_SIZE
                else:
                    a0 = l0base + 8 * ((a >> s) if t > s else 0)
                    ok = False
                    for r in range(nreg):
                        if a0 >= reg_lo[r] and a0 + 8 <= reg_hi[r]:
                            ok = True
                    if not ok:
                        code = FAULT | GPCSC_EABT
                    else:
                        reads += 1
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
                            if l1base & l1_align_mask:
                                code = FAULT | GPCSC_WALK
                            elif l1base >> t:
                                code = FAULT | GPCSC_ADDRESS_SIZE
                            else:
                                level = 1
                                a1 = l1base + 8 * ((a >> (p + 4)) & l1_idx_mask)
                                ok = False
                                for r in range(nreg):
                                    if a1 >= reg_lo[r] and a1 + 8 <= reg_hi[r]:
                                        ok = True
                                if not ok:
                                    code = FAULT | GPCSC_EABT | 1
                                else:
                                    reads += 1
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
                # --- GPICheck, then remember the entry --------------------------------------
                if code == 0:
                    if not gpi_admits(g, ps):
                        code = FAULT | GPCSC_FAIL | level
                    elif use_cache:
                        tag = a >> cache_shift[cls]
                        idx = tag & (nsets - 1)
                        cache_tag[cls, idx] = tag
                        cache_gpi[cls, idx] = g
        out_code[i] = code
        out_gpi[i] = g
        if code != 0:
            faults += 1
    counters[K_CHECKS] += n
    counters[K_HITS] += hits
    counters[K_MISSES] += misses
    counters[K_READS] += reads
    counters[K_FAULTS] += faults
    return faults
