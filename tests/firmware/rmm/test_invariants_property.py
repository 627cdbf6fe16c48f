"""Random sequences of RMI commands, valid and invalid, against the RMM's invariants.

Each example boots a machine, builds one realm (RTTs, a DATA page running a guest program, two
RECs; active or not), then runs up to ``MAX_OPS`` commands whose arguments are drawn from a
small pool of granules (in whatever state earlier commands left them), the realms, RECs and RTTs
that exist, a handful of interesting IPAs and levels, and params / run pages that are valid or not.
After every command:

* nothing raised: every bad argument got a status code, and that status is the one the spec table
  gives the failure label the RMM recorded (and a failure changed nothing);
* the RMM's own checks hold (``debug`` on: granule contract, RTT refcounts = live entries);
* no DATA granule is mapped twice and every DATA granule is mapped; every RTT, REC, REC_AUX and
  RD granule belongs to exactly one object;
* no granule the RMM owns is readable by the host (the GPC faults a Non-secure access), and every
  host granule still is;
* every DELEGATED granule reads as zero in the RMM's context.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccalab import PAS, Platform
from ccalab.firmware.rmm import GranuleState, RmiFid, RmiStatus, s2tt, spec
from ccalab.firmware.rmm.rmi.rec import REC_AUX_COUNT, index_mpidr
from ccalab.firmware.rmm.rsi.status import RsiFid
from ccalab.firmware.rmm.status import unpack
from ccalab.firmware.rmm.structs import REALM_PARAMS, REC_ENTER, REC_PARAMS, pack
from ccalab.guest import SyncExternalAbort, header, program

from ._realmkit import NS_ATTRS, snapshot

S = GranuleState
POOL = 64
MAX_OPS = 30
MB, GB = 1 << 20, 1 << 30
MMIO = (1 << 39) + 0x40
IPAS = (0, 0x1000, 0x2000, 0x3000, 0x1800, 0x1FF000, 2 * MB, 2 * MB + 0x1000, 4 * MB, GB, (1 << 35) - 0x1000,
        1 << 35, (1 << 39) - 0x1000, 1 << 39, (1 << 39) + 0x1000, (1 << 39) + 2 * MB, 1 << 40, 1 << 63)
LEVELS = (3, 2, 1, 3, 0, 3, 4, (1 << 64) - 1)
#: Entries that map nothing (the walk of the check skips them).
NOTHING_MAPPED = np.array([s2tt.unassigned(r) for r in s2tt.Ripas] + [s2tt.unassigned_ns()], np.uint64)
GEOMETRY = ((40, 0, 1), (36, 1, 1), (32, 2, 4), (40, 1, 2), (40, 0, 2), (49, 0, 1), (40, 4, 1))


@program("test-property-guest")
def _guest(cpu):
    """Exits of every kind, round and round: CPU_ON, RIPAS change, MMIO, an abort, a host call."""
    step = 0
    while True:
        k = step % 6
        try:
            if k == 0:
                yield from cpu.cpu_on(1, 0, step)
            elif k == 1:
                yield from cpu.smc(RsiFid.RSI_IPA_STATE_SET, 0x2000, 0x4000, step & 1, 0)
            elif k == 2:
                yield from cpu.store(MMIO, step)
            elif k == 3:
                yield from cpu.load(0x3000)
            elif k == 4:
                yield from cpu.smc(RsiFid.RSI_HOST_CALL, 0x1000)
            else:
                yield from cpu.affinity_info(1)
        except SyncExternalAbort:
            pass
        step += 1


COMMANDS = ("DELEGATE", "DELEGATE_MANY", "UNDELEGATE", "REALM_CREATE", "REALM_ACTIVATE", "REALM_DESTROY", "REC_CREATE",
            "REC_DESTROY", "REC_AUX_COUNT", "REC_ENTER", "PSCI_COMPLETE", "RTT_CREATE", "RTT_DESTROY", "RTT_FOLD",
            "RTT_MAP_UNPROTECTED", "RTT_UNMAP_UNPROTECTED", "RTT_READ_ENTRY", "RTT_INIT_RIPAS", "RTT_SET_RIPAS",
            "DATA_CREATE", "DATA_CREATE_UNKNOWN", "DATA_DESTROY", "VERSION", "FEATURES")
# the commands that build things are drawn more often
WEIGHTED = COMMANDS + ("DELEGATE_MANY", "REALM_CREATE", "REC_CREATE", "RTT_CREATE", "RTT_CREATE", "DATA_CREATE",
                       "DATA_CREATE", "REC_ENTER", "REALM_ACTIVATE", "RTT_INIT_RIPAS")
OPS = st.lists(st.tuples(st.sampled_from(WEIGHTED), st.lists(st.integers(0, 63), min_size=8, max_size=8)),
               min_size=MAX_OPS // 2, max_size=MAX_OPS)


def odd(v: int, k: int) -> bool:
    """About one draw in ``k`` picks the wrong argument; never the draws hypothesis favours (0, 63)."""
    return v not in (0, 63) and v % k == 1


class Machine:
    """The machine under test, and how a drawn integer becomes an argument."""

    def __init__(self):
        self.p = Platform(dram_size=256 << 20)
        self.p.rmm.debug = True
        self.p.rmm.token_provider = None
        ns = self.p.ns_dram()
        self.pool = [ns.base + (80 << 20) + k * 4096 for k in range(POOL)]
        self.page = ns.base + (90 << 20)  # params / run pages, the host's own
        self.specials = [self.pool[0] + 8, 0x1C09_0000, self.p.region("Secure (TZC)").base, 1 << 52,
                         (1 << 64) - 4096, self.p.region("Realm (RMM)").base]
        self.g = self.p.rmm.granules

    def of(self, state):
        return [pa for pa in self.pool if self.g.state(pa) == state]

    def pick(self, i, kind=None):
        """A granule: mostly one of ``kind`` (a GranuleState), else any pool granule or a bad address."""
        if kind is not None and not odd(i, 4):
            cands = self.of(kind)
            if cands:
                return cands[(i // 4) % len(cands)]
        allofthem = self.pool + self.specials
        return allofthem[i % len(allofthem)]

    def host_page(self, data: bytes) -> int:
        self.page += 4096
        self.p.phys_write(self.page, data, PAS.NONSECURE)
        return self.page

    # --- building the arguments of each command ---------------------------------------------------------
    # A draw of 0 always gives the likely-valid choice (hypothesis shrinks towards 0), and odd(v, k),
    # about one draw in k, a wrong one.
    def args(self, name, x):
        g, R, D = self.pick, S.RD, S.DELEGATED
        ipa, level = IPAS[x[2] % len(IPAS)], LEVELS[x[3] % len(LEVELS)]
        if not odd(x[7], 4) and 1 <= level <= 3:  # mostly an IPA the level accepts
            table = name in ("RTT_CREATE", "RTT_DESTROY", "RTT_FOLD")
            ipa &= ~(s2tt.LEVEL_SIZE[level - 1 if table else level] - 1)
        if name in ("DELEGATE", "UNDELEGATE"):
            return [g(x[0], S.UNDELEGATED if name == "DELEGATE" else D)]
        if name == "REALM_CREATE":
            s2sz, sl, num = GEOMETRY[x[2] % len(GEOMETRY)] if odd(x[3], 3) else GEOMETRY[0]
            prm = {"flags": 1 << (x[4] % 4) if odd(x[4], 5) else 0, "s2sz": s2sz, "num_bps": 1, "num_wps": 1,
                   "hash_algo": x[5] % 3 if x[5] > 50 else x[5] % 2, "vmid": 2 + x[6] % 3,
                   "rtt_base": g(x[1] + 4, D), "rtt_level_start": sl, "rtt_num_start": num}
            params = g(x[7], D) if odd(x[7], 8) else self.host_page(bytes(pack(REALM_PARAMS, prm)))
            return [g(x[0], D), params]
        if name in ("REALM_ACTIVATE", "REALM_DESTROY", "REC_AUX_COUNT"):
            return [g(x[0], R)]
        if name == "REC_CREATE":
            rd, rec = g(x[0], R), g(x[1], D)
            delegated = [pa for pa in self.of(D) if pa != rec]
            start = x[2] % max(1, len(delegated))
            aux = (delegated[start:] + delegated[:start])[:REC_AUX_COUNT]
            aux += [g(x[3] + k) for k in range(REC_AUX_COUNT - len(aux))]
            if odd(x[4], 8):
                aux[x[4] % 16] = aux[(x[4] + 1) % 16]  # an aliased aux granule
            realm = self.p.rmm.realms.get(rd)
            index = x[5] % 3 if realm is None or odd(x[5], 4) else realm.rec_index
            mpidr = 1 << 4 if odd(x[5], 7) else index_mpidr(index)
            prm = {"flags": int(not odd(x[6], 3) or index == 0), "mpidr": mpidr,
                   "pc": 0x1000 if odd(x[7], 4) else 0, "gprs": [0] * 8,
                   "num_aux": x[7] % 18 if odd(x[7], 5) else REC_AUX_COUNT, "aux": aux}
            return [rd, rec, self.host_page(bytes(pack(REC_PARAMS, prm)))]
        if name == "REC_DESTROY":
            return [g(x[0], S.REC)]
        if name == "REC_ENTER":
            flags = (0, 0, 0, 0, 1, 1, 2, 4, 16, 3)[x[2] % 10]
            enter = {"flags": flags, "gprs": [x[3]], "gicv3_hcr": 1 << 13 if odd(x[4], 16) else 0}
            run = g(x[5], D) if odd(x[5], 8) else self.host_page(bytes(pack(REC_ENTER, enter, size=0x800)))
            runnable = [pa for pa, r in self.p.rmm.recs.items() if r.runnable]
            rec = runnable[x[0] % len(runnable)] if runnable and not odd(x[0], 4) else g(x[0], S.REC)
            return [rec, run]
        if name == "PSCI_COMPLETE":
            status = (0, 0, (1 << 64) - 3, 1)[x[2] % 4]
            pending = [pa for pa, r in self.p.rmm.recs.items() if r.psci_pending is not None]
            calling = pending[x[0] % len(pending)] if pending and not odd(x[0], 4) else g(x[0], S.REC)
            r = self.p.rmm.recs.get(calling)
            if r is not None and r.psci_pending is not None and not odd(x[1], 4):
                realm = self.p.rmm.realms[r.rd]
                index = (r.psci_pending[1] & 0xF) % max(1, len(realm.recs))  # the REC it asked for
                target = realm.recs[index] or g(x[1], S.REC)
            else:
                target = g(x[1], S.REC)
            return [calling, target, status]
        if name == "RTT_CREATE":
            return [g(x[0], R), g(x[1], D), ipa, level]
        if name in ("RTT_DESTROY", "RTT_FOLD") and not odd(x[6], 3):
            return [g(x[0], R), 1 << 39, 3]  # the prelude's empty unprotected level-3 RTT
        if name in ("DATA_CREATE", "DATA_CREATE_UNKNOWN", "DATA_DESTROY") and not odd(x[6], 2):
            ipa = x[2] % 4 * 0x1000  # where the prelude's RTTs and DATA are
        if name == "RTT_UNMAP_UNPROTECTED" and not odd(x[6], 3):
            return [g(x[0], R), (1 << 39) + (x[6] % 4) * 0x1000, 3]
        if name in ("RTT_DESTROY", "RTT_FOLD", "RTT_READ_ENTRY", "RTT_UNMAP_UNPROTECTED"):
            return [g(x[0], R), ipa, level]
        if name == "RTT_MAP_UNPROTECTED":
            if not odd(x[6], 3):
                ipa, level = (1 << 39) + (x[6] % 4) * 0x1000, 3  # the unprotected pages the prelude has tables for
            host = self.specials[x[4] % len(self.specials)] if x[4] > 55 else self.page + 4096 * (1 + x[4])
            desc = (host & ~0xFFF) | ((x[5] & 0xFF) << 1 if odd(x[5], 6) else NS_ATTRS)
            return [g(x[0], R), ipa, level, desc]
        if name == "RTT_INIT_RIPAS":
            span = (0x1000, 0x3000, 2 * MB, GB, 0, 0x800)[x[4] % 6]
            return [g(x[0], R), ipa, IPAS[x[3] % len(IPAS)] if odd(x[5], 4) else ipa + span]
        if name == "RTT_SET_RIPAS":
            asked = [pa for pa, r in self.p.rmm.recs.items() if r.ripas is not None]
            rec = asked[x[1] % len(asked)] if asked and not odd(x[1], 4) else g(x[1], S.REC)
            r = self.p.rmm.recs.get(rec)
            if r is not None and r.ripas is not None and not odd(x[2], 3):
                return [r.rd, rec, r.ripas.addr, r.ripas.top]  # what the REC asked for
            return [g(x[0], R), rec, ipa, IPAS[x[3] % len(IPAS)]]
        if name == "DATA_CREATE":
            content = bytes([x[5]]) * 64 if odd(x[5], 2) else header("test-property-guest")
            src = g(x[4], S.UNDELEGATED) if odd(x[4], 4) else self.host_page(content.ljust(4096, b"\0"))
            return [g(x[0], R), g(x[1], D), ipa, src, (0, 1, 1, 2)[x[6] % 4]]
        if name == "DATA_CREATE_UNKNOWN":
            return [g(x[0], R), g(x[1], D), ipa]
        if name == "DATA_DESTROY":
            return [g(x[0], R), ipa]
        if name == "VERSION":
            return [(0x10000, 0x10001, 0x20000, 0)[x[0] % 4]]
        if name == "FEATURES":
            return [x[0] % 3]
        raise AssertionError(name)

    def prelude(self, activate: bool):
        """A realm to work on: RTTs down to level 3 at IPA 0 and at the start of the unprotected half,
        the guest program's page at IPA 0, RIPAS RAM up to 2 MiB, REC 0 (runnable) and REC 1."""
        self.p.rmm.debug = False  # one invariant scan after the 64 delegations, not 64
        for pa in self.pool:
            self.call("GRANULE_DELEGATE", [pa])
        self.p.rmm.debug = True
        self.p.rmm.granules.check_invariants()
        rd, root = self.pool[0], self.pool[1]
        prm = {"s2sz": 40, "num_bps": 1, "num_wps": 1, "vmid": 1, "rtt_base": root, "rtt_num_start": 1}
        self.call("REALM_CREATE", [rd, self.host_page(bytes(pack(REALM_PARAMS, prm)))])
        for k, (ipa, level) in enumerate([(0, 1), (0, 2), (0, 3), (1 << 39, 1), (1 << 39, 2), (1 << 39, 3)]):
            self.call("RTT_CREATE", [rd, self.pool[2 + k], ipa, level])
        self.call("DATA_CREATE", [rd, self.pool[8], 0, self.host_page(header("test-property-guest")), 1])
        self.call("RTT_INIT_RIPAS", [rd, 0x1000, 2 * MB])
        for index in (0, 1):
            aux = self.pool[10 + 17 * index:27 + 17 * index]
            prm = {"flags": int(index == 0), "mpidr": index_mpidr(index), "num_aux": REC_AUX_COUNT, "aux": aux[1:]}
            self.call("REC_CREATE", [rd, aux[0], self.host_page(bytes(pack(REC_PARAMS, prm)))])
        assert len(self.p.rmm.recs) == 2, self.p.rmm.last_failure
        if activate:
            self.call("REALM_ACTIVATE", [rd])

    # --- one command, checked -------------------------------------------------------------------------------
    def run(self, name, x):
        if name == "DELEGATE_MANY":
            start = x[0] % POOL
            for pa in (self.pool[start:] + self.pool[:start])[:20]:
                if self.g.state(pa) == S.UNDELEGATED:
                    self.call("GRANULE_DELEGATE", [pa])
            return
        command = {"DELEGATE": "GRANULE_DELEGATE", "UNDELEGATE": "GRANULE_UNDELEGATE"}.get(name, name)
        self.call(command, self.args(name, x))

    def call(self, command, args):
        full = f"RMI_{command}"
        before = snapshot(self.p)
        out = self.p.smc(RmiFid[full], *args)  # must not raise
        status, index = unpack(out[0])
        failure = self.p.rmm.last_failure
        if full in ("RMI_VERSION", "RMI_FEATURES"):
            return
        if status == RmiStatus.SUCCESS:
            assert failure is None and index == 0
        else:
            label = spec.label_of(failure)
            assert label in spec.labels(full), (full, failure)
            assert status == spec.status_of(full, label), (full, label, status)
            if status == RmiStatus.ERROR_RTT:
                assert 0 <= index <= 3
            else:
                assert index == (1 if label == "system_off" else 0)
            assert snapshot(self.p) == before, f"{full} failed ({failure}) but changed the state"
        self.check()

    def check(self):
        # (with debug on, the RMM has just checked its granule contract and that every RTT's refcount
        # is its number of live entries: rmm.check_rtt_invariants)
        p, rmm, g = self.p, self.p.rmm, self.g
        # every RMM granule is reachable from exactly one object; DATA is mapped exactly once
        seen = {S.RD: list(rmm.realms), S.REC: list(rmm.recs), S.REC_AUX: [a for r in rmm.recs.values() for a in r.aux],
                S.RTT: [], S.DATA: []}
        for realm in rmm.realms.values():
            for k in range(realm.rtt_num_start):
                self._walk(realm.rtt_base + k * 4096, realm.rtt_level_start, seen)
        for state, found in seen.items():
            assert sorted(found) == sorted(g.granules_in(state).tolist()), state.name
        host_can_read = p.gpc_check_batch(PAS.NONSECURE, self.pool).tolist()
        for pa, readable in zip(self.pool, host_can_read):
            st = g.state(pa)
            assert readable == (st == S.UNDELEGATED), (hex(pa), st.name)
            if st == S.DELEGATED:
                assert p.phys_read(pa, 4096, PAS.REALM) == bytes(4096)

    def _walk(self, rtt, level, seen):
        seen[S.RTT].append(rtt)
        ents = self.p.rmm.rtt_entries(rtt)
        for e in ents[~np.isin(ents, NOTHING_MAPPED)].tolist():
            hipas, _, pa = s2tt.decode(int(e), level)
            if hipas == s2tt.Hipas.TABLE:
                self._walk(pa, level + 1, seen)
            elif hipas == s2tt.Hipas.ASSIGNED:
                seen[S.DATA] += range(pa, pa + s2tt.LEVEL_SIZE[level], 4096)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), OPS)
def test_random_rmi_sequences_keep_every_invariant(activate, ops):
    m = Machine()
    m.prelude(activate)
    for name, x in ops:
        m.run(name, x)


def test_draws_of_zero_build_and_run_a_realm():
    """The argument builder does reach success: all-zero draws build a realm and enter it."""
    m = Machine()
    zero = [0] * 8
    m.run("DELEGATE_MANY", zero)
    m.run("DELEGATE_MANY", [20] * 8)
    assert len(m.of(S.DELEGATED)) == 40
    m.run("REALM_CREATE", zero)
    assert len(m.p.rmm.realms) == 1
    realm = next(iter(m.p.rmm.realms.values()))
    for level in (1, 2, 3):
        m.run("RTT_CREATE", [0, 0, 0, LEVELS.index(level), 0, 0, 0, 0])
    for command in ("DATA_CREATE", "REC_CREATE", "REALM_ACTIVATE", "REC_ENTER"):
        m.run(command, zero)
    rec = next(iter(m.p.rmm.recs.values()))
    assert m.g.counts()[S.DATA] == 1 and realm.state == 1
    # the guest ran: its CPU_ON(1) failed in the RMM (there is no REC 1), then it asked for RIPAS RAM
    assert rec.exits == 1 and rec.psci_pending is None and rec.ripas is not None
    m.run("RTT_SET_RIPAS", zero)
    assert rec.ripas.addr == rec.ripas.top == 0x4000
