"""Soft-DTW (Cuturi & Blondel, 2017): dynamic time warping with the minimum over
alignments replaced by the smooth minimum at temperature ``gamma``, its gradient (the
expected alignment), and the soft-DTW divergence (Blondel, Mensch & Vert, 2021).

Layout of the computation
-------------------------
Series are handed to the kernels transposed, ``xT`` (B, d, n), and ``y`` reversed in
time and transposed, ``yrT`` (B, d, m): the cells of one anti-diagonal ``i + j = k``
then read ``xT[t, i]`` and ``yrT[t, m - 1 - j]`` at *increasing* contiguous indices, so
every loop over an anti-diagonal is a plain vectorizable loop (its cells are
independent; along a row they are not). Padded coordinates ``P[I, J]`` (``I = i + 1``)
hold the boundary ``P[0, 0] = 0``, ``P[I, 0] = P[0, J] = +inf``.

* Value only: three rolling anti-diagonals of the shorter series' length
  (:func:`_block_value`, which also sweeps one tile of the wavefront given its top row
  and left column).
* Value and gradient: the forward table ``R`` and the soft minima ``S = R - D`` of every
  cell, stored anti-diagonal by anti-diagonal (``base[K] + I`` is cell ``(I, K - I)``),
  then the reverse recursion for the expected alignment ``E`` in one sweep, which also
  accumulates the gradient with respect to ``x`` and ``y``.
* Many pairs: ``prange`` over pairs. One long pair: tiles of :data:`TILE` x
  :data:`TILE` cells swept by anti-diagonals of tiles (the tiles of one anti-diagonal
  are independent), ``prange`` over the tiles of each.

Every cell is computed by the same :func:`_softmin` from the same three neighbours
whatever the schedule, so the serial twin, the parallel twin and the wavefront give
bit-identical results; task sizes are fixed, never taken from the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import check_temperature, finish_out, float_dtypes
from ._config import jit, kernel, use_parallel
from ._exp import exp, log1p
from ._registry import names_in

__all__ = names_in("dtw") + ["TILE", "WAVEFRONT_MIN_CELLS"]

#: Side of the square tiles of the wavefront schedule (one long pair).
TILE = 256
#: A single pair with at least this many cells (n * m) runs the wavefront schedule.
WAVEFRONT_MIN_CELLS = 4 * TILE * TILE

_SERIES, _COST = 0, 1

# ---------------------------------------------------------------------------------------
# One cell


@jit(inline="always")
def _exp_or_zero(t, lo, zero):
    """``exp(t)``, or 0 for ``t < lo``; a nan stays nan. See :func:`_constants`."""
    e = exp(lo if t < lo else t)
    return zero if t < lo else e


@jit(inline="always")
def _constants(a):
    """``(-inf, 0, lo, tiny, e_min)`` in the dtype of the array ``a``.

    Subnormal numbers are slow: an operation whose result is subnormal takes a microcode
    assist of about 100 cycles, and our branch-free exp and log1p compute their products
    before they select. Costs far apart at a small gamma sent most exponents there
    (softmin 30 ns instead of 11; a cell 27 ns instead of 13). So the kernels keep every
    intermediate normal:

    * ``lo``: a term ``exp(t)`` with ``t < lo`` (below ``2**-598`` in float64,
      ``2**-59`` in float32) is taken as 0 -- invisible next to the leading term 1;
    * ``tiny``: ``log1p(s)`` is ``s`` itself (correctly rounded) for ``s < tiny``
      (``2**-60`` / ``2**-24``), where its polynomial would square ``s`` into
      subnormals;
    * ``e_min``: expected-alignment entries below it (``2**-400`` / ``2**-60``) are
      stored as 0, so that a product ``E * exp(t)`` never underflows.
    """
    t = a.dtype.type
    if a.itemsize == 8:
        return t(-np.inf), t(0.0), t(-415.0), t(2.0 ** -60), t(2.0 ** -400)
    return t(-np.inf), t(0.0), t(-41.0), t(2.0 ** -24), t(2.0 ** -60)


@jit(inline="always")
def _softmin(a, b, c, gamma, inv_g, k):
    """``-gamma log(exp(-a/gamma) + exp(-b/gamma) + exp(-c/gamma))`` of the diagonal,
    upper and left neighbours, as ``m - gamma * log1p(e1 + e2)``: ``m`` the minimum,
    whose term is exactly 1, and the two other terms ``exp((m - o) / gamma) <= 1``.

    No overflow for any gamma. A ``+inf`` neighbour gets the exponent ``-inf`` (so
    three ``+inf`` give ``+inf``, not ``inf - inf``); a nan is never taken as the
    minimum's term and makes the sum nan. The two other terms are the same set, added
    in an order-free way, when ``b`` and ``c`` are swapped: the value is symmetric in
    them, so ``soft_dtw(x, y) == soft_dtw(y, x)`` bit for bit. ``k`` is
    :func:`_constants`."""
    ninf, zero, lo, tiny, _ = k
    m = a if a <= b else b
    m = m if m <= c else c
    am = a == m
    bm = b == m
    o1 = b if am else a
    o2 = b if ((not am) and (not bm)) else c
    t1 = ninf if o1 == -ninf else (m - o1) * inv_g
    t2 = ninf if o2 == -ninf else (m - o2) * inv_g
    s = _exp_or_zero(t1, lo, zero) + _exp_or_zero(t2, lo, zero)
    small = s < tiny
    lg = log1p(zero if small else s)
    return m - gamma * (s if small else lg)


# ---------------------------------------------------------------------------------------
# Costs of one anti-diagonal piece


@jit
def _fill_series(xT, yrT, i0, r0, cnt, dbuf):
    """``dbuf[q] = sum_t (x[i0 + q, t] - yr[r0 + q, t])**2``: the squared Euclidean cost
    of ``cnt`` consecutive cells of an anti-diagonal (``yr`` is ``y`` reversed), summed
    over the features in order, as differences."""
    zero = dbuf.dtype.type(0.0)
    for q in range(U(0), U(cnt)):
        dbuf[q] = zero
    # 2-D indexing, not row views: a view per feature costs two atomic reference-count
    # updates, which made the d = 8 cost sweep slower than the soft minima
    for t in range(U(0), U(xT.shape[0])):
        for q in range(U(0), U(cnt)):
            diff = xT[t, U(i0) + q] - yrT[t, U(r0) + q]
            dbuf[q] += diff * diff


@jit
def _fill_matrix(dm, i0, j0, cnt, dbuf):
    """``dbuf[q] = dm[i0 + q, j0 - q]``: a piece of an anti-diagonal of a cost matrix."""
    for q in range(cnt):
        dbuf[q] = dm[i0 + q, j0 - q]


@jit
def _fill(mode, xT, yrT, dm, m, i0, j0, cnt, dbuf):
    """Costs of the cells ``(i0 + q, j0 - q)`` (0-based), ``q < cnt``."""
    if mode == _SERIES:
        _fill_series(xT, yrT, i0, m - 1 - j0, cnt, dbuf)
    else:
        _fill_matrix(dm, i0, j0, cnt, dbuf)


# ---------------------------------------------------------------------------------------
# Value only: rolling anti-diagonals of one block


@jit
def _diag_cells(p2, p1, p0, dbuf, lo, cnt, gamma, inv_g):
    k = _constants(p0)
    for q in range(U(0), U(cnt)):
        a = U(lo) + q
        p0[a] = dbuf[q] + _softmin(p2[a - U(1)], p1[a - U(1)], p1[a], gamma, inv_g, k)


@jit
def _block_value(mode, xT, yrT, dm, m, i0, h, j0, w, edges, top, left, p2, p1, p0, dbuf,
                 gamma, inv_g):
    """Sweep the block of cells ``i0 <= i < i0 + h``, ``j0 <= j < j0 + w`` (0-based)
    by anti-diagonals and return its bottom-right cell. With ``edges``: given
    ``top[0..w]`` (the row above it, ``top[0]`` the corner) and ``left[1..h]`` (the
    column on its left); on return ``top[1..w]`` holds its last row and ``left[1..h]``
    its last column (each entry is read before it is overwritten). Without: the block
    is a whole pair, with the DP's own boundary (0 at the corner, ``+inf`` elsewhere),
    and ``top``/``left`` are not touched, so the memory is the scratch ``p2, p1, p0,
    dbuf`` of ``h + 1``: O(min(n, m)) when ``h`` is the shorter length."""
    inf = p0.dtype.type(np.inf)
    p1[0] = top[0] if edges else p0.dtype.type(0.0)
    for k in range(1, h + w + 1):
        if k <= w:
            p0[0] = top[k] if edges else inf
        if k <= h:
            p0[k] = left[k] if edges else inf
        lo = max(1, k - w)
        hi = min(h, k - 1)
        cnt = hi - lo + 1
        if cnt > 0:
            # cell (a, k - a) of the block is (i0 + a - 1, j0 + k - a - 1)
            _fill(mode, xT, yrT, dm, m, i0 + lo - 1, j0 + k - lo - 1, cnt, dbuf)
            _diag_cells(p2, p1, p0, dbuf, lo, cnt, gamma, inv_g)
        if edges and k > h:
            top[k - h] = p0[h]
        if edges and k > w:
            left[k - w] = p0[k - w]
        p2, p1, p0 = p1, p0, p2
    return p1[h]


@jit
def _pair_value(mode, xT, yrT, dm, n, m, gamma, inv_g, like):
    """The value of one pair, in one block (``n`` should be the shorter length:
    four buffers of ``n + 1``); buffers in the dtype of ``like``."""
    dt = like.dtype
    p2 = np.empty(n + 1, dtype=dt)
    p1 = np.empty(n + 1, dtype=dt)
    p0 = np.empty(n + 1, dtype=dt)
    dbuf = np.empty(n + 1, dtype=dt)
    return _block_value(mode, xT, yrT, dm, m, 0, n, 0, m, False, p0, p0, p2, p1, p0, dbuf,
                        gamma, inv_g)


@kernel
def _values_pairs(mode, XT, YRT, DM, n, m, gamma, inv_g, out):
    """``out[p]`` = soft-DTW of pair ``p``: series ``XT[p]``, ``YRT[p]`` (mode 0) or
    cost matrix ``DM[p]`` (mode 1); one pair per task."""
    for p in prange(out.shape[0]):
        ps = p if mode == _SERIES else p - p
        pc = p if mode == _COST else p - p
        out[p] = _pair_value(mode, XT[ps], YRT[ps], DM[pc], n, m, gamma, inv_g, out)


@kernel
def _value_wavefront(mode, xT, yrT, dm, n, m, gamma, inv_g, out):
    """``out[0]`` = soft-DTW of one long pair, by tiles swept in anti-diagonals of
    tiles; ``prange`` over the tiles of each. ``hrow``/``vcol`` hold the last row and
    column computed in each tile column/row, ``cor`` the corner each tile needs (its
    upper-left neighbour's last cell, which ``hrow`` no longer holds by then)."""
    dt = out.dtype
    nbi = (n + TILE - 1) // TILE
    nbj = (m + TILE - 1) // TILE
    hrow = np.full(m, np.inf, dtype=dt)
    vcol = np.full(n, np.inf, dtype=dt)
    cor = np.full((nbi + 1, nbj + 1), np.inf, dtype=dt)
    cor[0, 0] = 0.0
    for s in range(nbi + nbj - 1):
        b_lo = max(0, s - nbj + 1)
        b_hi = min(nbi - 1, s)
        for q in prange(b_hi - b_lo + 1):
            bi = b_lo + q
            bj = s - bi
            i0 = bi * TILE
            j0 = bj * TILE
            h = min(TILE, n - i0)
            w = min(TILE, m - j0)
            top = np.empty(w + 1, dtype=dt)
            left = np.empty(h + 1, dtype=dt)
            top[0] = cor[bi, bj]
            for j in range(w):
                top[j + 1] = hrow[j0 + j]
            for i in range(h):
                left[i + 1] = vcol[i0 + i]
            p2 = np.empty(h + 1, dtype=dt)
            p1 = np.empty(h + 1, dtype=dt)
            p0 = np.empty(h + 1, dtype=dt)
            dbuf = np.empty(h + 1, dtype=dt)
            cor[bi + 1, bj + 1] = _block_value(mode, xT, yrT, dm, m, i0, h, j0, w, True, top,
                                               left, p2, p1, p0, dbuf, gamma, inv_g)
            for j in range(w):
                hrow[j0 + j] = top[j + 1]
            for i in range(h):
                vcol[i0 + i] = left[i + 1]
    out[0] = cor[nbi, nbj]


# ---------------------------------------------------------------------------------------
# Value and expected alignment: the whole table, anti-diagonal by anti-diagonal


@jit
def _table_bases(n, m):
    """``base[K]`` such that cell ``(I, K - I)`` of the padded ``(n + 2, m + 2)`` table
    is at ``base[K] + I``, for the anti-diagonals ``K = 0 .. n + m + 2``; and the size."""
    nk = n + m + 3
    base = np.empty(nk, dtype=np.int64)
    off = 0
    for k in range(nk):
        lo = max(0, k - (m + 1))
        hi = min(n + 1, k)
        base[k] = off - lo
        off += hi - lo + 1
    return base, off


@jit
def _table_init(R, S, E, base, n, m):
    """Boundaries: ``R`` is 0 at (0, 0) and ``+inf`` on row 0 and column 0; past the
    end (row n + 1, column m + 1) ``S = -inf`` and ``E = 0`` (no successor there),
    except the corner ``E[n + 1, m + 1] = 1`` (its ``S`` is set to the value later)."""
    inf = np.inf
    for J in range(m + 2):
        R[base[J]] = inf
        S[base[J]] = inf
        E[base[J]] = 0.0
    for I in range(1, n + 2):
        R[base[I] + I] = inf
        S[base[I] + I] = inf
        E[base[I] + I] = 0.0
    R[base[0]] = 0.0
    for J in range(m + 2):
        k = base[n + 1 + J] + n + 1
        R[k] = -inf
        S[k] = -inf
        E[k] = 0.0
    for I in range(n + 2):
        k = base[I + m + 1] + I
        R[k] = -inf
        S[k] = -inf
        E[k] = 0.0
    E[base[n + m + 2] + n + 1] = 1.0


@jit
def _table_cells(R, S, dbuf, c0, u0, d0, cnt, gamma, inv_g):
    """Cells ``c0 + q`` of an anti-diagonal: upper neighbour ``u0 + q``, left
    ``u0 + q + 1`` (both on the previous anti-diagonal), diagonal ``d0 + q``."""
    k = _constants(R)
    for q in range(U(0), U(cnt)):
        sm = _softmin(R[U(d0) + q], R[U(u0) + q], R[U(u0) + q + U(1)], gamma, inv_g, k)
        S[U(c0) + q] = sm
        R[U(c0) + q] = dbuf[q] + sm


@jit
def _table_forward(mode, xT, yrT, dm, m, base, R, S, I0, I1, J0, J1, dbuf, gamma, inv_g):
    """Forward table over the padded cells ``I0 <= I <= I1``, ``J0 <= J <= J1``."""
    for K in range(I0 + J0, I1 + J1 + 1):
        lo = max(I0, K - J1)
        hi = min(I1, K - J0)
        cnt = hi - lo + 1
        if cnt <= 0:
            continue
        _fill(mode, xT, yrT, dm, m, lo - 1, K - lo - 1, cnt, dbuf)
        _table_cells(R, S, dbuf, base[K] + lo, base[K - 1] + lo - 1, base[K - 2] + lo - 1,
                     cnt, gamma, inv_g)


@jit
def _table_e(R, S, E, c0, r1, g0, cnt, inv_g):
    """Expected alignment of cells ``c0 + q``: successors below ``r1 + q + 1`` and on
    the right ``r1 + q`` (next anti-diagonal), diagonal ``g0 + q``. The exponent
    ``(S[succ] - R[cell]) / gamma`` is <= 0 by construction (a cell's soft minimum is
    at most the minimum of its predecessors), so nothing overflows even as gamma -> 0;
    an unreachable cell (``R = +inf``) gets 0."""
    _, zero, elo, _, e_min = _constants(E)
    for q in range(U(0), U(cnt)):
        r = R[U(c0) + q]
        kd = U(r1) + q + U(1)
        kr = U(r1) + q
        kg = U(g0) + q
        e = (E[kd] * _exp_or_zero((S[kd] - r) * inv_g, elo, zero)
             + E[kr] * _exp_or_zero((S[kr] - r) * inv_g, elo, zero)
             + E[kg] * _exp_or_zero((S[kg] - r) * inv_g, elo, zero))
        E[U(c0) + q] = zero if (r == np.inf) | (e < e_min) else e


@jit
def _accumulate(xT, yrT, E, c0, i0, r0, cnt, gxT, gyrT):
    """``gx[i] += E * (x_i - y_j)``, ``gyr[j'] -= E * (x_i - y_j)`` over the cells of an
    anti-diagonal piece (distinct ``i`` and ``j``: no conflicts)."""
    for t in range(U(0), U(xT.shape[0])):
        for q in range(U(0), U(cnt)):
            v = E[U(c0) + q] * (xT[t, U(i0) + q] - yrT[t, U(r0) + q])
            gxT[t, U(i0) + q] += v
            gyrT[t, U(r0) + q] -= v


@jit
def _table_backward(mode, xT, yrT, m, base, R, S, E, I0, I1, J0, J1, gxT, gyrT, want_xy,
                    inv_g):
    """Reverse recursion over the padded cells ``I0 <= I <= I1``, ``J0 <= J <= J1``
    (anti-diagonals in decreasing order), accumulating the gradient if ``want_xy``."""
    for K in range(I1 + J1, I0 + J0 - 1, -1):
        lo = max(I0, K - J1)
        hi = min(I1, K - J0)
        cnt = hi - lo + 1
        if cnt <= 0:
            continue
        c0 = base[K] + lo
        _table_e(R, S, E, c0, base[K + 1] + lo, base[K + 2] + lo + 1, cnt, inv_g)
        if K == 2:
            # every alignment starts at (1, 1): its mass is 1 exactly (not 1 +- rounding),
            # unless no alignment has a finite cost (then E = 0) or the pair has a nan
            e = E[c0]
            E[c0] = 1.0 if (e == e and e != 0.0) else e
        if want_xy and mode == _SERIES:
            _accumulate(xT, yrT, E, c0, lo - 1, m - K + lo, cnt, gxT, gyrT)


@jit
def _extract_e(E, base, n, m, out):
    """The expected alignment ``(n, m)`` out of the packed table."""
    for i in range(n):
        for j in range(m):
            out[i, j] = E[base[i + j + 2] + i + 1]


@kernel
def _grads_pairs(mode, XT, YRT, DM, n, m, gamma, inv_g, want_xy, want_e, values, GXT, GYRT,
                 EOUT):
    """Value, expected alignment (``want_e``) and the unscaled gradient sums
    (``want_xy``) of every pair; one pair per task, its tables allocated by the task."""
    base, size = _table_bases(n, m)
    dt = values.dtype
    corner = base[n + m + 2] + n + 1
    for p in prange(values.shape[0]):
        ps = p if mode == _SERIES else p - p
        pc = p if mode == _COST else p - p
        R = np.empty(size, dtype=dt)
        S = np.empty(size, dtype=dt)
        E = np.empty(size, dtype=dt)
        dbuf = np.empty(min(n, m) + 1, dtype=dt)
        _table_init(R, S, E, base, n, m)
        _table_forward(mode, XT[ps], YRT[ps], DM[pc], m, base, R, S, 1, n, 1, m, dbuf, gamma,
                       inv_g)
        v = R[base[n + m] + n]
        S[corner] = v
        values[p] = v
        pg = p if want_xy else p - p
        _table_backward(mode, XT[ps], YRT[ps], m, base, R, S, E, 1, n, 1, m, GXT[pg], GYRT[pg],
                        want_xy, inv_g)
        if want_e:
            _extract_e(E, base, n, m, EOUT[p])


@kernel
def _grads_wavefront(mode, xT, yrT, dm, n, m, gamma, inv_g, want_xy, want_e, values, gxT,
                     gyrT, eout):
    """:func:`_grads_pairs` for one long pair: the forward and the reverse sweeps by
    tiles, ``prange`` over the tiles of each anti-diagonal of tiles (they touch
    distinct rows of ``gx`` and columns of ``gy``; each row's sum runs over ``j`` in
    decreasing order, as in the one-block sweep, so the sums are bit-identical)."""
    base, size = _table_bases(n, m)
    dt = values.dtype
    R = np.empty(size, dtype=dt)
    S = np.empty(size, dtype=dt)
    E = np.empty(size, dtype=dt)
    _table_init(R, S, E, base, n, m)
    nbi = (n + TILE - 1) // TILE
    nbj = (m + TILE - 1) // TILE
    for s in range(nbi + nbj - 1):
        b_lo = max(0, s - nbj + 1)
        b_hi = min(nbi - 1, s)
        for q in prange(b_hi - b_lo + 1):
            bi = b_lo + q
            bj = s - bi
            dbuf = np.empty(TILE + 1, dtype=dt)
            _table_forward(mode, xT, yrT, dm, m, base, R, S, 1 + bi * TILE,
                           min(n, (bi + 1) * TILE), 1 + bj * TILE, min(m, (bj + 1) * TILE),
                           dbuf, gamma, inv_g)
    v = R[base[n + m] + n]
    S[base[n + m + 2] + n + 1] = v
    values[0] = v
    for s in range(nbi + nbj - 2, -1, -1):
        b_lo = max(0, s - nbj + 1)
        b_hi = min(nbi - 1, s)
        for q in prange(b_hi - b_lo + 1):
            bi = b_lo + q
            bj = s - bi
            _table_backward(mode, xT, yrT, m, base, R, S, E, 1 + bi * TILE,
                            min(n, (bi + 1) * TILE), 1 + bj * TILE, min(m, (bj + 1) * TILE),
                            gxT, gyrT, want_xy, inv_g)
    if want_e:
        _extract_e(E, base, n, m, eout)


# ---------------------------------------------------------------------------------------
# Python layer: validation, layouts, schedules


def _inv_g(gamma, dtype):
    """``1 / gamma`` in ``dtype``, clamped to the largest finite value (an infinite
    reciprocal would make a tie's ``0 * inv_g`` nan; a huge one sends every other term to
    ``exp(-inf) = 0``, the gamma -> 0 limit)."""
    with np.errstate(over="ignore"):
        return min(dtype.type(1.0 / gamma), np.finfo(dtype).max)


def _gamma_args(gamma, dtype):
    with np.errstate(over="ignore", under="ignore"):
        g = dtype.type(gamma)
    return g, _inv_g(gamma, dtype)


def _cast(arr, dtype):
    arr = np.asarray(arr)
    if arr.dtype != dtype:
        with np.errstate(over="ignore"):
            arr = arr.astype(dtype)
    return arr[()] if arr.ndim == 0 else arr


def _common_dtypes(a_dtype, b_dtype, fname, names=("x", "y")):
    ca, oa = float_dtypes(a_dtype, fname, names[0])
    cb, ob = float_dtypes(b_dtype, fname, names[1])
    if oa != ob or ca != cb:
        f64 = np.dtype(np.float64)
        return f64, f64
    return ca, oa


class _Series:
    """Validated pair(s) of series: ``x`` (B, n, d), ``y`` (B, m, d) in the compute
    dtype, whether it was a batch, and the input shapes."""

    __slots__ = ("x", "y", "batched", "x_shape", "y_shape", "compute", "out")

    def __init__(self, x, y, fname):
        a = np.asarray(x)
        b = np.asarray(y)
        self.compute, self.out = _common_dtypes(a.dtype, b.dtype, fname)
        self.x_shape, self.y_shape = a.shape, b.shape
        if a.ndim in (1, 2) and b.ndim in (1, 2):
            self.batched = False
            a = a.reshape((1,) + a.shape + (1,) * (2 - a.ndim))
            b = b.reshape((1,) + b.shape + (1,) * (2 - b.ndim))
        elif a.ndim == 3 and b.ndim == 3:
            self.batched = True
            if a.shape[0] != b.shape[0]:
                raise ValueError(
                    f"{fname}: `x` and `y` must hold the same number of series, got "
                    f"batches of {a.shape[0]} and {b.shape[0]}"
                )
        else:
            raise ValueError(
                f"{fname}: `x` and `y` must both be one series, (n,) or (n, d), or both "
                f"batches (B, n, d); got shapes {a.shape} and {b.shape}"
            )
        if a.shape[2] != b.shape[2]:
            raise ValueError(
                f"{fname}: `x` and `y` must have the same number of features d, got "
                f"shapes {self.x_shape} and {self.y_shape}"
            )
        if a.shape[1] == 0 or b.shape[1] == 0 or a.shape[2] == 0:
            raise ValueError(
                f"{fname}: empty series (no time steps or no features): shapes "
                f"{self.x_shape} and {self.y_shape}"
            )
        self.x = a.astype(self.compute, copy=False)
        self.y = b.astype(self.compute, copy=False)

    def result(self, values):
        return _cast(values if self.batched else values.reshape(()), self.out)


def _tr(a):
    """(B, n, d) -> (B, d, n), C-contiguous."""
    return np.ascontiguousarray(a.transpose(0, 2, 1))


def _rtr(a):
    """(B, m, d) -> (B, d, m) reversed in time, C-contiguous."""
    return np.ascontiguousarray(a[:, ::-1, :].transpose(0, 2, 1))


def _dummy(dtype):
    return np.zeros((1, 1, 1), dtype)


def _values(mode, XT, YRT, DM, n, m, gamma, dtype):
    """Soft-DTW values ``(B,)`` of prepared pairs: the wavefront for one long pair,
    otherwise one pair per task (in series mode the shorter series is swept by
    anti-diagonals of its length: O(min(n, m)) memory)."""
    B = (XT if mode == _SERIES else DM).shape[0]
    g, ig = _gamma_args(gamma, dtype)
    out = np.empty(B, dtype)
    if B == 0:
        return out
    if B == 1 and n * m >= WAVEFRONT_MIN_CELLS:
        _value_wavefront(mode, XT[0], YRT[0], DM[0], n, m, g, ig, out,
                         parallel=use_parallel(n * m))
        return out
    if mode == _SERIES and m < n:
        # soft-DTW is symmetric, and so is the arithmetic of each cell
        XT, YRT = (np.ascontiguousarray(YRT[:, :, ::-1]),
                   np.ascontiguousarray(XT[:, :, ::-1]))
        n, m = m, n
    _values_pairs(mode, XT, YRT, DM, n, m, g, ig, out, parallel=use_parallel(B * n * m))
    return out


def _grads(mode, XT, YRT, DM, n, m, gamma, dtype, want_xy, want_e):
    """``(values, gx, gyr, E)``: the values, the unscaled gradient sums ``(B, d, n)`` and
    ``(B, d, m)`` (y reversed) when ``want_xy``, the expected alignments ``(B, n, m)``
    when ``want_e``."""
    B = (XT if mode == _SERIES else DM).shape[0]
    g, ig = _gamma_args(gamma, dtype)
    values = np.empty(B, dtype)
    gx = np.zeros(XT.shape if want_xy else (1, 1, 1), dtype)
    gyr = np.zeros(YRT.shape if want_xy else (1, 1, 1), dtype)
    e = np.empty((B, n, m) if want_e else (1, 1, 1), dtype)
    if B == 0:
        return values, gx, gyr, e
    if B == 1 and n * m >= WAVEFRONT_MIN_CELLS:
        _grads_wavefront(mode, XT[0], YRT[0], DM[0], n, m, g, ig, want_xy, want_e, values,
                         gx[0], gyr[0], e[0], parallel=use_parallel(n * m))
    else:
        _grads_pairs(mode, XT, YRT, DM, n, m, g, ig, want_xy, want_e, values, gx, gyr, e,
                     parallel=use_parallel(B * n * m))
    return values, gx, gyr, e


def _series_values(s, gamma, x=None, y=None):
    x = s.x if x is None else x
    y = s.y if y is None else y
    return _values(_SERIES, _tr(x), _rtr(y), _dummy(s.compute), x.shape[1], y.shape[1],
                   gamma, s.compute)


def _series_grads(s, gamma, want_xy, want_e, x=None, y=None):
    x = s.x if x is None else x
    y = s.y if y is None else y
    values, gx, gyr, e = _grads(_SERIES, _tr(x), _rtr(y), _dummy(s.compute), x.shape[1],
                                y.shape[1], gamma, s.compute, want_xy, want_e)
    if want_xy:
        # d/dx_i = 2 sum_j E_ij (x_i - y_j), d/dy_j = -2 sum_i E_ij (x_i - y_j)
        with np.errstate(all="ignore"):
            gx = 2.0 * gx.transpose(0, 2, 1)
            gyr = 2.0 * gyr[:, :, ::-1].transpose(0, 2, 1)
    return values, gx, gyr, e


def _check_grad(grad, shape, dtype, fname):
    g = np.asarray(grad)
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `grad` must be real, got dtype {g.dtype}")
    if g.shape != shape:
        raise ValueError(
            f"{fname}: `grad` must have the shape of the soft-DTW value, {shape}, got "
            f"{g.shape}"
        )
    return g.astype(dtype).reshape(-1)


def _value_shape(s):
    return (s.x.shape[0],) if s.batched else ()


# ---------------------------------------------------------------------------------------
# Public functions


def soft_dtw(x, y, *, gamma=1.0, out=None):
    r"""Soft dynamic time warping between two series (or pairs of series).

    .. math::

        \operatorname{sdtw}_\gamma(x, y) = \operatorname{min}_\gamma
            \{\langle A, \Delta(x, y)\rangle : A \in \mathcal{A}_{n,m}\},
        \qquad \operatorname{min}_\gamma(a) = -\gamma \log \sum_k e^{-a_k/\gamma},

    over the monotone alignments :math:`A` of :math:`x \in \mathbb{R}^{n\times d}` and
    :math:`y \in \mathbb{R}^{m\times d}`, with the squared Euclidean cost
    :math:`\Delta_{ij} = \sum_k (x_{ik} - y_{jk})^2`. Computed by the recursion
    :math:`R_{ij} = \Delta_{ij} + \operatorname{min}_\gamma(R_{i-1,j-1}, R_{i-1,j},
    R_{i,j-1})`, :math:`R_{00} = 0`, :math:`R_{i0} = R_{0j} = +\infty`, value
    :math:`R_{nm}`.

    Parameters
    ----------
    x : array_like
        One series, ``(n, d)`` or ``(n,)`` (``d = 1``), or a batch ``(B, n, d)``.
    y : array_like
        One series ``(m, d)`` / ``(m,)``, or a batch ``(B, m, d)`` (same ``B`` and
        ``d`` as ``x``).
    gamma : float, default 1.0
        The smoothing temperature, a finite number > 0. As gamma -> 0 the value tends
        to DTW (the sum of squared differences along the best alignment).

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    float or ndarray
        A 0-d value for one pair, ``(B,)`` for a batch. float32 stays float32, float64
        float64; integers, bools and mixed dtypes compute in float64.

    See Also
    --------
    soft_dtw_backward : the gradient with respect to ``x`` and ``y``.
    soft_dtw_alignment : the value and the expected alignment matrix.
    soft_dtw_cost : the same on a precomputed cost matrix.
    soft_dtw_divergence : the debiased version, >= 0 and 0 for ``x == y``.
    tslearn.metrics.soft_dtw : the same value, one pair at a time.

    Notes
    -----
    The smooth minimum of the three neighbours is ``m - gamma * log1p(e1 + e2)``, with
    ``m`` their minimum and ``e1, e2 <= 1`` the other two terms: no overflow for any
    gamma, and the gamma -> 0 limit comes out exactly. The cost is summed as squared
    differences (no ``|x|^2 + |y|^2 - 2 x.y`` cancellation for offset series). A nan
    anywhere in a series makes its pair's value nan (other pairs are unaffected).
    Batches run one pair per thread; one long pair (``n * m >= 2**18``) is swept by
    tiles of 256 x 256 cells along anti-diagonals of tiles, in parallel; the result is
    the same bit for bit whatever the schedule and the thread count. Memory: O(min(n,
    m)) per pair (O(n + m) for a single long pair).

    References
    ----------
    M. Cuturi and M. Blondel, "Soft-DTW: a differentiable loss function for
    time-series", ICML 2017.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([0.0, 1.0, 3.0])
    >>> y = np.array([0.0, 3.0])
    >>> float(fs.soft_dtw(x, y, gamma=1e-6))  # DTW: 1 pairs with 0, (1 - 0)**2 on the way
    1.0
    >>> round(float(fs.soft_dtw(x, y, gamma=1.0)), 6)
    0.933995
    >>> fs.soft_dtw(np.zeros((4, 10, 2)), np.ones((4, 7, 2)), gamma=1e-3).shape
    (4,)

    Large offsets and tiny gamma neither overflow nor lose the value:

    >>> float(fs.soft_dtw(x + 1e6, y + 1e6, gamma=1e-300))
    1.0
    """
    fname = "soft_dtw"
    s = _Series(x, y, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    return finish_out(s.result(_series_values(s, gamma)), out, fname)


def soft_dtw_backward(grad, x, y, *, gamma=1.0, out=None):
    r"""Vector-Jacobian product of :func:`soft_dtw`: ``(grad_x, grad_y)``.

    .. math::

        \frac{\partial L}{\partial x_i} = g \sum_j E_{ij}\, 2 (x_i - y_j), \qquad
        \frac{\partial L}{\partial y_j} = -g \sum_i E_{ij}\, 2 (x_i - y_j),

    with :math:`E = \partial \operatorname{sdtw}_\gamma / \partial \Delta` the expected
    alignment (see :func:`soft_dtw_alignment`).

    Parameters
    ----------
    grad : float or array_like
        :math:`g = \partial L / \partial\,\mathrm{sdtw}`: a scalar (shape ``()``) for one
        pair, shape ``(B,)`` for a batch.
    x, y : array_like
        As in :func:`soft_dtw`.
    gamma : float, default 1.0
        As in :func:`soft_dtw`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    grad_x, grad_y : ndarray
        Shaped like ``x`` and ``y`` (a 1-D series gives a 1-D gradient).

    Notes
    -----
    One forward sweep keeps the table ``R`` and each cell's soft minimum ``S``; the
    reverse recursion of Cuturi & Blondel,
    :math:`E_{ij} = \sum_{s} E_s\, e^{(S_s - R_{ij})/\gamma}` over the successors
    :math:`s \in \{(i+1, j), (i, j+1), (i+1, j+1)\}`, runs in one sweep that also
    accumulates the gradient. The exponent is never positive, so no gamma overflows.
    O(n m) memory per pair. A nan in a pair gives nan gradients for that pair only; a
    pair whose value is ``+inf`` gets zero gradients.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([0.0, 1.0, 3.0])
    >>> y = np.array([0.0, 3.0])
    >>> gx, gy = fs.soft_dtw_backward(1.0, x, y, gamma=1e-6)
    >>> gx, gy  # pull x[1] towards y[0], and y[0] towards x[1]
    (array([0., 2., 0.]), array([-2.,  0.]))
    """
    fname = "soft_dtw_backward"
    s = _Series(x, y, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    g = _check_grad(grad, _value_shape(s), s.compute, fname)
    _, gx, gy, _ = _series_grads(s, gamma, True, False)
    with np.errstate(all="ignore"):  # (inf * 0 where a series holds inf: nan, no warning)
        gx = gx * g[:, None, None]
        gy = gy * g[:, None, None]
    return finish_out((_cast(gx.reshape(s.x_shape), s.out), _cast(gy.reshape(s.y_shape), s.out)), out, fname)


def soft_dtw_alignment(x, y, *, gamma=1.0, out=None):
    r"""Soft-DTW value and expected alignment matrix: ``(value, E)``.

    .. math::

        E = \frac{\partial \operatorname{sdtw}_\gamma(x, y)}{\partial \Delta}
          = \mathbb{E}_{p_\gamma}[A], \qquad
          p_\gamma(A) \propto e^{-\langle A, \Delta\rangle / \gamma},

    the average of the alignment matrices under the Gibbs distribution: ``E[i, j]`` is
    the probability that cell ``(i, j)`` is on the alignment path.

    Parameters
    ----------
    x, y : array_like
        As in :func:`soft_dtw`.
    gamma : float, default 1.0
        As in :func:`soft_dtw`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    value : float or ndarray
        As :func:`soft_dtw` returns it (0-d or ``(B,)``).
    E : ndarray
        ``(n, m)`` for one pair, ``(B, n, m)`` for a batch.

    See Also
    --------
    tslearn.metrics.soft_dtw_alignment : returns ``(E, value)``, in the other order.

    Notes
    -----
    ``E >= 0``, ``E[0, 0] = E[-1, -1] = 1`` (every alignment starts and ends there);
    as gamma -> 0, ``E`` tends to the 0/1 matrix of the DTW path. A pair whose value is
    ``+inf`` (possible only with :func:`soft_dtw_cost`) has ``E = 0``; nan in a pair
    gives nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> value, E = fs.soft_dtw_alignment([0.0, 1.0, 3.0], [0.0, 3.0], gamma=1e-6)
    >>> float(value)
    1.0
    >>> E
    array([[1., 0.],
           [1., 0.],
           [0., 1.]])
    >>> value, E = fs.soft_dtw_alignment([0.0, 1.0, 3.0], [0.0, 3.0], gamma=2.0)
    >>> E.round(3)
    array([[1.   , 0.002],
           [0.836, 0.263],
           [0.008, 1.   ]])
    """
    fname = "soft_dtw_alignment"
    s = _Series(x, y, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    values, _, _, e = _series_grads(s, gamma, False, True)
    return finish_out((s.result(values), _cast(e if s.batched else e[0], s.out)), out, fname)


def _cost_prep(D, fname):
    a = np.asarray(D)
    compute, out = float_dtypes(a.dtype, fname, "D")
    if a.ndim < 2:
        raise ValueError(f"{fname}: `D` must be a cost matrix (..., n, m), got shape {a.shape}")
    n, m = a.shape[-2:]
    if n == 0 or m == 0:
        raise ValueError(f"{fname}: `D` is empty: shape {a.shape}")
    dm = np.ascontiguousarray(a.reshape(-1, n, m), dtype=compute)
    return dm, compute, out, a.shape


def soft_dtw_cost(D, *, gamma=1.0, out=None):
    r"""Soft-DTW of a precomputed cost matrix (any cost).

    .. math::

        \operatorname{sdtw}_\gamma(D) = \operatorname{min}_\gamma
            \{\langle A, D\rangle : A \in \mathcal{A}_{n,m}\}.

    Parameters
    ----------
    D : array_like
        Cost matrix ``(n, m)``, or a stack ``(..., n, m)``. Entries may be ``+inf``
        (forbidden cells: a band, say).
    gamma : float, default 1.0
        Finite number > 0.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    float or ndarray
        Shape ``D.shape[:-2]`` (0-d for one matrix).

    Notes
    -----
    :func:`soft_dtw` is ``soft_dtw_cost`` of the squared Euclidean cost, computed on the
    fly. With ``+inf`` costs a cell no alignment can reach is ``+inf``, and the value
    is ``+inf`` when every alignment crosses an ``+inf`` cell; nan in a matrix gives nan
    for that matrix.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> D = np.array([[0.0, 9.0], [1.0, 4.0], [9.0, 0.0]])
    >>> float(fs.soft_dtw_cost(D, gamma=1e-6))
    1.0
    >>> round(float(fs.soft_dtw_cost(D, gamma=1.0)), 6)
    0.933995
    >>> D[1, 0] = np.inf  # forbid a cell
    >>> float(fs.soft_dtw_cost(D, gamma=1e-6))
    4.0
    """
    fname = "soft_dtw_cost"
    dm, compute, out_dtype, shape = _cost_prep(D, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    n, m = shape[-2:]
    d = _dummy(compute)
    values = _values(_COST, d, d, dm, n, m, gamma, compute)
    return finish_out(_cast(values.reshape(shape[:-2]), out_dtype), out, fname)


def soft_dtw_cost_backward(grad, D, *, gamma=1.0, out=None):
    r"""Vector-Jacobian product of :func:`soft_dtw_cost`.

    .. math::

        \frac{\partial L}{\partial D} = g\, E,

    with :math:`E` the expected alignment of ``D`` (see :func:`soft_dtw_alignment`).

    Parameters
    ----------
    grad : float or array_like
        Shape ``D.shape[:-2]``.
    D : array_like
        As in :func:`soft_dtw_cost`.
    gamma : float, default 1.0
        As in :func:`soft_dtw_cost`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    ndarray
        Shaped like ``D``.

    Notes
    -----
    Cells no alignment reaches, and every cell of a matrix whose value is ``+inf``,
    get 0.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> D = np.array([[0.0, 9.0], [1.0, 4.0], [9.0, 0.0]])
    >>> fs.soft_dtw_cost_backward(2.0, D, gamma=1e-6)
    array([[2., 0.],
           [2., 0.],
           [0., 2.]])
    """
    fname = "soft_dtw_cost_backward"
    dm, compute, out_dtype, shape = _cost_prep(D, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    g = _check_grad(grad, shape[:-2], compute, fname)
    n, m = shape[-2:]
    d = _dummy(compute)
    _, _, _, e = _grads(_COST, d, d, dm, n, m, gamma, compute, False, True)
    with np.errstate(all="ignore"):
        ge = e * g[:, None, None]
    return finish_out(_cast(ge.reshape(shape), out_dtype), out, fname)


def soft_dtw_divergence(x, y, *, gamma=1.0, out=None):
    r"""Soft-DTW divergence: soft-DTW debiased so that it is >= 0 and 0 for ``x == y``.

    .. math::

        \operatorname{div}_\gamma(x, y) = \operatorname{sdtw}_\gamma(x, y)
            - \tfrac12 \left(\operatorname{sdtw}_\gamma(x, x)
            + \operatorname{sdtw}_\gamma(y, y)\right).

    Parameters
    ----------
    x, y : array_like
        As in :func:`soft_dtw`.
    gamma : float, default 1.0
        As in :func:`soft_dtw`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    float or ndarray
        0-d for one pair, ``(B,)`` for a batch.

    Notes
    -----
    Non-negative for the squared Euclidean cost (Blondel, Mensch & Vert, 2021); the
    value is clamped at 0 so that rounding never makes it slightly negative
    (:func:`soft_dtw_divergence_backward` differentiates the unclamped expression). It
    is exactly 0 for ``x == y``.

    References
    ----------
    M. Blondel, A. Mensch and J.-P. Vert, "Differentiable divergences between time
    series", AISTATS 2021.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([0.0, 1.0, 3.0])
    >>> float(fs.soft_dtw_divergence(x, x))
    0.0
    >>> round(float(fs.soft_dtw_divergence(x, [0.0, 3.0])), 6)
    1.23156
    """
    fname = "soft_dtw_divergence"
    s = _Series(x, y, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    vxy = _series_values(s, gamma)
    vxx = _series_values(s, gamma, s.x, s.x)
    vyy = _series_values(s, gamma, s.y, s.y)
    with np.errstate(all="ignore"):
        div = vxy - 0.5 * (vxx + vyy)
        div = np.where(div < 0, div.dtype.type(0.0), div)
    return finish_out(s.result(div), out, fname)


def soft_dtw_divergence_backward(grad, x, y, *, gamma=1.0, out=None):
    r"""Vector-Jacobian product of :func:`soft_dtw_divergence`: ``(grad_x, grad_y)``.

    .. math::

        \frac{\partial L}{\partial x} = g \left(\partial_x \operatorname{sdtw}(x, y)
            - \tfrac12\, \frac{d}{dx} \operatorname{sdtw}(x, x)\right),

    and likewise for ``y``, where :math:`\frac{d}{dx}\operatorname{sdtw}(x, x)` is the
    sum of the gradients with respect to both arguments.

    Parameters
    ----------
    grad : float or array_like
        Scalar for one pair, ``(B,)`` for a batch.
    x, y : array_like
        As in :func:`soft_dtw`.
    gamma : float, default 1.0
        As in :func:`soft_dtw`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple of two for two results), of its exact shape
        and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    grad_x, grad_y : ndarray
        Shaped like ``x`` and ``y``.

    Notes
    -----
    Three backward passes (pairs ``(x, y)``, ``(x, x)``, ``(y, y)``). At ``x == y`` the
    gradient is 0 (up to rounding).

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([0.0, 1.0, 3.0])
    >>> gx, gy = fs.soft_dtw_divergence_backward(1.0, x, x)
    >>> bool(np.abs(gx).max() < 1e-12)
    True
    """
    fname = "soft_dtw_divergence_backward"
    s = _Series(x, y, fname)
    gamma = check_temperature(gamma, fname, "gamma")
    g = _check_grad(grad, _value_shape(s), s.compute, fname)
    _, gx, gy, _ = _series_grads(s, gamma, True, False)
    _, ga, gb, _ = _series_grads(s, gamma, True, False, s.x, s.x)
    _, gc, gd, _ = _series_grads(s, gamma, True, False, s.y, s.y)
    with np.errstate(all="ignore"):
        gx = (gx - 0.5 * (ga + gb)) * g[:, None, None]
        gy = (gy - 0.5 * (gc + gd)) * g[:, None, None]
    return finish_out((_cast(gx.reshape(s.x_shape), s.out), _cast(gy.reshape(s.y_shape), s.out)), out, fname)
