"""Reverse-mode differentiation over any graph whose ops define `grad`.

The core is one reversed loop over a toposort (as in micrograd). Variables here
only need `ones_like()`, `zeros_like()` and `+`, which tensor variables provide.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from cgraph.graph.basic import Variable, ancestors, toposort

_DISCONNECTED_POLICIES = ("raise", "warn", "ignore")


def _is_differentiable(v: Variable) -> bool:
    return getattr(v.type, "is_continuous", True)


def grad(
    cost: Variable,
    wrt: Variable | Sequence[Variable],
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
) -> Variable | list[Variable]:
    """Return the gradient of the scalar `cost` with respect to `wrt`.

    Parameters
    ----------
    cost : Variable
        A scalar (0-d) expression.
    wrt : Variable or list of Variable
        What to differentiate with respect to. A list in gives a list out.
    consider_constant : list of Variable, optional
        Expressions through which no gradient flows.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when `cost` does not depend on an element of `wrt`; with
        'warn' or 'ignore' its gradient is zeros.

    Returns
    -------
    Variable or list of Variable
        Symbolic gradients, each of the same type as its `wrt`.
    """
    if disconnected_inputs not in _DISCONNECTED_POLICIES:
        raise ValueError(f"disconnected_inputs must be one of {_DISCONNECTED_POLICIES}")
    if getattr(cost.type, "ndim", 0) != 0:
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

    nodes = toposort([cost], stop=constants)
    # Forward pass: which variables depend on some element of wrt.
    reaches = {id(w) for w in wrt_list}
    for node in nodes:
        if any(id(v) in reaches for v in node.inputs):
            reaches.update(id(o) for o in node.outputs)

    contributions: dict[int, list[Variable]] = {id(cost): [cost.ones_like()]}
    # Discrete values (comparisons, ints) the gradient reached: what they depend on
    # gets a zero gradient, as in Theano, rather than being called disconnected.
    discrete: list[Variable] = []
    for node in reversed(nodes):
        out_grads = [_total(contributions.get(id(o))) for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        discrete += [v for v in node.inputs if id(v) in reaches and not _is_differentiable(v)]
        if not any(id(v) in reaches and _is_differentiable(v) for v in node.inputs):
            continue
        out_grads = [o.zeros_like() if g is None else g for o, g in zip(node.outputs, out_grads)]
        in_grads = node.op.grad(list(node.inputs), out_grads)
        if len(in_grads) != len(node.inputs):
            raise ValueError(f"{node.op}.grad returned {len(in_grads)} gradients "
                             f"for {len(node.inputs)} inputs")
        for v, g in zip(node.inputs, in_grads):
            if g is None or id(v) not in reaches or not _is_differentiable(v):
                continue
            if g.type != v.type:
                raise TypeError(f"{node.op}.grad gave a gradient of type {g.type} "
                                f"for input {v!r} of type {v.type}")
            contributions.setdefault(id(v), []).append(g)

    behind_discrete = {id(v) for v in ancestors(discrete, stop=constants)}
    results = []
    for w in wrt_list:
        g = _total(contributions.get(id(w)))
        if g is None and id(w) in behind_discrete:
            g = w.zeros_like()
        elif g is None:
            g = _disconnected(w, disconnected_inputs)
        results.append(g)
    return results[0] if single else results


def _total(parts: list[Variable] | None) -> Variable | None:
    if not parts:
        return None
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _disconnected(w: Variable, policy: str) -> Variable:
    message = (f"grad: the cost does not depend on {w!r}; pass "
               "disconnected_inputs='ignore' to get zeros for it")
    if policy == "raise":
        raise ValueError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=3)
    return w.zeros_like()
