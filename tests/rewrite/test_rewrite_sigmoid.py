"""The logistic function written by hand (`1 / (1 + exp(-z))` and its spellings) is
recognized as sigmoid, so that the stable forms of log(sigmoid) and log(1 - sigmoid)
apply (Theano's logistic-regression tutorial, deep in saturation, trains with a finite
cost equal to a stable numpy reference: tests/programs/test_tutorial_logreg.py)."""

from __future__ import annotations

import numpy as np
import pytest
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
