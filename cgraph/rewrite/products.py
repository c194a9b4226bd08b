"""Stabilizing rules that read a whole product: its factors through nested mul and neg.

A gradient is a product built one chain-rule step at a time, so the factors that
cancel (a sigmoid and the exp its derivative holds, a quotient and its denominator)
sit at different depths of the mul tree; these rules find them anywhere in it.
"""

from __future__ import annotations

import itertools

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.rewrite.driver import input_of, scalar_name
from cgraph.tensor.math import ELEMENTWISE
from cgraph.tensor.reduce import BroadcastLike
from cgraph.tensor.shape import DimShuffle

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
    """The product of `factors` (at least one), negated when `negative`."""
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
    if kept is None:
        return None
    return _shaped(_product(kept, negative), factors, node.outputs[0])


def _shaped(out: Variable, factors: list[Variable], like: Variable) -> Variable:
    """`out` broadcast to `like`'s type when the factors that cancelled held its shape
    (1 / s * s * g -> g, with g a constant of length 1): as a view of a factor of that
    type, followed down unary elementwise ops to what they read (1 / s -> s -> z)."""
    if out.type == like.type or out.ndim != like.ndim:
        return out
    base = next((f for f in factors if f.type == like.type), None)
    if base is None:
        return out
    while (base.owner is not None and scalar_name(base.owner) is not None
           and len(base.owner.inputs) == 1 and base.owner.inputs[0].type == like.type):
        base = base.owner.inputs[0]
    return BroadcastLike()(out, base)


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


#: how many terms of a sum `sigmoid_complement` reads (through add, sub and neg)
MAX_TERMS = 8


def sum_terms(v: Variable, dtype: str, limit: int = MAX_TERMS) -> list[tuple[Variable, bool]]:
    """The terms of the sum `v` through nested add, sub and neg of `dtype`, each with
    whether it is subtracted (at most `limit`: past that, a sum is one term)."""
    terms: list[tuple[Variable, bool]] = []
    stack = [(v, False)]
    while stack:
        w, negative = stack.pop()
        name = scalar_name(w.owner) if w.type.dtype == dtype else None
        if name in ("add", "sub") and len(terms) + len(stack) + 2 <= limit:
            ins = w.owner.inputs
            stack.extend((x, negative != (name == "sub" and k > 0))
                         for k, x in reversed(list(enumerate(ins))))
        elif name == "neg":
            stack.append((w.owner.inputs[0], not negative))
        else:
            terms.append((w, negative))
    return terms


def _rest_after_sigmoid(longer: list[Variable], shorter: list[Variable]
                        ) -> Variable | None:
    """u when `longer` holds the factors of `shorter` (as written) and one sigmoid(u)."""
    for k, f in enumerate(longer):
        u = input_of(f, "sigmoid")
        if u is None:
            continue
        rest = longer[:k] + longer[k + 1:]
        for g in shorter:
            j = next((j for j, h in enumerate(rest) if same(g, h)), None)
            if j is None:
                break
            rest.pop(j)
        else:
            return u
    return None


def _complement(a: tuple[list, bool], b: tuple[list, bool]) -> Variable | None:
    """a + b as a * sigmoid(-u) when b is -a * sigmoid(u) (or a is -b * sigmoid(u)):
    terms given as their factors (ones left out) and sign."""
    (fa, na), (fb, nb) = a, b
    if na == nb or abs(len(fa) - len(fb)) != 1:
        return None
    (short, negative), longer = ((fa, na), fb) if len(fa) < len(fb) else ((fb, nb), fa)
    u = _rest_after_sigmoid(longer, short)
    if u is None:
        return None
    return _product([*short, ELEMENTWISE["sigmoid"](_negative_of(u))], negative)


def sigmoid_complement(node: Apply) -> Variable | None:
    """a - a * sigmoid(u) -> a * sigmoid(-u) among the terms of a sum (through add,
    sub and neg), wherever a's factors sit in the two products. The gradient of the
    hand-written exp(z) / (1 + exp(z)) holds s * g - s * s * g: the difference loses
    every digit past z = 37 (it rounds to 0 where the derivative is exp(-z)); as
    s * g * sigmoid(-z) it keeps them."""
    dtype = node.outputs[0].type.dtype
    if not dtype.startswith("float"):
        return None
    terms = sum_terms(node.outputs[0], dtype)
    if len(terms) < 2:
        return None
    products = [product_factors([t], dtype, MAX_OPENED // 4) for t, _ in terms]
    sigmoids = [any(scalar_name(g.owner) == "sigmoid" for g in fs) for fs, _ in products]
    if not any(sigmoids):
        return None
    read = [(factors, *_without_ones(factors, negative != minus))
            for (factors, negative), (_, minus) in zip(products, terms)]
    for i, j in itertools.combinations(range(len(terms)), 2):
        if not (sigmoids[i] or sigmoids[j]) or read[i][2] == read[j][2]:
            continue
        combined = _complement(read[i][1:], read[j][1:])
        if combined is None:
            continue
        rest = [_product([t], minus) for k, (t, minus) in enumerate(terms) if k not in (i, j)]
        out = combined
        for r in rest:
            out = ELEMENTWISE["add"](out, r)
        return _shaped(out, read[i][0] + read[j][0], node.outputs[0])
    return None


def _without_ones(factors: list[Variable], negative: bool) -> tuple[list[Variable], bool]:
    """The factors but the constants 1 and -1 (as written, negated, dimshuffled or
    broadcast to a shape), each -1 flipping the sign."""
    kept = []
    for f in factors:
        c, flip = f, False
        while c.owner is not None and (isinstance(c.owner.op, (BroadcastLike, DimShuffle))
                                       or scalar_name(c.owner) == "neg"):
            flip ^= scalar_name(c.owner) == "neg"
            c = c.owner.inputs[0]
        data = np.asarray(c.data) if isinstance(c, Constant) else None
        if data is not None and data.size and (np.all(data == 1) or np.all(data == -1)):
            negative ^= flip ^ bool(data.flat[0] == -1)
            continue
        kept.append(f)
    return kept, negative


def _negative_of(u: Variable) -> Variable:
    """-u, with a written negation undone (-(-a) -> a)."""
    inner = input_of(u, "neg")
    return inner if inner is not None else ELEMENTWISE["neg"](u)
