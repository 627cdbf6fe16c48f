"""Reference solution for labs/01-pas-layout.ipynb (instructors and CI only).

``solve(seed)`` builds the PAS layout for the exercise machine of ``seed`` the way a TF-A
platform port lists its ``plat_pas_regions``: each carve-out with its owner's GPI, and the rest
of every DRAM bank Non-secure, all with ``mapping="granule"``.
"""

from ccalab.course.lab01 import GPI, PASRegion, make_exercise


def solve(seed: int = 0) -> list:
    ex = make_exercise(seed)
    owner_gpi = {"GPT area": GPI.ROOT, "EL3 data": GPI.ROOT, "RMM carve-out": GPI.REALM,
                 "Secure carve-out": GPI.SECURE}
    regions = []
    for bank in ex.banks:
        cur = bank.base
        for c in ex.carveouts:
            if not bank.base <= c.base < bank.end:
                continue
            if c.base > cur:
                regions.append(PASRegion(f"Non-secure {bank.name}", cur, c.base - cur, GPI.NONSECURE))
            regions.append(PASRegion(c.name, c.base, c.size, owner_gpi[c.name]))
            cur = c.end
        if cur < bank.end:
            regions.append(PASRegion(f"Non-secure {bank.name}", cur, bank.end - cur, GPI.NONSECURE))
    return regions


if __name__ == "__main__":
    from ccalab.course.lab01 import check

    for s in range(10):
        print(s, check(solve(s), seed=s).passed)
