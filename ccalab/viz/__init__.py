"""Pictures (matplotlib) and their plain-text twins.

Importing :mod:`ccalab.viz` does not load matplotlib: the ``draw_*`` functions import it when
called, and the ``*_text`` renderers need only NumPy. Nothing here imports ipywidgets.
"""

from .gpt import draw_gpt_structure, draw_granule_map, gpt_structure_text, granule_map_text, walk_text
from .theme import GPI_COLOURS, resolve_theme, style_axes

__all__ = ["granule_map_text", "draw_granule_map", "gpt_structure_text", "draw_gpt_structure", "walk_text",
           "GPI_COLOURS", "style_axes", "resolve_theme"]
