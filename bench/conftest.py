"""Shared benchmark fixtures: machine info (memory bandwidth measured in the same run,
Numba threading) recorded in the pytest-benchmark JSON."""

from __future__ import annotations

import platform
import time

import numba
import numpy as np
import pytest

from fastsmooth import _bench


def copy_bandwidth(nbytes=1 << 29, repeat=5):
    """Memory bandwidth in GB/s (bytes read + bytes written), best of ``repeat``: from a
    large ``np.copyto`` (one thread, as ``fastsmooth bench`` measures it) and from a
    parallel Numba copy (all threads)."""
    from fastsmooth._config import kernel

    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)

    @kernel
    def pcopy(a, b):
        n = a.shape[0]
        chunk = (n + 63) // 64
        for c in numba.prange(64):
            for i in range(c * chunk, min(n, (c + 1) * chunk)):
                b[i] = a[i]

    pcopy(src, dst, parallel=True)
    best = min(_timed(lambda: pcopy(src, dst, parallel=True)) for _ in range(repeat))
    return {"np.copyto": _bench.copy_bandwidth(nbytes, repeat), "parallel copy": 2 * nbytes / best / 1e9}


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


_BW = {}


def pytest_benchmark_update_machine_info(config, machine_info):
    import fastsmooth

    from fastsmooth._config import threading_layer

    layer = threading_layer()
    if not _BW:
        _BW.update(copy_bandwidth())
    machine_info.update(
        {
            "fastsmooth": fastsmooth.__version__,
            "numpy": np.__version__,
            "numba": numba.__version__,
            "numba_threads": numba.get_num_threads(),
            "threading_layer": layer,
            "copy_bandwidth_GBps": dict(_BW),
            "cpu_model": _bench._cpu_model(),
            "isa": _bench.isa(),
            "platform": platform.platform(),
        }
    )
    from fastsmooth import _peers

    machine_info.update(_peers.peer_versions())
    machine_info["peer_threads"] = _peers.peer_threads()
    machine_info["missing_peers"] = _peers.missing_libraries()


@pytest.fixture(scope="session")
def bandwidth():
    if not _BW:
        _BW.update(copy_bandwidth())
    return dict(_BW)
