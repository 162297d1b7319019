"""LogSumExp / softmax / log-softmax and their backward passes on the shapes of issue 2, the
forward ops along axis 0 of a C-ordered (4096, 4096) (issue 13) and the weighted
LogSumExp (``b=``, issue 14), side by side with SciPy, plain NumPy, torch (CPU), ONNX
Runtime and JAX, and against the memory floor and the exp-only loop.

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``reductions``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_reductions.py --benchmark-only \\
        --benchmark-json=bench/results/reductions-run1.json
    python bench/report.py bench/results/reductions-run*.json --write docs/performance.md

Peers run with ``PEER_THREADS`` threads (default: Numba's count); run once with
``NUMBA_NUM_THREADS=1 PEER_THREADS=1`` and once at all cores.
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("reductions"))
def test_reductions(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
