"""RMI_REC_ENTER: run a REC until its next exit, and RMI_PSCI_COMPLETE's partner in the loop.

On entry the RMM reads ``RmiRecRun.enter`` from the host's run page and completes whatever the
last exit left open (an emulated MMIO read, the RIPAS change response, a host call's results, an
injected SEA); then the REC runs (:mod:`ccalab.firmware.rmm.realm_exec`) and the RMM writes
``RmiRecRun.exit``: the exit reason and only the information the host may see.

Spec: RMM DEN0137 1.0-rel0, RMI_REC_ENTER (failure conditions run_align, run_bound, run_pas,
rec_align, rec_bound, rec_state (ERROR_INPUT), rec_running (ERROR_REC), realm_new (ERROR_REALM
index 0), system_off (ERROR_REALM index 1), rec_runnable, rec_psci_pending, rec_gic, rec_sea,
rec_mmio (ERROR_REC)); A4.3 "REC entry", A4.4 "REC exit"; TF-RMM ``runtime/rmi/rec.c``,
``runtime/core/exit.c``.
"""

from __future__ import annotations

from ..granule import GranuleState
from ..objects import RealmState, RecState
from ..status import RmiStatus
from ..structs import ENTER_EMUL_MMIO, ENTER_INJECT_SEA, EXIT_OFFSET, REC_ENTER, REC_EXIT, pack, unpack

_INPUT, _REALM, _REC = RmiStatus.ERROR_INPUT, RmiStatus.ERROR_REALM, RmiStatus.ERROR_REC

#: ICH_HCR_EL2 bits a host may set in enter.gicv3_hcr (En, UIE, LRENPIE, NPIE, VGrp0EIE,
#: VGrp0DIE, VGrp1EIE, VGrp1DIE, TDIR); TF-RMM refuses the others.
GICV3_HCR_ALLOWED = 0xFF | (1 << 14)
_LR_HW = 1 << 61


def rmi_rec_enter(rmm, rec: int, run_ptr: int):
    """RMI_REC_ENTER(rec, run_ptr): enter the REC; returns ``SUCCESS`` once it has exited, with the
    exit in the RmiRecRun page at ``run_ptr``.

    Spec: RMM DEN0137 1.0-rel0, RMI_REC_ENTER; failure conditions in the order listed in the module
    docstring.
    """
    label = rmm.check_ns_granule(run_ptr, "run")
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(rec, GranuleState.REC, "rec")
    if label:
        return rmm.fail(label, _INPUT)
    r = rmm.recs[rec]
    realm = rmm.realms[r.rd]
    if r.state == RecState.RUNNING:
        return rmm.fail("rec_running", _REC)
    if realm.state == RealmState.NEW:
        return rmm.fail("realm_new", _REALM, 0)
    if realm.state == RealmState.SYSTEM_OFF:
        return rmm.fail("system_off", _REALM, 1)
    if not r.runnable:
        return rmm.fail("rec_runnable", _REC)
    if r.psci_pending is not None:
        return rmm.fail("rec_psci_pending", _REC)
    enter = unpack(REC_ENTER, rmm.ns_read(run_ptr, 0x800))
    if enter["gicv3_hcr"] & ~GICV3_HCR_ALLOWED or any(lr & _LR_HW for lr in enter["gicv3_lrs"]):
        return rmm.fail("rec_gic", _REC)
    last = r.last_exit
    if enter["flags"] & ENTER_INJECT_SEA and not last.get("unprotected_da"):
        return rmm.fail("rec_sea", _REC)
    if enter["flags"] & ENTER_EMUL_MMIO and not last.get("emulatable"):
        return rmm.fail("rec_mmio", _REC)
    # --- the REC runs ---
    from ..realm_exec import run_rec

    r.state = RecState.RUNNING
    rmm.granules.refcount_add(rec, 1)
    try:
        exit_fields = run_rec(rmm, realm, r, enter)
    finally:
        rmm.granules.refcount_add(rec, -1)
        r.state = RecState.READY
    r.exits += 1
    rmm.ns_write(run_ptr + EXIT_OFFSET, bytes(pack(REC_EXIT, exit_fields, size=0x800)))
    return RmiStatus.SUCCESS


__all__ = ["rmi_rec_enter", "GICV3_HCR_ALLOWED"]
