"""The PSCI calls a realm makes: handled in the RMM, or forwarded to the host as PSCI exits."""

import pytest

from ccalab.firmware.psci import PSCI_VERSION_1_1, PsciFid, PsciReturn, as_signed
from ccalab.firmware.rmm import RmiStatus
from ccalab.firmware.rmm.objects import RealmState
from ccalab.firmware.rmm.rmi.rec import index_mpidr
from ccalab.firmware.rmm.status import unpack

from .._realmkit import run_script

PAR_TOP = 1 << 39


def _reasons(report):
    return [(k, reason) for k, reason, _ in report.exits]


@pytest.mark.parametrize("mpidr,entry,result,why", [
    (1, PAR_TOP, PsciReturn.INVALID_ADDRESS, "entry point in the unprotected half"),
    (1, 1 << 40, PsciReturn.INVALID_ADDRESS, "entry point beyond the IPA space"),
    (2, 0, PsciReturn.INVALID_PARAMS, "no REC 2"),
    (1 << 4, 0, PsciReturn.INVALID_PARAMS, "not an RmiRecMpidr value"),
    (index_mpidr(17), 0, PsciReturn.INVALID_PARAMS, "index 17"),
    (0, 0, PsciReturn.ALREADY_ON, "itself"),
    (1, PAR_TOP, PsciReturn.INVALID_ADDRESS, "the address check comes first"),
    (7, PAR_TOP, PsciReturn.INVALID_ADDRESS, "the address check comes before the MPIDR check"),
])
def test_cpu_on_failures_return_to_the_realm_without_an_exit(p, mpidr, entry, result, why):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.cpu_on(mpidr, entry, 0)

    realm, report, notes = run_script(p, script, recs=2)
    assert notes["r"] == result, why
    assert _reasons(report) == [(0, "PSCI")]  # only the final SYSTEM_OFF
    assert not p.rmm.recs[realm.recs[1]].runnable


def test_cpu_on_exits_to_the_host_and_starts_the_other_rec(p):
    def script(cpu):
        if cpu.index == 0:
            cpu.notes["on"] = yield from cpu.cpu_on(1, 0, 0xABC)
            cpu.notes["again"] = yield from cpu.cpu_on(1, 0, 0xABC)
            while (yield from cpu.affinity_info(1)) != 1:
                pass
            cpu.notes["after_off"] = yield from cpu.affinity_info(1)
        else:
            cpu.notes["context"] = cpu.gprs[0]
            yield from cpu.cpu_off()
            cpu.notes["never"] = True

    realm, report, notes = run_script(p, script, recs=2)
    # CPU 1 ran (round robin) and switched itself off before CPU 0 asked again: it starts again
    assert notes["on"] == PsciReturn.SUCCESS and notes["again"] == PsciReturn.SUCCESS
    assert notes["after_off"] == 1  # OFF
    cpu1 = realm.guest(1).notes
    assert cpu1["context"] == 0xABC and "never" not in cpu1
    assert (1, "PSCI") in _reasons(report)  # CPU_OFF is a PSCI exit too
    assert not p.rmm.recs[realm.recs[1]].runnable
    out = realm.host.rmi("REC_ENTER", realm.recs[1], realm.runs[1])  # the realm is off: that comes first
    assert (out.status, out.index, out.failure) == (RmiStatus.ERROR_REALM, 1, "system_off")


@pytest.mark.parametrize("mpidr,lowest", [(1, 1), (1, 2), (5, 0), (1 << 4, 0)])
def test_affinity_info_refuses_a_bad_level_or_mpidr(p, mpidr, lowest):
    def script(cpu):
        cpu.notes["r"] = as_signed((yield from cpu.smc(PsciFid.AFFINITY_INFO, mpidr, lowest))[0])

    _, report, notes = run_script(p, script, recs=2)
    assert notes["r"] == PsciReturn.INVALID_PARAMS and _reasons(report) == [(0, "PSCI")]


def test_affinity_info_of_a_rec_that_is_off(p):
    def script(cpu):
        cpu.notes["r"] = yield from cpu.affinity_info(1)
        cpu.notes["self"] = yield from cpu.affinity_info(0)

    _, _, notes = run_script(p, script, recs=2)
    assert (notes["r"], notes["self"]) == (1, 0)


@pytest.mark.parametrize("call", ["system_off", "system_reset"])
def test_system_off_and_reset_stop_the_realm_for_good(p, call):
    def script(cpu):
        yield from getattr(cpu, call)()
        cpu.notes["after"] = True

    realm, report, notes = run_script(p, script)
    r = p.rmm.realms[realm.rd]
    assert r.state == RealmState.SYSTEM_OFF and "after" not in notes
    assert report.exits[-1][1] == "PSCI"
    out = p.smc(0xC400_015C, realm.recs[0], realm.runs[0])
    assert unpack(out[0]) == (RmiStatus.ERROR_REALM, 1) and p.rmm.last_failure == "system_off"
    realm.destroy()  # a SYSTEM_OFF realm can still be torn down
    assert realm.rd not in p.rmm.realms


def test_a_crashing_guest_resets_the_realm(p):
    def script(cpu):
        yield from cpu.load(1 << 41)  # beyond the IPA space: an SEA the program does not handle

    realm, report, notes = run_script(p, script)
    assert p.rmm.realms[realm.rd].state == RealmState.SYSTEM_OFF
    assert any(e.kind == "rec" and "SYSTEM_RESET" in e.summary for e in p.events.of_kind("rec"))


def test_psci_version_features_and_unknown_calls(p):
    def script(cpu):
        cpu.notes["version"] = yield from cpu.psci_version()
        feats = []
        for f in (PsciFid.CPU_ON, PsciFid.SYSTEM_OFF, 0x8400_0012):
            feats.append(as_signed((yield from cpu.smc(PsciFid.PSCI_FEATURES, f))[0]))
        cpu.notes["features"] = feats
        cpu.notes["unknown"] = as_signed((yield from cpu.smc(0x8400_0012))[0])
        cpu.notes["not_psci"] = (yield from cpu.smc(0xC200_0000))[0]

    _, _, notes = run_script(p, script)
    assert notes["version"] == PSCI_VERSION_1_1
    assert notes["features"] == [0, 0, PsciReturn.NOT_SUPPORTED]
    assert notes["unknown"] == PsciReturn.NOT_SUPPORTED
    assert notes["not_psci"] == (1 << 64) - 1  # SMC_NOT_SUPPORTED


def test_cpu_suspend_is_a_psci_exit_and_then_succeeds(p):
    def script(cpu):
        cpu.notes["r"] = (yield from cpu.smc(PsciFid.CPU_SUSPEND, 0, 0, 0))[0]

    _, report, notes = run_script(p, script)
    assert notes["r"] == 0 and _reasons(report) == [(0, "PSCI"), (0, "PSCI")]
