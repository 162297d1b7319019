"""Benchmarks of the semiring products: ``logmatmulexp`` and ``maxplus_matmul`` against
the materialized NumPy formula (an ``n k m`` temporary), torch's materialized
``(a.unsqueeze(-1) + b.unsqueeze(-3)).logsumexp(-2)`` / ``.max(-2)`` when torch is
installed, and -- for ``logmatmulexp`` -- the fast but unsafe exp-matmul trick
``log(exp(a - ma) @ exp(b - mb)) + ma + mb`` (which returns -inf or loses every digit on
adversarial inputs; fastsmooth is exact on all). The backward passes against the
materialized formula.

Run (serialised with the other benchmarks of the machine), then write the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_semiring.py \
        --benchmark-only --benchmark-json=bench/results/semiring-run1.json
    python bench/report.py bench/results/semiring-run*.json --write docs/performance.md

Inputs are standard normal ("benign": the trick is accurate there). Every case is
``(op, (a_shape, b_shape), dtype, {library: make})``; ``make(arrays)`` returns the timed
zero-argument callable. The materialized formulas allocate 1 GiB at 512**3 and run few
rounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

import fastsmooth as fs

try:
    import torch
except ImportError:  # the torch columns are skipped
    torch = None

SHAPES = [((512, 512), (512, 512)), ((64, 128, 128), (64, 128, 128)), ((1, 4096), (4096, 4096))]
DTYPES = ["float64", "float32"]


def _arrays(shapes, dtype):
    r = np.random.default_rng(0)
    a = r.standard_normal(shapes[0]).astype(dtype)
    b = r.standard_normal(shapes[1]).astype(dtype)
    c = fs.logmatmulexp(a, b)
    g = r.standard_normal(c.shape).astype(dtype)
    return dict(a=a, b=b, c=c, g=g, idx=fs.maxplus_matmul(a, b)[1])


def _trick(a, b):
    ma = a.max(-1, keepdims=True)
    mb = b.max(-2, keepdims=True)
    return np.log(np.exp(a - ma) @ np.exp(b - mb)) + ma + mb


def _np_lme(a, b):
    return logsumexp(a[..., :, :, None] + b[..., None, :, :], axis=-2)


def _np_maxplus(a, b):
    t = a[..., :, :, None] + b[..., None, :, :]
    return t.max(-2), t.argmax(-2)


def _np_lme_backward(g, a, b, c):
    w = np.exp(a[..., :, :, None] + b[..., None, :, :] - c[..., :, None, :]) * g[..., :, None, :]
    return w.sum(-1), w.sum(-3)


def _t(arrays):
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def _cases():
    cases = []
    for shapes in SHAPES:
        n, k = shapes[0][-2:]
        m = shapes[1][-1]
        batch = math.prod(shapes[0][:-2])
        for dtype in DTYPES:
            size = np.dtype(dtype).itemsize
            nbytes = (math.prod(shapes[0]) + math.prod(shapes[1]) + batch * n * m) * size

            def arrays(shapes=shapes, dtype=dtype):
                return _arrays(shapes, dtype)

            fwd = {
                "fastsmooth": lambda x: (lambda: fs.logmatmulexp(x["a"], x["b"])),
                "numpy": lambda x: (lambda: _np_lme(x["a"], x["b"])),
                "exp-matmul": lambda x: (lambda: _trick(x["a"], x["b"])),
                "torch": lambda x: (lambda t=_t(x): (t["a"].unsqueeze(-1) + t["b"].unsqueeze(-3)).logsumexp(-2)),
            }
            mp = {
                "fastsmooth": lambda x: (lambda: fs.maxplus_matmul(x["a"], x["b"])),
                "numpy": lambda x: (lambda: _np_maxplus(x["a"], x["b"])),
                "torch": lambda x: (lambda t=_t(x): (t["a"].unsqueeze(-1) + t["b"].unsqueeze(-3)).max(-2)),
            }
            cases.append(("logmatmulexp", shapes, dtype, arrays, fwd, nbytes))
            cases.append(("maxplus_matmul", shapes, dtype, arrays, mp, nbytes + batch * n * m * 8))
            if dtype == "float64" and shapes != SHAPES[1]:
                bwd = {
                    "fastsmooth": lambda x: (lambda: fs.logmatmulexp_backward(x["g"], x["a"], x["b"], x["c"])),
                    "numpy": lambda x: (lambda: _np_lme_backward(x["g"], x["a"], x["b"], x["c"])),
                }
                cases.append(("logmatmulexp_backward", shapes, dtype, arrays, bwd, 2 * nbytes))
    return cases


CASES = _cases()
PARAMS = [pytest.param(case, lib, id=f"{case[0]}-{'x'.join(map(str, case[1][0]))}-{case[2]}-{lib}")
          for case in CASES for lib in case[4]]
_ARRAYS = {}


@pytest.mark.parametrize("case,lib", PARAMS)
def test_bench(benchmark, case, lib):
    op, shapes, dtype, arrays, libs, nbytes = case
    if lib == "torch" and torch is None:
        pytest.skip("torch is not installed")
    key = (shapes, dtype)
    if key not in _ARRAYS:
        _ARRAYS.clear()  # one set of inputs alive at a time
        _ARRAYS[key] = arrays()
    fn = libs[lib](_ARRAYS[key])
    with np.errstate(all="ignore"):
        fn()  # warm: JIT compile, thread pools
    shape = "x".join(map(str, shapes[0])) + "@" + "x".join(map(str, shapes[1]))
    benchmark.group = f"{op}|{shape}|{dtype}"
    benchmark.extra_info.update(
        op=op, lib=lib, shape=[shape], dtype=dtype, bytes=nbytes,
        torch_threads=torch.get_num_threads() if torch is not None else None,
    )
    materialized = lib in ("numpy", "torch") and math.prod(shapes[0][:-1]) * shapes[1][-1] * shapes[0][-1] > 1 << 24
    with np.errstate(all="ignore"):
        if materialized:
            benchmark.pedantic(fn, rounds=2, iterations=1, warmup_rounds=0)
        else:
            benchmark.pedantic(fn, rounds=7, iterations=1, warmup_rounds=1)
