"""A REC runs: the guest program's operations on the realm's PE, until the next REC exit.

The RMM loads the realm's stage-2 context into the PE (VTTBR_EL2 = the root RTT and the VMID,
VTCR_EL2 from the IPA width and start level, HCR_EL2.VM, the realm's MECID in VMECID_P_EL2 with
SCTLR2_EL2.EMEC), switches it to Realm EL1 (stage 1 off in this model: the guest's addresses are
IPAs), and resumes the program. Each memory operation is translated by the MMU model through the
RTTs (TLB, walk, GPC) and goes through the memory encryption engine; a stage-2 fault is handled
as TF-RMM does:

* unprotected IPA, nothing mapped (or mapped read-only and written): a REC exit the host can
  emulate (ISV=1: the value, the access size and the page offset; for a block access or a page
  sweep, ISV=0 and the host may map the page);
* RIPAS EMPTY, or an IPA beyond the IPA space, or an instruction fetch from the unprotected half,
  or a host mapping with no Non-secure memory behind it (a GPF, or no memory at all): a
  synchronous external abort injected into the realm, no exit;
* RIPAS RAM not backed by DATA, or RIPAS DESTROYED: a REC exit with only the faulting IPA page.

RSI and PSCI calls are handled by the RMM; some complete in the RMM, others exit to the host
(RIPAS_CHANGE, HOST_CALL, PSCI). After :data:`OPS_PER_ENTRY` operations the REC is preempted
(an IRQ exit: the host's timer). An operation with operands no instruction could have is an
Undefined Instruction exception in the realm; a program that fails (raises, yields something
that is not an operation, is not a generator function) makes its realm kernel panic: PSCI
SYSTEM_RESET, with the reason in the event log. Nothing a guest does raises out of REC_ENTER.

Spec: RMM DEN0137 1.0-rel0, A4.3 "REC entry", A4.4 "REC exit", A5.2.* "Realm data access" /
"Realm instruction fetch" (the access matrix), B5 "RSI"; Arm ARM K.a D24.2.40 ESR_ELx (ISS of a
data abort), D24.2.77 HPFAR_EL2.
"""

from __future__ import annotations

import inspect

import numpy as np

from ...arch.mec.engine import context_id
from ...arch.mmu.faults import NO_FAULT
from ...arch.pas import PAS, SecurityState
from ...arch.sysreg import HCR_EL2, VTCR_EL2
from ..psci import PsciFid, is_psci_fid
from . import s2tt
from .fids import SMC_NOT_SUPPORTED
from .rsi import dispatch as rsi_dispatch
from .rsi.psci import handle_psci
from .rsi.status import RSI_FID_FIRST, RSI_FID_LAST
from .s2tt import Hipas, Ripas
from .exits import _REG, EC_WFX, ExitReason, _Exit, _Sea, esr_abort
from .structs import ENTER_EMUL_MMIO, ENTER_INJECT_SEA, ENTER_RIPAS_RESPONSE, ENTER_TRAP_WFI

OPS_PER_ENTRY = 100_000


class Vcpu:
    """The RMM's hold on a running guest program: the generator, what to give it next, and the
    operation an exit left open."""

    def __init__(self, gen, cpu):
        self.gen, self.cpu = gen, cpu
        self.send = None  # value to send, or ("throw", exc)
        self.pending = None  # (kind, op, state) awaiting completion on the next entry
        self.spinning = None  # why the vCPU cannot run a program (no image at its PC)
        self.halted = False
        self.pending_retry = None
        self.crash = None
        self.ops = 0


class RealmExec:
    """One REC_ENTER's worth of execution (see the module docstring)."""

    def __init__(self, rmm, realm, rec, enter):
        self.rmm, self.realm, self.rec, self.enter = rmm, realm, rec, enter
        self.p = rmm.platform
        self.pe = self.p.pe(0)
        self.ctx = context_id(PAS.REALM, realm.mecid)
        self.ns_ctx = context_id(PAS.NONSECURE, 0)
        self.trap_wfi = bool(enter["flags"] & ENTER_TRAP_WFI)

    # --- the PE ---------------------------------------------------------------------------------
    _SAVED = ("VTTBR_EL2", "VTCR_EL2", "HCR_EL2", "SCTLR_EL1", "SCTLR2_EL2", "VMECID_P_EL2")

    def _load_pe(self):
        pe, realm = self.pe, self.realm
        self._saved = ({k: pe.sysreg(k) for k in self._SAVED}, pe.security_state, pe.el)
        sl0 = {0: 2, 1: 1, 2: 0, 3: 3}[realm.rtt_level_start]
        pe.security_state = SecurityState.REALM
        pe.el = 1
        for k, v in (("VTCR_EL2", VTCR_EL2.encode(T0SZ=64 - realm.s2sz, SL0=sl0, PS=5)),
                     ("VTTBR_EL2", realm.rtt_base | (realm.vmid << 48)), ("HCR_EL2", HCR_EL2.encode(VM=1)),
                     ("SCTLR_EL1", 0), ("SCTLR2_EL2", 1 << 1), ("VMECID_P_EL2", realm.mecid)):
            pe._regs[k] = v
        pe._sync()

    def _restore_pe(self):
        regs, state, el = self._saved
        pe = self.pe
        pe._regs.update(regs)
        pe.security_state = state
        pe.el = el if (el == 3) == (state == SecurityState.ROOT) else pe.el
        pe._sync()

    # --- memory ---------------------------------------------------------------------------------
    def _translate(self, ipas: np.ndarray, access: str):
        return self.pe.translate_batch_full(ipas, access)

    def _abort(self, ipa: int, *, write=False, isv=False, size=8, value=0, data=True, dfsc=0x04):
        """Raise the outcome of a stage-2 fault at ``ipa``: _Sea (injected) or _Exit."""
        realm = self.realm
        if ipa >= realm.ipa_size:
            raise _Sea(ipa, "the IPA is beyond the realm's IPA space")
        hpfar = (ipa >> 12) << 4
        if not realm.in_par(ipa):
            if not data:
                raise _Sea(ipa, "instruction fetch from the unprotected half")
            w = self.rmm.walk(realm, ipa, 3)
            # a mapped page that faults for want of Non-secure memory behind it (a GPF or an external
            # abort, FSC >= 0x10) is an SEA; a permission fault (a read-only mapping) goes to the host
            if s2tt.decode(w.entry, w.level)[0] == Hipas.ASSIGNED_NS and dfsc >= 0x10:
                raise _Sea(ipa, "the host's page behind this unprotected IPA is not Non-secure memory (GPF)")
            fields = {"exit_reason": ExitReason.SYNC, "esr": esr_abort(True, dfsc, isv=isv, size=size, write=write),
                      "far": (ipa & 0xFFF) if isv else 0, "hpfar": hpfar}
            if isv and write:
                fields["gprs"] = [value & ((1 << (8 * size)) - 1)]
            raise _Exit(fields, last={"unprotected_da": True, "emulatable": isv, "write": write, "size": size,
                                      "ipa": ipa})
        w = self.rmm.walk(realm, ipa, 3)
        hipas, ripas, _ = s2tt.decode(w.entry, w.level)
        if ripas == Ripas.EMPTY and hipas in (Hipas.UNASSIGNED, Hipas.ASSIGNED):
            raise _Sea(ipa, "RIPAS EMPTY: the realm has not accepted this IPA as RAM")
        if hipas == Hipas.ASSIGNED and ripas == Ripas.RAM:
            raise _Sea(ipa, "the mapped page refused the access")
        raise _Exit({"exit_reason": ExitReason.SYNC, "esr": esr_abort(data, dfsc, write=write), "far": 0,
                     "hpfar": hpfar}, last={"unprotected_da": False, "emulatable": False, "ipa": ipa})

    def _fault_dfsc(self, word: int) -> int:
        return int(word) & 0x3F

    def _access_one(self, ipa: int, size: int, write: bool, value=0, isv=True):
        """A load/store of ``size`` bytes (within one page) at ``ipa``: the bytes read or None."""
        pa, pas, fault, _ = self._translate(np.array([ipa], np.uint64), "write" if write else "read")
        if fault[0] != NO_FAULT:
            self._abort(ipa, write=write, isv=isv, size=size, value=value, dfsc=self._fault_dfsc(fault[0]))
        ctx = self.ctx if pas[0] == PAS.REALM else self.ns_ctx
        pa = int(pa[0])
        if self._no_memory(np.array([pa]), pas, size) is not None:
            raise _Sea(ipa, f"no memory answers at PA {pa:#x} (an external abort)")
        if write:
            self.p.mec.write(pa, int(value).to_bytes(size, "little") if isinstance(value, int) else value, ctx)
            return None
        return self.p.mec.read(pa, size, ctx)

    def _no_memory(self, pa: np.ndarray, pas: np.ndarray, size: int = 8):
        """The index of the first access whose PA no memory answers, or None. Only the host's
        unprotected mappings can point outside DRAM (a realm's own pages are DATA granules)."""
        for i in np.nonzero(pas != PAS.REALM)[0].tolist():
            if not self.p.memory.is_backed(int(pa[i]), size):
                return i
        return None

    def _block(self, ipa: int, n: int, data: bytes | None):
        out = []
        cur, end = ipa, ipa + n
        while cur < end:
            chunk = min(end, (cur | 0xFFF) + 1) - cur
            if data is None:
                out.append(self._access_one(cur, chunk, False, isv=False))
            else:
                off = cur - ipa
                self._access_one(cur, chunk, True, data[off:off + chunk], isv=False)
            cur += chunk
        return b"".join(out) if data is None else None

    def _touch(self, ipa: int, pages: int, write: bool, state: dict):
        done = state.setdefault("done", 0)
        total = state.setdefault("total", 0)
        mec = self.p.mec
        words = self.p.memory.words
        while done < pages:
            n = min(pages - done, 1 << 16)
            ipas = (np.arange(done, done + n, dtype=np.uint64) << np.uint64(12)) + np.uint64(ipa)
            pa, pas, fault, _ = self._translate(ipas, "write" if write else "read")
            bad = np.nonzero(fault != NO_FAULT)[0]
            k = int(bad[0]) if bad.size else n
            hole = self._no_memory(pa[:k], pas[:k])
            k = k if hole is None else hole
            good, gpas = pa[:k], pas[:k]
            if k:
                gran = good >> 12
                want = np.where(gpas == PAS.REALM, self.ctx + 1, self.ns_ctx + 1)
                for i in np.nonzero(mec.tag[gran] != want)[0].tolist():
                    mec.prepare(int(good[i]), 4096, int(want[i]) - 1)
                if write:
                    words[good >> 3] = ipas[:k].view(np.int64)
                    mec.dirty[gran] = 1
                else:
                    total += int(words[good >> 3].view(np.uint64).sum(dtype=np.uint64))
            done += k
            state["done"], state["total"] = done, total
            if hole is not None:
                raise _Sea(int(ipas[k]), f"no memory answers at PA {int(pa[k]):#x} (an external abort)")
            if k < n:  # a memset-like sweep has no valid syndrome (ISV = 0): the host maps, never emulates
                self._abort(int(ipas[k]), write=write, dfsc=self._fault_dfsc(fault[k]))
        return total & _REG

    # --- one operation ---------------------------------------------------------------------------
    @staticmethod
    def _malformed(op):
        """Why ``op``'s operands encode no instruction (a reason), or None if they are well formed."""
        kind, args = op.kind, op.args
        if not isinstance(args, (tuple, list)):
            return f"{kind} operands come as a tuple, not {type(args).__name__}"

        def addr(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= _REG

        want = {"load": 2, "store": 3, "read": 2, "write": 2, "touch": 3, "wfi": 0}
        if kind in want and len(args) != want[kind]:
            return f"{kind} takes {want[kind]} operands, got {len(args)}"
        if kind in ("smc", "hvc"):  # register values: any int, taken modulo 2^64
            ok = args and all(isinstance(a, (int, np.integer)) for a in args)
            return None if ok else f"{kind} takes a function id and register values (ints)"
        if kind in ("load", "store", "read", "write", "touch") and not addr(args[0]):
            return f"{kind} address {args[0]!r} is not a 64-bit IPA"
        if kind in ("load", "store") and args[1] not in (1, 2, 4, 8):
            return f"a {kind} is 1, 2, 4 or 8 bytes, not {args[1]!r}"
        if kind == "store" and not isinstance(args[2], (int, np.integer)):
            return f"a store writes an int, not {type(args[2]).__name__}"
        if kind in ("read", "touch") and not addr(args[1]):
            return f"{kind} length {args[1]!r} is not a count"
        if kind == "write" and not isinstance(args[1], (bytes, bytearray, memoryview)):
            return f"a block write takes bytes, not {type(args[1]).__name__}"
        return None

    def _execute(self, op, state):
        kind, args = op.kind, op.args
        if kind in ("load", "store"):
            ipa, size = int(args[0]), int(args[1])
            if size not in (1, 2, 4, 8):
                raise ValueError(f"a {kind} is 1, 2, 4 or 8 bytes, not {size}")
            if ipa % size:
                from ...guest.isa import AlignmentFault

                return ("throw", AlignmentFault(f"{kind} of {size} bytes at {ipa:#x} is misaligned"))
            if kind == "load":
                return int.from_bytes(self._access_one(ipa, size, False), "little")
            self._access_one(ipa, size, True, int(args[2]) & ((1 << (8 * size)) - 1))
            return None
        if kind == "read":
            return self._block(int(args[0]), int(args[1]), None)
        if kind == "write":
            return self._block(int(args[0]), len(args[1]), bytes(args[1]))
        if kind == "touch":
            return self._touch(int(args[0]), int(args[1]), bool(args[2]), state)
        if kind == "smc":
            return self._smc(int(args[0]), [int(a) & _REG for a in args[1:]])
        if kind == "hvc":
            from ...guest.isa import UndefinedInstruction

            return ("throw", UndefinedInstruction("HVC is undefined in a realm: the RMM injects an Undefined "
                                                  "Instruction exception"))
        if kind == "wfi":
            if self.trap_wfi:
                raise _Exit({"exit_reason": ExitReason.SYNC, "esr": (EC_WFX << 26) | (1 << 25)}, last={},
                            pending=("complete", None))
            return None
        raise ValueError(f"unknown guest operation {kind!r}")

    def _smc(self, fid: int, args):
        args = (list(args) + [0] * 10)[:10]
        if RSI_FID_FIRST <= fid <= RSI_FID_LAST:
            action = rsi_dispatch(self, fid, args)
        elif is_psci_fid(fid):
            action = handle_psci(self, fid, args)
        else:
            self.p.events.append("rsi", "RMM", f"SMC {fid:#x} from the realm: not RSI or PSCI -> SMC_NOT_SUPPORTED",
                                 fid=fid)
            return (SMC_NOT_SUPPORTED,)
        return action

    # --- the run loop ------------------------------------------------------------------------------
    def _start(self):
        """Find the program at the REC's PC (the boot header of the page it points to)."""
        from ...guest import programs
        from ...guest.cpu import GuestCpu
        from ...guest.isa import parse_header

        rec = self.rec
        pc = rec.pc
        pa, pas, fault, _ = self._translate(np.array([pc & ~0xFFF], np.uint64), "exec")
        if fault[0] != NO_FAULT:
            self._abort(pc, data=False, dfsc=self._fault_dfsc(fault[0]))
        page = self.p.mec.read(int(pa[0]), 4096, self.ctx)
        name = parse_header(page[pc & 0xFFF:])
        cpu = GuestCpu(rec.index, rec.mpidr, rec.gprs[:8], pc)
        fn = programs.get(name) if name else None
        vc = Vcpu(None, cpu)
        if fn is not None:
            try:
                vc.gen = fn(cpu)
            except Exception as exc:  # a bug in the guest program: the realm kernel panics
                vc.crash = f"the guest program failed: {type(exc).__name__}: {exc}"
            else:
                if not inspect.isgenerator(vc.gen):
                    vc.crash = (f"program {name!r} is not a generator function (its operations are "
                                "`yield from cpu....`)")
        if fn is None:
            vc.spinning = (f"no guest program at PC {pc:#x}" if name is None
                           else f"the image names program {name!r}, which ccalab.guest does not have")
        rec.cpu = vc

    def run(self):
        rec, vc = self.rec, self.rec.cpu
        self._load_pe()
        try:
            if vc is None or vc.halted:
                try:
                    self._start()
                except _Sea as sea:
                    rec.cpu = Vcpu(None, None)
                    rec.cpu.spinning = f"the first instruction fetch took an abort: {sea.why}"
                vc = rec.cpu
            self._complete(vc)
            return self._loop(vc)
        except _Exit as ex:
            return self._take_exit(vc or rec.cpu, ex)
        finally:
            self._restore_pe()

    def _complete(self, vc):
        """Finish the operation the last exit left open, from the host's answer in ``enter``."""
        if vc.pending is None:
            return
        kind, payload = vc.pending
        flags = self.enter["flags"]
        vc.pending = None
        if flags & ENTER_INJECT_SEA:
            from ...guest.isa import SyncExternalAbort

            ipa = self.rec.last_exit.get("ipa", 0)
            vc.send = ("throw", SyncExternalAbort(ipa, "the host injected it (RmiRecEnter.flags.inject_sea)"))
        elif kind == "mmio":
            op, state, last = payload
            if flags & ENTER_EMUL_MMIO:
                if last.get("write"):
                    vc.send = ("value", None)
                else:
                    size = last.get("size", 8)
                    vc.send = ("value", self.enter["gprs"][0] & ((1 << (8 * size)) - 1))
            else:
                vc.pending_retry = (op, state)
        elif kind == "retry":
            vc.pending_retry = payload
        elif kind == "complete":
            vc.send = ("value", payload)
        elif kind == "ripas":
            ch = self.rec.ripas
            reject = bool(flags & ENTER_RIPAS_RESPONSE) and ch.value == Ripas.RAM
            vc.send = ("value", (0, ch.addr, int(reject)))  # X1: how far the host got; X2: its response
            self.rec.ripas = None
        elif kind == "host_call":
            from .rsi.memory import complete_host_call

            vc.send = ("value", complete_host_call(self, self.rec.host_call, self.enter["gprs"]))
            self.rec.host_call = None
        elif kind == "psci":
            vc.send = ("value", payload())

    def _loop(self, vc):
        if vc.spinning:
            self.p.events.append("rec", "RMM", f"REC {self.rec.index} cannot run: {vc.spinning}; the host's timer "
                                 "preempts it", rec=self.rec.rec)
            return {"exit_reason": ExitReason.IRQ}
        budget = OPS_PER_ENTRY
        retry = getattr(vc, "pending_retry", None)
        vc.pending_retry = None
        while budget:
            if retry is not None:
                op, state = retry
                retry = None
            else:
                op = self._next(vc)
                if op is None:
                    return self._halted(vc)
                state = {}
            budget -= 1
            vc.ops += 1
            why = self._malformed(op)
            if why is not None:  # no such instruction: the realm takes an Undefined exception
                from ...guest.isa import UndefinedInstruction

                vc.send = ("throw", UndefinedInstruction(f"malformed {op.kind}: {why}"))
                continue
            try:
                result = self._execute(op, state)
            except _Sea as sea:
                from ...guest.isa import SyncExternalAbort

                self.p.events.append("rec", "RMM", f"SEA injected into realm REC {self.rec.index}: {sea.why}",
                                     rec=self.rec.rec, ipa=sea.ipa)
                vc.send = ("throw", SyncExternalAbort(sea.ipa, sea.why))
                continue
            except _Exit as ex:
                if ex.pending is None:
                    kind = "mmio" if ex.last.get("emulatable") else "retry"
                    ex.pending = (kind, (op, state, ex.last) if kind == "mmio" else (op, state))
                raise
            if isinstance(result, tuple) and result and result[0] == "throw":
                vc.send = result
            else:
                vc.send = ("value", result)
        return {"exit_reason": ExitReason.IRQ}

    def _next(self, vc):
        """The program's next operation, or None once it has stopped."""
        from ...guest.isa import OPS, GuestException, Op

        send, vc.send = vc.send, None
        if vc.crash:
            return None
        try:
            if send is not None and send[0] == "throw":
                op = vc.gen.throw(send[1])
            else:
                op = vc.gen.send(send[1] if send is not None else None)
        except StopIteration:
            return None
        except GuestException as exc:
            vc.crash = f"unhandled exception in the realm: {exc}"
            return None
        except Exception as exc:  # a bug in the guest program: the realm kernel panics
            vc.crash = f"the guest program failed: {type(exc).__name__}: {exc}"
            return None
        if not isinstance(op, Op) or op.kind not in OPS:
            vc.crash = f"the guest program yielded {op!r}, which is not an operation (use the GuestCpu methods)"
            return None
        return op

    def _halted(self, vc):
        """The program returned (CPU_OFF) or crashed (the realm panics: SYSTEM_RESET)."""
        vc.halted = True
        if vc.crash:
            self.p.events.append("rec", "RMM", f"realm REC {self.rec.index}: {vc.crash}; it calls PSCI SYSTEM_RESET",
                                 rec=self.rec.rec, crash=vc.crash)
            return handle_psci(self, PsciFid.SYSTEM_RESET, [0] * 10, exit_now=True)
        return handle_psci(self, PsciFid.CPU_OFF, [0] * 10, exit_now=True)

    def _take_exit(self, vc, ex):
        if vc is not None and ex.pending is not None:
            vc.pending = ex.pending
        self.rec.last_exit = dict(ex.last, reason=ex.fields.get("exit_reason"))
        return ex.fields


def run_rec(rmm, realm, rec, enter) -> dict:
    """Run ``rec`` of ``realm`` from the host's ``enter`` fields; returns the exit fields."""
    ex = RealmExec(rmm, realm, rec, enter)
    fields = ex.run()
    if isinstance(fields, _Exit):
        fields = ex._take_exit(rec.cpu, fields)
    if not rec.last_exit or rec.last_exit.get("reason") != fields.get("exit_reason"):
        rec.last_exit = {"reason": fields.get("exit_reason")}
    reason = fields.get("exit_reason", 0)
    rmm.platform.events.append("rec.exit", "RMM", f"REC {rec.index} exit: {ExitReason.NAMES[reason]}",
                               rec=rec.rec, reason=reason, fields={k: v for k, v in fields.items() if k != "gprs"})
    return fields


__all__ = ["run_rec", "RealmExec", "OPS_PER_ENTRY", "Vcpu"]
