"""Building blocks for the RMM conformance tests.

:class:`Kit` makes realms, RTTs, DATA granules and RECs through the RMI, one command at a time, as
a host does, so that every test starts from a state the spec can reach. :class:`Conformance`
turns a command's failure table (``spec.FAILURE_CONDITIONS``) into tests in the manner of the
spec's CBMC testbenches: a baseline call that succeeds, then for each condition *n* one change to
that baseline which makes *n* fail while 1..n-1 still hold, and for each pair of conditions
*m* < *n* both changes at once (the first failing condition decides the status).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Callable

import pytest

from ccalab import PAS
from ccalab.firmware.rmm import GranuleState, RmiFid, RmiStatus, s2tt, spec
from ccalab.firmware.rmm.rmi.rec import REC_AUX_COUNT, index_mpidr
from ccalab.firmware.rmm.status import describe, unpack
from ccalab.firmware.rmm.structs import (EXIT_OFFSET, REALM_PARAMS, REC_ENTER, REC_EXIT, REC_FLAG_RUNNABLE,
                                         REC_PARAMS, pack)
from ccalab.firmware.rmm.structs import unpack as unpack_struct
from ccalab.guest import header, program

S = GranuleState
GRANULE = 4096
MB = 1 << 20
UART = 0x1C09_0000  # MMIO: not a granule the RMM tracks

# Host-visible descriptor of an unprotected mapping: Normal write-back (MemAttr 0b110), read/write.
NS_ATTRS = (0b110 << 2) | (0b11 << 6)


class Kit:
    """A host that builds RMM states one RMI command at a time, failing loudly if one is refused."""

    def __init__(self, p):
        self.p = p
        ns = p.ns_dram()
        # above the pool Host() allocates from (which starts 64 MiB in), so both can share a machine
        self._next = ns.base + (100 << 20)
        self._end = ns.base + ns.size
        self._vmids = itertools.count(100)

    # --- calls ----------------------------------------------------------------------------------
    def call(self, command: str, *args) -> tuple:
        return self.p.smc(RmiFid[command], *args)

    def ok(self, command: str, *args) -> tuple:
        out = self.call(command, *args)
        assert out[0] == RmiStatus.SUCCESS, (f"{command}{tuple(hex(a) for a in args)} -> {describe(out[0])} "
                                             f"[{self.p.rmm.last_failure}]")
        return out

    @contextlib.contextmanager
    def quiet(self):
        """Skip the per-command invariant scan while building large states (checked once at the end)."""
        rmm = self.p.rmm
        old, rmm.debug = rmm.debug, False
        try:
            yield
        finally:
            rmm.debug = old
            if old:
                rmm.granules.check_invariants()
                rmm.check_rtt_invariants()

    # --- host memory ----------------------------------------------------------------------------
    def ns(self, n: int = 1, align: int = GRANULE) -> int:
        """``n`` contiguous Non-secure granules, the first aligned to ``align``."""
        pa = -(-self._next // align) * align
        assert pa + n * GRANULE <= self._end, "the test host ran out of Non-secure memory"
        self._next = pa + n * GRANULE
        return pa

    def write(self, pa: int, data: bytes) -> int:
        self.p.phys_write(pa, bytes(data), PAS.NONSECURE)
        return pa

    def page(self, data: bytes = b"") -> int:
        """A host page holding ``data`` (zero-padded)."""
        return self.write(self.ns(), bytes(data).ljust(GRANULE, b"\0"))

    def delegated(self, n: int = 1, align: int = GRANULE) -> list:
        base = self.ns(n, align)
        out = []
        with self.quiet() if n > 1 else contextlib.nullcontext():  # one invariant scan, not n
            for k in range(n):
                self.ok("RMI_GRANULE_DELEGATE", base + k * GRANULE)
                out.append(base + k * GRANULE)
        return out

    def granule(self) -> int:
        return self.delegated()[0]

    def secure_granule(self) -> int:
        """Tracked DRAM, UNDELEGATED, but not Non-secure memory (the Secure carve-out)."""
        return self.p.region("Secure (TZC)").base

    # --- realms ---------------------------------------------------------------------------------
    def realm_params(self, s2sz: int = 40, sl: int = 0, hash_algo: int = 0, **over) -> dict:
        prm = {"flags": 0, "s2sz": s2sz, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0,
               "hash_algo": hash_algo, "rpv": bytes(64), "vmid": next(self._vmids), "rtt_base": 0,
               "rtt_level_start": sl, "rtt_num_start": s2tt.rtt_num_start(s2sz, sl)}
        prm.update(over)
        return prm

    def params_page(self, layout, values: dict) -> int:
        return self.write(self.ns(), bytes(pack(layout, values)))

    def realm(self, s2sz: int = 40, sl: int = 0, hash_algo: int = 0, **over):
        """A NEW realm (REALM_CREATE with delegated RD and root RTTs); its :class:`Realm` object."""
        prm = self.realm_params(s2sz, sl, hash_algo, **over)
        rd = self.granule()
        prm["rtt_base"] = self.delegated(prm["rtt_num_start"])[0]
        self.ok("RMI_REALM_CREATE", rd, self.params_page(REALM_PARAMS, prm))
        return self.p.rmm.realms[rd]

    def activate(self, realm) -> None:
        self.ok("RMI_REALM_ACTIVATE", realm.rd)

    # --- RTTs -------------------------------------------------------------------------------------
    def rtts(self, realm, ipa: int, level: int = 3) -> list:
        """RTT_CREATE every missing table from the start level down to ``level`` for ``ipa``; the PAs
        of the tables it created."""
        made = []
        for lvl in range(realm.rtt_level_start + 1, level + 1):
            w = self.p.rmm.walk(realm, ipa, lvl - 1)
            if w.level == lvl - 1 and s2tt.decode(w.entry, lvl - 1)[0] == s2tt.Hipas.TABLE:
                continue
            rtt = self.granule()
            self.ok("RMI_RTT_CREATE", realm.rd, rtt, ipa & ~(s2tt.LEVEL_SIZE[lvl - 1] - 1), lvl)
            made.append(rtt)
        return made

    def rtt_at(self, realm, ipa: int, level: int) -> int:
        """The PA of the level-``level`` RTT that maps ``ipa`` (it must exist)."""
        w = self.p.rmm.walk(realm, ipa, level)
        assert w.level == level, f"no level-{level} RTT for {ipa:#x}"
        return w.rtt

    def entry(self, realm, ipa: int, level: int = 3) -> tuple:
        """``(walk_level, hipas, ripas, pa)`` of the entry a walk to ``level`` reaches for ``ipa``."""
        w = self.p.rmm.walk(realm, ipa, level)
        return (w.level, *s2tt.decode(w.entry, w.level))

    def read_entry(self, realm, ipa: int, level: int = 3) -> tuple:
        """RTT_READ_ENTRY's outputs ``(walk_level, state, desc, ripas)``."""
        return self.ok("RMI_RTT_READ_ENTRY", realm.rd, ipa, level)[1:]

    def init_ripas(self, realm, base: int, top: int) -> int:
        return self.ok("RMI_RTT_INIT_RIPAS", realm.rd, base, top)[1]

    # --- DATA --------------------------------------------------------------------------------------
    def data(self, realm, ipa: int, content: bytes = b"", flags: int = 1, pa: int | None = None) -> int:
        """DATA_CREATE ``content`` at ``ipa`` (creating the RTTs on the way); the DATA granule."""
        self.rtts(realm, ipa)
        pa = self.granule() if pa is None else pa
        self.ok("RMI_DATA_CREATE", realm.rd, pa, ipa, self.page(content), flags)
        return pa

    def data_unknown(self, realm, ipa: int) -> int:
        self.rtts(realm, ipa)
        pa = self.granule()
        self.ok("RMI_DATA_CREATE_UNKNOWN", realm.rd, pa, ipa)
        return pa

    def image(self, realm, program: str, ipa: int = 0, flags: int = 1) -> int:
        """The boot page of guest program ``program`` as DATA at ``ipa``."""
        return self.data(realm, ipa, header(program), flags)

    # --- RECs ----------------------------------------------------------------------------------------
    def rec_params(self, index: int = 0, runnable: bool = True, pc: int = 0, gprs=(), aux=None) -> dict:
        aux = self.delegated(REC_AUX_COUNT) if aux is None else list(aux)
        return {"flags": REC_FLAG_RUNNABLE if runnable else 0, "mpidr": index_mpidr(index), "pc": pc,
                "gprs": list(gprs) + [0] * (8 - len(gprs)), "num_aux": len(aux), "aux": aux}

    def rec(self, realm, runnable: bool = True, pc: int = 0, gprs=()) -> int:
        """REC_CREATE the next REC of ``realm``; its PA."""
        rec = self.granule()
        prm = self.rec_params(realm.rec_index, runnable, pc, gprs)
        self.ok("RMI_REC_CREATE", realm.rd, rec, self.params_page(REC_PARAMS, prm))
        return rec

    def run_page(self, flags: int = 0, gprs=(), gicv3_hcr: int = 0, lrs=()) -> int:
        run = self.ns()
        self.write_enter(run, flags, gprs, gicv3_hcr, lrs)
        return run

    def write_enter(self, run: int, flags: int = 0, gprs=(), gicv3_hcr: int = 0, lrs=()) -> None:
        self.write(run, bytes(pack(REC_ENTER, {"flags": flags, "gprs": list(gprs), "gicv3_hcr": gicv3_hcr,
                                               "gicv3_lrs": list(lrs)}, size=0x800)))

    def read_exit(self, run: int) -> dict:
        return unpack_struct(REC_EXIT, self.p.phys_read(run + EXIT_OFFSET, 0x800, PAS.NONSECURE))

    def enter(self, rec: int, run: int | None = None, flags: int = 0, gprs=()) -> dict:
        """One successful REC_ENTER; the exit fields."""
        run = self.run_page() if run is None else run
        self.write_enter(run, flags, gprs)
        self.ok("RMI_REC_ENTER", rec, run)
        return self.read_exit(run)


def guest_realm(p, program: str, **config):
    """A realm built and activated by the host model (``Host.build_realm``) running ``program``."""
    from ccalab.host import Host, RealmConfig

    return Host(p).build_realm(RealmConfig(program=program, **config))


def h(algo: int, data: bytes) -> bytes:
    """H(data) with RmiHashAlgorithm ``algo``, straight from hashlib."""
    return (hashlib.sha256 if algo == 0 else hashlib.sha512)(data).digest()


# --- the conformance machinery --------------------------------------------------------------------
def snapshot(p) -> tuple:
    """Everything an RMI command may change: granule states and refcounts, every RTT's entries,
    every realm's state and measurements, every REC's state."""
    rmm, g = p.rmm, p.rmm.granules
    owned = sorted(pa for st in GranuleState if st != S.UNDELEGATED for pa in g.granules_in(st).tolist())
    rtts = {pa: hashlib.sha256(rmm.rtt_entries(pa).tobytes()).digest() for pa in g.granules_in(S.RTT).tolist()}
    realms = {rd: (r.state, tuple(r.measurements), r.rec_index, tuple(r.recs)) for rd, r in rmm.realms.items()}
    recs = {pa: (r.state, r.runnable, r.pc, r.psci_pending, None if r.ripas is None else vars(r.ripas).copy(),
                 r.host_call) for pa, r in rmm.recs.items()}
    return ({pa: (g.state(pa), g.refcount(pa)) for pa in owned}, rtts, realms, recs)


@dataclass
class Case:
    """One call of ``command`` in a prepared state. ``args`` values may be callables, evaluated just
    before the call (so a change can edit, e.g., the params page's fields before it is written)."""

    kit: Kit
    command: str
    args: dict
    ctx: dict = field(default_factory=dict)
    debug: bool = True
    before_call: list = field(default_factory=list)  # edits made just before the call

    @property
    def p(self):
        return self.kit.p

    def values(self) -> tuple:
        return tuple(v() if callable(v) else v for v in self.args.values())

    def call(self) -> tuple:
        vals = self.values()
        for edit in self.before_call:
            edit(self)
        self.before_call.clear()
        self.p.rmm.debug = self.debug
        out = self.p.smc(RmiFid[self.command], *vals)
        self.p.rmm.debug = True
        return out


@dataclass
class Change:
    """How to make one failure condition fail: ``apply(case)`` edits the case (and the machine) and
    returns the expected index (None for 0). ``touches`` names what it edits: two changes that
    touch the same thing are not combined."""

    touches: frozenset
    apply: Callable


def change(*touches):
    """Decorator: a :class:`Change` touching ``touches``."""
    return lambda fn: Change(frozenset(touches), fn)


class Conformance:
    """The conformance tests of one command, from its baseline and its changes (one per label)."""

    def __init__(self, command: str, baseline: Callable, changes: dict, check_success: Callable | None = None):
        self.command, self.baseline, self.changes = command, baseline, changes
        self.check_success = check_success
        self.labels = spec.labels(command)

    def pairs(self) -> list:
        out = []
        for i, first in enumerate(self.labels):
            for second in self.labels[i + 1:]:
                if not (self.changes[first].touches & self.changes[second].touches):
                    out.append((first, second))
        return out

    def expect_failure(self, case: Case, label: str, index) -> tuple:
        case.values()  # any page a change writes is written before the snapshot
        for edit in case.before_call:
            edit(case)
        case.before_call.clear()
        before = snapshot(case.p)
        out = case.call()
        status = spec.status_of(self.command, label)
        got = unpack(out[0])
        assert got == (status, index or 0), (f"{self.command} with {label} failing: expected "
                                             f"{status.spec_name} index {index or 0}, got {describe(out[0])} "
                                             f"[{case.p.rmm.last_failure}]")
        assert spec.label_of(case.p.rmm.last_failure) == label
        assert snapshot(case.p) == before, "a failed command changed the state"
        return out

    # test factories (bound to module-level names by each test module) --------------------------------
    def tests(self):
        conf = self

        def test_has_a_change_for_every_failure_condition():
            assert set(conf.changes) == set(conf.labels)

        def test_baseline_succeeds(p):
            case = conf.baseline(Kit(p))
            out = case.call()
            assert out[0] == RmiStatus.SUCCESS, f"{describe(out[0])} [{p.rmm.last_failure}]"
            assert p.rmm.last_failure is None
            if conf.check_success is not None:
                conf.check_success(case, out)

        @pytest.mark.parametrize("label", conf.labels)
        def test_each_condition_alone_decides_the_status(p, label):
            case = conf.baseline(Kit(p))
            index = conf.changes[label].apply(case)
            conf.expect_failure(case, label, index)

        @pytest.mark.parametrize("first,second", conf.pairs(), ids=[f"{a}+{b}" for a, b in conf.pairs()])
        def test_the_first_failing_condition_wins(p, first, second):
            case = conf.baseline(Kit(p))
            conf.changes[second].apply(case)  # the later one first: its setup may need the earlier to hold
            index = conf.changes[first].apply(case)
            conf.expect_failure(case, first, index)

        # (a command whose conditions all concern one input has no pairs: bind only the first three)
        return (test_has_a_change_for_every_failure_condition, test_baseline_succeeds,
                test_each_condition_alone_decides_the_status, test_the_first_failing_condition_wins)


def granule_changes(arg: str, prefix: str, good_state=None) -> dict:
    """The three granule-check changes (``<prefix>_align``, ``_bound``, ``_state``) of argument
    ``arg``: one byte in, an MMIO address, a granule in the wrong state."""

    def align(case):
        v = case.args[arg]
        case.args[arg] = (v() if callable(v) else v) + 1

    def bound(case):
        case.args[arg] = UART

    def state(case):
        kit = case.kit
        case.args[arg] = kit.granule() if good_state != S.DELEGATED else kit.ns()

    touches = frozenset((arg,))
    return {f"{prefix}_align": Change(touches, align), f"{prefix}_bound": Change(touches, bound),
            f"{prefix}_state": Change(touches, state)}


def ns_pointer_changes(arg: str, prefix: str) -> dict:
    """The checks of a pointer to a host page: ``_align``, ``_bound``, ``_state`` (a delegated
    granule), ``_pas`` (tracked DRAM that is not Non-secure)."""
    out = granule_changes(arg, prefix, S.UNDELEGATED)

    def pas(case):
        case.args[arg] = case.kit.secure_granule()

    out[f"{prefix}_pas"] = Change(frozenset((arg,)), pas)
    return out


# --- guest scripts ------------------------------------------------------------------------------------------
_SCRIPTS = {}


@program("test-rmm-script")
def _script_program(cpu):
    """Run the test script named by X5 (the program argument), then power the realm off. A CPU
    started by PSCI CPU_ON has X5 = 0: it runs the script of the latest realm."""
    yield from _SCRIPTS.get(cpu.gprs[5], _SCRIPTS[len(_SCRIPTS)])(cpu)
    yield from cpu.system_off()


def run_script(p, script, setup=None, **config):
    """Build a realm (``Host.build_realm``) whose REC 0 runs ``script(cpu)`` (a generator over a
    :class:`~ccalab.guest.GuestCpu`), let ``setup(realm)`` adjust the host's handle, run it to the
    end; ``(realm, report, notes)``."""
    key = len(_SCRIPTS) + 1
    _SCRIPTS[key] = script
    realm = guest_realm(p, "test-rmm-script", arg=key, **config)
    if setup is not None:
        setup(realm)
    report = realm.run(max_exits=2000)
    return realm, report, realm.guest().notes


__all__ = ["Kit", "Case", "Change", "change", "Conformance", "snapshot", "granule_changes", "ns_pointer_changes",
           "guest_realm", "run_script", "h", "GRANULE", "MB", "UART", "NS_ATTRS", "S"]
