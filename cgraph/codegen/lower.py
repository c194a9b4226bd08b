"""Lowering: a rewritten FunctionGraph becomes a `Program`, plain data for the renderer.

Every variable gets C storage: a call argument (inputs, shared values, outputs,
big constants), a static array (small constants), a slice of the per-call
workspace (intermediates), or a view of another variable (DimShuffle & co).
Every non-view node becomes the `Kernel` its op's builder makes (`cgraph.kernel`
registry), with a block of slots in the plan array P, named by the kernel's
`ParamLayout`, that `cgraph.codegen.plan` fills per call shape.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace

import numpy as np

from cgraph.codegen.memory import view_bases
from cgraph.graph.basic import Apply, Constant, Variable, ViewOp
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.labels import label_of, node_labels
from cgraph.graph.lazy import guards
from cgraph.kernel import Kernel, KernelBuilder, Operand, builder_of
from cgraph.tensor.math import identity

#: constants with more elements are passed as arguments instead of C literals.
MAX_INLINE_CONSTANT = 256


@dataclass(frozen=True)
class Decl:
    """The C storage of one variable.

    kind is "arg" (pointer argument `a<arg>`), "const" (static array of `values`),
    "buffer" (workspace at offset P[slot]), "view" (`base` + P[slot] elements),
    "plan" (int64 values the planner computes from shapes, in P itself from
    P[slot]: see `plan_value`) or "update" (the shared variable's storage `a<arg>`
    when the update goes in place, see UpdateCopy, else a workspace buffer at
    P[slot]).
    """

    name: str
    ctype: str
    kind: str
    comment: str
    arg: int = -1
    slot: int = -1
    base: str = ""
    values: tuple[str, ...] = ()
    inplace_slot: int = -1


@dataclass(frozen=True)
class Step:
    """A kernel call reading its parameters at P + slot; with a `guard_slot`, the call
    is made only when P[guard_slot] is nonzero (a lazy ifelse branch)."""

    kernel: Kernel
    slot: int
    guard_slot: int = -1


@dataclass(frozen=True)
class UpdateCopy:
    """A shared variable's update, computed into workspace `src` and copied, once every
    kernel has succeeded, into the shared variable's own storage (`a<shared_arg>`) when
    P[flag_slot] says the shapes match, else into the output argument `a<out_arg>`.

    With P[inplace_slot] set, the kernel that computes the update has already written
    it into the shared storage (`src` points there) and there is nothing to copy; the
    planner sets it only for the updates in `in_place_updates`, and only when the shapes
    match.
    """

    src: str
    ctype: str
    shared_arg: int
    out_arg: int
    flag_slot: int
    bytes_slot: int
    inplace_slot: int = -1
    node: int = -1  # position of the node computing the update in the schedule
    #: (argument, P slot of its size in bytes) of every other argument: the update is
    #: written in place only if none of them overlaps the shared storage
    disjoint: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Program:
    """Everything the renderer needs: declarations in order, then kernel calls."""

    entry: str
    n_args: int
    n_slots: int
    decls: tuple[Decl, ...]
    steps: tuple[Step, ...]
    updates: tuple[UpdateCopy, ...] = ()


@dataclass
class Lowered:
    """A Program plus what the per-shape planner needs from the graph."""

    program: Program
    fgraph: FunctionGraph
    nodes: list[Apply]
    slots: dict[int, int]            # id(var) -> P slot (buffer offset or view offset)
    kernel_slots: dict[int, int]     # id(node) -> first P slot of its params
    kernels: dict[int, Kernel]       # id(node) -> kernel
    arg_constants: list[np.ndarray]  # constant data passed as arguments, in order
    value_args: tuple[int, ...] = ()  # inputs whose values the planner needs (shapes)
    guards: dict = field(default_factory=dict)       # id(node) -> guard (lazy ifelse)
    guard_slots: dict = field(default_factory=dict)  # id(node) -> P slot of its run flag
    nodes_by_id: dict = field(default_factory=dict)  # id(node) -> node, for guards


def value_arguments(fgraph: FunctionGraph, nodes: list[Apply]) -> tuple[int, ...]:
    """Positions of the inputs whose data some output shape or view layout depends on.

    Walks up from every value input (`Op.value_inputs`), stopping at ops that only
    read their inputs' shapes (`Op.needs_input_data = False`).
    """
    position = {id(v): i for i, v in enumerate(fgraph.inputs)}
    found: set[int] = set()
    seen: set[int] = set()
    stack = [node.inputs[i] for node in nodes for i in node.op.value_inputs]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if id(v) in position:
            found.add(position[id(v)])
        elif v.owner is not None and v.owner.op.needs_input_data:
            stack.extend(v.owner.inputs)
    return tuple(sorted(found))


def sanitize(text: str) -> str:
    """Make user text safe inside a C comment (it can never close the comment)."""
    return re.sub(r"[^A-Za-z0-9_.,:;=+\-\[\]{}()?<> ]", "_", text)[:80]


def _created_at(node: Apply) -> str:
    """`  at file.py:12`: where the user built the node (the file's name only). It goes
    in the C's comments but not in any cache key (`Kernel.where`). A node made by a
    rewrite from several (a fused loop) names their lines (`KernelBuilder.sites`)."""
    sites = builder_of(node.op).sites(node)
    if sites:
        return "  at " + sanitize(", ".join(dict.fromkeys(sites)))
    trace = node.tag.get("trace")
    if not trace:
        return ""
    path, _, line = trace.rpartition(":")
    return f"  at {sanitize(os.path.basename(path))}:{line}"


def c_literal(value: object, dtype: str) -> str:
    """An exact C literal for one element (shortest round-trip repr for floats)."""
    if dtype.startswith("float"):
        v = float(value)
        if v != v:
            return "NAN"
        if v in (float("inf"), float("-inf")):
            return "INFINITY" if v > 0 else "-INFINITY"
        return repr(v)
    if dtype == "bool":
        return "1" if value else "0"
    v = int(value)
    return f"{v}LL" if dtype.startswith("int") else f"{v}ULL"


def passed_as_value(data: np.ndarray, prefix: str = "") -> bool:
    """Whether a constant reaches the kernels as an argument rather than a C literal: a
    float scalar (a learning rate, a scale), so that a graph differing only in such a
    number names the same C and loads the same module. Kernels read constants through
    pointers either way, so the loops run the same code. The values the rewrites and
    kernels specialize on stay literals (`INLINE_VALUES`), and so do integers (shapes,
    indices) and every constant of an inner program (a scan's step, which has no
    constant arguments)."""
    if prefix or data.size != 1 or data.dtype.kind != "f":
        return False
    return float(data.reshape(-1)[0]) not in INLINE_VALUES


#: Float scalars kept as C literals: the values rewrites test for (x*1, x*0, x*2,
#: x**0.5, x*-1); any other float scalar is an argument (`passed_as_value`).
INLINE_VALUES = frozenset((0.0, 1.0, -1.0, 2.0, 0.5))


def prepare_outputs(fgraph: FunctionGraph) -> None:
    """Make each output a fresh kernel result: copy inputs, constants, views, repeats."""
    seen: set[int] = set()
    inputs = {id(v) for v in fgraph.inputs}
    outputs = []
    for v in fgraph.outputs:
        is_view = v.owner is not None and isinstance(v.owner.op, ViewOp)
        if id(v) in seen or id(v) in inputs or v.owner is None or is_view:
            v = identity(v)
        seen.add(id(v))
        outputs.append(v)
    fgraph.outputs = outputs


#: the most int64 values a node's result may have to be computed into P (`plan_value`).
MAX_PLAN_VALUE = 8


def plan_value(node: Apply) -> bool:
    """Whether the planner computes the node's result into P itself, with no kernel: an
    op computing it from its inputs' shapes alone (`Op.needs_input_data = False`: a
    length, a shape) whose result is a few int64s (a mean's element count read by
    the division's loop). Its kernel would only copy that plan value."""
    out = node.outputs[0] if len(node.outputs) == 1 else None
    return (out is not None and not node.op.needs_input_data and out.type.dtype == "int64"
            and None not in out.type.shape
            and int(np.prod(out.type.shape, dtype=np.int64)) <= MAX_PLAN_VALUE)


def _builder(node: Apply) -> KernelBuilder | None:
    """The node's kernel builder; None for a view (no kernel)."""
    return None if isinstance(node.op, ViewOp) else builder_of(node.op)


def _cannot_fail(node: Apply) -> bool:
    """Whether the node's kernel never fails at run time (`KernelBuilder.cannot_fail`)."""
    builder = _builder(node)
    return builder is not None and builder.cannot_fail


def updates_last(fgraph: FunctionGraph, update_ids: set[int]) -> list[Apply]:
    """The schedule, with the nodes that only compute updates moved to the end: their
    inputs are then all computed, and no later kernel can still need the shared
    variables' old values, so the updates can be written in place. Among them, the
    kernels that may fail (e.g. a gather's index out of range) run before those that
    cannot (elementwise loops, products)."""
    nodes = fgraph.toposort()
    read = {id(v) for node in nodes for v in node.inputs}
    last = [node for node in nodes
            if all(id(o) in update_ids and id(o) not in read for o in node.outputs)]
    moved = {id(node) for node in last}
    last.sort(key=_cannot_fail)  # stable
    return [node for node in nodes if id(node) not in moved] + last


def in_place_updates(fgraph: FunctionGraph, nodes: list[Apply],
                     update_of: dict[int, int]) -> set[int]:
    """The update outputs whose kernel may write straight into the shared storage.

    The kernel's builder must say it can (`KernelBuilder.writes_in_place`: an
    elementwise loop reads element j before it writes element j; a Gemm adds a
    product to it); it reads the shared variable only directly, never through a view (x.T);
    no later kernel reads the shared variable; and every later kernel is one that
    cannot fail, so that a failed call still leaves every shared variable as it was.
    Whether an argument is the same memory is only known at call time: the C checks
    that (`disjoint` in UpdateCopy) before writing in place.
    """
    bases = view_bases(nodes)
    position = {id(node): k for k, node in enumerate(nodes)}
    chosen = set()
    for o, i in update_of.items():
        out, shared = fgraph.outputs[o], fgraph.inputs[i]
        node = out.owner
        builder = None if node is None else _builder(node)
        if builder is None or len(node.outputs) != 1 or not builder.writes_in_place(node, shared):
            continue
        later = nodes[position[id(node)] + 1:]
        if not all(_cannot_fail(n) for n in later):
            continue
        own = {bases.get(id(v)) for v in node.inputs} - {None}
        read_later = {bases.get(id(v), id(v)) for n in later for v in n.inputs}
        if id(shared) in own or id(shared) in read_later:
            continue
        chosen.add(o)
    return chosen


def lower(fgraph: FunctionGraph, update_of: dict[int, int] | None = None,
          prefix: str = "") -> Lowered:
    """Lower `fgraph` to a Program.

    `update_of` maps the positions of the outputs that are updates to the positions of
    the inputs (shared variables) they replace: those are written in place. A `prefix`
    makes an inner program (a scan's step) whose names cannot clash with the outer
    one's, and whose constants are all inlined (it has no constant arguments).
    """
    prepare_outputs(fgraph)
    update_of = update_of or {}
    nodes = updates_last(fgraph, {id(fgraph.outputs[o]) for o in update_of})
    # The labels debugprint shows ([id A]), so that the C names the same nodes.
    labels = node_labels(fgraph.outputs)
    update_outputs = {id(fgraph.outputs[o]): o for o in update_of}
    in_place = in_place_updates(fgraph, nodes, update_of)
    names: dict[int, str] = {}
    decls: list[Decl] = []
    slots: dict[int, int] = {}
    n_slots = 1  # P[0] is the workspace size
    arg_constants: list[np.ndarray] = []
    out_args = {id(v): len(fgraph.inputs) + i for i, v in enumerate(fgraph.outputs)}

    def name_of(v: Variable) -> str:
        if id(v) not in names:
            names[id(v)] = f"{prefix}v{len(names)}"
        return names[id(v)]

    def comment(v: Variable) -> str:
        label = f" ({sanitize(v.name)})" if v.name else ""
        node_id = label_of(labels, v)
        node_id = f" [id {prefix}{node_id}]" if node_id else ""
        return f"{name_of(v)}{label}{node_id}: {v.type}"

    def operand(v: Variable) -> str:  # `v3` or, when the user named it, `v3:loss`
        return f"{name_of(v)}:{sanitize(v.name)}" if v.name else name_of(v)

    for i, v in enumerate(fgraph.inputs):
        decls.append(Decl(name_of(v), v.type.c_type, "arg", f"input {i} " + comment(v), arg=i))

    n_fixed_args = len(fgraph.inputs) + len(fgraph.outputs)
    constants = [v for node in nodes for v in node.inputs if isinstance(v, Constant)]
    for v in constants:
        if id(v) in names:
            continue
        data = np.ascontiguousarray(v.data)
        if (data.size <= MAX_INLINE_CONSTANT or prefix) and not passed_as_value(data, prefix):
            values = tuple(c_literal(x, v.type.dtype) for x in data.reshape(-1))
            decls.append(Decl(name_of(v), v.type.c_type, "const", "constant " + comment(v),
                              values=values or ("0",)))
        else:
            arg = n_fixed_args + len(arg_constants)
            arg_constants.append(data)
            decls.append(Decl(name_of(v), v.type.c_type, "arg", "constant " + comment(v),
                              arg=arg))

    steps: list[Step] = []
    node_guards = guards(fgraph.outputs, nodes)
    guard_slots: dict[int, int] = {}
    kernel_slots: dict[int, int] = {}
    kernels: dict[int, Kernel] = {}
    for k, node in enumerate(nodes):
        is_view = isinstance(node.op, ViewOp)
        out = node.outputs[0]
        if (plan_value(node) and id(out) not in update_outputs and id(out) not in out_args
                and not prefix):
            slots[id(out)] = n_slots
            decls.append(Decl(name_of(out), out.type.c_type, "plan",
                              "planned from shapes: " + comment(out), slot=n_slots))
            n_slots += max(1, int(np.prod(out.type.shape, dtype=np.int64)))
            continue
        for out in node.outputs:
            if is_view:
                base = name_of(node.inputs[node.op.view_of])
                slots[id(out)] = n_slots
                decls.append(Decl(name_of(out), out.type.c_type, "view",
                                  f"view of {base}: " + comment(out), slot=n_slots, base=base))
                n_slots += 1
            elif id(out) in update_outputs:
                o = update_outputs[id(out)]
                slots[id(out)] = n_slots
                if o in in_place:  # the shared storage itself, when the plan allows it
                    decls.append(Decl(name_of(out), out.type.c_type, "update",
                                      "update " + comment(out), slot=n_slots,
                                      arg=update_of[o], inplace_slot=n_slots + 1))
                    n_slots += 2
                else:
                    decls.append(Decl(name_of(out), out.type.c_type, "buffer",
                                      "update " + comment(out), slot=n_slots))
                    n_slots += 1
            elif id(out) in out_args:
                decls.append(Decl(name_of(out), out.type.c_type, "arg",
                                  f"output {out_args[id(out)] - len(fgraph.inputs)} "
                                  + comment(out), arg=out_args[id(out)]))
            else:
                slots[id(out)] = n_slots
                decls.append(Decl(name_of(out), out.type.c_type, "buffer", comment(out),
                                  slot=n_slots))
                n_slots += 1
        if is_view:
            continue
        outs = [Operand(name_of(o), o.type.c_type) for o in node.outputs]
        ins = [Operand(name_of(v), v.type.c_type, all(s == 1 for s in v.type.shape))
               for v in node.inputs]
        text = (f"{', '.join(map(operand, node.outputs))} = {sanitize(str(node.op))}"
                f"({', '.join(map(operand, node.inputs))})  "
                + "  ".join(f"{o.type}" for o in node.outputs)
                + f"  [id {prefix}{labels.get(id(node), '?')}]")
        kernel = builder_of(node.op).lower(node, f"{prefix}k{k}", text, outs, ins)
        kernel = replace(kernel, where=_created_at(node))
        kernels[id(node)] = kernel
        kernel_slots[id(node)] = n_slots
        guard_slot = -1
        if id(node) in node_guards:
            guard_slot = guard_slots[id(node)] = n_slots + kernel.nparams
        steps.append(Step(kernel, n_slots, guard_slot))
        n_slots += kernel.nparams + (guard_slot >= 0)

    copies = []
    position = {id(node): k for k, node in enumerate(nodes)}
    size_slots = {}  # argument -> P slot of its size in bytes
    if in_place:
        for a in range(len(fgraph.inputs)):
            size_slots[a] = n_slots
            n_slots += 1
    for o, i in sorted(update_of.items()):
        out = fgraph.outputs[o]
        inplace_slot = slots[id(out)] + 1 if o in in_place else -1
        disjoint = tuple((a, size_slots[a]) for a in range(len(fgraph.inputs))
                         if a != i and o in in_place)
        copies.append(UpdateCopy(name_of(out), out.type.c_type, i, len(fgraph.inputs) + o,
                                 n_slots, n_slots + 1, inplace_slot,
                                 position.get(id(out.owner), -1), disjoint))
        n_slots += 2
    n_args = n_fixed_args + len(arg_constants)
    digest = hashlib.sha256(repr((decls, steps, copies)).encode()).hexdigest()[:16]
    program = Program(f"cg_{digest}_run", n_args, n_slots, tuple(decls), tuple(steps),
                      tuple(copies))
    return Lowered(program, fgraph, nodes, slots, kernel_slots, kernels, arg_constants,
                   value_arguments(fgraph, nodes), node_guards, guard_slots,
                   {id(n): n for n in nodes})
