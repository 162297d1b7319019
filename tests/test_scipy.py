"""SciPy's own test cases for ``logsumexp``, ``softmax`` and ``log_softmax``
(scipy/special/tests/test_logsumexp.py, SciPy 1.17), re-expressed for NumPy and run
against :mod:`fastsmooth.scipy`, plus the signatures and the deliberate differences.

Not ported: the array-API device/backend machinery and ``_wrap_radians`` (SciPy
internals). SciPy's complex cases are kept and marked: fastsmooth is real-only.
Where SciPy's tests use its default tolerance we use ``rtol=1e-13`` (float64) unless
noted.
"""

from __future__ import annotations

import inspect
import itertools
import math
import warnings

import numpy as np
import pytest

from fastsmooth import scipy as fss

inf, nan = np.inf, np.nan
F64 = dict(rtol=1e-13, atol=0)
REAL_DTYPES = ["float32", "float64", "int32", "int64"]
COMPLEX_DTYPES = ["complex64", "complex128"]
REAL_ONLY = pytest.mark.xfail(strict=True, raises=TypeError, reason="deliberate: fastsmooth is real-only")


def _tol(dtype):
    return F64 if np.dtype(dtype) == np.float64 else dict(rtol=2e-6, atol=0)


def _np(f, *args, **kwargs):
    """A plain NumPy reference, without its overflow / log(0) warnings."""
    with np.errstate(all="ignore"):
        return f(*args, **kwargs)


def test_signatures_are_scipys():
    scipy_special = pytest.importorskip("scipy.special")
    for name in ("logsumexp", "softmax", "log_softmax"):
        assert inspect.signature(getattr(fss, name)) == inspect.signature(getattr(scipy_special, name)), name


# ----------------------------------------------------------------------- logsumexp


class TestLogSumExp:
    def test_empty_large_and_special_inputs(self):
        assert fss.logsumexp(np.array([])) == -inf
        a = np.arange(200.0)
        np.testing.assert_allclose(fss.logsumexp(a), np.log(np.sum(np.exp(a))), **F64)
        np.testing.assert_allclose(fss.logsumexp(np.array([1000.0, 1000.0])), 1000.0 + math.log(2.0), **F64)
        np.testing.assert_allclose(fss.logsumexp(np.full(1000, 10000)), 10000.0 + math.log(1000), **F64)

    def test_many_tiny_terms(self):
        x = np.full(1_000_000, 1e-40)
        X = np.stack([x, x])
        logX = np.log(X)
        # exp() of a result near -64 multiplies its rounding by ~64
        tol = dict(rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX)), X.sum(), **tol)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX, axis=0)), X.sum(axis=0), **tol)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX, axis=1)), X.sum(axis=1), **tol)

    @pytest.mark.parametrize("value", [inf, -inf, nan])
    def test_one_special_value(self, value):
        np.testing.assert_array_equal(fss.logsumexp(np.array([value])), value)

    def test_all_minus_inf(self):
        assert fss.logsumexp(np.array([-inf, -inf])) == -inf

    def test_magnitudes_keepdims_and_several_axes(self):
        a = np.array([[1e10, 1e-10], [-1e10, -inf]])
        want = np.array([1e10, -1e10])
        np.testing.assert_allclose(fss.logsumexp(a, axis=-1), want, **F64)
        got = fss.logsumexp(a, axis=-1, keepdims=True)
        assert got.shape == (2, 1)
        np.testing.assert_allclose(got, want[:, None], **F64)
        np.testing.assert_allclose(fss.logsumexp(a, axis=(-1, -2)), 1e10, **F64)

    def test_weights(self):
        a = np.arange(200.0)
        b = np.arange(200.0, 0.0, -1.0)
        np.testing.assert_allclose(fss.logsumexp(a, b=b), np.log(np.sum(b * np.exp(a))), **F64)
        np.testing.assert_allclose(fss.logsumexp(np.array([1000, 1000]), b=np.array([1.2, 1.2])),
                                   1000 + math.log(2 * 1.2), **F64)

    def test_weights_of_many_tiny_terms(self):
        x = np.full(100_000, 1e-40)
        b = np.linspace(1, 1000, 100_000)
        X, B = np.stack([x, x]), np.stack([b, b])
        logX = np.log(X)
        tol = dict(rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX, b=B)), (B * X).sum(), **tol)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX, b=B, axis=0)), (B * X).sum(axis=0), **tol)
        np.testing.assert_allclose(np.exp(fss.logsumexp(logX, b=B, axis=1)), (B * X).sum(axis=1), **tol)

    def test_sign(self):
        r, s = fss.logsumexp(np.array([1, 1, 1]), b=np.array([1, -1, -1]), return_sign=True)
        np.testing.assert_allclose(r, 1.0, **F64)
        assert s == -1.0 and s.dtype == np.float64

    def test_sign_of_a_zero_sum(self):
        r, s = fss.logsumexp(np.array([1, 1]), b=np.array([1, -1]), return_sign=True)
        assert r == -inf
        assert s == 0

    def test_sign_shape(self):
        a = np.ones((1, 2, 3, 4))
        r, s = fss.logsumexp(a, axis=2, b=np.ones_like(a), return_sign=True)
        assert r.shape == s.shape == (1, 2, 4)
        r, s = fss.logsumexp(a, axis=(1, 3), b=np.ones_like(a), return_sign=True)
        assert r.shape == s.shape == (1, 3)

    @REAL_ONLY
    def test_complex_sign(self):
        a = np.array([1 + 1j, 2 - 1j, -2 + 3j])
        r, s = fss.logsumexp(a, return_sign=True)
        total = np.sum(np.exp(a))
        np.testing.assert_allclose(s, total / abs(total), **F64)

    def test_shape(self):
        a = np.ones((1, 2, 3, 4))
        assert fss.logsumexp(a, axis=2, b=np.ones_like(a)).shape == (1, 2, 4)
        assert fss.logsumexp(a, axis=(1, 3), b=np.ones_like(a)).shape == (1, 3)

    def test_zero_weight_masks_a_huge_entry(self):
        np.testing.assert_allclose(fss.logsumexp(np.array([1, 10000]), b=np.array([1, 0])), 1.0, **F64)

    def test_weights_broadcast_both_ways(self):
        a = np.zeros((4, 1, 2, 1))
        b = np.ones((3, 1, 5))
        np.testing.assert_allclose(fss.logsumexp(a, b=b), math.log(4 * 3 * 2 * 5), **F64)

    @pytest.mark.parametrize("arg", [1, [1, 2, 3]])
    def test_scalars_and_lists(self, arg):
        assert fss.logsumexp(arg) == fss.logsumexp(np.atleast_1d(np.asarray(arg)))

    def test_array_like(self):
        np.testing.assert_allclose(fss.logsumexp([1000, 1000]), 1000.0 + math.log(2.0), **F64)

    @pytest.mark.parametrize("dtype", REAL_DTYPES + [pytest.param(d, marks=REAL_ONLY) for d in COMPLEX_DTYPES])
    def test_dtypes_of_a(self, dtype):
        got = fss.logsumexp(np.array([1000.0, 1000.0], dtype=dtype))
        want_dtype = np.float64 if np.dtype(dtype).kind == "i" else np.dtype(dtype)
        assert got.dtype == want_dtype
        np.testing.assert_allclose(got, 1000.0 + math.log(2.0), **_tol(want_dtype))

    @pytest.mark.parametrize(
        "dtype_a,dtype_b",
        [
            pytest.param(da, db, marks=REAL_ONLY) if "complex" in da + db else (da, db)
            for da, db in itertools.product(REAL_DTYPES + COMPLEX_DTYPES, repeat=2)
        ],
    )
    def test_dtypes_of_a_and_b(self, dtype_a, dtype_b):
        a = np.array([2, 1], dtype=dtype_a)
        b = np.array([1, -1], dtype=dtype_b)
        want_dtype = np.result_type(dtype_a, dtype_b)
        if want_dtype.kind == "i":
            want_dtype = np.dtype(np.float64)
        got = fss.logsumexp(a, b=b)
        assert got.dtype == want_dtype
        np.testing.assert_allclose(got, math.log(math.exp(2) - math.exp(1)), **_tol(want_dtype))

    def test_gh18295_precision_near_the_maximum(self):
        a = np.array([0.0, -40.0])
        np.testing.assert_allclose(fss.logsumexp(a), np.logaddexp(a[0], a[1]), **F64)

    @REAL_ONLY
    @pytest.mark.parametrize("dtype", COMPLEX_DTYPES)
    def test_gh21610_complex_phase(self, dtype):
        r = np.random.default_rng(324984329582349862)
        x = (r.uniform(1, 40, (10, 100)) + 1j * r.uniform(1, 40, (10, 100))).astype(dtype)
        res = fss.logsumexp(x, axis=1)
        np.testing.assert_array_less(np.abs(res.imag), np.pi)

    @REAL_ONLY
    def test_gh21709_small_imaginary_part(self):
        res = fss.logsumexp(np.array([0, 2.2204460492503132e-17j]))
        np.testing.assert_allclose(res.imag, 1.1102230246251566e-17, rtol=1e-15)

    @pytest.mark.parametrize("x,y", list(itertools.product([-inf, inf], repeat=2)))
    def test_gh22601_infinite_elements(self, x, y):
        a = np.array([x, y])
        np.testing.assert_array_equal(fss.logsumexp(a), _np(lambda: np.log(np.sum(np.exp(a)))))

    @REAL_ONLY
    @pytest.mark.parametrize("x,y", [(complex(-inf, 0.7533), complex(inf, 2.3562)),
                                     (complex(inf, 0.0), complex(-inf, -0.0))])
    def test_gh22601_complex_infinite_elements(self, x, y):
        a = np.array([x, y])
        np.testing.assert_array_equal(fss.logsumexp(a), _np(lambda: np.log(np.sum(np.exp(a)))))

    def test_no_writeback(self):
        a = np.array([5.0, 4.0])
        b = np.array([3.0, 2.0])
        fss.logsumexp(a)
        fss.logsumexp(a, b=b)
        np.testing.assert_array_equal(a, [5.0, 4.0])
        np.testing.assert_array_equal(b, [3.0, 2.0])

    def test_gh22903_negative_weight_at_the_maximum(self):
        a = np.array([3.06409428, 0.37251854, 3.87471931])
        b = np.array([1.88190708, 2.84174795, -0.85016884])
        np.testing.assert_allclose(fss.logsumexp(a, b=b), fss.logsumexp(a, b=b, return_sign=True)[0], **F64)
        b = np.array([1.88190708, 2.84174795, -3.85016884])
        assert np.isnan(fss.logsumexp(a, b=b))

    @pytest.mark.parametrize("a,b,sign", [([inf], None, 1.0), ([inf], [-1.0], -1.0)])
    def test_gh23548_sign_of_infinite_results(self, a, b, sign):
        val, s = fss.logsumexp(np.array(a), b=None if b is None else np.array(b), return_sign=True)
        assert np.isinf(val)
        assert s == sign


# ------------------------------------------------------------------------- softmax


class TestSoftmax:
    def test_fixtures(self):
        np.testing.assert_allclose(fss.softmax(np.array([1000.0, 0.0, 0.0, 0.0])), [1.0, 0.0, 0.0, 0.0], **F64)
        np.testing.assert_allclose(fss.softmax(np.array([1.0, 1.0])), [0.5, 0.5], **F64)
        np.testing.assert_allclose(fss.softmax(np.array([0.0, 1.0])), np.array([1.0, np.e]) / (1 + np.e), **F64)
        x = np.arange(4.0)
        # mpmath at 200 digits (SciPy's values)
        want = np.array([0.03205860328008499, 0.08714431874203256, 0.23688281808991013, 0.6439142598879722])
        np.testing.assert_allclose(fss.softmax(x), want, **F64)
        np.testing.assert_allclose(fss.softmax(x + 100), want, **F64)  # translation
        np.testing.assert_allclose(fss.softmax(x.reshape(2, 2)), want.reshape(2, 2), **F64)  # axis=None

    def test_axes(self):
        x = np.array([[1000.0, 0.0], [1000.0, 0.0]])
        np.testing.assert_allclose(fss.softmax(x, axis=0), [[0.5, 0.5], [0.5, 0.5]], **F64)
        np.testing.assert_allclose(fss.softmax(x, axis=1), [[1.0, 0.0], [1.0, 0.0]], **F64)
        x = np.array([[-25.0, 0.0, 25.0, 50.0], [1.0, 325.0, 749.0, 750.0]])
        want = np.array([[2.678636961770877e-33, 1.9287498479371314e-22, 1.3887943864771144e-11, 0.999999999986112],
                         [0.0, 1.9444526359919372e-185, 0.2689414213699951, 0.7310585786300048]])
        np.testing.assert_allclose(fss.softmax(x, axis=1), want, **F64)
        np.testing.assert_allclose(fss.softmax(x.T, axis=0), want.T, **F64)
        np.testing.assert_allclose(fss.softmax(x.reshape(2, 2, 2), axis=(1, 2)), want.reshape(2, 2, 2), **F64)

    def test_int_array(self):
        np.testing.assert_allclose(fss.softmax(np.array([1000, 0, 0, 0])), [1.0, 0.0, 0.0, 0.0], **F64)

    def test_scalar(self):
        got = fss.softmax(1000)
        assert np.ndim(got) == 0
        np.testing.assert_allclose(got, 1.0, **F64)

    def test_array_like(self):
        np.testing.assert_allclose(fss.softmax([1000, 0, 0, 0]), [1.0, 0.0, 0.0, 0.0], **F64)


# --------------------------------------------------------------------- log_softmax

LOG_SOFTMAX_0123 = np.array([-3.4401896985611953, -2.4401896985611953, -1.4401896985611953,
                             -0.44018969856119533])  # mpmath at 200 digits (SciPy's values)


class TestLogSoftmax:
    def test_basic(self):
        np.testing.assert_allclose(fss.log_softmax(np.array([1000.0, 1.0])), [0.0, -999.0], **F64)

    def test_int_array(self):
        np.testing.assert_allclose(fss.log_softmax(np.array([1000, 1])), [0.0, -999.0], **F64)

    def test_scalar(self):
        got = fss.log_softmax(1.0)
        assert np.ndim(got) == 0 and got == 0.0

    def test_array_like(self):
        np.testing.assert_allclose(fss.log_softmax([1000, 1]), [0.0, -999.0], **F64)

    @pytest.mark.parametrize("offset", [0, 100])
    def test_translation(self, offset):
        np.testing.assert_allclose(fss.log_softmax(np.arange(4.0) + offset), LOG_SOFTMAX_0123, **F64)

    def test_axis_none(self):
        np.testing.assert_allclose(fss.log_softmax(np.arange(4.0).reshape(2, 2)), LOG_SOFTMAX_0123.reshape(2, 2),
                                   **F64)

    @pytest.mark.parametrize("axis,want", [(0, np.log(0.5) * np.ones((2, 2))), (1, [[0.0, -999.0], [0.0, -999.0]])])
    def test_axes(self, axis, want):
        np.testing.assert_allclose(fss.log_softmax(np.array([[1000.0, 1.0], [1000.0, 1.0]]), axis=axis), want, **F64)

    def test_2d(self):
        x = np.arange(8.0).reshape(2, 4)
        want = np.stack([LOG_SOFTMAX_0123, LOG_SOFTMAX_0123])
        np.testing.assert_allclose(fss.log_softmax(x, axis=1), want, **F64)
        np.testing.assert_allclose(fss.log_softmax(x.T, axis=0), want.T, **F64)
        np.testing.assert_allclose(fss.log_softmax(x.reshape(2, 2, 2), axis=(1, 2)), want.reshape(2, 2, 2), **F64)


# ---------------------------------------------------- where fastsmooth.scipy differs


def _scipy_special():
    sp = pytest.importorskip("scipy.special")

    def call(name, *args, **kwargs):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return getattr(sp, name)(*args, **kwargs)

    return call


class TestDeliberateDifferences:
    """Each test states fastsmooth's documented answer and checks that SciPy's differs,
    so that a change on either side is noticed."""

    def test_softmax_of_plus_inf_is_the_limit(self):
        sp = _scipy_special()
        x = np.array([1.0, inf, inf])
        np.testing.assert_array_equal(fss.softmax(x), [0.0, 0.5, 0.5])
        np.testing.assert_array_equal(fss.log_softmax(x), [-inf, -np.log(2), -np.log(2)])
        assert np.isnan(sp("softmax", x)).all()
        assert np.isnan(sp("log_softmax", x)[1:]).all()

    @pytest.mark.xfail(strict=True, reason="deliberate: a +inf slice gives the softmax limit, SciPy gives nan")
    def test_scipy_softmax_plus_inf_expectation(self):
        assert np.isnan(fss.softmax(np.array([1.0, inf]))).all()

    def test_empty_softmax_is_empty(self):
        sp = _scipy_special()
        assert fss.softmax(np.array([])).shape == (0,)
        assert fss.log_softmax(np.zeros((0, 3))).shape == (0, 3)
        with pytest.raises(ValueError):
            sp("softmax", np.array([]))

    def test_sign_of_an_empty_sum_is_zero(self):
        sp = _scipy_special()
        assert fss.logsumexp(np.array([]), return_sign=True) == (-inf, 0.0)
        assert sp("logsumexp", np.array([]), return_sign=True) == (-inf, -1.0)

    @pytest.mark.parametrize("a,b", [([inf, inf], [0.0, 1.0]), ([inf, nan], [1.0, 0.0])])
    def test_zero_weight_masks_next_to_plus_inf(self, a, b):
        sp = _scipy_special()
        assert fss.logsumexp(np.array(a), b=np.array(b)) == inf
        assert np.isnan(sp("logsumexp", np.array(a), b=np.array(b)))

    def test_weights_cancelling_at_a_large_maximum(self):
        sp = _scipy_special()
        a, b = np.array([1000.0, 1000.0, 999.0]), np.array([1.0, -1.0, 1.0])
        assert fss.logsumexp(a, b=b) == 999.0
        assert np.isnan(sp("logsumexp", a, b=b))

    def test_0d_keeps_scipys_shapes(self):
        sp = _scipy_special()
        for kw in ({}, {"keepdims": True}, {"axis": 0}, {"b": 2.0}):
            got, want = fss.logsumexp(3.0, **kw), sp("logsumexp", 3.0, **kw)
            assert np.shape(got) == np.shape(want), kw
            np.testing.assert_allclose(got, want, **F64)
        assert np.shape(fss.softmax(3.0)) == np.shape(sp("softmax", 3.0)) == ()


@pytest.mark.parametrize("seed", range(3))
def test_random_inputs_agree_with_scipy(seed):
    sp = _scipy_special()
    r = np.random.default_rng(seed)
    x = 5.0 * r.standard_normal((6, 7, 8))
    b = r.random((7, 8)) + 0.1
    for axis in (None, 0, 1, -1, (0, 2)):
        np.testing.assert_allclose(fss.logsumexp(x, axis=axis), sp("logsumexp", x, axis=axis), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(fss.logsumexp(x, axis=axis, b=b), sp("logsumexp", x, axis=axis, b=b),
                                   rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(fss.softmax(x, axis=axis), sp("softmax", x, axis=axis), rtol=1e-13, atol=1e-300)
        np.testing.assert_allclose(fss.log_softmax(x, axis=axis), sp("log_softmax", x, axis=axis),
                                   rtol=1e-13, atol=1e-14)
