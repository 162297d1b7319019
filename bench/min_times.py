"""Minimum-of-N timings of cases of the one comparison table (``fastsmooth._peers``):
on a shared machine the minimum of many interleaved calls is the steadiest estimate of
the undisturbed time. Prints a markdown table (used in docs/performance.md for the
semiring products and the HMM recursions, at one thread).

Usage::

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PEER_THREADS=1 python bench/min_times.py \\
        --family semiring,hmm [--rounds 20] [--quick]

Each round calls every column of a case once, in turn (fastsmooth and each installed
peer within its size limit); a column slower than a second runs 2 rounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fastsmooth import _peers  # noqa: E402


def best(fns, n):
    """Interleaved: each round calls every function once; the minimum per function (after
    one warm-up call each; a function slower than 1 s runs 2 rounds)."""
    out, slow = {}, set()
    for k, f in fns.items():
        t = time.perf_counter()
        with np.errstate(all="ignore"):
            f()
        out[k] = time.perf_counter() - t
        if out[k] > 1.0:
            slow.add(k)
    for i in range(n):
        for k, f in fns.items():
            if k in slow and i >= 2:
                continue
            t = time.perf_counter()
            with np.errstate(all="ignore"):
                f()
            out[k] = min(out[k], time.perf_counter() - t)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="semiring,hmm", help="comma-separated families of the table")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="the quick shapes")
    args = p.parse_args(argv)
    rows = ["| op | shape | dtype | fastsmooth ms | peer | peer ms | peer / fastsmooth |",
            "|---|---|---|---:|---|---:|---:|"]
    rng = np.random.default_rng(0)
    for fam in args.family.split(","):
        for op, case in _peers.FAMILIES[fam].cases.items():
            if not case.runnable():
                continue
            for shape in _peers.shapes_for(op, args.quick):
                for dt in case.dtypes:
                    d = case.make(tuple(shape), np.dtype(dt), rng)
                    fns = {lib: case.impls[lib](d) for lib in _peers.columns(op, d)}
                    t = best(fns, args.rounds)
                    mine = t.pop("fastsmooth")
                    for lib, tp in t.items():
                        rows.append(f"| {op} | {'×'.join(map(str, shape))} | {dt} | {mine * 1e3:.2f} | {lib} "
                                    f"| {tp * 1e3:.2f} | {tp / mine:.2f} |")
                    d = fns = None
    print("\n".join(rows))


if __name__ == "__main__":
    main()
