"""RMI_FEATURES: which optional features this RMM offers the host, and their limits.

Spec: RMM DEN0137 1.0-rel0, RMI_FEATURES and ``RmiFeatureRegister0`` (field positions below).
The values are this model's choices, noted field by field: the PE model has no SVE, no PMU for
realms and no FEAT_LPA2; the debug and GIC numbers are the Base FVP's.
"""

from __future__ import annotations

from ....arch.sysreg import Field, RegisterLayout
from ..status import RmiStatus

#: RmiFeatureRegister0 (RMM 1.0): bits not named are zero.
RMI_FEATURE_REGISTER_0 = RegisterLayout("RmiFeatureRegister0", (
    Field("S2SZ", 7, 0, "largest IPA width, in bits, a realm may ask for"),
    Field("LPA2", 8, 8, "FEAT_LPA2 (52-bit addresses) available to realms"),
    Field("SVE_EN", 9, 9, "SVE available to realms"),
    Field("SVE_VL", 13, 10, "largest SVE vector length, as VL / 128 - 1"),
    Field("NUM_BPS", 19, 14, "number of breakpoints minus 1"),
    Field("NUM_WPS", 25, 20, "number of watchpoints minus 1"),
    Field("PMU_EN", 26, 26, "PMU available to realms"),
    Field("PMU_NUM_CTRS", 31, 27, "number of PMU event counters"),
    Field("HASH_SHA_256", 32, 32, "SHA-256 offered for realm measurements"),
    Field("HASH_SHA_512", 33, 33, "SHA-512 offered for realm measurements"),
    Field("GICV3_NUM_LRS", 37, 34, "number of GICv3 list registers minus 1"),
    Field("MAX_RECS_ORDER", 41, 38, "log2 of the largest number of RECs per realm"),
), spec="RMM DEN0137 1.0-rel0, RmiFeatureRegister0")

#: This model's choices for the fields that do not follow from the platform.
NUM_BPS = 5  # six breakpoints, as the Base FVP's PEs (ID_AA64DFR0_EL1.BRPs = 5)
NUM_WPS = 3  # four watchpoints (ID_AA64DFR0_EL1.WRPs = 3)
GICV3_NUM_LRS = 3  # four list registers, as the FVP's GIC (ICH_VTR_EL2.ListRegs = 3)
MAX_RECS_ORDER = 4  # at most 16 RECs per realm in this model


def feature_register_0(platform) -> int:
    """The value of RmiFeatureRegister0 on ``platform``: S2SZ is its PA size (``pamax``), since a
    realm's IPA space can be no wider than the physical address space without FEAT_LPA2."""
    return RMI_FEATURE_REGISTER_0.encode(
        S2SZ=platform.pamax, LPA2=0, SVE_EN=0, SVE_VL=0, NUM_BPS=NUM_BPS, NUM_WPS=NUM_WPS, PMU_EN=0,
        PMU_NUM_CTRS=0, HASH_SHA_256=1, HASH_SHA_512=1, GICV3_NUM_LRS=GICV3_NUM_LRS,
        MAX_RECS_ORDER=MAX_RECS_ORDER)


def rmi_features(rmm, index: int) -> tuple:
    """RMI_FEATURES(index): the feature register ``index``.

    Returns
    -------
    (status, value)
        Always ``SUCCESS``. Index 0 gives RmiFeatureRegister0; any other index gives 0 (RMM 1.0
        defines only register 0).

    Spec: RMM DEN0137 1.0-rel0, RMI_FEATURES (no failure conditions).
    """
    value = feature_register_0(rmm.platform) if index == 0 else 0
    return RmiStatus.SUCCESS, value


__all__ = ["rmi_features", "feature_register_0", "RMI_FEATURE_REGISTER_0", "MAX_RECS_ORDER"]
