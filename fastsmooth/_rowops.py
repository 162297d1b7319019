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

The reduction order is fixed
---------------------------
Every reduction of a row -- LogSumExp states, plain and weighted sums, dot products --
is defined chunk by chunk: the row is cut into :data:`CHUNK`-element chunks at absolute
positions (multiples of CHUNK from the start of the row), each chunk is reduced on its
own, and the chunk results are combined strictly left to right. A long row split into
pieces across threads (pieces are whole numbers of chunks) stores the result of every
chunk and combines them in the same order afterwards, so a row reduced whole, in
pieces, serially or on any number of threads adds the same numbers in the same order:
the results are bitwise identical. (Within a chunk the vectorized sums may associate
differently on another vector width: results are the same on a given machine, not
across ISAs.)

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

from ._bits import as_float, as_int, from_sortable_key, prefetch, prefetch_write, sortable_key
from ._config import REDUCTION_FASTMATH, jit
from ._exp import exp, log1p

__all__ = [
    "BLOCK",
    "CHUNK",
    "SUM_BLOCK",
    "block_max",
    "block_min",
    "row_extreme",
    "extreme_grad",
    "inf_row_softmax",
    "softmax_row",
    "log_softmax_span",
    "log_softmax_row",
    "inf_mean_index",
    "weight_at",
    "plane_moments",
    "block_sum_below",
    "chunk_state",
    "lse_state",
    "lse_merge",
    "lse_value",
    "scaled_gap",
    "exp_store_sum",
    "exp_scale_store",
    "weighted_exp_sum",
    "chunk_dot",
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
    "log_softmax_term",
    "stride_row",
    "stride_states",
    "stride_softmax",
    "stride_log_softmax",
    "wblock_max",
    "wblock_sums",
    "wchunk_state",
    "wlse_merge",
    "wlse_state",
    "wlse_value",
    "wgroup_state",
    "wgroup_finish",
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
def _sum_below_ahead(x, lo, hi, m, inv_t, mb, mhi, ahead, y):
    """``(s, c)`` of ``x[lo:hi]`` for the maximum ``m`` found in block ``[mb, mhi)``:
    ``s`` sums ``exp((x - m) * inv_t)`` (float64) except over the elements equal to ``m``
    in that block, ``c`` counts those. In :data:`PREFETCH_BYTES` pieces, in memory
    order, each first prefetching the piece ``ahead`` elements further on (which may lie
    past the end of ``x``). With an array ``y`` (None: not), each piece also fetches its
    lines of ``y`` for writing first and stores its scaled gaps ``y = (x - m) * inv_t``
    (:func:`scaled_gap`) once it is summed (the log-softmax of :func:`log_softmax_row`);
    the sums are the same either way.

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
        if y is not None:
            for j in range(plo, phi, line):  # the lines the gaps go to, while exp runs
                prefetch_write(y, j)
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
        if y is not None:
            for i in range(U(plo), U(phi)):
                y[i] = scaled_gap(x[i], m, inv_t)
    return s, c


@jit
def chunk_state(x, lo, hi, inv_t):
    """LogSumExp state ``(m, s)`` of a cache-sized ``x[lo:hi]`` in two sweeps (see the
    module notes): the maximum and its block, then the sums, which prefetch the
    ``hi - lo`` elements that follow the chunk in memory (:func:`_sum_below_ahead`)."""
    return _chunk_state(x, lo, hi, inv_t, None)


@jit
def _chunk_state(x, lo, hi, inv_t, y):
    """:func:`chunk_state`; with an array ``y`` (None: not), a finite maximum's sum sweep
    also stores the scaled gaps ``y = (x - m) * inv_t`` (:func:`_sum_below_ahead`)."""
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
    s, c = _sum_below_ahead(x, lo, hi, m, inv_t, mb, min(mb + BLOCK, hi), hi - lo, y)
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
def scaled_gap(v, m, inv_t):
    """``(v - m) * inv_t`` for ``v <= m``, also where ``v - m`` alone overflows
    (``v = -3e38``, ``m = 3e38`` in float32) while the scaled gap does not: then
    ``v * inv_t - m * inv_t``. Log-softmax needs it; where the gap only feeds ``exp``
    the overflow is harmless (``exp(-inf) = 0`` either way)."""
    d = v - m
    return d * inv_t if d > -np.inf else v * inv_t - m * inv_t


@jit
def lse_value(m, s, tau):
    """Finish a state: ``m + tau * log1p(s)`` (float64), with the special rows:
    no element above ``-inf`` gives ``-inf`` (nan if a nan was seen)."""
    if m == -np.inf:
        return np.nan if s != s else -np.inf
    return np.float64(m) + tau * math.log1p(s)


@jit(fastmath=REDUCTION_FASTMATH)
def _block_sum(y, lo, hi):
    """``sum(y[lo:hi])`` in the dtype of ``y`` (one :data:`SUM_BLOCK` at most)."""
    t = y.dtype.type(0.0)
    for i in range(U(lo), U(hi)):
        t += y[i]
    return t


@jit(fastmath=REDUCTION_FASTMATH)
def exp_scale_store(x, lo, hi, m, inv_t, scale, y):
    """``y[i] = exp((x[i] - m) * inv_t) * scale`` on ``[lo, hi)``: the write pass of a
    long row's softmax, and (``scale = 1``, exact) the exp pass of
    :func:`exp_store_sum` (``inv_t == 1``: no multiply, the same values)."""
    if inv_t == x.dtype.type(1.0):
        for i in range(U(lo), U(hi)):
            y[i] = exp(x[i] - m) * scale
    else:
        for i in range(U(lo), U(hi)):
            y[i] = exp((x[i] - m) * inv_t) * scale


@jit
def exp_store_sum(x, lo, hi, m, inv_t, y):
    """``y[i] = exp((x[i] - m) * inv_t)`` on ``[lo, hi)``; returns the float64 sum.
    Sums blockwise in the dtype of ``x`` (vector speed), blocks added in float64.

    The exponentials are computed from cache and leave memory idle, so, as
    :func:`_sum_below_ahead` does, each :data:`PREFETCH_BYTES` piece first prefetches the
    piece ``hi - lo`` elements further on (the next row of a C-contiguous batch): the
    maximum sweep of the next row then finds it in cache. (Softmax (4096, 4096) float32,
    one thread, AMD Zen 4: see docs/performance.md.) The sums are those of the earlier
    single loop: the same blocks, each summed in a loop of its own."""
    piece = PREFETCH_BYTES // x.itemsize
    line = 64 // x.itemsize
    ahead = hi - lo
    one = x.dtype.type(1.0)
    s = 0.0
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
        for plo in range(blo, bhi, piece):
            phi = min(plo + piece, bhi)
            for j in range(plo + ahead, phi + ahead, line):
                prefetch(x, j)
            exp_scale_store(x, plo, phi, m, inv_t, one, y)
        # the sum in a loop of its own: a loop that stores and sums at once let LLVM peel
        # iterations to align the stores, so the grouping of the vector sum (and the
        # last bits of the result) followed the address of ``y`` (issue 10)
        s += np.float64(_block_sum(y, blo, bhi))
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
def chunk_dot(a, b, lo, hi):
    """``sum(a[i] * b[i])`` over ``[lo, hi)``, at most one :data:`CHUNK`, in float64
    (float32 products are exact in float64): blocks of :data:`SUM_BLOCK` summed in
    vector lanes, the block sums added in order. ``b`` None sums ``a`` alone.

    These sums feed the backward passes ``y (g - sum g y)`` and ``g - e^y sum g``, where
    the difference cancels: summed in float32, the last bits of the sum would be a large
    relative error of the result. In float64 the result is rounded once, at the end."""
    s = 0.0
    for blo in range(lo, hi, SUM_BLOCK):
        bhi = min(blo + SUM_BLOCK, hi)
        t = 0.0
        if b is None:
            for i in range(U(blo), U(bhi)):
                t += np.float64(a[i])
        else:
            for i in range(U(blo), U(bhi)):
                t += np.float64(a[i]) * np.float64(b[i])
        s += t
    return s


@jit
def row_dot(a, b, lo, hi):
    """``sum(a[i] * b[i])`` over ``[lo, hi)`` in float64 (``b`` None: ``sum(a)``), as
    the fixed reduction order of the module notes: the :func:`chunk_dot` of each
    :data:`CHUNK` from ``lo`` (a multiple of CHUNK), added left to right. (Compiled
    without ``reassoc``, so that the chunk sums are added in exactly this order.)"""
    s = 0.0
    for clo in range(lo, hi, CHUNK):
        s += chunk_dot(a, b, clo, min(clo + CHUNK, hi))
    return s


@jit
def row_sum(a, lo, hi):
    """``sum(a[lo:hi])`` in float64, in the order of :func:`row_dot`."""
    return row_dot(a, None, lo, hi)


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

#: Rows handled together by the row-group kernels. Each step is an ``n``-long loop over
#: ``j`` around a vector loop over the ``GROUP`` lanes, whose set-up (runtime alias
#: checks, remainder) is paid once per ``j``. 256 lanes against 64, one Emerald Rapids
#: core (AVX-512), minimum of 3 alternating processes: (1M, 8) float32 LogSumExp 1.39x,
#: softmax and log-softmax 1.08x faster, float64 1.12-1.22x, (2M, 4) float32 1.4-1.6x,
#: (250 000, 32) float32 1.05x. 512 lanes made rows of 32 float32 2.3-2.7x slower (two
#: 64 KiB scratch buffers, beyond L1). The lanes are independent: the size changes no bit.
GROUP = 256
#: Rows of one parallel task of the row-group kernels: 2 groups (512 rows), so that each
#: task allocates its scratch buffers once, not once per group (about 35 ns an array
#: here, ~10 % of the work at rows of 8 in groups of 64).
SPAN_ROWS = 2 * GROUP
#: Rows of at most this many elements use the row-group kernels. Measured crossover
#: (one thread, 8M float64 elements): softmax ~32, LogSumExp and log-softmax ~48-64; at
#: 8 elements the group kernels are 3.4x (LSE), 4.3x (softmax), 4.2x (log-softmax) faster.
SHORT_ROW = 32


@jit(inline="always")
def _gather_stride(flat, base, g, buf, k):
    """``buf[j, i] = flat[base + i * k + j]``; inlined where ``k`` is a literal, so that
    LLVM sees a constant stride and vectorizes the loads as interleaved groups (wide loads
    and shuffles) instead of one scalar load per element.

    The row loop is the outer one and the ``k`` columns the inner, which LLVM unrolls
    fully: the ``i`` loop then reads ``k`` members of one interleaved group, lowered to
    wide loads and shuffles (``vpermt2ps``). With the loops the other way round each
    ``j`` loop read one strided column alone, lowered to gathers (and the scatter to
    ``vscatterqps``): on AMD Zen 4 the gather + scatter of (1M, 8) float32 took 30.6 ms
    that way, 5.7 ms this way (one thread), as fast as a plain copy."""
    for i in range(U(g)):
        for j in range(U(k)):
            buf[j, i] = flat[base + i * U(k) + j]


@jit(inline="always")
def _scatter_stride(buf, base, g, flat, k):
    """``flat[base + i * k + j] = buf[j, i]`` (a constant ``k``: interleaved stores,
    rows outer for the reason of :func:`_gather_stride`)."""
    for i in range(U(g)):
        for j in range(U(k)):
            flat[base + i * U(k) + j] = buf[j, i]


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


@jit(inline="always")
def _lse_term(v, mi, first, inv_t, zero, ninf):
    """One element's term of its row's LogSumExp sum and the row's new ``first`` flag:
    ``exp((v - mi) * inv_t)``, except that the first element equal to the maximum ``mi``
    adds ``exp(-inf) = 0`` (it is the 1 kept out of the sum) and clears ``first``, and
    later ones add ``exp(0) = 1``. The one recurrence of :func:`group_state` and of the
    in-place short rows (:func:`stride_states`)."""
    eq = v == mi
    arg = (ninf if first > zero else zero) if eq else (v - mi) * inv_t
    return exp(arg), (zero if eq else first)


@jit(inline="always")
def _exp_term(v, mi, inv_t, zero):
    """``exp((v - mi) * inv_t)``, and 1 where ``v == mi`` (also a +inf maximum): the
    softmax numerator of :func:`group_exp` and :func:`stride_softmax`."""
    return exp(zero if v == mi else (v - mi) * inv_t)


@jit(inline="always")
def log_softmax_term(v, mi, inv_t, shift, zero, ninf):
    """``(v - mi) * inv_t - shift`` (:func:`scaled_gap`), with the limit of a +inf
    maximum: ``-shift`` at the +inf entries (``-log(k)``), ``-inf`` elsewhere."""
    z = (zero if v == mi else ninf) if mi == np.inf else scaled_gap(v, mi, inv_t)
    return z - shift


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
            term, first[i] = _lse_term(bj[i], m[i], first[i], inv_t, zero, ninf)
            s[i] += term


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
            ev = _exp_term(bj[i], m[i], inv_t, zero)
            ej[i] = ev
            sums[i] += ev


# ---------------------------------------------------------------------------------------
# In-place row groups: rows of 2, 4 or 8 elements.
#
# For these lengths the steps above need no transposed copy. Each step is a loop over
# the group's rows with the row's ``k`` elements (a literal) unrolled inside it, and
# LLVM vectorizes it across the rows with interleaved loads and stores (wide loads and
# shuffles, the access pattern of :func:`_gather_stride`), straight from ``x`` and into
# ``y``. Every element goes through the same operations in the same order as in the
# transposed kernels (the same ``_lse_term`` / ``_exp_term`` / ``log_softmax_term``,
# the maximum and the sums over ``j = 0 .. k-1`` from the same start), so the bits are
# the same; only the copies are gone. One Rocket Lake core (AVX-512), 8M elements,
# minimum of 5 calls, transposed -> in place: rows of 8 float32 softmax 22-31 -> 13 ms,
# log-softmax 27-28 -> 18, LogSumExp 15 -> 9.7; float64 45 -> 29, 47 -> 31, 25 -> 19;
# rows of 4 and 2 1.5-2.1x faster alike, and on haswell (AVX2) code 1.3-2.0x. Rows of
# 16 ran 1.6-4x *slower* this way (LLVM gave up the interleaved groups of 16) and keep
# the transposed kernels.


@jit
def stride_row(n):
    """Whether rows of ``n`` elements take the in-place row-group kernels."""
    return n == 8 or n == 4 or n == 2


@jit(inline="always")
def _stride_max(flat, base, g, m, k):
    """``m[i]``: the largest of the ``k`` elements from ``base + i * k`` (nan ignored),
    as :func:`group_max` computes it."""
    ninf = flat.dtype.type(-np.inf)
    for i in range(U(g)):
        b = base + i * U(k)
        mx = ninf
        for j in range(U(k)):
            v = flat[b + j]
            mx = v if v > mx else mx
        m[i] = mx


@jit(inline="always")
def _stride_state(flat, base, g, inv_t, m, s, k):
    zero = flat.dtype.type(0.0)
    ninf = flat.dtype.type(-np.inf)
    _stride_max(flat, base, g, m, k)
    for i in range(U(g)):
        b = base + i * U(k)
        mi = m[i]
        acc = zero
        first = flat.dtype.type(1.0)
        for j in range(U(k)):
            term, first = _lse_term(flat[b + j], mi, first, inv_t, zero, ninf)
            acc += term
        s[i] = acc


@jit(inline="always")
def _stride_softmax(flat, base, g, inv_t, m, s, yf, k):
    zero = flat.dtype.type(0.0)
    _stride_max(flat, base, g, m, k)
    for i in range(U(g)):
        b = base + i * U(k)
        mi = m[i]
        acc = zero
        for j in range(U(k)):
            ev = _exp_term(flat[b + j], mi, inv_t, zero)
            yf[b + j] = ev
            acc += ev
        s[i] = acc
    for i in range(U(g)):
        s[i] = 1.0 / s[i] if m[i] > -np.inf else np.nan
    for i in range(U(g)):
        b = base + i * U(k)
        scale = s[i]
        for j in range(U(k)):
            yf[b + j] *= scale


@jit(inline="always")
def _stride_log_softmax(flat, base, g, inv_t, m, s, yf, k):
    """The group's output lines are fetched for writing first (:func:`prefetch_write`):
    the last sweep stores and computes little, and its stores stalled on those fetches
    ((1M, 8), one thread, AVX-512: float32 17.7 -> 16.0 ms, float64 30.2 -> 27.7).
    Storing the gaps during the state sweep instead (as :func:`log_softmax_row` does)
    was slower here, 21.7 ms: the stores broke up the interleaved vector loop."""
    zero = flat.dtype.type(0.0)
    ninf = flat.dtype.type(-np.inf)
    line = 64 // flat.itemsize
    for j in range(base, base + U(g) * U(k), line):  # the group's output lines, for writing
        prefetch_write(yf, j)
    _stride_state(flat, base, g, inv_t, m, s, k)
    for i in range(U(g)):
        si = s[i]
        s[i] = np.nan if (m[i] == -np.inf or si != si) else log1p(si)
    for i in range(U(g)):
        b = base + i * U(k)
        mi = m[i]
        shift = s[i]
        for j in range(U(k)):
            yf[b + j] = log_softmax_term(flat[b + j], mi, inv_t, shift, zero, ninf)


@jit
def stride_states(x, r0, g, inv_t, m, s):
    """The LogSumExp states ``(m[i], s[i])`` of the ``g`` rows of ``x`` from ``r0``, read
    in place (``stride_row(n)``): the bits of :func:`group_states`."""
    n = x.shape[1]
    flat = x.reshape(-1)
    base = U(r0) * U(n)
    if n == 8:
        _stride_state(flat, base, g, inv_t, m, s, 8)
    elif n == 4:
        _stride_state(flat, base, g, inv_t, m, s, 4)
    else:
        _stride_state(flat, base, g, inv_t, m, s, 2)


@jit
def stride_softmax(x, r0, g, inv_t, m, s, y):
    """``y``: the softmax of the ``g`` rows of ``x`` from ``r0`` (``stride_row(n)``), with
    ``m`` and ``s`` (GROUP,) as scratch; the bits of the transposed group kernel."""
    n = x.shape[1]
    flat = x.reshape(-1)
    yf = y.reshape(-1)
    base = U(r0) * U(n)
    if n == 8:
        _stride_softmax(flat, base, g, inv_t, m, s, yf, 8)
    elif n == 4:
        _stride_softmax(flat, base, g, inv_t, m, s, yf, 4)
    else:
        _stride_softmax(flat, base, g, inv_t, m, s, yf, 2)


@jit
def stride_log_softmax(x, r0, g, inv_t, m, s, y):
    """``y``: the log-softmax of the ``g`` rows of ``x`` from ``r0`` (``stride_row(n)``),
    with ``m`` and ``s`` (GROUP,) as scratch; the bits of the transposed group kernel."""
    n = x.shape[1]
    flat = x.reshape(-1)
    yf = y.reshape(-1)
    base = U(r0) * U(n)
    if n == 8:
        _stride_log_softmax(flat, base, g, inv_t, m, s, yf, 8)
    elif n == 4:
        _stride_log_softmax(flat, base, g, inv_t, m, s, yf, 4)
    else:
        _stride_log_softmax(flat, base, g, inv_t, m, s, yf, 2)


# ---------------------------------------------------------------------------------------
# The weighted LogSumExp state: log |sum b * exp(x / tau)| (SciPy's ``b=``).
#
# A row with weights ``b`` is summarised by ``(m, c, s)``:
#
# * ``m`` -- the largest ``x`` among the entries with ``b != 0`` (an entry of weight 0 is
#   masked out, even when it is inf or nan; ``-inf`` for none),
# * ``c`` -- the sum of the weights of the entries equal to ``m``,
# * ``s`` -- the sum of ``b * exp((x - m) / tau)`` over the other (unmasked) entries.
#
# The total is ``(c + s) * exp(m / tau)``: the terms at the maximum are kept out of the
# sum, as in SciPy, so that the result finishes as ``m + tau * (log|c| + log1p(s / c))``
# (full relative accuracy when the result is close to ``m``), and a total whose weights
# at the maximum cancel (``c == 0``) is still exact: ``m + tau * log|s|``. The weights
# at the maximum are collected exactly in every chunk, and chunk states merge
# associatively (:func:`wlse_merge`).


@jit
def wblock_max(x, b, lo, hi):
    """Largest ``x[i]`` over ``[lo, hi)`` with ``b[i] != 0``; ``-inf`` for none (nan as
    :func:`block_max`: it may be returned, and the sums then propagate it)."""
    ninf = x.dtype.type(-np.inf)
    zero = b.dtype.type(0.0)
    k = sortable_key(ninf)
    for i in range(U(lo), U(hi)):
        k = max(k, sortable_key(ninf if b[i] == zero else x[i]))
    return from_sortable_key(k)


@jit(fastmath=REDUCTION_FASTMATH)
def wblock_sums(x, b, lo, hi, m, inv_t):
    """``(t, c)`` over ``[lo, hi)``: ``t`` sums ``b * exp((x - m) * inv_t)`` over the
    entries not equal to ``m``, ``c`` sums ``b`` over those equal to ``m`` (both in the
    dtype of ``x``). A weight of 0 masks its entry: its exponent is ``-inf``, so an inf
    ``x`` there gives ``0 * 0``, not ``0 * inf``; a nan weight or a nan ``x`` with a
    non-zero weight reaches ``t`` and makes it nan."""
    zero = x.dtype.type(0.0)
    ninf = x.dtype.type(-np.inf)
    t = zero
    c = zero
    for i in range(U(lo), U(hi)):
        v = x[i]
        w = b[i]
        eq = v == m
        t += w * exp(ninf if (eq | (w == zero)) else (v - m) * inv_t)
        c += w if eq else zero
    return t, c


@jit
def wchunk_state(x, b, lo, hi, inv_t):
    """Weighted state ``(m, c, s)`` of a cache-sized ``x[lo:hi]``, ``b[lo:hi]``: the
    masked maximum, then the sums while both stay in cache, in :data:`PREFETCH_BYTES`
    pieces (summed in the dtype of ``x``, added in float64), each first prefetching the
    piece of ``x`` and of ``b`` that lies ``hi - lo`` elements further on (the next
    chunk, or the next row), as :func:`chunk_state` does."""
    m = wblock_max(x, b, lo, hi)
    if m != m:
        return m, np.nan, np.nan
    s = 0.0
    c = 0.0
    piece = PREFETCH_BYTES // x.itemsize
    line = 64 // x.itemsize
    ahead = hi - lo
    for plo in range(lo, hi, piece):
        phi = min(plo + piece, hi)
        for j in range(plo + ahead, phi + ahead, line):
            prefetch(x, j)
            prefetch(b, j)
        t, k = wblock_sums(x, b, plo, phi, m, inv_t)
        s += np.float64(t)
        c += np.float64(k)
    return m, c, s


@jit
def wlse_merge(m1, c1, s1, m2, c2, s2, inv_t):
    """Merge two weighted states (associative and commutative up to rounding)."""
    if m1 == m2:
        return m1, c1 + c2, s1 + s2
    if m1 > m2:
        return m1, c1, s1 + (c2 + s2) * exp((np.float64(m2) - np.float64(m1)) * inv_t)
    if m2 > m1:
        return m2, c2, s2 + (c1 + s1) * exp((np.float64(m1) - np.float64(m2)) * inv_t)
    return m1 if m1 != m1 else m2, np.nan, np.nan  # a nan maximum


@jit
def wlse_state(x, b, lo, hi, inv_t):
    """Weighted state ``(m, c, s)`` of ``x[lo:hi]``: chunk states merged as they come."""
    m, c, s = wchunk_state(x, b, lo, min(lo + CHUNK, hi), inv_t)
    for clo in range(lo + CHUNK, hi, CHUNK):
        cm, cc, cs = wchunk_state(x, b, clo, min(clo + CHUNK, hi), inv_t)
        m, c, s = wlse_merge(m, c, s, cm, cc, cs, inv_t)
    return m, c, s


@jit
def wlse_value(m, c, s, tau):
    """Finish a weighted state: ``(log|total| * tau, sign(total))`` in float64.

    nan anywhere gives ``(nan, nan)``; no unmasked entry above ``-inf`` (or a total of
    exactly 0) gives ``(-inf, 0)``; a ``+inf`` maximum gives ``(inf, sign(c))``, or
    ``(nan, nan)`` when its weights cancel (``inf - inf``)."""
    if m != m or c != c or s != s:
        return np.nan, np.nan
    if m == -np.inf:
        return -np.inf, 0.0
    if m == np.inf:
        if c == 0.0:
            return np.nan, np.nan
        return np.inf, 1.0 if c > 0.0 else -1.0
    if c + s == 0.0:  # an exact zero total (also no unmasked finite entry)
        return -np.inf, 0.0
    # log|c + s| = log|big| + log1p(small / big): the log1p finish, and no overflow of
    # s / c when the weights at the maximum are tiny or cancel (c == 0)
    big, small = (s, c) if abs(s) > abs(c) else (c, s)
    return (np.float64(m) + tau * (math.log(abs(big)) + math.log1p(small / big)),
            1.0 if big > 0.0 else -1.0)


@jit
def wgroup_max(bx, bw, g, m):
    """``m[i]``: the largest ``bx[j, i]`` with ``bw[j, i] != 0`` (nan ignored; ``-inf``
    for none), vectorized across the lanes ``i < g``."""
    ninf = bx.dtype.type(-np.inf)
    zero = bx.dtype.type(0.0)
    for i in range(U(g)):
        m[i] = ninf
    for j in range(U(bx.shape[0])):
        xj = bx[j]
        wj = bw[j]
        for i in range(U(g)):
            v = ninf if wj[i] == zero else xj[i]
            m[i] = v if v > m[i] else m[i]


@jit
def wgroup_state(bx, bw, g, inv_t, m, c, s):
    """Per lane (row) ``i < g`` of the transposed rows ``bx`` and weights ``bw`` (n,
    GROUP): the weighted state ``(m[i], c[i], s[i])`` of :func:`wlse_state`, vectorized
    across the lanes (the masked maximum, then the sums; nan is ignored by the maximum
    and reaches ``s`` through its exponent).

    Each loop writes one array: a loop that updated both ``c`` and ``s`` needed more
    runtime alias checks than LLVM allows and ran scalar, with branches (6x slower)."""
    wgroup_max(bx, bw, g, m)
    _wgroup_sums(bx, bw, g, inv_t, m, s)
    _wgroup_weights_at_max(bx, bw, g, m, c)


@jit
def _wgroup_sums(bx, bw, g, inv_t, m, s):
    ninf = bx.dtype.type(-np.inf)
    zero = bx.dtype.type(0.0)
    for i in range(U(g)):
        s[i] = 0.0
    for j in range(U(bx.shape[0])):
        xj = bx[j]
        wj = bw[j]
        for i in range(U(g)):
            v = xj[i]
            w = wj[i]
            mi = m[i]
            a = ninf if v == mi else (v - mi) * inv_t
            s[i] += np.float64(w * exp(ninf if w == zero else a))


@jit
def _wgroup_weights_at_max(bx, bw, g, m, c):
    zero = bx.dtype.type(0.0)
    for i in range(U(g)):
        c[i] = 0.0
    for j in range(U(bx.shape[0])):
        xj = bx[j]
        wj = bw[j]
        for i in range(U(g)):
            c[i] += np.float64(wj[i] if xj[i] == m[i] else zero)


# log(x) of a positive float64, vectorizable (musl's reduction, our log1p): the lane-wise
# finish of the weighted row groups needs a log per row, and a libm call per lane would
# keep that loop scalar.
_LN2_HI = 6.93147180369123816490e-01  # 21 trailing zero bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_MANT64 = 0x000FFFFFFFFFFFFF
_SQRT1_2_HI64 = 0x3FE6A09E00000000
_OFF64 = 0x3FF0000000000000 - _SQRT1_2_HI64


@jit(inline="always")
def _log_positive(x):
    """``log(x)`` for a finite float64 ``x > 0`` (subnormals too): ``x = 2**k * u`` with
    ``u`` in ``[sqrt(1/2), sqrt(2))``, then ``k log 2 + log1p(u - 1)`` (``u - 1`` is
    exact). Within a few ulp; inf and 0 are the caller's to select."""
    sub = x < 2.2250738585072014e-308
    y = x * 18014398509481984.0 if sub else x  # 2**54
    hu = as_int(y) + _OFF64
    dk = np.float64((hu >> 52) - 1023) - (54.0 if sub else 0.0)
    f = as_float((hu & _MANT64) + _SQRT1_2_HI64) - 1.0
    return (log1p(f) + dk * _LN2_LO) + dk * _LN2_HI


@jit
def wgroup_finish(m, c, s, tau, signed, v, sign):
    """:func:`wlse_value` for every lane of a row group at once (selects instead of
    branches, so that it vectorizes): ``v[i]``, ``sign[i]`` from ``(m[i], c[i], s[i])``,
    with nan for a negative sum unless ``signed``."""
    for i in range(U(m.shape[0])):
        mi = np.float64(m[i])
        ci = c[i]
        si = s[i]
        s_big = abs(si) > abs(ci)
        big = si if s_big else ci
        small = ci if s_big else si
        a = abs(big)
        ratio = small / (big if a > 0.0 else 1.0)
        val = mi + tau * (_log_positive(a if (a > 0.0) & (a < np.inf) else 1.0) + log1p(ratio))
        sg = 1.0 if big > 0.0 else -1.0
        val = np.inf if (a == np.inf) & (ratio == ratio) else val
        zero = ci + si == 0.0
        val = -np.inf if zero else val
        sg = 0.0 if zero else sg
        pinf = mi == np.inf
        val = (np.inf if ci != 0.0 else np.nan) if pinf else val
        sg = ((1.0 if ci > 0.0 else -1.0) if ci != 0.0 else np.nan) if pinf else sg
        minf = mi == -np.inf
        val = -np.inf if minf else val
        sg = 0.0 if minf else sg
        bad = (mi != mi) | (ci != ci) | (si != si)
        val = np.nan if bad else val
        sg = np.nan if bad | (val != val) else sg
        val = np.nan if (sg < 0.0) & (not signed) else val
        v[i] = val
        sign[i] = sg


@jit
def block_min(x, n):
    """Smallest element of ``x[:n]`` (``inf`` if empty; a nan when it holds a negative
    nan), over the integer keys of :mod:`._bits` that sort like the floats: LLVM
    vectorizes an integer min-reduction, not a float one that must keep nan."""
    k = sortable_key(x.dtype.type(np.inf))
    for i in range(U(n)):
        k = min(k, sortable_key(x[i]))
    return from_sortable_key(k)


@jit(inline="always")
def row_extreme(x, n, sign):
    """``max(x[:n])`` (``sign = 1.0``) or ``min`` (``sign = -1.0``); nan if any is nan
    (the block helpers may or may not see a nan: it is counted separately)."""
    m = block_min(x, n) if sign < 0.0 else block_max(x, 0, n)
    nans = 0
    for i in range(U(n)):
        nans += 1 if x[i] != x[i] else 0
    return np.nan if nans else m


@jit(inline="always")
def extreme_grad(xr, n, gr, o, first, dr):
    """The subgradient of ``max``/``min`` of the row ``xr[:n]`` into ``dr``: ``gr`` goes to
    the entries equal to the extreme ``o`` (the nans if ``o`` is nan): in equal shares,
    or all of it to the first one (``first``)."""
    zero = xr.dtype.type(0.0)
    nan_row = o != o
    if first:
        for i in range(U(n)):
            dr[i] = zero
        for i in range(n):
            v = xr[i]
            if v == o or (nan_row and v != v):
                dr[i] = gr
                break
    else:
        count = 0
        for i in range(U(n)):
            v = xr[i]
            count += 1 if (v == o) | (nan_row & (v != v)) else 0
        share = xr.dtype.type(gr / max(count, 1))
        for i in range(U(n)):
            v = xr[i]
            dr[i] = share if (v == o) | (nan_row & (v != v)) else zero


@jit
def inf_row_softmax(x, lo, hi, k, y):
    """The limit of softmax on ``x[lo:hi]``, part of a row whose maximum is +inf:
    uniform over the row's ``k`` +inf entries. ``k`` is nan when the row holds a nan
    (anywhere, maybe outside ``[lo, hi)``), and then the output is nan."""
    if k != k:
        for i in range(U(lo), U(hi)):
            y[i] = np.nan
        return
    w = x.dtype.type(1.0 / k)
    for i in range(U(lo), U(hi)):
        y[i] = w if x[i] == np.inf else x.dtype.type(0.0)


@jit
def softmax_row(x, inv_t, y):
    """Softmax of one cache-resident row: max, exp (stored) and sum, scale. One exp
    per element."""
    n = x.size
    m = block_max(x, 0, n)
    if m == np.inf:
        k = np.nan if has_nan(x, 0, n) else np.float64(count_equal(x, 0, n, m))
        inf_row_softmax(x, 0, n, k, y)
    elif m == -np.inf:
        for i in range(U(n)):
            y[i] = np.nan
    else:
        s = exp_store_sum(x, 0, n, m, inv_t, y)
        scale = x.dtype.type(1.0 / s)
        for i in range(U(n)):
            y[i] *= scale


@jit
def log_softmax_span(x, m, s, inv_t, lo, hi, y):
    """``y = (x - m)/tau - log1p(s)`` on ``[lo, hi)`` of a row with state ``(m, s)``."""
    if m == -np.inf or s != s:
        for i in range(U(lo), U(hi)):
            y[i] = np.nan
    elif m == np.inf:
        top = x.dtype.type(-math.log1p(s))
        for i in range(U(lo), U(hi)):
            y[i] = top if x[i] == m else x.dtype.type(-np.inf)
    else:
        shift = x.dtype.type(math.log1p(s))
        for i in range(U(lo), U(hi)):
            y[i] = scaled_gap(x[i], m, inv_t) - shift


@jit
def log_softmax_row(x, inv_t, y):
    """Log-softmax of one cache-resident row: ``y = (x - m)/tau - log1p(s)`` with the
    state ``(m, s)`` of :func:`lse_state`, the same bits as :func:`log_softmax_span`
    after it.

    A row of at most :data:`CHUNK` elements with a finite maximum stores its scaled gaps
    during the sum sweep (:func:`_sum_below_ahead`), each piece's output lines fetched
    for writing (:func:`prefetch_write`) before its exponentials, and subtracts
    ``log1p(s)`` in place: the output's memory traffic then overlaps the exponentials,
    as softmax's does (:func:`softmax_row`), instead of a last sweep that waits on
    memory alone. Rows of (4096, 4096), the kernel alone, one Rocket Lake core
    (AVX-512): float32 19.3 -> 14.1 ms, float64 42 -> 31 ms (softmax: 13, 29). Storing
    the gaps without the write prefetch gained nothing: each piece's stores stalled on
    the fetch of their lines."""
    n = x.size
    if n > CHUNK:
        m, s = lse_state(x, 0, n, inv_t)
    else:
        m, s = _chunk_state(x, 0, n, inv_t, y)  # lse_state of one chunk, with the gaps in y
        if -np.inf < m < np.inf and s == s:
            shift = x.dtype.type(math.log1p(s))
            for i in range(U(n)):
                y[i] = y[i] - shift
            return
    log_softmax_span(x, m, s, inv_t, 0, n, y)


@jit
def inf_mean_index(x, lo, hi):
    """``(count, sum of indices)`` of the +inf entries of ``x[lo:hi]``."""
    c = 0.0
    w = 0.0
    for i in range(U(lo), U(hi)):
        if x[i] == np.inf:
            c += 1.0
            w += i
    return c, w


@jit
def weight_at(x, b, value):
    """Sum of the weights ``b`` of the entries of ``x`` equal to ``value`` (float64)."""
    t = 0.0
    for i in range(U(x.size)):
        t += np.float64(b[i]) if x[i] == value else 0.0
    return t


@jit
def plane_moments(x, width, inv_t, e):
    """Max of a flattened ``(H, W)`` plane; stores ``e = exp((x - m)/tau)`` (or, for a
    +inf maximum, the indicator of +inf entries) and returns
    ``(m, sum e, sum row * e, sum col * e)``."""
    n = x.size
    m = block_max(x, 0, n)
    if m == -np.inf:
        return m, np.nan, np.nan, np.nan
    s = 0.0
    wr = 0.0
    wc = 0.0
    w = U(width)
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    for h in range(U(n // width)):
        t = zero
        u = zero
        base = h * w
        if m == np.inf:
            for j in range(w):
                v = x[base + j]
                ev = one if v == m else (v if v != v else zero)
                e[base + j] = ev
                t += ev
                u += ev * x.dtype.type(j)
        else:
            for j in range(w):
                ev = exp((x[base + j] - m) * inv_t)
                e[base + j] = ev
                t += ev
                u += ev * x.dtype.type(j)
        s += np.float64(t)
        wr += np.float64(t) * np.float64(h)
        wc += np.float64(u)
    return m, s, wr, wc
