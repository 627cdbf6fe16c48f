"""Conformance of RMI_PSCI_COMPLETE: the host completes a realm's PSCI CPU_ON / AFFINITY_INFO."""

import pytest

import ccalab.guest
from ccalab.firmware.psci import PsciFid, PsciReturn, as_signed
from ccalab.firmware.rmm import RmiStatus
from ccalab.firmware.rmm.exits import ExitReason
from ccalab.firmware.rmm.objects import RecState

from .._realmkit import Case, Change, Conformance, Kit, S, change, granule_changes

COMPLETE = "RMI_PSCI_COMPLETE"
SUCCESS, DENIED = PsciReturn.SUCCESS.register, PsciReturn.DENIED.register


@ccalab.guest.program("test-psci-complete")
def _program(cpu):
    """CPU 0 starts CPU 1 and asks after it, then starts CPU 2; CPU 1 starts CPU 2 too."""
    if cpu.index == 0:
        cpu.notes["on1"] = yield from cpu.cpu_on(1, 0, 0xC0FFEE)
        cpu.notes["aff1"] = yield from cpu.affinity_info(1)
        cpu.notes["on2"] = yield from cpu.cpu_on(2, 0, 0x2)
    elif cpu.index == 1:
        cpu.notes["context"] = cpu.gprs[0]
        cpu.notes["on2"] = yield from cpu.cpu_on(2, 0, 0x1)
    yield from cpu.system_off()


def psci_realm(kit, recs=4):
    realm = kit.realm()
    kit.image(realm, "test-psci-complete")
    pas = [kit.rec(realm, runnable=(k == 0)) for k in range(recs)]
    kit.activate(realm)
    return realm, pas


def notes(p, rec):
    return p.rmm.recs[rec].cpu.cpu.notes


def baseline(kit):
    realm, recs = psci_realm(kit)
    run = kit.run_page()
    ex = kit.enter(recs[0], run)
    assert ex["exit_reason"] == ExitReason.PSCI and ex["gprs"][:4] == [PsciFid.CPU_ON, 1, 0, 0xC0FFEE]
    return Case(kit, COMPLETE, {"calling": recs[0], "target": recs[1], "status": SUCCESS},
                ctx={"realm": realm, "recs": recs, "run": run})


def _set(**values):
    return Change(frozenset(values), lambda c: c.args.update(values))


def _calling_running(case):
    # Not reachable from the host: a REC is RUNNING only inside its own REC_ENTER, and the model runs
    # one command at a time. Set it as another CPU's REC_ENTER would.
    case.p.rmm.recs[case.args["calling"]].state = RecState.RUNNING


@change("target")
def _other_realm(case):
    other, recs = psci_realm(case.kit, recs=2)
    case.args["target"] = recs[1]  # index 1, as asked, but of another realm


CHANGES = {
    **granule_changes("calling", "calling", S.REC),
    **granule_changes("target", "target", S.REC),
    "alias": Change(frozenset({"target"}), lambda c: c.args.update(target=c.args["calling"])),
    "calling_running": Change(frozenset({"calling.state"}), _calling_running),
    "pending": Change(frozenset({"calling"}), lambda c: c.args.update(calling=c.ctx["recs"][3])),  # asked nothing
    "owner": _other_realm,
    "target_index": Change(frozenset({"target"}), lambda c: c.args.update(target=c.ctx["recs"][2])),
    "status": _set(status=PsciReturn.INVALID_PARAMS.register),
}


def check_success(case, out):
    p, kit = case.p, case.kit
    c, t = (p.rmm.recs[case.args[k]] for k in ("calling", "target"))
    assert t.runnable and t.pc == 0 and t.gprs[0] == 0xC0FFEE and c.psci_pending is None
    ex = kit.enter(c.rec, case.ctx["run"])  # the caller sees SUCCESS and goes on to AFFINITY_INFO
    assert notes(p, c.rec)["on1"] == PsciReturn.SUCCESS
    assert ex["exit_reason"] == ExitReason.PSCI and ex["gprs"][:3] == [PsciFid.AFFINITY_INFO, 1, 0]
    kit.enter(t.rec)  # and CPU 1 runs from the entry point with the context id
    assert notes(p, t.rec)["context"] == 0xC0FFEE


T = Conformance(COMPLETE, baseline, CHANGES, check_success)
(test_psci_complete_changes_cover_the_spec, test_psci_complete_baseline_succeeds,
 test_psci_complete_each_condition, test_psci_complete_first_failing_condition_wins) = T.tests()


@pytest.mark.parametrize("status", [1, PsciReturn.ALREADY_ON.register, PsciReturn.NOT_SUPPORTED.register,
                                    (1 << 64) - 1000])
def test_cpu_on_completes_only_with_success_or_denied(p, status):
    case = baseline(Kit(p))
    case.args["status"] = status
    T.expect_failure(case, "status", 0)


def test_cpu_on_denied_leaves_the_target_off_and_the_caller_sees_denied(p):
    kit = Kit(p)
    case = baseline(kit)
    case.args["status"] = DENIED
    assert case.call() == (RmiStatus.SUCCESS,)
    recs = case.ctx["recs"]
    assert not p.rmm.recs[recs[1]].runnable
    kit.enter(recs[0], case.ctx["run"])
    assert notes(p, recs[0])["on1"] == PsciReturn.DENIED
    out = kit.call("RMI_REC_ENTER", recs[1], kit.run_page())
    assert out[0] == RmiStatus.ERROR_REC and p.rmm.last_failure == "rec_runnable"


@pytest.mark.parametrize("status,target_on", [(0, True), (1, False)])
def test_affinity_info_completes_with_on_or_off(p, status, target_on):
    kit = Kit(p)
    case = baseline(kit)
    recs, run = case.ctx["recs"], case.ctx["run"]
    kit.ok(COMPLETE, recs[0], recs[1], SUCCESS if target_on else DENIED)
    ex = kit.enter(recs[0], run)
    assert ex["gprs"][:3] == [PsciFid.AFFINITY_INFO, 1, 0]
    for bad in (DENIED, 1):  # AFFINITY_INFO completes only with SUCCESS
        T.expect_failure(Case(kit, COMPLETE, {"calling": recs[0], "target": recs[1], "status": bad}), "status", 0)
    kit.ok(COMPLETE, recs[0], recs[1], SUCCESS)
    kit.enter(recs[0], run)
    assert notes(p, recs[0])["aff1"] == status  # 0 ON, 1 OFF


def test_cpu_on_of_a_cpu_that_came_on_meanwhile_is_already_on_and_denied_is_refused(p):
    kit = Kit(p)
    case = baseline(kit)
    recs, run = case.ctx["recs"], case.ctx["run"]
    kit.ok(COMPLETE, recs[0], recs[1], SUCCESS)
    kit.enter(recs[0], run)  # AFFINITY_INFO(1)
    kit.ok(COMPLETE, recs[0], recs[1], SUCCESS)
    ex = kit.enter(recs[0], run)  # CPU_ON(2) from CPU 0: pending
    assert ex["gprs"][:2] == [PsciFid.CPU_ON, 2]
    ex1 = kit.enter(recs[1])  # CPU_ON(2) from CPU 1: pending too
    assert ex1["gprs"][:2] == [PsciFid.CPU_ON, 2]
    kit.ok(COMPLETE, recs[1], recs[2], SUCCESS)  # CPU 2 is now on
    T.expect_failure(Case(kit, COMPLETE, {"calling": recs[0], "target": recs[2], "status": DENIED}), "status", 0)
    kit.ok(COMPLETE, recs[0], recs[2], SUCCESS)
    kit.enter(recs[0], run)
    assert as_signed(notes(p, recs[0])["on2"]) == PsciReturn.ALREADY_ON
    assert p.rmm.recs[recs[2]].gprs[0] == 0x1  # CPU 1's context id, not CPU 0's


def test_a_completed_request_cannot_be_completed_twice(p):
    kit = Kit(p)
    case = baseline(kit)
    assert case.call() == (RmiStatus.SUCCESS,)
    T.expect_failure(case, "pending", 0)
