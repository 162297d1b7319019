"""hmm_forward_backward and viterbi against plain NumPy recursions (and hmmlearn when it is
installed), their invariants, the gradient identity, special values and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

import fastsmooth as fs
from fastsmooth import _hmm

from .helpers import rng


def _otimes(x, y):
    with np.errstate(invalid="ignore"):
        s = x + y
    # -inf is the semiring zero, also against +inf; nan (x) -inf stays nan
    return np.where(np.isinf(x) & np.isinf(y) & (x != y), -np.inf, s)


def _lse(x, axis):
    with np.errstate(divide="ignore", invalid="ignore"):
        return logsumexp(x, axis=axis)


def ref_forward_backward(ls, lA, le):
    """Plain log-space forward-backward of one sequence (float64)."""
    T, S = le.shape
    la = np.zeros((T, S))
    lb = np.zeros((T, S))
    la[0] = _otimes(ls, le[0])
    for t in range(1, T):
        la[t] = _otimes(_lse(_otimes(la[t - 1][:, None], lA), 0), le[t])
    for t in range(T - 2, -1, -1):
        lb[t] = _lse(_otimes(lA, _otimes(le[t + 1], lb[t + 1])[None, :]), 1)
    ll = _lse(la[-1], 0)
    if ll == -np.inf:
        return ll, np.zeros((T, S)), np.zeros((S, S))
    with np.errstate(under="ignore"):
        post = np.exp(_otimes(la, lb) - ll)
        xi = np.zeros((S, S))
        for t in range(T - 1):
            xi += np.exp(_otimes(_otimes(la[t][:, None], lA), _otimes(le[t + 1], lb[t + 1])[None, :]) - ll)
    return ll, post, xi


def ref_viterbi(ls, lA, le):
    """Plain max-plus Viterbi; ties to the lowest state (np.argmax) at every step."""
    T, S = le.shape
    delta = _otimes(ls, le[0])
    psi = np.zeros((T, S), np.int64)
    for t in range(1, T):
        cand = _otimes(delta[:, None], lA)
        psi[t] = np.argmax(cand, axis=0)
        delta = _otimes(cand.max(axis=0), le[t])
    path = np.zeros(T, np.int64)
    path[-1] = np.argmax(delta)
    for t in range(T - 1, 0, -1):
        path[t - 1] = psi[t, path[t]]
    return delta.max(), path


def random_model(r, S, T, *, unreachable=False, neg_inf_emissions=False, spread=3.0):
    ls = np.log(r.dirichlet(np.ones(S)))
    lA = np.log(r.dirichlet(np.ones(S), size=S))
    le = r.standard_normal((T, S)) * spread
    if unreachable and S > 2:
        lA[:, S - 1] = -np.inf  # the last state is never entered...
        ls[S - 1] = -np.inf     # ...nor started in
        lA[0, 1] = -np.inf      # and one transition is impossible
    if neg_inf_emissions:
        mask = r.random((T, S)) < 0.2
        mask[:, 0] = False  # keep the sequence possible
        le[mask] = -np.inf
    return ls, lA, le


CASES = [
    dict(S=1, T=7),
    dict(S=3, T=1),
    dict(S=4, T=30),
    dict(S=7, T=50, unreachable=True),
    dict(S=6, T=40, neg_inf_emissions=True),
    dict(S=5, T=60, unreachable=True, neg_inf_emissions=True),
    dict(S=40, T=80),
    dict(S=5, T=200, spread=300.0),  # emissions that underflow the scaled recursion
]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_forward_backward_matches_plain_numpy(case):
    r = rng(20)
    ls, lA, le = random_model(r, **case)
    ll, post, xi = fs.hmm_forward_backward(ls, lA, le)
    wll, wpost, wxi = ref_forward_backward(ls, lA, le)
    assert np.ndim(ll) == 0 and post.shape == le.shape and xi.shape == lA.shape
    np.testing.assert_allclose(ll, wll, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(post, wpost, rtol=0, atol=1e-10)
    np.testing.assert_allclose(xi, wxi, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xi.sum(), le.shape[0] - 1, rtol=1e-12, atol=1e-12)
    if case.get("unreachable"):
        assert np.all(post[:, -1] == 0)
    assert np.all(post[le == -np.inf] == 0)


def test_both_recursions_agree():
    """The scaled recursion and the exact log-space one give the same answers."""
    r = rng(21)
    ls, lA, le = random_model(r, 6, 100, unreachable=True)
    T, S = le.shape
    out = []
    for path in ("scaled", "log"):
        post, xi = np.empty((T, S)), np.empty((S, S))
        if path == "scaled":
            ok, ll = _hmm._scaled(np.exp(ls), np.exp(lA), le, post, xi, np.empty((T, S)), np.empty(T),
                                  np.empty(S), np.empty(S), np.empty(S))
            assert ok
        else:
            ll = _hmm._log_space(ls, lA, le, post, xi, np.empty((T, S)), np.empty(S), np.empty((1, 256)),
                                 np.empty((1, 256)), np.empty((1, S)))
        out.append((ll, post, xi))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-13)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-11, atol=1e-12)


def test_gradient_of_the_log_likelihood_is_the_posteriors():
    r = rng(22)
    ls, lA, le = random_model(r, 4, 12, unreachable=True)
    _, post, xi = fs.hmm_forward_backward(ls, lA, le)
    eps = 1e-6
    for _ in range(3):
        v = r.standard_normal(le.shape)
        fd = (fs.hmm_forward_backward(ls, lA, le + eps * v)[0] - fs.hmm_forward_backward(ls, lA, le - eps * v)[0]) / (2 * eps)
        np.testing.assert_allclose(fd, np.sum(post * v), rtol=1e-7, atol=1e-9)
    # and the full Jacobian on a tiny model, entry by entry; w.r.t. log_transmat it is xi
    ls, lA, le = random_model(r, 3, 4)
    _, post, xi = fs.hmm_forward_backward(ls, lA, le)
    for idx in np.ndindex(*le.shape):
        e = np.zeros_like(le)
        e[idx] = eps
        fd = (fs.hmm_forward_backward(ls, lA, le + e)[0] - fs.hmm_forward_backward(ls, lA, le - e)[0]) / (2 * eps)
        np.testing.assert_allclose(fd, post[idx], rtol=1e-7, atol=1e-9)
    for idx in np.ndindex(*lA.shape):
        e = np.zeros_like(lA)
        e[idx] = eps
        fd = (fs.hmm_forward_backward(ls, lA + e, le)[0] - fs.hmm_forward_backward(ls, lA - e, le)[0]) / (2 * eps)
        np.testing.assert_allclose(fd, xi[idx], rtol=1e-7, atol=1e-9)


def test_batches_equal_single_sequences_and_threads_do_not_matter(monkeypatch):
    r = rng(23)
    ls, lA, _ = random_model(r, 6, 1)
    le = r.standard_normal((9, 120, 6)) * 2
    le[3] *= 200  # one sequence through the log-space fallback
    le[5, :, 2] = -np.inf
    results = []
    for parallel in (False, True):
        monkeypatch.setattr(_hmm, "use_parallel", lambda n, p=parallel: p)
        results.append(fs.hmm_forward_backward(ls, lA, le) + fs.viterbi(ls, lA, le))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)
    ll, post, xi, lp, path = results[0]
    assert ll.shape == (9,) and post.shape == le.shape and xi.shape == (9, 6, 6) and path.shape == (9, 120)
    for b in range(9):
        one = fs.hmm_forward_backward(ls, lA, le[b])
        np.testing.assert_array_equal(one[0], ll[b])
        np.testing.assert_array_equal(one[1], post[b])
        np.testing.assert_array_equal(one[2], xi[b])
        v = fs.viterbi(ls, lA, le[b])
        np.testing.assert_array_equal(v[1], path[b])
        assert v[0] == lp[b]


def test_impossible_sequences_and_special_values():
    ls = np.array([0.0, -np.inf])  # start in state 0 only
    lA = np.array([[-np.inf, 0.0], [-np.inf, 0.0]])  # then always state 1
    le = np.array([[0.0, 0.0], [0.0, -np.inf]])  # t = 1 must be state 1, which cannot emit
    ll, post, xi = fs.hmm_forward_backward(ls, lA, le)
    assert ll == -np.inf
    np.testing.assert_array_equal(post, 0)
    np.testing.assert_array_equal(xi, 0)
    lp, path = fs.viterbi(ls, lA, le)
    assert lp == -np.inf and path.tolist() == [0, 0]
    # -inf annihilates +inf: an impossible state with an infinite emission changes nothing
    le2 = np.array([[0.0, np.inf], [0.0, 0.0]])
    ll2, post2, _ = fs.hmm_forward_backward(ls, lA, le2)
    assert ll2 == 0.0 and post2.tolist() == [[1, 0], [0, 1]]
    # nan propagates
    ll3, post3, _ = fs.hmm_forward_backward(ls, lA, np.array([[0.0, 0.0], [np.nan, 0.0]]))
    assert np.isnan(ll3) and np.isnan(post3).all()


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_viterbi_matches_plain_numpy(case):
    r = rng(24)
    ls, lA, le = random_model(r, **case)
    lp, path = fs.viterbi(ls, lA, le)
    wlp, wpath = ref_viterbi(ls, lA, le)
    assert path.dtype == np.int64 and path.shape == (le.shape[0],)
    np.testing.assert_array_equal(path, wpath)
    np.testing.assert_allclose(lp, wlp, rtol=1e-14)


def test_viterbi_is_the_best_path_by_enumeration_and_ties_go_low():
    r = rng(25)
    S, T = 3, 5
    ls, lA, le = random_model(r, S, T)
    lp, path = fs.viterbi(ls, lA, le)

    def score(z):
        return ls[z[0]] + le[0, z[0]] + sum(lA[z[t - 1], z[t]] + le[t, z[t]] for t in range(1, T))

    best = max(score(z) for z in itertools.product(range(S), repeat=T))
    np.testing.assert_allclose(lp, best, rtol=1e-14)
    np.testing.assert_allclose(score(path), best, rtol=1e-14)
    # all ties: every step takes the lowest state
    lp, path = fs.viterbi(np.zeros(4), np.zeros((4, 4)), np.zeros((6, 4)))
    assert lp == 0 and path.tolist() == [0] * 6
    # a tie in the middle of the backtrace: from state 1 at t = 2, predecessors 0 and 2 tie
    ls = np.array([np.log(0.5), -np.inf, np.log(0.5)])
    lA = np.array([[-np.inf, 0.0, -np.inf], [-np.inf, 0.0, -np.inf], [-np.inf, 0.0, -np.inf]])
    lp, path = fs.viterbi(ls, lA, np.zeros((3, 3)))
    assert path.tolist() == [0, 1, 1]
    lp, path = fs.viterbi(ls[::-1].copy(), lA, np.zeros((2, 3)))
    assert path.tolist() == [0, 1]


def test_dtypes():
    r = rng(26)
    ls, lA, le = random_model(r, 4, 20)
    f32 = [x.astype(np.float32) for x in (ls, lA, le)]
    ll, post, xi = fs.hmm_forward_backward(*f32)
    assert ll.dtype == post.dtype == xi.dtype == np.float32
    lp, path = fs.viterbi(*f32)
    assert lp.dtype == np.float32 and path.dtype == np.int64
    wll, wpost, wxi = ref_forward_backward(*[x.astype(np.float64) for x in f32])
    np.testing.assert_allclose(ll, wll, rtol=1e-6)
    np.testing.assert_allclose(post, wpost, rtol=0, atol=1e-6)
    ll64, _, _ = fs.hmm_forward_backward(f32[0], f32[1], le)  # mixed: float64
    assert ll64.dtype == np.float64
    ll_int, _, _ = fs.hmm_forward_backward(np.zeros(2, int), np.zeros((2, 2), int), np.zeros((3, 2), int))
    assert ll_int.dtype == np.float64
    np.testing.assert_allclose(ll_int, np.log(8), rtol=1e-15)  # unnormalised all-ones model: 2**3 paths


def test_errors():
    ls, lA, le = np.zeros(3), np.zeros((3, 3)), np.zeros((5, 3))
    for f in (fs.hmm_forward_backward, fs.viterbi):
        name = f.__name__
        with pytest.raises(ValueError, match=rf"{name}: `log_emission` must have at least one time step"):
            f(ls, lA, np.zeros((0, 3)))
        with pytest.raises(ValueError, match="at least one time step"):
            f(ls, lA, np.zeros((2, 0, 3)))
        with pytest.raises(ValueError, match=rf"{name}: `log_startprob` must have shape \(3,\)"):
            f(np.zeros(2), lA, le)
        with pytest.raises(ValueError, match=r"`log_transmat` must have shape \(3, 3\)"):
            f(ls, np.zeros((3, 2)), le)
        with pytest.raises(ValueError, match=r"`log_emission` must have shape \(T, S\) or \(B, T, S\)"):
            f(ls, lA, np.zeros(3))
        with pytest.raises(ValueError, match="at least one state"):
            f(np.zeros(0), np.zeros((0, 0)), np.zeros((4, 0)))
        with pytest.raises(TypeError, match="`log_transmat`"):
            f(ls, lA.astype(complex), le)
        with pytest.raises(TypeError, match="`log_emission`"):
            f(ls, lA, le.astype(str))


def test_empty_batch():
    ll, post, xi = fs.hmm_forward_backward(np.zeros(3), np.zeros((3, 3)), np.zeros((0, 4, 3)))
    assert ll.shape == (0,) and post.shape == (0, 4, 3) and xi.shape == (0, 3, 3)
    lp, path = fs.viterbi(np.zeros(3), np.zeros((3, 3)), np.zeros((0, 4, 3)))
    assert lp.shape == (0,) and path.shape == (0, 4)


# ---------------------------------------------------------------------------------------
# hmmlearn (optional)


@pytest.mark.parametrize("S,T", [(3, 50), (8, 400), (30, 300)])
def test_against_hmmlearn(S, T):
    hmmc = pytest.importorskip("hmmlearn._hmmc")
    r = rng(27)
    start = r.dirichlet(np.ones(S))
    trans = r.dirichlet(np.ones(S), size=S)
    log_frameprob = r.standard_normal((T, S)) * 2
    ll, post, xi = fs.hmm_forward_backward(np.log(start), np.log(trans), log_frameprob)
    hll, fwd = hmmc.forward_log(start, trans, log_frameprob)
    bwd = hmmc.backward_log(start, trans, log_frameprob)
    log_gamma = fwd + bwd
    hpost = np.exp(log_gamma - logsumexp(log_gamma, axis=1, keepdims=True))
    hxi = np.exp(hmmc.compute_log_xi_sum(fwd, trans, bwd, log_frameprob))
    np.testing.assert_allclose(ll, hll, rtol=1e-10)
    np.testing.assert_allclose(post, hpost, rtol=0, atol=1e-10)
    np.testing.assert_allclose(xi, hxi, rtol=1e-10, atol=1e-10)
    sll, _, _ = hmmc.forward_scaling(start, trans, np.exp(log_frameprob))
    np.testing.assert_allclose(ll, sll, rtol=1e-10)
    vlp, vpath = hmmc.viterbi(start, trans, log_frameprob)
    lp, path = fs.viterbi(np.log(start), np.log(trans), log_frameprob)
    np.testing.assert_allclose(lp, vlp, rtol=1e-12)
    np.testing.assert_array_equal(path, vpath)


def test_the_slow_twins_of_fastsmooth_reference_agree():
    from fastsmooth import _reference as ref

    r = rng(28)
    ls, lA, _ = random_model(r, 5, 1, unreachable=True)
    le = r.standard_normal((3, 40, 5)) * 2
    le[1, :, 2] = -np.inf
    for got, want in zip(fs.hmm_forward_backward(ls, lA, le), ref.hmm_forward_backward(ls, lA, le)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)
    for got, want in zip(fs.viterbi(ls, lA, le[0]), ref.viterbi(ls, lA, le[0])):
        np.testing.assert_array_equal(got, want)
    lp, path = ref.viterbi(ls.astype(np.float32), lA.astype(np.float32), le.astype(np.float32))
    assert lp.dtype == np.float32 and path.shape == (3, 40)
    np.testing.assert_array_equal(path, fs.viterbi(ls, lA, le)[1])
