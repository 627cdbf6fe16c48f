import pytest

from ccalab.firmware.rmm import spec
from ccalab.firmware.rmm.fids import RmiFid
from ccalab.firmware.rmm.rmm import RMI_HANDLERS
from ccalab.firmware.rmm.status import RmiStatus


def test_every_implemented_command_has_a_failure_table_and_no_other():
    assert set(spec.FAILURE_CONDITIONS) == {row.name for row in RMI_HANDLERS}
    assert all(name in RmiFid.__members__ for name in spec.FAILURE_CONDITIONS)


def test_tables_hold_unique_labels_and_rmi_statuses():
    for command, conditions in spec.FAILURE_CONDITIONS.items():
        labels = [label for label, _ in conditions]
        assert len(labels) == len(set(labels)), command
        assert all(isinstance(status, RmiStatus) and status != RmiStatus.SUCCESS for _, status in conditions)


def test_granule_commands_follow_the_spec_order():
    assert spec.labels("RMI_GRANULE_DELEGATE") == ["gran_align", "gran_bound", "gran_state", "gran_gpt"]
    assert spec.labels("RMI_GRANULE_UNDELEGATE") == ["gran_align", "gran_bound", "gran_state"]
    assert spec.status_of("RMI_GRANULE_DELEGATE", "gran_gpt") == RmiStatus.ERROR_INPUT


def test_unknown_label_is_a_key_error():
    with pytest.raises(KeyError, match="gran_align"):
        spec.status_of("RMI_GRANULE_UNDELEGATE", "gran_gpt")
