"""Conformance of RMI_REC_CREATE, RMI_REC_DESTROY and RMI_REC_AUX_COUNT."""

import pytest

from ccalab import PAS
from ccalab.firmware.rmm import RmiStatus
from ccalab.firmware.rmm.measurement import extend_rec
from ccalab.firmware.rmm.objects import RecState
from ccalab.firmware.rmm.rmi.rec import REC_AUX_COUNT, index_mpidr, mpidr_index
from ccalab.firmware.rmm.status import unpack
from ccalab.firmware.rmm.structs import REC_PARAMS

from .._realmkit import Case, Change, Conformance, Kit, S, granule_changes, h, ns_pointer_changes

CREATE, DESTROY, AUX_COUNT = "RMI_REC_CREATE", "RMI_REC_DESTROY", "RMI_REC_AUX_COUNT"


# --- RMI_REC_CREATE ----------------------------------------------------------------------------------------
def create_baseline(kit: Kit) -> Case:
    realm = kit.realm()
    prm = kit.rec_params(0, runnable=True, pc=0x1000, gprs=[1, 2, 3, 4, 5, 6, 7, 8])
    case = Case(kit, CREATE, {"rd": realm.rd, "rec": kit.granule()}, ctx={"prm": prm, "realm": realm})
    case.args["params_ptr"] = lambda: kit.params_page(REC_PARAMS, case.ctx["prm"])
    return case


def _prm(key, value):
    def apply(case):
        case.ctx["prm"][key] = value(case) if callable(value) else value

    return Change(frozenset({f"prm.{key}"}), apply)


def _aux(pick):
    def apply(case):
        case.ctx["prm"]["aux"][0] = pick(case)

    return Change(frozenset({"prm.aux"}), apply)


def _aux_alias(case):
    aux = case.ctx["prm"]["aux"]
    aux[5] = aux[2]  # the same granule twice


def _rd_refcount(case):
    # Not reachable from the host: the RD's refcount would need 2^32 - 1 RECs. Set it directly,
    # just before the call, and skip the invariant scan for that call (the count no longer
    # matches the RECs).
    def edit(case):
        g = case.p.rmm.granules
        rd = case.ctx["realm"].rd
        g.refcount_add(rd, (1 << 32) - 1 - g.refcount(rd))

    case.before_call.append(edit)
    case.debug = False


CREATE_CHANGES = {
    **ns_pointer_changes("params_ptr", "params"),
    "num_aux": _prm("num_aux", 17),
    "aux_align": _aux(lambda c: c.ctx["prm"]["aux"][0] + 8),
    "aux_bound": _aux(lambda c: 1 << 52),
    "aux_state": _aux(lambda c: c.kit.ns()),
    "aux_alias": Change(frozenset({"prm.aux"}), _aux_alias),
    **granule_changes("rec", "rec", S.DELEGATED),
    **granule_changes("rd", "rd", S.RD),
    "rd_refcount": Change(frozenset({"rd.refcount"}), _rd_refcount),
    "realm_state": Change(frozenset({"realm.state"}), lambda c: c.kit.activate(c.ctx["realm"])),
    "mpidr_valid": _prm("mpidr", 1 << 4),  # Aff0[7:4]: outside RmiRecMpidr
    "mpidr_index": _prm("mpidr", index_mpidr(1)),  # REC 1 before REC 0
    "num_aux_count": _prm("num_aux", REC_AUX_COUNT - 1),
}


def check_create_success(case, out):
    p, prm, realm, rec = case.p, case.ctx["prm"], case.ctx["realm"], case.args["rec"]
    g = p.rmm.granules
    assert g.state(rec) == S.REC and all(g.state(a) == S.REC_AUX for a in prm["aux"])
    assert g.refcount(realm.rd) == 1 and realm.rec_index == 1 and realm.recs == [rec]
    r = p.rmm.recs[rec]
    assert (r.rd, r.index, r.mpidr, r.runnable, r.pc, r.state) == (realm.rd, 0, 0, True, 0x1000, RecState.READY)
    assert r.gprs[:8] == [1, 2, 3, 4, 5, 6, 7, 8] and r.aux == tuple(prm["aux"])
    # the RIM: H(desc_rec) with desc_rec = type 1, len 0x100, old RIM, H(params with flags, pc, gprs only)
    old = case.ctx["rim_before"]
    image = bytearray(4096)
    image[0] = 1
    image[0x200:0x208] = (0x1000).to_bytes(8, "little")
    for i in range(8):
        image[0x300 + 8 * i:0x308 + 8 * i] = (i + 1).to_bytes(8, "little")
    desc = bytearray(0x100)
    desc[0], desc[8:16] = 1, (0x100).to_bytes(8, "little")
    desc[0x10:0x10 + 32] = old
    desc[0x50:0x50 + 32] = h(0, bytes(image))
    assert realm.measurements[0] == h(0, bytes(desc))


def create_baseline_with_rim(kit):
    case = create_baseline(kit)
    case.ctx["rim_before"] = case.ctx["realm"].measurements[0]
    return case


T = Conformance(CREATE, create_baseline_with_rim, CREATE_CHANGES, check_create_success)
(test_rec_create_changes_cover_the_spec, test_rec_create_baseline_succeeds, test_rec_create_each_condition,
 test_rec_create_first_failing_condition_wins) = T.tests()


@pytest.mark.parametrize("which", ["rec", "rd"])
def test_rec_create_refuses_an_aux_granule_that_is_the_rec_or_the_rd(p, which):
    kit = Kit(p)
    case = create_baseline(kit)
    case.ctx["prm"]["aux"][3] = case.args[which]
    # the REC is DELEGATED, so only the alias check catches it; the RD is not DELEGATED at all
    T.expect_failure(case, "aux_alias" if which == "rec" else "aux_state", 0)


def test_rec_create_in_index_order_and_after_a_destroy_the_index_keeps_growing(p):
    kit = Kit(p)
    realm = kit.realm()
    r0 = kit.rec(realm)
    r1 = kit.rec(realm, runnable=False)
    kit.ok(DESTROY, r1)
    case = Case(kit, CREATE, {"rd": realm.rd, "rec": kit.granule(), "params_ptr": kit.params_page(
        REC_PARAMS, kit.rec_params(1))})
    T.expect_failure(case, "mpidr_index", 0)  # index 1 was used once; the next is 2
    r2 = kit.rec(realm, runnable=False)
    assert p.rmm.recs[r2].index == 2 and realm.recs == [r0, None, r2]


@pytest.mark.parametrize("index", [0, 1, 15, 16, 0x12345])
def test_mpidr_index_and_index_mpidr_are_inverse(index):
    mpidr = index_mpidr(index)
    assert mpidr & ~(0xF | 0xFFFFFF00) == 0
    assert mpidr_index(mpidr) == index


@pytest.mark.parametrize("mpidr", [1 << 4, 1 << 7, 1 << 32, 1 << 63])
def test_mpidr_bits_outside_the_affinity_fields_are_invalid(mpidr):
    assert mpidr_index(mpidr) is None


def test_mpidr_index_packs_the_affinity_fields():
    assert mpidr_index(0x0302_0105) == 5 | 1 << 4 | 2 << 12 | 3 << 20


def test_rec_create_refuses_more_recs_than_features_offers(p):
    kit = Kit(p)
    realm = kit.realm()
    with kit.quiet():
        for _ in range(16):
            kit.rec(realm, runnable=False)
    case = Case(kit, CREATE, {"rd": realm.rd, "rec": kit.granule(), "params_ptr": kit.params_page(
        REC_PARAMS, kit.rec_params(16))})
    T.expect_failure(case, "mpidr_valid", 0)  # MAX_RECS_ORDER 4: indexes 0..15


def test_a_non_runnable_rec_is_not_measured_and_a_runnable_one_is(p):
    kit = Kit(p)
    realm = kit.realm()
    rim = realm.measurements[0]
    kit.rec(realm, runnable=False)
    assert realm.measurements[0] == rim
    prm = kit.rec_params(1, runnable=True, pc=0x2000, gprs=[9])
    kit.ok(CREATE, realm.rd, kit.granule(), kit.params_page(REC_PARAMS, prm))
    assert realm.measurements[0] == extend_rec(0, rim, prm) != rim


def test_rec_create_does_not_measure_mpidr_or_aux(p):
    kit = Kit(p)
    a, b = kit.realm(), kit.realm()
    kit.rec(a)
    kit.rec(b, runnable=False)
    prm = kit.rec_params(1)
    kit.ok(CREATE, b.rd, kit.granule(), kit.params_page(REC_PARAMS, prm))
    assert a.measurements[0] == b.measurements[0]


# --- RMI_REC_DESTROY ---------------------------------------------------------------------------------------
def destroy_baseline(kit: Kit) -> Case:
    realm = kit.realm()
    rec = kit.rec(realm)
    return Case(kit, DESTROY, {"rec": rec}, ctx={"realm": realm, "aux": kit.p.rmm.recs[rec].aux})


def _running(case):
    # Not reachable from the host: the model runs one command at a time, so a REC is RUNNING only
    # inside its own REC_ENTER. Set it directly (as another CPU's REC_ENTER would).
    case.p.rmm.recs[case.args["rec"]].state = RecState.RUNNING


DESTROY_CHANGES = {**granule_changes("rec", "rec", S.REC), "rec_running": Change(frozenset({"rec.state"}), _running)}


def check_destroy_success(case, out):
    p, realm, rec = case.p, case.ctx["realm"], case.args["rec"]
    g = p.rmm.granules
    assert rec not in p.rmm.recs and realm.recs == [None] and g.refcount(realm.rd) == 0
    aux = list(case.ctx["aux"])
    assert len(aux) == REC_AUX_COUNT and g.counts()[S.REC_AUX] == 0
    for pa in [rec] + aux:
        assert g.state(pa) == S.DELEGATED
        assert p.phys_read(pa, 4096, PAS.REALM) == bytes(4096)


T_DES = Conformance(DESTROY, destroy_baseline, DESTROY_CHANGES, check_destroy_success)
(test_rec_destroy_changes_cover_the_spec, test_rec_destroy_baseline_succeeds, test_rec_destroy_each_condition,
 test_rec_destroy_first_failing_condition_wins) = T_DES.tests()


def test_rec_destroy_refuses_an_aux_granule(p):
    kit = Kit(p)
    case = destroy_baseline(kit)
    case.args["rec"] = p.rmm.recs[case.args["rec"]].aux[0]
    T_DES.expect_failure(case, "rec_state", 0)


def test_rec_destroy_lets_the_realm_be_destroyed(p):
    kit = Kit(p)
    case = destroy_baseline(kit)
    assert unpack(kit.call("RMI_REALM_DESTROY", case.ctx["realm"].rd)[0]) == (RmiStatus.ERROR_REALM, 0)
    kit.ok(DESTROY, case.args["rec"])
    kit.ok("RMI_REALM_DESTROY", case.ctx["realm"].rd)


# --- RMI_REC_AUX_COUNT ---------------------------------------------------------------------------------------
def aux_count_baseline(kit: Kit) -> Case:
    return Case(kit, AUX_COUNT, {"rd": kit.realm().rd})


def check_aux_count(case, out):
    assert out == (RmiStatus.SUCCESS, REC_AUX_COUNT) and REC_AUX_COUNT <= 16


T_AUX = Conformance(AUX_COUNT, aux_count_baseline, granule_changes("rd", "rd", S.RD), check_aux_count)
(test_rec_aux_count_changes_cover_the_spec, test_rec_aux_count_baseline_succeeds, test_rec_aux_count_each_condition,
 _no_pairs) = T_AUX.tests()  # rd_align, rd_bound, rd_state all concern rd: no two can fail together
assert not T_AUX.pairs()


def test_rec_aux_count_is_the_same_in_every_realm_state(p):
    kit = Kit(p)
    realm = kit.realm()
    first = kit.ok(AUX_COUNT, realm.rd)
    kit.activate(realm)
    assert kit.ok(AUX_COUNT, realm.rd) == first
