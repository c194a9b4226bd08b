"""The logistic function written by hand (`1 / (1 + exp(-z))` and its spellings) is
recognized as sigmoid, so that the stable forms of log(sigmoid) and log(1 - sigmoid)
apply: Theano's logistic-regression tutorial, deep in saturation, trains with a finite
cost equal to a stable numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES
from test_rewrite import ops, rewritten

import cgraph
import cgraph.tensor as T


def _stable_sigmoid(z):
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))),
                    np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


@pytest.mark.parametrize("spelling", ["div", "inv", "pow", "exp_ratio"])
def test_hand_written_sigmoid_becomes_sigmoid(spelling):
    z = T.dvector("z")
    forms = {"div": lambda: 1 / (1 + T.exp(-z)),
             "inv": lambda: T.inv(1 + T.exp(-z)),
             "pow": lambda: (1 + T.exp(-z)) ** -1,
             "exp_ratio": lambda: T.exp(z) / (1 + T.exp(z))}
    p = forms[spelling]()
    assert ops(rewritten([z], [p])) == ["sigmoid"]
    f = cgraph.function([z], p)
    values = np.array([-800.0, -40.0, -1.5, 0.0, 2.0, 40.0, 800.0])
    np.testing.assert_allclose(f(values), _stable_sigmoid(values), rtol=1e-15, atol=0)


def test_log_of_one_minus_hand_written_sigmoid_is_softplus():
    z = T.dvector("z")
    p = 1 / (1 + T.exp(-z))
    out = [T.log(p), T.log(1 - p), 1 - p]
    graph_ops = ops(rewritten([z], out))
    assert "log" not in graph_ops and "exp" not in graph_ops and "softplus" in graph_ops
    values = np.array([-800.0, -40.0, -1.5, 0.0, 2.0, 40.0, 800.0])
    got = cgraph.function([z], out)(values)
    np.testing.assert_allclose(got[0], -_softplus(-values), rtol=1e-15)
    np.testing.assert_allclose(got[1], -_softplus(values), rtol=1e-15)
    np.testing.assert_allclose(got[2], _stable_sigmoid(-values), rtol=1e-15)


def test_other_numerator_over_one_plus_exp_is_a_product():
    z, a = T.dvector("z"), T.dvector("a")
    out = a / (1 + T.exp(z))
    assert sorted(ops(rewritten([a, z], [out]))) == ["mul", "neg", "sigmoid"]
    av, zv = np.array([1.0, -2.0, 3.0]), np.array([-3.0, 0.5, 900.0])
    np.testing.assert_allclose(cgraph.function([a, z], out)(av, zv),
                               av * _stable_sigmoid(-zv), rtol=1e-15)


def _tutorial_reference(x, y, w, b, steps, lr=0.1):
    """Theano's tutorial step computed stably in numpy: the (prediction, xent.mean())
    of each step, and the final w, b."""
    results = []
    for _ in range(steps):
        z = x @ w + b
        xent = y * _softplus(-z) + (1 - y) * _softplus(z)
        results.append((_stable_sigmoid(z) > 0.5, xent.mean()))
        gz = (_stable_sigmoid(z) - y) / len(y)
        w, b = w - lr * (x.T @ gz + 0.02 * w), b - lr * gz.sum()
    return results, w, b


@pytest.mark.parametrize("mode", MODES)
def test_logistic_regression_tutorial_trains_in_saturation(mode):
    rng = np.random.RandomState(42)
    N, feats = 400, 784
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    w0 = rng.randn(feats)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = cgraph.shared(w0.copy(), name="w")
    b = cgraph.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = cgraph.function([x, y], [prediction, xent.mean()], mode=mode,
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    want, w_end, b_end = _tutorial_reference(D[0], D[1].astype(float), w0, 0.0, steps=5)
    assert np.abs(D[0] @ w0).max() > 40  # saturated: 1 - p_1 rounds to 0 in float64
    for pred_want, err_want in want:
        pred, err = train(D[0], D[1])
        assert np.isfinite(err)
        np.testing.assert_array_equal(pred, pred_want)
        np.testing.assert_allclose(err, err_want, rtol=1e-10)
    np.testing.assert_allclose(w.get_value(), w_end, rtol=1e-10)
    np.testing.assert_allclose(b.get_value(), b_end, rtol=1e-10, atol=1e-12)
