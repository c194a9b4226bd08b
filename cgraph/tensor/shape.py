"""Shape ops: DimShuffle (transpose, broadcast axes), Shape_i, Shape, Join and its
slices, with their kernels; the size rule every shape obeys (`checked_size`).

DimShuffle and JoinSlice are views: the generated C aliases their input with new
strides and an offset, computed per call shape by `view_layout`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable, ViewOp
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

Layout = tuple[tuple[int, ...], tuple[int, ...], int]

#: The largest number of bytes an array can take (numpy's limit, the largest `intp`):
#: below it, every element count, stride and byte offset of an array fits in int64.
MAX_BYTES = int(np.iinfo(np.intp).max)


def checked_size(shape: Sequence[int], dtype: Any = None, what: str = "array") -> int:
    """The number of elements of an array of `shape`, computed in Python ints (no wrap).

    Parameters
    ----------
    shape : sequence of int
        The lengths.
    dtype : dtype-like, optional
        The element type whose size counts against `MAX_BYTES` (one byte if None).
    what : str
        Names the array in the error message.

    Raises
    ------
    ValueError
        When a length is negative, or when the array would take more than `MAX_BYTES`
        bytes (numpy's "array is too big").
    """
    lengths = tuple(int(n) for n in shape)
    if any(n < 0 for n in lengths):
        raise ValueError(f"{what}: negative dimensions are not allowed in shape {lengths}")
    size = math.prod(lengths)
    itemsize = 1 if dtype is None else np.dtype(dtype).itemsize
    if size * itemsize > MAX_BYTES:
        kind = "" if dtype is None else f" of {np.dtype(dtype).name}"
        raise ValueError(f"{what} is too big: shape {lengths}{kind} needs {size * itemsize} "
                         f"bytes, more than the maximum possible size ({MAX_BYTES} bytes)")
    return size


def axis_index(axis: Any, ndim: int, what: str) -> int:
    """`axis` as a non-negative axis of an `ndim`-d tensor (numpy's negative axes).

    Raises
    ------
    TypeError
        When `axis` is not an integer (1.0, "0").
    ValueError
        When it is out of range.
    """
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{what}: axis must be an integer, not {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what}: axis {axis} out of range for a {ndim}-d tensor")
    return axis % ndim


class DimShuffle(ViewOp):
    """Reorder axes, insert broadcastable axes ('x') or drop length-1 axes.

    `new_order` lists, for each output axis, an input axis or 'x'. Input axes not
    listed must have static length 1. The output is a view of the input.
    """

    __props__ = ("input_ndim", "new_order")

    def __init__(self, input_ndim: int, new_order: Sequence[int | str]):
        self.input_ndim = input_ndim
        try:
            self.new_order = tuple(a if a == "x" else operator.index(a) for a in new_order)
        except TypeError:
            raise TypeError(f"dimshuffle: the pattern {tuple(new_order)} must hold integers "
                            "and 'x'") from None
        used = [a for a in self.new_order if a != "x"]
        if len(set(used)) != len(used) or any(not 0 <= a < input_ndim for a in used):
            raise ValueError(
                f"invalid dimshuffle pattern {self.new_order} for {input_ndim}-d input"
            )
        self.dropped = tuple(a for a in range(input_ndim) if a not in used)

    def __str__(self) -> str:
        return f"DimShuffle{{{','.join(map(str, self.new_order))}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self} expects a {self.input_ndim}-d input, got {x.type}")
        for axis in self.dropped:
            if x.type.shape[axis] != 1:
                raise ValueError(f"{self}: cannot drop axis {axis} of {x.type}: "
                                 "it is not known to have length 1")
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = inputs
        shape, _, _ = self.view_layout([x.shape], (0,) * x.ndim)
        used = [a for a in self.new_order if a != "x"]
        return [np.transpose(x, used + list(self.dropped)).reshape(shape)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shape, _, _ = self.view_layout(shapes, (0,) * self.input_ndim)
        return [shape]

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> Layout:
        """Output (shape, element strides, element offset) of the view of input 0."""
        shape = shapes[0]
        for axis in self.dropped:
            if shape[axis] != 1:
                raise ValueError(f"{self}: axis {axis} of shape {tuple(shape)} is not 1")
        out_shape = tuple(1 if a == "x" else shape[a] for a in self.new_order)
        out_strides = tuple(0 if a == "x" else strides[a] for a in self.new_order)
        return out_shape, out_strides, 0

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (gz,) = output_grads
        # Drop the inserted axes, then put the kept axes back in input order and
        # re-insert the axes that were dropped.
        kept = [i for i, a in enumerate(self.new_order) if a != "x"]
        gz = sum_axes_x(gz, [i for i, a in enumerate(self.new_order) if a == "x"])
        src = [self.new_order[i] for i in kept]
        order: list[int | str] = []
        for axis in range(self.input_ndim):
            order.append(src.index(axis) if axis in src else "x")
        return [DimShuffle(len(kept), order)(gz)]


class Squeeze(DimShuffle):
    """A DimShuffle that may drop axes of unknown length (numpy's squeeze with an axis):
    their length is checked to be 1 when the function is called."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self} expects a {self.input_ndim}-d input, got {x.type}")
        for axis in self.dropped:
            if x.type.shape[axis] not in (None, 1):
                raise ValueError(f"squeeze: cannot drop axis {axis} of {x.type}: its length "
                                 f"is {x.type.shape[axis]}, not 1")
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape).make_variable()])

    def __str__(self) -> str:
        return f"Squeeze{{{','.join(map(str, self.new_order))}}}"


def sum_axes_x(gz: TensorVariable, axes: list[int]) -> TensorVariable:
    """Remove the broadcastable axes `axes` of `gz` (their length is 1)."""
    if not axes:
        return gz
    keep = [i for i in range(gz.ndim) if i not in axes]
    return DimShuffle(gz.ndim, keep)(gz)


def pad_left(v: TensorVariable, ndim: int) -> TensorVariable:
    """Prepend broadcastable axes so that `v` has `ndim` axes."""
    if v.ndim == ndim:
        return v
    return DimShuffle(v.ndim, ["x"] * (ndim - v.ndim) + list(range(v.ndim)))(v)


def dimshuffle(x: Any, *pattern: int | str) -> TensorVariable:
    """Theano's dimshuffle: `x.dimshuffle(1, 'x', 0)` is a view of x with its axes in
    the order given and 'x' a new axis of length 1; an axis left out must be known to
    have length 1 (it is dropped). The dtype is x's. A pattern that names an axis
    twice, or drops one not known to have length 1, raises ValueError when the graph
    is built."""
    x = as_tensor_variable(x)
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = tuple(pattern[0])
    return DimShuffle(x.ndim, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> TensorVariable:
    """Permute the axes of `x` (reverse them by default), as a view."""
    x = as_tensor_variable(x)
    if axes is None:
        axes = list(range(x.ndim))[::-1]
    axes = [a + x.ndim if a < 0 else a for a in axes]
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {list(axes)} are not a permutation of {x.ndim} axes")
    return DimShuffle(x.ndim, axes)(x)




# --------------------------------------------------------------------------- Shape_i


class Shape_i(Op):
    """The length of axis `i` of its input, as an int64 scalar."""

    __props__ = ("i",)
    needs_input_data = False

    def __init__(self, i: int):
        self.i = i

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i: axis {self.i} out of range for {x.type}")
        return Apply(self, [x], [TensorType("int64", ()).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(inputs[0].shape[self.i], dtype="int64")]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [()]

    def value(self, shapes: list[tuple[int, ...]]) -> int:
        """The output's value, from the input shapes alone."""
        return shapes[0][self.i]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [None]


def shape_i(x: TensorVariable, i: int) -> TensorVariable:
    """`x.shape[i]` as a symbolic int64 scalar (a constant when statically known)."""
    i = i + x.ndim if i < 0 else i
    known = x.type.shape[i] if 0 <= i < x.ndim else None
    if known is not None:
        return as_tensor_variable(np.array(known, dtype="int64"))
    return Shape_i(i)(x)


class Shape(Op):
    """The shape of its input as an int64 vector (`x.shape`, `T.shape(x)`); known from
    the input's shape alone, so the C kernel copies plan parameters."""

    __props__ = ()
    needs_input_data = False

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [ShapeVector(TensorType("int64", (x.ndim,)))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(inputs[0].shape, dtype="int64")]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [(len(shapes[0]),)]

    def value(self, shapes: list[tuple[int, ...]]) -> np.ndarray:
        """The output's value, from the input shapes alone."""
        return np.array(shapes[0], dtype="int64")

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [None]


class ShapeVector(TensorVariable):
    """The output of Shape: an int64 vector that also reads like the tuple of its
    entries while the graph is built. `x.shape[i]` is the scalar `shape_i(x, i)` (a
    constant when the length is static), `x.shape[1:]` a tuple of them, `len()` the
    rank and unpacking `n, m = x.shape` works; arithmetic and function outputs see
    the vector (Theano's `x.shape`)."""

    def _entries(self) -> tuple[TensorVariable, ...] | None:
        owner = self.owner
        if owner is None or not isinstance(owner.op, Shape):
            return None
        x = owner.inputs[0]
        return tuple(shape_i(x, i) for i in range(x.ndim))

    def __getitem__(self, key: Any) -> Any:
        entries = self._entries()
        if entries is not None and isinstance(key, (int, np.integer, slice)):
            return entries[key]
        return super().__getitem__(key)  # symbolic indices: general indexing

    def __len__(self) -> int:
        return self.type.shape[0]

    def __iter__(self):
        entries = self._entries()
        if entries is None:
            return super().__iter__()
        return iter(entries)


def shape(x: Any) -> TensorVariable:
    """The shape of `x` as a symbolic int64 vector (`x.shape`), as theano.tensor.shape."""
    return Shape()(as_tensor_variable(x))


# --------------------------------------------------------------------------- Join


class Join(Op):
    """Concatenate inputs of one dtype and rank along a static `axis`."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = axis

    def make_node(self, *tensors: Any) -> Apply:
        inputs = [as_tensor_variable(t) for t in tensors]
        if not inputs:
            raise ValueError("concatenate needs at least one tensor")
        first = inputs[0]
        if first.ndim == 0:
            raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
        if not 0 <= self.axis < first.ndim:
            raise ValueError(f"concatenate: axis {self.axis} out of range for {first.type}")
        for v in inputs:
            if v.ndim != first.ndim or v.dtype != first.dtype:
                raise TypeError(f"concatenate: all inputs need the type of {first.type}, "
                                f"got {v.type}")
        shape = []
        for axis in range(first.ndim):
            sizes = [v.type.shape[axis] for v in inputs]
            if axis == self.axis:
                shape.append(None if None in sizes else sum(sizes))
                continue
            known = {s for s in sizes if s is not None}
            if len(known) > 1:
                raise ValueError(f"concatenate: input shapes {[v.type.shape for v in inputs]} "
                                 f"differ on axis {axis}")
            shape.append(known.pop() if known else None)
        return Apply(self, inputs, [TensorType(first.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.concatenate(inputs, axis=self.axis)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        first = shapes[0]
        for s in shapes:
            rest = [n for a, n in enumerate(s) if a != self.axis]
            if rest != [n for a, n in enumerate(first) if a != self.axis]:
                raise ValueError(f"concatenate along axis {self.axis}: shapes "
                                 f"{', '.join(map(str, shapes))} differ off that axis")
        total = sum(s[self.axis] for s in shapes)
        return [first[: self.axis] + (total,) + first[self.axis + 1:]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (gz,) = output_grads
        return [JoinSlice(self.axis, k)(gz, *inputs) if inputs[k].type.is_continuous else None
                for k in range(len(inputs))]


class JoinSlice(ViewOp):
    """The part of a Join's output that came from input `k`: a view of `gz`.

    Inputs are `gz` and the Join's inputs (read for their shapes only).
    """

    __props__ = ("axis", "k")

    def __init__(self, axis: int, k: int):
        self.axis = axis
        self.k = k

    def make_node(self, gz: Any, *parts: Any) -> Apply:
        gz = as_tensor_variable(gz)
        parts = [as_tensor_variable(p) for p in parts]
        shape = parts[self.k].type.shape
        return Apply(self, [gz, *parts], [TensorType(gz.dtype, shape).make_variable()])

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> Layout:
        """Output (shape, element strides, element offset) of the view of input 0."""
        start = sum(s[self.axis] for s in shapes[1:self.k + 1])
        return shapes[self.k + 1], tuple(strides), start * strides[self.axis]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [shapes[self.k + 1]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        shapes = [a.shape for a in inputs]
        start = sum(s[self.axis] for s in shapes[1:self.k + 1])
        stop = start + shapes[self.k + 1][self.axis]
        index = [slice(None)] * inputs[0].ndim
        index[self.axis] = slice(start, stop)
        return [inputs[0][tuple(index)]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError("the gradient of a Join gradient is not implemented")


# --------------------------------------------------------------------------- kernels


class ShapeValueKernel(KernelBuilder):
    """Shape_i: the value is known from the shapes, so it is a plan value."""

    family = "shape_value"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        return Kernel(self.family, name, comment, tuple(outs), (),
                      ParamLayout(self.family, value=1))

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(value=node.op.value(in_shapes))


class ShapeVectorKernel(KernelBuilder):
    """Shape: the axis lengths, copied from the plan."""

    family = "shape_vector"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].ndim
        layout = ParamLayout(self.family, lengths=max(ndim, 1))  # C has no empty array
        return Kernel(self.family, name, comment, tuple(outs), (), layout,
                      context={"ndim": ndim})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(lengths=[int(n) for n in in_shapes[0]] or [0])


class JoinKernel(KernelBuilder):
    """Join: each input copied into its slab of the output (templates/join.c.j2)."""

    family = "join"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.outputs[0].type.ndim
        part = ParamLayout("join part", offset=1, shape=ndim, strides=ndim)
        layout = ParamLayout(self.family, out_strides=ndim, parts=(len(ins), part))
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        axis = node.op.axis
        _, out_strides = out_layouts[0]
        parts, start = [], 0
        for shape, strides in in_layouts:
            parts.append({"offset": start * out_strides[axis], "shape": shape,
                          "strides": strides})
            start += shape[axis]
        return kernel.layout.build(out_strides=out_strides, parts=parts)


register_kernel(ShapeValueKernel(), Shape_i)
register_kernel(ShapeVectorKernel(), Shape)
register_kernel(JoinKernel(), Join)
