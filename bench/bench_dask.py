"""``fastsmooth.dask.logsumexp`` of a Dask array chunked along the reduced axis (16 chunks)
against the max-shifted expression a Dask user writes (``da.log(da.exp(x - m).sum()) +
m``) and against NumPy on the same data in memory, all computed in this process with the
synchronous scheduler (fastsmooth's kernels use their own threads inside each chunk).

Every case, peer and shape comes from the one table, ``fastsmooth._peers`` (family
``dask``; see ``bench/_table.py`` for how it is timed); skipped without Dask. Run, then
render::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_dask.py --benchmark-only \\
        --benchmark-json=bench/results/dask-table-run1.json
    python bench/report.py bench/results/dask-table-run*.json --write docs/performance.md

The cluster benchmark of docs/performance.md (wall time and peak worker memory on a
LocalCluster, a 2 GB array) is the script ``bench/dask_cluster.py``.
"""

from __future__ import annotations

import pytest

from bench._table import params, run


@pytest.mark.parametrize("op,lib,shape,dtype", params("dask"))
def test_dask(benchmark, op, lib, shape, dtype):
    run(benchmark, op, lib, shape, dtype)
