"""Recycled memory for large outputs (softmax / log-softmax results of 32 MiB or more).

A fresh large array costs more than the kernel that fills it: glibc serves every
allocation above 32 MiB with a new ``mmap``, and the kernel's first write to each page
faults it in (measured: 64 MiB of float32 took 20 ms to fault in on a 2-core AMD EPYC,
with NumPy's huge-page advice, against 13 ms for a whole softmax pass of the same
bytes). ONNX Runtime does not pay this: its outputs live in its arena, the same memory
call after call.

:func:`empty` keeps the buffers it handed out and hands one out again once nothing refers
to it any more: every view of a result has the pool's array as its ``base`` (NumPy
collapses view chains to the owner of the memory), so the owner's reference count tells
whether any result still lives. A buffer in use is never handed out twice; a result
stays valid as long as the caller holds it, like any NumPy array.

At most :data:`MAX_KEPT_BYTES` are kept (oldest dropped first). ``FASTSMOOTH_OUTPUT_POOL=0``
in the environment turns it off (every output a fresh ``np.empty``); :func:`clear` drops
the kept buffers. The buffers are NumPy's own allocations (same alignment as
``np.empty``), and no result depends on where its output lives (``tests/test_reproducibility.py``).
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

__all__ = ["MIN_BYTES", "MAX_KEPT_BYTES", "empty", "empty_like", "clear"]

#: Outputs below this size take ``np.empty``: glibc's heap reuses freed memory below its
#: (dynamic) mmap threshold, whose ceiling is 32 MiB on 64-bit Linux.
MIN_BYTES = 32 << 20
#: Most bytes of buffers kept (in use or free).
MAX_KEPT_BYTES = 512 << 20

_ENABLED = os.environ.get("FASTSMOOTH_OUTPUT_POOL", "1").strip() not in ("0", "", "false", "no")
_LOCK = threading.Lock()
_POOL: list = []  # owning 1-D uint8 arrays, oldest first
# references to a pool array that nothing outside holds: the list slot, the loop
# variable and getrefcount's own argument
_FREE_REFS = 3


def _take(nbytes):
    for i in range(len(_POOL) - 1, -1, -1):
        b = _POOL[i]
        if b.nbytes == nbytes and sys.getrefcount(b) <= _FREE_REFS:
            return b
        del b
    b = np.empty(nbytes, np.uint8)
    _POOL.append(b)
    total = sum(a.nbytes for a in _POOL)
    while total > MAX_KEPT_BYTES and len(_POOL) > 1:
        total -= _POOL.pop(0).nbytes  # a buffer still in use lives on with its result
    return b


def empty(shape, dtype):
    """``np.empty(shape, dtype)``, C order; for 32 MiB or more a recycled buffer."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MIN_BYTES or not _ENABLED:
        return np.empty(shape, dtype)
    with _LOCK:
        # the view is made under the lock: from then on the buffer counts as in use
        return _take(nbytes).view(dtype).reshape(shape)


def empty_like(a):
    """:func:`empty` of ``a``'s shape and dtype (C order)."""
    return empty(a.shape, a.dtype)


def clear():
    """Drop the kept buffers (results still held stay valid)."""
    with _LOCK:
        _POOL.clear()
