"""The EL3 monitor: GPT set-up at boot and the granule transition service, as TF-A BL31 does them.

Spec and reference behaviour: TF-A ``lib/gpt_rme/gpt_rme.c`` (``gpt_init_l0_tables``,
``gpt_init_pas_l1_tables``, ``gpt_enable``, ``gpt_delegate_pas`` / ``gpt_undelegate_pas``, the
shatter and fuse of contiguous blocks) and ``services/std_svc/rmmd`` (``RMM_GTSI_DELEGATE`` /
``RMM_GTSI_UNDELEGATE``, accepted only from the Realm world, errors mapped to ``E_RMM_*``).

Model notes: data caches are not modelled yet, so ``DC CIPAPA`` is recorded as an event with its
real operand and has no other effect. The GPT lives in Root memory of the simulated DRAM; the
L0 table sits beside the L1 tables (TF-A's FVP port keeps the L0 table in Trusted SRAM instead).
"""

from __future__ import annotations

from ..events import register_formatter

import numpy as np

from ..arch.gpt.builder import (CONTIG_ORDER, PASRegion, contig_size_of, l0_descriptors,
                                l0_indices_needing_l1, l1_words_for, validate_regions)
from ..arch.gpt.config import GPCConfig, L0GPTSZ_ENCODING, PGS_ENCODING, PPS_ENCODING
from ..arch.gpt.descriptors import l1_contiguous, l1_uniform
from ..arch.pas import GPI, PAS, SecurityState, as_gpi
from ..arch.sysreg import GPCCR_EL3, GPTBR_EL3

EPERM = 1
EINVAL = 22

E_RMM_OK = 0
E_RMM_UNK = -1
E_RMM_BAD_ADDR = -2
E_RMM_BAD_PAS = -3
E_RMM_NOMEM = -4
E_RMM_INVAL = -5

#: SMC function IDs of the EL3-RMM interface (SMC64, standard service, 0x1B0, 0x1B1, 0x1B6).
RMM_GTSI_DELEGATE = 0xC40001B0
RMM_GTSI_UNDELEGATE = 0xC40001B1
RMM_MEC_REFRESH = 0xC40001B6

#: MECIDR_EL2.MECIDWidthm1 + 1 of this model's PEs and engine.
MECID_WIDTH = 16
SMC_UNKNOWN = 0xFFFF_FFFF_FFFF_FFFF

#: The function IDs the monitor forwards to the RMM (the RMI range, SMC64).
RMI_FID_FIRST = 0xC4000150
RMI_FID_LAST = 0xC400018F

#: TF-A ``gpi_config[].policy``: the (caller, current GPI, target GPI) triples that are allowed.
TRANSITION_POLICY = frozenset({
    (SecurityState.REALM, GPI.NONSECURE, GPI.REALM),  # delegate
    (SecurityState.REALM, GPI.REALM, GPI.NONSECURE),  # undelegate
    (SecurityState.SECURE, GPI.NONSECURE, GPI.SECURE),
    (SecurityState.SECURE, GPI.SECURE, GPI.NONSECURE),
})

_ACTOR = "EL3 monitor"
_POLICY_INTS = frozenset((int(c), int(a), int(b)) for c, a, b in TRANSITION_POLICY)

#: TLBI RPALOS SIZE field ([47:44]) for each range size.
RPALOS_SIZE = {4 << 10: 0, 16 << 10: 1, 64 << 10: 2, 2 << 20: 3, 32 << 20: 4, 512 << 20: 5,
               1 << 30: 6, 16 << 30: 7, 64 << 30: 8, 512 << 30: 9}


def rpalos_operand(pa: int, size: int) -> int:
    """The Xt operand of ``TLBI RPALOS``: PA[51:12] in [39:0] and the range SIZE in [47:44]."""
    if size not in RPALOS_SIZE:
        raise ValueError(f"TLBI RPALOS sizes are {', '.join(hex(s) for s in RPALOS_SIZE)}; got {size!r}")
    return (RPALOS_SIZE[size] << 44) | ((pa >> 12) & ((1 << 40) - 1))


def cipapa_operand(pa: int, pas: PAS) -> int:
    """The Xt operand of ``DC CIPAPA``: the PA with NS in bit 63 and NSE in bit 62."""
    return (pa & ((1 << 52) - 1)) | (PAS(pas).ns << 63) | (PAS(pas).nse << 62)


class Monitor:
    """The EL3 firmware of one platform (the part of TF-A BL31 that owns the GPT)."""

    actor = _ACTOR

    def __init__(self, platform):
        self._p = platform
        self.l0_base = None
        self.l1_tables = {}  # L0 index -> L1 table PA
        self.booted = False
        self._mec_keys = {}  # encryption context -> XTS key (EL3 only: no other world can read it)
        self._mec_schedules = {}

    # --- helpers -----------------------------------------------------------------------------
    def _log(self, kind, summary, **data):
        return self._p.events.append_data(kind, _ACTOR, summary, data, True)

    @property
    def _mem(self):
        return self._p.memory

    @property
    def cfg(self) -> GPCConfig:
        return self._p.gpc_config

    # --- boot --------------------------------------------------------------------------------
    def boot(self, regions, gpt_area: tuple) -> None:
        """Build the GPT from ``regions`` inside ``gpt_area`` = (base, size) and enable the GPC.

        Runs ``gpt_init_l0_tables``, ``gpt_init_pas_l1_tables`` and ``gpt_enable`` in order.
        """
        p = self._p
        gpccr = GPCCR_EL3.encode(PPS=PPS_ENCODING[p.pps], PGS=PGS_ENCODING[p.pgs], SH=3, IRGN=1, ORGN=1,
                                 L0GPTSZ=L0GPTSZ_ENCODING[p.l0gptsz], GPC=0)
        plan = GPCConfig.from_registers(gpccr | GPCCR_EL3.encode(GPC=1), 0, p.pamax)
        regions = list(regions)
        validate_regions(plan, regions)
        area_base, area_size = gpt_area
        # gpt_init_l0_tables: L0 table at the start of the area, every entry a Block of ANY.
        l0_base = area_base
        if l0_base % plan.l0_table_align:
            raise ValueError("the GPT area is not aligned for the L0 table")
        self.l0_base = l0_base
        l0_index_list = l0_indices_needing_l1(plan, regions)
        l1_first = -(-(l0_base + plan.l0_table_size) // plan.l1_table_size) * plan.l1_table_size
        need = l1_first + len(l0_index_list) * plan.l1_table_size - area_base
        if need > area_size:
            raise ValueError(f"the GPT needs {need:#x} bytes but its Root area holds {area_size:#x}")
        self.l1_tables = {idx: l1_first + k * plan.l1_table_size for k, idx in enumerate(l0_index_list)}
        words = self._mem.words
        n0 = plan.l0_entries
        words[l0_base >> 3:(l0_base >> 3) + n0] = l0_descriptors(plan, [], {})
        self._log("gpt.boot", f"gpt_init_l0_tables: {n0} L0 entries at {l0_base:#x}, all Block ANY",
                  l0_base=l0_base, entries=n0)
        # gpt_init_pas_l1_tables: fill each L1 table, then point the L0 entries at them.
        n_contig = 0
        for idx, addr in self.l1_tables.items():
            table = l1_words_for(plan, idx, regions)
            n_contig += int(((table & 0xF) == 1).sum())
            words[addr >> 3:(addr >> 3) + plan.l1_entries] = table
        words[l0_base >> 3:(l0_base >> 3) + n0] = l0_descriptors(plan, regions, self.l1_tables)
        self._noted(area_base, area_size // 8)
        n_block = sum(1 for r in regions if r.mapping == "block")
        self._log("gpt.boot",
                  f"gpt_init_pas_l1_tables: {len(regions)} PAS regions, {len(self.l1_tables)} L1 tables "
                  f"({plan.l1_table_size // 1024} KB each), {n_contig} contiguous L1 descriptors",
                  regions=[(r.name, r.base, r.size, int(r.gpi), r.mapping) for r in regions],
                  l1_tables=dict(self.l1_tables), block_regions=n_block)
        # gpt_enable: GPTBR, then GPCCR with GPC = 0, TLBI PAALLOS, then GPC = 1, TLBI PAALLOS.
        p.write_sysreg("GPTBR_EL3", GPTBR_EL3.encode(BADDR=l0_base >> 12), actor=self.actor)
        p.write_sysreg("GPCCR_EL3", gpccr, actor=self.actor)
        self.tlbi_paallos()
        p.write_sysreg("GPCCR_EL3", GPCCR_EL3.replace(gpccr, GPC=1), actor=self.actor)
        self.tlbi_paallos()
        self.booted = True
        self._log("gpt.boot", "gpt_enable: granule protection checks are on")

    # --- memory encryption keys ---------------------------------------------------------------
    def mec_key_schedule(self, ctx: int):
        """The key schedule of encryption context ``ctx`` for the memory encryption engine (the
        platform's key store: created on first use, replaced by :meth:`mec_refresh`)."""
        sched = self._mec_schedules.get(ctx)
        if sched is None:
            self._new_key(ctx)
            sched = self._mec_schedules[ctx]
        return sched

    def _new_key(self, ctx: int) -> None:
        import os

        from ..arch.mec.xts import xts_key_schedule

        while True:
            key = os.urandom(32)
            if key[:16] != key[16:]:
                break
        self._mec_keys[ctx] = key
        self._mec_schedules[ctx] = xts_key_schedule(key)

    def mec_refresh(self, mecid: int, reason: int = 1) -> int:
        """``RMM_MEC_REFRESH``: give Realm MECID ``mecid`` a new key (``reason`` 0 realm create,
        1 realm destroy). Returns ``E_RMM_OK`` or ``E_RMM_INVAL`` (MECID beyond the width).

        Data already in DRAM under the old key becomes unreadable (crypto-erase). The monitor does
        no cache maintenance: software must have cleaned and invalidated the MECID's lines to the
        PoE first (spec/mec.md section 4), or cached plaintext outlives the key.
        """
        from ..arch.mec.engine import context_id

        if isinstance(mecid, bool) or not isinstance(mecid, (int, np.integer)) or not 0 <= mecid < (1 << MECID_WIDTH):
            self._log("smc.mec", f"RMM_MEC_REFRESH({mecid!r}) -> E_RMM_INVAL", mecid=mecid, status=E_RMM_INVAL)
            return E_RMM_INVAL
        self._new_key(context_id(PAS.REALM, int(mecid)))
        self._log("mec.refresh", f"RMM_MEC_REFRESH: Realm MECID {mecid} has a new key "
                  f"({'realm create' if reason == 0 else 'realm destroy'})", mecid=int(mecid), reason=reason)
        return E_RMM_OK

    # --- maintenance operations -------------------------------------------------------------
    def tlbi_paallos(self) -> None:
        """``TLBI PAALLOS``: invalidate all cached GPT information."""
        if self._p.whatif.skip_gpt_tlbi and self.booted:
            self._log("tlbi.paallos", "TLBI PAALLOS SKIPPED (what-if): cached GPT information stays",
                      skipped=True)
            return
        n = self._p.gpc_cache.invalidate_all()
        t = sum(pe.invalidate_all_gpt_info() for pe in self._p._pes.values())
        self._log("tlbi.paallos", f"TLBI PAALLOS: {n} cached GPT entries and {t} TLB entries dropped",
                  dropped=n, tlb_dropped=t, skipped=False)

    def tlbi_rpalos(self, pa: int, size: int) -> None:
        """``TLBI RPALOS``: invalidate cached GPT information for ``[pa, pa + size)``."""
        op = (RPALOS_SIZE[size] << 44) | ((pa >> 12) & ((1 << 40) - 1)) if size in RPALOS_SIZE else \
            rpalos_operand(pa, size)
        p = self._p
        if p.whatif.skip_gpt_tlbi:
            self._log("tlbi.rpalos", f"TLBI RPALOS {pa:#x} +{_size(size)} SKIPPED (what-if): stale entries stay",
                      pa=pa, size=size, operand=op, skipped=True)
            return
        n = p.gpc_cache.invalidate_range(pa, size)
        t = 0
        for pe in p._pes.values():
            t += pe.invalidate_pa_range(pa, size)
        self._log("tlbi.rpalos", ("mon.rpalos", pa, size, op, n, t), pa=pa, size=size, operand=op, dropped=n, tlb_dropped=t,
                  skipped=False)

    def dc_cipapa(self, pa: int, pas: PAS) -> None:
        """``DC CIPAPA`` over one granule: clean and invalidate to the point of physical aliasing,
        every cached copy of it whatever its MECID (RQBNJF)."""
        pas = int(pas)
        op = (pa & ((1 << 52) - 1)) | ((pas & 1) << 63) | ((pas >> 1) << 62)  # cipapa_operand
        n = self._p.mec.clean_invalidate(pa, self._p._cfg.granule_size if self._p._cfg else self.cfg.granule_size)
        self._log("dc.cipapa", ("mon.cipapa", pa, pas, op), pa=pa, pas=pas, operand=op, invalidated=n)

    def dsb(self, domain: str) -> None:
        self._log("dsb", ("mon.fmt", "DSB {}", domain), domain=domain)

    # --- GPT access ---------------------------------------------------------------------------
    def _l1_word_addr(self, pa: int):
        """PA of the L1 word for ``pa``, or None if its L0 entry is not a table."""
        cfg = self.cfg
        d0 = self._mem.read64(cfg.l0_base + 8 * cfg.l0_index(pa))
        if d0 is None or d0 & 0xF != 0b0011:
            return None
        return (d0 & 0x000F_FFFF_FFFF_F000) + 8 * cfg.l1_index(pa)

    def _word(self, addr: int) -> int:
        """The GPT word at ``addr`` (an address :meth:`_l1_word_addr` returned: known to be memory)."""
        return int(self._mem.words[addr >> 3]) & 0xFFFF_FFFF_FFFF_FFFF

    def _noted(self, first_word: int, n_words: int) -> None:
        """Tell the memory encryption engine of GPT words written directly."""
        if self._mem.engine is not None:
            self._mem.engine.note_write(first_word, 8 * n_words)

    def _read_gpi(self, word_addr: int, pa: int) -> int:
        w = self._word(word_addr)
        if contig_size_of(w):
            return (w >> 4) & 0xF
        return (w >> (4 * self.cfg.gpi_index(pa))) & 0xF

    def _write_gpi(self, word_addr: int, pa: int, gpi: int) -> None:
        w = self._word(word_addr)
        nib = self.cfg.gpi_index(pa)
        new = (w & ~(0xF << (4 * nib))) | (int(gpi) << (4 * nib))
        self._mem.words[word_addr >> 3] = np.uint64(new).view(np.int64) if new >> 63 else new
        self._noted(word_addr, 1)
        self._log("gpt.write", ("mon.gptwrite", word_addr, pa, int(gpi)),
                  pa=pa, gpi=int(gpi), word_addr=word_addr, old=w, new=new)

    def _block_words(self, pa: int, size: int):
        """(first word PA, number of words) of the aligned ``size`` block holding ``pa``."""
        cfg = self.cfg
        base = pa & ~(size - 1)
        first = self._l1_word_addr(base)
        return first, max(size // (cfg.granule_size * 16), 1)

    def _shatter(self, pa: int, addr: int | None = None) -> None:
        """Split the contiguous block holding ``pa`` so that its granule can change on its own."""
        addr = self._l1_word_addr(pa) if addr is None else addr
        w = self._word(addr)
        if w & 0xF != 0b0001:  # a granules descriptor: nothing to split
            return
        size = contig_size_of(w)
        if not size:
            return
        gpi = (w >> 4) & 0xF
        block_base = pa & ~(size - 1)
        words = self._mem.words
        span = self.cfg.granule_size * 16
        smaller = [s for s in CONTIG_ORDER if s < size]
        lo, hi = block_base, block_base + size
        for sub in smaller:  # chunks that do not hold pa become smaller blocks
            if sub < span:
                continue
            for chunk in range(lo, hi, sub):
                if chunk <= pa < chunk + sub:
                    continue
                first, n = self._block_words(chunk, sub)
                words[first >> 3:(first >> 3) + n] = np.uint64(l1_contiguous(gpi, sub)).view(np.int64)
            lo = pa & ~(sub - 1)
            hi = lo + sub
        first = self._l1_word_addr(lo)
        n = (hi - lo) // span
        words[first >> 3:(first >> 3) + n] = np.uint64(l1_uniform(gpi)).view(np.int64)
        self._noted(self._l1_word_addr(block_base), size // span)
        self._log("gpt.shatter", f"shatter {_size(size)} {GPI(gpi).label} block at {block_base:#x} "
                  f"around granule {pa:#x}", pa=pa, block=block_base, size=size, gpi=int(gpi))
        self.tlbi_rpalos(block_base, size)
        self.dsb("OSH")

    def _fuse(self, pa: int, addr: int | None = None) -> None:
        """Rebuild 2MB, then 32MB, then 512MB contiguous descriptors around ``pa`` where uniform."""
        if addr is not None:  # quick answer: the granule's own word must hold 16 equal GPIs
            w = self._word(addr)
            if w != (w & 0xF) * 0x1111_1111_1111_1111:
                return
        cfg = self.cfg
        span = cfg.granule_size * 16
        words = self._mem.words
        prev = None  # the descriptor every word of the previous size should now hold
        for size in reversed(CONTIG_ORDER):  # 2MB, 32MB, 512MB
            if size < span or size > cfg.l0_region_size:
                break
            first, n = self._block_words(pa, size)
            block = words[first >> 3:(first >> 3) + n].view(np.uint64)
            if prev is None:
                g = int(block[0] & np.uint64(0xF))
                if g == 1 or not (block == np.uint64(l1_uniform(g))).all():
                    return
                gpi = g
            elif not (block == np.uint64(prev)).all():
                return
            desc = l1_contiguous(gpi, size)
            words[first >> 3:(first >> 3) + n] = np.uint64(desc).view(np.int64)
            self._noted(first, n)
            self._log("gpt.fuse", f"fuse {_size(size)} {GPI(gpi).label} block at {pa & ~(size - 1):#x}",
                      pa=pa, block=pa & ~(size - 1), size=size, gpi=gpi)
            prev = desc

    # --- the transition service -------------------------------------------------------------
    def gpt_transition_pas(self, base: int, count: int, target, caller) -> int:
        """Change the PAS of one granule (TF-A ``gpt_delegate_pas`` / ``gpt_undelegate_pas``).

        Returns 0, ``-EINVAL`` (count not 1, misaligned or out-of-range base, L0 entry not a
        table) or ``-EPERM`` (the caller's policy forbids this change).
        """
        cfg = self.cfg
        target = as_gpi(target)
        caller = caller if type(caller) is SecurityState else SecurityState(caller)
        if not self.booted or not cfg.enabled:
            return -EINVAL
        if count != 1:
            return -EINVAL
        if base % cfg.granule_size or base < 0:
            return -EINVAL
        if base >= (1 << cfg.t):
            return -EINVAL
        word_addr = self._l1_word_addr(base)
        if word_addr is None:
            return -EINVAL
        current = self._read_gpi(word_addr, base)
        if (int(caller), current, int(target)) not in _POLICY_INTS:  # (also refuses reserved GPIs)
            self._log("gpt.transition", f"refused: {caller.label} may not move granule {base:#x} from "
                      f"{_gpi_name(current)} to {target.label} (-EPERM)", pa=base, ok=False, error=-EPERM)
            return -EPERM
        src = GPI(current)
        self._log("gpt.lock", ("mon.fmt", "lock GPT for granule {:#x}", base), pa=base)
        self._shatter(base, word_addr)
        if target in (GPI.REALM, GPI.SECURE):  # delegate
            self.dc_cipapa(base, int(target) & 3)
            self._write_gpi(word_addr, base, target)
            self.dsb("OSHST")
            self.tlbi_rpalos(base, cfg.granule_size)
            self.dsb("OSH")
            self.dc_cipapa(base, int(src) & 3)
        else:  # undelegate: through No-access first
            self._write_gpi(word_addr, base, GPI.NO_ACCESS)
            self.dsb("OSHST")
            self.tlbi_rpalos(base, cfg.granule_size)
            self.dsb("OSH")
            self.dc_cipapa(base, PAS(int(src) & 3))
            self.dc_cipapa(base, PAS(int(target) & 3))
            self._write_gpi(word_addr, base, target)
            self.dsb("OSHST")
            self.tlbi_rpalos(base, cfg.granule_size)
            self.dsb("OSH")
        self._fuse(base, word_addr)
        self._log("gpt.transition", ("mon.transition", base, int(src), int(target), int(caller)),
                  pa=base, ok=True, src=int(src), dst=int(target), caller=int(caller))
        return 0

    def gtsi_delegate(self, pa: int) -> int:
        """``RMM_GTSI_DELEGATE`` from the Realm world: Non-secure -> Realm. Returns ``E_RMM_*``."""
        return self._gtsi(pa, GPI.REALM, "RMM_GTSI_DELEGATE")

    def gtsi_undelegate(self, pa: int) -> int:
        """``RMM_GTSI_UNDELEGATE`` from the Realm world: Realm -> Non-secure. Returns ``E_RMM_*``."""
        return self._gtsi(pa, GPI.NONSECURE, "RMM_GTSI_UNDELEGATE")

    def _gtsi(self, pa, target, name) -> int:
        if not isinstance(pa, (int, np.integer)):
            raise TypeError(f"{name} takes a physical address (an int), got {type(pa).__name__}")
        pa = int(pa)
        ret = self.gpt_transition_pas(pa, 1, target, SecurityState.REALM)
        status = E_RMM_OK if ret == 0 else (E_RMM_BAD_ADDR if ret == -EINVAL else E_RMM_BAD_PAS)
        self._log("smc.gtsi", ("mon.fmt", "{}({:#x}) -> {}", name, pa, _rmm_error_name(status)), pa=pa, status=status)
        return status

    def smc(self, fid: int, *args, caller=SecurityState.REALM) -> int:
        """An SMC of the EL3-RMM interface (GTSI delegate/undelegate, MEC refresh). Only the Realm
        world may call them; others, and unknown IDs, get ``SMC_UNKNOWN``."""
        if fid not in (RMM_GTSI_DELEGATE, RMM_GTSI_UNDELEGATE, RMM_MEC_REFRESH):
            return SMC_UNKNOWN
        if SecurityState(caller) != SecurityState.REALM:
            self._log("smc.gtsi", f"SMC {fid:#x} from {SecurityState(caller).label} world refused: SMC_UNKNOWN",
                      fid=fid, caller=int(caller))
            return SMC_UNKNOWN
        if not args:
            return E_RMM_INVAL & 0xFFFF_FFFF_FFFF_FFFF
        if fid == RMM_MEC_REFRESH:
            x1 = int(args[0])
            if x1 & ~((0xFFFF << 32) | 1):  # MBZ bits
                return E_RMM_INVAL & 0xFFFF_FFFF_FFFF_FFFF
            return self.mec_refresh((x1 >> 32) & 0xFFFF, x1 & 1) & 0xFFFF_FFFF_FFFF_FFFF
        ret = self.gtsi_delegate(args[0]) if fid == RMM_GTSI_DELEGATE else self.gtsi_undelegate(args[0])
        return ret & 0xFFFF_FFFF_FFFF_FFFF

    def ns_smc(self, fid: int, args=()) -> tuple:
        """An SMC from the Non-secure world: RMI function IDs (0xC4000150..0xC400018F) go to the
        RMM, which returns the result registers; any other ID is handled as :meth:`smc` does for
        a Non-secure caller. Returns ``(X0, X1, ...)``."""
        if RMI_FID_FIRST <= fid <= RMI_FID_LAST:
            return self._p.rmm.handle_smc(fid, args, checked=True)  # Platform.smc checked the registers
        return (self.smc(fid, *args, caller=SecurityState.NONSECURE),)


_GPI_VALUES = frozenset(int(g) for g in GPI)


def _fmt(template: str, *args) -> str:
    return template.format(*args)


def _fmt_rpalos(pa, size, op, n, t) -> str:
    return (f"TLBI RPALOS {pa:#x} +{_size(size)} (Xt={op:#x}): {n} cached entries dropped"
            + (f", {t} TLB entries" if t else ""))


def _fmt_cipapa(pa, pas, op) -> str:
    return f"DC CIPAPA {pa:#x} in {PAS(pas).label} PAS (Xt={op:#x})"


def _fmt_transition(base, src, dst, caller) -> str:
    return f"granule {base:#x}: {GPI(src).label} -> {GPI(dst).label} (for {SecurityState(caller).label})"


def _fmt_gptwrite(word_addr, pa, gpi) -> str:
    return f"GPT L1 word {word_addr:#x}: granule {pa:#x} -> {GPI(gpi).label}"


register_formatter("mon.fmt", _fmt)
register_formatter("mon.cipapa", _fmt_cipapa)
register_formatter("mon.transition", _fmt_transition)
register_formatter("mon.gptwrite", _fmt_gptwrite)
register_formatter("mon.rpalos", _fmt_rpalos)


def _size(n: int) -> str:
    for unit, shift in (("GB", 30), ("MB", 20), ("KB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return f"{n}B"


def _gpi_name(g: int) -> str:
    try:
        return GPI(g).label
    except ValueError:
        return f"reserved 0b{g:04b}"


def _rmm_error_name(status: int) -> str:
    return {E_RMM_OK: "E_RMM_OK", E_RMM_UNK: "E_RMM_UNK", E_RMM_BAD_ADDR: "E_RMM_BAD_ADDR",
            E_RMM_BAD_PAS: "E_RMM_BAD_PAS", E_RMM_NOMEM: "E_RMM_NOMEM", E_RMM_INVAL: "E_RMM_INVAL"}[status]


__all__ = ["Monitor", "PASRegion", "TRANSITION_POLICY", "EINVAL", "EPERM", "E_RMM_OK", "E_RMM_BAD_ADDR",
           "E_RMM_BAD_PAS", "RMM_GTSI_DELEGATE", "RMM_GTSI_UNDELEGATE", "rpalos_operand", "cipapa_operand"]
