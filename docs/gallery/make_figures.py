"""Make every figure of the documentation's gallery, with fastsmooth and matplotlib.

Each smooth function is drawn next to its hard twin at several temperatures, with its
gradient (computed by fastsmooth's backward functions, not by finite differences);
then soft-argmax on a 2-D heatmap, the routing of max-pooling, the expected
alignments of soft-DTW and the Viterbi path of a hidden Markov model.

Run from the repository root (matplotlib needed: ``pip install -e ".[docs]"``)::

    python docs/gallery/make_figures.py                 # all figures into docs/gallery/
    python docs/gallery/make_figures.py --only softmax_vs_hardmax --dpi 50 --out /tmp/g

The output is deterministic: fixed inputs, the Agg backend, no timestamps in the files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository's fastsmooth, when not installed

import fastsmooth as fs  # noqa: E402

#: temperatures of the value/gradient figures, hottest first; colours cool down with them
TEMPERATURES = (1.0, 0.5, 0.25, 0.1)
HARD = dict(color="black", lw=1.6, ls="--")
STYLE = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.92",
    "legend.fontsize": 8,
    "legend.framealpha": 0.9,
}


def _colours(n=len(TEMPERATURES)):
    cmap = plt.get_cmap("plasma")
    return [cmap(0.12 + 0.7 * i / max(n - 1, 1)) for i in range(n)]


def _tau_label(tau):
    return f"τ = {tau:g}"


def _pair(title, value_title, grad_title, width=9.2):
    fig, axes = plt.subplots(1, 2, figsize=(width, 3.5))
    axes[0].set_title(value_title)
    axes[1].set_title(grad_title)
    fig.suptitle(title, fontsize=11)
    return fig, axes


def _finish(fig):
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _hard_step(ax, x, y, jump_at, y_at_jump=None, label=None, **style):
    """A function with a jump, drawn without the vertical connector (and an open and a
    filled dot for the value at the jump when given)."""
    style = {**HARD, **style}
    left, right = x < jump_at, x > jump_at
    ax.plot(x[left], y[left], label=label, **style)
    ax.plot(x[right], y[right], **style)
    if y_at_jump is not None:
        ax.plot([jump_at], [y_at_jump], "o", color=style["color"], ms=4.5, zorder=5)


# --------------------------------------------------------------------------------------
# smooth functions against their hard twins


def lse_vs_max():
    """LogSumExp of x = (1, 2, 3, t, 2) as t moves, its gradient, and its gap to max."""
    t = np.linspace(0.0, 6.0, 601)
    xs = np.stack([np.full_like(t, 1.0), np.full_like(t, 2.0), np.full_like(t, 3.0), t, np.full_like(t, 2.0)], -1)
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.6))
    fig.suptitle("LogSumExp is a smooth max: x = (1, 2, 3, t, 2)", fontsize=11)
    for tau, c in zip(TEMPERATURES, _colours()):
        lse = fs.logsumexp(xs, temperature=tau)
        axes[0].plot(t, lse, color=c, label=_tau_label(tau))
        g = fs.logsumexp_backward(np.ones_like(t), xs, lse, temperature=tau)[:, 3]
        axes[1].plot(t, g, color=c)
    axes[0].plot(t, np.maximum(t, 3.0), label="max(x)", **HARD)
    axes[0].set(xlabel="t", ylabel="value", title="τ·log Σ exp(x/τ)  vs  max(x)")
    _hard_step(axes[1], t, (t > 3).astype(float), 3.0, label="∂max/∂t (a step)")
    axes[1].set(xlabel="t", ylabel="∂ / ∂t", title="gradient: softmax(x/τ) at t",
                ylim=(-0.05, 1.12))
    taus = np.geomspace(0.01, 10, 200)
    x = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    gap = np.array([fs.logsumexp(x, temperature=tt) for tt in taus]) - 4.0
    axes[2].loglog(taus, taus * np.log(5), color="0.45", lw=1.2, ls=":", label="bound τ·log n")
    axes[2].loglog(taus, np.maximum(gap, 1e-300), color=_colours()[0], lw=1.8, label="LSE − max")
    axes[2].set(xlabel="τ", ylabel="LSE − max", title="x = (1, 2, 3, 4, 2): 0 ≤ LSE − max ≤ τ·log n",
                ylim=(1e-12, 1e2))
    axes[0].legend(loc="upper left")
    axes[1].legend(loc="upper left")
    axes[2].legend(loc="upper left")
    return _finish(fig)


def softmax_vs_hardmax():
    """softmax(x/τ) as bars against hardmax; one probability and its gradient."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 2.0])
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.6))
    fig.suptitle("softmax is a smooth hardmax (one-hot argmax)", fontsize=11)
    taus = TEMPERATURES
    cols = _colours()
    width = 0.8 / (len(taus) + 1)
    idx = np.arange(x.size)
    for k, (tau, c) in enumerate(zip(taus, cols)):
        axes[0].bar(idx + (k - len(taus) / 2) * width, fs.softmax(x, temperature=tau), width, color=c,
                    label=_tau_label(tau))
    axes[0].bar(idx + (len(taus) / 2) * width, fs.hardmax(x), width, color="black", label="hardmax")
    axes[0].set(xticks=idx, xticklabels=[f"x{i}={v:g}" for i, v in enumerate(x)], ylabel="probability",
                title="softmax(x/τ) for x = (1, 2, 3, 4, 2)")
    axes[0].legend(loc="upper left", ncol=2)
    t = np.linspace(0.0, 6.0, 601)
    xs = np.stack([np.full_like(t, 1.0), np.full_like(t, 2.0), np.full_like(t, 3.0), t, np.full_like(t, 2.0)], -1)
    e3 = np.zeros_like(xs)
    e3[:, 3] = 1.0
    for tau, c in zip(TEMPERATURES, _colours()):
        y = fs.softmax(xs, temperature=tau)
        axes[1].plot(t, y[:, 3], color=c)
        axes[2].plot(t, fs.softmax_backward(e3, y, temperature=tau)[:, 3], color=c)
    _hard_step(axes[1], t, (t > 3).astype(float), 3.0, label="hardmax(x)₃")
    axes[1].set(xlabel="t", ylabel="p₃", title="x = (1, 2, 3, t, 2): the weight of t")
    axes[2].axhline(0.0, label="hardmax: gradient 0", **HARD)
    axes[2].set(xlabel="t", ylabel="∂p₃ / ∂t", title="gradient p₃(1 − p₃)/τ, by softmax_backward")
    axes[1].legend(loc="upper left")
    axes[2].legend(loc="upper left")
    return _finish(fig)


def soft_argmax_vs_argmax():
    """soft_argmax of x = (1, 2, 3, t, 2) against argmax, and its gradient."""
    t = np.linspace(0.0, 6.0, 601)
    xs = np.stack([np.full_like(t, 1.0), np.full_like(t, 2.0), np.full_like(t, 3.0), t, np.full_like(t, 2.0)], -1)
    fig, axes = _pair("soft-argmax is a differentiable argmax: x = (1, 2, 3, t, 2)",
                      "Σ i·softmax(x/τ)ᵢ  vs  argmax(x)", "gradient with respect to t")
    for tau, c in zip(TEMPERATURES, _colours()):
        axes[0].plot(t, fs.soft_argmax(xs, temperature=tau), color=c, label=_tau_label(tau))
        axes[1].plot(t, fs.soft_argmax_backward(np.ones_like(t), xs, temperature=tau)[:, 3], color=c)
    _hard_step(axes[0], t, np.where(t > 3, 3.0, 2.0), 3.0, 2.0, label="argmax(x) (ties: first)")
    axes[0].set(xlabel="t", ylabel="index", ylim=(1.4, 3.3))
    axes[1].axhline(0.0, label="argmax: gradient 0", **HARD)
    axes[1].set(xlabel="t", ylabel="∂ / ∂t")
    for ax in axes:
        ax.legend(loc="upper left")
    return _finish(fig)


def _smooth_vs_hard(title, left, right, f, f_backward):
    """Two panels over x in [-3, 3]: ``f(x, temperature=τ)`` and its gradient from ``f_backward`` at
    each temperature; the caller draws the hard twin."""
    x = np.linspace(-3.0, 3.0, 601)
    fig, axes = _pair(title, left, right)
    for tau, c in zip(TEMPERATURES, _colours()):
        axes[0].plot(x, f(x, temperature=tau), color=c, label=_tau_label(tau))
        axes[1].plot(x, f_backward(np.ones_like(x), x, temperature=tau), color=c)
    for ax in axes:
        ax.set(xlabel="x")
    return x, fig, axes


def sigmoid_vs_step():
    x, fig, axes = _smooth_vs_hard("sigmoid is a smooth step", "σ(x/τ)  vs  the unit step H(x)",
                                   "gradient σ(1 − σ)/τ  vs  H′ = 0 (δ at 0)", fs.sigmoid, fs.sigmoid_backward)
    _hard_step(axes[0], x, (x > 0).astype(float), 0.0, 0.5, label="H(x), H(0) = ½")
    axes[1].axhline(0.0, label="H′(x) = 0 for x ≠ 0", **HARD)
    for ax in axes:
        ax.legend(loc="upper left")
    return _finish(fig)


def _subgradient_bar(ax, x0, lo, hi, label):
    ax.plot([x0, x0], [lo, hi], color="black", lw=3.2, alpha=0.35, solid_capstyle="butt", label=label)


def softplus_vs_relu():
    x, fig, axes = _smooth_vs_hard("softplus is a smooth ReLU", "τ·log(1 + exp(x/τ))  vs  relu(x)",
                                   "gradient σ(x/τ)  vs  relu′ (subgradient at 0)", fs.softplus,
                                   fs.softplus_backward)
    axes[0].plot(x, fs.relu(x), label="relu(x)", **HARD)
    _hard_step(axes[1], x, fs.relu_backward(np.ones_like(x), x), 0.0, 0.0,
               label="relu_backward, at_zero=0")
    _subgradient_bar(axes[1], 0.0, 0.0, 1.0, "subgradients [0, 1]")
    axes[0].legend(loc="upper left")
    axes[1].legend(loc="upper left")
    return _finish(fig)


def smooth_abs_vs_abs():
    x, fig, axes = _smooth_vs_hard("smooth_abs is a smooth |x|", "2τ·log cosh(x/(2τ))  vs  |x|",
                                   "gradient tanh(x/(2τ))  vs  sign (subgradient at 0)", fs.smooth_abs,
                                   fs.smooth_abs_backward)
    axes[0].plot(x, fs.abs(x), label="|x|", **HARD)
    _hard_step(axes[1], x, fs.abs_backward(np.ones_like(x), x), 0.0, 0.0, label="abs_backward, at_zero=0")
    _subgradient_bar(axes[1], 0.0, -1.0, 1.0, "subgradients [−1, 1]")
    axes[0].legend(loc="upper center")
    axes[1].legend(loc="upper left")
    return _finish(fig)


def smooth_maximum_vs_maximum():
    t = np.linspace(-3.0, 3.0, 601)
    y = np.zeros_like(t)
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 3.6))
    fig.suptitle("smooth_maximum is a smooth max(x, y): here y = 0", fontsize=11)
    for tau, c in zip(TEMPERATURES, _colours()):
        axes[0].plot(t, fs.smooth_maximum(t, y, temperature=tau), color=c, label=_tau_label(tau))
        gx, _ = fs.smooth_maximum_backward(np.ones_like(t), t, y, temperature=tau)
        axes[1].plot(t, gx, color=c)
        axes[2].plot(t, fs.smooth_maximum(t, y, temperature=tau) - np.maximum(t, y), color=c)
    axes[0].plot(t, fs.maximum(t, y), label="max(x, 0)", **HARD)
    gx_hard, _ = fs.maximum_backward(np.ones_like(t), t, y)
    _hard_step(axes[1], t, gx_hard, 0.0, 0.5, label="maximum_backward, tie=½")
    _subgradient_bar(axes[1], 0.0, 0.0, 1.0, "subgradients [0, 1]")
    axes[0].set(xlabel="x", title="τ·log(exp(x/τ) + exp(y/τ))  vs  max(x, y)")
    axes[1].set(xlabel="x", title="∂ / ∂x: a two-input softmax")
    for tau, c in zip(TEMPERATURES, _colours()):
        axes[2].axhline(tau * np.log(2), color=c, lw=0.8, ls=":")
    axes[2].set(xlabel="x", title="gap to max(x, y): at most τ·log 2 (dotted)")
    axes[0].legend(loc="upper left")
    axes[1].legend(loc="upper left")
    return _finish(fig)


# --------------------------------------------------------------------------------------
# soft-argmax on a heatmap


def _heatmap():
    """A 48 x 64 heatmap: a sharp peak at (30, 44) and a broader, weaker one at (14, 16)."""
    r, c = np.mgrid[0:48, 0:64]
    h = np.exp(-((r - 30) ** 2 + (c - 44) ** 2) / (2 * 2.5**2))
    h += 0.8 * np.exp(-((r - 14) ** 2 + (c - 16) ** 2) / (2 * 5.0**2))
    return h


def soft_argmax2d_heatmap():
    h = _heatmap()
    taus = (0.3, 0.1, 0.03)
    fig, axes = plt.subplots(1, 1 + len(taus), figsize=(13.2, 3.7),
                             gridspec_kw=dict(width_ratios=[1.25] + [1] * len(taus)))
    fig.suptitle("soft_argmax2d: the expected (row, col) under softmax(heatmap/τ) -- a keypoint that moves "
                 "smoothly with the scores", fontsize=11)
    hard = np.unravel_index(np.argmax(h), h.shape)
    im = axes[0].imshow(h, cmap="viridis", origin="upper")
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.03)
    axes[0].plot(hard[1], hard[0], "x", color="white", ms=10, mew=2.5, label="argmax")
    markers = "osD"
    for (tau, c), m in zip(zip(taus, _colours(len(taus))), markers):
        row, col = fs.soft_argmax2d(h, temperature=tau)
        axes[0].plot(col, row, m, mfc=c, mec="white", ms=8, mew=1.2, label=f"{_tau_label(tau)}: ({row:.1f}, {col:.1f})")
    axes[0].set(title="heatmap and its keypoints", xlabel="col", ylabel="row")
    axes[0].legend(loc="lower left", fontsize=7)
    axes[0].grid(False)
    for ax, tau, c, m in zip(axes[1:], taus, _colours(len(taus)), markers):
        p = fs.softmax(h.ravel(), temperature=tau).reshape(h.shape)
        ax.imshow(p, cmap="magma", origin="upper", norm=LogNorm(vmin=p.max() * 1e-4, vmax=p.max()))
        row, col = fs.soft_argmax2d(h, temperature=tau)
        ax.plot(col, row, m, mfc=c, mec="white", ms=8, mew=1.2)
        ax.plot(hard[1], hard[0], "x", color="white", ms=8, mew=2)
        ax.set(title=f"softmax(h/τ), {_tau_label(tau)}", xlabel="col (log colour scale)")
        ax.grid(False)
    fig.tight_layout(rect=(0, 0.02, 1, 0.93))
    return fig


# --------------------------------------------------------------------------------------
# max-pooling routes the gradient


def _grid(ax, values, title, fmt="{:g}", cmap="Blues", highlight=(), vmax=None, note=None):
    v = np.asarray(values, float)
    vmax = vmax or np.abs(v).max() * 1.6
    ax.imshow(np.abs(v) if cmap != "RdBu" else v, cmap=cmap, vmin=-vmax if cmap == "RdBu" else 0, vmax=vmax)
    for (r, c), val in np.ndenumerate(v):
        weight = "bold" if (r, c) in highlight else "normal"
        colour = "white" if abs(val) > 0.55 * vmax else "black"
        ax.text(c, r, fmt.format(val), ha="center", va="center", fontsize=10, fontweight=weight, color=colour)
    for r, c in highlight:
        ax.add_patch(Rectangle((c - 0.42, r - 0.42), 0.84, 0.84, fill=False, ec="black", lw=1.6))
    ax.set_xticks(range(v.shape[1]))
    ax.set_yticks(range(v.shape[0]))
    ax.tick_params(length=0, labelsize=8)
    ax.grid(False)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title)
    if note:
        ax.set_xlabel(note, fontsize=8.5)


def maxpool_routing():
    x = np.array([[1, 3, 2, 0, 1],
                  [4, 0, 1, 2, 7],
                  [2, 1, 6, 1, 2],
                  [0, 5, 1, 3, 1],
                  [1, 2, 0, 8, 0]], dtype=float)
    k, s = 3, 2
    y, idx = fs.maxpool2d(x[None], k, stride=s)  # (C, H, W) = (1, 5, 5) -> (1, 2, 2)
    y, idx = y[0], idx[0]
    g = np.array([[1.0, 0.5], [1.5, -2.0]])
    dx = fs.maxpool2d_backward(g[None], idx[None], (1,) + x.shape)[0]
    winners = [divmod(int(i), x.shape[1]) for i in idx.ravel()]
    shared = max(set(winners), key=winners.count)  # the position that won two windows
    parts = [gv for gv, w in zip(g.ravel(), winners) if w == shared]
    sum_note = (f"{x[shared]:g} won {len(parts)} windows: its gradients add up, "
                + " + ".join(f"{v:g}" for v in parts) + f" = {sum(parts):g}")
    colours = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(1, 4, figsize=(12.4, 4.7), gridspec_kw=dict(width_ratios=[1, 0.72, 0.72, 1]))
    fig.suptitle("max-pooling (kernel 3, stride 2) is a routing: y = W x with one-hot rows of W; "
                 "the backward pass is Wᵀg, a scatter-add through the saved indices", fontsize=10.5)
    _grid(axes[0], x, "input x (5 × 5) and the 4 windows", cmap="Greys", highlight=set(winners), vmax=16,
          note="boxed: the maximum each window captured")
    for n, (r0, c0) in enumerate([(0, 0), (0, 2), (2, 0), (2, 2)]):
        off = 0.08 * (n - 1.5)
        axes[0].add_patch(Rectangle((c0 - 0.5 + off, r0 - 0.5 + off), k, k, fill=False, ec=colours[n], lw=2.2,
                                    clip_on=False))
    axes[0].set(xlim=(-0.75, 4.75), ylim=(4.75, -0.75))
    _grid(axes[1], y, "y = maxpool2d(x)", cmap="Greys", vmax=16,
          note="indices (flat h·5 + w):\n" + ", ".join(str(int(i)) for i in idx.ravel()))
    for n, (r, c) in enumerate(np.ndindex(*y.shape)):
        axes[1].add_patch(Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False, ec=colours[n], lw=2.2))
    _grid(axes[2], g, "upstream gradient g", cmap="RdBu", vmax=3)
    _grid(axes[3], dx, "Wᵀg = maxpool2d_backward(g, indices):\neach g goes back to its window's winner", cmap="RdBu",
          vmax=3, highlight=set(winners),
          note=sum_note)
    axes[0].set_title(axes[0].get_title(), pad=12)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


# --------------------------------------------------------------------------------------
# soft-DTW: the expected alignment spreads over paths as gamma grows


def _dtw_series():
    t = np.linspace(0, 1, 40)
    x = np.exp(-((t - 0.3) / 0.08) ** 2) + 0.6 * np.exp(-((t - 0.7) / 0.06) ** 2)
    s = np.linspace(0, 1, 50)
    y = np.exp(-((s - 0.45) / 0.1) ** 2) + 0.6 * np.exp(-((s - 0.8) / 0.05) ** 2)
    return x, y


def soft_dtw_alignments():
    x, y = _dtw_series()
    gammas = (1e-4, 0.01, 0.1, 1.0)
    fig, axes = plt.subplots(1, 1 + len(gammas), figsize=(13.4, 3.3),
                             gridspec_kw=dict(width_ratios=[1.3] + [1] * len(gammas)))
    fig.suptitle("soft_dtw_alignment: the expected alignment E of x (40 steps) and y (50 steps); "
                 "γ → 0 is the DTW path, larger γ spreads E over more paths", fontsize=10.5)
    ax = axes[0]
    ax.plot(np.arange(40), x, color="C0", lw=1.8, label="x")
    ax.plot(np.arange(50), y + 1.2, color="C1", lw=1.8, label="y (+1.2)")
    _, E = fs.soft_dtw_alignment(x, y, gamma=1e-4)
    for i, j in zip(*np.nonzero(E > 0.5)):
        if (i + j) % 3 == 0:
            ax.plot([i, j], [x[i], y[j] + 1.2], color="0.6", lw=0.6, zorder=0)
    ax.set_title("two series and their DTW matching")
    ax.set_xlabel("time step")
    ax.legend(loc="center right")
    for ax, g in zip(axes[1:], gammas):
        value, E = fs.soft_dtw_alignment(x, y, gamma=g)
        ax.imshow(E, cmap="viridis", vmin=0, vmax=1, origin="upper", aspect="auto",
                  interpolation="nearest")
        label = "DTW (γ = 1e-4)" if g == 1e-4 else f"γ = {g:g}"
        ax.set_title(f"{label}: value {float(value):.3g}")
        ax.set_xlabel("j (y)")
        ax.grid(False)
    axes[1].set_ylabel("i (x)")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def _casino():
    """The dishonest casino of the semiring guide: 300 rolls, fair (0) or loaded (1) die."""
    rng = np.random.default_rng(7)
    trans = np.array([[0.95, 0.05], [0.10, 0.90]])
    emit = np.array([[1 / 6] * 6, [0.1] * 5 + [0.5]])
    z = np.zeros(300, int)
    x = np.zeros(300, int)
    for t in range(300):
        if t:
            z[t] = rng.choice(2, p=trans[z[t - 1]])
        x[t] = rng.choice(6, p=emit[z[t]])
    return np.log([0.5, 0.5]), np.log(trans), np.log(emit.T[x]), x, z


def viterbi_path():
    """Rolls of the casino, the posterior of the loaded die, the Viterbi path, the truth."""
    log_start, log_trans, log_emission, x, z = _casino()
    _, post, _ = fs.hmm_forward_backward(log_start, log_trans, log_emission)
    _, path = fs.viterbi(log_start, log_trans, log_emission)
    t = np.arange(len(x))
    fig, axes = plt.subplots(2, 1, figsize=(10.5, 4.6), sharex=True, gridspec_kw=dict(height_ratios=[1, 1.6]))
    six = x == 5
    axes[0].scatter(t[~six], x[~six] + 1, s=6, color="0.55", label="1-5")
    axes[0].scatter(t[six], x[six] + 1, s=9, color="tab:red", label="six")
    axes[0].set(yticks=range(1, 7), ylabel="roll", title="300 rolls of the dishonest casino")
    axes[0].grid(False)
    ax = axes[1]
    ax.fill_between(t, 0, z, step="mid", color="tab:orange", alpha=0.25, lw=0, label="true state: loaded")
    ax.plot(t, post[:, 1], color="tab:blue", lw=1.2, label="posterior p(loaded | rolls)  (hmm_forward_backward)")
    ax.step(t, path * 1.0, where="mid", color="black", lw=1.4, label="Viterbi path  (viterbi)")
    ax.set(ylim=(-0.05, 1.25), yticks=[0, 0.5, 1], xlabel="roll t", ylabel="loaded?",
           title=f"decoding: the Viterbi path matches the true state at {100 * np.mean(path == z):.0f} % of rolls")
    ax.legend(loc="upper left", ncol=3, fontsize=7.5)
    fig.tight_layout()
    return fig


FIGURES = {
    "lse_vs_max": lse_vs_max,
    "softmax_vs_hardmax": softmax_vs_hardmax,
    "soft_argmax_vs_argmax": soft_argmax_vs_argmax,
    "sigmoid_vs_step": sigmoid_vs_step,
    "softplus_vs_relu": softplus_vs_relu,
    "smooth_abs_vs_abs": smooth_abs_vs_abs,
    "smooth_maximum_vs_maximum": smooth_maximum_vs_maximum,
    "soft_argmax2d_heatmap": soft_argmax2d_heatmap,
    "maxpool_routing": maxpool_routing,
    "soft_dtw_alignments": soft_dtw_alignments,
    "viterbi_path": viterbi_path,
}


def make(names=None, out=HERE, dpi=100):
    """Draw the figures ``names`` (default: all) into ``out/<name>.png``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(STYLE):
        for name in names or FIGURES:
            fig = FIGURES[name]()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=dpi, metadata={"Software": None})
            plt.close(fig)
            paths.append(path)
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(HERE), help="output directory (default: docs/gallery)")
    p.add_argument("--dpi", type=int, default=100, help="resolution (default: 100)")
    p.add_argument("--only", nargs="+", choices=list(FIGURES), help="draw only these figures")
    args = p.parse_args(argv)
    for path in make(args.only, args.out, args.dpi):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
