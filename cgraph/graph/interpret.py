"""The numpy interpreter of graphs: each node's `perform`, in order, over a value map.

Every place that evaluates a graph in Python goes through this module: mode "PY"
and the reference of mode "DebugMode" (`cgraph.compile`), the planner's values that
shapes depend on (`cgraph.codegen.plan`), constant folding (`cgraph.rewrite`) and a
scan's step. So a node's value, its laziness and its errors are the same everywhere.

API
---
A value map is a dict `id(variable) -> numpy value`; constants need no entry (their
`data` is read).

``Interpreter(inputs, outputs, check=None)``
    The schedule of the graph from `inputs` to `outputs`, made once (a scan step, a
    compiled function); then, per evaluation:

    ``run(arrays)``
        The outputs' values for the values `arrays` of `inputs`, as fresh arrays of
        the outputs' dtypes. A scan step is ``step = Interpreter(fg.inputs,
        fg.outputs)`` once, then ``step.run(row_args)`` per step.
    ``values(arrays)``
        The whole value map after the run: every variable computed (DebugMode
        compares intermediate values through it).

``evaluate(variables, values, shape_of=None, check=None, outputs=())``
    On demand: the values of `variables`, computing only the nodes they need and
    filling `values` (the memo). With `shape_of(variable) -> shape`, an op that needs
    only its inputs' shapes (`Op.needs_input_data = False`) gets them from it and its
    inputs are not computed (the planner knows every shape before any value).

``run_node(node, inputs, check=None, label="")``
    One node, with the error policy below (constant folding).

`check(node, inputs)` is an optional hook run before each `perform` (mode "PY" checks
the node's shape rule and the size of its results there); it raises like `perform`.

Error policy
------------
An exception raised by a node's `perform` (or by `check`) is raised again with the
original message followed by the node (its `[id X]` label, as `debugprint` of the
graph ending at `outputs` shows it, and its op and input types), the line of the
user's program that created it, and the input shapes and dtypes; the original is
chained (`__cause__`). The new exception has the original's type when that type
takes a message alone, else its nearest base type that does (numpy's
`_ArrayMemoryError` becomes a MemoryError, a KeyError a LookupError), and carries
`node` and `input_shapes` attributes.

Laziness
--------
An op that is a `LazyOp` (ifelse) gets only the branch its condition takes: the
condition is computed first, the nodes only other branches need are never run, and
`perform` gets None at those branches' inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, LazyOp, Variable, toposort
from cgraph.graph.labels import node_labels
from cgraph.graph.lazy import guards, holds

__all__ = ["Interpreter", "MissingValue", "evaluate", "node_error", "run_node"]

Check = Callable[[Apply, list], None]


class MissingValue(RuntimeError):
    """A graph input whose value the evaluation needs was not given."""


# --------------------------------------------------------------------------- errors


def _shape(value: Any) -> str:
    return "-" if value is None else str(np.shape(value))


def _dtype(value: Any) -> str:
    if value is None:
        return "-"
    return str(value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype)


def node_error(err: Exception, node: Apply, inputs: Sequence[Any], label: str = ""
               ) -> Exception:
    """The exception to raise (from `err`) for `err` raised while running `node` on
    `inputs` (values, None for an input not computed): see the module's error policy.
    `label` is the node's `[id X]` label."""
    args = ", ".join(f"{v!r}: {v.type}" for v in node.inputs)
    name = f"[id {label}] " if label else ""
    text = f"{err}\n  in node {name}{node.op}({args})"
    trace = node.tag.get("trace")
    if trace:
        text += f"\n  created at {trace}"
    text += (f"\n  input shapes: {', '.join(_shape(a) for a in inputs)}"
             f"\n  input dtypes: {', '.join(_dtype(a) for a in inputs)}")
    new = _same_kind(err, text)
    try:
        new.node = node
        new.input_shapes = tuple(None if a is None else np.shape(a) for a in inputs)
    except AttributeError:
        pass
    return new


def _same_kind(err: Exception, text: str) -> Exception:
    """An exception of `err`'s type holding `text`, or of its nearest base type whose
    constructor takes a message alone (numpy's _ArrayMemoryError -> MemoryError)."""
    for kind in type(err).__mro__:
        if kind is KeyError:  # its str() quotes the message
            continue
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                return kind(text)
            except Exception:  # noqa: BLE001, S112 - a constructor wanting more than a message
                continue
    return RuntimeError(text)


def run_node(node: Apply, inputs: list[Any], check: Check | None = None,
             label: str = "") -> list[np.ndarray]:
    """The values of `node`'s outputs from the values of its inputs (`perform`), with
    the module's error policy (`label`: the node's `[id X]` label for the message)."""
    return _perform(node, inputs, check, lambda _: label)


def _perform(node: Apply, inputs: list[Any], check: Check | None,
             label_of: Callable[[Apply], str]) -> list[np.ndarray]:
    """`run_node`, with the label computed only when there is an error."""
    try:
        if check is not None:
            check(node, inputs)
        results = node.op.perform(node, inputs)
        if len(results) != len(node.outputs):
            raise ValueError(f"{node.op}.perform returned {len(results)} values for "
                             f"{len(node.outputs)} outputs")
    except Exception as err:
        raise node_error(err, node, inputs, label_of(node)) from err
    return [np.asarray(r) for r in results]


class _Labels:
    """The `[id X]` labels of a graph's nodes, computed at the first error."""

    def __init__(self, outputs: Iterable[Variable]):
        self.outputs = list(outputs)
        self._labels: dict[int, str] | None = None

    def __call__(self, node: Apply) -> str:
        if self._labels is None:
            self._labels = node_labels(self.outputs)
        return self._labels.get(id(node), "")


def _branch_inputs(node: Apply, taken: int) -> list[bool]:
    """Which inputs of a LazyOp node the branch `taken` reads."""
    return [node.op.branch_of(i) in (-1, taken) for i in range(len(node.inputs))]


def _leaf_value(v: Variable) -> Any:
    if isinstance(v, Constant):
        return v.data
    raise MissingValue(f"the value of input {v!r} ({v.type}) is needed and was not given")


# --------------------------------------------------------------------------- on demand


def evaluate(variables: Sequence[Variable], values: dict[int, Any],
             shape_of: Callable[[Variable], tuple] | None = None,
             check: Check | None = None, outputs: Iterable[Variable] = ()) -> list[Any]:
    """The values of `variables`, computing only the nodes they need (and only the
    branch a lazy op takes); `values` is the memo, read and filled.

    Parameters
    ----------
    variables : sequence of Variable
        What to compute.
    values : dict
        id(variable) -> value: the graph inputs' values, and every value computed so
        far (filled in place).
    shape_of : callable, optional
        `shape_of(variable)`: its shape, for the inputs of ops that need no input data.
    check : callable, optional
        Run before each node's `perform` (see the module docstring).
    outputs : iterable of Variable
        The graph's outputs, which the `[id X]` labels of error messages count from.

    Raises
    ------
    MissingValue
        When a needed graph input has no value in `values`.
    """
    labels = _Labels(outputs)
    for target in variables:
        _demand(target, values, shape_of, check, labels)
    return [values[id(v)] if id(v) in values else _leaf_value(v) for v in variables]


def _needed(node: Apply, values: dict, shape_only: bool) -> list[Variable]:
    """The inputs of `node` still to compute before it can run (for a lazy op: the
    condition first, then the inputs of the branch it takes)."""
    if shape_only:
        return []
    inputs = node.inputs
    if isinstance(node.op, LazyOp):
        cond = inputs[0]
        if id(cond) not in values and cond.owner is not None:
            return [cond]
        reads = _branch_inputs(node, node.op.taken(_known(cond, values)))
        inputs = [v for v, read in zip(inputs, reads) if read]
    return [v for v in inputs if v.owner is not None and id(v) not in values]


def _known(v: Variable, values: dict) -> Any:
    return values[id(v)] if id(v) in values else _leaf_value(v)


def _demand(target: Variable, values: dict, shape_of: Callable | None, check: Check | None,
            labels: _Labels) -> None:
    """Compute `target` and what it needs (an explicit stack: deep graphs are fine)."""
    if id(target) in values or target.owner is None:
        return
    stack = [target.owner]
    while stack:
        node = stack[-1]
        if id(node.outputs[0]) in values:
            stack.pop()
            continue
        shape_only = shape_of is not None and not node.op.needs_input_data
        missing = _needed(node, values, shape_only)
        if missing:
            stack.extend(v.owner for v in reversed(missing))
            continue
        stack.pop()
        if shape_only:
            _from_shapes(node, values, shape_of, labels)
            continue
        reads = (_branch_inputs(node, node.op.taken(_known(node.inputs[0], values)))
                 if isinstance(node.op, LazyOp) else [True] * len(node.inputs))
        inputs = [_known(v, values) if read else None for v, read in zip(node.inputs, reads)]
        for out, value in zip(node.outputs, _perform(node, inputs, check, labels)):
            values[id(out)] = value


def _from_shapes(node: Apply, values: dict, shape_of: Callable, labels: _Labels) -> None:
    """An op computed from its inputs' shapes alone (`Op.value`)."""
    shapes = [tuple(shape_of(v)) for v in node.inputs]
    try:
        value = node.op.value(shapes)
    except Exception as err:
        known = [SimpleNamespace(shape=s, dtype=v.type.dtype)  # shapes, no data
                 for v, s in zip(node.inputs, shapes)]
        raise node_error(err, node, known, labels(node)) from err
    values[id(node.outputs[0])] = np.asarray(value, dtype=node.outputs[0].type.dtype)


# --------------------------------------------------------------------------- a schedule


class Interpreter:
    """The graph from `inputs` to `outputs`, scheduled once, evaluated many times.

    Parameters
    ----------
    inputs : sequence of Variable
        The free variables, in the order `run` takes their values.
    outputs : sequence of Variable
        What `run` returns.
    check : callable, optional
        `check(node, inputs)`, run before each node's `perform`.

    Raises
    ------
    ValueError
        When the outputs depend on a free variable that is not in `inputs`.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 check: Check | None = None):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.nodes = toposort(self.outputs, stop=self.inputs)
        self.check = check
        self._labels = _Labels(self.outputs)
        known = {id(v) for v in self.inputs}
        self._constants: dict[int, Any] = {}
        for node in self.nodes:
            for v in node.inputs:
                if v.owner is None and id(v) not in known:
                    if not isinstance(v, Constant):
                        raise ValueError(f"the graph reads {v!r} ({v.type}), which is "
                                         "neither an input nor a constant")
                    self._constants[id(v)] = v.data
            known.update(id(o) for o in node.outputs)
        self._steps = [(node, tuple(id(v) for v in node.inputs),
                        tuple(id(o) for o in node.outputs)) for node in self.nodes]
        self._guards = guards(self.outputs, self.nodes)
        self._by_id = {id(n): n for n in self.nodes}

    def values(self, arrays: Sequence[Any]) -> dict[int, Any]:
        """The value map after evaluating the graph on `arrays` (the values of
        `inputs`): id(variable) -> value for the inputs and every variable computed
        (not those of lazy branches not taken)."""
        values = dict(self._constants)
        for v, a in zip(self.inputs, arrays):
            values[id(v)] = a
        if self._guards:
            self._run_lazy(values)
            return values
        check, labels = self.check, self._labels
        for node, ins, outs in self._steps:
            results = _perform(node, [values[i] for i in ins], check, labels)
            for i, r in zip(outs, results):
                values[i] = r
        return values

    def run(self, arrays: Sequence[Any]) -> list[np.ndarray]:
        """The outputs' values on `arrays`, as fresh arrays of the outputs' dtypes."""
        values = self.values(arrays)
        return [np.array(values[id(v)] if id(v) in values else _leaf_value(v),
                         dtype=v.type.dtype) for v in self.outputs]

    def _run_lazy(self, values: dict) -> None:
        """The schedule, skipping the nodes whose guard does not hold: the conditions
        are computed on demand."""
        branch: dict[int, int] = {}

        def taken(ifelse_id: int) -> int:
            if ifelse_id not in branch:
                node = self._by_id[ifelse_id]
                (cond,) = evaluate([node.inputs[0]], values, check=self.check,
                                   outputs=self.outputs)
                branch[ifelse_id] = node.op.taken(cond)
            return branch[ifelse_id]

        for node, ins, outs in self._steps:
            if outs[0] in values:  # computed on demand already (a condition)
                continue
            guard = self._guards.get(id(node))
            if guard is not None and not holds(guard, taken):
                continue
            if isinstance(node.op, LazyOp):
                reads = _branch_inputs(node, taken(id(node)))
                inputs = [values[i] if read else None for i, read in zip(ins, reads)]
            else:
                inputs = [values[i] for i in ins]
            for i, r in zip(outs, _perform(node, inputs, self.check, self._labels)):
                values[i] = r
