"""Stabilizing rules that read a whole product: its factors through nested mul and neg.

A gradient is a product built one chain-rule step at a time, so the factors that
cancel (a sigmoid and the exp its derivative holds, a quotient and its denominator)
sit at different depths of the mul tree; these rules find them anywhere in it.
"""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.rewrite.driver import input_of, scalar_name
from cgraph.tensor.math import ELEMENTWISE

#: how many mul and neg nodes `product_factors` looks through: a gradient's product
#: trees share subtrees (m * m), which a walk would otherwise visit exponentially often
MAX_OPENED = 32


def product_factors(roots: list[Variable], dtype: str, limit: int = MAX_OPENED
                    ) -> tuple[list[Variable], bool]:
    """The factors of the product of `roots`, through nested mul and neg of `dtype`
    (at most `limit` of them: past that, a product is one factor), and whether an odd
    number of negations wraps them."""
    factors, negative = [], False
    stack = list(roots[::-1])
    opened = 0
    while stack:
        v = stack.pop()
        name = scalar_name(v.owner) if v.type.dtype == dtype and opened < limit else None
        opened += name in ("mul", "neg")
        if name == "mul":
            stack.extend(v.owner.inputs[::-1])
        elif name == "neg":
            negative = not negative
            stack.append(v.owner.inputs[0])
        else:
            factors.append(v)
    return factors, negative


def _product(factors: list[Variable], negative: bool) -> Variable:
    mul = ELEMENTWISE["mul"]
    out = factors[0]
    for f in factors[1:]:
        out = mul(out, f)
    return ELEMENTWISE["neg"](out) if negative else out


def same(a: Variable, b: Variable, depth: int = 6) -> bool:
    """Whether `a` and `b` compute the same value as written: the same variable, equal
    constants, or the same output of equal ops on inputs that are the same (to
    `depth` levels). The stabilizing rules make new nodes (a sigmoid, a negation)
    that the merge pass after them would unify with existing ones."""
    if a is b:
        return True
    if isinstance(a, Constant) or isinstance(b, Constant):
        return (isinstance(a, Constant) and isinstance(b, Constant) and a.type == b.type
                and np.array_equal(a.data, b.data))
    if depth == 0 or a.owner is None or b.owner is None or a.index != b.index:
        return False
    ins_a, ins_b = a.owner.inputs, b.owner.inputs
    return (a.owner.op == b.owner.op and len(ins_a) == len(ins_b)
            and all(same(x, y, depth - 1) for x, y in zip(ins_a, ins_b)))


def _opposite(u: Variable, v: Variable) -> bool:
    """Whether v is -u or u is -v, as written."""
    w = input_of(v, "neg")
    if w is not None and same(w, u):
        return True
    w = input_of(u, "neg")
    return w is not None and same(w, v)


def _simplified(factors: list[Variable]) -> list[Variable] | None:
    """The factors with exp(u) * sigmoid(-u) as sigmoid(u), and a quotient a / d whose
    d is another factor as a (that factor dropped); None when nothing changes."""
    names = {scalar_name(f.owner) for f in factors}
    if "true_div" not in names and not {"exp", "sigmoid"} <= names:
        return None
    out: list[Variable | None] = list(factors)
    changed = False
    for k, f in enumerate(out):
        u = input_of(f, "exp") if f is not None else None
        if u is None:
            continue
        j = next((j for j, g in enumerate(out) if g is not None and
                  (v := input_of(g, "sigmoid")) is not None and _opposite(u, v)), None)
        if j is not None:
            out[k], out[j], changed = ELEMENTWISE["sigmoid"](u), None, True
    for k, f in enumerate(out):
        if f is None or scalar_name(f.owner) != "true_div":
            continue
        a, d = f.owner.inputs
        j = next((j for j, g in enumerate(out) if g is not None and j != k and same(g, d)),
                 None)
        if j is not None:
            out[k], out[j], changed = a, None, True
    kept = [f for f in out if f is not None]
    return kept if changed and kept else None


def simplify_product(node: Apply) -> Variable | None:
    """A product with its factors `_simplified`, wherever they sit in the mul tree:
    exp(u) * sigmoid(-u) -> sigmoid(u) (Theano's local_sigm_times_exp) and
    (a / d) * ... * d -> a * ... . The gradient of the hand-written 1 / (1 + exp(-z))
    is sigmoid(z)**2 * exp(-z) once canonicalized, 0 * inf (NaN) for z < -709; with the
    rule it is sigmoid(z) * sigmoid(-z), finite for every z."""
    dtype = node.outputs[0].type.dtype
    if not dtype.startswith("float"):
        return None
    factors, negative = product_factors(node.inputs, dtype)
    kept = _simplified(factors)
    return None if kept is None else _product(kept, negative)


def _terms(v: Variable) -> list[tuple[Variable, bool]] | None:
    """The terms of a sum `v` (add or sub of two), each with whether it is subtracted."""
    name = scalar_name(v.owner)
    if name not in ("add", "sub"):
        return None
    a, b = v.owner.inputs
    return [(a, False), (b, name == "sub")]


def distribute_quotients(node: Apply) -> Variable | None:
    """(a / p + b / q) * p * q * r -> a * q * r + b * p * r: a product holding a sum
    is the sum of the products, when that lets factors cancel in a term
    (`_simplified`). The gradient of -y * log(p) - (1 - y) * log(1 - p) with p a
    sigmoid holds (-y / p + (1 - y) / q) * p * q, inf * 0 where p or q underflows to
    0; distributed, it is finite."""
    dtype = node.outputs[0].type.dtype
    if not dtype.startswith("float"):
        return None
    factors, negative = product_factors(node.inputs, dtype)
    names = [scalar_name(f.owner) for f in factors]
    if "add" not in names and "sub" not in names:
        return None
    for k, f in enumerate(factors):
        terms = _terms(f)
        if terms is None:
            continue
        others = factors[:k] + factors[k + 1:]
        around = set(names[:k] + names[k + 1:])
        expanded = []
        for term, minus in terms:
            inner, inner_negative = product_factors([term], dtype, MAX_OPENED // 4)
            found = around | {scalar_name(g.owner) for g in inner}
            may = "true_div" in found or {"exp", "sigmoid"} <= found
            expanded.append((inner + others, _simplified(inner + others) if may else None,
                             minus != inner_negative))
        if any(kept is not None for _, kept, _ in expanded):
            total = ELEMENTWISE["add"](*[_product(kept or written, sign)
                                         for written, kept, sign in expanded])
            return ELEMENTWISE["neg"](total) if negative else total
    return None
