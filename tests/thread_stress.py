"""Many Python threads calling fastsmooth at once, every result checked.

Used in-process by ``tests/test_threads.py`` (whatever threading layer Numba picked) and
run as ``python -m tests.thread_stress`` in a subprocess with
``NUMBA_THREADING_LAYER=workqueue``, the layer that aborts the process on concurrent
parallel launches. Prints one JSON line: the layer, whether a non-main thread may run
parallel kernels, the number of checked calls, and the errors.
"""

from __future__ import annotations

import json
import sys
import threading

import numpy as np

import fastsmooth as fs
from fastsmooth import _config

from .helpers import rng
from .test_api import CALLS


def cases():
    """``[(name, call)]``: big inputs that take the parallel kernels (>= 32k elements,
    rows long enough to be cut into pieces) for every op, and the small call of
    ``tests/test_api.CALLS`` for every public function (new ones included)."""
    big = _config.PARALLEL_MIN_ELEMENTS
    x = 3.0 * rng(40).standard_normal((64, max(1024, -(-big // 64))))
    x32 = x.astype(np.float32)
    long = 3.0 * rng(41).standard_normal((2, max(70_000, big)))  # rows cut into pieces
    heat = rng(42).standard_normal((max(16, -(-big // 2304)), 48, 48))
    g = rng(43).standard_normal(x.shape)
    assert min(x.size, long.size, heat.size) >= big  # all take the parallel kernels
    y, ly = fs.softmax(x), fs.log_softmax(x)
    out = [
        ("logsumexp", lambda: fs.logsumexp(x, axis=1, temperature=0.5)),
        ("logsumexp axis 0 f32", lambda: fs.logsumexp(x32, axis=0)),
        ("logsumexp long", lambda: fs.logsumexp(long)),
        ("logsumexp_backward", lambda: fs.logsumexp_backward(np.ones(64), x, fs.logsumexp(x))),
        ("softmax", lambda: fs.softmax(x)),
        ("softmax long", lambda: fs.softmax(long)),
        ("softmax_backward", lambda: fs.softmax_backward(g, y)),
        ("log_softmax axis 0", lambda: fs.log_softmax(x, axis=0)),
        ("log_softmax long", lambda: fs.log_softmax(long)),
        ("log_softmax_backward", lambda: fs.log_softmax_backward(g, ly)),
        ("soft_argmax", lambda: fs.soft_argmax(x)),
        ("soft_argmax long", lambda: fs.soft_argmax(long)),
        ("soft_argmax_backward", lambda: fs.soft_argmax_backward(np.ones(64), x)),
        ("soft_argmax2d", lambda: fs.soft_argmax2d(heat)),
        ("soft_argmax2d_backward", lambda: fs.soft_argmax2d_backward(np.ones((len(heat), 2)), heat)),
        ("hardmax", lambda: fs.hardmax(x)),
        ("straight_through_hardmax", lambda: fs.straight_through_hardmax(x)),
    ]
    for name, (build, kwargs) in CALLS.items():
        small = rng(44).standard_normal((2, 3, 5) if "2d" in name else (3, 5))
        args = build(small)
        out.append((f"{name} (small)", lambda f=getattr(fs, name), a=args, k=kwargs: f(*a, **k)))
    return out


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def run(n_threads=16, rounds=6, timeout=300.0):
    """Call every case ``rounds`` times from each of ``n_threads`` threads and from the
    main thread, all at once (each thread in its own order); returns a report dict."""
    todo = cases()
    expected = {name: _outputs(call()) for name, call in todo}  # warm: compiled here
    errors = []
    calls = [0]
    lock = threading.Lock()
    start = threading.Barrier(n_threads + 1)

    def work(k):
        try:
            start.wait()
            done = 0
            for i in range(rounds):
                order = todo[(k + i) % len(todo):] + todo[:(k + i) % len(todo)]
                for name, call in order:
                    for got, want in zip(_outputs(call()), expected[name]):
                        # serial and parallel twins give the same bits (the reproducibility contract)
                        np.testing.assert_array_equal(got, want, err_msg=name)
                    done += 1
            with lock:
                calls[0] += done
        except Exception as exc:  # noqa: BLE001 - reported, with the thread that failed
            with lock:
                errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(n_threads)]
    for t in threads:
        t.start()
    work(-1)  # the main thread takes part: parallel kernels there, whatever the layer
    for t in threads:
        t.join(timeout)
    hung = sum(t.is_alive() for t in threads)
    if hung:
        errors.append(f"{hung} threads still running after {timeout} s (deadlock?)")

    answer = {}
    probe = threading.Thread(target=lambda: answer.update(p=_config.use_parallel(10**8)))
    probe.start()
    probe.join()
    return {
        "layer": _config.threading_layer(),
        "parallel_off_main_thread": answer["p"],
        "parallel_on_main_thread": _config.use_parallel(10**8),
        "calls": calls[0],
        "expected_calls": (n_threads + 1) * rounds * len(todo),
        "errors": errors,
    }


if __name__ == "__main__":  # python -m tests.thread_stress [threads [rounds]]
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args)))
