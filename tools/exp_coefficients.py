"""Minimax coefficients for the polynomial of fastsmooth's exp (``fastsmooth/_exp.py``).

exp(r) on |r| <= ln(2)/2 is approximated as ``1 + r + r**2 * q(r)`` (so exp(0) is
exactly 1), with ``q`` of degree ``d`` chosen by a Remez exchange to minimise the maximum
*relative* error of the whole expression. Run ``python tools/exp_coefficients.py`` to
print the coefficients and the error bound (needs mpmath).
"""

import mpmath as mp

mp.mp.dps = 60
A = mp.log(2) / 2


def target(r):
    # q(r) = (exp(r) - 1 - r) / r**2, weighted so the error is relative to exp(r)
    return (mp.exp(r) - 1 - r) / r**2 if r != 0 else mp.mpf(1) / 2


def weight(r):
    return r**2 / mp.exp(r)


def remez(deg, iters=30):
    n = deg + 2
    # n + 1 Chebyshev extrema (an even count, so none is at 0, where the weight
    # vanishes), minus one end
    m = n + 1 if (n + 1) % 2 == 0 else n + 2
    xs = [A * mp.cos(mp.pi * (m - 1 - k) / (m - 1)) for k in range(m)]
    xs = xs[1:] if m == n + 1 else xs[1:-1]
    for _ in range(iters):
        # solve sum c_j x^j + (-1)^i E / w(x) = f(x)
        rows, rhs = [], []
        for i, x in enumerate(xs):
            w = weight(x) if x != 0 else mp.mpf("1e-30")
            rows.append([x**j for j in range(deg + 1)] + [(-1) ** i / w])
            rhs.append(target(x))
        sol = mp.lu_solve(mp.matrix(rows), mp.matrix(rhs))
        c = [sol[j] for j in range(deg + 1)]

        def err(x):
            q = sum(cj * x**j for j, cj in enumerate(c))
            return (1 + x + x**2 * q - mp.exp(x)) / mp.exp(x)

        # new extrema of the error on a fine grid, one per sign change interval
        grid = [A * (2 * mp.mpf(k) / 4000 - 1) for k in range(4001)]
        vals = [err(g) for g in grid]
        ext, cur = [], (grid[0], vals[0])
        for g, v in zip(grid[1:], vals[1:]):
            if (v > 0) == (cur[1] > 0):
                if abs(v) > abs(cur[1]):
                    cur = (g, v)
            else:
                ext.append(cur)
                cur = (g, v)
        ext.append(cur)
        while len(ext) > n:  # drop the smallest extremum at an end
            ext.pop(0 if abs(ext[0][1]) < abs(ext[-1][1]) else -1)
        if len(ext) < n:
            break
        xs = [e[0] for e in ext]
    return c, max(abs(v) for v in vals)


if __name__ == "__main__":
    for deg, label in ((9, "float64: q of degree 9"), (8, "float64: q of degree 8"),
                       (4, "float32: q of degree 4"), (3, "float32: q of degree 3")):
        c, e = remez(deg)
        print(label, " max relative error", mp.nstr(e, 5))
        for j, cj in enumerate(c):
            print(f"  q{j} = {mp.nstr(cj, 20)}")
