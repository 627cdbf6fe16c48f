import pytest

from ccalab.arch.sysreg import GPCCR_EL3, GPTBR_EL3, LAYOUTS, MFAR_EL3


def test_gpccr_field_positions_are_architectural():
    v = GPCCR_EL3.encode(PPS=2, IRGN=1, ORGN=1, SH=3, PGS=0, GPC=1, L0GPTSZ=0)
    assert v == 0x13502
    assert GPCCR_EL3.decode(v)["SH"] == 3
    assert GPCCR_EL3.encode(PGS=2) == 2 << 14 and GPCCR_EL3.encode(L0GPTSZ=9) == 9 << 20


def test_encode_rejects_unknown_fields_and_overflow():
    with pytest.raises(ValueError, match="no field"):
        GPCCR_EL3.encode(FOO=1)
    with pytest.raises(ValueError, match="does not fit"):
        GPCCR_EL3.encode(PPS=8)


def test_replace_changes_only_the_named_field():
    v = GPCCR_EL3.encode(PPS=2, GPC=1, SH=3)
    assert GPCCR_EL3.replace(v, GPC=0) == GPCCR_EL3.encode(PPS=2, SH=3)


def test_describe_names_every_field():
    text = GPCCR_EL3.describe(0x13502)
    for f in GPCCR_EL3.fields:
        assert f.name in text
    assert "4KB" in text and "Inner Shareable" in text


def test_gptbr_and_mfar_layouts():
    assert GPTBR_EL3.encode(BADDR=0xFFF00) == 0xFFF00
    assert MFAR_EL3.encode(FPA=0x80123, NS=1, NSE=1) == (0x80123 << 12) | (1 << 63) | (1 << 62)
    assert set(LAYOUTS) >= {"GPCCR_EL3", "GPTBR_EL3", "SCR_EL3", "MFAR_EL3"}
