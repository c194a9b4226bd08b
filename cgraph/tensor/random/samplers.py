"""The numpy twins of the C samplers in templates/random_lib.c.j2 (mode "PY").

Every sampler draws for a set of elements at once. Element j of a draw of n elements
reads its own sequence of Philox blocks: its r-th block is block `counter + r * n + j`
of the stream (`Blocks`), so a rejection loop takes as many blocks as it needs and the
draw's update advances the counter by n times the longest sequence. The C code runs the
same steps one element at a time, with the same floating-point operations in the same
order, and libm's log, exp, sqrt, cos and tan: the numbers are the same in C and PY
(where numpy's own vector libm differs from glibc's, a rejection test can decide
otherwise in rare cases).

Algorithms: Box-Muller (normal), Marsaglia and Tsang (gamma; shape < 1 by
Gamma(a + 1) * U^(1/a), in logs), Hormann's PTRS (Poisson, lam >= 10) and BTRS
(binomial, n * min(p, 1 - p) >= 10), inversion by sequential search otherwise, a
masked 64-bit rejection for integers, conditional binomials for the multinomial.
"""

from __future__ import annotations

import numpy as np

from cgraph.tensor.random.streams import philox

#: log(k!) for k < 10; Stirling's series from 10 on (the C table is the same text)
LOG_FACT = np.array([0.0, 0.0, 0.69314718055994530942, 1.79175946922805500081,
                     3.17805383034794561964, 4.78749174278204599425, 6.57925121201010099506,
                     8.52516136106541430017, 10.60460290274525022842,
                     12.80182748008146961121])
_HALF_LOG_2PI = 0.91893853320467274178


class Blocks:
    """Each element's own sequence of Philox blocks (see the module's docstring)."""

    def __init__(self, key: int, stream: int, counter: int, n: int):
        self.key, self.stream, self.n = key, stream, n
        self.counter = np.uint64(counter & 0xFFFFFFFFFFFFFFFF)
        self.r = np.zeros(n, dtype=np.uint64)

    def next(self, idx: np.ndarray) -> np.ndarray:
        """The next block of each element in `idx` (int64 indices): shape (len, 4)."""
        counters = self.r[idx] * np.uint64(self.n) + idx.astype(np.uint64) + self.counter
        self.r[idx] += np.uint64(1)
        return philox(self.key, self.stream, counters)

    def used(self) -> int:
        """The blocks the draw consumed: n times the longest sequence."""
        return int(self.r.max()) * self.n if self.n else 0


def u01(b: np.ndarray, i: int = 0) -> np.ndarray:
    """Doubles in [0, 1) from words i, i + 1 (53 bits), as cg_u01."""
    return ((b[:, i] >> 5).astype(np.float64) * 67108864.0 + (b[:, i + 1] >> 6).astype(
        np.float64)) / 9007199254740992.0


def u01_open(b: np.ndarray, i: int = 0) -> np.ndarray:
    """Doubles in (0, 1) from words i, i + 1 (52 bits and a half), as cg_rv_open."""
    return ((b[:, i] >> 6).astype(np.float64) * 67108864.0 + (b[:, i + 1] >> 6).astype(
        np.float64) + 0.5) / 4503599627370496.0


def log_fact(k: np.ndarray) -> np.ndarray:
    """log(k!) for integer-valued doubles k >= 0."""
    out = np.empty_like(k)
    small = k < 10
    out[small] = LOG_FACT[k[small].astype(np.int64)]
    x = k[~small] + 1.0
    x2 = x * x
    out[~small] = ((x - 0.5) * np.log(x) - x + _HALF_LOG_2PI +
                   (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x2)) / x2) / x)
    return out


def normal(g: Blocks, idx: np.ndarray) -> np.ndarray:
    """Standard normals, one block each (Box-Muller's cosine)."""
    b = g.next(idx)
    u1 = 1.0 - u01(b, 0)
    u2 = u01(b, 2)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


def _marsaglia_tsang(g: Blocks, idx: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Gamma(a) for a >= 1: d * v, two blocks an attempt (one when v <= 0)."""
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    out = np.empty(len(idx))
    pending = np.arange(len(idx))
    while pending.size:
        z = normal(g, idx[pending])
        v = 1.0 + c[pending] * z
        pos = v > 0.0  # the others try again, with no uniform drawn
        retry, tried, z, v = pending[~pos], pending[pos], z[pos], v[pos]
        v = v * v * v
        u = u01_open(g.next(idx[tried]), 0)
        x = z * z
        dd = d[tried]
        ok = u < 1.0 - 0.0331 * x * x
        ok |= ~ok & (np.log(u) < 0.5 * x + dd * (1.0 - v + np.log(v)))
        out[tried[ok]] = dd[ok] * v[ok]
        pending = np.concatenate([retry, tried[~ok]])
    return out


def log_gamma_draw(g: Blocks, idx: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log of Gamma(a) draws (a > 0): for a < 1, log Gamma(a + 1) + log(U) / a, which
    keeps tiny draws (beta, dirichlet) from underflowing."""
    out = np.empty(len(idx))
    big = a >= 1.0
    out[big] = np.log(_marsaglia_tsang(g, idx[big], a[big]))
    small = ~big
    sa = a[small]
    lg = np.log(_marsaglia_tsang(g, idx[small], sa + 1.0))
    out[small] = lg + np.log(u01_open(g.next(idx[small]), 0)) / sa
    return out


def gamma(g: Blocks, idx: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Gamma(a) draws of scale 1 (a >= 0; 0 for a == 0, drawing nothing)."""
    out = np.zeros(len(idx))
    big = a >= 1.0
    out[big] = _marsaglia_tsang(g, idx[big], a[big])
    small = (a > 0.0) & ~big
    out[small] = np.exp(log_gamma_draw(g, idx[small], a[small]))
    return out


def poisson(g: Blocks, idx: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson(lam) as doubles: inversion below 10, PTRS from 10 on."""
    out = np.zeros(len(idx))
    small = lam < 10.0
    sl = lam[small]
    u = u01(g.next(idx[small]), 0)
    p = np.exp(-sl)
    f = p.copy()
    k = np.zeros(len(sl))
    active = (u >= f) & (p > 0.0)
    while active.any():
        k[active] += 1.0
        p[active] *= sl[active] / k[active]
        f[active] += p[active]
        active &= (u >= f) & (p > 0.0)
    out[small] = k
    big = np.flatnonzero(~small)
    lam = lam[big]
    slam, loglam = np.sqrt(lam), np.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    pending = np.arange(len(big))
    while pending.size:
        blk = g.next(idx[big[pending]])
        uu = u01(blk, 0) - 0.5
        v = u01(blk, 2)
        us = 0.5 - np.abs(uu)
        ap, bp, lp = a[pending], b[pending], lam[pending]
        with np.errstate(divide="ignore", invalid="ignore"):
            kk = np.floor((2.0 * ap / us + bp) * uu + lp + 0.43)
        ok = (us >= 0.07) & (v <= vr[pending])
        test = ~ok & ~((kk < 0.0) | ((us < 0.013) & (v > us)))
        t = np.flatnonzero(test)
        lhs = np.log(v[t]) + np.log(invalpha[pending[t]]) - np.log(ap[t] / (us[t] * us[t])
                                                                     + bp[t])
        rhs = -lp[t] + kk[t] * loglam[pending[t]] - log_fact(kk[t])
        ok[t] = lhs <= rhs
        out[big[pending[ok]]] = kk[ok]
        pending = pending[~ok]
    return out


def binomial(g: Blocks, idx: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial(n, p) as doubles: q = min(p, 1 - p); inversion when n q < 10, BTRS
    otherwise; n - draw where p > 0.5."""
    n_all, flip = n, p > 0.5
    q = np.where(flip, 1.0 - p, p)
    out = np.zeros(len(idx))
    small = n * q < 10.0
    sn, sq = n[small], q[small]
    qn = np.exp(sn * np.log1p(-sq))
    r = sq / (1.0 - sq)
    gg = r * (sn + 1.0)
    u = u01(g.next(idx[small]), 0)
    k = np.zeros(len(sn))
    px = qn
    f = px.copy()
    active = (u >= f) & (k < sn)
    while active.any():
        k[active] += 1.0
        px[active] *= gg[active] / k[active] - r[active]
        f[active] += px[active]
        active &= (u >= f) & (k < sn)
    out[small] = k
    big = np.flatnonzero(~small)
    n, q = n[big], q[big]
    spq = np.sqrt(n * q * (1.0 - q))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = n * q + 0.5
    alpha = (2.83 + 5.1 / b) * spq
    vr = 0.92 - 4.2 / b
    lpq = np.log(q / (1.0 - q))
    m = np.floor((n + 1.0) * q)
    h = log_fact(m) + log_fact(n - m)
    pending = np.arange(len(big))
    while pending.size:
        blk = g.next(idx[big[pending]])
        uu = u01(blk, 0) - 0.5
        v = u01(blk, 2)
        us = 0.5 - np.abs(uu)
        ap, bp, np_ = a[pending], b[pending], n[pending]
        with np.errstate(divide="ignore", invalid="ignore"):
            kk = np.floor((2.0 * ap / us + bp) * uu + c[pending])
        inside = (kk >= 0.0) & (kk <= np_)
        ok = inside & (us >= 0.07) & (v <= vr[pending])
        t = np.flatnonzero(inside & ~ok)
        pt = pending[t]
        with np.errstate(divide="ignore"):
            lv = np.log(v[t] * alpha[pt] / (ap[t] / (us[t] * us[t]) + bp[t]))
        rhs = h[pt] - log_fact(kk[t]) - log_fact(np_[t] - kk[t]) + (kk[t] - m[pt]) * lpq[pt]
        ok[t] = lv <= rhs
        out[big[pending[ok]]] = kk[ok]
        pending = pending[~ok]
    return np.where(flip, n_all - out, out)


def _scalar(dist: str, g: Blocks, idx: np.ndarray, a: list[np.ndarray], dtype: str
            ) -> np.ndarray:
    """The draws of a distribution with scalar parameters `a` (flat, one per element)."""
    if dist == "uniform":
        b = g.next(idx)
        if dtype == "float32":
            u = (b[:, 0] >> 8).astype(np.float32) * np.float32(1 / 16777216)
            low, high = a[0].astype(np.float32), a[1].astype(np.float32)
            return low + (high - low) * u
        return a[0] + (a[1] - a[0]) * u01(b, 0)
    if dist in ("normal", "lognormal", "halfnormal"):
        z = normal(g, idx)
        return (a[0] + a[1] * z if dist == "normal" else np.exp(a[0] + a[1] * z)
                if dist == "lognormal" else a[0] + a[1] * np.abs(z))
    if dist == "integers":
        return _integers(g, idx, a[0], a[1])
    if dist == "bernoulli":
        return (u01(g.next(idx), 0) < a[0]).astype(np.float64)
    if dist == "binomial":
        return binomial(g, idx, a[0], a[1])
    if dist == "poisson":
        return poisson(g, idx, a[0])
    if dist == "gamma":
        return a[1] * gamma(g, idx, a[0])
    if dist == "chisquare":
        return 2.0 * gamma(g, idx, 0.5 * a[0])
    if dist == "beta":
        la = log_gamma_draw(g, idx, a[0])
        return 1.0 / (1.0 + np.exp(log_gamma_draw(g, idx, a[1]) - la))
    if dist == "t":
        z = normal(g, idx)
        h = 0.5 * a[0]
        with np.errstate(divide="ignore"):
            return a[1] + a[2] * (z / np.sqrt(gamma(g, idx, h) / h))
    if dist == "betabinom":
        la = log_gamma_draw(g, idx, a[1])
        p = 1.0 / (1.0 + np.exp(log_gamma_draw(g, idx, a[2]) - la))
        return binomial(g, idx, a[0], p)
    if dist == "wald":
        y = normal(g, idx)
        mu, sc = a
        y = mu * y * y
        x = mu + mu / (2.0 * sc) * (y - np.sqrt(4.0 * sc * y + y * y))
        u = u01(g.next(idx), 0)
        return np.where(u <= mu / (mu + x), x, mu * mu / x)
    if dist == "gengamma":
        return a[2] * np.exp(log_gamma_draw(g, idx, a[0] / a[1]) / a[1])
    if dist == "vonmises":
        return _vonmises(g, idx, a[0], a[1])
    if dist == "hypergeometric":
        return _hypergeometric(g, idx, *a)
    if dist == "invgamma":
        return a[1] / gamma(g, idx, a[0])
    if dist == "negative_binomial":
        y = gamma(g, idx, a[0]) * ((1.0 - a[1]) / a[1])
        if not (y <= 1e18).all():  # past int64's range: p too small for n
            at = np.argmin(y <= 1e18)
            raise ValueError(f"negative_binomial: the Poisson mean n (1 - p) / p drawn is "
                             f"{y[at]:g}, past 1e18 (n={a[0][at]:g}, p={a[1][at]:g})")
        return poisson(g, idx, y)
    u = u01_open(g.next(idx), 0)
    if dist == "exponential":
        return a[0] * -np.log(u)
    if dist == "weibull":
        return np.where(a[0] == 0.0, 0.0, np.exp(np.log(-np.log(u)) / np.where(
            a[0] == 0.0, 1.0, a[0])))
    if dist == "geometric":
        with np.errstate(divide="ignore"):
            k = np.ceil(np.log(u) / np.log1p(-a[0]))
        return np.minimum(np.maximum(k, 1.0), 4.6e18)
    if dist == "laplace":
        low = u < 0.5
        return np.where(low, a[0] + a[1] * np.log(2.0 * u), a[0] - a[1] * np.log(
            2.0 * (1.0 - u)))
    if dist == "gumbel":
        return a[0] - a[1] * np.log(-np.log(u))
    if dist == "pareto":
        return a[1] * np.exp(-np.log(u) / a[0])
    if dist == "truncexpon":
        return a[1] + a[2] * -np.log1p(-u * -np.expm1(-a[0]))
    if dist == "triangular":
        left, mode, right = a
        width = right - left
        return np.where(u < (mode - left) / width,
                        left + np.sqrt(u * width * (mode - left)),
                        right - np.sqrt((1.0 - u) * width * (right - mode)))
    if dist == "logistic":
        return a[0] + a[1] * np.log(u / (1.0 - u))
    if dist in ("cauchy", "halfcauchy"):
        c = np.tan(3.141592653589793 * (u - 0.5))
        return a[0] + a[1] * (c if dist == "cauchy" else np.abs(c))
    raise ValueError(f"unknown distribution {dist!r}")


def _integers(g: Blocks, idx: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Integers in [low, high): 64-bit words masked to the range's bit length, the
    ones past the range rejected (two words a block)."""
    low, high = low.astype(np.int64), high.astype(np.int64)
    m = high.view(np.uint64) - low.view(np.uint64)
    mask = m - np.uint64(1)
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> np.uint64(s)
    out = np.zeros(len(idx), dtype=np.uint64)
    pending = np.arange(len(idx))
    while pending.size:
        b = g.next(idx[pending]).astype(np.uint64)
        done = np.zeros(len(pending), dtype=bool)
        for w in (0, 2):
            v = ((b[:, w] << np.uint64(32)) | b[:, w + 1]) & mask[pending]
            take = ~done & (v < m[pending])
            out[pending[take]] = v[take]
            done |= take
        pending = pending[~done]
    return (out + low.view(np.uint64)).view(np.int64)


def draw(dist: str, dtype: str, state: tuple[int, int, int], params: list[np.ndarray],
         n: int, k: int) -> tuple[np.ndarray, int]:
    """The draws of n batch elements (k: the core length) from flat parameters
    (shape (n,) or (n, k) or (n, k, k)): the sample, shape (n,) or (n, k), and the
    blocks used."""
    key, stream, counter = state
    if dist in ("dirichlet", "multivariate_normal"):
        g = Blocks(key, stream, counter, n * k)
        idx = np.arange(n * k)
        if dist == "dirichlet":
            lg = log_gamma_draw(g, idx, params[0].reshape(-1)).reshape(n, k)
            e = np.exp(lg - lg.max(axis=1, keepdims=True) if k else lg)
            total = np.zeros(n)
            for c in range(k):
                total += e[:, c]
            return e / total[:, None], g.used()
        z = normal(g, idx).reshape(n, k)
        chol = _cholesky(params[1])
        acc = np.zeros((n, k))
        for i in range(k):
            acc += chol[:, :, i] * z[:, i:i + 1]
        return params[0] + acc, g.used()
    g = Blocks(key, stream, counter, n)
    idx = np.arange(n)
    if dist == "categorical":
        f = np.cumsum(params[0], axis=1)
        u = u01(g.next(idx), 0)
        return np.minimum((f <= u[:, None]).sum(axis=1), k - 1).astype(np.float64), g.used()
    if dist == "multinomial":
        trials, p = params
        out = np.zeros((n, k))
        left, mass = trials.astype(np.float64), np.ones(n)
        for c in range(k - 1):
            with np.errstate(divide="ignore", invalid="ignore"):
                pc = np.where(mass > 0.0, np.minimum(p[:, c] / mass, 1.0), 1.0)
            todo = np.flatnonzero(left > 0.0)
            x = binomial(g, idx[todo], left[todo], pc[todo])
            out[todo, c] = x
            left[todo] -= x
            mass -= p[:, c]
        if k:
            out[:, k - 1] = left
        return out, g.used()
    return _scalar(dist, g, idx, params, dtype), g.used()


def _cholesky(cov: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack of matrices; LinAlgError naming the first
    batch element whose matrix is not positive definite."""
    try:
        return np.linalg.cholesky(cov) if len(cov) else cov
    except np.linalg.LinAlgError:
        for j, a in enumerate(cov):
            try:
                np.linalg.cholesky(a)
            except np.linalg.LinAlgError:
                raise np.linalg.LinAlgError(
                    f"multivariate_normal: cov is not positive definite (batch element "
                    f"{j})") from None
        raise


def _vonmises(g: Blocks, idx: np.ndarray, mu: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """numpy's method: uniform below kappa 1e-8, a wrapped normal above 1e6, Best and
    Fisher's rejection between; the angle wrapped to [-pi, pi]."""
    out = np.empty(len(idx))
    tiny = kappa < 1e-8
    out[tiny] = 3.141592653589793 * (2.0 * u01_open(g.next(idx[tiny]), 0) - 1.0)
    huge = kappa > 1e6
    out[huge] = mu[huge] + np.sqrt(1.0 / kappa[huge]) * normal(g, idx[huge])
    mid = np.flatnonzero(~tiny & ~huge)
    k = kappa[mid]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 1.0 + np.sqrt(1.0 + 4.0 * k * k)
        rho = (r - np.sqrt(2.0 * r)) / (2.0 * k)
        s = np.where(k < 1e-5, 1.0 / k + k, (1.0 + rho * rho) / (2.0 * rho))
    w = np.empty(len(mid))
    pending = np.arange(len(mid))
    while pending.size:
        b = g.next(idx[mid[pending]])
        z = np.cos(3.141592653589793 * u01(b, 0))
        sp = s[pending]
        wp = (1.0 + sp * z) / (sp + z)
        y = k[pending] * (sp - wp)
        v = u01_open(b, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (y * (2.0 - y) - v >= 0.0) | (np.log(y / v) + 1.0 - y >= 0.0)
        w[pending[ok]] = wp[ok]
        pending = pending[~ok]
    u = u01(g.next(idx[mid]), 0)
    angle = np.arccos(w)
    out[mid] = mu[mid] + np.where(u < 0.5, -angle, angle)
    wrap = ~tiny
    neg = out[wrap] < 0.0
    m = np.fmod(np.abs(out[wrap]) + 3.141592653589793, 6.283185307179586) - 3.141592653589793
    out[wrap] = np.where(neg, -m, m)
    return out


def _hypergeometric(g: Blocks, idx: np.ndarray, good: np.ndarray, bad: np.ndarray,
                    m: np.ndarray) -> np.ndarray:
    """Successes in m draws without replacement, one draw at a time (of the smaller of
    m and its complement)."""
    total = good + bad
    flip = m > 0.5 * total
    steps = np.where(flip, total - m, m)
    g_left, b_left, hits = good.copy(), bad.copy(), np.zeros(len(idx))
    t = 0.0
    active = np.flatnonzero(steps > t)
    while active.size:
        u = u01(g.next(idx[active]), 0)
        hit = u * (g_left[active] + b_left[active]) < g_left[active]
        hits[active[hit]] += 1.0
        g_left[active[hit]] -= 1.0
        b_left[active[~hit]] -= 1.0
        t += 1.0
        active = active[steps[active] > t]
    return np.where(flip, good - hits, hits)
