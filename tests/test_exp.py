"""The vectorizable exp: at most 1 ulp from np.exp over the whole float range (the
issue allows 2), exact special values, and it must vectorize. expm1 and log1p: at most
2 ulp over dense sweeps of the float range, every special value, and they vectorize."""

import numpy as np
import pytest

from fastsmooth._exp import exp

from .exp_maps import exp_array, expm1_array, log1p_array
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
    from .exp_maps import _exp_map

    twin = numba.njit(fastmath=set(FASTMATH))(_exp_map.py_func)
    for dtype in (np.float64, np.float32):
        x = np.ones(64, dtype)
        twin(x, np.empty_like(x))
    for sig, kind in zip(twin.signatures, ("pd", "ps")):
        _assert_simd(twin.inspect_asm(sig), kind, sig)


def _assert_simd(asm, kind, label):
    """Vector code in ``asm``: 256/512-bit registers, or -- for SSE2 code
    (``NUMBA_CPU_NAME=generic``, 128-bit registers only) -- packed multiplies
    (``mulpd``/``mulps``, not the scalar ``mulsd``/``mulss``)."""
    import numba

    if numba.config.CPU_NAME == "generic":
        assert f"mul{kind}\t" in asm or f"mul{kind} " in asm, label
    else:
        assert "ymm" in asm or "zmm" in asm, label


# ------------------------------------------------------------------------ expm1, log1p

FUNCS = {"expm1": (expm1_array, np.expm1), "log1p": (log1p_array, np.log1p)}
MAX_ULP = {"expm1": 2.0, "log1p": 2.0}  # the brief allows 2; both measure about 1


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
def test_expm1_log1p_ulp_error_over_dense_sweeps(name, dtype):
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
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(SPECIALS))
def test_expm1_log1p_special_values(name, dtype):
    fast, ref_fn = FUNCS[name]
    info = np.finfo(dtype)
    cases = [(x, y) for x, y in SPECIALS[name] if dtype == np.float64 or abs(x) != 5e-324]
    with np.errstate(all="ignore"):
        x = np.array([c[0] for c in cases], dtype)
        want = np.array([c[1] for c in cases], dtype)
        if dtype == np.float32:  # f(x) = x for the tiny cases
            want = np.where(np.abs(x) < 1e-30, x, want)
    np.testing.assert_array_equal(fast(x), want)
    # the largest finite inputs and the smallest normals
    edge = np.array([info.max, -info.max, info.tiny, -info.tiny], dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fast(edge), ref_fn(edge), rtol=4 * info.eps, atol=0)


def test_expm1_log1p_python_calls_are_refused():
    from fastsmooth._exp import expm1, log1p

    for f in (expm1, log1p):
        with pytest.raises(TypeError, match="for use inside Numba kernels"):
            f(1.0)
    with pytest.raises(TypeError, match="log1p_array: `x` must be float32 or float64"):
        log1p_array(np.ones(3, np.int64))


def test_expm1_log1p_vectorize():
    """log1p is two jitted halves precisely so that its caller's loop vectorizes: check
    the SIMD code on uncached twins of the array maps."""
    import numba

    from fastsmooth._config import FASTMATH
    from .exp_maps import _expm1_map, _log1p_map

    for kernel_map in (_expm1_map, _log1p_map):
        twin = numba.njit(fastmath=set(FASTMATH), error_model="numpy")(kernel_map.py_func)
        for dtype in (np.float64, np.float32):
            x = np.ones(64, dtype)
            twin(x, np.empty_like(x))
        for sig, kind in zip(twin.signatures, ("pd", "ps")):
            _assert_simd(twin.inspect_asm(sig), kind, (kernel_map.__name__, sig))
