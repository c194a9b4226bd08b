"""A partial sum in the loop that computes what it sums: `SumTo(elementwise(...), like)`
after fusion (the gradient of an elementwise product over broadcast operands, such as
the contractive auto-encoder's Jacobian penalty), with no array of the loop's shape.

The kernel zeroes its output, then runs the fused statements over the loop shape and
adds each value into the output element it sums into (stride 0 on the summed axes).
When other nodes read the loop's values too (a bias gradient's operand, also the
product's), the same loop stores them: the Composite's outputs after the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, ParamLayout, loop_strides, register_kernel
from cgraph.tensor.elemwise import Composite, broadcast_static
from cgraph.tensor.elemwise_kernel import (
    FusedSumKernel,
    composite_statements,
    merge_axes,
    used_inputs,
)
from cgraph.tensor.type import TensorType, as_tensor_variable


def _broadcastable(shape: tuple) -> tuple[bool, ...]:
    """Which axes of a static shape have length 1."""
    return tuple(n == 1 for n in shape)


class FusedSumTo(Op):
    """The sum over `axes` of a Composite's first output, accumulated in the loop
    computing it: the summed axes kept, of length 1 (SumTo), or dropped (`keepdims`
    False: a Sum over some axes). The Composite's other outputs, of the loop's shape,
    are the node's further outputs, stored by the same loop."""

    __props__ = ("scalar_op", "axes", "keepdims")

    def __init__(self, scalar_op: Composite, axes: Sequence[int], keepdims: bool = True):
        if not scalar_op.outputs:
            raise ValueError("FusedSumTo sums a composite's first output: it has none")
        self.scalar_op, self.axes = scalar_op, tuple(sorted(axes))
        self.keepdims = bool(keepdims)

    def __str__(self) -> str:
        name = "sum_to_of_" if self.keepdims else "sum_of_"
        return f"{name}{self.scalar_op.name}{{{','.join(map(str, self.axes))}}}"

    def _kept(self, shape: tuple) -> tuple:
        if not self.keepdims:
            return tuple(n for a, n in enumerate(shape) if a not in self.axes)
        return tuple(1 if a in self.axes else n for a, n in enumerate(shape))

    def make_node(self, *inputs: Any) -> Apply:
        comp = self.scalar_op
        inputs = [as_tensor_variable(v) for v in inputs]
        loop, *stored = comp.shapes([v.type.shape for v in inputs], broadcast_static)
        dtype = comp.dtype_of(comp.outputs[0])
        if dtype not in ("float32", "float64"):
            raise TypeError(f"{self}: only float sums are fused, got {dtype}")
        if not self.axes or max(self.axes) >= len(loop):
            raise ValueError(f"{self}: axes {self.axes} out of range for a {len(loop)}-d loop")
        if any(_broadcastable(shape) != _broadcastable(loop) for shape in stored):
            raise ValueError(f"{self}: a stored output must have the loop's shape")
        outputs = [TensorType(dtype, self._kept(loop)).make_variable()]
        outputs += [TensorType(comp.dtype_of(v), loop).make_variable()
                    for v in comp.outputs[1:]]
        return Apply(self, inputs, outputs)

    def loop_shape(self, node: Apply, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        """The shape of the summed values (checks that the inputs broadcast)."""
        return self.scalar_op.checked_shapes(node, shapes)[0]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.loop_shape(node, [a.shape for a in inputs])
        loop = self.loop_shape(node, [a.shape for a in inputs])
        value, *stored = self.scalar_op.impl(*inputs)
        dtype = node.outputs[0].type.dtype
        total = np.asarray(np.sum(value, axis=self.axes, keepdims=self.keepdims, dtype=dtype))
        return [total] + [np.array(np.broadcast_to(v, loop)) for v in stored]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        loop = self.loop_shape(node, shapes)
        return [self._kept(loop)] + [loop] * (len(node.outputs) - 1)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")



def _inner_broadcast(node: Apply, ndim: int) -> tuple[int, ...]:
    """The inputs that broadcast along the loop's last axis by their types (static
    length 1 there where another input's is not 1): the contiguous loop reads one value
    of each per row (the row maximum a softmax subtracts)."""
    last = [v.type.shape[-1] for v in node.inputs if v.type.ndim]
    if all(n == 1 for n in last):
        return ()
    return tuple(k for k, v in enumerate(node.inputs) if v.type.ndim and v.type.shape[-1] == 1)


class FusedSumToKernel(FusedSumKernel):
    """FusedSumTo: the fused statements over the loop shape, each value added into the
    output element it sums into (templates/fused_sum_to.c.j2)."""

    family = "fused_sum_to"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        statements, results = composite_statements(node.op.scalar_op,
                                                    [v.type.dtype for v in node.inputs])
        ndim = node.outputs[0].type.ndim + (0 if node.op.keepdims else len(node.op.axes))
        stored = {"stored_strides": (len(outs) - 1, ndim)} if len(outs) > 1 else {}
        layout = ParamLayout(self.family, size=1, shape=ndim, out_strides=ndim,
                             strides=(len(ins), ndim), **stored)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      tuple(statements), results, "+=",
                      context={"used": used_inputs(statements),
                               "inner": _inner_broadcast(node, ndim)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """The output size, the loop shape, the output's strides in the loop (0 on the
        summed axes), each input's, and each stored output's."""
        loop = node.op.loop_shape(node, in_shapes)
        out_shape, out_strides = out_layouts[0]
        if not node.op.keepdims:  # the summed axes back, of length 1 (stride 0 below)
            kept = iter(zip(out_shape, out_strides))
            out_shape, out_strides = map(tuple, zip(*[
                (1, 0) if a in node.op.axes else next(kept) for a in range(len(loop))]))
        # the loop over its axes merged (elemwise_kernel.merge_axes: a channel's sum over
        # (N, C, H, W) runs rows of H*W points, not of W), the output and stored outputs
        # stepping as the inputs do
        each = [loop_strides(out_shape, out_strides, loop)]
        each += [loop_strides(shape, strides, loop) for shape, strides in in_layouts]
        each += [loop_strides(shape, strides, loop) for shape, strides in out_layouts[1:]]
        inner = [1 + k for k in kernel.context.get("inner", ())]
        loop, each = merge_axes(loop, each, inner)
        n_in = len(in_layouts)
        stored = {}
        if len(out_layouts) > 1:
            stored["stored_strides"] = [st for sts in each[1 + n_in:] for st in sts]
        return kernel.layout.build(size=int(np.prod(out_shape, dtype=np.int64)), shape=loop,
                                   out_strides=each[0],
                                   strides=[st for sts in each[1:1 + n_in] for st in sts],
                                   **stored)


register_kernel(FusedSumToKernel(), FusedSumTo)
