"""The RMM's objects: Realm Descriptors and Realm Execution Contexts, and their state machines.

A Realm Descriptor (RD) and a REC each live in a granule of their own (state RD / REC in the
granule tracker); this model keeps their fields in Python objects indexed by that granule's PA,
as TF-RMM keeps ``struct rd`` and ``struct rec`` inside the granule.

Spec: RMM DEN0137 1.0-rel0, A2.1 "Realm" (``RmmRealmState``: NEW, ACTIVE, SYSTEM_OFF), A2.3
"Realm execution context" (``RmmRecState``: READY, RUNNING; ``RmmRecRunnable``), B4.4.* for the
attributes each object holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .measurement import MEASUREMENT_SLOTS, HashAlgo


class RealmState(enum.IntEnum):
    """RmmRealmState.

    NEW: being built; the host may DATA_CREATE, RTT_INIT_RIPAS and REC_CREATE, and the RIM grows.
    ACTIVE: the RIM is frozen; its RECs may run.
    SYSTEM_OFF: a REC called PSCI SYSTEM_OFF or SYSTEM_RESET; no REC may run again.
    """

    NEW = 0
    ACTIVE = 1
    SYSTEM_OFF = 2


#: The realm life cycle (REALM_DESTROY is allowed from every state and removes the realm).
REALM_TRANSITIONS = frozenset({(RealmState.NEW, RealmState.ACTIVE), (RealmState.ACTIVE, RealmState.SYSTEM_OFF)})


class RecState(enum.IntEnum):
    """RmmRecState: READY (not running) or RUNNING (inside REC_ENTER)."""

    READY = 0
    RUNNING = 1


@dataclass
class Realm:
    """The fields of a Realm Descriptor."""

    rd: int
    state: RealmState
    s2sz: int
    rtt_level_start: int
    rtt_base: int
    rtt_num_start: int
    vmid: int
    hash_algo: HashAlgo
    rpv: bytes
    flags: int
    mecid: int
    measurements: list = field(default_factory=list)
    rec_index: int = 0
    recs: list = field(default_factory=list)  # PAs of its RECs, in index order (None once destroyed)
    params: dict = field(default_factory=dict)

    @property
    def ipa_size(self) -> int:
        return 1 << self.s2sz

    @property
    def par_top(self) -> int:
        """The end of the Protected Address Range: IPAs below are protected."""
        return 1 << (self.s2sz - 1)

    def in_par(self, ipa: int) -> bool:
        return 0 <= ipa < self.par_top

    @property
    def rim(self) -> bytes:
        return self.measurements[0]

    def transition(self, new) -> None:
        new = RealmState(new)
        if (self.state, new) not in REALM_TRANSITIONS:
            raise AssertionError(f"realm {self.rd:#x}: {self.state.name} -> {new.name} is not in its life cycle")
        self.state = new

    @staticmethod
    def zero_measurements(algo) -> list:
        return [bytes(HashAlgo(algo).digest_size)] * MEASUREMENT_SLOTS


@dataclass
class RipasChange:
    """A pending RSI_IPA_STATE_SET: the region, how far the host got, the requested value."""

    base: int
    top: int
    addr: int
    value: int
    change_destroyed: bool


@dataclass
class Rec:
    """The fields of a REC, and the model's handle on the guest program it runs."""

    rec: int
    rd: int
    index: int
    mpidr: int
    runnable: bool
    pc: int
    gprs: list
    aux: tuple = ()
    state: RecState = RecState.READY
    psci_pending: tuple | None = None  # (fid, target mpidr, entry, context) of a PSCI exit
    host_call: int | None = None  # IPA of the RsiHostCall of a pending HOST_CALL
    ripas: RipasChange | None = None
    last_exit: dict = field(default_factory=dict)  # reason, esr, emulatable/ipa/unprotected of the last exit
    token: object = None  # attestation token state of RSI_ATTESTATION_TOKEN_INIT/CONTINUE
    cpu: object = None  # the guest vCPU (ccalab.guest) once the REC has run
    exits: int = 0
    psci_result: tuple = (0, 0, 0, 0)  # what PSCI_COMPLETE decided the caller sees


__all__ = ["RealmState", "RecState", "Realm", "Rec", "RipasChange", "REALM_TRANSITIONS"]
