"""The AES-NI / VAES kernels against the portable kernels, bit for bit, on every variant this
CPU can run (128-bit and 512-bit, serial and parallel), including data units whose block count
leaves a remainder for the one-block tail loop."""

import numpy as np
import pytest

from ccalab.arch.mec import _cpu
from ccalab.arch.mec import _kernels as k
from ccalab.arch.mec.xts import xts_key_schedule

pytestmark = pytest.mark.skipif(not _cpu.has_aesni(), reason="no AES-NI here (CPU lacks it, or the JIT is off)")

WIDE = [False, True] if _cpu.has_vaes512() else [False]


@pytest.fixture(scope="module")
def aesni():
    from ccalab.arch.mec import _aesni

    return _aesni


@pytest.mark.parametrize("key_len", [32, 64])
@pytest.mark.parametrize("blocks", [1, 3, 7, 8, 9, 15, 16, 17, 33, 256, 257])
@pytest.mark.parametrize("wide", WIDE)
@pytest.mark.parametrize("parallel", [False, True])
def test_aesni_kernel_equals_portable(aesni, key_len, blocks, wide, parallel):
    rng = np.random.default_rng(blocks * 31 + key_len)
    sched = xts_key_schedule(rng.bytes(key_len))
    n = 19
    src = rng.integers(0, 1 << 32, (n, 4 * blocks), dtype=np.uint32)
    tw = rng.integers(0, 1 << 63, (n, 2)).astype(np.uint64)
    tw[0] = [(1 << 64) - 1, (1 << 64) - 1]
    tw[1] = [0, 0]
    expected = np.empty_like(src)
    k.xts_units(sched, tw, src, expected, False)
    out = np.empty_like(src)
    assert aesni.xts_units(sched, tw, src, out, False, wide=wide, parallel=parallel) == n
    assert np.array_equal(out, expected)
    back = np.empty_like(src)
    aesni.xts_units(sched, tw, out, back, True, wide=wide, parallel=parallel)
    assert np.array_equal(back, src)
    aesni.xts_units(sched, tw, out, out, True, wide=wide, parallel=parallel)  # in place
    assert np.array_equal(out, src)


@pytest.mark.parametrize("key_len", [16, 32])
def test_aesimc_instruction_matches_decryption_schedule(aesni, key_len):
    key = bytes(range(7, 7 + key_len))
    sched = xts_key_schedule(key + bytes(range(100, 100 + key_len)))
    nr = int(sched[k.ENC, k.NR_WORD])
    imc = aesni.aesimc_row(sched[k.ENC])
    for r in range(1, nr):
        assert np.array_equal(imc[4 * r:4 * r + 4], sched[k.DEC, 4 * (nr - r):4 * (nr - r) + 4])


def test_compile_kernels_runs_on_this_cpu(aesni):
    aesni.compile_kernels(parallel=False)


def test_aesni_entry_rejects_layouts_it_cannot_address(aesni):
    sched = xts_key_schedule(bytes(range(32)))
    tw = np.zeros((2, 2), np.uint64)
    buf = np.zeros((2, 8), np.uint32)
    with pytest.raises(ValueError, match="src and dst"):
        aesni.xts_units(sched, tw, np.zeros((2, 16), np.uint32)[:, ::2], buf, False)
    with pytest.raises(ValueError, match="schedule"):
        aesni.xts_units(np.asfortranarray(sched), tw, buf, buf, False)
    with pytest.raises(ValueError, match="tweaks"):
        aesni.xts_units(sched, np.zeros(2, np.uint64), buf, buf, False)
