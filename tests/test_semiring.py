"""logmatmulexp, maxplus_matmul and their backward passes against the materialized NumPy
formula, finite differences, the special values of the semiring, and the serial twin."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsmooth as fs
from fastsmooth import _config, _semiring

from .helpers import rng

# ---------------------------------------------------------------------------------------
# The slow twins: materialize the (..., n, k, m) terms


def _terms(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        t = a[..., :, :, None] + b[..., None, :, :]
    zero = (a[..., :, :, None] == -np.inf) | (b[..., None, :, :] == -np.inf)
    return np.where(zero & ~np.isnan(t) | zero & (np.isinf(a[..., :, :, None]) & np.isinf(b[..., None, :, :])),
                    -np.inf, t)


def ref_logmatmulexp(a, b, tau=1.0):
    t = _terms(a, b) / tau
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(np.where(np.isnan(t), -np.inf, t), axis=-2, keepdims=True)
        mm = np.where(np.isfinite(m), m, 0)
        e = np.where(t == m, 1.0, np.exp(t - mm))
        s = np.sum(e, axis=-2)
        out = np.where(np.isfinite(m[..., 0, :]), np.log(s) + mm[..., 0, :], m[..., 0, :])
        out = np.where(np.isnan(s), np.nan, out)
    return out * tau


def ref_maxplus(a, b):
    t = _terms(a, b)
    return np.max(t, axis=-2), np.argmax(t, axis=-2)


def ref_backward(g, a, b, c, tau=1.0):
    t = _terms(a, b)
    with np.errstate(invalid="ignore", over="ignore"):
        w = np.exp((t - c[..., :, None, :]) / tau)
    w = np.where(np.isneginf(c)[..., :, None, :], 0.0, w)
    ga = np.sum(w * g[..., :, None, :], axis=-1)
    gb = np.sum(w * g[..., :, None, :], axis=-3)
    return ga, gb


def _sum_to(x, shape):
    while x.ndim > len(shape):
        x = x.sum(0)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


def _scale(c, a, b):
    fin = lambda x: np.max(np.abs(x[np.isfinite(x)]), initial=0.0)  # noqa: E731
    return fin(c) + fin(a) + fin(b)


SHAPES = [((3, 4), (4, 5)), ((1, 7), (7, 1)), ((16, 9), (9, 300)), ((40, 64), (64, 30)),
          ((2, 1, 5, 6), (3, 6, 4)), ((5, 6), (2, 6, 8)), ((64, 64), (64, 64)), ((3, 300), (300, 7))]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("kind", ["normal", "adversarial"])
def test_logmatmulexp_matches_the_materialized_formula_float64(sa, sb, kind):
    r = rng(1)
    if kind == "normal":
        a, b = r.standard_normal(sa), r.standard_normal(sb)
    else:  # entries over +-700: row maxima of a and column maxima of b at different k
        a, b = r.uniform(-700, 700, sa), r.uniform(-700, 700, sb)
    c = fs.logmatmulexp(a, b)
    want = ref_logmatmulexp(a, b)
    assert c.shape == want.shape and c.dtype == np.float64
    np.testing.assert_allclose(c, want, rtol=0, atol=1e-12 * _scale(want, a, b))


def test_logmatmulexp_where_the_exp_matmul_trick_underflows():
    """The maximum of row i of a and of column j of b sit at different k: the unsafe
    formula returns -inf; both paths (small: exact kernel; large: BLAS + repair) don't."""
    for n in (3, 64):
        a = np.full((n, n), -600.0)
        b = np.full((n, n), -600.0)
        a[:, 0] = 600.0
        b[1, :] = 600.0  # a_i0 + b_0j = 0 = a_i1 + b_1j, ma + mb = 1200
        with np.errstate(divide="ignore"):
            trick = np.log(np.exp(a - a.max(1, keepdims=True)) @ np.exp(b - b.max(0))) + a.max(1, keepdims=True) + b.max(0)
        assert np.all(trick == -np.inf)
        want = ref_logmatmulexp(a, b)
        np.testing.assert_allclose(fs.logmatmulexp(a, b), want, rtol=0, atol=1e-12 * 1200)
        np.testing.assert_allclose(want[0, 0], np.log(2.0), rtol=1e-14)


def test_logmatmulexp_mixed_rows_only_some_entries_repaired():
    r = rng(2)
    a = r.standard_normal((64, 128))
    b = r.standard_normal((128, 96))
    a[5] = r.uniform(-700, 700, 128)  # one bad row, several bad columns
    b[:, 7] = r.uniform(-700, 700, 128)
    b[3, 11] = np.inf
    a[9, 4] = np.nan
    a[12] = -np.inf
    c = fs.logmatmulexp(a, b)
    want = ref_logmatmulexp(a, b)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    ok = np.isfinite(want)
    np.testing.assert_array_equal(c[~ok & ~np.isnan(want)], want[~ok & ~np.isnan(want)])
    np.testing.assert_allclose(c[ok], want[ok], rtol=0, atol=1e-12 * _scale(want, a, b))


@pytest.mark.parametrize("sa,sb", SHAPES[:5])
def test_logmatmulexp_float32(sa, sb):
    r = rng(3)
    for a, b in [(r.standard_normal(sa), r.standard_normal(sb)), (r.uniform(-80, 80, sa), r.uniform(-80, 80, sb))]:
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        c = fs.logmatmulexp(a32, b32)
        assert c.dtype == np.float32
        want = ref_logmatmulexp(a32, b32)
        np.testing.assert_allclose(c, want, rtol=0, atol=1e-5 * _scale(want, a, b))


def test_dtypes_promote_as_numpy():
    a = np.arange(6).reshape(2, 3)
    assert fs.logmatmulexp(a, a.T).dtype == np.float64
    assert fs.logmatmulexp(a.astype(np.float32), a.T.astype(np.float32)).dtype == np.float32
    assert fs.logmatmulexp(a.astype(np.float32), a.T.astype(np.float64)).dtype == np.float64
    assert fs.logmatmulexp(a.astype(np.float32), a.T.astype(np.int64)).dtype == np.float64
    assert fs.maxplus_matmul(a.astype(np.float32), a.T > 2)[0].dtype == np.float32
    np.testing.assert_allclose(fs.logmatmulexp(a, a.T), ref_logmatmulexp(a, a.T), rtol=1e-14)


def test_temperature():
    r = rng(4)
    a, b = r.standard_normal((6, 9)), r.standard_normal((9, 5))
    for tau in (0.3, 2.0):
        np.testing.assert_allclose(fs.logmatmulexp(a, b, temperature=tau), ref_logmatmulexp(a, b, tau),
                                   rtol=1e-13, atol=1e-13)
    big_a, big_b = r.standard_normal((32, 40)), r.standard_normal((40, 48))  # the BLAS path too
    for tau in (0.01, 0.5):
        np.testing.assert_allclose(fs.logmatmulexp(big_a, big_b, temperature=tau),
                                   ref_logmatmulexp(big_a, big_b, tau), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [((4, 7), (7, 3)), ((32, 40), (40, 48))])
def test_temperature_to_zero_gives_the_maxplus_values(shape):
    r = rng(5)
    a, b = r.standard_normal(shape[0]), r.standard_normal(shape[1])
    c_max, _ = fs.maxplus_matmul(a, b)
    prev = np.inf
    for tau in (1.0, 0.1, 0.01, 1e-3, 1e-5):
        err = np.max(np.abs(fs.logmatmulexp(a, b, temperature=tau) - c_max))
        assert err <= tau * np.log(shape[0][1]) + 1e-12  # max <= LSE <= max + tau log k
        assert err <= prev
        prev = err
    assert prev < 1e-4


SPECIALS = [
    # (a, b, logmatmulexp, maxplus value, index)
    ([[-np.inf, 0.0]], [[np.inf], [1.0]], 1.0, 1.0, 1),          # -inf annihilates +inf
    ([[-np.inf, -np.inf]], [[np.inf], [np.inf]], -np.inf, -np.inf, 0),
    ([[np.inf, 0.0]], [[1.0], [2.0]], np.inf, np.inf, 0),          # +inf + finite = +inf
    ([[np.inf, np.inf]], [[1.0], [2.0]], np.inf, np.inf, 0),
    ([[-np.inf, -np.inf]], [[1.0], [2.0]], -np.inf, -np.inf, 0),   # all -inf
    ([[0.0, np.nan]], [[1.0], [2.0]], np.nan, np.nan, 1),           # nan propagates, nan wins
    ([[np.nan, 5.0]], [[1.0], [2.0]], np.nan, np.nan, 0),
    ([[np.nan, 0.0]], [[-np.inf], [2.0]], np.nan, np.nan, 0),       # nan (x) -inf is nan
    ([[1.0, 1.0]], [[1.0], [1.0]], 2.0 + np.log(2.0), 2.0, 0),      # first k on ties
    ([[1000.0, -1000.0]], [[-1000.0], [1000.0]], np.log(2.0), 0.0, 0),
]


@pytest.mark.parametrize("a,b,lme,mp,index", SPECIALS)
def test_special_values(a, b, lme, mp, index):
    for dtype in (np.float64, np.float32):
        aa, bb = np.array(a, dtype), np.array(b, dtype)
        np.testing.assert_allclose(fs.logmatmulexp(aa, bb)[0, 0], lme, rtol=1e-6)
        c, i = fs.maxplus_matmul(aa, bb)
        np.testing.assert_array_equal(c[0, 0], np.asarray(mp, dtype))
        assert i[0, 0] == index and i.dtype == np.int64
        # the formula's twins agree with the table too
        np.testing.assert_allclose(ref_logmatmulexp(aa, bb)[0, 0], lme, rtol=1e-6)
        assert ref_maxplus(aa, bb)[1][0, 0] == index


def test_special_values_in_the_blas_path():
    r = rng(6)
    a = r.standard_normal((40, 50))
    b = r.standard_normal((50, 60))
    a[0, :] = -np.inf
    a[1, 3] = np.inf
    b[3, 2] = -np.inf  # a[1, 3] + b[3, 2] = +inf + -inf: -inf
    b[:, 5] = -np.inf
    a[2, 7] = np.nan
    c = fs.logmatmulexp(a, b)
    want = ref_logmatmulexp(a, b)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(want))
    assert np.all(c[0] == -np.inf) and np.all(np.delete(c[:, 5], 2) == -np.inf) and c[1, 0] == np.inf
    assert np.isnan(c[2]).all()  # nan (x) -inf is nan: the nan row stays nan, column 5 too
    assert np.isfinite(c[1, 2])
    fin = np.isfinite(want)
    np.testing.assert_allclose(c[fin], want[fin], rtol=0, atol=1e-12 * _scale(want, a, b))


def test_empty_dimensions():
    c = fs.logmatmulexp(np.zeros((3, 0)), np.zeros((0, 2)))
    np.testing.assert_array_equal(c, np.full((3, 2), -np.inf))
    v, i = fs.maxplus_matmul(np.zeros((2, 3, 0), np.float32), np.zeros((0, 4), np.float32))
    assert v.dtype == np.float32 and v.shape == (2, 3, 4) and np.all(v == -np.inf) and np.all(i == 0)
    assert fs.logmatmulexp(np.zeros((0, 3)), np.zeros((3, 2))).shape == (0, 2)
    assert fs.logmatmulexp(np.zeros((4, 3)), np.zeros((3, 0))).shape == (4, 0)
    assert fs.maxplus_matmul(np.zeros((0, 4, 3)), np.zeros((3, 2)))[1].shape == (0, 4, 2)
    ga, gb = fs.logmatmulexp_backward(np.ones((3, 2)), np.zeros((3, 0)), np.zeros((0, 2)), c)
    assert ga.shape == (3, 0) and gb.shape == (0, 2)
    ga, gb = fs.maxplus_matmul_backward(np.ones((3, 2)), np.zeros((3, 2), np.int64), (3, 0), (0, 2))
    assert ga.shape == (3, 0) and gb.shape == (0, 2)


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_maxplus_matches_argmax_of_the_materialized_terms(sa, sb):
    r = rng(7)
    a = np.round(r.standard_normal(sa) * 2) / 2  # many ties
    b = np.round(r.standard_normal(sb) * 2) / 2
    c, i = fs.maxplus_matmul(a, b)
    wc, wi = ref_maxplus(a, b)
    np.testing.assert_array_equal(c, wc)
    np.testing.assert_array_equal(i, wi)
    c32, i32 = fs.maxplus_matmul(a.astype(np.float32), b.astype(np.float32))
    np.testing.assert_array_equal(c32, wc.astype(np.float32))
    np.testing.assert_array_equal(i32, wi)


# ---------------------------------------------------------------------------------------
# Backward


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4, 5), (2, 5, 3))])
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_logmatmulexp_backward_against_formula_and_finite_differences(sa, sb, tau):
    r = rng(8)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    c = fs.logmatmulexp(a, b, temperature=tau)
    g = r.standard_normal(c.shape)
    ga, gb = fs.logmatmulexp_backward(g, a, b, c, temperature=tau)
    assert ga.shape == a.shape and gb.shape == b.shape
    wa, wb = ref_backward(g, a, b, ref_logmatmulexp(a, b, tau), tau)
    np.testing.assert_allclose(ga, _sum_to(wa, a.shape), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(gb, _sum_to(wb, b.shape), rtol=1e-12, atol=1e-13)
    eps = 1e-6
    for _ in range(3):
        va, vb = r.standard_normal(a.shape), r.standard_normal(b.shape)
        fd = (fs.logmatmulexp(a + eps * va, b + eps * vb, temperature=tau)
              - fs.logmatmulexp(a - eps * va, b - eps * vb, temperature=tau)) / (2 * eps)
        np.testing.assert_allclose(np.sum(ga * va) + np.sum(gb * vb), np.sum(g * fd), rtol=1e-6, atol=1e-8)


def test_logmatmulexp_backward_large_and_float32():
    r = rng(9)
    a, b = r.uniform(-700, 700, (24, 40)), r.uniform(-700, 700, (40, 20))
    c = fs.logmatmulexp(a, b)
    g = r.standard_normal(c.shape)
    ga, gb = fs.logmatmulexp_backward(g, a, b, c)
    wa, wb = ref_backward(g, a, b, c)
    np.testing.assert_allclose(ga, wa, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gb, wb, rtol=1e-9, atol=1e-12)
    a, b = r.standard_normal((24, 40)), r.standard_normal((40, 20))
    c = fs.logmatmulexp(a, b)
    ga, gb = fs.logmatmulexp_backward(g.astype(np.float32), a.astype(np.float32), b.astype(np.float32),
                                      c.astype(np.float32))
    assert ga.dtype == gb.dtype == np.float32
    wa, wb = ref_backward(g, a, b, c)
    np.testing.assert_allclose(ga, wa, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gb, wb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logmatmulexp_backward_blas_path_with_repaired_entries(dtype):
    """Large products: BLAS backward plus the exact contributions of repaired entries
    (a row spread over +-700, a +inf entry, an all -inf row); and when most entries need
    the exact treatment, the streaming kernels."""
    r = rng(14)
    a = r.standard_normal((2, 1, 40, 50))
    b = r.standard_normal((3, 50, 36))
    if dtype is np.float64:
        a[0, 0, 3] = r.uniform(-700, 700, 50)
    else:
        a[0, 0, 3] = r.uniform(-60, 60, 50) + np.where(np.arange(50) % 7 == 0, 40.0, -40.0)
    a[1, 0, 5] = -np.inf
    b[1, 4, 7] = np.inf
    a, b = a.astype(dtype), b.astype(dtype)
    c = fs.logmatmulexp(a, b)
    g = r.standard_normal(c.shape).astype(dtype)
    flag = np.empty(c.shape, np.uint8)  # some entries need the exact treatment, few enough
    op = _semiring._operands("t", a, b)
    ma, mb, *_rest, thr = _semiring._shifted_exps(op, 1.0)
    _semiring._backward_scales(ma, mb, op.ia, op.ib, np.ascontiguousarray(c).reshape(6, 40, 36),
                               g.reshape(6, 40, 36), 1.0, -np.log(thr), np.empty((6, 40, 36), dtype),
                               flag.reshape(6, 40, 36), parallel=False)
    assert 0 < np.count_nonzero(flag) < flag.size / 8
    ga, gb = fs.logmatmulexp_backward(g, a, b, c)
    assert ga.dtype == gb.dtype == dtype and ga.shape == a.shape and gb.shape == b.shape
    c64 = ref_logmatmulexp(a, b)
    wa, wb = ref_backward(g.astype(np.float64), a.astype(np.float64), b.astype(np.float64), c64)
    wa, wb = _sum_to(wa, a.shape), _sum_to(wb, b.shape)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype is np.float64 else dict(rtol=2e-4, atol=2e-4)
    fin_a = np.isfinite(wa)
    np.testing.assert_allclose(ga[fin_a], wa[fin_a], **tol)
    fin_b = np.isfinite(wb)
    np.testing.assert_allclose(gb[fin_b], wb[fin_b], **tol)
    assert np.all(ga[1, 0, 5] == 0)  # the all -inf row sends nothing


def test_logmatmulexp_backward_blas_and_streaming_agree():
    r = rng(15)
    for (lo, hi), n in itertools.product(((-1, 1), (-700, 700)), (48, 1)):  # benign: BLAS; adversarial: streaming
        a, b = r.uniform(lo, hi, (n, 40)), r.uniform(lo, hi, (40, 32 if n > 1 else 1000))
        c = fs.logmatmulexp(a, b)
        g = r.standard_normal(c.shape)
        ga, gb = fs.logmatmulexp_backward(g, a, b, c)
        wa, wb = ref_backward(g, a, b, ref_logmatmulexp(a, b))
        np.testing.assert_allclose(ga, wa, rtol=1e-9, atol=1e-11 * np.abs(g).sum())
        np.testing.assert_allclose(gb, wb, rtol=1e-9, atol=1e-11 * np.abs(g).sum())


def test_logmatmulexp_backward_special_values():
    a = np.array([[-np.inf, -np.inf], [0.0, np.inf], [0.0, np.log(3.0)]])
    b = np.array([[0.0], [0.0]])
    c = fs.logmatmulexp(a, b)
    ga, gb = fs.logmatmulexp_backward(np.full((3, 1), 2.0), a, b, c)
    # all -inf row: no gradient; +inf: the +inf term takes it all; finite: softmax weights
    np.testing.assert_allclose(ga, [[0, 0], [0, 2], [0.5, 1.5]], rtol=1e-15)
    np.testing.assert_allclose(gb, [[0.5], [3.5]], rtol=1e-15)
    # -inf annihilates +inf: weight 0, no nan
    ga, gb = fs.logmatmulexp_backward(np.ones((1, 1)), [[-np.inf, 0.0]], [[np.inf], [0.0]],
                                      fs.logmatmulexp([[-np.inf, 0.0]], [[np.inf], [0.0]]))
    np.testing.assert_array_equal(ga, [[0.0, 1.0]])
    np.testing.assert_array_equal(gb, [[0.0], [1.0]])
    ga, _ = fs.logmatmulexp_backward(np.ones((1, 1)), [[np.nan, 0.0]], [[0.0], [0.0]], [[np.nan]])
    assert np.isnan(ga).all()


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((3, 4), (2, 4, 6))])
def test_maxplus_backward_routes_to_the_winners(sa, sb):
    r = rng(10)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    c, idx = fs.maxplus_matmul(a, b)
    g = r.standard_normal(c.shape)
    ga, gb = fs.maxplus_matmul_backward(g, idx, a.shape, b.shape)
    assert ga.shape == a.shape and gb.shape == b.shape
    onehot = (np.arange(a.shape[-1])[:, None] == idx[..., None, :]).astype(float)  # (..., n, k, m)
    np.testing.assert_allclose(ga, _sum_to(np.sum(onehot * g[..., :, None, :], -1), a.shape), rtol=1e-14)
    np.testing.assert_allclose(gb, _sum_to(np.sum(onehot * g[..., :, None, :], -3), b.shape), rtol=1e-14)
    # finite differences (no ties almost surely): the derivative of the max is the routing
    eps = 1e-7
    va, vb = r.standard_normal(a.shape), r.standard_normal(b.shape)
    fd = (fs.maxplus_matmul(a + eps * va, b + eps * vb)[0] - fs.maxplus_matmul(a - eps * va, b - eps * vb)[0]) / (2 * eps)
    np.testing.assert_allclose(np.sum(ga * va) + np.sum(gb * vb), np.sum(g * fd), rtol=1e-6)
    g32 = fs.maxplus_matmul_backward(g.astype(np.float32), idx, a.shape, b.shape)
    assert g32[0].dtype == np.float32


# ---------------------------------------------------------------------------------------
# Errors, inputs, threads


def test_errors():
    a, b = np.zeros((2, 3)), np.zeros((3, 4))
    with pytest.raises(ValueError, match="logmatmulexp: the inner dimensions differ"):
        fs.logmatmulexp(a, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="logmatmulexp: `a` must have at least 2 dimensions"):
        fs.logmatmulexp(np.zeros(3), b)
    with pytest.raises(ValueError, match="maxplus_matmul: `b` must have at least 2"):
        fs.maxplus_matmul(a, np.zeros(3))
    with pytest.raises(ValueError, match="do not broadcast"):
        fs.logmatmulexp(np.zeros((2, 2, 3)), np.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match="logmatmulexp: `temperature` must be a finite number > 0, got -1.0"):
        fs.logmatmulexp(a, b, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        fs.logmatmulexp_backward(np.zeros((2, 4)), a, b, np.zeros((2, 4)), temperature=np.inf)
    with pytest.raises(TypeError, match="logmatmulexp: `b` must be an array of real numbers"):
        fs.logmatmulexp(a, b.astype(complex))
    with pytest.raises(TypeError, match="`a`"):
        fs.maxplus_matmul(a.astype(object), b)
    with pytest.raises(ValueError, match="`grad` must have the shape of the output"):
        fs.logmatmulexp_backward(np.zeros((2, 3)), a, b, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="`out` must have the shape"):
        fs.logmatmulexp_backward(np.zeros((2, 4)), a, b, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="`grad`"):
        fs.logmatmulexp_backward(np.zeros((2, 4), complex), a, b, np.zeros((2, 4)))
    idx = np.zeros((2, 4), np.int64)
    with pytest.raises(TypeError, match="maxplus_matmul_backward: `index` must be an array of integers"):
        fs.maxplus_matmul_backward(np.zeros((2, 4)), idx.astype(float), a.shape, b.shape)
    with pytest.raises(ValueError, match=r"`index` must lie in \[0, 3\)"):
        fs.maxplus_matmul_backward(np.zeros((2, 4)), idx + 3, a.shape, b.shape)
    with pytest.raises(ValueError, match="`index` must have the shape"):
        fs.maxplus_matmul_backward(np.zeros((2, 4)), idx[:1], a.shape, b.shape)
    with pytest.raises(ValueError, match="inner dimensions differ: `a_shape`"):
        fs.maxplus_matmul_backward(np.zeros((2, 4)), idx, (2, 3), (4, 4))
    with pytest.raises(TypeError, match="`a_shape` must be a tuple of ints"):
        fs.maxplus_matmul_backward(np.zeros((2, 4)), idx, 3, b.shape)


def test_inputs_are_not_modified_and_layouts_work():
    r = rng(11)
    a = r.standard_normal((40, 50))
    b = r.standard_normal((50, 30))
    a0, b0 = a.copy(), b.copy()
    want = fs.logmatmulexp(a, b)
    np.testing.assert_allclose(fs.logmatmulexp(np.asfortranarray(a), b[::-1][::-1]), want, rtol=1e-15)
    np.testing.assert_allclose(fs.logmatmulexp(a.T.copy().T, b.tolist()), want, rtol=1e-15)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("shape", [((8, 300, 200), (200, 260)), ((2, 1, 64, 33), (5, 33, 70))])
def test_serial_and_parallel_twins_agree_exactly(shape, monkeypatch):
    r = rng(12)
    a, b = r.standard_normal(shape[0]), r.standard_normal(shape[1])
    a[..., 3, :] = r.uniform(-700, 700, a.shape[-1])  # a repaired row
    g = r.standard_normal(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]))
    results = []
    for parallel in (False, True):
        monkeypatch.setattr(_semiring, "use_parallel", lambda n, p=parallel: p)
        c = fs.logmatmulexp(a, b)
        c_small = fs.logmatmulexp(a[..., :5, :7], b[..., :7, :6])
        v, i = fs.maxplus_matmul(a, b)
        ga, gb = fs.logmatmulexp_backward(g[..., :5, :6], a[..., :5, :7], b[..., :7, :6], c_small)
        big = fs.logmatmulexp_backward(g, a, b, c) if a.ndim == 4 else ()  # BLAS backward + repair
        ma, mb = fs.maxplus_matmul_backward(g, i, a.shape, b.shape)
        results.append((c, c_small, v, i, ga, gb, ma, mb) + tuple(big))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


def test_exact_kernel_and_blas_path_agree():
    """The two ways of computing logmatmulexp give the same values to rounding."""
    r = rng(13)
    a, b = r.standard_normal((64, 96)), r.standard_normal((96, 80))
    op = _semiring._operands("t", a, b)
    exact = np.empty((1, 64, 80))
    _semiring._lme_exact(op.a3, op.b3, op.ia, op.ib, 1.0, 1.0, exact, parallel=False)
    np.testing.assert_allclose(fs.logmatmulexp(a, b), exact[0], rtol=0, atol=1e-13 * _scale(exact, a, b))
    assert _config.use_parallel(0) is False


# ---------------------------------------------------------------------------------------
# Invariants (hypothesis)

@st.composite
def _operand_pair(draw):
    n, k, m = draw(st.integers(1, 6)), draw(st.integers(1, 7)), draw(st.integers(1, 6))
    elems = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
    a = draw(hnp.arrays(np.float64, (n, k), elements=elems))
    b = draw(hnp.arrays(np.float64, (k, m), elements=elems))
    return a, b


@settings(max_examples=40, deadline=None)
@given(_operand_pair(), st.sampled_from([0.05, 1.0, 3.0]))
def test_invariants(pair, tau):
    a, b = pair
    k = a.shape[1]
    c = fs.logmatmulexp(a, b, temperature=tau)
    cmax, _ = fs.maxplus_matmul(a, b)
    slack = 1e-12 * (1 + np.abs(cmax))
    assert np.all(c >= cmax - slack) and np.all(c <= cmax + tau * np.log(k) + slack)  # max <= LSE <= max + tau log k
    np.testing.assert_allclose(fs.logmatmulexp(a + 3.0, b - 1.0, temperature=tau), c + 2.0, rtol=0, atol=1e-12 * 60)
    # the weights of each entry sum to 1 over k: grad_a's rows sum to grad's rows
    g = np.linspace(-1, 1, c.size).reshape(c.shape)
    ga, gb = fs.logmatmulexp_backward(g, a, b, c, temperature=tau)
    np.testing.assert_allclose(ga.sum(axis=1), g.sum(axis=1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gb.sum(axis=0), g.sum(axis=0), rtol=1e-10, atol=1e-10)


def test_the_slow_twins_of_fastsmooth_reference_agree():
    """``fastsmooth._reference`` holds the materialized twins (the benchmarks' "numpy"
    column): same names, same conventions, same dtypes."""
    from fastsmooth import _reference as ref

    r = rng(16)
    a = r.standard_normal((2, 1, 6, 9))
    b = r.standard_normal((3, 9, 5))
    a[0, 0, 1, 2] = -np.inf
    b[1, 2, 3] = np.inf
    a[1, 0, 4, 0] = np.nan
    for dtype in (np.float64, np.float32):
        aa, bb = a.astype(dtype), b.astype(dtype)
        c, w = fs.logmatmulexp(aa, bb, temperature=0.7), ref.logmatmulexp(aa, bb, temperature=0.7)
        assert c.dtype == w.dtype == dtype
        np.testing.assert_allclose(c, w, rtol=1e-5 if dtype is np.float32 else 1e-13, atol=1e-5)
        (v, i), (wv, wi) = fs.maxplus_matmul(aa, bb), ref.maxplus_matmul(aa, bb)
        np.testing.assert_array_equal(v, wv)
        np.testing.assert_array_equal(i, wi)
    c = fs.logmatmulexp(a, b)
    g = r.standard_normal(c.shape)
    for got, want in zip(fs.logmatmulexp_backward(g, a, b, c), ref.logmatmulexp_backward(g, a, b, c)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    idx = fs.maxplus_matmul(a, b)[1]
    for got, want in zip(fs.maxplus_matmul_backward(g, idx, a.shape, b.shape),
                         ref.maxplus_matmul_backward(g, idx, a.shape, b.shape)):
        np.testing.assert_allclose(got, want, rtol=1e-15)
