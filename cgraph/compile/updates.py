"""The `updates` of `function`: (shared variable, new value) pairs, checked, and the
`default_update`s of the shared variables a graph reads."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.compile.shared import SharedVariable
from cgraph.graph.basic import Variable, graph_inputs
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["as_pairs", "default_updates", "update_pairs"]


def as_pairs(items: Any, what: str) -> list[tuple[Any, Any]]:
    """`items` (a dict, or a sequence of 2-item tuples or lists) as a list of pairs;
    anything else raises TypeError("`what`, got <item>")."""
    items = list(items.items()) if isinstance(items, dict) else list(items)
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"{what}, got {item!r}")
    return [tuple(item) for item in items]


def update_pairs(updates: Any) -> list[tuple[SharedVariable, TensorVariable]]:
    """The `updates` of `function`, checked: each target a shared variable updated once,
    each value of its rank and of a dtype it holds without loss (cast to it)."""
    if updates is None:
        return []
    pairs = []
    seen = set()
    for target, value in as_pairs(updates, "updates must be (shared variable, expression) "
                                  "pairs"):
        if not isinstance(target, SharedVariable):
            raise TypeError(f"update target {target!r} is not a shared variable")
        if id(target) in seen:
            raise ValueError(f"shared variable {target!r} is updated twice")
        seen.add(id(target))
        value = as_tensor_variable(value)
        if value.ndim != target.ndim:
            raise TypeError(f"the update of {target!r} ({target.type}) has type {value.type}: "
                            "ranks differ")
        if value.dtype != target.dtype:
            if not np.can_cast(value.dtype, target.dtype, casting="safe"):
                raise TypeError(
                    f"the update of {target!r} ({target.type}) has dtype {value.dtype}, "
                    f"which {target.dtype} cannot hold without loss: cast the expression "
                    f"(T.cast(expr, {target.dtype!r})) or compute it in {target.dtype}")
            value = value.astype(target.dtype)
        pairs.append((target, value))
    return pairs


def default_updates(computed: list[Variable], explicit: list, no_default_updates: Any,
                    leaves: list[Variable] | None = None
                    ) -> list[tuple[SharedVariable, TensorVariable]]:
    """(shared, default_update) for the shared variables the graph uses that have one,
    unless updated explicitly or excluded by `no_default_updates` (True or a list).
    `leaves`: `graph_inputs(computed)` when the caller has it."""
    if no_default_updates is True:
        return []
    excluded = {id(v) for v in (no_default_updates or ())}
    excluded |= {id(t) for t, _ in explicit}
    found = []
    for v in graph_inputs(computed) if leaves is None else leaves:
        update = getattr(v, "default_update", None)
        if isinstance(v, SharedVariable) and update is not None and id(v) not in excluded:
            found.append((v, update))
            excluded.add(id(v))
    return update_pairs(found)
