"""The learner version of a notebook or lab: solutions cleared with nbgrader's markers, outputs stripped.

Markers (the same as nbgrader's, so a lab can also go through ``nbgrader generate_assignment``,
once its answer cells are marked as nbgrader solution cells):

* **Code cells** — the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (both included)
  are replaced by nbgrader's stub, indented like the ``BEGIN`` line::

      # YOUR CODE HERE
      raise NotImplementedError()

  Code outside the markers is always kept, as nbgrader keeps it. A cell tagged ``starter``
  supplies its own starting point: its code outside the markers is runnable, deliberately
  incomplete code that the lab's check cell reports on, so the region is dropped without a stub
  (nbgrader, which does not read the tag, would add its stub after the starter).
* **Markdown cells** — everything from ``<!-- BEGIN SOLUTION -->`` to ``<!-- END SOLUTION -->``
  (instructor notes, worked answers) is removed; a cell left empty is dropped. Other Markdown
  regions in nbgrader's style (``### BEGIN SOLUTION``) become ``YOUR ANSWER HERE``, as nbgrader
  writes them.

As in nbgrader, any line containing ``BEGIN SOLUTION`` (``END SOLUTION``) opens (closes) a region.

Outputs, execution counts and saved widget state are stripped; cell tags and notebook metadata
(front matter, kernelspec) are kept. Releasing a released notebook changes nothing.

Where solutions live: ccalab's labs keep their answer keys out of the notebooks, in
``labs/solutions/*.py`` (instructors and CI only). :func:`release_tree` skips any ``solutions``
folder, so what it writes can be published to learners as it is. ``ccalab release SRC OUT`` and
``make release`` run it from the command line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ccalab.course.nbtools import _strip

BEGIN_CODE = "### BEGIN SOLUTION"
END_CODE = "### END SOLUTION"
#: What a line must contain to open or close a region: nbgrader's own test (any line containing it).
_BEGIN, _END = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_MD = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->")
END_MD = re.compile(r"<!--\s*END SOLUTION\s*-->")
#: The tag of a cell whose code outside the markers is the learner's runnable starting point.
STARTER_TAG = "starter"
#: Folders never released (answer keys, editor checkpoints).
EXCLUDED_DIRS = ("solutions", ".ipynb_checkpoints")


class ReleaseError(ValueError):
    """A solution region that is not closed, or nested in another."""


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)  # as nbformat writes it


def _clear_regions(text: str, stub, where: str) -> tuple:
    """``text`` with every marker region replaced by ``stub`` (None: removed). Returns (text, found)."""
    out, inside, found = [], False, False
    for line in text.split("\n"):
        if _BEGIN in line:
            if inside:
                raise ReleaseError(f"{where}: a BEGIN SOLUTION inside another solution region")
            inside = found = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out += [indent + s for s in stub.split("\n")]
        elif _END in line:
            if not inside:
                raise ReleaseError(f"{where}: an END SOLUTION without its BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: a BEGIN SOLUTION without its END SOLUTION")
    return "\n".join(out), found


def _strip_trailing_blank(text: str) -> str:
    return text.rstrip() if text.strip() else ""


def release_cell(cell: dict, where: str = "cell"):
    """The learner version of one cell (a new dict), or None if the cell is to be dropped."""
    cell = json.loads(json.dumps(cell))
    text = _source(cell)
    kind = cell.get("cell_type")
    if kind == "code" and (_BEGIN in text or _END in text):
        starter = STARTER_TAG in cell.get("metadata", {}).get("tags", [])
        kept, _ = _clear_regions(text, None, where)
        if starter and kept.strip():
            new = kept
        else:
            new, _ = _clear_regions(text, CODE_STUB, where)
        _set_source(cell, _strip_trailing_blank(new))
    elif kind == "markdown" and (_BEGIN in text or _END in text):
        new = _remove_markdown_regions(text, where)
        new, _ = _clear_regions(new, TEXT_STUB, where)
        if not new.strip():
            return None
        _set_source(cell, _strip_trailing_blank(new))
    return cell


def _remove_markdown_regions(text: str, where: str) -> str:
    out, pos = [], 0
    while True:
        b = BEGIN_MD.search(text, pos)
        e = END_MD.search(text, pos)
        if b is None:
            if e is not None:
                raise ReleaseError(f"{where}: an END SOLUTION comment without its BEGIN SOLUTION")
            out.append(text[pos:])
            return re.sub(r"\n{3,}", "\n\n", "".join(out))
        if e is None or e.start() < b.start():
            raise ReleaseError(f"{where}: a BEGIN SOLUTION comment without its END SOLUTION")
        nxt = BEGIN_MD.search(text, b.end())
        if nxt is not None and nxt.start() < e.start():
            raise ReleaseError(f"{where}: a BEGIN SOLUTION comment inside another solution region")
        out.append(text[pos:b.start()])
        pos = e.end()


def release_notebook(nb: dict, name: str = "notebook") -> dict:
    """The learner version of the notebook dict ``nb`` (a new dict; ``nb`` is not changed)."""
    nb = json.loads(json.dumps(nb))
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        new = release_cell(cell, f"{name}, cell {i}")
        if new is not None:
            cells.append(new)
    nb["cells"] = cells
    return _strip(nb)


def problems(nb: dict) -> list:
    """What would show a learner more than the released version does (empty when ``nb`` is clean)."""
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        text = _source(cell)
        if _BEGIN in text or _END in text:
            out.append(f"cell {i}: solution markers")
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            out.append(f"cell {i}: outputs")
    if "widgets" in nb.get("metadata", {}):
        out.append("saved widget state")
    return out


def release(source_nb_path, out_path) -> Path:
    """Write the learner version of the notebook at ``source_nb_path`` to ``out_path``.

    ``out_path`` may be a folder (anything not ending in ``.ipynb``; the file keeps its name).
    Returns the path written.
    """
    src, out = Path(source_nb_path), Path(out_path)
    if out.is_dir() or out.suffix != ".ipynb":
        out = out / src.name
    nb = json.loads(src.read_text(encoding="utf-8"))
    text = json.dumps(release_notebook(nb, src.name), indent=1, ensure_ascii=False) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not (out.exists() and out.read_text(encoding="utf-8") == text):
        out.write_text(text, encoding="utf-8")
    return out


def release_tree(src_dir, out_dir) -> list:
    """Release every notebook under ``src_dir`` into ``out_dir`` (same relative paths).

    Folders named in :data:`EXCLUDED_DIRS` (the answer keys in ``solutions/``) are skipped.
    Returns the paths written, sorted.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    written = []
    for nb in sorted(src_dir.rglob("*.ipynb")):
        rel = nb.relative_to(src_dir)
        if any(part in EXCLUDED_DIRS for part in rel.parts[:-1]):
            continue
        written.append(release(nb, out_dir / rel))
    return written


__all__ = ["BEGIN_CODE", "END_CODE", "CODE_STUB", "STARTER_TAG", "ReleaseError", "release_cell",
           "release_notebook", "problems", "release", "release_tree"]
