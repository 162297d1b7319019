"""Shared test helpers: the array zoo of layouts, and finite-difference gradient checks."""

from __future__ import annotations

import numpy as np

RNG_SEED = 20261123


def rng(seed=0):
    return np.random.default_rng(RNG_SEED + seed)


def layouts(a):
    """``(name, view)`` pairs with the same values as ``a`` in different memory layouts:
    C order, F order, a strided view, a negative-stride view and a read-only array."""
    out = [("C", np.ascontiguousarray(a)), ("F", np.asfortranarray(a))]
    big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    out.append(("strided", view))
    if a.ndim:
        rev = np.ascontiguousarray(a[..., ::-1])[..., ::-1]
        out.append(("negative-stride", rev))
    ro = np.array(a)
    ro.flags.writeable = False
    out.append(("read-only", ro))
    return out


def directional_fd(f, x, v, eps=1e-6):
    """Central finite difference of ``f`` at ``x`` in direction ``v``."""
    return (np.asarray(f(x + eps * v), np.float64) - np.asarray(f(x - eps * v), np.float64)) / (2 * eps)


def check_vjp_fd(f, vjp, x, grad, *, seed=0, eps=1e-6, rtol=1e-6, atol=1e-9):
    """``<vjp(grad), v> == <grad, df(x)[v]>`` for a few random directions ``v``."""
    r = rng(seed)
    dx = np.asarray(vjp(grad, x), np.float64)
    assert dx.shape == x.shape
    for _ in range(3):
        v = r.standard_normal(x.shape)
        lhs = float(np.sum(dx * v))
        rhs = float(np.sum(np.asarray(grad) * directional_fd(f, x, v, eps)))
        np.testing.assert_allclose(lhs, rhs, rtol=rtol, atol=atol)


def full_jacobian_fd(f, x, eps=1e-6):
    """Dense Jacobian ``d f(x) / d x`` of shape ``f(x).shape + x.shape`` (tiny x only)."""
    y0 = np.asarray(f(x), np.float64)
    jac = np.zeros(y0.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = 1.0
        jac[(Ellipsis,) + idx] = directional_fd(f, x, e, eps)
    return jac
