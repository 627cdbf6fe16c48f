"""A small library of realm guest programs, registered by name.

Each program is a generator function ``program(cpu)`` over a :class:`~.cpu.GuestCpu`. The host
puts the program's boot header (:func:`ccalab.guest.isa.header`) at the image's entry point, and
passes the boot parameters in X0..X5 of RmiRecParams (measured with the REC, as a boot loader's
registers are):

======  ==========================================================================
X0      IPA of the realm's RAM (protected)
X1      size of the RAM in bytes
X2      IPA of the console (an MMIO device in the unprotected half: emulated by the host)
X3      IPA of a page shared with the host (unprotected half), or 0
X4      IPA of a scratch page in RAM for RSI buffers
X5      program argument (e.g. a challenge seed)
======  ==========================================================================

The programs do what a Linux realm guest does at boot and after: read the realm config, accept
their RAM, print to a console the host emulates, share a buffer with the host through the
unprotected alias of a page, extend a REM, ask for an attestation token, call the host, bring up
secondary CPUs, and power off.
"""

from __future__ import annotations

import hashlib
import struct

from ..firmware.psci import PsciReturn
from .isa import SyncExternalAbort

PROGRAMS = {}


def program(name: str):
    """Register a guest program under ``name`` (the name in its image's boot header)."""

    def deco(fn):
        if name in PROGRAMS:
            raise ValueError(f"a guest program called {name!r} exists already")
        PROGRAMS[name] = fn
        fn.program_name = name
        return fn

    return deco


#: Programs defined in modules that are imported only when a realm first asks for them.
LAZY = {"attester": "ccalab.firmware.attestation"}


def get(name: str):
    """The program called ``name``, or None."""
    if name not in PROGRAMS and name in LAZY:
        import importlib

        importlib.import_module(LAZY[name])
    return PROGRAMS.get(name)


def boot_args(cpu):
    ram, size, console, shared, scratch, arg = cpu.gprs[:6]
    return ram, size, console, shared, scratch, arg


def puts(cpu, console: int, text: str):
    """Print ``text`` + newline through the MMIO console, eight bytes per store (each store is a
    REC exit the host emulates)."""
    cpu.console.append(text)
    raw = (text + "\n").encode()
    for i in range(0, len(raw), 8):
        word = int.from_bytes(raw[i:i + 8].ljust(8, b"\0"), "little")
        yield from cpu.store(console, word, 8)


@program("hello")
def hello(cpu):
    """Say hello on the console, report the IPA width from the realm config, power off."""
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    cfg = yield from cpu.realm_config(scratch)
    yield from puts(cpu, console, f"hello from realm CPU {cpu.index}: IPA width {cfg['ipa_width']} bits")
    yield from cpu.system_off()


@program("linux-boot")
def linux_boot(cpu):
    """A realm kernel's boot, step by step: config, accept RAM, console, shared buffer, a REM,
    an attestation token, a host call, secondary CPUs, power off."""
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    if cpu.index:  # a secondary CPU brought up by CPU_ON: X0 = the context, the IPA of the boot args
        ram, size, console, shared, scratch, arg = struct.unpack("<6Q", (yield from cpu.read(cpu.gprs[0], 48)))
        yield from puts(cpu, console, f"CPU{cpu.index}: online (context {cpu.gprs[0]:#x})")
        yield from cpu.cpu_off()
        return
    cfg = yield from cpu.realm_config(scratch)
    yield from puts(cpu, console, f"realm: IPA width {cfg['ipa_width']}, hash algorithm {cfg['hash_algo']}")
    nxt, resp = yield from cpu.accept_ram(ram, ram + size)
    yield from puts(cpu, console, f"realm: RAM [{ram:#x}, {ram + size:#x}) accepted" if nxt >= ram + size
                    else f"realm: host refused RAM at {nxt:#x}")
    if shared:
        # share the last page of RAM: give up its protected IPA, use its unprotected alias
        page = ram + size - 4096
        yield from cpu.ipa_state_set(page, page + 4096, 0)
        yield from cpu.write(shared, b"hello host, this page is shared\0")
        yield from puts(cpu, console, f"realm: shared page at IPA {shared:#x}")
    yield from cpu.measurement_extend(1, hashlib.sha256(b"realm kernel command line").digest())
    token = yield from cpu.attestation_token(hashlib.sha512(struct.pack("<Q", arg)).digest(), scratch)
    cpu.notes["token"] = token
    yield from puts(cpu, console, f"realm: attestation token of {len(token)} bytes")
    back = yield from cpu.host_call(scratch, 0x1234, [1, 2, 3])
    yield from puts(cpu, console, f"realm: host call returned {back[:3]}")
    # PSCI CPU_ON gives the new CPU only X0, so it carries the IPA of a copy of the boot args (as
    # Linux passes its secondary_data)
    secondary_data = scratch + 0x800
    yield from cpu.write(secondary_data, struct.pack("<6Q", ram, size, console, shared, scratch, arg))
    r = yield from cpu.cpu_on(1, cpu.pc, secondary_data)
    if r == PsciReturn.SUCCESS:
        while (yield from cpu.affinity_info(1)) != 1:  # wait until CPU 1 has switched itself off
            pass
    yield from puts(cpu, console, f"realm: CPU_ON(1) -> {PsciReturn(r).name}")  # after CPU 1's lines
    yield from puts(cpu, console, "realm: powering off")
    yield from cpu.system_off()


@program("secret-keeper")
def secret_keeper(cpu):
    """Keep a secret in private memory and wait for the host (a WFI loop the host preempts)."""
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    secret = b"the realm's secret: " + hashlib.sha256(struct.pack("<Q", arg)).hexdigest().encode()
    yield from cpu.write(ram + 0x2000, secret)
    cpu.notes["secret_ipa"] = ram + 0x2000
    cpu.notes["secret"] = secret
    yield from puts(cpu, console, f"realm: secret stored at IPA {ram + 0x2000:#x}")
    while True:
        check = yield from cpu.read(ram + 0x2000, len(secret))
        if check != secret:
            yield from puts(cpu, console, "realm: my secret changed!")
        yield from cpu.wfi()


@program("memtouch")
def memtouch(cpu):
    """Touch every page of RAM once (a store of its IPA), then read every page back; power off."""
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    pages = size // 4096
    yield from cpu.touch(ram, pages, write=True)
    total = yield from cpu.touch(ram, pages, write=False)
    expect = sum(range(ram, ram + size, 4096))
    cpu.notes["checksum_ok"] = total == expect
    yield from cpu.system_off()


@program("prober")
def prober(cpu):
    """Touch IPAs the host did not back, to show what each RIPAS does: an EMPTY page raises a
    synchronous external abort inside the realm; an unbacked RAM page exits to the host."""
    ram, size, console, shared, scratch, arg = boot_args(cpu)
    results = {}
    for name, ipa in (("ram", ram), ("beyond", ram + size), ("unprotected", shared or 0)):
        try:
            yield from cpu.load(ipa)
            results[name] = "ok"
        except SyncExternalAbort as exc:
            results[name] = f"SEA: {exc.why}"
    cpu.notes["probe"] = results
    yield from cpu.system_off()


__all__ = ["PROGRAMS", "program", "get", "puts", "boot_args"]
