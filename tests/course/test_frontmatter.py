"""Every notebook and lab carries learning-path front matter, in its metadata and its first cell."""

import json
from pathlib import Path

import pytest

from ccalab.course import frontmatter, nbtools

ROOT = Path(__file__).resolve().parents[2]
ALL = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
IDS = [p.relative_to(ROOT).as_posix() for p in ALL]


def test_there_are_notebooks_and_labs():
    assert any(p.parent.name == "notebooks" for p in ALL) and any(p.parent.name == "labs" for p in ALL)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_front_matter_has_every_key(path):
    meta = frontmatter.read(path)
    assert set(frontmatter.REQUIRED_KEYS) <= set(meta)
    assert frontmatter.problems(meta) == []


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_first_cell_shows_the_same_front_matter(path):
    nb = json.loads(path.read_text())
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown"
    assert "".join(first["source"]).startswith(frontmatter.to_markdown(frontmatter.read(path)).strip())


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_notebook_has_a_kernelspec(path):
    ks = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert ks["name"] == "python3" and ks["display_name"] == "Python 3"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_committed_notebook_has_no_outputs(path):
    assert not nbtools.has_outputs(json.loads(path.read_text())), \
        f"run: python -m ccalab.course.nbtools {path.relative_to(ROOT)}"


@pytest.mark.parametrize("path", [p for p in ALL if p.parent.name == "notebooks"],
                         ids=[i for i in IDS if i.startswith("notebooks")])
def test_assert_cells_are_hidden(path):
    nb = json.loads(path.read_text())
    asserts = [c for c in nb["cells"] if "assert" in c.get("metadata", {}).get("tags", [])]
    assert asserts, "the prose's claims are checked by hidden assert cells"
    for c in asserts:
        assert "hide-input" in c["metadata"]["tags"]
        assert c["metadata"]["jupyter"]["source_hidden"] is True


def test_first_code_cell_imports_and_warms_up():
    for path in ALL:
        nb = json.loads(path.read_text())
        first = next(c for c in nb["cells"] if c["cell_type"] == "code")
        assert "warmup()" in "".join(first["source"]), path


def test_read_returns_the_metadata(tmp_path):
    nb = {"cells": [], "metadata": {"ccalab": {"title": "T", "level": "introductory", "minutes": 5,
                                                "prerequisites": [], "learn": ["x"], "audience": "a"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert frontmatter.read(path)["title"] == "T"
    assert frontmatter.problems(frontmatter.read(path)) == []


def test_problems_name_missing_and_malformed_keys():
    out = frontmatter.problems({"title": "", "level": "expert", "minutes": "ten"})
    text = " ".join(out)
    for word in ("audience", "learn", "prerequisites", "title", "level", "minutes"):
        assert word in text


def test_read_of_a_notebook_without_front_matter_is_empty(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert frontmatter.read(path) == {}
