"""The losses, forward + backward (one training step's worth): soft F-beta binary (N,)
and multi-label (N, K), multi-class softmax F-beta (macro), and the L1 loss, against
plain NumPy (what a user writes today) and torch autograd on CPU.

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``losses``; see ``bench/_table.py`` for how it is timed). Two fastsmooth columns:
``fastsmooth`` is the two public calls (loss, then backward: the backward counts again);
``fastsmooth-acc`` is ``FbetaAccumulator`` ``update`` / ``loss`` / ``backward`` (one
counting pass, one gradient pass).

Besides the time, each case records the peak of memory allocated during one call,
beyond the gradient it returns (``extra_info["peak_extra_bytes"]``, from
``tracemalloc``, which sees NumPy's allocations; torch's allocator is invisible to it,
so torch reports none); ``bench/report.py`` shows it. Run, then render::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_losses.py --benchmark-only \\
        --benchmark-json=bench/results/losses-run1.json
    python bench/report.py bench/results/losses-run*.json --write docs/performance.md
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from bench._table import params, run


def peak_extra_bytes(fn):
    """Peak bytes allocated (as tracemalloc sees them) during ``fn()``, minus the
    returned gradient's own size; None for a gradient tracemalloc cannot see."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    grad = result[1] if isinstance(result, tuple) and len(result) == 2 else None
    return max(peak - grad.nbytes, 0) if isinstance(grad, np.ndarray) else None


def _memory(fn, d):
    return {"input_bytes": int(d["x"].nbytes), "peak_extra_bytes": peak_extra_bytes(fn)}


@pytest.mark.parametrize("op,lib,shape,dtype", params("losses"))
def test_losses(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype, extra=None if lib in ("floor",) else _memory)
