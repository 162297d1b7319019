"""LogSumExp, softmax, log-softmax, soft-argmax and hardmax: forward against SciPy and
the NumPy twins, backward against finite differences and the analytic formulas, the
special-value table, the worked examples of the source notes, and every error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsmooth as fs
from fastsmooth import _reductions, _schedules, _reference as ref
from fastsmooth._reference import SPECIAL_VALUES

from .helpers import check_vjp_fd, full_jacobian_fd, layouts, rng

SHAPES_AXES = [
    ((5,), -1),
    ((1,), 0),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((2, 3, 5), 0),
    ((2, 3, 5), 1),
    ((2, 3, 5), 2),
    ((2, 1, 3, 4), -2),
    ((7, 1), 1),
    ((1, 7), 0),
    ((4, 3000), -1),  # more than one block per row
    ((3, 20000), 0),  # big enough for the parallel kernels
]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-300), np.float32: dict(rtol=2e-6, atol=1e-7)}


def _log_softmax_ld(x, axis, temperature=1.0):
    """Accurate log-softmax reference: long double, and the largest term kept out of
    the sum so it can finish with log1p. (SciPy's ``x - m - log(sum)`` loses ~1e-16
    absolute near 0 -- the log of a sum close to 1 -- more than our kernels do.)"""
    z = np.asarray(x, np.longdouble) / np.longdouble(temperature)
    axes = tuple(range(z.ndim)) if axis is None else np.atleast_1d(axis) % z.ndim
    kept = [i for i in range(z.ndim) if i not in axes]
    perm = kept + list(axes)
    moved = z.transpose(perm)
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    top = np.argmax(flat, axis=-1)[..., None]
    d = flat - np.take_along_axis(flat, top, -1)
    e = np.exp(d)
    np.put_along_axis(e, top, 0.0, -1)
    out = (d - np.log1p(e.sum(-1, keepdims=True))).reshape(moved.shape)
    return out.transpose(np.argsort(perm)).astype(np.float64)


def _data(shape, dtype, seed=0, scale=3.0):
    return (scale * rng(seed).standard_normal(shape)).astype(dtype)


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_forward_matches_scipy(shape, axis, dtype):
    x = _data(shape, dtype)
    x64 = x.astype(np.float64)
    tol = TOL[dtype]
    for name, view in layouts(x):
        msg = f"{name} {shape} axis={axis} {dtype.__name__}"
        got = fs.logsumexp(view, axis=axis)
        assert got.dtype == dtype, msg
        np.testing.assert_allclose(got, sp.logsumexp(x64, axis=axis), err_msg=msg, **tol)
        got = fs.softmax(view, axis=axis)
        assert got.dtype == dtype and got.shape == x.shape, msg
        np.testing.assert_allclose(got, sp.softmax(x64, axis=axis), err_msg=msg, **tol)
        got = fs.log_softmax(view, axis=axis)
        np.testing.assert_allclose(got, _log_softmax_ld(x64, axis), err_msg=msg, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("temperature", [0.05, 0.7, 3.0, 1e4])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES[:9])
def test_forward_temperature(shape, axis, temperature, dtype):
    x = _data(shape, dtype, seed=1)
    z = x.astype(np.float64) / temperature
    tol = TOL[dtype]
    np.testing.assert_allclose(
        fs.logsumexp(x, axis, temperature=temperature),
        temperature * sp.logsumexp(z, axis=axis),
        **tol,
    )
    np.testing.assert_allclose(fs.softmax(x, axis, temperature=temperature), sp.softmax(z, axis=axis), **tol)
    np.testing.assert_allclose(
        fs.log_softmax(x, axis, temperature=temperature), _log_softmax_ld(x, axis, temperature), **tol
    )
    np.testing.assert_allclose(
        fs.soft_argmax(x, axis, temperature=temperature),
        ref.soft_argmax(x.astype(np.float64), axis, temperature=temperature),
        **tol,
    )


@pytest.mark.parametrize("axis", [None, (0, 2), (1,), (0, 1, 2), (-1, 0), ()])
@pytest.mark.parametrize("keepdims", [False, True])
def test_tuple_axes_and_keepdims(axis, keepdims):
    x = _data((3, 4, 5), np.float64, seed=2)
    for name, view in layouts(x):
        got = fs.logsumexp(view, axis=axis, keepdims=keepdims)
        want = sp.logsumexp(x, axis=axis, keepdims=keepdims)
        assert np.shape(got) == np.shape(want), name
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=name)
    if axis != ():
        np.testing.assert_allclose(fs.softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-12)
        np.testing.assert_allclose(fs.log_softmax(x, axis=axis), _log_softmax_ld(x, axis), rtol=1e-12)


def test_full_reduction_returns_a_scalar():
    out = fs.logsumexp(np.ones((2, 3)), axis=None)
    assert isinstance(out, np.float64)
    assert isinstance(fs.soft_argmax([1.0, 2.0]), np.float64)
    assert isinstance(fs.logsumexp(np.ones(3, np.float32)), np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_soft_argmax_and_hardmax_match_reference(shape, axis, dtype):
    x = _data(shape, dtype, seed=3)
    for name, view in layouts(x):
        got = fs.soft_argmax(view, axis=axis)
        assert got.dtype == dtype
        np.testing.assert_allclose(
            got, ref.soft_argmax(x.astype(np.float64), axis), err_msg=name, **TOL[dtype]
        )
        hard = fs.hardmax(view, axis=axis)
        assert hard.dtype == dtype
        np.testing.assert_array_equal(hard, ref.hardmax(x, axis), err_msg=name)


def test_hardmax_ties_first_and_nan_wins():
    np.testing.assert_array_equal(fs.hardmax([3.0, 1.0, 3.0]), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(fs.hardmax([3.0, np.nan, 9.0, np.nan]), [0.0, 1.0, 0.0, 0.0])
    x = rng(4).integers(0, 3, size=(50, 6)).astype(np.float64)  # many ties
    want = np.eye(6)[np.argmax(x, axis=1)]
    np.testing.assert_array_equal(fs.hardmax(x), want)
    np.testing.assert_array_equal(fs.hardmax(x.T, axis=0), want.T)
    assert fs.hardmax(np.empty((3, 0))).shape == (3, 0)


def test_straight_through_hardmax():
    x = _data((6, 5), np.float32, seed=5)
    hard, soft = fs.straight_through_hardmax(x, axis=0, temperature=0.5)
    np.testing.assert_array_equal(hard, fs.hardmax(x, axis=0))
    np.testing.assert_allclose(soft, fs.softmax(x, axis=0, temperature=0.5), rtol=1e-7)
    assert hard.dtype == soft.dtype == np.float32
    # forward value is exactly one-hot; the backward goes through the soft branch
    g = rng(6).standard_normal(x.shape).astype(np.float32)
    dx = fs.softmax_backward(g, soft, axis=0, temperature=0.5)
    np.testing.assert_allclose(dx, ref.softmax_backward(g, soft.astype(np.float64), axis=0, temperature=0.5), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_soft_argmax2d_matches_reference(dtype):
    x = _data((2, 3, 7, 9), dtype, seed=7)
    for t in (0.3, 1.0, 5.0):
        got = fs.soft_argmax2d(x, temperature=t)
        assert got.shape == (2, 3, 2) and got.dtype == dtype
        np.testing.assert_allclose(got, ref.soft_argmax2d(x.astype(np.float64), temperature=t), **TOL[dtype])
    # a single peak is found at sub-pixel precision as the temperature falls
    h = np.zeros((16, 16))
    h[11, 4] = 1.0
    np.testing.assert_allclose(fs.soft_argmax2d(h, temperature=1e-3), [11.0, 4.0], atol=1e-12)
    for name, view in layouts(x):
        np.testing.assert_allclose(fs.soft_argmax2d(view), fs.soft_argmax2d(x), rtol=1e-6, err_msg=name)


def test_soft_argmax2d_equals_two_soft_argmaxes_of_marginals():
    x = _data((5, 6), np.float64, seed=8)
    p = sp.softmax(x, axis=None)
    want = [np.sum(p.sum(1) * np.arange(5)), np.sum(p.sum(0) * np.arange(6))]
    np.testing.assert_allclose(fs.soft_argmax2d(x), want, rtol=1e-13)


# -------------------------------------------------------------- worked examples (notes)


def test_worked_examples_of_the_source_notes():
    x = [1, 2, 3, 4, 2]
    lse = fs.logsumexp(x, temperature=0.1)
    want = 4.0 + 0.1 * math.log1p(math.exp(-10) + 2 * math.exp(-20) + math.exp(-30))
    assert f"{lse:.10f}".startswith("4.0000045403")
    np.testing.assert_allclose(lse, want, rtol=1e-15)
    assert f"{fs.soft_argmax(x):.10f}".startswith("2.6134800")
    np.testing.assert_allclose(
        fs.softmax(x), [0.02948882, 0.08015893, 0.21789455, 0.5922988, 0.08015893], atol=5e-9
    )
    np.testing.assert_allclose(fs.logsumexp(x), 4.523744, atol=1e-6)
    np.testing.assert_array_equal(fs.hardmax([1.1, 3.4, 2.5]), [0.0, 1.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8),
               elements=st.floats(-1e3, 1e3)),
    st.floats(0.01, 100.0),
)
def test_lse_lies_between_max_and_max_plus_tau_log_n(x, tau):
    lse = fs.logsumexp(x, axis=-1, temperature=tau)
    m = x.max(axis=-1)
    n = x.shape[-1]
    slack = 1e-12 * (np.abs(m) + tau * math.log(n) + 1)
    assert np.all(lse >= m - slack)
    assert np.all(lse <= m + tau * math.log(n) + slack)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8),
               elements=st.floats(-100, 100)),
    st.floats(-50, 50),
)
def test_softmax_invariants(x, shift):
    y = fs.softmax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(fs.softmax(x + shift), y, rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(fs.logsumexp(x + shift), fs.logsumexp(x) + shift, rtol=1e-13, atol=1e-11)
    np.testing.assert_allclose(fs.softmax_backward(np.ones_like(x), y), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.exp(fs.log_softmax(x)), y, rtol=1e-12, atol=1e-300)


def test_converges_to_the_hard_ops_as_temperature_falls():
    x = _data((20, 9), np.float64, seed=9)
    for t in (1e-2, 1e-4, 1e-8):
        np.testing.assert_allclose(fs.logsumexp(x, temperature=t), x.max(-1), atol=t * math.log(9) + 1e-15)
    np.testing.assert_allclose(fs.softmax(x, temperature=1e-8), fs.hardmax(x), atol=1e-12)
    np.testing.assert_allclose(fs.soft_argmax(x, temperature=1e-8), np.argmax(x, -1), atol=1e-9)
    # tiny temperatures whose reciprocal overflows still give the limit
    np.testing.assert_allclose(fs.logsumexp(x, temperature=1e-310), x.max(-1), rtol=0)
    np.testing.assert_array_equal(fs.softmax(x, temperature=1e-310), fs.hardmax(x))


# ----------------------------------------------------------------------- special values


@pytest.mark.parametrize("case", SPECIAL_VALUES, ids=[c[0] for c in SPECIAL_VALUES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(case, dtype):
    name, x, lse, sm, lsm, sam, hard, scipy_agrees = case
    if dtype == np.float32 and name == "largest floats":
        x, lse = [3e38, 3e38], 3e38
    x = np.array(x, dtype)
    close = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0, equal_nan=True)
    np.testing.assert_allclose(fs.logsumexp(x), np.array(lse, dtype), **close)
    np.testing.assert_allclose(fs.softmax(x), np.array(sm, dtype), **close)
    np.testing.assert_allclose(fs.log_softmax(x), np.array(lsm, dtype), **close)
    np.testing.assert_allclose(fs.soft_argmax(x), np.array(sam, dtype), **close)
    np.testing.assert_array_equal(fs.hardmax(x), np.array(hard, dtype))
    # the NumPy twins follow the same table (except the accuracy case: they take the
    # log of a sum close to 1, as users' code does)
    if name != "near max":
        np.testing.assert_allclose(ref.logsumexp(x), np.array(lse, dtype), **close)
    np.testing.assert_allclose(ref.softmax(x), np.array(sm, dtype), **close)
    if name != "near max":
        np.testing.assert_allclose(ref.log_softmax(x), np.array(lsm, dtype), **close)
    if scipy_agrees and x.size:
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(sp.logsumexp(x.astype(np.float64)), lse, rtol=1e-6, equal_nan=True)


def test_special_values_in_the_middle_of_long_rows_and_pieces(monkeypatch):
    """Specials placed anywhere in rows long enough for several blocks, also when rows
    are cut into pieces on several threads."""
    monkeypatch.setattr(_schedules, "MIN_PIECE", 2048)
    monkeypatch.setattr(_reductions, "use_parallel", lambda size: True)
    monkeypatch.setattr(_schedules, "use_parallel", lambda size: True)
    base = _data((3, 50_000), np.float64, seed=10)
    for pos in (0, 2047, 2048, 33_333, 49_999):
        for val in (np.inf, np.nan, -np.inf):
            x = base.copy()
            x[1, pos] = val
            lse = fs.logsumexp(x)
            sm = fs.softmax(x)
            lsm = fs.log_softmax(x)
            np.testing.assert_allclose(lse[[0, 2]], sp.logsumexp(base[[0, 2]], axis=-1), rtol=1e-12)
            if val == np.inf:
                assert lse[1] == np.inf
                assert sm[1, pos] == 1.0 and np.count_nonzero(sm[1]) == 1
                assert lsm[1, pos] == 0.0 and np.all(np.delete(lsm[1], pos) == -np.inf)
                assert fs.soft_argmax(x)[1] == pos
            elif val != val:
                assert np.isnan(lse[1]) and np.isnan(sm[1]).all() and np.isnan(lsm[1]).all()
                assert np.isnan(fs.soft_argmax(x)[1])
            else:
                want = sp.logsumexp(np.delete(base[1], pos))
                np.testing.assert_allclose(lse[1], want, rtol=1e-12)
                assert sm[1, pos] == 0.0 and lsm[1, pos] == -np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maximum_anywhere_against_the_prefetching_pieces(dtype):
    """The sum sweep goes in 2 KiB pieces (256 or 512 elements) that may cut the 512-element
    block holding the maximum: put the maximum, and a tie with it, at every kind of
    position (piece and block edges, chunk edges of 8192) and compare with SciPy."""
    from fastsmooth._rowops import BLOCK, CHUNK, PREFETCH_BYTES

    piece = PREFETCH_BYTES // np.dtype(dtype).itemsize
    n = CHUNK + 3 * BLOCK + 7
    base = _data((1, n), np.float64, seed=11)[0]
    spots = sorted({0, 1, piece - 1, piece, piece + 1, BLOCK - 1, BLOCK, 2 * BLOCK + piece // 2,
                    CHUNK - 1, CHUNK, CHUNK + BLOCK, n - 1})
    rows = []
    for pos in spots:
        for tie in (None, pos + piece if pos + piece < n else 0):
            r = base.copy()
            r[pos] = 9.0
            if tie is not None:
                r[tie] = 9.0
            rows.append(r)
    x = np.array(rows).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(fs.logsumexp(x), sp.logsumexp(x.astype(np.float64), axis=-1), rtol=rtol)
    np.testing.assert_allclose(fs.softmax(x), sp.softmax(x.astype(np.float64), axis=-1), rtol=rtol)


def test_prefetch_past_the_end_is_harmless():
    """``prefetch`` is a hint: past the end of an array (what the kernels do on their last
    row) it neither faults nor changes anything."""
    from numba import njit

    from fastsmooth._bits import prefetch

    @njit
    def touch(a, far):
        for j in range(0, far, 8):
            prefetch(a, j)
        return a.sum()

    a = np.arange(10.0)
    assert touch(a, 1 << 16) == 45.0
    assert touch(a[::-2], 1 << 12) == 25.0
    np.testing.assert_array_equal(a, np.arange(10.0))


def test_all_neg_inf_rows_and_empty_reductions():
    x = np.full((2, 4), -np.inf)
    x[1, 2] = 0.0
    np.testing.assert_array_equal(fs.logsumexp(x), [-np.inf, 0.0])
    assert np.isnan(fs.softmax(x)[0]).all()
    np.testing.assert_array_equal(fs.softmax(x)[1], [0, 0, 1, 0])
    assert fs.logsumexp(np.empty((3, 0))).tolist() == [-np.inf] * 3
    assert fs.logsumexp(np.empty((0, 3))).shape == (0,)
    assert fs.softmax(np.empty((3, 0))).shape == (3, 0)
    assert fs.log_softmax(np.empty((0, 3))).shape == (0, 3)
    assert np.isnan(fs.soft_argmax(np.empty((2, 0)))).all()


def test_accurate_near_the_maximum():
    """The log1p finish (scipy#19521): results close to max(x) keep their digits."""
    assert fs.logsumexp([0.0, -40.0]) == pytest.approx(4.2483542552915889e-18, rel=1e-12)
    assert fs.log_softmax([0.0, -40.0])[0] == pytest.approx(-4.2483542552915889e-18, rel=1e-12)
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    for x in ([0.0, -40.0, -41.0], [5.0, 5.0 - 36.7, -1e3], [1e10, 1e10 - 30.0]):
        want = float(mpmath.log(sum(mpmath.exp(mpmath.mpf(v) - mpmath.mpf(x[0])) for v in x)) + mpmath.mpf(x[0]))
        got = fs.logsumexp(x)
        assert got - x[0] == pytest.approx(want - x[0], rel=1e-12)


def test_accuracy_against_mpmath_on_hard_rows():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    r = rng(11)
    for scale, n in ((1.0, 7), (700.0, 50), (1e-3, 100), (1e300, 3)):
        x = scale * r.standard_normal(n)
        want = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in x))
        assert fs.logsumexp(x) == pytest.approx(float(want), rel=1e-14)


def test_extreme_magnitudes_do_not_overflow():
    x = np.array([1.7e308, -1.7e308, 1.0])
    assert fs.logsumexp(x) == 1.7e308
    np.testing.assert_array_equal(fs.softmax(x), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(fs.log_softmax(x)[[0, 2]], [0.0, 1.0 - 1.7e308])
    assert fs.log_softmax(x)[1] == -np.inf  # -1.7e308 - 1.7e308 overflows to -inf: exact limit
    x32 = np.array([3e38, -3e38, 1.0], np.float32)
    assert fs.logsumexp(x32) == np.float32(3e38)
    np.testing.assert_array_equal(fs.softmax(x32), [1.0, 0.0, 0.0])


# ---------------------------------------------------------------------------- backward


def _vjp_cases():
    return [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((6,), 0), ((3, 2500), -1)]


@pytest.mark.parametrize("shape,axis", _vjp_cases())
@pytest.mark.parametrize("temperature", [1.0, 0.4])
def test_logsumexp_backward(shape, axis, temperature):
    x = _data(shape, np.float64, seed=12, scale=1.0)
    out = fs.logsumexp(x, axis, temperature=temperature)
    g = rng(13).standard_normal(out.shape)

    def f(z):
        return fs.logsumexp(z, axis, temperature=temperature)

    def vjp(gg, z):
        return fs.logsumexp_backward(gg, z, f(z), axis, temperature=temperature)

    check_vjp_fd(f, vjp, x, g)
    dx = fs.logsumexp_backward(g, x, out, axis, temperature=temperature)
    np.testing.assert_allclose(dx, ref.logsumexp_backward(g, x, out, axis, temperature=temperature), rtol=1e-12)
    # with kept dims for grad and out
    gk = np.expand_dims(g, axis)
    ok = np.expand_dims(out, axis)
    np.testing.assert_allclose(fs.logsumexp_backward(gk, x, ok, axis, temperature=temperature), dx, rtol=1e-15)


def test_logsumexp_backward_tuple_axes_and_specials():
    x = _data((3, 4, 5), np.float64, seed=14)
    out = fs.logsumexp(x, axis=(0, 2))
    g = rng(15).standard_normal(out.shape)
    dx = fs.logsumexp_backward(g, x, out, axis=(0, 2))
    np.testing.assert_allclose(dx, g[None, :, None] * sp.softmax(x, axis=(0, 2)), rtol=1e-12)
    dx = fs.logsumexp_backward(2.0, [1.0, np.inf, np.inf], np.inf)
    np.testing.assert_array_equal(dx, [0.0, 1.0, 1.0])
    assert np.isnan(fs.logsumexp_backward(1.0, [-np.inf, -np.inf], -np.inf)).all()
    dx = fs.logsumexp_backward(1.0, [0.0, -np.inf], 0.0)
    np.testing.assert_array_equal(dx, [1.0, 0.0])


@pytest.mark.parametrize("shape,axis", _vjp_cases())
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_softmax_and_log_softmax_backward(shape, axis, temperature):
    x = _data(shape, np.float64, seed=16, scale=1.0)
    g = rng(17).standard_normal(shape)
    for fwd, bwd, rbwd in (
        (fs.softmax, fs.softmax_backward, ref.softmax_backward),
        (fs.log_softmax, fs.log_softmax_backward, ref.log_softmax_backward),
    ):
        def f(z):
            return fwd(z, axis, temperature=temperature)

        def vjp(gg, z):
            return bwd(gg, f(z), axis, temperature=temperature)

        check_vjp_fd(f, vjp, x, g)
        y = f(x)
        np.testing.assert_allclose(
            bwd(g, y, axis, temperature=temperature),
            rbwd(g, y, axis, temperature=temperature),
            rtol=1e-11, atol=1e-15,
        )


@pytest.mark.parametrize("shape,axis", _vjp_cases())
@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_soft_argmax_backward(shape, axis, temperature):
    x = _data(shape, np.float64, seed=18, scale=1.0)
    g = rng(19).standard_normal(fs.soft_argmax(x, axis).shape)

    def f(z):
        return fs.soft_argmax(z, axis, temperature=temperature)

    def vjp(gg, z):
        return fs.soft_argmax_backward(gg, z, axis, temperature=temperature)

    check_vjp_fd(f, vjp, x, g, rtol=1e-5)
    np.testing.assert_allclose(
        fs.soft_argmax_backward(g, x, axis, temperature=temperature),
        ref.soft_argmax_backward(g, x, axis, temperature=temperature),
        rtol=1e-11, atol=1e-14,
    )


def test_soft_argmax2d_backward():
    x = _data((2, 5, 6), np.float64, seed=20, scale=1.0)
    g = rng(21).standard_normal((2, 2))
    for t in (1.0, 0.5):
        def f(z, t=t):
            return fs.soft_argmax2d(z, temperature=t)

        def vjp(gg, z, t=t):
            return fs.soft_argmax2d_backward(gg, z, temperature=t)

        check_vjp_fd(f, vjp, x, g, rtol=1e-5)
        np.testing.assert_allclose(
            fs.soft_argmax2d_backward(g, x, temperature=t),
            ref.soft_argmax2d_backward(g, x, temperature=t),
            rtol=1e-11, atol=1e-14,
        )


def test_full_jacobians_on_tiny_inputs():
    x = _data((3,), np.float64, seed=22, scale=1.0)
    y = fs.softmax(x, temperature=0.7)
    jac = full_jacobian_fd(lambda z: fs.softmax(z, temperature=0.7), x)
    analytic = (np.diag(y) - np.outer(y, y)) / 0.7
    np.testing.assert_allclose(jac, analytic, rtol=1e-6, atol=1e-9)
    for i in range(3):  # each VJP with a unit grad is one row of the Jacobian
        np.testing.assert_allclose(fs.softmax_backward(np.eye(3)[i], y, temperature=0.7), analytic[i], rtol=1e-13)
    jac = full_jacobian_fd(fs.logsumexp, x)
    np.testing.assert_allclose(jac, fs.softmax(x), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_backward_dtypes(dtype):
    x = _data((4, 6), dtype, seed=23, scale=1.0)
    y = fs.softmax(x)
    assert y.dtype == dtype
    g = np.ones_like(x)
    for dx in (
        fs.softmax_backward(g, y),
        fs.log_softmax_backward(g, fs.log_softmax(x)),
        fs.logsumexp_backward(np.ones(4, dtype), x, fs.logsumexp(x)),
        fs.soft_argmax_backward(np.ones(4, dtype), x),
    ):
        assert dx.dtype == dtype and dx.shape == x.shape


# --------------------------------------------------------------- long rows / pieces


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_long_rows_split_across_threads_agree(monkeypatch, dtype):
    x = _data((2, 40_000), dtype, seed=24)
    g = rng(25).standard_normal(x.shape).astype(dtype)
    serial = {}
    for mode in ("serial", "pieces"):
        if mode == "pieces":
            monkeypatch.setattr(_schedules, "MIN_PIECE", 2048)
            monkeypatch.setattr(_reductions, "use_parallel", lambda size: True)
            monkeypatch.setattr(_schedules, "use_parallel", lambda size: True)
            assert _schedules._plan(2, 40_000, True)[0] > 1
        else:
            monkeypatch.setattr(_reductions, "use_parallel", lambda size: False)
            monkeypatch.setattr(_schedules, "use_parallel", lambda size: False)
        lse = fs.logsumexp(x)
        y = fs.softmax(x)
        res = dict(
            lse=lse, sm=y, lsm=fs.log_softmax(x), sam=fs.soft_argmax(x),
            lseb=fs.logsumexp_backward(np.ones(2, dtype), x, lse),
            smb=fs.softmax_backward(g, y), lsmb=fs.log_softmax_backward(g, fs.log_softmax(x)),
            samb=fs.soft_argmax_backward(np.ones(2, dtype), x),
        )
        if mode == "serial":
            serial = res
        else:
            for k in res:  # the fixed reduction order: the same bits (issue 10)
                np.testing.assert_array_equal(res[k], serial[k], err_msg=k)
    np.testing.assert_allclose(serial["lse"], sp.logsumexp(x.astype(np.float64), axis=-1), **TOL[dtype])


# ------------------------------------------------------------------------------ errors


ALL_X_FUNCS = {
    "logsumexp": lambda x, **k: fs.logsumexp(x, **k),
    "softmax": lambda x, **k: fs.softmax(x, **k),
    "log_softmax": lambda x, **k: fs.log_softmax(x, **k),
    "soft_argmax": lambda x, **k: fs.soft_argmax(x, **k),
    "straight_through_hardmax": lambda x, **k: fs.straight_through_hardmax(x, **k),
}


@pytest.mark.parametrize("name", list(ALL_X_FUNCS))
def test_bad_temperature(name):
    f = ALL_X_FUNCS[name]
    for bad in (0.0, -1.0, np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match=rf"{name}: `temperature`"):
            f(np.ones(3), temperature=bad)
    for bad in ("1.0", None, 1j, [1.0], True):
        with pytest.raises(TypeError, match=rf"{name}: `temperature`"):
            f(np.ones(3), temperature=bad)


@pytest.mark.parametrize("name", list(ALL_X_FUNCS) + ["hardmax"])
def test_bad_axis_and_dtype(name):
    f = ALL_X_FUNCS.get(name, lambda x, **k: fs.hardmax(x, **k))
    with pytest.raises(ValueError, match="`axis`"):
        f(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="`axis`"):
        f(np.ones((2, 3)), axis=-3)
    with pytest.raises(TypeError, match="`axis`"):
        f(np.ones((2, 3)), axis=1.0)
    with pytest.raises(TypeError, match="`x`"):
        f(np.ones(3, complex))
    with pytest.raises(TypeError, match="`x`"):
        f(np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match="`x`"):
        f(np.array(["a", "b"]))


def test_axis_rules():
    with pytest.raises(TypeError, match="soft_argmax: `axis` must be an int"):
        fs.soft_argmax(np.ones((2, 3)), axis=(0, 1))
    with pytest.raises(TypeError, match="hardmax: `axis` must be an int"):
        fs.hardmax(np.ones((2, 3)), axis=None)
    with pytest.raises(ValueError, match="repeated"):
        fs.logsumexp(np.ones((2, 3)), axis=(1, -1))
    with pytest.raises(np.exceptions.AxisError):
        fs.logsumexp(3.0, axis=1)  # a 0-d array has the axes 0 and -1 only (issue 14)
    assert fs.logsumexp(3.0) == fs.logsumexp(3.0, axis=None) == 3.0


def test_bad_grad_and_out_shapes():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match="logsumexp_backward: `grad`"):
        fs.logsumexp_backward(np.ones(4), x, np.ones(3))
    with pytest.raises(ValueError, match="logsumexp_backward: `out`"):
        fs.logsumexp_backward(np.ones(3), x, np.ones((3, 4)))
    with pytest.raises(ValueError, match="softmax_backward: `grad`"):
        fs.softmax_backward(np.ones((4, 3)), x)
    with pytest.raises(ValueError, match="log_softmax_backward: `grad`"):
        fs.log_softmax_backward(np.ones(3), x)
    with pytest.raises(ValueError, match="soft_argmax_backward: `grad`"):
        fs.soft_argmax_backward(np.ones(4), x)
    with pytest.raises(ValueError, match="soft_argmax2d_backward: `grad`"):
        fs.soft_argmax2d_backward(np.ones((3, 2)), x)
    with pytest.raises(ValueError, match="soft_argmax2d: `x`"):
        fs.soft_argmax2d(np.ones(5))
    with pytest.raises(TypeError, match="`grad`"):
        fs.logsumexp_backward(np.ones(3, complex), x, np.ones(3))


@pytest.mark.parametrize("shape,axes", [((5, 300, 7), (1,)), ((64, 70), (0,)), ((3, 4, 5, 6), (1, 2)),
                                        ((2, 3, 4), (0, 1)), ((9, 1, 17), (0,))])
def test_transposed_layouts_use_the_tiled_copy_and_agree(shape, axes):
    """Reduced axes that are not last in a C array go through the tiled transpose."""
    from fastsmooth._arrays import to_rows

    x = _data(shape, np.float64, seed=30)
    rows = to_rows(x, axes)
    kept = [i for i in range(x.ndim) if i not in axes]
    np.testing.assert_array_equal(rows.data, x.transpose(kept + list(axes)).reshape(rows.data.shape))
    np.testing.assert_allclose(fs.logsumexp(x, axis=axes), sp.logsumexp(x, axis=axes), rtol=1e-12)
    np.testing.assert_allclose(fs.softmax(x, axis=axes), sp.softmax(x, axis=axes), rtol=1e-12)
    g = rng(31).standard_normal(shape)
    y = fs.softmax(x, axis=axes)
    np.testing.assert_allclose(fs.softmax_backward(g, y, axis=axes), ref.softmax_backward(g, y, axis=axes),
                               rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 32, 33])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_short_rows_with_specials_in_every_lane(n, dtype):
    """Rows of <= 32 elements are handled 64 at a time, one row per vector lane; every
    lane must keep its own special values (and a group may be partial)."""
    r = rng(32 + n)
    x = r.standard_normal((203, n)).astype(dtype)
    specials = np.array([np.inf, -np.inf, np.nan], dtype)
    for _ in range(60):
        x[r.integers(0, 203), r.integers(0, n)] = specials[r.integers(0, 3)]
    x[150] = -np.inf
    x[151] = np.inf
    close = dict(rtol=TOL[dtype]["rtol"], atol=1e-6 if dtype == np.float32 else 1e-15, equal_nan=True)
    np.testing.assert_allclose(fs.logsumexp(x), ref.logsumexp(x), **close)
    np.testing.assert_allclose(fs.softmax(x), ref.softmax(x), **close)
    np.testing.assert_allclose(fs.log_softmax(x), ref.log_softmax(x), **close)
    np.testing.assert_allclose(fs.soft_argmax(x), ref.soft_argmax(x), **close)
    for t in (0.3, 4.0):
        np.testing.assert_allclose(fs.logsumexp(x, temperature=t), ref.logsumexp(x, temperature=t), **close)
        np.testing.assert_allclose(fs.softmax(x, temperature=t), ref.softmax(x, temperature=t), **close)


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_of_2_4_8_in_place_give_the_bits_of_the_transposed_kernels(n, dtype):
    """Rows of 2, 4 and 8 elements are read and written in place (``stride_row``), all
    other short rows through a transposed copy; both run the same per-element recurrence
    in the same order, so the bits agree. A column of -inf appended to every row adds
    exp(-inf) = 0 to each sum and moves the rows onto the transposed kernels."""
    from fastsmooth._rowops import GROUP, group_state_buffers, group_states, stride_row, stride_states

    assert stride_row(n) and not stride_row(n + 1)
    r = rng(70 + n)
    rows = 600  # two whole groups of GROUP = 256 rows and a partial one
    x = (3 * r.standard_normal((rows, n))).astype(dtype)
    specials = np.array([np.inf, -np.inf, np.nan], dtype)
    for _ in range(100):
        x[r.integers(0, rows), r.integers(0, n)] = specials[r.integers(0, 3)]
    x[150] = -np.inf
    x[151] = np.inf
    x[152] = 1e30 if dtype == np.float32 else 1e300
    padded = np.full((rows, n + 1), -np.inf, dtype)
    padded[:, :n] = x
    for t in (1.0, 0.37):
        np.testing.assert_array_equal(fs.logsumexp(x, temperature=t), fs.logsumexp(padded, temperature=t))
        np.testing.assert_array_equal(fs.softmax(x, temperature=t), fs.softmax(padded, temperature=t)[:, :n])
        np.testing.assert_array_equal(fs.log_softmax(x, temperature=t),
                                      fs.log_softmax(padded, temperature=t)[:, :n])
    # and the two state kernels side by side group by group
    buf, m, s, first = group_state_buffers(x)
    m2, s2 = np.empty(GROUP, dtype), np.empty(GROUP, dtype)
    for r0 in range(0, rows, GROUP):
        g = min(GROUP, rows - r0)
        inv_t = dtype(1 / 0.37)
        group_states(x, r0, g, inv_t, buf, m, s, first)
        stride_states(x, r0, g, inv_t, m2, s2)
        np.testing.assert_array_equal(m2[:g], m[:g])
        np.testing.assert_array_equal(s2[:g], s[:g])


@pytest.mark.parametrize("n", [33, 1000, 4096, 8192, 8193, 20000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_softmax_rows_store_gaps_with_the_bits_of_state_then_span(n, dtype):
    """Rows of up to CHUNK elements store their scaled gaps during the sum sweep
    (``log_softmax_row``); the result must be the bits of the state (``lse_state``)
    followed by a separate sweep (``log_softmax_span``), specials and ties included."""
    from fastsmooth._config import jit
    from fastsmooth._rowops import log_softmax_span, lse_state

    @jit
    def two_sweeps(x, inv_t, y):
        for r in range(x.shape[0]):
            m, s = lse_state(x[r], 0, x.shape[1], inv_t)
            log_softmax_span(x[r], m, s, inv_t, 0, x.shape[1], y[r])

    r = rng(80)
    x = (3 * r.standard_normal((9, n))).astype(dtype)
    x[1, 5] = np.nan
    x[2, :3] = np.inf
    x[3] = -np.inf
    x[4, [0, n // 2, n - 1]] = x[4].max() + 1  # tied maxima
    x[5, 7] = np.finfo(dtype).max
    x[5, 8] = -np.finfo(dtype).max
    for t in (1.0, 0.37):
        want = np.empty_like(x)
        two_sweeps(x, dtype(1 / t), want)
        np.testing.assert_array_equal(fs.log_softmax(x, temperature=t), want)
