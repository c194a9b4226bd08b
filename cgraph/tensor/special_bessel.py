"""Scalar Bessel functions and polygamma in Python, the twins of csrc/cg_special.h
(`cg_ive`, `cg_polygamma`) for mode "PY"; see cgraph/tensor/special_scalar.py."""

from __future__ import annotations

import math

from cgraph.tensor.special_scalar import (
    EPS,
    INF,
    NAN,
    _call,
    c_exp,
    c_log,
    c_pow,
    floor,
    gamma,
    lgamma,
)

#: Series stop after this many terms (x beyond about 1e5 with v**2 >= 2x is truncated).
MAX_TERMS = 100_000
#: B_2j / (2j)!, j = 1, 2, ...: the Euler-Maclaurin coefficients.
BERNOULLI_OVER_FACTORIAL = (
    1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000,
    1 / 74724249600, -3617 / 10670622842880000, 43867 / 5109094217170944000,
    -174611 / 802857662698291200000, 77683 / 14101100039391805440000,
    -236364091 / 1693824136731743669452800000)


def _ive_asymptotic(v: float, x: float) -> float:
    """exp(-x) I_v(x) by Hankel's expansion; NaN where it does not reach full accuracy."""
    mu = 4.0 * v * v
    term = total = 1.0
    for k in range(1, 400):
        nxt = -term * (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
        if abs(nxt) <= EPS * abs(total):
            return total / math.sqrt(2.0 * math.pi * x)
        if (2 * k - 1) ** 2 > mu and abs(nxt) > abs(term):
            return NAN
        total += nxt
        term = nxt
    return NAN


def _series_first(v: float, x: float) -> float:
    """(x/2)^v / Gamma(v + 1): for v = n + f >= 0 (n whole, 0 <= f < 1) as
    (x/2)^f / Gamma(f + 1) times the n factors (x/2) / (f + j), which round once each."""
    if 0 <= v <= 2000:
        n = int(floor(v))
        f = v - n
        t = c_pow(0.5 * x, f) / math.gamma(f + 1.0) if f else 1.0
        for j in range(1, n + 1):
            t *= 0.5 * x / (f + j)
        return t
    if v + 1 <= 0 and v + 1 == floor(v + 1):
        return 0.0
    p = c_pow(0.5 * x, v)
    g = gamma(v + 1.0)
    if math.isinf(p) or math.isinf(g) or p == 0.0 or g == 0.0:
        sign = math.copysign(1.0, g) if not math.isinf(g) else 1.0
        return sign * c_exp(v * c_log(0.5 * x) - lgamma(v + 1.0))
    return p / g


def _ive_series(v: float, x: float) -> float:
    """exp(-x) sum_k (x/2)^(2k+v) / (k! Gamma(k+v+1)); the sum is rescaled as it grows
    so that no term overflows (then exp(-x) is applied in the logarithm)."""
    q = 0.25 * x * x
    if x <= 700.0:
        t = _series_first(v, x)
        total = t
        k = 1
        while True:
            t *= q / (k * (k + v))
            total += t
            if (abs(t) <= EPS * abs(total) and k + v > 0) or k > MAX_TERMS:
                break
            k += 1
        return total * c_exp(-x)
    log_first = v * c_log(0.5 * x) - lgamma(v + 1.0) - x
    t = total = 1.0
    shift = 0.0
    k = 1
    while True:
        t *= q / (k * (k + v))
        total += t
        if (abs(t) <= EPS * abs(total) and k + v > 0) or k > MAX_TERMS:
            break
        if total > 1e250:
            t, total, shift = t * 1e-250, total * 1e-250, shift + 250.0 * c_log(10.0)
        k += 1
    return total * c_exp(log_first + shift)


def ive(v: float, x: float) -> float:
    """exp(-abs(x)) I_v(x) (scipy's ive) for real order v."""
    if v != v or x != x or math.isinf(v):
        return NAN
    if x < 0:
        if v != floor(v):
            return NAN
        r = ive(v, -x)
        return -r if v % 2 else r
    if v < 0 and v == floor(v):
        v = -v
    if x == 0.0:
        return 1.0 if v == 0 else 0.0 if v > 0 else NAN
    if x == INF:
        return 0.0
    if x > 25.0 and v * v < 2.0 * x:
        r = _ive_asymptotic(v, x)
        if r == r:
            return r
    return _ive_series(v, x)


def i0(x: float) -> float:
    if math.isinf(x):
        return INF
    return ive(0.0, x) * c_exp(abs(x))


def i1(x: float) -> float:
    if math.isinf(x):
        return x
    return ive(1.0, x) * c_exp(abs(x))


# ------------------------------------------------------------------ polygamma


def hurwitz_zeta(s: float, q: float) -> float:
    """sum_k (q + k)^(-s) for integer s >= 2: the terms below max(12, s), then the
    Euler-Maclaurin tail."""
    if q < -1e6:
        return NAN  # (the sum would take -q terms)
    total = 0.0
    a = q
    while a < max(12.0, s):
        term = c_pow(a, -s)
        total += term
        a += 1.0
        if a > 12.0 and abs(term) <= EPS * abs(total):
            return total  # large s: the rest is below the rounding
        if total != total or a - q > 1e7:
            return NAN  # inf - inf, or an order too large to sum

    total += c_pow(a, 1.0 - s) / (s - 1.0) + 0.5 * c_pow(a, -s)
    factor = s * c_pow(a, -s - 1.0)
    for j, coef in enumerate(BERNOULLI_OVER_FACTORIAL, start=1):
        term = coef * factor
        total += term
        if abs(term) <= EPS * abs(total):
            break
        factor *= (s + 2 * j - 1) * (s + 2 * j) / (a * a)
    return total


#: psi's positive root as hi + lo, and psi^(k)(root) / k!, k = 1..19 (Taylor coefficients).
PSI_ROOT = (1.4616321449683622, 9.549995429965697e-17)
PSI_ROOT_TAYLOR = (
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602)


def digamma(x: float) -> float:
    """psi(x): the recurrence to x >= 12, then the asymptotic series; reflection below 0;
    -inf at +0 and inf at -0 (scipy's), NaN at the negative integers."""
    if x != x or x == -INF:
        return NAN
    if x == INF:
        return INF
    if x == 0.0:
        return -math.copysign(INF, x)
    if x < 0:
        if x == floor(x):
            return NAN
        return digamma(1.0 - x) - math.pi / math.tan(math.pi * (x - round(x)))
    if abs(x - PSI_ROOT[0]) < 0.15:  # Taylor series at the root: no cancellation
        d = (x - PSI_ROOT[0]) - PSI_ROOT[1]
        total = 0.0
        for c in reversed(PSI_ROOT_TAYLOR):
            total = (total + c) * d
        return total
    total = 0.0
    while x < 12.0:
        total -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132 - f * (
        691 / 32760 - f * (1 / 12 - f * 3617 / 8160)))))))
    return total + c_log(x) - 0.5 / x - series


def polygamma(n: float, x: float) -> float:
    """The n-th derivative of digamma, n = 0, 1, 2, ...: (-1)^(n+1) n! zeta(n + 1, x)."""
    if n != n or x != x or n < 0 or n != floor(n) or math.isinf(n):
        return NAN
    if n == 0:
        return digamma(x)
    sign = 1.0 if n % 2 else -1.0
    if x == INF:
        return sign * 0.0
    if x == -INF:
        return NAN
    if x <= 0 and x == floor(x):
        return sign * INF
    return sign * _call(math.gamma, n + 1.0) * hurwitz_zeta(n + 1.0, x)


def tri_gamma(x: float) -> float:
    return polygamma(1.0, x)
