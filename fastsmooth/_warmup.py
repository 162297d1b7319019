"""``fastsmooth.warmup``: compile, or load from Numba's cache, the kernels a pipeline will
use, before the first request needs them.

A kernel's first call in a process costs what a thousand later calls do: Numba loads
its target registries (and, with SciPy installed, imports ``scipy.linalg`` for its BLAS
check), then loads the kernel from the on-disk cache -- or compiles it, seconds per
function, when the cache is empty (a new install, a new machine, a new Numba). Warming up
calls each chosen op on small and large inputs of each dtype, so that every code path
those calls take (short rows, rows in cache, long rows cut into pieces; the serial and
the parallel twin) is compiled or loaded once, here.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from . import _config, _registry

__all__ = ["warmup", "WARMUP_OPS"]


def _rows(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


#: The ops :func:`warmup` knows: every public function of fastsmooth (it runs their
#: examples, :data:`._registry.FAMILIES`).
WARMUP_OPS = _registry.OPS

#: Input shapes per op: short rows, rows that fit in cache, and two large inputs (many
#: rows; few long rows cut into pieces) that take the parallel twins.
_SHAPES = [(4, 8), (4, 1000), (256, 1024), (2, 1 << 17)]
_SHAPES_2D = [(2, 4, 8), (2, 32, 32), (2, 256, 512)]
_DTYPES = ("float32", "float64")


def _shapes(op):
    return _SHAPES_2D if "2d" in op else _SHAPES


def _check(ops, dtypes):
    if ops is None:
        ops = WARMUP_OPS
    elif isinstance(ops, str):
        ops = (ops,)
    ops = tuple(ops)
    unknown = [o for o in ops if o not in WARMUP_OPS]
    if unknown:
        raise ValueError(
            f"warmup: unknown op(s) {', '.join(map(repr, unknown))} in `ops`; choose from "
            f"{', '.join(WARMUP_OPS)}"
        )
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    dts = []
    for d in dtypes:
        try:
            dt = np.dtype(d)
        except TypeError:
            dt = None
        if dt is None or dt.name not in _DTYPES:
            raise ValueError(f"warmup: `dtypes` must name float32 and/or float64, got {d!r}")
        dts.append(dt.name)
    return ops, tuple(dict.fromkeys(dts))


def _cache_counts():
    """(cache loads, compiles) so far, over the twins of every kernel made."""
    hits = misses = 0
    for k in _config.all_kernels():
        for d in (k._serial, k._parallel):
            if d is not None:
                hits += sum(d._cache_hits.values())
                misses += sum(d._cache_misses.values())
    return hits, misses


class _Bar:
    """A one-line progress bar on stderr."""

    def __init__(self, total, stream):
        self.total, self.stream, self.done = total, stream, 0

    def step(self, label):
        self.done += 1
        width = 30
        filled = width * self.done // self.total
        self.stream.write(
            f"\rfastsmooth warmup [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {label:<36.36}"
        )
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def _run(ops, dtypes, progress, stream):
    import fastsmooth as fs

    start = time.perf_counter()
    hits0, misses0 = _cache_counts()
    bar = _Bar(len(ops) * len(dtypes), stream) if progress else None
    calls = 0
    for op in ops:
        f = getattr(fs, op)
        for dtype in dtypes:
            for shape in _shapes(op):
                args, kwargs = _registry.example(op)(fs, _rows(shape, dtype))
                if np.prod(shape) < _config.PARALLEL_MIN_ELEMENTS:
                    f(*args, **kwargs)
                    calls += 1
                    continue
                # a large input: the parallel twins, and the serial twins on the same
                # (parallel) plan, which run when the thread pool is late
                for twin in ("parallel", "serial"):
                    with _config.forced_twin(twin):
                        f(*args, **kwargs)
                    calls += 1
            if bar:
                bar.step(f"{op} {dtype}")
    if bar:
        bar.close()
    hits, misses = _cache_counts()
    return {
        "ops": len(ops),
        "dtypes": dtypes,
        "calls": calls,
        "loaded": hits - hits0,
        "compiled": misses - misses0,
        "seconds": time.perf_counter() - start,
    }


def warmup(ops=None, dtypes=("float32", "float64"), *, background=False, progress=None):
    r"""Compile, or load from the cache, the kernels of ``ops`` for ``dtypes`` now.

    The first call of a kernel in a process loads it from Numba's on-disk cache (tenths
    of a second, most of it Numba's own first-use setup) or, on an empty cache, compiles
    it (seconds per function). Call ``warmup`` at start-up -- in a background thread while
    the process loads everything else -- and the first request runs at full speed.
    ``fastsmooth warmup`` on the command line fills the cache once, e.g. in a Docker
    build step.

    Parameters
    ----------
    ops : str or sequence of str, optional
        Names of public fastsmooth functions (``"softmax"``, ``"relu"``,
        ``"maxpool2d_backward"``, ``"max"``...); None (default): all of them.
    dtypes : sequence of {"float32", "float64"}, default both
        The dtypes the pipeline computes in (bool/int inputs compute in float64,
        float16 in float32).
    background : bool, default False
        False: return when done. True: warm up in a daemon thread and return the started
        :class:`threading.Thread` at once (``join()`` it to wait). fastsmooth may be
        called meanwhile from any thread: a call that needs a kernel being compiled
        waits for it.
    progress : bool, optional
        Draw a progress bar on stderr; by default only when stderr is a terminal.

    Returns
    -------
    dict or threading.Thread
        Without ``background``: a summary, ``{"ops", "dtypes", "calls", "loaded",
        "compiled", "seconds"}`` -- ``loaded`` and ``compiled`` count kernel twins (one
        per kernel, dtype and parallel or serial) loaded from the cache and compiled.
        With ``background``: the thread.

    Notes
    -----
    Each op runs on small and large inputs of each dtype, so every code path of the
    common calls is warmed: the serial twins and (where a parallel launch is allowed
    from the calling thread, see :doc:`/guide/dask_and_threads`) the parallel ones.
    Unusual calls (another ``axis`` order that needs a transpose, float16) may still
    load one more kernel on first use.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> summary = fs.warmup(["softmax", "relu"], dtypes=["float32"], progress=False)
    >>> summary["ops"], summary["dtypes"]
    (2, ('float32',))
    >>> t = fs.warmup("sigmoid", background=True)   # returns at once
    >>> t.join()
    """
    ops, dtypes = _check(ops, dtypes)
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if background:
        t = threading.Thread(
            target=_run, args=(ops, dtypes, progress, sys.stderr), name="fastsmooth-warmup",
            daemon=True,
        )
        t.start()
        return t
    return _run(ops, dtypes, progress, sys.stderr)
