"""Shapes that depend on values: the planner evaluates them, the plan cache keys on them."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Apply, ViewOp
from cgraph.tensor.type import TensorType, as_tensor_variable


class Head(ViewOp):
    """x[:n] as a view, with n a symbolic int: a test op whose shape needs a value."""

    value_inputs = (1,)

    def make_node(self, x, n):
        x, n = as_tensor_variable(x), as_tensor_variable(n)
        return Apply(self, [x, n], [TensorType(x.dtype, (None,)).make_variable()])

    def perform(self, node, inputs):
        x, n = inputs
        return [x[:int(n)]]

    def infer_shape(self, node, shapes, values):
        n = int(values[1])
        if not 0 <= n <= shapes[0][0]:
            raise ValueError(f"head: {n} out of range for length {shapes[0][0]}")
        return [(n,)]

    def view_layout(self, shapes, strides, values):
        return (int(values[1]),), strides, 0


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_shape_from_scalar_argument(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    f = cgraph.function([x, n], Head()(x, n) * 2, mode=mode)
    data = np.arange(6.0)
    for k in (3, 0, 6, 3):
        np.testing.assert_array_equal(f(data, k), data[:k] * 2)
    with pytest.raises(ValueError, match="out of range"):
        f(data, 7)


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_shape_from_computed_value(mode):
    # n depends on a shape and on an argument's value, through arithmetic.
    x, k = T.dvector("x"), T.lscalar("k")
    n = x.shape[0] - k
    f = cgraph.function([x, k], Head()(x, n).sum(), mode=mode)
    data = np.arange(1.0, 9.0)
    for kk in (0, 3, 8):
        np.testing.assert_allclose(f(data, kk), data[:8 - kk].sum())


def test_shape_from_array_data_replans_each_call():
    # n depends on the data of an array argument: no plan can be cached.
    x, m = T.dvector("x"), T.lvector("m")
    f = cgraph.function([x, m], Head()(x, m.sum()) + 1)
    data = np.arange(5.0)
    for parts in ([1, 1], [0, 0], [2, 3]):
        np.testing.assert_array_equal(f(data, np.array(parts)), data[:sum(parts)] + 1)
