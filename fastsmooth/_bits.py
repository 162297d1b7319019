"""Bit-level views of floats for kernels: reinterpretation and order-preserving integer
keys. LLVM vectorizes integer max-reductions but not float ones whose nan behaviour it
must keep, so the block maximum of :mod:`._rowops` is taken over integer keys.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ._config import jit

__all__ = ["as_int", "as_float", "sortable_key", "from_sortable_key", "prefetch", "prefetch_write"]

_INT_OF = {32: (types.int32, ir.IntType(32)), 64: (types.int64, ir.IntType(64))}
_FLOAT_OF = {32: (types.float32, ir.FloatType()), 64: (types.float64, ir.DoubleType())}


@intrinsic
def as_int(typingctx, x):
    """The bits of a float32/float64 as an int32/int64 (a reinterpretation, no rounding)."""
    if not isinstance(x, types.Float):
        return None
    ity, lty = _INT_OF[x.bitwidth]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], lty)

    return ity(x), codegen


@intrinsic
def as_float(typingctx, b):
    """The float32/float64 whose bits are the int32/int64 ``b``."""
    if not isinstance(b, types.Integer) or b.bitwidth not in _FLOAT_OF:
        return None
    fty, lty = _FLOAT_OF[b.bitwidth]

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], lty)

    return fty(b), codegen


_MASK64 = np.int64(0x7FFFFFFFFFFFFFFF)
_MASK32 = np.int32(0x7FFFFFFF)
_SHIFT32 = np.int32(31)


@jit
def _key64(v):
    b = as_int(v)
    return b ^ ((b >> 63) & _MASK64)


# np.int32(...) everywhere below: Numba widens int32 arithmetic to int64, and a key of
# the wrong width would decode as a float64.
@jit
def _key32(v):
    b = as_int(v)
    return np.int32(b ^ ((b >> _SHIFT32) & _MASK32))


@jit
def _unkey64(k):
    return as_float(k ^ ((k >> 63) & _MASK64))


@jit
def _unkey32(k):
    return as_float(np.int32(k ^ ((k >> _SHIFT32) & _MASK32)))


def sortable_key(v):
    """An integer that orders like the float ``v``: for non-nan floats,
    ``a < b`` iff ``key(a) < key(b)`` (``-0.0`` sorts just below ``+0.0``). Positive
    nans sort above ``+inf``, negative nans below ``-inf``. Jitted code only."""
    raise TypeError("sortable_key is for use inside Numba kernels")


def from_sortable_key(k):
    """The float whose :func:`sortable_key` is ``k``. Jitted code only."""
    raise TypeError("from_sortable_key is for use inside Numba kernels")


# Calling jitted helpers from the overloads lets LLVM inline them into vector loops
# (see the note in _exp.py).
@overload(sortable_key)
def _sortable_key_overload(v):
    if isinstance(v, types.Float):
        return (lambda v: _key32(v)) if v.bitwidth == 32 else (lambda v: _key64(v))
    return None


@overload(from_sortable_key)
def _from_sortable_key_overload(k):
    if isinstance(k, types.Integer) and k.bitwidth in (32, 64):
        return (lambda k: _unkey32(k)) if k.bitwidth == 32 else (lambda k: _unkey64(k))
    return None


#: LLVM's name of the prefetch intrinsic for an i8 pointer: mangled with the pointee type
#: while LLVM had typed pointers, plain ``p0`` since opaque pointers (LLVM 17+)
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info >= (17,) else "llvm.prefetch.p0i8"


def _prefetch_codegen(write):
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index], wraparound=False,
                                       boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        i32 = ir.IntType(32)
        # read (0) or write (1), locality 2 (keep in L2: the line is used within
        # microseconds), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(int(write)), i32(2), i32(1)])
        return context.get_dummy_value()
    return codegen


@intrinsic
def prefetch(typingctx, a, i):
    """Hint the CPU to bring the cache line holding ``a[i]`` (1-D ``a``) into the L2
    cache, for reading; no effect on results. ``i`` may lie past the end of ``a``: a
    prefetch never faults, so kernels use it to fetch what follows ``a`` in memory (the
    next row of a C-contiguous batch) while they compute on ``a``."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(i, types.Integer)):
        return None
    return types.void(a, i), _prefetch_codegen(False)


@intrinsic
def prefetch_write(typingctx, a, i):
    """As :func:`prefetch`, for a line about to be written (``prefetchw``): the line's
    fetch for ownership starts early instead of stalling the stores that need it."""
    if not (isinstance(a, types.Array) and a.ndim == 1 and isinstance(i, types.Integer)):
        return None
    return types.void(a, i), _prefetch_codegen(True)
