"""``fastsmooth bench``: fastsmooth side by side with NumPy, SciPy, torch, ONNX Runtime
and JAX (each when installed) on this machine, from the comparison table of
:mod:`._peers`.

Each case is warmed up (JIT compilation and caches excluded), then timed ``repeat``
times, the libraries taking turns call by call (so a passing disturbance does not land
on one library only); the table shows medians, fastsmooth's speed-up over each peer (peer time /
fastsmooth time), its achieved GB/s, and its time against two floors measured in the same
rounds. Ops come in families (reductions, sparsemax, losses, pooling, element-wise,
semiring, hmm, dtw, dask; :data:`._peers.FAMILIES`), one table per family.

The floors
----------
*Memory floor* (:class:`Floor`): what moving the op's bytes costs when done the way the
kernels do it -- Numba ``prange`` kernels, on as many threads as the op's own kernel
(:func:`._config.use_parallel` of the input's size), on buffers of the case's sizes, timed
in the same rounds as the op, so in the same cache state (a (64, 1000) input stays in
cache between calls, for the op as for the floor). An op that reads ``R`` bytes and writes
``W`` costs at least a read+write copy of ``W`` bytes plus a read-only sum of the other
``R - W`` (a sum alone when the output is under 1/8 of the input). ``% of floor`` is
floor time / op time; a cell above 100 % says why beside it. The same kernels on 512 MiB
buffers (out of every cache) give the out-of-cache bandwidths of the footer and the
*cache* column: ``in cache`` where the floor ran at least 1.4x faster than out of cache.
*Exp-loop* (reductions): a kernel that only sums as many ``exp`` as the input has
elements, with the same ``exp``, flags and threads, reading a cache-resident window of
the input over and over (:func:`._peers.exp_floor`): the compute floor of LogSumExp-like
ops. (Read from memory, such a loop runs at memory latency on this machine, slower than
LogSumExp itself, which prefetches.)

``--quick`` runs each family's small shapes in one dtype (float64 for the reductions,
float32 for the others, the dtypes their users train or compute in) with fewer
repeats, so that a run on an empty Numba cache -- compilation included -- prints its
tables in well under a minute. ``--plot`` adds a sweep of sizes of one layout per family
and draws fastsmooth's speed-up against size, one panel per family.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from ._config import REDUCTION_FASTMATH, kernel, use_parallel
from ._peers import (ALL_CASES, COLUMNS, EXP_LOOP_OPS, FAMILIES, available, available_libraries, family_of,
                     missing_libraries, peer_threads, peer_versions, shapes_for)

#: the peers, in column order
PEERS = COLUMNS


@dataclass
class Result:
    op: str
    shape: tuple
    dtype: str
    nbytes: int
    family: str = "reductions"
    sweep: bool = False  # part of the size sweep of --plot
    table: bool = True  # one of the table shapes
    times: dict = field(default_factory=dict)  # library -> median seconds
    floors: dict = field(default_factory=dict)  # "floor", "floor_out_of_cache", "exp-loop" -> seconds

    def speedup(self, lib):
        if lib in self.times and "fastsmooth" in self.times:
            return self.times[lib] / self.times["fastsmooth"]
        return None

    def gbps(self):
        return self.nbytes / self.times["fastsmooth"] / 1e9

    @property
    def size(self):
        return int(np.prod(self.shape))


def copy_bandwidth(nbytes, repeat=5):
    """GB/s (bytes read + written) of ``np.copyto`` on ``nbytes`` buffers; best of
    ``repeat``."""
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best / 1e9


#: elements of one task of the floor kernels (fixed, as for every kernel)
FLOOR_BLOCK = 1 << 15
#: bytes of each buffer of the out-of-cache measurement
OUT_OF_CACHE_BYTES = 1 << 29
_FLOOR_KERNELS = {}


def _floor_kernels():
    """``(floor_sum, floor_copy)``: a read-only sum and a read+write copy of float64
    buffers, ``prange`` over fixed blocks of :data:`FLOOR_BLOCK` elements (compiled
    once, on first use)."""
    if not _FLOOR_KERNELS:
        from numba import prange
        from numba import uint64 as U

        @kernel(fastmath=REDUCTION_FASTMATH)
        def floor_sum(a, partial):
            n = a.shape[0]
            for b in prange(partial.shape[0]):
                t = 0.0
                for i in range(U(b * FLOOR_BLOCK), U(min(n, (b + 1) * FLOOR_BLOCK))):
                    t += a[i]
                partial[b] = t

        @kernel
        def floor_copy(a, out):
            n = a.shape[0]
            for b in prange((n + FLOOR_BLOCK - 1) // FLOOR_BLOCK):
                for i in range(U(b * FLOOR_BLOCK), U(min(n, (b + 1) * FLOOR_BLOCK))):
                    out[i] = a[i]

        _FLOOR_KERNELS.update(sum=floor_sum, copy=floor_copy)
    return _FLOOR_KERNELS["sum"], _FLOOR_KERNELS["copy"]


class Floor:
    """The memory floor of an op that reads ``read`` bytes and writes ``write`` bytes of
    an input of ``n_elements`` elements: call it to run the floor kernels once (a copy of
    the written bytes, a sum of the rest), with the thread choice of the op's kernel."""

    def __init__(self, read, write, n_elements, parallel=None):
        self.parallel = use_parallel(n_elements) if parallel is None else parallel
        copy = write if 8 * write >= read else 0
        self.copy_bytes, self.sum_bytes = copy, max(read - copy, 0)
        self.fsum, self.fcopy = _floor_kernels()
        self.a = np.ones(self.sum_bytes // 8) if self.sum_bytes >= 8 else None
        self.partial = np.empty(max(1, -(-(self.sum_bytes // 8) // FLOOR_BLOCK)))
        self.src = np.ones(copy // 8) if copy >= 8 else None
        self.dst = np.empty_like(self.src) if self.src is not None else None
        self()  # compile, first touch

    def __call__(self):
        if self.a is not None:
            self.fsum(self.a, self.partial, parallel=self.parallel)
        if self.src is not None:
            self.fcopy(self.src, self.dst, parallel=self.parallel)

    def out_of_cache(self, bandwidth):
        """The floor at the out-of-cache bandwidths of :func:`memory_bandwidth`."""
        return self.sum_bytes / bandwidth["sum"] / 1e9 + 2 * self.copy_bytes / bandwidth["copy"] / 1e9


def memory_bandwidth(parallel, nbytes=OUT_OF_CACHE_BYTES, repeat=3):
    """Out-of-cache GB/s of the floor kernels on ``nbytes`` buffers: ``sum`` (bytes read)
    and ``copy`` (bytes read + written); best of ``repeat``."""
    fsum, fcopy = _floor_kernels()
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    partial = np.empty(-(-src.size // FLOOR_BLOCK))
    fcopy(src, dst, parallel=parallel)
    fsum(src, partial, parallel=parallel)
    t_sum = min(_timed(lambda: fsum(src, partial, parallel=parallel)) for _ in range(repeat))
    t_copy = min(_timed(lambda: fcopy(src, dst, parallel=parallel)) for _ in range(repeat))
    return {"sum": nbytes / t_sum / 1e9, "copy": 2 * nbytes / t_copy / 1e9}


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median_times(fns, repeat, budget):
    """Median time of each of ``fns`` (a dict name -> callable), timed in interleaved
    rounds: every round calls each function once, in turn, so that a disturbance (another
    process, a frequency change) lasting a few calls hits every library alike instead of
    all the calls of one. Up to ``repeat`` rounds, at least 3, stopping once ~budget
    seconds have passed."""
    times = {name: [] for name in fns}
    start = time.perf_counter()
    for i in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        if i >= 2 and time.perf_counter() - start > budget:
            break
    return {name: float(np.median(ts)) for name, ts in times.items()}


class Progress:
    """A one-line text progress bar on stderr (no dependency)."""

    def __init__(self, total, stream=None, width=30):
        stream = sys.stderr if stream is None else stream  # looked up now: it may have been replaced
        self.total, self.done, self.stream, self.width = total, 0, stream, width
        self.live = hasattr(stream, "isatty") and stream.isatty()

    def step(self, label):
        self.done += 1
        if not self.live:
            return
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} {label[:50]:<50}")
        self.stream.flush()

    def close(self):
        if self.live:
            self.stream.write("\r" + " " * (self.width + 70) + "\r")
            self.stream.flush()


def plan(ops=None, dtypes=None, quick=False, sweep=False, libraries=None):
    """What a run measures: a list of ``(op, shape, dtype, library, in_table, in_sweep)``.

    ``dtypes=None`` means both float64 and float32 for a full run and each family's
    ``quick_dtype`` for ``--quick``. The sweep of ``--plot`` runs in one dtype: the first
    of ``dtypes`` when given, else the family's ``quick_dtype``."""
    ops = [op for op in (ops or ALL_CASES) if ALL_CASES[op].runnable()]
    libs = libraries or available_libraries()
    todo = []
    for op in ops:
        fam, case = family_of(op), ALL_CASES[op]
        wanted = tuple(dtypes) if dtypes else ((fam.quick_dtype,) if quick else ("float64", "float32"))
        op_dtypes = tuple(dt for dt in wanted if dt in case.dtypes) or case.dtypes[:1]
        keys = {}  # (shape, dtype) -> [in_table, in_sweep], in run order
        for dt in op_dtypes:
            for shape in shapes_for(op, quick):
                keys.setdefault((tuple(shape), dt), [True, False])
        if sweep:
            dt = op_dtypes[0] if dtypes else (fam.quick_dtype if fam.quick_dtype in case.dtypes else op_dtypes[0])
            for shape in shapes_for(op, quick, sweep=True):
                keys.setdefault((tuple(shape), dt), [False, False])[1] = True
        for (shape, dt), (in_table, in_sweep) in keys.items():
            for lib in case.impls:
                if lib.startswith("fastsmooth-") or not available(lib, libs):
                    continue
                todo.append((op, shape, dt, lib, in_table, in_sweep))
    return todo


def run(ops=None, dtypes=None, quick=False, sweep=False, repeat=None, budget=None, progress=True,
        libraries=None, floor=True):
    """Benchmark ``ops`` (default: every op of :data:`._peers.ALL_CASES`); returns
    ``(results, meta)``. See :func:`plan` for what is measured; ``floor`` adds the
    floors of the module notes."""
    repeat = repeat or (5 if quick else 11)
    budget = budget or (0.25 if quick else 2.0)
    todo = plan(ops, dtypes, quick, sweep, libraries)
    busy = busy_cores()
    bar = Progress(len(todo)) if progress else None
    results = {}
    rng = np.random.default_rng(0)
    cases = {}  # (op, shape, dtype) -> [libraries], in run order
    for op, shape, dt, lib, in_table, in_sweep in todo:
        cases.setdefault((op, shape, dt, in_table, in_sweep), []).append(lib)
    data_key, data = None, None
    bandwidths = {}  # parallel? -> out-of-cache GB/s of the floor kernels
    for (op, shape, dt, in_table, in_sweep), libs in cases.items():
        case = ALL_CASES[op]
        key = (case.make, shape, dt)
        if key != data_key:  # one input set alive at a time
            data, data_key = None, None
            data = case.make(shape, np.dtype(dt), rng)
            data_key = key
        res = results[(op, shape, dt)] = Result(op, shape, dt, case.nbytes(data), family_of(op).name,
                                                sweep=in_sweep, table=in_table)
        # slow peers are timed up to their size limit only (the cell is left empty above it)
        libs = [lib for lib in libs if lib not in case.limits or case.n_elements(data) <= case.limits[lib]]
        fns = {lib: case.impls[lib](data) for lib in libs}
        floors = {}
        if floor and "fastsmooth" in fns:
            f = Floor(*case.traffic(data), case.n_elements(data))
            floors["floor"] = f
            if op in EXP_LOOP_OPS and data["x"].ndim == 2 and data["x"].size:
                from ._peers import exp_floor

                rows = np.ascontiguousarray(data["x"])
                floors["exp-loop"] = partial(exp_floor, rows)
        for fn in (*fns.values(), *floors.values()):
            fn()  # warm-up: compilation and first-touch effects are not timed
        times = median_times({**fns, **floors}, repeat, budget * (len(fns) + len(floors)))
        res.times.update({lib: times[lib] for lib in fns})
        res.floors.update({name: times[name] for name in floors})
        if "floor" in floors:
            par = floors["floor"].parallel
            if par not in bandwidths:
                bandwidths[par] = memory_bandwidth(par, OUT_OF_CACHE_BYTES >> (2 * quick))
            res.floors["floor_out_of_cache"] = floors["floor"].out_of_cache(bandwidths[par])
        floors = None
        if bar:
            for lib in libs:
                bar.step(f"{op} {'x'.join(map(str, shape))} {dt} {lib}")
    if bar:
        bar.close()
    meta = machine_info(quick)
    meta["busy_cores"] = busy
    meta["out_of_cache_GBps"] = {("parallel" if par else "serial"): bw for par, bw in bandwidths.items()}
    return list(results.values()), meta


def machine_info(quick=False):
    import numba

    import fastsmooth

    from ._config import threading_layer

    layer = threading_layer()
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "fastsmooth": fastsmooth.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "threads": numba.get_num_threads(),
        "threading_layer": layer,
        "quick": quick,
        "cores": os.cpu_count(),
        "copy_bandwidth_GBps": copy_bandwidth(1 << (26 if quick else 29)),
        "isa": isa(),
    }
    info.update(peer_versions())
    info["peer_threads"] = peer_threads()
    info["missing_peers"] = missing_libraries()
    if "jax" in info:
        from ._peers import jax_threads

        info["jax_threads"] = jax_threads()
    return info


def isa():
    """The vector ISA Numba compiles for: ``"AVX-512, ..."`` (with the vector width),
    ``"AVX2"`` or the CPU name (from ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` when set,
    else the host)."""
    import numba
    from numba.core import config

    name = config.CPU_NAME or ""
    features = config.CPU_FEATURES
    if not name or name == "host":
        import llvmlite.binding as ll

        name = ll.get_host_cpu_name()
        features = features or ll.get_host_cpu_features().flatten()
    del numba
    feats = features or ""
    if "+avx512f" in feats:
        # the width fastsmooth asked LLVM for (_config.VECTOR_WIDTH), else LLVM's choice
        # for the CPU (256 bits on Intel, 512 on AMD Zen 4)
        return "AVX-512, 512-bit vectors" if "-prefer-256-bit" in feats else f"AVX-512, LLVM's width for {name}"
    if "+avx2" in feats:
        return f"AVX2 ({name} codegen)" if config.CPU_NAME else "AVX2"
    known = {"haswell": "AVX2", "broadwell": "AVX2", "skylake": "AVX2", "znver1": "AVX2", "znver2": "AVX2",
             "znver3": "AVX2", "skylake-avx512": "AVX-512", "icelake-server": "AVX-512", "sapphirerapids": "AVX-512",
             "znver4": "AVX-512", "generic": "SSE2", "x86-64": "SSE2"}
    if name in known:
        return f"{known[name]} ({name} codegen)" if config.CPU_NAME else known[name]
    return name


def busy_cores(interval=0.3):
    """How many cores other processes keep busy: the non-idle share of all CPU time in
    ``/proc/stat`` over ``interval`` seconds while this process sleeps, times the
    number of cores. None where ``/proc/stat`` is not available."""

    def snapshot():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # user .. steal
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    try:
        total0, idle0 = snapshot()
        time.sleep(interval)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return round((1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1), 2)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _fmt_ms(t):
    if t is None:
        return "-"
    ms = t * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def floor_cells(times, floors):
    """``(floor ms, % of floor, cache)`` cells of one result: the floor time, floor time /
    fastsmooth time as a percentage -- with the reason beside it when above 100 % -- and
    whether the floor ran in cache (at least 1.4x faster than out of cache) or from memory."""
    fl, t = floors.get("floor"), times.get("fastsmooth")
    if not fl or not t:
        return ["-", "-", "-"]
    cold = floors.get("floor_out_of_cache")
    state = "in cache" if cold and 1.4 * fl < cold else "memory"
    pct = 100 * fl / t
    cell = f"{pct:.0f}%"
    if pct > 100.5:
        if fl < 50e-6:
            cell += " (launch-bound floor)"
        elif state == "in cache":
            cell += " (in cache)"
        else:
            cell += " (noisy floor)"
    return [_fmt_ms(fl), cell, state]


def _family_table(results, bandwidth=None):
    peers = [p for p in PEERS if any(p in r.times for r in results)]
    with_floor = any(r.floors.get("floor") for r in results)
    with_exp = any(r.floors.get("exp-loop") for r in results)
    head = ["op", "shape", "dtype", "fastsmooth ms"] + [f"{p} ms" for p in peers]
    head += [f"x vs {p}" for p in peers] + ["GB/s"]
    head += ["floor ms", "% of floor", "cache"] * with_floor + ["/ exp-loop"] * with_exp
    rows = []
    for r in results:
        row = [r.op, "x".join(map(str, r.shape)), r.dtype, _fmt_ms(r.times.get("fastsmooth"))]
        row += [_fmt_ms(r.times.get(p)) for p in peers]
        for p in peers:
            s = r.speedup(p)
            row.append("-" if s is None else f"{s:.2f}")
        row.append(f"{r.gbps():.1f}")
        if with_floor:
            row += floor_cells(r.times, r.floors)
        if with_exp:
            e = r.floors.get("exp-loop")
            row.append(f"{r.times['fastsmooth'] / e:.2f}" if e and r.times.get("fastsmooth") else "-")
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.rjust(w) for h, w in zip(head, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return out


def format_table(results, meta):
    """One table per op family, then the machine, versions and date."""
    out = []
    for name in FAMILIES:
        fam_results = [r for r in results if r.family == name]
        if not fam_results:
            continue
        dtypes = ", ".join(sorted({r.dtype for r in fam_results}))
        out += [f"{name} ({dtypes})", ""] if not out else ["", f"{name} ({dtypes})", ""]
        out += _family_table(fam_results)
    libs = ", ".join(f"{k} {meta[k]}" for k in ("numpy", "numba", "scipy", "torch", "onnxruntime", "jax", "entmax",
                                                     "hmmlearn", "tslearn", "dask")
                     if k in meta)
    out.append("")
    ooc = "; ".join(f"{k}: sum {v['sum']:.1f}, copy {v['copy']:.1f} GB/s"
                    for k, v in meta.get("out_of_cache_GBps", {}).items())
    out.append(f"{meta['cpu']} ({meta['machine']}, {meta.get('isa', '?')}), {meta['threads']} Numba threads "
               f"(layer {meta['threading_layer']}); np.copyto {meta['copy_bandwidth_GBps']:.1f} GB/s (one thread, "
               f"read + write)" + (f"; floor kernels out of cache: {ooc}" if ooc else "")
               + f"; fastsmooth {meta['fastsmooth']}, {libs}; {meta['date']}.")
    out.append("x vs peer = peer time / fastsmooth time (above 1: fastsmooth is faster); medians of "
               "calls taken in turns by the libraries, warm-up excluded.")
    out.append("floor = a Numba copy of the bytes written + a sum of the other bytes read, same threads, same "
               "sizes, timed in the same rounds (same cache state); % of floor = floor time / fastsmooth time; "
               "cache = where the floor ran (in cache: >= 1.4x faster than out of cache); / exp-loop = "
               "fastsmooth time / a loop that only sums as many exp, from cache (the compute floor).")
    if "peer_threads" in meta:
        jax = f", JAX {meta['jax_threads']}" if "jax_threads" in meta else ""
        out.append(f"Peers' threads: {meta['peer_threads']} (torch set_num_threads, ONNX Runtime intra-op, "
                   f"no spinning; inter-op 1{jax}); PEER_THREADS or --threads sets them.")
    if meta.get("missing_peers"):
        out.append(f"Not installed, so not compared: {', '.join(meta['missing_peers'])} "
                   "(pip install 'fastsmooth[bench]').")
    busy = meta.get("busy_cores")
    if busy is not None and busy > 0.5:
        out.append(f"Caution: other processes kept {busy:.1f} of {meta.get('cores')} cores busy when the run "
                   "started; parallel kernels (fastsmooth's and torch's) then wait for a busy core, and "
                   "small inputs suffer most. Run again on an idle machine before trusting the ratios.")
    return "\n".join(out)


def to_json(results, meta):
    return json.dumps({"meta": meta, "results": [dict(asdict(r), shape=list(r.shape)) for r in results]},
                      indent=2)


#: line style and marker of each peer in the plot (colour = op)
_PEER_STYLE = {"scipy": (":", "s"), "numpy": ("-", "o"), "torch": ("--", "^"), "onnxruntime": ("-.", "v"),
               "jax": ((0, (1, 1)), "D")}


def _panels(results):
    """(title, family, results) of each panel: one per family, the reductions split into
    forward and backward passes (six ops times three peers is too many lines for one)."""
    panels = []
    for name in FAMILIES:
        rs = [r for r in results if r.family == name]
        ops = list(dict.fromkeys(r.op for r in rs))
        if len(ops) > 5 and any(op.endswith("_backward") for op in ops):
            fwd = [r for r in rs if not r.op.endswith("_backward")]
            bwd = [r for r in rs if r.op.endswith("_backward")]
            panels += [(f"{name}: forward", name, fwd), (f"{name}: backward", name, bwd)]
        elif rs:
            panels.append((name, name, rs))
    return [p for p in panels if p[2]]


def plot(results, path, meta=None):
    """Speed-up of fastsmooth over each peer against the input size: one panel per op
    family (the reductions in two), one colour per op, one line style per peer. Uses
    the sweep's results when there are any (one layout, several sizes), else every
    result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    swept = [r for r in results if r.sweep]
    panels = _panels(swept or results)
    if not panels:
        raise ValueError("nothing to plot")
    ncols = min(3, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.9 * nrows + 0.7), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    peers_seen = set()
    for ax, (title, name, rs) in zip(axes.flat, panels):
        ops = list(dict.fromkeys(r.op for r in rs))
        lo, hi = 1.0, 1.0
        for i, op in enumerate(ops):
            for peer, (ls, marker) in _PEER_STYLE.items():
                pts = sorted((r.size, r.speedup(peer)) for r in rs if r.op == op and r.speedup(peer))
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, ls=ls, marker=marker, ms=4, lw=1.4, color=colours[i % 10])
                    peers_seen.add(peer)
                    lo, hi = min(lo, *ys), max(hi, *ys)
        # headroom above the lines for the legend of the ops
        legend_rows = len(ops) if len(ops) <= 3 else (len(ops) + 1) // 2
        ax.set_ylim(lo / 1.3, hi * (hi / lo) ** (0.12 * legend_rows + 0.1))
        ax.axhline(1.0, color="black", lw=0.9, zorder=2.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=15))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", color="0.9", lw=0.8)
        dtypes = ", ".join(sorted({r.dtype for r in rs}))
        ax.set_title(f"{title} ({dtypes})\n" + (FAMILIES[name].sweep_label if swept else "table shapes"),
                     fontsize=9.5)
        ax.set_xlabel("elements of the input", fontsize=9)
        ax.set_ylabel("peer time / fastsmooth time", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(handles=[Line2D([], [], color=colours[i % 10], lw=2, label=op) for i, op in enumerate(ops)],
                  fontsize=7.5, loc="upper left", ncol=2 if len(ops) > 3 else 1, framealpha=0.85,
                  columnspacing=1.0, handlelength=1.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color="0.2", ls=_PEER_STYLE[p][0], marker=_PEER_STYLE[p][1], label=f"vs {p}")
               for p in PEERS if p in peers_seen]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    title = "fastsmooth speed-up over each peer (above the black line: fastsmooth is faster)"
    if meta:
        title += f"\n{meta['cpu']}, {meta['threads']} Numba threads, {meta['date'][:10]}"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.98))
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    _shrink_png(path)


def _shrink_png(path):
    """Re-save a PNG with a 256-colour palette (a third of the size; the plot has a few
    flat colours), when Pillow (a matplotlib dependency) can."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(path, optimize=True)
    except Exception:  # noqa: BLE001 - a larger file is fine
        pass
