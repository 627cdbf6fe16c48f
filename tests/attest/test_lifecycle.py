import pytest

from ccalab.attest.lifecycle import LifecycleState, describe, lifecycle_state


@pytest.mark.parametrize("value,state", [
    (0x0000, LifecycleState.UNKNOWN), (0x00FF, LifecycleState.UNKNOWN),
    (0x1000, LifecycleState.ASSEMBLY_AND_TEST), (0x20FF, LifecycleState.CCA_PLATFORM_ROT_PROVISIONING),
    (0x3000, LifecycleState.SECURED), (0x3003, LifecycleState.SECURED),
    (0x40FF, LifecycleState.NON_CCA_PLATFORM_ROT_DEBUG),
    (0x5000, LifecycleState.RECOVERABLE_CCA_PLATFORM_ROT_DEBUG), (0x6001, LifecycleState.DECOMMISSIONED)])
def test_each_range_maps_to_its_state(value, state):
    assert lifecycle_state(value) is state


@pytest.mark.parametrize("value", [0x0100, 0x0FFF, 0x3100, 0x7000, 0xFFFF, 0x10000, -1, True, "0x3000", None])
def test_values_outside_every_range_have_no_state(value):
    assert lifecycle_state(value) is None


def test_only_secured_and_non_cca_debug_are_trustworthy():
    assert {s for s in LifecycleState if s.trustworthy} == {LifecycleState.SECURED,
                                                            LifecycleState.NON_CCA_PLATFORM_ROT_DEBUG}


def test_states_have_the_profile_names_and_ranges():
    assert LifecycleState.RECOVERABLE_CCA_PLATFORM_ROT_DEBUG.spec_name == "recoverable-cca-platform-rot-debug"
    assert LifecycleState.SECURED.range == (0x3000, 0x30FF)


def test_describe_names_the_state_and_the_implementation_byte():
    assert describe(0x3003) == "0x3003 secured (implementation-defined byte 0x03)"
    assert "no state" in describe(0x7000)
