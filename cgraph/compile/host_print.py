"""Theano's `Print` op: `Print("msg")(x)` is `x`, and running the function prints it.

A compiled function prints in Python, after its C call: `function` takes every
`Print` out of the graph (its output becomes its input) and adds the printed values as
hidden extra outputs, which the call prints in graph order and does not return
(`strip_prints`). Mode "PY" does the same, so both modes print the same lines once per
call. A `Print` left in a graph compiled some other way (the step of a `scan`) is a
view of its input: mode "PY" prints it as it runs, mode "C" passes the value through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable, ViewOp, toposort
from cgraph.tensor.type import TensorType, as_tensor_variable

__all__ = ["Print", "strip_prints"]


def _print_attrs(op: Print, value: np.ndarray) -> None:
    """Theano's default: one line `message attr = value` per attribute."""
    for attr in op.attrs:
        shown = getattr(value, attr)
        print(op.message, attr, "=", shown() if callable(shown) else shown)


class Print(ViewOp):
    """`Print(message, attrs=("__str__",))(x)`: `x`, printed when the function runs.

    Parameters
    ----------
    message : str
        Printed first on each line.
    attrs : tuple of str
        Attributes of the value to print (`"shape"`, `"mean"`...; called when they
        are methods), one line each: `message attr = value`.
    global_fn : callable, optional
        `global_fn(op, value)` replaces the printing (Theano's hook).
    """

    __props__ = ("message", "attrs")

    def __init__(self, message: str = "", attrs: Sequence[str] = ("__str__",),
                 global_fn: Callable[[Print, np.ndarray], Any] = _print_attrs):
        self.message = str(message)
        self.attrs = tuple(attrs)
        self.global_fn = global_fn

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape).make_variable()])

    def show(self, value: np.ndarray) -> None:
        """Print `value` (an array computed by the function)."""
        self.global_fn(self, value)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.show(inputs[0])
        return [inputs[0]]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(shapes[0])]

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> tuple:
        return tuple(shapes[0]), tuple(strides), 0

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable]:
        return [output_grads[0]]


def strip_prints(outputs: Sequence[Variable], nodes: Sequence[Apply] | None = None
                 ) -> tuple[list[Variable], list[tuple[Print, Variable]]]:
    """`outputs` computed without their `Print` nodes, and (op, printed value) for each
    of those nodes in execution order (the printed values without prints either).
    `nodes`: `toposort(outputs)` when the caller has it."""
    nodes = toposort(outputs) if nodes is None else nodes
    if not any(isinstance(node.op, Print) for node in nodes):
        return list(outputs), []
    memo: dict[int, Variable] = {}
    printed = []
    for node in nodes:
        inputs = [memo.get(id(v), v) for v in node.inputs]
        if isinstance(node.op, Print):
            memo[id(node.outputs[0])] = inputs[0]
            printed.append((node.op, inputs[0]))
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            for old, new in zip(node.outputs, node.clone_with_new_inputs(inputs).outputs):
                memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs], printed


def printing_call(call: Callable[[tuple], list], prints: Sequence[Print], n_outputs: int,
                  return_list: bool) -> Callable[[tuple], Any]:
    """`call` (which returns the outputs then the printed values) as the caller sees it:
    it prints the values, then returns the outputs as `function` was asked to."""
    def printed_call(args: tuple) -> Any:
        outs = call(args)
        for op, value in zip(prints, outs[n_outputs:]):
            op.show(value)
        if return_list:
            return outs[:n_outputs]
        return outs[0] if n_outputs == 1 else None

    return printed_call
