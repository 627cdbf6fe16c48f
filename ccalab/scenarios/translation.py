"""A guest with stage-1 and stage-2 translation tables, as a hypervisor (or the RMM) sets one up.

Introduced in ``notebooks/02-address-translation.ipynb``. The defaults give the digest's worst
case: a 4-level stage 1 (48-bit VAs) under a 4-level stage 2 (48-bit IPAs), whose cold walk makes
24 descriptor reads. With ``realm=True`` the PE is in Realm state and every table and data granule
is delegated first, as the RMM's RTTs and a realm's memory are.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.mmu.descriptors import TableBuilder, s1_leaf, s2_leaf
from ..arch.pas import SecurityState
from ..arch.sysreg import HCR_EL2, SCTLR_EL1, TCR_EL1, VTCR_EL2

MB = 1 << 20
GUEST_VA = 0x0000_0040_0000_0000  # needs all four stage-1 levels
GUEST_IPA = 0x10_0000_0000  # 64 GB: stage 2 walks four levels too


@dataclass
class GuestSetup:
    platform: object
    pe: object
    s1: TableBuilder
    s2: TableBuilder
    data: int  # PA of the first data page
    va: int = GUEST_VA
    ipa: int = GUEST_IPA


def two_stage_guest(realm: bool = False, pages: int = 16, s2_level: int = 0, s2_ia: int = 48, platform=None,
                    pe_index: int = 0, vmid: int = 3, asid: int = 7) -> GuestSetup:
    """Build a guest on ``platform`` (a new 512 MiB machine by default) and configure PE ``pe_index``.

    ``pages`` 4KB data pages are mapped at ``GUEST_VA`` -> ``GUEST_IPA`` -> ``data``; the stage-1
    tables are mapped at stage 2 with IPA == PA, as 4KB pages.
    """
    if platform is None:
        from ..platform import Platform

        platform = Platform(dram_size=512 << 20)
    p = platform
    pe = p.pe(pe_index)
    ns = p.ns_dram().base
    s1_pool, s2_pool, data = ns + 64 * MB, ns + 96 * MB, ns + 128 * MB
    if realm:
        pe.security_state = SecurityState.REALM
        for base, size in ((s1_pool, 64 * 4096), (s2_pool, 64 * 4096), (data, pages * 4096)):
            for g in range(base, base + size, 4096):
                if p.monitor.gtsi_delegate(g) != 0:
                    raise RuntimeError(f"could not delegate {g:#x}")
    roots = 1 << max(s2_ia - (9 * (3 - s2_level) + 21), 0)
    s2 = TableBuilder(p.memory, (s2_pool, 64 * 4096), root_level=s2_level, root_tables=roots, ia_bits=s2_ia)
    s1 = TableBuilder(p.memory, (s1_pool, 64 * 4096), root_level=0, ia_bits=48)
    for g in range(0, 64 * 4096, 4096):
        s2.map(s1_pool + g, s2_leaf(s1_pool + g, 3), 3)
    for i in range(pages):
        s2.map(GUEST_IPA + i * 4096, s2_leaf(data + i * 4096, 3), 3)
        s1.map(GUEST_VA + i * 4096, s1_leaf(GUEST_IPA + i * 4096, 3, ap=1, ng=True), 3)
    pe.set_sysreg("TCR_EL1", TCR_EL1.encode(T0SZ=16, TG1=2, IPS=5, EPD1=1))
    pe.set_sysreg("TTBR0_EL1", s1.root | (asid << 48))
    pe.set_sysreg("SCTLR_EL1", SCTLR_EL1.encode(M=1))
    pe.set_sysreg("VTCR_EL2", VTCR_EL2.encode(T0SZ=64 - s2_ia, SL0={0: 2, 1: 1, 2: 0, 3: 3}[s2_level], PS=5))
    pe.set_sysreg("VTTBR_EL2", s2.root | (vmid << 48))
    pe.set_sysreg("HCR_EL2", HCR_EL2.encode(VM=1))
    return GuestSetup(p, pe, s1, s2, data)
