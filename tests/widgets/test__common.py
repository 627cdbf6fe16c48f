import pytest

from ccalab.widgets._common import box, parse_hex, pre


def test_parse_hex_accepts_what_learners_type_and_explains_the_rest():
    assert parse_hex("0x8000_0000") == 0x8000_0000 and parse_hex(" 80000000 ") == 0x8000_0000
    with pytest.raises(ValueError, match="Type a virtual address"):
        parse_hex("", "virtual address", "0x4000")
    with pytest.raises(ValueError, match="not a hex address"):
        parse_hex("0xZZ")


def test_pre_escapes_and_box_wraps():
    assert "&lt;b&gt;" in pre("<b>") and box("x", "color:red") == "<div style='color:red'>x</div>"
