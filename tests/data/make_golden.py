"""Write ``tests/data/torch_golden.npz``: torch's answers on the inputs that
``tests/test_golden.py`` checks fastsmooth against, so that "max-pooling follows torch
exactly" is checked on every clone, torch installed or not.

Run with torch installed (CPU build), from the repository root::

    python -m tests.data.make_golden

The file records torch's version. The cases come from :func:`cases`, which the tests
share: every pooling geometry of ``tests/test_pooling.py`` (kernel, stride, padding,
dilation, ceil_mode) on a tie-heavy input with nan and +-inf, 1-D pooling, unpooling,
global pooling, a window that sees padding only (torch gives an index outside the plane;
fastsmooth refuses), the element-wise subgradients at their kinks, and softmax /
log-softmax / LogSumExp with their gradients in float32 and float64.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

PATH = Path(__file__).with_name("torch_golden.npz")

KERNELS = [1, 2, 3, (3, 2)]
STRIDES = [None, 1, 2, (2, 3)]
PADDINGS = [0, 1, (1, 0)]
DILATIONS = [1, 2, (2, 1)]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


#: every (kernel, stride, padding, dilation, ceil_mode) with an allowed padding
GRID = [c for c in itertools.product(KERNELS, STRIDES, PADDINGS, DILATIONS, [False, True])
        if all(p <= k // 2 for p, k in zip(_pair(c[2]), _pair(c[0])))]

POOL1D = [(1, None, 0, 1, False), (2, None, 1, 1, True), (3, 1, 1, 2, False), (3, 2, 1, 1, True),
          (4, 3, 2, 2, True)]


def _rng(seed):
    return np.random.default_rng(20261201 + seed)


def inputs():
    """The inputs, as arrays (stored in the file too: the tests read them from there)."""
    x = _rng(0).integers(-3, 4, size=(2, 3, 9, 10)).astype(np.float64)  # many ties
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 3] = np.nan
    x[-1, -1] = -np.inf  # a plane of -inf
    x[0, -1, 0, 0] = np.inf
    line = _rng(1).integers(-3, 4, size=(2, 3, 17)).astype(np.float64)
    line[0, 0, [2, 5]] = np.nan
    line[1, 2] = -np.inf
    e = _rng(2).standard_normal(40)
    e[:5] = 0.0  # kinks
    e2 = _rng(3).standard_normal(40)
    e2[:8] = e[:8]  # ties of maximum/minimum
    ties = _rng(4).integers(0, 3, (6, 7)).astype(np.float64)
    s = 3.0 * _rng(5).standard_normal((5, 33))
    s[1, :4] = -np.inf
    s[2, 7] = 40.0  # a dominant entry
    s[3] = 0.0  # a uniform row
    return {
        "pool_x": x, "line_x": line,
        "ew_x": e, "ew_y": e2, "ew_g": _rng(8).standard_normal(40), "ew_ties": ties,
        "sm_x": s, "sm_g": _rng(9).standard_normal((5, 33)),
    }


def upstream(shape, dtype):
    """The upstream gradient of an output of ``shape``: a fixed formula, not stored."""
    return np.cos(np.arange(int(np.prod(shape)))).reshape(shape).astype(dtype)


def compute():
    """``{key: array}``: the inputs and torch's answers (needs torch)."""
    import torch

    F = torch.nn.functional
    d = inputs()
    out = {"torch_version": np.array(torch.__version__)}
    out.update(d)

    def t(a, grad=False):
        return torch.from_numpy(np.array(a)).requires_grad_(grad)

    for dt in ("float64", "float32"):
        x = d["pool_x"].astype(dt)
        for i, (k, s, p, dil, c) in enumerate(GRID):
            xt = t(x, True)
            y, idx = F.max_pool2d(xt, k, s, p, dil, c, return_indices=True)
            g = upstream(y.shape, dt)
            y.backward(torch.from_numpy(np.ascontiguousarray(g)))
            out[f"pool2d/{dt}/{i}/y"] = y.detach().numpy()
            out[f"pool2d/{dt}/{i}/idx"] = idx.numpy().astype(np.int16)
            out[f"pool2d/{dt}/{i}/dx"] = xt.grad.numpy()
        for i, (k, s, p, dil, c) in enumerate(POOL1D):
            xt = t(d["line_x"].astype(dt), True)
            y, idx = F.max_pool1d(xt, k, s, p, dil, c, return_indices=True)
            g = upstream(y.shape, dt)
            y.backward(torch.from_numpy(np.ascontiguousarray(g)))
            out[f"pool1d/{dt}/{i}/y"] = y.detach().numpy()
            out[f"pool1d/{dt}/{i}/idx"] = idx.numpy().astype(np.int16)
            out[f"pool1d/{dt}/{i}/dx"] = xt.grad.numpy()
        y, idx = F.max_pool2d(t(x), 2, return_indices=True)
        out[f"unpool/{dt}"] = F.max_unpool2d(y, idx, 2, output_size=(9, 10)).numpy()
        gy, gidx = F.adaptive_max_pool2d(t(x), 1, return_indices=True)
        out[f"global/{dt}/y"] = gy.numpy()[..., 0, 0]
        out[f"global/{dt}/idx"] = gidx.numpy()[..., 0, 0]

        # softmax family and its gradients, dim -1 and dim 0
        for dim in (-1, 0):
            xs = t(d["sm_x"].astype(dt), True)
            g = torch.from_numpy(d["sm_g"].astype(dt))
            for name, fn in (("softmax", lambda v: torch.softmax(v, dim)),
                             ("log_softmax", lambda v: torch.log_softmax(v, dim))):
                xs.grad = None
                y = fn(xs)
                y.backward(g)
                out[f"{name}/{dt}/{dim}/y"] = y.detach().numpy()
                out[f"{name}/{dt}/{dim}/dx"] = xs.grad.numpy()
            xs.grad = None
            lse = torch.logsumexp(xs, dim)
            gl = torch.from_numpy(upstream(lse.shape, dt))
            lse.backward(gl)
            out[f"logsumexp/{dt}/{dim}/y"] = lse.detach().numpy()
            out[f"logsumexp/{dt}/{dim}/g"] = gl.numpy()
            out[f"logsumexp/{dt}/{dim}/dx"] = xs.grad.numpy()

    # a window of padding only (dilation 3, padding 1 on a plane of 2): torch's index
    yo, io = F.max_pool1d(t(np.ones((1, 2))), 2, 1, 1, 3, return_indices=True)
    out["all_padding/y"] = yo.numpy()
    out["all_padding/idx"] = io.numpy()

    # element-wise subgradients at their kinks (float64)
    x, y, g = (torch.from_numpy(d[k]) for k in ("ew_x", "ew_y", "ew_g"))

    def grads(fn, *args):
        ts = [a.clone().requires_grad_() for a in args]
        fn(*ts).backward(g)
        return [a.grad.numpy() for a in ts]

    out["relu/dx"] = grads(torch.relu, x)[0]
    out["abs/dx"] = grads(torch.abs, x)[0]
    out["sigmoid/y"] = torch.sigmoid(x).numpy()
    out["sigmoid/dx"] = grads(torch.sigmoid, x)[0]
    out["softplus/y"] = F.softplus(x).numpy()
    out["softplus/dx"] = grads(F.softplus, x)[0]
    for name, fn in (("maximum", torch.maximum), ("minimum", torch.minimum)):
        out[f"{name}/y"] = fn(x, y).numpy()
        out[f"{name}/dx"], out[f"{name}/dy"] = grads(fn, x, y)
    tie = torch.from_numpy(d["ew_ties"])
    for name, fn in (("amax", torch.amax), ("amin", torch.amin)):
        tt = tie.clone().requires_grad_()
        fn(tt, 1).backward(torch.ones(6, dtype=torch.float64))
        out[f"{name}/dx"] = tt.grad.numpy()
    xx = x.clone().requires_grad_()
    loss = F.l1_loss(xx, y)
    loss.backward()
    out["l1_loss/y"] = loss.detach().numpy()
    out["l1_loss/dx"] = xx.grad.numpy()
    return out


def make():
    np.savez_compressed(PATH, **compute())
    return PATH


def load():
    """The stored answers, as a dict."""
    with np.load(PATH) as f:
        return {k: f[k] for k in f.files}


if __name__ == "__main__":
    print(make())
