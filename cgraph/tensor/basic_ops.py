"""Strided-copy ops: reshape, flatten, alloc (zeros, ones, full); tile, repeat and roll
are in `cgraph.tensor.tiling`.

Data movement is one kernel family, `copy` (templates/copy.c.j2): each op describes
its output as one or more strided copies of its input (a loop shape, output and
input strides and offsets), computed per call shape in `copy_parts`. Reshape of any
layout, broadcasting a value (alloc), tiling, repeating and rolling are all such
copies, so they share one loop nest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, contiguous_strides, register_kernel
from cgraph.tensor.shape import ShapeVector, checked_size
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

#: one strided copy: (output offset, input offset, loop shape, output strides, input strides)
Part = tuple[int, int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def _int_input(v: Any, what: str) -> TensorVariable:
    v = as_tensor_variable(v)
    if v.ndim > 1 or v.dtype.startswith(("float", "bool")):
        raise TypeError(f"{what}: expected integer scalars or an integer vector, got {v.type}")
    return v


def _static_value(v: Variable) -> np.ndarray | None:
    return np.asarray(v.data) if hasattr(v, "data") else None


def _flat_values(values: Sequence[Any]) -> list[int]:
    return [int(n) for v in values for n in np.ravel(v)]


class CopyOp(Op):
    """Base of the ops lowered to strided copies of input 0 (`copy_parts`): the `copy`
    kernel (`CopyKernel`) zeroes the output first when `zero_first`, then runs
    `n_parts` copies over `n_loop_dims` axes."""

    zero_first = False

    def n_loop_dims(self, node: Apply) -> int:
        """The number of axes of each copy's loop."""
        return node.outputs[0].type.ndim

    def n_parts(self, node: Apply) -> int:
        """The number of strided copies."""
        return 1

    def copy_parts(self, node: Apply, out_layout: tuple, in_layouts: list,
                   values: list | None) -> list[Part]:
        """The copies for one call's layouts (and `values` at `value_inputs`)."""
        raise NotImplementedError


class CopyKernel(KernelBuilder):
    """Every CopyOp: `templates/copy.c.j2` runs its strided copies."""

    family = "copy"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        ndim, parts = op.n_loop_dims(node), op.n_parts(node)
        part = ParamLayout("copy part", out_offset=1, in_offset=1, shape=ndim,
                           out_strides=ndim, in_strides=ndim)
        layout = ParamLayout(self.family, zero=int(op.zero_first), parts=(parts, part))
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim, "parts": parts, "zero": op.zero_first})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        op = node.op
        parts = [{"out_offset": out_off, "in_offset": in_off, "shape": shape,
                  "out_strides": st_o, "in_strides": st_i}
                 for out_off, in_off, shape, st_o, st_i
                 in op.copy_parts(node, out_layouts[0], in_layouts, values)]
        zero = [math.prod(out_layouts[0][0])] if op.zero_first else []
        return kernel.layout.build(zero=zero, parts=parts)


register_kernel(CopyKernel(), CopyOp)


# --------------------------------------------------------------------------- reshape


def resolve_shape(target: Sequence[int], size: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """numpy's reshape rule for `target` (one -1 allowed), with a clear error.

    Sizes are Python ints, so a target whose product exceeds int64 is refused, never
    wrapped; a -1 next to a zero length is ambiguous and refused, as numpy does.
    """
    target = [int(n) for n in target]
    unknown = [i for i, n in enumerate(target) if n == -1]
    if len(unknown) > 1 or any(n < -1 for n in target):
        raise ValueError(f"reshape: invalid target shape {tuple(target)}")
    known = math.prod(n for n in target if n != -1)
    if unknown and known == 0:
        raise ValueError(f"reshape: cannot reshape an array of shape {shape} (size {size}) "
                         f"into shape {tuple(target)}: the -1 is ambiguous next to a "
                         "length 0")
    if unknown and size % known == 0:
        target[unknown[0]] = size // known
    elif unknown or known != size:
        raise ValueError(f"reshape: cannot reshape an array of shape {shape} (size {size}) "
                         f"into shape {tuple(target)}")
    return tuple(target)


class Reshape(CopyOp):
    """`x` with a new shape of `ndim` axes; the shape comes from integer inputs.

    The target shape is given as integer scalars or one integer vector (inputs 1..),
    -1 standing for the remaining size. The C kernel copies the elements in C order
    (a plain copy when `x` is contiguous).
    """

    __props__ = ("ndim", "nparts")

    def __init__(self, ndim: int, nparts: int | None = None):
        self.ndim = ndim
        self.nparts = ndim if nparts is None else nparts
        self.value_inputs = tuple(range(1, 1 + self.nparts))

    def make_node(self, x: Any, *shape: Any) -> Apply:
        x = as_tensor_variable(x)
        parts = [_int_input(s, "reshape") for s in shape]
        if len(parts) != self.nparts:
            raise TypeError(f"{self}: expected {self.nparts} shape inputs, got {len(parts)}")
        count = sum(1 if p.ndim == 0 else (p.type.shape[0] or -1) for p in parts)
        one_vector = self.nparts == 1 and parts and parts[0].ndim == 1
        if one_vector and parts[0].type.shape[0] is None:
            count = self.ndim  # its length is checked when the function is called
        if count != self.ndim or any(p.ndim == 1 and p.type.shape[0] is None
                                     for p in parts if not one_vector):
            raise TypeError(f"reshape to {self.ndim} axes needs {self.ndim} integers (a vector"
                            f" of static length), got {[str(p.type) for p in parts]}")
        static = [_static_value(p) for p in parts]
        out: list[int | None] = []
        if all(s is not None for s in static):
            target = _flat_values(static)
            if None not in x.type.shape:
                size = math.prod(x.type.shape)
                out = list(resolve_shape(target, size, x.type.shape))
            else:
                out = [None if n == -1 else n for n in target]
        elif all(p.ndim == 0 for p in parts):
            out = [None if v is None or int(v) == -1 else int(v) for v in static]
        else:
            out = [None] * self.ndim
        return Apply(self, [x, *parts], [TensorType(x.dtype, out).make_variable()])

    def _target(self, values: Sequence[Any]) -> list[int]:
        target = _flat_values(values)
        if len(target) != self.ndim:
            raise ValueError(f"reshape: the shape vector {target} has {len(target)} entries "
                             f"for a reshape to {self.ndim} axes")
        return target

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        return [np.array(x.reshape(resolve_shape(self._target(inputs[1:]), x.size, x.shape)))]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        size = math.prod(shapes[0])
        target = self._target(values[1:]) if values else []  # no values for a 0-d target
        return [resolve_shape(target, size, tuple(shapes[0]))]

    def n_loop_dims(self, node: Apply) -> int:
        return node.inputs[0].type.ndim

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides = in_layouts[0]
        return [(0, 0, shape, contiguous_strides(shape), strides)]

    def grad(self, inputs, output_grads):
        x = inputs[0]
        return [reshape(output_grads[0], shape_list(x)), *[None] * (len(inputs) - 1)]


def shape_list(x: TensorVariable) -> list[TensorVariable]:
    """`x`'s axis lengths as int64 scalars (constants where static)."""
    from cgraph.tensor.shape import shape_i
    return [shape_i(x, i) for i in range(x.ndim)]


def reshape(x: Any, shape: Any, ndim: int | None = None) -> TensorVariable:
    """numpy.reshape: `shape` is a tuple of ints / int scalars or an int vector (-1 allowed).

    Raises
    ------
    ValueError
        At build time when static sizes don't match, else when the function is called.
    """
    x = as_tensor_variable(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if isinstance(shape, ShapeVector):  # another tensor's `.shape`: its entries
        shape = tuple(shape)
    if isinstance(shape, (list, tuple)):
        parts = [as_tensor_variable(np.asarray(s, dtype="int64")) if isinstance(
            s, (int, np.integer)) else _int_input(s, "reshape") for s in shape]
        return Reshape(len(parts))(x, *parts)
    vec = _int_input(shape, "reshape")
    if vec.ndim == 0:
        return Reshape(1)(x, vec)
    n = vec.type.shape[0] if ndim is None else ndim
    if n is None:
        raise ValueError("reshape: pass ndim= when the shape vector's length is not static")
    if vec.type.shape[0] not in (None, n):
        raise ValueError(f"reshape: ndim={n} for a shape vector of length {vec.type.shape[0]}")
    return Reshape(n, 1)(x, vec)


def flatten(x: Any, ndim: int = 1) -> TensorVariable:
    """Theano's flatten: keep the first `ndim - 1` axes, merge the rest into one."""
    x = as_tensor_variable(x)
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten: ndim={ndim} out of range for {x.type}")
    sizes = shape_list(x)
    merged = 1
    for n in sizes[ndim - 1:]:  # the product, not -1: a zero-size x has (0, 6) too
        merged = merged * n
    if isinstance(merged, int) and merged > 0:
        merged = -1  # static: reshape then knows the length
    return reshape(x, [*sizes[:ndim - 1], merged])


# --------------------------------------------------------------------------- alloc


def _broadcast_strides(shape: tuple, strides: tuple, out_shape: tuple, what: str) -> tuple:
    pad = len(out_shape) - len(shape)
    result = []
    for a, n in enumerate(out_shape):
        if a < pad:
            result.append(0)
            continue
        m = shape[a - pad]
        if m != n and m != 1:
            raise ValueError(f"{what}: a value of shape {shape} cannot fill shape {out_shape}")
        result.append(0 if m != n or n == 1 else strides[a - pad])
    return tuple(result)


class Alloc(CopyOp):
    """`value` broadcast to a shape of `ndim` integer inputs (Theano's alloc)."""

    __props__ = ("ndim",)

    def __init__(self, ndim: int):
        self.ndim = ndim

        self.value_inputs = tuple(range(1, 1 + ndim))

    def make_node(self, value: Any, *shape: Any) -> Apply:
        value = as_tensor_variable(value)
        parts = [_int_input(s, "alloc") for s in shape]
        if len(parts) != self.ndim or any(p.ndim for p in parts):
            raise TypeError(f"alloc: expected {self.ndim} integer scalars")
        if value.ndim > self.ndim:
            raise ValueError(f"alloc: a {value.ndim}-d value cannot fill {self.ndim} axes")
        out = []
        for p in parts:
            v = _static_value(p)
            out.append(None if v is None else int(v))
        return Apply(self, [value, *parts], [TensorType(value.dtype, out).make_variable()])

    def _shape(self, values: Sequence[Any]) -> tuple[int, ...]:
        shape = tuple(_flat_values(values))
        if any(n < 0 for n in shape):
            raise ValueError(f"alloc: negative dimensions in shape {shape}")
        return shape

    def perform(self, node, inputs):
        return [np.array(np.broadcast_to(inputs[0], self._shape(inputs[1:])))]

    def infer_shape(self, node, shapes, values=None):
        shape = self._shape(values[1:] if values else [])
        checked_size(shape, node.outputs[0].type.dtype, "alloc: the array")
        _broadcast_strides(tuple(shapes[0]), (0,) * len(shapes[0]), shape, "alloc")
        return [shape]

    def copy_parts(self, node, out_layout, in_layouts, values):
        shape, strides = out_layout
        in_shape, in_strides = in_layouts[0]
        st_i = _broadcast_strides(tuple(in_shape), tuple(in_strides), tuple(shape), "alloc")
        return [(0, 0, shape, strides, st_i)]

    def grad(self, inputs, output_grads):
        from cgraph.tensor import reduce as _reduce
        value, gz = inputs[0], output_grads[0]
        lead = list(range(self.ndim - value.ndim))
        if lead:
            gz = _reduce.sum(gz, axis=lead)
        if None in value.type.shape:  # a length known at call time may be 1: numpy's rule
            return [_reduce.sum_to(gz, value, runtime=True), *[None] * self.ndim]
        axes = [a for a in range(value.ndim) if value.type.shape[a] == 1]
        if axes:
            gz = _reduce.sum(gz, axis=axes, keepdims=True)
        return [gz, *[None] * self.ndim]


def alloc(value: Any, *shape: Any) -> TensorVariable:
    """`value` broadcast to `shape` (ints or int scalars), Theano's `T.alloc`."""
    return Alloc(len(shape))(value, *shape)


def _shape_args(shape: Any) -> list:
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, Variable) and
                                                 getattr(shape, "ndim", 1) == 0):
        return [shape]
    if isinstance(shape, TensorVariable) and not isinstance(shape, ShapeVector):
        n = shape.type.shape[0] if shape.ndim == 1 else None
        if n is None:
            raise TypeError(f"a shape must be a tuple of ints or int scalars, or an int vector "
                            f"of static length, got {shape.type}")
        return [shape[i] for i in range(n)]
    return list(shape)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> TensorVariable:
    """An array of `shape` filled with `fill_value` (like numpy.full)."""
    value = as_tensor_variable(fill_value)
    if dtype is not None:
        from cgraph.tensor.elemwise import cast
        value = cast(value, np.dtype(dtype).name)
    return alloc(value, *_shape_args(shape))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> TensorVariable:
    """An array of the shape of `x` filled with `fill_value` (numpy.full_like; the dtype
    of `x` unless given)."""
    from cgraph.tensor.elemwise import cast
    x = as_tensor_variable(x)
    value = cast(as_tensor_variable(fill_value), np.dtype(dtype or x.dtype).name)
    return alloc(value, *shape_list(x))


def zeros(shape: Any, dtype: Any = None) -> TensorVariable:
    """Zeros of `shape` (ints or int scalars); dtype defaults to config.floatX."""
    from cgraph.configdefaults import config
    return alloc(np.zeros((), dtype=dtype or config.floatX), *_shape_args(shape))


def ones(shape: Any, dtype: Any = None) -> TensorVariable:
    """Ones of `shape` (ints or int scalars); dtype defaults to config.floatX."""
    from cgraph.configdefaults import config
    return alloc(np.ones((), dtype=dtype or config.floatX), *_shape_args(shape))
