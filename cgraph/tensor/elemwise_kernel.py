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


def _loop_values(operands: Sequence[Operand], layouts: Sequence[tuple], loop_shape: tuple
                 ) -> dict[str, Any]:
    """The `loop_layout` values: dense when every non-scalar operand is C-contiguous
    with the loop's shape."""
    strides: list[int] = []
    dense = True
    for operand, (shape, st) in zip(operands, layouts):
        strides.extend(loop_strides(shape, st, loop_shape))
        if not operand.scalar:
            dense = dense and tuple(shape) == tuple(loop_shape) and is_dense(shape, st)
    return {"dense": int(dense), "size": math.prod(loop_shape), "shape": loop_shape,
            "strides": strides}


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
        return kernel.layout.build(**_loop_values(kernel.outputs + kernel.inputs,
                                                  out_layouts + in_layouts, loop_shape))


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
