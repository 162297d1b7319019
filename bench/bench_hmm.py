"""The HMM recursions ``hmm_forward_backward`` and ``viterbi`` for S = 8, 64, 256 states and
T = 10 000 steps against a plain NumPy recursion and hmmlearn's compiled recursions
(``hmmlearn._hmmc``: what ``implementation="log"`` and ``"scaling"`` call).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``hmm``; see ``bench/_table.py`` for how it is timed). A peer that is not installed is
skipped with a note. Run (serialised with the other benchmarks of the machine), then
render the table::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_hmm.py --benchmark-only \\
        --benchmark-json=bench/results/hmm-run1.json
    python bench/report.py bench/results/hmm-run*.json --write docs/performance.md

Run at one thread too (``NUMBA_NUM_THREADS=1``): hmmlearn is single-threaded. Its log
implementation is timed up to S = 64 (about 40 s at S = 256).
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("hmm"))
def test_hmm(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
