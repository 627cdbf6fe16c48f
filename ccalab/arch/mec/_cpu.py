"""Which AES instructions numba may emit on this machine.

LLVM aborts the whole process (not a Python exception) when asked to compile an instruction the
target CPU lacks, so the AES-NI kernels are compiled only after :func:`has_aesni` said yes. The
answer is about the *target numba compiles for*: the host CPU, unless ``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` pin another one (for portable caches), in which case those features count.
"""

from __future__ import annotations

import functools

from ..._jit import JIT_DISABLED


@functools.lru_cache(maxsize=None)
def _probe() -> frozenset[str]:
    import numba

    if numba.config.CPU_NAME and numba.config.CPU_NAME != "host":
        feats = numba.config.CPU_FEATURES or ""
        return frozenset(f[1:] for f in feats.split(",") if f.startswith("+"))
    try:
        import llvmlite.binding as llvm

        fm = llvm.get_host_cpu_features()
        found = {name for name, on in fm.items() if on}
    except Exception:  # pragma: no cover - llvmlite cannot tell: trust nothing
        return frozenset()
    try:  # The kernel must also agree (a hypervisor may hide a feature LLVM's CPUID saw).
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    if "aes" not in flags:
                        found.discard("aes")
                    if "vaes" not in flags:
                        found.discard("vaes")
                    break
    except OSError:
        pass
    return frozenset(found)


def host_features() -> frozenset[str]:
    """The CPU features of numba's compilation target (LLVM names: ``aes``, ``vaes``, ...)."""
    return _probe()


def has_aesni() -> bool:
    """True when ``AESENC``/``AESDEC`` (and ``AESIMC``) can be compiled and run here. Always
    False with ``NUMBA_DISABLE_JIT=1``: the instructions exist only in compiled kernels."""
    return not JIT_DISABLED and "aes" in host_features()


def has_vaes512() -> bool:
    """True when the 512-bit ``VAESENC`` form can be compiled and run here."""
    f = host_features()
    return not JIT_DISABLED and {"aes", "vaes", "avx512f", "avx512bw"} <= f
