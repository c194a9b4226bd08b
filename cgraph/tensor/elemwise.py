"""Elementwise ops built from a table of scalar ops.

A `ScalarOp` is one table entry: its C expression, numpy reference, output dtype
rule and gradient rule. `Elemwise` lifts any scalar op to arrays, broadcasting by
Theano's rule (only axes of static length 1 stretch); the C loop for it is written
once, in
`templates/elementwise.c.j2` (its kernel builders: `cgraph.tensor.elemwise_kernel`).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import register_kernel
from cgraph.tensor.elemwise_kernel import (
    ElementwiseKernel,
    FusedElementwiseKernel,
    FusedSumKernel,
)
from cgraph.tensor.reduce import sum_to
from cgraph.tensor.shape import pad_left
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

DtypeRule = Callable[[Sequence[str]], str]
GradRule = Callable[..., Sequence[Variable | None]]


@dataclass(frozen=True)
class ScalarOp:
    """One elementwise operation, as data.

    Attributes
    ----------
    name : str
        The op's name (also its identity: two scalar ops with one name are equal).
    nin : int
        Number of inputs.
    c : str
        C expression; `{0}`, `{1}`... are the inputs, `{t}` is the output C type.
    impl : callable
        numpy reference taking and returning arrays.
    dtype : callable
        Output dtype from the input dtypes.
    grad : callable, optional
        `grad(inputs, output, gz)` returns one gradient (or None) per input, each
        with the output's shape; `Elemwise` sums them back to the input shapes.
    c_int : str, optional
        C expression to use instead of `c` when the output is an integer (or bool).
    c_bool : str, optional
        C expression to use when the output is bool (before `c_int`): bools are the
        bytes 0 and 1, where integer bit tricks such as `~` would give other bytes.
    common : tuple of int, optional
        The inputs converted to their common (numpy result) dtype before the op
        computes, as numpy does; None means all of them. The other inputs are read in
        their own dtype: a condition tested against 0, or a shape-only argument.
    recipe : tuple, optional
        `(factory, args)` that rebuilds this op in another process (pickling), for
        ops made on demand; ops made at import are found by name in SCALAR_OPS.
    nonnegative : bool
        True if every result is >= 0 or NaN (exp, sqrt, abs of floats): rewrites
        that need a nonnegative operand (exp(log(x)) -> x) read it.
    """

    name: str
    nin: int
    c: str = field(compare=False)
    impl: Callable = field(compare=False)
    dtype: DtypeRule = field(compare=False)
    grad: GradRule | None = field(default=None, compare=False)
    c_int: str | None = field(default=None, compare=False)
    c_bool: str | None = field(default=None, compare=False)
    common: tuple[int, ...] | None = field(default=None, compare=False)
    recipe: tuple | None = field(default=None, compare=False, repr=False)
    nonnegative: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        SCALAR_OPS.setdefault(self.name, self)

    def __reduce__(self) -> tuple:
        # The rules are functions (often lambdas): pickle a way to find the op instead.
        if self.recipe is not None:
            return self.recipe
        if SCALAR_OPS.get(self.name) is self:
            return (scalar_op_named, (self.name,))
        raise pickle.PicklingError(f"the scalar op {self.name!r} cannot be pickled: it is "
                                   "not registered under its name; give it a recipe")

    def c_expr(self, args: Sequence[str], out_dtype: str, out_ctype: str) -> str:
        """The C expression computing this op on the C expressions `args`."""
        template = self.c
        if self.c_bool is not None and out_dtype == "bool":
            template = self.c_bool
        elif self.c_int is not None and out_dtype[0] in "iub":
            template = self.c_int
        return template.format(*args, t=out_ctype)

    def load_dtypes(self, in_dtypes: Sequence[str]) -> list[str]:
        """The dtype each input is converted to before the op computes (see `common`)."""
        chosen = range(len(in_dtypes)) if self.common is None else self.common
        if not chosen:
            return list(in_dtypes)
        target = np.result_type(*[in_dtypes[i] for i in chosen]).name
        return [target if i in chosen else d for i, d in enumerate(in_dtypes)]

    def __str__(self) -> str:
        return self.name


#: name -> the first scalar op made with that name (the table's, for table ops).
SCALAR_OPS: dict[str, ScalarOp] = {}


def scalar_op_named(name: str) -> ScalarOp:
    """The registered scalar op called `name` (how pickles refer to table ops)."""
    try:
        return SCALAR_OPS[name]
    except KeyError:
        raise pickle.UnpicklingError(f"no scalar op named {name!r} in this process") from None


def broadcast_static(shapes: Sequence[tuple[int | None, ...]], what: str) -> tuple[int | None, ...]:
    """The static broadcast of equal-rank static shapes; raise ValueError if they clash."""
    out = []
    for axis, sizes in enumerate(zip(*shapes)):
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            raise ValueError(f"{what}: shapes {list(shapes)} cannot broadcast on axis {axis}")
        if known:
            out.append(known.pop())
        elif all(s == 1 for s in sizes):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def broadcast_shapes(shapes: Sequence[tuple[int, ...]], what: str,
                     static: Sequence[tuple[int | None, ...]] | None = None,
                     names: Sequence[str] | Callable[[], Sequence[str]] | None = None
                     ) -> tuple[int, ...]:
    """The broadcast of concrete equal-rank shapes, with an error naming `what`.

    With the operands' static shapes `static`, Theano's rule: an operand's axis of
    length 1 stretches to the others' length only when its type says length 1 there;
    otherwise the call raises ValueError naming the operand (`names`), the axis and how
    to declare it (`names` may be a function making them, called only then). Without
    `static`, numpy's rule (any length 1 stretches).
    """
    out = []
    for axis, sizes in enumerate(zip(*shapes)):
        big = {s for s in sizes if s != 1}
        if len(big) > 1:
            raise ValueError(f"{what}: shapes {', '.join(map(str, shapes))} "
                             f"do not broadcast (axis {axis})")
        length = big.pop() if big else 1
        if static is not None and length != 1:
            for i, (n, st) in enumerate(zip(sizes, static)):
                if n == 1 and st[axis] != 1:
                    if callable(names):
                        names = names()
                    name = names[i] if names is not None else None
                    raise ValueError(runtime_broadcast_message(
                        what, f"input {i}" if name is None else name, axis, length, st))
        out.append(length)
    return tuple(out)


def runtime_broadcast_message(what: str, name: str, axis: int, length: int,
                              static: tuple[int | None, ...]) -> str:
    """Why an operand of length 1 may not stretch at run time (Theano's rule); `name`
    is how the operand is called (`input 1 (v)`: its variable's name in brackets)."""
    shown = "[" + ",".join("?" if n is None else str(n) for n in static) + "]"
    var = name[name.index("(") + 1:-1] if name.endswith(")") else "v"
    return (f"{what}: {name} has length 1 on axis {axis} where the other operands have "
            f"length {length}, but its static shape {shown} does not say that axis "
            "broadcasts. "
            "cgraph follows Theano's rule, not numpy's: only an axis whose static length "
            "is 1 broadcasts. Declare it where the variable is made: "
            f"T.addbroadcast({var}, {axis}), a dimshuffle with 'x', T.row()/T.col(), "
            "T.tensor(shape=...) or shared(value, shape=...); or give equal lengths")


def operand_names(node: Apply) -> list[str]:
    """How an error names each input of an elementwise node."""
    return [f"input {i} ({v.name})" if v.name else f"input {i}"
            for i, v in enumerate(node.inputs)]


def as_operands(args: Sequence[Any]) -> list[TensorVariable]:
    """Convert elementwise arguments to tensors, Python numbers weakly typed.

    A Python number takes the dtype numpy 2 would give it next to the tensor
    arguments (`float32_var * 0.1` stays float32), as Theano's autocast did.
    """
    tensors = [a for a in args if isinstance(a, Variable)]
    dtypes = [as_tensor_variable(t).dtype for t in tensors]
    out = []
    for a in args:
        if isinstance(a, Variable) or not tensors or not _is_python_number(a):
            out.append(as_tensor_variable(a))
        else:
            dtype = np.result_type(*[np.dtype(d) for d in dtypes], a)
            out.append(as_tensor_variable(np.asarray(a, dtype=dtype)))
    return out


def _is_python_number(a: Any) -> bool:
    # numpy scalars (np.float64 is a float subclass) keep their own dtype.
    return type(a) in (bool, int, float)


class Elemwise(Op):
    """Apply a scalar op elementwise. Operands broadcast by Theano's rule: an axis of
    static length 1 stretches; a length 1 found at run time on another axis raises."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: ScalarOp):
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return self.scalar_op.name

    def make_node(self, *args: Any) -> Apply:
        if len(args) != self.scalar_op.nin:
            raise TypeError(f"{self} takes {self.scalar_op.nin} inputs, got {len(args)}")
        inputs = as_operands(args)
        ndim = max(v.ndim for v in inputs)
        inputs = [pad_left(v, ndim) for v in inputs]
        shape = broadcast_static([v.type.shape for v in inputs], f"{self}")
        dtype = self.scalar_op.dtype([v.dtype for v in inputs])
        return Apply(self, inputs, [TensorType(dtype, shape).make_variable()])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        out_type = node.outputs[0].type
        (shape,) = self.infer_shape(node, [a.shape for a in inputs])
        inputs = _through_float(self.scalar_op, inputs, out_type.dtype)
        with np.errstate(all="ignore"):
            result = self.scalar_op.impl(*inputs)
        return [np.array(np.broadcast_to(result, shape), dtype=out_type.dtype)]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [broadcast_shapes(shapes, f"elementwise {self}",
                                 [v.type.shape for v in node.inputs],
                                 lambda: operand_names(node))]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        rule = self.scalar_op.grad
        if rule is None:
            raise NotImplementedError(f"the elementwise op {self} has no gradient rule")
        out = self(*inputs)
        grads = rule(*inputs, out, output_grads[0])
        result: list[Variable | None] = []
        for inp, g in zip(inputs, grads):
            if g is None or not inp.type.is_continuous:
                result.append(None)
            else:
                result.append(_unbroadcast(g, inp))
        return result


def _through_float(op: ScalarOp, args: list[np.ndarray], out_dtype: str) -> list[np.ndarray]:
    """The integer operands that the C computes in a float output dtype, converted.

    numpy would compute exp(int8) in float16, and an impl may cast back to its input's
    dtype; the inputs outside `op.common` (a switch condition) keep their own dtype.
    """
    if np.dtype(out_dtype).kind not in "fc":
        return args
    chosen = range(len(args)) if op.common is None else op.common
    return [a.astype(out_dtype) if i in chosen and a.dtype.kind in "biu" else a
            for i, a in enumerate(args)]


def _unbroadcast(g: TensorVariable, like: TensorVariable) -> TensorVariable:
    """Sum `g` back to the shape (and dtype) of `like`."""
    if g.dtype != like.dtype:
        g = cast(g, like.dtype)
    return sum_to(g, like)


# --------------------------------------------------------------------------- casting


def _cast_dtype_rule(dtype: str) -> DtypeRule:
    return lambda dtypes: dtype


_cast_ops: dict[str, Elemwise] = {}


def cast_scalar_op(dtype: str) -> ScalarOp:
    """The scalar op converting to `dtype` (one per dtype)."""
    if dtype not in _cast_ops:
        scalar = ScalarOp(
            name=f"cast_{dtype}",
            nin=1,
            c="({t})({0})" if dtype != "bool" else "({0} != 0)",
            impl=lambda a, _d=dtype: np.asarray(a).astype(_d),
            dtype=_cast_dtype_rule(dtype),
            grad=lambda a, out, gz: [gz],
            recipe=(cast_scalar_op, (dtype,)),
        )
        _cast_ops[dtype] = Elemwise(scalar)
    return _cast_ops[dtype].scalar_op


def cast(x: Any, dtype: Any) -> TensorVariable:
    """Convert `x` to `dtype` elementwise (C conversion rules, as numpy's astype)."""
    x = as_tensor_variable(x)
    dtype = str(np.dtype(dtype))
    if x.dtype == dtype:
        return x
    cast_scalar_op(dtype)
    return _cast_ops[dtype](x)


# --------------------------------------------------------------------------- fused (Composite)


@dataclass(frozen=True)
class CompositeStep:
    """One scalar op inside a Composite: `op` applied to earlier values `args`.

    Values are numbered inputs first, then steps (step k is value nin + k).
    """

    op: ScalarOp
    args: tuple[int, ...]
    dtype: str
    note: str = field(default="", compare=False)  # the original node, for C comments


@dataclass(frozen=True)
class Composite:
    """Several scalar ops computed in one elementwise loop (what fusion builds).

    Attributes
    ----------
    in_dtypes : tuple of str
        The dtypes of the loop's inputs.
    steps : tuple of CompositeStep
        The original elementwise ops, in an order where arguments come first.
    outputs : tuple of int
        The values written out (the steps whose results are used elsewhere).
    """

    in_dtypes: tuple[str, ...]
    steps: tuple[CompositeStep, ...]
    outputs: tuple[int, ...]

    @property
    def nin(self) -> int:
        return len(self.in_dtypes)

    @property
    def name(self) -> str:
        return "fused{" + ",".join(s.op.name for s in self.steps) + "}"

    def dtype_of(self, value: int) -> str:
        """The dtype of value number `value`."""
        if value < self.nin:
            return self.in_dtypes[value]
        return self.steps[value - self.nin].dtype

    def shapes(self, in_shapes: Sequence[Any], combine: Callable,
               in_static: Sequence[tuple] | None = None,
               in_names: Sequence[str] | None = None) -> list[Any]:
        """The shape of every output: `combine(shapes, what)` broadcasts each step's;
        with the inputs' static shapes, `combine(shapes, what, static, names)` where
        names are `in_names` (default `x0`, `x1`...) and `t0`, `t1`... for the steps."""
        shapes = list(in_shapes)
        static = None if in_static is None else list(in_static)
        names = list(in_names or [f"x{i}" for i in range(self.nin)])
        names += [f"t{k}" for k in range(len(self.steps))]
        for step in self.steps:
            what = f"elementwise {step.op}"
            args = [shapes[a] for a in step.args]
            if static is None:
                shapes.append(combine(args, what))
                continue
            arg_static = [static[a] for a in step.args]
            shapes.append(combine(args, what, arg_static, [names[a] for a in step.args]))
            static.append(broadcast_static(arg_static, what))
        return [shapes[v] for v in self.outputs]

    def checked_shapes(self, node: Apply, in_shapes: Sequence[tuple[int, ...]]
                       ) -> list[tuple[int, ...]]:
        """The output shapes for inputs of `in_shapes`, under Theano's rule for the
        static shapes of `node`'s inputs."""
        names = [f"x{i} ({v.name})" if v.name else f"x{i}" for i, v in enumerate(node.inputs)]
        return self.shapes(in_shapes, broadcast_shapes, [v.type.shape for v in node.inputs],
                           names)

    def impl(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """numpy reference: each step as its own Elemwise would compute it."""
        values = list(arrays)
        for step in self.steps:
            args = _through_float(step.op, [values[a] for a in step.args], step.dtype)
            with np.errstate(all="ignore"):
                result = step.op.impl(*args)
            shape = np.broadcast_shapes(*[np.shape(a) for a in args])
            values.append(np.array(np.broadcast_to(result, shape), dtype=step.dtype))
        return [values[v] for v in self.outputs]

    def __str__(self) -> str:
        return self.name


class FusedElemwise(Op):
    """A Composite applied elementwise: one C loop computing several outputs."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: Composite):
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return self.scalar_op.name

    def make_node(self, *inputs: Any) -> Apply:
        comp = self.scalar_op
        inputs = [as_tensor_variable(v) for v in inputs]
        if [v.dtype for v in inputs] != list(comp.in_dtypes):
            raise TypeError(f"{self} takes inputs of dtypes {comp.in_dtypes}, got "
                            f"{[v.dtype for v in inputs]}")
        shapes = comp.shapes([v.type.shape for v in inputs], broadcast_static)
        outputs = [TensorType(comp.dtype_of(v), shape).make_variable()
                   for v, shape in zip(comp.outputs, shapes)]
        return Apply(self, inputs, outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.scalar_op.checked_shapes(node, [a.shape for a in inputs])
        return self.scalar_op.impl(*inputs)

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return self.scalar_op.checked_shapes(node, shapes)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")


class FusedSum(Op):
    """The sum of all elements of a Composite's one output, in the loop computing it
    (no temporary array): what `sum(elementwise(...))` becomes after fusion."""

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op: Composite):
        if len(scalar_op.outputs) != 1:
            raise ValueError("FusedSum sums a composite with one output")
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return f"sum_of_{self.scalar_op.name}"

    def make_node(self, *inputs: Any) -> Apply:
        comp = self.scalar_op
        inputs = [as_tensor_variable(v) for v in inputs]
        comp.shapes([v.type.shape for v in inputs], broadcast_static)
        dtype = comp.dtype_of(comp.outputs[0])
        if dtype not in ("float32", "float64"):
            raise TypeError(f"{self}: only float sums are fused, got {dtype}")
        return Apply(self, inputs, [TensorType(dtype, ()).make_variable()])

    def loop_shape(self, node: Apply, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
        """The shape of the summed values (checks that the inputs broadcast)."""
        return self.scalar_op.checked_shapes(node, shapes)[0]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.loop_shape(node, [a.shape for a in inputs])
        (value,) = self.scalar_op.impl(*inputs)
        dtype = node.outputs[0].type.dtype
        return [np.asarray(np.sum(value, axis=tuple(range(value.ndim)), dtype=dtype))]

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        self.loop_shape(node, shapes)
        return [()]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        raise NotImplementedError(f"{self} is built by rewrites, after gradients: it has "
                                  "no gradient rule")


register_kernel(ElementwiseKernel(), Elemwise)
register_kernel(FusedElementwiseKernel(), FusedElemwise)
register_kernel(FusedSumKernel(), FusedSum)
