"""Parallel kernels on a busy machine: one CPU-bound process pinned to one core.

For each case, the median per-call time of: fastsmooth's default (parallel twins with
the late-pool rule of ``fastsmooth._config._timed_launch``), the raw parallel twins
(``LATE_POOL_FALLBACK = False``: what fastsmooth did before), the serial twins (one
Numba thread) and NumPy's naive formula -- first with no background process, then with
one pinned to core 1 (``os.sched_setaffinity``). Modes take turns round by round.

    NUMBA_NUM_THREADS=2 python bench/bench_busy.py [--rounds 5] [--calls 20] [--json FILE]

A script, not a pytest-benchmark suite: it starts and stops a background process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numba  # noqa: E402

import fastsmooth as fs  # noqa: E402
from fastsmooth import _config  # noqa: E402

HOG = "import os\nos.sched_setaffinity(0, {%d})\nwhile True:\n    pass\n"


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_lse(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def _np_unpool(g, idx, shape):
    out = np.zeros((shape[0] * shape[1], shape[2] * shape[3]), g.dtype)
    rows = np.repeat(np.arange(out.shape[0]), idx[0, 0].size)
    np.add.at(out, (rows, idx.reshape(-1)), g.reshape(-1))
    return out.reshape(shape)


def cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 1024))
    big = rng.standard_normal((4096, 1024)).astype(np.float32)
    img = rng.standard_normal((8, 32, 128, 128)).astype(np.float32)
    y, idx = fs.maxpool2d(img, 2)
    g = np.ones_like(y)
    return {
        "relu 1024² float64": (lambda: fs.relu(x), lambda: np.maximum(x, 0)),
        "sigmoid 1024² float64": (lambda: fs.sigmoid(x), lambda: 1 / (1 + np.exp(-x))),
        "softmax 4096×1024 float32": (lambda: fs.softmax(big), lambda: _np_softmax(big)),
        "logsumexp 4096×1024 float32": (lambda: fs.logsumexp(big), lambda: _np_lse(big)),
        "maxpool2d 8×32×128² float32": (lambda: fs.maxpool2d(img, 2), None),
        "maxpool2d_backward 8×32×128² float32": (
            lambda: fs.maxpool2d_backward(g, idx, img.shape), lambda: _np_unpool(g, idx, img.shape)),
    }


def _time(f, calls):
    ts = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return ts


def run_modes(f_fs, f_np, rounds, calls):
    threads = numba.get_num_threads()
    modes = {"default": [], "raw parallel": [], "serial": [], "numpy": []}

    def default():
        return _time(f_fs, calls)

    def raw():
        _config.LATE_POOL_FALLBACK = False
        try:
            return _time(f_fs, calls)
        finally:
            _config.LATE_POOL_FALLBACK = True

    def serial():
        numba.set_num_threads(1)
        try:
            return _time(f_fs, calls)
        finally:
            numba.set_num_threads(threads)

    runners = {"default": default, "raw parallel": raw, "serial": serial}
    if f_np is not None:
        runners["numpy"] = lambda: _time(f_np, calls)
    else:
        del modes["numpy"]
    for fn in runners.values():  # warm: compile / load, and the pool
        fn()
    for _ in range(rounds):
        for name, fn in runners.items():
            modes[name] += fn()
    return {k: float(np.median(v)) * 1e3 for k, v in modes.items()}


def measure(rounds, calls, busy):
    hog = None
    if busy:
        hog = subprocess.Popen([sys.executable, "-c", HOG % (os.cpu_count() - 1)])
        time.sleep(0.5)
    try:
        out = {}
        for name, (f_fs, f_np) in cases().items():
            out[name] = run_modes(f_fs, f_np, rounds, calls)
        return out
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def table(res):
    lines = ["| case | default ms | raw parallel ms | serial ms | NumPy ms | default / serial |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in res.items():
        n = f"{r['numpy']:.2f}" if "numpy" in r else "–"
        lines.append(f"| {name} | {r['default']:.2f} | {r['raw parallel']:.2f} | {r['serial']:.2f} | {n} | "
                     f"{r['default'] / r['serial']:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--json", default=None)
    p.add_argument("--busy-only", action="store_true")
    a = p.parse_args(argv)
    result = {"threads": numba.get_num_threads(), "layer": _config.threading_layer(),
              "date": time.strftime("%Y-%m-%d %H:%M"), "loadavg_before": os.getloadavg()}
    for busy in ([True] if a.busy_only else [False, True]):
        key = "busy" if busy else "idle"
        result[key] = measure(a.rounds, a.calls, busy)
        print(f"## {key} ({'one core held by a pinned CPU-bound process' if busy else 'no background process'})")
        print(table(result[key]))
    result["loadavg_after"] = os.getloadavg()
    print("load average before / after:", result["loadavg_before"], result["loadavg_after"])
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
