"""The CPU feature probe behind the AES-NI guard."""

import numba
import pytest

from ccalab._jit import JIT_DISABLED
from ccalab.arch.mec import _cpu


def test_probe_returns_llvm_feature_names():
    feats = _cpu.host_features()
    assert isinstance(feats, frozenset)
    assert all(not f.startswith(("+", "-")) for f in feats)
    assert _cpu.has_aesni() == ("aes" in feats and not JIT_DISABLED)
    if _cpu.has_vaes512():
        assert _cpu.has_aesni()


def test_without_the_jit_aesni_is_never_offered(monkeypatch):
    monkeypatch.setattr(_cpu, "JIT_DISABLED", True)
    assert not _cpu.has_aesni() and not _cpu.has_vaes512()


@pytest.mark.skipif(JIT_DISABLED, reason="AES-NI needs the JIT")
def test_pinned_target_features_are_used(monkeypatch):
    monkeypatch.setattr(numba.config, "CPU_NAME", "x86-64-v3", raising=False)
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+aes,+avx2,-vaes", raising=False)
    _cpu._probe.cache_clear()
    try:
        assert _cpu.host_features() == frozenset({"aes", "avx2"})
        assert _cpu.has_aesni() and not _cpu.has_vaes512()
    finally:
        monkeypatch.undo()
        _cpu._probe.cache_clear()
