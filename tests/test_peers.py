"""Every peer in the benchmark table computes what fastsmooth computes, so the benchmarks
compare like with like."""

import numpy as np
import pytest

from fastsmooth._peers import CASES, LOSS_CASES, available_libraries


@pytest.mark.parametrize("op", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peers_agree(op, dtype):
    case = CASES[op]
    data = case.make((7, 33), np.dtype(dtype), np.random.default_rng(0))
    want = np.asarray(case.impls["fastsmooth"](data)())
    assert case.nbytes(data) >= data["x"].nbytes
    libs = [lib for lib in case.impls if lib in available_libraries()]
    assert "numpy" in libs
    for lib in libs:
        got = case.impls[lib](data)()
        got = got.numpy() if hasattr(got, "numpy") else np.asarray(got)
        assert got.shape == want.shape, lib
        np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == np.float32 else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-14, err_msg=lib)


@pytest.mark.parametrize("op", sorted(LOSS_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_peers_agree(op, dtype):
    """Every implementation of the loss benchmark returns the same (loss, gradient)."""
    case = LOSS_CASES[op]
    for shape in [(300, 7)] + [(500,)] * (op == "soft_fbeta"):
        data = case.make(shape, np.dtype(dtype), np.random.default_rng(1))
        want_loss, want_grad = case.impls["fastsmooth"](data)()
        assert want_grad.dtype == dtype and want_grad.shape == data["x"].shape
        assert case.nbytes(data) >= 2 * data["x"].nbytes
        tol = dict(rtol=2e-5, atol=1e-6 * np.abs(want_grad).max()) if dtype == np.float32 else \
            dict(rtol=1e-10, atol=1e-17)
        for lib in case.impls:
            if lib == "torch" and "torch" not in available_libraries():
                continue
            loss, grad = case.impls[lib](data)()
            grad = grad.numpy() if hasattr(grad, "numpy") else np.asarray(grad)
            np.testing.assert_allclose(float(loss), float(want_loss), rtol=tol["rtol"], err_msg=f"{lib} {shape}")
            np.testing.assert_allclose(grad, want_grad, **tol, err_msg=f"{lib} {shape}")
