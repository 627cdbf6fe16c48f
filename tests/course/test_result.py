from ccalab.course.result import CheckResult


def test_result_text_and_html_say_pass_or_fail_and_list_problems():
    ok = CheckResult(True, seed=3)
    bad = CheckResult(False, ["overlap <here>"], [(False, "probe")], seed=4)
    assert str(ok).startswith("PASSED (seed 3)") and repr(bad).startswith("NOT YET (seed 4): 1 problem")
    assert "&lt;here&gt;" in bad._repr_html_() and "#cf222e" in bad._repr_html_() and "#1a7f37" in ok._repr_html_()
    assert bool(ok) and not bool(bad)


def test_learner_line_points_at_the_learners_code_not_ccalab():
    from ccalab.course.result import learner_line

    def build():
        raise ValueError("oops")

    try:
        build()
    except ValueError as exc:
        assert "of build" in learner_line(exc) and 'raise ValueError("oops")' in learner_line(exc)
