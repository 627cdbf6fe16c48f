"""The guest program library: registration, and each program run to its end by the host."""

import hashlib
import struct

import pytest


from ccalab.arch.pas import PAS
from ccalab.errors import GranuleProtectionFault
from ccalab.firmware.rmm import realm_exec, s2tt
from ccalab.firmware.rmm.objects import RealmState
from ccalab.guest import PROGRAMS, GuestCpu, Op, get, program, programs
from ccalab.host import RealmConfig

LIBRARY = ("hello", "linux-boot", "secret-keeper", "memtouch", "prober")


def reasons(report, k=None):
    return [(i, r, d) for i, r, d in report.exits if k is None or i == k]


# --- the registry ---------------------------------------------------------------------------------
def test_the_library_registers_each_program_under_its_name():
    for name in LIBRARY:
        fn = PROGRAMS[name]
        assert get(name) is fn and fn.program_name == name and fn.__module__ == "ccalab.guest.programs"


def test_get_of_an_unknown_name_is_none():
    assert get("no-such-program") is None


def test_a_name_can_be_registered_only_once():
    with pytest.raises(ValueError, match="exists already"):
        program("hello")(lambda cpu: None)
    assert PROGRAMS["hello"] is programs.hello


def test_program_registers_and_returns_the_function_unchanged():
    def mine(cpu):
        yield from cpu.wfi()

    try:
        assert program("test-programs-mine")(mine) is mine and get("test-programs-mine") is mine
    finally:
        PROGRAMS.pop("test-programs-mine")


def test_boot_args_are_x0_to_x5():
    cpu = GuestCpu(0, 0, [1, 2, 3, 4, 5, 6, 7, 8], 0)
    assert programs.boot_args(cpu) == (1, 2, 3, 4, 5, 6)


def test_puts_stores_the_line_eight_bytes_at_a_time_and_records_it():
    cpu = GuestCpu(0, 0, [0] * 8, 0)
    gen = programs.puts(cpu, 0x8000_1000, "hello, console")
    ops = [next(gen)]
    for _ in range(3):
        try:
            ops.append(gen.send(None))
        except StopIteration:
            break
    words = struct.unpack("<2Q", b"hello, console\n".ljust(16, b"\0"))
    assert ops == [Op("store", (0x8000_1000, 8, w)) for w in words]
    assert cpu.console == ["hello, console"]


# --- each program, run by the host ------------------------------------------------------------------
@pytest.mark.parametrize("s2sz, sl", [(40, 0), (36, 1)])
def test_hello_prints_its_ipa_width_and_powers_off(p, host, s2sz, sl):
    realm = host.build_realm(RealmConfig(program="hello", s2sz=s2sz, rtt_level_start=sl))
    report = realm.run()
    assert report.console == [f"hello from realm CPU 0: IPA width {s2sz} bits"]
    assert report.stopped == "the realm called PSCI SYSTEM_OFF"
    assert p.rmm.realms[realm.rd].state == RealmState.SYSTEM_OFF
    assert realm.guest().console == report.console


@pytest.fixture
def linux(p, host):
    p.rmm.token_provider = lambda rmm, realm, ch: b"x" * 1500
    return host.build_realm(RealmConfig(program="linux-boot", recs=2, arg=0x5EED))


def test_linux_boot_runs_its_whole_boot_with_two_cpus(p, host, linux):
    report = linux.run()
    assert report.stopped == "the realm called PSCI SYSTEM_OFF"
    assert report.console == [
        "realm: IPA width 40, hash algorithm 0",
        "realm: RAM [0x0, 0x200000) accepted",
        "realm: shared page at IPA 0x80001ff000",
        "realm: attestation token of 1500 bytes",
        "realm: host call returned [2, 3, 4]",
        "CPU1: online (context 0x1800)",
        "realm: CPU_ON(1) -> SUCCESS",
        "realm: powering off",
    ]
    assert report.host_calls == [(0x1234, [1, 2, 3, 0])]
    assert linux.guest(0).notes["token"] == b"x" * 1500
    assert linux.guest(1).console == ["CPU1: online (context 0x1800)"]


def test_linux_boot_secondary_prints_through_the_console_and_switches_itself_off(p, host, linux):
    report = linux.run()
    rec1 = reasons(report, 1)
    assert rec1[-1] == (1, "PSCI", "PSCI CPU_OFF")
    assert sum(d.startswith("MMIO write") for _, _, d in rec1) == len(b"CPU1: online (context 0x1800)\n") // 8 + 1
    assert p.rmm.recs[linux.recs[1]].runnable is False
    assert linux.guest(1).gprs[0] == linux.cfg.scratch_ipa + 0x800  # CPU_ON's context: the boot args


def test_linux_boot_waits_with_affinity_info_until_the_secondary_is_off(p, host, linux):
    report = linux.run()
    seq = [(i, d) for i, _, d in report.exits if "AFFINITY_INFO" in d or "CPU_OFF" in d or "CPU_ON" in d]
    off = seq.index((1, "PSCI CPU_OFF"))
    assert seq[0][1].startswith("PSCI CPU_ON(0x1)")
    assert off >= 2 and all(d == "PSCI AFFINITY_INFO completed" for _, d in seq[1:off])  # asked while it ran
    assert seq[off + 1:] == [(0, "PSCI AFFINITY_INFO completed")]  # the answer that ends the loop


def test_linux_boot_measures_asks_for_a_token_and_shares_a_page(p, host, linux):
    challenges = []
    p.rmm.token_provider = lambda rmm, realm, ch: challenges.append(ch) or b"x" * 1500
    linux.run()
    assert challenges == [hashlib.sha512(struct.pack("<Q", 0x5EED)).digest()]
    rem1 = hashlib.sha256(bytes(32) + hashlib.sha256(b"realm kernel command line").digest()).digest()
    assert p.rmm.measurement(linux.rd, 1) == rem1
    shared = linux.cfg.shared_ipa
    assert p.phys_read(linux.unprotected[shared], 32, PAS.NONSECURE) == b"hello host, this page is shared\0"
    last = linux.cfg.ram_size - 0x1000  # its protected alias was given up
    w = p.rmm.walk(p.rmm.realms[linux.rd], last, 3)
    assert s2tt.decode(w.entry, w.level)[1] == s2tt.Ripas.EMPTY


def test_linux_boot_with_one_rec_reports_that_cpu_on_found_no_cpu(p, host):
    p.rmm.token_provider = lambda rmm, realm, ch: b"t" * 10
    realm = host.build_realm(RealmConfig(program="linux-boot", recs=1, shared=False))
    report = realm.run()
    assert report.console[-2:] == ["realm: CPU_ON(1) -> INVALID_PARAMS", "realm: powering off"]
    assert not any("shared page" in line for line in report.console)


def test_linux_boot_reports_a_host_that_refuses_its_ram(p, host):
    p.rmm.token_provider = lambda rmm, realm, ch: b"t" * 10
    realm = host.build_realm(RealmConfig(program="linux-boot", shared=False))
    realm.reject_ripas = True
    report = realm.run()
    assert report.console[1] == "realm: host refused RAM at 0x0"
    assert report.stopped == "the realm called PSCI SYSTEM_OFF"


def test_secret_keeper_keeps_its_secret_where_the_host_cannot_read_it(p, host, monkeypatch):
    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 50)
    realm = host.build_realm(RealmConfig(program="secret-keeper", arg=7))
    report = realm.run(max_exits=15)
    assert report.stopped == "paused after 15 exits: the realm is still running" and report.paused
    assert report.exits[-1][1:] == ("SYNC", "WFI trapped")  # the host traps the WFI loop, as KVM does
    assert report.console == ["realm: secret stored at IPA 0x2000"]
    notes = realm.guest().notes
    secret = b"the realm's secret: " + hashlib.sha256(struct.pack("<Q", 7)).hexdigest().encode()
    assert notes == {"secret": secret, "secret_ipa": 0x2000}
    pa = realm.data[0x2000]
    assert isinstance(host.peek(pa, len(secret)), GranuleProtectionFault)
    assert secret not in p.dram_read(pa, 4096)
    mecid = p.rmm.realms[realm.rd].mecid
    assert p.phys_read(pa, len(secret), PAS.REALM, mecid) == secret  # what the realm itself sees


def test_secret_keeper_notices_when_its_dram_is_overwritten(p, host, monkeypatch):
    monkeypatch.setattr(realm_exec, "OPS_PER_ENTRY", 50)
    realm = host.build_realm(RealmConfig(program="secret-keeper"))
    realm.run(max_exits=12)
    pa = realm.data[0x2000]
    assert realm.run(max_exits=3).console == ["realm: secret stored at IPA 0x2000"]  # all is well
    p.mec.clean_invalidate(pa)  # the plaintext leaves the caches...
    p.dram_write(pa, b"\xff" * 16)  # ...and a physical attacker on the DRAM bus overwrites the ciphertext
    report = realm.run(max_exits=12)
    assert report.console[-1] == "realm: my secret changed!"  # it decrypts to noise: no integrity


@pytest.mark.parametrize("populate", [False, True])
def test_memtouch_writes_and_reads_back_every_page(p, host, populate):
    realm = host.build_realm(RealmConfig(program="memtouch", ram_size=256 << 10, populate=populate))
    report = realm.run()
    assert report.stopped == "the realm called PSCI SYSTEM_OFF"
    assert realm.guest().notes == {"checksum_ok": True}
    faults = [d for _, r, d in report.exits if r == "SYNC"]
    assert len(faults) == (0 if populate else 63)  # every page but the image's, backed on first touch
    assert len(realm.data) == 64


def test_prober_sees_what_each_kind_of_ipa_does(p, host):
    realm = host.build_realm(RealmConfig(program="prober"))
    report = realm.run()
    assert realm.guest().notes["probe"] == {
        "ram": "ok", "beyond": "SEA: RIPAS EMPTY: the realm has not accepted this IPA as RAM", "unprotected": "ok"}
    assert [r for _, r, _ in report.exits] == ["SYNC", "PSCI"]
    assert report.exits[0][2] == f"MMIO read at {realm.cfg.shared_ipa:#x} (no device: reads 0)"
