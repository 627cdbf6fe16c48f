"""A REC's execution, seen from inside the realm: the access matrix, emulated MMIO, the exceptions
the RMM injects, and what happens when a guest program misbehaves.

Each test runs a small script as the realm's program (picked by X5, the boot argument) and drives
REC_ENTER itself, so that every exit can be checked before the host answers it.
"""

import struct

import pytest


from ccalab.arch.pas import PAS
from ccalab.firmware.psci import PsciFid, PsciReturn
from ccalab.firmware.rmm import realm_exec, s2tt
from ccalab.firmware.rmm.exits import EC_DABT_LOW, EC_IABT_LOW, EC_WFX, ExitReason
from ccalab.firmware.rmm.objects import RealmState
from ccalab.firmware.rmm.status import RmiStatus
from ccalab.firmware.rmm.structs import ENTER_EMUL_MMIO, ENTER_INJECT_SEA, ENTER_TRAP_WFI
from ccalab.guest import (PROGRAMS, AlignmentFault, GuestException, Op, SyncExternalAbort, UndefinedInstruction,
                          header, program)
from ccalab.host import RealmConfig

GRANULE = 4096
DATA_IPA = 0x2000  # the image's third page: known bytes, measured DATA
DATA = bytes((7 * i + 3) & 0xFF for i in range(GRANULE))
MMIO_VALUE = 0xFFEE_DDCC_BBAA_9988

_SCRIPTS = {}


def _caught(cpu):
    """Runs the test's script; records the exception it does not catch; powers the realm off."""
    try:
        yield from _SCRIPTS[cpu.gprs[5]](cpu, *cpu.gprs[:5])
    except GuestException as exc:
        cpu.notes["exception"] = exc
    yield from cpu.system_off()


def _bare(cpu):
    """Runs the test's script and nothing else: what it raises or returns is the realm's fate."""
    return (yield from _SCRIPTS[cpu.gprs[5]](cpu, *cpu.gprs[:5]))


def _plain(cpu):
    """Not a generator function: a program written without ``yield from``."""
    raise RuntimeError("the program's body ran without yielding")


def _value(cpu):
    """Not a generator function either: it returns a value."""
    return 5


@pytest.fixture(scope="module", autouse=True)
def _programs():
    names = {"test-exec-caught": _caught, "test-exec-bare": _bare, "test-exec-plain": _plain,
             "test-exec-value": _value}
    for name, fn in names.items():
        program(name)(fn)
    yield
    for name in names:
        PROGRAMS.pop(name)


def build(host, script=None, runner="test-exec-caught", **kw):
    """A realm whose REC 0 runs ``script(cpu, ram, size, console, shared, scratch)``; its image is a
    header page, a zero page (the scratch page) and the DATA page at :data:`DATA_IPA`."""
    key = len(_SCRIPTS) + 1
    _SCRIPTS[key] = script
    kw.setdefault("image", header(runner).ljust(2 * GRANULE, b"\0") + DATA)
    return host.build_realm(RealmConfig(program=runner, arg=key, **kw))


def enter(realm, flags=0, gprs=(), k=0):
    call, ex = realm.enter(k, flags, gprs)
    assert call.ok, str(call)
    return ex


def fault_ipa(ex):
    return (ex["hpfar"] >> 4) << 12


def ec(ex):
    return ex["esr"] >> 26


def is_system_off(ex):
    return ex["exit_reason"] == ExitReason.PSCI and ex["gprs"][0] == PsciFid.SYSTEM_OFF


def sea_events(p, since=0):
    return [e for e in p.events.of_kind("rec", since) if e.summary.startswith("SEA injected")]


# --- the access matrix: protected IPAs ------------------------------------------------------------
def test_loads_from_assigned_ram_return_what_data_create_put_there(p, host):
    def script(cpu, ram, *_):
        cpu.notes["q"] = yield from cpu.load(ram + DATA_IPA + 8, 8)
        cpu.notes["b"] = yield from cpu.load(ram + DATA_IPA + 5, 1)
        cpu.notes["h"] = yield from cpu.load(ram + DATA_IPA + 6, 2)
        cpu.notes["w"] = yield from cpu.load(ram + DATA_IPA + 12, 4)
        cpu.notes["block"] = yield from cpu.read(ram + DATA_IPA + 0xFF0, 0x10)

    realm = build(host, script)
    ex = enter(realm)
    assert is_system_off(ex)  # no exit on the way: the page was mapped
    notes = realm.guest().notes
    assert notes["q"] == struct.unpack_from("<Q", DATA, 8)[0]
    assert (notes["b"], notes["h"]) == (DATA[5], struct.unpack_from("<H", DATA, 6)[0])
    assert notes["w"] == struct.unpack_from("<I", DATA, 12)[0]
    assert notes["block"] == DATA[0xFF0:]
    assert "exception" not in notes


def test_stores_to_assigned_ram_are_read_back_by_the_realm_but_never_reach_dram_as_plaintext(p, host):
    secret = b"only the realm may read this...."

    def script(cpu, ram, *_):
        yield from cpu.write(ram + DATA_IPA, secret)
        yield from cpu.store(ram + DATA_IPA + 0x100, 0x0123_4567_89AB_CDEF)
        cpu.notes["back"] = yield from cpu.read(ram + DATA_IPA, len(secret))
        cpu.notes["word"] = yield from cpu.load(ram + DATA_IPA + 0x100)

    realm = build(host, script)
    assert is_system_off(enter(realm))
    assert realm.guest().notes["back"] == secret and realm.guest().notes["word"] == 0x0123_4567_89AB_CDEF
    raw = p.dram_read(realm.data[DATA_IPA], GRANULE)
    assert secret not in raw and raw[0x100:0x108] != struct.pack("<Q", 0x0123_4567_89AB_CDEF)


@pytest.mark.parametrize("op", ["load", "store", "read", "write"])
def test_an_access_to_ripas_empty_raises_sea_in_the_realm_without_an_exit(p, host, op):
    def script(cpu, ram, size, *_):
        target = ram + size + 0x3000  # beyond RAM: RIPAS EMPTY
        yield from {"load": lambda: cpu.load(target), "store": lambda: cpu.store(target, 1),
                    "read": lambda: cpu.read(target, 16), "write": lambda: cpu.write(target, b"x" * 16)}[op]()

    realm = build(host, script)
    start = p.events.next_seq
    ex = enter(realm)
    assert is_system_off(ex)
    exc = realm.guest().notes["exception"]
    assert isinstance(exc, SyncExternalAbort) and exc.ipa == 2 * (1 << 20) + 0x3000
    assert "RIPAS EMPTY" in exc.why
    assert [e.kind for e in p.events.of_kind("rec.exit", start)] == ["rec.exit"]  # the PSCI exit only
    assert len(sea_events(p, start)) == 1


@pytest.mark.parametrize("s2sz, sl", [(40, 0), (36, 1)])
def test_an_ipa_beyond_the_ipa_space_raises_sea(p, host, s2sz, sl):
    def script(cpu, *_):
        yield from cpu.load(1 << s2sz)

    realm = build(host, script, s2sz=s2sz, rtt_level_start=sl)
    assert is_system_off(enter(realm))
    exc = realm.guest().notes["exception"]
    assert isinstance(exc, SyncExternalAbort) and exc.ipa == 1 << s2sz and "beyond" in exc.why


def test_unassigned_ram_exits_to_the_host_which_backs_it_and_the_access_is_retried(p, host):
    def script(cpu, ram, *_):
        yield from cpu.store(ram + 0x10008, 0x5EC2E7)
        cpu.notes["v"] = yield from cpu.load(ram + 0x10008)

    realm = build(host, script)
    ex = enter(realm)
    assert ex["exit_reason"] == ExitReason.SYNC
    assert ec(ex) == EC_DABT_LOW and (ex["esr"] >> 25) & 1  # data abort from a lower EL, IL
    assert not (ex["esr"] >> 24) & 1  # ISV = 0: a protected IPA is never emulated
    assert (ex["esr"] >> 6) & 1  # WnR: a write
    assert ex["esr"] & 0x3C == 0x04  # DFSC: a translation fault
    assert ex["hpfar"] == (0x10008 >> 12) << 4 and ex["far"] == 0
    assert ex["gprs"] == [0] * 31
    assert s2tt.name(p.rmm.walk(p.rmm.realms[realm.rd], 0x10000, 3).entry, 3) == "UNASSIGNED/RAM"
    realm.back(fault_ipa(ex))
    assert is_system_off(enter(realm))
    assert realm.guest().notes["v"] == 0x5EC2E7


def test_a_destroyed_page_exits_on_every_access_even_once_the_host_backs_it_again(p, host):
    def script(cpu, ram, *_):
        cpu.notes["before"] = yield from cpu.load(ram + DATA_IPA)
        yield from cpu.wfi()
        cpu.notes["after"] = yield from cpu.load(ram + DATA_IPA)

    realm = build(host, script)
    rmm_realm = p.rmm.realms[realm.rd]
    ex = enter(realm, ENTER_TRAP_WFI)
    assert ec(ex) == EC_WFX
    host.must("DATA_DESTROY", realm.rd, DATA_IPA)
    del realm.data[DATA_IPA]
    assert s2tt.name(p.rmm.walk(rmm_realm, DATA_IPA, 3).entry, 3) == "UNASSIGNED/DESTROYED"
    for _ in range(2):  # the load is retried, and faults again
        ex = enter(realm)
        assert (ex["exit_reason"], ec(ex), ex["hpfar"], ex["far"]) == (ExitReason.SYNC, EC_DABT_LOW, 0x20, 0)
    realm.back(DATA_IPA)  # DATA_CREATE_UNKNOWN keeps RIPAS DESTROYED
    assert s2tt.name(p.rmm.walk(rmm_realm, DATA_IPA, 3).entry, 3) == "ASSIGNED/DESTROYED"
    ex = enter(realm)
    assert (ex["exit_reason"], ex["hpfar"]) == (ExitReason.SYNC, 0x20)
    assert realm.guest().notes == {"before": struct.unpack_from("<Q", DATA)[0]}


# --- the unprotected half: emulated MMIO and shared pages ---------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_a_load_or_store_to_an_unmapped_unprotected_ipa_is_an_emulatable_exit(p, host, size):
    mask = (1 << (8 * size)) - 1

    def script(cpu, ram, size_, console, *_):
        yield from cpu.store(console + 0x48, 0xA1B2_C3D4_E5F6_0718, size)
        cpu.notes["v"] = yield from cpu.load(console + 0x40, size)

    realm = build(host, script)
    console = realm.cfg.console_ipa
    sas = {1: 0, 2: 1, 4: 2, 8: 3}[size]
    ex = enter(realm)
    esr = ex["esr"]
    assert (ex["exit_reason"], esr >> 26, (esr >> 25) & 1, (esr >> 24) & 1) == (ExitReason.SYNC, EC_DABT_LOW, 1, 1)
    assert ((esr >> 22) & 3, (esr >> 16) & 0x1F, (esr >> 15) & 1, (esr >> 6) & 1) == (sas, 0, size == 8, 1)
    assert ex["far"] == 0x48 and ex["hpfar"] == (console >> 12) << 4
    assert ex["gprs"] == [0xA1B2_C3D4_E5F6_0718 & mask] + [0] * 30  # the store's value, SRT = X0
    ex = enter(realm, ENTER_EMUL_MMIO)
    esr = ex["esr"]
    assert ((esr >> 24) & 1, (esr >> 22) & 3, (esr >> 6) & 1) == (1, sas, 0)
    assert ex["far"] == 0x40 and ex["gprs"] == [0] * 31
    ex = enter(realm, ENTER_EMUL_MMIO, [MMIO_VALUE])
    assert is_system_off(ex)
    assert realm.guest().notes["v"] == MMIO_VALUE & mask


def test_an_emulatable_load_the_host_answers_by_mapping_a_page_reads_host_memory(p, host):
    def script(cpu, ram, size, console, shared, *_):
        cpu.notes["v"] = yield from cpu.load(shared + 0x10)

    realm = build(host, script)
    ex = enter(realm)
    assert (ex["esr"] >> 24) & 1 and fault_ipa(ex) == realm.cfg.shared_ipa
    pa = host.alloc()
    p.phys_write(pa + 0x10, struct.pack("<Q", 0x600D_F00D), PAS.NONSECURE)
    realm.map_unprotected(fault_ipa(ex), pa)
    assert is_system_off(enter(realm))  # no EMUL_MMIO: the load is retried through the new mapping
    assert realm.guest().notes["v"] == 0x600D_F00D


def test_a_block_access_to_the_unprotected_half_is_not_emulatable_and_completes_once_mapped(p, host):
    def script(cpu, ram, size, console, shared, *_):
        yield from cpu.write(shared + 0x20, b"to the host")
        cpu.notes["got"] = yield from cpu.read(shared + 0x100, 13)

    realm = build(host, script)
    ex = enter(realm)
    assert (ex["exit_reason"], ec(ex), (ex["esr"] >> 24) & 1, (ex["esr"] >> 6) & 1) == (ExitReason.SYNC,
                                                                                        EC_DABT_LOW, 0, 1)
    assert ex["far"] == 0 and fault_ipa(ex) == realm.cfg.shared_ipa and ex["gprs"] == [0] * 31
    pa = host.alloc()
    p.phys_write(pa + 0x100, b"from the host", PAS.NONSECURE)
    realm.map_unprotected(realm.cfg.shared_ipa, pa)
    assert is_system_off(enter(realm))
    assert p.phys_read(pa + 0x20, 11, PAS.NONSECURE) == b"to the host"
    assert realm.guest().notes["got"] == b"from the host"


def test_a_page_sweep_over_the_unprotected_half_is_mapped_page_by_page_and_not_cut_short(p, host):
    def script(cpu, ram, size, console, *_):
        base = console + 0x10000
        yield from cpu.touch(base, 3, write=True)
        cpu.notes["sum"] = yield from cpu.touch(base, 3, write=False)

    realm = build(host, script)
    base = realm.cfg.console_ipa + 0x10000
    pages = []
    for i in range(3):
        ex = enter(realm)
        assert (ex["exit_reason"], (ex["esr"] >> 24) & 1, fault_ipa(ex)) == (ExitReason.SYNC, 0, base + i * GRANULE)
        pages.append(realm.map_unprotected(fault_ipa(ex)))
    assert is_system_off(enter(realm))
    ipas = [base + i * GRANULE for i in range(3)]
    assert realm.guest().notes["sum"] == sum(ipas)
    assert [struct.unpack("<Q", p.phys_read(pa, 8, PAS.NONSECURE))[0] for pa in pages] == ipas


def test_a_page_sweep_over_unbacked_ram_resumes_where_it_stopped(p, host):
    def script(cpu, ram, *_):
        yield from cpu.touch(ram + 0x10000, 4, write=True)
        cpu.notes["sum"] = yield from cpu.touch(ram + 0x10000, 4)

    realm = build(host, script)
    for i in range(4):
        ex = enter(realm)
        assert fault_ipa(ex) == 0x10000 + i * GRANULE  # each page faults once, in order
        realm.back(fault_ipa(ex))
    assert is_system_off(enter(realm))
    assert realm.guest().notes["sum"] == sum(0x10000 + i * GRANULE for i in range(4))


def test_an_unprotected_mapping_of_a_realm_granule_raises_sea_in_the_realm(p, host):
    def script(cpu, ram, size, console, shared, *_):
        yield from cpu.load(shared)

    realm = build(host, script)
    ex = enter(realm)
    assert fault_ipa(ex) == realm.cfg.shared_ipa
    realm.map_unprotected(realm.cfg.shared_ipa, host.delegate(1)[0])  # the host's trick: a Realm PA
    assert is_system_off(enter(realm))
    exc = realm.guest().notes["exception"]
    assert isinstance(exc, SyncExternalAbort) and exc.ipa == realm.cfg.shared_ipa and "GPF" in exc.why


def test_a_store_to_a_read_only_host_page_exits_to_the_host_which_may_remap_it(p, host):
    def script(cpu, ram, size, console, shared, *_):
        cpu.notes["r"] = yield from cpu.load(shared)
        yield from cpu.store(shared + 8, 0x77)

    realm = build(host, script)
    shared = realm.cfg.shared_ipa
    realm._ensure_rtts(shared, 3)
    pa = host.alloc()
    p.phys_write(pa, struct.pack("<Q", 0x1234), PAS.NONSECURE)
    host.must("RTT_MAP_UNPROTECTED", realm.rd, shared, 3, pa | (0b110 << 2) | (0b01 << 6))  # S2AP read-only
    ex = enter(realm)
    assert (ex["exit_reason"], ec(ex), (ex["esr"] >> 6) & 1) == (ExitReason.SYNC, EC_DABT_LOW, 1)
    assert ex["esr"] & 0x3C == 0x0C and (ex["esr"] >> 24) & 1  # a permission fault, emulatable
    assert (ex["far"], fault_ipa(ex), ex["gprs"][0]) == (8, shared, 0x77)
    host.must("RTT_UNMAP_UNPROTECTED", realm.rd, shared, 3)
    realm.map_unprotected(shared, pa)  # read/write this time: the store is retried
    assert is_system_off(enter(realm))
    assert realm.guest().notes == {"r": 0x1234}
    assert p.phys_read(pa + 8, 8, PAS.NONSECURE) == struct.pack("<Q", 0x77)


@pytest.mark.parametrize("pa", [0x1000_0000, 0x1C00_0000, (2 << 30) + (1 << 30) + 0x1000],
                         ids=["hole", "uart", "beyond-dram"])
@pytest.mark.parametrize("op", ["load", "write", "touch"])
def test_an_unprotected_mapping_of_a_pa_that_is_not_memory_raises_sea_and_nothing_escapes(p, host, pa, op):
    def script(cpu, ram, size, console, shared, *_):
        yield from {"load": lambda: cpu.load(shared), "write": lambda: cpu.write(shared, b"x" * 64),
                    "touch": lambda: cpu.touch(shared - GRANULE, 2, write=True)}[op]()

    realm = build(host, script)
    realm.map_unprotected(realm.cfg.shared_ipa - GRANULE)  # a good page first, for the sweep
    realm.map_unprotected(realm.cfg.shared_ipa, pa)  # the host's mistake (or malice)
    assert not p.memory.is_backed(pa, 8)
    assert is_system_off(enter(realm))
    exc = realm.guest().notes["exception"]
    assert isinstance(exc, SyncExternalAbort) and exc.ipa == realm.cfg.shared_ipa
    assert f"no memory answers at PA {pa:#x}" in exc.why


@pytest.mark.parametrize("op", ["load", "read"])
def test_inject_sea_after_an_unprotected_abort_raises_sea_in_the_realm(p, host, op):
    def script(cpu, ram, size, console, *_):
        yield from (cpu.load(console + 0x2000) if op == "load" else cpu.read(console + 0x2000, 64))
        cpu.notes["not reached"] = True

    realm = build(host, script)
    ex = enter(realm)
    assert fault_ipa(ex) == realm.cfg.console_ipa + 0x2000 and (ex["esr"] >> 24) & 1 == (op == "load")
    assert is_system_off(enter(realm, ENTER_INJECT_SEA))
    exc = realm.guest().notes["exception"]
    assert isinstance(exc, SyncExternalAbort) and exc.ipa == realm.cfg.console_ipa + 0x2000
    assert "not reached" not in realm.guest().notes


def test_inject_sea_after_a_protected_abort_is_refused_and_the_rec_still_runs(p, host):
    def script(cpu, ram, *_):
        cpu.notes["v"] = yield from cpu.load(ram + 0x30000)

    realm = build(host, script)
    assert fault_ipa(enter(realm)) == 0x30000
    call, _ = realm.enter(0, ENTER_INJECT_SEA)
    assert (call.status, call.failure) == (RmiStatus.ERROR_REC, "rec_sea")
    assert fault_ipa(enter(realm)) == 0x30000  # the access is still waiting
    realm.back(0x30000)
    assert is_system_off(enter(realm)) and realm.guest().notes == {"v": 0}


def test_emul_mmio_after_an_exit_that_is_not_emulatable_is_refused(p, host):
    def script(cpu, ram, size, console, shared, *_):
        yield from cpu.read(shared, 8)  # ISV = 0
        yield from cpu.load(ram + 0x30000)  # protected
        yield from cpu.wfi()

    realm = build(host, script)

    def refused():
        call, _ = realm.enter(0, ENTER_EMUL_MMIO, [1])
        return call.status, call.failure

    ex = enter(realm, ENTER_TRAP_WFI)
    assert fault_ipa(ex) == realm.cfg.shared_ipa
    assert refused() == (RmiStatus.ERROR_REC, "rec_mmio")
    realm.map_unprotected(realm.cfg.shared_ipa)
    ex = enter(realm, ENTER_TRAP_WFI)
    assert fault_ipa(ex) == 0x30000
    assert refused() == (RmiStatus.ERROR_REC, "rec_mmio")
    realm.back(0x30000)
    assert ec(enter(realm, ENTER_TRAP_WFI)) == EC_WFX
    assert refused() == (RmiStatus.ERROR_REC, "rec_mmio")
    assert is_system_off(enter(realm))


def test_emul_mmio_is_accepted_only_for_the_exit_right_before(p, host, monkeypatch):
    def script(cpu, ram, size, console, *_):
        cpu.notes["v"] = yield from cpu.load(console)
        for _ in range(4):
            yield from cpu.load(ram)

    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 2)
    realm = build(host, script)
    assert (enter(realm)["esr"] >> 24) & 1
    assert enter(realm, ENTER_EMUL_MMIO, [5])["exit_reason"] == ExitReason.IRQ
    call, _ = realm.enter(0, ENTER_EMUL_MMIO, [6])
    assert call.failure == "rec_mmio"
    assert realm.guest().notes["v"] == 5


# --- instruction fetches, HVC, WFI, alignment --------------------------------------------------------------
def test_an_instruction_fetch_from_unbacked_ram_exits_to_the_host(p, host):
    # no image: the PC (the start of RAM, 2 MiB) is RIPAS RAM that nothing backs
    realm = host.build_realm(RealmConfig(program="hello", image=b"", ram_base=2 << 20))
    start = p.events.next_seq
    ex = enter(realm)
    assert (ex["exit_reason"], ec(ex), (ex["esr"] >> 25) & 1) == (ExitReason.SYNC, EC_IABT_LOW, 1)
    assert (ex["hpfar"], ex["far"], ex["esr"] & 0x3C) == (0x2000, 0, 0x04)
    realm.back(2 << 20)  # a zeroed page: nothing to run there
    for _ in range(2):
        assert enter(realm)["exit_reason"] == ExitReason.IRQ
    why = [e.summary for e in p.events.of_kind("rec", start) if "cannot run" in e.summary]
    assert len(why) == 2 and "no guest program at PC 0x200000" in why[0]


def test_a_secondary_started_at_a_ripas_empty_pc_takes_an_sea_and_never_runs(p, host):
    def script(cpu, ram, size, *_):
        cpu.notes["on"] = yield from cpu.cpu_on(1, ram + size, 0)
        cpu.notes["again"] = yield from cpu.cpu_on(1, ram, 0)

    realm = build(host, script, recs=2)
    ex = enter(realm)
    assert (ex["exit_reason"], ex["gprs"][:4]) == (ExitReason.PSCI, [PsciFid.CPU_ON, 1, 2 << 20, 0])
    host.must("PSCI_COMPLETE", realm.recs[0], realm.recs[1], 0)
    start = p.events.next_seq
    assert enter(realm, k=1)["exit_reason"] == ExitReason.IRQ  # never a SYNC exit for RIPAS EMPTY
    assert any("first instruction fetch took an abort" in e.summary and "RIPAS EMPTY" in e.summary
               for e in p.events.of_kind("rec", start))
    assert is_system_off(enter(realm))
    assert realm.guest().notes == {"on": 0, "again": PsciReturn.ALREADY_ON}


def test_cpu_on_with_an_entry_point_in_the_unprotected_half_is_invalid_address(p, host):
    def script(cpu, ram, size, console, *_):
        cpu.notes["r"] = yield from cpu.cpu_on(1, console, 0)

    realm = build(host, script, recs=2)
    assert is_system_off(enter(realm))  # no PSCI exit for the refused CPU_ON
    assert realm.guest().notes["r"] == PsciReturn.INVALID_ADDRESS


def test_hvc_is_an_undefined_instruction_in_the_realm(p, host):
    def script(cpu, *_):
        yield from cpu.hvc(0xC400_0190)

    realm = build(host, script)
    assert is_system_off(enter(realm))
    assert isinstance(realm.guest().notes["exception"], UndefinedInstruction)


@pytest.mark.parametrize("trap", [False, True])
def test_wfi_exits_only_when_the_host_asks_for_it(p, host, trap):
    def script(cpu, *_):
        yield from cpu.wfi()
        cpu.notes["woke"] = True

    realm = build(host, script)
    ex = enter(realm, ENTER_TRAP_WFI if trap else 0)
    if trap:
        assert (ex["exit_reason"], ec(ex), (ex["esr"] >> 25) & 1) == (ExitReason.SYNC, EC_WFX, 1)
        assert (ex["far"], ex["hpfar"], ex["gprs"]) == (0, 0, [0] * 31)
        assert "woke" not in realm.guest().notes
        ex = enter(realm)
    assert is_system_off(ex) and realm.guest().notes["woke"]


@pytest.mark.parametrize("kind, off, size", [("load", 1, 2), ("load", 2, 4), ("load", 4, 8), ("store", 3, 4),
                                             ("store", 6, 8)])
def test_a_misaligned_load_or_store_is_an_alignment_fault(p, host, kind, off, size):
    def script(cpu, ram, *_):
        ipa = ram + DATA_IPA + off
        yield from (cpu.load(ipa, size) if kind == "load" else cpu.store(ipa, (1 << (8 * size)) - 1, size))

    realm = build(host, script)
    assert is_system_off(enter(realm))
    assert isinstance(realm.guest().notes["exception"], AlignmentFault)
    raw = p.phys_read(realm.data[DATA_IPA], 16, PAS.REALM, p.rmm.realms[realm.rd].mecid)
    assert raw == DATA[:16]  # a refused store wrote nothing


def test_a_malformed_operation_is_an_undefined_instruction_the_realm_can_catch(p, host):
    def script(cpu, ram, *_):
        try:
            yield from cpu.load(ram, 3)
        except UndefinedInstruction as exc:
            cpu.notes["why"] = str(exc)
        cpu.notes["after"] = yield from cpu.load(ram + DATA_IPA)

    realm = build(host, script)
    assert is_system_off(enter(realm))
    assert "1, 2, 4 or 8 bytes" in realm.guest().notes["why"]
    assert realm.guest().notes["after"] == struct.unpack_from("<Q", DATA)[0]


@pytest.mark.parametrize("op", [Op("load", (0, 8)), Op("store", (8, 4, -1)), Op("read", (0, 0)),
                                Op("write", (0, bytearray(b"x"))), Op("touch", (0, 1, True)),
                                Op("smc", (0xC400_0190, -1)), Op("hvc", (1,)), Op("wfi", ()), Op("load", [8, 8])])
def test_well_formed_operations_pass_the_operand_check(op):
    assert realm_exec.RealmExec._malformed(op) is None


@pytest.mark.parametrize("op, why", [
    (Op("load", (0,)), "takes 2 operands, got 1"), (Op("wfi", (1,)), "takes 0 operands"),
    (Op("load", 5), "come as a tuple"), (Op("load", (-8, 8)), "not a 64-bit IPA"),
    (Op("load", (1 << 64, 8)), "not a 64-bit IPA"), (Op("load", (True, 8)), "not a 64-bit IPA"),
    (Op("store", (0, 16, 1)), "1, 2, 4 or 8 bytes"), (Op("store", (0, 8, "x")), "writes an int"),
    (Op("read", (0, -1)), "not a count"), (Op("touch", (0, 2.0, 0)), "not a count"),
    (Op("write", (0, "text")), "takes bytes"), (Op("smc", ()), "function id"), (Op("hvc", (1.5,)), "function id"),
])
def test_malformed_operations_are_named_with_the_reason(op, why):
    assert why in realm_exec.RealmExec._malformed(op)


# --- a misbehaving program: the realm powers off ------------------------------------------------------------
def _raises(cpu, ram, *_):
    yield from cpu.load(ram)
    raise ValueError("a bug in the guest")


def _garbage(cpu, *_):
    yield 42


def _unknown_op(cpu, *_):
    yield Op("jump", (0,))


def _unhandled_sea(cpu, ram, size, *_):
    yield from cpu.load(ram + size)


def _malformed(cpu, *_):
    yield Op("store", (0, 8, b"not an int"))


def _operands_not_a_tuple(cpu, *_):
    yield Op("load", 0x1000)


@pytest.mark.parametrize("script, why", [
    (_raises, "the guest program failed: ValueError: a bug in the guest"),
    (_garbage, "yielded 42, which is not an operation"),
    (_unknown_op, "yielded Op(kind='jump'"),
    (_unhandled_sea, "unhandled exception in the realm: synchronous external abort"),
    (_malformed, "unhandled exception in the realm: malformed store"),
    (_operands_not_a_tuple, "unhandled exception in the realm: malformed load"),
    (None, "the guest program failed: RuntimeError: the program's body ran without yielding"),
], ids=["raises", "garbage", "unknown-op", "unhandled-sea", "malformed", "not-a-tuple", "not-a-generator"])
def test_a_program_that_fails_resets_the_realm_and_nothing_escapes_the_smc(p, host, script, why):
    realm = build(host, script, runner="test-exec-bare" if script else "test-exec-plain")
    start = p.events.next_seq
    ex = enter(realm)
    assert (ex["exit_reason"], ex["gprs"][0]) == (ExitReason.PSCI, PsciFid.SYSTEM_RESET)
    assert p.rmm.realms[realm.rd].state == RealmState.SYSTEM_OFF
    crashes = [e.data["crash"] for e in p.events.of_kind("rec", start) if "crash" in e.data]
    assert len(crashes) == 1 and why in crashes[0]
    call, _ = realm.enter(0)
    assert (call.status, call.index, call.failure) == (RmiStatus.ERROR_REALM, 1, "system_off")


def test_a_program_that_is_not_a_generator_function_is_named_in_the_reason(p, host):
    realm = host.build_realm(RealmConfig(program="test-exec-value"))
    start = p.events.next_seq
    ex = enter(realm)
    assert (ex["exit_reason"], ex["gprs"][0]) == (ExitReason.PSCI, PsciFid.SYSTEM_RESET)
    crash = [e.data["crash"] for e in p.events.of_kind("rec", start) if "crash" in e.data]
    assert crash == ["program 'test-exec-value' is not a generator function (its operations are "
                     "`yield from cpu....`)"]


def test_a_program_that_returns_switches_its_cpu_off(p, host):
    def script(cpu, ram, *_):
        yield from cpu.load(ram)

    realm = build(host, script, runner="test-exec-bare")
    ex = enter(realm)
    assert (ex["exit_reason"], ex["gprs"][:4]) == (ExitReason.PSCI, [PsciFid.CPU_OFF, 0, 0, 0])
    assert p.rmm.realms[realm.rd].state == RealmState.ACTIVE
    assert realm.enter(0)[0].failure == "rec_runnable"


def test_an_image_naming_an_unknown_program_spins_and_is_preempted(p, host):
    realm = host.build_realm(RealmConfig(program="no-such-program-here"))
    start = p.events.next_seq
    assert enter(realm)["exit_reason"] == ExitReason.IRQ
    assert any("'no-such-program-here', which ccalab.guest does not have" in e.summary
               for e in p.events.of_kind("rec", start))


# --- preemption ---------------------------------------------------------------------------------------------
def test_the_host_timer_preempts_a_rec_after_ops_per_entry_operations_and_nothing_is_lost(p, host, monkeypatch):
    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 4)

    def script(cpu, ram, *_):
        cpu.notes["v"] = []
        for i in range(10):
            cpu.notes["v"].append((yield from cpu.load(ram + DATA_IPA + 8 * i)))

    realm = build(host, script)
    reasons = []
    for _ in range(5):
        ex = enter(realm)
        reasons.append(ex["exit_reason"])
        if ex["exit_reason"] == ExitReason.IRQ:
            assert (ex["esr"], ex["far"], ex["hpfar"], ex["gprs"]) == (0, 0, 0, [0] * 31)
        if is_system_off(ex):
            break
    # 10 loads and the SYSTEM_OFF SMC: preempted after 4 and after 8
    assert reasons == [ExitReason.IRQ, ExitReason.IRQ, ExitReason.PSCI]
    assert realm.guest().notes["v"] == list(struct.unpack_from("<10Q", DATA))
    assert realm.p.rmm.recs[realm.recs[0]].cpu.ops == 11


def test_a_wfi_loop_without_a_trap_is_preempted_by_the_host_timer(p, host, monkeypatch):
    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 8)

    def script(cpu, *_):
        while True:
            yield from cpu.wfi()

    realm = build(host, script)
    assert [enter(realm)["exit_reason"] for _ in range(3)] == [ExitReason.IRQ] * 3
    assert p.rmm.recs[realm.recs[0]].cpu.ops == 24
