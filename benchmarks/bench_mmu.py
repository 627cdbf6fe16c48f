"""Address translation throughput: TLB hits, single- and two-stage walks, batch vs per-call,
each against the readable twin on the same tables, in one run.

Run: ``.venv/bin/python benchmarks/bench_mmu.py``. Best of several repeats.
"""

from __future__ import annotations

import sys

import numpy as np

from _common import best



def single_stage(pages: int):
    """A Non-secure EL1 guest without stage 2: ``pages`` 4KB pages, 4-level stage 1."""
    from ccalab import Platform
    from ccalab.arch.mmu.descriptors import TableBuilder, s1_leaf
    from ccalab.arch.sysreg import SCTLR_EL1, TCR_EL1

    p = Platform(dram_size=1 << 30)
    pe = p.pe(0)
    ns = p.ns_dram().base
    s1 = TableBuilder(p.memory, (ns + (64 << 20), 8 << 20), root_level=0, ia_bits=48)
    va0 = 0x0000_0040_0000_0000
    for i in range(pages):
        s1.map(va0 + i * 4096, s1_leaf(ns + (128 << 20) + i * 4096, 3, ap=1), 3)
    pe.set_sysreg("TCR_EL1", TCR_EL1.encode(T0SZ=16, TG1=2, IPS=5, EPD1=1))
    pe.set_sysreg("TTBR0_EL1", s1.root)
    pe.set_sysreg("SCTLR_EL1", SCTLR_EL1.encode(M=1))
    return p, pe, va0


def two_stage(pages: int):
    from ccalab.scenarios import two_stage_guest

    g = two_stage_guest(pages=pages)
    return g.platform, g.pe, g.va


def twin_rate(p, pe, vas, repeat=2):
    from ccalab.arch.gpt._reference import gpc_check
    from ccalab.arch.mmu import _reference as ref

    cfg = p.gpc_config
    gpc = lambda a, s: gpc_check(a, s, cfg, p.memory.read64)  # noqa: E731
    rg = pe.regime

    def run():
        for v in vas.tolist():
            ref.translate(rg, v, ref.READ, p.memory, gpc, pamax=p.pamax)

    return len(vas) / best(run, repeat)


def main() -> int:
    import ccalab

    ccalab.warmup()
    rng = np.random.default_rng(3)
    n = 2_000_000
    rows = []

    # TLB hits: 512 pages fit the 1024-entry TLB; an access trace of 64 Ki addresses per call
    p, pe, va0 = two_stage(512)
    vas = (va0 + rng.integers(0, 512, n) * 4096 + rng.integers(0, 4096, n)).astype(np.uint64)
    pe.translate_batch(vas)
    chunks = [vas[i:i + 65536] for i in range(0, n, 65536)]

    def hits():
        for c in chunks:
            pe.translate_batch_full(c)

    k = n / best(hits)
    assert pe.counters["tlb_hits"] > n
    t = twin_rate(p, pe, vas[:5000])
    rows.append(("TLB hits (two-stage guest, GPT information cached in the TLB)", k, t))

    # random single-stage walks: TLB off, so every access walks (4 reads + 5 GPC checks)
    p, pe, va0 = single_stage(8192)
    vas = (va0 + rng.integers(0, 8192, n) * 4096).astype(np.uint64)
    pe.tlb_enabled = False
    pe.translate_batch(vas[:10])
    k = n / best(lambda: pe.translate_batch_full(vas))
    t = twin_rate(p, pe, vas[:5000])
    rows.append(("random single-stage walks, GPC on every access", k, t))

    # random two-stage walks: TLB off, walk cache on (stage-2 translations of stage-1 tables)
    p, pe, va0 = two_stage(4096)
    vas = (va0 + rng.integers(0, 4096, n) * 4096).astype(np.uint64)
    pe.tlb_enabled = False
    pe.translate_batch(vas[:10])
    pe.reset_counters()
    k = n / best(lambda: pe.translate_batch_full(vas), repeat=3)
    c = pe.counters
    t = twin_rate(p, pe, vas[:2000])
    rows.append(("random two-stage walks, GPC on every fetch, walk cache on", k, t))

    print(f"{'':62} {'kernel':>12} {'twin':>12} {'ratio':>8}")
    for name, kr, tr in rows:
        print(f"{name:62} {kr / 1e6:9.1f} M/s {tr / 1e6:9.4f} M/s {kr / tr:7.0f}x")
    print(f"  (two-stage: walk-cache hits {c['walk_cache_hits']:,}, misses {c['walk_cache_misses']:,}, "
          f"stage-2 reads {c['s2_reads']:,} for {c['walks']:,} walks)")

    # the batched API against one Python call per access (same kernel, same tables)
    p, pe, va0 = two_stage(512)
    vas = (va0 + rng.integers(0, 512, 20000) * 4096).astype(np.uint64)
    pe.translate_batch(vas)
    batch = len(vas) / best(lambda: pe.translate_batch_full(vas))

    def one_by_one():
        for v in vas.tolist():
            pe.translate_batch_full([v])

    single = len(vas) / best(one_by_one, repeat=3)
    print(f"\nbatched translate_batch vs one call per access (TLB hits): {batch / 1e6:.1f} M/s vs "
          f"{single / 1e6:.3f} M/s -> {batch / single:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
