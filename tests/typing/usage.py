"""A small typed program that uses fastsmooth; ``tests/test_typing.py`` runs
``mypy --strict`` on it against the package's stubs (``fastsmooth/__init__.pyi``)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import fastsmooth as fs


def smooth_max(x: NDArray[np.float64], tau: float) -> float:
    return float(fs.logsumexp(x, temperature=tau))


def attention(scores: NDArray[np.float32]) -> NDArray[np.float32]:
    weights = fs.softmax(scores, axis=-1, temperature=0.5)
    grad = fs.softmax_backward(np.ones_like(scores), weights, temperature=0.5)
    return np.asarray(grad, np.float32)


def pooled(images: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    y, idx = fs.maxpool2d(images, 2, stride=2)
    dx = fs.maxpool2d_backward(np.ones_like(y), idx, images.shape)
    return np.asarray(dx, np.float64), np.asarray(idx, np.int64)


def f1_step(z: NDArray[np.float64], t: NDArray[np.bool_]) -> float:
    acc = fs.FbetaAccumulator(average="macro")
    acc.update(z, t).merge(fs.FbetaAccumulator(average="macro").update(z, t))
    counts: fs.SoftConfusion = fs.soft_confusion(z, t)
    g = fs.soft_fbeta_loss_backward(1.0, z, t, counts=counts)
    return float(acc.loss()) + float(np.sum(g))


def alignment(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    value, e = fs.soft_dtw_alignment(x, y, gamma=0.1)
    _ = float(value)
    return np.asarray(e, np.float64)


def decode(start: NDArray[np.float64], trans: NDArray[np.float64], em: NDArray[np.float64]) -> int:
    ll, post, xi = fs.hmm_forward_backward(start, trans, em)
    logp, path = fs.viterbi(start, trans, em)
    return int(np.asarray(path)[-1]) + int(np.asarray(post).shape[0])


def drop_in(x: NDArray[np.float64]) -> float:
    return float(fs.scipy.logsumexp(x))


def boot() -> None:
    fs.warmup(["softmax"], dtypes="float32", progress=False)
    fs.sigmoid(np.zeros(3), temperature=2.0, out=np.empty(3))
