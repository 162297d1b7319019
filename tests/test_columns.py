"""LogSumExp, softmax and log-softmax along an outer axis (fastsmooth._columns): the column
kernels reduce in place (no transposed copy), agree with SciPy, follow the special-value
table column by column, and give the same bits on any number of threads."""

from __future__ import annotations

import tracemalloc

import numba
import numpy as np
import pytest
import scipy.special as sp

import fastsmooth as fs
from fastsmooth import _columns, _reductions, _schedules
from fastsmooth._reference import SPECIAL_VALUES

TOL = {np.float64: dict(rtol=1e-12, atol=1e-300), np.float32: dict(rtol=3e-6, atol=1e-7)}
OPS = {"logsumexp": sp.logsumexp, "softmax": sp.softmax, "log_softmax": sp.log_softmax}


def _x(shape, dtype, seed=0):
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,axis", [
    ((7, 33), 0), ((3000, 700), 0), ((2, 1100, 300), 1), ((4, 3, 5, 6), 1), ((4, 3, 5, 6), (0, 1)),
    ((4, 3, 5, 6), (1, 2)), ((1, 9), 0), ((1300, 2), 0),
])
@pytest.mark.parametrize("op", sorted(OPS))
def test_outer_axis_agrees_with_scipy(op, shape, axis, dtype):
    x = _x(shape, dtype)
    axes = (axis,) if isinstance(axis, int) else axis
    assert _columns.as_columns(x, axes) is not None  # the column kernels run
    for tau in (1.0, 0.3):
        got = getattr(fs, op)(x, axis, temperature=tau)
        want = OPS[op](x.astype(np.float64) / tau, axis=axis)
        if op == "logsumexp":
            want = tau * want
        assert got.dtype == dtype and got.shape == want.shape
        tol = dict(TOL[dtype])
        if op == "log_softmax":  # (x - m) / tau - log1p(s) cancels near 0: absolute error ~ eps |x| / tau
            tol["atol"] = 64 * np.finfo(dtype).eps * np.abs(x).max() / tau
        np.testing.assert_allclose(got, want, **tol, err_msg=f"{op} {shape} {axis} tau={tau}")


def test_keepdims_float16_and_ints():
    x = _x((40, 6), np.float64)
    np.testing.assert_allclose(fs.logsumexp(x, 0, keepdims=True), sp.logsumexp(x, 0, keepdims=True), rtol=1e-13)
    h = fs.softmax(x.astype(np.float16), 0)
    assert h.dtype == np.float16
    np.testing.assert_allclose(h, sp.softmax(x, 0), rtol=2e-3, atol=1e-4)
    k = np.arange(12).reshape(4, 3)
    np.testing.assert_allclose(fs.log_softmax(k, 0), sp.log_softmax(k.astype(float), 0), rtol=1e-13)


def test_not_c_ordered_or_empty_inputs_take_the_row_path():
    x = _x((50, 40), np.float64)
    assert _columns.as_columns(np.asfortranarray(x), (0,)) is None
    assert _columns.as_columns(x[:, ::2], (0,)) is None
    assert _columns.as_columns(x, (1,)) is None  # the last axis: rows already
    assert _columns.as_columns(x[:, :1].copy(), (0,)) is None  # one column: rows already
    for a in (np.asfortranarray(x), x[:, ::2]):
        np.testing.assert_allclose(fs.softmax(a, 0), sp.softmax(a, 0), rtol=1e-13)
    np.testing.assert_array_equal(fs.logsumexp(np.zeros((0, 4)), 0), np.full(4, -np.inf))
    assert fs.softmax(np.zeros((0, 4)), 0).shape == (0, 4)
    assert fs.logsumexp(np.zeros((3, 0)), 0).shape == (0,)


@pytest.mark.parametrize("case", SPECIAL_VALUES, ids=[c[0] for c in SPECIAL_VALUES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values_down_a_column(case, dtype):
    """The special-value table, each case a column between ordinary columns."""
    name, x, lse, sm, lsm, *_ = case
    if dtype == np.float32 and name == "largest floats":
        x, lse = [3e38, 3e38], 3e38
    x = np.array(x, dtype)
    if x.size == 0:
        return  # test_not_c_ordered_or_empty_inputs_take_the_row_path
    n = x.size
    a = _x((n, 5), dtype)
    a[:, 2] = x
    assert _columns.as_columns(a, (0,)) is not None
    close = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0, equal_nan=True)
    np.testing.assert_allclose(fs.logsumexp(a, 0)[2], np.array(lse, dtype), **close)
    np.testing.assert_allclose(fs.softmax(a, 0)[:, 2], np.array(sm, dtype), **close)
    np.testing.assert_allclose(fs.log_softmax(a, 0)[:, 2], np.array(lsm, dtype), **close)
    others = [0, 1, 3, 4]
    np.testing.assert_allclose(fs.logsumexp(a, 0)[others], sp.logsumexp(a[:, others].astype(float), 0),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_specials_at_chunk_and_piece_edges(monkeypatch, dtype):
    """One special value per column, at chunk edges (every CHUNK_ROWS rows) and piece
    edges, in long columns cut into pieces; the other columns as SciPy."""
    monkeypatch.setattr(_columns, "MIN_PIECE_ROWS", 64)
    n = 1000
    base = _x((n, 9), dtype, seed=3)
    assert _columns.col_plan(1, n, 9, base.itemsize)[2] > 1  # several pieces
    for pos in (0, 3, 15, 16, 63, 64, 500, 999):
        for val in (np.inf, -np.inf, np.nan):
            a = base.copy()
            a[pos, 4] = val
            lse, y, ly = fs.logsumexp(a, 0), fs.softmax(a, 0), fs.log_softmax(a, 0)
            keep = [0, 1, 2, 3, 5, 6, 7, 8]
            np.testing.assert_allclose(lse[keep], sp.logsumexp(base[:, keep].astype(float), 0), **TOL[dtype])
            if val == np.inf:
                assert lse[4] == np.inf
                assert y[pos, 4] == 1 and np.count_nonzero(y[:, 4]) == 1
                assert ly[pos, 4] == 0 and np.all(np.delete(ly[:, 4], pos) == -np.inf)
            elif val != val:
                assert np.isnan(lse[4]) and np.isnan(y[:, 4]).all() and np.isnan(ly[:, 4]).all()
            else:
                want = sp.logsumexp(np.delete(base[:, 4], pos).astype(float))
                np.testing.assert_allclose(lse[4], want, **TOL[dtype])
                assert y[pos, 4] == 0 and ly[pos, 4] == -np.inf
    # two +inf in one column, in different pieces: shared; the accurate log1p finish
    a = base.copy()
    a[[10, 900], 1] = np.inf
    assert fs.softmax(a, 0)[10, 1] == 0.5 and fs.softmax(a, 0)[900, 1] == 0.5
    np.testing.assert_allclose(fs.log_softmax(a, 0)[900, 1], -np.log(2), rtol=1e-6)
    b = np.full((n, 3), -1e4, dtype)
    b[700, :] = 0.0
    b[701, :] = -40.0
    np.testing.assert_allclose(fs.logsumexp(b, 0), np.full(3, 4.248354255291589e-18), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_serial_and_parallel_give_the_same_bits(dtype):
    x = _x((3000, 1500), dtype, seed=5)  # several column blocks and pieces
    x[17, 3] = np.inf
    x[2000, 700] = np.nan
    x[:, 1000] = -np.inf
    cols = _columns.as_columns(x, (0,))
    inv_t = _reductions._inv_t(0.7, x.dtype)
    before = numba.get_num_threads()
    try:
        results = []
        for parallel, threads in ((False, 1), (True, 1), (True, before)):
            numba.set_num_threads(threads)
            results.append((_columns.col_logsumexp(cols, inv_t, 0.7, parallel),
                            _columns.col_softmax(cols, inv_t, parallel),
                            _columns.col_log_softmax(cols, inv_t, parallel)))
    finally:
        numba.set_num_threads(before)
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)


def test_the_plan_depends_on_the_shape_only():
    assert _columns.col_plan(1, 4096, 4096, 4) == (512, 8, 2, 2048)
    assert _columns.col_plan(1, 4096, 4096, 8) == (256, 16, 1, 4096)
    assert _columns.col_plan(1, 1_000_000, 8, 4) == (512, 1, 16, 62512)


@pytest.mark.parametrize("op", sorted(OPS))
def test_no_input_sized_temporary(op):
    """axis=0 of a C-ordered matrix: at most a few column states beyond the output (the
    row path made a transposed copy of the whole input)."""
    x = _x((1024, 1024), np.float64)
    f = getattr(fs, op)
    f(x, 0)  # compiled
    tracemalloc.start()
    try:
        y = f(x, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - y.nbytes < x.nbytes // 16, (op, peak)


def _vjp_ref(op, g, x, axis, tau):
    """The analytic VJPs in float64 NumPy."""
    x = x.astype(np.float64)
    g = g.astype(np.float64)
    if op == "logsumexp":
        return np.expand_dims(g, axis) * sp.softmax(x / tau, axis=axis)
    if op == "softmax":
        y = sp.softmax(x / tau, axis=axis)
        return y * (g - (g * y).sum(axis=axis, keepdims=True)) / tau
    y = sp.softmax(x / tau, axis=axis)
    return (g - y * g.sum(axis=axis, keepdims=True)) / tau


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,axis", [((7, 33), 0), ((3000, 700), 0), ((2, 1100, 300), 1)])
@pytest.mark.parametrize("op", sorted(OPS))
def test_backward_along_an_outer_axis(op, shape, axis, dtype):
    x = _x(shape, dtype, seed=7)
    tau = 0.7
    if op == "logsumexp":
        g = _x(np.delete(np.array(shape), axis), dtype, seed=8)
        got = fs.logsumexp_backward(g, x, fs.logsumexp(x, axis, temperature=tau), axis, temperature=tau)
    else:
        g = _x(shape, dtype, seed=8)
        y = getattr(fs, op)(x, axis, temperature=tau)
        got = getattr(fs, op + "_backward")(g, y, axis, temperature=tau)
    assert got.dtype == dtype and got.shape == x.shape
    want = _vjp_ref(op, g, x, axis, tau)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=1e-10 if dtype == np.float64 else 1e-4,
                               atol=scale * (1e-12 if dtype == np.float64 else 1e-5), err_msg=op)
    # the row path (a transposed copy) agrees closely
    moved = np.ascontiguousarray(np.moveaxis(x, axis, -1))
    if op == "logsumexp":
        rows = fs.logsumexp_backward(g, moved, fs.logsumexp(moved, -1, temperature=tau), -1, temperature=tau)
    else:
        gm = np.ascontiguousarray(np.moveaxis(g, axis, -1))
        rows = getattr(fs, op + "_backward")(gm, getattr(fs, op)(moved, -1, temperature=tau), -1, temperature=tau)
    np.testing.assert_allclose(got, np.moveaxis(rows, -1, axis), rtol=1e-10 if dtype == np.float64 else 1e-4,
                               atol=scale * (1e-12 if dtype == np.float64 else 1e-5))


def test_logsumexp_backward_special_columns():
    x = _x((40, 5), np.float64)
    x[[3, 30], 1] = np.inf
    x[:, 2] = -np.inf
    x[7, 3] = np.nan
    out = fs.logsumexp(x, 0)
    dx = fs.logsumexp_backward(np.full(5, 2.0), x, out, 0)
    col = np.zeros(40)
    col[[3, 30]] = 1.0
    np.testing.assert_array_equal(dx[:, 1], col)
    assert np.isnan(dx[:, 2]).all() and np.isnan(dx[:, 3]).all()
    np.testing.assert_allclose(dx[:, 0], 2 * sp.softmax(x[:, 0]), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_serial_and_parallel_give_the_same_bits(monkeypatch, dtype):
    x = _x((3000, 1500), dtype, seed=9)
    g = _x(x.shape, dtype, seed=10)
    gl = _x(1500, dtype, seed=11)
    res = []
    for par in (False, True):
        monkeypatch.setattr(_reductions, "use_parallel", lambda size, par=par: par)
        monkeypatch.setattr(_schedules, "use_parallel", lambda size, par=par: par)
        res.append((fs.softmax_backward(g, fs.softmax(x, 0), 0), fs.log_softmax_backward(g, fs.log_softmax(x, 0), 0),
                    fs.logsumexp_backward(gl, x, fs.logsumexp(x, 0), 0)))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


def test_backward_errors_name_the_argument():
    x = _x((6, 4), np.float64)
    with pytest.raises(ValueError, match="softmax_backward: `grad` must have shape"):
        fs.softmax_backward(np.ones((4, 6)), x, 0)
    with pytest.raises(ValueError, match="logsumexp_backward: `out` must have the reduced shape"):
        fs.logsumexp_backward(np.ones(4), x, np.ones(6), 0)
    with pytest.raises(TypeError, match="log_softmax_backward: `grad` must be real"):
        fs.log_softmax_backward(np.ones((6, 4), complex), x, 0)
