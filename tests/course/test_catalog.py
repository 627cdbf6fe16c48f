"""The course map: every notebook is in it, and the start notebook shows the current one."""

import json
from pathlib import Path

from ccalab.course import catalog as cat
from ccalab.course import frontmatter

ROOT = Path(__file__).resolve().parents[2]


def _nb(path: Path, meta=None, cells=()):
    nb = {"cells": list(cells), "metadata": {"ccalab": meta} if meta is not None else {},
          "nbformat": 4, "nbformat_minor": 5}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))


def _meta(title, minutes=10, pre=()):
    return {"title": title, "level": "introductory", "minutes": minutes, "prerequisites": list(pre),
            "learn": [f"learn {title}"], "audience": "everyone"}


def test_catalog_finds_every_notebook_and_lab_of_the_repository():
    entries = cat.catalog()
    found = {e.path for e in entries}
    on_disk = {p.relative_to(ROOT).as_posix() for d in ("notebooks", "labs") for p in (ROOT / d).glob("*.ipynb")}
    assert found == on_disk
    assert entries[0].path == "notebooks/00-start-here.ipynb"
    assert {e.kind for e in entries} == {"notebook", "lab"}


def test_every_notebook_and_lab_has_complete_front_matter():
    entries = cat.catalog(ROOT)
    assert cat.problems(entries) == {}
    for e in entries:
        assert set(frontmatter.REQUIRED_KEYS) <= set(frontmatter.read(ROOT / e.path)), e.path


def test_prerequisites_that_name_files_name_files_of_the_course():
    entries = cat.catalog(ROOT)
    paths = {e.path for e in entries}
    for e in entries:
        for p in e.prerequisites:
            if p.endswith(".ipynb"):
                assert p in paths, f"{e.path}: prerequisite {p} is not in the course"


def test_start_here_holds_the_current_course_map():
    assert cat.current_map() == cat.expected_map(), (
        "the course map in notebooks/00-start-here.ipynb is stale: run python -m ccalab.course.catalog")


def test_catalog_of_a_folder_reports_missing_keys_and_orders_by_number(tmp_path):
    _nb(tmp_path / "notebooks" / "02-b.ipynb", _meta("B", 20, ["notebooks/01-a.ipynb"]))
    _nb(tmp_path / "notebooks" / "01-a.ipynb", _meta("A", 50))
    _nb(tmp_path / "labs" / "01-a-lab.ipynb", _meta("Lab A", 15, ["notebooks/01-a.ipynb"]))
    _nb(tmp_path / "labs" / "03-bad.ipynb", {"title": "Bad"})
    entries = cat.catalog(tmp_path)
    assert [e.path for e in entries] == ["notebooks/01-a.ipynb", "labs/01-a-lab.ipynb", "notebooks/02-b.ipynb",
                                         "labs/03-bad.ipynb"]
    assert entries[1].exercise == "lab01-a-lab" and entries[0].exercise is None
    probs = cat.problems(entries)
    assert list(probs) == ["labs/03-bad.ipynb"] and any("minutes" in p for p in probs["labs/03-bad.ipynb"])


def test_markdown_map_links_relative_to_where_it_is_shown(tmp_path):
    _nb(tmp_path / "notebooks" / "01-a.ipynb", _meta("A", 50))
    _nb(tmp_path / "labs" / "01-a-lab.ipynb", _meta("Lab | A", 15, ["notebooks/01-a.ipynb"]))
    entries = cat.catalog(tmp_path)
    md = cat.course_map_markdown(entries, base="notebooks")
    assert "[A](01-a.ipynb)" in md and "[Lab \\| A](../labs/01-a-lab.ipynb)" in md
    assert "1 notebook and 1 lab, about 1 h 05 min in all" in md
    top = cat.course_map_markdown(entries)
    assert "(notebooks/01-a.ipynb)" in top and "(labs/01-a-lab.ipynb)" in top


def test_text_map_names_every_entry_and_the_total(tmp_path):
    _nb(tmp_path / "notebooks" / "01-a.ipynb", _meta("A", 50))
    _nb(tmp_path / "labs" / "01-a-lab.ipynb", _meta("Lab A", 15, ["notebooks/01-a.ipynb"]))
    text = cat.course_map_text(cat.catalog(tmp_path))
    assert "A  [notebook" in text and "open: labs/01-a-lab.ipynb" in text and "before this: A" in text
    assert "about 1 h 05 min" in text


def test_update_start_here_rewrites_only_between_the_markers(tmp_path):
    cell = {"cell_type": "markdown", "id": "m", "metadata": {},
            "source": ["Before\n", f"{cat.START_MARKER}\nold map\n{cat.END_MARKER}\n", "After"]}
    _nb(tmp_path / "notebooks" / "00-start-here.ipynb", _meta("Start", 5), [cell])
    _nb(tmp_path / "notebooks" / "01-a.ipynb", _meta("A", 50))
    assert cat.current_map(root=tmp_path) == "old map\n"
    assert cat.update_start_here(root=tmp_path) is True
    assert cat.current_map(root=tmp_path) == cat.expected_map(root=tmp_path)
    src = "".join(json.loads((tmp_path / "notebooks" / "00-start-here.ipynb").read_text())["cells"][0]["source"])
    assert src.startswith("Before\n") and src.endswith("After") and "[A](01-a.ipynb)" in src
    assert cat.update_start_here(root=tmp_path) is False


def test_course_root_falls_back_to_a_course_folder_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "labs").mkdir()
    assert cat.course_root(tmp_path) == tmp_path.resolve()
    monkeypatch.setenv("CCALAB_COURSE", str(tmp_path))
    assert cat.course_root() == tmp_path.resolve()
