"""The ``fastsmooth`` command: ``demo`` prints the worked examples, ``bench`` compares
speed with NumPy/SciPy/torch on this machine, ``info`` shows the setup."""

from __future__ import annotations

import argparse
import sys

import numpy as np

__all__ = ["main"]


def _fmt(a):
    return np.array2string(np.asarray(a), precision=6, suppress_small=False, floatmode="maxprec")


def demo(out=None):
    """Print the worked examples of the source notes, computed by fastsmooth."""
    import fastsmooth as fs

    out = out or sys.stdout

    def p(*args):
        print(*args, file=out)

    x = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    p("fastsmooth demo: smooth stand-ins for max, argmax and one-hot hardmax")
    p("=" * 72)
    p(f"x = {_fmt(x)}    max(x) = {x.max():g}    argmax(x) = {int(np.argmax(x))}")
    p()
    p("1. LogSumExp is a smooth max:  tau * log(sum(exp(x / tau))) -> max(x) as tau -> 0")
    p("   and  max(x) <= LSE <= max(x) + tau * log(n)")
    p(f"   {'tau':>6}  {'logsumexp(x, temperature=tau)':>30}  {'LSE - max':>12}  {'tau*log(n)':>10}")
    for tau in (1.0, 0.5, 0.1, 0.01):
        lse = fs.logsumexp(x, temperature=tau)
        p(f"   {tau:>6g}  {lse:>30.12f}  {lse - 4.0:>12.4e}  {tau * np.log(x.size):>10.4f}")
    p()
    p("2. softmax is a smooth one-hot argmax (hardmax)")
    p(f"   hardmax(x)                  = {_fmt(fs.hardmax(x))}")
    for tau in (1.0, 0.1):
        p(f"   softmax(x, temperature={tau:<4g}) = {_fmt(fs.softmax(x, temperature=tau))}")
    p()
    p("3. soft-argmax: the expected index sum_i i * softmax(x / tau)_i")
    for tau in (1.0, 0.5, 0.1):
        p(f"   soft_argmax(x, temperature={tau:<4g}) = {fs.soft_argmax(x, temperature=tau):.10f}")
    h = np.zeros((5, 7))
    h[3, 5], h[3, 4] = 4.0, 3.0
    for tau in (1.0, 0.2):
        p(f"   soft_argmax2d(5x7 heatmap peaked at (3, 5), temperature={tau:g}) = "
          f"{_fmt(fs.soft_argmax2d(h, temperature=tau))}")
    p()
    p("4. straight-through hardmax: forward with the one-hot, backward through softmax")
    hard, soft = fs.straight_through_hardmax(x)
    g = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    p(f"   forward  (hard)                 = {_fmt(hard)}")
    p(f"   backward softmax_backward(g, soft) for g = e_3:")
    p(f"                                   = {_fmt(fs.softmax_backward(g, soft))}")
    p()
    p("5. gradients: d LSE / dx = softmax(x);  d soft_argmax / dx = p * (i - E[i])")
    p(f"   logsumexp_backward(1, x, lse)    = {_fmt(fs.logsumexp_backward(1.0, x, fs.logsumexp(x)))}")
    p(f"   soft_argmax_backward(1, x)       = {_fmt(fs.soft_argmax_backward(1.0, x))}")
    p()
    p("6. special values (where SciPy gives nan or loses digits)")
    p(f"   logsumexp([0, -40])      = {float(fs.logsumexp([0.0, -40.0]))!r}   (naive m + log(s): 0.0)")
    p(f"   softmax([1, inf, inf])   = {_fmt(fs.softmax([1.0, np.inf, np.inf]))}   (SciPy: nan)")
    p(f"   logsumexp([1000, 1])     = {float(fs.logsumexp([1000.0, 1.0]))!r}   (naive: inf)")
    return 0


def info(out=None):
    """Print versions, Numba's threading layer and thread count, SVML, cache dir."""
    out = out or sys.stdout
    import numba

    import fastsmooth
    from fastsmooth import _config

    print(f"fastsmooth {fastsmooth.__version__}", file=out)
    print(f"numpy {np.__version__}, numba {numba.__version__}", file=out)
    layer = _config.threading_layer() or "none could be loaded (serial kernels only)"
    safe = "thread-safe" if _config._layer_is_thread_safe() else "serial kernels off the main thread"
    print(f"threading layer: {layer} ({safe}); threads: {numba.get_num_threads()}", file=out)
    print(f"SVML: {bool(numba.config.USING_SVML)}", file=out)
    print(f"cache dir: {numba.config.CACHE_DIR or '(next to the package, __pycache__)'}", file=out)
    return 0


def bench(args, out=None):
    """Run the side-by-side benchmark and print its table."""
    from . import _bench
    from ._peers import CASES

    out = out or sys.stdout
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    results, meta = _bench.run(ops=args.ops, dtypes=args.dtype, quick=args.quick)
    print(_bench.format_table(results, meta), file=out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(_bench.to_json(results, meta))
        print(f"results written to {args.json}", file=out)
    if args.plot:
        try:
            _bench.plot(results, args.plot)
        except ImportError:
            print("fastsmooth bench: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 1
        print(f"plot written to {args.plot}", file=out)
    return 0


def _op_list(text):
    from ._peers import CASES

    ops = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in CASES]
    if not ops or unknown:
        raise argparse.ArgumentTypeError(
            f"unknown op(s) {', '.join(unknown) or text!r}; choose from {', '.join(CASES)}"
        )
    return ops


def _threads(text):
    import numba

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--threads must be an integer, got {text!r}") from None
    limit = numba.config.NUMBA_NUM_THREADS
    if not 1 <= n <= limit:
        raise argparse.ArgumentTypeError(f"--threads must be between 1 and {limit}, got {n}")
    return n


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastsmooth", description="Smooth stand-ins of non-differentiable operations."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="print the worked examples of the source notes",
                   description="Print the worked examples of the source notes.")
    sub.add_parser("info", help="versions, threading layer, SVML, cache directory",
                   description="Print versions, Numba's threading layer and threads, SVML, cache dir.")
    b = sub.add_parser("bench", help="benchmark against NumPy, SciPy and torch on this machine",
                       description="Time fastsmooth side by side with NumPy, SciPy and (if installed) "
                                   "torch on this machine and print a table.")
    b.add_argument("--quick", action="store_true", help="smaller shapes: finishes in under a minute")
    b.add_argument("--ops", type=_op_list, default=None,
                   help="comma-separated ops (default: all), e.g. logsumexp,softmax")
    b.add_argument("--dtype", choices=["float32", "float64"], action="append", default=None,
                   help="dtype to run (repeatable; default: both)")
    b.add_argument("--threads", type=_threads, default=None, help="Numba (and torch) threads")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--plot", metavar="FILE", help="draw speed-up against size (needs matplotlib)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return demo()
    if args.command == "bench":
        args.dtype = tuple(args.dtype or ("float64", "float32"))
        return bench(args)
    return info()
