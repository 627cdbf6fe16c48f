"""The RMM's numbers: building a realm with 256 MiB of measured DATA, the Python cost of one RMI
call, and a realm guest touching every page of its 256 MiB (stage 2, GPC and MEC on the path).

Everything is measured in one run, on the same machine state, each against its target:

* build: delegate every granule, REALM_CREATE, RTT_CREATE, DATA_CREATE with RMI_MEASURE_CONTENT
  of every page (SHA-256), REC_CREATE, REALM_ACTIVATE (target: under 3 s);
* RMI overhead: the mean time of a long run of calls (RMI_VERSION and RMI_RTT_READ_ENTRY, whose
  handlers do almost nothing, so what is measured is the SMC path: register checks, the
  monitor's forwarding, the dispatch table, the event log) (target: under 20 us); and the mean
  per call of the whole build, where each call also does its real work;
* touch: the "memtouch" guest stores to and then loads from every page of its RAM through the
  realm's stage-2 tables, the GPC and the encryption engine (target: under 1 s);
* the same touch done as one Python call per page, for comparison.

Run: ``.venv/bin/python benchmarks/bench_rmm.py [MiB]``.
"""

from __future__ import annotations

import sys
import time

from _common import best


def main() -> int:
    import ccalab
    from ccalab import Platform
    from ccalab.host import Host, RealmConfig

    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    ccalab.warmup()
    p = Platform(dram_size=max(1 << 30, (4 * mib) << 20))
    host = Host(p, record=False)
    cfg = RealmConfig(program="memtouch", ram_size=mib << 20, populate=True, measure=True)
    calls0 = p.rmm.calls
    t0 = time.perf_counter()
    realm = host.build_realm(cfg)
    build = time.perf_counter() - t0
    n_calls = p.rmm.calls - calls0

    n = 50_000
    ver = best(lambda: [p.smc(0xC400_0150, 0x10000) for _ in range(n)], repeat=3) / n
    rd = realm.rd
    read = best(lambda: [p.smc(0xC400_0161, rd, (i & 0xFFF) << 12, 3) for i in range(n)], repeat=3) / n

    t0 = time.perf_counter()
    report = realm.run()
    touch = time.perf_counter() - t0
    ok = realm.guest().notes.get("checksum_ok")

    # the same pages, one translation and one access per Python call (PE.translate + engine)
    from ccalab.firmware.rmm.realm_exec import RealmExec

    ex = RealmExec(p.rmm, p.rmm.realms[rd], p.rmm.recs[realm.recs[0]], {"flags": 0})
    ex._load_pe()
    pages = min(mib * 256, 4096)
    t0 = time.perf_counter()
    for i in range(pages):
        ex._access_one(i << 12, 8, False)
    per_page = (time.perf_counter() - t0) / pages
    ex._restore_pe()

    print(f"realm of {mib} MiB ({mib * 256} pages of measured DATA), {n_calls} RMI calls to build:")
    print(f"  build + activate: {build:.2f} s  (target 3 s: {build / 3:.2f}x of it), "
          f"{build / n_calls * 1e6:.1f} us per call including its work")
    print(f"  RMI_VERSION:        {ver * 1e6:.1f} us per call  (target 20 us: {ver / 20e-6:.2f}x of it)")
    print(f"  RMI_RTT_READ_ENTRY: {read * 1e6:.1f} us per call  (a 4-level RTT walk)")
    print(f"  guest touches every page twice (store, then load): {touch:.3f} s (target 1 s: {touch:.2f}x), "
          f"checksum {'ok' if ok else 'WRONG'}; {report.stopped}")
    print(f"  one Python call per page instead: {per_page * 1e6:.1f} us per page -> "
          f"{per_page * mib * 256 * 2:.2f} s for the same work ({per_page * mib * 256 * 2 / touch:.0f}x slower)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
