"""RMI_PSCI_COMPLETE: the host completes a realm's CPU_ON or AFFINITY_INFO.

The RMM, not the host, decides what the realm sees: the host only says whether it lets the target
REC run (CPU_ON: SUCCESS or DENIED); the RMM checks the target is the REC the realm named.

Spec: RMM DEN0137 1.0-rel0, RMI_PSCI_COMPLETE; failure conditions calling_align, calling_bound,
calling_state, target_align, target_bound, target_state, alias, calling_running, pending, owner,
target_index, status (all ERROR_INPUT), in TF-RMM's order (``runtime/rmi/rec.c``
``smc_psci_complete``).
"""

from __future__ import annotations

from ...psci import AFFINITY_OFF, AFFINITY_ON, PsciFid, PsciReturn, as_signed
from ..granule import GranuleState
from ..objects import RecState
from ..status import RmiStatus
from .rec import mpidr_index

_INPUT = RmiStatus.ERROR_INPUT


def rmi_psci_complete(rmm, calling: int, target: int, status: int):
    """RMI_PSCI_COMPLETE(calling_rec, target_rec, status).

    Effect: CPU_ON + SUCCESS makes the target runnable at the entry point with X0 = the context
    id, and the caller sees SUCCESS (ALREADY_ON if it was runnable already); CPU_ON + DENIED:
    the caller sees DENIED. AFFINITY_INFO: the caller sees ON (0) or OFF (1).
    """
    label = rmm.check_granule(calling, GranuleState.REC, "calling")
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(target, GranuleState.REC, "target")
    if label:
        return rmm.fail(label, _INPUT)
    if calling == target:
        return rmm.fail("alias", _INPUT)
    c, t = rmm.recs[calling], rmm.recs[target]
    if c.state == RecState.RUNNING:
        return rmm.fail("calling_running", _INPUT)
    if c.psci_pending is None:
        return rmm.fail("pending", _INPUT)
    if c.rd != t.rd:
        return rmm.fail("owner", _INPUT)
    fid, mpidr, entry, context = c.psci_pending
    if mpidr_index(mpidr) != t.index:
        return rmm.fail("target_index", _INPUT)
    st = as_signed(status)
    cpu_on = fid in (PsciFid.CPU_ON, PsciFid.CPU_ON_32)
    allowed = (PsciReturn.SUCCESS, PsciReturn.DENIED) if cpu_on else (PsciReturn.SUCCESS,)
    if st not in allowed:
        return rmm.fail("status", _INPUT)
    if cpu_on and st == PsciReturn.DENIED and t.runnable:
        return rmm.fail("status", _INPUT)
    # --- success ---
    if cpu_on:
        if st == PsciReturn.DENIED:
            result = PsciReturn.DENIED
        elif t.runnable:
            result = PsciReturn.ALREADY_ON
        else:
            t.runnable = True
            t.pc = entry
            t.gprs = [context] + [0] * 30
            if t.cpu is not None:
                t.cpu.halted = True  # starts afresh at the entry point
            result = PsciReturn.SUCCESS
        c.psci_result = (result.register, 0, 0, 0)
    else:
        c.psci_result = (AFFINITY_ON if t.runnable else AFFINITY_OFF, 0, 0, 0)
    c.psci_pending = None
    return RmiStatus.SUCCESS


__all__ = ["rmi_psci_complete"]
