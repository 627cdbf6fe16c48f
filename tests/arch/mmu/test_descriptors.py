import pytest

from ccalab.arch.mmu.descriptors import describe, s1_leaf, s2_leaf, table


def test_descriptor_bits():
    d = s1_leaf(0x8000_0000, 3, ap=1, uxn=True, ns=True)
    assert d & 3 == 3 and (d >> 6) & 3 == 1 and (d >> 54) & 1 and (d >> 5) & 1 and (d >> 10) & 1
    b = s2_leaf(0x4000_0000, 1, read=True, write=False, xn=2, ns=True)
    assert b & 3 == 1 and (b >> 6) & 3 == 1 and (b >> 53) & 3 == 2 and (b >> 55) & 1
    t = table(0x1000, ns_table=True, ap_table=2)
    assert t & 3 == 3 and t >> 63 and (t >> 61) & 3 == 2
    assert "page" in describe(d, 3) and "1GB block" in describe(b, 1, stage=2) and "table" in describe(t, 0)


def test_bad_descriptors_are_refused():
    with pytest.raises(ValueError):
        s1_leaf(0x1000, 2)  # not 2MB aligned
    with pytest.raises(ValueError):
        s1_leaf(0, 0)  # no level-0 blocks without LPA2
    with pytest.raises(ValueError):
        table(0x1001)
