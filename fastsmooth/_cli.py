"""The ``fastsmooth`` command: ``demo`` prints the worked examples, ``bench`` compares
speed with NumPy/SciPy/torch on this machine, ``info`` shows the setup, ``warmup``
compiles (or loads from the cache) the kernels ahead of time."""

from __future__ import annotations

import argparse
import os
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
    p()
    _demo_maxpool(p, fs)
    p()
    _demo_soft_f1(p, fs)
    return 0


def _demo_maxpool(p, fs):
    p("7. max-pooling is a routing matrix: y = W x, one row per window with a 1 at its winner")
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y, idx = fs.maxpool1d(x[None], 2)  # (C, L) = (1, 4): kernel 2, stride 2
    y, idx = y[0], idx[0]
    w = np.eye(x.size, dtype=int)[idx]
    p(f"   x = {_fmt(x)}, kernel 2, stride 2")
    p(f"   y, indices = maxpool1d(x, 2)      -> y = {_fmt(y)}, indices = {_fmt(idx)}")
    p("   W (built from the indices; never needed in practice):")
    for row in w:
        p(f"       {_fmt(row)}")
    p(f"   W @ x                             = {_fmt(w @ x)}")
    g = np.array([0.5, -1.0])
    p("   backward: maxpool1d_backward(g, indices, x.shape) = W^T g, each gradient goes to its winner")
    p(f"   g = {_fmt(g)}                     -> {_fmt(fs.maxpool1d_backward(g[None], idx[None], (1, x.size))[0])}")
    p(f"   W^T g                             = {_fmt(w.T @ g)}")
    x2 = np.array([1.0, 3.0, 2.0, 0.0])
    y2, idx2 = fs.maxpool1d(x2[None], 2, stride=1)
    back = fs.maxpool1d_backward(np.ones_like(y2), idx2, (1, x2.size))[0]
    p(f"   overlapping windows (kernel 2, stride 1) on x = {_fmt(x2)}:")
    p(f"   y = {_fmt(y2[0])}, indices = {_fmt(idx2[0])}; backward of ones = {_fmt(back)}")
    p("   (position 1 won two windows: its gradients add up)")


def _demo_soft_f1(p, fs):
    p("8. soft F1 as a loss: counts from probabilities p = sigmoid(s) instead of decisions s > 0")
    s = np.array([2.0, -1.0, 0.5, -3.0, 1.5, -0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    prob = fs.sigmoid(s)
    p(f"   logits s = {_fmt(s)}")
    p(f"   target t = {_fmt(t)}")
    p(f"   p        = {_fmt(prob)}")
    hard = (s > 0).astype(float)
    htp, hfp, hfn = (hard * t).sum(), (hard * (1 - t)).sum(), ((1 - hard) * t).sum()
    p(f"   hard counts: tp = {htp:g}, fp = {hfp:g}, fn = {hfn:g}; F1 = 2tp / (2tp + fp + fn) = "
      f"{2 * htp / (2 * htp + hfp + hfn):.6f} (a step function of s: its gradient is 0)")
    tp, fp, fn, _ = (float(v) for v in fs.soft_confusion(s, t))
    prec, rec, f1 = tp / (tp + fp), tp / (tp + fn), 2 * tp / (2 * tp + fp + fn)
    p(f"   soft counts: tp = sum p*t = {tp:.6f}, fp = sum p*(1-t) = {fp:.6f}, fn = sum (1-p)*t = {fn:.6f}")
    p(f"   soft precision = {prec:.6f}, recall = {rec:.6f}, F1 = {f1:.6f}")
    loss = float(fs.soft_fbeta_loss(s, t))
    grad = fs.soft_fbeta_loss_backward(1.0, s, t)
    p(f"   soft_fbeta_loss(s, t)             = {loss:.6f}   (1 - F1, eps = 1e-7)")
    p(f"   soft_fbeta_loss_backward(1, s, t) = {_fmt(grad)}")
    acc = fs.FbetaAccumulator()
    parts = (slice(0, 3), slice(3, 6))
    for part in parts:
        acc.update(s[part], t[part])
    acc_grad = np.concatenate([acc.backward(s[part], t[part]) for part in parts])
    naive = np.concatenate([fs.soft_fbeta_loss_backward(1.0, s[part], t[part]) for part in parts]) / len(parts)
    p("   two micro-batches, s[:3] and s[3:], through FbetaAccumulator (update each, then backward each):")
    p(f"   accumulator loss = {float(acc.loss()):.6f}, "
      f"gradient max |difference| from the full batch = {np.max(np.abs(acc_grad - grad)):.1e}")
    off = np.max(np.abs(naive - grad))
    p(f"   averaging per-micro-batch F1 gradients instead: max |difference| = {off:.4f}, "
      f"{100 * off / np.max(np.abs(grad)):.0f}% of the largest entry (F1 is not a sum over samples)")


def _host_cpu():
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


def info(out=None):
    """Print versions, Numba's threading layer and thread count, SVML, cache dir."""
    import importlib.util
    import os
    import platform

    import numba

    import fastsmooth
    from fastsmooth import _config

    out = out or sys.stdout

    def p(*args):
        print(*args, file=out)

    p(f"fastsmooth {fastsmooth.__version__} ({os.path.dirname(fastsmooth.__file__)})")
    p(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    extras = []
    for name in ("scipy", "torch", "onnxruntime", "jax", "dask", "matplotlib"):
        if importlib.util.find_spec(name) is None:
            extras.append(f"{name} -")
        else:
            extras.append(f"{name} {getattr(__import__(name), '__version__', '?')}")
    p("optional: " + ", ".join(extras))
    layer = _config.threading_layer() or "none could be loaded (serial kernels only)"
    safe = "thread-safe" if _config._layer_is_thread_safe() else "serial kernels off the main thread"
    p(f"threading layer: {layer} ({safe}); threads: {_config.num_threads()} "
      f"(NUMBA_NUM_THREADS {numba.config.NUMBA_NUM_THREADS}, cores {numba.config.NUMBA_DEFAULT_NUM_THREADS}); "
      f"serial below {_config.PARALLEL_MIN_ELEMENTS} elements")
    p(f"vector width: {_config.VECTOR_WIDTH}; LLVM host CPU {numba.config.CPU_NAME or _host_cpu()}")
    p(f"SVML: {bool(numba.config.USING_SVML)} (fastsmooth's kernels use their own vectorized exp either way)")
    cache = numba.config.CACHE_DIR or "(next to the package, __pycache__; NUMBA_CACHE_DIR not set)"
    p(f"cache dir: {cache}")
    return 0


def bench(args, out=None):
    """Run the side-by-side benchmark and print its tables."""
    import importlib.util

    from . import _bench

    out = out or sys.stdout
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print("fastsmooth bench: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
        return 1
    if args.threads:
        import numba

        from ._peers import set_peer_threads

        numba.set_num_threads(args.threads)
        set_peer_threads(args.threads)  # torch, ONNX Runtime, JAX (1 thread: before JAX starts)
    results, meta = _bench.run(ops=_selected_ops(args), dtypes=args.dtype, quick=args.quick, sweep=bool(args.plot))
    print(_bench.format_table(results, meta), file=out, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(_bench.to_json(results, meta))
        print(f"results written to {args.json}", file=out)
    if args.plot:
        _bench.plot(results, args.plot, meta)
        print(f"plot written to {args.plot}", file=out)
    return 0


def warmup(args, out=None):
    """Compile or load the kernels of ``--ops`` for ``--dtype``: :func:`fastsmooth.warmup`,
    with its progress bar when stderr is a terminal; one summary line on stdout."""
    import fastsmooth as fs

    out = out or sys.stdout
    dtypes = tuple(args.dtype) if args.dtype else ("float32", "float64")
    r = fs.warmup(args.ops, dtypes)
    print(
        f"fastsmooth warmup: {r['ops']} ops x {', '.join(r['dtypes'])} ({r['calls']} calls) in "
        f"{r['seconds']:.1f} s: {r['compiled']} kernels compiled, {r['loaded']} loaded from the cache",
        file=out,
    )
    return 0


def _warmup_ops(text):
    """``warmup --ops``: comma-separated names of public functions."""
    from ._warmup import WARMUP_OPS

    ops = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in WARMUP_OPS]
    if unknown or not ops:
        raise argparse.ArgumentTypeError(
            f"unknown op(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(WARMUP_OPS)}"
        )
    return list(dict.fromkeys(ops))


def _op_list(text):
    """``--ops``: comma-separated op names or family names (a family means all its ops)."""
    from ._peers import ALL_CASES, FAMILIES

    ops = []
    for name in (o.strip() for o in text.split(",")):
        if not name:
            continue
        if name in FAMILIES:
            ops += [op for op in FAMILIES[name].cases if op not in ops]
        elif name in ALL_CASES:
            ops += [name] * (name not in ops)
        else:
            raise argparse.ArgumentTypeError(
                f"unknown op {name!r}; choose from {', '.join(ALL_CASES)} or a family ({', '.join(FAMILIES)})"
            )
    if not ops:
        raise argparse.ArgumentTypeError(f"no op given; choose from {', '.join(ALL_CASES)}")
    return ops


def _family_list(text):
    """``--family``: comma-separated family names."""
    from ._peers import FAMILIES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown family {', '.join(map(repr, unknown)) or '(none given)'}; choose from {', '.join(FAMILIES)}"
        )
    return list(dict.fromkeys(names))


def _selected_ops(args):
    """The ops of ``--ops`` and of ``--family`` (both: the ops of either), None for all."""
    from ._peers import FAMILIES

    if not args.ops and not args.family:
        return None
    ops = list(args.ops or [])
    for name in args.family or []:
        ops += [op for op in FAMILIES[name].cases if op not in ops]
    return ops


def _out_file(text):
    """``--json``/``--plot``: a file in an existing directory (checked before the run)."""
    import os

    folder = os.path.dirname(os.path.abspath(text))
    if not text or os.path.isdir(text) or not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: not a file in an existing directory")
    return text


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


def _ops_help():
    from ._peers import FAMILIES

    fams = "; ".join(f"{name}: {', '.join(fam.cases)}" for name, fam in FAMILIES.items())
    return f"comma-separated ops or families (default: all). {fams}"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastsmooth",
        description="Fast smooth stand-ins of non-differentiable operations: worked examples, "
                    "a benchmark against NumPy/SciPy/torch on this machine, and the setup.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastsmooth {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,bench,info,warmup}")
    sub.add_parser("demo", help="print the worked examples of the source notes",
                   description="Print the worked examples of the source notes: LogSumExp -> max as the "
                               "temperature falls, softmax vs hardmax, soft-argmax (1-D and 2-D), "
                               "straight-through, gradients, special values, max-pool routing, soft F1.")
    sub.add_parser("info", help="versions, threading layer, SVML, cache directory",
                   description="Print versions, Numba's threading layer and threads, SVML, cache dir.")
    b = sub.add_parser(
        "bench", help="benchmark against NumPy, SciPy, torch and other peers on this machine",
        description="Time fastsmooth side by side with NumPy and, if installed, SciPy, torch, ONNX "
                    "Runtime, JAX, entmax, hmmlearn, tslearn and Dask on this machine and print one "
                    "table per op family: medians (warm-up excluded), speed-up over each peer, achieved "
                    "GB/s and its time against the memory floor (and the exp-loop).",
        epilog="A full run takes several minutes; --quick takes well under one, compilation included.",
    )
    b.add_argument("--quick", action="store_true",
                   help="small shapes, one dtype per family, fewer repeats: under a minute")
    b.add_argument("--ops", type=_op_list, default=None, help=_ops_help())
    b.add_argument("--family", type=_family_list, default=None,
                   help="comma-separated families to run (with --ops: the ops of either); "
                        "default: all")
    b.add_argument("--dtype", choices=["float32", "float64"], action="append", default=None,
                   help="dtype to run (repeatable; default: both, or each family's own with --quick)")
    b.add_argument("--threads", type=_threads, default=None,
                   help="Numba threads, and the peers' (torch, ONNX Runtime; JAX when 1); "
                        "default: Numba's count, or PEER_THREADS for the peers")
    b.add_argument("--json", metavar="FILE", type=_out_file, help="also write the results as JSON")
    b.add_argument("--plot", metavar="FILE", type=_out_file,
                   help="also run a sweep of sizes and draw speed-up against size (needs matplotlib)")
    w = sub.add_parser(
        "warmup", help="compile (or load from the cache) the kernels ahead of time",
        description="Compile the kernels of the given ops for the given dtypes, or load them from "
                    "Numba's on-disk cache, so that the first call of a later process is fast "
                    "(e.g. as a step of a Docker build). A progress bar is drawn when stderr is a "
                    "terminal; one summary line goes to stdout.",
    )
    w.add_argument("--ops", type=_warmup_ops, default=None,
                   help="comma-separated names of fastsmooth functions (default: all)")
    w.add_argument("--dtype", choices=["float32", "float64"], action="append", default=None,
                   help="dtype to warm up (repeatable; default: both)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        return demo()
    if args.command == "bench":
        return bench(args)
    if args.command == "warmup":
        return warmup(args)
    return info()


def run(argv=None):
    """Entry point of the ``fastsmooth`` console script and of ``python -m fastsmooth``:
    :func:`main`, stopping quietly with status 0 when the reader of stdout goes away
    (``fastsmooth demo | head``)."""
    try:
        return main(argv)
    except BrokenPipeError:
        # what Python still has buffered for stdout goes nowhere instead of raising again at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
