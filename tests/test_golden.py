"""torch parity without torch: fastsmooth against torch's answers stored in
``tests/data/torch_golden.npz`` (made by ``python -m tests.data.make_golden``, which
records the torch version) -- always -- and against live torch when it is installed.

Pooling values and indices must be identical (ties, nan, +-inf, ceil_mode, dilation,
every geometry of ``tests/test_pooling.py``); gradients are scatter-adds, equal up to the
order of the additions; the element-wise subgradients follow torch's conventions at
the kinks exactly; softmax, log-softmax and LogSumExp agree to a few ulps.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs

from .data import make_golden as golden

TOL = {"float64": {"rtol": 1e-13, "atol": 1e-300}, "float32": {"rtol": 1e-5, "atol": 1e-37}}
GRAD_TOL = {"float64": {"rtol": 1e-13, "atol": 1e-14}, "float32": {"rtol": 1e-5, "atol": 1e-6}}


def _check_pooling(gold):
    for dt in ("float64", "float32"):
        x = gold["pool_x"].astype(dt)
        for i, (k, s, p, d, c) in enumerate(golden.GRID):
            label = f"maxpool2d {dt} k={k} s={s} p={p} d={d} ceil={c}"
            y, idx = fs.maxpool2d(x, k, s, p, d, c)
            np.testing.assert_array_equal(y, gold[f"pool2d/{dt}/{i}/y"], err_msg=label, strict=True)
            np.testing.assert_array_equal(idx, gold[f"pool2d/{dt}/{i}/idx"].astype(np.int64), err_msg=label)
            dx = fs.maxpool2d_backward(golden.upstream(y.shape, dt), idx, x.shape)
            np.testing.assert_allclose(dx, gold[f"pool2d/{dt}/{i}/dx"], err_msg=label, **GRAD_TOL[dt])
        line = gold["line_x"].astype(dt)
        for i, (k, s, p, d, c) in enumerate(golden.POOL1D):
            label = f"maxpool1d {dt} k={k} s={s} p={p} d={d} ceil={c}"
            y, idx = fs.maxpool1d(line, k, s, p, d, c)
            np.testing.assert_array_equal(y, gold[f"pool1d/{dt}/{i}/y"], err_msg=label, strict=True)
            np.testing.assert_array_equal(idx, gold[f"pool1d/{dt}/{i}/idx"].astype(np.int64), err_msg=label)
            dx = fs.maxpool1d_backward(golden.upstream(y.shape, dt), idx, line.shape)
            np.testing.assert_allclose(dx, gold[f"pool1d/{dt}/{i}/dx"], err_msg=label, **GRAD_TOL[dt])
        y, idx = fs.maxpool2d(x, 2)
        np.testing.assert_array_equal(fs.maxunpool2d(y, idx, (9, 10)), gold[f"unpool/{dt}"])
        gy, gidx = fs.global_maxpool2d(x)
        np.testing.assert_array_equal(gy, gold[f"global/{dt}/y"], strict=True)
        np.testing.assert_array_equal(gidx, gold[f"global/{dt}/idx"])
    # a window that sees padding only: torch answers with an index outside the plane
    # (and -inf); fastsmooth refuses the geometry instead (a deliberate difference)
    assert np.isneginf(gold["all_padding/y"]).all()
    assert not ((gold["all_padding/idx"] >= 0) & (gold["all_padding/idx"] < 2)).all()
    with pytest.raises(ValueError, match="padding only"):
        fs.maxpool1d(np.ones((1, 2)), 2, 1, 1, 3)


def _check_softmax_family(gold):
    for dt in ("float64", "float32"):
        x = gold["sm_x"].astype(dt)
        g = gold["sm_g"].astype(dt)
        for dim in (-1, 0):
            label = f"{dt} axis={dim}"
            y = fs.softmax(x, axis=dim)
            np.testing.assert_allclose(y, gold[f"softmax/{dt}/{dim}/y"], err_msg=label, **TOL[dt])
            np.testing.assert_allclose(fs.softmax_backward(g, y, axis=dim), gold[f"softmax/{dt}/{dim}/dx"],
                                       err_msg=label, **GRAD_TOL[dt])
            ly = fs.log_softmax(x, axis=dim)
            # torch's x - m - log(s) loses the digits of results near 0 that our log1p
            # finish keeps: compare to a few ulps of the inputs' scale
            scale = 8 * np.finfo(dt).eps * np.max(np.abs(x[np.isfinite(x)]))
            np.testing.assert_allclose(ly, gold[f"log_softmax/{dt}/{dim}/y"], err_msg=label,
                                       rtol=TOL[dt]["rtol"], atol=scale)
            np.testing.assert_allclose(fs.log_softmax_backward(g, ly, axis=dim),
                                       gold[f"log_softmax/{dt}/{dim}/dx"], err_msg=label, **GRAD_TOL[dt])
            lse = fs.logsumexp(x, axis=dim)
            np.testing.assert_allclose(lse, gold[f"logsumexp/{dt}/{dim}/y"], err_msg=label, **TOL[dt])
            dx = fs.logsumexp_backward(gold[f"logsumexp/{dt}/{dim}/g"], x, lse, axis=dim)
            np.testing.assert_allclose(dx, gold[f"logsumexp/{dt}/{dim}/dx"], err_msg=label, **GRAD_TOL[dt])


def _check_elementwise(gold):
    x, y, g = gold["ew_x"], gold["ew_y"], gold["ew_g"]
    exact = np.testing.assert_array_equal
    exact(fs.relu_backward(g, x), gold["relu/dx"])  # 0 at x = 0, as torch
    exact(fs.abs_backward(g, x), gold["abs/dx"])  # sign(0) = 0
    np.testing.assert_allclose(fs.sigmoid(x), gold["sigmoid/y"], rtol=1e-15)
    np.testing.assert_allclose(fs.sigmoid_backward(g, x), gold["sigmoid/dx"], rtol=1e-13)
    np.testing.assert_allclose(fs.softplus(x), gold["softplus/y"], rtol=1e-15)
    np.testing.assert_allclose(fs.softplus_backward(g, x), gold["softplus/dx"], rtol=1e-13)
    for name in ("maximum", "minimum"):
        exact(getattr(fs, name)(x, y), gold[f"{name}/y"])
        gx, gy = getattr(fs, f"{name}_backward")(g, x, y)  # ties split evenly, as torch
        exact(gx, gold[f"{name}/dx"])
        exact(gy, gold[f"{name}/dy"])
    ties = gold["ew_ties"]
    np.testing.assert_allclose(fs.max_backward(np.ones(6), ties), gold["amax/dx"], rtol=1e-15)
    np.testing.assert_allclose(fs.min_backward(np.ones(6), ties), gold["amin/dx"], rtol=1e-15)
    np.testing.assert_allclose(fs.l1_loss(x, y), gold["l1_loss/y"], rtol=1e-15)
    exact(fs.l1_loss_backward(1.0, x, y), gold["l1_loss/dx"])


CHECKS = [_check_pooling, _check_softmax_family, _check_elementwise]


@pytest.fixture(scope="module")
def stored():
    return golden.load()


def test_the_golden_file_records_torch_and_its_inputs(stored):
    assert str(stored["torch_version"])[0].isdigit()
    fresh = golden.inputs()
    for k, v in fresh.items():  # the inputs are stored, and are what the generator makes
        np.testing.assert_array_equal(stored[k], v, err_msg=k)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__[len("_check_"):])
def test_against_stored_torch_answers(stored, check):
    check(stored)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__[len("_check_"):])
def test_against_live_torch(check):
    pytest.importorskip("torch")
    check(golden.compute())
