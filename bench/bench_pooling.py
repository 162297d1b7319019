"""Max-pooling with indices and its backward (the ResNet stem's kernel 3, stride 2, padding
1; and kernel 2, stride 2, padding 1: the cases ending in ``_k2``) against NumPy (``sliding_window_view``), torch, ONNX Runtime's MaxPool and JAX's
``reduce_window`` (values only).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``pooling``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_pooling.py --benchmark-only \\
        --benchmark-json=bench/results/pooling-run1.json
    python bench/report.py bench/results/pooling-run*.json --write docs/performance.md
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("pooling"))
def test_pooling(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
