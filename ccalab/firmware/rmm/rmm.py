"""The Realm Management Monitor: the RMI dispatch table and the entry point the monitor calls.

One table, :data:`RMI_HANDLERS`, is the single source of truth for dispatch, as TF-RMM's
``smc_handlers[]``: one row per implemented command with its function ID, spec name, number of
arguments (X1..), number of results (X1..) and handler. Every call and its result go to the
platform's event log with kind ``rmi``.

Spec: RMM DEN0137 1.0-rel0, "RMI commands" (register use of each command) and
``RmiCommandReturnCode``; SMCCC DEN0028 for ``SMC_NOT_SUPPORTED``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .fids import RmiFid, SMC_NOT_SUPPORTED, fid_name
from .granule import GranuleTracker
from .rmi.features import rmi_features
from .rmi.granule import rmi_granule_delegate, rmi_granule_undelegate
from .rmi.version import rmi_version
from .status import describe

_REG_MAX = (1 << 64) - 1


class RmiHandler(NamedTuple):
    """One row of the dispatch table."""

    fid: int
    name: str
    n_args: int
    n_results: int
    handler: Callable


#: The implemented RMI commands. Function IDs in the RMI range that are not here (commands of
#: later topics) return ``SMC_NOT_SUPPORTED``, as an unknown ID does.
RMI_HANDLERS = (
    RmiHandler(RmiFid.RMI_VERSION, "RMI_VERSION", 1, 2, rmi_version),
    RmiHandler(RmiFid.RMI_GRANULE_DELEGATE, "RMI_GRANULE_DELEGATE", 1, 0, rmi_granule_delegate),
    RmiHandler(RmiFid.RMI_GRANULE_UNDELEGATE, "RMI_GRANULE_UNDELEGATE", 1, 0, rmi_granule_undelegate),
    RmiHandler(RmiFid.RMI_FEATURES, "RMI_FEATURES", 1, 1, rmi_features),
)

_BY_FID = {int(row.fid): row for row in RMI_HANDLERS}
assert len(_BY_FID) == len(RMI_HANDLERS), "two rows of RMI_HANDLERS share a function ID"
assert all(row.name == RmiFid(row.fid).name for row in RMI_HANDLERS), "a row's name is not its FID's"


def as_registers(fid, args) -> tuple:
    """``(fid, args)`` as 64-bit register values, or TypeError / ValueError for Python misuse.

    A register holds 0..2^64-1: anything else (a float, a string, a negative int, a bool) is a
    mistake in the calling program, not a value a host could put in a register.
    """
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
    debug : bool
        When True, :meth:`GranuleTracker.check_invariants` runs after every command (the test
        suite turns it on; it costs a scan of the tracker per command).
    """

    actor = "RMM"

    def __init__(self, platform):
        self.platform = platform
        self.granules = GranuleTracker(platform)
        self.debug = False

    def handle_smc(self, fid: int, args=()) -> tuple:
        """Run the RMI command ``fid`` with arguments ``args`` (X1, X2, ...).

        Missing arguments are 0, as registers the caller did not set would be (for this model);
        extra ones are ignored. Returns the result registers ``(X0, X1, ...)``: X0 is the return
        code (status | index << 8), followed by the command's results. An ID with no handler
        returns ``(SMC_NOT_SUPPORTED,)``.
        """
        fid, args = as_registers(fid, args)
        row = _BY_FID.get(fid)
        log = self.platform.events
        if row is None:
            log.append("rmi", self.actor, f"{fid_name(fid)}: not supported -> SMC_NOT_SUPPORTED",
                       fid=fid, args=args, results=(SMC_NOT_SUPPORTED,), phase="return")
            return (SMC_NOT_SUPPORTED,)
        regs = (args + (0,) * row.n_args)[:row.n_args]
        log.append("rmi", self.actor, f"{row.name}({', '.join(f'{a:#x}' for a in regs)})", fid=fid,
                   command=row.name, args=regs, phase="call")
        out = row.handler(self, *regs)
        out = out if isinstance(out, tuple) else (out,)
        assert len(out) <= 1 + row.n_results, f"{row.name} returned {len(out)} registers"
        results = tuple(int(v) for v in out) + (0,) * (1 + row.n_results - len(out))
        shown = ", ".join([describe(results[0])] + [f"{v:#x}" for v in results[1:]])
        log.append("rmi", self.actor, f"{row.name} -> {shown}", fid=fid, command=row.name, args=regs,
                   results=results, phase="return")
        if self.debug:
            self.granules.check_invariants()
        return results


__all__ = ["Rmm", "RMI_HANDLERS", "RmiHandler", "as_registers"]
