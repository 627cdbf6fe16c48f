"""REC exits: the syndrome values, and the RmiRecRun.exit record the host reads, byte by byte at the
spec's offsets (read raw from the run page, not through ``structs.unpack``)."""

import hashlib
import struct

import pytest


from ccalab.arch.pas import PAS
from ccalab.firmware.psci import PsciFid
from ccalab.firmware.rmm.exits import EC_DABT_LOW, EC_IABT_LOW, EC_WFX, ExitReason, esr_abort
from ccalab.firmware.rmm.structs import ENTER_EMUL_MMIO
from ccalab.guest import PROGRAMS, header, program
from ccalab.host import RealmConfig

GRANULE = 4096
EXIT = 0x800  # RmiRecRun.exit within the run page


# --- the values ---------------------------------------------------------------------------------
def test_exit_reasons_are_the_rmm_1_0_values():
    assert (ExitReason.SYNC, ExitReason.IRQ, ExitReason.FIQ, ExitReason.PSCI, ExitReason.RIPAS_CHANGE,
            ExitReason.HOST_CALL, ExitReason.SERROR) == (0, 1, 2, 3, 4, 5, 6)
    assert ExitReason.NAMES[ExitReason.RIPAS_CHANGE] == "RIPAS_CHANGE" and len(ExitReason.NAMES) == 7


def test_exception_classes_are_the_arm_arm_values():
    assert (EC_WFX, EC_IABT_LOW, EC_DABT_LOW) == (0x01, 0x20, 0x24)


@pytest.mark.parametrize("size, sas", [(1, 0), (2, 1), (4, 2), (8, 3)])
@pytest.mark.parametrize("write", [False, True])
def test_an_emulatable_data_abort_reports_size_register_width_and_direction(size, sas, write):
    esr = esr_abort(True, 0x07, isv=True, size=size, write=write)
    assert esr >> 26 == EC_DABT_LOW and (esr >> 25) & 1 == 1  # EC, IL
    assert (esr >> 24) & 1 == 1  # ISV
    assert (esr >> 22) & 3 == sas  # SAS
    assert (esr >> 21) & 1 == 0 and (esr >> 16) & 0x1F == 0  # SSE, SRT = X0
    assert (esr >> 15) & 1 == (size == 8)  # SF
    assert (esr >> 6) & 1 == write  # WnR
    assert esr & 0x3F == 0x07  # DFSC


def test_a_data_abort_without_isv_carries_no_access_details():
    esr = esr_abort(True, 0x04, size=2, write=True)
    assert esr == (EC_DABT_LOW << 26) | (1 << 25) | (1 << 6) | 0x04


def test_an_instruction_abort_has_no_isv_and_no_direction():
    esr = esr_abort(False, 0x06, isv=True, size=8, write=True)
    assert esr == (EC_IABT_LOW << 26) | (1 << 25) | 0x06


def test_the_fault_status_code_is_kept_to_its_six_bits():
    assert esr_abort(True, 0x1FF) & ((1 << 25) - 1) == 0x3F


# --- the record in the run page -------------------------------------------------------------------
_SCRIPTS = {}


def _script(cpu):
    yield from _SCRIPTS[cpu.gprs[5]](cpu, *cpu.gprs[:5])
    yield from cpu.system_off()


@pytest.fixture(scope="module", autouse=True)
def _program():
    program("test-exits-script")(_script)
    yield
    PROGRAMS.pop("test-exits-script")


def build(host, script, **kw):
    key = len(_SCRIPTS) + 1
    _SCRIPTS[key] = script
    image = header("test-exits-script").ljust(3 * GRANULE, b"\0")  # the scratch page is DATA too
    return host.build_realm(RealmConfig(program="test-exits-script", arg=key, image=image, **kw))


def enter_raw(p, realm, flags=0, gprs=(), k=0):
    """REC_ENTER, then the 2 KB RmiRecRun.exit as the host reads it from its page."""
    call, _ = realm.enter(k, flags, gprs)
    assert call.ok, str(call)
    return p.phys_read(realm.runs[k] + EXIT, 0x800, PAS.NONSECURE)


def u8(raw, off):
    return raw[off]


def u64(raw, off):
    return struct.unpack_from("<Q", raw, off)[0]


def gprs(raw):
    return list(struct.unpack_from("<31Q", raw, 0x200))


def zero_except(raw, *fields):
    """Every byte of the exit record outside ``fields`` ((offset, size) pairs) is zero."""
    keep = bytearray(raw)
    for off, n in fields:
        keep[off:off + n] = bytes(n)
    return not any(keep)


def test_a_sync_exit_reports_esr_far_hpfar_and_the_store_value_at_their_offsets(p, host):
    def script(cpu, ram, size, console, *_):
        yield from cpu.store(console + 0x128, 0xDEAD_BEEF, 4)

    realm = build(host, script)
    raw = enter_raw(p, realm)
    console = realm.cfg.console_ipa
    assert u8(raw, 0x000) == ExitReason.SYNC
    assert u64(raw, 0x100) == esr_abort(True, u64(raw, 0x100) & 0x3F, isv=True, size=4, write=True)
    assert u64(raw, 0x108) == 0x128  # FAR: only the offset in the page
    assert u64(raw, 0x110) == (console >> 12) << 4  # HPFAR.FIPA
    assert gprs(raw) == [0xDEAD_BEEF] + [0] * 30
    assert zero_except(raw, (0x100, 8), (0x108, 8), (0x110, 8), (0x200, 8))


def test_a_ripas_change_exit_reports_base_top_and_value_at_their_offsets(p, host):
    def script(cpu, ram, size, *_):
        yield from cpu.ipa_state_set(ram + size - 0x3000, ram + size, 0)

    realm = build(host, script)
    raw = enter_raw(p, realm)
    top = realm.cfg.ram_size
    assert u8(raw, 0x000) == ExitReason.RIPAS_CHANGE
    assert (u64(raw, 0x500), u64(raw, 0x508), u8(raw, 0x510)) == (top - 0x3000, top, 0)
    assert zero_except(raw, (0x000, 1), (0x500, 8), (0x508, 8), (0x510, 1))


def test_a_ripas_change_to_ram_reports_value_one(p, host):
    def script(cpu, ram, size, *_):
        yield from cpu.ipa_state_set(ram + size, ram + size + 0x2000, 1)

    realm = build(host, script)
    raw = enter_raw(p, realm)
    top = realm.cfg.ram_size
    assert (u64(raw, 0x500), u64(raw, 0x508), u8(raw, 0x510)) == (top, top + 0x2000, 1)


def test_a_host_call_exit_reports_the_immediate_and_all_31_registers(p, host):
    values = [0x1000 + 17 * i for i in range(31)]

    def script(cpu, ram, size, console, shared, scratch):
        cpu.notes["back"] = yield from cpu.host_call(scratch, 0xBEEF, values)

    realm = build(host, script)
    raw = enter_raw(p, realm)
    assert u8(raw, 0x000) == ExitReason.HOST_CALL
    assert struct.unpack_from("<H", raw, 0x600)[0] == 0xBEEF
    assert gprs(raw) == values
    assert zero_except(raw, (0x000, 1), (0x200, 31 * 8), (0x600, 2))
    answer = [~v & 0xFFFF_FFFF_FFFF_FFFF for v in values]
    raw = enter_raw(p, realm, 0, answer)
    assert u8(raw, 0x000) == ExitReason.PSCI
    assert realm.guest().notes["back"] == answer


def test_psci_exits_report_the_function_id_and_three_arguments(p, host):
    def script(cpu, ram, *_):
        yield from cpu.cpu_on(1, ram + 0x40, 0xC0DE)
        yield from cpu.affinity_info(1)

    realm = build(host, script, recs=2)
    raw = enter_raw(p, realm)
    assert u8(raw, 0x000) == ExitReason.PSCI
    assert gprs(raw) == [PsciFid.CPU_ON, 1, 0x40, 0xC0DE] + [0] * 27
    assert zero_except(raw, (0x000, 1), (0x200, 4 * 8))
    host.must("PSCI_COMPLETE", realm.recs[0], realm.recs[1], 0)
    raw = enter_raw(p, realm)
    assert gprs(raw)[:4] == [PsciFid.AFFINITY_INFO, 1, 0, 0]
    host.must("PSCI_COMPLETE", realm.recs[0], realm.recs[1], 0)
    raw = enter_raw(p, realm)
    assert gprs(raw) == [PsciFid.SYSTEM_OFF] + [0] * 30


def test_an_irq_exit_is_only_its_reason(p, host, monkeypatch):
    from ccalab.firmware.rmm import realm_exec

    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 1)

    def script(cpu, ram, *_):
        yield from cpu.load(ram)
        yield from cpu.load(ram)

    realm = build(host, script)
    raw = enter_raw(p, realm)
    assert u8(raw, 0x000) == ExitReason.IRQ and zero_except(raw, (0x000, 1))


SECRET = int.from_bytes(hashlib.sha256(b"realm secret").digest()[:8], "little")


@pytest.mark.parametrize("how", ["store", "write", "load"])
def test_a_protected_abort_reveals_no_address_offset_and_no_data(p, host, how):
    def script(cpu, ram, *_):
        ipa = ram + 0x40_0000 - 0x1000 + 0x7F8  # unbacked RAM, a telling offset
        if how == "store":
            yield from cpu.store(ipa, SECRET)
        elif how == "write":
            yield from cpu.write(ipa, SECRET.to_bytes(8, "little") * 2)
        else:
            yield from cpu.load(ipa)

    realm = build(host, script, ram_size=4 << 20)
    raw = enter_raw(p, realm)
    assert u8(raw, 0x000) == ExitReason.SYNC
    assert u64(raw, 0x108) == 0  # FAR: not even the page offset
    assert u64(raw, 0x110) == ((0x40_0000 - 0x1000) >> 12) << 4  # only the page
    assert (u64(raw, 0x100) >> 24) & 1 == 0  # ISV = 0: no size, no register
    assert gprs(raw) == [0] * 31
    assert SECRET.to_bytes(8, "little") not in raw
    assert zero_except(raw, (0x100, 8), (0x110, 8))


def test_an_emulated_mmio_load_does_not_leak_the_previous_exit_s_registers(p, host):
    def script(cpu, ram, size, console, *_):
        yield from cpu.store(console, SECRET)
        yield from cpu.load(console + 8)

    realm = build(host, script)
    assert gprs(enter_raw(p, realm))[0] == SECRET  # a store to the console: the host is meant to see it
    raw = enter_raw(p, realm, ENTER_EMUL_MMIO)
    assert (u64(raw, 0x100) >> 6) & 1 == 0 and gprs(raw) == [0] * 31
