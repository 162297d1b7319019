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
* :data:`REDUCTION_FASTMATH` -- ``reassoc``, which lets LLVM keep several partial sums so
  that a summing loop vectorizes, with ``arcp``, ``contract`` and ``afn`` but *not*
  ``nsz``. Only the small summing helpers (:mod:`._rowops` and the like) get it.
  ``reassoc`` anywhere else is a hazard: it once turned ``s + t + (c - 1)`` into
  ``(s + t + c) - 1`` (losing a 4e-18 term against 1), and it may regroup
  ``p * 2**k1 * 2**k2`` in exp into an overflowing ``2**(k1 + k2)``. LLVM keeps the
  flags per instruction, so a helper inlined into a kernel keeps its own.

No instruction may carry ``reassoc`` and ``nsz`` together. Numba optimizes each helper in
its own library and again as a (``linkonce_odr``) copy inside every caller; the process
that compiles a kernel calls the helpers' own libraries where LLVM left a call, while a
process that loads the kernel from the cache runs the kernel's copies. LLVM's
``Reassociate`` pass, which acts on additions flagged with both, regrouped the final
combination of a vectorized sum (``_rowops._exp_sum``) the second time, so the
compiling process differed from every later one in the last bit. Without ``nsz`` next to
``reassoc`` a second optimization keeps the values (see docs/guide/reproducibility.md).

``tests/test_config.py`` checks that inf and nan survive these flags.

Threads
-------
Every fastsmooth function may be called from many Python threads at once (Dask's
threaded scheduler, a user's thread pool). Kernels are compiled with ``nogil`` and own
their outputs, so the only hazard is Numba's threading layer: ``workqueue`` aborts the
process when two threads launch parallel kernels at once. :func:`use_parallel` therefore
runs the serial twin off the main thread unless the layer is in
:data:`THREAD_SAFE_LAYERS` (``omp``, ``tbb``). How many threads one parallel call uses
is Numba's per-thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``), capped
process-wide by :func:`set_max_threads` (how :mod:`fastsmooth.dask` shares a machine's
cores between Dask workers).

Busy cores
----------
A parallel region ends when its last thread is done, so a parallel kernel waits for any
thread the OS has not scheduled -- milliseconds when another process holds a core.
:class:`Kernel` times its parallel launches and, when one was late, runs the serial
twins for a while (:func:`_timed_launch`); both twins compute the same tasks, so the
bits do not change. :data:`LATE_POOL_FALLBACK` switches the rule off.

Cache
-----
Kernels are cached on disk (``cache=True``). Where Numba finds no writable cache
directory (a read-only install), :func:`_njit` compiles without a cache and warns once.

Vector width
------------
On Intel CPUs with AVX-512 (Skylake-SP to Emerald Rapids) LLVM's tuning prefers 256-bit
vectors, so Numba's code for them uses ``ymm`` registers only; on AMD Zen 4 it uses the
512-bit ``zmm`` ones. fastsmooth's loops are exp-bound and gain from the full width:
measured on an Emerald Rapids core, in-cache softmax and LogSumExp rows 15-35 % faster
(docs/performance.md). At import, before Numba's code generator exists,
:func:`_choose_vector_width` therefore asks LLVM for 512-bit vectors on an AVX-512 host
(the feature ``-prefer-256-bit``). The choice is Numba's, process-wide: it also applies
to the user's own Numba functions compiled later in the process, and it is part of
Numba's cache key (functions cached under the other choice compile once more). It is
left alone where the user chose the code generation (``NUMBA_CPU_NAME`` or
``NUMBA_CPU_FEATURES``), where Numba's code generator already existed when fastsmooth was
imported, and with ``FASTSMOOTH_VECTOR_WIDTH=llvm``. The vector width changes how sums
are grouped, hence the last bits of float results, as another ISA does; it is fixed for
a machine and a setting, so results stay reproducible there. ``fastsmooth info`` prints
what was chosen (:data:`VECTOR_WIDTH`).

First compile
-------------
Compiling a kernel takes seconds (more on a busy machine), loading it from the cache
milliseconds. The first time a fastsmooth kernel takes longer than
:data:`COMPILE_NOTICE_SECONDS` to compile in a process, one :class:`CompileNotice`
(a ``UserWarning``) says so on stderr -- while it compiles, so that a user knows why the
call is slow. ``warnings.filterwarnings("ignore", category=fastsmooth.CompileNotice)``
silences it; :func:`fastsmooth.warmup` compiles ahead of time.
"""

from __future__ import annotations

import threading
import time
import types
import warnings

import numba
from numba.core import event as _event


def _choose_vector_width():
    """Ask LLVM for 512-bit vectors on an AVX-512 host (see the module notes); returns
    what was chosen and why, as :data:`VECTOR_WIDTH` (``fastsmooth info``)."""
    import os

    want = os.environ.get("FASTSMOOTH_VECTOR_WIDTH", "auto").strip().lower() or "auto"
    if want not in ("auto", "llvm"):
        raise ValueError(f"FASTSMOOTH_VECTOR_WIDTH must be 'auto' or 'llvm', not {want!r}")
    if want == "llvm":
        return "LLVM's choice (FASTSMOOTH_VECTOR_WIDTH=llvm)"
    if numba.config.CPU_NAME is not None or numba.config.CPU_FEATURES is not None:
        return "LLVM's choice for NUMBA_CPU_NAME / NUMBA_CPU_FEATURES (set by the user)"
    from numba.core.registry import cpu_target

    if "_toplevel_target_context" in cpu_target.__dict__:
        return "LLVM's choice (Numba's code generator existed before fastsmooth was imported)"
    from numba.core.codegen import get_host_cpu_features

    features = get_host_cpu_features()  # Numba's own reading ('' where LLVM cannot tell)
    if "+avx512f" not in features.split(","):
        return "LLVM's choice (no AVX-512 on this host)"
    numba.config.CPU_FEATURES = features + ",-prefer-256-bit"
    cpu_target.target_context  # the code generator, made now with these features
    return "512-bit preferred (AVX-512 host; FASTSMOOTH_VECTOR_WIDTH=llvm leaves it to LLVM)"


if numba.config.DISABLE_JIT:
    # the kernels call helpers (our exp, log1p, the bit tricks) that exist only as
    # compiled code: without the JIT nothing can run, so say so at once, not at a call
    raise ImportError(
        "fastsmooth needs Numba's JIT compiler, but NUMBA_DISABLE_JIT is set: unset it "
        "(or set it to 0) to use fastsmooth"
    )

#: What :func:`_choose_vector_width` chose at import (``fastsmooth info`` prints it)
VECTOR_WIDTH = _choose_vector_width()

__all__ = [
    "COMPILE_NOTICE_SECONDS",
    "CompileNotice",
    "FASTMATH",
    "REDUCTION_FASTMATH",
    "PARALLEL_MIN_ELEMENTS",
    "THREAD_SAFE_LAYERS",
    "VECTOR_WIDTH",
    "Kernel",
    "LATE_POOL_FALLBACK",
    "all_kernels",
    "forced_twin",
    "jit",
    "kernel",
    "num_threads",
    "pool_is_late",
    "set_max_threads",
    "threading_layer",
    "use_parallel",
]

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn"})
# no "nsz" beside "reassoc": see the module notes (the compiling and the loading process)
REDUCTION_FASTMATH = frozenset({"reassoc", "arcp", "contract", "afn"})

#: Inputs with fewer elements than this run the serial twin of a kernel. Measured here
#: (numba 0.68, omp layer, 2 cores): a warm parallel launch costs ~2 us on an idle
#: machine, but when the other core is busy the launch waits for the worker thread to be
#: scheduled -- two 4 ms scheduler ticks, seen as medians of exactly 8 ms on small inputs.
#: 2**17 elements is ~60 us of exp-bound work on one core: below it the parallel gain
#: is a few tens of microseconds and the risk is milliseconds.
PARALLEL_MIN_ELEMENTS = 1 << 17

_COMMON = {"nogil": True, "error_model": "numpy", "boundscheck": False}

# ---------------------------------------------------------------------------------------
# Compilation and the on-disk cache


_cache_warned = False


def _njit(fn, *, fastmath, parallel, inline="never"):
    """``numba.njit`` with ``cache=True``, falling back to no cache when Numba finds no
    writable place for one (a read-only install with no usable ``NUMBA_CACHE_DIR`` or
    user cache directory): Numba raises ``RuntimeError("cannot cache function ...: no
    locator available ...")`` when the function is decorated, i.e. at import. Then we
    compile without a cache -- kernels are compiled again in every new process -- and
    say so once per process, never with an error."""
    if {"reassoc", "nsz"} <= set(fastmath):
        raise ValueError("fastmath: 'reassoc' with 'nsz' makes a compiling process round "
                         "differently from the processes that load the cache (see _config)")
    opts = dict(_COMMON, fastmath=set(fastmath), parallel=parallel, inline=inline)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError as exc:
        _warn_no_cache(exc)
        return numba.njit(cache=False, **opts)(fn)


def _warn_no_cache(exc):
    global _cache_warned
    if _cache_warned:
        return
    _cache_warned = True
    warnings.warn(
        f"fastsmooth: compiled kernels will not be cached ({exc}); they are compiled "
        "again in every new process. Set NUMBA_CACHE_DIR to a writable directory to "
        "cache them.",
        RuntimeWarning,
        stacklevel=4,
    )


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
    lazily on its first call and cached on disk. A parallel call runs on at most
    :func:`num_threads` threads (see :func:`set_max_threads`).

    Lazy: the two Numba dispatchers are made on first use (:attr:`serial`,
    :attr:`parallel_kernel`), not at import -- ``import fastsmooth`` builds none of the
    kernels' dispatchers. A kernel is only ever called from Python (never from another
    jitted function), so Numba never needs to see the dispatcher when it types a caller;
    the :func:`jit` helpers, which kernels call, stay eager.
    """

    __slots__ = ("__name__", "_fn", "_fastmath", "_serial", "_parallel", "_rates")

    def __init__(self, fn, fastmath=FASTMATH):
        self.__name__ = fn.__name__
        self._fn = fn
        self._fastmath = fastmath
        self._serial = None
        self._parallel = None
        self._rates = {}  # (itemsize, size class) -> [best serial s/element, serial calls]
        _KERNELS.append(self)

    @property
    def serial(self):
        """The serial twin's dispatcher (made on first use)."""
        d = self._serial
        if d is None:
            with _build_lock:
                if self._serial is None:
                    self._serial = _njit(
                        _renamed(self._fn, "_serial"), fastmath=self._fastmath, parallel=False
                    )
            d = self._serial
        return d

    @property
    def parallel_kernel(self):
        """The ``parallel=True`` dispatcher (made on first use)."""
        d = self._parallel
        if d is None:
            with _build_lock:
                if self._parallel is None:
                    self._parallel = _njit(self._fn, fastmath=self._fastmath, parallel=True)
            d = self._parallel
        return d

    def serial_entry(self, *args):
        """The serial twin's compiled entry point for the Numba types of ``args``
        (loaded from the cache or compiled now if needed).

        Calling it runs the very machine code the dispatcher picks for such arguments,
        without the dispatcher typing every argument on every call (~0.1 us of a
        small call). Only for a fast path that has checked the types itself -- exact
        dtypes, arrays that are C-contiguous, aligned and writeable (what the overload
        was typed for: the entry point checks nothing) -- and memoizes the entry point
        per type."""
        d = self.serial
        return d.compile(tuple(d.typeof_pyval(a) for a in args))

    def __call__(self, *args, parallel):
        if not parallel:
            d = self._serial  # (the property only on first use: this is the small call)
            return (d if d is not None else self.serial)(*args)
        if not LATE_POOL_FALLBACK:
            return self._launch(args)
        return _timed_launch(self, args)

    def _launch(self, args):
        cap = _max_threads
        if cap is not None:
            # numba's thread count belongs to the calling thread: lower it for this
            # call only and give the caller back its own setting
            before = numba.get_num_threads()
            if before > cap:
                numba.set_num_threads(cap)
                try:
                    return self.parallel_kernel(*args)
                finally:
                    numba.set_num_threads(before)
        return self.parallel_kernel(*args)

    def __repr__(self):
        return f"<fastsmooth kernel {self.__name__}>"


_build_lock = threading.Lock()
_KERNELS = []


# ---------------------------------------------------------------------------------------
# Busy cores: a late thread pool falls back to the serial twin for a while

#: Time parallel launches and fall back to the serial twins while the thread pool is
#: late (see :func:`_timed_launch`). Results do not change: both twins compute the same
#: tasks, so they give the same bits.
LATE_POOL_FALLBACK = True
#: A parallel call is late when it takes this much longer than its serial twin would.
LATE_FACTOR = 1.25
#: ... and at least this many seconds longer (noise on short calls is not lateness).
LATE_MARGIN_S = 200e-6
_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 2.0
_late_until = 0.0
_backoff = _BACKOFF_MIN_S


def _work(args):
    """``(elements, itemsize)`` of the largest array argument: the size of a call."""
    n, item = 1, 8
    for a in args:
        size = getattr(a, "size", 0)
        if size > n and hasattr(a, "itemsize"):
            n, item = size, a.itemsize
    return n, item


def _timed_launch(k, args):
    """A parallel call of kernel ``k`` that does not wait for a descheduled thread.

    A parallel region ends when its last thread is done; when another process holds a
    core, that thread may not be scheduled for a scheduler tick or more (4 ms here), and
    a 0.5 ms kernel takes 8-12 ms. No scheduling inside the region helps, since the
    region must still wait for the thread to arrive. So launches are timed against the
    serial twin: the first two calls of each kernel, dtype width and power-of-two size
    class run the serial twin, timed (the first one may include loading it), giving its
    best time per element. A parallel call (after the first one, which may include
    loading the parallel twin and starting the pool) that takes ``LATE_FACTOR`` times (and
    ``LATE_MARGIN_S`` more than) what the serial twin would marks the pool late: for the
    next ``_backoff`` seconds (50 ms, doubling up to 2 s while the pool stays late, back
    to 50 ms after a parallel call that was not late) every kernel runs its serial twin,
    timed as well; then one parallel call probes the pool again. On a busy machine at
    most one call every 2 s pays the wait; on an idle one the parallel twins run. Both
    twins compute the same tasks: same bits."""
    global _late_until, _backoff
    force = getattr(_forced, "twin", None)
    if force is not None:  # (warm-up: both twins, whatever the pool does)
        return k.serial(*args) if force == "serial" else k._launch(args)
    n, item = _work(args)
    key = (item, n.bit_length())
    rates = k._rates.get(key)
    if rates is None:
        rates = k._rates[key] = [None, 0, 0]  # best serial s/element, serial calls, parallel calls
    t0 = time.perf_counter()
    if rates[1] < 2 or t0 < _late_until:
        result = k.serial(*args)
        rate = (time.perf_counter() - t0) / n
        if rates[0] is None or rate < rates[0]:
            rates[0] = rate
        rates[1] += 1
        return result
    result = k._launch(args)
    dt = time.perf_counter() - t0
    rates[2] += 1
    if rates[2] == 1:
        # the first parallel call of a size class is not judged: it may include loading
        # the parallel twin and starting the thread pool (a few ms), which marked an idle
        # pool late and sent every kernel to its serial twin for the back-off
        return result
    expected = rates[0] * n
    if dt > LATE_FACTOR * expected and dt - expected > LATE_MARGIN_S:
        _late_until = time.perf_counter() + _backoff
        _backoff = min(2.0 * _backoff, _BACKOFF_MAX_S)
    else:
        _backoff = _BACKOFF_MIN_S
    return result


_forced = threading.local()


class forced_twin:
    """``with forced_twin("serial" | "parallel"):`` parallel-planned kernel calls of this
    thread run that twin, untimed and without touching the late-pool state -- how
    :func:`fastsmooth.warmup` compiles both twins of every kernel it reaches."""

    def __init__(self, twin):
        if twin not in ("serial", "parallel"):
            raise ValueError(f"forced_twin: `twin` must be 'serial' or 'parallel', got {twin!r}")
        self.twin = twin

    def __enter__(self):
        self.before = getattr(_forced, "twin", None)
        _forced.twin = self.twin
        return self

    def __exit__(self, *exc):
        _forced.twin = self.before
        return False


def pool_is_late():
    """Whether parallel calls run their serial twins now (the pool was late lately)."""
    return time.perf_counter() < _late_until


def all_kernels():
    """Every :class:`Kernel` made so far (one per ``@kernel`` function)."""
    return tuple(_KERNELS)


def kernel(fn=None, *, fastmath=FASTMATH):
    """Decorator: turn a function with a ``prange`` loop into a :class:`Kernel`."""
    if fn is None:
        return lambda f: Kernel(f, fastmath)
    return Kernel(fn, fastmath)


# ---------------------------------------------------------------------------------------
# The first-compile notice


class CompileNotice(UserWarning):
    """The warning said once per process, on stderr, when compiling a fastsmooth kernel
    takes more than a second (``fastsmooth._config.COMPILE_NOTICE_SECONDS``): why the
    first call is slow. It comes while the kernel compiles, on an empty cache only (a
    kernel loaded from Numba's cache takes milliseconds).

    See Also
    --------
    warmup : compiles the kernels ahead of time.

    Examples
    --------
    Silence it:

    >>> import warnings
    >>> import fastsmooth as fs
    >>> warnings.filterwarnings("ignore", category=fs.CompileNotice)
    >>> issubclass(fs.CompileNotice, UserWarning)
    True
    """


#: Seconds a kernel may compile before the :class:`CompileNotice` is given.
COMPILE_NOTICE_SECONDS = 1.0

_notice_lock = threading.Lock()
_notice_given = False


def _give_notice(name):
    global _notice_given
    with _notice_lock:
        if _notice_given:
            return
        _notice_given = True
    # warn_explicit at a place with no source line: one line on stderr, from any thread
    warnings.warn_explicit(
        f"fastsmooth is compiling kernel {name} for this machine (first use with an empty "
        "cache: a few seconds per function, once; later calls and new processes load the "
        "kernels from Numba's cache; `fastsmooth warmup` compiles them ahead of time)",
        CompileNotice,
        filename="fastsmooth",
        lineno=0,
        module="fastsmooth",
    )


class _CompileWatch(_event.Listener):
    """Listens to Numba's ``numba:compile`` events (a compile, not a cache load) of
    fastsmooth's dispatchers; the outermost compile of a thread is timed, with a timer
    that gives the notice while it is still compiling."""

    def __init__(self):
        self._local = threading.local()

    @staticmethod
    def _ours(event):
        dispatcher = (event.data or {}).get("dispatcher")
        fn = getattr(dispatcher, "py_func", None)
        return getattr(fn, "__module__", "").startswith("fastsmooth")

    def on_start(self, event):
        local = self._local
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        if depth or _notice_given or not self._ours(event):
            return
        name = event.data["dispatcher"].py_func.__name__
        local.started = time.perf_counter()
        local.name = name
        local.timer = threading.Timer(COMPILE_NOTICE_SECONDS, _give_notice, (name,))
        local.timer.daemon = True
        local.timer.start()

    def on_end(self, event):
        local = self._local
        local.depth -= 1
        timer = getattr(local, "timer", None)
        if local.depth or timer is None:
            return
        timer.cancel()
        local.timer = None
        if time.perf_counter() - local.started >= COMPILE_NOTICE_SECONDS:
            _give_notice(local.name)  # (the timer may not have run yet)


_event.register("numba:compile", _CompileWatch())


# ---------------------------------------------------------------------------------------
# Threads: which layer, how many threads, serial or parallel


#: Numba's threading layers that survive parallel launches from several Python threads
#: at once. ``workqueue`` does not: it aborts the whole process ("Terminating:
#: Concurrent access has been detected", numba#8563/#9288).
THREAD_SAFE_LAYERS = frozenset({"omp", "tbb"})

_layer = None  # "" once we know that no layer can be loaded
_max_threads = None


def threading_layer():
    """The name of Numba's threading layer (``"omp"``, ``"tbb"`` or ``"workqueue"``),
    or None when Numba cannot load any.

    Numba picks its layer once, on the first parallel launch or the first
    ``numba.get_num_threads()``, and never changes it; asking here makes that choice
    (it launches the layer's threads), so the answer is the layer every later parallel
    kernel runs on -- no guessing which layer Numba would pick, and no
    ``numba.threading_layer()`` raising "not initialized". A layer that cannot be loaded
    (``NUMBA_THREADING_LAYER=tbb`` without TBB, say) makes fastsmooth run its serial
    kernels, with one warning, instead of failing every call.
    """
    global _layer
    if _layer is None:
        try:
            numba.get_num_threads()  # launches the threads: selects and loads the layer
            _layer = numba.threading_layer()
        except (ValueError, ImportError, OSError) as exc:
            _layer = ""
            warnings.warn(
                f"fastsmooth: Numba could not load a threading layer ({exc}); "
                "running the serial kernels",
                RuntimeWarning,
                stacklevel=2,
            )
    return _layer or None


def _layer_is_thread_safe():
    """Whether parallel kernels may be launched from several Python threads at once."""
    return threading_layer() in THREAD_SAFE_LAYERS


def set_max_threads(n):
    """Cap the number of Numba threads any one fastsmooth kernel call uses, in every
    thread of this process; None removes the cap. Returns the previous cap.

    ``numba.set_num_threads`` only applies to the Python thread that calls it, so it
    cannot reach the threads of a pool (a Dask worker's task threads); this cap does.
    Used by :class:`fastsmooth.dask.NumbaThreads` to give each Dask worker thread its
    share of the cores."""
    global _max_threads
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"set_max_threads: `n` must be an int >= 1 or None, got {n!r}")
    previous, _max_threads = _max_threads, n
    return previous


def num_threads():
    """Threads a parallel kernel called now, from this thread, would use: Numba's
    (per-thread) count, capped by :func:`set_max_threads`."""
    if threading_layer() is None:  # no layer could be loaded: serial kernels only
        return 1
    n = numba.get_num_threads()
    cap = _max_threads
    return n if cap is None else min(n, cap)


def use_parallel(n_elements):
    """Run the parallel twin? Only for big inputs, when a threading layer is loaded and
    more than one thread is allowed, and -- when the layer is not thread-safe
    (``workqueue``) -- only from the main Python thread: other threads run the serial
    twin, so at most one parallel launch is ever in flight (what numbagg does too)."""
    if n_elements < PARALLEL_MIN_ELEMENTS or threading_layer() is None:
        return False
    if num_threads() < 2:
        return False
    if threading.current_thread() is threading.main_thread():
        return True
    return _layer_is_thread_safe()
