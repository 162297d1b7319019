"""sparsemax and sparsemax_backward: forward against the sort-based NumPy twin and the
definition (the KKT conditions of the projection onto the simplex, and a brute-force
check that no other point of the simplex is closer), backward against central finite
differences and the analytic formula, special values, the tau -> 0 limit, errors, the
serial twin against the parallel one, and the entmax package when installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastsmooth as fs
from fastsmooth import _reference as ref
from fastsmooth import _schedules, _sparsemax

from .helpers import check_vjp_fd, full_jacobian_fd, layouts, rng

SHAPES_AXES = [
    ((5,), -1),
    ((1,), 0),
    ((3, 4), 0),
    ((3, 4), 1),
    ((2, 3, 5), 0),
    ((2, 3, 5), 1),
    ((2, 3, 5), -1),
    ((2, 1, 3, 4), -2),
    ((7, 1), 1),
    ((4, 3000), -1),
    ((3, 20000), 0),  # big enough for the parallel kernel
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), None),
]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-15), np.float32: dict(rtol=1e-6, atol=1e-7),
       np.float16: dict(rtol=1e-3, atol=1e-3)}


def _data(shape, dtype, seed=0, scale=1.0):
    return (scale * rng(seed).standard_normal(shape)).astype(dtype)


def _rows(a, axis):
    """``a`` with ``axis`` moved last and flattened: (R, n) float64."""
    a = np.asarray(a, np.float64)
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % a.ndim)
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = a.transpose(kept + list(axes))
    return moved.reshape(int(np.prod(moved.shape[: len(kept)])), -1)


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_forward_matches_the_numpy_twin(shape, axis, dtype):
    x = _data(shape, dtype, scale=2.0)
    want = ref.sparsemax(x.astype(np.float64), axis).astype(dtype)
    for name, view in layouts(x):
        msg = f"sparsemax {name} {shape} axis={axis} {dtype.__name__}"
        got = fs.sparsemax(view, axis)
        assert got.dtype == dtype and got.shape == x.shape, msg
        np.testing.assert_allclose(got, want, err_msg=msg, **TOL[dtype])


@pytest.mark.parametrize("temperature", [1e-3, 0.3, 1.0, 7.0, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_temperature(temperature, dtype):
    x = _data((6, 50), dtype, seed=1, scale=2.0)
    got = fs.sparsemax(x, temperature=temperature)
    want = ref.sparsemax(x.astype(np.float64), temperature=temperature)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    # the same as sparsemax of x / tau in float64
    np.testing.assert_allclose(got, fs.sparsemax(x.astype(np.float64) / temperature), **TOL[dtype])


def _kkt(x, p, tau=1.0):
    """The optimality conditions of min ||p - z||^2 over the simplex, row by row."""
    z = _rows(x, -1) / tau
    p = _rows(p, -1)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=0, atol=1e-12)
    for zr, pr in zip(z, p):
        on = pr > 0
        theta = zr[on] - pr[on]  # p_i = z_i - theta on the support
        np.testing.assert_allclose(theta, theta.mean(), rtol=0, atol=1e-12)
        assert (zr[~on] <= theta.mean() + 1e-12).all()  # z_i <= theta off it


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 9000])
@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_forward_satisfies_the_kkt_conditions(n, scale):
    x = _data((5, n), np.float64, seed=n, scale=scale)
    _kkt(x, fs.sparsemax(x))
    _kkt(x, fs.sparsemax(x, temperature=0.2), 0.2)


def test_forward_is_the_closest_point_of_the_simplex():
    """Brute force: no random point of the simplex, and no small move of the result
    along the simplex, is closer to z than sparsemax(z)."""
    r = rng(5)
    for trial in range(20):
        z = r.standard_normal(6) * 1.5
        p = fs.sparsemax(z)
        best = np.sum((p - z) ** 2)
        q = r.dirichlet(np.ones(6) * 0.3, size=4000)
        assert (np.sum((q - z) ** 2, axis=1) >= best - 1e-12).all()
        for _ in range(200):  # feasible moves: q = p + eps (e_i - e_j)
            i, j = r.choice(6, 2, replace=False)
            eps = r.uniform(0, min(p[j], 0.1)) if p[j] > 0 else 0.0
            q = p.copy()
            q[i] += eps
            q[j] -= eps
            assert np.sum((q - z) ** 2) >= best - 1e-12


def test_forward_matches_a_scipy_projection():
    optimize = pytest.importorskip("scipy.optimize")
    z = np.array([0.3, -0.2, 0.8, 0.75, -1.0, 0.1])
    res = optimize.minimize(
        lambda p: np.sum((p - z) ** 2), np.full(6, 1 / 6), jac=lambda p: 2 * (p - z),
        bounds=[(0, None)] * 6, constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
        method="SLSQP", options={"ftol": 1e-14, "maxiter": 200},
    )
    np.testing.assert_allclose(fs.sparsemax(z), res.x, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 8, 32])
def test_a_short_row_does_not_depend_on_the_other_rows_of_its_group(n, dtype):
    """Rows of up to 32 entries are solved GROUP at a time, one per vector lane; each
    lane stops iterating when its own support has settled, so its result is bit for bit
    that of the row alone. (When the group stepped on until every lane had settled, about
    1 % of such float64 rows of 8 differed from the row alone in the last bits.)"""
    x = (3.0 * rng(3).standard_normal((4 * _sparsemax.GROUP + 5, n))).astype(dtype)
    y = fs.sparsemax(x)
    for i in range(x.shape[0]):
        np.testing.assert_array_equal(y[i], fs.sparsemax(x[i]))
    np.testing.assert_array_equal(y[::-1], fs.sparsemax(x[::-1].copy()))  # other neighbours



@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=40),
               elements=st.floats(-1e3, 1e3)),
    st.floats(-1e3, 1e3),
)
def test_invariants(x, shift):
    p = fs.sparsemax(x)
    assert (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fs.sparsemax(x + shift), p, rtol=0, atol=1e-9)  # shift invariance
    # the order of the entries is kept, and the largest entry is in the support
    assert (np.take_along_axis(p, np.argmax(x, -1)[..., None], -1) > 0).all()
    np.testing.assert_allclose(p, ref.sparsemax(x), rtol=1e-10, atol=1e-12)


def test_worked_examples_of_martins_and_astudillo():
    # two entries: sparsemax([t, 0])_0 = clip((t + 1) / 2, 0, 1), the "hard sigmoid"
    t = np.linspace(-2, 2, 41)
    got = fs.sparsemax(np.stack([t, np.zeros_like(t)], axis=-1))[:, 0]
    np.testing.assert_allclose(got, np.clip((t + 1) / 2, 0, 1), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(fs.sparsemax([1.0, 2.0, 3.0, 4.0, 2.0]), [0, 0, 0, 1, 0])
    np.testing.assert_allclose(fs.sparsemax([0.1, 0.3, 0.2]), np.array([0.7, 1.3, 1.0]) / 3, rtol=1e-15)


def test_exact_zeros_and_uniform_rows():
    p = fs.sparsemax([5.0, 0.0, 4.5, -3.0])
    assert p[1] == 0.0 and p[3] == 0.0
    np.testing.assert_allclose(p, [0.75, 0.0, 0.25, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(fs.sparsemax(np.full((2, 8), 3.25)), np.full((2, 8), 0.125))


# ----------------------------------------------------------------------------- special values

_inf, _nan = np.inf, np.nan
SPECIAL = [
    ("empty", [], []),
    ("nan", [1.0, _nan, 2.0], [_nan] * 3),
    ("nan and +inf", [_inf, _nan], [_nan] * 2),
    ("nan and -inf", [-_inf, _nan], [_nan] * 2),
    ("all -inf", [-_inf, -_inf], [_nan] * 2),
    ("one +inf", [1.0, _inf, 3.0], [0.0, 1.0, 0.0]),
    ("two +inf", [_inf, 0.0, _inf], [0.5, 0.0, 0.5]),
    ("+inf and -inf", [-_inf, _inf], [0.0, 1.0]),
    ("some -inf", [-_inf, 0.0, -_inf, 0.5], [0.0, 0.25, 0.0, 0.75]),
    ("huge", [1e308, -1e308, 1e308], [0.5, 0.0, 0.5]),
    ("largest floats", [1.7e308, 1.7e308], [0.5, 0.5]),
    ("ties", [2.0, 2.0, 1.0], [0.5, 0.5, 0.0]),
    ("tiny gaps", [0.0, 1e-300], [0.5, 0.5]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case,x,want", SPECIAL, ids=[c[0] for c in SPECIAL])
def test_special_values(case, x, want, dtype):
    if dtype is np.float32 and case in ("huge", "largest floats"):
        x = [np.float32(3e38) if v > 0 else np.float32(-3e38) for v in x]
    x = np.array(x, dtype)
    got = fs.sparsemax(x)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_allclose(got, np.array(want, dtype), rtol=1e-6, atol=0)
    np.testing.assert_allclose(ref.sparsemax(x), np.array(want, dtype), rtol=1e-6, atol=0)
    # the same row inside a batch of ordinary rows, and in the middle of a long row
    batch = np.stack([_data(x.shape, dtype, seed=9), x, _data(x.shape, dtype, seed=10)])
    np.testing.assert_array_equal(fs.sparsemax(batch)[1], got)
    if x.size:
        long = np.full(5000, -_inf, dtype)
        long[2000:2000 + x.size] = x
        np.testing.assert_allclose(fs.sparsemax(long)[2000:2000 + x.size], got, rtol=1e-6, atol=0)


def test_empty_shapes():
    assert fs.sparsemax(np.zeros((3, 0))).shape == (3, 0)
    assert fs.sparsemax(np.zeros((0, 4))).shape == (0, 4)
    assert fs.sparsemax(np.zeros((0, 4)), axis=0).shape == (0, 4)
    assert fs.sparsemax_backward(np.zeros((3, 0)), np.zeros((3, 0))).shape == (3, 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_temperature_tends_to_hardmax(dtype):
    x = _data((50, 9), dtype, seed=3)
    for tau in (1e-3, 1e-9, 1e-30, 1e-300 if dtype is np.float64 else 1e-38, 5e-324):
        np.testing.assert_array_equal(fs.sparsemax(x, temperature=tau), fs.hardmax(x))
    # ties split evenly
    np.testing.assert_array_equal(fs.sparsemax(np.array([1.0, 3.0, 3.0, 2.0], dtype), temperature=1e-12),
                                  [0.0, 0.5, 0.5, 0.0])


def test_large_temperature_tends_to_uniform():
    x = _data((4, 10), np.float64, seed=4)
    np.testing.assert_allclose(fs.sparsemax(x, temperature=1e12), 0.1, rtol=1e-9)


# ----------------------------------------------------------------------------- backward


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES[:9] + SHAPES_AXES[11:])
def test_backward_matches_finite_differences(shape, axis, temperature):
    x = _data(shape, np.float64, seed=6, scale=0.7)
    grad = _data(shape, np.float64, seed=7)
    fwd = lambda v: fs.sparsemax(v, axis, temperature=temperature)  # noqa: E731
    vjp = lambda g, v: fs.sparsemax_backward(g, fwd(v), axis, temperature=temperature)  # noqa: E731
    # central differences stay inside one piece of the piecewise-linear map: the
    # threshold is far (> 1e-4) from every entry for these seeds
    z = _rows(x, axis) / temperature
    p = _rows(fwd(x), axis)
    theta = np.array([np.mean(zr[pr > 0] - pr[pr > 0]) for zr, pr in zip(z, p)])
    assert np.abs(z - theta[:, None]).min() > 1e-4
    check_vjp_fd(fwd, vjp, x, grad, eps=1e-7, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_backward_full_jacobian(temperature):
    x = np.array([[0.3, -0.2, 0.8, 0.75, -1.0], [0.0, 0.1, 0.03, 2.0, -0.4]])
    jac = full_jacobian_fd(lambda v: fs.sparsemax(v, temperature=temperature), x, eps=1e-7)
    y = fs.sparsemax(x, temperature=temperature)
    for r in range(2):
        s = (y[r] > 0).astype(float)
        want = (np.diag(s) - np.outer(s, s) / s.sum()) / temperature
        np.testing.assert_allclose(jac[r, :, r, :], want, rtol=0, atol=1e-7)
        for i in range(5):
            e = np.zeros_like(x)
            e[r, i] = 1.0
            np.testing.assert_allclose(fs.sparsemax_backward(e, y, temperature=temperature)[r], want[i],
                                       rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_backward_matches_the_analytic_formula(shape, axis, dtype):
    x = _data(shape, np.float64, seed=8)
    y = fs.sparsemax(x, axis, temperature=0.5).astype(dtype)
    grad = _data(shape, dtype, seed=9)
    want = ref.sparsemax_backward(grad.astype(np.float64), y.astype(np.float64), axis, temperature=0.5)
    for name, view in layouts(y):
        got = fs.sparsemax_backward(grad, view, axis, temperature=0.5)
        assert got.dtype == dtype and got.shape == y.shape, name
        np.testing.assert_allclose(got, want.astype(dtype), err_msg=f"{name} {shape} {axis}",
                                   rtol=TOL[dtype]["rtol"], atol=4 * TOL[dtype]["atol"])


def test_backward_special_values():
    y = np.array([[0.25, 0.0, 0.75, 0.0], [0.5, np.nan, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    g = np.array([[1.0, np.nan, 3.0, np.inf], [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [5.0, 2.0, 1.0, 0.0]])
    got = fs.sparsemax_backward(g, y)
    np.testing.assert_array_equal(got[0], [-1.0, 0.0, 1.0, 0.0])  # nan/inf off the support: 0
    assert np.isnan(got[1]).all()  # nan in y: nan row
    np.testing.assert_array_equal(got[2], 0.0)  # no support
    np.testing.assert_array_equal(got[3], 0.0)  # one-hot: zero gradient
    np.testing.assert_array_equal(ref.sparsemax_backward(g, y), got)
    # shift invariance of the input: the gradient along ones is 0
    x = _data((3, 40), np.float64, seed=11)
    np.testing.assert_allclose(fs.sparsemax_backward(np.ones_like(x), fs.sparsemax(x)), 0.0, rtol=0, atol=1e-15)


def test_backward_float32_is_rounded_once():
    """float32: the support mean and the difference in float64, one rounding at the end."""
    x = _data((8, 300), np.float32, seed=12, scale=0.05)
    y = fs.sparsemax(x)
    g = _data((8, 300), np.float32, seed=13) + np.float32(1000.0)
    want = ref.sparsemax_backward(g.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_max_ulp(fs.sparsemax_backward(g, y), want, maxulp=1)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match=r"sparsemax: `temperature` must be a finite number > 0"):
        fs.sparsemax([1.0, 2.0], temperature=bad)
    with pytest.raises(ValueError, match=r"sparsemax_backward: `temperature` must be a finite number > 0"):
        fs.sparsemax_backward([1.0, 2.0], [0.5, 0.5], temperature=bad)
    with pytest.raises(TypeError, match="sparsemax: `temperature` must be a real number"):
        fs.sparsemax([1.0, 2.0], temperature="1")


def test_bad_inputs():
    with pytest.raises(TypeError, match=r"sparsemax: `x` must be an array of real numbers"):
        fs.sparsemax(np.ones(3, complex))
    with pytest.raises(TypeError, match=r"sparsemax_backward: `y` must be an array of real numbers"):
        fs.sparsemax_backward(np.ones(3), np.ones(3, complex))
    with pytest.raises(TypeError, match=r"sparsemax_backward: `grad` must be real"):
        fs.sparsemax_backward(np.ones(3, complex), np.ones(3))
    with pytest.raises(ValueError, match=r"sparsemax_backward: `grad` must have shape \(2, 3\)"):
        fs.sparsemax_backward(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError, match="sparsemax: `axis` 2 is out of range"):
        fs.sparsemax(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match="sparsemax_backward: `axis` must be an int or a tuple"):
        fs.sparsemax_backward(np.ones(3), np.ones(3), axis=1.5)
    with pytest.raises(ValueError, match="sparsemax: `axis` contains a repeated axis"):
        fs.sparsemax(np.ones((2, 3)), axis=(1, -1))
    with pytest.raises(ValueError, match="sparsemax: `x` must be an array or a rectangular"):
        fs.sparsemax([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError):
        fs.sparsemax([1.0, 2.0], -1, 0.5)  # temperature is keyword-only


def test_no_floating_point_warnings_and_inputs_kept():
    x = np.array([[1e308, -1e308, np.inf, -np.inf, np.nan], [1e308, -1e308, 1.0, -np.inf, 0.0]])
    before = x.copy()
    with np.errstate(all="raise"):
        y = fs.sparsemax(x, temperature=1e-300)
        fs.sparsemax_backward(x, y, temperature=1e-300)
    np.testing.assert_array_equal(x, before)
    assert np.isnan(y[0]).all()
    np.testing.assert_array_equal(y[1], [1.0, 0.0, 0.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3000, 50), (5, 30000), (40000, 4)])
def test_serial_twin_equals_parallel(monkeypatch, shape, dtype):
    x = _data(shape, dtype, seed=14, scale=2.0)
    x[1, :3] = [np.inf, 1.0, np.inf]
    x[2, 1] = np.nan
    g = _data(shape, dtype, seed=15)
    results = {}
    for parallel in (False, True):
        monkeypatch.setattr(_schedules, "use_parallel", lambda size, p=parallel: p)
        y = fs.sparsemax(x, temperature=0.7)
        results[parallel] = (y, fs.sparsemax_backward(g, y, temperature=0.7))
    for a, b in zip(results[False], results[True]):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- peers


def test_matches_entmax():
    torch = pytest.importorskip("torch")
    entmax = pytest.importorskip("entmax")
    x = _data((20, 37), np.float64, seed=16, scale=2.0)
    for tau in (1.0, 0.4):
        t = torch.tensor(x / tau, requires_grad=True)
        y = entmax.sparsemax(t, dim=-1)
        np.testing.assert_allclose(fs.sparsemax(x, temperature=tau), y.detach().numpy(), rtol=1e-12, atol=1e-15)
        g = _data(x.shape, np.float64, seed=17)
        y.backward(torch.tensor(g))
        ours = fs.sparsemax_backward(g, fs.sparsemax(x, temperature=tau), temperature=tau)
        np.testing.assert_allclose(ours, t.grad.numpy() / tau, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 5, 8, 31, 32])
def test_short_row_groups_agree_with_whole_rows(monkeypatch, n, dtype):
    """Rows of at most SHORT_ROW elements go through the row-group kernel (lanes across
    rows); forcing the whole-row kernel gives the same values (to rounding), special
    rows included (the group kernel hands them to the row helper)."""
    x = _data((700, n), dtype, seed=n, scale=2.0)
    x[3, 0] = np.nan
    x[5, -1] = np.inf
    x[7] = -np.inf
    x[9, 0] = -np.inf
    got = fs.sparsemax(x, temperature=0.8)
    monkeypatch.setattr(_schedules, "SHORT_ROW", 0)
    want = fs.sparsemax(x, temperature=0.8)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_allclose(got, ref.sparsemax(x.astype(np.float64), temperature=0.8).astype(dtype), **TOL[dtype])


@pytest.mark.parametrize("shape", [(2000, 8), (200, 4096)])
def test_float32_forward_is_computed_in_float64(shape):
    """The threshold math runs in float64 for float32 inputs: the result is the float64
    answer rounded (to a relative 1e-6, with a tiny absolute slack for entries near 0,
    where the last bits of the threshold matter)."""
    x = _data(shape, np.float32, seed=18, scale=2.0)
    want = ref.sparsemax(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(fs.sparsemax(x), want, rtol=1e-6, atol=1e-13)


def test_the_row_passes_vectorize():
    """The per-row passes compile to SIMD code: packed float64 adds on 256/512-bit
    registers (the first form of ``_support``, two selects on one comparison, had
    none). Uncached twins: Numba does not disassemble code it loaded from its cache.
    As SSE2 code (``NUMBA_CPU_NAME=generic``, 128-bit registers) ``_support`` still
    vectorizes; ``_support_grad`` does not (not checked there)."""
    import re

    import numba

    from fastsmooth._config import REDUCTION_FASTMATH

    generic = numba.config.CPU_NAME == "generic"
    packed = re.compile(r"\baddpd\s+%xmm" if generic else r"\bv?addpd\s+%[yz]mm")
    opts = dict(fastmath=set(REDUCTION_FASTMATH), error_model="numpy", boundscheck=False)
    support = numba.njit(**opts)(_sparsemax._support.py_func)
    support_grad = numba.njit(**opts)(_sparsemax._support_grad.py_func)
    for dtype in (np.float64, np.float32):
        x = np.ones(64, dtype)
        support(x, 64, dtype(1.0), 1.0, -1.0)
        support_grad(x, x, 64)
    for f in (support,) if generic else (support, support_grad):
        for sig in f.signatures:
            assert packed.search(f.inspect_asm(sig)), (f.__name__, sig)


@pytest.mark.parametrize("n", [2, 7, 100, 5000])
def test_the_sorting_finish_gives_the_newton_threshold(n):
    """``_sorted_threshold`` (the finish after NEWTON_STEPS steps) from any lower
    bound of the threshold agrees with Newton's threshold."""
    for seed in range(5):
        x = _data(n, np.float64, seed=100 + seed, scale=[0.01, 0.3, 1.0, 3.0, 30.0][seed])
        m = x.max()
        theta = _sparsemax._threshold(x, n, m, 1.0)
        for lower in (-1.0, (theta - 1.0) / 2, theta - 1e-9):
            np.testing.assert_allclose(_sparsemax._sorted_threshold(x, n, m, 1.0, lower), theta,
                                       rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(np.maximum(x - m - theta, 0.0), ref.sparsemax(x), rtol=1e-12, atol=1e-15)
