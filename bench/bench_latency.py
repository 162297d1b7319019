"""Per-call latency of small inputs: fastsmooth against NumPy's naive formula and torch
(``from_numpy`` -> op -> ``.numpy()``), side by side in one run.

Sizes 1, 10, 100, 1000, 10 000 elements and (64, 1000), float32 and float64, one op of
each public family (element-wise, reductions, pooling, losses) plus the single-ufunc
NumPy floors the aims are stated against (``np.maximum(x, 0)``, ``np.exp``). Each cell
is the best of ``--rounds`` rounds of a block of calls (sized to ~10 ms), libraries
taking turns round by round so that a passing disturbance does not land on one of them.

Run as a script (the tables of docs/performance.md)::

    NUMBA_NUM_THREADS=2 python bench/bench_latency.py [--quick] [--json FILE]

or through pytest-benchmark (``pytest bench/bench_latency.py``), one group per
``op|shape|dtype``. The cold-start figures come from ``--cold``: fresh processes.
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
import pytest

ROOT = Path(__file__).resolve().parents[1]
if __name__ == "__main__":  # as a script: this checkout's fastsmooth, not an installed one
    sys.path.insert(0, str(ROOT))

import fastsmooth as fs  # noqa: E402

try:  # optional peer
    import torch

    torch.set_num_threads(int(os.environ.get("NUMBA_NUM_THREADS", "2")))
except ImportError:  # pragma: no cover - peers are optional
    torch = None

SIZES = [(1,), (10,), (100,), (1000,), (10_000,), (64, 1000)]
DTYPES = ("float32", "float64")


def _np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_lse(x):
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def _np_log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _np_maxpool(x):
    n = x.shape[-1] // 2 * 2
    w = x[..., :n].reshape(x.shape[:-1] + (n // 2, 2))
    return w.max(axis=-1), w.argmax(axis=-1)


def _np_fbeta(z, t):
    p = 1.0 / (1.0 + np.exp(-z))
    tp = (p * t).sum()
    return 1.0 - 2 * tp / (2 * tp + (p * (1 - t)).sum() + ((1 - p) * t).sum() + 1e-7)


def _t(f):
    """torch peer: NumPy in, NumPy out."""
    if torch is None:
        return None
    return lambda *a: f(*[torch.from_numpy(v) for v in a]).numpy()


def _t_pair(f):
    if torch is None:
        return None
    return lambda *a: tuple(r.numpy() for r in f(*[torch.from_numpy(v) for v in a]))


def _tfb(z, t):
    p = torch.sigmoid(z)
    tp = (p * t).sum()
    return 1.0 - 2 * tp / (2 * tp + (p * (1 - t)).sum() + ((1 - p) * t).sum() + 1e-7)


# op -> (family, args(x), fastsmooth, numpy, torch)
CASES = {
    "relu": ("elementwise", lambda x: (x,), fs.relu, lambda x: np.maximum(x, 0),
             _t(torch.relu) if torch else None),
    "sigmoid": ("elementwise", lambda x: (x,), fs.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)),
                _t(torch.sigmoid) if torch else None),
    "softplus": ("elementwise", lambda x: (x,), fs.softplus, lambda x: np.logaddexp(0, x),
                 _t(torch.nn.functional.softplus) if torch else None),
    "smooth_abs": ("elementwise", lambda x: (x,), fs.smooth_abs,
                   lambda x: 2 * np.logaddexp(x / 2, -x / 2) - 2 * np.log(2), None),
    "maximum": ("elementwise", lambda x: (x, x[..., ::-1].copy()), fs.maximum, np.maximum,
                _t(torch.maximum) if torch else None),
    "relu_backward": ("elementwise", lambda x: (x, x), fs.relu_backward,
                      lambda g, x: np.where(x > 0, g, 0), None),
    "logsumexp": ("reductions", lambda x: (x,), fs.logsumexp, _np_lse,
                  _t(lambda v: torch.logsumexp(v, -1)) if torch else None),
    "softmax": ("reductions", lambda x: (x,), fs.softmax, _np_softmax,
                _t(lambda v: torch.softmax(v, -1)) if torch else None),
    "log_softmax": ("reductions", lambda x: (x,), fs.log_softmax, _np_log_softmax,
                    _t(lambda v: torch.log_softmax(v, -1)) if torch else None),
    "softmax_backward": ("reductions", lambda x: (x, _np_softmax(x)), fs.softmax_backward,
                         lambda g, y: y * (g - (g * y).sum(axis=-1, keepdims=True)), None),
    "soft_argmax": ("reductions", lambda x: (x,), fs.soft_argmax,
                    lambda x: _np_softmax(x) @ np.arange(x.shape[-1], dtype=x.dtype), None),
    "hardmax": ("reductions", lambda x: (x,), fs.hardmax,
                lambda x: (np.arange(x.shape[-1]) == x.argmax(-1)[..., None]).astype(x.dtype), None),
    "maxpool1d": ("pooling", lambda x: (x.reshape(-1, x.shape[-1]),), lambda x: fs.maxpool1d(x, 2),
                  _np_maxpool,
                  _t_pair(lambda v: torch.nn.functional.max_pool1d(v[None], 2, return_indices=True))
                  if torch else None),
    "soft_fbeta_loss": ("losses", lambda x: (x.reshape(-1), (x.reshape(-1) > 0).astype(x.dtype)),
                        fs.soft_fbeta_loss, _np_fbeta, _t(_tfb) if torch else None),
    # the NumPy floors the aims name
    "np.exp": ("floor", lambda x: (x,), None, np.exp, None),
}


#: The single NumPy ufunc an op's aim is stated against (issue 12: per call at <= 1000
#: elements, <= 1.5x this): ``np.maximum(x, 0)`` for relu's class, ``np.exp`` for
#: sigmoid's. Timed in the same rounds as the op, as the column "floor".
#: ``op -> (ufunc, its arguments from x)``, called bare (no Python wrapper around it).
FLOORS = {op: (np.maximum, lambda x: (x, 0)) for op in ("relu", "relu_backward", "maximum")}
FLOORS.update({op: (np.exp, lambda x: (x,)) for op in ("sigmoid", "softplus", "smooth_abs")})


def _skip(op, shape):
    return op == "maxpool1d" and shape[-1] < 2


def _best_per_call(f, args, rounds_out, budget=0.01):
    """Calls per block sized to ~``budget`` seconds; returns a timing closure."""
    f(*args)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < budget / 10:
        f(*args)
        n += 1
    block = max(1, n * 10)

    def one_round():
        t = time.perf_counter()
        for _ in range(block):
            f(*args)
        rounds_out.append((time.perf_counter() - t) / block)

    return one_round


def measure(ops=None, sizes=SIZES, dtypes=DTYPES, rounds=5, budget=0.01):
    rows = []
    for op in ops or CASES:
        family, build, f_fs, f_np, f_t = CASES[op]
        for dtype in dtypes:
            for shape in sizes:
                if _skip(op, shape):
                    continue
                x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
                args = build(x)
                floor = FLOORS.get(op)
                libs = {"fastsmooth": f_fs, "numpy": f_np, "torch": f_t,
                        "floor": floor[0] if floor else None}
                times = {k: [] for k, v in libs.items() if v is not None}
                runners = {k: _best_per_call(libs[k], floor[1](x) if k == "floor" else args, times[k], budget)
                           for k in times}
                for _ in range(rounds):
                    for k in runners:
                        runners[k]()
                rows.append({"op": op, "family": family, "dtype": dtype, "shape": list(shape),
                             **{k: min(v) * 1e6 for k, v in times.items()}})
    return rows


COLD = """
import json, time, sys
t0 = time.perf_counter()
import numpy as np
import fastsmooth as fs
t1 = time.perf_counter()
x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
fs.softmax(x)
t2 = time.perf_counter()
fs.relu(x)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_softmax_s": t2 - t1, "then_first_relu_s": t3 - t2,
                  "scipy_linalg_imported": "scipy.linalg" in sys.modules}))
"""


def cold(runs=7, cache_dir=None):
    """Fresh processes: import time and the first call of a cached kernel (min and
    median over ``runs``), and one first call on an empty cache.

    With Python's bytecode cache (``__pycache__/*.pyc``, as every installed package has)
    and, for comparison, without fastsmooth's (its ``.pyc`` removed and
    ``PYTHONDONTWRITEBYTECODE=1``: each of its modules is compiled from source at every
    import -- what a checkout gives in an environment that sets that variable)."""
    out = {}
    for label, pyc in (("", True), ("no_pyc_", False)):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if cache_dir:
            env["NUMBA_CACHE_DIR"] = str(cache_dir)
        if pyc:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        else:  # fastsmooth's own .pyc removed (Numba's cache files kept), none written
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            for f in (ROOT / "fastsmooth").rglob("__pycache__/*.pyc"):
                f.unlink()
        code = COLD
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # fill
        res = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                         capture_output=True, text=True).stdout.splitlines()[-1])
               for _ in range(runs)]
        out.update({label + k: (min(r[k] for r in res), float(np.median([r[k] for r in res])))
                    for k in ("import_s", "first_softmax_s", "then_first_relu_s")})
        out[label + "scipy_linalg_imported"] = res[-1]["scipy_linalg_imported"]
    import tempfile

    with tempfile.TemporaryDirectory() as empty:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=empty)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        r = json.loads(subprocess.run([sys.executable, "-W", "ignore", "-c", COLD], env=env,
                                      check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    out["uncached_first_softmax_s"] = r["first_softmax_s"]
    out["uncached_then_first_relu_s"] = r["then_first_relu_s"]
    out["loadavg"] = os.getloadavg()
    return out


def table(rows):
    lines = ["| op | dtype | shape | fastsmooth µs | NumPy µs | torch µs | floor µs | fs/NumPy | fs/torch "
             "| fs/floor |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        f, n, t, fl = r.get("fastsmooth"), r.get("numpy"), r.get("torch"), r.get("floor")
        cell = (lambda v: f"{v:.2f}" if v is not None else "–")
        ratio = (lambda a, b: f"{a / b:.2f}" if a is not None and b is not None else "–")
        shape = "×".join(map(str, r["shape"]))
        lines.append(f"| {r['op']} | {r['dtype']} | {shape} | {cell(f)} | {cell(n)} | {cell(t)} | "
                     f"{cell(fl)} | {ratio(f, n)} | {ratio(f, t)} | {ratio(f, fl)} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="float32 only, 3 rounds")
    p.add_argument("--ops", default=None, help="comma-separated ops (default: all)")
    p.add_argument("--cold", action="store_true", help="also the cold-start figures (fresh processes)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per cell (default 5; 3 with --quick)")
    p.add_argument("--block", type=float, default=0.01,
                   help="seconds of calls per timed block (default 0.01; on a loaded machine "
                        "shorter blocks and more rounds find more quiet windows)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    ops = a.ops.split(",") if a.ops else None
    rounds = a.rounds or (3 if a.quick else 5)
    load_before = os.getloadavg()
    rows = measure(ops, dtypes=("float32",) if a.quick else DTYPES, rounds=rounds, budget=a.block)
    print(table(rows))
    result = {"rows": rows, "torch": getattr(torch, "__version__", None), "numpy": np.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M"), "threads": os.environ.get("NUMBA_NUM_THREADS"),
              "rounds": rounds, "block_s": a.block,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    if a.cold:
        result["cold"] = cold()
        print(json.dumps(result["cold"], indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))


# ------------------------------------------------------------- pytest-benchmark view


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", [op for op in CASES if CASES[op][2] is not None])
@pytest.mark.parametrize("lib", ["fastsmooth", "numpy", "torch"])
def test_latency(benchmark, lib, op, shape, dtype):
    family, build, f_fs, f_np, f_t = CASES[op]
    f = {"fastsmooth": f_fs, "numpy": f_np, "torch": f_t}[lib]
    if f is None or _skip(op, shape):
        pytest.skip(f"no {lib} peer for {op}" if f is None else "too small")
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|{dtype}"
    args = build(np.random.default_rng(0).standard_normal(shape).astype(dtype))
    benchmark(f, *args)


if __name__ == "__main__":
    main()
