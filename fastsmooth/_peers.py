"""The comparison table behind the benchmarks: for each op, how fastsmooth and its peers
(plain NumPy, SciPy, PyTorch on CPU, ONNX Runtime's CPU provider, JAX/XLA on CPU, entmax,
hmmlearn, tslearn, Dask) compute the same thing.

One table drives ``bench/`` (``bench/bench_<module>.py``, pytest-benchmark, and
``bench/min_times.py``), the ``fastsmooth bench`` command and a test
(``tests/test_peers.py``) that checks every peer returns what fastsmooth returns -- so a
benchmark always times exactly what a test has checked. No other file defines a column.

The cases come in families (:data:`FAMILIES`), one per op module: the reductions of the
core with the weighted LogSumExp (:data:`CASES`), sparsemax (:data:`SPARSEMAX_CASES`),
the losses (:data:`LOSS_CASES`), max-pooling (:data:`POOL_CASES`), the element-wise
family (:data:`ELEMENTWISE_CASES`), the semiring products (:data:`SEMIRING_CASES`), the
HMM recursions (:data:`HMM_CASES`), soft-DTW (:data:`DTW_CASES`) and LogSumExp of a
chunked Dask array (:data:`DASK_CASES`); :data:`ALL_CASES` holds them all, each naming
the registered ops it times (:func:`ops_of`). A family
says which shapes ``fastsmooth bench`` runs (the issue's shapes, smaller ones for
``--quick``, and a sweep of sizes of one layout for ``--plot``) and in which dtype
``--quick`` runs it.

Each :class:`Case` builds its inputs once (``make``), knows how many bytes the op must
move at least (``nbytes``, for GB/s), and maps each library to a ``prepare(data)``
function that returns a zero-argument callable to time; conversions (NumPy to torch)
happen in ``prepare``, outside the timing. Peers whose library is not installed are left
out (:func:`missing_libraries` says which, for the note under a table; :func:`columns`
gives the columns that run). The "numpy" column is what a user writes today: max-shifted
NumPy in the input's dtype, the materialized formula, the plain recursion.

Threads of the peers (:func:`peer_threads`): ``PEER_THREADS`` in the environment, else
what :func:`set_peer_threads` set (``fastsmooth bench --threads``), else Numba's thread
count -- the peers run with as many threads as fastsmooth's kernels. torch takes it by
``torch.set_num_threads``, ONNX Runtime by ``intra_op_num_threads`` (``inter_op`` 1,
sequential execution, intra-op spinning off: its spinning pool would hold the cores the
next library's call needs), JAX only when it is 1 and only before JAX is first imported
(``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``; XLA
has no other thread setting).

ONNX Runtime runs one-node graphs (``Softmax``, ``LogSoftmax``, ``ReduceLogSumExp``,
``MaxPool``, opset 18) built with the ``onnx`` package; JAX runs ``jax.jit`` of
``jax.nn.softmax`` etc. with ``jax_enable_x64`` on (float64 stays float64) and returns
``np.asarray`` of the result: NumPy in, NumPy out, as for every peer.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

import fastsmooth as fs

__all__ = ["Case", "Family", "CASES", "SHAPES", "SPARSEMAX_CASES", "POOL_CASES", "ELEMENTWISE_CASES", "LOSS_CASES",
           "LOSS_SHAPES", "SEMIRING_CASES", "HMM_CASES", "DTW_CASES", "DASK_CASES", "ALL_CASES", "FAMILIES",
           "OPTIONAL_PEERS", "COLUMNS", "available", "available_libraries", "library_of", "missing_libraries",
           "family_of", "shapes_for", "columns", "ops_of", "peer_threads", "set_peer_threads", "peer_versions",
           "floor_impls"]

#: the shapes of the core benchmark (issue 2)
SHAPES = [(4096, 4096), (1, 16_000_000), (1_000_000, 8), (64, 1000)]


#: the optional peers and the modules each needs (``pip install fastsmooth[bench]``; torch,
#: entmax, hmmlearn and tslearn by hand)
OPTIONAL_PEERS = {"scipy": ("scipy",), "torch": ("torch",), "onnxruntime": ("onnxruntime", "onnx"),
                  "jax": ("jax", "jaxlib"), "entmax": ("entmax", "torch"), "hmmlearn": ("hmmlearn",),
                  "tslearn": ("tslearn",), "dask": ("dask",)}


def _installed(lib):
    return all(importlib.util.find_spec(mod) is not None for mod in OPTIONAL_PEERS[lib])


def library_of(column):
    """The library a column of the table needs: the column itself, or what comes before
    its first ``-`` (``"hmmlearn-log"`` needs hmmlearn, ``"fastsmooth-acc"`` fastsmooth);
    a NumPy-written variant (``"exp-matmul"``) needs NumPy only."""
    if column in OPTIONAL_PEERS or column in ("fastsmooth", "numpy"):
        return column
    head = column.split("-", 1)[0]
    return head if head in OPTIONAL_PEERS or head == "fastsmooth" else "numpy"


def available_libraries():
    """fastsmooth, numpy and the optional peers that are installed, in column order."""
    return ["fastsmooth", "numpy"] + [lib for lib in OPTIONAL_PEERS if _installed(lib)]


def available(column, libraries=None):
    """Whether a column of the table can run: its library (:func:`library_of`) is
    installed (or one of ``libraries``, when given)."""
    return library_of(column) in (libraries if libraries is not None else available_libraries())


def missing_libraries():
    """The optional peers that are not installed (their columns are skipped)."""
    return [lib for lib in OPTIONAL_PEERS if not _installed(lib)]


def peer_versions():
    """Versions of the installed optional peers (imports them)."""
    out = {}
    for lib in OPTIONAL_PEERS:
        if _installed(lib):
            try:
                out[lib] = __import__(lib).__version__
            except Exception:  # noqa: BLE001 - a peer that fails to import is left out
                pass
    return out


_peer_threads = None  # set by set_peer_threads
_torch_threads = None  # what torch was last given


def peer_threads():
    """Threads each peer runs with: ``PEER_THREADS``, else :func:`set_peer_threads`, else
    Numba's thread count (as many as fastsmooth's kernels use)."""
    env = os.environ.get("PEER_THREADS")
    if env:
        return int(env)
    if _peer_threads is not None:
        return _peer_threads
    from ._config import num_threads

    return num_threads()


def set_peer_threads(n):
    """Give the peers ``n`` threads (None: back to the default of :func:`peer_threads`)."""
    global _peer_threads
    _peer_threads = n
    if "torch" in sys.modules:
        _torch()


@dataclass
class Case:
    """One benchmark case: ``make(shape, dtype, rng)`` builds the inputs, ``nbytes(data)``
    is the least number of bytes the op must move, ``impls`` maps a column (a library, or
    a variant such as ``"hmmlearn-log"``: see :func:`library_of`) to ``prepare(data) ->
    callable``. ``shapes``/``quick_shapes``, when given, replace the family's table shapes
    for this case. ``compare`` maps a column whose result is laid out otherwise to
    ``f(result, data)``, the result as fastsmooth lays it out (for the tests only; the
    benchmark times the library's own result).

    ``ops`` names the registered ops (:mod:`._registry`) the case times (default: the
    case's own name); ``dtypes`` the dtypes it runs in (default both); ``tol`` maps a
    dtype to the ``(rtol, atol)`` of the agreement check; ``elements(data)`` is the size
    that picks the floor's threads (default ``data["x"].size``); ``limits`` maps a column
    to the largest input (``elements``) it is timed on (slow peers); ``requires`` lists
    modules without which the case is skipped (fastsmooth's own column needs them)."""

    make: Callable[[tuple, np.dtype, np.random.Generator], dict]
    nbytes: Callable[[dict], int]
    impls: dict = field(default_factory=dict)
    shapes: tuple | None = None
    quick_shapes: tuple | None = None
    compare: dict = field(default_factory=dict)
    #: bytes of ``nbytes`` that are written (the outputs); the rest is read
    writes: Callable[[dict], int] | None = None
    ops: tuple | None = None
    dtypes: tuple = ("float64", "float32")
    tol: dict = field(default_factory=dict)
    elements: Callable[[dict], int] | None = None
    limits: dict = field(default_factory=dict)
    requires: tuple = ()

    def traffic(self, data):
        """``(read, written)`` bytes the op must move at least."""
        total = self.nbytes(data)
        w = self.writes(data) if self.writes is not None else 0
        return total - w, w

    def n_elements(self, data):
        """The size of the case's input (what picks the threads of its floor)."""
        return int(self.elements(data)) if self.elements is not None else int(data["x"].size)

    def runnable(self):
        """Whether the modules the case needs (``requires``) are installed."""
        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)


def _normal(shape, dtype, rng):
    return rng.standard_normal(shape, dtype=np.float64).astype(dtype)


def _x(shape, dtype, rng):
    return {"x": _normal(shape, dtype, rng)}


def _grad_y(shape, dtype, rng):
    x = _normal(shape, dtype, rng)
    return {"x": x, "g": _normal(shape, dtype, rng), "y": fs.softmax(x), "logy": fs.log_softmax(x)}


def _grad_out(shape, dtype, rng):
    x = _normal(shape, dtype, rng)
    return {"x": x, "out": fs.logsumexp(x), "g": _normal(shape[:-1], dtype, rng)}


def _x_bytes(d):
    return d["x"].nbytes


def _row_bytes(d):
    return d["x"].nbytes // max(d["x"].shape[-1], 1)


def _torch():
    global _torch_threads
    import torch

    n = peer_threads()
    if n != _torch_threads:
        torch.set_num_threads(n)
        _torch_threads = n
    return torch


def jax_threads():
    """How JAX was (or will be) told its threads: "1" or "all cores" (XLA's default)."""
    flags = os.environ.get("XLA_FLAGS", "")
    return "1" if "intra_op_parallelism_threads=1" in flags else "all cores"


def _jax():
    if "jax" not in sys.modules and peer_threads() == 1 and "intra_op_parallelism_threads" not in os.environ.get(
            "XLA_FLAGS", ""):
        # XLA's CPU thread pool is sized when JAX starts, from these flags only
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 in, float64 out
    return jax


_JITTED = {}


def _jax_fn(key, make):
    """``jax.jit(make(jax))``, once per key; returns ``f(numpy array) -> numpy array``."""
    if key not in _JITTED:
        jax = _jax()
        _JITTED[key] = jax.jit(make(jax))
    f = _JITTED[key]
    return lambda *arrays: np.asarray(f(*arrays))


def _jax_call(key, make, *arrays):
    """A callable to time: the jitted function on NumPy inputs, NumPy out; compiled and
    run once here (warm before timing)."""
    fn = _jax_fn((key,) + tuple((a.shape, a.dtype.str) for a in arrays), make)
    fn(*arrays)
    return partial(fn, *arrays)


_SESSIONS = {}


def _ort_session(op, dtype, ndim, out_ndim, attrs=(), consts=(), n_out=1):
    """An ONNX Runtime session of a one-node graph ``op`` (opset 18) on a ``dtype`` input
    of rank ``ndim`` (any shape): CPUExecutionProvider, :func:`peer_threads` intra-op
    threads, one inter-op thread, sequential. ``consts`` are extra constant inputs
    (name, array); a second output, when ``n_out == 2``, is int64 (MaxPool's indices)."""
    threads = peer_threads()
    key = (op, np.dtype(dtype).str, ndim, attrs, tuple((n, a.tobytes()) for n, a in consts), n_out, threads)
    if key in _SESSIONS:
        return _SESSIONS[key]
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    et = TensorProto.FLOAT if np.dtype(dtype) == np.float32 else TensorProto.DOUBLE
    x = helper.make_tensor_value_info("x", et, [None] * ndim)
    outs = [helper.make_tensor_value_info(f"y{i}", et if i == 0 else TensorProto.INT64, [None] * out_ndim)
            for i in range(n_out)]
    node = helper.make_node(op, ["x"] + [name for name, _ in consts], [o.name for o in outs], **dict(attrs))
    graph = helper.make_graph([node], op, [x], outs, initializer=[numpy_helper.from_array(a, n) for n, a in consts])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no spinning: ONNX Runtime's idle pool threads spin for the next call and hold the
    # cores that the next library's call in the interleaved rounds needs (measured on a
    # 2-core machine, log-softmax (4096, 4096) float32, two threads: fastsmooth 7.5 ms
    # with ORT's spinning off, 10-12 ms with it on; ORT itself 9.7 against 11.9 ms)
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    _SESSIONS[key] = sess
    return sess


def _ort_call(sess, x, first_only=True):
    """A callable to time: ``sess.run`` on ``x``, NumPy out (the first output, or all);
    run once here (warm before timing)."""
    def call():
        out = sess.run(None, {"x": x})
        return out[0] if first_only else tuple(out)

    call()
    return call


def _ort_softmax(op, axis):
    return lambda d: _ort_call(_ort_session(op, d["x"].dtype, d["x"].ndim, d["x"].ndim, (("axis", axis),)),
                               np.ascontiguousarray(d["x"]))


def _ort_logsumexp(axis):
    return lambda d: _ort_call(_ort_session("ReduceLogSumExp", d["x"].dtype, d["x"].ndim, d["x"].ndim - 1,
                                            (("keepdims", 0),), (("axes", np.array([axis], np.int64)),)),
                               np.ascontiguousarray(d["x"]))


def _t(a):
    return _torch().from_numpy(np.ascontiguousarray(a))


# plain NumPy, as users write it -------------------------------------------------------


def np_logsumexp(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return np.log(np.exp(x - m).sum(axis=axis)) + np.squeeze(m, axis)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_logsumexp_backward(g, x, out):
    return g[..., None] * np.exp(x - out[..., None])


def np_softmax_backward(g, y):
    return y * (g - (g * y).sum(axis=-1, keepdims=True))


def np_log_softmax_backward(g, logy):
    return g - np.exp(logy) * g.sum(axis=-1, keepdims=True)


def _torch_logsumexp_backward(g, x, out):
    """What torch's autograd formula for logsumexp computes."""
    return g.unsqueeze(-1) * (x - out.unsqueeze(-1)).exp()


def _scipy_special():
    import scipy.special

    return scipy.special


def _jax_lse(axis):
    return lambda jax: (lambda a: jax.scipy.special.logsumexp(a, axis=axis))


def _jax_softmax(name, axis):
    return lambda jax: (lambda a: getattr(jax.nn, name)(a, axis=axis))


def _row_bytes_axis(axis):
    """Bytes of the reduced output of one array ``x`` reduced along ``axis``."""
    return lambda d: d["x"].nbytes // max(d["x"].shape[axis], 1)


def _forward_cases(axis, suffix="", **shapes):
    """LogSumExp / softmax / log-softmax along ``axis`` (of a C-ordered input), every peer."""
    out_bytes = _row_bytes_axis(axis)
    cases = {
        "logsumexp" + suffix: Case(
            _x,
            lambda d: d["x"].nbytes + out_bytes(d),
            writes=out_bytes,
            impls={
                "fastsmooth": lambda d: partial(fs.logsumexp, d["x"], axis),
                "scipy": lambda d: partial(_scipy_special().logsumexp, d["x"], axis=axis),
                "numpy": lambda d: partial(np_logsumexp, d["x"], axis),
                "torch": lambda d: partial(_torch().logsumexp, _t(d["x"]), axis),
                "onnxruntime": _ort_logsumexp(axis),
                "jax": lambda d: _jax_call(("logsumexp", axis), _jax_lse(axis), d["x"]),
            },
            **shapes,
        ),
        "softmax" + suffix: Case(
            _x,
            lambda d: 2 * d["x"].nbytes,
            writes=_x_bytes,
            impls={
                "fastsmooth": lambda d: partial(fs.softmax, d["x"], axis),
                "scipy": lambda d: partial(_scipy_special().softmax, d["x"], axis=axis),
                "numpy": lambda d: partial(np_softmax, d["x"], axis),
                "torch": lambda d: partial(_torch().softmax, _t(d["x"]), axis),
                "onnxruntime": _ort_softmax("Softmax", axis),
                "jax": lambda d: _jax_call(("softmax", axis), _jax_softmax("softmax", axis), d["x"]),
            },
            **shapes,
        ),
        "log_softmax" + suffix: Case(
            _x,
            lambda d: 2 * d["x"].nbytes,
            writes=_x_bytes,
            impls={
                "fastsmooth": lambda d: partial(fs.log_softmax, d["x"], axis),
                "scipy": lambda d: partial(_scipy_special().log_softmax, d["x"], axis=axis),
                "numpy": lambda d: partial(np_log_softmax, d["x"], axis),
                "torch": lambda d: partial(_torch().log_softmax, _t(d["x"]), axis),
                "onnxruntime": _ort_softmax("LogSoftmax", axis),
                "jax": lambda d: _jax_call(("log_softmax", axis), _jax_softmax("log_softmax", axis), d["x"]),
            },
            **shapes,
        ),
    }
    for name, case in cases.items():
        case.ops = (name.removesuffix(suffix),)
    return cases


def _weighted(shape, dtype, rng):
    """``x`` ~ N(0, 1) and positive weights ``b`` (SciPy's ``logsumexp(x, b=b)``)."""
    return {"x": _normal(shape, dtype, rng), "b": rng.random(shape).astype(dtype)}


def np_weighted_logsumexp(x, b, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return np.log(np.sum(b * np.exp(x - m), axis=axis)) + np.squeeze(m, axis)


#: the reduced axis is the outer one of a C-ordered (4096, 4096): columns, not rows (issue 13)
AXIS0_SHAPES = ((4096, 4096),)

CASES: dict[str, Case] = {
    **_forward_cases(-1),
    "logsumexp_backward": Case(
        _grad_out,
        lambda d: 2 * d["x"].nbytes + 2 * _row_bytes(d),
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.logsumexp_backward, d["g"], d["x"], d["out"]),
            "numpy": lambda d: partial(np_logsumexp_backward, d["g"], d["x"], d["out"]),
            "torch": lambda d: partial(_torch_logsumexp_backward, _t(d["g"]), _t(d["x"]), _t(d["out"])),
        },
    ),
    "softmax_backward": Case(
        _grad_y,
        lambda d: 3 * d["x"].nbytes,
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.softmax_backward, d["g"], d["y"]),
            "numpy": lambda d: partial(np_softmax_backward, d["g"], d["y"]),
            "torch": lambda d: partial(_torch().ops.aten._softmax_backward_data, _t(d["g"]), _t(d["y"]), -1,
                                       _t(d["y"]).dtype),
        },
    ),
    "log_softmax_backward": Case(
        _grad_y,
        lambda d: 3 * d["x"].nbytes,
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.log_softmax_backward, d["g"], d["logy"]),
            "numpy": lambda d: partial(np_log_softmax_backward, d["g"], d["logy"]),
            "torch": lambda d: partial(_torch().ops.aten._log_softmax_backward_data, _t(d["g"]), _t(d["logy"]),
                                       -1, _t(d["logy"]).dtype),
        },
    ),
    **_forward_cases(0, "_axis0", shapes=AXIS0_SHAPES, quick_shapes=((1024, 1024),)),
    # weighted LogSumExp (``b=``, issue 14): SciPy's drop-in
    "logsumexp_b": Case(
        _weighted,
        lambda d: 2 * d["x"].nbytes + _row_bytes(d),
        writes=_row_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.logsumexp, d["x"], -1, b=d["b"]),
            "scipy": lambda d: partial(_scipy_special().logsumexp, d["x"], axis=-1, b=d["b"]),
            "numpy": lambda d: partial(np_weighted_logsumexp, d["x"], d["b"]),
        },
        shapes=((4096, 4096), (1_000_000, 8)),
        quick_shapes=((1024, 1024),),
        ops=("logsumexp",),
    ),
}


# Floors: not peers but what the op cannot beat -------------------------------------------


#: elements of one task of the exp-only loop
EXP_CHUNK = 8192
#: elements the exp-only loop reads, over and over: 128 KiB of float64, in L2
EXP_WINDOW = 1 << 14


def _exp_floor_kernel():
    """A kernel that only sums exp over as many elements as the input holds, with the same
    exp and flags as the LogSumExp kernel and fixed chunks of :data:`EXP_CHUNK` (so one
    long row uses every thread too), reading the first :data:`EXP_WINDOW` elements over
    and over: from cache, so that it is the compute floor of the forward ops, not a
    second memory floor (out of cache, a loop with this much work per byte and no
    prefetch runs at memory latency here, 3x slower than fastsmooth's LogSumExp)."""
    from numba import prange
    from numba import uint64 as U

    from ._config import REDUCTION_FASTMATH, kernel
    from ._exp import exp

    @kernel(fastmath=REDUCTION_FASTMATH)
    def exp_chunk_sums(window, n, out):
        for c in prange(out.shape[0]):
            t = window.dtype.type(0.0)
            lo = (c * EXP_CHUNK) % EXP_WINDOW
            for i in range(U(lo), U(lo + min(EXP_CHUNK, n - c * EXP_CHUNK))):
                t += exp(window[i])
            out[c] = t

    return exp_chunk_sums


_FLOOR = {}


def exp_floor(x):
    """Chunk sums of exp over ``x.size`` elements read from the first
    :data:`EXP_WINDOW` of ``x`` (C-contiguous) again and again; parallel like the real
    kernels (:func:`._config.use_parallel` of ``x.size``)."""
    from ._config import use_parallel

    if "k" not in _FLOOR:
        _FLOOR["k"] = _exp_floor_kernel()
    flat = x.reshape(-1)
    window = np.ascontiguousarray(np.resize(flat[:EXP_WINDOW], EXP_WINDOW + EXP_CHUNK)) if flat.size else flat
    out = np.empty(-(-flat.size // EXP_CHUNK), x.dtype)
    _FLOOR["k"](window, flat.size, out, parallel=use_parallel(x.size))
    return out


def memory_floor(case):
    """``prepare(data)`` of the memory floor of ``case`` (:class:`._bench.Floor`): a copy
    of the bytes it writes and a sum of the other bytes it reads, same threads, same sizes."""
    def prepare(d):
        from ._bench import Floor

        return Floor(*case.traffic(d), case.n_elements(d))

    return prepare


def _exp_loop(d):
    return partial(exp_floor, np.ascontiguousarray(d["x"]))


# Soft metric losses (issue 4) -------------------------------------------------------------
# One forward + backward of the loss per call: what a training step needs. Every
# implementation returns (loss, d loss / d logits).

#: the shapes of the loss benchmark: binary (N,) and multi-label (N, K); multi-class (N, K)
LOSS_SHAPES = {"soft_fbeta": [(1_000_000,), (100_000, 100)], "softmax_fbeta": [(100_000, 100)],
               "l1_loss": [(100_000, 100)]}


def _logits_targets(shape, dtype, rng):
    """Logits ~ N(0, 1) and 0/1 targets (10 % positives) in the logits' dtype."""
    return {"x": _normal(shape, dtype, rng), "t": (rng.random(shape) < 0.1).astype(dtype)}


def _logits_labels(shape, dtype, rng):
    return {"x": _normal(shape, dtype, rng), "labels": rng.integers(0, shape[1], shape[0])}


def np_soft_fbeta_loss_and_grad(x, t, beta=1.0, eps=1e-7):
    """Soft F-beta (micro) and its gradient as a user writes them in NumPy today: one
    sigmoid shared by the forward and the backward, the chain rule by hand."""
    with np.errstate(over="ignore"):
        p = 1 / (1 + np.exp(-x))
    tp, fp, fn = (p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum()
    b2 = beta * beta
    a = (1 + b2) * tp
    d = a + b2 * fn + fp + eps
    dtp, dfp, dfn = -(1 + b2) * (d - a) / d**2, a / d**2, b2 * a / d**2
    return 1 - a / d, p * (1 - p) * (dfp + t * (dtp - dfn - dfp))


def np_softmax_fbeta_loss_and_grad(x, labels, beta=1.0, eps=1e-7):
    """Macro soft F-beta of softmax probabilities against class ids, and its gradient."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    y = np.zeros_like(p)
    y[np.arange(len(labels)), labels] = 1
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    b2 = beta * beta
    a = (1 + b2) * tp
    d = a + b2 * fn + fp + eps
    k = x.shape[1]
    dtp, dfp, dfn = -(1 + b2) * (d - a) / d**2 / k, a / d**2 / k, b2 * a / d**2 / k
    g = dfp + y * (dtp - dfn - dfp)
    return np.mean(1 - a / d), p * (g - (g * p).sum(axis=1, keepdims=True))


def _torch_soft_fbeta_loss_and_grad(x, t, beta=1.0, eps=1e-7):
    """The same with torch autograd (CPU): forward, then ``loss.backward()``."""
    x = x.detach().requires_grad_(True)
    p = _torch().sigmoid(x)
    tp, fp, fn = (p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum()
    b2 = beta * beta
    loss = 1 - (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + eps)
    loss.backward()
    return loss.detach(), x.grad


def _torch_softmax_fbeta_loss_and_grad(x, labels, beta=1.0, eps=1e-7):
    torch = _torch()
    x = x.detach().requires_grad_(True)
    p = torch.softmax(x, 1)
    y = torch.nn.functional.one_hot(labels, x.shape[1]).to(x.dtype)
    tp, fp, fn = (p * y).sum(0), (p * (1 - y)).sum(0), ((1 - p) * y).sum(0)
    b2 = beta * beta
    loss = (1 - (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp + eps)).mean()
    loss.backward()
    return loss.detach(), x.grad


def _pred_target(shape, dtype, rng):
    """Predictions and targets ~ N(0, 1) (the L1 loss)."""
    return {"x": _normal(shape, dtype, rng), "t": _normal(shape, dtype, rng)}


def np_l1_loss_and_grad(x, t):
    """The mean absolute error and its gradient (sign / n; 0 where x == t, as torch)."""
    d = x - t
    return np.abs(d).mean(), np.sign(d) / d.dtype.type(max(d.size, 1))


def _torch_l1_loss_and_grad(x, t):
    x = x.detach().requires_grad_(True)
    loss = _torch().nn.functional.l1_loss(x, t)
    loss.backward()
    return loss.detach(), x.grad


def fs_loss_and_grad(loss, backward, x, t):
    """fastsmooth's two calls: the forward, then the backward (which counts again)."""
    return loss(x, t), backward(1.0, x, t)


def fs_accumulator_loss_and_grad(x, t, activation="sigmoid", average="micro"):
    """The same through FbetaAccumulator: one counting pass, one gradient pass."""
    acc = fs.FbetaAccumulator(average=average, activation=activation).update(x, t)
    return acc.loss(), acc.backward(x, t)


LOSS_CASES: dict[str, Case] = {
    "soft_fbeta": Case(
        _logits_targets,
        lambda d: 2 * d["x"].nbytes + d["t"].nbytes,
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs_loss_and_grad, fs.soft_fbeta_loss, fs.soft_fbeta_loss_backward,
                                            d["x"], d["t"]),
            "fastsmooth-acc": lambda d: partial(fs_accumulator_loss_and_grad, d["x"], d["t"]),
            "numpy": lambda d: partial(np_soft_fbeta_loss_and_grad, d["x"], d["t"]),
            "torch": lambda d: partial(_torch_soft_fbeta_loss_and_grad, _t(d["x"]), _t(d["t"])),
        },
        shapes=tuple(LOSS_SHAPES["soft_fbeta"]),
        quick_shapes=((100_000,), (10_000, 100)),
        ops=("soft_fbeta_loss", "soft_fbeta_loss_backward"),
    ),
    "softmax_fbeta": Case(
        _logits_labels,
        lambda d: 2 * d["x"].nbytes + d["labels"].nbytes,
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs_loss_and_grad, fs.softmax_fbeta_loss, fs.softmax_fbeta_loss_backward,
                                            d["x"], d["labels"]),
            "fastsmooth-acc": lambda d: partial(fs_accumulator_loss_and_grad, d["x"], d["labels"],
                                                activation="softmax", average="macro"),
            "numpy": lambda d: partial(np_softmax_fbeta_loss_and_grad, d["x"], d["labels"]),
            "torch": lambda d: partial(_torch_softmax_fbeta_loss_and_grad, _t(d["x"]), _t(d["labels"])),
        },
        shapes=tuple(LOSS_SHAPES["softmax_fbeta"]),
        quick_shapes=((10_000, 100),),
        ops=("softmax_fbeta_loss", "softmax_fbeta_loss_backward"),
    ),
    "l1_loss": Case(
        _pred_target,
        lambda d: 3 * d["x"].nbytes,
        writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs_loss_and_grad, fs.l1_loss, fs.l1_loss_backward, d["x"], d["t"]),
            "numpy": lambda d: partial(np_l1_loss_and_grad, d["x"], d["t"]),
            "torch": lambda d: partial(_torch_l1_loss_and_grad, _t(d["x"]), _t(d["t"])),
        },
        shapes=tuple(LOSS_SHAPES["l1_loss"]),
        quick_shapes=((10_000, 100),),
        ops=("l1_loss", "l1_loss_backward"),
    ),
}


# Max-pooling (issue 3) -------------------------------------------------------------------
# The ResNet stem's pooling: kernel 3, stride 2, padding 1, on (N, C, H, W); and kernel 2,
# stride 2, padding 1 (the cases ending in ``_k2``: windows that do not overlap).

POOL = (3, 2, 1)  # kernel_size, stride, padding
POOL_K2 = (2, 2, 1)


def _pool_maker(pool):
    def make(shape, dtype, rng):
        x = _normal(shape, dtype, rng)
        y, idx = fs.maxpool2d(x, *pool)
        return {"x": x, "y": y, "idx": idx, "g": _normal(y.shape, dtype, rng)}

    return make



def np_maxpool2d(x, kernel_size, stride, padding):
    """Max-pooling with indices as a NumPy user writes it: pad with -inf, view every
    window with ``sliding_window_view``, take the argmax of each window (the first of
    ties, as torch) and turn it into a flat index in the plane."""
    k, s, p = kernel_size, stride, padding
    h, w = x.shape[-2:]
    xp = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)], constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(-2, -1))[..., ::s, ::s, :, :]
    flat = win.reshape(win.shape[:-2] + (k * k,))
    j = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, j[..., None], -1)[..., 0]
    oh, ow = y.shape[-2:]
    rows = (np.arange(oh) * s - p)[:, None] + j // k
    cols = (np.arange(ow) * s - p)[None, :] + j % k
    return y, (rows * w + cols).astype(np.int64)


def np_maxpool2d_backward(g, idx, input_shape):
    """The scatter-add of the gradient to the saved positions, with ``np.bincount``
    over (plane, position) keys (overlapping windows add up)."""
    h, w = input_shape[-2:]
    planes = int(np.prod(input_shape[:-2]))
    keys = idx.reshape(planes, -1) + (np.arange(planes) * (h * w))[:, None]
    dx = np.bincount(keys.ravel(), weights=g.ravel(), minlength=planes * h * w)
    return dx.astype(g.dtype).reshape(input_shape)


def _torch_maxpool2d_backward(g, x, idx, pool=POOL):
    k, s, p = pool
    return _torch().ops.aten.max_pool2d_with_indices_backward(g, x, [k, k], [s, s], [p, p], [1, 1], False, idx)


def _ort_maxpool(d, pool=POOL):
    k, s, p = pool
    sess = _ort_session("MaxPool", d["x"].dtype, 4, 4, (("kernel_shape", (k, k)), ("strides", (s, s)),
                                                        ("pads", (p, p, p, p))), n_out=2)
    return _ort_call(sess, np.ascontiguousarray(d["x"]), first_only=False)


def _ort_plane_indices(result, d):
    """ONNX MaxPool's indices count over the whole (N, C, H, W) tensor; ours per plane."""
    y, idx = result
    return y, idx % (d["x"].shape[-1] * d["x"].shape[-2])


def _jax_maxpool(jax, pool=POOL):
    k, s, p = pool
    lax = jax.lax
    return lambda a: lax.reduce_window(a, -np.inf, lax.max, (1, 1, k, k), (1, 1, s, s),
                                       ((0, 0), (0, 0), (p, p), (p, p)))


def _pool_cases(pool, suffix=""):
    """``maxpool2d`` and ``maxpool2d_backward`` for one geometry ``(kernel, stride, padding)``."""
    make = _pool_maker(pool)
    ops = {"maxpool2d" + suffix: ("maxpool2d",), "maxpool2d_backward" + suffix: ("maxpool2d_backward",)}
    names = list(ops)
    return {
        names[0]: Case(
            make,
            lambda d: d["x"].nbytes + d["y"].nbytes + d["idx"].nbytes,
            writes=lambda d: d["y"].nbytes + d["idx"].nbytes,
            impls={
                "fastsmooth": lambda d: partial(fs.maxpool2d, d["x"], *pool),
                "numpy": lambda d: partial(np_maxpool2d, d["x"], *pool),
                "torch": lambda d: partial(_torch().nn.functional.max_pool2d, _t(d["x"]), *pool,
                                           return_indices=True),
                "onnxruntime": partial(_ort_maxpool, pool=pool),
                # values only: XLA has no max-pool with indices (it moves fewer bytes than the others)
                "jax": lambda d: _jax_call(("maxpool2d", pool), partial(_jax_maxpool, pool=pool), d["x"]),
            },
            compare={"onnxruntime": _ort_plane_indices},
            ops=ops[names[0]],
        ),
        names[1]: Case(
            make,
            lambda d: d["g"].nbytes + d["idx"].nbytes + d["x"].nbytes,
            writes=_x_bytes,
            impls={
                "fastsmooth": lambda d: partial(fs.maxpool2d_backward, d["g"], d["idx"], d["x"].shape),
                "numpy": lambda d: partial(np_maxpool2d_backward, d["g"], d["idx"], d["x"].shape),
                "torch": lambda d: partial(_torch_maxpool2d_backward, _t(d["g"]), _t(d["x"]), _t(d["idx"]), pool),
            },
            ops=ops[names[1]],
        ),
    }


POOL_CASES: dict[str, Case] = {**_pool_cases(POOL), **_pool_cases(POOL_K2, "_k2")}


# Element-wise (issue 3) ------------------------------------------------------------------
# "numpy" is the stable expression a user writes, in the input's dtype.


def _xy_grad(shape, dtype, rng):
    return {"x": 4 * _normal(shape, dtype, rng), "y": 4 * _normal(shape, dtype, rng), "g": _normal(shape, dtype, rng)}


def np_sigmoid(x):
    """The stable logistic function: exp of -|x| only, so nothing overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_sigmoid_backward(g, x):
    s = np_sigmoid(x)
    return g * s * (1 - s)


def np_softplus(x):
    return np.logaddexp(x.dtype.type(0), x)


def np_smooth_abs(x):
    """``2 log((e^(x/2) + e^(-x/2)) / 2)`` through ``logaddexp`` (no overflow)."""
    h = x / x.dtype.type(2)
    return x.dtype.type(2) * (np.logaddexp(h, -h) - x.dtype.type(np.log(2.0)))


def np_maximum_backward(g, x, y):
    """The gradient of ``maximum`` to ``x`` and ``y``, ties shared half and half."""
    half = g / 2
    zero = g.dtype.type(0)
    return np.where(x > y, g, np.where(x == y, half, zero)), np.where(y > x, g, np.where(x == y, half, zero))


def _torch_sigmoid_backward(d):
    """torch's backward takes the saved output: the forward runs here, outside the timing."""
    torch = _torch()
    return partial(torch.ops.aten.sigmoid_backward, _t(d["g"]), torch.sigmoid(_t(d["x"])))


def _elementwise(n_arrays, fs_fn, np_fn, torch_fn=None, scipy_fn=None, args=("x",), torch_prepare=None):
    impls = {
        "fastsmooth": lambda d: partial(fs_fn, *(d[a] for a in args)),
        "numpy": lambda d: partial(np_fn, *(d[a] for a in args)),
    }
    if scipy_fn is not None:
        impls["scipy"] = lambda d: partial(scipy_fn(), *(d[a] for a in args))
    if torch_fn is not None:
        impls["torch"] = lambda d: partial(torch_fn(), *(_t(d[a]) for a in args))
    if torch_prepare is not None:
        impls["torch"] = torch_prepare
    writes = _x_bytes if n_arrays < 5 else (lambda d: 2 * d["x"].nbytes)
    return Case(_xy_grad, lambda d: n_arrays * d["x"].nbytes, impls, writes=writes)


def _scipy_sigmoid_backward():
    expit = _scipy_special().expit
    return lambda g, x: g * expit(x) * expit(-x)


ELEMENTWISE_CASES: dict[str, Case] = {
    "relu": _elementwise(2, fs.relu, lambda x: np.maximum(x, x.dtype.type(0)), lambda: _torch().relu),
    "relu_backward": _elementwise(
        3, fs.relu_backward, lambda g, x: np.where(x > 0, g, g.dtype.type(0)),
        lambda: partial(_torch().ops.aten.threshold_backward, threshold=0), args=("g", "x")),
    "sigmoid": _elementwise(2, fs.sigmoid, np_sigmoid, lambda: _torch().sigmoid,
                            lambda: _scipy_special().expit),
    "sigmoid_backward": _elementwise(3, fs.sigmoid_backward, np_sigmoid_backward, scipy_fn=_scipy_sigmoid_backward,
                                     args=("g", "x"), torch_prepare=_torch_sigmoid_backward),
    "softplus": _elementwise(2, fs.softplus, np_softplus, lambda: _torch().nn.functional.softplus),
    "smooth_abs": _elementwise(2, fs.smooth_abs, np_smooth_abs),
    "smooth_maximum": _elementwise(3, fs.smooth_maximum, np.logaddexp, lambda: _torch().logaddexp,
                                   args=("x", "y")),
    "maximum_backward": _elementwise(5, fs.maximum_backward, np_maximum_backward, args=("g", "x", "y")),
}


# sparsemax (issue 11's worked example) ----------------------------------------------------


def _sparse_data(shape, dtype, rng):
    x = (2 * _normal(shape, dtype, rng)).astype(dtype)
    return {"x": x, "y": fs.sparsemax(x), "g": _normal(shape, dtype, rng)}


def np_sparsemax(z):
    """Sort-based sparsemax along the last axis (Martins & Astudillo 2016, Algorithm 1), as
    a NumPy user writes it."""
    z = z - z.max(axis=-1, keepdims=True)
    srt = -np.sort(-z, axis=-1)
    cs = np.cumsum(srt, axis=-1) - 1
    k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    kk = np.count_nonzero(srt * k > cs, axis=-1)[..., None]
    theta = np.take_along_axis(cs, kk - 1, -1) / kk.astype(z.dtype)
    return np.maximum(z - theta, z.dtype.type(0))


def np_sparsemax_backward(g, y):
    on = y > 0
    mean = np.where(on, g, 0).sum(-1, keepdims=True) / on.sum(-1, keepdims=True).astype(g.dtype)
    return np.where(on, g - mean, g.dtype.type(0))


def _entmax_sparsemax(d):
    from entmax import sparsemax

    return partial(sparsemax, _t(d["x"]), dim=-1)


def _entmax_sparsemax_backward(d):
    """``torch.autograd.grad`` of entmax's saved graph: its forward is not timed again."""
    from entmax import sparsemax

    torch = _torch()
    x = _t(d["x"]).clone().requires_grad_(True)
    y = sparsemax(x, dim=-1)
    g = _t(d["g"])
    return lambda: torch.autograd.grad(y, x, g, retain_graph=True)[0]


SPARSEMAX_CASES: dict[str, Case] = {
    "sparsemax": Case(
        _sparse_data, lambda d: 2 * d["x"].nbytes, writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.sparsemax, d["x"]),
            "numpy": lambda d: partial(np_sparsemax, d["x"]),
            "entmax": _entmax_sparsemax,
        },
        tol={"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)},
    ),
    "sparsemax_backward": Case(
        _sparse_data, lambda d: 3 * d["x"].nbytes, writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.sparsemax_backward, d["g"], d["y"]),
            "numpy": lambda d: partial(np_sparsemax_backward, d["g"], d["y"]),
            "entmax": _entmax_sparsemax_backward,
        },
        tol={"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)},
    ),
}


# Semiring products (issue 15) -------------------------------------------------------------
# A case's shape is (n, k, m) for a (n, k) @ (k, m) product, (B, n, k, m) for a batch of B.


def _ab_shapes(shape):
    *batch, n, k, m = shape
    return tuple(batch) + (n, k), tuple(batch) + (k, m)


def _semiring_data(shape, dtype, rng):
    sa, sb = _ab_shapes(shape)
    a, b = _normal(sa, dtype, rng), _normal(sb, dtype, rng)
    c = fs.logmatmulexp(a, b)
    return {"a": a, "b": b, "c": c, "g": _normal(c.shape, dtype, rng), "idx": fs.maxplus_matmul(a, b)[1]}


def _ab_bytes(d):
    return d["a"].nbytes + d["b"].nbytes


def _terms(a, b):
    """The materialized ``(..., n, k, m)`` terms ``a[i, k] + b[k, j]``."""
    return a[..., :, :, None] + b[..., None, :, :]


def np_logmatmulexp(a, b):
    """The materialized formula: the max-shifted LogSumExp over ``k`` of every term."""
    t = _terms(a, b)
    m = t.max(axis=-2)
    with np.errstate(invalid="ignore"):
        return np.log(np.exp(t - m[..., None, :]).sum(axis=-2)) + m


def np_exp_matmul(a, b):
    """The fast but unsafe trick: rescale by the row and column maxima and multiply;
    -inf or no digits left where the maxima sit at different ``k`` (exact on benign
    inputs, as here)."""
    ma = a.max(-1, keepdims=True)
    mb = b.max(-2, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - ma) @ np.exp(b - mb)) + ma + mb


def np_maxplus_matmul(a, b):
    t = _terms(a, b)
    return t.max(axis=-2), t.argmax(axis=-2)


def np_logmatmulexp_backward(g, a, b, c):
    w = np.exp(_terms(a, b) - c[..., :, None, :]) * g[..., :, None, :]
    return w.sum(-1), w.sum(-3)


def np_maxplus_matmul_backward(g, idx, a_shape, b_shape):
    """Each ``g[i, j]`` added to ``a[i, idx[i, j]]`` and ``b[idx[i, j], j]`` (``np.add.at``)."""
    ga, gb = np.zeros(a_shape, g.dtype), np.zeros(b_shape, g.dtype)
    *batch, n, m = g.shape
    bi = np.indices(tuple(batch) + (n, m))
    lead = tuple(bi[:-2])
    np.add.at(ga, lead + (bi[-2], idx), g)
    np.add.at(gb, lead + (idx, bi[-1]), g)
    return ga, gb


def _torch_logmatmulexp(d):
    a, b = _t(d["a"]), _t(d["b"])
    return lambda: (a.unsqueeze(-1) + b.unsqueeze(-3)).logsumexp(-2)


def _torch_maxplus(d):
    a, b = _t(d["a"]), _t(d["b"])
    return lambda: tuple((a.unsqueeze(-1) + b.unsqueeze(-3)).max(-2))


def _semiring_elements(d):
    return d["c"].size * d["a"].shape[-1]  # the terms: n k m per product


def _semiring(impls, nbytes, writes, **kw):
    return Case(_semiring_data, nbytes, impls, writes=writes, elements=_semiring_elements,
                tol={"float32": (2e-5, 2e-5), "float64": (1e-12, 1e-12)}, **kw)


#: the materialized formulas allocate n k m terms: timed up to this many
MATERIALIZED_LIMIT = 1 << 27

SEMIRING_CASES: dict[str, Case] = {
    "logmatmulexp": _semiring(
        {
            "fastsmooth": lambda d: partial(fs.logmatmulexp, d["a"], d["b"]),
            "numpy": lambda d: partial(np_logmatmulexp, d["a"], d["b"]),
            "scipy": lambda d: (lambda: _scipy_special().logsumexp(_terms(d["a"], d["b"]), axis=-2)),
            "exp-matmul": lambda d: partial(np_exp_matmul, d["a"], d["b"]),
            "torch": _torch_logmatmulexp,
        },
        lambda d: _ab_bytes(d) + d["c"].nbytes, lambda d: d["c"].nbytes,
        limits={"numpy": MATERIALIZED_LIMIT, "scipy": MATERIALIZED_LIMIT, "torch": MATERIALIZED_LIMIT},
    ),
    "logmatmulexp_backward": _semiring(
        {
            "fastsmooth": lambda d: partial(fs.logmatmulexp_backward, d["g"], d["a"], d["b"], d["c"]),
            "numpy": lambda d: partial(np_logmatmulexp_backward, d["g"], d["a"], d["b"], d["c"]),
        },
        lambda d: 2 * _ab_bytes(d) + 2 * d["c"].nbytes, _ab_bytes,
        limits={"numpy": MATERIALIZED_LIMIT},
    ),
    "maxplus_matmul": _semiring(
        {
            "fastsmooth": lambda d: partial(fs.maxplus_matmul, d["a"], d["b"]),
            "numpy": lambda d: partial(np_maxplus_matmul, d["a"], d["b"]),
            "torch": _torch_maxplus,
        },
        lambda d: _ab_bytes(d) + d["c"].nbytes + d["idx"].nbytes, lambda d: d["c"].nbytes + d["idx"].nbytes,
        limits={"numpy": MATERIALIZED_LIMIT, "torch": MATERIALIZED_LIMIT},
    ),
    "maxplus_matmul_backward": _semiring(
        {
            "fastsmooth": lambda d: partial(fs.maxplus_matmul_backward, d["g"], d["idx"], d["a"].shape,
                                            d["b"].shape),
            "numpy": lambda d: partial(np_maxplus_matmul_backward, d["g"], d["idx"], d["a"].shape, d["b"].shape),
        },
        lambda d: d["g"].nbytes + d["idx"].nbytes + _ab_bytes(d), _ab_bytes,
    ),
}


# HMMs (issue 15) --------------------------------------------------------------------------
# A case's shape is (T, S): one sequence of T steps, S states, one random model.


def _hmm_data(shape, dtype, rng):
    T, S = shape
    start = rng.dirichlet(np.ones(S))
    trans = rng.dirichlet(np.ones(S), size=S)
    le = rng.standard_normal((T, S))
    return {k: v.astype(dtype) for k, v in dict(start=start, trans=trans, ls=np.log(start), lA=np.log(trans),
                                                le=le, fe=np.exp(le)).items()}


def _hmm_bytes(d):
    return 2 * d["le"].nbytes + 2 * d["lA"].nbytes


def _hmm_elements(d):
    return d["le"].size * d["le"].shape[-1]  # T S S: the work of the recursions


def np_hmm_forward_backward(ls, lA, le):
    """The log-space forward-backward as a NumPy user writes it: one max-shifted
    LogSumExp over the previous states per step."""
    T, S = le.shape
    la, lb = np.empty_like(le), np.zeros_like(le)
    la[0] = ls + le[0]
    for t in range(1, T):
        z = la[t - 1][:, None] + lA
        m = z.max(axis=0)
        la[t] = np.log(np.exp(z - m).sum(axis=0)) + m + le[t]
    for t in range(T - 2, -1, -1):
        z = lA + (le[t + 1] + lb[t + 1])[None, :]
        m = z.max(axis=1)
        lb[t] = np.log(np.exp(z - m[:, None]).sum(axis=1)) + m
    m = la[-1].max()
    loglik = np.log(np.exp(la[-1] - m).sum()) + m
    post = np.exp(la + lb - loglik)
    xi = np.exp(la[:-1, :, None] + lA[None] + (le[1:] + lb[1:])[:, None, :] - loglik).sum(axis=0)
    return loglik, post, xi


def np_viterbi(ls, lA, le):
    T, S = le.shape
    delta = ls + le[0]
    back = np.empty((T, S), np.int64)
    for t in range(1, T):
        z = delta[:, None] + lA
        back[t] = z.argmax(axis=0)
        delta = z[back[t], np.arange(S)] + le[t]
    path = np.empty(T, np.int64)
    path[-1] = delta.argmax()
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return delta.max(), path


def _hmmlearn_scaling(d):
    from hmmlearn import _hmmc

    def call():
        log_prob, fwd, scale = _hmmc.forward_scaling(d["start"], d["trans"], d["fe"])
        bwd = _hmmc.backward_scaling(d["start"], d["trans"], d["fe"], scale)
        post = fwd * bwd
        post /= post.sum(axis=1, keepdims=True)
        return log_prob, post, _hmmc.compute_scaling_xi_sum(fwd, d["trans"], bwd, d["fe"])

    return call


def _hmmlearn_log(d):
    from hmmlearn import _hmmc

    def call():
        log_prob, fwd = _hmmc.forward_log(d["start"], d["trans"], d["le"])
        bwd = _hmmc.backward_log(d["start"], d["trans"], d["le"])
        g = fwd + bwd
        g -= g.max(axis=1, keepdims=True)
        post = np.exp(g)
        post /= post.sum(axis=1, keepdims=True)
        return log_prob, post, np.exp(_hmmc.compute_log_xi_sum(fwd, d["trans"], bwd, d["le"]))

    return call


def _hmmlearn_viterbi(d):
    from hmmlearn import _hmmc

    return partial(_hmmc.viterbi, d["start"], d["trans"], d["le"])


_HMM_TOL = {"float64": (1e-10, 1e-12)}

HMM_CASES: dict[str, Case] = {
    "hmm_forward_backward": Case(
        _hmm_data, _hmm_bytes, writes=lambda d: d["le"].nbytes + d["lA"].nbytes,
        impls={
            "fastsmooth": lambda d: partial(fs.hmm_forward_backward, d["ls"], d["lA"], d["le"]),
            "numpy": lambda d: partial(np_hmm_forward_backward, d["ls"], d["lA"], d["le"]),
            "hmmlearn-scaling": _hmmlearn_scaling,
            "hmmlearn-log": _hmmlearn_log,
        },
        dtypes=("float64",), tol=_HMM_TOL, elements=_hmm_elements,
        # hmmlearn's log recursion takes ~40 s at S = 256 (one libm exp per term)
        limits={"hmmlearn-log": 10_000 * 64 * 64},
    ),
    "viterbi": Case(
        _hmm_data, lambda d: d["le"].nbytes + d["lA"].nbytes + d["le"].shape[0] * 8,
        writes=lambda d: d["le"].shape[0] * 8,
        impls={
            "fastsmooth": lambda d: partial(fs.viterbi, d["ls"], d["lA"], d["le"]),
            "numpy": lambda d: partial(np_viterbi, d["ls"], d["lA"], d["le"]),
            "hmmlearn": _hmmlearn_viterbi,
        },
        dtypes=("float64",), tol=_HMM_TOL, elements=_hmm_elements,
    ),
}


# soft-DTW (issue 16) -----------------------------------------------------------------------
# A case's shape is (B, n, d): B pairs of series of n steps and d features, or (n, d): one
# pair. Squared Euclidean cost, gamma = DTW_GAMMA.

DTW_GAMMA = 0.1


def _dtw_data(shape, dtype, rng):
    x, y = _normal(shape, dtype, rng), _normal(shape, dtype, rng)
    g = np.ones(shape[:-2], dtype) if len(shape) == 3 else dtype.type(1.0)
    return {"x": x, "y": y, "g": g}


def _dtw_elements(d):
    n = d["x"].shape[-2]
    return d["x"].size // d["x"].shape[-1] * n  # the cells of the dynamic programs


def _pairs(d):
    x, y = d["x"], d["y"]
    return (x, y) if x.ndim == 3 else (x[None], y[None])


def _tslearn_soft_dtw(d):
    from tslearn.metrics import soft_dtw

    xs, ys = _pairs(d)
    single = d["x"].ndim == 2

    def call():
        v = np.array([soft_dtw(a, b, gamma=DTW_GAMMA) for a, b in zip(xs, ys)])
        return v[0] if single else v

    return call


def _tslearn_soft_dtw_backward(d):
    """tslearn's ``soft_dtw_alignment`` (E), then the gradient from E as a tslearn user
    writes it: ``2 (E.sum(1) x - E y)`` and ``2 (E.sum(0) y - E^T x)``."""
    from tslearn.metrics import soft_dtw_alignment

    xs, ys = _pairs(d)
    single = d["x"].ndim == 2

    def call():
        gx, gy = np.empty_like(xs), np.empty_like(ys)
        for i, (a, b) in enumerate(zip(xs, ys)):
            E, _ = soft_dtw_alignment(a, b, gamma=DTW_GAMMA)
            gx[i] = 2 * (E.sum(1)[:, None] * a - E @ b)
            gy[i] = 2 * (E.sum(0)[:, None] * b - E.T @ a)
        return (gx[0], gy[0]) if single else (gx, gy)

    return call


def _ref():
    from . import _reference

    return _reference


_DTW_TOL = {"float64": (1e-10, 1e-12)}

DTW_CASES: dict[str, Case] = {
    "soft_dtw": Case(
        _dtw_data, lambda d: 2 * d["x"].nbytes, writes=lambda d: 0,
        impls={
            "fastsmooth": lambda d: partial(fs.soft_dtw, d["x"], d["y"], gamma=DTW_GAMMA),
            # the NumPy recursion: anti-diagonals vectorized over the pairs of a batch
            "numpy": lambda d: partial(_ref().soft_dtw, d["x"], d["y"], gamma=DTW_GAMMA),
            "tslearn": _tslearn_soft_dtw,
        },
        dtypes=("float64",), tol=_DTW_TOL, elements=_dtw_elements,
    ),
    "soft_dtw_backward": Case(
        _dtw_data, lambda d: 4 * d["x"].nbytes, writes=lambda d: 2 * d["x"].nbytes,
        impls={
            "fastsmooth": lambda d: partial(fs.soft_dtw_backward, d["g"], d["x"], d["y"], gamma=DTW_GAMMA),
            "numpy": lambda d: partial(_ref().soft_dtw_backward, d["g"], d["x"], d["y"], gamma=DTW_GAMMA),
            "tslearn": _tslearn_soft_dtw_backward,
        },
        dtypes=("float64",), tol=_DTW_TOL, elements=_dtw_elements,
        limits={"numpy": 1000 * 256 * 256},
    ),
}


# Dask (issue 5) ------------------------------------------------------------------------------
# LogSumExp of a Dask array chunked along the reduced axis (16 chunks), computed with the
# synchronous scheduler (chunk by chunk on this thread; fastsmooth's kernels use their own
# threads inside each chunk): fastsmooth.dask against the expression a Dask user writes.

DASK_CHUNKS = 16


def _dask_data(shape, dtype, rng):
    import dask.array as da

    x = _normal(shape, dtype, rng)
    return {"x": x, "dx": da.from_array(x, chunks=(shape[0], -(-shape[1] // DASK_CHUNKS)))}


def dask_user_logsumexp(x, axis=-1):
    """The max-shifted LogSumExp in Dask array operations, as a Dask user writes it."""
    import dask.array as da

    m = x.max(axis=axis, keepdims=True)
    return da.log(da.exp(x - m).sum(axis=axis)) + da.squeeze(m, axis=axis)


def _dask_fs(d):
    from . import dask as fsd

    return lambda: fsd.logsumexp(d["dx"], axis=-1).compute(scheduler="synchronous")


def _dask_user(d):
    return lambda: dask_user_logsumexp(d["dx"]).compute(scheduler="synchronous")


DASK_CASES: dict[str, Case] = {
    "logsumexp_dask": Case(
        _dask_data, lambda d: d["x"].nbytes + _row_bytes(d), writes=_row_bytes,
        impls={
            "fastsmooth": _dask_fs,
            "dask": _dask_user,
            "numpy": lambda d: partial(np_logsumexp, d["x"]),  # the same in memory, no Dask
        },
        ops=("logsumexp",), requires=("dask",),
    ),
}


# Families: what `fastsmooth bench` runs -----------------------------------------------------


@dataclass(frozen=True)
class Family:
    """The shapes ``fastsmooth bench`` runs for a family of ops.

    ``shapes`` are the table of a full run (the issue's shapes), ``quick_shapes`` those of
    ``--quick``, which also runs only ``quick_dtype`` (unless ``--dtype`` is given).
    ``sweep``/``quick_sweep`` are sizes of one layout, added for ``--plot`` (speed-up
    against size) and run in one dtype. ``test_shape`` is a tiny input for the tests."""

    name: str
    cases: dict
    shapes: tuple
    quick_shapes: tuple
    quick_dtype: str
    sweep: tuple
    quick_sweep: tuple
    test_shape: tuple
    sweep_label: str = "elements"


FAMILIES: dict[str, Family] = {
    "reductions": Family(
        "reductions", CASES, tuple(SHAPES),
        quick_shapes=((1024, 1024), (64, 1000)),
        quick_dtype="float64",
        sweep=tuple((rows, 1000) for rows in (4, 32, 256, 2048, 16384)),
        quick_sweep=((4, 1000), (64, 1000), (1024, 1000)),
        test_shape=(7, 33),
        sweep_label="rows of 1000",
    ),
    "sparsemax": Family(
        "sparsemax", SPARSEMAX_CASES, ((4096, 4096), (64, 1000), (1_000_000, 8)),
        quick_shapes=((1024, 1024), (64, 1000)),
        quick_dtype="float32",
        sweep=tuple((rows, 1000) for rows in (4, 32, 256, 2048, 16384)),
        quick_sweep=((4, 1000), (64, 1000), (1024, 1000)),
        test_shape=(7, 33),
        sweep_label="rows of 1000",
    ),
    "losses": Family(
        "losses", LOSS_CASES, ((100_000, 100),),
        quick_shapes=((10_000, 100),),
        quick_dtype="float32",
        sweep=tuple((n, 100) for n in (1000, 10_000, 100_000)),
        quick_sweep=((1000, 100), (10_000, 100)),
        test_shape=(300, 7),
        sweep_label="(N, 100) logits, loss + gradient",
    ),
    "pooling": Family(
        "pooling", POOL_CASES, ((32, 64, 112, 112), (1, 16, 28, 28)),
        quick_shapes=((8, 32, 56, 56),),
        quick_dtype="float32",
        sweep=tuple((n, 64, 56, 56) for n in (1, 4, 16, 64)),
        quick_sweep=((1, 16, 56, 56), (4, 16, 56, 56), (16, 16, 56, 56)),
        test_shape=(2, 3, 11, 9),
        sweep_label="(N, C, 56, 56); kernel 3 (and 2), stride 2, padding 1",
    ),
    "elementwise": Family(
        "elementwise", ELEMENTWISE_CASES, ((4096, 4096),),
        quick_shapes=((1024, 1024),),
        quick_dtype="float32",
        sweep=tuple((n,) for n in (10_000, 100_000, 1_000_000, 10_000_000)),
        quick_sweep=((10_000,), (100_000,), (1_000_000,)),
        test_shape=(5, 7),
        sweep_label="1-D arrays",
    ),
    "semiring": Family(
        "semiring", SEMIRING_CASES, ((512, 512, 512), (64, 128, 128, 128), (1, 4096, 4096)),
        quick_shapes=((128, 128, 128), (8, 64, 64, 64)),
        quick_dtype="float64",
        sweep=tuple((n, n, n) for n in (32, 64, 128, 256, 512)),
        quick_sweep=((32, 32, 32), (64, 64, 64), (128, 128, 128)),
        test_shape=(2, 5, 6, 7),
        sweep_label="(n, n) @ (n, n)",
    ),
    "hmm": Family(
        "hmm", HMM_CASES, ((10_000, 8), (10_000, 64), (10_000, 256)),
        quick_shapes=((1000, 8), (1000, 64)),
        quick_dtype="float64",
        sweep=tuple((10_000, s) for s in (4, 16, 64, 256)),
        quick_sweep=((1000, 4), (1000, 16), (1000, 64)),
        test_shape=(40, 5),
        sweep_label="T = 10 000 steps, S states",
    ),
    "dtw": Family(
        "dtw", DTW_CASES, ((1000, 256, 1), (1000, 256, 8), (4096, 1)),
        quick_shapes=((100, 64, 1), (512, 1)),
        quick_dtype="float64",
        sweep=tuple((b, 256, 1) for b in (10, 100, 1000)),
        quick_sweep=((10, 64, 1), (100, 64, 1)),
        test_shape=(3, 12, 2),
        sweep_label="B pairs of 256 steps, d = 1",
    ),
    "dask": Family(
        "dask", DASK_CASES, ((16, 4_000_000),),
        quick_shapes=((16, 250_000),),
        quick_dtype="float64",
        sweep=tuple((16, n) for n in (100_000, 1_000_000, 4_000_000)),
        quick_sweep=((16, 100_000), (16, 250_000)),
        test_shape=(4, 1000),
        sweep_label="(16, n) in 16 chunks along n",
    ),
}

#: every case of every family, in table order
ALL_CASES: dict[str, Case] = {op: case for fam in FAMILIES.values() for op, case in fam.cases.items()}

#: the columns of the tables after fastsmooth's, in order
COLUMNS = ("scipy", "numpy", "torch", "onnxruntime", "jax", "entmax", "exp-matmul", "hmmlearn-scaling",
           "hmmlearn-log", "hmmlearn", "tslearn", "dask")


def ops_of(name):
    """The registered ops (:mod:`._registry`) a case of the table times."""
    case = ALL_CASES[name]
    return case.ops or (name,)


def family_of(op):
    """The :class:`Family` a case belongs to."""
    for fam in FAMILIES.values():
        if op in fam.cases:
            return fam
    raise KeyError(op)


def shapes_for(op, quick=False, sweep=False):
    """The table shapes of ``op`` for a full or ``--quick`` run, or its sweep sizes."""
    fam, case = family_of(op), ALL_CASES[op]
    if sweep:
        return list(fam.quick_sweep if quick else fam.sweep)
    if quick:
        return list(case.quick_shapes or fam.quick_shapes)
    return list(case.shapes or fam.shapes)


def columns(op, data=None, libraries=None):
    """The columns of case ``op`` that run here: installed (:func:`available`), within
    their ``limits`` for ``data`` when given, in table order (fastsmooth first)."""
    case = ALL_CASES[op]
    out = []
    for col in case.impls:
        if col.startswith("fastsmooth-") or not available(col, libraries):
            continue
        if data is not None and col in case.limits and case.n_elements(data) > case.limits[col]:
            continue
        out.append(col)
    return out


def floor_impls(op):
    """What case ``op`` is measured against besides its peers: the memory floor, and for the
    forward reductions the exp-only loop over the same elements (``prepare(data)`` each)."""
    case = ALL_CASES[op]
    out = {"floor": memory_floor(case)}
    if op in EXP_LOOP_OPS:
        out["exp-loop"] = _exp_loop
    return out


#: the cases timed against the exp-only loop too
EXP_LOOP_OPS = ("logsumexp", "softmax", "log_softmax", "logsumexp_axis0", "softmax_axis0", "log_softmax_axis0")
