"""Every peer in the benchmark table computes what fastsmooth computes, so the benchmarks
compare like with like."""

import numpy as np
import pytest

from fastsmooth._peers import CASES, available_libraries


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
