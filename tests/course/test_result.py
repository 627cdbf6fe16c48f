from ccalab.course.result import CheckResult


def test_result_text_and_html_say_pass_or_fail_and_list_problems():
    ok = CheckResult(True, seed=3)
    bad = CheckResult(False, ["overlap <here>"], [(False, "probe")], seed=4)
    assert str(ok).startswith("PASSED (seed 3)") and repr(bad).startswith("NOT YET (seed 4): 1 problem")
    assert "&lt;here&gt;" in bad._repr_html_() and "#cf222e" in bad._repr_html_() and "#1a7f37" in ok._repr_html_()
    assert bool(ok) and not bool(bad)
