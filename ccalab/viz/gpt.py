"""Pictures and text views of the Granule Protection Table and of the granule map.

Every picture has a text twin that needs no graphics (``granule_map_text`` for
``draw_granule_map``, ``gpt_structure_text`` for ``draw_gpt_structure``), so terminals, tests
and screen readers see the same facts.

The map is read *structurally* from the GPT in simulated memory: an L0 block descriptor covers
its whole L0 region with one GPI, an L1 contiguous descriptor or a uniform granules word covers
16 granules at once, and only L1 words whose 16 GPIs differ are expanded to single granules. So
the whole protected PA space (1 TB and more) costs one pass over the L0 table and the L1 tables,
never one walk per 4 KB granule; :meth:`ccalab.Platform.granule_gpis` (the numba walk) is the
reference the tests compare it with.

Spec: Arm ARM K.a ``GPTWalk``, ``DecodeGPTBlock``, ``DecodeGPTTable``, ``DecodeGPTContiguous``,
``DecodeGPTGranules``; RME system architecture DEN0129, GPT formats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch.gpt.descriptors import CONTIG_SIZES, decode_l0, describe
from ..arch.pas import VALID_GPI_VALUES, GPI, as_pas
from ..arch.sysreg import GPCCR_EL3, GPTBR_EL3
from .theme import (CODE_LABELS, GPI_COLOURS, MIXED, NO_ENTRY, WALK_FAULT, colour_for, resolve_theme,
                    style_axes, style_legend)

#: One character per map code.
SYMBOLS = {
    GPI.NONSECURE: "N",
    GPI.REALM: "R",
    GPI.SECURE: "S",
    GPI.ROOT: "X",
    GPI.ANY: "*",
    GPI.NO_ACCESS: ".",
    MIXED: "?",
    WALK_FAULT: "!",
    NO_ENTRY: " ",
}

LEGEND_TEXT = ("Legend: N Non-secure  R Realm  S Secure  X Root  * All access  . No access  "
               "? mixed (zoom in)  ! walk fault/reserved  ' ' above PPS (no GPT entry)")

_VALID = np.zeros(16, dtype=bool)
_VALID[sorted(VALID_GPI_VALUES)] = True
_NIBBLE_SHIFTS = (4 * np.arange(16)).astype(np.uint64)


def _fmt_size(n: int) -> str:
    for unit, shift in (("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    for unit, shift in (("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


def _code_name(code: int) -> str:
    code = int(code)
    if code in CODE_LABELS:
        return CODE_LABELS[code]
    return f"reserved 0b{code:04b}"


# --- reading the GPT structurally ------------------------------------------------------------
def _read_words(p, addr: int, n: int):
    """``n`` descriptors at ``addr`` as uint64, or None where no memory answers (bus error)."""
    mem = p.memory
    if n <= 0:
        return np.zeros(0, np.uint64), np.ones(0, bool)
    if addr % 8 == 0 and mem.is_backed(addr, 8 * n):
        w = mem.words[addr >> 3:(addr >> 3) + n].view(np.uint64).copy()
        return w, np.ones(n, bool)
    if n > 1 << 16:  # a table in a hole: report it as one unreadable stretch
        return np.zeros(n, np.uint64), np.zeros(n, bool)
    out = np.zeros(n, np.uint64)
    ok = np.zeros(n, bool)
    for k in range(n):
        v = mem.read64(addr + 8 * k)
        if v is not None:
            out[k] = v
            ok[k] = True
    return out, ok


def gpi_runs(p, start: int, end: int):
    """Maximal runs of equal GPI over ``[start, end)``, read from the GPT in memory.

    Returns ``(starts, codes)``: int64 run start addresses (the first is ``start``) and uint8
    codes (a GPI value, ``WALK_FAULT`` where a walk would fault, ``NO_ENTRY`` above the PPS).
    Run ``k`` ends where run ``k + 1`` starts, the last one at ``end``. Consecutive runs always
    have different codes.
    """
    cfg = p.gpc_config
    top = min(end, 1 << cfg.t)
    s_parts, c_parts = [], []
    if start < top:
        if not cfg.consistent or cfg.base >> cfg.t:
            s_parts.append(np.array([start], np.int64))
            c_parts.append(np.array([WALK_FAULT], np.uint8))
        else:
            _l0_runs(p, cfg, start, top, s_parts, c_parts)
    if end > max(start, 1 << cfg.t):
        s_parts.append(np.array([max(start, 1 << cfg.t)], np.int64))
        c_parts.append(np.array([NO_ENTRY], np.uint8))
    starts = np.concatenate(s_parts) if s_parts else np.array([start], np.int64)
    codes = np.concatenate(c_parts) if c_parts else np.array([NO_ENTRY], np.uint8)
    order = np.argsort(starts, kind="stable")
    starts, codes = starts[order], codes[order]
    # clip to [start, end): keep the last run that begins at or before start
    first = max(int(np.searchsorted(starts, start, "right")) - 1, 0)
    starts, codes = starts[first:].copy(), codes[first:]
    starts[0] = start
    keep = starts < end
    starts, codes = starts[keep], codes[keep]
    change = np.ones(starts.size, bool)
    change[1:] = codes[1:] != codes[:-1]
    return starts[change], codes[change]


def _l0_runs(p, cfg, start, top, s_parts, c_parts):
    s = cfg.s
    i0, i1 = (start >> s), ((top - 1) >> s)
    d0, ok = _read_words(p, cfg.l0_base + 8 * i0, i1 - i0 + 1)
    idx = np.arange(i0, i1 + 1, dtype=np.int64)
    typ = d0 & np.uint64(0xF)
    g0 = ((d0 >> np.uint64(4)) & np.uint64(0xF)).astype(np.int64)
    block = ok & (typ == 1) & ((d0 >> np.uint64(8)) == 0) & _VALID[g0]
    table_addr = (d0 & np.uint64(((1 << 52) - 1) & ~0xFFF)).astype(np.int64)
    table = ok & (typ == 3) & (((d0 >> np.uint64(4)) & np.uint64(0xFF)) == 0) & ((d0 >> np.uint64(52)) == 0)
    codes = np.where(block, g0, WALK_FAULT).astype(np.uint8)
    # a table beyond the PPS is an address size fault, which the map shows as a walk fault
    table_ok = table & ((table_addr >> cfg.t) == 0)
    not_table = ~table_ok
    s_parts.append(idx[not_table] << s)
    c_parts.append(codes[not_table])
    for k in np.nonzero(table_ok)[0]:
        i = int(idx[k])
        lo, hi = max(start, i << s), min(top, (i + 1) << s)
        _l1_runs(p, cfg, i, int(table_addr[k]), lo, hi, s_parts, c_parts)


_REPEAT = np.uint64(0x1111_1111_1111_1111)


def _classify_words(w, ok):
    """Classify L1 words without expanding them: ``(word_code, mixed, nib_mixed, contig_ok, cfield)``.

    ``word_code`` is the word's one GPI (contiguous descriptor or uniform granules word),
    ``WALK_FAULT`` for a descriptor a walk rejects, or ``MIXED`` for a granules word holding
    more than one GPI, whose 16 nibbles are returned in ``nib_mixed`` (rows in order).
    """
    low = w & np.uint64(0xF)
    g = ((w >> np.uint64(4)) & np.uint64(0xF)).astype(np.int64)
    cfield = ((w >> np.uint64(8)) & np.uint64(3)).astype(np.int64)
    contig = low == 1
    contig_ok = ok & contig & ((w >> np.uint64(10)) == 0) & (cfield != 0) & _VALID[g]
    nib0 = low.astype(np.int64)
    uniform = ok & ~contig & (w == low * _REPEAT)
    code = np.full(w.size, WALK_FAULT, np.uint8)
    code[contig_ok] = g[contig_ok]
    uni_ok = uniform & _VALID[nib0]
    code[uni_ok] = nib0[uni_ok]
    rest = np.nonzero(ok & ~contig & ~uniform)[0]
    nib = ((w[rest, None] >> _NIBBLE_SHIFTS[None, :]) & np.uint64(0xF)).astype(np.int64)
    good = _VALID[nib].all(axis=1)
    mixed = np.zeros(w.size, bool)
    mixed[rest[good]] = True
    code[mixed] = MIXED
    return code, mixed, nib[good], contig_ok, cfield


def _l1_runs(p, cfg, i, l1, lo, hi, s_parts, c_parts):
    shift = cfg.p + 4  # bytes covered by one L1 word: 16 granules
    region = i << cfg.s
    j0, j1 = (lo - region) >> shift, ((hi - 1) - region) >> shift
    w, ok = _read_words(p, l1 + 8 * j0, j1 - j0 + 1)
    word_start = region + (np.arange(j0, j1 + 1, dtype=np.int64) << shift)
    code, mixed, nib, _c, _f = _classify_words(w, ok)
    # drop words that continue the previous word's run before sorting (cheap for big tables)
    keep = ~mixed
    keep[1:] &= ~((code[1:] == code[:-1]) & ~mixed[:-1])
    keep &= ~mixed
    s_parts.append(word_start[keep])
    c_parts.append(code[keep])
    if mixed.any():
        g_start = word_start[mixed][:, None] + (np.arange(16, dtype=np.int64) << cfg.p)[None, :]
        s_parts.append(g_start.reshape(-1))
        c_parts.append(nib.astype(np.uint8).reshape(-1))


def _cell_codes(starts, codes, cell_lo, cell_hi):
    """The code of each cell ``[cell_lo[k], cell_hi[k])``: the runs' code, or MIXED."""
    first = np.searchsorted(starts, cell_lo, "right") - 1
    last = np.searchsorted(starts, cell_hi, "left") - 1
    return np.where(first == last, codes[np.clip(first, 0, None)], MIXED).astype(np.uint8)


@dataclass(frozen=True)
class GranuleGrid:
    """The granule map of ``[start, end)`` cut into ``rows`` x ``cols`` cells of ``cell`` bytes."""

    start: int
    end: int
    cell: int
    cols: int
    rows: int
    codes: np.ndarray  # (rows, cols) uint8; cells at or past ``end`` hold 0 and are masked
    valid: np.ndarray  # (rows, cols) bool
    run_starts: np.ndarray
    run_codes: np.ndarray

    def row_start(self, r: int) -> int:
        return self.start + r * self.cols * self.cell


def _default_range(p, start, end):
    cfg = p.gpc_config
    start = 0 if start is None else int(start)
    end = (1 << cfg.t) if end is None else int(end)
    return checked_range(p, start, end, cfg.granule_size)


def checked_range(p, start: int, end: int, g: int):
    """``[start, end)`` rounded out to granules of ``g`` bytes, or ValueError naming what is wrong
    (negative, beyond the PA space, empty)."""
    if start < 0:
        raise ValueError(f"start must be a physical address >= 0, got {start:#x}")
    if end > 1 << p.pamax:
        raise ValueError(f"end {end:#x} is beyond the {p.pamax}-bit physical address space")
    start -= start % g
    end = -(-end // g) * g
    if end <= start:
        raise ValueError(f"empty range: start {start:#x} must be below end {end:#x}")
    return start, end


def granule_grid(p, start=None, end=None, cells: int = 64, rows: int | None = None) -> GranuleGrid:
    """Cut ``[start, end)`` (default the whole PPS) into cells of equal size and classify each.

    ``cells`` is the number of cells per row. With ``rows=None``, a range of at most ``cells``
    granules gets one row of single granules, larger ranges 16 rows. The cell size is the
    granule size times a power of two, so row labels are round addresses.
    """
    start, end = _default_range(p, start, end)
    if int(cells) < 1:
        raise ValueError("cells must be at least 1")
    cols = int(cells)
    g = p.gpc_config.granule_size
    span = end - start
    if rows is None:
        rows = 1 if span // g <= cols else 16
    rows = max(int(rows), 1)
    cell = g
    while cell * cols * rows < span:
        cell *= 2
    rows = -(-span // (cell * cols))
    n = rows * cols
    lo = start + np.arange(n, dtype=np.int64) * cell
    valid = lo < end
    hi = np.minimum(lo + cell, end)
    starts, codes = gpi_runs(p, start, end)
    out = np.zeros(n, np.uint8)
    out[valid] = _cell_codes(starts, codes, lo[valid], hi[valid])
    return GranuleGrid(start, end, cell, cols, rows, out.reshape(rows, cols), valid.reshape(rows, cols),
                       starts, codes)


def _regions_in(p, start, end):
    """(base, end, name, note) of memory-map and PAS regions overlapping ``[start, end)``."""
    out = []
    for r in p.memory_map:
        if r.base < end and r.end > start:
            out.append((r.base, r.end, r.name, f"memory map, {r.kind}"))
    for r in p.pas_regions:
        if r.base < end and r.end > start:
            out.append((r.base, r.end, r.name, f"boot PAS region, {r.gpi.label}"))
    return sorted(out)


def granule_map_text(p, start=None, end=None, cells: int = 64, rows: int | None = None,
                     max_runs: int = 24) -> str:
    """The GPI of physical memory from ``start`` to ``end`` as text, one character per cell.

    Parameters
    ----------
    p : Platform
    start, end : int, optional
        The physical address range (default: the whole protected PA space, ``0 .. 2**PPS``).
        Zoom in by narrowing it: 64 granules at 0xfdc00000 show one granule per character.
    cells : int
        Characters per row.
    rows : int, optional
        Rows wanted (the cell size follows); see :func:`granule_grid`.
    max_runs : int
        List the runs of equal GPI when there are at most this many.

    Returns
    -------
    str
        A header, address-labelled rows, the legend, and the regions of the memory map in range.
        A cell holding more than one GPI shows ``?``: a cell never hides a different GPI.

    Spec: RME system architecture DEN0129, granule protection table.
    """
    grid = granule_grid(p, start, end, cells, rows)
    cfg = p.gpc_config
    width = max(len(f"{grid.end - 1:x}"), 8)
    g = cfg.granule_size
    per = grid.cell // g
    lines = [f"Granule map {grid.start:#x}..{grid.end:#x} ({_fmt_size(grid.end - grid.start)}; PPS {cfg.t} bits, "
             f"{_fmt_size(g)} granules): 1 cell = {_fmt_size(grid.cell)}"
             + (f" ({per} granules)" if per > 1 else " (one granule)")]
    if not cfg.enabled:
        lines.append("Note: GPCCR_EL3.GPC = 0, granule protection checks are OFF; the map shows the GPT in memory.")
    for r in range(grid.rows):
        row = "".join(SYMBOLS.get(int(c), "!") for c, v in zip(grid.codes[r], grid.valid[r]) if v)
        lines.append(f"0x{grid.row_start(r):0{width}x} |{row}|")
    lines.append(LEGEND_TEXT)
    runs = _run_list(grid.run_starts, grid.run_codes, grid.end)
    if len(runs) <= max_runs:
        lines.append(f"Runs of equal GPI ({len(runs)}):")
        for lo, hi, code in runs:
            lines.append(f"  0x{lo:0{width}x}-0x{hi:0{width}x}  {_fmt_size(hi - lo):>8}  {_code_name(code)}")
    else:
        lines.append(f"{len(runs)} runs of equal GPI in range (zoom in to list them).")
    regions = _regions_in(p, grid.start, grid.end)
    if regions:
        lines.append("Regions in range:")
        for lo, hi, name, note in regions:
            lines.append(f"  0x{lo:0{width}x}-0x{hi:0{width}x}  {name} ({note})")
    return "\n".join(lines)


def _run_list(starts, codes, end):
    ends = np.append(starts[1:], end)
    return [(int(a), int(b), int(c)) for a, b, c in zip(starts, ends, codes)]


# --- GPT structure ---------------------------------------------------------------------------
@dataclass(frozen=True)
class L0Group:
    """Consecutive L0 entries that say the same thing (a run of equal block descriptors)."""

    first: int
    last: int
    kind: str  # "block", "table", "invalid", "unreadable"
    descriptor: int | None
    gpi: int | None = None
    next_table: int | None = None
    text: str = ""


def l0_groups(p) -> list:
    """The L0 table as :class:`L0Group` runs: equal block descriptors grouped, each table alone."""
    cfg = p.gpc_config
    n = cfg.l0_entries
    d0, ok = _read_words(p, cfg.l0_base, n)
    groups = []
    k = 0
    while k < n:
        if not ok[k]:
            j = k
            while j + 1 < n and not ok[j + 1]:
                j += 1
            groups.append(L0Group(k, j, "unreadable", None, text="no memory answers at this address"))
            k = j + 1
            continue
        d = int(d0[k])
        dec = decode_l0(d)
        if dec.kind == "table" and dec.valid:
            groups.append(L0Group(k, k, "table", d, next_table=dec.next_table, text=describe(dec)))
            k += 1
            continue
        j = k
        same = np.nonzero(d0[k:] != d0[k])[0]
        j = k + (int(same[0]) if same.size else n - k) - 1
        j = min(j, n - 1)
        kind = dec.kind if dec.valid else "invalid"
        groups.append(L0Group(k, j, kind, d, gpi=dec.gpi, text=describe(dec)))
        k = j + 1
    return groups


@dataclass(frozen=True)
class L1Summary:
    """What one L1 table holds."""

    l0_index: int
    address: int
    entries: int
    contiguous: dict  # size in bytes -> number of descriptors
    granule_words: int
    mixed_words: int
    invalid: int
    gpi_bytes: dict  # code -> bytes of PA space covered
    word_codes: np.ndarray  # per word: its GPI, MIXED or WALK_FAULT


def l1_summary(p, l0_index: int, address: int) -> L1Summary:
    """Summarise the L1 table at ``address`` that the L0 entry ``l0_index`` points to."""
    cfg = p.gpc_config
    n = cfg.l1_entries
    w, ok = _read_words(p, address, n)
    codes, mixed, nib, contig_ok, cfield = _classify_words(w, ok)
    gran_ok = ok & ~((w & np.uint64(0xF)) == 1) & (codes != WALK_FAULT)
    word_bytes = cfg.granule_size * 16
    contiguous = {}
    for field, size in CONTIG_SIZES.items():
        m = contig_ok & (cfield == field)
        if m.any():
            # one descriptor is repeated in every word of its block; count blocks, not words
            contiguous[size] = int(m.sum()) * word_bytes // size
    gpi_bytes = {}
    for code in np.unique(codes[codes != MIXED]):
        gpi_bytes[int(code)] = int((codes == code).sum()) * word_bytes
    if mixed.any():
        vals, counts = np.unique(nib, return_counts=True)
        for v, c in zip(vals, counts):
            gpi_bytes[int(v)] = gpi_bytes.get(int(v), 0) + int(c) * cfg.granule_size
    return L1Summary(l0_index, address, n, contiguous, int(gran_ok.sum()), int(mixed.sum()),
                     int((codes == WALK_FAULT).sum()), gpi_bytes, codes)


def gpt_structure_text(p, max_l0: int = 32) -> str:
    """The GPT as a learner would read it in a debugger: registers, L0 table, L1 tables.

    Parameters
    ----------
    p : Platform
    max_l0 : int
        At most this many L0 groups are listed (runs of equal block descriptors count once).

    Spec: Arm ARM K.a GPCCR_EL3, GPTBR_EL3; RME DEN0129 GPT L0/L1 descriptor formats.
    """
    cfg = p.gpc_config
    lines = [GPCCR_EL3.describe(p.sysreg("GPCCR_EL3")), GPTBR_EL3.describe(p.sysreg("GPTBR_EL3")), ""]
    if not cfg.consistent:
        lines.append(f"GPCCR_EL3/GPTBR_EL3 are inconsistent ({cfg.why_inconsistent}): every check is a walk fault.")
    lines.append(f"L0 table at {cfg.l0_base:#x}: {cfg.l0_entries} entries of 8 bytes, each covering "
                 f"{_fmt_size(cfg.l0_region_size)} (PA[{cfg.t - 1}:{cfg.s}] indexes it)")
    groups = l0_groups(p)
    tables = []
    for k, gr in enumerate(groups):
        if k >= max_l0:
            lines.append(f"  ... {len(groups) - max_l0} more groups")
            break
        idx = f"L0[{gr.first}]" if gr.first == gr.last else f"L0[{gr.first}..{gr.last}]"
        span = f"PA {gr.first << cfg.s:#x}..{(gr.last + 1) << cfg.s:#x}"
        raw = "" if gr.descriptor is None else f" = {gr.descriptor:#018x}"
        if gr.kind == "table":
            what = f"Table -> L1 at {gr.next_table:#x}"
        elif gr.kind == "block":
            what = f"Block {GPI(gr.gpi).name} ({GPI(gr.gpi).label})"
        else:
            what = gr.text
        lines.append(f"  {idx:<14} {what:<32}{raw}  {span}")
    for gr in groups:
        if gr.kind == "table":
            tables.append(gr)
    if tables:
        lines.append("")
        lines.append(f"L1 tables: {cfg.l1_entries} words each ({_fmt_size(cfg.l1_table_size)}), one word = "
                     f"16 granules = {_fmt_size(cfg.granule_size * 16)}")
    for gr in tables:
        if gr.next_table >> cfg.t:
            lines.append(f"  L1 for L0[{gr.first}] at {gr.next_table:#x}: beyond the PPS (address size fault)")
            continue
        sm = l1_summary(p, gr.first, gr.next_table)
        contig = ", ".join(f"{n} x {_fmt_size(size)}" for size, n in sorted(sm.contiguous.items(), reverse=True))
        lines.append(f"  L1 for L0[{gr.first}] at {gr.next_table:#x} (PA {gr.first << cfg.s:#x}.."
                     f"{(gr.first + 1) << cfg.s:#x}):")
        lines.append(f"    contiguous descriptors: {contig or 'none'}")
        lines.append(f"    granule words: {sm.granule_words} ({sm.mixed_words} with more than one GPI)"
                     + (f"; invalid words: {sm.invalid}" if sm.invalid else ""))
        cover = ", ".join(f"{_code_name(c)} {_fmt_size(b)}" for c, b in
                          sorted(sm.gpi_bytes.items(), key=lambda kv: -kv[1]))
        lines.append(f"    GPIs: {cover}")
    return "\n".join(lines)


def walk_text(p, pa: int, pas) -> str:
    """The GPT walk for one access to ``pa`` in ``pas`` and the check's verdict, explained.

    The walk steps come from :meth:`Platform.gpt_walk` (memory, no cache); the verdict from
    :meth:`Platform.gpc_check`, which goes through the GPC cache as a real access would.

    Spec: Arm ARM K.a ``GPTWalk``, ``GPICheck``.
    """
    pas = as_pas(pas)
    cfg = p.gpc_config
    lines = [f"GPC for a {pas.label} PAS access to PA {int(pa):#x}"]
    steps = p.gpt_walk(pa)
    if not steps:
        lines.append(f"  PA is above the protected PA size (2^{cfg.t}): no GPT entry is read.")
    for st in steps:
        if st.level == 0:
            where = f"index PA[{cfg.t - 1}:{cfg.s}] = {st.index}"
        else:
            where = f"index PA[{cfg.s - 1}:{cfg.p + 4}] = {st.index}"
        raw = "bus error" if st.descriptor is None else f"{st.descriptor:#018x}"
        lines.append(f"  L{st.level}: table {st.table:#x}, {where}, read {st.address:#x} -> {raw}")
        lines.append(f"      {st.text}")
    fault = p.gpc_check(pa, pas)
    if fault is None:
        if not cfg.enabled:
            lines.append("Verdict: allowed (GPCCR_EL3.GPC = 0: granule protection checks are off).")
        else:
            lines.append("Verdict: allowed.")
    else:
        lines.append(f"Verdict: FAULT. {fault.explain()}")
    return "\n".join(lines)


# --- matplotlib pictures ---------------------------------------------------------------------
def _legend_handles():
    from matplotlib.patches import Patch

    return [Patch(facecolor=GPI_COLOURS[code], edgecolor="#404040", label=label)
            for code, label in CODE_LABELS.items()]


def draw_granule_map(p, start=None, end=None, ax=None, theme: str = "auto", cells: int = 64,
                     rows: int | None = None, title: str | None = None):
    """Draw the granule map of ``[start, end)`` as coloured cells (the picture of
    :func:`granule_map_text`, with the same cells).

    Parameters
    ----------
    p : Platform
    start, end : int, optional
        The PA range (default: the whole protected PA space). Zoom in to see single granules.
    ax : matplotlib Axes, optional
        Draw into this axes; by default a new figure is made.
    theme : {"auto", "light", "dark"}
    cells, rows : int
        Cells per row and rows (see :func:`granule_grid`); rows default to 16 for large ranges.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    theme = resolve_theme(theme)
    grid = granule_grid(p, start, end, cells, rows)
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, max(3.6, 1.2 + 0.28 * grid.rows)), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    codes = sorted(CODE_LABELS)
    index = {code: k for k, code in enumerate(codes)}
    lut = np.full(256, 0, np.int64)
    for code, k in index.items():
        lut[code] = k
    lut[[v for v in range(16) if not _VALID[v]]] = index[WALK_FAULT]
    img = np.ma.masked_array(lut[grid.codes], mask=~grid.valid)
    cmap = ListedColormap([colour_for(code) for code in codes]).with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, aspect="auto", interpolation="nearest")
    # cell edges, only when the cells are few enough to tell apart
    if grid.cols <= 64 and grid.rows <= 32:
        ax.set_xticks(np.arange(-0.5, grid.cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, grid.rows, 1), minor=True)
        ax.grid(which="minor", color=c["grid"], linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    width = max(len(f"{grid.end - 1:x}"), 8)
    ystep = max(1, grid.rows // 16)
    ax.set_yticks(range(0, grid.rows, ystep))
    ax.set_yticklabels([f"0x{grid.row_start(r):0{width}x}" for r in range(0, grid.rows, ystep)],
                       family="monospace", fontsize=8)
    xt = [k for k in range(0, grid.cols, max(1, grid.cols // 8))]
    ax.set_xticks(xt)
    ax.set_xticklabels([f"+{_fmt_size(k * grid.cell) if k else '0'}" for k in xt], fontsize=8)
    ax.set_xlabel(f"offset within row (1 cell = {_fmt_size(grid.cell)})")
    ax.set_title(title or f"Granule map {grid.start:#x}..{grid.end:#x} ({_fmt_size(grid.end - grid.start)})",
                 color=c["text"], fontsize=10)
    # label where each region begins
    marks = {}
    for k, (lo, hi, name, note) in enumerate(_regions_in(p, grid.start, grid.end), start=1):
        cellno = (max(lo, grid.start) - grid.start) // grid.cell
        marks.setdefault(cellno, []).append(str(k))
    for cellno, ks in marks.items():
        r, col = divmod(int(cellno), grid.cols)
        ax.annotate(",".join(ks), (col, r), ha="center", va="center", fontsize=7, color="#000000",
                    fontweight="bold", bbox=dict(boxstyle="round,pad=0.1", fc="#FFFFFFB0", ec="none"))
    regions = _regions_in(p, grid.start, grid.end)
    leg = ax.legend(handles=_legend_handles(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                    title="GPI", title_fontsize=8, borderaxespad=0.0)
    style_legend(leg, theme)
    if regions:
        text = "\n".join(f"{k} {name} {lo:#x}..{hi:#x}" for k, (lo, hi, name, _n) in enumerate(regions, start=1))
        ax.text(1.01, -0.02, text, transform=ax.transAxes, va="top", ha="left", fontsize=7,
                family="monospace", color=c["muted"])
    return fig


def draw_gpt_structure(p, theme: str = "auto", max_l0: int = 16):
    """Draw the L0 table (blocks and tables) with arrows to the L1 tables and their contents.

    Each L1 table is drawn as a strip, one stripe per L1 word coloured by its GPI (purple where
    the word's 16 granules differ), with its summary beside it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    theme = resolve_theme(theme)
    cfg = p.gpc_config
    groups = l0_groups(p)
    shown = groups[:max_l0]
    tables = [g for g in shown if g.kind == "table" and not (g.next_table >> cfg.t)]
    n = len(shown)
    height = max(n, 2 * len(tables), 4)
    fig, ax = plt.subplots(figsize=(11, 0.45 * height + 1.2), layout="constrained")
    c = style_axes(ax, theme)
    ax.set_xlim(0, 10)
    ax.set_ylim(height, -0.8)
    ax.axis("off")
    ax.text(0.0, -0.5, f"L0 table at {cfg.l0_base:#x} ({cfg.l0_entries} entries)", color=c["text"], fontsize=9,
            fontweight="bold")
    ypos = {}
    for k, gr in enumerate(shown):
        if gr.kind == "block":
            fill, label = colour_for(gr.gpi), f"Block {GPI(gr.gpi).label}"
        elif gr.kind == "table":
            fill, label = "none", f"Table -> {gr.next_table:#x}"
        else:
            fill, label = GPI_COLOURS[WALK_FAULT], gr.kind
        idx = f"[{gr.first}]" if gr.first == gr.last else f"[{gr.first}..{gr.last}]"
        ax.add_patch(Rectangle((0.0, k + 0.1), 3.2, 0.8, facecolor=fill, edgecolor=c["edge"], linewidth=0.8))
        ax.text(0.1, k + 0.5, f"L0{idx} {label}", va="center", fontsize=8,
                color="#000000" if fill != "none" else c["text"], family="monospace")
        ypos[gr.first] = k + 0.5
    if len(groups) > max_l0:
        ax.text(0.0, n + 0.4, f"... {len(groups) - max_l0} more groups", fontsize=8, color=c["muted"])
    step = height / max(len(tables), 1)
    for t_i, gr in enumerate(tables):
        sm = l1_summary(p, gr.first, gr.next_table)
        y = t_i * step + 0.2
        strip = np.array([colour_for(x) for x in sm.word_codes])
        # stripes: draw runs of equal colour as rectangles (cheap even for 16k words)
        change = np.nonzero(strip[1:] != strip[:-1])[0] + 1
        bounds = np.concatenate([[0], change, [strip.size]])
        x0, wdt = 4.5, 5.3
        for a, b in zip(bounds[:-1], bounds[1:]):
            ax.add_patch(Rectangle((x0 + wdt * a / strip.size, y), wdt * (b - a) / strip.size, 0.7,
                                   facecolor=strip[a], edgecolor="none"))
        ax.add_patch(Rectangle((x0, y), wdt, 0.7, facecolor="none", edgecolor=c["edge"], linewidth=0.8))
        contig = ", ".join(f"{nn}x{_fmt_size(sz)}" for sz, nn in sorted(sm.contiguous.items(), reverse=True))
        ax.text(x0, y + 0.95, f"L1 at {gr.next_table:#x} for PA {gr.first << cfg.s:#x}: contiguous {contig or 'none'}; "
                f"{sm.granule_words} granule words ({sm.mixed_words} mixed)", fontsize=7, color=c["text"],
                va="center")
        ax.add_patch(FancyArrowPatch((3.2, ypos[gr.first]), (x0, y + 0.35), arrowstyle="->", mutation_scale=12,
                                     color=c["edge"], linewidth=1.0))
    leg = ax.legend(handles=_legend_handles(), loc="upper left", bbox_to_anchor=(0.0, 0.0), ncol=5,
                    fontsize=7, frameon=True)
    style_legend(leg, theme)
    ax.set_title(f"GPT structure (PPS {cfg.t} bits, L0 entry {_fmt_size(cfg.l0_region_size)}, "
                 f"granule {_fmt_size(cfg.granule_size)})", color=c["text"], fontsize=10)
    return fig


__all__ = ["granule_map_text", "draw_granule_map", "gpt_structure_text", "draw_gpt_structure", "walk_text",
           "gpi_runs", "granule_grid", "GranuleGrid", "l0_groups", "l1_summary", "L0Group", "L1Summary",
           "SYMBOLS", "LEGEND_TEXT"]
