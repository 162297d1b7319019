"""The vectorizable exp: at most 1 ulp from np.exp over the whole float range (the
issue allows 2), exact special values, and it must vectorize."""

import numpy as np
import pytest

from fastsmooth._exp import exp, exp_array

from .helpers import rng

CASES = {
    np.float64: (-746.0, 710.0),
    np.float32: (-105.0, 90.0),
}


def _ulps(got, want):
    with np.errstate(over="ignore"):
        spacing = np.spacing(want).astype(np.float64)
    return np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_sweep_and_random_inputs_within_one_ulp(dtype):
    lo, hi = CASES[dtype]
    x = np.concatenate([
        np.linspace(lo, hi, 2_000_001),
        rng(0).uniform(lo, hi, 500_000),
        rng(1).uniform(-1.0, 1.0, 200_000),      # around exp(0) = 1
        rng(2).uniform(-1e-6, 1e-6, 10_000),
    ]).astype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(x.astype(np.float64)).astype(dtype)  # correctly rounded enough
    got = exp_array(x)
    finite = np.isfinite(want)
    assert _ulps(got[finite], want[finite]).max() <= 1.0
    np.testing.assert_array_equal(got[~finite], want[~finite])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    info = np.finfo(dtype)
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, -1e30, 1e30, info.max, -info.max], dtype)
    got = exp_array(x)
    np.testing.assert_array_equal(got, [0.0, np.inf, np.nan, 1.0, 1.0, 0.0, np.inf, np.inf, 0.0])
    assert exp_array(np.zeros(5, dtype)).tolist() == [1.0] * 5  # exactly 1: LSE relies on it


def test_subnormal_results():
    x = np.linspace(-745.2, -708.0, 200_001)  # results from 0 through the subnormals
    want = np.exp(x)
    got = exp_array(x)
    # in the subnormal range one ulp is the subnormal spacing 2**-1074
    assert np.max(np.abs(got - want)) <= np.spacing(0.0)
    assert (got[x < -745.14] == 0).all() and (got[x > -744.4] > 0).all()
    x32 = np.linspace(-104.0, -87.0, 100_001).astype(np.float32)
    with np.errstate(under="ignore"):
        want32 = np.exp(x32.astype(np.float64)).astype(np.float32)
    assert np.max(np.abs(exp_array(x32) - want32)) <= np.spacing(np.float32(0.0))


def test_near_overflow_is_not_reassociated():
    """The 2**k scaling is two factors; regrouping them would overflow below 709.78."""
    x = np.linspace(709.0, 709.78, 10_001)
    np.testing.assert_array_less(_ulps(exp_array(x), np.exp(x)), 1.0 + 1e-9)
    assert np.isfinite(exp_array(x)).all()


def test_python_call_is_refused():
    with pytest.raises(TypeError, match="inside Numba kernels"):
        exp(1.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        exp_array(np.arange(3))


def test_exp_vectorizes():
    """The kernel loop compiles to SIMD code (the reason this exp exists). Inspect an
    uncached twin: Numba does not disassemble code it loaded from its cache."""
    import numba

    from fastsmooth._config import FASTMATH
    from fastsmooth._exp import _exp_map

    twin = numba.njit(fastmath=set(FASTMATH))(_exp_map.py_func)
    for dtype in (np.float64, np.float32):
        x = np.ones(64, dtype)
        twin(x, np.empty_like(x))
    for sig in twin.signatures:
        asm = twin.inspect_asm(sig)
        assert "ymm" in asm or "zmm" in asm
