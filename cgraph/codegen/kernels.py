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
    """`const ctype name = expr;  /* note where */` inside an elementwise loop body.

    `where` (the user's line) is left out of the repr, hence out of every cache key:
    the same graph built on another line, or in another file, is the same C module.
    """

    name: str
    ctype: str
    expr: str
    note: str = ""
    where: str = field(default="", repr=False, compare=False)

    @property
    def remark(self) -> str:
        """The C comment's text: the original op and where it was built."""
        return self.note + self.where


@dataclass(frozen=True)
class Kernel:
    """A node lowered to C: `family` picks the template; `nparams` slots of P.

    `context` carries family-specific data for the template (`k.context.axis`...);
    keep its values plain (ints, strings, tuples) so that its repr is deterministic.
    """

    family: str
    name: str
    text: str
    outputs: tuple[Operand, ...]
    inputs: tuple[Operand, ...]
    nparams: int
    ndim: int = 0
    statements: tuple[Statement, ...] = ()
    results: tuple[str, ...] = ()
    accumulate: str = ""
    n_parts: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    #: `  at file.py:12`, where the user built the node: not in the repr, so that the
    #: cache keys do not change when the user's code moves (see Statement)
    where: str = field(default="", repr=False, compare=False)

    @property
    def comment(self) -> str:
        """The kernel's C comment: what it computes and where the user built it."""
        return self.text + self.where


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
                [dtypes[a] for a in step.args], step.dtype, *_split_note(step.note)))
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

#: The cblas prefix of the dtypes whose products call BLAS; others use the loop.
BLAS_PREFIX = {"float32": "s", "float64": "d"}
#: Products of fewer multiply-adds (M * N * K) than these, per path, run the generated
#: loop, which beats the BLAS call there. Measured with `python -m benchmarks.dot
#: --threshold` (float64, microseconds per product in a chain of 32, loop vs BLAS):
#: gemm 5x5x5 0.21 vs 0.24, 6x6x6 0.26 vs 0.25, 8x8x8 0.35 vs 0.27; gemv 12x12 0.17 vs
#: 0.20, 16x16 0.21 vs 0.21; dot n=8 0.132 vs 0.136, n=16 0.139 vs 0.136, n=32 0.153 vs
#: 0.140.
BLAS_MIN_WORK = {"gemm": 192, "gemv_a": 256, "gemv_b": 256, "dot": 16}
#: How one 2-D product is computed (templates/gemm.c.j2 switches on these values).
DOT_PATHS = {"loop": 0, "gemm": 1, "gemv_a": 2, "gemv_b": 3, "dot": 4, "zeros": 5, "empty": 6}
#: Slots of one product's parameters: M, N, K, 4 strides, the path, then 3 per operand
#: (transposed flag, leading dimension or vector increment, packed flag).
N_PRODUCT = 14
#: BLAS (scipy-openblas32) takes 32-bit sizes.
_BLAS_INT_MAX = 2**31 - 1


def uses_blas(steps: Sequence[Any]) -> bool:
    """Whether a program's steps call BLAS, so that its module must link it."""
    return any(s.kernel.context.get("blas") for s in steps)


def dot(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]) -> Kernel:
    """Lower Dot and MatMul: a batch (none for Dot) of (M,K) x (K,N) products, each
    computed by BLAS gemm/gemv/dot (float32, float64) or a generated loop."""
    dtype = node.outputs[0].type.dtype
    nb = max(node.inputs[0].type.ndim - 2, 0)
    context = {"nb": nb, "nproduct": N_PRODUCT, "blas": BLAS_PREFIX.get(dtype, ""),
               "sfx": dtype, "bool": dtype == "bool", "paths": tuple(DOT_PATHS.items())}
    return Kernel("dot", name, comment, tuple(outs), tuple(ins), N_PRODUCT + 4 * nb,
                  context=context)


def _blas_matrix(rows: int, cols: int, s0: int, s1: int) -> tuple[int, int, int] | None:
    """(transposed, leading dimension, 0) for a strided matrix, if BLAS can read it."""
    if cols <= 1 or s1 == 1:  # row-major, rows s0 apart
        ld = s0 if rows > 1 else max(cols, 1)
        if max(cols, 1) <= ld <= _BLAS_INT_MAX:
            return 0, ld, 0
    if rows <= 1 or s0 == 1:  # column-major: the transpose of a row-major matrix
        ld = s1 if cols > 1 else max(rows, 1)
        if max(rows, 1) <= ld <= _BLAS_INT_MAX:
            return 1, ld, 0
    return None


def _matrix_operand(rows: int, cols: int, s0: int, s1: int) -> tuple[int, int, int]:
    """BLAS layout of a matrix operand: as it is, or packed (a contiguous copy)."""
    return _blas_matrix(rows, cols, s0, s1) or (0, max(cols, 1), 1)


def _vector_operand(n: int, stride: int) -> tuple[int, int, int]:
    """(0, increment, packed) of a vector operand: BLAS takes positive increments."""
    inc = stride if n > 1 else 1
    return (0, inc, 0) if 1 <= inc <= _BLAS_INT_MAX else (0, 1, 1)


def product_params(m: int, n: int, k: int, strides: Sequence[int], blas: bool) -> list[int]:
    """The N_PRODUCT parameters of one (m,k) x (k,n) product; `strides` are a's along
    (m, k) and b's along (k, n). BLAS is used when `blas` and the product is big enough."""
    a0, a1, b0, b1 = strides
    base = [m, n, k, a0, a1, b0, b1]
    if m * n == 0 or k == 0:
        return base + [DOT_PATHS["empty" if m * n == 0 else "zeros"]] + [0] * 6
    if m == 1 and n == 1:
        path, op_a, op_b = "dot", _vector_operand(k, a1), _vector_operand(k, b0)
    elif n == 1:
        path, op_a, op_b = "gemv_a", _matrix_operand(m, k, a0, a1), _vector_operand(k, b0)
    elif m == 1:
        path, op_a, op_b = "gemv_b", _vector_operand(k, a1), _matrix_operand(k, n, b0, b1)
    else:
        path, op_a, op_b = "gemm", _matrix_operand(m, k, a0, a1), _matrix_operand(k, n, b0, b1)
    if not blas or m * n * k < BLAS_MIN_WORK[path] or max(m, n, k) > _BLAS_INT_MAX:
        return base + [DOT_PATHS["loop"]] + [0] * 6
    return base + [DOT_PATHS[path], *op_a, *op_b]


def _merge_rows(dims: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """(length, stride) of axes (length, stride) merged into one, if evenly strided."""
    kept = [(n, s) for n, s in dims if n != 1]
    if any(n == 0 for n, _ in kept):
        return None
    for (_, outer), (n, inner) in zip(kept, kept[1:]):
        if outer != n * inner:
            return None
    length = int(np.prod([n for n, _ in kept], dtype=np.int64))
    return length, kept[-1][1] if kept else 0


def dot_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list[Shape]) -> list[int]:
    """[the product's N_PRODUCT parameters, then (MatMul) batch shape, and batch strides
    of the output, a and b]."""
    (sa, ta), (sb, tb) = in_layouts
    out_shape, out_strides = out_layouts[0]
    nb = kernel.context["nb"]
    if len(sa) >= 2:
        m, k, a0, a1 = sa[-2], sa[-1], ta[-2], ta[-1]
    else:
        m, k, a0, a1 = 1, sa[0], 0, ta[0]
    if len(sb) >= 2:
        n, b0, b1 = sb[-1], tb[-2], tb[-1]
    else:
        n, b0, b1 = 1, tb[0], 0
    batch = tuple(out_shape[:nb])
    st_o = tuple(out_strides[:nb])
    st_a = loop_strides(tuple(sa[:nb]), tuple(ta[:nb]), batch)
    st_b = loop_strides(tuple(sb[:nb]), tuple(tb[:nb]), batch)
    # b the same for every item (a matrix times a stack): one product of all a's rows.
    merged = _merge_rows(list(zip(batch, st_a)) + [(m, a0)]) if nb else None
    if merged is not None and all(s == 0 or n_ == 1 for n_, s in zip(batch, st_b)):
        m, a0 = merged
        batch, st_o, st_a, st_b = (1,) * nb, (0,) * nb, (0,) * nb, (0,) * nb
    blas = bool(kernel.context["blas"])
    return [*product_params(m, n, k, (a0, a1, b0, b1), blas), *batch, *st_o, *st_a, *st_b]


def _c_number(value: float, dtype: str) -> str:
    """A C literal of a Gemm coefficient (finite; C rounds a double literal to float32
    as numpy does)."""
    return repr(float(value)) if dtype.startswith("float") else f"{int(value)}LL"


def dot_add(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
            ) -> Kernel:
    """Lower Gemm (alpha a b + beta c): c broadcast into the output, then one product
    added by BLAS gemm/gemv/dot with beta = 1 (float32, float64) or the generated loop."""
    dtype = node.outputs[0].type.dtype
    context = {"nb": 0, "nproduct": N_PRODUCT, "blas": BLAS_PREFIX.get(dtype, ""),
               "sfx": dtype, "bool": False, "paths": tuple(DOT_PATHS.items()),
               "alpha": _c_number(node.op.alpha, dtype), "beta": _c_number(node.op.beta, dtype)}
    return Kernel("dot_add", name, comment, tuple(outs), tuple(ins), N_PRODUCT + 7,
                  context=context)


def _as_rows(shape: Sequence[int], strides: Sequence[int]) -> tuple[Shape, Strides]:
    """A layout of at most 2 axes as a matrix (length-1 axes added in front)."""
    pad = 2 - len(shape)
    return (1,) * pad + tuple(shape), (0,) * pad + tuple(strides)


def dot_add_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                   in_shapes: list[Shape]) -> list[int]:
    """[the product's N_PRODUCT parameters, whether the product broadcasts, out as R x C,
    c's strides along (R, C), the (contiguous) product's strides along (R, C)]."""
    product = dot_params(kernel, node, out_layouts, in_layouts[:2], in_shapes[:2])
    out_shape, _ = _as_rows(*out_layouts[0])
    c_shape, c_strides = _as_rows(*in_layouts[2])
    sa, sb = in_shapes[:2]
    prod = tuple(sa[:-1]) + tuple(sb[1:])
    prod_shape, prod_strides = _as_rows(prod, contiguous_strides(prod))
    st_c = loop_strides(c_shape, c_strides, out_shape)
    st_p = loop_strides(prod_shape, prod_strides, out_shape)
    broadcast = int(prod_shape != out_shape)
    return [*product, broadcast, *out_shape, *st_c, *st_p]


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


# --------------------------------------------------------------------------- indexing


def _array_params(r: Any) -> list[int]:
    """Per index array of the `Region` r: axis length, stride of that axis, strides along
    the region (the last block of P that every indexing kernel reads)."""
    params = []
    for _, n, stride, strides in r.arrays:
        params.extend([n, stride, *strides])
    return params


def gather(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
           ) -> Kernel:
    """Lower AdvancedSubtensor: each output element read from x through index arrays."""
    ndim, nx = node.outputs[0].type.ndim, node.inputs[0].type.ndim
    arrays = node.op.c_arrays(node)
    nparams = 1 + nx + 3 * ndim + len(arrays) * (2 + ndim)
    return Kernel("subtensor_gather", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  context={"ndim": ndim, "x_ndim": nx, "arrays": arrays,
                           "hoist": node.op.c_hoist(node)})


def gather_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                  in_shapes: list[Shape], values: list | None = None) -> list[int]:
    """[x offset, x shape, region shape, output strides, x strides, per index array:
    axis length, x stride, strides along the region]."""
    r = node.op.region_of(in_layouts[0], in_layouts, values)
    return [r.offset, *in_shapes[0], *r.shape, *out_layouts[0][1], *r.strides,
            *_array_params(r)]


def scatter(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
            ) -> Kernel:
    """Lower IncSubtensor: copy x, then set or add y over the indexed region."""
    x = node.inputs[0]
    ndim = node.op.region_ndim(node)
    arrays = node.op.c_arrays(node)
    nparams = 2 + 3 * x.ndim + 1 + 3 * ndim + len(arrays) * (2 + ndim)
    if node.op.set_instead_of_inc:
        op = "="
    else:
        op = "|=" if x.dtype == "bool" else "+="
    return Kernel("subtensor_scatter", name, comment, tuple(outs), tuple(ins), nparams, ndim,
                  context={"ndim": ndim, "x_ndim": x.ndim, "arrays": arrays, "op": op,
                           "hoist": node.op.c_hoist(node)})


def scatter_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                   in_shapes: list[Shape], values: list | None = None) -> list[int]:
    """[x dense flag, size, x shape, x strides, output strides, region offset, region
    shape, its strides in the output, y strides, per index array: axis length, output
    stride, strides along the region]."""
    (x_shape, x_strides), (y_shape, y_strides) = in_layouts[:2]
    out_strides = out_layouts[0][1]
    r = node.op.region_of((x_shape, out_strides), in_layouts, values)
    extra = max(len(y_shape) - len(r.shape), 0)  # leading length-1 axes: numpy drops them
    y_shape, y_strides = y_shape[extra:], y_strides[extra:]
    pad = len(r.shape) - len(y_shape)
    st_y = (0,) * pad + loop_strides(tuple(y_shape), tuple(y_strides), r.shape[pad:])
    size = int(np.prod(x_shape, dtype=np.int64))
    return [int(is_dense(tuple(x_shape), tuple(x_strides))), size, *x_shape, *x_strides,
            *out_strides, r.offset, *r.shape, *r.strides, *st_y, *_array_params(r)]


def nonzero(node: Apply, name: str, comment: str, outs: list[Operand], ins: list[Operand]
            ) -> Kernel:
    """Lower Nonzero: the coordinates of the mask's nonzero elements, in C order."""
    ndim = node.inputs[0].type.ndim
    return Kernel("subtensor_nonzero", name, comment, tuple(outs), tuple(ins), 1 + 2 * ndim,
                  ndim, context={"ndim": ndim})


def nonzero_params(kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                   in_shapes: list[Shape], values: list | None = None) -> list[int]:
    """[the count the planner found, mask shape, mask strides]."""
    shape, strides = in_layouts[0]
    return [out_layouts[0][0][0], *shape, *strides]


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
    "dot_add": (dot_add, dot_add_params),
    "join": (join, join_params),
    "shape_value": (shape_value, shape_value_params),
    "subtensor_gather": (gather, gather_params),
    "subtensor_scatter": (scatter, scatter_params),
    "subtensor_nonzero": (nonzero, nonzero_params),
}
