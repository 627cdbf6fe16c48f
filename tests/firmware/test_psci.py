"""PSCI function IDs, return codes and the helpers the RMM's PSCI handling uses."""

import pytest

from ccalab.firmware.psci import (AFFINITY_OFF, AFFINITY_ON, PSCI_VERSION_1_1, PsciFid, PsciReturn, as_signed,
                                  is_psci_fid)


def test_function_ids_are_the_psci_1_1_values():
    assert {f.name: int(f) for f in PsciFid} == {
        "PSCI_VERSION": 0x8400_0000, "CPU_SUSPEND_32": 0x8400_0001, "CPU_OFF": 0x8400_0002, "CPU_ON_32": 0x8400_0003,
        "AFFINITY_INFO_32": 0x8400_0004, "SYSTEM_OFF": 0x8400_0008, "SYSTEM_RESET": 0x8400_0009,
        "PSCI_FEATURES": 0x8400_000A, "CPU_SUSPEND": 0xC400_0001, "CPU_ON": 0xC400_0003,
        "AFFINITY_INFO": 0xC400_0004}


def test_return_codes_are_the_negative_psci_values():
    assert [int(r) for r in PsciReturn] == [0, -1, -2, -3, -4, -5, -6, -7, -8, -9]
    assert PsciReturn.INVALID_ADDRESS.name == "INVALID_ADDRESS"


@pytest.mark.parametrize("ret,reg", [(PsciReturn.SUCCESS, 0), (PsciReturn.NOT_SUPPORTED, (1 << 64) - 1),
                                     (PsciReturn.INVALID_ADDRESS, (1 << 64) - 9)])
def test_register_form_is_the_64_bit_twos_complement(ret, reg):
    assert ret.register == reg and as_signed(reg) == ret


@pytest.mark.parametrize("reg,value", [(0, 0), (1, 1), ((1 << 63) - 1, (1 << 63) - 1), (1 << 63, -(1 << 63)),
                                       ((1 << 64) - 1, -1), ((1 << 64) + 5, 5)])
def test_as_signed_reads_a_register_as_a_signed_64_bit_value(reg, value):
    assert as_signed(reg) == value


@pytest.mark.parametrize("fid,expect", [(0x8400_0000, True), (0x8400_001F, True), (0x8400_0020, False),
                                        (0xC400_0003, True), (0xC400_001F, True), (0xC400_0150, False),
                                        (0xC400_0190, False), (0, False), (0x8600_0000, False)])
def test_is_psci_fid_covers_the_psci_ranges_only(fid, expect):
    assert is_psci_fid(fid) is expect


def test_version_and_affinity_values():
    assert PSCI_VERSION_1_1 == (1 << 16) | 1 and (AFFINITY_ON, AFFINITY_OFF) == (0, 1)
