from ccalab.course import lab01, lab02
from ccalab.course.hints import Hint, pick_hint


def test_hints_are_numbered_from_one_and_bad_numbers_get_advice():
    assert pick_hint(("a", "b"), 2) == "b" and isinstance(pick_hint(("a",), 1), Hint)
    assert "hints 1 to 2" in pick_hint(("a", "b"), 3) and "hints 1 to 2" in pick_hint(("a", "b"), True)
    assert pick_hint(("a",), 1)._repr_markdown_() == "**Hint:** a"
    assert lab01.hint(1) and lab02.hint(1) and "try hint(1)" in lab02.hint(99)
