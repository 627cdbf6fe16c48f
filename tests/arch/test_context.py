import pytest

from ccalab import Platform
from ccalab.arch.context import C_NREG, C_REG, C_T, MAX_REGIONS, new_context


def test_context_holds_the_regions_and_the_gpc_configuration():
    p = Platform(dram_size=4 << 30)
    assert p.ctx[C_NREG] == len(p.memory.backed_lo)
    assert list(p.ctx[C_REG:C_REG + 2 * p.ctx[C_NREG]:2]) == list(p.memory.backed_lo)
    assert p.ctx[C_T] == 40
    assert p.gpc_cache.tags.base is not None  # a view into the context, not a copy
    p.gpc_cache.tags[0, 0] = 1234
    assert 1234 in p.ctx


def test_too_many_regions_are_refused():
    with pytest.raises(ValueError):
        new_context(list(range(MAX_REGIONS + 1)), list(range(MAX_REGIONS + 1)), 48, 4)
