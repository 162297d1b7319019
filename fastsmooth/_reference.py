"""Slow NumPy twins of the public functions, with the same names and signatures.

They are the oracle of the test suite and the "numpy" column of the benchmarks: the
plain, max-shifted NumPy a user would write, computed in float64 (then cast back like
the fast functions). They follow the documented special-value conventions, so tests
can compare on any input. Not for production use: they allocate several temporaries
the size of the input and are several times slower.

``SPECIAL_VALUES`` is the one table of special-value results; the tests parametrise
over it and the documentation renders it.
"""

from __future__ import annotations

import numpy as np

from ._arrays import as_float_array, check_temperature, normalize_axes
from ._registry import OPS, twin_name

__all__ = [twin_name(op) for op in OPS] + ["dtw", "SPECIAL_VALUES"]

_inf, _nan = np.inf, np.nan


def _prep(x, axis, temperature, fname, multiple=True):
    a, out_dtype = as_float_array(x, fname)
    axes = normalize_axes(axis, a.ndim, fname, multiple=multiple)
    tau = check_temperature(temperature, fname)
    return a.astype(np.float64), axes, tau, out_dtype


def _out(a, dtype):
    with np.errstate(over="ignore"):
        a = np.asarray(a).astype(dtype)
    return a[()] if a.ndim == 0 else a


def _limit_probs(z, axes):
    """softmax of ``z`` (already divided by tau) with the +inf limit and nan rules."""
    with np.errstate(all="ignore"):
        m = np.max(z, axis=axes, keepdims=True) if z.size else np.zeros((1,) * z.ndim)
        has_nan = np.isnan(z).any(axis=axes, keepdims=True)
        pos_inf = m == _inf
        finite_m = np.isfinite(m)
        e = np.exp(z - np.where(finite_m, m, 0.0))
        p = e / e.sum(axis=axes, keepdims=True)
        inf_mask = (z == _inf).astype(np.float64)
        p_inf = inf_mask / inf_mask.sum(axis=axes, keepdims=True)
        p = np.where(pos_inf, p_inf, p)
        p = np.where(has_nan | (m == -_inf) | np.isnan(m), _nan, p)
    return p


def _weighted(x, b, fname):
    """``(a, w)`` broadcast together in float64 (``w`` None without weights)."""
    if b is None:
        return x, None
    a, _ = as_float_array(x, fname)
    w = np.asarray(b, np.float64)
    a, w = np.broadcast_arrays(a, w)
    return a, w


def logsumexp(x, axis=-1, *, b=None, temperature=1.0, keepdims=False, return_sign=False):
    x, w = _weighted(x, b, "logsumexp")
    a, axes, tau, dt = _prep(x, axis, temperature, "logsumexp")
    if w is not None:
        dt = np.result_type(dt, np.asarray(b).dtype) if np.asarray(b).dtype.kind == "f" else dt
    with np.errstate(all="ignore"):
        z = a / tau
        if w is not None:
            z = np.where(w == 0, -_inf, z)  # a weight of 0 masks its entry
        if a.size == 0 or any(a.shape[i] == 0 for i in axes):
            shape = [1 if i in axes else s for i, s in enumerate(a.shape)]
            out = np.full(shape, -_inf)
            sign = np.zeros(shape)
        else:
            m = np.max(z, axis=axes, keepdims=True)
            shift = np.where(np.isfinite(m), m, 0.0)
            e = np.exp(z - shift)
            if w is not None:
                e = np.where(w == 0, 0.0, w * e)
            total = np.sum(e, axis=axes, keepdims=True)
            sign = np.sign(total)
            out = np.log(np.abs(total)) + shift
            bad = np.isnan(z).any(axis=axes, keepdims=True)
            if w is not None:
                bad |= np.isnan(w).any(axis=axes, keepdims=True)
            out = np.where(bad, _nan, out)
            sign = np.where(bad | np.isnan(out), _nan, sign)
        out = out * tau
        if not return_sign:
            out = np.where(sign < 0, _nan, out)
        if not keepdims:
            drop = [s for i, s in enumerate(np.shape(out)) if i not in axes]
            out, sign = out.reshape(drop), sign.reshape(drop)
    return (_out(out, dt), _out(sign, dt)) if return_sign else _out(out, dt)


def logsumexp_backward(grad, x, out, axis=-1, *, b=None, temperature=1.0):
    x_shape = np.shape(x)
    x, w = _weighted(x, b, "logsumexp_backward")
    a, axes, tau, dt = _prep(x, axis, temperature, "logsumexp_backward")
    g = np.asarray(grad, np.float64)
    g = g.reshape([1 if i in axes else s for i, s in enumerate(a.shape)])
    if w is None:
        return _out(g * _limit_probs(a / tau, axes) / 1.0, dt)
    o = np.asarray(out, np.float64).reshape(g.shape)
    with np.errstate(all="ignore"):
        dx = np.where(w == 0, 0.0, g * w * np.exp((a - o) / tau))
    return _out(_sum_to(dx, x_shape), dt)


def softmax(x, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(x, axis, temperature, "softmax")
    return _out(_limit_probs(a / tau, axes), dt)


def softmax_backward(grad, y, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(y, axis, temperature, "softmax_backward")
    g = np.asarray(grad, np.float64)
    return _out(a * (g - np.sum(g * a, axis=axes, keepdims=True)) / tau, dt)


def log_softmax(x, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(x, axis, temperature, "log_softmax")
    with np.errstate(all="ignore"):
        if a.size == 0:
            return _out(a, dt)
        z = a / tau
        m = np.max(z, axis=axes, keepdims=True)
        finite = np.isfinite(m)
        shift = np.where(finite, m, 0.0)
        lse = np.log(np.sum(np.exp(z - shift), axis=axes, keepdims=True))
        y = z - shift - lse
        k = np.sum(z == _inf, axis=axes, keepdims=True)
        y = np.where(m == _inf, np.where(z == _inf, -np.log(k), -_inf), y)
        bad = np.isnan(z).any(axis=axes, keepdims=True) | (m == -_inf)
        y = np.where(bad, _nan, y)
    return _out(y, dt)


def log_softmax_backward(grad, y, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(y, axis, temperature, "log_softmax_backward")
    g = np.asarray(grad, np.float64)
    return _out((g - np.exp(a) * np.sum(g, axis=axes, keepdims=True)) / tau, dt)


def soft_argmax(x, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(x, axis, temperature, "soft_argmax", multiple=False)
    (ax,) = axes
    p = _limit_probs(a / tau, axes)
    idx = np.arange(a.shape[ax]).reshape([-1 if i == ax else 1 for i in range(a.ndim)])
    with np.errstate(all="ignore"):
        out = np.sum(p * idx, axis=ax)
        if a.shape[ax] == 0:
            out = np.full(out.shape, _nan)
    return _out(out, dt)


def soft_argmax_backward(grad, x, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(x, axis, temperature, "soft_argmax_backward", multiple=False)
    (ax,) = axes
    p = _limit_probs(a / tau, axes)
    idx = np.arange(a.shape[ax]).reshape([-1 if i == ax else 1 for i in range(a.ndim)])
    mean = np.sum(p * idx, axis=ax, keepdims=True)
    g = np.expand_dims(np.asarray(grad, np.float64), ax)
    return _out(g * p * (idx - mean) / tau, dt)


def soft_argmax2d(x, *, temperature=1.0):
    a, _, tau, dt = _prep(x, None, temperature, "soft_argmax2d")
    axes = (a.ndim - 2, a.ndim - 1)
    p = _limit_probs(a / tau, axes)
    h = np.arange(a.shape[-2])[:, None]
    w = np.arange(a.shape[-1])[None, :]
    with np.errstate(all="ignore"):
        out = np.stack([np.sum(p * h, axis=axes), np.sum(p * w, axis=axes)], axis=-1)
        if a.shape[-1] * a.shape[-2] == 0:
            out[...] = _nan
    return _out(out, dt)


def soft_argmax2d_backward(grad, x, *, temperature=1.0):
    a, _, tau, dt = _prep(x, None, temperature, "soft_argmax2d_backward")
    axes = (a.ndim - 2, a.ndim - 1)
    p = _limit_probs(a / tau, axes)
    h = np.arange(a.shape[-2])[:, None]
    w = np.arange(a.shape[-1])[None, :]
    mh = np.sum(p * h, axis=axes, keepdims=True)
    mw = np.sum(p * w, axis=axes, keepdims=True)
    g = np.asarray(grad, np.float64)
    gr, gc = g[..., 0, None, None], g[..., 1, None, None]
    return _out(p * (gr * (h - mh) + gc * (w - mw)) / tau, dt)


def hardmax(x, axis=-1):
    a, axes, _, dt = _prep(x, axis, 1.0, "hardmax", multiple=False)
    (ax,) = axes
    out = np.zeros(a.shape)
    if a.shape[ax]:
        np.put_along_axis(out, np.expand_dims(np.argmax(a, axis=ax), ax), 1.0, axis=ax)
    return _out(out, dt)


def straight_through_hardmax(x, axis=-1, *, temperature=1.0):
    return hardmax(x, axis), softmax(x, axis, temperature=temperature)


# ---------------------------------------------------------------------------------------
# Max-pooling: every window materialised with ``sliding_window_view`` (one array of
# N * C * H_out * W_out * k_h * k_w elements), then max / argmax over its taps.


def _as_rows(a, axes):
    """``(rows, restore)``: ``a`` with ``axes`` moved last and flattened, ``(R, n)``."""
    kept = [i for i in range(a.ndim) if i not in axes]
    perm = kept + list(axes)
    moved = a.transpose(perm)
    rows = moved.reshape(int(np.prod(moved.shape[: len(kept)])), -1)
    return rows, lambda r: r.reshape(moved.shape).transpose(np.argsort(perm))


def sparsemax(x, axis=-1, *, temperature=1.0):
    """The textbook sort-based sparsemax (Martins & Astudillo 2016, Algorithm 1): sort
    ``z = x / tau`` descending, the support is the largest ``k`` with
    ``1 + k z_(k) > sum_{j <= k} z_(j)``, ``theta = (sum_{j <= k} z_(j) - 1) / k``
    (computed on ``z - max z``), ``p = max(z - theta, 0)``; with the special values of
    ``fastsmooth.sparsemax``."""
    a, axes, tau, dt = _prep(x, axis, temperature, "sparsemax")
    rows, restore = _as_rows(a, axes)
    out = np.empty_like(rows)
    n = rows.shape[1]
    with np.errstate(all="ignore"):
        for r, row in enumerate(rows):
            if n == 0:
                continue
            m = np.max(row)
            if np.isnan(row).any() or m == -_inf:
                out[r] = _nan
            elif m == _inf:
                out[r] = (row == _inf) / np.count_nonzero(row == _inf)
            else:
                d = (row - m) / tau
                srt = np.sort(d)[::-1]
                cs = np.cumsum(srt)
                k = np.arange(1, n + 1)
                kk = k[1.0 + k * srt > cs][-1]
                theta = (cs[kk - 1] - 1.0) / kk
                out[r] = np.maximum(d - theta, 0.0)
    return _out(restore(out), dt)


def sparsemax_backward(grad, y, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(y, axis, temperature, "sparsemax_backward")
    g = np.asarray(grad, np.float64)
    with np.errstate(all="ignore"):
        s = (a > 0).astype(np.float64)
        k = s.sum(axis=axes, keepdims=True)
        mean = np.where(s > 0, g, 0.0).sum(axis=axes, keepdims=True) / np.maximum(k, 1.0)
        dx = np.where(s > 0, g - mean, 0.0) / tau
        dx = np.where(np.isnan(a).any(axis=axes, keepdims=True), _nan, dx)
    return _out(dx, dt)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _window_starts(size, k, s, p, d, ceil_mode):
    """Window starts (input coordinates; the left padding is negative), as torch places
    them: in steps of ``s`` from ``-p`` while the window fits in the padded input; in
    ceil mode also a last, partial window, provided it starts inside the input."""
    span = d * (k - 1) + 1
    last = size + 2 * p - span + (s - 1 if ceil_mode else 0)  # largest j * s allowed
    starts = np.arange(0, last + 1, s) - p if last >= 0 else np.empty(0, np.int64)
    return starts[starts < size] if ceil_mode else starts


def maxpool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    a, dt = as_float_array(x, "maxpool2d")
    a = np.asarray(a, np.float64)
    lead, (h, w) = a.shape[:-2], a.shape[-2:]
    planes = a.reshape(-1, h, w)
    k, p, d = _pair(kernel_size), _pair(padding), _pair(dilation)
    s = k if stride is None else _pair(stride)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError("maxpool2d: `padding` must be at most half of `kernel_size`")
    sh = _window_starts(h, k[0], s[0], p[0], d[0], ceil_mode)
    sw = _window_starts(w, k[1], s[1], p[1], d[1], ceil_mode)
    if sh.size == 0 or sw.size == 0:
        raise ValueError("maxpool2d: `kernel_size` is larger than the padded input")
    # taps of every window: input coordinates (oh, kh) and (ow, kw)
    rows = sh[:, None] + d[0] * np.arange(k[0])[None, :]
    cols = sw[:, None] + d[1] * np.arange(k[1])[None, :]
    if not (((rows >= 0) & (rows < h)).any(1).all() and ((cols >= 0) & (cols < w)).any(1).all()):
        raise ValueError("maxpool2d: some windows hold padding only")
    # pad with -inf so that every tap is inside, then view all windows
    lo_h, lo_w = max(0, -rows.min()), max(0, -cols.min())
    hi_h, hi_w = max(0, rows.max() + 1 - h), max(0, cols.max() + 1 - w)
    padded = np.pad(planes, ((0, 0), (lo_h, hi_h), (lo_w, hi_w)), constant_values=-_inf)
    span_h, span_w = d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1
    view = np.lib.stride_tricks.sliding_window_view(padded, (span_h, span_w), axis=(1, 2))
    win = view[:, sh + lo_h][:, :, sw + lo_w][..., :: d[0], :: d[1]]  # (P, OH, OW, kh, kw)
    taps = win.reshape(win.shape[:3] + (-1,))  # scan order: window row, then column
    valid = ((rows[:, None, :, None] >= 0) & (rows[:, None, :, None] < h)
             & (cols[None, :, None, :] >= 0) & (cols[None, :, None, :] < w))
    valid = valid.reshape(valid.shape[:2] + (-1,))
    flat = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(valid.shape)
    nan = np.isnan(taps)
    with np.errstate(invalid="ignore"):
        m = np.where(nan.any(-1), _nan, np.max(np.where(nan, -_inf, taps), axis=-1))
    # first valid tap equal to the max; with nans, the last nan (torch's CPU rule)
    first = np.argmax((taps == m[..., None]) & valid, axis=-1)
    last_nan = taps.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    pick = np.where(nan.any(-1), last_nan, first)
    idx = np.take_along_axis(np.broadcast_to(flat, taps.shape), pick[..., None], -1)[..., 0]
    out_shape = lead + m.shape[1:]
    return _out(m.reshape(out_shape), dt), idx.reshape(out_shape).astype(np.int64)


def maxpool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    a = np.asarray(x)
    one = lambda v: (1, v[0] if isinstance(v, (tuple, list)) else v)  # noqa: E731
    y, idx = maxpool2d(a[..., None, :], one(kernel_size), None if stride is None else one(stride),
                       (0, one(padding)[1]), one(dilation), ceil_mode)
    return y[..., 0, :], idx[..., 0, :]


def maxpool2d_backward(grad, indices, input_shape):
    g = np.asarray(grad, np.float64)
    n_planes = int(np.prod(input_shape[:-2]))
    dx = np.zeros((n_planes, input_shape[-2] * input_shape[-1]))
    planes = np.repeat(np.arange(n_planes), g.size // max(n_planes, 1))
    np.add.at(dx, (planes, np.asarray(indices).reshape(-1)), g.reshape(-1))
    return _out(dx.reshape(input_shape), np.asarray(grad).dtype)


def maxpool1d_backward(grad, indices, input_shape):
    g = np.asarray(grad)
    dx = maxpool2d_backward(g[..., None, :], np.asarray(indices)[..., None, :],
                            tuple(input_shape[:-1]) + (1, input_shape[-1]))
    return dx[..., 0, :]


def maxunpool2d(y, indices, output_size):
    v = np.asarray(y, np.float64)
    h, w = output_size[-2:]
    n_planes = int(np.prod(v.shape[:-2]))
    vals = v.reshape(n_planes, -1)
    ind = np.asarray(indices).reshape(n_planes, -1)
    out = np.zeros((n_planes, h * w))
    for p in range(n_planes):  # the last occurrence of a repeated index wins
        rev = ind[p, ::-1]
        where, first_in_rev = np.unique(rev, return_index=True)
        out[p, where] = vals[p, ind.shape[1] - 1 - first_in_rev]
    return _out(out.reshape(v.shape[:-2] + (h, w)), np.asarray(y).dtype)


def global_maxpool2d(x):
    a = np.asarray(x)
    y, idx = maxpool2d(a, a.shape[-2:])
    return y[..., 0, 0], idx[..., 0, 0]


def global_maxpool2d_backward(grad, indices, input_shape):
    g = np.asarray(grad)
    return maxpool2d_backward(g[..., None, None], np.asarray(indices)[..., None, None], input_shape)


# ---------------------------------------------------------------------------------------
# Element-wise: the NumPy expressions, in float64, with the documented conventions.


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _like(out, *inputs):
    """``out`` in the result dtype of the fast functions for these inputs."""
    common = np.result_type(*[np.asarray(a).dtype for a in inputs])
    return _out(out, as_float_array(np.empty(0, common), "reference")[1])


def relu(x, at_zero=0.0):
    (a,) = _f64(x)
    return _like(np.maximum(a, 0.0), x)


def relu_backward(grad, x, at_zero=0.0):
    g, a = _f64(grad, x)
    d = np.where(a > 0, 1.0, np.where(a == 0, at_zero, 0.0))
    return _like(np.where(np.isnan(a), _nan, np.where(d == 0, 0.0, g * d)), x)


def abs_(x, at_zero=0.0):
    (a,) = _f64(x)
    return _like(np.abs(a), x)


def abs_backward(grad, x, at_zero=0.0):
    g, a = _f64(grad, x)
    d = np.where(a == 0, at_zero, np.sign(a))
    return _like(np.where(d == 0, 0.0, g * d), x)


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def _hard2_backward(grad, x, y, tie, x_wins):
    g, a, b = _f64(grad, x, y)
    a, b = np.broadcast_arrays(a, b)
    w = np.where(x_wins(a, b), 1.0, np.where(x_wins(b, a), 0.0, tie))
    w = np.where(np.isnan(a) & ~np.isnan(b), 1.0, np.where(np.isnan(b) & ~np.isnan(a), 0.0, w))
    gx = np.where(w == 0, 0.0, g * w)
    gy = np.where(w == 1, 0.0, g * (1.0 - w))
    return _like(_sum_to(gx, np.shape(x)), x, y), _like(_sum_to(gy, np.shape(y)), x, y)


def maximum(x, y, tie=0.5):
    a, b = _f64(x, y)
    return _like(np.maximum(a, b), x, y)


def maximum_backward(grad, x, y, tie=0.5):
    return _hard2_backward(grad, x, y, tie, np.greater)


def minimum(x, y, tie=0.5):
    a, b = _f64(x, y)
    return _like(np.minimum(a, b), x, y)


def minimum_backward(grad, x, y, tie=0.5):
    return _hard2_backward(grad, x, y, tie, np.less)


def max_(x, axis=-1, *, keepdims=False, ties="split"):
    (a,) = _f64(x)
    return _like(np.max(a, axis=axis, keepdims=keepdims), x)


def min_(x, axis=-1, *, keepdims=False, ties="split"):
    (a,) = _f64(x)
    return _like(np.min(a, axis=axis, keepdims=keepdims), x)


def _extreme_backward(grad, x, out, axis, ties):
    a, g, o = _f64(x, grad, out)
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % a.ndim)
    kept = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
    g, o = g.reshape(kept), o.reshape(kept)
    hit = np.where(np.isnan(o), np.isnan(a), a == o)
    if ties == "first":
        moved = np.moveaxis(hit, axes, tuple(range(-len(axes), 0)))
        flat = moved.reshape(moved.shape[: a.ndim - len(axes)] + (-1,))
        first = np.zeros_like(flat)
        np.put_along_axis(first, np.argmax(flat, axis=-1)[..., None], True, axis=-1)
        hit = np.moveaxis((first & flat).reshape(moved.shape), tuple(range(-len(axes), 0)), axes)
        return _like(np.where(hit, g, 0.0), x)
    return _like(np.where(hit, g / hit.sum(axis=axes, keepdims=True), 0.0), x)


def max_backward(grad, x, axis=-1, *, ties="split", out=None):
    if out is None:
        out = max_(x, axis)
    return _extreme_backward(grad, x, out, axis, ties)


def min_backward(grad, x, axis=-1, *, ties="split", out=None):
    if out is None:
        out = min_(x, axis)
    return _extreme_backward(grad, x, out, axis, ties)


def sigmoid(x, *, temperature=1.0):
    (a,) = _f64(x)
    with np.errstate(over="ignore"):
        return _like(np.exp(-np.logaddexp(0.0, -a / temperature)), x)


def sigmoid_backward(grad, x, *, temperature=1.0):
    g, a = _f64(grad, x)
    return _like(g * sigmoid(a, temperature=temperature) * sigmoid(-a, temperature=temperature) / temperature, x)


def softplus(x, *, temperature=1.0):
    (a,) = _f64(x)
    return _like(temperature * np.logaddexp(0.0, a / temperature), x)


def softplus_backward(grad, x, *, temperature=1.0):
    g, a = _f64(grad, x)
    return _like(g * sigmoid(a, temperature=temperature), x)


def smooth_abs(x, *, temperature=1.0):
    (a,) = _f64(x)
    z = a / (2.0 * temperature)
    return _like(2.0 * temperature * (np.logaddexp(z, -z) - np.log(2.0)), x)


def smooth_abs_backward(grad, x, *, temperature=1.0):
    g, a = _f64(grad, x)
    return _like(g * np.tanh(a / (2.0 * temperature)), x)


def smooth_maximum(x, y, *, temperature=1.0):
    a, b = _f64(x, y)
    return _like(temperature * np.logaddexp(a / temperature, b / temperature), x, y)


def smooth_maximum_backward(grad, x, y, *, temperature=1.0):
    g, a, b = _f64(grad, x, y)
    wx = sigmoid((a - b) / temperature)
    return (_like(_sum_to(g * wx, np.shape(x)), x, y),
            _like(_sum_to(g * (1.0 - wx), np.shape(y)), x, y))


def smooth_minimum(x, y, *, temperature=1.0):
    a, b = _f64(x, y)
    return _like(-temperature * np.logaddexp(-a / temperature, -b / temperature), x, y)


def smooth_minimum_backward(grad, x, y, *, temperature=1.0):
    gx, gy = smooth_maximum_backward(grad, -np.asarray(x, np.float64), -np.asarray(y, np.float64),
                                     temperature=temperature)
    return _like(gx, x, y), _like(gy, x, y)


# One row per case: input row, then the expected logsumexp, softmax, log_softmax,
# soft_argmax and hardmax of it (temperature 1). The +inf rows are where fastsmooth
# deliberately differs from SciPy, which returns nan for softmax/log_softmax there.
SPECIAL_VALUES = [
    # (case, x, logsumexp, softmax, log_softmax, soft_argmax, hardmax, scipy_agrees)
    ("empty", [], -_inf, [], [], _nan, [], True),
    ("all -inf", [-_inf, -_inf], -_inf, [_nan, _nan], [_nan, _nan], _nan, [1.0, 0.0], True),
    ("nan", [1.0, _nan, 2.0], _nan, [_nan] * 3, [_nan] * 3, _nan, [0.0, 1.0, 0.0], True),
    ("nan and +inf", [_inf, _nan], _nan, [_nan] * 2, [_nan] * 2, _nan, [0.0, 1.0], True),
    ("nan and -inf", [-_inf, _nan], _nan, [_nan] * 2, [_nan] * 2, _nan, [0.0, 1.0], True),
    ("one +inf", [1.0, _inf, 3.0], _inf, [0.0, 1.0, 0.0], [-_inf, 0.0, -_inf], 1.0, [0.0, 1.0, 0.0], False),
    ("two +inf", [_inf, 0.0, _inf], _inf, [0.5, 0.0, 0.5], [-np.log(2), -_inf, -np.log(2)], 1.0, [1.0, 0.0, 0.0], False),
    ("+inf and -inf", [-_inf, _inf], _inf, [0.0, 1.0], [-_inf, 0.0], 1.0, [0.0, 1.0], False),
    ("some -inf", [-_inf, 0.0, -_inf], 0.0, [0.0, 1.0, 0.0], [-_inf, 0.0, -_inf], 1.0, [0.0, 1.0, 0.0], True),
    ("huge", [1000.0, 1.0], 1000.0, [1.0, 0.0], [0.0, -999.0], 0.0, [1.0, 0.0], True),
    ("near max", [0.0, -40.0], 4.248354255291589e-18, [1.0, 4.248354255291589e-18],
     [-4.248354255291589e-18, -40.0], 4.248354255291589e-18, [1.0, 0.0], True),
    ("ties", [2.0, 2.0], 2.0 + np.log(2.0), [0.5, 0.5], [-np.log(2), -np.log(2)], 0.5, [1.0, 0.0], True),
    ("largest floats", [1.7e308, 1.7e308], 1.7e308, [0.5, 0.5], [-np.log(2), -np.log(2)], 0.5, [1.0, 0.0], True),
]


# ---------------------------------------------------------------------------------------
# Soft metric losses (fastsmooth._losses). Plain NumPy in the input's float dtype, as a
# user writes it: p = 1 / (1 + exp(-z)), 1 - p, sums over the batch axis, and the chain
# rule written out. Tests call them on float64 inputs. Targets are any 0/1 or [0, 1]
# array; multi-class labels are class ids (N,) or one-hot (N, K).

_LOSS_WEIGHTS = {
    # metric -> (alpha, beta): the metric is A / (A + B + eps), A = alpha . (tp, fp, fn, tn)
    "accuracy": ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 1.0, 0.0)),
    "precision": ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0)),
    "recall": ((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0)),
}


def _weights(metric, beta):
    if metric == "fbeta":
        b2 = beta * beta
        return (1.0 + b2, 0.0, 0.0, 0.0), (0.0, 1.0, b2, 0.0)
    return _LOSS_WEIGHTS[metric]


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _float(x):
    a = np.asarray(x)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def soft_confusion(logits, target, *, temperature=1.0, axis=0):
    z = _float(logits)
    t = np.asarray(target, z.dtype)
    p = _sigmoid(z / z.dtype.type(temperature))
    q = 1 - p
    return tuple(np.sum(v, axis=axis, dtype=np.float64)
                 for v in (p * t, p * (1 - t), q * t, q * (1 - t)))


def _metric_loss(counts, metric, beta, average, eps):
    """1 - metric per class (or micro), averaged; and d loss / d counts (4, ...)."""
    c = np.asarray(counts, np.float64)
    if average == "micro":
        c = c.reshape(4, -1).sum(axis=1)
    alpha, wb = _weights(metric, beta)
    a = sum(w * v for w, v in zip(alpha, c))
    b = sum(w * v for w, v in zip(wb, c))
    metric_value = a / (a + b + eps)
    d = (a + b + eps) ** 2
    # d metric / d c_j = (alpha_j (B + eps) - beta_j A) / D^2; the loss is 1 - metric
    dc = np.stack([-(al * (b + eps) - be * a) / d for al, be in zip(alpha, wb)])
    loss = 1 - metric_value
    if average == "macro":
        return np.mean(loss), dc / max(np.size(loss), 1)
    return loss, dc


def _totals(counts):
    """``counts=`` of the backward twins: (tp, fp, fn, tn), e.g. a SoftConfusion, as
    one float64 array (4, ...); None stays None."""
    return None if counts is None else np.asarray(tuple(counts), np.float64)


def _sigmoid_loss(metric, logits, target, beta, average, temperature, eps):
    counts = soft_confusion(logits, target, temperature=temperature)
    return _metric_loss(counts, metric, beta, average, eps)[0]


def _sigmoid_backward(metric, grad, logits, target, beta, average, temperature, eps, counts=None):
    """``counts`` (the totals of a larger batch) replace this part's own counts: the
    gradient is then this part's share of the larger batch's gradient."""
    z = _float(logits)
    t = np.asarray(target, z.dtype)
    if counts is None:
        counts = soft_confusion(z, t, temperature=temperature)
    _, dc = _metric_loss(counts, metric, beta, average, eps)
    dc = dc * np.asarray(grad, np.float64)
    dtp, dfp, dfn, dtn = dc
    p = _sigmoid(z / temperature)
    dp = dtp * t + dfp * (1 - t) - dfn * t - dtn * (1 - t)
    return (dp * p * (1 - p) / temperature).astype(z.dtype)


def soft_fbeta_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("fbeta", logits, target, beta, average, temperature, eps)


def soft_fbeta_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                             eps=1e-7, counts=None):
    return _sigmoid_backward("fbeta", grad, logits, target, beta, average, temperature, eps, _totals(counts))


def soft_precision_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("precision", logits, target, 1.0, average, temperature, eps)


def soft_precision_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
    counts=None):
    return _sigmoid_backward("precision", grad, logits, target, 1.0, average, temperature, eps, _totals(counts))


def soft_recall_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("recall", logits, target, 1.0, average, temperature, eps)


def soft_recall_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
    counts=None):
    return _sigmoid_backward("recall", grad, logits, target, 1.0, average, temperature, eps, _totals(counts))


def soft_accuracy_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("accuracy", logits, target, 1.0, average, temperature, eps)


def soft_accuracy_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
    counts=None):
    return _sigmoid_backward("accuracy", grad, logits, target, 1.0, average, temperature, eps, _totals(counts))


def _one_hot(labels, z):
    y = np.asarray(labels)
    if y.ndim == 1:
        return np.eye(z.shape[1], dtype=z.dtype)[y]
    return y.astype(z.dtype)


def _softmax_probs(z, temperature):
    e = np.exp((z - z.max(axis=1, keepdims=True)) / temperature)
    return e / e.sum(axis=1, keepdims=True)


def _softmax_counts(p, y):
    q = 1 - p
    return tuple(np.sum(v, axis=0, dtype=np.float64) for v in (p * y, p * (1 - y), q * y, q * (1 - y)))


def softmax_fbeta_loss(logits, labels, *, beta=1.0, average="macro", temperature=1.0, eps=1e-7):
    z = _float(logits)
    counts = _softmax_counts(_softmax_probs(z, temperature), _one_hot(labels, z))
    return _metric_loss(counts, "fbeta", beta, average, eps)[0]


def _softmax_backward(metric, grad, logits, labels, beta, average, temperature, eps, counts=None):
    z = _float(logits)
    y = _one_hot(labels, z)
    p = _softmax_probs(z, temperature)
    _, dc = _metric_loss(_softmax_counts(p, y) if counts is None else counts, metric, beta, average, eps)
    dtp, dfp, dfn, dtn = dc * np.asarray(grad, np.float64)
    gp = dtp * y + dfp * (1 - y) - dfn * y - dtn * (1 - y)  # d loss / d p
    return (p * (gp - np.sum(gp * p, axis=1, keepdims=True)) / temperature).astype(z.dtype)


def softmax_fbeta_loss_backward(grad, logits, labels, *, beta=1.0, average="macro", temperature=1.0,
                                eps=1e-7, counts=None):
    return _softmax_backward("fbeta", grad, logits, labels, beta, average, temperature, eps, _totals(counts))


def softmax_accuracy_loss(logits, labels, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7):
    z = _float(logits)
    counts = _softmax_counts(_softmax_probs(z, temperature), _one_hot(labels, z))
    return _metric_loss(counts, "recall", 1.0, average, eps)[0]


def softmax_accuracy_loss_backward(grad, logits, labels, *, beta=1.0, average="micro", temperature=1.0,
                                   eps=1e-7, counts=None):
    return _softmax_backward("recall", grad, logits, labels, 1.0, average, temperature, eps, _totals(counts))


# ---------------------------------------------------------------------------------------
# The L1 loss (fastsmooth._losses): the absolute error, its subgradient abs_backward's


def l1_loss(input, target, reduction="mean"):
    a, t = _f64(input, target)
    err = np.abs(a - t)
    out = {"none": err, "sum": err.sum(), "mean": err.mean() if err.size else _nan}[reduction]
    return _like(out, input, target)


def l1_loss_backward(grad, input, target, reduction="mean", at_zero=0.0):
    g, a, t = _f64(grad, input, target)
    scale = g / a.size if reduction == "mean" else g
    return _like(abs_backward(np.broadcast_to(scale, a.shape), a - t, at_zero), input, target)


# ---------------------------------------------------------------------------------------
# soft-DTW: the recursion in plain NumPy, anti-diagonal by anti-diagonal (vectorized over
# the pairs of a batch and the cells of an anti-diagonal), in float64


def _dtw_series(x, y):
    a = np.asarray(x, np.float64)
    b = np.asarray(y, np.float64)
    batched = a.ndim == 3
    if a.ndim == 1:
        a = a[:, None]
    if b.ndim == 1:
        b = b[:, None]
    if not batched:
        a, b = a[None], b[None]
    return a, b, batched


def _sq_cost(a, b):
    """(B, n, m) squared Euclidean cost, as a sum of squared differences."""
    return np.sum((a[:, :, None, :] - b[:, None, :, :]) ** 2, axis=-1)


def _softmin3(p, gamma):
    """Soft minimum over the first axis of ``p`` (3, ...) with +inf entries, in float64;
    ``gamma=0`` is the hard minimum."""
    with np.errstate(all="ignore"):
        m = np.min(p, axis=0)
        if gamma == 0:
            return m
        shift = np.where(np.isfinite(m), m, 0.0)
        s = np.sum(np.exp(-(p - shift) / gamma), axis=0)
        out = shift - gamma * np.log(s)
        return np.where(m == np.inf, np.inf, out)


def _dtw_table(D, gamma):
    """Padded forward table ``R`` (B, n + 2, m + 2) of the recursion on costs ``D``."""
    B, n, m = D.shape
    R = np.full((B, n + 2, m + 2), np.inf)
    R[:, 0, 0] = 0.0
    for k in range(2, n + m + 1):
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        p = np.stack([R[:, i - 1, j - 1], R[:, i - 1, j], R[:, i, j - 1]])
        R[:, i, j] = D[:, i - 1, j - 1] + _softmin3(p, gamma)
    return R


def _dtw_alignment(D, gamma):
    """Cuturi & Blondel's reverse recursion: values (B,) and E (B, n, m)."""
    B, n, m = D.shape
    R = _dtw_table(D, gamma)
    value = R[:, n, m].copy()
    Dp = np.zeros((B, n + 2, m + 2))
    Dp[:, 1:n + 1, 1:m + 1] = D
    R[:, n + 1, :] = -np.inf
    R[:, :, m + 1] = -np.inf
    R[:, n + 1, m + 1] = value
    E = np.zeros((B, n + 2, m + 2))
    E[:, n + 1, m + 1] = 1.0
    with np.errstate(all="ignore"):
        for k in range(n + m, 1, -1):
            i = np.arange(max(1, k - m), min(n, k - 1) + 1)
            j = k - i
            r = R[:, i, j]
            e = np.zeros_like(r)
            for di, dj in ((1, 0), (0, 1), (1, 1)):
                rs = R[:, i + di, j + dj]
                z = (rs - r - Dp[:, i + di, j + dj]) / gamma
                e = e + np.where(rs == np.inf, 0.0, E[:, i + di, j + dj] * np.exp(z))
            E[:, i, j] = np.where(r == np.inf, 0.0, e)
    return value, E[:, 1:n + 1, 1:m + 1]


def dtw(x, y):
    """Plain DTW (squared Euclidean cost, hard minimum): the gamma -> 0 limit."""
    a, b, batched = _dtw_series(x, y)
    D = _sq_cost(a, b)
    v = _dtw_table(D, 0)[:, D.shape[1], D.shape[2]]
    return v if batched else v[0]


def soft_dtw(x, y, *, gamma=1.0):
    a, b, batched = _dtw_series(x, y)
    D = _sq_cost(a, b)
    v = _dtw_table(D, gamma)[:, D.shape[1], D.shape[2]]
    return v if batched else v[0]


def soft_dtw_alignment(x, y, *, gamma=1.0):
    a, b, batched = _dtw_series(x, y)
    v, E = _dtw_alignment(_sq_cost(a, b), gamma)
    return (v, E) if batched else (v[0], E[0])


def soft_dtw_backward(grad, x, y, *, gamma=1.0):
    a, b, batched = _dtw_series(x, y)
    _, E = _dtw_alignment(_sq_cost(a, b), gamma)
    g = np.asarray(grad, np.float64).reshape(-1, 1, 1)
    diff = a[:, :, None, :] - b[:, None, :, :]  # (B, n, m, d)
    gx = g * np.einsum("bij,bijk->bik", E, 2 * diff)
    gy = -g * np.einsum("bij,bijk->bjk", E, 2 * diff)
    return gx.reshape(np.shape(x)), gy.reshape(np.shape(y))


def soft_dtw_cost(D, *, gamma=1.0):
    D = np.asarray(D, np.float64)
    v = _dtw_table(D.reshape(-1, *D.shape[-2:]), gamma)[:, D.shape[-2], D.shape[-1]]
    return v.reshape(D.shape[:-2])


def soft_dtw_cost_backward(grad, D, *, gamma=1.0):
    D = np.asarray(D, np.float64)
    _, E = _dtw_alignment(D.reshape(-1, *D.shape[-2:]), gamma)
    return (np.asarray(grad, np.float64).reshape(-1, 1, 1) * E).reshape(D.shape)


def soft_dtw_divergence(x, y, *, gamma=1.0):
    return soft_dtw(x, y, gamma=gamma) - 0.5 * (soft_dtw(x, x, gamma=gamma)
                                                 + soft_dtw(y, y, gamma=gamma))


def soft_dtw_divergence_backward(grad, x, y, *, gamma=1.0):
    """``(gx, gy)``: the gradient of sdtw(x, y) less half those of sdtw(x, x) and
    sdtw(y, y), where each series is both arguments."""
    gxy, gyx = soft_dtw_backward(grad, x, y, gamma=gamma)
    gxx = sum(soft_dtw_backward(grad, x, x, gamma=gamma))
    gyy = sum(soft_dtw_backward(grad, y, y, gamma=gamma))
    return gxy - 0.5 * gxx, gyx - 0.5 * gyy

# Semiring products and HMMs: the materialized (..., n, k, m) terms and plain recursions


def _semiring_terms(a, b):
    """``a[..., i, k] (x) b[..., k, j]`` as an (..., n, k, m) float64 array: ``+``, with
    ``-inf`` annihilating ``+inf`` (the semiring zero), nan propagating."""
    a, b = _f64(a, b)
    ta = a[..., :, :, None]
    tb = b[..., None, :, :]
    with np.errstate(invalid="ignore"):
        t = ta + tb
    return np.where(np.isinf(ta) & np.isinf(tb) & (ta != tb), -_inf, t)


def logmatmulexp(a, b, *, temperature=1.0):
    tau = check_temperature(temperature, "logmatmulexp")
    t = _semiring_terms(a, b) / tau
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(np.where(np.isnan(t), -_inf, t), axis=-2, keepdims=True)
        mm = np.where(np.isfinite(m), m, 0.0)
        s = np.sum(np.where(t == m, 1.0, np.exp(t - mm)), axis=-2)
        out = np.where(np.isfinite(m[..., 0, :]), np.log(s) + mm[..., 0, :], m[..., 0, :])
    out = np.where(np.isnan(s), _nan, out) * tau
    return _like(out, a, b)


def logmatmulexp_backward(grad, a, b, out, *, temperature=1.0):
    tau = check_temperature(temperature, "logmatmulexp_backward")
    g, c = _f64(grad, out)
    t = _semiring_terms(a, b)
    cc = c[..., :, None, :]
    with np.errstate(invalid="ignore", over="ignore"):
        w = np.where(t == cc, 1.0, np.exp((t - cc) / tau))
    n_inf = np.sum(t == _inf, axis=-2, keepdims=True)
    w = np.where(cc == _inf, np.where(t == _inf, 1.0, 0.0) / np.maximum(n_inf, 1), w)
    w = np.where(cc == -_inf, 0.0, w) * g[..., :, None, :]
    ga = _sum_to(w.sum(axis=-1), np.shape(a))
    gb = _sum_to(w.sum(axis=-3), np.shape(b))
    return _like(ga, grad, a, b, out), _like(gb, grad, a, b, out)


def maxplus_matmul(a, b):
    t = _semiring_terms(a, b)
    return _like(np.max(t, axis=-2), a, b), np.argmax(t, axis=-2)


def maxplus_matmul_backward(grad, index, a_shape, b_shape):
    (g,) = _f64(grad)
    k = a_shape[-1]
    onehot = (np.arange(k)[:, None] == np.asarray(index)[..., None, :]) * g[..., :, None, :]  # (..., n, k, m)
    ga = _sum_to(onehot.sum(axis=-1), tuple(a_shape))
    gb = _sum_to(onehot.sum(axis=-3), tuple(b_shape))
    return _like(ga, grad), _like(gb, grad)


def _lse(x, axis):
    m = np.max(np.where(np.isnan(x), -_inf, x), axis=axis, keepdims=True)
    mm = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        s = np.sum(np.where(x == m, 1.0, np.exp(x - mm)), axis=axis)
        out = np.where(np.isfinite(np.squeeze(m, axis)), np.log(s) + np.squeeze(mm, axis), np.squeeze(m, axis))
    return np.where(np.isnan(s), _nan, out)


def _otimes(x, y):
    with np.errstate(invalid="ignore"):
        s = x + y
    return np.where(np.isinf(x) & np.isinf(y) & (x != y), -_inf, s)


def _forward_backward_one(ls, lA, le):
    T, S = le.shape
    la = np.zeros((T, S))
    lb = np.zeros((T, S))
    la[0] = _otimes(ls, le[0])
    for t in range(1, T):
        la[t] = _otimes(_lse(_otimes(la[t - 1][:, None], lA), 0), le[t])
    for t in range(T - 2, -1, -1):
        lb[t] = _lse(_otimes(lA, _otimes(le[t + 1], lb[t + 1])[None, :]), 1)
    ll = _lse(la[-1], 0)
    if ll == -_inf:
        return ll, np.zeros((T, S)), np.zeros((S, S))
    with np.errstate(under="ignore", invalid="ignore"):
        post = np.exp(_otimes(la, lb) - ll)
        xi = np.zeros((S, S))
        for t in range(T - 1):
            xi += np.exp(_otimes(_otimes(la[t][:, None], lA), _otimes(le[t + 1], lb[t + 1])[None, :]) - ll)
    return ll, post, xi


def hmm_forward_backward(log_startprob, log_transmat, log_emission):
    """Plain log-space forward-backward, one sequence at a time (posteriors and
    expected transitions as ``exp(alpha + beta - log p(x))``, not renormalised)."""
    ls, lA, le = _f64(log_startprob, log_transmat, log_emission)
    batch = [_forward_backward_one(ls, lA, e) for e in (le if le.ndim == 3 else le[None])]
    ll, post, xi = (np.array([r[i] for r in batch]) for i in range(3))
    if le.ndim == 2:
        ll, post, xi = ll[0], post[0], xi[0]
    args = (log_startprob, log_transmat, log_emission)
    return _like(np.asarray(ll), *args), _like(post, *args), _like(xi, *args)


def viterbi(log_startprob, log_transmat, log_emission):
    """Plain max-plus Viterbi; ties to the lowest state (``np.argmax``) at every step."""
    ls, lA, le = _f64(log_startprob, log_transmat, log_emission)
    out = []
    for e in (le if le.ndim == 3 else le[None]):
        T, S = e.shape
        delta = _otimes(ls, e[0])
        psi = np.zeros((T, S), np.int64)
        for t in range(1, T):
            cand = _otimes(delta[:, None], lA)
            psi[t] = np.argmax(cand, axis=0)
            delta = _otimes(cand[psi[t], np.arange(S)], e[t])
        path = np.zeros(T, np.int64)
        path[-1] = np.argmax(delta)
        for t in range(T - 1, 0, -1):
            path[t - 1] = psi[t, path[t]]
        out.append((delta[path[-1]], path))
    logp = np.array([o[0] for o in out])
    paths = np.array([o[1] for o in out]).reshape(len(out), -1)
    args = (log_startprob, log_transmat, log_emission)
    if le.ndim == 2:
        return _like(np.asarray(logp[0]), *args), paths[0]
    return _like(logp, *args), paths
