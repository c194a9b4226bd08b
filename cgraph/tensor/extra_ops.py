"""Construction (arange, eye, identity_like) with their kernels, axis views
(expand_dims, squeeze, swapaxes, shape_pad*), stack and split. The per-lane ops
(cumsum, sort...) are in `cgraph.tensor.lanes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Apply, Op, ViewOp
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.basic_ops import CopyOp, _int_input, _static_value, shape_list
from cgraph.tensor.math import concatenate
from cgraph.tensor.shape import (
    DimShuffle,
    ShapeVector,
    Squeeze,
    axis_index,
    checked_size,
    transpose,
)
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

# --------------------------------------------------------------------------- arange, eye


class ARange(Op):
    """numpy.arange(start, stop, step) of integer or float scalar inputs, in `dtype`."""

    __props__ = ("dtype",)
    value_inputs = (0, 1, 2)

    def __init__(self, dtype: str):
        self.dtype = dtype

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        args = [as_tensor_variable(a) for a in (start, stop, step)]
        if any(a.ndim for a in args):
            raise TypeError("arange: start, stop and step must be scalars")
        return Apply(self, args, [TensorType(self.dtype, (None,)).make_variable()])

    def perform(self, node, inputs):
        start, stop, step = (a.item() for a in map(np.asarray, inputs))
        return [np.arange(start, stop, step, dtype=self.dtype)]

    def infer_shape(self, node, shapes, values=None):
        start, stop, step = (np.asarray(v).item() for v in values)
        length = arange_length(start, stop, step)
        checked_size((length,), self.dtype, "arange: the result")
        return [(length,)]

    def grad(self, inputs, output_grads):
        return [None, None, None]


def arange_length(start: float, stop: float, step: float) -> int:
    """The length of numpy.arange(start, stop, step) (Python numbers), without making it:
    ceil((stop - start) / step) in double precision, as numpy computes it.

    Raises
    ------
    ValueError
        For a zero step, a length that is not a number, or one past int64.
    """
    if step == 0:
        raise ValueError("arange: step must not be zero")
    value = (stop - start) / step
    if math.isnan(value):
        raise ValueError(f"arange: cannot compute the length of arange({start}, {stop}, "
                         f"{step})")
    if not abs(value) <= np.iinfo(np.int64).max:
        raise ValueError(f"arange({start}, {stop}, {step}): maximum allowed size exceeded")
    return max(math.ceil(value), 0)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> TensorVariable:
    """numpy.arange with int or float scalars (symbolic allowed)."""
    if stop is None:
        start, stop = 0, start
    args = [as_tensor_variable(a) for a in (start, stop, step)]
    if dtype is None:
        dtype = np.result_type(*[a.dtype for a in args]).name
    return ARange(np.dtype(dtype).name)(*args)


class Eye(Op):
    """numpy.eye(n, m, k) with integer scalar inputs."""

    __props__ = ("dtype",)
    value_inputs = (0, 1, 2)

    def __init__(self, dtype: str):
        self.dtype = dtype

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        args = [_int_input(a, "eye") for a in (n, m, k)]
        static = [_static_value(a) for a in args[:2]]
        shape = [None if v is None else int(v) for v in static]
        return Apply(self, args, [TensorType(self.dtype, shape).make_variable()])

    def perform(self, node, inputs):
        n, m, k = (int(a) for a in inputs)
        return [np.eye(n, m, k, dtype=self.dtype)]

    def infer_shape(self, node, shapes, values=None):
        n, m = int(values[0]), int(values[1])
        checked_size((n, m), self.dtype, "eye: the matrix")
        return [(n, m)]

    def grad(self, inputs, output_grads):
        return [None, None, None]


def eye(n: Any, m: Any = None, k: Any = 0, dtype: Any = None) -> TensorVariable:
    """numpy.eye: ones on the k-th diagonal of an n x m matrix (dtype: floatX)."""
    return Eye(np.dtype(dtype or config.floatX).name)(n, n if m is None else m, k)


def identity_like(x: Any) -> TensorVariable:
    """An identity-like matrix of the shape and dtype of the matrix `x`."""
    x = as_tensor_variable(x)
    return eye(shape_list(x)[0], shape_list(x)[1], 0, dtype=x.dtype)


class ARangeKernel(KernelBuilder):
    """ARange: start + j * step (integers), or numpy's fill of floats (arange.c.j2)."""

    family = "arange"

    def layout(self, node: Apply) -> ParamLayout:
        return ParamLayout(self.family, length=1)

    def context(self, node: Apply, outs: list, ins: list) -> dict[str, Any]:
        return {"integer": all(not v.dtype.startswith("float") for v in node.inputs)}

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(length=out_layouts[0][0][0])


class EyeKernel(KernelBuilder):
    """Eye: a zeroed rows x cols matrix with ones on the k-th diagonal (eye.c.j2)."""

    family = "eye"

    def layout(self, node: Apply) -> ParamLayout:
        return ParamLayout(self.family, rows=1, cols=1, k=1)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        return kernel.layout.build(rows=int(values[0]), cols=int(values[1]), k=int(values[2]))


register_kernel(ARangeKernel(), ARange)
register_kernel(EyeKernel(), Eye)


# --------------------------------------------------------------------------- axis views


def _axis(axis: int, ndim: int, what: str) -> int:
    return axis_index(axis, ndim, what)


def _axes(axis: int | Sequence[int], ndim: int, what: str) -> list[int]:
    """Distinct non-negative axes from an int or a sequence of ints."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = [_axis(a, ndim, what) for a in axes]
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: repeated axis in {axis}")
    return out


def expand_dims(x: Any, axis: int | Sequence[int]) -> TensorVariable:
    """numpy.expand_dims: a view with new length-1 axes at `axis` (an int or a tuple of
    positions in the result)."""
    x = as_tensor_variable(x)
    n_new = len(axis) if isinstance(axis, (list, tuple)) else 1
    new = set(_axes(axis, x.ndim + n_new, "expand_dims"))
    kept = iter(range(x.ndim))
    order = ["x" if a in new else next(kept) for a in range(x.ndim + n_new)]
    return DimShuffle(x.ndim, order)(x)


def shape_padleft(x: Any, n_ones: int = 1) -> TensorVariable:
    """`x` with `n_ones` length-1 axes in front (Theano's shape_padleft), as a view."""
    x = as_tensor_variable(x)
    return expand_dims(x, tuple(range(n_ones))) if n_ones else x


def shape_padright(x: Any, n_ones: int = 1) -> TensorVariable:
    """`x` with `n_ones` length-1 axes at the end (Theano's shape_padright), as a view."""
    x = as_tensor_variable(x)
    return expand_dims(x, tuple(range(x.ndim, x.ndim + n_ones))) if n_ones else x


def shape_padaxis(x: Any, axis: int) -> TensorVariable:
    """`x` with a length-1 axis inserted at `axis` (Theano's shape_padaxis)."""
    return expand_dims(x, axis)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> TensorVariable:
    """Drop length-1 axes, as a view. With `axis` None, the axes statically known to have
    length 1 (the rank must be known when the graph is built); named axes of unknown
    length are checked to be 1 when the function is called (numpy's ValueError)."""
    x = as_tensor_variable(x)
    if axis is None:
        axes = [a for a, n in enumerate(x.type.shape) if n == 1]
    else:
        axes = _axes(axis, x.ndim, "squeeze")
    return Squeeze(x.ndim, [a for a in range(x.ndim) if a not in axes])(x)


def swapaxes(x: Any, axis1: int, axis2: int) -> TensorVariable:
    """numpy.swapaxes, as a view (no copy); the dtype is x's. An axis out of range (a
    negative one counts from the end) raises ValueError when the graph is built."""
    x = as_tensor_variable(x)
    order = list(range(x.ndim))
    a, b = _axis(axis1, x.ndim, "swapaxes"), _axis(axis2, x.ndim, "swapaxes")
    order[a], order[b] = order[b], order[a]
    return transpose(x, order)


def stack(tensors: Sequence[Any], *more: Any, axis: int = 0) -> TensorVariable:
    """numpy.stack: join tensors of one shape along a new axis (`stack([a, b], axis)`;
    Theano's `stack(a, b, c)` works too)."""
    if isinstance(tensors, ShapeVector):  # `stack(x.shape)`: its entries, as numpy would
        tensors = tuple(tensors)
    if isinstance(tensors, (list, tuple)):
        if len(more) > 1:
            raise TypeError("stack(tensors, axis): too many arguments")
        axis = more[0] if more else axis
    else:
        tensors = [tensors, *more]
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)


# --------------------------------------------------------------------------- split


def _split_start(sizes: np.ndarray, length: int, k: int) -> int:
    sizes = [int(s) for s in np.ravel(sizes)]
    if any(s < 0 for s in sizes) or sum(sizes) != length:
        raise ValueError(f"split: sizes {sizes} do not add up to the axis length {length}")
    return sum(sizes[:k])


class SplitPart(ViewOp):
    """Part `k` of `x` split along `axis` into pieces of `sizes` (an int vector): a view."""

    __props__ = ("axis", "k")
    value_inputs = (1,)

    def __init__(self, axis: int, k: int):
        self.axis = axis
        self.k = k

    def make_node(self, x: Any, sizes: Any) -> Apply:
        x, sizes = as_tensor_variable(x), _int_input(sizes, "split")
        shape = list(x.type.shape)
        static = _static_value(sizes)
        shape[self.axis] = None if static is None else int(np.ravel(static)[self.k])
        return Apply(self, [x, sizes], [TensorType(x.dtype, shape).make_variable()])

    def _shape(self, shapes, values) -> tuple[tuple[int, ...], int]:
        shape = list(shapes[0])
        start = _split_start(values[1], shape[self.axis], self.k)
        shape[self.axis] = int(np.ravel(values[1])[self.k])
        return tuple(shape), start

    def perform(self, node, inputs):
        x, sizes = inputs
        shape, start = self._shape([x.shape], [None, sizes])
        index = [slice(None)] * x.ndim
        index[self.axis] = slice(start, start + shape[self.axis])
        return [x[tuple(index)]]

    def infer_shape(self, node, shapes, values=None):
        return [self._shape(shapes, values)[0]]

    def view_layout(self, shapes, strides, values=None):
        """Output (shape, element strides, element offset) of the view of input 0."""
        shape, start = self._shape(shapes, values)
        return shape, tuple(strides), start * strides[self.axis]

    def grad(self, inputs, output_grads):
        x, sizes = inputs
        return [SplitPad(self.axis, self.k)(output_grads[0], x, sizes), None]


class SplitPad(CopyOp):
    """The gradient of a SplitPart: `gz` placed in its slab of zeros shaped like `x`."""

    __props__ = ("axis", "k")
    value_inputs = (2,)
    zero_first = True

    def __init__(self, axis: int, k: int):
        self.axis = axis
        self.k = k

    def make_node(self, gz: Any, x: Any, sizes: Any) -> Apply:
        gz, x, sizes = as_tensor_variable(gz), as_tensor_variable(x), as_tensor_variable(sizes)
        return Apply(self, [gz, x, sizes], [TensorType(gz.dtype, x.type.shape).make_variable()])

    def perform(self, node, inputs):
        gz, x, sizes = inputs
        start = _split_start(sizes, x.shape[self.axis], self.k)
        out = np.zeros(x.shape, dtype=gz.dtype)
        index = [slice(None)] * x.ndim
        index[self.axis] = slice(start, start + gz.shape[self.axis])
        out[tuple(index)] = gz
        return [out]

    def infer_shape(self, node, shapes, values=None):
        return [tuple(shapes[1])]

    def copy_parts(self, node, out_layout, in_layouts, values):
        out_shape, out_strides = out_layout
        shape, strides = in_layouts[0]
        start = _split_start(values[2], out_shape[self.axis], self.k)
        return [(start * out_strides[self.axis], 0, shape, out_strides, strides)]

    def grad(self, inputs, output_grads):
        raise NotImplementedError("the gradient of a split gradient is not implemented")


def split(x: Any, splits_size: Any, n_splits: int, axis: int = 0) -> list[TensorVariable]:
    """Theano's split: `n_splits` views of `x` along `axis` of lengths `splits_size`.

    `splits_size` is a list of ints or an integer vector (symbolic allowed); the sizes
    must add up to the axis length (checked when the function is called).
    """
    x = as_tensor_variable(x)
    axis = _axis(axis, x.ndim, "split")
    if isinstance(splits_size, (list, tuple)):
        if len(splits_size) != n_splits:
            raise ValueError(f"split: {len(splits_size)} sizes for n_splits={n_splits}")
        if all(isinstance(v, (int, np.integer)) for v in splits_size):
            splits_size = np.asarray(splits_size, dtype="int64")
        else:  # symbolic sizes: an int vector of them
            splits_size = stack([as_tensor_variable(np.int64(v)) if isinstance(
                v, (int, np.integer)) else _int_input(v, "split") for v in splits_size])
    sizes = _int_input(splits_size, "split")
    if sizes.ndim != 1:
        raise TypeError(f"split: splits_size must be a vector, got {sizes.type}")
    return [SplitPart(axis, k)(x, sizes) for k in range(n_splits)]
