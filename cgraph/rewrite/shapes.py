"""Axes that certainly have equal lengths, and the shape no-ops they reveal.

Gradients sum each elementwise input's gradient back to the input's shape
(`SumTo(g, like)`) and broadcast back (`BroadcastLike`). With unknown static
shapes these must stay in the graph, unless the lengths are provably equal: then
they are copies that also stop fusion. `ShapeClasses` proves such equalities with
one pass over the graph: each axis gets a class; an elementwise output axis has
its inputs' class, and the inputs' axes that are not statically 1 become one class
(Theano's broadcasting rule: the call fails otherwise); a Dot makes its two inner
axes one class; SumTo/BroadcastLike outputs take the classes of `like`.
"""

from __future__ import annotations

import itertools

from cgraph.graph.basic import Apply, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.driver import Rule, RuleTable, graph_rewrite
from cgraph.tensor.blas import Dot
from cgraph.tensor.elemwise import Elemwise, FusedElemwise
from cgraph.tensor.reduce import BroadcastLike, Sum, SumTo
from cgraph.tensor.shape import DimShuffle, Shape_i

Dim = object  # an int (a static length) or a hashable class key


class ShapeClasses:
    """Union-find over axis lengths of every variable of a graph."""

    def __init__(self, fgraph: FunctionGraph):
        self._parent: dict[Dim, Dim] = {}
        self._fresh = itertools.count()
        self._dims: dict[int, tuple] = {}
        for node in fgraph.toposort():
            self._visit(node)

    def find(self, d: Dim) -> Dim:
        while self._parent.get(d, d) != d:
            d = self._parent[d]
        return d

    def union(self, a: Dim, b: Dim) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            if isinstance(a, int):  # keep a static length as the class's name
                a, b = b, a
            self._parent[a] = b

    def dims(self, v: Variable) -> tuple:
        """The classes of `v`'s axes."""
        if id(v) not in self._dims:
            self._dims[id(v)] = tuple(s if s is not None else ("axis", next(self._fresh))
                                      for s in v.type.shape)
        return tuple(self.find(d) for d in self._dims[id(v)])

    def same_shape(self, a: Variable, b: Variable) -> bool:
        """Whether `a` and `b` certainly have the same shape at run time."""
        return a.ndim == b.ndim and self.dims(a) == self.dims(b)

    def _broadcast(self, dims: list[tuple], what: str = "") -> tuple:
        """The classes of an elementwise result's axes. Under Theano's rule an axis
        that is not statically 1 never stretches, so all such lengths of an axis are
        one class (the call fails otherwise)."""
        out = []
        for axis in zip(*dims):
            found = [d for d in axis if self.find(d) != 1]
            for d in found[1:]:
                self.union(found[0], d)
            out.append(self.find(found[0]) if found else 1)
        return tuple(out)

    def _set(self, v: Variable, dims: tuple) -> None:
        self._dims[id(v)] = tuple(d if s is None else s for d, s in zip(dims, v.type.shape))

    def _visit(self, node: Apply) -> None:
        op = node.op
        ins = [self.dims(v) for v in node.inputs]
        if isinstance(op, Elemwise):
            self._set(node.outputs[0], self._broadcast(ins))
        elif isinstance(op, FusedElemwise):
            for out, dims in zip(node.outputs, op.scalar_op.shapes(ins, self._broadcast)):
                self._set(out, dims)
        elif isinstance(op, (SumTo, BroadcastLike)):
            self._set(node.outputs[0], ins[1])
        elif isinstance(op, Sum):
            self._set(node.outputs[0], tuple(d for a, d in enumerate(ins[0]) if a not in op.axis))
        elif isinstance(op, DimShuffle):
            self._set(node.outputs[0], tuple(1 if a == "x" else ins[0][a] for a in op.new_order))
        elif isinstance(op, Dot) and len(ins) == 2 and ins[0] and ins[1]:
            a, b = ins
            self.union(a[-1], b[0])
            self._set(node.outputs[0], a[:-1] + b[1:])


def shape_noops(fgraph: FunctionGraph) -> dict[str, int]:
    """Drop SumTo and BroadcastLike nodes whose input already has the target shape."""
    classes = ShapeClasses(fgraph)

    def same(node: Apply) -> Variable | None:
        x, like = node.inputs
        return x if classes.same_shape(x, like) else None

    def shape_of_input(node: Apply) -> Variable | None:
        """Shape_i(f(x, ...)) -> Shape_i(x) when that axis of x has the same length: the
        result of f need not be kept for its shape."""
        (v,) = node.inputs
        if v.owner is None or not isinstance(v.owner.op, (Elemwise, FusedElemwise)):
            return None
        axis = node.op.i
        target = classes.dims(v)[axis]
        for u in v.owner.inputs:
            if u.ndim == v.ndim and classes.dims(u)[axis] == target:
                return Shape_i(axis)(u)
        return None

    table = RuleTable("shape_noop", [Rule("sum_to_same_shape", SumTo, same),
                                     Rule("broadcast_like_same_shape", BroadcastLike, same),
                                     Rule("shape_of_input", Shape_i, shape_of_input)])
    return graph_rewrite(fgraph, table)
