import numpy as np
import pytest

from ccalab.firmware.monitor import RMM_GTSI_DELEGATE, RMM_GTSI_UNDELEGATE, RMM_MEC_REFRESH, SMC_UNKNOWN
from ccalab.firmware.rmm import RMI_HANDLERS, GranuleState, RmiFid, Rmm
from ccalab.firmware.rmm.fids import SMC_NOT_SUPPORTED
from ccalab.firmware.rmm.rmm import as_registers
from ccalab.firmware.rmm.status import RmiStatus

M64 = (1 << 64) - 1


def test_platform_has_an_rmm_with_debug_off_by_default():
    from ccalab import Platform

    q = Platform(dram_size=256 << 20)
    assert isinstance(q.rmm, Rmm) and q.rmm.debug is False and q.rmm.platform is q


def test_dispatch_table_has_one_row_per_command_with_its_register_counts():
    rows = {row.name: (row.fid, row.n_args, row.n_results) for row in RMI_HANDLERS}
    # register use of each command, from the RMM 1.0 command tables (spec/rmm.md section 3)
    expect = {"VERSION": (1, 2), "GRANULE_DELEGATE": (1, 0), "GRANULE_UNDELEGATE": (1, 0), "DATA_CREATE": (5, 0),
              "DATA_CREATE_UNKNOWN": (3, 0), "DATA_DESTROY": (2, 2), "REALM_ACTIVATE": (1, 0), "REALM_CREATE": (2, 0),
              "REALM_DESTROY": (1, 0), "REC_CREATE": (3, 0), "REC_DESTROY": (1, 0), "REC_ENTER": (2, 0),
              "RTT_CREATE": (4, 0), "RTT_DESTROY": (3, 2), "RTT_MAP_UNPROTECTED": (4, 0), "RTT_READ_ENTRY": (3, 4),
              "RTT_UNMAP_UNPROTECTED": (3, 1), "PSCI_COMPLETE": (3, 0), "FEATURES": (1, 1), "RTT_FOLD": (3, 1),
              "REC_AUX_COUNT": (1, 1), "RTT_INIT_RIPAS": (3, 1), "RTT_SET_RIPAS": (4, 1)}
    assert rows == {f"RMI_{k}": (RmiFid[f"RMI_{k}"], a, r) for k, (a, r) in expect.items()}


@pytest.mark.parametrize("row", RMI_HANDLERS, ids=lambda r: r.name)
def test_every_command_returns_x0_and_its_results(p, row):
    out = p.smc(row.fid, 0)
    assert len(out) == 1 + row.n_results and all(isinstance(v, int) for v in out)


@pytest.mark.parametrize("fid", [0xC4000156, 0xC4000160, 0xC4000163, 0xC400016A, 0xC400018F])
def test_rmi_ids_without_a_handler_are_not_supported(p, fid):
    assert p.smc(fid, 1, 2, 3) == (SMC_NOT_SUPPORTED,)
    assert p.events[-1].kind == "rmi" and "SMC_NOT_SUPPORTED" in p.events[-1].summary


@pytest.mark.parametrize("fid", [0, 0x84000000, 0xC4000190, 0xC40001FF, M64])
def test_ids_outside_the_rmi_range_never_reach_the_rmm(p, fid):
    n = len(p.events.of_kind("rmi"))
    assert p.smc(fid, 0x8000_0000) == (SMC_UNKNOWN,)
    assert len(p.events.of_kind("rmi")) == n


@pytest.mark.parametrize("fid", [RMM_GTSI_DELEGATE, RMM_GTSI_UNDELEGATE, RMM_MEC_REFRESH])
def test_the_host_cannot_call_the_el3_rmm_interface(p, ns_granule, fid):
    from ccalab import GPI

    assert p.smc(fid, ns_granule) == (SMC_UNKNOWN,)
    assert p.gpi(ns_granule) == GPI.NONSECURE
    assert "refused" in p.events[-1].summary


def test_missing_arguments_read_as_zero_and_extra_ones_are_ignored(p):
    assert p.smc(RmiFid.RMI_FEATURES) == p.smc(RmiFid.RMI_FEATURES, 0)
    assert p.smc(RmiFid.RMI_VERSION) == (RmiStatus.ERROR_INPUT, 0x10000, 0x10000)
    assert p.smc(RmiFid.RMI_VERSION, 0x10000, 7, 8, 9) == (0, 0x10000, 0x10000)
    assert p.smc(RmiFid.RMI_GRANULE_DELEGATE) == (RmiStatus.ERROR_INPUT,)  # PA 0 is Trusted ROM


def test_every_call_and_result_is_logged_with_kind_rmi(p, ns_granule):
    start = p.events.next_seq
    p.smc(RmiFid.RMI_GRANULE_DELEGATE, ns_granule)
    evs = p.events.since(start)
    call, ret = evs[0], evs[-1]
    assert (call.kind, call.actor, call.data["phase"], call.data["args"]) == ("rmi", "RMM", "call", (ns_granule,))
    assert call.summary == f"RMI_GRANULE_DELEGATE({ns_granule:#x})"
    assert (ret.kind, ret.data["phase"], ret.data["results"]) == ("rmi", "return", (0,))
    assert ret.summary == "RMI_GRANULE_DELEGATE -> RMI_SUCCESS"
    assert "gpt.transition" in [e.kind for e in evs[1:-1]]  # EL3's work happens inside the call


@pytest.mark.parametrize("bad", [1.0, "0x80000000", None, b"\0", True, np.float64(1)])
def test_values_that_are_not_ints_are_a_type_error(p, bad):
    with pytest.raises(TypeError, match="64-bit register"):
        p.smc(RmiFid.RMI_GRANULE_DELEGATE, bad)
    with pytest.raises(TypeError):
        p.rmm.handle_smc(bad, ())


@pytest.mark.parametrize("bad", [-1, 1 << 64, -(1 << 63)])
def test_ints_that_do_not_fit_a_register_are_a_value_error(p, bad):
    with pytest.raises(ValueError, match="2\\*\\*64"):
        p.smc(RmiFid.RMI_GRANULE_DELEGATE, bad)
    with pytest.raises(ValueError):
        p.smc(bad)


def test_numpy_integers_are_registers_too():
    assert as_registers(np.uint64(RmiFid.RMI_VERSION), (np.int64(0x10000),)) == (RmiFid.RMI_VERSION, (0x10000,))


def test_invariants_are_checked_after_each_command_when_debug_is_on(p, ns_granule):
    from ccalab import PAS
    from ccalab.firmware.rmm import GranuleInvariantError

    assert p.smc(RmiFid.RMI_GRANULE_DELEGATE, ns_granule) == (0,)
    p.phys_write(ns_granule, b"not zero", PAS.REALM)  # breaks the DELEGATED contract behind the RMM's back
    with pytest.raises(GranuleInvariantError):
        p.smc(RmiFid.RMI_VERSION, 0x10000)
    p.rmm.debug = False
    assert p.smc(RmiFid.RMI_VERSION, 0x10000)[0] == RmiStatus.SUCCESS


def test_the_monitor_forwards_rmi_ids_to_the_rmm(p, ns_granule):
    assert p.monitor.ns_smc(int(RmiFid.RMI_GRANULE_DELEGATE), (ns_granule,)) == (0,)
    assert p.rmm.granules.state(ns_granule) == GranuleState.DELEGATED
    assert p.monitor.ns_smc(0xC40001B1, (ns_granule,)) == (SMC_UNKNOWN,)
