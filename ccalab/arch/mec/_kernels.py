"""Portable numba kernels for XTS-AES: T-table AES-128/256 and the XTS data-unit loop.

The readable twin is ``_reference.py``; tests hold the two equal, and both equal to OpenSSL.

Layout (shared with the AES-NI path in ``_aesni.py``)
----------------------------------------------------
A data block is four ``uint32`` words read **little-endian** straight from memory, so word ``c``
holds column ``c`` of the AES state with row 0 in its low byte. The T-tables below are built for
that orientation (``TE1`` is ``TE0`` rotated left by 8 bits, and so on), which lets the kernels
work on a ``uint32`` view of the data without any byte swapping.

An XTS key schedule is one ``uint32[3, 64]`` array (:data:`SCHEDULE_SHAPE`):

* row :data:`ENC` - Key1 encryption round keys, FIPS-197 5.2 ``KeyExpansion``;
* row :data:`DEC` - Key1 round keys for the equivalent inverse cipher (FIPS-197 5.3.5): the
  encryption keys in reverse order with ``InvMixColumns`` applied to rounds 1..Nr-1. This is
  exactly the form the x86 ``AESDEC`` instruction expects (what ``AESIMC`` produces);
* row :data:`TWK` - Key2 encryption round keys (the tweak key).

Words ``0 .. 4*(Nr+1)-1`` of a row hold the round keys, each 16-byte round key in memory byte
order; word :data:`NR_WORD` holds Nr (10 or 14). The rest is zero. Both back ends read the same
array, so a memory-encryption engine can keep a ``uint32[n_mecid, 3, 64]`` table of them and hand
one row to a kernel.

Tweaks are the data-unit sequence numbers, as ``uint64[n, 2]`` (low, high 64 bits): 128-bit
values, encoded little-endian as IEEE 1619 5.1 requires.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ..._jit import kernel, parallel_kernel, scalar

ENC, DEC, TWK = 0, 1, 2
SCHEDULE_WORDS = 64
SCHEDULE_SHAPE = (3, SCHEDULE_WORDS)
NR_WORD = SCHEDULE_WORDS - 1

# --- Tables, computed once at import from the field definition (FIPS-197 4.2, 5.1.1) -------------


def _build_tables():
    # Powers of the generator 3 give log/antilog tables for GF(2^8) mod x^8 + x^4 + x^3 + x + 1.
    exp = [0] * 510
    log = [0] * 256
    v = 1
    for i in range(255):
        exp[i] = exp[i + 255] = v
        log[v] = i
        v ^= ((v << 1) ^ (0x11B if v & 0x80 else 0)) & 0xFF  # v * 3 = v * 2 + v

    def mul(a, b):
        return 0 if a == 0 or b == 0 else exp[log[a] + log[b]]
    sbox = [0] * 256
    for x in range(256):
        inv = 0 if x == 0 else exp[255 - log[x]]
        s = inv
        for shift in (1, 2, 3, 4):  # affine map: b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox[x] = s ^ 0x63
    isbox = [0] * 256
    for x in range(256):
        isbox[sbox[x]] = x

    def rotl(w, n):
        return ((w << n) | (w >> (32 - n))) & 0xFFFFFFFF

    te = np.zeros((4, 256), dtype=np.uint32)
    td = np.zeros((4, 256), dtype=np.uint32)
    for x in range(256):
        s, y = sbox[x], isbox[x]
        # Column contribution of a row-0 byte, rows 0..3 from low byte to high byte.
        w_e = mul(s, 2) | (s << 8) | (s << 16) | (mul(s, 3) << 24)
        w_d = mul(y, 14) | (mul(y, 9) << 8) | (mul(y, 13) << 16) | (mul(y, 11) << 24)
        for k in range(4):
            te[k, x] = rotl(w_e, 8 * k)
            td[k, x] = rotl(w_d, 8 * k)
    return (np.array(sbox, dtype=np.uint32), np.array(isbox, dtype=np.uint32), te, td)


SBOX, INV_SBOX, _TE, _TD = _build_tables()
TE0, TE1, TE2, TE3 = (np.ascontiguousarray(_TE[k]) for k in range(4))
TD0, TD1, TD2, TD3 = (np.ascontiguousarray(_TD[k]) for k in range(4))
RCON = np.array([0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36], dtype=np.uint32)
del _TE, _TD

# Unsigned constants keep every table index unsigned: numba then emits no negative-index fix-up.
_FF = np.uint32(0xFF)
_S8 = np.uint32(8)
_S16 = np.uint32(16)
_S24 = np.uint32(24)
_M32 = np.uint64(0xFFFFFFFF)
_U1 = np.uint64(1)
_U32 = np.uint64(32)
_U63 = np.uint64(63)
_GF128 = np.uint64(0x87)

# --- Scalar round helpers (scalars in, scalars out; LLVM inlines them) ---------------------------


@scalar
def enc_round(s0, s1, s2, s3, k0, k1, k2, k3):
    """One full AES round on little-endian columns: SubBytes, ShiftRows, MixColumns, AddRoundKey
    (FIPS-197 5.1.1-5.1.4), as four T-table lookups per column. The XORs are grouped as a tree
    because a round is latency-bound (measured about 5% faster than a left-to-right chain)."""
    t0 = (TE0[s0 & _FF] ^ TE1[(s1 >> _S8) & _FF]) ^ (TE2[(s2 >> _S16) & _FF] ^ TE3[(s3 >> _S24) & _FF]) ^ k0
    t1 = (TE0[s1 & _FF] ^ TE1[(s2 >> _S8) & _FF]) ^ (TE2[(s3 >> _S16) & _FF] ^ TE3[(s0 >> _S24) & _FF]) ^ k1
    t2 = (TE0[s2 & _FF] ^ TE1[(s3 >> _S8) & _FF]) ^ (TE2[(s0 >> _S16) & _FF] ^ TE3[(s1 >> _S24) & _FF]) ^ k2
    t3 = (TE0[s3 & _FF] ^ TE1[(s0 >> _S8) & _FF]) ^ (TE2[(s1 >> _S16) & _FF] ^ TE3[(s2 >> _S24) & _FF]) ^ k3
    return t0, t1, t2, t3


@scalar
def _sub_shift(a, b, c, d):
    return (SBOX[a & _FF] | (SBOX[(b >> _S8) & _FF] << _S8) | (SBOX[(c >> _S16) & _FF] << _S16)
            | (SBOX[(d >> _S24) & _FF] << _S24))


@scalar
def enc_last(s0, s1, s2, s3, k0, k1, k2, k3):
    """The final round: SubBytes, ShiftRows, AddRoundKey (no MixColumns)."""
    return (_sub_shift(s0, s1, s2, s3) ^ k0, _sub_shift(s1, s2, s3, s0) ^ k1,
            _sub_shift(s2, s3, s0, s1) ^ k2, _sub_shift(s3, s0, s1, s2) ^ k3)


@scalar
def dec_round(s0, s1, s2, s3, k0, k1, k2, k3):
    """One round of the equivalent inverse cipher (FIPS-197 5.3.5): InvSubBytes, InvShiftRows,
    InvMixColumns, AddRoundKey with a transformed round key."""
    t0 = (TD0[s0 & _FF] ^ TD1[(s3 >> _S8) & _FF]) ^ (TD2[(s2 >> _S16) & _FF] ^ TD3[(s1 >> _S24) & _FF]) ^ k0
    t1 = (TD0[s1 & _FF] ^ TD1[(s0 >> _S8) & _FF]) ^ (TD2[(s3 >> _S16) & _FF] ^ TD3[(s2 >> _S24) & _FF]) ^ k1
    t2 = (TD0[s2 & _FF] ^ TD1[(s1 >> _S8) & _FF]) ^ (TD2[(s0 >> _S16) & _FF] ^ TD3[(s3 >> _S24) & _FF]) ^ k2
    t3 = (TD0[s3 & _FF] ^ TD1[(s2 >> _S8) & _FF]) ^ (TD2[(s1 >> _S16) & _FF] ^ TD3[(s0 >> _S24) & _FF]) ^ k3
    return t0, t1, t2, t3


@scalar
def _inv_sub_shift(a, b, c, d):
    return (INV_SBOX[a & _FF] | (INV_SBOX[(b >> _S8) & _FF] << _S8)
            | (INV_SBOX[(c >> _S16) & _FF] << _S16) | (INV_SBOX[(d >> _S24) & _FF] << _S24))


@scalar
def dec_last(s0, s1, s2, s3, k0, k1, k2, k3):
    """The final inverse round: InvSubBytes, InvShiftRows, AddRoundKey."""
    return (_inv_sub_shift(s0, s3, s2, s1) ^ k0, _inv_sub_shift(s1, s0, s3, s2) ^ k1,
            _inv_sub_shift(s2, s1, s0, s3) ^ k2, _inv_sub_shift(s3, s2, s1, s0) ^ k3)


@scalar
def inv_mix_word(w):
    """``InvMixColumns`` of one column word (TD undoes the S-box it contains)."""
    return (TD0[SBOX[w & _FF]] ^ TD1[SBOX[(w >> _S8) & _FF]] ^ TD2[SBOX[(w >> _S16) & _FF]]
            ^ TD3[SBOX[(w >> _S24) & _FF]])


@scalar
def sub_word(w):
    """FIPS-197 ``SubWord``."""
    return (SBOX[w & _FF] | (SBOX[(w >> _S8) & _FF] << _S8) | (SBOX[(w >> _S16) & _FF] << _S16)
            | (SBOX[(w >> _S24) & _FF] << _S24))


@scalar
def _mul_alpha(t0, t1, t2, t3):
    """T * alpha in GF(2^128) (IEEE 1619 5.2): a 128-bit little-endian shift left by one, the carry
    folded back as 0x87."""
    lo = np.uint64(t0) | (np.uint64(t1) << _U32)
    hi = np.uint64(t2) | (np.uint64(t3) << _U32)
    carry = hi >> _U63
    hi = (hi << _U1) | (lo >> _U63)
    lo = (lo << _U1) ^ (carry * _GF128)
    return np.uint32(lo & _M32), np.uint32(lo >> _U32), np.uint32(hi & _M32), np.uint32(hi >> _U32)


# --- Key schedule ---------------------------------------------------------------------------------


@kernel
def expand_key(key, out):
    """FIPS-197 5.2 ``KeyExpansion`` of a 16- or 32-byte ``key`` (uint8) into ``out`` (one
    ``uint32[64]`` schedule row, little-endian words). Returns Nr, or 0 for a bad key length."""
    nk = key.shape[0] // 4
    if key.shape[0] != 16 and key.shape[0] != 32:
        return 0
    nr = nk + 6
    for i in range(out.shape[0]):
        out[i] = 0
    for i in range(nk):
        out[i] = (np.uint32(key[4 * i]) | (np.uint32(key[4 * i + 1]) << 8)
                  | (np.uint32(key[4 * i + 2]) << 16) | (np.uint32(key[4 * i + 3]) << 24))
    for i in range(nk, 4 * (nr + 1)):
        temp = out[i - 1]
        if i % nk == 0:
            # RotWord (a byte rotation of the big-endian word = rotate right by 8 here), SubWord, Rcon
            temp = sub_word(np.uint32((temp >> 8) | ((temp & 0xFF) << 24))) ^ RCON[i // nk - 1]
        elif nk > 6 and i % nk == 4:
            temp = sub_word(temp)
        out[i] = out[i - nk] ^ temp
    out[NR_WORD] = nr
    return nr


@kernel
def make_decryption_keys(enc, dec):
    """Equivalent-inverse-cipher round keys (FIPS-197 5.3.5) from an encryption schedule row."""
    nr = enc[NR_WORD]
    for i in range(dec.shape[0]):
        dec[i] = 0
    for c in range(4):
        dec[c] = enc[4 * nr + c]
        dec[4 * nr + c] = enc[c]
    for r in range(1, nr):
        for c in range(4):
            dec[4 * r + c] = inv_mix_word(enc[4 * (nr - r) + c])
    dec[NR_WORD] = nr


# --- Single blocks (the FIPS-197 Appendix C checks in the tests) ---------------------------------


@kernel
def encrypt_blocks(rk, words):
    """AES-encrypt ``words`` (``uint32[n, 4]``, in place) with one schedule row (FIPS-197 5.1)."""
    nr = rk[NR_WORD]
    for b in range(words.shape[0]):
        s0 = words[b, 0] ^ rk[0]
        s1 = words[b, 1] ^ rk[1]
        s2 = words[b, 2] ^ rk[2]
        s3 = words[b, 3] ^ rk[3]
        for r in range(1, nr):
            s0, s1, s2, s3 = enc_round(s0, s1, s2, s3, rk[4 * r], rk[4 * r + 1], rk[4 * r + 2], rk[4 * r + 3])
        s0, s1, s2, s3 = enc_last(s0, s1, s2, s3, rk[4 * nr], rk[4 * nr + 1], rk[4 * nr + 2], rk[4 * nr + 3])
        words[b, 0] = s0
        words[b, 1] = s1
        words[b, 2] = s2
        words[b, 3] = s3


@kernel
def decrypt_blocks(dk, words):
    """AES-decrypt ``words`` in place with a DEC schedule row (FIPS-197 5.3.5)."""
    nr = dk[NR_WORD]
    for b in range(words.shape[0]):
        s0 = words[b, 0] ^ dk[0]
        s1 = words[b, 1] ^ dk[1]
        s2 = words[b, 2] ^ dk[2]
        s3 = words[b, 3] ^ dk[3]
        for r in range(1, nr):
            s0, s1, s2, s3 = dec_round(s0, s1, s2, s3, dk[4 * r], dk[4 * r + 1], dk[4 * r + 2], dk[4 * r + 3])
        s0, s1, s2, s3 = dec_last(s0, s1, s2, s3, dk[4 * nr], dk[4 * nr + 1], dk[4 * nr + 2], dk[4 * nr + 3])
        words[b, 0] = s0
        words[b, 1] = s1
        words[b, 2] = s2
        words[b, 3] = s3


# --- XTS over many data units ---------------------------------------------------------------------


@kernel
def xts_units(schedule, tweaks, src, dst, decrypt):
    """XTS-AES (IEEE 1619-2007 5.3.2 / 5.4.2, no ciphertext stealing) over ``n`` data units.
    Returns ``n``.

    Parameters
    ----------
    schedule : uint32[3, 64]
        The XTS key schedule (rows ENC, DEC, TWK).
    tweaks : uint64[n, 2]
        Data-unit sequence number of each unit (low, high 64 bits).
    src, dst : uint32[n, w]
        The units as little-endian words (``w`` = data-unit size / 4, a multiple of 4). ``dst``
        may be ``src`` (in place).
    decrypt : bool
        False: C = E_K1(P ^ T) ^ T. True: P = D_K1(C ^ T) ^ T.

    Every unit: T = E_K2(tweak) (5.3.1), then block j uses T * alpha^j.
    """
    n = src.shape[0]
    xts_unit_range(schedule, tweaks, src, dst, decrypt, 0, n)
    return n


@parallel_kernel
def xts_units_par(schedule, tweaks, src, dst, decrypt):
    """:func:`xts_units` with chunks of 16 data units spread over the cores."""
    n = src.shape[0]
    for c in prange((n + 15) // 16):
        xts_unit_range(schedule, tweaks, src, dst, decrypt, 16 * c, min(n, 16 * c + 16))
    return n


@kernel
def xts_unit_range(schedule, tweaks, src, dst, decrypt, first, stop):
    """The work of :func:`xts_units` for units ``first .. stop-1``. Called once per batch or
    chunk (never per block); the round loops are written out here with scalar helpers only.
    One-dimensional views of the key rows and of each unit keep the index arithmetic short."""
    nblocks = src.shape[1] // 4
    tk = schedule[TWK]
    kk = schedule[DEC] if decrypt else schedule[ENC]
    nr = tk[NR_WORD]
    for u in range(first, stop):
        # T = E_K2(i): the 16-byte little-endian sequence number, encrypted with the tweak key.
        lo = tweaks[u, 0]
        hi = tweaks[u, 1]
        s0 = np.uint32(lo & _M32) ^ tk[0]
        s1 = np.uint32(lo >> _U32) ^ tk[1]
        s2 = np.uint32(hi & _M32) ^ tk[2]
        s3 = np.uint32(hi >> _U32) ^ tk[3]
        for r in range(1, nr):
            s0, s1, s2, s3 = enc_round(s0, s1, s2, s3, tk[4 * r], tk[4 * r + 1], tk[4 * r + 2], tk[4 * r + 3])
        s0, s1, s2, s3 = enc_last(s0, s1, s2, s3, tk[4 * nr], tk[4 * nr + 1], tk[4 * nr + 2], tk[4 * nr + 3])
        t0, t1, t2, t3 = s0, s1, s2, s3
        su = src[u]
        du = dst[u]
        j = 0
        while j + 1 < nblocks:
            # two blocks at a time: their rounds are independent, so the table lookups of one fill the
            # latency of the other's (a T-table round is latency-bound)
            v0, v1, v2, v3 = _mul_alpha(t0, t1, t2, t3)
            o = 4 * j
            a0 = su[o] ^ t0 ^ kk[0]
            a1 = su[o + 1] ^ t1 ^ kk[1]
            a2 = su[o + 2] ^ t2 ^ kk[2]
            a3 = su[o + 3] ^ t3 ^ kk[3]
            b0 = su[o + 4] ^ v0 ^ kk[0]
            b1 = su[o + 5] ^ v1 ^ kk[1]
            b2 = su[o + 6] ^ v2 ^ kk[2]
            b3 = su[o + 7] ^ v3 ^ kk[3]
            if decrypt:
                for r in range(1, nr):
                    k0, k1, k2, k3 = kk[4 * r], kk[4 * r + 1], kk[4 * r + 2], kk[4 * r + 3]
                    a0, a1, a2, a3 = dec_round(a0, a1, a2, a3, k0, k1, k2, k3)
                    b0, b1, b2, b3 = dec_round(b0, b1, b2, b3, k0, k1, k2, k3)
                k0, k1, k2, k3 = kk[4 * nr], kk[4 * nr + 1], kk[4 * nr + 2], kk[4 * nr + 3]
                a0, a1, a2, a3 = dec_last(a0, a1, a2, a3, k0, k1, k2, k3)
                b0, b1, b2, b3 = dec_last(b0, b1, b2, b3, k0, k1, k2, k3)
            else:
                for r in range(1, nr):
                    k0, k1, k2, k3 = kk[4 * r], kk[4 * r + 1], kk[4 * r + 2], kk[4 * r + 3]
                    a0, a1, a2, a3 = enc_round(a0, a1, a2, a3, k0, k1, k2, k3)
                    b0, b1, b2, b3 = enc_round(b0, b1, b2, b3, k0, k1, k2, k3)
                k0, k1, k2, k3 = kk[4 * nr], kk[4 * nr + 1], kk[4 * nr + 2], kk[4 * nr + 3]
                a0, a1, a2, a3 = enc_last(a0, a1, a2, a3, k0, k1, k2, k3)
                b0, b1, b2, b3 = enc_last(b0, b1, b2, b3, k0, k1, k2, k3)
            du[o] = a0 ^ t0
            du[o + 1] = a1 ^ t1
            du[o + 2] = a2 ^ t2
            du[o + 3] = a3 ^ t3
            du[o + 4] = b0 ^ v0
            du[o + 5] = b1 ^ v1
            du[o + 6] = b2 ^ v2
            du[o + 7] = b3 ^ v3
            t0, t1, t2, t3 = _mul_alpha(v0, v1, v2, v3)
            j += 2
        if j < nblocks:  # an odd block count: the last one alone
            o = 4 * j
            s0 = su[o] ^ t0 ^ kk[0]
            s1 = su[o + 1] ^ t1 ^ kk[1]
            s2 = su[o + 2] ^ t2 ^ kk[2]
            s3 = su[o + 3] ^ t3 ^ kk[3]
            if decrypt:
                for r in range(1, nr):
                    s0, s1, s2, s3 = dec_round(s0, s1, s2, s3, kk[4 * r], kk[4 * r + 1], kk[4 * r + 2], kk[4 * r + 3])
                s0, s1, s2, s3 = dec_last(s0, s1, s2, s3, kk[4 * nr], kk[4 * nr + 1], kk[4 * nr + 2], kk[4 * nr + 3])
            else:
                for r in range(1, nr):
                    s0, s1, s2, s3 = enc_round(s0, s1, s2, s3, kk[4 * r], kk[4 * r + 1], kk[4 * r + 2], kk[4 * r + 3])
                s0, s1, s2, s3 = enc_last(s0, s1, s2, s3, kk[4 * nr], kk[4 * nr + 1], kk[4 * nr + 2], kk[4 * nr + 3])
            du[o] = s0 ^ t0
            du[o + 1] = s1 ^ t1
            du[o + 2] = s2 ^ t2
            du[o + 3] = s3 ^ t3
    return stop - first
