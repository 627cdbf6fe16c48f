"""The realm inspector: pictures and text views of what the RMM holds for a realm, and of how it
got there.

* granule states: what each 4 KB granule of DRAM is used for (``granule_states_text`` /
  ``draw_granule_states``);
* the realm's RTT tree from its root RTTs (``rtt_tree_text`` / ``draw_rtt_tree``);
* its RECs and the realm's own attributes (``recs_text``);
* the Realm Initial Measurement, extension by extension (``rim_log_text`` / ``draw_rim_log``);
* the RMI, RSI and PSCI calls and the REC exits (``rmi_log_text``);
* a sequence diagram of host, EL3 monitor, RMM and realm (``sequence_text`` /
  ``draw_sequence``);
* all of it in brief (``realm_summary_text``).

Every picture has a text twin that needs no graphics, so terminals, tests and screen readers see
the same facts. The views only read the RMM's state (its granule tracker, RDs, RECs and the RTTs
in memory) and the platform's event log: drawing changes nothing. Only the ``draw_*`` functions
import matplotlib, and only when called.

A ``rd`` argument is the PA of a Realm Descriptor, or anything with an ``rd`` attribute (a
:class:`ccalab.host.RealmHandle`).

Spec: RMM DEN0137 1.0-rel0, A2.2 "Granule" (``RmmGranuleState``), A5.5 "Realm Translation Table"
(HIPAS/RIPAS), A2.1 / A2.3 (realm and REC attributes), A7.1 "Realm measurements", the RMI and RSI
command descriptions; TF-RMM ``lib/granule``, ``lib/s2tt``, ``lib/measurement``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..firmware.rmm import s2tt
from .gpt import checked_range
from ..firmware.rmm.exits import ExitReason
from ..firmware.rmm.granule import GRANULE_SIZE, GranuleState
from ..firmware.rmm.objects import RealmState
from ..firmware.rmm.rsi.status import RsiStatus
from ..firmware.rmm.status import describe
from .theme import resolve_theme, style_axes, style_legend

G = GRANULE_SIZE

# --- shared helpers --------------------------------------------------------------------------


def _fmt_size(n: int) -> str:
    for unit, shift in (("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    for unit, shift in (("TB", 40), ("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def short_hex(data: bytes, n: int = 4) -> str:
    """``data`` as hex, shortened to its first and last ``n`` bytes (``906f01d3..d5e8e228``)."""
    h = bytes(data).hex()
    return h if len(h) <= 4 * n + 2 else f"{h[:2 * n]}..{h[-2 * n:]}"


def _rd_of(rd) -> int:
    rd = getattr(rd, "rd", rd)
    if rd is None or isinstance(rd, bool) or not isinstance(rd, (int, np.integer)):
        raise ValueError(f"rd is the physical address of a Realm Descriptor (an int), got {rd!r}")
    return int(rd)


def _realm(p, rd):
    """The RMM's Realm object for ``rd``, or ValueError naming the realms that exist."""
    rd = _rd_of(rd)
    realm = p.rmm.realms.get(rd)
    if realm is None:
        have = ", ".join(f"{r:#x}" for r in p.rmm.realms) or "there are none"
        raise ValueError(f"no realm has its RD at {rd:#x} (Realm Descriptors: {have})")
    return realm


_ARG_NAMES = {}


def rmi_arg_names(command: str) -> tuple:
    """The spec argument names of an RMI command (``("rd", "data", "ipa", "src", "flags")``), read
    from its handler's signature in :data:`ccalab.firmware.rmm.RMI_HANDLERS`."""
    if not _ARG_NAMES:
        from ..firmware.rmm.rmm import RMI_HANDLERS

        for row in RMI_HANDLERS:
            names = list(inspect.signature(row.handler).parameters)[1:]
            _ARG_NAMES[row.name] = tuple(names[:row.n_args])
    return _ARG_NAMES.get(command, ())


def _call_text(command: str, args) -> str:
    names = rmi_arg_names(command)
    parts = [f"{names[i]}={a:#x}" if i < len(names) else f"{a:#x}" for i, a in enumerate(args)]
    return f"{command}({', '.join(parts)})"


# --- granule states ------------------------------------------------------------------------------
#: One character per granule state in the text views.
STATE_SYMBOLS = {
    GranuleState.UNDELEGATED: ".",
    GranuleState.DELEGATED: "d",
    GranuleState.RD: "R",
    GranuleState.REC: "C",
    GranuleState.REC_AUX: "a",
    GranuleState.DATA: "D",
    GranuleState.RTT: "T",
}
#: Cell codes beyond the states: a cell holding granules in more than one state, and PAs the
#: RMM does not track (not DRAM).
MIXED_STATE = 0xFD
UNTRACKED = 0xFF
_SYMBOLS = {**{int(k): v for k, v in STATE_SYMBOLS.items()}, MIXED_STATE: "?", UNTRACKED: " "}

#: Fill colour per granule state (Okabe-Ito based, mid-luminance, readable in both themes):
#: UNDELEGATED has the Non-secure colour of the granule map and DELEGATED the Realm colour.
STATE_COLOURS = {
    GranuleState.UNDELEGATED: "#56B4E9",  # sky blue: the host's
    GranuleState.DELEGATED: "#E69F00",  # orange: Realm PAS, unused
    GranuleState.RD: "#D55E00",  # vermillion
    GranuleState.REC: "#009E73",  # bluish green
    GranuleState.REC_AUX: "#F0E442",  # yellow
    GranuleState.DATA: "#0072B2",  # blue
    GranuleState.RTT: "#CC79A7",  # reddish purple
    MIXED_STATE: "#5C5C5C",  # dark grey: zoom in
    UNTRACKED: "#D4D4D4",  # pale grey: not DRAM
}

STATE_LEGEND_TEXT = ("Legend: . UNDELEGATED  d DELEGATED  R RD  C REC  a REC_AUX  D DATA  T RTT  "
                     "? mixed (zoom in)  ' ' not DRAM (the RMM does not track it)")


def granule_state_array(p, start: int, end: int) -> np.ndarray:
    """The RMM's granule state of every granule in ``[start, end)`` (uint8, one per 4 KB;
    ``UNTRACKED`` outside DRAM). ``start`` and ``end`` must be granule aligned."""
    g = p.rmm.granules
    out = np.full((end - start) // G, UNTRACKED, np.uint8)
    for (base, size), arr in zip(g.banks, g.state_arrays):
        lo, hi = max(start, base), min(end, base + size)
        if lo < hi:
            out[(lo - start) // G:(hi - start) // G] = arr[(lo - base) // G:(hi - base) // G]
    return out


def _owned_span(p):
    """``(lo, hi)`` of the granules not UNDELEGATED, or None if there are none."""
    g = p.rmm.granules
    lo = hi = None
    for (base, _), arr in zip(g.banks, g.state_arrays):
        nz = np.flatnonzero(arr)
        if nz.size:
            a, b = base + int(nz[0]) * G, base + (int(nz[-1]) + 1) * G
            lo = a if lo is None else min(lo, a)
            hi = b if hi is None else max(hi, b)
    return None if lo is None else (lo, hi)


def _state_range(p, start, end):
    """The range to show: ``[start, end)`` granule aligned, by default the span of the granules
    the RMM owns padded to whole 16-granule blocks (or the first 64 granules a host delegates)."""
    if start is None or end is None:
        span = _owned_span(p)
        if span is None:
            ns = p.ns_dram()
            lo = ns.base + min(64 << 20, max(ns.size - 64 * G, 0))
            span = (lo, lo + 64 * G)
        lo, hi = span
        pad = 16 * G
        lo = max(0, (lo - 4 * G) // pad * pad)
        hi = -(-(hi + 4 * G) // pad) * pad
        start = lo if start is None else start
        end = hi if end is None else end
    return checked_range(p, int(start), int(end), G)


def _cells(states: np.ndarray, per: int) -> np.ndarray:
    """Cell codes for cells of ``per`` granules: the granules' state, or MIXED_STATE."""
    if per == 1:
        return states.copy()
    n = -(-states.size // per)
    padded = np.full(n * per, 0, np.uint8)
    padded[:states.size] = states
    padded[states.size:] = states[-1] if states.size else 0
    blk = padded.reshape(n, per)
    same = (blk == blk[:, :1]).all(axis=1)
    return np.where(same, blk[:, 0], MIXED_STATE).astype(np.uint8)


def _cell_granules(start, end, step, max_cells=1024):
    n = (end - start) // G
    if step is None:
        per = 1
        while -(-n // per) > max_cells:
            per *= 2
    else:
        step = int(step)
        if step < G or step % G:
            raise ValueError(f"step is the bytes one cell shows, a multiple of {G:#x}; got {step:#x}")
        per = step // G
    return per


def state_runs(states: np.ndarray, start: int):
    """Maximal runs of equal state: a list of ``(lo, hi, code)`` PA ranges."""
    if states.size == 0:
        return []
    change = np.flatnonzero(states[1:] != states[:-1]) + 1
    bounds = np.concatenate([[0], change, [states.size]])
    return [(start + int(a) * G, start + int(b) * G, int(states[a])) for a, b in zip(bounds[:-1], bounds[1:])]


def _state_name(code: int) -> str:
    if code == UNTRACKED:
        return "not DRAM"
    if code == MIXED_STATE:
        return "mixed"
    return GranuleState(code).name


def granule_states_text(p, start=None, end=None, step=None, cols: int = 64, max_runs: int = 48) -> str:
    """The RMM's granule states over a PA range: a character map, the runs of equal state with
    their address ranges, and counts.

    Parameters
    ----------
    p : Platform
    start, end : int, optional
        The PA range (default: the span of the granules that are not UNDELEGATED, padded).
    step : int, optional
        Bytes per character (a multiple of 4 KB); by default one granule per character, doubled
        until the map has at most 1024 characters.
    cols : int
        Characters per row.
    max_runs : int
        At most this many runs are listed.

    Spec: RMM DEN0137 1.0-rel0, A2.2 ``RmmGranuleState``.
    """
    start, end = _state_range(p, start, end)
    per = _cell_granules(start, end, step)
    states = granule_state_array(p, start, end)
    cells = _cells(states, per)
    cell = per * G
    cols = max(1, min(int(cols), cells.size))
    width = max(len(f"{end - 1:x}"), 8)
    lines = [f"Granule states (RMM) {start:#x}..{end:#x} ({_fmt_size(end - start)}, "
             f"{_plural(states.size, 'granule')}; 1 character = {_fmt_size(cell)})"]
    for r in range(0, cells.size, cols):
        row = "".join(_SYMBOLS[int(c)] for c in cells[r:r + cols])
        lines.append(f"0x{start + r * cell:0{width}x} |{row}|")
    lines.append(STATE_LEGEND_TEXT)
    runs = state_runs(states, start)
    lines.append(f"Runs of equal state ({len(runs)}):")
    for lo, hi, code in runs[:max_runs]:
        lines.append(f"  {lo:#0{width + 2}x}..{hi:#0{width + 2}x}  {_state_name(code):<12} "
                     f"{_plural((hi - lo) // G, 'granule')}")
    if len(runs) > max_runs:
        lines.append(f"  ... {len(runs) - max_runs} more runs")
    here = {s: int((states == int(s)).sum()) for s in GranuleState}
    lines.append("In this range: " + ", ".join(f"{s.name} {n}" for s, n in here.items() if n))
    total = p.rmm.granules.counts()
    lines.append("Whole machine: " + ", ".join(f"{s.name} {n}" for s, n in total.items()))
    return "\n".join(lines)


def draw_granule_states(p, start=None, end=None, ax=None, theme=None, step=None, cols: int = 64):
    """Draw the granule states of ``[start, end)`` as coloured cells, with a legend giving each
    state's count in the range (the picture of :func:`granule_states_text`, same cells).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    theme = resolve_theme(theme)
    start, end = _state_range(p, start, end)
    per = _cell_granules(start, end, step)
    states = granule_state_array(p, start, end)
    cells = _cells(states, per)
    cols = max(1, min(int(cols), cells.size))
    rows = -(-cells.size // cols)
    codes = [int(s) for s in GranuleState] + [MIXED_STATE, UNTRACKED]
    lut = np.zeros(256, np.int64)
    for k, code in enumerate(codes):
        lut[code] = k
    grid = np.zeros(rows * cols, np.int64)
    valid = np.zeros(rows * cols, bool)
    grid[:cells.size] = lut[cells]
    valid[:cells.size] = True
    img = np.ma.masked_array(grid.reshape(rows, cols), mask=~valid.reshape(rows, cols))
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, max(2.4, 1.4 + 0.3 * rows)), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    cmap = ListedColormap([STATE_COLOURS[code] for code in codes]).with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, aspect="auto", interpolation="nearest")
    cell = per * G
    if cols <= 64 and rows <= 32:
        ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
        ax.grid(which="minor", color=c["grid"], linewidth=0.4)
        ax.tick_params(which="minor", length=0)
    width = max(len(f"{end - 1:x}"), 8)
    ystep = max(1, rows // 16)
    ax.set_yticks(range(0, rows, ystep))
    ax.set_yticklabels([f"0x{start + r * cols * cell:0{width}x}" for r in range(0, rows, ystep)],
                       family="monospace", fontsize=8)
    xt = list(range(0, cols, max(1, cols // 8)))
    ax.set_xticks(xt)
    ax.set_xticklabels([f"+{_fmt_size(k * cell) if k else '0'}" for k in xt], fontsize=8)
    ax.set_xlabel(f"offset within row (1 cell = {_fmt_size(cell)})")
    ax.set_title(f"RMM granule states {start:#x}..{end:#x} ({_plural(states.size, 'granule')})",
                 color=c["text"], fontsize=10)
    counts = {code: int((states == code).sum()) for code in codes}
    n_mixed = int((cells == MIXED_STATE).sum())
    handles = [Patch(facecolor=STATE_COLOURS[s], edgecolor="#404040",
                     label=f"{GranuleState(s).name} ({counts[int(s)]})") for s in GranuleState]
    if n_mixed:
        handles.append(Patch(facecolor=STATE_COLOURS[MIXED_STATE], edgecolor="#404040",
                             label=f"mixed, zoom in ({n_mixed} cells)"))
    if counts[UNTRACKED]:
        handles.append(Patch(facecolor=STATE_COLOURS[UNTRACKED], edgecolor="#404040",
                             label=f"not DRAM ({counts[UNTRACKED]})"))
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                    title="Granule state (count)", title_fontsize=8, borderaxespad=0.0)
    style_legend(leg, theme)
    return fig


# --- the RTT tree -----------------------------------------------------------------------------------
#: RTT entry states in display order (``s2tt.name`` spelling), their codes in :func:`classify_entries`.
ENTRY_STATES = ("UNASSIGNED/EMPTY", "UNASSIGNED/RAM", "UNASSIGNED/DESTROYED", "ASSIGNED/EMPTY", "ASSIGNED/RAM",
                "ASSIGNED/DESTROYED", "UNASSIGNED_NS", "ASSIGNED_NS", "TABLE", "INVALID")
_TABLE_CODE = ENTRY_STATES.index("TABLE")
_INVALID_CODE = ENTRY_STATES.index("INVALID")
_HAS_PA = frozenset({3, 4, 5, 7, 8})

#: Fill colour per RTT entry state: RAM the realm can use is Realm orange, host memory Non-secure
#: blue, tables green, EMPTY pale grey and DESTROYED dark.
ENTRY_COLOURS = {
    "UNASSIGNED/EMPTY": "#D4D4D4",
    "UNASSIGNED/RAM": "#F0E442",
    "UNASSIGNED/DESTROYED": "#8C8C8C",
    "ASSIGNED/EMPTY": "#CC79A7",
    "ASSIGNED/RAM": "#E69F00",
    "ASSIGNED/DESTROYED": "#D55E00",
    "UNASSIGNED_NS": "#B7DDF2",
    "ASSIGNED_NS": "#56B4E9",
    "TABLE": "#009E73",
    "INVALID": "#5C5C5C",
}


def classify_entries(entries, level: int):
    """The state code (an index into :data:`ENTRY_STATES`) and output PA of each RTT entry.

    A vectorised :func:`ccalab.firmware.rmm.s2tt.decode`: ``ENTRY_STATES[code]`` equals
    ``s2tt.name(e, level)`` for every entry the RMM writes (``INVALID`` marks a RIPAS field
    no RMM writes).
    """
    e = np.asarray(entries, dtype=np.uint64)
    valid = (e & np.uint64(1)) != 0
    table = valid & ((e & np.uint64(3)) == 3) & (level < 3)
    ns = (e & np.uint64(s2tt.NS)) != 0
    ripas = ((e >> np.uint64(1)) & np.uint64(3)).astype(np.int64)
    hipas = ((e >> np.uint64(5)) & np.uint64(7)).astype(np.int64)
    code = np.full(e.size, _INVALID_CODE, np.int64)
    unassigned = ~valid & ~ns & (hipas != 1) & (ripas < 3)
    code[unassigned] = ripas[unassigned]
    assigned_inv = ~valid & ~ns & (hipas == 1) & (ripas < 3)
    code[assigned_inv] = 3 + ripas[assigned_inv]
    code[~valid & ns] = ENTRY_STATES.index("UNASSIGNED_NS")
    code[valid & ~table & ns] = ENTRY_STATES.index("ASSIGNED_NS")
    code[valid & ~table & ~ns] = ENTRY_STATES.index("ASSIGNED/RAM")
    code[table] = _TABLE_CODE
    pa = np.where(np.isin(code, list(_HAS_PA)), e & np.uint64(s2tt.OA_MASK), np.uint64(0)).astype(np.int64)
    return code, pa


@dataclass(frozen=True)
class RttRow:
    """One line of the RTT tree: a table's header (``kind == "table"``) or a run of entries."""

    kind: str  # "table" or "entries"
    depth: int  # nesting: 0 for a root RTT
    level: int
    rtt: int  # PA of the RTT (the table itself, or the one holding the entries)
    first: int  # entry indices (a header: 0 .. 511)
    last: int
    ipa_lo: int
    ipa_hi: int
    state: str  # an ENTRY_STATES name, or "RTT" for a header
    pa: int | None = None  # output address of the first entry
    pa_hi: int | None = None  # end of the output range of the run
    note: str = ""

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def rtt_rows(p, rd, max_entries: int | None = None) -> list:
    """The realm's RTTs as :class:`RttRow` lines in tree order (each table, then its entries, a
    TABLE entry followed by its subtree). Consecutive entries in the same state collapse to one
    row (ASSIGNED ones only when their output PAs are contiguous); a run never crosses the end
    of the protected half or of the IPA space. ``max_entries`` caps the rows of one table (the
    rest become one "more" row)."""
    realm = _realm(p, rd)
    rows = []
    sl = realm.rtt_level_start
    root_span = s2tt.LEVEL_SIZE[sl] * s2tt.ENTRIES
    for k in range(realm.rtt_num_start):
        _table_rows(p, realm, realm.rtt_base + k * G, sl, k * root_span, 0, rows, max_entries)
    return rows


def _table_rows(p, realm, rtt, level, ipa_base, depth, rows, max_entries):
    size = s2tt.LEVEL_SIZE[level]
    ents = p.rmm.rtt_entries(rtt)
    code, pa = classify_entries(ents, level)
    live = int(np.isin(code, [_TABLE_CODE, 3, 4, 5, 7]).sum())
    rows.append(RttRow("table", depth, level, rtt, 0, s2tt.ENTRIES - 1, ipa_base, ipa_base + size * s2tt.ENTRIES,
                       "RTT", note=f"{live} live {'entry' if live == 1 else 'entries'}"))
    ipas = ipa_base + np.arange(s2tt.ENTRIES, dtype=np.int64) * size
    # where a run must break: state change, non-contiguous output, the PAR / IPA-space boundary
    region = (ipas >= realm.par_top).astype(np.int64) + (ipas >= realm.ipa_size).astype(np.int64)
    brk = np.ones(s2tt.ENTRIES, bool)
    same = (code[1:] == code[:-1]) & (region[1:] == region[:-1]) & (code[1:] != _TABLE_CODE)
    has_pa = np.isin(code[1:], list(_HAS_PA))
    same &= ~has_pa | (pa[1:] == pa[:-1] + size)
    brk[1:] = ~same
    starts = np.flatnonzero(brk).tolist() + [s2tt.ENTRIES]
    shown = 0
    for a, b in zip(starts[:-1], starts[1:]):
        if max_entries is not None and shown >= max_entries:
            rest = s2tt.ENTRIES - a
            rows.append(RttRow("more", depth + 1, level, rtt, a, s2tt.ENTRIES - 1, int(ipas[a]),
                               ipa_base + size * s2tt.ENTRIES, "", note=f"{rest} more entries not listed"))
            break
        name = ENTRY_STATES[int(code[a])]
        lo, hi = int(ipas[a]), int(ipas[b - 1]) + size
        note = ""
        if lo >= realm.ipa_size:
            note = f"beyond the {realm.s2sz}-bit IPA space"
        elif lo >= realm.par_top:
            note = "unprotected"
        out = int(pa[a]) if int(code[a]) in _HAS_PA else None
        out_hi = int(pa[b - 1]) + size if out is not None and name != "TABLE" else None
        rows.append(RttRow("entries", depth + 1, level, rtt, a, b - 1, lo, hi, name, out, out_hi, note))
        shown += 1
        if name == "TABLE" and level < 3:
            _table_rows(p, realm, out, level + 1, lo, depth + 2, rows, max_entries)


def _rtt_row_text(row: RttRow, realm) -> str:
    pad = "  " * row.depth
    if row.kind == "table":
        return (f"{pad}L{row.level} RTT at {row.rtt:#x}: IPA {row.ipa_lo:#x}..{row.ipa_hi:#x} "
                f"({_fmt_size(s2tt.LEVEL_SIZE[row.level])} per entry; {row.note})")
    if row.kind == "more":
        return f"{pad}... entries {row.first}-{row.last}: {row.note}"
    idx = f"entry {row.first}" if row.first == row.last else f"entries {row.first}-{row.last}"
    what = row.state
    if row.state == "TABLE":
        what += f" -> L{row.level + 1} RTT at {row.pa:#x}"
    elif row.pa is not None:
        target = "host PA" if row.state == "ASSIGNED_NS" else "DATA"
        span = f"{row.pa:#x}" if row.count == 1 and row.level == 3 else f"{row.pa:#x}..{row.pa_hi:#x}"
        what += f" -> {target} {span}"
    note = f"  ({row.note})" if row.note else ""
    return f"{pad}{idx:<16} IPA {row.ipa_lo:#x}..{row.ipa_hi:#x}  {what}{note}"


def _realm_rtts(p, realm) -> list:
    """``(pa, level)`` of every RTT of the realm, walking from its root RTTs."""
    out = []
    stack = [(realm.rtt_base + k * G, realm.rtt_level_start) for k in range(realm.rtt_num_start)]
    while stack:
        rtt, level = stack.pop()
        out.append((rtt, level))
        if level < 3:
            code, pa = classify_entries(p.rmm.rtt_entries(rtt), level)
            stack += [(int(x), level + 1) for x in pa[code == _TABLE_CODE]]
    return sorted(out, key=lambda t: (t[1], t[0]))


def _entry_counts(p, realm) -> dict:
    """How many entries of the realm's RTTs are in each state, inside its IPA space."""
    counts = dict.fromkeys(ENTRY_STATES, 0)
    sl = realm.rtt_level_start
    for rtt, level in _realm_rtts(p, realm):
        code, _ = classify_entries(p.rmm.rtt_entries(rtt), level)
        if level == sl:
            k = (rtt - realm.rtt_base) // G
            ipas = (k * s2tt.ENTRIES + np.arange(s2tt.ENTRIES, dtype=np.int64)) * s2tt.LEVEL_SIZE[sl]
            code = code[ipas < realm.ipa_size]
        for c, n in zip(*np.unique(code, return_counts=True)):
            counts[ENTRY_STATES[int(c)]] += int(n)
    return {k: v for k, v in counts.items() if v}


def rtt_tree_text(p, rd, max_entries: int = 32) -> str:
    """The realm's RTT tree, from its root RTT(s): each table with its level, PA and IPA range;
    under it its entries (runs in the same state collapsed, e.g. ``entries 2-511``) with their
    IPA range, HIPAS/RIPAS and output address, a TABLE entry followed by its subtree.

    Parameters
    ----------
    p : Platform
    rd : int or RealmHandle
        The realm's RD.
    max_entries : int
        At most this many rows per table.

    Spec: RMM DEN0137 1.0-rel0, A5.5 "Realm Translation Table" (RmmRttEntryState: HIPAS, RIPAS),
    A5.5.10 "RTT walk".
    """
    realm = _realm(p, rd)
    rows = rtt_rows(p, realm.rd, max_entries)
    rtts = _realm_rtts(p, realm)
    per_level = {}
    for _, level in rtts:
        per_level[level] = per_level.get(level, 0) + 1
    lines = [f"RTT tree of the realm with RD {realm.rd:#x}: s2sz {realm.s2sz} (protected IPA "
             f"0x0..{realm.par_top:#x}, unprotected {realm.par_top:#x}..{realm.ipa_size:#x}), start level "
             f"{realm.rtt_level_start}, {_plural(realm.rtt_num_start, 'root RTT')} at {realm.rtt_base:#x}"]
    lines += [_rtt_row_text(r, realm) for r in rows]
    lines.append(f"{_plural(len(rtts), 'RTT')} (" + ", ".join(f"L{lv} {n}" for lv, n in sorted(per_level.items()))
                 + "); entries inside the IPA space: "
                 + ", ".join(f"{k} {v}" for k, v in _entry_counts(p, realm).items()))
    return "\n".join(lines)


def draw_rtt_tree(p, rd, ax=None, theme=None, max_entries: int = 12, max_rows: int = 48):
    """Draw the RTT tree as indented boxes: each table a framed header, each run of entries a box
    coloured by its HIPAS/RIPAS, subtrees indented under their TABLE entry (the picture of
    :func:`rtt_tree_text`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    theme = resolve_theme(theme)
    realm = _realm(p, rd)
    rows = rtt_rows(p, realm.rd, max_entries)
    cut = len(rows) > max_rows
    shown = rows[:max_rows]
    n = len(shown) + (1 if cut else 0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.32 * n + 1.4), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    ax.set_xlim(0, 12)
    ax.set_ylim(n + 0.2, -0.4)
    ax.axis("off")
    indent = 0.45
    used = set()
    parent_y = {}
    for y, row in enumerate(shown):
        x = row.depth * indent
        if row.kind == "table":
            ax.add_patch(Rectangle((x, y + 0.1), 4.6, 0.8, facecolor="none", edgecolor=c["edge"], linewidth=1.0))
            ax.text(x + 0.08, y + 0.5, f"L{row.level} RTT {row.rtt:#x}  IPA {row.ipa_lo:#x}..{row.ipa_hi:#x}",
                    va="center", fontsize=7.5, color=c["text"], family="monospace", fontweight="bold")
            ax.text(x + 4.75, y + 0.5, row.note, va="center", fontsize=7, color=c["muted"])
            if row.rtt in parent_y:  # connect the TABLE entry to its subtree
                py, px = parent_y[row.rtt]
                ax.plot([px, px, x], [py + 0.9, y + 0.5, y + 0.5], color=c["edge"], linewidth=0.8)
            continue
        if row.kind == "more":
            ax.text(x + 0.08, y + 0.5, f"... {row.note}", va="center", fontsize=7, color=c["muted"])
            continue
        used.add(row.state)
        idx = f"[{row.first}]" if row.first == row.last else f"[{row.first}-{row.last}]"
        ax.add_patch(Rectangle((x, y + 0.1), 4.6, 0.8, facecolor=ENTRY_COLOURS[row.state], edgecolor=c["edge"],
                               linewidth=0.5))
        ax.text(x + 0.08, y + 0.5, f"{idx} {row.state}", va="center", fontsize=7.5, color="#000000",
                family="monospace")
        detail = f"IPA {row.ipa_lo:#x}..{row.ipa_hi:#x}"
        if row.pa is not None:
            detail += f" -> {row.pa:#x}"
        if row.note:
            detail += f" ({row.note})"
        ax.text(x + 4.75, y + 0.5, detail, va="center", fontsize=7, color=c["text"], family="monospace")
        if row.state == "TABLE":
            parent_y[row.pa] = (y, x + 0.2)
    if cut:
        ax.text(0.0, len(shown) + 0.5, f"... {len(rows) - max_rows} more rows (see rtt_tree_text)", fontsize=8,
                color=c["muted"], va="center")
    handles = [Patch(facecolor=ENTRY_COLOURS[s], edgecolor="#404040", label=s) for s in ENTRY_STATES if s in used]
    if handles:
        leg = ax.legend(handles=handles, loc="upper right", fontsize=7, title="HIPAS/RIPAS", title_fontsize=7)
        style_legend(leg, theme)
    ax.set_title(f"RTT tree of the realm at RD {realm.rd:#x} (s2sz {realm.s2sz}, start level "
                 f"{realm.rtt_level_start})", color=c["text"], fontsize=10)
    return fig


# --- RECs and the realm's attributes ----------------------------------------------------------------
def _realm_header(p, realm) -> list:
    algo = realm.hash_algo.name.replace("SHA_", "SHA-")
    rpv = realm.rpv.rstrip(b"\0")
    return [f"Realm RD {realm.rd:#x}: state {RealmState(realm.state).name}, VMID {realm.vmid}, MECID {realm.mecid}",
            f"  s2sz {realm.s2sz} (IPA space {_fmt_size(realm.ipa_size)}; protected below {realm.par_top:#x}), "
            f"RTT start level {realm.rtt_level_start}, {_plural(realm.rtt_num_start, 'root RTT')} at "
            f"{realm.rtt_base:#x}",
            f"  hash algorithm {algo}, RPV {rpv.hex() if rpv else '(zero)'}, "
            f"RIM {short_hex(realm.measurements[0])}"]


def _pending(rec) -> str:
    from ..firmware.psci import PsciFid

    out = []
    if rec.psci_pending is not None:
        fid, target, *_ = rec.psci_pending
        try:
            name = PsciFid(fid).name
        except ValueError:
            name = f"{fid:#x}"
        out.append(f"PSCI {name} of MPIDR {target:#x} (the host must answer with RMI_PSCI_COMPLETE)")
    if rec.ripas is not None:
        ch = rec.ripas
        out.append(f"RIPAS change [{ch.base:#x}, {ch.top:#x}) -> {s2tt.Ripas(ch.value).name}, host at {ch.addr:#x}")
    if rec.host_call is not None:
        out.append(f"host call (RsiHostCall at IPA {rec.host_call:#x})")
    return "; ".join(out) or "none"


def _exit_name(reason) -> str:
    if reason is None:
        return "none yet"
    return ExitReason.NAMES[reason] if 0 <= int(reason) < len(ExitReason.NAMES) else str(reason)


def recs_text(p, rd) -> str:
    """Each REC of the realm (index, MPIDR, state, runnable, PC, what is pending, exits, last exit
    reason), after the realm's state, VMID, MECID, s2sz and hash algorithm.

    Spec: RMM DEN0137 1.0-rel0, A2.1 "Realm" and A2.3 "Realm execution context" (RmmRecState,
    RmmRecRunnable), A4.4 "REC exit".
    """
    realm = _realm(p, rd)
    lines = _realm_header(p, realm)
    live = [r for r in realm.recs if r is not None]
    lines.append(f"  {_plural(len(live), 'REC')} (next REC_CREATE gets index {realm.rec_index})")
    for k, pa in enumerate(realm.recs):
        if pa is None:
            lines.append(f"REC {k}: destroyed")
            continue
        rec = p.rmm.recs.get(pa)
        if rec is None:
            lines.append(f"REC {k} at {pa:#x}: not found")
            continue
        lines.append(f"REC {rec.index} at {rec.rec:#x}: MPIDR {rec.mpidr:#x}, {rec.state.name}, "
                     f"{'runnable' if rec.runnable else 'not runnable'}, PC {rec.pc:#x}, "
                     f"{_plural(len(rec.aux), 'auxiliary granule')}")
        lines.append(f"  exits {rec.exits}, last exit {_exit_name(rec.last_exit.get('reason'))}; "
                     f"pending: {_pending(rec)}")
        vc = rec.cpu
        guest = getattr(vc, "cpu", None)
        if guest is not None and guest.console:
            lines.append(f"  console (last line): {guest.console[-1]}")
    return "\n".join(lines)


# --- the RIM, step by step ------------------------------------------------------------------------
@dataclass(frozen=True)
class RimStep:
    """One extension of the RIM: the command that made it and the RIM after it."""

    seq: int
    command: str
    args: tuple
    results: tuple
    rim: bytes
    detail: str


def rim_steps(p, rd, since: int = 0) -> list:
    """The RIM of the realm at ``rd`` after each measured command, from the event log (the
    "return" events of REALM_CREATE, DATA_CREATE, REC_CREATE and RTT_INIT_RIPAS carry it). Only
    the steps since the realm's last REALM_CREATE count: an RD address can be reused."""
    rd = _rd_of(rd)
    steps = []
    prev = None
    realm = p.rmm.realms.get(rd)
    for ev in p.events.of_kind("rmi", since):
        d = ev.data
        if d.get("phase") != "return" or "rim" not in d or not d.get("args") or d["args"][0] != rd:
            continue
        cmd, args, res, rim = d["command"], tuple(d["args"]), tuple(d.get("results", ())), bytes(d["rim"])
        if cmd == "RMI_REALM_CREATE":
            steps, prev = [], None
        steps.append(RimStep(ev.seq, cmd, args, res, rim, _rim_detail(cmd, args, res, rim, prev, realm)))
        prev = rim
    return steps


def _rim_detail(cmd, args, res, rim, prev, realm) -> str:
    if cmd == "RMI_REALM_CREATE":
        if realm is not None and realm.params:
            algo = realm.hash_algo.name.replace("SHA_", "SHA-")
            return f"RIM = H(measured RmiRealmParams: s2sz {realm.s2sz}, hash {algo}, flags {realm.flags:#x})"
        return "RIM = H(measured RmiRealmParams)"
    if cmd == "RMI_DATA_CREATE":
        flags = args[4] if len(args) > 4 else 0
        what = "content measured" if flags & 1 else "content not measured"
        return f"ipa {args[2]:#x}, flags {flags:#x} ({what}); data {args[1]:#x} from src {args[3]:#x}"
    if cmd == "RMI_RTT_INIT_RIPAS":
        reached = res[1] if len(res) > 1 else 0
        return (f"base {args[1]:#x}, top {args[2]:#x}, reached {reached:#x}: one extension per RTT entry "
                "set to RIPAS RAM")
    if cmd == "RMI_REC_CREATE":
        if prev is not None and rim == prev:
            return f"rec {args[1]:#x}: not runnable, the RIM is unchanged"
        return f"rec {args[1]:#x}: runnable, its flags, PC and GPRs are measured"
    return ""


def rim_log_text(p, rd, since: int = 0) -> str:
    """How the RIM was built: each measured command with its arguments (IPA and flags for
    DATA_CREATE, base/top for RTT_INIT_RIPAS) and the RIM after it (short hex), then the whole RIM
    and whether it is the RMM's current one.

    Spec: RMM DEN0137 1.0-rel0, A7.1.1 "Realm Initial Measurement"; B4.3
    ``RmmMeasurementDescriptorData``/``Rec``/``Ripas``.
    """
    rd = _rd_of(rd)
    steps = rim_steps(p, rd, since)
    realm = p.rmm.realms.get(rd)
    lines = [f"RIM of the realm at RD {rd:#x}: each step hashes a descriptor that holds the RIM before it, "
             "so the RIM depends on every measured command and their order."]
    if not steps:
        lines.append("  (no measured command in the event log" + (f" since #{since}" if since else "") + ")")
    for k, st in enumerate(steps, 1):
        lines.append(f"  {k:>3}. #{st.seq:<6} {_call_text(st.command, st.args)}")
        lines.append(f"       {st.detail}")
        lines.append(f"       -> RIM {short_hex(st.rim)}")
    if p.events.dropped and (not steps or steps[0].command != "RMI_REALM_CREATE"):
        lines.append(f"  (the event log dropped its {p.events.dropped} oldest events: earlier steps are missing)")
    if realm is None:
        lines.append("The realm no longer exists." + (f" Its last RIM was {steps[-1].rim.hex()}" if steps else ""))
    else:
        rim = bytes(realm.measurements[0])
        frozen = "frozen (the realm is active)" if realm.state != RealmState.NEW else "still growing (realm NEW)"
        lines.append(f"RIM now, {frozen}: {rim.hex()}")
        if steps:
            same = steps[-1].rim == rim
            lines.append("The last step's RIM is the RMM's RIM." if same else
                         "The last logged step is not the RMM's RIM (steps are missing from this window).")
    return "\n".join(lines)


#: Light fills (black text reads on them in either theme), one per measured command.
_STEP_COLOURS = {"RMI_REALM_CREATE": "#F5C08A", "RMI_DATA_CREATE": "#9CCBEB", "RMI_RTT_INIT_RIPAS": "#F0E442",
                 "RMI_REC_CREATE": "#8FD3B8"}


def _rim_colour(rim: bytes) -> str:
    """A colour derived from the RIM's first bytes: a different RIM almost always looks different."""
    r, g, b = rim[0], rim[1], rim[2]
    return f"#{64 + r % 160:02x}{64 + g % 160:02x}{64 + b % 160:02x}"


def draw_rim_log(p, rd, ax=None, theme=None, since: int = 0, max_steps: int = 16):
    """Draw the RIM as a chain: one box per measured command, an arrow into the next, and the RIM
    after each step as a swatch coloured from its bytes with its short hex (the picture of
    :func:`rim_log_text`). Long chains keep their first and last steps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Rectangle

    theme = resolve_theme(theme)
    rd = _rd_of(rd)
    steps = rim_steps(p, rd, since)
    shown = list(enumerate(steps, 1))
    gap = None
    if len(shown) > max_steps:
        head = max_steps // 2
        gap = len(shown) - max_steps
        shown = shown[:head] + [None] + shown[-(max_steps - head):]
    n = max(len(shown), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.62 * n + 1.2), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    ax.set_xlim(0, 12)
    ax.set_ylim(n + 0.1, -0.3)
    ax.axis("off")
    if not steps:
        ax.text(0.2, 0.5, f"no measured command in the event log for RD {rd:#x}", color=c["muted"], fontsize=9)
    for y, item in enumerate(shown):
        if item is None:
            ax.text(3.6, y + 0.45, f"... {gap} more steps ...", ha="center", va="center", fontsize=8,
                    color=c["muted"])
            continue
        k, st = item
        ax.add_patch(Rectangle((0.0, y + 0.08), 7.2, 0.7, facecolor=_STEP_COLOURS.get(st.command, "#D4D4D4"),
                               edgecolor=c["edge"], linewidth=0.6))
        ax.text(0.1, y + 0.3, f"{k}. {st.command.removeprefix('RMI_')}  #{st.seq}", fontsize=7.5, va="center",
                color="#000000", fontweight="bold", family="monospace")
        ax.text(0.1, y + 0.6, st.detail[:96], fontsize=6.5, va="center", color="#000000")
        ax.add_patch(Rectangle((7.9, y + 0.18), 0.5, 0.5, facecolor=_rim_colour(st.rim), edgecolor=c["edge"],
                               linewidth=0.6))
        ax.text(8.55, y + 0.43, f"RIM {short_hex(st.rim)}", fontsize=7.5, va="center", color=c["text"],
                family="monospace")
        ax.add_patch(FancyArrowPatch((7.2, y + 0.43), (7.9, y + 0.43), arrowstyle="->", mutation_scale=10,
                                     color=c["edge"], linewidth=0.8))
        if y + 1 < len(shown):
            ax.add_patch(FancyArrowPatch((8.15, y + 0.68), (8.15, y + 1.18), arrowstyle="->", mutation_scale=10,
                                         color=c["edge"], linewidth=0.8))
    realm = p.rmm.realms.get(rd)
    state = "" if realm is None else f", realm {RealmState(realm.state).name}"
    ax.set_title(f"RIM of the realm at RD {rd:#x}: {_plural(len(steps), 'measured step')}{state}",
                 color=c["text"], fontsize=10)
    return fig


# --- the call log ----------------------------------------------------------------------------------
def _exit_line(p, ev) -> str:
    d = ev.data
    f = d.get("fields", {})
    rec = p.rmm.recs.get(d.get("rec"))
    who = f"REC {rec.index}" if rec is not None else f"REC {d.get('rec', 0):#x}"
    reason = _exit_name(d.get("reason"))
    extra = []
    if d.get("reason") == ExitReason.SYNC:
        esr = f.get("esr", 0)
        if esr:
            extra.append(f"ESR {esr:#x}")
        if f.get("hpfar"):
            extra.append(f"IPA {(f['hpfar'] >> 4) << 12:#x}")
    if d.get("reason") == ExitReason.RIPAS_CHANGE:
        extra.append(f"[{f.get('ripas_base', 0):#x}, {f.get('ripas_top', 0):#x})")
    if d.get("reason") == ExitReason.HOST_CALL:
        extra.append(f"imm {f.get('imm', 0):#x}")
    return f"{who} exit {reason}" + (f" ({', '.join(extra)})" if extra else "")


def rmi_log_text(p, since: int = 0, last: int | None = None) -> str:
    """The RMI, RSI and PSCI calls and the REC exits since event ``since``, one per line: an RMI
    call with its named arguments, its status (and index) and the failure condition that decided
    it, an RSI call with its status, a REC exit with its reason.

    Spec: RMM DEN0137 1.0-rel0, ``RmiCommandReturnCode``, ``RsiCommandReturnCode``,
    ``RmiRecExitReason``; the failure labels of :mod:`ccalab.firmware.rmm.spec`.
    """
    lines = []
    for ev in p.events.since(since):
        d = ev.data
        if ev.kind == "rmi":
            if d.get("phase") != "return":
                continue
            res = tuple(d.get("results", ()))
            cmd = d.get("command")
            if cmd is None:
                lines.append(f"#{ev.seq:<6} RMI  {ev.summary}")
                continue
            out = describe(res[0]) if res else "?"
            more = "".join(f", X{i}={v:#x}" for i, v in enumerate(res[1:], 1))
            why = f"  [{d['failure']}]" if d.get("failure") else ""
            lines.append(f"#{ev.seq:<6} RMI  {_call_text(cmd, d.get('args', ()))} -> {out}{more}{why}")
        elif ev.kind == "rsi":
            lines.append(f"#{ev.seq:<6} RSI  {ev.summary}")
        elif ev.kind == "psci":
            lines.append(f"#{ev.seq:<6} PSCI {ev.summary}")
        elif ev.kind == "rec.exit":
            lines.append(f"#{ev.seq:<6} EXIT {_exit_line(p, ev)}")
        elif ev.kind == "rec":
            lines.append(f"#{ev.seq:<6} REC  {ev.summary}")
    if last is not None:
        lines = lines[-int(last):] if int(last) > 0 else []
    return "\n".join(lines) if lines else "(no RMI, RSI or PSCI calls" + (f" since #{since})" if since else ")")


# --- the sequence diagram ---------------------------------------------------------------------------
#: The lanes of the sequence diagram, left to right.
LANES = ("Host", "EL3 monitor", "RMM", "Realm")
HOST, EL3, RMM, REALM = range(4)


@dataclass(frozen=True)
class SeqMessage:
    """One arrow of the sequence diagram: from lane ``src`` to lane ``dst`` (equal for a note)."""

    seq: int
    src: int
    dst: int
    label: str
    kind: str  # "call", "return", "exit" or "note"


def sequence_messages(p, since: int = 0) -> list:
    """The event log since ``since`` as :class:`SeqMessage` arrows: RMI calls host->RMM and their
    returns, GTSI delegations RMM->EL3 and back, REC_ENTER's entry RMM->realm, RSI and PSCI calls
    realm->RMM (and RSI returns), REC exits realm->host, faults and SEAs as notes. The monitor's
    own book-keeping (GPT writes, TLBIs, cache maintenance) is left out."""
    out = []
    entering = None  # a REC_ENTER call whose REC has not run yet: (its arrow's position, seq, label)
    for ev in p.events.since(since):
        d, k, s = ev.data, ev.kind, ev.seq
        if entering is not None and k in ("rsi", "psci", "rec.exit", "rec"):
            # the REC ran: the RMM entered the realm right after the host's call
            pos, seq, label = entering
            out.insert(pos + 1, SeqMessage(seq, RMM, REALM, label, "call"))
            entering = None
        if k == "rmi":
            cmd = d.get("command")
            if d.get("phase") == "call":
                out.append(SeqMessage(s, HOST, RMM, _short_call(cmd, d.get("args", ())), "call"))
                if cmd == "RMI_REC_ENTER":
                    rec = p.rmm.recs.get(d["args"][0]) if d.get("args") else None
                    who = f"REC {rec.index}" if rec is not None else "the REC"
                    entering = (len(out) - 1, s, f"enter {who}")
            else:
                entering = None
                res = d.get("results", ())
                label = describe(res[0]) if res else "?"
                if d.get("failure"):
                    label += f" [{d['failure']}]"
                out.append(SeqMessage(s, RMM, HOST, label, "return"))
        elif k == "smc.gtsi":
            text = ev.summary
            if " -> " in text:
                call, status = text.split(" -> ", 1)
                out.append(SeqMessage(s, RMM, EL3, call, "call"))
                out.append(SeqMessage(s, EL3, RMM, status, "return"))
            else:
                out.append(SeqMessage(s, EL3, EL3, text, "note"))
        elif k == "rsi":
            cmd = d.get("command") or "RSI"
            args = ", ".join(f"{a:#x}" for a in d.get("args", ())[:2])
            out.append(SeqMessage(s, REALM, RMM, f"{cmd}({args})", "call"))
            if "results" in d:
                try:
                    st = RsiStatus(d["results"][0]).spec_name
                except (ValueError, IndexError):
                    st = f"{d['results'][0]:#x}" if d["results"] else "?"
                out.append(SeqMessage(s, RMM, REALM, st, "return"))
        elif k == "psci":
            out.append(SeqMessage(s, REALM, RMM, ev.summary.split(" from ")[0], "call"))
        elif k == "rec.exit":
            out.append(SeqMessage(s, REALM, HOST, _exit_line(p, ev) + " (via RMM)", "exit"))
        elif k == "rec":
            out.append(SeqMessage(s, RMM, RMM, ev.summary, "note"))
        elif k == "gpc.fault":
            lane = HOST if d.get("pas") == 1 else REALM
            out.append(SeqMessage(s, lane, lane, "granule protection fault at PA "
                                  f"{d.get('pa', 0):#x}", "note"))
    return out


def _short_call(cmd, args) -> str:
    if cmd is None:
        return "RMI ?"
    return f"{cmd}({', '.join(f'{a:#x}' for a in args)})"


def _elide(msgs, limit):
    """``(head, n_elided, tail)``: the first and last messages when there are more than ``limit``."""
    limit = max(int(limit), 2)
    if len(msgs) <= limit:
        return msgs, 0, []
    head = limit // 2
    return msgs[:head], len(msgs) - limit, msgs[len(msgs) - (limit - head):]


_LANE_W = 14


def _arrow_row(m: SeqMessage) -> str:
    width = _LANE_W * (len(LANES) - 1) + 1
    row = [" "] * width
    for lane in range(len(LANES)):
        row[lane * _LANE_W] = "|"
    a, b = m.src * _LANE_W, m.dst * _LANE_W
    if m.kind == "note":
        row[a] = "*"
        return "".join(row)
    lo, hi = min(a, b), max(a, b)
    fill = "." if m.kind == "return" else "-"
    for x in range(lo + 1, hi):
        row[x] = fill
    if b > a:
        row[b - 1] = ">"
    else:
        row[b + 1] = "<"
    return "".join(row)


def sequence_text(p, since: int = 0, limit: int = 60) -> str:
    """A text sequence diagram of host, EL3 monitor, RMM and realm from the event log since
    ``since``: one arrow per line (``---->`` a call, ``....>`` a return, ``*`` a note) with its
    label. More than ``limit`` messages are elided in the middle, with a note saying how many.

    Spec: RMM DEN0137 1.0-rel0, D1 "Realm creation flow", D2 "REC entry flow"; the RMM-EL3
    interface (``RMM_GTSI_DELEGATE``) of TF-A.
    """
    msgs = sequence_messages(p, since)
    head, gap, tail = _elide(msgs, limit)
    lines = [f"Sequence since event #{since}: {_plural(len(msgs), 'message')}"
             + (f" (the middle {gap} elided)" if gap else "")]
    lanes = "".join(f"{name:<{_LANE_W}}" for name in LANES).rstrip()
    lines.append(f"{'':8}{lanes}")
    for m in head:
        lines.append(f"#{m.seq:<6} {_arrow_row(m)}   {m.label}")
    if gap:
        first, lastm = msgs[len(head)], msgs[len(head) + gap - 1]
        lines.append(f"{'':8}{'~' * (_LANE_W * (len(LANES) - 1) + 1)}   ... {gap} messages elided "
                     f"(events #{first.seq}..#{lastm.seq}) ...")
    for m in tail:
        lines.append(f"#{m.seq:<6} {_arrow_row(m)}   {m.label}")
    if not msgs:
        lines.append("(nothing happened between host, EL3, RMM and realm)")
    return "\n".join(lines)


def draw_sequence(p, since: int = 0, limit: int = 40, ax=None, theme=None):
    """Draw the sequence diagram of :func:`sequence_text`: a vertical lane per party, one arrow
    per message (solid: a call, dashed: a return, green: a REC exit), notes as boxes on a lane,
    the elided middle of a long log as a labelled gap.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    theme = resolve_theme(theme)
    msgs = sequence_messages(p, since)
    head, gap, tail = _elide(msgs, limit)
    rows = list(head) + ([None] if gap else []) + list(tail)
    n = max(len(rows), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 0.34 * n + 1.4), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    xs = [1.6 + 2.9 * k for k in range(len(LANES))]
    ax.set_xlim(0, xs[-1] + 1.4)
    ax.set_ylim(n + 0.5, -1.0)
    ax.axis("off")
    for x, name in zip(xs, LANES):
        ax.plot([x, x], [-0.3, n + 0.3], color=c["grid"], linewidth=1.0, zorder=0)
        ax.text(x, -0.6, name, ha="center", va="center", fontsize=9, fontweight="bold", color=c["text"],
                bbox=dict(boxstyle="round,pad=0.25", fc="none", ec=c["edge"]))
    for y, m in enumerate(rows, 0):
        yy = y + 0.5
        if m is None:
            ax.axhspan(yy - 0.35, yy + 0.35, color=c["grid"], alpha=0.25, linewidth=0)
            ax.text((xs[0] + xs[-1]) / 2, yy, f"... {gap} messages elided ...", ha="center", va="center",
                    fontsize=8, color=c["muted"])
            continue
        ax.text(0.05, yy, f"#{m.seq}", fontsize=6.5, va="center", color=c["muted"], family="monospace")
        if m.kind == "note":
            ax.text(xs[m.src], yy, m.label[:70], ha="center", va="center", fontsize=6.5, color="#000000",
                    bbox=dict(boxstyle="round,pad=0.2", fc="#F0E442", ec=c["edge"], lw=0.5))
            continue
        failed = m.kind == "return" and m.label.endswith("]")  # a failure label in brackets
        colour = c["ok"] if m.kind == "exit" else (c["fault"] if failed else c["edge"])
        ax.add_patch(FancyArrowPatch((xs[m.src], yy), (xs[m.dst], yy), arrowstyle="->", mutation_scale=10,
                                     color=colour, linewidth=0.9, linestyle="--" if m.kind == "return" else "-"))
        ax.text((xs[m.src] + xs[m.dst]) / 2, yy - 0.12, m.label[:64], ha="center", va="bottom", fontsize=6.5,
                color=c["text"], family="monospace")
    if not msgs:
        ax.text((xs[0] + xs[-1]) / 2, 0.5, "nothing happened between host, EL3, RMM and realm", ha="center",
                fontsize=8, color=c["muted"])
    ax.set_title(f"Sequence since event #{since}: {_plural(len(msgs), 'message')}", color=c["text"], fontsize=10)
    return fig


# --- everything in brief -----------------------------------------------------------------------------
def realm_granules(p, rd) -> dict:
    """The granules the realm owns, by state: ``{GranuleState: [pa, ...]}`` (RD, RTTs from the
    tree walk, DATA from its ASSIGNED entries, RECs and their auxiliary granules)."""
    realm = _realm(p, rd)
    out = {GranuleState.RD: [realm.rd], GranuleState.RTT: [], GranuleState.DATA: [], GranuleState.REC: [],
           GranuleState.REC_AUX: []}
    for rtt, level in _realm_rtts(p, realm):
        out[GranuleState.RTT].append(rtt)
        code, pa = classify_entries(p.rmm.rtt_entries(rtt), level)
        assigned = np.isin(code, [3, 4, 5])
        for base in pa[assigned].tolist():
            span = s2tt.LEVEL_SIZE[level] // G
            out[GranuleState.DATA] += [base + i * G for i in range(span)]
    for pa in realm.recs:
        if pa is not None and pa in p.rmm.recs:
            out[GranuleState.REC].append(pa)
            out[GranuleState.REC_AUX] += list(p.rmm.recs[pa].aux)
    return out


def realm_summary_text(p, rd) -> str:
    """The realm in brief: its attributes and RECs, the granules it owns, its RTTs and their
    entries, how many steps built its RIM, and its last RMI calls."""
    realm = _realm(p, rd)
    lines = _realm_header(p, realm)
    owned = realm_granules(p, realm.rd)
    lines.append("Granules: " + ", ".join(f"{s.name} {len(v)}" for s, v in owned.items()))
    recs = [p.rmm.recs[r] for r in realm.recs if r is not None and r in p.rmm.recs]
    for rec in recs:
        lines.append(f"REC {rec.index}: {rec.state.name}, {'runnable' if rec.runnable else 'not runnable'}, "
                     f"exits {rec.exits}, last exit {_exit_name(rec.last_exit.get('reason'))}, "
                     f"pending {_pending(rec)}")
    rtts = _realm_rtts(p, realm)
    lines.append(f"RTTs: {len(rtts)}; entries: " + ", ".join(f"{k} {v}" for k, v in _entry_counts(p, realm).items()))
    steps = rim_steps(p, realm.rd)
    kinds = {}
    for st in steps:
        kinds[st.command.removeprefix("RMI_")] = kinds.get(st.command.removeprefix("RMI_"), 0) + 1
    lines.append(f"RIM built in {_plural(len(steps), 'step')} (" + ", ".join(f"{k} {v}" for k, v in kinds.items())
                 + f"): {bytes(realm.measurements[0]).hex()}")
    mine = []
    for ev in p.events.of_kind("rmi"):
        d = ev.data
        if d.get("phase") == "return" and d.get("args") and (d["args"][0] == realm.rd or d["args"][0] in realm.recs):
            mine.append(ev)
    if mine:
        lines.append("Last RMI calls:")
        for ev in mine[-5:]:
            d = ev.data
            res = d.get("results", (0,))
            why = f"  [{d['failure']}]" if d.get("failure") else ""
            lines.append(f"  #{ev.seq:<6} {_call_text(d['command'], d['args'])} -> {describe(res[0])}{why}")
    return "\n".join(lines)


__all__ = ["granule_states_text", "draw_granule_states", "rtt_tree_text", "draw_rtt_tree", "recs_text",
           "rim_log_text", "draw_rim_log", "rmi_log_text", "sequence_text", "draw_sequence", "realm_summary_text",
           "granule_state_array", "state_runs", "rtt_rows", "RttRow", "classify_entries", "rim_steps", "RimStep",
           "sequence_messages", "SeqMessage", "realm_granules", "rmi_arg_names", "short_hex", "STATE_SYMBOLS",
           "STATE_COLOURS", "ENTRY_STATES", "ENTRY_COLOURS", "LANES", "MIXED_STATE", "UNTRACKED"]
