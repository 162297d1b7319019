"""The table of the "Soft metric losses" section of docs/performance.md, from the JSON
of ``bench/bench_losses.py``: median times, fastsmooth's speed-up over each peer, and
the peak memory each implementation allocates beyond the gradient it returns.

Usage: ``python bench/report_losses.py bench/results/losses.json [more runs ...]``; with
several JSON files (repeated runs on a shared, noisy machine) each cell is the smallest
of the runs' medians.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

LIBS = ["fastsmooth", "fastsmooth-acc", "numpy", "torch"]


def _ms(t):
    return f"{t * 1e3:.3g}"


def _mb(b):
    if b is None:
        return "n/a"
    return f"{b / 1e6:.0f} MB" if b >= 1e6 else f"{b / 1e3:.0f} kB"


def table(benchmarks):
    groups = defaultdict(dict)
    for b in benchmarks:
        e = b["extra_info"]
        cell = groups[(e["op"], tuple(e["shape"]), e["dtype"])]
        if e["lib"] not in cell or b["stats"]["median"] < cell[e["lib"]][0]:
            cell[e["lib"]] = (b["stats"]["median"], e)
    head = ["op", "shape", "dtype"] + [f"{lib} ms" for lib in LIBS]
    head += ["numpy / fastsmooth", "numpy / fastsmooth-acc", "torch / fastsmooth",
             "extra memory: fastsmooth", "numpy", "(input)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (op, shape, dtype), g in groups.items():
        cells = [op, "×".join(map(str, shape)), dtype]
        cells += [_ms(g[lib][0]) if lib in g else "" for lib in LIBS]
        for peer, mine in (("numpy", "fastsmooth"), ("numpy", "fastsmooth-acc"), ("torch", "fastsmooth")):
            cells.append(f"{g[peer][0] / g[mine][0]:.1f}×" if peer in g and mine in g else "")
        cells += [_mb(g["fastsmooth"][1]["peak_extra_bytes"]), _mb(g["numpy"][1]["peak_extra_bytes"]),
                  _mb(g["fastsmooth"][1]["input_bytes"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+")
    runs = [json.loads(Path(path).read_text()) for path in p.parse_args(argv).json]
    data = runs[0]
    m = data["machine_info"]
    bw = ", ".join(f"{k} {v:.1f} GB/s" for k, v in m.get("copy_bandwidth_GBps", {}).items())
    print(f"Measured {data.get('datetime', '')[:16].replace('T', ' ')} UTC on {m.get('cpu_model')} "
          f"({m.get('numba_threads')} Numba threads, layer `{m.get('threading_layer')}`); fastsmooth "
          f"{m.get('fastsmooth')} (commit {data.get('commit_info', {}).get('id', '?')[:8]}), NumPy "
          f"{m.get('numpy')}, Numba {m.get('numba')}, torch {m.get('torch', '-')}; copy bandwidth {bw}"
          + (f"; best of {len(runs)} runs' medians" if len(runs) > 1 else "") + ".\n")
    print(table([b for run in runs for b in run["benchmarks"]]))


if __name__ == "__main__":
    main()
