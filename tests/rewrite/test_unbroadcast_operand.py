"""A gradient seed broadcast like the summed array is dropped from an elementwise
product only when the other operands certainly have that shape: an axis of unknown
length that is 1 at run time broadcasts (numpy's rule), so static shapes alone prove
nothing (found: the gradient of sum(a[:, :1] * b[:1, :]) failed in SumTo)."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor.reduce import BroadcastLike


@pytest.mark.parametrize("mode", [
    pytest.param("C", marks=pytest.mark.xfail(strict=True, reason=(
        "canonicalize's unbroadcast_operand trusts static shapes; the fix is Theano's "
        "broadcasting rule (issue #19), under which this product is a clear error"))),
    "PY"])
def test_gradient_of_a_runtime_broadcast_product(mode):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    x, y = a[:, :1], b[:1, :]  # (5, 1) and (1, 3), neither known to broadcast
    ga, gb = cgraph.grad((x * y).sum(), [a, b])
    f = cgraph.function([a, b], [ga, gb], mode=mode)
    rng = np.random.default_rng(11)
    av, bv = rng.standard_normal((5, 4)), rng.standard_normal((2, 3))
    want_a, want_b = np.zeros_like(av), np.zeros_like(bv)
    want_a[:, 0] = bv[0].sum()
    want_b[0] = av[:, 0].sum()
    got_a, got_b = f(av, bv)
    np.testing.assert_allclose(got_a, want_a, rtol=1e-13)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-13)


def test_seed_of_a_sum_of_a_same_shape_product_is_still_dropped():
    """sum(exp(x) * x): the seed's BroadcastLike goes, since exp(x) has x's shape."""
    x = T.dvector("x")
    g = cgraph.grad((T.exp(x) * x).sum(), x)
    f = cgraph.function([x], g)
    kept = [n for n in f.fgraph.toposort() if isinstance(n.op, BroadcastLike)]
    assert not kept
    xv = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(xv), np.exp(xv) * (xv + 1), rtol=1e-13)
