"""The element-wise family (relu, sigmoid, softplus, smooth_abs, smooth_maximum and
backward passes) against the stable NumPy expression a user writes, SciPy's expit and
torch.

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``elementwise``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_elementwise.py --benchmark-only \\
        --benchmark-json=bench/results/elementwise-run1.json
    python bench/report.py bench/results/elementwise-run*.json --write docs/performance.md
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("elementwise"))
def test_elementwise(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
