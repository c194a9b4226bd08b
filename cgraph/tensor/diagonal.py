"""Diagonals: `diagonal` (a strided view), `trace`, `diag` (numpy's, both ways).

A diagonal of two axes is a view whose last axis steps along both at once (stride
st1 + st2); its gradient, and `diag` of a vector, write a vector into that view of a
zero array, one strided copy (the `copy` kernel family).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable, ViewOp
from cgraph.tensor.basic_ops import CopyOp, alloc, shape_list
from cgraph.tensor.reduce import sum as _sum
from cgraph.tensor.shape import Layout, axis_index
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def _diagonal_length(n1: int, n2: int, offset: int) -> int:
    return max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))


class _DiagonalAxes:
    """What Diagonal and DiagonalPut share: the axes and offset, and the layout of the
    diagonal inside an array of a given shape and strides."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int, axis1: int, axis2: int):
        self.offset, self.axis1, self.axis2 = int(offset), axis1, axis2

    def _others(self, seq: Sequence) -> list:
        return [v for a, v in enumerate(seq) if a not in (self.axis1, self.axis2)]

    def diagonal_layout(self, shape: Sequence[int], strides: Sequence[int]) -> Layout:
        """(shape, element strides, element offset) of the diagonal view."""
        a1, a2, k = self.axis1, self.axis2, self.offset
        length = _diagonal_length(shape[a1], shape[a2], k)
        start = k * strides[a2] if k >= 0 else -k * strides[a1]
        return ((*self._others(shape), length),
                (*self._others(strides), strides[a1] + strides[a2]), start if length else 0)

    def static_shape(self, shape: Sequence[int | None]) -> tuple[int | None, ...]:
        n1, n2 = shape[self.axis1], shape[self.axis2]
        length = None if n1 is None or n2 is None else _diagonal_length(n1, n2, self.offset)
        return (*self._others(shape), length)


class Diagonal(_DiagonalAxes, ViewOp):
    """numpy.diagonal(x, offset, axis1, axis2) as a view: the other axes, then the
    diagonal."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim < 2 or not (0 <= self.axis1 < x.ndim and 0 <= self.axis2 < x.ndim) \
                or self.axis1 == self.axis2:
            raise ValueError(f"diagonal: axes {self.axis1}, {self.axis2} are not two distinct "
                             f"axes of {x.type}")
        out = TensorType(x.dtype, self.static_shape(x.type.shape)).make_variable()
        return Apply(self, [x], [out])

    def view_layout(self, shapes: list, strides: Sequence[int]) -> Layout:
        """Output (shape, element strides, element offset) of the view of input 0."""
        return self.diagonal_layout(shapes[0], strides)

    def infer_shape(self, node: Apply, shapes: list) -> list:
        return [self.diagonal_layout(shapes[0], (0,) * len(shapes[0]))[0]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(np.diagonal(inputs[0], self.offset, self.axis1, self.axis2))]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (x,), (gz,) = inputs, output_grads
        return [DiagonalPut(self.offset, self.axis1, self.axis2)(gz, x)]


class DiagonalPut(_DiagonalAxes, CopyOp):
    """Zeros shaped like `like` (read for its shape only) with `values` on the diagonal
    of (axis1, axis2): Diagonal's gradient, and diag of a vector."""

    zero_first = True

    def make_node(self, values: Any, like: Any) -> Apply:
        values, like = as_tensor_variable(values), as_tensor_variable(like)
        if values.ndim != like.ndim - 1:
            raise TypeError(f"diagonal: {values.type} does not fit the diagonal of {like.type}")
        return Apply(self, [values, like],
                     [TensorType(values.dtype, like.type.shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        want = self.diagonal_layout(shapes[1], (0,) * len(shapes[1]))[0]
        if tuple(shapes[0]) != tuple(want):
            raise ValueError(f"diagonal: values of shape {tuple(shapes[0])} for a diagonal of "
                             f"shape {tuple(want)}")
        return [tuple(shapes[1])]

    def n_loop_dims(self, node: Apply) -> int:
        return node.inputs[0].type.ndim

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides, start = self.diagonal_layout(*out_layout)
        return [(start, 0, shape, strides, in_layouts[0][1])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        gz, like = inputs
        self.infer_shape(node, [gz.shape, like.shape])
        out = np.zeros(like.shape, dtype=gz.dtype)
        k, length = self.offset, gz.shape[-1]
        rows, cols = np.arange(length) + max(-k, 0), np.arange(length) + max(k, 0)
        np.moveaxis(out, (self.axis1, self.axis2), (-2, -1))[..., rows, cols] = gz
        return [out]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [Diagonal(self.offset, self.axis1, self.axis2)(output_grads[0]), None]


def _axes(x: TensorVariable, axis1: int, axis2: int) -> tuple[int, int]:
    return axis_index(axis1, x.ndim, "diagonal"), axis_index(axis2, x.ndim, "diagonal")


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> TensorVariable:
    """numpy.diagonal: the `offset` diagonal of axes (axis1, axis2), as a view (the other
    axes first, the diagonal last)."""
    x = as_tensor_variable(x)
    return Diagonal(offset, *_axes(x, axis1, axis2))(x)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> TensorVariable:
    """numpy.trace: the sum of the `offset` diagonal of the (axis1, axis2) planes, in
    `sum`'s dtype (integers and bools give int64, as numpy). Axes out of range, or
    equal, raise ValueError when the graph is built."""
    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(v: Any, k: int = 0) -> TensorVariable:
    """numpy.diag: the `k` diagonal of a matrix, or a square matrix with the vector `v`
    on its `k` diagonal."""
    v = as_tensor_variable(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: expected a vector or a matrix, got {v.type}")
    n = shape_list(v)[0] + abs(int(k))
    like = alloc(np.zeros((), dtype=v.dtype), n, n)
    return DiagonalPut(k, 0, 1)(v, like)


__all__ = ["diag", "diagonal", "trace"]
