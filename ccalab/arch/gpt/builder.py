"""Building a GPT from a list of PAS regions, the way TF-A's ``gpt_rme`` library does at boot.

Spec: TF-A ``lib/gpt_rme`` ``gpt_init_l0_tables`` (every L0 entry starts as a Block of GPI ANY)
and ``gpt_init_pas_l1_tables`` (regions are validated; ``block`` regions become L0 block
descriptors, ``granule`` regions get L1 tables, written with contiguous descriptors where a
2MB, 32MB or 512MB aligned block has one GPI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pas import GPI, as_gpi
from .config import GPCConfig
from .descriptors import CONTIG_SIZES, l0_block, l0_table, l1_contiguous, l1_uniform

CONTIG_ORDER = (512 << 20, 32 << 20, 2 << 20)


@dataclass(frozen=True)
class PASRegion:
    """TF-A ``pas_region_t``: a range of PA space, its GPI and how it is mapped.

    ``mapping`` is ``"granule"`` (``GPT_MAP_REGION_GRANULE``: L1 tables, so granules inside can
    later change PAS) or ``"block"`` (``GPT_MAP_REGION_BLOCK``: whole L0 regions, fixed).
    """

    name: str
    base: int
    size: int
    gpi: GPI
    mapping: str = "granule"

    def __post_init__(self):
        object.__setattr__(self, "gpi", as_gpi(self.gpi))
        if self.mapping not in ("granule", "block"):
            raise ValueError(f"{self.name}: mapping is 'granule' or 'block', not {self.mapping!r}")
        if self.size <= 0:
            raise ValueError(f"{self.name}: a PAS region needs a positive size")

    @property
    def end(self) -> int:
        return self.base + self.size


def validate_regions(cfg: GPCConfig, regions) -> None:
    """TF-A ``validate_pas_mappings``: aligned, inside the PPS, no overlaps, no shared L0 blocks."""
    regions = sorted(regions, key=lambda r: r.base)
    for r in regions:
        align = cfg.l0_region_size if r.mapping == "block" else cfg.granule_size
        if r.base % align or r.size % align:
            raise ValueError(f"PAS region {r.name} [{r.base:#x}, {r.end:#x}) is not aligned to "
                             f"{'the L0 region size' if r.mapping == 'block' else 'the granule size'} "
                             f"({align:#x})")
        if r.end > (1 << cfg.t):
            raise ValueError(f"PAS region {r.name} ends at {r.end:#x}, beyond the protected PA size "
                             f"(2^{cfg.t} = {1 << cfg.t:#x})")
    for a, b in zip(regions, regions[1:]):
        if a.end > b.base:
            raise ValueError(f"PAS regions {a.name} and {b.name} overlap")
    block_l0 = {}
    for r in regions:
        if r.mapping == "block":
            for i in range(r.base >> cfg.s, r.end >> cfg.s):
                block_l0[i] = r.name
    for r in regions:
        if r.mapping == "granule":
            for i in range(r.base >> cfg.s, ((r.end - 1) >> cfg.s) + 1):
                if i in block_l0:
                    raise ValueError(f"PAS region {r.name} shares L0 entry {i} with block region {block_l0[i]}")


def l1_words_for(cfg: GPCConfig, l0_index: int, regions) -> np.ndarray:
    """The L1 table (as int64 words) for one L0 region painted with its granule regions."""
    n = cfg.l1_entries
    words = np.full(n, np.uint64(l1_uniform(GPI.ANY)).view(np.int64), dtype=np.int64)
    region_base = l0_index << cfg.s
    word_span = cfg.granule_size * 16
    for r in regions:
        if r.mapping != "granule":
            continue
        lo = max(r.base, region_base)
        hi = min(r.end, region_base + cfg.l0_region_size)
        if lo >= hi:
            continue
        g = int(r.gpi)
        first_full = -(-(lo - region_base) // word_span)
        last_full = (hi - region_base) // word_span
        if first_full < last_full:
            words[first_full:last_full] = np.uint64(l1_uniform(g)).view(np.int64)
        # partial words at either edge: set nibble by nibble
        if first_full < last_full:
            edges = [(lo, region_base + first_full * word_span), (region_base + last_full * word_span, hi)]
        else:
            edges = [(lo, hi)]
        for edge_lo, edge_hi in edges:
            for gran_pa in range(edge_lo, edge_hi, cfg.granule_size):
                w = (gran_pa - region_base) // word_span
                nib = cfg.gpi_index(gran_pa)
                word = int(words[w]) & 0xFFFF_FFFF_FFFF_FFFF
                word = (word & ~(0xF << (4 * nib))) | (g << (4 * nib))
                words[w] = np.uint64(word).view(np.int64)
    return use_contiguous(cfg, words)


def _uniform_gpi(words: np.ndarray):
    """For each word: its GPI if all 16 nibbles are equal (and it is a granules word), else -1."""
    u = words.view(np.uint64)
    g = (u & np.uint64(0xF)).astype(np.int64)
    rep = (u & np.uint64(0xF)) * np.uint64(0x1111_1111_1111_1111)
    ok = (rep == u) & (g != 1)
    return np.where(ok, g, -1)


def use_contiguous(cfg: GPCConfig, words: np.ndarray) -> np.ndarray:
    """Rewrite every aligned block of equal GPIs as contiguous descriptors, largest first."""
    words = words.copy()
    word_span = cfg.granule_size * 16
    uniform = _uniform_gpi(words)
    for size in CONTIG_ORDER:
        per = size // word_span
        if per < 1 or len(words) % per:
            continue
        blocks = uniform.reshape(-1, per)
        same = (blocks >= 0).all(axis=1) & (blocks == blocks[:, :1]).all(axis=1)
        for b in np.nonzero(same)[0]:
            words[b * per:(b + 1) * per] = np.uint64(l1_contiguous(int(blocks[b, 0]), size)).view(np.int64)
            uniform[b * per:(b + 1) * per] = -1  # already a block; smaller sizes leave it alone
    return words


def l0_descriptors(cfg: GPCConfig, regions, l1_address_of) -> np.ndarray:
    """The L0 table: ANY blocks, block regions, and table descriptors where granule regions lie."""
    l0 = np.full(cfg.l0_entries, l0_block(GPI.ANY), dtype=np.int64)
    for r in regions:
        if r.mapping == "block":
            l0[r.base >> cfg.s:r.end >> cfg.s] = l0_block(r.gpi)
    for idx, addr in l1_address_of.items():
        l0[idx] = l0_table(addr)
    return l0


def l0_indices_needing_l1(cfg: GPCConfig, regions):
    out = set()
    for r in regions:
        if r.mapping == "granule":
            out.update(range(r.base >> cfg.s, ((r.end - 1) >> cfg.s) + 1))
    return sorted(out)


def contig_size_of(word: int) -> int | None:
    """The block size of an L1 contiguous descriptor, or None for a granules word."""
    word = int(word) & 0xFFFF_FFFF_FFFF_FFFF
    if word & 0xF != 1:
        return None
    return CONTIG_SIZES.get((word >> 8) & 3)
