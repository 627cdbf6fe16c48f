"""RMI_REC_CREATE, RMI_REC_DESTROY and RMI_REC_AUX_COUNT: a realm's virtual CPUs.

Spec: RMM DEN0137 1.0-rel0, RMI_REC_CREATE (failure conditions params_*, num_aux, aux_*, rec_*,
rd_*, rd_refcount, realm_state, mpidr_valid, mpidr_index, num_aux_count, in TF-RMM's order,
``runtime/rmi/rec.c``), RMI_REC_DESTROY, RMI_REC_AUX_COUNT; ``RmiRecMpidr`` for the MPIDR format.
"""

from __future__ import annotations

from ..granule import GranuleState
from ..measurement import extend_rec
from ..objects import RealmState, Rec, RecState
from ..status import RmiStatus
from ..structs import REC_FLAG_RUNNABLE, REC_PARAMS, unpack
from .features import MAX_RECS_ORDER

_INPUT, _REALM, _REC = RmiStatus.ERROR_INPUT, RmiStatus.ERROR_REALM, RmiStatus.ERROR_REC
#: Auxiliary granules per REC (TF-RMM ``MAX_REC_AUX_GRANULES``): the host must give exactly this many.
REC_AUX_COUNT = 16
MAX_AUX = 16
_MPIDR_MASK = 0xF | (0xFF << 8) | (0xFF << 16) | (0xFF << 24)


def mpidr_index(mpidr: int):
    """The REC index an RmiRecMpidr value names (Aff0[3:0] | Aff1 << 4 | Aff2 << 12 | Aff3 << 20),
    or None if bits outside the affinity fields are set."""
    if mpidr & ~_MPIDR_MASK:
        return None
    return (mpidr & 0xF) | ((mpidr >> 8) & 0xFF) << 4 | ((mpidr >> 16) & 0xFF) << 12 | ((mpidr >> 24) & 0xFF) << 20


def index_mpidr(index: int) -> int:
    """The RmiRecMpidr value of REC ``index`` (inverse of :func:`mpidr_index`)."""
    return (index & 0xF) | ((index >> 4) & 0xFF) << 8 | ((index >> 12) & 0xFF) << 16 | ((index >> 20) & 0xFF) << 24


def rmi_rec_create(rmm, rd: int, rec: int, params_ptr: int):
    """RMI_REC_CREATE(rd, rec, params_ptr): create REC ``rec`` of the NEW realm ``rd`` from the
    RmiRecParams at ``params_ptr``. A runnable REC's flags, PC and GPRs extend the RIM.

    Spec: RMM DEN0137 1.0-rel0, RMI_REC_CREATE; failure conditions params_align, params_bound,
    params_pas, num_aux (> 16), aux_align/aux_bound/aux_state/aux_alias, rec_align, rec_bound,
    rec_state, rd_align, rd_bound, rd_state (ERROR_INPUT), rd_refcount, realm_state (ERROR_REALM),
    mpidr_valid, mpidr_index, num_aux_count (ERROR_INPUT).
    """
    label = rmm.check_ns_granule(params_ptr, "params")
    if label:
        return rmm.fail(label, _INPUT)
    prm = unpack(REC_PARAMS, rmm.ns_read(params_ptr))
    num_aux = prm["num_aux"]
    if num_aux > MAX_AUX:
        return rmm.fail("num_aux", _INPUT)
    aux = tuple(prm["aux"][:num_aux])
    for i, a in enumerate(aux):
        label = rmm.check_granule(a, GranuleState.DELEGATED, "aux")
        if label:
            return rmm.fail(label, _INPUT)
        if a in (rec, rd) or a in aux[:i]:
            return rmm.fail("aux_alias", _INPUT)
    label = rmm.check_granule(rec, GranuleState.DELEGATED, "rec")
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    realm = rmm.realms[rd]
    g = rmm.granules
    if g.refcount(rd) >= (1 << 32) - 1:  # rd_refcount
        return rmm.fail("rd_refcount", _REALM)
    if realm.state != RealmState.NEW:
        return rmm.fail("realm_state", _REALM)
    idx = mpidr_index(prm["mpidr"])
    if idx is None or idx >= 1 << MAX_RECS_ORDER:
        return rmm.fail("mpidr_valid", _INPUT)
    if idx != realm.rec_index:
        return rmm.fail("mpidr_index", _INPUT)
    if num_aux != REC_AUX_COUNT:
        return rmm.fail("num_aux_count", _INPUT)
    # --- success ---
    for a in aux:
        g.transition(a, GranuleState.REC_AUX)
    g.transition(rec, GranuleState.REC)
    g.refcount_add(rd, 1)
    runnable = bool(prm["flags"] & REC_FLAG_RUNNABLE)
    r = Rec(rec=rec, rd=rd, index=idx, mpidr=prm["mpidr"], runnable=runnable, pc=prm["pc"],
            gprs=list(prm["gprs"]) + [0] * 23, aux=aux)
    rmm.recs[rec] = r
    realm.recs.append(rec)
    realm.rec_index += 1
    if runnable:
        realm.measurements[0] = extend_rec(realm.hash_algo, realm.measurements[0], prm)
    return RmiStatus.SUCCESS


def rmi_rec_destroy(rmm, rec: int):
    """RMI_REC_DESTROY(rec): destroy a REC that is not running; it and its auxiliary granules become
    DELEGATED (zeroed).

    Spec: RMM DEN0137 1.0-rel0, RMI_REC_DESTROY; failure conditions rec_align, rec_bound, rec_state
    (ERROR_INPUT), rec_running (ERROR_REC).
    """
    label = rmm.check_granule(rec, GranuleState.REC, "rec")
    if label:
        return rmm.fail(label, _INPUT)
    r = rmm.recs[rec]
    if r.state == RecState.RUNNING:
        return rmm.fail("rec_running", _REC)
    g = rmm.granules
    for a in r.aux:
        rmm.wipe(a)
        g.transition(a, GranuleState.DELEGATED)
    rmm.wipe(rec)
    g.transition(rec, GranuleState.DELEGATED)
    g.refcount_add(r.rd, -1)
    realm = rmm.realms[r.rd]
    realm.recs[realm.recs.index(rec)] = None
    del rmm.recs[rec]
    return RmiStatus.SUCCESS


def rmi_rec_aux_count(rmm, rd: int):
    """RMI_REC_AUX_COUNT(rd): how many auxiliary granules each REC of the realm needs.

    Spec: RMM DEN0137 1.0-rel0, RMI_REC_AUX_COUNT; failure conditions rd_align, rd_bound, rd_state.
    """
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    return RmiStatus.SUCCESS, REC_AUX_COUNT


__all__ = ["rmi_rec_create", "rmi_rec_destroy", "rmi_rec_aux_count", "REC_AUX_COUNT", "mpidr_index", "index_mpidr"]
