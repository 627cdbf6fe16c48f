"""AES and XTS-AES written for clarity: the reference twin of ``_kernels.py`` and ``_aesni.py``.

Everything here follows the standards' own formulation step by step, on lists of bytes:

* FIPS-197 (AES), section 5.1 ``Cipher()`` with ``SubBytes``, ``ShiftRows``, ``MixColumns`` and
  ``AddRoundKey``; section 5.3 ``InvCipher()``; section 5.2 ``KeyExpansion()``. The S-box is
  computed from its definition (multiplicative inverse in GF(2^8) followed by the affine map of
  section 5.1.1), not typed in, so it is an independent check of the kernels' tables.
* IEEE Std 1619-2007, section 5.3.1 (XTS-AES-blockEnc) and 5.3.2 (the data unit loop without
  ciphertext stealing), 5.4.1 / 5.4.2 for decryption.

It is slow (about a millisecond per block) and is never used on a hot path; tests compare it with
the kernels on a few data units.
"""

from __future__ import annotations

# --- GF(2^8) arithmetic, FIPS-197 section 4.2 (modulus x^8 + x^4 + x^3 + x + 1) -----------------


def xtime(b: int) -> int:
    """Multiply by x (FIPS-197 4.2.1)."""
    b <<= 1
    if b & 0x100:
        b ^= 0x11B
    return b


def gmul(a: int, b: int) -> int:
    """Multiply two field elements (FIPS-197 4.2) by shift-and-add."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        a = xtime(a)
        b >>= 1
    return result


def ginv(a: int) -> int:
    """Multiplicative inverse, with 0 mapped to 0 (FIPS-197 5.1.1): a^254."""
    result = 1
    for _ in range(254):
        result = gmul(result, a)
    return result if a else 0


def _affine(b: int) -> int:
    """FIPS-197 equation (5.1): b'_i = b_i ^ b_(i+4) ^ b_(i+5) ^ b_(i+6) ^ b_(i+7) ^ c_i, c = 0x63."""
    out = 0
    for i in range(8):
        bit = ((b >> i) ^ (b >> ((i + 4) % 8)) ^ (b >> ((i + 5) % 8)) ^ (b >> ((i + 6) % 8))
               ^ (b >> ((i + 7) % 8)) ^ (0x63 >> i)) & 1
        out |= bit << i
    return out


SBOX = [_affine(ginv(x)) for x in range(256)]
INV_SBOX = [0] * 256
for _x, _s in enumerate(SBOX):
    INV_SBOX[_s] = _x
del _x, _s

# --- The AES round functions on a 16-byte state (byte i = row i % 4, column i // 4) ---------------


def sub_bytes(state: list[int]) -> list[int]:
    return [SBOX[b] for b in state]


def inv_sub_bytes(state: list[int]) -> list[int]:
    return [INV_SBOX[b] for b in state]


def shift_rows(state: list[int]) -> list[int]:
    """Row r moves r columns to the left (FIPS-197 5.1.2)."""
    return [state[r + 4 * ((c + r) % 4)] for c in range(4) for r in range(4)]


def inv_shift_rows(state: list[int]) -> list[int]:
    return [state[r + 4 * ((c - r) % 4)] for c in range(4) for r in range(4)]


def _mix(state: list[int], m: tuple[int, int, int, int]) -> list[int]:
    out = []
    for c in range(4):
        col = state[4 * c:4 * c + 4]
        for r in range(4):
            value = 0
            for k in range(4):
                value ^= gmul(m[(k - r) % 4], col[k])
            out.append(value)
    return out


def mix_columns(state: list[int]) -> list[int]:
    """FIPS-197 5.1.3: each column times {03}x^3 + {01}x^2 + {01}x + {02}."""
    return _mix(state, (2, 3, 1, 1))


def inv_mix_columns(state: list[int]) -> list[int]:
    """FIPS-197 5.3.3: each column times {0b}x^3 + {0d}x^2 + {09}x + {0e}."""
    return _mix(state, (14, 11, 13, 9))


def add_round_key(state: list[int], round_key: list[int]) -> list[int]:
    return [s ^ k for s, k in zip(state, round_key)]


def key_expansion(key: bytes) -> list[list[int]]:
    """FIPS-197 5.2 ``KeyExpansion``: the Nr+1 round keys, 16 bytes each.

    Parameters
    ----------
    key : bytes
        16 bytes (AES-128, Nk=4, Nr=10) or 32 bytes (AES-256, Nk=8, Nr=14).
    """
    nk = len(key) // 4
    if len(key) not in (16, 32):
        raise ValueError("AES key must be 16 or 32 bytes")
    nr = nk + 6
    words = [list(key[4 * i:4 * i + 4]) for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        temp = list(words[i - 1])
        if i % nk == 0:
            temp = temp[1:] + temp[:1]                      # RotWord
            temp = [SBOX[b] for b in temp]                  # SubWord
            temp[0] ^= rcon                                 # Rcon[i/Nk]
            rcon = xtime(rcon)
        elif nk > 6 and i % nk == 4:
            temp = [SBOX[b] for b in temp]                  # SubWord (AES-256 only)
        words.append([a ^ b for a, b in zip(words[i - nk], temp)])
    return [sum(words[4 * r:4 * r + 4], []) for r in range(nr + 1)]


def encrypt_block(round_keys: list[list[int]], block: bytes) -> bytes:
    """FIPS-197 5.1 ``Cipher``."""
    nr = len(round_keys) - 1
    state = add_round_key(list(block), round_keys[0])
    for rnd in range(1, nr):
        state = add_round_key(mix_columns(shift_rows(sub_bytes(state))), round_keys[rnd])
    state = add_round_key(shift_rows(sub_bytes(state)), round_keys[nr])
    return bytes(state)


def decrypt_block(round_keys: list[list[int]], block: bytes) -> bytes:
    """FIPS-197 5.3 ``InvCipher`` (the straightforward inverse, not the equivalent one)."""
    nr = len(round_keys) - 1
    state = add_round_key(list(block), round_keys[nr])
    for rnd in range(nr - 1, 0, -1):
        state = inv_mix_columns(add_round_key(inv_sub_bytes(inv_shift_rows(state)), round_keys[rnd]))
    state = add_round_key(inv_sub_bytes(inv_shift_rows(state)), round_keys[0])
    return bytes(state)


# --- XTS, IEEE Std 1619-2007 ----------------------------------------------------------------------


def mul_alpha(t: bytes) -> bytes:
    """Multiply a tweak by the primitive element alpha (IEEE 1619 5.2): a 128-bit little-endian
    shift left by one, folding the carry back with x^7 + x^2 + x + 1 (0x87)."""
    value = int.from_bytes(t, "little") << 1
    if value >> 128:
        value = (value ^ 0x87) & ((1 << 128) - 1)
    return value.to_bytes(16, "little")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def xts_encrypt_unit(key: bytes, data: bytes, unit: int) -> bytes:
    """XTS-AES encryption of one data unit (IEEE 1619 5.3.2, length a multiple of 16).

    ``key`` is Key1 || Key2 (32 or 64 bytes); ``unit`` the data unit sequence number i.
    Block j uses T = E_Key2(i) * alpha^j and C = E_Key1(P xor T) xor T (5.3.1).
    """
    half = len(key) // 2
    k1, k2 = key_expansion(key[:half]), key_expansion(key[half:])
    t = encrypt_block(k2, unit.to_bytes(16, "little"))
    out = bytearray()
    for j in range(0, len(data), 16):
        out += _xor(encrypt_block(k1, _xor(data[j:j + 16], t)), t)
        t = mul_alpha(t)
    return bytes(out)


def xts_decrypt_unit(key: bytes, data: bytes, unit: int) -> bytes:
    """XTS-AES decryption of one data unit (IEEE 1619 5.4.2): P = D_Key1(C xor T) xor T."""
    half = len(key) // 2
    k1, k2 = key_expansion(key[:half]), key_expansion(key[half:])
    t = encrypt_block(k2, unit.to_bytes(16, "little"))
    out = bytearray()
    for j in range(0, len(data), 16):
        out += _xor(decrypt_block(k1, _xor(data[j:j + 16], t)), t)
        t = mul_alpha(t)
    return bytes(out)


def xts_encrypt(key: bytes, data: bytes, tweak: int, data_unit_size: int = 4096) -> bytes:
    """Twin of :func:`ccalab.arch.mec.xts_encrypt`: unit k uses sequence number ``tweak + k``."""
    return b"".join(xts_encrypt_unit(key, data[o:o + data_unit_size], tweak + k)
                    for k, o in enumerate(range(0, len(data), data_unit_size)))


def xts_decrypt(key: bytes, data: bytes, tweak: int, data_unit_size: int = 4096) -> bytes:
    """Twin of :func:`ccalab.arch.mec.xts_decrypt`."""
    return b"".join(xts_decrypt_unit(key, data[o:o + data_unit_size], tweak + k)
                    for k, o in enumerate(range(0, len(data), data_unit_size)))
