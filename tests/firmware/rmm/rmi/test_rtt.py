"""Conformance of the RTT commands: RTT_CREATE (unfold), RTT_DESTROY, RTT_FOLD, RTT_MAP_UNPROTECTED,
RTT_UNMAP_UNPROTECTED, RTT_READ_ENTRY, RTT_INIT_RIPAS and RTT_SET_RIPAS.

Entries are checked through RMI_RTT_READ_ENTRY (what the host sees) and through the walk and
``s2tt.decode`` (what the RMM stores)."""

import numpy as np
import pytest

import ccalab.guest
from ccalab import PAS
from ccalab.firmware.rmm import RmiStatus, s2tt
from ccalab.firmware.rmm.exits import ExitReason
from ccalab.firmware.rmm.measurement import extend_ripas
from ccalab.firmware.rmm.objects import RecState
from ccalab.firmware.rmm.rmi.rtt import _homogeneous
from ccalab.firmware.rmm.rsi.status import RsiFid
from ccalab.firmware.rmm.s2tt import Hipas, Ripas
from ccalab.firmware.rmm.status import unpack

from .._realmkit import GRANULE, MB, NS_ATTRS, Case, Change, Conformance, Kit, S, change, granule_changes

GB = 1 << 30
PAR_TOP = 1 << 39  # s2sz 40: the unprotected half starts here
L3_TABLE = 2 * MB  # what one level-3 RTT maps


def _set(**values):
    """A change that sets call arguments (touching those)."""

    def apply(case):
        case.args.update(values)

    return Change(frozenset(values), apply)


def _status(out):
    return unpack(out[0])


# --- RMI_RTT_CREATE ----------------------------------------------------------------------------------------
def create_baseline(kit):
    realm = kit.realm()
    return Case(kit, "RMI_RTT_CREATE", {"rd": realm.rd, "rtt": kit.granule(), "ipa": 0, "level": 1},
                ctx={"realm": realm})


@change("tree")
def _l1_exists(case):
    case.kit.rtts(case.ctx["realm"], 0, 1)
    return 0  # the parent (level 0) entry is already a table


CREATE_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    **granule_changes("rtt", "rtt", S.DELEGATED),
    "level_bound": _set(level=0),  # the root level is made by REALM_CREATE
    "ipa_align": _set(ipa=0x1000),
    "ipa_bound": _set(ipa=1 << 40),
    "rtt_walk": Change(frozenset({"level", "tree"}), lambda c: c.args.update(level=3) or 0),  # stops at level 0
    "rtt_entry": _l1_exists,
}


def check_create(case, out):
    p, realm, rtt = case.p, case.ctx["realm"], case.args["rtt"]
    g = p.rmm.granules
    assert g.state(rtt) == S.RTT and g.refcount(rtt) == 0 and g.refcount(realm.rtt_base) == 1
    assert case.kit.read_entry(realm, 0, 0) == (0, s2tt.RttEntryState.TABLE, rtt, Ripas.EMPTY)
    assert {s2tt.name(int(e), 1) for e in p.rmm.rtt_entries(rtt)} == {"UNASSIGNED/EMPTY"}


T_CREATE = Conformance("RMI_RTT_CREATE", create_baseline, CREATE_CHANGES, check_create)
(test_rtt_create_changes_cover_the_spec, test_rtt_create_baseline_succeeds, test_rtt_create_each_condition,
 test_rtt_create_first_failing_condition_wins) = T_CREATE.tests()


@pytest.mark.parametrize("have,level,index", [(0, 2, 0), (0, 3, 0), (1, 3, 1), (3, 3, 2), (2, 2, 1), (1, 1, 0)])
def test_rtt_create_reports_the_level_the_walk_reached(p, have, level, index):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0, have)
    case = Case(kit, "RMI_RTT_CREATE", {"rd": realm.rd, "rtt": kit.granule(), "ipa": 0, "level": level})
    label = "rtt_walk" if have < level - 1 else "rtt_entry"
    T_CREATE.expect_failure(case, label, index)


@pytest.mark.parametrize("level", [4, 5, 1 << 63, (1 << 64) - 1])
def test_rtt_create_refuses_levels_below_the_page_level(p, level):
    kit = Kit(p)
    case = create_baseline(kit)
    case.args["level"] = level
    T_CREATE.expect_failure(case, "level_bound", 0)


def test_rtt_create_in_a_level_1_realm_starts_at_level_2(p):
    kit = Kit(p)
    realm = kit.realm(s2sz=36, sl=1)
    case = Case(kit, "RMI_RTT_CREATE", {"rd": realm.rd, "rtt": kit.granule(), "ipa": 0, "level": 1})
    T_CREATE.expect_failure(case, "level_bound", 0)
    case.args["level"] = 2
    assert case.call()[0] == RmiStatus.SUCCESS


def _unfolded(kit, realm, ipa, level):
    """RTT_CREATE of the level-``level`` RTT for ``ipa``; its 512 entries decoded."""
    rtt = kit.granule()
    kit.ok("RMI_RTT_CREATE", realm.rd, rtt, ipa, level)
    return rtt, [s2tt.decode(int(e), level) for e in kit.p.rmm.rtt_entries(rtt)]


def test_rtt_create_unfolds_unassigned_ram_and_destroyed_entries(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0, 2)
    assert kit.init_ripas(realm, 2 * MB, 6 * MB) == 6 * MB  # two level-2 entries: blocks of RIPAS RAM
    _, ents = _unfolded(kit, realm, 2 * MB, 3)
    assert set(ents) == {(Hipas.UNASSIGNED, Ripas.RAM, 0)}
    rtt = kit.rtts(realm, 8 * MB)[0]
    kit.ok("RMI_RTT_DESTROY", realm.rd, 8 * MB, 3)  # its parent entry becomes UNASSIGNED/DESTROYED
    _, ents = _unfolded(kit, realm, 8 * MB, 3)
    assert set(ents) == {(Hipas.UNASSIGNED, Ripas.DESTROYED, 0)}
    assert p.rmm.granules.state(rtt) == S.DELEGATED


def _contiguous_data(kit, realm, ipa, n=512, content=lambda k: b"page %d" % k):
    """``n`` DATA granules at ``ipa`` onwards, physically contiguous from a 2 MiB-aligned PA."""
    kit.rtts(realm, ipa)
    with kit.quiet():
        pas = kit.delegated(n, align=2 * MB)
        for k, pa in enumerate(pas):
            kit.ok("RMI_DATA_CREATE", realm.rd, pa, ipa + k * GRANULE, kit.page(content(k)), 0)
    return pas


def test_rtt_fold_of_contiguous_data_makes_a_block_and_create_unfolds_it_again(p):
    kit = Kit(p)
    realm = kit.realm()
    pas = _contiguous_data(kit, realm, 0)
    l3 = kit.rtt_at(realm, 0, 3)
    l2 = kit.rtt_at(realm, 0, 2)
    assert p.rmm.granules.refcount(l3) == 512 and p.rmm.granules.refcount(l2) == 1
    assert kit.ok("RMI_RTT_FOLD", realm.rd, 0, 3) == (RmiStatus.SUCCESS, l3)
    assert kit.read_entry(realm, 0, 3) == (2, s2tt.RttEntryState.ASSIGNED, pas[0], Ripas.RAM)
    assert kit.entry(realm, 0x5000, 3) == (2, Hipas.ASSIGNED, Ripas.RAM, pas[0])
    assert p.rmm.granules.state(l3) == S.DELEGATED and p.rmm.granules.refcount(l2) == 1
    assert all(p.rmm.granules.state(pa) == S.DATA for pa in pas)
    # DATA_DESTROY of one page of the block needs the block unfolded first
    assert _status(kit.call("RMI_DATA_DESTROY", realm.rd, 0x5000)) == (RmiStatus.ERROR_RTT, 2)
    rtt, ents = _unfolded(kit, realm, 0, 3)
    assert ents == [(Hipas.ASSIGNED, Ripas.RAM, pa) for pa in pas]
    assert p.rmm.granules.refcount(rtt) == 512 and p.rmm.granules.refcount(l2) == 1
    assert kit.read_entry(realm, 0x5000, 3) == (3, s2tt.RttEntryState.ASSIGNED, pas[5], Ripas.RAM)
    assert kit.ok("RMI_DATA_DESTROY", realm.rd, 0x5000)[1] == pas[5]


def test_the_realm_reads_its_data_through_a_folded_block(p):
    kit = Kit(p)
    realm = kit.realm()
    pas = _contiguous_data(kit, realm, 0, content=lambda k: ccalab.guest.header("test-rtt-block-reader") if k == 0
                           else b"page %d" % k)
    kit.ok("RMI_RTT_FOLD", realm.rd, 0, 3)
    rec = kit.rec(realm)
    kit.activate(realm)
    kit.enter(rec)
    assert p.rmm.recs[rec].cpu.cpu.notes["read"] == b"page 300"
    assert len(pas) == 512


@ccalab.guest.program("test-rtt-block-reader")
def _block_reader(cpu):
    cpu.notes["read"] = (yield from cpu.read(300 * GRANULE, 8))
    yield from cpu.system_off()


def test_rtt_create_unfolds_an_assigned_ns_block_keeping_the_host_attributes(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP, 2)
    host = kit.ns(512, align=2 * MB)
    desc = host | (0b101 << 2) | (0b01 << 6)  # Normal non-cacheable, read-only
    kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP, 2, desc)
    assert kit.read_entry(realm, PAR_TOP, 3) == (2, s2tt.RttEntryState.ASSIGNED, desc, Ripas.EMPTY)
    rtt, ents = _unfolded(kit, realm, PAR_TOP, 3)
    assert ents == [(Hipas.ASSIGNED_NS, Ripas.EMPTY, host + k * GRANULE) for k in range(512)]
    assert kit.read_entry(realm, PAR_TOP + 7 * GRANULE, 3) == (3, 1, desc + 7 * GRANULE, Ripas.EMPTY)
    assert p.rmm.granules.refcount(rtt) == 512
    # and RTT_FOLD makes the block again
    assert kit.ok("RMI_RTT_FOLD", realm.rd, PAR_TOP, 3)[1] == rtt
    assert kit.read_entry(realm, PAR_TOP, 3) == (2, 1, desc, Ripas.EMPTY)


# --- RMI_RTT_DESTROY ----------------------------------------------------------------------------------------
def destroy_baseline(kit):
    realm = kit.realm()
    made = kit.rtts(realm, 0)
    return Case(kit, "RMI_RTT_DESTROY", {"rd": realm.rd, "ipa": 0, "level": 3}, ctx={"realm": realm, "rtts": made})


@change("tree")
def _live_child(case):
    case.kit.data(case.ctx["realm"], 0x1000)
    return 3


DESTROY_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "level_bound": _set(level=0),
    "ipa_align": _set(ipa=0x1000),
    "ipa_bound": _set(ipa=1 << 40),
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=GB) or 1),  # no level-2 RTT at 1 GiB
    "rtt_live": _live_child,
}


def check_destroy(case, out):
    p, realm = case.p, case.ctx["realm"]
    l1, l2, l3 = case.ctx["rtts"]
    assert out == (RmiStatus.SUCCESS, l3, GB)  # nothing else live in the level-2 table: its end
    g = p.rmm.granules
    assert g.state(l3) == S.DELEGATED and p.phys_read(l3, 4096, PAS.REALM) == bytes(4096)
    assert g.refcount(l2) == 0
    assert case.kit.read_entry(realm, 0, 3) == (2, 0, 0, Ripas.DESTROYED)


T_DESTROY = Conformance("RMI_RTT_DESTROY", destroy_baseline, DESTROY_CHANGES, check_destroy)
(test_rtt_destroy_changes_cover_the_spec, test_rtt_destroy_baseline_succeeds, test_rtt_destroy_each_condition,
 test_rtt_destroy_first_failing_condition_wins) = T_DESTROY.tests()


def test_rtt_destroy_in_the_unprotected_half_leaves_unassigned_ns(p):
    kit = Kit(p)
    realm = kit.realm()
    l1, l2, l3 = kit.rtts(realm, PAR_TOP)
    assert kit.ok("RMI_RTT_DESTROY", realm.rd, PAR_TOP, 3)[1] == l3
    assert kit.entry(realm, PAR_TOP, 3)[:2] == (2, Hipas.UNASSIGNED_NS)
    assert kit.read_entry(realm, PAR_TOP, 2) == (2, 0, 0, Ripas.EMPTY)


def test_rtt_destroy_top_is_the_next_live_entry_of_the_parent_table(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.rtts(realm, 10 * MB)
    out = kit.ok("RMI_RTT_DESTROY", realm.rd, 0, 3)
    assert out[2] == 10 * MB
    # a walk error reports the same top, from the entry where the walk stopped
    out = kit.call("RMI_RTT_DESTROY", realm.rd, 4 * MB, 3)
    assert _status(out) == (RmiStatus.ERROR_RTT, 2) and out[1:] == (0, 10 * MB)
    # the live error reports the IPA itself
    kit.data(realm, 10 * MB + 0x3000)
    out = kit.call("RMI_RTT_DESTROY", realm.rd, 10 * MB, 3)
    assert _status(out) == (RmiStatus.ERROR_RTT, 3) and out[2] == 10 * MB
    assert p.rmm.last_failure == "rtt_live"


def test_rtt_destroy_of_a_table_holding_a_table_is_live(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    out = kit.call("RMI_RTT_DESTROY", realm.rd, 0, 2)
    assert _status(out) == (RmiStatus.ERROR_RTT, 2) and p.rmm.last_failure == "rtt_live"


def test_rtt_destroy_of_an_unprotected_table_with_a_mapping_is_live(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP)
    kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP + 0x3000, 3, kit.ns() | NS_ATTRS)
    out = kit.call("RMI_RTT_DESTROY", realm.rd, PAR_TOP, 3)
    assert _status(out) == (RmiStatus.ERROR_RTT, 3) and out[2] == PAR_TOP


# --- RMI_RTT_FOLD -------------------------------------------------------------------------------------------
def fold_baseline(kit):
    realm = kit.realm()
    made = kit.rtts(realm, 0)
    return Case(kit, "RMI_RTT_FOLD", {"rd": realm.rd, "ipa": 0, "level": 3}, ctx={"realm": realm, "rtts": made})


@change("tree")
def _not_homogeneous(case):
    case.kit.data(case.ctx["realm"], 0x1000)
    return 3


FOLD_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "level_bound": _set(level=0),
    "ipa_align": _set(ipa=0x1000),
    "ipa_bound": _set(ipa=1 << 40),
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=GB) or 1),
    "rtt_entry": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=2 * MB) or 2),  # level-2 entry 1: no table
    "rtt_homo": _not_homogeneous,
}


def check_fold(case, out):
    p, realm = case.p, case.ctx["realm"]
    l1, l2, l3 = case.ctx["rtts"]
    assert out == (RmiStatus.SUCCESS, l3)
    assert p.rmm.granules.state(l3) == S.DELEGATED and p.rmm.granules.refcount(l2) == 0
    assert case.kit.read_entry(realm, 0, 3) == (2, 0, 0, Ripas.EMPTY)


T_FOLD = Conformance("RMI_RTT_FOLD", fold_baseline, FOLD_CHANGES, check_fold)
(test_rtt_fold_changes_cover_the_spec, test_rtt_fold_baseline_succeeds, test_rtt_fold_each_condition,
 test_rtt_fold_first_failing_condition_wins) = T_FOLD.tests()


def test_rtt_fold_of_unassigned_ram_gives_an_unassigned_ram_block(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.init_ripas(realm, 0, 2 * MB)
    kit.ok("RMI_RTT_FOLD", realm.rd, 0, 3)
    assert kit.read_entry(realm, 0, 3) == (2, 0, 0, Ripas.RAM)


def test_rtt_fold_refuses_mixed_ripas(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.init_ripas(realm, 0, 0x1000)
    T_FOLD.expect_failure(Case(kit, "RMI_RTT_FOLD", {"rd": realm.rd, "ipa": 0, "level": 3}), "rtt_homo", 3)


@pytest.mark.parametrize("how", ["misaligned", "swapped", "one missing", "mixed ripas"])
def test_rtt_fold_refuses_assigned_entries_that_cannot_be_one_block(p, how):
    kit = Kit(p)
    realm = kit.realm()
    if how == "misaligned":
        kit.rtts(realm, 0)
        with kit.quiet():
            pas = kit.delegated(513, align=2 * MB)[1:]
            for k, pa in enumerate(pas):
                kit.ok("RMI_DATA_CREATE_UNKNOWN", realm.rd, pa, k * GRANULE)
        # contiguous and all ASSIGNED/EMPTY, but the first PA is 4 KiB off a 2 MiB boundary
    else:
        pas = _contiguous_data(kit, realm, 0)
        if how == "swapped":
            for ipa in (0x1000, 0x2000):
                kit.ok("RMI_DATA_DESTROY", realm.rd, ipa)
            kit.ok("RMI_DATA_CREATE", realm.rd, pas[2], 0x1000, kit.page(), 0)
            kit.ok("RMI_DATA_CREATE", realm.rd, pas[1], 0x2000, kit.page(), 0)
        elif how == "one missing":
            kit.ok("RMI_DATA_DESTROY", realm.rd, 0x7000)
        else:  # one page RAM -> EMPTY is only possible for a running realm; DATA_CREATE_UNKNOWN keeps EMPTY
            kit.ok("RMI_DATA_DESTROY", realm.rd, 0x7000)  # RAM -> DESTROYED
            kit.ok("RMI_DATA_CREATE_UNKNOWN", realm.rd, pas[7], 0x7000)  # ASSIGNED/DESTROYED
    T_FOLD.expect_failure(Case(kit, "RMI_RTT_FOLD", {"rd": realm.rd, "ipa": 0, "level": 3}), "rtt_homo", 3)


def test_rtt_fold_refuses_a_table_of_tables(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    T_FOLD.expect_failure(Case(kit, "RMI_RTT_FOLD", {"rd": realm.rd, "ipa": 0, "level": 2}), "rtt_homo", 2)


def test_rtt_fold_refuses_unprotected_mappings_with_different_attributes(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP)
    host = kit.ns(512, align=2 * MB)
    with kit.quiet():
        for k in range(512):
            attrs = NS_ATTRS if k != 100 else (0b101 << 2) | (0b11 << 6)
            kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP + k * GRANULE, 3, (host + k * GRANULE) | attrs)
    T_FOLD.expect_failure(Case(kit, "RMI_RTT_FOLD", {"rd": realm.rd, "ipa": PAR_TOP, "level": 3}), "rtt_homo", 3)
    kit.ok("RMI_RTT_UNMAP_UNPROTECTED", realm.rd, PAR_TOP + 100 * GRANULE, 3)
    kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP + 100 * GRANULE, 3, (host + 100 * GRANULE) | NS_ATTRS)
    kit.ok("RMI_RTT_FOLD", realm.rd, PAR_TOP, 3)
    assert kit.read_entry(realm, PAR_TOP, 2) == (2, 1, host | NS_ATTRS, Ripas.EMPTY)


def test_rtt_fold_of_unassigned_ns_entries(p):
    kit = Kit(p)
    realm = kit.realm()
    l1, l2, l3 = kit.rtts(realm, PAR_TOP)
    assert kit.ok("RMI_RTT_FOLD", realm.rd, PAR_TOP, 3)[1] == l3
    assert kit.entry(realm, PAR_TOP, 3)[:2] == (2, Hipas.UNASSIGNED_NS)
    assert p.rmm.granules.refcount(l2) == 0


def test_no_assigned_block_at_level_0():
    """An RTT_FOLD of a level-1 RTT of 512 contiguous 1 GiB blocks would need 512 GiB of DATA: this
    checks the rule on the entries themselves."""
    pa0 = 1 << 39
    ents = np.array([s2tt.assigned(pa0 + k * GB, Ripas.RAM, 1) for k in range(512)], np.uint64)
    assert _homogeneous(ents, 1) is None
    ents2 = np.array([s2tt.assigned(pa0 + k * 2 * MB, Ripas.RAM, 2) for k in range(512)], np.uint64)
    assert _homogeneous(ents2, 2) == (s2tt.assigned(pa0, Ripas.RAM, 1), True)


# --- RMI_RTT_MAP_UNPROTECTED ---------------------------------------------------------------------------------
def map_baseline(kit):
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP)
    host = kit.page(b"shared with the realm")
    return Case(kit, "RMI_RTT_MAP_UNPROTECTED", {"rd": realm.rd, "ipa": PAR_TOP, "level": 3,
                                                 "desc": host | NS_ATTRS}, ctx={"realm": realm, "host": host})


@change("tree")
def _mapped_already(case):
    a = case.args
    case.kit.ok("RMI_RTT_MAP_UNPROTECTED", a["rd"], a["ipa"], a["level"], case.kit.ns() | NS_ATTRS)
    return 3


MAP_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "desc_valid": Change(frozenset({"desc"}), lambda c: c.args.update(desc=c.args["desc"] | 1) or 0),
    "level_bound": _set(level=4),
    "ipa_align": _set(ipa=PAR_TOP + 0x800),
    "ipa_bound": _set(ipa=1 << 40),
    "ipa_par": _set(ipa=0x1000),
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=PAR_TOP + GB) or 1),
    "rtt_entry": _mapped_already,
}


def check_map(case, out):
    p, realm, desc = case.p, case.ctx["realm"], case.args["desc"]
    assert case.kit.read_entry(realm, PAR_TOP, 3) == (3, s2tt.RttEntryState.ASSIGNED, desc, Ripas.EMPTY)
    assert case.kit.entry(realm, PAR_TOP, 3) == (3, Hipas.ASSIGNED_NS, Ripas.EMPTY, case.ctx["host"])
    assert p.rmm.granules.refcount(case.kit.rtt_at(realm, PAR_TOP, 3)) == 1


T_MAP = Conformance("RMI_RTT_MAP_UNPROTECTED", map_baseline, MAP_CHANGES, check_map)
(test_map_unprotected_changes_cover_the_spec, test_map_unprotected_baseline_succeeds,
 test_map_unprotected_each_condition, test_map_unprotected_first_failing_condition_wins) = T_MAP.tests()


@pytest.mark.parametrize("bad", [
    1 << 1,  # a bit outside OA, MemAttr[4:2] and S2AP[7:6]
    1 << 8, 1 << 10, 1 << 54, 1 << 55, 1 << 63,
    0b100 << 2,  # MemAttr 0b100 is reserved
    1 << 48,  # output address beyond 48 bits (no LPA2)
    0x800,  # output address not aligned to the page
])
def test_map_unprotected_refuses_each_invalid_descriptor(p, bad):
    kit = Kit(p)
    case = map_baseline(kit)
    host = case.ctx["host"]
    case.args["desc"] = (host | bad) if bad != 0b100 << 2 else (host | bad | (0b11 << 6))
    T_MAP.expect_failure(case, "desc_valid", 0)


def test_map_unprotected_of_a_2mb_block_needs_an_aligned_output_address(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP, 2)
    host = kit.ns(512, align=2 * MB)
    case = Case(kit, "RMI_RTT_MAP_UNPROTECTED", {"rd": realm.rd, "ipa": PAR_TOP, "level": 2,
                                                 "desc": (host + GRANULE) | NS_ATTRS})
    T_MAP.expect_failure(case, "desc_valid", 0)
    case.args["desc"] = host | NS_ATTRS
    assert case.call()[0] == RmiStatus.SUCCESS
    assert kit.read_entry(realm, PAR_TOP + 0x5000, 3) == (2, 1, host | NS_ATTRS, Ripas.EMPTY)


def test_map_unprotected_at_a_table_entry_reports_the_level(p):
    kit = Kit(p)
    case = map_baseline(kit)
    case.args.update(level=2, desc=kit.ns(512, align=2 * MB) | NS_ATTRS)  # the level-2 entry is a table
    T_MAP.expect_failure(case, "rtt_entry", 2)


def test_map_unprotected_lets_the_realm_read_the_host_page(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.image(realm, "test-rtt-shared-reader")
    kit.rtts(realm, PAR_TOP)
    host = kit.page(b"hello from the host")
    kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP, 3, host | NS_ATTRS)
    rec = kit.rec(realm)
    kit.activate(realm)
    kit.enter(rec)
    assert p.rmm.recs[rec].cpu.cpu.notes["shared"] == b"hello from the host"


@ccalab.guest.program("test-rtt-shared-reader")
def _shared_reader(cpu):
    cpu.notes["shared"] = yield from cpu.read(PAR_TOP, 19)
    yield from cpu.system_off()


# --- RMI_RTT_UNMAP_UNPROTECTED ---------------------------------------------------------------------------------
def unmap_baseline(kit):
    case = map_baseline(kit)
    assert case.call()[0] == RmiStatus.SUCCESS
    a = case.args
    return Case(kit, "RMI_RTT_UNMAP_UNPROTECTED", {"rd": a["rd"], "ipa": a["ipa"], "level": a["level"]},
                ctx=case.ctx)


UNMAP_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "level_bound": _set(level=0),  # unprotected mappings are made at levels 1..3
    "ipa_align": _set(ipa=PAR_TOP + 0x800),
    "ipa_bound": _set(ipa=1 << 40),
    "ipa_par": _set(ipa=0x1000),
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=PAR_TOP + GB) or 1),
    "rtt_entry": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=PAR_TOP + 0x1000) or 3),  # not mapped
}


def check_unmap(case, out):
    realm = case.ctx["realm"]
    assert out == (RmiStatus.SUCCESS, PAR_TOP + L3_TABLE)  # nothing else live in that table
    assert case.kit.entry(realm, PAR_TOP, 3)[:2] == (3, Hipas.UNASSIGNED_NS)
    assert case.p.rmm.granules.refcount(case.kit.rtt_at(realm, PAR_TOP, 3)) == 0


T_UNMAP = Conformance("RMI_RTT_UNMAP_UNPROTECTED", unmap_baseline, UNMAP_CHANGES, check_unmap)
(test_unmap_unprotected_changes_cover_the_spec, test_unmap_unprotected_baseline_succeeds,
 test_unmap_unprotected_each_condition, test_unmap_unprotected_first_failing_condition_wins) = T_UNMAP.tests()


def test_unmap_unprotected_top_is_the_next_live_entry(p):
    kit = Kit(p)
    case = unmap_baseline(kit)
    rd = case.args["rd"]
    kit.ok("RMI_RTT_MAP_UNPROTECTED", rd, PAR_TOP + 0x5000, 3, kit.ns() | NS_ATTRS)
    out = kit.call("RMI_RTT_UNMAP_UNPROTECTED", rd, PAR_TOP + 0x2000, 3)  # not mapped
    assert _status(out) == (RmiStatus.ERROR_RTT, 3) and out[1] == PAR_TOP + 0x5000
    out = kit.call("RMI_RTT_UNMAP_UNPROTECTED", rd, PAR_TOP + 0x5000, 3)  # mapped: the failure reports the IPA
    assert out[0] == RmiStatus.SUCCESS and out[1] == PAR_TOP + L3_TABLE
    out = kit.call("RMI_RTT_UNMAP_UNPROTECTED", rd, PAR_TOP, 3)
    assert out == (RmiStatus.SUCCESS, PAR_TOP + L3_TABLE)


def test_unmap_unprotected_at_the_wrong_level_reports_the_walk_level(p):
    kit = Kit(p)
    case = unmap_baseline(kit)
    case.args["level"] = 2
    out = T_UNMAP.expect_failure(case, "rtt_entry", 2)  # the level-2 entry is a table, not ASSIGNED_NS
    assert out[1] == PAR_TOP  # a live entry: the top is the IPA itself


def test_a_walk_that_stops_at_a_live_block_reports_the_ipa_itself_as_top(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, PAR_TOP, 2)
    host = kit.ns(512, align=2 * MB)
    kit.ok("RMI_RTT_MAP_UNPROTECTED", realm.rd, PAR_TOP, 2, host | NS_ATTRS)  # a live 2 MiB block
    case = Case(kit, "RMI_RTT_UNMAP_UNPROTECTED", {"rd": realm.rd, "ipa": PAR_TOP + 0x3000, "level": 3})
    out = T_UNMAP.expect_failure(case, "rtt_walk", 2)
    assert out[1] == PAR_TOP + 0x3000  # not the block's base: the walked entry is live
    case.args["ipa"] = PAR_TOP + 4 * MB + 0x3000  # past the block: the next live entry, or the table's end
    out = T_UNMAP.expect_failure(case, "rtt_walk", 2)
    assert out[1] == PAR_TOP + GB


def test_unmap_unprotected_invalidates_the_realm_tlb(p):
    kit = Kit(p)
    case = unmap_baseline(kit)
    start = p.events.next_seq
    case.call()
    tlbi = [e for e in p.events.since(start) if e.kind == "tlbi"]
    assert tlbi and tlbi[0].data["vmid"] == case.ctx["realm"].vmid and tlbi[0].data["ipa"] == PAR_TOP


# --- RMI_RTT_READ_ENTRY ---------------------------------------------------------------------------------------
def read_baseline(kit):
    realm = kit.realm()
    return Case(kit, "RMI_RTT_READ_ENTRY", {"rd": realm.rd, "ipa": 0, "level": 0}, ctx={"realm": realm})


READ_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "level_bound": _set(level=4),
    "ipa_align": _set(ipa=0x1000),
    "ipa_bound": _set(ipa=1 << 40),
}


def check_read(case, out):
    assert out == (RmiStatus.SUCCESS, 0, 0, 0, Ripas.EMPTY)


T_READ = Conformance("RMI_RTT_READ_ENTRY", read_baseline, READ_CHANGES, check_read)
(test_read_entry_changes_cover_the_spec, test_read_entry_baseline_succeeds, test_read_entry_each_condition,
 test_read_entry_first_failing_condition_wins) = T_READ.tests()


def test_read_entry_reports_every_entry_state(p):
    kit = Kit(p)
    realm = kit.realm()
    l1, l2, l3 = kit.rtts(realm, 0)
    rd = realm.rd
    ram = kit.data(realm, 0x1000)  # ASSIGNED/RAM
    kit.init_ripas(realm, 0x2000, 0x3000)  # UNASSIGNED/RAM
    gone = kit.data(realm, 0x3000)
    kit.ok("RMI_DATA_DESTROY", rd, 0x3000)  # UNASSIGNED/DESTROYED
    kit.ok("RMI_GRANULE_UNDELEGATE", gone)
    empty = kit.data_unknown(realm, 0x4000)  # ASSIGNED/EMPTY
    kit.data(realm, 0x5000)
    kit.ok("RMI_DATA_DESTROY", rd, 0x5000)
    destroyed = kit.data_unknown(realm, 0x5000)  # ASSIGNED/DESTROYED
    kit.rtts(realm, PAR_TOP)
    host = kit.ns()
    kit.ok("RMI_RTT_MAP_UNPROTECTED", rd, PAR_TOP + 0x1000, 3, host | NS_ATTRS)
    expect = {
        (0, 0): (0, 2, l1, Ripas.EMPTY), (0, 1): (1, 2, l2, Ripas.EMPTY), (0, 2): (2, 2, l3, Ripas.EMPTY),
        (0, 3): (3, 0, 0, Ripas.EMPTY),  # UNASSIGNED/EMPTY
        (0x1000, 3): (3, 1, ram, Ripas.RAM),
        (0x2000, 3): (3, 0, 0, Ripas.RAM),
        (0x3000, 3): (3, 0, 0, Ripas.DESTROYED),
        (0x4000, 3): (3, 1, empty, Ripas.EMPTY),
        (0x5000, 3): (3, 1, 0, Ripas.DESTROYED),  # TF-RMM reports no address for ASSIGNED/DESTROYED
        (GB, 3): (1, 0, 0, Ripas.EMPTY),  # the walk stops at the first non-table entry
        (PAR_TOP + 0x1000, 3): (3, 1, host | NS_ATTRS, Ripas.EMPTY),
        (PAR_TOP + 0x2000, 3): (3, 0, 0, Ripas.EMPTY),  # UNASSIGNED_NS
        (PAR_TOP + 4 * MB, 3): (2, 0, 0, Ripas.EMPTY),
    }
    got = {k: kit.read_entry(realm, *k) for k in expect}
    assert got == expect
    assert destroyed in p.rmm.granules.granules_in(S.DATA).tolist()


@pytest.mark.parametrize("s2sz,sl", [(36, 1), (32, 2)])
def test_read_entry_starts_at_the_realms_start_level(p, s2sz, sl):
    kit = Kit(p)
    realm = kit.realm(s2sz=s2sz, sl=sl)
    case = Case(kit, "RMI_RTT_READ_ENTRY", {"rd": realm.rd, "ipa": 0, "level": sl - 1})
    T_READ.expect_failure(case, "level_bound", 0)
    case.args["level"] = sl
    assert case.call() == (RmiStatus.SUCCESS, sl, 0, 0, Ripas.EMPTY)
    case.args["ipa"] = 1 << s2sz
    T_READ.expect_failure(case, "ipa_bound", 0)


# --- RMI_RTT_INIT_RIPAS -----------------------------------------------------------------------------------------
BASE, TOP = 2 * MB + 0x1000, 2 * MB + 0x3000


def init_baseline(kit):
    realm = kit.realm()
    made = kit.rtts(realm, BASE)
    return Case(kit, "RMI_RTT_INIT_RIPAS", {"rd": realm.rd, "base": BASE, "top": TOP},
                ctx={"realm": realm, "rtts": made, "rim": realm.measurements[0]})


@change("tree")
def _l3_gone(case):
    case.kit.ok("RMI_RTT_DESTROY", case.ctx["realm"].rd, 2 * MB, 3)
    return 2  # base is not aligned to the level-2 entry the walk ends at


@change("tree")
def _assigned_at_base(case):
    case.kit.data(case.ctx["realm"], BASE)
    return 3


INIT_CHANGES = {
    "size_valid": _set(base=TOP, top=TOP),
    **granule_changes("rd", "rd", S.RD),
    "base_align": _set(base=BASE + 0x800),
    "top_align": _set(top=TOP - 0x800),
    "region_par": _set(top=PAR_TOP + 0x1000),
    "realm_state": Change(frozenset({"realm.state"}), lambda c: c.kit.activate(c.ctx["realm"])),
    "base_walk_align": _l3_gone,
    "no_progress": _assigned_at_base,
}


def check_init(case, out):
    realm = case.ctx["realm"]
    assert out == (RmiStatus.SUCCESS, TOP)
    assert [case.kit.read_entry(realm, a, 3) for a in (BASE - 0x1000, BASE, BASE + 0x1000, TOP)] == [
        (3, 0, 0, Ripas.EMPTY), (3, 0, 0, Ripas.RAM), (3, 0, 0, Ripas.RAM), (3, 0, 0, Ripas.EMPTY)]
    rim = extend_ripas(0, extend_ripas(0, case.ctx["rim"], BASE, BASE + 0x1000), BASE + 0x1000, TOP)
    assert realm.measurements[0] == rim


T_INIT = Conformance("RMI_RTT_INIT_RIPAS", init_baseline, INIT_CHANGES, check_init)
(test_init_ripas_changes_cover_the_spec, test_init_ripas_baseline_succeeds, test_init_ripas_each_condition,
 test_init_ripas_first_failing_condition_wins) = T_INIT.tests()


def test_init_ripas_stops_at_the_end_of_the_rtt(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    assert kit.ok("RMI_RTT_INIT_RIPAS", realm.rd, 0x1FF000, 0x800000)[1] == 2 * MB


def test_init_ripas_on_level_2_entries_measures_one_descriptor_per_block(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0, 2)
    rim = realm.measurements[0]
    assert kit.ok("RMI_RTT_INIT_RIPAS", realm.rd, 4 * MB, 8 * MB + 0x1000)[1] == 8 * MB  # two whole blocks
    assert realm.measurements[0] == extend_ripas(0, extend_ripas(0, rim, 4 * MB, 6 * MB), 6 * MB, 8 * MB)
    assert kit.read_entry(realm, 4 * MB, 3) == (2, 0, 0, Ripas.RAM)
    out = kit.call("RMI_RTT_INIT_RIPAS", realm.rd, 8 * MB, 8 * MB + 0x1000)  # less than one block
    assert _status(out) == (RmiStatus.ERROR_RTT, 2) and p.rmm.last_failure == "no_progress"


def test_init_ripas_keeps_and_measures_ram_again_and_stops_at_destroyed(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.init_ripas(realm, 0x1000, 0x2000)
    rim = realm.measurements[0]
    assert kit.init_ripas(realm, 0x1000, 0x3000) == 0x3000
    assert realm.measurements[0] == extend_ripas(0, extend_ripas(0, rim, 0x1000, 0x2000), 0x2000, 0x3000)
    kit.data(realm, 0x4000)
    kit.ok("RMI_DATA_DESTROY", realm.rd, 0x4000)
    assert kit.init_ripas(realm, 0x3000, 0x5000) == 0x4000  # stops before the DESTROYED entry
    out = kit.call("RMI_RTT_INIT_RIPAS", realm.rd, 0x4000, 0x5000)
    assert _status(out) == (RmiStatus.ERROR_RTT, 3) and p.rmm.last_failure == "no_progress"


def test_init_ripas_walk_error_reports_the_level_reached(p):
    kit = Kit(p)
    realm = kit.realm()
    out = kit.call("RMI_RTT_INIT_RIPAS", realm.rd, 0x1000, 0x2000)
    assert _status(out) == (RmiStatus.ERROR_RTT, 0) and p.rmm.last_failure == "base_walk_align"


# --- RMI_RTT_SET_RIPAS ----------------------------------------------------------------------------------------
@ccalab.guest.program("test-rtt-ripas-request")
def _ripas_request(cpu):
    """Ask for the RIPAS change in X5 (base), X6 (top), X7 (ripas | flags << 8); note the answer."""
    base, top, value = cpu.gprs[5], cpu.gprs[6], cpu.gprs[7]
    cpu.notes["answer"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, base, top, value & 0xFF, value >> 8)
    yield from cpu.system_off()


def ripas_request(kit, base, top, ripas=Ripas.RAM, flags=0, prepare=None):
    """An active realm whose REC 0 has asked for [base, top) -> ripas and exited to the host."""
    realm = kit.realm()
    kit.image(realm, "test-rtt-ripas-request")
    kit.rtts(realm, base)
    if prepare is not None:
        prepare(realm)
    rec = kit.rec(realm, gprs=[0, 0, 0, 0, 0, base, top, int(ripas) | flags << 8])
    kit.activate(realm)
    run = kit.run_page()
    ex = kit.enter(rec, run)
    assert (ex["exit_reason"], ex["ripas_base"], ex["ripas_top"], ex["ripas_value"]) == (
        ExitReason.RIPAS_CHANGE, base, top, ripas)
    return realm, rec, run


SBASE, STOP = 2 * MB + 0x1000, 2 * MB + 0x3000


def set_baseline(kit):
    realm, rec, run = ripas_request(kit, SBASE, STOP)
    return Case(kit, "RMI_RTT_SET_RIPAS", {"rd": realm.rd, "rec": rec, "base": SBASE, "top": STOP},
                ctx={"realm": realm, "run": run})


def _rec_running(case):
    # Not reachable from the host: a REC is RUNNING only inside its own REC_ENTER, and the model runs
    # one command at a time. Set it as another CPU's REC_ENTER would.
    case.p.rmm.recs[case.args["rec"]].state = RecState.RUNNING


@change("rd", "rec.owner")
def _other_realm(case):
    case.args["rd"] = case.kit.realm().rd


@change("tree")
def _destroyed_entries(case):
    rd = case.ctx["realm"].rd
    case.kit.ok("RMI_RTT_DESTROY", rd, 2 * MB, 3)
    case.kit.ok("RMI_RTT_CREATE", rd, case.kit.granule(), 2 * MB, 3)  # 512 x UNASSIGNED/DESTROYED
    return 3


SET_CHANGES = {
    "size_valid": _set(top=SBASE),
    **granule_changes("rd", "rd", S.RD),
    **granule_changes("rec", "rec", S.REC),
    "rec_running": Change(frozenset({"rec.state"}), _rec_running),
    "rec_owner": _other_realm,
    "base_bound": _set(base=SBASE + 0x1000),
    "top_bound": _set(top=STOP + 0x1000),
    "base_walk_align": _l3_gone,
    "no_progress": _destroyed_entries,
}


def check_set(case, out):
    kit, realm, rec = case.kit, case.ctx["realm"], case.args["rec"]
    assert out == (RmiStatus.SUCCESS, STOP)
    assert [kit.read_entry(realm, a, 3)[3] for a in (SBASE - 0x1000, SBASE, SBASE + 0x1000, STOP)] == [
        Ripas.EMPTY, Ripas.RAM, Ripas.RAM, Ripas.EMPTY]
    assert kit.p.rmm.recs[rec].ripas.addr == STOP
    kit.enter(rec, case.ctx["run"])  # the realm learns the outcome: X1 = how far, X2 = ACCEPT
    assert kit.p.rmm.recs[rec].cpu.cpu.notes["answer"][:3] == (0, STOP, 0)


T_SET = Conformance("RMI_RTT_SET_RIPAS", set_baseline, SET_CHANGES, check_set)
(test_set_ripas_changes_cover_the_spec, test_set_ripas_baseline_succeeds, test_set_ripas_each_condition,
 test_set_ripas_first_failing_condition_wins) = T_SET.tests()


def test_set_ripas_in_steps_and_the_realm_sees_how_far_the_host_got(p):
    kit = Kit(p)
    realm, rec, run = ripas_request(kit, SBASE, STOP)
    assert kit.ok("RMI_RTT_SET_RIPAS", realm.rd, rec, SBASE, SBASE + 0x1000) == (0, SBASE + 0x1000)
    case = Case(kit, "RMI_RTT_SET_RIPAS", {"rd": realm.rd, "rec": rec, "base": SBASE, "top": STOP})
    T_SET.expect_failure(case, "base_bound", 0)  # the REC remembers where the host got to
    kit.enter(rec, run)
    assert p.rmm.recs[rec].cpu.cpu.notes["answer"][:3] == (0, SBASE + 0x1000, 0)


def test_set_ripas_without_a_request_is_refused(p):
    kit = Kit(p)
    realm = kit.realm()
    rec = kit.rec(realm)
    case = Case(kit, "RMI_RTT_SET_RIPAS", {"rd": realm.rd, "rec": rec, "base": 0, "top": 0x1000})
    T_SET.expect_failure(case, "base_bound", 0)


def test_set_ripas_to_empty_unmaps_assigned_ram_and_invalidates_the_tlb(p):
    kit = Kit(p)
    pages = {}

    def prepare(realm):
        pages["a"] = kit.data(realm, SBASE)

    realm, rec, run = ripas_request(kit, SBASE, STOP, Ripas.EMPTY, prepare=prepare)
    start = p.events.next_seq
    assert kit.ok("RMI_RTT_SET_RIPAS", realm.rd, rec, SBASE, STOP)[1] == STOP
    assert kit.read_entry(realm, SBASE, 3) == (3, 1, pages["a"], Ripas.EMPTY)  # still ASSIGNED, now EMPTY
    assert kit.entry(realm, SBASE, 3)[1:3] == (Hipas.ASSIGNED, Ripas.EMPTY)
    assert "tlbi" in p.events.kinds(start)


@pytest.mark.parametrize("flags", [0, 1])
def test_set_ripas_over_destroyed_needs_change_destroyed(p, flags):
    kit = Kit(p)

    def prepare(realm):
        kit.data(realm, SBASE + 0x1000)
        kit.ok("RMI_DATA_DESTROY", realm.rd, SBASE + 0x1000)  # RAM -> DESTROYED

    realm, rec, run = ripas_request(kit, SBASE, STOP, Ripas.RAM, flags, prepare=prepare)
    out = kit.ok("RMI_RTT_SET_RIPAS", realm.rd, rec, SBASE, STOP)
    assert out[1] == (SBASE + 0x1000 if flags == 0 else STOP)  # without the flag it stops at DESTROYED
    assert kit.read_entry(realm, SBASE + 0x1000, 3)[3] == (Ripas.DESTROYED if flags == 0 else Ripas.RAM)


def test_set_ripas_over_a_block_needs_the_block_unfolded(p):
    kit = Kit(p)
    realm, rec, run = ripas_request(kit, 4 * MB, 6 * MB, prepare=lambda r: None)
    kit.ok("RMI_RTT_FOLD", realm.rd, 4 * MB, 3)
    assert kit.ok("RMI_RTT_SET_RIPAS", realm.rd, rec, 4 * MB, 6 * MB) == (0, 6 * MB)  # one level-2 entry
    assert kit.read_entry(realm, 4 * MB, 3) == (2, 0, 0, Ripas.RAM)
