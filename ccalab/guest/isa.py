"""What a realm guest program can do: the operations it yields, and the exceptions it may take.

A guest does not run an instruction set in this model. It is a Python generator that yields one
:class:`Op` per architectural action (a load, a store, an SMC, ...) and receives its result, as a
program's next instruction sees the effect of the last. The RMM's execution loop performs each
operation on the realm's PE: stage-2 translation through the realm's RTTs, the granule protection
check and the memory encryption engine, or an RSI/PSCI call; and it stops at every REC exit.

An image is recognised by its boot header: the page at the REC's PC starts with
:data:`MAGIC` followed by the program's name, so the program a realm runs is part of what it
measures (the header page is DATA like any other).
"""

from __future__ import annotations

from typing import NamedTuple

MAGIC = b"CCALAB-GUEST\0"
HEADER_NAME_MAX = 64

LOAD = "load"  # (ipa, size) -> int: an LDR of 1, 2, 4 or 8 bytes (ESR.ISV = 1: emulatable MMIO)
STORE = "store"  # (ipa, size, value) -> None: an STR
READ = "read"  # (ipa, n) -> bytes: a block copy (LDP / vector loads: ISV = 0)
WRITE = "write"  # (ipa, data) -> None: a block store (ISV = 0)
TOUCH = "touch"  # (ipa, pages, write) -> int: one access per page of a range (a kernel's memset)
SMC = "smc"  # (fid, *args) -> registers X0..X8: RSI and PSCI calls
HVC = "hvc"  # (fid, *args): undefined in a realm (an Undefined Instruction exception)
WFI = "wfi"  # () -> None: trapped to the host only if the host asked (RmiRecEnter.flags.trap_wfi)
OPS = (LOAD, STORE, READ, WRITE, TOUCH, SMC, HVC, WFI)


class Op(NamedTuple):
    kind: str
    args: tuple = ()


class GuestException(Exception):
    """An exception the realm's EL1 takes (thrown into the guest program)."""


class SyncExternalAbort(GuestException):
    """A synchronous external abort injected by the RMM: an access to RIPAS EMPTY memory, to an IPA
    beyond the realm's IPA space, an instruction fetch from the unprotected half, or an emulated
    MMIO access the host answered with INJECT_SEA."""

    def __init__(self, ipa: int, why: str):
        super().__init__(f"synchronous external abort at IPA {ipa:#x}: {why}")
        self.ipa, self.why = ipa, why


class UndefinedInstruction(GuestException):
    """An instruction the realm may not execute (an HVC: the RMM injects an Undefined exception)."""


class AlignmentFault(GuestException):
    """A misaligned load or store."""


def header(name: str) -> bytes:
    """The boot header of an image that runs program ``name``."""
    raw = name.encode("ascii")
    if not raw or len(raw) > HEADER_NAME_MAX or b"\0" in raw:
        raise ValueError(f"a program name is 1..{HEADER_NAME_MAX} ASCII characters, got {name!r}")
    return MAGIC + raw + b"\0"


def parse_header(page: bytes):
    """The program name in a boot header, or None if ``page`` does not start with one."""
    if not page.startswith(MAGIC):
        return None
    rest = page[len(MAGIC):len(MAGIC) + HEADER_NAME_MAX + 1]
    end = rest.find(b"\0")
    if end <= 0:
        return None
    try:
        return rest[:end].decode("ascii")
    except UnicodeDecodeError:
        return None


__all__ = ["Op", "OPS", "LOAD", "STORE", "READ", "WRITE", "TOUCH", "SMC", "HVC", "WFI", "MAGIC", "header",
           "parse_header", "GuestException", "SyncExternalAbort", "UndefinedInstruction", "AlignmentFault"]
