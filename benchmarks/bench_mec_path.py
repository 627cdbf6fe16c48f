"""Memory encryption on the memory path: page-granular writes and reads through the engine,
against the raw cipher on the same buffer size, in one run.

Run: ``.venv/bin/python benchmarks/bench_mec_path.py``.
"""

from __future__ import annotations

import sys

import numpy as np

from _common import best


def main() -> int:
    import ccalab
    from ccalab import PAS
    from ccalab.arch.mec import xts

    ccalab.warmup()
    size = 64 << 20
    p = ccalab.Platform(dram_size=1 << 30)
    base = p.ns_dram().base + (128 << 20)
    data = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    p.phys_write(base, data, PAS.NONSECURE)  # touch the pages once

    sched = xts.xts_key_schedule(bytes(range(32)))
    units = np.frombuffer(data, np.uint8).reshape(-1, 4096)
    out = np.empty_like(units)
    tweaks = np.arange(units.shape[0], dtype=np.uint64)
    raw = size / best(lambda: xts.xts_encrypt_units(sched, units, tweaks, out))

    write = size / best(lambda: p.phys_write(base, data, PAS.NONSECURE))

    def refetch_read():
        p.mec.clean_invalidate(base, size)
        p.phys_read(base, size, PAS.NONSECURE)

    read = size / best(refetch_read)
    print(f"XTS-AES-128, 64 MiB in 4 KiB data units, back end {xts.backend()}")
    print(f"  raw cipher (xts_encrypt_units)                       {raw / 1e9:6.2f} GB/s")
    print(f"  phys_write through the engine (encrypt on the way)   {write / 1e9:6.2f} GB/s  -> {write / raw:.2f}x raw")
    print(f"  clean+invalidate, then phys_read (refetch, decrypt)  {read / 1e9:6.2f} GB/s  -> {read / raw:.2f}x raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
