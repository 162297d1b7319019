"""The fast path of the element-wise ops (issue 12): a C-contiguous, aligned, writeable
float32/float64 ndarray goes straight to the serial twin's compiled entry point. It must
give the bits of the full path for every size, layout, dtype and temperature, and leave
every other input (and every error) to the full path."""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _elementwise

from .helpers import layouts, rng

FORWARD = {"relu": fs.relu, "abs": fs.abs, "sigmoid": fs.sigmoid, "softplus": fs.softplus,
           "smooth_abs": fs.smooth_abs}
BACKWARD = {"relu": fs.relu_backward, "abs": fs.abs_backward, "sigmoid": fs.sigmoid_backward,
            "softplus": fs.softplus_backward, "smooth_abs": fs.smooth_abs_backward}
SMOOTH = ("sigmoid", "softplus", "smooth_abs")
SIZES = [(1,), (10,), (100,), (1000,), (4095,), (4096,), (10_000,), (64, 1000), (3, 0)]


def _data(shape, dtype, seed):
    x = (5.0 * rng(seed).standard_normal(shape)).astype(dtype)
    flat = x.reshape(-1)
    flat[: min(flat.size, 6)] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30][: min(flat.size, 6)]
    return x


def _full_path(f, *args, **kw):
    """The same call through the full path: a C-contiguous ``out=`` buffer is written by
    the dispatcher's call of the kernel, not by the fast path."""
    x = args[-1]
    out = np.full(x.shape, 7.0, x.dtype)
    return f(*args, out=out, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SIZES, ids=str)
def test_fast_path_gives_the_bits_of_the_full_path(dtype, shape):
    x = _data(shape, dtype, 1)
    g = rng(2).standard_normal(shape).astype(dtype)
    for name, f in FORWARD.items():
        kws = [{}] + ([{"temperature": 0.3}, {"temperature": 7.0}] if name in SMOOTH else [])
        for kw in kws:
            got = f(x, **kw)
            assert got.dtype == dtype and got.shape == shape and got.flags.c_contiguous
            np.testing.assert_array_equal(got, _full_path(f, x, **kw), strict=True, err_msg=f"{name} {kw}")
            np.testing.assert_array_equal(got.view(np.uint8), _full_path(f, x, **kw).view(np.uint8))
    for name, f in BACKWARD.items():
        kws = [{}] + ([{"temperature": 0.3}] if name in SMOOTH else [{"at_zero": 0.5}])
        for kw in kws:
            got = f(g, x, **kw)
            np.testing.assert_array_equal(got, _full_path(f, g, x, **kw), strict=True, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_other_layouts_take_the_full_path_with_the_same_values(dtype):
    x = _data((7, 9), dtype, 3)
    want = {name: f(np.ascontiguousarray(x), **({"temperature": 0.5} if name in SMOOTH else {}))
            for name, f in FORWARD.items()}
    buf = np.zeros(x.size * x.itemsize + 1, np.uint8)
    unaligned = np.frombuffer(buf[1:].data, dtype).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned
    for lname, v in layouts(x) + [("unaligned", unaligned)]:
        for name, f in FORWARD.items():
            before = v.copy()
            got = f(v, **({"temperature": 0.5} if name in SMOOTH else {}))
            np.testing.assert_array_equal(got, want[name], err_msg=f"{name} {lname}")
            np.testing.assert_array_equal(v, before, err_msg=f"{name} {lname}: input written")


def test_temperature_forms_and_errors_on_the_fast_path():
    x = _data((50,), np.float32, 4)
    want = fs.sigmoid(x, temperature=2.0)
    for t in (2, np.float64(2.0), np.float32(2.0), np.array(2.0)):
        np.testing.assert_array_equal(fs.sigmoid(x, temperature=t), want)
    fs.sigmoid(x)  # memoizes temperature 1.0: bools and bad values still fail
    for bad, exc in ((True, TypeError), (np.nan, ValueError), (0.0, ValueError), (-1.0, ValueError),
                     (np.inf, ValueError), ("1", TypeError)):
        with pytest.raises(exc, match="sigmoid: `temperature`"):
            fs.sigmoid(x, temperature=bad)
        with pytest.raises(exc, match="softplus_backward: `temperature`"):
            fs.softplus_backward(x, x, temperature=bad)
    with pytest.raises(ValueError, match="relu: `at_zero`"):
        fs.relu(x, at_zero=2.0)
    with pytest.raises(TypeError, match="relu: `at_zero`"):
        fs.relu(x, at_zero=True)
    with pytest.raises(ValueError, match="relu_backward: `grad` must have shape"):
        fs.relu_backward(x[:3], x)


def test_the_entry_points_are_the_dispatchers_own_code():
    x = np.ones(5, np.float32)
    fs.sigmoid(x)
    fs.sigmoid(x.astype(np.float64))
    fs.relu_backward(x, x)
    for k, kern, name in ((4, _elementwise._unary, "unary"), (8, _elementwise._unary, "unary"),
                          (4, _elementwise._unary_backward, "unary_backward")):
        entries = [c.entry_point for c in kern.serial.overloads.values()]
        assert any(getattr(_elementwise._FAST[k], name) is e for e in entries)


ROW_OPS = {"softmax": fs.softmax, "log_softmax": fs.log_softmax, "logsumexp": fs.logsumexp,
           "soft_argmax": fs.soft_argmax, "hardmax": fs.hardmax, "max": fs.max, "min": fs.min}
TEMPERED = ("softmax", "log_softmax", "logsumexp", "soft_argmax")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (8,), (33,), (1000,), (64, 1000), (3, 4, 50)], ids=str)
def test_row_op_fast_path_gives_the_bits_of_the_full_path(dtype, shape):
    x = _data(shape, dtype, 5)
    for name, f in ROW_OPS.items():
        for kw in [{}] + ([{"temperature": 0.3}] if name in TEMPERED else []):
            got = f(x, **kw)
            full = f(x, out=np.full(np.shape(got), 7.0, dtype), **kw)
            assert np.asarray(got).dtype == dtype and np.shape(got) == np.shape(full)
            np.testing.assert_array_equal(np.atleast_1d(got).view(np.uint8), np.atleast_1d(full).view(np.uint8),
                                          err_msg=f"{name} {kw}")


def test_small_row_op_calls_take_the_fast_path(monkeypatch):
    """The calls the fast path is for never reach :func:`row_op`'s full path (so the
    bit-for-bit comparison above compares two paths, not one path with itself)."""
    from fastsmooth import _schedules

    def refuse(*args, **kwargs):
        raise AssertionError("took the full path")

    for shape in [(1,), (8,), (1000,), (64, 1000)]:
        for dtype in (np.float32, np.float64):
            x = _data(shape, dtype, 7)
            for name, f in ROW_OPS.items():
                if name == "soft_argmax" and shape[-1] > 32:
                    continue  # long rows: a Python pass, the full path
                f(x)  # (compiles or loads the entry points first)
                with monkeypatch.context() as m:
                    m.setattr(_schedules, "fast_rows", refuse)
                    m.setattr(_schedules, "as_float_array", refuse)
                    f(x)
                    if name in TEMPERED:
                        f(x, temperature=0.3)


def test_row_op_fast_path_errors_unchanged():
    x = _data((50,), np.float32, 6)
    fs.softmax(x)
    for bad, exc in ((True, TypeError), (np.nan, ValueError), (0.0, ValueError), (-1.0, ValueError)):
        with pytest.raises(exc, match="softmax: `temperature`"):
            fs.softmax(x, temperature=bad)
        with pytest.raises(exc, match="logsumexp: `temperature`"):
            fs.logsumexp(x, temperature=bad)


def test_small_one_dimensional_calls_take_the_shortest_branch(monkeypatch):
    """The common 1-d call of a unary op at temperature 1 (and a valid ``at_zero``) runs
    the entry point in the first branch of ``_unary_op``, never reaching the
    temperature memo (``_Fast.taus``): the bit-for-bit test above compares it with the
    full path. Other calls do reach it."""
    class Refuse(dict):
        def get(self, *args):
            raise AssertionError("took the general fast path")

    for dtype in (np.float32, np.float64):
        for n in (1, 10, 4095):
            x = _data((n,), dtype, 8)
            for name, f in FORWARD.items():
                want = _full_path(f, x)
                f(x)  # (makes the entry point)
                with monkeypatch.context() as m:
                    m.setattr(_elementwise._FAST[x.itemsize], "taus", Refuse())
                    got = f(x)
                    got_kw = f(x, at_zero=0.5) if name in ("relu", "abs") else f(x, temperature=1.0)
                np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=name)
                np.testing.assert_array_equal(got_kw, want, err_msg=name)
    x = _data((10,), np.float32, 9)
    with monkeypatch.context() as m:
        m.setattr(_elementwise._FAST[4], "taus", Refuse())
        for v, kw in ((x.reshape(2, 5), {}), (x, {"temperature": 2.0}), (x, {"temperature": 0.5})):
            with pytest.raises(AssertionError, match="took the general fast path"):
                fs.sigmoid(v, **kw)
        with pytest.raises(AssertionError, match="took the general fast path"):
            fs.relu(np.ones(4096, np.float32))
    for v in (x[::2], x.astype(np.float16)):  # (the full path: the same values)
        np.testing.assert_allclose(fs.sigmoid(v), fs.sigmoid(np.ascontiguousarray(v, np.float32)), rtol=1e-3)
    with pytest.raises(TypeError, match="sigmoid: `temperature` is keyword-only"):
        fs.sigmoid(x, 1.0)
    with pytest.raises(TypeError, match="sigmoid: `temperature`"):
        fs.sigmoid(x, temperature=np.ones(3))


BACKWARD_ROW_OPS = {"softmax_backward": fs.softmax_backward, "log_softmax_backward": fs.log_softmax_backward,
                    "sparsemax_backward": fs.sparsemax_backward}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (8,), (33,), (1000,), (64, 1000), (3, 4, 50)], ids=str)
def test_backward_row_ops_skip_the_checks_with_the_bits_of_the_full_path(dtype, shape, monkeypatch):
    """A backward row op whose ``grad`` is an ndarray of the dtype and shape of ``y``,
    C-contiguous like it, skips :func:`row_op`'s checks (``_schedules._like_rows``);
    an ``out=`` buffer takes the full path: the two must agree bit for bit. Any other
    ``grad`` (another dtype, shape or layout, a list) takes the full path."""
    from fastsmooth import _schedules

    y = np.abs(_data(shape, dtype, 10))
    y[~np.isfinite(y)] = 0.5
    g = rng(11).standard_normal(shape).astype(dtype)
    calls = []
    real = _schedules._like_rows

    def spy(extras, x, rshape):
        got = real(extras, x, rshape)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(_schedules, "_like_rows", spy)
    for name, f in BACKWARD_ROW_OPS.items():
        for kw in ({}, {"temperature": 0.3}):
            calls.clear()
            got = f(g, y, **kw)
            assert calls == [True], name
            full = f(g, y, out=np.full(shape, 7.0, dtype), **kw)
            np.testing.assert_array_equal(got.view(np.uint8), full.view(np.uint8), err_msg=f"{name} {kw}")
            strided = np.repeat(g, 2, axis=-1)[..., ::2]  # (a one-element array is contiguous)
            for other in [g.astype(np.float32 if dtype == np.float64 else np.float64), g.tolist()] + (
                    [strided] if g.size > 1 else []):
                calls.clear()
                res = f(other, y, **kw)
                assert True not in calls, name
                if np.asarray(other).dtype == dtype:  # (a list, a strided view: the same values)
                    np.testing.assert_array_equal(res, got, err_msg=name)
    with pytest.raises(ValueError, match="softmax_backward: `grad`"):
        fs.softmax_backward(g[..., :-1] if shape[-1] > 1 else np.ones(shape + (2,), dtype), y)


def test_backward_row_op_entry_points_are_the_dispatchers_own_code():
    from fastsmooth import _reductions

    for dtype, k in ((np.float32, 4), (np.float64, 8)):
        y = fs.softmax(_data((3, 7), dtype, 12))
        fs.softmax_backward(y, y)
        fs.log_softmax_backward(y, np.log(y))
        for compute, kern in ((_reductions._SOFTMAX_BACKWARD, _reductions._softmax_backward_pieces),
                              (_reductions._LOG_SOFTMAX_BACKWARD, _reductions._log_softmax_backward_pieces)):
            entries = [c.entry_point for c in kern.serial.overloads.values()]
            assert any(compute.entries[k] is e for e in entries)
