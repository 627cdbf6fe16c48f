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

_REALM, _REC, _RTT = RmiStatus.ERROR_REALM, RmiStatus.ERROR_REC, RmiStatus.ERROR_RTT


def _granule(prefix: str, extra=()):
    """The spec's three-part granule check (aligned, delegable memory, expected state)."""
    return tuple((f"{prefix}_{part}", _INPUT) for part in ("align", "bound", "state")) + tuple(extra)


_RD = _granule("rd")

FAILURE_CONDITIONS = {
    "RMI_VERSION": (),
    "RMI_FEATURES": (),
    "RMI_GRANULE_DELEGATE": _granule("gran", [("gran_gpt", _INPUT)]),  # gran_gpt: EL3 refuses (GPI not NS)
    "RMI_GRANULE_UNDELEGATE": _granule("gran"),
    "RMI_REALM_CREATE": (
        *_granule("params", [("params_pas", _INPUT)]),  # the params page must be host (NS) memory
        ("params_valid", _INPUT), ("params_supp", _INPUT),  # malformed / asks for what FEATURES does not offer
        ("alias", _INPUT),  # rd lies inside the root RTTs
        *_RD, *_granule("rtt"),  # rd, then every root RTT, must be DELEGATED
    ),
    "RMI_REALM_ACTIVATE": (*_RD, ("realm_state", _REALM)),
    "RMI_REALM_DESTROY": (*_RD, ("realm_live", _REALM)),  # a REC or a live root RTT entry remains
    "RMI_REC_CREATE": (
        *_granule("params", [("params_pas", _INPUT)]), ("num_aux", _INPUT),
        *_granule("aux", [("aux_alias", _INPUT)]), *_granule("rec"), *_RD,
        ("rd_refcount", _REALM), ("realm_state", _REALM), ("mpidr_valid", _INPUT), ("mpidr_index", _INPUT),
        ("num_aux_count", _INPUT),
    ),
    "RMI_REC_DESTROY": (*_granule("rec"), ("rec_running", _REC)),
    "RMI_REC_AUX_COUNT": _RD,
    "RMI_REC_ENTER": (
        *_granule("run", [("run_pas", _INPUT)]), *_granule("rec"), ("rec_running", _REC),
        ("realm_new", _REALM), ("system_off", _REALM),  # index 0 and 1
        ("rec_runnable", _REC), ("rec_psci_pending", _REC), ("rec_gic", _REC), ("rec_sea", _REC),
        ("rec_mmio", _REC),
    ),
    "RMI_PSCI_COMPLETE": (
        *_granule("calling"), *_granule("target"), ("alias", _INPUT), ("calling_running", _INPUT),
        ("pending", _INPUT), ("owner", _INPUT), ("target_index", _INPUT), ("status", _INPUT),
    ),
    "RMI_RTT_CREATE": (*_RD, *_granule("rtt"), ("level_bound", _INPUT), ("ipa_align", _INPUT),
                       ("ipa_bound", _INPUT), ("rtt_walk", _RTT), ("rtt_entry", _RTT)),
    "RMI_RTT_DESTROY": (*_RD, ("level_bound", _INPUT), ("ipa_align", _INPUT), ("ipa_bound", _INPUT),
                        ("rtt_walk", _RTT), ("rtt_live", _RTT)),
    "RMI_RTT_FOLD": (*_RD, ("level_bound", _INPUT), ("ipa_align", _INPUT), ("ipa_bound", _INPUT),
                     ("rtt_walk", _RTT), ("rtt_entry", _RTT), ("rtt_homo", _RTT)),
    "RMI_RTT_MAP_UNPROTECTED": (*_RD, ("desc_valid", _INPUT), ("level_bound", _INPUT), ("ipa_align", _INPUT),
                                ("ipa_bound", _INPUT), ("ipa_par", _INPUT), ("rtt_walk", _RTT),
                                ("rtt_entry", _RTT)),
    "RMI_RTT_UNMAP_UNPROTECTED": (*_RD, ("level_bound", _INPUT), ("ipa_align", _INPUT), ("ipa_bound", _INPUT),
                                  ("ipa_par", _INPUT), ("rtt_walk", _RTT), ("rtt_entry", _RTT)),
    "RMI_RTT_READ_ENTRY": (*_RD, ("level_bound", _INPUT), ("ipa_align", _INPUT), ("ipa_bound", _INPUT)),
    "RMI_RTT_INIT_RIPAS": (("size_valid", _INPUT), *_RD, ("base_align", _INPUT), ("top_align", _INPUT),
                           ("region_par", _INPUT), ("realm_state", _REALM), ("base_walk_align", _RTT),
                           ("no_progress", _RTT)),
    "RMI_RTT_SET_RIPAS": (("size_valid", _INPUT), *_RD, *_granule("rec"), ("rec_running", _REC),
                          ("rec_owner", _REC), ("base_bound", _INPUT), ("top_bound", _INPUT),
                          ("base_walk_align", _RTT), ("no_progress", _RTT)),
    "RMI_DATA_CREATE": (("flags_valid", _INPUT), *_granule("src", [("src_pas", _INPUT)]), *_granule("data"), *_RD,
                        ("realm_state", _REALM), ("ipa_align", _INPUT), ("ipa_bound", _INPUT),
                        ("rtt_walk", _RTT), ("rtt_state", _RTT)),
    "RMI_DATA_CREATE_UNKNOWN": (*_granule("data"), *_RD, ("ipa_align", _INPUT), ("ipa_bound", _INPUT),
                                ("rtt_walk", _RTT), ("rtt_state", _RTT)),
    "RMI_DATA_DESTROY": (*_RD, ("ipa_align", _INPUT), ("ipa_bound", _INPUT), ("rtt_walk", _RTT),
                         ("rtt_state", _RTT)),
}


def labels(command: str) -> list:
    """The failure labels of ``command`` (its spec name), in evaluation order."""
    return [label for label, _ in FAILURE_CONDITIONS[command]]


def label_of(failure: str | None) -> str | None:
    """The spec label in a failure description (``"params_supp: s2sz must be ..."`` -> ``params_supp``)."""
    return None if failure is None else failure.split(":", 1)[0]


def status_of(command: str, label: str) -> RmiStatus:
    """The status ``command`` returns when ``label`` is its first failing condition."""
    for lab, status in FAILURE_CONDITIONS[command]:
        if lab == label:
            return status
    raise KeyError(f"{command} has no failure condition {label!r}; it has {labels(command)}")


__all__ = ["FAILURE_CONDITIONS", "labels", "status_of", "label_of"]
