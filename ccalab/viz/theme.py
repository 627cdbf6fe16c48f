"""Colours and axes styling shared by every ccalab figure.

The GPI palette is the Okabe-Ito set (Okabe and Ito, "Color Universal Design", 2008), which stays
distinguishable under the common forms of colour-vision deficiency. Fills are mid-luminance so
that they read on a white (JupyterLab light) and on a near-black (JupyterLab dark) page; figure
and axes backgrounds are transparent, and only text, spines and cell edges change with the theme.

``theme`` arguments take ``"light"``, ``"dark"`` or ``"auto"``. ``"auto"`` is light unless the
environment variable ``CCALAB_THEME`` is ``dark`` (a JupyterLab kernel cannot see the page
theme, so a course sets the variable, e.g. in ``binder/start``, or passes ``theme`` explicitly).
"""

from __future__ import annotations

import os

from ..arch.pas import GPI

#: Map codes beyond the 4-bit GPI values (used by :mod:`ccalab.viz.gpt`).
MIXED = 0xFD  # a cell that holds granules of more than one GPI
WALK_FAULT = 0xFE  # a GPT entry a walk would reject (reserved GPI, bad descriptor, bus error)
NO_ENTRY = 0xFF  # no GPT entry: above the protected PA size (same value as the kernel's NO_GPI)

#: Fill colour per GPI (and per special map code). Keys are :class:`GPI` members or the ints above.
GPI_COLOURS = {
    GPI.NONSECURE: "#56B4E9",  # sky blue
    GPI.REALM: "#E69F00",  # orange
    GPI.SECURE: "#0072B2",  # blue
    GPI.ROOT: "#D55E00",  # vermillion
    GPI.ANY: "#A6A6A6",  # mid grey: everybody may access
    GPI.NO_ACCESS: "#5C5C5C",  # dark grey: nobody may access
    MIXED: "#CC79A7",  # reddish purple: zoom in
    WALK_FAULT: "#F0E442",  # yellow: a walk would fault here
    NO_ENTRY: "#D4D4D4",  # pale grey: no GPT entry (above PPS)
}

#: Names for the legend, in legend order.
CODE_LABELS = {
    GPI.NONSECURE: "Non-secure",
    GPI.REALM: "Realm",
    GPI.SECURE: "Secure",
    GPI.ROOT: "Root",
    GPI.ANY: "All access",
    GPI.NO_ACCESS: "No access",
    MIXED: "mixed (zoom in)",
    WALK_FAULT: "walk fault / reserved",
    NO_ENTRY: "no GPT entry (above PPS)",
}

#: Text, edge and grid colours per theme.
THEMES = {
    "light": {"text": "#1A1A1A", "edge": "#404040", "grid": "#BFBFBF", "muted": "#595959",
              "ok": "#1B7F3B", "fault": "#B3261E"},
    "dark": {"text": "#E8E8E8", "edge": "#C8C8C8", "grid": "#5A5A5A", "muted": "#B0B0B0",
             "ok": "#6FD08C", "fault": "#FF8A80"},
}


def resolve_theme(theme: str = "auto") -> str:
    """``"light"`` or ``"dark"`` for a ``theme`` argument (``"auto"`` reads ``CCALAB_THEME``)."""
    if theme is None:
        theme = "auto"
    key = str(theme).strip().lower()
    if key == "auto":
        return "dark" if os.environ.get("CCALAB_THEME", "").strip().lower() == "dark" else "light"
    if key not in THEMES:
        raise ValueError(f"theme is 'light', 'dark' or 'auto', got {theme!r}")
    return key


def theme_colours(theme: str = "auto") -> dict:
    """The text/edge/grid colours of ``theme``."""
    return dict(THEMES[resolve_theme(theme)])


def colour_for(code: int) -> str:
    """Fill colour for a GPI or a map code; reserved GPI values get the walk-fault colour."""
    code = int(code)
    if code in GPI_COLOURS:
        return GPI_COLOURS[code]
    return GPI_COLOURS[WALK_FAULT]


def style_axes(ax, theme: str = "auto"):
    """Make ``ax`` (and its figure) transparent, with text and spines readable in ``theme``.

    Returns the resolved theme's colour dict.
    """
    c = theme_colours(theme)
    ax.set_facecolor("none")
    fig = ax.figure
    if fig is not None:
        fig.patch.set_alpha(0.0)
    for spine in ax.spines.values():
        spine.set_color(c["edge"])
    ax.tick_params(colors=c["text"], which="both")
    ax.xaxis.label.set_color(c["text"])
    ax.yaxis.label.set_color(c["text"])
    ax.title.set_color(c["text"])
    return c


def style_legend(legend, theme: str = "auto") -> None:
    """Transparent legend frame with themed text."""
    if legend is None:
        return
    c = theme_colours(theme)
    frame = legend.get_frame()
    frame.set_facecolor("none")
    frame.set_edgecolor(c["grid"])
    for text in legend.get_texts():
        text.set_color(c["text"])
    if legend.get_title() is not None:
        legend.get_title().set_color(c["text"])


__all__ = ["GPI_COLOURS", "CODE_LABELS", "THEMES", "MIXED", "WALK_FAULT", "NO_ENTRY", "resolve_theme",
           "theme_colours", "colour_for", "style_axes", "style_legend"]
