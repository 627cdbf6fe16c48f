"""The failure conditions of each implemented RMI command, in the order the spec evaluates them.

Each entry maps a command's spec name to its ordered list of ``(label, status)``: the command's
result is the status of the first condition that fails. Conformance tests build, for each
condition *n*, a state where conditions 1..n-1 hold and *n* fails, and check that this status
(and only this one) comes back.

Spec: RMM DEN0137 1.0-rel0, each command's "Failure conditions" table (labels as the spec's IDs).
RMI_VERSION and RMI_FEATURES have no labelled failure conditions: VERSION reports an unsupported
request through its status output, and FEATURES always succeeds.
"""

from __future__ import annotations

from .status import RmiStatus

#: ``RmiStatus`` shorthand for the tables below.
_INPUT = RmiStatus.ERROR_INPUT

FAILURE_CONDITIONS = {
    "RMI_VERSION": (),
    "RMI_FEATURES": (),
    "RMI_GRANULE_DELEGATE": (
        ("gran_align", _INPUT),  # addr is not 4 KB aligned
        ("gran_bound", _INPUT),  # addr is not delegable DRAM (PaIsDelegable)
        ("gran_state", _INPUT),  # the granule is not UNDELEGATED
        ("gran_gpt", _INPUT),  # the GPT does not say Non-secure: EL3 refuses the transition
    ),
    "RMI_GRANULE_UNDELEGATE": (
        ("gran_align", _INPUT),  # addr is not 4 KB aligned
        ("gran_bound", _INPUT),  # addr is not delegable DRAM (PaIsDelegable)
        ("gran_state", _INPUT),  # the granule is not DELEGATED
    ),
}


def labels(command: str) -> list:
    """The failure labels of ``command`` (its spec name), in evaluation order."""
    return [label for label, _ in FAILURE_CONDITIONS[command]]


def status_of(command: str, label: str) -> RmiStatus:
    """The status ``command`` returns when ``label`` is its first failing condition."""
    for lab, status in FAILURE_CONDITIONS[command]:
        if lab == label:
            return status
    raise KeyError(f"{command} has no failure condition {label!r}; it has {labels(command)}")


__all__ = ["FAILURE_CONDITIONS", "labels", "status_of"]
