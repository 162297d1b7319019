"""SHA-256 of every public function's output on a fixed set of inputs.

Run as ``python -m tests.repro_digest`` in processes with different
``NUMBA_NUM_THREADS`` (``tests/test_reproducibility.py`` does, with 1, 2, 3 and 8): the
reproducibility contract says the digests are identical. With one thread every call
runs the serial twin of its kernel; with more, the big inputs run the parallel twin.

The inputs cover each planning case of the library in float32 and float64: long rows
(cut into pieces across threads), wide matrices, short rows (the row-group kernels),
pooling planes (cut into bands when there are few), element-wise arrays (chunks) and
loss batches (pieces of samples, tiles of classes), plus the small call of
``tests/test_api.CALLS`` for every public function.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

import fastsmooth as fs
from fastsmooth import _config

from .helpers import rng
from .test_api import CALLS


def _reductions(dt):
    big = _config.PARALLEL_MIN_ELEMENTS
    long = (3.0 * rng(1).standard_normal((2, max(3 * 8192 * 5 + 17, big)))).astype(dt)  # cut into pieces
    wide = (3.0 * rng(2).standard_normal((64, 4099))).astype(dt)
    short = (3.0 * rng(3).standard_normal((big // 8 + 37, 8))).astype(dt)
    heat = rng(4).standard_normal((max(16, -(-big // 2304)), 48, 48)).astype(dt)
    out = []
    for label, x in (("long", long), ("wide", wide), ("short", short)):
        n = x.shape[0]
        g = rng(5).standard_normal(x.shape).astype(dt)
        lse, y, ly = fs.logsumexp(x, temperature=0.7), fs.softmax(x), fs.log_softmax(x)
        out += [
            (f"logsumexp {label}", lambda x=x: fs.logsumexp(x, temperature=0.7)),
            (f"logsumexp axis 0 {label}", lambda x=x: fs.logsumexp(x, axis=0)),
            (f"logsumexp_backward {label}",
             lambda x=x, n=n, lse=lse: fs.logsumexp_backward(np.ones(n, x.dtype), x, lse, temperature=0.7)),
            (f"softmax {label}", lambda x=x: fs.softmax(x)),
            (f"softmax_backward {label}", lambda g=g, y=y: fs.softmax_backward(g, y, temperature=2.0)),
            (f"log_softmax {label}", lambda x=x: fs.log_softmax(x, temperature=0.3)),
            (f"log_softmax_backward {label}", lambda g=g, ly=ly: fs.log_softmax_backward(g, ly)),
            (f"soft_argmax {label}", lambda x=x: fs.soft_argmax(x)),
            (f"soft_argmax_backward {label}", lambda x=x, n=n: fs.soft_argmax_backward(np.ones(n, x.dtype), x)),
            (f"hardmax {label}", lambda x=x: fs.hardmax(x)),
            (f"straight_through_hardmax {label}", lambda x=x: fs.straight_through_hardmax(x)),
            (f"max_backward {label}", lambda x=x, n=n: fs.max_backward(np.ones(n, x.dtype), x)),
            (f"min {label}", lambda x=x: fs.min(x, axis=0)),
            (f"sparsemax {label}", lambda x=x: fs.sparsemax(x, temperature=0.5)),
            (f"sparsemax_backward {label}", lambda g=g, x=x: fs.sparsemax_backward(g, fs.sparsemax(x))),
            (f"logsumexp b= {label}", lambda x=x, w=g: fs.logsumexp(x, b=w, return_sign=True)),
            (f"logsumexp_backward b= {label}",
             lambda x=x, n=n, w=g: fs.logsumexp_backward(np.ones(n, x.dtype), x,
                                                        fs.logsumexp(x, b=np.abs(w)), b=np.abs(w))),
        ]
    out += [
        ("soft_argmax2d", lambda: fs.soft_argmax2d(heat, temperature=0.5)),
        ("soft_argmax2d_backward", lambda: fs.soft_argmax2d_backward(np.ones((len(heat), 2), dt), heat)),
    ]
    return out


def _pooling(dt):
    few = rng(6).standard_normal((1, 3, 211, 199)).astype(dt)  # few planes: cut into bands
    many = rng(7).standard_normal((8, 16, 40, 40)).astype(dt)
    line = rng(8).standard_normal((2, 3, 30001)).astype(dt)
    out = []
    for label, x in (("few planes", few), ("many planes", many)):
        y, idx = fs.maxpool2d(x, 3, stride=2, padding=1)
        out += [
            (f"maxpool2d {label}", lambda x=x: fs.maxpool2d(x, 3, stride=2, padding=1)),
            (f"maxpool2d_backward {label}", lambda y=y, idx=idx, s=x.shape: fs.maxpool2d_backward(y, idx, s)),
            (f"maxunpool2d {label}", lambda y=y, idx=idx, s=x.shape: fs.maxunpool2d(y, idx, s[-2:])),
            (f"global_maxpool2d {label}", lambda x=x: fs.global_maxpool2d(x)),
        ]
    y1, i1 = fs.maxpool1d(line, 4, stride=3, dilation=2)
    out += [
        ("maxpool1d", lambda: fs.maxpool1d(line, 4, stride=3, dilation=2)),
        ("maxpool1d_backward", lambda: fs.maxpool1d_backward(y1, i1, line.shape)),
    ]
    return out


def _elementwise(dt):
    n = 2 * _config.PARALLEL_MIN_ELEMENTS + 333
    x = (4.0 * rng(9).standard_normal(n)).astype(dt)
    y = (4.0 * rng(10).standard_normal(n)).astype(dt)
    g = rng(11).standard_normal(n).astype(dt)
    return [
        ("relu", lambda: fs.relu(x)),
        ("relu_backward", lambda: fs.relu_backward(g, x, at_zero=0.5)),
        ("abs", lambda: fs.abs(x)),
        ("abs_backward", lambda: fs.abs_backward(g, x)),
        ("l1_loss", lambda: fs.l1_loss(x, y)),
        ("l1_loss_backward", lambda: fs.l1_loss_backward(2.0, x, y, reduction="sum")),
        ("maximum", lambda: fs.maximum(x, y)),
        ("maximum_backward", lambda: fs.maximum_backward(g, x, y, tie=0.25)),
        ("minimum_backward", lambda: fs.minimum_backward(g, x, y)),
        ("sigmoid", lambda: fs.sigmoid(x, temperature=0.5)),
        ("sigmoid_backward", lambda: fs.sigmoid_backward(g, x)),
        ("softplus", lambda: fs.softplus(x)),
        ("softplus_backward", lambda: fs.softplus_backward(g, x, temperature=2.0)),
        ("smooth_abs", lambda: fs.smooth_abs(x)),
        ("smooth_abs_backward", lambda: fs.smooth_abs_backward(g, x)),
        ("smooth_maximum", lambda: fs.smooth_maximum(x, y, temperature=0.5)),
        ("smooth_maximum_backward", lambda: fs.smooth_maximum_backward(g, x, y)),
        ("smooth_minimum_backward", lambda: fs.smooth_minimum_backward(g, x, y)),
    ]


def _losses(dt):
    n = 3 * 65536 + 1001
    z = (3.0 * rng(12).standard_normal(n)).astype(dt)
    t = rng(13).random(n) > 0.6
    zk = (3.0 * rng(14).standard_normal((n // 10, 10))).astype(dt)
    tk = rng(15).random(zk.shape) > 0.7
    lab = rng(16).integers(0, 10, n // 10)
    return [
        ("soft_confusion", lambda: tuple(fs.soft_confusion(zk, tk))),
        ("soft_fbeta_loss", lambda: fs.soft_fbeta_loss(z, t, beta=2.0)),
        ("soft_fbeta_loss_backward", lambda: fs.soft_fbeta_loss_backward(1.0, z, t)),
        ("soft_precision_loss_backward macro", lambda: fs.soft_precision_loss_backward(1.0, zk, tk, average="macro")),
        ("soft_accuracy_loss", lambda: fs.soft_accuracy_loss(zk, tk, average="none")),
        ("soft_recall_loss_backward", lambda: fs.soft_recall_loss_backward(1.0, z, t)),
        ("softmax_fbeta_loss", lambda: fs.softmax_fbeta_loss(zk, lab)),
        ("softmax_fbeta_loss_backward", lambda: fs.softmax_fbeta_loss_backward(1.0, zk, lab)),
        ("softmax_accuracy_loss_backward", lambda: fs.softmax_accuracy_loss_backward(1.0, zk, lab, average="macro")),
    ]


def cases():
    """``[(name, call)]`` for both dtypes, and the small call of every public function."""
    out = []
    for dt in (np.float32, np.float64):
        for family in (_reductions, _pooling, _elementwise, _losses):
            out += [(f"{name} {np.dtype(dt).name}", call) for name, call in family(dt)]
    for name, (build, kwargs) in CALLS.items():
        small = rng(17).standard_normal((2, 3, 5) if "2d" in name else (3, 5))
        args = build(small)
        out.append((f"{name} (small)", lambda f=getattr(fs, name), a=args, k=kwargs: f(*a, **k)))
    return out


def _bytes(result):
    parts = result if isinstance(result, tuple) else (result,)
    h = hashlib.sha256()
    for p in parts:
        a = np.ascontiguousarray(np.asarray(p))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def digests():
    """``{case: sha256 of its outputs}``."""
    return {name: _bytes(call()) for name, call in cases()}


if __name__ == "__main__":  # python -m tests.repro_digest
    print(json.dumps({"threads": _config.num_threads(), "digests": digests()}))
