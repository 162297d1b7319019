"""Vectorizable ``exp``, ``expm1`` and ``log1p`` for use inside kernels.

Numba on this platform has no SVML, so ``np.exp`` inside an ``@njit`` loop is a call to
the scalar libm ``exp``: about 0.2 G elements/s, and the call stops LLVM from
vectorizing the loop around it. :func:`exp` below is plain arithmetic that LLVM
inlines and vectorizes (AVX2/AVX-512), several times faster than libm and faster than
NumPy's own ``np.exp``.

Method (the classic Cody-Waite scheme):

1. ``k = round(x / ln 2)``, ``r = x - k ln 2`` with ``ln 2`` split in a high part with
   trailing zero bits (so ``k * LN2_HI`` is exact) and a low correction; ``|r| <= ln2/2``.
2. ``exp(r) = 1 + r + r**2 q(r)`` with a minimax ``q`` (total degree 11 for float64,
   6 for float32; relative error 3e-17 and 3e-9, see ``tools/exp_coefficients.py``),
   evaluated by Estrin's scheme. The form keeps ``exp(0) == 1`` exact.
3. ``2**k`` is built from exponent bits. It is applied as two factors ``2**(k//2)`` and
   ``2**(k - k//2)``, so that results that overflow or are subnormal come out right with
   a single rounding.

Inputs below ``log(smallest subnormal / 2)`` give 0, above ``log(max float)`` give inf,
``-inf -> 0``, ``inf -> inf``, ``nan -> nan``. The error is at most 1 ulp over the whole
float range against ``np.exp`` (``tests/test_exp.py`` sweeps it densely).

:func:`expm1` (``exp(x) - 1`` without the cancellation near 0) uses the same reduction
and a Taylor polynomial of ``expm1(r)``, recombined as ``(2**k - 1) + 2**k * expm1(r)``
(one rounding; ``k = 0`` returns the polynomial itself, so tiny ``x`` keep full relative
precision); for large ``k`` the ``- 1`` is below rounding and the ``exp`` scaling is used.

:func:`log1p` follows fdlibm/musl: ``1 + x = 2**k * (1 + f)`` with ``1 + f`` in
``[sqrt(2)/2, sqrt(2))`` from the exponent bits, a correction ``c`` for the rounding of
``1 + x``, and ``log(1 + f) = 2s + 2s**3/3 + ...`` with ``s = f / (2 + f)`` (a
minimax polynomial in ``s**2``); for ``sqrt(2)/2 - 1 <= x < sqrt(2) - 1`` the input is
used directly (``k = 0``, ``f = x``). Both paths are computed and selected, so the loop
around the call stays branch-free and vectorizes. Below ``|x| = 2**-54`` (float32:
``2**-25``) the result is ``x`` itself and the polynomial gets a 0, so no subnormal is
formed (each costs a microcode assist). ``log1p(-1) = -inf``, ``x < -1`` and nan give
nan, ``inf -> inf``, ``-0 -> -0``.

Both are within 2 ulp of NumPy over dense sweeps of the whole float range
(``tests/test_exp.py``).
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from ._bits import as_float, as_int
from ._config import FASTMATH, jit

__all__ = ["exp", "expm1", "log1p"]


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # 0x3FE62E42FEE00000: 21 trailing zero bits
_LN2_LO = 1.90821492927058770002e-10
_LO64 = -745.2  # exp(x) < 2**-1075 below: rounds to 0
_HI64 = 709.8  # exp(x) > max float64 above

_LOG2E32 = np.float32(_LOG2E)
_LN2_HI32 = np.float32(0.693359375)  # 355/512, exact in 9 bits
_LN2_LO32 = np.float32(-2.12194440e-4)
_LO32 = np.float32(-104.0)
_HI32 = np.float32(89.0)


# exp(r) = 1 + r + r**2 * q(r) on |r| <= ln(2)/2: minimax q from tools/exp_coefficients.py
# (max relative error 3.2e-17 for float64, 3.1e-9 for float32), evaluated by Estrin's
# scheme (short dependency chains, so the CPU overlaps the multiply-adds).
_Q64 = (
    0.50000000000000037127,
    0.16666666666667173255,
    0.041666666666595391063,
    0.0083333333329219789333,
    0.0013888888926178377735,
    0.00019841270880371171639,
    0.00002480151043868576179,
    2.7556285822089544448e-6,
    2.7624484812460456935e-7,
    2.5424502579365229791e-8,
)
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6, _Q7, _Q8, _Q9 = _Q64
_P32 = tuple(
    np.float32(c)
    for c in (
        0.4999999345170843359,
        0.16666520689833018806,
        0.041668387361261145548,
        0.008368709824171194323,
        0.0013814613260779770809,
    )
)
_P0, _P1, _P2, _P3, _P4 = _P32


def _exp64(x):
    # below _LO64 (and -inf, nan) the result is selected below: reduce 0 instead of the
    # clamp _LO64, whose 2**k is subnormal (a microcode assist per vector in AVX2 code:
    # the short-row LogSumExp loop, which gives each row's maximum the exponent -inf, ran
    # 8x slower there than in AVX-512 code)
    xc = min(x if x >= _LO64 else 0.0, _HI64)
    kf = np.floor(xc * _LOG2E + 0.5)
    r = xc - kf * _LN2_HI
    r = r - kf * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    q = ((_Q0 + _Q1 * r) + (_Q2 + _Q3 * r) * r2) + ((_Q4 + _Q5 * r) + (_Q6 + _Q7 * r) * r2) * r4
    q = q + (_Q8 + _Q9 * r) * (r4 * r4)
    p = 1.0 + (r + r2 * q)
    k = np.int64(kf)
    k1 = k >> 1
    k2 = k - k1
    res = p * as_float((k1 + 1023) << 52) * as_float((k2 + 1023) << 52)
    res = 0.0 if x < _LO64 else res
    res = np.inf if x > _HI64 else res
    return x if x != x else res


def _exp32(x):
    xc = min(x if x >= _LO32 else np.float32(0.0), _HI32)  # (as _exp64)
    kf = np.floor(xc * _LOG2E32 + np.float32(0.5))
    r = xc - kf * _LN2_HI32
    r = r - kf * _LN2_LO32
    r2 = r * r
    q = (_P0 + _P1 * r) + (_P2 + _P3 * r) * r2 + _P4 * (r2 * r2)
    p = np.float32(1.0) + (r + r2 * q)
    k = np.int32(kf)
    k1 = k >> np.int32(1)
    k2 = k - k1
    # np.int32(...): Numba widens int32 arithmetic to int64, and as_float takes the
    # float type from the integer's width
    s1 = as_float(np.int32((k1 + np.int32(127)) << np.int32(23)))
    s2 = as_float(np.int32((k2 + np.int32(127)) << np.int32(23)))
    res = p * s1 * s2
    res = np.float32(0.0) if x < _LO32 else res
    res = np.float32(np.inf) if x > _HI32 else res
    return x if x != x else res


_exp64_kernel = jit(_exp64, fastmath=FASTMATH)
_exp32_kernel = jit(_exp32, fastmath=FASTMATH)


def exp(x):
    """Vectorizable exp of a float32 or float64 scalar; callable from jitted code only."""
    raise TypeError("fastsmooth._exp.exp is for use inside Numba kernels; call it from a jitted function")


# The overload only picks the dtype's variant. Calling a jitted function (rather than
# returning _exp64 itself, or inline="always") matters twice: LLVM inlines the call and
# vectorizes the caller's loop, and the inlined instructions keep *their own* flags, so
# a summing caller's ``reassoc`` cannot regroup ``p * 2**k1 * 2**k2`` (which overflows).
@overload(exp)
def _exp_overload(x):
    if isinstance(x, types.Float):
        if x.bitwidth == 32:
            return lambda x: _exp32_kernel(x)
        return lambda x: _exp64_kernel(x)
    return None


# ---------------------------------------------------------------------------------------
# expm1


_EXPM1_LO64 = -45.0  # expm1(x) rounds to -1 below
_EXPM1_LO32 = np.float32(-20.0)
_BIG_K64 = 60  # above: 2**k * (1 + p), the "- 1" is below rounding
_BIG_K32 = 30


def _expm1_64(x):
    xc = min(max(x, _EXPM1_LO64), _HI64)
    kf = np.floor(xc * _LOG2E + 0.5)
    r_hi = xc - kf * _LN2_HI  # exact
    r_lo = -kf * _LN2_LO
    r = r_hi + r_lo
    q = 1.0 / 6227020800.0
    q = q * r + 1.0 / 479001600.0
    q = q * r + 1.0 / 39916800.0
    q = q * r + 1.0 / 3628800.0
    q = q * r + 1.0 / 362880.0
    q = q * r + 1.0 / 40320.0
    q = q * r + 1.0 / 5040.0
    q = q * r + 1.0 / 720.0
    q = q * r + 1.0 / 120.0
    q = q * r + 1.0 / 24.0
    q = q * r + 1.0 / 6.0
    q = q * r + 0.5
    tail = r_lo + (r * r) * q  # expm1(r) = r_hi + tail
    k = np.int64(kf)
    t = as_float((min(k, _BIG_K64) + 1023) << 52)
    small = ((t - 1.0) + t * r_hi) + t * tail
    k1 = k >> 1
    k2 = k - k1
    big = ((r_hi + tail) + 1.0) * as_float((k1 + 1023) << 52)
    big = big * as_float((k2 + 1023) << 52)
    res = big if k > _BIG_K64 else small
    res = np.inf if x > _HI64 else res
    return x if x != x else res


def _expm1_32(x):
    one = np.float32(1.0)
    xc = min(max(x, _EXPM1_LO32), _HI32)
    kf = np.floor(xc * _LOG2E32 + np.float32(0.5))
    r_hi = xc - kf * _LN2_HI32  # exact
    r_lo = -kf * _LN2_LO32
    r = r_hi + r_lo
    q = np.float32(1.0 / 362880.0)
    q = q * r + np.float32(1.0 / 40320.0)
    q = q * r + np.float32(1.0 / 5040.0)
    q = q * r + np.float32(1.0 / 720.0)
    q = q * r + np.float32(1.0 / 120.0)
    q = q * r + np.float32(1.0 / 24.0)
    q = q * r + np.float32(1.0 / 6.0)
    q = q * r + np.float32(0.5)
    tail = r_lo + (r * r) * q
    k = np.int32(kf)
    t = as_float(np.int32((min(k, _BIG_K32) + 127) << 23))
    small = ((t - one) + t * r_hi) + t * tail
    k1 = k >> np.int32(1)
    k2 = k - k1
    s1 = as_float(np.int32((k1 + 127) << 23))
    s2 = as_float(np.int32((k2 + 127) << 23))
    big = ((r_hi + tail) + one) * s1 * s2
    res = big if k > _BIG_K32 else small
    res = np.float32(np.inf) if x > _HI32 else res
    return x if x != x else res


# ---------------------------------------------------------------------------------------
# log1p (fdlibm / musl)

_SQRT1_2_HI64 = 0x3FE6A09E00000000  # high word of sqrt(2)/2, as musl
_MANT64 = 0x000FFFFFFFFFFFFF
_OFF64 = 0x3FF0000000000000 - _SQRT1_2_HI64
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_DIRECT_LO64 = -0.2928932188134524  # sqrt(2)/2 - 1: below, k = -1
_DIRECT_HI64 = 0.41421356237309503  # sqrt(2) - 1: from here, k = 1
# below: log1p(x) rounds to x; the polynomial (f * f, s**4...) would be subnormal, which
# costs a microcode assist per vector (2-4x slower loops on small exp(-a) inputs)
_TINY64 = 2.0**-54
_TINY32 = np.float32(2.0**-25)


def _log1p64_reduce(x):
    """``(f, k, c)`` with ``1 + x = 2**k (1 + f) (1 + c)`` to first order."""
    u = 1.0 + x
    hu = as_int(u) + _OFF64
    k = (hu >> 52) - 1023
    c = (1.0 - (u - x)) if k >= 2 else (x - (u - 1.0))
    c = c / u  # computed, then selected: a conditional division stays a branch
    c = c if k < 54 else 0.0
    f = as_float((hu & _MANT64) + _SQRT1_2_HI64) - 1.0
    direct = (x >= _DIRECT_LO64) & (x < _DIRECT_HI64)
    f = x if direct else f
    f = 0.0 if abs(x) < _TINY64 else f  # (the result is x: no subnormal f * f)
    c = 0.0 if direct else c
    dk = 0.0 if direct else np.float64(k)
    return f, dk, c


def _log1p64_finish(x, f, dk, c):
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    res = s * (hfsq + (t2 + t1)) + (dk * _LN2_LO + c) - hfsq + f + dk * _LN2_HI
    res = np.inf if x == np.inf else res
    res = -np.inf if x == -1.0 else res
    res = x if abs(x) < _TINY64 else res
    return np.nan if (x < -1.0) | (x != x) else res


_SQRT1_2_32 = 0x3F3504F3
_OFF32 = 0x3F800000 - _SQRT1_2_32
_LG1_32 = np.float32(0.66666662693)
_LG2_32 = np.float32(0.40000972152)
_LG3_32 = np.float32(0.28498786688)
_LG4_32 = np.float32(0.24279078841)
_LN2_HI_F = np.float32(6.9313812256e-01)  # 0x3f317180
_LN2_LO_F = np.float32(9.0580006145e-06)  # 0x3717f7d1
_DIRECT_LO32 = np.float32(-0.29289323)
_DIRECT_HI32 = np.float32(0.41421354)


def _log1p32_reduce(x):
    one = np.float32(1.0)
    zero = np.float32(0.0)
    u = one + x
    # int32 throughout (np.int32(...): Numba widens int32 arithmetic to int64, which
    # halves the vector width); a nan's bits may wrap here: its result is selected below
    iu = np.int32(as_int(u) + np.int32(_OFF32))
    k = np.int32((iu >> np.int32(23)) - np.int32(127))
    c = (one - (u - x)) if k >= 2 else (x - (u - one))
    c = c / u
    c = c if k < 25 else zero
    f = as_float(np.int32((iu & np.int32(0x007FFFFF)) + np.int32(_SQRT1_2_32))) - one
    direct = (x >= _DIRECT_LO32) & (x < _DIRECT_HI32)
    f = x if direct else f
    f = zero if abs(x) < _TINY32 else f
    c = zero if direct else c
    dk = zero if direct else np.float32(k)
    return f, dk, c


def _log1p32_finish(x, f, dk, c):
    one = np.float32(1.0)
    s = f / (np.float32(2.0) + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2_32 + w * _LG4_32)
    t2 = z * (_LG1_32 + w * _LG3_32)
    hfsq = np.float32(0.5) * f * f
    res = s * (hfsq + (t2 + t1)) + (dk * _LN2_LO_F + c) - hfsq + f + dk * _LN2_HI_F
    res = np.float32(np.inf) if x == np.inf else res
    res = np.float32(-np.inf) if x == -one else res
    res = x if abs(x) < _TINY32 else res
    return np.float32(np.nan) if (x < -one) | (x != x) else res


_expm1_64_kernel = jit(_expm1_64, fastmath=FASTMATH)
_expm1_32_kernel = jit(_expm1_32, fastmath=FASTMATH)
# log1p is two jitted halves: as one function it is above LLVM's inlining threshold, the
# call stays in the caller's loop and nothing vectorizes; each half alone is inlined.
_log1p_parts = {
    bits: (jit(reduce, fastmath=FASTMATH), jit(finish, fastmath=FASTMATH))
    for bits, reduce, finish in (
        (64, _log1p64_reduce, _log1p64_finish),
        (32, _log1p32_reduce, _log1p32_finish),
    )
}


def expm1(x):
    """Vectorizable ``exp(x) - 1`` of a float32 or float64 scalar; jitted code only."""
    raise TypeError("fastsmooth._exp.expm1 is for use inside Numba kernels; call it from a jitted function")


def log1p(x):
    """Vectorizable ``log(1 + x)`` of a float32 or float64 scalar; jitted code only."""
    raise TypeError("fastsmooth._exp.log1p is for use inside Numba kernels; call it from a jitted function")


@overload(expm1)
def _expm1_overload(x):
    if isinstance(x, types.Float):
        if x.bitwidth == 32:
            return lambda x: _expm1_32_kernel(x)
        return lambda x: _expm1_64_kernel(x)
    return None


@overload(log1p, inline="always")
def _log1p_overload(x):
    if isinstance(x, types.Float):
        reduce, finish = _log1p_parts[x.bitwidth]

        def impl(x):
            f, dk, c = reduce(x)
            return finish(x, f, dk, c)

        return impl
    return None
