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
    "SPECIAL_VALUES",
]

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


def logsumexp(x, axis=-1, *, temperature=1.0, keepdims=False):
    a, axes, tau, dt = _prep(x, axis, temperature, "logsumexp")
    with np.errstate(all="ignore"):
        z = a / tau
        if a.size == 0 or any(a.shape[i] == 0 for i in axes):
            shape = [1 if i in axes else s for i, s in enumerate(a.shape)]
            out = np.full(shape, -_inf)
        else:
            m = np.max(z, axis=axes, keepdims=True)
            shift = np.where(np.isfinite(m), m, 0.0)
            out = np.log(np.sum(np.exp(z - shift), axis=axes, keepdims=True)) + shift
            out = np.where(np.isnan(z).any(axis=axes, keepdims=True), _nan, out)
        out = out * tau
        if not keepdims:
            out = out.reshape([s for i, s in enumerate(np.shape(out)) if i not in axes])
    return _out(out, dt)


def logsumexp_backward(grad, x, out, axis=-1, *, temperature=1.0):
    a, axes, tau, dt = _prep(x, axis, temperature, "logsumexp_backward")
    g = np.asarray(grad, np.float64)
    g = g.reshape([1 if i in axes else s for i, s in enumerate(a.shape)])
    return _out(g * _limit_probs(a / tau, axes) / 1.0, dt)


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
