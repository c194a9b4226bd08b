"""Indexing: `x[...]` (basic, integer arrays, boolean masks), set_subtensor, inc_subtensor.

An index is parsed once, when the graph is built, into an `Index`
(`cgraph.tensor.subtensor_index`): one entry per axis of `x` (plus new axes), each a
static int, a slice, a new axis or an integer array; ints and slice bounds may be
symbolic scalars (the op's `value_inputs`). Per call shape, `region` resolves it, with
numpy's rules, into the indexed region of `x`: a shape, an element offset and strides,
plus, per index array, the stride of the axis it indexes and its own strides along the
region. The C kernels read that from P:

* `Subtensor` (basic indexing) is a view: no copy, no kernel.
* `AdvancedSubtensor` gathers through index arrays (templates/subtensor_gather.c.j2);
  the C checks each index value and fails with IndexError, never reading out of bounds.
* `IncSubtensor` copies `x` and then sets or adds `y` (broadcast) over the region
  (templates/subtensor_scatter.c.j2); repeated indices accumulate, as np.add.at.
* A boolean mask becomes the coordinates of its true elements (`Nonzero`), used as
  index arrays. Their count is the output length: `Nonzero` reads the mask as a value
  input, so the planner counts it (evaluating the mask with the numpy references) and
  the C kernel checks that it finds the same count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Constant, Op, Variable
from cgraph.tensor import reduce as _reduce
from cgraph.tensor.basic_ops import flatten
from cgraph.tensor.elemwise import cast
from cgraph.tensor.math import zeros_like
from cgraph.tensor.subtensor_index import (
    ARRAY,
    FULL,
    INT,
    NEW,
    SLICE,
    SYM,
    Index,
    Region,
    numpy_index,
    region,
    static_shape,
)
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

# --------------------------------------------------------------------------- ops


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

    def c_hoist(self, node: Apply) -> int:
        """How many leading axes of the region the index arrays vary along (0 without
        arrays): their values are loaded once per position of those axes."""
        arrays = [node.inputs[i].ndim for i in self.array_positions]
        if not arrays:
            return 0
        at = 0
        if self.index.adjacent:
            for e in self.index.entries:
                if e[0] == ARRAY or e[0] == INT:
                    break
                at += 1
        return at + max(arrays)

    def c_arrays(self, node: Apply) -> tuple[tuple[int, int, bool], ...]:
        """Per index array: (kernel input position, x axis, unsigned dtype)."""
        return tuple((i, axis, node.inputs[i].dtype.startswith("uint"))
                     for i, axis in zip(self.array_positions, self.index.array_axes()))


class Subtensor(IndexOp):
    """Basic indexing (ints, slices, new axes): a view of `x` with an offset and strides."""

    __props__ = ("index",)
    c_family = "view"
    view_of = 0

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
    c_family = "subtensor_gather"

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
    """numpy's rule: `y` broadcasts to the indexed shape (right-aligned), or ValueError."""
    pad = len(shape) - len(y_shape)
    if pad < 0 or any(m not in (1, n) for m, n in zip(y_shape, shape[pad:])):
        raise ValueError(f"shape mismatch: value array of shape {tuple(y_shape)} could not "
                         f"be broadcast to indexing result of shape {tuple(shape)}")


class IncSubtensor(IndexOp):
    """`x` with `y` added (or, with `set_instead_of_inc`, written) at `x[index]`.

    `y` broadcasts to the indexed shape; with repeated indices the additions
    accumulate (np.add.at) and, for set, the last write wins.
    """

    __props__ = ("index", "set_instead_of_inc")
    c_family = "subtensor_scatter"
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
        if y.ndim > len(shape):
            raise TypeError(f"{self}: y has {y.ndim} axes, more than x[{self.index}] "
                            f"({len(shape)})")
        for m, n in zip(y.type.shape, shape[len(shape) - y.ndim:]):
            if m is not None and n is not None and m not in (1, n):
                raise ValueError(f"shape mismatch: value of type {y.type} cannot be "
                                 f"broadcast to indexing result of static shape {shape}")
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
        if self.set_instead_of_inc:
            gx = IncSubtensor(self.index, True)(gz, np.zeros((), dtype=gz.dtype), *rest)
        else:
            gx = gz
        gy = take_index(self.index, gz, rest)
        lead = gy.ndim - y.ndim
        if lead:
            gy = _reduce.sum(gy, axis=list(range(lead)))
        return [gx, _reduce.sum_to(gy, y), *[None] * len(rest)]


class Nonzero(Op):
    """numpy.nonzero(mask): the coordinates of its nonzero elements, one int64 vector
    per axis.

    Input 1 (`like`) is read for its shape: the mask indexes its axes from `axis` on,
    and must match them. The output length is the mask's count of nonzero elements,
    known when the mask's values are: the planner counts them (`value_inputs`).
    """

    __props__ = ("axis",)
    c_family = "subtensor_nonzero"
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


# --------------------------------------------------------------------------- parsing


def _static_int(v: Any) -> int | None:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"a boolean ({v!r}) is not a valid integer index")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, Constant) and np.ndim(v.data) == 0 and np.asarray(v.data).dtype.kind in "iu":
        return int(v.data)
    return None


def _classify(item: Any) -> tuple[str, Any]:
    """One element of the user's index: (kind, payload)."""
    if item is None:
        return NEW, None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        return SLICE, tuple(_bound(p) for p in (item.start, item.stop, item.step))
    static = _static_int(item)
    if static is not None:
        return INT, static
    if not isinstance(item, Variable):
        arr = np.asarray(item)
        if arr.size == 0 and arr.dtype.kind == "f":  # x[[]]: an empty integer array
            arr = arr.astype("int64")
        item = as_tensor_variable(arr)
    v = as_tensor_variable(item)
    static = _static_int(v)
    if static is not None:  # a 0-d integer constant
        return INT, static
    if v.dtype == "bool":
        if v.ndim == 0:
            raise TypeError("a 0-d boolean index is not supported")
        return "mask", v
    if v.dtype.startswith("float"):
        raise TypeError(f"index {v!r} of type {v.type}: indices must be integers, slices, "
                        "None, Ellipsis, or integer or boolean arrays")
    return (INT, v) if v.ndim == 0 else (ARRAY, v)


def _bound(p: Any) -> Any:
    if p is None:
        return None
    static = _static_int(p)
    if static is not None:
        return static
    v = as_tensor_variable(p)
    if v.ndim != 0 or v.dtype == "bool" or v.dtype.startswith("float"):
        raise TypeError(f"slice bounds must be integers or integer scalars, got {v.type}")
    return v


def parse_index(x: TensorVariable, key: Any) -> tuple[Index, list[TensorVariable]]:
    """The canonical `Index` of `x[key]` and its index inputs (masks become Nonzero)."""
    parsed = [_classify(item) for item in (key if isinstance(key, tuple) else (key,))]
    if sum(kind == "ellipsis" for kind, _ in parsed) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(v.ndim if kind == "mask" else kind in (INT, SLICE, ARRAY) for kind, v in parsed)
    if used > x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, but "
                         f"{used} were indexed")
    advanced = any(kind in (ARRAY, "mask") for kind, _ in parsed)
    entries: list[tuple] = []
    inputs: list[TensorVariable] = []
    positions: list[int] = []
    for pos, (kind, v) in enumerate(parsed):
        if kind == "ellipsis":
            entries += [FULL] * (x.ndim - used)
        elif kind == NEW:
            entries.append((NEW,))
        elif kind == SLICE:
            entries.append((SLICE, *(p if not isinstance(p, Variable) else SYM for p in v)))
            inputs += [p for p in v if isinstance(p, Variable)]
        elif kind == "mask":
            axis = sum(e[0] != NEW for e in entries)
            coords = Nonzero(axis)(v, x)
            coords = coords if isinstance(coords, list) else [coords]
            entries += [(ARRAY,)] * len(coords)
            inputs += coords
        elif kind == ARRAY:
            entries.append((ARRAY,))
            inputs.append(v)
        else:
            entries.append((INT, SYM) if isinstance(v, Variable) else (INT, v))
            inputs += [v] if isinstance(v, Variable) else []
        if kind in (ARRAY, "mask") or (kind == INT and advanced):
            positions.append(pos)
    entries += [FULL] * (x.ndim - sum(e[0] != NEW for e in entries))
    adjacent = positions == list(range(positions[0], positions[0] + len(positions))) \
        if positions else True
    return Index(tuple(entries), adjacent), inputs


def take_index(index: Index, x: Any, inputs: Sequence[Any]) -> TensorVariable:
    """`x[index]` for a parsed index and its inputs (a view unless it has arrays)."""
    op = AdvancedSubtensor(index) if index.has_arrays else Subtensor(index)
    return op(x, *inputs)


def getitem(x: TensorVariable, key: Any) -> TensorVariable:
    """`x[key]` with numpy semantics: ints (negative wrap), slices (any step, bounds
    clipped), None, Ellipsis, integer scalars (symbolic too), integer arrays and
    boolean masks.

    Basic indexing gives a view (no copy); an int out of range raises IndexError when
    the function is called (at build time when static).
    """
    index, inputs = parse_index(as_tensor_variable(x), key)
    return take_index(index, x, inputs)


def _indexed(x: Any, what: str) -> Apply:
    node = getattr(x, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{what}: the first argument must be an indexed tensor such as "
                        f"x[1:3] or x[idx], got {x!r}")
    return node


def inc_subtensor(x: Any, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> TensorVariable:
    """The whole tensor indexed by `x` (an `a[...]` expression) with `y` added at the
    indexed places (theano.tensor.inc_subtensor).

    `y` broadcasts to `x`'s shape and is cast to its dtype (same kind); repeated indices
    accumulate, like np.add.at. `inplace` and `tolerate_inplace_aliasing` are accepted
    for compatibility: the result is always a new array.

    Raises
    ------
    TypeError
        When `x` is not the result of indexing, or `y` cannot be cast safely.
    """
    node = _indexed(x, "set_subtensor" if set_instead_of_inc else "inc_subtensor")
    base = node.inputs[0]
    y = as_tensor_variable(y)
    if y.dtype != base.dtype:
        if not np.can_cast(y.dtype, base.dtype, casting="same_kind"):
            raise TypeError(f"inc_subtensor: cannot cast y ({y.type}) to the dtype of x "
                            f"({base.type})")
        y = cast(y, base.dtype)
    return IncSubtensor(node.op.index, set_instead_of_inc)(base, y, *node.inputs[1:])


def set_subtensor(x: Any, y: Any, inplace: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> TensorVariable:
    """The whole tensor indexed by `x` (an `a[...]` expression) with `y` written at the
    indexed places (theano.tensor.set_subtensor); with repeated indices the last
    write wins. See `inc_subtensor`."""
    return inc_subtensor(x, y, inplace, set_instead_of_inc=True,
                         tolerate_inplace_aliasing=tolerate_inplace_aliasing)


def take(a: Any, indices: Any, axis: int | None = None) -> TensorVariable:
    """numpy.take: `a[indices]` along `axis` (None: of the flattened `a`)."""
    a = as_tensor_variable(a)
    if axis is None:
        return getitem(flatten(a), indices)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"take: axis {axis} out of range for {a.type}")
    return getitem(a, (slice(None),) * (axis % a.ndim) + (indices,))


def nonzero(a: Any) -> tuple[TensorVariable, ...]:
    """numpy.nonzero: a tuple of int64 vectors, the coordinates of the nonzero elements
    (their count is computed when the function is called)."""
    a = as_tensor_variable(a)
    coords = Nonzero(0)(a, a)
    return tuple(coords) if isinstance(coords, list) else (coords,)
