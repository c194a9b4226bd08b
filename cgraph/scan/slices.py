"""Slices whose bounds change from step to step, made computable in a scan's C.

A step's plan is made once per call for all its steps, so a view whose shape or
offset depends on a step's values cannot be planned. A window `x[a + i : a + j]`
whose start and stop differ by an amount `j - i` that is the same at every step
(constants, non-sequences, shapes) has a fixed length: it becomes a gather of the
rows `a + i + arange(j - i)` (integer-array indexing, whose index values the C
reads at each step). numpy would shorten a window that runs past an end of `x`;
here such a window is an IndexError naming the row (in mode "PY" too, which runs
the same step), since the loop's shapes cannot change from step to step.

Bounds that are the same at every step (`x[i:j]` with i, j non-sequences) stay a
slice, planned with their values. Other per-step bounds (`x[:t]`, a per-step
stride) stay slices too: when they come from the rows of sequences (the step index,
values computed from it), the loop gets a plan per step
(`cgraph.scan.lowering.step_plans`); when they come from a state, the loop asks
Python for a step's plan whenever those values change (`cgraph.scan.dynamic`).
"""

from __future__ import annotations

from typing import Any

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.tensor.elemwise import Elemwise
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import and_, eq, ge, le, lt, neg, switch
from cgraph.tensor.shape import shape_i
from cgraph.tensor.subtensor import Subtensor, take
from cgraph.tensor.subtensor_index import FULL, INT, SLICE, SYM, Index
from cgraph.tensor.type import as_tensor_variable


def invariant_ids(fgraph: FunctionGraph, first_rest: int) -> set[int]:
    """The variables of the step whose values are the same at every step: the
    non-sequences (inputs from `first_rest` on), constants, shapes, and what is
    computed from those alone."""
    ids = {id(v) for v in fgraph.inputs[first_rest:]}
    for node in fgraph.toposort():
        if not node.op.needs_input_data or all(
                id(v) in ids or isinstance(v, Constant) for v in node.inputs):
            ids.update(id(o) for o in node.outputs)
    return ids


def windows_as_gathers(fgraph: FunctionGraph, first_rest: int) -> None:
    """Replace each per-step window `x[a + i : a + j]` of the step by a gather."""
    invariant = invariant_ids(fgraph, first_rest)
    for node in fgraph.toposort():
        if type(node.op) is not Subtensor or not node.op.value_inputs:
            continue
        out = _window(node, invariant)
        if out is not None and out.type == node.outputs[0].type:
            fgraph.replace(node.outputs[0], out)


def _window(node: Apply, invariant: set[int]) -> Any:
    """`node`'s x[..., a + i : a + j, ...] as a gather along that axis (None when the
    index has no such window, or more than one per-step bound)."""
    x, *scalars = node.inputs
    inputs = iter(scalars)
    kept, kept_inputs, window, axis, out_axis = [], [], None, 0, 0
    for e in node.op.index.entries:
        bounds = [next(inputs) if p == SYM else p for p in e[1:]]
        per_step = [b for b in bounds if isinstance(b, Variable) and id(b) not in invariant]
        if per_step and (e[0] != SLICE or window is not None):
            return None
        if per_step:
            window, axis = bounds, out_axis
            kept.append(FULL)
        else:
            kept.append(e)
            kept_inputs += [b for b in bounds if isinstance(b, Variable)]
        out_axis += e[0] != INT
    if window is None or window[2] not in (None, 1):
        return None
    length = _fixed_length(window[0], window[1], invariant)
    if length is None:
        return None
    start = as_tensor_variable(window[0])
    y = x if all(e == FULL for e in kept) else Subtensor(Index(tuple(kept)))(x, *kept_inputs)
    return take(y, _rows(start, as_tensor_variable(window[1]), length, shape_i(y, axis)),
                axis=axis)


def _rows(start: Any, stop: Any, length: Any, n: Any) -> Any:
    """start + arange(length) when numpy's slice start:stop of n rows is exactly those
    rows, else rows past the end (the gather's IndexError)."""
    first = switch(lt(start, 0), start + n, start)
    last = switch(lt(stop, 0), stop + n, stop)
    exact = and_(and_(ge(first, 0), le(last, n)), eq(last - first, length))
    return switch(exact, first + arange(length), n + arange(length) * 0)


def _fixed_length(start: Any, stop: Any, invariant: set[int]) -> Any:
    """stop - start when both are one per-step value plus amounts that are the same at
    every step (a + i, a - i, a), else None."""
    if not isinstance(start, Variable) or not isinstance(stop, Variable):
        return None
    base_a, offset_a = _split(start, invariant)
    base_b, offset_b = _split(stop, invariant)
    if not _same(base_a, base_b):
        return None
    return as_tensor_variable(offset_b) - offset_a


def _split(v: Variable, invariant: set[int]) -> tuple[Variable, Any]:
    """(base, offset) with v = base + offset and `offset` the same at every step."""
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise) and len(node.inputs) == 2:
        a, b = node.inputs
        name = node.op.scalar_op.name
        if name in ("add", "sub") and _fixed(b, invariant):
            return a, (b if name == "add" else neg(b))
        if name == "add" and _fixed(a, invariant):
            return b, a
    return v, 0


def _fixed(v: Variable, invariant: set[int]) -> bool:
    return isinstance(v, Constant) or id(v) in invariant


def _same(a: Variable, b: Variable) -> bool:
    """Whether a and b compute the same value: the same variable, equal constants, or
    the same output of equal ops on the same inputs."""
    if a is b:
        return True
    if isinstance(a, Constant) and isinstance(b, Constant):
        return a.type == b.type and bool((a.data == b.data).all())
    if a.owner is None or b.owner is None or a.owner.op != b.owner.op:
        return False
    position = [k for k, o in enumerate(a.owner.outputs) if o is a]
    return (position == [k for k, o in enumerate(b.owner.outputs) if o is b]
            and len(a.owner.inputs) == len(b.owner.inputs)
            and all(_same(p, q) for p, q in zip(a.owner.inputs, b.owner.inputs)))
