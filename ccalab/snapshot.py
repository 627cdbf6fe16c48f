"""Platform snapshots: a whole machine in one file, and back.

:func:`save` writes a :class:`~ccalab.platform.Platform` to one compressed NumPy ``.npz`` file (a
zip): the construction parameters and PAS layout, every system register, the GPC cache (tags,
GPIs, entry sizes, counters), the what-if switches, the monitor's GPT bookkeeping, the RMM's granule
tracker (the granules whose state or refcount is not zero), the attestation service's seed and
boot counter (so the CPAK and RAK come back), the event log, and the physical
memory pages that hold anything but zeros. :func:`load` rebuilds the machine
exactly: the same GPI for every granule, the same memory contents, events and cached GPT entries.

Only touched memory is stored. The pages the operating system has given the sparse mapping are
found with ``mincore`` (a 2 MiB chunk scan with NumPy where that is unavailable), and of those only
pages that are not all zero are kept, so a 2 GiB machine usually saves in well under a second to a
file of a few hundred kilobytes.

A snapshot records the ccalab version that wrote it, and :func:`load` refuses one from another
version (the model behind the bytes may have changed). A damaged file gives a
:class:`SnapshotError` that says so.

The files hold only arrays and JSON: loading one never runs code from it (no pickle).
"""

from __future__ import annotations

import enum
import importlib
import io
import json
from collections import deque
import mmap
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._version import __version__

FORMAT = "ccalab-snapshot"
FORMAT_VERSION = 1
PAGE = 4096  # the unit pages are stored in
_CHUNK = 2 << 20


#: The attributes of each object a snapshot saves or rebuilds. A test compares them with the live
#: objects, so a new piece of platform state cannot be silently left out of snapshots.
COVERED = {
    "Platform": {"_cfg", "_sysregs", "ctx", "dram_size", "events", "gpc_cache", "gpt_area", "l0gptsz", "memory",
                 "memory_map", "monitor", "pamax", "params", "pas_regions", "pgs", "pps", "whatif", "_pes",
                 "n_pes", "mec", "rmm", "_attestation"},
    "PE": {"_p", "index", "_regs", "pctx", "_state", "_el", "_regime"},
    "Monitor": {"_p", "booted", "l0_base", "l1_tables", "_mec_keys", "_mec_schedules"},
    "MemoryEncryptionEngine": {"memory", "_keys", "_default_ctx", "_dram_map", "dram", "_tag_map", "tag",
                               "_dirty_map", "dirty", "members", "counters"},
    "GPCCache": {"counters", "ctx", "enabled", "gpis", "sets", "shifts", "tags"},
    "EventLog": {"_events", "_listeners", "_next", "capacity"},
    "WhatIf": {"skip_gpt_tlbi", "skip_tlbi", "skip_mec_flush"},
    "Rmm": {"platform", "granules", "debug", "realms", "recs", "last_failure", "token_provider", "calls"},
    "GranuleTracker": {"_p", "banks", "_maps", "state_arrays", "refcount_arrays", "bank0_base", "bank0_end"},
    # the seed, envelope, lifecycle and boot counter are saved; the keys and the cached platform
    # tokens are derived again from them
    "AttestationService": {"platform", "seed", "_envelope", "_lifecycle", "boot", "_cpak", "_rak",
                           "_platform_tokens"},
}


class SnapshotError(ValueError):
    """A file is not a readable ccalab snapshot (damaged, truncated, or not a snapshot at all)."""


class SnapshotVersionError(SnapshotError):
    """A snapshot written by a different ccalab version."""


# --- values in metadata and events: JSON with tags for what JSON cannot say ----------------------
def _enc(v):
    if isinstance(v, enum.Enum):
        cls = type(v)
        return {"__enum__": f"{cls.__module__}:{cls.__qualname__}", "value": _enc(v.value)}
    if isinstance(v, (bool, type(None), str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": bytes(v).hex()}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v) and not any(k.startswith("__") for k in v):
            return {k: _enc(x) for k, x in v.items()}
        return {"__dict__": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if hasattr(v, "__dataclass_fields__"):
        cls = type(v)
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {k: _enc(getattr(v, k)) for k in v.__dataclass_fields__}}
    return {"__repr__": repr(v)}


def _ccalab_class(spec: str):
    mod, _, name = spec.partition(":")
    if not (mod == "ccalab" or mod.startswith("ccalab.")):
        raise SnapshotError(f"the snapshot names a class outside ccalab ({spec!r})")
    obj = importlib.import_module(mod)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "__enum__" in v:
        cls = _ccalab_class(v["__enum__"])
        if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
            raise SnapshotError(f"{v['__enum__']} is not an enumeration")
        return cls(_dec(v["value"]))
    if "__bytes__" in v:
        return bytes.fromhex(v["__bytes__"])
    if "__tuple__" in v:
        return tuple(_dec(x) for x in v["__tuple__"])
    if "__array__" in v:
        return np.array(v["__array__"], dtype=v["dtype"])
    if "__dict__" in v:
        return {_dec(k): _dec(x) for k, x in v["__dict__"]}
    if "__dataclass__" in v:
        cls = _ccalab_class(v["__dataclass__"])
        if not hasattr(cls, "__dataclass_fields__"):
            raise SnapshotError(f"{v['__dataclass__']} is not a dataclass")
        return cls(**{k: _dec(x) for k, x in v["fields"].items()})
    if "__repr__" in v:
        return v["__repr__"]  # not restorable: kept as its text
    return {k: _dec(x) for k, x in v.items()}


# --- touched memory --------------------------------------------------------------------------------
def _resident(memory, lo: int, hi: int):
    """A bool array, one per OS page of ``[lo, hi)``, True where the page is resident; None if unknown."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        npages = (hi - lo) // mmap.PAGESIZE
        vec = (ctypes.c_ubyte * npages)()
        base = ctypes.addressof(ctypes.c_char.from_buffer(memory._map))
        if libc.mincore(ctypes.c_void_p(base + lo), ctypes.c_size_t(hi - lo), vec) != 0:
            return None
        return (np.frombuffer(vec, dtype=np.uint8) & 1).astype(bool)
    except Exception:  # pragma: no cover - no mincore on this OS
        return None


def touched_pages(memory) -> np.ndarray:
    """Physical addresses (sorted, multiples of 4 KiB) of every memory page that is not all zero.

    Scans only the memory regions (DRAM, SRAM). Candidates come from ``mincore`` (pages the OS
    has allocated); without it, from a scan of 2 MiB chunks. Either way each candidate is checked
    for non-zero content, so the result does not depend on how the OS allocated pages.
    """
    osp = mmap.PAGESIZE
    step = max(osp, PAGE)
    out = []
    words = memory.bytes.view(np.uint64)
    for r in memory.regions:
        if not r.is_memory:
            continue
        lo = r.base - r.base % step
        hi = min(-(-r.end // step) * step, len(memory.bytes))
        res = _resident(memory, lo, hi) if osp >= PAGE and lo % osp == 0 else None
        if res is not None:
            per = osp // PAGE
            cand = lo + np.repeat(np.nonzero(res)[0] * osp, per) + np.tile(np.arange(per) * PAGE, res.sum())
        else:
            cand = []
            for c in range(lo, hi, _CHUNK):
                e = min(c + _CHUNK, hi)
                if words[c >> 3:e >> 3].any():
                    cand.append(c + np.arange(0, e - c, PAGE))
            cand = np.concatenate(cand) if cand else np.empty(0, np.int64)
        cand = np.asarray(cand, dtype=np.int64)
        cand = cand[(cand >= r.base - r.base % PAGE) & (cand < r.end)]
        for i in range(0, cand.size, 4096):  # at most 16 MiB of candidate pages at a time
            part = cand[i:i + 4096]
            rows = words[(part[:, None] >> 3) + np.arange(PAGE // 8)[None, :]]
            out.append(part[rows.any(axis=1)])
    return np.unique(np.concatenate(out)) if out else np.empty(0, np.int64)


# --- save / load ---------------------------------------------------------------------------------
def _state(platform) -> dict:
    ev = platform.events
    mon = platform.monitor
    cache = platform.gpc_cache
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "ccalab_version": __version__,
        "params": _enc(platform.params),
        "layout": _enc({"memory_map": platform.memory_map, "pas_regions": platform.pas_regions,
                        "gpt_area": platform.gpt_area}),
        "sysregs": {k: int(v) for k, v in platform._sysregs.items()},
        "whatif": _enc({k: getattr(platform.whatif, k) for k in platform.whatif.__dataclass_fields__}),
        "monitor": _enc({"l0_base": mon.l0_base, "l1_tables": dict(mon.l1_tables), "booted": mon.booted}),
        "gpc_cache": {"sets": int(cache.sets), "enabled": bool(cache.enabled)},
        "mec": {"keys": {str(k): v.hex() for k, v in mon._mec_keys.items()},
                "counters": dict(platform.mec.counters)},
        "rmm": _rmm_meta(platform.rmm),
        "attestation": (None if getattr(platform, "_attestation", None) is None
                        else _enc(platform._attestation.state())),
        "pes": {str(i): {"regs": {k: int(v) for k, v in pe._regs.items()}, "state": int(pe._state), "el": pe._el,
                         "pctx_size": int(pe.pctx.size)} for i, pe in platform._pes.items()},
        "events": {"capacity": ev.capacity, "next": ev.next_seq, "dropped": ev.dropped,
                   "list": [[e.seq, e.kind, e.actor, e.summary, _enc(e.data)] for e in ev]},
    }


def _rmm_meta(rmm) -> dict:
    """The RMM's realms and RECs (the contents of RD and REC granules) as JSON-able values. A REC
    whose guest program is part-way through cannot be saved: a Python generator has no portable
    state, so the snapshot is refused rather than silently restarting the program on load."""
    import dataclasses

    recs = []
    for r in rmm.recs.values():
        vc = r.cpu
        if vc is not None and not vc.halted and not vc.spinning:
            raise SnapshotError(f"REC {r.rec:#x} is part-way through its guest program; save a snapshot before "
                                "its realm runs, or after its program has stopped")
        d = {f.name: getattr(r, f.name) for f in dataclasses.fields(r) if f.name not in ("cpu", "token")}
        d["ripas"] = dataclasses.asdict(r.ripas) if r.ripas is not None else None
        recs.append(_enc(d))
    realms = [_enc({f.name: getattr(m, f.name) for f in dataclasses.fields(m)}) for m in rmm.realms.values()]
    return {"debug": bool(rmm.debug), "realms": realms, "recs": recs, "calls": int(rmm.calls)}


def _load_rmm(rmm, meta: dict) -> None:
    from .firmware.rmm.objects import Realm, Rec, RipasChange

    rmm.realms.clear()
    rmm.recs.clear()
    rmm.calls = int(meta.get("calls", 0))
    for d in meta.get("realms", []):
        d = _dec(d)
        rmm.realms[d["rd"]] = Realm(**d)
    for d in meta.get("recs", []):
        d = _dec(d)
        if d.get("ripas") is not None:
            d["ripas"] = RipasChange(**d["ripas"])
        rmm.recs[d["rec"]] = Rec(**d)


def save(platform, path) -> Path:
    """Write ``platform`` to ``path`` (one ``.npz`` file) and return the path.

    Parameters
    ----------
    platform : Platform
    path : str or Path
        Where to write; NumPy keeps the name as given if it ends in ``.npz`` and adds ``.npz``
        otherwise, so the returned path is the one to pass to :func:`load`.
    """
    from .platform import Platform

    if not isinstance(platform, Platform):
        raise TypeError(f"save() takes a ccalab Platform, got {type(platform).__name__}")
    path = Path(path).expanduser()
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    mem = platform.memory
    pages = touched_pages(mem)
    data = mem.bytes[(pages[:, None] + np.arange(PAGE)[None, :])] if pages.size else np.empty((0, PAGE), np.uint8)
    cache = platform.gpc_cache
    meta = json.dumps(_state(platform)).encode("utf-8")
    ctx = getattr(platform, "ctx", None)
    extra = {"ctx": ctx} if isinstance(ctx, np.ndarray) else {}
    extra.update({f"pctx_{i}": pe.pctx for i, pe in platform._pes.items()})
    extra.update(_granule_arrays(platform.rmm.granules))
    # the memory encryption engine: DRAM (ciphertext) pages, and the granule tags above the PoE
    eng = platform.mec
    dram_pages = touched_pages(_DramView(eng, mem))
    tags = np.nonzero(eng.tag)[0]
    extra.update({
        "dram_addr": dram_pages.astype(np.int64),
        "dram_data": (eng.dram[(dram_pages[:, None] + np.arange(PAGE)[None, :])] if dram_pages.size
                      else np.empty((0, PAGE), np.uint8)),
        "mec_tag_idx": tags.astype(np.int64), "mec_tag_val": eng.tag[tags].astype(np.int32),
        "mec_dirty_idx": np.nonzero(eng.dirty)[0].astype(np.int64),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, meta=np.frombuffer(meta, dtype=np.uint8), page_addr=pages.astype(np.int64),
                            page_data=data.astype(np.uint8, copy=False), cache_tags=cache.tags,
                            cache_gpis=cache.gpis, cache_shifts=cache.shifts, cache_counters=cache.counters, **extra)
    tmp.replace(path)
    return path


def _granule_arrays(tracker) -> dict:
    """The RMM's granule tracker as three arrays: PA, state and refcount of every granule whose
    state or refcount is not zero (the rest are UNDELEGATED with refcount 0)."""
    pas, states, refs = [], [], []
    for (base, _), st, rc in zip(tracker.banks, tracker.state_arrays, tracker.refcount_arrays):
        idx = np.nonzero((st != 0) | (rc != 0))[0]
        pas.append(base + (idx.astype(np.int64) << 12))
        states.append(st[idx])
        refs.append(rc[idx])
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.empty(0, dt))
    return {"rmm_granule_pa": cat(pas, np.int64), "rmm_granule_state": cat(states, np.uint8),
            "rmm_granule_refcount": cat(refs, np.uint32)}


_ARRAYS = ("meta", "page_addr", "page_data", "cache_tags", "cache_gpis", "cache_shifts", "cache_counters")
_OPTIONAL = ("ctx", "dram_addr", "dram_data", "mec_tag_idx", "mec_tag_val", "mec_dirty_idx", "rmm_granule_pa",
             "rmm_granule_state", "rmm_granule_refcount")


class _DramView:
    """DRAM behind the encryption engine, shaped like a PhysicalMemory for :func:`touched_pages`."""

    def __init__(self, engine, memory):
        self.bytes = engine.dram
        self.regions = memory.regions
        self._map = engine._dram_map


def _read(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS if k not in z.files]
            if missing:
                raise SnapshotError(f"{path} is not a ccalab snapshot: it lacks {', '.join(missing)}")
            arrays = {k: z[k] for k in z.files if k in _ARRAYS + _OPTIONAL or k.startswith("pctx_")}
    except SnapshotError:
        raise
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError,
            io.UnsupportedOperation) as exc:
        raise SnapshotError(f"{path} is not a readable ccalab snapshot; the file is damaged or truncated "
                            f"({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"{path} is not a readable ccalab snapshot: its metadata is damaged ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a ccalab snapshot (no '{FORMAT}' marker)")
    arrays["meta"] = meta
    return arrays


def info(path) -> dict:
    """What a snapshot holds, without restoring it: versions, parameters, pages and events."""
    a = _read(Path(path).expanduser())
    m = a["meta"]
    return {"ccalab_version": m.get("ccalab_version"), "format_version": m.get("format_version"),
            "params": _dec(m.get("params")), "pages": int(a["page_addr"].size),
            "events": len(m.get("events", {}).get("list", []))}


def load(path):
    """Rebuild the :class:`~ccalab.platform.Platform` saved at ``path``.

    Raises
    ------
    SnapshotVersionError
        The snapshot was written by another ccalab version (the message names both).
    SnapshotError
        The file is damaged, truncated or not a snapshot.
    FileNotFoundError
        There is no file at ``path``.
    """
    from .arch.memory import PhysicalMemory
    from .events import Event
    from .platform import Platform

    path = Path(path).expanduser()
    a = _read(path)
    meta = a["meta"]
    saved = meta.get("ccalab_version")
    if saved != __version__:
        raise SnapshotVersionError(f"{path} was saved by ccalab {saved}, and this is ccalab {__version__}; "
                                   "a snapshot can only be loaded by the version that wrote it. Rebuild the "
                                   f"machine with this version, or install ccalab {saved} to open it.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(f"{path} uses snapshot format {meta.get('format_version')!r}; this ccalab reads "
                            f"format {FORMAT_VERSION}")
    try:
        params = _dec(meta["params"])
        p = Platform(**params)
        layout = _dec(meta["layout"])
        if (tuple(layout["memory_map"]), tuple(layout["pas_regions"]), tuple(layout["gpt_area"])) != \
                (p.memory_map, p.pas_regions, p.gpt_area):
            raise SnapshotError(f"{path}: the PAS layout rebuilt from its parameters differs from the saved one")
        # physical memory: a fresh (all-zero) mapping, then the saved pages
        p.memory = PhysicalMemory(p.memory_map)
        addr, data = a["page_addr"].astype(np.int64), a["page_data"]
        if data.shape != (addr.size, PAGE) or data.dtype != np.uint8:
            raise SnapshotError(f"{path}: the memory pages are damaged (shape {data.shape})")
        if addr.size:
            if addr.min() < 0 or addr.max() + PAGE > len(p.memory.bytes) or (addr % PAGE).any():
                raise SnapshotError(f"{path}: a saved page lies outside this machine's memory")
            p.memory.bytes[(addr[:, None] + np.arange(PAGE)[None, :])] = data
        # the memory encryption engine: a new one on the new memory, then its DRAM, tags and keys
        from .arch.mec.engine import MemoryEncryptionEngine
        from .arch.mec.xts import xts_key_schedule

        p.mec = MemoryEncryptionEngine(p.memory, p.monitor.mec_key_schedule, p._default_context)
        mk = meta.get("mec", {})
        p.monitor._mec_keys = {int(k): bytes.fromhex(v) for k, v in mk.get("keys", {}).items()}
        p.monitor._mec_schedules = {k: xts_key_schedule(v) for k, v in p.monitor._mec_keys.items()}
        p.mec.counters.update(mk.get("counters", {}))
        if "dram_addr" in a:
            daddr, ddata = a["dram_addr"].astype(np.int64), a["dram_data"]
            if ddata.shape != (daddr.size, PAGE) or (daddr.size and (daddr.min() < 0 or daddr.max() + PAGE >
                                                                       len(p.mec.dram))):
                raise SnapshotError(f"{path}: the DRAM pages are damaged")
            if daddr.size:
                p.mec.dram[(daddr[:, None] + np.arange(PAGE)[None, :])] = ddata
            tidx, tval = a["mec_tag_idx"].astype(np.int64), a["mec_tag_val"].astype(np.int32)
            if tidx.shape != tval.shape or (tidx.size and tidx.max() >= len(p.mec.tag)):
                raise SnapshotError(f"{path}: the encryption engine's tags are damaged")
            for v in np.unique(tval):
                p.mec._set_tags(tidx[tval == v], int(v))
            p.mec.dirty[:] = 0
            p.mec.dirty[a["mec_dirty_idx"].astype(np.int64)] = 1
        # system registers (the GPC configuration is derived from them)
        p._sysregs.clear()
        p._sysregs.update({k: int(v) for k, v in meta["sysregs"].items()})
        p._cfg = None
        # the machine context (GPC configuration, memory regions, the cache), where there is one
        ctx = getattr(p, "ctx", None)
        if isinstance(ctx, np.ndarray) != ("ctx" in a):
            raise SnapshotError(f"{path}: the machine context does not match this platform")
        if "ctx" in a:
            if a["ctx"].shape != ctx.shape or a["ctx"].dtype != ctx.dtype:
                raise SnapshotError(f"{path}: the machine context array is damaged (shape {a['ctx'].shape})")
            ctx[...] = a["ctx"]
        # the GPC cache
        c = p.gpc_cache
        for name, arr in (("tags", a["cache_tags"]), ("gpis", a["cache_gpis"]), ("shifts", a["cache_shifts"]),
                          ("counters", a["cache_counters"])):
            old = getattr(c, name)
            if arr.shape != old.shape or arr.dtype != old.dtype:
                raise SnapshotError(f"{path}: the GPC cache array {name} is damaged")
            old[...] = arr
        c.enabled = bool(meta["gpc_cache"]["enabled"])
        # what-if switches and the monitor's bookkeeping
        for k, v in _dec(meta["whatif"]).items():
            setattr(p.whatif, k, v)
        mon = _dec(meta["monitor"])
        p.monitor.l0_base = mon["l0_base"]
        p.monitor.l1_tables = dict(mon["l1_tables"])
        p.monitor.booted = bool(mon["booted"])
        # processing elements: registers, state, and their TLB / walk cache / counters
        from .arch.pas import SecurityState

        for key, st in meta.get("pes", {}).items():
            pe = p.pe(int(key))
            arr = a.get(f"pctx_{key}")
            if arr is None or arr.shape != pe.pctx.shape or arr.dtype != pe.pctx.dtype:
                raise SnapshotError(f"{path}: the state of PE {key} is missing or damaged")
            pe._regs.update({k: int(v) for k, v in st["regs"].items()})
            pe._state = SecurityState(int(st["state"]))
            pe._el = int(st["el"])
            pe._sync()
            pe.pctx[...] = arr
        # the RMM: its granule tracker (state and refcount per granule) and debug switch
        p.rmm.debug = bool(meta.get("rmm", {}).get("debug", False))
        try:
            _load_rmm(p.rmm, meta.get("rmm", {}))
        except (TypeError, KeyError, ValueError) as exc:
            raise SnapshotError(f"{path}: the RMM's realms and RECs are damaged ({exc})") from None
        if "rmm_granule_pa" in a:
            gpa, gst = a["rmm_granule_pa"].astype(np.int64), a["rmm_granule_state"]
            grc = a["rmm_granule_refcount"]
            if not (gpa.shape == gst.shape == grc.shape) or not all(p.rmm.granules.is_tracked(int(x)) for x in gpa):
                raise SnapshotError(f"{path}: the RMM's granule tracker is damaged")
            for x, st, rc in zip(gpa.tolist(), gst.tolist(), grc.tolist()):
                k, i = p.rmm.granules._locate(x)
                p.rmm.granules.state_arrays[k][i] = st
                p.rmm.granules.refcount_arrays[k][i] = rc
        # the attestation service (its keys follow from the seed and the boot counter)
        if meta.get("attestation") is not None:
            from .firmware.attestation import AttestationService

            AttestationService.from_state(p, _dec(meta["attestation"])).install()
        # the event log
        ev = meta["events"]
        log = p.events
        log.capacity = int(ev["capacity"])
        log._events = deque(((int(s), k, act, summ, tuple(_dec(d).items())) for s, k, act, summ, d in ev["list"]),
                            maxlen=log.capacity)
        log._next = int(ev["next"])
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise SnapshotError(f"{path} is not a readable ccalab snapshot: its contents are inconsistent "
                            f"({type(exc).__name__}: {exc})") from None
    return p


__all__ = ["save", "load", "info", "touched_pages", "SnapshotError", "SnapshotVersionError", "FORMAT", "COVERED"]
