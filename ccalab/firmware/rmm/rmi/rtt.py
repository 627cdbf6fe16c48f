"""The RTT commands: build, tear down, fold and read a realm's stage-2 tables, map and unmap
unprotected (shared) memory, and set RIPAS.

Every walk is :func:`ccalab.firmware.rmm.s2tt.walk` over the RTT granules in memory; the entries
are the stage-2 descriptors the MMU model walks when a REC runs.

Spec: RMM DEN0137 1.0-rel0, RMI_RTT_CREATE, RMI_RTT_DESTROY, RMI_RTT_FOLD,
RMI_RTT_MAP_UNPROTECTED, RMI_RTT_UNMAP_UNPROTECTED, RMI_RTT_READ_ENTRY, RMI_RTT_INIT_RIPAS,
RMI_RTT_SET_RIPAS (failure conditions in TF-RMM's order, ``runtime/rmi/rtt.c``); A5.5 "Realm
Translation Table".
"""

from __future__ import annotations

import numpy as np

from .. import s2tt
from ..granule import GranuleState
from ..measurement import extend_ripas
from ..objects import RealmState, RecState
from ..s2tt import Hipas, Ripas
from ..status import RmiStatus

_INPUT, _REALM, _REC, _RTT = RmiStatus.ERROR_INPUT, RmiStatus.ERROR_REALM, RmiStatus.ERROR_REC, RmiStatus.ERROR_RTT
_SUCCESS = RmiStatus.SUCCESS


def _rd(rmm, rd: int):
    """(realm, None) or (None, failing label) for the rd argument."""
    label = rmm.check_granule(rd, GranuleState.RD, "rd")
    return (None, label) if label else (rmm.realms[rd], None)


def _window(realm, ipa: int, level: int, lo: int, align_level: int):
    """The level / IPA checks shared by the RTT commands: the failing label or None."""
    if not lo <= level <= 3:
        return "level_bound"
    if ipa % s2tt.LEVEL_SIZE[align_level]:
        return "ipa_align"
    if ipa >= realm.ipa_size:
        return "ipa_bound"
    return None


def _children(parent: int, level: int) -> np.ndarray:
    """The 512 entries at ``level`` that together describe what ``parent`` (at ``level - 1``) did."""
    hipas, ripas, pa = s2tt.decode(parent, level - 1)
    size = s2tt.LEVEL_SIZE[level]
    if hipas == Hipas.UNASSIGNED:
        return np.full(s2tt.ENTRIES, s2tt.unassigned(ripas), np.uint64)
    if hipas == Hipas.UNASSIGNED_NS:
        return np.full(s2tt.ENTRIES, s2tt.unassigned_ns(), np.uint64)
    offs = np.arange(s2tt.ENTRIES, dtype=np.uint64) * np.uint64(size)
    if hipas == Hipas.ASSIGNED:
        first = s2tt.assigned(pa, ripas, level)
        return np.uint64(first) + offs
    first = s2tt.assigned_ns(parent, level)  # ASSIGNED_NS: same attributes, smaller pieces
    return np.uint64(first) + offs


def rmi_rtt_create(rmm, rd: int, rtt: int, ipa: int, level: int):
    """RMI_RTT_CREATE(rd, rtt, ipa, level): add the RTT at ``rtt`` as the level-``level`` table for
    ``ipa``; its 512 entries inherit what the parent entry described ("unfold").

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_CREATE; failure conditions rd_*, rtt_align, rtt_bound,
    rtt_state, level_bound, ipa_align, ipa_bound (ERROR_INPUT), rtt_walk (ERROR_RTT, level
    reached), rtt_entry (ERROR_RTT, level - 1: the parent entry is already a table).
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(rtt, GranuleState.DELEGATED, "rtt")
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, realm.rtt_level_start + 1, level - 1 if level >= 1 else 0)
    if label:
        return rmm.fail(label, _INPUT)
    w = rmm.walk(realm, ipa, level - 1)
    if w.level < level - 1:  # rtt_walk
        return rmm.fail("rtt_walk", _RTT, w.level)
    parent = w.entry
    hipas = s2tt.decode(parent, level - 1)[0]
    if hipas == Hipas.TABLE:  # rtt_entry
        return rmm.fail("rtt_entry", _RTT, level - 1)
    # --- success ---
    g = rmm.granules
    children = _children(parent, level)
    rmm.fill_rtt(rtt, children)
    g.transition(rtt, GranuleState.RTT)
    if hipas in (Hipas.ASSIGNED, Hipas.ASSIGNED_NS):
        g.refcount_add(rtt, s2tt.ENTRIES)  # every child is live; the parent entry stays live
        rmm.write_entry(w.entry_pa, s2tt.table(rtt))
        if parent & 1:
            rmm.tlbi_realm(realm, ipa)  # a valid block became a table: break before make
    else:
        rmm.write_entry(w.entry_pa, s2tt.table(rtt))
        g.refcount_add(w.rtt, 1)
    return _SUCCESS


def rmi_rtt_destroy(rmm, rd: int, ipa: int, level: int):
    """RMI_RTT_DESTROY(rd, ipa, level): remove a non-live level-``level`` RTT.

    Returns ``(status, rtt_pa, top)``: X1 the RTT's PA on success, X2 the top of the non-live region
    (the walk errors report it too, so a host tearing down a realm can skip empty ranges).

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_DESTROY; failure conditions rd_*, level_bound, ipa_align,
    ipa_bound (ERROR_INPUT), rtt_walk (ERROR_RTT, walk level: the walk did not reach a TABLE entry at
    level - 1), rtt_live (ERROR_RTT, level). Success: the parent entry becomes UNASSIGNED/DESTROYED
    in the protected half (UNASSIGNED_NS otherwise) and the RTT is DELEGATED.
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, realm.rtt_level_start + 1, level - 1 if level >= 1 else 0)
    if label:
        return rmm.fail(label, _INPUT)
    w = rmm.walk(realm, ipa, level - 1)
    if w.level < level - 1 or s2tt.decode(w.entry, w.level)[0] != Hipas.TABLE:  # rtt_walk
        return rmm.fail("rtt_walk", _RTT, w.level), 0, rmm.top_of_non_live(w, ipa)
    child = w.entry & s2tt.OA_MASK
    g = rmm.granules
    if g.refcount(child):  # rtt_live
        return rmm.fail("rtt_live", _RTT, level), 0, ipa
    # --- success ---
    rmm.write_entry(w.entry_pa, s2tt.unassigned(Ripas.DESTROYED) if realm.in_par(ipa) else s2tt.unassigned_ns())
    g.refcount_add(w.rtt, -1)
    rmm.tlbi_realm(realm, ipa)
    rmm.wipe(child)
    g.transition(child, GranuleState.DELEGATED)
    return _SUCCESS, child, rmm.top_of_non_live(w, ipa)


def _homogeneous(ents: np.ndarray, level: int):
    """The entry a parent at ``level - 1`` gets when folding ``ents`` (512 entries at ``level``),
    and whether it is live; or None if they are not homogeneous."""
    first = int(ents[0])
    hipas, ripas, pa = s2tt.decode(first, level)
    if hipas == Hipas.TABLE:
        return None
    if hipas in (Hipas.UNASSIGNED, Hipas.UNASSIGNED_NS):
        return (first, False) if (ents == ents[0]).all() else None
    size = s2tt.LEVEL_SIZE[level]
    if level - 1 < 1 or pa % s2tt.LEVEL_SIZE[level - 1]:
        return None  # no block at level 0; the block must be aligned to its size
    expect = np.uint64(first) + np.arange(s2tt.ENTRIES, dtype=np.uint64) * np.uint64(size)
    if not (ents == expect).all():
        return None
    if hipas == Hipas.ASSIGNED:
        return s2tt.assigned(pa, ripas, level - 1), True
    return s2tt.assigned_ns(first, level - 1), True


def rmi_rtt_fold(rmm, rd: int, ipa: int, level: int):
    """RMI_RTT_FOLD(rd, ipa, level): replace a homogeneous level-``level`` RTT by one entry of its
    parent (a block mapping where the RTT mapped contiguous memory). Returns ``(status, rtt_pa)``.

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_FOLD; failure conditions rd_*, level_bound, ipa_align,
    ipa_bound (ERROR_INPUT), rtt_walk (ERROR_RTT, walk level), rtt_entry (ERROR_RTT, level - 1: the
    parent is not a table), rtt_homo (ERROR_RTT, level: the RTT is not homogeneous).
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, realm.rtt_level_start + 1, level - 1 if level >= 1 else 0)
    if label:
        return rmm.fail(label, _INPUT)
    w = rmm.walk(realm, ipa, level - 1)
    if w.level < level - 1:  # rtt_walk
        return rmm.fail("rtt_walk", _RTT, w.level)
    if s2tt.decode(w.entry, w.level)[0] != Hipas.TABLE:  # rtt_entry
        return rmm.fail("rtt_entry", _RTT, level - 1)
    child = w.entry & s2tt.OA_MASK
    folded = _homogeneous(rmm.rtt_entries(child), level)
    if folded is None:  # rtt_homo
        return rmm.fail("rtt_homo", _RTT, level)
    # --- success ---
    entry, live = folded
    g = rmm.granules
    rmm.write_entry(w.entry_pa, entry)
    if not live:
        g.refcount_add(w.rtt, -1)
    g.refcount_add(child, -g.refcount(child))
    rmm.tlbi_realm(realm, ipa)
    rmm.wipe(child)
    g.transition(child, GranuleState.DELEGATED)
    return _SUCCESS, child


def _host_desc_problem(desc: int, level: int):
    if desc & ~(s2tt.OA_MASK | s2tt.NS_HOST_ATTRS):
        return "desc_valid: bits outside OA, MemAttr[4:2] and S2AP[7:6]"
    if (desc >> 2) & 0x7 == 0b100:
        return "desc_valid: MemAttr 0b100 is reserved"
    if (desc & s2tt.OA_MASK) % s2tt.LEVEL_SIZE[level if 1 <= level <= 3 else 3]:
        return "desc_valid: output address not aligned to the level's size"
    return None


def rmi_rtt_map_unprotected(rmm, rd: int, ipa: int, level: int, desc: int):
    """RMI_RTT_MAP_UNPROTECTED(rd, ipa, level, desc): map host memory at an unprotected IPA.

    ``desc`` is the host's descriptor: output address, MemAttr[4:2] and S2AP[7:6]; the RMM adds
    AF, XN and NS. The realm then reaches that Non-secure memory through its unprotected half.

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_MAP_UNPROTECTED; failure conditions rd_*, desc_valid,
    level_bound, ipa_align, ipa_bound, ipa_par (ERROR_INPUT: the IPA is protected), rtt_walk
    (ERROR_RTT, walk level), rtt_entry (ERROR_RTT, level: not UNASSIGNED_NS).
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = _host_desc_problem(desc, level)
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, max(1, realm.rtt_level_start), level if 1 <= level <= 3 else 3)
    if label:
        return rmm.fail(label, _INPUT)
    if realm.in_par(ipa):  # ipa_par
        return rmm.fail("ipa_par", _INPUT)
    w = rmm.walk(realm, ipa, level)
    if w.level != level:
        return rmm.fail("rtt_walk", _RTT, w.level)
    if s2tt.decode(w.entry, level)[0] != Hipas.UNASSIGNED_NS:
        return rmm.fail("rtt_entry", _RTT, level)
    rmm.write_entry(w.entry_pa, s2tt.assigned_ns(desc, level))
    rmm.granules.refcount_add(w.rtt, 1)
    return _SUCCESS


def rmi_rtt_unmap_unprotected(rmm, rd: int, ipa: int, level: int):
    """RMI_RTT_UNMAP_UNPROTECTED(rd, ipa, level): remove an unprotected mapping. Returns
    ``(status, top)`` with X1 the top of the non-live region.

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_UNMAP_UNPROTECTED; failure conditions rd_*, level_bound,
    ipa_align, ipa_bound, ipa_par (ERROR_INPUT), rtt_walk / rtt_entry (ERROR_RTT, walk level).
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, max(1, realm.rtt_level_start), level if 1 <= level <= 3 else 3)
    if label:
        return rmm.fail(label, _INPUT)
    if realm.in_par(ipa):
        return rmm.fail("ipa_par", _INPUT)
    w = rmm.walk(realm, ipa, level)
    if w.level != level:
        return rmm.fail("rtt_walk", _RTT, w.level), rmm.top_of_non_live(w, ipa)
    if s2tt.decode(w.entry, level)[0] != Hipas.ASSIGNED_NS:
        return rmm.fail("rtt_entry", _RTT, w.level), rmm.top_of_non_live(w, ipa)
    rmm.write_entry(w.entry_pa, s2tt.unassigned_ns())
    rmm.granules.refcount_add(w.rtt, -1)
    rmm.tlbi_realm(realm, ipa)
    return _SUCCESS, rmm.top_of_non_live(w, ipa)


def rmi_rtt_read_entry(rmm, rd: int, ipa: int, level: int):
    """RMI_RTT_READ_ENTRY(rd, ipa, level): what the RTT entry for ``ipa`` holds.

    Returns ``(status, walk_level, state, desc, ripas)``: the level the walk reached (it stops at
    the first non-table entry), RmiRttEntryState (UNASSIGNED 0, ASSIGNED 1, TABLE 2; unprotected
    entries report as UNASSIGNED / ASSIGNED), the output address (with the host's attributes for
    ASSIGNED_NS; 0 where there is none or the content is DESTROYED) and the RIPAS (EMPTY for
    tables and unprotected entries).

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_READ_ENTRY; failure conditions rd_*, level_bound,
    ipa_align, ipa_bound (ERROR_INPUT).
    """
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = _window(realm, ipa, level, realm.rtt_level_start, level if 0 <= level <= 3 else 3)
    if label:
        return rmm.fail(label, _INPUT)
    w = rmm.walk(realm, ipa, level)
    hipas, ripas, pa = s2tt.decode(w.entry, w.level)
    state = {Hipas.UNASSIGNED: 0, Hipas.UNASSIGNED_NS: 0, Hipas.ASSIGNED: 1, Hipas.ASSIGNED_NS: 1,
             Hipas.TABLE: 2}[hipas]
    if hipas == Hipas.ASSIGNED_NS:
        desc = s2tt.host_attrs(w.entry)
    elif hipas == Hipas.TABLE or (hipas == Hipas.ASSIGNED and ripas != Ripas.DESTROYED):
        desc = pa
    else:
        desc = 0
    return _SUCCESS, w.level, state, desc, int(ripas)


def rmi_rtt_init_ripas(rmm, rd: int, base: int, top: int):
    """RMI_RTT_INIT_RIPAS(rd, base, top): set RIPAS RAM on unassigned IPAs of a NEW realm, from
    ``base`` as far as one RTT reaches below ``top``; each entry processed extends the RIM.
    Returns ``(status, top_done)``: X1 is the first IPA not processed.

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_INIT_RIPAS; failure conditions size_valid (top <= base),
    rd_*, base_align, top_align, region_par (ERROR_INPUT), realm_state (ERROR_REALM), base_walk_align
    (ERROR_RTT, walk level), no_progress (ERROR_RTT, walk level).
    """
    if top <= base:  # size_valid
        return rmm.fail("size_valid", _INPUT)
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    if base % 4096:
        return rmm.fail("base_align", _INPUT)
    if top % 4096:
        return rmm.fail("top_align", _INPUT)
    if top > realm.par_top:  # region_par
        return rmm.fail("region_par", _INPUT)
    if realm.state != RealmState.NEW:
        return rmm.fail("realm_state", _REALM)
    w = rmm.walk(realm, base, 3)
    size = s2tt.LEVEL_SIZE[w.level]
    if base % size:
        return rmm.fail("base_walk_align", _RTT, w.level)
    ents = rmm.rtt_entries(w.rtt)
    addr = base
    ram = s2tt.unassigned(Ripas.RAM)
    empty = s2tt.unassigned(Ripas.EMPTY)
    algo = realm.hash_algo
    for j in range(s2tt.index(base, w.level), s2tt.ENTRIES):
        nxt = addr + size
        if nxt > top:
            break
        e = int(ents[j])
        if e == empty:
            ents[j] = ram
        elif e != ram:
            break
        realm.measurements[0] = extend_ripas(algo, realm.measurements[0], addr, nxt)
        addr = nxt
    if addr == base:
        return rmm.fail("no_progress", _RTT, w.level)
    rmm.platform.mec.dirty[w.rtt >> 12] = 1
    return _SUCCESS, addr


def _set_ripas_entry(e: int, level: int, target: int, change_destroyed: bool):
    """The entry after changing its RIPAS to ``target``, or None where the walk must stop."""
    hipas, ripas, pa = s2tt.decode(e, level)
    if hipas not in (Hipas.UNASSIGNED, Hipas.ASSIGNED):
        return None
    if ripas == target:
        return e
    if ripas == Ripas.DESTROYED and not change_destroyed:
        return None
    if hipas == Hipas.UNASSIGNED:
        return s2tt.unassigned(target)
    return s2tt.assigned(pa, target, level)


def rmi_rtt_set_ripas(rmm, rd: int, rec: int, base: int, top: int):
    """RMI_RTT_SET_RIPAS(rd, rec, base, top): apply the RIPAS change the REC asked for with
    RSI_IPA_STATE_SET, from ``base`` as far as one RTT reaches below ``top``. Returns
    ``(status, top_done)``; the REC remembers how far the host got.

    Spec: RMM DEN0137 1.0-rel0, RMI_RTT_SET_RIPAS; failure conditions size_valid, rd_*, rec_*
    (ERROR_INPUT), rec_running (ERROR_REC), rec_owner (ERROR_REC), base_bound / top_bound
    (ERROR_INPUT: not the region the REC asked for), base_walk_align, no_progress (ERROR_RTT).
    """
    if top <= base:
        return rmm.fail("size_valid", _INPUT)
    realm, label = _rd(rmm, rd)
    if label:
        return rmm.fail(label, _INPUT)
    label = rmm.check_granule(rec, GranuleState.REC, "rec")
    if label:
        return rmm.fail(label, _INPUT)
    r = rmm.recs[rec]
    if r.state == RecState.RUNNING:
        return rmm.fail("rec_running", _REC)
    if r.rd != rd:
        return rmm.fail("rec_owner", _REC)
    ch = r.ripas
    if ch is None or base != ch.addr:
        return rmm.fail("base_bound", _INPUT)
    if top > ch.top:
        return rmm.fail("top_bound", _INPUT)
    w = rmm.walk(realm, base, 3)
    size = s2tt.LEVEL_SIZE[w.level]
    if base % size:
        return rmm.fail("base_walk_align", _RTT, w.level)
    ents = rmm.rtt_entries(w.rtt)
    addr = base
    flush = False
    for j in range(s2tt.index(base, w.level), s2tt.ENTRIES):
        nxt = addr + size
        if nxt > top:
            break
        e = int(ents[j])
        new = _set_ripas_entry(e, w.level, ch.value, ch.change_destroyed)
        if new is None:
            break
        if new != e:
            flush |= bool(e & 1)
            ents[j] = new
        addr = nxt
    if addr == base:
        return rmm.fail("no_progress", _RTT, w.level)
    rmm.platform.mec.dirty[w.rtt >> 12] = 1
    if flush:
        rmm.tlbi_realm(realm, base)
    ch.addr = addr
    return _SUCCESS, addr


__all__ = ["rmi_rtt_create", "rmi_rtt_destroy", "rmi_rtt_fold", "rmi_rtt_map_unprotected",
           "rmi_rtt_unmap_unprotected", "rmi_rtt_read_entry", "rmi_rtt_init_ripas", "rmi_rtt_set_ripas"]
