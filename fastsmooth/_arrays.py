"""Input policy shared by every public function: dtypes, axes, scalars, row layout.

Validation happens here, in the public layer, before any kernel runs; kernels assume a
checked, C-contiguous 2-D float32/float64 array of rows.
"""

from __future__ import annotations

import numbers
import operator
from math import prod

import numpy as np
from numba import prange
from numba import uint64 as U

from ._config import kernel, use_parallel

__all__ = [
    "float_dtypes",
    "as_float_array",
    "asarray",
    "cast",
    "real_shaped",
    "result_cast",
    "inv_temperature",
    "weighted",
    "sum_to_shape",
    "normalize_axes",
    "check_real",
    "check_temperature",
    "Rows",
    "to_rows",
    "check_out",
    "direct_out",
    "finish_out",
    "fast_rows",
    "ENTRY_FLAGS",
]

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)

#: ``x.flags.num`` bits of an array that a fast path may hand to a kernel's compiled
#: entry point: C-contiguous, aligned and writeable (NPY_ARRAY_C_CONTIGUOUS | ALIGNED |
#: WRITEABLE), the array type the entry points are compiled for (Numba types a
#: read-only or an unaligned array differently).
ENTRY_FLAGS = 0x0001 | 0x0100 | 0x0400
_INF = float("inf")  # (``float("inf")`` in a test costs more than the rest of the check)


def float_dtypes(dtype, fname, name="x"):
    """``(compute, out)``: the dtype fastsmooth computes in for an input of ``dtype``, and
    the dtype of the result. float32 -> float32, float64 -> float64, float16 -> computed
    in float32 and returned as float16, bool/int -> float64, other floats (long double)
    -> float64. Complex, object, string, datetime... raise ``TypeError``. (The dtype
    rule on its own, for inputs that are not NumPy arrays: Dask arrays.)"""
    dtype = np.dtype(dtype)
    if not dtype.isnative:  # big-endian on a little-endian machine: maps like its twin
        dtype = dtype.newbyteorder("=")
    kind = dtype.kind
    if kind in "biu":
        return _F64, _F64
    if kind != "f":
        raise TypeError(
            f"{fname}: `{name}` must be an array of real numbers (bool, int or float), "
            f"got dtype {dtype}"
        )
    if dtype == _F32 or dtype == _F64:
        return dtype, dtype
    if dtype == _F16:
        return _F32, _F16
    return _F64, _F64


def as_float_array(x, fname, name="x"):
    """``(a, out_dtype)``: ``x`` as a float32/float64 ndarray to compute with, and the
    dtype of the result, by the rule of :func:`float_dtypes`. No copy is made when
    ``x`` is already a float32/float64 array."""
    a = asarray(x, fname, name)
    compute, out = float_dtypes(a.dtype, fname, name)
    return cast(a, compute), out


def cast(a, dtype):
    """``a`` as ``dtype`` (no copy when it already is), quietly: a value out of the
    range of ``dtype`` becomes ``inf`` as the cast defines, with no floating-point
    warning (none may leave the library)."""
    if a.dtype == dtype:
        return a
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return a.astype(dtype)


def result_cast(arr, dtype):
    """``arr`` as ``dtype`` (quietly: :func:`cast`); 0-d becomes a scalar."""
    arr = cast(arr, dtype)
    return arr[()] if arr.ndim == 0 else arr


_INV_T = {}


def inv_temperature(tau, dtype):
    """``1 / tau`` in ``dtype``, clamped to the largest finite value: an infinite
    reciprocal would turn the maximum's ``0 * inv_t`` into nan, while a huge finite one
    sends every other term to ``exp(-inf) = 0`` -- exactly the tau -> 0 limit. (Memoized:
    a call repeats one temperature, and this costs more than a small kernel.)"""
    key = (tau, dtype)
    hit = _INV_T.get(key)
    if hit is None:
        with np.errstate(over="ignore"):
            hit = min(dtype.type(1.0 / tau), np.finfo(dtype).max)
        if len(_INV_T) > 256:
            _INV_T.clear()
        _INV_T[key] = hit
    return hit


def weights_dtypes(w_dtype, weak, x_dtype, out_dtype, fname):
    """``(compute, out_dtype)``: the dtype ``x`` is computed in and the result dtype,
    with weights ``b`` of dtype ``w_dtype``. A float array ``b`` takes part in the dtype
    rule (float32 ``x`` with float64 ``b`` computes in float64); a bool or int ``b`` (a
    mask, counts) and a Python number (``weak``: NEP 50) do not."""
    if w_dtype.kind not in "biuf":
        raise TypeError(
            f"{fname}: `b` must be an array of real numbers (bool, int or float), got dtype {w_dtype}"
        )
    if w_dtype.kind == "f" and not weak:
        compute, out = float_dtypes(w_dtype, fname, "b")
        return np.result_type(x_dtype, compute), np.result_type(out_dtype, out)
    return x_dtype, out_dtype


def weights_shape(x_shape, w_shape, fname):
    """The shape ``x`` and the weights ``b`` broadcast to (a clear error if they do not)."""
    try:
        return np.broadcast_shapes(x_shape, w_shape)
    except ValueError:
        raise ValueError(
            f"{fname}: `b` of shape {w_shape} does not broadcast against `x` of shape {x_shape}"
        ) from None


def weighted(a, out_dtype, b, fname):
    """``(a, w, out_dtype)``: ``x`` and the weights ``b`` broadcast against each other,
    in one float dtype (:func:`weights_dtypes`)."""
    w = np.asarray(b)
    compute, out_dtype = weights_dtypes(w.dtype, isinstance(b, (int, float)), a.dtype, out_dtype, fname)
    a = a.astype(compute, copy=False)
    shape = weights_shape(a.shape, w.shape, fname)
    return np.broadcast_to(a, shape), np.broadcast_to(w, shape), out_dtype


def sum_to_shape(g, shape):
    """Sum a gradient taken in a broadcast shape back to ``shape``."""
    if g.shape == tuple(shape):
        return g
    with np.errstate(over="ignore", invalid="ignore"):  # inf/nan sums are results, not warnings
        g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
        ones = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
        return g.sum(axis=ones, keepdims=True) if ones else g


def asarray(x, fname, name="x"):
    """``np.asarray(x)``, with NumPy's complaint about a ragged nested list turned into
    a ``ValueError`` that names the function and the argument."""
    try:
        return np.asarray(x)
    except ValueError as exc:
        raise ValueError(
            f"{fname}: `{name}` must be an array or a rectangular nested sequence of "
            f"numbers ({exc})"
        ) from None


def normalize_axes(axis, ndim, fname, *, multiple=True):
    """Sorted tuple of non-negative axes. ``axis`` is an int, or (if ``multiple``) a
    tuple of ints or None for all axes. Out of range or repeated axes raise
    ``numpy.exceptions.AxisError`` (a ``ValueError``); wrong types ``TypeError``.

    A 0-d array accepts ``axis`` 0 or -1 (and None) and gives ``()``: its one element
    is the whole slice (:func:`to_rows` makes it one row of one element), so every
    reduction works on it with its default axis, as in NumPy and torch."""
    if type(axis) is int and -ndim <= axis < ndim:  # fast path: one int axis
        return (axis % ndim,)
    if axis is None:
        if not multiple:
            raise TypeError(f"{fname}: `axis` must be an int, got None")
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        if not multiple:
            raise TypeError(f"{fname}: `axis` must be an int, got {axis!r}")
        items = list(axis)
    else:
        items = [axis]
    out = []
    for ax in items:
        if isinstance(ax, (bool, np.bool_)):
            raise TypeError(f"{fname}: `axis` must be an int or a tuple of ints, got {axis!r}")
        try:
            ax = operator.index(ax)
        except TypeError:
            expected = "an int or a tuple of ints" if multiple else "an int"
            raise TypeError(f"{fname}: `axis` must be {expected}, got {axis!r}") from None
        if ndim == 0 and ax in (0, -1):
            continue  # a 0-d array reduces over its one element (as NumPy and torch)
        if not -ndim <= ax < ndim:
            raise np.exceptions.AxisError(
                f"{fname}: `axis` {ax} is out of range for an array of dimension {ndim}"
            )
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}: `axis` contains a repeated axis: {axis!r}")
    return tuple(sorted(out))


def check_real(value, fname, name):
    """``value`` (a real number or a 0-d real array; not a bool) as a Python float."""
    if type(value) is float:  # fast path: the common call
        return value
    v = value
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fname}: `{name}` must be a real number, got {value!r}")
    return float(v)


def check_temperature(temperature, fname, name="temperature"):
    """The temperature as a Python float; must be a real, finite number > 0."""
    t = temperature
    if type(t) is float and 0.0 < t < _INF:  # fast path: the common call
        return t
    t = check_real(temperature, fname, name)
    if not (np.isfinite(t) and t > 0.0):
        raise ValueError(f"{fname}: `{name}` must be a finite number > 0, got {temperature!r}")
    return t


# ---------------------------------------------------------------------------------------
# The fast path of the common call


def fast_rows(x, axis, out):
    """``x`` as rows ``(R, n)`` over its last axis, or None: the fast path of a row
    function, for the common call that no check can fail -- ``x`` a non-empty,
    C-contiguous float32/float64 ndarray, ``axis`` the int -1 (or ``x.ndim - 1``), no
    ``out``. A few attribute reads instead of the full checks (``np.asarray``, the dtype
    rule, axis normalisation, the :class:`Rows` layout); everything else returns None
    and takes the full path, with its messages. (``x.flags.num & 1`` is
    NPY_ARRAY_C_CONTIGUOUS; a 1-d ``x`` becomes one row by ``x[None]``, a cheaper view
    than ``reshape``.)"""
    if out is None and type(x) is np.ndarray and type(axis) is int:
        dt = x.dtype
        if (dt is _F64 or dt is _F32) and x.flags.num & 1 and x.size:
            nd = x.ndim
            if nd == 1:
                if axis == -1 or axis == 0:
                    return x[None]
            elif nd and (axis == -1 or axis == nd - 1):
                return x.reshape(-1, x.shape[-1])
    return None


# ---------------------------------------------------------------------------------------
# ``out=``: the caller's buffer for a result


def check_out(out, shape, dtype, fname, name="out"):
    """``out`` checked as the buffer for a result of ``shape`` and ``dtype``: a writeable
    ndarray of exactly that shape (``ValueError`` otherwise) and dtype (``TypeError``;
    no casting, as NumPy's ``casting="no"``). A 0-d result takes a 0-d array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"{fname}: `{name}` must be a NumPy array (ndarray) or None, got "
            f"{type(out).__name__}"
        )
    if out.dtype != dtype:
        raise TypeError(f"{fname}: `{name}` must have dtype {np.dtype(dtype)}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: `{name}` must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: `{name}` is read-only")
    return out


def direct_out(out, shape, dtype, fname, *inputs):
    """For a kernel that can write its result straight into the caller's buffer:
    ``out`` (checked by :func:`check_out`) when it is C-contiguous and shares no memory
    with ``inputs``; None when there is no ``out`` or when the result must be computed
    into a fresh array and copied (a strided ``out``, or one that overlaps an input --
    both supported, through :func:`finish_out`)."""
    if out is None:
        return None
    check_out(out, shape, dtype, fname)
    if not out.flags.c_contiguous:
        return None
    for a in inputs:
        if isinstance(a, np.ndarray) and np.may_share_memory(out, a):
            return None
    return out


def finish_out(result, out, fname):
    """The value a public function returns: ``result`` itself when ``out`` is None, else
    ``result`` written into ``out`` (checked by :func:`check_out`) and ``out``.

    Every public function that returns arrays takes ``out=`` through this one helper.
    ``result`` is an array or NumPy scalar (0-d: ``out`` is a 0-d array), or a tuple of
    them -- then ``out`` is a tuple of as many buffers, each one an array or None (that
    result is returned as computed). The result is complete before ``out`` is written,
    so ``out`` may be one of the inputs or overlap them (an in-place call): the answer
    is the one a call without ``out`` gives."""
    if out is None:
        return result
    if isinstance(result, tuple):
        if not isinstance(out, tuple) or len(out) != len(result):
            raise TypeError(
                f"{fname}: `out` must be a tuple of {len(result)} arrays (or None), got "
                f"{type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, tuple) else "")
            )
        for i, (r, o) in enumerate(zip(result, out)):
            if o is not None:
                r = np.asarray(r)
                check_out(o, r.shape, r.dtype, fname, f"out[{i}]")
        values = [r if o is None else _put(r, o) for r, o in zip(result, out)]
        return result._make(values) if hasattr(result, "_make") else tuple(values)
    r = np.asarray(result)
    check_out(out, r.shape, r.dtype, fname)
    return _put(r, out)


def _put(r, out):
    if r is not out:
        np.copyto(out, r, casting="no")
    return out


def real_shaped(other, shape, fname, name):
    """``other`` (a gradient) as an array of real numbers of exactly ``shape``."""
    other = asarray(other, fname, name)
    if other.shape != tuple(shape):
        raise ValueError(f"{fname}: `{name}` must have shape {tuple(shape)}, got {other.shape}")
    if other.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
    return other


class Rows:
    """An array seen as C-contiguous rows ``(R, n)``: the reduced axes moved last and
    flattened into ``n``, the kept axes flattened into ``R`` (in their C order)."""

    __slots__ = ("data", "shape", "axes", "perm", "moved_shape", "moved")

    def __init__(self, data, shape, axes, perm, moved_shape):
        self.data = data
        self.shape = shape
        self.axes = axes
        self.perm = perm
        self.moved_shape = moved_shape
        self.moved = perm != tuple(range(len(perm)))

    @property
    def reduced_shape(self):
        return tuple(s for i, s in enumerate(self.shape) if i not in self.axes)

    @property
    def keepdims_shape(self):
        return tuple(1 if i in self.axes else s for i, s in enumerate(self.shape))

    def like(self, other, fname, name):
        """Another array of the same shape (a gradient) in the same row layout."""
        other = real_shaped(other, self.shape, fname, name)
        return _rows_data(cast(other, self.data.dtype), self.axes, self.perm,
                          self.data.shape)

    def per_row(self, other, fname, name):
        """An array in the reduced shape (with or without kept dims) as ``(R,)``."""
        other = asarray(other, fname, name)
        if other.shape not in (self.reduced_shape, self.keepdims_shape):
            raise ValueError(
                f"{fname}: `{name}` must have the reduced shape {self.reduced_shape} "
                f"(or {self.keepdims_shape} with kept dims), got {other.shape}"
            )
        if other.dtype.kind not in "biuf":
            raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
        return np.ascontiguousarray(cast(other.reshape(-1), self.data.dtype))

    def restore(self, out_rows):
        """Rows of the input's size back to the input's shape and axis order (a view)."""
        if not self.moved:
            return out_rows.reshape(self.shape)
        inverse = np.argsort(self.perm)
        return out_rows.reshape(self.moved_shape).transpose(inverse)

    def reduced(self, out, keepdims):
        """One value per row back to the reduced shape (or kept dims)."""
        return out.reshape(self.keepdims_shape if keepdims else self.reduced_shape)


def to_rows(a, axes):
    """View ``a`` (a float32/float64 ndarray) as :class:`Rows` over ``axes``.

    No copy is made when the moved layout is already C-contiguous (the common case: the
    last axis of a C-ordered array, or the first of an F-ordered one); otherwise one copy
    puts the reduced axes last (a tiled parallel transpose when ``a`` is C-ordered and
    the reduced axes are adjacent, 8x faster than NumPy's strided copy)."""
    if len(axes) == 1 and axes[0] == a.ndim - 1 and a.flags.c_contiguous:
        # fast path: reducing the last axis of a C array is already rows
        n = a.shape[-1]
        data = a.reshape(-1, n) if n else a.reshape(prod(a.shape[:-1]), 0)
        return Rows(data, a.shape, axes, tuple(range(a.ndim)), a.shape)
    kept = [i for i in range(a.ndim) if i not in axes]
    perm = tuple(kept) + tuple(axes)
    n = prod(a.shape[i] for i in axes)
    n_rows = prod(a.shape[i] for i in kept)
    data = _rows_data(a, tuple(axes), perm, (n_rows, n))
    return Rows(data, a.shape, tuple(axes), perm, tuple(a.shape[i] for i in perm))


def _rows_data(a, axes, perm, rows_shape):
    """``a.transpose(perm)`` as a C-contiguous ``rows_shape`` array, copying only if
    needed."""
    moved = a.transpose(perm)
    if moved.flags.c_contiguous:
        return moved.reshape(rows_shape)
    k0, k1 = (axes[0], axes[-1] + 1) if axes else (0, 0)
    if a.flags.c_contiguous and axes == tuple(range(k0, k1)) and a.size:
        # (before, reduced, after) -> (before, after, reduced): a batch of 2-D transposes
        src = a.reshape(prod(a.shape[:k0]), prod(a.shape[k0:k1]), prod(a.shape[k1:]))
        dst = np.empty((src.shape[0], src.shape[2], src.shape[1]), a.dtype)
        _transpose_batches(src, dst, parallel=use_parallel(a.size))
        return dst.reshape(rows_shape)
    return np.ascontiguousarray(moved).reshape(rows_shape)


@kernel
def _transpose_batches(src, dst):
    """``dst[a] = src[a].T`` for C-contiguous ``src`` (A, B, C) and ``dst`` (A, C, B).

    Tiles of 8 source rows: for each column, the 8 source lines it reads stay in L1
    (rows 32 KiB apart map to the same cache set, and L1 has 12 ways) and the 8 values
    written fill one 64-byte line."""
    n_a, n_b, n_c = src.shape
    tb = 8
    tc = 64
    nb = (n_b + tb - 1) // tb
    nc = (n_c + tc - 1) // tc
    for k in prange(n_a * nb * nc):
        a = k // (nb * nc)
        rem = k - a * (nb * nc)
        b0 = (rem // nc) * tb
        c0 = (rem - (rem // nc) * nc) * tc
        b1 = min(b0 + tb, n_b)
        s = src[a]
        d = dst[a]
        for c in range(U(c0), U(min(c0 + tc, n_c))):
            drow = d[c]
            for b in range(U(b0), U(b1)):
                drow[b] = s[b, c]
