"""x * 0 is zeros of the product's shape, and x is no longer computed (Theano's
local_mul_zero): an `L1_reg = 0.0` term costs nothing. As in Theano, the zeros stand also
where x is NaN or infinite (mode C; mode PY runs the graph unrewritten, IEEE's NaN)."""

from __future__ import annotations

import numpy as np
from helpers import rng_for
from test_rewrite import ops, rewritten

import cgraph
import cgraph.tensor as T


def test_zero_weighted_l1_term_is_dropped_with_its_gradient():
    x, y, w = T.dmatrix("x"), T.dvector("y"), T.dvector("w")
    err = ((T.dot(x, w) - y) ** 2).mean()
    cost = err + 0.0 * abs(w).sum()
    gw = T.grad(cost, w)
    graph_ops = ops(rewritten([x, y, w], [cost, gw]))
    assert "abs" not in graph_ops and "sign" not in graph_ops
    assert "Alloc" not in graph_ops  # the zeros added to the cost and its gradient are gone
    f = cgraph.function([x, y, w], [cost, gw])
    plain = cgraph.function([x, y, w], [err, T.grad(err, w)])
    args = [rng_for("l1", n).normal(size=s) for n, s in (("x", (5, 4)), ("y", 5), ("w", 4))]
    for got, want in zip(f(*args), plain(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_product_with_zero_keeps_the_broadcast_shape():
    col, row = T.dcol("col"), T.drow("row")
    out = (T.exp(col) * row) * 0.0
    fgraph = rewritten([col, row], [out])
    assert "exp" not in ops(fgraph) and "mul" not in ops(fgraph)
    assert fgraph.outputs[0].type == out.type
    f = cgraph.function([col, row], out)
    got = f(np.ones((3, 1)), np.ones((1, 5)))
    assert got.shape == (3, 5) and got.dtype == np.float64 and not got.any()


def test_zero_times_integer_vector_and_left_zero():
    v = T.lvector("v")
    out = 0 * (v + 3)
    assert ops(rewritten([v], [out])) == ["Shape_i", "Alloc"]
    got = cgraph.function([v], out)(np.arange(4))
    np.testing.assert_array_equal(got, np.zeros(4, dtype=np.int64))
    assert got.dtype == out.dtype


def test_zero_times_nan_is_zero_as_in_theano():
    x = T.dvector("x")
    got = cgraph.function([x], T.log(x) * 0.0)(np.array([-1.0, 0.0, np.inf, np.nan, 2.0]))
    np.testing.assert_array_equal(got, np.zeros(5))
