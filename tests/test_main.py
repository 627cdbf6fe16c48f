from ccalab.__main__ import main


def test_cli_warmup_and_bad_input(capsys):
    assert main(["warmup"]) == 0
    assert "kernels ready" in capsys.readouterr().out
    assert main(["gpt", "--dram", "1X"]) == 2


def test_cli_course_prints_the_course_map(capsys):
    assert main(["course"]) == 0
    out = capsys.readouterr().out
    assert "labs/01-pas-layout.ipynb" in out and "In total" in out
    assert main(["course", "--markdown"]) == 0
    assert "| # | Notebook |" in capsys.readouterr().out


def test_cli_course_in_an_empty_folder_fails(tmp_path, capsys):
    assert main(["course", "--root", str(tmp_path)]) == 1


def test_cli_progress_show_export_import(tmp_path, monkeypatch, capsys):
    from ccalab.course import progress

    monkeypatch.setenv("CCALAB_HOME", str(tmp_path / "a"))
    progress.record("lab01-pas-layout", 0, True)
    assert main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "lab01-pas-layout" in out and "yes" in out
    f = tmp_path / "p.json"
    assert main(["progress", "--export", str(f)]) == 0 and f.exists()
    monkeypatch.setenv("CCALAB_HOME", str(tmp_path / "b"))
    assert main(["progress", "--import", str(f)]) == 0
    assert "imported 1 new attempt" in capsys.readouterr().out
    assert progress.summary()["lab01-pas-layout"].completed
    (tmp_path / "bad.json").write_text("nope")
    assert main(["progress", "--import", str(tmp_path / "bad.json")]) == 2
    assert "not a ccalab progress export" in capsys.readouterr().err
