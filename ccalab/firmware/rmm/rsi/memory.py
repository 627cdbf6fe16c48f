"""RSI_IPA_STATE_SET, RSI_IPA_STATE_GET and RSI_HOST_CALL, and the RMM's access to a realm's
buffers (the common rule for the calls that take an IPA).

Spec: RMM DEN0137 1.0-rel0, RSI_IPA_STATE_SET (failure conditions ripas_valid, base_align,
top_align, size_valid, region_par), RSI_IPA_STATE_GET, RSI_HOST_CALL (addr_align, addr_bound);
A4.4.4 "RIPAS change exit"; B5.4.4 ``RsiHostCall``.
"""

from __future__ import annotations

import struct

from ....arch.mec.engine import context_id
from ....arch.pas import PAS
from .. import s2tt
from ..exits import ExitReason, _Exit
from ..objects import RipasChange
from ..s2tt import Hipas, Ripas
from ..structs import HOST_CALL_SIZE
from .status import RIPAS_CHANGE_DESTROYED, RsiStatus

_OK, _INPUT = RsiStatus.SUCCESS, RsiStatus.ERROR_INPUT


def realm_buffer(ex, ipa: int, write: bool):
    """The PA behind a realm buffer at protected ``ipa``, or None (ERROR_INPUT: not protected, or
    RIPAS EMPTY). A page not backed by DATA (RIPAS RAM, UNASSIGNED; or DESTROYED) makes the RMM
    emulate a stage-2 data abort: a REC exit, after which the call is retried."""
    realm = ex.realm
    if not realm.in_par(ipa):
        return None
    w = ex.rmm.walk(realm, ipa, 3)
    hipas, ripas, pa = s2tt.decode(w.entry, w.level)
    if ripas == Ripas.EMPTY:
        return None
    if hipas == Hipas.ASSIGNED and ripas == Ripas.RAM:
        size = s2tt.LEVEL_SIZE[w.level]
        return pa + (ipa & (size - 1))
    ex._abort(ipa, write=write)  # raises the data-abort exit


def _ctx(ex):
    return context_id(PAS.REALM, ex.realm.mecid)


def write_realm(ex, pa: int, data: bytes) -> None:
    ex.p.mec.write(pa, data, _ctx(ex))


def read_realm(ex, pa: int, n: int) -> bytes:
    return ex.p.mec.read(pa, n, _ctx(ex))


def rsi_ipa_state_set(ex, base, top, ripas, flags, *_):
    """RSI_IPA_STATE_SET(base, top, ripas, flags): ask the host to change the RIPAS of
    ``[base, top)``: a RIPAS_CHANGE exit; the realm sees the outcome when it next runs
    (X1 = how far the host got, X2 = its response)."""
    if ripas > Ripas.RAM:  # ripas_valid (1.0: EMPTY or RAM)
        return (_INPUT,)
    if base % 4096 or top % 4096:  # base_align / top_align
        return (_INPUT,)
    if top <= base:  # size_valid
        return (_INPUT,)
    if top > ex.realm.par_top:  # region_par
        return (_INPUT,)
    rec = ex.rec
    rec.ripas = RipasChange(base=base, top=top, addr=base, value=int(ripas),
                            change_destroyed=bool(flags & RIPAS_CHANGE_DESTROYED))
    raise _Exit({"exit_reason": ExitReason.RIPAS_CHANGE, "ripas_base": base, "ripas_top": top,
                 "ripas_value": int(ripas)}, pending=("ripas", None), last={})


def rsi_ipa_state_get(ex, base, end, *_):
    """RSI_IPA_STATE_GET(base, end): X1 = the top of the run of IPAs from ``base`` (below ``end``)
    with one RIPAS, X2 = that RIPAS."""
    realm = ex.realm
    if base % 4096 or end % 4096 or base >= end or end > realm.par_top:
        return (_INPUT,)
    ripas0 = None
    addr = base
    while addr < end:
        w = ex.rmm.walk(realm, addr, 3)
        _, ripas, _ = s2tt.decode(w.entry, w.level)
        if ripas0 is None:
            ripas0 = ripas
        elif ripas != ripas0:
            break
        size = s2tt.LEVEL_SIZE[w.level]
        addr = (addr & ~(size - 1)) + size
    return _OK, min(addr, end), int(ripas0)


def rsi_host_call(ex, ipa, *_):
    """RSI_HOST_CALL(ipa): pass the RsiHostCall at ``ipa`` (immediate and X0..X30) to the host: a
    HOST_CALL exit; the host's gprs are copied back into the structure on the next entry."""
    if ipa % HOST_CALL_SIZE or (ipa & 0xFFF) + HOST_CALL_SIZE > 4096:  # addr_align
        return (_INPUT,)
    pa = realm_buffer(ex, ipa, write=False)  # addr_bound / RIPAS EMPTY; an unbacked page exits
    if pa is None:
        return (_INPUT,)
    raw = read_realm(ex, pa, 8 + 31 * 8)
    imm = struct.unpack_from("<H", raw, 0)[0]
    gprs = list(struct.unpack_from("<31Q", raw, 8))
    ex.rec.host_call = ipa
    raise _Exit({"exit_reason": ExitReason.HOST_CALL, "imm": imm, "gprs": gprs}, pending=("host_call", None), last={})


def complete_host_call(ex, ipa: int, gprs) -> tuple:
    """On re-entry after a HOST_CALL exit: write the host's X0..X30 into the structure. If the host
    has taken the page away meanwhile, the RMM emulates a data abort at it again and the call stays
    pending, to complete on a later entry (TF-RMM ``complete_rsi_host_call``)."""
    try:
        pa = realm_buffer(ex, ipa, write=True)
    except _Exit as abort:
        abort.pending = ("host_call", None)
        raise
    if pa is not None:
        write_realm(ex, pa + 8, struct.pack("<31Q", *gprs))
    return (_OK,)


__all__ = ["rsi_ipa_state_set", "rsi_ipa_state_get", "rsi_host_call", "complete_host_call", "realm_buffer",
           "write_realm", "read_realm"]
