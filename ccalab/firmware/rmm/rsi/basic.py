"""RSI_VERSION, RSI_FEATURES, RSI_REALM_CONFIG, RSI_MEASUREMENT_READ and RSI_MEASUREMENT_EXTEND.

Spec: RMM DEN0137 1.0-rel0, B5.3.* for each command (failure conditions, outputs);
``RsiRealmConfig`` (B5.4.6).
"""

from __future__ import annotations

import struct

from ..measurement import extend_rem
from ..structs import REALM_CONFIG, pack
from .memory import realm_buffer, write_realm
from .status import RSI_ABI_VERSION, RsiStatus

_OK, _INPUT = RsiStatus.SUCCESS, RsiStatus.ERROR_INPUT


def rsi_version(ex, req, *_):
    """RSI_VERSION(req): SUCCESS iff ``req`` is 1.0; X1 = lower, X2 = higher implemented (both 1.0)."""
    return (_OK if req == RSI_ABI_VERSION else _INPUT), RSI_ABI_VERSION, RSI_ABI_VERSION


def rsi_features(ex, index, *_):
    """RSI_FEATURES(index): 0 for every index (RSI 1.0 defines no feature bits)."""
    return _OK, 0


def rsi_realm_config(ex, ipa, *_):
    """RSI_REALM_CONFIG(ipa): write RsiRealmConfig (IPA width, hash algorithm, RPV) to the page at
    ``ipa``. Failure: ipa not 4 KB aligned or not protected, or RIPAS EMPTY -> ERROR_INPUT; a page
    the host has not backed -> a data-abort exit, then the call is retried."""
    if ipa % 4096:
        return (_INPUT,)
    pa = realm_buffer(ex, ipa, write=True)
    if pa is None:
        return (_INPUT,)
    realm = ex.realm
    page = pack(REALM_CONFIG, {"ipa_width": realm.s2sz, "hash_algo": int(realm.hash_algo), "rpv": realm.rpv})
    write_realm(ex, pa, bytes(page))
    return (_OK,)


def rsi_measurement_read(ex, index, *_):
    """RSI_MEASUREMENT_READ(index): X1..X8 = measurement ``index`` (0 RIM, 1-4 REMs), zero-padded."""
    if index > 4:
        return (_INPUT,)
    value = bytes(ex.realm.measurements[index]).ljust(64, b"\0")
    return (_OK, *struct.unpack("<8Q", value))


def rsi_measurement_extend(ex, index, size, *words):
    """RSI_MEASUREMENT_EXTEND(index, size, X3..X10): REM[index] = H(REM[index] || value[:size]).
    Failure: index 0 (the RIM is not extensible) or > 4, size > 64 -> ERROR_INPUT."""
    if index == 0 or index > 4:
        return (_INPUT,)
    if size > 64:
        return (_INPUT,)
    value = struct.pack("<8Q", *(list(words) + [0] * 8)[:8])[:size]
    realm = ex.realm
    realm.measurements[index] = extend_rem(realm.hash_algo, realm.measurements[index], value)
    return (_OK,)


__all__ = ["rsi_version", "rsi_features", "rsi_realm_config", "rsi_measurement_read", "rsi_measurement_extend"]
