"""Dot: matrix and vector products for every 1-d/2-d combination."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.tensor.shape import DimShuffle
from cgraph.tensor.type import TensorType, as_tensor_variable


def _col(v: Variable) -> Variable:
    return DimShuffle(1, (0, "x"))(v)


def _row(v: Variable) -> Variable:
    return DimShuffle(1, ("x", 0))(v)


def _t(m: Variable) -> Variable:
    return DimShuffle(2, (1, 0))(m)


def _vec1(s: Variable) -> Variable:
    return DimShuffle(0, ("x",))(s)


class Dot(Op):
    """numpy.dot of two 1-d or 2-d tensors of one dtype."""

    c_family = "dot"

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise TypeError(f"dot: expected 1-d or 2-d operands, got {a.type} and {b.type}")
        if a.dtype != b.dtype:
            raise TypeError(f"dot: operands differ in dtype: {a.type} and {b.type}")
        ka, kb = a.type.shape[-1], b.type.shape[0]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"dot: shapes {a.type} and {b.type} are not aligned "
                             f"({ka} != {kb})")
        shape = a.type.shape[:-1] + b.type.shape[1:]
        return Apply(self, [a, b], [TensorType(a.dtype, shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        sa, sb = shapes
        if sa[-1] != sb[0]:
            raise ValueError(f"dot: shapes {sa} and {sb} are not aligned "
                             f"({sa[-1]} (dim {len(sa) - 1}) != {sb[0]} (dim 0))")
        return [sa[:-1] + sb[1:]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(np.dot(*inputs))]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (a, b), (gz,) = inputs, output_grads
        if a.ndim == 2 and b.ndim == 2:
            ga, gb = self(gz, _t(b)), self(_t(a), gz)
        elif a.ndim == 2:
            ga, gb = self(_col(gz), _row(b)), self(_t(a), gz)
        elif b.ndim == 2:
            ga, gb = self(b, gz), self(_col(a), _row(gz))
        else:
            ga, gb = self(_col(b), _vec1(gz)), self(_col(a), _vec1(gz))
        return [ga, gb]
