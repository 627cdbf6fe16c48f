"""RMI_DATA_CREATE, RMI_DATA_CREATE_UNKNOWN and RMI_DATA_DESTROY: a realm's protected memory.

DATA_CREATE copies a host page into a DELEGATED granule, maps it at a protected IPA with RIPAS RAM
and (for a NEW realm only) extends the RIM with a descriptor holding the IPA, the flags and, with
``RMI_MEASURE_CONTENT``, the hash of the page. The copy is written in the realm's own encryption
context (its MECID), so DRAM holds it under the realm's key.

Spec: RMM DEN0137 1.0-rel0, RMI_DATA_CREATE (failure conditions flags_valid, src_*, data_*, rd_*,
realm_state, ipa_align, ipa_bound, rtt_walk, rtt_state), RMI_DATA_CREATE_UNKNOWN, RMI_DATA_DESTROY;
A7.1.1 "Realm Initial Measurement"; TF-RMM ``runtime/rmi/rtt.c`` (``data_create``).
"""

from __future__ import annotations

from ....arch.mec.engine import context_id
from ....arch.pas import PAS
from .. import s2tt
from ..granule import GranuleState
from ..measurement import HashAlgo, data_descriptor
from ..objects import RealmState
from ..s2tt import Hipas, Ripas
from ..status import RmiStatus

_INPUT, _REALM, _RTT = RmiStatus.ERROR_INPUT, RmiStatus.ERROR_REALM, RmiStatus.ERROR_RTT
RMI_NO_MEASURE_CONTENT = 0
RMI_MEASURE_CONTENT = 1


def _common(rmm, rd: int, data: int, ipa: int, new_only: bool):
    """Checks shared by the two creates, after the source checks: returns (realm, walk) or a status."""
    label = rmm.check_granule(data, GranuleState.DELEGATED, "data")
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    realm = rmm.realms[rd]
    if new_only and realm.state != RealmState.NEW:  # realm_state
        return rmm.fail("realm_state", _REALM)
    if ipa % 4096:
        return rmm.fail("ipa_align", _INPUT)
    if not realm.in_par(ipa):  # ipa_bound: DATA is protected memory
        return rmm.fail("ipa_bound", _INPUT)
    w = rmm.walk(realm, ipa, 3)
    if w.level != 3:
        return rmm.fail("rtt_walk", _RTT, w.level)
    if s2tt.decode(w.entry, 3)[0] != Hipas.UNASSIGNED:
        return rmm.fail("rtt_state", _RTT, 3)
    return realm, w


def rmi_data_create(rmm, rd: int, data: int, ipa: int, src: int, flags: int):
    """RMI_DATA_CREATE(rd, data, ipa, src, flags): copy the host page at ``src`` into the granule
    ``data`` and map it at ``ipa`` (RIPAS RAM) in a NEW realm, extending the RIM.

    ``flags`` is RMI_MEASURE_CONTENT (1) to put H(page) in the RIM descriptor, or
    RMI_NO_MEASURE_CONTENT (0) to measure only the IPA and flags.

    Spec: RMM DEN0137 1.0-rel0, RMI_DATA_CREATE; failure conditions flags_valid, src_align,
    src_bound, src_state, src_pas, data_align, data_bound, data_state, rd_align, rd_bound, rd_state
    (ERROR_INPUT), realm_state (ERROR_REALM), ipa_align, ipa_bound (ERROR_INPUT), rtt_walk
    (ERROR_RTT, walk level), rtt_state (ERROR_RTT, 3).
    """
    if flags not in (RMI_NO_MEASURE_CONTENT, RMI_MEASURE_CONTENT):  # flags_valid
        return rmm.fail("flags_valid", _INPUT)
    label = rmm.check_ns_granule(src, "src")
    if label:
        return rmm.fail(label, _INPUT)
    out = _common(rmm, rd, data, ipa, new_only=True)
    if not isinstance(out, tuple):
        return out
    realm, w = out
    # --- success ---
    page = rmm.ns_view(src)  # the host's page, copied into the DATA granule and hashed straight from memory
    rmm.platform.mec.store_granule(data, page, context_id(PAS.REALM, realm.mecid))
    rmm.granules.transition(data, GranuleState.DATA)
    rmm.write_entry(w.entry_pa, s2tt.assigned(data, Ripas.RAM, 3))
    rmm.granules.refcount_add(w.rtt, 1)
    algo = realm.hash_algo
    content = algo.new(page).digest() if flags == RMI_MEASURE_CONTENT else b""
    realm.measurements[0] = algo.new(data_descriptor(realm.measurements[0], ipa, flags, content)).digest()
    return RmiStatus.SUCCESS


def rmi_data_create_unknown(rmm, rd: int, data: int, ipa: int):
    """RMI_DATA_CREATE_UNKNOWN(rd, data, ipa): map the (zeroed) granule ``data`` at ``ipa``, keeping
    the entry's RIPAS; not measured, allowed in any realm state (the host backing RAM the realm
    accepted at run time).

    Spec: RMM DEN0137 1.0-rel0, RMI_DATA_CREATE_UNKNOWN; failure conditions data_*, rd_*, ipa_align,
    ipa_bound (ERROR_INPUT), rtt_walk (ERROR_RTT, walk level), rtt_state (ERROR_RTT, 3).
    """
    out = _common(rmm, rd, data, ipa, new_only=False)
    if not isinstance(out, tuple):
        return out
    realm, w = out
    ripas = s2tt.decode(w.entry, 3)[1]
    rmm.platform.mec.store_granule(data, None, context_id(PAS.REALM, realm.mecid))
    rmm.granules.transition(data, GranuleState.DATA)
    rmm.write_entry(w.entry_pa, s2tt.assigned(data, ripas, 3))
    rmm.granules.refcount_add(w.rtt, 1)
    return RmiStatus.SUCCESS


def rmi_data_destroy(rmm, rd: int, ipa: int):
    """RMI_DATA_DESTROY(rd, ipa): unmap the DATA granule at ``ipa`` and give it back (DELEGATED,
    zeroed). RIPAS RAM becomes DESTROYED, so the realm learns its memory was taken. Returns
    ``(status, data_pa, top)``.

    Spec: RMM DEN0137 1.0-rel0, RMI_DATA_DESTROY; failure conditions rd_*, ipa_align, ipa_bound
    (ERROR_INPUT), rtt_walk (ERROR_RTT, walk level), rtt_state (ERROR_RTT, 3).
    """
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    if label:
        return rmm.fail(label, _INPUT)
    realm = rmm.realms[rd]
    if ipa % 4096:
        return rmm.fail("ipa_align", _INPUT)
    if not realm.in_par(ipa):
        return rmm.fail("ipa_bound", _INPUT)
    w = rmm.walk(realm, ipa, 3)
    if w.level != 3:
        return rmm.fail("rtt_walk", _RTT, w.level), 0, rmm.top_of_non_live(w, ipa)
    hipas, ripas, pa = s2tt.decode(w.entry, 3)
    if hipas != Hipas.ASSIGNED:
        return rmm.fail("rtt_state", _RTT, 3), 0, rmm.top_of_non_live(w, ipa)
    new_ripas = Ripas.DESTROYED if ripas == Ripas.RAM else ripas
    rmm.write_entry(w.entry_pa, s2tt.unassigned(new_ripas))
    rmm.granules.refcount_add(w.rtt, -1)
    rmm.tlbi_realm(realm, ipa)
    rmm.wipe(pa)
    rmm.granules.transition(pa, GranuleState.DELEGATED)
    return RmiStatus.SUCCESS, pa, rmm.top_of_non_live(w, ipa)


__all__ = ["rmi_data_create", "rmi_data_create_unknown", "rmi_data_destroy", "RMI_MEASURE_CONTENT",
           "RMI_NO_MEASURE_CONTENT", "HashAlgo"]
