"""Conformance of RMI_DATA_CREATE, RMI_DATA_CREATE_UNKNOWN and RMI_DATA_DESTROY."""

import pytest

from ccalab import PAS
from ccalab.firmware.rmm import RmiStatus
from ccalab.firmware.rmm.s2tt import Hipas, Ripas
from ccalab.firmware.rmm.status import unpack

from .._realmkit import MB, Case, Change, Conformance, Kit, S, change, granule_changes, h, ns_pointer_changes

CREATE, UNKNOWN, DESTROY = "RMI_DATA_CREATE", "RMI_DATA_CREATE_UNKNOWN", "RMI_DATA_DESTROY"
IPA = 0x3000
CONTENT = b"the realm's first page" * 100


def _set(**values):
    return Change(frozenset(values), lambda c: c.args.update(values))


@change("tree")
def _taken(case):
    case.kit.data(case.ctx["realm"], IPA)  # the entry is ASSIGNED already
    return 3


COMMON = {
    **granule_changes("data", "data", S.DELEGATED),
    **granule_changes("rd", "rd", S.RD),
    "ipa_align": _set(ipa=IPA + 0x10),
    "ipa_bound": _set(ipa=1 << 39),  # the unprotected half
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=2 * MB) or 2),  # no level-3 RTT there
    "rtt_state": _taken,
}


# --- RMI_DATA_CREATE ---------------------------------------------------------------------------------------
def create_baseline(kit):
    realm = kit.realm()
    kit.rtts(realm, IPA)
    return Case(kit, CREATE, {"rd": realm.rd, "data": kit.granule(), "ipa": IPA, "src": kit.page(CONTENT),
                              "flags": 1}, ctx={"realm": realm, "rim": realm.measurements[0]})


CREATE_CHANGES = {
    "flags_valid": _set(flags=2),
    **ns_pointer_changes("src", "src"),
    **COMMON,
    "realm_state": Change(frozenset({"realm.state"}), lambda c: c.kit.activate(c.ctx["realm"])),
}


def _desc(old, ipa, flags, content_hash):
    d = bytearray(0x100)
    d[0], d[8:16] = 0, (0x100).to_bytes(8, "little")
    d[0x10:0x10 + len(old)] = old
    d[0x50:0x58], d[0x58:0x60] = ipa.to_bytes(8, "little"), flags.to_bytes(8, "little")
    d[0x60:0x60 + len(content_hash)] = content_hash
    return bytes(d)


def check_create(case, out):
    p, realm, data = case.p, case.ctx["realm"], case.args["data"]
    assert p.rmm.granules.state(data) == S.DATA
    assert case.kit.read_entry(realm, IPA, 3) == (3, 1, data, Ripas.RAM)
    # the copy is under the realm's key: the RMM's own context (MECID 0) does not read it
    assert p.phys_read(data, 4096, PAS.REALM, realm.mecid)[:len(CONTENT)] == CONTENT
    assert p.phys_read(data, 4096, PAS.REALM)[:len(CONTENT)] != CONTENT
    assert p.gpc_check(data, PAS.NONSECURE) is not None
    page = CONTENT.ljust(4096, b"\0")
    assert realm.measurements[0] == h(0, _desc(case.ctx["rim"], IPA, 1, h(0, page)))


T = Conformance(CREATE, create_baseline, CREATE_CHANGES, check_create)
(test_data_create_changes_cover_the_spec, test_data_create_baseline_succeeds, test_data_create_each_condition,
 test_data_create_first_failing_condition_wins) = T.tests()


def test_data_create_without_measure_content_measures_only_ipa_and_flags(p):
    kit = Kit(p)
    case = create_baseline(kit)
    case.args["flags"] = 0
    assert case.call()[0] == RmiStatus.SUCCESS
    assert case.ctx["realm"].measurements[0] == h(0, _desc(case.ctx["rim"], IPA, 0, b""))


def test_data_create_makes_ram_of_an_entry_whatever_its_ripas(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.data(realm, 0x1000)
    kit.ok(DESTROY, realm.rd, 0x1000)
    assert kit.read_entry(realm, 0x1000, 3)[3] == Ripas.DESTROYED
    kit.init_ripas(realm, 0x2000, 0x3000)
    for ipa in (0x1000, 0x2000, 0x4000):  # DESTROYED, RAM, EMPTY
        pa = kit.data(realm, ipa)
        assert kit.read_entry(realm, ipa, 3) == (3, 1, pa, Ripas.RAM)


@pytest.mark.parametrize("src_state", ["rmm memory", "root memory"])
def test_data_create_refuses_a_source_the_host_cannot_read(p, src_state):
    kit = Kit(p)
    case = create_baseline(kit)
    case.args["src"] = p.region("Realm (RMM)" if src_state == "rmm memory" else "EL3 DRAM").base
    T.expect_failure(case, "src_pas", 0)


def test_data_create_refuses_the_src_and_data_granule_being_the_same(p):
    kit = Kit(p)
    case = create_baseline(kit)
    case.args["src"] = case.args["data"]  # DELEGATED: not host memory
    T.expect_failure(case, "src_state", 0)


def test_data_create_rtt_walk_reports_the_level_reached(p):
    kit = Kit(p)
    realm = kit.realm()
    case = Case(kit, CREATE, {"rd": realm.rd, "data": kit.granule(), "ipa": 0, "src": kit.page(), "flags": 0})
    T.expect_failure(case, "rtt_walk", 0)
    kit.rtts(realm, 0, 2)
    T.expect_failure(case, "rtt_walk", 2)


def test_data_create_is_measured_in_command_order(p):
    kit = Kit(p)
    a, b = kit.realm(), kit.realm()
    for realm, order in ((a, (0x1000, 0x2000)), (b, (0x2000, 0x1000))):
        for ipa in order:
            kit.data(realm, ipa, b"same content")
    assert a.measurements[0] != b.measurements[0]


def test_data_create_sha512_descriptor_holds_64_byte_hashes(p):
    kit = Kit(p)
    realm = kit.realm(hash_algo=1)
    rim = realm.measurements[0]
    kit.data(realm, IPA, CONTENT)
    page = CONTENT.ljust(4096, b"\0")
    assert realm.measurements[0] == h(1, _desc(rim, IPA, 1, h(1, page))) and len(rim) == 64


# --- RMI_DATA_CREATE_UNKNOWN --------------------------------------------------------------------------------
def unknown_baseline(kit):
    realm = kit.realm()
    kit.rtts(realm, IPA)
    kit.activate(realm)  # allowed in any realm state: the host backs RAM the running realm accepted
    return Case(kit, UNKNOWN, {"rd": realm.rd, "data": kit.granule(), "ipa": IPA},
                ctx={"realm": realm, "rim": realm.measurements[0]})


@change("tree")
def _taken_active(case):
    realm = case.ctx["realm"]
    case.kit.ok(UNKNOWN, realm.rd, case.kit.granule(), IPA)
    return 3


UNKNOWN_CHANGES = {**COMMON, "rtt_state": _taken_active}


def check_unknown(case, out):
    p, realm, data = case.p, case.ctx["realm"], case.args["data"]
    assert p.rmm.granules.state(data) == S.DATA
    assert case.kit.read_entry(realm, IPA, 3) == (3, 1, data, Ripas.EMPTY)  # keeps the entry's RIPAS
    assert p.phys_read(data, 4096, PAS.REALM, realm.mecid) == bytes(4096)
    assert realm.measurements[0] == case.ctx["rim"]  # not measured


T_UNK = Conformance(UNKNOWN, unknown_baseline, UNKNOWN_CHANGES, check_unknown)
(test_data_create_unknown_changes_cover_the_spec, test_data_create_unknown_baseline_succeeds,
 test_data_create_unknown_each_condition, test_data_create_unknown_first_failing_condition_wins) = T_UNK.tests()


def test_data_create_unknown_keeps_ram_and_destroyed(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.init_ripas(realm, 0x1000, 0x2000)
    kit.data(realm, 0x2000)
    kit.ok(DESTROY, realm.rd, 0x2000)
    kit.activate(realm)
    a, b = kit.data_unknown(realm, 0x1000), kit.data_unknown(realm, 0x2000)
    assert kit.entry(realm, 0x1000) == (3, Hipas.ASSIGNED, Ripas.RAM, a)
    assert kit.entry(realm, 0x2000) == (3, Hipas.ASSIGNED, Ripas.DESTROYED, b)


# --- RMI_DATA_DESTROY -----------------------------------------------------------------------------------------
def destroy_baseline(kit):
    realm = kit.realm()
    data = kit.data(realm, IPA, CONTENT)
    return Case(kit, DESTROY, {"rd": realm.rd, "ipa": IPA}, ctx={"realm": realm, "data": data})


DESTROY_CHANGES = {
    **granule_changes("rd", "rd", S.RD),
    "ipa_align": _set(ipa=IPA + 0x10),
    "ipa_bound": _set(ipa=1 << 39),
    "rtt_walk": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=2 * MB) or 2),
    "rtt_state": Change(frozenset({"ipa"}), lambda c: c.args.update(ipa=IPA + 0x1000) or 3),  # UNASSIGNED
}


def check_destroy(case, out):
    p, realm, data = case.p, case.ctx["realm"], case.ctx["data"]
    assert out == (RmiStatus.SUCCESS, data, 2 * MB)  # nothing else live in the level-3 RTT
    assert p.rmm.granules.state(data) == S.DELEGATED
    assert p.phys_read(data, 4096, PAS.REALM) == bytes(4096)
    assert case.kit.read_entry(realm, IPA, 3) == (3, 0, 0, Ripas.DESTROYED)


T_DES = Conformance(DESTROY, destroy_baseline, DESTROY_CHANGES, check_destroy)
(test_data_destroy_changes_cover_the_spec, test_data_destroy_baseline_succeeds, test_data_destroy_each_condition,
 test_data_destroy_first_failing_condition_wins) = T_DES.tests()


def test_data_destroy_keeps_empty_and_destroyed_ripas(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.data_unknown(realm, 0x1000)  # ASSIGNED/EMPTY
    kit.data(realm, 0x2000)
    kit.ok(DESTROY, realm.rd, 0x2000)
    kit.data_unknown(realm, 0x2000)  # ASSIGNED/DESTROYED
    kit.ok(DESTROY, realm.rd, 0x1000)
    kit.ok(DESTROY, realm.rd, 0x2000)
    assert kit.entry(realm, 0x1000)[1:3] == (Hipas.UNASSIGNED, Ripas.EMPTY)
    assert kit.entry(realm, 0x2000)[1:3] == (Hipas.UNASSIGNED, Ripas.DESTROYED)


def test_data_destroy_top_is_the_next_live_entry(p):
    kit = Kit(p)
    case = destroy_baseline(kit)
    realm = case.ctx["realm"]
    kit.data(realm, IPA + 0x5000)
    out = kit.ok(DESTROY, realm.rd, IPA)
    assert out[1:] == (case.ctx["data"], IPA + 0x5000)
    out = kit.call(DESTROY, realm.rd, IPA + 0x1000)  # nothing there: a failure that still reports the top
    assert unpack(out[0]) == (RmiStatus.ERROR_RTT, 3) and out[1:] == (0, IPA + 0x5000)
    out = kit.call(DESTROY, realm.rd, 4 * MB)  # a walk error: the top from the level-2 entry
    assert unpack(out[0]) == (RmiStatus.ERROR_RTT, 2) and out[2] == 1 << 30


def test_data_destroy_invalidates_the_realm_tlb(p):
    kit = Kit(p)
    case = destroy_baseline(kit)
    start = p.events.next_seq
    case.call()
    assert [e.data["vmid"] for e in p.events.since(start) if e.kind == "tlbi"] == [case.ctx["realm"].vmid]
