"""The soft-DTW table of docs/performance.md from the JSON of ``bench/bench_dtw.py``.

Usage: ``python bench/report_dtw.py RUN.json [RUN.json ...] [--write docs/performance.md]``
(one file per thread count). Peers may time fewer pairs than fastsmooth on the batches
(``extra_info["pairs"]``), so the table compares time per DP cell (median time / cells);
the fastsmooth column is also given as the time of the whole case. With ``--write`` the
text between ``<!-- bench:dtw:start -->`` and ``<!-- bench:dtw:end -->`` is replaced.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

PEERS = ["tslearn", "numpy"]


def render(paths):
    """One row per (op, shape, thread count); several runs of one thread count are
    combined cell by cell into the best of their medians (on a shared machine other
    processes only ever add time)."""
    rows = ["| op | pairs × n × m × d | threads | fastsmooth ms | fastsmooth ns/cell | "
            + " | ".join(f"{p} ns/cell" for p in PEERS) + " | "
            + " | ".join(f"× vs {p}" for p in PEERS) + " |",
            "|---|---|---:|---:|---:|" + "---:|" * (2 * len(PEERS))]
    notes = []
    groups = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        mi = data["machine_info"]
        threads = mi.get("numba_threads")
        notes.append(f"{Path(path).name}: {data.get('datetime', '')[:16].replace('T', ' ')} UTC, "
                     f"{mi.get('cpu_model', mi.get('cpu', {}).get('brand_raw', '?'))}, "
                     f"{threads} Numba thread(s), layer `{mi.get('threading_layer')}`, "
                     f"NumPy {mi.get('numpy')}, Numba {mi.get('numba')}")
        for b in data["benchmarks"]:
            e = b["extra_info"]
            key = (e["op"], tuple(e["shape"]), threads)
            t = b["stats"]["median"]
            g = groups.setdefault(key, {})
            if e["lib"] not in g or t < g[e["lib"]][0]:
                g[e["lib"]] = (t, e["cells"])
    for (op, shape, threads), g in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][1][1:], kv[0][0])):
        if True:
            if "fastsmooth" not in g:
                continue
            t, cells = g["fastsmooth"]
            per = t / cells
            cols = [op, "×".join(map(str, shape)), str(threads), f"{t * 1e3:.1f}", f"{per * 1e9:.2f}"]
            cols += [f"{g[p][0] / g[p][1] * 1e9:.1f}" if p in g else "–" for p in PEERS]
            cols += [f"{g[p][0] / g[p][1] / per:.1f}" if p in g else "–" for p in PEERS]
            rows.append("| " + " | ".join(cols) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(f"* {n}" for n in notes) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--write")
    args = ap.parse_args(argv)
    text = render(args.paths)
    if not args.write:
        print(text)
        return
    doc = Path(args.write)
    body = doc.read_text()
    pat = re.compile(r"(<!-- bench:dtw:start -->\n).*?(<!-- bench:dtw:end -->)", re.S)
    if not pat.search(body):
        raise SystemExit(f"{doc}: no <!-- bench:dtw:start/end --> markers")
    doc.write_text(pat.sub(lambda m: m.group(1) + text + m.group(2), body))


if __name__ == "__main__":
    main()
