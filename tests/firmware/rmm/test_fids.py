from ccalab.firmware.rmm.fids import (RMI_FID_FIRST, RMI_FID_LAST, SMC_NOT_SUPPORTED, RmiFid, fid_name,
                                      is_rmi_fid)


def test_function_ids_are_smc64_fast_calls_in_the_rmi_range():
    for fid in RmiFid:
        assert fid >> 24 == 0xC4 and RMI_FID_FIRST <= fid <= RMI_FID_LAST
        assert fid.name.startswith("RMI_")


def test_rmm_1_0_uses_fnums_0x150_to_0x169_without_0x156_0x160_0x163():
    fnums = sorted(int(f) & 0xFFFF for f in RmiFid)
    assert fnums == [n for n in range(0x150, 0x16A) if n not in (0x156, 0x160, 0x163)]
    assert len({int(f) for f in RmiFid}) == len(RmiFid)  # no aliases


def test_some_ids_match_the_spec():
    assert RmiFid.RMI_VERSION == 0xC4000150
    assert RmiFid.RMI_GRANULE_DELEGATE == 0xC4000151
    assert RmiFid.RMI_GRANULE_UNDELEGATE == 0xC4000152
    assert RmiFid.RMI_REALM_CREATE == 0xC4000158
    assert RmiFid.RMI_FEATURES == 0xC4000165
    assert RmiFid.RMI_RTT_SET_RIPAS == 0xC4000169


def test_range_and_names():
    assert is_rmi_fid(0xC4000150) and is_rmi_fid(0xC400018F)
    assert not is_rmi_fid(0xC4000190) and not is_rmi_fid(0xC40001B0) and not is_rmi_fid(0x84000000)
    assert fid_name(0xC4000151) == "RMI_GRANULE_DELEGATE"
    assert fid_name(0xC4000156) == "0xc4000156"
    assert SMC_NOT_SUPPORTED == (1 << 64) - 1
