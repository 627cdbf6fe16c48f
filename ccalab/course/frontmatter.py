"""Learning-path front matter: who a notebook is for, what it teaches, and how long it takes.

Every notebook and lab carries it twice: as ``metadata["ccalab"]`` in the ``.ipynb`` (for tools:
the course map, the tests) and as the first Markdown cell (for people), rendered by
:func:`to_markdown` so the two say the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The keys every notebook's ``metadata["ccalab"]`` must have.
REQUIRED_KEYS = ("title", "level", "minutes", "prerequisites", "learn", "audience")
LEVELS = ("introductory", "intermediate", "advanced")


def read(path) -> dict:
    """The front matter (``metadata["ccalab"]``) of the notebook at ``path``; {} if it has none."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = nb.get("metadata", {}).get("ccalab", {})
    return dict(meta) if isinstance(meta, dict) else {}


def problems(meta: dict) -> list:
    """What is missing or malformed in ``meta`` (an empty list when it is complete)."""
    out = [f"missing key {k!r}" for k in REQUIRED_KEYS if k not in meta]
    if "title" in meta and not (isinstance(meta["title"], str) and meta["title"].strip()):
        out.append("title must be a non-empty string")
    if "level" in meta and meta["level"] not in LEVELS:
        out.append(f"level must be one of {', '.join(LEVELS)}")
    if "minutes" in meta and not (isinstance(meta["minutes"], int) and meta["minutes"] > 0):
        out.append("minutes must be a positive int")
    for k in ("prerequisites", "learn"):
        if k in meta and not (isinstance(meta[k], list) and all(isinstance(x, str) for x in meta[k])):
            out.append(f"{k} must be a list of strings")
    if "learn" in meta and isinstance(meta["learn"], list) and not meta["learn"]:
        out.append("learn must name at least one outcome")
    if "audience" in meta and not (isinstance(meta["audience"], str) and meta["audience"].strip()):
        out.append("audience must be a non-empty string")
    return out


def to_markdown(meta: dict) -> str:
    """The front matter as the Markdown of a notebook's first cell."""
    pre = ", ".join(meta.get("prerequisites") or []) or "none"
    learn = "\n".join(f"- {x}" for x in meta.get("learn", []))
    return (f"# {meta['title']}\n\n"
            f"| | |\n|---|---|\n"
            f"| **Who is this for** | {meta['audience']} |\n"
            f"| **Level** | {meta['level']} |\n"
            f"| **Time** | about {meta['minutes']} minutes |\n"
            f"| **Before this** | {pre} |\n\n"
            f"**You will learn**\n\n{learn}\n")


__all__ = ["REQUIRED_KEYS", "LEVELS", "read", "problems", "to_markdown"]
