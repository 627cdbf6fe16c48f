import pytest

from ccalab import PAS, ExternalAbort, GranuleProtectionFault
from ccalab.arch.gpt import GPCFault, GPCFaultKind
from ccalab.arch.memory import BusError


def test_granule_protection_fault_exposes_the_fault_details():
    f = GPCFault(GPCFaultKind.FAIL, 1, 0x1000, PAS.NONSECURE, 11)
    e = GranuleProtectionFault(f)
    assert (e.kind, e.level, e.gpcsc, e.pa, e.pas, e.gpi) == (GPCFaultKind.FAIL, 1, 0x0D, 0x1000, PAS.NONSECURE, 11)
    assert str(e) == f.explain()
    with pytest.raises(AttributeError):
        e.nonexistent


def test_external_abort_is_a_bus_error():
    assert issubclass(ExternalAbort, BusError)
