"""Hints for lab exercises: numbered, each giving a little more away, shown as Markdown."""

from __future__ import annotations

import numpy as np


class Hint(str):
    """A hint: a string that displays as Markdown in a notebook."""

    def _repr_markdown_(self) -> str:
        return f"**Hint:** {self}"

    def __repr__(self) -> str:
        return f"Hint: {self}"


def pick_hint(hints, n: int = 1) -> Hint:
    """The ``n``-th of ``hints`` (1-based); a bad ``n`` gets a hint about the hints, not an error."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(hints):
        return Hint(f"There are hints 1 to {len(hints)}: try hint(1).")
    return Hint(hints[int(n) - 1])
