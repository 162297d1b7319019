"""Benchmarks of soft-DTW: fastsmooth against tslearn (when installed) and the NumPy
recursion of ``fastsmooth._reference`` (anti-diagonals vectorized over the batch).

Run once per thread count (per core: ``NUMBA_NUM_THREADS=1``; all cores: the default),
serialised with the other benchmarks of the machine, then write the table::

    NUMBA_NUM_THREADS=1 flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_dtw.py \
        --benchmark-only --benchmark-json=bench/results/dtw-1thread.json
    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_dtw.py \
        --benchmark-only --benchmark-json=bench/results/dtw-2threads.json
    python bench/report_dtw.py bench/results/dtw-1thread.json bench/results/dtw-2threads.json

Cases: 1000 pairs of length 256 (d = 1 and d = 8), value and value + gradient, and one
pair of length 4096 (d = 1). tslearn computes one pair at a time and the NumPy twin is
slow, so on the batches they run the first ``PEER_PAIRS`` pairs only; ``extra_info``
records the pairs and cells timed, and the report compares time per cell. tslearn's
"value + gradient" is ``soft_dtw_alignment`` (value and E) plus the gradient from E in
NumPy (``2 (E.sum(1) x - E y)``), as a tslearn user would write it.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _reference as ref

try:
    from tslearn import metrics as ts
except ImportError:  # the tslearn column is skipped
    ts = None

GAMMA = 0.1
BATCH = 1000
LENGTH = 256
LONG = 4096
PEER_PAIRS = 50


def _arrays(B, n, d):
    r = np.random.default_rng(0)
    x = r.standard_normal((B, n, d))
    y = r.standard_normal((B, n, d))
    return x, y


def _ts_values(x, y):
    return [ts.soft_dtw(x[i], y[i], gamma=GAMMA) for i in range(len(x))]


def _ts_grads(x, y):
    out = []
    for i in range(len(x)):
        E, v = ts.soft_dtw_alignment(x[i], y[i], gamma=GAMMA)
        out.append((v, 2 * (E.sum(1)[:, None] * x[i] - E @ y[i])))
    return out


def _cases():
    cases = []
    for d in (1, 8):
        shape = (BATCH, LENGTH, LENGTH, d)
        arrays = (BATCH, LENGTH, d)
        cases.append(("soft_dtw", shape, arrays, {
            "fastsmooth": (BATCH, lambda x, y: (lambda: fs.soft_dtw(x, y, gamma=GAMMA))),
            "tslearn": (PEER_PAIRS, lambda x, y: (lambda: _ts_values(x, y))),
            "numpy": (PEER_PAIRS, lambda x, y: (lambda: ref.soft_dtw(x, y, gamma=GAMMA))),
        }))
        cases.append(("soft_dtw+grad", shape, arrays, {
            "fastsmooth": (BATCH, lambda x, y: (
                lambda g=np.ones(len(x)): fs.soft_dtw_backward(g, x, y, gamma=GAMMA))),
            "tslearn": (PEER_PAIRS, lambda x, y: (lambda: _ts_grads(x, y))),
            "numpy": (PEER_PAIRS, lambda x, y: (
                lambda g=np.ones(len(x)): ref.soft_dtw_backward(g, x, y, gamma=GAMMA))),
        }))
    shape = (1, LONG, LONG, 1)
    cases.append(("soft_dtw", shape, (1, LONG, 1), {
        "fastsmooth": (1, lambda x, y: (lambda: fs.soft_dtw(x[0], y[0], gamma=GAMMA))),
        "tslearn": (1, lambda x, y: (lambda: _ts_values(x, y))),
        "numpy": (1, lambda x, y: (lambda: ref.soft_dtw(x[0], y[0], gamma=GAMMA))),
    }))
    cases.append(("soft_dtw+grad", shape, (1, LONG, 1), {
        "fastsmooth": (1, lambda x, y: (lambda: fs.soft_dtw_backward(1.0, x[0], y[0], gamma=GAMMA))),
        "tslearn": (1, lambda x, y: (lambda: _ts_grads(x, y))),
    }))
    return cases


CASES = _cases()
PARAMS = [pytest.param(case, lib, id=f"{case[0]}-{'x'.join(map(str, case[1]))}-{lib}")
          for case in CASES for lib in case[3]]
_ARRAYS = {}


@pytest.mark.parametrize("case,lib", PARAMS)
def test_bench(benchmark, case, lib):
    op, shape, arrays, libs = case
    if lib == "tslearn" and ts is None:
        pytest.skip("tslearn is not installed")
    if arrays not in _ARRAYS:
        _ARRAYS.clear()
        _ARRAYS[arrays] = _arrays(*arrays)
    x, y = _ARRAYS[arrays]
    pairs, make = libs[lib]
    fn = make(x[:pairs], y[:pairs])
    fn()  # warm: JIT compile
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|float64"
    B, n, m, d = shape
    benchmark.extra_info.update(op=op, lib=lib, shape=list(shape), dtype="float64", pairs=pairs,
                                cells=pairs * n * m, bytes=pairs * (n + m) * d * 8)
    fast = lib == "fastsmooth"
    benchmark.pedantic(fn, rounds=5 if fast else 2, iterations=1, warmup_rounds=1 if fast else 0)
