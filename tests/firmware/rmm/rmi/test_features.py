import pytest

from ccalab import Platform
from ccalab.firmware.rmm import RmiFid, RmiStatus, spec
from ccalab.firmware.rmm.rmi.features import MAX_RECS_ORDER, RMI_FEATURE_REGISTER_0


def test_register_0_fields_sit_where_the_spec_puts_them():
    pos = {f.name: (f.hi, f.lo) for f in RMI_FEATURE_REGISTER_0.fields}
    assert pos == {"S2SZ": (7, 0), "LPA2": (8, 8), "SVE_EN": (9, 9), "SVE_VL": (13, 10), "NUM_BPS": (19, 14),
                   "NUM_WPS": (25, 20), "PMU_EN": (26, 26), "PMU_NUM_CTRS": (31, 27), "HASH_SHA_256": (32, 32),
                   "HASH_SHA_512": (33, 33), "GICV3_NUM_LRS": (37, 34), "MAX_RECS_ORDER": (41, 38)}


def test_register_0_describes_this_model(p):
    status, value = p.smc(RmiFid.RMI_FEATURES, 0)
    assert status == RmiStatus.SUCCESS
    f = RMI_FEATURE_REGISTER_0.decode(value)
    assert f["S2SZ"] == 48 and f["LPA2"] == 0 and f["SVE_EN"] == 0 and f["PMU_EN"] == 0
    assert f["HASH_SHA_256"] == 1 and f["HASH_SHA_512"] == 1
    assert (f["NUM_BPS"], f["NUM_WPS"], f["GICV3_NUM_LRS"]) == (5, 3, 3)
    assert f["MAX_RECS_ORDER"] == MAX_RECS_ORDER
    assert value >> 42 == 0


def test_s2sz_follows_the_machine_pa_size():
    q = Platform(dram_size=256 << 20, pps=40, pamax=40)
    assert RMI_FEATURE_REGISTER_0.decode(q.smc(RmiFid.RMI_FEATURES, 0)[1])["S2SZ"] == 40


@pytest.mark.parametrize("index", [1, 2, 0xFF, 1 << 63, (1 << 64) - 1])
def test_other_indices_read_as_zero_and_succeed(p, index):
    assert p.smc(RmiFid.RMI_FEATURES, index) == (RmiStatus.SUCCESS, 0)
    p.rmm.granules.check_invariants()


def test_features_has_no_failure_conditions():
    assert spec.FAILURE_CONDITIONS["RMI_FEATURES"] == ()
