"""Shape reasoning as a graph feature (Theano's ShapeFeature), and the rewrites it
allows.

`ShapeFeature` gives every variable of a FunctionGraph a tuple of symbolic lengths:
a static int, or a class of lengths proven equal (union-find over `Dim` symbols).
It is attached to the graph once (`shape_feature`) and kept valid through the
rewrites that follow: the graph tells it of each node a replacement brings in and
of each replacement, whose two sides then have one class per axis (a replacement
computes the same values, so it only ever adds knowledge). Passes that edit node
inputs behind `replace` (merge, fusion) also compute the same values, so what the
feature knows stays true; the new variables they make get their shapes when first
asked.

Where facts come from:
- the types' static lengths;
- Theano's broadcasting rule: an elementwise node's operand axes that are not
  statically 1 all have one length (the call fails otherwise), likewise a product's
  inner axes, and a join's parts off the joined axis;
- the lengths alloc and reshape are given (`x.shape[i]`, constants);
- each op's own `infer_shape`, run on the symbols: an op that only passes lengths
  through (unbroadcast, a sort) gives its output the input's classes without a
  rule of its own here. Symbols refuse any comparison but with themselves and any
  arithmetic, so an `infer_shape` that needs a number (a tile multiplying
  lengths) fails and its outputs get fresh classes (always sound).

Checks (SpecifyShape's symbolic lengths, SumTo, BroadcastLike, SummedAxes) state a
length without the feature recording it as a fact about their input: a check proven
by its own claim would remove itself.

The rewrites (`shape_noops`): SumTo / BroadcastLike between equal shapes, a
SummedAxes or SpecifyShape check that is proven, a Sum over axes proven to have
length 1, and `x.shape[i]` / `x.shape` of an intermediate replaced by the shape of a
graph input of the same class, so a large intermediate is not kept alive (or a
kernel run) only to read its shape.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.driver import Rule, RuleTable, graph_rewrite
from cgraph.tensor.basic_ops import Alloc, Reshape
from cgraph.tensor.blas import SummedAxes
from cgraph.tensor.blas_ops import Dot, Gemm
from cgraph.tensor.elemwise import Elemwise, FusedElemwise
from cgraph.tensor.reduce import BroadcastLike, CAReduce, Sum, SumTo
from cgraph.tensor.shape import DimShuffle, Join, Shape, Shape_i, Squeeze
from cgraph.tensor.specify_shape import SYMBOLIC, SpecifyShape
from cgraph.tensor.type import TensorConstant, TensorType


class Undecided(TypeError):
    """An `infer_shape` asked something of a symbolic length that only its number
    answers (a comparison, arithmetic): the output lengths stay unknown."""


#: `strict` is set while an op's `infer_shape` runs on symbols (per thread).
_TRIAL = threading.local()


class Dim:
    """A symbolic length: equal only to itself; no order, no arithmetic. While an
    `infer_shape` runs on it, comparing it with anything else raises `Undecided`
    (elsewhere, such a comparison is False)."""

    __slots__ = ("n",)

    def __init__(self, n: int):
        self.n = n

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if getattr(_TRIAL, "strict", False):
            raise Undecided(f"the length d{self.n} compared with {other!r}")
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise Undecided(f"the truth of the length d{self.n}")

    def __index__(self) -> int:
        raise Undecided(f"the number of the length d{self.n}")

    def __repr__(self) -> str:
        return f"d{self.n}"


def same(a: object, b: object) -> bool:
    """Whether two class names (roots) are one length: the same symbol or equal ints."""
    return a is b or (type(a) is int and type(b) is int and a == b)


class ShapeFeature:
    """Symbolic shapes of a FunctionGraph's variables, kept through its rewrites."""

    def __init__(self, fgraph: FunctionGraph):
        self.fgraph = fgraph
        self._parent: dict[object, object] = {}
        self._fresh = itertools.count()
        # id(variable) -> (variable, dims): the variable is held so its id stays its own
        self._dims: dict[int, tuple[Variable, tuple]] = {}
        self._inputs = {id(v) for v in fgraph.inputs}
        self._source: dict[object, tuple[Variable, int]] = {}  # root -> (input, axis)
        for v in fgraph.inputs:
            self.dims(v)
        for node in fgraph.toposort():
            self.on_import(node)

    # ------------------------------------------------------------------ union-find

    def find(self, d: object) -> object:
        """The class of length `d` (an int when the class has a static length)."""
        root = d
        while (up := self._parent.get(root, root)) is not root:
            root = up
        while d is not root:  # path compression
            up = self._parent[d]
            self._parent[d] = root
            d = up
        return root

    def union(self, a: object, b: object) -> None:
        """Record that lengths `a` and `b` are equal."""
        a, b = self.find(a), self.find(b)
        if same(a, b):
            return
        if type(a) is int:
            if type(b) is int:
                return  # two different numbers: the call fails; nothing to learn
            a, b = b, a  # keep the number as the class's name
        self._parent[a] = b
        if a in self._source and b not in self._source and type(b) is not int:
            self._source[b] = self._source[a]

    def _new(self) -> Dim:
        return Dim(next(self._fresh))

    # ------------------------------------------------------------------ queries

    def dims(self, v: Variable) -> tuple:
        """The classes of `v`'s axes (computed on first use for a variable the graph
        was not told of)."""
        entry = self._dims.get(id(v))
        if entry is None:
            self._compute(v)
            entry = self._dims[id(v)]
        return tuple(self.find(d) for d in entry[1])

    def same_shape(self, a: Variable, b: Variable) -> bool:
        """Whether `a` and `b` certainly have the same shape at run time."""
        return a.ndim == b.ndim and all(same(x, y) for x, y in zip(self.dims(a), self.dims(b)))

    def source(self, d: object) -> tuple[Variable, int] | None:
        """A graph input's axis (variable, axis) of length `d`, if one is known."""
        return self._source.get(self.find(d))

    def value_dim(self, v: Variable) -> object | None:
        """The length an int scalar `v` holds, when it is one: a constant, or the
        `Shape_i` of a variable."""
        if isinstance(v, Constant):
            data = np.asarray(v.data)
            return int(data) if data.ndim == 0 and data.dtype.kind in "iu" else None
        if v.owner is not None and isinstance(v.owner.op, Shape_i):
            return self.dims(v.owner.inputs[0])[v.owner.op.i]
        return None

    # ------------------------------------------------------------------ graph events

    def on_import(self, node: Apply) -> None:
        """A node entered the graph: give its outputs their classes."""
        if any(id(o) not in self._dims for o in node.outputs):
            self._visit(node)

    def on_replace(self, old: Variable, new: Variable) -> None:
        """`new` computes what `old` did: their axes are one class each."""
        for a, b in zip(self.dims(old), self.dims(new)):
            self.union(a, b)

    # ------------------------------------------------------------------ inference

    def _set(self, v: Variable, dims: tuple) -> None:
        """Store `v`'s classes, each joined with the static length its type gives."""
        dims = tuple(dims)
        if len(dims) != v.ndim:
            dims = tuple(self._new() for _ in range(v.ndim))
        for d, s in zip(dims, v.type.shape):
            if s is not None:
                self.union(d, int(s))
        self._dims[id(v)] = (v, dims)

    def _compute(self, v: Variable) -> None:
        """Classes for `v` and whatever it is computed from that has none yet,
        producers first (no recursion: graphs are deep)."""
        stack = [v]
        while stack:
            u = stack[-1]
            if id(u) in self._dims:
                stack.pop()
            elif u.owner is None:
                stack.pop()
                dims = tuple(int(s) if s is not None else self._new() for s in u.type.shape)
                if id(u) in self._inputs:
                    for axis, d in enumerate(dims):
                        if type(d) is not int:
                            self._source[d] = (u, axis)
                self._dims[id(u)] = (u, dims)
            else:
                missing = [w for w in u.owner.inputs if id(w) not in self._dims]
                if missing:
                    stack.extend(missing)
                else:
                    stack.pop()
                    self._visit(u.owner)

    def _broadcast(self, dims: list[tuple], static: list[tuple]) -> tuple:
        """An elementwise result's classes under Theano's rule: on each axis the
        operands whose type does not say 1 all have one length (or the call fails)."""
        out = []
        for axis, lengths in enumerate(zip(*dims)):
            found = [d for d, st in zip(lengths, static) if st[axis] != 1]
            for d in found[1:]:
                self.union(found[0], d)
            out.append(self.find(found[0]) if found else 1)
        return tuple(out)

    def _visit(self, node: Apply) -> None:
        op, inputs = node.op, node.inputs
        ins = [self.dims(v) for v in inputs]
        static = [v.type.shape for v in inputs]
        outs: list[tuple] | None = None
        if isinstance(op, Elemwise) and len({len(d) for d in ins}) <= 1:
            outs = [self._broadcast(ins, static)]
        elif isinstance(op, FusedElemwise):
            def combine(args, what, arg_static, names):
                return self._broadcast(args, arg_static)
            outs = op.scalar_op.shapes(ins, combine, static)
        elif isinstance(op, (Dot, Gemm)) and ins[0] and ins[1]:
            a, b = ins[0], ins[1]
            self.union(a[-1], b[0])
            product = a[:-1] + b[1:]
            outs = [product]
            if isinstance(op, Gemm) and len(ins[2]) == len(product):
                prod_static = static[0][:-1] + static[1][1:]
                outs = [self._broadcast([product, ins[2]], [prod_static, static[2]])]
        elif isinstance(op, (SumTo, BroadcastLike)):
            outs = [ins[1]]  # checks: the input's axes are not joined with `like`'s
        elif isinstance(op, SummedAxes):
            outs = [ins[0]]
        elif isinstance(op, SpecifyShape):
            outs = [tuple(d if n in (None, SYMBOLIC) else n for d, n in zip(ins[0], op.shape))]
        elif isinstance(op, CAReduce):
            outs = [tuple(d for a, d in enumerate(ins[0]) if a not in op.axis)]
        elif isinstance(op, DimShuffle):
            outs = [tuple(1 if a == "x" else ins[0][a] for a in op.new_order)]
        elif isinstance(op, Join) and len({len(d) for d in ins}) == 1:
            outs = [self._join(ins, op.axis)]
        elif isinstance(op, Alloc) or (isinstance(op, Reshape) and op.nparts == op.ndim):
            outs = [tuple(self._length(v) for v in inputs[1:])]  # lengths given as values
        elif not op.value_inputs:
            outs = self._infer(node, ins)
        if outs is None or len(outs) != len(node.outputs):
            outs = [() for _ in node.outputs]  # fresh classes (see _set)
        for v, dims in zip(node.outputs, outs):
            self._set(v, dims)

    def _join(self, ins: list[tuple], axis: int) -> tuple:
        """A join's classes: the inputs' other axes are one length each (the call
        fails otherwise); along `axis`, the sum when every part's length is known."""
        first = ins[0]
        for dims in ins[1:]:
            for a, (d, e) in enumerate(zip(first, dims)):
                if a != axis:
                    self.union(d, e)
        parts = [self.find(dims[axis]) for dims in ins]
        total = sum(parts) if all(type(d) is int for d in parts) else self._new()
        return tuple(total if a == axis else self.find(d) for a, d in enumerate(first))

    def _length(self, v: Variable) -> object:
        """The class of the length an int scalar `v` holds (a fresh one if unknown, or
        for reshape's -1)."""
        d = self.value_dim(v)
        return self._new() if d is None or (type(d) is int and d < 0) else d

    def _infer(self, node: Apply, ins: list[tuple]) -> list[tuple] | None:
        """The op's own `infer_shape` run on the classes; None when it needs numbers."""
        _TRIAL.strict = True
        try:
            outs = node.op.infer_shape(node, [tuple(d) for d in ins])
        except Exception:  # noqa: BLE001 - any failure only means "not known"
            return None
        finally:
            _TRIAL.strict = False
        known = {id(d) for dims in ins for d in dims if isinstance(d, Dim)}
        result = []
        for dims in outs:
            dims = tuple(int(d) if isinstance(d, (int, np.integer)) else d for d in dims)
            if not all((type(d) is int and d >= 0) or id(d) in known for d in dims):
                return None
            result.append(dims)
        return result


def shape_feature(fgraph: FunctionGraph) -> ShapeFeature:
    """The graph's shape feature, attached (and computed) on first use."""
    found = fgraph.features(ShapeFeature)
    if found:
        return found[0]
    feature = ShapeFeature(fgraph)
    fgraph.attach_feature(feature)
    return feature


def _int64(value: object) -> TensorConstant:
    return TensorConstant(TensorType("int64", ()), np.array(value, dtype="int64"))


def shape_noops(fgraph: FunctionGraph) -> dict[str, int]:
    """Remove what the shape feature proves useless (see the module docstring)."""
    shapes = shape_feature(fgraph)

    def same_shape(node: Apply) -> Variable | None:
        x, like = node.inputs
        return x if shapes.same_shape(x, like) else None

    def summed_axes_proven(node: Apply) -> Variable | None:
        a, b = node.inputs
        da, db = shapes.dims(a), shapes.dims(b)
        ok = all(same(da[i], db[j]) for i, j in zip(node.op.axes_a, node.op.axes_b))
        return a if ok else None

    def specify_shape_proven(node: Apply) -> Variable | None:
        x, lengths = node.inputs[0], iter(node.inputs[1:])
        for d, n in zip(shapes.dims(x), node.op.shape):
            want = shapes.value_dim(next(lengths)) if n == SYMBOLIC else n
            if n is not None and (want is None or not same(d, shapes.find(want))):
                return None
        return x

    def sum_of_length_one(node: Apply) -> Variable | None:
        x = node.inputs[0]
        dims = shapes.dims(x)
        if node.outputs[0].dtype != x.dtype or not all(same(dims[a], 1) for a in node.op.axis):
            return None
        keep = [a for a in range(x.ndim) if a not in node.op.axis]
        return Squeeze(x.ndim, keep)(x)

    def shape_i_of_input(node: Apply) -> Variable | None:
        """Shape_i(v) -> a constant or the Shape_i of a graph input of v's class: v
        need not be computed (or kept) for its length."""
        (v,) = node.inputs
        d = shapes.dims(v)[node.op.i]
        if type(d) is int:
            return _int64(d)
        found = shapes.source(d)
        if found is None or v.owner is None:
            return None
        return Shape_i(found[1])(found[0])

    def shape_of_input(node: Apply) -> Variable | None:
        """Shape(v) -> a constant, or the Shape of a graph input of v's shape."""
        (v,) = node.inputs
        dims = shapes.dims(v)
        if all(type(d) is int for d in dims):
            return TensorConstant(node.outputs[0].type, np.array(dims, dtype="int64"))
        if v.owner is None:
            return None
        for u in fgraph.inputs:
            if u is not v and u.ndim == v.ndim and not isinstance(u, Constant) and all(
                    same(a, b) for a, b in zip(shapes.dims(u), dims)):
                return Shape()(u)
        return None

    table = RuleTable("shape_noop", [
        Rule("sum_to_same_shape", SumTo, same_shape),
        Rule("broadcast_like_same_shape", BroadcastLike, same_shape),
        Rule("summed_axes_proven", SummedAxes, summed_axes_proven),
        Rule("specify_shape_proven", SpecifyShape, specify_shape_proven),
        Rule("sum_of_length_one", Sum, sum_of_length_one),
        Rule("shape_i_of_input", Shape_i, shape_i_of_input),
        Rule("shape_of_input", Shape, shape_of_input),
    ])
    return graph_rewrite(fgraph, table)
