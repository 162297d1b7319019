"""Smooth stand-ins for ``max``, ``argmax`` and one-hot ``hardmax``, with their backward
passes: LogSumExp, softmax, log-softmax, soft-argmax (1-D and 2-D), hardmax, and the
hard ``max``/``min`` reductions with their subgradients.

Layout of this module: each op is its per-row math -- ``@jit`` body helpers on the
rows ``x[r]`` (a whole row or a piece ``[lo, hi)`` of it, or GROUP short rows from
``r0``) built from the helpers of :mod:`._rowops` -- turned into kernels by the
factories of :mod:`._schedules`, which also picks the schedule (:func:`._schedules.run`);
the public function is its docstring and a call of :func:`._schedules.row_op` (the
validation, dtype, axis, ``out=`` wrapper). Every ``*_backward`` sits right under its
forward function.
"""

from __future__ import annotations

import numpy as np
from numba import uint64 as U

from ._arrays import ENTRY_FLAGS, as_float_array, check_temperature, finish_out, normalize_axes, real_shaped, to_rows
from ._arrays import inv_temperature as _inv_t, result_cast as _cast
from ._columns import (col_log_softmax, col_logsumexp, col_logsumexp_backward, col_softmax, col_softmax_backward,
                       like_columns, per_column)
from ._config import jit, use_parallel
from ._exp import exp, log1p
from ._outbuf import empty_like
from ._rowops import (CHUNK, GROUP, block_max, count_equal, exp_scale_store, first_argmax, gather_group,
                      group_exp_buffers, group_exps, group_state_buffers, group_states, has_nan,
                      inf_mean_index, inf_row_softmax, log_softmax_row, log_softmax_span, log_softmax_term,
                      lse_state, lse_value, plane_moments, row_dot, row_extreme, extreme_grad, row_sum, scale_lanes,
                      scatter_group, softmax_row, stride_log_softmax, stride_row, stride_softmax, stride_states,
                      weight_at, weighted_exp_sum, wgroup_finish, wgroup_state, wchunk_state, wlse_merge, wlse_state,
                      wlse_value)
from ._schedules import (ROW_IN_CACHE, _chunks, _tasks, fast_path, folded, groups_kernel, row_op, row_stats,
                         row_sums, run, tasks_kernel, two_pass)
from ._registry import names_in

__all__ = names_in("reductions")


@jit
def _exp_scratch(x):
    return group_exp_buffers(x) + (np.empty(GROUP, x.dtype), np.empty(GROUP, np.float64))


def _lse_stats(x, args, pieces, piece, parallel):
    return row_stats(x, args[0], parallel)[:2]


# ---------------------------------------------------------------------------------------
# logsumexp


@jit
def _lse_row(x, r, lo, hi, inv_t, tau, out):
    m, s = lse_state(x[r], lo, hi, inv_t)
    out[r] = lse_value(m, s, tau)


@jit
def _lse_group(x, r0, g, scratch, inv_t, tau, out):
    buf, m, s, first = scratch
    if stride_row(x.shape[1]):
        stride_states(x, r0, g, inv_t, m, s)
    else:
        group_states(x, r0, g, inv_t, buf, m, s, first)
    for i in range(U(g)):  # lse_value across lanes, with a vectorizable log1p
        mi = m[i]
        si = s[i]
        v = np.float64(mi) + tau * log1p(si)
        out[r0 + i] = ((np.nan if si != si else -np.inf) if mi == -np.inf else v)


@jit
def _lse_finish(m, s, tau, out):
    for r in range(m.shape[0]):
        out[r] = lse_value(m[r], s[r], tau)


def _lse_pieces(x, args, pieces, piece, parallel):
    _lse_finish(*_lse_stats(x, args, pieces, piece, parallel), args[1], args[2])


_logsumexp_rows = tasks_kernel(_lse_row, "_logsumexp_rows")
_short_lse = groups_kernel(_lse_group, group_state_buffers, "_short_lse")


_LSE_FAST = fast_path(lambda tau, dt: (_inv_t(tau, dt), tau), short=_short_lse, rows=_logsumexp_rows, reduce=True)


# Weighted LogSumExp (``b=``): the state (m, c, s) of :mod:`._rowops`, the same schedules.


@jit
def _wlse_put(m, c, s, tau, signed, out, sign, r):
    v, sg = wlse_value(m, c, s, tau)
    if v != v:
        sg = np.nan
    elif sg < 0.0 and not signed:
        v = np.nan  # log of a negative total: nan unless the sign is asked for
    out[r] = v
    sign[r] = sg


@jit
def _wlse_row(x, r, lo, hi, b, inv_t, tau, signed, out, sign):
    m, c, s = wlse_state(x[r], b[r], lo, hi, inv_t)
    _wlse_put(m, c, s, tau, signed, out, sign, r)


@jit
def _wstats_piece(x, r, lo, hi, b, inv_t, ms, cs, ss):
    """The weighted state of each chunk ``c`` of ``[lo, hi)`` in ``(ms, cs, ss)[r, c]``."""
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


@jit
def _wlse_scratch(x):
    n = x.shape[1]  # zeros: the spare lanes of a last group are masked
    return (np.zeros((n, GROUP), x.dtype), np.zeros((n, GROUP), x.dtype), np.empty(GROUP, x.dtype), np.empty(GROUP),
            np.empty(GROUP), np.empty(GROUP), np.empty(GROUP))


@jit
def _wlse_group(x, r0, g, scratch, b, inv_t, tau, signed, out, sign):
    bx, bw, m, c, s, v, sg = scratch
    gather_group(x, r0, g, bx)
    gather_group(b, r0, g, bw)
    # all GROUP lanes, also in a last partial group (the spare lanes hold stale values
    # and are not stored): with a variable lane count LLVM gave up on the runtime alias
    # checks of the five arrays and ran the loops scalar, 6x slower
    wgroup_state(bx, bw, GROUP, inv_t, m, c, s)
    wgroup_finish(m, c, s, tau, signed, v, sg)  # vectorized logs, not one call per row
    for i in range(g):
        out[r0 + i] = v[i]
        sign[r0 + i] = sg[i]


def _wlse_pieces(x, args, pieces, piece, parallel):
    b, inv_t, tau, signed, out, sign = args
    ms, cs, ss = (np.empty((x.shape[0], _chunks(x.shape[1])), dt) for dt in (x.dtype, np.float64, np.float64))
    _wstats_pieces(x, pieces, piece, b, inv_t, ms, cs, ss, parallel=parallel)
    _wmerge_finish(ms, cs, ss, np.float64(inv_t), tau, signed, out, sign)


_wlogsumexp_rows = tasks_kernel(_wlse_row, "_wlogsumexp_rows")
_wstats_pieces = tasks_kernel(_wstats_piece, "_wstats_pieces")
_short_wlse = groups_kernel(_wlse_group, _wlse_scratch, "_short_wlse")


def _lse_compute(rows, tau, parallel, b=None, signed=False):
    """``compute`` of :func:`row_op` for logsumexp: ``out`` (or ``(out, sign)``), weighted
    by ``b`` when given."""
    if b is None:
        res = np.empty(rows.shape[0], rows.dtype)
        run(rows, parallel, (_inv_t(tau, rows.dtype), tau, res), short=_short_lse, rows=_logsumexp_rows,
            pieces=_lse_pieces)
        return (res, _unweighted_sign(res)) if signed else res
    out, sign = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    run(rows, parallel, (b, _inv_t(tau, rows.dtype), tau, signed, out, sign), short=_short_wlse,
        rows=_wlogsumexp_rows, pieces=_wlse_pieces)
    return (out, sign) if signed else out


def _lse_signed(rows, tau, parallel, b=None):
    return _lse_compute(rows, tau, parallel, b, True)


def _unweighted_sign(out):
    """SciPy's sign of an unweighted LogSumExp: 1, 0 for ``-inf`` (a zero sum), nan for
    nan."""
    with np.errstate(invalid="ignore"):
        return np.where(out == -np.inf, 0.0, np.where(out == out, 1.0, np.nan)).astype(out.dtype)


def _col_logsumexp(cols, a, tau, axes):
    return col_logsumexp(cols, _inv_t(tau, a.dtype), tau, use_parallel(a.size))


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
    plain = b is None and not return_sign
    return row_op("logsumexp", x, axis, out, _lse_signed if return_sign else _lse_compute, temperature=temperature, reduce=True,
                  keepdims=keepdims, weights=b, columns=_col_logsumexp if plain else None,
                  fast=_LSE_FAST if plain else False)


#: ``logsumexp_backward`` trusts the saved ``out`` while ``|out| / tau`` is at most this:
#: the rounding of ``out`` (half an ulp), divided by ``tau``, then stays within 8 ulps
#: of the result. Beyond it the row's own LogSumExp is taken again from ``x``.
OUT_TRUSTED = 16.0


@jit
def _lse_backward_piece(x, r, lo, hi, g, out, inv_t, mx, shift, dx):
    """``dx = g exp((x - out) / tau)``; in rows where ``shift[r]`` is a number, with
    ``out`` replaced by its exact form ``mx[r] + tau * shift[r]`` (see
    :data:`OUT_TRUSTED`)."""
    o = out[r]
    gr = g[r]
    xr = x[r]
    dr = dx[r]
    if o == np.inf:
        # limit of softmax: the gradient is shared by the +inf entries
        c = count_equal(xr, 0, x.shape[1], o)
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
    m, s, _, _ = row_stats(rows, inv_t, parallel)
    with np.errstate(all="ignore"):
        d = np.log1p(s)
        value = m.astype(np.float64) + tau * d
        close = np.abs(value - out) <= 4 * np.finfo(rows.dtype).eps * np.abs(out.astype(np.float64))
    use = redo & close
    shift[use] = d[use]
    return m, shift


@jit
def _wlse_backward_piece(x, r, lo, hi, g, out, b, inv_t, dx):
    zero = x.dtype.type(0.0)
    o = out[r]
    gr = g[r]
    xr = x[r]
    br = b[r]
    dr = dx[r]
    if o == np.inf:
        # the limit: shares b_i / (sum of the weights at +inf) for the +inf entries
        share = gr / x.dtype.type(weight_at(xr, br, o))
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


_lse_backward_pieces = tasks_kernel(_lse_backward_piece, "_lse_backward_pieces")
_wlse_backward_pieces = tasks_kernel(_wlse_backward_piece, "_wlse_backward_pieces")


def _logsumexp_backward_any(x, tau, parallel, g, o, b=None):
    pieces, piece = _tasks(*x.shape, parallel)
    inv_t = _inv_t(tau, x.dtype)
    dx = np.empty_like(x)
    if b is None:
        mx, shift = _exact_lse(x, o, tau, inv_t, parallel)
        _lse_backward_pieces(x, pieces, piece, g, o, inv_t, mx, shift, dx, parallel=parallel)
    else:
        _wlse_backward_pieces(x, pieces, piece, g, o, b, inv_t, dx, parallel=parallel)
    return dx


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
        The output of the forward call (reduced shape, with or without kept dims). It
        is read, never written: this ``out`` is the saved forward result (the signature
        of the first release), so unlike the other functions this one takes no buffer
        for its result (see :ref:`out-buffers`).
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

    def columns(cols, a, tau, axes):
        g, o = per_column(grad, a, axes, fname, "grad"), per_column(out, a, axes, fname, "out")
        with np.errstate(invalid="ignore"):
            if np.any(np.isfinite(o) & (np.abs(o) > OUT_TRUSTED * tau)):
                return None  # the rows, which take the LogSumExp again where out falls short
        return col_logsumexp_backward(cols, g, o, _inv_t(tau, a.dtype), use_parallel(a.size))

    return row_op(fname, x, axis, None, _logsumexp_backward_any, temperature=temperature, weights=b,
                  extras=(("grad", grad, "per_row"), ("out", out, "per_row")), columns=None if b is not None else columns)


# ---------------------------------------------------------------------------------------
# softmax


@jit
def _softmax_whole(x, r, lo, hi, inv_t, y):
    softmax_row(x[r], inv_t, y[r])


@jit
def _softmax_piece(x, r, lo, hi, m, s, inv_t, y):
    """Second pass for long rows: ``y = exp((x - m)/tau) / (1 + s)`` from the stats
    of whole rows (``s`` is nan exactly when the row holds a nan; with ``m = +inf``,
    ``s + 1`` counts the +inf entries)."""
    mr = m[r]
    xr = x[r]
    yr = y[r]
    if mr == np.inf:
        inf_row_softmax(xr, lo, hi, s[r] + 1.0, yr)
    elif mr == -np.inf:
        for i in range(U(lo), U(hi)):
            yr[i] = np.nan
    else:
        exp_scale_store(xr, lo, hi, mr, inv_t, x.dtype.type(1.0 / (1.0 + s[r])), yr)


@jit
def _softmax_group(x, r0, g, scratch, inv_t, y):
    buf, e, m, sums, scale, _ = scratch
    if stride_row(x.shape[1]):
        stride_softmax(x, r0, g, inv_t, m, sums, y)
        return
    group_exps(x, r0, g, inv_t, buf, e, m, sums)
    for i in range(g):
        scale[i] = 1.0 / sums[i] if m[i] > -np.inf else np.nan
    scale_lanes(e, g, scale)
    scatter_group(e, r0, g, y)


_softmax_rows = tasks_kernel(_softmax_whole, "_softmax_rows")
_softmax_apply = tasks_kernel(_softmax_piece, "_softmax_apply")
_short_softmax = groups_kernel(_softmax_group, _exp_scratch, "_short_softmax")


def _row_transform(short, rows, pieces):
    """``compute`` and the fast path of softmax and log-softmax: a row in, a row out."""
    def compute(x, tau, parallel):
        # recycled when large (_outbuf); rows by length alone: the one- and two-pass forms sum differently
        y = empty_like(x)
        run(x, parallel, (_inv_t(tau, x.dtype), y), short=short, rows=rows, pieces=pieces, whole=ROW_IN_CACHE)
        return y
    return compute, fast_path(short=short, rows=rows, whole=ROW_IN_CACHE)


_SOFTMAX, _SOFTMAX_FAST = _row_transform(_short_softmax, _softmax_rows, two_pass(_lse_stats, _softmax_apply))


def _col_softmax(cols, a, tau, axes):
    return col_softmax(cols, _inv_t(tau, a.dtype), use_parallel(a.size))


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
    return row_op("softmax", x, axis, out, _SOFTMAX, temperature=temperature, columns=_col_softmax,
                  fast=_SOFTMAX_FAST)


@jit
def _softmax_backward_piece(y, r, lo, hi, g, dots, inv_t, dx):
    """``dx = y (g - dot) / tau``, the difference taken in float64 and rounded once:
    in float32, ``g - dot`` cancels, and a ``dot`` rounded to float32 first would turn
    its last bit into a large relative error of the result. ``dots`` None: the row's
    own dot, for whole rows."""
    yr, gr, dr = y[r], g[r], dx[r]
    dot = row_dot(gr, yr, 0, y.shape[1]) if dots is None else dots[r]
    t = np.float64(inv_t)
    for i in range(U(lo), U(hi)):
        dr[i] = np.float64(yr[i]) * ((np.float64(gr[i]) - dot) * t)


@jit
def _log_softmax_backward_piece(y, r, lo, hi, g, gsums, inv_t, dx):
    yr, gr, dr = y[r], g[r], dx[r]
    gsum = row_sum(gr, 0, y.shape[1]) if gsums is None else gsums[r]
    t = np.float64(inv_t)
    for i in range(U(lo), U(hi)):
        dr[i] = (np.float64(gr[i]) - np.float64(exp(yr[i])) * gsum) * t


_softmax_backward_pieces = tasks_kernel(_softmax_backward_piece, "_softmax_backward_pieces")
_log_softmax_backward_pieces = tasks_kernel(_log_softmax_backward_piece, "_log_softmax_backward_pieces")


def _backward_compute(kernel, log):
    """``compute`` of :func:`row_op` for the backward of softmax (``log=False``: needs
    ``sum(g * y)``) or log-softmax (``sum(g)``): whole rows in one pass, pieces after
    the sums."""
    entries = {}  # itemsize -> the serial twin's entry point for whole rows (no sums)

    def compute(y, tau, parallel, g):
        dx = np.empty_like(y)
        pieces, piece = _tasks(*y.shape, parallel)
        inv_t = _inv_t(tau, y.dtype)
        if pieces == 1 and not parallel and y.flags.num & g.flags.num & ENTRY_FLAGS == ENTRY_FLAGS:
            # the small call: the dispatcher's own machine code for these types, called
            # without its typing of seven arguments (Kernel.serial_entry)
            entry = entries.get(y.itemsize)
            if entry is None:
                entry = entries[y.itemsize] = kernel.serial_entry(y, 1, piece, g, None, inv_t, dx)
            entry(y, 1, piece, g, None, inv_t, dx)
            return dx
        sums = None if pieces == 1 else row_sums(g, None if log else y, pieces, piece, parallel)
        kernel(y, pieces, piece, g, sums, inv_t, dx, parallel=parallel)
        return dx
    compute.entries = entries
    return compute


def _col_backward(log, grad, fname):
    def columns(cols, a, tau, axes):
        g = like_columns(grad, a, cols, fname, "grad")
        return col_softmax_backward(g, cols, _inv_t(tau, a.dtype), use_parallel(a.size), log)
    return columns


_SOFTMAX_BACKWARD = _backward_compute(_softmax_backward_pieces, False)


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
    return row_op("softmax_backward", y, axis, out, _SOFTMAX_BACKWARD, temperature=temperature, name="y",
                  extras=(("grad", grad, "like"),), columns=_col_backward(False, grad, "softmax_backward"))


# ---------------------------------------------------------------------------------------
# log_softmax


@jit
def _log_softmax_whole(x, r, lo, hi, inv_t, y):
    log_softmax_row(x[r], inv_t, y[r])


@jit
def _log_softmax_piece(x, r, lo, hi, m, s, inv_t, y):
    log_softmax_span(x[r], m[r], s[r], inv_t, lo, hi, y[r])


@jit
def _log_softmax_group(x, r0, g, scratch, inv_t, y):
    buf, m, s, shift = scratch
    if stride_row(x.shape[1]):
        stride_log_softmax(x, r0, g, inv_t, m, s, y)
        return
    zero = x.dtype.type(0.0)
    ninf = x.dtype.type(-np.inf)
    group_states(x, r0, g, inv_t, buf, m, s, shift)  # shift: scratch until set below
    for i in range(U(g)):
        si = s[i]
        shift[i] = np.nan if (m[i] == -np.inf or si != si) else log1p(si)
    for j in range(U(x.shape[1])):
        bj = buf[j]
        for i in range(U(g)):
            bj[i] = log_softmax_term(bj[i], m[i], inv_t, shift[i], zero, ninf)
    scatter_group(buf, r0, g, y)


_log_softmax_rows = tasks_kernel(_log_softmax_whole, "_log_softmax_rows")
_log_softmax_apply = tasks_kernel(_log_softmax_piece, "_log_softmax_apply")
_short_log_softmax = groups_kernel(_log_softmax_group, group_state_buffers, "_short_log_softmax")
_LOG_SOFTMAX, _LOG_SOFTMAX_FAST = _row_transform(_short_log_softmax, _log_softmax_rows,
                                                  two_pass(_lse_stats, _log_softmax_apply))


def _col_log_softmax(cols, a, tau, axes):
    return col_log_softmax(cols, _inv_t(tau, a.dtype), use_parallel(a.size))


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
    return row_op("log_softmax", x, axis, out, _LOG_SOFTMAX, temperature=temperature,
                  columns=_col_log_softmax, fast=_LOG_SOFTMAX_FAST)


_LOG_SOFTMAX_BACKWARD = _backward_compute(_log_softmax_backward_pieces, True)


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
    return row_op("log_softmax_backward", y, axis, out, _LOG_SOFTMAX_BACKWARD, temperature=temperature, name="y",
                  extras=(("grad", grad, "like"),), columns=_col_backward(True, grad, "log_softmax_backward"))


# ---------------------------------------------------------------------------------------
# soft_argmax


@jit
def _soft_argmax_piece(x, r, lo, hi, m, inv_t, sums, wsums):
    mr = m[r]
    for clo in range(lo, hi, CHUNK):
        chi = min(clo + CHUNK, hi)
        if mr == np.inf:
            s, w = inf_mean_index(x[r], clo, chi)
            if has_nan(x[r], clo, chi):
                s = np.nan
        else:
            s, w = weighted_exp_sum(x[r], clo, chi, mr, inv_t)
        sums[r, clo // CHUNK] = s
        wsums[r, clo // CHUNK] = w


@jit
def _max_piece(x, r, lo, hi, pieces, piece, out):
    out[r, lo // piece] = block_max(x[r], lo, hi)


_soft_argmax_pieces = tasks_kernel(_soft_argmax_piece, "_soft_argmax_pieces")
_row_max_pieces = tasks_kernel(_max_piece, "_row_max_pieces")


def _soft_argmax_sums(x, m, inv_t, pieces, piece, parallel):
    sums, wsums = np.zeros((2, x.shape[0], _chunks(x.shape[1])))
    _soft_argmax_pieces(x, pieces, piece, m, inv_t, sums, wsums, parallel=parallel)
    return folded(sums, parallel), folded(wsums, parallel)


def _soft_argmax_moments(rows, inv_t, parallel):
    n_rows, n = rows.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    mp = np.empty((n_rows, pieces), rows.dtype)
    _row_max_pieces(rows, pieces, piece, pieces, piece, mp, parallel=parallel)
    m = mp.max(axis=1) if pieces > 1 else mp[:, 0]  # exact: a max is one of the x
    s, w = _soft_argmax_sums(rows, m, inv_t, pieces, piece, parallel)
    return m, s, w, pieces, piece


@jit
def _soft_argmax_finish(m, s, w, out):
    for r in range(m.shape[0]):
        out[r] = np.nan if m[r] == -np.inf else w[r] / s[r]


@jit
def _soft_argmax_group(x, r0, g, scratch, inv_t, out):
    buf, e, m, sums, _, w = scratch
    group_exps(x, r0, g, inv_t, buf, e, m, sums)
    for i in range(g):
        w[i] = 0.0
    for j in range(U(x.shape[1])):
        ej = e[j]
        for i in range(U(g)):
            w[i] += np.float64(ej[i]) * np.float64(j)
    for i in range(g):
        out[r0 + i] = w[i] / sums[i] if m[i] > -np.inf else np.nan


_short_soft_argmax = groups_kernel(_soft_argmax_group, _exp_scratch, "_short_soft_argmax")


def _soft_argmax_moments_finish(x, args, pieces, piece, parallel):
    _soft_argmax_finish(*_soft_argmax_moments(x, args[0], parallel)[:3], args[1])


def _soft_argmax_rows_any(rows, tau, parallel):
    res = np.empty(rows.shape[0], rows.dtype)
    run(rows, parallel, (_inv_t(tau, rows.dtype), res), short=_short_soft_argmax, pieces=_soft_argmax_moments_finish)
    return res


_SOFT_ARGMAX_FAST = fast_path(short=_short_soft_argmax, reduce=True)  # (long rows: a Python pass)


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
    return row_op("soft_argmax", x, axis, out, _soft_argmax_rows_any, temperature=temperature, multiple=False,
                  reduce=True, fast=_SOFT_ARGMAX_FAST)


@jit
def _soft_argmax_backward_piece(x, r, lo, hi, g, m, s, w, inv_t, dx):
    xr = x[r]
    dr = dx[r]
    mr = m[r]
    if mr == -np.inf or s[r] != s[r]:
        for i in range(U(lo), U(hi)):
            dr[i] = np.nan
        return
    rs = 1.0 / s[r]  # one reciprocal for both, as LLVM made of two divisions by s[r]
    a = w[r] * rs
    coef = g[r] * inv_t * rs
    if mr == np.inf:
        for i in range(U(lo), U(hi)):
            dr[i] = coef * (i - a) if xr[i] == mr else 0.0
    else:
        for i in range(U(lo), U(hi)):
            dr[i] = exp((xr[i] - mr) * inv_t) * (coef * (i - a))


_soft_argmax_backward_pieces = tasks_kernel(_soft_argmax_backward_piece, "_soft_argmax_backward_pieces")


def _soft_argmax_backward_any(x, tau, parallel, g):
    inv_t = _inv_t(tau, x.dtype)
    m, s, w, pieces, piece = _soft_argmax_moments(x, inv_t, parallel)
    dx = np.empty_like(x)
    _soft_argmax_backward_pieces(x, pieces, piece, g.astype(np.float64), m, s, w, np.float64(inv_t), dx,
                                 parallel=parallel)
    return dx


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
    return row_op("soft_argmax_backward", x, axis, out, _soft_argmax_backward_any, temperature=temperature,
                  multiple=False, extras=(("grad", grad, "per_row"),))


# ---------------------------------------------------------------------------------------
# soft_argmax2d


@jit
def _plane(x, r, lo, hi, width, inv_t, out, e, dx, g):
    """Forward (``g`` is None: writes ``out[r] = (row, col)``) or backward (writes
    ``dx``) of plane ``r``; ``e`` is a per-row scratch of exponentials."""
    n = x.shape[1]
    w = U(width)
    m, s, wr, wc = plane_moments(x[r], width, inv_t, e[r])
    ar = wr / s
    ac = wc / s
    if g is None:
        out[r, 0] = ar
        out[r, 1] = ac
        return
    dr = dx[r]
    if s != s:
        for i in range(U(n)):
            dr[i] = np.nan
        return
    cr = g[r, 0] * np.float64(inv_t) / s
    cc = g[r, 1] * np.float64(inv_t) / s
    er = e[r]
    for h in range(U(n // width)):
        base = h * w
        off = cr * (np.float64(h) - ar) - cc * ac
        for j in range(w):
            dr[base + j] = er[base + j] * (off + cc * np.float64(j))


_soft_argmax2d_rows = tasks_kernel(_plane, "_soft_argmax2d_rows")


def _heatmaps(x, temperature, fname):
    """``(a, out_dtype, rows, tau)``: the planes of the last two axes as rows."""
    a, out_dtype = as_float_array(x, fname)
    if a.ndim < 2:
        raise ValueError(f"{fname}: `x` must have at least 2 dimensions (..., H, W), got shape {a.shape}")
    return a, out_dtype, to_rows(a, (a.ndim - 2, a.ndim - 1)), check_temperature(temperature, fname)


def _planes(a, rows, tau, out, dx, g):
    x = rows.data
    args = (max(a.shape[-1], 1), _inv_t(tau, a.dtype), out, np.empty_like(x), dx, g)
    _soft_argmax2d_rows(x, 1, max(x.shape[1], 1), *args, parallel=use_parallel(x.size))


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
    a, out_dtype, rows, tau = _heatmaps(x, temperature, "soft_argmax2d")
    res = np.empty((rows.data.shape[0], 2), np.float64)
    _planes(a, rows, tau, res, res, None)
    return finish_out(_cast(res.reshape(a.shape[:-2] + (2,)), out_dtype), out, "soft_argmax2d")


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
    a, out_dtype, rows, tau = _heatmaps(x, temperature, fname)
    g = real_shaped(grad, a.shape[:-2] + (2,), fname, "grad")
    g = np.ascontiguousarray(g.reshape(-1, 2), dtype=np.float64)
    dx = np.empty_like(rows.data)
    _planes(a, rows, tau, g, dx, g)
    return finish_out(_cast(dx.reshape(a.shape), out_dtype), out, fname)


# ---------------------------------------------------------------------------------------
# hardmax and the straight-through trick


@jit
def _hardmax_row(x, r, lo, hi, out):
    orow = out[r]
    for i in range(U(lo), U(hi)):
        orow[i] = 0.0
    if hi > lo:
        orow[first_argmax(x[r], lo, hi)] = 1.0


_hardmax_rows = tasks_kernel(_hardmax_row, "_hardmax_rows")


def _hardmax_any(rows, tau, parallel):
    res = np.empty_like(rows)
    _hardmax_rows(rows, 1, max(rows.shape[1], 1), res, parallel=parallel)
    return res


_HARDMAX_FAST = fast_path(lambda tau, dt: (), rows=_hardmax_rows)


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
    return row_op("hardmax", x, axis, out, _hardmax_any, multiple=False, fast=_HARDMAX_FAST)


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


# ---------------------------------------------------------------------------------------
# max / min reductions (``fastsmooth.max``, ``fastsmooth.min``) and their subgradients


@jit
def _extreme_row(x, r, lo, hi, sign, out):
    out[r] = row_extreme(x[r], hi, sign)


@jit
def _extreme_backward_row(x, r, lo, hi, g, out, first, dx):
    extreme_grad(x[r], hi, g[r], out[r], first, dx[r])


_extreme_rows = tasks_kernel(_extreme_row, "_extreme_rows")
_extreme_rows_backward = tasks_kernel(_extreme_backward_row, "_extreme_rows_backward")
_TIES = ("split", "first")
_EXTREME_FAST = {sign: fast_path(lambda tau, dt, sign=sign: (sign,), rows=_extreme_rows, reduce=True)
                 for sign in (1.0, -1.0)}


def _check_ties(ties, fname):
    if not isinstance(ties, str) or ties not in _TIES:
        raise ValueError(f"{fname}: `ties` must be one of {_TIES}, got {ties!r}")


def _extremes(rows, sign, parallel, fname, x, where=""):
    """Per row ``max`` (``sign`` 1) or ``min`` (-1) of ``x`` seen as rows."""
    if rows.shape[1] == 0:
        raise ValueError(f"{fname}: cannot reduce over an empty axis (`x` has shape {np.shape(x)}{where})")
    out = np.empty(rows.shape[0], rows.dtype)
    _extreme_rows(rows, 1, rows.shape[1], sign, out, parallel=parallel)
    return out


def _extreme(x, axis, keepdims, ties, out, sign, fname):
    _check_ties(ties, fname)
    return row_op(fname, x, axis, out, lambda rows, tau, parallel: _extremes(rows, sign, parallel, fname, x,
                                                                              f", axis {axis!r}"),
                  reduce=True, keepdims=keepdims, fast=_EXTREME_FAST[sign])


def _extreme_backward(grad, x, out, axis, ties, sign, fname):
    _check_ties(ties, fname)
    a, out_dtype = as_float_array(x, fname)
    rows = to_rows(a, normalize_axes(axis, a.ndim, fname))
    g = rows.per_row(grad, fname, "grad")
    dest = None
    if isinstance(out, np.ndarray) and out.shape == a.shape and a.shape not in (
        rows.reduced_shape, rows.keepdims_shape
    ):  # x's shape, not a reduced one: a buffer for the result, not the saved output
        dest, out = out, None
    parallel = use_parallel(rows.data.size)  # out not saved: the extreme again, one more pass
    o = _extremes(rows.data, sign, parallel, fname, a) if out is None else rows.per_row(out, fname, "out")
    dx = np.empty_like(rows.data)
    _extreme_rows_backward(rows.data, 1, max(rows.data.shape[1], 1), g, o, ties == "first", dx, parallel=parallel)
    return finish_out(_cast(rows.restore(dx), out_dtype), dest, fname)


def max_(x, axis=-1, *, keepdims=False, ties="split", out=None):
    r"""Maximum along ``axis`` (``fastsmooth.max``); nan if the slice holds a nan.

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce (as :func:`logsumexp`, its smooth stand-in); None
        reduces all of them. Reduced axes must not be empty.
    keepdims : bool, default False
        Keep the reduced axes with size one.
    ties : {"split", "first"}, default "split"
        The rule for tied maxima, which only :func:`max_backward` uses: accepted (and
        checked) here too, so one set of keyword arguments serves both calls.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        In the float dtype of ``x``.

    See Also
    --------
    max_backward : its vector-Jacobian product, with the rule for tied maxima.
    logsumexp : the smooth stand-in, which tends to it as the temperature falls.
    numpy.max, torch.amax

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.max([[1.0, 3.0, 3.0], [0.0, np.nan, 1.0]])
    array([ 3., nan])
    """
    return _extreme(x, axis, keepdims, ties, out, 1.0, "max")


def max_backward(grad, x, axis=-1, *, ties="split", out=None):
    r"""Vector-Jacobian product of :func:`max <max_>`.

    .. math::

        \frac{\partial L}{\partial x_i} = g\,\frac{[x_i = m]}{\#\{j : x_j = m\}}
        \quad (\texttt{ties="split"}), \qquad m = \max_j x_j

    Parameters
    ----------
    grad : array_like
        :math:`g`, in the reduced shape (with or without the kept dims).
    x : array_like
        The input of the forward call.
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    ties : {"split", "first"}, default "split"
        Tied maxima share the gradient evenly (as ``torch.amax``; every choice in
        between is a valid subgradient), or the first one in C order gets all of it (as
        an ``argmax`` routing, ``torch.max(x, dim)``).
    out : array_like, optional
        The output of the forward call, :math:`m`, if saved (reduced shape, with or
        without kept dims); otherwise it is recomputed (one more pass over ``x``).
        An ndarray of the shape of ``x`` (where that is not a reduced shape) is instead
        the buffer the gradient is written into, as ``out=`` of every other function:
        the one keyword serves both, told apart by its shape.

    Returns
    -------
    ndarray
        The gradient with respect to ``x``: its shape, its float dtype.

    Notes
    -----
    In a slice whose maximum is nan the gradient goes to its nans (shared, or the first
    one), as a nan wins in :func:`maxpool2d`; PyTorch's ``amax`` gives nan everywhere.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([1.0, 3.0, 3.0])
    >>> fs.max_backward(1.0, x)
    array([0. , 0.5, 0.5])
    >>> fs.max_backward(1.0, x, ties="first", out=fs.max(x))   # with the saved output
    array([0., 1., 0.])
    """
    return _extreme_backward(grad, x, out, axis, ties, 1.0, "max_backward")


def min_(x, axis=-1, *, keepdims=False, ties="split", out=None):
    r"""Minimum along ``axis`` (``fastsmooth.min``); nan if the slice holds a nan.

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce; None reduces all of them.
    keepdims : bool, default False
        Keep the reduced axes with size one.
    ties : {"split", "first"}, default "split"
        As in :func:`max <max_>`: used by :func:`min_backward` only.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        In the float dtype of ``x``.

    See Also
    --------
    min_backward, numpy.min, torch.amin

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.min([[1.0, 3.0], [-2.0, 0.0]], axis=None)
    np.float64(-2.0)
    """
    return _extreme(x, axis, keepdims, ties, out, -1.0, "min")


def min_backward(grad, x, axis=-1, *, ties="split", out=None):
    r"""Vector-Jacobian product of :func:`min <min_>`: the gradient goes to the entries
    equal to the minimum ``out``, in equal shares (``ties="split"``, as ``torch.amin``)
    or all to the first one (``ties="first"``); nans win as in :func:`max_backward`.

    Parameters
    ----------
    grad : array_like
        In the reduced shape (with or without the kept dims).
    x : array_like
        The input of the forward call.
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    ties : {"split", "first"}, default "split"
        The rule for tied minima.
    out : array_like, optional
        The output of the forward call, if saved; otherwise recomputed. An ndarray of
        the shape of ``x`` (where that is not a reduced shape) is the buffer for the
        gradient instead, as in :func:`max_backward`.

    Returns
    -------
    ndarray
        The gradient with respect to ``x``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[2.0, 1.0], [1.0, 1.0]])
    >>> fs.min_backward([1.0, 1.0], x)
    array([[0. , 1. ],
           [0.5, 0.5]])
    """
    return _extreme_backward(grad, x, out, axis, ties, -1.0, "min_backward")
