"""GuestCpu: the operations each helper yields (driven by hand), and the RSI/PSCI helpers against the
RMM and the host (driven by a realm)."""

import hashlib
import struct

import pytest


from ccalab.firmware.psci import PsciFid, PsciReturn
from ccalab.firmware.rmm.exits import ExitReason
from ccalab.firmware.rmm.rsi.status import RsiFid, RsiStatus
from ccalab.firmware.rmm.s2tt import Ripas
from ccalab.firmware.rmm.structs import ENTER_RIPAS_RESPONSE, REALM_CONFIG, pack
from ccalab.guest import PROGRAMS, GuestCpu, Op, RsiError, header, program
from ccalab.host import RealmConfig

GRANULE = 4096
M64 = (1 << 64) - 1


# --- by hand: what each helper yields and returns ----------------------------------------------------
def cpu0():
    return GuestCpu(0, 0, [0x0, 2 << 20, 0x80_0000_1000, 0, 0x1000, 7, 0, 0], 0)


def drive(gen, answers):
    """Run helper ``gen``, answering its operations with ``answers`` in turn; (ops, return value)."""
    ops = []
    answers = iter(answers)
    try:
        op = next(gen)
        while True:
            ops.append(op)
            op = gen.send(next(answers))
    except StopIteration as stop:
        return ops, stop.value


def test_gprs_console_and_notes_start_from_the_rec_s_registers():
    cpu = GuestCpu(1, 0x1, (9, 8, 7), 0x40)
    assert (cpu.index, cpu.mpidr, cpu.gprs, cpu.pc, cpu.console, cpu.notes) == (1, 1, [9, 8, 7], 0x40, [], {})


@pytest.mark.parametrize("call, op, answer", [
    (lambda c: c.load(0x1008), Op("load", (0x1008, 8)), 5),
    (lambda c: c.load(0x1008, 2), Op("load", (0x1008, 2)), 5),
    (lambda c: c.store(0x1008, 9, 4), Op("store", (0x1008, 4, 9)), None),
    (lambda c: c.read(0x2000, 3), Op("read", (0x2000, 3)), b"abc"),
    (lambda c: c.write(0x2000, bytearray(b"xy")), Op("write", (0x2000, b"xy")), None),
    (lambda c: c.touch(0, 4, 1), Op("touch", (0, 4, True)), 0),
    (lambda c: c.wfi(), Op("wfi", ()), None),
    (lambda c: c.hvc(1, 2), Op("hvc", (1, 2)), None),
    (lambda c: c.smc(0xC400_0190, 0x10000), Op("smc", (0xC400_0190, 0x10000)), (0, 0x10000, 0x10000)),
], ids=["load", "load2", "store", "read", "write", "touch", "wfi", "hvc", "smc"])
def test_each_memory_helper_yields_one_operation_and_returns_its_result(call, op, answer):
    ops, value = drive(call(cpu0()), [answer])
    assert ops == [op] and value == answer


def test_print_records_a_line_without_yielding():
    cpu = cpu0()
    assert drive(cpu.print(42), []) == ([], None)
    assert cpu.console == ["42"]


def test_realm_config_reads_the_page_the_rmm_wrote():
    page = bytes(pack(REALM_CONFIG, {"ipa_width": 40, "hash_algo": 1, "rpv": b"r" * 64}))
    ops, cfg = drive(cpu0().realm_config(0x1000), [(0,), page])
    assert ops == [Op("smc", (RsiFid.RSI_REALM_CONFIG, 0x1000)), Op("read", (0x1000, 4096))]
    assert (cfg["ipa_width"], cfg["hash_algo"], cfg["rpv"]) == (40, 1, b"r" * 64)


def test_an_rsi_error_names_the_call_and_the_status():
    with pytest.raises(RsiError, match="RSI_REALM_CONFIG returned RSI_ERROR_INPUT") as info:
        drive(cpu0().realm_config(0x1000), [(1,)])
    assert (info.value.call, info.value.status) == ("RSI_REALM_CONFIG", RsiStatus.ERROR_INPUT)
    assert str(RsiError("RSI_X", 0x99)) == "RSI_X returned 0x99"


def test_ipa_state_set_repeats_from_where_the_host_stopped():
    ops, out = drive(cpu0().ipa_state_set(0x1000, 0x4000, 1, change_destroyed=True),
                     [(0, 0x2000, 0), (0, 0x3000, 0), (0, 0x4000, 0)])
    assert [op.args for op in ops] == [(RsiFid.RSI_IPA_STATE_SET, b, 0x4000, 1, 1) for b in (0x1000, 0x2000, 0x3000)]
    assert out == (0x4000, 0)


@pytest.mark.parametrize("answer, out", [((0, 0x1000, 1), (0x1000, 1)), ((0, 0x2000, 1), (0x2000, 1)),
                                         ((0, 0x1000, 0), (0x1000, 0))], ids=["reject", "partial-reject", "stuck"])
def test_ipa_state_set_stops_at_a_reject_or_when_the_host_made_no_progress(answer, out):
    ops, got = drive(cpu0().ipa_state_set(0x1000, 0x4000, 1), [answer])
    assert len(ops) == 1 and ops[0].args[4] == 0 and got == out


def test_ipa_state_set_of_an_empty_range_makes_no_call():
    assert drive(cpu0().ipa_state_set(0x3000, 0x3000, 0), []) == ([], (0x3000, 0))


def test_ipa_state_set_raises_on_an_rsi_error():
    with pytest.raises(RsiError, match="RSI_IPA_STATE_SET"):
        drive(cpu0().ipa_state_set(0x1000, 0x2000, 3), [(RsiStatus.ERROR_INPUT,)])


def test_accept_ram_asks_for_ripas_ram():
    ops, _ = drive(cpu0().accept_ram(0, 0x1000), [(0, 0x1000, 0)])
    assert ops[0].args == (RsiFid.RSI_IPA_STATE_SET, 0, 0x1000, 1, 0)


def test_measurement_read_packs_the_eight_registers_into_64_bytes():
    words = list(range(1, 9))
    ops, value = drive(cpu0().measurement_read(3), [(0, *words)])
    assert ops == [Op("smc", (RsiFid.RSI_MEASUREMENT_READ, 3))] and value == struct.pack("<8Q", *words)


def test_measurement_extend_passes_the_size_and_the_value_in_eight_registers():
    ops, _ = drive(cpu0().measurement_extend(2, b"\x01\x02\x03"), [(0,)])
    assert ops == [Op("smc", (RsiFid.RSI_MEASUREMENT_EXTEND, 2, 3, 0x030201, 0, 0, 0, 0, 0, 0, 0))]


def test_measurement_extend_of_more_than_64_bytes_is_refused_before_any_call():
    with pytest.raises(ValueError, match="64"):
        drive(cpu0().measurement_extend(1, bytes(65)), [])


def test_attestation_token_collects_the_chunks_until_success():
    ch = bytes(range(64))
    ops, token = drive(cpu0().attestation_token(ch, 0x1000, chunk=2),
                       [(0, 4096), (RsiStatus.INCOMPLETE, 2), b"ab", (RsiStatus.INCOMPLETE, 0),
                        (0, 1), b"c"])
    assert ops[0] == Op("smc", (RsiFid.RSI_ATTESTATION_TOKEN_INIT, *struct.unpack("<8Q", ch)))
    assert ops[1] == Op("smc", (RsiFid.RSI_ATTESTATION_TOKEN_CONTINUE, 0x1000, 0, 2))
    assert [op.kind for op in ops] == ["smc", "smc", "read", "smc", "smc", "read"]
    assert token == b"abc"


def test_attestation_token_refuses_a_challenge_longer_than_64_bytes():
    with pytest.raises(ValueError, match="64"):
        drive(cpu0().attestation_token(bytes(65), 0x1000), [])


@pytest.mark.parametrize("chunk", [0, -1])
def test_attestation_token_refuses_a_chunk_that_would_never_finish(chunk):
    with pytest.raises(ValueError, match="at least one byte"):
        drive(cpu0().attestation_token(b"", 0x1000, chunk), [])


def test_host_call_writes_the_structure_calls_and_reads_back_the_registers():
    back = list(range(100, 131))
    ops, out = drive(cpu0().host_call(0x1000, 0x55, [1, 2]), [None, (0,), struct.pack("<31Q", *back)])
    assert ops[0] == Op("write", (0x1000, struct.pack("<H6x", 0x55) + struct.pack("<31Q", 1, 2, *[0] * 29)))
    assert ops[1:] == [Op("smc", (RsiFid.RSI_HOST_CALL, 0x1000)), Op("read", (0x1008, 31 * 8))]
    assert out == back


def test_psci_helpers_pass_the_function_ids_and_sign_the_result():
    ops, r = drive(cpu0().cpu_on(1, 0x40, 9), [(PsciReturn.ALREADY_ON.register,)])
    assert ops == [Op("smc", (PsciFid.CPU_ON, 1, 0x40, 9))] and r == PsciReturn.ALREADY_ON
    ops, r = drive(cpu0().affinity_info(1), [(1,)])
    assert ops == [Op("smc", (PsciFid.AFFINITY_INFO, 1, 0))] and r == 1
    for helper, fid in ((GuestCpu.cpu_off, PsciFid.CPU_OFF), (GuestCpu.system_off, PsciFid.SYSTEM_OFF),
                        (GuestCpu.system_reset, PsciFid.SYSTEM_RESET), (GuestCpu.psci_version, PsciFid.PSCI_VERSION)):
        ops, _ = drive(helper(cpu0()), [(0,)])
        assert ops == [Op("smc", (fid,))]


# --- against the RMM and the host ---------------------------------------------------------------------
_SCRIPTS = {}


def _script(cpu):
    try:
        yield from _SCRIPTS[cpu.gprs[5]](cpu, *cpu.gprs[:5])
    except RsiError as exc:
        cpu.notes["error"] = exc
    yield from cpu.system_off()


@pytest.fixture(scope="module", autouse=True)
def _program():
    program("test-cpu-script")(_script)
    yield
    PROGRAMS.pop("test-cpu-script")


def build(host, script, **kw):
    key = len(_SCRIPTS) + 1
    _SCRIPTS[key] = script
    image = header("test-cpu-script").ljust(2 * GRANULE, b"\0")  # the scratch page (X4) is DATA
    return host.build_realm(RealmConfig(program="test-cpu-script", arg=key, image=image, **kw))


def enter(realm, flags=0, gprs=(), k=0):
    call, ex = realm.enter(k, flags, gprs)
    assert call.ok, str(call)
    return ex


def test_ipa_state_set_loops_while_the_host_applies_one_page_per_exit(p, host):
    def script(cpu, ram, size, *_):
        cpu.notes["set"] = yield from cpu.ipa_state_set(ram + size, ram + size + 0x3000, Ripas.RAM)
        cpu.notes["get"] = yield from cpu.ipa_state_get(ram + size, ram + size + 0x8000)

    realm = build(host, script)
    top = realm.cfg.ram_size
    bases = []
    while True:
        ex = enter(realm)
        if ex["exit_reason"] != ExitReason.RIPAS_CHANGE:
            break
        base = ex["ripas_base"]
        bases.append(base)
        assert ex["ripas_top"] == top + 0x3000
        realm._ensure_rtts(base, 3)
        host.must("RTT_SET_RIPAS", realm.rd, realm.recs[0], base, base + GRANULE)  # less than asked
    assert bases == [top, top + 0x1000, top + 0x2000]
    assert realm.guest().notes == {"set": (top + 0x3000, 0), "get": (top + 0x3000, Ripas.RAM)}


def test_ipa_state_set_returns_the_host_s_reject_of_a_ram_request(p, host):
    def script(cpu, ram, size, *_):
        cpu.notes["set"] = yield from cpu.ipa_state_set(ram + size, ram + size + 0x2000, Ripas.RAM)
        cpu.notes["get"] = yield from cpu.ipa_state_get(ram + size, ram + size + 0x2000)

    realm = build(host, script)
    realm.reject_ripas = True
    report = realm.run()
    top = realm.cfg.ram_size
    assert [e[1] for e in report.exits] == ["RIPAS_CHANGE", "PSCI"]
    assert "rejected" in report.exits[0][2]
    assert realm.guest().notes == {"set": (top, 1), "get": (top + 0x2000, Ripas.EMPTY)}


def test_a_reject_of_an_empty_request_counts_as_accept(p, host):
    def script(cpu, ram, size, *_):
        cpu.notes["set"] = yield from cpu.ipa_state_set(ram + size - 0x2000, ram + size, Ripas.EMPTY)

    realm = build(host, script)
    ex = enter(realm)
    assert ex["exit_reason"] == ExitReason.RIPAS_CHANGE
    enter(realm, ENTER_RIPAS_RESPONSE)  # and the host did nothing
    assert realm.guest().notes["set"] == (realm.cfg.ram_size - 0x2000, 0)


def test_ipa_state_get_reports_each_run_of_one_ripas(p, host):
    def script(cpu, ram, size, *_):
        cpu.notes["ram"] = yield from cpu.ipa_state_get(ram, ram + size + 0x4000)
        cpu.notes["empty"] = yield from cpu.ipa_state_get(ram + size, ram + size + 0x4000)
        yield from cpu.ipa_state_get(ram + 0x10, ram + 0x1000)

    realm = build(host, script)
    realm.run()
    size = realm.cfg.ram_size
    notes = realm.guest().notes
    assert notes["ram"] == (size, Ripas.RAM) and notes["empty"] == (size + 0x4000, Ripas.EMPTY)
    assert notes["error"].status == RsiStatus.ERROR_INPUT  # an unaligned base


@pytest.mark.parametrize("algo", ["sha256", "sha512"])
def test_measurement_read_and_extend_match_the_rmm_s_measurements(p, host, algo):
    value = b"kernel command line: console=hvc0"

    def script(cpu, *_):
        cpu.notes["rim"] = yield from cpu.measurement_read(0)
        cpu.notes["rem_before"] = yield from cpu.measurement_read(3)
        yield from cpu.measurement_extend(3, value)
        cpu.notes["rem_after"] = yield from cpu.measurement_read(3)
        yield from cpu.measurement_extend(0, b"the RIM is not extensible")

    realm = build(host, script, hash_algo=algo)
    realm.run()
    notes = realm.guest().notes
    n = 32 if algo == "sha256" else 64
    h = getattr(hashlib, algo)
    assert notes["rim"] == realm.rim.ljust(64, b"\0") and len(realm.rim) == n
    assert notes["rem_before"] == bytes(64)
    assert notes["rem_after"][:n] == h(bytes(n) + value).digest() == p.rmm.measurement(realm.rd, 3)
    assert notes["rem_after"][n:] == bytes(64 - n)
    assert p.rmm.measurement(realm.rd, 1) == bytes(n)  # the others are untouched
    assert notes["error"].status == RsiStatus.ERROR_INPUT


def test_host_call_round_trip_through_the_host_s_handler(p, host):
    def script(cpu, ram, size, console, shared, scratch):
        cpu.notes["back"] = yield from cpu.host_call(scratch + 0x300, 0x4242, [10, 20, 30])

    realm = build(host, script)
    seen = []
    realm.host_call_handler = lambda imm, gprs: seen.append((imm, list(gprs))) or [g * 3 + imm for g in gprs]
    report = realm.run()
    assert seen == [(0x4242, [10, 20, 30] + [0] * 28)]
    assert report.host_calls == [(0x4242, [10, 20, 30, 0])]
    assert realm.guest().notes["back"] == [30 + 0x4242, 60 + 0x4242, 90 + 0x4242] + [0x4242] * 28


@pytest.mark.parametrize("chunk", [1, 100, 1499, 1500, 4096])
def test_attestation_token_arrives_whole_in_chunks_smaller_or_larger_than_it(p, host, chunk):
    token = bytes((i * 31 + 7) & 0xFF for i in range(1500))
    challenges = []
    p.rmm.token_provider = lambda rmm, realm, ch: challenges.append(ch) or token

    def script(cpu, ram, size, console, shared, scratch):
        cpu.notes["token"] = yield from cpu.attestation_token(b"nonce", scratch, chunk)

    realm = build(host, script)
    start = p.events.next_seq
    report = realm.run()
    assert report.stopped == "the realm called PSCI SYSTEM_OFF" and [e[1] for e in report.exits] == ["PSCI"]
    assert realm.guest().notes["token"] == token
    assert challenges == [b"nonce".ljust(64, b"\0")]
    calls = [e for e in p.events.of_kind("rsi", start) if e.data.get("command") == "RSI_ATTESTATION_TOKEN_CONTINUE"]
    assert len(calls) == -(-len(token) // chunk)


def test_attestation_token_without_a_token_provider_is_error_unknown(p, host):
    p.rmm.token_provider = None

    def script(cpu, ram, size, console, shared, scratch):
        yield from cpu.attestation_token(b"", scratch)

    realm = build(host, script)
    realm.run()
    err = realm.guest().notes["error"]
    assert (err.call, err.status) == ("RSI_ATTESTATION_TOKEN_INIT", RsiStatus.ERROR_UNKNOWN)


def test_attestation_token_with_a_chunk_beyond_the_page_is_error_input(p, host):
    p.rmm.token_provider = lambda rmm, realm, ch: b"t" * 100

    def script(cpu, ram, size, console, shared, scratch):
        yield from cpu.attestation_token(b"", scratch, chunk=4097)

    realm = build(host, script)
    realm.run()
    err = realm.guest().notes["error"]
    assert (err.call, err.status) == ("RSI_ATTESTATION_TOKEN_CONTINUE", RsiStatus.ERROR_INPUT)


def test_realm_config_and_versions_from_inside_a_realm(p, host):
    def script(cpu, ram, size, console, shared, scratch):
        cpu.notes["cfg"] = yield from cpu.realm_config(scratch)
        cpu.notes["rsi"] = yield from cpu.rsi_version()
        cpu.notes["psci"] = yield from cpu.psci_version()

    realm = build(host, script, s2sz=36, rtt_level_start=1, hash_algo="sha512", rpv=b"personal")
    realm.run()
    notes = realm.guest().notes
    assert (notes["cfg"]["ipa_width"], notes["cfg"]["hash_algo"]) == (36, 1)
    assert notes["cfg"]["rpv"] == b"personal".ljust(64, b"\0")
    assert notes["rsi"] == (RsiStatus.SUCCESS, 0x10000, 0x10000)
    assert notes["psci"] == 0x10001


def test_an_smc_that_is_neither_rsi_nor_psci_returns_not_supported(p, host):
    def script(cpu, *_):
        cpu.notes["r"] = yield from cpu.smc(0xC400_0150)  # an RMI function id, from the realm

    realm = build(host, script)
    realm.run()
    assert realm.guest().notes["r"] == (M64,)
