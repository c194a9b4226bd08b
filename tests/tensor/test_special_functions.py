"""cgraph.tensor.special's functions against scipy.special, in modes C and PY.

Grids cover each function's domain including its tails and edges; float64 results
must agree with scipy to 1e-13 relative (where scipy is itself that accurate: a
reference from numpy's 80-bit long double where scipy has no such function). float32
inputs give float32 results at float32 tolerance. Gradients go through verify_grad (all
ops in one compiled module: helpers.verify_grad_cases).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.special as sp
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import special

mp = pytest.importorskip("mpmath")

RTOL = 1e-13
LD = np.longdouble
mp.mp.dps = 40


@functools.cache
def compiled(name: str, nin: int, dtype: str = "float64") -> dict:
    """special.<name> of `nin` vectors, compiled in each mode."""
    xs = [T.vector(dtype=dtype) for _ in range(nin)]
    out = getattr(special, name)(*xs)
    return {mode: cgraph.function(xs, out, mode=mode) for mode in MODES}


def run(name: str, *args: np.ndarray, dtype: str = "float64") -> dict[str, np.ndarray]:
    args = np.broadcast_arrays(*[np.asarray(a, dtype=dtype) for a in args])
    fns = compiled(name, len(args), dtype)
    return {mode: fns[mode](*[np.ascontiguousarray(a) for a in args]) for mode in MODES}


def check(name: str, args: list, expected: np.ndarray, rtol: float = RTOL,
          atol: float = 0.0) -> None:
    """special.<name>(*args) == expected (NaN where NaN) in both modes."""
    expected = np.asarray(expected, dtype=np.float64)
    for mode, out in run(name, *args).items():
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=rtol,
                                   atol=atol, equal_nan=True, err_msg=f"{mode} {name}")


def arbitrate(name: str, args: list, expected: np.ndarray, fn, rtol: float = RTOL) -> np.ndarray:
    """`expected` (scipy's), with mpmath's `fn` where C's result and scipy's differ by
    more than rtol: scipy is the reference where it is that accurate, not in every tail."""
    expected = np.array(expected, dtype=np.float64)
    out = run(name, *args)["C"]
    with np.errstate(all="ignore"):
        off = ~np.isclose(out, expected, rtol=rtol, atol=1e-300, equal_nan=True)
    if off.any():
        expected[off] = exact(fn, *[np.broadcast_to(a, out.shape)[off] for a in args])
    return expected


def owens_t_exact(h, a):
    """Owen's T by mpmath's quadrature in u = atan(t), in pieces 1/(4h) wide."""
    h, a = abs(h), mp.sign(a) * abs(a)
    if h == 0 or a == 0:
        return mp.atan(a) / (2 * mp.pi)
    end = mp.atan(abs(a))
    cuts = sorted({mp.mpf(0), end, *[min(end, mp.mpf(k) / (4 * h)) for k in range(1, 200)]})
    inner = mp.quad(lambda u: mp.exp(-(h * mp.tan(u)) ** 2 / 2), cuts)
    return mp.sign(a) * mp.exp(-h * h / 2) * inner / (2 * mp.pi)


def pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (a_i, b_j) as two flat vectors."""
    aa, bb = np.meshgrid(np.asarray(a, float), np.asarray(b, float), indexing="ij")
    return aa.ravel(), bb.ravel()


def exact(fn, *args: np.ndarray) -> np.ndarray:
    """fn of mpmath numbers (40 digits) at every element, rounded to float64."""
    args = np.broadcast_arrays(*[np.asarray(a, float) for a in args])
    flat = [a.ravel() for a in args]
    out = [float(mp.re(fn(*[mp.mpf(float(v)) for v in vals])))
           for vals in zip(*flat, strict=True)]
    return np.array(out).reshape(args[0].shape)


SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5])


# --------------------------------------------------------------------------- logistic


def test_logit_and_expit():
    p = np.concatenate([np.geomspace(1e-300, 0.5, 400), 1 - np.geomspace(1e-16, 0.5, 200),
                        np.linspace(0.4, 0.6, 101), [0.0, 1.0, -0.5, 1.5, np.nan]])
    check("logit", [p], sp.logit(p))
    x = np.concatenate([np.linspace(-40, 40, 401), [-750.0, 750.0, np.inf, -np.inf, np.nan]])
    check("expit", [x], sp.expit(x))
    assert special.expit is T.sigmoid


def test_log1mexp():
    x = -np.concatenate([np.geomspace(1e-300, 1e3, 600), [0.0, np.log(2)]])
    x = np.concatenate([x, [1.0, np.nan, -np.inf]])
    with np.errstate(all="ignore"):
        xl = x.astype(LD)
        expected = np.where(xl > -0.5, np.log(-np.expm1(xl)), np.log1p(-np.exp(xl)))
    check("log1mexp", [x], expected.astype(np.float64))


def test_softplus_and_log1pexp():
    x = np.concatenate([np.linspace(-745, 745, 1001), np.geomspace(1e-300, 1.0, 100),
                        -np.geomspace(1e-300, 1.0, 100), [np.inf, -np.inf, np.nan]])
    check("softplus", [x], sp.softplus(x))
    check("log1pexp", [x], sp.softplus(x))
    assert T.softplus is special.softplus is special.log1pexp


def test_logaddexp():
    a, b = pairs(np.concatenate([np.linspace(-800, 800, 41), SPECIALS]),
                 np.concatenate([np.linspace(-30, 30, 31), SPECIALS]))
    with np.errstate(invalid="ignore"):
        check("logaddexp", [a, b], np.logaddexp(a, b))


@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_xlogy(name):
    a, b = pairs(np.concatenate([np.linspace(-5, 5, 21), SPECIALS]),
                 np.concatenate([np.geomspace(1e-300, 1e300, 41), np.linspace(-0.99, 3, 21),
                                 SPECIALS]))
    check(name, [a, b], getattr(sp, name)(a, b))


# --------------------------------------------------------------------------- gamma, beta


def test_gamma():
    x = np.concatenate([np.linspace(-170.5, 171.6, 3001), np.geomspace(1e-300, 1, 100),
                        -np.geomspace(1e-300, 0.9, 100), SPECIALS, [-3.0, -200.5, 180.0]])
    check("gamma", [x], sp.gamma(x), rtol=2e-15 * 100)


def test_betaln_and_beta():
    # scipy's betaln loses up to 1e-10 for large arguments: the reference is mpmath's
    grid = np.concatenate([np.geomspace(1e-200, 1e-3, 8), np.linspace(0.05, 30, 21),
                           np.geomspace(30, 1e15, 25)])
    a, b = pairs(grid, grid)
    expected = exact(lambda x, y: mp.log(mp.beta(x, y)), a, b)
    away_from_zero = np.abs(expected) > 1e-3  # relative accuracy is lost at B(a, b) = 1
    check("betaln", [a[away_from_zero], b[away_from_zero]], expected[away_from_zero])
    near = ~away_from_zero
    check("betaln", [a[near], b[near]], expected[near], atol=1e-15)
    small = a + b < 300
    check("beta", [a[small], b[small]], sp.beta(a[small], b[small]))
    a, b = pairs([-2.5, -0.5, 0.5, 1.5], [-1.5, 0.25, 3.5])
    check("betaln", [a, b], sp.betaln(a, b))
    check("beta", [a, b], sp.beta(a, b))


# --------------------------------------------------------------------------- error functions


def test_erfcx():
    x = np.concatenate([np.linspace(-26.6, 40, 3001), np.geomspace(1e-300, 1e300, 200),
                        -np.geomspace(1e-300, 26, 100), [-27.0, -np.inf, np.inf, np.nan]])
    check("erfcx", [x], sp.erfcx(x))


def test_erfinv_and_erfcinv():
    y = np.concatenate([np.linspace(-1, 1, 2001), 1 - np.geomspace(1e-16, 0.5, 300),
                        np.geomspace(1e-300, 0.5, 300), [-1.5, 2.0, np.nan, -0.0]])
    check("erfinv", [y], sp.erfinv(y))
    q = np.concatenate([np.linspace(0, 2, 2001), np.geomspace(1e-300, 0.5, 400),
                        2 - np.geomspace(1e-16, 0.5, 300), [-0.5, 2.5, np.nan]])
    check("erfcinv", [q], sp.erfcinv(q))
    check("erfcinv", [np.array([5e-324])], 27.213293210812949)  # scipy: inf
    y = np.linspace(-0.999, 0.999, 51)  # round trips
    np.testing.assert_allclose(run("erfinv", y)["C"], sp.erfinv(y), rtol=RTOL)


# --------------------------------------------------------------------------- Bessel


def test_i0_i1():
    x = np.concatenate([np.linspace(-713, 713, 4001), np.geomspace(1e-300, 25, 300),
                        -np.geomspace(1e-300, 25, 100), [np.inf, -np.inf, np.nan, 0.0]])
    with np.errstate(over="ignore"):
        for name in ("i0", "i1"):
            expected = getattr(sp, name)(x)
            expected[np.isinf(x)] = {"i0": np.inf, "i1": x[np.isinf(x)]}[name]  # scipy: NaN
            check(name, [x], expected)


def test_ive():
    v = np.concatenate([np.linspace(-5.5, 60, 27), [0, 1, 2, 100.5, 300, -3]])
    x = np.concatenate([np.linspace(0, 800, 201), np.geomspace(1e-10, 1e4, 101),
                        -np.linspace(0.5, 50, 5)])
    a, b = pairs(v, x)
    expected = sp.ive(a, b)
    small = (((b >= 0) & (b < 1) & (a > 20)) | (a >= 100)) & ((b >= 0) | (a == np.round(a)))
    expected[small] = exact(lambda n, t: mp.besseli(n, t) * mp.exp(-abs(t)), a[small], b[small])
    # past x = 700, where Hankel's expansion does not converge, the scaled series has
    # the rounding of exp(log of its first term): about 1e-12
    loose = (b > 700) & (a * a >= 2 * b)
    check("ive", [a[~loose], b[~loose]], expected[~loose], atol=1e-300)  # subnormals
    check("ive", [a[loose], b[loose]], expected[loose], rtol=2e-12, atol=1e-300)
    a, b = pairs([0.0, 1.5, -2.0, -2.5], [0.0, np.inf, -1.0, np.nan])
    check("ive", [a, b], np.where(np.isinf(b), 0.0, sp.ive(a, b)))  # scipy: NaN at inf


# --------------------------------------------------------------------------- polygamma


def test_polygamma():
    x = np.concatenate([np.linspace(-30.5, 50, 812), np.geomspace(1e-8, 1e8, 200),
                        np.linspace(1.3, 1.6, 101)])
    x = x[x != np.round(x)]
    for n in (0, 1, 2, 3, 5, 10, 20):
        # below 0 the sum's terms cancel for even n >= 2 (no reflection formula here)
        t = x if n < 2 else x[x > -3]
        expected = exact(lambda u: mp.psi(0, u), t) if n == 0 else sp.polygamma(n, t)
        check("polygamma", [np.full_like(t, n), t], expected)
    check("tri_gamma", [x], sp.polygamma(1, x))
    n, x = pairs([0, 1, 2, 1.5, -1, np.nan], [0.0, -0.0, -2.0, np.inf, 2.5, np.nan])
    expected = sp.polygamma(n, x)
    expected[(n == 1) & (x == -np.inf)] = np.nan
    check("polygamma", [n, x], expected)
    assert special.trigamma is special.tri_gamma


# --------------------------------------------------------------------------- incomplete gamma


def gamma_grid() -> tuple[np.ndarray, np.ndarray]:
    """(a, x) pairs: a fixed grid, x around a (where series and fractions are slowest),
    small a and x (where Q = 1 - P would cancel)."""
    rng = np.random.default_rng(18)
    a, x = pairs(np.concatenate([np.geomspace(1e-10, 0.29, 6), [0.3, 0.5, 1, 2.5, 9.9, 10, 30,
                                                                 100, 1e3, 1e4]]),
                 np.geomspace(1e-10, 1e3, 50))
    near = np.exp(rng.uniform(np.log(1e-3), np.log(1e5), 300))
    small = np.exp(rng.uniform(np.log(1e-8), np.log(0.5), 200))
    return (np.concatenate([a, near, small]),
            np.concatenate([x, near * np.exp(rng.normal(0, 0.3, 300)),
                            np.exp(rng.uniform(np.log(1e-6), np.log(3), 200))]))


@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_gammainc(name):
    a, x = gamma_grid()
    upper = name == "gammaincc"
    def exact_value(u, v):
        lower, upper_bound = (v, mp.inf) if upper else (0, v)
        try:
            return mp.gammainc(u, lower, upper_bound, regularized=True)
        except mp.libmp.NoConvergence:  # large a: the density's integral instead
            steps = [0, *(2.0 ** k for k in range(-2, 14))]
            cuts = [v + d for d in steps] + [mp.inf] if upper else sorted(
                {max(0, v - d) for d in steps})
            return mp.quad(lambda t: mp.exp((u - 1) * mp.log(t) - t - mp.loggamma(u)), cuts)

    expected = arbitrate(name, [a, x], getattr(sp, name)(a, x), exact_value)
    # in the tails the rounding of the exponent (abs(log result) * 2e-16) is the error:
    # up to 4e-13 at 1e-280
    deep = expected < 1e-100
    check(name, [a[~deep], x[~deep]], expected[~deep])
    check(name, [a[deep], x[deep]], expected[deep], rtol=1e-12, atol=1e-300)
    a, x = pairs([0.0, 1e-3, 2.5, np.inf, -1.0, np.nan], [0.0, 1.0, np.inf, -1.0, np.nan])
    check(name, [a, x], getattr(sp, name)(a, x))


@pytest.mark.parametrize("name", ["gammaincinv", "gammainccinv"])
def test_gammainc_inverses(name):
    rng = np.random.default_rng(7)
    a = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), 300))
    p = np.exp(rng.uniform(np.log(1e-200), np.log(1), 300))
    p = np.concatenate([p, 1 - p[:50] * 0.5])
    a = np.concatenate([a, a[:50]])
    expected = getattr(sp, name)(a, p)
    # x = exp(log(p Gamma(a + 1)) / a) for small x: the exponent's rounding again
    deep = (expected < 1e-100) | (p < 1e-100)
    check(name, [a[~deep], p[~deep]], expected[~deep])
    check(name, [a[deep], p[deep]], expected[deep], rtol=5e-13, atol=1e-300)
    a, p = pairs([1e-3, 2.5, 40.0, -1.0, np.nan], [0.0, 1.0, 0.5, 1.5, np.nan])
    check(name, [a, p], getattr(sp, name)(a, p), rtol=1e-12)  # x = 5e-302 at a = 1e-3
    back = {"gammaincinv": "gammainc", "gammainccinv": "gammaincc"}[name]
    a, p = np.array([0.5, 3.0, 1e3]), np.array([0.1, 0.5, 0.99])
    np.testing.assert_allclose(run(back, a, run(name, a, p)["C"])["C"], p, rtol=1e-13)


def test_betainc():
    rng = np.random.default_rng(9)
    a = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), 400))
    b = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), 400))
    x = np.concatenate([rng.uniform(0, 1, 300), np.geomspace(1e-10, 0.5, 100)])
    expected = sp.betainc(a, b, x)
    deep = expected < 1e-15  # as for gammainc
    check("betainc", [a[~deep], b[~deep], x[~deep]], expected[~deep])
    check("betainc", [a[deep], b[deep], x[deep]], expected[deep], rtol=1e-12, atol=1e-300)
    # a small b: 1 - I_(1-x)(b, a) would cancel
    check("betainc", [np.array([1.62, 0.5, 10.0]), np.array([0.004, 0.001, 0.001]),
                      np.array([0.757, 0.99, 0.9999])],
          exact(lambda *v: mp.betainc(v[0], v[1], 0, v[2], regularized=True),
                [1.62, 0.5, 10.0], [0.004, 0.001, 0.001], [0.757, 0.99, 0.9999]))
    a, b, x = (g.ravel() for g in np.meshgrid([0.0, 2.0, np.inf, np.nan], [0.0, 0.5, np.inf],
                                              [0.0, 0.5, 1.0, 1.5]))
    check("betainc", [a, b, x], sp.betainc(a, b, x))


def test_owens_t():
    h, a = pairs(np.concatenate([np.linspace(-20, 20, 41), [0.0, 1e-300, 38.0]]),
                 np.concatenate([np.linspace(-5, 5, 21), np.geomspace(1e-10, 1e10, 21)]))
    # scipy loses up to 1e-7 for small a and large h: mpmath's integral there
    expected = arbitrate("owens_t", [h, a], sp.owens_t(h, a), owens_t_exact)
    check("owens_t", [h, a], expected, atol=1e-300)
    check("owens_t", [np.array([25.0, 35.0]), np.array([30.0, 2.0])],
          [1.5283483531912805e-138, 5.624553532362031e-269])  # mpmath, 30 digits
    h, a = pairs(SPECIALS, SPECIALS)
    check("owens_t", [h, a], sp.owens_t(h, a))


# --------------------------------------------------------------------------- float32, grads


FLOAT32 = {
    "logit": [np.linspace(0.01, 0.99, 50)],
    "log1mexp": [-np.geomspace(1e-6, 50, 50)],
    "logaddexp": [np.linspace(-5, 5, 50), np.linspace(3, -2, 50)],
    "xlogy": [np.linspace(-5, 5, 50), np.linspace(0.1, 3, 50)],
    "xlog1py": [np.linspace(-5, 5, 50), np.linspace(-0.9, 3, 50)],
    "gamma": [np.linspace(-3.5, 30, 50)],
    "betaln": [np.linspace(0.1, 30, 50), np.linspace(2, 0.5, 50)],
    "beta": [np.linspace(0.1, 30, 50), np.linspace(2, 0.5, 50)],
    "erfcx": [np.linspace(-5, 50, 50)],
    "erfinv": [np.linspace(-0.999, 0.999, 50)],
    "erfcinv": [np.geomspace(1e-30, 1.99, 50)],
    "i0": [np.linspace(-50, 50, 50)],
    "i1": [np.linspace(-50, 50, 50)],
    "ive": [np.linspace(0, 20, 50), np.linspace(0.1, 100, 50)],
    "polygamma": [np.arange(50) % 4, np.linspace(0.1, 20, 50)],
    "tri_gamma": [np.linspace(-3.5, 20, 50)],
    "gammainc": [np.linspace(0.1, 30, 50), np.linspace(0.01, 40, 50)],
    "gammaincc": [np.linspace(0.1, 30, 50), np.linspace(0.01, 40, 50)],
    "gammaincinv": [np.linspace(0.1, 30, 50), np.linspace(0.01, 0.99, 50)],
    "gammainccinv": [np.linspace(0.1, 30, 50), np.linspace(0.01, 0.99, 50)],
    "betainc": [np.linspace(0.1, 30, 50), np.linspace(20, 0.5, 50), np.linspace(0, 1, 50)],
    "owens_t": [np.linspace(-5, 5, 50), np.linspace(-3, 8, 50)],
}


@pytest.fixture(scope="module")
def float32_results() -> dict[str, dict[str, np.ndarray]]:
    """mode -> name -> special.<name> of FLOAT32[name] in float32: one function per mode
    with an output per op (one compiled module, not one per op)."""
    names, xs, outs, vals = sorted(FLOAT32), [], [], []
    for name in names:
        args = np.broadcast_arrays(*[np.asarray(a, np.float32) for a in FLOAT32[name]])
        vs = [T.vector(dtype="float32") for _ in args]
        xs += vs
        outs.append(getattr(special, name)(*vs))
        vals += [np.ascontiguousarray(a) for a in args]
    return {mode: dict(zip(names, cgraph.function(xs, outs, mode=mode)(*vals)))
            for mode in MODES}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32(name, float32_results):
    args = [np.asarray(a, np.float32) for a in FLOAT32[name]]
    expected = run(name, *args)["C"]  # in float64 at the same (float32) points
    for mode, out in ((m, float32_results[m][name]) for m in MODES):
        assert out.dtype == np.float32, mode
        np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-6, err_msg=mode)


GRADS = {
    "logit": [np.array([0.1, 0.4, 0.8])],
    "log1mexp": [np.array([-3.0, -0.5, -0.01])],
    "logaddexp": [np.array([-1.0, 0.5, 3.0]), np.array([0.2, 0.5, -4.0])],
    "xlogy": [np.array([-1.0, 0.5, 3.0]), np.array([0.2, 0.5, 4.0])],
    "xlog1py": [np.array([-1.0, 0.5, 3.0]), np.array([-0.2, 0.5, 4.0])],
    "gamma": [np.array([-1.5, 0.5, 3.2])],
    "betaln": [np.array([0.5, 1.5, 30.0]), np.array([2.0, 0.7, 12.0])],
    "beta": [np.array([0.5, 1.5, 3.0]), np.array([2.0, 0.7, 1.2])],
    "erfcx": [np.array([-1.5, 0.3, 4.0, 30.0])],
    "erfinv": [np.array([-0.9, 0.2, 0.99])],
    "erfcinv": [np.array([0.05, 0.4, 1.9])],
    "i0": [np.array([-3.0, 0.0, 0.5, 4.0])],
    "i1": [np.array([-3.0, 0.0, 0.5, 4.0])],
    "tri_gamma": [np.array([-1.5, 0.5, 3.2])],
    "owens_t": [np.array([-1.5, 0.5, 3.2]), np.array([0.3, -2.0, 1.5])],
}


@pytest.mark.parametrize("mode", MODES)
def test_gradients(mode):
    verify_grad_cases({name: (getattr(special, name), GRADS[name]) for name in sorted(GRADS)},
                 mode)  # one compiled module for every op


#: ops with a parameter (first input) held constant: the gradient wrt the second.
PARAMETER_GRADS = {
    "gammainc": (np.array([0.5, 2.0, 30.0]), np.array([0.3, 2.5, 28.0])),
    "gammaincc": (np.array([0.5, 2.0, 30.0]), np.array([0.3, 2.5, 28.0])),
    "gammaincinv": (np.array([0.5, 2.0, 30.0]), np.array([0.3, 0.5, 0.8])),
    "gammainccinv": (np.array([0.5, 2.0, 30.0]), np.array([0.3, 0.5, 0.8])),
    "ive": (np.array([0.0, 1.0, 2.5]), np.array([0.5, -3.0, 30.0])),
    "polygamma": (np.array([0, 1, 3]), np.array([0.5, 2.0, 7.5])),
}


def test_betainc_gradient_in_b_is_not_implemented():
    """Its gradient in x is checked with the others' (test_gradients_with_constant_parameter)."""
    a = T.constant(np.array([0.5, 2.0, 30.0]))
    av, x = T.dvector("a"), T.dvector("x")
    with pytest.raises(NotImplementedError, match="betainc: the gradient with respect to b"):
        T.grad(T.sum(special.betainc(a, av, x)), [x])


@pytest.mark.parametrize("mode", MODES)
def test_gradients_with_constant_parameter(mode):
    cases = {}
    for name, (param, point) in sorted(PARAMETER_GRADS.items()):
        fn = getattr(special, name)
        cases[name] = (lambda x, fn=fn, param=param: fn(T.constant(param), x), [point])
        a, x = T.dvector("a"), T.dvector("x")
        with pytest.raises(NotImplementedError, match=f"{name}: the gradient with respect to"):
            T.grad(T.sum(fn(a, x)), [a, x])
    a, b = T.constant(np.array([0.5, 2.0, 30.0])), T.constant(np.array([3.0, 0.7, 20.0]))
    cases["betainc"] = (lambda x: special.betainc(a, b, x), [np.array([0.3, 0.6, 0.55])])
    verify_grad_cases(cases, mode)  # one compiled module for every op
