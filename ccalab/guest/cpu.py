"""The vCPU as a guest program sees it: loads, stores, and the RSI and PSCI calls a realm makes.

Every method is a generator to be used with ``yield from``; it yields one :class:`~.isa.Op` (or a
few, for calls a Linux realm wraps in a loop) and returns what the operation produced::

    def program(cpu):
        cfg = yield from cpu.realm_config(CONFIG_IPA)
        yield from cpu.accept_ram(0, 64 << 20)
        value = yield from cpu.load(0x1000)

Spec: RMM DEN0137 1.0-rel0, B5.3 "RSI commands" (arguments and results of each call); Linux
``arch/arm64/include/asm/rsi_cmds.h`` for how a realm kernel drives them (the loops around
IPA_STATE_SET and ATTESTATION_TOKEN_CONTINUE).
"""

from __future__ import annotations

import struct

from ..firmware.psci import PsciFid, as_signed
from ..firmware.rmm.rsi.status import RIPAS_CHANGE_DESTROYED, RsiFid, RsiStatus
from ..firmware.rmm.structs import REALM_CONFIG, unpack
from .isa import HVC, LOAD, READ, SMC, STORE, TOUCH, WFI, WRITE, Op


class RsiError(Exception):
    """An RSI call returned a status other than the one the program expected."""

    def __init__(self, call: str, status: int):
        try:
            name = RsiStatus(status).spec_name
        except ValueError:
            name = f"{status:#x}"
        super().__init__(f"{call} returned {name}")
        self.call, self.status = call, status


class GuestCpu:
    """One vCPU of a realm, as its program sees it.

    Attributes
    ----------
    index : int
        The REC's index (0 for the boot CPU).
    mpidr : int
        Its RmiRecMpidr value.
    gprs : list
        X0..X7 at entry (from RmiRecParams, or X0 = the context id of a CPU_ON).
    pc : int
        The entry point (IPA) the program was found at.
    console : list
        Lines the program printed (programs append to it; the host sees only what goes through
        shared memory or MMIO).
    """

    def __init__(self, index: int, mpidr: int, gprs, pc: int):
        self.index, self.mpidr, self.gprs, self.pc = index, mpidr, list(gprs), pc
        self.console = []
        self.notes = {}

    # --- memory ----------------------------------------------------------------------------------
    def load(self, ipa: int, size: int = 8):
        return (yield Op(LOAD, (ipa, size)))

    def store(self, ipa: int, value: int, size: int = 8):
        return (yield Op(STORE, (ipa, size, value)))

    def read(self, ipa: int, n: int):
        return (yield Op(READ, (ipa, n)))

    def write(self, ipa: int, data: bytes):
        return (yield Op(WRITE, (ipa, bytes(data))))

    def touch(self, ipa: int, pages: int, write: bool = False):
        """One access per 4 KB page of ``[ipa, ipa + pages * 4096)``: a store of the page's IPA in
        its first word if ``write``, else a load of it. Returns the sum of the words loaded."""
        return (yield Op(TOUCH, (ipa, pages, bool(write))))

    def wfi(self):
        return (yield Op(WFI, ()))

    def hvc(self, fid: int, *args):
        return (yield Op(HVC, (fid, *args)))

    def smc(self, fid: int, *args):
        """An SMC: returns the result registers (X0, X1, ...)."""
        return (yield Op(SMC, (fid, *args)))

    def print(self, text: str):
        """Write a line to the guest's own console record (no I/O: see :mod:`.programs` for output
        through shared memory)."""
        self.console.append(str(text))
        return
        yield  # a generator like the others

    # --- RSI ---------------------------------------------------------------------------------------
    def rsi_version(self):
        regs = yield from self.smc(RsiFid.RSI_VERSION, 0x10000)
        return regs[0], regs[1], regs[2]

    def realm_config(self, ipa: int):
        """RSI_REALM_CONFIG into the page at ``ipa``; returns its fields as a dict."""
        regs = yield from self.smc(RsiFid.RSI_REALM_CONFIG, ipa)
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_REALM_CONFIG", regs[0])
        page = yield from self.read(ipa, 4096)
        return unpack(REALM_CONFIG, page)

    def ipa_state_set(self, base: int, top: int, ripas: int, change_destroyed: bool = False):
        """RSI_IPA_STATE_SET, repeated until the host has processed the whole range or refused.

        Returns ``(next_base, response)``: ``next_base == top`` when everything changed; a REJECT
        stops the loop (the Linux realm kernel treats it as an error)."""
        flags = RIPAS_CHANGE_DESTROYED if change_destroyed else 0
        while base < top:
            regs = yield from self.smc(RsiFid.RSI_IPA_STATE_SET, base, top, ripas, flags)
            if regs[0] != RsiStatus.SUCCESS:
                raise RsiError("RSI_IPA_STATE_SET", regs[0])
            nxt, response = regs[1], regs[2]
            if response != 0 or nxt <= base:
                return nxt, response
            base = nxt
        return base, 0

    def accept_ram(self, base: int, top: int):
        """Set RIPAS RAM on ``[base, top)`` (what a realm kernel does for its RAM at boot)."""
        return (yield from self.ipa_state_set(base, top, 1))

    def ipa_state_get(self, base: int, end: int):
        regs = yield from self.smc(RsiFid.RSI_IPA_STATE_GET, base, end)
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_IPA_STATE_GET", regs[0])
        return regs[1], regs[2]

    def measurement_read(self, index: int):
        regs = yield from self.smc(RsiFid.RSI_MEASUREMENT_READ, index)
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_MEASUREMENT_READ", regs[0])
        return struct.pack("<8Q", *regs[1:9])

    def measurement_extend(self, index: int, value: bytes):
        value = bytes(value)
        if len(value) > 64:
            raise ValueError("RSI_MEASUREMENT_EXTEND takes at most 64 bytes")
        words = struct.unpack("<8Q", value.ljust(64, b"\0"))
        regs = yield from self.smc(RsiFid.RSI_MEASUREMENT_EXTEND, index, len(value), *words)
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_MEASUREMENT_EXTEND", regs[0])

    def attestation_token(self, challenge: bytes, buf_ipa: int, chunk: int = 4096):
        """RSI_ATTESTATION_TOKEN_INIT then CONTINUE until SUCCESS, each chunk into the page at
        ``buf_ipa``; returns the token bytes."""
        challenge = bytes(challenge).ljust(64, b"\0")
        if len(challenge) != 64:
            raise ValueError("a challenge is at most 64 bytes")
        if chunk <= 0:  # CONTINUE with size 0 copies nothing: the loop would never end
            raise ValueError(f"a chunk is at least one byte, not {chunk}")
        regs = yield from self.smc(RsiFid.RSI_ATTESTATION_TOKEN_INIT, *struct.unpack("<8Q", challenge))
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_ATTESTATION_TOKEN_INIT", regs[0])
        token = bytearray()
        while True:
            regs = yield from self.smc(RsiFid.RSI_ATTESTATION_TOKEN_CONTINUE, buf_ipa, 0, chunk)
            if regs[0] not in (RsiStatus.SUCCESS, RsiStatus.INCOMPLETE):
                raise RsiError("RSI_ATTESTATION_TOKEN_CONTINUE", regs[0])
            if regs[1]:
                token += yield from self.read(buf_ipa, regs[1])
            if regs[0] == RsiStatus.SUCCESS:
                return bytes(token)

    def host_call(self, ipa: int, imm: int, gprs=()):
        """RSI_HOST_CALL with the RsiHostCall at ``ipa``; returns the gprs the host wrote back."""
        buf = struct.pack("<H6x", imm) + struct.pack("<31Q", *(list(gprs) + [0] * (31 - len(gprs))))
        yield from self.write(ipa, buf)
        regs = yield from self.smc(RsiFid.RSI_HOST_CALL, ipa)
        if regs[0] != RsiStatus.SUCCESS:
            raise RsiError("RSI_HOST_CALL", regs[0])
        back = yield from self.read(ipa + 8, 31 * 8)
        return list(struct.unpack("<31Q", back))

    # --- PSCI ------------------------------------------------------------------------------------
    def psci_version(self):
        return (yield from self.smc(PsciFid.PSCI_VERSION))[0]

    def cpu_on(self, mpidr: int, entry: int, context: int = 0) -> int:
        """PSCI CPU_ON: returns the PSCI result as a signed int (0 SUCCESS, -4 ALREADY_ON, ...)."""
        return as_signed((yield from self.smc(PsciFid.CPU_ON, mpidr, entry, context))[0])

    def affinity_info(self, mpidr: int) -> int:
        return as_signed((yield from self.smc(PsciFid.AFFINITY_INFO, mpidr, 0))[0])

    def cpu_off(self):
        return (yield from self.smc(PsciFid.CPU_OFF))

    def system_off(self):
        return (yield from self.smc(PsciFid.SYSTEM_OFF))

    def system_reset(self):
        return (yield from self.smc(PsciFid.SYSTEM_RESET))


__all__ = ["GuestCpu", "RsiError"]
