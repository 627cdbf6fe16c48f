import pytest

from ccalab.firmware.rmm.status import RmiStatus, describe, pack, unpack


def test_status_values_are_the_rmm_1_0_ones():
    assert [(s.name, int(s)) for s in RmiStatus] == [
        ("SUCCESS", 0), ("ERROR_INPUT", 1), ("ERROR_REALM", 2), ("ERROR_REC", 3), ("ERROR_RTT", 4)]
    assert RmiStatus.ERROR_RTT.spec_name == "RMI_ERROR_RTT"


def test_pack_puts_the_index_in_bits_15_to_8():
    assert pack(RmiStatus.SUCCESS) == 0
    assert pack(RmiStatus.ERROR_INPUT) == 1
    assert pack(RmiStatus.ERROR_RTT, 2) == 0x204
    assert pack(RmiStatus.ERROR_REALM, 1) == 0x102


@pytest.mark.parametrize("status", list(RmiStatus))
@pytest.mark.parametrize("index", [0, 1, 3, 255])
def test_unpack_inverts_pack(status, index):
    assert unpack(pack(status, index)) == (status, index)


def test_pack_refuses_bad_indices_and_statuses():
    with pytest.raises(ValueError):
        pack(RmiStatus.ERROR_RTT, 256)
    with pytest.raises(ValueError):
        pack(RmiStatus.ERROR_RTT, -1)
    with pytest.raises(TypeError):
        pack(RmiStatus.ERROR_RTT, 1.0)
    with pytest.raises(ValueError):
        pack(5)  # 1.1's ERROR_NOT_SUPPORTED is not an RMM 1.0 status


@pytest.mark.parametrize("x0", [0xFFFF_FFFF_FFFF_FFFF, 0x1_0000, 0x05, -1])
def test_unpack_refuses_values_that_are_not_return_codes(x0):
    with pytest.raises(ValueError):
        unpack(x0)


def test_describe_names_status_and_index():
    assert describe(0) == "RMI_SUCCESS"
    assert describe(0x304) == "RMI_ERROR_RTT (index 3)"
    assert describe(0xFFFF_FFFF_FFFF_FFFF) == "0xffffffffffffffff"
