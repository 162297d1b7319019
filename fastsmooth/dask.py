"""fastsmooth on Dask arrays: LogSumExp, softmax, log-softmax and soft-argmax of arrays
bigger than memory or spread over many machines, and the soft F-beta loss (with its
gradient and accumulator) of a batch chunked along its samples.

Install with ``pip install "fastsmooth[dask]"``. ``import fastsmooth`` never imports Dask;
``import fastsmooth.dask`` does.

The functions take a ``dask.array.Array`` (or anything ``dask.array.asarray`` accepts) and
have the signatures, dtype rules, special values and error messages of their NumPy
counterparts in :mod:`fastsmooth`, plus ``split_every`` (as Dask's own reductions: how
many partial results one merge task takes). They return lazy Dask arrays; nothing is
computed until you call ``.compute()`` (or ``.persist()``, ``dask.compute``...).

How it works
------------
The reduced axes may be split over any number of chunks. Each chunk is summarised, per
slice, by the online LogSumExp state of :mod:`fastsmooth._rowops` -- the maximum ``m``
and the sum ``s`` of the other terms rescaled to it -- computed by the same Numba
kernels as the NumPy functions, in one read of the chunk. These states merge
associatively, so Dask's own tree reduction (``dask.array.reduction`` with
``split_every``) combines them; :func:`logsumexp` finishes the merged state as
``m + tau * log1p(s)``. :func:`softmax` and :func:`log_softmax` pass the merged *state*
(never a finished LogSumExp: ``exp(x - lse)`` is wrong near +-1e308) back to every chunk,
broadcast along the reduced axes, and one blockwise pass writes the output -- two reads
of the input in all. :func:`soft_argmax` adds to the state the index-weighted sum and the
chunk length, and merges chunks in order along the axis. Results do not depend on the
chunking beyond rounding (1e-14 relative in float64, tested).

Threads
-------
Under Dask's threaded scheduler (and on every ``distributed`` worker) chunks are
processed from several Python threads at once. fastsmooth is safe there whatever
Numba's threading layer: with ``omp`` or ``tbb`` every thread may run parallel
kernels; with ``workqueue``, which aborts the process on concurrent parallel launches,
threads other than the main one run the serial kernels (see :mod:`fastsmooth._config`).

Parallel kernels on a worker use Numba's thread count, which defaults to every core of
the machine (``NUMBA_NUM_THREADS``), and Dask's nanny does not lower it as it does
``OMP_NUM_THREADS`` (dask/distributed#9075): with several workers or worker threads per
machine the cores are oversubscribed. Give each worker thread its share with the
:class:`NumbaThreads` worker plugin::

    client.register_plugin(fastsmooth.dask.NumbaThreads())   # cores // threads per host

or set ``NUMBA_NUM_THREADS`` in the workers' environment before they start, which
applies to every Numba-compiled library they run: ``LocalCluster(...,
env={"NUMBA_NUM_THREADS": "1"})``, ``dask config distributed.nanny.pre-spawn-environ``,
or the environment of ``dask worker``. ``numba.set_num_threads(n)`` only applies to the
Python thread that calls it, so it cannot reach a worker's task threads from a plugin.
"""

from __future__ import annotations

import functools
import os

import dask.array as da
import numba
import numpy as np

import fastsmooth as _fs

from . import _config
from ._arrays import check_temperature, float_dtypes, normalize_axes, weights_dtypes, weights_shape
from ._chunkstates import (
    LSE_STATE,
    SOFT_ARGMAX_STATE,
    WLSE_STATE,
    block_lse_state,
    block_wlse_state,
    finish_wlse_states,
    merge_wlse_states,
    block_soft_argmax_state,
    block_softmax,
    finish_lse_states,
    finish_soft_argmax_states,
    merge_lse_states,
    merge_soft_argmax_states,
)
from ._arrays import inv_temperature as _inv_t

try:
    from distributed import WorkerPlugin as _WorkerPlugin
except ImportError:  # dask.array without distributed: everything but the plugin works
    _WorkerPlugin = object

__all__ = [
    "logsumexp",
    "softmax",
    "log_softmax",
    "soft_argmax",
    "soft_confusion",
    "fbeta_accumulator",
    "soft_fbeta_loss",
    "soft_fbeta_loss_backward",
    "NumbaThreads",
]


# ---------------------------------------------------------------------------------------
# Input policy (the rules of fastsmooth._arrays, applied lazily)


def _as_float(x, fname):
    """``(x, out_dtype)``: ``x`` as a float32/float64 Dask array to compute with."""
    x = x if isinstance(x, da.Array) else da.asarray(x)
    compute, out = float_dtypes(x.dtype, fname)
    return (x if x.dtype == compute else x.astype(compute)), out


def _astype_quiet(a, dtype):
    with np.errstate(over="ignore"):  # float16 overflow gives inf, as fastsmooth does
        return a.astype(dtype)


def _cast(y, dtype):
    return y if y.dtype == dtype else y.map_blocks(_astype_quiet, dtype, dtype=dtype)


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype)


def _drop_axes(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


# ---------------------------------------------------------------------------------------
# Chunk / combine / aggregate functions of the reductions (module-level: they are
# pickled to the workers). The reductions are declared with the dtype of their
# intermediate states, and the final result gets its own ``meta``. Dask also calls
# these functions on empty arrays to learn the type of their results (and the
# array-expression backend hands the final ``meta`` to combine/aggregate): an empty
# input gives an empty result of the right dtype, without touching a kernel.


def _empty_result(states, axis, keepdims, dtype):
    shape = tuple(1 if i in axis else n for i, n in enumerate(states.shape))
    shape = shape if keepdims else _drop_axes(shape, axis)
    if states.ndim <= max(axis, default=-1) or any(states.shape[i] == 0 for i in axis):
        # never a real block's states (they have one per chunk): one of Dask's stand-ins,
        # whose number of dimensions may not even match; any empty array of the dtype
        shape = (0,) * max(len(shape), 1)
    return np.empty(shape, dtype)


def _lse_chunk(a, axis, keepdims, inv_t, computing_meta=False):
    if computing_meta:
        return _empty_result(a, axis, True, LSE_STATE)
    return block_lse_state(a, axis, inv_t)


def _lse_combine(states, axis, keepdims, inv_t):
    if states.size == 0:
        return _empty_result(states, axis, True, LSE_STATE)
    return merge_lse_states(states, axis, inv_t)


def _lse_aggregate(states, axis, keepdims, inv_t, tau, out_dtype):
    if states.size == 0:
        return _empty_result(states, axis, keepdims, out_dtype)
    out = finish_lse_states(merge_lse_states(states, axis, inv_t), tau, out_dtype)
    return out if keepdims else out.reshape(_drop_axes(out.shape, axis))


def _wlse_block(a, w, axes, inv_t):
    return block_wlse_state(a, w, axes, inv_t)


def _wlse_pass(states, axis, keepdims, computing_meta=False):
    """The chunk step of the weighted reduction: its input is already block states."""
    if computing_meta or states.size == 0:
        return _empty_result(states, axis, True, WLSE_STATE)
    return states


def _wlse_combine(states, axis, keepdims, inv_t):
    if states.size == 0:
        return _empty_result(states, axis, True, WLSE_STATE)
    return merge_wlse_states(states, axis, inv_t)


def _wlse_aggregate(states, axis, keepdims, inv_t, tau, out_dtype):
    if states.size == 0:
        return _empty_result(states, axis, keepdims, out_dtype)
    out = finish_wlse_states(merge_wlse_states(states, axis, inv_t), tau, out_dtype)
    return out if keepdims else out.reshape(_drop_axes(out.shape, axis))


def _softmax_block(a, states, axes, inv_t, log):
    return block_softmax(a, axes, states, inv_t, log)


def _soft_argmax_chunk(a, axis, keepdims, inv_t, computing_meta=False):
    if computing_meta:
        return _empty_result(a, axis, True, SOFT_ARGMAX_STATE)
    return block_soft_argmax_state(a, axis[0], inv_t)


def _soft_argmax_combine(states, axis, keepdims, inv_t):
    if states.size == 0:
        return _empty_result(states, axis, True, SOFT_ARGMAX_STATE)
    return merge_soft_argmax_states(states, axis[0], inv_t)


def _soft_argmax_aggregate(states, axis, keepdims, inv_t, out_dtype):
    if states.size == 0:
        return _empty_result(states, axis, keepdims, out_dtype)
    out = finish_soft_argmax_states(merge_soft_argmax_states(states, axis[0], inv_t), out_dtype)
    return out if keepdims else out.reshape(_drop_axes(out.shape, axis))


def _lse_states(x, axes, inv_t, split_every):
    """The merged LogSumExp state of every slice of ``x`` over ``axes`` (kept, size 1)."""
    merge = functools.partial(_lse_combine, inv_t=inv_t)
    return da.reduction(
        x,
        functools.partial(_lse_chunk, inv_t=inv_t),
        merge,
        combine=merge,
        axis=axes,
        keepdims=True,
        dtype=LSE_STATE,
        split_every=split_every,
        name="fastsmooth-lse-state",
        meta=_meta(x.ndim, LSE_STATE),
    )


# ---------------------------------------------------------------------------------------
# Public functions


def logsumexp(x, axis=-1, *, b=None, temperature=1.0, keepdims=False, split_every=None):
    r"""Smooth maximum of a Dask array: :func:`fastsmooth.logsumexp`, chunk by chunk.

    .. math::

        \operatorname{LSE}_\tau(x) = \tau \log \sum_i e^{x_i / \tau}

    Parameters
    ----------
    x : dask.array.Array or array_like
        Input; bool and int compute in float64, float16 computes in float32.
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce, each split into any number of chunks; None reduces all.
    b : dask.array.Array or array_like, optional
        Weights, broadcast against ``x`` and rechunked like it; as in
        :func:`fastsmooth.logsumexp` (a weight of 0 masks its entry, negative weights
        subtract, a negative sum gives nan).
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    keepdims : bool, default False
        Keep the reduced axes with size one.
    split_every : int or dict, optional
        How many chunk states one merge task takes (Dask's tree reduction); Dask's
        default when omitted.

    Returns
    -------
    dask.array.Array
        Lazy; the reduced array in the float dtype of ``x``.

    See Also
    --------
    fastsmooth.logsumexp : the same on NumPy arrays.

    Notes
    -----
    One read of each chunk; the per-chunk states ``(max, rescaled sum)`` merge in a
    tree (with weights: ``(max, weight at the max, rescaled weighted sum)``). Special
    values as :func:`fastsmooth.logsumexp`, across chunk borders too: empty gives
    ``-inf``, all ``-inf`` gives ``-inf``, any nan gives nan, ``+inf`` and no nan gives
    ``+inf``; with weights, a weight of 0 masks its entry and a negative sum gives nan.

    Examples
    --------
    >>> import dask.array as da
    >>> import fastsmooth.dask as fsd
    >>> x = da.from_array(np.array([[1000.0, 1.0, 2.0, 3.0], [0.0, -40.0, -np.inf, 1.0]]), chunks=(1, 2))
    >>> fsd.logsumexp(x, axis=1).compute()
    array([1000.        ,    1.31326169])
    >>> fsd.logsumexp(x, axis=1, b=np.array([0.0, 1.0, 1.0, 1.0])).compute()  # mask column 0
    array([3.40760596, 1.        ])
    """
    fname = "logsumexp"
    x, out_dtype = _as_float(x, fname)
    if x.ndim == 0 and np.ndim(b) == 0:  # a 0-d input: its one element (as fastsmooth.logsumexp)
        normalize_axes(axis, 0, fname)
        out = logsumexp(x[None], 0, b=None if b is None else np.reshape(b, 1), temperature=temperature,
                        split_every=split_every)
        return out.reshape(())
    if b is not None:
        return _weighted_logsumexp(x, out_dtype, b, axis, temperature, keepdims, split_every)
    axes = normalize_axes(axis, x.ndim, fname)
    tau = check_temperature(temperature, fname)
    inv_t = _inv_t(tau, x.dtype)
    merge = functools.partial(_lse_combine, inv_t=inv_t)
    out = da.reduction(
        x,
        functools.partial(_lse_chunk, inv_t=inv_t),
        functools.partial(_lse_aggregate, inv_t=inv_t, tau=tau, out_dtype=x.dtype),
        combine=merge,
        axis=axes,
        keepdims=keepdims,
        dtype=LSE_STATE,
        split_every=split_every,
        name="fastsmooth-logsumexp",
        meta=_meta(x.ndim if keepdims else x.ndim - len(axes), x.dtype),
    )
    return _cast(out, out_dtype)


def _weighted_logsumexp(x, out_dtype, b, axis, temperature, keepdims, split_every):
    fname = "logsumexp"
    w = b if isinstance(b, da.Array) else da.asarray(np.asarray(b))
    compute, out_dtype = weights_dtypes(w.dtype, isinstance(b, (int, float)), x.dtype, out_dtype, fname)
    x = x.astype(compute)
    shape = weights_shape(x.shape, w.shape, fname)
    axes = normalize_axes(axis, len(shape), fname)
    tau = check_temperature(temperature, fname)
    inv_t = _inv_t(tau, x.dtype)
    x = da.broadcast_to(x, shape)
    w = da.broadcast_to(w, shape).astype(x.dtype).rechunk(x.chunks)
    state_chunks = tuple((1,) * len(c) if i in axes else c for i, c in enumerate(x.chunks))
    states = da.map_blocks(
        functools.partial(_wlse_block, axes=axes, inv_t=inv_t), x, w,
        chunks=state_chunks, dtype=WLSE_STATE, meta=_meta(x.ndim, WLSE_STATE),
        name="fastsmooth-wlse-state",
    )
    out = da.reduction(
        states,
        _wlse_pass,
        functools.partial(_wlse_aggregate, inv_t=inv_t, tau=tau, out_dtype=x.dtype),
        combine=functools.partial(_wlse_combine, inv_t=inv_t),
        axis=axes,
        keepdims=keepdims,
        dtype=WLSE_STATE,
        split_every=split_every,
        name="fastsmooth-weighted-logsumexp",
        meta=_meta(x.ndim if keepdims else x.ndim - len(axes), x.dtype),
    )
    return _cast(out, out_dtype)


def _softmax(x, axis, temperature, split_every, fname, log):
    x, out_dtype = _as_float(x, fname)
    axes = normalize_axes(axis, x.ndim, fname)
    tau = check_temperature(temperature, fname)
    inv_t = _inv_t(tau, x.dtype)
    states = _lse_states(x, axes, inv_t, split_every)
    y = da.map_blocks(
        functools.partial(_softmax_block, axes=axes, inv_t=inv_t, log=log),
        x,
        states,
        dtype=x.dtype,
        meta=_meta(x.ndim, x.dtype),
    )
    return _cast(y, out_dtype)


def softmax(x, axis=-1, *, temperature=1.0, split_every=None):
    r"""Softmax of a Dask array along ``axis``: :func:`fastsmooth.softmax`, chunk by chunk.

    .. math::

        \operatorname{softmax}_\tau(x)_i = \frac{e^{x_i/\tau}}{\sum_j e^{x_j/\tau}}

    Parameters
    ----------
    x : dask.array.Array or array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to normalise over, each split into any number of chunks.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    split_every : int or dict, optional
        As in :func:`logsumexp`.

    Returns
    -------
    dask.array.Array
        Lazy; the shape and chunks of ``x``, its float dtype.

    See Also
    --------
    fastsmooth.softmax : the same on NumPy arrays.
    log_softmax

    Notes
    -----
    Two reads of the input: the merged LogSumExp state of every slice (a tree
    reduction), then one blockwise pass that writes ``exp((x - m)/tau) / (1 + s)`` from
    it. If ``x`` is expensive to produce, ``persist`` it first: otherwise Dask keeps
    its chunks in memory between the two passes, or computes them twice. Special values
    as :func:`fastsmooth.softmax`, across chunk borders too (``+inf`` entries share the
    mass; all ``-inf`` or any nan in a slice gives nan).

    Examples
    --------
    >>> import dask.array as da
    >>> import fastsmooth.dask as fsd
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 4.0, 2.0]), chunks=2)
    >>> fsd.softmax(x).compute()
    array([0.02948882, 0.08015892, 0.21789455, 0.59229879, 0.08015892])
    """
    return _softmax(x, axis, temperature, split_every, "softmax", log=False)


def log_softmax(x, axis=-1, *, temperature=1.0, split_every=None):
    r"""Log-softmax of a Dask array along ``axis``: :func:`fastsmooth.log_softmax`,
    chunk by chunk.

    .. math::

        \log\operatorname{softmax}_\tau(x)_i = \frac{x_i - m}{\tau}
            - \log\Bigl(1 + \sum_{j \ne j^*} e^{(x_j - m)/\tau}\Bigr)

    Parameters
    ----------
    x : dask.array.Array or array_like
        Input.
    axis : int, tuple of ints or None, default -1
        Axis or axes to normalise over, each split into any number of chunks.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    split_every : int or dict, optional
        As in :func:`logsumexp`.

    Returns
    -------
    dask.array.Array
        Lazy; the shape and chunks of ``x``, its float dtype.

    See Also
    --------
    fastsmooth.log_softmax : the same on NumPy arrays.
    softmax

    Notes
    -----
    As :func:`softmax`: the merged state, then one blockwise pass. Special values as
    :func:`fastsmooth.log_softmax`.

    Examples
    --------
    >>> import dask.array as da
    >>> import fastsmooth.dask as fsd
    >>> x = da.from_array(np.array([0.0, -40.0, 1.0, np.inf, 2.0, np.inf]), chunks=2)
    >>> fsd.log_softmax(x[:2]).compute()
    array([-4.24835426e-18, -4.00000000e+01])
    >>> fsd.log_softmax(x).compute()   # +inf in two chunks share the mass
    array([       -inf,        -inf,        -inf, -0.69314718,        -inf, -0.69314718])
    """
    return _softmax(x, axis, temperature, split_every, "log_softmax", log=True)


def soft_argmax(x, axis=-1, *, temperature=1.0, split_every=None):
    r"""Smooth argmax of a Dask array: :func:`fastsmooth.soft_argmax`, chunk by chunk.

    .. math::

        \operatorname{softargmax}_\tau(x) = \sum_i i\,\operatorname{softmax}_\tau(x)_i

    Parameters
    ----------
    x : dask.array.Array or array_like
        Input.
    axis : int, default -1
        The axis whose positions are averaged; it may be split into any number of
        chunks.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    split_every : int or dict, optional
        As in :func:`logsumexp`.

    Returns
    -------
    dask.array.Array
        Lazy; ``x`` with ``axis`` removed, in the float dtype of ``x``.

    See Also
    --------
    fastsmooth.soft_argmax : the same on NumPy arrays.

    Notes
    -----
    Each chunk adds to its LogSumExp state the index-weighted sum of its terms and its
    length; chunks merge in order along the axis, each one's indices shifted by the
    length before it. Special values as :func:`fastsmooth.soft_argmax`.

    Examples
    --------
    >>> import dask.array as da
    >>> import fastsmooth.dask as fsd
    >>> x = da.from_array(np.array([1.0, 2.0, 3.0, 4.0, 2.0]), chunks=2)
    >>> float(fsd.soft_argmax(x).compute())
    2.613480...
    """
    fname = "soft_argmax"
    x, out_dtype = _as_float(x, fname)
    if x.ndim == 0:  # a 0-d input: its one element, index 0
        normalize_axes(axis, 0, fname, multiple=False)
        return soft_argmax(x[None], 0, temperature=temperature, split_every=split_every).reshape(())
    axes = normalize_axes(axis, x.ndim, fname, multiple=False)
    tau = check_temperature(temperature, fname)
    inv_t = _inv_t(tau, x.dtype)
    out = da.reduction(
        x,
        functools.partial(_soft_argmax_chunk, inv_t=inv_t),
        functools.partial(_soft_argmax_aggregate, inv_t=inv_t, out_dtype=x.dtype),
        combine=functools.partial(_soft_argmax_combine, inv_t=inv_t),
        axis=axes,
        keepdims=False,
        dtype=SOFT_ARGMAX_STATE,
        split_every=split_every,
        name="fastsmooth-soft_argmax",
        meta=_meta(x.ndim - 1, x.dtype),
    )
    return _cast(out, out_dtype)


# ---------------------------------------------------------------------------------------
# Reductions still to come
#
# ---------------------------------------------------------------------------------------
# Soft F-beta over a batch chunked along its sample axis
#
# The loss of a batch depends on its samples only through the soft counts (tp, fp, fn,
# tn), which add up: each block of samples gives its counts, Dask's tree reduction sums
# them, and the gradient of every block is then computed blockwise from the *total*
# counts -- the data-parallel recipe of :class:`fastsmooth.FbetaAccumulator`, with
# Dask doing the all-reduce.


def _fbeta_inputs(logits, target, activation, fname):
    """``(logits, target)`` as Dask arrays chunked alike along the samples, in one chunk
    along the classes (a block's gradient needs the totals of its classes; softmax
    normalises over them)."""
    x = da.asarray(logits)
    t = da.asarray(target)
    if x.ndim not in (1, 2) or (activation == "softmax" and x.ndim != 2):
        want = "(N, K)" if activation == "softmax" else "(N,) or (N, K)"
        raise ValueError(f"{fname}: `logits` must be {want}, got shape {x.shape}")
    if x.ndim == 2:
        x = x.rechunk({1: -1})
    ok = (x.shape, (x.shape[0],)) if activation == "softmax" else (x.shape,)
    if t.shape not in ok:
        raise ValueError(f"{fname}: `target` must have shape {' or '.join(map(str, ok))}, got {t.shape}")
    if any(np.isnan(c) for c in x.chunks[0]):
        raise ValueError(f"{fname}: `logits` must have known chunk sizes (call compute_chunk_sizes())")
    return x, t.rechunk(x.chunks[: t.ndim])


def _block_counts(x, t, settings):
    acc = _fs.FbetaAccumulator(**settings).update(x, t)
    return np.asarray(tuple(acc.counts), dtype=np.float64)[None]


def _counts(x, t, settings, split_every):
    """Lazy totals, float64 (4,) + class shape: the counts of each block of samples
    (``"i"``), summed by Dask's tree reduction."""
    xi, ti = ("ic", "ic"[: t.ndim]) if x.ndim == 2 else ("i", "i")
    per_block = da.blockwise(
        _block_counts, "in" + xi[1:], x, xi, t, ti, settings, None,
        new_axes={"n": 4}, adjust_chunks={"i": 1}, dtype=np.float64,
    )
    return per_block.sum(axis=0, split_every=split_every)


def _settings(beta, average, temperature, eps, activation):
    """Validated accumulator settings (the constructor checks them, before any graph)."""
    acc = _fs.FbetaAccumulator(beta, average, temperature=temperature, eps=eps, activation=activation)
    return {"beta": acc.beta, "average": acc.average, "temperature": acc.temperature,
            "eps": acc.eps, "activation": acc.activation}


def soft_confusion(logits, target, *, temperature=1.0, split_every=None):
    """Soft (tp, fp, fn, tn) of a batch chunked along its samples (axis 0), as
    :func:`fastsmooth.soft_confusion` with ``axis=0``.

    Returns a :class:`fastsmooth.SoftConfusion` of lazy float64 Dask arrays (0-d for
    (N,) logits, (K,) for (N, K)). Each block's counts come from the NumPy kernels in
    one pass; Dask's tree reduction adds them (``split_every`` as for ``da.sum``).

    Examples
    --------
    >>> import dask.array as da, fastsmooth as fs, fastsmooth.dask as fsd
    >>> z = np.array([2.0, -1.0, 0.5, -3.0]); t = np.array([1, 0, 0, 1])
    >>> c = fsd.soft_confusion(da.from_array(z, chunks=2), da.from_array(t, chunks=2))
    >>> bool(np.allclose([v.compute() for v in c], fs.soft_confusion(z, t)))
    True
    """
    settings = _settings(1.0, "none", temperature, 1e-7, "sigmoid")
    x, t = _fbeta_inputs(logits, target, "sigmoid", "soft_confusion")
    total = _counts(x, t, settings, split_every)
    return _fs.SoftConfusion(*(total[i] for i in range(4)))


def fbeta_accumulator(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
                      activation="sigmoid", split_every=None):
    """A :class:`fastsmooth.FbetaAccumulator` holding the counts of a whole batch
    chunked along its samples, as a ``dask.delayed`` object (``.compute()`` it).

    Settings as the accumulator's constructor (``activation="softmax"``: multi-class,
    ``target`` class ids (N,) or one-hot (N, K)). Every block's counts are summed by
    Dask's tree reduction. The computed accumulator gives the batch's ``loss()``, takes
    in the counts of others with ``merge`` (in place; ``a + b`` for a new one), and its
    ``backward(block_logits, block_target)`` is each
    block's exact share of the gradient (:func:`soft_fbeta_loss_backward` does that
    blockwise on Dask arrays).

    Examples
    --------
    >>> import dask.array as da, fastsmooth as fs, fastsmooth.dask as fsd
    >>> z = np.linspace(-2, 2, 10); t = (np.arange(10) % 3 == 0)
    >>> acc = fsd.fbeta_accumulator(da.from_array(z, chunks=4), da.from_array(t, chunks=4)).compute()
    >>> bool(np.isclose(acc.loss(), fs.soft_fbeta_loss(z, t))), acc.n_samples
    (True, 10)
    """
    import dask

    settings = _settings(beta, average, temperature, eps, activation)
    x, t = _fbeta_inputs(logits, target, activation, "fbeta_accumulator")
    total = _counts(x, t, settings, split_every)
    return dask.delayed(_fs.FbetaAccumulator.from_counts)(total, int(x.shape[0]), **settings)


def soft_fbeta_loss(logits, target, *, beta=1.0, average="micro", temperature=1.0, eps=1e-7,
                    split_every=None):
    """:func:`fastsmooth.soft_fbeta_loss` of a batch chunked along its samples.

    The soft counts of every block are summed by Dask's tree reduction (as in
    :func:`fbeta_accumulator`) and the loss is computed once from the totals, so it is
    the loss of the whole batch, whatever the chunking.

    Parameters
    ----------
    logits : dask.array.Array or array_like, shape (N,) or (N, K)
        Scores; chunked along the samples (axis 0), one chunk along the classes.
    target : dask.array.Array or array_like
        0/1 (or [0, 1]) targets shaped like ``logits``, chunked like it.
    beta, average, temperature, eps
        As :func:`fastsmooth.soft_fbeta_loss`.
    split_every : int, optional
        How many blocks' counts one merge task adds (Dask's default when None).

    Returns
    -------
    dask.array.Array
        Lazy: 0-d, or (K,) for ``average="none"``, in the float dtype of the logits.

    See Also
    --------
    fastsmooth.soft_fbeta_loss : the NumPy version.
    soft_fbeta_loss_backward : its gradient, block by block.

    Examples
    --------
    >>> import dask.array as da, fastsmooth as fs, fastsmooth.dask as fsd
    >>> z = np.linspace(-2.0, 2.0, 10); t = np.arange(10) % 3 == 0
    >>> loss = fsd.soft_fbeta_loss(da.from_array(z, chunks=4), da.from_array(t, chunks=4))
    >>> bool(np.isclose(loss.compute(), fs.soft_fbeta_loss(z, t), rtol=1e-14))
    True
    """
    import dask

    acc = fbeta_accumulator(logits, target, beta=beta, average=average, temperature=temperature,
                            eps=eps, split_every=split_every)
    x = da.asarray(logits)
    out_dtype = float_dtypes(x.dtype, "soft_fbeta_loss", "logits")[1]
    shape = x.shape[1:] if average == "none" else ()
    return da.from_delayed(dask.delayed(_finished_loss)(acc, out_dtype), shape=shape, dtype=out_dtype)


def _finished_loss(acc, dtype):
    return _astype_quiet(np.asarray(acc.loss()), dtype)


def soft_fbeta_loss_backward(grad, logits, target, *, beta=1.0, average="micro", temperature=1.0,
                             eps=1e-7, split_every=None):
    """:func:`fastsmooth.soft_fbeta_loss_backward` of a batch chunked along its samples.

    The counts of the whole batch are reduced first; each block's gradient is then
    computed from them (``counts=``), so together the blocks give exactly the gradient of
    the whole batch's loss -- not the gradients of per-block losses, which for F-beta
    would be wrong.

    Parameters
    ----------
    grad : float or array_like
        Upstream gradient of the loss (a scalar, or (K,) for ``average="none"``).
    logits, target : dask.array.Array or array_like
        As :func:`soft_fbeta_loss`.
    beta, average, temperature, eps, split_every
        As :func:`soft_fbeta_loss`.

    Returns
    -------
    dask.array.Array
        Lazy d loss / d logits, shaped and chunked like ``logits`` (one chunk along the
        classes), in the float dtype of the logits.

    See Also
    --------
    fastsmooth.soft_fbeta_loss_backward : the NumPy version (``counts=`` is how each
        block gets its share).

    Examples
    --------
    >>> import dask.array as da, fastsmooth as fs, fastsmooth.dask as fsd
    >>> z = np.linspace(-2.0, 2.0, 10); t = np.arange(10) % 3 == 0
    >>> g = fsd.soft_fbeta_loss_backward(1.0, da.from_array(z, chunks=4), da.from_array(t, chunks=4))
    >>> g.chunks
    ((4, 4, 2),)
    >>> bool(np.allclose(g.compute(), fs.soft_fbeta_loss_backward(1.0, z, t), rtol=1e-13))
    True
    """
    settings = _settings(beta, average, temperature, eps, "sigmoid")
    x, t = _fbeta_inputs(logits, target, "sigmoid", "soft_fbeta_loss_backward")
    total = _counts(x, t, settings, split_every).rechunk(-1).to_delayed().ravel()[0]
    del settings["activation"]
    out_dtype = float_dtypes(x.dtype, "soft_fbeta_loss_backward", "logits")[1]  # as each block returns
    return da.map_blocks(_block_fbeta_grad, x, t, total, grad, settings, dtype=out_dtype)


def _block_fbeta_grad(x, t, counts, grad, settings):
    return _fs.soft_fbeta_loss_backward(grad, x, t, counts=counts, **settings)


# ---------------------------------------------------------------------------------------
# Sharing the cores between workers


class NumbaThreads(_WorkerPlugin):
    """Dask worker plugin: cap the Numba threads of each fastsmooth kernel call on a
    worker, so that the worker threads of a machine share its cores instead of each
    using all of them.

    Parameters
    ----------
    n : int, optional
        Threads per kernel call. Default: the machine's cores (those Numba may use)
        divided by the Dask worker threads on that host, known to the scheduler when
        the worker sets the plugin up (at registration, or when it joins), at least 1.

    Notes
    -----
    Dask's nanny sets ``OMP_NUM_THREADS=1`` and friends for its workers but not
    ``NUMBA_NUM_THREADS`` (dask/distributed#9075), so each worker's parallel kernels
    would use every core. ``numba.set_num_threads`` cannot fix that from a plugin: it
    applies to the calling Python thread only, not to the worker's task threads. The
    plugin sets a process-wide cap that fastsmooth applies to every kernel call
    (:func:`fastsmooth._config.set_max_threads`); with a cap of 1 the serial kernels
    run. It does not affect other Numba code; for that, start the workers with
    ``NUMBA_NUM_THREADS`` set (see the module documentation).

    Examples
    --------
    With a ``distributed.Client`` ``client``, ``client.register_plugin(NumbaThreads())``
    gives each worker thread its share of the cores. Here an in-process cluster with
    one worker of two threads, and one thread per kernel call:

    >>> from distributed import Client, LocalCluster
    >>> import fastsmooth.dask as fsd
    >>> from fastsmooth._config import num_threads
    >>> with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
    ...                   dashboard_address=None) as cluster, Client(cluster) as client:
    ...     _ = client.register_plugin(fsd.NumbaThreads(1))
    ...     print(set(client.run(num_threads).values()))   # threads of one kernel call
    {1}
    """

    name = "fastsmooth-numba-threads"

    def __init__(self, n=None):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"NumbaThreads: `n` must be an int >= 1 or None, got {n!r}")
        self.n = n
        self._previous = None

    async def setup(self, worker):
        n = self.n if self.n is not None else await _share_of_cores(worker)
        self._previous = _config.set_max_threads(n)

    def teardown(self, worker):
        _config.set_max_threads(self._previous)


async def _share_of_cores(worker):
    """Cores Numba may use on this machine // Dask worker threads on this host (>= 1)."""
    from distributed.comm import get_address_host

    host = get_address_host(worker.address)
    threads = worker.state.nthreads
    try:
        info = await worker.scheduler.identity()
        on_host = [
            w["nthreads"] for a, w in info["workers"].items() if get_address_host(a) == host
        ]
        threads = max(threads, sum(on_host))
    except Exception:  # noqa: BLE001 - no scheduler answer: count this worker alone
        pass
    cores = numba.config.NUMBA_DEFAULT_NUM_THREADS or os.cpu_count() or 1
    return max(1, cores // max(threads, 1))
