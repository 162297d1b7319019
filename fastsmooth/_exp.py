"""A vectorizable ``exp`` for use inside kernels.

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
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from ._bits import as_float
from ._config import FASTMATH, jit

__all__ = ["exp", "exp_array"]


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
    xc = min(max(x, _LO64), _HI64)
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
    xc = min(max(x, _LO32), _HI32)
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
    raise TypeError("fastsmooth._exp.exp is for use inside Numba kernels; use exp_array")


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


@jit(fastmath=FASTMATH)
def _exp_map(x, out):
    for i in range(x.size):
        out[i] = exp(x[i])


def exp_array(x):
    """Element-wise :func:`exp` of a float32 or float64 array (for tests and benchmarks)."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"exp_array: `x` must be float32 or float64, got {x.dtype}")
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    _exp_map(flat, out)
    return out.reshape(x.shape)
