"""Copies that repeat or move their input: tile, repeat, roll (the `copy` kernel family,
as the ops of `cgraph.tensor.basic_ops`): each is a few strided copies of its input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable
from cgraph.kernel import contiguous_strides
from cgraph.tensor import reduce as _reduce
from cgraph.tensor.basic_ops import (
    CopyOp,
    _flat_values,
    _int_input,
    _shape_args,
    _static_value,
    flatten,
    reshape,
    shape_list,
)
from cgraph.tensor.blas import SummedAxes
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import lt, neg
from cgraph.tensor.reductions import max as _reduce_max
from cgraph.tensor.shape import axis_index, checked_size, pad_left
from cgraph.tensor.subtensor import nonzero, take
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def _static_ints(parts: Sequence[Variable]) -> list[int | None]:
    return [None if v is None else int(v) for v in map(_static_value, parts)]


def _count_input(v: Any, what: str) -> TensorVariable:
    """An integer scalar input (a Python int becomes an int64 constant)."""
    if isinstance(v, (int, np.integer)):
        if v < 0:
            raise ValueError(f"{what}: negative count {int(v)}")
        return as_tensor_variable(np.int64(v))
    v = _int_input(v, what)
    if v.ndim:
        raise TypeError(f"{what}: expected an integer scalar, got {v.type}")
    return v


def _counts(values: Sequence[Any], what: str) -> list[int]:
    counts = _flat_values(values)
    if any(c < 0 for c in counts):
        raise ValueError(f"{what}: negative count in {counts}")
    return counts


class Tile(CopyOp):
    """numpy.tile with one integer scalar input per axis (`reps`, len == x.ndim; the
    wrapper pads), constants when static."""

    __props__ = ("ndim",)

    def __init__(self, ndim: int):
        self.ndim = ndim
        self.value_inputs = tuple(range(1, 1 + ndim))

    def make_node(self, x: Any, *reps: Any) -> Apply:
        x = as_tensor_variable(x)
        reps = [_count_input(r, "tile") for r in reps]
        if len(reps) != x.ndim or x.ndim != self.ndim:
            raise ValueError(f"tile: {len(reps)} reps for {x.type}")
        shape = [None if n is None or r is None else n * r
                 for n, r in zip(x.type.shape, _static_ints(reps))]
        return Apply(self, [x, *reps], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node, inputs):
        return [np.tile(inputs[0], _counts(inputs[1:], "tile"))]

    def infer_shape(self, node, shapes, values=None):
        reps = _counts(values[1:], "tile")
        shape = tuple(n * r for n, r in zip(shapes[0], reps))
        checked_size(shape, node.outputs[0].type.dtype, "tile: the result")
        return [shape]

    def n_loop_dims(self, node):
        return 2 * node.inputs[0].type.ndim

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides = in_layouts[0]
        reps = _counts(values[1:], "tile")
        loop = tuple(v for n, r in zip(shape, reps) for v in (r, n))
        st_i = tuple(v for s in strides for v in (0, s))
        return [(0, 0, loop, contiguous_strides(loop), st_i)]

    def grad(self, inputs, output_grads):
        x, reps = inputs[0], inputs[1:]
        split = [v for n, r in zip(shape_list(x), reps) for v in (r, n)]
        g = reshape(output_grads[0], split)
        return [_reduce.sum(g, axis=list(range(0, 2 * x.ndim, 2))), *[None] * len(reps)]


def tile(x: Any, reps: Any) -> TensorVariable:
    """numpy.tile: `reps` an int, or a sequence of ints or int scalars (symbolic allowed)."""
    x = as_tensor_variable(x)
    reps = _shape_args(reps)
    if len(reps) > x.ndim:
        x = pad_left(x, len(reps))
    reps = [1] * (x.ndim - len(reps)) + reps
    return Tile(x.ndim)(x, *reps)


class Repeat(CopyOp):
    """numpy.repeat of each element `repeats` times (an integer scalar input, a constant
    when static) along `axis`."""

    __props__ = ("axis",)
    value_inputs = (1,)

    def __init__(self, axis: int):
        self.axis = axis

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x = as_tensor_variable(x)
        repeats = _count_input(repeats, "repeat")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"repeat: bad axis {self.axis} for {x.type}")
        shape = list(x.type.shape)
        n, r = shape[self.axis], _static_ints([repeats])[0]
        shape[self.axis] = None if n is None or r is None else n * r
        return Apply(self, [x, repeats], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node, inputs):
        return [np.repeat(inputs[0], _counts(inputs[1:], "repeat")[0], axis=self.axis)]

    def infer_shape(self, node, shapes, values=None):
        shape = list(shapes[0])
        shape[self.axis] *= _counts(values[1:], "repeat")[0]
        checked_size(shape, node.outputs[0].type.dtype, "repeat: the result")
        return [tuple(shape)]

    def n_loop_dims(self, node):
        return node.inputs[0].type.ndim + 1

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides = in_layouts[0]
        a = self.axis + 1
        loop = (*shape[:a], _counts(values[1:], "repeat")[0], *shape[a:])
        st_i = (*strides[:a], 0, *strides[a:])
        return [(0, 0, loop, contiguous_strides(loop), st_i)]

    def grad(self, inputs, output_grads):
        x, repeats = inputs
        dims = shape_list(x)
        dims.insert(self.axis + 1, repeats)
        return [_reduce.sum(reshape(output_grads[0], dims), axis=self.axis + 1), None]


def repeat(x: Any, repeats: Any, axis: int | None = None) -> TensorVariable:
    """numpy.repeat: `repeats` is one count for every element (an int or an integer
    scalar, symbolic allowed) or one count per element along `axis` (a list or an
    integer vector); axis None repeats the flattened x.

    Per-element counts gather x along the axis with the index vector
    repeat(arange(n), counts), built as the row coordinates of the mask
    `arange(max(counts)) < counts[:, None]` (so its length is known at call time).
    """
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    axis = axis_index(axis, x.ndim, "repeat")
    if isinstance(repeats, (list, tuple, np.ndarray)) or (
            isinstance(repeats, TensorVariable) and repeats.ndim):
        counts = as_tensor_variable(np.asarray(repeats, dtype=np.int64)
                                    if not isinstance(repeats, TensorVariable) else repeats)
        if counts.ndim != 1 or not counts.dtype.startswith(("int", "uint")):
            raise TypeError(f"repeat: counts must be an integer vector, got {counts.type}")
        n, k = x.type.shape[axis], counts.type.shape[0]
        if n is not None and k is not None and n != k:
            raise ValueError(f"repeat: {k} counts for an axis of length {n}")
        counts = SummedAxes((0,), (axis,), "repeat: one count per element needed")(counts, x)
        width = _reduce_max(counts)
        mask = lt(arange(width).dimshuffle("x", 0), counts.dimshuffle(0, "x"))
        rows = nonzero(mask)[0]
        return take(x, rows, axis=axis)
    return Repeat(axis)(x, repeats)


class Roll(CopyOp):
    """numpy.roll along a static `axis` by an integer scalar input `shift`."""

    __props__ = ("axis",)
    value_inputs = (1,)

    def __init__(self, axis: int):
        self.axis = axis

    def make_node(self, x: Any, shift: Any) -> Apply:
        x, shift = as_tensor_variable(x), _int_input(shift, "roll")
        if not 0 <= self.axis < x.ndim or shift.ndim:
            raise ValueError(f"roll: bad axis {self.axis} for {x.type} or shift {shift.type}")
        return Apply(self, [x, shift], [x.type.make_variable()])

    def perform(self, node, inputs):
        return [np.roll(inputs[0], int(inputs[1]), axis=self.axis)]

    def infer_shape(self, node, shapes, values=None):
        return [tuple(shapes[0])]

    def n_parts(self, node):
        return 2

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides = in_layouts[0]
        out_strides = out_layout[1]
        n, a = shape[self.axis], self.axis
        s = int(values[1]) % n if n else 0
        first = (*shape[:a], n - s, *shape[a + 1:])
        second = (*shape[:a], s, *shape[a + 1:])
        return [(s * out_strides[a], 0, first, out_strides, strides),
                (0, (n - s) * strides[a], second, out_strides, strides)]

    def grad(self, inputs, output_grads):
        return [Roll(self.axis)(output_grads[0], neg(inputs[1])), None]


def roll(x: Any, shift: Any, axis: int | Sequence[int] | None = None) -> TensorVariable:
    """numpy.roll: an integer (or int scalar) `shift` along `axis` (None: of the flattened
    x), or tuples of shifts and axes (rolled one after the other, as numpy)."""
    x = as_tensor_variable(x)
    if isinstance(shift, (list, tuple)) or isinstance(axis, (list, tuple)):
        shifts = list(shift) if isinstance(shift, (list, tuple)) else None
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if shifts is None:
            shifts = [shift] * len(axes)
        elif len(axes) == 1 and len(shifts) > 1:
            axes = axes * len(shifts)
        if len(shifts) != len(axes) or None in axes:
            raise ValueError(f"roll: {len(shifts)} shifts for axes {axis}")
        for s, a in zip(shifts, axes):
            x = roll(x, s, a)
        return x
    if axis is None:
        return reshape(Roll(0)(flatten(x), shift), shape_list(x))
    return Roll(axis_index(axis, x.ndim, "roll"))(x, shift)

