"""Scalar special functions in Python, the twins of csrc/cg_special.h for mode "PY".

Each function takes and returns a Python float and follows the C function of the
same name (without the `cg_` prefix) step by step, so that modes "C" and "PY" agree
to the last bits or nearly. `vectorized` turns one into a numpy function.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

INF, NAN = math.inf, math.nan
LN2 = math.log(2.0)
LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT_PI = math.sqrt(math.pi)
EPS = 2.220446049250313e-16


def vectorized(fn: Callable, nin: int = 1) -> Callable:
    """A numpy function of `nin` arrays from a scalar float function (float64 result)."""
    def ieee(*args: float) -> float:  # numpy scalars: x / 0 is inf or NaN, as in C
        with np.errstate(all="ignore"):
            return float(fn(*[np.float64(v) for v in args]))

    vec = np.vectorize(ieee, otypes=[np.float64])

    def apply(*arrays: np.ndarray) -> np.ndarray:
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
        if not math.prod(shape):
            return np.zeros(shape)
        return vec(*arrays)

    apply.__name__ = fn.__name__
    return apply


def floor(x: float) -> float:
    """C's floor: infinities are their own floor (math.floor raises for them)."""
    return x if math.isinf(x) or x != x else float(math.floor(x))


def _call(fn: Callable, *args: float) -> float:
    """fn(*args), with C's results where the math module raises (inf on overflow)."""
    try:
        return fn(*args)
    except OverflowError:
        return INF
    except ValueError:
        return NAN


def c_log(x: float) -> float:
    """C's log: -inf at 0, NaN below (math.log raises)."""
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def c_log1p(x: float) -> float:
    if x > -1.0:
        return math.log1p(x)
    return -INF if x == -1.0 else NAN


def c_exp(x: float) -> float:
    return _call(math.exp, x)


def c_expm1(x: float) -> float:
    return _call(math.expm1, x)


def c_pow(a: float, e: float) -> float:
    """C's pow: +-inf on overflow, 0 on underflow, NaN for a negative base and a
    fractional exponent (math.pow raises)."""
    try:
        return math.pow(a, e)
    except OverflowError:
        return -INF if a < 0 and e == floor(e) and e % 2 else INF
    except (ValueError, ZeroDivisionError):
        return INF if a == 0 else NAN


# ------------------------------------------------------------------ logistic family


def logit(p: float) -> float:
    if not (0.0 <= p <= 1.0):
        return NAN
    if p == 0.0:
        return -INF
    if p == 1.0:
        return INF
    if 0.25 <= p <= 0.75:
        return 2.0 * math.atanh(2.0 * p - 1.0)
    if p < 0.25:
        return c_log(p / (1.0 - p))
    return -c_log((1.0 - p) / p)


def log1mexp(x: float) -> float:
    if x != x or x > 0.0:
        return NAN
    if x == 0.0:
        return -INF
    if x > -LN2:
        return c_log(-c_expm1(x))
    return c_log1p(-c_exp(x))


def logaddexp(x: float, y: float) -> float:
    if x == y:
        return x + LN2
    d = x - y
    if d > 0:
        return x + c_log1p(c_exp(-d))
    if d <= 0:
        return y + c_log1p(c_exp(d))
    return NAN


def _log(y: float) -> float:
    if y == 0.0:
        return -INF
    return c_log(y) if y > 0 else NAN


def xlogy(x: float, y: float) -> float:
    if x == 0.0 and y == y:
        return 0.0
    return x * _log(y)


def xlog1py(x: float, y: float) -> float:
    if x == 0.0 and y == y:
        return 0.0
    return x * (_log(1.0 + y) if y == -1.0 or y == INF else c_log1p(y))


# ------------------------------------------------------------------ gamma and beta


def stirling_rest(x: float) -> float:
    """log Gamma(x) minus Stirling's approximation, for x >= 10."""
    f = 1.0 / (x * x)
    return (1 / 12 - f * (1 / 360 - f * (1 / 1260 - f * (1 / 1680 - f * (1 / 1188 - f * (
        691 / 360360 - f * (1 / 156 - f * (3617 / 122400)))))))) / x


def gamma(x: float) -> float:
    if x == 0.0:
        return math.copysign(INF, x)
    if x != x or x == -INF or (x < 0 and floor(x) == x):
        return NAN
    if x == INF:
        return INF
    sign = -1.0 if x < 0 and floor(x) % 2 else 1.0  # Gamma alternates between the poles
    if x < -190.0:  # |Gamma| underflows
        return sign * 0.0
    try:
        return math.gamma(x)
    except OverflowError:
        return sign * INF


def lgamma(x: float) -> float:
    """log|Gamma(x)|, +inf at the poles (C's lgamma)."""
    if math.isinf(x):
        return INF
    return INF if x <= 0 and floor(x) == x else math.lgamma(x)


def betaln(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    if a > b:
        a, b = b, a
    if a <= 0 or math.isinf(b):
        if a == floor(a) and a <= 0:
            return INF
        if math.isinf(b):
            return -INF if a > 0 else NAN
        if b == floor(b) and b <= 0:
            return INF
        return lgamma(a) + lgamma(b) - lgamma(a + b)
    s = a + b
    if s < 171.0 and a > 1e-300:
        return c_log(abs(math.gamma(a) / math.gamma(s) * math.gamma(b)))
    if b < 10.0:  # a below 1e-300
        return lgamma(a) + lgamma(b) - lgamma(s)
    if a < 10.0:
        return (lgamma(a) + a - a * c_log(s) - (b - 0.5) * c_log1p(a / b)
                + stirling_rest(b) - stirling_rest(s))
    return (LN_SQRT_2PI - 0.5 * c_log(b) + (a - 0.5) * c_log(a / s)
            - b * c_log1p(a / b) + stirling_rest(a) + stirling_rest(b) - stirling_rest(s))


def beta(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    if a > b:
        a, b = b, a
    if a > 0 and a + b < 171.0 and a > 1e-300:
        return math.gamma(a) / math.gamma(a + b) * math.gamma(b)
    if a > 0:
        return c_exp(betaln(a, b))
    if a == floor(a) or (b <= 0 and b == floor(b)):
        return INF
    s = a + b
    sign = math.copysign(1.0, gamma(a)) * math.copysign(1.0, gamma(b))
    if s <= 0 and s == floor(s):
        return sign * 0.0  # 1 / Gamma(s) = 0, signed as Gamma(a) Gamma(b) (as scipy)
    sign *= math.copysign(1.0, gamma(s))
    return sign * c_exp(lgamma(a) + lgamma(b) - lgamma(s))


# ------------------------------------------------------------------ error functions


def _split(x: float) -> tuple[float, float]:
    """x = hi + lo with hi holding the top 26 bits (Dekker's split)."""
    c = 134217729.0 * x
    hi = c - (c - x)
    return hi, x - hi


def square_parts(x: float) -> tuple[float, float]:
    """x * x = hi + lo exactly."""
    hi = x * x
    xh, xl = _split(x)
    return hi, ((xh * xh - hi) + 2.0 * xh * xl) + xl * xl


def exp_sq(x: float) -> float:
    """exp(x * x), with the rounding of x * x taken into account."""
    hi, lo = square_parts(x)
    return c_exp(hi) * (1.0 + lo)


def erfcx(x: float) -> float:
    if x != x:
        return NAN
    if x < 0:
        return INF if x < -26.7 else 2.0 * exp_sq(x) - erfcx(-x)
    if x < 26.0:
        return exp_sq(x) * math.erfc(x)
    if x > 1e9:
        return 1.0 / (x * SQRT_PI) if x > 1e150 else (1.0 - 0.5 / (x * x)) / (x * SQRT_PI)
    # erfc(x) exp(x^2) sqrt(pi) = 1 / (x + (1/2) / (x + (2/2) / (x + ...))), by Lentz
    f = c = x
    d = 0.0
    for n in range(1, 100):
        a = 0.5 * n
        d = 1.0 / (x + a * d)
        c = x + a / c
        f *= c * d
        if abs(c * d - 1.0) < EPS:
            break
    return 1.0 / (SQRT_PI * f)


def _erf_solve(y: float) -> float:
    """x >= 0 with erf(x) = y, for 0 < y <= 1/2 (Newton from the series' first terms)."""
    x = 0.5 * SQRT_PI * y * (1.0 + math.pi * y * y / 12.0)
    for _ in range(20):
        step = (math.erf(x) - y) * 0.5 * SQRT_PI * c_exp(x * x)
        x -= step
        if abs(step) <= 2e-16 * x:
            break
    return x


def _erfc_solve(q: float) -> float:
    """x > 0 with erfc(x) = q, for 0 < q <= 1/2: Newton on log erfc(x) = log q, with
    log erfc(x) = log erfcx(x) - x^2 (no underflow down to the smallest q)."""
    target = c_log(q)
    x = math.sqrt(-target)
    x = max(x - c_log(SQRT_PI * x) / (2.0 * x), 0.4) if x > 1 else 0.5
    for _ in range(50):
        e = erfcx(x)
        hi, lo = square_parts(x)
        g = (c_log(e) - hi) - lo - target
        step = g * 0.5 * SQRT_PI * e  # g / g', g' = -2 / (sqrt(pi) erfcx(x))
        x += step
        if abs(step) <= 2e-16 * x:
            break
    return x


def erfinv(y: float) -> float:
    if not (-1.0 <= y <= 1.0):
        return NAN
    if y == 0.0:
        return 0.0  # +0 for -0 too (scipy's)
    a = abs(y)
    x = INF if a == 1.0 else _erf_solve(a) if a <= 0.5 else _erfc_solve(1.0 - a)
    return math.copysign(x, y)


def erfcinv(q: float) -> float:
    if not (0.0 <= q <= 2.0):
        return NAN
    if q == 0.0:
        return INF
    if q == 2.0:
        return -INF
    if q < 0.5:
        return _erfc_solve(q)
    if q <= 1.5:
        return -erfinv(q - 1.0)
    return -_erfc_solve(2.0 - q)
