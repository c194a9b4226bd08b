"""The Gauss hypergeometric function 2F1(a, b; c; z) in Python, the twin of
csrc/cg_special_hyp.h for mode "PY" (same steps, same branch points).

The supported domain: real a, b, c, z with z <= 1 and c not a non-positive integer.
z < 0 is mapped into (0, 1) by Pfaff's transformation; on [0, 0.9] the power series is
summed; above 0.9 the series in 1 - z (DLMF 15.8.4) is used when the excess c - a - b
(after the transformation) is at least 0.05 away from an integer, the series with
logarithms (15.8.10) when it is an integer (to within 1e-13), else the power series up
to 0.999 and above it the hypergeometric equation, solved by Taylor steps from z = 0.5
(`march`, with the equations of the derivatives in a, b and c that
special_hyp_grad.py uses). Outside this (z > 1, c a non-positive integer, a series
that does not converge in MAX_TERMS terms, z = 1 with c - a - b <= 0) the result is
NaN.
"""

from __future__ import annotations

import math

from cgraph.tensor.special_bessel import digamma
from cgraph.tensor.special_scalar import EPS, INF, NAN, c_exp, c_log, c_pow, floor, gamma, lgamma

MAX_TERMS = 200_000
SERIES_UP_TO = 0.9  # the power series alone below this z
NEAR_INTEGER = 0.05  # an excess closer than this to an integer: no 1 - z transformation
SERIES_LIMIT = 0.999  # and the power series only up to this z
INTEGER_EXCESS = 1e-13  # an excess this close to an integer: the logarithmic series
MAX_EXCESS = 1000.0  # (for integers up to this)
MAX_TAYLOR = 2000  # terms of one Taylor step (each step's terms fall like 2**-n)
GRAD_SERIES_UP_TO = 0.5  # the jets' series alone up to this z; Taylor steps above
NAN_JET = [NAN, NAN, NAN, NAN]


def _non_positive_integer(x: float) -> bool:
    return x <= 0 and x == floor(x)


def _series(a: float, b: float, c: float, z: float) -> tuple[float, float]:
    """sum_k (a)_k (b)_k / ((c)_k k!) z**k (Neumaier's compensated sum) and its
    condition sum_k |term_k| / |sum|; NaN when it does not converge in MAX_TERMS terms."""
    term = total = size = 1.0
    lost = 0.0
    k_min = abs(a) + abs(b) + abs(c) + 2.0  # the ratios are monotone past here
    k = 0.0
    while k < MAX_TERMS:
        ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z
        term *= ratio
        k += 1.0
        new = total + term
        lost += (total - new) + term if abs(total) >= abs(term) else (term - new) + total
        total = new
        size += abs(term)
        bound = max(abs(ratio), abs(z))
        tail = abs(term) * bound  # at most (1 - bound) times the rest of the series
        if term == 0.0 or (k > k_min and bound < 1.0
                           and tail <= 0.5 * EPS * (1.0 - bound) * abs(total + lost)):
            total += lost
            return total, size / abs(total) if total else INF
    return NAN, INF




def series_jet(a: float, b: float, c: float, z: float) -> tuple[list[float], float]:
    """The jet of sum_k (a)_k (b)_k / ((c)_k k!) z**k for abs(z) <= 0.9 (derivatives in
    its own a, b, c) and the value's condition sum_k abs(term_k) / abs(sum)."""
    t = [1.0, 0.0, 0.0, 0.0]
    s = [1.0, 0.0, 0.0, 0.0]
    size = 1.0
    k_min = abs(a) + abs(b) + abs(c) + 2.0
    k = 0.0
    quiet = 0
    while k < MAX_TERMS:
        den = (c + k) * (k + 1.0)
        r = (a + k) * (b + k) / den * z
        ra, rb, rc = (b + k) / den * z, (a + k) / den * z, -r / (c + k)
        t = [t[0] * r, t[1] * r + t[0] * ra, t[2] * r + t[0] * rb, t[3] * r + t[0] * rc]
        k += 1.0
        for i in range(4):
            s[i] += t[i]
        size += abs(t[0])
        bound = max(abs(r), abs(z))
        if k > k_min and bound < 1.0:
            tol = 0.25 * EPS * (1.0 - bound)
            small = all(abs(t[i]) <= tol * abs(s[i]) for i in range(4))
            quiet = quiet + 1 if small else 0
            if quiet >= 2:
                return s, size / abs(s[0]) if s[0] else INF
    return list(NAN_JET), INF


def _taylor_step(a: float, b: float, c: float, y: float, h: float,
                 state: list[float]) -> list[float]:
    """The 4 solutions (u, u_a, u_b, u_c) and their z-derivatives at z = 1 - y + h from
    their values at z = 1 - y (`state`: u, u', u_a, u_a', u_b, u_b', u_c, u_c'), by the
    Taylor series of the equations (scaled coefficients F_n = f_n h**n)."""
    p0, p1 = (1.0 - y) * y, 2.0 * y - 1.0  # z(1-z) = p0 + p1 t - t**2, t = z - z0
    q0, q1 = c - (a + b + 1.0) * (1.0 - y), -(a + b + 1.0)
    ab = a * b
    z0 = 1.0 - y
    coef = [[state[2 * i], state[2 * i + 1] * h] for i in range(4)]
    value = [coef[i][0] + coef[i][1] for i in range(4)]
    slope = [coef[i][1] for i in range(4)]
    size = [abs(coef[i][0]) + 2.0 * abs(coef[i][1]) for i in range(4)]
    n = 0
    while n < MAX_TAYLOR:
        fn = float(n)
        lead = p0 * (fn + 2.0) * (fn + 1.0)
        mid = (p1 * (fn + 1.0) * fn + q0 * (fn + 1.0)) * h
        low = (-(fn * (fn - 1.0)) + q1 * fn - ab) * h * h
        u1, u0 = coef[0][n + 1], coef[0][n]
        rhs = [0.0,
               z0 * (fn + 1.0) * h * u1 + (fn + b) * h * h * u0,
               z0 * (fn + 1.0) * h * u1 + (fn + a) * h * h * u0,
               -(fn + 1.0) * h * u1]
        done = n > 2
        for i in range(4):
            nxt = (rhs[i] - mid * coef[i][n + 1] - low * coef[i][n]) / lead
            coef[i].append(nxt)
            value[i] += nxt
            slope[i] += (fn + 2.0) * nxt
            size[i] += (fn + 3.0) * abs(nxt)
            tail = (fn + 3.0) * (abs(nxt) + abs(coef[i][n + 1]))
            done = done and tail <= 0.1 * EPS * size[i]
        n += 1
        if done:
            break
    else:
        return [NAN] * 8
    return [v for i in range(4) for v in (value[i], slope[i] / h)]


def march(a: float, b: float, c: float, y: float) -> tuple[list[float], float]:
    """The jet at z = 1 - y, 0 < y < 0.5, by Taylor steps from z = 0.5, and the
    condition of the series there."""
    z0 = GRAD_SERIES_UP_TO
    u, cond = series_jet(a, b, c, z0)
    g, _ = series_jet(a + 1.0, b + 1.0, c + 1.0, z0)  # u' = ab/c 2F1(a+1, b+1; c+1; z)
    k = a * b / c
    du = [k * g[0], b / c * g[0] + k * g[1], a / c * g[0] + k * g[2], -k / c * g[0] + k * g[3]]
    state = [v for i in range(4) for v in (u[i], du[i])]
    at = 1.0 - z0
    while at > y:
        h = at - y if at - y <= 0.5 * at else 0.5 * at
        state = _taylor_step(a, b, c, at, h, state)
        if state[0] != state[0]:
            return list(NAN_JET), cond
        at = y if h == at - y else at - h
    return state[0::2], cond


def _gamma_ratio(p: float, q: float, r: float, s: float) -> float:
    """Gamma(p) Gamma(q) / (Gamma(r) Gamma(s)); 0 when r or s is a pole."""
    if _non_positive_integer(r) or _non_positive_integer(s):
        return 0.0
    if max(abs(p), abs(q), abs(r), abs(s)) < 170.0:
        return gamma(p) / gamma(r) * (gamma(q) / gamma(s))
    sign = 1.0
    for x in (p, q, r, s):
        if x < 0 and floor(x) % 2:
            sign = -sign
    return sign * c_exp(lgamma(p) + lgamma(q) - lgamma(r) - lgamma(s))


def _near_one(a: float, b: float, c: float, y: float) -> tuple[float, float]:
    """2F1 at z = 1 - y for y < 0.1 by the series in y (DLMF 15.8.4; the excess
    c - a - b is not near an integer), and its condition."""
    s = c - a - b
    first = second = 0.0
    cond1 = cond2 = 1.0
    ratio = _gamma_ratio(c, s, c - a, c - b)
    if ratio != 0.0:
        value, cond1 = _series(a, b, 1.0 - s, y)
        first = ratio * value
    ratio = _gamma_ratio(c, -s, a, b)
    if ratio != 0.0:
        value, cond2 = _series(c - a, c - b, 1.0 + s, y)
        second = ratio * c_pow(y, s) * value
    total = first + second
    size = abs(first) * cond1 + abs(second) * cond2
    return total, size / abs(total) if total else INF


def _integer_excess(a: float, b: float, m: int, y: float) -> tuple[float, float]:
    """2F1(a, b; a + b + m; 1 - y) for an integer m >= 0 and y < 0.1, by the series in
    y with logarithms (DLMF 15.8.10), and its condition."""
    c = a + b + m
    finite = 0.0
    size = 0.0
    ratio = _gamma_ratio(float(m), c, a + m, b + m) if m > 0 else 0.0
    if ratio != 0.0:
        term = 1.0
        for k in range(m):  # sum_k<m (a)_k (b)_k / (k! (1 - m)_k) y**k
            finite += term
            size += abs(term)
            if k + 1 < m:
                term *= (a + k) * (b + k) / ((k + 1.0) * (k + 1.0 - m)) * y
        finite *= ratio
        size *= abs(ratio)
    ratio = _gamma_ratio(c, 1.0, a, b)
    if ratio == 0.0:
        return finite, size / abs(finite) if finite else INF
    log_y = c_log(y)
    psi_1 = digamma(1.0)
    psi_m = digamma(m + 1.0)
    psi_a, psi_b = digamma(a + m), digamma(b + m)
    term = 1.0 / gamma(m + 1.0)  # (a+m)_n (b+m)_n / (n! (n+m)!) y**n
    total = lost = 0.0
    series_size = 0.0
    n = 0
    while n < MAX_TERMS:
        part = term * (log_y - psi_1 - psi_m + psi_a + psi_b)
        new = total + part
        lost += (total - new) + part if abs(total) >= abs(part) else (part - new) + total
        total = new
        series_size += abs(part)
        if abs(part) <= 0.5 * EPS * abs(total + lost) and n > 2:
            break
        psi_1 += 1.0 / (n + 1.0)
        psi_m += 1.0 / (n + m + 1.0)
        psi_a += 1.0 / (a + m + n)
        psi_b += 1.0 / (b + m + n)
        term *= (a + m + n) * (b + m + n) / ((n + 1.0) * (n + m + 1.0)) * y
        n += 1
    else:
        return NAN, INF
    scale = -ratio * (-1.0) ** m * c_pow(y, float(m))
    value = finite + scale * (total + lost)
    size += abs(scale) * series_size
    return value, size / abs(value) if value else INF

def _positive(a: float, b: float, c: float, z: float, y: float) -> tuple[float, float]:
    """2F1 and its condition for 0 <= z < 1, with y = 1 - z (given exactly)."""
    if z <= SERIES_UP_TO or _non_positive_integer(a) or _non_positive_integer(b):
        return _series(a, b, c, z)
    s = c - a - b
    if abs(s - floor(s + 0.5)) >= NEAR_INTEGER:
        return _near_one(a, b, c, y)
    m = floor(s + 0.5)
    if abs(s - m) <= INTEGER_EXCESS and abs(m) <= MAX_EXCESS:
        # Euler's transformation makes the excess >= 0
        if m >= 0:
            return _integer_excess(a, b, int(m), y)
        value, cond = _integer_excess(c - a, c - b, int(-m), y)
        return c_pow(y, m) * value, cond
    if z <= SERIES_LIMIT:
        return _series(a, b, c, z)
    jet, cond = march(a, b, c, y)  # the hypergeometric equation, by Taylor steps
    return jet[0], cond


def _pfaff(a: float, b: float, c: float, z: float) -> tuple[float, float]:
    """(1 - z)**-a 2F1(a, c - b; c; z / (z - 1)) for z < 0, and its condition."""
    value, cond = _positive(a, c - b, c, z / (z - 1.0), 1.0 / (1.0 - z))
    return c_pow(1.0 - z, -a) * value, cond


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    if a != a or b != b or c != c or z != z or math.isinf(a) or math.isinf(b):
        return NAN
    if math.isinf(c) or math.isinf(z) or z > 1.0 or _non_positive_integer(c):
        return NAN
    if z == 0.0 or a == 0.0 or b == 0.0:
        return 1.0
    if z == 1.0:
        if _non_positive_integer(a) or _non_positive_integer(b):
            return _series(a, b, c, 1.0)[0]
        return _gamma_ratio(c, c - a - b, c - a, c - b) if c - a - b > 0 else NAN
    if z > 0.0:
        return _positive(a, b, c, z, 1.0 - z)[0]
    # z < 0: the direct series (|z| <= 0.9) or one of Pfaff's two transformations,
    # whichever loses the fewest digits to cancellation
    # (a polynomial's finite sum at any z; ties go to the direct series)
    polynomial = _non_positive_integer(a) or _non_positive_integer(b)
    if polynomial and z >= -1.0:
        return _series(a, b, c, z)[0]
    direct = z >= -SERIES_UP_TO or polynomial
    best, best_cond = _series(a, b, c, z) if direct else (NAN, INF)
    for value, cond in (_pfaff(a, b, c, z), _pfaff(b, a, c, z)):
        if cond < best_cond:
            best, best_cond = value, cond
    return best
