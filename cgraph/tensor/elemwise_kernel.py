"""The kernels of the elementwise ops (`cgraph.tensor.elemwise` registers them):
one loop (`templates/elementwise.c.j2`) around one C statement per scalar op, and
the fused sum (`templates/fused_sum.c.j2`) that accumulates such a loop's value.

Plan slots (`ParamLayout`): a dense flag (every operand C-contiguous with the loop's
shape: one flat loop), the element count, the loop shape, then each operand's
strides in the loop (0 where it broadcasts).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import Any

from cgraph.kernel import (
    Kernel,
    KernelBuilder,
    Operand,
    ParamLayout,
    Statement,
    is_dense,
    loop_strides,
)
from cgraph.tensor.shape import checked_size
from cgraph.tensor.type import C_TYPES


def scalar_statement(op: Any, name: str, args: Sequence[str], arg_dtypes: Sequence[str],
                     out_dtype: str, note: str = "", where: str = "") -> Statement:
    """`name = op(args)` in C, computed as numpy would."""
    # numpy computes in the inputs' common dtype (int32 * float32 in float64), where C
    # would convert the int32 to float: convert the operands first (those the op
    # computes with: a switch's condition keeps its own dtype).
    loads = [a if d == t else f"(({C_TYPES[t]}){a})"
             for a, d, t in zip(args, arg_dtypes, op.load_dtypes(arg_dtypes))]
    expr = op.c_expr(loads, out_dtype, C_TYPES[out_dtype])
    if out_dtype == "bool":  # uint8_t arithmetic: True + True must store 1, not 2
        expr = f"(({expr}) != 0)"
    return Statement(name, C_TYPES[out_dtype], expr, note, where)


def _safe_note(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.,:=+\-\[\]() ]", "_", text)[:80]


def _split_note(note: str) -> tuple[str, str]:
    """A fused step's note `sin at net.py:12` as (`sin`, ` at net.py:12`), both safe."""
    what, at, where = note.partition(" at ")
    return _safe_note(what), _safe_note(at + where) if at else ""


def composite_statements(comp: Any, in_dtypes: Sequence[str]
                         ) -> tuple[list[Statement], tuple[str, ...]]:
    """The statements of a Composite's steps (`t0`, `t1`...) on inputs `x0`, `x1`...,
    and the names of its outputs."""
    names = [f"x{i}" for i in range(len(in_dtypes))]
    dtypes = list(in_dtypes)
    statements = []
    for k, step in enumerate(comp.steps):
        statements.append(scalar_statement(
            step.op, f"t{k}", [names[a] for a in step.args],
            [dtypes[a] for a in step.args], step.dtype, *_split_note(step.note)))
        names.append(f"t{k}")
        dtypes.append(step.dtype)
    return statements, tuple(names[v] for v in comp.outputs)


@functools.cache
def loop_layout(family: str, ndim: int, n_operands: int) -> ParamLayout:
    """The plan slots of a loop over `ndim` axes reading `n_operands` strided operands."""
    return ParamLayout(family, dense=1, size=1, shape=ndim, strides=(n_operands, ndim))


def inner_broadcast(node: Any) -> tuple[int, ...]:
    """The inputs that broadcast along the loop's last axis by their types (static
    length 1 there, where the outputs' is not 1; Theano's rule makes that static): a
    row loop reads one value of each per row (a channel's bias over an image row)."""
    ndim = node.outputs[0].type.ndim
    if ndim == 0 or all(v.type.shape[-1] == 1 for v in node.outputs):
        return ()
    return tuple(k for k, v in enumerate(node.inputs)
                 if v.type.ndim == ndim and v.type.shape[-1] == 1)


def used_inputs(statements: Sequence[Statement]) -> tuple[int, ...]:
    """The inputs (`x0`, `x1`...) the statements read (the others matter by shape)."""
    return tuple(sorted({int(m) for s in statements for m in re.findall(r"\bx(\d+)\b", s.expr)}))


def merge_axes(loop_shape: Sequence[int], strides: Sequence[Sequence[int]],
               rows: Sequence[int] = ()) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The same loop over fewer axes, as numpy's iterator does: an axis merges into the
    next inner one when every operand steps across it as across the inner one's whole
    length (stride 0 in both where it broadcasts), and a length-1 axis into any. The
    rank is kept: merged axes become outer axes of length 1 (stride 0).

    A channel's bias over (N, C, H, W) images reads (0, 1, 0, 0): H and W merge into
    one inner row of H*W points. Looped over rows of W = 12 floats, the row's SIMD
    loop ran only its scalar remainder (16 lanes), and tanh(x + bias) took 13x the
    time of tanh(x) (float32 64x20x12x12: 1044 us against 77).

    The operands `rows` are read once a row (`inner_broadcast`): the loop is left as it
    is when merging would make them step along its last axis (that axis had length 1
    in this call, so their type's length 1 there was no broadcast)."""
    ndim = len(loop_shape)
    if ndim < 2 or 0 in loop_shape or any(len(st) != ndim for st in strides):
        return tuple(loop_shape), [tuple(st) for st in strides]
    merged: list[tuple[int, list[int]]] = []  # (length, each operand's stride), inner first
    for axis in reversed(range(ndim)):
        n = loop_shape[axis]
        if n == 1:
            continue
        if merged and all(st[axis] == inner * merged[-1][0]
                          for st, inner in zip(strides, merged[-1][1])):
            merged[-1] = (merged[-1][0] * n, merged[-1][1])
        else:
            merged.append((n, [st[axis] for st in strides]))
    if merged and any(merged[0][1][k] != 0 for k in rows):
        return tuple(loop_shape), [tuple(st) for st in strides]
    pad = ndim - len(merged)
    shape = (1,) * pad + tuple(n for n, _ in reversed(merged))
    return shape, [(0,) * pad + tuple(sts[k] for _, sts in reversed(merged))
                   for k in range(len(strides))]


def _loop_values(operands: Sequence[Operand], layouts: Sequence[tuple], loop_shape: tuple,
                 merge: bool = False, rows: Sequence[int] = ()) -> dict[str, Any]:
    """The `loop_layout` values: dense when every non-scalar operand is C-contiguous
    with the loop's shape; else, with `merge`, the loop over its axes merged (`rows`:
    the operands read once a row)."""
    each: list[tuple[int, ...]] = []
    dense = True
    for operand, (shape, st) in zip(operands, layouts):
        each.append(loop_strides(shape, st, loop_shape))
        if not operand.scalar:
            dense = dense and tuple(shape) == tuple(loop_shape) and is_dense(shape, st)
    size = math.prod(loop_shape)
    if merge and not dense:
        loop_shape, each = merge_axes(loop_shape, each, rows)
    return {"dense": int(dense), "size": size, "shape": loop_shape,
            "strides": [s for st in each for s in st]}


class ElementwiseKernel(KernelBuilder):
    """An Elemwise node: one statement in the shared loop."""

    family = "elementwise"
    elementwise = True
    cannot_fail = True

    def statements(self, node: Any) -> tuple[list[Statement], tuple[str, ...]]:
        """The loop body's statements and the names of the values written out."""
        in_dtypes = [v.type.dtype for v in node.inputs]
        names = [f"x{i}" for i in range(len(node.inputs))]
        out_dtype = node.outputs[0].type.dtype
        return [scalar_statement(node.op.scalar_op, "r0", names, in_dtypes, out_dtype)], ("r0",)

    def lower(self, node: Any, name: str, comment: str, outs: list[Operand],
              ins: list[Operand]) -> Kernel:
        statements, results = self.statements(node)
        ndim = node.outputs[0].type.ndim
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      loop_layout(self.family, ndim, len(outs) + len(ins)), ndim,
                      tuple(statements), results,
                      context={"used": used_inputs(statements),
                               "inner": inner_broadcast(node)})

    def params(self, kernel: Kernel, node: Any, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        # A fused kernel's outputs may be smaller than its loop (a broadcast intermediate
        # that is also an output): the loop runs over the largest, the others repeat.
        out_shapes = [shape for shape, _ in out_layouts]
        loop_shape = tuple(0 if 0 in sizes else max(sizes) for sizes in zip(*out_shapes))
        if 0 in loop_shape and any(0 not in shape for shape in out_shapes):
            raise ValueError(f"a fused elementwise loop cannot compute outputs of shapes "
                             f"{', '.join(map(str, out_shapes))} (some empty, some not); "
                             "compile with config.change_flags(rewrite_exclude=['fusion'])")
        rows = [len(kernel.outputs) + k for k in kernel.context.get("inner", ())]
        return kernel.layout.build(**_loop_values(kernel.outputs + kernel.inputs,
                                                  out_layouts + in_layouts, loop_shape,
                                                  merge=True, rows=rows))


class FusedElementwiseKernel(ElementwiseKernel):
    """A FusedElemwise node: one statement per fused op, in one loop."""

    def statements(self, node: Any) -> tuple[list[Statement], tuple[str, ...]]:
        return composite_statements(node.op.scalar_op, [v.type.dtype for v in node.inputs])

    def sites(self, node: Any) -> list[str]:
        return [s.note.rpartition(" at ")[2] for s in node.op.scalar_op.steps
                if " at " in s.note]


class FusedSumKernel(FusedElementwiseKernel):
    """A FusedSum node: the composite's statements, accumulated into one sum."""

    family = "fused_sum"
    elementwise = False
    cannot_fail = False

    def lower(self, node: Any, name: str, comment: str, outs: list[Operand],
              ins: list[Operand]) -> Kernel:
        statements, results = self.statements(node)
        ndim = node.inputs[0].type.ndim if node.inputs else 0
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      loop_layout(self.family, ndim, len(ins)), ndim, tuple(statements),
                      results, "+=", context={"used": used_inputs(statements)})

    def params(self, kernel: Kernel, node: Any, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        loop_shape = node.op.loop_shape(node, in_shapes)
        return kernel.layout.build(**_loop_values(kernel.inputs, in_layouts, loop_shape))

    def check_sizes(self, node: Any, in_shapes: list) -> None:
        checked_size(node.op.loop_shape(node, in_shapes), node.outputs[0].type.dtype,
                     "the summed array")
