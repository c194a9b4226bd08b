"""A convolution with an elementwise epilogue: `act(conv(x, W) + b)` in one kernel.

`ConvEpilogue` is what the rewrite `cgraph.rewrite.convnet` makes of a forward
convolution whose only reader is an elementwise chain over per-channel operands (a
bias `b.dimshuffle('x', 0, 'x', 'x')`, constants): the chain's scalar ops (a
`Composite`, input 0 the convolution's value) run in the convolution's kernel over
each block of output rows right after the product wrote it, while it is in cache,
instead of in a second pass over the whole output. Values are those of the
convolution followed by the chain's own elementwise loop.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable
from cgraph.kernel import Kernel, register_kernel
from cgraph.kernel.layout import ParamLayout
from cgraph.tensor.conv_kernel import CONV_LAYOUT, ConvKernel, Geometry
from cgraph.tensor.conv_ops import _ConvForward
from cgraph.tensor.elemwise import Composite, broadcast_static
from cgraph.tensor.elemwise_kernel import composite_statements, used_inputs
from cgraph.tensor.type import TensorType, as_tensor_variable

__all__ = ["ConvEpilogue", "ConvEpilogueKernel", "per_channel"]


def per_channel(v: Variable, nd: int) -> bool:
    """Whether `v` is constant over each channel of an (N, C, *spatial) batch with `nd`
    spatial axes by its type: rank nd + 2, static length 1 on every axis but the
    channels' (Theano's rule: those axes broadcast, so one value serves a channel)."""
    shape = v.type.shape
    return len(shape) == nd + 2 and shape[0] == 1 and all(s == 1 for s in shape[2:])


class ConvEpilogue(_ConvForward):
    """conv(input, filters) followed by the elementwise `epilogue` (a Composite of one
    output whose input 0 is the convolution's value and whose other inputs are the
    per-channel operands after the filters): (N, C, *spatial) x (F, C / groups, *taps)
    x per-channel operands -> (N, F, *out).

    Built by rewrites after gradients are taken: it has no gradient rule.
    """

    __props__ = _ConvForward.__props__ + ("nd", "epilogue")

    def __init__(self, nd: int, epilogue: Composite, **params: Any):
        self.nd = int(nd)  # before the parameters: their checks read it
        super().__init__(**params)
        self.epilogue = epilogue

    def __str__(self) -> str:
        return f"ConvEpilogue{{{self.nd}d, {self.epilogue.name}}}"

    def _params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in _ConvForward.__props__}

    def make_node(self, img: Any, kern: Any, *extras: Any) -> Apply:
        conv = _ConvForward.make_node(self, img, kern)
        extras = [as_tensor_variable(v) for v in extras]
        comp = self.epilogue
        if len(extras) != comp.nin - 1 or not all(per_channel(v, self.nd) for v in extras):
            raise TypeError(f"{self}: {comp.nin - 1} per-channel operands are needed (rank "
                            f"{self.nd + 2}, length 1 on all axes but the channels), got "
                            f"{[str(v.type) for v in extras]}")
        dtypes = [conv.outputs[0].dtype] + [v.dtype for v in extras]
        if dtypes != list(comp.in_dtypes) or comp.dtype_of(comp.outputs[0]) != dtypes[0]:
            raise TypeError(f"{self}: the operands' dtypes {dtypes} do not fit the "
                            f"epilogue's {comp.in_dtypes} -> {dtypes[0]}")
        shapes = [conv.outputs[0].type.shape] + [v.type.shape for v in extras]
        (shape,) = comp.shapes(shapes, broadcast_static)
        out = TensorType(dtypes[0], shape).make_variable()
        return Apply(self, [*conv.inputs, *extras], [out])

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        top = Geometry.of(self, shapes[0], shapes[1]).top
        for k, shape in enumerate(shapes[2:]):
            if shape[1] not in (1, top[1]):
                raise ValueError(f"{self}: per-channel operand {k} has {shape[1]} channels, "
                                 f"the convolution's output {top} has {top[1]}")
        return [top]

    def perform(self, node: Apply, inputs: list) -> list:
        self.infer_shape(node, [np.shape(v) for v in inputs])
        (conv,) = _ConvForward.perform(self, node, inputs[:2])
        (out,) = self.epilogue.impl(conv, *inputs[2:])
        return [np.ascontiguousarray(out)]

    def grad(self, inputs: list, output_grads: list) -> list:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")


@functools.cache
def epilogue_layout(n_extra: int) -> ParamLayout:
    """The convolution's plan slots, then each per-channel operand's channel stride."""
    if n_extra == 0:
        return CONV_LAYOUT
    return ParamLayout(CONV_LAYOUT.kernel, **dict(CONV_LAYOUT.fields), st_extra=n_extra)


class ConvEpilogueKernel(ConvKernel):
    """ConvEpilogue: the convolution's kernel (templates/conv2d.c.j2) with the
    epilogue's statements applied to each block of output rows after its product;
    a per-channel operand is read once a channel and block."""

    def lower(self, node: Any, name: str, comment: str, outs: list, ins: list) -> Kernel:
        base = super().lower(node, name, comment, outs, ins)
        comp = node.op.epilogue
        statements, results = composite_statements(comp, comp.in_dtypes)
        context = dict(base.context, epilogue=True, used=used_inputs(statements))
        return dataclasses.replace(base, layout=epilogue_layout(comp.nin - 1),
                                   statements=tuple(statements), results=results,
                                   context=context)

    def params(self, kernel: Kernel, node: Any, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        conv = dataclasses.replace(kernel, layout=CONV_LAYOUT)
        values_ = super().params(conv, node, out_layouts, in_layouts, in_shapes, values)
        node.op.infer_shape(node, [shape for shape, _ in in_layouts])
        strides = [st[1] if shape[1] != 1 else 0 for shape, st in in_layouts[2:]]
        return values_ + strides


register_kernel(ConvEpilogueKernel(), ConvEpilogue)
