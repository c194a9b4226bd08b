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
from cgraph.tensor.special_hyp import (
    GRAD_SERIES_UP_TO,
    NAN_JET,
    SERIES_UP_TO,
    _non_positive_integer,
    march,
    series_jet,
)
from cgraph.tensor.special_scalar import INF, c_log, c_pow, gamma


def _positive(a: float, b: float, c: float, z: float, y: float) -> tuple[list[float], float]:
    """The jet for 0 <= z < 1 (y = 1 - z given exactly) and the value's condition."""
    if z <= GRAD_SERIES_UP_TO:
        return series_jet(a, b, c, z)
    return march(a, b, c, y)


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
    best, best_cond = series_jet(a, b, c, z) if z >= -SERIES_UP_TO else (NAN_JET, INF)
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
