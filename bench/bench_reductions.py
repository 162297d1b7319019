"""LogSumExp / softmax / log-softmax and their backward passes, side by side with SciPy,
plain NumPy, torch (CPU), ONNX Runtime and JAX (each when installed; a missing one is
not collected), on the shapes of issue 2, and the forward ops along axis 0 of a
C-ordered (4096, 4096) (issue 13). Peers run with ``PEER_THREADS`` threads (default:
Numba's count); run once with ``NUMBA_NUM_THREADS=1 PEER_THREADS=1`` and once at all
cores.

Run: ``python -m pytest bench/bench_reductions.py --benchmark-only
--benchmark-json=bench/results/reductions.json`` then ``python bench/report.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastsmooth._peers import CASES, FLOORS, SHAPES, available_libraries

LIBS = available_libraries()
PARAMS = [
    (op, lib)
    for op in CASES
    for lib in list(CASES[op].impls) + list(FLOORS.get(op, {}))
    if lib in LIBS or lib in FLOORS.get(op, {})
]

_DATA = {}


def _data(op, shape, dtype):
    key = (CASES[op].make, shape, dtype)
    if key not in _DATA:
        _DATA.clear()  # keep at most one input set alive (the big shapes are 128 MB each)
        _DATA[key] = CASES[op].make(shape, np.dtype(dtype), np.random.default_rng(0))
    return _DATA[key]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op,lib", PARAMS, ids=[f"{o}-{l}" for o, l in PARAMS])
def test_reductions(benchmark, op, lib, shape, dtype):
    if CASES[op].shapes is not None and tuple(shape) not in CASES[op].shapes:
        pytest.skip(f"{op} runs on {CASES[op].shapes} only")
    d = _data(op, shape, dtype)
    prepare = CASES[op].impls.get(lib) or FLOORS[op][lib]
    fn = prepare(d)
    fn()  # warm-up: JIT compile / caches, excluded from timing
    benchmark.group = f"{op}|{'x'.join(map(str, shape))}|{dtype}"
    benchmark.extra_info.update(op=op, lib=lib, shape=list(shape), dtype=dtype, bytes=CASES[op].nbytes(d))
    benchmark.pedantic(fn, rounds=_rounds(shape), iterations=1, warmup_rounds=1)


def _rounds(shape):
    """Big inputs: 15 rounds, so that a few rounds slowed by page faults on the fresh
    128 MB outputs (seen: 12 ms typical, 130 ms now and then) do not move the median."""
    n = int(np.prod(shape))
    return 15 if n >= 1 << 20 else 50


# ---------------------------------------------------------------------------------------
# Weighted LogSumExp (``b=``, issue 14): fastsmooth.scipy.logsumexp against SciPy's, with
# random positive weights, on the two shapes of the aim (>= 5x SciPy in float64).

WEIGHTED_SHAPES = [(4096, 4096), (1_000_000, 8)]


def _weighted_impls():
    import fastsmooth as fs
    from fastsmooth import scipy as fss

    impls = {
        "fastsmooth": lambda x, b, axis: lambda: fss.logsumexp(x, axis=axis, b=b),
        "fastsmooth-unweighted": lambda x, b, axis: lambda: fs.logsumexp(x, axis=axis),
        "numpy": lambda x, b, axis: lambda: _np_weighted_lse(x, b, axis),
    }
    try:
        import scipy.special

        impls["scipy"] = lambda x, b, axis: lambda: scipy.special.logsumexp(x, axis=axis, b=b)
    except ImportError:  # the SciPy column is skipped without SciPy
        pass
    return impls


def _np_weighted_lse(x, b, axis):
    m = x.max(axis=axis, keepdims=True)
    return np.log(np.sum(b * np.exp(x - m), axis=axis)) + np.squeeze(m, axis=axis)


@pytest.mark.parametrize("axis", [-1, None], ids=["axis-1", "axisNone"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", WEIGHTED_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("lib", ["fastsmooth", "fastsmooth-unweighted", "scipy", "numpy"])
def test_logsumexp_weights(benchmark, lib, shape, dtype, axis):
    impls = _weighted_impls()
    if lib not in impls:
        pytest.skip(f"{lib} is not installed")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    b = rng.random(shape).astype(dtype)
    fn = impls[lib](x, b, axis)
    fn()  # warm-up: JIT compile / caches, excluded from timing
    benchmark.group = f"logsumexp_b{'' if axis == -1 else '_all'}|{'x'.join(map(str, shape))}|{dtype}"
    benchmark.extra_info.update(op="logsumexp_b", lib=lib, shape=list(shape), dtype=dtype, axis=axis,
                                bytes=x.nbytes + b.nbytes)
    benchmark.pedantic(fn, rounds=_rounds(shape), iterations=1, warmup_rounds=1)
