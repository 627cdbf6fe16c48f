import pytest

from ccalab import PAS
from ccalab.arch.gpt import GPCFault, GPCFaultKind, report


def fault(kind, level=1):
    return GPCFault(kind, level, 0x8012_3000, PAS.NONSECURE, 0b1011)


@pytest.mark.parametrize("kind,gpcsc", [(GPCFaultKind.ADDRESS_SIZE, 0x01), (GPCFaultKind.WALK, 0x05),
                                        (GPCFaultKind.FAIL, 0x0D), (GPCFaultKind.EABT, 0x15)])
def test_gpcsc_encoding(kind, gpcsc):
    assert fault(kind).gpcsc == gpcsc and fault(kind, 0).gpcsc == gpcsc & ~1


@pytest.mark.parametrize("kind", [GPCFaultKind.WALK, GPCFaultKind.ADDRESS_SIZE, GPCFaultKind.EABT])
@pytest.mark.parametrize("el", [0, 1, 2, 3])
def test_non_fail_classes_always_go_to_el3(kind, el):
    r = report(fault(kind), el)
    assert r.target_el == 3 and r.ec == 0x1E and (r.esr >> 14) & 0x3F == fault(kind).gpcsc


@pytest.mark.parametrize("el,kw,target,ec", [
    (3, {}, 3, 0x25), (2, {}, 2, 0x25), (1, {}, 1, 0x25), (0, {}, 1, 0x24),
    (1, {"hcr_tge": True}, 2, 0x24), (1, {"hcr_gpf": True}, 2, 0x24), (1, {"stage2_walk": True}, 2, 0x24),
    (1, {"scr_gpf": True}, 3, 0x1E), (2, {"scr_gpf": True}, 3, 0x1E), (3, {"scr_gpf": True}, 3, 0x25),
])
def test_fail_routing(el, kw, target, ec):
    r = report(fault(GPCFaultKind.FAIL), el, **kw)
    assert (r.target_el, r.ec) == (target, ec)


def test_fsc_for_output_and_walk():
    assert report(fault(GPCFaultKind.FAIL), 1).fsc == 0x28
    assert report(fault(GPCFaultKind.FAIL), 1, on_walk_level=2).fsc == 0b100110
    assert report(fault(GPCFaultKind.FAIL), 1, on_walk_level=-1).fsc == 0b100011


def test_mfar_records_pa_and_pas():
    f = GPCFault(GPCFaultKind.FAIL, 1, 0x8012_3456, PAS.REALM, 9)
    assert f.mfar == 0x8012_3000 | (1 << 63) | (1 << 62)


def test_explanations_name_the_reason():
    assert "admits only Realm" in fault(GPCFaultKind.FAIL).explain()
    assert "malformed" in fault(GPCFaultKind.WALK).explain()
    with pytest.raises(ValueError):
        report(fault(GPCFaultKind.FAIL), 4)
