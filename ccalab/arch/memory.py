"""Physical memory: a sparse, lazily allocated byte array indexed directly by physical address.

One anonymous private mapping with ``MAP_NORESERVE`` spans physical addresses ``0 .. top``;
the operating system gives it pages only when they are touched, so a 64 GiB machine costs only
what its software writes. Only the populated regions (DRAM banks, on-chip SRAM) are memory;
any other address is a bus error for the model (an external abort), which kernels detect from
the small region table (:attr:`PhysicalMemory.backed_lo` / :attr:`backed_hi`).

This layer has no notion of security: it is what a probe on the DRAM bus would see.
Accesses by software go through the granule protection check first (``Platform.phys_read``).
"""

from __future__ import annotations

import mmap
import sys
from dataclasses import dataclass

import numpy as np

# MAP_NORESERVE is not exported by Python's mmap module; 0x4000 on Linux (x86-64 and arm64).
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000 if sys.platform.startswith("linux") else 0)


def sparse_zeros(n_bytes: int):
    """``(mapping, array)``: a zero-filled byte array of ``n_bytes`` that costs only the pages
    written (an anonymous private mapping with ``MAP_NORESERVE``). Keep ``mapping`` alive."""
    size = max((int(n_bytes) + 4095) & ~4095, 4096)
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE,
                  prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return m, np.frombuffer(m, dtype=np.uint8)


@dataclass(frozen=True)
class MemoryRegion:
    """A named range of the physical memory map."""

    name: str
    base: int
    size: int
    kind: str  # "dram", "sram" (both are memory) or "mmio" (device registers, no memory model yet)

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def is_memory(self) -> bool:
        return self.kind in ("dram", "sram")

    def __contains__(self, pa: int) -> bool:
        return self.base <= pa < self.end


class BusError(Exception):
    """An access to a physical address that no memory answers (an external abort)."""


class PhysicalMemory:
    """The memory of one machine: populated regions over one sparse mapping."""

    def __init__(self, regions):
        self.regions = tuple(sorted(regions, key=lambda r: r.base))
        for a, b in zip(self.regions, self.regions[1:]):
            if a.end > b.base:
                raise ValueError(f"memory regions {a.name} and {b.name} overlap")
        mem = [r for r in self.regions if r.is_memory]
        if not mem:
            raise ValueError("a machine needs at least one memory region")
        self.top = max(r.end for r in mem)
        self._map, self.bytes = sparse_zeros(self.top)
        #: every byte, indexed by PA (holes read as zero but are never handed to software). With
        #: memory encryption this is the plaintext view above the point of encryption.
        #: the same bytes as little-endian 64-bit words (descriptors), indexed by PA >> 3
        self.words = self.bytes.view(np.int64)
        self.backed_lo = np.array([r.base for r in mem], dtype=np.int64)
        self.backed_hi = np.array([r.end for r in mem], dtype=np.int64)
        self._backed = tuple((int(r.base), int(r.end)) for r in mem)
        #: told of every write (``engine.note_write(pa, n)``) when a memory encryption engine is attached
        self.engine = None

    # --- queries ---------------------------------------------------------------------------
    def region_at(self, pa: int):
        for r in self.regions:
            if pa in r:
                return r
        return None

    def is_backed(self, pa: int, n: int = 1) -> bool:
        end = pa + n
        for lo, hi in self._backed:
            if lo <= pa and end <= hi:
                return True
        return False

    def _check(self, pa: int, n: int) -> None:
        if n < 0:
            raise ValueError("a length cannot be negative")
        if not self.is_backed(pa, max(n, 1)):
            r = self.region_at(pa)
            where = f"the {r.name} {r.kind.upper()} region" if r else "no memory region"
            raise BusError(f"physical address {pa:#x} (+{n}) is not memory: it falls in {where}")

    # --- raw access (no security checks: the bus itself) ------------------------------------
    def read(self, pa: int, n: int) -> bytes:
        self._check(pa, n)
        return self.bytes[pa:pa + n].tobytes()

    def write(self, pa: int, data) -> None:
        buf = np.frombuffer(bytes(data), dtype=np.uint8)
        self._check(pa, buf.size)
        self.bytes[pa:pa + buf.size] = buf
        if self.engine is not None:
            self.engine.note_write(pa, buf.size)

    def read64(self, pa: int):
        """The 64-bit word at an 8-aligned ``pa``, or None where no memory answers."""
        if pa & 7 or not self.is_backed(pa, 8):
            return None
        return int(self.words[pa >> 3]) & 0xFFFF_FFFF_FFFF_FFFF

    def write64(self, pa: int, value: int) -> None:
        if pa & 7:
            raise ValueError(f"a 64-bit write must be 8-byte aligned, got {pa:#x}")
        self._check(pa, 8)
        self.words[pa >> 3] = np.uint64(int(value) & 0xFFFF_FFFF_FFFF_FFFF).view(np.int64)
        if self.engine is not None:
            self.engine.note_write(pa, 8)

    def fill(self, pa: int, n: int, value: int = 0) -> None:
        self._check(pa, n)
        self.bytes[pa:pa + n] = value
        if self.engine is not None:
            self.engine.note_write(pa, n)

    def resident_bytes(self) -> int:
        """Bytes of the mapping the operating system has actually allocated (Linux; else -1)."""
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pages = (len(self._map) + mmap.PAGESIZE - 1) // mmap.PAGESIZE
            vec = (ctypes.c_ubyte * pages)()
            addr = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
            if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(len(self._map)), vec) != 0:
                return -1
            return int(np.frombuffer(vec, dtype=np.uint8).astype(bool).sum()) * mmap.PAGESIZE
        except Exception:  # pragma: no cover - non-Linux
            return -1
