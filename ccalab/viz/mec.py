"""Pictures and text views of memory encryption (FEAT_MEC): plaintext above the point of
encryption, ciphertext in DRAM, and which encryption context each granule belongs to.

Every picture has a text twin that needs no graphics (``context_map_text`` for
``draw_context_map``; ``side_by_side_text`` and the entropy numbers for ``draw_entropy``), so
terminals, tests and screen readers see the same facts. Only the ``draw_*`` functions import
matplotlib, and only when called.

The views read the model of :mod:`ccalab.arch.mec.engine`: ``p.phys_read`` is an access in a
context (it may refill a granule from DRAM, as any access does), ``p.dram_read`` is a probe on
the DRAM bus (it sees ciphertext), and the context map only looks at the engine's per-granule
tags, so drawing it changes nothing.

Spec: FEAT_MEC as digested in ``spec/mec.md`` (sections 1, 4, 6): one encryption context per
PAS and per Realm MECID; XTS with a per-block tweak, so each 16-byte block is encrypted on its
own, with no integrity (rules RMLFBL, RMYWVB, RTBZM, RKMNQX of the RME system architecture).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch.mec.engine import GRANULE, INVALID, UNTAGGED, context_id, context_name
from ..arch.pas import GPI, PAS, SecurityState, as_pas
from ..errors import CCALabError, GranuleProtectionFault
from .theme import GPI_COLOURS, resolve_theme, style_axes, style_legend

#: Size of one XTS encryption block: the unit a flipped ciphertext bit garbles.
BLOCK = 16

# --- bytes as text ---------------------------------------------------------------------------


def _ascii(row: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in row)


def block_diff(a, b, block: int = BLOCK) -> list:
    """Indices of the ``block``-byte blocks in which ``a`` and ``b`` differ.

    Blocks are counted from the start of the data (block ``k`` is ``a[16k:16k+16]``). If the
    lengths differ, the blocks past the shorter one count as different.

    >>> block_diff(b"A" * 48, b"A" * 20 + b"B" + b"A" * 27)
    [1]
    """
    a = np.frombuffer(bytes(a), np.uint8)
    b = np.frombuffer(bytes(b), np.uint8)
    n = min(a.size, b.size)
    diff = a[:n] != b[:n]
    out = set(np.nonzero(diff)[0] // block)
    longer = max(a.size, b.size)
    out.update(range(n // block, -(-longer // block)) if longer > n else ())
    return sorted(int(k) for k in out)


def hexdump(data, base: int = 0, width: int = 16, highlight_blocks=()) -> str:
    """A classic hexdump of ``data``: address, ``width`` bytes in hex, the printable characters.

    Rows whose bytes fall in a block listed in ``highlight_blocks`` (16-byte block indices
    counted from the start of ``data``, as :func:`block_diff` returns them) start with ``>``;
    the others start with a space.
    """
    data = bytes(data)
    if width <= 0:
        raise ValueError(f"width is a positive number of bytes, got {width}")
    marked = {int(k) for k in highlight_blocks}
    digits = max(8, len(f"{base + max(len(data), 1) - 1:x}"))
    lines = []
    for off in range(0, len(data), width):
        row = data[off:off + width]
        hit = any(k in marked for k in range(off // BLOCK, (off + len(row) - 1) // BLOCK + 1))
        hx = " ".join(f"{b:02x}" for b in row).ljust(3 * width - 1)
        lines.append(f"{'>' if hit else ' '} 0x{base + off:0{digits}x}  {hx}  |{_ascii(row)}|")
    return "\n".join(lines)


def looks_like_noise(data) -> bool:
    """True if ``data`` looks like random bytes rather than text or zeros (a rough test for a
    learner's panel: mostly unprintable, not mostly zero, many distinct values)."""
    a = np.frombuffer(bytes(data), np.uint8)
    if a.size == 0:
        return False
    printable = ((a >= 32) & (a < 127)) | (a == 9) | (a == 10) | (a == 13)
    zeros = a == 0
    distinct = np.unique(a).size
    return bool(printable.mean() < 0.75 and zeros.mean() < 0.5 and distinct >= min(a.size, 256) // 3)


def _window(pa: int, n: int) -> tuple[int, int]:
    """``[pa, pa + n)`` widened to whole 16-byte blocks: ``(aligned base, length)``."""
    lo = int(pa) - int(pa) % BLOCK
    hi = int(pa) + max(int(n), 1)
    hi += -hi % BLOCK
    return lo, hi - lo


def _owner_read(p, pa: int, n: int, pas, mecid: int):
    """``(bytes, None)`` for an access in the context, or ``(None, why)`` if it faults."""
    try:
        return p.phys_read(pa, n, pas, mecid=mecid), None
    except GranuleProtectionFault as exc:
        return None, f"granule protection fault: {exc.fault.explain()}"
    except (CCALabError, ValueError, TypeError) as exc:
        return None, str(exc)


def side_by_side_from(plain, cipher, base: int, plain_title: str, cipher_title: str,
                      expected=None, dram_before=None) -> str:
    """Lay out ``plain`` (the plaintext view) and ``cipher`` (DRAM) row by row, one 16-byte
    block per row (the data must start on a 16-byte boundary at ``base``).

    A row is marked ``>`` on the plaintext side when it differs from ``expected`` and on the DRAM
    side when it differs from ``dram_before`` (either may be None: no marks on that side).
    ``plain`` may be None with ``plain_title`` saying why (a fault).
    """
    cipher = bytes(cipher)
    n = len(cipher)
    p_marks = set(block_diff(plain, expected)) if plain is not None and expected is not None else set()
    c_marks = set(block_diff(cipher, dram_before)) if dram_before is not None else set()
    digits = max(8, len(f"{base + max(n, 1) - 1:x}"))
    left_w = 3 * BLOCK - 1 + 2 + BLOCK + 2
    lines = [f"{'':{digits + 4}}  {plain_title[:left_w + 2]:<{left_w + 2}}   {cipher_title}"]
    for k in range(-(-n // BLOCK)):
        off = k * BLOCK
        crow = cipher[off:off + BLOCK]
        if plain is None:
            left = "(no data: the access faulted)" if k == 0 else ""
            pm = " "
        else:
            prow = bytes(plain)[off:off + BLOCK]
            left = " ".join(f"{b:02x}" for b in prow) + f"  |{_ascii(prow)}|"
            pm = ">" if k in p_marks else " "
        right = " ".join(f"{b:02x}" for b in crow) + f"  |{_ascii(crow)}|"
        cm = ">" if k in c_marks else " "
        lines.append(f"0x{base + off:0{digits}x}  {pm} {left:<{left_w}} {cm} {right}")
    notes = []
    if p_marks:
        notes.append(f"plaintext blocks that differ from the expected data: {sorted(p_marks)}")
    if c_marks:
        notes.append(f"DRAM blocks that changed: {sorted(c_marks)}")
    if notes:
        lines.append("> marks 16-byte blocks; " + "; ".join(notes) + " (block k = bytes 16k..16k+15 of the window)")
    return "\n".join(lines)


def side_by_side_text(p, pa: int, n: int = 64, pas=PAS.REALM, mecid: int = 0, expected=None,
                      dram_before=None) -> str:
    """Plaintext as the context ``(pas, mecid)`` sees it next to the ciphertext DRAM holds.

    The window ``[pa, pa + n)`` is widened to whole 16-byte blocks so that each row is one XTS
    block: a flipped ciphertext bit garbles exactly one row of the plaintext side.

    Parameters
    ----------
    p : Platform
    pa, n : int
        The window (physical address and length).
    pas, mecid :
        The context whose view is shown (``mecid`` only for the Realm PAS).
    expected : bytes, optional
        What the context should read (e.g. what was written): plaintext rows that differ are
        marked ``>``.
    dram_before : bytes, optional
        An earlier probe of the same window: DRAM rows that changed are marked ``>``.

    The plaintext side is an access (``p.phys_read``), so it may refill a granule from DRAM; it
    is read before DRAM. An access the GPC refuses is shown as the fault, not raised.

    Spec: ``spec/mec.md`` section 6 (XTS, 16-byte blocks, no integrity).
    """
    base, length = _window(pa, n)
    pas = as_pas(pas)
    plain, why = _owner_read(p, base, length, pas, mecid)
    cipher = p.dram_read(base, length)
    who = context_name(context_id(pas, mecid if pas == PAS.REALM else 0))
    ptitle = f"{who} reads (plaintext above the PoE)" if why is None else f"{who}: {why}"
    return side_by_side_from(plain, cipher, base, ptitle, "DRAM holds (ciphertext below the PoE)",
                             expected, dram_before)


# --- entropy ---------------------------------------------------------------------------------


def entropy(data, block: int = 64) -> np.ndarray:
    """Shannon entropy of each ``block``-byte block of ``data``, in bits per byte.

    A block of ``b`` bytes can show at most ``log2(b)`` bits/byte (64 bytes: 6, 4096 bytes: 8),
    so compare blocks of one size: a page of ciphertext measured as one 4096-byte block comes
    out near 7.95; English text stays around 4 (below 5). A trailing partial block is measured as it is.
    """
    a = np.frombuffer(bytes(data), np.uint8)
    if block <= 0:
        raise ValueError(f"block is a positive number of bytes, got {block}")
    out = []
    for off in range(0, a.size, block):
        chunk = a[off:off + block]
        counts = np.bincount(chunk, minlength=256)
        prob = counts[counts > 0] / chunk.size
        out.append(float(-(prob * np.log2(prob)).sum()) + 0.0)
    return np.asarray(out, dtype=float)


def page_views(p, pa: int, n: int = GRANULE, pas=PAS.REALM, mecid: int = 0):
    """``(base, plaintext or None, ciphertext, why)`` for the ``n`` bytes from ``pa`` rounded
    down to a granule: what the context reads (None and ``why`` if it faults) and what DRAM holds."""
    base = int(pa) - int(pa) % GRANULE
    plain, why = _owner_read(p, base, n, as_pas(pas), mecid)
    return base, plain, p.dram_read(base, n), why


def entropy_text(plain, cipher) -> str:
    """One line per view: entropy of the whole buffer and the range over 256-byte blocks."""
    lines = []
    for name, data in (("plaintext", plain), ("ciphertext", cipher)):
        if data is None:
            lines.append(f"{name}: (no data: the access faulted)")
            continue
        whole = entropy(data, len(data) or 1)[0] if len(data) else 0.0
        parts = entropy(data, 256)
        lines.append(f"{name}: {whole:.2f} bits/byte over {len(data)} bytes (256-byte blocks: "
                     f"{parts.min():.2f}..{parts.max():.2f}; at most 8)")
    return "\n".join(lines)


def draw_entropy(p, pa: int, n: int = GRANULE, pas=PAS.REALM, mecid: int = 0, theme: str = "auto",
                 plaintext=None, ciphertext=None, fig=None):
    """Plaintext and ciphertext of a page as two images (one pixel per byte, grey level = value),
    each titled with its Shannon entropy: text shows structure, ciphertext looks like static.

    Parameters
    ----------
    p : Platform
    pa, n : int
        The page (``pa`` is rounded down to a granule; ``n`` bytes, 4096 by default).
    pas, mecid :
        The context whose plaintext is shown.
    theme : {"auto", "light", "dark"}
    plaintext, ciphertext : bytes, optional
        Data already read (by a widget): then nothing is read from the platform.
    fig : matplotlib Figure, optional
        Draw into this (cleared) figure instead of a new one.

    Returns
    -------
    matplotlib.figure.Figure

    Spec: ``spec/mec.md`` section 6 (ciphertext is indistinguishable from random bytes).
    """
    import matplotlib.pyplot as plt

    theme = resolve_theme(theme)
    why = None
    if plaintext is None or ciphertext is None:
        base, plain, cipher, why = page_views(p, pa, n, pas, mecid)
        plaintext = plain if plaintext is None else plaintext
        ciphertext = cipher if ciphertext is None else ciphertext
    else:
        base = int(pa) - int(pa) % GRANULE
    if fig is None:
        fig = plt.figure(figsize=(8.0, 4.4), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(1, 2)
    cols = 64
    who = context_name(context_id(as_pas(pas), mecid if as_pas(pas) == PAS.REALM else 0))
    for ax, data, label in ((axes[0], plaintext, f"{who} reads"), (axes[1], ciphertext, "DRAM holds")):
        c = style_axes(ax, theme)
        ax.set_xticks([])
        ax.set_yticks([])
        if data is None:
            ax.text(0.5, 0.5, "access faulted:\nno plaintext", ha="center", va="center", color=c["fault"],
                    transform=ax.transAxes)
            ax.set_title(f"{label}\n(no data)", color=c["text"], fontsize=9)
            continue
        a = np.frombuffer(bytes(data), np.uint8)
        rows = -(-a.size // cols)
        img = np.zeros(rows * cols, np.uint8)
        img[:a.size] = a
        ax.imshow(img.reshape(rows, cols), cmap="gray", vmin=0, vmax=255, interpolation="nearest",
                  aspect="equal")
        h = entropy(a, a.size)[0] if a.size else 0.0
        ax.set_title(f"{label}\n{h:.2f} bits/byte", color=c["text"], fontsize=9)
    c = style_axes(axes[0], theme)
    fig.suptitle(f"Page {base:#x}: one pixel per byte (black 0x00, white 0xff)", color=c["text"], fontsize=10)
    if why:
        fig.text(0.01, 0.01, why[:120], color=c["fault"], fontsize=7)
    return fig


# --- which context each granule belongs to ---------------------------------------------------

#: Context-map symbols that are not a context.
INVALID_SYMBOL = "."
UNTAGGED_SYMBOL = "-"
DIRTY_MARK = "*"

_PAS_SYMBOLS = {PAS.NONSECURE: "N", PAS.SECURE: "S", PAS.ROOT: "X"}
_PAS_GPI = {PAS.NONSECURE: GPI.NONSECURE, PAS.SECURE: GPI.SECURE, PAS.ROOT: GPI.ROOT}

#: Fill colours for Realm MECIDs, MECID ``m`` takes entry ``m % len``: Okabe-Ito hues first (the
#: Realm orange for MECID 0, as in the granule map), then darker shades that stay apart from them.
MECID_COLOURS = ("#E69F00", "#009E73", "#CC79A7", "#F0E442", "#8C6BB1", "#A6761D", "#1B9E77", "#E7298A")
INVALID_COLOUR = "#8C8C8C"
UNTAGGED_COLOUR = "#E6E6E6"


def context_symbol(ctx: int) -> str:
    """The one-character name of an encryption context in the text map: a Realm MECID as its
    digit (0-9), then letters (10 -> ``a`` ... 35 -> ``z``), larger ones ``#``; the other PASes
    ``N`` Non-secure, ``S`` Secure, ``X`` Root."""
    pas = PAS(ctx >> 16)
    if pas != PAS.REALM:
        return _PAS_SYMBOLS[pas]
    m = ctx & 0xFFFF
    if m < 10:
        return str(m)
    if m < 36:
        return chr(ord("a") + m - 10)
    return "#"


def context_colour(ctx: int) -> str:
    """Fill colour of an encryption context (the GPI colour for the single-context PASes)."""
    pas = PAS(ctx >> 16)
    if pas != PAS.REALM:
        return GPI_COLOURS[_PAS_GPI[pas]]
    return MECID_COLOURS[(ctx & 0xFFFF) % len(MECID_COLOURS)]


@dataclass(frozen=True)
class ContextGrid:
    """The engine's view of ``[start, end)``: one cell per granule, ``cols`` per row."""

    start: int
    end: int
    cols: int
    tags: np.ndarray  # per granule: context id + 1, UNTAGGED (0) or INVALID (-1)
    dirty: np.ndarray  # per granule: cached plaintext newer than DRAM
    contexts: tuple  # the context ids present, sorted

    @property
    def rows(self) -> int:
        return -(-self.tags.size // self.cols)

    def symbol(self, k: int) -> str:
        t = int(self.tags[k])
        if t == INVALID:
            return INVALID_SYMBOL
        if t == UNTAGGED:
            return UNTAGGED_SYMBOL
        return context_symbol(t - 1)


MAX_GRANULES = 4096


def context_grid(p, start: int, end: int, cols: int = 32) -> ContextGrid:
    """Read the engine's tags and dirty bits for the granules of ``[start, end)``.

    ``start`` is rounded down and ``end`` up to whole granules; at most ``MAX_GRANULES``
    granules (16 MB) are shown at once.
    """
    start, end = int(start), int(end)
    if start < 0 or end <= start:
        raise ValueError(f"the range [{start:#x}, {end:#x}) is empty; give start < end")
    g0, g1 = start // GRANULE, -(-end // GRANULE)
    if g1 - g0 > MAX_GRANULES:
        raise ValueError(f"{g1 - g0} granules are too many for a context map (at most {MAX_GRANULES}); "
                         "zoom in")
    mec = p.mec
    if g1 > mec.tag.size:
        raise ValueError(f"[{start:#x}, {end:#x}) runs past the end of physical memory ({mec.tag.size * GRANULE:#x})")
    tags = np.array(mec.tag[g0:g1], dtype=np.int64)
    dirty = np.array(mec.dirty[g0:g1], dtype=bool)
    ctxs = tuple(sorted(int(t) - 1 for t in np.unique(tags[tags > 0])))
    return ContextGrid(g0 * GRANULE, g1 * GRANULE, int(cols), tags, dirty, ctxs)


def _legend_entries(grid: ContextGrid):
    entries = [(context_symbol(c), context_colour(c), context_name(c)) for c in grid.contexts]
    entries.append((INVALID_SYMBOL, INVALID_COLOUR, "invalid: nothing cached, the next access refills "
                                                    "from DRAM"))
    entries.append((UNTAGGED_SYMBOL, UNTAGGED_COLOUR, "untagged: not yet used through the engine"))
    return entries


def context_map_text(p, start: int, end: int, cols: int = 32) -> str:
    """The context map as text: one two-character cell per granule, the context's symbol and a
    ``*`` when the cached plaintext is dirty (newer than DRAM); a legend names every symbol.

    Reading the map changes nothing (it looks at the engine's tags, not at memory).

    Spec: ``spec/mec.md`` sections 1 and 4 (RTBZM: cached plaintext stays associated with the
    MECID it was cached with).
    """
    grid = context_grid(p, start, end, cols)
    digits = max(8, len(f"{grid.end - 1:x}"))
    lines = [f"Encryption context of each 4KB granule, {grid.start:#x}..{grid.end:#x} "
             f"({grid.tags.size} granules, {grid.cols} per row)"]
    for r in range(grid.rows):
        cells = []
        for k in range(r * grid.cols, min((r + 1) * grid.cols, grid.tags.size)):
            cells.append(grid.symbol(k) + (DIRTY_MARK if grid.dirty[k] else " "))
        lines.append(f"0x{grid.start + r * grid.cols * GRANULE:0{digits}x} |{''.join(cells)}|")
    legend = "  ".join(f"{s} {name}" for s, _c, name in _legend_entries(grid))
    lines.append(f"Legend: {legend}  {DIRTY_MARK} after a symbol: dirty (newer than DRAM)")
    counts = {c: int((grid.tags == c + 1).sum()) for c in grid.contexts}
    if counts:
        lines.append("Granules per context: " + ", ".join(f"{context_name(c)} {n}" for c, n in counts.items()))
    return "\n".join(lines)


def draw_context_map(p, start: int, end: int, theme: str = "auto", ax=None, cols: int = 32):
    """Draw the context map of ``[start, end)``: one cell per granule, coloured and labelled by
    the encryption context (PAS and MECID) its cached plaintext belongs to; invalid and untagged
    granules in greys; dirty granules outlined and starred. The picture of
    :func:`context_map_text`, with the same cells.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch, Rectangle

    theme = resolve_theme(theme)
    grid = context_grid(p, start, end, cols)
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, max(2.2, 1.4 + 0.32 * grid.rows)), layout="constrained")
    else:
        fig = ax.figure
    c = style_axes(ax, theme)
    entries = _legend_entries(grid)
    # cell value: index into ``entries`` (the contexts present, then invalid, then untagged)
    index = {ctx + 1: k for k, ctx in enumerate(grid.contexts)}
    index[INVALID] = len(grid.contexts)
    index[UNTAGGED] = len(grid.contexts) + 1
    codes = entries
    flat = np.full(grid.rows * grid.cols, -1, np.int64)
    flat[:grid.tags.size] = [index[int(t)] for t in grid.tags]
    img = np.ma.masked_less(flat.reshape(grid.rows, grid.cols), 0)
    cmap = ListedColormap([e[1] for e in entries]).with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(-0.5, grid.cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, grid.rows, 1), minor=True)
    ax.grid(which="minor", color=c["grid"], linewidth=0.4)
    ax.tick_params(which="minor", length=0)
    for k in range(grid.tags.size):
        r, col = divmod(k, grid.cols)
        sym = grid.symbol(k) + (DIRTY_MARK if grid.dirty[k] else "")
        ax.text(col, r, sym, ha="center", va="center", fontsize=7, color="#000000", family="monospace")
        if grid.dirty[k]:
            ax.add_patch(Rectangle((col - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=c["fault"], linewidth=1.6))
    digits = max(8, len(f"{grid.end - 1:x}"))
    ax.set_yticks(range(grid.rows))
    ax.set_yticklabels([f"0x{grid.start + r * grid.cols * GRANULE:0{digits}x}" for r in range(grid.rows)],
                       family="monospace", fontsize=8)
    xt = list(range(0, grid.cols, max(1, grid.cols // 8)))
    ax.set_xticks(xt)
    ax.set_xticklabels([f"+{k * GRANULE:#x}" for k in xt], fontsize=8)
    ax.set_xlabel("offset within row (1 cell = 4KB granule)")
    ax.set_title(f"Encryption context of each granule's cached plaintext, {grid.start:#x}..{grid.end:#x}",
                 color=c["text"], fontsize=10)
    handles = [Patch(facecolor=col, edgecolor=c["edge"], label=f"{sym}  {name}") for sym, col, name in entries]
    handles.append(Patch(facecolor="none", edgecolor=c["fault"], linewidth=1.6,
                         label=f"{DIRTY_MARK}  dirty: newer than DRAM"))
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7,
                    borderaxespad=0.0, title="context", title_fontsize=7)
    style_legend(leg, theme)
    return fig


# --- the attacker's, the owner's and the host's view ------------------------------------------


def owner_mecid(p, pa: int) -> int | None:
    """The Realm MECID whose plaintext the granule of ``pa`` holds in the cache, or None if the
    granule is invalid, untagged or cached for another PAS."""
    t = int(p.mec.tag[int(pa) // GRANULE])
    if t <= 0 or PAS((t - 1) >> 16) != PAS.REALM:
        return None
    return (t - 1) & 0xFFFF


def probe_text(p, pa: int, n: int = 64, mecid: int | None = None, dram_before=None) -> str:
    """Three views of one window, side by side: the isolation boundary next to the crypto boundary.

    1. A physical attacker probing the DRAM bus (``p.dram_read``): ciphertext, no check applies.
    2. The owner, a Realm PAS access with ``mecid`` (default: the MECID whose plaintext the
       granule caches, else 0): plaintext.
    3. The host, a Non-secure EL2 read (``p.access``): stopped by the granule protection check,
       with the fault explained.

    ``dram_before`` (an earlier probe of the same window) marks the DRAM rows that changed.

    Spec: ``spec/mec.md`` section 1 and 6; RME DEN0129 (the GPC is the isolation boundary,
    encryption protects only against attacks on the memory outside the SoC).
    """
    base, length = _window(pa, n)
    raw = p.dram_read(base, length)
    if mecid is None:
        mecid = owner_mecid(p, base)
        guessed = True
        mecid = 0 if mecid is None else mecid
    else:
        guessed = False
    plain, why = _owner_read(p, base, length, PAS.REALM, mecid)
    host = p.access(SecurityState.NONSECURE, base)
    lines = [f"Window {base:#x}..{base + length:#x}: three observers", "",
             "1. Physical attacker, probing the DRAM bus (no GPC, no key): ciphertext"
             + (" - looks like noise" if looks_like_noise(raw) else ""),
             hexdump(raw, base, highlight_blocks=block_diff(raw, dram_before) if dram_before is not None else ()),
             "",
             f"2. Owner: Realm PAS access with MECID {mecid}"
             + (" (the MECID its cached plaintext belongs to)" if guessed else "") + ": plaintext"]
    if plain is None:
        lines.append(f"   {why}")
    else:
        lines.append(hexdump(plain, base))
        if looks_like_noise(plain):
            lines.append("   (noise: this MECID's key does not match the data's, and nothing faults)")
    lines += ["", "3. Host: Non-secure EL2 read of the first 8 bytes"]
    if host.fault is not None:
        lines.append(f"   GPF - {host.fault.explain()}")
        lines.append(f"   {host.report.summary}.")
        lines.append("   The granule protection check stops the host before any data moves: that is the "
                     "isolation boundary. Encryption is the crypto boundary: it only matters to someone who "
                     "reads DRAM without going through the check, like observer 1.")
    elif host.bus_error:
        lines.append(f"   bus error: {host.bus_error}")
    else:
        lines.append(f"   allowed (the granule is not Realm): {host.data.hex(' ')}")
    return "\n".join(lines)


__all__ = ["BLOCK", "hexdump", "block_diff", "looks_like_noise", "side_by_side_text", "side_by_side_from",
           "entropy", "entropy_text", "page_views", "draw_entropy", "context_map_text", "draw_context_map",
           "context_grid", "ContextGrid", "context_symbol", "context_colour", "MECID_COLOURS", "owner_mecid",
           "probe_text"]
