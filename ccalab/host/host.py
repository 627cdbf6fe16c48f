"""The host's side of the RMI: granule allocation in Non-secure DRAM, SMCs with a record of every
call and its status, and the structures it passes by pointer.

Spec: RMM DEN0137 1.0-rel0, the RMI commands (what a host passes and what it gets back); Linux
``arch/arm64/kvm/rmi.c`` / ``rme.c`` for how a KVM host drives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.pas import PAS
from ..firmware.rmm.fids import RmiFid
from ..firmware.rmm.status import RmiStatus, describe
from ..firmware.rmm.structs import EXIT_OFFSET, REC_ENTER, REC_EXIT, pack, unpack

GRANULE = 4096
_BY_NAME = {f.name.removeprefix("RMI_"): int(f) for f in RmiFid}
_NAMES = {int(f): f.name for f in RmiFid}


class HostError(RuntimeError):
    """An RMI call the host needed failed: carries the call (with its status and failure label)."""

    def __init__(self, call, hint: str = ""):
        super().__init__(f"{call}" + (f": {hint}" if hint else ""))
        self.call = call


@dataclass
class RmiCall:
    """One SMC the host made: command name, arguments, result registers and the failing condition."""

    name: str
    args: tuple
    results: tuple
    failure: str | None = None

    @property
    def status(self):
        return RmiStatus(self.results[0] & 0xFF) if (self.results[0] >> 16) == 0 else None

    @property
    def index(self) -> int:
        return (self.results[0] >> 8) & 0xFF

    @property
    def ok(self) -> bool:
        return self.results[0] == 0

    def __str__(self) -> str:
        args = ", ".join(f"{a:#x}" for a in self.args)
        out = describe(self.results[0])
        more = "".join(f", X{i} = {v:#x}" for i, v in enumerate(self.results[1:], 1) if v)
        why = f"  [{self.failure}]" if self.failure else ""
        return f"{self.name}({args}) -> {out}{more}{why}"


class Host:
    """The Non-secure hypervisor of one platform.

    Parameters
    ----------
    platform : Platform
    pool : (base, size), optional
        The Non-secure DRAM the host allocates granules from (default: the Non-secure DRAM above its
        first 64 MiB, which stays the host's own).
    record : bool
        Keep every call in :attr:`calls` (a realm build makes one per page; turn off for big ones).
    """

    def __init__(self, platform, pool=None, record: bool = True):
        self.p = platform
        if pool is None:
            r = platform.ns_dram()
            pool = (r.base + (64 << 20), r.size - (64 << 20))
        self.pool_base, self.pool_size = int(pool[0]), int(pool[1])
        self._next = self.pool_base
        self._free = []
        self.calls = []
        self.record = record
        self.realms = []

    # --- granules ----------------------------------------------------------------------------------
    def alloc(self, n: int = 1, contiguous: bool = True) -> int:
        """``n`` contiguous Non-secure granules (the PA of the first)."""
        if n == 1 and self._free:
            return self._free.pop()
        pa = self._next
        if pa + n * GRANULE > self.pool_base + self.pool_size:
            raise HostError(f"the host is out of Non-secure memory (asked for {n} granules)")
        self._next += n * GRANULE
        return pa

    def free(self, pa: int) -> None:
        self._free.append(pa)

    # --- SMCs ----------------------------------------------------------------------------------------
    def rmi(self, fid, *args) -> RmiCall:
        """Call an RMI command (an :class:`RmiFid` or its name without the prefix, e.g.
        ``"REALM_CREATE"``); returns the :class:`RmiCall` (also kept in :attr:`calls`)."""
        if isinstance(fid, str):
            name = fid
            fid = _BY_NAME.get(name.upper().removeprefix("RMI_"))
            if fid is None:
                raise ValueError(f"no RMI command called {name!r}; commands: {', '.join(_BY_NAME)}")
        fid = int(fid)
        results = self.p.smc(fid, *args)
        name = _NAMES.get(fid) or f"{fid:#x}"
        call = RmiCall(name, args, results, self.p.rmm.last_failure)
        if self.record:
            self.calls.append(call)
        return call

    def must(self, fid, *args, hint: str = "") -> RmiCall:
        """:meth:`rmi`, raising :class:`HostError` (which carries the call) if it fails."""
        call = self.rmi(fid, *args)
        if not call.ok:
            raise HostError(call, hint)
        return call

    def _must_fast(self, fid: int, *args) -> tuple:
        """:meth:`must` for the bulk loops of a build: the result registers; the :class:`RmiCall`
        record is made only when kept (``record``) or when the call failed."""
        results = self.p.smc(fid, *args)
        if results[0] or self.record:
            call = RmiCall(_NAMES.get(fid, f"{fid:#x}"), args, results, self.p.rmm.last_failure)
            if self.record:
                self.calls.append(call)
            if results[0]:
                raise HostError(call)
        return results

    def delegate(self, n: int = 1) -> list:
        """Allocate ``n`` contiguous granules and delegate each; their PAs."""
        base = self.alloc(n)
        out = []
        fid = _BY_NAME["GRANULE_DELEGATE"]
        for k in range(n):
            pa = base + k * GRANULE
            self._must_fast(fid, pa)
            out.append(pa)
        return out

    # --- structures in host memory ------------------------------------------------------------------
    def write_struct(self, layout, values: dict, pa: int | None = None) -> int:
        """Write a structure (RmiRealmParams, RmiRecParams, ...) into a host page; its PA."""
        pa = self.alloc() if pa is None else pa
        self.p.phys_write(pa, bytes(pack(layout, values)), PAS.NONSECURE)
        return pa

    def write_enter(self, run: int, flags: int = 0, gprs=()) -> None:
        self.p.phys_write(run, bytes(pack(REC_ENTER, {"flags": flags, "gprs": list(gprs)}, size=0x800)),
                          PAS.NONSECURE)

    def read_exit(self, run: int) -> dict:
        return unpack(REC_EXIT, self.p.phys_read(run + EXIT_OFFSET, 0x800, PAS.NONSECURE))

    # --- the host as attacker --------------------------------------------------------------------------
    def peek(self, pa: int, n: int = 16):
        """Read physical memory as the host (Non-secure PAS): the bytes, or the fault that stopped it."""
        from ..errors import GranuleProtectionFault

        try:
            return self.p.phys_read(pa, n, PAS.NONSECURE)
        except GranuleProtectionFault as exc:
            return exc

    def poke(self, pa: int, data: bytes):
        """Write physical memory as the host: None, or the fault that stopped it."""
        from ..errors import GranuleProtectionFault

        try:
            self.p.phys_write(pa, data, PAS.NONSECURE)
            return None
        except GranuleProtectionFault as exc:
            return exc

    def build_realm(self, config=None, progress=None, **kwargs):
        """Build and activate a realm from a :class:`RealmConfig` (or its fields as keywords);
        returns its :class:`RealmHandle`. ``progress(done, total)`` is called while DATA pages are
        created."""
        from .builder import build_realm

        return build_realm(self, config, progress, **kwargs)

    def calls_text(self, last: int | None = None) -> str:
        calls = self.calls if last is None else self.calls[-last:]
        return "\n".join(str(c) for c in calls)


__all__ = ["Host", "HostError", "RmiCall"]
