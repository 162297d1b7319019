"""First-call latency in a fresh process: what a user pays before the first result.

For each op, a new interpreter imports fastsmooth and calls the op once on a small
float64 array, with Numba's cache directory (``NUMBA_CACHE_DIR``) empty (a cold start:
compile) and then filled by that run (a warm start: load from the cache). The timed
numbers come from inside the subprocess, so interpreter start-up is excluded; the
benchmark's own time is the whole subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPS = {
    "logsumexp": "fs.logsumexp(x)",
    "softmax": "fs.softmax(x)",
    "log_softmax": "fs.log_softmax(x)",
    "soft_argmax": "fs.soft_argmax(x)",
    "softmax_backward": "fs.softmax_backward(x, fs.softmax(x))",
}

SCRIPT = """
import json, time
t0 = time.perf_counter()
import numpy as np
import fastsmooth as fs
t1 = time.perf_counter()
x = np.random.default_rng(0).standard_normal((8, 100))
{call}
t2 = time.perf_counter()
{call}
t3 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_call_s": t2 - t1, "second_call_s": t3 - t2}}))
"""


def run_fresh(call, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(call=call)], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("cache", ["cold", "warm"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_first_call(benchmark, op, cache, tmp_path_factory):
    cache_dir = tmp_path_factory.getbasetemp() / f"numba-cache-{op}"
    if cache == "warm" and not cache_dir.exists():
        run_fresh(OPS[op], cache_dir)  # fill the cache
    elif cache == "cold" and cache_dir.exists():
        import shutil

        shutil.rmtree(cache_dir)
    result = {}

    def once():
        result.update(run_fresh(OPS[op], cache_dir))

    benchmark.group = f"first-call|{op}"
    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(op=op, cache=cache, **result)
