"""``fastsmooth bench``: fastsmooth side by side with NumPy, SciPy and torch (when
installed) on this machine, from the comparison table of :mod:`._peers`.

Each case is warmed up (JIT compilation and caches excluded), then timed ``repeat``
times; the table shows medians, fastsmooth's speed-up over each peer (peer time /
fastsmooth time) and fastsmooth's achieved GB/s against the memory bandwidth measured in
the same run by a large ``np.copyto``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ._peers import CASES, SHAPES, available_libraries

#: ``--quick``: the same kinds of shape, about 8x smaller, so that the run takes well
#: under a minute (cold compiles included)
QUICK_SHAPES = [(1024, 1024), (1, 2_000_000), (125_000, 8), (64, 1000)]


@dataclass
class Result:
    op: str
    shape: tuple
    dtype: str
    nbytes: int
    times: dict = field(default_factory=dict)  # library -> median seconds

    def speedup(self, lib):
        if lib in self.times and "fastsmooth" in self.times:
            return self.times[lib] / self.times["fastsmooth"]
        return None

    def gbps(self):
        return self.nbytes / self.times["fastsmooth"] / 1e9


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


def median_time(fn, repeat, budget):
    """Median of up to ``repeat`` timings of ``fn()`` (at least 3, within ~budget s)."""
    times = []
    start = time.perf_counter()
    for i in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if i >= 2 and time.perf_counter() - start > budget:
            break
    return float(np.median(times))


class Progress:
    """A one-line text progress bar on stderr (no dependency)."""

    def __init__(self, total, stream=sys.stderr, width=30):
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


def run(ops=None, dtypes=("float64", "float32"), quick=False, repeat=None, budget=None,
        progress=True, libraries=None):
    """Benchmark ``ops`` (default: all of :data:`._peers.CASES`); returns
    ``(results, meta)``."""
    ops = list(ops or CASES)
    shapes = QUICK_SHAPES if quick else SHAPES
    repeat = repeat or (5 if quick else 11)
    budget = budget or (0.3 if quick else 2.0)
    libs = libraries or available_libraries()
    todo = [(op, shape, dt, lib) for op in ops for shape in shapes for dt in dtypes
            for lib in CASES[op].impls if lib in libs]
    bar = Progress(len(todo)) if progress else None
    results, data_key, data = {}, None, None
    rng = np.random.default_rng(0)
    for op, shape, dt, lib in todo:
        key = (CASES[op].make, shape, dt)
        if key != data_key:  # one input set alive at a time
            data, data_key = None, None
            data = CASES[op].make(shape, np.dtype(dt), rng)
            data_key = key
        res = results.setdefault((op, shape, dt), Result(op, shape, dt, CASES[op].nbytes(data)))
        fn = CASES[op].impls[lib](data)
        fn()  # warm-up: compilation and first-touch effects are not timed
        res.times[lib] = median_time(fn, repeat, budget)
        if bar:
            bar.step(f"{op} {'x'.join(map(str, shape))} {dt} {lib}")
    if bar:
        bar.close()
    meta = machine_info(quick)
    return list(results.values()), meta


def machine_info(quick=False):
    import numba

    import fastsmooth

    from fastsmooth._config import threading_layer

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
        "copy_bandwidth_GBps": copy_bandwidth(1 << (26 if quick else 29)),
    }
    for lib in ("scipy", "torch"):
        try:
            info[lib] = __import__(lib).__version__
        except ImportError:
            pass
    return info


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


def format_table(results, meta):
    peers = [p for p in ("scipy", "numpy", "torch") if any(p in r.times for r in results)]
    head = ["op", "shape", "dtype", "fastsmooth ms"] + [f"{p} ms" for p in peers]
    head += [f"x vs {p}" for p in peers if p != "torch"] + (["x vs torch"] if "torch" in peers else [])
    head += ["GB/s", "% of BW"]
    rows = []
    for r in results:
        row = [r.op, "x".join(map(str, r.shape)), r.dtype, _fmt_ms(r.times.get("fastsmooth"))]
        row += [_fmt_ms(r.times.get(p)) for p in peers]
        for p in [p for p in peers if p != "torch"] + (["torch"] if "torch" in peers else []):
            s = r.speedup(p)
            row.append("-" if s is None else f"{s:.2f}")
        gbps = r.gbps()
        row += [f"{gbps:.1f}", f"{100 * gbps / meta['copy_bandwidth_GBps']:.0f}%"]
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.rjust(w) for h, w in zip(head, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    libs = ", ".join(f"{k} {meta[k]}" for k in ("numpy", "numba", "scipy", "torch") if k in meta)
    out.append("")
    out.append(f"{meta['cpu']} ({meta['machine']}), {meta['threads']} Numba threads "
               f"(layer {meta['threading_layer']}), memory bandwidth {meta['copy_bandwidth_GBps']:.1f} GB/s "
               f"(np.copyto, read + write); fastsmooth {meta['fastsmooth']}, {libs}; {meta['date']}.")
    out.append("x vs peer = peer time / fastsmooth time (above 1: fastsmooth is faster); medians, "
               "warm-up excluded.")
    return "\n".join(out)


def to_json(results, meta):
    return json.dumps({"meta": meta, "results": [dict(asdict(r), shape=list(r.shape)) for r in results]},
                      indent=2)


def plot(results, path):
    """Speed-up of fastsmooth over each peer against the input size, one panel per peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    peers = [p for p in ("scipy", "numpy", "torch") if any(p in r.times for r in results)]
    fig, axes = plt.subplots(1, len(peers), figsize=(5 * len(peers), 4), squeeze=False, sharey=True)
    for ax, peer in zip(axes[0], peers):
        for (op, dt), marker in zip(sorted({(r.op, r.dtype) for r in results}), "osD^v<>ph*" * 5):
            pts = sorted((int(np.prod(r.shape)), r.speedup(peer)) for r in results
                         if r.op == op and r.dtype == dt and r.speedup(peer) is not None)
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker=marker, label=f"{op} {dt}")
        ax.axhline(1.0, color="grey", lw=1, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("elements")
        ax.set_title(f"fastsmooth speed-up over {peer}")
    axes[0][0].set_ylabel("peer time / fastsmooth time")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
