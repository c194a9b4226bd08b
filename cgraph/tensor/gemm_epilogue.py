"""A product with an elementwise epilogue: `tanh(dot(x, W) + b)` in one kernel.

`GemmEpilogue` is what fusion makes of a Gemm whose only reader is an elementwise
loop of the product's shape whose other operands hold one element each (constants,
scalars): the loop's scalar ops (a `Composite`, input 0 the Gemm's value) run inside
the Gemm's kernel, over its output right after BLAS wrote it
(templates/dot_add.c.j2), instead of in a kernel of their own. Values are those of
the Gemm followed by the loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable
from cgraph.kernel import Kernel, register_kernel
from cgraph.tensor.blas_ops import Gemm, GemmKernel
from cgraph.tensor.elemwise import Composite, broadcast_static
from cgraph.tensor.elemwise_kernel import composite_statements
from cgraph.tensor.type import TensorType, as_tensor_variable

__all__ = ["GemmEpilogue", "GemmEpilogueKernel"]


class GemmEpilogue(Gemm):
    """alpha * dot(a, b) + beta * c followed by the elementwise `epilogue`: a Composite
    of one output, of the Gemm's dtype, whose input 0 is the Gemm's value and whose
    other inputs are the operands after c, each of one element by its type.

    Built by rewrites after gradients are taken: it has no gradient rule.
    """

    __props__ = ("alpha", "beta", "epilogue")

    def __init__(self, alpha: float, beta: float, epilogue: Composite):
        super().__init__(alpha, beta)
        if len(epilogue.outputs) != 1:
            raise ValueError("GemmEpilogue: the epilogue must have one output")
        self.epilogue = epilogue

    def __str__(self) -> str:
        return f"Gemm{{{self.alpha}, {self.beta}, {self.epilogue.name}}}"

    def make_node(self, a: Any, b: Any, c: Any, *extras: Any) -> Apply:
        gemm = Gemm.make_node(self, a, b, c)
        value = gemm.outputs[0]
        extras = [as_tensor_variable(v) for v in extras]
        comp = self.epilogue
        if len(extras) != comp.nin - 1 or any(any(n != 1 for n in v.type.shape)
                                              for v in extras):
            raise TypeError(f"{self}: {comp.nin - 1} operands of one element each are "
                            f"needed, got {[str(v.type) for v in extras]}")
        dtypes = [value.dtype] + [v.dtype for v in extras]
        if dtypes != list(comp.in_dtypes) or comp.dtype_of(comp.outputs[0]) != dtypes[0]:
            raise TypeError(f"{self}: the operands' dtypes {dtypes} do not fit the "
                            f"epilogue's {comp.in_dtypes} -> {dtypes[0]}")
        (shape,) = comp.shapes([value.type.shape] + [v.type.shape for v in extras],
                               broadcast_static)
        if shape != value.type.shape:
            raise TypeError(f"{self}: the epilogue changes the shape {value.type} to {shape}")
        return Apply(self, [*gemm.inputs, *extras], [TensorType(dtypes[0], shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return Gemm.infer_shape(self, node, shapes[:3])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (value,) = Gemm.perform(self, node, inputs[:3])
        (out,) = self.epilogue.impl(value, *inputs[3:])
        return [np.asarray(out, dtype=node.outputs[0].type.dtype).reshape(value.shape)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")


class GemmEpilogueKernel(GemmKernel):
    """GemmEpilogue: the Gemm's kernel, then the epilogue's statements over its output
    (dense: the planner gives every kernel output C-contiguous strides)."""

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        kernel = super().lower(node, name, comment, outs, ins)
        dtypes = [node.outputs[0].type.dtype] + [v.type.dtype for v in node.inputs[3:]]
        statements, results = composite_statements(node.op.epilogue, dtypes)
        return Kernel(kernel.family, name, comment, kernel.outputs, kernel.inputs,
                      kernel.layout, statements=tuple(statements), results=results,
                      context=kernel.context)

    def writes_in_place(self, node: Apply, shared: Any) -> bool:
        """Never: the epilogue is not an update's `W - lr * a b`."""
        return False


register_kernel(GemmEpilogueKernel(), GemmEpilogue)
