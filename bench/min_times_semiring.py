"""Minimum-of-N timings of the semiring products and HMM recursions at one thread
(run with ``NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``): on a shared machine the
minimum of many interleaved calls is the steadiest estimate of the undisturbed time.
Prints a markdown table (used in docs/performance.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fastsmooth as fs  # noqa: E402

try:
    from hmmlearn import _hmmc
except ImportError:
    _hmmc = None


def best(fns, n):
    """Interleaved: each round calls every function once; the minimum per function."""
    out = {k: np.inf for k in fns}
    for f in fns.values():
        with np.errstate(all="ignore"):
            f()
    for _ in range(n):
        for k, f in fns.items():
            t = time.perf_counter()
            with np.errstate(all="ignore"):
                f()
            out[k] = min(out[k], time.perf_counter() - t)
    return out


def trick(a, b):
    ma = a.max(-1, keepdims=True)
    mb = b.max(-2, keepdims=True)
    return np.log(np.exp(a - ma) @ np.exp(b - mb)) + ma + mb


def main():
    r = np.random.default_rng(0)
    rows = ["| case | fastsmooth ms | peer ms | × |", "|---|---:|---:|---:|"]
    for sa, sb in [((512, 512), (512, 512)), ((64, 128, 128), (64, 128, 128)), ((1, 4096), (4096, 4096))]:
        for dt in ("float64", "float32"):
            a = r.standard_normal(sa).astype(dt)
            b = r.standard_normal(sb).astype(dt)
            shape = f"{'×'.join(map(str, sa))} · {'×'.join(map(str, sb))} {dt}"
            t = best({"fs": lambda: fs.logmatmulexp(a, b), "trick": lambda: trick(a, b),
                      "mp": lambda: fs.maxplus_matmul(a, b)}, 20)
            rows.append(f"| logmatmulexp {shape} vs exp-matmul trick | {t['fs'] * 1e3:.2f} | {t['trick'] * 1e3:.2f} "
                        f"| {t['trick'] / t['fs']:.2f} |")
            if dt == "float64":
                t2 = best({"np": lambda: logsumexp(a[..., :, :, None] + b[..., None, :, :], axis=-2),
                           "npmax": lambda: (a[..., :, :, None] + b[..., None, :, :]).max(-2)}, 2)
                rows.append(f"| logmatmulexp {shape} vs materialized NumPy | {t['fs'] * 1e3:.2f} "
                            f"| {t2['np'] * 1e3:.0f} | {t2['np'] / t['fs']:.1f} |")
                rows.append(f"| maxplus_matmul {shape} vs materialized NumPy max | {t['mp'] * 1e3:.2f} "
                            f"| {t2['npmax'] * 1e3:.0f} | {t2['npmax'] / t['mp']:.1f} |")
                adv_a = r.uniform(-700, 700, sa)
                adv_b = r.uniform(-700, 700, sb)
                t3 = best({"adv": lambda: fs.logmatmulexp(adv_a, adv_b)}, 3)
                rows.append(f"| logmatmulexp {shape}, adversarial (±700; the trick gives -inf) | "
                            f"{t3['adv'] * 1e3:.1f} | – | – |")
                c = fs.logmatmulexp(a, b)
                g = r.standard_normal(c.shape)
                t4 = best({"bw": lambda: fs.logmatmulexp_backward(g, a, b, c)}, 10)
                rows.append(f"| logmatmulexp_backward {shape} | {t4['bw'] * 1e3:.2f} | – | – |")
    if _hmmc is not None:
        for S in (8, 64, 256):
            T = 10_000
            start = r.dirichlet(np.ones(S))
            trans = r.dirichlet(np.ones(S), size=S)
            le = r.standard_normal((T, S))
            fe = np.exp(le)
            ls, lA = np.log(start), np.log(trans)

            def hl_scaling():
                _, fwd, sc = _hmmc.forward_scaling(start, trans, fe)
                bwd = _hmmc.backward_scaling(start, trans, fe, sc)
                p = fwd * bwd
                p /= p.sum(1, keepdims=True)
                _hmmc.compute_scaling_xi_sum(fwd, trans, bwd, fe)

            n = 3 if S == 256 else 15
            t = best({"fb": lambda: fs.hmm_forward_backward(ls, lA, le), "hl": hl_scaling,
                      "vit": lambda: fs.viterbi(ls, lA, le), "hv": lambda: _hmmc.viterbi(start, trans, le)}, n)
            rows.append(f"| hmm_forward_backward S={S}, T={T} vs hmmlearn scaling | {t['fb'] * 1e3:.2f} "
                        f"| {t['hl'] * 1e3:.1f} | {t['hl'] / t['fb']:.2f} |")
            rows.append(f"| viterbi S={S}, T={T} vs hmmlearn | {t['vit'] * 1e3:.2f} | {t['hv'] * 1e3:.1f} "
                        f"| {t['hv'] / t['vit']:.2f} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
