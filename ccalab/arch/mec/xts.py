"""XTS-AES, the cipher of the model's memory encryption engine: public API and back-end choice.

FEAT_MEC does not fix a cipher (spec/mec.md section 6); the model uses XTS-AES as the industry
engines do, with the data-unit sequence number (for memory: PA >> 12, one unit per 4 KB granule)
as the tweak. Two back ends compute the same bits:

* ``"aesni"`` - the x86 AES instructions (VAES on 512-bit vectors when present), see ``_aesni``;
* ``"portable"`` - T-table AES in plain numba, see ``_kernels``.

The choice is made at run time: ``"aesni"`` only when the CPU reports the ``aes`` feature. Force
the portable one with the environment variable ``CCALAB_AES=portable`` or with
:func:`set_backend`. Both can be used in one process (``backend=`` argument of the batched
functions), which is how the tests compare them.

Keys
----
``key`` is Key1 || Key2: 32 bytes for XTS-AES-128, 64 bytes for XTS-AES-256 (IEEE 1619 5.1).
Equal halves are rejected by default, as OpenSSL and ``cryptography`` do (NIST SP 800-38E and
FIPS 140-3 IG C.I require Key1 != Key2); ``allow_equal_halves=True`` accepts them, which only
IEEE 1619 Annex B vector 1 (all-zero keys) needs.

Tweaks
------
A tweak is the data-unit sequence number, a 128-bit value encoded little-endian (IEEE 1619 5.1),
exactly like the 16-byte tweak of ``cryptography``'s ``modes.XTS``. Whole-buffer functions take
the number of the first unit and add one per unit; the batched functions take one number per
unit as ``uint64[n]`` (numbers below 2^64) or ``uint64[n, 2]`` (low, high words; full 128 bits).

Data units are a multiple of 16 bytes (no ciphertext stealing) and at most 2^20 blocks (16 MiB,
IEEE 1619 5.1).
"""

from __future__ import annotations

import os

import numpy as np

from . import _cpu
from . import _kernels as _k

BACKENDS = ("aesni", "portable")
MAX_DATA_UNIT = 16 << 20
_TWEAK_LIMIT = 1 << 128

_forced: str | None = None


# --- Back-end choice ------------------------------------------------------------------------------


def available_backends() -> tuple[str, ...]:
    """The back ends this machine can run (``"portable"`` always)."""
    return ("aesni", "portable") if _cpu.has_aesni() else ("portable",)


def backend() -> str:
    """The active back end: ``"aesni"`` or ``"portable"``.

    ``set_backend`` wins, then ``CCALAB_AES`` (``portable``, ``aesni`` or ``auto``), then the
    CPU: AES-NI when the ``aes`` feature is present. A request for AES-NI on a CPU without it
    falls back to portable.
    """
    wanted = _forced or os.environ.get("CCALAB_AES", "auto").strip().lower() or "auto"
    if wanted == "portable":
        return "portable"
    if wanted not in ("aesni", "auto"):
        raise ValueError(f"CCALAB_AES must be 'aesni', 'portable' or 'auto', not {wanted!r}")
    return "aesni" if _cpu.has_aesni() else "portable"


def set_backend(name: str | None) -> None:
    """Choose the back end for this process: ``"aesni"``, ``"portable"``, or ``None`` (automatic,
    honouring ``CCALAB_AES``). Asking for ``"aesni"`` on a CPU without it raises RuntimeError."""
    global _forced
    if name is not None and name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, not {name!r}")
    if name == "aesni" and not _cpu.has_aesni():
        raise RuntimeError("this CPU has no AES instructions; only the portable back end can run")
    _forced = name


def _resolve(name: str | None) -> str:
    if name is None:
        return backend()
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, not {name!r}")
    if name == "aesni" and not _cpu.has_aesni():
        raise RuntimeError("this CPU has no AES instructions; only the portable back end can run")
    return name


# --- Key schedules --------------------------------------------------------------------------------


def xts_key_schedule(key, *, allow_equal_halves: bool = False) -> np.ndarray:
    """Expand an XTS key (Key1 || Key2) into the ``uint32[3, 64]`` schedule array the kernels take.

    Parameters
    ----------
    key : bytes-like
        32 bytes (XTS-AES-128) or 64 bytes (XTS-AES-256).
    allow_equal_halves : bool
        Accept Key1 == Key2 (rejected by default, see the module docstring).

    Returns
    -------
    numpy.ndarray
        Rows ENC, DEC (equivalent inverse cipher) and TWK; word 63 of each row holds Nr. See
        ``ccalab.arch.mec._kernels`` for the layout.

    Spec
    ----
    FIPS-197 5.2 KeyExpansion and 5.3.5; IEEE Std 1619-2007 5.1 (key = Key1 || Key2).
    """
    raw = _as_bytes(key, "key")
    if len(raw) not in (32, 64):
        raise ValueError(f"an XTS key is 32 bytes (XTS-AES-128) or 64 bytes (XTS-AES-256), not {len(raw)}")
    half = len(raw) // 2
    if raw[:half] == raw[half:] and not allow_equal_halves:
        raise ValueError("the two halves of the XTS key (Key1 and Key2) are equal; pass "
                         "allow_equal_halves=True to accept that")
    schedule = np.zeros(_k.SCHEDULE_SHAPE, dtype=np.uint32)
    _k.expand_key(np.frombuffer(raw[:half], dtype=np.uint8), schedule[_k.ENC])
    _k.make_decryption_keys(schedule[_k.ENC], schedule[_k.DEC])
    _k.expand_key(np.frombuffer(raw[half:], dtype=np.uint8), schedule[_k.TWK])
    return schedule


def _check_schedule(schedule) -> np.ndarray:
    if not isinstance(schedule, np.ndarray) or schedule.dtype != np.uint32 or schedule.shape != _k.SCHEDULE_SHAPE:
        raise TypeError("schedule must be the uint32[3, 64] array made by xts_key_schedule()")
    if not all(int(n) in (10, 14) for n in schedule[:, _k.NR_WORD]):
        raise ValueError("schedule is not an AES-128/AES-256 key schedule (bad round count)")
    return np.ascontiguousarray(schedule)


# --- Batched arrays API ---------------------------------------------------------------------------


def _run(schedule, units, tweaks, out, data_unit_size, decrypt, backend_name, parallel):
    schedule = _check_schedule(schedule)
    if not isinstance(units, np.ndarray) or units.dtype != np.uint8:
        raise TypeError("units must be a numpy uint8 array")
    if units.ndim == 1:
        if data_unit_size is None:
            raise ValueError("a 1-D units buffer needs data_unit_size")
        _check_unit_size(data_unit_size)
        if units.shape[0] % data_unit_size:
            raise ValueError(f"buffer length {units.shape[0]} is not a multiple of data_unit_size "
                             f"{data_unit_size}")
        shape2 = (units.shape[0] // data_unit_size, data_unit_size)
    elif units.ndim == 2:
        if data_unit_size is not None and data_unit_size != units.shape[1]:
            raise ValueError("data_unit_size does not match the row length of units")
        _check_unit_size(units.shape[1])
        shape2 = units.shape
    else:
        raise ValueError("units must be 1-D (with data_unit_size) or 2-D (one row per data unit)")
    n = shape2[0]
    tw = np.asarray(tweaks)
    if tw.dtype != np.uint64 or tw.ndim not in (1, 2) or tw.shape[0] != n or (tw.ndim == 2 and tw.shape[1] != 2):
        raise ValueError(f"tweaks must be uint64[{n}] or uint64[{n}, 2] (one per data unit)")
    if tw.ndim == 1:
        tw2 = np.zeros((n, 2), dtype=np.uint64)
        tw2[:, 0] = tw
    else:
        tw2 = np.ascontiguousarray(tw)
    if out is None:
        out = np.empty_like(units, order="C")
    elif not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != units.shape:
        raise ValueError("out must be a uint8 array of the same shape as units")
    name = _resolve(backend_name)
    src = _words(units, shape2)
    dst = _words(out, shape2) if _direct(out) else np.empty((n, shape2[1] // 4), dtype=np.uint32)
    if n:
        if name == "aesni":
            from . import _aesni  # lazy: only after the CPU check in _resolve

            _aesni.xts_units(schedule, tw2, src, dst, decrypt, parallel=parallel)
        elif parallel:
            _k.xts_units_par(schedule, tw2, src, dst, decrypt)
        else:
            _k.xts_units(schedule, tw2, src, dst, decrypt)
    if not _direct(out):
        out[...] = dst.view(np.uint8).reshape(out.shape)
    return out


def _direct(a: np.ndarray) -> bool:
    """Can the kernels write into ``a`` through a uint32 view (C-contiguous, 4-byte aligned)?"""
    return a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % 4 == 0


def _words(a: np.ndarray, shape2) -> np.ndarray:
    """A ``uint32[n, size / 4]`` view of ``a`` (copied first if it is not C-contiguous and aligned)."""
    if not (a.flags.c_contiguous and a.ctypes.data % 4 == 0):
        fresh = np.empty(a.shape, dtype=np.uint8)
        fresh[...] = a
        a = fresh
    return a.reshape(shape2).view(np.uint32)


def xts_encrypt_units(schedule, units, tweaks, out=None, *, data_unit_size=None, backend=None,
                      parallel=False):
    """Encrypt ``n`` data units in one kernel call.

    Parameters
    ----------
    schedule : numpy.ndarray
        ``uint32[3, 64]`` from :func:`xts_key_schedule` (e.g. one row of a per-MECID table).
    units : numpy.ndarray
        ``uint8[n, data_unit_size]``, or 1-D ``uint8[n * data_unit_size]`` with
        ``data_unit_size`` given. The size is a positive multiple of 16, at most 16 MiB.
    tweaks : numpy.ndarray
        Data-unit sequence numbers: ``uint64[n]`` or ``uint64[n, 2]`` (low, high).
    out : numpy.ndarray, optional
        Destination of the same shape; may be ``units`` itself (in place). Default: a new array.
    backend : {"aesni", "portable", None}
        None: the active back end (:func:`backend`).
    parallel : bool
        Spread the units over the CPU cores (a prange kernel, compiled on first use).

    Returns
    -------
    numpy.ndarray
        ``out``.

    Spec
    ----
    IEEE Std 1619-2007 5.3.2 (XTS-AES encryption of a data unit, no ciphertext stealing).
    """
    return _run(schedule, units, tweaks, out, data_unit_size, False, backend, parallel)


def xts_decrypt_units(schedule, units, tweaks, out=None, *, data_unit_size=None, backend=None,
                      parallel=False):
    """Decrypt ``n`` data units in one kernel call; arguments as :func:`xts_encrypt_units`.

    Spec
    ----
    IEEE Std 1619-2007 5.4.2.
    """
    return _run(schedule, units, tweaks, out, data_unit_size, True, backend, parallel)


# --- Bytes API ------------------------------------------------------------------------------------


def _as_bytes(value, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes-like, not {type(value).__name__}")


def _check_unit_size(size) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError("data_unit_size must be an int")
    if size <= 0 or size % 16:
        raise ValueError(f"data_unit_size must be a positive multiple of 16 bytes (no ciphertext "
                         f"stealing in this model), not {size}")
    if size > MAX_DATA_UNIT:
        raise ValueError(f"data_unit_size is at most 2^20 blocks (16 MiB) per IEEE 1619, not {size}")


def _bytes_call(key, data, tweak, data_unit_size, decrypt, allow_equal_halves):
    schedule = xts_key_schedule(key, allow_equal_halves=allow_equal_halves)
    raw = _as_bytes(data, "data")
    _check_unit_size(data_unit_size)
    if len(raw) % data_unit_size:
        raise ValueError(f"data length {len(raw)} is not a multiple of data_unit_size {data_unit_size}")
    if isinstance(tweak, bool) or not isinstance(tweak, (int, np.integer)):
        raise TypeError("tweak must be an int (the sequence number of the first data unit)")
    tweak = int(tweak)
    n = len(raw) // data_unit_size
    if tweak < 0:
        raise ValueError("tweak must be non-negative")
    if tweak + max(n - 1, 0) >= _TWEAK_LIMIT:
        raise ValueError("tweak (plus the number of data units) must stay below 2^128")
    seq = np.arange(n, dtype=np.uint64)
    lo0, hi0 = tweak & ((1 << 64) - 1), tweak >> 64
    tw = np.empty((n, 2), dtype=np.uint64)
    tw[:, 0] = seq + np.uint64(lo0)             # wraps modulo 2^64 ...
    tw[:, 1] = np.uint64(hi0)
    tw[:, 1] += (tw[:, 0] < np.uint64(lo0)).astype(np.uint64)   # ... carrying into the high word
    units = np.frombuffer(raw, dtype=np.uint8).copy().reshape(n, data_unit_size)
    _run(schedule, units, tw, units, None, decrypt, None, False)
    return units.tobytes()


def xts_encrypt(key, data, tweak: int, data_unit_size: int = 4096, *,
                allow_equal_halves: bool = False) -> bytes:
    """Encrypt ``data`` (a whole number of data units) with XTS-AES.

    Parameters
    ----------
    key : bytes
        Key1 || Key2, 32 bytes (XTS-AES-128) or 64 bytes (XTS-AES-256).
    data : bytes
        ``k * data_unit_size`` bytes.
    tweak : int
        Sequence number of the first data unit (0 <= tweak, tweak + k - 1 < 2^128); unit ``j``
        uses ``tweak + j``, encoded as 16 little-endian bytes.
    data_unit_size : int
        Bytes per data unit: a positive multiple of 16, at most 16 MiB. Default 4096 (a granule).

    Returns
    -------
    bytes
        The ciphertext; unit ``j`` equals ``cryptography``'s AES ``modes.XTS(tweak_bytes(tweak + j))``
        over that unit.

    Spec
    ----
    IEEE Std 1619-2007 5.3 (XTS-AES-128 / XTS-AES-256 encryption).
    """
    return _bytes_call(key, data, tweak, data_unit_size, False, allow_equal_halves)


def xts_decrypt(key, data, tweak: int, data_unit_size: int = 4096, *,
                allow_equal_halves: bool = False) -> bytes:
    """Decrypt ``data``; arguments as :func:`xts_encrypt`.

    Spec
    ----
    IEEE Std 1619-2007 5.4.
    """
    return _bytes_call(key, data, tweak, data_unit_size, True, allow_equal_halves)


def tweak_bytes(tweak: int) -> bytes:
    """The 16-byte little-endian encoding of a data-unit sequence number (IEEE 1619 5.1)."""
    return int(tweak).to_bytes(16, "little")


# --- Compile at a known moment --------------------------------------------------------------------


def warmup(parallel: bool = False) -> str:
    """Compile (or load from the cache) the kernels of the active back end; returns its name.

    The portable key-schedule kernels are always compiled (both back ends use them). With
    ``parallel=True`` the prange kernels are compiled too (they are not cached, so this costs a
    few seconds).
    """
    name = backend()
    schedule = xts_key_schedule(bytes(range(32)))
    units = np.zeros((1, 32), dtype=np.uint8)
    tw = np.zeros(1, dtype=np.uint64)
    if name == "aesni":
        from . import _aesni

        _aesni.compile_kernels(parallel=parallel)
    for decrypt in (False, True):
        _run(schedule, units, tw, units, None, decrypt, name, False)
        if parallel:
            _run(schedule, units, tw, units, None, decrypt, name, True)
    return name
