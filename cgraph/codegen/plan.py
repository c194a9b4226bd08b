"""The per-shape plan: shapes checked, layouts and workspace laid out, P filled.

A compiled function calls `make_plan` once per distinct tuple of input shapes and
caches the result, so the hot call path does no shape work at all.

Some shapes depend on values (`reshape(x, (n, -1))`, `alloc(0, n)`, `x[i:]`): the ops
say which inputs (`Op.value_inputs`), and the planner evaluates those values with
the ops' numpy references, from constants, shapes and the call's arguments. The
function then keys its plan cache on those arguments' values too.

Sizes are Python ints, never wrapped: an array past numpy's size limit is a
`ShapeError` (a ValueError, like numpy's "array is too big") naming the node, and a
workspace past int64 bytes a MemoryError naming its largest buffer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cgraph.codegen.lower import Lowered
from cgraph.codegen.memory import Workspace
from cgraph.graph.basic import Apply, ViewOp
from cgraph.graph.interpret import evaluate
from cgraph.graph.lazy import holds
from cgraph.kernel import Kernel, KernelBuilder, LayoutError, builder_of, contiguous_strides
from cgraph.tensor.shape import MAX_BYTES, checked_size

#: workspace buffers start on cache-line boundaries.
ALIGN = 64
#: the layout of a value a lazy branch did not compute.
_SKIPPED: tuple = ((0,), (0,))


class ShapeError(ValueError):
    """Input shapes that the graph cannot compute with; names the node and shapes.

    `node` and `input_shapes` (when known) are the failing node and the shapes it got.
    """

    def __init__(self, message: str, node: Apply | None = None,
                 input_shapes: tuple = ()):
        super().__init__(message)
        self.node = node
        self.input_shapes = tuple(input_shapes)


@dataclass(frozen=True)
class PlanTail:
    """What `KernelBuilder.params` returns for a kernel that also reads plan values
    whose count only the plan knows (a scan's plans of each step): `params` fill the
    kernel's slots as usual, `make_plan` appends `values` after P's fixed slots and
    writes their offset from the kernel's first slot into `params[at]`."""

    params: list[int]
    values: np.ndarray
    at: int


@dataclass(frozen=True)
class Buffer:
    """An array a call allocates (a workspace buffer or an output), for messages."""

    node: Apply | None        # the node computing it (None: an input or a constant)
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    role: str = "the output"  # what it is to the node: "the scratch" of its kernel

    def describe(self, labels: dict | None = None) -> str:
        """`float64 (3, 4), 96 bytes, the output of node [id A] ...`."""
        text = f"{self.dtype} {self.shape}, {self.nbytes} bytes"
        if self.node is None:
            return text
        label = (labels or {}).get(id(self.node))
        node = f"[id {label}] {describe(self.node)}" if label else describe(self.node)
        return f"{text}, {self.role} of node {node}"


def readable_bytes(n: int) -> str:
    """`1.02 PiB`: a byte count in binary units, as numpy's allocation errors show it."""
    value, units = float(n), ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"]
    while value >= 1024 and len(units) > 1:
        value /= 1024
        units.pop(0)
    return f"{value:.3g} {units[0]}"


def allocation_error(what: str, nbytes: int, input_shapes: tuple, buffer: Buffer | None,
                     labels: dict | None = None) -> MemoryError:
    """The MemoryError of a call that cannot allocate `nbytes` bytes for `what` (the
    workspace, an output), naming the call's input shapes and the array `buffer`."""
    shapes = ", ".join(str(tuple(s)) for s in input_shapes) or "none"
    text = (f"cannot allocate {what}: {nbytes} bytes ({readable_bytes(nbytes)}) for the "
            f"input shapes {shapes}")
    if buffer is not None:
        role = "its largest buffer" if what == "the workspace" else "it"
        text += f"\n  {role}: {buffer.describe(labels)}"
    return MemoryError(text)


@dataclass(frozen=True)
class Plan:
    """What one call shape needs: the filled P array and the output shapes."""

    params: np.ndarray                 # int64 P array passed to C
    out_shapes: tuple[tuple[int, ...], ...]
    workspace: int                     # bytes
    kernel_bytes: tuple[int, ...] = ()  # bytes each kernel reads and writes (profiling)
    inplace: tuple[bool, ...] = ()      # per update: written into the shared storage
    shapes: dict | None = None          # id(variable) -> shape (error messages, profiles)
    largest: Buffer | None = None       # the largest workspace buffer (error messages)


def describe(node: Apply) -> str:
    """A short description of a node for error messages, with its creation site."""
    args = ", ".join(f"{v!r}: {v.type}" for v in node.inputs)
    where = node.tag.get("trace")
    site = f" (created at {where})" if where else ""
    return f"{node.op}({args}){site}"


class _Values:
    """The values of the variables that shapes depend on, computed on demand by the
    numpy interpreter (only the nodes they need; an op that reads only shapes gets
    them from the plan's layouts)."""

    def __init__(self, lowered: Lowered, layouts: dict, arrays: list | None):
        self.fgraph = lowered.fgraph
        self.memo: dict[int, np.ndarray] = (
            {} if arrays is None else
            {id(v): np.asarray(a) for v, a in zip(self.fgraph.inputs, arrays)})
        self.shape_of = lambda v: layouts[id(v)][0]

    def __call__(self, v) -> np.ndarray:
        """The value of `v` (MissingValue, a RuntimeError, when it needs an argument's
        value and the plan was made from shapes alone)."""
        with np.errstate(all="ignore"):
            (value,) = evaluate([v], self.memo, self.shape_of, outputs=self.fgraph.outputs)
        return np.asarray(value)

    def of(self, node: Apply) -> list:
        """The `values` argument for a node: arrays at its value inputs, else None."""
        return [self(v) if i in node.op.value_inputs else None
                for i, v in enumerate(node.inputs)]


def _check_sizes(node: Apply, builder: KernelBuilder, out_shapes: list, in_shapes: list
                 ) -> None:
    """Every output of `node`, and any array its kernel stands for (a fused sum's
    loop, `KernelBuilder.check_sizes`), within numpy's size limit; a ValueError
    otherwise."""
    for k, (out, shape) in enumerate(zip(node.outputs, out_shapes)):
        what = "the result" if len(node.outputs) == 1 else f"output {k}"
        checked_size(shape, out.type.dtype, what)
    builder.check_sizes(node, in_shapes)


def _write_params(P: np.ndarray, start: int, kernel: Kernel, node: Apply,
                  params: Sequence[int]) -> None:
    """Write a kernel's plan values into its slots of P, refusing any other count: one
    value too many would silently overwrite the next kernel's slots."""
    if len(params) != kernel.nparams:
        raise LayoutError(f"kernel {kernel.name} ({kernel.family}) of node "
                          f"{describe(node)}: {len(params)} plan values for its "
                          f"{kernel.nparams} slots ({kernel.layout})")
    P[start:start + len(params)] = params


def _shape_error(err: Exception, node: Apply, in_shapes: list) -> ShapeError:
    return ShapeError(f"{err}\n  in node {describe(node)}\n  input shapes: "
                      f"{', '.join(map(str, in_shapes))}", node, in_shapes)


def make_plan(lowered: Lowered, input_shapes: tuple[tuple[int, ...], ...],
              arrays: list | None = None) -> Plan:
    """Compute every variable's layout and every kernel's parameters for these shapes.

    `arrays` (the call's arguments) is needed when shapes depend on input values
    (`lowered.value_args`).

    Raises
    ------
    ShapeError
        When the shapes are incompatible (broadcasting, dot alignment, ...) or make an
        array past numpy's size limit, naming the node and the shapes it got.
    MemoryError
        When the workspace would take more than int64 bytes.
    """
    fgraph = lowered.fgraph
    layouts: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    for v, shape in zip(fgraph.inputs, input_shapes):
        layouts[id(v)] = (tuple(shape), contiguous_strides(shape))
    P = np.zeros(lowered.program.n_slots, dtype=np.int64)
    workspace = Workspace(lowered.nodes, ALIGN,  # intermediate buffers, reused when dead
                          frozenset(id(v) for v in fgraph.outputs))
    value_of = _Values(lowered, layouts, arrays)
    kernel_bytes: list[int] = []
    largest: Buffer | None = None
    tails: list[np.ndarray] = []  # the kernels' PlanTail values, appended to P
    tail_end = lowered.program.n_slots

    def taken(ifelse_id: int) -> int:
        ifelse = lowered.nodes_by_id[ifelse_id]
        return ifelse.op.taken(value_of(ifelse.inputs[0]))

    n_in = len(fgraph.inputs)
    direct = {id(fgraph.outputs[u.out_arg - n_in]): u  # updates that may go in place
              for u in lowered.program.updates if u.inplace_slot >= 0}
    for k, node in enumerate(lowered.nodes):
        workspace.node_done(k - 1)
        guard = lowered.guards.get(id(node))
        if guard is not None:
            run = holds(guard, taken)
            if id(node) in lowered.guard_slots:
                P[lowered.guard_slots[id(node)]] = int(run)
            if not run:  # a branch not taken: no shapes, no kernel
                if not isinstance(node.op, ViewOp):
                    kernel_bytes.append(0)
                continue
        for v in node.inputs:
            if id(v) not in layouts and hasattr(v, "data"):  # a constant
                shape = np.shape(v.data)
                layouts[id(v)] = (shape, contiguous_strides(shape))
        # Inputs from a branch not taken have no layout (only ifelse reads them).
        in_layouts = [layouts.get(id(v), _SKIPPED) for v in node.inputs]
        in_shapes = [lay[0] for lay in in_layouts]
        extra: tuple = (value_of.of(node),) if node.op.value_inputs else ()
        try:
            out_shapes = node.op.infer_shape(node, in_shapes, *extra)
            if isinstance(node.op, ViewOp):
                base_strides = in_layouts[node.op.view_of][1]
                shape, strides, offset = node.op.view_layout(in_shapes, base_strides, *extra)
                layouts[id(node.outputs[0])] = (tuple(shape), tuple(strides))
                P[lowered.slots[id(node.outputs[0])]] = offset
                continue
            if id(node) not in lowered.kernels:  # a plan value (lower.plan_value)
                out, shape = node.outputs[0], tuple(out_shapes[0])
                value = np.asarray(node.op.value(in_shapes), dtype=np.int64).reshape(-1)
                start = lowered.slots[id(out)]
                P[start:start + value.size] = value
                layouts[id(out)] = (shape, contiguous_strides(shape))
                continue
            builder = builder_of(node.op)
            _check_sizes(node, builder, out_shapes, in_shapes)
        except ValueError as err:
            raise _shape_error(err, node, in_shapes) from None
        for out, shape in zip(node.outputs, out_shapes):
            shape = tuple(int(n) for n in shape)
            layouts[id(out)] = (shape, contiguous_strides(shape))
            if id(out) in lowered.slots:
                nbytes = math.prod(shape) * np.dtype(out.type.dtype).itemsize
                update = direct.get(id(out))
                if update is not None and shape == tuple(input_shapes[update.shared_arg]):
                    # The kernel writes the shared storage. Its buffer is still placed
                    # (never touched then): Function.loop turns the flag off.
                    P[update.inplace_slot] = 1
                offset = None
                if builder.elementwise and nbytes:
                    same = [id(v) for v, lay in zip(node.inputs, in_layouts)
                            if lay == layouts[id(out)] and v.type.dtype == out.type.dtype]
                    offset = workspace.take_over(id(out), nbytes, node, k, same)
                if offset is None:
                    offset = workspace.place(id(out), nbytes)
                if largest is None or nbytes > largest.nbytes:
                    largest = Buffer(node, shape, out.type.dtype, nbytes)
                if workspace.size > MAX_BYTES:
                    raise allocation_error("the workspace", workspace.size, input_shapes,
                                           largest)
                P[lowered.slots[id(out)]] = offset
        kernel = lowered.kernels[id(node)]
        out_layouts = [layouts[id(o)] for o in node.outputs]
        start = lowered.kernel_slots[id(node)]
        values = extra[0] if extra else None
        try:
            params = builder.params(kernel, node, out_layouts, in_layouts, in_shapes, values)
            if isinstance(params, PlanTail):
                tails.append(np.asarray(params.values, dtype=np.int64))
                params, at = list(params.params), params.at
                params[at] = tail_end - start
                tail_end += tails[-1].size
            _write_params(P, start, kernel, node, params)
        except OverflowError:
            raise _shape_error(ValueError("a loop bound, stride or offset exceeds int64"),
                               node, in_shapes) from None
        except ValueError as err:
            raise _shape_error(err, node, in_shapes) from None
        nbytes = builder.scratch(node, in_shapes, [lay[0] for lay in out_layouts])
        if nbytes:
            if largest is None or nbytes > largest.nbytes:
                largest = Buffer(node, (nbytes,), "uint8", nbytes, "the scratch")
            offset = workspace.scratch(nbytes)
            if workspace.size > MAX_BYTES:
                raise allocation_error("the workspace", workspace.size, input_shapes,
                                       largest)
            P[start + kernel.layout.slots().scratch] = offset
        kernel_bytes.append(sum(
            math.prod(layout[0]) * np.dtype(v.type.dtype).itemsize
            for v, layout in zip([*node.inputs, *node.outputs], in_layouts + out_layouts)))
    P[0] = workspace = workspace.size
    out_shapes = tuple(layouts[id(v)][0] for v in fgraph.outputs)
    inplace = []
    sizes = {}
    for u in lowered.program.updates:
        for a, slot in u.disjoint:
            if slot not in sizes:
                sizes[slot] = math.prod(input_shapes[a]) * np.dtype(
                    fgraph.inputs[a].type.dtype).itemsize
                P[slot] = sizes[slot]
    for u in lowered.program.updates:
        shape = out_shapes[u.out_arg - len(fgraph.inputs)]
        same = shape == tuple(input_shapes[u.shared_arg])
        P[u.flag_slot] = int(same)
        P[u.bytes_slot] = math.prod(shape) * np.dtype(
            fgraph.outputs[u.out_arg - len(fgraph.inputs)].type.dtype).itemsize
        inplace.append(same)
    if tails:
        P = np.concatenate([P, *tails])
    P.setflags(write=False)
    shapes = {key: layout[0] for key, layout in layouts.items()}
    return Plan(P, out_shapes, workspace, tuple(kernel_bytes), tuple(inplace), shapes,
                largest)
