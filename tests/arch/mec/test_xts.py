"""XTS-AES public API: IEEE 1619 Annex B vectors, bit-exactness with OpenSSL (through
``cryptography``) on every data unit, the batched arrays API, back-end choice and input errors.

Every check runs on each back end this machine has (``portable`` always, ``aesni`` when the CPU
has the AES instructions), so both are compared on the same inputs in one process.
"""

import json
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ccalab.arch.mec as mec
from ccalab.arch.mec import _reference as ref

cryptography = pytest.importorskip("cryptography")
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

VECTORS = json.loads((pathlib.Path(__file__).parent / "data" / "ieee1619_annex_b.json").read_text())["vectors"]
BACKENDS = mec.available_backends()


def openssl_xts(key, data, unit, encrypt=True):
    """One data unit through OpenSSL: cryptography's XTS treats the whole input as one unit."""
    c = Cipher(algorithms.AES(key), modes.XTS(unit.to_bytes(16, "little")))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


@pytest.fixture(params=BACKENDS)
def use_backend(request):
    mec.set_backend(request.param)
    yield request.param
    mec.set_backend(None)


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"vector{v['vector']}")
def test_ieee1619_vector_encrypts_and_decrypts(v, use_backend):
    key = bytes.fromhex(v["key1"] + v["key2"])
    ptx, ctx = bytes.fromhex(v["ptx"]), bytes.fromhex(v["ctx"])
    equal = v["key1"] == v["key2"]
    assert mec.xts_encrypt(key, ptx, v["data_unit"], len(ptx), allow_equal_halves=equal) == ctx
    assert mec.xts_decrypt(key, ctx, v["data_unit"], len(ptx), allow_equal_halves=equal) == ptx


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"vector{v['vector']}")
def test_ieee1619_vector_through_reference_twin(v):
    key = bytes.fromhex(v["key1"] + v["key2"])
    ptx, ctx = bytes.fromhex(v["ptx"]), bytes.fromhex(v["ctx"])
    assert ref.xts_encrypt_unit(key, ptx, v["data_unit"]) == ctx
    assert ref.xts_decrypt_unit(key, ctx, v["data_unit"]) == ptx


@pytest.mark.parametrize("v", [v for v in VECTORS if v["key1"] != v["key2"]],
                         ids=lambda v: f"vector{v['vector']}")
def test_ieee1619_vector_matches_openssl(v):
    """The typed-in vectors themselves are checked against an independent implementation."""
    key = bytes.fromhex(v["key1"] + v["key2"])
    assert openssl_xts(key, bytes.fromhex(v["ptx"]), v["data_unit"]).hex() == v["ctx"]


@settings(max_examples=40, deadline=None)
@given(key_len=st.sampled_from([32, 64]),
       unit_size=st.sampled_from([16, 32, 48, 112, 128, 144, 512, 4096, 4112]),
       n_units=st.integers(1, 4),
       tweak=st.one_of(st.integers(0, 1 << 20), st.integers(0, (1 << 64) + 8),
                       st.integers((1 << 64) - 4, (1 << 64) + 4), st.integers(0, (1 << 128) - 5)),
       seed=st.integers(0, 2**32 - 1))
def test_every_data_unit_is_bit_exact_with_openssl(key_len, unit_size, n_units, tweak, seed):
    rng = np.random.default_rng(seed)
    key = rng.bytes(key_len)
    data = rng.bytes(unit_size * n_units)
    expected = b"".join(openssl_xts(key, data[j * unit_size:(j + 1) * unit_size], tweak + j)
                        for j in range(n_units))
    for name in BACKENDS:
        mec.set_backend(name)
        try:
            assert mec.xts_encrypt(key, data, tweak, unit_size) == expected, name
            assert mec.xts_decrypt(key, expected, tweak, unit_size) == data, name
        finally:
            mec.set_backend(None)


@pytest.mark.parametrize("key_len", [32, 64])
def test_tweak_crossing_two_to_the_64_carries_into_the_high_word(key_len, use_backend):
    key = bytes(range(1, key_len + 1))
    data = bytes(range(256)) * 4
    tweak = (1 << 64) - 2
    got = mec.xts_encrypt(key, data, tweak, 256)
    assert got == b"".join(openssl_xts(key, data[j * 256:(j + 1) * 256], tweak + j) for j in range(4))


@pytest.mark.parametrize("layout", ["2d", "1d"])
@pytest.mark.parametrize("tweak_form", ["n", "n2"])
def test_batched_units_equal_per_unit_calls(layout, tweak_form, use_backend):
    rng = np.random.default_rng(7)
    key = rng.bytes(64)
    sched = mec.xts_key_schedule(key)
    n, size = 9, 4096
    units = rng.integers(0, 256, (n, size), dtype=np.uint8)
    numbers = [int(x) for x in rng.integers(0, 1 << 62, n)]
    if tweak_form == "n":
        tweaks = np.array(numbers, dtype=np.uint64)
    else:
        tweaks = np.array([[t, 0] for t in numbers], dtype=np.uint64)
    src = units if layout == "2d" else units.reshape(-1)
    kw = {} if layout == "2d" else {"data_unit_size": size}
    enc = mec.xts_encrypt_units(sched, src, tweaks, **kw)
    for j in range(n):
        row = enc.reshape(n, size)[j].tobytes()
        assert row == mec.xts_encrypt(key, units[j].tobytes(), numbers[j], size)
    dec = mec.xts_decrypt_units(sched, enc, tweaks, **kw)
    assert np.array_equal(dec.reshape(n, size), units)


def test_batched_units_work_in_place_and_into_out(use_backend):
    rng = np.random.default_rng(8)
    sched = mec.xts_key_schedule(rng.bytes(32))
    units = rng.integers(0, 256, (5, 512), dtype=np.uint8)
    tweaks = np.arange(100, 105, dtype=np.uint64)
    expected = mec.xts_encrypt_units(sched, units, tweaks)
    out = np.empty_like(units)
    assert mec.xts_encrypt_units(sched, units, tweaks, out) is out
    assert np.array_equal(out, expected)
    buf = units.copy()
    mec.xts_encrypt_units(sched, buf, tweaks, buf)
    assert np.array_equal(buf, expected)
    mec.xts_decrypt_units(sched, buf, tweaks, buf)
    assert np.array_equal(buf, units)


def test_batched_units_accept_unaligned_and_strided_buffers(use_backend):
    rng = np.random.default_rng(9)
    sched = mec.xts_key_schedule(rng.bytes(64))
    units = rng.integers(0, 256, (4, 64), dtype=np.uint8)
    tweaks = np.arange(4, dtype=np.uint64)
    expected = mec.xts_encrypt_units(sched, units, tweaks)
    raw = np.zeros(4 * 64 + 1, dtype=np.uint8)
    shifted = raw[1:].reshape(4, 64)          # 1 byte off alignment
    shifted[...] = units
    assert np.array_equal(mec.xts_encrypt_units(sched, shifted, tweaks), expected)
    out = np.zeros(4 * 64 + 1, dtype=np.uint8)[1:].reshape(4, 64)
    mec.xts_encrypt_units(sched, shifted, tweaks, out)
    assert np.array_equal(out, expected)
    wide = np.zeros((4, 128), dtype=np.uint8)
    wide[:, ::2] = units                      # a strided view
    assert np.array_equal(mec.xts_encrypt_units(sched, wide[:, ::2], tweaks), expected)


def test_parallel_kernels_equal_serial(use_backend):
    rng = np.random.default_rng(10)
    sched = mec.xts_key_schedule(rng.bytes(32))
    units = rng.integers(0, 256, (67, 4096), dtype=np.uint8)
    tweaks = rng.integers(0, 1 << 63, (67, 2)).astype(np.uint64)
    serial = mec.xts_encrypt_units(sched, units, tweaks)
    assert np.array_equal(mec.xts_encrypt_units(sched, units, tweaks, parallel=True), serial)
    assert np.array_equal(mec.xts_decrypt_units(sched, serial, tweaks, parallel=True), units)


def test_a_table_of_schedules_indexed_by_mecid_feeds_the_kernels():
    keys = [bytes([m]) * 32 + bytes([m + 100]) * 32 for m in range(4)]
    table = np.stack([mec.xts_key_schedule(k) for k in keys])
    page = np.arange(4096, dtype=np.uint32).view(np.uint8)[:4096].reshape(1, 4096).copy()
    tweak = np.array([0x8000_0000 >> 12], dtype=np.uint64)
    for m, k in enumerate(keys):
        got = mec.xts_encrypt_units(table[m], page, tweak)
        assert got.tobytes() == openssl_xts(k, page.tobytes(), 0x8000_0000 >> 12)


def test_flipping_one_ciphertext_bit_garbles_exactly_one_block(use_backend):
    """spec/mec.md checklist 17: no integrity, and errors stay inside one 16-byte block."""
    key = bytes(range(64))
    plain = bytes(4096)
    cipher = bytearray(mec.xts_encrypt(key, plain, 0x12345))
    cipher[1000] ^= 0x01
    back = mec.xts_decrypt(key, bytes(cipher), 0x12345)
    changed = {i // 16 for i in range(4096) if back[i] != plain[i]}
    assert changed == {1000 // 16}


def test_equal_plaintext_at_different_tweaks_differs(use_backend):
    key = bytes(range(32))
    c = mec.xts_encrypt(key, bytes(8192), 7)
    assert c[:4096] != c[4096:]
    assert len({c[i:i + 16] for i in range(0, 4096, 16)}) == 256


def test_backend_can_be_forced_to_portable_by_environment(monkeypatch):
    monkeypatch.setenv("CCALAB_AES", "portable")
    assert mec.backend() == "portable"
    monkeypatch.setenv("CCALAB_AES", "auto")
    assert mec.backend() == BACKENDS[0]


def test_set_backend_overrides_environment(monkeypatch):
    monkeypatch.setenv("CCALAB_AES", "aesni")
    mec.set_backend("portable")
    try:
        assert mec.backend() == "portable"
    finally:
        mec.set_backend(None)


def test_bad_backend_names_are_rejected(monkeypatch):
    with pytest.raises(ValueError, match="backend"):
        mec.set_backend("openssl")
    monkeypatch.setenv("CCALAB_AES", "fast")
    with pytest.raises(ValueError, match="CCALAB_AES"):
        mec.backend()
    sched = mec.xts_key_schedule(bytes(range(32)))
    with pytest.raises(ValueError, match="backend"):
        mec.xts_encrypt_units(sched, np.zeros((1, 16), np.uint8), np.zeros(1, np.uint64), backend="gpu")


def test_warmup_compiles_the_active_backend():
    assert mec.warmup() == mec.backend()


KEY = bytes(range(32))


@pytest.mark.parametrize("key, match", [
    (bytes(16), "32 bytes"), (bytes(48), "32 bytes"), (bytes(65), "32 bytes"),
    (bytes(32), "halves"), (b"\x01" * 64, "halves"),
])
def test_bad_keys_are_rejected(key, match):
    with pytest.raises(ValueError, match=match):
        mec.xts_encrypt(key, bytes(4096), 0)


def test_key_must_be_bytes():
    with pytest.raises(TypeError, match="key"):
        mec.xts_encrypt("00" * 32, bytes(4096), 0)


def test_equal_halves_accepted_on_request():
    assert len(mec.xts_encrypt(bytes(32), bytes(32), 0, 32, allow_equal_halves=True)) == 32


@pytest.mark.parametrize("size", [0, 8, 24, 4095, -16, (16 << 20) + 16])
def test_data_unit_size_must_be_a_positive_multiple_of_16(size):
    with pytest.raises(ValueError, match="data_unit_size"):
        mec.xts_encrypt(KEY, bytes(64), 0, size)


def test_data_must_be_whole_data_units():
    with pytest.raises(ValueError, match="multiple of data_unit_size"):
        mec.xts_encrypt(KEY, bytes(4096 + 16), 0)


@pytest.mark.parametrize("tweak, err", [(-1, ValueError), (1 << 128, ValueError), (1.0, TypeError),
                                        ("0", TypeError), (True, TypeError)])
def test_bad_tweaks_are_rejected(tweak, err):
    with pytest.raises(err, match="tweak"):
        mec.xts_decrypt(KEY, bytes(4096), tweak)


def test_tweak_range_must_fit_128_bits():
    top = (1 << 128) - 1
    assert len(mec.xts_encrypt(KEY, bytes(16), top, 16)) == 16
    with pytest.raises(ValueError, match="2\\^128"):
        mec.xts_encrypt(KEY, bytes(32), top, 16)


def test_empty_data_gives_empty_result():
    assert mec.xts_encrypt(KEY, b"", 0) == b""


def test_batched_api_rejects_bad_arrays():
    sched = mec.xts_key_schedule(KEY)
    units = np.zeros((2, 64), np.uint8)
    tw = np.zeros(2, np.uint64)
    with pytest.raises(TypeError, match="schedule"):
        mec.xts_encrypt_units(sched[:2], units, tw)
    bad = sched.copy()
    bad[0, 63] = 12
    with pytest.raises(ValueError, match="round count"):
        mec.xts_encrypt_units(bad, units, tw)
    with pytest.raises(TypeError, match="uint8"):
        mec.xts_encrypt_units(sched, units.astype(np.int16), tw)
    with pytest.raises(ValueError, match="tweaks"):
        mec.xts_encrypt_units(sched, units, np.zeros(3, np.uint64))
    with pytest.raises(ValueError, match="tweaks"):
        mec.xts_encrypt_units(sched, units, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="data_unit_size"):
        mec.xts_encrypt_units(sched, units.reshape(-1), tw)
    with pytest.raises(ValueError, match="multiple"):
        mec.xts_encrypt_units(sched, np.zeros(100, np.uint8), tw, data_unit_size=16)
    with pytest.raises(ValueError, match="out"):
        mec.xts_encrypt_units(sched, units, tw, np.zeros((2, 32), np.uint8))
    with pytest.raises(ValueError, match="data_unit_size"):
        mec.xts_encrypt_units(sched, np.zeros((2, 40), np.uint8), tw)
