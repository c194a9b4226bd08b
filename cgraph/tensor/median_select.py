"""MedianIndices: the positions of the middle elements of each lane, found by selection
(Wirth's quickselect, O(n) per lane, in templates/median_select.c.j2) rather than a
full sort; `cgraph.tensor.median` gathers the values there (so its gradient is the
gather's)."""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Op
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.type import TensorType, as_tensor_variable


class MedianIndices(Op):
    """For each lane of x along `axis`: the int64 positions (in the lane) of its
    (n - 1) // 2-th and n // 2-th smallest elements (NaN after every number), on a last
    axis of length 2 that replaces `axis`. Raises IndexError for an empty lane."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = axis

    def make_node(self, x) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.axis < x.ndim:
            raise TypeError(f"MedianIndices: axis {self.axis} out of range for {x.type}")
        shape = [n for a, n in enumerate(x.type.shape) if a != self.axis] + [2]
        return Apply(self, [x], [TensorType("int64", shape).make_variable()])

    def perform(self, node, inputs):
        xm = np.moveaxis(inputs[0], self.axis, -1)
        n = xm.shape[-1]
        if n == 0:
            raise IndexError("median: a lane of length 0 has no median")
        order = np.argsort(xm, axis=-1, kind="stable")
        return [np.stack([order[..., (n - 1) // 2], order[..., n // 2]], -1).astype("int64")]

    def infer_shape(self, node, shapes, values=None):
        shape = tuple(shapes[0])
        return [tuple(n for a, n in enumerate(shape) if a != self.axis) + (2,)]

    def grad(self, inputs, output_grads):
        return [None]


class MedianIndicesKernel(KernelBuilder):
    """MedianIndices: per lane, a quickselect of the lane's positions in scratch memory."""

    family = "median_select"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].type.ndim - 1
        layout = ParamLayout(self.family, n=1, axis_in=1, pair=1, shape=ndim, st_in=ndim,
                             st_out=ndim)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        axis = node.op.axis
        shape, st_i = in_layouts[0]
        _, st_o = out_layouts[0]
        others = [a for a in range(len(shape)) if a != axis]
        return kernel.layout.build(
            n=shape[axis], axis_in=st_i[axis], pair=st_o[-1],
            shape=[shape[a] for a in others], st_in=[st_i[a] for a in others],
            st_out=list(st_o[:-1]))


register_kernel(MedianIndicesKernel(), MedianIndices)
