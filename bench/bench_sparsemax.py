"""Benchmarks of sparsemax and sparsemax_backward: fastsmooth against a vectorized
NumPy implementation (sort, cumsum, threshold: the textbook algorithm as a user writes
it) and the ``entmax`` package (PyTorch CPU, sort-based; skipped with a note when
entmax or torch is missing).

Run (serialised with the other benchmarks of the machine)::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_sparsemax.py \\
        --benchmark-only --benchmark-json=bench/results/sparsemax.json

``benchmark.group`` is ``f"{op}|{shape}|{dtype}"``; the JIT is warmed by one untimed
call. entmax's backward is timed as ``torch.autograd.grad`` of its saved graph (its
forward is not timed again).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs

try:
    import torch
    from entmax import sparsemax as entmax_sparsemax
except ImportError:  # the entmax columns are skipped
    torch = entmax_sparsemax = None

SHAPES = [(4096, 4096), (64, 1000), (1_000_000, 8)]
DTYPES = ["float32", "float64"]


def numpy_sparsemax(z):
    """Sort-based sparsemax along the last axis (Martins & Astudillo, Algorithm 1)."""
    z = z - z.max(axis=-1, keepdims=True)
    srt = -np.sort(-z, axis=-1)
    cs = np.cumsum(srt, axis=-1) - 1
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    kk = np.count_nonzero(srt * k > cs, axis=-1)[..., None]
    theta = np.take_along_axis(cs, kk - 1, -1) / kk.astype(z.dtype)
    return np.maximum(z - theta, 0)


def numpy_sparsemax_backward(g, y):
    on = y > 0
    mean = np.where(on, g, 0).sum(-1, keepdims=True) / on.sum(-1, keepdims=True)
    return np.where(on, g - mean, 0)


_DATA = {}


def _data(shape, dtype):
    key = (shape, dtype)
    if key not in _DATA:
        _DATA.clear()
        r = np.random.default_rng(0)
        x = (2.0 * r.standard_normal(shape)).astype(dtype)
        _DATA[key] = dict(x=x, y=fs.sparsemax(x), g=r.standard_normal(shape).astype(dtype))
    return _DATA[key]


def _entmax_backward(d):
    x = torch.from_numpy(d["x"]).requires_grad_(True)
    y = entmax_sparsemax(x, dim=-1)
    g = torch.from_numpy(d["g"])
    return lambda: torch.autograd.grad(y, x, g, retain_graph=True)


IMPLS = {
    "sparsemax": {
        "fastsmooth": lambda d: (lambda: fs.sparsemax(d["x"])),
        "numpy": lambda d: (lambda: numpy_sparsemax(d["x"])),
        "entmax": lambda d: (lambda t=torch.from_numpy(d["x"]): entmax_sparsemax(t, dim=-1)),
    },
    "sparsemax_backward": {
        "fastsmooth": lambda d: (lambda: fs.sparsemax_backward(d["g"], d["y"])),
        "numpy": lambda d: (lambda: numpy_sparsemax_backward(d["g"], d["y"])),
        "entmax": _entmax_backward,
    },
}
PARAMS = [(op, lib) for op in IMPLS for lib in IMPLS[op]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op,lib", PARAMS, ids=[f"{o}-{l}" for o, l in PARAMS])
def test_sparsemax(benchmark, op, lib, shape, dtype):
    if lib == "entmax" and entmax_sparsemax is None:
        pytest.skip("entmax (and torch) not installed: pip install entmax --no-deps")
    d = _data(shape, dtype)
    fn = IMPLS[op][lib](d)
    fn()  # warm-up: JIT compile / caches, excluded from timing
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|{dtype}"
    benchmark.extra_info.update(op=op, lib=lib, shape=list(shape), dtype=dtype, bytes=2 * d["x"].nbytes)
    n = int(np.prod(shape))
    benchmark.pedantic(fn, rounds=5 if n >= 1 << 20 else 30, iterations=1, warmup_rounds=1)
