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

Simplifications: caching is per 4KB granule, not per 64-byte line, and there is one cache level.
Table walks and GPT fetches (the numba kernels) read the view above the PoE directly, whatever its
tag: they see the cached plaintext, and zeros for a granule invalidated to the PoE (real hardware
would refetch it from DRAM and decrypt it under the walk's context).
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
        if 0 < n <= 8 and (pa ^ (pa + n - 1)) < GRANULE:  # one word (a descriptor): one granule
            g = pa // GRANULE
            self.dirty[g] = 1
            if self.tag[g] == INVALID:
                self.tag[g] = UNTAGGED
            return
        if n > 0:
            lo, hi = pa // GRANULE, (pa + n - 1) // GRANULE + 1
            self.dirty[lo:hi] = 1
            inv = np.nonzero(self.tag[lo:hi] == INVALID)[0]
            if inv.size:
                self.tag[lo + inv] = UNTAGGED

    def _set_tags(self, granules, value: int) -> None:
        """Tag ``granules`` (an int array) with ``value``, keeping :attr:`members` in step."""
        granules = np.asarray(granules, dtype=np.int64)
        if granules.size == 0:
            return
        old = self.tag[granules]
        for ctx1 in np.unique(old[old > 0]):
            self.members.get(int(ctx1) - 1, set()).difference_update(granules[old == ctx1].tolist())
        self.tag[granules] = value
        if value > 0:
            self.members.setdefault(value - 1, set()).update(granules.tolist())

    def _set_tag(self, g: int, value: int) -> None:
        self._set_tags(np.array([g], dtype=np.int64), value)

    def owner(self, g: int) -> int:
        """The context of granule ``g``'s cached plaintext (the default one when untagged)."""
        t = int(self.tag[g])
        return t - 1 if t > 0 else int(self._default_ctx(g))

    @staticmethod
    def _span(pa: int, n: int) -> np.ndarray:
        return np.arange(pa // GRANULE, (pa + max(n, 1) - 1) // GRANULE + 1, dtype=np.int64)

    # --- the two directions through the engine -------------------------------------------------
    def _crypt(self, granules: np.ndarray, ctxs: np.ndarray, decrypt: bool) -> None:
        """Encrypt (plaintext view -> DRAM) or decrypt (DRAM -> plaintext view) whole granules: one
        batched cipher call per context and run of consecutive granules, on views (no copies)."""
        mem = self.memory.bytes
        for ctx in np.unique(ctxs):
            gs = np.sort(granules[ctxs == ctx])
            breaks = np.nonzero(np.diff(gs) != 1)[0] + 1
            for run in np.split(gs, breaks):
                lo, hi = int(run[0]) * GRANULE, (int(run[-1]) + 1) * GRANULE
                plain = mem[lo:hi].reshape(-1, GRANULE)
                cipher = self.dram[lo:hi].reshape(-1, GRANULE)
                tweaks = run.astype(np.uint64)
                if decrypt:
                    xts_decrypt_units(self._keys(int(ctx)), cipher, tweaks, plain)
                    self.counters["bytes_decrypted"] += hi - lo
                else:
                    xts_encrypt_units(self._keys(int(ctx)), plain, tweaks, cipher)
                    self.counters["bytes_encrypted"] += hi - lo

    def write_back(self, granules) -> int:
        """Write dirty granules to DRAM under the context each is cached with. Returns how many."""
        granules = np.asarray(granules, dtype=np.int64)
        dirty = granules[self.dirty[granules] != 0] if granules.size else granules
        if dirty.size:
            tags = self.tag[dirty]
            owners = np.where(tags > 0, tags - 1, -1).astype(np.int64)
            for i in np.nonzero(owners < 0)[0]:  # untagged firmware data: the default context
                owners[i] = self._default_ctx(int(dirty[i]))
            self._crypt(dirty, owners, decrypt=False)
            self.dirty[dirty] = 0
            self.counters["write_backs"] += int(dirty.size)
        return int(dirty.size)

    def prepare(self, pa: int, n: int, ctx: int) -> None:
        """Make the plaintext view of ``[pa, pa + n)`` the one context ``ctx`` sees."""
        if n <= GRANULE and (pa ^ (pa + max(n, 1) - 1)) < GRANULE and self.tag[pa // GRANULE] == ctx + 1:
            return  # one granule, already cached in this context: the common case
        gs = self._span(pa, n)
        t = self.tag[gs]
        if (t == ctx + 1).all():
            return
        self._set_tags(gs[t == UNTAGGED], ctx + 1)  # zero, or firmware's data: its first user adopts it
        other = gs[(t != ctx + 1) & (t != UNTAGGED)]
        if other.size:
            self.write_back(other[self.tag[other] > 0])  # other contexts' lines leave under their own keys
            self._crypt(other, np.full(other.size, ctx, dtype=np.int64), decrypt=True)
            self._set_tags(other, ctx + 1)
            self.counters["fills"] += int(other.size)

    def view(self, pa: int, n: int, ctx: int) -> np.ndarray:
        """:meth:`read` without the copy: the plaintext view of ``[pa, pa + n)`` in context ``ctx``,
        valid until the next access to those granules (for firmware copying a page at once)."""
        self.prepare(pa, n, ctx)
        return self.memory.bytes[pa:pa + n]

    def read(self, pa: int, n: int, ctx: int) -> bytes:
        self.prepare(pa, n, ctx)
        return self.memory.bytes[pa:pa + n].tobytes()

    def write(self, pa: int, data: bytes, ctx: int) -> None:
        """A store in context ``ctx``, written through to DRAM."""
        self.prepare(pa, len(data), ctx)
        self.memory.bytes[pa:pa + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
        gs = self._span(pa, len(data))
        self.dirty[gs] = 1
        self.write_back(gs)

    def store_granule(self, pa: int, data, ctx: int) -> None:
        """Firmware stores a whole 4 KB granule in context ``ctx`` (the RMM copying a DATA page in,
        or wiping a granule): no old byte survives, so nothing is fetched first; the plaintext is
        dirty above the PoE and reaches DRAM when cleaned or probed. ``data`` is 4096 bytes (a
        bytes-like object or uint8 array) or None for zeros."""
        g = pa // GRANULE
        t = int(self.tag[g])
        if t != ctx + 1:
            if t > 0:
                self.members.get(t - 1, set()).discard(g)
            self.tag[g] = ctx + 1
            self.members.setdefault(ctx, set()).add(g)
        view = self.memory.bytes[pa:pa + GRANULE]
        if data is None:
            view[:] = 0
        else:
            view[:] = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        self.dirty[g] = 1

    # --- maintenance and the attacker's view -----------------------------------------------------
    def clean_invalidate(self, pa: int, size: int = GRANULE) -> int:
        """``DC CIPAE`` / ``DC CIPAPA`` over ``[pa, pa + size)``: write back, then forget the cached
        plaintext, whatever context it belongs to. Returns the granules invalidated."""
        if size == GRANULE and pa % GRANULE == 0:  # one granule (DC CIPAPA): no arrays needed
            g = pa // GRANULE
            if self.dirty[g]:
                self.write_back(np.array([g], dtype=np.int64))
            t = int(self.tag[g])
            if t == INVALID:
                return 0
            if t > 0:
                self.members.get(t - 1, set()).discard(g)
            self.tag[g] = INVALID
            self.memory.bytes[pa:pa + GRANULE] = 0
            return 1
        gs = self._span(pa, size)
        self.write_back(gs)
        live = gs[self.tag[gs] != INVALID]
        self._set_tags(live, INVALID)
        for run in np.split(live, np.nonzero(np.diff(live) != 1)[0] + 1) if live.size else ():
            self.memory.bytes[int(run[0]) * GRANULE:(int(run[-1]) + 1) * GRANULE] = 0  # nothing cached any more
        return int(live.size)

    def flush_context(self, ctx: int) -> int:
        """Clean and invalidate every granule cached under ``ctx`` (what software does with
        ``DC CIPAE`` over a realm's memory before its key changes). Returns the granules."""
        gs = sorted(self.members.get(ctx, ()))
        for g in gs:
            self.clean_invalidate(g * GRANULE)
        return len(gs)

    def dram_read(self, pa: int, n: int) -> bytes:
        """What a probe on the DRAM bus reads: ciphertext (dirty lines are written back first)."""
        self.write_back(self._span(pa, n))
        return self.dram[pa:pa + n].tobytes()

    def dram_write(self, pa: int, data: bytes) -> None:
        """A physical attacker writes DRAM directly (no key, no check): e.g. flips a bit."""
        self.write_back(self._span(pa, len(data)))
        self.dram[pa:pa + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)
