"""Chunk-state algebra of :mod:`fastsmooth.dask`: the state of one block, the merge of
the states of several blocks, and the output pass of one block given the merged state
of its slices.

A state holds, per slice, the pair ``(m, s)`` of :mod:`._rowops` -- never a finished
LogSumExp: a softmax rebuilt as ``exp(x - lse)`` is wrong near +-1e308 -- and is a
structured array shaped like the block with the reduced axes kept (size 1), so that
Dask concatenates and moves it like any chunk. ``m`` is stored as float64 (exact for
float32 input too). The kernels are those of :mod:`._reductions`; only the merging and
finishing of states lives here.
"""

from __future__ import annotations

import numpy as np

from ._arrays import to_rows
from ._config import jit, use_parallel
from ._exp import exp
from ._reductions import (_log_softmax_apply, _lse_finish, _soft_argmax_finish, _soft_argmax_sums, _softmax_apply,
                          _wmerge_finish, _wstats_pieces)
from ._schedules import _chunks, _merge_chunks, _tasks, row_stats as _row_stats
from ._rowops import lse_merge, wlse_merge

__all__ = [
    "LSE_STATE",
    "SOFT_ARGMAX_STATE",
    "WLSE_STATE",
    "block_lse_state",
    "merge_lse_states",
    "finish_lse_states",
    "block_softmax",
    "block_soft_argmax_state",
    "merge_soft_argmax_states",
    "finish_soft_argmax_states",
    "block_wlse_state",
    "merge_wlse_states",
    "finish_wlse_states",
]


#: State of LogSumExp / softmax / log-softmax: ``m`` the maximum, ``s`` the rescaled
#: sum of the other terms (nan iff the slice holds a nan).
LSE_STATE = np.dtype([("m", np.float64), ("s", np.float64)])
#: State of soft-argmax: adds ``w``, the sum of ``i * exp((x_i - m) / tau)`` with ``i``
#: counted from the start of the block, and ``n``, the block's length along the axis.
#: Consecutive blocks merge in order, each one's ``w`` shifted by the length before it.
SOFT_ARGMAX_STATE = np.dtype(
    [("m", np.float64), ("s", np.float64), ("w", np.float64), ("n", np.int64)]
)


def _state(dtype, **fields):
    out = np.empty(len(next(iter(fields.values()))), dtype)
    for name, value in fields.items():
        out[name] = value
    return out


def _state_fields(states, axes, names):
    """``(rows, fields)``: the named fields of ``states`` as rows over ``axes`` (the
    states to merge along each row, in order), each a contiguous 2-D array, and the
    :class:`._arrays.Rows` of the first (for the shape of the merged result)."""
    rows = [to_rows(np.ascontiguousarray(states[name]), axes) for name in names]
    return rows[0], [r.data for r in rows]


def block_lse_state(a, axes, inv_t):
    """The :data:`LSE_STATE` of each slice of the block ``a`` (a float32/float64 ndarray)
    over ``axes``, with the reduced axes kept. One read of ``a``, parallel when large."""
    rows = to_rows(a, axes)
    m, s, _, _ = _row_stats(rows.data, inv_t, use_parallel(rows.data.size))
    return rows.reduced(_state(LSE_STATE, m=m, s=s), True)


def merge_lse_states(states, axes, inv_t):
    """Merge the :data:`LSE_STATE` s of consecutive blocks, laid side by side along
    ``axes`` (at least one per slice), into one per slice (``axes`` kept, size 1)."""
    rows, (m, s) = _state_fields(states, axes, "ms")
    m_out = np.empty(m.shape[0])
    s_out = np.empty(m.shape[0])
    _merge_chunks(m, s, np.float64(inv_t), m_out, s_out, parallel=False)
    return rows.reduced(_state(LSE_STATE, m=m_out, s=s_out), True)


def finish_lse_states(states, tau, dtype):
    """LogSumExp from merged states: ``m + tau * log1p(s)`` with the special slices,
    in ``dtype``, shaped like ``states``."""
    out = np.empty(states.size, dtype)
    _lse_finish(
        np.ascontiguousarray(states["m"]).reshape(-1),
        np.ascontiguousarray(states["s"]).reshape(-1),
        tau,
        out,
    )
    return out.reshape(states.shape)


def block_softmax(a, axes, states, inv_t, log):
    """softmax (``log=False``) or log-softmax of the block ``a`` over ``axes``, given the
    merged :data:`LSE_STATE` of the whole slices the block is part of (the shape of
    ``a`` with ``axes`` of size 1)."""
    rows = to_rows(a, axes)
    x = rows.data
    m = np.ascontiguousarray(states["m"].reshape(-1), dtype=x.dtype)  # exact: m is an x
    s = np.ascontiguousarray(states["s"].reshape(-1))
    parallel = use_parallel(x.size)
    pieces, piece = _tasks(*x.shape, parallel)
    y = np.empty_like(x)
    apply = _log_softmax_apply if log else _softmax_apply
    apply(x, pieces, piece, m, s, inv_t, y, parallel=parallel)
    return rows.restore(y)


def block_soft_argmax_state(a, axis, inv_t):
    """The :data:`SOFT_ARGMAX_STATE` of each slice of the block ``a`` along ``axis``
    (kept, size 1): the LogSumExp state, then the index-weighted sum against the
    block's own maximum (two reads of ``a``, as :func:`soft_argmax`)."""
    rows = to_rows(a, (axis,))
    x = rows.data
    parallel = use_parallel(x.size)
    m, s, pieces, piece = _row_stats(x, inv_t, parallel)
    _, wsum = _soft_argmax_sums(x, m, inv_t, pieces, piece, parallel)
    # a slice with nothing above -inf has no weights (its terms are exp(-inf + inf));
    # it must add 0 to a merge, not nan
    w = np.where(m == -np.inf, 0.0, wsum)
    state = _state(SOFT_ARGMAX_STATE, m=m, s=s, w=w, n=np.full(x.shape[0], x.shape[1]))
    return rows.reduced(state, True)


@jit
def _rescale(m_old, m_new, inv_t):
    """Factor that moves a sum taken against the maximum ``m_old`` to ``m_new >= m_old``
    (1 when they are equal, which covers two infinite maxima)."""
    if m_old == m_new:
        return 1.0
    return exp((np.float64(m_old) - np.float64(m_new)) * inv_t)


@jit
def _merge_soft_argmax_pieces(m, s, w, n, inv_t, m_out, s_out, w_out, n_out):
    for r in range(m.shape[0]):
        mr, sr, wr, nr = m[r, 0], s[r, 0], w[r, 0], n[r, 0]
        for p in range(1, m.shape[1]):
            mp, sp = m[r, p], s[r, p]
            # the indices of piece p start after the nr elements before it
            wp = w[r, p] + np.float64(nr) * (sp + 1.0)
            mm, sm = lse_merge(mr, sr, mp, sp, inv_t)
            wr = wr * _rescale(mr, mm, inv_t) + wp * _rescale(mp, mm, inv_t)
            mr, sr, nr = mm, sm, nr + n[r, p]
        m_out[r] = mr
        s_out[r] = sr
        w_out[r] = wr
        n_out[r] = nr


def merge_soft_argmax_states(states, axis, inv_t):
    """Merge the :data:`SOFT_ARGMAX_STATE` s of consecutive blocks laid side by side, in
    order, along ``axis`` into one per slice (``axis`` kept, size 1)."""
    rows, fields = _state_fields(states, (axis,), "mswn")
    r = fields[0].shape[0]
    out = [np.empty(r), np.empty(r), np.empty(r), np.empty(r, np.int64)]
    _merge_soft_argmax_pieces(*fields, np.float64(inv_t), *out)
    return rows.reduced(_state(SOFT_ARGMAX_STATE, **dict(zip("mswn", out))), True)


def finish_soft_argmax_states(states, dtype):
    """soft-argmax ``w / (1 + s)`` from merged states (nan where nothing is above
    -inf), in ``dtype``, shaped like ``states``."""
    out = np.empty(states.size, dtype)
    _soft_argmax_finish(
        np.ascontiguousarray(states["m"]).reshape(-1),
        1.0 + np.ascontiguousarray(states["s"]).reshape(-1),
        np.ascontiguousarray(states["w"]).reshape(-1),
        out,
    )
    return out.reshape(states.shape)


#: State of the weighted LogSumExp (``b=``): ``m`` the maximum over the entries of
#: non-zero weight, ``c`` the sum of the weights at ``m``, ``s`` the rescaled weighted
#: sum of the other terms (see :mod:`._rowops`).
WLSE_STATE = np.dtype([("m", np.float64), ("c", np.float64), ("s", np.float64)])


@jit
def _wmerge_pieces(ms, cs, ss, inv_t, m_out, c_out, s_out):
    for r in range(ms.shape[0]):
        m, c, s = ms[r, 0], cs[r, 0], ss[r, 0]
        for p in range(1, ms.shape[1]):
            m, c, s = wlse_merge(m, c, s, ms[r, p], cs[r, p], ss[r, p], inv_t)
        m_out[r] = m
        c_out[r] = c
        s_out[r] = s


def block_wlse_state(a, w, axes, inv_t):
    """The :data:`WLSE_STATE` of each slice of the block ``a`` with weights ``w`` (same
    shape and float dtype) over ``axes``, the reduced axes kept."""
    rows = to_rows(a, axes)
    n_rows, n = rows.data.shape
    ms = np.empty((n_rows, _chunks(n)), rows.data.dtype)
    cs = np.empty((n_rows, _chunks(n)))
    ss = np.empty((n_rows, _chunks(n)))
    _wstats_pieces(rows.data, 1, max(n, 1), rows.like(w, "logsumexp", "b"), inv_t, ms, cs, ss,
                   parallel=use_parallel(rows.data.size))
    out = [np.empty(n_rows) for _ in range(3)]
    _wmerge_pieces(ms, cs, ss, np.float64(inv_t), *out)  # the chunks, left to right
    return rows.reduced(_state(WLSE_STATE, **dict(zip("mcs", out))), True)


def merge_wlse_states(states, axes, inv_t):
    """Merge the :data:`WLSE_STATE` s of blocks laid side by side along ``axes``."""
    rows, (m, c, s) = _state_fields(states, axes, "mcs")
    out = [np.empty(m.shape[0]) for _ in range(3)]
    _wmerge_pieces(m, c, s, np.float64(inv_t), *out)
    return rows.reduced(_state(WLSE_STATE, **dict(zip("mcs", out))), True)


def finish_wlse_states(states, tau, dtype):
    """Weighted LogSumExp from merged states (nan for a negative sum), in ``dtype``."""
    flat = [np.ascontiguousarray(states[k]).reshape(-1, 1) for k in "mcs"]
    out = np.empty(states.size)
    sign = np.empty(states.size)
    _wmerge_finish(*flat, 1.0, tau, False, out, sign)
    with np.errstate(over="ignore"):
        return out.reshape(states.shape).astype(dtype)
