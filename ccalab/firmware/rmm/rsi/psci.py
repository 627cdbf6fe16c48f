"""The PSCI calls a realm makes (SMCs the RMM handles or forwards to the host as PSCI exits).

Spec: RMM DEN0137 1.0-rel0, B5.2 "PSCI" (PSCI_VERSION, PSCI_FEATURES, CPU_ON, CPU_OFF,
CPU_SUSPEND, AFFINITY_INFO, SYSTEM_OFF, SYSTEM_RESET) and A4.4.5 "PSCI exit"; PSCI DEN0022.
"""

from __future__ import annotations

from ...psci import AFFINITY_OFF, AFFINITY_ON, PSCI_VERSION_1_1, PsciFid, PsciReturn
from ..exits import ExitReason, _Exit
from ..objects import RealmState
from ..rmi.rec import mpidr_index

_SUPPORTED = {int(f) for f in PsciFid}


def _psci_exit(ex, fid, args, pending=None):
    gprs = [int(fid), *[int(a) for a in args[:3]]]
    raise _Exit({"exit_reason": ExitReason.PSCI, "gprs": gprs}, pending=pending, last={})


def _target(ex, mpidr):
    """The REC of this realm that ``mpidr`` names, or None."""
    idx = mpidr_index(mpidr)
    realm = ex.realm
    if idx is None or idx >= len(realm.recs) or realm.recs[idx] is None:
        return None
    return ex.rmm.recs[realm.recs[idx]]


def handle_psci(ex, fid, args, exit_now=False):
    """Handle PSCI call ``fid`` from the running REC: the registers to return, or a PSCI exit."""
    log = ex.p.events
    name = PsciFid(fid).name if fid in _SUPPORTED else f"{fid:#x}"
    log.append("psci", "RMM", f"PSCI {name} from REC {ex.rec.index}", fid=fid, rec=ex.rec.rec, args=tuple(args[:3]))
    realm, rec = ex.realm, ex.rec
    if fid == PsciFid.PSCI_VERSION:
        return (PSCI_VERSION_1_1,)
    if fid == PsciFid.PSCI_FEATURES:
        return ((PsciReturn.SUCCESS if args[0] in _SUPPORTED else PsciReturn.NOT_SUPPORTED).register,)
    if fid in (PsciFid.CPU_ON, PsciFid.CPU_ON_32):
        mpidr, entry, context = args[0], args[1], args[2]
        if not realm.in_par(entry):
            return (PsciReturn.INVALID_ADDRESS.register,)
        target = _target(ex, mpidr)
        if target is None:
            return (PsciReturn.INVALID_PARAMS.register,)
        if target.runnable:
            return (PsciReturn.ALREADY_ON.register,)
        rec.psci_pending = (int(fid), mpidr, entry, context)
        _psci_exit(ex, fid, args, pending=("psci", lambda: rec.psci_result))
    if fid in (PsciFid.AFFINITY_INFO, PsciFid.AFFINITY_INFO_32):
        mpidr, lowest = args[0], args[1]
        if lowest != 0:
            return (PsciReturn.INVALID_PARAMS.register,)
        target = _target(ex, mpidr)
        if target is None:
            return (PsciReturn.INVALID_PARAMS.register,)
        if target is rec:  # the calling REC is ON; the host could not complete a request about itself
            return (AFFINITY_ON,)
        rec.psci_pending = (int(fid), mpidr, 0, 0)
        _psci_exit(ex, fid, args, pending=("psci", lambda: rec.psci_result))
    if fid == PsciFid.CPU_OFF:
        rec.runnable = False
        if rec.cpu is not None:
            rec.cpu.halted = True
        _psci_exit(ex, fid, args, pending=None)
    if fid in (PsciFid.CPU_SUSPEND, PsciFid.CPU_SUSPEND_32):
        _psci_exit(ex, fid, args, pending=("complete", (PsciReturn.SUCCESS.register,)))
    if fid in (PsciFid.SYSTEM_OFF, PsciFid.SYSTEM_RESET):
        if realm.state == RealmState.ACTIVE:
            realm.transition(RealmState.SYSTEM_OFF)
        if rec.cpu is not None:
            rec.cpu.halted = True
        _psci_exit(ex, fid, args, pending=None)
    return (PsciReturn.NOT_SUPPORTED.register,)


__all__ = ["handle_psci", "AFFINITY_ON", "AFFINITY_OFF"]
