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


def test_label_of_strips_the_reason():
    assert spec.label_of("params_supp: s2sz must be 32..48") == "params_supp"
    assert spec.label_of("rd_state") == "rd_state" and spec.label_of(None) is None


def test_granule_checks_come_as_align_bound_state():
    for command, labels in ((c, spec.labels(c)) for c in spec.FAILURE_CONDITIONS):
        for i, label in enumerate(labels):
            if label.endswith("_align") and labels[i + 1:i + 3] == [label[:-6] + "_bound", label[:-6] + "_state"]:
                assert all(spec.status_of(command, lab) == RmiStatus.ERROR_INPUT for lab in labels[i:i + 3])


def test_the_statuses_other_than_error_input():
    other = {(c, lab): st for c, conds in spec.FAILURE_CONDITIONS.items() for lab, st in conds
             if st != RmiStatus.ERROR_INPUT}
    rtt = RmiStatus.ERROR_RTT
    assert other == {
        ("RMI_REALM_ACTIVATE", "realm_state"): RmiStatus.ERROR_REALM,
        ("RMI_REALM_DESTROY", "realm_live"): RmiStatus.ERROR_REALM,
        ("RMI_REC_CREATE", "rd_refcount"): RmiStatus.ERROR_REALM,
        ("RMI_REC_CREATE", "realm_state"): RmiStatus.ERROR_REALM,
        ("RMI_REC_DESTROY", "rec_running"): RmiStatus.ERROR_REC,
        **{("RMI_REC_ENTER", lab): RmiStatus.ERROR_REC for lab in ("rec_running", "rec_runnable", "rec_psci_pending",
                                                                   "rec_gic", "rec_sea", "rec_mmio")},
        ("RMI_REC_ENTER", "realm_new"): RmiStatus.ERROR_REALM, ("RMI_REC_ENTER", "system_off"): RmiStatus.ERROR_REALM,
        **{(c, lab): rtt for c in ("RMI_RTT_CREATE", "RMI_RTT_MAP_UNPROTECTED", "RMI_RTT_UNMAP_UNPROTECTED")
           for lab in ("rtt_walk", "rtt_entry")},
        ("RMI_RTT_DESTROY", "rtt_walk"): rtt, ("RMI_RTT_DESTROY", "rtt_live"): rtt,
        ("RMI_RTT_FOLD", "rtt_walk"): rtt, ("RMI_RTT_FOLD", "rtt_entry"): rtt, ("RMI_RTT_FOLD", "rtt_homo"): rtt,
        ("RMI_RTT_INIT_RIPAS", "realm_state"): RmiStatus.ERROR_REALM,
        ("RMI_RTT_INIT_RIPAS", "base_walk_align"): rtt, ("RMI_RTT_INIT_RIPAS", "no_progress"): rtt,
        ("RMI_RTT_SET_RIPAS", "rec_running"): RmiStatus.ERROR_REC,
        ("RMI_RTT_SET_RIPAS", "rec_owner"): RmiStatus.ERROR_REC,
        ("RMI_RTT_SET_RIPAS", "base_walk_align"): rtt, ("RMI_RTT_SET_RIPAS", "no_progress"): rtt,
        ("RMI_DATA_CREATE", "realm_state"): RmiStatus.ERROR_REALM,
        **{(c, lab): rtt for c in ("RMI_DATA_CREATE", "RMI_DATA_CREATE_UNKNOWN", "RMI_DATA_DESTROY")
           for lab in ("rtt_walk", "rtt_state")},
    }


def test_each_condition_label_is_reported_by_its_handler():
    """Every label that is not a granule check appears in the handler's source as the label it records."""
    import inspect

    for row in RMI_HANDLERS:
        source = inspect.getsource(inspect.getmodule(row.handler))
        labels = spec.labels(row.name)
        for label in labels:
            prefix, _, part = label.rpartition("_")
            granule_check = {f"{prefix}_{x}" for x in ("align", "bound", "state")} <= set(labels)
            if part in ("align", "bound", "state", "pas") and granule_check:
                assert f'"{prefix}"' in source, (row.name, label)  # a granule check: its prefix
            else:
                assert f'"{label}' in source, (row.name, label)


def test_every_command_with_failure_conditions_has_a_conformance_suite():
    from .rmi import test_data, test_granule, test_psci, test_realm, test_rec, test_rec_enter, test_rtt
    from ._realmkit import Conformance

    covered = {obj.command for mod in (test_data, test_psci, test_realm, test_rec, test_rec_enter, test_rtt)
               for obj in vars(mod).values() if isinstance(obj, Conformance)}
    covered |= {c for c, _ in test_granule.CASES}
    assert covered == {c for c, conds in spec.FAILURE_CONDITIONS.items() if conds}
