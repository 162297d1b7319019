"""Smooth stand-ins for ``max``, ``argmax`` and one-hot ``hardmax``, with their backward
passes: LogSumExp, softmax, log-softmax, soft-argmax (1-D and 2-D) and hardmax.

Layout of this module: each public function validates its input, views it as
C-contiguous rows (:func:`._arrays.to_rows`) and calls one ``prange`` kernel over rows
(or over pieces of rows, when a few very long rows must still use every core). The
kernels call the per-row helpers of :mod:`._rowops`. Every ``*_backward`` sits right
under its forward function.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import (
    as_float_array,
    asarray,
    cast,
    float_dtypes,
    check_temperature,
    fast_rows,
    finish_out,
    normalize_axes,
    to_rows,
)
from ._columns import (as_columns, col_log_softmax, col_logsumexp, col_logsumexp_backward, col_softmax,
                       col_softmax_backward, like_columns, per_column, reduced_shape)
from ._config import jit, kernel, use_parallel
from ._exp import exp, log1p
from ._outbuf import empty_like
from ._rowops import (
    CHUNK,
    GROUP,
    SHORT_ROW,
    SPAN_ROWS,
    block_max,
    chunk_dot,
    chunk_state,
    count_equal,
    exp_scale_store,
    exp_store_sum,
    first_argmax,
    gather_group,
    group_exp_buffers,
    group_exps,
    group_spans,
    group_state_buffers,
    group_states,
    has_nan,
    lse_merge,
    lse_state,
    lse_value,
    row_dot,
    row_sum,
    scale_lanes,
    scaled_gap,
    scatter_group,
    weighted_exp_sum,
    wgroup_finish,
    wgroup_state,
    wchunk_state,
    wlse_merge,
    wlse_state,
    wlse_value,
)

__all__ = [
    "logsumexp",
    "logsumexp_backward",
    "softmax",
    "softmax_backward",
    "log_softmax",
    "log_softmax_backward",
    "soft_argmax",
    "soft_argmax_backward",
    "soft_argmax2d",
    "soft_argmax2d_backward",
    "hardmax",
    "straight_through_hardmax",
]

#: A row longer than this is not assumed to stay in cache between passes.
ROW_IN_CACHE = 1 << 16
#: Elements of one parallel task when long rows are split into pieces.
MIN_PIECE = 1 << 15
#: Rows are split into pieces only when there are fewer rows than this.
SPLIT_ROWS = 64


def _plan(n_rows, n, parallel):
    """``(pieces, piece)``: how many pieces to cut each row into, of how many elements.
    One piece per row unless there are few rows (< :data:`SPLIT_ROWS`) and they are
    long (at least two :data:`MIN_PIECE`): then pieces of MIN_PIECE elements.

    Fixed element counts, never the thread count -- and the plan only decides which
    task computes what: every row is reduced in the fixed order of :mod:`._rowops`
    (chunks at absolute positions, combined left to right), so any plan gives the same
    bits (see :func:`_tasks`)."""
    if not parallel or n < 2 * MIN_PIECE or n_rows >= SPLIT_ROWS:
        return 1, max(n, 1)
    return -(-n // MIN_PIECE), MIN_PIECE


def _tasks(n_rows, n, parallel):
    """:func:`_plan` with each piece rounded up to whole CHUNKs: the kernels
    store one result per chunk, so a piece must start on a chunk boundary."""
    pieces, piece = _plan(n_rows, n, parallel)
    if pieces <= 1 or n <= CHUNK:
        return 1, max(n, 1)
    piece = max(CHUNK, -(-piece // CHUNK) * CHUNK)
    return -(-n // piece), piece


def _chunks(n):
    """Number of CHUNKs of a row of ``n`` elements (one for an empty row)."""
    return max(1, -(-n // CHUNK))


_INV_T = {}


def _inv_t(tau, dtype):
    """``1 / tau`` in ``dtype``, clamped to the largest finite value: an infinite
    reciprocal would turn the maximum's ``0 * inv_t`` into nan, while a huge finite one
    sends every other term to ``exp(-inf) = 0`` -- exactly the tau -> 0 limit. (Memoized:
    a call repeats one temperature, and this costs more than a small kernel.)"""
    key = (tau, dtype)
    hit = _INV_T.get(key)
    if hit is None:
        with np.errstate(over="ignore"):
            hit = min(dtype.type(1.0 / tau), np.finfo(dtype).max)
        if len(_INV_T) > 256:
            _INV_T.clear()
        _INV_T[key] = hit
    return hit


def _cast(arr, dtype):
    """``arr`` as ``dtype`` (quietly: :func:`._arrays.cast`); 0-d becomes a scalar."""
    arr = cast(arr, dtype)
    return arr[()] if arr.ndim == 0 else arr


# ---------------------------------------------------------------------------------------
# Kernels shared by several ops: the row statistics (m, s), whole rows or pieces.


@kernel
def _stats_pieces(x, inv_t, pieces, piece, ms, ss):
    """``(ms[r, c], ss[r, c])``: the LogSumExp state of chunk ``c`` of row ``r``; a task
    is one piece of one row."""
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        for clo in range(lo, max(hi, lo + 1), CHUNK):
            c = clo // CHUNK
            ms[r, c], ss[r, c] = chunk_state(x[r], clo, min(clo + CHUNK, hi), inv_t)


@kernel
def _merge_chunks(ms, ss, inv_t, m_out, s_out):
    """Fold the chunk states of each row left to right, as :func:`lse_state` does."""
    for r in prange(ms.shape[0]):
        m = ms[r, 0]
        s = ss[r, 0]
        for c in range(1, ms.shape[1]):
            m, s = lse_merge(m, s, ms[r, c], ss[r, c], inv_t)
        m_out[r] = m
        s_out[r] = s


def _row_stats(rows, inv_t, parallel):
    """Per-row LogSumExp state ``(m, s)`` (see :mod:`._rowops`), one read of ``rows``;
    the same bits as :func:`lse_state` of each whole row, whatever the plan."""
    n_rows, n = rows.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    ms = np.empty((n_rows, _chunks(n)), rows.dtype)
    ss = np.empty((n_rows, _chunks(n)), np.float64)
    _stats_pieces(rows, inv_t, pieces, piece, ms, ss, parallel=parallel)
    m = np.empty(n_rows, rows.dtype)
    s = np.empty(n_rows, np.float64)
    _merge_chunks(ms, ss, np.float64(inv_t), m, s, parallel=parallel)
    return m, s, pieces, piece


@kernel
def _row_sums_pieces(a, b, pieces, piece, out):
    """``out[r, c]``: sum of ``a`` (``b`` is None) or of ``a * b`` over chunk ``c`` of
    row ``r``; a task is one piece of one row."""
    n_rows, n = a.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        for clo in range(lo, hi, CHUNK):
            if b is None:
                out[r, clo // CHUNK] = chunk_dot(a[r], None, clo, min(clo + CHUNK, hi))
            else:
                out[r, clo // CHUNK] = chunk_dot(a[r], b[r], clo, min(clo + CHUNK, hi))


@kernel
def _fold_sums(parts, out):
    """``out[r] = sum(parts[r])`` left to right from 0.0, as :func:`row_dot` adds."""
    for r in prange(parts.shape[0]):
        s = 0.0
        for c in range(parts.shape[1]):
            s += parts[r, c]
        out[r] = s


def _row_sums(a, b, pieces, piece, parallel):
    """Per row ``sum(a)`` (``b`` None) or ``sum(a * b)`` in float64: the same bits as
    :func:`row_dot` of each whole row, whatever the plan."""
    parts = np.zeros((a.shape[0], _chunks(a.shape[1])), np.float64)
    _row_sums_pieces(a, b, pieces, piece, parts, parallel=parallel)
    out = np.empty(a.shape[0], np.float64)
    _fold_sums(parts, out, parallel=parallel)
    return out


@jit
def _inf_row_softmax(x, lo, hi, k, y):
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


@kernel
def _logsumexp_rows(x, inv_t, tau, out):
    n = x.shape[1]
    for r in prange(x.shape[0]):
        m, s = lse_state(x[r], 0, n, inv_t)
        out[r] = lse_value(m, s, tau)


def _logsumexp_any(rows, tau, parallel):
    inv_t = _inv_t(tau, rows.dtype)
    out = np.empty(rows.shape[0], rows.dtype)
    if _short(rows.shape[1]):
        _short_lse(rows, inv_t, tau, out, parallel=parallel)
    elif _tasks(*rows.shape, parallel)[0] == 1:
        _logsumexp_rows(rows, inv_t, tau, out, parallel=parallel)
    else:
        m, s, _, _ = _row_stats(rows, inv_t, parallel)
        _lse_finish(m, s, tau, out)
    return out


@jit
def _lse_finish(m, s, tau, out):
    for r in range(m.shape[0]):
        out[r] = lse_value(m[r], s[r], tau)


# ---------------------------------------------------------------------------------------
# Weighted LogSumExp (``b=``): the state (m, c, s) of :mod:`._rowops`, whole rows or
# pieces of long rows merged, as the unweighted schedule.


@jit
def _wlse_put(m, c, s, tau, signed, out, sign, r):
    v, sg = wlse_value(m, c, s, tau)
    if v != v:
        sg = np.nan
    elif sg < 0.0 and not signed:
        v = np.nan  # log of a negative total: nan unless the sign is asked for
    out[r] = v
    sign[r] = sg


@kernel
def _wlogsumexp_rows(x, b, inv_t, tau, signed, out, sign):
    n = x.shape[1]
    for r in prange(x.shape[0]):
        m, c, s = wlse_state(x[r], b[r], 0, n, inv_t)
        _wlse_put(m, c, s, tau, signed, out, sign, r)


@kernel
def _wstats_pieces(x, b, inv_t, pieces, piece, ms, cs, ss):
    """The weighted state of each chunk ``c`` of row ``r`` in ``(ms, cs, ss)[r, c]``
    (the fixed order of :mod:`._rowops`); a task is one piece of one row."""
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        for clo in range(lo, max(hi, lo + 1), CHUNK):
            c = clo // CHUNK
            ms[r, c], cs[r, c], ss[r, c] = wchunk_state(x[r], b[r], clo, min(clo + CHUNK, hi), inv_t)


@jit
def _wmerge_finish(ms, cs, ss, inv_t, tau, signed, out, sign):
    for r in range(ms.shape[0]):
        m, c, s = ms[r, 0], cs[r, 0], ss[r, 0]
        for p in range(1, ms.shape[1]):
            m, c, s = wlse_merge(m, c, s, ms[r, p], cs[r, p], ss[r, p], inv_t)
        _wlse_put(m, c, s, tau, signed, out, sign, r)


@kernel
def _short_wlse(x, b, inv_t, tau, signed, out, sign):
    """Short rows, GROUP at a time, vectorized across rows (as :func:`_short_lse`)."""
    n_rows, n = x.shape
    for k in prange(group_spans(n_rows)):
        bx = np.zeros((n, GROUP), x.dtype)  # zeros: the spare lanes of a last group are masked
        bw = np.zeros((n, GROUP), x.dtype)
        m = np.empty(GROUP, x.dtype)
        c = np.empty(GROUP)
        s = np.empty(GROUP)
        v = np.empty(GROUP)
        sg = np.empty(GROUP)
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            g = min(GROUP, n_rows - r0)
            gather_group(x, r0, g, bx)
            gather_group(b, r0, g, bw)
            # all GROUP lanes, also in a last partial group (the spare lanes hold stale
            # values and are not stored): with a variable lane count LLVM gave up on the
            # runtime alias checks of the five arrays and ran the loops scalar, 6x slower
            wgroup_state(bx, bw, GROUP, inv_t, m, c, s)
            wgroup_finish(m, c, s, tau, signed, v, sg)  # vectorized logs, not one call per row
            for i in range(g):
                out[r0 + i] = v[i]
                sign[r0 + i] = sg[i]


def _wlogsumexp_any(rows, b, tau, signed, parallel):
    """``(out, sign)`` per row of the weighted LogSumExp, float64."""
    inv_t = _inv_t(tau, rows.dtype)
    n_rows, n = rows.shape
    out = np.empty(n_rows)
    sign = np.empty(n_rows)
    pieces, piece = _tasks(n_rows, n, parallel)
    if _short(n):
        _short_wlse(rows, b, inv_t, tau, signed, out, sign, parallel=parallel)
    elif pieces == 1:
        _wlogsumexp_rows(rows, b, inv_t, tau, signed, out, sign, parallel=parallel)
    else:
        ms = np.empty((n_rows, _chunks(n)), rows.dtype)
        cs = np.empty((n_rows, _chunks(n)))
        ss = np.empty((n_rows, _chunks(n)))
        _wstats_pieces(rows, b, inv_t, pieces, piece, ms, cs, ss, parallel=parallel)
        _wmerge_finish(ms, cs, ss, np.float64(inv_t), tau, signed, out, sign)
    return out, sign


def _with_weights(a, out_dtype, b, fname):
    """``(a, w, out_dtype)``: ``x`` and the weights ``b`` broadcast against each other,
    in one float dtype. A float array ``b`` takes part in the dtype rule (float32 ``x``
    with float64 ``b`` computes in float64); a bool or int ``b`` (a mask, counts) and a
    Python number do not."""
    weak = isinstance(b, (int, float))  # a Python number does not promote (NEP 50)
    w = np.asarray(b)
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"{fname}: `b` must be an array of real numbers (bool, int or float), got dtype {w.dtype}"
        )
    if w.dtype.kind == "f" and not weak:
        compute, out = float_dtypes(w.dtype, fname, "b")
        a = a.astype(np.result_type(a.dtype, compute), copy=False)
        out_dtype = np.result_type(out_dtype, out)
    try:
        shape = np.broadcast_shapes(a.shape, w.shape)
    except ValueError:
        raise ValueError(
            f"{fname}: `b` of shape {w.shape} does not broadcast against `x` of shape {a.shape}"
        ) from None
    return np.broadcast_to(a, shape), np.broadcast_to(w, shape), out_dtype


def _unweighted_sign(out):
    """SciPy's sign of an unweighted LogSumExp: 1, 0 for ``-inf`` (a zero sum), nan for
    nan."""
    with np.errstate(invalid="ignore"):
        return np.where(out == -np.inf, 0.0, np.where(out == out, 1.0, np.nan)).astype(out.dtype)


def _sum_to_shape(g, shape):
    """Sum a gradient taken in a broadcast shape back to ``shape``."""
    if g.shape == tuple(shape):
        return g
    with np.errstate(over="ignore", invalid="ignore"):  # inf/nan sums are results, not warnings
        g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
        ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        return g.sum(axis=ones, keepdims=True) if ones else g


# ---------------------------------------------------------------------------------------
# Short rows (at most SHORT_ROW elements): GROUP rows at a time, vectorized across rows.


@kernel
def _short_lse(x, inv_t, tau, out):
    n_rows = x.shape[0]
    for k in prange(group_spans(n_rows)):
        buf, m, s, first = group_state_buffers(x)
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            g = min(GROUP, n_rows - r0)
            group_states(x, r0, g, inv_t, buf, m, s, first)
            for i in range(U(g)):  # lse_value across lanes, with a vectorizable log1p
                mi = m[i]
                si = s[i]
                v = np.float64(mi) + tau * log1p(si)
                out[r0 + i] = ((np.nan if si != si else -np.inf) if mi == -np.inf else v)


@kernel
def _short_log_softmax(x, inv_t, y):
    n_rows, n = x.shape
    ninf = x.dtype.type(-np.inf)
    for k in prange(group_spans(n_rows)):
        buf, m, s, shift = group_state_buffers(x)
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            g = min(GROUP, n_rows - r0)
            group_states(x, r0, g, inv_t, buf, m, s, shift)  # shift: scratch until set below
            for i in range(U(g)):
                si = s[i]
                shift[i] = np.nan if (m[i] == -np.inf or si != si) else log1p(si)
            for j in range(U(n)):
                bj = buf[j]
                for i in range(U(g)):
                    v = bj[i]
                    mi = m[i]
                    # the +inf limit: -log(k) at the +inf entries, -inf elsewhere
                    z = (x.dtype.type(0.0) if v == mi else ninf) if mi == np.inf else scaled_gap(v, mi, inv_t)
                    bj[i] = z - shift[i]
            scatter_group(buf, r0, g, y)


@kernel
def _short_softmax(x, inv_t, y):
    n_rows = x.shape[0]
    for k in prange(group_spans(n_rows)):
        buf, e, m, sums = group_exp_buffers(x)
        scale = np.empty(GROUP, x.dtype)
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            g = min(GROUP, n_rows - r0)
            group_exps(x, r0, g, inv_t, buf, e, m, sums)
            for i in range(g):
                scale[i] = 1.0 / sums[i] if m[i] > -np.inf else np.nan
            scale_lanes(e, g, scale)
            scatter_group(e, r0, g, y)


@kernel
def _short_soft_argmax(x, inv_t, out):
    n_rows, n = x.shape
    for k in prange(group_spans(n_rows)):
        buf, e, m, sums = group_exp_buffers(x)
        w = np.empty(GROUP, np.float64)
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            g = min(GROUP, n_rows - r0)
            group_exps(x, r0, g, inv_t, buf, e, m, sums)
            for i in range(g):
                w[i] = 0.0
            for j in range(U(n)):
                ej = e[j]
                for i in range(U(g)):
                    w[i] += np.float64(ej[i]) * np.float64(j)
            for i in range(g):
                out[r0 + i] = w[i] / sums[i] if m[i] > -np.inf else np.nan


def _short(n):
    return 0 < n <= SHORT_ROW


# ---------------------------------------------------------------------------------------
# logsumexp


def logsumexp(x, axis=-1, *, b=None, temperature=1.0, keepdims=False, return_sign=False, out=None):
    r"""Smooth maximum: the LogSumExp of ``x`` along ``axis`` at a temperature,
    optionally weighted (SciPy's ``b=``).

    .. math::

        \operatorname{LSE}_\tau(x) = \tau \log \sum_i e^{x_i / \tau}
                                   = m + \tau \log\Bigl(1 + \sum_{i \ne i^*} e^{(x_i - m)/\tau}\Bigr),
        \qquad m = \max_i x_i = x_{i^*}

    and with weights :math:`b`,
    :math:`\tau \log \bigl|\sum_i b_i\, e^{x_i/\tau}\bigr|` (with its sign on request).

    It is a smooth, convex upper bound of the maximum,
    :math:`\max x \le \operatorname{LSE}_\tau(x) \le \max x + \tau \log n`, and tends to
    :math:`\max x` as :math:`\tau \to 0`.

    Parameters
    ----------
    x : array_like
        Input; bool and int compute in float64, float16 computes in float32. A 0-d
        input is reduced over its one element (with ``axis`` -1, 0 or None).
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce (of ``x`` and ``b`` broadcast together); None reduces
        all of them.
    b : array_like, optional
        Weights :math:`b_i`, broadcast against ``x`` (either may have more
        dimensions). They may be negative (to subtract terms); a weight of 0 masks its
        entry, even where ``x`` is ``inf`` or nan. A float ``b`` takes part in the dtype
        rule (float32 ``x`` with float64 ``b`` gives float64); bool or int ``b`` does
        not.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    keepdims : bool, default False
        Keep the reduced axes with size one.
    return_sign : bool, default False
        Also return the sign of the weighted sum. Without it, a slice whose weighted
        sum is negative gives nan.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    out : ndarray
        The reduced array, in the float dtype of ``x`` (float64 for bool/int input):
        :math:`\tau \log|\sum_i b_i e^{x_i/\tau}|`.
    sign : ndarray
        Only with ``return_sign=True``: the sign of the sum, 1.0, -1.0, 0.0 (a sum of
        exactly 0, ``out`` is ``-inf``) or nan (``out`` is nan), in the dtype of
        ``out``.

    See Also
    --------
    logsumexp_backward : its vector-Jacobian product, ``grad * softmax(x / tau)``.
    softmax : the gradient of LogSumExp.
    fastsmooth.scipy.logsumexp : SciPy's signature and defaults (``axis=None``).
    scipy.special.logsumexp, torch.logsumexp : the same at :math:`\tau = 1`.

    Notes
    -----
    One pass over memory: the running maximum and the rescaled running sum are updated
    block by block (an *online* LogSumExp), and the largest term is kept out of the sum
    so the result is finished with ``log1p``; this keeps full relative accuracy when
    the result is close to the maximum (``logsumexp([0, -40])`` is ``4.2e-18``, where
    ``m + log(s)`` would give 0). Rows are reduced in parallel; one very long row is cut
    into pieces whose partial states are merged. Along an outer axis of a C-ordered
    array (``axis=0`` of a matrix) each column keeps its own state and the reduction
    runs where the data lie, vectorized along the contiguous axis: no transposed copy.

    With weights the state is the maximum :math:`m` over the entries of non-zero
    weight, the sum :math:`c` of the weights at :math:`m`, and the rescaled sum
    :math:`s` of the other terms; the result is
    :math:`m + \tau(\log|c| + \operatorname{log1p}(s/c))` (the terms at the maximum
    kept out of the sum, as SciPy does), or
    :math:`m + \tau(\log|s| + \operatorname{log1p}(c/s))` when :math:`|s| > |c|` --
    exact also when the weights at the maximum cancel (``c == 0``), where SciPy falls
    back to the plain sum (nan once it overflows).

    Special values, per reduced slice (as SciPy unless noted):

    * empty: ``-inf`` (sign 0; SciPy's sign is -1);
    * all ``-inf``, or every weight 0: ``-inf``, sign 0;
    * any nan (in ``x`` where the weight is not 0, or in ``b``): nan;
    * any ``+inf`` and no nan: ``+inf`` (with weights: the sign of the sum of the
      weights at ``+inf``; nan when they cancel). A weight 0 masks an ``inf`` entry
      (SciPy gives nan when the remaining maximum is ``+inf`` too).

    No floating-point warnings are raised.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> float(fs.logsumexp([1.0, 2.0, 3.0, 4.0, 2.0], temperature=0.1))
    4.000004540302...
    >>> float(fs.logsumexp([1000.0, 1.0]))   # no overflow
    1000.0
    >>> float(fs.logsumexp([0.0, -40.0]))    # log1p finish: not rounded to 0
    4.248354255291589e-18
    >>> fs.logsumexp([[1.0, 2.0], [3.0, -np.inf]], axis=0)
    array([3.12692801, 2.        ])

    Weights: a mask, a difference with its sign, and a 0-d input.

    >>> float(fs.logsumexp([np.log(2.0), np.nan, np.log(3.0)], b=[1, 0, 1]))  # log 5
    1.609437912434100...
    >>> fs.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)  # log(e^2 - e), -1
    (np.float64(1.5413248546129181), np.float64(-1.0))
    >>> float(fs.logsumexp(3.0))
    3.0
    """
    fname = "logsumexp"
    rows = fast_rows(x, axis, out) if b is None and not return_sign else None
    if rows is not None:
        res = _logsumexp_any(rows, check_temperature(temperature, fname), use_parallel(rows.size))
        res = res.reshape(x.shape[:-1] + (1,) * keepdims)
        return res if res.ndim else res[()]
    a, out_dtype = as_float_array(x, fname)
    if b is not None:
        a, w, out_dtype = _with_weights(a, out_dtype, b, fname)
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes) if b is None and not return_sign else None
    if cols is not None:  # an outer axis: reduced in place, no transposed copy
        res = col_logsumexp(cols, _inv_t(tau, a.dtype), tau, use_parallel(a.size))
        return finish_out(_cast(res.reshape(reduced_shape(a.shape, axes, keepdims)), out_dtype), out, fname)
    rows = to_rows(a, axes)
    parallel = use_parallel(rows.data.size)
    if b is None:
        res = _logsumexp_any(rows.data, tau, parallel)
        sign = _unweighted_sign(res) if return_sign else None
    else:
        res, sign = _wlogsumexp_any(rows.data, rows.like(w, fname, "b"), tau, bool(return_sign), parallel)
    res = _cast(rows.reduced(res, keepdims), out_dtype)
    if not return_sign:
        return finish_out(res, out, fname)
    return finish_out((res, _cast(rows.reduced(sign, keepdims), out_dtype)), out, fname)


#: ``logsumexp_backward`` trusts the saved ``out`` while ``|out| / tau`` is at most this:
#: the rounding of ``out`` (half an ulp), divided by ``tau``, then stays within 8 ulps
#: of the result. Beyond it the row's own LogSumExp is taken again from ``x``.
OUT_TRUSTED = 16.0


@kernel
def _lse_backward_pieces(g, x, out, inv_t, piece, pieces, mx, shift, dx):
    """``dx = g exp((x - out) / tau)``; in rows where ``shift[r]`` is a number, with
    ``out`` replaced by its exact form ``mx[r] + tau * shift[r]`` (see
    :data:`OUT_TRUSTED`)."""
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        o = out[r]
        gr = g[r]
        xr = x[r]
        dr = dx[r]
        if o == np.inf:
            # limit of softmax: the gradient is shared by the +inf entries
            c = count_equal(xr, 0, n, o)
            share = gr / x.dtype.type(max(c, 1))
            for i in range(U(lo), U(hi)):
                dr[i] = share if xr[i] == o else x.dtype.type(0.0)
        elif o == -np.inf or o != o:
            for i in range(U(lo), U(hi)):
                dr[i] = np.nan
        elif shift[r] == shift[r]:
            mr = mx[r]
            d = x.dtype.type(shift[r])
            for i in range(U(lo), U(hi)):
                dr[i] = gr * exp((xr[i] - mr) * inv_t - d)
        else:
            for i in range(U(lo), U(hi)):
                dr[i] = gr * exp((xr[i] - o) * inv_t)


def _exact_lse(rows, out, tau, inv_t, parallel):
    """``(mx, shift)`` per row: where ``out`` cannot be trusted (:data:`OUT_TRUSTED`)
    and the row's LogSumExp ``m + tau * log1p(s)``, taken again, rounds to ``out``,
    its maximum ``m`` and ``log1p(s)``; elsewhere ``shift`` is nan (use ``out``)."""
    n_rows = rows.shape[0]
    shift = np.full(n_rows, np.nan)
    with np.errstate(all="ignore"):
        redo = np.isfinite(out) & (np.abs(out) > OUT_TRUSTED * tau)
    if not redo.any():
        return np.zeros(n_rows, rows.dtype), shift
    m, s, _, _ = _row_stats(rows, inv_t, parallel)
    with np.errstate(all="ignore"):
        d = np.log1p(s)
        value = m.astype(np.float64) + tau * d
        close = np.abs(value - out) <= 4 * np.finfo(rows.dtype).eps * np.abs(out.astype(np.float64))
    use = redo & close
    shift[use] = d[use]
    return m, shift


@jit
def _weight_at(x, b, value):
    """Sum of the weights ``b`` of the entries of ``x`` equal to ``value`` (float64)."""
    t = 0.0
    for i in range(U(x.size)):
        t += np.float64(b[i]) if x[i] == value else 0.0
    return t


@kernel
def _wlse_backward_pieces(g, x, b, out, inv_t, piece, pieces, dx):
    n_rows, n = x.shape
    zero = x.dtype.type(0.0)
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        o = out[r]
        gr = g[r]
        xr = x[r]
        br = b[r]
        dr = dx[r]
        if o == np.inf:
            # the limit: shares b_i / (sum of the weights at +inf) for the +inf entries
            share = gr / x.dtype.type(_weight_at(xr, br, o))
            for i in range(U(lo), U(hi)):
                dr[i] = br[i] * share if xr[i] == o else zero
        elif o == -np.inf or o != o:
            for i in range(U(lo), U(hi)):
                dr[i] = np.nan
        else:
            ninf = x.dtype.type(-np.inf)
            for i in range(U(lo), U(hi)):
                w = br[i]
                dr[i] = gr * w * exp(ninf if w == zero else (xr[i] - o) * inv_t)


def logsumexp_backward(grad, x, out, axis=-1, *, b=None, temperature=1.0):
    r"""Vector-Jacobian product of :func:`logsumexp` with respect to ``x``.

    .. math::

        \frac{\partial L}{\partial x_i} = g \,\operatorname{softmax}(x/\tau)_i
                                        = g\, e^{(x_i - \operatorname{LSE}_\tau(x))/\tau},
        \qquad\text{weighted: } g\, b_i\, e^{(x_i - \mathrm{out})/\tau}

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial\,\mathrm{out}`, in the reduced shape (with or
        without the kept dims).
    x : array_like
        The input of the forward call.
    out : array_like
        The output of the forward call (reduced shape, with or without kept dims).
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    b : array_like, optional
        The weights of the forward call, if any.
    temperature : float, default 1.0
        As in the forward call.

    Returns
    -------
    ndarray
        The gradient with respect to ``x``: its shape (summed over the dimensions that
        ``b`` broadcast it to), its float dtype.

    Notes
    -----
    Reuses the saved ``out``, so it is one pass: no maximum, no sum. In a slice whose
    result is ``+inf`` the gradient goes in equal shares to the ``+inf`` entries (the
    limit of softmax; with weights, in proportion to their weights); where the result
    is ``-inf`` or nan the gradient is nan. An entry of weight 0 gets 0. (A finite
    ``out`` of a weighted call comes from a positive sum: a negative one gave nan.)

    The rounding of ``out`` is divided by :math:`\tau`: where ``|out| / tau > 16`` it
    could cost more than 8 ulps (``x = [10, 10, 5]`` in float32 at ``tau = 1e-6``:
    ``out`` holds ``10 + 1e-6 log 2`` to 1 ulp, i.e. ``log 2`` to 100 %). In those rows
    the LogSumExp is taken again from ``x`` -- the exact maximum and the log1p of the
    rescaled sum -- and used in place of ``out`` when it rounds to ``out`` (4 ulps); an
    ``out`` that does not belong to the row (the total of a larger batch, say) is used
    as given.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> fs.logsumexp_backward(1.0, x, fs.logsumexp(x))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> w = np.array([1.0, 0.0, 2.0])
    >>> fs.logsumexp_backward(1.0, x, fs.logsumexp(x, b=w), b=w)
    array([0.06337894, 0.        , 0.93662106])
    """
    fname = "logsumexp_backward"
    a, out_dtype = as_float_array(x, fname)
    x_shape = a.shape
    if b is not None:
        a, w, out_dtype = _with_weights(a, out_dtype, b, fname)
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes) if b is None else None
    if cols is not None:  # an outer axis: in place, no transposed copy
        g, o = per_column(grad, a, axes, fname, "grad"), per_column(out, a, axes, fname, "out")
        with np.errstate(invalid="ignore"):
            trusted = not np.any(np.isfinite(o) & (np.abs(o) > OUT_TRUSTED * tau))
        if trusted:  # else the rows, which take the LogSumExp again where out falls short
            dx = col_logsumexp_backward(cols, g, o, _inv_t(tau, a.dtype), use_parallel(a.size))
            return _cast(dx.reshape(a.shape), out_dtype)
    rows = to_rows(a, axes)
    g = rows.per_row(grad, fname, "grad")
    o = rows.per_row(out, fname, "out")
    parallel = use_parallel(rows.data.size)
    pieces, piece = _tasks(*rows.data.shape, parallel)
    inv_t = _inv_t(tau, a.dtype)
    dx = np.empty_like(rows.data)
    if b is None:
        mx, shift = _exact_lse(rows.data, o, tau, inv_t, parallel)
        _lse_backward_pieces(g, rows.data, o, inv_t, piece, pieces, mx, shift, dx, parallel=parallel)
    else:
        bw = rows.like(w, fname, "b")
        _wlse_backward_pieces(g, rows.data, bw, o, inv_t, piece, pieces, dx, parallel=parallel)
    return _cast(_sum_to_shape(rows.restore(dx), x_shape), out_dtype)


# ---------------------------------------------------------------------------------------
# softmax


@jit
def _softmax_row(x, inv_t, y):
    """Softmax of one cache-resident row: max, exp (stored) and sum, scale. One exp
    per element."""
    n = x.size
    m = block_max(x, 0, n)
    if m == np.inf:
        k = np.nan if has_nan(x, 0, n) else np.float64(count_equal(x, 0, n, m))
        _inf_row_softmax(x, 0, n, k, y)
    elif m == -np.inf:
        for i in range(U(n)):
            y[i] = np.nan
    else:
        s = exp_store_sum(x, 0, n, m, inv_t, y)
        scale = x.dtype.type(1.0 / s)
        for i in range(U(n)):
            y[i] *= scale


@kernel
def _softmax_rows(x, inv_t, y):
    for r in prange(x.shape[0]):
        _softmax_row(x[r], inv_t, y[r])


@kernel
def _softmax_apply(x, m, s, inv_t, piece, pieces, y):
    """Second pass for long rows: ``y = exp((x - m)/tau) / (1 + s)`` from the stats
    of whole rows (``s`` is nan exactly when the row holds a nan; with ``m = +inf``,
    ``s + 1`` counts the +inf entries)."""
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        mr = m[r]
        xr = x[r]
        yr = y[r]
        if mr == np.inf:
            _inf_row_softmax(xr, lo, hi, s[r] + 1.0, yr)
        elif mr == -np.inf:
            for i in range(U(lo), U(hi)):
                yr[i] = np.nan
        else:
            exp_scale_store(xr, lo, hi, mr, inv_t, x.dtype.type(1.0 / (1.0 + s[r])), yr)


def _softmax_rows_any(rows, tau, parallel):
    inv_t = _inv_t(tau, rows.dtype)
    y = empty_like(rows)  # recycled when large (_outbuf)
    n_rows, n = rows.shape
    if _short(n):
        _short_softmax(rows, inv_t, y, parallel=parallel)
    elif n <= ROW_IN_CACHE:  # by length alone: the two ways sum differently
        _softmax_rows(rows, inv_t, y, parallel=parallel)
    else:
        m, s, pieces, piece = _row_stats(rows, inv_t, parallel)
        _softmax_apply(rows, m, s, inv_t, piece, pieces, y, parallel=parallel)
    return y


def softmax(x, axis=-1, *, temperature=1.0, out=None):
    r"""Smooth one-hot argmax: the softmax of ``x / temperature`` along ``axis``.

    .. math::

        \operatorname{softmax}_\tau(x)_i = \frac{e^{x_i/\tau}}{\sum_j e^{x_j/\tau}}
                                         = \frac{e^{(x_i - m)/\tau}}{\sum_j e^{(x_j - m)/\tau}},
        \qquad m = \max_j x_j

    It is the gradient of :func:`logsumexp` and tends to :func:`hardmax` as
    :math:`\tau \to 0` (splitting ties evenly).

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to normalise over.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        Same shape as ``x``, its float dtype; sums to 1 along ``axis``. It may be a
        non-contiguous view when ``axis`` is not the last axis and ``x`` is not
        C-ordered.

    See Also
    --------
    softmax_backward : its vector-Jacobian product from the saved output.
    log_softmax, hardmax, straight_through_hardmax
    scipy.special.softmax, torch.softmax : the same at :math:`\tau = 1`.

    Notes
    -----
    Rows that fit in cache take three in-cache sweeps (max; exp, store and sum; scale),
    with one exponential per element. Longer rows take the one-pass statistics of
    :func:`logsumexp` and then one pass that writes the output. Along an outer axis of a
    C-ordered array the same two passes run column by column, in place (no transposed
    copy of the input).

    Special values, per slice:

    * all ``-inf``: nan (as SciPy);
    * any nan: nan (as SciPy);
    * ``+inf`` entries and no nan: the limit -- uniform over the ``+inf`` entries, 0
      elsewhere (SciPy returns nan);
    * empty: an empty array.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.softmax([1.0, 2.0, 3.0, 4.0, 2.0])
    array([0.02948882, 0.08015892, 0.21789455, 0.59229879, 0.08015892])
    >>> fs.softmax([1.0, 2.0, 3.0, 4.0, 2.0], temperature=0.1).round(5)
    array([0.0000e+00, 0.0000e+00, 5.0000e-05, 9.9995e-01, 0.0000e+00])
    >>> fs.softmax([1000.0, 1.0, np.inf, np.inf])   # the +inf limit, not nan
    array([0. , 0. , 0.5, 0.5])
    """
    fname = "softmax"
    rows = fast_rows(x, axis, out)
    if rows is not None:
        tau = check_temperature(temperature, fname)
        return _softmax_rows_any(rows, tau, use_parallel(rows.size)).reshape(x.shape)
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes)
    if cols is not None:  # an outer axis: reduced in place, no transposed copy
        y = col_softmax(cols, _inv_t(tau, a.dtype), use_parallel(a.size))
        return finish_out(_cast(y.reshape(a.shape), out_dtype), out, fname)
    rows = to_rows(a, axes)
    y = _softmax_rows_any(rows.data, tau, use_parallel(rows.data.size))
    return finish_out(_cast(rows.restore(y), out_dtype), out, fname)


@kernel
def _softmax_backward_rows(g, y, inv_t, dx):
    for r in prange(y.shape[0]):
        _softmax_backward_piece(g[r], y[r], row_dot(g[r], y[r], 0, y.shape[1]), inv_t, 0, y.shape[1], dx[r])


@jit
def _softmax_backward_piece(g, y, dot, inv_t, lo, hi, dx):
    """``dx = y (g - dot) / tau``, the difference taken in float64 and rounded once:
    in float32, ``g - dot`` cancels, and a ``dot`` rounded to float32 first would turn
    its last bit into a large relative error of the result."""
    t = np.float64(inv_t)
    for i in range(U(lo), U(hi)):
        dx[i] = np.float64(y[i]) * ((np.float64(g[i]) - dot) * t)


@kernel
def _softmax_backward_apply(g, y, dots, inv_t, piece, pieces, dx):
    n_rows, n = y.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        _softmax_backward_piece(g[r], y[r], dots[r], inv_t, lo, min(n, lo + piece), dx[r])


def softmax_backward(grad, y, axis=-1, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`softmax`, from its saved output ``y``.

    .. math::

        \frac{\partial L}{\partial x_i} = \frac{1}{\tau}\, y_i
            \Bigl(g_i - \sum_j g_j y_j\Bigr)

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial y`, the shape of ``y``.
    y : array_like
        The output of :func:`softmax` (or the ``soft`` half of
        :func:`straight_through_hardmax`).
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        The gradient with respect to the softmax input; the shape of ``y``.

    Notes
    -----
    Per row: one dot product and one element-wise pass, fused for rows that fit in
    cache. nan in ``y`` propagates to its row.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> y = fs.softmax([1.0, 2.0, 3.0])
    >>> fs.softmax_backward([0.0, 0.0, 1.0], y)
    array([-0.05989202, -0.1628034 ,  0.22269543])
    >>> bool(np.allclose(fs.softmax_backward(np.ones(3), y), 0.0))  # shift invariance
    True
    """
    fname = "softmax_backward"
    a, out_dtype = as_float_array(y, fname, "y")
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes)
    if cols is not None:  # an outer axis: in place, no transposed copy
        g = like_columns(grad, a, cols, fname, "grad")
        dx = col_softmax_backward(g, cols, _inv_t(tau, a.dtype), use_parallel(a.size), False)
        return finish_out(_cast(dx.reshape(a.shape), out_dtype), out, fname)
    rows = to_rows(a, axes)
    g = rows.like(grad, fname, "grad")
    parallel = use_parallel(rows.data.size)
    inv_t = _inv_t(tau, a.dtype)
    dx = np.empty_like(rows.data)
    n_rows, n = rows.data.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    if pieces == 1:
        _softmax_backward_rows(g, rows.data, inv_t, dx, parallel=parallel)
    else:
        dots = _row_sums(g, rows.data, pieces, piece, parallel)
        _softmax_backward_apply(g, rows.data, dots, inv_t, piece, pieces, dx, parallel=parallel)
    return finish_out(_cast(rows.restore(dx), out_dtype), out, fname)


# ---------------------------------------------------------------------------------------
# log_softmax


@jit
def _log_softmax_piece(x, m, s, inv_t, lo, hi, y):
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


@kernel
def _log_softmax_rows(x, inv_t, y):
    """Whole rows: the state pass and the output pass while the row is in cache."""
    n = x.shape[1]
    for r in prange(x.shape[0]):
        m, s = lse_state(x[r], 0, n, inv_t)
        _log_softmax_piece(x[r], m, s, inv_t, 0, n, y[r])


@kernel
def _log_softmax_apply(x, m, s, inv_t, piece, pieces, y):
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        _log_softmax_piece(x[r], m[r], s[r], inv_t, lo, min(n, lo + piece), y[r])


def log_softmax(x, axis=-1, *, temperature=1.0, out=None):
    r"""Logarithm of :func:`softmax`, computed without forming the softmax.

    .. math::

        \log\operatorname{softmax}_\tau(x)_i = \frac{x_i - m}{\tau}
            - \log\Bigl(1 + \sum_{j \ne j^*} e^{(x_j - m)/\tau}\Bigr),
        \qquad m = \max_j x_j = x_{j^*}

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to normalise over.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        Same shape as ``x``, its float dtype.

    See Also
    --------
    log_softmax_backward : its vector-Jacobian product from the saved output.
    softmax, logsumexp
    scipy.special.log_softmax, torch.log_softmax : the same at :math:`\tau = 1`.

    Notes
    -----
    Along an outer axis of a C-ordered array, the column statistics of
    :func:`logsumexp` and one write pass, in place (no transposed copy).
    The one-pass statistics of :func:`logsumexp`, then one element-wise pass (while
    the row is still in cache, for rows that fit). The
    ``log1p`` finish keeps the largest entries accurate when the others are tiny:
    ``log_softmax([0, -40])[0]`` is ``-4.2e-18`` (not 0).

    Special values, per slice: all ``-inf`` gives nan, any nan gives nan (as SciPy);
    ``k`` entries ``+inf`` and no nan give ``-log k`` there and ``-inf`` elsewhere (the
    limit; SciPy returns nan); empty gives an empty array.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.log_softmax([0.0, -40.0])
    array([-4.24835426e-18, -4.00000000e+01])
    >>> fs.log_softmax([1.0, np.inf, np.inf])
    array([       -inf, -0.69314718, -0.69314718])
    """
    fname = "log_softmax"
    rows = fast_rows(x, axis, out)
    if rows is not None:
        tau = check_temperature(temperature, fname)
        return _log_softmax_rows_any(rows, tau, use_parallel(rows.size)).reshape(x.shape)
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes)
    if cols is not None:  # an outer axis: reduced in place, no transposed copy
        y = col_log_softmax(cols, _inv_t(tau, a.dtype), use_parallel(a.size))
        return finish_out(_cast(y.reshape(a.shape), out_dtype), out, fname)
    rows = to_rows(a, axes)
    y = _log_softmax_rows_any(rows.data, tau, use_parallel(rows.data.size))
    return finish_out(_cast(rows.restore(y), out_dtype), out, fname)


def _log_softmax_rows_any(rows, tau, parallel):
    inv_t = _inv_t(tau, rows.dtype)
    y = empty_like(rows)  # recycled when large (_outbuf)
    n_rows, n = rows.shape
    if _short(n):
        _short_log_softmax(rows, inv_t, y, parallel=parallel)
    elif _tasks(n_rows, n, parallel)[0] == 1 and n <= ROW_IN_CACHE:
        _log_softmax_rows(rows, inv_t, y, parallel=parallel)
    else:
        m, s, pieces, piece = _row_stats(rows, inv_t, parallel)
        _log_softmax_apply(rows, m, s, inv_t, piece, pieces, y, parallel=parallel)
    return y


@jit
def _log_softmax_backward_piece(g, y, gsum, inv_t, lo, hi, dx):
    """``dx = (g - exp(y) gsum) / tau``, the difference in float64, rounded once."""
    t = np.float64(inv_t)
    for i in range(U(lo), U(hi)):
        dx[i] = (np.float64(g[i]) - np.float64(exp(y[i])) * gsum) * t


@kernel
def _log_softmax_backward_rows(g, y, inv_t, dx):
    n = y.shape[1]
    for r in prange(y.shape[0]):
        _log_softmax_backward_piece(g[r], y[r], row_sum(g[r], 0, n), inv_t, 0, n, dx[r])


@kernel
def _log_softmax_backward_apply(g, y, gsums, inv_t, piece, pieces, dx):
    n_rows, n = y.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        _log_softmax_backward_piece(g[r], y[r], gsums[r], inv_t, lo, min(n, lo + piece), dx[r])


def log_softmax_backward(grad, y, axis=-1, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`log_softmax`, from its saved output ``y``.

    .. math::

        \frac{\partial L}{\partial x_i} = \frac{1}{\tau}
            \Bigl(g_i - e^{y_i} \sum_j g_j\Bigr)

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial y`, the shape of ``y``.
    y : array_like
        The output of :func:`log_softmax`.
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        The gradient with respect to the log-softmax input; the shape of ``y``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> y = fs.log_softmax([1.0, 2.0, 3.0])
    >>> fs.log_softmax_backward([0.0, 0.0, -1.0], y)   # cross-entropy, target 2
    array([ 0.09003057,  0.24472847, -0.33475904])
    """
    fname = "log_softmax_backward"
    a, out_dtype = as_float_array(y, fname, "y")
    axes = normalize_axes(axis, a.ndim, fname)
    tau = check_temperature(temperature, fname)
    cols = as_columns(a, axes)
    if cols is not None:  # an outer axis: in place, no transposed copy
        g = like_columns(grad, a, cols, fname, "grad")
        dx = col_softmax_backward(g, cols, _inv_t(tau, a.dtype), use_parallel(a.size), True)
        return finish_out(_cast(dx.reshape(a.shape), out_dtype), out, fname)
    rows = to_rows(a, axes)
    g = rows.like(grad, fname, "grad")
    parallel = use_parallel(rows.data.size)
    inv_t = _inv_t(tau, a.dtype)
    dx = np.empty_like(rows.data)
    n_rows, n = rows.data.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    if pieces == 1:
        _log_softmax_backward_rows(g, rows.data, inv_t, dx, parallel=parallel)
    else:
        gsums = _row_sums(g, None, pieces, piece, parallel)
        _log_softmax_backward_apply(g, rows.data, gsums, inv_t, piece, pieces, dx, parallel=parallel)
    return finish_out(_cast(rows.restore(dx), out_dtype), out, fname)


# ---------------------------------------------------------------------------------------
# soft_argmax


@jit
def _inf_row_mean_index(x, lo, hi):
    """``(count, sum of indices)`` of the +inf entries of ``x[lo:hi]``."""
    c = 0.0
    w = 0.0
    for i in range(U(lo), U(hi)):
        if x[i] == np.inf:
            c += 1.0
            w += i
    return c, w


@kernel
def _soft_argmax_pieces(x, m, inv_t, pieces, piece, sums, wsums):
    """Per chunk ``c`` of row ``r``: ``sum(e)`` and ``sum(i * e)`` with
    ``e = exp((x - m)/tau)`` -- or, in a row whose maximum is +inf, the count and index
    sum of its +inf entries. A task is one piece of one row."""
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        mr = m[r]
        for clo in range(lo, hi, CHUNK):
            chi = min(clo + CHUNK, hi)
            if mr == np.inf:
                s, w = _inf_row_mean_index(x[r], clo, chi)
                if has_nan(x[r], clo, chi):
                    s = np.nan
            else:
                s, w = weighted_exp_sum(x[r], clo, chi, mr, inv_t)
            sums[r, clo // CHUNK] = s
            wsums[r, clo // CHUNK] = w


def _soft_argmax_sums(x, m, inv_t, pieces, piece, parallel):
    """Per row ``(S, W)`` of :func:`_soft_argmax_pieces`, chunk sums added left to
    right (the same bits for any plan)."""
    n_rows = x.shape[0]
    sums = np.zeros((n_rows, _chunks(x.shape[1])))
    wsums = np.zeros((n_rows, _chunks(x.shape[1])))
    _soft_argmax_pieces(x, m, inv_t, pieces, piece, sums, wsums, parallel=parallel)
    s = np.empty(n_rows)
    w = np.empty(n_rows)
    _fold_sums(sums, s, parallel=parallel)
    _fold_sums(wsums, w, parallel=parallel)
    return s, w


@kernel
def _row_max_pieces(x, piece, out):
    n_rows, n = x.shape
    pieces = out.shape[1]
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        out[r, k - r * pieces] = block_max(x[r], lo, min(n, lo + piece))


def _soft_argmax_moments(rows, inv_t, parallel):
    """Per row: the max ``m``, ``S = sum(e)`` and ``W = sum(i e)``; two reads of each
    row (the max, then the weighted sums), each split into pieces when rows are long."""
    n_rows, n = rows.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    mp = np.empty((n_rows, pieces), rows.dtype)
    _row_max_pieces(rows, piece, mp, parallel=parallel)
    m = mp.max(axis=1) if pieces > 1 else mp[:, 0]  # exact: a max is one of the x
    s, w = _soft_argmax_sums(rows, m, inv_t, pieces, piece, parallel)
    return m, s, w, pieces, piece


@jit
def _soft_argmax_finish(m, s, w, out):
    for r in range(m.shape[0]):
        out[r] = np.nan if m[r] == -np.inf else w[r] / s[r]


def soft_argmax(x, axis=-1, *, temperature=1.0, out=None):
    r"""Smooth argmax: the expected index under ``softmax(x / temperature)``.

    .. math::

        \operatorname{softargmax}_\tau(x) = \sum_i i\,\operatorname{softmax}_\tau(x)_i

    A float index in :math:`[0, n - 1]` that tends to ``argmax(x)`` as
    :math:`\tau \to 0` when the maximum is unique.

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, default -1
        The axis whose positions are averaged.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        ``x`` with ``axis`` removed, in the float dtype of ``x``.

    See Also
    --------
    soft_argmax_backward : its vector-Jacobian product.
    soft_argmax2d : the 2-D version for heatmaps.

    Notes
    -----
    Special values follow :func:`softmax`: a slice with ``+inf`` entries (and no nan)
    gives the mean position of those entries; all ``-inf``, any nan, or an empty slice
    gives nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> float(fs.soft_argmax([1.0, 2.0, 3.0, 4.0, 2.0]))
    2.613480...
    >>> float(fs.soft_argmax([1.0, 2.0, 3.0, 4.0, 2.0], temperature=0.01))
    3.0
    """
    fname = "soft_argmax"
    rows = fast_rows(x, axis, out)
    if rows is not None:
        res = _soft_argmax_rows_any(rows, check_temperature(temperature, fname)).reshape(x.shape[:-1])
        return res if res.ndim else res[()]
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname, multiple=False)
    tau = check_temperature(temperature, fname)
    rows = to_rows(a, axes)
    res = _soft_argmax_rows_any(rows.data, tau)
    return finish_out(_cast(rows.reduced(res, False), out_dtype), out, fname)


def _soft_argmax_rows_any(rows, tau):
    inv_t = _inv_t(tau, rows.dtype)
    parallel = use_parallel(rows.size)
    res = np.empty(rows.shape[0], rows.dtype)
    if _short(rows.shape[1]):
        _short_soft_argmax(rows, inv_t, res, parallel=parallel)
    else:
        m, s, w, _, _ = _soft_argmax_moments(rows, inv_t, parallel)
        _soft_argmax_finish(m, s, w, res)
    return res


@kernel
def _soft_argmax_backward_pieces(g, x, m, s, w, inv_t, piece, pieces, dx):
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        hi = min(n, lo + piece)
        xr = x[r]
        dr = dx[r]
        mr = m[r]
        if mr == -np.inf or s[r] != s[r]:
            for i in range(U(lo), U(hi)):
                dr[i] = np.nan
            continue
        a = w[r] / s[r]
        coef = g[r] * inv_t / s[r]
        if mr == np.inf:
            for i in range(U(lo), U(hi)):
                dr[i] = coef * (i - a) if xr[i] == mr else 0.0
        else:
            for i in range(U(lo), U(hi)):
                dr[i] = exp((xr[i] - mr) * inv_t) * (coef * (i - a))


def soft_argmax_backward(grad, x, axis=-1, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`soft_argmax`.

    .. math::

        \frac{\partial L}{\partial x_j} = \frac{g}{\tau}\, p_j\,(j - a),
        \qquad p = \operatorname{softmax}_\tau(x),\quad a = \sum_i i\,p_i

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial a`, shaped like ``soft_argmax(x, axis)``.
    x : array_like
        The input of the forward call.
    axis : int, default -1
        As in the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        The gradient with respect to ``x``: its shape, its float dtype.

    Notes
    -----
    In a slice with ``+inf`` entries the formula is applied to the limiting softmax
    (uniform over those entries), as the chain rule through :func:`softmax_backward`
    would give; all ``-inf``, nan or empty slices give nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.soft_argmax_backward(1.0, [0.0, 0.0, 0.0])   # pulls towards the ends
    array([-0.33333333,  0.        ,  0.33333333])
    """
    fname = "soft_argmax_backward"
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname, multiple=False)
    tau = check_temperature(temperature, fname)
    rows = to_rows(a, axes)
    g = rows.per_row(grad, fname, "grad").astype(np.float64)
    parallel = use_parallel(rows.data.size)
    inv_t = _inv_t(tau, a.dtype)
    m, s, w, pieces, piece = _soft_argmax_moments(rows.data, inv_t, parallel)
    dx = np.empty_like(rows.data)
    _soft_argmax_backward_pieces(
        g, rows.data, m, s, w, np.float64(inv_t), piece, pieces, dx, parallel=parallel
    )
    return finish_out(_cast(rows.restore(dx), out_dtype), out, fname)


# ---------------------------------------------------------------------------------------
# soft_argmax2d


@jit
def _plane_moments(x, width, inv_t, e):
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


@kernel
def _soft_argmax2d_rows(x, width, inv_t, out, e, dx, g):
    """Forward (``g`` is None: writes ``out[r] = (row, col)``) or backward (writes
    ``dx``); ``e`` is a per-row scratch of exponentials."""
    n_rows, n = x.shape
    w = U(width)
    for r in prange(n_rows):
        m, s, wr, wc = _plane_moments(x[r], width, inv_t, e[r])
        ar = wr / s
        ac = wc / s
        if g is None:
            out[r, 0] = ar
            out[r, 1] = ac
        else:
            dr = dx[r]
            if s != s:
                for i in range(U(n)):
                    dr[i] = np.nan
                continue
            cr = g[r, 0] * np.float64(inv_t) / s
            cc = g[r, 1] * np.float64(inv_t) / s
            er = e[r]
            for h in range(U(n // width)):
                base = h * w
                off = cr * (np.float64(h) - ar) - cc * ac
                for j in range(w):
                    dr[base + j] = er[base + j] * (off + cc * np.float64(j))


def _heatmap_rows(x, fname):
    a, out_dtype = as_float_array(x, fname)
    if a.ndim < 2:
        raise ValueError(f"{fname}: `x` must have at least 2 dimensions (..., H, W), got shape {a.shape}")
    rows = to_rows(a, (a.ndim - 2, a.ndim - 1))
    return a, out_dtype, rows


def soft_argmax2d(x, *, temperature=1.0, out=None):
    r"""Smooth 2-D argmax of heatmaps: the expected (row, col) under a softmax taken
    over each whole ``H x W`` plane of the last two axes.

    .. math::

        p_{hw} = \frac{e^{x_{hw}/\tau}}{\sum_{h'w'} e^{x_{h'w'}/\tau}},\qquad
        (\bar h, \bar w) = \Bigl(\sum_{hw} h\,p_{hw},\ \sum_{hw} w\,p_{hw}\Bigr)

    The differentiable keypoint read-out of heatmap regressors (the "integral"
    or "DSNT" readout): a sub-pixel location that moves smoothly with the scores.

    Parameters
    ----------
    x : array_like, shape (..., H, W)
        Heatmaps.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape (..., 2)
        Expected (row, col) per plane, in the float dtype of ``x``.

    See Also
    --------
    soft_argmax2d_backward : its vector-Jacobian product.
    soft_argmax : along one axis.

    Notes
    -----
    Special values per plane as :func:`soft_argmax`: ``+inf`` entries give their mean
    position; all ``-inf``, nan or an empty plane give nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> h = np.zeros((3, 4)); h[2, 1] = 10.0
    >>> fs.soft_argmax2d(h, temperature=0.5)
    array([1.99999998, 1.00000001])
    """
    fname = "soft_argmax2d"
    a, out_dtype, rows = _heatmap_rows(x, fname)
    tau = check_temperature(temperature, fname)
    n_rows, n = rows.data.shape
    res = np.empty((n_rows, 2), np.float64)
    e = np.empty_like(rows.data)
    _soft_argmax2d_rows(
        rows.data, max(a.shape[-1], 1), _inv_t(tau, a.dtype), res, e, e, None,
        parallel=use_parallel(rows.data.size),
    )
    return finish_out(_cast(res.reshape(a.shape[:-2] + (2,)), out_dtype), out, fname)


def soft_argmax2d_backward(grad, x, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`soft_argmax2d`.

    .. math::

        \frac{\partial L}{\partial x_{hw}} = \frac{p_{hw}}{\tau}
            \bigl(g_r (h - \bar h) + g_c (w - \bar w)\bigr)

    Parameters
    ----------
    grad : array_like, shape (..., 2)
        :math:`(g_r, g_c)`, the gradient with respect to the expected (row, col).
    x : array_like, shape (..., H, W)
        The input of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape (..., H, W)
        The gradient with respect to ``x``, in its float dtype.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.soft_argmax2d_backward([1.0, 0.0], np.zeros((2, 2)))  # push the row down
    array([[-0.125, -0.125],
           [ 0.125,  0.125]])
    """
    fname = "soft_argmax2d_backward"
    a, out_dtype, rows = _heatmap_rows(x, fname)
    tau = check_temperature(temperature, fname)
    g = asarray(grad, fname, "grad")
    want = a.shape[:-2] + (2,)
    if g.shape != want:
        raise ValueError(f"{fname}: `grad` must have shape {want}, got {g.shape}")
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `grad` must be real, got dtype {g.dtype}")
    g = np.ascontiguousarray(g.reshape(-1, 2), dtype=np.float64)
    dx = np.empty_like(rows.data)
    e = np.empty_like(rows.data)
    _soft_argmax2d_rows(
        rows.data, max(a.shape[-1], 1), _inv_t(tau, a.dtype), g, e, dx, g,
        parallel=use_parallel(rows.data.size),
    )
    return finish_out(_cast(dx.reshape(a.shape), out_dtype), out, fname)


# ---------------------------------------------------------------------------------------
# hardmax and the straight-through trick


@kernel
def _hardmax_rows(x, out):
    n_rows, n = x.shape
    for r in prange(n_rows):
        orow = out[r]
        for i in range(U(n)):
            orow[i] = 0.0
        if n > 0:
            orow[first_argmax(x[r], 0, n)] = 1.0


def hardmax(x, axis=-1, *, out=None):
    r"""One-hot of the argmax along ``axis``: the hard function that :func:`softmax`
    smooths.

    .. math::

        \operatorname{hardmax}(x)_i = [\,i = \operatorname{argmax}_j x_j\,]

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, default -1
        The axis along which to take the argmax.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        Same shape as ``x``, in its float dtype: exactly one 1 per slice.

    Notes
    -----
    Ties go to the first index and a nan counts as the maximum (the first nan wins),
    both as ``np.argmax``. An empty axis gives an empty array. Its derivative is zero
    almost everywhere; see :func:`straight_through_hardmax` for a usable gradient.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.hardmax([1.1, 3.4, 2.5])
    array([0., 1., 0.])
    >>> fs.hardmax([2.0, 5.0, 5.0])          # ties: first
    array([0., 1., 0.])
    """
    fname = "hardmax"
    rows = fast_rows(x, axis, out)
    if rows is not None:
        res = np.empty_like(rows)
        _hardmax_rows(rows, res, parallel=use_parallel(rows.size))
        return res.reshape(x.shape)
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname, multiple=False)
    rows = to_rows(a, axes)
    res = np.empty_like(rows.data)
    _hardmax_rows(rows.data, res, parallel=use_parallel(rows.data.size))
    return finish_out(_cast(rows.restore(res), out_dtype), out, fname)


def straight_through_hardmax(x, axis=-1, *, temperature=1.0, out=None):
    r"""The straight-through estimator of :func:`hardmax`: hard forward, soft backward.

    Returns ``(hard, soft)`` with ``hard = hardmax(x)`` and
    ``soft = softmax(x / temperature)``. Use ``hard`` in the forward computation and
    send the gradient that arrives at ``hard`` through
    ``softmax_backward(grad, soft, axis, temperature=temperature)``. This is the
    ``y = (hard - soft).detach() + soft`` trick of autodiff frameworks, written out for
    NumPy code that does its own backward pass.

    Parameters
    ----------
    x : array_like
        Scores.
    axis : int, default -1
        Axis of the categories.
    temperature : float, default 1.0
        Temperature of the surrogate softmax.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    hard : ndarray
        One-hot argmax, same shape as ``x``.
    soft : ndarray
        ``softmax(x, axis, temperature=temperature)``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> hard, soft = fs.straight_through_hardmax([1.0, 2.0, 3.0, 4.0, 2.0])
    >>> hard
    array([0., 0., 0., 1., 0.])
    >>> fs.softmax_backward([0.0, 0.0, 0.0, 1.0, 0.0], soft).round(4)
    array([-0.0175, -0.0475, -0.1291,  0.2415, -0.0475])
    """
    fname = "straight_through_hardmax"
    a, out_dtype = as_float_array(x, fname)
    normalize_axes(axis, a.ndim, fname, multiple=False)
    check_temperature(temperature, fname)
    hard = _cast(hardmax(a, axis), out_dtype)
    return finish_out((hard, _cast(softmax(a, axis, temperature=temperature), out_dtype)), out, fname)
