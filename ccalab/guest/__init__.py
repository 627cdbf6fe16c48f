"""Realm guests: programs that run in a realm's RECs, issuing memory accesses through the MMU
model, RSI calls and PSCI calls, and meeting every REC exit as a Linux realm kernel does.

Introduced in ``notebooks/04-life-of-a-realm.ipynb``. Write your own with :func:`program`::

    from ccalab.guest import program

    @program("my-realm")
    def my_realm(cpu):
        cfg = yield from cpu.realm_config(cpu.gprs[4])
        ...
"""

from .cpu import GuestCpu, RsiError
from .isa import AlignmentFault, GuestException, Op, SyncExternalAbort, UndefinedInstruction, header, parse_header
from .programs import PROGRAMS, get, program

__all__ = ["GuestCpu", "RsiError", "Op", "GuestException", "SyncExternalAbort", "UndefinedInstruction",
           "AlignmentFault", "header", "parse_header", "PROGRAMS", "program", "get"]
