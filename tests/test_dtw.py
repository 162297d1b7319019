"""soft-DTW: values, expected alignments and gradients against the NumPy recursion of
``_reference`` (and tslearn when installed), finite differences, the gamma -> 0 limit,
special values, errors, and bit-identical schedules (serial / parallel / wavefront)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsmooth as fs
from fastsmooth import _dtw, _reference as ref

from .helpers import directional_fd, rng

SHAPES = [(1, 1, 1), (1, 5, 1), (4, 1, 2), (7, 7, 1), (9, 5, 3), (5, 12, 2), (33, 20, 8)]
GAMMAS = [0.01, 0.1, 1.0, 10.0]


def _pair(n, m, d, seed=0, batch=None):
    r = rng(seed)
    lead = () if batch is None else (batch,)
    return r.standard_normal(lead + (n, d)), r.standard_normal(lead + (m, d))


# ---------------------------------------------------------------------------------------
# forward, alignment, backward against the NumPy recursion


@pytest.mark.parametrize("n,m,d", SHAPES)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_value_matches_numpy_recursion(n, m, d, gamma):
    x, y = _pair(n, m, d, seed=n * 100 + m)
    got = fs.soft_dtw(x, y, gamma=gamma)
    assert np.ndim(got) == 0 and got.dtype == np.float64
    np.testing.assert_allclose(got, ref.soft_dtw(x, y, gamma=gamma), rtol=1e-12, atol=1e-12)
    # batch of 3 pairs of the same shapes
    xb, yb = _pair(n, m, d, seed=7, batch=3)
    got = fs.soft_dtw(xb, yb, gamma=gamma)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, ref.soft_dtw(xb, yb, gamma=gamma), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,m,d", SHAPES)
@pytest.mark.parametrize("gamma", [0.1, 1.0])
def test_alignment_matches_numpy_recursion(n, m, d, gamma):
    x, y = _pair(n, m, d, seed=3)
    value, E = fs.soft_dtw_alignment(x, y, gamma=gamma)
    want_v, want_E = ref.soft_dtw_alignment(x, y, gamma=gamma)
    assert E.shape == (n, m)
    np.testing.assert_allclose(value, want_v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(E, want_E, rtol=1e-10, atol=1e-12)
    # the value is the one soft_dtw computes, bit for bit
    assert value == fs.soft_dtw(x, y, gamma=gamma)
    # E is a probability of passing through each cell
    assert np.all(E >= 0) and np.all(E <= 1 + 1e-12)
    assert E[0, 0] == 1.0 and E[-1, -1] == 1.0
    # every alignment crosses each anti-diagonal band: each row and column is visited
    assert np.all(E.sum(axis=1) >= 1 - 1e-12) and np.all(E.sum(axis=0) >= 1 - 1e-12)


def test_alignment_batch_shape_and_order():
    xb, yb = _pair(6, 4, 2, batch=5)
    value, E = fs.soft_dtw_alignment(xb, yb, gamma=0.3)
    assert value.shape == (5,) and E.shape == (5, 6, 4)
    for b in range(5):
        v1, e1 = fs.soft_dtw_alignment(xb[b], yb[b], gamma=0.3)
        assert v1 == value[b]
        np.testing.assert_array_equal(e1, E[b])


@pytest.mark.parametrize("n,m,d", SHAPES)
def test_backward_matches_analytic_formula(n, m, d):
    x, y = _pair(n, m, d, seed=11)
    gx, gy = fs.soft_dtw_backward(0.7, x, y, gamma=0.5)
    rx, ry = ref.soft_dtw_backward(0.7, x, y, gamma=0.5)
    assert gx.shape == x.shape and gy.shape == y.shape
    np.testing.assert_allclose(gx, rx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, ry, rtol=1e-10, atol=1e-12)
    # the same from E directly: grad_x[i] = sum_j E_ij 2 (x_i - y_j)
    _, E = fs.soft_dtw_alignment(x, y, gamma=0.5)
    diff = x[:, None, :] - y[None, :, :]
    np.testing.assert_allclose(gx, 0.7 * np.einsum("ij,ijk->ik", E, 2 * diff), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("gamma", [0.05, 1.0, 5.0])
@pytest.mark.parametrize("n,m,d", [(6, 9, 1), (8, 5, 3)])
def test_backward_matches_finite_differences(n, m, d, gamma):
    x, y = _pair(n, m, d, seed=5, batch=2)
    g = np.array([1.3, -0.4])
    gx, gy = fs.soft_dtw_backward(g, x, y, gamma=gamma)
    r = rng(9)
    for _ in range(3):
        vx, vy = r.standard_normal(x.shape), r.standard_normal(y.shape)
        fx = directional_fd(lambda a: fs.soft_dtw(a, y, gamma=gamma), x, vx)
        fy = directional_fd(lambda b: fs.soft_dtw(x, b, gamma=gamma), y, vy)
        np.testing.assert_allclose(np.sum(gx * vx), np.sum(g * fx), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(np.sum(gy * vy), np.sum(g * fy), rtol=1e-6, atol=1e-7)


def test_one_dimensional_series_are_d_1():
    x, y = _pair(8, 6, 1, seed=2)
    assert fs.soft_dtw(x[:, 0], y[:, 0]) == fs.soft_dtw(x, y)
    assert fs.soft_dtw(x[:, 0], y) == fs.soft_dtw(x, y)
    gx, gy = fs.soft_dtw_backward(1.0, x[:, 0], y[:, 0])
    assert gx.shape == (8,) and gy.shape == (6,)
    hx, hy = fs.soft_dtw_backward(1.0, x, y)
    np.testing.assert_array_equal(gx, hx[:, 0])
    np.testing.assert_array_equal(gy, hy[:, 0])


def test_symmetric_bit_for_bit():
    x, y = _pair(13, 29, 3, seed=4)
    assert fs.soft_dtw(x, y, gamma=0.2) == fs.soft_dtw(y, x, gamma=0.2)
    _, E = fs.soft_dtw_alignment(x, y, gamma=0.2)
    _, Et = fs.soft_dtw_alignment(y, x, gamma=0.2)
    np.testing.assert_allclose(E, Et.T, rtol=1e-12, atol=1e-14)


def test_offset_series_do_not_cancel():
    """The cost is a sum of squared differences: a large common offset changes nothing
    but the rounding of the offset itself (|x|^2 + |y|^2 - 2 x.y would lose everything)."""
    x, y = _pair(10, 12, 2, seed=6)
    c = 1e6
    np.testing.assert_allclose(fs.soft_dtw(x + c, y + c, gamma=0.1), fs.soft_dtw(x, y, gamma=0.1),
                               rtol=1e-8)


# ---------------------------------------------------------------------------------------
# precomputed costs


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (2, 7, 4), (2, 3, 6, 6)])
def test_cost_matches_numpy_recursion(shape):
    D = rng(1).random(shape) * 3
    v = fs.soft_dtw_cost(D, gamma=0.4)
    assert np.shape(v) == shape[:-2]
    np.testing.assert_allclose(v, ref.soft_dtw_cost(D, gamma=0.4), rtol=1e-12, atol=1e-12)
    g = rng(2).standard_normal(shape[:-2])
    gd = fs.soft_dtw_cost_backward(g, D, gamma=0.4)
    assert gd.shape == shape
    np.testing.assert_allclose(gd, ref.soft_dtw_cost_backward(g, D, gamma=0.4), rtol=1e-10,
                               atol=1e-12)


def test_cost_of_squared_euclidean_is_soft_dtw():
    x, y = _pair(9, 11, 3, seed=8)
    D = np.sum((x[:, None] - y[None]) ** 2, axis=-1)
    # (NumPy's sum of the features rounds differently from the kernel's: not bit for bit)
    np.testing.assert_allclose(fs.soft_dtw_cost(D, gamma=0.3), fs.soft_dtw(x, y, gamma=0.3),
                               rtol=1e-14)
    np.testing.assert_allclose(fs.soft_dtw_cost_backward(1.0, D, gamma=0.3),
                               fs.soft_dtw_alignment(x, y, gamma=0.3)[1], rtol=1e-12, atol=0)


def test_cost_backward_matches_finite_differences():
    D = rng(3).random((7, 5))
    gd = fs.soft_dtw_cost_backward(2.0, D, gamma=0.3)
    for seed in range(3):
        v = rng(seed + 20).standard_normal(D.shape)
        fd = directional_fd(lambda a: fs.soft_dtw_cost(a, gamma=0.3), D, v)
        np.testing.assert_allclose(np.sum(gd * v), 2.0 * fd, rtol=1e-6, atol=1e-8)


def test_cost_with_forbidden_cells():
    """+inf costs (a Sakoe-Chiba band) forbid cells: they get E = 0; an all-forbidden
    matrix gives +inf and a zero gradient, without nan or warnings."""
    n = 12
    D = rng(4).random((n, n))
    i, j = np.indices(D.shape)
    band = np.where(np.abs(i - j) <= 2, D, np.inf)
    v, E_ref = ref.soft_dtw_cost(band, gamma=0.5), ref.soft_dtw_cost_backward(1.0, band, gamma=0.5)
    np.testing.assert_allclose(fs.soft_dtw_cost(band, gamma=0.5), v, rtol=1e-12)
    E = fs.soft_dtw_cost_backward(1.0, band, gamma=0.5)
    np.testing.assert_allclose(E, E_ref, rtol=1e-10, atol=1e-14)
    assert np.all(E[np.abs(i - j) > 2] == 0)
    blocked = D.copy()
    blocked[5, :] = np.inf
    assert fs.soft_dtw_cost(blocked) == np.inf
    np.testing.assert_array_equal(fs.soft_dtw_cost_backward(1.0, blocked), 0.0)


# ---------------------------------------------------------------------------------------
# limits and special values


@pytest.mark.parametrize("n,m,d", [(7, 7, 1), (9, 5, 3), (30, 41, 2)])
def test_gamma_to_zero_is_dtw(n, m, d):
    x, y = _pair(n, m, d, seed=12)
    want = ref.dtw(x, y)
    for gamma in (1e-3, 1e-6):
        # |sdtw - dtw| <= gamma log(3) (n + m): each cell's soft minimum is within
        # gamma log 3 of the minimum
        got = fs.soft_dtw(x, y, gamma=gamma)
        assert want - gamma * np.log(3) * (n + m) <= got <= want + 1e-12
    np.testing.assert_allclose(fs.soft_dtw(x, y, gamma=1e-300), want, rtol=1e-14, atol=0)
    # E tends to the 0/1 matrix of the DTW path (random data: no ties)
    _, E = fs.soft_dtw_alignment(x, y, gamma=1e-8)
    assert set(np.unique(np.round(E, 6))) <= {0.0, 1.0}
    D = np.sum((x[:, None] - y[None]) ** 2, axis=-1)
    np.testing.assert_allclose(np.sum(np.round(E) * D), want, rtol=1e-12)


@pytest.mark.parametrize("gamma", [1e-300, 1e-30, 1e3, 1e30])
def test_extreme_gamma_neither_overflows_nor_gives_nan(gamma):
    x, y = _pair(6, 8, 2, seed=1)
    v, E = fs.soft_dtw_alignment(x * 1e3, y * 1e3, gamma=gamma)
    gx, gy = fs.soft_dtw_backward(1.0, x * 1e3, y * 1e3, gamma=gamma)
    assert np.isfinite(v) and np.all(np.isfinite(E)) and np.all(np.isfinite(gx))
    assert np.all(np.isfinite(gy)) and E[0, 0] == 1 and E[-1, -1] == 1


@pytest.mark.parametrize("where", ["first", "last", "middle"])
def test_nan_poisons_its_pair_only(where):
    xb, yb = _pair(6, 9, 2, seed=13, batch=4)
    idx = {"first": (0, 0), "last": (-1, 1), "middle": (3, 0)}[where]
    xb[(1,) + idx] = np.nan
    yb[(2, -1, 0)] = np.nan  # trailing row of a y
    v = fs.soft_dtw(xb, yb)
    assert np.isnan(v[1]) and np.isnan(v[2]) and np.all(np.isfinite(v[[0, 3]]))
    gx, gy = fs.soft_dtw_backward(np.ones(4), xb, yb)
    assert np.all(np.isnan(gx[1])) and np.all(np.isnan(gy[2]))
    assert np.all(np.isfinite(gx[[0, 3]])) and np.all(np.isfinite(gy[[0, 3]]))
    value, E = fs.soft_dtw_alignment(xb, yb)
    assert np.all(np.isnan(E[1])) and np.all(np.isfinite(E[0]))
    d = fs.soft_dtw_divergence(xb, yb)
    assert np.isnan(d[1]) and np.isfinite(d[0])


# ---------------------------------------------------------------------------------------
# divergence


def test_divergence():
    xb, yb = _pair(8, 10, 2, seed=14, batch=20)
    yb[:, :8] = xb + 1e-3 * rng(1).standard_normal(xb.shape)  # some pairs are close
    for gamma in (0.01, 1.0, 10.0):
        d = fs.soft_dtw_divergence(xb, yb, gamma=gamma)
        assert np.all(d >= 0)
        np.testing.assert_allclose(d, np.maximum(ref.soft_dtw_divergence(xb, yb, gamma=gamma), 0),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(fs.soft_dtw_divergence(xb, xb, gamma=gamma), 0.0)


def test_divergence_backward():
    x, y = _pair(7, 5, 2, seed=15)
    gx, gy = fs.soft_dtw_divergence_backward(1.5, x, y, gamma=0.7)
    r = rng(3)
    for _ in range(3):
        vx, vy = r.standard_normal(x.shape), r.standard_normal(y.shape)
        fx = directional_fd(lambda a: ref.soft_dtw_divergence(a, y, gamma=0.7), x, vx)
        fy = directional_fd(lambda b: ref.soft_dtw_divergence(x, b, gamma=0.7), y, vy)
        np.testing.assert_allclose(np.sum(gx * vx), 1.5 * fx, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(np.sum(gy * vy), 1.5 * fy, rtol=1e-6, atol=1e-8)
    zx, zy = fs.soft_dtw_divergence_backward(1.0, x, x)
    np.testing.assert_allclose(zx, 0.0, atol=1e-12)
    np.testing.assert_allclose(zy, 0.0, atol=1e-12)


# ---------------------------------------------------------------------------------------
# dtypes


def test_float32_stays_float32():
    x, y = _pair(40, 30, 3, seed=16, batch=3)
    v = fs.soft_dtw(x.astype(np.float32), y.astype(np.float32), gamma=0.5)
    assert v.dtype == np.float32
    np.testing.assert_allclose(v, ref.soft_dtw(x.astype(np.float32), y.astype(np.float32),
                                               gamma=0.5), rtol=2e-5)
    gx, gy = fs.soft_dtw_backward(np.ones(3, np.float32), x.astype(np.float32),
                                  y.astype(np.float32), gamma=0.5)
    rx, ry = ref.soft_dtw_backward(np.ones(3), x.astype(np.float32), y.astype(np.float32),
                                   gamma=0.5)
    assert gx.dtype == gy.dtype == np.float32
    np.testing.assert_allclose(gx, rx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(gy, ry, rtol=1e-3, atol=1e-4)
    value, E = fs.soft_dtw_alignment(x[0].astype(np.float32), y[0].astype(np.float32))
    assert value.dtype == E.dtype == np.float32 and E[0, 0] == 1 and E[-1, -1] == 1


def test_ints_and_mixed_dtypes_compute_in_float64():
    x = np.array([0, 1, 3, 2])
    y = np.array([1, 1, 2])
    assert fs.soft_dtw(x, y).dtype == np.float64
    assert fs.soft_dtw(x, y) == fs.soft_dtw(x.astype(float), y.astype(float))
    v = fs.soft_dtw(x.astype(np.float32), y.astype(np.float64), gamma=0.1)
    assert v.dtype == np.float64 and v == fs.soft_dtw(x.astype(float), y.astype(float), gamma=0.1)
    gx, gy = fs.soft_dtw_backward(np.float32(1), x.astype(np.float32), y)
    assert gx.dtype == gy.dtype == np.float64


# ---------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("gamma", [0.0, -1.0, np.inf, np.nan])
@pytest.mark.parametrize("name", ["soft_dtw", "soft_dtw_alignment", "soft_dtw_divergence"])
def test_bad_gamma(name, gamma):
    x, y = _pair(4, 5, 1)
    with pytest.raises(ValueError, match=f"{name}: `gamma` must be a finite number > 0"):
        getattr(fs, name)(x, y, gamma=gamma)


@pytest.mark.parametrize("gamma", [0.0, -2.0, np.inf])
def test_bad_gamma_backward_and_cost(gamma):
    x, y = _pair(4, 5, 1)
    for call in (lambda: fs.soft_dtw_backward(1.0, x, y, gamma=gamma),
                 lambda: fs.soft_dtw_divergence_backward(1.0, x, y, gamma=gamma),
                 lambda: fs.soft_dtw_cost(np.ones((3, 3)), gamma=gamma),
                 lambda: fs.soft_dtw_cost_backward(1.0, np.ones((3, 3)), gamma=gamma)):
        with pytest.raises(ValueError, match="`gamma`"):
            call()
    with pytest.raises(TypeError, match="gamma"):
        fs.soft_dtw(x, y, gamma="1")


def test_bad_shapes():
    with pytest.raises(ValueError, match="soft_dtw: `x` and `y` must have the same number of features"):
        fs.soft_dtw(np.ones((4, 2)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="same number of features"):
        fs.soft_dtw(np.ones((2, 4, 2)), np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match="same number of series"):
        fs.soft_dtw(np.ones((2, 4, 2)), np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="both be one series"):
        fs.soft_dtw(np.ones((4, 2)), np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="both be one series"):
        fs.soft_dtw(np.float64(1.0), np.ones(3))
    for x, y in [(np.ones(0), np.ones(3)), (np.ones((3, 1)), np.ones((0, 1))),
                 (np.ones((2, 0, 1)), np.ones((2, 3, 1))), (np.ones((3, 0)), np.ones((2, 0)))]:
        with pytest.raises(ValueError, match="empty series"):
            fs.soft_dtw(x, y)
        with pytest.raises(ValueError, match="soft_dtw_backward: empty series"):
            fs.soft_dtw_backward(1.0, x, y)
    with pytest.raises(ValueError, match="soft_dtw_cost: `D` must be a cost matrix"):
        fs.soft_dtw_cost(np.ones(3))
    with pytest.raises(ValueError, match="soft_dtw_cost: `D` is empty"):
        fs.soft_dtw_cost(np.ones((2, 0, 3)))
    with pytest.raises(TypeError, match="`x`"):
        fs.soft_dtw(np.ones(3, complex), np.ones(3))


def test_bad_grad_shape():
    x, y = _pair(4, 5, 1, batch=3)
    with pytest.raises(ValueError, match=r"soft_dtw_backward: `grad` must have the shape .*\(3,\)"):
        fs.soft_dtw_backward(1.0, x, y)
    with pytest.raises(ValueError, match="`grad`"):
        fs.soft_dtw_backward(np.ones(3), x[0], y[0])
    with pytest.raises(ValueError, match="`grad`"):
        fs.soft_dtw_cost_backward(np.ones(2), np.ones((3, 4, 4)))
    with pytest.raises(TypeError, match="`grad`"):
        fs.soft_dtw_divergence_backward(np.ones(3, complex), x, y)


def test_empty_batch():
    assert fs.soft_dtw(np.ones((0, 4, 2)), np.ones((0, 3, 2))).shape == (0,)
    assert fs.soft_dtw_cost(np.ones((0, 4, 3))).shape == (0,)


# ---------------------------------------------------------------------------------------
# schedules give the same bits


def _kernel_args(x, y, gamma=0.3):
    XT, YRT = _dtw._tr(x), _dtw._rtr(y)
    g, ig = _dtw._gamma_args(gamma, x.dtype)
    return XT, YRT, _dtw._dummy(x.dtype), x.shape[1], y.shape[1], g, ig


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_serial_and_parallel_twins_agree_exactly(dtype):
    x, y = _pair(37, 45, 3, seed=17, batch=9)
    x, y = x.astype(dtype), y.astype(dtype)
    XT, YRT, DM, n, m, g, ig = _kernel_args(x, y)
    outs = []
    for parallel in (False, True):
        out = np.empty(9, dtype)
        _dtw._values_pairs(0, XT, YRT, DM, n, m, g, ig, out, parallel=parallel)
        vals = np.empty(9, dtype)
        gx, gy = np.zeros(XT.shape, dtype), np.zeros(YRT.shape, dtype)
        e = np.empty((9, n, m), dtype)
        _dtw._grads_pairs(0, XT, YRT, DM, n, m, g, ig, True, True, vals, gx, gy, e,
                          parallel=parallel)
        outs.append((out, vals, gx, gy, e))
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(outs[0][0], outs[0][1])  # value path == table path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,m,d", [(600, 700, 1), (513, 530, 3)])
def test_wavefront_equals_one_block_exactly(n, m, d, dtype):
    assert n * m >= _dtw.WAVEFRONT_MIN_CELLS  # fs.soft_dtw of one pair takes the wavefront
    x, y = _pair(n, m, d, seed=18)
    x, y = x.astype(dtype), y.astype(dtype)
    XT, YRT, DM, n, m, g, ig = _kernel_args(x[None], y[None])
    one_block = np.empty(1, dtype)
    _dtw._values_pairs(0, XT, YRT, DM, n, m, g, ig, one_block, parallel=False)
    for parallel in (False, True):
        wave = np.empty(1, dtype)
        _dtw._value_wavefront(0, XT[0], YRT[0], DM[0], n, m, g, ig, wave, parallel=parallel)
        np.testing.assert_array_equal(wave, one_block)
    assert fs.soft_dtw(x, y, gamma=0.3) == one_block[0]
    # the gradient sweep
    vals = np.empty(1, dtype)
    gx, gy = np.zeros(XT.shape, dtype), np.zeros(YRT.shape, dtype)
    e = np.empty((1, n, m), dtype)
    _dtw._grads_pairs(0, XT, YRT, DM, n, m, g, ig, True, True, vals, gx, gy, e, parallel=False)
    for parallel in (False, True):
        wv = np.empty(1, dtype)
        wx, wy = np.zeros(XT.shape, dtype), np.zeros(YRT.shape, dtype)
        we = np.empty((1, n, m), dtype)
        _dtw._grads_wavefront(0, XT[0], YRT[0], DM[0], n, m, g, ig, True, True, wv, wx[0], wy[0],
                              we[0], parallel=parallel)
        for a, b in ((wv, vals), (wx, gx), (wy, gy), (we, e)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(vals, one_block)


def test_wavefront_of_a_cost_matrix():
    D = rng(19).random((520, 600))
    v = fs.soft_dtw_cost(D, gamma=0.5)
    assert v == fs.soft_dtw_cost(np.stack([D, D]), gamma=0.5)[0]  # one block per pair
    E = fs.soft_dtw_cost_backward(1.0, D, gamma=0.5)
    np.testing.assert_array_equal(E, fs.soft_dtw_cost_backward(np.ones(2), np.stack([D, D]),
                                                               gamma=0.5)[1])


# ---------------------------------------------------------------------------------------
# tslearn


def test_against_tslearn():
    metrics = pytest.importorskip("tslearn.metrics")
    for n, m, d in [(10, 10, 1), (17, 9, 3), (5, 31, 2)]:
        x, y = _pair(n, m, d, seed=n + m)
        for gamma in (0.01, 0.5, 3.0):
            np.testing.assert_allclose(fs.soft_dtw(x, y, gamma=gamma),
                                       metrics.soft_dtw(x, y, gamma=gamma), rtol=1e-10)
            E_ts, v_ts = metrics.soft_dtw_alignment(x, y, gamma=gamma)
            v, E = fs.soft_dtw_alignment(x, y, gamma=gamma)
            np.testing.assert_allclose(v, v_ts, rtol=1e-10)
            np.testing.assert_allclose(E, E_ts, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------------------
# the example of the guide


def test_centroids_example_runs():
    """docs/examples/soft_dtw_centroids.py: the barycenter lowers the mean soft-DTW to the
    class below that of the Euclidean mean, and the script prints its table."""
    pytest.importorskip("sklearn")
    pytest.importorskip("scipy")
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "docs" / "examples" / "soft_dtw_centroids.py"
    spec = importlib.util.spec_from_file_location("soft_dtw_centroids", path)
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    from sklearn.datasets import load_digits

    X = load_digits().images[:300] / 16.0
    y = load_digits().target[:300]
    series = X[y == 3]
    mean = series.mean(axis=0)
    z = ex.barycenter(series, mean, maxiter=20)
    f = lambda c: float(np.mean(fs.soft_dtw(np.broadcast_to(c, series.shape), series, gamma=ex.GAMMA)))
    assert f(z) < f(mean)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=root,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "soft-DTW barycenter   soft-DTW divergence" in out.stdout


def test_infinite_and_huge_inputs_warn_nothing():
    """pytest turns warnings into errors: none may escape, whatever the inputs."""
    x, y = _pair(5, 6, 2, seed=21)
    x[2, 0] = np.inf
    for g in (0.0, 1.0, np.inf):
        fs.soft_dtw_backward(g, x, y)
        fs.soft_dtw_divergence_backward(g, x, y)
    fs.soft_dtw_divergence(x, y)
    fs.soft_dtw_alignment(x * 1e200, y * 1e200)
    fs.soft_dtw_divergence(x * 1e300, y * 1e300)
    D = np.full((4, 4), np.inf)
    fs.soft_dtw_cost_backward(np.inf, D)
    fs.soft_dtw_cost_backward(0.0, D)
    fs.soft_dtw(x.astype(np.float16) * 1e4, y.astype(np.float16))


# ---------------------------------------------------------------------------------------
# invariants on random small inputs


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 9), d=st.integers(1, 3),
       gamma=st.floats(1e-3, 10.0), seed=st.integers(0, 2**16))
def test_invariants(n, m, d, gamma, seed):
    r = np.random.default_rng(seed)
    x, y = r.standard_normal((n, d)) * 2, r.standard_normal((m, d)) * 2
    v, E = fs.soft_dtw_alignment(x, y, gamma=gamma)
    np.testing.assert_allclose(v, ref.soft_dtw(x, y, gamma=gamma), rtol=1e-12, atol=1e-12)
    assert v <= ref.dtw(x, y) + 1e-12  # a smooth minimum is below the minimum
    assert np.all(E >= 0) and E[0, 0] == 1 and E[-1, -1] == 1
    assert v == fs.soft_dtw(y, x, gamma=gamma)
    assert fs.soft_dtw_divergence(x, y, gamma=gamma) >= 0
