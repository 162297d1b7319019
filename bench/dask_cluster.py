"""LogSumExp of a ~2 GB Dask array chunked along the reduced axis, on one LocalCluster:
fastsmooth.dask against the expression a Dask user writes today and against the
"gufunc route" (rechunk the axis into one chunk, then ``map_blocks``). Wall time and
peak worker memory, same cluster, same run.

Run::

    python bench/dask_cluster.py                # (16, 16_000_000) float64, 2 workers x 1 thread
    python bench/dask_cluster.py --quick        # a 16x smaller array, to try it out
    python bench/dask_cluster.py --table bench/results/dask.json   # the table again

It prints a Markdown table (the one in docs/performance.md, section "Dask") and writes
the raw numbers to ``bench/results/dask.json``. A script rather than a pytest-benchmark
file: each round is a cluster computation of seconds whose worker memory is sampled
while it runs, which pytest-benchmark's timing loop has no place for. (The in-process
case of the comparison table, ``logsumexp_dask``, is ``bench/bench_dask.py``; the user's
expression here is the table's, ``fastsmooth._peers.dask_user_logsumexp``.)

The data is made on the workers (``dask.array.random``), never shipped from the client.
Two scenarios:

* ``persisted`` -- ``x`` is computed once and held in worker memory (1 GB per worker);
  the timings are then the reductions alone, and the memory is what they add.
* ``generated`` -- each computation draws ``x`` itself, chunk by chunk, as when it is
  read from storage; the memory then shows how much of ``x`` a method keeps alive.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import dask
import dask.array as da
import distributed
import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastsmooth as fs  # noqa: E402
import fastsmooth.dask as fsd  # noqa: E402
from fastsmooth._peers import dask_user_logsumexp  # noqa: E402
from bench.conftest import _cpu_model  # noqa: E402


def methods(axis):
    def user_expression(x):
        return dask_user_logsumexp(x, axis=axis)

    def gufunc_route(x):
        whole = x.rechunk({axis: -1, 1 - axis: "auto"})
        return whole.map_blocks(fs.logsumexp, axis=axis, drop_axis=axis, dtype=x.dtype)

    return {
        "fastsmooth.dask.logsumexp": lambda x: fsd.logsumexp(x, axis=axis),
        "da.log(da.exp(x - max).sum()) + max": user_expression,
        "rechunk axis to one chunk + map_blocks(fs.logsumexp)": gufunc_route,
        "x.max(axis) (floor: one read, no exp)": lambda x: x.max(axis=axis),
    }


# ----------------------------------------------------------------- worker memory sampling


def _start_sampler(dask_worker, interval):
    import threading

    import psutil

    proc = psutil.Process()
    state = {"base": proc.memory_info().rss, "stop": threading.Event()}
    state["peak"] = state["base"]

    def loop():
        while not state["stop"].wait(interval):
            state["peak"] = max(state["peak"], proc.memory_info().rss)

    threading.Thread(target=loop, daemon=True).start()
    dask_worker._fastsmooth_bench_memory = state


def _stop_sampler(dask_worker):
    state = dask_worker._fastsmooth_bench_memory
    state["stop"].set()
    return {"base": state["base"], "peak": state["peak"]}


def measured(client, make):
    """``(seconds, result, memory)``: one computation, timed from submission to result,
    with each worker's RSS sampled every 5 ms (peak - RSS at the start, in bytes)."""
    client.run(_start_sampler, interval=0.005)
    t = time.perf_counter()
    result = client.compute(make()).result()
    seconds = time.perf_counter() - t
    memory = client.run(_stop_sampler)
    added = {w: m["peak"] - m["base"] for w, m in memory.items()}
    return seconds, result, added


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--cols", type=int, default=16_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="columns per chunk")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 16x smaller array")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "dask.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.cols //= 16
        args.chunk //= 16
    shape, chunks = (args.rows, args.cols), (args.rows, args.chunk)
    nbytes = args.rows * args.cols * 8

    # the rechunk route logs a warning per P2P shuffle; its timing is what we want
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with distributed.LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, env=env,
    ) as cluster, distributed.Client(cluster) as client:
        client.register_plugin(fsd.NumbaThreads())  # cores // worker threads: 1 here
        caps = sorted(set(client.run(lambda: fsd._config.num_threads()).values()))
        todo = methods(axis=1)
        small = da.random.default_rng(1).standard_normal((4, 8 * 4096), chunks=(4, 4096))
        check = fs.logsumexp(small.compute(), axis=1)
        for name, make in todo.items():  # warm up: compile/load kernels on the workers
            got = client.compute(make(small)).result()
            if "floor" not in name:
                np.testing.assert_allclose(got, check, rtol=1e-12, err_msg=name)

        def generated():
            return da.random.default_rng(0).standard_normal(shape, chunks=chunks)

        rows, reference = [], None
        for scenario in ("generated", "persisted"):  # generated first: nothing held yet
            if scenario == "generated":
                source = generated
            else:
                held = client.persist(generated())
                distributed.wait(held)
                source = lambda: held  # noqa: E731
            for name, make in todo.items():
                times, peaks = [], []
                for _ in range(args.rounds):
                    seconds, result, added = measured(client, lambda: make(source()))
                    if reference is None:
                        reference = result
                    if "floor" not in name:
                        np.testing.assert_allclose(result, reference, rtol=1e-12, err_msg=name)
                    times.append(seconds)
                    peaks.append(max(added.values()))
                rows.append(dict(scenario=scenario, method=name, seconds=times,
                                 peak_worker_bytes=peaks))
                print(f"{scenario:9s} {name:55s} median {statistics.median(times):7.3f} s  "
                      f"peak +{max(peaks) / 2**20:7.0f} MiB/worker", flush=True)

    info = dict(
        shape=list(shape), chunks=list(chunks), dtype="float64", nbytes=nbytes,
        workers=args.workers, threads_per_worker=1, numba_threads_per_call=caps,
        rounds=args.rounds, cpu=_cpu_model(), cpus=os.cpu_count(),
        versions=dict(python=platform.python_version(), numpy=np.__version__,
                      numba=numba.__version__, dask=dask.__version__,
                      distributed=distributed.__version__, fastsmooth=fs.__version__),
        threading_layer=fsd._config.threading_layer(),
        date=time.strftime("%Y-%m-%d"), command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(info=info, results=rows), indent=1))
    print()
    print(table(info, rows))


def table(info, rows):
    """The Markdown table of docs/performance.md: median wall time (min-max), the input
    read per second, the method's time divided by fastsmooth's (above 1: fastsmooth is
    faster, as the rest of that page), and the largest memory a worker added while it
    ran, per scenario."""
    lines = [
        "| data | method | wall time, median (min–max) | input GB/s | method ÷ fastsmooth "
        "| peak added memory per worker |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for scenario in ("generated", "persisted"):
        mine = [r for r in rows if r["scenario"] == scenario]
        base = statistics.median(mine[0]["seconds"])
        for r in mine:
            t = statistics.median(r["seconds"])
            lines.append(
                f"| {scenario} | {r['method']} | {t:.2f} s ({min(r['seconds']):.2f}–"
                f"{max(r['seconds']):.2f}) | {info['nbytes'] / t / 1e9:.1f} | {t / base:.2f} | "
                f"{max(r['peak_worker_bytes']) / 2**20:,.0f} MiB |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:  # the table again, from saved results
        saved = json.loads(Path(sys.argv[2]).read_text())
        print(table(saved["info"], saved["results"]))
    else:
        main()
