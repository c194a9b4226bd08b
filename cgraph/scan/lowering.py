"""The C side of a scan: its step lowered to an inner program, its kernel, its plan.

The step's graph is lowered to its own program (kernels and a `static` entry point,
with prefixed names) inside the outer module; the kernel (`templates/scan.c.j2`) calls
it once per step with pointers to the current rows of the sequences, the previous
states and the rows of the outputs. The step's plan (shapes, strides, workspace) is
usually the same for every step and is stored inside the outer plan. When the step's
shapes depend on the rows of sequences (a slice x[:t] with t the step index), the
outer planner reads those sequences' values and makes a plan per step, stored after
the outer plan's fixed slots; steps with equal rows share one. When they depend on a
state, the loop asks Python for the plans while it runs (`cgraph.scan.dynamic`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from cgraph.codegen.kernels import uses_blas
from cgraph.codegen.lower import Lowered, lower, value_arguments
from cgraph.codegen.plan import Plan, PlanTail, make_plan
from cgraph.codegen.render import render_program
from cgraph.graph.basic import Apply
from cgraph.graph.fg import FunctionGraph
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, contiguous_strides
from cgraph.scan.dynamic import context
from cgraph.tensor.subtensor import AdvancedSubtensor, Subtensor
from cgraph.tensor.subtensor_index import ARRAY, INT, NEW, SLICE, SYM, Index


def lower_step(fgraph: FunctionGraph) -> Lowered:
    """The step's inner program, its C names prefixed by a digest of its content.

    Names from the content make a function with this scan the same C in every process
    (a disk-cache hit), and two different scans in one module never share a name.
    """
    draft = lower(fgraph, prefix="s_")
    digest = hashlib.sha256(repr(draft.program).encode()).hexdigest()[:12]
    return lower(fgraph, prefix=f"s{digest}_")


def step_value_args(fgraph: FunctionGraph) -> tuple[int, ...]:
    """Positions of the step's inputs whose values its shapes depend on."""
    return value_arguments(fgraph, fgraph.toposort())


def step_plan(lowered: Lowered, inner_shapes: tuple, values: list) -> Plan:
    """The plan a step runs with; `values` holds the values of the step's inputs its
    shapes depend on (None at the others)."""
    return make_plan(lowered, inner_shapes, values)


def step_plans(lowered: Lowered, inner_shapes: tuple, values: list,
               per_step: tuple[int, ...], n: int, known: dict) -> list[Plan]:
    """The plan of each of the `n` steps when the step's shapes depend on the rows of
    the sequences at `per_step` (`values` holds those sequences whole).

    Steps with the same such rows share one plan, found in `known` (rows -> plan,
    kept by the caller for these shapes and other values; filled here). Raises
    ValueError when two steps' outputs differ in shape (the loop stacks them)."""
    plans: list[Plan] = []
    for t in range(n):
        at_t = list(values)
        for i in per_step:
            at_t[i] = np.asarray(values[i])[t]
        key = b"".join(np.ascontiguousarray(at_t[i]).tobytes() for i in per_step)
        plan = known.get(key)
        if plan is None:
            plan = known[key] = make_plan(lowered, inner_shapes, at_t)
        if plans and plan.out_shapes != plans[0].out_shapes:
            raise ValueError(
                f"scan: the outputs of step {t} have shapes {list(plan.out_shapes)} but "
                f"those of step 0 {list(plans[0].out_shapes)}: a step's outputs must "
                "have the same shapes at every step (they are stacked)")
        plans.append(plan)
    return plans


def _tail(plans: list[Plan]) -> np.ndarray:
    """The plans of the steps as one array: step t's plan starts at entry t's value
    (counted from the array's start); steps with one plan point to one copy."""
    offsets, parts, where = [], [], {}
    end = len(plans)
    for plan in plans:
        if id(plan) not in where:
            where[id(plan)] = end
            parts.append(plan.params)
            end += plan.params.size
        offsets.append(where[id(plan)])
    return np.concatenate([np.asarray(offsets, dtype=np.int64), *parts])


class ScanKernel(KernelBuilder):
    """The scan's kernel: the step's C, and the plan slots: the step count, the bytes
    of a row of each sequence and each output, the bytes of the step's workspace,
    where the step's plan is, then the step's plan.

    The step's plan is the last field when every step has the same plan and it fits
    (the common case); otherwise (a plan per step, or a step plan with plans of its
    own) the plans go after P's fixed slots (`PlanTail`)."""

    family = "scan"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        program = op.lowered.program
        n_seq, n_states, n_out = op.n_seqs, op.n_states, len(node.outputs)
        layout = ParamLayout(self.family, steps=1, seq_rows=n_seq, out_rows=n_out,
                             workspace=1, plans_at=1,
                             step_plan=0 if op.dynamic else program.n_slots)
        # the step inputs whose bytes select the plan while the loop runs: (position in
        # the step's arguments, whether a state, which sequence or state)
        watch = [(i, i >= n_seq, i - n_seq if i >= n_seq else i)
                 for i in op.shaping if i < n_seq + n_states] if op.dynamic else []
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context={"inner": render_program(program), "entry": program.entry,
                               "n_seq": n_seq, "n_states": n_states,
                               "n_rest": len(node.inputs) - 1 - n_seq - n_states,
                               "n_out": n_out, "per_step": bool(op.per_step),
                               "dynamic": bool(op.dynamic), "watch": watch,
                               "blas": uses_blas(program.steps)})  # the module links it

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """Raises ValueError for an input that is not contiguous, or shapes the loop
        cannot run with."""
        for k, (shape, strides) in enumerate(in_layouts[1:], start=1):
            if tuple(strides) != contiguous_strides(shape) and int(np.prod(shape)) > 1:
                raise ValueError(f"scan: input {k} is not contiguous")
        op = node.op
        n_steps, plans = op.plans(in_shapes, values)
        seq_rows = [_row_bytes(shape, v) for shape, v in
                    zip(in_shapes[1:1 + op.n_seqs], node.inputs[1:1 + op.n_seqs])]
        out_rows = [_row_bytes(shape, v) for (shape, _), v in zip(out_layouts, node.outputs)]
        if op.dynamic:  # the loop gets its plans from Python (cgraph.scan.dynamic)
            params = kernel.layout.build(
                steps=n_steps, seq_rows=seq_rows, out_rows=out_rows,
                workspace=int(plans[0].params[0]), plans_at=0, step_plan=[])
            tail = context(op, op.inner_shapes(in_shapes), plans[0])
            return PlanTail(params, tail, kernel.layout.slots().plans_at)
        n_slots = op.lowered.program.n_slots
        fixed = not op.per_step and plans[0].params.size == n_slots
        params = kernel.layout.build(
            steps=n_steps, seq_rows=seq_rows, out_rows=out_rows,
            workspace=max((int(plan.params[0]) for plan in plans), default=0),
            plans_at=kernel.layout.slots().step_plan,
            step_plan=plans[0].params[:n_slots].tolist() if fixed else [0] * n_slots)
        if fixed:
            return params
        tail = _tail(plans) if op.per_step else plans[0].params
        return PlanTail(params, tail, kernel.layout.slots().plans_at)


def _row_bytes(shape: tuple, v: Any) -> int:
    """The bytes of one row of an array of `shape` (the type of `v`)."""
    return int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(v.type.dtype).itemsize


def gather_symbolic_ints(fgraph: FunctionGraph) -> None:
    """Make `x[i]` with a symbolic int `i` computable inside a scan step.

    A step's plan is made once for all steps, so a view whose offset depends on a
    value (basic indexing by a symbolic int) cannot be planned. Such an index becomes
    a gather (integer-array indexing, whose index values C reads at each step) by the
    length-1 array [i], followed by a static [0] on the axis the gather adds. Slices
    with symbolic bounds are `cgraph.scan.slices`' concern.
    """
    for node in fgraph.toposort():
        if type(node.op) is not Subtensor or not node.op.value_inputs:
            continue
        entries = node.op.index.entries
        if any(e[0] == SLICE and SYM in e[1:] for e in entries):
            continue
        out = _gathered(node, entries)
        if out.type == node.outputs[0].type:
            fgraph.replace(node.outputs[0], out)


def _gathered(node: Apply, entries: tuple) -> Any:
    """`node`'s x[..., i, ...] as a gather by [i] and a static [0]."""
    x, *scalars = node.inputs
    new_entries, arrays, k = [], [], 0
    for e in entries:
        if e[0] == INT and e[1] == SYM:
            new_entries.append((ARRAY,))
            arrays.append(scalars[k].dimshuffle("x"))
            k += 1
        else:
            new_entries.append(e)
    advanced = [p for p, e in enumerate(new_entries) if e[0] in (ARRAY, INT)]
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    # where the gather puts its length-1 axis: in place of the advanced entries when
    # they are adjacent (after the axes of the slices and new axes before them)
    position = sum(e[0] in (SLICE, NEW) for e in new_entries[:advanced[0]]) if adjacent else 0
    gathered = AdvancedSubtensor(Index(tuple(new_entries), adjacent))(x, *arrays)
    return gathered[(slice(None),) * position + (0,)]
