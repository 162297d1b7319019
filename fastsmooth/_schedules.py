"""The schedules of the row ops, written once: which task computes what, as kernel
factories that take the per-row math as ``@jit`` body helpers, and the one function
that picks a schedule.

A row op sees its input as C-contiguous rows ``(R, n)`` (:func:`._arrays.to_rows`).
Three schedules cover every reduction:

* **short rows** (``0 < n <=`` :data:`._rowops.SHORT_ROW`): GROUP rows at a time,
  gathered into a lane-per-row buffer so that the loops vectorize across rows
  (:func:`groups_kernel`);
* **whole rows**: one task per row (:func:`tasks_kernel` with one piece per row);
* **pieces**: few long rows cut into pieces of whole CHUNKs, so that they still use
  every core; per-chunk partial results, folded left to right afterwards (the fixed
  order of :mod:`._rowops`: every plan gives the same bits).

:func:`schedule` picks one. A generated kernel is a copy of one template function
whose globals name its body helper (``BODY``): no closure, so that Numba's cache index
key (which pickles closure cells) is the same in every process, and a ``__qualname__``
of its own, after which Numba names its cache files.
"""

from __future__ import annotations

import types

import numpy as np
from numba import prange

from ._arrays import (ENTRY_FLAGS as _ENTRY_FLAGS, as_float_array, check_temperature, fast_rows, finish_out,
                      inv_temperature, normalize_axes, result_cast, sum_to_shape, to_rows, weighted)
from ._columns import as_columns, reduced_shape
from ._config import FASTMATH, PARALLEL_MIN_ELEMENTS, Kernel, jit, kernel, use_parallel
from ._rowops import CHUNK, GROUP, SHORT_ROW, SPAN_ROWS, chunk_dot, chunk_state, group_spans, lse_merge

__all__ = ["ROW_IN_CACHE", "MIN_PIECE", "SPLIT_ROWS", "tasks_kernel", "groups_kernel", "schedule", "run",
           "two_pass", "row_op", "fast_path"]

#: A row longer than this is not assumed to stay in cache between passes.
ROW_IN_CACHE = 1 << 16
#: Elements of one parallel task when long rows are split into pieces.
MIN_PIECE = 1 << 15
#: Rows are split into pieces only when there are fewer rows than this.
SPLIT_ROWS = 64


def _plan(n_rows, n, parallel):
    """``(pieces, piece)``: how many pieces to cut each row into, of how many elements.
    One piece per row unless there are few rows (< :data:`SPLIT_ROWS`) and they are
    long (at least two :data:`MIN_PIECE`): then pieces of MIN_PIECE elements.

    Fixed element counts, never the thread count -- and the plan only decides which
    task computes what: every row is reduced in the fixed order of :mod:`._rowops`
    (chunks at absolute positions, combined left to right), so any plan gives the same
    bits (see :func:`_tasks`)."""
    if not parallel or n < 2 * MIN_PIECE or n_rows >= SPLIT_ROWS:
        return 1, max(n, 1)
    return -(-n // MIN_PIECE), MIN_PIECE


def _tasks(n_rows, n, parallel):
    """:func:`_plan` with each piece rounded up to whole CHUNKs: the kernels
    store one result per chunk, so a piece must start on a chunk boundary."""
    pieces, piece = _plan(n_rows, n, parallel)
    if pieces <= 1 or n <= CHUNK:
        return 1, max(n, 1)
    piece = max(CHUNK, -(-piece // CHUNK) * CHUNK)
    return -(-n // piece), piece


def _chunks(n):
    """Number of CHUNKs of a row of ``n`` elements (one for an empty row)."""
    return max(1, -(-n // CHUNK))


def schedule(n_rows, n, parallel, *, short=True, whole=None):
    """``("short" | "rows" | "pieces", pieces, piece)``: the schedule of a row op.

    Short rows when the op has a short-row kernel (``short``); else whole rows when the
    plan (:func:`_tasks`) keeps one piece per row -- or, when ``whole`` is a length, by
    length alone: rows of at most ``whole`` elements (an op whose one-pass and
    two-pass forms round differently must not let the thread count choose)."""
    if short and 0 < n <= SHORT_ROW:
        return "short", 1, n
    if whole is not None and n <= whole:
        return "rows", 1, max(n, 1)
    pieces, piece = _tasks(n_rows, n, parallel)
    if whole is None and pieces == 1:
        return "rows", 1, max(n, 1)
    return "pieces", pieces, piece


def run(x, parallel, args, *, short=None, rows=None, pieces=None, whole=None):
    """Run a row op on rows ``x`` by the schedule :func:`schedule` picks: the kernel
    ``short(x, *args)`` (:func:`groups_kernel`), ``rows(x, 1, n, *args)``
    (:func:`tasks_kernel`) or the Python function (a
    statistics pass, then a kernel over the pieces)."""
    kind, n_pieces, piece = schedule(*x.shape, parallel, short=short is not None, whole=whole)
    if kind == "short":
        return short(x, *args, parallel=parallel)
    if kind == "rows" and rows is not None:
        return rows(x, 1, piece, *args, parallel=parallel)
    return pieces(x, args, n_pieces, piece, parallel)


def two_pass(stats, apply):
    """The ``pieces`` of :func:`run` for an op that takes per-row statistics first:
    ``stats(x, args, pieces, piece, parallel)`` gives a tuple of per-row arrays, then
    the :func:`tasks_kernel` ``apply`` runs over the pieces with them before ``args``."""
    def pieces(x, args, n_pieces, piece, parallel):
        apply(x, n_pieces, piece, *stats(x, args, n_pieces, piece, parallel), *args, parallel=parallel)
    return pieces


# ---------------------------------------------------------------------------------------
# The wrapper of a row op


_UNTEMPERED = object()  # row_op's temperature for an op that has none


def _like_rows(extras, x, shape):
    """The ``extras`` of the fast path as rows of ``shape`` -- when every one is a
    ``"like"`` array that no check can fail: an ndarray of the dtype and shape of ``x``,
    C-contiguous (the view the full path's :meth:`Rows.like` makes of it) -- else
    None (the full path, with its checks and messages)."""
    args = []
    dt = x.dtype
    for _, v, kind in extras:
        if (kind != "like" or type(v) is not _ndarray or v.dtype is not dt or v.shape != x.shape
                or not v.flags.num & 1):
            return None
        args.append(v.reshape(shape))
    return args


def row_op(fname, x, axis, out, compute, *, temperature=_UNTEMPERED, name="x", multiple=True, reduce=False,
           keepdims=False, extras=(), weights=None, columns=None, fast=True):
    """The public side of a row op, written once: validation (``x`` -- named ``name``
    --, ``axis``, ``temperature``, the ``extras``), the dtype policy, axis handling, the
    column path, allocation by ``compute``, restore, cast and ``out=``.

    ``compute(rows, tau, parallel, *extras)`` takes C-contiguous rows ``(R, n)`` and
    returns one array (or a tuple) of rows (``reduce``: one value per row, kept dims
    with ``keepdims``). ``extras``: ``(name, value, "like" | "per_row")``, arrays of the
    input's shape or of the reduced shape, validated in order after ``x`` and given to
    ``compute`` as rows; ``weights`` (``b=``) join them last, broadcast against ``x``
    (then a gradient is summed back to the shape of ``x``). ``columns(cols, a, tau,
    axes)``: the result for an outer axis
    (:func:`._columns.as_columns`), or None to take rows. ``fast``: the common call (:func:`._arrays.
    fast_rows`) goes straight to ``compute``; a :func:`fast_path` takes the small serial
    ones first, straight to the kernel's compiled entry point."""
    if fast is not False and weights is None:
        if fast is not True and not extras:
            res = fast(x, axis, out, temperature, keepdims, fname)
            if res is not None:
                return res
        rows = fast_rows(x, axis, out)
        args = _like_rows(extras, x, rows.shape) if rows is not None and extras else ()
        if rows is not None and args is not None:
            tau = None if temperature is _UNTEMPERED else check_temperature(temperature, fname)
            res = compute(rows, tau, use_parallel(rows.size), *args)
            res = res.reshape(x.shape[:-1] + (1,) * keepdims if reduce else x.shape)
            return res if res.ndim else res[()]
    a, out_dtype = as_float_array(x, fname, name)
    x_shape = a.shape
    if weights is not None:
        a, w, out_dtype = weighted(a, out_dtype, weights, fname)
        extras = tuple(extras) + (("b", w, "like"),)
    axes = normalize_axes(axis, a.ndim, fname, multiple=multiple)
    tau = None if temperature is _UNTEMPERED else check_temperature(temperature, fname)
    cols = as_columns(a, axes) if columns is not None else None
    res = None if cols is None else columns(cols, a, tau, axes)
    if res is not None:
        res = res.reshape(reduced_shape(a.shape, axes, keepdims) if reduce else a.shape)
    else:
        rows = to_rows(a, axes)
        args = [rows.like(v, fname, n) if kind == "like" else rows.per_row(v, fname, n) for n, v, kind in extras]
        res = compute(rows.data, tau, use_parallel(rows.data.size), *args)
        res = _map(res, (lambda r: rows.reduced(r, keepdims)) if reduce else rows.restore)
        if weights is not None and not reduce:
            res = sum_to_shape(res, x_shape)
    return finish_out(_map(res, lambda r: result_cast(r, out_dtype)), out, fname)


_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_ndarray = np.ndarray
_empty = np.empty


def star_entry(k, lead, star):
    """The serial twin's compiled entry point of the groups kernel ``k`` (its
    arguments ``lead`` then ``*star``), for the Numba types of these values, loaded from
    the cache or compiled now if needed. Numba's dispatcher packs the star arguments
    into one tuple before it types them, so the entry point takes them as that tuple:
    ``entry(*lead, tuple(star))`` runs the very machine code that ``k(*lead, *star,
    parallel=False)`` runs, without typing every argument (and packing the tuple) on
    every call. The caller must have checked the types (exact dtypes; arrays
    C-contiguous, aligned, writeable): the entry point checks nothing."""
    d = k.serial
    return d.compile(tuple(d.typeof_pyval(a) for a in lead) + (d.typeof_pyval(tuple(star)),))


def fast_path(lead=None, *, short=None, rows=None, whole=None, reduce=False):
    """The fast path of a row op for small serial calls, given to :func:`row_op` as
    ``fast``: ``f(x, axis, out, temperature, keepdims)`` gives the result, or None to
    leave the call to :func:`row_op`.

    It takes the calls of :func:`._arrays.fast_rows` (a non-empty C-contiguous
    float32/float64 ndarray, the last axis, no ``out``) that are also aligned and
    writeable, under ``PARALLEL_MIN_ELEMENTS`` elements (the serial twin), and calls
    the compiled entry point (:func:`star_entry` of a groups kernel, ``serial_entry`` of
    a tasks kernel; memoized per dtype) of the kernel that :func:`run` would pick there:
    ``short(x, *lead, y)`` for rows of at most SHORT_ROW elements, else ``rows(x, 1, n,
    *lead, y)`` (up to ``whole`` elements when given, as :func:`schedule` decides
    serially) -- the same compiled code as the dispatcher, so the same bits. Other calls (soft_argmax's long rows, which take a
    Python pass) return None. ``lead(tau, dtype)``: the kernel's arguments before the
    result ``y`` (``tau`` the checked temperature; None for an op that has none), as
    :func:`run` gets them (default: ``(1 / tau,)`` in the dtype,
    :func:`._arrays.inv_temperature`); memoized per dtype and float temperature, so the
    check runs on the first call of each (a bad temperature raises the full path's
    error).
    ``reduce``: ``y`` holds one value per row."""
    most = whole if whole is not None else PARALLEL_MIN_ELEMENTS
    if lead is None:
        def lead(tau, dt):
            return (inv_temperature(tau, dt),)
    leads = {4: {}, 8: {}}  # itemsize -> temperature -> lead
    entries = {}  # itemsize + (1 if short) -> entry point

    def first_lead(temperature, dt, fname):
        tau = None if temperature is _UNTEMPERED else check_temperature(temperature, fname)
        got = tuple(lead(tau, dt))
        memo = leads[dt.itemsize]
        if type(temperature) is float or temperature is _UNTEMPERED:
            if len(memo) > 256:
                memo.clear()
            memo[temperature] = got
        return got

    def call(x, axis, out, temperature, keepdims, fname):
        if out is not None or type(x) is not _ndarray or type(axis) is not int:
            return None
        dt = x.dtype
        if not (dt is _F32 or dt is _F64) or x.flags.num & _ENTRY_FLAGS != _ENTRY_FLAGS:
            return None
        size = x.size
        nd = x.ndim
        if not (0 < size < PARALLEL_MIN_ELEMENTS and nd and (axis == -1 or axis == nd - 1)):
            return None
        shape = x.shape
        n = shape[-1]
        is_short = short is not None and n <= SHORT_ROW
        if not is_short and (rows is None or n > most):
            return None
        k = dt.itemsize
        lt = (leads[k].get(temperature) if type(temperature) is float or temperature is _UNTEMPERED
              else None)
        if lt is None:
            lt = first_lead(temperature, dt, fname)
        xr = x[None] if nd == 1 else x.reshape(-1, n)
        if reduce:
            y = yr = _empty(size // n, dt)
        else:
            y = _empty(shape, dt)
            yr = y[None] if nd == 1 else y.reshape(-1, n)
        key = k + is_short
        entry = entries.get(key)
        if is_short:
            if entry is None:
                entry = entries[key] = star_entry(short, (xr,), lt + (yr,))
            entry(xr, lt + (yr,))
        else:
            if entry is None:  # (a tasks kernel takes its arguments written out)
                entry = entries[key] = rows.serial_entry(xr, 1, n, *lt, yr)
            entry(xr, 1, n, *lt, yr)
        if not reduce:
            return y
        if nd == 1 and not keepdims:
            return y[0]
        return y.reshape(shape[:-1] + (1,) * keepdims)

    return call


def _map(res, f):
    return tuple(f(r) for r in res) if isinstance(res, tuple) else f(res)


# ---------------------------------------------------------------------------------------
# The kernel factories


def _generated(template, name, fastmath=FASTMATH, **bodies):
    """A :class:`._config.Kernel` of a copy of ``template`` whose globals add
    ``bodies``, named ``name`` (its cache files are named after it). The copy's code
    claims the file of its ``BODY``: Numba keys a cache on the source file's stamp, so
    editing a body recompiles its kernels (a change of the template changes the
    bytecode, which is in the key too). ``fastmath``: the kernel's flags."""
    code = template.__code__.replace(co_filename=bodies["BODY"].py_func.__code__.co_filename)
    fn = types.FunctionType(code, dict(template.__globals__, **bodies), name)
    fn.__qualname__ = name
    fn.__module__ = template.__module__
    return Kernel(fn, fastmath=fastmath)


_TASKS_TEMPLATES = {}


def _tasks_template(arity):
    """The template of :func:`tasks_kernel` for bodies of ``arity`` arguments after
    ``(x, r, lo, hi)``. Three things make the per-task cost of short rows small, as
    small as in a loop written by hand: the arguments are written out, as a call
    ``BODY(..., *args)`` in the loop unpacks the tuple at every task; whole rows
    (``pieces == 1``) take a loop of their own over the rows, with ``lo = 0`` and
    ``hi = n`` (a branch inside one loop over the tasks kept the cost: hardmax of
    (1M, 8) float32 on 2 threads took 7.3 ms that way, 3.5 ms so); and the body is
    inlined at the Numba IR level (:func:`tasks_kernel`), which LLVM did not do by
    itself."""
    template = _TASKS_TEMPLATES.get(arity)
    if template is None:
        names = ", ".join(f"a{i}" for i in range(arity))
        source = (f"def tasks(x, pieces, piece, {names}):\n"
                  "    n_rows, n = x.shape\n"
                  "    if pieces == 1:\n"
                  "        for r in prange(n_rows):\n"
                  f"            BODY(x, r, 0, n, {names})\n"
                  "    else:\n"
                  "        for k in prange(n_rows * pieces):\n"
                  "            r = k // pieces\n"
                  "            lo = (k - r * pieces) * piece\n"
                  f"            BODY(x, r, lo, min(n, lo + piece), {names})\n")
        scope = {}
        exec(compile(source, __file__, "exec"), globals(), scope)
        template = _TASKS_TEMPLATES[arity] = scope["tasks"]
    return template


def tasks_kernel(body, name):
    """``kernel(x, pieces, piece, *args)``: ``body(x, r, lo, hi, *args)`` for each piece
    ``[lo, hi)`` of each row ``r`` (the plan of :func:`_tasks`; ``pieces = 1, piece =
    n`` for whole rows), one task each."""
    # inlined at the IR level, the body's code takes the kernel's flags: give the kernel its own
    flags = body.targetoptions["fastmath"]
    inlined = jit(body.py_func, fastmath=flags, inline="always")
    return _generated(_tasks_template(body.py_func.__code__.co_argcount - 4), name, flags, BODY=inlined)


def _groups_template(x, *args):
    n_rows = x.shape[0]
    for k in prange(group_spans(n_rows)):
        scratch = SCRATCH(x)  # noqa: F821
        for r0 in range(k * SPAN_ROWS, min((k + 1) * SPAN_ROWS, n_rows), GROUP):
            BODY(x, r0, min(GROUP, n_rows - r0), scratch, *args)  # noqa: F821


def groups_kernel(body, scratch, name):
    """``kernel(x, *args)`` for short rows: a task is SPAN_ROWS rows, taken GROUP at a
    time by ``body(x, r0, g, scratch, *args)`` (rows ``r0 .. r0 + g``), with the
    buffers ``scratch(x)`` that each task allocates once."""
    return _generated(_groups_template, name, BODY=body, SCRATCH=scratch)


# ---------------------------------------------------------------------------------------
# Per-chunk partial results of pieces, and their fold in the fixed order


@jit
def _stats_piece(x, r, lo, hi, inv_t, ms, ss):
    """``(ms[r, c], ss[r, c])``: the LogSumExp state of each chunk ``c`` in ``[lo, hi)``."""
    for clo in range(lo, max(hi, lo + 1), CHUNK):
        c = clo // CHUNK
        ms[r, c], ss[r, c] = chunk_state(x[r], clo, min(clo + CHUNK, hi), inv_t)


_stats_pieces = tasks_kernel(_stats_piece, "_stats_pieces")


@kernel
def _merge_chunks(ms, ss, inv_t, m_out, s_out):
    """Fold the chunk states of each row left to right, as :func:`lse_state` does."""
    for r in prange(ms.shape[0]):
        m = ms[r, 0]
        s = ss[r, 0]
        for c in range(1, ms.shape[1]):
            m, s = lse_merge(m, s, ms[r, c], ss[r, c], inv_t)
        m_out[r] = m
        s_out[r] = s


def row_stats(rows, inv_t, parallel):
    """Per-row LogSumExp state ``(m, s, pieces, piece)`` (see :mod:`._rowops`), one read
    of ``rows``; the same bits as :func:`lse_state` of each whole row, whatever the
    plan."""
    n_rows, n = rows.shape
    pieces, piece = _tasks(n_rows, n, parallel)
    ms = np.empty((n_rows, _chunks(n)), rows.dtype)
    ss = np.empty((n_rows, _chunks(n)), np.float64)
    _stats_pieces(rows, pieces, piece, inv_t, ms, ss, parallel=parallel)
    m = np.empty(n_rows, rows.dtype)
    s = np.empty(n_rows, np.float64)
    _merge_chunks(ms, ss, np.float64(inv_t), m, s, parallel=parallel)
    return m, s, pieces, piece


@jit
def _sums_piece(a, r, lo, hi, b, out):
    """``out[r, c]``: sum of ``a`` (``b`` is None) or of ``a * b`` over each chunk ``c``."""
    for clo in range(lo, hi, CHUNK):
        if b is None:
            out[r, clo // CHUNK] = chunk_dot(a[r], None, clo, min(clo + CHUNK, hi))
        else:
            out[r, clo // CHUNK] = chunk_dot(a[r], b[r], clo, min(clo + CHUNK, hi))


_row_sums_pieces = tasks_kernel(_sums_piece, "_row_sums_pieces")


@kernel
def _fold_sums(parts, out):
    """``out[r] = sum(parts[r])`` left to right from 0.0, as :func:`row_dot` adds."""
    for r in prange(parts.shape[0]):
        s = 0.0
        for c in range(parts.shape[1]):
            s += parts[r, c]
        out[r] = s


def row_sums(a, b, pieces, piece, parallel):
    """Per row ``sum(a)`` (``b`` None) or ``sum(a * b)`` in float64: the same bits as
    :func:`row_dot` of each whole row, whatever the plan."""
    parts = np.zeros((a.shape[0], _chunks(a.shape[1])), np.float64)
    _row_sums_pieces(a, pieces, piece, b, parts, parallel=parallel)
    return folded(parts, parallel)


def folded(parts, parallel):
    """``sum(parts[r])`` per row, left to right from 0.0 (the fixed order)."""
    out = np.empty(parts.shape[0], np.float64)
    _fold_sums(parts, out, parallel=parallel)
    return out
