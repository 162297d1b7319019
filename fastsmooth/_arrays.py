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
    "normalize_axes",
    "check_real",
    "check_temperature",
    "Rows",
    "to_rows",
]

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def float_dtypes(dtype, fname, name="x"):
    """``(compute, out)``: the dtype fastsmooth computes in for an input of ``dtype``, and
    the dtype of the result. float32 -> float32, float64 -> float64, float16 -> computed
    in float32 and returned as float16, bool/int -> float64, other floats (long double)
    -> float64. Complex, object, string, datetime... raise ``TypeError``. (The dtype
    rule on its own, for inputs that are not NumPy arrays: Dask arrays.)"""
    dtype = np.dtype(dtype)
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
    a = np.asarray(x)
    compute, out = float_dtypes(a.dtype, fname, name)
    return (a if a.dtype == compute else a.astype(compute)), out


def normalize_axes(axis, ndim, fname, *, multiple=True):
    """Sorted tuple of non-negative axes. ``axis`` is an int, or (if ``multiple``) a
    tuple of ints or None for all axes. Out of range or repeated axes raise
    ``numpy.exceptions.AxisError`` (a ``ValueError``); wrong types ``TypeError``.

    A 0-d array accepts ``axis`` 0 or -1 (and None) and gives ``()``: its one element
    is the whole slice (:func:`to_rows` makes it one row of one element), so every
    reduction works on it with its default axis, as in NumPy and torch."""
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
    v = value
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{fname}: `{name}` must be a real number, got {value!r}")
    return float(v)


def check_temperature(temperature, fname, name="temperature"):
    """The temperature as a Python float; must be a real, finite number > 0."""
    t = temperature
    if type(t) is float and 0.0 < t < float("inf"):  # fast path: the common call
        return t
    t = check_real(temperature, fname, name)
    if not (np.isfinite(t) and t > 0.0):
        raise ValueError(f"{fname}: `{name}` must be a finite number > 0, got {temperature!r}")
    return t


class Rows:
    """An array seen as C-contiguous rows ``(R, n)``: the reduced axes moved last and
    flattened into ``n``, the kept axes flattened into ``R`` (in their C order)."""

    __slots__ = ("data", "shape", "axes", "perm", "moved_shape")

    def __init__(self, data, shape, axes, perm, moved_shape):
        self.data = data
        self.shape = shape
        self.axes = axes
        self.perm = perm
        self.moved_shape = moved_shape

    @property
    def reduced_shape(self):
        return tuple(s for i, s in enumerate(self.shape) if i not in self.axes)

    @property
    def keepdims_shape(self):
        return tuple(1 if i in self.axes else s for i, s in enumerate(self.shape))

    def like(self, other, fname, name):
        """Another array of the same shape (a gradient) in the same row layout."""
        other = np.asarray(other)
        if other.shape != self.shape:
            raise ValueError(
                f"{fname}: `{name}` must have shape {self.shape}, got {other.shape}"
            )
        if other.dtype.kind not in "biuf":
            raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
        return _rows_data(other.astype(self.data.dtype, copy=False), self.axes, self.perm,
                          self.data.shape)

    def per_row(self, other, fname, name):
        """An array in the reduced shape (with or without kept dims) as ``(R,)``."""
        other = np.asarray(other)
        if other.shape not in (self.reduced_shape, self.keepdims_shape):
            raise ValueError(
                f"{fname}: `{name}` must have the reduced shape {self.reduced_shape} "
                f"(or {self.keepdims_shape} with kept dims), got {other.shape}"
            )
        if other.dtype.kind not in "biuf":
            raise TypeError(f"{fname}: `{name}` must be real, got dtype {other.dtype}")
        return np.ascontiguousarray(other.reshape(-1), dtype=self.data.dtype)

    def restore(self, out_rows):
        """Rows of the input's size back to the input's shape and axis order (a view)."""
        if self.perm == tuple(range(len(self.perm))):
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
