r"""Max-pooling that captures where each maximum came from, and the backward passes that
use it.

Max-pooling is ``max`` over windows, and on a small case it is a matrix product
``y = W x`` with a one-hot *routing matrix* ``W`` (one row per window, a single 1 at the
position of the window's maximum). Its vector-Jacobian product is therefore
``W^T g``: each output gradient is sent back to the one position its value came from,
and positions picked by several overlapping windows add up. Capturing the position (the
*index*) in the forward pass makes the backward pass a scatter-add, with no search.

Layout, index convention, padding, ``ceil_mode`` and ``dilation`` are those of
``torch.nn.functional.max_pool1d/2d(..., return_indices=True)``: inputs ``(N, C, H, W)``
or ``(C, H, W)``, indices int64 and flat within each ``H * W`` plane.

Layout of this module: public functions validate every argument, view the input as
C-contiguous planes ``(P, H, W)`` (``P = N * C``) and call one ``prange`` kernel over
planes -- over (plane, band of output rows) pairs when there are too few planes to keep
every thread busy. A 1-D pool is a 2-D pool of height 1.
"""

from __future__ import annotations

import functools

import numbers
import operator
from math import prod

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import as_float_array, asarray, finish_out
from ._config import jit, kernel, use_parallel
from ._arrays import result_cast as _cast
from ._rowops import block_max
from ._registry import names_in

__all__ = names_in("pooling")

_I64 = np.dtype(np.int64)


# ---------------------------------------------------------------------------------------
# Argument checks (shared by the 1-D and 2-D functions)


def _sizes(value, fname, name, n):
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` Python ints."""
    items = list(value) if isinstance(value, (tuple, list)) else [value] * n
    if len(items) != n:
        what = "an int" if n == 1 else f"an int or a sequence of {n} ints"
        raise ValueError(f"{fname}: `{name}` must be {what}, got {value!r}")
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            what = "an int" if n == 1 else f"an int or a sequence of {n} ints"
            raise TypeError(f"{fname}: `{name}` must be {what}, got {value!r}")
        out.append(operator.index(v))
    return tuple(out)


def _show(sizes):
    """A size tuple for an error message: ``(2, 3)``, or ``2`` for a 1-D pool."""
    return sizes if len(sizes) > 1 else sizes[0]


_GEOMETRIES = {}


def _plain(v):
    return v is None or type(v) is int or (type(v) is tuple and all(type(e) is int for e in v))


def _geometry(fname, spatial, kernel_size, stride, padding, dilation, ceil_mode):
    """:func:`_checked_geometry`, memoized for plain arguments (ints, tuples of ints,
    None, a bool ``ceil_mode``): a small call would spend most of its time here. Only
    valid geometries are stored, so a bad one raises every time."""
    args = (kernel_size, stride, padding, dilation)
    if type(ceil_mode) is not bool or not all(_plain(v) for v in args):
        return _checked_geometry(fname, spatial, kernel_size, stride, padding, dilation, ceil_mode)
    key = (fname, spatial, *args, ceil_mode)
    hit = _GEOMETRIES.get(key)
    if hit is None:
        hit = _checked_geometry(fname, spatial, kernel_size, stride, padding, dilation, ceil_mode)
        if len(_GEOMETRIES) > 1024:
            _GEOMETRIES.clear()
        _GEOMETRIES[key] = hit
    return hit


def _checked_geometry(fname, spatial, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked ``(k, s, p, d, out)`` tuples, one entry per spatial dim (torch's rules)."""
    n = len(spatial)
    k = _sizes(kernel_size, fname, "kernel_size", n)
    s = k if stride is None else _sizes(stride, fname, "stride", n)
    p = _sizes(padding, fname, "padding", n)
    d = _sizes(dilation, fname, "dilation", n)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{fname}: `ceil_mode` must be a bool, got {ceil_mode!r}")
    for name, v in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if min(v) <= 0:
            raise ValueError(f"{fname}: `{name}` must be > 0, got {_show(v)}")
    if min(p) < 0 or any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"{fname}: `padding` must be >= 0 and at most half of `kernel_size`, "
            f"got padding={_show(p)} for kernel_size={_show(k)}"
        )
    out = tuple(_out_size(*args, bool(ceil_mode)) for args in zip(spatial, k, s, p, d))
    if min(out) < 1:
        raise ValueError(
            f"{fname}: `kernel_size` {_show(k)} (dilation {_show(d)}) is larger than the "
            f"padded input: input size {_show(spatial)}, padding {_show(p)}"
        )
    touch = (di == 1 or _windows_touch_input(*a) for a, di in zip(zip(spatial, k, s, p, d, out), d))
    if not all(touch):
        raise ValueError(
            f"{fname}: with `dilation` {_show(d)} and `padding` {_show(p)} some windows "
            f"hold padding only (input size {_show(spatial)}); their maximum has no position"
        )
    return k, s, p, d, out


def _out_size(size, k, s, p, d, ceil_mode):
    """Output length along one dim, as ``torch``: floor (or ceil) of
    ``(size + 2p - d (k - 1) - 1) / s + 1``; in ceil mode the last window must start
    inside the input or the left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _windows_touch_input(size, k, s, p, d, out):
    """Whether every window has a tap inside the input. Only dilation can make a window
    skip over the whole input (torch then returns -inf and an index outside the plane):
    without it a window starts inside the input, or in the left padding and then, as
    the padding is at most half the window, reaches into the input."""
    start = np.arange(out) * s - p
    first = np.maximum(0, -(start // d))  # first tap at or after position 0
    pos = start + first * d
    return bool(np.all((first < k) & (pos < size)))


def _check_ndim(a, fname, name, ranks, layout):
    if a.ndim not in ranks:
        raise ValueError(f"{fname}: `{name}` must have shape {layout}, got shape {a.shape}")


def _as_planes(x, fname, spatial_dims):
    """``x`` checked and viewed as C-contiguous planes ``(P, H, W)``."""
    a, out_dtype = as_float_array(x, fname)
    if spatial_dims == 2:
        _check_ndim(a, fname, "x", (3, 4), "(N, C, H, W) or (C, H, W)")
    else:
        _check_ndim(a, fname, "x", (2, 3), "(N, C, L) or (C, L)")
    spatial = a.shape[a.ndim - spatial_dims :]
    if min(spatial) == 0:
        raise ValueError(f"{fname}: `x` must have non-empty spatial dims, got shape {a.shape}")
    n_planes = prod(a.shape[: a.ndim - spatial_dims])
    h, w = (1, spatial[0]) if spatial_dims == 1 else spatial
    return np.ascontiguousarray(a).reshape(n_planes, h, w), a.shape, out_dtype


#: Planes are cut into bands of rows only when there are fewer planes than this ...
BAND_PLANES = 16
#: ... and then into this many tasks in all (about), whatever the thread count.
BAND_TASKS = 64


def _bands(n_planes, n_rows, parallel):
    """Into how many bands of rows to cut each plane: one, unless a parallel call has
    few planes (< :data:`BAND_PLANES`); then about :data:`BAND_TASKS` tasks in all.
    Fixed counts, never the thread count (the bands only decide which task computes
    which outputs: every output is computed the same way whatever the bands)."""
    if not parallel or n_planes >= BAND_PLANES or n_rows < 2:
        return 1
    return min(n_rows, -(-BAND_TASKS // max(n_planes, 1)))


# ---------------------------------------------------------------------------------------
# Forward kernel
#
# For one output row, the taps of every window are visited in scan order (window row,
# then column) with one vectorizable pass over the output row per window row: each
# output's running (max, index) is loaded once, updated by up to three column taps in
# registers, and stored. Rules: a value wins if it is larger than the current one or
# nan, so ties keep the first position and the last nan wins (torch's CPU rule); the
# start is -inf at the window's first position inside the input.
#
# The passes read a per-task copy of the input rows, padded with -inf left and right (a
# -inf never beats the initial -inf, so padding needs no test) and, with ``stride > 1``,
# split into ``stride`` phases (``phase[q][i] = padded_row[q + stride * i]``) so that
# every column tap reads contiguous memory: a load with a stride not known at compile
# time is a gather, and even a stride-2 load that skips every other element vectorizes
# badly. Rows of the vertical padding are simply not visited.


@jit
def _first_tap(start, dilation):
    """Index of the first tap ``start + j * dilation`` that is >= 0."""
    return 0 if start >= 0 else (-start + dilation - 1) // dilation


@jit
def _win(v, flat, m, k):
    """One tap: ``v`` (at plane position ``flat``) replaces the running maximum ``m``
    (at ``k``) if it is larger or nan."""
    take = (v > m) | (v != v)
    return (v if take else m), (flat if take else k)


@jit(inline="always")
def _fused_taps(src, b0, b1, b2, f0, f1, f2, fstep, taps, y, idx, o0, n):
    """``taps`` (1 to 3) column taps of one window row for the ``n`` outputs
    ``y[o0:o0 + n]`` of an output row: tap ``t`` of output ``o`` reads ``src[b_t + o]``,
    whose flat plane position is ``f_t + fstep * o`` (wrapping arithmetic: taps in the
    padding have a meaningless position, but they are -inf and never taken)."""
    s = U(fstep)
    if taps == 1:
        for o in range(U(n)):
            m, k = _win(src[U(b0) + o], np.int64(U(f0) + s * o), y[U(o0) + o], idx[U(o0) + o])
            y[U(o0) + o] = m
            idx[U(o0) + o] = k
    elif taps == 2:
        for o in range(U(n)):
            m, k = _win(src[U(b0) + o], np.int64(U(f0) + s * o), y[U(o0) + o], idx[U(o0) + o])
            m, k = _win(src[U(b1) + o], np.int64(U(f1) + s * o), m, k)
            y[U(o0) + o] = m
            idx[U(o0) + o] = k
    else:
        for o in range(U(n)):
            m, k = _win(src[U(b0) + o], np.int64(U(f0) + s * o), y[U(o0) + o], idx[U(o0) + o])
            m, k = _win(src[U(b1) + o], np.int64(U(f1) + s * o), m, k)
            m, k = _win(src[U(b2) + o], np.int64(U(f2) + s * o), m, k)
            y[U(o0) + o] = m
            idx[U(o0) + o] = k


@jit
def _pad_split_rows(xp, width, left, row_lo, row_hi, stride, wq, phases, buf):
    """Input rows ``[row_lo, row_hi)`` of the flat plane ``xp``, each padded on the left
    with ``left`` -inf (and with -inf after its end), split into ``stride`` phases of
    ``wq`` elements: ``buf[((r - row_lo) * stride + q) * wq + i] = padded_r[q + stride *
    i]``. ``buf`` holds -inf already; only the elements inside the row are written:
    ``[phases[q, 0], phases[q, 1])`` of phase ``q``. With ``stride == 2``, a non-empty
    ``[phases[0, 2], phases[0, 3])`` is inside the row in both phases, and each phase
    has at most one element more on either side. One loop per case, over all the rows:
    a call per row, or these loops inside the big kernel, cost several times more."""
    for r in range(row_lo, row_hi):
        src = U(r * width) - U(left)  # wrapping: padded column c is xp[src + c]
        dst = (r - row_lo) * stride * wq
        if stride == 1:
            for i in range(U(phases[0, 0]), U(phases[0, 1])):
                buf[U(dst) + i] = xp[src + i]
        elif phases[0, 3] > phases[0, 2]:  # stride 2, and a range inside both phases
            # both phases in one loop, so that both elements of every pair read are used
            # (contiguous loads, where one phase at a time would be a strided load)
            both_lo = phases[0, 2]
            both_hi = phases[0, 3]
            odd = U(dst + wq)
            for i in range(U(both_lo), U(both_hi)):
                buf[U(dst) + i] = xp[src + U(2) * i]
                buf[odd + i] = xp[src + U(2) * i + U(1)]
            for q in range(2):  # the (at most one) element left on each side
                if phases[q, 0] < both_lo:
                    buf[dst + q * wq + phases[q, 0]] = xp[src + U(q + 2 * phases[q, 0])]
                if phases[q, 1] > both_hi:
                    buf[dst + q * wq + both_hi] = xp[src + U(q + 2 * both_hi)]
        else:
            for q in range(stride):
                first = src + U(q)
                out = U(dst + q * wq)
                for i in range(U(phases[q, 0]), U(phases[q, 1])):
                    buf[out + i] = xp[first + U(stride) * i]


@kernel
def _maxpool_planes(x, height, kh, sh, ph, dh, left, sw, wq, phases, first_col, taps, rows_per_task, y, idx):
    """``x``: flat planes ``(P, H * W)``; ``y``, ``idx``: flat ``(P, OH * OW)``. Column
    tap ``b`` of output ``o`` is padded column ``sw * o + b * dw``: phase ``taps[b, 0]``,
    element ``o + taps[b, 1]``; its plane position is ``row * W + taps[b, 2] + sw * o``."""
    n_planes, size = x.shape
    width = size // height
    ow_n = first_col.size
    oh_n = y.shape[1] // max(ow_n, 1)
    kw = taps.shape[0]
    bands = (oh_n + rows_per_task - 1) // rows_per_task
    for t in prange(n_planes * bands):
        p = t // bands
        r0 = (t - p * bands) * rows_per_task
        r1 = min(oh_n, r0 + rows_per_task)
        xp = x[p]
        yp = y[p]
        ip = idx[p]
        # the input rows this task reads, padded and split (a row may serve several outputs)
        row_lo = max(0, r0 * sh - ph)
        row_hi = min(height, (r1 - 1) * sh - ph + (kh - 1) * dh + 1)
        buf = np.empty((row_hi - row_lo) * sw * wq, x.dtype)
        for i in range(U(buf.size)):
            buf[i] = -np.inf
        _pad_split_rows(xp, width, left, row_lo, row_hi, sw, wq, phases, buf)
        for oh in range(r0, r1):
            o0 = oh * ow_n
            h0 = oh * sh - ph
            a0 = _first_tap(h0, dh)
            start = U((h0 + a0 * dh) * width)
            for ow in range(U(ow_n)):
                yp[U(o0) + ow] = -np.inf
                ip[U(o0) + ow] = np.int64(start + first_col[ow])
            for a in range(a0, kh):
                row = h0 + a * dh
                if row >= height:
                    break
                base = (row - row_lo) * sw * wq
                for g in range(0, kw, 3):
                    n = min(3, kw - g)
                    t1 = g + min(1, n - 1)
                    t2 = g + min(2, n - 1)
                    _fused_taps(
                        buf,
                        base + taps[g, 0] * wq + taps[g, 1],
                        base + taps[t1, 0] * wq + taps[t1, 1],
                        base + taps[t2, 0] * wq + taps[t2, 1],
                        row * width + taps[g, 2],
                        row * width + taps[t1, 2],
                        row * width + taps[t2, 2],
                        sw, n, yp, ip, o0, ow_n,
                    )


def _phase_plan(width, left, stride, wq):
    """``phases`` of :func:`_pad_split_rows`: per phase ``q``, the elements ``[lo, hi)``
    inside the row (``0 <= q + stride * i - left < width``), and, when ``stride == 2``,
    the range inside the row in both phases (empty otherwise)."""
    q = np.arange(stride)
    lo = np.minimum(wq, np.maximum(0, -((q - left) // stride)))
    hi = np.maximum(lo, np.minimum(wq, (width - 1 + left - q) // stride + 1))
    both = (0, 0)
    if stride == 2 and hi.min() > lo.max():
        both = (lo.max(), hi.min())
        assert lo.max() - lo.min() <= 1 and hi.max() - hi.min() <= 1
    return np.array([(a, b) + both for a, b in zip(lo, hi)], np.int64)


@functools.lru_cache(maxsize=256)
def _column_plan(width, kw, sw, pw, dw, ow_n):
    """``(first_col, wq, taps, phases)``: the column plan of :func:`_maxpool`, the same
    for every row. Memoized by geometry (a small call would spend most of its time
    here); the arrays are shared between calls and only ever read."""
    start = np.arange(ow_n) * sw - pw
    first_col = (start + np.maximum(0, -(start // dw)) * dw).astype(np.uint64)
    padded = max(width + pw, (ow_n - 1) * sw + (kw - 1) * dw + 1)  # ceil mode may read past
    wq = -(-padded // sw)
    b = np.arange(kw) * dw
    taps = np.stack([b % sw, b // sw, b - pw], axis=1).astype(np.int64)
    return first_col, wq, taps, _phase_plan(width, pw, sw, wq)


def _maxpool(planes, geometry):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh_n, ow_n) = geometry
    n_planes, height, width = planes.shape
    y = np.empty((n_planes, oh_n, ow_n), planes.dtype)
    idx = np.empty((n_planes, oh_n, ow_n), _I64)
    parallel = use_parallel(planes.size)
    rows = -(-oh_n // _bands(n_planes, oh_n, parallel))
    first_col, wq, taps, phases = _column_plan(width, kw, sw, pw, dw, ow_n)
    _maxpool_planes(
        planes.reshape(n_planes, height * width), height, kh, sh, ph, dh, pw, sw, wq,
        phases, first_col, taps,
        rows, y.reshape(n_planes, oh_n * ow_n), idx.reshape(n_planes, oh_n * ow_n),
        parallel=parallel,
    )
    return y, idx


# ---------------------------------------------------------------------------------------
# Scatter kernel: the backward pass (add) and unpooling (assign)


@kernel
def _scatter_planes(g, idx, bands, accumulate, out):
    """``out[p] = 0``, then ``out[p, idx[p, j]] (+)= g[p, j]`` for every ``j``.

    Race-free: a task owns one band of one plane of ``out`` and applies only the entries
    that land in it (when there are several bands per plane, each task reads the whole
    plane of ``g`` and ``idx``, and writes only its band). Entries are applied in order,
    so when assigning the last one wins."""
    n_planes, n = out.shape
    m = g.shape[1]
    band = (n + bands - 1) // bands
    for t in prange(n_planes * bands):
        p = t // bands
        lo = (t - p * bands) * band
        hi = min(n, lo + band)
        op = out[p]
        gp = g[p]
        ip = idx[p]
        for i in range(U(lo), U(hi)):
            op[i] = 0.0
        if bands == 1:
            if accumulate:
                for j in range(U(m)):
                    op[ip[j]] += gp[j]
            else:
                for j in range(U(m)):
                    op[ip[j]] = gp[j]
        else:
            for j in range(U(m)):
                k = ip[j]
                if lo <= k < hi:
                    op[k] = op[k] + gp[j] if accumulate else gp[j]


@kernel
def _count_outside(idx, n, chunk, counts):
    """``counts[c]``: entries of chunk ``c`` of the flat ``idx`` outside ``[0, n)``."""
    size = idx.size
    for c in prange(counts.size):
        lo = c * chunk
        bad = 0
        for i in range(U(lo), U(min(size, lo + chunk))):
            bad += 1 if U(idx[i]) >= U(n) else 0  # a negative index wraps to a huge one
        counts[c] = bad


def _check_indices_in_range(idx, n, fname):
    flat = idx.reshape(-1)
    chunk = 1 << 16
    counts = np.empty(max(1, -(-flat.size // chunk)), np.int64)
    _count_outside(flat, n, chunk, counts, parallel=use_parallel(flat.size))
    if counts.sum():
        bad = flat[(flat < 0) | (flat >= n)]
        raise ValueError(
            f"{fname}: `indices` must lie in [0, {n}) (flat positions in a plane of "
            f"{n} elements), found {bad.size} outside, e.g. {int(bad[0])}"
        )


def _scatter(fname, values, indices, lead, plane_shape, accumulate, vname):
    """Shared body of the backward passes and of unpooling: check ``values`` (the
    argument named ``vname``) and ``indices`` against each other, then scatter them
    plane by plane into zeros of shape ``lead + plane_shape``."""
    g, out_dtype = as_float_array(values, fname, vname)
    ind = asarray(indices, fname, "indices")
    if ind.dtype.kind not in "iu":
        raise TypeError(f"{fname}: `indices` must have an integer dtype (int64), got {ind.dtype}")
    if ind.shape != g.shape:
        raise ValueError(
            f"{fname}: `indices` must have the shape of `{vname}` {g.shape}, got {ind.shape}"
        )
    n_planes = prod(lead)
    n = prod(plane_shape)
    m = prod(g.shape[len(lead):])
    ind = np.ascontiguousarray(ind, dtype=_I64).reshape(n_planes, m)
    _check_indices_in_range(ind, n, fname)
    g = np.ascontiguousarray(g).reshape(n_planes, m)
    out = np.empty((n_planes, n), g.dtype)
    parallel = use_parallel(out.size)
    _scatter_planes(g, ind, _bands(n_planes, n, parallel), accumulate, out, parallel=parallel)
    return _cast(out.reshape(tuple(lead) + tuple(plane_shape)), out_dtype)


def _input_shape(input_shape, fname, ranks, layout, name="input_shape"):
    try:
        shape = tuple(operator.index(s) for s in input_shape)
    except TypeError:
        raise TypeError(f"{fname}: `{name}` must be a tuple of ints, got {input_shape!r}") from None
    if len(shape) not in ranks or min(shape) < 0:
        raise ValueError(f"{fname}: `{name}` must be a shape {layout}, got {input_shape!r}")
    return shape


def _backward(fname, grad, indices, input_shape, spatial_dims):
    layout = "(N, C, H, W) or (C, H, W)" if spatial_dims == 2 else "(N, C, L) or (C, L)"
    shape = _input_shape(input_shape, fname, (spatial_dims + 1, spatial_dims + 2), layout)
    g = asarray(grad, fname, "grad")
    split = len(shape) - spatial_dims
    if g.ndim != len(shape) or g.shape[:split] != shape[:split]:
        raise ValueError(
            f"{fname}: `grad` of shape {g.shape} does not match `input_shape` {shape}: "
            f"it must have {len(shape)} dims and the leading dims {shape[:split]}"
        )
    return _scatter(fname, g, indices, shape[:split], shape[split:], True, "grad")


# ---------------------------------------------------------------------------------------
# maxpool2d


def maxpool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, out=None):
    r"""2-D max-pooling that also returns where each maximum came from.

    .. math::

        y_{n,c,i,j} = \max_{a < k_h,\ b < k_w}
            x_{n,\,c,\ i s_h - p_h + a d_h,\ j s_w - p_w + b d_w},
        \qquad \mathrm{indices}_{n,c,i,j} = h^* W + w^*

    where :math:`(h^*, w^*)` is the input position of the maximum (positions in the
    padding count as :math:`-\infty`).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input planes; bool and int compute in float64, float16 in float32.
    kernel_size : int or (int, int)
        Window size :math:`(k_h, k_w)`.
    stride : int or (int, int), optional
        Window step :math:`(s_h, s_w)`; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit :math:`-\infty` on both sides, at most half of ``kernel_size``.
    dilation : int or (int, int), default 1
        Step between the taps of a window.
    ceil_mode : bool, default False
        Round the output size up instead of down (a last, partial window is added when
        it starts inside the input or the left padding).
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        The window maxima, in the float dtype of ``x``.
    indices : ndarray of int64, same shape
        Flat position ``h * W + w`` of each maximum within its ``H x W`` plane.

    Raises
    ------
    ValueError
        Wrong rank, empty spatial dims, a size argument <= 0, padding above half the
        kernel, a kernel larger than the padded input, or (with dilation) windows that
        hold padding only.
    TypeError
        Non-integer size arguments, a non-bool ``ceil_mode`` or a non-real ``x``.

    See Also
    --------
    maxpool2d_backward : the backward pass, a scatter-add through ``indices``.
    maxunpool2d : put the maxima back at their positions.
    torch.nn.functional.max_pool2d : the same with ``return_indices=True``.

    Notes
    -----
    Output size per spatial dim, as torch:
    :math:`\lfloor (H + 2p - d(k - 1) - 1) / s \rfloor + 1` (ceiling in ``ceil_mode``).
    Ties go to the first position in window scan order (row by row); a nan is a
    maximum, and of several nans the last one in scan order wins (torch's CPU rule).
    A window whose input elements are all :math:`-\infty` gives :math:`-\infty` at its
    first position inside the input.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[[[1.0, 2.0, 0.0, 1.0],
    ...                 [4.0, 3.0, 5.0, 5.0]]]])
    >>> y, idx = fs.maxpool2d(x, 2)
    >>> y
    array([[[[4., 5.]]]])
    >>> idx            # flat in the 2 x 4 plane; the tie 5, 5 goes to the first
    array([[[[4, 6]]]])
    >>> fs.maxpool2d(x, 2, stride=1, padding=1)[0].shape
    (1, 1, 3, 5)
    """
    fname = "maxpool2d"
    planes, shape, out_dtype = _as_planes(x, fname, 2)
    geometry = _geometry(fname, shape[-2:], kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = _maxpool(planes, geometry)
    out_shape = shape[:-2] + geometry[-1]
    return finish_out((_cast(y.reshape(out_shape), out_dtype), idx.reshape(out_shape)), out, fname)


def maxpool2d_backward(grad, indices, input_shape, *, out=None):
    r"""Vector-Jacobian product of :func:`maxpool2d`: scatter-add ``grad`` to the saved
    positions.

    .. math::

        \frac{\partial L}{\partial x_{n,c,q}} =
            \sum_{i,j\,:\ \mathrm{indices}_{n,c,i,j} = q} g_{n,c,i,j}
        \qquad (\text{i.e. } W^\top g \text{ for the one-hot routing matrix } W)

    Parameters
    ----------
    grad : array_like, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        :math:`g = \partial L / \partial y`.
    indices : array_like of int, same shape
        The indices returned by :func:`maxpool2d`.
    input_shape : tuple of ints
        Shape of the forward input ``x``: (N, C, H, W) or (C, H, W).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape ``input_shape``
        The gradient with respect to ``x``, in the float dtype of ``grad``; zero at
        positions that were never a maximum.

    Raises
    ------
    ValueError
        ``grad`` and ``indices`` of different shapes, leading dims other than those of
        ``input_shape``, or an index outside ``[0, H * W)``.
    TypeError
        Non-integer ``indices``.

    Notes
    -----
    Overlapping windows (``stride < kernel_size``) that chose the same position add
    their gradients. Each parallel task owns the gradient of one plane (or of one band
    of a plane), so there are no races. Any indices in range are accepted, not only
    those of a max-pool.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[[1.0, 2.0, 3.0, 4.0]]])     # (C, H, W) = (1, 1, 4)
    >>> y, idx = fs.maxpool2d(x, (1, 2))           # the seed's example: y = [2, 4]
    >>> fs.maxpool2d_backward(np.ones_like(y), idx, x.shape)
    array([[[0., 1., 0., 1.]]])
    >>> y, idx = fs.maxpool2d(x, (1, 3), stride=1) # overlapping windows add up
    >>> fs.maxpool2d_backward(np.ones_like(y), idx, x.shape)
    array([[[0., 0., 1., 1.]]])
    """
    return finish_out(_backward("maxpool2d_backward", grad, indices, input_shape, 2), out, "maxpool2d_backward")


# ---------------------------------------------------------------------------------------
# maxpool1d


def maxpool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *, out=None):
    r"""1-D max-pooling that also returns where each maximum came from.

    .. math::

        y_{n,c,i} = \max_{a < k} x_{n,\,c,\ i s - p + a d},
        \qquad \mathrm{indices}_{n,c,i} = \text{the position of that maximum}

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
        Input sequences.
    kernel_size : int
        Window size (a one-element sequence is accepted too).
    stride : int, optional
        Window step; defaults to ``kernel_size``.
    padding : int, default 0
        Implicit :math:`-\infty` on both ends, at most half of ``kernel_size``.
    dilation : int, default 1
        Step between the taps of a window.
    ceil_mode : bool, default False
        Round the output length up instead of down.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    y : ndarray, shape (N, C, L_out) or (C, L_out)
        The window maxima, in the float dtype of ``x``.
    indices : ndarray of int64, same shape
        Position of each maximum within ``L``.

    See Also
    --------
    maxpool1d_backward : the backward pass.
    maxpool2d : the rules (ties, nan, sizes, errors) are the same.
    torch.nn.functional.max_pool1d : the same with ``return_indices=True``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> y, idx = fs.maxpool1d([[1.0, 2.0, 3.0, 4.0]], 2)   # (C, L) = (1, 4)
    >>> y, idx
    (array([[2., 4.]]), array([[1, 3]]))
    >>> fs.maxpool1d([[1.0, np.nan, 3.0, -np.inf]], 2, stride=1, padding=1)
    (array([[ 1., nan, nan,  3., -inf]]), array([[0, 1, 1, 2, 3]]))
    """
    fname = "maxpool1d"
    planes, shape, out_dtype = _as_planes(x, fname, 1)
    k, s, p, d, size = _geometry(fname, shape[-1:], kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = _maxpool(planes, ((1,) + k, (1,) + s, (0,) + p, (1,) + d, (1,) + size))
    out_shape = shape[:-1] + size
    return finish_out((_cast(y.reshape(out_shape), out_dtype), idx.reshape(out_shape)), out, fname)


def maxpool1d_backward(grad, indices, input_shape, *, out=None):
    r"""Vector-Jacobian product of :func:`maxpool1d`: scatter-add ``grad`` to the saved
    positions.

    .. math::

        \frac{\partial L}{\partial x_{n,c,q}} =
            \sum_{i\,:\ \mathrm{indices}_{n,c,i} = q} g_{n,c,i}

    Parameters
    ----------
    grad : array_like, shape (N, C, L_out) or (C, L_out)
        :math:`g = \partial L / \partial y`.
    indices : array_like of int, same shape
        The indices returned by :func:`maxpool1d`.
    input_shape : tuple of ints
        Shape of the forward input: (N, C, L) or (C, L).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape ``input_shape``
        The gradient with respect to ``x``, in the float dtype of ``grad``.

    See Also
    --------
    maxpool2d_backward : the same rules and errors.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[3.0, 1.0, 2.0, 5.0, 4.0]])
    >>> y, idx = fs.maxpool1d(x, 3, stride=1)       # windows overlap at the 3
    >>> idx
    array([[0, 3, 3]])
    >>> fs.maxpool1d_backward([[1.0, 1.0, 1.0]], idx, x.shape)
    array([[1., 0., 0., 2., 0.]])
    """
    return finish_out(_backward("maxpool1d_backward", grad, indices, input_shape, 1), out, "maxpool1d_backward")


# ---------------------------------------------------------------------------------------
# maxunpool2d


def maxunpool2d(y, indices, output_size, *, out=None):
    r"""Put pooled values back at their positions, zeros elsewhere: the inverse
    placement of :func:`maxpool2d`, as ``torch.nn.functional.max_unpool2d``.

    .. math::

        \mathrm{out}_{n,c,q} = y_{n,c,i,j}\ \text{ where } \mathrm{indices}_{n,c,i,j} = q,
        \qquad 0 \text{ elsewhere}

    Parameters
    ----------
    y : array_like, shape (N, C, h, w) or (C, h, w)
        Values to place (typically the output of :func:`maxpool2d`).
    indices : array_like of int, same shape
        Flat positions within each output plane (typically from :func:`maxpool2d`).
    output_size : tuple of ints
        ``(H, W)``, or the whole output shape ``(N, C, H, W)`` / ``(C, H, W)``.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape (N, C, H, W) or (C, H, W)
        In the float dtype of ``y``.

    Raises
    ------
    ValueError
        Shapes that do not match, or an index outside ``[0, H * W)``.
    TypeError
        Non-integer ``indices`` or ``output_size``.

    Notes
    -----
    Unlike :func:`maxpool2d_backward`, a position named several times is *assigned*,
    not summed: the last entry in C order wins (torch leaves this case unspecified;
    indices from a max-pool with overlapping windows repeat the same value, so the
    result is the same either way). Its vector-Jacobian product is the gather
    ``grad_out.reshape(N, C, -1)[..., indices]``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[[1.0, 2.0], [4.0, 3.0]]])
    >>> y, idx = fs.maxpool2d(x, 2)
    >>> fs.maxunpool2d(y, idx, (2, 2))
    array([[[0., 0.],
            [4., 0.]]])
    """
    fname = "maxunpool2d"
    v = asarray(y, fname, "y")
    _check_ndim(v, fname, "y", (3, 4), "(N, C, h, w) or (C, h, w)")
    size = _input_shape(output_size, fname, (2, v.ndim), f"(H, W) or {v.shape[:-2] + ('H', 'W')}", "output_size")
    if len(size) == v.ndim and size[:-2] != v.shape[:-2]:
        raise ValueError(
            f"{fname}: `output_size` {size} must have the leading dims {v.shape[:-2]} of `y`"
        )
    return finish_out(_scatter(fname, v, indices, v.shape[:-2], size[-2:], False, "y"), out, fname)


# ---------------------------------------------------------------------------------------
# global_maxpool2d


@jit
def _plane_argmax(x):
    """``(max, index)`` of a flat plane by maxpool2d's rules: the last nan if there is one,
    else the first occurrence of the maximum. Two vectorized passes and one early-exit
    scan, instead of a compare-and-branch per element."""
    n = x.size
    m = block_max(x, 0, n)
    nans = 0
    for i in range(U(n)):
        nans += 1 if x[i] != x[i] else 0
    if nans:
        for i in range(n - 1, -1, -1):
            if x[i] != x[i]:
                return x[i], i
    for i in range(n):
        if x[i] == m:
            return m, i
    return m, 0


@kernel
def _global_max_planes(x, y, idx):
    for p in prange(x.shape[0]):
        y[p], idx[p] = _plane_argmax(x[p])


def global_maxpool2d(x, *, out=None):
    r"""Maximum of each whole ``H x W`` plane, with its flat position.

    .. math::

        y_{n,c} = \max_{h, w} x_{n,c,h,w}, \qquad \mathrm{indices}_{n,c} = h^* W + w^*

    The same as :func:`maxpool2d` with ``kernel_size=(H, W)`` (and as torch's
    ``adaptive_max_pool2d(x, 1, return_indices=True)``), without the two unit dims.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input planes.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    y : ndarray, shape (N, C) or (C,)
        Plane maxima, in the float dtype of ``x``.
    indices : ndarray of int64, same shape
        Flat position of each maximum within its plane.

    See Also
    --------
    global_maxpool2d_backward : its backward pass.

    Notes
    -----
    Ties go to the first position in C order, the last nan wins, as in
    :func:`maxpool2d`.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[[1.0, 7.0], [7.0, 3.0]], [[0.0, -1.0], [-2.0, -3.0]]])
    >>> fs.global_maxpool2d(x)
    (array([7., 0.]), array([1, 0]))
    """
    fname = "global_maxpool2d"
    planes, shape, out_dtype = _as_planes(x, fname, 2)
    flat = planes.reshape(planes.shape[0], planes.shape[1] * planes.shape[2])
    y = np.empty(flat.shape[0], flat.dtype)
    idx = np.empty(flat.shape[0], _I64)
    _global_max_planes(flat, y, idx, parallel=use_parallel(flat.size))
    return finish_out((_cast(y.reshape(shape[:-2]), out_dtype), idx.reshape(shape[:-2])), out, fname)


def global_maxpool2d_backward(grad, indices, input_shape, *, out=None):
    r"""Vector-Jacobian product of :func:`global_maxpool2d`: ``grad[n, c]`` goes to the
    position ``indices[n, c]`` of its plane, zeros elsewhere.

    Parameters
    ----------
    grad : array_like, shape (N, C) or (C,)
        :math:`\partial L / \partial y`.
    indices : array_like of int, same shape
        The indices returned by :func:`global_maxpool2d`.
    input_shape : tuple of ints
        Shape of the forward input: (N, C, H, W) or (C, H, W).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray, shape ``input_shape``
        In the float dtype of ``grad``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> x = np.array([[[1.0, 7.0], [7.0, 3.0]]])
    >>> y, idx = fs.global_maxpool2d(x)
    >>> fs.global_maxpool2d_backward([2.0], idx, x.shape)
    array([[[0., 2.],
            [0., 0.]]])
    """
    fname = "global_maxpool2d_backward"
    shape = _input_shape(input_shape, fname, (3, 4), "(N, C, H, W) or (C, H, W)")
    g = asarray(grad, fname, "grad")
    ind = asarray(indices, fname, "indices")
    if g.shape != shape[:-2]:
        raise ValueError(f"{fname}: `grad` must have shape {shape[:-2]}, got {g.shape}")
    if ind.shape != g.shape:
        raise ValueError(f"{fname}: `indices` must have the shape of `grad` {g.shape}, got {ind.shape}")
    return finish_out(
        _scatter(fname, g[..., None], ind[..., None], shape[:-2], shape[-2:], True, "grad"), out, fname
    )
