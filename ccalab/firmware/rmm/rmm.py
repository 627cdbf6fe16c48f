"""The Realm Management Monitor: the RMI dispatch table, the entry point the monitor calls, and
the helpers every command handler shares (granule checks, RTT entry access, NS memory access).

One table, :data:`RMI_HANDLERS`, is the single source of truth for dispatch, as TF-RMM's
``smc_handlers[]``: one row per command with its function ID, spec name, number of arguments
(X1..), number of results (X1..) and handler. Every call and its result go to the platform's
event log with kind ``rmi``.

Spec: RMM DEN0137 1.0-rel0, "RMI commands" (register use of each command) and
``RmiCommandReturnCode``; SMCCC DEN0028 for ``SMC_NOT_SUPPORTED``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ...arch.mec.engine import context_id
from ...arch.pas import PAS
from . import s2tt
from .fids import RmiFid, SMC_NOT_SUPPORTED, fid_name
from .granule import GRANULE_SIZE, GranuleState, GranuleTracker
from .rmi.data import rmi_data_create, rmi_data_create_unknown, rmi_data_destroy
from .rmi.features import rmi_features
from .rmi.granule import rmi_granule_delegate, rmi_granule_undelegate
from .rmi.psci import rmi_psci_complete
from .rmi.realm import rmi_realm_activate, rmi_realm_create, rmi_realm_destroy
from .rmi.rec import rmi_rec_aux_count, rmi_rec_create, rmi_rec_destroy
from .rmi.rec_enter import rmi_rec_enter
from .rmi.rtt import (rmi_rtt_create, rmi_rtt_destroy, rmi_rtt_fold, rmi_rtt_init_ripas, rmi_rtt_map_unprotected,
                      rmi_rtt_read_entry, rmi_rtt_set_ripas, rmi_rtt_unmap_unprotected)
from .rmi.version import rmi_version
from .status import describe
from ...events import register_formatter

_REG_MAX = (1 << 64) - 1
#: The RMM's own encryption context: Realm PAS, MECID 0.
RMM_CONTEXT = context_id(PAS.REALM, 0)
_NS_CONTEXT = context_id(PAS.NONSECURE, 0)


class RmiHandler(NamedTuple):
    """One row of the dispatch table."""

    fid: int
    name: str
    n_args: int
    n_results: int
    handler: Callable


_F = RmiFid
#: Every RMI command of RMM 1.0. Function IDs in the RMI range that are not here return
#: ``SMC_NOT_SUPPORTED``, as an unknown ID does.
RMI_HANDLERS = (
    RmiHandler(_F.RMI_VERSION, "RMI_VERSION", 1, 2, rmi_version),
    RmiHandler(_F.RMI_GRANULE_DELEGATE, "RMI_GRANULE_DELEGATE", 1, 0, rmi_granule_delegate),
    RmiHandler(_F.RMI_GRANULE_UNDELEGATE, "RMI_GRANULE_UNDELEGATE", 1, 0, rmi_granule_undelegate),
    RmiHandler(_F.RMI_DATA_CREATE, "RMI_DATA_CREATE", 5, 0, rmi_data_create),
    RmiHandler(_F.RMI_DATA_CREATE_UNKNOWN, "RMI_DATA_CREATE_UNKNOWN", 3, 0, rmi_data_create_unknown),
    RmiHandler(_F.RMI_DATA_DESTROY, "RMI_DATA_DESTROY", 2, 2, rmi_data_destroy),
    RmiHandler(_F.RMI_REALM_ACTIVATE, "RMI_REALM_ACTIVATE", 1, 0, rmi_realm_activate),
    RmiHandler(_F.RMI_REALM_CREATE, "RMI_REALM_CREATE", 2, 0, rmi_realm_create),
    RmiHandler(_F.RMI_REALM_DESTROY, "RMI_REALM_DESTROY", 1, 0, rmi_realm_destroy),
    RmiHandler(_F.RMI_REC_CREATE, "RMI_REC_CREATE", 3, 0, rmi_rec_create),
    RmiHandler(_F.RMI_REC_DESTROY, "RMI_REC_DESTROY", 1, 0, rmi_rec_destroy),
    RmiHandler(_F.RMI_REC_ENTER, "RMI_REC_ENTER", 2, 0, rmi_rec_enter),
    RmiHandler(_F.RMI_RTT_CREATE, "RMI_RTT_CREATE", 4, 0, rmi_rtt_create),
    RmiHandler(_F.RMI_RTT_DESTROY, "RMI_RTT_DESTROY", 3, 2, rmi_rtt_destroy),
    RmiHandler(_F.RMI_RTT_MAP_UNPROTECTED, "RMI_RTT_MAP_UNPROTECTED", 4, 0, rmi_rtt_map_unprotected),
    RmiHandler(_F.RMI_RTT_READ_ENTRY, "RMI_RTT_READ_ENTRY", 3, 4, rmi_rtt_read_entry),
    RmiHandler(_F.RMI_RTT_UNMAP_UNPROTECTED, "RMI_RTT_UNMAP_UNPROTECTED", 3, 1, rmi_rtt_unmap_unprotected),
    RmiHandler(_F.RMI_PSCI_COMPLETE, "RMI_PSCI_COMPLETE", 3, 0, rmi_psci_complete),
    RmiHandler(_F.RMI_FEATURES, "RMI_FEATURES", 1, 1, rmi_features),
    RmiHandler(_F.RMI_RTT_FOLD, "RMI_RTT_FOLD", 3, 1, rmi_rtt_fold),
    RmiHandler(_F.RMI_REC_AUX_COUNT, "RMI_REC_AUX_COUNT", 1, 1, rmi_rec_aux_count),
    RmiHandler(_F.RMI_RTT_INIT_RIPAS, "RMI_RTT_INIT_RIPAS", 3, 1, rmi_rtt_init_ripas),
    RmiHandler(_F.RMI_RTT_SET_RIPAS, "RMI_RTT_SET_RIPAS", 4, 1, rmi_rtt_set_ripas),
)

_BY_FID = {int(row.fid): row for row in RMI_HANDLERS}
assert len(_BY_FID) == len(RMI_HANDLERS), "two rows of RMI_HANDLERS share a function ID"
assert all(row.name == RmiFid(row.fid).name for row in RMI_HANDLERS), "a row's name is not its FID's"
assert {int(f) for f in RmiFid} == set(_BY_FID), "RMI_HANDLERS does not cover every RMM 1.0 command"


def as_registers(fid, args) -> tuple:
    """``(fid, args)`` as 64-bit register values, or TypeError / ValueError for Python misuse.

    A register holds 0..2^64-1: anything else (a float, a string, a negative int, a bool) is a
    mistake in the calling program, not a value a host could put in a register.
    """
    if type(fid) is int and 0 <= fid <= _REG_MAX and all(type(v) is int and 0 <= v <= _REG_MAX for v in args):
        return fid, tuple(args)  # the common case: plain ints in range
    out = []
    for i, v in enumerate((fid, *args)):
        where = "the function ID" if i == 0 else f"X{i}"
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{where} is a 64-bit register value (an int), got {type(v).__name__} {v!r}")
        v = int(v)
        if not 0 <= v <= _REG_MAX:
            raise ValueError(f"{where} = {v:#x} does not fit a 64-bit register (0 .. 2**64-1); "
                             "for -1 write 2**64 - 1")
        out.append(v)
    return out[0], tuple(out[1:])


class Rmm:
    """The Realm Management Monitor of one platform (R-EL2 firmware, TF-RMM's role).

    Parameters
    ----------
    platform : Platform

    Attributes
    ----------
    granules : GranuleTracker
        State and refcount of every DRAM granule.
    realms : dict
        RD address -> :class:`~ccalab.firmware.rmm.objects.Realm` (the contents of each RD granule).
    recs : dict
        REC address -> :class:`~ccalab.firmware.rmm.objects.Rec`.
    debug : bool
        When True, :meth:`GranuleTracker.check_invariants` and :meth:`check_rtt_invariants` run
        after every command (the test suite turns it on; it costs a scan per command).
    calls : int
        How many RMI calls the RMM has handled since boot.
    last_failure : str or None
        The spec label of the failure condition that decided the last command's status (None
        after a success): what the RMI widget shows next to the status code.
    """

    actor = "RMM"

    def __init__(self, platform):
        self.platform = platform
        self.granules = GranuleTracker(platform)
        self.realms = {}
        self.recs = {}
        self.debug = False
        self.last_failure = None
        self.token_provider = None  # attestation: callable(rmm, realm, challenge) -> token bytes
        self.calls = 0  # RMI calls handled since boot

    @property
    def _words(self):
        """The memory image as 64-bit words (looked up each time: a snapshot load replaces it)."""
        return self.platform.memory.words

    # --- dispatch ------------------------------------------------------------------------------
    def handle_smc(self, fid: int, args=(), checked: bool = False) -> tuple:
        """Run the RMI command ``fid`` with arguments ``args`` (X1, X2, ...).

        Missing arguments are 0, as registers the caller did not set would be (for this model);
        extra ones are ignored. Returns the result registers ``(X0, X1, ...)``: X0 is the return
        code (status | index << 8), followed by the command's results. An ID with no handler
        returns ``(SMC_NOT_SUPPORTED,)``.
        """
        if not checked:
            fid, args = as_registers(fid, args)
        self.calls += 1
        row = _BY_FID.get(fid)
        log = self.platform.events
        if row is None:
            log.append("rmi", self.actor, f"{fid_name(fid)}: not supported -> SMC_NOT_SUPPORTED",
                       fid=fid, args=args, results=(SMC_NOT_SUPPORTED,), phase="return")
            return (SMC_NOT_SUPPORTED,)
        n = row.n_args
        regs = args[:n] if len(args) >= n else args + (0,) * (n - len(args))
        self.last_failure = None
        name = row.name
        log.append_data("rmi", "RMM", ("rmi.call", name, regs),
                        {"fid": fid, "command": name, "args": regs, "phase": "call"})
        out = row.handler(self, *regs)
        if isinstance(out, tuple):
            results = tuple(map(int, out))
            if len(results) < 1 + row.n_results:
                results += (0,) * (1 + row.n_results - len(results))
        else:
            results = (int(out),) + _ZEROS[row.n_results]
        assert len(results) == 1 + row.n_results, f"{name} returned {len(results)} registers"
        failure = self.last_failure
        data = {"fid": fid, "command": name, "args": regs, "results": results, "failure": failure, "phase": "return"}
        if results[0] == 0 and name in _MEASURED:  # the RIM after each measured command
            realm = self.realms.get(regs[0])
            if realm is not None:
                data["rim"] = realm.measurements[0]
        log.append_data("rmi", "RMM", ("rmi.return", name, results, failure), data)
        if self.debug:
            self.granules.check_invariants()
            self.check_rtt_invariants()
        return results

    def fail(self, label: str, status, index: int = 0) -> int:
        """Record ``label`` as the failing condition and return the packed status."""
        self.last_failure = label
        return int(status) | (int(index) << 8)

    # --- granules ------------------------------------------------------------------------------
    def granule_state(self, addr: int):
        """The GranuleState at ``addr``, or None if ``addr`` is not an aligned, tracked granule."""
        g = self.granules
        if g.bank0_base <= addr < g.bank0_end and not addr & 0xFFF:  # the first DRAM bank: the common case
            return g.state_arrays[0].item((addr - g.bank0_base) >> 12)
        loc = g._locate(addr)
        if loc is None:
            return None
        k, i = loc
        return int(g.state_arrays[k][i])

    def check_granule(self, addr: int, state, prefix: str):
        """The spec's granule check (``<prefix>_align``, ``_bound``, ``_state``): the label of the
        first failing condition, or None if ``addr`` is a granule in ``state``."""
        if addr % GRANULE_SIZE:
            return f"{prefix}_align"
        st = self.granule_state(addr)
        if st is None:
            return f"{prefix}_bound"
        if st != int(state):
            return f"{prefix}_state"
        return None

    def wipe(self, pa: int) -> None:
        """Zero the granule at ``pa`` in the RMM's encryption context."""
        self.platform.mec.store_granule(pa, None, RMM_CONTEXT)

    # --- Non-secure memory the host passes by pointer ----------------------------------------------
    def check_ns_granule(self, addr: int, prefix: str):
        """The check of a pointer to a host granule: aligned, tracked DRAM, UNDELEGATED, and its GPI
        lets the Realm world read it as Non-secure (the GPC would fault otherwise; TF-RMM returns
        ERROR_INPUT when its access to the host page takes a GPF). Returns the failing label."""
        label = self.check_granule(addr, GranuleState.UNDELEGATED, prefix)
        if label is not None:
            return label
        if not self.platform.gpc_allows(addr, PAS.NONSECURE):
            return f"{prefix}_pas"
        return None

    def ns_read(self, addr: int, n: int = GRANULE_SIZE) -> bytes:
        """Read host memory (already checked with :meth:`check_ns_granule`)."""
        return self.platform.mec.read(addr, n, _NS_CONTEXT)

    def ns_view(self, addr: int, n: int = GRANULE_SIZE):
        """Host memory (already checked) as a uint8 array view: the RMM copies it at once."""
        return self.platform.mec.view(addr, n, _NS_CONTEXT)

    def ns_write(self, addr: int, data: bytes) -> None:
        """Write host memory (already checked) in the Non-secure context."""
        self.platform.mec.write(addr, data, _NS_CONTEXT)

    # --- realms, RECs and RTT entries -------------------------------------------------------------
    def realm_at(self, rd: int):
        return self.realms.get(rd)

    def measurement(self, rd: int, index: int = 0) -> bytes:
        """The current RIM (``index`` 0) or REM (1-4) of the realm whose RD is at ``rd``: a debug view
        (on hardware only the realm itself, through RSI, and its attestation token reveal them)."""
        if rd not in self.realms:
            raise KeyError(f"there is no realm with its RD at {rd:#x}")
        if not 0 <= index <= 4:
            raise ValueError("measurement index 0 is the RIM, 1-4 the REMs")
        return bytes(self.realms[rd].measurements[index])

    def read_entry(self, epa: int) -> int:
        return int(self._words[epa >> 3]) & 0xFFFF_FFFF_FFFF_FFFF

    def write_entry(self, epa: int, value: int) -> None:
        """Store one RTT entry (firmware writes the table in the RMM's context; dirty above the PoE)."""
        self._words[epa >> 3] = np.uint64(value).view(np.int64) if value >> 63 else value
        self.platform.mec.dirty[epa >> 12] = 1

    def fill_rtt(self, rtt: int, entries) -> None:
        """Store 512 entries (an array of uint64) into the RTT at ``rtt``."""
        self._words[rtt >> 3:(rtt >> 3) + s2tt.ENTRIES] = np.asarray(entries, dtype=np.uint64).view(np.int64)
        self.platform.mec.dirty[rtt >> 12] = 1

    def rtt_entries(self, rtt: int) -> np.ndarray:
        """The 512 entries of the RTT at ``rtt`` (uint64 view)."""
        return self._words[rtt >> 3:(rtt >> 3) + s2tt.ENTRIES].view(np.uint64)

    def walk(self, realm, ipa: int, level: int):
        return s2tt.walk(self._words, realm, ipa, level)

    def top_of_non_live(self, w, ipa: int) -> int:
        """The end of the run of non-live entries from ``ipa`` in the table holding walk ``w``'s
        entry: ``ipa`` itself if that entry is live, else the IPA of the next live entry in that
        table, or the end of the table (spec: "top of non-live region")."""
        size = s2tt.LEVEL_SIZE[w.level]
        base = ipa & ~(size * s2tt.ENTRIES - 1)
        ents = self.rtt_entries(w.rtt)
        start = s2tt.index(ipa, w.level)
        for j in range(start, s2tt.ENTRIES):
            if s2tt.is_live(int(ents[j]), w.level):
                return base + j * size if j > start else ipa
        return base + s2tt.ENTRIES * size

    def tlbi_realm(self, realm, ipa: int | None = None) -> None:
        """TLBI IPAS2E1IS + VMALLE1IS (or VMALLS12E1IS) for the realm's VMID on every PE, as the RMM
        does after breaking a mapping."""
        dropped = sum(pe.invalidate_guest(PAS.REALM, realm.vmid) for pe in self.platform._pes.values())
        what = f"IPAS2E1IS {ipa:#x} + VMALLE1IS" if ipa is not None else "VMALLS12E1IS"
        self.platform.events.append("tlbi", self.actor, f"TLBI {what} for VMID {realm.vmid}: {dropped} entries "
                                    "dropped", vmid=realm.vmid, ipa=ipa, dropped=dropped)

    # --- invariants ------------------------------------------------------------------------------
    def check_rtt_invariants(self) -> None:
        """Every RTT's refcount equals its live entries; every RD's refcount equals its RECs; each
        ASSIGNED entry maps DATA granules (all of a block's) owned once, and every DATA granule is
        mapped; each TABLE entry points at an RTT; RD and REC granules are exactly the realms and RECs.
        Raises AssertionError naming the first broken rule (a model bug)."""
        seen_data = {}
        for rd, realm in self.realms.items():
            live_recs = sum(1 for r in realm.recs if r is not None)
            assert self.granules.refcount(rd) == live_recs, f"RD {rd:#x} refcount != its {live_recs} RECs"
            for k in range(realm.rtt_num_start):
                self._check_rtt(realm, realm.rtt_base + k * GRANULE_SIZE, realm.rtt_level_start, seen_data)
        g = self.granules
        orphans = set(g.granules_in(GranuleState.DATA).tolist()) - set(seen_data)
        assert not orphans, f"DATA granule {min(orphans):#x} is mapped by no realm"
        assert set(g.granules_in(GranuleState.RD).tolist()) == set(self.realms), "RD granules and realms differ"
        assert set(g.granules_in(GranuleState.REC).tolist()) == set(self.recs), "REC granules and RECs differ"

    def _check_rtt(self, realm, rtt: int, level: int, seen_data: dict) -> None:
        g = self.granules
        assert g.state(rtt) == GranuleState.RTT, f"{rtt:#x} is walked as an RTT but is {g.state(rtt).name}"
        ents = self.rtt_entries(rtt)
        live = 0
        for j in np.nonzero(ents)[0].tolist():
            e = int(ents[j])
            hipas, _, pa = s2tt.decode(e, level)
            if hipas == s2tt.Hipas.TABLE:
                live += 1
                self._check_rtt(realm, pa, level + 1, seen_data)
            elif hipas == s2tt.Hipas.ASSIGNED:
                live += 1
                for data in range(pa, pa + s2tt.LEVEL_SIZE[level], GRANULE_SIZE):  # a block: every granule
                    assert g.state(data) == GranuleState.DATA, f"RTT entry maps {data:#x}, which is not DATA"
                    assert data not in seen_data, f"DATA granule {data:#x} is mapped twice"
                    seen_data[data] = realm.rd
            elif hipas == s2tt.Hipas.ASSIGNED_NS:
                live += 1
        assert g.refcount(rtt) == live, f"RTT {rtt:#x} has refcount {g.refcount(rtt)} but {live} live entries"


_ZEROS = tuple((0,) * n for n in range(8))

#: The commands that extend the RIM (their "return" event carries the RIM after the call).
_MEASURED = frozenset({"RMI_REALM_CREATE", "RMI_DATA_CREATE", "RMI_REC_CREATE", "RMI_RTT_INIT_RIPAS"})


def _fmt_call(name, regs) -> str:
    return f"{name}({', '.join(f'{a:#x}' for a in regs)})"


def _fmt_return(name, results, failure) -> str:
    shown = ", ".join([describe(results[0])] + [f"{v:#x}" for v in results[1:]])
    why = f"  [{failure}]" if failure else ""
    return f"{name} -> {shown}{why}"


register_formatter("rmi.call", _fmt_call)
register_formatter("rmi.return", _fmt_return)


__all__ = ["Rmm", "RMI_HANDLERS", "RmiHandler", "as_registers", "RMM_CONTEXT"]
