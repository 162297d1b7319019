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


def _sigmoid_loss(metric, logits, target, beta, average, temperature, eps):
    counts = soft_confusion(logits, target, temperature=temperature)
    return _metric_loss(counts, metric, beta, average, eps)[0]


def _sigmoid_backward(metric, grad, logits, target, beta, average, temperature, eps):
    z = _float(logits)
    t = np.asarray(target, z.dtype)
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
                             eps=1e-7):
    return _sigmoid_backward("fbeta", grad, logits, target, beta, average, temperature, eps)


def soft_precision_loss(logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("precision", logits, target, 1.0, average, temperature, eps)


def soft_precision_loss_backward(grad, logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_backward("precision", grad, logits, target, 1.0, average, temperature, eps)


def soft_recall_loss(logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("recall", logits, target, 1.0, average, temperature, eps)


def soft_recall_loss_backward(grad, logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_backward("recall", grad, logits, target, 1.0, average, temperature, eps)


def soft_accuracy_loss(logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_loss("accuracy", logits, target, 1.0, average, temperature, eps)


def soft_accuracy_loss_backward(grad, logits, target, *, average="micro", temperature=1.0, eps=1e-7):
    return _sigmoid_backward("accuracy", grad, logits, target, 1.0, average, temperature, eps)


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


def _softmax_backward(metric, grad, logits, labels, beta, average, temperature, eps):
    z = _float(logits)
    y = _one_hot(labels, z)
    p = _softmax_probs(z, temperature)
    _, dc = _metric_loss(_softmax_counts(p, y), metric, beta, average, eps)
    dtp, dfp, dfn, dtn = dc * np.asarray(grad, np.float64)
    gp = dtp * y + dfp * (1 - y) - dfn * y - dtn * (1 - y)  # d loss / d p
    return (p * (gp - np.sum(gp * p, axis=1, keepdims=True)) / temperature).astype(z.dtype)


def softmax_fbeta_loss_backward(grad, logits, labels, *, beta=1.0, average="macro", temperature=1.0,
                                eps=1e-7):
    return _softmax_backward("fbeta", grad, logits, labels, beta, average, temperature, eps)


def softmax_accuracy_loss(logits, labels, *, average="micro", temperature=1.0, eps=1e-7):
    z = _float(logits)
    counts = _softmax_counts(_softmax_probs(z, temperature), _one_hot(labels, z))
    return _metric_loss(counts, "recall", 1.0, average, eps)[0]


def softmax_accuracy_loss_backward(grad, logits, labels, *, average="micro", temperature=1.0, eps=1e-7):
    return _softmax_backward("recall", grad, logits, labels, 1.0, average, temperature, eps)
