"""The progress widget, driven without a browser."""

import datetime
import json

import ipywidgets as W
import pytest

from ccalab.course.progress import ProgressStore
from ccalab.widgets.progress import ProgressWidget


@pytest.fixture
def store(tmp_path):
    return ProgressStore(tmp_path / "home" / "progress.json")


@pytest.fixture
def w(store, tmp_path):
    return ProgressWidget(store, exercises=[("lab01-pas-layout", "Lab 01")], export_dir=tmp_path / "out")


def test_ui_is_one_root_widget_with_described_controls(w):
    assert isinstance(w.ui, W.VBox) and hasattr(w, "_ipython_display_")
    for b in (w.refresh_button, w.export_button, w.reset_button, w.confirm_button, w.cancel_button):
        assert b.description and b.tooltip
    assert isinstance(w.upload, W.FileUpload) and w.upload.accept == ".json"
    assert not w.confirming


def test_table_lists_known_exercises_before_any_attempt(w):
    assert w.rows() == [("lab01-pas-layout", "Lab 01", 0, 0, False)]
    assert "Lab 01" in w.table.value and "not yet" in w.table.value


def test_refresh_shows_attempts_and_completion(w, store):
    store.record("lab01-pas-layout", 0, False)
    store.record("lab01-pas-layout", 0, True)
    store.record("lab02-extra", 4, False)
    rows = w.refresh()
    assert rows == [("lab01-pas-layout", "Lab 01", 2, 1, True), ("lab02-extra", "lab02-extra", 1, 0, False)]
    assert "completed" in w.table.value and "lab02-extra" in w.table.value


def test_export_writes_a_file_and_a_download_link(w, store):
    store.record("lab01-pas-layout", 0, True)
    out = w.export()
    assert out.exists() and json.loads(out.read_text())["attempts"][0]["passed"] is True
    assert "data:application/json;base64," in w.export_link.value and "download=" in w.export_link.value
    assert "Exported" in w.message.value


def test_import_by_upload_merges(w, store, tmp_path):
    other = ProgressStore(tmp_path / "other.json")
    other.record("lab01-pas-layout", 5, True)
    data = other.export(tmp_path / "x.json").read_bytes()
    w.upload.value = ({"name": "x.json", "type": "application/json", "size": len(data),
                       "content": memoryview(data),
                       "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert store.summary()["lab01-pas-layout"].completed
    assert "Imported 1 new attempt" in w.message.value
    assert w.rows()[0][2] == 1 and w.upload.value == ()
    assert w.import_bytes(data, "x.json") == 0  # again: nothing new, nothing duplicated


def test_import_of_a_bad_file_says_so_and_changes_nothing(w, store):
    store.record("lab01-pas-layout", 0, False)
    before = store.path.read_text()
    assert w.import_bytes(b"\xff\xfe garbage", "bad.json") is None
    assert "Nothing was imported" in w.message.value
    assert w.import_bytes(b'{"x": 1}', "bad.json") is None
    assert store.path.read_text() == before


def test_reset_needs_confirmation(w, store):
    store.record("lab01-pas-layout", 0, True)
    w.reset_button.click()
    assert w.confirming and store.attempts()  # nothing erased yet
    w.cancel_button.click()
    assert not w.confirming and store.attempts() and "cancelled" in w.message.value
    w.request_reset()
    aside = w.confirm_reset()
    assert not w.confirming and store.attempts() == [] and aside.exists()
    assert w.rows() == [("lab01-pas-layout", "Lab 01", 0, 0, False)]


def test_a_corrupted_store_is_reported_in_the_panel(store, tmp_path):
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{broken")
    w = ProgressWidget(store, exercises=[])
    assert "could not be read" in w.message.value and w.rows() == []


def test_default_widget_lists_the_course_labs(monkeypatch, tmp_path):
    monkeypatch.setenv("CCALAB_HOME", str(tmp_path))
    w = ProgressWidget()
    assert w.store.path == tmp_path / "progress.json"
    assert "lab01-pas-layout" in [r[0] for r in w.rows()]
