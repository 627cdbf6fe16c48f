"""RSI_VERSION, RSI_FEATURES, RSI_REALM_CONFIG, RSI_MEASUREMENT_READ and RSI_MEASUREMENT_EXTEND, called
by a realm's guest program."""

import struct

import pytest

from ccalab.firmware.rmm.rsi.status import RsiFid, RsiStatus
from ccalab.firmware.rmm.structs import REALM_CONFIG, unpack

from .._realmkit import MB, h, run_script

OK, INPUT = RsiStatus.SUCCESS, RsiStatus.ERROR_INPUT
UNPROTECTED = 1 << 39
BEYOND_RAM = 2 * MB  # RIPAS EMPTY: the default realm has 2 MiB of RAM at IPA 0


def _scratch(cpu):
    return cpu.gprs[4]


@pytest.mark.parametrize("req,status", [(0x10000, OK), (0x10001, INPUT), (0x20000, INPUT), (0, INPUT),
                                        ((1 << 64) - 1, INPUT)])
def test_rsi_version(p, req, status):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_VERSION, req)

    _, _, notes = run_script(p, script)
    assert notes["r"][:3] == (status, 0x10000, 0x10000)


@pytest.mark.parametrize("index", [0, 1, (1 << 64) - 1])
def test_rsi_features_reports_nothing_in_rmm_1_0(p, index):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_FEATURES, index)

    _, _, notes = run_script(p, script)
    assert notes["r"][:2] == (OK, 0)


def test_realm_config_writes_ipa_width_hash_algo_and_rpv(p):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_REALM_CONFIG, _scratch(cpu))
        cpu.notes["page"] = yield from cpu.read(_scratch(cpu), 4096)

    realm, report, notes = run_script(p, script, s2sz=38, rtt_level_start=1, hash_algo="sha512", rpv=b"rpv!" * 16)
    assert notes["r"] == (OK,)
    cfg = unpack(REALM_CONFIG, notes["page"])
    assert (cfg["ipa_width"], cfg["hash_algo"], cfg["rpv"]) == (38, 1, b"rpv!" * 16)
    page = notes["page"]
    assert struct.unpack_from("<Q", page, 0)[0] == 38 and page[8] == 1 and page[0x200:0x240] == b"rpv!" * 16
    # the scratch page was not backed: the RMM made a data-abort exit, the host backed it, the call ran again
    assert any("data abort at protected IPA 0x1000" in detail for _, _, detail in report.exits)


@pytest.mark.parametrize("where", ["misaligned", "unprotected", "ripas empty", "beyond the ipa space"])
def test_realm_config_refuses_a_bad_buffer(p, where):
    def script(cpu):
        ipa = {"misaligned": _scratch(cpu) + 8, "unprotected": UNPROTECTED, "ripas empty": BEYOND_RAM,
               "beyond the ipa space": 1 << 40}[where]
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_REALM_CONFIG, ipa)

    realm, report, notes = run_script(p, script)
    assert notes["r"] == (INPUT,)
    assert [reason for _, reason, _ in report.exits] == ["PSCI"]  # no exit for the call itself


def test_measurement_read_returns_the_rim_and_zero_rems(p):
    def script(cpu):
        cpu.notes["m"] = m = []
        for i in range(5):
            m.append((yield from cpu.smc(RsiFid.RSI_MEASUREMENT_READ, i)))

    realm, _, notes = run_script(p, script)
    m = notes["m"]
    assert all(r[0] == OK and len(r) == 9 for r in m)
    assert struct.pack("<8Q", *m[0][1:]) == realm.rim + bytes(32)  # 32-byte SHA-256, zero-padded to 64
    assert all(struct.pack("<8Q", *r[1:]) == bytes(64) for r in m[1:])


@pytest.mark.parametrize("index", [5, 6, 1 << 32, (1 << 64) - 1])
def test_measurement_read_refuses_an_index_above_4(p, index):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_MEASUREMENT_READ, index)

    _, _, notes = run_script(p, script)
    assert notes["r"] == (INPUT,)


@pytest.mark.parametrize("index,size", [(0, 8), (5, 8), ((1 << 64) - 1, 8), (1, 65), (4, 1 << 40), (2, (1 << 64) - 1)])
def test_measurement_extend_refuses_the_rim_an_index_above_4_and_more_than_64_bytes(p, index, size):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_MEASUREMENT_EXTEND, index, size, *range(1, 9))
        cpu.notes["m"] = m = []
        for i in range(5):
            m.append((yield from cpu.measurement_read(i)))

    realm, _, notes = run_script(p, script)
    assert notes["r"] == (INPUT,)
    assert notes["m"][1:] == [bytes(64)] * 4 and notes["m"][0][:32] == realm.rim  # nothing changed


@pytest.mark.parametrize("algo,n", [("sha256", 32), ("sha512", 64)])
@pytest.mark.parametrize("size", [0, 1, 20, 64])
def test_measurement_extend_is_h_of_the_rem_and_the_first_size_bytes(p, algo, n, size):
    value = bytes(range(100, 164))

    def script(cpu):
        words = struct.unpack("<8Q", value)
        cpu.notes["r"] = yield from cpu.smc(RsiFid.RSI_MEASUREMENT_EXTEND, 3, size, *words)
        cpu.notes["r2"] = yield from cpu.smc(RsiFid.RSI_MEASUREMENT_EXTEND, 3, size, *words)
        cpu.notes["rem"] = yield from cpu.measurement_read(3)

    realm, _, notes = run_script(p, script, hash_algo=algo)
    a = 0 if algo == "sha256" else 1
    once = h(a, bytes(n) + value[:size])
    twice = h(a, once + value[:size])
    assert notes["r"] == notes["r2"] == (OK,)
    assert notes["rem"] == twice.ljust(64, b"\0") and p.rmm.measurement(realm.rd, 3) == twice
    assert p.rmm.measurement(realm.rd, 1) == bytes(n)  # the other REMs are untouched
