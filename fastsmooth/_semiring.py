r"""Semiring matrix products: the log-space product ``logmatmulexp`` and the max-plus
(tropical) product ``maxplus_matmul`` with argmax capture, and their backward passes.

The online LogSumExp is the "sum" of the log semiring and max (with the index of the
winner) the "sum" of the max-plus semiring; in both the "product" is ``+``. Their matrix
products are what the recursions of hidden Markov models (:mod:`._hmm`), CRFs and
parsers are made of:

.. math::

    c_{ij} = \tau \log \sum_k e^{(a_{ik} + b_{kj}) / \tau}, \qquad
    c^{\max}_{ij} = \max_k \, (a_{ik} + b_{kj}).

Batch dimensions broadcast as in ``np.matmul``; the public functions view the operands
as C-contiguous stacks ``a`` (Ba, n, k), ``b`` (Bb, k, m) and pass, for each of the
``B`` output matrices, which stack entry of ``a`` and of ``b`` it uses (nothing is
materialized by broadcasting).

How ``logmatmulexp`` is computed
--------------------------------
*Exact kernel* (:func:`_lme_exact`): per tile of :data:`TILE_ROWS` output rows and
:data:`TILE_COLS` columns, and per chunk of :data:`K_CHUNK` values of ``k``, two passes:
the max-plus value ``M_ij = max_k (a_ik + b_kj)``, then
``S_ij = sum_k exp((a_ik + b_kj - M_ij) / tau)`` (float64 sums); the chunk states are
merged as the online LogSumExp merges them, and ``c = M + tau log S``. The chunk of
``b`` stays in cache between its two passes, so ``b`` is read from memory once. The inner loops run along rows of ``b``
(contiguous, vectorized across ``j``, our vectorizable :func:`._exp.exp`); each loaded
row of ``b`` serves the tile's rows of ``a``. Exact for every input: the largest term is
exactly 1, so nothing overflows or underflows that matters. Cost: ``n k m`` exps.

*Rescaled BLAS product* (:func:`_lme_fast`, used for larger products): with the row
maxima ``ma_i = max_k a_ik`` and the column maxima ``mb_j = max_k b_kj``,

.. math::

    c_{ij} = ma_i + mb_j + \tau \log P_{ij}, \qquad
    P = e^{(a - ma) / \tau} \, e^{(b - mb) / \tau}

where the product is one BLAS ``matmul`` (``n k + k m`` exps instead of ``n k m``).
Every term of ``P`` is positive, so the sum has no cancellation and BLAS gives it to a
few ulp times ``k`` -- *unless* the terms underflow. That happens where the maximum of
row ``i`` of ``a`` and the maximum of column ``j`` of ``b`` sit at different ``k`` and
the best pair is far below ``ma_i + mb_j`` (the unsafe ``log(exp(a - ma) @ exp(b - mb))``
trick then returns ``-inf`` or loses every digit). The computed ``P_ij`` itself tells:
each term whose exponentials underflowed (factors below the normal range are flushed to
0) is off by less than ``2**-1022``, so when ``P_ij >= k * 2**-960`` the relative error
from underflow is below ``2**-62``. Entries below that bound (and every entry of a row
or column whose maximum is not finite: ``-inf`` rows, ``+inf`` or nan entries) are
*recomputed exactly*: one at a time by a strided two-pass LogSumExp over ``k``, or,
when more than an eighth of a row is flagged, the whole row by the exact kernel's row
pass. float32 uses the bound ``k * 2**-90`` and flushes below ``2**-126``. Which entries
are recomputed depends only on the data, never on the number of threads.

Semiring conventions (both products): ``-inf`` is the semiring zero -- a term with a
``-inf`` operand is ``-inf`` even when the other operand is ``+inf``; a nan operand makes
its term nan, and a nan term makes the result nan (for ``maxplus_matmul`` the first nan
term wins, as in ``np.argmax``); ``+inf + finite = +inf``; an empty or all ``-inf`` sum
is ``-inf`` (with index 0 for max-plus).
"""

from __future__ import annotations

import math
from math import prod

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import check_temperature, finish_out, float_dtypes
from ._bits import as_float, as_int
from ._config import REDUCTION_FASTMATH, jit, kernel, use_parallel
from ._exp import exp, log1p
from ._arrays import result_cast as _cast
from ._registry import names_in

__all__ = names_in("semiring")

#: Output rows per task of the exact kernels (each loaded row of ``b`` serves them all).
TILE_ROWS = 4
#: Rows of ``b`` per chunk of the exact LogSumExp kernel: the chunk's slab of ``b``
#: (K_CHUNK x TILE_COLS) stays in L2 between the two passes.
K_CHUNK = 64
#: Output columns per tile of the exact kernels: the tile's running maxima and sums
#: (TILE_ROWS x TILE_COLS each) stay in L1.
TILE_COLS = 256
#: Products with fewer than this many terms (``B n k m``), or with ``n`` or ``k`` below
#: :data:`FAST_MIN_DIM`, use the exact kernel only.
FAST_MIN_TERMS = 1 << 15
FAST_MIN_DIM = 8
#: The exact repair of the BLAS path runs in parallel from this many terms to recompute.
REPAIR_PARALLEL_TERMS = 1 << 22
#: A row with more than 1/ROW_REDO_FRACTION of its entries flagged is recomputed whole.
ROW_REDO_FRACTION = 8

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_MANT = np.int64(0x000FFFFFFFFFFFFF)
_ONE_BITS = np.int64(0x3FF0000000000000)
_SQRT2 = 1.4142135623730951


# ---------------------------------------------------------------------------------------
# Scalar helpers


@jit(inline="always")
def _log_normal(x):
    """``log(x)`` of a positive, normal, finite float64 (vectorizable): ``x = 2**e * f``
    with ``f`` in ``[sqrt(2)/2, sqrt(2))``, ``log x = e log 2 + log1p(f - 1)`` (``f - 1``
    is exact). Garbage for other inputs: callers select around it."""
    bits = as_int(x)
    e = ((bits >> 52) & 0x7FF) - 1023
    f = as_float((bits & _MANT) | _ONE_BITS)
    big = f > _SQRT2
    f = f * 0.5 if big else f
    e = e + 1 if big else e
    de = np.float64(e)
    return de * _LN2_HI + (log1p(f - 1.0) + de * _LN2_LO)


@jit
def _zero_partner(av, nan):
    """The value of ``b`` whose term with ``av`` is the semiring zero although ``av + b``
    is nan: ``+inf`` for ``av = -inf``, ``-inf`` for ``av = +inf``. For any other ``av``
    it is ``nan`` (of the operands' type), which equals nothing."""
    return -av if (av == np.inf) | (av == -np.inf) else nan


@jit
def _lse_finish(m, s, tau):
    """``m + tau log s`` of a two-pass state (``s >= 1`` when ``m`` is finite) with the
    special rows: ``m = -inf`` -> ``-inf`` (nan if ``s`` is nan), ``m = +inf`` -> ``+inf``
    (or nan)."""
    if s != s:
        return np.nan
    if not (-np.inf < m < np.inf):
        return np.float64(m)
    return np.float64(m) + tau * math.log(s)


# ---------------------------------------------------------------------------------------
# Exact tiles


@jit(inline="always")
def maxplus_update(av, brow, lo, hi, k, c, idx, ninf, nan):
    """One term of a max-plus product: ``c[j] = max(c[j], av (x) brow[j])`` for ``j`` in
    ``[lo, hi)``, with ``idx[j] = k`` where the term wins: strictly larger (the first
    ``k`` keeps a tie), or a nan over a number (the first nan wins). The term is ``-inf``
    where ``brow[j]`` is ``av``'s zero partner (``-inf`` annihilates ``+inf``). Selects,
    no branch: vectorized across ``j`` (inlined, so the caller's loop is the one that
    vectorizes)."""
    z = _zero_partner(av, nan)
    for j in range(U(lo), U(hi)):
        bv = brow[j]
        t = ninf if bv == z else av + bv
        cur = c[j]
        upd = (t > cur) | ((t != t) & (cur == cur))
        c[j] = t if upd else cur
        idx[j] = k if upd else idx[j]


@jit
def _maxplus_rows(a, b, i0, i1, j0, j1, c, idx):
    """``c[i, j] = max_k (a[i, k] + b[k, j])`` and the winning ``k`` in ``idx`` for the
    tile ``[i0, i1) x [j0, j1)``; ``c`` and ``idx`` are overwritten there. First ``k`` on
    ties, the first nan term wins; ``-inf`` annihilates ``+inf``."""
    k = a.shape[1]
    ninf = c.dtype.type(-np.inf)
    nan = c.dtype.type(np.nan)
    for i in range(i0, i1):
        ci = c[i]
        ii = idx[i]
        for j in range(U(j0), U(j1)):
            ci[j] = ninf
            ii[j] = 0
    for kk in range(k):
        brow = b[kk]
        for i in range(i0, i1):
            maxplus_update(a[i, kk], brow, j0, j1, kk, c[i], idx[i], ninf, nan)


@jit
def _lse_chunk(a, b, i0, i1, j0, j1, k0, k1, inv_t, M, S):
    """Two-pass LogSumExp state over ``k`` in ``[k0, k1)`` of the tile ``[i0, i1) x
    [j0, j1)``: ``M[r, j - j0] = max_k t_k`` (nan ignored), ``S[r, j - j0] = sum_k
    exp((t_k - M) / tau)`` in float64, with ``t_k = a[i0 + r, k] (x) b[k, j]``."""
    ninf = M.dtype.type(-np.inf)
    one = M.dtype.type(1.0)
    nan = M.dtype.type(np.nan)
    uj0 = U(j0)
    w = U(j1 - j0)
    for r in range(i1 - i0):
        Mr = M[r]
        Sr = S[r]
        for j in range(w):
            Mr[j] = ninf
            Sr[j] = 0.0
    for kk in range(k0, k1):
        brow = b[kk]
        for r in range(i1 - i0):
            av = a[i0 + r, kk]
            z = _zero_partner(av, nan)
            Mr = M[r]
            for j in range(w):
                bv = brow[uj0 + j]
                t = ninf if bv == z else av + bv
                Mr[j] = t if t > Mr[j] else Mr[j]
    for kk in range(k0, k1):
        brow = b[kk]
        for r in range(i1 - i0):
            av = a[i0 + r, kk]
            z = _zero_partner(av, nan)
            Mr = M[r]
            Sr = S[r]
            for j in range(w):
                bv = brow[uj0 + j]
                t = ninf if bv == z else av + bv
                mj = Mr[j]
                # the select after the exp (t == mj: exactly 1, also for infinite mj);
                # selecting the argument instead stops LLVM from vectorizing (4x slower)
                e = exp((t - mj) * inv_t)
                Sr[j] += np.float64(one if t == mj else e)


@jit
def _lse_rows_state(a, b, i0, i1, j0, j1, inv_t, M, S, Mc, Sc):
    """LogSumExp state ``(M, S)`` of the tile ``[i0, i1) x [j0, j1)`` of the log-space
    product over all ``k``: two passes (:func:`_lse_chunk`) over chunks of
    :data:`K_CHUNK` rows of ``b`` (which stay in cache between the passes, so ``b`` is
    read from memory once), the chunk states ``(Mc, Sc)`` merged into ``(M, S)``:
    ``S = S exp((M - hi) / tau) + Sc exp((Mc - hi) / tau)``, ``hi = max(M, Mc)`` (each
    factor exactly 1 where its maximum is ``hi``, also for infinite maxima)."""
    k = a.shape[1]
    one = M.dtype.type(1.0)
    w = j1 - j0
    _lse_chunk(a, b, i0, i1, j0, j1, 0, min(K_CHUNK, k), inv_t, M, S)
    for k0 in range(K_CHUNK, k, K_CHUNK):
        _lse_chunk(a, b, i0, i1, j0, j1, k0, min(k0 + K_CHUNK, k), inv_t, Mc, Sc)
        for r in range(i1 - i0):
            Mr = M[r]
            Sr = S[r]
            Mcr = Mc[r]
            Scr = Sc[r]
            for j in range(U(w)):
                m1 = Mr[j]
                m2 = Mcr[j]
                hi = m1 if m1 > m2 else m2
                e1 = exp((m1 - hi) * inv_t)
                e2 = exp((m2 - hi) * inv_t)
                e1 = one if m1 == hi else e1
                e2 = one if m2 == hi else e2
                Sr[j] = Sr[j] * np.float64(e1) + Scr[j] * np.float64(e2)
                Mr[j] = hi


@jit
def _lse_entry(a, b, i, j, inv_t, tau):
    """One entry of the log-space product by a strided two-pass LogSumExp over ``k``."""
    k = a.shape[1]
    ninf = a.dtype.type(-np.inf)
    zero = a.dtype.type(0.0)
    nan = a.dtype.type(np.nan)
    m = ninf
    for kk in range(k):
        av = a[i, kk]
        bv = b[kk, j]
        t = ninf if bv == _zero_partner(av, nan) else av + bv
        m = t if t > m else m
    s = 0.0
    for kk in range(k):
        av = a[i, kk]
        bv = b[kk, j]
        t = ninf if bv == _zero_partner(av, nan) else av + bv
        s += np.float64(exp(zero if t == m else (t - m) * inv_t))
    return _lse_finish(m, s, tau)


@jit
def _n_tiles(n):
    return (n + TILE_ROWS - 1) // TILE_ROWS


@jit(inline="always")
def _row_tile(task, nt, n):
    """Task ``task`` of a kernel over (batch, row tile), ``nt`` tiles a batch entry:
    ``(bi, i0, i1)``, the batch entry and the rows ``[i0, i1)`` of its tile."""
    bi = task // nt
    i0 = (task - bi * nt) * TILE_ROWS
    return bi, i0, min(i0 + TILE_ROWS, n)


@kernel
def _lme_exact(a, b, ia, ib, inv_t, tau, c):
    """Log-space product by the exact two-pass kernel: prange over (batch, row tile)."""
    n_b, n, m = c.shape
    nt = _n_tiles(n)
    for task in prange(n_b * nt):
        bi, i0, i1 = _row_tile(task, nt, n)
        ab = a[ia[bi]]
        bb = b[ib[bi]]
        cb = c[bi]
        M = np.empty((TILE_ROWS, TILE_COLS), a.dtype)
        S = np.empty((TILE_ROWS, TILE_COLS), np.float64)
        Mc = np.empty((TILE_ROWS, TILE_COLS), a.dtype)
        Sc = np.empty((TILE_ROWS, TILE_COLS), np.float64)
        for j0 in range(0, m, TILE_COLS):
            j1 = min(j0 + TILE_COLS, m)
            _lse_rows_state(ab, bb, i0, i1, j0, j1, inv_t, M, S, Mc, Sc)
            for r in range(i1 - i0):
                cr = cb[i0 + r]
                for j in range(j1 - j0):
                    cr[j0 + j] = _lse_finish(M[r, j], S[r, j], tau)


@kernel
def _maxplus(a, b, ia, ib, c, idx):
    """Max-plus product with argmax capture: prange over (batch, row tile)."""
    n_b, n, m = c.shape
    nt = _n_tiles(n)
    for task in prange(n_b * nt):
        bi, i0, i1 = _row_tile(task, nt, n)
        for j0 in range(0, m, TILE_COLS):
            _maxplus_rows(a[ia[bi]], b[ib[bi]], i0, i1, j0, min(j0 + TILE_COLS, m), c[bi], idx[bi])


# ---------------------------------------------------------------------------------------
# The rescaled BLAS product and its exact repair


@kernel
def _exp_rows_shifted(x, mx, inv_t, lo, out):
    """``out[r, q] = exp((x[r, q] - mx[r]) / tau)`` for rows of ``x`` (R, L) whose ``mx``
    is finite (0 elsewhere), with arguments below ``lo`` (the subnormal range) flushed
    to 0."""
    n_r, n_l = x.shape
    zero = x.dtype.type(0.0)
    for r in prange(n_r):
        mr = mx[r]
        xr = x[r]
        orow = out[r]
        if -np.inf < mr < np.inf:
            for q in range(U(n_l)):
                arg = (xr[q] - mr) * inv_t
                orow[q] = zero if arg < lo else exp(arg)
        else:
            for q in range(U(n_l)):
                orow[q] = zero


@kernel
def _exp_cols_shifted(x, mx, inv_t, lo, out):
    """``out[p, r, q] = exp((x[p, r, q] - mx[p, q]) / tau)`` for the columns ``q`` whose
    maximum is finite (0 elsewhere); arguments below ``lo`` flushed to 0."""
    n_p, n_r, n_l = x.shape
    zero = x.dtype.type(0.0)
    ninf = x.dtype.type(-np.inf)
    for task in prange(n_p * n_r):
        p = task // n_r
        r = task - p * n_r
        xr = x[p, r]
        mr = mx[p]
        orow = out[p, r]
        for q in range(U(n_l)):
            mq = mr[q]
            ok = (mq > ninf) & (mq < -ninf)
            arg = (xr[q] - mq) * inv_t
            arg = arg if ok else ninf
            orow[q] = zero if arg < lo else exp(arg)


@kernel
def _lme_repair(a, b, ia, ib, ma, mb, P, thr, inv_t, tau, c):
    """``c = ma + mb + tau log P`` where ``P >= thr`` and both maxima are finite; the
    other entries recomputed exactly (per entry, or by rows when many are flagged)."""
    n_b, n, m = c.shape
    nt = _n_tiles(n)
    for task in prange(n_b * nt):
        bi, i0, i1 = _row_tile(task, nt, n)
        ab = a[ia[bi]]
        bb = b[ib[bi]]
        mab = ma[ia[bi]]
        mbb = mb[ib[bi]]
        cb = c[bi]
        Pb = P[bi]
        M = np.empty((1, TILE_COLS), a.dtype)
        S = np.empty((1, TILE_COLS), np.float64)
        Mc = np.empty((1, TILE_COLS), a.dtype)
        Sc = np.empty((1, TILE_COLS), np.float64)
        for i in range(i0, i1):
            mai = np.float64(mab[i])
            pr = Pb[i]
            cr = cb[i]
            bad = 0
            row_ok = -np.inf < mai < np.inf
            for j in range(U(m)):
                p = np.float64(pr[j])
                mbj = np.float64(mbb[j])
                ok = (p >= thr) & (mbj > -np.inf) & (mbj < np.inf) & row_ok
                v = mai + mbj + tau * _log_normal(p)
                cr[j] = v if ok else np.nan
                bad += 0 if ok else 1
            if bad == 0:
                continue
            if bad * ROW_REDO_FRACTION > m:
                for j0 in range(0, m, TILE_COLS):
                    j1 = min(j0 + TILE_COLS, m)
                    _lse_rows_state(ab, bb, i, i + 1, j0, j1, inv_t, M, S, Mc, Sc)
                    for j in range(j0, j1):
                        p = np.float64(pr[j])
                        mbj = np.float64(mbb[j])
                        if not ((p >= thr) & (mbj > -np.inf) & (mbj < np.inf) & row_ok):
                            cr[j] = _lse_finish(M[0, j - j0], S[0, j - j0], tau)
            else:
                for j in range(m):
                    p = np.float64(pr[j])
                    mbj = np.float64(mbb[j])
                    if not ((p >= thr) & (mbj > -np.inf) & (mbj < np.inf) & row_ok):
                        cr[j] = _lse_entry(ab, bb, i, j, inv_t, tau)


def _shifted_exps(op, inv_t):
    """``(ma, mb, ea, eb, thr)``: the row maxima of ``a`` and column maxima of ``b``, the
    rescaled exponentials ``exp((a - ma) / tau)`` and ``exp((b - mb) / tau)`` (0 in rows
    and columns whose maximum is not finite, arguments in the subnormal range flushed to
    0) and the bound below which a product entry may have lost digits."""
    a3, b3 = op.a3, op.b3
    k = a3.shape[2]
    f32 = a3.dtype == np.float32
    lo = -87.0 if f32 else -708.0
    thr = k * 2.0 ** (-90 if f32 else -960)
    with np.errstate(invalid="ignore"):
        ma = a3.max(axis=2)  # (Ba, n): nan propagates -> the row is repaired
        mb = b3.max(axis=1)  # (Bb, m)
    ea = np.empty_like(a3)
    eb = np.empty_like(b3)
    rows = a3.reshape(-1, k)
    # serial: O(n k + k m) next to the O(n k m) BLAS product, whose threads still spin
    # when these kernels run (parallel twins here made the whole call 3-7x slower)
    _exp_rows_shifted(rows, ma.reshape(-1), a3.dtype.type(inv_t), a3.dtype.type(lo), ea.reshape(-1, k),
                      parallel=False)
    _exp_cols_shifted(b3, mb, b3.dtype.type(inv_t), b3.dtype.type(lo), eb, parallel=False)
    return ma, mb, ea, eb, thr


def _lme_fast(op, inv_t, tau, c):
    """The rescaled BLAS product with the exact repair (see the module notes)."""
    ma, mb, ea, eb, thr = _shifted_exps(op, inv_t)
    P = np.matmul(ea.reshape(op.a_batch + ea.shape[1:]), eb.reshape(op.b_batch + eb.shape[1:]))
    P = P.reshape(c.shape)
    # the repair runs its parallel twin only when it has O(n k m)-sized work: the entries
    # to recompute, counted first (which twin runs does not change the values)
    with np.errstate(invalid="ignore"):
        bad = ~(P >= thr) | ~np.isfinite(ma)[op.ia][:, :, None] | ~np.isfinite(mb)[op.ib][:, None, :]
    work = int(np.count_nonzero(bad)) * op.k
    _lme_repair(op.a3, op.b3, op.ia, op.ib, ma, mb, P, thr, inv_t, tau, c,
                parallel=work >= REPAIR_PARALLEL_TERMS and use_parallel(work))


# ---------------------------------------------------------------------------------------
# Operands


class _Operands:
    """Checked operands of a semiring product: ``a3`` (Ba, n, k), ``b3`` (Bb, k, m)
    C-contiguous in the compute dtype, the broadcast ``batch`` shape and, per output
    matrix, the stack entries ``ia``, ``ib`` it uses."""

    __slots__ = ("a3", "b3", "ia", "ib", "batch", "a_batch", "b_batch", "dtype", "out_dtype", "n", "k", "m")


def _check_float(x, fname, name):
    x = np.asarray(x)
    float_dtypes(x.dtype, fname, name)
    return x


def _batch_maps(a_batch, b_batch, fname, what=("a", "b")):
    try:
        batch = np.broadcast_shapes(a_batch, b_batch)
    except ValueError:
        raise ValueError(
            f"{fname}: the batch dimensions of `{what[0]}` {a_batch} and `{what[1]}` {b_batch} "
            "do not broadcast"
        ) from None
    ia = np.broadcast_to(np.arange(prod(a_batch), dtype=np.int64).reshape(a_batch), batch).ravel()
    ib = np.broadcast_to(np.arange(prod(b_batch), dtype=np.int64).reshape(b_batch), batch).ravel()
    return batch, np.ascontiguousarray(ia), np.ascontiguousarray(ib)


def _check_shapes(fname, a_shape, b_shape, names=("a", "b")):
    na, nb = names
    if len(a_shape) < 2:
        raise ValueError(f"{fname}: `{na}` must have at least 2 dimensions (..., n, k), got shape {a_shape}")
    if len(b_shape) < 2:
        raise ValueError(f"{fname}: `{nb}` must have at least 2 dimensions (..., k, m), got shape {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(
            f"{fname}: the inner dimensions differ: `{na}` has shape {a_shape} (k = {a_shape[-1]}) "
            f"and `{nb}` has shape {b_shape} (k = {b_shape[-2]})"
        )


def _operands(fname, a, b, extra=()):
    """Validate ``a``, ``b`` (and the dtypes of ``extra`` arrays, for the backward)."""
    a = _check_float(a, fname, "a")
    b = _check_float(b, fname, "b")
    _check_shapes(fname, a.shape, b.shape)
    compute, out = float_dtypes(np.result_type(a.dtype, b.dtype, *[e.dtype for e in extra]), fname, "a")
    op = _Operands()
    op.n, op.k = a.shape[-2:]
    op.m = b.shape[-1]
    op.a_batch, op.b_batch = a.shape[:-2], b.shape[:-2]
    op.batch, op.ia, op.ib = _batch_maps(op.a_batch, op.b_batch, fname)
    op.a3 = np.ascontiguousarray(a, dtype=compute).reshape((prod(op.a_batch),) + a.shape[-2:])
    op.b3 = np.ascontiguousarray(b, dtype=compute).reshape((prod(op.b_batch),) + b.shape[-2:])
    op.dtype, op.out_dtype = compute, out
    return op


def _unbroadcast(g, shape):
    """Sum ``g`` (batch + matrix shape) over the dimensions broadcast to reach it from
    ``shape``."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape[:-2]) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# ---------------------------------------------------------------------------------------
# logmatmulexp


def logmatmulexp(a, b, *, temperature=1.0, out=None):
    r"""Matrix product in the log semiring: ``log(exp(a) @ exp(b))``, exactly.

    .. math::

        c_{\dots ij} = \tau \log \sum_k \exp\!\left(\frac{a_{\dots ik} + b_{\dots kj}}{\tau}\right)

    Parameters
    ----------
    a : array_like, shape (..., n, k)
        Log-space left operand (bool, int or float).
    b : array_like, shape (..., k, m)
        Log-space right operand; batch dimensions broadcast as in ``np.matmul``.
    temperature : float, optional
        :math:`\tau > 0`. As :math:`\tau \to 0` the result tends to the max-plus product
        :func:`maxplus_matmul`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple, one entry per result, ``None`` to allocate
        that one), of its exact shape and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    ndarray, shape (..., n, m)
        float32 for float32 operands, float64 for float64 (mixed dtypes promote as NumPy
        does; ints and bools compute in float64, float16 in float32).

    Raises
    ------
    ValueError
        Operands with fewer than 2 dimensions, different inner dimensions, batch
        dimensions that do not broadcast, a temperature that is not finite and > 0.
    TypeError
        Complex, object or other non-real dtypes.

    See Also
    --------
    logmatmulexp_backward : its vector-Jacobian product.
    maxplus_matmul : the max-plus (tropical) product, the limit :math:`\tau \to 0`.
    scipy.special.logsumexp : ``logsumexp(a[..., :, :, None] + b[..., None, :, :], axis=-2)``
        computes the same with an ``n k m`` temporary.

    Notes
    -----
    Exact in float64 to about ``1e-13`` relative to ``|c| + max|a| + max|b|`` for every
    input, including entries spread over ``[-700, 700]`` whose row maximum in ``a`` and
    column maximum in ``b`` sit at different ``k`` (where the popular
    ``log(exp(a - ma) @ exp(b - mb)) + ma + mb`` returns ``-inf``). Large products run
    one BLAS ``matmul`` of rescaled exponentials and recompute exactly, by a streaming
    two-pass LogSumExp, the entries whose computed value shows that underflow may have
    cost digits; small ones run the streaming kernel only (module notes of
    ``fastsmooth._semiring``). Extra memory is O(n k + k m + n m), never O(n k m).

    Special values: ``-inf`` is the semiring zero, so a term with a ``-inf`` operand is
    ``-inf`` even when the other operand is ``+inf``; an empty (``k = 0``) or all
    ``-inf`` sum gives ``-inf``; ``+inf + finite`` gives ``+inf``; a nan operand makes
    the entries it reaches nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> a = np.log([[1.0, 2.0], [3.0, 4.0]])
    >>> b = np.log([[5.0, 6.0], [7.0, 8.0]])
    >>> np.exp(fs.logmatmulexp(a, b))                 # = exp(a) @ exp(b)
    array([[19., 22.],
           [43., 50.]])
    >>> a = np.array([[1000.0, -1000.0]])             # exp(a) overflows; log space does not
    >>> b = np.array([[-1000.0], [1000.0]])
    >>> fs.logmatmulexp(a, b)                         # log(exp(0) + exp(0))
    array([[0.69314718]])
    >>> fs.logmatmulexp(np.zeros((2, 0)), np.zeros((0, 3)))   # empty sums
    array([[-inf, -inf, -inf],
           [-inf, -inf, -inf]])
    """
    fname = "logmatmulexp"
    tau = check_temperature(temperature, fname)
    op = _operands(fname, a, b)
    c = np.empty((len(op.ia), op.n, op.m), op.dtype)
    if c.size:
        if op.k == 0:
            c.fill(-np.inf)
        else:
            _lme_compute(op, 1.0 / tau, tau, c)
    return finish_out((_cast(c.reshape(op.batch + (op.n, op.m)), op.out_dtype)), out, fname)


def _lme_compute(op, inv_t, tau, c):
    terms = c.size * op.k
    if terms >= FAST_MIN_TERMS and op.n >= FAST_MIN_DIM and op.k >= FAST_MIN_DIM:
        _lme_fast(op, inv_t, tau, c)
    else:
        _lme_exact(op.a3, op.b3, op.ia, op.ib, op.dtype.type(inv_t), tau, c, parallel=use_parallel(terms))


def _prepare_weights(c, g, op):
    """Per output entry, the saved value ``cw`` the exponent is taken against and the
    factor ``gw`` each weight is multiplied by: ``c`` and ``g`` for a finite ``c``;
    ``0`` and ``0`` where ``c = -inf`` (an all ``-inf`` sum: zero gradient); for
    ``c = +inf``, ``+inf`` and ``g / (number of +inf terms)``, so the ``+inf`` terms share
    the gradient (the limit of the softmax weights)."""
    cw = c.copy()
    gw = g.astype(np.float64)
    neg = c == -np.inf
    cw[neg] = 0
    gw[neg] = 0
    pos = np.argwhere(c == np.inf)
    if len(pos):
        for bi, i, j in pos:
            at = op.a3[op.ia[bi], i]
            bt = op.b3[op.ib[bi], :, j]
            with np.errstate(invalid="ignore"):
                t = at + bt
            t[(at == -np.inf) | (bt == -np.inf)] = -np.inf
            cnt = np.count_nonzero(t == np.inf)
            gw[bi, i, j] = gw[bi, i, j] / cnt if cnt else np.nan
    return cw, gw


@jit
def _weight(av, bv, z, cj, inv_t, one, ninf):
    t = ninf if bv == z else av + bv
    e = exp((t - cj) * inv_t)
    return one if t == cj else e


@jit(fastmath=REDUCTION_FASTMATH)
def _weighted_row_sum(av, z, brow, cr, gr, inv_t, m):
    """``sum_j gr[j] exp((av + brow[j] - cr[j]) / tau)`` (float64; ``reassoc`` so that
    the sum vectorizes)."""
    one = brow.dtype.type(1.0)
    ninf = brow.dtype.type(-np.inf)
    s = 0.0
    for j in range(U(m)):
        s += gr[j] * np.float64(_weight(av, brow[j], z, cr[j], inv_t, one, ninf))
    return s


@kernel
def _lme_grad_a(a, b, ia, ib, cw, gw, inv_t, ga):
    """``ga[bi, i, k] = sum_j gw[bi, i, j] exp((a_ik + b_kj - cw_ij) / tau)``: prange
    over (batch, row); the inner sum runs along a row of ``b`` (contiguous)."""
    n_b, n, k = ga.shape
    m = cw.shape[2]
    nan = a.dtype.type(np.nan)
    for task in prange(n_b * n):
        bi = task // n
        i = task - bi * n
        ab = a[ia[bi]]
        bb = b[ib[bi]]
        cr = cw[bi, i]
        gr = gw[bi, i]
        out = ga[bi, i]
        for kk in range(k):
            av = ab[i, kk]
            z = _zero_partner(av, nan)
            brow = bb[kk]
            out[kk] = _weighted_row_sum(av, z, brow, cr, gr, inv_t, m)


@kernel
def _lme_grad_b(a, b, ia, ib, cw, gw, inv_t, gb):
    """``gb[bi, k, j] = sum_i gw[bi, i, j] exp((a_ik + b_kj - cw_ij) / tau)``: prange
    over (batch, k); each task accumulates its row of ``gb`` over ``i`` in order."""
    n_b, k, m = gb.shape
    n = cw.shape[1]
    one = a.dtype.type(1.0)
    ninf = a.dtype.type(-np.inf)
    nan = a.dtype.type(np.nan)
    for task in prange(n_b * k):
        bi = task // k
        kk = task - bi * k
        ab = a[ia[bi]]
        brow = b[ib[bi], kk]
        out = gb[bi, kk]
        for j in range(U(m)):
            out[j] = 0.0
        for i in range(n):
            av = ab[i, kk]
            z = _zero_partner(av, nan)
            cr = cw[bi, i]
            gr = gw[bi, i]
            for j in range(U(m)):
                out[j] += gr[j] * np.float64(_weight(av, brow[j], z, cr[j], inv_t, one, ninf))


@kernel
def _backward_scales(ma, mb, ia, ib, c, g, inv_t, lim, gt, flag):
    """``gt = g exp((ma + mb - c) / tau)`` where that factor is at most ``exp(lim)`` and
    ``ma``, ``mb``, ``c`` are finite (the BLAS part of the backward); elsewhere ``gt = 0``,
    and ``flag = 1`` where the entry needs the exact treatment (``c = -inf`` needs none:
    it sends no gradient). Returns nothing; prange over (batch, row)."""
    n_b, n, m = c.shape
    for task in prange(n_b * n):
        bi = task // n
        i = task - bi * n
        mai = np.float64(ma[ia[bi], i])
        mbr = mb[ib[bi]]
        cr = c[bi, i]
        gr = g[bi, i]
        gtr = gt[bi, i]
        fr = flag[bi, i]
        row_ok = -np.inf < mai < np.inf
        for j in range(U(m)):
            cj = np.float64(cr[j])
            mbj = np.float64(mbr[j])
            arg = (mai + mbj - cj) * inv_t
            ok = row_ok & (mbj > -np.inf) & (mbj < np.inf) & (cj > -np.inf) & (cj < np.inf) & (arg <= lim)
            e = exp(arg)
            gtr[j] = gr[j] * e if ok else 0.0
            fr[j] = 0 if (ok | (cj == -np.inf)) else 1


@kernel
def _backward_repair(a, b, ia, ib, cw, gw, starts, ent_i, ent_j, inv_t, ga, gb):
    """Add the exact gradient contributions of the flagged entries (listed per batch,
    ``starts[bi]:starts[bi + 1]``) to ``ga``, ``gb``: prange over the batch, each task
    adds its entries in order."""
    n_b = ga.shape[0]
    k = a.shape[2]
    one = a.dtype.type(1.0)
    ninf = a.dtype.type(-np.inf)
    nan = a.dtype.type(np.nan)
    for bi in prange(n_b):
        ab = a[ia[bi]]
        bb = b[ib[bi]]
        for e in range(starts[bi], starts[bi + 1]):
            i = ent_i[e]
            j = ent_j[e]
            cj = cw[bi, i, j]
            gj = gw[bi, i, j]
            for kk in range(k):
                av = ab[i, kk]
                w = gj * np.float64(_weight(av, bb[kk, j], _zero_partner(av, nan), cj, inv_t, one, ninf))
                ga[bi, i, kk] += w
                gb[bi, kk, j] += w


def _lme_backward_fast(op, c3, g3, inv_t, ga, gb):
    """The backward as two BLAS products of the rescaled exponentials,
    ``grad_a = ea * ((g w) @ eb^T)``, ``grad_b = eb * (ea^T @ (g w))`` with
    ``w = exp((ma + mb - c) / tau)``, and the entries where ``w`` is too large for the
    flushed exponentials to be accurate (those the forward repaired) added exactly.
    Returns False (nothing done) when more than 1/ROW_REDO_FRACTION of the entries
    would need the exact treatment: the streaming kernels are faster then."""
    ma, mb, ea, eb, thr = _shifted_exps(op, float(inv_t))
    nb, n, m = c3.shape
    gt = np.empty(c3.shape, op.dtype)
    flag = np.empty(c3.shape, np.uint8)
    _backward_scales(ma, mb, op.ia, op.ib, c3, g3, float(inv_t), -math.log(thr), gt, flag, parallel=False)
    n_flag = int(np.count_nonzero(flag))
    if n_flag * ROW_REDO_FRACTION > c3.size:
        return False
    ea4 = ea.reshape(op.a_batch + ea.shape[1:])
    eb4 = eb.reshape(op.b_batch + eb.shape[1:])
    gt4 = gt.reshape(op.batch + (n, m))
    ga[...] = (np.matmul(gt4, np.swapaxes(eb4, -1, -2)) * ea4).reshape(ga.shape)
    gb[...] = (np.matmul(np.swapaxes(ea4, -1, -2), gt4) * eb4).reshape(gb.shape)
    if n_flag:
        bi, ent_i, ent_j = np.nonzero(flag)
        starts = np.searchsorted(bi, np.arange(nb + 1)).astype(np.int64)
        cw, gw = _prepare_weights(c3, g3, op)
        _backward_repair(op.a3, op.b3, op.ia, op.ib, cw, gw, starts, ent_i.astype(np.int64),
                         ent_j.astype(np.int64), inv_t, ga, gb,
                         parallel=nb > 1 and n_flag * op.k >= REPAIR_PARALLEL_TERMS and use_parallel(n_flag * op.k))
    return True


def logmatmulexp_backward(grad, a, b, out, *, temperature=1.0):
    r"""Vector-Jacobian product of :func:`logmatmulexp`.

    .. math::

        \frac{\partial L}{\partial a_{ik}} = \sum_j g_{ij}\, e^{(a_{ik} + b_{kj} - c_{ij}) / \tau},
        \qquad
        \frac{\partial L}{\partial b_{kj}} = \sum_i g_{ij}\, e^{(a_{ik} + b_{kj} - c_{ij}) / \tau}

    (the weights are the softmax over ``k`` of the terms of each output entry).

    Parameters
    ----------
    grad : array_like, shape (..., n, m)
        :math:`g = \partial L / \partial c`, shaped like the broadcast output.
    a, b : array_like
        The operands of the forward call.
    out : array_like, shape (..., n, m)
        The forward result ``c = logmatmulexp(a, b, temperature=temperature)``. It is
        read, never written: this ``out`` is the saved forward result, so this function
        takes no buffer for its results (see :ref:`out-buffers`).
    temperature : float, optional
        The forward's :math:`\tau`.

    Returns
    -------
    grad_a, grad_b : ndarray
        Shaped like ``a`` and ``b``: summed over the batch dimensions that were
        broadcast. The dtype is that of all four arguments promoted (float32 stays float32).

    Notes
    -----
    Large products use two BLAS products of the forward's rescaled exponentials,
    ``grad_a = exp((a - ma) / tau) * ((g w) @ exp((b - mb) / tau)^T)`` with
    ``w = exp((ma + mb - out) / tau)``, and add the contributions of the entries the
    forward had to repair (where ``w`` is too large for the flushed exponentials) exactly,
    term by term; when more than an eighth of the entries need that, and for small
    products, the gradients are computed by streaming over the terms (``n k m`` exps for
    each of the two, sums in float64), each parallel task owning a row of ``grad_a`` or
    of ``grad_b``. Special values: an entry with ``c = -inf`` (an all ``-inf`` or empty
    sum) sends no gradient; a term with a ``-inf`` operand gets weight 0; where
    ``c = +inf`` the ``+inf`` terms share the gradient equally; nan propagates.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> a = np.log([[1.0, 3.0]])
    >>> b = np.log([[1.0], [1.0]])
    >>> c = fs.logmatmulexp(a, b)                  # log(1 + 3)
    >>> ga, gb = fs.logmatmulexp_backward(np.ones((1, 1)), a, b, c)
    >>> ga                                         # the softmax weights of the two terms
    array([[0.25, 0.75]])
    >>> gb
    array([[0.25],
           [0.75]])
    """
    fname = "logmatmulexp_backward"
    tau = check_temperature(temperature, fname)
    g = _check_float(grad, fname, "grad")
    o = _check_float(out, fname, "out")
    op = _operands(fname, a, b, extra=(g, o))
    shape = op.batch + (op.n, op.m)
    if g.shape != shape:
        raise ValueError(f"{fname}: `grad` must have the shape of the output {shape}, got {g.shape}")
    if o.shape != shape:
        raise ValueError(f"{fname}: `out` must have the shape of the output {shape}, got {o.shape}")
    nb = len(op.ia)
    a_shape, b_shape = op.a_batch + (op.n, op.k), op.b_batch + (op.k, op.m)
    ga = np.zeros((nb, op.n, op.k))
    gb = np.zeros((nb, op.k, op.m))
    if ga.size and op.m or gb.size and op.n:
        c3 = np.ascontiguousarray(o, dtype=op.dtype).reshape(nb, op.n, op.m)
        g3 = np.ascontiguousarray(g).reshape(nb, op.n, op.m)
        inv_t = op.dtype.type(1.0 / tau)
        work = nb * op.n * op.k * op.m
        done = False
        # (any n: unlike the forward, whose exact kernel reads b once, the streaming
        # backward makes two passes of n k m exps; the BLAS one exps b once)
        if work >= FAST_MIN_TERMS and op.k >= FAST_MIN_DIM:
            done = _lme_backward_fast(op, c3, g3, inv_t, ga, gb)
        if not done:
            cw, gw = _prepare_weights(c3, g3, op)
            _lme_grad_a(op.a3, op.b3, op.ia, op.ib, cw, gw, inv_t, ga, parallel=use_parallel(work))
            _lme_grad_b(op.a3, op.b3, op.ia, op.ib, cw, gw, inv_t, gb, parallel=use_parallel(work))
    ga = _unbroadcast(ga.reshape(op.batch + (op.n, op.k)), a_shape)
    gb = _unbroadcast(gb.reshape(op.batch + (op.k, op.m)), b_shape)
    return _cast(ga, op.out_dtype), _cast(gb, op.out_dtype)


# ---------------------------------------------------------------------------------------
# maxplus_matmul


def maxplus_matmul(a, b, *, out=None):
    r"""Matrix product in the max-plus (tropical) semiring, with the winning index.

    .. math::

        c_{\dots ij} = \max_k \,(a_{\dots ik} + b_{\dots kj}), \qquad
        \mathrm{index}_{\dots ij} = \operatorname*{arg\,max}_k \,(a_{\dots ik} + b_{\dots kj})

    Parameters
    ----------
    a : array_like, shape (..., n, k)
    b : array_like, shape (..., k, m)
        Batch dimensions broadcast as in ``np.matmul``.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple, one entry per result, ``None`` to allocate
        that one), of its exact shape and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    c : ndarray, shape (..., n, m)
        The maxima, in the promoted float dtype (float32 stays float32).
    index : ndarray of int64, shape (..., n, m)
        The winning ``k``: the first on ties; a nan term wins (the first nan), as in
        ``np.argmax``.

    Raises
    ------
    ValueError
        Operands with fewer than 2 dimensions, different inner dimensions, batch
        dimensions that do not broadcast.
    TypeError
        Non-real dtypes.

    See Also
    --------
    maxplus_matmul_backward : routes the gradient through ``index``.
    logmatmulexp : the smooth version; ``logmatmulexp(a, b, temperature=t) -> c`` as
        ``t -> 0``.

    Notes
    -----
    One pass over ``k`` per output tile, vectorized across ``j`` (rows of ``b`` are
    contiguous), parallel over (batch, row tiles). ``-inf`` is the semiring zero: a term
    with a ``-inf`` operand is ``-inf`` even when the other is ``+inf``; ``k = 0`` or
    all ``-inf`` terms give ``-inf`` with index 0.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> a = np.array([[0.0, 2.0], [1.0, -np.inf]])
    >>> b = np.array([[1.0, 0.0], [0.0, np.inf]])
    >>> c, index = fs.maxplus_matmul(a, b)
    >>> c
    array([[ 2., inf],
           [ 2.,  1.]])
    >>> index                  # -inf + inf is -inf (not nan): entry (1, 1) takes k = 0
    array([[1, 1],
           [0, 0]])
    """
    fname = "maxplus_matmul"
    op = _operands(fname, a, b)
    nb = len(op.ia)
    c = np.empty((nb, op.n, op.m), op.dtype)
    idx = np.zeros((nb, op.n, op.m), np.int64)
    if c.size:
        if op.k == 0:
            c.fill(-np.inf)
        else:
            _maxplus(op.a3, op.b3, op.ia, op.ib, c, idx, parallel=use_parallel(c.size * op.k))
    shape = op.batch + (op.n, op.m)
    return finish_out((_cast(c.reshape(shape), op.out_dtype), idx.reshape(shape)), out, fname)


@kernel
def _maxplus_grad_a(g, idx, ga):
    """``ga[bi, i, idx[bi, i, j]] += g[bi, i, j]``: prange over (batch, row)."""
    n_b, n, m = g.shape
    for task in prange(n_b * n):
        bi = task // n
        i = task - bi * n
        gr = g[bi, i]
        ir = idx[bi, i]
        out = ga[bi, i]
        for j in range(m):
            out[ir[j]] += gr[j]


@kernel
def _maxplus_grad_b(g, idx, gb):
    """``gb[bi, idx[bi, i, j], j] += g[bi, i, j]``: prange over (batch, column tile);
    each task owns its columns and adds over ``i`` in order."""
    n_b, n, m = g.shape
    nt = (m + TILE_COLS - 1) // TILE_COLS
    for task in prange(n_b * nt):
        bi = task // nt
        j0 = (task - bi * nt) * TILE_COLS
        j1 = min(j0 + TILE_COLS, m)
        out = gb[bi]
        for i in range(n):
            gr = g[bi, i]
            ir = idx[bi, i]
            for j in range(j0, j1):
                out[ir[j], j] += gr[j]


def _shape_arg(value, fname, name):
    try:
        shape = tuple(int(s) for s in value)
    except TypeError:
        raise TypeError(f"{fname}: `{name}` must be a tuple of ints, got {value!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{fname}: `{name}` must not have negative sizes, got {value!r}")
    return shape


def maxplus_matmul_backward(grad, index, a_shape, b_shape, *, out=None):
    r"""Vector-Jacobian product of :func:`maxplus_matmul`: route each gradient to the
    winning pair.

    .. math::

        \frac{\partial L}{\partial a_{ik}} = \sum_{j:\ \mathrm{index}_{ij} = k} g_{ij},
        \qquad
        \frac{\partial L}{\partial b_{kj}} = \sum_{i:\ \mathrm{index}_{ij} = k} g_{ij}

    Parameters
    ----------
    grad : array_like, shape (..., n, m)
        :math:`g = \partial L / \partial c`.
    index : array_like of int, shape (..., n, m)
        The index returned by :func:`maxplus_matmul`.
    a_shape, b_shape : tuple of ints
        Shapes of the forward operands, (..., n, k) and (..., k, m).

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple, one entry per result, ``None`` to allocate
        that one), of its exact shape and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    grad_a, grad_b : ndarray, shapes ``a_shape`` and ``b_shape``
        In the float dtype of ``grad``; summed over broadcast batch dimensions.

    Raises
    ------
    ValueError
        Shapes that do not fit together, an index outside ``[0, k)``.
    TypeError
        A non-real ``grad`` or non-integer ``index``.

    Notes
    -----
    A scatter-add; each parallel task owns a row of ``grad_a`` or a tile of columns of
    ``grad_b``, so there are no races and the sums do not depend on the threads.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> a = np.array([[0.0, 2.0]])
    >>> b = np.array([[1.0, 0.0], [0.0, 3.0]])
    >>> c, index = fs.maxplus_matmul(a, b)
    >>> c, index
    (array([[2., 5.]]), array([[1, 1]]))
    >>> fs.maxplus_matmul_backward(np.ones((1, 2)), index, a.shape, b.shape)
    (array([[0., 2.]]), array([[0., 0.],
           [1., 1.]]))
    """
    fname = "maxplus_matmul_backward"
    g = _check_float(grad, fname, "grad")
    idx = np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fname}: `index` must be an array of integers, got dtype {idx.dtype}")
    a_shape = _shape_arg(a_shape, fname, "a_shape")
    b_shape = _shape_arg(b_shape, fname, "b_shape")
    _check_shapes(fname, a_shape, b_shape, names=("a_shape", "b_shape"))
    batch, ia, ib = _batch_maps(a_shape[:-2], b_shape[:-2], fname, what=("a_shape", "b_shape"))
    n, k = a_shape[-2:]
    m = b_shape[-1]
    shape = batch + (n, m)
    if g.shape != shape:
        raise ValueError(f"{fname}: `grad` must have the shape of the output {shape}, got {g.shape}")
    if idx.shape != shape:
        raise ValueError(f"{fname}: `index` must have the shape of the output {shape}, got {idx.shape}")
    compute, out_dtype = float_dtypes(g.dtype, fname, "grad")
    nb = len(ia)
    ga = np.zeros((nb, n, k))
    gb = np.zeros((nb, k, m))
    if k and idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= k:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{fname}: `index` must lie in [0, {k}) (k of a_shape), got {bad}")
        g3 = np.ascontiguousarray(g, dtype=compute).reshape(nb, n, m)
        i3 = np.ascontiguousarray(idx, dtype=np.int64).reshape(nb, n, m)
        _maxplus_grad_a(g3, i3, ga, parallel=use_parallel(g3.size))
        _maxplus_grad_b(g3, i3, gb, parallel=use_parallel(g3.size))
    ga = _unbroadcast(ga.reshape(batch + (n, k)), a_shape)
    gb = _unbroadcast(gb.reshape(batch + (k, m)), b_shape)
    return finish_out((_cast(ga, out_dtype), _cast(gb, out_dtype)), out, fname)
