"""Granule states and the RMM's granule tracker: one state and one reference count per 4 KB granule.

The tracker covers the platform's DRAM banks, whole, one flat array pair per bank, indexed
by ``(pa - bank.base) >> 12``: that is this model's ``PaIsDelegable`` (implementation defined
in the spec). Granules of the Secure, Root and RMM carve-outs are therefore in bounds, and EL3
refuses to delegate them because their GPI is not Non-secure (gran_gpt). TF-RMM on the FVP is
told only of the Non-secure part of DRAM, so there the carve-outs fail gran_bound instead; both
give ERROR_INPUT.

The arrays are lazily allocated mappings, so a machine with tens of GiB of DRAM costs only the
granules the RMM has touched. Every state change goes through :meth:`GranuleTracker.transition`, which consults
:data:`ALLOWED_TRANSITIONS`; :meth:`GranuleTracker.check_invariants` checks the per-state contract.

Spec: RMM DEN0137 1.0-rel0, ``RmmGranuleState`` and the granule life cycle (A2.2 "Granule");
the per-state refcount rules follow TF-RMM ``lib/granule/include/granule_types.h``.
"""

from __future__ import annotations

import enum

import numpy as np

from ...arch.mec.engine import context_id
from ...arch.memory import sparse_zeros
from ...arch.pas import GPI, PAS

#: The RMM's granule size: 4 KB, whatever granule size the GPT uses.
GRANULE_SIZE = 4096
GRANULE_SHIFT = 12


class GranuleState(enum.IntEnum):
    """RmmGranuleState: what a 4 KB granule of DRAM is used for, as the RMM tracks it.

    UNDELEGATED
        Not the RMM's: the host (or another world) owns it. Refcount 0. The GPT says whatever
        EL3 set up at boot (Non-secure for host DRAM).
    DELEGATED
        Given to the Realm world (GPI Realm) and unused. Refcount 0. Reads as zero in the RMM's
        own context (Realm PAS, MECID 0), so no data passes from one owner to the next.
    RD
        A Realm Descriptor. Refcount counts the objects that refer to the realm (its RECs).
    REC
        A Realm Execution Context. Refcount is non-zero while the REC runs.
    REC_AUX
        An auxiliary granule of a REC. Refcount 0.
    DATA
        A page of realm memory, mapped in the realm's stage 2. Refcount 0.
    RTT
        A Realm Translation Table. Refcount counts its live entries (mapped or table).

    The values are this model's (the spec names the states but gives no encoding); 0 for
    UNDELEGATED makes a zero-filled tracker the state at boot.
    """

    UNDELEGATED = 0
    DELEGATED = 1
    RD = 2
    REC = 3
    REC_AUX = 4
    DATA = 5
    RTT = 6


_S = GranuleState

#: The granule life cycle: a granule is delegated, used as one object, given back, undelegated.
ALLOWED_TRANSITIONS = frozenset({
    (_S.UNDELEGATED, _S.DELEGATED),  # RMI_GRANULE_DELEGATE
    (_S.DELEGATED, _S.UNDELEGATED),  # RMI_GRANULE_UNDELEGATE
    *((_S.DELEGATED, s) for s in (_S.RD, _S.REC, _S.REC_AUX, _S.DATA, _S.RTT)),  # object created
    *((s, _S.DELEGATED) for s in (_S.RD, _S.REC, _S.REC_AUX, _S.DATA, _S.RTT)),  # object destroyed
})

#: States in which the refcount must be zero.
ZERO_REFCOUNT_STATES = frozenset({_S.UNDELEGATED, _S.DELEGATED, _S.REC_AUX, _S.DATA})


_ALLOWED = frozenset((int(a), int(b)) for a, b in ALLOWED_TRANSITIONS)
_ZERO_REFCOUNT = frozenset(int(x) for x in ZERO_REFCOUNT_STATES)


class GranuleInvariantError(AssertionError):
    """The granule tracker broke its own rules: a bug in the model, never a host's mistake."""


class GranuleTracker:
    """The state and refcount of every 4 KB granule of the platform's DRAM.

    Parameters
    ----------
    platform : Platform
        The machine whose DRAM banks (``kind == "dram"`` in its memory map) are tracked.

    Notes
    -----
    ``state_arrays`` / ``refcount_arrays`` hold one ``uint8`` / ``uint32`` array per bank, in the
    order of :attr:`banks`; both start all zero (UNDELEGATED, refcount 0).
    """

    def __init__(self, platform):
        self._p = platform
        self.banks = tuple((r.base, r.size) for r in platform.memory_map if r.kind == "dram")
        self.bank0_base, self.bank0_end = self.banks[0][0], self.banks[0][0] + self.banks[0][1]
        self._maps = []
        self.state_arrays = []
        self.refcount_arrays = []
        for _, size in self.banks:
            n = size >> GRANULE_SHIFT
            m1, state = sparse_zeros(n)
            m2, refs = sparse_zeros(4 * n)
            self._maps += [m1, m2]
            self.state_arrays.append(state[:n])
            self.refcount_arrays.append(refs.view(np.uint32)[:n])

    # --- lookup ------------------------------------------------------------------------------
    def _locate(self, pa: int):
        """``(bank, index)`` of the granule at ``pa``, or None if ``pa`` is not a tracked, aligned PA."""
        if pa < 0 or pa % GRANULE_SIZE:
            return None
        for k, (base, size) in enumerate(self.banks):
            if base <= pa < base + size:
                return k, (pa - base) >> GRANULE_SHIFT
        return None

    def is_aligned(self, pa: int) -> bool:
        """Whether ``pa`` is 4 KB aligned."""
        return int(pa) % GRANULE_SIZE == 0

    def is_tracked(self, pa: int) -> bool:
        """Whether the granule starting at ``pa`` is DRAM the RMM tracks (spec ``PaIsDelegable``)."""
        return self._locate(int(pa)) is not None

    def _at(self, pa: int):
        loc = self._locate(int(pa))
        if loc is None:
            raise ValueError(f"{int(pa):#x} is not the address of a tracked granule (4 KB aligned, in DRAM)")
        return loc

    def state(self, pa: int) -> GranuleState:
        """The state of the granule at ``pa`` (a tracked, aligned PA)."""
        k, i = self._at(pa)
        return GranuleState(int(self.state_arrays[k][i]))

    def refcount(self, pa: int) -> int:
        """The reference count of the granule at ``pa``."""
        k, i = self._at(pa)
        return int(self.refcount_arrays[k][i])

    def refcount_add(self, pa: int, delta: int) -> int:
        """Add ``delta`` (+1 or -1) to the refcount of the granule at ``pa``; returns the new count."""
        k, i = self._at(pa)
        new = self.refcount_arrays[k].item(i) + int(delta)
        if new < 0 or new >= 1 << 32:
            raise GranuleInvariantError(f"refcount of granule {int(pa):#x} would become {new}")
        self.refcount_arrays[k][i] = new
        return new

    # --- the one place states change ---------------------------------------------------------
    def transition(self, pa: int, new_state) -> None:
        """Move the granule at ``pa`` to ``new_state``.

        Raises :class:`GranuleInvariantError` if :data:`ALLOWED_TRANSITIONS` does not hold the
        change, or if ``new_state`` needs a zero refcount and the granule's is not zero: a handler
        that asks for either has a bug (its checks should have refused the command).
        """
        new = int(new_state)
        k, i = self._at(pa)
        states = self.state_arrays[k]
        old = states.item(i)
        if (old, new) not in _ALLOWED:
            raise GranuleInvariantError(f"granule {int(pa):#x}: {GranuleState(old).name} -> "
                                        f"{GranuleState(new).name} is not a transition of the granule life cycle")
        if new in _ZERO_REFCOUNT and self.refcount_arrays[k].item(i):
            raise GranuleInvariantError(f"granule {int(pa):#x} enters {GranuleState(new).name} with refcount "
                                        f"{int(self.refcount_arrays[k][i])}")
        states[i] = new

    # --- inspection --------------------------------------------------------------------------
    def granules_in(self, state) -> np.ndarray:
        """Physical addresses (sorted) of every granule in ``state``."""
        state = int(GranuleState(state))
        out = [base + (np.nonzero(arr == state)[0].astype(np.int64) << GRANULE_SHIFT)
               for (base, _), arr in zip(self.banks, self.state_arrays)]
        return np.concatenate(out) if out else np.empty(0, np.int64)

    def counts(self) -> dict:
        """How many granules are in each state."""
        total = np.zeros(len(GranuleState), np.int64)
        for arr in self.state_arrays:
            total += np.bincount(arr, minlength=len(GranuleState))[:len(GranuleState)]
        return {s: int(total[s]) for s in GranuleState}

    def check_invariants(self) -> int:
        """Check the per-state contract of every granule; return how many the RMM owns (not UNDELEGATED).

        - every state value is a :class:`GranuleState`;
        - the refcount is zero in UNDELEGATED, DELEGATED, REC_AUX and DATA;
        - every granule the RMM owns (any state but UNDELEGATED) has GPI Realm;
        - every DELEGATED granule reads as zero through the encryption engine in the RMM's own
          context (Realm PAS, MECID 0).

        Raises :class:`GranuleInvariantError` naming the first granule that breaks a rule.
        """
        checked = 0
        zero_ok = sorted(int(s) for s in ZERO_REFCOUNT_STATES)
        for (base, _), st, rc in zip(self.banks, self.state_arrays, self.refcount_arrays):
            bad = np.nonzero(st > max(GranuleState))[0]
            if bad.size:
                raise GranuleInvariantError(f"granule {base + (int(bad[0]) << GRANULE_SHIFT):#x} has state "
                                            f"{int(st[bad[0]])}, which is not a GranuleState")
            bad = np.nonzero(np.isin(st, zero_ok) & (rc != 0))[0]
            if bad.size:
                g = int(bad[0])
                raise GranuleInvariantError(f"granule {base + (g << GRANULE_SHIFT):#x} is "
                                            f"{GranuleState(int(st[g])).name} with refcount {int(rc[g])}")
            checked += int(np.count_nonzero(st))
        owned = np.concatenate([self.granules_in(s) for s in GranuleState if s != GranuleState.UNDELEGATED])
        rmm_ctx = context_id(PAS.REALM, 0)
        delegated = set(self.granules_in(GranuleState.DELEGATED).tolist())
        gpis = self._p.gpis_of(owned) if owned.size else owned
        bad = np.nonzero(gpis != int(GPI.REALM))[0]
        if bad.size:
            pa = int(owned[bad[0]])
            g = int(gpis[bad[0]])
            name = GPI(g).label if g in GPI._value2member_map_ else "none"
            raise GranuleInvariantError(f"granule {pa:#x} is {self.state(pa).name} but its GPI is {name}, not Realm")
        for pa in sorted(delegated):
            if self._p.mec.read(pa, GRANULE_SIZE, rmm_ctx).count(0) != GRANULE_SIZE:
                raise GranuleInvariantError(f"DELEGATED granule {pa:#x} does not read as zero in the RMM's "
                                            "context (Realm PAS, MECID 0)")
        return checked


__all__ = ["GranuleState", "GranuleTracker", "GranuleInvariantError", "ALLOWED_TRANSITIONS",
           "ZERO_REFCOUNT_STATES", "GRANULE_SIZE"]
