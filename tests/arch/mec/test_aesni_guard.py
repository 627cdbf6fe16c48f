"""The CPU guard: without the ``aes`` feature nothing AES-NI is ever compiled (LLVM would abort
the process), the portable back end is chosen, and the AES-NI entry points refuse to run.

The no-AES machine is simulated by replacing the feature probe. The compile-refusal check runs
in a fresh interpreter so that no AES-NI kernel has been compiled by other tests beforehand."""

import os
import subprocess
import sys

import numpy as np
import pytest

import ccalab.arch.mec as mec
from ccalab._jit import JIT_DISABLED
from ccalab.arch.mec import _cpu


@pytest.fixture
def no_aes_cpu(monkeypatch):
    monkeypatch.setattr(_cpu, "host_features", lambda: frozenset({"sse2", "avx2"}))
    monkeypatch.delenv("CCALAB_AES", raising=False)
    mec.set_backend(None)
    yield
    mec.set_backend(None)


def test_backend_falls_back_to_portable_without_aes(no_aes_cpu, monkeypatch):
    assert not _cpu.has_aesni()
    assert mec.backend() == "portable"
    assert mec.available_backends() == ("portable",)
    monkeypatch.setenv("CCALAB_AES", "aesni")          # a request cannot override the CPU
    assert mec.backend() == "portable"


def test_aesni_cannot_be_selected_without_aes(no_aes_cpu):
    with pytest.raises(RuntimeError, match="no AES"):
        mec.set_backend("aesni")
    sched = mec.xts_key_schedule(bytes(range(32)))
    with pytest.raises(RuntimeError, match="no AES"):
        mec.xts_encrypt_units(sched, np.zeros((1, 16), np.uint8), np.zeros(1, np.uint64), backend="aesni")


def test_public_api_still_works_without_aes(no_aes_cpu):
    key = bytes(range(32))
    data = bytes(range(256)) * 16
    assert mec.xts_decrypt(key, mec.xts_encrypt(key, data, 5), 5) == data
    assert mec.warmup() == "portable"


def test_aesni_entry_points_refuse_without_aes(no_aes_cpu):
    from ccalab.arch.mec import _aesni

    with pytest.raises(RuntimeError, match="no AES"):
        _aesni.require()
    with pytest.raises(RuntimeError, match="no AES"):
        _aesni.compile_kernels()
    buf = np.zeros((1, 4), np.uint32)
    with pytest.raises(RuntimeError, match="no AES"):
        _aesni.xts_units(np.zeros((3, 64), np.uint32), np.zeros((1, 2), np.uint64), buf, buf, False)
    with pytest.raises(RuntimeError, match="no AES"):
        _aesni.aesimc_row(np.zeros(64, np.uint32))


@pytest.mark.skipif(JIT_DISABLED, reason="without the JIT every AES-NI path refuses as 'no AES'")
def test_vaes_path_refuses_without_vaes(monkeypatch):
    monkeypatch.setattr(_cpu, "host_features", lambda: frozenset({"aes", "avx2"}))
    from ccalab.arch.mec import _aesni

    assert _aesni.default_wide() is False
    with pytest.raises(RuntimeError, match="VAES"):
        _aesni.require(wide=True)


GUARD_SCRIPT = r"""
import numpy as np
from ccalab.arch.mec import _cpu
_cpu.host_features = lambda: frozenset({"sse2"})
import ccalab.arch.mec as mec
from ccalab.arch.mec import _aesni
assert mec.backend() == "portable"
try:
    _aesni.compile_kernels()
except RuntimeError as e:
    print("refused:", e)
mec.warmup()
dispatchers = [_aesni._xts_units_x1, _aesni._xts_units_x4, _aesni._xts_units_x1_par,
               _aesni._xts_units_x4_par, _aesni._aesimc_rows]
print("compiled:", sum(len(getattr(d, "signatures", ())) for d in dispatchers))
"""


def test_no_aesni_kernel_is_compiled_when_the_guard_refuses():
    out = subprocess.run([sys.executable, "-c", GUARD_SCRIPT], capture_output=True, text=True,
                         check=True, env=dict(os.environ)).stdout
    assert "refused:" in out and "no AES" in out
    assert "compiled: 0" in out


def test_pinned_numba_target_without_aes_counts_as_no_aes():
    """``NUMBA_CPU_NAME=generic`` (portable caches): numba compiles for a CPU without AES."""
    code = ("from ccalab.arch.mec import _cpu; import ccalab.arch.mec as m; "
            "print(_cpu.has_aesni(), m.backend())")
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CPU_FEATURES="")
    env.pop("CCALAB_AES", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    assert out == ["False", "portable"]
