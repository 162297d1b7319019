"""Turn pytest-benchmark JSON files into the side-by-side tables of docs/performance.md.

Usage: ``python bench/report.py bench/results/reductions-run*.json``; prints markdown,
or with ``--write docs/performance.md`` replaces the text between
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` (NAME = the JSON's stem
up to ``-run``). Several files of one benchmark (``NAME-run1.json``, ``NAME-run2.json``)
are combined cell by cell into the best of their medians: on a shared machine other
processes only ever add time, so the fastest median is the closest to the undisturbed
one (each library's cell is taken independently).

Each table row is one (op, shape, dtype) group: the median time of each library,
fastsmooth's speed-up over each peer (peer time / fastsmooth time: > 1 means fastsmooth
is faster), and fastsmooth's achieved GB/s (minimum bytes the op must move / median time)
as a share of the copy bandwidth measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

PEERS = ["scipy", "numpy", "torch", "exp-loop"]


def load(paths):
    """Machine info, dates and commits of the runs, and per (op, shape, dtype) group the
    best median of each library over the runs."""
    groups = defaultdict(dict)
    runs = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        runs.append(data)
        for b in data["benchmarks"]:
            info = b["extra_info"]
            key = (info["op"], tuple(info["shape"]), info["dtype"])
            t = b["stats"]["median"]
            if info["lib"] not in groups[key] or t < groups[key][info["lib"]][0]:
                groups[key][info["lib"]] = (t, info["bytes"])
    return runs, groups


def _ms(t):
    return f"{t * 1e3:.3g}" if t < 1 else f"{t * 1e3:.0f}"


def table(groups, bandwidth):
    libs = [p for p in PEERS if any(p in g for g in groups.values())]
    head = ["op", "shape", "dtype", "fastsmooth ms"] + [f"{p} ms" for p in libs]
    head += [f"× vs {p}" for p in libs if p != "exp-loop"] + ["LSE / exp-loop"] * ("exp-loop" in libs)
    head += ["GB/s", "% of copy BW"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (op, shape, dtype), g in groups.items():
        if "fastsmooth" not in g:
            continue
        t, nbytes = g["fastsmooth"]
        cells = [op, "×".join(map(str, shape)), dtype, _ms(t)]
        cells += [_ms(g[p][0]) if p in g else "" for p in libs]
        cells += [f"{g[p][0] / t:.2f}" if p in g else "" for p in libs if p != "exp-loop"]
        if "exp-loop" in libs:
            cells.append(f"{t / g['exp-loop'][0]:.2f}" if "exp-loop" in g else "")
        gbs = nbytes / t / 1e9
        cells += [f"{gbs:.1f}", f"{100 * gbs / bandwidth:.0f}%"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def first_call_table(data):
    rows = {}
    for b in data["benchmarks"]:
        e = b["extra_info"]
        rows.setdefault(e["op"], {})[e["cache"]] = e
    lines = ["| op | import s | first call, cold cache s | first call, warm cache s | second call µs |",
             "|---|---|---|---|---|"]
    for op, r in sorted(rows.items()):
        cold, warm = r.get("cold", {}), r.get("warm", {})
        lines.append(f"| {op} | {warm.get('import_s', float('nan')):.2f} | {cold.get('first_call_s', float('nan')):.2f} "
                     f"| {warm.get('first_call_s', float('nan')):.2f} | {1e6 * warm.get('second_call_s', float('nan')):.0f} |")
    return "\n".join(lines)


def render(paths):
    first = json.loads(Path(paths[0]).read_text())
    if first["benchmarks"] and "cache" in first["benchmarks"][0]["extra_info"]:
        m = first["machine_info"]
        return (f"Measured {first.get('datetime', '')[:16].replace('T', ' ')} UTC on {m.get('cpu_model', '?')}, "
                f"Numba {m.get('numba')}, NumPy {m.get('numpy')}.\n\n" + first_call_table(first))
    runs, groups = load(paths)
    machine = runs[0]["machine_info"]
    bw = {}
    for run in runs:
        for k, v in run["machine_info"].get("copy_bandwidth_GBps", {}).items():
            bw[k] = max(bw.get(k, 0.0), v)
    best = max(bw.values()) if bw else float("nan")
    when = ", ".join(r.get("datetime", "")[:16].replace("T", " ") for r in runs)
    commits = ", ".join(r.get("commit_info", {}).get("id", "?")[:8] for r in runs)
    lines = [
        f"Measured {when} UTC ({len(runs)} run{'s' * (len(runs) > 1)}; each cell is the best of the runs' "
        f"medians) on {machine.get('cpu_model', '?')} "
        f"({machine.get('numba_threads')} Numba threads, layer `{machine.get('threading_layer')}`), "
        f"{machine.get('platform', '')}; fastsmooth {machine.get('fastsmooth')} "
        f"(commit {commits}), NumPy {machine.get('numpy')}, "
        f"Numba {machine.get('numba')}, SciPy {machine.get('scipy', '-')}, torch {machine.get('torch', '-')}. "
        + ", ".join(f"{k}: {v:.1f} GB/s" for k, v in bw.items())
        + " (bytes read + written); the % column uses the larger.",
        "",
        table(groups, best),
    ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+")
    p.add_argument("--write", help="markdown file whose marked sections to replace")
    args = p.parse_args(argv)
    by_name = defaultdict(list)
    for path in args.json:
        by_name[Path(path).stem.split("-run")[0]].append(path)
    for name, paths in by_name.items():
        text = render(paths)
        if not args.write:
            print(text)
            continue
        doc = Path(args.write)
        content = doc.read_text()
        start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
        if not pattern.search(content):
            raise SystemExit(f"{args.write} has no {start} ... {end} section")
        doc.write_text(pattern.sub(lambda m: f"{start}\n{text}\n{end}", content))


if __name__ == "__main__":
    main()
