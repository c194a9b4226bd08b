"""`specify_shape(x, shape)`: state the shape of `x`, checked when the function runs.

The result is `x` itself (a view: no kernel, no copy) with the given static lengths in
its type, so the rest of the graph knows them (a length 1 broadcasts). Each call checks
the real shape against them, in mode "C" when the call's shapes are planned and in mode
"PY" before the node runs, and raises ValueError naming the variable and both shapes.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable, ViewOp
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["SYMBOLIC", "SpecifyShape", "specify_shape"]

#: An entry of `SpecifyShape.shape` given by a symbolic length (a value input).
SYMBOLIC = "symbolic"


class SpecifyShape(ViewOp):
    """`x` with its shape stated: `shape` holds per axis an int, None (not stated) or
    `SYMBOLIC`, a length given by an int scalar input of the node (its value inputs,
    in axis order, after `x`).

    `label` names the variable in the error message (it is not a parameter: two
    checks of one variable against one shape are the same node).
    """

    __props__ = ("shape",)

    def __init__(self, shape: Sequence[int | str | None], label: str = "the tensor"):
        self.shape = tuple(shape)
        self.label = label
        self.value_inputs = tuple(range(1, 1 + self.shape.count(SYMBOLIC)))

    def __str__(self) -> str:
        dims = ",".join("?" if n is None else str(n) for n in self.shape)
        return f"SpecifyShape{{{dims}}}"

    def make_node(self, x: Any, *lengths: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != len(self.shape):
            raise ValueError(f"specify_shape: {self.label} has {x.ndim} dimension(s) "
                             f"({x.type}), the shape {_shown(self.shape)} has "
                             f"{len(self.shape)}")
        lengths = [as_tensor_variable(n) for n in lengths]
        if len(lengths) != len(self.value_inputs) or any(
                n.ndim or n.dtype[0] not in "iu" for n in lengths):
            raise TypeError(f"specify_shape: {self} takes {len(self.value_inputs)} integer "
                            f"scalar length(s), got {[str(n.type) for n in lengths]}")
        static = [None if n == SYMBOLIC else n for n in self.shape]
        try:
            out_type = x.type.refine(static)
        except ValueError:
            raise ValueError(f"specify_shape: {self.label} has the static shape "
                             f"{_shown(x.type.shape)}, which contradicts the specified "
                             f"shape {_shown(self.shape)}") from None
        return Apply(self, [x, *lengths], [out_type.make_variable()])

    def check(self, shape: Sequence[int], values: Sequence[Any] | None = None) -> None:
        """Raise ValueError when `shape` (a value's) differs from the stated one;
        `values` holds the symbolic lengths at the node's value inputs."""
        given = iter((values or [])[1:])
        wanted = tuple(int(np.asarray(next(given))) if n == SYMBOLIC else n
                       for n in self.shape)
        if len(shape) != len(wanted) or any(
                want is not None and want != got for want, got in zip(wanted, shape)):
            raise ValueError(f"specify_shape: {self.label} has shape {tuple(shape)}, but its "
                             f"specified shape is {_shown(wanted)}")

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int],
                    values: list[Any] | None = None) -> tuple:
        """The view is the input itself, once its shape is checked."""
        self.check(shapes[0], values)
        return tuple(shapes[0]), tuple(strides), 0

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]],
                    values: list[Any] | None = None) -> list[tuple[int, ...]]:
        self.check(shapes[0], values)
        return [tuple(shapes[0])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.check(inputs[0].shape, inputs)
        return [inputs[0]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [output_grads[0]] + [None] * (len(inputs) - 1)


def _shown(shape: Sequence[int | None]) -> str:
    """A static shape as the user writes it: (3, None)."""
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _entry(entry: Any, position: int) -> int | TensorVariable | None:
    """One entry of the shape given to specify_shape: an int >= 0, None, or an integer
    scalar variable."""
    if entry is None:
        return None
    if isinstance(entry, Constant):
        entry = entry.data
    if isinstance(entry, Variable):
        return entry
    try:
        value = operator.index(np.asarray(entry).item() if np.ndim(entry) == 0 else entry)
    except TypeError:
        raise TypeError(f"specify_shape: entry {position} of the shape is {entry!r}, not an "
                        "int, an int scalar or None") from None
    if value < 0:
        raise ValueError(f"specify_shape: entry {position} of the shape is negative ({value})")
    return value


def specify_shape(x: Any, shape: Any) -> TensorVariable:
    """`x` with its shape stated as `shape`: ints, integer scalars (symbolic lengths),
    or None for an axis left unstated.

    The result's type has the int lengths as static lengths; each call checks every
    stated length and raises ValueError naming `x` and both shapes when they differ.
    `shape` may be a tuple, a list, a constant vector or `y.shape`.

    Raises
    ------
    TypeError
        An entry is not an integer.
    ValueError
        The rank differs, or a length contradicts one `x`'s type already states.
    """
    x = as_tensor_variable(x)
    if isinstance(shape, Constant):
        shape = np.asarray(shape.data).tolist()
    if isinstance(shape, (int, np.integer)) or shape is None:
        shape = (shape,)
    entries = [_entry(s, i) for i, s in enumerate(shape)]
    label = repr(x.name) if x.name else f"the {x.type} tensor"
    pattern = [SYMBOLIC if isinstance(n, Variable) else n for n in entries]
    lengths = [n for n in entries if isinstance(n, Variable)]
    return SpecifyShape(pattern, label)(x, *lengths)
