"""The one place where fastsmooth talks to ``numba.njit``.

Every kernel in the package is compiled through :func:`jit` or :func:`kernel`, so the
fast-math flags, caching policy and the serial/parallel choice are decided here and
nowhere else.

Fast-math flags
---------------
``fastmath=True`` would add ``nnan`` and ``ninf``, which let LLVM assume that no value is
nan or infinite; that breaks every special value fastsmooth documents (``-inf`` padding,
``+inf`` rows, nan propagation). We use two explicit sets instead:

* :data:`FASTMATH` -- ``contract`` (fused multiply-add), ``nsz`` (ignore the sign of
  zero), ``arcp`` (multiply by a reciprocal), ``afn`` (approximate library calls). The
  default for every kernel.
* :data:`REDUCTION_FASTMATH` -- the same plus ``reassoc``, which lets LLVM keep several
  partial sums so that a summing loop vectorizes. Only the small summing helpers of
  :mod:`._rowops` get it. ``reassoc`` anywhere else is a hazard: it once turned
  ``s + t + (c - 1)`` into ``(s + t + c) - 1`` (losing a 4e-18 term against 1), and it
  may regroup ``p * 2**k1 * 2**k2`` in exp into an overflowing ``2**(k1 + k2)``. LLVM
  keeps the flags per instruction, so a helper inlined into a kernel keeps its own.

``tests/test_config.py`` checks that inf and nan survive these flags.
"""

from __future__ import annotations

import threading
import types
import warnings

import numba

__all__ = [
    "FASTMATH",
    "REDUCTION_FASTMATH",
    "PARALLEL_MIN_ELEMENTS",
    "Kernel",
    "jit",
    "kernel",
    "use_parallel",
]

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn"})
REDUCTION_FASTMATH = FASTMATH | {"reassoc"}

#: Inputs with fewer elements than this run the serial twin of a kernel. Measured here
#: (numba 0.68, omp layer): a warm parallel launch costs ~2 us, the very first one
#: several ms; below ~32k elements the work per thread is smaller than that.
PARALLEL_MIN_ELEMENTS = 1 << 15

_COMMON = {"nogil": True, "error_model": "numpy", "boundscheck": False}


def _njit(fn, *, fastmath, parallel, inline="never"):
    """``numba.njit`` with ``cache=True``, falling back to no cache when the package
    lives somewhere Numba cannot write a cache (a read-only install)."""
    opts = dict(_COMMON, fastmath=set(fastmath), parallel=parallel, inline=inline)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        warnings.warn(
            f"fastsmooth: compiled kernels will not be cached ({exc}); "
            "set NUMBA_CACHE_DIR to a writable directory to cache them",
            RuntimeWarning,
            stacklevel=3,
        )
        return numba.njit(cache=False, **opts)(fn)


def jit(fn=None, *, fastmath=FASTMATH, inline="never"):
    """Compile a serial helper (row helpers, tiny finishing loops).

    ``inline="always"`` inlines the helper into its callers at the Numba IR level (its
    code then takes the caller's fastmath flags). Use it for a scalar helper that calls
    :func:`._exp.log1p` or another large helper: LLVM does not inline functions above
    its size threshold, and a call left in a loop stops the loop from vectorizing."""
    if fn is None:
        return lambda f: _njit(f, fastmath=fastmath, parallel=False, inline=inline)
    return _njit(fn, fastmath=fastmath, parallel=False, inline=inline)


def _renamed(fn, suffix):
    """A copy of ``fn`` under another qualified name, so that its Numba cache files do
    not collide with those of ``fn`` itself (Numba names them after ``__qualname__``)."""
    twin = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__
    )
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


class Kernel:
    """A ``prange`` kernel compiled twice: ``parallel=True`` and a serial twin.

    Call it with ``parallel=`` chosen by :func:`use_parallel`; each twin is compiled
    lazily on its first call and cached on disk.
    """

    __slots__ = ("__name__", "serial", "parallel_kernel")

    def __init__(self, fn, fastmath=FASTMATH):
        self.__name__ = fn.__name__
        self.parallel_kernel = _njit(fn, fastmath=fastmath, parallel=True)
        self.serial = _njit(_renamed(fn, "_serial"), fastmath=fastmath, parallel=False)

    def __call__(self, *args, parallel):
        if parallel:
            return self.parallel_kernel(*args)
        return self.serial(*args)

    def __repr__(self):
        return f"<fastsmooth kernel {self.__name__}>"


def kernel(fn=None, *, fastmath=FASTMATH):
    """Decorator: turn a function with a ``prange`` loop into a :class:`Kernel`."""
    if fn is None:
        return lambda f: Kernel(f, fastmath)
    return Kernel(fn, fastmath)


def _layer_is_thread_safe():
    """Whether Numba's threading layer survives launches from several Python threads.

    ``workqueue`` does not (it aborts the process with "Concurrent access has been
    detected"); ``omp`` and ``tbb`` do. Before the first parallel launch no layer is
    chosen yet, so we answer for the layer Numba is going to pick.
    """
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel launch yet
        layer = _predicted_layer()
    return layer in ("omp", "tbb")


def _predicted_layer():
    requested = numba.config.THREADING_LAYER
    if requested in ("tbb", "omp", "workqueue"):
        return requested
    for name in numba.config.THREADING_LAYER_PRIORITY:
        if requested in ("safe", "threadsafe") and name == "workqueue":
            continue
        try:
            __import__(f"numba.np.ufunc.{name}pool")
        except Exception:  # noqa: BLE001 - any failure means the layer is unavailable
            continue
        return name
    return "workqueue"


def use_parallel(n_elements):
    """Run the parallel twin? Only for big inputs, several threads, and never from a
    non-main Python thread when the threading layer is ``workqueue``."""
    if n_elements < PARALLEL_MIN_ELEMENTS or numba.get_num_threads() < 2:
        return False
    if threading.current_thread() is threading.main_thread():
        return True
    return _layer_is_thread_safe()
