"""RMI_GRANULE_DELEGATE and RMI_GRANULE_UNDELEGATE: the host gives a granule to the Realm world,
and takes back one the Realm world no longer uses.

Spec: RMM DEN0137 1.0-rel0, RMI_GRANULE_DELEGATE (failure conditions gran_align, gran_bound,
gran_state, gran_gpt) and RMI_GRANULE_UNDELEGATE (gran_align, gran_bound, gran_state); A2.2.4
"Granule wiping". The GPT change itself is EL3's: the RMM asks for it with ``RMM_GTSI_DELEGATE`` /
``RMM_GTSI_UNDELEGATE`` (TF-A ``rmmd``).
"""

from __future__ import annotations

from ....arch.mec.engine import context_id
from ....arch.pas import PAS
from ...monitor import E_RMM_OK
from ..granule import GRANULE_SIZE, GranuleState
from ..status import RmiStatus

#: The RMM's own encryption context: Realm PAS, MECID 0.
RMM_CONTEXT = context_id(PAS.REALM, 0)
_ZERO_GRANULE = bytes(GRANULE_SIZE)


def _wipe(rmm, addr: int) -> None:
    """Zero the granule at ``addr`` in the RMM's encryption context."""
    rmm.wipe(addr)


def rmi_granule_delegate(rmm, addr: int):
    """RMI_GRANULE_DELEGATE(addr): move a granule from the Non-secure PAS to the Realm PAS.

    Parameters
    ----------
    rmm : Rmm
    addr : int
        PA of the target granule.

    Returns
    -------
    RmiStatus
        ``SUCCESS``; else ``ERROR_INPUT`` for the first failing condition. On success the granule
        is DELEGATED, its GPI is Realm, and it reads as zero in the RMM's context (RMM 1.0 wipes
        on delegate, so nothing the host left there reaches a realm).

    Spec: RMM DEN0137 1.0-rel0, RMI_GRANULE_DELEGATE; failure conditions gran_align..gran_gpt;
    success conditions gran_state (DELEGATED) and gran_gpt (GPT_REALM).
    """
    label = rmm.check_granule(addr, GranuleState.UNDELEGATED, "gran")  # gran_align, gran_bound, gran_state
    if label:
        return rmm.fail(label, RmiStatus.ERROR_INPUT)
    if rmm.platform.monitor.gtsi_delegate(addr) != E_RMM_OK:  # gran_gpt
        return rmm.fail("gran_gpt", RmiStatus.ERROR_INPUT)
    g = rmm.granules
    _wipe(rmm, addr)
    g.transition(addr, GranuleState.DELEGATED)
    return RmiStatus.SUCCESS


def rmi_granule_undelegate(rmm, addr: int):
    """RMI_GRANULE_UNDELEGATE(addr): give a DELEGATED granule back to the Non-secure PAS.

    Parameters
    ----------
    rmm : Rmm
    addr : int
        PA of the target granule.

    Returns
    -------
    RmiStatus
        ``SUCCESS``; else ``ERROR_INPUT`` for the first failing condition. The granule is wiped in
        the RMM's context before EL3 changes its GPI, so no realm data leaves the Realm PAS. If EL3
        refused the change (it cannot while the tracker's invariants hold: a DELEGATED granule's
        GPI is Realm), the status is ``ERROR_INPUT`` and the granule stays DELEGATED, and zero.

    Spec: RMM DEN0137 1.0-rel0, RMI_GRANULE_UNDELEGATE; failure conditions gran_align..gran_state;
    success conditions gran_gpt (GPT_NS), gran_state (UNDELEGATED), gran_content (wiped).
    """
    label = rmm.check_granule(addr, GranuleState.DELEGATED, "gran")  # gran_align, gran_bound, gran_state
    if label:
        return rmm.fail(label, RmiStatus.ERROR_INPUT)
    g = rmm.granules
    _wipe(rmm, addr)
    if rmm.platform.monitor.gtsi_undelegate(addr) != E_RMM_OK:
        return rmm.fail("gran_gpt", RmiStatus.ERROR_INPUT)
    g.transition(addr, GranuleState.UNDELEGATED)
    return RmiStatus.SUCCESS


__all__ = ["rmi_granule_delegate", "rmi_granule_undelegate", "RMM_CONTEXT"]
