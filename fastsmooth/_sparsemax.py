"""Sparsemax (Martins & Astudillo 2016) and its backward pass: the Euclidean projection
of ``x / temperature`` onto the probability simplex, a softmax with exact zeros.

Layout: a row op of the layer of :mod:`._schedules` (the worked example of
docs/developing.md): ``@jit`` bodies for one row and for a group of short rows, turned
into kernels by :func:`._schedules.tasks_kernel` and :func:`._schedules.groups_kernel`;
the public functions are :func:`._schedules.row_op` calls. Whole rows (a row is one
task), or for rows of at most ``SHORT_ROW`` elements groups of rows held as vector
lanes (the row groups of :mod:`._rowops`); by the row length only, so the result never
depends on the thread count. The per-row math: :func:`_support` (one
vectorized pass: how far the row reaches above a threshold, and how many entries do)
and the Newton iteration of :func:`_threshold` that calls it, with an exact sorting
finish (:func:`_sorted_threshold`) should the iteration run long.
"""

from __future__ import annotations

import numpy as np
from numba import uint64 as U

from ._config import REDUCTION_FASTMATH, jit
from ._rowops import GROUP, block_max, count_equal, gather_group, group_max, scatter_group
from ._schedules import groups_kernel, row_op, run, tasks_kernel
from ._registry import names_in

__all__ = names_in("sparsemax")

_F64_MAX = float(np.finfo(np.float64).max)


def _inv_t64(tau):
    """``1 / tau`` as a float64, clamped to the largest finite float64: the threshold
    math runs in float64 for every input dtype, and an infinite reciprocal would turn
    the maximum's ``0 * inv_t`` into nan (the clamp keeps the tau -> 0 limit)."""
    with np.errstate(over="ignore"):
        return min(1.0 / tau, _F64_MAX)


# ---------------------------------------------------------------------------------------
# per-row math


@jit(fastmath=REDUCTION_FASTMATH)
def _count_nan(x, n):
    """Number of nan in ``x[:n]`` (a float count; a select per element, vectorized)."""
    c = 0.0
    for i in range(U(n)):
        v = x[i]
        c += 1.0 if v != v else 0.0
    return c


@jit(fastmath=REDUCTION_FASTMATH)
def _support(x, n, m, inv_t, theta):
    """``(f, k)`` at ``theta``: ``f = sum max(d_i - theta, 0)`` (float64) and ``k`` the
    number of the scaled gaps ``d_i = (x_i - m) * inv_t`` above ``theta``. A ``max`` and
    a select, no branch: vectorized (a second select on the same comparison,
    ``s += d if on else 0``, stopped LLVM from vectorizing). Summing ``d - theta``
    rather than ``d`` adds non-negative terms, so nothing cancels; a ``-inf`` gap adds
    an exact 0."""
    f = 0.0
    k = 0.0
    mm = np.float64(m)
    for i in range(U(n)):
        d = (np.float64(x[i]) - mm) * inv_t - theta
        f += max(d, 0.0)
        k += 1.0 if d > 0.0 else 0.0
    return f, k


#: Newton steps of a row before :func:`_threshold` finishes by sorting the remaining
#: candidates. Rows of very different data took at most 10 passes at n = 4096 (the
#: number grows like log n); inputs crafted so that each step drops one entry would
#: take up to n, and the sort bounds the work by O(n log n).
NEWTON_STEPS = 24


@jit
def _threshold(x, n, m, inv_t):
    """The threshold ``theta`` of the row in gap units (``z - max z``), by Newton's
    method on ``f(theta) = sum max(d_i - theta, 0) - 1`` from ``theta = -1``.

    ``f`` is convex, piecewise linear and decreasing, and ``f(-1) >= 0`` (the maximum
    alone gives 1), so each Newton step ``theta <- theta + f(theta) / k(theta)`` stays
    left of the root and moves right; the support shrinks at every step until it stops
    changing, and then ``theta`` is exact for it (the output sums to 1). The maximum
    (``d = 0``) stays in the support, since ``theta < 0`` throughout. Rounding cannot
    make it cycle: ``theta`` is kept non-decreasing, so the support never grows.
    After :data:`NEWTON_STEPS` steps the rest is sorted (:func:`_sorted_threshold`)."""
    theta = -1.0
    f, k = _support(x, n, m, inv_t, theta)
    for _ in range(NEWTON_STEPS):
        t = theta + max(f - 1.0, 0.0) / k
        f2, k2 = _support(x, n, m, inv_t, t)
        theta = t
        if k2 == k:
            return theta
        f, k = f2, k2
    return _sorted_threshold(x, n, m, inv_t, theta)


@jit
def _sorted_threshold(x, n, m, inv_t, lower):
    """The threshold from the gaps above ``lower`` (a lower bound of it, so they hold
    the whole support) by the textbook method: sort them descending, the support is
    the longest prefix with ``1 + j d_(j) > sum_{i <= j} d_(i)``."""
    buf = np.empty(n)
    c = 0
    mm = np.float64(m)
    for i in range(n):
        d = (np.float64(x[i]) - mm) * inv_t
        if d > lower:
            buf[c] = d
            c += 1
    srt = np.sort(buf[:c])
    total = 0.0
    theta = lower
    for j in range(1, c + 1):
        v = srt[c - j]
        total += v
        if 1.0 + j * v > total:
            theta = (total - 1.0) / j
    return max(theta, lower)


@jit
def _fill(y, n, value):
    for i in range(U(n)):
        y[i] = value


@jit
def _sparsemax_row(x, inv_t, y):
    """Sparsemax of one row ``x`` into ``y``, with the special rows of the Notes."""
    n = x.size
    if n == 0:
        return
    m = block_max(x, 0, n)
    if m != m or _count_nan(x, n) > 0.0 or m == -np.inf:
        _fill(y, n, x.dtype.type(np.nan))
    elif m == np.inf:  # the limit: uniform over the +inf entries
        p = x.dtype.type(1.0 / count_equal(x, 0, n, m))
        zero = x.dtype.type(0.0)
        for i in range(U(n)):
            y[i] = p if x[i] == m else zero
    else:
        theta = _threshold(x, n, m, inv_t)
        mm = np.float64(m)
        for i in range(U(n)):
            y[i] = x.dtype.type(max((np.float64(x[i]) - mm) * inv_t - theta, 0.0))


@jit
def _sparsemax_whole(x, r, lo, hi, inv_t, y):
    _sparsemax_row(x[r], inv_t, y[r])


_sparsemax_rows = tasks_kernel(_sparsemax_whole, "_sparsemax_rows")


# Short rows (n <= SHORT_ROW): GROUP rows transposed into lanes (the row groups of
# :mod:`._rowops`), and the same Newton iteration run on all lanes at once until no
# lane's support changes. The rare special rows (nan, +-inf maximum) are redone by the
# row helper afterwards.


@jit
def _lanes_support(buf, g, m, inv_t, theta, f, k):
    """:func:`_support` of every lane ``i < g`` of ``buf`` (n, GROUP) at ``theta[i]``."""
    for i in range(U(g)):
        f[i] = 0.0
        k[i] = 0.0
    for j in range(U(buf.shape[0])):
        bj = buf[j]
        for i in range(U(g)):
            d = (np.float64(bj[i]) - m[i]) * inv_t - theta[i]
            f[i] += max(d, 0.0)
            k[i] += np.float64(d > 0.0)


@jit
def _lanes_sparsemax(buf, g, inv_t, mx, m, theta, f, k, t, live, special, out):
    """Sparsemax of the lanes of ``buf`` into ``out`` (both (n, GROUP)); ``special[i]``
    is set for the lanes the row helper must redo (their ``out`` is garbage); ``live``
    is scratch."""
    n = buf.shape[0]
    group_max(buf, g, mx)
    for i in range(U(g)):
        special[i] = 0.0
    for j in range(U(n)):
        bj = buf[j]
        for i in range(U(g)):
            v = bj[i]
            special[i] += np.float64(v != v)
    for i in range(U(g)):
        v = np.float64(mx[i])
        bad = special[i] > 0.0 or not (-np.inf < v < np.inf)
        special[i] = 1.0 if bad else 0.0
        m[i] = 0.0 if bad else v  # keeps the arithmetic of a special lane harmless
        theta[i] = -1.0
    _lanes_support(buf, g, m, inv_t, theta, f, k)
    # each lane stops stepping once its own support has settled, so that a row's result
    # does not depend on the other rows of its group (the group stepping on until every
    # lane had settled moved a settled theta by rounding, which followed the group size)
    for i in range(U(g)):
        live[i] = 0.0  # >= 0: the lane steps on (holding its last k); -1: settled
    for _ in range(n + 1):  # each step shrinks a support or ends: at most n steps
        for i in range(U(g)):
            on = live[i] >= 0.0
            t[i] = theta[i] + max(f[i] - 1.0, 0.0) / max(k[i], 1.0) if on else theta[i]
            live[i] = k[i] if on else -1.0
        _lanes_support(buf, g, m, inv_t, t, f, k)
        changed = 0.0
        for i in range(U(g)):
            theta[i] = t[i]
            moving = (live[i] >= 0.0) & (k[i] != live[i])  # supports only shrink
            live[i] = 0.0 if moving else -1.0
            changed += 1.0 if moving else 0.0
        if changed == 0.0:
            break
    for j in range(U(n)):
        bj = buf[j]
        oj = out[j]
        for i in range(U(g)):
            oj[i] = buf.dtype.type(max((np.float64(bj[i]) - m[i]) * inv_t - theta[i], 0.0))


@jit
def _lanes_scratch(x):
    n = x.shape[1]  # buf, out, mx; m, theta, f, k, t, live, special
    return (np.empty((n, GROUP), x.dtype), np.empty((n, GROUP), x.dtype), np.empty(GROUP, x.dtype), np.empty(GROUP),
            np.empty(GROUP), np.empty(GROUP), np.empty(GROUP), np.empty(GROUP), np.empty(GROUP), np.empty(GROUP))


@jit
def _sparsemax_group(x, r0, g, scratch, inv_t, y):
    buf, out, mx, m, theta, f, k, t, live, special = scratch
    gather_group(x, r0, g, buf)
    _lanes_sparsemax(buf, g, inv_t, mx, m, theta, f, k, t, live, special, out)
    scatter_group(out, r0, g, y)
    for i in range(g):
        if special[i] > 0.0:
            _sparsemax_row(x[r0 + i], inv_t, y[r0 + i])


_short_sparsemax = groups_kernel(_sparsemax_group, _lanes_scratch, "_short_sparsemax")


def _sparsemax_any(rows, tau, parallel):
    """Row groups for short rows, whole rows otherwise (by length alone, so the plan
    never depends on the thread count)."""
    y = np.empty_like(rows)
    run(rows, parallel, (_inv_t64(tau), y), short=_short_sparsemax, rows=_sparsemax_rows, whole=np.inf)
    return y


@jit(fastmath=REDUCTION_FASTMATH)
def _support_grad(g, y, n):
    """``(s, k, bad)``: the float64 sum of ``g`` over the support ``y > 0``, its size,
    and the number of nan in ``y`` (selects: a nan ``g`` off the support adds 0).
    Vectorized as AVX2/AVX-512 code; as SSE2 code (``NUMBA_CPU_NAME=generic``) LLVM
    leaves it scalar."""
    s = 0.0
    k = 0.0
    bad = 0.0
    for i in range(U(n)):
        v = y[i]
        on = v > 0.0
        s += np.float64(g[i]) if on else 0.0
        k += np.float64(on)
        bad += np.float64(v != v)
    return s, k, bad


@jit
def _sparsemax_backward_row(g, y, inv_t, dx):
    n = y.size
    if n == 0:
        return
    s, k, bad = _support_grad(g, y, n)
    if bad > 0.0:
        _fill(dx, n, y.dtype.type(np.nan))
        return
    mean = s / k if k > 0.0 else 0.0
    for i in range(U(n)):
        v = (np.float64(g[i]) - mean) * inv_t
        dx[i] = y.dtype.type(v if y[i] > 0.0 else 0.0)


@jit
def _sparsemax_backward_whole(y, r, lo, hi, g, inv_t, dx):
    _sparsemax_backward_row(g[r], y[r], inv_t, dx[r])


_sparsemax_backward_rows = tasks_kernel(_sparsemax_backward_whole, "_sparsemax_backward_rows")


def _sparsemax_backward_any(y, tau, parallel, g):
    dx = np.empty_like(y)
    _sparsemax_backward_rows(y, 1, max(y.shape[1], 1), g, _inv_t64(tau), dx, parallel=parallel)
    return dx


# ---------------------------------------------------------------------------------------
# public functions


def sparsemax(x, axis=-1, *, temperature=1.0, out=None):
    r"""Sparse one-hot argmax: the Euclidean projection of ``x / temperature`` onto the
    probability simplex along ``axis`` (Martins & Astudillo 2016).

    .. math::

        \operatorname{sparsemax}_\tau(x) = \operatorname*{arg\,min}_{p \in \Delta}
            \bigl\lVert p - x/\tau \bigr\rVert^2, \qquad
        \operatorname{sparsemax}_\tau(x)_i = \max\bigl(x_i/\tau - \theta, 0\bigr),

    with :math:`\Delta = \{p : p \ge 0, \sum_i p_i = 1\}` and the threshold
    :math:`\theta` the one number for which the result sums to 1. Unlike
    :func:`softmax`, entries far enough below the maximum get an exact 0; like it, it
    tends to :func:`hardmax` as :math:`\tau \to 0` (splitting ties evenly).

    Parameters
    ----------
    x : array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to project over.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.

    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype; returned. See
        :ref:`out-buffers`.
    Returns
    -------
    ndarray
        Same shape as ``x``, its float dtype (float16 computes in float32); non-negative
        and summing to 1 along ``axis``. It may be a non-contiguous view when ``axis`` is
        not the last axis of a C-ordered input.

    See Also
    --------
    sparsemax_backward : its vector-Jacobian product from the saved output.
    softmax : the dense smooth one-hot argmax.
    hardmax
    entmax.sparsemax : the same at :math:`\tau = 1` (PyTorch).

    Notes
    -----
    The threshold is found without sorting. With the gaps
    :math:`d_i = (x_i - m)/\tau \le 0` (:math:`m = \max_j x_j`), the threshold
    :math:`\theta' = \theta - m/\tau` is the root of the convex, decreasing, piecewise
    linear :math:`f(t) = \sum_i \max(d_i - t, 0) - 1`, and it lies in
    :math:`[-1, 0)`, because the maximum alone gives :math:`f(-1) \ge 0`. Newton's
    method from :math:`t = -1` (the iteration of Michelot 1986 and Condat 2016,
    started from the left),

    .. math::

        t \leftarrow \frac{\sum_{d_i > t} d_i - 1}{\lvert\{i : d_i > t\}\rvert},

    never overshoots: the support shrinks at each step, and once it stops changing
    :math:`t` is exact for it. Each step is one vectorized pass over the row (a sum
    of :math:`\max(d_i - t, 0)` and a count under a select, in float64): on rows of
    normal data, about 4.5 passes at 4096 entries, plus one for the maximum, one for
    nan and one to write the result (an input crafted to drop one entry per step is
    finished by sorting after 24 steps). Rows of at most 32 entries run the same iteration
    on GROUP (256) rows at once, one row per vector lane. The gaps are taken from the maximum in
    float64 for float32 inputs too, so float32 results are the float64 answer rounded,
    and huge inputs (``[1e308, -1e308]``) or tiny temperatures lose nothing. Sorting
    (the textbook :math:`O(n \log n)` method and the NumPy twin of the tests) was 6 to
    10 times slower in the benchmarks (``docs/performance.md``).

    Special values, per slice:

    * empty: an empty array;
    * any nan: nan for the whole slice;
    * ``+inf`` entries and no nan: the limit -- uniform over the ``+inf`` entries, 0
      elsewhere (as :func:`softmax`);
    * ``-inf`` entries: 0; all ``-inf``: nan (as :func:`softmax`).

    No floating-point warning is raised.

    References
    ----------
    .. [1] A. F. T. Martins and R. F. Astudillo, "From softmax to sparsemax: a sparse
       model of attention and multi-label classification", ICML 2016.
    .. [2] L. Condat, "Fast projection onto the simplex and the l1 ball", Mathematical
       Programming 158, 2016.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.sparsemax([1.0, 2.0, 3.0, 4.0, 2.0])       # exact zeros below the threshold
    array([0., 0., 0., 1., 0.])
    >>> fs.sparsemax([1.0, 2.0, 3.0, 4.0, 2.0], temperature=2.0)
    array([0.  , 0.  , 0.25, 0.75, 0.  ])
    >>> fs.sparsemax([0.1, 0.3, 0.2])
    array([0.23333333, 0.43333333, 0.33333333])
    >>> fs.sparsemax([1e308, -1e308, 1e308])           # saturating: no overflow
    array([0.5, 0. , 0.5])
    >>> fs.sparsemax([1000.0, 1.0, np.inf, np.inf])   # the +inf limit, not nan
    array([0. , 0. , 0.5, 0.5])
    """
    return row_op("sparsemax", x, axis, out, _sparsemax_any, temperature=temperature)


def sparsemax_backward(grad, y, axis=-1, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`sparsemax`, from its saved output ``y``.

    .. math::

        \frac{\partial L}{\partial x_i} = \frac{[i \in S]}{\tau}
            \Bigl(g_i - \frac{1}{\lvert S\rvert}\sum_{j \in S} g_j\Bigr),
        \qquad S = \{j : y_j > 0\}

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial y`, the shape of ``y``.
    y : array_like
        The output of :func:`sparsemax`.
    axis : int, tuple of ints or None, default -1
        As in the forward call.
    temperature : float, default 1.0
        As in the forward call.

    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype; returned. See
        :ref:`out-buffers`.
    Returns
    -------
    ndarray
        The gradient with respect to the sparsemax input; the shape of ``y``, its float
        dtype.

    See Also
    --------
    sparsemax, softmax_backward

    Notes
    -----
    The Jacobian of sparsemax is :math:`(\operatorname{diag}(s) - s s^\top/\lvert S
    \rvert)/\tau` with :math:`s` the 0/1 indicator of the support: it is symmetric, and
    off the support it is 0. Per row: one pass for the sum of ``grad`` over the
    support (float64), one to write the result (the difference taken in float64 and
    rounded once). It is the derivative wherever the support does not change under a
    small change of ``x``; at a change (an entry exactly at the threshold) it is the
    one-sided derivative of the smaller support.

    Special values, per slice: a nan in ``y`` gives nan for the slice; a nan in
    ``grad`` off the support does not reach the result (its Jacobian column is 0);
    a slice with no positive ``y`` gets 0; empty slices give empty results.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> y = fs.sparsemax([0.1, 0.3, 0.2, -2.0])
    >>> y
    array([0.23333333, 0.43333333, 0.33333333, 0.        ])
    >>> fs.sparsemax_backward([1.0, 0.0, 0.0, 5.0], y)
    array([ 0.66666667, -0.33333333, -0.33333333,  0.        ])
    >>> fs.sparsemax_backward(np.ones(4), y)           # shift invariance
    array([0., 0., 0., 0.])
    """
    return row_op("sparsemax_backward", y, axis, out, _sparsemax_backward_any, temperature=temperature, name="y",
                  extras=(("grad", grad, "like"),))
