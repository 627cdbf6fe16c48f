import numpy as np
import pytest

import ccalab
from ccalab import GPI, PAS, GranuleProtectionFault, Platform, SecurityState
from ccalab.arch.gpt import GPCFaultKind


@pytest.fixture(scope="module")
def p():
    return Platform()


def test_default_map_is_the_fvp_layout(p):
    names = {r.name: (r.base, r.size, r.gpi) for r in p.pas_regions}
    assert names["Non-secure DRAM0"] == (0x8000_0000, 0x7C00_0000, GPI.NONSECURE)
    assert names["Secure (TZC)"] == (0xFC00_0000, 28 << 20, GPI.SECURE)
    assert names["Realm (RMM)"] == (0xFDC0_0000, 32 << 20, GPI.REALM)
    assert names["EL3 DRAM"] == (0xFFC0_0000, 3 << 20, GPI.ROOT)
    assert names["GPT"] == (0xFFF0_0000, 1 << 20, GPI.ROOT)


def test_more_than_2gib_uses_the_second_dram_bank():
    q = Platform(dram_size=4 << 30)
    assert q.region("Non-secure DRAM1").base == 0x8_8000_0000
    assert q.gpi(0x8_8000_0000 + (1 << 30)) == GPI.NONSECURE
    with pytest.raises(ValueError, match="protected PA size"):
        Platform(dram_size=4 << 30, pps=32)


def test_64gib_platform_is_lazy():
    q = Platform(dram_size=64 << 30)
    rss = q.memory.resident_bytes()
    assert rss == -1 or rss < (100 << 20)
    assert q.gpi(q.region("Non-secure DRAM1").end - 4096) == GPI.NONSECURE


@pytest.mark.parametrize("kwargs,match", [
    (dict(pps=52), "LPA2"), (dict(pps=33), "pps must be"), (dict(pgs=8192), "pgs must be"),
    (dict(l0gptsz=31), "l0gptsz"), (dict(pps=48, pamax=44), "inconsistent"), (dict(dram_size=100 << 20), "64 MiB"),
    (dict(pamax=50), "pamax"),
])
def test_bad_configurations_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Platform(**kwargs)


def test_dram_size_must_be_an_int():
    with pytest.raises(TypeError):
        Platform(dram_size="2G")


@pytest.mark.parametrize("pgs", [4096, 16384, 65536])
@pytest.mark.parametrize("l0gptsz", [30, 34, 36, 39])
def test_every_pgs_and_l0gptsz_boots_a_correct_gpt(pgs, l0gptsz):
    q = Platform(dram_size=512 << 20, pps=40, pgs=pgs, l0gptsz=l0gptsz)
    rng = np.random.default_rng(pgs + l0gptsz)
    for r in q.pas_regions:
        pa = rng.integers(r.base, r.end, 200)
        ok = q.gpc_check_batch(PAS(int(r.gpi) & 3), pa)
        assert ok.all(), r.name
        other = PAS.NONSECURE if r.gpi != GPI.NONSECURE else PAS.REALM
        assert not q.gpc_check_batch(other, pa).any(), r.name
    ns = q.ns_dram().base + 7 * pgs
    assert q.monitor.gtsi_delegate(ns) == 0 and q.gpi(ns) == GPI.REALM
    assert q.gpi(ns - pgs) == GPI.NONSECURE and q.gpi(ns + pgs) == GPI.NONSECURE


@pytest.mark.parametrize("pps", [32, 36, 40, 42, 44, 48])
def test_every_pps_boots(pps):
    q = Platform(dram_size=256 << 20, pps=pps)
    assert q.gpc_config.t == pps
    above = 1 << pps
    if above < 1 << 48:
        assert q.gpc_check(above, PAS.NONSECURE) is None
        f = q.gpc_check(above, PAS.REALM)
        assert f.kind == GPCFaultKind.FAIL and f.level == 0 and f.gpcsc == 0x0C


def test_phys_read_and_write_are_checked(p):
    ns = p.ns_dram().base + 0x5000
    p.phys_write(ns, b"hello", PAS.NONSECURE)
    assert p.phys_read(ns, 5, PAS.NONSECURE) == b"hello"
    realm = p.region("Realm (RMM)").base
    with pytest.raises(GranuleProtectionFault) as exc:
        p.phys_read(realm, 8, PAS.NONSECURE)
    assert exc.value.kind == GPCFaultKind.FAIL and exc.value.level == 1 and exc.value.gpcsc == 0x0D
    assert exc.value.gpi == GPI.REALM and "Realm" in str(exc.value)
    # a read that starts in NS memory and runs into the Secure carve-out faults on the second granule
    sec = p.region("Secure (TZC)").base
    with pytest.raises(GranuleProtectionFault) as exc:
        p.phys_read(sec - 4, 8, PAS.NONSECURE)
    assert exc.value.pa == sec
    with pytest.raises(ccalab.ExternalAbort):
        p.phys_read(0x1C09_0000, 4, PAS.NONSECURE)  # UART: GPI ANY, but no memory behind it


def test_bad_addresses_are_clear_errors(p):
    with pytest.raises(ValueError, match="48-bit"):
        p.gpc_check(1 << 48, PAS.NONSECURE)
    with pytest.raises(ValueError):
        p.gpc_check(-1, PAS.NONSECURE)
    with pytest.raises(TypeError):
        p.gpc_check("0x1000", PAS.NONSECURE)
    with pytest.raises(ValueError):
        p.gpc_check_batch(PAS.NONSECURE, np.array([1 << 50]))
    with pytest.raises(TypeError):
        p.gpc_check_batch(PAS.NONSECURE, np.array([1.5]))
    with pytest.raises(ValueError):
        p.gpc_check_batch([0, 1], np.array([1, 2, 3]))
    with pytest.raises(KeyError, match="GPCCR_EL3"):
        p.sysreg("GPCCR_EL2")


def test_batch_matches_single_checks(p):
    rng = np.random.default_rng(5)
    pa = rng.integers(0, 1 << 41, 2000)
    pas = rng.integers(0, 4, 2000)
    ok = p.gpc_check_batch(pas, pa)
    single = np.array([p.gpc_check(int(a), int(s)) is None for a, s in zip(pa, pas)])
    assert (ok == single).all()


def test_gpi_reports_the_walk_result(p):
    assert p.gpi(p.region("GPT").base) == GPI.ROOT
    assert p.gpi(1 << 41) is None


def test_access_explains_fault_and_where_it_is_taken(p):
    r = p.access(SecurityState.NONSECURE, p.region("Realm (RMM)").base)
    assert not r.ok and r.report.target_el == 2 and r.report.ec == 0x25 and r.report.fsc == 0x28
    assert "Realm" in r.explain() and "L1" in r.gpt_entry
    ok = p.access("realm", p.region("Realm (RMM)").base)
    assert ok.ok and ok.data is not None
    with pytest.raises(ValueError, match="cannot issue"):
        p.access("nonsecure", 0x8000_0000, pas=PAS.REALM)
    root = p.access(SecurityState.ROOT, p.region("Realm (RMM)").base, pas=PAS.ROOT)
    assert not root.ok and root.report.target_el == 3


def test_scr_el3_gpf_routes_gpfs_to_el3():
    q = Platform(dram_size=256 << 20)
    from ccalab.arch.sysreg import SCR_EL3

    q.write_sysreg("SCR_EL3", SCR_EL3.replace(q.sysreg("SCR_EL3"), GPF=1))
    r = q.access("nonsecure", q.region("Realm (RMM)").base)
    assert r.report.target_el == 3 and r.report.ec == 0x1E
    assert q.sysreg("MFAR_EL3") == r.fault.mfar


def test_breaking_gpccr_gives_walk_faults_everywhere():
    q = Platform(dram_size=256 << 20)
    from ccalab.arch.sysreg import GPCCR_EL3

    q.write_sysreg("GPCCR_EL3", GPCCR_EL3.replace(q.sysreg("GPCCR_EL3"), PGS=3))
    f = q.gpc_check(q.ns_dram().base, PAS.NONSECURE)
    assert f.kind == GPCFaultKind.WALK and f.gpcsc == 0x04 and "PGS" in f.explain()
    # L0GPTSZ is read-only
    assert GPCCR_EL3.decode(q.sysreg("GPCCR_EL3"))["L0GPTSZ"] == 0


def test_corrupting_an_l1_word_gives_a_level_1_walk_fault():
    q = Platform(dram_size=256 << 20)
    pa = q.ns_dram().base
    addr = q.monitor._l1_word_addr(pa)
    q.memory.write64(addr, 0x2222_2222_2222_2222)  # reserved GPI 0b0010 in every nibble
    q.monitor.tlbi_paallos()
    f = q.gpc_check(pa, PAS.NONSECURE)
    assert f.kind == GPCFaultKind.WALK and f.level == 1 and f.gpcsc == 0x05


def test_fresh_returns_a_new_booted_machine(p):
    q = p.fresh()
    assert q is not p and q.params == p.params and q.gpi(q.ns_dram().base) == GPI.NONSECURE


def test_gpc_cache_counts_hits_and_misses():
    q = Platform(dram_size=256 << 20)
    q.gpc_cache.reset_counters()
    pa = np.full(100, q.ns_dram().base + 0x3000, np.int64)
    q.gpc_check_batch(PAS.NONSECURE, pa)
    st = q.gpc_cache.stats()
    assert st["checks"] == 100 and st["misses"] == 1 and st["hits"] == 99 and st["gpt_reads"] == 2


def test_custom_layout_boots_and_survives_fresh():
    from ccalab import PlatformLayout
    from ccalab.arch.gpt import PASRegion
    from ccalab.arch.memory import MemoryRegion

    mm = (MemoryRegion("DRAM", 0x8000_0000, 256 << 20, "dram"),)
    regions = (PASRegion("ns", 0x8000_0000, 254 << 20, GPI.NONSECURE),
               PASRegion("gpt", 0x8000_0000 + (254 << 20), 2 << 20, GPI.ROOT))
    q = Platform(dram_size=256 << 20, layout=PlatformLayout(mm, regions, (0x8000_0000 + (254 << 20), 2 << 20)))
    assert q.gpi(0x8000_0000 + (255 << 20)) == GPI.ROOT and q.fresh().layout == q.layout
    bad = regions + (PASRegion("overlap", 0x8000_0000, 4096, GPI.REALM),)
    with pytest.raises(ValueError, match="overlap"):
        Platform(dram_size=256 << 20, layout=PlatformLayout(mm, bad, (0x8000_0000 + (254 << 20), 2 << 20)))
