"""Turn benchmark JSON files into the side-by-side tables of docs/performance.md and the
headline table of README.md.

Usage: ``python bench/report.py bench/results/reductions-run*.json``; prints markdown,
or with ``--write docs/performance.md`` replaces the text between
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->`` (NAME = the JSON's stem
up to ``-run``). Several files of one benchmark (``NAME-run1.json``, ``NAME-run2.json``)
are combined cell by cell into the best of their medians: on a shared machine other
processes only ever add time, so the fastest median is the closest to the undisturbed
one (each library's cell is taken independently).

Also reads the ``--json`` output of ``fastsmooth bench`` (one table per op family).
``--headline README.md`` writes a few key rows of the core benchmark (the
pytest-benchmark JSON files of ``bench/bench_reductions.py``) between
``<!-- headline:start -->`` and ``<!-- headline:end -->``.

Each table row is one (op, shape, dtype) group: the median time of each library,
fastsmooth's speed-up over each peer (peer time / fastsmooth time: > 1 means fastsmooth
is faster), and fastsmooth's achieved GB/s (minimum bytes the op must move / median time)
as a share of the copy bandwidth measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

# the fastsmooth of this checkout (its floor_cells), also when run as a script
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastsmooth._peers import ALL_CASES, COLUMNS, FAMILIES  # noqa: E402

#: the columns after fastsmooth's, in order: the table's peers (fastsmooth._peers.COLUMNS),
#: the second fastsmooth route of the losses, and the compute floor
PEERS = ["fastsmooth-acc", *COLUMNS, "exp-loop"]
#: not columns of their own: the memory floor (see fastsmooth._bench.Floor)
FLOOR = "floor"


def family(op, info=None):
    """The family of a benchmark row: recorded in ``extra_info``, else the table's."""
    if info and info.get("family"):
        return info["family"]
    for name, fam in FAMILIES.items():
        if op in fam.cases:
            return name
    return "other"


def selected(op, families=None, ops=None, info=None):
    """Whether ``op`` is in the subset to render: of one of ``families`` or one of ``ops``
    (no filter: everything)."""
    if not families and not ops:
        return True
    return family(op, info) in (families or ()) or op in (ops or ())


def load(paths, families=None, ops=None):
    """Machine info, dates and commits of the runs, and per (op, shape, dtype) group the
    best median of each library over the runs (``(median, bytes, extra_info)``), for the
    ops of ``families`` / ``ops`` only when given."""
    groups = defaultdict(dict)
    runs = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        runs.append(data)
        for b in data["benchmarks"]:
            info = b["extra_info"]
            if not selected(info["op"], families, ops, info):
                continue
            key = (info["op"], tuple(info["shape"]), info["dtype"])
            t = b["stats"]["median"]
            if info["lib"] not in groups[key] or t < groups[key][info["lib"]][0]:
                groups[key][info["lib"]] = (t, info["bytes"], info)
    return runs, groups


def _mb(b):
    if b is None:
        return "n/a"
    return f"{b / 1e6:.0f} MB" if b >= 1e6 else f"{b / 1e3:.0f} kB"


def _ms(t):
    return f"{t * 1e3:.3g}" if t < 1 else f"{t * 1e3:.0f}"


def _pct_cell(pct, reason):
    """A percentage; above 100 % only with its reason beside it."""
    return f"{pct:.0f}%" + (f" ({reason})" if pct > 100.5 else "")


def tables(groups, bandwidth):
    """One markdown table per family (a heading before each when there are several)."""
    fams = list(dict.fromkeys(family(op, next(iter(g.values()))[2]) for (op, _, _), g in groups.items()))
    out = []
    for fam in fams:
        part = {k: g for k, g in groups.items() if family(k[0], next(iter(g.values()))[2]) == fam}
        if len(fams) > 1:
            out += [f"**{fam}**", ""]
        out += [table(part, bandwidth), ""]
    return "\n".join(out).rstrip()


def table(groups, bandwidth):
    libs = [p for p in PEERS if any(p in g for g in groups.values())]
    with_floor = any(FLOOR in g for g in groups.values())
    memory = [lib for lib in ["fastsmooth", *libs] if any(
        g.get(lib, (0, 0, {}))[2].get("peak_extra_bytes") is not None for g in groups.values())]
    head = ["op", "shape", "dtype", "fastsmooth ms"] + [f"{p} ms" for p in libs]
    head += [f"× vs {p}" for p in libs if p != "exp-loop"] + ["/ exp-loop"] * ("exp-loop" in libs)
    head += ["GB/s"] + (["floor ms", "% of floor"] if with_floor else ["% of copy BW"])
    head += [f"extra memory: {lib}" for lib in memory] + ["(input)"] * bool(memory)
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (op, shape, dtype), g in groups.items():
        if "fastsmooth" not in g:
            continue
        t, nbytes, _ = g["fastsmooth"]
        cells = [op, "×".join(map(str, shape)), dtype, _ms(t)]
        cells += [_ms(g[p][0]) if p in g else "" for p in libs]
        cells += [f"{g[p][0] / t:.2f}" if p in g else "" for p in libs if p != "exp-loop"]
        if "exp-loop" in libs:
            cells.append(f"{t / g['exp-loop'][0]:.2f}" if "exp-loop" in g else "")
        gbs = nbytes / t / 1e9
        cells.append(f"{gbs:.1f}")
        if with_floor:
            fl = g.get(FLOOR, (None,))[0]
            reason = "launch-bound floor" if fl is not None and fl < 50e-6 else "in cache, or a disturbed floor"
            cells += [_ms(fl), _pct_cell(100 * fl / t, reason)] if fl else ["", ""]
        else:
            cells.append(_pct_cell(100 * gbs / bandwidth, "in cache: the copy bandwidth is out of cache"))
        cells += [_mb(g[lib][2].get("peak_extra_bytes")) if lib in g else "" for lib in memory]
        if memory:
            cells.append(_mb(g["fastsmooth"][2].get("input_bytes")))
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


#: the rows of the README's headline table: (op, shape, dtype) of the core benchmark --
#: the common cases, one where a peer is close, and the small batch
HEADLINE = [
    ("logsumexp", (4096, 4096), "float64"),
    ("logsumexp", (4096, 4096), "float32"),
    ("logsumexp", (1_000_000, 8), "float32"),
    ("logsumexp", (64, 1000), "float64"),
    ("softmax", (4096, 4096), "float32"),
    ("log_softmax", (1, 16_000_000), "float64"),
    ("softmax_backward", (4096, 4096), "float64"),
]


def headline(paths):
    """A few key rows of the core benchmark: fastsmooth's time and its speed-up over
    each peer, then the machine, versions, date and command (no links: docs/index.md
    includes this text)."""
    runs, groups = load(paths)
    machine = runs[0]["machine_info"]
    peers = [("scipy", "SciPy"), ("numpy", "NumPy"), ("torch", "torch")]
    rows = ["| op | shape | dtype | fastsmooth | " + " | ".join(f"× vs {name}" for _, name in peers) + " |",
            "|---|---|---|---:|" + "---:|" * len(peers)]
    for op, shape, dtype in HEADLINE:
        g = groups.get((op, shape, dtype))
        if not g or "fastsmooth" not in g:
            raise SystemExit(f"{paths[0]}: no fastsmooth result for {op} {shape} {dtype}")
        t = g["fastsmooth"][0]
        cells = [op, "×".join(map(str, shape)), dtype, f"{_ms(t)} ms"]
        cells += [f"{g[p][0] / t:.1f}" if p in g else "–" for p, _ in peers]
        rows.append("| " + " | ".join(cells) + " |")
    when = runs[-1].get("datetime", "")[:10]
    note = (f"Measured {when} on {machine.get('cpu_model', '?')} ({machine.get('cpu', {}).get('count', '?')} "
            f"cores, {machine.get('numba_threads')} Numba threads, layer `{machine.get('threading_layer')}`; "
            f"torch with its default threads), best of {len(runs)} runs' medians; fastsmooth "
            f"{machine.get('fastsmooth')}, NumPy {machine.get('numpy')}, Numba {machine.get('numba')}, "
            f"SciPy {machine.get('scipy', '-')}, torch {machine.get('torch', '-')}. Command: `python -m pytest "
            f"bench/bench_reductions.py --benchmark-only --benchmark-json=bench/results/reductions-run1.json`. "
            f"SciPy has no backward functions (–).")
    return "\n".join(rows) + "\n\n" + note


#: the rows of the headline table when it is written from ``fastsmooth bench`` JSON
#: (issue 13: the peers are SciPy, NumPy, torch, ONNX Runtime and JAX)
HEADLINE_CLI = [
    ("logsumexp", (4096, 4096), "float64"),
    ("logsumexp", (4096, 4096), "float32"),
    ("logsumexp", (1_000_000, 8), "float32"),
    ("softmax", (4096, 4096), "float32"),
    ("softmax", (1, 16_000_000), "float32"),
    ("softmax", (1_000_000, 8), "float32"),
    ("log_softmax", (1, 16_000_000), "float64"),
    ("softmax", (64, 1000), "float32"),
    ("maxpool2d", (32, 64, 112, 112), "float32"),
]


def _load_words(meta):
    """How busy the machine was, in words, from the bench's ``busy_cores`` (other
    processes' share of the cores at the start); older files lack it."""
    busy = meta.get("busy_cores")
    if busy is None:
        return "load not recorded"
    return "idle" if busy < 0.5 else f"other processes kept {busy:.1f} cores busy"


def headline_cli(paths):
    """The headline from ``fastsmooth bench --json`` files (one thread count): best of the
    runs' medians per library, speed-up of fastsmooth over SciPy, NumPy, torch, ONNX Runtime, JAX."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    best = {}
    for run in runs:
        for r in run["results"]:
            key = (r["op"], tuple(r["shape"]), r["dtype"])
            for lib, t in r["times"].items():
                if t and (lib not in best.setdefault(key, {}) or t < best[key][lib]):
                    best[key][lib] = t
    meta = runs[-1]["meta"]
    peers = [("scipy", "SciPy"), ("numpy", "NumPy"), ("torch", "torch"), ("onnxruntime", "ONNX Runtime"),
             ("jax", "JAX")]
    rows = ["| op | shape | dtype | fastsmooth | " + " | ".join(f"× vs {name}" for _, name in peers) + " |",
            "|---|---|---|---:|" + "---:|" * len(peers)]
    for op, shape, dtype in HEADLINE_CLI:
        g = best.get((op, shape, dtype))
        if not g or "fastsmooth" not in g:
            raise SystemExit(f"{paths[0]}: no fastsmooth result for {op} {shape} {dtype}")
        t = g["fastsmooth"]
        cells = [op, "×".join(map(str, shape)), dtype, f"{_ms(t)} ms"]
        cells += [f"{g[p] / t:.2f}" if p in g else "–" for p, _ in peers]
        rows.append("| " + " | ".join(cells) + " |")
    note = (f"Measured {meta.get('date', '')[:10]} on {meta.get('cpu', '?')} ({meta.get('isa', '?')}, "
            f"{meta.get('cores', '?')} cores, {_load_words(meta)}), Numba threads: {meta.get('threads')}, the "
            f"peers' threads: {meta.get('peer_threads')}, best of {len(runs)} runs' medians; fastsmooth "
            f"{meta.get('fastsmooth')}, NumPy {meta.get('numpy')}, Numba {meta.get('numba')}, torch "
            f"{meta.get('torch', '-')}, ONNX Runtime {meta.get('onnxruntime', '-')}, JAX {meta.get('jax', '-')}. "
            f"Command: `fastsmooth bench --ops logsumexp,softmax,log_softmax,maxpool2d --threads "
            f"{meta.get('threads')} --json FILE`, then `python bench/report.py FILE... --headline README.md`.")
    return "\n".join(rows) + "\n\n" + note


def combine_cli(runs):
    """Several ``--json`` outputs of ``fastsmooth bench`` as one: each library's time is
    the best of the runs' medians (as :func:`load`), the bandwidth the best measured; the
    meta data are the first run's."""
    meta = dict(runs[0]["meta"])
    meta["copy_bandwidth_GBps"] = max(r["meta"]["copy_bandwidth_GBps"] for r in runs)
    meta["date"] = ", ".join(r["meta"]["date"] for r in runs)
    results = {}
    for run in runs:
        for r in run["results"]:
            key = (r["op"], tuple(r["shape"]), r["dtype"])
            if key not in results:
                results[key] = dict(r, times=dict(r["times"]), floors=dict(r.get("floors", {})))
            else:
                best = results[key]["times"]
                for lib, t in r["times"].items():
                    best[lib] = min(best.get(lib, t), t)
                floors = results[key].setdefault("floors", {})
                for name, t in r.get("floors", {}).items():
                    floors[name] = min(floors.get(name, t), t)
                results[key]["table"] = results[key].get("table", True) or r.get("table", True)
    return {"meta": meta, "results": list(results.values()), "runs": len(runs)}


def cli_tables(data):
    """The ``--json`` output of ``fastsmooth bench``: one markdown table per op family."""
    meta, results = data["meta"], data["results"]
    bandwidth = meta["copy_bandwidth_GBps"]
    runs = data.get("runs", 1)
    out = []
    for family in dict.fromkeys(r["family"] for r in results):
        rs = [r for r in results if r["family"] == family and r.get("table", True)]
        if not rs:
            continue
        peers = [p for p in PEERS if p != "exp-loop" and any(p in r["times"] for r in rs)]
        head = ["op", "shape", "dtype", "fastsmooth ms"] + [f"{p} ms" for p in peers]
        with_floor = any(r.get("floors", {}).get("floor") for r in rs)
        with_exp = any(r.get("floors", {}).get("exp-loop") for r in rs)
        head += [f"× vs {p}" for p in peers] + ["GB/s"]
        head += ["floor ms", "% of floor", "cache"] if with_floor else ["% of copy BW"]
        head += ["/ exp-loop"] * with_exp
        out += [f"**{family}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rs:
            t = r["times"]["fastsmooth"]
            cells = [r["op"], "×".join(map(str, r["shape"])), r["dtype"], _ms(t)]
            cells += [_ms(r["times"][p]) if p in r["times"] else "" for p in peers]
            cells += [f"{r['times'][p] / t:.2f}" if p in r["times"] else "" for p in peers]
            gbs = r["nbytes"] / t / 1e9
            cells.append(f"{gbs:.1f}")
            if with_floor:
                from fastsmooth._bench import floor_cells

                cells += floor_cells(r["times"], r.get("floors", {}))
            else:
                cells.append(_pct_cell(100 * gbs / bandwidth, "in cache: the copy bandwidth is out of cache"))
            if with_exp:
                e = r.get("floors", {}).get("exp-loop")
                cells.append(f"{t / e:.2f}" if e else "")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    libs = ", ".join(f"{k} {meta[k]}" for k in ("numpy", "numba", "scipy", "torch", "onnxruntime", "jax", "entmax",
                                                     "hmmlearn", "tslearn", "dask")
                     if k in meta)
    busy = meta.get("busy_cores")
    lines = [
        f"Measured {meta['date']} on {meta['cpu']} ({meta.get('isa', 'AVX-512: not recorded in the JSON, the earlier session said so')}, {meta.get('cores', '?')} cores, "
        f"{meta['threads']} Numba threads, peers {meta.get('peer_threads', 'default')} threads, layer "
        f"`{meta['threading_layer']}`); fastsmooth {meta['fastsmooth']}, {libs}; np.copyto "
        f"bandwidth {bandwidth:.1f} GB/s (read + write)"
        + (f"; other processes kept {busy:.1f} cores busy at the start" if busy is not None else "") + "."
        + (f" Each cell is the best of {runs} runs' medians." if runs > 1 else ""),
        "",
    ]
    return "\n".join(lines + out).rstrip() + "\n"


#: the peers of the aims of issue 13, and what counts as a large case (floor within 1.3x)
AIM_PEERS = ("torch", "jax", "onnxruntime")
AIM_OPS = ("logsumexp", "softmax", "log_softmax", "logsumexp_axis0", "softmax_axis0", "log_softmax_axis0",
           "maxpool2d")


def aims_table(results):
    """Issue 13's aims, case by case: fastsmooth against the fastest of torch, JAX and ONNX
    Runtime (met when fastsmooth is at least as fast), and for large cases (at least 2**22
    elements) its time against the binding floor -- the larger of the memory floor and
    the exp-loop (the compute floor), where there is one -- met within 1.3x."""
    rows = ["| op | shape | dtype | fastsmooth ms | fastest peer | its ms | fastest / fastsmooth | "
            "fastsmooth / memory floor | fastsmooth / exp-loop | fastsmooth / binding floor | aims met |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["op"] not in AIM_OPS or not r.get("table", True):
            continue
        t = r["times"]["fastsmooth"]
        peers = [(r["times"][p], p) for p in AIM_PEERS if p in r["times"]]
        if not peers:
            continue
        best, name = min(peers)
        large = 1
        for d in r["shape"]:
            large *= d
        large = large >= 1 << 22
        fl = r.get("floors", {}).get("floor")
        ex = r.get("floors", {}).get("exp-loop")
        binding = max(fl or 0, ex or 0) or None
        over = t / binding if binding else None
        met = [best >= t] + ([over is not None and over <= 1.3] if large else [])
        note = "yes" if all(met) else ("peers: no" if not met[0] else "") + (
            "; " if not met[0] and large and not met[1] else "") + ("floor: no" if large and not met[1] else "")
        cells = [f"{t / fl:.2f}" if fl and large else "–", f"{t / ex:.2f}" if ex and large else "–",
                 f"{over:.2f}" if over and large else "–"]
        rows.append(f"| {r['op']} | {'×'.join(map(str, r['shape']))} | {r['dtype']} | {_ms(t)} | {name} | "
                    f"{_ms(best)} | {best / t:.2f} | " + " | ".join(cells) + f" | {note} |")
    return "\n".join(rows)


def render(paths, families=None, ops=None):
    """The markdown of the JSON files ``paths`` (one benchmark, several runs), for the ops of
    ``families`` / ``ops`` only when given."""
    first = json.loads(Path(paths[0]).read_text())
    if "results" in first and "meta" in first:
        data = combine_cli([json.loads(Path(p).read_text()) for p in paths])
        data["results"] = [r for r in data["results"] if selected(r["op"], families, ops, r)]
        text = cli_tables(data)
        if any(r["op"] in AIM_OPS and any(p in r["times"] for p in AIM_PEERS) for r in data["results"]):
            text += "\n**Aims of issue 13** (fastest of torch, JAX, ONNX Runtime; for inputs of 2²² elements or " \
                    "more, the binding floor: the larger of the memory floor and the exp-loop)\n\n" + \
                    aims_table(data["results"]) + "\n"
        return text
    if first["benchmarks"] and "cache" in first["benchmarks"][0]["extra_info"]:
        m = first["machine_info"]
        return (f"Measured {first.get('datetime', '')[:16].replace('T', ' ')} UTC on {m.get('cpu_model', '?')}, "
                f"Numba {m.get('numba')}, NumPy {m.get('numpy')}.\n\n" + first_call_table(first))
    runs, groups = load(paths, families, ops)
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
        f"medians) on {machine.get('cpu_model', '?')} ({machine.get('isa', 'AVX-512: not recorded in the JSON, the earlier session said so')}, "
        f"{machine.get('numba_threads')} Numba threads, peers {machine.get('peer_threads', 'default')} threads, "
        f"layer `{machine.get('threading_layer')}`), "
        f"{machine.get('platform', '')}; fastsmooth {machine.get('fastsmooth')} "
        f"(commit {commits}), NumPy {machine.get('numpy')}, "
        f"Numba {machine.get('numba')}, SciPy {machine.get('scipy', '-')}, torch {machine.get('torch', '-')}. "
        + ", ".join(f"{k}: {v:.1f} GB/s" for k, v in bw.items())
        + " (bytes read + written); the % column uses the larger.",
        "",
        tables(groups, best),
    ]
    return "\n".join(lines)


def _names(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES and n not in ALL_CASES and n != "other"]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown name(s) {', '.join(unknown)}")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+")
    p.add_argument("--write", help="markdown file whose marked sections to replace")
    p.add_argument("--headline", metavar="README", help="write the headline table of the JSON files into README")
    p.add_argument("--family", type=_names, default=None,
                   help=f"comma-separated families to render (default: all): {', '.join(FAMILIES)}")
    p.add_argument("--ops", type=_names, default=None, help="comma-separated cases of the table to render")
    args = p.parse_args(argv)
    if args.headline:
        cli = "results" in json.loads(Path(args.json[0]).read_text())
        _replace(Path(args.headline), "<!-- headline:start -->", "<!-- headline:end -->",
                 headline_cli(args.json) if cli else headline(args.json))
        return
    by_name = defaultdict(list)
    for path in args.json:
        by_name[Path(path).stem.split("-run")[0]].append(path)
    for name, paths in by_name.items():
        text = render(paths, args.family, args.ops)
        if not args.write:
            print(text)
            continue
        _replace(Path(args.write), f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->", text)


def _replace(doc, start, end, text):
    """Replace what lies between the markers ``start`` and ``end`` of ``doc``."""
    content = doc.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{doc} has no {start} ... {end} section")
    doc.write_text(pattern.sub(lambda m: f"{start}\n{text}\n{end}", content))


if __name__ == "__main__":
    main()
