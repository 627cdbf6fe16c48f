"""Building, running and tearing down a realm, as a KVM-like VMM does it.

A build is a list of :class:`BuildStep`: the learner can run it all (:meth:`Host.build_realm`),
or call the same RMI commands one by one through :class:`~ccalab.host.Host` (as notebook 04 and
the RealmInspector widget do) and watch the RMM refuse a wrong one.

The realm's memory layout (IPAs):

=======================  ==================================================================
``ram_base`` (0)         RAM: the image, measured DATA; the rest RIPAS RAM (INIT_RIPAS), backed on
                         demand with DATA_CREATE_UNKNOWN when the realm first touches it
``ram_base + ram_size``  (RIPAS EMPTY: the realm may not use it)
``shared`` (unprotected) one host page mapped with RTT_MAP_UNPROTECTED when the realm touches it
``console`` (unprotected) an MMIO console: every store exits to the host, which prints it
=======================  ==================================================================

Spec: RMM DEN0137 1.0-rel0, D1 "Realm creation flow" and D2 "REC entry flow" (the order of RMI
calls a host makes); Linux ``arch/arm64/kvm/rme.c`` (``realm_create_rd``, ``kvm_realm_populate``,
``realm_map_ipa``, the REC exit handlers).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..arch.pas import PAS
from ..firmware.psci import PsciFid, PsciReturn
from ..firmware.rmm import s2tt
from ..firmware.rmm.exits import ExitReason
from ..firmware.rmm.measurement import HashAlgo
from ..firmware.rmm.rmi.rec import index_mpidr
from ..firmware.rmm.status import RmiStatus
from ..firmware.rmm.structs import (ENTER_EMUL_MMIO, ENTER_RIPAS_RESPONSE, ENTER_TRAP_WFI, REALM_PARAMS,
                                    REC_FLAG_RUNNABLE, REC_PARAMS)
from ..guest.isa import header
from .host import GRANULE, HostError

MB = 1 << 20
_DATA_CREATE = 0xC400_0153  # RmiFid.RMI_DATA_CREATE
#: Pages of host memory the image is streamed through while its DATA granules are created.
IMAGE_WINDOW_PAGES = 512


@contextmanager
def _bulk():
    """Pause the cyclic garbage collector while a build makes many RMI calls: each call allocates a
    handful of small objects (its events) and no reference cycles, and a cyclic collection in the
    middle would only re-scan the event log. The previous setting is restored afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class RealmConfig:
    """What the host builds.

    Parameters
    ----------
    program : str
        The guest program (``ccalab.guest.programs``) the image boots.
    ram_size : int
        Bytes of realm RAM at IPA ``ram_base`` (a multiple of 2 MiB).
    image : bytes, optional
        The image (default: the program's boot header, padded to one page). Its pages are
        DATA_CREATEd at ``ram_base`` onwards.
    measure : bool
        DATA_CREATE with RMI_MEASURE_CONTENT (the page's hash goes into the RIM).
    populate : bool
        DATA_CREATE (zeros, measured) every page of RAM up front instead of on demand: what the
        benchmark of a fully measured realm does.
    s2sz, rtt_level_start : int
        IPA width and RTT start level (40 bits from level 0, one root RTT, as the ACS's default).
    hash_algo : str
        ``"sha256"`` or ``"sha512"``.
    rpv : bytes
        Realm Personalization Value (64 bytes at most; not measured, reported in the token).
    recs : int
        Number of RECs (REC 0 runnable, the others started by PSCI CPU_ON).
    vmid : int
    arg : int
        Program argument (X5).
    shared, console : bool
        Give the realm a shared page / an MMIO console in the unprotected half.
    """

    program: str = "hello"
    ram_size: int = 2 * MB
    image: bytes | None = None
    measure: bool = True
    populate: bool = False
    s2sz: int = 40
    rtt_level_start: int = 0
    hash_algo: str = "sha256"
    rpv: bytes = b""
    recs: int = 1
    vmid: int = 1
    arg: int = 0
    shared: bool = True
    console: bool = True
    ram_base: int = 0

    def params(self) -> dict:
        return {"flags": 0, "s2sz": self.s2sz, "sve_vl": 0, "num_bps": 1, "num_wps": 1, "pmu_num_ctrs": 0,
                "hash_algo": HashAlgo.SHA_256 if self.hash_algo == "sha256" else HashAlgo.SHA_512,
                "rpv": bytes(self.rpv).ljust(64, b"\0")[:64], "vmid": self.vmid,
                "rtt_level_start": self.rtt_level_start,
                "rtt_num_start": s2tt.rtt_num_start(self.s2sz, self.rtt_level_start)}

    @property
    def unprotected_base(self) -> int:
        return 1 << (self.s2sz - 1)

    @property
    def console_ipa(self) -> int:
        return self.unprotected_base + 0x1000 if self.console else 0

    @property
    def shared_ipa(self) -> int:
        return self.unprotected_base + self.ram_base + self.ram_size - GRANULE if self.shared else 0

    @property
    def scratch_ipa(self) -> int:
        return self.ram_base + GRANULE  # second page of RAM

    def boot_gprs(self) -> list:
        return [self.ram_base, self.ram_size, self.console_ipa, self.shared_ipa, self.scratch_ipa, self.arg, 0, 0]

    def image_bytes(self) -> bytes:
        img = self.image if self.image is not None else header(self.program)
        return bytes(img).ljust(-(-len(img) // GRANULE) * GRANULE, b"\0")


@dataclass
class BuildStep:
    """One RMI call of a build plan: the command, its arguments, and what the step is for."""

    command: str
    args: tuple
    why: str

    def __str__(self) -> str:
        return f"{self.command}({', '.join(f'{a:#x}' for a in self.args)})  # {self.why}"


@dataclass
class RunReport:
    """What happened while the host ran a realm."""

    exits: list = field(default_factory=list)  # (rec index, reason name, detail)
    console: list = field(default_factory=list)
    host_calls: list = field(default_factory=list)
    stopped: str = ""
    paused: bool = False  # the budget ran out while the realm could still run: run() again continues

    def text(self) -> str:
        lines = [f"REC {i} exit {reason}: {detail}" for i, reason, detail in self.exits]
        lines += [f"console: {c}" for c in self.console]
        lines.append(f"stopped: {self.stopped}")
        return "\n".join(lines)


class RealmHandle:
    """A realm the host built (or is building): its granules, RECs, and the host's book-keeping."""

    def __init__(self, host, config: RealmConfig):
        self.host, self.cfg, self.p = host, config, host.p
        self.rd = None
        self.rtt_base = None
        self.rtts = {}  # (ipa of the region, level) -> PA of the RTT
        self.data = {}  # ipa -> PA of the DATA granule
        self.recs = []  # PA of each REC
        self.aux = []
        self.runs = []  # the RmiRecRun page of each REC
        self.unprotected = {}  # ipa -> host PA mapped there
        self.console_buf = {}  # REC index -> the line it is writing
        self.console = []
        self.host_call_handler = lambda imm, gprs: [g + 1 for g in gprs]
        self.reject_ripas = False
        self.image_pa = None
        self._runnable = {0}
        self._answer = {}
        self._last_rec = -1

    # --- plan and build ----------------------------------------------------------------------------
    def _ensure_rtts(self, ipa: int, level: int = 3, record=None) -> None:
        """RTT_CREATE the tables from the start level down to ``level`` for ``ipa``, where missing."""
        sl = self.cfg.rtt_level_start
        for lvl in range(sl + 1, level + 1):
            region = ipa & ~(s2tt.LEVEL_SIZE[lvl - 1] - 1)
            if (region, lvl) in self.rtts:
                continue
            rtt = self.host.delegate(1)[0]
            call = self.host.rmi("RTT_CREATE", self.rd, rtt, region, lvl)
            if record is not None:
                record.append(call)
            if call.status == RmiStatus.ERROR_RTT and call.index == lvl - 1:
                self.host.must("GRANULE_UNDELEGATE", rtt)  # it exists already
                self.host.free(rtt)
                self.rtts[(region, lvl)] = None
                continue
            if not call.ok:
                raise HostError(call, f"could not create the level-{lvl} RTT for IPA {ipa:#x}")
            self.rtts[(region, lvl)] = rtt

    def build(self, progress=None) -> "RealmHandle":
        """Run the whole build: delegate, REALM_CREATE, RTTs, DATA, INIT_RIPAS, RECs, ACTIVATE.

        If a step fails, what was built is torn down and every granule given back before the
        :class:`HostError` (which carries the failing call) is raised."""
        with _bulk():
            try:
                return self._build(progress)
            except HostError:
                self._abandon()
                raise

    def _abandon(self) -> None:
        """Undo a failed build, as far as it got (best effort: the RMM refuses nothing here)."""
        h, rmm = self.host, self.p.rmm
        if self.rd is not None and self.rd in rmm.realms:
            try:
                self.destroy()
                return
            except HostError:
                pass
        num = s2tt.rtt_num_start(self.cfg.s2sz, self.cfg.rtt_level_start)
        leftovers = [self.rd] + ([self.rtt_base + i * GRANULE for i in range(num)] if self.rtt_base else [])
        for pa in leftovers:
            if pa is not None and h.rmi("GRANULE_UNDELEGATE", pa).ok:
                h.free(pa)

    def _build(self, progress):
        h, cfg, p = self.host, self.cfg, self.p
        prm = cfg.params()
        num = prm["rtt_num_start"]
        self.rd = h.delegate(1)[0]
        roots = h.delegate(num)
        self.rtt_base = roots[0]
        prm["rtt_base"] = self.rtt_base
        params_pa = h.write_struct(REALM_PARAMS, prm)
        h.must("REALM_CREATE", self.rd, params_pa, hint="RmiRealmParams refused")
        # the image goes through a 2 MiB window of host memory (as a VMM streams it from its file),
        # then DATA_CREATE page by page from there
        image = cfg.image_bytes()
        npages = len(image) // GRANULE
        ram_pages = cfg.ram_size // GRANULE
        if npages > ram_pages:
            raise ValueError(f"the image ({npages} pages) does not fit in {cfg.ram_size} bytes of RAM")
        total = ram_pages if cfg.populate else npages
        window = min(total, IMAGE_WINDOW_PAGES)
        src = h.alloc(window) if window else None
        self.image_pa = src
        flags = 1 if cfg.measure else 0
        data = h.delegate(total) if total else []
        for i in range(total):
            ipa = cfg.ram_base + i * GRANULE
            if i % window == 0:
                chunk = image[i * GRANULE:(i + window) * GRANULE]
                n = min(window, total - i) * GRANULE
                p.phys_write(src, chunk + bytes(n - len(chunk)), PAS.NONSECURE)
            if i % 512 == 0:
                self._ensure_rtts(ipa, 3)
            h._must_fast(_DATA_CREATE, self.rd, data[i], ipa, src + (i % window) * GRANULE, flags)
            self.data[ipa] = data[i]
            if progress is not None and i % 256 == 0:
                progress(i, total)
        if progress is not None:
            progress(total, total)
        # the rest of RAM: RIPAS RAM, backed when the realm touches it
        base, top = cfg.ram_base + total * GRANULE, cfg.ram_base + cfg.ram_size
        while base < top:
            call = h.rmi("RTT_INIT_RIPAS", self.rd, base, top)
            if call.status == RmiStatus.ERROR_RTT:
                self._ensure_rtts(base, call.index + 1)
                continue
            if not call.ok:
                raise HostError(call, "RTT_INIT_RIPAS failed")
            base = call.results[1]
        # the RECs
        aux_n = h.must("REC_AUX_COUNT", self.rd).results[1]
        for k in range(cfg.recs):
            rec = h.delegate(1)[0]
            aux = h.delegate(aux_n)
            rp = {"flags": REC_FLAG_RUNNABLE if k == 0 else 0, "mpidr": index_mpidr(k),
                  "pc": cfg.ram_base, "gprs": cfg.boot_gprs(), "num_aux": aux_n, "aux": aux}
            h.must("REC_CREATE", self.rd, rec, h.write_struct(REC_PARAMS, rp))
            self.recs.append(rec)
            self.aux.append(aux)
            self.runs.append(h.alloc())
        h.must("REALM_ACTIVATE", self.rd)
        return self

    def guest(self, k: int = 0):
        """The guest program's view of REC ``k`` (its :class:`~ccalab.guest.GuestCpu`: console,
        notes), once it has run; None before."""
        vc = self.p.rmm.recs[self.recs[k]].cpu
        return None if vc is None else vc.cpu

    # --- measurement --------------------------------------------------------------------------------------
    @property
    def rim(self) -> bytes:
        return self.p.rmm.measurement(self.rd, 0)

    def attestation_token(self, challenge: bytes, chunk: int = 4096) -> bytes:
        """The realm's attestation token for ``challenge`` (1-64 bytes, zero-padded to 64), fetched
        from inside the realm with RSI_ATTESTATION_TOKEN_INIT/CONTINUE in ``chunk``-byte pieces.

        The realm must run the attester program (``RealmConfig(program="attester")``); see
        :func:`ccalab.firmware.attestation.attestation_token` for how the challenge goes in and
        the token comes out.
        """
        from ..firmware.attestation import attestation_token

        return attestation_token(self, challenge, chunk=chunk)

    # --- running ----------------------------------------------------------------------------------------
    def enter(self, k: int = 0, flags: int = 0, gprs=()):
        """One REC_ENTER of REC ``k``; returns ``(call, exit fields)``."""
        h = self.host
        run = self.runs[k]
        h.write_enter(run, flags, gprs)
        call = h.rmi("REC_ENTER", self.recs[k], run)
        return call, (h.read_exit(run) if call.ok else None)

    def run(self, max_exits: int = 10_000, max_seconds: float | None = None) -> RunReport:
        """Run the realm's RECs, servicing every exit as a VMM does, until the realm powers off, no
        REC can run, or the budget (``max_exits`` exits, ``max_seconds`` of wall time) runs out;
        the next call then carries on where this one stopped. Returns a :class:`RunReport`."""
        import time

        report = RunReport()
        runnable = self._runnable
        answer = self._answer  # what the host owes each REC on its next entry (kept across runs)
        k = self._last_rec
        start = time.monotonic()
        for _ in range(max_exits):
            if not runnable:
                report.stopped = "no REC is runnable"
                break
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                report.stopped = f"paused after {len(report.exits)} exits: the realm is still running"
                report.paused = True
                break
            later = sorted(r for r in runnable if r > k)
            k = later[0] if later else min(runnable)  # round robin over the runnable RECs
            self._last_rec = k
            flags, gprs = answer.pop(k, (0, ()))
            call, ex = self.enter(k, flags | ENTER_TRAP_WFI, gprs)  # trap WFI, as KVM does: an idle vCPU yields
            if not call.ok:
                report.stopped = f"REC_ENTER failed: {call}"
                break
            reason = ex["exit_reason"]
            detail, stop = self._service(k, ex, answer, runnable, report)
            report.exits.append((k, ExitReason.NAMES[reason] if reason < 7 else str(reason), detail))
            if stop:
                report.stopped = stop
                break
        else:
            report.stopped = f"paused after {max_exits} exits: the realm is still running"
            report.paused = True
        report.console = list(self.console)
        return report

    def _service(self, k, ex, answer, runnable, report):
        reason = ex["exit_reason"]
        h = self.host
        if reason == ExitReason.SYNC:
            esr, hpfar = ex["esr"], ex["hpfar"]
            ipa = (hpfar >> 4) << 12
            ec = esr >> 26
            if ec == 0x01:
                return "WFI trapped", None
            isv = (esr >> 24) & 1
            write = (esr >> 6) & 1
            if isv:  # emulatable MMIO
                ipa |= ex["far"] & 0xFFF
                if ipa == self.cfg.console_ipa and write:
                    self._console(ex["gprs"][0], k)
                    answer[k] = (ENTER_EMUL_MMIO, ())
                    return f"MMIO write {ex['gprs'][0]:#x} to the console", None
                answer[k] = (ENTER_EMUL_MMIO, (0,))
                return f"MMIO {'write' if write else 'read'} at {ipa:#x} (no device: reads 0)", None
            if ipa >= self.cfg.unprotected_base:
                self.map_unprotected(ipa)
                return f"data abort at unprotected IPA {ipa:#x}: mapped a host page", None
            entry = h.rmi("RTT_READ_ENTRY", self.rd, ipa, 3)
            if entry.ok and entry.results[4] == s2tt.Ripas.DESTROYED:
                why = (f"the realm touched IPA {ipa:#x}, whose RIPAS is DESTROYED: its content is gone, and "
                       "only the realm can accept the page again (RSI_IPA_STATE_SET with CHANGE_DESTROYED)")
                return why, why
            self.back(ipa)
            return f"data abort at protected IPA {ipa:#x}: backed it with DATA_CREATE_UNKNOWN", None
        if reason == ExitReason.IRQ:
            return "host timer", None
        if reason == ExitReason.RIPAS_CHANGE:
            base, top, value = ex["ripas_base"], ex["ripas_top"], ex["ripas_value"]
            if self.reject_ripas and value == s2tt.Ripas.RAM:
                answer[k] = (ENTER_RIPAS_RESPONSE, ())
                return f"RIPAS change [{base:#x}, {top:#x}) -> RAM rejected", None
            self.set_ripas(k, base, top)
            return f"RIPAS change [{base:#x}, {top:#x}) -> {s2tt.Ripas(value).name} applied", None
        if reason == ExitReason.HOST_CALL:
            out = list(self.host_call_handler(ex["imm"], ex["gprs"]))
            report.host_calls.append((ex["imm"], ex["gprs"][:4]))
            answer[k] = (0, out)
            return f"host call imm {ex['imm']:#x}", None
        if reason == ExitReason.PSCI:
            fid = ex["gprs"][0]
            if fid in (PsciFid.CPU_ON, PsciFid.CPU_ON_32):
                target = ex["gprs"][1]
                t = _mpidr_to_index(target)
                h.must("PSCI_COMPLETE", self.recs[k], self.recs[t], PsciReturn.SUCCESS.register)
                runnable.add(t)
                return f"PSCI CPU_ON({target:#x}): completed, REC {t} started", None
            if fid in (PsciFid.AFFINITY_INFO, PsciFid.AFFINITY_INFO_32):
                t = _mpidr_to_index(ex["gprs"][1])
                h.must("PSCI_COMPLETE", self.recs[k], self.recs[t], 0)
                return "PSCI AFFINITY_INFO completed", None
            if fid == PsciFid.CPU_OFF:
                runnable.discard(k)
                return "PSCI CPU_OFF", None
            if fid in (PsciFid.SYSTEM_OFF, PsciFid.SYSTEM_RESET):
                return f"PSCI {PsciFid(fid).name}", f"the realm called PSCI {PsciFid(fid).name}"
            return f"PSCI {fid:#x}", None
        return f"exit reason {reason}", None

    def _console(self, word: int, k: int = 0) -> None:
        """The console device: eight bytes per store; a line is complete at a newline (one line
        buffer per REC, so two CPUs writing at once do not interleave inside a line)."""
        buf = self.console_buf.get(k, "") + word.to_bytes(8, "little").rstrip(b"\0").decode(errors="replace")
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            self.console.append(line)
        self.console_buf[k] = buf

    # --- memory services ----------------------------------------------------------------------------------
    def back(self, ipa: int) -> int:
        """Back the protected page at ``ipa`` with a fresh granule (DATA_CREATE_UNKNOWN)."""
        ipa &= ~(GRANULE - 1)
        self._ensure_rtts(ipa, 3)
        pa = self.host.delegate(1)[0]
        self.host.must("DATA_CREATE_UNKNOWN", self.rd, pa, ipa)
        self.data[ipa] = pa
        return pa

    def map_unprotected(self, ipa: int, pa: int | None = None) -> int:
        """Map a host page at the unprotected ``ipa`` (RTT_MAP_UNPROTECTED, Normal WB, read/write)."""
        ipa &= ~(GRANULE - 1)
        self._ensure_rtts(ipa, 3)
        pa = self.host.alloc() if pa is None else pa
        desc = pa | (0b110 << 2) | (0b11 << 6)
        self.host.must("RTT_MAP_UNPROTECTED", self.rd, ipa, 3, desc)
        self.unprotected[ipa] = pa
        return pa

    def set_ripas(self, k: int, base: int, top: int) -> None:
        """Apply the REC's RIPAS change with RTT_SET_RIPAS, creating RTTs where a block is in the way."""
        while base < top:
            call = self.host.rmi("RTT_SET_RIPAS", self.rd, self.recs[k], base, top)
            if call.status == RmiStatus.ERROR_RTT and call.index < 3:
                self._ensure_rtts(base, call.index + 1)
                continue
            if not call.ok:
                break  # the REC sees how far the host got
            base = call.results[1]

    # --- teardown -------------------------------------------------------------------------------------------
    def destroy(self) -> None:
        """Tear the realm down: DATA_DESTROY, RTT_DESTROY (deepest first), REC_DESTROY,
        REALM_DESTROY, and undelegate every granule back to the host."""
        h = self.host
        freed = []
        for ipa in sorted(self.data):
            call = h.must("DATA_DESTROY", self.rd, ipa)
            freed.append(call.results[1])
        self.data.clear()
        for ipa in sorted(self.unprotected):
            h.must("RTT_UNMAP_UNPROTECTED", self.rd, ipa, 3)
        self.unprotected.clear()
        for (region, lvl), rtt in sorted(self.rtts.items(), key=lambda kv: -kv[0][1]):
            if rtt is None:
                continue
            call = h.must("RTT_DESTROY", self.rd, region, lvl)
            freed.append(call.results[1])
        self.rtts.clear()
        for rec, aux in zip(self.recs, self.aux):
            h.must("REC_DESTROY", rec)
            freed += [rec, *aux]
        h.must("REALM_DESTROY", self.rd)
        num = s2tt.rtt_num_start(self.cfg.s2sz, self.cfg.rtt_level_start)
        freed += [self.rd] + [self.rtt_base + i * GRANULE for i in range(num)]
        for pa in freed:
            h.must("GRANULE_UNDELEGATE", pa)
            h.free(pa)
        self.recs, self.aux = [], []


def _mpidr_to_index(mpidr: int) -> int:
    from ..firmware.rmm.rmi.rec import mpidr_index

    return mpidr_index(mpidr) or 0


def build_realm(host, config: RealmConfig | None = None, progress=None, **kwargs) -> RealmHandle:
    cfg = config if config is not None else RealmConfig(**kwargs)
    handle = RealmHandle(host, cfg).build(progress)
    host.realms.append(handle)
    return handle


__all__ = ["RealmConfig", "RealmHandle", "RunReport", "BuildStep", "build_realm"]
