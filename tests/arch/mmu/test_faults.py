import pytest

from ccalab.arch.mmu.faults import FaultKind, TranslationFault, fsc, pack


@pytest.mark.parametrize("kind,level,code", [
    (FaultKind.TRANSLATION, 3, 0x07), (FaultKind.ADDRESS_SIZE, 0, 0x00), (FaultKind.ACCESS_FLAG, 2, 0x0A),
    (FaultKind.PERMISSION, 1, 0x0D), (FaultKind.GPF_ON_WALK, 2, 0b100110),
    (FaultKind.EXTERNAL_ABORT_ON_WALK, 1, 0x15), (FaultKind.EXTERNAL_ABORT, -1, 0x10),
])
def test_fault_status_codes(kind, level, code):
    assert fsc(kind, level) == code


def test_pack_and_unpack_round_trip_and_routing():
    w = pack(FaultKind.TRANSLATION, 2, True, True)
    f = TranslationFault.unpack(w, va=0x1000, ipa=0x2000)
    assert (f.kind, f.stage, f.level, f.s1ptw, f.target_el) == (FaultKind.TRANSLATION, 2, 2, True, 2)
    assert "S1PTW" in f.explain()
    g = TranslationFault.unpack(pack(FaultKind.GPF_ON_OUTPUT, -1, False, False, 0x0D, on_output=True))
    assert g.fsc == 0x28 and g.gpcsc == 0x0D and g.target_el == 1
    h = TranslationFault.unpack(pack(FaultKind.GPC_EXCEPTION, 1, False, False, 0x05))
    assert h.target_el == 3
    assert TranslationFault.unpack(pack(FaultKind.PERMISSION, 3, False, False), tge=True).target_el == 2
