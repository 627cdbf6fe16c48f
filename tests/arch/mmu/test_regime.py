import pytest

from ccalab.arch.mmu.regime import s2_consistent, start_level


@pytest.mark.parametrize("ia,level", [(48, 0), (39, 1), (30, 2), (25, 2), (21, 3)])
def test_stage1_start_level(ia, level):
    assert start_level(ia) == level


@pytest.mark.parametrize("ia,level,pa,ok", [
    (40, 1, 48, True), (42, 1, 48, True), (44, 1, 48, False), (48, 0, 48, True), (48, 0, 40, False),
    (30, 2, 48, True), (39, 2, 48, False), (31, 1, 48, True), (30, 1, 48, False),
])
def test_stage2_start_level_consistency(ia, level, pa, ok):
    assert s2_consistent(ia, level, pa) is ok
