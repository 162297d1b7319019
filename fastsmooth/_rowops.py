"""Per-row building blocks shared by the reduction kernels.

Everything here is a serial jitted helper that works on ``x[lo:hi]`` of a contiguous
1-D row (index ranges instead of slices keep the array layout known to Numba, so loops
vectorize). LLVM inlines them into the ``prange`` kernels of :mod:`._reductions`.

The online LogSumExp state
--------------------------
A row is summarised by a pair ``(m, s)``:

* ``m`` -- the largest element seen so far (nan ignored; ``-inf`` for none),
* ``s = sum(exp((x - m) / tau)) - 1`` -- the sum of the scaled terms *minus the one term
  that equals exactly 1*, the maximum itself.

Keeping the largest term out of ``s`` means the result can be finished with
``m + tau * log1p(s)``, which is accurate when the other terms are tiny
(``logsumexp([0, -40]) = 4.25e-18`` instead of 0). Rows are consumed in blocks of
:data:`BLOCK` elements: one vectorized pass finds the block maximum, a second computes
the block's exponentials against ``max(m, block max)``; the state is rescaled at most
once per block. Two states merge associatively (:func:`lse_merge`), which is how long
rows are split over threads and how Dask chunks combine.

Index ranges are ``range(U(lo), U(hi))`` (unsigned): with a signed start Numba must
allow for negative-index wraparound, and that alone stops LLVM from vectorizing.

Special values fall out of the arithmetic: a nan makes ``s`` nan; ``+inf`` makes
``m = inf`` and every finite term ``exp(-inf) = 0`` so that ``s + 1`` counts the
``+inf`` entries; a row with no finite-or-inf element keeps ``m = -inf``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import uint64 as U

from ._config import REDUCTION_FASTMATH, jit
from ._exp import exp

__all__ = [
    "BLOCK",
    "block_max",
    "block_sum_below",
    "lse_state",
    "lse_merge",
    "lse_value",
    "exp_store_sum",
    "weighted_exp_sum",
    "row_dot",
    "row_sum",
    "count_equal",
    "has_nan",
    "first_argmax",
]

#: Elements per block: 16 KiB of float64, so a block stays in L1 between its two passes.
BLOCK = 2048


@jit
def block_max(x, lo, hi, sign=1.0):
    """Largest element of ``sign * x[lo:hi]`` ignoring nan; ``-inf`` if there is none.
    ``sign=-1.0`` gives minus the smallest element (the multiplication by the default
    1.0 is folded away).

    Written with sixteen explicit lanes: LLVM does not vectorize a max-reduction whose
    nan behaviour it must keep, but it does turn independent lanes into vector code."""
    s = x.dtype.type(sign)
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = x.dtype.type(-np.inf)
    m8 = m9 = m10 = m11 = m12 = m13 = m14 = m15 = x.dtype.type(-np.inf)
    stop = U(lo + (hi - lo) // 16 * 16)
    for i in range(U(lo), stop, U(16)):
        v = x[i] * s
        m0 = v if v > m0 else m0
        v = x[i + 1] * s
        m1 = v if v > m1 else m1
        v = x[i + 2] * s
        m2 = v if v > m2 else m2
        v = x[i + 3] * s
        m3 = v if v > m3 else m3
        v = x[i + 4] * s
        m4 = v if v > m4 else m4
        v = x[i + 5] * s
        m5 = v if v > m5 else m5
        v = x[i + 6] * s
        m6 = v if v > m6 else m6
        v = x[i + 7] * s
        m7 = v if v > m7 else m7
        v = x[i + 8] * s
        m8 = v if v > m8 else m8
        v = x[i + 9] * s
        m9 = v if v > m9 else m9
        v = x[i + 10] * s
        m10 = v if v > m10 else m10
        v = x[i + 11] * s
        m11 = v if v > m11 else m11
        v = x[i + 12] * s
        m12 = v if v > m12 else m12
        v = x[i + 13] * s
        m13 = v if v > m13 else m13
        v = x[i + 14] * s
        m14 = v if v > m14 else m14
        v = x[i + 15] * s
        m15 = v if v > m15 else m15
    a = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    b = max(max(max(m8, m9), max(m10, m11)), max(max(m12, m13), max(m14, m15)))
    m = max(a, b)
    for i in range(stop, U(hi)):
        v = x[i] * s
        m = v if v > m else m
    return m


@jit(fastmath=REDUCTION_FASTMATH)
def block_sum_below(x, lo, hi, m, inv_t):
    """``(t, c)``: ``t`` sums ``exp((x - m) * inv_t)`` over elements not equal to ``m``,
    ``c`` counts the elements equal to ``m`` (both in the dtype of ``x``).

    The maxima are kept out of ``t`` by giving them the exponent ``-inf`` (exactly 0),
    which also avoids the nan of ``inf - inf`` when ``m`` is infinite; a nan element is
    not equal to ``m``, so it reaches ``t`` and poisons the row as it should. (Selecting
    on the exponent, not on the sum, is what lets LLVM vectorize the loop.)"""
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    ninf = x.dtype.type(-np.inf)
    t = zero
    c = zero
    for i in range(U(lo), U(hi)):
        v = x[i]
        eq = v == m
        t += exp(ninf if eq else (v - m) * inv_t)
        c += one if eq else zero
    return t, c


@jit
def lse_state(x, lo, hi, inv_t):
    """Online LogSumExp state ``(m, s)`` of ``x[lo:hi]``, one pass over memory."""
    m = x.dtype.type(-np.inf)
    s = 0.0
    inv_t64 = np.float64(inv_t)
    for blo in range(lo, hi, BLOCK):
        bhi = min(blo + BLOCK, hi)
        bm = block_max(x, blo, bhi)
        if bm > m:
            # the old maximum becomes an ordinary term: rescale, then drop the new one
            s = (s + 1.0) * exp((np.float64(m) - np.float64(bm)) * inv_t64)
            t, c = block_sum_below(x, blo, bhi, bm, inv_t)
            s += np.float64(t) + (np.float64(c) - 1.0)
            m = bm
        else:
            t, c = block_sum_below(x, blo, bhi, m, inv_t)
            s += np.float64(t) + np.float64(c)
    return m, s


@jit
def lse_merge(m1, s1, m2, s2, inv_t):
    """Merge two ``(m, s)`` states; associative and commutative up to rounding."""
    if m1 == m2:
        return m1, s1 + s2 + 1.0
    if m1 > m2:
        return m1, s1 + (s2 + 1.0) * exp((np.float64(m2) - np.float64(m1)) * inv_t)
    return m2, s2 + (s1 + 1.0) * exp((np.float64(m1) - np.float64(m2)) * inv_t)


@jit
def lse_value(m, s, tau):
    """Finish a state: ``m + tau * log1p(s)`` (float64), with the special rows:
    no element above ``-inf`` gives ``-inf`` (nan if a nan was seen)."""
    if m == -np.inf:
        return np.nan if s != s else -np.inf
    return np.float64(m) + tau * math.log1p(s)


@jit(fastmath=REDUCTION_FASTMATH)
def exp_store_sum(x, lo, hi, m, inv_t, y):
    """``y[i] = exp((x[i] - m) * inv_t)`` on ``[lo, hi)``; returns the float64 sum.
    Sums blockwise in the dtype of ``x`` (vector speed), blocks added in float64."""
    s = 0.0
    for blo in range(lo, hi, BLOCK):
        bhi = min(blo + BLOCK, hi)
        t = x.dtype.type(0.0)
        for i in range(U(blo), U(bhi)):
            e = exp((x[i] - m) * inv_t)
            y[i] = e
            t += e
        s += np.float64(t)
    return s


@jit(fastmath=REDUCTION_FASTMATH)
def weighted_exp_sum(x, lo, hi, m, inv_t):
    """``(S, W)`` with ``S = sum(e_i)`` and ``W = sum(i * e_i)`` over ``[lo, hi)``,
    ``e_i = exp((x_i - m) * inv_t)``. Within a block the index is taken relative to
    the block start so float32 stays exact; the offset is added in float64."""
    s = 0.0
    w = 0.0
    for blo in range(lo, hi, BLOCK):
        bhi = min(blo + BLOCK, hi)
        t = x.dtype.type(0.0)
        u = x.dtype.type(0.0)
        for i in range(U(blo), U(bhi)):
            e = exp((x[i] - m) * inv_t)
            t += e
            u += e * x.dtype.type(i - U(blo))
        s += np.float64(t)
        w += np.float64(u) + np.float64(blo) * np.float64(t)
    return s, w


@jit(fastmath=REDUCTION_FASTMATH)
def row_dot(a, b, lo, hi):
    """``sum(a[i] * b[i])`` over ``[lo, hi)`` in float64 (blockwise, as above)."""
    s = 0.0
    for blo in range(lo, hi, BLOCK):
        bhi = min(blo + BLOCK, hi)
        t = a.dtype.type(0.0)
        for i in range(U(blo), U(bhi)):
            t += a[i] * b[i]
        s += np.float64(t)
    return s


@jit(fastmath=REDUCTION_FASTMATH)
def row_sum(a, lo, hi):
    """``sum(a[lo:hi])`` in float64 (blockwise)."""
    s = 0.0
    for blo in range(lo, hi, BLOCK):
        bhi = min(blo + BLOCK, hi)
        t = a.dtype.type(0.0)
        for i in range(U(blo), U(bhi)):
            t += a[i]
        s += np.float64(t)
    return s


@jit(fastmath=REDUCTION_FASTMATH)
def count_equal(x, lo, hi, value):
    """Number of elements of ``x[lo:hi]`` equal to ``value``."""
    c = 0
    for i in range(U(lo), U(hi)):
        c += 1 if x[i] == value else 0
    return c


@jit
def has_nan(x, lo, hi):
    for i in range(U(lo), U(hi)):
        if x[i] != x[i]:
            return True
    return False


@jit
def first_argmax(x, lo, hi):
    """Index of the maximum of ``x[lo:hi]`` as ``np.argmax``: the first nan if there is
    one, else the first occurrence of the largest value."""
    best = x[lo]
    j = lo
    if best != best:
        return lo
    for i in range(lo + 1, hi):  # signed: the index is returned (and this loop exits early)
        v = x[i]
        if v != v:
            return i
        if v > best:
            best = v
            j = i
    return j
