"""Max-pooling with argmax capture: forward values, indices and backward against the
NumPy twins (always) and torch (when installed) over every combination of kernel,
stride, padding, dilation and ceil_mode; the routing-matrix view of the source notes;
layouts, dtypes, the parallel paths, special values and every error."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _pooling, _reference as ref

from .helpers import check_vjp_fd, layouts, rng

KERNELS = [1, 2, 3, (3, 2)]
STRIDES = [None, 1, 2, (2, 3)]
PADDINGS = [0, 1, (1, 0)]
DILATIONS = [1, 2, (2, 1)]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _valid(k, p):
    return all(pi <= ki // 2 for pi, ki in zip(_pair(p), _pair(k)))


# every (kernel, stride, padding, dilation, ceil_mode) whose padding is allowed
GRID = [
    combo
    for combo in itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS, [False, True])
    if _valid(combo[0], combo[2])
]


def _ids(combo):
    k, s, p, d, c = combo
    return f"k{k}-s{s}-p{p}-d{d}-{'ceil' if c else 'floor'}".replace(" ", "")


def _tie_heavy(shape, dtype, seed=0):
    """Small integers (many ties), a nan, a plane of -inf and a +inf."""
    x = rng(seed).integers(-3, 4, size=shape).astype(dtype)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 3] = np.nan
    x[-1, -1] = -np.inf
    x[0, -1, 0, 0] = np.inf
    return x


def _assert_pool_equal(got, want, msg=""):
    (y, idx), (ry, ridx) = got, want
    assert y.dtype == ry.dtype and idx.dtype == np.int64, msg
    np.testing.assert_array_equal(y, ry, err_msg=msg)  # nan == nan here
    np.testing.assert_array_equal(idx, ridx, err_msg=msg)


# --------------------------------------------------------------- forward and backward


@pytest.mark.parametrize("combo", GRID, ids=_ids)
def test_maxpool2d_matches_numpy_twin(combo):
    k, s, p, d, c = combo
    for dtype in (np.float64, np.float32):
        x = _tie_heavy((2, 3, 9, 10), dtype)
        x_before = x.copy()
        try:
            got = fs.maxpool2d(x, k, s, p, d, c)
        except ValueError:  # the twin must reject it too
            with pytest.raises(ValueError):
                ref.maxpool2d(x, k, s, p, d, c)
            continue
        _assert_pool_equal(got, ref.maxpool2d(x, k, s, p, d, c), f"{combo} {dtype.__name__}")
        g = rng(1).standard_normal(got[0].shape).astype(dtype)
        dx = fs.maxpool2d_backward(g, got[1], x.shape)
        assert dx.dtype == dtype and dx.shape == x.shape
        np.testing.assert_allclose(dx, ref.maxpool2d_backward(g, got[1], x.shape), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_planes_match_numpy_twin(dtype):
    """Planes of one to three rows and columns: windows mostly in the padding, rows
    shorter than a stride, every edge case of the row copies."""
    checked = 0
    for h, w in [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 3)]:
        x = rng(h * 7 + w).integers(-3, 4, size=(2, 2, h, w)).astype(dtype)
        x[0, 0, 0, 0] = np.nan
        for k, s, p, d, c in GRID:
            try:
                got = fs.maxpool2d(x, k, s, p, d, c)
            except ValueError:
                with pytest.raises(ValueError):
                    ref.maxpool2d(x, k, s, p, d, c)
                continue
            _assert_pool_equal(got, ref.maxpool2d(x, k, s, p, d, c), f"{(h, w)} {(k, s, p, d, c)}")
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("combo", GRID, ids=_ids)
def test_maxpool2d_matches_torch(combo):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    k, s, p, d, c = combo
    for dtype in (np.float64, np.float32):
        x = _tie_heavy((2, 3, 9, 10), dtype, seed=2)
        try:
            y, idx = fs.maxpool2d(x, k, s, p, d, c)
        except ValueError:
            continue
        xt = torch.from_numpy(x).requires_grad_()
        ty, tidx = F.max_pool2d(xt, k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(y, ty.detach().numpy())
        np.testing.assert_array_equal(idx, tidx.numpy())
        g = rng(3).standard_normal(y.shape).astype(dtype)
        ty.backward(torch.from_numpy(g))
        np.testing.assert_allclose(fs.maxpool2d_backward(g, idx, x.shape), xt.grad.numpy(),
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("k,s,p,d,c", [(1, None, 0, 1, False), (2, None, 1, 1, True), (3, 1, 1, 2, False),
                                       (3, 2, 1, 1, True), (4, 3, 2, 2, True), ((2,), (1,), (1,), (3,), False)])
def test_maxpool1d_matches_twin_and_torch(k, s, p, d, c):
    x = rng(20).integers(-3, 4, size=(2, 3, 17)).astype(np.float64)
    x[0, 0, [2, 5]] = np.nan
    x[1, 2] = -np.inf
    for xs in (x, x[0]):  # batched and unbatched
        y, idx = fs.maxpool1d(xs, k, s, p, d, c)
        _assert_pool_equal((y, idx), ref.maxpool1d(xs, k, s, p, d, c))
        g = rng(4).standard_normal(y.shape)
        np.testing.assert_allclose(fs.maxpool1d_backward(g, idx, xs.shape),
                                   ref.maxpool1d_backward(g, idx, xs.shape), rtol=1e-12)
    torch = pytest.importorskip("torch")
    ty, tidx = torch.nn.functional.max_pool1d(torch.from_numpy(x), k, s, p, d, c, return_indices=True)
    y, idx = fs.maxpool1d(x, k, s, p, d, c)
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())


def test_unbatched_input():
    x = _tie_heavy((1, 4, 8, 7), np.float32)[0]
    y, idx = fs.maxpool2d(x, 3, 2, 1)
    assert y.shape == (4, 4, 4) and idx.shape == (4, 4, 4)
    y4, idx4 = fs.maxpool2d(x[None], 3, 2, 1)
    np.testing.assert_array_equal(y, y4[0])
    np.testing.assert_array_equal(idx, idx4[0])
    assert fs.maxpool2d_backward(np.ones_like(y), idx, x.shape).shape == x.shape


def test_backward_is_the_routing_matrix_product():
    """The source notes' view: y = W x with a one-hot routing matrix W, so the
    backward pass is W^T g. Built densely for small planes and every geometry kind."""
    r = rng(5)
    for k, s, p, d, c in [(2, 2, 0, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True), ((2, 3), (1, 2), (1, 1), 1, True)]:
        x = r.standard_normal((2, 3, 6, 7))
        y, idx = fs.maxpool2d(x, k, s, p, d, c)
        g = r.standard_normal(y.shape)
        dx = fs.maxpool2d_backward(g, idx, x.shape)
        for n, ch in np.ndindex(2, 3):
            w = np.zeros((y[n, ch].size, x[n, ch].size))
            w[np.arange(w.shape[0]), idx[n, ch].reshape(-1)] = 1.0
            np.testing.assert_array_equal(w @ x[n, ch].reshape(-1), y[n, ch].reshape(-1))
            np.testing.assert_allclose(w.T @ g[n, ch].reshape(-1), dx[n, ch].reshape(-1), rtol=1e-14, atol=0)


def test_worked_example_of_the_source_notes():
    """X = [1, 2, 3, 4], window 2, stride 2: Y = [2, 4] and w = [[0,1,0,0],[0,0,0,1]]."""
    y, idx = fs.maxpool1d(np.array([[[1.0, 2.0, 3.0, 4.0]]]), 2, 2)
    np.testing.assert_array_equal(y, [[[2.0, 4.0]]])
    np.testing.assert_array_equal(idx, [[[1, 3]]])
    np.testing.assert_array_equal(fs.maxpool1d_backward(np.ones((1, 1, 2)), idx, (1, 1, 4)), [[[0.0, 1.0, 0.0, 1.0]]])


def test_backward_finite_differences_away_from_ties():
    x = rng(6).permutation(4 * 9 * 8).reshape(1, 4, 9, 8).astype(np.float64) / 7.0  # distinct

    def f(z):
        return fs.maxpool2d(z, 3, 2, 1)[0]

    def vjp(g, z):
        return fs.maxpool2d_backward(g, fs.maxpool2d(z, 3, 2, 1)[1], z.shape)

    check_vjp_fd(f, vjp, x, rng(7).standard_normal(f(x).shape), eps=1e-4, rtol=1e-8)


def test_overlapping_windows_add_up():
    x = np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    y, idx = fs.maxpool2d(x, 2, 1)  # all four windows pick the centre
    np.testing.assert_array_equal(idx, [[[[4, 4], [4, 4]]]])
    dx = fs.maxpool2d_backward(np.full(y.shape, 0.5), idx, x.shape)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 2.0, 0], [0, 0, 0]])


# ----------------------------------------------------------------------- special values


def test_ties_nan_and_infinities():
    x = np.array([[[[2.0, 2.0, np.nan, 1.0],
                    [2.0, 2.0, 5.0, np.nan]]]])
    y, idx = fs.maxpool2d(x, 2)
    np.testing.assert_array_equal(y, [[[[2.0, np.nan]]]])
    np.testing.assert_array_equal(idx, [[[[0, 7]]]])  # first of the ties; the last nan
    x = np.full((1, 1, 3, 3), -np.inf)
    y, idx = fs.maxpool2d(x, 2, 1, 1)  # all -inf: -inf at the first position inside the input
    assert np.all(y == -np.inf)
    np.testing.assert_array_equal(idx, [[[[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]]])
    x = np.array([[[[-1e300, -np.inf], [-np.inf, -np.inf]]]])
    np.testing.assert_array_equal(fs.maxpool2d(x, 2, 1, 1)[1], [[[[0, 0, 1], [0, 0, 1], [2, 2, 3]]]])
    y, idx = fs.maxpool2d(np.array([[[[np.inf, 3.0], [np.inf, np.nan]]]]), 2)
    assert np.isnan(y).all() and idx.item() == 3


def test_extreme_values_and_padding_never_win():
    x = np.full((1, 1, 4, 4), -1e308)
    x[0, 0, 2, 3] = -1e307
    y, idx = fs.maxpool2d(x, 3, 1, 1)
    assert np.all(y >= -1e308) and np.isfinite(y).all()
    x32 = np.full((1, 1, 2, 2), np.finfo(np.float32).max, np.float32)
    assert np.all(fs.maxpool2d(x32, 2, 1, 1)[0] == np.finfo(np.float32).max)


# ------------------------------------------------------------------ layouts and dtypes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_layout_gives_the_same_result(dtype):
    x = _tie_heavy((2, 3, 8, 9), dtype, seed=8)
    want = fs.maxpool2d(x, 3, 2, 1, 1, True)
    g = rng(9).standard_normal(want[0].shape).astype(dtype)
    dx = fs.maxpool2d_backward(g, want[1], x.shape)
    for name, view in layouts(x):
        _assert_pool_equal(fs.maxpool2d(view, 3, 2, 1, 1, True), want, name)
        for gname, gview in layouts(g):
            for iname, iview in layouts(want[1])[:3]:
                np.testing.assert_array_equal(fs.maxpool2d_backward(gview, iview, x.shape), dx,
                                              err_msg=f"{name} {gname} {iname}")
    # a channels-last array seen in NCHW order (the layout torch's channels_last gives)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    _assert_pool_equal(fs.maxpool2d(nhwc, 3, 2, 1, 1, True), want)


def test_dtypes():
    x16 = rng(10).standard_normal((1, 2, 5, 5)).astype(np.float16)
    y, idx = fs.maxpool2d(x16, 2)
    assert y.dtype == np.float16
    _assert_pool_equal((y, idx), ref.maxpool2d(x16, 2))
    assert fs.maxpool2d_backward(np.ones_like(y), idx, x16.shape).dtype == np.float16
    xi = rng(11).integers(-9, 9, (2, 5, 5))
    y, idx = fs.maxpool2d(xi, 2, 1)
    assert y.dtype == np.float64
    _assert_pool_equal((y, idx), ref.maxpool2d(xi.astype(np.float64), 2, 1))
    assert fs.maxpool2d(np.eye(4, dtype=bool)[None], 2)[0].dtype == np.float64
    assert fs.maxpool2d_backward(np.ones((2, 2, 2), np.int32), idx[:, :2, :2], (2, 5, 5)).dtype == np.float64
    # int32 indices are accepted as well as int64
    np.testing.assert_array_equal(fs.maxpool2d_backward(np.ones(y.shape), idx.astype(np.int32), xi.shape),
                                  fs.maxpool2d_backward(np.ones(y.shape), idx, xi.shape))


def test_empty_batch():
    y, idx = fs.maxpool2d(np.empty((0, 3, 5, 5)), 2)
    assert y.shape == idx.shape == (0, 3, 2, 2)
    assert fs.maxpool2d_backward(y, idx, (0, 3, 5, 5)).shape == (0, 3, 5, 5)


# ------------------------------------------------------------------- parallel paths


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_bands_when_planes_are_few(monkeypatch, dtype):
    """One or two planes: the parallel kernels cut planes into bands of rows (forward)
    and of positions (backward); results equal the serial path, overlaps included."""
    x = _tie_heavy((1, 2, 41, 37), dtype, seed=12)
    serial = {}
    for mode in ("serial", "bands"):
        monkeypatch.setattr(_pooling, "use_parallel", lambda n, mode=mode: mode == "bands")
        if mode == "bands":
            assert _pooling._bands(2, 20, True) > 1
        res = []
        for k, s, p in ((3, 1, 1), (2, 2, 1), (5, 3, 2)):
            y, idx = fs.maxpool2d(x, k, s, p)
            g = rng(13).standard_normal(y.shape).astype(dtype)
            res += [y, idx, fs.maxpool2d_backward(g, idx, x.shape), fs.maxunpool2d(y, idx, x.shape)]
        if mode == "serial":
            serial = res
        else:
            for a, b in zip(res, serial):
                np.testing.assert_array_equal(a, b)
    _assert_pool_equal(fs.maxpool2d(x, 5, 3, 2), ref.maxpool2d(x, 5, 3, 2))


def test_large_input_uses_the_parallel_kernels():
    x = _tie_heavy((4, 8, 40, 40), np.float32, seed=14)
    assert _pooling.use_parallel(x.size) or True  # either way the result must match
    y, idx = fs.maxpool2d(x, 3, 2, 1)
    _assert_pool_equal((y, idx), ref.maxpool2d(x, 3, 2, 1))
    g = rng(15).standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(fs.maxpool2d_backward(g, idx, x.shape), ref.maxpool2d_backward(g, idx, x.shape),
                               rtol=1e-6, atol=1e-6)
    gy, gidx = fs.global_maxpool2d(x)
    _assert_pool_equal((gy, gidx), ref.global_maxpool2d(x))


# ------------------------------------------------------------- unpool and global pool


def test_maxunpool2d():
    x = rng(16).standard_normal((2, 3, 6, 8))
    y, idx = fs.maxpool2d(x, 2)
    out = fs.maxunpool2d(y, idx, (6, 8))
    np.testing.assert_array_equal(out, ref.maxunpool2d(y, idx, (6, 8)))
    np.testing.assert_array_equal(out, fs.maxunpool2d(y, idx, x.shape))  # full shape accepted
    np.testing.assert_array_equal(out != 0, fs.maxpool2d_backward(np.ones_like(y), idx, x.shape) != 0)
    # a bigger output (odd sizes lost by the pool) and unbatched input
    np.testing.assert_array_equal(fs.maxunpool2d(y[0], idx[0], (7, 9)), ref.maxunpool2d(y[0], idx[0], (7, 9)))
    # a repeated index: the last value wins (C order)
    out = fs.maxunpool2d(np.array([[[5.0, 7.0, 9.0]]]), np.array([[[1, 1, 2]]]), (2, 2))
    np.testing.assert_array_equal(out, [[[0.0, 7.0], [9.0, 0.0]]])
    torch = pytest.importorskip("torch")
    tout = torch.nn.functional.max_unpool2d(torch.from_numpy(y), torch.from_numpy(idx), 2, output_size=(6, 8))
    np.testing.assert_array_equal(fs.maxunpool2d(y, idx, (6, 8)), tout.numpy())


def test_global_maxpool2d():
    x = _tie_heavy((2, 3, 5, 6), np.float64, seed=17)
    y, idx = fs.global_maxpool2d(x)
    assert y.shape == idx.shape == (2, 3)
    _assert_pool_equal((y, idx), ref.global_maxpool2d(x))
    yk, idxk = fs.maxpool2d(x, (5, 6))
    np.testing.assert_array_equal(y, yk[..., 0, 0])
    np.testing.assert_array_equal(idx, idxk[..., 0, 0])
    g = rng(18).standard_normal(y.shape)
    dx = fs.global_maxpool2d_backward(g, idx, x.shape)
    np.testing.assert_array_equal(dx, ref.global_maxpool2d_backward(g, idx, x.shape))
    y3, idx3 = fs.global_maxpool2d(x[0])
    assert y3.shape == (3,)
    assert fs.global_maxpool2d_backward(g[0], idx3, x[0].shape).shape == x[0].shape
    torch = pytest.importorskip("torch")
    ty, tidx = torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x), 1, return_indices=True)
    np.testing.assert_array_equal(y, ty.numpy()[..., 0, 0])
    np.testing.assert_array_equal(idx, tidx.numpy()[..., 0, 0])


def test_inputs_are_not_modified():
    x = _tie_heavy((1, 2, 6, 6), np.float32, seed=19)
    y, idx = fs.maxpool2d(x, 3, 1, 1)
    g = np.ones_like(y)
    saved = [a.copy() for a in (x, y, idx, g)]
    for a in (x, y, idx, g):
        a.flags.writeable = False
    fs.maxpool2d_backward(g, idx, x.shape)
    fs.maxunpool2d(y, idx, x.shape)
    fs.global_maxpool2d(x)
    fs.maxpool1d(x[0], 2)
    for a, b in zip((x, y, idx, g), saved):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(kernel_size=0), ValueError, r"maxpool2d: `kernel_size` must be > 0"),
        (dict(kernel_size=(2, -1)), ValueError, r"`kernel_size` must be > 0"),
        (dict(kernel_size=2.0), TypeError, r"`kernel_size` must be an int or a sequence"),
        (dict(kernel_size=True), TypeError, r"`kernel_size`"),
        (dict(kernel_size=(2, 2, 2)), ValueError, r"`kernel_size` must be an int or a sequence of 2"),
        (dict(kernel_size=2, stride=0), ValueError, r"`stride` must be > 0"),
        (dict(kernel_size=2, stride=(1, -2)), ValueError, r"`stride` must be > 0"),
        (dict(kernel_size=2, dilation=0), ValueError, r"`dilation` must be > 0"),
        (dict(kernel_size=3, padding=2), ValueError, r"`padding` must be >= 0 and at most half"),
        (dict(kernel_size=2, padding=-1), ValueError, r"`padding` must be >= 0"),
        (dict(kernel_size=(1, 3), padding=(1, 1)), ValueError, r"`padding`"),
        (dict(kernel_size=9), ValueError, r"`kernel_size` \(9, 9\) \(dilation \(1, 1\)\) is larger than the padded input"),
        (dict(kernel_size=3, dilation=4), ValueError, r"larger than the padded input"),
        (dict(kernel_size=2, ceil_mode="yes"), TypeError, r"`ceil_mode` must be a bool"),
    ],
)
def test_bad_pooling_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fs.maxpool2d(np.ones((1, 1, 5, 5)), **kwargs)


def test_bad_pooling_inputs():
    with pytest.raises(ValueError, match=r"maxpool2d: `x` must have shape \(N, C, H, W\) or \(C, H, W\)"):
        fs.maxpool2d(np.ones((5, 5)), 2)
    with pytest.raises(ValueError, match=r"maxpool1d: `x` must have shape \(N, C, L\) or \(C, L\)"):
        fs.maxpool1d(np.ones((1, 1, 5, 5)), 2)
    with pytest.raises(ValueError, match=r"`x` must have non-empty spatial dims"):
        fs.maxpool2d(np.ones((1, 1, 0, 5)), 1)
    with pytest.raises(TypeError, match=r"maxpool2d: `x` must be an array of real numbers"):
        fs.maxpool2d(np.ones((1, 1, 4, 4), complex), 2)
    with pytest.raises(ValueError, match=r"maxpool1d: `kernel_size` must be an int"):
        fs.maxpool1d(np.ones((1, 5)), (2, 2))
    # dilation can make a window skip the whole input: torch returns an index outside
    # the plane there; we refuse
    with pytest.raises(ValueError, match=r"`dilation` 3 and `padding` 1 some windows hold padding only"):
        fs.maxpool1d(np.ones((1, 2)), 2, 1, 1, 3)
    with pytest.raises(ValueError, match=r"global_maxpool2d: `x` must have shape"):
        fs.global_maxpool2d(np.ones(4))


def test_bad_backward_inputs():
    x = np.ones((2, 3, 4, 4))
    y, idx = fs.maxpool2d(x, 2)
    g = np.ones_like(y)
    with pytest.raises(TypeError, match=r"maxpool2d_backward: `indices` must have an integer dtype"):
        fs.maxpool2d_backward(g, idx.astype(np.float64), x.shape)
    with pytest.raises(ValueError, match=r"maxpool2d_backward: `indices` must have the shape of `grad`"):
        fs.maxpool2d_backward(g, idx[:, :, :1], x.shape)
    bad = idx.copy()
    bad[1, 2, 1, 0] = 16
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, 16\).*found 1 outside, e.g. 16"):
        fs.maxpool2d_backward(g, bad, x.shape)
    bad[1, 2, 1, 0] = -1
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, 16\).*e.g. -1"):
        fs.maxpool2d_backward(g, bad, x.shape)
    with pytest.raises(ValueError, match=r"maxpool2d_backward: `input_shape` must be a shape"):
        fs.maxpool2d_backward(g, idx, (4, 4))
    with pytest.raises(TypeError, match=r"`input_shape` must be a tuple of ints"):
        fs.maxpool2d_backward(g, idx, (2, 3, 4.0, 4))
    with pytest.raises(ValueError, match=r"`grad` of shape \(2, 3, 2, 2\) does not match `input_shape`"):
        fs.maxpool2d_backward(g, idx, (3, 3, 4, 4))
    with pytest.raises(ValueError, match=r"maxpool1d_backward: `grad` of shape"):
        fs.maxpool1d_backward(np.ones((2, 3)), np.zeros((2, 3), np.int64), (2, 2, 5))
    with pytest.raises(ValueError, match=r"maxunpool2d: `indices` must lie in \[0, 4\)"):
        fs.maxunpool2d(y, idx, (2, 2))
    with pytest.raises(ValueError, match=r"maxunpool2d: `output_size` must be a shape"):
        fs.maxunpool2d(y, idx, (4,))
    with pytest.raises(ValueError, match=r"maxunpool2d: `output_size` \(3, 3, 4, 4\) must have the leading dims"):
        fs.maxunpool2d(y, idx, (3, 3, 4, 4))
    with pytest.raises(ValueError, match=r"maxunpool2d: `y` must have shape"):
        fs.maxunpool2d(y[0, 0], idx[0, 0], (4, 4))
    gy, gidx = fs.global_maxpool2d(x)
    with pytest.raises(ValueError, match=r"global_maxpool2d_backward: `grad` must have shape \(2, 3\)"):
        fs.global_maxpool2d_backward(gy[0], gidx, x.shape)
    with pytest.raises(ValueError, match=r"global_maxpool2d_backward: `indices` must have the shape"):
        fs.global_maxpool2d_backward(gy, gidx[0], x.shape)
    with pytest.raises(ValueError, match=r"global_maxpool2d_backward: `indices` must lie in \[0, 16\)"):
        fs.global_maxpool2d_backward(gy, gidx + 16, x.shape)
