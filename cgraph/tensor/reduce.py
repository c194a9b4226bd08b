"""Reductions (Sum) and the broadcasting pair used by gradients: SumTo and BroadcastLike.

All reductions share one C kernel family: the output is addressed with stride 0
along the reduced axes while the loop walks the input, so `sum(x, axis)` and
"sum `g` down to the shape of `x`" are the same loop with other strides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.tensor.shape import DimShuffle, Layout
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means all. Raise ValueError when out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d tensor")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axes}")
    return tuple(sorted(out))


def sum_dtype(dtype: str) -> str:
    """numpy's accumulator dtype for sum: small ints widen to 64 bits."""
    if dtype == "bool" or dtype.startswith("int"):
        return "int64"
    if dtype.startswith("uint"):
        return "uint64"
    return dtype


class Sum(Op):
    """Sum over `axis` (a tuple of axes), dropping them."""

    __props__ = ("axis",)
    c_family = "reduce"
    keepdims = False

    def __init__(self, axis: tuple[int, ...]):
        self.axis = tuple(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        for a in self.axis:
            if not 0 <= a < x.ndim:
                raise ValueError(f"sum: axis {a} is out of range for {x.type}")
        shape = [s for a, s in enumerate(x.type.shape) if a not in self.axis]
        return Apply(self, [x], [TensorType(sum_dtype(x.dtype), shape).make_variable()])

    def reduced_axes(self, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        """The input axes summed over, for concrete input shapes."""
        return self.axis

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        out = np.sum(inputs[0], axis=self.axis, dtype=node.outputs[0].dtype)
        return [np.asarray(out)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(s for a, s in enumerate(shapes[0]) if a not in self.axis)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (x,), (gz,) = inputs, output_grads
        pattern: list[int | str] = []
        kept = iter(range(gz.ndim))
        for a in range(x.ndim):
            pattern.append("x" if a in self.axis else next(kept))
        g = DimShuffle(gz.ndim, pattern)(gz)
        return [broadcast_like(g, x, dtype=x.dtype)]


class SumTo(Op):
    """Sum `g` down to the shape of `like` (same rank): numpy broadcasting undone."""

    c_family = "reduce"
    keepdims = True

    def make_node(self, g: Any, like: Any) -> Apply:
        g, like = as_tensor_variable(g), as_tensor_variable(like)
        if g.ndim != like.ndim:
            raise TypeError(f"sum_to: {g.type} and {like.type} differ in rank")
        return Apply(self, [g, like], [TensorType(g.dtype, like.type.shape).make_variable()])

    def reduced_axes(self, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        g, like = shapes
        for a, (n, m) in enumerate(zip(g, like)):
            if m != n and m != 1:
                raise ValueError(f"sum_to: cannot sum shape {g} to shape {like} (axis {a})")
        return tuple(a for a, (n, m) in enumerate(zip(g, like)) if m == 1 and n != 1)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        g, like = inputs
        axes = self.reduced_axes([g.shape, like.shape])
        return [np.asarray(np.sum(g, axis=axes, keepdims=True), dtype=g.dtype)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        self.reduced_axes(shapes)
        return [shapes[1]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [broadcast_like(output_grads[0], inputs[0]), None]


class BroadcastLike(Op):
    """`x` broadcast to the shape of `like` (same rank), as a stride-0 view."""

    c_family = "view"
    view_of = 0

    def make_node(self, x: Any, like: Any) -> Apply:
        x, like = as_tensor_variable(x), as_tensor_variable(like)
        if x.ndim != like.ndim:
            raise TypeError(f"broadcast_like: {x.type} and {like.type} differ in rank")
        return Apply(self, [x, like], [TensorType(x.dtype, like.type.shape).make_variable()])

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> Layout:
        """Output (shape, element strides, element offset) of the view of input 0."""
        x, like = shapes
        for a, (n, m) in enumerate(zip(x, like)):
            if n != m and n != 1:
                raise ValueError(f"broadcast_like: cannot broadcast shape {x} to {like} "
                                 f"(axis {a})")
        out_strides = tuple(0 if n != m else st for n, m, st in zip(x, like, strides))
        return tuple(like), out_strides, 0

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [self.view_layout(shapes, (0,) * len(shapes[0]))[0]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.broadcast_to(inputs[0], inputs[1].shape)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [sum_to(output_grads[0], inputs[0]), None]


def sum_to(g: TensorVariable, like: TensorVariable) -> TensorVariable:
    """`g` summed down to the shape of `like`; `g` itself when statically equal."""
    if g.type.shape == like.type.shape and None not in g.type.shape:
        return g
    return SumTo()(g, like)


def broadcast_like(x: TensorVariable, like: TensorVariable, dtype: str | None = None
                   ) -> TensorVariable:
    """`x` broadcast to the shape of `like`; `x` itself when statically equal."""
    if x.type.shape == like.type.shape and None not in x.type.shape:
        return x
    return BroadcastLike()(x, like)


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False
        ) -> TensorVariable:
    """Sum of `x` over `axis` (None: all axes), like numpy.sum."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    out = Sum(axes)(x)
    if keepdims:
        pattern: list[int | str] = []
        kept = iter(range(out.ndim))
        for a in range(x.ndim):
            pattern.append("x" if a in axes else next(kept))
        out = DimShuffle(out.ndim, pattern)(out)
    return out
