r"""The non-smooth element-wise primitives with an explicit convention at their kink, and
their smooth stand-ins with a temperature, each with its backward pass.

Subgradients. ``relu``, ``abs``, ``maximum``/``minimum`` and the ``max``/``min``
reductions are differentiable except on a set of measure zero (``x = 0``, ``x = y``,
tied maxima). There any value between the one-sided derivatives is a valid
*subgradient*; the backward functions take the one to use (``at_zero``, ``tie``,
``ties``), defaulting to PyTorch's choice. The convention only matters in the backward
pass, so that is where the argument goes.

Smooth stand-ins. ``sigmoid`` (step), ``softplus`` (relu), ``smooth_abs`` (abs) and
``smooth_maximum``/``smooth_minimum`` are differentiable everywhere and tend to their
hard twin as the temperature :math:`\tau \to 0`. They are written so that no
intermediate overflows: with :math:`a = |x|/\tau`, only :math:`e^{-a} \le 1` is ever
formed.

Layout of this module: every element-wise public function validates its inputs, views
them as flat contiguous arrays (no copy for C- or F-ordered input) and calls one of four
chunked ``prange`` kernels -- unary or binary, forward or backward -- with an op code;
each op is its own loop inside the kernel, so that every loop vectorizes. (The
``max``/``min`` reductions live with the other reductions, in :mod:`._reductions`.)

The public ``abs`` is defined here as ``abs_`` (``max`` and ``min`` as ``max_`` and
``min_`` in :mod:`._reductions`): the builtins they would shadow are used by the code of this module (and
resolved by Numba when a kernel is first compiled).
"""

from __future__ import annotations

import inspect

import math

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import (
    ENTRY_FLAGS as _ENTRY_FLAGS,
    as_float_array,
    asarray,
    cast,
    check_real,
    check_temperature,
    direct_out,
    finish_out,
    inv_temperature,
)
from ._config import PARALLEL_MIN_ELEMENTS, jit, kernel, use_parallel
from ._exp import exp, expm1, log1p
from ._arrays import result_cast as _cast
from ._registry import names_in

__all__ = names_in("elementwise")

#: Elements per parallel task of the element-wise kernels.
CHUNK = 1 << 14
_LN2 = math.log(2.0)
#: The smallest float32 >= 1e-8: ``a < _SERIES_BELOW32`` is ``a < 1e-8`` in float32.
_SERIES_BELOW32 = float(np.nextafter(np.float32(1e-8), np.float32(1.0)))

# op codes of the unary kernels
RELU, ABS, SIGMOID, SOFTPLUS, SMOOTH_ABS = range(5)
# op codes of the binary kernels
MAXIMUM, MINIMUM, SMOOTH_MAXIMUM, SMOOTH_MINIMUM, ABS_DIFF = range(5)


# ---------------------------------------------------------------------------------------
# Scalar helpers, inlined into the kernels' loops. ``a = |x| / tau`` throughout. Typed
# constants (``one``, ``two``...) come from the caller: a float64 literal would turn a
# float32 loop into float64.


@jit(inline="always")
def _sigmoid(z, one):
    """``1 / (1 + exp(-z))`` from ``e = exp(-|z|) <= 1``: no overflow, and a tiny
    result for very negative ``z`` keeps its relative precision."""
    e = exp(-abs(z))
    s = one / (one + e)
    return s if z >= 0.0 else e * s


@jit(inline="always")
def _tanh_half(a, two):
    """``tanh(a / 2)`` for ``a >= 0`` as ``-expm1(-a) / (2 + expm1(-a))``: accurate
    near 0 (where ``1 - exp(-a)`` would cancel) and exactly 1 for ``a = inf``."""
    e = expm1(-a)
    return -e / (two + e)


@jit
def _extreme2(x, y, is_min):
    """``max(x, y)`` (``min`` if ``is_min``); nan if either is nan."""
    take_x = (x < y if is_min else x > y) | (x != x)
    return x if take_x else y


@jit
def _gap(x, y, inv_t, zero):
    """``|x - y| / tau``, and 0 for equal inputs (also two equal infinities)."""
    return zero if x == y else abs(x - y) * inv_t


# The smooth ops in passes over blocks of ``BLOCK`` elements, ``out`` holding the
# intermediate (an ``out`` never shares memory with an input: ``direct_out``). Fused
# into one loop, ``exp``/``expm1`` -> division -> ``log1p`` is one long dependency chain
# per element (three divisions and two polynomials in a row for smooth_abs); the loop is
# vectorized but latency-bound (the out-of-order window holds 2-3 iterations), and split
# it runs 1.3-2x faster (docs/performance.md). Each pass computes what the fused loop
# did: the same values, up to LLVM contracting ``pos + tau * lg`` into an FMA or not.

#: Elements per pass of the multi-pass smooth kernels (L1-resident: 8 KiB of float64).
BLOCK = 1024


@jit
def _softplus_block(x, lo, hi, tau, inv_t, zero, out):
    """``tau * log(1 + exp(x / tau)) = max(x, 0) + tau * log1p(exp(-|x| / tau))``."""
    for i in range(U(lo), U(hi)):
        out[i] = exp(-abs(x[i]) * inv_t)
    for i in range(U(lo), U(hi)):
        v = x[i]
        pos = v if v > zero else zero
        out[i] = pos + tau * log1p(out[i])


@jit
def _smooth_abs_block(x, lo, hi, tau, inv_t, ln2, two, out):
    """``2 tau log cosh(x / (2 tau))``. For ``a = |x| / tau < 2`` it is
    ``-tau log1p(-tanh(a/2)**2)`` (no cancellation near 0), and ``|x| a / 4`` (its
    series) below ``a = 1e-8``, where ``tanh**2`` could underflow; above 2,
    ``|x| + 2 tau (log1p(exp(-a)) - log 2)`` (no overflow). Three passes: ``expm1(-a)``;
    the argument of ``log1p``; ``log1p`` and the result."""
    for i in range(U(lo), U(hi)):
        out[i] = expm1(-(abs(x[i]) * inv_t))
    for i in range(U(lo), U(hi)):
        a = abs(x[i]) * inv_t
        e = out[i]
        t = -e / (two + e)
        out[i] = -t * t if a < two else exp(-a)
    tiny = x.dtype.type(_SERIES_BELOW32 if x.itemsize == 4 else 1e-8)  # a < tiny <=> a < 1e-8
    for i in range(U(lo), U(hi)):
        ax = abs(x[i])
        a = ax * inv_t
        lg = log1p(out[i])
        near = -tau * lg
        near = near if near > 0.0 else near - near  # +0 rather than -0 at x = 0
        near = ax * a / (two * two) if a < tiny else near
        out[i] = near if a < two else ax + two * tau * (lg - ln2)


@jit
def _smooth_extreme_block(x, y, lo, hi, tau, inv_t, is_min, zero, out):
    """``tau * log(exp(x/tau) + exp(y/tau))`` (``-tau log(exp(-x/tau) + exp(-y/tau))``
    if ``is_min``) as ``max(x, y) + tau * log1p(exp(-|x - y| / tau))``, in two passes
    (``y`` full size or one value). Equal inputs give ``x + tau log 2`` (``+-inf`` for two
    equal infinities); a nan gives nan."""
    if y.size == 1:
        b = y[0]
        for i in range(U(lo), U(hi)):
            out[i] = exp(-_gap(x[i], b, inv_t, zero))
        for i in range(U(lo), U(hi)):
            soft = tau * log1p(out[i])
            hard = _extreme2(x[i], b, is_min)
            out[i] = hard - soft if is_min else hard + soft
    else:
        for i in range(U(lo), U(hi)):
            out[i] = exp(-_gap(x[i], y[i], inv_t, zero))
        for i in range(U(lo), U(hi)):
            soft = tau * log1p(out[i])
            hard = _extreme2(x[i], y[i], is_min)
            out[i] = hard - soft if is_min else hard + soft


# ---------------------------------------------------------------------------------------
# Kernels. Each task owns a chunk of the flat output; one loop per op code.


@jit
def _chunk(c, n):
    lo = c * CHUNK
    return lo, min(n, lo + CHUNK)


@jit
def _unary_chunk(op, x, lo, hi, tau, inv_t, out):
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    two = x.dtype.type(2.0)
    if op == RELU:
        for i in range(U(lo), U(hi)):
            v = x[i]
            out[i] = zero if v <= zero else v
    elif op == ABS:
        for i in range(U(lo), U(hi)):
            out[i] = abs(x[i])
    elif op == SIGMOID:
        for i in range(U(lo), U(hi)):
            out[i] = _sigmoid(x[i] * inv_t, one)
    elif op == SOFTPLUS:
        for b in range(lo, hi, BLOCK):
            _softplus_block(x, b, min(hi, b + BLOCK), tau, inv_t, zero, out)
    else:
        ln2 = x.dtype.type(_LN2)
        for b in range(lo, hi, BLOCK):
            _smooth_abs_block(x, b, min(hi, b + BLOCK), tau, inv_t, ln2, two, out)


@kernel
def _unary(op, x, tau, inv_t, out):
    """``out = f(x)`` for the unary op ``op`` (flat arrays)."""
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = _chunk(c, n)
        _unary_chunk(op, x, lo, hi, tau, inv_t, out)


@jit
def _unary_slope_chunk(op, x, lo, hi, at_zero, inv_t, out):
    """``out = f'(x)`` (with the chosen value at the kink); nan for a nan ``x``."""
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    two = x.dtype.type(2.0)
    if op == RELU or op == ABS:
        below = zero if op == RELU else -one
        for i in range(U(lo), U(hi)):
            v = x[i]
            d = one if v > zero else below
            d = at_zero if v == zero else d
            out[i] = v if v != v else d
    elif op == SIGMOID:
        for i in range(U(lo), U(hi)):
            e = exp(-abs(x[i] * inv_t))
            s = one / (one + e)
            out[i] = e * s * s * inv_t
    elif op == SOFTPLUS:
        for i in range(U(lo), U(hi)):
            out[i] = _sigmoid(x[i] * inv_t, one)
    else:
        for i in range(U(lo), U(hi)):
            v = x[i]
            t = _tanh_half(abs(v) * inv_t, two)
            out[i] = t if v >= zero else -t


@jit
def _times_grad(g, lo, hi, out):
    """``out *= g`` (``g`` of size 1: a scalar); a zero slope stays an exact 0 even for
    an infinite or nan ``g``, as a mask would."""
    zero = out.dtype.type(0.0)
    if g.size == 1:
        gs = g[0]
        for i in range(U(lo), U(hi)):
            d = out[i]
            out[i] = zero if d == zero else gs * d
    else:
        for i in range(U(lo), U(hi)):
            d = out[i]
            out[i] = zero if d == zero else g[i] * d


@kernel
def _unary_backward(op, g, x, at_zero, inv_t, out):
    """``out = g * f'(x)`` for the unary op ``op``."""
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = _chunk(c, n)
        _unary_slope_chunk(op, x, lo, hi, at_zero, inv_t, out)
        _times_grad(g, lo, hi, out)


@jit
def _binary_chunk(op, x, y, lo, hi, tau, inv_t, out):
    """``y`` has the size of ``x`` or is a single value (``y.size == 1``)."""
    zero = x.dtype.type(0.0)
    if op == MAXIMUM or op == MINIMUM:
        is_min = op == MINIMUM
        if y.size == 1:
            b = y[0]
            for i in range(U(lo), U(hi)):
                out[i] = _extreme2(x[i], b, is_min)
        else:
            for i in range(U(lo), U(hi)):
                out[i] = _extreme2(x[i], y[i], is_min)
    elif op == ABS_DIFF:
        if y.size == 1:
            b = y[0]
            for i in range(U(lo), U(hi)):
                out[i] = abs(x[i] - b)
        else:
            for i in range(U(lo), U(hi)):
                out[i] = abs(x[i] - y[i])
    else:
        is_min = op == SMOOTH_MINIMUM
        for b in range(lo, hi, BLOCK):
            _smooth_extreme_block(x, y, b, min(hi, b + BLOCK), tau, inv_t, is_min, zero, out)


@kernel
def _binary(op, x, y, tau, inv_t, out):
    """``out = f(x, y)`` for the binary op ``op`` (``y`` full size or one value)."""
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = _chunk(c, n)
        _binary_chunk(op, x, y, lo, hi, tau, inv_t, out)


@jit
def _binary_slope_chunk(op, x, y, lo, hi, tie, inv_t, gx, gy):
    """``gx``, ``gy``: the partial derivatives of ``f(x, y)``. For the hard ops ``x``
    gets 1 where it wins, 0 where ``y`` does and ``tie`` where they are equal (a nan wins
    over a number, two nans tie); ``y`` gets the rest."""
    one = x.dtype.type(1.0)
    zero = x.dtype.type(0.0)
    if op == MAXIMUM or op == MINIMUM:
        is_min = op == MINIMUM
        for i in range(U(lo), U(hi)):
            a = x[i]
            b = y[i]
            wins = (a < b if is_min else a > b) | ((a != a) & (b == b))
            loses = (b < a if is_min else b > a) | ((b != b) & (a == a))
            w = one if wins else (zero if loses else tie)
            gx[i] = w
            gy[i] = one - w
    elif op == ABS_DIFF:
        for i in range(U(lo), U(hi)):
            d = x[i] - y[i]
            s = one if d > zero else -one
            s = tie if d == zero else s
            s = d if d != d else s
            gx[i] = s
            gy[i] = -s
    else:
        is_min = op == SMOOTH_MINIMUM
        for i in range(U(lo), U(hi)):
            a = x[i]
            b = y[i]
            e = exp(-_gap(a, b, inv_t, zero))
            big = one / (one + e)  # the share of the larger input (the smaller: e * big)
            x_big = a < b if is_min else a > b
            gx[i] = big if x_big else e * big
            gy[i] = e * big if x_big else big


@kernel
def _binary_backward(op, g, x, y, tie, inv_t, gx, gy):
    """``gx = g * df/dx``, ``gy = g * df/dy`` over the flat (broadcast) output; ``x``
    and ``y`` have its size, ``g`` its size or one value."""
    n = x.size
    for c in prange((n + CHUNK - 1) // CHUNK):
        lo, hi = _chunk(c, n)
        _binary_slope_chunk(op, x, y, lo, hi, tie, inv_t, gx, gy)
        _times_grad(g, lo, hi, gx)
        _times_grad(g, lo, hi, gy)


# ---------------------------------------------------------------------------------------
# The public layer: argument checks, flat views, dtypes.


def _result(arr, dtype, shape=None, order="C"):
    """A flat kernel output back to ``shape`` (in the memory ``order`` of the input) and
    ``dtype``; 0-d results are NumPy scalars."""
    return _cast(arr if shape is None else arr.reshape(shape, order=order), dtype)


def _flat(a):
    """``(flat, order)``: ``a`` as a flat contiguous array, in its own memory order when
    it is C- or F-contiguous (no copy), else a C-ordered copy."""
    order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    return np.ravel(a, order=order), order


def _grad_like(grad, shape, order, dtype, fname, name="grad"):
    g = asarray(grad, fname, name)
    if g.shape != shape:
        raise ValueError(f"{fname}: `{name}` must have shape {shape}, got {g.shape}")
    if g.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: `{name}` must be real, got dtype {g.dtype}")
    return cast(np.ravel(g, order=order), dtype)


def _check_share(value, lo, hi, fname, name):
    """A real number in ``[lo, hi]``, as a Python float."""
    if type(value) is float and lo <= value <= hi:  # fast path: the common call
        return value
    v = check_real(value, fname, name)
    if not lo <= v <= hi:
        raise ValueError(f"{fname}: `{name}` must be in [{lo:g}, {hi:g}], got {value!r}")
    return v


#: ``itemsize -> {temperature: (tau, 1 / tau)}`` for float temperatures already checked,
#: one memo per compute dtype (float32, float64; keyed by itemsize, cheaper to hash than
#: a dtype): the common call repeats one temperature, and the check plus two dtype
#: conversions cost more than the kernel on a small input.
_TEMPERATURES = {4: {}, 8: {}}


def _temperature(temperature, dtype, fname):
    """``(tau, 1 / tau)`` in ``dtype`` (float32 or float64), both clamped to its finite
    range: a huge reciprocal sends every soft term to its limit, an infinite one would
    give ``0 * inf = nan``."""
    memo = _TEMPERATURES[dtype.itemsize]
    if type(temperature) is float:
        hit = memo.get(temperature)
        if hit is not None:
            return hit
    tau = check_temperature(temperature, fname)
    pair = dtype.type(min(tau, float(np.finfo(dtype).max))), inv_temperature(tau, dtype)
    if type(temperature) is float:
        if len(memo) > 256:
            memo.clear()
        memo[temperature] = pair
    return pair


def _fast(x):
    """Whether the ndarray ``x`` takes the fast path: C-contiguous float32/float64 of at
    least one dimension (a few attribute reads; nothing to convert or check)."""
    dt = x.dtype
    return (dt is _F64 or dt is _F32) and x.ndim > 0 and x.flags.c_contiguous


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_ndarray = np.ndarray
_empty = np.empty


class _Fast:
    """What the fast path keeps per dtype (one instance for float32, one for float64:
    attribute reads, no hashing of a dtype on the common call).

    ``taus``: ``temperature -> (tau, 1 / tau)`` as Python floats, the exact
    float32/float64 values of :func:`_temperature` (which the entry points take as
    such), filled by the first call at each float temperature. ``unary``,
    ``unary_backward``: the serial twins' compiled entry points for flat C arrays of the
    dtype, made on the first fast call (:meth:`fastsmooth._config.Kernel.serial_entry`):
    the same machine code the dispatcher runs, without its typing of five or six
    arguments on every call."""

    __slots__ = ("type", "taus", "unary", "unary_backward")

    def __init__(self, dtype):
        self.type = dtype.type
        self.taus = {1.0: (1.0, 1.0)}
        self.unary = self.unary_backward = None


_FAST = {4: _Fast(_F32), 8: _Fast(_F64)}
_FAST32, _FAST64 = _FAST[4], _FAST[8]
#: Below this many elements the fast path runs the serial twin without asking
#: :func:`use_parallel` (which says serial below ``PARALLEL_MIN_ELEMENTS`` anyway).
_SERIAL_BELOW = min(4096, PARALLEL_MIN_ELEMENTS)


def _fast_taus(temperature, dt, fname):
    """``(tau, 1 / tau)`` of the fast path (see :class:`_Fast`)."""
    memo = _FAST[dt.itemsize].taus
    if type(temperature) is float:
        hit = memo.get(temperature)
        if hit is not None:
            return hit
    tau, inv_t = _temperature(temperature, dt, fname)
    pair = float(tau), float(inv_t)
    if type(temperature) is float:
        if len(memo) > 256:
            memo.clear()
            memo[1.0] = (1.0, 1.0)
        memo[temperature] = pair
    return pair


def _unary_op(op, x, fname, temperature=1.0, out=None):
    if type(x) is _ndarray and out is None:
        # the fast path: a C-contiguous (aligned, writeable) float32/float64 ndarray of at
        # least one dimension -- a few attribute reads; nothing to convert or check
        dt = x.dtype
        st = _FAST32 if dt is _F32 else (_FAST64 if dt is _F64 else None)
        if st is not None and x.flags.num & _ENTRY_FLAGS == _ENTRY_FLAGS and x.ndim:
            n = x.size
            if (x.ndim == 1 and n < _SERIAL_BELOW and type(temperature) is float and temperature == 1.0
                    and st.unary is not None):
                # the smallest common call in as few steps as it can take (issue 12 times
                # relu and sigmoid against a bare NumPy ufunc: a step here is ~0.02 us of
                # a 0.7 us call)
                y = _empty(n, dt)
                st.unary(op, x, 1.0, 1.0, y)
                return y
            taus = st.taus.get(temperature) if type(temperature) is float else None
            tau, inv_t = taus if taus is not None else _fast_taus(temperature, dt, fname)
            if x.ndim == 1:
                flat = x
                y = yf = _empty(n, dt)
            else:
                flat = x.reshape(-1)
                yf = _empty(n, dt)
                y = yf.reshape(x.shape)
            if n < _SERIAL_BELOW or not use_parallel(n):
                entry = st.unary
                if entry is None:
                    entry = st.unary = _unary.serial_entry(op, flat, st.type(tau), st.type(inv_t), yf)
                entry(op, flat, tau, inv_t, yf)
            else:
                _unary(op, flat, st.type(tau), st.type(inv_t), yf, parallel=True)  # (dtype scalars)
            return y
    a, out_dtype = as_float_array(x, fname)
    tau, inv_t = _temperature(temperature, a.dtype, fname)
    flat, order = _flat(a)
    direct = order == "C" and a.ndim and out_dtype == a.dtype  # (float16: computed in float32)
    dest = direct_out(out, a.shape, out_dtype, fname, a) if direct else None
    res = np.empty_like(flat) if dest is None else dest.reshape(-1)
    _unary(op, flat, tau, inv_t, res, parallel=use_parallel(flat.size))
    return dest if dest is not None else finish_out(_result(res, out_dtype, a.shape, order), out, fname)


def _unary_op_backward(op, grad, x, fname, at_zero=0.0, temperature=1.0, out=None):
    if type(x) is _ndarray and type(grad) is _ndarray and out is None:
        dt = x.dtype
        st = _FAST32 if dt is _F32 else (_FAST64 if dt is _F64 else None)
        if (st is not None and grad.dtype is dt and x.ndim and grad.shape == x.shape
                and x.flags.num & grad.flags.num & _ENTRY_FLAGS == _ENTRY_FLAGS):
            taus = st.taus.get(temperature) if type(temperature) is float else None
            inv_t = (taus if taus is not None else _fast_taus(temperature, dt, fname))[1]
            n = x.size
            if x.ndim == 1:
                flat, g = x, grad
                dx = df = _empty(n, dt)
            else:
                flat, g = x.reshape(-1), grad.reshape(-1)
                df = _empty(n, dt)
                dx = df.reshape(x.shape)
            z = st.type(at_zero)
            if n < _SERIAL_BELOW or not use_parallel(n):
                entry = st.unary_backward
                if entry is None:
                    entry = st.unary_backward = _unary_backward.serial_entry(
                        op, g, flat, z, st.type(inv_t), df)
                entry(op, g, flat, z, inv_t, df)
            else:
                _unary_backward(op, g, flat, z, st.type(inv_t), df, parallel=True)
            return dx
    a, out_dtype = as_float_array(x, fname)
    _, inv_t = _temperature(temperature, a.dtype, fname)
    flat, order = _flat(a)
    g = _grad_like(grad, a.shape, order, a.dtype, fname)
    direct = order == "C" and a.ndim and out_dtype == a.dtype
    dest = direct_out(out, a.shape, out_dtype, fname, a, g) if direct else None
    res = np.empty_like(flat) if dest is None else dest.reshape(-1)
    _unary_backward(
        op, g, flat, a.dtype.type(at_zero), inv_t, res, parallel=use_parallel(flat.size)
    )
    return dest if dest is not None else finish_out(_result(res, out_dtype, a.shape, order), out, fname)


def _float_pair(x, y, fname):
    """``x`` and ``y`` as arrays of one float dtype (NumPy's promotion, Python scalars
    taking the other's dtype), and the dtype of the result."""
    xa, ya = asarray(x, fname, "x"), asarray(y, fname, "y")
    for arr, name in ((xa, "x"), (ya, "y")):
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{fname}: `{name}` must be an array of real numbers (bool, int or float), "
                f"got dtype {arr.dtype}"
            )
    weak = (int, float, bool)  # Python scalars take the dtype of the other operand
    common = np.result_type(x if type(x) in weak else xa, y if type(y) in weak else ya)
    _, out_dtype = as_float_array(np.empty(0, common), fname)
    compute = np.dtype(np.float32) if out_dtype == np.float16 else out_dtype
    return cast(xa, compute), cast(ya, compute), out_dtype


def _broadcast(xa, ya, fname):
    """The shape ``x`` and ``y`` broadcast to."""
    try:
        shape = np.broadcast_shapes(xa.shape, ya.shape)
    except ValueError:
        raise ValueError(
            f"{fname}: `x` of shape {xa.shape} and `y` of shape {ya.shape} do not broadcast"
        ) from None
    return shape


def _binary_operands(xa, ya, shape, scalar_ok):
    """Flat operands and the memory order of the output. With ``scalar_ok`` (for the
    forward ops, all symmetric) a one-element operand is passed as ``y``, one value;
    otherwise operands that do not have the broadcast shape are expanded."""
    if scalar_ok and xa.size == 1 and ya.size > 1:
        xa, ya = ya, xa
    if xa.shape == shape and (ya.shape == shape or (scalar_ok and ya.size == 1)):
        x_flat, order = _flat(xa)
        y_flat = np.ravel(ya, order=order) if ya.shape == shape else ya.reshape(1)
    else:
        order = "C"
        x_flat = np.ascontiguousarray(np.broadcast_to(xa, shape)).reshape(-1)
        y_flat = np.ascontiguousarray(np.broadcast_to(ya, shape)).reshape(-1)
    return x_flat, y_flat, order


def _sum_to(g, shape):
    """Sum a gradient over the broadcast shape back to an input's ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
    )
    return g.sum(axis=axes).reshape(shape)


def _binary_op(op, x, y, fname, temperature=1.0, out=None):
    if (out is None and type(x) is np.ndarray and type(y) is np.ndarray and _fast(x)
            and y.dtype is x.dtype and y.shape == x.shape and y.flags.c_contiguous):
        tau, inv_t = _temperature(temperature, x.dtype, fname)
        res = np.empty_like(x)
        xf, yf, rf = (x, y, res) if x.ndim == 1 else (x.reshape(-1), y.reshape(-1), res.reshape(-1))
        if use_parallel(x.size):
            _binary(op, xf, yf, tau, inv_t, rf, parallel=True)
        else:
            _binary.serial(op, xf, yf, tau, inv_t, rf)
        return res
    xa, ya, out_dtype = _float_pair(x, y, fname)
    shape = _broadcast(xa, ya, fname)
    tau, inv_t = _temperature(temperature, xa.dtype, fname)
    xf, yf, order = _binary_operands(xa, ya, shape, scalar_ok=True)
    direct = order == "C" and shape and out_dtype == xf.dtype
    dest = direct_out(out, shape, out_dtype, fname, xa, ya) if direct else None
    res = np.empty(xf.size, xf.dtype) if dest is None else dest.reshape(-1)
    _binary(op, xf, yf, tau, inv_t, res, parallel=use_parallel(res.size))
    return dest if dest is not None else finish_out(_result(res, out_dtype, shape, order), out, fname)


def _binary_op_backward(op, grad, x, y, fname, tie=0.5, temperature=1.0):
    """``(gx, gy)`` in the shapes of ``x`` and ``y``."""
    xa, ya, out_dtype = _float_pair(x, y, fname)
    shape = _broadcast(xa, ya, fname)
    _, inv_t = _temperature(temperature, xa.dtype, fname)
    xf, yf, order = _binary_operands(xa, ya, shape, scalar_ok=False)
    g = _grad_like(grad, shape, order, xf.dtype, fname)
    gx = np.empty_like(xf)
    gy = np.empty_like(xf)
    _binary_backward(
        op, g, xf, yf, xf.dtype.type(tie), inv_t, gx, gy, parallel=use_parallel(xf.size)
    )
    gx = _sum_to(gx.reshape(shape, order=order), xa.shape)
    gy = _sum_to(gy.reshape(shape, order=order), ya.shape)
    return _result(gx, out_dtype), _result(gy, out_dtype)


# ---------------------------------------------------------------------------------------
# relu


def relu(x, at_zero=0.0, *, out=None):
    r"""Rectified linear unit, :math:`\max(x, 0)`, element-wise.

    Parameters
    ----------
    x : array_like
        Input; bool and int compute in float64, float16 in float32.
    at_zero : float, default 0.0
        The subgradient at 0, in [0, 1], which only :func:`relu_backward` uses:
        accepted (and checked) here too, so one set of keyword arguments serves both
        calls. It does not change the value.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``, its float dtype (nan stays nan).

    See Also
    --------
    relu_backward : its vector-Jacobian product, with the value chosen at 0.
    softplus : the smooth stand-in.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.relu([-2.0, 0.0, 3.0, np.nan])
    array([ 0.,  0.,  3., nan])
    """
    if type(at_zero) is not float or not 0.0 <= at_zero <= 1.0:
        _check_share(at_zero, 0.0, 1.0, "relu", "at_zero")
    return _unary_op(RELU, x, "relu", 1.0, out)


def relu_backward(grad, x, at_zero=0.0, *, out=None):
    r"""Vector-Jacobian product of :func:`relu`, with a chosen subgradient at 0.

    .. math::

        \frac{\partial L}{\partial x} = g \cdot
        \begin{cases} 1 & x > 0 \\ \alpha & x = 0 \\ 0 & x < 0 \end{cases}

    Parameters
    ----------
    grad : array_like
        :math:`g = \partial L / \partial\,\mathrm{relu}(x)`, the shape of ``x``.
    x : array_like
        The input of the forward call.
    at_zero : float, default 0.0
        :math:`\alpha`, the derivative used at the kink ``x == 0``: any value in
        ``[0, 1]`` (the subdifferential there). PyTorch uses 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The gradient with respect to ``x``: its shape, its float dtype.

    Notes
    -----
    The convention matters only in the backward pass, so the forward :func:`relu` has
    no such argument. Where the derivative is 0 the result is an exact 0 even for an
    infinite or nan ``grad`` (a mask, as PyTorch); a nan ``x`` gives a nan gradient
    (PyTorch passes ``grad`` through).

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.relu_backward(np.ones(3), [-1.0, 0.0, 2.0])
    array([0., 0., 1.])
    >>> fs.relu_backward(np.ones(3), [-1.0, 0.0, 2.0], at_zero=0.5)
    array([0. , 0.5, 1. ])
    """
    fname = "relu_backward"
    at_zero = _check_share(at_zero, 0.0, 1.0, fname, "at_zero")
    return _unary_op_backward(RELU, grad, x, fname, at_zero=at_zero, out=out)


# ---------------------------------------------------------------------------------------
# abs


def abs_(x, at_zero=0.0, *, out=None):
    r"""Absolute value :math:`|x|`, element-wise (``fastsmooth.abs``).

    Parameters
    ----------
    x : array_like
        Input.
    at_zero : float, default 0.0
        The subgradient at 0, in [-1, 1], used by :func:`abs_backward` only; accepted
        (and checked) here so one set of keyword arguments serves both calls.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``, its float dtype.

    See Also
    --------
    abs_backward : its vector-Jacobian product, with the value chosen at 0.
    smooth_abs : the smooth stand-in.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.abs([-2.0, 0.0, 3.0])
    array([2., 0., 3.])
    """
    _check_share(at_zero, -1.0, 1.0, "abs", "at_zero")
    return _unary_op(ABS, x, "abs", out=out)


def abs_backward(grad, x, at_zero=0.0, *, out=None):
    r"""Vector-Jacobian product of :func:`abs <abs_>`, with a chosen subgradient at 0.

    .. math::

        \frac{\partial L}{\partial x} = g \cdot
        \begin{cases} \operatorname{sign}(x) & x \ne 0 \\ \alpha & x = 0 \end{cases}

    Parameters
    ----------
    grad : array_like
        :math:`g`, the shape of ``x``.
    x : array_like
        The input of the forward call.
    at_zero : float, default 0.0
        :math:`\alpha \in [-1, 1]`, the derivative used at ``x == 0``. PyTorch uses 0
        (``sign(0) = 0``).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The gradient with respect to ``x``.

    Notes
    -----
    A zero derivative gives an exact 0 whatever ``grad`` is; a nan ``x`` gives nan.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.abs_backward(np.ones(3), [-2.0, 0.0, 3.0])
    array([-1.,  0.,  1.])
    >>> fs.abs_backward(np.ones(3), [-2.0, 0.0, 3.0], at_zero=1.0)
    array([-1.,  1.,  1.])
    """
    fname = "abs_backward"
    at_zero = _check_share(at_zero, -1.0, 1.0, fname, "at_zero")
    return _unary_op_backward(ABS, grad, x, fname, at_zero=at_zero, out=out)


# ---------------------------------------------------------------------------------------
# maximum / minimum


def maximum(x, y, tie=0.5, *, out=None):
    r"""Element-wise :math:`\max(x, y)` with NumPy broadcasting; nan if either is nan.

    It equals :math:`(x + y + |x - y|) / 2`: its subgradient comes from that of
    :math:`|x - y|` at :math:`x = y`.

    Parameters
    ----------
    x, y : array_like
        Inputs, broadcast together (a Python scalar takes the other's dtype).
    tie : float, default 0.5
        The share of the gradient that goes to ``x`` where ``x == y``, in [0, 1], used by
        :func:`maximum_backward` only; accepted (and checked) here so one set of keyword
        arguments serves both calls.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The broadcast shape, the common float dtype.

    See Also
    --------
    maximum_backward : its vector-Jacobian product, with the share chosen at ties.
    smooth_maximum : the smooth stand-in.
    numpy.maximum, torch.maximum

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.maximum([1.0, 5.0, 2.0], 2.0)
    array([2., 5., 2.])
    """
    _check_share(tie, 0.0, 1.0, "maximum", "tie")
    return _binary_op(MAXIMUM, x, y, "maximum", out=out)


def maximum_backward(grad, x, y, tie=0.5, *, out=None):
    r"""Vector-Jacobian product of :func:`maximum`: ``(grad_x, grad_y)``.

    .. math::

        \frac{\partial L}{\partial x} = g\cdot
        \begin{cases} 1 & x > y \\ \theta & x = y \\ 0 & x < y \end{cases}, \qquad
        \frac{\partial L}{\partial y} = g - \frac{\partial L}{\partial x}

    Parameters
    ----------
    grad : array_like
        :math:`g`, in the broadcast shape of ``x`` and ``y``.
    x, y : array_like
        The inputs of the forward call.
    tie : float, default 0.5
        :math:`\theta \in [0, 1]`, the share of the gradient that goes to ``x`` where
        ``x == y`` (the rest goes to ``y``). PyTorch splits evenly (0.5).
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    grad_x, grad_y : ndarray or scalar
        In the shapes of ``x`` and ``y``: gradients of broadcast operands are summed
        over the broadcast dims.

    Notes
    -----
    A nan operand "wins" and gets the whole gradient (two nans tie), as a nan wins in
    :func:`maxpool2d`; PyTorch gives the whole gradient to both.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.maximum_backward(np.ones(3), [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    (array([0. , 0.5, 1. ]), array([1. , 0.5, 0. ]))
    >>> fs.maximum_backward(np.ones(3), [1.0, 2.0, 3.0], 2.0, tie=1.0)  # y broadcast
    (array([0., 1., 1.]), np.float64(1.0))
    """
    fname = "maximum_backward"
    tie = _check_share(tie, 0.0, 1.0, fname, "tie")
    return finish_out(_binary_op_backward(MAXIMUM, grad, x, y, fname, tie=tie), out, fname)


def minimum(x, y, tie=0.5, *, out=None):
    r"""Element-wise :math:`\min(x, y)` with NumPy broadcasting; nan if either is nan.

    Parameters
    ----------
    x, y : array_like
        Inputs, broadcast together.
    tie : float, default 0.5
        The share of the gradient that goes to ``x`` where ``x == y``, in [0, 1], used by
        :func:`minimum_backward` only; accepted (and checked) here so one set of keyword
        arguments serves both calls.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The broadcast shape, the common float dtype.

    See Also
    --------
    minimum_backward, smooth_minimum, numpy.minimum, torch.minimum

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.minimum([1.0, 5.0, 2.0], 2.0)
    array([1., 2., 2.])
    """
    _check_share(tie, 0.0, 1.0, "minimum", "tie")
    return _binary_op(MINIMUM, x, y, "minimum", out=out)


def minimum_backward(grad, x, y, tie=0.5, *, out=None):
    r"""Vector-Jacobian product of :func:`minimum`: ``(grad_x, grad_y)``; ``grad`` goes
    to the smaller input, ``tie`` (default 0.5, as PyTorch) is the share of ``x`` where
    ``x == y``, and a nan operand gets the whole gradient.

    Parameters
    ----------
    grad : array_like
        :math:`g`, in the broadcast shape.
    x, y : array_like
        The inputs of the forward call.
    tie : float, default 0.5
        Share of ``x`` at ties, in ``[0, 1]``.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    grad_x, grad_y : ndarray or scalar
        In the shapes of ``x`` and ``y``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.minimum_backward(np.ones(3), [1.0, 2.0, 3.0], [2.0, 2.0, 2.0], tie=0.0)
    (array([1., 0., 0.]), array([0., 1., 1.]))
    """
    fname = "minimum_backward"
    tie = _check_share(tie, 0.0, 1.0, fname, "tie")
    return finish_out(_binary_op_backward(MINIMUM, grad, x, y, fname, tie=tie), out, fname)


# ---------------------------------------------------------------------------------------
# Smooth stand-ins



#: Marks "no positional argument" in the functions whose ``temperature`` was positional
#: before fastsmooth 0.2 (issue 11 made it keyword-only everywhere).
_NO_POSITIONAL = object()


def _keyword_only_temperature(fn):
    """Hide the ``_positional`` catch-all of ``fn`` from its signature (what
    ``inspect.signature``, ``help`` and the docs show): it exists only to turn the old
    positional ``temperature`` into a clear error."""
    sig = inspect.signature(fn)
    fn.__signature__ = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "_positional"])
    return fn


def _positional_temperature(fname, value):
    raise TypeError(
        f"{fname}: `temperature` is keyword-only, got it positionally ({value!r}): "
        f"write {fname}(..., temperature={value!r})"
    )


@_keyword_only_temperature
def sigmoid(x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Smooth step: the logistic sigmoid of ``x / temperature``.

    .. math::

        \sigma_\tau(x) = \frac{1}{1 + e^{-x/\tau}}
        \;\xrightarrow[\tau \to 0]{}\; H(x) =
        \begin{cases} 0 & x < 0 \\ 1/2 & x = 0 \\ 1 & x > 0 \end{cases}

    Parameters
    ----------
    x : array_like
        Input.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``, its float dtype, in ``[0, 1]``.

    See Also
    --------
    sigmoid_backward : its vector-Jacobian product.
    softplus : whose derivative it is.
    scipy.special.expit : the same at temperature 1.

    Notes
    -----
    Computed from :math:`e = e^{-|x|/\tau} \le 1`, as :math:`1/(1 + e)` or
    :math:`e/(1 + e)`: no overflow for any input, and small results keep their
    relative precision. :math:`\sigma(\pm\infty) = 1, 0`.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.sigmoid([-1e4, -1.0, 0.0, 1.0, 1e4])
    array([0.        , 0.26894142, 0.5       , 0.73105858, 1.        ])
    >>> fs.sigmoid([-0.1, 0.1], temperature=0.01)
    array([4.53978687e-05, 9.99954602e-01])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("sigmoid", _positional)
    return _unary_op(SIGMOID, x, "sigmoid", temperature, out)


@_keyword_only_temperature
def sigmoid_backward(grad, x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`sigmoid`:
    :math:`g\,\sigma_\tau(x)(1 - \sigma_\tau(x)) / \tau`.

    Parameters
    ----------
    grad : array_like
        :math:`g`, the shape of ``x``.
    x : array_like
        The input of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The gradient with respect to ``x``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.sigmoid_backward(np.ones(3), [0.0, 2.0, 1e4])
    array([0.25      , 0.10499359, 0.        ])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("sigmoid_backward", _positional)
    return _unary_op_backward(SIGMOID, grad, x, "sigmoid_backward", temperature=temperature, out=out)


@_keyword_only_temperature
def softplus(x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Smooth ReLU: :math:`\tau \log(1 + e^{x/\tau})`.

    .. math::

        \operatorname{softplus}_\tau(x) = \max(x, 0) + \tau \log\bigl(1 + e^{-|x|/\tau}\bigr)
        \;\xrightarrow[\tau \to 0]{}\; \max(x, 0)

    Parameters
    ----------
    x : array_like
        Input.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0; the gap to ReLU is at most
        :math:`\tau \log 2` (at 0).
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``, its float dtype.

    See Also
    --------
    softplus_backward : its vector-Jacobian product.
    relu : the hard twin.
    torch.nn.functional.softplus : with ``beta = 1 / tau``; it switches to the
        identity above a threshold, this does not need to.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.softplus([-1e4, 0.0, 1.0, 1e4])
    array([0.00000000e+00, 6.93147181e-01, 1.31326169e+00, 1.00000000e+04])
    >>> fs.softplus([-1.0, 1.0], temperature=0.01)
    array([3.72007598e-46, 1.00000000e+00])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("softplus", _positional)
    return _unary_op(SOFTPLUS, x, "softplus", temperature, out)


@_keyword_only_temperature
def softplus_backward(grad, x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`softplus`: :math:`g\,\sigma(x/\tau)`.

    Parameters
    ----------
    grad : array_like
        :math:`g`, the shape of ``x``.
    x : array_like
        The input of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The gradient with respect to ``x``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.softplus_backward(np.ones(3), [-1e4, 0.0, 1e4])
    array([0. , 0.5, 1. ])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("softplus_backward", _positional)
    return _unary_op_backward(SOFTPLUS, grad, x, "softplus_backward", temperature=temperature, out=out)


@_keyword_only_temperature
def smooth_abs(x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Smooth absolute value: :math:`2\tau \log\cosh(x / (2\tau))`.

    .. math::

        \operatorname{smooth\_abs}_\tau(x) = 2\tau\log\cosh\frac{x}{2\tau}
        = |x| + 2\tau\log\bigl(1 + e^{-|x|/\tau}\bigr) - 2\tau\log 2
        \;\xrightarrow[\tau \to 0]{}\; |x|

    Its derivative :math:`\tanh(x / (2\tau)) = 2\sigma(x/\tau) - 1` is the smoothed sign;
    :math:`|x| - 2\tau\log 2 \le \operatorname{smooth\_abs}_\tau(x) \le |x|`.

    Parameters
    ----------
    x : array_like
        Input.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        Same shape as ``x``, its float dtype.

    See Also
    --------
    smooth_abs_backward : its vector-Jacobian product.
    abs : the hard twin.
    smooth_maximum : which it builds:
        :math:`\operatorname{smooth\_max}(x, y) = (x + y + \operatorname{smooth\_abs}(x - y))/2
        + \tau\log 2`.

    Notes
    -----
    No overflow for any :math:`|x|/\tau` (only :math:`e^{-|x|/\tau}` is formed), and full
    relative precision near 0, where it is :math:`x^2 / (4\tau)`: there it is computed as
    :math:`-\tau\log(1 - \tanh^2(x/(2\tau)))` with an ``expm1``-based tanh.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_abs([-1e4, -1.0, 0.0, 1e-10])
    array([9.99861371e+03, 2.40229014e-01, 0.00000000e+00, 2.50000000e-21])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_abs", _positional)
    return _unary_op(SMOOTH_ABS, x, "smooth_abs", temperature, out)


@_keyword_only_temperature
def smooth_abs_backward(grad, x, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`smooth_abs`: :math:`g \tanh(x / (2\tau))`.

    Parameters
    ----------
    grad : array_like
        :math:`g`, the shape of ``x``.
    x : array_like
        The input of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The gradient with respect to ``x``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_abs_backward(np.ones(4), [-np.inf, -1.0, 0.0, 1e-10])
    array([-1.00000000e+00, -4.62117157e-01,  0.00000000e+00,  5.00000000e-11])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_abs_backward", _positional)
    return _unary_op_backward(SMOOTH_ABS, grad, x, "smooth_abs_backward", temperature=temperature, out=out)


@_keyword_only_temperature
def smooth_maximum(x, y, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Smooth element-wise maximum: the LogSumExp of two inputs, with broadcasting.

    .. math::

        \operatorname{smooth\_max}_\tau(x, y) = \tau\log\bigl(e^{x/\tau} + e^{y/\tau}\bigr)
        = \max(x, y) + \tau\log\bigl(1 + e^{-|x - y|/\tau}\bigr)

    It lies in :math:`[\max(x, y), \max(x, y) + \tau\log 2]` and tends to
    :math:`\max(x, y)` as :math:`\tau \to 0`.

    Parameters
    ----------
    x, y : array_like
        Inputs, broadcast together.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The broadcast shape, the common float dtype.

    See Also
    --------
    smooth_maximum_backward : its vector-Jacobian product.
    maximum : the hard twin.
    logsumexp : the same over an axis.
    numpy.logaddexp : the same at temperature 1.

    Notes
    -----
    Equal inputs give :math:`x + \tau\log 2` (two equal infinities give that infinity);
    a nan gives nan. No intermediate overflows.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_maximum([1.0, 1e4, -np.inf], [1.0, -1e4, -np.inf])
    array([1.69314718e+00, 1.00000000e+04,           -inf])
    >>> fs.smooth_maximum(0.0, [-1.0, 1.0], temperature=0.01)
    array([3.72007598e-46, 1.00000000e+00])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_maximum", _positional)
    return _binary_op(SMOOTH_MAXIMUM, x, y, "smooth_maximum", temperature, out=out)


@_keyword_only_temperature
def smooth_maximum_backward(grad, x, y, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`smooth_maximum`: ``(grad_x, grad_y)``.

    .. math::

        \frac{\partial L}{\partial x} = g\,\sigma\Bigl(\frac{x - y}{\tau}\Bigr), \qquad
        \frac{\partial L}{\partial y} = g\,\sigma\Bigl(\frac{y - x}{\tau}\Bigr)

    the softmax of the two inputs, which tends to the ``tie=0.5`` subgradient of
    :func:`maximum`.

    Parameters
    ----------
    grad : array_like
        :math:`g`, in the broadcast shape.
    x, y : array_like
        The inputs of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    grad_x, grad_y : ndarray or scalar
        In the shapes of ``x`` and ``y`` (summed over broadcast dims).

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_maximum_backward(np.ones(2), [0.0, 3.0], [0.0, 1.0])
    (array([0.5       , 0.88079708]), array([0.5       , 0.11920292]))
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_maximum_backward", _positional)
    return finish_out(_binary_op_backward(
        SMOOTH_MAXIMUM, grad, x, y, "smooth_maximum_backward", temperature=temperature
    ), out, "smooth_maximum_backward")


@_keyword_only_temperature
def smooth_minimum(x, y, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Smooth element-wise minimum:
    :math:`-\tau\log(e^{-x/\tau} + e^{-y/\tau}) = \min(x, y) - \tau\log(1 + e^{-|x - y|/\tau})`.

    Parameters
    ----------
    x, y : array_like
        Inputs, broadcast together.
    temperature : float, default 1.0
        :math:`\tau`, a finite number > 0.
    out : ndarray, optional
        A buffer for the result, of its exact shape and dtype (C-contiguous or not; it
        may be an input: the result is the same); returned. See :ref:`out-buffers`.

    Returns
    -------
    ndarray or scalar
        The broadcast shape, the common float dtype; within :math:`\tau\log 2` below
        :math:`\min(x, y)`.

    See Also
    --------
    smooth_minimum_backward, minimum, smooth_maximum

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_minimum([1.0, 1e4], [1.0, -1e4])
    array([ 3.06852819e-01, -1.00000000e+04])
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_minimum", _positional)
    return _binary_op(SMOOTH_MINIMUM, x, y, "smooth_minimum", temperature, out=out)


@_keyword_only_temperature
def smooth_minimum_backward(grad, x, y, _positional=_NO_POSITIONAL, *, temperature=1.0, out=None):
    r"""Vector-Jacobian product of :func:`smooth_minimum`: ``(grad_x, grad_y)`` with
    :math:`\partial L/\partial x = g\,\sigma((y - x)/\tau)` and
    :math:`\partial L/\partial y = g\,\sigma((x - y)/\tau)`.

    Parameters
    ----------
    grad : array_like
        :math:`g`, in the broadcast shape.
    x, y : array_like
        The inputs of the forward call.
    temperature : float, default 1.0
        As in the forward call.
    out : tuple of ndarray or None, optional
        Buffers for the 2 results, of their exact shapes and dtypes (None: allocated);
        returned as the tuple. See :ref:`out-buffers`.

    Returns
    -------
    grad_x, grad_y : ndarray or scalar
        In the shapes of ``x`` and ``y``.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> fs.smooth_minimum_backward(1.0, 0.0, 2.0)
    (np.float64(0.8807970779778823), np.float64(0.11920292202211755))
    """
    if _positional is not _NO_POSITIONAL:
        _positional_temperature("smooth_minimum_backward", _positional)
    return finish_out(_binary_op_backward(
        SMOOTH_MINIMUM, grad, x, y, "smooth_minimum_backward", temperature=temperature
    ), out, "smooth_minimum_backward")
