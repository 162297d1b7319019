"""The schedules of the row ops (fastsmooth._schedules): the kernel factories, the one
function that picks a schedule, and the on-disk cache of generated kernels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastsmooth import _config, _schedules
from fastsmooth._rowops import SHORT_ROW

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import numpy as np
from numba.core import event
import fastsmooth as fs
from fastsmooth import _reductions as red

compiles = []
class Count(event.Listener):
    def on_start(self, e):
        compiles.append(e.data["dispatcher"].py_func.__qualname__)
    def on_end(self, e):
        pass
event.register("numba:compile", Count())
rng = np.random.default_rng(0)
short, rows, long = rng.standard_normal((50, 7)), rng.standard_normal((4, 100)), rng.standard_normal((1, 70000))
fs.softmax(short), fs.softmax(rows), fs.softmax(long), fs.logsumexp(short, b=short)
kernels = (red._short_softmax, red._softmax_rows, red._softmax_apply, red._short_wlse)
hits = sum(sum(k.serial.stats.cache_hits.values()) for k in kernels)
misses = sum(sum(k.serial.stats.cache_misses.values()) for k in kernels)
print(len(compiles), hits, misses)
"""


def _child(cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", _CHILD], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return tuple(map(int, r.stdout.split()))


def test_generated_kernels_load_from_the_cache_in_a_new_process(tmp_path):
    """A kernel made by a factory is a copy of one template with its body in its
    globals (no closure: Numba's cache key pickles closure cells, and a dispatcher
    pickles with a per-process id) and a name of its own (the cache files are named
    after it): a second process compiles nothing."""
    compiles, hits, misses = _child(tmp_path / "cache")
    assert compiles > 0 and misses == 4 and hits == 0
    compiles, hits, misses = _child(tmp_path / "cache")
    assert (compiles, hits, misses) == (0, 4, 0)


_KERNELS_OF_THE_PACKAGE = """
import fastsmooth
from fastsmooth import _config, _schedules
kernels = _config.all_kernels()
names = [k._fn.__qualname__ for k in kernels]
dup = sorted(n for n in names if names.count(n) > 1)
closures = sorted(k.__name__ for k in kernels if k._fn.__closure__ is not None)
codes = {t.__code__.co_code for t in _schedules._TASKS_TEMPLATES.values()}
print(len(dup), len(closures), sum(k._fn.__code__.co_code in codes for k in kernels), dup, closures)
"""


def test_generated_kernels_have_no_closure_and_names_of_their_own():
    # in a new process: the package's kernels only (tests make kernels of their own)
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _KERNELS_OF_THE_PACKAGE], capture_output=True, text=True,
                          env=env, cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr
    dup, closures, generated, *rest = done.stdout.split(maxsplit=3)
    assert (dup, closures) == ("0", "0"), rest
    assert int(generated) > 15


@pytest.mark.parametrize("parallel", [False, True])
def test_one_function_picks_the_schedule(parallel):
    pick = _schedules.schedule
    assert pick(1000, SHORT_ROW, parallel)[0] == "short"
    assert pick(1000, SHORT_ROW, parallel, short=False)[0] == "rows"
    assert pick(1000, SHORT_ROW + 1, parallel) == ("rows", 1, SHORT_ROW + 1)
    few_long = pick(2, 10 * _schedules.MIN_PIECE, parallel)
    assert few_long[0] == ("pieces" if parallel else "rows")
    # by length alone: the thread count never chooses between one- and two-pass forms
    for n in (_schedules.ROW_IN_CACHE, _schedules.ROW_IN_CACHE + 1):
        kind = pick(2, n, parallel, whole=_schedules.ROW_IN_CACHE)[0]
        assert kind == ("rows" if n <= _schedules.ROW_IN_CACHE else "pieces")
    assert pick(3, 0, parallel)[0] == "rows"  # empty rows: no short-row kernel


def test_run_calls_the_picked_kernel():
    calls = []
    short = lambda x, *args, parallel: calls.append(("short", args))  # noqa: E731
    rows = lambda x, pieces, piece, *args, parallel: calls.append(("rows", pieces, piece))  # noqa: E731
    pieces = lambda x, args, n, piece, parallel: calls.append(("pieces", n, piece))  # noqa: E731
    _schedules.run(np.zeros((5, 3)), False, (1,), short=short, rows=rows, pieces=pieces)
    _schedules.run(np.zeros((5, 300)), False, (1,), short=short, rows=rows, pieces=pieces)
    _schedules.run(np.zeros((5, 300)), False, (1,), short=short, pieces=pieces)
    assert calls == [("short", (1,)), ("rows", 1, 300), ("pieces", 1, 300)]
