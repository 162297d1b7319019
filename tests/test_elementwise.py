"""Element-wise subgradients and smooth stand-ins: forward against NumPy/SciPy and the
twins, backward against finite differences away from kinks and against torch, the
convention exactly at the kink, the identities linking the family, stability at
+-1e4, +-inf and nan, convergence to the hard ops as the temperature falls, and every
error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsmooth as fs
from fastsmooth import _elementwise, _reductions, _schedules, _reference as ref

from .helpers import check_vjp_fd, layouts, rng

TOL = {np.float64: dict(rtol=1e-13, atol=1e-300), np.float32: dict(rtol=3e-6, atol=1e-30)}
TEMPERATURES = [0.05, 1.0, 7.0]

UNARY = {  # name: (forward, backward, reference forward, reference backward)
    "relu": (fs.relu, fs.relu_backward, ref.relu, ref.relu_backward),
    "abs": (fs.abs, fs.abs_backward, ref.abs_, ref.abs_backward),
    "sigmoid": (fs.sigmoid, fs.sigmoid_backward, ref.sigmoid, ref.sigmoid_backward),
    "softplus": (fs.softplus, fs.softplus_backward, ref.softplus, ref.softplus_backward),
    "smooth_abs": (fs.smooth_abs, fs.smooth_abs_backward, ref.smooth_abs, ref.smooth_abs_backward),
}
SMOOTH_UNARY = ["sigmoid", "softplus", "smooth_abs"]
BINARY = {
    "maximum": (fs.maximum, fs.maximum_backward, ref.maximum, ref.maximum_backward),
    "minimum": (fs.minimum, fs.minimum_backward, ref.minimum, ref.minimum_backward),
    "smooth_maximum": (fs.smooth_maximum, fs.smooth_maximum_backward, ref.smooth_maximum,
                       ref.smooth_maximum_backward),
    "smooth_minimum": (fs.smooth_minimum, fs.smooth_minimum_backward, ref.smooth_minimum,
                       ref.smooth_minimum_backward),
}
SMOOTH_BINARY = ["smooth_maximum", "smooth_minimum"]


def _data(shape, dtype=np.float64, seed=0, scale=3.0):
    return (scale * rng(seed).standard_normal(shape)).astype(dtype)


def _kwargs(name, temperature):
    return {"temperature": temperature} if name.startswith(("smooth", "sig", "soft")) else {}


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward_matches_twin(name, dtype):
    f, _, rf, _ = UNARY[name]
    x = _data((7, 9), dtype)
    x[0, :3] = 0.0
    for t in TEMPERATURES if name in SMOOTH_UNARY else [1.0]:
        kw = _kwargs(name, t)
        want = rf(x.astype(np.float64), **kw)
        tol = dict(TOL[dtype])
        if name == "smooth_abs":  # the twin's log-cosh cancels near 0: ~tau * eps absolute
            tol["atol"] = 8 * t * np.finfo(dtype).eps
        for lname, view in layouts(x):
            got = f(view, **kw)
            assert got.dtype == dtype and got.shape == x.shape
            np.testing.assert_allclose(got, want, err_msg=f"{name} {lname} t={t}", **tol)


def test_sigmoid_and_softplus_against_scipy():
    x = np.linspace(-800, 800, 10_001)
    # (SciPy flushes the subnormal results below exp(-708) to 0)
    np.testing.assert_allclose(fs.sigmoid(x), sp.expit(x), rtol=1e-15, atol=1e-307)
    np.testing.assert_allclose(fs.softplus(x), np.logaddexp(0.0, x), rtol=4e-16, atol=1e-307)
    # at a temperature, z = x / tau carries a rounding error that exp amplifies by |z|
    got, want = fs.sigmoid(x, temperature=2.5), sp.expit(x / 2.5)
    assert np.all(np.abs(got - want) <= 4e-16 * (1 + np.abs(x / 2.5)) * want + 1e-307)
    x32 = np.linspace(-100, 100, 10_001, dtype=np.float32)
    np.testing.assert_allclose(fs.sigmoid(x32), sp.expit(x32.astype(np.float64)), rtol=4e-7, atol=2e-38)


def test_smooth_abs_accuracy_against_mpmath():
    """Full relative precision near 0 (x**2 / (4 tau)) and for large |x|."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    for tau in (1.0, 0.01, 30.0):
        for x in (1e-300, 1e-12, 3e-5, 0.1, 1.0, -1.999, 2.0, 2.001, 7.5, -40.0, 1e3):
            xt = x * tau
            want = 2 * mpmath.mpf(tau) * mpmath.log(mpmath.cosh(mpmath.mpf(xt) / (2 * mpmath.mpf(tau))))
            assert fs.smooth_abs(xt, temperature=tau) == pytest.approx(float(want), rel=3e-15, abs=1e-320), (x, tau)
            dwant = mpmath.tanh(mpmath.mpf(xt) / (2 * mpmath.mpf(tau)))
            assert fs.smooth_abs_backward(1.0, xt, temperature=tau) == pytest.approx(float(dwant), rel=3e-15), (x, tau)
    # float32 keeps its precision near 0 too (a 1 - exp(-a) tanh would lose ~1e-3 here)
    x = np.float32(1e-4)
    assert fs.smooth_abs_backward(np.float32(1.0), x) == pytest.approx(math.tanh(5e-5), rel=2e-7)
    assert fs.smooth_abs(x) == pytest.approx(2 * math.log(math.cosh(5e-5)), rel=2e-7)


def test_sigmoid_tail_keeps_relative_precision():
    assert fs.sigmoid(-700.0) == pytest.approx(math.exp(-700.0), rel=1e-14)
    assert fs.softplus(-700.0) == pytest.approx(math.exp(-700.0), rel=1e-14)
    assert fs.sigmoid(np.float32(-80.0)) == pytest.approx(math.exp(-80.0), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_forward_with_broadcasting(name, dtype):
    f, _, rf, _ = BINARY[name]
    cases = [((4, 5), (4, 5)), ((4, 5), (5,)), ((3, 1, 5), (4, 1)), ((), (6,)), ((2, 3), ()), ((1,), (2, 3))]
    for i, (sx, sy) in enumerate(cases):
        x = _data(sx, dtype, seed=i)
        y = _data(sy, dtype, seed=i + 50)
        if x.shape == y.shape:
            y.flat[::3] = x.flat[::3]  # ties
        for t in TEMPERATURES if name in SMOOTH_BINARY else [1.0]:
            kw = _kwargs(name, t)
            got = f(x, y, **kw)
            want = rf(x.astype(np.float64), y.astype(np.float64), **kw)
            assert np.shape(got) == np.broadcast_shapes(sx, sy)
            assert np.asarray(got).dtype == dtype
            np.testing.assert_allclose(got, want, err_msg=f"{name} {sx} {sy}", **TOL[dtype])
    x = _data((6, 7), dtype, seed=9)
    y = _data((6, 7), dtype, seed=10)
    for lname, view in layouts(x):
        np.testing.assert_array_equal(f(view, y), f(x, y), err_msg=lname)
        np.testing.assert_array_equal(f(view, y.T.copy().T), f(x, y), err_msg=lname)


def test_binary_dtype_promotion():
    x32 = np.ones(3, np.float32)
    assert fs.maximum(x32, 0.5).dtype == np.float32  # a Python scalar takes x's dtype
    assert fs.maximum(0.5, x32).dtype == np.float32
    assert fs.maximum(x32, np.float64(0.5)).dtype == np.float64  # NumPy scalars do not
    assert fs.maximum(x32, np.ones(3)).dtype == np.float64
    assert fs.smooth_maximum(np.ones(3, np.float16), 1).dtype == np.float16
    assert fs.minimum(3, 2) == 2.0 and isinstance(fs.minimum(3, 2), np.float64)
    assert fs.maximum([True, False], 0).dtype == np.float64


@pytest.mark.parametrize("axis", [-1, 0, (0, 2), None])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_min_reductions(axis, dtype):
    x = rng(11).integers(-2, 3, (4, 5, 6)).astype(dtype)
    x[1, 2, 3] = np.nan
    for keepdims in (False, True):
        for name, view in layouts(x):
            got = fs.max(view, axis, keepdims=keepdims)
            np.testing.assert_array_equal(got, np.max(x, axis=axis, keepdims=keepdims), err_msg=name)
            np.testing.assert_array_equal(fs.min(view, axis, keepdims=keepdims),
                                          np.min(x, axis=axis, keepdims=keepdims), err_msg=name)
            assert np.asarray(got).dtype == dtype
    assert isinstance(fs.max(x, None), dtype)


def test_l1_loss():
    x = _data((5, 6), seed=12)
    t = _data((5, 6), seed=13)
    t[0] = x[0]
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(fs.l1_loss(x, t, reduction), ref.l1_loss(x, t, reduction), rtol=1e-14)
    assert np.isnan(fs.l1_loss(np.empty(0), np.empty(0)))
    assert fs.l1_loss(np.empty(0), np.empty(0), "sum") == 0.0
    assert fs.l1_loss(x.astype(np.float32), t.astype(np.float32)).dtype == np.float32


# ---------------------------------------------------------------------------- backward


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_backward_finite_differences(name):
    f, bwd, _, rbwd = UNARY[name]
    x = _data((4, 6), seed=14)
    x = np.where(np.abs(x) < 0.05, 0.5, x)  # away from the kink
    g = rng(15).standard_normal(x.shape)
    for t in (0.6, 2.0) if name in SMOOTH_UNARY else [1.0]:
        kw = _kwargs(name, t)
        check_vjp_fd(lambda z: f(z, **kw), lambda gg, z: bwd(gg, z, **kw), x, g, rtol=1e-7)
        np.testing.assert_allclose(bwd(g, x, **kw), rbwd(g, x, **kw), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_backward_finite_differences_and_broadcast_sums(name):
    f, bwd, _, rbwd = BINARY[name]
    for sx, sy in [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((3, 4), ())]:
        x = _data(sx, seed=16)
        y = _data(sy, seed=17) + 0.1  # no ties
        g = rng(18).standard_normal(np.broadcast_shapes(sx, sy))
        kw = _kwargs(name, 0.8)
        gx, gy = bwd(g, x, y, **kw)
        assert np.shape(gx) == sx and np.shape(gy) == sy
        check_vjp_fd(lambda z: f(z, y, **kw), lambda gg, z: bwd(gg, z, y, **kw)[0], x, g, rtol=1e-7)
        yy = np.asarray(y)
        check_vjp_fd(lambda z: f(x, z, **kw), lambda gg, z: bwd(gg, x, z, **kw)[1], yy, g, rtol=1e-7)
        rgx, rgy = rbwd(g, x, y, **kw)
        np.testing.assert_allclose(gx, rgx, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gy, rgy, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("axis", [-1, 0, (0, 2), None])
def test_max_min_backward(axis):
    x = _data((3, 4, 5), seed=19)
    x[0, 0, :2] = x.max() + 1.0  # tied maxima in some slices
    for fwd, bwd, np_red in ((fs.max, fs.max_backward, np.max), (fs.min, fs.min_backward, np.min)):
        out = fwd(x, axis)
        g = rng(20).standard_normal(np.shape(out))
        for ties in ("split", "first"):
            dx = bwd(g, x, axis, ties=ties, out=out)
            np.testing.assert_allclose(dx, ref.max_backward(g, x, axis, ties=ties, out=out), rtol=1e-15)
            # every convention is a subgradient: it sums to g per slice
            np.testing.assert_allclose(np.sum(dx, axis=axis), g, rtol=1e-12)
            # kept dims are accepted for grad and out
            dk = bwd(np.asarray(g).reshape(np_red(x, axis=axis, keepdims=True).shape), x, axis,
                     ties=ties, out=fwd(x, axis, keepdims=True))
            np.testing.assert_array_equal(dk, dx)
    xd = rng(21).permutation(60).reshape(3, 4, 5).astype(np.float64)  # distinct: plain gradient
    check_vjp_fd(lambda z: fs.max(z, 1), lambda gg, z: fs.max_backward(gg, z, 1), xd,
                 rng(22).standard_normal((3, 5)), eps=1e-3)


def test_l1_loss_backward():
    x = _data((4, 5), seed=23)
    t = _data((4, 5), seed=24)
    t[1, :2] = x[1, :2]
    for reduction, g in (("mean", 1.5), ("sum", -2.0), ("none", rng(25).standard_normal(x.shape))):
        for at_zero in (0.0, 0.5, -1.0):
            got = fs.l1_loss_backward(g, x, t, reduction, at_zero=at_zero)
            np.testing.assert_allclose(got, ref.l1_loss_backward(g, x, t, reduction, at_zero), rtol=1e-14)
            assert got[1, 0] == np.asarray(g).flat[5] * at_zero if reduction == "none" else True
    xs = np.where(x == t, x + 1.0, x)
    check_vjp_fd(lambda z: fs.l1_loss(z, t), lambda gg, z: fs.l1_loss_backward(gg, z, t), xs, np.float64(0.7))


def test_against_torch():
    torch = pytest.importorskip("torch")
    x = _data((40,), seed=26)
    x[:5] = 0.0
    y = _data((40,), seed=27)
    y[:8] = x[:8]
    g = rng(28).standard_normal(40)

    def grad_of(fn, *args):
        ts = [torch.from_numpy(a).requires_grad_() for a in args]
        fn(*ts).backward(torch.from_numpy(g))
        return [t.grad.numpy() for t in ts]

    np.testing.assert_allclose(fs.relu_backward(g, x), grad_of(torch.relu, x)[0], rtol=1e-15)
    np.testing.assert_allclose(fs.abs_backward(g, x), grad_of(torch.abs, x)[0], rtol=1e-15)
    np.testing.assert_allclose(fs.sigmoid_backward(g, x), grad_of(torch.sigmoid, x)[0], rtol=1e-13)
    np.testing.assert_allclose(fs.softplus_backward(g, x), grad_of(torch.nn.functional.softplus, x)[0], rtol=1e-13)
    for fwd, bwd, tfn in ((fs.maximum, fs.maximum_backward, torch.maximum),
                          (fs.minimum, fs.minimum_backward, torch.minimum)):
        np.testing.assert_array_equal(fwd(x, y), tfn(torch.from_numpy(x), torch.from_numpy(y)).numpy())
        for a, b in zip(bwd(g, x, y), grad_of(tfn, x, y)):
            np.testing.assert_allclose(a, b, rtol=1e-15)
    xr = rng(29).integers(0, 3, (6, 7)).astype(np.float64)  # ties
    for fwd, bwd, tfn in ((fs.max, fs.max_backward, torch.amax), (fs.min, fs.min_backward, torch.amin)):
        t = torch.from_numpy(xr).requires_grad_()
        tfn(t, 1).backward(torch.ones(6, dtype=torch.float64))
        np.testing.assert_allclose(bwd(np.ones(6), xr), t.grad.numpy(), rtol=1e-15)
    t = torch.from_numpy(x).requires_grad_()
    torch.nn.functional.l1_loss(t, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(fs.l1_loss_backward(1.0, x, y), t.grad.numpy(), rtol=1e-15)
    assert fs.l1_loss(x, y) == pytest.approx(float(torch.nn.functional.l1_loss(torch.from_numpy(x), torch.from_numpy(y))), rel=1e-15)


# -------------------------------------------------------------- conventions at the kink


def test_conventions_exactly_at_the_kink():
    zeros = np.zeros(3)
    g = np.array([2.0, -1.0, 4.0])
    for a in (0.0, 0.3, 1.0):
        np.testing.assert_array_equal(fs.relu_backward(g, zeros, at_zero=a), g * a)
    for a in (-1.0, 0.0, 0.5, 1.0):
        np.testing.assert_array_equal(fs.abs_backward(g, zeros, a), g * a)
    x = np.array([1.0, 2.0, 3.0])
    for tie in (0.0, 0.25, 0.5, 1.0):
        gx, gy = fs.maximum_backward(g, x, x, tie)
        np.testing.assert_array_equal(gx, g * tie)
        np.testing.assert_array_equal(gy, g * (1.0 - tie))
        gx, gy = fs.minimum_backward(g, x, x, tie=tie)
        np.testing.assert_array_equal(gx, g * tie)
        np.testing.assert_array_equal(gy, g * (1.0 - tie))
    # smooth ones: exactly the even split at the kink, for every temperature
    for t in TEMPERATURES:
        assert fs.sigmoid(0.0, temperature=t) == 0.5
        assert fs.smooth_abs_backward(1.0, 0.0, temperature=t) == 0.0
        assert fs.smooth_maximum_backward(1.0, 2.0, 2.0, temperature=t) == (0.5, 0.5)
        assert fs.smooth_minimum_backward(1.0, -np.inf, -np.inf, temperature=t) == (0.5, 0.5)
    # max reduction ties
    x = np.array([[1.0, 5.0, 5.0, 5.0]])
    np.testing.assert_allclose(fs.max_backward([3.0], x, out=[5.0]), [[0.0, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(fs.max_backward([3.0], x, out=[5.0], ties="first"), [[0.0, 3.0, 0.0, 0.0]])


def test_nan_conventions():
    nan = np.nan
    assert np.isnan(fs.relu(nan)) and np.isnan(fs.relu_backward(1.0, nan))
    assert np.isnan(fs.abs_backward(1.0, nan))
    np.testing.assert_array_equal(fs.maximum([nan, 1.0, nan], [1.0, nan, nan]), [nan] * 3)
    gx, gy = fs.maximum_backward(np.ones(3), [nan, 1.0, nan], [1.0, nan, nan])
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.5])  # the nan wins; two nans tie
    np.testing.assert_array_equal(gy, [0.0, 1.0, 0.5])
    x = np.array([[1.0, nan, 3.0, nan]])
    assert np.isnan(fs.max(x)).all() and np.isnan(fs.min(x)).all()
    np.testing.assert_array_equal(fs.max_backward([1.0], x, out=fs.max(x)), [[0.0, 0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(fs.min_backward([1.0], x, out=fs.min(x), ties="first"), [[0.0, 1.0, 0.0, 0.0]])
    for name in SMOOTH_UNARY:
        f, bwd, _, _ = UNARY[name]
        assert np.isnan(f(nan)) and np.isnan(bwd(1.0, nan))
    assert np.isnan(fs.smooth_maximum(nan, 1.0)) and np.isnan(fs.smooth_maximum_backward(1.0, 1.0, nan)).all()


def test_zero_slope_masks_infinite_grad():
    np.testing.assert_array_equal(fs.relu_backward([np.inf, np.nan], [-1.0, -2.0]), [0.0, 0.0])
    np.testing.assert_array_equal(fs.maximum_backward(np.inf, 1.0, 2.0), (0.0, np.inf))


# ----------------------------------------------------------------------------- identities


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    st.sampled_from([1e-3, 0.3, 1.0, 50.0]),
)
def test_identities(x, y, tau):
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    scale = np.maximum(np.abs(x), np.abs(y)) + tau
    # max(x, y) = (x + y + |x - y|) / 2, and min the same with a minus
    np.testing.assert_allclose(fs.maximum(x, y), (x + y + fs.abs(x - y)) / 2, rtol=0, atol=4e-16 * scale.max())
    np.testing.assert_allclose(fs.minimum(x, y), (x + y - fs.abs(x - y)) / 2, rtol=0, atol=4e-16 * scale.max())
    # smooth_maximum(x, y) = (x + y + smooth_abs(x - y)) / 2 + tau log 2
    rhs = (x + y + fs.smooth_abs(x - y, temperature=tau)) / 2 + tau * math.log(2.0)
    np.testing.assert_allclose(fs.smooth_maximum(x, y, temperature=tau), rhs, rtol=0, atol=8e-16 * scale.max())
    rhs = (x + y - fs.smooth_abs(x - y, temperature=tau)) / 2 - tau * math.log(2.0)
    np.testing.assert_allclose(fs.smooth_minimum(x, y, temperature=tau), rhs, rtol=0, atol=8e-16 * scale.max())
    np.testing.assert_array_equal(fs.smooth_minimum(x, y, temperature=tau), -fs.smooth_maximum(-x, -y, temperature=tau))
    # derivative links: softplus' = sigmoid, smooth_abs' = 2 sigmoid(x / tau) - 1
    np.testing.assert_array_equal(fs.softplus_backward(np.ones(n), x, temperature=tau), fs.sigmoid(x, temperature=tau))
    np.testing.assert_allclose(fs.smooth_abs_backward(np.ones(n), x, temperature=tau), 2 * fs.sigmoid(x, temperature=tau) - 1,
                               rtol=0, atol=7e-16)
    # bounds
    assert np.all(fs.smooth_maximum(x, y, temperature=tau) >= np.maximum(x, y))
    assert np.all(fs.smooth_maximum(x, y, temperature=tau) <= np.maximum(x, y) + tau * math.log(2) * (1 + 1e-15) + 1e-16 * scale)
    assert np.all(fs.softplus(x, temperature=tau) >= np.maximum(x, 0))
    assert np.all(fs.smooth_abs(x, temperature=tau) <= np.abs(x))


# ------------------------------------------------------------------------ special values


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stable_at_large_and_infinite_inputs(dtype):
    v = np.array([-np.inf, -1e4, 1e4, np.inf], dtype)
    one = np.ones_like(v)
    with np.errstate(all="raise"):  # nothing may overflow in NumPy code either
        np.testing.assert_array_equal(fs.sigmoid(v), [0, 0, 1, 1])
        np.testing.assert_array_equal(fs.sigmoid_backward(one, v), [0, 0, 0, 0])
        np.testing.assert_array_equal(fs.softplus(v), [0, 0, 1e4, np.inf])
        np.testing.assert_array_equal(fs.softplus_backward(one, v), [0, 0, 1, 1])
        sa = fs.smooth_abs(v)
        assert sa[0] == sa[3] == np.inf
        np.testing.assert_allclose(sa[1:3], 1e4 - 2 * math.log(2), rtol=1e-7)
        np.testing.assert_array_equal(fs.smooth_abs_backward(one, v), [-1, -1, 1, 1])
        w = np.array([np.inf, -np.inf, 1e4, -1e4], dtype)
        ln2 = dtype(math.log(2.0))
        np.testing.assert_array_equal(fs.smooth_maximum(v, w), [np.inf, -1e4, dtype(1e4) + ln2, np.inf])
        np.testing.assert_array_equal(fs.smooth_minimum(v, w), [-np.inf, -np.inf, dtype(1e4) - ln2, -1e4])
        gx, gy = fs.smooth_maximum_backward(one, v, w)
        np.testing.assert_array_equal(gx, [0, 1, 0.5, 1])
        np.testing.assert_array_equal(gy, [1, 0, 0.5, 0])
        np.testing.assert_array_equal(fs.smooth_maximum(v, v), v + dtype(math.log(2)))
        np.testing.assert_array_equal(fs.relu(v), [0, 0, 1e4, np.inf])
        np.testing.assert_array_equal(fs.abs(v), [np.inf, 1e4, 1e4, np.inf])
    big = np.finfo(dtype).max
    assert fs.smooth_maximum(big, -big) == big
    assert fs.smooth_abs(-big) == big


def test_extreme_temperatures():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(fs.sigmoid(x, temperature=1e-310), [0.0, 0.5, 1.0])  # 1/tau overflows
    np.testing.assert_array_equal(fs.softplus(x, temperature=1e-310), [0.0, 1e-310 * math.log(2), 3.0])
    np.testing.assert_allclose(fs.smooth_abs(x, temperature=1e300), x**2 / 4e300, rtol=1e-14)
    x32 = x.astype(np.float32)
    assert np.all(np.isfinite(fs.smooth_abs(x32, temperature=1e300)))
    np.testing.assert_array_equal(fs.sigmoid(x32, temperature=1e-45), [0.0, 0.5, 1.0])


def test_converges_to_the_hard_ops_as_temperature_falls():
    x = _data((200,), seed=30)
    y = _data((200,), seed=31)
    slack = 4 * np.spacing(np.maximum(np.abs(x), np.abs(y)))  # rounding of the difference
    for t in (1e-1, 1e-3, 1e-6):
        assert np.all(np.abs(fs.softplus(x, temperature=t) - fs.relu(x)) <= t * math.log(2) + slack)
        assert np.all(np.abs(fs.smooth_abs(x, temperature=t) - fs.abs(x)) <= 2 * t * math.log(2) + slack)
        assert np.all(np.abs(fs.smooth_maximum(x, y, temperature=t) - fs.maximum(x, y)) <= t * math.log(2) + slack)
        assert np.all(np.abs(fs.smooth_minimum(x, y, temperature=t) - fs.minimum(x, y)) <= t * math.log(2) + slack)
    t = 1e-6
    np.testing.assert_array_equal(fs.sigmoid(x, temperature=t), (x > 0).astype(float))
    np.testing.assert_array_equal(fs.softplus_backward(np.ones(200), x, temperature=t), fs.relu_backward(np.ones(200), x))
    np.testing.assert_array_equal(fs.smooth_abs_backward(np.ones(200), x, temperature=t), fs.abs_backward(np.ones(200), x))
    for smooth, hard in ((fs.smooth_maximum_backward, fs.maximum_backward),
                         (fs.smooth_minimum_backward, fs.minimum_backward)):
        for a, b in zip(smooth(np.ones(200), x, y, temperature=t), hard(np.ones(200), x, y)):
            np.testing.assert_array_equal(a, b)
    assert fs.smooth_maximum_backward(1.0, 1.0, 1.0, temperature=t) == fs.maximum_backward(1.0, 1.0, 1.0)  # tie 0.5


# ------------------------------------------------------------------- layouts and paths


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parallel_and_serial_paths_agree(monkeypatch, dtype):
    x = _data((300, 257), dtype, seed=32)  # several chunks, a partial last one
    y = _data((257,), dtype, seed=33)
    g = _data(x.shape, dtype, seed=34)
    results = {}
    for mode in (False, True):
        monkeypatch.setattr(_elementwise, "use_parallel", lambda n, mode=mode: mode)
        monkeypatch.setattr(_schedules, "use_parallel", lambda n, mode=mode: mode)
        monkeypatch.setattr(_reductions, "use_parallel", lambda n, mode=mode: mode)
        res = [UNARY[n][0](x) for n in UNARY] + [UNARY[n][1](g, x) for n in UNARY]
        res += [BINARY[n][0](x, y) for n in BINARY] + [c for n in BINARY for c in BINARY[n][1](g, x, y)]
        res += [fs.max(x, 0), fs.min(x), fs.max_backward(np.ones(257, dtype), x, 0, out=fs.max(x, 0))]
        results[mode] = res
    for a, b in zip(results[False], results[True]):
        np.testing.assert_array_equal(a, b)  # the same bits (issue 10)


def test_backward_layouts_and_0d():
    x = _data((5, 6), seed=35)
    g = _data((5, 6), seed=36)
    want = fs.softplus_backward(g, x, temperature=0.5)
    for xn, xv in layouts(x):
        for gn, gv in layouts(g):
            np.testing.assert_array_equal(fs.softplus_backward(gv, xv, temperature=0.5), want, err_msg=f"{xn} {gn}")
    assert isinstance(fs.relu(-1.0), np.float64)
    assert isinstance(fs.sigmoid_backward(1.0, np.float32(0.0)), np.float32)
    assert fs.relu(np.empty((0, 3))).shape == (0, 3)
    fx = np.asfortranarray(x)
    assert fs.smooth_abs(fx).flags.f_contiguous  # same memory order as the input


def test_inputs_are_not_modified():
    x = _data((4, 5), seed=37)
    y = _data((5,), seed=38)
    g = _data((4, 5), seed=39)
    saved = [a.copy() for a in (x, y, g)]
    for a in (x, y, g):
        a.flags.writeable = False
    for name, (f, bwd, _, _) in UNARY.items():
        f(x)
        bwd(g, x)
    for name, (f, bwd, _, _) in BINARY.items():
        f(x, y)
        bwd(g, x, y)
    fs.max_backward(np.ones(4), x, out=fs.max(x))
    fs.l1_loss_backward(g, x, x, "none")
    for a, b in zip((x, y, g), saved):
        np.testing.assert_array_equal(a, b)


def test_star_import_keeps_the_builtins():
    namespace = {}
    exec("from fastsmooth import *", namespace)
    assert "abs" not in namespace and "max" not in namespace and "min" not in namespace
    assert "relu" in namespace and "smooth_maximum_backward" in namespace
    assert fs.abs is _elementwise.abs_ and fs.max is _reductions.max_ and fs.min is _reductions.min_
    assert all(hasattr(fs, name) for name in fs.__all__)


# ------------------------------------------------------------------------------ errors


def test_bad_kink_arguments():
    with pytest.raises(ValueError, match=r"relu_backward: `at_zero` must be in \[0, 1\], got 1.5"):
        fs.relu_backward(1.0, 0.0, at_zero=1.5)
    with pytest.raises(ValueError, match=r"relu_backward: `at_zero` must be in \[0, 1\]"):
        fs.relu_backward(1.0, 0.0, at_zero=-0.1)
    with pytest.raises(ValueError, match=r"abs_backward: `at_zero` must be in \[-1, 1\]"):
        fs.abs_backward(1.0, 0.0, at_zero=2.0)
    with pytest.raises(ValueError, match=r"abs_backward: `at_zero`"):
        fs.abs_backward(1.0, 0.0, at_zero=np.nan)
    with pytest.raises(TypeError, match=r"relu_backward: `at_zero` must be a real number"):
        fs.relu_backward(1.0, 0.0, at_zero="0")
    with pytest.raises(ValueError, match=r"maximum_backward: `tie` must be in \[0, 1\]"):
        fs.maximum_backward(1.0, 0.0, 0.0, tie=-1.0)
    with pytest.raises(TypeError, match=r"minimum_backward: `tie` must be a real number"):
        fs.minimum_backward(1.0, 0.0, 0.0, tie=None)
    with pytest.raises(ValueError, match=r"max_backward: `ties` must be one of \('split', 'first'\)"):
        fs.max_backward(1.0, [1.0], ties="even")
    with pytest.raises(ValueError, match=r"l1_loss_backward: `at_zero`"):
        fs.l1_loss_backward(1.0, [1.0], [1.0], at_zero=3)


@pytest.mark.parametrize("name", SMOOTH_UNARY + SMOOTH_BINARY)
def test_bad_temperature(name):
    args = (np.ones(3),) if name in UNARY else (np.ones(3), np.ones(3))
    f, bwd = (UNARY if name in UNARY else BINARY)[name][:2]
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match=rf"{name}: `temperature` must be a finite number > 0"):
            f(*args, temperature=bad)
        with pytest.raises(ValueError, match=rf"{name}_backward: `temperature`"):
            bwd(np.ones(3), *args, temperature=bad)
    with pytest.raises(TypeError, match=rf"{name}: `temperature` must be a real number"):
        f(*args, temperature="1")


def test_bad_shapes_and_dtypes():
    with pytest.raises(ValueError, match=r"sigmoid_backward: `grad` must have shape \(3,\), got \(2,\)"):
        fs.sigmoid_backward(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match=r"relu_backward: `grad` must be real"):
        fs.relu_backward(np.ones(3, complex), np.ones(3))
    with pytest.raises(ValueError, match=r"maximum_backward: `grad` must have shape \(2, 3\)"):
        fs.maximum_backward(np.ones(3), np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"maximum: `x` of shape \(2,\) and `y` of shape \(3,\) do not broadcast"):
        fs.maximum(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match=r"smooth_minimum_backward: `x` of shape"):
        fs.smooth_minimum_backward(1.0, np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match=r"relu: `x` must be an array of real numbers"):
        fs.relu(np.ones(2, complex))
    with pytest.raises(TypeError, match=r"minimum: `y` must be an array of real numbers"):
        fs.minimum(np.ones(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"l1_loss: `reduction` must be one of"):
        fs.l1_loss([1.0], [1.0], reduction="avg")
    with pytest.raises(ValueError, match=r"l1_loss: `target` must have the shape of `input` \(2,\)"):
        fs.l1_loss([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"l1_loss_backward: `grad` must be a scalar"):
        fs.l1_loss_backward(np.ones(2), [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty axis"):
        fs.max(np.empty((3, 0)))
    with pytest.raises(ValueError, match=r"min: cannot reduce over an empty axis"):
        fs.min(np.empty((0, 3)), axis=0)
    with pytest.raises(np.exceptions.AxisError, match=r"max: `axis` 2 is out of range"):
        fs.max(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match=r"max_backward: `out` must have the reduced shape"):
        fs.max_backward(np.ones(2), np.ones((2, 3)), out=np.ones(3))
    with pytest.raises(ValueError, match=r"min_backward: `grad` must have the reduced shape"):
        fs.min_backward(np.ones(3), np.ones((2, 3)), out=np.ones(2))


def test_backward_recomputes_the_extreme_when_out_is_not_given():
    x = _data((4, 6), seed=60)
    x[1, :2] = x.max() + 1.0
    for fwd, bwd in ((fs.max, fs.max_backward), (fs.min, fs.min_backward)):
        for axis, ties in ((0, "split"), (1, "first"), (None, "split")):
            g = rng(61).standard_normal(np.shape(fwd(x, axis)))
            np.testing.assert_array_equal(bwd(g, x, axis, ties=ties),
                                          bwd(g, x, axis, ties=ties, out=fwd(x, axis)))


def test_forward_functions_accept_and_check_the_kink_conventions():
    """One set of keyword arguments serves the forward and the backward call."""
    x = np.array([-1.0, 0.0, 2.0])
    y = np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(fs.relu(x, at_zero=0.5), fs.relu(x))
    np.testing.assert_array_equal(fs.abs(x, at_zero=-1.0), fs.abs(x))
    np.testing.assert_array_equal(fs.maximum(x, y, tie=0.0), fs.maximum(x, y))
    np.testing.assert_array_equal(fs.minimum(x, y, tie=1.0), fs.minimum(x, y))
    assert fs.max(x, ties="first") == fs.max(x) and fs.min(x, ties="first") == fs.min(x)
    with pytest.raises(ValueError, match="relu: `at_zero`"):
        fs.relu(x, at_zero=2.0)
    with pytest.raises(ValueError, match="abs: `at_zero`"):
        fs.abs(x, at_zero=1.5)
    with pytest.raises(ValueError, match="maximum: `tie`"):
        fs.maximum(x, y, tie=-0.1)
    with pytest.raises(ValueError, match="max: `ties`"):
        fs.max(x, ties="even")
