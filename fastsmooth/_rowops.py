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
(``logsumexp([0, -40]) = 4.25e-18`` instead of 0). Rows are consumed in chunks of
:data:`CHUNK` elements, small enough to stay in cache between two sweeps: the first
finds the chunk's maximum (a vectorized integer-key max, about 20 G elements/s) and the
:data:`BLOCK` holding it; the second sums ``exp((x - m) / tau)`` -- a plain vector sum
everywhere except in that one block, where the maximum is kept out of the sum and
counted. Chunk states merge associatively (:func:`lse_merge`), which is also how long
rows are split over threads and how Dask chunks combine. Memory is read once, and
while the sum sweep computes from cache it prefetches what follows the chunk in memory
(the next chunk or row), so that the next maximum sweep does not wait for memory.

Index ranges are ``range(U(lo), U(hi))`` (unsigned): with a signed start Numba must
allow for negative-index wraparound, and that alone stops LLVM from vectorizing.

Special values fall out of the arithmetic: a nan makes ``s`` nan (and may become the
block maximum, which then fails every ``>`` test and leaves ``s`` nan); ``+inf`` makes
``m = inf`` and every finite term ``exp(-inf) = 0`` so that ``s + 1`` counts the
``+inf`` entries; a row with no finite-or-inf element keeps ``m = -inf``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import uint64 as U

from ._bits import from_sortable_key, prefetch, sortable_key
from ._config import REDUCTION_FASTMATH, jit
from ._exp import exp

__all__ = [
    "BLOCK",
    "CHUNK",
    "SUM_BLOCK",
    "block_max",
    "block_sum_below",
    "chunk_state",
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
    "GROUP",
    "SPAN_ROWS",
    "SHORT_ROW",
    "group_spans",
    "group_state_buffers",
    "group_exp_buffers",
    "gather_group",
    "scatter_group",
    "scale_lanes",
    "group_max",
    "group_state",
    "group_states",
    "group_exp",
    "group_exps",
]

#: Elements summarised at once: 64 KiB of float64, in cache between the two sweeps.
CHUNK = 8192
#: Granularity of the maximum's search: the block holding the maximum is summed with the
#: maximum kept out; every other block is a plain sum.
BLOCK = 512
#: Float32 sums run in the input dtype over at most this many terms, then in float64.
SUM_BLOCK = 2048
#: Bytes of a chunk summed between two bursts of prefetches (32 cache lines): each piece
#: of the sum sweep first asks for the same number of bytes of what follows the chunk in
#: memory, so that the next chunk's maximum sweep finds its data in cache.
PREFETCH_BYTES = 2048


@jit
def block_max(x, lo, hi):
    """Largest element of ``x[lo:hi]``; ``-inf`` if empty. May return nan when the
    block holds a nan: callers let their sums propagate nan, so either answer gives a
    nan result.

    Taken over integer keys that sort like the floats (:mod:`._bits`): LLVM vectorizes
    an integer max-reduction (20 G/s here) but not a float one whose nan behaviour it
    must keep (4 G/s)."""
    k = sortable_key(x.dtype.type(-np.inf))
    for i in range(U(lo), U(hi)):
        k = max(k, sortable_key(x[i]))
    return from_sortable_key(k)


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


@jit(fastmath=REDUCTION_FASTMATH)
def _exp_sum(x, lo, hi, m, inv_t):
    """``sum(exp((x - m) * inv_t))`` over ``x[lo:hi]`` in the dtype of ``x`` (callers
    keep ranges to :data:`PREFETCH_BYTES` pieces or float64); ``inv_t == 1`` gets its own
    loop, 7-10% faster without the multiply."""
    t = x.dtype.type(0.0)
    if inv_t == x.dtype.type(1.0):
        for i in range(U(lo), U(hi)):
            t += exp(x[i] - m)
    else:
        for i in range(U(lo), U(hi)):
            t += exp((x[i] - m) * inv_t)
    return t


@jit
def _sum_below_ahead(x, lo, hi, m, inv_t, mb, mhi, ahead):
    """``(s, c)`` of ``x[lo:hi]`` for the maximum ``m`` found in block ``[mb, mhi)``:
    ``s`` sums ``exp((x - m) * inv_t)`` (float64) except over the elements equal to ``m``
    in that block, ``c`` counts those. In :data:`PREFETCH_BYTES` pieces, in memory
    order, each first prefetching the piece ``ahead`` elements further on (which may lie
    past the end of ``x``).

    The sum sweep of a chunk works from cache and leaves memory idle; the prefetches let
    memory fetch the next chunk (or the next row of a C-contiguous batch) meanwhile, so
    that its maximum sweep does not wait for memory. Small bursts in order matter:
    prefetching a whole 32 KiB row at once gained a third as much."""
    piece = PREFETCH_BYTES // x.itemsize
    line = 64 // x.itemsize
    s = 0.0
    c = 0.0
    for plo in range(lo, hi, piece):
        phi = min(plo + piece, hi)
        for j in range(plo + ahead, phi + ahead, line):
            prefetch(x, j)
        a = min(phi, mb)
        if a > plo:
            s += np.float64(_exp_sum(x, plo, a, m, inv_t))
        a, b = max(plo, mb), min(phi, mhi)
        if b > a:
            t, k = block_sum_below(x, a, b, m, inv_t)
            s += np.float64(t)
            c += np.float64(k)
        a = max(plo, mhi)
        if phi > a:
            s += np.float64(_exp_sum(x, a, phi, m, inv_t))
    return s, c


@jit
def chunk_state(x, lo, hi, inv_t):
    """LogSumExp state ``(m, s)`` of a cache-sized ``x[lo:hi]`` in two sweeps (see the
    module notes): the maximum and its block, then the sums, which prefetch the
    ``hi - lo`` elements that follow the chunk in memory (:func:`_sum_below_ahead`)."""
    m = x.dtype.type(-np.inf)
    mb = lo
    for blo in range(lo, hi, BLOCK):
        bm = block_max(x, blo, min(blo + BLOCK, hi))
        if bm > m:
            m = bm
            mb = blo
    if m != m:  # a nan: the state is nan
        return m, np.nan
    if not (-np.inf < m < np.inf):
        # +inf: s + 1 counts the +inf entries (nan if a nan is present);
        # -inf (all -inf, or empty): only the nan-ness of s matters
        t, c = block_sum_below(x, lo, hi, m, inv_t)
        return m, np.float64(t) + (np.float64(c) - 1.0)
    s, c = _sum_below_ahead(x, lo, hi, m, inv_t, mb, min(mb + BLOCK, hi), hi - lo)
    return m, s + (c - 1.0)


@jit
def lse_state(x, lo, hi, inv_t):
    """Online LogSumExp state ``(m, s)`` of ``x[lo:hi]``: chunk states merged as they
    come, one read of memory."""
    m, s = chunk_state(x, lo, min(lo + CHUNK, hi), inv_t)
    for clo in range(lo + CHUNK, hi, CHUNK):
        cm, cs = chunk_state(x, clo, min(clo + CHUNK, hi), inv_t)
        m, s = lse_merge(m, s, cm, cs, inv_t)
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
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
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
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
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
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
        t = a.dtype.type(0.0)
        for i in range(U(blo), U(bhi)):
            t += a[i] * b[i]
        s += np.float64(t)
    return s


@jit(fastmath=REDUCTION_FASTMATH)
def row_sum(a, lo, hi):
    """``sum(a[lo:hi])`` in float64 (blockwise)."""
    s = 0.0
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
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


# ---------------------------------------------------------------------------------------
# Row groups: many short rows at once.
#
# A row of a few elements gives a vector loop nothing to do: its cost is loop set-up and
# scalar remainders. ``GROUP`` rows are copied transposed into a ``(n, GROUP)`` buffer,
# and every step below runs across the rows (one lane per row), which vectorizes.

#: Rows handled together by the row-group kernels.
GROUP = 64
#: Rows of one parallel task of the row-group kernels: 8 groups, so that each task
#: allocates its scratch buffers once, not once per group (about 35 ns an array here,
#: ~10 % of the work at rows of 8).
SPAN_ROWS = 8 * GROUP
#: Rows of at most this many elements use the row-group kernels. Measured crossover
#: (one thread, 8M float64 elements): softmax ~32, LogSumExp and log-softmax ~48-64; at
#: 8 elements the group kernels are 3.4x (LSE), 4.3x (softmax), 4.2x (log-softmax) faster.
SHORT_ROW = 32


@jit(inline="always")
def _gather_stride(flat, base, g, buf, k):
    """``buf[j, i] = flat[base + i * k + j]``; inlined where ``k`` is a literal, so that
    LLVM sees a constant stride and vectorizes the loads as interleaved groups (wide loads
    and shuffles) instead of one scalar load per element."""
    for j in range(U(k)):
        bj = buf[j]
        for i in range(U(g)):
            bj[i] = flat[base + i * U(k) + j]


@jit(inline="always")
def _scatter_stride(buf, base, g, flat, k):
    """``flat[base + i * k + j] = buf[j, i]`` (a constant ``k``: interleaved stores)."""
    for j in range(U(k)):
        bj = buf[j]
        for i in range(U(g)):
            flat[base + i * U(k) + j] = bj[i]


@jit
def gather_group(x, r0, g, buf):
    """``buf[j, i] = x[r0 + i, j]`` for the ``g`` rows from ``r0``.

    Rows of 2, 4, 8 or 16 elements take a copy with that stride as a constant
    (:func:`_gather_stride`): at (1M, 8), one thread, the gather alone went from 15 to
    2.6 ms (float32, AVX-512), 23 to 3.0 ms (float32, haswell codegen), 31 to 8.4 ms
    (float64, AVX-512). Other lengths keep the row-by-row copy."""
    n = x.shape[1]
    if n == 8 or n == 4 or n == 16 or n == 2:
        flat = x.reshape(-1)
        base = U(r0) * U(n)
        if n == 8:
            _gather_stride(flat, base, g, buf, 8)
        elif n == 4:
            _gather_stride(flat, base, g, buf, 4)
        elif n == 16:
            _gather_stride(flat, base, g, buf, 16)
        else:
            _gather_stride(flat, base, g, buf, 2)
        return
    for i in range(U(g)):
        row = x[r0 + i]
        for j in range(U(n)):
            buf[j, i] = row[j]


@jit
def scatter_group(buf, r0, g, y):
    """``y[r0 + i, j] = buf[j, i]`` for the ``g`` rows from ``r0`` (constant strides for
    rows of 2, 4, 8, 16 elements, as :func:`gather_group`)."""
    n = y.shape[1]
    if n == 8 or n == 4 or n == 16 or n == 2:
        flat = y.reshape(-1)
        base = U(r0) * U(n)
        if n == 8:
            _scatter_stride(buf, base, g, flat, 8)
        elif n == 4:
            _scatter_stride(buf, base, g, flat, 4)
        elif n == 16:
            _scatter_stride(buf, base, g, flat, 16)
        else:
            _scatter_stride(buf, base, g, flat, 2)
        return
    for i in range(U(g)):
        row = y[r0 + i]
        for j in range(U(n)):
            row[j] = buf[j, i]


@jit
def scale_lanes(buf, g, scale):
    """``buf[j, i] *= scale[i]`` (vectorized across lanes)."""
    for j in range(U(buf.shape[0])):
        bj = buf[j]
        for i in range(U(g)):
            bj[i] *= scale[i]


@jit
def group_max(buf, g, m):
    """``m[i] = max_j buf[j, i]`` for ``i < g``, nan ignored (a select per element,
    which vectorizes across the lanes)."""
    for i in range(U(g)):
        m[i] = buf.dtype.type(-np.inf)
    for j in range(U(buf.shape[0])):
        bj = buf[j]
        for i in range(U(g)):
            v = bj[i]
            m[i] = v if v > m[i] else m[i]


@jit
def group_spans(n_rows):
    """How many parallel tasks of :data:`SPAN_ROWS` rows cover ``n_rows``."""
    return (n_rows + SPAN_ROWS - 1) // SPAN_ROWS


@jit
def group_state_buffers(x):
    """Scratch of one task of :func:`group_states` for rows of ``x``: ``(buf, m, s, lane)``,
    all in the dtype of ``x`` (``lane`` a spare (GROUP,) array). The sums of a short row
    (at most :data:`SHORT_ROW` terms, far below :data:`SUM_BLOCK`) run in the input dtype,
    as every float32 sum of up to :data:`SUM_BLOCK` terms does: float64 lanes halved the
    vector width of the float32 loops (measured at (1M, 8) float32, one thread: LogSumExp
    25-35 % faster with float32 lanes, on AVX-512 and with haswell (AVX2) code)."""
    return (np.empty((x.shape[1], GROUP), x.dtype), np.empty(GROUP, x.dtype), np.empty(GROUP, x.dtype),
            np.empty(GROUP, x.dtype))


@jit
def group_exp_buffers(x):
    """Scratch of one task of :func:`group_exps` for rows of ``x``: ``(buf, e, m, sums)``."""
    n = x.shape[1]
    return (np.empty((n, GROUP), x.dtype), np.empty((n, GROUP), x.dtype), np.empty(GROUP, x.dtype),
            np.empty(GROUP, x.dtype))


@jit
def group_state(buf, g, inv_t, m, s, first):
    """Per lane (row) ``i < g``: the LogSumExp state ``(m[i], s[i])`` of ``buf[:, i]``,
    with the first maximum kept out of ``s`` (the ``log1p`` finish), as
    :func:`lse_state` computes it for one row. ``first`` (GROUP,) is scratch."""
    n = buf.shape[0]
    ninf = buf.dtype.type(-np.inf)
    zero = buf.dtype.type(0.0)
    group_max(buf, g, m)
    for i in range(U(g)):
        s[i] = zero
        # stays 1 until the lane's first maximum has been skipped
        first[i] = buf.dtype.type(1.0)
    for j in range(U(n)):
        bj = buf[j]
        for i in range(U(g)):
            v = bj[i]
            mi = m[i]
            eq = v == mi
            arg = (ninf if first[i] > zero else zero) if eq else (v - mi) * inv_t
            s[i] += exp(arg)
            first[i] = zero if eq else first[i]


@jit
def group_states(x, r0, g, inv_t, buf, m, s, first):
    """The ``g`` rows of ``x`` from ``r0`` transposed into ``buf`` (n, GROUP), and their
    LogSumExp states in ``m``, ``s`` (:func:`group_state`; ``first`` is scratch)."""
    gather_group(x, r0, g, buf)
    group_state(buf, g, inv_t, m, s, first)


@jit
def group_exps(x, r0, g, inv_t, buf, e, m, sums):
    """For the ``g`` rows of ``x`` from ``r0``: per-lane maxima ``m``, the exponentials
    ``e`` (n, GROUP) of :func:`group_exp` and their float64 ``sums``; ``buf`` (n, GROUP)
    receives the transposed rows. (``e`` is not ``buf``: computed in place, LLVM's
    runtime alias check fails and the loop runs scalar, 3.5x slower.)"""
    gather_group(x, r0, g, buf)
    group_max(buf, g, m)
    group_exp(buf, g, m, inv_t, e, sums)


@jit
def group_exp(buf, g, m, inv_t, e, sums):
    """``e[j, i] = exp((buf[j, i] - m[i]) * inv_t)`` with the limits of a +inf maximum
    (1 at the +inf entries), and ``sums[i] = sum_j e[j, i]`` (in the dtype of ``sums``: that
    of the input, see :func:`group_state_buffers`)."""
    n = buf.shape[0]
    zero = buf.dtype.type(0.0)
    for i in range(U(g)):
        sums[i] = zero
    for j in range(U(n)):
        bj = buf[j]
        ej = e[j]
        for i in range(U(g)):
            v = bj[i]
            mi = m[i]
            ev = exp(zero if v == mi else (v - mi) * inv_t)
            ej[i] = ev
            sums[i] += ev
