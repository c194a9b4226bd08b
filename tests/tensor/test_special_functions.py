"""cgraph.tensor.special's functions against scipy.special, in modes C and PY.

Grids cover each function's domain including its tails and edges; float64 results
must agree with scipy to 1e-13 relative (where scipy is itself that accurate: a
reference from numpy's 80-bit long double where scipy has no such function). float32
inputs give float32 results at float32 tolerance. Gradients go through verify_grad.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.special as sp
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
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


def pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (a_i, b_j) as two flat vectors."""
    aa, bb = np.meshgrid(np.asarray(a, float), np.asarray(b, float), indexing="ij")
    return aa.ravel(), bb.ravel()


def exact(fn, *args: np.ndarray) -> np.ndarray:
    """fn of mpmath numbers (40 digits) at every element, rounded to float64."""
    args = np.broadcast_arrays(*[np.asarray(a, float) for a in args])
    flat = [a.ravel() for a in args]
    out = [float(fn(*[mp.mpf(float(v)) for v in vals])) for vals in zip(*flat, strict=True)]
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
}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32(name):
    args = [np.asarray(a, np.float32) for a in FLOAT32[name]]
    expected = run(name, *args)["C"]  # in float64 at the same (float32) points
    for mode, out in run(name, *args, dtype="float32").items():
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
}


@pytest.mark.parametrize("name", sorted(GRADS))
@pytest.mark.parametrize("mode", MODES)
def test_gradients(name, mode):
    verify_grad(getattr(special, name), GRADS[name], mode=mode)
