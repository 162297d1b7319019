"""Every peer in the benchmark table computes what fastsmooth computes, so the benchmarks
compare like with like."""

import numpy as np
import pytest

from fastsmooth._peers import (ALL_CASES, CASES, COLUMNS, FAMILIES, LOSS_CASES, available, available_libraries, columns,
                              family_of, ops_of, shapes_for)


def _arrays(result):
    """A result as a list of NumPy arrays (tuples are (values, indices), (gx, gy), ...)."""
    parts = result if isinstance(result, tuple) else (result,)
    return [p.detach().numpy() if hasattr(p, "detach") else np.asarray(p) for p in parts]


#: (op, dtype) of every case of the table but the losses, in the dtypes it runs in
PARAMS = [(op, dt) for op, case in ALL_CASES.items() if op not in LOSS_CASES for dt in case.dtypes]


@pytest.mark.parametrize("op,dtype", PARAMS, ids=[f"{op}-{dt}" for op, dt in PARAMS])
def test_peers_agree(op, dtype):
    """Every column of the table computes what fastsmooth computes on its family's test
    shape: values, indices and gradients, shapes and dtypes (a column laid out otherwise
    through the case's ``compare``), within the case's tolerance; peers that are not
    installed are skipped (CI has none of torch, ONNX Runtime, JAX, entmax, hmmlearn,
    tslearn)."""
    case = ALL_CASES[op]
    if not case.runnable():
        pytest.skip(f"{op} needs {', '.join(case.requires)}")
    data = case.make(family_of(op).test_shape, np.dtype(dtype), np.random.default_rng(2))
    want = _arrays(case.impls["fastsmooth"](data)())
    assert case.nbytes(data) >= sum(w.nbytes for w in want) or op.startswith(("soft_dtw", "hmm", "viterbi"))
    assert "numpy" in case.impls, op  # every case has its plain NumPy column
    rtol, atol = case.tol.get(dtype, (2e-5, 1e-6) if dtype == "float32" else (1e-12, 1e-14))
    cols = columns(op, data)
    assert "numpy" in cols and cols[0] == "fastsmooth"
    for lib in cols[1:]:
        result = case.impls[lib](data)()
        if lib in case.compare:
            result = case.compare[lib](result, data)
        got = _arrays(result)
        # JAX's max-pool gives the values only (no indices)
        assert len(got) == len(want) or (lib == "jax" and len(got) == 1), lib
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype, (lib, g.shape, g.dtype, w.shape, w.dtype)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=lib)


@pytest.mark.parametrize("op", sorted(LOSS_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_peers_agree(op, dtype):
    """Every implementation of the loss benchmark returns the same (loss, gradient)."""
    case = LOSS_CASES[op]
    for shape in [(300, 7)] + [(500,)] * (op != "softmax_fbeta"):
        data = case.make(shape, np.dtype(dtype), np.random.default_rng(1))
        want_loss, want_grad = case.impls["fastsmooth"](data)()
        assert want_grad.dtype == dtype and want_grad.shape == data["x"].shape
        assert case.nbytes(data) >= 2 * data["x"].nbytes
        tol = dict(rtol=2e-5, atol=1e-6 * np.abs(want_grad).max()) if dtype == np.float32 else \
            dict(rtol=1e-10, atol=1e-17)
        for lib in case.impls:
            if not available(lib):
                continue
            loss, grad = _arrays(case.impls[lib](data)())
            np.testing.assert_allclose(float(loss), float(want_loss), rtol=tol["rtol"], err_msg=f"{lib} {shape}")
            np.testing.assert_allclose(grad, want_grad, **tol, err_msg=f"{lib} {shape}")


def test_every_family_of_the_registry_is_in_the_table():
    """The table has cases for every op family of the registry, and each case names the
    registered ops it times."""
    from fastsmooth import _registry

    timed = {op for name in ALL_CASES for op in ops_of(name)}
    assert set(timed) <= set(_registry.OPS)
    for fam, ops in _registry.FAMILIES.items():
        assert timed & set(ops), fam
    assert {"reductions", "sparsemax", "losses", "pooling", "elementwise", "semiring", "hmm", "dtw", "dask"} \
        <= set(FAMILIES)


def test_columns_know_their_library():
    from fastsmooth._peers import library_of

    assert library_of("hmmlearn-log") == "hmmlearn" and library_of("exp-matmul") == "numpy"
    assert library_of("fastsmooth-acc") == "fastsmooth" and library_of("torch") == "torch"
    for case in ALL_CASES.values():
        for col in case.impls:
            assert col.startswith("fastsmooth") or col in COLUMNS, col
    # a missing library drops its columns, never the case
    assert columns("hmm_forward_backward", libraries=["fastsmooth", "numpy"]) == ["fastsmooth", "numpy"]
    # a slow peer is left out above its size limit
    big = ALL_CASES["hmm_forward_backward"].make((10_000, 256), np.dtype("float64"), np.random.default_rng(0))
    assert "hmmlearn-log" not in columns("hmm_forward_backward", big, ["fastsmooth", "numpy", "hmmlearn"])
    assert "hmmlearn-scaling" in columns("hmm_forward_backward", big, ["fastsmooth", "numpy", "hmmlearn"])


def test_every_op_has_a_family_and_shapes():
    assert list(ALL_CASES) == [op for fam in FAMILIES.values() for op in fam.cases]
    for op in ALL_CASES:
        fam = family_of(op)
        assert fam.quick_dtype in ("float32", "float64")
        for quick in (False, True):
            assert shapes_for(op, quick), op
            sweep = [int(np.prod(s)) for s in shapes_for(op, quick, sweep=True)]
            assert len(sweep) >= 2 and sweep == sorted(sweep), op  # several sizes, growing
        # --quick is smaller than the full run
        assert max(map(np.prod, shapes_for(op, True))) < max(map(np.prod, shapes_for(op, False))), op


@pytest.mark.parametrize("lib", ["onnxruntime", "jax"])
def test_new_peers_are_in_the_table(lib):
    """ONNX Runtime and JAX run LogSumExp, softmax, log-softmax (last axis and axis 0) and
    max-pooling, when installed; when not, they are reported as missing (the note
    under the tables), never an error."""
    from fastsmooth import _peers

    for op in ("logsumexp", "softmax", "log_softmax", "logsumexp_axis0", "softmax_axis0", "log_softmax_axis0",
               "maxpool2d"):
        assert lib in ALL_CASES[op].impls, op
    assert (lib in available_libraries()) != (lib in _peers.missing_libraries())


def test_onnxruntime_threads(monkeypatch):
    """ONNX Runtime sessions get the peers' thread count (intra-op), one inter-op thread."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from fastsmooth import _peers

    monkeypatch.setenv("PEER_THREADS", "1")
    assert _peers.peer_threads() == 1
    sess = _peers._ort_session("Softmax", np.float64, 2, 2, (("axis", -1),))
    opts = sess.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    x = np.random.default_rng(0).standard_normal((3, 5))
    import fastsmooth as fs

    np.testing.assert_allclose(sess.run(None, {"x": x})[0], fs.softmax(x), rtol=1e-13, atol=0)


def test_floor_cells_never_show_more_than_100_percent_without_a_reason():
    from fastsmooth._bench import floor_cells

    ms, pct, cache = floor_cells({"fastsmooth": 1e-3}, {"floor": 2e-3, "floor_out_of_cache": 2.1e-3})
    assert pct == "200% (noisy floor)" and cache == "memory"
    assert floor_cells({"fastsmooth": 1e-3}, {"floor": 2e-3, "floor_out_of_cache": 4e-3})[1:] == \
        ["200% (in cache)", "in cache"]
    assert floor_cells({"fastsmooth": 1e-5}, {"floor": 2e-5})[1] == "200% (launch-bound floor)"
    assert floor_cells({"fastsmooth": 2e-3}, {"floor": 1e-3})[1] == "50%"
    assert floor_cells({"fastsmooth": 2e-3}, {}) == ["-", "-", "-"]


def test_floor_moves_the_bytes_of_the_case():
    """The memory floor of an op copies what it writes and sums the rest of what it reads;
    a LogSumExp (output far smaller than the input) is a sum only."""
    from fastsmooth._bench import Floor

    for op, read, write in [("softmax", 924, 924), ("logsumexp", 924, 28), ("softmax_backward", 1848, 924)]:
        case = CASES[op]
        data = case.make((7, 33), np.dtype(np.float32), np.random.default_rng(0))
        assert case.traffic(data) == (read, write), op
        f = Floor(*case.traffic(data), data["x"].size)
        assert f.parallel is False  # a small case runs the serial twin, as the op's kernel
        if op == "logsumexp":
            assert (f.copy_bytes, f.sum_bytes) == (0, 924)
        else:
            assert f.copy_bytes == 924 and f.sum_bytes == case.traffic(data)[0] - 924
        f()


def test_exp_loop_sums_as_many_exponentials_as_the_input_holds():
    """From its cache-resident window: every chunk of the input is one chunk of the window."""
    from fastsmooth._peers import EXP_CHUNK, EXP_WINDOW, exp_floor

    x = np.random.default_rng(0).standard_normal((3, 20_000))
    flat = x.reshape(-1)
    window = np.resize(flat[:EXP_WINDOW], EXP_WINDOW + EXP_CHUNK)
    want = [np.exp(window[(c * EXP_CHUNK) % EXP_WINDOW:][:min(EXP_CHUNK, flat.size - c * EXP_CHUNK)]).sum()
            for c in range(-(-flat.size // EXP_CHUNK))]
    np.testing.assert_allclose(exp_floor(x), want, rtol=1e-12, atol=0)
    y = np.arange(5.0)[None]
    np.testing.assert_allclose(exp_floor(y), [np.exp(y).sum()], rtol=1e-13, atol=0)
