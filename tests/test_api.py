"""Rules every public function follows, checked by looping over all of them: inputs are
never modified, array-likes (lists) work, dtypes map as documented, every memory layout
gives the same answer, and validation happens before any kernel runs.

Every op is called as its registry example builds the call (``fastsmooth._registry``:
``example(fs, x) -> (args, kwargs)``), from a float64 ``x`` of shape (3, 5) (or (2, 3, 5)
for the 2-D ops); :data:`OWN_CALLS` gives the ops whose test calls other arguments (to
reach options other than the defaults, or where the example's arguments are not shaped
like ``x``). A new op needs no entry here.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _config, _registry

from .helpers import layouts, rng


def _x(shape=(3, 5), seed=0):
    return rng(seed).standard_normal(shape)


# name -> (args builder from x, kwargs); x is float64 of shape (3, 5) (or (2, 3, 5) for 2-D ops)
OWN_CALLS = {
    "logsumexp": (lambda x: (x,), {"axis": 0, "temperature": 0.5}),
    "logsumexp_backward": (lambda x: (np.ones(3), x, fs.logsumexp(x)), {}),
    "softmax": (lambda x: (x,), {"axis": 0}),
    "softmax_backward": (lambda x: (x, fs.softmax(x * 0.1)), {"temperature": 2.0}),
    "soft_argmax": (lambda x: (x,), {"axis": 1}),
    "soft_argmax_backward": (lambda x: (np.ones(3), x), {}),
    "soft_argmax2d": (lambda x: (x,), {"temperature": 0.5}),
    "soft_argmax2d_backward": (lambda x: (np.ones(x.shape[:-2] + (2,)), x), {}),
    "hardmax": (lambda x: (x,), {"axis": 0}),
    # soft metric losses: x is the logits, (N, K) = (3, 5) multi-label or multi-class
    "soft_confusion": (lambda x: (x, x > 0.3), {"axis": 1, "temperature": 2.0}),
    "soft_accuracy_loss": (lambda x: (x, x > 0.3), {"average": "macro"}),
    "soft_accuracy_loss_backward": (lambda x: (1.0, x, x > 0.3), {}),
    "soft_precision_loss": (lambda x: (x, x > 0.3), {"average": "none"}),
    "soft_precision_loss_backward": (lambda x: (np.ones(5), x, x > 0.3), {"average": "none"}),
    "soft_recall_loss": (lambda x: (x, x > 0.3), {"temperature": 0.5}),
    "soft_recall_loss_backward": (lambda x: (1.0, x, x > 0.3), {"average": "macro"}),
    "soft_fbeta_loss": (lambda x: (x, x > 0.3), {"beta": 2.0}),
    "soft_fbeta_loss_backward": (lambda x: (1.0, x, x > 0.3), {"beta": 0.5, "temperature": 2.0}),
    "softmax_accuracy_loss": (lambda x: (x, np.array([0, 4, 2])), {"average": "macro"}),
    "softmax_accuracy_loss_backward": (lambda x: (1.0, x, np.array([0, 4, 2])), {}),
    "softmax_fbeta_loss": (lambda x: (x, np.array([1, 1, 3])), {"beta": 2.0}),
    "softmax_fbeta_loss_backward": (lambda x: (np.ones(5), x, np.array([1, 1, 3])), {"average": "none"}),
    # max-pooling: x is (C, L) for 1-D and (C, H, W) for 2-D (a 2-D x is one plane);
    # kernel 3, stride 1 and padding 1 keep the shape, so grad and indices are shaped like x
    "maxpool1d": (lambda x: (x, 3), {"stride": 1, "padding": 1}),
    "maxpool1d_backward": (lambda x: (x, fs.maxpool1d(x, 3, 1, 1)[1], x.shape), {}),
    "maxpool2d": (lambda x: (_planes(x), 2), {"stride": 1, "padding": 1, "ceil_mode": True}),
    "maxpool2d_backward": (lambda x: (_planes(x), fs.maxpool2d(_planes(x), 3, 1, 1)[1], _planes(x).shape), {}),
    "global_maxpool2d": (lambda x: (_planes(x),), {}),
    "maxunpool2d": (lambda x: (_planes(x), fs.maxpool2d(_planes(x), 3, 1, 1)[1], _planes(x).shape), {}),
    # semiring products: x is a (3, 5); b a bool (5, 4) (bool keeps x's float dtype in
    # NumPy's promotion); for the backwards grad = x is the (3, 5) output of (3, 4) @ (4, 5)
    "logmatmulexp": (lambda x: (x, _B54), {"temperature": 0.5}),
    "logmatmulexp_backward": (lambda x: (x, _B34, _B45, fs.logmatmulexp(_B34, _B45) + 0 * x), {"temperature": 2.0}),
    "maxplus_matmul": (lambda x: (x, _B54), {}),
    "maxplus_matmul_backward": (lambda x: (x, fs.maxplus_matmul(_B34, _B45)[1], (3, 4), (4, 5)), {}),
    # HMM: x is log_emission (T, S) = (3, 5)
    "hmm_forward_backward": (lambda x: (np.log(np.full(5, 0.2)), np.log(_TRANS5), x), {}),
    "viterbi": (lambda x: (np.log(np.full(5, 0.2)), np.log(_TRANS5), x), {}),
    # element-wise
    "abs": (lambda x: (x,), {"at_zero": 0.5}),
    "max": (lambda x: (x,), {"axis": 0}),
    "min": (lambda x: (x,), {"keepdims": True}),
    "relu_backward": (lambda x: (x * 0.5, x), {"at_zero": 0.5}),
    "abs_backward": (lambda x: (x * 0.5, x), {"at_zero": -1.0}),
    "l1_loss": (lambda x: (x, x[::-1].copy()), {"reduction": "sum"}),
    "l1_loss_backward": (lambda x: (1.5, x, x[::-1].copy()), {}),
    "maximum": (lambda x: (x, x[::-1].copy()), {}),
    "maximum_backward": (lambda x: (x * 0.5, x, x[::-1].copy()), {"tie": 0.25}),
    "minimum": (lambda x: (x, 0.5), {}),
    "minimum_backward": (lambda x: (x * 0.5, x, x[::-1].copy()), {}),
    "max_backward": (lambda x: (np.ones(5), x, 0), {"ties": "first"}),
    "min_backward": (lambda x: (np.ones(3), x), {}),
    "sigmoid": (lambda x: (x,), {"temperature": 0.5}),
    "sigmoid_backward": (lambda x: (x * 0.5, x), {"temperature": 2.0}),
    "softplus": (lambda x: (x,), {"temperature": 0.5}),
    "softplus_backward": (lambda x: (x * 0.5, x), {}),
    "smooth_abs": (lambda x: (x,), {"temperature": 0.3}),
    "smooth_abs_backward": (lambda x: (x * 0.5, x), {"temperature": 0.3}),
    "smooth_maximum": (lambda x: (x, x[::-1].copy()), {"temperature": 0.5}),
    "smooth_maximum_backward": (lambda x: (x * 0.5, x, x[::-1].copy()), {"temperature": 0.5}),
    "smooth_minimum": (lambda x: (x, -0.5), {}),
    "smooth_minimum_backward": (lambda x: (x * 0.5, x, x[::-1].copy()), {}),
    # soft-DTW: x (3, 5) is one series of n = 3 steps and d = 5 features
    "soft_dtw": (lambda x: (x, x[::-1].copy()), {"gamma": 0.5}),
    "soft_dtw_backward": (lambda x: (1.5, x, x[::-1].copy()), {"gamma": 0.5}),
    "soft_dtw_alignment": (lambda x: (x, x[::-1].copy()), {}),
    "soft_dtw_cost": (lambda x: (x,), {"gamma": 2.0}),
    "soft_dtw_cost_backward": (lambda x: (0.5, x), {"gamma": 2.0}),
    "soft_dtw_divergence": (lambda x: (x, x[::-1].copy()), {}),
    "soft_dtw_divergence_backward": (lambda x: (1.0, x, x[::-1].copy()), {"gamma": 0.5}),
}

#: outputs that are not float arrays shaped by x's dtype (e.g. int64 indices, float64
#: counts), or whose x-shaped arguments include integer indices (which the dtype test
#: would make floats)
NOT_FLOAT_OUTPUTS: set[str] = {
    "maxpool1d", "maxpool1d_backward", "maxpool2d", "maxpool2d_backward", "maxunpool2d",
    "global_maxpool2d",
    "soft_confusion",  # counts are float64 for every input dtype
    "maxplus_matmul", "maxplus_matmul_backward", "viterbi",  # int64 indices and paths
    "hmm_forward_backward",  # the model (start, transmat) is float64: the result promotes
}

_B54 = rng(7).standard_normal((5, 4)) > 0
_B34 = rng(8).standard_normal((3, 4)) > 0
_B45 = rng(9).standard_normal((4, 5)) > 0
_TRANS5 = np.full((5, 5), 0.1) + 0.5 * np.eye(5)


def _planes(x):
    """A 2-D ``x`` as one plane ``(1, H, W)`` (a view, so in-place changes would show)."""
    return x if x.ndim == 3 else x[None]


#: public callables that do not take a single float array (classes, helpers with other inputs)
#: global_maxpool2d_backward takes only (N, C)-shaped arrays and a shape: no argument is
#: shaped like the input (its rules are tested in tests/test_pooling.py)
SKIP: set[str] = {"global_maxpool2d_backward", "warmup"}  # warmup: tests/test_warmup.py


def _from_example(op):
    example = _registry.example(op)
    _, kwargs = example(fs, _x())
    return (lambda x: example(fs, x)[0]), kwargs


#: every op but :data:`SKIP`: name -> (args builder from x, kwargs)
CALLS = {op: OWN_CALLS[op] if op in OWN_CALLS else _from_example(op) for op in _registry.OPS if op not in SKIP}


def _call(name, x):
    build, kwargs = CALLS[name]
    return getattr(fs, name)(*build(x), **kwargs)


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def test_every_op_is_called_and_the_own_calls_are_of_registered_ops():
    assert set(CALLS) == set(_registry.OPS) - SKIP  # abs, max, min too
    assert set(OWN_CALLS) <= set(CALLS), set(OWN_CALLS) - set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_inputs_are_not_modified(name):
    x = _x()
    build, kwargs = CALLS[name]
    args = build(x)
    copies = [np.array(a, copy=True) for a in args]
    getattr(fs, name)(*args, **kwargs)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_layout_and_lists_give_the_same_result(name):
    x = _x((2, 3, 5)) if "2d" in name else _x()
    want = _outputs(_call(name, x))
    build, kwargs = CALLS[name]
    assert any(a is x for a in build(x)), f"{name}: no argument is x itself (give it an entry in OWN_CALLS)"
    for label, view in layouts(x) + [("list", x.tolist())]:
        args = [view if a is x else a for a in build(x)]
        got = _outputs(getattr(fs, name)(*args, **kwargs))
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15, err_msg=f"{name} {label}")


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype,expected", [
    (np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float16),
    (np.int64, np.float64), (np.int8, np.float64), (np.bool_, np.float64),
])
def test_dtype_rules(name, dtype, expected):
    if name in NOT_FLOAT_OUTPUTS:
        pytest.skip("output is not a float array")
    x = _x((2, 3, 5)) if "2d" in name else _x()
    if dtype in (np.int64, np.int8):
        x = np.round(x * 3)
    if dtype is np.bool_:
        x = x > 0
    build, kwargs = CALLS[name]
    args = build(x.astype(np.float64))
    first = [a for a in args if a is not None]
    # convert the primary array argument(s) shaped like x
    args = [np.asarray(a).astype(dtype) if np.shape(a) == x.shape else a for a in first]
    for out in _outputs(getattr(fs, name)(*args, **kwargs)):
        assert out.dtype == expected, f"{name}: {dtype} -> {out.dtype}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_validation_happens_before_any_kernel(name, monkeypatch):
    """With every kernel call made to fail, bad arguments must still raise the
    documented error, proving validation comes first."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"kernel {self.__name__} ran before validation")

    build, kwargs = CALLS[name]
    x = _x((2, 3, 5)) if "2d" in name else _x()
    args = list(build(x))  # (builders may run kernels themselves)
    monkeypatch.setattr(_config.Kernel, "__call__", refuse)
    # an unsupported dtype for the array argument shaped like x
    bad = [a.astype(complex) if np.shape(a) == x.shape else a for a in args]
    with pytest.raises(TypeError):
        getattr(fs, name)(*bad, **kwargs)
    if "temperature" in getattr(fs, name).__code__.co_varnames:
        with pytest.raises(ValueError, match="temperature"):
            getattr(fs, name)(*args, **{**kwargs, "temperature": -1.0})


def test_large_inputs_use_the_parallel_kernels_and_agree_with_small_ones():
    x = _x((64, 4096), seed=1)
    assert _config.use_parallel(x.size) == (_config.numba.get_num_threads() > 1)
    np.testing.assert_allclose(fs.logsumexp(x), np.concatenate([fs.logsumexp(x[i:i + 1]) for i in range(64)]),
                               rtol=1e-15)
