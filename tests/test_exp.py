"""The vectorizable exp, expm1 and log1p of ``_exp``: ulp error against NumPy over dense
sweeps of the float range, and every special value."""

from __future__ import annotations

import numpy as np
import pytest

from fastsmooth._exp import exp_array, expm1_array, log1p_array

from .helpers import rng

FUNCS = {"exp": (exp_array, np.exp), "expm1": (expm1_array, np.expm1), "log1p": (log1p_array, np.log1p)}
MAX_ULP = {"exp": 1.0, "expm1": 2.0, "log1p": 2.0}


def _sweep(dtype):
    """Random bit patterns over the whole range, dense grids where the methods switch
    (reduction boundaries, overflow and underflow edges, near -1 for log1p)."""
    info = np.finfo(dtype)
    r = rng(40)
    itype = np.int64 if dtype == np.float64 else np.int32
    bits = r.integers(0, np.iinfo(itype).max, 400_000, dtype=itype)
    sign = np.where(r.random(bits.size) < 0.5, -1, 1).astype(dtype)
    with np.errstate(invalid="ignore"):  # some patterns are nan
        x = bits.view(dtype) * sign
    grids = [
        np.linspace(-1, 1, 200_001),
        np.linspace(-50, 50, 200_001),
        np.linspace(-800, 800, 100_001),
        np.geomspace(1e-30, 1e4, 100_000),
        -np.geomspace(1e-30, 0.999999, 100_000),
        -1 + np.geomspace(info.eps, 1e-3, 10_000),
        np.linspace(-0.36, 0.36, 50_001),  # expm1: k = 0 around +-ln2/2
        np.linspace(-0.31, 0.43, 50_001),  # log1p: the direct range
    ]
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.concatenate([x[np.isfinite(x)]] + [g.astype(dtype) for g in grids])
    return x


def _ulp_error(got, x, ref_fn, dtype):
    """``|got - f(x)|`` in ulps of the result's dtype, against the long-double NumPy
    value; results equal to NumPy's (also inf, nan) count as 0."""
    with np.errstate(all="ignore"):
        want_hi = ref_fn(x.astype(np.longdouble))
        want = want_hi.astype(dtype)
        err = np.abs(got.astype(np.longdouble) - want_hi) / np.spacing(np.abs(want)).astype(np.longdouble)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, err).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(FUNCS))
def test_ulp_error_over_dense_sweeps(name, dtype):
    fast, ref_fn = FUNCS[name]
    x = _sweep(dtype)
    got = fast(x)
    assert got.dtype == dtype
    err = _ulp_error(got, x, ref_fn, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[name], f"{name}({x[worst]!r}) = {got[worst]!r}: {err[worst]:.2f} ulp"
    # and against NumPy's own (rounded) result in the dtype
    with np.errstate(all="ignore"):
        numpy_result = ref_fn(x)
    finite = np.isfinite(numpy_result) & (numpy_result != 0)
    ulps = np.abs(got[finite] - numpy_result[finite]) / np.spacing(np.abs(numpy_result[finite]))
    assert ulps.max() <= MAX_ULP[name] + 1


SPECIALS = {
    # name: [(x, f(x))]
    "expm1": [(0.0, 0.0), (np.inf, np.inf), (-np.inf, -1.0), (np.nan, np.nan), (1e-300, 1e-300),
              (-1e-300, -1e-300), (800.0, np.inf), (-800.0, -1.0), (-50.0, -1.0)],
    "log1p": [(0.0, 0.0), (-1.0, -np.inf), (-1.5, np.nan), (-np.inf, np.nan), (np.inf, np.inf),
              (np.nan, np.nan), (1e-300, 1e-300), (-1e-300, -1e-300), (5e-324, 5e-324)],
    "exp": [(0.0, 1.0), (-np.inf, 0.0), (np.inf, np.inf), (np.nan, np.nan), (-800.0, 0.0), (800.0, np.inf)],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(SPECIALS))
def test_special_values(name, dtype):
    fast, ref_fn = FUNCS[name]
    info = np.finfo(dtype)
    cases = [(x, y) for x, y in SPECIALS[name] if dtype == np.float64 or abs(x) != 5e-324]
    with np.errstate(all="ignore"):
        x = np.array([c[0] for c in cases], dtype)
        want = np.array([c[1] for c in cases], dtype)
        if dtype == np.float32 and name != "exp":  # f(x) = x for the tiny cases
            want = np.where(np.abs(x) < 1e-30, x, want)
    np.testing.assert_array_equal(fast(x), want)
    # the largest finite inputs and the smallest normals
    edge = np.array([info.max, -info.max, info.tiny, -info.tiny], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fast(edge), ref_fn(edge), rtol=4 * info.eps, atol=0)


def test_scalar_helpers_are_for_kernels_only():
    from fastsmooth._exp import exp, expm1, log1p

    for f in (exp, expm1, log1p):
        with pytest.raises(TypeError, match="for use inside Numba kernels"):
            f(1.0)
    with pytest.raises(TypeError, match="log1p_array: `x` must be float32 or float64"):
        log1p_array(np.ones(3, np.int64))
