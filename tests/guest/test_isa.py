import pytest

from ccalab.guest import isa
from ccalab.guest.isa import (HEADER_NAME_MAX, MAGIC, OPS, AlignmentFault, GuestException, Op, SyncExternalAbort,
                              UndefinedInstruction, header, parse_header)


def test_header_is_the_magic_then_the_name_and_a_nul():
    assert header("hello") == MAGIC + b"hello\0"
    assert MAGIC.endswith(b"\0")


@pytest.mark.parametrize("name", ["a", "linux-boot", "x" * HEADER_NAME_MAX, "with space", "UPPER.case_9"])
def test_parse_header_reads_back_every_valid_name(name):
    assert parse_header(header(name)) == name


def test_parse_header_ignores_what_follows_the_name():
    page = (header("memtouch") + b"trailing image bytes\0more").ljust(4096, b"\xff")
    assert parse_header(page) == "memtouch"


@pytest.mark.parametrize("name", ["", "x" * (HEADER_NAME_MAX + 1), "nul\0inside"])
def test_header_refuses_empty_too_long_or_nul_names(name):
    with pytest.raises(ValueError, match="program name"):
        header(name)


def test_header_refuses_non_ascii_names():
    with pytest.raises(ValueError):
        header("réalm")


@pytest.mark.parametrize("page", [
    b"",
    b"\0" * 4096,  # a zeroed page: what DATA_CREATE_UNKNOWN gives
    MAGIC[:-1] + b"hello\0",  # magic without its NUL
    b"x" + MAGIC + b"hello\0",  # magic not at the start
    MAGIC + b"\0hello\0",  # empty name
    MAGIC + b"hello",  # no terminator
    MAGIC + b"y" * (HEADER_NAME_MAX + 1) + b"\0",  # name longer than a header holds
    MAGIC + b"caf\xe9\0",  # not ASCII
], ids=["empty", "zeros", "short-magic", "offset", "empty-name", "unterminated", "too-long", "non-ascii"])
def test_parse_header_returns_none_for_anything_that_is_not_a_boot_header(page):
    assert parse_header(page) is None


def test_parse_header_accepts_the_longest_name_exactly_at_the_limit():
    name = "z" * HEADER_NAME_MAX
    assert parse_header(MAGIC + name.encode() + b"\0" + b"junk") == name
    assert parse_header(MAGIC + name.encode() + b"z\0") is None


def test_ops_name_each_operation_kind_once():
    assert OPS == (isa.LOAD, isa.STORE, isa.READ, isa.WRITE, isa.TOUCH, isa.SMC, isa.HVC, isa.WFI)
    assert len(set(OPS)) == len(OPS)


def test_op_is_a_kind_and_its_operands():
    op = Op(isa.LOAD, (0x1000, 8))
    assert (op.kind, op.args) == ("load", (0x1000, 8))
    assert Op(isa.WFI).args == ()
    assert op == ("load", (0x1000, 8))


def test_guest_exceptions_are_what_the_realm_can_catch():
    for cls in (SyncExternalAbort, UndefinedInstruction, AlignmentFault):
        assert issubclass(cls, GuestException)
    assert not issubclass(GuestException, (ValueError, TypeError))


def test_sync_external_abort_carries_the_ipa_and_the_reason():
    exc = SyncExternalAbort(0x20_0000, "RIPAS EMPTY")
    assert (exc.ipa, exc.why) == (0x20_0000, "RIPAS EMPTY")
    assert str(exc) == "synchronous external abort at IPA 0x200000: RIPAS EMPTY"
