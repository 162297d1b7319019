"""fastsmooth.dask against the NumPy functions: many chunks along the reduced axes,
several axes, float32/float64, special values across chunk borders, results that do
not depend on the chunking, the same errors and dtypes, laziness, Dask's threaded
scheduler (also on Numba's workqueue layer), and a real two-process LocalCluster."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastsmooth as fs  # noqa: E402
import fastsmooth.dask as fsd  # noqa: E402
from fastsmooth import _config  # noqa: E402
from fastsmooth._reference import SPECIAL_VALUES  # noqa: E402

from .helpers import rng  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPS = ["logsumexp", "softmax", "log_softmax", "soft_argmax"]
MULTI_AXIS_OPS = ["logsumexp", "softmax", "log_softmax"]
RTOL = {np.float64: 1e-14, np.float32: 5e-6}


def _sync(y):
    return y.compute(scheduler="sync")


def _check(got, want, dtype, x, msg=""):
    """Equal up to ``RTOL`` relative, and to ``RTOL`` times the data's magnitude (a
    LogSumExp can cancel to ~0); specials (nan, +-inf) must match exactly."""
    finite = np.abs(x[np.isfinite(x)])
    scale = float(finite.max()) if finite.size else 1.0
    assert got.dtype == want.dtype, msg
    assert got.shape == want.shape, msg
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale, err_msg=msg)


# (shape, axis, chunks): every case has several chunks along each reduced axis
CASES = [
    ((7, 1000), 1, (3, 64)),
    ((7, 1000), 0, (2, 300)),
    ((7, 1000), -1, (7, 1)),  # a thousand chunks of one element
    ((4, 30, 50), 1, (3, 7, 20)),
    ((4, 30, 50), 2, (2, 30, 9)),
    ((4, 30, 50), 0, (1, 30, 50)),
    ((4, 30, 50), (0, 2), (1, 10, 9)),
    ((4, 30, 50), None, (3, 11, 17)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op,shape,axis,chunks", [
    pytest.param(op, *case, id=f"{op}-{'x'.join(map(str, case[0]))}-axis{case[1]}-chunks{case[2]}")
    for op in OPS for case in CASES if op in MULTI_AXIS_OPS or isinstance(case[1], int)
])
def test_matches_numpy_with_many_chunks(op, shape, axis, chunks, dtype):
    x = (3.0 * rng(1).standard_normal(shape)).astype(dtype)
    dx = da.from_array(x, chunks=chunks)
    for temperature in (1.0, 0.3):
        got = getattr(fsd, op)(dx, axis=axis, temperature=temperature, split_every=3)
        want = getattr(fs, op)(x, axis=axis, temperature=temperature)
        assert isinstance(got, da.Array) and got.dtype == dtype and got.shape == np.shape(want)
        _check(np.asarray(_sync(got)), np.asarray(want), dtype, x, f"{op} {shape} {axis} {chunks} {temperature}")


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, (1, 2), None, ()])
def test_logsumexp_keepdims_and_tuple_axes(axis, keepdims):
    x = 2.0 * rng(2).standard_normal((5, 12, 9))
    got = fsd.logsumexp(da.from_array(x, chunks=(2, 5, 4)), axis=axis, keepdims=keepdims)
    want = fs.logsumexp(x, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    _check(np.asarray(_sync(got)), np.asarray(want), np.float64, x)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_results_do_not_depend_on_the_chunking(data):
    n = data.draw(st.integers(1, 300), label="n")
    cuts = data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=40), label="cuts")
    edges = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    sizes = tuple(b - a for a, b in zip(edges, edges[1:]))
    op = data.draw(st.sampled_from(OPS), label="op")
    scale = data.draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]), label="scale")
    temperature = data.draw(st.sampled_from([1.0, 0.1, 7.0]), label="temperature")
    split_every = data.draw(st.sampled_from([2, 3, 8, None]), label="split_every")
    x = scale * rng(n).standard_normal((3, n))
    f = getattr(fsd, op)
    whole = _sync(f(da.from_array(x, chunks=(3, n)), temperature=temperature))
    split = _sync(f(da.from_array(x, chunks=(2, sizes)), temperature=temperature, split_every=split_every))
    np.testing.assert_allclose(split, whole, rtol=1e-14, atol=1e-14 * scale)
    np.testing.assert_allclose(whole, getattr(fs, op)(x, temperature=temperature), rtol=1e-14, atol=1e-14 * scale)


# ------------------------------------------------------------------ special values

_ninf, _inf, _nan = -np.inf, np.inf, np.nan


def _special_rows():
    """``(names, x)``: rows of 12, to be cut into chunks of 3, each putting special
    values across chunk borders (a chunk all -inf, +inf in one or two chunks, nan in one
    chunk...)."""
    s = np.s_

    def row(*assignments):
        r = np.linspace(-1.0, 1.0, 12)
        for where, value in assignments:
            r[where] = value
        return r

    rows = {
        "a chunk all -inf": row((s[3:6], _ninf)),
        "the first chunk all -inf": row((s[0:3], _ninf)),
        "all -inf": row((s[:], _ninf)),
        "+inf in one chunk": row((7, _inf)),
        "+inf in two chunks": row((1, _inf), (10, _inf)),
        "+inf after a chunk all -inf": row((s[0:3], _ninf), (4, _inf)),
        "nan in one chunk": row((8, _nan)),
        "nan in a chunk all -inf": row((s[3:6], _ninf), (4, _nan)),
        "+inf and nan in other chunks": row((2, _inf), (9, _nan)),
        "the maximum in three chunks": row((2, 5.0), (3, 5.0), (11, 5.0)),
        "near the maximum": row((s[:], -40.0), (5, 0.0)),
        "largest floats": row((s[:], -1.7e308), (1, 1.7e308), (11, 1.7e308)),
        "huge": row((s[:], 1.0), (6, 1000.0)),
    }
    return list(rows), np.array(list(rows.values()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", OPS)
def test_special_values_across_chunk_borders(op, dtype):
    names, x = _special_rows()
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    for axis, dx in ((1, da.from_array(x, chunks=(4, 3))), (0, da.from_array(x.T, chunks=(3, 5)))):
        got = np.asarray(_sync(getattr(fsd, op)(dx, axis=axis)))
        want = np.asarray(getattr(fs, op)(x if axis == 1 else x.T, axis=axis))
        for i, name in enumerate(names):
            g, w = (got[i], want[i]) if op in ("logsumexp", "soft_argmax") or axis == 1 else (got[:, i], want[:, i])
            np.testing.assert_allclose(g, w, rtol=RTOL[dtype], err_msg=f"{op} {name} axis={axis}")


@pytest.mark.parametrize("case", SPECIAL_VALUES, ids=[c[0] for c in SPECIAL_VALUES])
def test_special_value_table_with_one_element_per_chunk(case):
    _, row, lse, sm, lsm, sam, _, _ = case
    dx = da.from_array(np.array(row, np.float64), chunks=1)
    for op, want in (("logsumexp", lse), ("softmax", sm), ("log_softmax", lsm), ("soft_argmax", sam)):
        np.testing.assert_allclose(_sync(getattr(fsd, op)(dx)), want, rtol=1e-14, err_msg=op)


@pytest.mark.parametrize("shape,axis", [((3, 0), 1), ((3, 0), 0), ((0, 5), 1)])
@pytest.mark.parametrize("op", OPS)
def test_empty(op, shape, axis):
    x = np.empty(shape)
    got = _sync(getattr(fsd, op)(da.from_array(x), axis=axis))
    want = getattr(fs, op)(x, axis=axis)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------ API: errors, dtypes, lazy


BAD_ARGUMENTS = [
    dict(temperature=-1.0), dict(temperature=np.nan), dict(temperature="1"), dict(axis=5),
    dict(axis=1.5), dict(axis=(0, 0)), dict(x=np.ones((3, 4), complex)),
]


@pytest.mark.parametrize("op,kwargs", [(op, kw) for op in OPS for kw in BAD_ARGUMENTS]
                         + [("soft_argmax", dict(axis=None)), ("soft_argmax", dict(axis=(0, 1)))])
def test_errors_are_those_of_the_numpy_functions(op, kwargs):
    kwargs = dict(kwargs)
    x = kwargs.pop("x", np.ones((3, 4)))
    with pytest.raises((TypeError, ValueError)) as numpy_error:
        getattr(fs, op)(x, **kwargs)
    expected = numpy_error.value
    with pytest.raises(type(expected), match=re.escape(str(expected))):
        getattr(fsd, op)(da.from_array(x, chunks=2), **kwargs)


@pytest.mark.parametrize("dtype,expected", [
    (np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float16),
    (np.int64, np.float64), (np.bool_, np.float64),
])
@pytest.mark.parametrize("op", OPS)
def test_dtype_rules(op, dtype, expected):
    x = np.round(3.0 * rng(3).standard_normal((4, 20)))
    x = x > 0 if dtype is np.bool_ else x.astype(dtype)
    y = getattr(fsd, op)(da.from_array(x, chunks=(2, 6)))
    assert y.dtype == expected
    got = _sync(y)
    assert got.dtype == expected
    np.testing.assert_allclose(got, getattr(fs, op)(x), rtol=1e-3 if dtype == np.float16 else 1e-6)


def test_float16_overflow_gives_inf_without_a_warning():
    x = np.full((2, 100), 65504.0, np.float16)
    got = _sync(fsd.logsumexp(da.from_array(x, chunks=(1, 30)), temperature=1000.0))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, fs.logsumexp(x, temperature=1000.0))
    assert np.isinf(got).all()


def test_lazy_until_computed():
    produced = []

    def source(block):
        produced.append(block.shape)
        return block

    x = da.from_array(rng(4).standard_normal((4, 100)), chunks=(2, 10))
    x = x.map_blocks(source, meta=np.empty((0, 0)))
    ys = [fsd.logsumexp(x), fsd.softmax(x, axis=0), fsd.log_softmax(x), fsd.soft_argmax(x, axis=1)]
    assert produced == [] and all(isinstance(y, da.Array) for y in ys)
    results = dask.compute(*ys, scheduler="sync")
    assert len(produced) == 20  # each chunk made once, shared by the four results and both passes
    assert results[0].shape == (4,) and results[1].shape == (4, 100)


def test_accepts_array_likes():
    x = [[1.0, 2.0, 3.0], [0.0, -40.0, 1.0]]
    np.testing.assert_allclose(_sync(fsd.logsumexp(x)), fs.logsumexp(x), rtol=1e-15)


def test_importing_fastsmooth_does_not_import_dask():
    code = "import sys, fastsmooth; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


_ARRAY_EXPR = """
import json, warnings
warnings.simplefilter("error")
import dask.array as da, numpy as np
import fastsmooth as fs, fastsmooth.dask as fsd
x = 3.0 * np.random.default_rng(7).standard_normal((5, 300))
x[1, 30:60] = -np.inf
x[2, 100] = np.inf
dx = da.from_array(x, chunks=(2, 17))
bad = []
for op in ("logsumexp", "softmax", "log_softmax", "soft_argmax"):
    for axis in (0, 1):
        y = getattr(fsd, op)(dx, axis=axis, split_every=3)
        got, want = y.compute(scheduler="sync"), getattr(fs, op)(x, axis=axis)
        if y.dtype != want.dtype or got.shape != want.shape or not np.allclose(got, want, rtol=1e-14, equal_nan=True):
            bad.append(f"{op} axis={axis}")
print(json.dumps({"collection": type(dx).__module__, "bad": bad}))
"""


@pytest.mark.skipif(importlib.util.find_spec("dask.array._array_expr") is None,
                    reason="this Dask has no array-expression backend")
def test_array_expression_backend():
    """Dask's newer backend (``array.query-planning``) passes ``meta`` around
    differently; the functions must work there too."""
    env = dict(os.environ, DASK_ARRAY__QUERY_PLANNING="True")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", _ARRAY_EXPR], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"collection": "dask.array._array_expr._collection", "bad": []}


# ------------------------------------------------------------------- threads


_THREADED = """
import json, sys
import dask, dask.array as da, numpy as np
import fastsmooth as fs, fastsmooth.dask as fsd
from fastsmooth import _config
x = 3.0 * np.random.default_rng(5).standard_normal((8, 200_000))
dx = da.from_array(x, chunks=(8, 25_000))
assert 8 * 25_000 >= _config.PARALLEL_MIN_ELEMENTS  # chunks big enough for the parallel kernels
want = [fs.logsumexp(x), fs.softmax(x), fs.log_softmax(x, axis=0), fs.soft_argmax(x)]
bad = []
with dask.config.set(scheduler="threads", num_workers=16):
    for _ in range(int(sys.argv[1])):
        got = dask.compute(fsd.logsumexp(dx), fsd.softmax(dx), fsd.log_softmax(dx, axis=0), fsd.soft_argmax(dx))
        bad += [i for i, (g, w) in enumerate(zip(got, want)) if not np.allclose(g, w, rtol=1e-13, atol=1e-300)]
print(json.dumps({"layer": _config.threading_layer(), "bad": bad}))
"""


def _run_threaded(env_extra, rounds):
    env = dict(os.environ, NUMBA_NUM_THREADS="4", **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", _THREADED, str(rounds)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_threaded_scheduler_with_16_threads():
    report = _run_threaded({}, rounds=3)
    assert report["bad"] == []


def test_threaded_scheduler_on_the_workqueue_layer():
    """The issue's crash: Dask's threaded scheduler on Numba's workqueue layer."""
    report = _run_threaded({"NUMBA_THREADING_LAYER": "workqueue"}, rounds=3)
    assert report == {"layer": "workqueue", "bad": []}


# ------------------------------------------------------------------- a real cluster


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each, on the loopback interface."""
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, env=env,
    ) as cluster, distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cluster_matches_numpy(client, dtype):
    x = (3.0 * rng(6).standard_normal((6, 20_000))).astype(dtype)
    x[0, 100:1600] = -np.inf  # a whole chunk
    x[1, 7_000] = np.inf
    x[2, 15_000] = np.nan
    dx = da.from_array(x, chunks=(3, 1500))  # 14 chunks along axis 1, 2 along axis 0
    lazy, want = [], []
    for op in OPS:
        for axis in (1, 0):
            lazy.append(getattr(fsd, op)(dx, axis=axis, split_every=4))
            want.append(getattr(fs, op)(x, axis=axis))
    got = client.gather(client.compute(lazy))
    for i, (g, w) in enumerate(zip(got, want)):
        _check(np.asarray(g), np.asarray(w), dtype, x, f"{OPS[i // 2]} axis={(1, 0)[i % 2]}")


def test_cluster_special_values(client):
    names, x = _special_rows()
    dx = da.from_array(x, chunks=(5, 3))
    got = client.gather(client.compute([getattr(fsd, op)(dx) for op in OPS]))
    for op, g in zip(OPS, got):
        np.testing.assert_allclose(g, getattr(fs, op)(x), rtol=1e-14, err_msg=op)


def _cap():
    return _config._max_threads


def test_numba_threads_plugin_gives_each_worker_thread_its_share(client):
    assert set(client.run(_cap).values()) == {None}
    client.register_plugin(fsd.NumbaThreads())
    try:
        cores = client.run(lambda: _config.numba.config.NUMBA_DEFAULT_NUM_THREADS)
        share = {addr: max(1, n // 2) for addr, n in cores.items()}  # 2 worker threads on this host
        assert client.run(_cap) == share
        # in a task thread, a kernel call uses at most the share
        used = client.gather([client.submit(_config.num_threads, pure=False, workers=[a]) for a in share])
        assert used == [min(s, _config.numba.config.NUMBA_NUM_THREADS) for s in share.values()]
    finally:
        client.unregister_worker_plugin(fsd.NumbaThreads.name)
    assert set(client.run(_cap).values()) == {None}
    client.register_plugin(fsd.NumbaThreads(3))
    try:
        assert set(client.run(_cap).values()) == {3}
    finally:
        client.unregister_worker_plugin(fsd.NumbaThreads.name)


@pytest.mark.parametrize("bad", [0, 1.5, True])
def test_numba_threads_plugin_validation(bad):
    with pytest.raises(ValueError, match="NumbaThreads: `n` must be an int >= 1"):
        fsd.NumbaThreads(bad)
