"""The derivatives of 2F1(a, b; c; z) with respect to a, b and c in Python, the twin of
cg_hyp2f1_grad in csrc/cg_special_hyp.h for mode "PY" (same steps, same branch points).

A value with its three derivatives is a "jet" [F, dF/da, dF/db, dF/dc].

- z = 1: Gauss's sum Gamma(c) Gamma(c-a-b) / (Gamma(c-a) Gamma(c-b)) differentiated
  (digamma; 1/Gamma at its poles), where c - a - b > 0; NaN elsewhere.
- 0 <= z <= 0.5: the power series, each term differentiated by the product rule (so a
  or b at a non-positive integer, where the value's series ends, keeps the infinite
  series of its derivative).
- 0.5 < z < 1: the hypergeometric equation z(1-z)u'' + (c-(a+b+1)z)u' - ab u = 0 and
  the three equations its derivatives in a, b and c satisfy, solved together by Taylor
  steps (each half the distance to z = 1) from the series' values at z = 0.5. This
  needs no case of c - a - b (an integer excess included) and loses few digits: the
  steps follow the solutions' own growth near z = 1, and the series at 0.5 cancels
  far less than at 0.9 for large a, b, c (where the value's own series is used).
- z < 0: the direct series (z >= -0.9) or one of Pfaff's transformations into (0, 1),
  whichever's series at min(w, 0.5) loses the fewest digits to cancellation.

The domain is the value's (cgraph/tensor/special_hyp.py): NaN for z > 1, c a
non-positive integer, NaN or infinite arguments.
"""

from __future__ import annotations

import math

from cgraph.tensor.special_bessel import digamma
from cgraph.tensor.special_hyp import MAX_TERMS, SERIES_UP_TO, _non_positive_integer
from cgraph.tensor.special_scalar import EPS, INF, NAN, c_log, c_pow, gamma

MAX_TAYLOR = 2000  # terms of one Taylor step (each step's terms fall like 2**-n)
GRAD_SERIES_UP_TO = 0.5  # the series alone up to this z; Taylor steps above
NAN_JET = [NAN, NAN, NAN, NAN]


def _series(a: float, b: float, c: float, z: float) -> tuple[list[float], float]:
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


def _march(a: float, b: float, c: float, y: float) -> tuple[list[float], float]:
    """The jet at z = 1 - y, 0 < y < 0.5, by Taylor steps from z = 0.5, and the
    condition of the series there."""
    z0 = GRAD_SERIES_UP_TO
    u, cond = _series(a, b, c, z0)
    g, _ = _series(a + 1.0, b + 1.0, c + 1.0, z0)  # u' = ab/c 2F1(a+1, b+1; c+1; z)
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


def _positive(a: float, b: float, c: float, z: float, y: float) -> tuple[list[float], float]:
    """The jet for 0 <= z < 1 (y = 1 - z given exactly) and the value's condition."""
    if z <= GRAD_SERIES_UP_TO:
        return _series(a, b, c, z)
    return _march(a, b, c, y)


def _pfaff(a: float, b: float, c: float, z: float, swap: bool) -> tuple[list[float], float]:
    """(1 - z)**-a 2F1(a, c - b; c; z / (z - 1)) for z < 0 (a and b swapped when
    `swap`), its jet in the original a, b, c, and its condition."""
    if swap:
        a, b = b, a
    j, cond = _positive(a, c - b, c, z / (z - 1.0), 1.0 / (1.0 - z))
    p = c_pow(1.0 - z, -a)
    da, db, dc = p * (j[1] - c_log(1.0 - z) * j[0]), -p * j[2], p * (j[2] + j[3])
    if swap:
        da, db = db, da
    return [p * j[0], da, db, dc], cond


def _rgamma(x: float) -> tuple[float, float]:
    """1/Gamma(x) and its derivative (at a pole -n: 0 and (-1)**n n!)."""
    if _non_positive_integer(x):
        n = -x
        return 0.0, (-1.0 if n % 2 else 1.0) * gamma(n + 1.0)
    r = 1.0 / gamma(x)
    return r, -digamma(x) * r


def _gauss(a: float, b: float, c: float) -> list[float]:
    """The jet of Gauss's sum, 2F1 at z = 1, for c - a - b > 0 (NaN otherwise)."""
    s = c - a - b
    if not s > 0.0 or max(abs(c), abs(s), abs(c - a), abs(c - b)) >= 170.0:
        return list(NAN_JET)
    g = gamma(c) * gamma(s)
    ra, dra = _rgamma(c - a)
    rb, drb = _rgamma(c - b)
    psi_c, psi_s = digamma(c), digamma(s)
    v = g * ra * rb
    return [v, g * (-psi_s * ra * rb - dra * rb), g * (-psi_s * ra * rb - ra * drb),
            g * ((psi_c + psi_s) * ra * rb + dra * rb + ra * drb)]


def hyp2f1_jet(a: float, b: float, c: float, z: float) -> list[float]:
    """[2F1(a, b; c; z), its derivatives in a, b and c] (NaN outside the domain)."""
    if a != a or b != b or c != c or z != z or math.isinf(a) or math.isinf(b):
        return list(NAN_JET)
    if math.isinf(c) or math.isinf(z) or z > 1.0 or _non_positive_integer(c):
        return list(NAN_JET)
    if z == 0.0:
        return [1.0, 0.0, 0.0, 0.0]
    if z == 1.0:
        return _gauss(a, b, c)
    if z > 0.0:
        return _positive(a, b, c, z, 1.0 - z)[0]
    best, best_cond = _series(a, b, c, z) if z >= -SERIES_UP_TO else (NAN_JET, INF)
    for swap in (False, True):
        jet, cond = _pfaff(a, b, c, z, swap)
        if cond < best_cond:
            best, best_cond = jet, cond
    return list(best)


def hyp2f1_da(a: float, b: float, c: float, z: float) -> float:
    """d/da 2F1(a, b; c; z)."""
    return hyp2f1_jet(a, b, c, z)[1]


def hyp2f1_db(a: float, b: float, c: float, z: float) -> float:
    """d/db 2F1(a, b; c; z)."""
    return hyp2f1_jet(a, b, c, z)[2]


def hyp2f1_dc(a: float, b: float, c: float, z: float) -> float:
    """d/dc 2F1(a, b; c; z)."""
    return hyp2f1_jet(a, b, c, z)[3]
