"""The C side of a scan: its step lowered to an inner program, its kernel, its plan.

The step's graph is lowered to its own program (kernels and a `static` entry point,
with prefixed names) inside the outer module; the kernel (`templates/scan.c.j2`) calls
it once per step with pointers to the current rows of the sequences, the previous
states and the rows of the outputs. The step's plan (shapes, strides, workspace) is
the same for every step and is stored inside the outer plan.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from cgraph.codegen.kernels import uses_blas
from cgraph.codegen.lower import Lowered, lower, value_arguments
from cgraph.codegen.plan import Plan, make_plan
from cgraph.codegen.render import render_program
from cgraph.graph.basic import Apply
from cgraph.graph.fg import FunctionGraph
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, contiguous_strides
from cgraph.tensor.subtensor import AdvancedSubtensor, Subtensor
from cgraph.tensor.subtensor_index import ARRAY, INT, NEW, SLICE, SYM, Index


def lower_step(fgraph: FunctionGraph, first_rest: int) -> Lowered:
    """The step's inner program, its C names prefixed by a digest of its content.

    Names from the content make a function with this scan the same C in every process
    (a disk-cache hit), and two different scans in one module never share a name.

    Raises NotImplementedError when the step's shapes depend on values that change
    from step to step (inputs before `first_rest`, e.g. a slice x[:t] with t a
    sequence's row): one plan serves every step.
    """
    per_step = [i for i in step_value_args(fgraph) if i < first_rest]
    if per_step:
        raise NotImplementedError(
            f"scan: in mode C every step has the same shapes, but the shapes in the step "
            f"depend on the per-step value of {fgraph.inputs[per_step[0]]!r} (a slice with "
            "bounds that change per step; x[t], and windows x[t + i : t + j] of a fixed "
            "length work); compile with mode='PY'")
    draft = lower(fgraph, prefix="s_")
    digest = hashlib.sha256(repr(draft.program).encode()).hexdigest()[:12]
    return lower(fgraph, prefix=f"s{digest}_")


def step_value_args(fgraph: FunctionGraph) -> tuple[int, ...]:
    """Positions of the step's inputs whose values its shapes depend on."""
    return value_arguments(fgraph, fgraph.toposort())


def step_plan(lowered: Lowered, inner_shapes: tuple, values: list) -> Plan:
    """The plan every step of the loop runs with; `values` holds the values of the
    step's inputs its shapes depend on (None at the others)."""
    return make_plan(lowered, inner_shapes, values)


class ScanKernel(KernelBuilder):
    """The scan's kernel: the step's C, and the plan slots: the step count, the bytes
    of a row of each sequence and each output, then the step's own plan."""

    family = "scan"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        program = op.lowered.program
        n_seq, n_states, n_out = op.n_seqs, op.n_states, len(node.outputs)
        layout = ParamLayout(self.family, steps=1, seq_rows=n_seq, out_rows=n_out,
                             step_plan=program.n_slots)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout,
                      context={"inner": render_program(program), "entry": program.entry,
                               "n_seq": n_seq, "n_states": n_states,
                               "n_rest": len(node.inputs) - 1 - n_seq - n_states,
                               "n_out": n_out,
                               "blas": uses_blas(program.steps)})  # the module links it

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """Raises ValueError for an input that is not contiguous, or shapes the loop
        cannot run with."""
        for k, (shape, strides) in enumerate(in_layouts[1:], start=1):
            if tuple(strides) != contiguous_strides(shape) and int(np.prod(shape)) > 1:
                raise ValueError(f"scan: input {k} is not contiguous")
        op = node.op
        n_steps = op.steps(in_shapes, values[0])
        plan = step_plan(op.lowered, op.inner_shapes(in_shapes), values[1:])
        seq_rows = [_row_bytes(shape, v) for shape, v in
                    zip(in_shapes[1:1 + op.n_seqs], node.inputs[1:1 + op.n_seqs])]
        out_rows = [_row_bytes(shape, v) for (shape, _), v in zip(out_layouts, node.outputs)]
        return kernel.layout.build(steps=n_steps, seq_rows=seq_rows, out_rows=out_rows,
                                   step_plan=plan.params.tolist())


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
