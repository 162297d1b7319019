"""``out=``: every public function that returns arrays writes its result into the
caller's buffer and returns that buffer; a buffer of the wrong shape or dtype is refused
before anything is written; strided buffers and buffers that overlap an input (in-place
calls) give the answer of a call without ``out``.

Loops over ``tests/test_api.py``'s ``CALLS``, so a new public function is checked too.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs

from .test_api import CALLS, _x

#: functions whose ``out`` means something else: the third positional argument ``out`` of
#: logsumexp_backward (issue 2's signature) and of logmatmulexp_backward (issue 15's) is
#: the saved forward output, so they take no buffer
NO_BUFFER = {"logsumexp_backward", "logmatmulexp_backward"}
NAMES = sorted(set(CALLS) - NO_BUFFER)


def _setup(name):
    x = _x((2, 3, 5)) if "2d" in name else _x()
    build, kwargs = CALLS[name]
    args = build(x)
    return getattr(fs, name), args, kwargs


def _as_list(result):
    return list(result) if isinstance(result, tuple) else [result]


def _pack(result, buffers):
    return tuple(buffers) if isinstance(result, tuple) else buffers[0]


@pytest.mark.parametrize("name", NAMES)
def test_out_receives_the_result_and_is_returned(name):
    f, args, kwargs = _setup(name)
    want = f(*args, **kwargs)
    buffers = [np.full(np.shape(w), 7, np.asarray(w).dtype) for w in _as_list(want)]
    got = f(*args, **kwargs, out=_pack(want, buffers))
    for g, b, w in zip(_as_list(got), buffers, _as_list(want)):
        assert g is b
        np.testing.assert_array_equal(b, w)
    if isinstance(want, tuple):
        assert type(got) is type(want)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_shape_is_a_value_error_and_wrong_dtype_a_type_error(name):
    f, args, kwargs = _setup(name)
    want = _as_list(f(*args, **kwargs))
    ok = [np.empty(np.shape(w), np.asarray(w).dtype) for w in want]
    for i, w in enumerate(want):
        shape, dtype = np.shape(w), np.asarray(w).dtype
        bad_shape = [*ok]
        bad_shape[i] = np.empty(shape + (2,), dtype)
        before = [b.copy() for b in ok]
        with pytest.raises(ValueError, match=rf"{name.rstrip('_')}: `out.*` must have (the reduced )?shape"):
            f(*args, **kwargs, out=_pack(f(*args, **kwargs), bad_shape))
        for b, c in zip(ok, before):  # nothing written into the others
            np.testing.assert_array_equal(b, c)
        bad_dtype = [*ok]
        bad_dtype[i] = np.empty(shape, np.float32 if dtype != np.float32 else np.float64)
        with pytest.raises(TypeError, match=rf"{name.rstrip('_')}: `out.*` must have dtype"):
            f(*args, **kwargs, out=_pack(f(*args, **kwargs), bad_dtype))
    if name not in ("max_backward", "min_backward"):  # (there a list is a saved output)
        with pytest.raises(TypeError, match="out"):
            f(*args, **kwargs, out=[1.0])  # not an ndarray (nor a tuple)


@pytest.mark.parametrize("name", NAMES)
def test_strided_out(name):
    f, args, kwargs = _setup(name)
    want = f(*args, **kwargs)
    if any(np.ndim(w) == 0 for w in _as_list(want)):
        pytest.skip("0-d result")
    bigs = [np.zeros(np.shape(w) + (2,), np.asarray(w).dtype) for w in _as_list(want)]
    views = [b[..., 1] for b in bigs]
    assert not views[0].flags.c_contiguous or views[0].size <= 1
    got = f(*args, **kwargs, out=_pack(want, views))
    for g, v, b, w in zip(_as_list(got), views, bigs, _as_list(want)):
        assert g is v
        np.testing.assert_array_equal(v, w)
        assert not b[..., 0].any()  # the other half untouched


@pytest.mark.parametrize("name", NAMES)
def test_out_may_be_an_input(name):
    """In place: an ``out`` that is one of the inputs (same shape and dtype as the
    result) gives the result of a call without ``out``."""
    f, args, kwargs = _setup(name)
    want = _as_list(f(*args, **kwargs))
    w = np.asarray(want[0])
    slots = [i for i, a in enumerate(args)
             if isinstance(a, np.ndarray) and a.shape == w.shape and a.dtype == w.dtype]
    if not slots:
        pytest.skip("no input has the result's shape and dtype")
    for i in slots:
        args2 = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        buf = args2[i]
        buffers = [buf] + [np.empty(np.shape(v), np.asarray(v).dtype) for v in want[1:]]
        got = f(*args2, **kwargs, out=_pack(f(*args, **kwargs), buffers))
        assert _as_list(got)[0] is buf
        np.testing.assert_array_equal(buf, want[0])


def test_scalar_results_take_a_0d_out():
    x = _x()
    out = np.empty(())
    got = fs.logsumexp(x, axis=None, out=out)
    assert got is out and out[()] == fs.logsumexp(x, axis=None)
    got = fs.soft_fbeta_loss(x, x > 0.3, out=out)
    assert got is out and out[()] == fs.soft_fbeta_loss(x, x > 0.3)


def test_elementwise_out_is_written_directly_and_reused():
    x = _x((64, 100))
    out = np.empty_like(x)
    for _ in range(2):
        assert fs.sigmoid(x, out=out) is out
        np.testing.assert_array_equal(out, fs.sigmoid(x))
    assert fs.relu(x, out=x) is x  # in place
    np.testing.assert_array_equal(x, np.maximum(_x((64, 100)), 0))


@pytest.mark.parametrize("f", [fs.relu, fs.sigmoid, lambda x, out: fs.maximum(x, x[::-1], out=out),
                               lambda x, out: fs.relu_backward(x, x, out=out), fs.softmax])
def test_float16_results_take_a_float16_out(f):
    x = _x((4, 6)).astype(np.float16)
    out = np.empty_like(x)
    assert f(x, out=out) is out
    np.testing.assert_array_equal(out, f(x, out=None))
    with pytest.raises(TypeError, match="must have dtype float16, got float32"):
        f(x, out=np.empty(x.shape, np.float32))


def test_a_partial_overlap_is_computed_as_without_out():
    x = _x((1, 40)).ravel()
    want = fs.softplus(x[:-1])
    fs.softplus(x[:-1], out=x[1:])
    np.testing.assert_array_equal(x[1:], want)


def test_tuple_results_need_a_tuple_of_buffers():
    x = _x()
    with pytest.raises(TypeError, match=r"maxpool1d: `out` must be a tuple of 2"):
        fs.maxpool1d(x, 3, out=np.empty((3, 1)))
    y, idx = fs.maxpool1d(x, 3)
    buf = np.empty_like(y)
    got_y, got_idx = fs.maxpool1d(x, 3, out=(buf, None))  # None: allocated as usual
    assert got_y is buf and np.array_equal(got_idx, idx)


def test_max_backward_tells_a_buffer_from_the_saved_output_by_its_shape():
    x = _x()
    saved = fs.max(x)  # reduced shape: the saved forward output
    want = fs.max_backward(np.ones(3), x)
    np.testing.assert_array_equal(fs.max_backward(np.ones(3), x, out=saved), want)
    buf = np.empty_like(x)  # x's shape: the buffer for the gradient
    assert fs.max_backward(np.ones(3), x, out=buf) is buf
    np.testing.assert_array_equal(buf, want)


def test_read_only_out_is_refused():
    x = _x()
    out = np.empty_like(x)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="relu: `out` is read-only"):
        fs.relu(x, out=out)


# ------------------------------------------------------- the fast path of the common call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 40)])
def test_fast_path_gives_the_bits_of_the_full_path(dtype, shape):
    """A C-contiguous float array takes the fast path; the same values strided (or
    with an explicit axis tuple) take the full one: the results are identical."""
    x = _x(shape).astype(dtype)
    y = x[::-1].copy()
    xs = np.repeat(x, 2, axis=-1)[..., ::2]  # the same values, strided: the full path
    ys = np.repeat(y, 2, axis=-1)[..., ::2]
    full_axis = (x.ndim - 1,)
    for f in (fs.softmax, fs.log_softmax, fs.logsumexp, fs.soft_argmax, fs.hardmax):
        np.testing.assert_array_equal(f(x), f(xs) if f in (fs.soft_argmax, fs.hardmax) else f(x, axis=full_axis))
        assert np.asarray(f(x)).dtype == dtype
    np.testing.assert_array_equal(fs.logsumexp(x, keepdims=True), fs.logsumexp(x, axis=full_axis, keepdims=True))
    for f in (fs.relu, fs.sigmoid, fs.softplus, fs.smooth_abs, fs.abs):
        np.testing.assert_array_equal(f(x), f(xs))
        assert f(x).dtype == dtype and f(x).shape == x.shape
    for f in (fs.maximum, fs.smooth_minimum):
        np.testing.assert_array_equal(f(x, y), f(xs, ys))
    for f in (fs.relu_backward, fs.sigmoid_backward):
        np.testing.assert_array_equal(f(y, x), f(ys, xs))
    assert type(fs.logsumexp(_x((4,)))) is np.float64  # 1-D -> a NumPy scalar, as before


def test_fast_path_still_validates_what_can_fail():
    x = _x((3, 5))
    with pytest.raises(ValueError, match="softmax: `temperature` must be a finite number > 0"):
        fs.softmax(x, temperature=-1.0)
    with pytest.raises(ValueError, match="sigmoid: `temperature`"):
        fs.sigmoid(x, temperature=float("nan"))
    with pytest.raises(np.exceptions.AxisError):
        fs.softmax(x, axis=2)
    with pytest.raises(TypeError, match="axis"):
        fs.logsumexp(x, axis=1.0)
    with pytest.raises(ValueError, match="maximum: `x` of shape"):
        fs.maximum(x, x[:2])
