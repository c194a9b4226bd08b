"""SearchSorted: numpy's searchsorted as an op family of its own (a binary search per
value, O(m log n), in templates/searchsorted.c.j2); `cgraph.tensor.searchsorted` builds
it on the flattened values."""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Op
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.type import TensorType, as_tensor_variable


class SearchSorted(Op):
    """The insertion places of the vector v in the sorted vector a (same dtype), int64:
    the count of elements of a below each value ('left') or not above it ('right'),
    NaN sorting after every number."""

    __props__ = ("side",)

    def __init__(self, side: str):
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        self.side = side

    def make_node(self, a, v) -> Apply:
        a, v = as_tensor_variable(a), as_tensor_variable(v)
        if a.ndim != 1 or v.ndim != 1:
            raise TypeError(f"SearchSorted: a and v must be vectors, got {a.type} and {v.type}")
        if a.dtype != v.dtype:
            raise TypeError(f"SearchSorted: a and v must have one dtype, got {a.dtype} and "
                            f"{v.dtype}")
        return Apply(self, [a, v], [TensorType("int64", v.type.shape).make_variable()])

    def perform(self, node, inputs):
        a, v = inputs
        return [np.searchsorted(a, v, self.side).astype("int64")]

    def infer_shape(self, node, shapes, values=None):
        return [tuple(shapes[1])]

    def grad(self, inputs, output_grads):
        return [None, None]


class SearchSortedKernel(KernelBuilder):
    """SearchSorted: one binary search per value, reading both vectors with strides."""

    family = "searchsorted"

    def layout(self, node: Apply) -> ParamLayout:
        return ParamLayout(self.family, n=1, m=1, st_a=1, st_v=1, st_out=1)

    def context(self, node: Apply, outs: list, ins: list) -> dict:
        return {"left": node.op.side == "left",
                "float": node.inputs[0].dtype.startswith("float")}

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        (a_shape, a_st), (v_shape, v_st) = in_layouts
        return kernel.layout.build(n=a_shape[0], m=v_shape[0], st_a=a_st[0], st_v=v_st[0],
                                   st_out=out_layouts[0][1][0])


register_kernel(SearchSortedKernel(), SearchSorted)
