"""RSI function IDs and status codes (RMM 1.0 values)."""

import pytest

from ccalab.firmware.rmm.rsi import RSI_HANDLERS
from ccalab.firmware.rmm.rsi.status import (RIPAS_CHANGE_DESTROYED, RSI_ABI_VERSION, RSI_FID_FIRST, RSI_FID_LAST,
                                            RsiFid, RsiResponse, RsiStatus)


def test_rsi_function_ids_are_0x190_to_0x199_in_spec_order():
    names = ["VERSION", "FEATURES", "MEASUREMENT_READ", "MEASUREMENT_EXTEND", "ATTESTATION_TOKEN_INIT",
             "ATTESTATION_TOKEN_CONTINUE", "REALM_CONFIG", "IPA_STATE_SET", "IPA_STATE_GET", "HOST_CALL"]
    assert [(f.name, int(f)) for f in RsiFid] == [(f"RSI_{n}", 0xC400_0190 + i) for i, n in enumerate(names)]


def test_the_rsi_range_covers_the_rmm_1_1_ids_too():
    assert (RSI_FID_FIRST, RSI_FID_LAST) == (0xC400_0190, 0xC400_01AF)
    assert all(RSI_FID_FIRST <= f <= RSI_FID_LAST for f in RsiFid)


def test_every_rsi_command_has_a_handler():
    assert set(RSI_HANDLERS) == set(RsiFid) and all(callable(h) for h in RSI_HANDLERS.values())


@pytest.mark.parametrize("status,value,name", [(RsiStatus.SUCCESS, 0, "RSI_SUCCESS"),
                                               (RsiStatus.ERROR_INPUT, 1, "RSI_ERROR_INPUT"),
                                               (RsiStatus.ERROR_STATE, 2, "RSI_ERROR_STATE"),
                                               (RsiStatus.INCOMPLETE, 3, "RSI_INCOMPLETE"),
                                               (RsiStatus.ERROR_UNKNOWN, 4, "RSI_ERROR_UNKNOWN")])
def test_rsi_status_values_and_spec_names(status, value, name):
    assert int(status) == value and status.spec_name == name


def test_response_version_and_flag_values():
    assert (RsiResponse.ACCEPT, RsiResponse.REJECT) == (0, 1)
    assert RSI_ABI_VERSION == 1 << 16 and RIPAS_CHANGE_DESTROYED == 1
