"""The indexing ops: `Subtensor` (basic indexing, a view), `AdvancedSubtensor` (a gather
through index arrays), `IncSubtensor` (set or add over the indexed region) and `Nonzero`
(a mask's coordinates). `cgraph.tensor.subtensor` parses the user's index into them.

Each op holds an `Index` (`cgraph.tensor.subtensor_index`): one entry per axis of `x`
(plus new axes), each a static int, a slice, a new axis or an integer array; ints and
slice bounds may be symbolic scalars (the op's `value_inputs`). Per call shape, `region`
resolves it, with numpy's rules, into the indexed region of `x`: a shape, an element
offset and strides, plus, per index array, the stride of the axis it indexes and its own
strides along the region. The C kernels read that from P:

* `Subtensor` is a view: no copy, no kernel.
* `AdvancedSubtensor` gathers through index arrays (templates/subtensor_gather.c.j2);
  the C checks each index value and fails with IndexError, never reading out of bounds.
* `IncSubtensor` copies `x` and then sets or adds `y` (broadcast) over the region
  (templates/subtensor_scatter.c.j2); repeated indices accumulate, as np.add.at, and
  for set the last write wins (its gradient reaches only that write).
* A boolean mask becomes the coordinates of its true elements (`Nonzero`), used as
  index arrays. Their count is the output length: `Nonzero` reads the mask as a value
  input, so the planner counts it (evaluating the mask with the numpy references) and
  the C kernel checks that it finds the same count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, Op, Variable, ViewOp
from cgraph.kernel import (
    Kernel,
    KernelBuilder,
    ParamLayout,
    is_dense,
    loop_strides,
    register_kernel,
)
from cgraph.tensor import reduce as _reduce
from cgraph.tensor.basic_ops import reshape, shape_list
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import eq, switch, zeros_like
from cgraph.tensor.shape import pad_left
from cgraph.tensor.subtensor_index import (
    ARRAY,
    INT,
    NEW,
    SLICE,
    Index,
    Region,
    numpy_index,
    region,
    static_shape,
)
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def _index_inputs(index: Index, inputs: Sequence[Any]) -> list[TensorVariable]:
    kinds = index.input_kinds()
    inputs = [as_tensor_variable(v) for v in inputs]
    if len(inputs) != len(kinds):
        raise TypeError(f"index [{index}] takes {len(kinds)} index inputs, got {len(inputs)}")
    for kind, v in zip(kinds, inputs):
        if v.dtype == "bool" or v.dtype.startswith("float") or (kind == "scalar") != (
                v.ndim == 0):
            raise TypeError(f"index [{index}]: expected an integer {kind}, got {v.type}")
    return inputs


class IndexOp(Op):
    """Base of the indexing ops: `index`, its inputs after the first `first` inputs."""

    first = 1

    def __init__(self, index: Index):
        self.index = index
        kinds = index.input_kinds()
        self.scalar_positions = tuple(self.first + k for k, kind in enumerate(kinds)
                                      if kind == "scalar")
        self.array_positions = tuple(self.first + k for k, kind in enumerate(kinds)
                                     if kind == "array")
        self.value_inputs = self.scalar_positions

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{self.index}}}"

    def region_of(self, x_layout: tuple, in_layouts: Sequence[tuple],
                  values: Sequence[Any] | None) -> Region:
        """The region for `x` laid out as `x_layout` (shape, strides)."""
        scalars = [int(values[i]) for i in self.scalar_positions] if values else []
        arrays = [in_layouts[i] for i in self.array_positions]
        return region(self.index, x_layout[0], x_layout[1], scalars, arrays)

    def _region_shape(self, shapes: Sequence[tuple], values: Sequence[Any] | None) -> tuple:
        layouts = [(s, (0,) * len(s)) for s in shapes]
        return self.region_of(layouts[0], layouts, values).shape

    def region_ndim(self, node: Apply) -> int:
        """The number of axes of `x[index]`."""
        arrays = [node.inputs[i].ndim for i in self.array_positions]
        return sum(e[0] in (SLICE, NEW) for e in self.index.entries) + max(arrays, default=0)


class Subtensor(IndexOp, ViewOp):
    """Basic indexing (ints, slices, new axes): a view of `x` with an offset and strides."""

    __props__ = ("index",)

    def make_node(self, x: Any, *inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.index.has_arrays:
            raise TypeError("Subtensor takes no index arrays; use AdvancedSubtensor")
        inputs = _index_inputs(self.index, inputs)
        shape = static_shape(self.index, x.type.shape, [])
        return Apply(self, [x, *inputs], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0][numpy_index(self.index, inputs[1:])]]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        return [self._region_shape(shapes, values)]

    def view_layout(self, shapes: list, strides: Sequence[int], values: list | None = None
                    ) -> tuple:
        """Output (shape, element strides, element offset) of the view of input 0."""
        r = self.region_of((shapes[0], strides), [], values)
        return r.shape, r.strides, r.offset

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        x, *rest = inputs
        gx = IncSubtensor(self.index)(zeros_like(x), output_grads[0], *rest)
        return [gx, *[None] * len(rest)]


class AdvancedSubtensor(IndexOp):
    """Indexing with integer arrays (and ints, slices, new axes): a gather kernel."""

    __props__ = ("index",)

    def make_node(self, x: Any, *inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        inputs = _index_inputs(self.index, inputs)
        arrays = [inputs[i - 1].type.shape for i in self.array_positions]
        shape = static_shape(self.index, x.type.shape, arrays)
        return Apply(self, [x, *inputs], [TensorType(x.dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(inputs[0][numpy_index(self.index, inputs[1:])])]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        return [self._region_shape(shapes, values)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        x, *rest = inputs
        gx = IncSubtensor(self.index)(zeros_like(x), output_grads[0], *rest)
        return [gx, *[None] * len(rest)]


def _check_value_shape(y_shape: tuple, shape: tuple) -> None:
    """numpy's rule: `y`, less any leading length-1 axes beyond the indexed shape's
    rank, broadcasts to the indexed shape (right-aligned), or ValueError."""
    extra = max(len(y_shape) - len(shape), 0)
    rest = y_shape[extra:]
    pad = len(shape) - len(rest)
    if any(m != 1 for m in y_shape[:extra]) or any(
            m not in (1, n) for m, n in zip(rest, shape[pad:])):
        raise ValueError(f"shape mismatch: value array of shape {tuple(y_shape)} could not "
                         f"be broadcast to indexing result of shape {tuple(shape)}")


def _check_value_type(y: TensorVariable, shape: tuple) -> None:
    """`_check_value_shape` on the static lengths (None: checked when called)."""
    extra = max(y.ndim - len(shape), 0)
    rest = y.type.shape[extra:]
    if any(m not in (None, 1) for m in y.type.shape[:extra]) or any(
            None not in (m, n) and m not in (1, n)
            for m, n in zip(rest, shape[len(shape) - len(rest):])):
        static = tuple("?" if n is None else n for n in shape)
        raise ValueError(f"shape mismatch: value of type {y.type} could not be broadcast "
                         f"to indexing result of shape {static}")


class IncSubtensor(IndexOp):
    """`x` with `y` added (or, with `set_instead_of_inc`, written) at `x[index]`.

    `y` broadcasts to the indexed shape; with repeated indices the additions
    accumulate (np.add.at) and, for set, the last write wins.
    """

    __props__ = ("index", "set_instead_of_inc")
    first = 2

    def __init__(self, index: Index, set_instead_of_inc: bool = False):
        super().__init__(index)
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def __str__(self) -> str:
        return f"{'Set' if self.set_instead_of_inc else 'Inc'}Subtensor{{{self.index}}}"

    def make_node(self, x: Any, y: Any, *inputs: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        inputs = _index_inputs(self.index, inputs)
        if y.dtype != x.dtype:
            raise TypeError(f"{self}: y ({y.type}) must have the dtype of x ({x.type})")
        arrays = [inputs[i - 2].type.shape for i in self.array_positions]
        shape = static_shape(self.index, x.type.shape, arrays)
        _check_value_type(y, shape)
        return Apply(self, [x, y, *inputs], [x.type.make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, y, *rest = inputs
        out = np.array(x, copy=True, order="C")
        # A view of out with a length-1 axis where the index adds one, indexed there by
        # a full slice (numpy's add.at takes no new axes).
        shape, axis = [], 0
        for e in self.index.entries:
            shape.append(1 if e[0] == NEW else out.shape[axis])
            axis += e[0] != NEW
        items = numpy_index(self.index, rest, new_axis=slice(None))
        view = out.reshape(shape)
        extra = y.ndim - self.region_ndim(node)
        if extra > 0:  # leading length-1 axes (infer_shape checked them): numpy drops them
            y = y.reshape(y.shape[extra:])
        if self.set_instead_of_inc:
            view[items] = y
        else:
            np.add.at(view, items, y)
        return [out]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        _check_value_shape(tuple(shapes[1]), self._region_shape(shapes, values))
        return [tuple(shapes[0])]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        x, y, *rest = inputs
        (gz,) = output_grads
        gy = take_index(self.index, gz, rest)
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.index, True)(gz, np.zeros((), dtype=gz.dtype), *rest)
            if self.index.has_arrays and not _distinct_places(self, rest):
                gy = switch(_last_writes(self.index, gz, rest), gy, 0.0)
        else:
            gx = gz
        return [gx, _value_grad(gy, y), *[None] * len(rest)]


def _value_grad(g: TensorVariable, y: TensorVariable) -> TensorVariable:
    """The gradient of the region, `g`, summed back to the value `y` broadcast to it."""
    lead = g.ndim - y.ndim
    if lead > 0:
        g = _reduce.sum(g, axis=list(range(lead)))
    elif lead < 0:  # y's leading length-1 axes, beyond the region's
        g = pad_left(g, y.ndim)
    return _reduce.sum_to(g, y, runtime=True)  # the value broadcasts by numpy's rule


def _last_writes(index: Index, gz: TensorVariable, inputs: Sequence[Any]) -> TensorVariable:
    """Over the region of `index`: True where the element is the last one written to its
    place of x, the one set_subtensor keeps when index arrays repeat a place.

    Each region element writes its own position number into a zero buffer (the last
    write wins, as in the forward op); the winners read their own number back.
    """
    sizes = shape_list(take_index(index, gz, inputs))
    count = 1
    for n in sizes:
        count = count * n
    ids = reshape(arange(count, dtype="int64"), sizes)
    written = IncSubtensor(index, True)(zeros_like(gz, "int64"), ids, *inputs)
    return eq(take_index(index, written, inputs), ids)


def _distinct_places(op: IncSubtensor, inputs: Sequence[Variable]) -> bool:
    """Whether the index arrays statically address distinct places of x: all the
    coordinates of one mask (Nonzero), or constants without repeats."""
    arrays = [inputs[i - op.first] for i in op.array_positions]
    owner = arrays[0].owner
    if owner is not None and isinstance(owner.op, Nonzero) and len(arrays) == len(
            owner.outputs) and {id(a) for a in arrays} == {id(o) for o in owner.outputs}:
        return True
    if not all(isinstance(a, Constant) for a in arrays):
        return False
    coords = np.broadcast_arrays(*[np.asarray(a.data, dtype="int64") for a in arrays])
    flat = np.stack([c.ravel() for c in coords], axis=1)
    if flat.size and flat.min() < 0:  # -1 and n - 1 may be one place
        return False
    return len(np.unique(flat, axis=0)) == len(flat)


class Nonzero(Op):
    """numpy.nonzero(mask): the coordinates of its nonzero elements, one int64 vector
    per axis.

    Input 1 (`like`) is read for its shape: the mask indexes its axes from `axis` on,
    and must match them. The output length is the mask's count of nonzero elements,
    known when the mask's values are: the planner counts them (`value_inputs`).
    """

    __props__ = ("axis",)
    value_inputs = (0,)

    def __init__(self, axis: int = 0):
        self.axis = axis

    def make_node(self, mask: Any, like: Any) -> Apply:
        mask, like = as_tensor_variable(mask), as_tensor_variable(like)
        if mask.ndim == 0:
            raise TypeError("nonzero: a 0-d mask is not supported")
        if self.axis + mask.ndim > like.ndim:
            raise IndexError(f"too many indices: a {mask.ndim}-d mask at axis {self.axis} "
                             f"of {like.type}")
        for a, (m, n) in enumerate(zip(mask.type.shape, like.type.shape[self.axis:])):
            if m is not None and n is not None and m != n:
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{self.axis + a}; size of axis is {n} but size of "
                                 f"corresponding boolean axis is {m}")
        outs = [TensorType("int64", (None,)).make_variable() for _ in range(mask.ndim)]
        return Apply(self, [mask, like], outs)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [a.astype("int64") for a in np.nonzero(inputs[0])]

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        mask, like = shapes
        for a, (m, n) in enumerate(zip(mask, like[self.axis:])):
            if m != n:
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{self.axis + a}; size of axis is {n} but size of "
                                 f"corresponding boolean axis is {m}")
        count = int(np.count_nonzero(values[0])) if values else 0
        return [(count,)] * len(mask)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [None, None]


# --------------------------------------------------------------------------- kernels


def _hoist(op: IndexOp, node: Apply) -> int:
    """How many leading axes of the region the index arrays vary along (0 without
    arrays): their values are loaded once per position of those axes."""
    arrays = [node.inputs[i].ndim for i in op.array_positions]
    if not arrays:
        return 0
    at = 0
    if op.index.adjacent:
        for e in op.index.entries:
            if e[0] == ARRAY or e[0] == INT:
                break
            at += 1
    return at + max(arrays)


def _arrays(op: IndexOp, node: Apply) -> tuple[tuple[int, int, bool], ...]:
    """Per index array: (kernel input position, x axis, unsigned dtype)."""
    return tuple((i, axis, node.inputs[i].dtype.startswith("uint"))
                 for i, axis in zip(op.array_positions, op.index.array_axes()))


def _array_layout(ndim: int) -> ParamLayout:
    """One index array's slots: the indexed axis's length, its stride, and the array's
    strides along the region (the last block of every indexing kernel)."""
    return ParamLayout("index array", n=1, stride=1, strides=ndim)


def _array_values(r: Region) -> list[dict[str, Any]]:
    return [{"n": n, "stride": stride, "strides": strides} for _, n, stride, strides in r.arrays]


class GatherKernel(KernelBuilder):
    """AdvancedSubtensor: each output element read from x through the index arrays
    (templates/subtensor_gather.c.j2)."""

    family = "subtensor_gather"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim, nx = node.outputs[0].type.ndim, node.inputs[0].type.ndim
        arrays = _arrays(node.op, node)
        layout = ParamLayout(self.family, x_offset=1, x_shape=nx, shape=ndim, out_strides=ndim,
                             x_strides=ndim, arrays=(len(arrays), _array_layout(ndim)))
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim, "x_ndim": nx, "arrays": arrays,
                               "hoist": _hoist(node.op, node)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        r = node.op.region_of(in_layouts[0], in_layouts, values)
        return kernel.layout.build(x_offset=r.offset, x_shape=in_shapes[0], shape=r.shape,
                                   out_strides=out_layouts[0][1], x_strides=r.strides,
                                   arrays=_array_values(r))


class ScatterKernel(KernelBuilder):
    """IncSubtensor: copy x, then set or add y over the indexed region
    (templates/subtensor_scatter.c.j2)."""

    family = "subtensor_scatter"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        x = node.inputs[0]
        ndim, nx = node.op.region_ndim(node), x.ndim
        arrays = _arrays(node.op, node)
        layout = ParamLayout(self.family, dense=1, size=1, x_shape=nx, x_strides=nx,
                             out_strides=nx, offset=1, shape=ndim, region_strides=ndim,
                             y_strides=ndim, arrays=(len(arrays), _array_layout(ndim)))
        if node.op.set_instead_of_inc:
            op = "="
        else:
            op = "|=" if x.dtype == "bool" else "+="
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim, "x_ndim": nx, "arrays": arrays, "op": op,
                               "hoist": _hoist(node.op, node)})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        (x_shape, x_strides), (y_shape, y_strides) = in_layouts[:2]
        out_strides = out_layouts[0][1]
        r = node.op.region_of((x_shape, out_strides), in_layouts, values)
        extra = max(len(y_shape) - len(r.shape), 0)  # leading length-1 axes: numpy drops them
        y_shape, y_strides = y_shape[extra:], y_strides[extra:]
        pad = len(r.shape) - len(y_shape)
        st_y = (0,) * pad + loop_strides(tuple(y_shape), tuple(y_strides), r.shape[pad:])
        return kernel.layout.build(
            dense=int(is_dense(tuple(x_shape), tuple(x_strides))),
            size=int(np.prod(x_shape, dtype=np.int64)), x_shape=x_shape, x_strides=x_strides,
            out_strides=out_strides, offset=r.offset, shape=r.shape, region_strides=r.strides,
            y_strides=st_y, arrays=_array_values(r))

    def writes_in_place(self, node: Apply, shared: Any) -> bool:
        """out = x, then the region set or incremented from y: with x the shared storage
        itself the copy is skipped, and the kernel checks every index before its first
        write, so a bad index fails with the storage untouched. y and the indices must
        not be the storage."""
        return node.inputs[0] is shared and all(v is not shared for v in node.inputs[1:])


class NonzeroKernel(KernelBuilder):
    """Nonzero: the coordinates of the mask's nonzero elements, in C order; the kernel
    checks that it finds the count the planner found."""

    family = "subtensor_nonzero"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].type.ndim
        layout = ParamLayout(self.family, count=1, shape=ndim, strides=ndim)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins), layout, ndim,
                      context={"ndim": ndim})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        shape, strides = in_layouts[0]
        return kernel.layout.build(count=out_layouts[0][0][0], shape=shape, strides=strides)


register_kernel(GatherKernel(), AdvancedSubtensor)
register_kernel(ScatterKernel(), IncSubtensor)
register_kernel(NonzeroKernel(), Nonzero)


def take_index(index: Index, x: Any, inputs: Sequence[Any]) -> TensorVariable:
    """`x[index]` for a parsed index and its inputs (a view unless it has arrays)."""
    op = AdvancedSubtensor(index) if index.has_arrays else Subtensor(index)
    return op(x, *inputs)
