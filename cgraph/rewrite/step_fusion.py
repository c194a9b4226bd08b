"""Whole-step fusion (#19): a run of cheap kernels becomes one kernel, a `StepBlock`.

A small training step (the XOR tutorial's) is a dozen kernels of a few elements each,
and each kernel call costs more than its arithmetic. This pass gathers each run of
consecutive kernels in the schedule whose ops are cheap to chain (elementwise loops,
joins, products, reductions and their epilogues: `FAMILIES`) into one `StepBlock`
node. The block holds the run as a graph of its own, lowered to an inner program
(like a scan's step) that its kernel (`templates/block.c.j2`) calls once: the run's
intermediates live in that program's workspace, a local array of the kernel (the
stack) when it takes at most `LOCAL_BYTES`, else a scratch block of the function's
workspace. A module specialized to its plan (`Function.loop(specialize=True)`) inlines
the inner program too, with its plan as constants, so gcc keeps the step in registers.

Where "small" is known: at plan time. The inner program is planned like any other
for each call's shapes, so a block is correct for any size, and a call that brings
large arrays runs the same kernels (their vector and OpenMP paths) from inside the
block, with its workspace on the heap instead of the stack. At compile time only
static shapes are known: a node reading or writing an array whose static shape holds
more than `SMALL_ELEMENTS` elements stays out of every block. Only the graphs of
steps are fused: functions with updates (`function` marks the graph's last
`n_updates` outputs as the updates); a function without state keeps its kernels,
and so does a scan's step (`cgraph.scan.rewrite` says why). A
step that multiplies two matrices (a minibatch's layer), convolves, pools, factors
or transforms (`_large`) is taken to be a step of large arrays and keeps all its
kernels: one small sample at a time is what makes a step small (the XOR tutorial's
matrix-vector products). In a small step, the kernels computing the updates stay
out of the blocks too, so that each may still write straight into its shared
storage when no later kernel needs the old value.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, UniqueOp, Variable, ViewOp
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import Interpreter
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, builder_for, register_kernel

#: The kernel families a block may hold: loops with no plan of their own to make per
#: step, that cannot call back into Python.
FAMILIES = frozenset({"elementwise", "join", "dot", "epilogue", "careduce", "fused_sum",
                      "fused_sum_to", "dot_add", "copy"})
#: Kernels that mark a step of large arrays (with products of two matrices: `_large`).
LARGE_FAMILIES = frozenset({"conv2d", "pool2d", "lapack", "fft", "scan"})
#: A node touching an array whose static shape holds more elements stays apart.
SMALL_ELEMENTS = 4096
#: A block's inner workspace of at most this many bytes is a local array of its kernel.
LOCAL_BYTES = 4096
#: Fewer kernels than this in a run are not worth a block.
MIN_KERNELS = 2


class StepBlock(UniqueOp):
    """Run the graph `fgraph` (inputs -> outputs) as one kernel: see the module's
    docstring. Inputs and outputs are those of `fgraph`, in order."""

    def __init__(self, fgraph: FunctionGraph):
        self.fgraph = fgraph
        self._lowered: Any = None
        self._interpreter: Interpreter | None = None
        self._last: tuple | None = None  # (input shapes, their inner plan)

    def __getstate__(self) -> dict:
        """Pickle the graph; its program and plans (keyed by node ids) are made again."""
        state = dict(vars(self))
        state["_lowered"] = state["_interpreter"] = state["_last"] = None
        return state

    def __str__(self) -> str:
        kernels = [n for n in self.fgraph.toposort() if not isinstance(n.op, ViewOp)]
        return f"block{{{len(kernels)} kernels}}"

    @property
    def lowered(self) -> Any:
        """The inner program, its names prefixed by a digest of its content (the same C
        in every process; two blocks of one module never share a name)."""
        if self._lowered is None:
            from cgraph.codegen.lower import lower  # noqa: PLC0415 (codegen imports rewrites)

            draft = lower(self.fgraph, prefix="b_")
            digest = hashlib.sha256(repr(draft.program).encode()).hexdigest()[:12]
            self._lowered = lower(self.fgraph, prefix=f"b{digest}_")
        return self._lowered

    def make_node(self, *args: Variable) -> Apply:
        for k, (a, v) in enumerate(zip(args, self.fgraph.inputs)):
            if a.type != v.type:
                raise TypeError(f"block: input {k} is {a.type}, expected {v.type}")
        if len(args) != len(self.fgraph.inputs):
            raise TypeError(f"block: {len(self.fgraph.inputs)} inputs expected, got "
                            f"{len(args)}")
        return Apply(self, list(args), [v.type.make_variable() for v in self.fgraph.outputs])

    def plan(self, shapes: list) -> Any:
        """The inner program's plan for these input shapes (the last one is kept: the
        planner asks for it twice, for the shapes and for the kernel's slots)."""
        key = tuple(tuple(int(n) for n in s) for s in shapes)
        last = self._last  # read once: another thread may plan other shapes meanwhile
        if last is None or last[0] != key:
            from cgraph.codegen.plan import make_plan  # noqa: PLC0415

            last = self._last = (key, make_plan(self.lowered, key))
        return last[1]

    def infer_shape(self, node: Apply, shapes: list) -> list:
        return list(self.plan(shapes).out_shapes)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        if self._interpreter is None:
            self._interpreter = Interpreter(self.fgraph.inputs, self.fgraph.outputs)
        return self._interpreter.run(list(inputs))


class BlockKernel(KernelBuilder):
    """A block's kernel: its slots are the inner program's plan, then the offset of the
    inner workspace in the function's (used when it exceeds LOCAL_BYTES)."""

    family = "block"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        from cgraph.codegen.kernels import uses_blas  # noqa: PLC0415
        from cgraph.codegen.render import render_program  # noqa: PLC0415

        program = node.op.lowered.program
        layout = ParamLayout(self.family, plan=program.n_slots, scratch=1)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context={"inner": render_program(program), "entry": program.entry,
                               "local": LOCAL_BYTES, "blas": uses_blas(program.steps)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """Raises ValueError for an input that is not C-contiguous (the inner program
        takes its inputs so)."""
        from cgraph.kernel import contiguous_strides  # noqa: PLC0415

        for k, (shape, strides) in enumerate(in_layouts):
            if tuple(strides) != contiguous_strides(shape) and math.prod(shape) > 1:
                raise ValueError(f"block: input {k} is not contiguous")
        P = node.op.plan(in_shapes).params
        return kernel.layout.build(plan=P.tolist(), scratch=0)

    def scratch(self, node: Apply, in_shapes: list, out_shapes: list) -> int:
        nbytes = int(node.op.plan(in_shapes).params[0])
        return nbytes if nbytes > LOCAL_BYTES else 0

    def writes_in_place(self, node: Any, shared: Any) -> bool:
        return False


register_kernel(BlockKernel(), StepBlock)


def _family(node: Apply) -> str:
    builder = builder_for(type(node.op))
    return "" if builder is None else builder.family


def _small(v: Variable) -> bool:
    """Whether `v` may be small: no static shape says it holds more than SMALL_ELEMENTS."""
    known = [n for n in getattr(v.type, "shape", ()) if n is not None]
    return math.prod(known) <= SMALL_ELEMENTS and (
        not isinstance(v, Constant) or np.size(v.data) <= SMALL_ELEMENTS)


def _updates(fgraph: FunctionGraph) -> set[int]:
    """Ids of the nodes computing a shared variable's update (the graph's last
    `n_updates` outputs, as `function` marks them): kept apart, see the module
    docstring."""
    n = getattr(fgraph, "n_updates", 0)
    return {id(v.owner) for v in fgraph.outputs[len(fgraph.outputs) - n:]
            if v.owner is not None}


def _large(node: Apply) -> bool:
    """Whether the node marks a step of large arrays: a product of two matrices (a
    minibatch's layer), a convolution, a pooling, a factorization or a transform."""
    family = _family(node)
    if family in ("dot", "dot_add"):
        return sum(v.type.ndim >= 2 for v in node.inputs) >= 2
    return family in LARGE_FAMILIES


def _value_view(v: Variable) -> bool:
    """Whether `v` is a view whose layout, or its base's, depends on values."""
    while v.owner is not None and isinstance(v.owner.op, ViewOp):
        if v.owner.op.value_inputs:
            return True
        v = v.owner.inputs[v.owner.op.view_of]
    return False


def _eligible(node: Apply, updates: set[int]) -> bool:
    if any(_value_view(v) for v in node.inputs):
        return False  # a view the block could not make again from its base
    if isinstance(node.op, ViewOp):
        return not node.op.value_inputs and all(_small(v) for v in (*node.inputs,
                                                                     *node.outputs))
    if _family(node) not in FAMILIES or node.op.value_inputs or id(node) in updates:
        return False
    return all(_small(v) for v in (*node.inputs, *node.outputs))


def _runs(fgraph: FunctionGraph) -> list[list[Apply]]:
    """The runs of consecutive eligible nodes in the schedule (a run of a topological
    order is convex: a path between two of its nodes passes only through it), each
    stripped of the views at its ends, kept if it holds MIN_KERNELS kernels."""
    from cgraph.graph.lazy import guards  # noqa: PLC0415

    if not getattr(fgraph, "n_updates", 0):
        return []  # not a step: no state carried from one call to the next
    nodes = fgraph.toposort()
    if any(_large(node) for node in nodes):
        return []
    lazy = guards(fgraph.outputs, nodes)
    updates = _updates(fgraph)
    runs: list[list[Apply]] = [[]]
    for node in nodes:
        if id(node) not in lazy and _eligible(node, updates):
            runs[-1].append(node)
        elif runs[-1]:
            runs.append([])
    kept = []
    for run in runs:
        while run and isinstance(run[-1].op, ViewOp):
            run.pop()
        if sum(not isinstance(n.op, ViewOp) for n in run) >= MIN_KERNELS:
            kept.append(run)
    return kept


def _block(fgraph: FunctionGraph, run: list[Apply]) -> None:
    """Replace the nodes of `run` by one StepBlock node."""
    inside = {id(o) for n in run for o in n.outputs}
    members = {id(n) for n in run}
    inputs: list[Variable] = []
    seen: set[int] = set()
    todo = [v for n in run for v in n.inputs][::-1]
    while todo:
        v = todo.pop()
        if id(v) in inside or id(v) in seen:
            continue
        seen.add(id(v))
        if v.owner is not None and isinstance(v.owner.op, ViewOp):
            # The inner program takes C-contiguous inputs: a view made before the run
            # is made again inside it, from what it reads (`_eligible` keeps the views
            # whose layout depends on values out).
            todo.extend(v.owner.inputs[::-1])
            continue
        # Small constants other than float scalars go into the inner program as C
        # literals; the others stay arguments (`passed_as_value`).
        if isinstance(v, Constant) and not _argument(v):
            continue
        inputs.append(v)
    wanted = {id(v) for v in fgraph.outputs}
    clients = fgraph.clients()
    outputs = [o for n in run for o in n.outputs
               if id(o) in wanted or any(id(c) not in members for c, _ in clients.get(id(o), ()))]
    inner = FunctionGraph(inputs, outputs)
    node = StepBlock(inner).make_node(*inputs)
    for old, new in zip(outputs, node.outputs):
        fgraph.replace(old, new)


def _argument(v: Constant) -> bool:
    from cgraph.codegen.lower import MAX_INLINE_CONSTANT, passed_as_value  # noqa: PLC0415

    data = np.ascontiguousarray(v.data)
    return data.size > MAX_INLINE_CONSTANT or passed_as_value(data)


def fuse_small_steps(fgraph: FunctionGraph) -> dict[str, int]:
    """The pass: each run of cheap kernels (see the module docstring) as one block."""
    runs = _runs(fgraph)
    for run in runs:
        _block(fgraph, run)
    return {"step_block": len(runs)} if runs else {}
