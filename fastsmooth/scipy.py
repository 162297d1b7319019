"""A drop-in for ``scipy.special.logsumexp``, ``softmax`` and ``log_softmax``.

Swap one import line::

    from scipy.special import logsumexp, softmax, log_softmax     # before
    from fastsmooth.scipy import logsumexp, softmax, log_softmax  # after

The functions have SciPy's signatures and defaults (``axis=None``: reduce over the whole
array; ``b=`` weights; ``return_sign``), SciPy's dtype promotion between ``a`` and ``b``
and its result shapes, and run on fastsmooth's one-pass Numba kernels. SciPy is not
needed to use them. SciPy's own test cases for these functions run against this module
(``tests/test_scipy.py``); the deliberate differences are:

* ``softmax`` / ``log_softmax`` of a slice holding ``+inf`` (and no nan) give the limit
  (uniform over the ``+inf`` entries; ``-log k`` there and ``-inf`` elsewhere) where SciPy
  gives nan; an empty input gives an empty result where SciPy raises.
* ``logsumexp``: a weight of 0 masks its entry even when the rest of the slice has a
  ``+inf`` maximum (SciPy gives nan there); weights that cancel at the maximum give the
  exact answer where SciPy's fallback overflows to nan; an empty slice has sign 0 (a
  zero sum), not SciPy's -1.
* Real input only: complex ``a`` or ``b`` raises ``TypeError`` (SciPy supports complex).

For a temperature, the backward passes, and ``axis=-1`` by default, use the functions of
:mod:`fastsmooth` itself.
"""

from __future__ import annotations

import numpy as np

from . import _reductions

__all__ = ["logsumexp", "softmax", "log_softmax"]


def _promoted(a, b, fname):
    """``a`` and ``b`` in SciPy's common dtype: NumPy's promotion of the two (Python
    numbers weak), integers and bools to float64."""
    a = np.asarray(a)
    w = None if b is None else b if isinstance(b, (int, float)) and not isinstance(b, bool) else np.asarray(b)
    for name, v in (("a", a), ("b", w)) if w is not None else (("a", a),):
        kind = np.asarray(v).dtype.kind
        if kind not in "biuf":
            raise TypeError(
                f"{fname}: `{name}` must be an array of real numbers (bool, int or float), "
                f"got dtype {np.asarray(v).dtype}"
            )
    if w is None:
        return a, None
    dt = np.result_type(a, w)
    if dt.kind != "f":
        dt = np.dtype(np.float64)
    return a.astype(dt, copy=False), np.asarray(w, dt)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    r"""Log of the sum of exponentials of ``a``: ``scipy.special.logsumexp``, on
    fastsmooth's kernels.

    .. math::

        \operatorname{logsumexp}(a) = \log \Bigl|\sum_i b_i\, e^{a_i}\Bigr|

    Parameters
    ----------
    a : array_like
        Input (real).
    axis : None or int or tuple of ints, default None
        Axis or axes to sum over; None sums all elements.
    b : array_like, optional
        Weights of ``exp(a)``, broadcast against ``a``; may be negative (subtraction).
        A weight of 0 masks its entry (even if ``a`` is inf or nan there).
    keepdims : bool, default False
        Keep the reduced axes with size one.
    return_sign : bool, default False
        Also return the sign of the sum; without it a negative sum gives nan.

    Returns
    -------
    res : ndarray or scalar
        ``log(abs(sum(b * exp(a))))``, computed stably.
    sgn : ndarray or scalar
        Only with ``return_sign=True``: 1.0, 0.0 (a zero sum, ``res = -inf``), -1.0, or
        nan where ``res`` is nan.

    See Also
    --------
    fastsmooth.logsumexp : the same with a temperature and ``axis=-1`` by default.
    scipy.special.logsumexp : the function this one replaces.

    Notes
    -----
    One pass over memory: a running maximum over the entries of non-zero weight, the
    sum of the weights at that maximum, and the rescaled sum of the other terms; the
    terms at the maximum are kept out of the sum, as SciPy does, so the result keeps
    full relative accuracy when it is close to the maximum. The deliberate differences
    from SciPy are listed in :mod:`fastsmooth.scipy`.

    Examples
    --------
    >>> from fastsmooth.scipy import logsumexp
    >>> float(logsumexp(np.arange(10)))
    9.45862974442671
    >>> float(logsumexp(np.arange(10), b=np.arange(10, 0, -1)))
    9.91701785330346...
    >>> logsumexp([1, 2], b=[1, -1], return_sign=True)
    (np.float64(1.5413248546129181), np.float64(-1.0))
    >>> float(logsumexp([1000.0, 1000.0]))   # no overflow
    1000.6931471805599
    """
    fname = "logsumexp"
    a, w = _promoted(a, b, fname)
    a = np.atleast_1d(a)  # as SciPy: a 0-d input has one axis
    if w is not None:
        w = np.atleast_1d(w)
    return _reductions.logsumexp(a, axis, b=w, keepdims=bool(keepdims), return_sign=bool(return_sign))


def softmax(x, axis=None):
    r"""Softmax over ``axis``: ``scipy.special.softmax``, on fastsmooth's kernels.

    .. math::

        \sigma(x)_j = \frac{e^{x_j}}{\sum_k e^{x_k}}

    Parameters
    ----------
    x : array_like
        Input (real).
    axis : int or tuple of ints, optional
        Axis to compute values along; None (the default) normalises over the whole
        array.

    Returns
    -------
    s : ndarray or scalar
        Same shape as ``x``; sums to 1 along ``axis``.

    See Also
    --------
    fastsmooth.softmax : the same with a temperature and ``axis=-1`` by default.
    scipy.special.softmax : the function this one replaces.

    Notes
    -----
    A slice holding ``+inf`` gives the limit (uniform over its ``+inf`` entries) where
    SciPy gives nan; all ``-inf`` or any nan give nan, as SciPy.

    Examples
    --------
    >>> from fastsmooth.scipy import softmax
    >>> softmax(np.array([[1.0, 2.0], [3.0, 4.0]])).round(4)   # over the whole array
    array([[0.0321, 0.0871],
           [0.2369, 0.6439]])
    >>> softmax([1000.0, 0.0, 0.0, 0.0])
    array([1., 0., 0., 0.])
    """
    return _reductions.softmax(x, axis)


def log_softmax(x, axis=None):
    r"""Logarithm of the softmax: ``scipy.special.log_softmax``, on fastsmooth's
    kernels.

    .. math::

        \log\sigma(x)_j = x_j - \log \sum_k e^{x_k}

    Parameters
    ----------
    x : array_like
        Input (real).
    axis : int or tuple of ints, optional
        Axis to compute values along; None (the default) normalises over the whole
        array.

    Returns
    -------
    s : ndarray or scalar
        Same shape as ``x``; its exponential sums to 1 along ``axis``.

    See Also
    --------
    fastsmooth.log_softmax : the same with a temperature and ``axis=-1`` by default.
    scipy.special.log_softmax : the function this one replaces.

    Notes
    -----
    ``k`` entries ``+inf`` (and no nan) give ``-log k`` there and ``-inf`` elsewhere
    (the limit) where SciPy gives nan; all ``-inf`` or any nan give nan, as SciPy.

    Examples
    --------
    >>> from fastsmooth.scipy import log_softmax
    >>> log_softmax(np.array([1000.0, 1.0]))
    array([   0., -999.])
    >>> float(log_softmax(1.0))
    0.0
    """
    return _reductions.log_softmax(x, axis)
