"""sigmoid(z) and sigmoid(-z) computed from one exp(-|z|) (`rewrite/sigmoid_exps.py`)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import reference

import cgraph
import cgraph.tensor as T
from cgraph.tensor import nnet
from cgraph.tensor.sigmoid_parts import exp_neg_abs, sigmoid_given

EDGES = [-800, -40, -3, -1e-300, -0.0, 0.0, 1e-300, 2.5, 37, 40, 800, np.inf, -np.inf, np.nan]


def scalar_ops(f: cgraph.Function) -> list[str]:
    """The scalar ops of the rewritten graph, fused or not."""
    names = []
    for node in f.fgraph.toposort():
        comp = getattr(node.op, "scalar_op", None)
        steps = getattr(comp, "steps", None)
        names += [str(s.op.name) for s in steps] if steps else [getattr(comp, "name", "")]
    return names


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_both_signs_share_one_exponential_and_equal_sigmoid(dtype):
    z = T.vector("z", dtype=dtype)
    outs = [nnet.sigmoid(z), nnet.sigmoid(-z), nnet.sigmoid(z) * (1 - nnet.sigmoid(z))]
    f = cgraph.function([z], outs)
    ops = scalar_ops(f)
    assert ops.count("exp_neg_abs") == 1 and "sigmoid" not in ops
    assert f.rewrites["sigmoid_exps"] == {"shared_sigmoid_exps": 1}
    v = np.asarray(EDGES, dtype=dtype)
    tol = 4e-15 if dtype == "float64" else 1e-6  # libmvec's exp is within a few ulp
    wide = v.astype(np.longdouble)
    e = np.exp(-np.abs(wide))
    exact = e / (1 + e) ** 2  # s * (1 - s), which the unrewritten graph rounds to 0
    wanted = [*reference([z], outs[:2])(v), exact.astype(dtype)]
    for got, want in zip(f(v), wanted):
        assert got.dtype == want.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=0)


def test_one_sign_alone_is_left_as_it_is():
    z = T.dvector("z")
    f = cgraph.function([z], [nnet.sigmoid(z), nnet.sigmoid(2 * z)])
    assert "exp_neg_abs" not in scalar_ops(f) and "sigmoid_given" not in scalar_ops(f)


def test_the_gradient_of_a_sigmoid_layer_computes_one_exponential_per_unit():
    """The tutorial's layer: the gradient reads e from the forward's loop."""
    x, y = T.dvector("x"), T.dscalar("y")
    w = cgraph.shared(np.random.default_rng(3).standard_normal((3, 2)), name="w")
    cost = (T.sum(nnet.sigmoid(T.dot(x, w))) - y) ** 2
    g = T.grad(cost, w)
    f = cgraph.function([x, y], [cost, g])
    ops = scalar_ops(f)
    assert ops.count("exp_neg_abs") == 1 and "sigmoid" not in ops and "exp" not in ops
    with cgraph.config.change_flags(rewrite_exclude=["sigmoid_exps"]):
        stable = cgraph.function([x, y], [cost, g])  # two exponentials per unit
    xv = np.array([0.3, -40.0, 2.0])  # a unit deep in saturation
    for got, want in zip(f(xv, 0.7), stable(xv, 0.7)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    mild = np.array([0.3, -1.0, 2.0])
    for got, want in zip(f(mild, 0.7), reference([x, y], [cost, g])(mild, 0.7)):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_the_parts_have_sigmoids_gradient():
    """Were a rewritten graph differentiated, d/dz sigmoid_given(z, exp_neg_abs(z)) is
    sigmoid's derivative (the parts' own gradient rules, mode PY)."""
    z = T.dvector("z")
    s = sigmoid_given(z, exp_neg_abs(z))
    got = cgraph.function([z], T.grad(T.sum(s), z), mode="PY")
    v = np.array([-30.0, -2.0, -0.5, 0.5, 2.0, 30.0])
    want = np.exp(-np.abs(v)) / (1 + np.exp(-np.abs(v))) ** 2
    np.testing.assert_allclose(got(v), want, rtol=1e-14)
