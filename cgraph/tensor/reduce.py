"""Reductions (CAReduce: sum, prod, max, min, all, any; ArgReduce: argmax, argmin) and
the broadcasting pair used by gradients: SumTo and BroadcastLike.

CAReduce and ArgReduce lower to `templates/careduce.c.j2`: one loop nest parametrised
by an init value and a combine expression (or an arg comparison). Per call layout the
plan picks a mode (`cgraph.tensor.reduce_layout`): the axes merged into runs, rows of
an innermost reduced run reduced in vector lanes into a local accumulator, or whole
rows added into the output when a kept run is innermost; a strided loop otherwise.
float32 sums and products accumulate in double, except where whole rows are added
into the output, in float32 as numpy does. SumTo keeps the `reduce` family.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable, ViewOp
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.reduce_layout import careduce_layout, reduce_values
from cgraph.tensor.shape import DimShuffle, Layout
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


def normalize_axes(axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative axes; None means all. Raise ValueError when out of range."""
    if axis is None:
        return tuple(range(ndim))
    try:
        axes = (operator.index(axis),) if not isinstance(axis, (list, tuple)) else tuple(
            operator.index(a) for a in axis)
    except TypeError:
        raise TypeError(f"axis must be an int, a tuple of ints or None, not {axis!r}") from None
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d tensor")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axes}")
    return tuple(sorted(out))


def sum_dtype(dtype: str) -> str:
    """numpy's accumulator dtype for sum: small ints widen to 64 bits."""
    if dtype == "bool" or dtype.startswith("int"):
        return "int64"
    if dtype.startswith("uint"):
        return "uint64"
    return dtype


_INT_LIMITS = {"bool": ("0", "1"), "int8": ("INT8_MIN", "INT8_MAX"),
               "int16": ("INT16_MIN", "INT16_MAX"), "int32": ("INT32_MIN", "INT32_MAX"),
               "int64": ("INT64_MIN", "INT64_MAX"), "uint8": ("0", "UINT8_MAX"),
               "uint16": ("0", "UINT16_MAX"), "uint32": ("0", "UINT32_MAX"),
               "uint64": ("0", "UINT64_MAX")}

#: kind -> (numpy reduction, output dtype rule)
_KINDS = {
    "add": (np.sum, sum_dtype),
    "mul": (np.prod, sum_dtype),
    "max": (np.max, lambda d: d),
    "min": (np.min, lambda d: d),
    "and": (np.all, lambda d: "bool"),
    "or": (np.any, lambda d: "bool"),
}


def _c_rule(kind: str, dtype: str) -> tuple[str, str, str]:
    """(init, combine of `acc` and `x`, simd reduction operator or '') for a kind."""
    is_float = dtype.startswith("float")
    if kind == "add":
        return "0", "acc + x", "+"
    if kind == "mul":
        return "1", "acc * x", "*"
    if kind in ("max", "min"):
        # simd "max"/"min": the template's rows compare in lanes and keep a NaN flag
        low, high = ("-INFINITY", "INFINITY") if is_float else _INT_LIMITS[dtype]
        if kind == "max":
            return low, ("cg_fmax_nan(acc, x)" if is_float else "(x > acc ? x : acc)"), "max"
        return high, ("cg_fmin_nan(acc, x)" if is_float else "(x < acc ? x : acc)"), "min"
    if kind == "and":
        return "1", "(acc && x != 0)", ""
    return "0", "(acc || x != 0)", ""


class CAReduce(Op):
    """A commutative-associative reduction over `axis` (a sorted tuple), dropping them.

    `kind` is one of add, mul, max, min, and, or. max/min of an empty reduced axis raise
    ValueError (numpy: "zero-size array ... has no identity").
    """

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: tuple[int, ...]):
        if kind not in _KINDS:
            raise ValueError(f"unknown reduction {kind!r}")
        self.kind = kind
        self.axis = tuple(axis)

    def out_dtype(self, dtype: str) -> str:
        """The output dtype for an input dtype (numpy's)."""
        return _KINDS[self.kind][1](dtype)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        for a in self.axis:
            if not 0 <= a < x.ndim:
                raise ValueError(f"{self.kind} reduction: axis {a} is out of range for {x.type}")
        shape = [s for a, s in enumerate(x.type.shape) if a not in self.axis]
        out = TensorType(self.out_dtype(x.dtype), shape).make_variable()
        return Apply(self, [x], [out])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.infer_shape(node, [inputs[0].shape])
        fn = _KINDS[self.kind][0]
        dtype = node.outputs[0].dtype
        if self.kind in ("add", "mul"):
            out = fn(inputs[0], axis=self.axis, dtype=dtype)
        else:
            out = fn(inputs[0], axis=self.axis)
        return [np.asarray(out, dtype=dtype)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shape = shapes[0]
        if self.kind in ("max", "min") and any(shape[a] == 0 for a in self.axis):
            raise ValueError(f"{self.kind} of an empty axis: the input has shape {shape} and "
                             f"the reduced axes {self.axis} include a zero-length one "
                             "(a zero-size reduction has no identity)")
        return [tuple(s for a, s in enumerate(shape) if a not in self.axis)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self.kind} reduction has no gradient rule here")


class Sum(CAReduce):
    """Sum over `axis` (a tuple of axes), dropping them."""

    __props__ = ("axis",)

    def __init__(self, axis: tuple[int, ...]):
        super().__init__("add", axis)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (x,), (gz,) = inputs, output_grads
        return [broadcast_like(expand_reduced(gz, x.ndim, self.axis), x, dtype=x.dtype)]


class ArgReduce(Op):
    """argmax / argmin over one axis, or over the flattened input (`axis` None): int64."""

    __props__ = ("kind", "axis")

    def __init__(self, kind: str, axis: int | None):
        if kind not in ("argmax", "argmin"):
            raise ValueError(f"unknown arg reduction {kind!r}")
        self.kind, self.axis = kind, axis

    def _axes(self, ndim: int) -> tuple[int, ...]:
        return tuple(range(ndim)) if self.axis is None else (self.axis,)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self.kind}: axis {self.axis} is out of range for {x.type}")
        axes = self._axes(x.ndim)
        shape = [s for a, s in enumerate(x.type.shape) if a not in axes]
        return Apply(self, [x], [TensorType("int64", shape).make_variable()])

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        shape, axes = shapes[0], self._axes(len(shapes[0]))
        if any(shape[a] == 0 for a in axes):
            raise ValueError(f"{self.kind} of an empty sequence: the input has shape {shape}")
        return [tuple(s for a, s in enumerate(shape) if a not in axes)]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.infer_shape(node, [inputs[0].shape])
        fn = np.argmax if self.kind == "argmax" else np.argmin
        return [np.asarray(fn(inputs[0], axis=self.axis), dtype="int64")]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [None]


def expand_reduced(g: TensorVariable, ndim: int, axes: tuple[int, ...]) -> TensorVariable:
    """`g` (the reduced shape) with length-1 axes put back at `axes` (keepdims)."""
    pattern: list[int | str] = []
    kept = iter(range(g.ndim))
    for a in range(ndim):
        pattern.append("x" if a in axes else next(kept))
    return DimShuffle(g.ndim, pattern)(g)


class SumTo(Op):
    """Sum `g` down to the shape of `like` (same rank): broadcasting undone.

    By default the summed axes are those the types decide (Theano's rule): where
    `like` has static length 1 and `g` has not; the other axes must have equal lengths
    at run time. With `runtime=True` (the gradient of an op that broadcasts by numpy's
    rule: alloc, set_subtensor's value, matmul's batch axes) the lengths decide.
    """

    __props__ = ("runtime",)

    def __init__(self, runtime: bool = False):
        self.runtime = runtime

    def __str__(self) -> str:
        return "SumTo{runtime}" if self.runtime else "SumTo"

    def make_node(self, g: Any, like: Any) -> Apply:
        g, like = as_tensor_variable(g), as_tensor_variable(like)
        if g.ndim != like.ndim:
            raise TypeError(f"sum_to: {g.type} and {like.type} differ in rank")
        return Apply(self, [g, like], [TensorType(g.dtype, like.type.shape).make_variable()])

    def static_axes(self, node: Apply) -> tuple[int, ...]:
        """The axes summed by the types alone (Theano's rule)."""
        g, like = (v.type.shape for v in node.inputs)
        return tuple(a for a, (n, m) in enumerate(zip(g, like)) if m == 1 and n != 1)

    def reduced_axes(self, node: Apply, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        """The axes summed for inputs of `shapes`; ValueError if `g` cannot become `like`."""
        g, like = shapes
        axes = (tuple(a for a, (n, m) in enumerate(zip(g, like)) if m == 1 and n != 1)
                if self.runtime else self.static_axes(node))
        for a, (n, m) in enumerate(zip(g, like)):
            if a not in axes and m != n:
                raise ValueError(f"sum_to: cannot sum shape {g} to shape {like} (axis {a})")
        return axes

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        g, like = inputs
        axes = self.reduced_axes(node, [g.shape, like.shape])
        return [np.asarray(np.sum(g, axis=axes, keepdims=True), dtype=g.dtype)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        self.reduced_axes(node, shapes)
        return [shapes[1]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        if self.runtime:
            return [BroadcastLike(runtime=True)(output_grads[0], inputs[0]), None]
        return [broadcast_like(output_grads[0], inputs[0]), None]


class BroadcastLike(ViewOp):
    """`x` broadcast to the shape of `like` (same rank), as a stride-0 view.

    By default only the axes where `x` has static length 1 stretch (Theano's rule); the
    others must have `like`'s length at run time. `runtime=True`: numpy's rule.
    """

    __props__ = ("runtime",)

    def __init__(self, runtime: bool = False):
        self.runtime = runtime

    def __str__(self) -> str:
        return "BroadcastLike{runtime}" if self.runtime else "BroadcastLike"

    def make_node(self, x: Any, like: Any) -> Apply:
        x, like = as_tensor_variable(x), as_tensor_variable(like)
        if x.ndim != like.ndim:
            raise TypeError(f"broadcast_like: {x.type} and {like.type} differ in rank")
        return Apply(self, [x, like], [TensorType(x.dtype, like.type.shape).make_variable()])

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int],
                    node: Apply | None = None) -> Layout:
        """Output (shape, element strides, element offset) of the view of input 0."""
        x, like = shapes
        static = node.inputs[0].type.shape if node is not None and not self.runtime else None
        for a, (n, m) in enumerate(zip(x, like)):
            if n != m and (n != 1 or (static is not None and static[a] != 1)):
                raise ValueError(f"broadcast_like: cannot broadcast shape {x} to {like} "
                                 f"(axis {a})")
        out_strides = tuple(0 if n != m else st for n, m, st in zip(x, like, strides))
        return tuple(like), out_strides, 0

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [self.view_layout(shapes, (0,) * len(shapes[0]), node)[0]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.infer_shape(node, [a.shape for a in inputs])
        return [np.broadcast_to(inputs[0], inputs[1].shape)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        if self.runtime:
            return [SumTo(runtime=True)(output_grads[0], inputs[0]), None]
        return [sum_to(output_grads[0], inputs[0]), None]


# --------------------------------------------------------------------------- kernels


class CAReduceKernel(KernelBuilder):
    """CAReduce: one loop nest (templates/careduce.c.j2) with the kind's init value and
    combine expression; float32 sums and products accumulate in double."""

    family = "careduce"
    #: whether the reduced axes may be taken in any order (not an argmax's position)
    reorder = True

    def axes(self, op: Any, ndim: int) -> tuple[int, ...]:
        """The reduced axes of an input of `ndim` axes."""
        return op.axis

    def context(self, node: Apply, outs: list, ins: list) -> dict[str, Any]:
        """The template's data: init, combine, simd, acc and (ArgReduce) arg."""
        op = node.op
        init, combine, simd = _c_rule(op.kind, node.inputs[0].dtype)
        wide = node.outputs[0].dtype == "float32" and op.kind in ("add", "mul")
        return {"init": init, "combine": combine, "simd": simd,
                "nan": node.inputs[0].dtype.startswith("float"),
                "acc": "double" if wide else outs[0].ctype, "arg": ""}

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].ndim
        red = len(self.axes(node.op, ndim))
        context = {**self.context(node, outs, ins), "kept": ndim - red, "red": red}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      careduce_layout(ndim, red), ndim, context=context)

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        shape, strides = in_layouts[0]
        node.op.infer_shape(node, [tuple(shape)])
        return kernel.layout.build(**self.values(node.op, shape, strides))

    def values(self, op: Any, shape: Sequence[int], strides: Sequence[int]) -> dict:
        """The `careduce_layout` values for the input's layout."""
        return reduce_values(len(shape), self.axes(op, len(shape)), shape, strides,
                              self.reorder)


class ArgReduceKernel(CAReduceKernel):
    """ArgReduce: the careduce loop keeping the first best element's position (numpy:
    the first NaN wins); modes: dense rows (1), dense columns (4) or strided (0)."""

    reorder = False

    def axes(self, op: Any, ndim: int) -> tuple[int, ...]:
        return op._axes(ndim)

    def context(self, node: Apply, outs: list, ins: list) -> dict[str, Any]:
        better = ">" if node.op.kind == "argmax" else "<"
        nan = " || (x != x && best == best)" if node.inputs[0].dtype.startswith("float") else ""
        return {"init": "", "combine": "", "simd": "", "acc": ins[0].ctype,
                "arg": f"(x {better} best{nan})", "better": better,
                "best": "max" if better == ">" else "min",
                "nan": node.inputs[0].dtype.startswith("float")}

    def values(self, op: Any, shape: Sequence[int], strides: Sequence[int]) -> dict:
        found = super().values(op, shape, strides)
        # dense rows, columns (a kept run of stride 1 innermost: modes 2 and 4) or strided
        columns = found["kept_strides"] and found["kept_strides"][-1] == 1
        found["mode"] = {1: 1, 2: 4, 4: 4 if columns else 0}.get(found["mode"], 0)
        return found


class SumToKernel(KernelBuilder):
    """SumTo: zero the output, then add each input element into its output element
    (templates/reduce.c.j2)."""

    family = "reduce"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndim = node.inputs[0].type.ndim
        layout = ParamLayout(self.family, size=1, shape=ndim, in_strides=ndim,
                             out_strides=ndim)
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins[:1]), layout, ndim,
                      accumulate="+=")

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        in_shape, in_strides = in_layouts[0]
        out_shape, out_strides = out_layouts[0]
        axes = node.op.reduced_axes(node, in_shapes)
        # the output's strides in the input's index space: 0 along the summed axes
        expanded = [0 if a in axes else s for a, s in enumerate(out_strides)]
        return kernel.layout.build(size=math.prod(out_shape), shape=in_shape,
                                   in_strides=in_strides, out_strides=expanded)


register_kernel(CAReduceKernel(), CAReduce)
register_kernel(ArgReduceKernel(), ArgReduce)
register_kernel(SumToKernel(), SumTo)


def sum_to(g: TensorVariable, like: TensorVariable, runtime: bool = False) -> TensorVariable:
    """`g` summed down to the shape of `like`: over the axes where `like`'s static
    length is 1 and `g`'s is not (Theano's rule; `g` itself when there are none). With
    `runtime`, over the axes where `like`'s length is 1 when the function runs (the
    gradient of an op that broadcasts by numpy's rule)."""
    if runtime:
        if g.type.shape == like.type.shape and None not in g.type.shape:
            return g
        return SumTo(runtime=True)(g, like)
    if not any(m == 1 and n != 1 for n, m in zip(g.type.shape, like.type.shape)):
        return g
    return SumTo()(g, like)


def broadcast_like(x: TensorVariable, like: TensorVariable, dtype: str | None = None
                   ) -> TensorVariable:
    """`x` broadcast to the shape of `like` along the axes where `x` has static length
    1 (Theano's rule); `x` itself when no axis stretches."""
    if not any(n == 1 and m != 1 for n, m in zip(x.type.shape, like.type.shape)):
        return x
    return BroadcastLike()(x, like)


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False
        ) -> TensorVariable:
    """Sum of `x` over `axis` (None: all axes), like numpy.sum."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    out = Sum(axes)(x)
    return expand_reduced(out, x.ndim, axes) if keepdims else out
