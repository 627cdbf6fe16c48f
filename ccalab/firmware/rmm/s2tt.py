"""Realm Translation Tables: stage-2 descriptors with the RMM's software encoding, and the RTT walk.

An RTT is a 4 KB granule of 512 stage-2 descriptors. Valid descriptors are real VMSAv8-64 stage-2
block/page/table descriptors, so the MMU model walks them when a REC runs. Invalid descriptors
carry the RMM's bookkeeping in bits the hardware ignores, as TF-RMM encodes them
(``lib/s2tt/src/s2tt_pvt_defs.h``):

=====================  ========  ============  ===========  ==========  =====================
entry                  NS [55]   HIPAS [7:5]   RIPAS [2:1]  type [1:0]  output address
=====================  ========  ============  ===========  ==========  =====================
unassigned_empty       0         0             EMPTY 0      invalid     --
unassigned_ram         0         0             RAM 1        invalid     --
unassigned_destroyed   0         0             DESTROYED 2  invalid     --
assigned_empty         0         1             EMPTY 0      invalid     the DATA granule
assigned_destroyed     0         1             DESTROYED 2  invalid     the DATA granule
assigned_ram           0         --            --           page/block  the DATA granule
unassigned_ns          1         0             --           invalid     --
assigned_ns            1         --            --           page/block  the host's PA
table                  --        --            --           table       the next RTT
=====================  ========  ============  ===========  ==========  =====================

A valid protected entry (ASSIGNED, RIPAS RAM) maps Normal write-back memory, inner shareable,
read/write, AF set; a valid unprotected entry (ASSIGNED_NS) keeps the host's MemAttr[4:2] and
S2AP[7:6] and adds AF, XN and NS (bit 55: in a Realm's stage 2 the output is then in the
Non-secure PAS).

Spec: RMM DEN0137 1.0-rel0, A5.5 "Realm Translation Table" (RTT entry states HIPAS/RIPAS,
``RmmRttEntryState``), A5.5.10 "RTT walk"; Arm ARM K.a D8.3 for the descriptor formats.
"""

from __future__ import annotations

import enum

import numpy as np

ENTRIES = 512
GRANULE = 4096
LEVEL_SHIFT = {0: 39, 1: 30, 2: 21, 3: 12}
LEVEL_SIZE = {lvl: 1 << sh for lvl, sh in LEVEL_SHIFT.items()}

OA_MASK = 0x0000_FFFF_FFFF_F000
NS = 1 << 55
AF = 1 << 10
XN = 2 << 53
_HIPAS_SHIFT = 5
_HIPAS_MASK = 0x7 << _HIPAS_SHIFT
_RIPAS_SHIFT = 1
_RIPAS_MASK = 0x3 << _RIPAS_SHIFT
MEMATTR_MASK = 0x7 << 2
S2AP_MASK = 0x3 << 6
#: FWB Normal write-back (MemAttr[4:2] = 0b110), S2AP read/write, inner shareable, AF.
PROTECTED_ATTRS = (0b110 << 2) | (0b11 << 6) | (0b11 << 8) | AF
#: Host-controlled attribute bits of an unprotected mapping.
NS_HOST_ATTRS = MEMATTR_MASK | S2AP_MASK
MEMATTR_RESERVED = 0b100 << 2


class Ripas(enum.IntEnum):
    """RmmRipas / RmiRipas / RsiRipas: the realm's view of an IPA in the protected half.

    EMPTY: not usable (an access takes a synchronous external abort inside the realm).
    RAM: usable memory; the realm relies on its content once it is ASSIGNED.
    DESTROYED: was RAM, and its content has been destroyed by the host; an access exits to the
    host, and the realm must opt in (``RSI_IPA_STATE_SET`` with CHANGE_DESTROYED) to reuse it.
    """

    EMPTY = 0
    RAM = 1
    DESTROYED = 2


class Hipas(enum.IntEnum):
    """RmmHipas: the host's view of an RTT entry (spec 1.0 names; the unprotected ones end _NS)."""

    UNASSIGNED = 0
    ASSIGNED = 1
    TABLE = 2
    UNASSIGNED_NS = 3
    ASSIGNED_NS = 4


class RttEntryState(enum.IntEnum):
    """RmiRttEntryState, as RMI_RTT_READ_ENTRY reports it (X2)."""

    UNASSIGNED = 0
    ASSIGNED = 1
    TABLE = 2


# --- constructors ------------------------------------------------------------------------------
def unassigned(ripas: int) -> int:
    """An UNASSIGNED protected entry with RIPAS ``ripas``."""
    return int(ripas) << _RIPAS_SHIFT


def unassigned_ns() -> int:
    """An UNASSIGNED_NS entry (unprotected IPA, nothing mapped)."""
    return NS


def assigned(pa: int, ripas: int, level: int) -> int:
    """An ASSIGNED protected entry mapping ``pa``: a valid page/block if RIPAS is RAM, else an
    invalid entry that remembers ``pa`` and the RIPAS."""
    if int(ripas) == Ripas.RAM:
        return pa | PROTECTED_ATTRS | (0b11 if level == 3 else 0b01)
    return pa | (1 << _HIPAS_SHIFT) | (int(ripas) << _RIPAS_SHIFT)


def assigned_ns(host_desc: int, level: int) -> int:
    """An ASSIGNED_NS entry from the host's descriptor (OA, MemAttr[4:2], S2AP[7:6])."""
    return (host_desc & (OA_MASK | NS_HOST_ATTRS)) | AF | XN | NS | (0b11 if level == 3 else 0b01)


def table(pa: int) -> int:
    """A table entry pointing at the RTT at ``pa``."""
    return pa | 0b11


# --- decoding ------------------------------------------------------------------------------------
def decode(e: int, level: int) -> tuple:
    """``(hipas, ripas, pa)`` of entry ``e`` at ``level``. ``ripas`` is the entry's RIPAS for
    protected entries (EMPTY for TABLE and unprotected ones, as RTT_READ_ENTRY reports them);
    ``pa`` is the output address (0 where there is none)."""
    if e & 1:
        if level < 3 and (e & 3) == 3:
            return Hipas.TABLE, Ripas.EMPTY, e & OA_MASK
        if e & NS:
            return Hipas.ASSIGNED_NS, Ripas.EMPTY, e & OA_MASK
        return Hipas.ASSIGNED, Ripas.RAM, e & OA_MASK
    if e & NS:
        return Hipas.UNASSIGNED_NS, Ripas.EMPTY, 0
    ripas = Ripas((e & _RIPAS_MASK) >> _RIPAS_SHIFT)
    if (e & _HIPAS_MASK) >> _HIPAS_SHIFT == 1:
        return Hipas.ASSIGNED, ripas, e & OA_MASK
    return Hipas.UNASSIGNED, ripas, 0


def is_live(e: int, level: int) -> bool:
    """Whether an entry keeps its RTT live: TABLE, ASSIGNED or ASSIGNED_NS."""
    return decode(e, level)[0] in (Hipas.TABLE, Hipas.ASSIGNED, Hipas.ASSIGNED_NS)


def host_attrs(e: int) -> int:
    """The host-visible part of an ASSIGNED_NS entry: OA | MemAttr | S2AP (what READ_ENTRY returns)."""
    return e & (OA_MASK | NS_HOST_ATTRS)


def name(e: int, level: int) -> str:
    """``ASSIGNED/RAM``, ``UNASSIGNED_NS``, ``TABLE`` ... for an entry."""
    hipas, ripas, _ = decode(e, level)
    if hipas in (Hipas.UNASSIGNED, Hipas.ASSIGNED):
        return f"{hipas.name}/{ripas.name}"
    return hipas.name


# --- geometry ------------------------------------------------------------------------------------
def rtt_num_start(s2sz: int, sl: int) -> int:
    """Number of concatenated root RTTs for an IPA width ``s2sz`` starting at level ``sl``."""
    e = s2sz - (9 * (3 - sl) + 21)
    return 1 << e if e > 0 else 1


def level_consistent(s2sz: int, sl: int) -> bool:
    """Whether a walk starting at ``sl`` covers exactly ``s2sz`` bits with at most 16 root tables.

    Arm ARM K.a ``AArch64.S2InconsistentSL``: at least one bit more than the levels below ``sl``
    resolve (``9 * levels + 12 + 1``), at most one more stride (8 more bits) plus 16 concatenated
    tables (4 more). For 4 KB granules: level 0 takes 40..48 bits (52 with LPA2), level 1 31..43,
    level 2 22..34, level 3 13..25.
    """
    if not 0 <= sl <= 3:
        return False
    levels = 3 - sl
    lo = 9 * levels + 12 + 1
    hi = lo + (9 - 1) + 4
    return lo <= s2sz <= hi


def index(ipa: int, level: int) -> int:
    return (ipa >> LEVEL_SHIFT[level]) & (ENTRIES - 1)


class Walk:
    """The result of an RTT walk: the deepest ``level`` reached, the entry's PA and value, and the
    PA of the RTT that holds it."""

    __slots__ = ("level", "entry_pa", "entry", "rtt")

    def __init__(self, level, entry_pa, entry, rtt):
        self.level, self.entry_pa, self.entry, self.rtt = level, entry_pa, entry, rtt


def walk(words: np.ndarray, realm, ipa: int, target_level: int) -> Walk:
    """Walk ``realm``'s RTTs for ``ipa`` down to ``target_level`` or to the first entry that is
    not a table, whichever comes first (spec RttWalk). ``words`` is the memory image as 64-bit
    words; ``ipa`` must be below 2^s2sz."""
    sl = realm.rtt_level_start
    top_shift = LEVEL_SHIFT[sl] + 9
    rtt = realm.rtt_base + (ipa >> top_shift) * GRANULE
    level = sl
    while True:
        epa = rtt + 8 * index(ipa, level)
        e = int(words[epa >> 3]) & 0xFFFF_FFFF_FFFF_FFFF
        if level == target_level or level == 3 or (e & 3) != 3:
            return Walk(level, epa, e, rtt)
        rtt = e & OA_MASK
        level += 1


__all__ = ["Ripas", "Hipas", "RttEntryState", "unassigned", "unassigned_ns", "assigned", "assigned_ns",
           "table", "decode", "is_live", "host_attrs", "name", "rtt_num_start", "level_consistent",
           "index", "walk", "Walk", "LEVEL_SIZE", "LEVEL_SHIFT", "ENTRIES", "NS", "OA_MASK",
           "MEMATTR_RESERVED", "NS_HOST_ATTRS"]
