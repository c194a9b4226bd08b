"""Canonical forms and numerically stable forms, as pattern tables.

Each rule reads like the algebra it applies (`pow(x, 2) -> x * x`). The
stabilizing rules come in two kinds: forward ones that swap an expression for a
stable op (`log(1 + x) -> log1p(x)`), and cancellations that remove a division by
a value that can underflow to 0 (`(a / p) * (p * c) -> a * c`). The gradient of a
cost is built from the user's graph before any rewrite runs, so the forward rules
alone would leave `grad(log(sigmoid(x)))` dividing by sigmoid(x); the
cancellations are what make such gradients (and softmax cross-entropy's, which
becomes `softmax - onehot`) finite.
"""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.rewrite.basic import is_constant
from cgraph.rewrite.driver import Rule, RuleTable, input_of, scalar_name
from cgraph.rewrite.products import distribute_quotients, sigmoid_complement, simplify_product
from cgraph.tensor.basic_ops import Alloc, alloc
from cgraph.tensor.elemwise import Elemwise, broadcast_static
from cgraph.tensor.math import ELEMENTWISE
from cgraph.tensor.nnet import softplus
from cgraph.tensor.reduce import BroadcastLike, Sum
from cgraph.tensor.reductions import MaxMin, logsumexp
from cgraph.tensor.shape import DimShuffle, shape_i
from cgraph.tensor.type import as_tensor_variable


def op(name: str):
    """The elementwise op `name` of the table."""
    return ELEMENTWISE[name]


def _is_float(v: Variable) -> bool:
    return v.type.dtype.startswith("float")


def _const_like(x: Variable, value: float) -> np.ndarray:
    """`value` in x's dtype with x's rank (all axes of length 1): no dimshuffle needed."""
    return np.full((1,) * x.ndim, value, dtype=x.type.dtype)


# --------------------------------------------------------------------------- canonicalize


def _pow_const(node: Apply) -> Variable | None:
    """pow(x, 2) -> x*x; pow(x, 0.5) -> sqrt(x); pow(x, -1) -> 1/x (floats)."""
    x, y = node.inputs
    if not _is_float(x):
        return None
    if is_constant(y, 2):
        return op("mul")(x, x)
    if is_constant(y, 0.5):
        return op("sqrt")(x)
    if is_constant(y, -1):
        return op("true_div")(_const_like(x, 1), x)
    return None


def _div_by_power_of_two(node: Apply) -> Variable | None:
    """x / c -> x * (1/c) when 1/c is exact (c a power of two)."""
    x, c = node.inputs
    if not (isinstance(c, Constant) and _is_float(x) and c.type.dtype == x.type.dtype):
        return None
    data = np.asarray(c.data)
    if data.size != 1:
        return None
    value = float(data.reshape(-1)[0])
    mantissa, _ = np.frexp(value)
    if value == 0 or not np.isfinite(value) or abs(mantissa) != 0.5:
        return None
    inverse = np.asarray(1 / value, dtype=c.type.dtype).reshape(data.shape)
    return op("mul")(x, inverse)


def _log_exp(node: Apply) -> Variable | None:
    """log(exp(x)) -> x (floats; exact where exp does not overflow, better elsewhere)."""
    x = input_of(node.inputs[0], "exp")
    return x if x is not None and _is_float(x) else None


def _nonnegative(v: Variable) -> bool:
    """True if `v` is known to be >= 0 (or NaN): its op's table row says so, x * x, or a
    nonnegative constant."""
    name = scalar_name(v.owner)
    if name is not None and v.owner.op.scalar_op.nonnegative:
        return True
    if name == "mul" and v.owner.inputs[0] is v.owner.inputs[1]:  # x * x
        return True
    return isinstance(v, Constant) and bool(np.all(np.asarray(v.data) >= 0))


def _exp_log(node: Apply) -> Variable | None:
    """exp(log(x)) -> x where x >= 0 is known (exact there: log(0) = -inf, exp(-inf) = 0;
    for a negative x the original gives NaN, so x itself would be wrong)."""
    x = input_of(node.inputs[0], "log")
    return x if x is not None and _is_float(x) and _nonnegative(x) else None


def _sub_constant(node: Apply) -> Variable | None:
    """x - c -> x + (-c): exact in IEEE arithmetic, and it lets constants collect."""
    x, c = node.inputs
    if not isinstance(c, Constant) or isinstance(x, Constant):
        return None
    if node.outputs[0].type.dtype == "bool" or c.type.dtype.startswith("uint"):
        return None
    return op("add")(x, np.negative(np.asarray(c.data)))


def _collect(name: str, fold):
    """(x o c1) o c2 -> x o (c1 o c2) for an associative, commutative op `o`."""
    def rule(node: Apply) -> Variable | None:
        a, b = node.inputs
        outer, inner = (b, a) if isinstance(b, Constant) else (a, b)
        if not isinstance(outer, Constant) or scalar_name(inner.owner) != name:
            return None
        u, w = inner.owner.inputs
        c1, y = (u, w) if isinstance(u, Constant) else (w, u)
        if not isinstance(c1, Constant) or isinstance(y, Constant):
            return None
        dtype = node.outputs[0].type.dtype
        with np.errstate(all="ignore"):
            folded = np.asarray(fold(np.asarray(c1.data), np.asarray(outer.data)), dtype=dtype)
        return op(name)(y, folded)
    rule.__name__ = f"collect_{name}"
    return rule


def _plus_one(v: Variable) -> Variable | None:
    """x when `v` is 1 + x or x + 1."""
    if scalar_name(v.owner) != "add":
        return None
    a, b = v.owner.inputs
    if is_constant(a, 1):
        return b
    if is_constant(b, 1):
        return a
    return None


def _negated(x: Variable) -> Variable:
    """-x as a sigmoid's or softplus' argument: a written negation is undone (-(-a) -> a,
    -(-a - b) -> a + b, -(a - b) -> b - a; these differ from -x at most in the sign of
    a zero, which neither function sees)."""
    name = scalar_name(x.owner)
    if name == "neg":
        return x.owner.inputs[0]
    if name == "sub":
        a, b = x.owner.inputs
        inner = input_of(a, "neg")
        return op("add")(inner, b) if inner is not None else op("sub")(b, a)
    return op("neg")(x)


def _one_plus_exp(v: Variable) -> Variable | None:
    """u when `v` is 1 + exp(u) or exp(u) + 1 (floats)."""
    x = _plus_one(v)
    u = input_of(x, "exp") if x is not None else None
    return u if u is not None and _is_float(u) else None


def _sigmoid_quotient(node: Apply) -> Variable | None:
    """The logistic function written by hand, as Theano's tutorial writes it:
    1 / (1 + exp(u)) -> sigmoid(-u) (so 1 / (1 + exp(-z)) -> sigmoid(z), and
    (1 + exp(-z)) ** -1 through pow_constant); exp(u) / (1 + exp(u)) -> sigmoid(u); any
    other a / (1 + exp(u)) -> a * sigmoid(-u) (the gradient of the hand-written form holds
    p / (1 + exp(u))). The stabilizing rules then see a sigmoid."""
    a, t = node.inputs
    u = _one_plus_exp(t)
    if u is None:
        return None
    if input_of(a, "exp") is u:
        return op("sigmoid")(u)
    s = op("sigmoid")(_negated(u))
    return s if is_constant(a, 1) else op("mul")(a, s)


def _sigmoid_power(node: Apply) -> Variable | None:
    """(1 + exp(u)) ** c -> sigmoid(-u) ** -c for a negative constant c (the gradient
    of (1 + exp(-z)) ** -1 holds its square)."""
    u = _one_plus_exp(node.inputs[0])
    c = node.inputs[1]
    if u is None or not isinstance(c, Constant) or not np.all(np.asarray(c.data) < 0):
        return None
    return op("pow")(op("sigmoid")(_negated(u)), np.negative(np.asarray(c.data)))


def _sigmoid_reciprocal(node: Apply) -> Variable | None:
    """reciprocal(1 + exp(u)) (Theano's `inv`) -> sigmoid(-u)."""
    u = _one_plus_exp(node.inputs[0])
    return None if u is None else op("sigmoid")(_negated(u))


def _length_source(v: Variable, axis: int) -> Variable:
    """A variable whose `axis` certainly has v's length, found down a chain of elementwise
    ops (an axis that is not broadcastable has the output's length), so that reading the
    length does not keep v itself computed."""
    while scalar_name(v.owner) is not None:
        inputs = [u for u in v.owner.inputs if u.ndim == v.ndim and u.type.shape[axis] != 1]
        if not inputs:
            break
        v = inputs[0]
    return v


def _zeros(out: Variable, inputs: list[Variable]) -> Variable:
    """Zeros of out's type, an elementwise-like result of `inputs` (same rank): each
    length not static is read from an input whose axis is not broadcastable."""
    zero = np.zeros((), dtype=out.type.dtype)
    if out.ndim == 0:
        return as_tensor_variable(zero)
    dims = []
    for axis, length in enumerate(out.type.shape):
        if length is None:
            wide = next(u for u in inputs if u.type.shape[axis] != 1)
            length = shape_i(_length_source(wide, axis), axis)
        dims.append(length)
    return alloc(zero, *dims)


def _unbroadcast_operand(node: Apply) -> Variable | None:
    """f(BroadcastLike(x, like), y) -> f(x, y) when y alone gives f's output its shape (the
    gradient of a sum broadcasts its scalar seed like the summed array): the array
    `like` then need not be kept for its shape."""
    want = node.outputs[0].type.shape
    for i, v in enumerate(node.inputs):
        if v.owner is None or not isinstance(v.owner.op, BroadcastLike) or v.owner.op.runtime:
            continue
        inputs = list(node.inputs)
        inputs[i] = v.owner.inputs[0]
        if broadcast_static([u.type.shape for u in inputs], "") == want:
            return node.op(*inputs)
    return None


def _is_zeros(v: Variable) -> bool:
    """Whether `v` is zeros: a constant 0 with length-1 axes, alloc(0, ...), or either
    through dimshuffles (a zero made by a rewrite is folded only later)."""
    while v.owner is not None and isinstance(v.owner.op, (Alloc, DimShuffle)):
        v = v.owner.inputs[0]
    return is_constant(v, 0)


def _mul_by_zero(node: Apply) -> Variable | None:
    """x * 0 -> zeros of the product's shape and dtype, and x is no longer computed (a
    regularization term weighted 0.0). As in Theano (local_mul_zero), the zeros stand
    also where x is NaN or infinite, where IEEE arithmetic would give NaN."""
    a, b = node.inputs
    if not (_is_zeros(a) or _is_zeros(b)) or a.ndim != b.ndim:
        return None
    return _zeros(node.outputs[0], [a, b])


def _broadcast_zeros(node: Apply) -> Variable | None:
    """BroadcastLike(0, like) -> zeros of like's shape (the gradient of x * 0), without
    keeping `like` computed."""
    x, like = node.inputs
    if not _is_zeros(x) or like.ndim != node.outputs[0].ndim:
        return None
    return _zeros(node.outputs[0], [like])


def _add_zeros(node: Apply) -> Variable | None:
    """x + alloc(0, ...) -> x (the driver keeps it only when the types are equal, so the
    zeros cannot have widened x)."""
    a, b = node.inputs
    if _is_zeros(b):
        return a
    return b if _is_zeros(a) else None


CANONICALIZE = RuleTable("canonicalize", [
    Rule("pow_constant", "pow", _pow_const),
    Rule("div_by_power_of_two", "true_div", _div_by_power_of_two),
    Rule("log_exp", "log", _log_exp),
    Rule("exp_log", "exp", _exp_log),
    Rule("sub_constant", "sub", _sub_constant),
    Rule("collect_add_constants", "add", _collect("add", np.add)),
    Rule("collect_mul_constants", "mul", _collect("mul", np.multiply)),
    Rule("sigmoid_quotient", "true_div", _sigmoid_quotient),
    Rule("sigmoid_reciprocal", "reciprocal", _sigmoid_reciprocal),
    Rule("sigmoid_power", "pow", _sigmoid_power),
    Rule("mul_by_zero", "mul", _mul_by_zero),
    Rule("add_zeros", "add", _add_zeros),
    Rule("broadcast_zeros", BroadcastLike, _broadcast_zeros),
    Rule("unbroadcast_operand", Elemwise, _unbroadcast_operand),
])

# --------------------------------------------------------------------------- stabilize


def _log1p(node: Apply) -> Variable | None:
    """log(1 + x) -> log1p(x)."""
    x = _plus_one(node.inputs[0])
    return None if x is None else op("log1p")(x)


def _expm1(node: Apply) -> Variable | None:
    """exp(x) - 1 -> expm1(x), also as exp(x) + (-1) (what canonicalize makes of it)."""
    a, b = node.inputs
    if scalar_name(node) == "add" and is_constant(a, -1):
        a, b = b, a
    x = input_of(a, "exp")
    minus_one = -1 if scalar_name(node) == "add" else 1
    if x is None or not is_constant(b, minus_one):
        return None
    return op("expm1")(x)


def _one_minus(v: Variable) -> Variable | None:
    """x when `v` is 1 - x."""
    if scalar_name(v.owner) != "sub" or not is_constant(v.owner.inputs[0], 1):
        return None
    return v.owner.inputs[1]


def _log_sigmoid(node: Apply) -> Variable | None:
    """log(sigmoid(x)) -> -softplus(-x); log(1 - sigmoid(x)) -> -softplus(x)."""
    neg = op("neg")
    (v,) = node.inputs
    x = input_of(v, "sigmoid")
    if x is not None:
        return neg(softplus(_negated(x)))
    inner = _one_minus(v)
    x = input_of(inner, "sigmoid") if inner is not None else None
    if x is not None:
        return neg(softplus(x))
    return None


def _one_minus_sigmoid(node: Apply) -> Variable | None:
    """1 - sigmoid(x) -> sigmoid(-x): exact where the difference rounds to 0 (x > 37 in
    float64), so that log(1 - p) and a division by 1 - p stay finite."""
    inner = _one_minus(node.outputs[0])
    x = input_of(inner, "sigmoid") if inner is not None else None
    return None if x is None else op("sigmoid")(_negated(x))


def _log_div_exp(node: Apply) -> Variable | None:
    """log(exp(z) / b) -> z - log(b): log(softmax(x)) as x - max - log(sum(exp(...))),
    which never takes the log of an underflowed 0."""
    v = node.inputs[0]
    if scalar_name(v.owner) != "true_div":
        return None
    e, b = v.owner.inputs
    z = input_of(e, "exp")
    return None if z is None else op("sub")(z, op("log")(b))


def _is_max_shifted(z: Variable) -> bool:
    """Whether z is x - (something computed from a max of x): already stable."""
    if scalar_name(z.owner) != "sub":
        return False
    frontier, depth = [z.owner.inputs[1]], 0
    while frontier and depth < 4:
        owners = [v.owner for v in frontier if v.owner is not None]
        if any(isinstance(o.op, MaxMin) for o in owners):
            return True
        frontier = [v for o in owners for v in o.inputs]
        depth += 1
    return False


def _log_sum_exp(node: Apply) -> Variable | None:
    """log(sum(exp(x))) -> logsumexp(x) (the maximum subtracted first), also through the
    dimshuffle that keepdims adds."""
    v, keep = node.inputs[0], None
    if v.owner is not None and isinstance(v.owner.op, DimShuffle):
        keep, v = v.owner.op, v.owner.inputs[0]
    if v.owner is None or type(v.owner.op) is not Sum:
        return None
    x = input_of(v.owner.inputs[0], "exp")
    if x is None or not _is_float(x) or _is_max_shifted(x):
        return None
    out = logsumexp(x, axis=v.owner.op.axis)
    return keep(out) if keep is not None else out


def _quotient(v: Variable) -> tuple[Variable, Variable, bool] | None:
    """(a, p, negated) when `v` is a / p or -(a / p)."""
    negated = scalar_name(v.owner) == "neg"
    if negated:
        v = v.owner.inputs[0]
    if scalar_name(v.owner) != "true_div":
        return None
    a, p = v.owner.inputs
    return a, p, negated


def _cancel_division(node: Apply) -> Variable | None:
    """(a / p) * (p * c) -> a * c, (a / p) * (p / s) -> a / s, (a / p) * p -> a (either
    operand order, a negated quotient too): the gradient of log(f(x)) divides by f(x),
    and f's own gradient multiplies by it again."""
    for first, second in (node.inputs, node.inputs[::-1]):
        q = _quotient(first)
        if q is None:
            continue
        a, p, negated = q
        result = None
        if second is p:
            result = a
        elif scalar_name(second.owner) == "mul" and p in second.owner.inputs:
            u, w = second.owner.inputs
            result = op("mul")(a, w if u is p else u)
        elif scalar_name(second.owner) == "true_div" and second.owner.inputs[0] is p:
            result = op("true_div")(a, second.owner.inputs[1])
        if result is not None:
            return op("neg")(result) if negated else result
    return None


def _div_by_quotient(node: Apply) -> Variable | None:
    """(g / (e / s)) / s -> g / e (softmax's gradient: p = e / s)."""
    q, s = node.inputs
    if scalar_name(q.owner) != "true_div":
        return None
    g, p = q.owner.inputs
    if scalar_name(p.owner) != "true_div" or p.owner.inputs[1] is not s:
        return None
    return op("true_div")(g, p.owner.inputs[0])


def _distribute_over_quotient(node: Apply) -> Variable | None:
    """(a / e + b) * e -> a + b * e: exp's gradient (times e) of a sum holding a / e."""
    for total, e in (node.inputs, node.inputs[::-1]):
        if scalar_name(total.owner) != "add":
            continue
        for term, rest in (total.owner.inputs, total.owner.inputs[::-1]):
            q = _quotient(term)
            if q is not None and q[1] is e and not q[2]:
                return op("add")(q[0], op("mul")(rest, e))
    return None


STABILIZE = RuleTable("stabilize", [
    Rule("log1p", "log", _log1p),
    Rule("expm1", "sub", _expm1),
    Rule("expm1", "add", _expm1),
    Rule("log_sigmoid", "log", _log_sigmoid),
    Rule("one_minus_sigmoid", "sub", _one_minus_sigmoid),
    Rule("log_softmax", "log", _log_div_exp),
    Rule("logsumexp", "log", _log_sum_exp),
    Rule("cancel_division", "mul", _cancel_division),
    Rule("div_by_quotient", "true_div", _div_by_quotient),
    Rule("distribute_over_quotient", "mul", _distribute_over_quotient),
    Rule("simplify_product", "mul", simplify_product),
    Rule("distribute_quotients", "mul", distribute_quotients),
    Rule("sigmoid_complement", "add", sigmoid_complement),
    Rule("sigmoid_complement", "sub", sigmoid_complement),
])
