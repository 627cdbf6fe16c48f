"""Realm Descriptors, RECs and the realm life cycle."""

import pytest

from ccalab.firmware.rmm.measurement import HashAlgo
from ccalab.firmware.rmm.objects import REALM_TRANSITIONS, Realm, RealmState, Rec, RecState, RipasChange

NEW, ACTIVE, OFF = RealmState.NEW, RealmState.ACTIVE, RealmState.SYSTEM_OFF


def _realm(state=NEW, s2sz=40, algo=HashAlgo.SHA_256):
    return Realm(rd=0x8000_0000, state=state, s2sz=s2sz, rtt_level_start=0, rtt_base=0x8000_1000, rtt_num_start=1,
                 vmid=1, hash_algo=algo, rpv=bytes(64), flags=0, mecid=1,
                 measurements=Realm.zero_measurements(algo))


def test_state_values_follow_the_spec():
    assert [(s.name, int(s)) for s in RealmState] == [("NEW", 0), ("ACTIVE", 1), ("SYSTEM_OFF", 2)]
    assert [(s.name, int(s)) for s in RecState] == [("READY", 0), ("RUNNING", 1)]


@pytest.mark.parametrize("old,new", [(a, b) for a in RealmState for b in RealmState])
def test_the_realm_life_cycle_has_only_two_transitions(old, new):
    realm = _realm(old)
    if (old, new) in {(NEW, ACTIVE), (ACTIVE, OFF)}:
        realm.transition(new)
        assert realm.state == new
    else:
        with pytest.raises(AssertionError, match="life cycle"):
            realm.transition(new)
        assert realm.state == old
    assert REALM_TRANSITIONS == {(NEW, ACTIVE), (ACTIVE, OFF)}


@pytest.mark.parametrize("s2sz", [32, 40, 48])
def test_the_protected_address_range_is_the_lower_half_of_the_ipa_space(s2sz):
    realm = _realm(s2sz=s2sz)
    assert realm.ipa_size == 1 << s2sz and realm.par_top == 1 << (s2sz - 1)
    assert realm.in_par(0) and realm.in_par(realm.par_top - 1)
    assert not realm.in_par(realm.par_top) and not realm.in_par(-1) and not realm.in_par(realm.ipa_size)


@pytest.mark.parametrize("algo,n", [(HashAlgo.SHA_256, 32), (HashAlgo.SHA_512, 64)])
def test_measurements_are_five_zero_slots_of_the_hash_size(algo, n):
    realm = _realm(algo=algo)
    assert realm.measurements == [bytes(n)] * 5 and realm.rim == bytes(n)
    realm.measurements[0] = b"\x01" * n
    assert realm.rim == b"\x01" * n


def test_a_new_rec_is_ready_with_nothing_pending():
    rec = Rec(rec=0x1000, rd=0x2000, index=0, mpidr=0, runnable=True, pc=0, gprs=[0] * 31)
    assert rec.state == RecState.READY and rec.psci_pending is None and rec.ripas is None
    assert rec.host_call is None and rec.last_exit == {} and rec.exits == 0 and rec.cpu is None
    other = Rec(rec=0x3000, rd=0x2000, index=1, mpidr=1, runnable=False, pc=0, gprs=[0] * 31)
    other.last_exit["reason"] = 1
    assert rec.last_exit == {}  # no shared default


def test_a_ripas_change_remembers_how_far_the_host_got():
    ch = RipasChange(base=0x1000, top=0x5000, addr=0x1000, value=1, change_destroyed=False)
    ch.addr = 0x3000
    assert (ch.base, ch.addr, ch.top) == (0x1000, 0x3000, 0x5000)
