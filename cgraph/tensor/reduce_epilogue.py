"""A reduction with an elementwise epilogue: `log(sum(exp(z), axis=1)) + m` in one kernel.

`ReduceEpilogue` is what fusion makes of a reduction (a CAReduce such as Sum or
MaxShift, a fused sum) whose result an elementwise loop of the result's size reads
(directly, or through a dimshuffle that adds or drops length-1 axes): the
reduction's kernel runs first, then, in the same kernel, the loop's scalar ops (a
`Composite`, input 0 the reduction's value) over its result
(templates/epilogue.c.j2). The loop's other operands hold one element each, or have
the loop's shape and are stored arrays (C-contiguous: no views). Values are those of
the reduction followed by the loop; the result is still an output, for its other
readers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, builder_of, register_kernel
from cgraph.tensor.elemwise import Composite, broadcast_shapes, broadcast_static
from cgraph.tensor.elemwise_kernel import composite_statements, used_inputs
from cgraph.tensor.type import TensorType, as_tensor_variable

__all__ = ["ReduceEpilogue", "ReduceEpilogueKernel"]


def _single(shape: tuple) -> bool:
    return all(n == 1 for n in shape)


class ReduceEpilogue(Op):
    """The reduction `inner` on the first `n_in` inputs, then the elementwise `epilogue`
    over its first output's value viewed with `shape_pattern`'s axes (the loop's
    static shape: the value's, with length-1 axes added or dropped); the other inputs
    are the epilogue's further operands. Outputs: the reduction's, then the
    epilogue's.

    Built by rewrites after gradients are taken: it has no gradient rule.
    """

    __props__ = ("inner", "n_in", "epilogue", "shape_pattern")

    def __init__(self, inner: Op, n_in: int, epilogue: Composite, shape_pattern: tuple):
        self.inner, self.n_in, self.epilogue = inner, int(n_in), epilogue
        self.shape_pattern = tuple(shape_pattern)

    def __str__(self) -> str:
        return f"{self.inner}+{self.epilogue.name}"

    def make_node(self, *inputs: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in inputs]
        inner = self.inner.make_node(*inputs[:self.n_in])
        extras = inputs[self.n_in:]
        comp = self.epilogue
        value = inner.outputs[0]
        loop = self.shape_pattern
        if len(extras) != comp.nin - 1 or math.prod(n for n in loop if n is not None) != \
                math.prod(n for n in value.type.shape if n is not None):
            raise TypeError(f"{self}: {comp.nin - 1} operands and a loop of the value's "
                            f"size are needed")
        if any(not _single(v.type.shape) and v.type.broadcastable != tuple(n == 1 for n in loop)
               for v in extras):
            raise TypeError(f"{self}: each operand must hold one element or have the "
                            f"loop's shape {loop}")
        if [value.dtype] + [v.dtype for v in extras] != list(comp.in_dtypes):
            raise TypeError(f"{self}: the operands' dtypes do not fit the epilogue's "
                            f"{comp.in_dtypes}")
        shapes = comp.shapes([loop] + [v.type.shape for v in extras], broadcast_static)
        if any(tuple(shape) != loop for shape in shapes):
            raise TypeError(f"{self}: every epilogue output must have the loop's shape")
        outputs = [o.type.make_variable() for o in inner.outputs]
        outputs += [TensorType(comp.dtype_of(o), shape).make_variable()
                    for o, shape in zip(comp.outputs, shapes)]
        return Apply(self, inputs, outputs)

    def inner_node(self, node: Apply) -> Apply:
        """The reduction alone, on the node's first `n_in` inputs: made once per node
        and inputs (a plan asks for it three times, once per step of a scan whose
        shapes change every step), kept on the node while its inputs are the same."""
        inputs = node.inputs[:self.n_in]
        kept = getattr(node, "_reduction", None)
        if kept is None or len(kept.inputs) != len(inputs) or \
                any(a is not b for a, b in zip(kept.inputs, inputs)):
            kept = node._reduction = self.inner.make_node(*inputs)
        return kept

    def _loop(self, value_shape: tuple) -> tuple:
        """The loop's run-time shape: the value's lengths on the pattern's axes (the
        value's own shape when it has the pattern's rank: a length-1 axis of unknown
        static length is not one the pattern broadcasts, as with shape (1, 0))."""
        free = sum(1 for n in self.shape_pattern if n != 1)
        if len(value_shape) == len(self.shape_pattern):
            loop = tuple(value_shape)
        elif len(value_shape) == free:  # the pattern's static 1s are inserted axes
            lengths = iter(value_shape)
            loop = tuple(1 if n == 1 else next(lengths) for n in self.shape_pattern)
        else:
            lengths = iter(n for n in value_shape if n != 1)
            loop = tuple(1 if n == 1 else next(lengths, 1) for n in self.shape_pattern)
        if math.prod(loop) != math.prod(value_shape):
            raise ValueError(f"{self}: cannot view a result of shape {value_shape} with "
                             f"the axes of {self.shape_pattern}")
        return loop

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        inner = self.inner_node(node)
        inner_shapes = self.inner.infer_shape(inner, shapes[:self.n_in])
        loop = self._loop(tuple(inner_shapes[0]))
        extras = node.inputs[self.n_in:]
        names = ["the reduction"] + [v.name or f"operand {k}" for k, v in enumerate(extras, 1)]
        names += [f"t{k}" for k in range(len(self.epilogue.steps))]
        out = self.epilogue.shapes([loop] + [tuple(s) for s in shapes[self.n_in:]],
                                   broadcast_shapes,
                                   [self.shape_pattern] + [v.type.shape for v in extras], names)
        return list(inner_shapes) + [tuple(s) for s in out]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        inner = self.inner_node(node)
        values = self.inner.perform(inner, inputs[:self.n_in])
        shapes = self.infer_shape(node, [np.shape(a) for a in inputs])
        loop = self._loop(np.shape(values[0]))
        results = self.epilogue.impl(np.reshape(values[0], loop), *inputs[self.n_in:])
        outs = node.outputs[len(values):]
        return list(values) + [np.array(np.broadcast_to(r, s), dtype=o.type.dtype)
                               for r, s, o in zip(results, shapes[len(values):], outs)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")


class ReduceEpilogueKernel(KernelBuilder):
    """ReduceEpilogue: the reduction's kernel (rendered inside as `<name>_r`), then
    one flat loop of the epilogue's statements over its result (templates/epilogue.c.j2).
    Plan slots: the reduction's, then the result's element count."""

    family = "epilogue"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        inner = op.inner_node(node)
        n_out = len(inner.outputs)
        # Named after no node: the template names it after the kernel it is rendered in,
        # so that equal nodes still share one function.
        kernel = builder_of(op.inner).lower(inner, "cg_reduction_", "", outs[:n_out],
                                            ins[:op.n_in])
        if kernel.scratch:
            raise TypeError(f"{op}: the reduction's kernel needs scratch memory")
        dtypes = [node.outputs[0].type.dtype] + [v.type.dtype for v in node.inputs[op.n_in:]]
        statements, results = composite_statements(op.epilogue, dtypes)
        layout = ParamLayout(self.family, inner=kernel.layout, size=1)
        extras = tuple((op.n_in + k, _single(v.type.shape))
                       for k, v in enumerate(node.inputs[op.n_in:]))
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      statements=tuple(statements), results=results,
                      context={"inner": kernel, "n_out": n_out, "extras": extras,
                               "used": used_inputs(statements)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        op = node.op
        inner_kernel = kernel.context["inner"]
        n_out = kernel.context["n_out"]
        inner = builder_of(op.inner).params(inner_kernel, op.inner_node(node),
                                            out_layouts[:n_out], in_layouts[:op.n_in],
                                            in_shapes[:op.n_in], values)
        size = math.prod(out_layouts[0][0])
        return kernel.layout.build(inner=list(inner), size=size)

    def check_sizes(self, node: Apply, in_shapes: list) -> None:
        builder_of(node.op.inner).check_sizes(node.op.inner_node(node), in_shapes[:node.op.n_in])



register_kernel(ReduceEpilogueKernel(), ReduceEpilogue)
