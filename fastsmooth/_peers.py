"""The comparison table behind the benchmarks: for each op, how fastsmooth and its peers
(SciPy, plain NumPy, PyTorch on CPU) compute the same thing.

One table drives ``bench/`` (pytest-benchmark), the ``fastsmooth bench`` command and a
test (``tests/test_peers.py``) that checks every peer returns what fastsmooth returns --
so a benchmark always times exactly what a test has checked.

Each :class:`Case` builds its inputs once (``make``), knows how many bytes the op must
move at least (``nbytes``, for GB/s), and maps each library to a ``prepare(data)``
function that returns a zero-argument callable to time; conversions (NumPy to torch)
happen in ``prepare``, outside the timing. Peers whose library is not installed are left
out. The "numpy" column is what a user writes today: max-shifted NumPy in the input's
dtype.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

import fastsmooth as fs

__all__ = ["Case", "CASES", "SHAPES", "available_libraries"]

#: the shapes of the core benchmark (issue 2)
SHAPES = [(4096, 4096), (1, 16_000_000), (1_000_000, 8), (64, 1000)]


def available_libraries():
    libs = ["fastsmooth", "numpy"]
    for name in ("scipy", "torch"):
        if importlib.util.find_spec(name) is not None:
            libs.append(name)
    return libs


@dataclass
class Case:
    make: Callable[[tuple, np.dtype, np.random.Generator], dict]
    nbytes: Callable[[dict], int]
    impls: dict = field(default_factory=dict)


def _normal(shape, dtype, rng):
    return rng.standard_normal(shape, dtype=np.float64).astype(dtype)


def _x(shape, dtype, rng):
    return {"x": _normal(shape, dtype, rng)}


def _grad_y(shape, dtype, rng):
    x = _normal(shape, dtype, rng)
    return {"x": x, "g": _normal(shape, dtype, rng), "y": fs.softmax(x), "logy": fs.log_softmax(x)}


def _grad_out(shape, dtype, rng):
    x = _normal(shape, dtype, rng)
    return {"x": x, "out": fs.logsumexp(x), "g": _normal(shape[:-1], dtype, rng)}


def _row_bytes(d):
    return d["x"].nbytes // max(d["x"].shape[-1], 1)


def _torch():
    import torch

    return torch


def _t(a):
    return _torch().from_numpy(np.ascontiguousarray(a))


# plain NumPy, as users write it -------------------------------------------------------


def np_logsumexp(x):
    m = x.max(axis=-1, keepdims=True)
    return np.log(np.exp(x - m).sum(axis=-1)) + m[..., 0]


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_logsumexp_backward(g, x, out):
    return g[..., None] * np.exp(x - out[..., None])


def np_softmax_backward(g, y):
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def np_log_softmax_backward(g, logy):
    return g - np.exp(logy) * g.sum(axis=-1, keepdims=True)


def _torch_logsumexp_backward(g, x, out):
    """What torch's autograd formula for logsumexp computes."""
    return g.unsqueeze(-1) * (x - out.unsqueeze(-1)).exp()


def _scipy_special():
    import scipy.special

    return scipy.special


CASES: dict[str, Case] = {
    "logsumexp": Case(
        _x,
        lambda d: d["x"].nbytes + _row_bytes(d),
        {
            "fastsmooth": lambda d: partial(fs.logsumexp, d["x"]),
            "scipy": lambda d: partial(_scipy_special().logsumexp, d["x"], axis=-1),
            "numpy": lambda d: partial(np_logsumexp, d["x"]),
            "torch": lambda d: partial(_torch().logsumexp, _t(d["x"]), -1),
        },
    ),
    "softmax": Case(
        _x,
        lambda d: 2 * d["x"].nbytes,
        {
            "fastsmooth": lambda d: partial(fs.softmax, d["x"]),
            "scipy": lambda d: partial(_scipy_special().softmax, d["x"], axis=-1),
            "numpy": lambda d: partial(np_softmax, d["x"]),
            "torch": lambda d: partial(_torch().softmax, _t(d["x"]), -1),
        },
    ),
    "log_softmax": Case(
        _x,
        lambda d: 2 * d["x"].nbytes,
        {
            "fastsmooth": lambda d: partial(fs.log_softmax, d["x"]),
            "scipy": lambda d: partial(_scipy_special().log_softmax, d["x"], axis=-1),
            "numpy": lambda d: partial(np_log_softmax, d["x"]),
            "torch": lambda d: partial(_torch().log_softmax, _t(d["x"]), -1),
        },
    ),
    "logsumexp_backward": Case(
        _grad_out,
        lambda d: 2 * d["x"].nbytes + 2 * _row_bytes(d),
        {
            "fastsmooth": lambda d: partial(fs.logsumexp_backward, d["g"], d["x"], d["out"]),
            "numpy": lambda d: partial(np_logsumexp_backward, d["g"], d["x"], d["out"]),
            "torch": lambda d: partial(_torch_logsumexp_backward, _t(d["g"]), _t(d["x"]), _t(d["out"])),
        },
    ),
    "softmax_backward": Case(
        _grad_y,
        lambda d: 3 * d["x"].nbytes,
        {
            "fastsmooth": lambda d: partial(fs.softmax_backward, d["g"], d["y"]),
            "numpy": lambda d: partial(np_softmax_backward, d["g"], d["y"]),
            "torch": lambda d: partial(_torch().ops.aten._softmax_backward_data, _t(d["g"]), _t(d["y"]), -1,
                                       _t(d["y"]).dtype),
        },
    ),
    "log_softmax_backward": Case(
        _grad_y,
        lambda d: 3 * d["x"].nbytes,
        {
            "fastsmooth": lambda d: partial(fs.log_softmax_backward, d["g"], d["logy"]),
            "numpy": lambda d: partial(np_log_softmax_backward, d["g"], d["logy"]),
            "torch": lambda d: partial(_torch().ops.aten._log_softmax_backward_data, _t(d["g"]), _t(d["logy"]),
                                       -1, _t(d["logy"]).dtype),
        },
    ),
}


# Floors: not peers but what the op cannot beat -------------------------------------------


def _exp_floor_kernel():
    """A kernel that only sums exp(x) along rows with the same exp, flags and parallel
    layout as the LogSumExp kernel: the 'exp-only loop' LogSumExp is measured against."""
    from numba import prange
    from numba import uint64 as U

    from ._config import REDUCTION_FASTMATH, kernel
    from ._exp import exp

    @kernel(fastmath=REDUCTION_FASTMATH)
    def exp_row_sums(x, out):
        n = x.shape[1]
        for r in prange(x.shape[0]):
            t = x.dtype.type(0.0)
            row = x[r]
            for i in range(U(0), U(n)):
                t += exp(row[i])
            out[r] = t

    return exp_row_sums


_FLOOR = {}


def exp_floor(x):
    """Row sums of exp(x) (x 2-D C-contiguous), parallel like the real kernels."""
    from ._config import use_parallel

    if "k" not in _FLOOR:
        _FLOOR["k"] = _exp_floor_kernel()
    out = np.empty(x.shape[0], x.dtype)
    _FLOOR["k"](x, out, parallel=use_parallel(x.size))
    return out


FLOORS = {"logsumexp": {"exp-loop": lambda d: partial(exp_floor, d["x"])}}
