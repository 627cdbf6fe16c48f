"""``Platform``: one RME-capable machine, assembled and booted.

The default memory map follows Arm's Base FVP as TF-A describes it (``fvp_def.h``,
``fvp_pas_def.h``): DRAM at 0x8000_0000 (up to 2 GiB) and, above 2 GiB, a second bank at
0x8_8000_0000; at the top of the first bank the TrustZone carve-out holds, from the top down, the
GPT area (Root), EL3's data (Root, 3 MiB), the RMM (Realm, 32 MiB) and the Secure world (28 MiB).
Everything else in DRAM is Non-secure. Addresses outside DRAM keep the L0 default GPI of ANY,
as on the FVP; they hold ROM, SRAM and device registers (MMIO), which this topic does not model
beyond their place in the map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arch.gpt import GPCCache, GPCConfig, GPCFault, PASRegion, report
from .arch.gpt import _kernels as _gk
from .arch.gpt.config import L0GPTSZ_ENCODING, PGS_ENCODING, PPS_ENCODING
from .arch.gpt.descriptors import decode_l0, decode_l1, describe
from .arch.context import new_context, set_gpc_config
from .arch.mec.engine import MemoryEncryptionEngine, context_id
from .arch.memory import MemoryRegion, PhysicalMemory
from .arch.pas import GPI, PAS, SecurityState, as_pas
from .arch.sysreg import GPCCR_EL3, ID_AA64MMFR0_EL1, LAYOUTS, PPS_BITS, SCR_EL3
from .errors import ExternalAbort, GranuleProtectionFault
from .events import EventLog
from .firmware.monitor import Monitor
from .firmware.rmm.rmm import Rmm, as_registers

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

DRAM0_BASE = 0x8000_0000
DRAM0_MAX = 2 * GiB
DRAM1_BASE = 0x8_8000_0000

#: Fixed parts of the Base FVP map outside DRAM (TF-A ``fvp_def.h``, ``arm_def.h``).
FVP_FIXED_REGIONS = (
    MemoryRegion("Trusted ROM", 0x0000_0000, 256 * KiB, "mmio"),
    MemoryRegion("Trusted SRAM", 0x0400_0000, 256 * KiB, "sram"),
    MemoryRegion("UART0", 0x1C09_0000, 64 * KiB, "mmio"),
    MemoryRegion("UART1", 0x1C0A_0000, 64 * KiB, "mmio"),
    MemoryRegion("SMMUv3", 0x2B40_0000, 1 * MiB, "mmio"),
    MemoryRegion("GIC", 0x2F00_0000, 2 * MiB, "mmio"),
    MemoryRegion("PCIe ECAM", 0x4000_0000, 256 * MiB, "mmio"),
    MemoryRegion("PCIe MMIO", 0x5000_0000, 256 * MiB, "mmio"),
)

EL3_DRAM_SIZE = 3 * MiB
REALM_SIZE = 32 * MiB
SECURE_SIZE = 28 * MiB


@dataclass(frozen=True)
class PlatformLayout:
    """A machine's physical layout: its memory map, the PAS regions the monitor gives the GPT at
    boot (TF-A's ``pas_region_t`` list), and the Root area ``(base, size)`` that holds the GPT."""

    memory_map: tuple
    pas_regions: tuple
    gpt_area: tuple


@dataclass
class WhatIf:
    """Deliberate departures from correct firmware, for experiments. All off by default.

    ``skip_gpt_tlbi``: the monitor "forgets" its TLBI RPALOS/PAALLOS after changing the GPT,
    so cached GPT information goes stale and the old GPI keeps being used.
    ``skip_tlbi``: TLB invalidations by VA/IPA/ASID/VMID are skipped, so stale translations stay.
    ``skip_mec_flush``: :meth:`Platform.crypto_erase` changes the key without cleaning and
    invalidating the MECID's cached lines first, so its plaintext outlives the key.
    """

    skip_gpt_tlbi: bool = False
    #: ``pe.tlbi(...)`` is recorded but does nothing, so stale TLB entries survive.
    skip_tlbi: bool = False
    #: ``crypto_erase`` skips the cache maintenance before the key change.
    skip_mec_flush: bool = False


@dataclass(frozen=True)
class AccessResult:
    """What happened to one access issued through :meth:`Platform.access`."""

    state: SecurityState
    el: int
    pa: int
    pas: PAS
    write: bool
    fault: GPCFault | None
    report: object | None
    gpt_entry: str
    data: bytes | None = None
    bus_error: str = ""

    @property
    def ok(self) -> bool:
        return self.fault is None and not self.bus_error

    def explain(self) -> str:
        who = f"{self.state.label} EL{self.el}"
        op = "write to" if self.write else "read of"
        head = f"{who}: {op} PA {self.pa:#x} in the {self.pas.label} PAS"
        if self.fault is not None:
            return f"{head} -> FAULT. {self.fault.explain()} GPT entry: {self.gpt_entry}. {self.report.summary}."
        if self.bus_error:
            return f"{head} passed the GPC, but {self.bus_error}."
        return f"{head} -> allowed. GPT entry: {self.gpt_entry}."


@dataclass(frozen=True)
class GPTStep:
    """One read of a GPT walk, for explanations and pictures."""

    level: int
    table: int  # PA of the table
    index: int
    address: int  # PA of the descriptor
    descriptor: int | None
    text: str


def _fmt_size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def _first_token(rmm, realm, challenge: bytes) -> bytes:
    """The RMM's token provider until the platform's attestation service exists: creating the
    service (``platform.attestation``) installs its own provider in place of this one."""
    return rmm.platform.attestation.token_provider(rmm, realm, challenge)


class Platform:
    """An RME machine: memory map, physical memory, GPT and GPC, and the EL3 monitor.

    Parameters
    ----------
    dram_size : int
        Bytes of DRAM (default 2 GiB). The first 2 GiB sit at 0x8000_0000, the rest at
        0x8_8000_0000 (the Base FVP layout). A multiple of 64 MiB, at least 256 MiB. Memory is
        allocated lazily: only touched pages cost anything.
    pps : int
        Protected physical address size in bits: 32, 36, 40 (default), 42, 44 or 48.
    pgs : int
        Physical granule size in bytes: 4096 (default), 16384 or 65536.
    l0gptsz : int
        Bits of PA covered by one L0 GPT entry: 30 (default, as the FVP), 34, 36 or 39.
    pamax : int
        The implemented physical address size (ID_AA64MMFR0_EL1.PARange), default 48.
    gpc_cache_sets : int
        Entries per size class of the GPC cache (a power of two, default 256).
    layout : PlatformLayout, optional
        A memory map and PAS region list of your own (as a platform port writes them) instead of
        the FVP default; the monitor validates the regions as TF-A does and refuses bad ones.

    Spec: RME system architecture DEN0129; TF-A ``fvp_pas_def.h`` for the layout.
    """

    def __init__(self, dram_size: int = 2 * GiB, pps: int = 40, pgs: int = 4096, l0gptsz: int = 30,
                 pamax: int = 48, gpc_cache_sets: int = 256, layout: PlatformLayout | None = None):
        self._check_parameters(dram_size, pps, pgs, l0gptsz, pamax)
        self.dram_size, self.pps, self.pgs, self.l0gptsz, self.pamax = dram_size, pps, pgs, l0gptsz, pamax
        self.params = dict(dram_size=dram_size, pps=pps, pgs=pgs, l0gptsz=l0gptsz, pamax=pamax,
                           gpc_cache_sets=gpc_cache_sets, layout=layout)
        self.events = EventLog()
        self.whatif = WhatIf()
        if layout is None:
            self.memory_map, self.pas_regions, self.gpt_area = self._layout()
        else:
            if not isinstance(layout, PlatformLayout):
                raise TypeError("layout must be a ccalab.platform.PlatformLayout")
            self.memory_map, self.pas_regions = tuple(layout.memory_map), tuple(layout.pas_regions)
            self.gpt_area = tuple(layout.gpt_area)
        self.memory = PhysicalMemory(self.memory_map)
        self._sysregs = {name: 0 for name in LAYOUTS}
        self._sysregs["ID_AA64MMFR0_EL1"] = ID_AA64MMFR0_EL1.encode(
            PARANGE={v: k for k, v in PPS_BITS.items()}[pamax])
        self._sysregs["SCR_EL3"] = SCR_EL3.encode(NS=1, RW=1)  # TF-A leaves SCR_EL3.GPF = 0
        self._sysregs["GPCCR_EL3"] = GPCCR_EL3.encode(L0GPTSZ=L0GPTSZ_ENCODING[l0gptsz])
        self._cfg = None
        self.ctx = new_context(self.memory.backed_lo, self.memory.backed_hi, pamax, gpc_cache_sets)
        self.gpc_cache = GPCCache(12, 30, gpc_cache_sets, ctx=self.ctx)
        set_gpc_config(self.ctx, self.gpc_config)
        self.n_pes = 4
        self._pes = {}
        self.monitor = Monitor(self)
        self.mec = MemoryEncryptionEngine(self.memory, self.monitor.mec_key_schedule, self._default_context)
        self.monitor.boot(self.pas_regions, self.gpt_area)
        self.rmm = Rmm(self)
        self._attestation = None  # the attestation service (CPAK, RAK, tokens), created on first use
        self.rmm.token_provider = _first_token

    # --- construction ----------------------------------------------------------------------
    @staticmethod
    def _check_parameters(dram_size, pps, pgs, l0gptsz, pamax):
        if not isinstance(dram_size, (int, np.integer)) or isinstance(dram_size, bool):
            raise TypeError(f"dram_size is a number of bytes (an int), got {dram_size!r}")
        if pamax not in PPS_BITS.values() or pamax > 48:
            raise ValueError(f"pamax must be one of 32, 36, 40, 42, 44, 48 bits, got {pamax!r}")
        if pps == 52:
            raise ValueError("pps=52 needs FEAT_LPA2, which this model does not implement; use 32..48")
        if pps not in PPS_ENCODING:
            raise ValueError(f"pps must be one of {sorted(PPS_ENCODING)} bits (GPCCR_EL3.PPS), got {pps!r}")
        if pps > pamax:
            raise ValueError(f"pps={pps} exceeds the implemented PA size pamax={pamax}: the Arm ARM calls "
                             "this GPCCR_EL3 setting inconsistent")
        if pgs not in PGS_ENCODING:
            raise ValueError(f"pgs must be 4096, 16384 or 65536 bytes (GPCCR_EL3.PGS), got {pgs!r}")
        if l0gptsz not in L0GPTSZ_ENCODING:
            raise ValueError(f"l0gptsz must be 30, 34, 36 or 39 bits (GPCCR_EL3.L0GPTSZ), got {l0gptsz!r}")
        if dram_size < 256 * MiB or dram_size % (64 * MiB):
            raise ValueError(f"dram_size must be a multiple of 64 MiB and at least 256 MiB, got {dram_size:#x}")
        top = DRAM0_BASE + min(dram_size, DRAM0_MAX)
        if dram_size > DRAM0_MAX:
            top = DRAM1_BASE + dram_size - DRAM0_MAX
        if top > 1 << pps:
            need = next(b for b in sorted(PPS_ENCODING) if (1 << b) >= top) if top <= 1 << 48 else None
            raise ValueError(f"DRAM ends at {top:#x}, beyond the protected PA size 2^{pps} = {1 << pps:#x}; "
                             f"memory above PPS cannot be protected" + (f" (use pps >= {need})" if need else ""))

    def _layout(self):
        cfg = GPCConfig.from_registers(
            GPCCR_EL3.encode(PPS=PPS_ENCODING[self.pps], PGS=PGS_ENCODING[self.pgs], SH=3, IRGN=1, ORGN=1,
                             L0GPTSZ=L0GPTSZ_ENCODING[self.l0gptsz], GPC=1), 0, self.pamax)
        d0 = min(self.dram_size, DRAM0_MAX)
        d1 = self.dram_size - d0
        banks = [(DRAM0_BASE, d0)] + ([(DRAM1_BASE, d1)] if d1 else [])
        l0_needing = sorted({i for b, n in banks for i in range(b >> cfg.s, ((b + n - 1) >> cfg.s) + 1)})
        l0_space = -(-cfg.l0_table_size // cfg.l1_table_size) * cfg.l1_table_size
        align = max(MiB, cfg.l1_table_size, cfg.l0_table_align)
        gpt_size = -(-(l0_space + len(l0_needing) * cfg.l1_table_size) // align) * align
        top0 = DRAM0_BASE + d0
        gpt_base = top0 - gpt_size
        el3_base = gpt_base - EL3_DRAM_SIZE
        realm_base = el3_base - REALM_SIZE
        secure_base = realm_base - SECURE_SIZE
        if secure_base - DRAM0_BASE < 64 * MiB:
            raise ValueError(f"dram_size {_fmt_size(self.dram_size)} leaves less than 64 MiB of Non-secure DRAM "
                             f"below the carve-outs (the GPT alone needs {_fmt_size(gpt_size)} with these GPC "
                             "parameters); choose more DRAM")
        regions = list(FVP_FIXED_REGIONS)
        regions.append(MemoryRegion("DRAM0", DRAM0_BASE, d0, "dram"))
        if d1:
            regions.append(MemoryRegion("DRAM1", DRAM1_BASE, d1, "dram"))
        pas = [
            PASRegion("Non-secure DRAM0", DRAM0_BASE, secure_base - DRAM0_BASE, GPI.NONSECURE),
            PASRegion("Secure (TZC)", secure_base, SECURE_SIZE, GPI.SECURE),
            PASRegion("Realm (RMM)", realm_base, REALM_SIZE, GPI.REALM),
            PASRegion("EL3 DRAM", el3_base, EL3_DRAM_SIZE, GPI.ROOT),
            PASRegion("GPT", gpt_base, gpt_size, GPI.ROOT),
        ]
        if d1:
            pas.append(PASRegion("Non-secure DRAM1", DRAM1_BASE, d1, GPI.NONSECURE))
        return tuple(regions), tuple(pas), (gpt_base, gpt_size)

    def pe(self, index: int = 0):
        """Processing element ``index`` (created on first use, Non-secure EL1, MMU off)."""
        from .arch.pe import PE

        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_pes:
            raise ValueError(f"this machine has PEs 0..{self.n_pes - 1}, not {index!r}")
        if index not in self._pes:
            self._pes[index] = PE(self, int(index))
        return self._pes[index]

    def tlbi_paallos(self) -> None:
        """``TLBI PAALLOS``: invalidate all cached GPT information (issued by the monitor)."""
        self.monitor.tlbi_paallos()

    def tlbi_rpalos(self, pa: int, size: int) -> None:
        """``TLBI RPALOS``: invalidate cached GPT information for ``[pa, pa + size)``."""
        self.monitor.tlbi_rpalos(self._pa(pa), size)

    def smc(self, fid: int, *args) -> tuple:
        """An SMC from the host (Non-secure EL2) to EL3: ``fid`` in X0, ``args`` in X1, X2, ...

        RMI function IDs are forwarded by the monitor to the RMM; GTSI ones are refused from the
        Non-secure world (``SMC_UNKNOWN``), as are unknown IDs. Returns the result registers
        ``(X0, X1, ...)``. Every value must fit a 64-bit register: a non-int raises TypeError and
        an int outside 0..2**64-1 raises ValueError (a mistake in the calling program).
        """
        fid, args = as_registers(fid, args)
        return self.monitor.ns_smc(fid, args)

    def fresh(self) -> "Platform":
        """A newly booted machine with the same parameters and layout (what a widget's Reset uses).
        It keeps this machine's CPAK; its RAK is the next boot's."""
        q = Platform(**self.params)
        if self._attestation is not None:
            from .firmware.attestation import AttestationService

            state = dict(self._attestation.state(), boot=self._attestation.boot + 1)
            AttestationService.from_state(q, state).install()
        return q

    @property
    def attestation(self):
        """The machine's attestation service (:mod:`ccalab.firmware.attestation`): its CPAK, this
        boot's RAK, and the tokens the RMM returns to realms. Created on first use."""
        if self._attestation is None:
            from .firmware.attestation import install

            install(self)
        return self._attestation

    @attestation.setter
    def attestation(self, service) -> None:
        self._attestation = service

    @property
    def layout(self) -> PlatformLayout:
        return PlatformLayout(self.memory_map, self.pas_regions, self.gpt_area)

    def region(self, name: str) -> PASRegion:
        """The boot-time PAS region called ``name`` (e.g. ``"Realm (RMM)"``)."""
        for r in self.pas_regions:
            if r.name == name:
                return r
        raise KeyError(f"no PAS region {name!r}; regions: {', '.join(r.name for r in self.pas_regions)}")

    def ns_dram(self) -> PASRegion:
        """The first Non-secure DRAM region (where a host finds granules to delegate)."""
        return self.pas_regions[0]

    # --- system registers ------------------------------------------------------------------
    def sysreg(self, name: str) -> int:
        """The value of an EL3 system register, e.g. ``p.sysreg("GPCCR_EL3")``."""
        key = str(name).upper()
        if key not in self._sysregs:
            raise KeyError(f"unknown system register {name!r}; this model has {', '.join(sorted(self._sysregs))}")
        return self._sysregs[key]

    def write_sysreg(self, name: str, value: int, actor: str = "EL3") -> None:
        """Write a system register (fields that are read-only, such as L0GPTSZ, keep their value).

        As on hardware, changing GPCCR_EL3/GPTBR_EL3 does not by itself invalidate cached GPT
        information; in this model a change of granule or L0 size empties the GPC cache, since its
        entries would no longer mean anything.
        """
        key = str(name).upper()
        if key not in self._sysregs:
            raise KeyError(f"unknown system register {name!r}; this model has {', '.join(sorted(self._sysregs))}")
        if key == "ID_AA64MMFR0_EL1":
            raise ValueError("ID_AA64MMFR0_EL1 is read-only")
        value = int(value)
        if value < 0 or value >> 64:
            raise ValueError(f"{key} is a 64-bit register; {value:#x} does not fit")
        if key == "GPCCR_EL3":
            value = GPCCR_EL3.replace(value, L0GPTSZ=L0GPTSZ_ENCODING[self.l0gptsz])
        old = self._sysregs[key]
        self._sysregs[key] = value
        if key in ("GPCCR_EL3", "GPTBR_EL3"):
            old_cfg = self._cfg
            self._cfg = None
            cfg = self.gpc_config
            set_gpc_config(self.ctx, cfg)
            if old_cfg is None or (old_cfg.p, old_cfg.s) != (cfg.p, cfg.s):
                self.gpc_cache.reshape(cfg.p, cfg.s)
        self.events.append("sysreg.write", actor, f"{key}: {old:#x} -> {value:#x}", name=key, old=old, new=value)

    @property
    def gpc_config(self) -> GPCConfig:
        if self._cfg is None:
            self._cfg = GPCConfig.from_registers(self._sysregs["GPCCR_EL3"], self._sysregs["GPTBR_EL3"], self.pamax)
        return self._cfg

    @property
    def granule_size(self) -> int:
        return self.gpc_config.granule_size

    # --- validation helpers ----------------------------------------------------------------
    def _pa(self, pa) -> int:
        if isinstance(pa, bool) or not isinstance(pa, (int, np.integer)):
            raise TypeError(f"a physical address is an int, got {pa!r}")
        pa = int(pa)
        if pa < 0 or pa >> self.pamax:
            raise ValueError(f"PA {pa:#x} is outside the {self.pamax}-bit physical address space of this machine")
        return pa

    def _pa_array(self, pa_array) -> np.ndarray:
        arr = np.asarray(pa_array)
        if arr.dtype == object or arr.dtype.kind not in "iu":
            raise TypeError(f"physical addresses must be integers, got an array of {arr.dtype}")
        arr = np.ascontiguousarray(arr.reshape(-1))
        if arr.size:
            if arr.dtype.kind == "i" and arr.min() < 0:
                raise ValueError("physical addresses cannot be negative")
            if int(arr.max()) >> self.pamax:
                raise ValueError(f"PA {int(arr.max()):#x} is outside the {self.pamax}-bit physical address space")
        return arr.astype(np.int64, copy=False)

    def _pas_array(self, pas) -> np.ndarray:
        if np.ndim(pas) == 0:
            return np.array([int(as_pas(pas))], dtype=np.int64)
        arr = np.asarray(pas)
        if arr.dtype.kind not in "iu" or arr.size == 0 or arr.min() < 0 or arr.max() > 3:
            raise ValueError("a PAS array holds values 0 (Secure), 1 (Non-secure), 2 (Root), 3 (Realm)")
        return np.ascontiguousarray(arr.reshape(-1)).astype(np.int64, copy=False)

    # --- the GPT ---------------------------------------------------------------------------
    def _kernel_args(self):
        return self.memory.words, self.ctx

    def gpt_walk(self, pa: int) -> list:
        """The reads a GPT walk for ``pa`` makes, as :class:`GPTStep` records (no cache)."""
        pa = self._pa(pa)
        cfg = self.gpc_config
        steps = []
        if pa >> cfg.t:
            return steps
        idx0 = cfg.l0_index(pa)
        a0 = cfg.l0_base + 8 * idx0
        d0 = self.memory.read64(a0)
        if d0 is None:
            steps.append(GPTStep(0, cfg.l0_base, idx0, a0, None, "bus error"))
            return steps
        dec0 = decode_l0(d0)
        steps.append(GPTStep(0, cfg.l0_base, idx0, a0, d0, describe(dec0)))
        if dec0.kind == "table" and dec0.valid:
            idx1 = cfg.l1_index(pa)
            a1 = dec0.next_table + 8 * idx1
            d1 = self.memory.read64(a1)
            if d1 is None:
                steps.append(GPTStep(1, dec0.next_table, idx1, a1, None, "bus error"))
            else:
                dec1 = decode_l1(d1)
                text = describe(dec1)
                if dec1.kind == "granules" and dec1.valid:
                    n = cfg.gpi_index(pa)
                    text += f"; this granule is nibble {n}: {GPI(dec1.gpis[n]).label}"
                steps.append(GPTStep(1, dec0.next_table, idx1, a1, d1, text))
        return steps

    def describe_gpt_entry(self, pa: int) -> str:
        steps = self.gpt_walk(pa)
        if not steps:
            return "none (above the protected PA size)"
        s = steps[-1]
        return f"L{s.level}[{s.index}] at {s.address:#x} = {s.descriptor if s.descriptor is None else hex(s.descriptor)} ({s.text})"

    def gpi(self, pa: int):
        """The GPI a GPT walk finds for ``pa`` (read from memory, not from the GPC cache).

        Returns a :class:`GPI`, or None above the protected PA size (no GPT entry covers it).
        A malformed GPT raises :class:`GranuleProtectionFault` with the walk fault.
        """
        from .arch.gpt._reference import gpt_walk

        pa = self._pa(pa)
        cfg = self.gpc_config
        if pa >> cfg.t:
            return None
        if not cfg.consistent:
            raise GranuleProtectionFault(GPCFault.from_code(_gk.FAULT | _gk.GPCSC_WALK, pa, PAS.ROOT,
                                                            detail=cfg.why_inconsistent))
        code, g, _, _ = gpt_walk(pa, cfg, self.memory.read64)
        if code:
            raise GranuleProtectionFault(GPCFault.from_code(code, pa, PAS.ROOT))
        return GPI(g)

    def granule_gpis(self, start: int, end: int, step: int | None = None) -> np.ndarray:
        """GPI of every ``step``-sized granule in ``[start, end)`` (0xFF where none), via the kernel."""
        step = step or self.granule_size
        return self.gpis_of(np.arange(self._pa(start), self._pa(end - 1) + 1, step, dtype=np.int64))

    def gpis_of(self, pa_array) -> np.ndarray:
        """GPI of the granule holding each PA of ``pa_array`` (0xFF where none), via the kernel; an
        inspection: the GPC cache is neither used nor counted."""
        pas = np.ascontiguousarray(pa_array, dtype=np.int64)
        code = np.empty(pas.size, np.uint8)
        gpi = np.empty(pas.size, np.uint8)
        saved = self.gpc_cache.counters.copy()
        was = self.gpc_cache.enabled
        self.gpc_cache.enabled = False  # an inspection, not an access: no cache, no counts
        try:
            _gk.gpc_check_batch(pas, np.array([PAS.ROOT], np.int64), code, gpi, *self._kernel_args())
        finally:
            self.gpc_cache.enabled = was
            self.gpc_cache.counters[:] = saved
        return gpi

    # --- the check -------------------------------------------------------------------------
    def gpc_check(self, pa: int, pas) -> GPCFault | None:
        """Check one access in ``pas`` to ``pa``: None if it passes, else the :class:`GPCFault`.

        The check goes through the GPC cache like any access and is logged when it faults.
        """
        pa = self._pa(pa)
        pas = as_pas(pas)
        code = np.empty(1, np.uint8)
        gpi = np.empty(1, np.uint8)
        _gk.gpc_check_batch(np.array([pa], np.int64), np.array([int(pas)], np.int64), code, gpi,
                            *self._kernel_args())
        if code[0] == 0:
            return None
        cfg = self.gpc_config
        fault = GPCFault.from_code(int(code[0]), pa, pas, int(gpi[0]),
                                   detail=cfg.why_inconsistent if not cfg.consistent else "")
        self.events.append("gpc.fault", "GPC", fault.explain(), pa=pa, pas=int(pas), gpcsc=fault.gpcsc,
                           fault_kind=fault.kind.name, level=fault.level, gpi=fault.gpi)
        return fault

    def gpc_allows(self, pa: int, pas) -> bool:
        """Whether an access in ``pas`` to ``pa`` passes the granule protection check (one scalar
        kernel call through the GPC cache; nothing is logged). For firmware checking a pointer."""
        return _gk.gpc_check_one(int(pa), int(pas), self.memory.words, self.ctx) == 0

    def gpc_check_batch(self, pas, pa_array) -> np.ndarray:
        """Check many accesses in one kernel call: a bool array, True where the access passes.

        ``pas`` is one PAS for all accesses or an array with one PAS per address.
        """
        code, _ = self.gpc_check_codes(pas, pa_array)
        return code == 0

    def gpc_check_codes(self, pas, pa_array):
        """Like :meth:`gpc_check_batch` but returns ``(codes, gpis)``: 0 or 0x80|GPCSC, and the GPI used."""
        pa = self._pa_array(pa_array)
        ps = self._pas_array(pas)
        if ps.size not in (1, pa.size):
            raise ValueError(f"give one PAS or one per address ({pa.size}), not {ps.size}")
        code = np.empty(pa.size, np.uint8)
        gpi = np.empty(pa.size, np.uint8)
        faults = _gk.gpc_check_batch(pa, ps, code, gpi, *self._kernel_args())
        if faults:
            self.events.append("gpc.batch", "GPC", f"batch of {pa.size} checks: {faults} faulted",
                               n=int(pa.size), faults=int(faults))
        return code, gpi

    # --- physical accesses -----------------------------------------------------------------
    def _check_range(self, pa: int, n: int, pas: PAS) -> None:
        """Check every granule ``[pa, pa + n)`` touches (one kernel call); raise on the first fault."""
        g = self.granule_size
        first = pa - pa % g
        addrs = np.arange(first, pa + max(n, 1), g, dtype=np.int64)
        addrs[0] = pa
        if addrs.size == 1:
            fault = self.gpc_check(pa, pas)
        else:
            code = np.empty(addrs.size, np.uint8)
            gpi = np.empty(addrs.size, np.uint8)
            _gk.gpc_check_batch(addrs, np.array([int(pas)], np.int64), code, gpi, *self._kernel_args())
            bad = np.nonzero(code)[0]
            fault = self.gpc_check(int(addrs[bad[0]]), pas) if bad.size else None  # explained and logged
        if fault is not None:
            raise GranuleProtectionFault(fault)

    def _mecid(self, pas: PAS, mecid) -> int:
        from .firmware.monitor import MECID_WIDTH

        if isinstance(mecid, bool) or not isinstance(mecid, (int, np.integer)):
            raise TypeError(f"a MECID is an int, got {mecid!r}")
        if not 0 <= int(mecid) < (1 << MECID_WIDTH):
            raise ValueError(f"a MECID is {MECID_WIDTH} bits wide: 0..{(1 << MECID_WIDTH) - 1}, not {mecid}")
        if mecid and pas != PAS.REALM:
            raise ValueError(f"only Realm PAS accesses carry a MECID; {pas.label} PAS accesses always use "
                             "MECID 0 (each of those PASes has one encryption context)")
        return int(mecid)

    def phys_read(self, pa: int, n: int, pas, mecid: int = 0) -> bytes:
        """Read ``n`` bytes at ``pa`` as a bus master in ``pas`` (and, for the Realm PAS, ``mecid``):
        granule-protection checked, then through the memory encryption engine.

        Raises :class:`GranuleProtectionFault` if any granule touched refuses the PAS, and
        :class:`ExternalAbort` if the range is not memory. A MECID whose key does not match the
        data's reads noise, without any fault.
        """
        pa = self._pa(pa)
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"a read length is a non-negative int, got {n!r}")
        pas = as_pas(pas)
        mecid = self._mecid(pas, mecid)
        self._check_range(pa, int(n), pas)
        if not self.memory.is_backed(pa, max(int(n), 1)):
            try:
                self.memory.read(pa, int(n))
            except Exception as exc:  # BusError: say which region
                raise ExternalAbort(str(exc)) from None
        return self.mec.read(pa, int(n), context_id(pas, mecid))

    def phys_write(self, pa: int, data, pas, mecid: int = 0) -> None:
        """Write ``data`` at ``pa`` as a bus master in ``pas`` (and ``mecid``), granule-protection
        checked; the engine encrypts it on its way to DRAM."""
        pa = self._pa(pa)
        if isinstance(data, str):
            raise TypeError("phys_write takes bytes, not str (encode it first)")
        data = bytes(data)
        pas = as_pas(pas)
        mecid = self._mecid(pas, mecid)
        self._check_range(pa, len(data), pas)
        if not self.memory.is_backed(pa, max(len(data), 1)):
            try:
                self.memory.write(pa, data)
            except Exception as exc:
                raise ExternalAbort(str(exc)) from None
        self.mec.write(pa, data, context_id(pas, mecid))

    def dram_read(self, pa: int, n: int) -> bytes:
        """What a probe on the DRAM bus reads at ``pa``: ciphertext. No GPC, no key, no PAS: a
        physical attacker is not a bus master the architecture checks."""
        pa = self._pa(pa)
        if not isinstance(n, (int, np.integer)) or n < 0 or not self.memory.is_backed(pa, max(int(n), 1)):
            raise ValueError(f"[{pa:#x}, +{n}) is not DRAM")
        return self.mec.dram_read(pa, int(n))

    def dram_write(self, pa: int, data) -> None:
        """A physical attacker overwrites DRAM at ``pa`` (e.g. flips a bit). Nothing detects it."""
        pa = self._pa(pa)
        data = bytes(data)
        if not self.memory.is_backed(pa, max(len(data), 1)):
            raise ValueError(f"[{pa:#x}, +{len(data)}) is not DRAM")
        self.mec.dram_write(pa, data)
        self.events.append("dram.write", "attacker", f"DRAM written directly at {pa:#x} (+{len(data)})", pa=pa,
                           n=len(data))

    def crypto_erase(self, mecid: int) -> int:
        """Retire Realm MECID ``mecid``'s data the way software must: clean and invalidate its cached
        lines to the point of encryption (``DC CIPAE``), then ``RMM_MEC_REFRESH``. With
        ``whatif.skip_mec_flush`` the first step is skipped. Returns the monitor's status."""
        ctx = context_id(PAS.REALM, self._mecid(PAS.REALM, mecid))
        if self.whatif.skip_mec_flush:
            self.events.append("whatif", "RMM", f"DC CIPAE over MECID {mecid}'s granules SKIPPED (what-if)",
                               mecid=int(mecid))
        else:
            n = self.mec.flush_context(ctx)
            self.events.append("dc.cipae", "RMM", f"DC CIPAE over {n} granules of Realm MECID {mecid}",
                               mecid=int(mecid), granules=n)
        return self.monitor.mec_refresh(int(mecid), 1)

    def _default_context(self, granule: int) -> int:
        """The context of data written directly into memory and not yet used through the engine:
        the PAS its GPI names (Non-secure for All access / No access / no GPT entry), MECID 0."""
        try:
            g = self.gpi(granule * 4096)
        except Exception:
            g = None
        pas = PAS(int(g) & 3) if g is not None and int(g) in (8, 9, 10, 11) else PAS.NONSECURE
        return context_id(pas, 0)

    def access(self, state, pa: int, *, write: bool = False, pas=None, el: int | None = None,
               data: bytes = b"\0" * 8) -> AccessResult:
        """Issue one 8-byte access from a PE in ``state`` and explain what happens. Never raises
        for a fault: the result carries the fault, the GPT entry and where the fault is taken.

        ``pas`` defaults to the state's own PAS; ``el`` defaults to the EL that owns the world's
        memory (EL2 for Non-secure and Realm, EL1 for Secure, EL3 for Root).
        """
        state = SecurityState(state) if not isinstance(state, str) else SecurityState[as_pas(state).name]
        pas = state.own_pas if pas is None else as_pas(pas)
        if not state.may_access(pas):
            raise ValueError(f"a {state.label} PE cannot issue a {pas.label} PAS access at all: only "
                             f"{', '.join(sorted(p.label for p in PAS if state.may_access(p)))} can be named "
                             "from that state (RME: the security state limits the PASes it can name)")
        pa = self._pa(pa)
        el = {SecurityState.NONSECURE: 2, SecurityState.REALM: 2, SecurityState.SECURE: 1,
              SecurityState.ROOT: 3}[state] if el is None else el
        if state == SecurityState.ROOT and el != 3 or state != SecurityState.ROOT and el == 3:
            raise ValueError("only the Root state runs at EL3, and Root runs only at EL3")
        entry = self.describe_gpt_entry(pa) if not (pa >> self.gpc_config.t) else "none (above the PPS)"
        fault = self.gpc_check(pa, pas)
        if fault is not None:
            rep = report(fault, el, write=write,
                         scr_gpf=bool(SCR_EL3.field("GPF").get(self._sysregs["SCR_EL3"])))
            self._sysregs["MFAR_EL3"] = fault.mfar if rep.target_el == 3 else self._sysregs["MFAR_EL3"]
            return AccessResult(state, el, pa, pas, write, fault, rep, entry)
        if not self.memory.is_backed(pa, 8):
            try:
                self.memory.read(pa, 8)
            except Exception as exc:
                return AccessResult(state, el, pa, pas, write, None, None, entry, bus_error=str(exc))
        ctx = context_id(pas, 0)
        if write:
            self.mec.write(pa, data, ctx)
            got = None
        else:
            got = self.mec.read(pa, 8, ctx)
        return AccessResult(state, el, pa, pas, write, None, None, entry, data=got)

    # --- pictures (matplotlib / text, imported lazily) -------------------------------------
    def draw_granule_map(self, *args, **kwargs):
        """Draw the granule map of physical memory (see :func:`ccalab.viz.gpt.draw_granule_map`)."""
        from .viz.gpt import draw_granule_map

        return draw_granule_map(self, *args, **kwargs)

    def granule_map_text(self, *args, **kwargs) -> str:
        """A text rendering of the granule map (see :func:`ccalab.viz.gpt.granule_map_text`)."""
        from .viz.gpt import granule_map_text

        return granule_map_text(self, *args, **kwargs)

    def gpt_text(self, *args, **kwargs) -> str:
        """A text view of the GPT structure (see :func:`ccalab.viz.gpt.gpt_structure_text`)."""
        from .viz.gpt import gpt_structure_text

        return gpt_structure_text(self, *args, **kwargs)

    def __repr__(self) -> str:
        cfg = self.gpc_config
        return (f"Platform(dram_size={_fmt_size(self.dram_size)}, pps={cfg.t}, pgs={cfg.granule_size}, "
                f"l0gptsz={cfg.s}, GPC {'on' if cfg.enabled else 'off'})")
