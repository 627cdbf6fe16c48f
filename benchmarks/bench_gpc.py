"""Benchmark for the foundation: batched GPC throughput, kernel vs twin, import/warm-up, big machines.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_gpc.py``. Every ratio is measured side by
side in this one run; each figure is the best of several repeats.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from _common import ROOT, best





def in_fresh_python(code: str, env=None) -> str:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT, env=e).stdout.strip()


def main() -> int:
    import ccalab
    from ccalab import PAS
    from ccalab.arch.gpt import _reference as ref

    ccalab.warmup()
    results = {}
    p = ccalab.Platform()
    rng = np.random.default_rng(2026)
    n = 10_000_000
    cases = {
        "random PA over the whole 1 TB PPS": rng.integers(0, 1 << 40, n),
        "random PA inside the 2 GiB of DRAM": rng.integers(0x8000_0000, 0x1_0000_0000, n),
    }
    print(f"Batched granule protection checks ({n:,} accesses per call, Non-secure PAS, GPC cache on, "
          f"{p.gpc_cache.sets} sets per size class)")
    for name, pa in cases.items():
        p.gpc_check_batch(PAS.NONSECURE, pa[:1000])
        dt = best(lambda: p.gpc_check_batch(PAS.NONSECURE, pa))
        p.gpc_cache.enabled = False
        dt_nc = best(lambda: p.gpc_check_batch(PAS.NONSECURE, pa))
        p.gpc_cache.enabled = True
        results[name] = (n / dt, n / dt_nc)
        print(f"  {name:<40} {n / dt / 1e6:8.1f} M checks/s   (GPC cache off: {n / dt_nc / 1e6:.1f} M/s)")

    # the twin on the same table and the same kind of addresses (fewer of them: it is slow)
    m = 20_000
    pa = cases["random PA inside the 2 GiB of DRAM"][:m]
    cfg, read64 = p.gpc_config, p.memory.read64
    ps = int(PAS.NONSECURE)

    def twin():
        for a in pa.tolist():
            ref.gpc_check(a, ps, cfg, read64)

    dt_twin = best(twin, repeat=3)
    p.gpc_cache.enabled = False
    dt_kernel = best(lambda: p.gpc_check_batch(PAS.NONSECURE, pa), repeat=20)
    p.gpc_cache.enabled = True
    twin_rate, kern_rate = m / dt_twin, m / dt_kernel
    big_rate = results["random PA inside the 2 GiB of DRAM"][1]
    print(f"\nKernel vs pure-Python twin, same table, same {m:,} DRAM addresses, no GPC cache (both walk every time)")
    print(f"  twin   {twin_rate / 1e6:10.3f} M checks/s")
    print(f"  kernel {kern_rate / 1e6:10.1f} M checks/s in a {m:,}-access batch  -> {kern_rate / twin_rate:,.0f}x")
    print(f"  kernel {big_rate / 1e6:10.1f} M checks/s in a {n:,}-access batch -> {big_rate / twin_rate:,.0f}x")

    # import and warm-up, each in a fresh interpreter
    imp = min(float(in_fresh_python("import time; t=time.perf_counter(); import ccalab; print(time.perf_counter()-t)"))
              for _ in range(5))
    warm = min(float(in_fresh_python("import ccalab; print(ccalab.warmup())")) for _ in range(3))
    with tempfile.TemporaryDirectory() as cold_dir:
        cold = float(in_fresh_python("import ccalab; print(ccalab.warmup())", env={"NUMBA_CACHE_DIR": cold_dir}))
    print("\nStart-up (fresh interpreter each time)")
    print(f"  import ccalab                 {imp:6.3f} s")
    print(f"  ccalab.warmup(), warm caches  {warm:6.3f} s")
    print(f"  ccalab.warmup(), cold caches  {cold:6.3f} s")

    # a 64 GiB machine: construction time and resident memory it adds
    code = (
        "import time, json, ccalab\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096\n"
        "ccalab.warmup(); r0 = rss(); t = time.perf_counter()\n"
        "p = ccalab.Platform(dram_size=64 << 30)\n"
        "dt = time.perf_counter() - t\n"
        "print(json.dumps([dt, rss() - r0, rss(), p.memory.resident_bytes()]))\n"
    )
    dt64, drss, rss, touched = json.loads(in_fresh_python(code))
    print("\nA 64 GiB machine")
    print(f"  Platform(dram_size=64 GiB)   {dt64:6.3f} s, +{drss / 2**20:.1f} MiB resident "
          f"({rss / 2**20:.0f} MiB for the whole process; {touched / 2**20:.1f} MiB of simulated DRAM touched)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
