"""Array maps of the kernel-only ``exp``, ``expm1`` and ``log1p`` of
:mod:`fastsmooth._exp`, for the tests (they were test-only helpers of the package).

``exp_array(x)`` etc. apply the scalar function element by element to a float32 or
float64 array; ``_exp_map`` etc. are the jitted loops (their ``py_func`` is compiled
again, uncached, by the vectorization tests to read the assembly)."""

from __future__ import annotations

import numpy as np

from fastsmooth._config import FASTMATH, jit
from fastsmooth._exp import exp, expm1, log1p

__all__ = ["exp_array", "expm1_array", "log1p_array", "_exp_map", "_expm1_map", "_log1p_map"]


@jit(fastmath=FASTMATH)
def _exp_map(x, out):
    for i in range(x.size):
        out[i] = exp(x[i])


@jit(fastmath=FASTMATH)
def _expm1_map(x, out):
    for i in range(x.size):
        out[i] = expm1(x[i])


@jit(fastmath=FASTMATH)
def _log1p_map(x, out):
    for i in range(x.size):
        out[i] = log1p(x[i])


def _map_array(kernel_map, x, fname):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fname}: `x` must be float32 or float64, got {x.dtype}")
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    kernel_map(flat, out)
    return out.reshape(x.shape)


def exp_array(x):
    """Element-wise :func:`fastsmooth._exp.exp` of a float32 or float64 array."""
    return _map_array(_exp_map, x, "exp_array")


def expm1_array(x):
    """Element-wise :func:`fastsmooth._exp.expm1` of a float32 or float64 array."""
    return _map_array(_expm1_map, x, "expm1_array")


def log1p_array(x):
    """Element-wise :func:`fastsmooth._exp.log1p` of a float32 or float64 array."""
    return _map_array(_log1p_map, x, "log1p_array")
