"""Scalar incomplete gamma and beta functions and Owen's T in Python, the twins of
csrc/cg_special_gamma.h for mode "PY" (see cgraph/tensor/special_scalar.py).

P(a, x) takes its power series below x = a + 1 and Q(a, x) its continued fraction
above (Lentz's method); the factor x^a e^-x / Gamma(a + 1) is computed as
exp(a log1pmx((x - a) / a)) with Stirling's series for a >= 10, so that nothing
cancels for large a. For a < 0.3 and x < 1.5, Q = 1 - P would cancel: Q is summed
directly there. The inverses are Newton's method on log P or log Q.
"""

from __future__ import annotations

import math

from cgraph.tensor.special_scalar import (
    EPS,
    INF,
    NAN,
    beta,
    betaln,
    c_exp,
    c_expm1,
    c_log,
    c_log1p,
    c_pow,
    erfcinv,
    square_parts,
)
from cgraph.tensor.special_scalar import stirling_rest as _omega

EULER = 0.5772156649015329
#: Series and fractions stop after this many terms (a near x beyond about 1e10 is then
#: truncated: no hang on absurd arguments).
MAX_TERMS = 2_000_000
#: (-1)^k zeta(k) / k, k = 2..39: log Gamma(1 + a) = -EULER a + sum_k c_k a^k.
LGAMMA1P = (
    0.8224670334241132, -0.40068563438653143, 0.27058080842778454, -0.20738555102867398,
    0.1695571769974082, -0.1440498967688461, 0.12550966952474304, -0.11133426586956469,
    0.1000994575127818, -0.09095401714582904, 0.083353840546109, -0.0769325164113522,
    0.07143294629536133, -0.06666870588242046, 0.06250095514121304, -0.058823978658684585,
    0.055555767627403614, -0.05263167937961666, 0.05000004769810169, -0.047619070330142226,
    0.04545455629320467, -0.04347826605304026, 0.04166666915034121, -0.04000000119214014,
    0.03846153903467518, -0.037037037312989324, 0.035714285847333355, -0.034482758684919304,
    0.03333333336437758, -0.03225806453115042, 0.03125000000727597, -0.030303030306558044,
    0.029411764707594344, -0.02857142857226011, 0.027777777778181998, -0.027027027027223673,
    0.02631578947377995, -0.025641025641072283)


def lgamma1p(a: float) -> float:
    """log Gamma(1 + a) for abs(a) <= 0.3, without the rounding of 1 + a."""
    total = 0.0
    for c in reversed(LGAMMA1P):
        total = (total + c) * a
    return (total - EULER) * a


def log1pmx(t: float) -> float:
    """log(1 + t) - t, accurate for small t (its series there)."""
    if abs(t) > 0.3:
        return c_log1p(t) - t
    term, total = t, 0.0
    for k in range(2, 200):
        term *= -t
        step = term / k
        total += step
        if abs(step) <= EPS * abs(total):
            break
    return total


def gamma_prefactor(a: float, x: float) -> float:
    """x^a e^-x / Gamma(a + 1): pow, exp and gamma (each rounds once) while all three
    are in range, else Stirling's form exp(a log1pmx((x - a) / a)) / sqrt(2 pi a) / ..."""
    if a + 1.0 < 171.0 and x < 700.0:
        p = c_pow(x, a) * c_exp(-x)
        if 1e-290 < p < INF:
            return p / math.gamma(a + 1.0)
    if a >= 10.0:
        t = (x - a) / a
        e = a * log1pmx(t) if abs(t) <= 0.3 else a * c_log(x / a) - (x - a)
        return c_exp(e - _omega(a)) / math.sqrt(2.0 * math.pi * a)
    return c_exp(a * c_log(x) - x - math.lgamma(a + 1.0))


def _p_series(a: float, x: float) -> float:
    total = term = 1.0
    k = 1.0
    while abs(term) > EPS * total and k < MAX_TERMS:
        term *= x / (a + k)
        total += term
        k += 1.0
    return gamma_prefactor(a, x) * total


def _q_fraction(a: float, x: float) -> float:
    """Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)), by Lentz."""
    tiny = 1e-300
    b = x + 1.0 - a
    f = b if b != 0 else tiny
    c, d = f, 0.0
    for n in range(1, MAX_TERMS):
        an = -n * (n - a)
        b += 2.0
        d = b + an * d
        d = 1.0 / (d if d != 0 else tiny)
        c = b + an / c
        c = c if c != 0 else tiny
        delta = c * d
        f *= delta
        if abs(delta - 1.0) <= EPS:
            break
    return gamma_prefactor(a, x) * a / f


def _q_small_a(a: float, x: float) -> float:
    """Q(a, x) for a < 0.3, x < 1.5: 1 - x^a / Gamma(a + 1) (1 + a S), with
    S = sum_n>=1 (-x)^n / ((a + n) n!) and 1 - x^a / Gamma(a + 1) as -expm1(...)."""
    total, term, n = 0.0, 1.0, 1
    while True:
        term *= -x / n
        step = term / (a + n)
        total += step
        if abs(step) <= EPS * abs(total) or n > 200:
            break
        n += 1
    u = a * c_log(x) - lgamma1p(a)
    return -c_expm1(u) - c_exp(u) * a * total


def gamma_temme(a: float, x: float) -> tuple[float, float]:
    """(P, Q) for a > 1e9 by the first two terms of Temme's uniform expansion:
    Q = erfc(eta sqrt(a/2)) / 2 + exp(-a eta^2 / 2) / sqrt(2 pi a) c0(eta), with
    eta^2 / 2 = lambda - 1 - log(lambda), lambda = x / a, c0 = 1/(lambda - 1) - 1/eta
    (its series near eta = 0); the error is about a^(-3/2)."""
    t = (x - a) / a
    phi = -log1pmx(t) if abs(t) <= 0.3 else t - c_log(x / a)
    eta = math.copysign(math.sqrt(2.0 * phi), t)
    c0 = -1 / 3 + eta / 12 - 2 * eta * eta / 135 if abs(eta) < 1e-3 else 1.0 / t - 1.0 / eta
    r = c_exp(-0.5 * a * eta * eta) / math.sqrt(2.0 * math.pi * a) * c0
    s = math.sqrt(0.5 * a)
    return 0.5 * math.erfc(-eta * s) - r, 0.5 * math.erfc(eta * s) + r


def _edges(a: float, x: float) -> float | None:
    """P(a, x) at the edges of the domain, or None inside it."""
    if a != a or x != x or a < 0 or x < 0:
        return NAN
    if a == 0:
        return NAN if x == 0 else 1.0
    if math.isinf(a):
        return NAN if math.isinf(x) else 0.0
    if x == 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    return None


def gammainc(a: float, x: float) -> float:
    """The regularized lower incomplete gamma function P(a, x)."""
    edge = _edges(a, x)
    if edge is not None:
        return edge
    if a > 1e9:
        return gamma_temme(a, x)[0]
    if a < 0.3 and x < 1.5:
        q = _q_small_a(a, x)
        return 1.0 - q if q < 0.5 else _p_series(a, x)
    if x < a + 1.0:
        return _p_series(a, x)
    return 1.0 - _q_fraction(a, x)


def gammaincc(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    edge = _edges(a, x)
    if edge is not None:
        return 1.0 - edge
    if a > 1e9:
        return gamma_temme(a, x)[1]
    if a < 0.3 and x < 1.5:
        return _q_small_a(a, x)
    if x < a + 1.0:
        return 1.0 - _p_series(a, x)
    return _q_fraction(a, x)


def _gamma_density_over(a: float, x: float) -> float:
    """x^(a-1) e^-x / Gamma(a), d/dx P(a, x)."""
    return gamma_prefactor(a, x) * a / x


def _gamma_start(a: float, p: float, upper: bool) -> float:
    """A first x with P(a, x) = p (Q(a, x) = p when `upper`): the small-x power
    law for small P, the large-x exponential tail for small Q, else Wilson and
    Hilferty's cube of a normal deviate."""
    lower_p = 1.0 - p if upper else p
    z = -math.sqrt(2.0) * erfcinv(2.0 * lower_p) if 0 < lower_p < 1 else 0.0
    if upper and p < 0.5:
        z = math.sqrt(2.0) * erfcinv(2.0 * p)
    w = a * (1.0 - 1.0 / (9.0 * a) + z / (3.0 * math.sqrt(a))) ** 3
    if a > 1.0 and w > 0.0:
        return w
    if lower_p < 0.5:  # P(a, x) ~ x^a / Gamma(a + 1) for small x
        x = c_exp((c_log(lower_p) + math.lgamma(a + 1.0)) / a)
        if 0.0 < x < a + 1.0:
            return max(x, 1e-300)
    return w if w > 0.0 else max(a * 0.1, 1e-300)  # (Newton reaches below 1e-300)


def _gamma_invert(a: float, p: float, upper: bool) -> float:
    """x with P(a, x) = p, or Q(a, x) = p when `upper`: Newton's method in log x on the
    logarithm of the smaller of P and Q (P ~ x^a is a line there for small x)."""
    solve_upper = upper if p <= 0.5 else not upper
    target = c_log(p if p <= 0.5 else 1.0 - p)
    x = _gamma_start(a, p, upper)
    good = 0.0  # the last x whose value did not underflow
    for _ in range(200):
        value = gammaincc(a, x) if solve_upper else gammainc(a, x)
        if value <= 1e-300 and target > -690.0:  # underflow: x is too far out
            x = math.sqrt(x * good) if good else 0.5 * (x + a)
            continue
        good = x
        slope = gamma_prefactor(a, x) * a / value  # d log P / d log x
        step = (c_log(value) - target) / (-slope if solve_upper else slope)
        step = max(min(step, 700.0), -700.0)
        new = x * c_exp(-step)
        if new == 0.0 or abs(new - x) <= 4 * EPS * new:
            return new
        x = new
    return x


def gammaincinv(a: float, p: float) -> float:
    """x >= 0 with P(a, x) = p."""
    if a != a or p != p or a < 0 or not 0.0 <= p <= 1.0:
        return NAN
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return INF
    if a == 0 or math.isinf(a):
        return 0.0 if a == 0 else INF
    return _gamma_invert(a, p, upper=False)


def gammainccinv(a: float, q: float) -> float:
    """x >= 0 with Q(a, x) = q."""
    if a != a or q != q or a < 0 or not 0.0 <= q <= 1.0:
        return NAN
    if q == 1.0:
        return 0.0
    if q == 0.0:
        return INF
    if a == 0 or math.isinf(a):
        return 0.0 if a == 0 else INF
    return _gamma_invert(a, q, upper=True)


# ------------------------------------------------------------------ betainc


def beta_prefactor(a: float, b: float, x: float) -> float:
    """x^a (1 - x)^b / B(a, b), with Stirling's series when a and b are both large."""
    if a >= 10.0 and b >= 10.0:
        s = a + b
        x0, y0 = a / s, b / s
        d = x - x0
        ta, tb = d / x0, -d / y0
        ea = a * log1pmx(ta) if abs(ta) <= 0.3 else a * c_log(x / x0) - s * d
        ly = c_log1p(-x) if x < 0.5 else c_log(1.0 - x)
        eb = b * log1pmx(tb) if abs(tb) <= 0.3 else b * (ly - c_log(y0)) + s * d
        e = ea + eb
        scale = math.sqrt(a * b / (2.0 * math.pi * s))
        return scale * c_exp(e + _omega(s) - _omega(a) - _omega(b))
    lx = c_log(x)
    ly = c_log1p(-x) if x < 0.5 else c_log(1.0 - x)
    if a + b < 171.0 and min(a, b) > 1e-300:
        p = c_pow(x, a) * (c_exp(b * ly) if x < 0.5 else c_pow(1.0 - x, b))
        if p > 1e-290:
            return p / beta(a, b)
    return c_exp(a * lx + b * ly - betaln(a, b))


def _betainc_fraction(a: float, b: float, x: float) -> float:
    """I_x(a, b) = prefactor / a / (1 + d1 / (1 + d2 / (1 + ...))), by Lentz."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, MAX_TERMS):
        num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        delta = c * d
        f *= delta
        if abs(delta - 1.0) <= EPS:
            break
    return beta_prefactor(a, b, x) * f / a


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), a, b >= 0, 0 <= x <= 1."""
    if a != a or b != b or x != x or a < 0 or b < 0 or not 0.0 <= x <= 1.0:
        return NAN
    if (a == 0 and b == 0) or (math.isinf(a) and math.isinf(b)):
        return NAN
    if a == 0 or math.isinf(b):
        return 1.0 if x > 0 else 0.0
    if b == 0 or math.isinf(a):
        return 1.0 if x == 1 else 0.0
    if x == 0.0 or x == 1.0:
        return x
    if x > (a + 1.0) / (a + b + 2.0):
        flipped = _betainc_fraction(b, a, 1.0 - x)
        if flipped <= 0.5:  # else 1 - flipped cancels: the slower fraction instead
            return 1.0 - flipped
    return _betainc_fraction(a, b, x)


# ------------------------------------------------------------------ Owen's T

#: 20-point Gauss-Legendre nodes (the positive half) and weights.
GL_NODES = (0.07652652113349734, 0.22778585114164507, 0.37370608871541955,
            0.5108670019508271, 0.636053680726515, 0.7463319064601508, 0.8391169718222188,
            0.912234428251326, 0.9639719272779138, 0.993128599185095)
GL_WEIGHTS = (0.15275338713072628, 0.14917298647260424, 0.1420961093183824,
              0.1316886384491769, 0.1181945319615186, 0.1019301198172407,
              0.08327674157670471, 0.06267204833410879, 0.040601429800386446,
              0.017614007139150893)


def owens_t(h: float, a: float) -> float:
    """T(h, a) = 1/(2 pi) int_0^a exp(-h^2 (1 + t^2) / 2) / (1 + t^2) dt, computed as
    exp(-h^2/2) / (2 pi) int_0^atan(a) exp(-(h tan u)^2 / 2) du by Gauss-Legendre
    panels at most 0.2 wide in u and 0.5 wide in h tan u."""
    if h != h or a != a:
        return NAN
    if a == 0:
        return 0.0
    sign = math.copysign(1.0, a)
    h, a = abs(h), abs(a)
    if h == 0:
        return sign * math.atan(a) / (2.0 * math.pi)
    if math.isinf(h) or h > 40.0:
        return sign * 0.0
    end = math.atan(a)
    half_h2 = 0.5 * h * h
    total, lo = 0.0, 0.0
    while lo < end:
        u = h * math.tan(lo)
        if u > 40.0:
            break
        hi = min(lo + 0.2, math.atan((u + 0.5) / h), end)
        mid, rad = 0.5 * (hi + lo), 0.5 * (hi - lo)
        part = 0.0
        for node, weight in zip(GL_NODES, GL_WEIGHTS):
            for t in (mid - rad * node, mid + rad * node):
                tt = math.tan(t)
                part += weight * c_exp(-half_h2 * tt * tt)
        total += part * rad
        lo = hi
    hi_sq, lo_sq = square_parts(h)
    return sign * total * c_exp(-0.5 * hi_sq) * (1.0 - 0.5 * lo_sq) / (2.0 * math.pi)


__all__ = ["betainc", "gammainc", "gammaincc", "gammainccinv", "gammaincinv",
           "owens_t"]
