"""Processing elements: security state, exception level, translation registers, TLB and walk cache.

A PE does not execute instructions in this model; software acting on it (a host, a realm guest,
the RMM) issues translations and accesses through it, and maintains its TLB with ``tlbi``.

Spec: Arm ARM K.a, D8 (VMSAv8-64), D8.16 "TLB maintenance"; register layouts in
:mod:`ccalab.arch.sysreg`. The TLB caches successful translations per 4KB page, tagged with the
regime, security state, VMID and ASID (global entries match any ASID); the walk cache holds the
stage-2 translations of stage-1 table addresses, tagged with the VMID. Both are direct-mapped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mmu import _kernels as mk
from .mmu import _reference as mref
from .mmu.faults import NO_FAULT, TranslationFault
from .mec.engine import context_id
from .mmu.regime import REGIME_EL10, Regime
from .pas import PAS, SecurityState, as_pas
from .sysreg import MECID_LAYOUTS, PE_LAYOUTS, TCR_EL1, TCR_EL2, VTCR_EL2

ACCESS = {"read": mk.READ, "write": mk.WRITE, "exec": mk.EXEC, "r": mk.READ, "w": mk.WRITE, "x": mk.EXEC}
#: The value ``translate_batch`` reports in its FSC array for an access that did not fault.
NO_FAULT_FSC = -1

TLBI_OPS = ("VMALLE1", "VAE1", "VALE1", "VAAE1", "ASIDE1", "IPAS2E1", "VMALLS12E1", "ALLE1", "VAE2", "ALLE2",
            "VAE3", "ALLE3")


class TranslationFaultError(Exception):
    """An access through a PE faulted; ``fault`` is the :class:`TranslationFault`."""

    def __init__(self, fault: TranslationFault):
        self.fault = fault
        super().__init__(fault.explain())


@dataclass(frozen=True)
class TranslationResult:
    """The outcome of :meth:`PE.translate`."""

    va: int
    pa: int | None
    pas: PAS | None
    ipa: int | None
    fault: TranslationFault | None
    steps: tuple
    tlb_hit: bool

    @property
    def ok(self) -> bool:
        return self.fault is None

    def explain(self) -> str:
        if self.fault is not None:
            return f"VA {self.va:#x}: {self.fault.explain()}"
        via = "TLB hit" if self.tlb_hit else f"walk of {len(self.steps)} descriptor reads"
        return f"VA {self.va:#x} -> PA {self.pa:#x} in the {self.pas.label} PAS ({via})"


class PE:
    """One processing element of a :class:`ccalab.Platform` (``p.pe(i)``)."""

    def __init__(self, platform, index: int, state=SecurityState.NONSECURE, el: int = 1,
                 tlb_sets: int = 1024, walk_cache_sets: int = 256):
        for n in (tlb_sets, walk_cache_sets):
            if n <= 0 or n & (n - 1):
                raise ValueError("TLB and walk-cache sizes must be powers of two")
        self._p = platform
        self.index = index
        self._regs = {name: 0 for name in PE_LAYOUTS}
        self._regs["TCR_EL1"] = TCR_EL1.encode(TG1=2)  # 4KB for both halves
        self._regs["MECIDR_EL2"] = 15  # 16-bit MECIDs
        size = mk.PHEADER + mk.TLB_WORDS * tlb_sets + mk.WC_WORDS * walk_cache_sets
        self.pctx = np.zeros(size, dtype=np.int64)
        self.pctx[mk.P_TLB_SETS] = tlb_sets
        self.pctx[mk.P_WC_SETS] = walk_cache_sets
        self.pctx[mk.P_TLB_OFF] = mk.PHEADER
        self.pctx[mk.P_WC_OFF] = mk.PHEADER + mk.TLB_WORDS * tlb_sets
        self.pctx[mk.P_TLB_ON] = 1
        self.pctx[mk.P_WC_ON] = 1
        self._state = SecurityState(int(as_pas(state)) if not isinstance(state, SecurityState) else state)
        self._el = 0
        self.el = el if self._state != SecurityState.ROOT else 3
        self._regime = None
        self._sync()

    # --- state -------------------------------------------------------------------------------
    @property
    def security_state(self) -> PAS:
        """The PE's security state, named by its own PAS (``PAS.REALM`` for Realm state)."""
        return PAS(int(self._state))

    @security_state.setter
    def security_state(self, value) -> None:
        st = value if isinstance(value, SecurityState) else SecurityState(int(as_pas(value)))
        self._state = st
        if st == SecurityState.ROOT:
            self._el = 3
        elif self._el == 3:
            self._el = 2
        self._sync()

    @property
    def el(self) -> int:
        return self._el

    @el.setter
    def el(self, value: int) -> None:
        if value not in (0, 1, 2, 3):
            raise ValueError(f"an exception level is 0, 1, 2 or 3, not {value!r}")
        if (value == 3) != (self._state == SecurityState.ROOT):
            raise ValueError("EL3 is the Root state and the Root state is EL3")
        self._el = value
        self._sync()

    @property
    def regime(self) -> Regime:
        return self._regime

    @property
    def platform(self):
        """The :class:`ccalab.Platform` this PE belongs to."""
        return self._p

    def sysreg(self, name: str) -> int:
        key = str(name).upper()
        if key not in self._regs:
            raise KeyError(f"unknown PE register {name!r}; this model has {', '.join(sorted(self._regs))}")
        return self._regs[key]

    def set_sysreg(self, name: str, value: int) -> None:
        """Write a register. TLBs are not invalidated (as on hardware): issue :meth:`tlbi`."""
        key = str(name).upper()
        if key not in self._regs:
            raise KeyError(f"unknown PE register {name!r}; this model has {', '.join(sorted(self._regs))}")
        value = int(value)
        if value < 0 or value >> 64:
            raise ValueError(f"{key} is a 64-bit register; {value:#x} does not fit")
        if key in ("TCR_EL1", "TCR_EL2", "TCR_EL3", "VTCR_EL2"):
            layout = {"TCR_EL1": TCR_EL1, "VTCR_EL2": VTCR_EL2}.get(key, TCR_EL2)
            if layout.decode(value)["TG0"] != 0:
                raise ValueError(f"{key}.TG0 selects a 16KB or 64KB granule; only the 4KB granule is modelled")
            if key == "TCR_EL1" and TCR_EL1.decode(value)["TG1"] != 2:
                raise ValueError("TCR_EL1.TG1 must be 0b10 (4KB); only the 4KB granule is modelled")
        if key == "HCR_EL2" and (value >> 34) & 1:
            raise ValueError("HCR_EL2.E2H (VHE) is not modelled; leave it 0")
        if key == "MECIDR_EL2":
            raise ValueError("MECIDR_EL2 is read-only")
        if key in MECID_LAYOUTS:
            value &= (1 << (self._regs["MECIDR_EL2"] + 1)) - 1  # bits at and above the width are RES0
        self._regs[key] = value
        self._sync()

    def _sync(self) -> None:
        """Decode the registers into the regime and the PE context the kernels read."""
        rg = Regime.from_registers(self._regs, self._state, self._el, self._p.pamax)
        self._regime = rg
        c = self.pctx
        c[mk.P_REGIME] = rg.regime
        c[mk.P_STATE] = int(rg.state)
        c[mk.P_EL] = rg.el
        c[mk.P_S1_ON] = int(rg.s1_enabled)
        c[mk.P_WXN] = int(rg.wxn)
        c[mk.P_IA0], c[mk.P_IA1] = rg.ia0, rg.ia1
        c[mk.P_TTB0], c[mk.P_TTB1] = rg.ttb0, rg.ttb1
        c[mk.P_EPD0], c[mk.P_EPD1] = int(rg.epd0), int(rg.epd1)
        c[mk.P_ASID] = rg.asid
        c[mk.P_OA] = rg.oa_bits
        c[mk.P_S2_ON] = int(rg.s2_enabled)
        c[mk.P_S2_IA], c[mk.P_S2_LEVEL], c[mk.P_S2_OK] = rg.s2_ia, rg.s2_level, int(rg.s2_ok)
        c[mk.P_VTTB], c[mk.P_VMID], c[mk.P_S2_OA] = rg.vttb, rg.vmid, rg.s2_oa_bits
        c[mk.P_PAMAX] = self._p.pamax

    # --- translation -------------------------------------------------------------------------
    def _access(self, access) -> int:
        try:
            return ACCESS[str(access).lower()]
        except KeyError:
            raise ValueError(f"access is 'read', 'write' or 'exec', not {access!r}") from None

    @staticmethod
    def _va(va) -> int:
        if isinstance(va, bool) or not isinstance(va, (int, np.integer)):
            raise TypeError(f"a virtual address is an int, got {va!r}")
        va = int(va)
        if va < 0 or va >> 64:
            raise ValueError(f"a virtual address is 64 bits, got {va:#x}")
        return va - (1 << 64) if va >> 63 else va

    def _fault(self, word: int, va: int, ipa: int, pa: int) -> TranslationFault:
        rg = self._regime
        stage2 = (word >> 9) & 1
        return TranslationFault.unpack(word, va=va & ((1 << 64) - 1),
                                       ipa=ipa if ipa >= 0 and (stage2 or rg.s2_enabled) else None,
                                       pa=pa if pa >= 0 else None, regime_el=rg.regime_el, tge=rg.tge)

    def translate(self, va: int, access: str = "read") -> TranslationResult:
        """Translate one VA as an access of kind ``access`` would (TLB, walks, GPC on the output).

        ``steps`` lists every descriptor read of the walk (stage-2 reads for stage-1 table
        addresses included) when the TLB missed; it is empty on a TLB hit.
        """
        va64 = self._va(va)
        acc = self._access(access)
        hits_before = self.pctx[mk.P_CNT + mk.Q_TLB_HITS]
        out = self._run(np.array([va64], np.int64), acc)
        pa, pas, word, ipa = int(out[0][0]), int(out[1][0]), int(out[2][0]), int(out[3][0])
        hit = self.pctx[mk.P_CNT + mk.Q_TLB_HITS] > hits_before
        steps = ()
        if not hit:
            steps = tuple(self.walk_steps(va, access))
        fault = None if word == NO_FAULT else self._fault(word, va64, ipa, pa)
        if fault is not None:
            self._p.events.append("mmu.fault", f"PE{self.index}", fault.explain(), pe=self.index, va=va64,
                                  fsc=fault.fsc, stage=fault.stage, level=fault.level)
        return TranslationResult(va & ((1 << 64) - 1), None if fault else pa, None if fault else PAS(pas),
                                 ipa if ipa >= 0 else None, fault, steps, bool(hit))

    def walk_steps(self, va: int, access: str = "read") -> list:
        """The descriptor reads a walk for ``va`` makes (the readable twin; no TLB, no counters)."""
        from .gpt._reference import gpc_check

        p = self._p
        cfg = p.gpc_config
        _, _, _, _, steps = mref.translate(self._regime, self._va(va) & ((1 << 64) - 1), self._access(access),
                                           p.memory, lambda a, s: gpc_check(a, s, cfg, p.memory.read64),
                                           pamax=p.pamax)
        return steps

    def _run(self, va: np.ndarray, acc: int):
        n = va.size
        out_pa = np.empty(n, np.int64)
        out_pas = np.empty(n, np.int8)
        out_fault = np.empty(n, np.int64)
        out_ipa = np.empty(n, np.int64)
        mk.translate_batch(va, acc, self._el, out_pa, out_pas, out_fault, out_ipa, self._p.memory.words,
                           self._p.ctx, self.pctx)
        return out_pa, out_pas, out_fault, out_ipa

    def _va_array(self, va_array) -> np.ndarray:
        if not isinstance(va_array, np.ndarray):
            items = list(va_array)
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < (1 << 64):
                    raise TypeError(f"virtual addresses are ints in [0, 2^64), got {v!r}")
            return np.array([int(v) for v in items], dtype=np.uint64).view(np.int64)
        arr = np.asarray(va_array)
        if arr.dtype == object or arr.dtype.kind not in "iu":
            raise TypeError(f"virtual addresses must be integers, got an array of {arr.dtype}")
        arr = np.ascontiguousarray(arr.reshape(-1))
        if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
            raise ValueError("virtual addresses cannot be negative (give them as unsigned 64-bit values)")
        return arr.astype(np.uint64, copy=False).view(np.int64)

    def translate_batch(self, va_array, access: str = "read"):
        """Translate many VAs in one kernel call.

        Returns ``(pa, fsc)``: int64 arrays; ``pa`` is -1 and ``fsc`` the ESR fault status code
        where the translation faulted, and ``fsc`` is :data:`NO_FAULT_FSC` (-1) where it did not.
        :meth:`translate_batch_full` also gives the PAS, the packed faults and the IPAs.
        """
        pa, pas, fault, ipa = self.translate_batch_full(va_array, access)
        fsc = np.where(fault == NO_FAULT, NO_FAULT_FSC, fault & 0x3F)
        return pa, fsc

    def translate_batch_full(self, va_array, access: str = "read"):
        """``(pa, pas, fault_words, ipa)`` for many VAs (fault words: see :mod:`ccalab.arch.mmu.faults`)."""
        return self._run(self._va_array(va_array), self._access(access))

    # --- accesses ----------------------------------------------------------------------------
    def mecid_for(self, va: int, result: TranslationResult) -> int:
        """The MECID an access to ``va`` carries (spec/mec.md section 3, ASL ``AArch64_S1OutputMECID``,
        ``AArch64_S2OutputMECID``): 0 unless the output PAS is Realm and the regime's EMEC is set;
        then VMECID_P/A_EL2 for Realm EL1&0 (the stage-2 leaf's AMEC bit 63 picks A), MECID_P0/A0_EL2
        for EL2 (the stage-1 leaf's AMEC), MECID_RL_A_EL3 for EL3.

        The AMEC bit is read from the tables at the time of the access (this model's TLB does not
        cache it)."""
        if result.fault is not None or result.pas != PAS.REALM:
            return 0
        rg = self._regime
        r = self._regs
        if rg.regime == 3:
            return r["MECID_RL_A_EL3"] if (r["SCTLR2_EL3"] >> 1) & 1 else 0
        if not (r["SCTLR2_EL2"] >> 1) & 1:
            return 0
        steps = self.walk_steps(va)
        if rg.regime == REGIME_EL10:
            leaf = [s for s in steps if s.stage == 2 and s.s1_level is None]
            amec = bool(leaf) and (leaf[-1].descriptor >> 63) & 1
            return r["VMECID_A_EL2"] if amec else r["VMECID_P_EL2"]
        leaf = [s for s in steps if s.stage == 1]
        amec = rg.s1_enabled and bool(leaf) and (leaf[-1].descriptor >> 63) & 1
        return r["MECID_A0_EL2"] if amec else r["MECID_P0_EL2"]

    def _pages(self, va: int, n: int, access: int):
        """Translate every page ``[va, va + n)`` touches; raise on the first fault. Yields
        ``(pa, length, context)`` with the encryption context of each piece."""
        out = []
        cur = va
        end = va + n
        while cur < end:
            page_end = (cur | 0xFFF) + 1
            chunk = min(end, page_end) - cur
            r = self.translate(cur, {mk.READ: "read", mk.WRITE: "write", mk.EXEC: "exec"}[access])
            if r.fault is not None:
                raise TranslationFaultError(r.fault)
            if not self._p.memory.is_backed(r.pa, chunk):
                f = TranslationFault.unpack(mk.FSC_EABT | (mk.F_EABT << 11), va=cur, pa=r.pa,
                                            regime_el=self._regime.regime_el, tge=self._regime.tge,
                                            detail="no memory answers at that physical address")
                raise TranslationFaultError(f)
            out.append((r.pa, chunk, context_id(r.pas, self.mecid_for(cur, r))))
            cur += chunk
        return out

    def read(self, va: int, n: int) -> bytes:
        """Load ``n`` bytes at ``va`` through the whole access path; a fault raises
        :class:`TranslationFaultError` carrying the :class:`TranslationFault`."""
        va = self._va(va) & ((1 << 64) - 1)
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"a read length is a non-negative int, got {n!r}")
        return b"".join(self._p.mec.read(pa, c, ctx) for pa, c, ctx in self._pages(va, int(n), mk.READ))

    def write(self, va: int, data) -> None:
        """Store ``data`` at ``va`` through the whole access path (all pages are checked first)."""
        va = self._va(va) & ((1 << 64) - 1)
        if isinstance(data, str):
            raise TypeError("write takes bytes, not str (encode it first)")
        data = bytes(data)
        pos = 0
        for pa, c, ctx in self._pages(va, len(data), mk.WRITE):
            self._p.mec.write(pa, data[pos:pos + c], ctx)
            pos += c

    def read_batch(self, va_array, size: int = 8):
        """Load ``size`` bytes (1, 2, 4 or 8, naturally aligned) at every VA: one translation kernel
        call, then one gather. Returns ``(values, fsc)`` with ``fsc`` as in :meth:`translate_batch`
        (FSC 0x10, a synchronous external abort, where a translated address is not memory).

        The loads read the view above the point of encryption, as the table walks do (they do not
        switch encryption context; :meth:`read` does)."""
        if size not in (1, 2, 4, 8):
            raise ValueError("size is 1, 2, 4 or 8 bytes")
        va = self._va_array(va_array)
        if size > 1 and (va & (size - 1)).any():
            raise ValueError(f"every address must be aligned to {size} bytes")
        pa, _, fault, _ = self._run(va, mk.READ)
        ok = fault == NO_FAULT
        mem = self._p.memory
        backed = np.zeros(va.size, dtype=bool)
        for lo, hi in zip(mem.backed_lo, mem.backed_hi):
            backed |= (pa >= lo) & (pa + size <= hi)
        fsc = np.where(ok, NO_FAULT_FSC, fault & 0x3F)
        fsc[ok & ~backed] = mk.FSC_EABT
        good = ok & backed
        out = np.zeros(va.size, np.int64)
        words = mem.words[pa[good] >> 3].view(np.uint64) >> (8 * (pa[good] & 7)).astype(np.uint64)
        if size < 8:
            words &= np.uint64((1 << (8 * size)) - 1)
        out[good] = words.view(np.int64)
        return out, fsc

    # --- maintenance -------------------------------------------------------------------------
    def tlbi(self, op: str, arg: int | None = None) -> int:
        """TLB maintenance (local to this PE in this model). Returns the entries dropped.

        ``VMALLE1`` (this VMID's EL1&0 entries), ``VAE1``/``VALE1`` va (this ASID, or global),
        ``VAAE1`` va (any ASID), ``ASIDE1`` asid, ``IPAS2E1`` ipa (stage-2-only entries: the walk
        cache; as the architecture allows, combined entries stay, so software follows it with
        VMALLE1 as the RMM does), ``VMALLS12E1`` (both stages, this VMID), ``ALLE1``, ``VAE2``,
        ``ALLE2``, ``VAE3``, ``ALLE3``.
        """
        op = str(op).upper()
        if op.startswith("TLBI "):
            op = op[5:]
        op = op.rstrip("IS").rstrip("OS") if op not in TLBI_OPS else op
        if op not in TLBI_OPS:
            raise ValueError(f"unknown TLBI operation {op!r}; supported: {', '.join(TLBI_OPS)}")
        needs = op in ("VAE1", "VALE1", "VAAE1", "ASIDE1", "IPAS2E1", "VAE2", "VAE3")
        if needs and arg is None:
            raise ValueError(f"TLBI {op} needs an address or ASID argument")
        if self._p.whatif.skip_tlbi:
            self._p.events.append("tlbi.skipped", f"PE{self.index}", f"TLBI {op} SKIPPED (what-if): stale entries stay",
                                  pe=self.index, op=op, arg=arg)
            return 0
        n = self._invalidate(op, arg)
        self._p.events.append("tlbi", f"PE{self.index}", f"TLBI {op}" + (f" {arg:#x}" if arg is not None else "")
                              + f": {n} entries dropped", pe=self.index, op=op, arg=arg, dropped=n)
        return n

    def _tlb(self):
        c = self.pctx
        return c[c[mk.P_TLB_OFF]:c[mk.P_TLB_OFF] + mk.TLB_WORDS * c[mk.P_TLB_SETS]].reshape(-1, mk.TLB_WORDS)

    def _wc(self):
        c = self.pctx
        return c[c[mk.P_WC_OFF]:c[mk.P_WC_OFF] + mk.WC_WORDS * c[mk.P_WC_SETS]].reshape(-1, mk.WC_WORDS)

    def _invalidate(self, op, arg) -> int:
        tlb, wc = self._tlb(), self._wc()
        key = tlb[:, 1]
        valid = key != 0
        regime = (key >> 1) & 3
        state = (key >> 3) & 3
        vmid = (key >> 5) & 0xFFFF
        asid = (key >> 21) & 0xFFFF
        glob = (key >> 37) & 1
        rg = self._regime
        here = valid & (state == int(rg.state))
        el10 = here & (regime == REGIME_EL10) & (vmid == rg.vmid)
        if op in ("VAE1", "VALE1", "VAAE1", "VAE2", "VAE3"):
            vpn = self._va(arg) >> 12
            target = {"VAE2": 2, "VAE3": 3}.get(op, REGIME_EL10)
            m = here & (regime == target) & (tlb[:, 0] == vpn)
            if target == REGIME_EL10:
                m &= vmid == rg.vmid
                if op != "VAAE1":
                    m &= (glob == 1) | (asid == rg.asid)
        elif op == "ASIDE1":
            m = el10 & (glob == 0) & (asid == int(arg))
        elif op == "VMALLE1":
            m = el10
        elif op == "VMALLS12E1":
            m = el10
            wc[:, 1] = np.where(((wc[:, 1] >> 1) & 0xFFFF) == rg.vmid, 0, wc[:, 1])
        elif op == "ALLE1":
            m = here & (regime == REGIME_EL10)
            wc[:, 1] = 0
        elif op == "IPAS2E1":
            page = int(arg) >> 12
            hit = (wc[:, 0] == page) & (((wc[:, 1] >> 1) & 0xFFFF) == rg.vmid)
            n = int(hit.sum())
            wc[hit, 1] = 0
            return n
        elif op == "ALLE2":
            m = here & (regime == 2)
        else:  # ALLE3
            m = valid & (regime == 3)
        n = int(m.sum())
        tlb[m, 1] = 0
        return n

    def invalidate_guest(self, state, vmid: int) -> int:
        """``TLBI VMALLS12E1IS`` for a guest this PE may not be running: drop every EL1&0 TLB entry
        of security state ``state`` tagged with ``vmid``, and its walk-cache entries (the RMM does
        this after changing a realm's RTTs, with the realm's VMID in VTTBR_EL2). Returns the TLB
        entries dropped."""
        tlb, wc = self._tlb(), self._wc()
        key = tlb[:, 1]
        m = ((key != 0) & (((key >> 1) & 3) == REGIME_EL10) & (((key >> 3) & 3) == int(as_pas(state)))
             & (((key >> 5) & 0xFFFF) == int(vmid)))
        wc[:, 1] = np.where(((wc[:, 1] >> 1) & 0xFFFF) == int(vmid), 0, wc[:, 1])
        n = int(m.sum())
        tlb[m, 1] = 0
        return n

    def tlb_lookup(self, va: int, access: str = "read") -> dict | None:
        """The TLB entry a translation of ``va`` for ``access`` would use now, or None (a miss).
        Changes nothing (no counters, no fill). An entry whose cached permissions refuse
        ``access`` counts as a miss, as in the kernel: the walk then runs and reports the fault."""
        c = self.pctx
        if not c[mk.P_TLB_ON]:
            return None
        vpn = self._va(va) >> 12
        slot = int(c[mk.P_TLB_OFF] + mk.TLB_WORDS * (vpn & (int(c[mk.P_TLB_SETS]) - 1)))
        key = mk.tlb_key(c)
        e = int(c[slot + 1])
        if int(c[slot]) != vpn or (e & 0x1FFFFF) != key:
            return None
        if not ((e >> 37) & 1 or ((e >> 21) & 0xFFFF) == int(c[mk.P_ASID])):
            return None
        info = int(c[slot + 3])
        acc = self._access(access)
        if not (mk.s1_permits(info & 0x3FF, acc, self._el, int(c[mk.P_REGIME]), bool(c[mk.P_WXN]))
                and mk.s2_permits((info >> 10) & 0x1F, acc, self._el)):
            return None
        return {"va": (vpn << 12) & ((1 << 64) - 1), "pa": int(c[slot + 2]), "pas": PAS((info >> 15) & 3),
                "vmid": (e >> 5) & 0xFFFF, "asid": (e >> 21) & 0xFFFF, "global": bool((e >> 37) & 1)}

    def walk_cache_slot(self, ipa: int) -> int:
        """Which walk-cache entry the stage-2 translation of table address ``ipa`` uses."""
        c = self.pctx
        return int(c[mk.P_WC_OFF] + mk.WC_WORDS * ((int(ipa) >> 12) & (int(c[mk.P_WC_SETS]) - 1)))

    def walk_cache_holds(self, ipa: int) -> bool:
        """Whether the walk cache now holds the stage-2 translation of table address ``ipa``."""
        c = self.pctx
        if not c[mk.P_WC_ON]:
            return False
        slot = self.walk_cache_slot(ipa)
        key = 1 | (int(c[mk.P_VMID]) << 1) | (int(c[mk.P_STATE]) << 17)
        return int(c[slot]) == int(ipa) >> 12 and int(c[slot + 1]) == key

    def tlb_entries(self) -> list:
        """Valid TLB entries as dicts (VA page, PA page, PAS, regime, VMID, ASID, global)."""
        out = []
        for vpn, key, pa, info in self._tlb():
            if key == 0:
                continue
            out.append({"va": (int(vpn) << 12) & ((1 << 64) - 1), "pa": int(pa), "pas": PAS((int(info) >> 15) & 3),
                        "regime": int((key >> 1) & 3), "vmid": int((key >> 5) & 0xFFFF),
                        "asid": int((key >> 21) & 0xFFFF), "global": bool((key >> 37) & 1)})
        return out

    @property
    def counters(self) -> dict:
        c = self.pctx[mk.P_CNT:mk.P_CNT + mk.N_PCOUNTERS]
        names = ("translations", "tlb_hits", "tlb_misses", "walks", "s1_reads", "s2_reads", "walk_cache_hits",
                 "walk_cache_misses", "faults")
        return {n: int(c[i]) for i, n in enumerate(names)}

    def reset_counters(self) -> None:
        self.pctx[mk.P_CNT:mk.P_CNT + mk.N_PCOUNTERS] = 0

    @property
    def tlb_enabled(self) -> bool:
        return bool(self.pctx[mk.P_TLB_ON])

    @tlb_enabled.setter
    def tlb_enabled(self, on: bool) -> None:
        self.pctx[mk.P_TLB_ON] = int(bool(on))

    @property
    def walk_cache_enabled(self) -> bool:
        return bool(self.pctx[mk.P_WC_ON])

    @walk_cache_enabled.setter
    def walk_cache_enabled(self, on: bool) -> None:
        self.pctx[mk.P_WC_ON] = int(bool(on))

    def invalidate_pa_range(self, pa: int, size: int) -> int:
        """Drop TLB entries whose output lies in ``[pa, pa + size)`` (their GPT information may be
        stale): the TLB side of ``TLBI RPALOS``. Returns the entries dropped."""
        tlb = self._tlb()
        m = (tlb[:, 1] != 0) & (tlb[:, 2] < pa + size) & (tlb[:, 2] + 4096 > pa)
        tlb[m, 1] = 0
        return int(m.sum())

    def invalidate_all_gpt_info(self) -> int:
        """Drop every TLB entry (each holds GPT information): the TLB side of ``TLBI PAALLOS``."""
        tlb = self._tlb()
        n = int((tlb[:, 1] != 0).sum())
        tlb[:, 1] = 0
        return n

    def __repr__(self) -> str:
        return f"PE{self.index}({self._state.label}, EL{self._el})"
