"""The numba GPC kernel against its pure-Python twin, over every PPS x PGS x L0GPTSZ.

Each case builds a deliberately messy GPT in a small memory image (valid and malformed L0 and
L1 descriptors, reserved GPIs, tables outside memory, contiguous blocks) and checks a stream of
random accesses (below and above the PPS, in every PAS) through both implementations, with and
without the GPC cache, comparing every result code, GPI and counter.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ccalab.arch.gpt import _kernels as gk
from ccalab.arch.gpt import _reference as ref
from ccalab.arch.context import new_context, set_gpc_config
from ccalab.arch.gpt.cache import GPCCache
from ccalab.arch.gpt.config import GPCConfig, L0GPTSZ_ENCODING, PGS_ENCODING, PPS_ENCODING
from ccalab.arch.gpt.descriptors import l0_block, l0_table, l1_contiguous, l1_granules
from ccalab.arch.memory import MemoryRegion, PhysicalMemory
from ccalab.arch.sysreg import GPCCR_EL3

MEM_BASE = 0x4000_0000
MEM_SIZE = 256 << 20
VALID = [0, 8, 9, 10, 11, 15]


def build_case(t, p, s, seed):
    rng = np.random.default_rng(seed)
    gpccr = GPCCR_EL3.encode(PPS=PPS_ENCODING[t], PGS=PGS_ENCODING[1 << p], SH=3, IRGN=1, ORGN=1,
                             L0GPTSZ=L0GPTSZ_ENCODING[s], GPC=1)
    mem = PhysicalMemory([MemoryRegion("dram", MEM_BASE, MEM_SIZE, "dram")])
    l1_size = 1 << (s - p - 1)
    l0_entries = 1 << max(t - s, 0)
    l0_base = MEM_BASE + (128 << 20)  # aligned for every L0 table size here (<= 2MB)
    cfg = GPCConfig.from_registers(gpccr, l0_base >> 12, 48)
    # L1 tables: up to two real ones inside memory (64MB max each), placed from MEM_BASE.
    n_tables = 2 if l1_size <= (64 << 20) else 1
    l1_addrs = [MEM_BASE + k * max(l1_size, 4096) for k in range(n_tables) if (k + 1) * l1_size <= (128 << 20)]
    for a in l1_addrs:
        mem.words[a >> 3:(a + l1_size) >> 3] = np.uint64(l1_granules([9] * 16)).view(np.int64)
    # L0 entries: mostly blocks, some tables (good and bad), some malformed.
    l0 = np.empty(l0_entries, dtype=np.int64)
    choices = rng.integers(0, 10, l0_entries)
    for i in range(l0_entries):
        c = choices[i]
        if c < 4:
            l0[i] = l0_block(rng.choice(VALID))
        elif c < 7 and l1_addrs:
            l0[i] = l0_table(l1_addrs[i % len(l1_addrs)])
        elif c == 7:
            l0[i] = l0_block(rng.integers(0, 16))  # maybe reserved GPI
        elif c == 8:
            l0[i] = int(rng.integers(0, 1 << 62))  # garbage
        else:
            bad = [l1_addrs[0] + 4096 if l1_addrs and l1_size > 4096 else MEM_BASE + 4096,  # misaligned
                   (1 << 47) & ~(l1_size - 1),  # beyond memory (EABT) or beyond PPS (address size)
                   MEM_BASE + MEM_SIZE + (64 << 30)]
            l0[i] = l0_table(bad[int(rng.integers(0, len(bad)))] & ((1 << 52) - 1) & ~0xFFF)
    mem.words[l0_base >> 3:(l0_base >> 3) + l0_entries] = l0
    # Accesses: biased towards table-mapped regions so the L1 paths are exercised.
    n = 3000
    table_idx = [i for i in range(l0_entries) if (l0[i] & 0xF) == 3]
    pas_ = []
    for k in range(n):
        r = rng.random()
        if r < 0.1:
            pa = int(rng.integers(0, 1 << 48))  # anywhere, often above the PPS
        elif r < 0.7 and table_idx:
            i = int(rng.choice(table_idx))
            pa = (i << s) + int(rng.integers(0, 1 << s))
        else:
            pa = int(rng.integers(0, 1 << t))
        pas_.append(pa)
    pa_arr = np.array(pas_, dtype=np.int64)
    # L1 words the accesses hit: make them interesting.
    for pa in pa_arr[:1500]:
        if pa >> t:
            continue
        d0 = int(l0[(pa >> s) if t > s else 0]) & 0xFFFF_FFFF_FFFF_FFFF
        if d0 & 0xF != 3:
            continue
        addr = (d0 & 0x000F_FFFF_FFFF_F000) + 8 * ((pa >> (p + 4)) & ((1 << (s - p - 4)) - 1))
        if not mem.is_backed(addr, 8):
            continue
        c = rng.integers(0, 6)
        if c < 3:
            word = l1_granules(rng.choice(VALID, 16))
        elif c == 3:
            word = l1_contiguous(int(rng.choice(VALID)), int(rng.choice([2 << 20, 32 << 20, 512 << 20])))
        elif c == 4:
            word = l1_granules(rng.integers(0, 16, 16))  # likely a reserved nibble
        else:
            word = (int(rng.integers(0, 4)) << 8) | (int(rng.integers(0, 16)) << 4) | 1 | (int(rng.integers(0, 2)) << 12)
        mem.write64(int(addr), word)
    pas_arr = rng.integers(0, 4, n).astype(np.int64)
    return cfg, mem, pa_arr, pas_arr


def make_cache(cfg, mem, sets=16):
    ctx = new_context(mem.backed_lo, mem.backed_hi, 48, sets)
    set_gpc_config(ctx, cfg)
    return GPCCache(cfg.p, cfg.s, sets, ctx=ctx)


def run_kernel(cfg, mem, pa, pas, cache):
    set_gpc_config(cache.ctx, cfg)
    code = np.empty(pa.size, np.uint8)
    gpi = np.empty(pa.size, np.uint8)
    gk.gpc_check_batch(pa, pas, code, gpi, mem.words, cache.ctx)
    return code, gpi


def run_reference(cfg, mem, pa, pas, cache):
    codes, gpis = [], []
    arrays = cache.arrays if cache.enabled else None
    for a, ps in zip(pa.tolist(), pas.tolist()):
        c, g = ref.gpc_check(a, ps, cfg, mem.read64, arrays, cache.counters)
        codes.append(c)
        gpis.append(g)
    return np.array(codes, np.uint8), np.array(gpis, np.uint8)


COMBOS = list(itertools.product(sorted(PPS_ENCODING), (12, 14, 16), (30, 34, 36, 39)))


@pytest.mark.parametrize("t,p,s", COMBOS, ids=[f"pps{t}-pgs{1 << p >> 10}K-l0gptsz{s}" for t, p, s in COMBOS])
@pytest.mark.parametrize("use_cache", [False, True], ids=["nocache", "cache"])
def test_kernel_matches_reference_twin(t, p, s, use_cache):
    cfg, mem, pa, pas = build_case(t, p, s, seed=t * 1000 + p * 10 + s)
    k_cache, r_cache = make_cache(cfg, mem), make_cache(cfg, mem)
    k_cache.enabled = r_cache.enabled = use_cache
    kc, kg = run_kernel(cfg, mem, pa, pas, k_cache)
    rc, rg = run_reference(cfg, mem, pa, pas, r_cache)
    mismatch = np.nonzero((kc != rc) | (kg != rg))[0]
    assert mismatch.size == 0, (f"first mismatch at PA {int(pa[mismatch[0]]):#x} PAS {int(pas[mismatch[0]])}: "
                                f"kernel {kc[mismatch[0]]:#x}/{kg[mismatch[0]]:#x} "
                                f"reference {rc[mismatch[0]]:#x}/{rg[mismatch[0]]:#x}")
    assert (k_cache.counters == r_cache.counters).all()
    assert (k_cache.tags == r_cache.tags).all()
    # the messy tables must really exercise the fault classes, not just the happy path
    kinds = set((kc[kc != 0] & 0x3E).tolist())
    if cfg.l0_entries >= 16:  # a one-entry L0 table cannot hold every kind of mistake
        assert gk.GPCSC_FAIL in kinds and gk.GPCSC_WALK in kinds
        assert (kc == 0).any()


def test_inconsistent_registers_and_disabled_gpc():
    cfg, mem, pa, pas = build_case(40, 12, 30, seed=1)
    for gpccr, expect in ((GPCCR_EL3.encode(PPS=2, PGS=3, SH=3, IRGN=1, ORGN=1, GPC=1), 0x80 | gk.GPCSC_WALK),
                          (GPCCR_EL3.encode(PPS=2, SH=1, IRGN=1, ORGN=1, GPC=1), 0x80 | gk.GPCSC_WALK),
                          (GPCCR_EL3.encode(PPS=2, SH=3, IRGN=0, ORGN=0, GPC=1), 0x80 | gk.GPCSC_WALK),
                          (GPCCR_EL3.encode(PPS=7, SH=3, IRGN=1, ORGN=1, GPC=1), 0x80 | gk.GPCSC_WALK),
                          (GPCCR_EL3.encode(PPS=2, SH=3, IRGN=1, ORGN=1, GPC=0), 0)):
        c = GPCConfig.from_registers(gpccr, cfg.base >> 12, 48)
        kc, _ = run_kernel(c, mem, pa, pas, make_cache(cfg, mem))
        rc, _ = run_reference(c, mem, pa, pas, make_cache(cfg, mem))
        assert (kc == expect).all() and (rc == expect).all()
    # non-cacheable walks are consistent when outer shareable
    c = GPCConfig.from_registers(GPCCR_EL3.encode(PPS=2, SH=2, IRGN=0, ORGN=0, GPC=1), cfg.base >> 12, 48)
    assert c.consistent
    # a PPS beyond the implemented PA size is inconsistent
    assert not GPCConfig.from_registers(GPCCR_EL3.encode(PPS=5, SH=3, IRGN=1, ORGN=1, GPC=1), 0, 44).consistent


def test_above_pps_only_nonsecure_passes():
    cfg, mem, _, _ = build_case(32, 12, 30, seed=2)
    pa = np.full(4, 1 << 33, np.int64)
    pas = np.arange(4, dtype=np.int64)
    kc, kg = run_kernel(cfg, mem, pa, pas, make_cache(cfg, mem))
    assert kc.tolist() == [0x80 | gk.GPCSC_FAIL, 0, 0x80 | gk.GPCSC_FAIL, 0x80 | gk.GPCSC_FAIL]
    assert (kg == gk.NO_GPI).all()


def test_gpt_base_beyond_pps_is_an_address_size_fault():
    cfg, mem, _, _ = build_case(32, 12, 30, seed=3)
    c = GPCConfig.from_registers(GPCCR_EL3.encode(PPS=0, SH=3, IRGN=1, ORGN=1, GPC=1), (1 << 33) >> 12, 48)
    kc, _ = run_kernel(c, mem, np.array([0x1000], np.int64), np.array([1], np.int64), make_cache(cfg, mem))
    assert kc[0] == 0x80 | gk.GPCSC_ADDRESS_SIZE


@settings(max_examples=200, deadline=None)
@given(pa=st.integers(0, (1 << 48) - 1), t=st.sampled_from(sorted(PPS_ENCODING)),
       p=st.sampled_from([12, 14, 16]), s=st.sampled_from([30, 34, 36, 39]))
def test_index_math_matches_the_bit_fields(pa, t, p, s):
    gpccr = GPCCR_EL3.encode(PPS=PPS_ENCODING[t], PGS=PGS_ENCODING[1 << p], SH=3, IRGN=1, ORGN=1,
                             L0GPTSZ=L0GPTSZ_ENCODING[s], GPC=1)
    cfg = GPCConfig.from_registers(gpccr, 0, 48)
    bits = lambda hi, lo: (pa >> lo) & ((1 << (hi - lo + 1)) - 1) if hi >= lo else 0  # noqa: E731
    assert cfg.l0_index(pa) == bits(t - 1, s)
    assert cfg.l1_index(pa) == bits(s - 1, p + 4)
    assert cfg.gpi_index(pa) == bits(p + 3, p)
    assert cfg.l1_table_size == 8 * cfg.l1_entries == 1 << (s - p - 1)
