"""The comparison table behind the benchmarks: for each op, how fastsmooth and its peers
(SciPy, plain NumPy, PyTorch on CPU, ONNX Runtime's CPU provider, JAX/XLA on CPU) compute
the same thing.

One table drives ``bench/`` (pytest-benchmark), the ``fastsmooth bench`` command and a
test (``tests/test_peers.py``) that checks every peer returns what fastsmooth returns --
so a benchmark always times exactly what a test has checked.

The ops come in families (:data:`FAMILIES`): the reductions of the core (:data:`CASES`),
max-pooling (:data:`POOL_CASES`), the element-wise family (:data:`ELEMENTWISE_CASES`) and
the soft metric losses (:data:`LOSS_CASES`); :data:`ALL_CASES` holds them all. A family
says which shapes ``fastsmooth bench`` runs (the issue's shapes, smaller ones for
``--quick``, and a sweep of sizes of one layout for ``--plot``) and in which dtype
``--quick`` runs it.

Each :class:`Case` builds its inputs once (``make``), knows how many bytes the op must
move at least (``nbytes``, for GB/s), and maps each library to a ``prepare(data)``
function that returns a zero-argument callable to time; conversions (NumPy to torch)
happen in ``prepare``, outside the timing. Peers whose library is not installed are left
out (:func:`missing_libraries` says which, for the note under a table). The "numpy" column
is what a user writes today: max-shifted NumPy in the input's dtype.

Threads of the peers (:func:`peer_threads`): ``PEER_THREADS`` in the environment, else
what :func:`set_peer_threads` set (``fastsmooth bench --threads``), else Numba's thread
count -- the peers run with as many threads as fastsmooth's kernels. torch takes it by
``torch.set_num_threads``, ONNX Runtime by ``intra_op_num_threads`` (``inter_op`` 1,
sequential execution), JAX only when it is 1 and only before JAX is first imported
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

__all__ = ["Case", "Family", "CASES", "SHAPES", "POOL_CASES", "ELEMENTWISE_CASES", "LOSS_CASES", "LOSS_SHAPES",
           "ALL_CASES", "FAMILIES", "OPTIONAL_PEERS", "available_libraries", "missing_libraries", "family_of",
           "shapes_for", "peer_threads", "set_peer_threads", "peer_versions"]

#: the shapes of the core benchmark (issue 2)
SHAPES = [(4096, 4096), (1, 16_000_000), (1_000_000, 8), (64, 1000)]


#: the optional peers and the modules each needs (``pip install fastsmooth[bench]``)
OPTIONAL_PEERS = {"scipy": ("scipy",), "torch": ("torch",), "onnxruntime": ("onnxruntime", "onnx"),
                  "jax": ("jax", "jaxlib")}


def _installed(lib):
    return all(importlib.util.find_spec(mod) is not None for mod in OPTIONAL_PEERS[lib])


def available_libraries():
    """fastsmooth, numpy and the optional peers that are installed, in column order."""
    return ["fastsmooth", "numpy"] + [lib for lib in OPTIONAL_PEERS if _installed(lib)]


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
    """One op: ``make(shape, dtype, rng)`` builds the inputs, ``nbytes(data)`` is the
    least number of bytes the op must move, ``impls`` maps a library to
    ``prepare(data) -> callable``. ``shapes``/``quick_shapes``, when given, replace the
    family's table shapes for this op. ``compare`` maps a library whose result is laid
    out otherwise to ``f(result, data)``, the result as fastsmooth lays it out (for the
    tests only; the benchmark times the library's own result)."""

    make: Callable[[tuple, np.dtype, np.random.Generator], dict]
    nbytes: Callable[[dict], int]
    impls: dict = field(default_factory=dict)
    shapes: tuple | None = None
    quick_shapes: tuple | None = None
    compare: dict = field(default_factory=dict)
    #: bytes of ``nbytes`` that are written (the outputs); the rest is read
    writes: Callable[[dict], int] | None = None

    def traffic(self, data):
        """``(read, written)`` bytes the op must move at least."""
        total = self.nbytes(data)
        w = self.writes(data) if self.writes is not None else 0
        return total - w, w


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
    return {
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

        return Floor(*case.traffic(d), d["x"].size)

    return prepare


def _exp_loop(d):
    return partial(exp_floor, np.ascontiguousarray(d["x"]))


#: what each core op is measured against besides its peers: the memory floor, and for the
#: forward ops the exp-only loop over the same elements
FLOORS = {op: {"floor": memory_floor(case), **({"exp-loop": _exp_loop} if "backward" not in op else {})}
          for op, case in CASES.items()}


# Soft metric losses (issue 4) -------------------------------------------------------------
# One forward + backward of the loss per call: what a training step needs. Every
# implementation returns (loss, d loss / d logits).

#: the shapes of the loss benchmark: binary (N,) and multi-label (N, K); multi-class (N, K)
LOSS_SHAPES = {"soft_fbeta": [(1_000_000,), (100_000, 100)], "softmax_fbeta": [(100_000, 100)]}


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
    ),
}


# Max-pooling (issue 3) -------------------------------------------------------------------
# The ResNet stem's pooling: kernel 3, stride 2, padding 1, on (N, C, H, W).

POOL = (3, 2, 1)  # kernel_size, stride, padding


def _pool_data(shape, dtype, rng):
    x = _normal(shape, dtype, rng)
    y, idx = fs.maxpool2d(x, *POOL)
    return {"x": x, "y": y, "idx": idx, "g": _normal(y.shape, dtype, rng)}


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


def _torch_maxpool2d_backward(g, x, idx):
    k, s, p = POOL
    return _torch().ops.aten.max_pool2d_with_indices_backward(g, x, [k, k], [s, s], [p, p], [1, 1], False, idx)


def _ort_maxpool(d):
    k, s, p = POOL
    sess = _ort_session("MaxPool", d["x"].dtype, 4, 4, (("kernel_shape", (k, k)), ("strides", (s, s)),
                                                        ("pads", (p, p, p, p))), n_out=2)
    return _ort_call(sess, np.ascontiguousarray(d["x"]), first_only=False)


def _ort_plane_indices(result, d):
    """ONNX MaxPool's indices count over the whole (N, C, H, W) tensor; ours per plane."""
    y, idx = result
    return y, idx % (d["x"].shape[-1] * d["x"].shape[-2])


def _jax_maxpool(jax):
    k, s, p = POOL
    lax = jax.lax
    return lambda a: lax.reduce_window(a, -np.inf, lax.max, (1, 1, k, k), (1, 1, s, s),
                                       ((0, 0), (0, 0), (p, p), (p, p)))


POOL_CASES: dict[str, Case] = {
    "maxpool2d": Case(
        _pool_data,
        lambda d: d["x"].nbytes + d["y"].nbytes + d["idx"].nbytes,
        writes=lambda d: d["y"].nbytes + d["idx"].nbytes,
        impls={
            "fastsmooth": lambda d: partial(fs.maxpool2d, d["x"], *POOL),
            "numpy": lambda d: partial(np_maxpool2d, d["x"], *POOL),
            "torch": lambda d: partial(_torch().nn.functional.max_pool2d, _t(d["x"]), *POOL, return_indices=True),
            "onnxruntime": _ort_maxpool,
            # values only: XLA has no max-pool with indices (it moves fewer bytes than the others)
            "jax": lambda d: _jax_call("maxpool2d", _jax_maxpool, d["x"]),
        },
        compare={"onnxruntime": _ort_plane_indices},
    ),
    "maxpool2d_backward": Case(
        _pool_data,
        lambda d: d["g"].nbytes + d["idx"].nbytes + d["x"].nbytes,
       writes=_x_bytes,
        impls={
            "fastsmooth": lambda d: partial(fs.maxpool2d_backward, d["g"], d["idx"], d["x"].shape),
            "numpy": lambda d: partial(np_maxpool2d_backward, d["g"], d["idx"], d["x"].shape),
            "torch": lambda d: partial(_torch_maxpool2d_backward, _t(d["g"]), _t(d["x"]), _t(d["idx"])),
        },
    ),
}


# Element-wise (issue 3) ------------------------------------------------------------------
# "numpy" is the stable expression a user writes, in the input's dtype.


def _xy_grad(shape, dtype, rng):
    return {"x": 4 * _normal(shape, dtype, rng), "y": 4 * _normal(shape, dtype, rng), "g": _normal(shape, dtype, rng)}


def np_sigmoid(x):
    """The stable logistic function: exp of -|x| only, so nothing overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softplus(x):
    return np.logaddexp(x.dtype.type(0), x)


def _elementwise(n_arrays, fs_fn, np_fn, torch_fn=None, scipy_fn=None, args=("x",)):
    impls = {
        "fastsmooth": lambda d: partial(fs_fn, *(d[a] for a in args)),
        "numpy": lambda d: partial(np_fn, *(d[a] for a in args)),
    }
    if scipy_fn is not None:
        impls["scipy"] = lambda d: partial(scipy_fn(), *(d[a] for a in args))
    if torch_fn is not None:
        impls["torch"] = lambda d: partial(torch_fn(), *(_t(d[a]) for a in args))
    return Case(_xy_grad, lambda d: n_arrays * d["x"].nbytes, impls, writes=_x_bytes)


ELEMENTWISE_CASES: dict[str, Case] = {
    "relu": _elementwise(2, fs.relu, lambda x: np.maximum(x, x.dtype.type(0)), lambda: _torch().relu),
    "relu_backward": _elementwise(
        3, fs.relu_backward, lambda g, x: np.where(x > 0, g, g.dtype.type(0)),
        lambda: partial(_torch().ops.aten.threshold_backward, threshold=0), args=("g", "x")),
    "sigmoid": _elementwise(2, fs.sigmoid, np_sigmoid, lambda: _torch().sigmoid,
                            lambda: _scipy_special().expit),
    "softplus": _elementwise(2, fs.softplus, np_softplus, lambda: _torch().nn.functional.softplus),
    "smooth_maximum": _elementwise(3, fs.smooth_maximum, np.logaddexp, lambda: _torch().logaddexp,
                                   args=("x", "y")),
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
    "pooling": Family(
        "pooling", POOL_CASES, ((32, 64, 112, 112), (1, 16, 28, 28)),
        quick_shapes=((8, 32, 56, 56),),
        quick_dtype="float32",
        sweep=tuple((n, 64, 56, 56) for n in (1, 4, 16, 64)),
        quick_sweep=((1, 16, 56, 56), (4, 16, 56, 56), (16, 16, 56, 56)),
        test_shape=(2, 3, 11, 9),
        sweep_label="(N, C, 56, 56), kernel 3, stride 2, padding 1",
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
    "losses": Family(
        "losses", LOSS_CASES, ((100_000, 100),),
        quick_shapes=((10_000, 100),),
        quick_dtype="float32",
        sweep=tuple((n, 100) for n in (1000, 10_000, 100_000)),
        quick_sweep=((1000, 100), (10_000, 100)),
        test_shape=(300, 7),
        sweep_label="(N, 100) logits, loss + gradient",
    ),
}

#: every op of every family, in table order
ALL_CASES: dict[str, Case] = {op: case for fam in FAMILIES.values() for op, case in fam.cases.items()}


def family_of(op):
    """The :class:`Family` an op belongs to."""
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
