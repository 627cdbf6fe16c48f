"""The platform lifecycle claim (2395): which life stage the CCA platform is in.

The claim is a 16-bit value: bits [15:8] give the state, bits [7:0] are implementation defined.
Each state owns one range ``0xN000..0xN0FF``; a value outside every range is not a lifecycle.

Spec: draft-ffm-rats-cca-token, "Platform Security Lifecycle"; Veraison ccatoken
``platform/lifecycle.go`` (ranges and names); Veraison services ``scheme/arm-cca`` (which states
count as trustworthy).
"""

from __future__ import annotations

import enum


class LifecycleState(enum.IntEnum):
    """The CCA platform security lifecycle state; the value is bits [15:8] of the claim."""

    #: Must never occur: the state could not be established.
    UNKNOWN = 0x00
    #: Manufacturing: the platform is being built and tested.
    ASSEMBLY_AND_TEST = 0x10
    #: The root of trust's keys are being provisioned.
    CCA_PLATFORM_ROT_PROVISIONING = 0x20
    #: Production: root-of-trust debug is locked. The normal state of a platform in service.
    SECURED = 0x30
    #: Debug is enabled outside the CCA platform root of trust (recoverable); CCA guarantees hold.
    NON_CCA_PLATFORM_ROT_DEBUG = 0x40
    #: Debug of the CCA platform root of trust itself is enabled (recoverable).
    RECOVERABLE_CCA_PLATFORM_ROT_DEBUG = 0x50
    #: End of life, or a debug mode that cannot be undone.
    DECOMMISSIONED = 0x60

    @property
    def spec_name(self) -> str:
        """The name the profile gives the state, e.g. ``secured``."""
        return self.name.lower().replace("_", "-")

    @property
    def trustworthy(self) -> bool:
        """Whether a verifier may trust a platform in this state (secured, or debug outside the RoT).

        Spec: Veraison services ``scheme/arm-cca``: ``secured`` and ``non-cca-platform-rot-debug``
        give instance-identity 2; every other state gives 96.
        """
        return self in (LifecycleState.SECURED, LifecycleState.NON_CCA_PLATFORM_ROT_DEBUG)

    @property
    def range(self) -> tuple:
        """``(first, last)`` claim values of the state."""
        return self.value << 8, (self.value << 8) | 0xFF


def lifecycle_state(value) -> LifecycleState | None:
    """The state of a lifecycle claim value, or None if the value lies in no state's range.

    Spec: draft-ffm-rats-cca-token, "Platform Security Lifecycle" (ranges 0xN000-0xN0FF).
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        return None
    try:
        return LifecycleState(value >> 8)
    except ValueError:
        return None


def describe(value) -> str:
    """``0x3003 secured (implementation-defined byte 0x03)``, or why the value is invalid."""
    state = lifecycle_state(value)
    if state is None:
        shown = f"{value:#06x}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)
        return f"{shown} (not a lifecycle value: no state owns it)"
    return f"{value:#06x} {state.spec_name} (implementation-defined byte {value & 0xFF:#04x})"


__all__ = ["LifecycleState", "lifecycle_state", "describe"]
