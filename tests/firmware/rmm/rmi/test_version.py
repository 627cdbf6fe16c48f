import pytest

from ccalab.firmware.rmm import RmiFid, RmiStatus, spec
from ccalab.firmware.rmm.rmi.version import RMI_ABI_VERSION, rmi_version_encode


def test_version_1_0_is_0x10000():
    assert RMI_ABI_VERSION == rmi_version_encode(1, 0) == 0x10000


def test_requesting_1_0_succeeds_and_reports_1_0_as_lower_and_higher(p):
    assert p.smc(RmiFid.RMI_VERSION, 0x10000) == (RmiStatus.SUCCESS, 0x10000, 0x10000)
    p.rmm.granules.check_invariants()


@pytest.mark.parametrize("req", [0, 0x10001, 0x20000, 0x0001_0000 | (1 << 31), 0x1_0001_0000, (1 << 64) - 1])
def test_any_other_request_is_error_input_with_the_implemented_range(p, req):
    assert p.smc(RmiFid.RMI_VERSION, req) == (RmiStatus.ERROR_INPUT, 0x10000, 0x10000)
    p.rmm.granules.check_invariants()


def test_version_has_no_labelled_failure_conditions():
    assert spec.FAILURE_CONDITIONS["RMI_VERSION"] == ()
