"""Benchmarks of max-pooling (forward with indices, backward) and of the element-wise
family: fastsmooth against torch CPU, ONNX Runtime and JAX (each when installed) and NumPy.

Run (serialised with the other benchmarks of the machine), then write the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_pooling.py \
        --benchmark-only --benchmark-json=bench/results/pooling.json
    python bench/report.py bench/results/pooling.json --write docs/performance.md

Every case is a row of ``CASES``: ``(op, shape, dtype, {library: make})`` where
``make(arrays)`` returns the zero-argument callable that is timed. The JIT is warmed
(and torch's thread pool started) by one untimed call; ``benchmark.group`` is
``f"{op}|{shape}|{dtype}"``; ``extra_info`` holds what ``bench/report.py`` reads (op,
lib, shape, dtype, and ``bytes``: what the op must move, inputs read once and outputs
written once).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp

import fastsmooth as fs
from fastsmooth import _peers
from fastsmooth import _reference as ref

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch columns are skipped
    torch = None

POOL_SHAPE = (32, 64, 112, 112)
POOLS = [(2, 2, 1), (3, 2, 1)]  # kernel, stride, padding
EW_SHAPE = (4096, 4096)


def _out_len(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _pool_arrays(shape, dtype, k, s, p):
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32).astype(dtype)
    y, idx = fs.maxpool2d(x, k, s, p)
    g = np.random.default_rng(1).standard_normal(y.shape, dtype=np.float32).astype(dtype)
    return dict(x=x, y=y, idx=idx, g=g)


def _torch(arrays):
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def _pool_cases():
    cases = []
    for k, s, p in POOLS:
        oh = _out_len(POOL_SHAPE[2], k, s, p)
        n_out = POOL_SHAPE[0] * POOL_SHAPE[1] * oh * oh
        x_bytes = math.prod(POOL_SHAPE) * 4
        tag = f"k{k}s{s}p{p}"

        def arrays(k=k, s=s, p=p):
            return _pool_arrays(POOL_SHAPE, np.float32, k, s, p)

        fwd = {
            "fastsmooth": lambda a, k=k, s=s, p=p: (lambda: fs.maxpool2d(a["x"], k, s, p)),
            "torch": lambda a, k=k, s=s, p=p: (
                lambda t=_torch(a): F.max_pool2d(t["x"], k, s, p, return_indices=True)
            ),
        }
        bwd = {
            "fastsmooth": lambda a: (lambda: fs.maxpool2d_backward(a["g"], a["idx"], a["x"].shape)),
            "torch": lambda a, k=k, s=s, p=p: (
                lambda t=_torch(a): torch.ops.aten.max_pool2d_with_indices_backward(
                    t["g"], t["x"], [k, k], [s, s], [p, p], [1, 1], False, t["idx"]
                )
            ),
        }
        if (k, s, p) == _peers.POOL:  # ONNX Runtime's MaxPool with indices; JAX's reduce_window (values only)
            for lib in ("onnxruntime", "jax"):
                fwd[lib] = _peers.POOL_CASES["maxpool2d"].impls[lib]
        if (k, s, p) == POOLS[0]:  # the sliding_window_view twin is slow: one shape
            fwd["numpy"] = lambda a, k=k, s=s, p=p: (lambda: ref.maxpool2d(a["x"], k, s, p))
            bwd["numpy"] = lambda a: (lambda: ref.maxpool2d_backward(a["g"], a["idx"], a["x"].shape))
        cases.append((f"maxpool2d_{tag}", POOL_SHAPE, "float32", arrays, fwd, x_bytes + n_out * 12))
        cases.append((f"maxpool2d_backward_{tag}", POOL_SHAPE, "float32", arrays, bwd, n_out * 12 + x_bytes))
    return cases


def _ew_arrays():
    r = np.random.default_rng(2)
    x = (4 * r.standard_normal(EW_SHAPE, dtype=np.float32))
    y = (4 * r.standard_normal(EW_SHAPE, dtype=np.float32))
    g = r.standard_normal(EW_SHAPE, dtype=np.float32)
    return dict(x=x, y=y, g=g)


_LN2 = np.float32(math.log(2.0))


def _ew_cases():
    n = math.prod(EW_SHAPE) * 4
    t = _torch
    table = [
        ("relu", 2, {
            "fastsmooth": lambda a: (lambda: fs.relu(a["x"])),
            "numpy": lambda a: (lambda: np.maximum(a["x"], np.float32(0))),
            "torch": lambda a: (lambda tt=t(a): torch.relu(tt["x"])),
        }),
        ("relu_backward", 3, {
            "fastsmooth": lambda a: (lambda: fs.relu_backward(a["g"], a["x"])),
            "numpy": lambda a: (lambda: np.where(a["x"] > 0, a["g"], np.float32(0))),
            "torch": lambda a: (lambda tt=t(a): torch.ops.aten.threshold_backward(tt["g"], tt["x"], 0)),
        }),
        ("sigmoid", 2, {
            "fastsmooth": lambda a: (lambda: fs.sigmoid(a["x"])),
            "scipy": lambda a: (lambda: sp.expit(a["x"])),
            "torch": lambda a: (lambda tt=t(a): torch.sigmoid(tt["x"])),
        }),
        ("sigmoid_backward", 3, {
            "fastsmooth": lambda a: (lambda: fs.sigmoid_backward(a["g"], a["x"])),
            "scipy": lambda a: (lambda: a["g"] * sp.expit(a["x"]) * sp.expit(-a["x"])),
            # torch's backward takes the saved output; its forward is not timed here
            "torch": lambda a: (lambda tt=t(a), y=torch.sigmoid(torch.from_numpy(a["x"])):
                                torch.ops.aten.sigmoid_backward(tt["g"], y)),
        }),
        ("softplus", 2, {
            "fastsmooth": lambda a: (lambda: fs.softplus(a["x"])),
            "numpy": lambda a: (lambda: np.logaddexp(np.float32(0), a["x"])),
            "torch": lambda a: (lambda tt=t(a): F.softplus(tt["x"])),
        }),
        ("smooth_abs", 2, {
            "fastsmooth": lambda a: (lambda: fs.smooth_abs(a["x"])),
            "numpy": lambda a: (lambda: 2 * np.logaddexp(a["x"] / 2, -a["x"] / 2) - 2 * _LN2),
            "torch": lambda a: (lambda tt=t(a): 2 * torch.logaddexp(tt["x"] / 2, -tt["x"] / 2) - 2 * float(_LN2)),
        }),
        ("smooth_maximum", 3, {
            "fastsmooth": lambda a: (lambda: fs.smooth_maximum(a["x"], a["y"])),
            "numpy": lambda a: (lambda: np.logaddexp(a["x"], a["y"])),
            "torch": lambda a: (lambda tt=t(a): torch.logaddexp(tt["x"], tt["y"])),
        }),
        ("maximum_backward", 5, {
            "fastsmooth": lambda a: (lambda: fs.maximum_backward(a["g"], a["x"], a["y"])),
            "numpy": lambda a: (lambda: (np.where(a["x"] > a["y"], a["g"], 0), np.where(a["x"] < a["y"], a["g"], 0))),
        }),
    ]
    return [(op, EW_SHAPE, "float32", _ew_arrays, libs, k * n) for op, k, libs in table]


CASES = _pool_cases() + _ew_cases()
PARAMS = [
    pytest.param(case, lib, id=f"{case[0]}-{lib}")
    for case in CASES
    for lib in case[4]
]
_ARRAYS = {}


@pytest.mark.parametrize("case,lib", PARAMS)
def test_bench(benchmark, case, lib):
    op, shape, dtype, arrays, libs, nbytes = case
    if lib == "torch" and torch is None:
        pytest.skip("torch is not installed")
    if lib in _peers.OPTIONAL_PEERS and lib not in _peers.available_libraries():
        pytest.skip(f"{lib} is not installed (pip install 'fastsmooth[bench]')")
    if arrays not in _ARRAYS:
        _ARRAYS.clear()  # keep one set of big inputs alive at a time
        _ARRAYS[arrays] = arrays()
    fn = libs[lib](_ARRAYS[arrays])
    fn()  # warm: JIT compile, thread pools, page cache
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|{dtype}"
    benchmark.extra_info.update(
        op=op, lib=lib, shape=list(shape), dtype=dtype, bytes=nbytes,
        torch_threads=torch.get_num_threads() if torch is not None else None,
    )
    slow = lib == "numpy" and op.startswith("maxpool")
    benchmark.pedantic(fn, rounds=3 if slow else 15, iterations=1, warmup_rounds=0 if slow else 3)
