"""Input policy shared by every public function: dtypes, axes, scalars, row layout.

Validation happens here, in the public layer, before any kernel runs; kernels assume a
checked, C-contiguous 2-D float32/float64 array of rows.
"""

from __future__ import annotations

import numbers
import operator
from math import prod

import numpy as np

__all__ = [
    "as_float_array",
    "normalize_axes",
    "check_real",
    "check_temperature",
    "Rows",
    "to_rows",
]

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def as_float_array(x, fname, name="x"):
    """``(a, out_dtype)``: ``x`` as a float32/float64 ndarray to compute with, and the
    dtype of the result. float32 -> float32, float64 -> float64, float16 -> computed in
    float32 and returned as float16, bool/int -> float64, other floats (long double) ->
    float64. Complex, object, string, datetime... raise ``TypeError``. No copy is made
    when ``x`` is already a float32/float64 array."""
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind in "biu":
        return a.astype(_F64), _F64
    if kind != "f":
        raise TypeError(
            f"{fname}: `{name}` must be an array of real numbers (bool, int or float), "
            f"got dtype {a.dtype}"
        )
    if a.dtype == _F32 or a.dtype == _F64:
        return a, a.dtype
    if a.dtype == _F16:
        return a.astype(_F32), _F16
    return a.astype(_F64), _F64


def normalize_axes(axis, ndim, fname, *, multiple=True):
    """Sorted tuple of non-negative axes. ``axis`` is an int, or (if ``multiple``) a
    tuple of ints or None for all axes. Out of range or repeated axes raise
    ``numpy.exceptions.AxisError`` (a ``ValueError``); wrong types ``TypeError``."""
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
        return np.ascontiguousarray(
            other.transpose(self.perm).reshape(self.data.shape), dtype=self.data.dtype
        )

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
        inverse = np.argsort(self.perm)
        return out_rows.reshape(self.moved_shape).transpose(inverse)

    def reduced(self, out, keepdims):
        """One value per row back to the reduced shape (or kept dims)."""
        return out.reshape(self.keepdims_shape if keepdims else self.reduced_shape)


def to_rows(a, axes):
    """View ``a`` (a float32/float64 ndarray) as :class:`Rows` over ``axes``.

    No copy is made when the moved layout is already C-contiguous (the common case: the
    last axis of a C-ordered array, or the first of an F-ordered one); otherwise one copy
    puts the reduced axes last."""
    kept = [i for i in range(a.ndim) if i not in axes]
    perm = tuple(kept) + tuple(axes)
    moved = a.transpose(perm)
    n = prod(a.shape[i] for i in axes)
    n_rows = prod(a.shape[i] for i in kept)
    data = np.ascontiguousarray(moved.reshape(n_rows, n))
    return Rows(data, a.shape, tuple(axes), perm, moved.shape)
