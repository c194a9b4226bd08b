"""Gradients of the hand-written sigmoid in its common spellings, of common costs, are
as accurate as those of T.nnet.sigmoid for every z in mode C: against an
extended-precision reference (np.longdouble) and the gradient of the built-in sigmoid.
Mode PY runs the graph as written (the oracle): numpy's overflow gives NaN or 0 there
for large |z|, and the same values as mode C where nothing overflows.

The rule tested here: a - a * sigmoid(u) -> a * sigmoid(-u) among the terms of a sum
(cgraph.rewrite.products.sigmoid_complement), which the gradient of exp(z) / (1 +
exp(z)) needs (its s * g - s * s * g rounds to 0 past z = 37)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.graph.basic import toposort
from cgraph.rewrite.products import sigmoid_complement, sum_terms

SPELLINGS = {
    "sigmoid": T.nnet.sigmoid,
    "1/(1+exp(-z))": lambda z: 1 / (1 + T.exp(-z)),
    "1/(exp(-z)+1)": lambda z: 1 / (T.exp(-z) + 1),
    "exp(z)/(1+exp(z))": lambda z: T.exp(z) / (1 + T.exp(z)),
    "1-1/(1+exp(z))": lambda z: 1 - 1 / (1 + T.exp(z)),
    "reciprocal(1+exp(-z))": lambda z: T.reciprocal(1 + T.exp(-z)),
}

# cost(p, y, w) and its derivative in p as a function of p, q = 1 - p, y and w
COSTS = {
    "sum": (lambda p, y, w: p.sum(), lambda p, q, y, w: 1 + 0 * p),
    "squares": (lambda p, y, w: (p ** 2).sum(), lambda p, q, y, w: 2 * p),
    "weighted": (lambda p, y, w: (p * w).sum(), lambda p, q, y, w: w),
    "log": (lambda p, y, w: T.log(p).sum(), lambda p, q, y, w: 1 / p),
    "log1m": (lambda p, y, w: T.log(1 - p).sum(), lambda p, q, y, w: -1 / q),
    "xent": (lambda p, y, w: (-y * T.log(p) - (1 - y) * T.log(1 - p)).sum(),
             lambda p, q, y, w: -y / p + (1 - y) / q),
    "variance": (lambda p, y, w: (p * (1 - p)).sum(), lambda p, q, y, w: q - p),
}

Z = np.array([-1000.0, -800.0, -710.0, -400.0, -355.0, -300.0, -40.0, -1.5, 0.0, 0.7, 37.5,
              40.0, 300.0, 355.0, 400.0, 710.0, 800.0, 1000.0])


def reference(cost: str, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d cost / dz = d cost / dp * p * (1 - p), in extended precision with 1 - p
    computed as sigmoid(-z) (no cancellation)."""
    z, y, w = (np.asarray(a, dtype=np.longdouble) for a in (z, y, w))
    p, q = 1 / (1 + np.exp(-z)), 1 / (1 + np.exp(z))
    return np.asarray(COSTS[cost][1](p, q, y, w) * p * q, dtype=np.float64)


def gradient(spelling: str, cost: str, mode: str):
    z, y, w = T.dvector("z"), T.dvector("y"), T.dvector("w")
    c = COSTS[cost][0](SPELLINGS[spelling](z), y, w)
    return cgraph.function([z, y, w], cgraph.grad(c, z), mode=mode,
                           on_unused_input="ignore")


def data(key: str) -> tuple[np.ndarray, np.ndarray]:
    rng = rng_for("complement", key)
    return (rng.random(Z.size) < 0.5).astype(float), rng.uniform(0.5, 2.0, Z.size)


@pytest.mark.parametrize("cost", sorted(COSTS))
def test_mode_c_gradients_match_extended_precision_and_the_builtin(cost):
    y, w = data(cost)
    want = reference(cost, Z, y, w)
    builtin = gradient("sigmoid", cost, "C")(Z, y, w)
    np.testing.assert_allclose(builtin, want, rtol=1e-14, atol=0)
    for spelling in sorted(SPELLINGS):
        got = gradient(spelling, cost, "C")(Z, y, w)
        assert np.isfinite(got).all(), spelling
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, err_msg=spelling)
        np.testing.assert_allclose(got, builtin, rtol=1e-14, atol=0, err_msg=spelling)


def test_mode_py_runs_the_graph_as_written():
    """The oracle evaluates exp(z) / (1 + exp(z)) as written: where nothing overflows
    it agrees with mode C; at z = 1000 exp overflows and numpy gives NaN."""
    y, w = data("py")
    moderate = np.abs(Z) < 30
    for cost in ("sum", "xent"):
        py = gradient("exp(z)/(1+exp(z))", cost, "PY")
        c = gradient("exp(z)/(1+exp(z))", cost, "C")
        with np.errstate(all="ignore"):
            got = py(Z, y, w)
        np.testing.assert_allclose(got[moderate], c(Z, y, w)[moderate], rtol=1e-12)
        assert np.isnan(got[Z == 1000.0]).all()


def test_the_rule_factors_a_complement_out_of_a_sum():
    a, b, u = T.dvector("a"), T.dvector("b"), T.dvector("u")
    s = T.nnet.sigmoid(u)
    for written in (a - a * s, -(s * a) + a, a * s - a, b + a - s * a, -(a * (b * s)) + b * a):
        out = sigmoid_complement(written.owner)
        assert out is not None, written
        ops = {str(n.op) for n in toposort([out])}
        assert "sub" not in ops and "sigmoid" in ops  # a product with sigmoid(-u)
        rng = rng_for("rule", str(written))
        f = cgraph.function([a, b, u], [written, out], mode="PY", on_unused_input="ignore")
        np.testing.assert_allclose(*f(*[rng.normal(size=4) for _ in range(3)]), rtol=1e-13)
    for untouched in (a + a * s, a - b * s, a - a * s * s, b - a):
        assert sigmoid_complement(untouched.owner) is None, untouched


def test_sum_terms_read_through_add_sub_and_neg():
    a, b, c = T.dvector("a"), T.dvector("b"), T.dvector("c")
    terms = sum_terms(a - (b - -c), "float64")
    assert [(t.name, minus) for t, minus in terms] == [("a", False), ("b", True),
                                                        ("c", True)]


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_gradient_of_the_quotient_spelling_at_moderate_points(mode):
    rng = rng_for("moderate quotient", mode)
    verify_grad(lambda z: (T.log(T.exp(z) / (1 + T.exp(z))) * T.arange(1.0, 6.0)).sum(),
                [rng.normal(size=5) * 3], rng=rng, mode=mode)
