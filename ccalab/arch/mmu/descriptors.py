"""VMSAv8-64 descriptors for the 4KB granule, and a small builder of translation tables in memory.

Spec: Arm ARM K.a, D8.3 "Translation table descriptor formats" (stage 1 and stage 2 leaf and
table descriptors; bit positions as in ``ccalab``'s spec digest section 4).
"""

from __future__ import annotations

from dataclasses import dataclass

ADDR = 0x0000_FFFF_FFFF_F000
LEVEL_SHIFT = {0: 39, 1: 30, 2: 21, 3: 12}
LEVEL_SIZE = {lvl: 1 << sh for lvl, sh in LEVEL_SHIFT.items()}

# stage-1 access permissions AP[2:1] (EL1&0): privileged / unprivileged
AP_RW_NONE, AP_RW_RW, AP_RO_NONE, AP_RO_RO = 0, 1, 2, 3


def table(next_table: int, *, ns_table=False, ap_table=0, uxn_table=False, pxn_table=False) -> int:
    """A table descriptor (levels 0-2) pointing at ``next_table``."""
    _aligned(next_table)
    return (next_table | 0b11 | (int(pxn_table) << 59) | (int(uxn_table) << 60) | ((ap_table & 3) << 61)
            | (int(ns_table) << 63))


def s1_leaf(oa: int, level: int, *, ap=AP_RW_NONE, af=True, attr_index=0, sh=3, ns=False, nse=False,
            ng=False, uxn=False, pxn=False) -> int:
    """A stage-1 block (levels 1, 2) or page (level 3) descriptor.

    ``ns``/``nse`` select the output PAS where the regime honours them (bit 5, and bit 11 at EL3).
    """
    _leaf_checks(oa, level)
    d = oa | (0b11 if level == 3 else 0b01)
    d |= (attr_index & 7) << 2 | int(ns) << 5 | (ap & 3) << 6 | (sh & 3) << 8 | int(af) << 10
    d |= int(ng or nse) << 11 | int(pxn) << 53 | int(uxn) << 54
    return d


def s2_leaf(oa: int, level: int, *, read=True, write=True, xn=0, af=True, memattr=0b0110, sh=3, ns=False) -> int:
    """A stage-2 block or page descriptor (S2AP from ``read``/``write``; XN[1:0] = ``xn``;
    ``ns`` is bit 55, honoured in a Realm's stage 2)."""
    _leaf_checks(oa, level)
    d = oa | (0b11 if level == 3 else 0b01)
    d |= (memattr & 0xF) << 2 | int(read) << 6 | int(write) << 7 | (sh & 3) << 8 | int(af) << 10
    d |= (xn & 3) << 53 | int(ns) << 55
    return d


def _aligned(addr: int) -> None:
    if addr & 0xFFF or addr < 0 or addr >> 48:
        raise ValueError(f"a table address must be 4KB aligned and below 2^48, got {addr:#x}")


def _leaf_checks(oa: int, level: int) -> None:
    if level not in (1, 2, 3):
        raise ValueError("blocks exist at levels 1 and 2, pages at level 3 (4KB granule, no LPA2)")
    if oa % LEVEL_SIZE[level] or oa < 0 or oa >> 48:
        raise ValueError(f"output address {oa:#x} is not aligned to the level-{level} size {LEVEL_SIZE[level]:#x}")


def describe(desc: int, level: int, stage: int = 1) -> str:
    """One line a learner can read."""
    desc &= (1 << 64) - 1
    kind = desc & 3
    if kind in (0, 2):
        return "invalid (bit 0 clear): translation fault"
    if kind == 1 and level in (0, 3):
        return "reserved (01 at this level): translation fault"
    if kind == 3 and level < 3:
        extra = ""
        if stage == 1:
            bits = [n for n, b in (("NSTable", 63), ("PXNTable", 59), ("UXNTable", 60)) if (desc >> b) & 1]
            ap = (desc >> 61) & 3
            if ap:
                bits.append(f"APTable={ap:02b}")
            extra = (" " + " ".join(bits)) if bits else ""
        return f"table -> {desc & ADDR:#x}{extra}"
    what = "page" if level == 3 else f"{LEVEL_SIZE[level] >> 20 if level == 2 else LEVEL_SIZE[level] >> 30}"
    what = "page" if level == 3 else (f"{LEVEL_SIZE[level] >> 20}MB block" if level == 2 else "1GB block")
    oa = desc & ADDR & ~(LEVEL_SIZE[level] - 1)
    af = (desc >> 10) & 1
    if stage == 1:
        ap = (desc >> 6) & 3
        perm = {0: "RW/--", 1: "RW/RW", 2: "RO/--", 3: "RO/RO"}[ap]
        flags = [f"AP={perm}", f"AF={af}"] + [n for n, b in (("NS", 5), ("nG/NSE", 11), ("PXN", 53), ("UXN", 54))
                                              if (desc >> b) & 1]
    else:
        perm = ("R" if (desc >> 6) & 1 else "-") + ("W" if (desc >> 7) & 1 else "-")
        flags = [f"S2AP={perm}", f"AF={af}", f"XN={(desc >> 53) & 3:02b}"] + (["NS"] if (desc >> 55) & 1 else [])
    return f"{what} -> {oa:#x} " + " ".join(flags)


@dataclass
class TableBuilder:
    """Builds a translation table tree in simulated memory, allocating table pages from a pool.

    ``write64(pa, value)`` stores a descriptor; ``pool`` is ``(base, size)`` of memory to take
    table pages from. ``root_level`` and ``root_tables`` (concatenated start tables, stage 2)
    describe the start of the walk. Used by tests, scenarios and labs; a learner can also write
    descriptors by hand.
    """

    memory: object
    pool: tuple
    root_level: int = 0
    root_tables: int = 1
    ia_bits: int = 48

    def __post_init__(self):
        base, size = self.pool
        _aligned(base)
        self._next = base
        self._end = base + size
        self.root = self._alloc(self.root_tables)
        self.tables = [self.root]

    def _alloc(self, pages: int = 1) -> int:
        align = 4096 * pages
        addr = -(-self._next // align) * align
        if addr + 4096 * pages > self._end:
            raise MemoryError("the table pool is full")
        self._next = addr + 4096 * pages
        self.memory.fill(addr, 4096 * pages, 0)
        return addr

    def _index(self, ia: int, level: int, top: int) -> int:
        return (ia & ((1 << top) - 1)) >> LEVEL_SHIFT[level]

    def map(self, ia: int, leaf: int, level: int = 3, table_attrs: dict | None = None) -> int:
        """Install ``leaf`` (from :func:`s1_leaf` / :func:`s2_leaf`) for ``ia`` at ``level``,
        creating tables on the way. Returns the PA of the descriptor written."""
        if level < self.root_level:
            raise ValueError("the leaf level is above the start level")
        tbl = self.root
        top = self.ia_bits
        for lvl in range(self.root_level, level):
            idx = self._index(ia, lvl, top)
            addr = tbl + 8 * idx
            desc = self.memory.read64(addr)
            if desc & 3 == 3:
                tbl = desc & ADDR
            else:
                new = self._alloc()
                self.tables.append(new)
                self.memory.write64(addr, table(new, **(table_attrs or {})))
                tbl = new
            top = LEVEL_SHIFT[lvl]
        addr = tbl + 8 * self._index(ia, level, top)
        self.memory.write64(addr, leaf)
        return addr

    def descriptor_address(self, ia: int, level: int):
        """Where the level-``level`` descriptor for ``ia`` lives (None if a table is missing)."""
        tbl = self.root
        top = self.ia_bits
        for lvl in range(self.root_level, level):
            desc = self.memory.read64(tbl + 8 * self._index(ia, lvl, top))
            if desc is None or desc & 3 != 3:
                return None
            tbl = desc & ADDR
            top = LEVEL_SHIFT[lvl]
        return tbl + 8 * self._index(ia, level, top)
