"""Thread safety: every fastsmooth function called from 16 Python threads (and the main
thread) at once gives the single-threaded results and neither crashes nor hangs, on the
threading layer Numba picked here and on ``workqueue``, the layer that aborts the whole
process on concurrent parallel launches (numba#8563/#9288)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numba

from fastsmooth import _config

from . import thread_stress

ROOT = Path(__file__).resolve().parents[1]


def _run_stress(env_extra, code=None, timeout=300):
    """Run the stress test in a fresh interpreter; ``NUMBA_NUM_THREADS=4`` so parallel
    kernels run even on a one-core machine."""
    env = dict(os.environ, NUMBA_NUM_THREADS="4", **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "tests.thread_stress", "16", "6"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_16_threads_on_the_default_layer():
    report = thread_stress.run(n_threads=16, rounds=6)
    assert report["errors"] == []
    assert report["calls"] == report["expected_calls"]
    layer = report["layer"]
    threads = numba.get_num_threads() > 1
    # omp/tbb: every thread runs parallel kernels; workqueue: only the main thread
    assert report["parallel_off_main_thread"] == (threads and layer in _config.THREAD_SAFE_LAYERS)
    assert report["parallel_on_main_thread"] == threads


def test_16_threads_on_workqueue_run_serial_kernels_off_the_main_thread():
    proc = _run_stress({"NUMBA_THREADING_LAYER": "workqueue"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["layer"] == "workqueue"
    assert report["parallel_on_main_thread"] and not report["parallel_off_main_thread"]
    assert report["errors"] == []
    assert report["calls"] == report["expected_calls"]


def test_control_workqueue_aborts_without_the_main_thread_rule():
    """The control experiment: let every thread launch parallel kernels on workqueue and
    the process dies -- so the test above would catch the rule being lost."""
    code = (
        "from fastsmooth import _config\n"
        "_config.THREAD_SAFE_LAYERS = frozenset({'omp', 'tbb', 'workqueue'})\n"
        "_config.LATE_POOL_FALLBACK = False  # every launch parallel, none timed into the serial twin\n"
        "from tests import thread_stress\n"
        "print(thread_stress.run(16, 4))\n"
    )
    proc = _run_stress({"NUMBA_THREADING_LAYER": "workqueue"}, code=code)
    assert proc.returncode != 0
    assert "Concurrent access has been detected" in proc.stderr
