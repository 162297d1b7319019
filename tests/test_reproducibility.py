"""The reproducibility contract: for a given input on a given machine, every public
function returns bitwise the same result for any thread count, for the serial and the
parallel twin of its kernel, and for any plan of tasks the kernels can be given -- and
float32 backward passes keep their digits where the difference cancels.

Equality here is exact (``assert_array_equal``), never a tolerance: a result that moves
by one ulp when the thread count changes is the defect these tests exist to catch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _config, _elementwise, _losses, _pooling, _reductions, _schedules
from fastsmooth._rowops import CHUNK

from .helpers import rng

ROOT = Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def _equal(got, want, label):
    for g, w in zip(_outputs(got), _outputs(want)):
        np.testing.assert_array_equal(g, w, err_msg=label, strict=True)


# ------------------------------------------------------------------- thread counts


def _digests(threads):
    """The digests of a new process with ``threads`` Numba threads, sharing this
    process's Numba cache (``NUMBA_CACHE_DIR`` if set, else the checkout's
    ``__pycache__``)."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "tests.repro_digest"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["threads"] == threads
    return report["digests"]


@pytest.fixture(scope="module")
def in_process():
    """``{threads: digests}`` of this process, with Numba's thread count set to 1 (every
    serial twin) and left as it is (the parallel twins, on a machine of several cores)."""
    from . import repro_digest

    before = _config.numba.get_num_threads()
    got = {before: repro_digest.digests()}
    if before > 1:
        try:
            _config.numba.set_num_threads(1)
            got[1] = repro_digest.digests()
        finally:
            _config.numba.set_num_threads(before)
    return got


def test_processes_with_1_2_3_and_8_threads_give_the_same_sha256_for_every_output(in_process):
    """``NUMBA_NUM_THREADS=1`` runs every serial twin; 2, 3 and 8 the parallel twins on
    as many threads (more threads than cores is allowed, and changes nothing).

    Compiling and loading: the digests of this process come first, so every kernel
    they use is compiled here or was loaded here from Numba's cache; the new processes
    share that cache and load them. On a fresh clone (CI) this process compiles
    them, so the processes that load a kernel are compared with the one that compiled
    it. A compiling process runs the helpers' own libraries where a loading one runs
    the kernel's copies of them, so this also checks that no helper's flags let LLVM's
    second optimization of a copy change its rounding (``reassoc`` with ``nsz``: see
    docs/guide/reproducibility.md). (Compiling everything again in an empty cache
    directory, twice, cost 3 of CI's 20 minutes.)"""
    base = next(iter(in_process.values()))
    assert len(base) > 150
    runs = {f"{n} in this process": got for n, got in in_process.items()}
    runs.update({f"{n} (new process)": _digests(n) for n in (1, 2, 3, 8)})
    for label, got in runs.items():
        differ = sorted(k for k in base if got[k] != base[k])
        assert not differ, f"NUMBA_NUM_THREADS={label} changes the bits of {differ}"


def test_numba_set_num_threads_in_process_changes_nothing(in_process):
    if len(in_process) < 2:
        pytest.skip("one thread only")
    one, many = in_process[1], in_process[max(in_process)]
    assert one == many


# ------------------------------------------------------------------- forced plans

#: plans the reductions can be handed: (pieces, piece) as functions of the row length
PLANS = {
    "whole rows": lambda n: (1, max(n, 1)),
    "pieces of one chunk": lambda n: (-(-n // CHUNK), CHUNK),
    "pieces of three chunks": lambda n: (-(-n // (3 * CHUNK)), 3 * CHUNK),
    "three uneven pieces (rounded to chunks)": lambda n: (3, -(-n // 3)),
    "pieces of 2048 (rounded to a chunk)": lambda n: (-(-n // 2048), 2048),
}


def _reduction_calls(x, g):
    n = x.shape[0]
    lse = fs.logsumexp(x, temperature=0.5)
    y = fs.softmax(x)
    ly = fs.log_softmax(x)
    ones = np.ones(n, x.dtype)
    return {
        "logsumexp": lambda: fs.logsumexp(x, temperature=0.5),
        "logsumexp_backward": lambda: fs.logsumexp_backward(ones, x, lse, temperature=0.5),
        "softmax": lambda: fs.softmax(x),
        "softmax_backward": lambda: fs.softmax_backward(g, y, temperature=0.5),
        "log_softmax": lambda: fs.log_softmax(x),
        "log_softmax_backward": lambda: fs.log_softmax_backward(g, ly),
        "soft_argmax": lambda: fs.soft_argmax(x, temperature=2.0),
        "soft_argmax_backward": lambda: fs.soft_argmax_backward(ones, x),
        "straight_through_hardmax": lambda: fs.straight_through_hardmax(x),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 70_001), (3, 40_000), (5, 3 * CHUNK)])
def test_every_plan_of_the_reductions_gives_the_same_bits(monkeypatch, dtype, shape):
    x = (3.0 * rng(1).standard_normal(shape)).astype(dtype)
    x[0, 12345] = 9.0  # a maximum inside a chunk, away from piece edges
    g = rng(2).standard_normal(shape).astype(dtype)
    monkeypatch.setattr(_reductions, "use_parallel", lambda size: False)
    monkeypatch.setattr(_schedules, "use_parallel", lambda size: False)
    calls = _reduction_calls(x, g)
    want = {name: call() for name, call in calls.items()}
    for parallel in (False, True):
        monkeypatch.setattr(_reductions, "use_parallel", lambda size, p=parallel: p)
        monkeypatch.setattr(_schedules, "use_parallel", lambda size, p=parallel: p)
        for label, plan in PLANS.items():
            monkeypatch.setattr(_schedules, "_plan", lambda n_rows, n, par, plan=plan: plan(n))
            for name, call in _reduction_calls(x, g).items():
                _equal(call(), want[name], f"{name}, {label}, parallel={parallel}")


def test_the_plan_never_reads_the_thread_count(monkeypatch):
    def refuse():
        raise AssertionError("a plan asked for the thread count")

    monkeypatch.setattr(_config.numba, "get_num_threads", refuse)
    monkeypatch.setattr(_config, "num_threads", refuse)
    for n_rows, n in [(1, 10**6), (2, 70_001), (64, 10**5), (1000, 100)]:
        assert _schedules._plan(n_rows, n, True) == _schedules._plan(n_rows, n, True)
    for planes, rows in [(1, 500), (3, 100), (100, 10)]:
        assert _pooling._bands(planes, rows, True) >= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_band_plan_of_the_pooling_kernels_gives_the_same_bits(monkeypatch, dtype):
    x = rng(3).standard_normal((1, 2, 97, 61)).astype(dtype)
    x[0, 0, 10:14, 10:14] = 1.5  # ties
    x[0, 1, 3, 3] = np.nan

    def run():
        y, idx = fs.maxpool2d(x, 3, stride=2, padding=1, ceil_mode=True)
        y1, i1 = fs.maxpool1d(x[0], 4, stride=3, dilation=2)
        g = np.ones_like(y)
        return [y, idx, fs.maxpool2d_backward(g, idx, x.shape), fs.maxunpool2d(y, idx, x.shape[-2:]),
                y1, i1, fs.maxpool1d_backward(np.ones_like(y1), i1, x[0].shape)]

    monkeypatch.setattr(_pooling, "use_parallel", lambda size: False)
    want = run()
    for parallel in (False, True):
        monkeypatch.setattr(_pooling, "use_parallel", lambda size, p=parallel: p)
        for bands in (1, 2, 5, 97, 10**6):
            monkeypatch.setattr(_pooling, "_bands", lambda planes, rows, par, b=bands: min(b, max(rows, 1)))
            for k, (got, w) in enumerate(zip(run(), want)):
                np.testing.assert_array_equal(got, w, err_msg=f"output {k}, {bands} bands, parallel={parallel}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_serial_and_parallel_elementwise_and_loss_kernels_give_the_same_bits(monkeypatch, dtype):
    x = (4.0 * rng(4).standard_normal(3 * 16384 + 77)).astype(dtype)
    y = (4.0 * rng(5).standard_normal(x.shape)).astype(dtype)
    t = rng(6).random(x.shape) > 0.5
    zk = x[: 10 * (x.size // 10)].reshape(-1, 10)
    lab = rng(7).integers(0, 10, zk.shape[0])
    calls = {
        "relu_backward": lambda: fs.relu_backward(y, x, at_zero=0.5),
        "l1_loss": lambda: fs.l1_loss(x, y),
        "smooth_maximum_backward": lambda: fs.smooth_maximum_backward(y, x, y),
        "sigmoid": lambda: fs.sigmoid(x, temperature=0.3),
        "max_backward": lambda: fs.max_backward(np.ones(10, dtype), zk, axis=0),
        "soft_fbeta_loss_backward": lambda: fs.soft_fbeta_loss_backward(1.0, x, t),
        "soft_confusion": lambda: tuple(fs.soft_confusion(zk, zk > 0)),
        "softmax_fbeta_loss_backward": lambda: fs.softmax_fbeta_loss_backward(1.0, zk, lab),
    }
    results = []
    for parallel in (False, True):
        for mod in (_elementwise, _losses):
            monkeypatch.setattr(mod, "use_parallel", lambda size, p=parallel: p)
        results.append({name: call() for name, call in calls.items()})
    for name in calls:
        _equal(results[1][name], results[0][name], name)


def test_a_row_reduced_whole_or_in_pieces_adds_in_the_same_order():
    """The fixed order itself: a long row gives the bits of the same row in a batch of
    many rows (which is never cut into pieces)."""
    long = rng(8).standard_normal((1, 5 * CHUNK + 3))
    batch = np.repeat(long, 70, axis=0)  # >= SPLIT_ROWS rows: whole rows, in parallel
    for f in (fs.logsumexp, fs.soft_argmax, fs.log_softmax, fs.softmax):
        np.testing.assert_array_equal(f(long)[0], f(batch)[69], err_msg=f.__name__)


# ------------------------------------------------------- float32 backward accuracy

#: Bound of the float32 backward passes against float64 from the same saved output, in
#: ulps (float32 eps) of the result's scale ``|p| (|g| + sum |g p|) / tau``: the sums
#: are taken in float64 and the difference rounded once, so 1 ulp of the result plus
#: float64 noise. The same on every vector width.
BACKWARD_ULPS = 1.0


def _ulps(got, want, scale):
    eps = np.finfo(np.float32).eps
    return np.max(np.abs(got.astype(np.float64) - want) / (eps * scale + np.finfo(np.float32).tiny))


@pytest.mark.parametrize("shape", [(7, 13), (3, 5000), (2, 70_001), (4000, 6)])
def test_float32_backward_passes_are_within_one_ulp_of_float64_from_the_same_saved_output(shape):
    tau = 0.7
    x = (3.0 * rng(9).standard_normal(shape)).astype(np.float32)
    g = rng(10).standard_normal(shape).astype(np.float32)
    g[:, 0] += 5.0  # make the difference cancel in part
    y = fs.softmax(x, temperature=tau)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    dot = np.sum(g64 * y64, axis=-1, keepdims=True)
    want = y64 * (g64 - dot) / tau
    scale = np.abs(y64) * (np.abs(g64) + np.sum(np.abs(g64 * y64), axis=-1, keepdims=True)) / tau
    assert _ulps(fs.softmax_backward(g, y, temperature=tau), want, scale) <= BACKWARD_ULPS

    ly = fs.log_softmax(x, temperature=tau)
    e = np.exp(ly.astype(np.float64))
    gs = np.sum(g64, axis=-1, keepdims=True)
    want = (g64 - e * gs) / tau
    # exp(ly) is taken in float32 (1 ulp of it), the rest in float64
    scale = (np.abs(g64) + e * np.abs(gs)) / tau
    assert _ulps(fs.log_softmax_backward(g, ly, temperature=tau), want, scale) <= 2 * BACKWARD_ULPS


# ---------------------------------------------------------- regression tests (issue 10)


def test_no_threading_layer_pooling_and_info_work(tmp_path):
    """Defect 1: NUMBA_THREADING_LAYER=tbb without TBB: pooling ran numba.get_num_threads()
    and raised; `fastsmooth info` printed a traceback."""
    code = (
        "import warnings, numpy as np, fastsmooth as fs\n"
        "warnings.simplefilter('ignore')\n"
        "x = np.random.default_rng(0).standard_normal((1, 2, 300, 300))\n"
        "y, i = fs.maxpool2d(x, 2)\n"
        "fs.maxpool2d_backward(y, i, x.shape); fs.maxunpool2d(y, i, (300, 300))\n"
        "y1, i1 = fs.maxpool1d(x[0], 3); fs.maxpool1d_backward(y1, i1, x[0].shape)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, NUMBA_THREADING_LAYER="tbb")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    try:
        import tbb  # noqa: F401
        pytest.skip("TBB is installed here")
    except ImportError:
        pass
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "fastsmooth", "info"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "threads: 1" in proc.stdout


@pytest.mark.parametrize("dtype,tau,want", [
    (np.float32, 1e-6, [0.5, 0.5, 0.0]),
    (np.float64, 1e-17, [0.5, 0.5, 0.0]),
])
def test_logsumexp_backward_at_tiny_temperatures(dtype, tau, want):
    """Defect 2: the rounding of the saved `out`, divided by tau, was the gradient."""
    x = np.array([10.0, 10.0, 5.0] if dtype is np.float32 else [1.0, 1.0, 0.0], dtype)
    out = fs.logsumexp(x, temperature=tau)
    dx = fs.logsumexp_backward(dtype(1.0), x, out, temperature=tau)
    np.testing.assert_allclose(dx, want, rtol=4 * np.finfo(dtype).eps, atol=0)
    # an `out` that is not this row's LogSumExp (the total of a larger batch) is used as given
    other = np.asarray(out + 1.0, dtype)
    np.testing.assert_allclose(fs.logsumexp_backward(1.0, x, other, temperature=1.0),
                               np.exp((x.astype(np.float64) - np.float64(other))), rtol=1e-6)


def test_logsumexp_backward_trusts_out_at_ordinary_scales():
    x = rng(11).standard_normal((50, 30))
    out = fs.logsumexp(x)
    np.testing.assert_allclose(fs.logsumexp_backward(np.ones(50), x, out), fs.softmax(x), rtol=1e-14)
    big = x + 1000.0  # |out| / tau > 16: taken again from x, same answer
    np.testing.assert_allclose(fs.logsumexp_backward(np.ones(50), big, fs.logsumexp(big)), fs.softmax(x),
                               rtol=1e-12)


def test_float32_precision_loss_backward_keeps_tiny_gradients():
    """Defect 3: a = dL/dp(t=0) and b - a rounded apart cancelled to exact zeros."""
    z = np.array([3.0] * 10 + [-20.0] * 2)
    t = np.array([1] * 10 + [0] * 2)
    want = fs.soft_precision_loss_backward(1.0, z, t)
    got = fs.soft_precision_loss_backward(1.0, z.astype(np.float32), t)
    assert np.all(got[:10] != 0)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    zk = np.stack([z, -z], axis=1)
    tk = np.stack([t, 1 - t], axis=1)
    want = fs.softmax_fbeta_loss_backward(1.0, zk, tk)
    # within 1 ulp of the gradient's scale (the float32 softmax of [-20, 20] is itself
    # 1 ulp from 1 at the winner, which the exact float64 gradient does not see)
    np.testing.assert_allclose(fs.softmax_fbeta_loss_backward(1.0, zk.astype(np.float32), tk), want,
                               rtol=1e-4, atol=np.finfo(np.float32).eps * np.abs(want).max())


BIG_ENDIAN = {">f4": np.float32, ">f2": np.float16, ">f8": np.float64}


@pytest.mark.parametrize("code", sorted(BIG_ENDIAN))
def test_big_endian_inputs_map_like_native_ones(code):
    """Defect 4: '>f4' and '>f2' came back float64 from 36 public functions."""
    from .test_api import CALLS, NOT_FLOAT_OUTPUTS

    native = BIG_ENDIAN[code]
    for name, (build, kwargs) in CALLS.items():
        if name in NOT_FLOAT_OUTPUTS:
            continue
        x = rng(12).standard_normal((2, 3, 5) if "2d" in name else (3, 5))
        args = [a.astype(code) if isinstance(a, np.ndarray) and a.shape == x.shape and a.dtype.kind == "f"
                else a for a in build(x)]
        want = [a.astype(native) if isinstance(a, np.ndarray) and a.dtype.str == np.dtype(code).str else a
                for a in args]
        for got, ref in zip(_outputs(getattr(fs, name)(*args, **kwargs)),
                            _outputs(getattr(fs, name)(*want, **kwargs))):
            assert got.dtype == ref.dtype, f"{name}: {code} -> {got.dtype}, native gives {ref.dtype}"
            np.testing.assert_array_equal(got, ref, err_msg=name)


def test_l1_loss_backward_none_keeps_float16():
    """Defect 5."""
    x = np.array([1.0, -2.0, 0.0], np.float16)
    got = fs.l1_loss_backward(np.ones(3, np.float16), x, np.zeros(3, np.float16), reduction="none")
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, [1.0, -1.0, 0.0])


@pytest.mark.parametrize("dtype,big", [(np.float32, 3e38), (np.float64, 1.7e308)])
def test_log_softmax_when_x_minus_max_overflows(dtype, big):
    """Defect 6: x - max overflowed although (x - max) / tau does not."""
    for n in (2, 100, 70_001):
        x = np.full(n, -big, dtype)
        x[n // 2] = big
        y = fs.log_softmax(x, temperature=10.0)
        want = -big / 10.0 - big / 10.0
        assert y[n // 2] == 0
        np.testing.assert_allclose(np.delete(y, n // 2), want, rtol=1e-6)


@pytest.mark.parametrize("name", ["soft_fbeta_loss", "soft_precision_loss", "soft_recall_loss",
                                  "soft_accuracy_loss"])
def test_subnormal_eps_never_gives_nan(name):
    """Defect 7: eps = 1e-310 warned `invalid value` and gave nan gradients."""
    z = np.array([-np.inf, -np.inf, -np.inf])
    t = np.array([0, 0, 0])
    loss = getattr(fs, name)(z, t, eps=1e-310)
    g = getattr(fs, f"{name}_backward")(1.0, z, t, eps=1e-310)
    assert np.isfinite(loss) and np.all(g == 0)
    z2 = np.array([-np.inf, 2.0, -1.0])
    assert np.all(np.isfinite(getattr(fs, f"{name}_backward")(1.0, z2, t, eps=1e-310)))


def test_l1_loss_mean_of_huge_errors_and_float16_sums():
    """Defect 8: the sum overflowed (with a warning) although the mean does not; float16
    totals warned on the cast."""
    assert fs.l1_loss(np.array([1.7e308, 1.7e308]), np.zeros(2)) == 1.7e308
    assert fs.l1_loss(np.array([1.7e308, 1.7e308]), np.zeros(2), reduction="sum") == np.inf
    total = fs.l1_loss(np.full(1000, 600.0, np.float16), np.zeros(1000, np.float16), reduction="sum")
    assert total.dtype == np.float16 and total == np.inf


def test_no_casting_warning_leaves_the_library():
    """Defect 9 (pytest turns every warning into an error)."""
    f32 = np.ones(3, np.float32)
    huge = np.full(3, 1e300)
    fs.relu_backward(huge, f32)
    fs.sigmoid_backward(huge, f32)
    fs.maximum_backward(huge, f32, f32 * 0)
    fs.softmax_backward(huge, f32 / 3)
    fs.logsumexp_backward(np.full(1, 1e300), f32, np.float32(2.0))
    fs.logsumexp(np.full(3, 65504.0, np.float16))
    fs.softmax(np.array([np.inf, 0.0], np.float16))
    f16 = np.array([60000.0, -60000.0], np.float16)
    assert fs.l1_loss(f16, np.zeros(2, np.float16), reduction="sum") == np.inf  # float16 total overflows
    assert fs.smooth_maximum(f16, f16).dtype == np.float16


def test_from_counts_of_any_class_shape():
    """Defect 10: a class shape of (2, 3) was refused."""
    z = rng(13).standard_normal((6, 2, 3))
    t = rng(14).random(z.shape) > 0.5
    acc = fs.FbetaAccumulator(average="macro")
    acc.update(z, t)
    again = fs.FbetaAccumulator.from_counts(acc.counts, acc.n_samples, average="macro")
    assert again.loss() == acc.loss()
    np.testing.assert_array_equal(again.backward(z, t), acc.backward(z, t))


def test_dask_fbeta_backward_declares_the_dtype_it_computes():
    """Defect 11: float16 logits declared float64 and computed float16."""
    da = pytest.importorskip("dask.array")
    import fastsmooth.dask as fsd

    z = np.linspace(-2, 2, 10)
    t = np.arange(10) % 3 == 0
    for dt in (np.float16, np.float32, np.float64, np.int64, np.bool_):
        g = fsd.soft_fbeta_loss_backward(1.0, da.from_array(z.astype(dt), chunks=4), da.from_array(t, chunks=4))
        assert g.compute().dtype == g.dtype, dt


def test_disabled_jit_fails_at_import_saying_so():
    """Defect 12: NUMBA_DISABLE_JIT=1 imported, then failed in a kernel with a TypeError."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", "import fastsmooth"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "NUMBA_DISABLE_JIT" in proc.stderr and "ImportError" in proc.stderr


@pytest.mark.parametrize("call", [
    lambda v: fs.softmax(v), lambda v: fs.logsumexp(v), lambda v: fs.relu(v),
    lambda v: fs.maxpool1d(v, 2), lambda v: fs.soft_fbeta_loss(v, v),
])
def test_ragged_lists_name_the_argument(call):
    """Defect 13: NumPy's message did not name the argument."""
    with pytest.raises(ValueError, match=r"`(x|logits)` must be an array or a rectangular"):
        call([[1.0, 2.0], [3.0]])


# ------------------------------------------------------------- memory alignment


def _at(a, offset):
    """A copy of ``a`` whose data starts ``offset`` elements into a fresh buffer (so at
    another alignment modulo the cache line and the vector width)."""
    buf = np.empty(a.size + 16, a.dtype)
    view = buf[offset:offset + a.size].reshape(a.shape)
    view[...] = a
    return view


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_the_alignment_of_inputs_and_outputs(dtype):
    """Found by the thread-count digests: a loop that stored ``exp`` and summed it let
    LLVM peel iterations to align the stores, so the parallel softmax of a process whose
    allocator returned another alignment differed in the last bit."""
    x = (3.0 * rng(20).standard_normal((64, 4099))).astype(dtype)
    g = rng(21).standard_normal(x.shape).astype(dtype)
    inv_t = _reductions._inv_t(1.0, x.dtype)
    want = np.empty_like(x)
    _reductions._softmax_rows(x, 1, x.shape[1], inv_t, want, parallel=False)
    for parallel in (False, True):
        for xo in (0, 1, 3, 4):
            for yo in (0, 1, 2, 4, 8):
                y = _at(np.zeros_like(x), yo)
                _reductions._softmax_rows(_at(x, xo), 1, x.shape[1], inv_t, y, parallel=parallel)
                np.testing.assert_array_equal(y, want, err_msg=f"x +{xo}, y +{yo}, parallel={parallel}")
    calls = {
        "softmax": lambda a, b: fs.softmax(a),
        "log_softmax": lambda a, b: fs.log_softmax(a),
        "logsumexp": lambda a, b: fs.logsumexp(a),
        "softmax_backward": lambda a, b: fs.softmax_backward(b, fs.softmax(a)),
        "sparsemax": lambda a, b: fs.sparsemax(a),
        "sigmoid": lambda a, b: fs.sigmoid(a, out=_at(np.zeros_like(a), 3)),
        "softmax_fbeta_loss_backward": lambda a, b: fs.softmax_fbeta_loss_backward(1.0, a, np.arange(64) % 7),
    }
    for name, call in calls.items():
        base = call(x, g)
        for off in (1, 2, 4, 5):
            _equal(call(_at(x, off), _at(g, off)), base, f"{name}, inputs +{off} elements")
