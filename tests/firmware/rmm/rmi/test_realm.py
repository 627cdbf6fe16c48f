"""Conformance of RMI_REALM_CREATE, RMI_REALM_ACTIVATE and RMI_REALM_DESTROY: each failure condition
alone and in pairs (the first failing one decides), then the success conditions."""

import pytest

from ccalab import PAS
from ccalab.firmware.rmm import RmiStatus, s2tt
from ccalab.firmware.rmm.objects import RealmState
from ccalab.firmware.rmm.s2tt import Hipas, Ripas
from ccalab.firmware.rmm.status import unpack
from ccalab.firmware.rmm.structs import REALM_PARAMS, REC_PARAMS, pack

from .._realmkit import GRANULE, Case, Change, Conformance, Kit, S, granule_changes, h, ns_pointer_changes

CREATE, ACTIVATE, DESTROY = "RMI_REALM_CREATE", "RMI_REALM_ACTIVATE", "RMI_REALM_DESTROY"


# --- RMI_REALM_CREATE ------------------------------------------------------------------------------------
def create_baseline(kit: Kit) -> Case:
    prm = kit.realm_params()
    rd = kit.granule()
    prm["rtt_base"] = kit.delegated(prm["rtt_num_start"])[0]
    case = Case(kit, CREATE, {"rd": rd}, ctx={"prm": prm})
    case.args["params_ptr"] = lambda: kit.params_page(REALM_PARAMS, case.ctx["prm"])
    return case


def _prm(**values):
    """A change to the RmiRealmParams the host writes. The model checks validity and support in
    TF-RMM's interleaved order (both ERROR_INPUT), so the two labels are not combined."""

    def apply(case):
        case.ctx["prm"].update({k: (v(case) if callable(v) else v) for k, v in values.items()})

    return apply


def _rtt_base(pick):
    def apply(case):
        case.ctx["prm"]["rtt_base"] = pick(case)

    return Change(frozenset({"prm.rtt_base"}), apply)


def _alias(case):
    case.args["rd"] = case.ctx["prm"]["rtt_base"]  # rd is the (delegated) root RTT itself


CREATE_CHANGES = {
    **ns_pointer_changes("params_ptr", "params"),
    "params_valid": Change(frozenset({"prm.validity"}), _prm(hash_algo=2)),
    "params_supp": Change(frozenset({"prm.validity"}), _prm(s2sz=49)),
    "alias": Change(frozenset({"rd", "prm.rtt_base"}), _alias),
    **granule_changes("rd", "rd", S.DELEGATED),
    "rtt_align": _rtt_base(lambda c: c.ctx["prm"]["rtt_base"] - 0x10),  # (+0x10 would cover the next page: alias)
    "rtt_bound": _rtt_base(lambda c: 1 << 52),  # not UART, which the rd change uses: that would alias
    "rtt_state": _rtt_base(lambda c: c.kit.ns()),
}


def check_create_success(case, out):
    p, prm, rd = case.p, case.ctx["prm"], case.args["rd"]
    g, realm = p.rmm.granules, p.rmm.realms[rd]
    assert g.state(rd) == S.RD and g.refcount(rd) == 0
    assert g.state(prm["rtt_base"]) == S.RTT and g.refcount(prm["rtt_base"]) == 0
    assert (realm.state, realm.rec_index, realm.recs) == (RealmState.NEW, 0, [])
    assert (realm.s2sz, realm.vmid, realm.rtt_base, realm.rtt_num_start) == (40, prm["vmid"], prm["rtt_base"], 1)
    measured = bytearray(4096)  # RIM = H(the params image with only the measured fields kept)
    for name, off in (("flags", 0), ("s2sz", 8), ("sve_vl", 0x10), ("num_bps", 0x18), ("num_wps", 0x20),
                      ("pmu_num_ctrs", 0x28), ("hash_algo", 0x30)):
        measured[off] = prm[name]
    assert realm.measurements[0] == h(0, bytes(measured))
    assert realm.measurements[1:] == [bytes(32)] * 4


T = Conformance(CREATE, create_baseline, CREATE_CHANGES, check_create_success)
(test_realm_create_changes_cover_the_spec, test_realm_create_baseline_succeeds,
 test_realm_create_each_condition, test_realm_create_first_failing_condition_wins) = T.tests()


@pytest.mark.parametrize("label,values", [
    ("params_valid", {"flags": 1 << 3}),  # a flag RMM 1.0 does not define
    ("params_supp", {"flags": 1}),  # LPA2: RmiFeatureRegister0.LPA2 = 0
    ("params_supp", {"flags": 2}),  # SVE
    ("params_supp", {"flags": 4}),  # PMU
    ("params_supp", {"s2sz": 31}),
    ("params_supp", {"s2sz": 49}),  # wider than the PA size (FEATURES S2SZ = 48)
    ("params_supp", {"num_bps": 0}), ("params_supp", {"num_bps": 7}),
    ("params_supp", {"num_wps": 0}), ("params_supp", {"num_wps": 5}),
    ("params_valid", {"rtt_level_start": 1}),  # 40 bits cannot start at level 1 with one table...
    ("params_valid", {"rtt_level_start": 4}),
    ("params_valid", {"rtt_level_start": -1}),  # level -1 exists only with LPA2
    ("params_valid", {"rtt_num_start": 2}),  # ...and s2sz 40 from level 0 needs exactly one root RTT
    ("params_valid", {"rtt_num_start": 0}),
    ("params_valid", {"hash_algo": 2}), ("params_valid", {"hash_algo": 0xFF}),
])
def test_realm_create_refuses_each_invalid_or_unsupported_parameter(p, label, values):
    kit = Kit(p)
    case = create_baseline(kit)
    case.ctx["prm"].update(values)
    T.expect_failure(case, label, 0)


def test_realm_create_refuses_a_vmid_in_use_and_accepts_it_once_free(p):
    kit = Kit(p)
    realm = kit.realm()
    case = create_baseline(kit)
    case.ctx["prm"]["vmid"] = realm.vmid
    T.expect_failure(case, "params_valid", 0)
    kit.ok(DESTROY, realm.rd)
    assert case.call()[0] == RmiStatus.SUCCESS  # REALM_DESTROY freed the VMID


@pytest.mark.parametrize("s2sz,sl,num", [(32, 2, 4), (34, 2, 16), (40, 1, 2), (42, 1, 8), (43, 1, 16),
                                         (48, 0, 1), (33, 1, 1)])
def test_realm_create_takes_the_concatenated_root_rtts_the_geometry_needs(p, s2sz, sl, num):
    kit = Kit(p)
    realm = kit.realm(s2sz=s2sz, sl=sl)
    assert realm.rtt_num_start == num == s2tt.rtt_num_start(s2sz, sl)
    roots = [realm.rtt_base + k * GRANULE for k in range(num)]
    assert all(p.rmm.granules.state(r) == S.RTT for r in roots)
    # the first entry of the unprotected half lies in the upper half of the concatenated tables
    par_top, size = realm.par_top, s2tt.LEVEL_SIZE[sl]
    assert kit.read_entry(realm, par_top - size, sl) == (sl, 0, 0, Ripas.EMPTY)
    assert kit.entry(realm, par_top, sl)[1] == Hipas.UNASSIGNED_NS
    assert kit.entry(realm, par_top - size, sl)[1:3] == (Hipas.UNASSIGNED, Ripas.EMPTY)


@pytest.mark.parametrize("k", [1, 3])
def test_realm_create_requires_every_root_rtt_delegated(p, k):
    kit = Kit(p)
    case = create_baseline(kit)
    prm = case.ctx["prm"]
    prm.update(s2sz=32, rtt_level_start=2, rtt_num_start=4)
    base = kit.delegated(4)[0]
    kit.ok("RMI_GRANULE_UNDELEGATE", base + k * GRANULE)
    prm["rtt_base"] = base
    T.expect_failure(case, "rtt_state", 0)


@pytest.mark.parametrize("s2sz,protected", [(48, 256), (40, 1)])
def test_realm_create_root_entries_are_unassigned_empty_in_the_par_and_unassigned_ns_above(p, s2sz, protected):
    kit = Kit(p)
    realm = kit.realm(s2sz=s2sz)
    names = [s2tt.name(int(e), 0) for e in p.rmm.rtt_entries(realm.rtt_base)]
    # entries beyond the IPA space are UNASSIGNED_NS too, as TF-RMM initialises them
    assert names == ["UNASSIGNED/EMPTY"] * protected + ["UNASSIGNED_NS"] * (512 - protected)


def test_realm_create_with_sha512_keeps_64_byte_measurements(p):
    kit = Kit(p)
    realm = kit.realm(hash_algo=1)
    prm = realm.params
    image = bytearray(4096)
    image[8], image[0x18], image[0x20], image[0x30] = prm["s2sz"], 1, 1, 1
    assert realm.measurements[0] == h(1, bytes(image)) and len(realm.measurements[0]) == 64
    assert realm.measurements[1:] == [bytes(64)] * 4


def test_realm_create_does_not_measure_rpv_vmid_or_rtt_fields(p):
    kit = Kit(p)
    a = kit.realm(rpv=b"A" * 64)
    b = kit.realm(rpv=b"B" * 64)
    c = kit.realm(s2sz=41)
    assert a.vmid != b.vmid and a.rtt_base != b.rtt_base
    assert a.measurements[0] == b.measurements[0] != c.measurements[0]


def test_realm_create_reads_the_params_page_as_the_host_wrote_it(p):
    kit = Kit(p)
    prm = kit.realm_params(rpv=bytes(range(64)))
    rd = kit.granule()
    prm["rtt_base"] = kit.granule()
    page = kit.params_page(REALM_PARAMS, prm)
    kit.ok(CREATE, rd, page)
    assert p.rmm.realms[rd].rpv == bytes(range(64))
    assert p.phys_read(page, 4096, PAS.NONSECURE) == bytes(pack(REALM_PARAMS, prm))  # the RMM only read it


# --- RMI_REALM_ACTIVATE ----------------------------------------------------------------------------------
def activate_baseline(kit: Kit) -> Case:
    realm = kit.realm()
    return Case(kit, ACTIVATE, {"rd": realm.rd}, ctx={"realm": realm})


def _activate_first(case):
    case.kit.activate(case.ctx["realm"])


ACTIVATE_CHANGES = {**granule_changes("rd", "rd", S.RD), "realm_state": Change(frozenset({"realm.state"}),
                                                                               _activate_first)}


def check_activate_success(case, out):
    realm = case.ctx["realm"]
    assert realm.state == RealmState.ACTIVE


T_ACT = Conformance(ACTIVATE, activate_baseline, ACTIVATE_CHANGES, check_activate_success)
(test_realm_activate_changes_cover_the_spec, test_realm_activate_baseline_succeeds,
 test_realm_activate_each_condition, test_realm_activate_first_failing_condition_wins) = T_ACT.tests()


def test_realm_activate_rejects_a_system_off_realm(p):
    kit = Kit(p)
    case = activate_baseline(kit)
    realm = case.ctx["realm"]
    kit.activate(realm)
    realm.transition(RealmState.SYSTEM_OFF)  # only a REC's PSCI SYSTEM_OFF gets here (rsi/test_psci.py)
    T_ACT.expect_failure(case, "realm_state", 0)


def test_realm_activate_freezes_the_rim(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.rtts(realm, 0)
    kit.activate(realm)
    rim = realm.measurements[0]
    out = kit.call("RMI_DATA_CREATE", realm.rd, kit.granule(), 0, kit.page(b"late"), 1)
    assert unpack(out[0]) == (RmiStatus.ERROR_REALM, 0)
    out = kit.call("RMI_RTT_INIT_RIPAS", realm.rd, 0, 0x1000)
    assert unpack(out[0]) == (RmiStatus.ERROR_REALM, 0)
    out = kit.call("RMI_REC_CREATE", realm.rd, kit.granule(), kit.params_page(REC_PARAMS, kit.rec_params()))
    assert unpack(out[0]) == (RmiStatus.ERROR_REALM, 0)
    assert realm.measurements[0] == rim


# --- RMI_REALM_DESTROY -----------------------------------------------------------------------------------
def destroy_baseline(kit: Kit) -> Case:
    realm = kit.realm()
    return Case(kit, DESTROY, {"rd": realm.rd}, ctx={"realm": realm})


def _live_rec(case):
    case.kit.rec(case.ctx["realm"])


DESTROY_CHANGES = {**granule_changes("rd", "rd", S.RD), "realm_live": Change(frozenset({"realm"}), _live_rec)}


def check_destroy_success(case, out):
    p, realm = case.p, case.ctx["realm"]
    g = p.rmm.granules
    assert realm.rd not in p.rmm.realms
    for pa in (realm.rd, realm.rtt_base):
        assert g.state(pa) == S.DELEGATED and g.refcount(pa) == 0
        assert p.phys_read(pa, 4096, PAS.REALM) == bytes(4096)


T_DES = Conformance(DESTROY, destroy_baseline, DESTROY_CHANGES, check_destroy_success)
(test_realm_destroy_changes_cover_the_spec, test_realm_destroy_baseline_succeeds,
 test_realm_destroy_each_condition, test_realm_destroy_first_failing_condition_wins) = T_DES.tests()


@pytest.mark.parametrize("ipa,what", [(0, "an RTT in the protected half"), (1 << 39, "an RTT in the unprotected half")])
def test_realm_destroy_refuses_a_realm_with_a_live_root_rtt(p, ipa, what):
    kit = Kit(p)
    case = destroy_baseline(kit)
    kit.rtts(case.ctx["realm"], ipa, 1)
    T_DES.expect_failure(case, "realm_live", 0)


def test_realm_destroy_is_allowed_in_every_state_once_empty(p):
    kit = Kit(p)
    for state in (RealmState.NEW, RealmState.ACTIVE, RealmState.SYSTEM_OFF):
        realm = kit.realm()
        if state != RealmState.NEW:
            kit.activate(realm)
        if state == RealmState.SYSTEM_OFF:
            realm.transition(RealmState.SYSTEM_OFF)  # a REC's PSCI SYSTEM_OFF (rsi/test_psci.py does it for real)
        kit.ok(DESTROY, realm.rd)


def test_realm_destroy_after_its_recs_and_rtts_are_gone_frees_everything(p):
    kit = Kit(p)
    realm = kit.realm()
    rtts = kit.rtts(realm, 0)
    data = kit.data(realm, 0x1000, b"secret")
    rec = kit.rec(realm)
    assert unpack(kit.call(DESTROY, realm.rd)[0]) == (RmiStatus.ERROR_REALM, 0)
    kit.ok("RMI_REC_DESTROY", rec)
    assert unpack(kit.call(DESTROY, realm.rd)[0]) == (RmiStatus.ERROR_REALM, 0)  # the RTTs are still live
    assert p.rmm.last_failure == "realm_live"
    kit.ok("RMI_DATA_DESTROY", realm.rd, 0x1000)
    for lvl in (3, 2, 1):
        kit.ok("RMI_RTT_DESTROY", realm.rd, 0, lvl)
    kit.ok(DESTROY, realm.rd)
    for pa in [realm.rd, realm.rtt_base, data, rec, *rtts]:
        kit.ok("RMI_GRANULE_UNDELEGATE", pa)
    assert p.rmm.granules.counts()[S.RD] == 0 and not p.rmm.realms


def test_realm_destroy_forgets_the_realm_so_its_rd_is_no_longer_an_rd(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.ok(DESTROY, realm.rd)
    for command in (ACTIVATE, DESTROY, "RMI_REC_AUX_COUNT"):
        assert unpack(kit.call(command, realm.rd)[0]) == (RmiStatus.ERROR_INPUT, 0)
        assert p.rmm.last_failure == "rd_state"

