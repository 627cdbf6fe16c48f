"""GPT descriptor encodings and decoding.

Spec: RME system architecture (DEN0129) and Arm ARM K.a pseudocode ``DecodeGPTBlock``,
``DecodeGPTTable``, ``DecodeGPTContiguous``, ``DecodeGPTGranules``.

| level | type       | bits[3:0] | layout |
|-------|------------|-----------|--------|
| L0    | Block      | 0001      | GPI in [7:4]; [63:8] RES0 |
| L0    | Table      | 0011      | next-level address in [51:12]; [11:4] and [63:52] RES0 |
| L1    | Contiguous | 0001      | GPI in [7:4]; Contig in [9:8] (01 2MB, 10 32MB, 11 512MB); [63:10] RES0 |
| L1    | Granules   | otherwise | 16 GPIs, GPI i in bits [4i+3:4i] |
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pas import GPI, gpi_is_valid

L0_BLOCK = 0b0001
L0_TABLE = 0b0011
L1_CONTIG = 0b0001

#: Contig field -> block size in bytes.
CONTIG_SIZES = {1: 2 << 20, 2: 32 << 20, 3: 512 << 20}
CONTIG_FIELD = {size: field for field, size in CONTIG_SIZES.items()}

ADDR_MASK_51_12 = ((1 << 52) - 1) & ~0xFFF


def l0_block(gpi: int) -> int:
    return (int(gpi) << 4) | L0_BLOCK


def l0_table(l1_addr: int) -> int:
    if l1_addr & 0xFFF or l1_addr >> 52:
        raise ValueError(f"an L1 table address must be 4KB aligned and below 2^52, got {l1_addr:#x}")
    return l1_addr | L0_TABLE


def l1_contiguous(gpi: int, size: int) -> int:
    return (CONTIG_FIELD[size] << 8) | (int(gpi) << 4) | L1_CONTIG


def l1_granules(gpis) -> int:
    """Pack 16 GPIs (granule 0 first) into one L1 word."""
    gpis = list(gpis)
    if len(gpis) != 16:
        raise ValueError("an L1 granules descriptor holds exactly 16 GPIs")
    word = 0
    for i, g in enumerate(gpis):
        word |= (int(g) & 0xF) << (4 * i)
    return word


def l1_uniform(gpi: int) -> int:
    """An L1 granules word with all 16 GPIs equal to ``gpi``."""
    return l1_granules([gpi] * 16)


@dataclass(frozen=True)
class Decoded:
    """A decoded descriptor: what kind it is, and why it would fault if it would."""

    level: int
    kind: str  # "block", "table", "contiguous", "granules", "invalid"
    gpi: int | None = None
    next_table: int | None = None
    contig_size: int | None = None
    gpis: tuple | None = None
    problem: str = ""

    @property
    def valid(self) -> bool:
        return not self.problem


def decode_l0(desc: int) -> Decoded:
    desc = int(desc)
    typ = desc & 0xF
    if typ == L0_BLOCK:
        gpi = (desc >> 4) & 0xF
        if desc >> 8:
            return Decoded(0, "block", gpi, problem="RES0 bits [63:8] of a block descriptor are set")
        if not gpi_is_valid(gpi):
            return Decoded(0, "block", gpi, problem=f"GPI 0b{gpi:04b} is reserved")
        return Decoded(0, "block", gpi)
    if typ == L0_TABLE:
        addr = desc & ADDR_MASK_51_12
        if (desc >> 4) & 0xFF or desc >> 52:
            return Decoded(0, "table", next_table=addr, problem="RES0 bits [11:4] or [63:52] are set")
        return Decoded(0, "table", next_table=addr)
    return Decoded(0, "invalid", problem=f"bits[3:0] = 0b{typ:04b} is neither a block (0001) nor a table (0011)")


def decode_l1(desc: int) -> Decoded:
    desc = int(desc)
    if desc & 0xF == L1_CONTIG:
        gpi = (desc >> 4) & 0xF
        contig = (desc >> 8) & 0x3
        size = CONTIG_SIZES.get(contig)
        if desc >> 10:
            return Decoded(1, "contiguous", gpi, contig_size=size, problem="RES0 bits [63:10] are set")
        if contig == 0:
            return Decoded(1, "contiguous", gpi, problem="Contig = 00 is reserved")
        if not gpi_is_valid(gpi):
            return Decoded(1, "contiguous", gpi, contig_size=size, problem=f"GPI 0b{gpi:04b} is reserved")
        return Decoded(1, "contiguous", gpi, contig_size=size)
    gpis = tuple((desc >> (4 * i)) & 0xF for i in range(16))
    bad = [i for i, g in enumerate(gpis) if not gpi_is_valid(g)]
    if bad:
        return Decoded(1, "granules", gpis=gpis,
                       problem=f"GPI nibble {bad[0]} holds reserved value 0b{gpis[bad[0]]:04b}")
    return Decoded(1, "granules", gpis=gpis)


def describe(decoded: Decoded) -> str:
    """One line a learner can read."""
    def name(g):
        return GPI(g).label if gpi_is_valid(g) else f"reserved 0b{g:04b}"

    if decoded.kind == "block":
        text = f"L0 block: whole region is {name(decoded.gpi)}"
    elif decoded.kind == "table":
        text = f"L0 table: L1 table at {decoded.next_table:#x}"
    elif decoded.kind == "contiguous":
        size = f"{decoded.contig_size >> 20}MB" if decoded.contig_size else "?"
        text = f"L1 contiguous {size} block: {name(decoded.gpi)}"
    elif decoded.kind == "granules":
        counts = {}
        for g in decoded.gpis:
            counts[g] = counts.get(g, 0) + 1
        text = "L1 granules: " + ", ".join(f"{n}x {name(g)}" for g, n in counts.items())
    else:
        text = "invalid descriptor"
    return text + (f" (walk fault: {decoded.problem})" if decoded.problem else "")
