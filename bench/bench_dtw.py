"""soft-DTW value and value + gradient on 1000 pairs of length 256 (d = 1 and d = 8) and
one pair of length 4096, against tslearn (one pair at a time; the gradient from its
``soft_dtw_alignment``) and the NumPy recursion of ``fastsmooth._reference``
(anti-diagonals vectorized over the batch).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``dtw``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_dtw.py --benchmark-only \\
        --benchmark-json=bench/results/dtw-run1.json
    python bench/report.py bench/results/dtw-run*.json --write docs/performance.md

Run once per thread count (``NUMBA_NUM_THREADS=1`` and the default).
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("dtw"))
def test_dtw(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
