"""Per-lane ops: cumsum, cumprod, diff, sort, argsort (and the gradients of diff and
sort), with their kernel.

The lane ops share one kernel, `lanes` (templates/lanes.c.j2): it loops over every
axis but `axis` with strides and runs the op's loop along it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor import reduce as _reduce
from cgraph.tensor.basic_ops import flatten
from cgraph.tensor.shape import axis_index
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

_NUMPY = {
    "cumsum": lambda x, axis: np.cumsum(x, axis=axis),
    "cumprod": lambda x, axis: np.cumprod(x, axis=axis),
    "diff": lambda x, axis: np.diff(x, axis=axis),
    "sort": lambda x, axis: np.sort(x, axis=axis, kind="stable"),
    "argsort": lambda x, axis: np.argsort(x, axis=axis, kind="stable").astype("int64"),
}


class LaneOp(Op):
    """`mode` (cumsum, cumprod, diff, sort, argsort) along a static `axis`."""

    __props__ = ("mode", "axis")

    def __init__(self, mode: str, axis: int):
        self.mode = mode
        self.axis = axis

    def __str__(self) -> str:
        return f"{self.mode}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self.mode}: axis {self.axis} out of range for {x.type}")
        if self.mode == "diff" and x.dtype == "bool":
            raise TypeError("diff: bool inputs are not supported")
        dtype = x.dtype
        if self.mode in ("cumsum", "cumprod"):
            dtype = np.cumsum(np.zeros(1, dtype=x.dtype)).dtype.name
        elif self.mode == "argsort":
            dtype = "int64"
        shape = list(x.type.shape)
        if self.mode == "diff" and shape[self.axis] is not None:
            shape[self.axis] = max(shape[self.axis] - 1, 0)
        return Apply(self, [x], [TensorType(dtype, shape).make_variable()])

    def perform(self, node, inputs):
        return [np.asarray(_NUMPY[self.mode](inputs[0], self.axis),
                           dtype=node.outputs[0].type.dtype)]

    def infer_shape(self, node, shapes):
        shape = list(shapes[0])
        if self.mode == "diff":
            shape[self.axis] = max(shape[self.axis] - 1, 0)
        return [tuple(shape)]

    def grad(self, inputs, output_grads):
        (x,), (gz,) = inputs, output_grads
        axis = self.axis
        if self.mode == "cumsum":
            # d/dx_i = sum_{j >= i} gz_j: the total minus the exclusive prefix sum.
            total = _reduce.sum(gz, axis=axis, keepdims=True)
            return [total - LaneOp("cumsum", axis)(gz) + gz]
        if self.mode == "cumprod":
            # Valid for inputs without zeros: d/dx_i = sum_{j >= i} gz_j * out_j / x_i.
            w = gz * LaneOp("cumprod", axis)(x)
            total = _reduce.sum(w, axis=axis, keepdims=True)
            return [(total - LaneOp("cumsum", axis)(w) + w) / x]
        if self.mode == "diff":
            return [DiffGrad(axis)(gz)]
        if self.mode == "sort":
            return [SortGrad(axis)(gz, LaneOp("argsort", axis)(x))]
        return [None]


class DiffGrad(LaneOp):
    """The gradient of a first difference: g[i-1] - g[i] (zero outside), one longer."""

    def __init__(self, axis: int):
        super().__init__("diff_grad", axis)

    def make_node(self, gz: Any) -> Apply:
        gz = as_tensor_variable(gz)
        shape = list(gz.type.shape)
        shape[self.axis] = None if shape[self.axis] is None else shape[self.axis] + 1
        return Apply(self, [gz], [TensorType(gz.dtype, shape).make_variable()])

    def perform(self, node, inputs):
        g = inputs[0]
        pad = [(0, 0)] * g.ndim
        pad[self.axis] = (1, 0)
        front = np.pad(g, pad)
        pad[self.axis] = (0, 1)
        return [front - np.pad(g, pad)]

    def infer_shape(self, node, shapes):
        shape = list(shapes[0])
        shape[self.axis] += 1
        return [tuple(shape)]


class SortGrad(LaneOp):
    """Scatter `gz` back through the sorting permutation: out[perm[i]] = gz[i]."""

    def __init__(self, axis: int):
        super().__init__("scatter", axis)

    def make_node(self, gz: Any, perm: Any) -> Apply:
        gz, perm = as_tensor_variable(gz), as_tensor_variable(perm)
        return Apply(self, [gz, perm], [gz.type.make_variable()])

    def perform(self, node, inputs):
        gz, perm = inputs
        out = np.zeros_like(gz)
        np.put_along_axis(out, perm, gz, axis=self.axis)
        return [out]

    def infer_shape(self, node, shapes):
        return [tuple(shapes[0])]


def _lane(mode: str, x: Any, axis: int | None) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    return LaneOp(mode, axis_index(axis, x.ndim, mode))(x)


def cumsum(x: Any, axis: int | None = None) -> TensorVariable:
    """numpy.cumsum (axis None: of the flattened input); integers and bools give int64,
    as numpy. An axis out of range raises ValueError when the graph is built."""
    return _lane("cumsum", x, axis)


def cumprod(x: Any, axis: int | None = None) -> TensorVariable:
    """numpy.cumprod; its gradient assumes the input has no zeros."""
    return _lane("cumprod", x, axis)


def diff(x: Any, n: int = 1, axis: int = -1) -> TensorVariable:
    """numpy.diff: the `n`-th discrete difference along `axis`."""
    for _ in range(n):
        x = _lane("diff", x, axis)
    return as_tensor_variable(x)


def sort(x: Any, axis: int | None = -1) -> TensorVariable:
    """numpy.sort (stable; NaNs last); axis None sorts the flattened input."""
    return _lane("sort", x, axis)


def argsort(x: Any, axis: int | None = -1) -> TensorVariable:
    """numpy.argsort(kind='stable') as int64 (NaNs last; equal values keep their
    order); axis None sorts the flattened input. An axis out of range raises
    ValueError when the graph is built."""
    return _lane("argsort", x, axis)


class LanesKernel(KernelBuilder):
    """Every LaneOp: the lanes of x along `axis`, read and written with strides; a
    second input (SortGrad's permutation) has its own strides."""

    family = "lanes"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].type.ndim - 1
        dtype = node.inputs[0].type.dtype
        is_float = dtype.startswith("float")
        layout = ParamLayout(self.family, n_in=1, n_out=1, axis_in=1, axis_out=1, axis_in2=1,
                             shape=ndim, st_in=ndim, st_out=ndim, st_in2=ndim)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim, "mode": node.op.mode, "float": is_float,
                               "key_bits": 8 * np.dtype(dtype).itemsize,
                               "signed": np.dtype(dtype).kind == "i"})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        axis = node.op.axis
        (shape, st_i), (out_shape, st_o) = in_layouts[0], out_layouts[0]
        st_2 = in_layouts[1][1] if len(in_layouts) > 1 else (0,) * len(shape)

        def others(seq):
            return [v for a, v in enumerate(seq) if a != axis]

        return kernel.layout.build(
            n_in=shape[axis], n_out=out_shape[axis], axis_in=st_i[axis], axis_out=st_o[axis],
            axis_in2=st_2[axis], shape=others(shape), st_in=others(st_i), st_out=others(st_o),
            st_in2=others(st_2))


register_kernel(LanesKernel(), LaneOp)
