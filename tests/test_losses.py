"""Soft metric losses: hand-computed tiny cases, the float64 NumPy twins on random inputs
(float32 against a float64 reference), backward against finite differences and the
analytic formulas, the accumulator contract (hypothesis), special values, layouts,
determinism, and every error."""

from __future__ import annotations

import math
import operator
import pickle
from functools import reduce

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsmooth as fs
from fastsmooth import _losses, _reference as ref

from .helpers import check_vjp_fd, full_jacobian_fd, layouts, rng

SIGMOID_LOSSES = ["soft_accuracy_loss", "soft_precision_loss", "soft_recall_loss", "soft_fbeta_loss"]
SOFTMAX_LOSSES = ["softmax_accuracy_loss", "softmax_fbeta_loss"]
AVERAGES = ["micro", "macro", "none"]


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def _binary(shape, seed=0, dtype=np.float64, scale=2.0, positives=0.3):
    r = rng(seed)
    return (scale * r.standard_normal(shape)).astype(dtype), (r.random(shape) < positives).astype(dtype)


def _multiclass(n, k, seed=0, dtype=np.float64, scale=2.0):
    r = rng(seed)
    return (scale * r.standard_normal((n, k))).astype(dtype), r.integers(0, k, n)


def _grad_for(loss):
    """A non-trivial upstream gradient shaped like the loss (scalar or per class)."""
    return np.linspace(0.5, 1.5, np.size(loss)).reshape(np.shape(loss)) if np.ndim(loss) else 0.7


def _kw(name, **kw):
    """Keyword arguments valid for ``name`` (beta only for the F-beta losses)."""
    if "fbeta" not in name:
        kw.pop("beta", None)
    return kw


# ------------------------------------------------------------------ hand-computed values


def test_soft_counts_of_a_tiny_batch_by_hand():
    logits, target = [2.0, -1.0, 0.5, -3.0], [1, 0, 0, 1]
    p = [_sig(z) for z in logits]
    tp = p[0] + p[3]
    fp = p[1] + p[2]
    fn = (1 - p[0]) + (1 - p[3])
    tn = (1 - p[1]) + (1 - p[2])
    c = fs.soft_confusion(logits, target)
    np.testing.assert_allclose(c, [tp, fp, fn, tn], rtol=1e-15)
    assert c.tp == c[0] and isinstance(c.tp, np.float64)
    # the losses from these counts, each written out
    eps = 1e-7
    assert fs.soft_fbeta_loss(logits, target) == pytest.approx(1 - 2 * tp / (2 * tp + fn + fp + eps), rel=1e-14)
    assert fs.soft_fbeta_loss(logits, target, beta=2.0) == pytest.approx(
        1 - 5 * tp / (5 * tp + 4 * fn + fp + eps), rel=1e-14)
    assert fs.soft_precision_loss(logits, target) == pytest.approx(1 - tp / (tp + fp + eps), rel=1e-14)
    assert fs.soft_recall_loss(logits, target) == pytest.approx(1 - tp / (tp + fn + eps), rel=1e-14)
    assert fs.soft_accuracy_loss(logits, target) == pytest.approx(1 - (tp + tn) / (4 + eps), rel=1e-14)
    # numbers of the docstring, to 7 digits: F1 = 2 tp / (2 tp + fn + fp) = 0.4860285
    assert fs.soft_fbeta_loss(logits, target) == pytest.approx(0.5139715, abs=5e-8)


def test_gradients_of_a_tiny_batch_by_hand():
    logits, target = np.array([2.0, -1.0, 0.5, -3.0]), np.array([1.0, 0.0, 0.0, 1.0])
    p = np.array([_sig(z) for z in logits])
    tp, fp, fn, _ = fs.soft_confusion(logits, target)
    eps = 1e-7
    # F1: L = (fn + fp + eps) / D, D = 2 tp + fn + fp + eps
    d = 2 * tp + fn + fp + eps
    dl_dp = np.where(target == 1, (-2 * (fn + fp + eps) - 2 * tp) / d**2, 2 * tp / d**2)
    np.testing.assert_allclose(fs.soft_fbeta_loss_backward(1.0, logits, target), dl_dp * p * (1 - p), rtol=1e-13)
    # recall: -t p (1 - p) / (tp + fn + eps); accuracy: (1 - 2 t) p (1 - p) / (N + eps)
    np.testing.assert_allclose(fs.soft_recall_loss_backward(2.0, logits, target),
                               -2.0 * target * p * (1 - p) / (2 + eps), rtol=1e-13)
    p_half = 1.0 / (1.0 + np.exp(-logits / 0.5))
    np.testing.assert_allclose(fs.soft_accuracy_loss_backward(1.0, logits, target, temperature=0.5),
                               (1 - 2 * target) * p_half * (1 - p_half) / 0.5 / (4 + eps), rtol=1e-13)


def test_multilabel_per_class_and_averages_by_hand():
    z = np.array([[3.0, -2.0], [-1.0, 4.0], [0.0, 1.0]])
    t = np.array([[1, 0], [0, 1], [0, 1]])
    p = 1 / (1 + np.exp(-z))
    tp = (p * t).sum(0)
    fp = (p * (1 - t)).sum(0)
    fn = ((1 - p) * t).sum(0)
    eps = 1e-7
    per_class = (fn + fp + eps) / (2 * tp + fn + fp + eps)
    np.testing.assert_allclose(fs.soft_fbeta_loss(z, t, average="none"), per_class, rtol=1e-14)
    assert fs.soft_fbeta_loss(z, t, average="macro") == pytest.approx(per_class.mean(), rel=1e-14)
    micro = (fn.sum() + fp.sum() + eps) / (2 * tp.sum() + fn.sum() + fp.sum() + eps)
    assert fs.soft_fbeta_loss(z, t, average="micro") == pytest.approx(micro, rel=1e-14)
    np.testing.assert_allclose(fs.soft_fbeta_loss(z, t, average="none").round(4), [0.3, 0.106])


def test_multiclass_by_hand():
    z = np.array([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    labels = np.array([0, 1, 2, 0])
    e = np.exp(z)
    p = e / e.sum(1, keepdims=True)
    y = np.eye(3)[labels]
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    eps = 1e-7
    f_loss = (fn + fp + eps) / (2 * tp + fn + fp + eps)
    assert fs.softmax_fbeta_loss(z, labels) == pytest.approx(f_loss.mean(), rel=1e-14)
    np.testing.assert_allclose(fs.softmax_fbeta_loss(z, labels, average="none"), f_loss, rtol=1e-14)
    # micro: 1 - accuracy (fp and fn both sum to N - TP), for every beta
    acc = p[np.arange(4), labels].mean()
    for beta in (0.5, 1.0, 3.0):
        assert fs.softmax_fbeta_loss(z, labels, beta=beta, average="micro") == pytest.approx(1 - acc, rel=1e-6)
    assert fs.softmax_accuracy_loss(z, labels) == pytest.approx((4 * (1 - acc) + eps) / (4 + eps), rel=1e-13)
    recall = tp / (tp + fn + eps)
    assert fs.softmax_accuracy_loss(z, labels, average="macro") == pytest.approx(1 - recall.mean(), rel=1e-13)
    np.testing.assert_allclose(fs.softmax_accuracy_loss(z, labels, average="none"), 1 - recall, rtol=1e-13)


def test_soft_confusion_counts_add_up():
    x, t = _binary((40, 6), seed=1)
    t = t * rng(2).random(t.shape)  # soft labels
    c = fs.soft_confusion(x, t)
    np.testing.assert_allclose(c.tp + c.fp + c.fn + c.tn, 40.0, rtol=1e-14)
    np.testing.assert_allclose(c.tp + c.fn, t.sum(0), rtol=1e-14)
    np.testing.assert_allclose(c.tp + c.fp, (1 / (1 + np.exp(-x))).sum(0), rtol=1e-14)


def test_soft_confusion_addition_and_sum():
    x, t = _binary((30, 4), seed=3)
    parts = [fs.soft_confusion(x[s], t[s]) for s in (slice(0, 7), slice(7, 20), slice(20, 30))]
    whole = fs.soft_confusion(x, t)
    for total in (parts[0] + parts[1] + parts[2], sum(parts)):
        assert isinstance(total, fs.SoftConfusion)
        np.testing.assert_allclose(total, whole, rtol=1e-14)
    with pytest.raises(TypeError):
        parts[0] + (1, 2, 3, 4)
    with pytest.raises(TypeError):
        1 + parts[0]


# ------------------------------------------------------------ against the NumPy twins


def _check_against_twin(name, x, t, beta, temperatures):
    """Forward and backward of ``name`` on ``x`` (float32 or float64) against the NumPy
    twin on the same values in float64, for every average and temperature."""
    dtype = x.dtype
    x64 = x.astype(np.float64)
    rtol, atol = (1e-12, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)
    for average in AVERAGES:
        for temperature in temperatures:
            kw = _kw(name, beta=beta, average=average, temperature=temperature)
            msg = f"{name} {x.shape} {dtype} {average} tau={temperature}"
            got = getattr(fs, name)(x, t, **kw)
            want = getattr(ref, name)(x64, t, **kw)
            assert np.asarray(got).dtype == dtype and np.shape(got) == np.shape(want), msg
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=msg)
            g = _grad_for(want)
            dx = getattr(fs, name + "_backward")(g, x, t, **kw)
            dx_want = getattr(ref, name + "_backward")(g, x64, t, **kw)
            assert dx.dtype == dtype and dx.shape == x.shape, msg
            np.testing.assert_allclose(dx, dx_want, rtol=10 * rtol, atol=10 * rtol * np.abs(dx_want).max(),
                                       err_msg="backward " + msg)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(57,), (40, 7), (5, 300)], ids=str)
@pytest.mark.parametrize("name", SIGMOID_LOSSES)
def test_sigmoid_losses_match_the_numpy_twins(name, shape, dtype):
    x, t = _binary(shape, seed=4, dtype=dtype)
    _check_against_twin(name, x, t, beta=1.7, temperatures=(1.0, 0.3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", SOFTMAX_LOSSES)
@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_losses_match_the_numpy_twins(name, dtype, one_hot):
    x, labels = _multiclass(60, 7, seed=5, dtype=dtype)
    _check_against_twin(name, x, np.eye(7)[labels] if one_hot else labels, beta=0.6, temperatures=(1.0, 2.5))


def test_soft_labels_and_target_dtypes():
    x, t = _binary((50, 3), seed=6)
    soft = t * 0.8 + 0.1
    np.testing.assert_allclose(fs.soft_fbeta_loss(x, soft), ref.soft_fbeta_loss(x, soft), rtol=1e-13)
    want = fs.soft_fbeta_loss(x, t)
    for tt in (t.astype(bool), t.astype(np.int64), t.astype(np.uint8), t.astype(np.float32), t.tolist()):
        assert fs.soft_fbeta_loss(x, tt) == pytest.approx(want, rel=1e-15)
        np.testing.assert_allclose(fs.soft_fbeta_loss_backward(1.0, x, tt), fs.soft_fbeta_loss_backward(1.0, x, t),
                                   rtol=1e-15)
    x32 = x.astype(np.float32)
    assert fs.soft_fbeta_loss(x32, t) == fs.soft_fbeta_loss(x32, t.astype(np.float32))
    # soft one-hot rows for the multi-class losses
    z, labels = _multiclass(30, 4, seed=7)
    smooth = 0.9 * np.eye(4)[labels] + 0.025
    np.testing.assert_allclose(fs.softmax_fbeta_loss(z, smooth), ref.softmax_fbeta_loss(z, smooth), rtol=1e-13)
    for lab in (labels.astype(np.int32), labels.astype(np.uint8)):
        assert fs.softmax_fbeta_loss(z, lab) == fs.softmax_fbeta_loss(z, labels)
    assert fs.softmax_fbeta_loss(z, np.eye(4, dtype=bool)[labels]) == pytest.approx(
        fs.softmax_fbeta_loss(z, labels), rel=1e-15)


@pytest.mark.parametrize("dtype,expected", [(np.float16, np.float16), (np.int64, np.float64), (np.bool_, np.float64)])
def test_logit_dtypes(dtype, expected):
    x, t = _binary((20, 3), seed=8)
    xd = (x > 0) if dtype is np.bool_ else np.round(x).astype(dtype)
    assert np.asarray(fs.soft_fbeta_loss(xd, t)).dtype == expected
    assert fs.soft_fbeta_loss_backward(1.0, xd, t).dtype == expected
    assert fs.soft_confusion(xd, t).tp.dtype == np.float64
    np.testing.assert_allclose(fs.soft_fbeta_loss(xd, t), ref.soft_fbeta_loss(xd.astype(np.float64), t),
                               rtol=1e-3 if dtype is np.float16 else 1e-13)


def test_every_layout_of_logits_and_target():
    x, t = _binary((12, 5), seed=9)
    want = fs.soft_fbeta_loss(x, t, average="none")
    dwant = fs.soft_fbeta_loss_backward(np.ones(5), x, t, average="none")
    for (nx, vx), (nt, vt) in zip(layouts(x), layouts(t)[::-1]):
        np.testing.assert_allclose(fs.soft_fbeta_loss(vx, vt, average="none"), want, rtol=1e-14, err_msg=nx + nt)
        dx = fs.soft_fbeta_loss_backward(np.ones(5), vx, vt, average="none")
        np.testing.assert_allclose(dx, dwant, rtol=1e-14, err_msg=nx + nt)
    z, labels = _multiclass(12, 5, seed=10)
    want = fs.softmax_fbeta_loss(z, labels)
    for name, vz in layouts(z):
        assert fs.softmax_fbeta_loss(vz, labels) == pytest.approx(want, rel=1e-14), name


def test_soft_confusion_axis_and_more_dims():
    x, t = _binary((6, 4, 3), seed=11)
    c0 = fs.soft_confusion(x, t)
    assert c0.tp.shape == (4, 3)
    c1 = fs.soft_confusion(np.moveaxis(x, 0, 1), np.moveaxis(t, 0, 1), axis=1)
    np.testing.assert_allclose(c1, c0, rtol=1e-14)
    c2 = fs.soft_confusion(np.moveaxis(x, 0, -1), np.moveaxis(t, 0, -1), axis=-1)
    np.testing.assert_allclose(c2, c0, rtol=1e-14)
    np.testing.assert_allclose(c0, ref.soft_confusion(x, t), rtol=1e-14)
    # the losses treat every trailing position as a class
    np.testing.assert_allclose(fs.soft_fbeta_loss(x, t, average="none"),
                               fs.soft_fbeta_loss(x.reshape(6, 12), t.reshape(6, 12), average="none").reshape(4, 3),
                               rtol=1e-14)
    dx = fs.soft_fbeta_loss_backward(1.0, x, t, average="macro")
    np.testing.assert_allclose(dx.reshape(6, 12),
                               fs.soft_fbeta_loss_backward(1.0, x.reshape(6, 12), t.reshape(6, 12), average="macro"),
                               rtol=1e-14)


# ---------------------------------------------------------------------------- backward


def _sigmoid_case(shape):
    x, t = _binary(shape, seed=12, scale=1.5)
    return x, np.clip(t + 0.2 * rng(13).random(shape), 0, 1)  # soft labels exercise every term


FD_CASES = [(name, lambda: _sigmoid_case((9,))) for name in SIGMOID_LOSSES] \
    + [(name, lambda: _sigmoid_case((8, 3))) for name in SIGMOID_LOSSES] \
    + [(name, lambda: _multiclass(10, 4, seed=14, scale=1.0)) for name in SOFTMAX_LOSSES]


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("name,make", FD_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FD_CASES)])
def test_backward_against_finite_differences(name, make, average):
    x, t = make()
    kw = _kw(name, beta=1.3, average=average, temperature=0.8)
    loss = getattr(fs, name)(x, t, **kw)

    def f(z):
        return getattr(fs, name)(z, t, **kw)

    def vjp(g, z):
        return getattr(fs, name + "_backward")(g, z, t, **kw)

    check_vjp_fd(f, vjp, x, _grad_for(loss), rtol=1e-6, atol=1e-10)


def test_full_jacobian_on_a_tiny_input():
    x, t = _binary((3, 2), seed=15, scale=1.0)
    for name in ("soft_fbeta_loss", "soft_precision_loss"):
        jac = full_jacobian_fd(lambda z, name=name: getattr(fs, name)(z, t, average="none"), x)
        for k in range(2):  # each unit grad picks one row of the Jacobian
            np.testing.assert_allclose(getattr(fs, name + "_backward")(np.eye(2)[k], x, t, average="none"), jac[k],
                                       rtol=1e-6, atol=1e-10)
    z, labels = _multiclass(2, 3, seed=16, scale=1.0)
    jac = full_jacobian_fd(lambda v: fs.softmax_fbeta_loss(v, labels, average="none"), z)
    for k in range(3):
        np.testing.assert_allclose(fs.softmax_fbeta_loss_backward(np.eye(3)[k], z, labels, average="none"), jac[k],
                                   rtol=1e-6, atol=1e-10)


def test_softmax_accuracy_gradient_formula():
    z, labels = _multiclass(6, 4, seed=17)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = np.eye(4)[labels]
    py = p[np.arange(6), labels][:, None]
    want = -py * (y - p) / (6 + 1e-7)
    np.testing.assert_allclose(fs.softmax_accuracy_loss_backward(1.0, z, labels), want, rtol=1e-12)


def test_backward_with_counts_of_the_same_batch_is_the_default():
    x, t = _binary((25, 4), seed=18)
    for name in SIGMOID_LOSSES:
        c = fs.soft_confusion(x, t)
        np.testing.assert_array_equal(getattr(fs, name + "_backward")(1.0, x, t, counts=c),
                                      getattr(fs, name + "_backward")(1.0, x, t))
    z, labels = _multiclass(25, 4, seed=19)
    totals = _losses._counts(_losses._softmax_batch(z, labels, "t"), 1.0)
    np.testing.assert_array_equal(fs.softmax_fbeta_loss_backward(1.0, z, labels, counts=totals),
                                  fs.softmax_fbeta_loss_backward(1.0, z, labels))


# ------------------------------------------------------------------ the accumulator


def _splits(n, cuts):
    edges = sorted({0, n, *[c % (n + 1) for c in cuts]})
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    k=st.sampled_from([None, 1, 3]),
    cuts=st.lists(st.integers(0, 60), max_size=5),
    average=st.sampled_from(AVERAGES),
    beta=st.floats(0.25, 4.0),
    seed=st.integers(0, 1000),
)
def test_accumulated_micro_batch_gradients_equal_the_full_batch_gradient(n, k, cuts, average, beta, seed):
    shape = (n,) if k is None else (n, k)
    x, t = _binary(shape, seed=seed, scale=2.0)
    acc = fs.FbetaAccumulator(beta=beta, average=average, temperature=0.7)
    parts = _splits(n, cuts)
    for s in parts:
        acc.update(x[s], t[s])
    assert acc.n_samples == n
    kw = dict(beta=beta, average=average, temperature=0.7)
    full_loss = fs.soft_fbeta_loss(x, t, **kw)
    np.testing.assert_allclose(acc.loss(), full_loss, rtol=1e-13, atol=1e-15)
    g = _grad_for(full_loss)
    got = np.concatenate([acc.backward(x[s], t[s], g) for s in parts])
    want = fs.soft_fbeta_loss_backward(g, x, t, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15 * np.abs(want).max())


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 40), cuts=st.lists(st.integers(0, 40), max_size=4), seed=st.integers(0, 1000),
       one_hot=st.booleans())
def test_accumulator_with_softmax_activation(n, cuts, seed, one_hot):
    z, labels = _multiclass(n, 5, seed=seed)
    y = np.eye(5)[labels] if one_hot else labels
    acc = fs.FbetaAccumulator(beta=1.5, average="macro", n_classes=5, activation="softmax")
    parts = _splits(n, cuts)
    for s in parts:
        acc.update(z[s], y[s])
    np.testing.assert_allclose(acc.loss(), fs.softmax_fbeta_loss(z, y, beta=1.5), rtol=1e-13)
    got = np.concatenate([acc.backward(z[s], y[s]) for s in parts])
    want = fs.softmax_fbeta_loss_backward(1.0, z, y, beta=1.5)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15 * np.abs(want).max())


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 30), min_size=3, max_size=3), seed=st.integers(0, 1000),
       average=st.sampled_from(AVERAGES))
def test_merge_is_associative_and_order_free(sizes, seed, average):
    x, t = _binary((sum(sizes), 3), seed=seed)
    edges = np.cumsum([0] + sizes)
    accs = [fs.FbetaAccumulator(average=average).update(x[a:b], t[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    a, b, c = accs
    before = [acc.counts for acc in accs]
    left = (a + b) + c
    right = a + (b + c)
    np.testing.assert_allclose(left.counts, right.counts, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(left.loss(), right.loss(), rtol=1e-13)
    for order in ([b, a, c], [c, b, a], [a, c, b]):
        np.testing.assert_allclose(sum(order).counts, left.counts, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(reduce(operator.add, order).counts, left.counts, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal((a + b).counts, (b + a).counts)  # commutative exactly
    for acc, was in zip(accs, before):  # operands unchanged
        np.testing.assert_array_equal(acc.counts, was)
    assert left.n_samples == sum(sizes)
    np.testing.assert_allclose(left.loss(), fs.soft_fbeta_loss(x, t, average=average), rtol=1e-13)
    # merge adds into self, in place, and returns it; the argument is unchanged
    into = a.copy()
    assert into.merge(b) is into and into.merge(c) is into
    np.testing.assert_array_equal(into.counts, left.counts)
    assert into.n_samples == sum(sizes)
    for acc, was in zip(accs, before):
        np.testing.assert_array_equal(acc.counts, was)


def test_merge_in_place_issue14():
    """``acc.merge(other)`` must merge (it used to return a new accumulator and leave
    ``acc`` unchanged, so the natural call silently merged nothing)."""
    x, t = _binary((20,), seed=40)
    acc = fs.FbetaAccumulator().update(x[:8], t[:8])
    other = fs.FbetaAccumulator().update(x[8:], t[8:])
    acc.merge(other)
    assert acc.n_samples == 20 and other.n_samples == 12
    np.testing.assert_allclose(acc.loss(), fs.soft_fbeta_loss(x, t), rtol=1e-13)
    acc.merge(acc)  # with itself: doubles
    assert acc.n_samples == 40
    np.testing.assert_allclose(acc.counts, 2.0 * np.asarray(fs.soft_confusion(x, t)), rtol=1e-13)
    empty = fs.FbetaAccumulator()
    assert empty.merge(other) is empty and empty.n_samples == 12
    other.update(x[:1], t[:1])  # no memory shared with `other`
    assert empty.n_samples == 12
    np.testing.assert_allclose(empty.counts, fs.soft_confusion(x[8:], t[8:]), rtol=1e-14)
    total = sum([fs.FbetaAccumulator().update(x[s], t[s]) for s in (slice(0, 5), slice(5, 20))])
    np.testing.assert_allclose(total.loss(), fs.soft_fbeta_loss(x, t), rtol=1e-13)
    assert (0 + other) is not other and (0 + other).n_samples == other.n_samples
    with pytest.raises(TypeError):
        other + 1.0
    with pytest.raises(TypeError):
        1 + other
    with pytest.raises(ValueError, match="differ in `beta`"):
        other + fs.FbetaAccumulator(beta=2.0)


def test_data_parallel_workers_and_pickling():
    x, t = _binary((90, 4), seed=20)
    shards = [slice(0, 30), slice(30, 60), slice(60, 90)]
    workers = [pickle.loads(pickle.dumps(fs.FbetaAccumulator(beta=2.0).update(x[s], t[s]))) for s in shards]
    total = sum(workers)
    grads = [total.backward(x[s], t[s]) for s in shards]
    np.testing.assert_allclose(np.concatenate(grads), fs.soft_fbeta_loss_backward(1.0, x, t, beta=2.0), rtol=1e-12)
    # the same with plain functions: sum the counts, back-propagate each shard through them
    counts = sum(fs.soft_confusion(x[s], t[s]) for s in shards)
    for s, g in zip(shards, grads):
        np.testing.assert_allclose(fs.soft_fbeta_loss_backward(1.0, x[s], t[s], beta=2.0, counts=counts), g,
                                   rtol=1e-13)


def test_naive_per_micro_batch_losses_give_a_different_gradient():
    """The reason for the accumulator: summing the gradients of per-part F1 is wrong."""
    x, t = _binary((40,), seed=21)
    parts = [slice(0, 10), slice(10, 40)]
    naive = np.concatenate([fs.soft_fbeta_loss_backward(1.0, x[s], t[s]) for s in parts])
    full = fs.soft_fbeta_loss_backward(1.0, x, t)
    assert np.abs(naive - full).max() > 0.1 * np.abs(full).max()


def test_accumulator_state_reset_and_repr():
    x, t = _binary((20, 3), seed=22)
    acc = fs.FbetaAccumulator(beta=0.5, average="none", n_classes=3, eps=1e-6)
    assert acc.counts is None and acc.n_samples == 0
    assert acc.update(x[:5], t[:5]) is acc
    acc.update(x[5:], t[5:])
    np.testing.assert_allclose(acc.counts, fs.soft_confusion(x, t), rtol=1e-14)
    acc.counts.tp[:] = -1  # a copy: the state is not exposed
    np.testing.assert_allclose(acc.loss(), fs.soft_fbeta_loss(x, t, beta=0.5, average="none", eps=1e-6), rtol=1e-13)
    assert acc.loss().shape == (3,)
    np.testing.assert_allclose(acc.backward(x, t), fs.soft_fbeta_loss_backward(
        np.ones(3), x, t, beta=0.5, average="none", eps=1e-6), rtol=1e-13)  # default grad: ones
    assert "beta=0.5" in repr(acc) and "n_samples=20" in repr(acc)
    assert (acc.beta, acc.average, acc.n_classes, acc.eps, acc.temperature, acc.activation) == (
        0.5, "none", 3, 1e-6, 1.0, "sigmoid")
    assert acc.reset() is acc and acc.counts is None and acc.n_samples == 0
    with pytest.raises(RuntimeError, match="update"):
        acc.loss()
    # an inferred class shape is forgotten by reset
    free = fs.FbetaAccumulator().update(x, t)
    free.reset().update(x[:, 0], t[:, 0])
    assert free.counts.tp.shape == ()


def test_accumulator_over_an_empty_micro_batch_and_empty_merge():
    x, t = _binary((10,), seed=23)
    acc = fs.FbetaAccumulator().update(x[:0], t[:0]).update(x, t)
    assert acc.loss() == pytest.approx(fs.soft_fbeta_loss(x, t), rel=1e-14)
    assert acc.backward(x[:0], t[:0]).shape == (0,)
    empty = fs.FbetaAccumulator()
    assert (empty + fs.FbetaAccumulator()).counts is None
    merged = empty.merge(acc)
    np.testing.assert_array_equal(merged.counts, acc.counts)
    assert fs.FbetaAccumulator().merge(fs.FbetaAccumulator()).counts is None


def test_accumulator_misuse_raises():
    x, t = _binary((10, 3), seed=24)
    acc = fs.FbetaAccumulator()
    with pytest.raises(RuntimeError, match=r"FbetaAccumulator.backward: no counts yet"):
        acc.backward(x, t)
    with pytest.raises(RuntimeError, match=r"FbetaAccumulator.loss: no counts yet"):
        acc.loss()
    acc.update(x, t)
    with pytest.raises(ValueError, match="class shape"):
        acc.update(x[:, :2], t[:, :2])
    with pytest.raises(ValueError, match="class shape"):
        acc.backward(x[:, 0], t[:, 0])
    with pytest.raises(ValueError, match="class shape"):
        fs.FbetaAccumulator(n_classes=4).update(x, t)
    with pytest.raises(ValueError, match="`grad`"):
        acc.backward(x, t, grad=np.ones(3))
    for other, key in ((fs.FbetaAccumulator(beta=2.0), "beta"), (fs.FbetaAccumulator(average="macro"), "average"),
                       (fs.FbetaAccumulator(n_classes=3), "n_classes"), (fs.FbetaAccumulator(eps=1e-3), "eps"),
                       (fs.FbetaAccumulator(temperature=2.0), "temperature"),
                       (fs.FbetaAccumulator(activation="softmax"), "activation")):
        with pytest.raises(ValueError, match=f"differ in `{key}`"):
            acc.merge(other)
    with pytest.raises(ValueError, match="different class shapes"):
        acc.merge(fs.FbetaAccumulator().update(x[:, 0], t[:, 0]))
    with pytest.raises(TypeError, match="FbetaAccumulator"):
        acc.merge(fs.soft_confusion(x, t))
    with pytest.raises(ValueError, match="`activation`"):
        fs.FbetaAccumulator(activation="relu")
    with pytest.raises(TypeError, match="`n_classes`"):
        fs.FbetaAccumulator(n_classes=2.0)
    with pytest.raises(ValueError, match="`n_classes`"):
        fs.FbetaAccumulator(n_classes=0)
    with pytest.raises(ValueError, match=r"FbetaAccumulator: `beta`"):
        fs.FbetaAccumulator(beta=0.0)
    with pytest.raises(ValueError, match=r"FbetaAccumulator: `average`"):
        fs.FbetaAccumulator(average="weighted")
    with pytest.raises(ValueError, match=r"FbetaAccumulator.update: `target`"):
        fs.FbetaAccumulator().update(x, t + 1)


# ------------------------------------------------------------------- special values


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_and_infinite_logits_give_exact_decisions(dtype):
    t = np.array([1, 0, 1, 0, 1], dtype)
    for big in (1e4, np.inf):
        x = np.array([big, -big, -big, big, big], dtype)
        c = fs.soft_confusion(x, t)
        np.testing.assert_array_equal(c, [2.0, 1.0, 1.0, 1.0])
        for name in SIGMOID_LOSSES:
            loss = getattr(fs, name)(x, t)
            dx = getattr(fs, name + "_backward")(1.0, x, t)
            assert np.isfinite(loss) and np.all(dx == 0), name  # saturated: no gradient, never nan
        assert fs.soft_fbeta_loss(x, t) == pytest.approx((1 + 1) / (2 * 2 + 1 + 1), rel=1e-6)
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype)
    for name in SOFTMAX_LOSSES:
        assert np.isfinite(getattr(fs, name)(z, [0, 2])), name
        assert np.all(np.isfinite(getattr(fs, name + "_backward")(1.0, z, [0, 2]))), name
    np.testing.assert_allclose(fs.softmax_accuracy_loss(z, [0, 2]), 0.25, rtol=1e-6)


def test_batches_without_positives_are_defined():
    x = rng(25).standard_normal(8)
    zeros = np.zeros(8)
    assert fs.soft_fbeta_loss(x, zeros) == 1.0
    assert np.all(fs.soft_fbeta_loss_backward(1.0, x, zeros) == 0.0)
    assert fs.soft_recall_loss(x, zeros) == 1.0
    assert np.all(fs.soft_recall_loss_backward(1.0, x, zeros) == 0.0)
    # nothing predicted positive either (saturated): 0/0, decided by eps
    neg = np.full(8, -np.inf)
    for name in SIGMOID_LOSSES[1:]:
        assert getattr(fs, name)(neg, zeros) == 1.0, name
        assert np.all(getattr(fs, name + "_backward")(1.0, neg, zeros) == 0.0), name
    assert fs.soft_accuracy_loss(neg, zeros) == pytest.approx(1e-7 / (8 + 1e-7))
    # a class without positives in a multi-label batch: constant 1 in the macro mean
    xm, tm = _binary((10, 3), seed=26)
    tm[:, 1] = 0
    per_class = fs.soft_fbeta_loss(xm, tm, average="none")
    assert per_class[1] == 1.0
    assert np.all(fs.soft_fbeta_loss_backward(1.0, xm, tm, average="macro")[:, 1] == 0.0)


def test_empty_batches():
    for name in SIGMOID_LOSSES:
        assert getattr(fs, name)(np.empty(0), np.empty(0)) == 1.0
        assert getattr(fs, name + "_backward")(1.0, np.empty(0), np.empty(0)).shape == (0,)
        np.testing.assert_array_equal(getattr(fs, name)(np.empty((0, 3)), np.empty((0, 3)), average="none"), 1.0)
    for name in SOFTMAX_LOSSES:
        assert getattr(fs, name)(np.empty((0, 3)), np.empty(0, int)) == 1.0
    c = fs.soft_confusion(np.empty((0, 2)), np.empty((0, 2)))
    np.testing.assert_array_equal(c, np.zeros((4, 2)))


def test_nan_logits_poison_their_class_only():
    x, t = _binary((10, 3), seed=27)
    x[4, 1] = np.nan
    per_class = fs.soft_fbeta_loss(x, t, average="none")
    assert np.isnan(per_class[1]) and np.isfinite(per_class[[0, 2]]).all()
    assert np.isnan(fs.soft_fbeta_loss(x, t))
    dx = fs.soft_fbeta_loss_backward(np.ones(3), x, t, average="none")
    assert np.isnan(dx[:, 1]).all() and np.isfinite(dx[:, [0, 2]]).all()
    z, labels = _multiclass(5, 3, seed=28)
    z[2] = -np.inf
    assert np.isnan(fs.softmax_fbeta_loss(z, labels))
    z[2] = [0.0, np.nan, 1.0]
    assert np.isnan(fs.softmax_fbeta_loss_backward(1.0, z, labels)).all()


def test_confident_softmax_keeps_the_digits_of_one_minus_p():
    z = np.array([[40.0, 0.0, 0.0], [0.0, 45.0, 0.0]])
    fn = fs.softmax_accuracy_loss(z, [0, 1], eps=1e-300)
    want = (2 * math.exp(-40) / (1 + 2 * math.exp(-40)) + 2 * math.exp(-45) / (1 + 2 * math.exp(-45))) / 2
    assert fn == pytest.approx(want, rel=1e-12)  # 1 - p computed as 1 - 1 would give 0
    assert fs.soft_fbeta_loss([40.0, -40.0], [1, 0], eps=1e-300) == pytest.approx(
        2 * math.exp(-40) / (2 + 2 * math.exp(-40)), rel=1e-12)


def test_small_temperature_approaches_the_hard_metric():
    x, t = _binary((200, 4), seed=29)
    pred = x > 0
    tp, fp, fn = (pred & (t > 0)).sum(), (pred & (t == 0)).sum(), (~pred & (t > 0)).sum()
    hard = 1 - 2 * tp / (2 * tp + fp + fn)
    for tau, tol in ((1e-2, 1e-2), (1e-4, 1e-4), (1e-300, 1e-9)):
        assert fs.soft_fbeta_loss(x, t, temperature=tau) == pytest.approx(hard, abs=tol)
    z, labels = _multiclass(100, 5, seed=30)
    hard_acc = np.mean(np.argmax(z, 1) == labels)
    assert fs.softmax_accuracy_loss(z, labels, temperature=1e-6) == pytest.approx(1 - hard_acc, abs=1e-9)


# ----------------------------------------------------------- threads and determinism


@pytest.mark.parametrize("shape", [(150_000,), (2000, 40), (1000, 1500)], ids=str)
def test_parallel_serial_and_thread_counts_give_identical_bits(monkeypatch, shape):
    x, t = _binary(shape, seed=31, dtype=np.float32)
    results = []
    for parallel, threads in ((False, 1), (True, numba.get_num_threads()), (True, 1)):
        monkeypatch.setattr(_losses, "use_parallel", lambda n, p=parallel: p)
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            results.append((fs.soft_confusion(x, t), fs.soft_fbeta_loss_backward(1.0, x, t, average="macro")))
        finally:
            numba.set_num_threads(before)
    for counts, dx in results[1:]:
        np.testing.assert_array_equal(counts, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])
    np.testing.assert_allclose(results[0][0], ref.soft_confusion(x.astype(np.float64), t), rtol=1e-6)


def test_parallel_softmax_kernels(monkeypatch):
    z, labels = _multiclass(3000, 30, seed=32)
    serial = fs.softmax_fbeta_loss(z, labels), fs.softmax_fbeta_loss_backward(1.0, z, labels)
    monkeypatch.setattr(_losses, "use_parallel", lambda n: True)
    assert fs.softmax_fbeta_loss(z, labels) == serial[0]
    np.testing.assert_array_equal(fs.softmax_fbeta_loss_backward(1.0, z, labels), serial[1])
    assert fs.softmax_fbeta_loss(z, labels) == pytest.approx(ref.softmax_fbeta_loss(z, labels), rel=1e-12)


def test_inputs_are_not_modified():
    x, t = _binary((30, 4), seed=33)
    z, labels = _multiclass(30, 4, seed=34)
    args = [x, t, z, labels]
    copies = [a.copy() for a in args]
    for name in SIGMOID_LOSSES:
        getattr(fs, name)(x, t)
        getattr(fs, name + "_backward")(1.0, x, t)
    for name in SOFTMAX_LOSSES:
        getattr(fs, name)(z, labels)
        getattr(fs, name + "_backward")(1.0, z, labels)
    acc = fs.FbetaAccumulator().update(x, t)
    acc.backward(x, t)
    fs.soft_confusion(x, t)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------------------ errors


ALL = {**{n: "sigmoid" for n in SIGMOID_LOSSES}, **{n: "softmax" for n in SOFTMAX_LOSSES}}


def _call(name, backward, x, t, **kw):
    if backward:
        grad = kw.pop("grad", 1.0)
        return getattr(fs, name + "_backward")(grad, x, t, **kw)
    kw.pop("grad", None)
    return getattr(fs, name)(x, t, **kw)


def _valid(kind):
    if kind == "sigmoid":
        return _binary((6, 3), seed=35)
    return _multiclass(6, 3, seed=35)


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("name", list(ALL))
def test_bad_scalar_arguments(name, backward):
    fname = name + "_backward" * backward
    x, t = _valid(ALL[name])
    for key, bad, exc in [
        ("temperature", 0.0, ValueError), ("temperature", np.nan, ValueError), ("temperature", "1", TypeError),
        ("eps", 0.0, ValueError), ("eps", -1e-7, ValueError), ("eps", np.inf, ValueError), ("eps", None, TypeError),
        ("average", "weighted", ValueError), ("average", None, ValueError), ("average", "MICRO", ValueError),
    ]:
        with pytest.raises(exc, match=rf"{fname}: `{key}`"):
            _call(name, backward, x, t, **{key: bad})
    # every loss takes beta (one signature); only F-beta squares it
    bads = [(0.0, ValueError), (-1.0, ValueError), (np.nan, ValueError), (np.inf, ValueError),
            ("2", TypeError), (True, TypeError)] + [(1e200, ValueError)] * ("fbeta" in name)
    for bad, exc in bads:
        with pytest.raises(exc, match=rf"{fname}: `beta`"):
            _call(name, backward, x, t, beta=bad)


@pytest.mark.parametrize("name,backward", [(n, b) for n in SIGMOID_LOSSES for b in (False, True)]
                         + [("soft_confusion", False)])
def test_bad_targets_and_shapes(name, backward):
    fname = name + "_backward" * backward
    x, t = _valid("sigmoid")

    def call(xx, tt):
        if name == "soft_confusion":
            return fs.soft_confusion(xx, tt)
        return _call(name, backward, xx, tt)

    with pytest.raises(ValueError, match=rf"{fname}: `target` must have the shape of `logits` \(6, 3\)"):
        call(x, t[:, :2])
    with pytest.raises(ValueError, match=rf"{fname}: `target` must have the shape"):
        call(x, t.T)
    for bad_value in (-0.5, 1.5, np.nan, np.inf):
        bad = t.copy()
        bad[2, 1] = bad_value
        with pytest.raises(ValueError, match=rf"{fname}: `target` must lie in \[0, 1\]"):
            call(x, bad)
    with pytest.raises(ValueError, match=r"`target` must lie in \[0, 1\].*found 2"):
        call(x, t.astype(int) * 2)
    with pytest.raises(TypeError, match=rf"{fname}: `target` must be an array of real numbers"):
        call(x, t.astype(complex))
    with pytest.raises(TypeError, match=rf"{fname}: `logits`"):
        call(x.astype(complex), t)
    with pytest.raises(TypeError, match=rf"{fname}: `logits`"):
        call(np.array(["a", "b"]), [0, 1])
    with pytest.raises(ValueError, match=rf"{fname}: `logits` must have a batch axis"):
        call(1.0, 1.0)
    if name != "soft_confusion":
        with pytest.raises(ValueError, match=rf"{fname}: `logits` has no classes"):
            call(np.empty((4, 0)), np.empty((4, 0)))


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("name", SOFTMAX_LOSSES)
def test_bad_labels(name, backward):
    fname = name + "_backward" * backward
    z, labels = _valid("softmax")
    with pytest.raises(ValueError, match=rf"{fname}: `labels` must be class ids in \[0, 3\), found 3"):
        _call(name, backward, z, np.where(labels == 0, 3, labels))
    with pytest.raises(ValueError, match=r"found -1"):
        _call(name, backward, z, np.where(labels == 0, -1, labels))
    with pytest.raises(TypeError, match=rf"{fname}: `labels` of shape \(N,\) must be integer class ids, got dtype "
                                        "float64"):
        _call(name, backward, z, labels.astype(float))
    with pytest.raises(TypeError, match="integer class ids"):
        _call(name, backward, z, labels.astype(bool))
    with pytest.raises(ValueError, match=rf"{fname}: `labels` must be class ids of shape \(6,\)"):
        _call(name, backward, z, labels[:5])
    with pytest.raises(ValueError, match=rf"{fname}: `labels` must be class ids of shape"):
        _call(name, backward, z, labels[:, None, None])
    with pytest.raises(ValueError, match=rf"{fname}: `labels` must have the shape of `logits`"):
        _call(name, backward, z, np.eye(4)[labels])
    with pytest.raises(ValueError, match=rf"{fname}: `labels` must lie in \[0, 1\]"):
        _call(name, backward, z, 2 * np.eye(3)[labels])
    for bad_shape in ((6,), (6, 3, 1)):
        with pytest.raises(ValueError, match=rf"{fname}: `logits` must be 2-D \(N, K\)"):
            _call(name, backward, z[:, 0].reshape(bad_shape) if bad_shape == (6,) else z[..., None], labels)
    with pytest.raises(ValueError, match=r"`logits` must be 2-D \(N, K\) with K >= 1"):
        _call(name, backward, np.empty((6, 0)), labels)


@pytest.mark.parametrize("name", list(ALL))
def test_bad_grad_and_counts(name):
    fname = name + "_backward"
    x, t = _valid(ALL[name])
    bwd = getattr(fs, fname)
    with pytest.raises(ValueError, match=rf"{fname}: `grad` must be a scalar"):
        bwd(np.ones(3), x, t)
    with pytest.raises(ValueError, match=rf"{fname}: `grad` must be one value per class \(shape \(3,\)\)"):
        bwd(1.0, x, t, average="none")
    with pytest.raises(TypeError, match=rf"{fname}: `grad` must be real"):
        bwd(1j, x, t)
    with pytest.raises(ValueError, match=rf"{fname}: `counts` must be \(tp, fp, fn, tn\) of class shape \(3,\)"):
        bwd(1.0, x, t, counts=np.zeros((4, 2)))
    with pytest.raises(TypeError, match=rf"{fname}: `counts`"):
        bwd(1.0, x, t, counts=5.0)


def test_bad_axis_and_temperature_of_soft_confusion():
    x, t = _valid("sigmoid")
    with pytest.raises(np.exceptions.AxisError, match="soft_confusion: `axis` 2"):
        fs.soft_confusion(x, t, axis=2)
    with pytest.raises(TypeError, match="soft_confusion: `axis` must be an int"):
        fs.soft_confusion(x, t, axis=(0, 1))
    with pytest.raises(ValueError, match="soft_confusion: `temperature`"):
        fs.soft_confusion(x, t, temperature=-1.0)


def test_target_range_check_finds_one_bad_value_anywhere(monkeypatch):
    x = np.zeros(200_000, np.float32)
    t = np.ones(200_000, np.float32)
    fs.soft_fbeta_loss(x, t)  # 0 and 1 themselves are fine
    for parallel in (False, True):
        monkeypatch.setattr(_losses, "use_parallel", lambda n, p=parallel: p)
        for pos, val in ((0, -1e-9), (199_998, 1.0000001), (70_000, np.nan), (131_072, -np.inf)):
            bad = t.copy()
            bad[pos] = val
            for xx, tt in ((x, bad), (x[::2], bad[::2]), (x, bad.astype(np.float64))):
                with pytest.raises(ValueError, match=r"soft_fbeta_loss: `target` must lie in \[0, 1\]"):
                    fs.soft_fbeta_loss(xx, tt)


def test_every_soft_metric_loss_takes_the_fbeta_signature():
    """Issue 4 gives accuracy, precision, recall and F-beta one signature: ``beta`` is
    accepted (and checked) by all, and changes only F-beta."""
    z = np.array([[2.0, -1.0], [0.5, -3.0], [0.1, 0.2]])
    t = np.array([[1, 0], [0, 1], [1, 1]])
    for f in (fs.soft_accuracy_loss, fs.soft_precision_loss, fs.soft_recall_loss):
        np.testing.assert_array_equal(f(z, t, beta=3.0, average="none"), f(z, t, average="none"))
        back = getattr(fs, f.__name__ + "_backward")
        np.testing.assert_array_equal(back(1.0, z, t, beta=3.0), back(1.0, z, t))
        with pytest.raises(ValueError, match="beta"):
            f(z, t, beta=0.0)
    assert fs.soft_fbeta_loss(z, t, beta=3.0) != fs.soft_fbeta_loss(z, t)
    labels = np.array([0, 1, 1])
    assert fs.softmax_accuracy_loss(z, labels, beta=2.0) == fs.softmax_accuracy_loss(z, labels)
    with pytest.raises(ValueError, match="beta"):
        fs.softmax_accuracy_loss_backward(1.0, z, labels, beta=-1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_losses_take_the_special_rows_of_softmax(dtype):
    """The softmax losses' row softmax (``_losses._softmax_row``, which also returns
    ``1 - p`` at the maximum to full precision) follows the special-value rule of
    :func:`fastsmooth.softmax`: a row with ``+inf`` logits is its limit, uniform over
    them; a row of ``-inf`` is nan. Their counts come from ``fs.softmax``'s output."""
    from fastsmooth import _reference

    x = np.array([[1.0, np.inf, np.inf, 0.0], [1.0, 2.0, 3.0, 0.0], [np.inf, -np.inf, 0.0, 1.0],
                  [0.5, 0.25, -np.inf, 2.0]], dtype)
    labels = np.array([1, 2, 0, 3])
    p = fs.softmax(x).astype(np.float64)
    y = np.eye(4)[labels]
    counts = _reference._softmax_counts(p, y)
    for average in ("none", "macro", "micro"):
        want = _reference._metric_loss(counts, "fbeta", 2.0, average, 1e-7)[0]
        got = fs.softmax_fbeta_loss(x, labels, beta=2.0, average=average)
        np.testing.assert_allclose(got, want, rtol=3e-6 if dtype == np.float32 else 1e-12)
    # the backward is finite there too (softmax's Jacobian at the limit row)
    assert np.all(np.isfinite(fs.softmax_fbeta_loss_backward(np.ones(4), x, labels, average="none")))
    bad = x.copy()
    bad[1] = -np.inf
    assert np.all(np.isnan(fs.softmax_fbeta_loss(bad, labels, average="none")))


def test_forward_loss_of_four_totals_has_the_bits_of_the_derivative_path():
    """``_loss`` computes one metric of four totals (micro averaging, or one class) in
    Python floats; it must be bit for bit the float64 NumPy path that also forms the
    derivatives (``_loss_and_dcounts``), for every metric, averaging and shape."""
    from fastsmooth import _losses

    r = np.random.default_rng(11)
    for metric in ("fbeta", "accuracy", "precision", "recall"):
        for average in ("micro", "macro", "none"):
            for shape in ((4,), (4, 3), (4, 2, 2)):
                for _ in range(40):
                    c = r.random(shape) * 10 ** r.uniform(-5, 5)
                    c[r.random(shape) < 0.2] = 0.0
                    spec = _losses._spec(metric, "t", beta=r.uniform(0.1, 3.0), average=average,
                                         eps=10 ** r.uniform(-300, 0))
                    want = np.atleast_1d(np.asarray(_losses._loss_and_dcounts(c, spec, 1.0)[0]))
                    got = np.atleast_1d(np.asarray(_losses._loss(c, spec), np.float64))
                    assert got.shape == want.shape
                    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
