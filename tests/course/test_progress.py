"""The progress store: attempts recorded atomically, merged on import, and never lost to a bad file."""

import json
import os
import warnings

import pytest

from ccalab.course import progress
from ccalab.course.progress import ProgressStore, ProgressWarning


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CCALAB_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_default_store_lives_under_ccalab_home(home):
    assert progress.default_path() == home / "progress.json"
    assert progress.store().path == home / "progress.json"


def test_default_home_is_dot_ccalab(monkeypatch, tmp_path):
    monkeypatch.delenv("CCALAB_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert progress.default_path() == tmp_path / ".ccalab" / "progress.json"


def test_record_keeps_exercise_seed_result_and_time(home):
    a = progress.record("lab01-pas-layout", 3, False)
    b = progress.record("lab01-pas-layout", 3, True)
    got = progress.store().attempts()
    assert [(x.exercise, x.seed, x.passed) for x in got] == [("lab01-pas-layout", 3, False),
                                                             ("lab01-pas-layout", 3, True)]
    assert got[0].timestamp <= got[1].timestamp and a.id != b.id
    s = progress.summary()["lab01-pas-layout"]
    assert (s.attempts, s.passes, s.completed, s.seeds_passed) == (2, 1, True, (3,))
    assert s.first_passed == b.timestamp


def test_the_store_is_a_file_that_a_new_process_reads(home):
    progress.record("lab01-pas-layout", 1, True)
    data = json.loads((home / "progress.json").read_text())
    assert data["format"] == "ccalab-progress" and len(data["attempts"]) == 1
    assert ProgressStore(home / "progress.json").summary()["lab01-pas-layout"].completed  # a "restarted kernel"


def test_writes_are_atomic_and_leave_no_temporary_files(home, monkeypatch):
    progress.record("e", 0, False)
    before = (home / "progress.json").read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        progress.record("e", 1, True)
    monkeypatch.undo()
    assert (home / "progress.json").read_text() == before
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []


def test_export_then_import_into_a_fresh_home_restores_everything(home, tmp_path, monkeypatch):
    progress.record("lab01-pas-layout", 0, False)
    progress.record("lab01-pas-layout", 0, True)
    out = progress.export(tmp_path / "mine.json")
    monkeypatch.setenv("CCALAB_HOME", str(tmp_path / "other"))
    assert progress.summary() == {}
    assert progress.import_(out) == 2
    assert progress.summary()["lab01-pas-layout"].passes == 1


def test_import_merges_and_never_loses_or_duplicates(home, tmp_path):
    a = ProgressStore(tmp_path / "a.json")
    b = ProgressStore(tmp_path / "b.json")
    a.record("x", 1, False)
    b.record("y", 2, True)
    shared = a.record("z", 3, True)
    b.import_(a.export(tmp_path / "a-export.json"))
    assert a.import_(b.export(tmp_path / "b-export.json")) == 1  # only y was new
    assert a.import_(tmp_path / "b-export.json") == 0  # importing twice changes nothing
    ids = [x.id for x in a.attempts()]
    assert len(ids) == len(set(ids)) == 3 and shared.id in ids
    assert {x.exercise for x in a.attempts()} == {"x", "y", "z"}


def test_import_of_a_non_export_is_refused_and_changes_nothing(home, tmp_path):
    st = progress.store()
    st.record("x", 1, True)
    before = st.path.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a ccalab progress export"):
        st.import_(bad)
    bad.write_text("not json at all")
    with pytest.raises(ValueError, match="not a ccalab progress export"):
        st.import_(bad)
    assert st.path.read_text() == before
    assert bad.read_text() == "not json at all"


def test_a_corrupted_store_is_kept_aside_with_a_warning_and_a_fresh_one_starts(home):
    home.mkdir()
    (home / "progress.json").write_text('{"format": "ccalab-progress", "attempts": [tru')
    (home / "notes.txt").write_text("mine")
    st = progress.store()
    with pytest.warns(ProgressWarning, match="could not be read"):
        assert st.attempts() == []
    aside = [p for p in home.iterdir() if p.name.startswith("progress.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_text().endswith("[tru")
    assert not (home / "progress.json").exists() and (home / "notes.txt").read_text() == "mine"
    assert st.notices and aside[0].name in st.notices[0]
    st.record("x", 0, True)  # a fresh start works
    assert [a.exercise for a in st.attempts()] == ["x"]


def test_malformed_entries_are_dropped_and_the_good_ones_kept(home):
    st = progress.store()
    good = st.record("x", 0, True)
    data = json.loads(st.path.read_text())
    data["attempts"].append({"exercise": "y", "seed": "nope", "passed": True, "timestamp": "now"})
    st.path.write_text(json.dumps(data))
    with pytest.warns(ProgressWarning, match="malformed"):
        assert [a.id for a in st.attempts()] == [good.id]
    assert any(p.name.startswith("progress.json.corrupt-") for p in home.iterdir())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [a.id for a in st.attempts()] == [good.id]  # the store was repaired


def test_safe_record_never_raises(home, monkeypatch):
    home.mkdir()
    (home / "progress.json").mkdir()  # a folder where the file should be: unreadable store
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert progress.safe_record("x", 0, True) is None
    assert progress.safe_record("x", object(), True) is None


def test_recorded_decorator_records_each_result(home):
    class R:
        passed, seed = True, 7

    @progress.recorded("demo")
    def checker():
        return R()

    assert isinstance(checker(), R) and checker.exercise == "demo"
    assert progress.summary()["demo"].seeds_passed == (7,)


def test_reset_keeps_the_old_file_aside(home):
    st = progress.store()
    st.record("x", 0, True)
    aside = st.reset()
    assert aside.exists() and aside.name.startswith("progress.json.reset-")
    assert st.attempts() == [] and st.reset() is None


def test_record_rejects_a_missing_exercise_id(home):
    with pytest.raises(ValueError):
        progress.record("", 0, True)


def test_progress_text_lists_exercises_without_attempts(home):
    progress.record("lab01-pas-layout", 0, True)
    text = progress.store().text(["lab02-other", "lab01-pas-layout"])
    assert "lab02-other" in text and "not yet" in text and "yes" in text
    assert "no attempts" in progress.progress_text({})


def test_lab01_check_records_an_attempt(home):
    from ccalab.course import lab01

    res = lab01.check([], seed=2)
    assert not res.passed
    (a,) = progress.store().attempts("lab01-pas-layout")
    assert (a.seed, a.passed) == (2, False)


def test_lab01_check_works_when_the_store_is_broken(home):
    from ccalab.course import lab01

    home.mkdir()
    (home / "progress.json").mkdir()  # the store cannot be read or written
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = lab01.check([], seed=0)
    assert not res.passed and "NOT YET" in str(res)


def _record_many(path, n):
    from ccalab.course.progress import ProgressStore

    st = ProgressStore(path)
    for i in range(n):
        st.record("race", i, i % 2 == 0)


def test_concurrent_writers_lose_nothing(tmp_path):
    import multiprocessing as mp

    path = tmp_path / "progress.json"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(path, 10)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(ProgressStore(path).attempts()) == 40
