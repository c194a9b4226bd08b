"""Kernel families: how a node becomes a C kernel, as plain data.

Each family turns a graph node into a frozen description (rendered by
`templates/<family>.c.j2`) and computes, per call shape, the integer parameters
that the kernel reads from the plan array `P` (loop bounds, strides, offsets).
The C therefore carries no shape logic: shapes are checked and laid out once per
distinct input shape, in Python, by `cgraph.codegen.plan`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply
from cgraph.tensor.elemwise import Composite
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
    """`const ctype name = expr;  /* note */` inside an elementwise loop body."""

    name: str
    ctype: str
    expr: str
    note: str = ""


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


def scalar_statement(op: Any, name: str, args: Sequence[str], arg_dtypes: Sequence[str],
                     out_dtype: str, note: str = "") -> Statement:
    """`name = op(args)` in C, computed as numpy would."""
    # numpy computes in the inputs' common dtype (int32 * float32 in float64), where C
    # would convert the int32 to float: convert the operands first.
    common = np.result_type(*arg_dtypes).name
    loads = [a if d == common else f"(({C_TYPES[common]}){a})" for a, d in zip(args, arg_dtypes)]
    expr = op.c_expr(loads, out_dtype, C_TYPES[out_dtype])
    if out_dtype == "bool":  # uint8_t arithmetic: True + True must store 1, not 2
        expr = f"(({expr}) != 0)"
    return Statement(name, C_TYPES[out_dtype], expr, note)


def _safe_note(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.,:=+\-\[\]() ]", "_", text)[:80]


def elementwise(node: Apply, name: str, comment: str, outs: list[Operand],
                ins: list[Operand]) -> Kernel:
    """Lower an Elemwise node (one statement) or a fused one (one per original op)."""
    op = node.op.scalar_op
    in_dtypes = [v.type.dtype for v in node.inputs]
    names = [f"x{i}" for i in range(len(node.inputs))]
    if isinstance(op, Composite):
        dtypes = list(in_dtypes)
        statements = []
        for k, step in enumerate(op.steps):
            statements.append(scalar_statement(
                step.op, f"t{k}", [names[a] for a in step.args],
                [dtypes[a] for a in step.args], step.dtype, _safe_note(step.note)))
            names.append(f"t{k}")
            dtypes.append(step.dtype)
        results = tuple(names[v] for v in op.outputs)
    else:
        out_dtype = node.outputs[0].type.dtype
        statements = [scalar_statement(op, "r0", names, in_dtypes, out_dtype)]
        results = ("r0",)
    used = {int(m) for s in statements for m in re.findall(r"\bx(\d+)\b", s.expr)}
    ndim = node.outputs[0].type.ndim
    nparams = 2 + ndim + ndim * (len(outs) + len(ins))
    return Kernel("elementwise", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  tuple(statements), results, context={"used": tuple(sorted(used))})


def elementwise_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                       in_shapes: list[Shape]) -> list[int]:
    """[dense flag, size, loop shape, strides of each output then each input]."""
    # A fused kernel's outputs may be smaller than its loop (a broadcast intermediate
    # that is also an output): the loop runs over the largest, the others repeat.
    out_shapes = [shape for shape, _ in out_layouts]
    loop_shape = tuple(0 if 0 in sizes else max(sizes) for sizes in zip(*out_shapes))
    if 0 in loop_shape and any(0 not in shape for shape in out_shapes):
        raise ValueError(f"a fused elementwise loop cannot compute outputs of shapes "
                         f"{', '.join(map(str, out_shapes))} (some empty, some not); compile "
                         "with config.change_flags(rewrite_exclude=['fusion'])")
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


def fused_sum(node: Apply, name: str, comment: str, outs: list[Operand],
              ins: list[Operand]) -> Kernel:
    """Lower a FusedSum: the composite's statements, accumulated into one sum."""
    body = elementwise(node, name, comment, outs, ins)
    ndim = node.inputs[0].type.ndim if node.inputs else 0
    nparams = 2 + ndim + ndim * len(ins)
    return Kernel("fused_sum", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  body.statements, body.results, "+=", context=body.context)


def fused_sum_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                     in_shapes: list[Shape]) -> list[int]:
    """[dense flag, size, loop shape, strides of each input]."""
    loop_shape = node.op.loop_shape(in_shapes)
    size = int(np.prod(loop_shape, dtype=np.int64))
    per_operand = []
    dense = True
    for operand, (shape, strides) in zip(kernel.inputs, in_layouts):
        per_operand.extend(loop_strides(shape, strides, loop_shape))
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
    "fused_sum": (fused_sum, fused_sum_params),
    "reduce": (reduce, reduce_params),
    "dot": (dot, dot_params),
    "join": (join, join_params),
    "shape_value": (shape_value, shape_value_params),
}
