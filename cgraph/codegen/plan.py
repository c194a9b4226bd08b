"""The per-shape plan: shapes checked, layouts and workspace laid out, P filled.

A compiled function calls `make_plan` once per distinct tuple of input shapes and
caches the result, so the hot call path does no shape work at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cgraph.codegen.kernels import contiguous_strides, family_functions
from cgraph.codegen.lower import Lowered
from cgraph.graph.basic import Apply

#: workspace buffers start on cache-line boundaries.
ALIGN = 64


class ShapeError(ValueError):
    """Input shapes that the graph cannot compute with; names the node and shapes."""


@dataclass(frozen=True)
class Plan:
    """What one call shape needs: the filled P array and the output shapes."""

    params: np.ndarray                 # int64 P array passed to C
    out_shapes: tuple[tuple[int, ...], ...]
    workspace: int                     # bytes


def describe(node: Apply) -> str:
    """A short description of a node for error messages, with its creation site."""
    args = ", ".join(f"{v!r}: {v.type}" for v in node.inputs)
    where = node.tag.get("trace")
    site = f" (created at {where})" if where else ""
    return f"{node.op}({args}){site}"


def make_plan(lowered: Lowered, input_shapes: tuple[tuple[int, ...], ...]) -> Plan:
    """Compute every variable's layout and every kernel's parameters for these shapes.

    Raises
    ------
    ShapeError
        When the shapes are incompatible (broadcasting, dot alignment, ...), naming
        the node and the shapes it got.
    """
    fgraph = lowered.fgraph
    layouts: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for v, shape in zip(fgraph.inputs, input_shapes):
        layouts[id(v)] = (tuple(shape), contiguous_strides(shape))
    P = np.zeros(lowered.program.n_slots, dtype=np.int64)
    workspace = 0
    for node in lowered.nodes:
        for v in node.inputs:
            if id(v) not in layouts:  # a constant
                shape = np.shape(v.data)
                layouts[id(v)] = (shape, contiguous_strides(shape))
        in_layouts = [layouts[id(v)] for v in node.inputs]
        in_shapes = [lay[0] for lay in in_layouts]
        try:
            out_shapes = node.op.infer_shape(node, in_shapes)
            if node.op.c_family == "view":
                base_strides = in_layouts[node.op.view_of][1]
                shape, strides, offset = node.op.view_layout(in_shapes, base_strides)
                layouts[id(node.outputs[0])] = (tuple(shape), tuple(strides))
                P[lowered.slots[id(node.outputs[0])]] = offset
                continue
        except ValueError as err:
            raise ShapeError(f"{err}\n  in node {describe(node)}\n  input shapes: "
                             f"{', '.join(map(str, in_shapes))}") from None
        for out, shape in zip(node.outputs, out_shapes):
            shape = tuple(int(n) for n in shape)
            layouts[id(out)] = (shape, contiguous_strides(shape))
            if id(out) in lowered.slots:
                P[lowered.slots[id(out)]] = workspace
                nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(out.type.dtype).itemsize
                workspace += -(-nbytes // ALIGN) * ALIGN
        kernel = lowered.kernels[id(node)]
        _, params_of = family_functions(node.op)
        out_layouts = [layouts[id(o)] for o in node.outputs]
        params = params_of(kernel, node, out_layouts, in_layouts, in_shapes)
        start = lowered.kernel_slots[id(node)]
        P[start:start + len(params)] = params
    P[0] = workspace
    out_shapes = tuple(layouts[id(v)][0] for v in fgraph.outputs)
    P.setflags(write=False)
    return Plan(P, out_shapes, workspace)
