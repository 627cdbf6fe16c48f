"""Numba options and the kernel cache location, kept in one place.

Every ``@njit`` in ccalab uses :data:`kernel` (a batched entry point, cached on disk) or
:data:`scalar` (a helper that takes and returns scalars only). Globals are frozen into cached kernels, so kernels read no mutable
configuration: everything they need arrives as an argument.
"""

from __future__ import annotations

import os
import tempfile


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".ccalab-write-test")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
        return True
    except OSError:
        return False


def ensure_cache_dir() -> str | None:
    """Make sure numba can write its cache; return the directory in use (None: beside the source).

    numba caches next to the source by default. Where site-packages is read-only (a shared
    JupyterHub image, a system install) ``cache=True`` would fail, so fall back to a per-user
    directory. ``binder/start`` sets ``NUMBA_CACHE_DIR`` explicitly; this is the safety net.
    """
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        return chosen
    here = os.path.dirname(os.path.abspath(__file__))
    if _writable(os.path.join(here, "__pycache__")):
        return None
    for candidate in (
        os.path.join(os.path.expanduser("~"), ".cache", "ccalab", "numba"),
        os.path.join(tempfile.gettempdir(), f"ccalab-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}"),
    ):
        if _writable(candidate):
            os.environ["NUMBA_CACHE_DIR"] = candidate
            try:  # numba may already be imported by the user's session
                import numba.core.config as _cfg

                _cfg.reload_config()
            except Exception:  # pragma: no cover - numba not importable is reported elsewhere
                pass
            return candidate
    return None


ensure_cache_dir()

import numba  # noqa: E402  (after the cache directory is settled)

#: Batched entry points: compiled once, cached on disk, release the GIL.
kernel = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")

#: Batched entry points that split their outer loop across cores with ``prange``. Not cached
#: (numba's cache and parallel kernels do not mix reliably); compiled at warm-up.
parallel_kernel = numba.njit(parallel=True, nogil=True, boundscheck=False, error_model="numpy")

#: Scalar helpers (scalars in, scalars out): LLVM inlines them into the calling kernel, and with
#: no array arguments they carry no reference-count traffic.
scalar = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")

#: True when ``NUMBA_DISABLE_JIT=1`` (the coverage run): kernels are then plain Python.
JIT_DISABLED = bool(int(os.environ.get("NUMBA_DISABLE_JIT", "0") or 0))

#: Helpers of a kernel that take arrays: compiled without NRT reference counting (they never
#: allocate), so a call costs no atomic increments.
nrt_free = numba.njit(_nrt=False, cache=True, nogil=True, boundscheck=False, error_model="numpy")

#: The same, inlined by numba into their caller. Measured: inlining helpers of a walk into another
#: NRT-free function made translation walks about 25% faster; inlining into a kernel that uses NRT
#: was several times slower (every inlined array access gained reference counting), so only
#: NRT-free callers inline them.
nrt_free_inline = numba.njit(_nrt=False, inline="always", cache=True, nogil=True, boundscheck=False,
                             error_model="numpy")
