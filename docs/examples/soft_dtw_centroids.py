"""Nearest-centroid classification with soft-DTW barycenters, on scikit-learn's bundled
digits (no download).

Each 8 x 8 digit is read as a time series of 8 steps (the rows, top to bottom) with 8
features (the pixels of a row), so DTW may stretch or shift a digit vertically. For
each class we compute

* the Euclidean mean of its training series, and
* its soft-DTW barycenter: ``argmin_z mean_k sdtw_gamma(z, x_k)``, by L-BFGS from the
  Euclidean mean, with the gradient from ``fs.soft_dtw_backward`` (one batched call over
  the class per step),

and classify the held-out digits by the nearest centroid: Euclidean distance to the
means, and the soft-DTW divergence (>= 0, 0 for identical series) to the means and to
the barycenters. Run from the repository root (scikit-learn and SciPy installed)::

    PYTHONPATH=. python docs/examples/soft_dtw_centroids.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastsmooth as fs

GAMMA = 0.1


def barycenter(series, init, gamma=GAMMA, maxiter=100):
    """Soft-DTW barycenter of ``series`` (N, n, d), started from ``init`` (n, d)."""
    N = len(series)
    weights = np.full(N, 1.0 / N)

    def f(z):
        zs = np.broadcast_to(z.reshape(init.shape), series.shape)
        value = fs.soft_dtw(zs, series, gamma=gamma) @ weights
        gz, _ = fs.soft_dtw_backward(weights, zs, series, gamma=gamma)
        return value, gz.sum(axis=0).ravel()

    res = minimize(f, init.ravel(), jac=True, method="L-BFGS-B", options=dict(maxiter=maxiter))
    return res.x.reshape(init.shape)


def nearest(test, centroids, gamma=GAMMA):
    """Class of the nearest centroid by soft-DTW divergence, for each test series."""
    T, K = len(test), len(centroids)
    x = np.repeat(test, K, axis=0)
    c = np.tile(centroids, (T, 1, 1))
    return fs.soft_dtw_divergence(x, c, gamma=gamma).reshape(T, K).argmin(axis=1)


def main():
    digits = load_digits()
    X = digits.images / 16.0  # (1797, 8, 8): 8 steps of 8 features, in [0, 1]
    y = digits.target
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    classes = np.arange(10)
    means = np.stack([Xtr[ytr == k].mean(axis=0) for k in classes])
    t = time.perf_counter()
    bary = np.stack([barycenter(Xtr[ytr == k], means[k]) for k in classes])
    t_bary = time.perf_counter() - t

    euclid = np.argmin(((Xte[:, None] - means[None]) ** 2).sum(axis=(2, 3)), axis=1)
    t = time.perf_counter()
    div_means = nearest(Xte, means)
    div_bary = nearest(Xte, bary)
    t_pred = (time.perf_counter() - t) / 2
    print(f"digits as series of 8 rows x 8 pixels: {len(Xtr)} train, {len(Xte)} test; gamma = {GAMMA}")
    print(f"barycenters of the 10 classes: {t_bary:.2f} s; nearest-centroid by divergence: "
          f"{t_pred * 1e3:.0f} ms for {len(Xte) * 10} pairs")
    print(f"{'centroid':<22}{'distance':<24}accuracy")
    for name, dist, pred in [("Euclidean mean", "Euclidean", euclid),
                             ("Euclidean mean", "soft-DTW divergence", div_means),
                             ("soft-DTW barycenter", "soft-DTW divergence", div_bary)]:
        print(f"{name:<22}{dist:<24}{np.mean(pred == yte):.3f}")


if __name__ == "__main__":
    main()
