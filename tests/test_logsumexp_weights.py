"""Weighted LogSumExp (``b=``), ``return_sign`` and 0-d inputs of the reductions:
against SciPy and mpmath, the special values one by one, the backward against finite
differences and its formula, serial == parallel twins, and every error."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
import scipy.special as sp

import fastsmooth as fs
from fastsmooth import _reductions, _schedules
from fastsmooth import _reference as ref

from .helpers import check_vjp_fd, layouts, rng

inf, nan = np.inf, np.nan


def _scipy(x, b=None, axis=-1, **kw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return sp.logsumexp(np.asarray(x, np.float64), axis=axis,
                            b=None if b is None else np.asarray(b, np.float64), **kw)


def _mp_lse(x, b, tau=1.0, dps=60):
    """``(tau * log|sum b e^(x/tau)|, sign)`` of 1-D float inputs at ``dps`` digits."""
    with mpmath.workdps(dps):
        tot = mpmath.fsum(mpmath.mpf(float(w)) * mpmath.exp(mpmath.mpf(float(v)) / mpmath.mpf(tau))
                          for v, w in zip(x, b) if w != 0)
        if tot == 0:
            return -inf, 0.0
        return float(mpmath.mpf(tau) * mpmath.log(abs(tot))), float(mpmath.sign(tot))


# ----------------------------------------------------------------------------- forward

SHAPES_AXES = [((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 5), (0, 2)), ((4, 3000), -1),
               ((3, 20000), 0), ((2, 40), None), ((64, 7), -1)]


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_positive_weights_match_scipy_to_1e13(shape, axis):
    x = 4.0 * rng(1).standard_normal(shape)
    b = rng(2).random(shape) + 0.01
    want = _scipy(x, b, axis)
    # 1e-13 relative; a result near 0 is m + log(...) with cancellation, where both
    # SciPy and fastsmooth are off by ~eps * |m| (fastsmooth the less, against mpmath)
    tol = dict(rtol=1e-13, atol=1e-15 * np.abs(x).max())
    for name, view in layouts(x):
        got = fs.logsumexp(view, axis=axis, b=b)
        np.testing.assert_allclose(got, want, err_msg=f"{name} {shape} {axis}", **tol)
        assert got.dtype == np.float64
    for name, bview in layouts(b):
        np.testing.assert_allclose(fs.logsumexp(x, axis=axis, b=bview), want, err_msg=f"b {name}", **tol)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES[:6])
def test_signed_weights_match_scipy_with_their_sign(shape, axis):
    x = 2.0 * rng(3).standard_normal(shape)
    b = rng(4).standard_normal(shape)
    want, want_sign = _scipy(x, b, axis, return_sign=True)
    got, sign = fs.logsumexp(x, axis=axis, b=b, return_sign=True)
    np.testing.assert_array_equal(sign, want_sign)
    # the error of a signed sum is relative to the sum of |terms|, not to the result
    cond = _scipy(x, np.abs(b), axis) - want
    np.testing.assert_array_less(np.abs(got - want), 1e-13 * np.abs(want) + 1e-14 * np.exp(cond))
    plain = fs.logsumexp(x, axis=axis, b=b)
    np.testing.assert_array_equal(np.isnan(plain), sign < 0)
    np.testing.assert_array_equal(plain[sign > 0], got[sign > 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_float32_weights(dtype):
    x = (3.0 * rng(5).standard_normal((6, 300))).astype(dtype)
    b = rng(6).random((6, 300)).astype(dtype)
    got = fs.logsumexp(x, b=b)
    assert got.dtype == dtype
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(got.astype(np.float64), _scipy(x, b), **tol)


def test_dtype_rule_of_the_weights():
    x32 = np.array([1.0, 2.0], np.float32)
    assert fs.logsumexp(x32, b=np.array([1.0, 2.0], np.float32)).dtype == np.float32
    assert fs.logsumexp(x32, b=[True, False]).dtype == np.float32  # a mask: x decides
    assert fs.logsumexp(x32, b=[1, 2]).dtype == np.float32  # ints: x decides
    assert fs.logsumexp(x32, b=np.array([1.0, 2.0])).dtype == np.float64  # float64 b promotes
    assert fs.logsumexp([1, 2], b=np.array([1.0, 2.0], np.float32)).dtype == np.float64
    r, s = fs.logsumexp(x32, b=[1, -1], return_sign=True)
    assert r.dtype == s.dtype == np.float32


def test_weights_broadcast_both_ways():
    x = rng(7).standard_normal((4, 1, 2, 1))
    b = rng(8).random((3, 1, 5))
    xb, bb = np.broadcast_arrays(x, b)
    np.testing.assert_allclose(fs.logsumexp(x, b=b, axis=None), _scipy(xb, bb, None), rtol=1e-13)
    got = fs.logsumexp(x, b=b, axis=(1, 3), keepdims=True)
    assert got.shape == (4, 1, 2, 1)
    np.testing.assert_allclose(got, _scipy(xb, bb, (1, 3), keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(fs.logsumexp(x, b=2.0, axis=0), fs.logsumexp(x, axis=0) + np.log(2.0),
                               rtol=1e-14)
    row = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(fs.logsumexp(rng(9).standard_normal((5, 3)), b=row),
                               _scipy(rng(9).standard_normal((5, 3)), np.broadcast_to(row, (5, 3))),
                               rtol=1e-13)


def test_inputs_are_not_modified():
    x = np.array([[1.0, inf, 3.0], [nan, 2.0, 0.0]])
    b = np.array([[1.0, 0.0, -2.0], [0.0, 1.0, 1.0]])
    x0, b0 = x.copy(), b.copy()
    fs.logsumexp(x, b=b, return_sign=True)
    fs.logsumexp_backward(np.ones(2), x, fs.logsumexp(x, b=b), b=b)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(b, b0)


# ------------------------------------------------------------------- accuracy (mpmath)

HARD = [
    # (case, x, b)
    ("weights at the maximum cancel", [1000.0, 1000.0, 999.0, 998.0], [1.0, -1.0, 1.0, 0.5]),
    ("weights at the maximum cancel, small", [0.0, 0.0, -1.0], [1.0, -1.0, 1.0]),
    ("maximum partly cancelled", [0.0, 0.0, -1.0], [1.0, -0.5, 1.0]),
    ("weighted maximum of 0 and a negative rest", [3.0, 3.0, 1.0, 0.5], [2.0, -2.0, -1.0, 0.25]),
    ("near the maximum (log1p)", [0.0, -40.0], [1.0, 3.0]),
    ("near the maximum, negative", [0.0, -40.0], [1.0, -3.0]),
    ("weights cancelling the total's sign", [1.0, 2.0], [1.0, -1.0]),
    ("gh-22903", [3.06409428, 0.37251854, 3.87471931], [1.88190708, 2.84174795, -0.85016884]),
    ("tiny weight at the maximum", [10.0, 0.0], [1e-300, 1.0]),
    ("huge weight", [0.0, 1.0], [1e300, -1.0]),
    ("spread", [-700.0, 0.0, 700.0], [3.0, 2.0, 1.0]),
]


@pytest.mark.parametrize("case,x,b", HARD, ids=[h[0] for h in HARD])
def test_hard_cases_against_mpmath(case, x, b):
    want, want_sign = _mp_lse(x, b)
    got, sign = fs.logsumexp(np.array(x), b=np.array(b), return_sign=True)
    assert sign == want_sign
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    got_t, _ = fs.logsumexp(np.array(x) * 0.25, b=np.array(b), temperature=0.25, return_sign=True)
    np.testing.assert_allclose(got_t, 0.25 * want, rtol=1e-13, atol=0)


def test_random_rows_against_mpmath():
    r = rng(10)
    for _ in range(20):
        n = int(r.integers(1, 40))
        x = 30.0 * r.standard_normal(n)
        b = r.random(n) * 10.0 ** r.integers(-5, 5)
        want, _ = _mp_lse(x, b, dps=40)
        np.testing.assert_allclose(fs.logsumexp(x, b=b), want, rtol=1e-13, atol=0)
        np.testing.assert_allclose(_scipy(x, b), want, rtol=1e-13, atol=0)  # the reference holds


def test_temperature_with_weights():
    x = rng(11).standard_normal((3, 50))
    b = rng(12).random((3, 50))
    tau = 0.3
    np.testing.assert_allclose(fs.logsumexp(x, b=b, temperature=tau), tau * _scipy(x / tau, b),
                               rtol=1e-13)


# ------------------------------------------------------------------------ special values

# (case, x, b, value, sign, scipy_agrees)
SPECIALS = [
    ("empty", [], [], -inf, 0.0, False),  # SciPy's sign is -1 (sign of -inf)
    ("all weights 0", [1.0, 2.0], [0.0, 0.0], -inf, 0.0, True),
    ("sum exactly 0", [1.0, 1.0], [1.0, -1.0], -inf, 0.0, True),
    ("all -inf", [-inf, -inf], [1.0, 1.0], -inf, 0.0, True),
    ("nan x", [nan, 1.0], [1.0, 1.0], nan, nan, True),
    ("nan b", [1.0, 2.0], [nan, 1.0], nan, nan, True),
    ("nan masked", [nan, 1.0], [0.0, 1.0], 1.0, 1.0, True),
    ("+inf masked", [inf, 1.0], [0.0, 1.0], 1.0, 1.0, True),
    ("+inf masked next to +inf", [inf, inf], [0.0, 1.0], inf, 1.0, False),  # SciPy: nan
    ("nan masked next to +inf", [inf, nan], [1.0, 0.0], inf, 1.0, False),  # SciPy: nan
    ("+inf, negative weight", [inf], [-1.0], inf, -1.0, True),
    ("+inf weights cancel", [inf, inf], [1.0, -1.0], nan, nan, True),
    ("+inf and -inf", [inf, -inf], [1.0, 1.0], inf, 1.0, True),
    ("inf weight", [1.0, 2.0], [inf, 1.0], inf, 1.0, True),
    ("negative sum", [1.0, 2.0], [1.0, -1.0], 1.5413248546129181, -1.0, True),
    ("weights at max cancel, big", [1000.0, 1000.0, 999.0], [1.0, -1.0, 1.0], 999.0, 1.0, False),  # SciPy: nan
]


@pytest.mark.parametrize("case,x,b,value,sign,scipy_agrees", SPECIALS, ids=[c[0] for c in SPECIALS])
def test_special_values(case, x, b, value, sign, scipy_agrees):
    x = np.array(x)
    b = np.array(b)
    got, got_sign = fs.logsumexp(x, b=b, return_sign=True)
    np.testing.assert_array_equal(got, value)
    np.testing.assert_array_equal(got_sign, sign)
    plain = fs.logsumexp(x, b=b)
    np.testing.assert_array_equal(plain, nan if sign < 0 else value)
    # the same slice inside a long row split into pieces, and in a row of its own
    want = _scipy(x, b, return_sign=True)
    if scipy_agrees:
        np.testing.assert_array_equal(got, want[0])
        np.testing.assert_array_equal(got_sign, want[1])
    else:
        assert not (np.array_equal(got, want[0], equal_nan=True)
                    and np.array_equal(got_sign, want[1], equal_nan=True))


@pytest.mark.parametrize("pos", [0, 4095, 8192, 33_333, 49_999])
def test_specials_anywhere_in_long_rows_and_pieces(monkeypatch, pos):
    monkeypatch.setattr(_schedules, "MIN_PIECE", 2048)
    monkeypatch.setattr(_reductions, "use_parallel", lambda size: True)
    monkeypatch.setattr(_schedules, "use_parallel", lambda size: True)
    x = rng(13).standard_normal((3, 50_000))
    b = rng(14).random((3, 50_000))
    base = _scipy(x, b)
    masked = _scipy(np.delete(x[1], pos), np.delete(b[1], pos))
    for xv, bv, want in [(inf, 0.0, masked), (nan, 0.0, masked), (inf, 2.0, inf), (nan, 1.0, nan),
                         (50.0, 0.0, masked)]:
        xx, bb = x.copy(), b.copy()
        xx[1, pos], bb[1, pos] = xv, bv
        got = fs.logsumexp(xx, b=bb)
        np.testing.assert_allclose(got[[0, 2]], base[[0, 2]], rtol=1e-13)
        np.testing.assert_allclose(got[1], want, rtol=1e-13)
    # the maximum's weights cancel across two pieces
    idx = [pos, (pos + 20_000) % 50_000]
    xx, bb = x.copy(), b.copy()
    xx[1, idx] = 40.0
    bb[1, idx] = [1.5, -1.5]
    np.testing.assert_allclose(fs.logsumexp(xx, b=bb)[1], _scipy(np.delete(x[1], idx), np.delete(b[1], idx)),
                               rtol=1e-13)


@pytest.mark.parametrize("n", [1, 5, 32, 33])
def test_short_row_groups_agree_with_whole_rows(n):
    """Rows of at most SHORT_ROW elements take the row-group kernel (GROUP rows across
    the vector lanes); it agrees with the whole-row kernel, partial last group included."""
    x = 3.0 * rng(40).standard_normal((1000 + 37, n))
    b = rng(41).standard_normal((1000 + 37, n))
    b[::7, 0] = 0.0
    x[::11, -1] = inf
    x[5::13, 0] = nan
    x[3::17] = -inf
    inv_t = _reductions._inv_t(1.0, x.dtype)
    want_o, want_s = np.empty(len(x)), np.empty(len(x))
    _reductions._wlogsumexp_rows(x, 1, x.shape[1], b, inv_t, 1.0, True, want_o, want_s, parallel=False)
    got_o, got_s = fs.logsumexp(x, b=b, return_sign=True)
    np.testing.assert_allclose(got_o, want_o, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(got_s, want_s)
    ref_o, ref_s = ref.logsumexp(x, b=b, return_sign=True)
    np.testing.assert_array_equal(got_s, ref_s)
    np.testing.assert_allclose(got_o, ref_o, rtol=1e-12, atol=1e-13)
    # float32 (positive weights: a signed sum's error is relative to the sum of |terms|)
    g32 = fs.logsumexp(x.astype(np.float32), b=np.abs(b).astype(np.float32))
    np.testing.assert_allclose(g32, fs.logsumexp(x, b=np.abs(b)), rtol=2e-6, atol=2e-6)


def test_unweighted_return_sign():
    x = np.array([[1.0, 2.0], [-inf, -inf], [nan, 1.0], [inf, 0.0]])
    out, sign = fs.logsumexp(x, return_sign=True)
    np.testing.assert_array_equal(out, fs.logsumexp(x))
    np.testing.assert_array_equal(sign, [1.0, 0.0, nan, 1.0])
    out, sign = fs.logsumexp(np.ones((1, 2, 3, 4)), axis=(1, 3), return_sign=True)
    assert out.shape == sign.shape == (1, 3)
    out, sign = fs.logsumexp(np.ones((2, 3)), return_sign=True, keepdims=True)
    assert out.shape == sign.shape == (2, 1)


# ------------------------------------------------------------------ serial == parallel


def test_serial_and_parallel_twins_agree_exactly():
    x = rng(15).standard_normal((40, 3000))
    b = rng(16).standard_normal((40, 3000))
    inv_t = _reductions._inv_t(0.7, x.dtype)
    outs = []
    for parallel in (False, True):
        out, sign = np.empty(40), np.empty(40)
        _reductions._wlogsumexp_rows(x, 1, x.shape[1], b, inv_t, 0.7, True, out, sign, parallel=parallel)
        ms, cs, ss = np.empty((40, 1)), np.empty((40, 1)), np.empty((40, 1))  # one state per chunk
        _reductions._wstats_pieces(x, 1, 3000, b, inv_t, ms, cs, ss, parallel=parallel)
        dx = np.empty_like(x)
        _reductions._wlse_backward_pieces(x, 3, 1024, np.ones(40), out, b, inv_t, dx, parallel=parallel)
        short = rng(17).standard_normal((1000, 7))
        short_b = rng(18).standard_normal((1000, 7))
        so, ss_ = np.empty(1000), np.empty(1000)
        _reductions._short_wlse(short, short_b, inv_t, 0.7, True, so, ss_, parallel=parallel)
        outs.append((out, sign, ms, cs, ss, dx, so, ss_))
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)


# ----------------------------------------------------------------------------- backward


def test_weighted_backward_matches_the_formula_and_finite_differences():
    x = rng(17).standard_normal((4, 9))
    b = rng(18).random((4, 9))
    b[1, 3] = 0.0
    g = rng(19).standard_normal(4)
    tau = 0.8
    out = fs.logsumexp(x, b=b, temperature=tau)
    dx = fs.logsumexp_backward(g, x, out, b=b, temperature=tau)
    want = g[:, None] * b * np.exp((x - out[:, None]) / tau)
    np.testing.assert_allclose(dx, want, rtol=1e-13)
    assert dx[1, 3] == 0.0
    check_vjp_fd(lambda z: fs.logsumexp(z, b=b, temperature=tau),
                 lambda gg, z: fs.logsumexp_backward(gg, z, fs.logsumexp(z, b=b, temperature=tau), b=b,
                                                     temperature=tau), x, g)
    # b = 1 is the unweighted backward
    np.testing.assert_allclose(fs.logsumexp_backward(g, x, fs.logsumexp(x), b=np.ones_like(x)),
                               fs.logsumexp_backward(g, x, fs.logsumexp(x)), rtol=1e-14)


def test_weighted_backward_with_broadcast_weights_sums_back_to_x():
    x = rng(20).standard_normal(6)
    b = rng(21).random((3, 6))
    g = rng(22).standard_normal(3)
    out = fs.logsumexp(x, b=b)
    assert out.shape == (3,)
    dx = fs.logsumexp_backward(g, x, out, b=b)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, (g[:, None] * b * np.exp(x - out[:, None])).sum(0), rtol=1e-13)
    check_vjp_fd(lambda z: fs.logsumexp(z, b=b), lambda gg, z: fs.logsumexp_backward(gg, z, fs.logsumexp(z, b=b), b=b),
                 x, g)


def test_weighted_backward_special_slices():
    x = np.array([[inf, inf, 1.0], [inf, 2.0, 0.0], [-inf, -inf, -inf], [nan, 1.0, 2.0], [inf, nan, 1.0]])
    b = np.array([[1.0, 3.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [2.0, 0.0, 1.0]])
    out = fs.logsumexp(x, b=b)
    dx = fs.logsumexp_backward(np.full(5, 2.0), x, out, b=b)
    np.testing.assert_allclose(dx[0], [0.5, 1.5, 0.0])  # shares of the +inf entries, by weight
    np.testing.assert_allclose(dx[1], [0.0, 2.0 * np.exp(2.0 - out[1]), 2.0 * np.exp(-out[1])], rtol=1e-14)
    assert np.isnan(dx[2]).all()
    assert dx[3, 0] == 0.0 and np.isfinite(dx[3]).all()  # the masked nan
    np.testing.assert_array_equal(dx[4], [2.0, 0.0, 0.0])


def test_reference_twin_agrees():
    x = rng(23).standard_normal((5, 7))
    b = rng(24).standard_normal((5, 7))
    got = fs.logsumexp(x, b=b, return_sign=True, temperature=0.5)
    want = ref.logsumexp(x, b=b, return_sign=True, temperature=0.5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_array_equal(got[1], want[1])
    out = fs.logsumexp(x, b=np.abs(b))
    np.testing.assert_allclose(fs.logsumexp_backward(1.0 + x[:, 0], x, out, b=np.abs(b)),
                               ref.logsumexp_backward(1.0 + x[:, 0], x, out, b=np.abs(b)), rtol=1e-12)


# --------------------------------------------------------------------------------- 0-d


ZERO_D = [
    ("logsumexp", lambda v: fs.logsumexp(v), 3.0),
    ("logsumexp keepdims", lambda v: fs.logsumexp(v, keepdims=True), 3.0),
    ("logsumexp axis=0", lambda v: fs.logsumexp(v, axis=0), 3.0),
    ("logsumexp axis=None", lambda v: fs.logsumexp(v, axis=None), 3.0),
    ("logsumexp b", lambda v: fs.logsumexp(v, b=2.0), 3.0 + np.log(2.0)),
    ("logsumexp temperature", lambda v: fs.logsumexp(v, temperature=0.5), 3.0),
    ("logsumexp_backward", lambda v: fs.logsumexp_backward(2.0, v, fs.logsumexp(v)), 2.0),
    ("softmax", lambda v: fs.softmax(v), 1.0),
    ("softmax_backward", lambda v: fs.softmax_backward(5.0, fs.softmax(v)), 0.0),
    ("log_softmax", lambda v: fs.log_softmax(v), 0.0),
    ("log_softmax_backward", lambda v: fs.log_softmax_backward(5.0, fs.log_softmax(v)), 0.0),
    ("soft_argmax", lambda v: fs.soft_argmax(v), 0.0),
    ("soft_argmax_backward", lambda v: fs.soft_argmax_backward(1.0, v), 0.0),
    ("hardmax", lambda v: fs.hardmax(v), 1.0),
    ("straight_through_hardmax", lambda v: fs.straight_through_hardmax(v)[0], 1.0),
    ("max", lambda v: fs.max(v), 3.0),
    ("min keepdims", lambda v: fs.min(v, keepdims=True), 3.0),
    ("max_backward", lambda v: fs.max_backward(2.0, v), 2.0),
    ("min_backward", lambda v: fs.min_backward(2.0, v, ties="first"), 2.0),
]


@pytest.mark.parametrize("name,f,want", ZERO_D, ids=[z[0] for z in ZERO_D])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_0d_inputs_reduce_over_their_one_element(name, f, want, dtype):
    got = f(dtype(3.0))
    assert np.ndim(got) == 0, name
    assert np.asarray(got).dtype == dtype
    np.testing.assert_allclose(float(got), want, rtol=1e-6)


def test_0d_matches_scipy_and_keeps_axis_errors():
    assert fs.logsumexp(3.0) == _scipy(3.0, axis=None) == 3.0
    assert fs.logsumexp(3.0, return_sign=True) == (3.0, 1.0)
    assert fs.softmax(np.float64(-2.0)) == sp.softmax(-2.0)
    assert fs.log_softmax(7) == sp.log_softmax(7.0)
    for f in (fs.logsumexp, fs.softmax, fs.log_softmax, fs.hardmax, fs.soft_argmax):
        with pytest.raises(np.exceptions.AxisError, match="axis"):
            f(3.0, axis=1)


# ------------------------------------------------------------------------------- errors


def test_errors_name_the_function_and_the_argument():
    with pytest.raises(ValueError, match=r"logsumexp: `b` of shape \(3,\) does not broadcast"):
        fs.logsumexp([1.0, 2.0], b=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="logsumexp: `b` must be an array of real numbers"):
        fs.logsumexp([1.0, 2.0], b=[1j, 2.0])
    with pytest.raises(TypeError, match="logsumexp: `b` must be an array of real numbers"):
        fs.logsumexp([1.0, 2.0], b=["a", "b"])
    with pytest.raises(ValueError, match=r"logsumexp_backward: `b` of shape \(3,\)"):
        fs.logsumexp_backward(1.0, [1.0, 2.0], 2.0, b=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="logsumexp: `temperature`"):
        fs.logsumexp([1.0], b=[1.0], temperature=0.0)
    with pytest.raises(np.exceptions.AxisError, match="logsumexp: `axis` 2"):
        fs.logsumexp(np.ones((2, 2)), b=np.ones(2), axis=2)
    with pytest.raises(ValueError, match="logsumexp_backward: `grad`"):
        fs.logsumexp_backward(np.ones(3), np.ones((2, 4)), np.ones(2), b=np.ones(4))


# -------------------------------------------------------------------------------- dask


@pytest.mark.parametrize("axis", [0, 1, None, (0, 1)])
def test_dask_weighted_logsumexp_matches_numpy(axis):
    da = pytest.importorskip("dask.array")
    import fastsmooth.dask as fsd

    x = rng(30).standard_normal((30, 50))
    b = rng(31).standard_normal((30, 50))
    b[3, :] = 0.0
    x[3, 5] = inf  # masked
    X = da.from_array(x, chunks=(7, 11))
    for bb in (b, np.abs(b), np.abs(b[0]), da.from_array(b, chunks=(5, 5))):
        got = fsd.logsumexp(X, axis=axis, b=bb, split_every=2).compute()
        want = fs.logsumexp(x, axis=axis, b=np.asarray(bb))
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14, equal_nan=True)
    assert fsd.logsumexp(X, b=b, keepdims=True).shape == (30, 1)
    assert fsd.logsumexp(X.astype(np.float32), b=np.abs(b).astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="logsumexp: `b` of shape"):
        fsd.logsumexp(X, b=np.ones(3))


def test_dask_reductions_of_0d_inputs():
    da = pytest.importorskip("dask.array")
    import fastsmooth.dask as fsd

    x = da.asarray(np.float64(3.0))
    assert fsd.logsumexp(x).compute() == 3.0
    assert fsd.logsumexp(x, keepdims=True).compute().shape == ()
    np.testing.assert_allclose(fsd.logsumexp(x, b=2.0).compute(), 3.0 + np.log(2.0), rtol=1e-15)
    assert fsd.softmax(x).compute() == 1.0
    assert fsd.log_softmax(x).compute() == 0.0
    assert fsd.soft_argmax(x).compute() == 0.0
    assert fsd.logsumexp(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(np.exceptions.AxisError):
        fsd.logsumexp(x, axis=1)


def test_broadcast_backward_with_infinite_gradients_warns_nothing():
    x = np.array([1.0, 2.0])
    b = np.ones((3, 2))
    dx = fs.logsumexp_backward(np.array([np.inf, np.inf, 1.0]), x, fs.logsumexp(x, b=b), b=b)
    assert np.isinf(dx).all()


def test_the_vectorized_log_of_the_row_group_finish():
    from fastsmooth._config import jit
    from fastsmooth._rowops import _log_positive

    @jit
    def logs(x, out):
        for i in range(x.size):
            out[i] = _log_positive(x[i])

    r = rng(50)
    x = np.concatenate([10.0 ** r.uniform(-320, 308, 20_000), 1.0 + r.uniform(-0.3, 0.5, 5000),
                        [5e-324, 2.2250738585072014e-308, 1.0, 2.0, 0.5, np.sqrt(2.0), np.sqrt(0.5), 1.7e308]])
    got = np.empty_like(x)
    logs(x, got)
    want = np.log(x)
    np.testing.assert_array_less(np.abs(got - want), 4 * np.spacing(np.abs(want)) + 1e-300)
    assert got[x == 1.0][0] == 0.0
