import numpy as np
import pytest

from ccalab import PAS, Platform
from ccalab.firmware.rmm.granule import (ALLOWED_TRANSITIONS, ZERO_REFCOUNT_STATES, GranuleInvariantError,
                                         GranuleState, GranuleTracker)

S = GranuleState


def test_states_are_named_as_the_spec_and_undelegated_is_zero():
    assert [s.name for s in GranuleState] == ["UNDELEGATED", "DELEGATED", "RD", "REC", "REC_AUX", "DATA", "RTT"]
    assert S.UNDELEGATED == 0
    assert GranuleState.__doc__.startswith("RmmGranuleState")


def test_tracker_covers_every_dram_bank_and_nothing_else():
    p = Platform(dram_size=3 << 30)  # two banks
    t = p.rmm.granules
    assert t.banks == ((0x8000_0000, 2 << 30), (0x8_8000_0000, 1 << 30))
    for base, size in t.banks:
        assert t.is_tracked(base) and t.is_tracked(base + size - 4096) and not t.is_tracked(base + size)
        assert t.state(base + size - 4096) == S.UNDELEGATED and t.refcount(base) == 0
    assert not t.is_tracked(0x0400_0000)  # Trusted SRAM is memory, but not delegable DRAM
    assert not t.is_tracked(0x1C09_0000) and not t.is_tracked(-4096) and not t.is_tracked(0x8000_0800)


def test_a_large_machine_costs_nothing_until_granules_change():
    p = Platform(dram_size=64 << 30, pps=40)
    t = p.rmm.granules
    assert sum(a.size for a in t.state_arrays) == (64 << 30) >> 12
    assert t.counts()[S.UNDELEGATED] == (64 << 30) >> 12
    assert t.check_invariants() == 0


def _delegate_by_hand(p, pa):
    """Delegate through EL3 and the tracker, bypassing the RMI handler (to build states)."""
    assert p.monitor.gtsi_delegate(pa) == 0
    p.mec.write(pa, bytes(4096), (int(PAS.REALM) << 16))
    p.rmm.granules.transition(pa, S.DELEGATED)


def test_transition_follows_the_life_cycle_table(p, ns_granule):
    t = p.rmm.granules
    assert (S.UNDELEGATED, S.DATA) not in ALLOWED_TRANSITIONS
    with pytest.raises(GranuleInvariantError, match="UNDELEGATED -> DATA"):
        t.transition(ns_granule, S.DATA)
    assert t.state(ns_granule) == S.UNDELEGATED
    _delegate_by_hand(p, ns_granule)
    for s in (S.RD, S.REC, S.REC_AUX, S.DATA, S.RTT):
        t.transition(ns_granule, s)
        assert t.state(ns_granule) == s
        with pytest.raises(GranuleInvariantError):
            t.transition(ns_granule, S.UNDELEGATED)  # an object is destroyed before undelegation
        t.transition(ns_granule, S.DELEGATED)
    t.check_invariants()


def test_every_allowed_transition_touches_delegated():
    for old, new in ALLOWED_TRANSITIONS:
        assert S.DELEGATED in (old, new)


def test_a_granule_with_references_cannot_go_back_to_delegated(p, ns_granule):
    t = p.rmm.granules
    _delegate_by_hand(p, ns_granule)
    t.transition(ns_granule, S.RD)
    assert t.refcount_add(ns_granule, 1) == 1
    t.check_invariants()  # RD may hold references
    with pytest.raises(GranuleInvariantError, match="refcount 1"):
        t.transition(ns_granule, S.DELEGATED)
    assert t.refcount_add(ns_granule, -1) == 0
    with pytest.raises(GranuleInvariantError):
        t.refcount_add(ns_granule, -1)
    t.transition(ns_granule, S.DELEGATED)


def test_check_invariants_finds_a_refcount_where_the_state_forbids_one(p, ns_granule):
    t = p.rmm.granules
    assert S.DATA in ZERO_REFCOUNT_STATES
    k, i = t._locate(ns_granule)
    t.refcount_arrays[k][i] = 3
    with pytest.raises(GranuleInvariantError, match="UNDELEGATED with refcount 3"):
        t.check_invariants()


def test_check_invariants_finds_a_delegated_granule_that_is_not_zero(p, ns_granule):
    _delegate_by_hand(p, ns_granule)
    assert p.rmm.granules.check_invariants() == 1
    p.phys_write(ns_granule + 8, b"left over", PAS.REALM)
    with pytest.raises(GranuleInvariantError, match="does not read as zero"):
        p.rmm.granules.check_invariants()


def test_check_invariants_finds_an_owned_granule_whose_gpi_is_not_realm(p, ns_granule):
    t = p.rmm.granules
    k, i = t._locate(ns_granule)
    t.state_arrays[k][i] = int(S.DELEGATED)  # the tracker says delegated, the GPT says Non-secure
    with pytest.raises(GranuleInvariantError, match="not Realm"):
        t.check_invariants()


def test_check_invariants_finds_a_state_value_out_of_range(p, ns_granule):
    t = p.rmm.granules
    k, i = t._locate(ns_granule)
    t.state_arrays[k][i] = 42
    with pytest.raises(GranuleInvariantError, match="not a GranuleState"):
        t.check_invariants()


def test_granules_in_and_counts(p, ns_granule):
    t = p.rmm.granules
    for pa in (ns_granule, ns_granule + 0x3000):
        _delegate_by_hand(p, pa)
    assert t.granules_in(S.DELEGATED).tolist() == [ns_granule, ns_granule + 0x3000]
    c = t.counts()
    assert c[S.DELEGATED] == 2 and sum(c.values()) == (256 << 20) >> 12


def test_lookups_of_untracked_addresses_are_value_errors(p):
    with pytest.raises(ValueError, match="not the address of a tracked granule"):
        p.rmm.granules.state(0x1C09_0000)
    with pytest.raises(ValueError):
        p.rmm.granules.refcount(p.ns_dram().base + 1)


def test_tracker_of_a_fresh_platform_is_its_own(p):
    assert isinstance(p.rmm.granules, GranuleTracker)
    q = Platform(dram_size=256 << 20)
    assert all(np.shares_memory(a, b) is False for a, b in zip(p.rmm.granules.state_arrays,
                                                               q.rmm.granules.state_arrays))
