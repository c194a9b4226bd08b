"""Gradients of the hand-written sigmoid stay finite for any |z| in mode C (Theano's
stabilized sigmoid): exp(u) * sigmoid(-u) -> sigmoid(u) among a product's factors,
quotients cancelled against other factors, and products distributed over a sum when
that cancels a factor."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.rewrite.products import same

SPELLINGS = {
    "1/(1+exp(-z))": lambda z: 1 / (1 + T.exp(-z)),
    "1/(exp(-z)+1)": lambda z: 1 / (T.exp(-z) + 1),
    "reciprocal(1+exp(-z))": lambda z: T.reciprocal(1 + T.exp(-z)),
    "(1+exp(-z))**-1": lambda z: (1 + T.exp(-z)) ** -1,
}

Z = np.array([-1000.0, -800.0, -710.0, -400.0, -355.0, -40.0, -1.5, 0.0, 0.7, 40.0, 355.0,
              400.0, 710.0, 800.0, 1000.0])


def stable_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_gradient_of_the_hand_written_sigmoid_is_finite(spelling):
    z = T.dvector("z")
    p = SPELLINGS[spelling](z)
    f = cgraph.function([z], [p, cgraph.grad(p.sum(), z)])
    value, grad = f(Z)
    np.testing.assert_allclose(value, stable_sigmoid(Z), rtol=1e-15, atol=0)
    want = stable_sigmoid(Z) * stable_sigmoid(-Z)  # p * (1 - p), without cancellation
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_logistic_regression_cost_gradient_is_finite(spelling):
    """Theano's tutorial: -y * log(p) - (1 - y) * log(1 - p); d cost / dz = p - y."""
    z, y = T.dvector("z"), T.dvector("y")
    p = SPELLINGS[spelling](z)
    cost = (-y * T.log(p) - (1 - y) * T.log(1 - p)).sum()
    f = cgraph.function([z, y], [cost, cgraph.grad(cost, z)])
    labels = (rng_for("labels", spelling).random(Z.size) < 0.5).astype(float)
    value, grad = f(Z, labels)
    # log(1 + exp(-|z|)) + max(z, 0) - y * z: the cost written stably
    want_cost = np.sum(np.log1p(np.exp(-np.abs(Z))) + np.maximum(Z, 0) - labels * Z)
    np.testing.assert_allclose(value, want_cost, rtol=1e-13)
    # p - y, as 1 - p = sigmoid(-z) where y = 1 (no cancellation either)
    want = np.where(labels == 1, -stable_sigmoid(-Z), stable_sigmoid(Z))
    np.testing.assert_allclose(grad, want, rtol=1e-13, atol=0)


def test_the_rewrites_keep_values_and_gradients_at_moderate_points():
    rng = rng_for("sigmoid moderate")
    weights = rng.normal(size=4)

    def cost(w, x):
        p = 1 / (1 + T.exp(-T.dot(x, w)))
        return (p * (1 - p) * (p + 2)).sum() + T.log(p).sum() * 0.5

    verify_grad(cost, [weights, rng.normal(size=(6, 4))], rng=rng, mode="C")


def test_a_product_times_a_sum_is_distributed_only_when_a_factor_cancels():
    a, b, c, d = T.dvectors("a", "b", "c", "d")
    out = (a / c + b) * d  # nothing cancels: the product stays as written
    f = cgraph.function([a, b, c, d], out)
    names = [str(node.op) for node in f._lowered.nodes]
    assert any("true_div" in name for name in names)
    values = [rng_for("distribute", k).normal(size=3) for k in range(4)]
    np.testing.assert_allclose(f(*values), (values[0] / values[2] + values[1]) * values[3],
                               rtol=1e-15)
    cancels = cgraph.function([a, b, c, d], (a / c + b / d) * c * d)
    assert not any("true_div" in str(node.op) for node in cancels._lowered.nodes)
    np.testing.assert_allclose(cancels(*values), values[0] * values[3] + values[1] * values[2],
                               rtol=1e-14)


def test_same_compares_what_is_written():
    x = T.dvector("x")
    assert same(T.exp(-x), T.exp(-x))
    assert not same(T.exp(-x), T.exp(x))
    assert same(T.as_tensor_variable(2.0), T.as_tensor_variable(2.0))
