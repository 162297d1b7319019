"""The Numba configuration: flags keep inf/nan, serial and parallel twins agree, the
serial/parallel choice, and the cache fallback."""

import threading

import numba
import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _config


def test_flag_sets_never_assume_finite_values():
    for flags in (_config.FASTMATH, _config.REDUCTION_FASTMATH):
        assert not {"nnan", "ninf", "fast"} & set(flags)
    assert "reassoc" not in _config.FASTMATH
    assert _config.REDUCTION_FASTMATH - _config.FASTMATH == {"reassoc"}


@_config.kernel
def _probe(x, out):
    """A kernel exercising the operations the flags could break."""
    for i in numba.prange(x.shape[0]):
        v = x[i]
        out[i, 0] = v != v  # nan test survives without nnan
        out[i, 1] = v == np.inf
        out[i, 2] = v - v  # inf - inf = nan, nan - nan = nan, finite 0
        out[i, 3] = max(v, 0.0) if v == v else np.nan
        out[i, 4] = 1.0 / v  # 1/inf = 0, 1/0 = inf


def test_inf_and_nan_survive_the_flags():
    x = np.array([np.nan, np.inf, -np.inf, 0.5, 0.0])
    for parallel in (False, True):
        out = np.zeros((5, 5))
        _probe(x, out, parallel=parallel)
        np.testing.assert_array_equal(out[:, 0], [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(out[:, 1], [0, 1, 0, 0, 0])
        np.testing.assert_array_equal(out[:, 2], [np.nan, np.nan, np.nan, 0.0, 0.0])
        np.testing.assert_array_equal(out[:, 3], [np.nan, np.inf, 0.0, 0.5, 0.0])
        np.testing.assert_array_equal(out[:, 4], [np.nan, 0.0, -0.0, 2.0, np.inf])


def test_twins_have_distinct_cache_names():
    k = _probe
    assert k.serial.py_func.__qualname__ == k.parallel_kernel.py_func.__qualname__ + "_serial"


def test_use_parallel_threshold_and_threads():
    assert not _config.use_parallel(_config.PARALLEL_MIN_ELEMENTS - 1)
    expected = numba.get_num_threads() > 1
    assert _config.use_parallel(_config.PARALLEL_MIN_ELEMENTS) == expected


def test_use_parallel_from_other_threads_follows_the_layer(monkeypatch):
    results = {}

    def probe():
        results["answer"] = _config.use_parallel(10**8)

    for safe in (True, False):
        monkeypatch.setattr(_config, "_layer_is_thread_safe", lambda safe=safe: safe)
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        assert results["answer"] == (safe and numba.get_num_threads() > 1)


def test_threading_layer_is_the_one_numba_uses():
    layer = _config.threading_layer()
    assert layer in ("tbb", "omp", "workqueue")
    assert layer == numba.threading_layer()  # asking launched the layer: no "not initialized"


def test_cache_fallback_when_no_locator(monkeypatch):
    """A read-only install: numba cannot cache -> we warn and compile without cache."""
    real_njit = numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:
            def deco(fn):
                raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
            return deco
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(_config.numba, "njit", njit)

    def f(x):
        return x + 1

    with pytest.warns(RuntimeWarning, match="will not be cached"):
        jitted = _config.jit(f)
    assert jitted(1) == 2


def test_results_do_not_depend_on_thread_count():
    x = np.random.default_rng(0).standard_normal((64, 4096))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fs.logsumexp(x), fs.softmax(x)
        numba.set_num_threads(before)
        many = fs.logsumexp(x), fs.softmax(x)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])
