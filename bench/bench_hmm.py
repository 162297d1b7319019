"""Benchmarks of the HMM recursions: ``hmm_forward_backward`` (log-likelihood, posteriors
and expected transitions) and ``viterbi`` for S = 8, 64, 256 states and T = 10 000 steps,
against hmmlearn's compiled recursions (``hmmlearn._hmmc``: what ``implementation="log"``
and ``implementation="scaling"`` call) when hmmlearn is installed.

Run at one thread (the aim is "at least hmmlearn's faster implementation at 1 thread";
hmmlearn is single-threaded)::

    NUMBA_NUM_THREADS=1 flock /tmp/fastsmooth-bench.lock python -m pytest bench/bench_hmm.py \
        --benchmark-only --benchmark-json=bench/results/hmm-run1.json
    python bench/report.py bench/results/hmm-run*.json --write docs/performance.md

hmmlearn's log implementation takes about 38 s at S = 256 (one exp per term, libm); it
is timed for S = 8 and 64 only.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsmooth as fs

try:
    from hmmlearn import _hmmc
except ImportError:  # the hmmlearn columns are skipped
    _hmmc = None

STATES = [8, 64, 256]
T = 10_000


def _model(S):
    r = np.random.default_rng(S)
    start = r.dirichlet(np.ones(S))
    trans = r.dirichlet(np.ones(S), size=S)
    log_frameprob = r.standard_normal((T, S))
    return dict(start=start, trans=trans, ls=np.log(start), lA=np.log(trans), le=log_frameprob,
                fe=np.exp(log_frameprob))


def _hl_scaling(x):
    log_prob, fwd, scale = _hmmc.forward_scaling(x["start"], x["trans"], x["fe"])
    bwd = _hmmc.backward_scaling(x["start"], x["trans"], x["fe"], scale)
    post = fwd * bwd
    post /= post.sum(axis=1, keepdims=True)
    return log_prob, post, _hmmc.compute_scaling_xi_sum(fwd, x["trans"], bwd, x["fe"])


def _hl_log(x):
    log_prob, fwd = _hmmc.forward_log(x["start"], x["trans"], x["le"])
    bwd = _hmmc.backward_log(x["start"], x["trans"], x["le"])
    g = fwd + bwd
    g -= g.max(axis=1, keepdims=True)
    post = np.exp(g)
    post /= post.sum(axis=1, keepdims=True)
    return log_prob, post, np.exp(_hmmc.compute_log_xi_sum(fwd, x["trans"], bwd, x["le"]))


CASES = []
for S in STATES:
    fb = {
        "fastsmooth": lambda x: (lambda: fs.hmm_forward_backward(x["ls"], x["lA"], x["le"])),
        "hmmlearn-scaling": lambda x: (lambda: _hl_scaling(x)),
    }
    if S <= 64:
        fb["hmmlearn-log"] = lambda x: (lambda: _hl_log(x))
    vit = {
        "fastsmooth": lambda x: (lambda: fs.viterbi(x["ls"], x["lA"], x["le"])),
        "hmmlearn": lambda x: (lambda: _hmmc.viterbi(x["start"], x["trans"], x["le"])),
    }
    nbytes = (T * S * 2 + S * S * 2) * 8
    CASES.append(("hmm_forward_backward", S, fb, nbytes))
    CASES.append(("viterbi", S, vit, T * S * 8 + T * 8))

PARAMS = [pytest.param(c, lib, id=f"{c[0]}-S{c[1]}-{lib}") for c in CASES for lib in c[2]]
_ARRAYS = {}


@pytest.mark.parametrize("case,lib", PARAMS)
def test_bench(benchmark, case, lib):
    op, S, libs, nbytes = case
    if lib.startswith("hmmlearn") and _hmmc is None:
        pytest.skip("hmmlearn is not installed")
    if S not in _ARRAYS:
        _ARRAYS.clear()
        _ARRAYS[S] = _model(S)
    fn = libs[lib](_ARRAYS[S])
    fn()  # warm
    benchmark.group = f"{op}|S={S},T={T}|float64"
    benchmark.extra_info.update(op=op, lib=lib, shape=[T, S], dtype="float64", bytes=nbytes)
    slow = S == 256 or lib == "hmmlearn-log"
    benchmark.pedantic(fn, rounds=2 if slow else 7, iterations=1, warmup_rounds=0)
