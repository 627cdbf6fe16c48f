"""The portable numba kernels against their pure-Python twin (``_reference``), piece by piece:
tables, key schedules, single blocks (FIPS-197 Appendix C), and whole XTS data units.
The twin is slow, so the unit comparisons use a few short units."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ccalab.arch.mec import _kernels as k
from ccalab.arch.mec import _reference as ref
from ccalab.arch.mec.xts import xts_key_schedule

# FIPS-197 Appendix C: plaintext 00112233..ff, key 000102..; C.1 AES-128 and C.3 AES-256.
FIPS197 = [
    (bytes(range(16)), "69c4e0d86a7b0430d8cdb78070b4c55a"),
    (bytes(range(32)), "8ea2b7ca516745bfeafc49904b496089"),
]
PLAIN = bytes.fromhex("00112233445566778899aabbccddeeff")


def schedule_row(key: bytes) -> np.ndarray:
    row = np.zeros(k.SCHEDULE_WORDS, dtype=np.uint32)
    assert k.expand_key(np.frombuffer(key, dtype=np.uint8), row) == len(key) // 4 + 6
    return row


def test_sbox_tables_equal_the_field_definition():
    assert list(k.SBOX) == ref.SBOX
    assert list(k.INV_SBOX) == ref.INV_SBOX
    assert ref.SBOX[0x00] == 0x63 and ref.SBOX[0x53] == 0xED  # FIPS-197 Figure 7 / 5.1.1 example


@pytest.mark.parametrize("key, expected", FIPS197, ids=["aes128", "aes256"])
def test_fips197_appendix_c_block_in_kernel_and_twin(key, expected):
    rk = ref.key_expansion(key)
    assert ref.encrypt_block(rk, PLAIN).hex() == expected
    assert ref.decrypt_block(rk, bytes.fromhex(expected)) == PLAIN
    enc = schedule_row(key)
    dec = np.zeros_like(enc)
    k.make_decryption_keys(enc, dec)
    words = np.frombuffer(PLAIN, dtype=np.uint32).copy().reshape(1, 4)
    k.encrypt_blocks(enc, words)
    assert words.tobytes().hex() == expected
    k.decrypt_blocks(dec, words)
    assert words.tobytes() == PLAIN


@settings(max_examples=30, deadline=None)
@given(key=st.one_of(st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32)))
def test_key_schedule_equals_twin(key):
    row = schedule_row(key)
    rk = ref.key_expansion(key)
    nr = len(rk) - 1
    assert row[k.NR_WORD] == nr
    assert row[:4 * (nr + 1)].tobytes() == bytes(sum(rk, []))
    assert not row[4 * (nr + 1):k.NR_WORD].any()
    dec = np.zeros_like(row)
    k.make_decryption_keys(row, dec)
    # Equivalent inverse cipher keys: reversed order, InvMixColumns on the middle rounds.
    expect = [rk[nr]] + [ref.inv_mix_columns(rk[nr - r]) for r in range(1, nr)] + [rk[0]]
    assert dec[:4 * (nr + 1)].tobytes() == bytes(sum(expect, []))


def test_bad_key_length_returns_zero_rounds():
    row = np.zeros(k.SCHEDULE_WORDS, dtype=np.uint32)
    assert k.expand_key(np.zeros(24, dtype=np.uint8), row) == 0


@settings(max_examples=30, deadline=None)
@given(key=st.one_of(st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32)),
       blocks=st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=4))
def test_block_encrypt_and_decrypt_equal_twin(key, blocks):
    enc = schedule_row(key)
    dec = np.zeros_like(enc)
    k.make_decryption_keys(enc, dec)
    rk = ref.key_expansion(key)
    words = np.frombuffer(b"".join(blocks), dtype=np.uint32).copy().reshape(-1, 4)
    k.encrypt_blocks(enc, words)
    assert words.tobytes() == b"".join(ref.encrypt_block(rk, b) for b in blocks)
    k.decrypt_blocks(dec, words)
    assert words.tobytes() == b"".join(blocks)


@settings(max_examples=12, deadline=None)
@given(key_len=st.sampled_from([32, 64]), blocks=st.integers(1, 6), n=st.integers(1, 3),
       tweak=st.integers(0, (1 << 128) - 4), seed=st.integers(0, 2**32 - 1))
def test_xts_kernel_equals_twin_on_a_few_units(key_len, blocks, n, tweak, seed):
    rng = np.random.default_rng(seed)
    key = rng.bytes(key_len)
    if key[:key_len // 2] == key[key_len // 2:]:
        return
    size = 16 * blocks
    data = rng.bytes(n * size)
    sched = xts_key_schedule(key)
    numbers = [tweak + j for j in range(n)]
    tw = np.array([[t & ((1 << 64) - 1), t >> 64] for t in numbers], dtype=np.uint64)
    src = np.frombuffer(data, dtype=np.uint32).copy().reshape(n, size // 4)
    out = np.empty_like(src)
    assert k.xts_units(sched, tw, src, out, False) == n
    assert out.tobytes() == ref.xts_encrypt(key, data, tweak, size)
    back = np.empty_like(src)
    k.xts_units(sched, tw, out, back, True)
    assert back.tobytes() == data
    par = np.empty_like(src)
    k.xts_units_par(sched, tw, src, par, False)
    assert np.array_equal(par, out)


def test_mul_alpha_twin_folds_the_carry():
    top = (1 << 127).to_bytes(16, "little")
    assert ref.mul_alpha(top) == (0x87).to_bytes(16, "little")
    assert ref.mul_alpha((1).to_bytes(16, "little")) == (2).to_bytes(16, "little")
