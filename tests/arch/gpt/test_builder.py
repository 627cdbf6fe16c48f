import pytest

from ccalab import GPI
from ccalab.arch.gpt.builder import PASRegion, validate_regions
from ccalab.arch.gpt.config import GPCConfig
from ccalab.arch.sysreg import GPCCR_EL3

CFG = GPCConfig.from_registers(GPCCR_EL3.encode(PPS=2, SH=3, IRGN=1, ORGN=1, GPC=1), 0, 48)


def test_regions_must_be_aligned_and_disjoint():
    with pytest.raises(ValueError, match="aligned"):
        validate_regions(CFG, [PASRegion("a", 0x8000_0800, 4096, GPI.REALM)])
    with pytest.raises(ValueError, match="overlap"):
        validate_regions(CFG, [PASRegion("a", 0x8000_0000, 8192, GPI.REALM), PASRegion("b", 0x8000_1000, 4096, GPI.ROOT)])
    with pytest.raises(ValueError, match="protected PA size"):
        validate_regions(CFG, [PASRegion("a", (1 << 40) - 4096, 8192, GPI.REALM)])
    with pytest.raises(ValueError, match="L0 region size"):
        validate_regions(CFG, [PASRegion("a", 0x8000_0000, 1 << 20, GPI.REALM, "block")])
    with pytest.raises(ValueError, match="overlap|shares L0"):
        validate_regions(CFG, [PASRegion("a", 0, 1 << 30, GPI.ANY, "block"), PASRegion("b", 0x1000, 4096, GPI.ROOT)])
    with pytest.raises(ValueError, match="mapping"):
        PASRegion("a", 0, 4096, GPI.ROOT, "page")


def test_regions_not_aligned_to_l1_words_are_painted_granule_by_granule():
    from ccalab.arch.gpt.builder import l1_words_for
    from ccalab.arch.gpt.descriptors import decode_l1

    regions = [PASRegion("ns", 0x8000_0000, 0x3000, GPI.NONSECURE), PASRegion("r", 0x8000_3000, 0x11000, GPI.REALM),
               PASRegion("root", 0x8001_4000, 0x1000, GPI.ROOT)]
    words = l1_words_for(CFG, 2, regions)
    gpis = [g for w in words[:2] for g in decode_l1(int(w) & (2**64 - 1)).gpis]
    assert gpis[:3] == [GPI.NONSECURE] * 3 and gpis[3:20] == [GPI.REALM] * 17 and gpis[20] == GPI.ROOT
    assert gpis[21:] == [GPI.ANY] * 11
