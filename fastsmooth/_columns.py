"""Reductions across an outer axis, in place: the column kernels.

LogSumExp, softmax and log-softmax along an axis that is not the contiguous one (``axis=0``
of a C-ordered matrix, the middle axis of a 3-D array) used to make one transposed copy of
the whole input (:func:`._arrays.to_rows`), an input-sized temporary. Here the input is
seen as ``(B, n, C)`` -- ``B`` outer slices, the ``n`` elements reduced, ``C`` contiguous
columns -- and reduced across ``n`` where it lies: each column keeps its own running
LogSumExp state, and every step runs along the contiguous axis, one lane per column, so
it vectorizes as the row kernels do across elements.

The state of a column is the one of :mod:`._rowops`: ``m``, the largest element seen, and
``s``, the sum of ``exp((x - m) / tau)`` minus the one term that is exactly 1 (the
``log1p`` finish). Rows are taken :data:`CHUNK_ROWS` at a time (a chunk of one column
block stays in cache between two sweeps): the first sweep finds each column's maximum of
the chunk, the second sums the exponentials against it, keeping the elements equal to
the maximum out of the sum and counting them; the chunk then merges into the column's
state (rescaling the old sum once per column when the maximum grew). Memory is read
once for LogSumExp; softmax and log-softmax read it a second time to write the output.

Tasks are fixed by the shape alone (:func:`col_plan`): blocks of :data:`COL_BLOCK_BYTES`
of columns, and when there are few blocks the reduced axis is cut into pieces of a size
set by the shape, whose states are merged afterwards in a fixed order. So the result is
the same bit for bit on any number of threads, serial twin included.

Special values per column are those of the row kernels: a nan makes the sum nan; ``+inf``
makes ``m = inf`` and the count of the ``+inf`` entries is ``s + 1``; a column with no
element above ``-inf`` keeps ``m = -inf``.
"""

from __future__ import annotations

from math import prod

import numpy as np
from numba import prange
from numba import uint64 as U

from ._config import jit, kernel
from ._exp import exp, log1p
from ._outbuf import empty_like
from ._rowops import lse_merge

__all__ = ["COL_BLOCK_BYTES", "CHUNK_ROWS", "as_columns", "reduced_shape", "col_plan", "col_logsumexp", "col_softmax",
           "col_log_softmax"]

#: Bytes of one column block: one parallel task's columns (512 float32 or 256 float64).
COL_BLOCK_BYTES = 2048
#: Rows summarised at once per column block: 16 x 2 KiB = 32 KiB, in L1/L2 between the
#: max sweep and the sum sweep.
CHUNK_ROWS = 16
#: Fewer tasks than this (column blocks x outer slices): cut the reduced axis into pieces.
MIN_TASKS = 16
#: Shortest piece of the reduced axis.
MIN_PIECE_ROWS = 512


def as_columns(a, axes):
    """``a`` as a ``(B, n, C)`` view when ``axes`` reduce a contiguous run of axes of a
    C-ordered, non-empty ``a`` that leaves ``C > 1`` contiguous elements after it (so a
    column kernel applies without a copy); None otherwise."""
    if not axes or not a.flags.c_contiguous or a.size == 0:
        return None
    k0, k1 = axes[0], axes[-1] + 1
    if axes != tuple(range(k0, k1)) or k1 == a.ndim:
        return None
    c = prod(a.shape[k1:])
    if c <= 1:
        return None
    return a.reshape(prod(a.shape[:k0]), prod(a.shape[k0:k1]), c)


def reduced_shape(shape, axes, keepdims):
    """The shape of a reduction of ``shape`` over ``axes``."""
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def col_plan(b, n, c, itemsize):
    """``(width, blocks, pieces, piece)``: columns per block, blocks per outer slice, and
    how the reduced axis of ``n`` elements is cut. From the shape only."""
    width = COL_BLOCK_BYTES // itemsize
    blocks = -(-c // width)
    tasks = b * blocks
    pieces = 1
    if tasks < MIN_TASKS and n >= 2 * MIN_PIECE_ROWS:
        pieces = min(-(-MIN_TASKS // tasks), n // MIN_PIECE_ROWS)
    piece = -(-max(n, 1) // pieces)
    piece = -(-piece // CHUNK_ROWS) * CHUNK_ROWS
    return width, blocks, -(-max(n, 1) // piece), piece


@jit
def _col_state(xb, lo, hi, c0, c1, inv_t, m, s, cm, t, cnt):
    """The LogSumExp states ``(m[c], s[c])`` of columns ``[c0, c1)`` of the 2-D ``xb`` over
    its rows ``[lo, hi)`` (module notes). ``cm``, ``t``, ``cnt`` are scratch of at least
    ``c1 - c0`` elements in the dtype of ``xb``."""
    w = c1 - c0
    cu = U(c0)
    ninf = xb.dtype.type(-np.inf)
    zero = xb.dtype.type(0.0)
    one = xb.dtype.type(1.0)
    for i in range(U(w)):
        m[cu + i] = ninf
        s[cu + i] = -1.0
    for r0 in range(lo, hi, CHUNK_ROWS):
        r1 = min(r0 + CHUNK_ROWS, hi)
        for i in range(U(w)):
            cm[i] = m[cu + i]
            t[i] = zero
            cnt[i] = zero
        # four rows per sweep of the columns: a quarter of the loads and stores of the
        # per-column scratch, which otherwise bound the loop
        j = r0
        while j + 4 <= r1:
            a0, a1, a2, a3 = xb[j], xb[j + 1], xb[j + 2], xb[j + 3]
            for i in range(U(w)):
                v0 = a0[cu + i]
                v1 = a1[cu + i]
                v2 = a2[cu + i]
                v3 = a3[cu + i]
                u0 = v0 if v0 > v1 else v1
                u1 = v2 if v2 > v3 else v3
                u = u0 if u0 > u1 else u1
                # a nan may win here or not: either way it reaches the sum sweep (as the
                # maximum or as an element), whose terms then are nan for the column
                cm[i] = u if u > cm[i] else cm[i]
            j += 4
        while j < r1:
            a0 = xb[j]
            for i in range(U(w)):
                v = a0[cu + i]
                cm[i] = v if v > cm[i] else cm[i]
            j += 1
        j = r0
        while j + 4 <= r1:
            a0, a1, a2, a3 = xb[j], xb[j + 1], xb[j + 2], xb[j + 3]
            for i in range(U(w)):
                mx = cm[i]
                v0 = a0[cu + i]
                v1 = a1[cu + i]
                v2 = a2[cu + i]
                v3 = a3[cu + i]
                e0 = exp(ninf if v0 == mx else (v0 - mx) * inv_t)
                e1 = exp(ninf if v1 == mx else (v1 - mx) * inv_t)
                e2 = exp(ninf if v2 == mx else (v2 - mx) * inv_t)
                e3 = exp(ninf if v3 == mx else (v3 - mx) * inv_t)
                t[i] += (e0 + e1) + (e2 + e3)
                cnt[i] += ((one if v0 == mx else zero) + (one if v1 == mx else zero)) + (
                    (one if v2 == mx else zero) + (one if v3 == mx else zero))
            j += 4
        while j < r1:
            a0 = xb[j]
            for i in range(U(w)):
                v = a0[cu + i]
                mx = cm[i]
                eq = v == mx
                t[i] += exp(ninf if eq else (v - mx) * inv_t)
                cnt[i] += one if eq else zero
            j += 1
        for i in range(U(w)):
            mx = cm[i]
            mo = m[cu + i]
            si = s[cu + i]
            c = np.float64(cnt[i])
            grew = mx > mo
            # grown: the old sum rescaled once to the larger maximum (its own maximum term,
            # 1, back in), and the chunk's maxima but the one kept out; the small terms
            # last, so that 1 + 4e-18 - 1 does not round them away
            rescaled = (si + 1.0) * exp((np.float64(mo) - np.float64(mx)) * np.float64(inv_t)) + (c - 1.0)
            s[cu + i] = (rescaled if grew else si + c) + np.float64(t[i])
            m[cu + i] = mx if grew else mo


@jit(inline="always")
def _col_task(k, pieces, blocks, width, n_c, piece):
    """Task ``k`` of a column kernel: ``(b, p, c0, w, lo)``, the batch, the piece ``p``
    (rows from ``lo``) and the block of ``w`` columns from ``c0``; tasks run piece
    fastest, then column block, then batch."""
    p = k % pieces
    rest = k // pieces
    c0 = (rest % blocks) * width
    return rest // blocks, p, c0, min(n_c, c0 + width) - c0, p * piece


@kernel
def _col_stats(x, inv_t, width, blocks, piece, ms, ss):
    """States of every column of ``x`` (B, n, C) over each piece of the reduced axis:
    ``ms[p, b, c]``, ``ss[p, b, c]``."""
    n_b, n, n_c = x.shape
    pieces = ms.shape[0]
    for k in prange(n_b * blocks * pieces):
        b, p, c0, w, lo = _col_task(k, pieces, blocks, width, n_c, piece)
        c1 = c0 + w
        cm = np.empty(width, x.dtype)
        t = np.empty(width, x.dtype)
        cnt = np.empty(width, x.dtype)
        _col_state(x[b], lo, min(n, lo + piece), c0, c1, inv_t, ms[p, b], ss[p, b], cm, t, cnt)


@jit
def _merge_col_pieces(ms, ss, inv_t):
    """Merge the piece states into ``ms[0]``, ``ss[0]``, pieces in order."""
    pieces, n_b, n_c = ms.shape
    for p in range(1, pieces):
        for b in range(n_b):
            for c in range(n_c):
                m, s = lse_merge(ms[0, b, c], ss[0, b, c], ms[p, b, c], ss[p, b, c], inv_t)
                ms[0, b, c] = m
                ss[0, b, c] = s


def _col_states(x, inv_t, parallel):
    """``(m, s, plan)``: per-column states (B, C) of ``x`` (B, n, C)."""
    n_b, n, n_c = x.shape
    width, blocks, pieces, piece = plan = col_plan(n_b, n, n_c, x.itemsize)
    ms = np.empty((pieces, n_b, n_c), x.dtype)
    ss = np.empty((pieces, n_b, n_c), np.float64)
    _col_stats(x, inv_t, width, blocks, piece, ms, ss, parallel=parallel)
    if pieces > 1:
        _merge_col_pieces(ms, ss, np.float64(inv_t))
    return ms[0], ss[0], plan


@jit
def _lse_finish(m, s, tau, out):
    """``out = m + tau * log1p(s)`` with the special columns of ``lse_value``."""
    mf = m.reshape(-1)
    sf = s.reshape(-1)
    of = out.reshape(-1)
    for i in range(U(mf.size)):
        mi = mf[i]
        si = sf[i]
        v = np.float64(mi) + tau * log1p(si)
        of[i] = (np.nan if si != si else -np.inf) if mi == -np.inf else v


def col_logsumexp(x, inv_t, tau, parallel):
    """LogSumExp of ``x`` (B, n, C) across ``n``: ``(B, C)`` in the dtype of ``x``."""
    m, s, _ = _col_states(x, inv_t, parallel)
    out = np.empty(m.shape, x.dtype)
    _lse_finish(m, s, np.float64(tau), out)
    return out


@jit
def _softmax_params(m, s, log):
    """Per column, the factor (softmax: ``1 / (1 + s)``, nan for a column with no element
    above ``-inf``) or the shift (log-softmax: ``log1p(s)``, nan there and where ``s`` is
    nan), in the dtype of ``m``."""
    par = np.empty(m.shape, m.dtype)
    mf = m.reshape(-1)
    sf = s.reshape(-1)
    pf = par.reshape(-1)
    for i in range(U(mf.size)):
        mi = mf[i]
        si = sf[i]
        if log:
            pf[i] = np.nan if (mi == -np.inf or si != si) else log1p(si)
        else:
            pf[i] = 1.0 / (1.0 + si) if mi > -np.inf else np.nan
    return par


@kernel
def _col_apply(x, m, par, inv_t, width, blocks, piece, pieces, log, y):
    """The write pass: per element, ``z = 0`` at the column's maximum, else
    ``(x - m) * inv_t``; softmax writes ``exp(z) * par``, log-softmax ``z - par``. The
    maximum's own ``z = 0`` is also what gives the ``+inf`` limit (1 at the ``+inf``
    entries, ``exp(-inf) = 0`` elsewhere) without an ``inf - inf``."""
    n_b, n, n_c = x.shape
    zero = x.dtype.type(0.0)
    for k in prange(n_b * blocks * pieces):
        b, p, c0, w, lo = _col_task(k, pieces, blocks, width, n_c, piece)
        cu = U(c0)
        mb = m[b]
        pb = par[b]
        xb = x[b]
        yb = y[b]
        for j in range(lo, min(n, lo + piece)):
            row = xb[j]
            out = yb[j]
            if log:
                for i in range(U(w)):
                    v = row[cu + i]
                    mx = mb[cu + i]
                    out[cu + i] = (zero if v == mx else (v - mx) * inv_t) - pb[cu + i]
            else:
                for i in range(U(w)):
                    v = row[cu + i]
                    mx = mb[cu + i]
                    out[cu + i] = exp(zero if v == mx else (v - mx) * inv_t) * pb[cu + i]


def _col_normalize(x, inv_t, parallel, log):
    m, s, (width, blocks, pieces, piece) = _col_states(x, inv_t, parallel)
    par = _softmax_params(m, s, log)
    y = empty_like(x)  # recycled when large (_outbuf)
    _col_apply(x, m, par, inv_t, width, blocks, piece, pieces, log, y, parallel=parallel)
    return y


def col_softmax(x, inv_t, parallel):
    """Softmax of ``x`` (B, n, C) across ``n``, same shape and dtype."""
    return _col_normalize(x, inv_t, parallel, False)


def col_log_softmax(x, inv_t, parallel):
    """Log-softmax of ``x`` (B, n, C) across ``n``, same shape and dtype."""
    return _col_normalize(x, inv_t, parallel, True)


# ---------------------------------------------------------------------------------------
# Backward passes along an outer axis


def per_column(other, a, axes, fname, name):
    """``other`` (the reduced shape of ``a`` over ``axes``, with or without kept dims) as
    a C-contiguous ``(B, C)`` array in the dtype of ``a`` (the checks of
    :meth:`._arrays.Rows.per_row`)."""
    other = np.asarray(other)
    shapes = (reduced_shape(a.shape, axes, False), reduced_shape(a.shape, axes, True))
    if other.shape not in shapes:
        raise ValueError(f"{fname}: `{name}` must have the reduced shape {shapes[0]} "
                         f"(or {shapes[1]} with kept dims), got {other.shape}")
    if other.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
    k0, k1 = axes[0], axes[-1] + 1
    return np.ascontiguousarray(other, dtype=a.dtype).reshape(prod(a.shape[:k0]), prod(a.shape[k1:]))


def like_columns(other, a, cols, fname, name):
    """``other`` (the shape of ``a``) as a C-contiguous array shaped like ``cols`` (the
    checks of :meth:`._arrays.Rows.like`)."""
    other = np.asarray(other)
    if other.shape != a.shape:
        raise ValueError(f"{fname}: `{name}` must have shape {a.shape}, got {other.shape}")
    if other.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
    return np.ascontiguousarray(other, dtype=a.dtype).reshape(cols.shape)


@kernel
def _col_sums(a, b, width, blocks, piece, out):
    """``out[p, b, c]``: float64 sum over piece ``p`` of column ``c`` of ``a`` (``b`` is
    None) or of ``a * b``."""
    n_b, n, n_c = a.shape
    pieces = out.shape[0]
    for k in prange(n_b * blocks * pieces):
        bi, p, c0, w, lo = _col_task(k, pieces, blocks, width, n_c, piece)
        cu = U(c0)
        hi = min(n, lo + piece)
        acc = np.zeros(width, np.float64)
        ab = a[bi]
        j = lo
        if b is None:
            while j + 4 <= hi:
                a0, a1, a2, a3 = ab[j], ab[j + 1], ab[j + 2], ab[j + 3]
                for i in range(U(w)):
                    acc[i] += (np.float64(a0[cu + i]) + np.float64(a1[cu + i])) + (
                        np.float64(a2[cu + i]) + np.float64(a3[cu + i]))
                j += 4
            while j < hi:
                a0 = ab[j]
                for i in range(U(w)):
                    acc[i] += np.float64(a0[cu + i])
                j += 1
        else:
            bb = b[bi]
            while j + 4 <= hi:
                a0, a1, a2, a3 = ab[j], ab[j + 1], ab[j + 2], ab[j + 3]
                b0, b1, b2, b3 = bb[j], bb[j + 1], bb[j + 2], bb[j + 3]
                for i in range(U(w)):
                    acc[i] += (np.float64(a0[cu + i]) * np.float64(b0[cu + i])
                               + np.float64(a1[cu + i]) * np.float64(b1[cu + i])) + (
                        np.float64(a2[cu + i]) * np.float64(b2[cu + i])
                        + np.float64(a3[cu + i]) * np.float64(b3[cu + i]))
                j += 4
            while j < hi:
                a0 = ab[j]
                b0 = bb[j]
                for i in range(U(w)):
                    acc[i] += np.float64(a0[cu + i]) * np.float64(b0[cu + i])
                j += 1
        ob = out[p, bi]
        for i in range(U(w)):
            ob[cu + i] = acc[i]


def _column_sums(a, b, plan, parallel):
    """Per-column sums (B, C) in float64 (float32 products are exact there), pieces
    added in order. They stay float64: the backward passes subtract them from ``g``,
    and a sum rounded to float32 first would turn its last bit into a large relative
    error of the difference (issue 10)."""
    width, blocks, pieces, piece = plan
    out = np.empty((pieces,) + (a.shape[0], a.shape[2]), np.float64)
    _col_sums(a, b, width, blocks, piece, out, parallel=parallel)
    if pieces == 1:
        return out[0]
    total = out[0].copy()
    for p in range(1, pieces):  # in order
        total += out[p]
    return total


@kernel
def _col_grad_apply(g, y, d, inv_t, width, blocks, piece, pieces, log, dx):
    """softmax: ``dx = y * (g - d) * inv_t``; log-softmax: ``dx = (g - exp(y) * d) * inv_t``,
    ``d`` per column (B, C), float64."""
    n_b, n, n_c = y.shape
    for k in prange(n_b * blocks * pieces):
        b, p, c0, w, lo = _col_task(k, pieces, blocks, width, n_c, piece)
        cu = U(c0)
        db = d[b]
        gb = g[b]
        yb = y[b]
        xb = dx[b]
        for j in range(lo, min(n, lo + piece)):
            gr = gb[j]
            yr = yb[j]
            out = xb[j]
            t = np.float64(inv_t)
            if log:  # the differences in float64, rounded once (as the row kernels)
                for i in range(U(w)):
                    out[cu + i] = (np.float64(gr[cu + i]) - np.float64(exp(yr[cu + i])) * db[cu + i]) * t
            else:
                for i in range(U(w)):
                    out[cu + i] = np.float64(yr[cu + i]) * ((np.float64(gr[cu + i]) - db[cu + i]) * t)


def col_softmax_backward(g, y, inv_t, parallel, log):
    """softmax (``log=False``) or log-softmax backward of ``y`` (B, n, C) across ``n``."""
    n_b, n, n_c = y.shape
    plan = col_plan(n_b, n, n_c, y.itemsize)
    d = _column_sums(g, None if log else y, plan, parallel)
    dx = np.empty_like(y)
    width, blocks, pieces, piece = plan
    _col_grad_apply(g, y, d, inv_t, width, blocks, piece, pieces, log, dx, parallel=parallel)
    return dx


@jit
def _inf_counts(x, o, counts):
    """``counts[b, c]``: the +inf entries of column ``c`` where ``o[b, c]`` is +inf."""
    n_b, n, n_c = x.shape
    for b in range(n_b):
        for j in range(n):
            row = x[b, j]
            for c in range(U(n_c)):
                counts[b, c] += 1.0 if (row[c] == np.inf and o[b, c] == np.inf) else 0.0


def col_logsumexp_backward(x, g, o, inv_t, parallel):
    """``g * exp((x - o) * inv_t)`` across ``n`` of ``x`` (B, n, C), with the limits of
    the row kernel: a +inf result shares ``g`` among the column's +inf entries; a
    ``-inf`` or nan result gives nan."""
    n_b, n, n_c = x.shape
    gp = g.copy()
    if np.isposinf(o).any():
        counts = np.zeros(o.shape)
        _inf_counts(x, o, counts)
        inf = o == np.inf
        gp[inf] = g[inf] / np.maximum(counts[inf], 1).astype(x.dtype)
    gp[(o == -np.inf) | np.isnan(o)] = np.nan
    width, blocks, pieces, piece = col_plan(n_b, n, n_c, x.itemsize)
    dx = np.empty_like(x)
    # the softmax write pass: exp(0) at the saved result (the +inf limit), g as the factor
    _col_apply(x, o, gp, inv_t, width, blocks, piece, pieces, False, dx, parallel=parallel)
    return dx
