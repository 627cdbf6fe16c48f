import pytest

from ccalab.arch.gpt.cache import GPCCache


def test_invalidate_range_drops_only_overlapping_entries():
    c = GPCCache(12, 30, 16)
    c.tags[0, 1] = 0x80001  # granule 0x80001000
    c.tags[0, 2] = 0x80002
    c.tags[1, 0] = 0x80000000 >> 21  # 2MB block at 0x80000000
    c.tags[4, 3] = 3  # L0 region 3GB..4GB
    assert c.invalidate_range(0x80001000, 4096) == 2  # the granule and the 2MB block holding it
    assert {(b, s) for b, s, _, _ in c.entries()} == {(0x80002000, 4096), (3 << 30, 1 << 30)}
    assert c.invalidate_all() == 2 and c.entries() == []


def test_sets_must_be_a_power_of_two():
    with pytest.raises(ValueError):
        GPCCache(12, 30, 100)
