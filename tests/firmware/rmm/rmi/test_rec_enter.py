"""Conformance of RMI_REC_ENTER: failure conditions, the exit the host sees, and completing what
the last exit left open (emulated MMIO, an injected SEA)."""

import pytest

import ccalab.guest
from ccalab import PAS
from ccalab.firmware.rmm import RmiStatus
from ccalab.firmware.rmm.exits import EC_DABT_LOW, ExitReason
from ccalab.firmware.rmm.objects import RealmState, RecState
from ccalab.firmware.rmm.status import unpack
from ccalab.firmware.rmm.structs import ENTER_EMUL_MMIO, ENTER_INJECT_SEA, ENTER_TRAP_WFI
from ccalab.guest import SyncExternalAbort

from .._realmkit import Case, Change, Conformance, Kit, S, change, granule_changes, ns_pointer_changes

ENTER = "RMI_REC_ENTER"
MMIO = (1 << 39) + 0x10  # an unprotected IPA the host has not mapped: emulatable MMIO


@ccalab.guest.program("test-rec-enter")
def _program(cpu):
    """Read the MMIO register, then ask for CPU 1 (a PSCI exit), then store to MMIO forever."""
    try:
        cpu.notes["mmio"] = yield from cpu.load(MMIO, 4)
    except SyncExternalAbort as exc:
        cpu.notes["sea"] = exc.ipa
    cpu.notes["cpu_on"] = yield from cpu.cpu_on(1, 0, 0)
    while True:
        yield from cpu.store(MMIO + 8, 0x1234, 8)


@ccalab.guest.program("test-rec-enter-unbacked")
def _unbacked(cpu):
    """Touch protected RAM the host has not backed (a non-emulatable data abort), then wait."""
    cpu.notes["value"] = yield from cpu.load(0x5000)
    while True:
        yield from cpu.wfi()


def realm_with_recs(kit, program="test-rec-enter", activate=True, init_ram=False):
    """A realm running ``program`` with REC 0 (runnable) and REC 1 (not runnable)."""
    realm = kit.realm()
    kit.image(realm, program)
    if init_ram:
        kit.init_ripas(realm, 0x1000, 0x200000)
    recs = [kit.rec(realm), kit.rec(realm, runnable=False)]
    if activate:
        kit.activate(realm)
    return realm, recs


def baseline(kit):
    realm, recs = realm_with_recs(kit)
    case = Case(kit, ENTER, {"rec": recs[0]}, ctx={"realm": realm, "recs": recs,
                                                   "enter": {"flags": 0, "gicv3_hcr": 0, "lrs": ()}})
    run = kit.ns()
    case.ctx["run"] = run

    def run_ptr():
        e = case.ctx["enter"]
        kit.write_enter(run, e["flags"], (), e["gicv3_hcr"], e["lrs"])
        return run

    case.args["run_ptr"] = run_ptr
    return case


def _running(case):
    # Not reachable from the host: a REC is RUNNING only inside its own REC_ENTER, and the model
    # runs one command at a time. Set it as another CPU's REC_ENTER would.
    case.p.rmm.recs[case.args["rec"]].state = RecState.RUNNING


@change("rec")
def _new_realm(case):
    realm, recs = realm_with_recs(case.kit, activate=False)
    case.args["rec"] = recs[0]
    return 0


@change("realm.state")
def _system_off(case):
    # Reached from the realm by PSCI SYSTEM_OFF (rsi/test_psci.py runs it end to end); set here.
    case.ctx["realm"].transition(RealmState.SYSTEM_OFF)
    return 1


@change("rec.runnable")
def _not_runnable(case):
    # The host meets this as REC 1, created not runnable (test_a_rec_created_not_runnable_cannot_run);
    # here REC 0 is made not runnable directly, as its own CPU_OFF would, so that this condition can
    # be combined with the others on the same REC.
    case.p.rmm.recs[case.args["rec"]].runnable = False


@change("rec.history")
def _psci_pending(case):
    kit, rec = case.kit, case.ctx["recs"][0]
    run = kit.run_page()
    assert kit.enter(rec, run)["exit_reason"] == ExitReason.SYNC  # the MMIO read
    ex = kit.enter(rec, run, flags=ENTER_EMUL_MMIO, gprs=[7])
    assert ex["exit_reason"] == ExitReason.PSCI and case.p.rmm.recs[rec].psci_pending is not None


def _enter(key, value):
    return Change(frozenset({f"enter.{key}"}), lambda c: c.ctx["enter"].update({key: value}))


def _flag(flag, key):
    return Change(frozenset({f"enter.{key}"}),
                  lambda c: c.ctx["enter"].update(flags=c.ctx["enter"]["flags"] | flag))


CHANGES = {
    **ns_pointer_changes("run_ptr", "run"),
    **granule_changes("rec", "rec", S.REC),
    "rec_running": Change(frozenset({"rec.state"}), _running),
    "realm_new": _new_realm,
    "system_off": _system_off,
    "rec_runnable": _not_runnable,
    "rec_psci_pending": _psci_pending,
    "rec_gic": _enter("gicv3_hcr", 1 << 13),  # ICH_HCR_EL2 bit 13 (TSEI) is not the host's to set
    "rec_sea": _flag(ENTER_INJECT_SEA, "sea"),  # nothing to inject into: the REC has not exited yet
    "rec_mmio": _flag(ENTER_EMUL_MMIO, "mmio"),  # nothing to emulate
}


def check_success(case, out):
    p, rec = case.p, case.args["rec"]
    ex = case.kit.read_exit(case.ctx["run"])
    assert ex["exit_reason"] == ExitReason.SYNC
    assert ex["esr"] >> 26 == EC_DABT_LOW and ex["esr"] >> 24 & 1  # ISV: the host can emulate it
    assert (ex["esr"] >> 22) & 3 == 2  # SAS: a 4-byte access
    assert ex["hpfar"] == (MMIO >> 12) << 4 and ex["far"] == MMIO & 0xFFF
    r = p.rmm.recs[rec]
    assert r.state == RecState.READY and p.rmm.granules.refcount(rec) == 0 and r.exits == 1


T = Conformance(ENTER, baseline, CHANGES, check_success)
(test_rec_enter_changes_cover_the_spec, test_rec_enter_baseline_succeeds, test_rec_enter_each_condition,
 test_rec_enter_first_failing_condition_wins) = T.tests()


def test_rec_enter_refuses_a_list_register_with_the_hw_bit(p):
    case = baseline(Kit(p))
    case.ctx["enter"]["lrs"] = [0, 1 << 61]
    T.expect_failure(case, "rec_gic", 0)


def test_emulated_mmio_read_delivers_the_hosts_value(p):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit)
    run = kit.run_page()
    kit.enter(recs[0], run)
    ex = kit.enter(recs[0], run, flags=ENTER_EMUL_MMIO, gprs=[0x1_2345_6789])
    assert ex["exit_reason"] == ExitReason.PSCI and ex["gprs"][:2] == [0xC400_0003, 1]
    assert p.rmm.recs[recs[0]].cpu.cpu.notes["mmio"] == 0x2345_6789  # a 4-byte load takes the low bytes


def test_emulated_mmio_write_reports_the_value(p):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit)
    run = kit.run_page()
    kit.enter(recs[0], run)
    kit.enter(recs[0], run, flags=ENTER_EMUL_MMIO)
    kit.ok("RMI_PSCI_COMPLETE", recs[0], recs[1], 0)
    ex = kit.enter(recs[0], run)
    assert ex["exit_reason"] == ExitReason.SYNC and ex["esr"] >> 6 & 1  # WnR
    assert ex["gprs"][0] == 0x1234 and ex["far"] == (MMIO + 8) & 0xFFF


def test_inject_sea_after_an_unprotected_abort_raises_it_in_the_realm(p):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit)
    run = kit.run_page()
    kit.enter(recs[0], run)
    ex = kit.enter(recs[0], run, flags=ENTER_INJECT_SEA)
    assert ex["exit_reason"] == ExitReason.PSCI
    notes = p.rmm.recs[recs[0]].cpu.cpu.notes
    assert notes["sea"] == MMIO and "mmio" not in notes


@pytest.mark.parametrize("flag,label", [(ENTER_INJECT_SEA, "rec_sea"), (ENTER_EMUL_MMIO, "rec_mmio")])
def test_a_protected_abort_can_be_neither_emulated_nor_answered_with_an_sea(p, flag, label):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit, "test-rec-enter-unbacked", init_ram=True)
    run = kit.run_page()
    ex = kit.enter(recs[0], run)
    assert ex["exit_reason"] == ExitReason.SYNC and not ex["esr"] >> 24 & 1  # ISV = 0
    assert ex["hpfar"] == (0x5000 >> 12) << 4 and ex["far"] == 0  # only the page: not the realm's data
    case = Case(kit, ENTER, {"rec": recs[0], "run_ptr": run})
    kit.write_enter(run, flag)
    T.expect_failure(case, label, 0)
    # the host backs the page instead, and the load completes
    kit.data_unknown(realm, 0x5000)
    kit.enter(recs[0], run, flags=ENTER_TRAP_WFI)
    assert p.rmm.recs[recs[0]].cpu.cpu.notes["value"] == 0


def test_rec_enter_of_a_realm_being_built_is_error_realm_index_0(p):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit, activate=False)
    out = kit.call(ENTER, recs[0], kit.run_page())
    assert unpack(out[0]) == (RmiStatus.ERROR_REALM, 0) and p.rmm.last_failure == "realm_new"


def test_rec_enter_keeps_the_run_page_enter_part_and_writes_only_the_exit(p):
    kit = Kit(p)
    realm, recs = realm_with_recs(kit)
    run = kit.run_page(flags=0, gprs=[5, 6, 7])
    before = p.phys_read(run, 0x800, PAS.NONSECURE)
    kit.ok(ENTER, recs[0], run)
    assert p.phys_read(run, 0x800, PAS.NONSECURE) == before


def test_a_rec_cannot_run_twice_at_once_and_is_ready_after_an_exception(p, monkeypatch):
    from ccalab.firmware.rmm import realm_exec

    kit = Kit(p)
    realm, recs = realm_with_recs(kit)

    def boom(*a):
        assert p.rmm.recs[recs[0]].state == RecState.RUNNING  # while it runs, it is RUNNING
        assert unpack(p.rmm.handle_smc(0xC400_015C, (recs[0], kit.run_page()))[0]) == (RmiStatus.ERROR_REC, 0)
        raise RuntimeError("model failure")

    monkeypatch.setattr(realm_exec, "run_rec", boom)
    with pytest.raises(RuntimeError):
        p.smc(0xC400_015C, recs[0], kit.run_page())
    assert p.rmm.recs[recs[0]].state == RecState.READY and p.rmm.granules.refcount(recs[0]) == 0


def test_a_rec_created_not_runnable_cannot_run(p):
    case = baseline(Kit(p))
    case.args["rec"] = case.ctx["recs"][1]
    T.expect_failure(case, "rec_runnable", 0)
