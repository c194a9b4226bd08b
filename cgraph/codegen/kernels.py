"""Kernel families: how a node becomes a C kernel, as plain data.

Each family turns a graph node into a frozen description (rendered by
`templates/<family>.c.j2`) and computes, per call shape, the integer parameters
that the kernel reads from the plan array `P` (loop bounds, strides, offsets).
The C therefore carries no shape logic: shapes are checked and laid out once per
distinct input shape, in Python, by `cgraph.codegen.plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply
from cgraph.tensor.type import C_TYPES

Shape = tuple[int, ...]
Strides = tuple[int, ...]


@dataclass(frozen=True)
class Operand:
    """A kernel argument: the variable passed (`var`), its C type, and whether it is
    known to hold a single element (static broadcast)."""

    var: str
    ctype: str
    scalar: bool = False


@dataclass(frozen=True)
class Statement:
    """`const ctype name = expr;` inside an elementwise loop body."""

    name: str
    ctype: str
    expr: str


@dataclass(frozen=True)
class Kernel:
    """A node lowered to C: `family` picks the template; `nparams` slots of P.

    `context` carries family-specific data for the template (`k.context.axis`...);
    keep its values plain (ints, strings, tuples) so that its repr is deterministic.
    """

    family: str
    name: str
    comment: str
    outputs: tuple[Operand, ...]
    inputs: tuple[Operand, ...]
    nparams: int
    ndim: int = 0
    statements: tuple[Statement, ...] = ()
    results: tuple[str, ...] = ()
    accumulate: str = ""
    n_parts: int = 0
    context: dict[str, Any] = field(default_factory=dict)


def contiguous_strides(shape: Sequence[int]) -> Strides:
    """Element strides of a C-contiguous array."""
    strides = []
    step = 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def loop_strides(shape: Shape, strides: Strides, loop_shape: Shape) -> Strides:
    """An operand's strides inside a loop over `loop_shape` (0 where it broadcasts)."""
    return tuple(0 if n != m else st for n, m, st in zip(shape, loop_shape, strides))


def is_dense(shape: Shape, strides: Strides) -> bool:
    """Whether the layout is C-contiguous (length-1 axes may have any stride)."""
    expect = contiguous_strides(shape)
    return all(n <= 1 or s == e for n, s, e in zip(shape, strides, expect))


# --------------------------------------------------------------------------- elementwise


def elementwise(node: Apply, name: str, comment: str, outs: list[Operand],
                ins: list[Operand]) -> Kernel:
    """Lower an Elemwise node: one statement per scalar op."""
    out = node.outputs[0]
    op = node.op.scalar_op
    # numpy computes in the inputs' common dtype (int32 * float32 in float64), where C
    # would convert the int32 to float: convert the operands first.
    common = np.result_type(*[v.type.dtype for v in node.inputs]).name
    loads = [f"x{i}" if v.type.dtype == common else f"(({C_TYPES[common]})x{i})"
             for i, v in enumerate(node.inputs)]
    expr = op.c_expr(loads, out.type.dtype, out.type.c_type)
    if out.type.dtype == "bool":  # uint8_t arithmetic: True + True must store 1, not 2
        expr = f"(({expr}) != 0)"
    stmt = Statement("r0", out.type.c_type, expr)
    ndim = out.type.ndim
    nparams = 2 + ndim + ndim * (len(outs) + len(ins))
    return Kernel("elementwise", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  (stmt,), ("r0",))


def elementwise_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                       in_shapes: list[Shape]) -> list[int]:
    """[dense flag, size, loop shape, strides of each output then each input]."""
    loop_shape = out_layouts[0][0]
    size = 1
    for n in loop_shape:
        size *= n
    per_operand = []
    dense = True
    for operand, (shape, strides) in zip(kernel.outputs + kernel.inputs, out_layouts + in_layouts):
        st = loop_strides(shape, strides, loop_shape)
        per_operand.extend(st)
        if not operand.scalar:
            dense = dense and shape == loop_shape and is_dense(shape, strides)
    return [int(dense), size, *loop_shape, *per_operand]


# --------------------------------------------------------------------------- reduce


def reduce(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
           ) -> Kernel:
    """Lower Sum / SumTo: zero the output, then accumulate the input into it."""
    ndim = node.inputs[0].type.ndim
    return Kernel("reduce", name, comment, tuple(outs), tuple(ins[:1]), 1 + 3 * ndim, ndim,
                  accumulate="+=")


def reduce_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                  in_shapes: list[Shape]) -> list[int]:
    """[output size, input shape, input strides, output strides in input space]."""
    in_shape, in_strides = in_layouts[0]
    out_shape, out_strides = out_layouts[0]
    axes = node.op.reduced_axes(in_shapes)
    if node.op.keepdims:
        expanded = [0 if a in axes else s for a, s in enumerate(out_strides)]
    else:
        kept = iter(out_strides)
        expanded = [0 if a in axes else next(kept) for a in range(len(in_shape))]
    size = 1
    for n in out_shape:
        size *= n
    return [size, *in_shape, *in_strides, *expanded]


# --------------------------------------------------------------------------- dot


def dot(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]) -> Kernel:
    """Lower Dot: every 1-d/2-d case as an (M,K) x (K,N) product with strides."""
    return Kernel("dot", name, comment, tuple(outs), tuple(ins), 7)


def dot_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list[Shape]) -> list[int]:
    """[M, N, K, a strides (M, K axes), b strides (K, N axes)]."""
    (sa, ta), (sb, tb) = in_layouts
    if len(sa) == 2:
        m, k, a0, a1 = sa[0], sa[1], ta[0], ta[1]
    else:
        m, k, a0, a1 = 1, sa[0], 0, ta[0]
    if len(sb) == 2:
        n, b0, b1 = sb[1], tb[0], tb[1]
    else:
        n, b0, b1 = 1, tb[0], 0
    return [m, n, k, a0, a1, b0, b1]


# --------------------------------------------------------------------------- join


def join(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]) -> Kernel:
    """Lower Join: copy each input into its slab of the output."""
    ndim = node.outputs[0].type.ndim
    nparams = ndim + len(ins) * (1 + 2 * ndim)
    return Kernel("join", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  n_parts=len(ins))


def join_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                in_shapes: list[Shape]) -> list[int]:
    """[output strides, then per input: output offset, shape, strides]."""
    axis = node.op.axis
    _, out_strides = out_layouts[0]
    params = list(out_strides)
    start = 0
    for shape, strides in in_layouts:
        params.extend([start * out_strides[axis], *shape, *strides])
        start += shape[axis]
    return params


# --------------------------------------------------------------------------- shape value


def shape_value(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
                ) -> Kernel:
    """Lower Shape_i: the value is known from the shapes, so it is a plan parameter."""
    return Kernel("shape_value", name, comment, tuple(outs), (), 1)


def shape_value_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                       in_shapes: list[Shape]) -> list[int]:
    return [node.op.value(in_shapes)]


def family_functions(op: Any) -> tuple:
    """(lowering, per-shape parameters) for an op.

    Shared families live in FAMILIES; an op with a kernel of its own defines
    `c_kernel(node, name, comment, outs, ins) -> Kernel` and
    `c_params(kernel, node, out_layouts, in_layouts, in_shapes) -> list[int]`
    methods instead (its `c_family` then names its template).
    """
    found = FAMILIES.get(op.c_family)
    if found is not None:
        return found
    return op.c_kernel, op.c_params


#: family name -> (lowering, per-shape parameters); both take the node.
FAMILIES = {
    "elementwise": (elementwise, elementwise_params),
    "reduce": (reduce, reduce_params),
    "dot": (dot, dot_params),
    "join": (join, join_params),
    "shape_value": (shape_value, shape_value_params),
}
