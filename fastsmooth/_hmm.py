r"""Hidden Markov models on the semiring products: the forward-backward algorithm
(posteriors and expected transition counts) and Viterbi decoding.

Both take one model -- ``log_startprob`` (S,), ``log_transmat`` (S, S), rows "from",
columns "to" -- and ``log_emission`` (T, S) for one sequence or (B, T, S) for a batch:
``log_emission[t, s] = log p(x_t | z_t = s)``. Each sequence is one parallel task (a
fused per-sequence kernel); the results do not depend on the number of threads.

Forward-backward
----------------
The forward recursion is a vector-matrix product in the log semiring
(``alpha_t = (alpha_{t-1} @log A) + e_t``, :func:`._semiring.logmatmulexp` of a row),
the backward one a matrix-vector product. It runs first in probability space with
scaling (Rabiner's scaled recursions: ``exp(A)`` once, ``exp(e_t - max_s e_t)`` per
step, each ``alpha_t`` normalised to sum 1, ``log p(x) = sum_t log c_t``), which costs
multiply-adds instead of exps. All terms are positive, so there is no cancellation; the
only way to lose digits is underflow, and the kernel checks for it: every scale
``c_t`` must be above ``2**-900`` (then the terms lost to underflow are below
``2**-100`` of it) and finite, and the backward pass must reproduce
``sum_s alpha_t(s) beta_t(s) = 1`` to ``1e-8`` at every step. A sequence that fails a
check (unreachable states, emissions of very different magnitudes, ``+inf`` or nan
inputs, an impossible sequence) is recomputed in log space with exact two-pass
LogSumExps (the tiles of :mod:`._semiring`). Posteriors are normalised per time step
and each step's transition counts by the same factor, so ``posteriors`` rows sum to 1
and ``expected_transitions`` to ``T - 1`` (up to rounding).

The arithmetic is float64 for every input dtype (a likelihood summed over 10**4 steps
needs it); float32 inputs give float32 results.

Viterbi
-------
The max-plus recursion ``delta_t = (delta_{t-1} @max A) + e_t`` keeps the winning
predecessor of every state (first, i.e. lowest, on ties: the argmax capture of
:func:`._semiring.maxplus_matmul`), then backtracks from the best final state (lowest on
ties). ``-inf`` is the semiring zero throughout.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange
from numba import uint64 as U

from ._arrays import finish_out, float_dtypes
from ._config import kernel, use_parallel, jit
from ._exp import exp
from ._arrays import result_cast as _cast
from ._rowops import first_argmax, row_dot
from ._semiring import TILE_COLS, _lse_finish, _lse_rows_state, maxplus_update
from ._registry import names_in

__all__ = names_in("hmm")

_THRESHOLD = 2.0 ** -900
_UNIT_TOL = 1e-8


# ---------------------------------------------------------------------------------------
# Arguments


def _model(fname, log_startprob, log_transmat, log_emission):
    """Checked ``(start (S,), trans (S, S), em (B, T, S))`` float64 C arrays, whether the
    input was batched, and the result dtype."""
    names = ("log_startprob", "log_transmat", "log_emission")
    arrs = [np.asarray(x) for x in (log_startprob, log_transmat, log_emission)]
    for x, name in zip(arrs, names):
        float_dtypes(x.dtype, fname, name)
    start, trans, em = arrs
    _, out = float_dtypes(np.result_type(*[x.dtype for x in arrs]), fname, "log_emission")
    if em.ndim not in (2, 3):
        raise ValueError(f"{fname}: `log_emission` must have shape (T, S) or (B, T, S), got {em.shape}")
    T, S = em.shape[-2:]
    if T == 0:
        raise ValueError(f"{fname}: `log_emission` must have at least one time step (T >= 1), got shape {em.shape}")
    if S == 0:
        raise ValueError(f"{fname}: the model must have at least one state, got `log_emission` of shape {em.shape}")
    if start.shape != (S,):
        raise ValueError(f"{fname}: `log_startprob` must have shape ({S},) for {S} states, got {start.shape}")
    if trans.shape != (S, S):
        raise ValueError(f"{fname}: `log_transmat` must have shape ({S}, {S}) for {S} states, got {trans.shape}")
    batched = em.ndim == 3
    em3 = np.ascontiguousarray(em if batched else em[None], dtype=np.float64)
    return (np.ascontiguousarray(start, dtype=np.float64), np.ascontiguousarray(trans, dtype=np.float64),
            em3, batched, out)


# ---------------------------------------------------------------------------------------
# Forward-backward


@jit
def _otimes(x, y):
    """Semiring product of two scalars: ``x + y``, with ``-inf`` annihilating ``+inf``
    (``-inf``, not nan); a nan operand gives nan (as in :mod:`._semiring`)."""
    if (x == -np.inf and y == np.inf) or (x == np.inf and y == -np.inf):
        return -np.inf
    return x + y


@jit
def _scaled(pi, expA, em, post, xi, E, scale, pred, beta, w):
    """Scaled forward-backward of one sequence; returns ``(ok, log p(x))``. ``post``
    (T, S) receives the posteriors (the scaled alphas on the way), ``xi`` (S, S) the
    expected transitions; ``E`` (T, S), ``scale`` (T,) and the (S,) vectors are
    scratch."""
    T, S = em.shape
    ll = 0.0
    prod = 1.0
    msum = 0.0
    for t in range(T):
        et = em[t]
        m = -np.inf
        for s in range(S):
            m = max(m, et[s])
        if not (-np.inf < m < np.inf):
            return False, 0.0
        Et = E[t]
        for s in range(U(S)):
            Et[s] = exp(et[s] - m)
        at = post[t]
        if t == 0:
            for s in range(U(S)):
                at[s] = pi[s] * Et[s]
        else:
            prev = post[t - 1]
            for s in range(U(S)):
                pred[s] = 0.0
            for i in range(S):
                ai = prev[i]
                if ai == 0.0:
                    continue
                row = expA[i]
                for s in range(U(S)):
                    pred[s] += ai * row[s]
            for s in range(U(S)):
                at[s] = pred[s] * Et[s]
        c = 0.0
        for s in range(S):
            c += at[s]
        if not (_THRESHOLD <= c < np.inf):
            return False, 0.0
        inv = 1.0 / c
        for s in range(U(S)):
            at[s] *= inv
        scale[t] = c
        # log p(x) = sum_t (log c_t + m_t): the c_t multiplied up and logged only when
        # the product leaves [1e-200, 1e200] (a log per step was 10 % of the time at S = 8)
        prod *= c
        msum += m
        if not (1e-200 <= prod <= 1e200):
            ll += math.log(prod)
            prod = 1.0
    ll += math.log(prod) + msum
    # backward: beta_{T-1} = 1; gamma_{T-1} = alpha_{T-1}
    for s in range(S):
        beta[s] = 1.0
        xi[s, :] = 0.0
    for t in range(T - 2, -1, -1):
        Et1 = E[t + 1]
        inv = 1.0 / scale[t + 1]
        for s in range(U(S)):
            w[s] = Et1[s] * beta[s] * inv
        g = 0.0
        at = post[t]
        if S >= 32:
            for i in range(S):
                beta[i] = row_dot(expA[i], w, 0, S)
        else:  # short rows: a plain loop beats the call of the blocked dot
            for i in range(S):
                row = expA[i]
                acc = 0.0
                for s in range(S):
                    acc += row[s] * w[s]
                beta[i] = acc
        for i in range(S):
            g += at[i] * beta[i]
        if not (abs(g - 1.0) <= _UNIT_TOL):
            return False, 0.0
        ig = 1.0 / g
        for i in range(S):
            ai = at[i] * ig
            if ai != 0.0:
                xr = xi[i]
                for s in range(U(S)):
                    xr[s] += ai * w[s]
        for s in range(U(S)):
            at[s] = at[s] * beta[s] * ig
    for i in range(S):
        xr = xi[i]
        row = expA[i]
        for s in range(U(S)):
            xr[s] *= row[s]
    return True, ll


@jit
def _lse_vec_dot(row, v):
    """``LSE_j (row[j] (x) v[j])`` (two passes, exact)."""
    n = row.shape[0]
    m = -np.inf
    for j in range(n):
        t = _otimes(row[j], v[j])
        m = t if t > m else m
    s = 0.0
    for j in range(n):
        t = _otimes(row[j], v[j])
        e = exp(t - m)
        s += 1.0 if t == m else e
    return _lse_finish(m, s, 1.0)


@jit
def _log_space(start, trans, em, post, xi, lb, v, M, Sx, step):
    """Exact log-space forward-backward of one sequence; returns ``log p(x)``. ``post``
    (T, S) holds the log alphas on the way; ``lb`` (T, S), ``v`` (S,), ``M``/``Sx``
    (1, TILE_COLS) and ``step`` (1, S) are scratch."""
    Mc = np.empty_like(M)
    Sc = np.empty_like(Sx)
    T, S = em.shape
    nan = np.nan
    la = post
    for s in range(S):
        la[0, s] = _otimes(start[s], em[0, s])
    for t in range(1, T):
        prev = la[t - 1:t]
        for j0 in range(0, S, TILE_COLS):
            j1 = min(j0 + TILE_COLS, S)
            _lse_rows_state(prev, trans, 0, 1, j0, j1, 1.0, M, Sx, Mc, Sc)
            for j in range(j0, j1):
                la[t, j] = _otimes(_lse_finish(M[0, j - j0], Sx[0, j - j0], 1.0), em[t, j])
    ll = _lse_vec_dot(la[T - 1], np.zeros(S))
    for s in range(S):
        lb[T - 1, s] = 0.0
    for t in range(T - 2, -1, -1):
        for s in range(S):
            v[s] = _otimes(em[t + 1, s], lb[t + 1, s])
        for i in range(S):
            lb[t, i] = _lse_vec_dot(trans[i], v)
    xi[:, :] = 0.0
    if ll != ll or ll == np.inf:
        post[:, :] = nan
        xi[:, :] = nan
        return ll
    if ll == -np.inf:
        post[:, :] = 0.0
        return ll
    for t in range(T):
        g = 0.0
        for s in range(S):
            x = exp(_otimes(la[t, s], lb[t, s]) - ll)
            g += x
            step[0, s] = x  # gamma_t, unnormalised (row 0 of the scratch)
        if t < T - 1:
            for s in range(S):
                v[s] = _otimes(em[t + 1, s], lb[t + 1, s])
            for i in range(S):
                lai = la[t, i]
                for j in range(S):
                    xi[i, j] += exp(_otimes(_otimes(lai, trans[i, j]), v[j]) - ll) / g
        for s in range(S):
            post[t, s] = step[0, s] / g
    return ll


@kernel
def _forward_backward(start, trans, em, ll, post, xi):
    n_b, T, S = em.shape
    pi = np.empty(S)
    expA = np.empty((S, S))
    fast = True
    for s in range(S):
        pi[s] = exp(start[s])
        fast = fast and (start[s] < 700.0) and (start[s] == start[s])
        for j in range(S):
            expA[s, j] = exp(trans[s, j])
            fast = fast and (trans[s, j] < 700.0) and (trans[s, j] == trans[s, j])
    for b in prange(n_b):
        E = np.empty((T, S))
        scale = np.empty(T)
        pred = np.empty(S)
        beta = np.empty(S)
        w = np.empty(S)
        ok = False
        if fast:
            ok, val = _scaled(pi, expA, em[b], post[b], xi[b], E, scale, pred, beta, w)
            ll[b] = val
        if not ok:
            M = np.empty((1, TILE_COLS))
            Sx = np.empty((1, TILE_COLS))
            ll[b] = _log_space(start, trans, em[b], post[b], xi[b], E, pred, M, Sx, np.empty((1, S)))


def hmm_forward_backward(log_startprob, log_transmat, log_emission, *, out=None):
    r"""Forward-backward algorithm of a hidden Markov model: the log-likelihood, the
    state posteriors and the expected transition counts.

    .. math::

        \log p(x) = \log \sum_{z} \pi_{z_0} e_{0 z_0} \prod_{t \ge 1} A_{z_{t-1} z_t} e_{t z_t},
        \qquad
        \gamma_{ts} = p(z_t = s \mid x), \qquad
        \Xi_{ij} = \sum_{t=0}^{T-2} p(z_t = i, z_{t+1} = j \mid x)

    with :math:`\log \pi` = ``log_startprob``, :math:`\log A` = ``log_transmat`` and
    :math:`\log e` = ``log_emission``.

    Parameters
    ----------
    log_startprob : array_like, shape (S,)
        Log initial state probabilities.
    log_transmat : array_like, shape (S, S)
        ``log_transmat[i, j] = log p(z_{t+1} = j | z_t = i)``; ``-inf`` for impossible
        transitions.
    log_emission : array_like, shape (T, S) or (B, T, S)
        ``log p(x_t | z_t = s)`` for one sequence or a batch of ``B`` sequences of equal
        length (the same model).

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple, one entry per result, ``None`` to allocate
        that one), of its exact shape and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    log_likelihood : scalar or ndarray, shape (B,)
        :math:`\log p(x)` per sequence.
    posteriors : ndarray, shape (T, S) or (B, T, S)
        :math:`\gamma`; each row sums to 1.
    expected_transitions : ndarray, shape (S, S) or (B, S, S)
        :math:`\Xi` per sequence; sums to ``T - 1``.

    The dtype is that of the three inputs promoted (float32 gives float32; the
    arithmetic is float64 throughout).

    Raises
    ------
    ValueError
        ``T = 0``, no states, or shapes that do not fit together.
    TypeError
        Non-real dtypes.

    See Also
    --------
    viterbi : the most likely state path.
    logmatmulexp : the log-semiring product the recursions are made of.

    Notes
    -----
    Scaled recursions in probability space, checked for underflow, with an exact
    log-space recomputation of any sequence that fails the checks (module notes of
    ``fastsmooth._hmm``). The gradient of ``log_likelihood`` with respect to
    ``log_emission`` is ``posteriors``; with respect to ``log_transmat`` it is
    ``expected_transitions`` and with respect to ``log_startprob`` ``posteriors[0]``.

    Special values: ``-inf`` entries are impossible starts, transitions or emissions
    (the semiring zero, also against ``+inf``). A sequence of probability 0 has
    ``log_likelihood = -inf`` and zero posteriors and transitions (the gradient of the
    log of an empty sum). A nan input, or a ``+inf`` likelihood, gives nan posteriors.

    Examples
    --------
    >>> import fastsmooth as fs
    >>> log_start = np.log([0.5, 0.5])
    >>> log_trans = np.log([[0.9, 0.1], [0.2, 0.8]])
    >>> log_emit = np.log([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7]])   # p(x_t | state)
    >>> ll, post, trans = fs.hmm_forward_backward(log_start, log_trans, log_emit)
    >>> round(float(ll), 6)
    -2.57505
    >>> post.round(4)
    array([[0.7836, 0.2164],
           [0.7144, 0.2856],
           [0.4117, 0.5883]])
    >>> round(float(trans.sum()), 12)             # T - 1 transitions
    2.0
    """
    fname = "hmm_forward_backward"
    start, trans, em3, batched, out_dtype = _model(fname, log_startprob, log_transmat, log_emission)
    n_b, T, S = em3.shape
    ll = np.empty(n_b)
    post = np.empty((n_b, T, S))
    xi = np.empty((n_b, S, S))
    if n_b:
        _forward_backward(start, trans, em3, ll, post, xi, parallel=use_parallel(n_b * T * S * S) and n_b > 1)
    if not batched:
        ll, post, xi = ll[0], post[0], xi[0]
        ll = np.asarray(ll)
    return finish_out((_cast(ll, out_dtype), _cast(post, out_dtype), _cast(xi, out_dtype)), out, fname)


# ---------------------------------------------------------------------------------------
# Viterbi


@jit
def _otimes_rows(x, y, out):
    """``out = x (x) y`` element-wise, as selects (vectorizes)."""
    for s in range(U(x.shape[0])):
        xv = x[s]
        yv = y[s]
        v = xv + yv
        zero = ((xv == -np.inf) & (yv == np.inf)) | ((xv == np.inf) & (yv == -np.inf))
        out[s] = -np.inf if zero else v


@jit
def _maxplus_step(d, trans, out, arg):
    """``out[j] = max_i (d[i] (x) trans[i, j])`` with the first winning ``i`` in ``arg``
    (a nan term wins): the max-plus row-times-matrix of :func:`._semiring._maxplus_rows`
    for one row, vectorized across ``j``, without the tile loops."""
    S = d.shape[0]
    ninf = -np.inf
    nan = np.nan
    for j in range(U(S)):
        out[j] = ninf
        arg[j] = 0
    for i in range(S):
        maxplus_update(d[i], trans[i], 0, S, i, out, arg, ninf, nan)


@kernel
def _viterbi(start, trans, em, logp, path, proto):
    """Viterbi per sequence (prange over the batch); the back-pointers ``psi`` (T, S)
    take the integer type of ``proto`` (int32: half the memory -- and the page faults --
    of int64, and faster than int16, whose selects mix widths)."""
    n_b, T, S = em.shape
    for b in prange(n_b):
        e = em[b]
        psi = np.empty((T, S), proto.dtype)
        delta = np.empty((1, S))
        new = np.empty((1, S))
        for s in range(S):
            delta[0, s] = _otimes(start[s], e[0, s])
            psi[0, s] = 0
        d0 = delta[0]
        n0 = new[0]
        for t in range(1, T):
            _maxplus_step(d0, trans, n0, psi[t])
            _otimes_rows(n0, e[t], d0)
        z = first_argmax(delta[0], 0, S)
        logp[b] = delta[0, z]
        pb = path[b]
        pb[T - 1] = z
        for t in range(T - 1, 0, -1):
            z = psi[t, z]
            pb[t - 1] = z


def viterbi(log_startprob, log_transmat, log_emission, *, out=None):
    r"""Viterbi decoding: the most likely state path of a hidden Markov model.

    .. math::

        \hat z = \operatorname*{arg\,max}_z \Big(\log \pi_{z_0} + \log e_{0 z_0}
            + \sum_{t \ge 1} \big(\log A_{z_{t-1} z_t} + \log e_{t z_t}\big)\Big)

    Parameters
    ----------
    log_startprob : array_like, shape (S,)
    log_transmat : array_like, shape (S, S)
    log_emission : array_like, shape (T, S) or (B, T, S)
        As in :func:`hmm_forward_backward`.

    out : ndarray or tuple of ndarrays, optional
        A buffer for the result (a tuple, one entry per result, ``None`` to allocate
        that one), of its exact shape and dtype; returned. See :ref:`out-buffers`.
    Returns
    -------
    log_prob : scalar or ndarray, shape (B,)
        The log-probability of the best path (jointly with the observations).
    path : ndarray of int64, shape (T,) or (B, T)
        The best state path. At every step of the backtrace, and for the final state,
        ties go to the lowest state index.

    Raises
    ------
    ValueError
        ``T = 0``, no states, or shapes that do not fit together.
    TypeError
        Non-real dtypes.

    See Also
    --------
    hmm_forward_backward : posteriors instead of the single best path.
    maxplus_matmul : the max-plus product the recursion is made of.

    Notes
    -----
    The recursion runs in log space (max-plus products, no underflow), one sequence per
    parallel task, keeping an int64 back-pointer per step and state. ``-inf`` is the
    semiring zero; an impossible sequence has ``log_prob = -inf`` and the path of zeros;
    a nan wins the maximum where it appears (as in ``np.argmax``).

    Examples
    --------
    >>> import fastsmooth as fs
    >>> log_start = np.log([0.5, 0.5])
    >>> log_trans = np.log([[0.9, 0.1], [0.2, 0.8]])
    >>> log_emit = np.log([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7]])
    >>> logp, path = fs.viterbi(log_start, log_trans, log_emit)
    >>> path
    array([0, 0, 0])
    >>> round(float(logp), 6)                     # log(0.5 * 0.9 * 0.9 * 0.8 * 0.9 * 0.1)
    -3.534957
    """
    fname = "viterbi"
    start, trans, em3, batched, out_dtype = _model(fname, log_startprob, log_transmat, log_emission)
    n_b, T, S = em3.shape
    logp = np.empty(n_b)
    path = np.empty((n_b, T), np.int64)
    if n_b:
        proto = np.empty(0, np.int32 if S <= np.iinfo(np.int32).max else np.int64)
        _viterbi(start, trans, em3, logp, path, proto, parallel=use_parallel(n_b * T * S * S) and n_b > 1)
    if not batched:
        return finish_out((_cast(np.asarray(logp[0]), out_dtype), path[0]), out, fname)
    return finish_out((_cast(logp, out_dtype), path), out, fname)
