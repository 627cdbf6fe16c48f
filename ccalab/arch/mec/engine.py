"""The memory encryption engine: between the point of encryption (PoE) and DRAM.

Spec: Arm RME system architecture (DEN0129) and FEAT_MEC as digested in ``spec/mec.md``: every
PAS has its own encryption context and the Realm PAS one per MECID; data is plaintext above the
PoE (in caches, tagged with the context it was cached under) and ciphertext below it, in DRAM;
a write-back uses the context the line was cached with (RKMNQX); a key change needs the cached
lines of that context cleaned and invalidated to the PoE first, or old plaintext outlives it.

The model:

* ``memory.bytes`` (the platform's physical memory) is the view above the PoE: what caches hold.
  Every kernel (GPT walks, table walks) reads it, as a PE reads through its caches.
* :attr:`dram` holds what DRAM holds: XTS-AES ciphertext, one data unit per 4KB granule, tweak
  = PA >> 12, key = the context's (kept by the EL3 monitor, see ``Monitor.mec_key_schedule``).
* Each granule above the PoE carries a tag: the context its plaintext belongs to, ``INVALID``
  (nothing cached: the next access fills it from DRAM), or ``UNTAGGED`` (never used through the
  engine: zero, or written by firmware directly, and adopted by the first context that uses it).
* An access in context C to a granule tagged with another context writes the granule back under
  its own context if it is dirty, then fills it from DRAM decrypting with C's key: a mis-keyed
  access reads noise, and nothing faults (MEC gives confidentiality, not integrity).
* Stores through the access APIs (``Platform.phys_write``, ``PE.write``) are written through to
  DRAM at once. Writes made directly to the memory image (firmware building tables, a learner
  poking bytes) only mark the granule dirty; it reaches DRAM when it is cleaned or when DRAM is
  looked at (a probe writes back first, as if every dirty line had been evicted).

Simplification: caching is per 4KB granule, not per 64-byte line, and there is one cache level.
"""

from __future__ import annotations

import numpy as np

from ..memory import sparse_zeros
from ..pas import PAS
from .xts import xts_decrypt_units, xts_encrypt_units

GRANULE = 4096
UNTAGGED = 0
INVALID = -1


def context_id(pas, mecid: int = 0) -> int:
    """The encryption context of an access: its PAS and, for the Realm PAS, its MECID."""
    return (int(pas) << 16) | (int(mecid) if int(pas) == PAS.REALM else 0)


def context_name(ctx: int) -> str:
    pas = PAS(ctx >> 16)
    return f"{pas.label} MECID {ctx & 0xFFFF}" if pas == PAS.REALM else f"{pas.label} PAS"


class MemoryEncryptionEngine:
    """The engine of one machine. ``keys(ctx)`` returns the XTS key schedule of context ``ctx``;
    ``default_ctx(granule)`` the context of firmware-written data nobody has used yet."""

    def __init__(self, memory, keys, default_ctx):
        self.memory = memory
        self._keys = keys
        self._default_ctx = default_ctx
        n = len(memory.bytes) // GRANULE
        self._dram_map, self.dram = sparse_zeros(len(memory.bytes))
        self._tag_map, tag_bytes = sparse_zeros(4 * n)
        #: per granule: context id + 1, UNTAGGED (0) or INVALID (-1)
        self.tag = tag_bytes.view(np.int32)
        self._dirty_map, self.dirty = sparse_zeros(n)
        self.members: dict = {}  # context id -> set of granule numbers tagged with it
        self.counters = {"fills": 0, "write_backs": 0, "bytes_encrypted": 0, "bytes_decrypted": 0}
        memory.engine = self

    # --- bookkeeping ---------------------------------------------------------------------------
    def note_write(self, pa: int, n: int) -> None:
        """A write to the memory image: the granules touched are dirty above the PoE (an invalidated
        granule holds the new data now, for whichever context uses it first)."""
        if n > 0:
            lo, hi = pa // GRANULE, (pa + n - 1) // GRANULE + 1
            self.dirty[lo:hi] = 1
            inv = np.nonzero(self.tag[lo:hi] == INVALID)[0]
            for g in inv:
                self._set_tag(lo + int(g), UNTAGGED)

    def _set_tag(self, g: int, value: int) -> None:
        old = int(self.tag[g])
        if old > 0:
            self.members.get(old - 1, set()).discard(g)
        self.tag[g] = value
        if value > 0:
            self.members.setdefault(value - 1, set()).add(g)

    def owner(self, g: int) -> int:
        """The context of granule ``g``'s cached plaintext (the default one when untagged)."""
        t = int(self.tag[g])
        return t - 1 if t > 0 else int(self._default_ctx(g))

    @staticmethod
    def _granules(pa: int, n: int) -> range:
        return range(pa // GRANULE, (pa + max(n, 1) - 1) // GRANULE + 1)

    # --- the two directions through the engine -------------------------------------------------
    def _crypt(self, granules, ctx_of, decrypt: bool) -> None:
        """Encrypt (plaintext view -> DRAM) or decrypt (DRAM -> plaintext view) whole granules,
        one batched cipher call per context."""
        by_ctx: dict = {}
        for g in granules:
            by_ctx.setdefault(ctx_of(g), []).append(g)
        mem = self.memory.bytes
        for ctx, gs in by_ctx.items():
            gs = np.asarray(sorted(gs), dtype=np.int64)
            idx = (gs[:, None] * GRANULE + np.arange(GRANULE)[None, :])
            src = (self.dram if decrypt else mem)[idx]
            out = np.empty_like(src)
            tweaks = gs.astype(np.uint64)
            if decrypt:
                xts_decrypt_units(self._keys(ctx), src, tweaks, out)
                mem[idx] = out
                self.counters["bytes_decrypted"] += out.size
            else:
                xts_encrypt_units(self._keys(ctx), src, tweaks, out)
                self.dram[idx] = out
                self.counters["bytes_encrypted"] += out.size

    def write_back(self, granules) -> int:
        """Write dirty granules to DRAM under the context each is cached with. Returns how many."""
        dirty = [g for g in granules if self.dirty[g]]
        if dirty:
            self._crypt(dirty, self.owner, decrypt=False)
            self.dirty[dirty] = 0
            self.counters["write_backs"] += len(dirty)
        return len(dirty)

    def prepare(self, pa: int, n: int, ctx: int) -> None:
        """Make the plaintext view of ``[pa, pa + n)`` the one context ``ctx`` sees."""
        fill = []
        for g in self._granules(pa, n):
            t = int(self.tag[g])
            if t == ctx + 1:
                continue
            if t == UNTAGGED:
                self._set_tag(g, ctx + 1)  # zero, or firmware's data: its first user adopts it
                continue
            if t > 0:
                self.write_back([g])  # the other context's line leaves the cache under its own key
            fill.append(g)
        if fill:
            self._crypt(fill, lambda g: ctx, decrypt=True)
            for g in fill:
                self._set_tag(g, ctx + 1)
            self.counters["fills"] += len(fill)

    def read(self, pa: int, n: int, ctx: int) -> bytes:
        self.prepare(pa, n, ctx)
        return self.memory.bytes[pa:pa + n].tobytes()

    def write(self, pa: int, data: bytes, ctx: int) -> None:
        """A store in context ``ctx``, written through to DRAM."""
        self.prepare(pa, len(data), ctx)
        self.memory.bytes[pa:pa + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
        gs = list(self._granules(pa, len(data)))
        self.dirty[gs] = 1
        self.write_back(gs)

    # --- maintenance and the attacker's view -----------------------------------------------------
    def clean_invalidate(self, pa: int, size: int = GRANULE) -> int:
        """``DC CIPAE`` / ``DC CIPAPA`` over ``[pa, pa + size)``: write back, then forget the cached
        plaintext, whatever context it belongs to. Returns the granules invalidated."""
        gs = list(self._granules(pa, size))
        self.write_back(gs)
        n = 0
        for g in gs:
            if int(self.tag[g]) != INVALID:
                self._set_tag(g, INVALID)
                self.memory.bytes[g * GRANULE:(g + 1) * GRANULE] = 0  # nothing cached any more
                n += 1
        return n

    def flush_context(self, ctx: int) -> int:
        """Clean and invalidate every granule cached under ``ctx`` (what software does with
        ``DC CIPAE`` over a realm's memory before its key changes). Returns the granules."""
        gs = sorted(self.members.get(ctx, ()))
        for g in gs:
            self.clean_invalidate(g * GRANULE)
        return len(gs)

    def dram_read(self, pa: int, n: int) -> bytes:
        """What a probe on the DRAM bus reads: ciphertext (dirty lines are written back first)."""
        self.write_back(list(self._granules(pa, n)))
        return self.dram[pa:pa + n].tobytes()

    def dram_write(self, pa: int, data: bytes) -> None:
        """A physical attacker writes DRAM directly (no key, no check): e.g. flips a bit."""
        self.write_back(list(self._granules(pa, len(data))))
        self.dram[pa:pa + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
