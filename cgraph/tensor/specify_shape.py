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

__all__ = ["SYMBOLIC", "SpecifyShape", "Unbroadcast", "addbroadcast", "patternbroadcast",
           "specify_broadcastable", "specify_shape", "unbroadcast"]

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


class Unbroadcast(ViewOp):
    """`x` with the static length 1 of axes `axes` forgotten (Theano's Unbroadcast): a
    view of `x`, whose type no longer lets those axes broadcast."""

    __props__ = ("axes",)

    def __init__(self, axes: Sequence[int]):
        self.axes = tuple(sorted(set(axes)))

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if any(a < 0 or a >= x.ndim for a in self.axes):
            raise ValueError(f"unbroadcast: axes {self.axes} out of range for {x.type}")
        shape = tuple(None if a in self.axes and n == 1 else n
                      for a, n in enumerate(x.type.shape))
        return Apply(self, [x], [type(x.type)(x.type.dtype, shape).make_variable()])

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> tuple:
        return tuple(shapes[0]), tuple(strides), 0

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(shapes[0])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        (g,) = output_grads
        return [specify_broadcastable(g, *[a for a in self.axes
                                           if inputs[0].type.shape[a] == 1])]


def _axes(x: TensorVariable, axes: Sequence[int], what: str) -> list[int]:
    found = [a + x.ndim if a < 0 else a for a in axes]
    if any(a < 0 or a >= x.ndim for a in found):
        raise ValueError(f"{what}: axes {tuple(axes)} out of range for {x.ndim} dimensions")
    return found


def specify_broadcastable(x: Any, *axes: int) -> TensorVariable:
    """`x` with the axes `axes` stated to have length 1, so that they broadcast
    (PyTensor's specify_broadcastable): a call with another length raises ValueError."""
    x = as_tensor_variable(x)
    if not axes:
        return x
    want = set(_axes(x, axes, "specify_broadcastable"))
    return specify_shape(x, [1 if d in want else None for d in range(x.ndim)])


def addbroadcast(x: Any, *axes: int) -> TensorVariable:
    """Theano's name for `specify_broadcastable`: `x` with `axes` stated to have length
    1, so that they broadcast; a call with another length raises ValueError."""
    return specify_broadcastable(x, *axes)


def unbroadcast(x: Any, *axes: int) -> TensorVariable:
    """`x` whose axes `axes` no longer broadcast (Theano's unbroadcast): their static
    length 1 is forgotten (a view, no copy). Axes without static length 1 are left."""
    x = as_tensor_variable(x)
    found = [a for a in _axes(x, axes, "unbroadcast") if x.type.shape[a] == 1]
    return Unbroadcast(found)(x) if found else x


def patternbroadcast(x: Any, broadcastable: Sequence[bool]) -> TensorVariable:
    """`x` with the broadcast pattern `broadcastable` (Theano's patternbroadcast): True
    axes are stated to have length 1 (checked when the function runs), False axes no
    longer broadcast."""
    x = as_tensor_variable(x)
    pattern = [bool(b) for b in broadcastable]
    if len(pattern) != x.ndim:
        raise ValueError(f"patternbroadcast: pattern {tuple(pattern)} has {len(pattern)} "
                         f"entries for {x.type}, which has {x.ndim} dimensions")
    x = unbroadcast(x, *[a for a, b in enumerate(pattern) if not b])
    return specify_broadcastable(x, *[a for a, b in enumerate(pattern) if b])
