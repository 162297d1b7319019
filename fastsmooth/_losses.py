r"""Smooth surrogate losses for accuracy, precision, recall and F-beta, their backward
passes, and :class:`FbetaAccumulator`, which makes them work across micro-batches and
workers.

The idea
--------
A hard classifier decides ``[z > 0]``; counting its decisions against the targets gives
the confusion counts TP, FP, FN, TN and from them accuracy, precision, recall and F-beta.
All of these are piecewise constant in the scores ``z``: their gradient is zero almost
everywhere. Replacing the hard decision by a soft one, :math:`p = \sigma(z / \tau)`
(sigmoid, for binary and multi-label problems) or :math:`p = \operatorname{softmax}(z /
\tau)` over the classes (multi-class), turns every count into a smooth sum over the
batch,

.. math::

    \mathrm{tp} = \sum_i p_i t_i,\quad \mathrm{fp} = \sum_i p_i (1 - t_i),\quad
    \mathrm{fn} = \sum_i (1 - p_i) t_i,\quad \mathrm{tn} = \sum_i (1 - p_i)(1 - t_i),

and every metric into a differentiable function of those four numbers. The loss is
``1 - metric``.

Two consequences shape this module. The loss is *not* a sum over samples: the F-beta of
a batch is not the mean of the F-beta of its halves, so gradient accumulation over
micro-batches, or averaging gradients of data-parallel workers, gives the wrong
gradient if every piece computes its own loss. But the gradient with respect to one
sample's ``p`` depends on the rest of the batch only through the four totals. So: sum
the soft counts over all pieces first (:meth:`FbetaAccumulator.update`,
:meth:`FbetaAccumulator.merge`), then back-propagate every piece through the totals
(:meth:`FbetaAccumulator.backward`, or ``counts=`` of the ``*_backward`` functions). The
pieces' gradients, concatenated, are the full batch's gradient.

Every metric here has the form :math:`M = A / (A + B + \epsilon)` with ``A`` and ``B``
non-negative combinations of the counts (F-beta: :math:`A = (1 + \beta^2)\,\mathrm{tp}`,
:math:`B = \beta^2 \mathrm{fn} + \mathrm{fp}`), and the loss is computed as

.. math::

    L = 1 - M = \frac{B + \epsilon}{A + B + \epsilon},

which is the same number but keeps its digits when the loss is small. ``eps`` > 0 is
the only place where the 0/0 of an empty or degenerate batch is decided: the loss of a
batch whose counts in ``A`` and ``B`` are all zero is exactly 1 and its gradient is
zero, never nan.

Layout
------
Public functions validate everything, then run one ``prange`` kernel per pass: the count
pass (soft counts, one read of logits and targets, per-task partial sums reduced
afterwards) and the gradient pass (one read, one write). Work is cut into tasks of a
fixed number of elements (:data:`PIECE`), independent of the thread count, so results
are bitwise the same on any number of threads, serial or parallel. Sigmoids are computed
stably from ``exp(-|z|)`` with the vectorizable :func:`._exp.exp`; float32 inputs are
computed in float32 and summed in float64.

The L1 loss (:func:`l1_loss`, :func:`l1_loss_backward`: the absolute error, with the
subgradient convention of ``abs_backward``) is a loss too and lives here; it runs the
element-wise binary kernels of :mod:`._elementwise` (op ``ABS_DIFF``).
"""

from __future__ import annotations

import numbers
from math import prod
from typing import NamedTuple

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import as_float_array, asarray, cast, check_temperature, finish_out, normalize_axes
from ._config import REDUCTION_FASTMATH, jit, kernel, use_parallel
# the L1 loss runs the element-wise binary kernels (op ABS_DIFF) and their operand rules
from ._elementwise import (ABS_DIFF, _binary, _binary_backward, _binary_op_backward, _binary_operands,
                           _check_share, _float_pair, _result)
from ._exp import exp
from ._arrays import inv_temperature as _inv_t, result_cast as _cast
from ._rowops import BLOCK, block_max
from ._registry import names_in

__all__ = names_in("losses") + ["SoftConfusion", "FbetaAccumulator"]

#: Elements per task of every kernel. Fixed (not derived from the thread count) so that
#: the partial sums, and therefore the results, do not depend on how many threads run.
PIECE = 1 << 16

AVERAGES = ("micro", "macro", "none")

#: The class ids passed to the softmax kernels along with one-hot labels.
_NO_LABELS = np.zeros(0, np.int64)


class SoftConfusion(NamedTuple):
    """Soft confusion counts ``(tp, fp, fn, tn)``, float64, one value per class.

    A named tuple: unpack it (``tp, fp, fn, tn = soft_confusion(...)``) or use the
    fields. ``+`` adds counts field by field (not tuple concatenation), and ``sum()``
    of a list of them works, so counts from several micro-batches or workers combine
    with ``c1 + c2``.

    See Also
    --------
    soft_confusion : makes them.
    FbetaAccumulator : keeps them over micro-batches and computes loss and gradient.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits, target = np.array([2.0, -1.0, 0.5, -3.0]), np.array([1, 0, 0, 1])
    >>> a = fs.soft_confusion(logits[:2], target[:2])
    >>> b = fs.soft_confusion(logits[2:], target[2:])
    >>> total = a + b                                   # field by field
    >>> bool(np.allclose(total, fs.soft_confusion(logits, target)))
    True
    >>> round(float(sum([a, b]).tp), 4), total._fields
    (0.9282, ('tp', 'fp', 'fn', 'tn'))
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    def __add__(self, other):
        if not isinstance(other, SoftConfusion):
            return NotImplemented
        return SoftConfusion(*(np.add(a, b) for a, b in zip(self, other)))

    def __radd__(self, other):
        if isinstance(other, numbers.Integral) and other == 0:  # sum() starts at 0
            return self
        return NotImplemented


# ---------------------------------------------------------------------------------------
# Kernels: sigmoid decisions (binary / multi-label)


@jit
def _sigmoid_pq(z, one):
    """``(p, q) = (sigmoid(z), sigmoid(-z))``, both to full relative precision (``q`` is
    not computed as ``1 - p``); ``one`` is 1 in the dtype of ``z``. ``z = -inf`` gives
    ``(0, 1)``, ``+inf`` gives ``(1, 0)``, nan gives nan."""
    e = exp(-abs(z))
    r = one / (one + e)
    s = e * r
    pos = z >= one - one
    return (r if pos else s), (s if pos else r)


@jit(fastmath=REDUCTION_FASTMATH)
def _row_counts(x, t, lo, hi, inv_t):
    """Soft ``(tp, fp, fn)`` of ``x[lo:hi]`` against ``t[lo:hi]``: summed in the
    input's dtype over blocks of :data:`._rowops.BLOCK` elements (vector speed; LLVM
    keeps several vector partial sums, so a float32 lane adds a few dozen values), the
    blocks added in float64."""
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    tp = 0.0
    fp = 0.0
    fn = 0.0
    for blo in range(lo, hi, BLOCK):
        btp = zero
        bfp = zero
        bfn = zero
        for i in range(U(blo), U(min(blo + BLOCK, hi))):
            p, q = _sigmoid_pq(x[i] * inv_t, one)
            ti = x.dtype.type(t[i])
            btp += p * ti
            bfp += p * (one - ti)
            bfn += q * ti
        tp += np.float64(btp)
        fp += np.float64(bfp)
        fn += np.float64(bfn)
    return tp, fp, fn


@kernel
def _counts_rows(x, t, inv_t, piece, out):
    """Rows layout ``(K, N)``: one class per row, samples along it. Task ``k`` sums one
    piece of one row into ``out[row, piece, :]``."""
    n_rows, n = x.shape
    pieces = out.shape[1]
    for k in prange(n_rows * pieces):
        r = k // pieces
        j = k - r * pieces
        lo = j * piece
        tp, fp, fn = _row_counts(x[r], t[r], lo, min(n, lo + piece), inv_t)
        out[r, j, 0] = tp
        out[r, j, 1] = fp
        out[r, j, 2] = fn


#: Rows summed in the input's dtype before they are added to the float64 totals (float32
#: sums of at most this many values in [0, 1] lose less than 1e-6 relative).
ROWS_BLOCK = 32
#: Classes per tile in the columns layout, so that the block sums (3 x tile) stay in L1.
CLASS_TILE = 1024


@jit
def _col_counts(x, t, lo, hi, klo, khi, inv_t, acc, blk):
    """Columns layout ``(N, K)``: the soft ``(tp, fp, fn)`` of rows ``[lo, hi)`` and
    classes ``[klo, khi)`` into ``acc[:, klo:khi]`` (float64), vectorized over the
    classes. Blocks of :data:`ROWS_BLOCK` rows are summed in ``blk`` (3, khi - klo) of
    the input's dtype first: half the memory traffic of float64 accumulators for
    float32 input, and small enough to stay in L1."""
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    width = khi - klo
    for j in range(3):
        for k in range(U(0), U(width)):
            acc[j, klo + k] = 0.0
    tp = blk[0]
    fp = blk[1]
    fn = blk[2]
    for blo in range(lo, hi, ROWS_BLOCK):
        for j in range(3):
            for k in range(U(0), U(width)):
                blk[j, k] = zero
        for i in range(blo, min(hi, blo + ROWS_BLOCK)):
            xr = x[i, klo:khi]
            tr = t[i, klo:khi]
            for k in range(U(0), U(width)):
                p, q = _sigmoid_pq(xr[k] * inv_t, one)
                ti = x.dtype.type(tr[k])
                tp[k] += p * ti
                fp[k] += p * (one - ti)
                fn[k] += q * ti
        for j in range(3):
            for k in range(U(0), U(width)):
                acc[j, klo + k] += np.float64(blk[j, k])


@kernel
def _counts_cols(x, t, inv_t, chunk, out):
    """Task ``(c, tile)``: rows ``[c chunk, (c + 1) chunk)`` and one tile of
    :data:`CLASS_TILE` classes, summed into ``out[c, :, tile]``."""
    n, n_cls = x.shape
    tiles = (n_cls + CLASS_TILE - 1) // CLASS_TILE
    for task in prange(out.shape[0] * tiles):
        c = task // tiles
        klo = (task - c * tiles) * CLASS_TILE
        khi = min(n_cls, klo + CLASS_TILE)
        lo = c * chunk
        _col_counts(x, t, lo, min(n, lo + chunk), klo, khi, inv_t, out[c], np.empty((3, khi - klo), x.dtype))


@jit
def _row_grad(x, t, lo, hi, inv_t, a, b, dz):
    """``dz = p q (a (1 - t) + b t) / tau`` on ``[lo, hi)`` of one row (one class)."""
    one = x.dtype.type(1.0)
    for i in range(U(lo), U(hi)):
        p, q = _sigmoid_pq(x[i] * inv_t, one)
        ti = x.dtype.type(t[i])
        dz[i] = (p * q) * (a * (one - ti) + b * ti) * inv_t


@kernel
def _grad_rows(x, t, inv_t, piece, pieces, a, b, dz):
    n_rows, n = x.shape
    for k in prange(n_rows * pieces):
        r = k // pieces
        lo = (k - r * pieces) * piece
        _row_grad(x[r], t[r], lo, min(n, lo + piece), inv_t, a[r], b[r], dz[r])


@kernel
def _grad_cols(x, t, inv_t, chunk, n_chunks, a, b, dz):
    n, n_cls = x.shape
    one = x.dtype.type(1.0)
    for c in prange(n_chunks):
        lo = c * chunk
        for i in range(lo, min(n, lo + chunk)):
            xr = x[i]
            tr = t[i]
            dr = dz[i]
            for k in range(U(0), U(n_cls)):
                p, q = _sigmoid_pq(xr[k] * inv_t, one)
                tk = x.dtype.type(tr[k])
                dr[k] = (p * q) * (a[k] * (one - tk) + b[k] * tk) * inv_t


# ---------------------------------------------------------------------------------------
# Kernels: softmax decisions (multi-class)


@jit(fastmath=REDUCTION_FASTMATH)
def _exp_below(x, m, inv_t, e):
    """``e[j] = exp((x[j] - m) / tau)`` for entries below the maximum ``m`` and 0 for
    the maxima; returns their sum ``t`` and the count ``c`` of maxima (``-inf``
    exponents give the exact 0, as in :func:`._rowops.block_sum_below`)."""
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    ninf = x.dtype.type(-np.inf)
    for j in range(U(0), U(x.size)):
        v = x[j]
        e[j] = exp(ninf if v == m else (v - m) * inv_t)
    # summed in a loop of its own (as ._rowops.exp_store_sum): a loop that stores and
    # sums lets LLVM align the stores by peeling, and the sum's grouping then follows
    # the address of ``e``
    t = zero
    c = zero
    for j in range(U(0), U(x.size)):
        t += e[j]
        c += one if x[j] == m else zero
    return t, c


@jit
def _softmax_row(x, inv_t, p):
    """Softmax of one row into ``p``; returns ``(m, q_top)``: the row maximum and
    ``1 - p`` at the maxima, computed from the other terms so that it keeps its digits
    when the maximum takes almost all the mass. Elsewhere ``1 - p >= 1/2`` is exact
    enough as it is. A row of all ``-inf`` (or with a nan) gives nan."""
    n = x.size
    m = block_max(x, 0, n)
    if m == -np.inf:
        for j in range(U(0), U(n)):
            p[j] = np.nan
        return m, x.dtype.type(np.nan)
    t, c = _exp_below(x, m, inv_t, p)
    s = np.float64(t) + np.float64(c)
    scale = x.dtype.type(1.0 / s)
    for j in range(U(0), U(n)):
        p[j] = scale if x[j] == m else p[j] * scale
    return m, x.dtype.type((np.float64(t) + (np.float64(c) - 1.0)) / s)


@jit
def _softmax_row_counts(x, p, m, q_top, y, label, acc):
    """Add one row's soft ``(tp, fp, fn)`` into ``acc`` (3, K). The target row is ``y``
    or, when ``y`` is None, the one-hot of the class id ``label``."""
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    tp = acc[0]
    fp = acc[1]
    fn = acc[2]
    for k in range(U(0), U(x.size)):
        pk = p[k]
        qk = q_top if x[k] == m else one - pk
        if y is None:
            yk = one if k == label else zero
        else:
            yk = x.dtype.type(y[k])
        tp[k] += pk * yk
        fp[k] += pk * (one - yk)
        fn[k] += qk * yk


@kernel
def _softmax_counts(x, labels, y, inv_t, chunk, out):
    """``labels`` (N,) class ids, or ``y`` (N, K) targets with ``labels`` empty. Rows
    are summed in blocks in the input's dtype, as in :func:`_col_counts`."""
    n, n_cls = x.shape
    for c in prange(out.shape[0]):
        acc = out[c]
        for j in range(3):
            for k in range(n_cls):
                acc[j, k] = 0.0
        p = np.empty(n_cls, x.dtype)
        blk = np.empty((3, n_cls), x.dtype)
        lo = c * chunk
        hi = min(n, lo + chunk)
        for blo in range(lo, hi, ROWS_BLOCK):
            blk[:] = 0.0
            for i in range(blo, min(hi, blo + ROWS_BLOCK)):
                m, q_top = _softmax_row(x[i], inv_t, p)
                if y is None:
                    _softmax_row_counts(x[i], p, m, q_top, None, U(labels[i]), blk)
                else:
                    _softmax_row_counts(x[i], p, m, q_top, y[i], U(0), blk)
            for j in range(3):
                for k in range(n_cls):
                    acc[j, k] += np.float64(blk[j, k])


@jit
def _weighted_dot(p, a, b, y, label):
    """``sum_k g_k p_k`` in float64, ``g_k = a_k (1 - y_k) + b_k y_k`` (``y`` None:
    one-hot of ``label``). Without ``reassoc``: it would let LLVM rewrite ``g_k`` as
    ``a_k + (b_k - a_k) y_k``, which is not ``b_k`` at ``y_k = 1``, and ``g - <g, p>``
    in :func:`_softmax_row_grad` would then be off by the last bit of ``g``."""
    s = 0.0
    one = p.dtype.type(1.0)
    for k in range(U(0), U(p.size)):
        if y is None:
            g = b[k] if k == label else a[k]
        else:
            yk = p.dtype.type(y[k])
            g = a[k] * (one - yk) + b[k] * yk
        s += np.float64(g) * np.float64(p[k])
    return s


@jit
def _softmax_row_grad(p, a, b, y, label, inv_t):
    """In place: ``p <- p (g - <g, p>) / tau`` with ``g_k = a_k (1 - y_k) + b_k y_k``,
    the difference taken in float64 and rounded once."""
    d = _weighted_dot(p, a, b, y, label)
    one = p.dtype.type(1.0)
    t = np.float64(inv_t)
    for k in range(U(0), U(p.size)):
        if y is None:
            g = b[k] if k == label else a[k]
        else:
            yk = p.dtype.type(y[k])
            g = a[k] * (one - yk) + b[k] * yk
        p[k] = np.float64(p[k]) * ((np.float64(g) - d) * t)


@kernel
def _softmax_grad(x, labels, y, inv_t, chunk, n_chunks, a, b, dz):
    n = x.shape[0]
    for c in prange(n_chunks):
        lo = c * chunk
        for i in range(lo, min(n, lo + chunk)):
            _softmax_row(x[i], inv_t, dz[i])
            if y is None:
                _softmax_row_grad(dz[i], a, b, None, U(labels[i]), inv_t)
            else:
                _softmax_row_grad(dz[i], a, b, y[i], U(0), inv_t)


# ---------------------------------------------------------------------------------------
# Validation and layout: the public layer, done before any computing kernel runs (the
# range check of the targets is itself one parallel counting pass)


def _check_average(average, fname):
    if not isinstance(average, str) or average not in AVERAGES:
        names = ", ".join(repr(a) for a in AVERAGES)
        raise ValueError(f"{fname}: `average` must be one of {names}, got {average!r}")
    return average


class _Spec(NamedTuple):
    """A checked metric: loss ``(B + eps) / (A + B + eps)`` with ``A = alpha . c``,
    ``B = beta . c`` over the counts ``c = (tp, fp, fn, tn)``."""

    alpha: tuple
    beta: tuple
    average: str
    tau: float
    eps: float


def _spec(metric, fname, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    tau = check_temperature(temperature, fname)
    eps = check_temperature(eps, fname, "eps")  # (the check of any real, finite number > 0)
    average = _check_average(average, fname)
    b = check_temperature(beta, fname, "beta")  # every metric takes it (one signature)
    if metric == "fbeta":
        b2 = b * b
        if not np.isfinite(b2):
            raise ValueError(f"{fname}: `beta` is too large (beta**2 overflows), got {beta!r}")
        return _Spec((1.0 + b2, 0.0, 0.0, 0.0), (0.0, 1.0, b2, 0.0), average, tau, eps)
    weights = {
        "accuracy": ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 1.0, 0.0)),
        "precision": ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0)),
        "recall": ((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0)),
    }[metric]
    return _Spec(*weights, average, tau, eps)


def _unit_target(target, a, fname, name):
    """``target`` checked against the logits ``a``: same shape, real, values in
    [0, 1]. Returned as ``a.dtype`` (floats; converted only if their dtype differs) or
    as uint8 (bools are viewed, integers converted), the two dtypes the kernels take."""
    t = asarray(target, fname, name)
    if t.shape != a.shape:
        raise ValueError(f"{fname}: `{name}` must have the shape of `logits` {a.shape}, got {t.shape}")
    kind = t.dtype.kind
    if kind == "b":
        return t.view(np.uint8)
    if kind not in "iuf":
        raise TypeError(f"{fname}: `{name}` must be an array of real numbers in [0, 1], got dtype {t.dtype}")
    if t.size and not _in_unit_interval(t):
        lo, hi = t.min(), t.max()
        bad = (lo if not lo >= 0 else hi).item()
        raise ValueError(f"{fname}: `{name}` must lie in [0, 1] (0/1 labels or soft labels), found {bad!r}")
    if kind in "iu":
        return t.astype(np.uint8)
    return cast(t, a.dtype)


@kernel
def _count_outside_unit(t, piece, out):
    """``out[j]``: how many elements of piece ``j`` of the flat ``t`` are not in [0, 1]
    (nan included: every comparison with nan is false)."""
    n = t.size
    for j in prange(out.size):
        lo = j * piece
        c = 0
        for i in range(U(lo), U(min(n, lo + piece))):
            v = t[i]
            c += 0 if (v >= 0.0) & (v <= 1.0) else 1
        out[j] = c


def _in_unit_interval(t):
    """Whether every value of the real array ``t`` lies in [0, 1] (validation: one
    parallel pass for contiguous float32/float64 targets, NumPy otherwise)."""
    if t.dtype in (np.float32, np.float64) and t.flags.c_contiguous:
        pieces, piece = _row_plan(t.size)
        out = np.empty(pieces, np.int64)
        _count_outside_unit(t.reshape(-1), piece, out, parallel=use_parallel(t.size))
        return not out.any()
    lo, hi = t.min(), t.max()
    return bool(lo >= 0 and hi <= 1)  # False for nan


class _Batch:
    """Checked logits and targets in the layout the kernels take.

    ``kind`` is ``"rows"`` (``x`` is ``(K, N)``: one class per row) when that view of
    the input needs no copy, or when there is one class; otherwise ``"cols"`` (``x`` is
    ``(N, K)``, C-contiguous). For softmax, ``labels`` are int64 class ids and ``t`` is
    None, or ``t`` holds (N, K) labels and ``labels`` is empty."""

    __slots__ = ("kind", "x", "t", "labels", "class_shape", "n", "out_dtype", "_restore")

    @property
    def n_classes(self):
        return prod(self.class_shape)

    def restore(self, dz):
        return _cast(self._restore(dz), self.out_dtype)


def _float_logits(logits, fname):
    a, out_dtype = as_float_array(logits, fname, "logits")
    if a.ndim == 0:
        raise ValueError(f"{fname}: `logits` must have a batch axis (at least 1 dimension), got a scalar")
    return a, out_dtype


def _sigmoid_batch(logits, target, fname, axis=0):
    a, out_dtype = _float_logits(logits, fname)
    (ax,) = normalize_axes(axis, a.ndim, fname, multiple=False)
    t = _unit_target(target, a, fname, "target")
    b = _Batch()
    b.out_dtype = out_dtype
    b.labels = None
    b.n = a.shape[ax]
    b.class_shape = a.shape[:ax] + a.shape[ax + 1:]
    k = prod(b.class_shape)
    if a.ndim == 1:  # the common calls first: (N,) ...
        b.kind = "rows"
        b.x = np.ascontiguousarray(a).reshape(1, b.n)
        b.t = np.ascontiguousarray(t).reshape(1, b.n)
        b._restore = lambda dz: dz.reshape(b.n)
        return b
    if ax == 0 and a.ndim == 2 and k > 1 and a.flags.c_contiguous:  # ... and C-ordered (N, K)
        b.kind = "cols"
        b.x = a
        b.t = np.ascontiguousarray(t)
        b._restore = lambda dz: dz
        return b
    moved = np.moveaxis(a, ax, -1)
    if k == 1 or moved.flags.c_contiguous:
        b.kind = "rows"
        b.x = np.ascontiguousarray(moved.reshape(k, b.n))
        b.t = np.ascontiguousarray(np.moveaxis(t, ax, -1).reshape(k, b.n))
        b._restore = lambda dz: np.moveaxis(dz.reshape(moved.shape), -1, ax)
    else:
        b.kind = "cols"
        b.x = np.ascontiguousarray(np.moveaxis(a, ax, 0).reshape(b.n, k))
        b.t = np.ascontiguousarray(np.moveaxis(t, ax, 0).reshape(b.n, k))
        b._restore = lambda dz: np.moveaxis(dz.reshape((b.n,) + b.class_shape), 0, ax)
    return b


def _softmax_batch(logits, labels, fname):
    a, out_dtype = _float_logits(logits, fname)
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"{fname}: `logits` must be 2-D (N, K) with K >= 1 classes, got shape {a.shape}")
    n, n_cls = a.shape
    lab = asarray(labels, fname, "labels")
    b = _Batch()
    b.kind = "softmax"
    b.out_dtype = out_dtype
    b.n = n
    b.class_shape = (n_cls,)
    b.x = np.ascontiguousarray(a)
    b._restore = lambda dz: dz
    if lab.ndim == 1:
        if lab.shape != (n,):
            raise ValueError(f"{fname}: `labels` must be class ids of shape ({n},) or one-hot of shape "
                             f"{a.shape}, got shape {lab.shape}")
        if lab.dtype.kind not in "iu":
            raise TypeError(f"{fname}: `labels` of shape (N,) must be integer class ids, got dtype "
                            f"{lab.dtype} (pass one-hot or soft labels as an (N, K) array)")
        if n and (lab.min() < 0 or lab.max() >= n_cls):
            bad = lab.min() if lab.min() < 0 else lab.max()
            raise ValueError(f"{fname}: `labels` must be class ids in [0, {n_cls}), found {bad}")
        b.labels = np.ascontiguousarray(lab, dtype=np.int64)
        b.t = None
    elif lab.ndim == 2:
        b.labels = _NO_LABELS  # (an array, not None: Numba prunes `is None` only on None)
        b.t = np.ascontiguousarray(_unit_target(lab, a, fname, "labels"))
    else:
        raise ValueError(f"{fname}: `labels` must be class ids of shape ({n},) or one-hot of shape "
                         f"{a.shape}, got shape {lab.shape}")
    return b


def _check_grad(grad, class_shape, average, fname):
    """The upstream gradient as float64: a scalar, or per class for ``average="none"``."""
    g = asarray(grad, fname, "grad")
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `grad` must be real, got dtype {g.dtype}")
    want = class_shape if average == "none" else ()
    if g.shape != want:
        what = "one value per class" if average == "none" else "a scalar"
        raise ValueError(f"{fname}: `grad` must be {what} (shape {want}) for average={average!r}, "
                         f"got shape {g.shape}")
    return g.astype(np.float64)


def _check_counts(counts, class_shape, fname):
    """Saved totals (a :class:`SoftConfusion` or any four arrays) as float64 (4, ...)."""
    try:
        c = np.asarray(tuple(counts), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{fname}: `counts` must be four real arrays (tp, fp, fn, tn), such as a "
                        f"SoftConfusion ({exc})") from None
    if c.shape != (4,) + class_shape:
        raise ValueError(f"{fname}: `counts` must be (tp, fp, fn, tn) of class shape {class_shape}, "
                         f"got an array of shape {c.shape}")
    return c


# ---------------------------------------------------------------------------------------
# The two passes and the metric arithmetic


def _row_plan(n):
    """``(pieces, piece)`` of a row of ``n`` samples."""
    return max(1, -(-n // PIECE)), PIECE


def _col_plan(n, n_cls):
    """``(chunks, chunk)``: rows per task so that a task holds about :data:`PIECE`
    elements (of at most :data:`CLASS_TILE` classes)."""
    chunk = max(1, PIECE // max(min(n_cls, CLASS_TILE), 1))
    return max(1, -(-n // chunk)), chunk


def _counts(b, tau):
    """Soft counts of a checked batch as a float64 array ``(4,) + class_shape``. The
    kernels sum tp, fp and fn; ``tn = N - tp - fp - fn`` (it enters no loss but
    accuracy, whose denominator N it completes)."""
    inv_t = _inv_t(tau, b.x.dtype)
    parallel = use_parallel(b.x.size)
    k = b.n_classes
    if b.kind == "rows":
        pieces, piece = _row_plan(b.n)
        out = np.empty((k, pieces, 3))
        _counts_rows(b.x, b.t, inv_t, piece, out, parallel=parallel)
        total = out.sum(axis=1).T
    else:
        chunks, chunk = _col_plan(b.n, k)
        out = np.empty((chunks, 3, k))
        if b.kind == "cols":
            _counts_cols(b.x, b.t, inv_t, chunk, out, parallel=parallel)
        else:
            _softmax_counts(b.x, b.labels, b.t, inv_t, chunk, out, parallel=parallel)
        total = out.sum(axis=0)
    c = np.empty((4, k))
    c[:3] = total
    c[3] = b.n - total.sum(axis=0)
    return c.reshape((4,) + b.class_shape)


def _per_class(c, spec):
    """Per-class loss ``(B + eps) / (A + B + eps)`` and its derivatives with respect to
    the four counts, ``dL/dc_j = (beta_j A - alpha_j B) / D**2`` (float64)."""
    c = np.asarray(c, np.float64)
    a = sum(w * cj for w, cj in zip(spec.alpha, c) if w)
    bb = sum(w * cj for w, cj in zip(spec.beta, c) if w) + spec.eps
    d = a + bb
    # |dL/dc| <= (1 + beta^2) / d <= (1 + beta^2) / eps: for a subnormal eps that
    # overflows, and the 0 * inf of a saturated logit would make the gradient nan.
    # Capped, the saturated logits still get exactly 0 and every other gradient stays
    # finite (a loss this flat at 0/0 has no meaningful larger slope anyway).
    with np.errstate(over="ignore"):
        ga = np.minimum(a / d / d, _GRAD_CAP)
        gb = np.minimum(bb / d / d, _GRAD_CAP)
    dc = np.stack([wb * ga - wa * gb for wa, wb in zip(spec.alpha, spec.beta)])
    return bb / d, dc


#: Cap of ``A / D**2`` and ``B / D**2`` in :func:`_per_class` (1 / eps for eps ~1e-300).
_GRAD_CAP = 1e300


def _class_axes(c):
    return tuple(range(1, c.ndim))


def _loss_and_dcounts(c, spec, g):
    """The averaged loss from totals ``c`` (4, ...) and ``dLoss/dc`` times ``g``."""
    if spec.average == "micro":
        loss, dc = _per_class(c.sum(axis=_class_axes(c)), spec)
        dc = np.broadcast_to(dc.reshape((4,) + (1,) * (c.ndim - 1)) * g, c.shape)
    else:
        loss, dc = _per_class(c, spec)
        if spec.average == "macro":
            k = max(prod(c.shape[1:]), 1)
            loss = np.mean(loss) if c.ndim > 1 else loss
            dc = dc * (g / k)
        else:
            dc = dc * g
    return loss, dc


def _loss(c, spec):
    """The averaged loss alone (the forward call: no derivatives formed). One metric
    of four totals -- micro averaging, or one class -- is computed in Python floats:
    the same float64 operations in the same order as :func:`_per_class`, so the same
    bits, without a dozen NumPy calls on arrays of four elements."""
    if spec.average == "micro" or c.ndim == 1:
        tot = (c.sum(axis=_class_axes(c)) if c.ndim > 1 else c).tolist()
        a = sum(w * cj for w, cj in zip(spec.alpha, tot) if w)
        bb = sum(w * cj for w, cj in zip(spec.beta, tot) if w) + spec.eps
        return bb / (a + bb)
    return _loss_and_dcounts(c, spec, 1.0)[0]


def _grad(b, c, spec, g):
    """The gradient pass: per class ``a = dL/dfp - dL/dtn`` (``dL/dp`` of a negative)
    and ``b = dL/dtp - dL/dfn`` (of a positive), so that ``dL/dp = a (1 - t) + b t``,
    then ``dz = dL/dp * dp/dz`` in one sweep. (Both are formed in float64 and rounded
    once: ``b`` as ``a + (b - a)`` would cancel in float32 where they nearly agree.)"""
    _, dc = _loss_and_dcounts(c, spec, g)
    dtype = b.x.dtype
    coef_a = cast((dc[1] - dc[3]).reshape(-1), dtype)
    coef_b = cast((dc[0] - dc[2]).reshape(-1), dtype)
    inv_t = _inv_t(spec.tau, dtype)
    parallel = use_parallel(b.x.size)
    dz = np.empty_like(b.x)
    if b.kind == "rows":
        pieces, piece = _row_plan(b.n)
        _grad_rows(b.x, b.t, inv_t, piece, pieces, coef_a, coef_b, dz, parallel=parallel)
    elif b.kind == "cols":
        chunks, chunk = _col_plan(b.n, b.n_classes)
        _grad_cols(b.x, b.t, inv_t, chunk, chunks, coef_a, coef_b, dz, parallel=parallel)
    else:
        chunks, chunk = _col_plan(b.n, b.n_classes)
        _softmax_grad(b.x, b.labels, b.t, inv_t, chunk, chunks, coef_a, coef_b, dz, parallel=parallel)
    return b.restore(dz)


def _classes_or_raise(b, fname):
    if b.n_classes == 0:
        raise ValueError(f"{fname}: `logits` has no classes (class shape {b.class_shape})")
    return b


def _batch(fname, logits, target, softmax):
    if softmax:
        return _softmax_batch(logits, target, fname)
    return _classes_or_raise(_sigmoid_batch(logits, target, fname), fname)


def _forward(metric, fname, logits, target, softmax=False, out=None, **params):
    spec = _spec(metric, fname, **params)
    b = _batch(fname, logits, target, softmax)
    return finish_out(_cast(np.asarray(_loss(_counts(b, spec.tau), spec)), b.out_dtype), out, fname)


def _backward(metric, fname, grad, logits, target, counts, softmax=False, out=None, **params):
    spec = _spec(metric, fname, **params)
    b = _batch(fname, logits, target, softmax)
    g = _check_grad(grad, b.class_shape, spec.average, fname)
    c = _counts(b, spec.tau) if counts is None else _check_counts(counts, b.class_shape, fname)
    return finish_out(_grad(b, c, spec, g), out, fname)


# ---------------------------------------------------------------------------------------
# Public functions. Shared parameter descriptions are filled into the docstrings.

_DOC_BLOCKS = {
    "logits_target": """\
    logits : array_like, shape (N,) or (N, K)
        Scores before the sigmoid; axis 0 is the batch. An (N, K) input is multi-label:
        K independent yes/no decisions per sample (further axes count as classes too).
    target : array_like, same shape as ``logits``
        0/1 labels or soft labels in [0, 1]; bool, int or float.""",
    "average": """\
    average : {"micro", "macro", "none"}, default "micro"
        How classes of an (N, K) input combine: ``"micro"`` adds the counts of all
        classes and computes one metric, ``"macro"`` is the mean of the per-class
        losses, ``"none"`` returns the per-class losses, shape (K,). The three agree on
        (N,) input.""",
    "beta_uniform": """\
    beta : float, default 1.0
        Accepted and checked (a finite number > 0) so that every soft metric loss takes
        the signature of :func:`soft_fbeta_loss`; this metric does not depend on it.""",
    "temperature_eps": """\
    temperature : float, default 1.0
        :math:`\\tau`, a finite number > 0: the soft decision is
        :math:`\\sigma(z / \\tau)`; as :math:`\\tau \\to 0` it tends to the hard one.
    eps : float, default 1e-7
        A finite number > 0 added to the metric's denominator; it decides 0/0 (see
        Notes).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (a 0-d array for a
        scalar loss); returned. See :ref:`out-buffers`.""",
    "softmax_logits_labels": """\
    logits : array_like, shape (N, K)
        Class scores; the probabilities are ``softmax(logits / temperature)`` over axis 1.
    labels : array_like, shape (N,) or (N, K)
        Integer class ids in [0, K), or one-hot (or soft) labels in [0, 1] of the shape
        of ``logits``.""",
    "softmax_temperature_eps": """\
    temperature : float, default 1.0
        :math:`\\tau`, a finite number > 0, of the softmax.
    eps : float, default 1e-7
        A finite number > 0 added to the metric's denominator; it decides 0/0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (a 0-d array for a
        scalar loss); returned. See :ref:`out-buffers`.""",
    "backward_grad": """\
    grad : float or array_like
        :math:`g = \\partial \\mathcal{L} / \\partial \\mathrm{loss}`: a scalar, or one
        value per class (shape (K,)) for ``average="none"``.""",
    "backward_counts": """\
    counts : SoftConfusion, optional
        The totals the loss was computed from. By default the counts of ``logits`` and
        ``target`` themselves (one extra pass). Pass the totals of a larger batch (the
        sum of the counts of all its parts, e.g. over workers) to get *this part's
        share* of the gradient of the whole batch's loss: the parts' results,
        concatenated, are the whole batch's gradient.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (a 0-d array for a
        scalar loss); returned. See :ref:`out-buffers`.""",
    "backward_returns": """\
    ndarray
        :math:`\\partial \\mathcal{L} / \\partial\\,\\mathrm{logits}`: the shape of
        ``logits``, its float dtype.""",
    "loss_returns": """\
    float or ndarray
        The loss in [0, 1]: a scalar (shape (K,) for ``average="none"``) in the float
        dtype of ``logits``.""",
}


def _backward_sections(inputs, params):
    return (f"    Parameters\n    ----------\n{_DOC_BLOCKS['backward_grad']}\n{_DOC_BLOCKS[inputs]}\n"
            f"    {params}\n        As in the forward call.\n{_DOC_BLOCKS['backward_counts']}\n\n"
            f"    Returns\n    -------\n{_DOC_BLOCKS['backward_returns']}")


_DOC_BLOCKS["sigmoid_loss_sections"] = (
    f"    Parameters\n    ----------\n{_DOC_BLOCKS['logits_target']}\n{_DOC_BLOCKS['beta_uniform']}\n"
    f"{_DOC_BLOCKS['average']}\n"
    f"{_DOC_BLOCKS['temperature_eps']}\n\n    Returns\n    -------\n{_DOC_BLOCKS['loss_returns']}"
)
for _inputs, _kind in (("logits_target", "sigmoid"), ("softmax_logits_labels", "softmax")):
    _DOC_BLOCKS[f"{_kind}_backward_sections"] = _backward_sections(_inputs, "beta, average, temperature, eps")


def _fill_doc(fn):
    doc = fn.__doc__
    for key, text in _DOC_BLOCKS.items():
        doc = doc.replace("    {" + key + "}", text)
    fn.__doc__ = doc
    return fn


def soft_confusion(logits, target, *, temperature=1.0, axis=0, out=None):
    r"""Soft confusion counts: TP, FP, FN and TN with the hard decision ``z > 0``
    replaced by the probability :math:`p = \sigma(z / \tau)`, summed over the batch.

    .. math::

        \mathrm{tp} = \sum_i p_i t_i,\quad \mathrm{fp} = \sum_i p_i (1 - t_i),\quad
        \mathrm{fn} = \sum_i (1 - p_i)\, t_i,\quad
        \mathrm{tn} = \sum_i (1 - p_i)(1 - t_i)

    Parameters
    ----------
    logits : array_like
        Scores before the sigmoid, at least 1-D.
    target : array_like, same shape as ``logits``
        0/1 labels or soft labels in [0, 1]; bool, int or float.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    axis : int, default 0
        The batch axis, summed over; every other position is a class with its own
        counts.
    out : tuple of 4 ndarray or None, optional
        Buffers for ``(tp, fp, fn, tn)``, of their exact shapes and dtype float64
        (None: allocated); returned as the SoftConfusion. See :ref:`out-buffers`.

    Returns
    -------
    SoftConfusion
        Named tuple ``(tp, fp, fn, tn)``, each float64 of the shape of ``logits``
        without ``axis`` (NumPy scalars for 1-D input). Float64 whatever the input
        dtype: these are totals that get added up further, and float32 would lose digits
        of large counts. ``tp + fp + fn + tn`` is the number of samples.

    See Also
    --------
    soft_fbeta_loss, FbetaAccumulator
    sklearn.metrics.confusion_matrix : the hard counts.

    Notes
    -----
    :math:`\sigma(z)` and :math:`1 - \sigma(z) = \sigma(-z)` are both computed from
    :math:`e^{-|z|}`, so they keep their relative precision and logits of any size
    (:math:`\pm\infty` included) give 0 and 1 exactly; a nan logit gives nan counts for
    its class. One pass over the data, no temporary of its size; the sums are float64.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([2.0, -1.0, 0.5, -3.0])
    >>> target = np.array([1, 0, 0, 1])
    >>> c = fs.soft_confusion(logits, target)
    >>> [round(float(v), 4) for v in c]                 # tp, fp, fn, tn
    [0.9282, 0.8914, 1.0718, 1.1086]
    >>> fs.soft_confusion(logits * 1e4, target)         # saturated: the hard counts
    SoftConfusion(tp=np.float64(1.0), fp=np.float64(1.0), fn=np.float64(1.0), tn=np.float64(1.0))
    >>> fs.soft_confusion(np.zeros((3, 2)), np.eye(3, 2)).tp   # per class
    array([0.5, 0.5])
    """
    fname = "soft_confusion"
    tau = check_temperature(temperature, fname)
    b = _sigmoid_batch(logits, target, fname, axis)
    return finish_out(SoftConfusion(*_counts(b, tau)), out, fname)


@_fill_doc
def soft_fbeta_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7, out=None):
    r"""Soft F-beta loss: one minus the F-beta score of the soft counts.

    .. math::

        F_\beta = \frac{(1 + \beta^2)\,\mathrm{tp}}
                       {(1 + \beta^2)\,\mathrm{tp} + \beta^2 \mathrm{fn} + \mathrm{fp} + \epsilon},
        \qquad
        \mathrm{loss} = 1 - F_\beta
            = \frac{\beta^2 \mathrm{fn} + \mathrm{fp} + \epsilon}
                   {(1 + \beta^2)\,\mathrm{tp} + \beta^2 \mathrm{fn} + \mathrm{fp} + \epsilon}

    with the counts of :func:`soft_confusion`. :math:`\beta = 1` is F1; recall weighs
    :math:`\beta` times as much as precision.

    Parameters
    ----------
    {logits_target}
    beta : float, default 1.0
        :math:`\beta`, a finite number > 0.
    {average}
    {temperature_eps}

    Returns
    -------
    {loss_returns}

    See Also
    --------
    soft_fbeta_loss_backward : its gradient.
    FbetaAccumulator : the same loss over micro-batches or workers.
    softmax_fbeta_loss : multi-class (one label per sample).
    sklearn.metrics.fbeta_score : the hard metric.

    Notes
    -----
    The loss is not a mean over samples: the F-beta of a batch is not the mean of the
    F-beta of its parts. To accumulate gradients over micro-batches or workers, use
    :class:`FbetaAccumulator` (or ``counts=`` of :func:`soft_fbeta_loss_backward`).

    ``eps`` enters once, in the denominator of :math:`F_\beta`; the loss is evaluated
    in the second form above, which is the same number but exact when it is small.
    Special cases (per class for ``"macro"``/``"none"``):

    * no positives in ``target`` (so tp = fn = 0): :math:`F_\beta = 0`, the loss is
      exactly 1 and its gradient is exactly 0, whatever the predictions (F-beta has
      nothing to reward); a macro average still counts such a class, as a constant;
    * empty batch (N = 0): loss 1;
    * logits :math:`\pm\infty` or huge: exact 0/1 decisions, zero gradient there;
    * nan in ``logits``: nan for its class (all of them for ``"micro"``).

    Never nan otherwise, thanks to ``eps`` > 0. As :math:`\tau \to 0` the loss tends
    to 1 - hard F-beta (with ``eps`` in the denominator).

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([2.0, -1.0, 0.5, -3.0])
    >>> target = np.array([1, 0, 0, 1])
    >>> float(fs.soft_fbeta_loss(logits, target))
    0.5139715...
    >>> float(fs.soft_fbeta_loss(1e4 * logits, target))   # saturated: 1 - hard F1, eps shows
    0.5000000124...
    >>> float(fs.soft_fbeta_loss(logits, np.zeros(4)))    # no positives: exactly 1
    1.0
    >>> z = np.array([[3.0, -2.0], [-1.0, 4.0], [0.0, 1.0]])
    >>> fs.soft_fbeta_loss(z, z > 0, average="none").round(4)
    array([0.3  , 0.106])
    """
    return _forward("fbeta", "soft_fbeta_loss", logits, target, beta=beta, average=average,
                    temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_fbeta_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                             eps=1e-7, counts=None, out=None):
    r"""Gradient of :func:`soft_fbeta_loss` with respect to the logits (its VJP).

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_i}
            = \frac{g}{\tau}\, p_i (1 - p_i)\,
              \Bigl(\frac{\partial L}{\partial \mathrm{fp}}
                    + t_i \bigl(\frac{\partial L}{\partial \mathrm{tp}}
                                - \frac{\partial L}{\partial \mathrm{fn}}
                                - \frac{\partial L}{\partial \mathrm{fp}}\bigr)\Bigr),
        \quad
        \frac{\partial L}{\partial \mathrm{tp}} = -\frac{(1 + \beta^2) B}{D^2},\
        \frac{\partial L}{\partial \mathrm{fn}} = \frac{\beta^2 A}{D^2},\
        \frac{\partial L}{\partial \mathrm{fp}} = \frac{A}{D^2}

    with :math:`A = (1 + \beta^2)\,\mathrm{tp}`, :math:`B = \beta^2 \mathrm{fn} +
    \mathrm{fp} + \epsilon`, :math:`D = A + B`, per class (``"micro"``: of the summed
    counts; ``"macro"``: times 1/K).

    {sigmoid_backward_sections}

    Notes
    -----
    One pass for the counts (skipped when ``counts`` is given), one pass for the
    gradient; the gradient of a sample depends on the rest of the batch only through
    the totals.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([2.0, -1.0, 0.5, -3.0])
    >>> target = np.array([1, 0, 0, 1])
    >>> fs.soft_fbeta_loss_backward(1.0, logits, target).round(4)
    array([-0.0416,  0.025 ,  0.0299, -0.0179])

    Two halves of the batch, each back-propagated through the totals, give the
    full gradient:

    >>> total = fs.soft_confusion(logits[:2], target[:2]) + fs.soft_confusion(logits[2:], target[2:])
    >>> parts = [fs.soft_fbeta_loss_backward(1.0, logits[s], target[s], counts=total)
    ...          for s in (slice(0, 2), slice(2, 4))]
    >>> np.concatenate(parts).round(4)
    array([-0.0416,  0.025 ,  0.0299, -0.0179])
    """
    return _backward("fbeta", "soft_fbeta_loss_backward", grad, logits, target, counts, beta=beta,
                     average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_precision_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7, out=None):
    r"""Soft precision loss: one minus the precision of the soft counts.

    .. math::

        \mathrm{loss} = 1 - \frac{\mathrm{tp}}{\mathrm{tp} + \mathrm{fp} + \epsilon}
                      = \frac{\mathrm{fp} + \epsilon}{\mathrm{tp} + \mathrm{fp} + \epsilon}

    {sigmoid_loss_sections}

    See Also
    --------
    soft_precision_loss_backward : its gradient.
    soft_fbeta_loss : precision is its limit as beta -> 0.

    Notes
    -----
    Precision only looks at predicted positives: it can be made small by predicting
    almost nothing positive, so it is usually combined with a recall term. A batch
    with no positive targets has precision 0, loss exactly 1 and zero gradient;
    logits all :math:`-\infty` give 0/0, decided by ``eps``: loss 1.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([2.0, -1.0, 0.5, -3.0])
    >>> float(fs.soft_precision_loss(logits, [1, 0, 0, 1]))
    0.4898819...
    """
    return _forward("precision", "soft_precision_loss", logits, target, beta=beta, average=average,
                    temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_precision_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                                 eps=1e-7, counts=None, out=None):
    r"""Gradient of :func:`soft_precision_loss` with respect to the logits.

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_i} = \frac{g}{\tau}\, p_i (1 - p_i)\,
            \frac{\mathrm{tp} - t_i\,(\mathrm{tp} + \mathrm{fp} + \epsilon)}{D^2},
        \qquad D = \mathrm{tp} + \mathrm{fp} + \epsilon

    {sigmoid_backward_sections}

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.soft_precision_loss_backward(1.0, [2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]).round(4)
    array([-0.0283,  0.0551,  0.0659, -0.0122])
    """
    return _backward("precision", "soft_precision_loss_backward", grad, logits, target, counts,
                     beta=beta, average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_recall_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7, out=None):
    r"""Soft recall loss: one minus the recall of the soft counts.

    .. math::

        \mathrm{loss} = 1 - \frac{\mathrm{tp}}{\mathrm{tp} + \mathrm{fn} + \epsilon}
                      = \frac{\mathrm{fn} + \epsilon}{\mathrm{tp} + \mathrm{fn} + \epsilon}

    {sigmoid_loss_sections}

    See Also
    --------
    soft_recall_loss_backward : its gradient.
    soft_fbeta_loss : recall is its limit as beta -> infinity.

    Notes
    -----
    :math:`\mathrm{tp} + \mathrm{fn} = \sum_i t_i` does not depend on the predictions,
    so this loss is a mean over the positive samples: the one metric here that *is* a
    sum over samples. Predicting everything positive minimises it. A batch with no
    positives gives 0/0, decided by ``eps``: loss 1, zero gradient.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> float(fs.soft_recall_loss([2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]))
    0.5358885...
    """
    return _forward("recall", "soft_recall_loss", logits, target, beta=beta, average=average,
                    temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_recall_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                              eps=1e-7, counts=None, out=None):
    r"""Gradient of :func:`soft_recall_loss` with respect to the logits.

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_i} = -\frac{g}{\tau}\, p_i (1 - p_i)\,
            \frac{t_i}{\mathrm{tp} + \mathrm{fn} + \epsilon}

    (the counts enter only through :math:`\mathrm{tp} + \mathrm{fn} = \sum_i t_i`).

    {sigmoid_backward_sections}

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.soft_recall_loss_backward(1.0, [2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]).round(4)
    array([-0.0525,  0.    ,  0.    , -0.0226])
    """
    return _backward("recall", "soft_recall_loss_backward", grad, logits, target, counts,
                     beta=beta, average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_accuracy_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7, out=None):
    r"""Soft accuracy loss: one minus the accuracy of the soft counts.

    .. math::

        \mathrm{loss} = 1 - \frac{\mathrm{tp} + \mathrm{tn}}
                                 {\mathrm{tp} + \mathrm{fp} + \mathrm{fn} + \mathrm{tn} + \epsilon}
                      = \frac{\mathrm{fp} + \mathrm{fn} + \epsilon}{N + \epsilon}

    (the four counts add up to the number of samples N). It is the mean over samples
    of :math:`p_i (1 - t_i) + (1 - p_i)\, t_i`, the probability of a wrong decision.

    {sigmoid_loss_sections}

    See Also
    --------
    soft_accuracy_loss_backward : its gradient.
    softmax_accuracy_loss : multi-class.

    Notes
    -----
    For (N, K) input, ``"micro"`` is the fraction of wrong decisions among all N K;
    it equals ``"macro"`` (every class has N decisions) up to ``eps``. An empty batch
    gives 1. Unlike F-beta, accuracy rewards the majority class: on imbalanced data it
    is a weak training signal for the minority class.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> float(fs.soft_accuracy_loss([2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]))
    0.4907944...
    """
    return _forward("accuracy", "soft_accuracy_loss", logits, target, beta=beta, average=average,
                    temperature=temperature, eps=eps, out=out)


@_fill_doc
def soft_accuracy_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                                eps=1e-7, counts=None, out=None):
    r"""Gradient of :func:`soft_accuracy_loss` with respect to the logits.

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_i} = \frac{g}{\tau}\, p_i (1 - p_i)\,
            \frac{1 - 2 t_i}{N + \epsilon}

    {sigmoid_backward_sections}

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.soft_accuracy_loss_backward(1.0, [2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]).round(4)
    array([-0.0262,  0.0492,  0.0588, -0.0113])
    """
    return _backward("accuracy", "soft_accuracy_loss_backward", grad, logits, target, counts,
                     beta=beta, average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def softmax_fbeta_loss(logits, labels, *, beta=1.0, average="macro", temperature=1.0, eps=1e-7, out=None):
    r"""Multi-class soft F-beta loss: the counts of each class from softmax
    probabilities, then one minus F-beta, averaged over the classes.

    .. math::

        p_{ik} = \operatorname{softmax}(z_i / \tau)_k,\quad
        \mathrm{tp}_k = \sum_i p_{ik} y_{ik},\
        \mathrm{fp}_k = \sum_i p_{ik} (1 - y_{ik}),\
        \mathrm{fn}_k = \sum_i (1 - p_{ik})\, y_{ik},

    and :math:`F_\beta` of each class as in :func:`soft_fbeta_loss`, with
    :math:`y_{ik}` the one-hot labels.

    Parameters
    ----------
    {softmax_logits_labels}
    beta : float, default 1.0
        :math:`\beta`, a finite number > 0.
    average : {"macro", "micro", "none"}, default "macro"
        ``"macro"``: mean over the K classes of the per-class losses; ``"none"``: the
        per-class losses, shape (K,); ``"micro"``: one F-beta of the counts summed over
        classes.
    {softmax_temperature_eps}

    Returns
    -------
    float or ndarray
        The loss in [0, 1], in the float dtype of ``logits`` (shape (K,) for
        ``"none"``).

    See Also
    --------
    softmax_fbeta_loss_backward : its gradient.
    softmax_accuracy_loss, soft_fbeta_loss
    sklearn.metrics.f1_score : the hard metric (``average="macro"``).

    Notes
    -----
    The default is ``"macro"`` (unlike :func:`soft_fbeta_loss`) because with one label
    per sample every miss is one false positive and one false negative, so micro
    F-beta equals the accuracy for every beta (:func:`softmax_accuracy_loss`, up to
    ``eps``). A class absent from the batch has F-beta 0: it adds a constant 1/K to
    the macro loss and nothing to the gradient. ``1 - p`` at a row's largest
    probability is computed from the other terms, so it keeps its digits when the
    model is confident. A row of all ``-inf`` or with a nan gives nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    >>> labels = np.array([0, 1, 2, 0])
    >>> float(fs.softmax_fbeta_loss(logits, labels))
    0.3356461...
    >>> fs.softmax_fbeta_loss(logits, np.eye(3)[labels], average="none").round(4)   # one-hot
    array([0.353 , 0.4876, 0.1663])
    """
    return _forward("fbeta", "softmax_fbeta_loss", logits, labels, softmax=True, beta=beta,
                    average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def softmax_fbeta_loss_backward(grad, logits, labels, *, beta=1.0, average="macro", temperature=1.0,
                                eps=1e-7, counts=None, out=None):
    r"""Gradient of :func:`softmax_fbeta_loss` with respect to the logits.

    With :math:`G_{ik} = \partial L / \partial p_{ik}` from the per-class derivatives of
    :func:`soft_fbeta_loss_backward` (:math:`G_{ik} = \partial L/\partial
    \mathrm{fp}_k + y_{ik} (\partial L/\partial \mathrm{tp}_k - \partial L/\partial
    \mathrm{fn}_k - \partial L/\partial \mathrm{fp}_k)`), the softmax VJP:

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_{ik}} = \frac{g}{\tau}\, p_{ik}
            \Bigl(G_{ik} - \sum_j G_{ij}\, p_{ij}\Bigr)

    {softmax_backward_sections}

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    >>> fs.softmax_fbeta_loss_backward(1.0, logits, [0, 1, 2, 0]).round(3)
    array([[-0.029,  0.019,  0.01 ],
           [ 0.037, -0.068,  0.031],
           [ 0.01 ,  0.01 , -0.02 ],
           [-0.039,  0.03 ,  0.009]])
    """
    return _backward("fbeta", "softmax_fbeta_loss_backward", grad, logits, labels, counts,
                     softmax=True, beta=beta, average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def softmax_accuracy_loss(logits, labels, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7, out=None):
    r"""Multi-class soft accuracy loss: one minus the expected accuracy under the
    softmax probabilities; ``average="macro"`` gives balanced accuracy.

    .. math::

        \mathrm{loss}_{\text{micro}} = \frac{\sum_k \mathrm{fn}_k + \epsilon}
                                            {\sum_k (\mathrm{tp}_k + \mathrm{fn}_k) + \epsilon}
            \approx 1 - \frac{1}{N} \sum_i p_{i, y_i},
        \qquad
        \mathrm{loss}_k = \frac{\mathrm{fn}_k + \epsilon}{\mathrm{tp}_k + \mathrm{fn}_k + \epsilon}

    with the per-class counts of :func:`softmax_fbeta_loss`. Micro is the fraction of
    probability mass off the true class (the recall of all samples together, which for
    one label per sample is the accuracy); macro is the mean over classes of the
    per-class recall losses, i.e. one minus the balanced accuracy.

    Parameters
    ----------
    {softmax_logits_labels}
    {beta_uniform}
    average : {"micro", "macro", "none"}, default "micro"
        ``"micro"``: accuracy; ``"macro"``: balanced accuracy (mean per-class recall);
        ``"none"``: the per-class recall losses, shape (K,).
    {softmax_temperature_eps}

    Returns
    -------
    float or ndarray
        The loss in [0, 1], in the float dtype of ``logits``.

    See Also
    --------
    softmax_accuracy_loss_backward : its gradient.
    sklearn.metrics.accuracy_score, sklearn.metrics.balanced_accuracy_score

    Notes
    -----
    Micro accuracy *is* a mean over samples (:math:`\sum_k (\mathrm{tp}_k +
    \mathrm{fn}_k) = N` for one-hot labels), so it accumulates over micro-batches like
    any per-sample loss. A class absent from the batch has recall 0/0 = 0 (``eps``):
    a constant 1/K in the macro loss, no gradient. Cross-entropy is usually the better
    training loss for accuracy; this one is bounded, so outliers cannot dominate it.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    >>> float(fs.softmax_accuracy_loss(logits, [0, 1, 2, 0]))
    0.3433755...
    >>> float(fs.softmax_accuracy_loss(1e4 * logits, [0, 1, 2, 0]))   # hard: 3 of 4 right
    0.2500000187...
    """
    return _forward("recall", "softmax_accuracy_loss", logits, labels, softmax=True, beta=beta,
                    average=average, temperature=temperature, eps=eps, out=out)


@_fill_doc
def softmax_accuracy_loss_backward(grad, logits, labels, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
                                   counts=None, out=None):
    r"""Gradient of :func:`softmax_accuracy_loss` with respect to the logits.

    .. math::

        \frac{\partial \mathcal{L}}{\partial z_{ik}} = -\frac{g}{\tau}\, w_{y_i}\,
            p_{i y_i} \bigl([k = y_i] - p_{ik}\bigr),
        \qquad w = \frac{1}{N + \epsilon}\ \text{(micro)}

    (for macro, :math:`w_c = 1 / (K (\mathrm{tp}_c + \mathrm{fn}_c + \epsilon))`);
    written for class ids, with one-hot labels likewise.

    {softmax_backward_sections}

    Examples
    --------
    >>> import fastsmooth as fs
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    >>> fs.softmax_accuracy_loss_backward(1.0, logits, [0, 1]).round(4)
    array([[-0.0659,  0.0482,  0.0177],
           [ 0.0727, -0.1167,  0.0441]])
    """
    return _backward("recall", "softmax_accuracy_loss_backward", grad, logits, labels, counts,
                     softmax=True, beta=beta, average=average, temperature=temperature, eps=eps, out=out)


# ---------------------------------------------------------------------------------------
# FbetaAccumulator


class FbetaAccumulator:
    r"""Soft F-beta loss over micro-batches and workers: accumulate the soft counts
    first, then back-propagate every piece through the totals.

    The F-beta of a batch is not a sum over its samples, so adding up the gradients of
    per-micro-batch losses (gradient accumulation) or averaging those of data-parallel
    workers gives the wrong gradient. It depends on the rest of the batch only through
    the four soft counts, though, and counts add up. The recipe, per optimizer step:

    1. ``update(logits, target)`` for each micro-batch: adds its counts (nothing else
       is kept; no gradient tape needed);
    2. ``merge`` the accumulators of the workers into one (or add them: ``sum(accs)``),
       if there are several;
    3. ``loss()`` is the loss of the whole batch;
    4. ``backward(logits, target)`` for each micro-batch (recompute or keep its
       logits): its exact share of the whole batch's gradient. Concatenated, the
       shares equal ``soft_fbeta_loss_backward`` of the whole batch, to rounding;
    5. ``reset()`` before the next step.

    Parameters
    ----------
    beta : float, default 1.0
        :math:`\beta` of F-beta, a finite number > 0.
    average : {"micro", "macro", "none"}, default "micro"
        As in :func:`soft_fbeta_loss` (or :func:`softmax_fbeta_loss`).
    n_classes : int, optional
        Number of classes K; logits must then be (N, K). By default the class shape is
        taken from the first ``update``: () for (N,) logits, (K,) for (N, K).
    temperature : float, default 1.0
        :math:`\tau` of the soft decision.
    eps : float, default 1e-7
        As in :func:`soft_fbeta_loss`.
    activation : {"sigmoid", "softmax"}, default "sigmoid"
        ``"sigmoid"``: binary / multi-label, the loss of :func:`soft_fbeta_loss` with
        0/1 or soft targets. ``"softmax"``: multi-class, the loss of
        :func:`softmax_fbeta_loss`, with class ids or one-hot labels as targets (pick
        ``average="macro"`` there: micro F-beta is then the accuracy).

    Attributes
    ----------
    counts : SoftConfusion or None
        The accumulated totals (a copy), None before the first update.
    n_samples : int
        Samples counted since the last reset.

    See Also
    --------
    soft_fbeta_loss, soft_fbeta_loss_backward, soft_confusion

    Notes
    -----
    ``a.merge(b)`` adds the counts of ``b`` into ``a`` in place and returns ``a``
    (``b`` is unchanged). ``a + b`` and ``sum(accumulators)`` give a new accumulator
    and leave the operands unchanged, so they fit any reduction (``functools.reduce``,
    a tree all-reduce); the sum is commutative exactly and associative to rounding.
    Accumulators pickle, so workers can send them. Calling ``loss`` or ``backward``
    before any ``update``, or merging accumulators of different settings, raises.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> rng = np.random.default_rng(0)
    >>> logits, target = rng.normal(size=12), rng.random(12) < 0.3
    >>> acc = fs.FbetaAccumulator(beta=1.0)
    >>> for s in (slice(0, 5), slice(5, 12)):           # two micro-batches
    ...     _ = acc.update(logits[s], target[s])
    >>> bool(np.isclose(acc.loss(), fs.soft_fbeta_loss(logits, target)))
    True
    >>> grad = np.concatenate([acc.backward(logits[s], target[s])
    ...                        for s in (slice(0, 5), slice(5, 12))])
    >>> bool(np.allclose(grad, fs.soft_fbeta_loss_backward(1.0, logits, target)))
    True

    Two workers, each with half the batch:

    >>> a = fs.FbetaAccumulator().update(logits[:6], target[:6])
    >>> b = fs.FbetaAccumulator().update(logits[6:], target[6:])
    >>> total = a + b                 # a new accumulator; a.merge(b) would add into a
    >>> bool(np.isclose(total.loss(), acc.loss())), total.n_samples, a.n_samples
    (True, 12, 6)
    >>> a.merge(b) is a, a.n_samples
    (True, 12)
    """

    def __init__(self, beta=1.0, average="micro", n_classes=None, *, temperature=1.0, eps=1e-7,
                 activation="sigmoid"):
        fname = "FbetaAccumulator"
        if not isinstance(activation, str) or activation not in ("sigmoid", "softmax"):
            raise ValueError(f"{fname}: `activation` must be 'sigmoid' or 'softmax', got {activation!r}")
        self._spec = _spec("fbeta", fname, beta=beta, average=average, temperature=temperature, eps=eps)
        if n_classes is not None:
            if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, numbers.Integral):
                raise TypeError(f"{fname}: `n_classes` must be an int or None, got {n_classes!r}")
            if n_classes < 1:
                raise ValueError(f"{fname}: `n_classes` must be >= 1, got {n_classes!r}")
            n_classes = int(n_classes)
        self._beta = float(beta)
        self._n_classes = n_classes
        self._activation = activation
        self.reset()

    beta = property(lambda self: self._beta, doc="beta of F-beta.")
    average = property(lambda self: self._spec.average, doc="How classes are averaged.")
    n_classes = property(lambda self: self._n_classes, doc="The fixed number of classes, or None.")
    temperature = property(lambda self: self._spec.tau, doc="Temperature of the soft decision.")
    eps = property(lambda self: self._spec.eps, doc="eps of the F-beta denominator.")
    activation = property(lambda self: self._activation, doc="'sigmoid' or 'softmax'.")

    @classmethod
    def from_counts(cls, counts, n_samples, *, beta=1.0, average="micro", n_classes=None,
                    temperature=1.0, eps=1e-7, activation="sigmoid"):
        """An accumulator holding totals summed elsewhere: ``counts`` (tp, fp, fn, tn) --
        a :class:`SoftConfusion`, or four arrays of the class shape -- over
        ``n_samples`` samples, e.g. reduced over workers by MPI or by
        :func:`fastsmooth.dask.soft_confusion`. The other arguments are those of the
        constructor.

        >>> import fastsmooth as fs
        >>> z, t = np.array([2.0, -1.0, 0.5]), np.array([1, 0, 1])
        >>> acc = fs.FbetaAccumulator.from_counts(fs.soft_confusion(z, t), 3)
        >>> bool(np.isclose(acc.loss(), fs.soft_fbeta_loss(z, t)))
        True
        """
        fname = "FbetaAccumulator.from_counts"
        acc = cls(beta, average, n_classes, temperature=temperature, eps=eps, activation=activation)
        try:
            c = np.asarray(tuple(counts), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{fname}: `counts` must be four real arrays (tp, fp, fn, tn), such as a "
                            f"SoftConfusion ({exc})") from None
        if c.ndim < 1 or c.shape[0] != 4:
            raise ValueError(f"{fname}: `counts` must be (tp, fp, fn, tn), each a scalar or an array "
                             f"of the class shape, got an array of shape {c.shape}")
        class_shape = c.shape[1:]
        if n_classes is not None and (len(class_shape) != 1 or class_shape[0] != n_classes):
            raise ValueError(f"{fname}: `counts` hold class shape {class_shape}, but n_classes={n_classes}")
        if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, numbers.Integral) \
                or n_samples < 0:
            raise ValueError(f"{fname}: `n_samples` must be an int >= 0, got {n_samples!r}")
        acc._counts = c
        acc._class_shape = class_shape
        acc.n_samples = int(n_samples)
        return acc

    def _settings(self):
        return {"activation": self._activation, "beta": self._beta, "average": self.average,
                "n_classes": self._n_classes, "temperature": self.temperature, "eps": self.eps}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"FbetaAccumulator({args}; n_samples={self.n_samples})"

    @property
    def counts(self):
        if self._counts is None:
            return None
        return SoftConfusion(*self._counts.copy())

    def reset(self):
        """Forget all counts (keep the settings); returns ``self``."""
        self._counts = None
        self._class_shape = None if self._n_classes is None else (self._n_classes,)
        self.n_samples = 0
        return self

    def _batch(self, logits, target, fname):
        b = _batch(fname, logits, target, self._activation == "softmax")
        if self._class_shape is not None and b.class_shape != self._class_shape:
            raise ValueError(
                f"{fname}: `logits` of shape {np.shape(logits)} have class shape {b.class_shape}, but this "
                f"accumulator counts class shape {self._class_shape}"
            )
        return b

    def update(self, logits, target):
        """Add the soft counts of one micro-batch; returns ``self``.

        ``logits`` and ``target`` as in :func:`soft_fbeta_loss` (``activation =
        "sigmoid"``) or :func:`softmax_fbeta_loss` (``"softmax"``). Only the counts
        are kept."""
        b = self._batch(logits, target, "FbetaAccumulator.update")
        c = _counts(b, self._spec.tau)
        if self._counts is None:
            self._counts = c
            self._class_shape = b.class_shape
        else:
            self._counts += c
        self.n_samples += b.n
        return self

    def _require_counts(self, fname):
        if self._counts is None:
            raise RuntimeError(f"{fname}: no counts yet; call update() with every micro-batch of the "
                               "step first (or merge() accumulators that have some)")

    def loss(self):
        """The soft F-beta loss of everything accumulated: float64, a scalar or (for
        ``average="none"``) one value per class."""
        self._require_counts("FbetaAccumulator.loss")
        return _loss(self._counts, self._spec)

    def backward(self, logits, target, grad=None):
        """This micro-batch's share of the gradient of :meth:`loss` with respect to its
        logits: the gradient of the loss of the totals, restricted to these samples.

        Call it after every micro-batch of the step went through :meth:`update` (and
        workers were merged). ``grad`` is the upstream gradient of the loss: a scalar,
        or one value per class for ``average="none"``; by default 1 for each loss
        value. Returns the shape and float dtype of ``logits``."""
        fname = "FbetaAccumulator.backward"
        self._require_counts(fname)
        b = self._batch(logits, target, fname)
        if grad is None:
            grad = np.ones(self._class_shape) if self.average == "none" else 1.0
        g = _check_grad(grad, self._class_shape, self.average, fname)
        return _grad(b, self._counts, self._spec, g)

    def _check_mergeable(self, other, fname):
        if not isinstance(other, FbetaAccumulator):
            raise TypeError(f"{fname}: can only merge another FbetaAccumulator, got {type(other).__name__}")
        mine, theirs = self._settings(), other._settings()
        for key in mine:
            if mine[key] != theirs[key]:
                raise ValueError(f"{fname}: accumulators differ in `{key}`: {mine[key]!r} != {theirs[key]!r}")
        if self._class_shape is not None and other._class_shape is not None \
                and self._class_shape != other._class_shape:
            raise ValueError(f"{fname}: accumulators count different class shapes: {self._class_shape} "
                             f"!= {other._class_shape}")

    def merge(self, other):
        """Add the counts of ``other`` into ``self`` (in place, as Spark's
        ``AccumulatorV2.merge`` and torchmetrics' ``merge_state``); returns ``self``.
        ``other`` is left unchanged. Both must have the same settings; either may be
        empty. For a new accumulator, leaving both unchanged, use ``a + b`` (or
        ``sum(accumulators)``)."""
        self._check_mergeable(other, "FbetaAccumulator.merge")
        if other._counts is not None:
            # a new array: never shares memory with `other` (nor with itself, a.merge(a))
            self._counts = other._counts.copy() if self._counts is None else self._counts + other._counts
            self._class_shape = other._class_shape if self._class_shape is None else self._class_shape
        self.n_samples = self.n_samples + other.n_samples
        return self

    def copy(self):
        """An independent accumulator with the same settings and counts."""
        out = FbetaAccumulator(self._beta, self.average, self._n_classes, temperature=self.temperature,
                               eps=self.eps, activation=self._activation)
        out._counts = None if self._counts is None else self._counts.copy()
        out._class_shape = self._class_shape
        out.n_samples = self.n_samples
        return out

    def __add__(self, other):
        """``a + b``: a new accumulator with the counts of both (both unchanged)."""
        if not isinstance(other, FbetaAccumulator):
            return NotImplemented
        self._check_mergeable(other, "FbetaAccumulator.__add__")
        return self.copy().merge(other)

    def __radd__(self, other):
        """``0 + a`` (the start of ``sum(accumulators)``) is a copy of ``a``."""
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self.copy()
        return NotImplemented


# ---------------------------------------------------------------------------------------
# The L1 loss (the element-wise kernels, op ABS_DIFF)

_REDUCTIONS = ("mean", "sum", "none")


def _l1_operands(input, target, reduction, fname):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{fname}: `reduction` must be one of {_REDUCTIONS}, got {reduction!r}"
        )
    xa, ta, out_dtype = _float_pair(input, target, fname)
    if xa.shape != ta.shape:
        raise ValueError(
            f"{fname}: `target` must have the shape of `input` {xa.shape}, got {ta.shape}"
        )
    return xa, ta, out_dtype


def l1_loss(input, target, reduction="mean", *, out=None):
    r"""L1 loss: the absolute error, averaged (or summed) over all elements.

    .. math::

        \ell = \frac{1}{n} \sum_i |x_i - t_i| \quad (\texttt{"mean"}), \qquad
        \sum_i |x_i - t_i| \quad (\texttt{"sum"}), \qquad
        |x - t| \quad (\texttt{"none"})

    Parameters
    ----------
    input : array_like
        Predictions :math:`x`.
    target : array_like
        Targets :math:`t`, the shape of ``input``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As ``torch.nn.functional.l1_loss``.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    scalar or ndarray
        A scalar for "mean" and "sum" (the mean of no elements is nan), else the
        element-wise errors.

    See Also
    --------
    l1_loss_backward : its gradient, with the value chosen where ``input == target``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> float(fs.l1_loss([1.0, 2.0, 4.0], [1.0, 0.0, 5.0]))
    1.0
    >>> fs.l1_loss([1.0, 2.0, 4.0], [1.0, 0.0, 5.0], reduction="none")
    array([0., 2., 1.])
    """
    fname = "l1_loss"
    xa, ta, out_dtype = _l1_operands(input, target, reduction, fname)
    xf, tf, order = _binary_operands(xa, ta, xa.shape, scalar_ok=False)
    err = np.empty_like(xf)
    _binary(ABS_DIFF, xf, tf, xf.dtype.type(1.0), xf.dtype.type(1.0), err,
            parallel=use_parallel(err.size))
    if reduction == "none":
        return finish_out(_result(err, out_dtype, xa.shape, order), out, fname)
    with np.errstate(over="ignore"):
        total = err.sum(dtype=np.float64)
        if reduction == "mean":
            if not err.size:
                total = np.nan
            elif np.isinf(total) and np.isfinite(err).all():
                # the sum overflowed but the mean does not: sum the shares instead
                total = (err / np.float64(err.size)).sum(dtype=np.float64)
            else:
                total = total / err.size
    return finish_out(_result(np.asarray(total), out_dtype), out, fname)


def l1_loss_backward(grad, input, target, reduction="mean", at_zero=0.0, *, out=None):
    r"""Gradient of :func:`l1_loss` with respect to ``input``.

    .. math::

        \frac{\partial \ell}{\partial x_i} = \frac{g}{n}\, s_i \ (\texttt{"mean"}),\quad
        g\, s_i \ (\texttt{"sum"}),\quad g_i\, s_i \ (\texttt{"none"}), \qquad
        s_i = \begin{cases} \operatorname{sign}(x_i - t_i) & x_i \ne t_i \\
                            \alpha & x_i = t_i \end{cases}

    Parameters
    ----------
    grad : float or array_like
        :math:`g`: a scalar for "mean" and "sum", the shape of ``input`` for "none".
    input, target, reduction
        As in the forward call.
    at_zero : float, default 0.0
        :math:`\alpha \in [-1, 1]` where ``input == target`` (PyTorch: 0).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray
        The gradient with respect to ``input``; the gradient with respect to
        ``target`` is its negative.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.l1_loss_backward(1.0, [1.0, 2.0, 4.0], [1.0, 0.0, 5.0])
    array([ 0.        ,  0.33333333, -0.33333333])
    """
    fname = "l1_loss_backward"
    xa, ta, out_dtype = _l1_operands(input, target, reduction, fname)
    at_zero = _check_share(at_zero, -1.0, 1.0, fname, "at_zero")
    if reduction == "none":
        gx, _ = _binary_op_backward(ABS_DIFF, grad, xa, ta, fname, tie=at_zero)
        return finish_out(_result(gx, out_dtype), out, fname)  # xa, ta compute in float32 for float16
    g = asarray(grad, fname, "grad")
    if g.size != 1 or g.ndim > 1:
        raise ValueError(f"{fname}: `grad` must be a scalar for reduction={reduction!r}, got shape {g.shape}")
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `grad` must be real, got dtype {g.dtype}")
    scale = float(g.reshape(())) / (xa.size if reduction == "mean" and xa.size else 1)
    xf, tf, order = _binary_operands(xa, ta, xa.shape, scalar_ok=False)
    gx = np.empty_like(xf)
    gt = np.empty_like(xf)
    _binary_backward(
        ABS_DIFF, np.full(1, scale, xf.dtype), xf, tf, xf.dtype.type(at_zero),
        xf.dtype.type(1.0), gx, gt, parallel=use_parallel(xf.size),
    )
    return finish_out(_result(gx, out_dtype, xa.shape, order), out, fname)
