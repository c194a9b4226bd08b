"""Specialization: a product and the elementwise scaling and sum around it become one
BLAS call, `Gemm` (alpha * dot(a, b) + beta * c), as pattern rules:

    dot(a, b) + c            -> gemm(a, b, c, alpha=1, beta=1)     (either order)
    k1 * dot(a, b) + k2 * c  -> gemm(a, b, c, alpha=k1, beta=k2)
    c - k * dot(a, b)        -> gemm(a, b, c, alpha=-k, beta=1)    (the SGD update)
    k * dot(a, b) - c        -> gemm(a, b, c, alpha=k, beta=-1)

where k, k1, k2 are scalar constants and c may be a broadcast view (a bias row
`DimShuffle{x,0}(b)`, a column, a scalar). BLAS then adds the product into c's
broadcast copy (beta = 1) instead of a product kernel writing a temporary that an
elementwise loop reads back.

A rule fires only for float32/float64 (integer products run the generated loop either
way: a gemm would save nothing), when c has the product's dtype, and when nothing else
reads the product (or its scaled copy): otherwise the product is computed anyway and
gemm would compute it twice. In a
training step this keeps `dot(x, W) + b` as it is, since the gradient of the bias add
reads the product's shape (`SumTo(g, dot(x, W))`), but turns each weight update
`W - lr * dot(x.T, g)` into one gemm.

Two more rules make small products elementwise, so that fusion takes them into the
loop that reads them:

    dot(col, row)            -> col * row   (an outer product: the inner length is
                                             statically 1, one multiply per element)
    transpose(x * y)         -> x.T * y.T   (when nothing else reads the product)
"""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.basic import dimshuffle_of_dimshuffle
from cgraph.rewrite.driver import Rule, RuleTable, graph_rewrite, scalar_name
from cgraph.tensor.blas import Dot, Gemm
from cgraph.tensor.math import ELEMENTWISE
from cgraph.tensor.shape import DimShuffle

#: dtypes whose products call BLAS: the only ones worth a gemm.
GEMM_DTYPES = ("float32", "float64")


def scalar_constant(v: Variable) -> float | None:
    """The value of `v` when it is a finite constant with one element (possibly through
    dimshuffles adding length-1 axes), else None."""
    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if not isinstance(v, Constant):
        return None
    data = np.asarray(v.data)
    if data.size != 1 or data.dtype.kind != "f" or not np.isfinite(data).all():
        return None
    return data.item()


def _scaled(v: Variable) -> tuple[float, Variable]:
    """(k, x) when `v` is k * x or x * k for a scalar constant k of v's type, else (1, v)."""
    if scalar_name(v.owner) == "mul":
        x, y = v.owner.inputs
        for k, other in ((x, y), (y, x)):
            value = scalar_constant(k)
            if value is not None and k.dtype == v.dtype and other.type == v.type:
                return value, other
    return 1.0, v


class _Specializer:
    """The gemm rules of one graph: they ask it who reads a variable."""

    def __init__(self, fgraph: FunctionGraph):
        self.fgraph = fgraph

    def _read_once(self, v: Variable, reader: Apply) -> bool:
        """Whether `reader` is the only reader of `v`, once, and `v` is no output."""
        if any(out is v for out in self.fgraph.outputs):
            return False
        readers = self.fgraph.clients().get(id(v), [])
        return len(readers) == 1 and next(iter(readers))[0] is reader

    def _product(self, v: Variable, node: Apply) -> tuple[float, Apply] | None:
        """(alpha, the Dot node) when `v` is dot(a, b) or alpha * dot(a, b), of a BLAS
        dtype, read only by `node`."""
        alpha, inner = _scaled(v)
        dot = inner.owner
        if dot is None or type(dot.op) is not Dot or inner.dtype not in GEMM_DTYPES:
            return None
        scaled = inner is not v
        if scaled and not self._read_once(v, node):
            return None
        if not self._read_once(inner, v.owner if scaled else node):
            return None
        return alpha, dot

    def _gemm(self, node: Apply, product: Variable, other: Variable, signs: tuple[float, float]
              ) -> Variable | None:
        """Gemm for node's output, `s1 * product + s2 * other` with `signs` (s1, s2)."""
        found = self._product(product, node)
        if found is None or other.dtype != product.dtype:
            return None
        alpha, dot = found
        beta, c = _scaled(other)
        if c.ndim > dot.outputs[0].ndim:
            return None
        return Gemm(signs[0] * alpha, signs[1] * beta)(*dot.inputs, c)

    def _first(self, node: Apply, forms: tuple) -> Variable | None:
        """The Gemm of the first (product, other, signs) in `forms` that matches."""
        for product, other, signs in forms:
            found = self._gemm(node, product, other, signs)
            if found is not None:
                return found
        return None

    def add(self, node: Apply) -> Variable | None:
        """dot(a, b) + c, c + dot(a, b), with scaled terms."""
        x, y = node.inputs
        return self._first(node, ((x, y, (1.0, 1.0)), (y, x, (1.0, 1.0))))

    def sub(self, node: Apply) -> Variable | None:
        """c - alpha * dot(a, b) (the SGD update), alpha * dot(a, b) - c."""
        x, y = node.inputs
        return self._first(node, ((y, x, (-1.0, 1.0)), (x, y, (1.0, -1.0))))


def _summed_with_products(v: Variable, fgraph: FunctionGraph) -> bool:
    """Whether an `add` reads `v` beside another product (a gradient summing one outer
    product per layer): the gemm rules then accumulate the terms in place, each term
    a call of one shared kernel, where as multiplies all of them would fuse into one
    loop reading two operands per term."""
    for reader, _ in fgraph.clients().get(id(v), []):
        if scalar_name(reader) == "add" and any(
                u is not v and u.owner is not None and isinstance(u.owner.op, (Dot, Gemm))
                for u in reader.inputs):
            return True
    return False


def _outer_product(fgraph: FunctionGraph):
    def rule(node: Apply) -> Variable | None:
        """dot(a, b) -> a * b for matrices whose inner length is statically 1: each
        element is one product, exactly what the dot computes, and fusion can read it
        in place; not where products are summed (`_summed_with_products`)."""
        a, b = node.inputs
        if (a.ndim != 2 or b.ndim != 2 or a.type.shape[1] != 1 or b.type.shape[0] != 1
                or _summed_with_products(node.outputs[0], fgraph)):
            return None
        return ELEMENTWISE["mul"](a, b)
    return rule


def _transposed(v: Variable, order: tuple) -> Variable:
    """`v` dimshuffled by the permutation `order`, two dimshuffles in a row made one."""
    out = DimShuffle(v.ndim, order)(v)
    merged = dimshuffle_of_dimshuffle(out.owner)
    return out if merged is None else merged


def _transpose_product(fgraph: FunctionGraph):
    def rule(node: Apply) -> Variable | None:
        """transpose(x * y) -> transpose(x) * transpose(y), when the product has no other
        reader: the transposed operands are views, and the product joins the fused loop
        that reads it."""
        order = node.op.new_order
        x = node.inputs[0]
        if (sorted(order, key=str) != list(range(x.ndim)) or scalar_name(x.owner) != "mul"
                or any(out is x for out in fgraph.outputs)
                or len(fgraph.clients().get(id(x), [])) != 1
                or any(u.ndim != x.ndim for u in x.owner.inputs)):
            return None
        return ELEMENTWISE["mul"](*(_transposed(u, order) for u in x.owner.inputs))
    return rule


def specialize(fgraph: FunctionGraph) -> dict[str, int]:
    """Turn products and the scaled sums around them into Gemm nodes (module docstring).

    Returns
    -------
    dict
        How many times each rule fired.
    """
    rules = _Specializer(fgraph)
    table = RuleTable("specialize", [Rule("gemm_add", "add", rules.add),
                                     Rule("gemm_sub", "sub", rules.sub),
                                     Rule("outer_product", Dot, _outer_product(fgraph)),
                                     Rule("transpose_product", DimShuffle,
                                          _transpose_product(fgraph))])
    return graph_rewrite(fgraph, table)
