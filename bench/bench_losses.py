"""Soft F-beta loss, forward + backward (one training step's worth), fastsmooth against
plain NumPy (what a user writes today) and torch autograd on CPU, on the shapes of
issue 4: (1_000_000,) binary and (100_000, 100) multi-label, plus (100_000, 100)
multi-class (softmax, macro).

Two fastsmooth columns: ``fastsmooth`` is the two public calls ``soft_fbeta_loss`` then
``soft_fbeta_loss_backward`` (three passes over the data: the backward counts again);
``fastsmooth-acc`` is ``FbetaAccumulator`` ``update`` / ``loss`` / ``backward`` (two
passes: one counting, one gradient).

Besides the time, each case records the peak of memory allocated during one call,
beyond the gradient it returns (``extra_info["peak_extra_bytes"]``, from
``tracemalloc``, which sees NumPy's allocations; torch's allocator is invisible to it,
so torch reports none). fastsmooth's kernels allocate nothing of the input's size by
construction: per-task partial sums of 3 x K float64 and, in the multi-label and
multi-class kernels, one scratch row block of 3 x K per task.

Run: ``python -m pytest bench/bench_losses.py --benchmark-only
--benchmark-json=bench/results/losses.json``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fastsmooth._peers import LOSS_CASES, LOSS_SHAPES, available_libraries

LIBS = available_libraries() + ["fastsmooth-acc"]
PARAMS = [(op, lib, shape) for op in LOSS_CASES for lib in LOSS_CASES[op].impls if lib in LIBS
          for shape in LOSS_SHAPES[op]]

_DATA = {}


def _data(op, shape, dtype):
    key = (op, shape, dtype)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = LOSS_CASES[op].make(shape, np.dtype(dtype), np.random.default_rng(0))
    return _DATA[key]


def peak_extra_bytes(fn):
    """Peak bytes allocated (as tracemalloc sees them) during ``fn()``, minus the
    returned gradient's own size."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        _, grad = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return max(peak - np.asarray(grad).nbytes, 0) if isinstance(grad, np.ndarray) else None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op,lib,shape", PARAMS, ids=[f"{o}-{lib}-{'x'.join(map(str, s))}" for o, lib, s in PARAMS])
def test_losses(benchmark, op, lib, shape, dtype):
    d = _data(op, shape, dtype)
    fn = LOSS_CASES[op].impls[lib](d)
    fn()  # warm-up: JIT compile (or load from cache), page in
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|{dtype}"
    benchmark.extra_info.update(op=op, lib=lib, shape=list(shape), dtype=dtype, bytes=LOSS_CASES[op].nbytes(d),
                                input_bytes=int(d["x"].nbytes), peak_extra_bytes=peak_extra_bytes(fn))
    benchmark.pedantic(fn, rounds=9, iterations=1, warmup_rounds=1)
