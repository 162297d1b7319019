"""The semiring products ``logmatmulexp`` and ``maxplus_matmul`` and their backward passes
against the materialized NumPy formula (an n k m temporary; SciPy's logsumexp of it),
torch's materialized ``(a.unsqueeze(-1) + b.unsqueeze(-3)).logsumexp(-2)`` / ``.max(-2)``
and the fast but unsafe exp-matmul trick (exact on these benign inputs only).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``semiring``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_semiring.py --benchmark-only \\
        --benchmark-json=bench/results/semiring-run1.json
    python bench/report.py bench/results/semiring-run*.json --write docs/performance.md

The materialized formulas are timed up to ``fastsmooth._peers.MATERIALIZED_LIMIT`` terms.
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("semiring"))
def test_semiring(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
