"""The numba translation kernels against the readable twin, over random machines.

Each case builds random stage-1 and stage-2 tables (blocks and pages, every permission bit,
invalid and reserved descriptors, tables beyond the output size or outside memory, tables in
granules of other worlds) for a random regime (Non-secure, Realm and Secure EL1&0 with and
without stage 2, Realm EL2, Root EL3) and translates random VAs for every access kind through
both implementations.
"""

import numpy as np
import pytest

from ccalab import Platform, SecurityState
from ccalab.arch.gpt._reference import gpc_check
from ccalab.arch.mmu import _reference as ref
from ccalab.arch.mmu.descriptors import TableBuilder, s1_leaf, s2_leaf
from ccalab.arch.mmu.faults import NO_FAULT
from ccalab.arch.sysreg import HCR_EL2, SCTLR_EL1, TCR_EL1, TCR_EL2, VTCR_EL2

MB = 1 << 20
DATA = 4 * MB  # output memory
SCENARIOS = [("ns-el1", SecurityState.NONSECURE, 1, False), ("ns-el0-s2", SecurityState.NONSECURE, 0, True),
             ("ns-el1-s2", SecurityState.NONSECURE, 1, True), ("realm-el1-s2", SecurityState.REALM, 1, True),
             ("realm-el0-s2", SecurityState.REALM, 0, True), ("realm-el2", SecurityState.REALM, 2, False),
             ("secure-el1", SecurityState.SECURE, 1, False), ("root-el3", SecurityState.ROOT, 3, False),
             ("ns-el2", SecurityState.NONSECURE, 2, False)]


def build(seed, state, el, stage2):
    rng = np.random.default_rng(seed)
    p = Platform(dram_size=512 << 20)
    pe = p.pe(0)
    pe.security_state = state
    if state != SecurityState.ROOT:
        pe.el = el
    ns = p.ns_dram().base
    s1_pool = ns + (64 + 8 * int(rng.integers(0, 4))) * MB
    s2_pool = ns + 128 * MB
    data = ns + 192 * MB
    if state == SecurityState.SECURE:  # Secure walks start in the Secure PAS
        s1_pool = p.region("Secure (TZC)").base
        data = s1_pool + 8 * MB
    elif state == SecurityState.ROOT:  # and EL3's in the Root PAS
        s1_pool = p.region("EL3 DRAM").base
    if state == SecurityState.REALM:  # realm tables and data live in delegated granules (mostly)
        for g in range(0, DATA, 4096):
            if rng.random() < 0.9:
                p.monitor.gtsi_delegate(data + g)
        for g in range(0, 2 * MB, 4096):
            if rng.random() < 0.97:
                p.monitor.gtsi_delegate(s1_pool + g)
            if stage2 and rng.random() < 0.97:
                p.monitor.gtsi_delegate(s2_pool + g)
    # --- stage 2 -------------------------------------------------------------------------
    if stage2:
        sl_choice = [(1, 40), (1, 39), (0, 44), (2, 30), (1, 42), (2, 33)]
        level, ia = sl_choice[int(rng.integers(0, len(sl_choice)))]
        if rng.random() < 0.08:
            ia = 48  # inconsistent with the start level: stage-2 translation fault at level 0
        roots = 1 << max(ia - (9 * (3 - level) + 21), 0)
        s2 = TableBuilder(p.memory, (s2_pool, 2 * MB), root_level=level, root_tables=roots, ia_bits=ia)
        # identity-map the stage-1 table pool (as 4K pages, a few left unmapped or read-only)
        for g in range(0, 2 * MB, 4096):
            r = rng.random()
            if r < 0.02:
                continue
            s2.map(s1_pool + g, s2_leaf(s1_pool + g, 3, read=r > 0.04, ns=bool(rng.random() < 0.02)), 3)
        # output IPAs [1GB, 1GB + 64MB) -> data, in 2MB blocks and 4KB pages
        for off in range(0, DATA, 2 * MB):
            ipa = (1 << 30) + off
            if ipa >> ia:
                break
            attrs = dict(read=rng.random() < 0.9, write=rng.random() < 0.7, xn=int(rng.integers(0, 4)),
                         af=rng.random() < 0.95, ns=bool(rng.random() < 0.2))
            if rng.random() < 0.5:
                s2.map(ipa, s2_leaf(data + off, 2, **attrs), 2)
            else:
                for k in range(0, 2 * MB, 4096):
                    s2.map(ipa + k, s2_leaf(data + off + k, 3, **attrs), 3)
        for _ in range(20):  # garbage: invalid, reserved, out-of-range and unbacked tables
            addr = s2.tables[int(rng.integers(0, len(s2.tables)))] + 8 * int(rng.integers(0, 512))
            p.memory.write64(addr, int(rng.choice([0, 1, 0b01, (1 << 47) | 3, (0x40_0000_0000) | 3,
                                                   int(rng.integers(0, 1 << 62))])))
        pe.set_sysreg("VTCR_EL2", VTCR_EL2.encode(T0SZ=64 - ia, SL0={2: 0, 1: 1, 0: 2, 3: 3}[level], PS=5))
        pe.set_sysreg("VTTBR_EL2", s2.root | (int(rng.integers(1, 255)) << 48))
        pe.set_sysreg("HCR_EL2", HCR_EL2.encode(VM=1))
        out_base = 1 << 30
    else:
        out_base = data
    # --- stage 1 ---------------------------------------------------------------------------
    t0sz = int(rng.choice([16, 25, 30, 33, 39, 12, 45]))  # 12 and 45 are out of range: clamped
    ia1 = 64 - min(max(t0sz, 16), 39)
    root_level = 3 - ((ia1 - 1 - 12) // 9)
    s1 = TableBuilder(p.memory, (s1_pool, 2 * MB), root_level=root_level, ia_bits=ia1)
    vas = []
    span = min(1 << ia1, 1 << 31)
    for _ in range(60):
        va = int(rng.integers(0, span >> 12)) << 12
        lvl = int(rng.choice([1, 2, 3, 3, 3])) if root_level <= 1 else int(rng.choice([max(root_level, 2), 3]))
        lvl = max(lvl, root_level if root_level > 0 else 1)
        size = 1 << (12 + 9 * (3 - lvl))
        va &= ~(size - 1)
        oa = out_base + (int(rng.integers(0, DATA // size)) * size if size <= DATA else 0)
        if size > DATA:
            oa = out_base & ~(size - 1)
        attrs = dict(ap=int(rng.integers(0, 4)), af=rng.random() < 0.95, uxn=rng.random() < 0.3,
                     pxn=rng.random() < 0.3, ns=rng.random() < 0.3, ng=rng.random() < 0.5)
        if state == SecurityState.ROOT:
            attrs["nse"] = rng.random() < 0.5
        tattrs = dict(ap_table=int(rng.integers(0, 4)) if rng.random() < 0.1 else 0,
                      ns_table=rng.random() < 0.1, uxn_table=rng.random() < 0.1, pxn_table=rng.random() < 0.1)
        s1.map(va, s1_leaf(oa, lvl, **attrs), lvl, table_attrs=tattrs)
        vas.extend([va + int(rng.integers(0, size)) for _ in range(5)])
    for _ in range(15):
        addr = s1.tables[int(rng.integers(0, len(s1.tables)))] + 8 * int(rng.integers(0, 512))
        p.memory.write64(addr, int(rng.choice([0, 1, (1 << 46) | 3, int(rng.integers(0, 1 << 62))])))
    vas += [int(rng.integers(0, 1 << 64, dtype=np.uint64)) for _ in range(40)]
    vas += [(1 << 64) - 4096 * int(rng.integers(1, 100)) for _ in range(10)]  # TTBR1 half
    vas += [out_base + int(rng.integers(0, DATA)) for _ in range(20)]  # what an MMU-off access would use
    if state == SecurityState.ROOT:
        pe.set_sysreg("TCR_EL3", TCR_EL2.encode(T0SZ=t0sz & 63, PS=5))
        pe.set_sysreg("TTBR0_EL3", s1.root)
        pe.set_sysreg("SCTLR_EL3", SCTLR_EL1.encode(M=1, WXN=int(rng.random() < 0.3)))
    elif el == 2:
        pe.set_sysreg("TCR_EL2", TCR_EL2.encode(T0SZ=t0sz & 63, PS=5))
        pe.set_sysreg("TTBR0_EL2", s1.root)
        pe.set_sysreg("SCTLR_EL2", SCTLR_EL1.encode(M=1, WXN=int(rng.random() < 0.3)))
    else:
        pe.set_sysreg("TCR_EL1", TCR_EL1.encode(T0SZ=t0sz & 63, T1SZ=25, TG1=2, IPS=5, EPD1=int(rng.random() < 0.5)))
        pe.set_sysreg("TTBR0_EL1", s1.root | (int(rng.integers(0, 256)) << 48))
        pe.set_sysreg("TTBR1_EL1", s1.root)
        pe.set_sysreg("SCTLR_EL1", SCTLR_EL1.encode(M=int(rng.random() < 0.9), WXN=int(rng.random() < 0.3)))
    return p, pe, vas


def twin(p, pe, va, access):
    cfg = p.gpc_config
    pa, pas, word, ipa, _ = ref.translate(pe.regime, va, access, p.memory,
                                          lambda a, s: gpc_check(a, s, cfg, p.memory.read64), pamax=p.pamax)
    return pa, (-1 if pas is None else int(pas)), word, (-1 if ipa is None else ipa)


@pytest.mark.parametrize("name,state,el,stage2", SCENARIOS, ids=[s[0] for s in SCENARIOS])
@pytest.mark.parametrize("seed", range(4))
def test_kernel_matches_twin(name, state, el, stage2, seed):
    p, pe, vas = build(seed * 101 + len(name), state, el, stage2)
    pe.tlb_enabled = False
    pe.walk_cache_enabled = False
    for access_name, access in (("read", ref.READ), ("write", ref.WRITE), ("exec", ref.EXEC)):
        k_pa, k_pas, k_fault, k_ipa = pe.translate_batch_full(vas, access_name)
        for i, va in enumerate(vas):
            t = twin(p, pe, va, access)
            k = (int(k_pa[i]), int(k_pas[i]), int(k_fault[i]), int(k_ipa[i]))
            assert k == t, f"{name} VA {va:#x} {access_name}: kernel {k} twin {t}"


@pytest.mark.parametrize("name,state,el,stage2", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_the_random_machines_reach_successes_and_many_fault_kinds(name, state, el, stage2):
    """The comparison above is only worth something if the cases exercise many outcomes."""
    seen = set()
    for seed in range(4):
        p, pe, vas = build(seed * 101 + len(name), state, el, stage2)
        for access in ("read", "write", "exec"):
            _, _, fault, _ = pe.translate_batch_full(vas, access)
            seen |= {0 if f == NO_FAULT else (int(f) >> 11) & 0xF for f in fault}
    assert 0 in seen and len(seen) >= 4, seen


@pytest.mark.parametrize("name,state,el,stage2", SCENARIOS, ids=[s[0] for s in SCENARIOS])
@pytest.mark.parametrize("seed", range(3))
def test_tlb_and_walk_cache_change_no_result(name, state, el, stage2, seed):
    p, pe, vas = build(7 + seed * 13 + len(name), state, el, stage2)
    stream = np.array(vas * 3, dtype=np.uint64)
    pe.tlb_enabled = pe.walk_cache_enabled = False
    cold = pe.translate_batch_full(stream, "read")
    pe.tlb_enabled = pe.walk_cache_enabled = True
    warm = pe.translate_batch_full(stream, "read")
    for a, b in zip(cold[:3], warm[:3]):
        assert (a == b).all()
    if (cold[2] == NO_FAULT).any():
        assert pe.counters["tlb_hits"] > 0
