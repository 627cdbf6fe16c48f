import pytest

from ccalab import GPI, PAS, Platform, SecurityState
from ccalab.arch.gpt.builder import contig_size_of
from ccalab.firmware.monitor import (E_RMM_BAD_ADDR, E_RMM_BAD_PAS, E_RMM_OK, EINVAL, EPERM, RMM_GTSI_DELEGATE,
                                     RMM_GTSI_UNDELEGATE, SMC_UNKNOWN, TRANSITION_POLICY, cipapa_operand,
                                     rpalos_operand)

NS_GRANULE = 0x8012_3000


@pytest.fixture(scope="module")
def booted():
    return Platform(dram_size=512 << 20)


@pytest.fixture
def p():
    return Platform(dram_size=512 << 20)


def test_boot_programs_gpccr_like_tf_a(booted):
    from ccalab.arch.sysreg import GPCCR_EL3

    f = GPCCR_EL3.decode(booted.sysreg("GPCCR_EL3"))
    assert (f["GPC"], f["SH"], f["IRGN"], f["ORGN"], f["PPS"], f["PGS"], f["L0GPTSZ"]) == (1, 3, 1, 1, 2, 0, 0)
    assert booted.sysreg("GPTBR_EL3") << 12 == booted.monitor.l0_base
    kinds = [e.kind for e in booted.events]
    # gpt_enable: GPTBR, GPCCR (GPC=0), TLBI PAALLOS, GPCCR (GPC=1), TLBI PAALLOS
    assert kinds[2:7] == ["sysreg.write", "sysreg.write", "tlbi.paallos", "sysreg.write", "tlbi.paallos"]


def test_boot_gpt_matches_the_pas_regions(booted):
    for r in booted.pas_regions:
        for pa in (r.base, r.base + r.size // 2, r.end - booted.granule_size):
            assert booted.gpi(pa) == r.gpi, r.name
    assert booted.gpi(0x1C09_0000) == GPI.ANY  # MMIO keeps the L0 default
    # L0 blocks outside DRAM, tables where DRAM is, contiguous descriptors where aligned
    steps = booted.gpt_walk(0x0)
    assert len(steps) == 1 and "block" in steps[0].text
    steps = booted.gpt_walk(0x8000_0000)
    assert len(steps) == 2 and contig_size_of(steps[1].descriptor) == 32 << 20  # 448 MiB of NS DRAM: 32MB blocks


def test_delegate_then_undelegate_round_trip(p):
    assert p.monitor.gtsi_delegate(NS_GRANULE) == E_RMM_OK
    assert p.gpi(NS_GRANULE) == GPI.REALM
    assert p.gpi(NS_GRANULE + 0x1000) == GPI.NONSECURE
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE).kind.name == "FAIL"
    assert p.gpc_check(NS_GRANULE, PAS.REALM) is None
    assert p.monitor.gtsi_undelegate(NS_GRANULE) == E_RMM_OK
    assert p.gpi(NS_GRANULE) == GPI.NONSECURE
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is None


def test_delegate_follows_tf_a_order(p):
    start = p.events.next_seq
    p.monitor.gtsi_delegate(NS_GRANULE)
    kinds = [e.kind for e in p.events.since(start)]
    core = [k for k in kinds if k in ("dc.cipapa", "gpt.write", "tlbi.rpalos", "dsb")]
    # shatter (TLBI + DSB) first, then CIPAPA(target), write, DSB, TLBI, DSB, CIPAPA(source)
    assert core == ["tlbi.rpalos", "dsb", "dc.cipapa", "gpt.write", "dsb", "tlbi.rpalos", "dsb", "dc.cipapa"]
    seq = [e for e in p.events.since(start) if e.kind in ("dc.cipapa", "gpt.write")]
    assert [e.kind for e in seq] == ["dc.cipapa", "gpt.write", "dc.cipapa"]
    assert seq[0].data["pas"] == PAS.REALM and seq[2].data["pas"] == PAS.NONSECURE
    assert seq[0].data["operand"] == cipapa_operand(NS_GRANULE, PAS.REALM) == NS_GRANULE | (3 << 62)


def test_undelegate_passes_through_no_access(p):
    p.monitor.gtsi_delegate(NS_GRANULE)
    start = p.events.next_seq
    p.monitor.gtsi_undelegate(NS_GRANULE)
    writes = [e.data["gpi"] for e in p.events.since(start) if e.kind == "gpt.write"]
    assert writes == [GPI.NO_ACCESS, GPI.NONSECURE]
    between = [e.kind for e in p.events.since(start)]
    first, second = [i for i, k in enumerate(between) if k == "gpt.write"]
    assert "tlbi.rpalos" in between[first:second]  # invalidated before the new GPI is relied on


def test_shatter_then_fuse_restores_the_contiguous_block(p):
    addr = p.monitor._l1_word_addr(NS_GRANULE)
    before = p.memory.read64(addr)
    assert contig_size_of(before) == 32 << 20
    p.monitor.gtsi_delegate(NS_GRANULE)
    assert contig_size_of(p.memory.read64(addr)) is None  # granules word now
    # 511 other granules of the 2MB block are unchanged
    base2m = NS_GRANULE & ~((2 << 20) - 1)
    gpis = p.granule_gpis(base2m, base2m + (2 << 20))
    assert (gpis == GPI.REALM).sum() == 1 and (gpis == GPI.NONSECURE).sum() == 511
    near = base2m + (4 << 20)  # another 2MB block of the shattered 32MB block: a 2MB descriptor now
    assert contig_size_of(p.memory.read64(p.monitor._l1_word_addr(near))) == 2 << 20
    far = 0x8000_0000 + (100 << 20)  # another 32MB block: untouched
    assert contig_size_of(p.memory.read64(p.monitor._l1_word_addr(far))) == 32 << 20
    shatter = p.events.of_kind("gpt.shatter")[-1]
    assert shatter.data["size"] == 32 << 20
    rp = [e for e in p.events.of_kind("tlbi.rpalos") if e.data["size"] == 32 << 20]
    assert rp and rp[-1].data["operand"] == rpalos_operand(0x8000_0000, 32 << 20)
    p.monitor.gtsi_undelegate(NS_GRANULE)
    assert p.memory.read64(addr) == before
    assert [e.data["size"] for e in p.events.of_kind("gpt.fuse")][-2:] == [2 << 20, 32 << 20]


def test_shatter_of_a_512mb_block_on_the_default_machine():
    p = Platform()  # 2 GiB: the first 512MB of DRAM is one 512MB contiguous descriptor
    addr = p.monitor._l1_word_addr(NS_GRANULE)
    before = p.memory.read64(addr)
    assert contig_size_of(before) == 512 << 20
    p.monitor.gtsi_delegate(NS_GRANULE)
    assert p.events.of_kind("gpt.shatter")[-1].data["size"] == 512 << 20
    assert contig_size_of(p.memory.read64(p.monitor._l1_word_addr(0x8000_0000 + (256 << 20)))) == 32 << 20
    p.monitor.gtsi_undelegate(NS_GRANULE)
    assert p.memory.read64(addr) == before
    assert [e.data["size"] for e in p.events.of_kind("gpt.fuse")][-3:] == [2 << 20, 32 << 20, 512 << 20]


@pytest.mark.parametrize("caller,src,dst,allowed", [
    (SecurityState.REALM, GPI.NONSECURE, GPI.REALM, True),
    (SecurityState.REALM, GPI.REALM, GPI.NONSECURE, True),
    (SecurityState.SECURE, GPI.NONSECURE, GPI.SECURE, True),
    (SecurityState.SECURE, GPI.SECURE, GPI.NONSECURE, True),
    (SecurityState.NONSECURE, GPI.NONSECURE, GPI.REALM, False),
    (SecurityState.REALM, GPI.NONSECURE, GPI.SECURE, False),
    (SecurityState.REALM, GPI.NONSECURE, GPI.ROOT, False),
    (SecurityState.SECURE, GPI.NONSECURE, GPI.REALM, False),
    (SecurityState.REALM, GPI.REALM, GPI.REALM, False),
])
def test_transition_policy(p, caller, src, dst, allowed):
    assert ((caller, src, dst) in TRANSITION_POLICY) is allowed
    pa = NS_GRANULE
    if src != GPI.NONSECURE:
        assert p.monitor.gpt_transition_pas(pa, 1, src, caller if caller != SecurityState.NONSECURE
                                            else SecurityState.REALM) == 0
    ret = p.monitor.gpt_transition_pas(pa, 1, dst, caller)
    assert ret == (0 if allowed else -EPERM)
    assert p.gpi(pa) == (dst if allowed else src)


def test_transition_argument_errors_are_einval(p):
    m = p.monitor
    assert m.gpt_transition_pas(NS_GRANULE, 2, GPI.REALM, SecurityState.REALM) == -EINVAL  # count != 1
    assert m.gpt_transition_pas(NS_GRANULE + 8, 1, GPI.REALM, SecurityState.REALM) == -EINVAL  # misaligned
    assert m.gpt_transition_pas(1 << 41, 1, GPI.REALM, SecurityState.REALM) == -EINVAL  # beyond PPS
    assert m.gpt_transition_pas(0x1000, 1, GPI.REALM, SecurityState.REALM) == -EINVAL  # L0 block, not a table
    assert m.gtsi_delegate(NS_GRANULE + 8) == E_RMM_BAD_ADDR
    assert m.gtsi_delegate(p.region("Secure (TZC)").base) == E_RMM_BAD_PAS
    assert m.gtsi_undelegate(NS_GRANULE) == E_RMM_BAD_PAS  # not a Realm granule


def test_gtsi_smcs_only_from_the_realm_world(p):
    assert p.monitor.smc(RMM_GTSI_DELEGATE, NS_GRANULE, caller=SecurityState.NONSECURE) == SMC_UNKNOWN
    assert p.gpi(NS_GRANULE) == GPI.NONSECURE
    assert p.monitor.smc(RMM_GTSI_DELEGATE, NS_GRANULE, caller=SecurityState.REALM) == 0
    assert p.monitor.smc(RMM_GTSI_UNDELEGATE, NS_GRANULE) == 0
    assert p.monitor.smc(RMM_GTSI_UNDELEGATE, NS_GRANULE) == E_RMM_BAD_PAS & (2**64 - 1)
    with pytest.raises(TypeError):
        p.monitor.gtsi_delegate("0x80000000")


def test_stale_gpc_cache_what_if(p):
    """Without TLBI RPALOS the GPC keeps using the cached Non-secure GPI (checklist item 9)."""
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is None  # primes the GPC cache
    p.whatif.skip_gpt_tlbi = True
    assert p.monitor.gtsi_delegate(NS_GRANULE) == E_RMM_OK
    assert p.gpi(NS_GRANULE) == GPI.REALM  # the GPT says Realm...
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is None  # ...but the stale entry lets the host in
    assert any(e.data.get("skipped") for e in p.events.of_kind("tlbi.rpalos"))
    p.whatif.skip_gpt_tlbi = False
    p.monitor.tlbi_paallos()
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is not None


def test_correct_firmware_never_leaves_a_stale_entry(p):
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is None
    p.monitor.gtsi_delegate(NS_GRANULE)
    assert p.gpc_check(NS_GRANULE, PAS.NONSECURE) is not None
