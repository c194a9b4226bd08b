"""Canonical forms and numerically stable forms, as pattern tables.

Each rule reads like the algebra it applies (`pow(x, 2) -> x * x`). Stabilizing
rules target ops that may not exist yet in the op library (log1p, expm1,
softplus): they look the op up when they run and do nothing without it.
"""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.rewrite.basic import is_constant
from cgraph.rewrite.driver import Rule, RuleTable, scalar_name
from cgraph.tensor.math import ELEMENTWISE


def op(name: str):
    """The elementwise op `name` of the table, or None when the library lacks it."""
    return ELEMENTWISE.get(name)


def _is_float(v: Variable) -> bool:
    return v.type.dtype.startswith("float")


def _input_of(v: Variable, name: str) -> Variable | None:
    """x when `v` is `name(x)`."""
    if scalar_name(v.owner) == name:
        return v.owner.inputs[0]
    return None


def _const_like(x: Variable, value: float) -> np.ndarray:
    return np.asarray(value, dtype=x.type.dtype)


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
    x = _input_of(node.inputs[0], "exp")
    return x if x is not None and _is_float(x) else None


CANONICALIZE = RuleTable("canonicalize", [
    Rule("pow_constant", "pow", _pow_const),
    Rule("div_by_power_of_two", "true_div", _div_by_power_of_two),
    Rule("log_exp", "log", _log_exp),
])

# --------------------------------------------------------------------------- stabilize


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


def _log1p(node: Apply) -> Variable | None:
    """log(1 + x) -> log1p(x)."""
    x = _plus_one(node.inputs[0])
    if x is None or op("log1p") is None:
        return None
    return op("log1p")(x)


def _expm1(node: Apply) -> Variable | None:
    """exp(x) - 1 -> expm1(x)."""
    a, b = node.inputs
    x = _input_of(a, "exp")
    if x is None or not is_constant(b, 1) or op("expm1") is None:
        return None
    return op("expm1")(x)


def _one_minus(v: Variable) -> Variable | None:
    """x when `v` is 1 - x."""
    if scalar_name(v.owner) != "sub" or not is_constant(v.owner.inputs[0], 1):
        return None
    return v.owner.inputs[1]


def _log_sigmoid(node: Apply) -> Variable | None:
    """log(sigmoid(x)) -> -softplus(-x); log(1 - sigmoid(x)) -> -softplus(x)."""
    softplus, neg = op("softplus"), op("neg")
    if softplus is None:
        return None
    (v,) = node.inputs
    x = _input_of(v, "sigmoid")
    if x is not None:
        return neg(softplus(neg(x)))
    inner = _one_minus(v)
    x = _input_of(inner, "sigmoid") if inner is not None else None
    if x is not None:
        return neg(softplus(x))
    return None


STABILIZE = RuleTable("stabilize", [
    Rule("log1p", "log", _log1p),
    Rule("expm1", "sub", _expm1),
    Rule("log_sigmoid", "log", _log_sigmoid),
])
