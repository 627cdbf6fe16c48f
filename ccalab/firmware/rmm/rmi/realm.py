"""RMI_REALM_CREATE, RMI_REALM_ACTIVATE and RMI_REALM_DESTROY: a realm's life cycle.

Spec: RMM DEN0137 1.0-rel0, RMI_REALM_CREATE (failure conditions params_align .. rtt_state,
in TF-RMM's evaluation order, which the ACS checks), RMI_REALM_ACTIVATE (rd_align, rd_bound,
rd_state, realm_state), RMI_REALM_DESTROY (rd_*, realm_live); A2.1 "Realm"; TF-RMM
``runtime/rmi/realm.c``.
"""

from __future__ import annotations

import numpy as np

from ..granule import GRANULE_SIZE, GranuleState
from ..measurement import HashAlgo, rim_init
from ..objects import Realm, RealmState
from ..s2tt import ENTRIES, LEVEL_SIZE, level_consistent, rtt_num_start, unassigned_ns
from ..status import RmiStatus
from ..structs import REALM_FLAG_LPA2, REALM_FLAG_PMU, REALM_FLAG_SVE, REALM_PARAMS, unpack
from .features import NUM_BPS, NUM_WPS

_INPUT, _REALM = RmiStatus.ERROR_INPUT, RmiStatus.ERROR_REALM
VMID_BITS = 16
_KNOWN_FLAGS = REALM_FLAG_LPA2 | REALM_FLAG_SVE | REALM_FLAG_PMU


def params_problem(rmm, prm: dict):
    """The first reason RmiRealmParams ``prm`` is invalid or unsupported (a label), or None.

    Spec: RMM DEN0137 1.0-rel0, RMI_REALM_CREATE failure conditions params_valid / params_supp;
    the individual checks as TF-RMM ``validate_realm_params`` makes them.
    """
    s2sz_max = rmm.platform.pamax
    flags = prm["flags"]
    if flags & ~_KNOWN_FLAGS:
        return "params_valid: unknown flags"
    if flags & REALM_FLAG_LPA2:
        return "params_supp: LPA2 is not offered (RmiFeatureRegister0.LPA2 = 0)"
    if not 32 <= prm["s2sz"] <= s2sz_max:
        return f"params_supp: s2sz must be 32..{s2sz_max}"
    if prm["num_bps"] == 0 or prm["num_bps"] > NUM_BPS + 1:
        return f"params_supp: num_bps must be 1..{NUM_BPS + 1}"
    if prm["num_wps"] == 0 or prm["num_wps"] > NUM_WPS + 1:
        return f"params_supp: num_wps must be 1..{NUM_WPS + 1}"
    if flags & REALM_FLAG_SVE:
        return "params_supp: SVE is not offered (RmiFeatureRegister0.SVE_EN = 0)"
    if flags & REALM_FLAG_PMU:
        return "params_supp: the PMU is not offered (RmiFeatureRegister0.PMU_EN = 0)"
    if not level_consistent(prm["s2sz"], prm["rtt_level_start"]):
        return "params_valid: rtt_level_start does not fit s2sz"
    if prm["rtt_num_start"] != rtt_num_start(prm["s2sz"], prm["rtt_level_start"]):
        return "params_valid: rtt_num_start is not the number of root RTTs s2sz needs"
    if prm["hash_algo"] not in (HashAlgo.SHA_256, HashAlgo.SHA_512):
        return "params_valid: hash_algo is not SHA-256 (0) or SHA-512 (1)"
    if prm["vmid"] >= 1 << VMID_BITS or any(r.vmid == prm["vmid"] for r in rmm.realms.values()):
        return "params_valid: VMID in use or too large"
    return None


def _alloc_mecid(rmm) -> int:
    """A private MECID for a new realm: the lowest not in use, from 1 (0 is the RMM's own).

    RMM 1.0 has no MECID in RmiRealmParams; this model gives every realm its own private MECID, as
    an RMM on a FEAT_MEC machine does (RMM 1.1 lets the host choose it).
    """
    used = {r.mecid for r in rmm.realms.values()}
    m = 1
    while m in used:
        m += 1
    return m


def rmi_realm_create(rmm, rd: int, params_ptr: int):
    """RMI_REALM_CREATE(rd, params_ptr): create a realm from the RmiRealmParams at ``params_ptr``.

    Returns ``SUCCESS``, or ``ERROR_INPUT`` for the first failing condition. On success the RD and
    the root RTTs are RD / RTT granules, the realm is NEW with its VMID, its root RTT entries are
    UNASSIGNED/EMPTY in the protected half and UNASSIGNED_NS in the unprotected half, and its RIM
    is H(the measured fields of the params).

    Spec: RMM DEN0137 1.0-rel0, RMI_REALM_CREATE; failure conditions params_align, params_bound,
    params_pas, params_valid/params_supp, alias, rd_align, rd_bound, rd_state, rtt_align,
    rtt_bound, rtt_state.
    """
    label = rmm.check_ns_granule(params_ptr, "params")
    if label:  # params_align / params_bound / params_pas
        return rmm.fail(label, _INPUT)
    prm = unpack(REALM_PARAMS, rmm.ns_read(params_ptr))
    why = params_problem(rmm, prm)
    if why:  # params_valid / params_supp
        return rmm.fail(why, _INPUT)
    base, num = prm["rtt_base"], prm["rtt_num_start"]
    if base <= rd < base + num * GRANULE_SIZE:  # alias
        return rmm.fail("alias", _INPUT)
    label = rmm.check_granule(rd, GranuleState.DELEGATED, "rd")
    if label:  # rd_align / rd_bound / rd_state
        return rmm.fail(label, _INPUT)
    for k in range(num):
        label = rmm.check_granule(base + k * GRANULE_SIZE, GranuleState.DELEGATED, "rtt")
        if label:  # rtt_align / rtt_bound / rtt_state
            return rmm.fail(label, _INPUT)
    # --- success ---
    algo = HashAlgo(prm["hash_algo"])
    realm = Realm(rd=rd, state=RealmState.NEW, s2sz=prm["s2sz"], rtt_level_start=prm["rtt_level_start"],
                  rtt_base=base, rtt_num_start=num, vmid=prm["vmid"], hash_algo=algo, rpv=bytes(prm["rpv"]),
                  flags=prm["flags"], mecid=_alloc_mecid(rmm), params=prm)
    realm.measurements = Realm.zero_measurements(algo)
    realm.measurements[0] = rim_init(algo, prm)
    g = rmm.granules
    g.transition(rd, GranuleState.RD)
    size = LEVEL_SIZE[realm.rtt_level_start]
    for k in range(num):
        rtt = base + k * GRANULE_SIZE
        g.transition(rtt, GranuleState.RTT)
        ipas = (k * ENTRIES + np.arange(ENTRIES, dtype=np.uint64)) * np.uint64(size)
        entries = np.where(ipas >= np.uint64(realm.par_top), np.uint64(unassigned_ns()), np.uint64(0))
        rmm.fill_rtt(rtt, entries)
    rmm.realms[rd] = realm
    return RmiStatus.SUCCESS


def rmi_realm_activate(rmm, rd: int):
    """RMI_REALM_ACTIVATE(rd): NEW -> ACTIVE; the RIM is frozen and the RECs may run.

    Spec: RMM DEN0137 1.0-rel0, RMI_REALM_ACTIVATE; failure conditions rd_align, rd_bound,
    rd_state (ERROR_INPUT), realm_state (ERROR_REALM).
    """
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    realm = rmm.realms[rd]
    if realm.state != RealmState.NEW:  # realm_state
        return rmm.fail("realm_state", _REALM)
    realm.transition(RealmState.ACTIVE)
    return RmiStatus.SUCCESS


def rmi_realm_destroy(rmm, rd: int):
    """RMI_REALM_DESTROY(rd): remove an empty realm; its RD and root RTTs become DELEGATED (zeroed),
    its VMID is free, and its MECID's key is refreshed so nothing it wrote can be decrypted.

    Spec: RMM DEN0137 1.0-rel0, RMI_REALM_DESTROY; failure conditions rd_align, rd_bound, rd_state
    (ERROR_INPUT), realm_live (ERROR_REALM: a REC exists, or a root RTT has a live entry).
    """
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    realm = rmm.realms[rd]
    g = rmm.granules
    roots = [realm.rtt_base + k * GRANULE_SIZE for k in range(realm.rtt_num_start)]
    if g.refcount(rd) or any(g.refcount(r) for r in roots):  # realm_live
        return rmm.fail("realm_live", _REALM)
    rmm.tlbi_realm(realm)
    for r in roots:
        rmm.wipe(r)
        g.transition(r, GranuleState.DELEGATED)
    rmm.wipe(rd)
    g.transition(rd, GranuleState.DELEGATED)
    del rmm.realms[rd]
    mon = rmm.platform.monitor
    rmm.platform.mec.flush_context(_realm_context(realm))
    mon.mec_refresh(realm.mecid, 1)  # reason 1: realm destroy
    return RmiStatus.SUCCESS


def _realm_context(realm) -> int:
    from ....arch.mec.engine import context_id
    from ....arch.pas import PAS

    return context_id(PAS.REALM, realm.mecid)


__all__ = ["rmi_realm_create", "rmi_realm_activate", "rmi_realm_destroy", "params_problem", "VMID_BITS"]
