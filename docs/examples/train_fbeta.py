"""Train a linear classifier on an imbalanced task with a soft F1 loss, in plain NumPy.

The task: "is this handwritten digit a 9?" on scikit-learn's bundled digits (1797 8x8
images, about 10 % positives; no download). The same linear model is trained four times
with the same initialisation, batches, optimiser (Adam) and learning-rate schedule:

1. binary cross-entropy (the usual loss);
2. ``fastsmooth.soft_fbeta_loss`` (soft F1) on each batch of 256;
3. soft F1 with every batch of 256 split into micro-batches of 32, through
   ``fastsmooth.FbetaAccumulator`` (counts first, then each micro-batch's share of the
   gradient): it must reproduce run 2 to rounding;
4. soft F1 "accumulated" the naive way, averaging the gradients of per-micro-batch
   losses: what gradient accumulation does with a loss that is not a sum over samples.

and reports the hard F1 at threshold 0.5 (logit > 0) on a held-out split.

Run from the repository root::

    PYTHONPATH=. python docs/examples/train_fbeta.py

(needs scikit-learn: ``pip install -e ".[examples]"``). The output is reproduced in
``docs/examples/README.md``.
"""

from __future__ import annotations

import argparse

import numpy as np

import fastsmooth as fs


def load_task(seed=0, test_size=0.4):
    """Standardised digits features and 0/1 targets "digit == 9", split stratified
    into train and held-out test sets (the scaler is fitted on the train part)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    t = (y == 9).astype(np.float64)
    x_tr, x_te, t_tr, t_te = train_test_split(x, t, test_size=test_size, stratify=t, random_state=seed)
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0  # constant border pixels
    return (x_tr - mean) / std, t_tr, (x_te - mean) / std, t_te


# ----------------------------------------------------------------------------- losses
# Each returns (loss, d loss / d logits) for one batch of logits z and targets t.


def bce(z, t):
    """Mean binary cross-entropy with logits, and its gradient (sigmoid(z) - t) / N."""
    loss = np.mean(np.logaddexp(0.0, z) - t * z)
    return loss, (0.5 * (1.0 + np.tanh(0.5 * z)) - t) / z.size


def soft_f1(z, t):
    return fs.soft_fbeta_loss(z, t), fs.soft_fbeta_loss_backward(1.0, z, t)


# ------------------------------------------------------------------------- training


class Adam:
    """Adam on a flat parameter vector, with a cosine learning-rate schedule."""

    def __init__(self, n_params, lr, total_steps, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.total, self.betas, self.eps = lr, total_steps, betas, eps
        self.m = np.zeros(n_params)
        self.v = np.zeros(n_params)
        self.k = 0

    def step(self, params, grad):
        b1, b2 = self.betas
        self.k += 1
        self.m = b1 * self.m + (1 - b1) * grad
        self.v = b2 * self.v + (1 - b2) * grad * grad
        m_hat = self.m / (1 - b1**self.k)
        v_hat = self.v / (1 - b2**self.k)
        lr = 0.5 * self.lr * (1 + np.cos(np.pi * (self.k - 1) / self.total))
        return params - lr * m_hat / (np.sqrt(v_hat) + self.eps)


def batches(n, batch_size, epochs, seed):
    """The same shuffled batches (index arrays) for every run."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch_size):
            yield order[lo:lo + batch_size]


def init_params(n_features, seed):
    rng = np.random.default_rng(seed + 1)
    return np.concatenate([rng.normal(0.0, 0.01, n_features), [0.0]])  # weights, bias


def logits(params, x):
    return x @ params[:-1] + params[-1]


def param_grad(x, dz):
    """d loss / d (weights, bias) from d loss / d logits of a linear model."""
    return np.concatenate([x.T @ dz, [dz.sum()]])


def train(x, t, step_grad, *, epochs, batch_size, lr, seed):
    """Train with ``step_grad(params, xb, tb) -> (loss, grad)``; returns the final
    parameters and the mean training loss of each epoch."""
    steps_per_epoch = -(-len(t) // batch_size)
    params = init_params(x.shape[1], seed)
    opt = Adam(params.size, lr, epochs * steps_per_epoch)
    history = []
    for i, idx in enumerate(batches(len(t), batch_size, epochs, seed)):
        loss, grad = step_grad(params, x[idx], t[idx])
        params = opt.step(params, grad)
        if i % steps_per_epoch == 0:
            history.append([])
        history[-1].append(loss)
    return params, [float(np.mean(h)) for h in history]


def full_batch(loss_grad):
    def step(params, xb, tb):
        loss, dz = loss_grad(logits(params, xb), tb)
        return loss, param_grad(xb, dz)

    return step


def accumulated(micro):
    """Soft F1 of the whole batch from micro-batches of ``micro`` samples: two sweeps,
    counts first (``update``), then each micro-batch's share of the gradient."""
    acc = fs.FbetaAccumulator(beta=1.0)

    def step(params, xb, tb):
        parts = [slice(lo, lo + micro) for lo in range(0, len(tb), micro)]
        acc.reset()
        for s in parts:  # sweep 1: forward only, keep the soft counts
            acc.update(logits(params, xb[s]), tb[s])
        grad = sum(param_grad(xb[s], acc.backward(logits(params, xb[s]), tb[s])) for s in parts)
        return acc.loss(), grad

    return step


def naive_accumulated(micro):
    """What plain gradient accumulation does: the mean of per-micro-batch soft F1
    losses and of their gradients (weighted by micro-batch size)."""

    def step(params, xb, tb):
        losses, grad = [], 0.0
        for lo in range(0, len(tb), micro):
            s = slice(lo, lo + micro)
            loss, dz = soft_f1(logits(params, xb[s]), tb[s])
            w = len(tb[s]) / len(tb)
            losses.append(w * loss)
            grad = grad + w * param_grad(xb[s], dz)
        return sum(losses), grad

    return step


def hard_scores(params, x, t):
    """Precision, recall and F1 of the hard decision logit > 0 (probability > 0.5)."""
    pred = logits(params, x) > 0
    pos = t > 0.5
    tp, fp, fn = np.sum(pred & pos), np.sum(pred & ~pos), np.sum(~pred & pos)
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return precision, recall, f1


def run(epochs=60, batch_size=256, micro=32, lr=0.05, seed=0):
    """All four runs on the digits task; returns a dict of results per run."""
    x_tr, t_tr, x_te, t_te = load_task(seed)
    kw = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    runs = {
        "binary cross-entropy": full_batch(bce),
        "soft F1 (batch 256)": full_batch(soft_f1),
        f"soft F1, FbetaAccumulator ({batch_size // micro} x {micro})": accumulated(micro),
        f"soft F1, naive accumulation ({batch_size // micro} x {micro})": naive_accumulated(micro),
    }
    out = {}
    for name, step in runs.items():
        params, history = train(x_tr, t_tr, step, **kw)
        out[name] = dict(params=params, history=history, test=hard_scores(params, x_te, t_te),
                         train=hard_scores(params, x_tr, t_tr))
    out["_data"] = dict(n_train=len(t_tr), n_test=len(t_te), positives=float(np.mean(np.r_[t_tr, t_te])))
    return out


def report(out):
    names = [k for k in out if not k.startswith("_")]
    ref = out[names[1]]
    d = out["_data"]
    lines = [
        f"digits, 'is it a 9': {d['n_train']} train / {d['n_test']} held-out samples, "
        f"{100 * d['positives']:.1f} % positives",
        "",
        "| run | train loss, epoch 1 -> last | held-out precision | held-out recall | held-out F1 @ 0.5 "
        "| max abs diff of weights vs soft F1 run |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        r = out[name]
        diff = np.max(np.abs(r["params"] - ref["params"]))
        p, rc, f1 = r["test"]
        lines.append(f"| {name} | {r['history'][0]:.4f} -> {r['history'][-1]:.4f} | {p:.3f} | {rc:.3f} "
                     f"| **{f1:.3f}** | {diff:.1e} |")
    return "\n".join(lines)


def summary(results):
    """Held-out F1 of each run over several seeds (splits, inits and batch orders)."""
    names = [k for k in results[0] if not k.startswith("_")]
    lines = [f"held-out F1 @ 0.5 over {len(results)} seeds (split, init and batch order change together):",
             "", "| run | mean | std | min | max |", "|---|---|---|---|---|"]
    for name in names:
        f1 = np.array([r[name]["test"][2] for r in results])
        lines.append(f"| {name} | {f1.mean():.3f} | {f1.std(ddof=1) if len(f1) > 1 else 0.0:.3f} "
                     f"| {f1.min():.3f} | {f1.max():.3f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1; the table is for seed 0")
    args = p.parse_args(argv)
    results = [run(epochs=args.epochs, lr=args.lr, seed=seed) for seed in range(args.seeds)]
    print(report(results[0]))
    print()
    print(summary(results))


if __name__ == "__main__":
    main()
