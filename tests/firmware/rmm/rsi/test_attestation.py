"""RSI_ATTESTATION_TOKEN_INIT / RSI_ATTESTATION_TOKEN_CONTINUE with a fake attestation service."""

import struct

import pytest

from ccalab.firmware.rmm.rsi.attestation import MAX_TOKEN_SIZE
from ccalab.firmware.rmm.rsi.status import RsiFid, RsiStatus

from .._realmkit import MB, run_script

OK, INPUT, STATE, INCOMPLETE, UNKNOWN = (RsiStatus.SUCCESS, RsiStatus.ERROR_INPUT, RsiStatus.ERROR_STATE,
                                         RsiStatus.INCOMPLETE, RsiStatus.ERROR_UNKNOWN)
TOKEN = bytes(range(256)) * 20  # 5120 bytes: more than one page
CHALLENGE = bytes(range(64, 128))
INIT, CONTINUE = RsiFid.RSI_ATTESTATION_TOKEN_INIT, RsiFid.RSI_ATTESTATION_TOKEN_CONTINUE


@pytest.fixture
def provider(p):
    seen = []

    def give(rmm, realm, challenge):
        seen.append((realm.rd, challenge))
        return TOKEN

    p.rmm.token_provider = give
    return seen


def _init(cpu, challenge=CHALLENGE):
    return (yield from cpu.smc(INIT, *struct.unpack("<8Q", challenge)))


def test_token_init_without_an_attestation_service_is_error_unknown(p):
    p.rmm.token_provider = None  # the platform installs one by default

    def script(cpu):
        cpu.notes["init"] = yield from _init(cpu)
        cpu.notes["cont"] = yield from cpu.smc(CONTINUE, cpu.gprs[4], 0, 4096)

    _, _, notes = run_script(p, script)
    assert notes["init"] == (UNKNOWN,) and notes["cont"] == (STATE,)


def test_token_init_when_the_service_fails_is_error_unknown(p):
    def broken(rmm, realm, challenge):
        raise RuntimeError("no key")

    p.rmm.token_provider = broken

    def script(cpu):
        cpu.notes["init"] = yield from _init(cpu)

    _, _, notes = run_script(p, script)
    assert notes["init"] == (UNKNOWN,)


def test_token_continue_without_init_is_error_state(p, provider):
    def script(cpu):
        cpu.notes["cont"] = yield from cpu.smc(CONTINUE, cpu.gprs[4], 0, 4096)

    _, _, notes = run_script(p, script)
    assert notes["cont"] == (STATE,) and provider == []


@pytest.mark.parametrize("offset_in_page,offset,size,why", [
    (8, 0, 4096, "buffer not page aligned"),
    (0, 4096, 0, "offset beyond the page"),
    (0, 0x800, 0x801, "offset + size beyond the page"),
    (0, 0x10, (1 << 64) - 8, "offset + size overflows"),
])
def test_token_continue_input_checks_come_before_the_state_check(p, offset_in_page, offset, size, why):
    def script(cpu):
        cpu.notes["before"] = yield from cpu.smc(CONTINUE, cpu.gprs[4] + offset_in_page, offset, size)

    _, _, notes = run_script(p, script)
    assert notes["before"] == (INPUT,), why


@pytest.mark.parametrize("ipa", [1 << 39, 2 * MB, 1 << 40])
def test_token_continue_refuses_an_unprotected_empty_or_out_of_range_buffer(p, provider, ipa):
    def script(cpu):
        cpu.notes["init"] = yield from _init(cpu)
        cpu.notes["cont"] = yield from cpu.smc(CONTINUE, ipa, 0, 4096)

    _, _, notes = run_script(p, script)
    assert notes["init"][0] == OK and notes["cont"] == (INPUT,)


@pytest.mark.parametrize("offset,chunk", [(0, 4096), (0x100, 0x300), (0xF00, 0x100), (0x7FF, 0x801)])
def test_token_arrives_in_chunks_at_the_buffer_offset(p, provider, offset, chunk):
    def script(cpu):
        buf = cpu.gprs[4]
        cpu.notes["init"] = yield from _init(cpu)
        got, statuses = bytearray(), []
        while True:
            regs = yield from cpu.smc(CONTINUE, buf, offset, chunk)
            statuses.append(regs[:2])
            if regs[0] not in (OK, INCOMPLETE):
                break
            got += yield from cpu.read(buf + offset, regs[1])
            if regs[0] == OK:
                break
        cpu.notes["token"], cpu.notes["statuses"] = bytes(got), statuses
        cpu.notes["again"] = yield from cpu.smc(CONTINUE, buf, offset, chunk)

    realm, _, notes = run_script(p, script)
    assert notes["init"] == (OK, max(MAX_TOKEN_SIZE, len(TOKEN)))
    assert notes["token"] == TOKEN
    n = -(-len(TOKEN) // chunk)
    assert notes["statuses"] == [(INCOMPLETE, chunk)] * (n - 1) + [(OK, len(TOKEN) - (n - 1) * chunk)]
    assert notes["again"] == (STATE,)  # the token was delivered: a new INIT is needed
    assert provider == [(realm.rd, CHALLENGE)]


def test_token_continue_of_size_zero_copies_nothing(p, provider):
    def script(cpu):
        yield from _init(cpu)
        cpu.notes["zero"] = yield from cpu.smc(CONTINUE, cpu.gprs[4], 0x10, 0)
        cpu.notes["one"] = yield from cpu.smc(CONTINUE, cpu.gprs[4], 0x10, 1)
        cpu.notes["byte"] = yield from cpu.read(cpu.gprs[4] + 0x10, 1)

    _, _, notes = run_script(p, script)
    assert notes["zero"] == (INCOMPLETE, 0) and notes["one"] == (INCOMPLETE, 1) and notes["byte"] == TOKEN[:1]


def test_token_init_abandons_the_token_in_progress(p):
    tokens = {CHALLENGE: b"A" * 3000, bytes(64): b"B" * 100}
    p.rmm.token_provider = lambda rmm, realm, ch: tokens[ch]

    def script(cpu):
        buf = cpu.gprs[4]
        yield from _init(cpu)
        cpu.notes["first"] = yield from cpu.smc(CONTINUE, buf, 0, 1000)
        cpu.notes["init2"] = yield from _init(cpu, bytes(64))
        cpu.notes["second"] = yield from cpu.smc(CONTINUE, buf, 0, 1000)
        cpu.notes["data"] = yield from cpu.read(buf, 100)

    _, _, notes = run_script(p, script)
    assert notes["first"] == (INCOMPLETE, 1000) and notes["init2"] == (OK, MAX_TOKEN_SIZE)
    assert notes["second"] == (OK, 100) and notes["data"] == b"B" * 100


def test_the_linux_boot_program_receives_the_whole_token(p, provider):
    from .._realmkit import guest_realm

    realm = guest_realm(p, "linux-boot", recs=2)
    realm.run()
    assert realm.guest().notes["token"] == TOKEN
