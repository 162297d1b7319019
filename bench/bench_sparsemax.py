"""sparsemax and sparsemax_backward against the sort-based NumPy algorithm (Martins &
Astudillo 2016) and the ``entmax`` package (PyTorch CPU; its backward is
``torch.autograd.grad`` of its saved graph).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``sparsemax``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_sparsemax.py --benchmark-only \\
        --benchmark-json=bench/results/sparsemax-run1.json
    python bench/report.py bench/results/sparsemax-run*.json --write docs/performance.md
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("sparsemax"))
def test_sparsemax(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
