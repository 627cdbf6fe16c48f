"""The host's side of the RMI: calls and their record, granules, structures, and the host as an
attacker against a realm's memory."""

import pytest

from ccalab import GPI
from ccalab.arch.pas import PAS
from ccalab.errors import GranuleProtectionFault
from ccalab.firmware.rmm import spec
from ccalab.firmware.rmm.fids import RmiFid
from ccalab.firmware.rmm.granule import GranuleState
from ccalab.firmware.rmm.status import RmiStatus
from ccalab.firmware.rmm.structs import EXIT_OFFSET, REALM_PARAMS, REC_ENTER, pack, unpack
from ccalab.host import Host, HostError, RealmConfig, RmiCall

GRANULE = 4096


# --- calls ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fid", ["VERSION", "version", "RMI_VERSION", RmiFid.RMI_VERSION, int(RmiFid.RMI_VERSION)])
def test_rmi_takes_a_command_name_or_its_function_id(host, fid):
    call = host.rmi(fid, 0x10000)
    assert (call.name, call.args, call.results, call.failure) == ("RMI_VERSION", (0x10000,), (0, 0x10000, 0x10000),
                                                                  None)
    assert call.ok and call.status == RmiStatus.SUCCESS and call.index == 0
    assert host.calls == [call]


def test_an_unknown_command_name_is_refused_before_any_smc(host, p):
    start = p.events.next_seq
    with pytest.raises(ValueError, match="NO_SUCH_COMMAND"):
        host.rmi("NO_SUCH_COMMAND")
    assert p.events.since(start) == [] and host.calls == []


def test_a_failed_call_carries_status_index_and_the_failure_label(host, p):
    align = spec.labels("RMI_GRANULE_DELEGATE")[0]
    call = host.rmi("GRANULE_DELEGATE", 0x123)
    assert not call.ok and (call.status, call.index, call.failure) == (RmiStatus.ERROR_INPUT, 0, align)
    assert align.endswith("_align")
    assert str(call) == f"RMI_GRANULE_DELEGATE(0x123) -> RMI_ERROR_INPUT  [{align}]"


def test_a_function_id_without_a_handler_has_no_status(host):
    call = host.rmi(0xC400_0156)
    assert call.results == ((1 << 64) - 1,) and call.status is None and not call.ok and call.name == "0xc4000156"


def test_rmi_call_str_shows_every_nonzero_result():
    call = RmiCall("RMI_RTT_READ_ENTRY", (1, 2, 3), (0, 3, 0, 0x8000, 1))
    assert str(call) == "RMI_RTT_READ_ENTRY(0x1, 0x2, 0x3) -> RMI_SUCCESS, X1 = 0x3, X3 = 0x8000, X4 = 0x1"
    assert RmiCall("RMI_RTT_CREATE", (), (RmiStatus.ERROR_RTT | 2 << 8,)).index == 2


def test_must_raises_host_error_with_the_call_and_the_hint(host):
    state = [label for label in spec.labels("RMI_GRANULE_UNDELEGATE") if label.endswith("_state")][0]
    with pytest.raises(HostError, match=rf"RMI_GRANULE_UNDELEGATE.*\[{state}\]: not delegated") as info:
        host.must("GRANULE_UNDELEGATE", host.alloc(), hint="not delegated")
    assert info.value.call.failure == state and info.value.call.status == RmiStatus.ERROR_INPUT


def test_a_host_that_does_not_record_keeps_no_calls(p):
    host = Host(p, record=False)
    host.rmi("VERSION", 0x10000)
    assert host.calls == []


def test_calls_text_lists_the_last_calls(host):
    host.rmi("VERSION", 0x10000)
    host.rmi("FEATURES", 1)
    assert host.calls_text(1) == "RMI_FEATURES(0x1) -> RMI_SUCCESS"
    assert host.calls_text().splitlines()[0].startswith("RMI_VERSION(0x10000) -> RMI_SUCCESS")


# --- granules and structures ------------------------------------------------------------------------
def test_the_default_pool_is_non_secure_dram_above_the_host_s_first_64_mib(p, host):
    ns = p.ns_dram()
    assert (host.pool_base, host.pool_size) == (ns.base + (64 << 20), ns.size - (64 << 20))
    assert host.alloc() == host.pool_base


def test_alloc_hands_out_contiguous_granules_and_reuses_freed_ones(host):
    a = host.alloc(3)
    b = host.alloc()
    assert b == a + 3 * GRANULE
    host.free(a)
    assert host.alloc() == a
    assert host.alloc() == b + GRANULE


def test_alloc_beyond_the_pool_is_a_host_error(p):
    host = Host(p, pool=(p.ns_dram().base + (64 << 20), 2 * GRANULE))
    host.alloc(2)
    with pytest.raises(HostError, match="out of Non-secure memory"):
        host.alloc()


def test_delegate_gives_realm_pas_granules_in_state_delegated(p, host):
    pas = host.delegate(3)
    assert pas == [pas[0] + i * GRANULE for i in range(3)]
    assert all(p.rmm.granules.state(pa) == GranuleState.DELEGATED and p.gpi(pa) == GPI.REALM for pa in pas)
    assert [c.name for c in host.calls] == ["RMI_GRANULE_DELEGATE"] * 3


def test_write_struct_puts_the_packed_structure_in_a_host_page(p, host):
    values = {"s2sz": 40, "hash_algo": 1, "vmid": 7, "rtt_level_start": -1}
    pa = host.write_struct(REALM_PARAMS, values)
    raw = p.phys_read(pa, GRANULE, PAS.NONSECURE)
    assert raw == bytes(pack(REALM_PARAMS, values))
    assert unpack(REALM_PARAMS, raw)["rtt_level_start"] == -1


def test_write_enter_fills_only_the_enter_half_of_the_run_page(p, host):
    run = host.alloc()
    p.phys_write(run, b"\xaa" * GRANULE, PAS.NONSECURE)
    host.write_enter(run, 0b101, [1, 2, 3])
    raw = p.phys_read(run, GRANULE, PAS.NONSECURE)
    enter = unpack(REC_ENTER, raw)
    assert enter["flags"] == 0b101 and enter["gprs"][:4] == [1, 2, 3, 0] and enter["gicv3_lrs"] == [0] * 16
    assert raw[EXIT_OFFSET:] == b"\xaa" * (GRANULE - EXIT_OFFSET)
    assert host.read_exit(run)["exit_reason"] == 0xAA


def test_peek_and_poke_reach_non_secure_memory(p, host):
    pa = host.alloc()
    assert host.poke(pa + 8, b"host data") is None
    assert host.peek(pa + 8, 9) == b"host data"


# --- the host as attacker -----------------------------------------------------------------------------
@pytest.fixture
def realm(host):
    return host.build_realm(RealmConfig(program="hello", image=b"plaintext the host loaded".ljust(8192, b"#")))


def test_peek_at_a_data_granule_returns_the_granule_protection_fault(p, host, realm):
    pa = realm.data[0x1000]
    fault = host.peek(pa, 16)
    assert isinstance(fault, GranuleProtectionFault)
    assert p.gpi(pa) == GPI.REALM


@pytest.mark.parametrize("what", ["rd", "rtt", "rec"])
def test_peek_at_any_realm_granule_faults(p, host, realm, what):
    pa = {"rd": realm.rd, "rtt": realm.rtt_base, "rec": realm.recs[0]}[what]
    assert isinstance(host.peek(pa), GranuleProtectionFault)


def test_poke_at_a_data_granule_faults_and_changes_nothing(p, host, realm):
    pa = realm.data[0x1000]
    assert isinstance(host.poke(pa, b"evil"), GranuleProtectionFault)
    mecid = p.rmm.realms[realm.rd].mecid
    assert p.phys_read(pa, 4096, PAS.REALM, mecid) == b"#" * 4096


def test_dram_holds_the_realm_s_pages_as_ciphertext(p, host, realm):
    page = realm.cfg.image_bytes()[:GRANULE]
    pa = realm.data[0]
    raw = p.dram_read(pa, GRANULE)
    assert raw != page and b"plaintext" not in raw
    mecid = p.rmm.realms[realm.rd].mecid
    assert p.phys_read(pa, GRANULE, PAS.REALM, mecid) == page
    assert p.phys_read(pa, 16, PAS.REALM, mecid + 1) != page[:16]  # another MECID's key reads noise


def test_data_create_from_a_delegated_source_page_is_refused(p, host):
    realm = host.build_realm(RealmConfig(program="hello"))  # ACTIVE: build one more by hand
    rd, root = host.delegate(1)[0], host.delegate(1)[0]
    prm = dict(RealmConfig(vmid=2).params(), rtt_base=root)
    host.must("REALM_CREATE", rd, host.write_struct(REALM_PARAMS, prm))
    for lvl in (1, 2, 3):
        host.must("RTT_CREATE", rd, host.delegate(1)[0], 0, lvl)
    data = host.delegate(1)[0]
    for src in (host.delegate(1)[0], realm.data[0], realm.rd):
        call = host.rmi("DATA_CREATE", rd, data, 0, src, 1)
        assert (call.status, call.failure) == (RmiStatus.ERROR_INPUT, "src_state")
    assert p.rmm.granules.state(data) == GranuleState.DELEGATED
    call = host.rmi("DATA_CREATE", rd, data, 0, host.alloc(), 1)
    assert call.ok


def test_rtt_map_unprotected_of_a_protected_ipa_is_error_input(p, host, realm):
    desc = host.alloc() | (0b110 << 2) | (0b11 << 6)
    call = host.rmi("RTT_MAP_UNPROTECTED", realm.rd, 0x1000, 3, desc)
    assert (call.status, call.failure) == (RmiStatus.ERROR_INPUT, "ipa_par")
    w = p.rmm.walk(p.rmm.realms[realm.rd], 0x1000, 3)
    assert p.rmm.rtt_entries(w.rtt)[1] == w.entry  # the DATA page's entry is untouched


def test_a_build_with_a_vmid_in_use_raises_host_error_with_the_call_and_its_label(p, host, realm):
    with pytest.raises(HostError) as info:
        host.build_realm(RealmConfig(program="hello", vmid=1))
    call = info.value.call
    assert call.name == "RMI_REALM_CREATE" and call.status == RmiStatus.ERROR_INPUT
    assert spec.label_of(call.failure) == "params_valid" and "VMID" in call.failure
    assert "RmiRealmParams refused" in str(info.value)
    assert len(p.rmm.realms) == 1
