"""Reverse-mode differentiation over any graph whose ops define `grad`.

The core is one reversed loop over a toposort (as in micrograd). Variables here
only need `ones_like()`, `zeros_like()` and `+`, which tensor variables provide.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from cgraph.graph.basic import Type, Variable, ancestors, toposort
from cgraph.graph.gcpause import gc_paused

_DISCONNECTED_POLICIES = ("raise", "warn", "ignore")
_RETURN_DISCONNECTED = ("zero", "none", "disconnected")
_NULL_POLICIES = ("raise", "return")


class DisconnectedType(Type):
    """The type of the gradient wrt a variable the cost does not depend on
    (`grad(..., return_disconnected='disconnected')`)."""

    def __eq__(self, other: object) -> bool:
        return type(other) is DisconnectedType

    def __hash__(self) -> int:
        return hash("DisconnectedType")

    def __str__(self) -> str:
        return "disconnected"


class NullType(Type):
    """The type of an undefined gradient (`grad(..., null_gradients='return')`);
    `why` says which op has no gradient."""

    def __init__(self, why: str):
        self.why = why

    def __eq__(self, other: object) -> bool:
        return type(other) is NullType and other.why == self.why

    def __hash__(self) -> int:
        return hash(("NullType", self.why))

    def __str__(self) -> str:
        return f"null ({self.why})"


class UndefinedGradientError(NotImplementedError):
    """An op on the path from the cost to `wrt` has no gradient rule."""


def _is_differentiable(v: Variable) -> bool:
    return getattr(v.type, "is_continuous", True)


@gc_paused  # the new nodes join a large live graph: see cgraph/graph/gcpause.py
def grad(
    cost: Variable | None,
    wrt: Variable | Sequence[Variable],
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
    known_grads: Mapping[Variable, Any] | None = None,
    return_disconnected: str = "zero",
    null_gradients: str = "raise",
) -> Any:
    """Return the gradient of the scalar `cost` with respect to `wrt`.

    Parameters
    ----------
    cost : Variable or None
        A scalar (0-d) expression; None when `known_grads` gives the starting points.
    wrt : Variable or list of Variable
        What to differentiate with respect to. A list in gives a list out.
    consider_constant : list of Variable, optional
        Expressions through which no gradient flows.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when `cost` does not depend on an element of `wrt`.
    known_grads : dict, optional
        Variable -> its gradient, added to (or, without a cost, replacing) what
        flows back from the cost: backpropagation from the middle of a graph. No
        gradient flows back through an integer or bool variable (Theano's rule): what
        it depends on gets zeros, whether the gradient came from a cost or from here.
    return_disconnected : {'zero', 'none', 'disconnected'}
        The gradient returned for a disconnected `wrt` (when not raising): zeros,
        None, or a variable of `DisconnectedType`.
    null_gradients : {'raise', 'return'}
        When an op on the path has no gradient rule: raise `UndefinedGradientError`
        naming it, or return a variable of `NullType` for the `wrt` it reaches.

    Returns
    -------
    Variable or list of Variable
        Symbolic gradients, each of the same type as its `wrt`.
    """
    _check_choice("disconnected_inputs", disconnected_inputs, _DISCONNECTED_POLICIES)
    _check_choice("return_disconnected", return_disconnected, _RETURN_DISCONNECTED)
    _check_choice("null_gradients", null_gradients, _NULL_POLICIES)
    if cost is None and not known_grads:
        raise ValueError("grad: give a cost, or known_grads to start from")
    if cost is not None and getattr(cost.type, "ndim", 0) != 0:
        raise TypeError(
            f"grad: the cost must be a scalar, but {cost!r} has type {cost.type}; "
            "reduce it first (for example with sum or mean)"
        )
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must hold symbolic variables, got {type(w).__name__}")
    constants = list(consider_constant or ())

    contributions: dict[int, list[Variable]] = {}
    roots: list[Variable] = []
    if cost is not None:
        contributions[id(cost)] = [cost.ones_like()]
        roots.append(cost)
    for var, g in (known_grads or {}).items():
        g = _as_gradient(var, g)
        contributions.setdefault(id(var), []).append(g)
        roots.append(var)

    nodes = toposort(roots, stop=constants)
    # Forward pass: which variables depend on some element of wrt.
    reaches = {id(w) for w in wrt_list}
    for node in nodes:
        if any(id(v) in reaches for v in node.inputs):
            reaches.update(id(o) for o in node.outputs)

    # Discrete values (comparisons, ints) the gradient reached: what they depend on
    # gets a zero gradient, as in Theano, rather than being called disconnected.
    discrete: list[Variable] = []
    null: dict[int, str] = {}  # id(variable) -> why its gradient is undefined
    for node in reversed(nodes):
        out_grads = [_total(contributions.get(id(o))) for o in node.outputs]
        # No gradient flows back through a discrete output (an integer cast, even one
        # given a known gradient): what it depends on gets zeros, as in Theano.
        discrete += [o for o, g in zip(node.outputs, out_grads)
                     if g is not None and not _is_differentiable(o)]
        out_grads = [g if _is_differentiable(o) else None
                     for o, g in zip(node.outputs, out_grads)]
        if all(g is None for g in out_grads):
            why = next((null[id(o)] for o in node.outputs if id(o) in null), None)
            if why is not None:
                null.update({id(v): why for v in node.inputs})
            continue
        discrete += [v for v in node.inputs if id(v) in reaches and not _is_differentiable(v)]
        if not any(id(v) in reaches and _is_differentiable(v) for v in node.inputs):
            continue
        out_grads = [o.zeros_like() if g is None else g for o, g in zip(node.outputs, out_grads)]
        try:
            in_grads = node.op.grad(list(node.inputs), out_grads)
        except NotImplementedError as err:
            why = f"{node.op} has no gradient: {err}"
            if null_gradients == "raise":
                raise UndefinedGradientError(
                    f"grad: the gradient is undefined: {why} (node created at "
                    f"{node.tag.get('trace', '?')}); pass null_gradients='return' to "
                    "get a NullType gradient instead") from None
            null.update({id(v): why for v in node.inputs})
            continue
        if len(in_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.grad returned {len(in_grads)} gradients "
                             f"for {len(node.inputs)} inputs")
        for v, g in zip(node.inputs, in_grads):
            if g is None or id(v) not in reaches or not _is_differentiable(v):
                continue
            if not _compatible(g.type, v.type):
                raise TypeError(f"{node.op}.grad gave a gradient of type {g.type} "
                                f"for input {v!r} of type {v.type}")
            contributions.setdefault(id(v), []).append(g)

    behind_discrete = {id(v) for v in ancestors(discrete, stop=constants)}
    results = []
    for w in wrt_list:
        g = _total(contributions.get(id(w)))
        if g is None and id(w) in null:
            g = NullType(null[id(w)]).make_variable()
        elif g is None and id(w) in behind_discrete:
            g = w.zeros_like()
        elif g is None:
            g = _disconnected(w, disconnected_inputs, return_disconnected)
        results.append(g)
    return results[0] if single else results


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"grad: {name} must be one of {choices}, got {value!r}")


def _as_gradient(var: Variable, g: Any) -> Variable:
    """A known gradient, converted to the variable's type."""
    if not isinstance(g, Variable):
        g = var.zeros_like() + g
    if not _compatible(g.type, var.type):
        raise TypeError(f"grad: known gradient of {var!r} has type {g.type}, "
                        f"expected {var.type}")
    return g


def _compatible(a: Type, b: Type) -> bool:
    """Equal types, or tensor types of one dtype and rank whose known sizes agree."""
    if a == b:
        return True
    shape_a, shape_b = getattr(a, "shape", None), getattr(b, "shape", None)
    if shape_a is None or shape_b is None or getattr(a, "dtype", 0) != getattr(b, "dtype", 1):
        return False
    return len(shape_a) == len(shape_b) and all(
        m is None or n is None or m == n for m, n in zip(shape_a, shape_b))


def _total(parts: list[Variable] | None) -> Variable | None:
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _disconnected(w: Variable, policy: str, returned: str) -> Variable | None:
    message = (f"grad: the cost does not depend on {w!r}; pass "
               "disconnected_inputs='ignore' to get zeros for it")
    if policy == "raise":
        raise ValueError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=3)
    if returned == "none":
        return None
    if returned == "disconnected":
        return DisconnectedType().make_variable()
    return w.zeros_like()
