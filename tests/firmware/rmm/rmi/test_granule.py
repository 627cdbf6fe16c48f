"""Conformance of RMI_GRANULE_DELEGATE / RMI_GRANULE_UNDELEGATE: for each failure condition n, a state
where 1..n-1 hold and n fails gives n's status; success postconditions; no exception for any X1."""

import numpy as np
import pytest

from ccalab import GPI, PAS
from ccalab.firmware.rmm import GranuleState, RmiFid, RmiStatus, spec, unpack

S = GranuleState
DELEGATE, UNDELEGATE = "RMI_GRANULE_DELEGATE", "RMI_GRANULE_UNDELEGATE"


def _holds(p, command, addr):
    """Each failure condition of ``command`` for ``addr``: True where it holds (does not fail)."""
    t = p.rmm.granules
    aligned = addr % 4096 == 0
    tracked = aligned and t.is_tracked(addr)
    want = S.UNDELEGATED if command == DELEGATE else S.DELEGATED
    out = {"gran_align": aligned, "gran_bound": tracked, "gran_state": tracked and t.state(addr) == want}
    if command == DELEGATE:
        out["gran_gpt"] = tracked and p.gpi(addr) == GPI.NONSECURE
    return out


def _delegated(p, addr):
    assert p.smc(RmiFid.RMI_GRANULE_DELEGATE, addr) == (RmiStatus.SUCCESS,)
    return addr


#: (command, label) -> ways of building a state where ``label`` is the first condition that fails.
CASES = {
    (DELEGATE, "gran_align"): {
        "one byte in": lambda p, g: g + 1,
        "half a granule in": lambda p, g: g + 0x800,
        "all ones": lambda p, g: (1 << 64) - 1,
    },
    (DELEGATE, "gran_bound"): {
        "uart mmio": lambda p, g: 0x1C09_0000,
        "trusted sram": lambda p, g: 0x0400_0000,
        "past the end of dram": lambda p, g: p.rmm.granules.banks[-1][0] + p.rmm.granules.banks[-1][1],
        "beyond the pa size": lambda p, g: 1 << 52,
        "top bit set": lambda p, g: 1 << 63,
        "last granule of the address space": lambda p, g: (1 << 64) - 4096,
    },
    (DELEGATE, "gran_state"): {
        "already delegated": lambda p, g: _delegated(p, g),
    },
    (DELEGATE, "gran_gpt"): {
        "secure carve-out": lambda p, g: p.region("Secure (TZC)").base,
        "rmm's own memory": lambda p, g: p.region("Realm (RMM)").base + 0x5000,
        "el3 dram (root)": lambda p, g: p.region("EL3 DRAM").base,
        "the gpt itself": lambda p, g: p.region("GPT").base,
    },
    (UNDELEGATE, "gran_align"): {
        "one byte in": lambda p, g: _delegated(p, g) + 1,
        "all ones": lambda p, g: (1 << 64) - 1,
    },
    (UNDELEGATE, "gran_bound"): {
        "uart mmio": lambda p, g: 0x1C09_0000,
        "top bit set": lambda p, g: 1 << 63,
    },
    (UNDELEGATE, "gran_state"): {
        "never delegated": lambda p, g: g,
        "rmm's own memory (Realm GPI, not delegated)": lambda p, g: p.region("Realm (RMM)").base,
        "undelegated again": lambda p, g: p.smc(RmiFid.RMI_GRANULE_UNDELEGATE, _delegated(p, g)) and g,
    },
}


def test_every_failure_condition_has_cases():
    assert {(c, label) for c in (DELEGATE, UNDELEGATE) for label in spec.labels(c)} == set(CASES)


@pytest.mark.parametrize("command,label,build", [(c, lab, build) for (c, lab), ways in CASES.items()
                                                 for build in ways.values()],
                         ids=[f"{c}-{lab}-{name}" for (c, lab), ways in CASES.items() for name in ways])
def test_the_first_failing_condition_decides_the_status(p, ns_granule, command, label, build):
    addr = build(p, ns_granule)
    holds = _holds(p, command, addr)
    order = spec.labels(command)
    n = order.index(label)
    assert all(holds[lab] for lab in order[:n]), f"conditions before {label} must hold: {holds}"
    assert not holds[label]
    before = p.rmm.granules.state(addr) if holds["gran_bound"] else None
    gpi_before = p.gpi(addr) if holds["gran_bound"] else None
    x0, = p.smc(RmiFid[command], addr)
    assert unpack(x0) == (spec.status_of(command, label), 0)
    if before is not None:  # a failed command changes nothing
        assert p.rmm.granules.state(addr) == before and p.gpi(addr) == gpi_before
    p.rmm.granules.check_invariants()


def test_delegate_success_moves_the_granule_to_realm_and_wipes_it(p, ns_granule):
    p.phys_write(ns_granule, b"host data the realm must not see" * 128, PAS.NONSECURE)
    assert all(_holds(p, DELEGATE, ns_granule).values())
    start = p.events.next_seq
    assert p.smc(RmiFid.RMI_GRANULE_DELEGATE, ns_granule) == (RmiStatus.SUCCESS,)
    kinds = p.events.kinds(start)
    assert kinds[0] == "rmi" and kinds[-1] == "rmi" and "smc.gtsi" in kinds
    assert p.rmm.granules.state(ns_granule) == S.DELEGATED and p.rmm.granules.refcount(ns_granule) == 0
    assert p.gpi(ns_granule) == GPI.REALM
    assert p.phys_read(ns_granule, 4096, PAS.REALM) == bytes(4096)  # the RMM's context: Realm, MECID 0
    assert p.gpc_check(ns_granule, PAS.NONSECURE) is not None  # the host has lost it
    assert p.rmm.granules.check_invariants() == 1


def test_delegate_leaves_neighbours_alone(p, ns_granule):
    _delegated(p, ns_granule)
    for pa in (ns_granule - 4096, ns_granule + 4096):
        assert p.rmm.granules.state(pa) == S.UNDELEGATED and p.gpi(pa) == GPI.NONSECURE


def test_undelegate_success_gives_the_granule_back_without_the_realm_data(p, ns_granule):
    _delegated(p, ns_granule)
    secret = b"realm secret" * 300
    p.phys_write(ns_granule, secret, PAS.REALM)
    assert all(_holds(p, UNDELEGATE, ns_granule).values())
    start = p.events.next_seq
    assert p.smc(RmiFid.RMI_GRANULE_UNDELEGATE, ns_granule) == (RmiStatus.SUCCESS,)
    assert p.rmm.granules.state(ns_granule) == S.UNDELEGATED and p.gpi(ns_granule) == GPI.NONSECURE
    seen = p.phys_read(ns_granule, 4096, PAS.NONSECURE)
    assert b"realm secret" not in seen and b"secret" not in seen
    assert "gpt.transition" in p.events.kinds(start)
    # delegated again, it reads as zero to the RMM: nothing survives a round trip
    _delegated(p, ns_granule)
    assert p.phys_read(ns_granule, 4096, PAS.REALM) == bytes(4096)


def test_undelegate_wipes_before_el3_changes_the_gpt(p, ns_granule):
    _delegated(p, ns_granule)
    start = p.events.next_seq
    writes_seen = []
    real = p.mec.store_granule
    p.mec.store_granule = lambda pa, data, ctx: (writes_seen.append((pa, p.gpi(pa))), real(pa, data, ctx))
    assert p.smc(RmiFid.RMI_GRANULE_UNDELEGATE, ns_granule) == (RmiStatus.SUCCESS,)
    assert writes_seen == [(ns_granule, GPI.REALM)]  # the wipe ran while the granule was still Realm
    assert p.events.kinds(start).count("smc.gtsi") == 1


def test_a_refused_gtsi_undelegate_is_error_input_and_keeps_the_granule_delegated(p, ns_granule, monkeypatch):
    from ccalab.firmware.monitor import E_RMM_BAD_PAS

    _delegated(p, ns_granule)
    monkeypatch.setattr(p.monitor, "gtsi_undelegate", lambda pa: E_RMM_BAD_PAS)
    assert p.smc(RmiFid.RMI_GRANULE_UNDELEGATE, ns_granule) == (RmiStatus.ERROR_INPUT,)
    assert p.rmm.granules.state(ns_granule) == S.DELEGATED and p.gpi(ns_granule) == GPI.REALM
    p.rmm.granules.check_invariants()


def test_delegate_and_undelegate_work_in_the_second_dram_bank():
    from ccalab import Platform

    q = Platform(dram_size=3 << 30)
    q.rmm.debug = True
    g = 0x8_8000_0000 + (5 << 20)
    assert q.smc(RmiFid.RMI_GRANULE_DELEGATE, g) == (0,) and q.gpi(g) == GPI.REALM
    assert q.smc(RmiFid.RMI_GRANULE_UNDELEGATE, g) == (0,) and q.gpi(g) == GPI.NONSECURE


@pytest.mark.parametrize("command", [RmiFid.RMI_GRANULE_DELEGATE, RmiFid.RMI_GRANULE_UNDELEGATE])
def test_any_64_bit_address_gets_a_status_and_never_an_exception(p, ns_granule, command):
    rng = np.random.default_rng(7)
    values = [int(v) for v in rng.integers(0, 1 << 63, 150, dtype=np.uint64)]
    values += [v | (1 << 63) for v in values[:50]]
    values += [0, 4096, (1 << 64) - 1, (1 << 64) - 4096, 1 << 63, (1 << 48) - 4096, ns_granule,
               p.ns_dram().base, p.ns_dram().base - 4096]
    dram = [ns_granule + 4096 * int(k) for k in rng.integers(0, 1024, 30)]  # some that succeed
    for v in values + dram + dram:
        x0, = p.smc(command, v)
        assert x0 in (RmiStatus.SUCCESS, RmiStatus.ERROR_INPUT)
    p.rmm.granules.check_invariants()
