import pytest

from ccalab import Platform


@pytest.fixture
def p():
    """A small booted machine whose RMM checks its granule invariants after every command."""
    m = Platform(dram_size=256 << 20)
    m.rmm.debug = True
    return m


@pytest.fixture
def ns_granule(p):
    """A granule of Non-secure DRAM, well inside the host's region."""
    return p.ns_dram().base + (16 << 20)
