"""Shared benchmark fixtures: machine info (memory bandwidth measured in the same run,
Numba threading) recorded in the pytest-benchmark JSON."""

from __future__ import annotations

import platform
import time

import numba
import numpy as np
import pytest


def copy_bandwidth(nbytes=1 << 29, repeat=5):
    """Memory bandwidth in GB/s from a large ``np.copyto`` (bytes read + bytes written,
    single thread) and from a parallel Numba copy (all threads); best of ``repeat``."""
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

    out = {}
    for name, fn in (("np.copyto", lambda: np.copyto(dst, src)),
                     ("parallel copy", lambda: pcopy(src, dst, parallel=True))):
        fn()
        best = min(_timed(fn) for _ in range(repeat))
        out[name] = 2 * nbytes / best / 1e9
    return out


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
            "cpu_model": _cpu_model(),
            "platform": platform.platform(),
        }
    )
    for lib in ("scipy", "torch"):
        try:
            machine_info[lib] = __import__(lib).__version__
        except ImportError:
            pass


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@pytest.fixture(scope="session")
def bandwidth():
    if not _BW:
        _BW.update(copy_bandwidth())
    return dict(_BW)
