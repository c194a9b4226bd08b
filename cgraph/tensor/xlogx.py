"""Theano's `tensor.xlogx` module: `xlogx(x)` and `xlogy0(x, y)`, which are 0 where x
is 0 (the limit of x log x), as entropies need.

Both are built from table ops (a `switch` over `x * log(...)`), so they compile to
one fused loop and their gradients follow: d xlogx / dx = log(x) + 1 and d xlogy0 =
(log(y), x / y), where x != 0.
"""

from __future__ import annotations

from typing import Any

from cgraph.tensor import math as m
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["xlogx", "xlogy0"]


def _zero_where_x_is_zero(x: TensorVariable, value: TensorVariable) -> TensorVariable:
    return m.switch(m.eq(x, 0), m.zeros_like(value), value)


def xlogx(x: Any) -> TensorVariable:
    """x * log(x), and 0 where x is 0 (floats; integers give floatX as log does)."""
    x = as_tensor_variable(x)
    return _zero_where_x_is_zero(x, m.mul(x, m.log(x)))


def xlogy0(x: Any, y: Any) -> TensorVariable:
    """x * log(y), and 0 where x is 0 (whatever y is), broadcasting x against y."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return _zero_where_x_is_zero(x, m.mul(x, m.log(y)))
