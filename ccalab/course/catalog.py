"""The course map: every notebook and lab, read from their front matter, in course order.

:func:`catalog` finds the notebooks (``notebooks/*.ipynb``) and labs (``labs/*.ipynb``) of the
course folder and reads each one's front matter (:mod:`ccalab.course.frontmatter`).
:func:`course_map_markdown` renders them as a Markdown table with links and totals (the table in
``notebooks/00-start-here.ipynb``), :func:`course_map_text` as plain text for a terminal
(``ccalab course``). :func:`update_start_here` writes the current map into the start notebook,
between the markers ``<!-- course-map:start -->`` and ``<!-- course-map:end -->``; a test fails
when the committed map is stale.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import frontmatter

START_MARKER = "<!-- course-map:start -->"
END_MARKER = "<!-- course-map:end -->"
FOLDERS = (("notebooks", "notebook"), ("labs", "lab"))
START_HERE = "notebooks/00-start-here.ipynb"


@dataclass(frozen=True)
class Entry:
    """One notebook or lab of the course, as its front matter describes it.

    ``path`` is relative to the course folder, in POSIX form (``labs/01-pas-layout.ipynb``);
    ``problems`` lists what is missing or malformed in the front matter (empty when complete).
    """

    path: str
    title: str
    level: str
    minutes: int
    prerequisites: tuple
    learn: tuple
    kind: str  # "notebook" or "lab"
    audience: str = ""
    problems: tuple = field(default=(), compare=False)

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def exercise(self) -> str | None:
        """The exercise id a lab's checker records progress under (``lab01-pas-layout``); None for notebooks."""
        return f"lab{self.stem}" if self.kind == "lab" else None


def _looks_like_course(folder: Path) -> bool:
    return any((folder / name).is_dir() for name, _ in FOLDERS)


def course_root(root=None) -> Path:
    """The course folder (the one holding ``notebooks/`` and ``labs/``).

    ``root`` if given; else ``$CCALAB_COURSE``; else the folder above the installed package (a
    source checkout); else the current directory or its parent (a notebook runs in ``notebooks/``).
    """
    if root is not None:
        return Path(root).expanduser().resolve()
    env = os.environ.get("CCALAB_COURSE")
    candidates = [Path(env).expanduser()] if env else []
    candidates += [Path(__file__).resolve().parents[2], Path.cwd(), Path.cwd().parent]
    for c in candidates:
        if _looks_like_course(c):
            return c.resolve()
    return Path.cwd().resolve()


def _order(path: str, kind: str):
    m = re.match(r"(\d+)", PurePosixPath(path).stem)
    return (int(m.group(1)) if m else 1 << 30, 0 if kind == "notebook" else 1, path)


def _entry(root: Path, path: Path, kind: str) -> Entry:
    rel = path.relative_to(root).as_posix()
    try:
        meta = frontmatter.read(path)
    except (OSError, ValueError) as exc:
        meta, probs = {}, (f"cannot read the notebook: {exc}",)
    else:
        probs = tuple(frontmatter.problems(meta))
    minutes = meta.get("minutes")
    return Entry(path=rel, title=str(meta.get("title") or PurePosixPath(rel).stem),
                 level=str(meta.get("level", "")),
                 minutes=minutes if isinstance(minutes, int) and not isinstance(minutes, bool) else 0,
                 prerequisites=tuple(meta.get("prerequisites") or ()), learn=tuple(meta.get("learn") or ()),
                 kind=kind, audience=str(meta.get("audience", "")), problems=probs)


def catalog(root=None) -> list:
    """Every notebook and lab of the course as :class:`Entry` records, in course order.

    Course order is by the number that starts each file name, a notebook before the lab with the
    same number (``00-start-here``, ``01-granule-protection``, lab ``01-pas-layout``, ...).
    """
    root = course_root(root)
    out = []
    for folder, kind in FOLDERS:
        d = root / folder
        if d.is_dir():
            out += [_entry(root, p, kind) for p in sorted(d.glob("*.ipynb"))]
    return sorted(out, key=lambda e: _order(e.path, e.kind))


def problems(entries) -> dict:
    """``{path: [problem, ...]}`` for every entry whose front matter is incomplete."""
    return {e.path: list(e.problems) for e in entries if e.problems}


# --- rendering -----------------------------------------------------------------------------------
def _fmt_minutes(n: int) -> str:
    h, m = divmod(int(n), 60)
    if not h:
        return f"{m} min"
    return f"{h} h" + (f" {m:02d} min" if m else "")


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _totals(entries) -> str:
    nb = sum(1 for e in entries if e.kind == "notebook")
    lab = sum(1 for e in entries if e.kind == "lab")
    return (f"{nb} notebook{'s' if nb != 1 else ''} and {lab} lab{'s' if lab != 1 else ''}, "
            f"about {_fmt_minutes(sum(e.minutes for e in entries))} in all")


def _link(target: str, base: str) -> str:
    """``target`` (relative to the course folder) as seen from the folder ``base``."""
    return PurePosixPath(os.path.relpath(target, base or ".")).as_posix()


def course_map_markdown(entries, base: str = "") -> str:
    """The course map as a Markdown table with links, followed by totals.

    Links are relative to ``base``, a folder relative to the course folder (``"notebooks"`` for a
    map shown in a notebook there; ``""``, the default, for the course folder itself). A
    prerequisite that names a notebook of the course becomes a link to it.
    """
    entries = list(entries)
    by_path = {e.path: e for e in entries}
    rows = ["| # | Notebook | Kind | Level | Time | Before this | You will learn |",
            "|---|---|---|---|---|---|---|"]
    for i, e in enumerate(entries):
        pre = []
        for p in e.prerequisites:
            if p in by_path:
                pre.append(f"[{_md_escape(by_path[p].title)}]({_link(p, base)})")
            else:
                pre.append(_md_escape(p))
        rows.append(f"| {i} | [{_md_escape(e.title)}]({_link(e.path, base)}) | {e.kind} | {e.level} | "
                    f"{_fmt_minutes(e.minutes)} | {', '.join(pre) or 'none'} | "
                    f"{'; '.join(_md_escape(x) for x in e.learn)} |")
    return "\n".join(rows) + f"\n\n**In total:** {_totals(entries)}.\n"


def course_map_text(entries, width: int = 100) -> str:
    """The course map as plain text for a terminal (``ccalab course``)."""
    import textwrap

    entries = list(entries)
    by_path = {e.path: e for e in entries}
    lines = ["The ccalab course", ""]
    for i, e in enumerate(entries):
        lines.append(f"{i:>2}. {e.title}  [{e.kind}, {e.level}, {_fmt_minutes(e.minutes)}]")
        lines.append(f"    open: {e.path}")
        if e.prerequisites:
            pre = ", ".join(by_path[p].title if p in by_path else p for p in e.prerequisites)
            lines += textwrap.wrap(f"before this: {pre}", width, initial_indent="    ", subsequent_indent="      ")
        for x in e.learn:
            lines += textwrap.wrap(f"- {x}", width, initial_indent="    ", subsequent_indent="      ")
        lines.append("")
    lines.append(f"In total: {_totals(entries)}.")
    return "\n".join(lines)


# --- the map inside the start notebook -------------------------------------------------------------
def _start_here_path(path, root) -> tuple[Path, Path]:
    root = course_root(root)
    path = Path(path).expanduser() if path is not None else root / START_HERE
    if not path.is_absolute():
        path = (root / path) if (root / path).exists() else path.resolve()
    return path, root


def _map_cell(nb: dict):
    for cell in nb.get("cells", []):
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "markdown" and START_MARKER in text and END_MARKER in text:
            return cell, text
    return None, None


def expected_map(path=None, root=None) -> str:
    """The map that belongs between the markers of the start notebook at ``path`` (generated now)."""
    path, root = _start_here_path(path, root)
    try:
        base = path.resolve().parent.relative_to(root).as_posix()
    except ValueError:
        base = ""
    return course_map_markdown(catalog(root), base="" if base == "." else base)


def current_map(path=None, root=None) -> str | None:
    """The map the start notebook holds between its markers now; None if it has no marked cell."""
    path, _ = _start_here_path(path, root)
    nb = json.loads(path.read_text(encoding="utf-8"))
    _, text = _map_cell(nb)
    if text is None:
        return None
    inner = text.split(START_MARKER, 1)[1].split(END_MARKER, 1)[0]
    return inner.strip("\n") + "\n"


def update_start_here(path=None, root=None) -> bool:
    """Write the current course map between the markers of the start notebook; True if it changed.

    ``path`` defaults to ``notebooks/00-start-here.ipynb`` in the course folder. Raises ValueError
    if the notebook has no Markdown cell holding both markers.
    """
    path, root = _start_here_path(path, root)
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    cell, text = _map_cell(nb)
    if cell is None:
        raise ValueError(f"{path} has no Markdown cell with {START_MARKER} and {END_MARKER}")
    head, rest = text.split(START_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    new = f"{head}{START_MARKER}\n{expected_map(path, root)}{END_MARKER}{tail}"
    if new == text:
        return False
    cell["source"] = new.splitlines(keepends=True)
    out = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    path.write_text(out, encoding="utf-8")
    return True


def main(argv=None) -> int:
    """``python -m ccalab.course.catalog [--check]``: refresh (or check) the start notebook's map."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if "--check" in args:
        stale = current_map() != expected_map()
        if stale:
            print(f"{START_HERE}: the course map is stale (run python -m ccalab.course.catalog)")
        return 1 if stale else 0
    print(f"{START_HERE}: {'updated' if update_start_here() else 'already current'}")
    return 0


__all__ = ["Entry", "catalog", "course_root", "problems", "course_map_markdown", "course_map_text",
           "update_start_here", "expected_map", "current_map", "START_MARKER", "END_MARKER"]

if __name__ == "__main__":
    raise SystemExit(main())
