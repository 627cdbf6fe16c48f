"""XTS-AES on the x86 AES instructions (AES-NI, and VAES on 512-bit vectors where present).

Same contract and same key-schedule array as :func:`._kernels.xts_units`; tests hold the two
equal. The AES rounds are the LLVM intrinsics ``llvm.x86.aesni.aesenc`` / ``aesenclast`` /
``aesdec`` / ``aesdeclast`` (and their ``.512`` forms, four blocks per instruction), emitted from
numba through :func:`numba.extending.intrinsic`. ``AESDEC`` implements the equivalent inverse
cipher of FIPS-197 5.3.5, so it takes the schedule's DEC row as is; :func:`aesimc_word4` exposes
``AESIMC`` so tests can check that row against the instruction.

The CPU guard
-------------
LLVM cannot fall back when the target lacks an instruction: it aborts the process. Importing this
module is always safe (numba compiles lazily, and nothing here has an explicit signature), but
every entry point first calls :func:`require` - which raises ``RuntimeError`` unless
:mod:`._cpu` reports the feature - *before* any kernel is compiled or loaded from the cache.
Callers normally reach this module only through :mod:`.xts`, which imports it lazily and only
when :func:`._cpu.has_aesni` is true.

The serial kernels are ``cache=True`` (checked: they load from numba's disk cache, whose index
is keyed by CPU name and features, so a cache written on another CPU is never used here); the
prange kernels are compiled on first use.

Each data unit is handled by one internal LLVM function (built below with llvmlite, once per
kernel module): the tweak is encrypted with Key2, then blocks go through the rounds ``lanes x
group`` at a time (8 independent 128-bit blocks, or 4 vectors of 4 blocks with VAES), which keeps
the AES units busy; a one-block loop handles the remainder.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._jit import kernel
from . import _cpu
from ._kernels import parallel_kernel as _parallel_kernel

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_I128 = ir.IntType(128)
_V2 = ir.VectorType(_I64, 2)

_ROW_BYTES = 256      # one uint32[64] schedule row
_NR_OFFSET = 252      # byte offset of the Nr word in row 0


def require(wide: bool = False) -> None:
    """Raise ``RuntimeError`` unless this machine can run the AES-NI (or, ``wide``, VAES-512)
    kernels. Called before anything here is compiled."""
    if not _cpu.has_aesni():
        raise RuntimeError("this CPU (or numba's target CPU) has no AES instructions (no 'aes' "
                           "feature); use the portable back end")
    if wide and not _cpu.has_vaes512():
        raise RuntimeError("this CPU has no 512-bit VAES (needs 'vaes', 'avx512f', 'avx512bw')")


# --- IR building ----------------------------------------------------------------------------------


def _aes(module, op, lanes):
    vt = ir.VectorType(_I64, 2 * lanes)
    name = f"llvm.x86.aesni.{op}" + ("" if lanes == 1 else f".{128 * lanes}")
    return cgutils.get_or_insert_function(module, ir.FunctionType(vt, [vt, vt]), name)


def _load16(b, base, offset):
    p = b.bitcast(b.gep(base, [offset]), _V2.as_pointer())
    return b.load(p, align=1)


def _mul_alpha(b, t):
    """T * alpha in GF(2^128) (IEEE 1619 5.2) on a little-endian i128."""
    carry = b.lshr(t, ir.Constant(_I128, 127))
    return b.xor(b.shl(t, ir.Constant(_I128, 1)), b.mul(carry, ir.Constant(_I128, 0x87)))


def _vmul_alpha_k(b, v, k):
    """Multiply every 128-bit lane of ``v`` (<2n x i64>, low word first) by alpha^k, 0 < k <= 57:
    a 128-bit shift left by k, with the k bits shifted out folded back as their carry-less
    product with 0x87 (x^7 + x^2 + x + 1), which fits in the low word for k <= 57."""
    n = v.type.count
    vt = v.type

    def splat(x):
        return ir.Constant(vt, [x] * n)

    swap = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, n), [i ^ 1 for i in range(n)]))
    shifted = b.shl(v, splat(k))
    c = b.lshr(swap, splat(64 - k))              # low lane: bits leaving hi; high lane: lo -> hi
    fold = b.xor(b.xor(b.shl(c, splat(1)), b.shl(c, splat(2))), b.shl(c, splat(7)))
    low_only = ir.Constant(vt, [(1 << 64) - 1 if i % 2 == 0 else 0 for i in range(n)])
    return b.xor(shifted, b.xor(c, b.and_(fold, low_only)))


def _widen(b, parts):
    """Concatenate <2 x i64> vectors into one <2n x i64> vector."""
    while len(parts) > 1:
        n = parts[0].type.count
        mask = ir.Constant(ir.VectorType(_I32, 2 * n), list(range(2 * n)))
        parts = [b.shuffle_vector(parts[i], parts[i + 1], mask) for i in range(0, len(parts), 2)]
    return parts[0]


def _broadcast(b, v, lanes):
    if lanes == 1:
        return v
    mask = ir.Constant(ir.VectorType(_I32, 2 * lanes), [i % 2 for i in range(2 * lanes)])
    return b.shuffle_vector(v, ir.Constant(_V2, ir.Undefined), mask)


def _emit_rounds(b, x, keys, nr, module, decrypt, lanes):
    first, last = ("aesdec", "aesdeclast") if decrypt else ("aesenc", "aesenclast")
    f_round, f_last = _aes(module, first, lanes), _aes(module, last, lanes)
    xs = [b.xor(v, keys[0]) for v in x]
    for r in range(1, nr):
        xs = [b.call(f_round, [v, keys[r]]) for v in xs]
    return [b.call(f_last, [v, keys[nr]]) for v in xs]


def _emit_body(fn, b, nr, decrypt, lanes, group, done):
    """Blocks for one round count; ``b`` is positioned in the block that starts it."""
    module = b.module
    src, dst, nblocks, sched, tlo, thi = fn.args
    row = _ROW_BYTES if decrypt else 0
    keys = [_load16(b, sched, ir.Constant(_I64, row + 16 * r)) for r in range(nr + 1)]
    tkeys = [_load16(b, sched, ir.Constant(_I64, 2 * _ROW_BYTES + 16 * r)) for r in range(nr + 1)]
    wkeys = [_broadcast(b, k, lanes) for k in keys]
    # T = E_K2(i)
    t = b.insert_element(ir.Constant(_V2, ir.Undefined), tlo, ir.Constant(_I32, 0))
    t = b.insert_element(t, thi, ir.Constant(_I32, 1))
    t0 = b.bitcast(_emit_rounds(b, [t], tkeys, nr, module, False, 1)[0], _I128)
    per_iter = lanes * group
    vt = ir.VectorType(_I64, 2 * lanes)
    first = [t0]
    for _ in range(lanes - 1):
        first.append(_mul_alpha(b, first[-1]))
    tv_init = _widen(b, [b.bitcast(tk, _V2) for tk in first])
    start = b.block
    main_cond = fn.append_basic_block(f"main_cond{nr}")
    main_body = fn.append_basic_block(f"main_body{nr}")
    tail_cond = fn.append_basic_block(f"tail_cond{nr}")
    tail_body = fn.append_basic_block(f"tail_body{nr}")
    b.branch(main_cond)

    b.position_at_end(main_cond)
    idx = b.phi(_I64)
    tv = b.phi(vt)          # tweaks of blocks idx .. idx+lanes-1
    idx.add_incoming(ir.Constant(_I64, 0), start)
    tv.add_incoming(tv_init, start)
    fits = b.icmp_signed("<=", b.add(idx, ir.Constant(_I64, per_iter)), nblocks)
    if lanes == 1:
        tail_t = b.bitcast(tv, _I128)
    else:
        tail_t = b.bitcast(b.shuffle_vector(tv, tv, ir.Constant(ir.VectorType(_I32, 2), [0, 1])), _I128)
    b.cbranch(fits, main_body, tail_cond)

    b.position_at_end(main_body)
    # Vector g holds the tweaks of blocks idx + lanes*g + (0..lanes-1): tv * alpha^(lanes*g),
    # each computed straight from tv so there is no long dependency chain.
    tvec = [tv] + [_vmul_alpha_k(b, tv, lanes * g) for g in range(1, group)]
    base = b.mul(idx, ir.Constant(_I64, 16))
    data = []
    for g in range(group):
        p = b.bitcast(b.gep(src, [b.add(base, ir.Constant(_I64, 16 * lanes * g))]), vt.as_pointer())
        data.append(b.xor(b.load(p, align=1), tvec[g]))
    out = _emit_rounds(b, data, wkeys, nr, module, decrypt, lanes)
    for g in range(group):
        p = b.bitcast(b.gep(dst, [b.add(base, ir.Constant(_I64, 16 * lanes * g))]), vt.as_pointer())
        b.store(b.xor(out[g], tvec[g]), p, align=1)
    idx.add_incoming(b.add(idx, ir.Constant(_I64, per_iter)), main_body)
    tv.add_incoming(_vmul_alpha_k(b, tv, per_iter), main_body)
    b.branch(main_cond)

    b.position_at_end(tail_cond)
    idx2 = b.phi(_I64)
    tw2 = b.phi(_I128)
    idx2.add_incoming(idx, main_cond)
    tw2.add_incoming(tail_t, main_cond)
    b.cbranch(b.icmp_signed("<", idx2, nblocks), tail_body, done)

    b.position_at_end(tail_body)
    off = b.mul(idx2, ir.Constant(_I64, 16))
    tv = b.bitcast(tw2, _V2)
    x = b.xor(_load16(b, src, off), tv)
    y = _emit_rounds(b, [x], keys, nr, module, decrypt, 1)[0]
    b.store(b.xor(y, tv), b.bitcast(b.gep(dst, [off]), _V2.as_pointer()), align=1)
    idx2.add_incoming(b.add(idx2, ir.Constant(_I64, 1)), tail_body)
    tw2.add_incoming(_mul_alpha(b, tw2), tail_body)
    b.branch(tail_cond)


def _unit_function(module, decrypt, lanes, group):
    """``void f(i8* src, i8* dst, i64 nblocks, i8* schedule, i64 tweak_lo, i64 tweak_hi)``:
    XTS over one data unit (IEEE 1619-2007 5.3.2 / 5.4.2)."""
    name = f"ccalab_mec_xts_{'dec' if decrypt else 'enc'}_{lanes}x{group}"
    fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I8P, _I64, _I8P, _I64, _I64])
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    sched = fn.args[3]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    nr = b.load(b.bitcast(b.gep(sched, [ir.Constant(_I64, _NR_OFFSET)]), _I32.as_pointer()))
    bb10 = fn.append_basic_block("nr10")
    bb14 = fn.append_basic_block("nr14")
    done = fn.append_basic_block("done")
    b.cbranch(b.icmp_unsigned("==", nr, ir.Constant(_I32, 14)), bb14, bb10)
    for nr_value, bb in ((10, bb10), (14, bb14)):
        b.position_at_end(bb)
        _emit_body(fn, b, nr_value, decrypt, lanes, group, done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def _unit_codegen(decrypt, lanes, group):
    def codegen(context, builder, sig, args):
        src, dst, nblocks, sched, tlo, thi = args
        fn = _unit_function(builder.module, decrypt, lanes, group)
        builder.call(fn, [builder.inttoptr(src, _I8P), builder.inttoptr(dst, _I8P), nblocks,
                          builder.inttoptr(sched, _I8P), tlo, thi])
        return context.get_dummy_value()
    return codegen


_UNIT_SIG = types.void(types.uint64, types.uint64, types.int64, types.uint64, types.uint64, types.uint64)


@intrinsic
def _enc_unit_x1(typingctx, src, dst, nblocks, sched, tlo, thi):
    return _UNIT_SIG, _unit_codegen(False, 1, 8)


@intrinsic
def _dec_unit_x1(typingctx, src, dst, nblocks, sched, tlo, thi):
    return _UNIT_SIG, _unit_codegen(True, 1, 8)


@intrinsic
def _enc_unit_x4(typingctx, src, dst, nblocks, sched, tlo, thi):
    return _UNIT_SIG, _unit_codegen(False, 4, 4)


@intrinsic
def _dec_unit_x4(typingctx, src, dst, nblocks, sched, tlo, thi):
    return _UNIT_SIG, _unit_codegen(True, 4, 4)


@intrinsic
def _aesimc(typingctx, lo, hi):
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_V2, [_V2]),
                                            "llvm.x86.aesni.aesimc")
        v = builder.insert_element(ir.Constant(_V2, ir.Undefined), args[0], ir.Constant(_I32, 0))
        v = builder.insert_element(v, args[1], ir.Constant(_I32, 1))
        r = builder.call(fn, [v])
        tup = context.make_tuple(builder, sig.return_type,
                                 [builder.extract_element(r, ir.Constant(_I32, i)) for i in range(2)])
        return tup
    return types.UniTuple(types.uint64, 2)(types.uint64, types.uint64), codegen


# --- Kernels (arrays in, one call per batch) ------------------------------------------------------
# The arrays are C-contiguous (checked by the caller); addresses are taken once per call.


@kernel
def _xts_units_x1(schedule, tweaks, src, dst, decrypt):
    n = src.shape[0]
    nblocks = np.int64(src.shape[1] // 4)
    row = np.uint64(src.shape[1] * 4)
    s = np.uint64(src.ctypes.data)
    d = np.uint64(dst.ctypes.data)
    k = np.uint64(schedule.ctypes.data)
    for u in range(n):
        off = np.uint64(u) * row
        if decrypt:
            _dec_unit_x1(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
        else:
            _enc_unit_x1(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
    return n


@kernel
def _xts_units_x4(schedule, tweaks, src, dst, decrypt):
    n = src.shape[0]
    nblocks = np.int64(src.shape[1] // 4)
    row = np.uint64(src.shape[1] * 4)
    s = np.uint64(src.ctypes.data)
    d = np.uint64(dst.ctypes.data)
    k = np.uint64(schedule.ctypes.data)
    for u in range(n):
        off = np.uint64(u) * row
        if decrypt:
            _dec_unit_x4(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
        else:
            _enc_unit_x4(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
    return n


@_parallel_kernel
def _xts_units_x1_par(schedule, tweaks, src, dst, decrypt):
    n = src.shape[0]
    nblocks = np.int64(src.shape[1] // 4)
    row = np.uint64(src.shape[1] * 4)
    s = np.uint64(src.ctypes.data)
    d = np.uint64(dst.ctypes.data)
    k = np.uint64(schedule.ctypes.data)
    for u in prange(n):
        off = np.uint64(u) * row
        if decrypt:
            _dec_unit_x1(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
        else:
            _enc_unit_x1(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
    return n


@_parallel_kernel
def _xts_units_x4_par(schedule, tweaks, src, dst, decrypt):
    n = src.shape[0]
    nblocks = np.int64(src.shape[1] // 4)
    row = np.uint64(src.shape[1] * 4)
    s = np.uint64(src.ctypes.data)
    d = np.uint64(dst.ctypes.data)
    k = np.uint64(schedule.ctypes.data)
    for u in prange(n):
        off = np.uint64(u) * row
        if decrypt:
            _dec_unit_x4(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
        else:
            _enc_unit_x4(s + off, d + off, nblocks, k, tweaks[u, 0], tweaks[u, 1])
    return n


@kernel
def _aesimc_rows(enc, out):
    """``out[r] = AESIMC(enc round key r)`` for rounds 1..Nr-1 (uint64 views of schedule rows)."""
    nr = np.int64(enc.shape[0] // 2)
    for r in range(1, nr):
        a, b = _aesimc(enc[2 * r], enc[2 * r + 1])
        out[2 * r] = a
        out[2 * r + 1] = b
    return nr


# --- Guarded entry points -------------------------------------------------------------------------


def default_wide() -> bool:
    """Use the VAES-512 kernels when the CPU has them."""
    return _cpu.has_vaes512()


def xts_units(schedule, tweaks, src, dst, decrypt, wide=None, parallel=False):
    """XTS over ``n`` data units with the AES instructions; arguments as ``_kernels.xts_units``
    (C-contiguous arrays). ``wide``: use VAES-512 (default: when available). ``parallel``:
    spread the units over the CPU cores (prange)."""
    wide = default_wide() if wide is None else wide
    require(wide)
    # The kernels work on raw addresses: insist on the layout they assume.
    if not (schedule.flags.c_contiguous and schedule.shape == (3, 64) and schedule.dtype == np.uint32):
        raise ValueError("schedule must be a C-contiguous uint32[3, 64] array")
    if not (src.flags.c_contiguous and dst.flags.c_contiguous and src.shape == dst.shape
            and src.dtype == np.uint32 and dst.dtype == np.uint32 and src.shape[1] % 4 == 0):
        raise ValueError("src and dst must be C-contiguous uint32[n, 4 * blocks] arrays of one shape")
    if tweaks.shape != (src.shape[0], 2) or tweaks.dtype != np.uint64:
        raise ValueError("tweaks must be uint64[n, 2]")
    if wide:
        fn = _xts_units_x4_par if parallel else _xts_units_x4
    else:
        fn = _xts_units_x1_par if parallel else _xts_units_x1
    return fn(schedule, tweaks, src, dst, decrypt)


def aesimc_row(enc_row):
    """Apply ``AESIMC`` to round keys 1..Nr-1 of an ENC schedule row (uint32[64]); returns the
    uint32[64] result with the other words zero. Used to check the DEC row against the CPU."""
    require()
    nr = int(enc_row[63])
    src = np.ascontiguousarray(enc_row[:4 * (nr + 1)]).view(np.uint64)[:2 * nr]
    out = np.zeros(64, dtype=np.uint32)
    _aesimc_rows(src, out.view(np.uint64)[:2 * nr])
    return out


def compile_kernels(parallel=True) -> None:
    """Compile (or load from the cache) every AES-NI kernel this CPU can run. Refuses - before
    compiling anything - on a CPU without the AES instructions."""
    require()
    sched = np.zeros((3, 64), dtype=np.uint32)
    sched[:, 63] = 10
    tweaks = np.zeros((1, 2), dtype=np.uint64)
    buf = np.zeros((1, 8), dtype=np.uint32)
    variants = [False, True] if _cpu.has_vaes512() else [False]
    for wide in variants:
        for decrypt in (False, True):
            xts_units(sched, tweaks, buf, buf, decrypt, wide=wide, parallel=False)
            if parallel:
                xts_units(sched, tweaks, buf, buf, decrypt, wide=wide, parallel=True)
    aesimc_row(np.array([0] * 63 + [10], dtype=np.uint32))
