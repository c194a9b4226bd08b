"""numpy twins of cgraph.tensor.special's table rows for tests/tensor/test_ops.py's
REFERENCE: scipy.special's functions, with cgraph's documented departures at the
domain edges (where scipy gives NaN for a limit that exists, or a value at a pole).

name -> (twin, domains); the dtypes are float64 and float32. Accuracy over the
domains, tails included, is tested in tests/tensor/test_special_functions.py.
"""

from __future__ import annotations

import numpy as np
import scipy.special as sp


def _pole(v: np.ndarray) -> np.ndarray:
    """Non-positive integers and -inf (C's floor(-inf) == -inf)."""
    return (v <= 0) & (np.floor(v) == v)


def _log1mexp(x):
    x = np.asarray(x)
    wide = x.astype(np.longdouble)
    with np.errstate(all="ignore"):
        out = np.where(wide > -0.5, np.log(-np.expm1(wide)), np.log1p(-np.exp(wide)))
    return out.astype(x.dtype)


def _betaln_edges(a, b, value, at_inf):
    """betaln/beta's values where an argument is NaN, infinite or a pole: NaN for NaN, inf
    at the poles, at_inf (the limit) where the larger argument is inf and the smaller > 0."""
    a, b = np.asarray(a), np.asarray(b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    out = np.where(_pole(lo) | _pole(hi), np.inf, value)
    out = np.where(np.isinf(hi) & ~_pole(lo), np.where(lo > 0, at_inf, np.nan), out)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, out).astype(value.dtype)


def _betaln(a, b):
    return _betaln_edges(a, b, sp.betaln(a, b), -np.inf)


def _beta(a, b):
    return _betaln_edges(a, b, sp.beta(a, b), 0.0)


def _i0(x):
    return np.where(np.isinf(x), np.inf, sp.i0(x)).astype(sp.i0(x).dtype)


def _i1(x):
    return np.where(np.isinf(x), x, sp.i1(x)).astype(sp.i1(x).dtype)


def _ive(v, x):
    out = sp.ive(v, x)
    whole = np.floor(v) == v
    limit = np.isinf(x) & np.isfinite(v) & ((x > 0) | whole)
    sign = np.where((x < 0) & (np.abs(np.fmod(v, 2)) == 1), -1.0, 1.0)
    return np.where(limit, sign * 0.0, out).astype(out.dtype)


def _polygamma(n, x):
    out = sp.polygamma(n, x)
    undefined = (np.isinf(n) & (n > 0)) | (x == -np.inf)  # scipy: inf
    return np.where(undefined, np.nan, out).astype(out.dtype)


def _tri_gamma(x):
    return _polygamma(np.ones_like(x), x)


def _inverse(fn):
    def twin(a, p):
        out = fn(a, p)
        zero = (a == 0) & np.signbit(a) & ~((p >= 0) & (p <= 1))  # scipy: 0 for a = -0.0
        return np.where(zero, np.nan, out).astype(out.dtype)
    return twin


def _hyp2f1(a, b, c, z):
    """scipy's hyp2f1, NaN outside cgraph's domain: z > 1, c a non-positive integer, an
    infinite argument, z = 1 with c - a - b <= 0 (unless a or b is a non-positive integer);
    1 at z = 0 and where a or b is 0."""
    a, b, c, z = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in (a, b, c, z)])
    with np.errstate(all="ignore"):
        out = sp.hyp2f1(a, b, c, z)
    poly = _pole(a) & np.isfinite(a) | _pole(b) & np.isfinite(b)
    outside = (z > 1) | _pole(c) | np.isinf(a) | np.isinf(b) | np.isinf(c) | np.isinf(z)
    outside |= (z == 1) & (c - a - b <= 0) & ~poly
    out = np.where((z == 0) | (a == 0) | (b == 0), 1.0, out)
    return np.where(outside | np.isnan(a + b + c + z), np.nan, out)


def _in_double(fn):
    """fn computed in float64, the result in the inputs' float type (scipy's float32
    loops are less accurate than cgraph's, which computes in double and rounds once)."""
    def twin(*args):
        args = [np.asarray(a) for a in args]
        dtype = np.result_type(*args)
        return np.asarray(fn(*[a.astype(np.float64) for a in args])).astype(dtype)
    return twin


_TWINS = {
    "logit": (sp.logit, ("prob",)),
    "log1mexp": (_log1mexp, ("negative",)),
    "logaddexp": (np.logaddexp, ("real", "real")),
    "xlogy": (sp.xlogy, ("real", "positive")),
    "xlog1py": (sp.xlog1py, ("real", "positive")),
    "gamma": (sp.gamma, ("real",)),
    "betaln": (_betaln, ("positive", "positive")),
    "beta": (_beta, ("positive", "positive")),
    "erfcx": (sp.erfcx, ("real",)),
    "erfinv": (sp.erfinv, ("unit",)),
    "erfcinv": (sp.erfcinv, ("prob",)),
    "i0": (_i0, ("real",)),
    "i1": (_i1, ("real",)),
    "ive": (_ive, ("positive", "positive")),
    "polygamma": (_polygamma, ("order", "positive")),
    "tri_gamma": (_tri_gamma, ("real",)),
    "gammainc": (sp.gammainc, ("positive", "positive")),
    "gammaincc": (sp.gammaincc, ("positive", "positive")),
    "gammaincinv": (_inverse(sp.gammaincinv), ("positive", "prob")),
    "gammainccinv": (_inverse(sp.gammainccinv), ("positive", "prob")),
    "betainc": (sp.betainc, ("positive", "positive", "prob")),
    "owens_t": (sp.owens_t, ("real", "real")),
    "hyp2f1": (_hyp2f1, ("base", "exponent", "positive", "unit")),
}
SPECIAL_TWINS = {name: (_in_double(fn), domains) for name, (fn, domains) in _TWINS.items()}
