"""ccalab.course.release: the learner version of a lab carries no solution and still runs."""

import json
from pathlib import Path

import pytest

from ccalab.__main__ import main
from ccalab.course import release as rel

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "labs" / "01-pas-layout.ipynb"
SOLUTION = ROOT / "labs" / "solutions" / "01-pas-layout.py"


def _nb(*cells, **meta):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}, **meta},
            "cells": list(cells)}


def _code(src, tags=(), outputs=None):
    return {"cell_type": "code", "id": f"c{abs(hash(src)) % 10**6}", "metadata": {"tags": list(tags)} if tags else {},
            "execution_count": 3 if outputs else None, "outputs": outputs or [], "source": src}


def _md(src):
    return {"cell_type": "markdown", "id": f"m{abs(hash(src)) % 10**6}", "metadata": {}, "source": src}


def _src(cell):
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


def _write(tmp_path, nb, name="src.ipynb"):
    p = tmp_path / name
    p.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return p


ANSWER = "regions = solve_it_all(SEED)"


def test_solution_region_becomes_the_nbgrader_stub(tmp_path):
    src = _write(tmp_path, _nb(_code("def f(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n")))
    out = json.loads(rel.release(src, tmp_path / "out.ipynb").read_text())
    assert _src(out["cells"][0]) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def test_a_starter_cell_keeps_its_starter_and_loses_the_region(tmp_path):
    cell = _code(f"regions = []  # start here\n### BEGIN SOLUTION\n{ANSWER}\n### END SOLUTION", tags=["starter"])
    out = rel.release_notebook(_nb(cell))
    assert _src(out["cells"][0]) == "regions = []  # start here"
    assert out["cells"][0]["metadata"]["tags"] == ["starter"]
    # Without the tag the same cell gets nbgrader's stub after the code outside the markers.
    cell["metadata"] = {}
    out = rel.release_notebook(_nb(cell))
    assert _src(out["cells"][0]) == "regions = []  # start here\n# YOUR CODE HERE\nraise NotImplementedError()"


def test_markdown_solution_blocks_are_removed():
    nb = _nb(_md("Why must the GPT be Root?\n\n<!-- BEGIN SOLUTION -->\nBecause only EL3 may change it.\n"
                 "<!-- END SOLUTION -->\n\nNext question."),
             _md("<!-- BEGIN SOLUTION -->\nInstructor note: the whole cell.\n<!-- END SOLUTION -->"),
             _md("Inline <!-- BEGIN SOLUTION -->secret<!-- END SOLUTION --> text."))
    out = rel.release_notebook(nb)
    texts = [_src(c) for c in out["cells"]]
    assert texts == ["Why must the GPT be Root?\n\nNext question.", "Inline  text."]
    assert not any("EL3 may change" in t or "secret" in t or "Instructor note" in t for t in texts)


def test_outputs_are_stripped_and_metadata_kept(tmp_path):
    out_cell = [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    nb = _nb(_code("print('hello')", tags=["check"], outputs=out_cell), ccalab={"title": "T", "minutes": 5},
             widgets={"application/vnd.jupyter.widget-state+json": {}})
    out = rel.release_notebook(nb)
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    assert out["cells"][0]["metadata"]["tags"] == ["check"]
    assert out["metadata"]["ccalab"] == {"title": "T", "minutes": 5}
    assert out["metadata"]["kernelspec"] == {"name": "python3"}
    assert "widgets" not in out["metadata"]
    assert rel.problems(out) == [] and rel.problems(nb)


def test_nbgrader_style_markers_anywhere_in_a_line():
    nb = _nb(_code("x = 1\n# BEGIN SOLUTION\nx = 42\n# END SOLUTION"),
             _md("Explain.\n### BEGIN SOLUTION\nThe answer.\n### END SOLUTION"))
    out = rel.release_notebook(nb)
    assert _src(out["cells"][0]) == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert _src(out["cells"][1]) == "Explain.\nYOUR ANSWER HERE"


@pytest.mark.parametrize("source", [
    "### BEGIN SOLUTION\nx = 1\n",
    "x = 1\n### END SOLUTION\n",
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n",
])
def test_unbalanced_markers_are_refused(source):
    with pytest.raises(rel.ReleaseError):
        rel.release_notebook(_nb(_code(source)))


def test_release_is_idempotent(tmp_path):
    once = rel.release(LAB, tmp_path / "once.ipynb")
    twice = rel.release(once, tmp_path / "twice.ipynb")
    assert once.read_text() == twice.read_text()
    mtime = once.stat().st_mtime_ns
    rel.release(LAB, once)  # unchanged output: the file is not rewritten
    assert once.stat().st_mtime_ns == mtime


def test_the_released_lab_has_no_solution_and_keeps_its_check(tmp_path):
    out = json.loads(rel.release(LAB, tmp_path).read_text())
    text = "\n".join(_src(c) for c in out["cells"])
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert rel.problems(out) == []
    # Nothing of the answer key reaches the learner version.
    key_lines = [ln.strip() for ln in SOLUTION.read_text().splitlines()
                 if any(w in ln for w in ("regions.append", "owner_gpi", "cur = ", "GPI.ROOT"))]
    assert len(key_lines) >= 4
    leaked = [ln for ln in key_lines if ln in text]
    assert not leaked, leaked
    assert "owner_gpi" not in text and "solutions" not in text
    checks = [c for c in out["cells"] if "check" in c["metadata"].get("tags", [])]
    assert len(checks) == 1 and "check(regions, seed=SEED)" in _src(checks[0])
    starter = [c for c in out["cells"] if "solution" in c["metadata"].get("tags", [])]
    assert len(starter) == 1 and "regions = [" in _src(starter[0])
    assert out["metadata"]["ccalab"] == json.loads(LAB.read_text())["metadata"]["ccalab"]


@pytest.mark.notebook
def test_the_released_lab_runs_to_a_failing_check(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out = rel.release(LAB, tmp_path / LAB.name)
    nb = nbformat.read(out, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert not any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    (check,) = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in check.outputs)
    assert "NOT YET" in text, text


def test_release_tree_skips_the_solutions_folder(tmp_path):
    written = rel.release_tree(ROOT / "labs", tmp_path / "labs")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "labs").glob("*.ipynb"))]
    assert not (tmp_path / "labs" / "solutions").exists()


def test_cli_release_file_and_folder(tmp_path, capsys):
    assert main(["release", str(LAB), str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / LAB.name).is_file()
    assert main(["release", str(ROOT / "labs"), str(tmp_path / "all")]) == 0
    assert (tmp_path / "all" / LAB.name).is_file() and not (tmp_path / "all" / "solutions").exists()
    assert "released" in capsys.readouterr().out
    assert main(["release", str(tmp_path / "missing.ipynb"), str(tmp_path / "x")]) == 2
    assert "missing.ipynb" in capsys.readouterr().err
