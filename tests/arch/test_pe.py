import numpy as np
import pytest

from ccalab import PAS, Platform, SecurityState
from ccalab.arch.mmu.descriptors import s1_leaf, s2_leaf
from ccalab.arch.mmu.faults import FaultKind
from ccalab.arch.pe import NO_FAULT_FSC, TranslationFaultError
from ccalab.arch.sysreg import GPCCR_EL3, TCR_EL1

from ccalab.scenarios.translation import GUEST_IPA as IPA_DATA, GUEST_VA as VA, two_stage_guest


def two_stage(**kw):
    g = two_stage_guest(**kw)
    return g.platform, g.pe, g.s1, g.s2, g.data


def test_nested_walk_costs_24_descriptor_reads_and_75_memory_reads():
    p, pe, *_ = two_stage()
    pe.tlb_enabled = pe.walk_cache_enabled = False
    p.gpc_cache.enabled = False
    p.gpc_cache.reset_counters()
    r = pe.translate(VA)
    assert r.ok and len(r.steps) == 24
    c = pe.counters
    assert c["s1_reads"] + c["s2_reads"] == 24
    gpc = p.gpc_cache.stats()
    assert gpc["checks"] == 25 and gpc["gpt_reads"] == 50  # 24 + 50 + the data access = 75


def test_walk_cache_and_tlb_cut_the_cost():
    p, pe, *_ = two_stage(pages=8)
    pe.translate_batch([VA + i * 4096 for i in range(8)])
    c = pe.counters
    assert c["walk_cache_hits"] > 0 and c["s2_reads"] < 8 * 20
    before = dict(pe.counters)
    pe.translate_batch([VA + i * 4096 + 8 for i in range(8)])
    assert pe.counters["tlb_hits"] - before["tlb_hits"] == 8
    assert pe.counters["s1_reads"] == before["s1_reads"]


def test_realm_stage2_tables_live_in_realm_memory():
    p, pe, s1, s2, data = two_stage(realm=True)
    r = pe.translate(VA)
    assert r.ok and r.pas == PAS.REALM and r.pa == data
    assert all(s.pas == PAS.REALM for s in r.steps)
    host = p.access(SecurityState.NONSECURE, s2.root)  # the host cannot read the realm's RTT
    assert not host.ok and host.fault.gpcsc == 0x0D


def test_realm_stage2_ns_bit_selects_the_nonsecure_pas():
    p, pe, s1, s2, data = two_stage(realm=True, pages=2)
    shared = p.ns_dram().base + 0x10_0000
    addr = s2.map(IPA_DATA + 4096, s2_leaf(shared, 3, ns=True), 3)
    assert addr
    pe.tlbi("VMALLS12E1")
    r = pe.translate(VA + 4096)
    assert r.ok and r.pas == PAS.NONSECURE and r.pa == shared


def test_gpf_on_walk_reports_stage_level_and_s1ptw():
    p, pe, s1, s2, data = two_stage(realm=True)
    # undelegate the granule holding a stage-1 table: the realm's walk now meets a Non-secure granule
    leaf_table = s1.descriptor_address(VA, 3) & ~0xFFF
    assert p.monitor.gtsi_undelegate(leaf_table) == 0
    r = pe.translate(VA + 0x1000 * 3)
    f = r.fault
    assert f.kind == FaultKind.GPF_ON_WALK and f.stage == 1 and f.level == 3 and f.fsc == 0b100111
    assert f.gpcsc == 0x0D and f.target_el == 1


def test_gpf_on_output():
    p, pe, s1, s2, data = two_stage(realm=True)
    assert p.monitor.gtsi_undelegate(data) == 0
    pe.tlbi("VMALLE1")
    f = pe.translate(VA).fault
    assert f.kind == FaultKind.GPF_ON_OUTPUT and f.fsc == 0x28 and f.pa == data


def test_stage2_fault_on_a_stage1_table_sets_s1ptw():
    p, pe, s1, s2, data = two_stage()
    table_ipa = s1.descriptor_address(VA, 2) & ~0xFFF
    p.memory.write64(s2.descriptor_address(table_ipa, 3), 0)  # unmap it at stage 2
    pe.tlbi("VMALLS12E1")
    f = pe.translate(VA).fault
    assert f.kind == FaultKind.TRANSLATION and f.stage == 2 and f.s1ptw and f.level == 3
    assert f.ipa == table_ipa and f.target_el == 2


@pytest.mark.parametrize("mutate,kind,level", [
    (lambda d: d & ~1, FaultKind.TRANSLATION, 3),
    (lambda d: d & ~(1 << 10), FaultKind.ACCESS_FLAG, 3),
    (lambda d: (d & ~3) | 1, FaultKind.TRANSLATION, 3),  # 01 at level 3 is reserved
])
def test_stage1_leaf_faults(mutate, kind, level):
    p, pe, s1, *_ = two_stage()
    addr = s1.descriptor_address(VA, 3)
    p.memory.write64(addr, mutate(p.memory.read64(addr)))
    f = pe.translate(VA).fault
    assert (f.kind, f.stage, f.level) == (kind, 1, level) and f.target_el == 1


def test_permissions_el0_and_write():
    p, pe, s1, *_ = two_stage()
    addr = s1.descriptor_address(VA, 3)
    p.memory.write64(addr, s1_leaf(IPA_DATA, 3, ap=2, ng=True))  # read-only, no EL0 access
    pe.tlbi("VAE1", VA)
    assert pe.translate(VA, "read").ok
    assert pe.translate(VA, "write").fault.kind == FaultKind.PERMISSION
    pe.el = 0
    assert pe.translate(VA, "read").fault.kind == FaultKind.PERMISSION


def test_stale_tlb_entry_survives_a_missing_tlbi_and_tlbi_removes_it():
    p, pe, s1, *_ = two_stage()
    assert pe.translate(VA).ok
    addr = s1.descriptor_address(VA, 3)
    p.memory.write64(addr, 0)  # unmapped in memory...
    assert pe.translate(VA).ok and pe.translate(VA).tlb_hit  # ...but the TLB still answers
    p.whatif.skip_tlbi = True
    pe.tlbi("VAE1", VA)
    assert pe.translate(VA).ok  # the what-if skipped the invalidation
    p.whatif.skip_tlbi = False
    assert pe.tlbi("VAE1", VA) == 1
    assert pe.translate(VA).fault.kind == FaultKind.TRANSLATION


def test_tlb_is_tagged_by_asid_and_vmid():
    p, pe, s1, *_ = two_stage()
    pe.translate(VA)
    pe.set_sysreg("TTBR0_EL1", (pe.sysreg("TTBR0_EL1") & ((1 << 48) - 1)) | (9 << 48))  # new ASID
    assert not pe.translate(VA).tlb_hit  # (it replaced the ASID 7 entry: the TLB is direct-mapped)
    assert pe.translate(VA).tlb_hit
    assert pe.tlbi("ASIDE1", 7) == 0 and pe.tlbi("ASIDE1", 9) == 1
    assert not pe.translate(VA).tlb_hit
    vttbr = pe.sysreg("VTTBR_EL2")
    pe.set_sysreg("VTTBR_EL2", (vttbr & ((1 << 48) - 1)) | (4 << 48))  # another VM
    assert not pe.translate(VA).tlb_hit


def test_ipas2e1_drops_only_stage2_walk_cache_entries():
    p, pe, s1, *_ = two_stage()
    pe.translate(VA)
    table_ipa = s1.descriptor_address(VA, 3) & ~0xFFF
    assert pe.tlbi("IPAS2E1", table_ipa) == 1
    assert pe.translate(VA).tlb_hit  # the combined entry remains, as the architecture allows


def test_rpalos_removes_tlb_entries_holding_gpt_information():
    p, pe, s1, s2, data = two_stage()
    assert pe.translate(VA).ok
    p.tlbi_rpalos(data, 4096)
    assert not pe.translate(VA).tlb_hit
    pe.translate(VA)
    p.tlbi_paallos()
    assert not pe.translate(VA).tlb_hit


def test_read_and_write_through_the_whole_path():
    p, pe, s1, s2, data = two_stage(pages=2)
    pe.write(VA + 4090, b"0123456789ab")  # crosses into the second page
    assert pe.read(VA + 4090, 12) == b"0123456789ab"
    assert p.memory.read(data + 4090, 6) == b"012345"
    vals, fsc = pe.read_batch([VA, VA + 4096, VA + 0x10_0000], size=8)
    assert fsc[0] == NO_FAULT_FSC and fsc[2] != NO_FAULT_FSC
    with pytest.raises(TranslationFaultError) as e:
        pe.read(VA + 0x10_0000, 4)
    assert e.value.fault.kind == FaultKind.TRANSLATION


def test_inconsistent_stage2_start_level_is_a_level0_fault():
    p, pe, *_ = two_stage(s2_level=0, s2_ia=48)
    from ccalab.arch.sysreg import VTCR_EL2

    pe.set_sysreg("VTCR_EL2", VTCR_EL2.encode(T0SZ=64 - 30, SL0=2, PS=5))  # 30-bit IPA cannot start at L0
    pe.tlbi("VMALLS12E1")
    f = pe.translate(VA).fault
    assert (f.kind, f.stage, f.level) == (FaultKind.TRANSLATION, 2, 0)


def test_t0sz_out_of_range_is_clamped():
    p, pe, *_ = two_stage()
    pe.set_sysreg("TCR_EL1", TCR_EL1.encode(T0SZ=8, TG1=2, IPS=5, EPD1=1))  # below 16: treated as 16
    assert pe.regime.ia0 == 48 and pe.translate(VA).ok


def test_batched_translation_matches_single_calls():
    p, pe, *_ = two_stage(pages=16)
    vas = [VA + i * 4096 + 5 for i in range(20)]
    pa, fsc = pe.translate_batch(vas)
    for v, a, f in zip(vas, pa, fsc):
        r = pe.translate(v)
        assert (r.pa if r.ok else -1) == a and (NO_FAULT_FSC if r.ok else r.fault.fsc) == f


def test_gpc_exception_when_the_gpt_is_broken():
    p, pe, *_ = two_stage()
    p.write_sysreg("GPCCR_EL3", GPCCR_EL3.replace(p.sysreg("GPCCR_EL3"), SH=1))
    pe.tlbi("VMALLS12E1")
    f = pe.translate(VA).fault
    assert f.kind == FaultKind.GPC_EXCEPTION and f.target_el == 3 and f.gpcsc == 0x04


def test_bad_input_is_a_clear_error():
    p = Platform(dram_size=256 << 20)
    pe = p.pe(1)
    with pytest.raises(ValueError):
        p.pe(9)
    with pytest.raises(ValueError, match="access"):
        pe.translate(0, "fly")
    with pytest.raises(TypeError):
        pe.translate("0x1000")
    with pytest.raises(ValueError):
        pe.translate(1 << 64)
    with pytest.raises(KeyError):
        pe.sysreg("TCR_EL9")
    with pytest.raises(ValueError, match="4KB"):
        pe.set_sysreg("TCR_EL1", TCR_EL1.encode(TG0=1, TG1=2))
    with pytest.raises(ValueError, match="unknown TLBI"):
        pe.tlbi("VAE9", 0)
    with pytest.raises(ValueError, match="needs"):
        pe.tlbi("VAE1")
    with pytest.raises(ValueError):
        pe.el = 3
    with pytest.raises(TypeError):
        pe.translate_batch(np.array([1.5]))
    with pytest.raises(ValueError):
        pe.read_batch([3], size=8)


def test_mmu_off_is_flat_in_the_states_own_pas():
    p = Platform(dram_size=256 << 20)
    pe = p.pe(0)
    r = pe.translate(p.ns_dram().base + 0x123)
    assert r.ok and r.pa == p.ns_dram().base + 0x123 and r.pas == PAS.NONSECURE
    realm_pe = p.pe(1)
    realm_pe.security_state = PAS.REALM
    r = realm_pe.translate(p.region("Realm (RMM)").base)
    assert r.ok and r.pas == PAS.REALM
    assert realm_pe.translate(p.ns_dram().base).fault.kind == FaultKind.GPF_ON_OUTPUT


def test_realm_accesses_carry_vmecid_and_the_stage2_amec_bit_picks_the_alternate():
    from ccalab.arch.mec.engine import context_id

    p, pe, s1, s2, data = two_stage(realm=True, pages=2)
    pe.set_sysreg("VMECID_P_EL2", 5)
    pe.set_sysreg("VMECID_A_EL2", 9)
    pe.set_sysreg("SCTLR2_EL2", 1 << 1)  # EMEC
    pe.write(VA, b"realm data")
    key5 = p.mec.read(data, 10, context_id(PAS.REALM, 5))
    assert key5 == b"realm data"
    addr = s2.descriptor_address(IPA_DATA, 3)
    p.memory.write64(addr, p.memory.read64(addr) | (1 << 63))  # AMEC: use the alternate MECID
    assert pe.mecid_for(VA, pe.translate(VA)) == 9
    assert pe.read(VA, 10) != b"realm data"  # the same page under MECID 9's key is noise
    pe.set_sysreg("SCTLR2_EL2", 0)
    assert pe.mecid_for(VA, pe.translate(VA)) == 0


def test_non_realm_accesses_always_use_mecid_0_and_mecid_registers_are_16_bits():
    p, pe, *_ = two_stage(pages=1)
    pe.set_sysreg("VMECID_P_EL2", 0x1_2345)
    assert pe.sysreg("VMECID_P_EL2") == 0x2345
    pe.set_sysreg("SCTLR2_EL2", 1 << 1)
    assert pe.mecid_for(VA, pe.translate(VA)) == 0  # Non-secure output
    with pytest.raises(ValueError):
        pe.set_sysreg("MECIDR_EL2", 3)


def test_read_batch_values_sizes_and_external_abort():
    p, pe, s1, s2, data = two_stage(pages=2)
    pe.write(VA, bytes(range(16)))
    vals, fsc = pe.read_batch([VA, VA + 4, VA + 8], size=4)
    assert (fsc == NO_FAULT_FSC).all()
    assert [int(v) for v in vals] == [int.from_bytes(bytes(range(i, i + 4)), "little") for i in (0, 4, 8)]
    uart_ipa = IPA_DATA + 0x10_0000
    s2.map(uart_ipa, s2_leaf(0x1C09_0000, 3), 3)  # a device with no memory model behind it
    s1.map(VA + 0x10_0000, s1_leaf(uart_ipa, 3, ap=1), 3)
    vals, fsc = pe.read_batch([VA + 0x10_0000], size=8)
    assert fsc[0] == 0x10 and vals[0] == 0
