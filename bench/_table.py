"""The pytest-benchmark suites of ``bench/`` driven from the one comparison table,
:mod:`fastsmooth._peers`: each ``bench/bench_<module>.py`` is a family of that table.

``params(family)`` gives one pytest parameter per (case, column, shape, dtype) of the
family's full-run shapes (the issue's shapes), columns being fastsmooth, each peer that
the case lists (NumPy, SciPy, torch, ONNX Runtime, JAX, entmax, hmmlearn, tslearn, Dask;
a missing one is skipped with a note) and the floors (the memory floor, and the exp-loop
of the forward reductions). ``run(benchmark, ...)`` times one of them: the inputs are
built once per (case, shape, dtype) and one set is kept alive at a time, the callable is
warmed (JIT compilation, thread pools, first touch) by one untimed call, whose time also
sets the number of rounds (a slow materialized formula runs a few). ``benchmark.group``
is ``"op|shape|dtype"`` and ``extra_info`` holds what ``bench/report.py`` reads: op,
lib, family, shape, dtype and ``bytes`` (what the op must move at least).

Run one family, then render it::

    flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_pooling.py --benchmark-only \\
        --benchmark-json=bench/results/pooling-run1.json
    python bench/report.py bench/results/pooling-run*.json --write docs/performance.md
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from fastsmooth import _peers


#: ``FASTSMOOTH_BENCH_QUICK=1`` in the environment: the small shapes of ``fastsmooth bench
#: --quick`` (to try a suite out; the tables of docs/performance.md use the full shapes)
QUICK = bool(os.environ.get("FASTSMOOTH_BENCH_QUICK"))


def _shape_id(shape):
    return "x".join(map(str, shape))


def params(family, shapes=None, dtypes=None, floors=True):
    """The pytest parameters ``(op, lib, shape, dtype)`` of ``family``: every case, every
    column it lists (installed or not: a missing one is skipped when run), the floors,
    on ``shapes`` (default: the full-run shapes of each case, or the quick ones under
    :data:`QUICK`) in ``dtypes`` (default:
    those the case runs in)."""
    out = []
    for op, case in _peers.FAMILIES[family].cases.items():
        cols = list(case.impls) + (list(_peers.floor_impls(op)) if floors else [])
        for shape in shapes or _peers.shapes_for(op, quick=QUICK):
            for dt in case.dtypes:
                if dtypes and dt not in dtypes:
                    continue
                for col in cols:
                    out.append(pytest.param(op, col, tuple(shape), dt, id=f"{op}-{_shape_id(shape)}-{dt}-{col}"))
    return out


_DATA = {}


def data(op, shape, dtype):
    """The inputs of case ``op`` (built once; one set alive at a time: the big ones are
    hundreds of MB)."""
    case = _peers.ALL_CASES[op]
    key = (case.make, shape, dtype)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = case.make(shape, np.dtype(dtype), np.random.default_rng(0))
    return _DATA[key]


def prepare(op, lib, shape, dtype):
    """``(callable to time, inputs)`` of one parameter, or a ``pytest.skip`` with the reason."""
    case = _peers.ALL_CASES[op]
    if not case.runnable():
        pytest.skip(f"{op} needs {', '.join(case.requires)} (not installed)")
    floors = _peers.floor_impls(op)
    if lib not in floors and not _peers.available(lib):
        pytest.skip(f"{_peers.library_of(lib)} is not installed (its column is left out)")
    d = data(op, shape, dtype)
    if lib in case.limits and case.n_elements(d) > case.limits[lib]:
        pytest.skip(f"{lib} is timed up to {case.limits[lib]} elements only")
    make = case.impls.get(lib) or floors[lib]
    return make(d), d


def run(benchmark, op, lib, shape, dtype, extra=None):
    """Time one parameter of :func:`params`. ``extra(fn, data)``, when given, returns more
    ``extra_info`` (the losses record peak memory)."""
    fn, d = prepare(op, lib, shape, dtype)
    t = time.perf_counter()
    with np.errstate(all="ignore"):
        fn()  # warm-up: JIT compile / caches / thread pools, excluded from timing
    first = time.perf_counter() - t
    case = _peers.ALL_CASES[op]
    benchmark.group = f"{op}|{_shape_id(shape)}|{dtype}"
    benchmark.extra_info.update(op=op, lib=lib, family=_peers.family_of(op).name, shape=list(shape), dtype=dtype,
                                bytes=case.nbytes(d))
    if extra is not None:
        benchmark.extra_info.update(extra(fn, d))
    # big inputs: enough rounds that a few slowed by page faults do not move the median;
    # slow peers (materialized formulas, Python loops): a few
    rounds = 2 if first > 2 else 5 if first > 0.3 else 15 if first > 0.005 else 50
    with np.errstate(all="ignore"):
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0 if first > 0.3 else 1)
