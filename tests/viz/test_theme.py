import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from ccalab import GPI  # noqa: E402
from ccalab.viz.theme import (GPI_COLOURS, MIXED, NO_ENTRY, THEMES, WALK_FAULT, resolve_theme,  # noqa: E402
                              style_axes)


def _luminance(colour):
    def lin(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b):
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_has_a_distinct_colour_for_every_gpi_and_special_code():
    keys = set(GPI) | {MIXED, WALK_FAULT, NO_ENTRY}
    assert keys <= set(GPI_COLOURS)
    colours = [GPI_COLOURS[k] for k in keys]
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("code", list(GPI) + [MIXED, WALK_FAULT, NO_ENTRY])
def test_fills_stand_out_on_light_and_dark_pages(code):
    # JupyterLab light page is white, the dark one is about #111111
    assert _contrast(GPI_COLOURS[code], "#FFFFFF") >= 1.25
    assert _contrast(GPI_COLOURS[code], "#111111") >= 1.25


def test_theme_text_is_readable_on_its_page():
    assert _contrast(THEMES["light"]["text"], "#FFFFFF") >= 7
    assert _contrast(THEMES["dark"]["text"], "#111111") >= 7


def test_auto_theme_follows_the_environment(monkeypatch):
    monkeypatch.delenv("CCALAB_THEME", raising=False)
    assert resolve_theme("auto") == "light"
    monkeypatch.setenv("CCALAB_THEME", "dark")
    assert resolve_theme("auto") == "dark"
    assert resolve_theme("light") == "light"


def test_unknown_theme_is_refused():
    with pytest.raises(ValueError, match="light"):
        resolve_theme("solarized")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_style_axes_makes_background_transparent_and_text_themed(theme):
    fig, ax = plt.subplots()
    try:
        style_axes(ax, theme)
        assert ax.get_facecolor()[3] == 0
        assert fig.patch.get_alpha() == 0
        label = ax.get_xticklabels()[0]
        assert matplotlib.colors.to_hex(label.get_color()) == THEMES[theme]["text"].lower()
    finally:
        plt.close(fig)
