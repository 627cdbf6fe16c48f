"""Notebook housekeeping: notebooks are committed with their outputs stripped.

``python -m ccalab.course.nbtools [--check] PATH...`` strips (or, with ``--check``, only
reports) outputs and execution counts of the given notebooks or of every notebook under the
given folders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def has_outputs(nb: dict) -> bool:
    """True if any code cell of the notebook dict ``nb`` has outputs or an execution count."""
    return any(c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count") is not None)
               for c in nb.get("cells", []))


def _strip(nb: dict) -> dict:
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code":
            c["outputs"] = []
            c["execution_count"] = None
            meta = c.get("metadata", {})
            meta.pop("execution", None)
    nb.get("metadata", {}).pop("widgets", None)  # saved widget state is an output too
    return nb


def strip_outputs(path) -> bool:
    """Remove outputs and execution counts from the notebook at ``path`` in place.

    Returns True if the file changed. Cell sources, tags and notebook metadata are kept.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    new = json.dumps(_strip(nb), indent=1, ensure_ascii=False) + "\n"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def notebooks_under(*paths) -> list:
    """Every ``.ipynb`` at or below ``paths`` (checkpoints excluded), sorted."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts]
        elif p.suffix == ".ipynb":
            out.append(p)
    return sorted(out)


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"] or ["notebooks", "labs"]
    bad = []
    for nb_path in notebooks_under(*paths):
        if check:
            if has_outputs(json.loads(nb_path.read_text(encoding="utf-8"))):
                bad.append(nb_path)
        elif strip_outputs(nb_path):
            print(f"stripped {nb_path}")
    for b in bad:
        print(f"{b}: has outputs (run python -m ccalab.course.nbtools {b})")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
