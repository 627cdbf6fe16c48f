"""RSI function IDs and status codes (RMM 1.0).

Spec: RMM DEN0137 1.0-rel0, "RSI commands" (FIDs 0xC4000190..0xC4000199) and ``RsiCommandReturnCode``.
"""

from __future__ import annotations

import enum


class RsiFid(enum.IntEnum):
    RSI_VERSION = 0xC400_0190
    RSI_FEATURES = 0xC400_0191
    RSI_MEASUREMENT_READ = 0xC400_0192
    RSI_MEASUREMENT_EXTEND = 0xC400_0193
    RSI_ATTESTATION_TOKEN_INIT = 0xC400_0194
    RSI_ATTESTATION_TOKEN_CONTINUE = 0xC400_0195
    RSI_REALM_CONFIG = 0xC400_0196
    RSI_IPA_STATE_SET = 0xC400_0197
    RSI_IPA_STATE_GET = 0xC400_0198
    RSI_HOST_CALL = 0xC400_0199


RSI_FID_FIRST, RSI_FID_LAST = 0xC400_0190, 0xC400_01AF


class RsiStatus(enum.IntEnum):
    """RsiCommandReturnCode."""

    SUCCESS = 0
    ERROR_INPUT = 1
    ERROR_STATE = 2
    INCOMPLETE = 3
    ERROR_UNKNOWN = 4

    @property
    def spec_name(self) -> str:
        return f"RSI_{self.name}"


class RsiResponse(enum.IntEnum):
    """RsiResponse / RmiResponse: the host's answer to a RIPAS change request."""

    ACCEPT = 0
    REJECT = 1


RSI_ABI_VERSION = 0x10000
RIPAS_CHANGE_DESTROYED = 1 << 0

__all__ = ["RsiFid", "RsiStatus", "RsiResponse", "RSI_FID_FIRST", "RSI_FID_LAST", "RSI_ABI_VERSION",
           "RIPAS_CHANGE_DESTROYED"]
