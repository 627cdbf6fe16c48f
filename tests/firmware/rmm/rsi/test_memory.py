"""RSI_IPA_STATE_SET, RSI_IPA_STATE_GET and RSI_HOST_CALL, called by a realm's guest program, with
the host model servicing the exits."""

import pytest

from ccalab.firmware.rmm.exits import ExitReason
from ccalab.firmware.rmm.objects import RealmState
from ccalab.firmware.rmm.rsi.status import RIPAS_CHANGE_DESTROYED, RsiFid, RsiStatus
from ccalab.firmware.rmm.s2tt import Ripas
from ccalab.guest import program

from .._realmkit import MB, Kit, run_script

OK, INPUT = RsiStatus.SUCCESS, RsiStatus.ERROR_INPUT
PAR_TOP = 1 << 39
RAM_TOP = 2 * MB


def _reasons(report):
    return [reason for _, reason, _ in report.exits]


# --- RSI_IPA_STATE_SET ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("base,top,ripas,why", [
    (0x3000, 0x5000, 2, "ripas DESTROYED cannot be asked for"),
    (0x3000, 0x5000, 3, "ripas beyond RAM"),
    (0x3008, 0x5000, 1, "base misaligned"),
    (0x3000, 0x5800, 1, "top misaligned"),
    (0x5000, 0x5000, 1, "empty region"),
    (0x5000, 0x3000, 1, "top below base"),
    (PAR_TOP - 0x1000, PAR_TOP + 0x1000, 1, "region crosses into the unprotected half"),
    (PAR_TOP, PAR_TOP + 0x1000, 0, "unprotected"),
])
def test_ipa_state_set_refuses_bad_requests_without_exiting(p, base, top, ripas, why):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, base, top, ripas, 0)

    realm, report, notes = run_script(p, script)
    assert notes["r"] == (INPUT,), why
    assert "RIPAS_CHANGE" not in _reasons(report)


def test_ipa_state_set_to_ram_beyond_the_ram_is_applied_by_the_host(p):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, RAM_TOP, RAM_TOP + 0x3000, 1, 0)
        cpu.notes["get"] = yield from cpu.ipa_state_get(RAM_TOP, RAM_TOP + 0x4000)
        yield from cpu.store(RAM_TOP + 0x2000, 0x77)  # now usable: the host backs it on the abort
        cpu.notes["v"] = yield from cpu.load(RAM_TOP + 0x2000)

    realm, report, notes = run_script(p, script)
    assert notes["r"] == (OK, RAM_TOP + 0x3000, 0)  # X1 = how far, X2 = ACCEPT
    assert notes["get"] == (RAM_TOP + 0x3000, Ripas.RAM) and notes["v"] == 0x77
    assert report.exits[0][1] == "RIPAS_CHANGE"


def test_ipa_state_set_rejected_by_the_host(p):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, RAM_TOP, RAM_TOP + 0x3000, 1, 0)
        cpu.notes["get"] = yield from cpu.ipa_state_get(RAM_TOP, RAM_TOP + 0x4000)

    realm, report, notes = run_script(p, script, setup=lambda realm: setattr(realm, "reject_ripas", True))
    assert notes["r"] == (OK, RAM_TOP, 1)  # X1 = base: nothing changed; X2 = REJECT
    assert notes["get"] == (RAM_TOP + 0x4000, Ripas.EMPTY)


def test_ipa_state_set_to_empty_then_back_to_ram(p):
    def script(cpu):
        yield from cpu.store(0x3000, 0xAB)
        cpu.notes["empty"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, 0x3000, 0x4000, 0, 0)
        cpu.notes["get"] = yield from cpu.ipa_state_get(0x3000, 0x4000)
        cpu.notes["ram"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, 0x3000, 0x4000, 1, 0)
        cpu.notes["v"] = yield from cpu.load(0x3000)

    realm, report, notes = run_script(p, script)
    assert notes["empty"] == (OK, 0x4000, 0) and notes["get"] == (0x4000, Ripas.EMPTY)
    assert notes["ram"] == (OK, 0x4000, 0)
    assert notes["v"] == 0xAB  # still the same DATA granule: RAM -> EMPTY -> RAM keeps it mapped


def test_ipa_state_set_over_destroyed_memory_needs_the_flag(p):
    def script(cpu):
        yield from cpu.store(0x3000, 0xAB)
        cpu.notes["gone"] = yield from cpu.host_call(0x5000, 1)  # the host destroys 0x3000 meanwhile
        cpu.notes["get"] = yield from cpu.ipa_state_get(0x3000, 0x4000)
        cpu.notes["plain"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, 0x3000, 0x4000, 1, 0)
        cpu.notes["flag"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, 0x3000, 0x4000, 1, RIPAS_CHANGE_DESTROYED)
        cpu.notes["v"] = yield from cpu.load(0x3000)

    def setup(realm):
        def host_call(imm, gprs):
            realm.host.must("DATA_DESTROY", realm.rd, 0x3000)
            realm.data.pop(0x3000)
            return gprs

        realm.host_call_handler = host_call

    realm, report, notes = run_script(p, script, setup=setup)
    assert notes["get"] == (0x4000, Ripas.DESTROYED)
    assert notes["plain"] == (OK, 0x3000, 0)  # the host could not change DESTROYED without the flag
    assert notes["flag"] == (OK, 0x4000, 0)
    assert notes["v"] == 0  # a fresh granule: the old content is gone
    assert "SYSTEM_OFF" in report.stopped


# --- RSI_IPA_STATE_GET ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("base,end", [(0x1008, 0x3000), (0x1000, 0x3008), (0x3000, 0x3000), (0x3000, 0x1000),
                                      (PAR_TOP - 0x1000, PAR_TOP + 0x1000), (PAR_TOP, PAR_TOP + 0x1000)])
def test_ipa_state_get_refuses_bad_ranges(p, base, end):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_GET, base, end)

    _, _, notes = run_script(p, script)
    assert notes["r"] == (INPUT,)


@pytest.mark.parametrize("base,end,top,ripas", [
    (0, RAM_TOP, RAM_TOP, Ripas.RAM),  # the image page (ASSIGNED) and the rest (UNASSIGNED): all RAM
    (RAM_TOP - 0x1000, RAM_TOP + 0x5000, RAM_TOP, Ripas.RAM),
    (RAM_TOP, RAM_TOP + 0x5000, RAM_TOP + 0x5000, Ripas.EMPTY),
    (4 * MB, 1 << 30, 1 << 30, Ripas.EMPTY),  # level-2 and level-1 entries: the run spans blocks
    (0x1000, 0x2000, 0x2000, Ripas.RAM),
])
def test_ipa_state_get_reports_the_run_of_one_ripas(p, base, end, top, ripas):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_IPA_STATE_GET, base, end)

    _, _, notes = run_script(p, script)
    assert notes["r"] == (OK, top, ripas)


# --- RSI_HOST_CALL -------------------------------------------------------------------------------------------
def test_host_call_passes_imm_and_registers_and_returns_the_hosts(p):
    def script(cpu):
        cpu.notes["back"] = yield from cpu.host_call(cpu.gprs[4] + 0x300, 0xBEEF, [10, 20, 30])

    realm, report, notes = run_script(p, script)
    assert report.host_calls == [(0xBEEF, [10, 20, 30, 0])]
    assert notes["back"][:4] == [11, 21, 31, 1]  # the host model adds one to each register


@pytest.mark.parametrize("offset,where", [(0x8, "misaligned"), (0x80, "not 256-byte aligned"),
                                          (0xF80, "would cross into the next granule")])
def test_host_call_refuses_a_misaligned_or_page_crossing_structure(p, offset, where):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_HOST_CALL, cpu.gprs[4] + offset)

    realm, report, notes = run_script(p, script)
    assert notes["r"] == (INPUT,), where
    assert "HOST_CALL" not in _reasons(report)


@pytest.mark.parametrize("ipa", [PAR_TOP + 0x1000, RAM_TOP + 0x100, 1 << 40])
def test_host_call_refuses_unprotected_empty_or_out_of_range_buffers(p, ipa):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_HOST_CALL, ipa)

    realm, report, notes = run_script(p, script)
    assert notes["r"] == (INPUT,)
    assert "HOST_CALL" not in _reasons(report)


@program("test-rsi-host-call-page-taken")
def _host_call_page_taken(cpu):
    yield from cpu.store(0x5000, 1)
    cpu.notes["back"] = yield from cpu.host_call(0x5000, 7, [1])


def test_a_host_call_whose_page_the_host_took_stays_pending_behind_a_data_abort(p):
    kit = Kit(p)
    realm = kit.realm()
    kit.image(realm, "test-rsi-host-call-page-taken")
    kit.init_ripas(realm, 0x1000, 2 * MB)
    rec = kit.rec(realm)
    kit.activate(realm)
    run = kit.run_page()
    assert kit.enter(rec, run)["hpfar"] == 0x5 << 4  # the store: the host backs the page
    kit.data_unknown(realm, 0x5000)
    assert kit.enter(rec, run)["exit_reason"] == ExitReason.HOST_CALL
    kit.ok("RMI_DATA_DESTROY", realm.rd, 0x5000)  # and takes it away before answering
    for _ in range(2):  # the RMM cannot write the results: a data abort at the page, each time
        ex = kit.enter(rec, run, gprs=[5])
        assert (ex["exit_reason"], ex["hpfar"]) == (ExitReason.SYNC, 0x5 << 4)
    r = p.rmm.recs[rec]
    assert r.host_call == 0x5000 and r.cpu.crash is None and "back" not in r.cpu.cpu.notes
    assert p.rmm.realms[realm.rd].state == RealmState.ACTIVE
