"""The `updates` of `function`: (shared variable, new value) pairs, checked, and the
`default_update`s of the shared variables a graph reads."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.compile.shared import SharedVariable
from cgraph.graph.basic import Variable, graph_inputs
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["default_updates", "update_pairs"]


def update_pairs(updates: Any) -> list[tuple[SharedVariable, TensorVariable]]:
    if updates is None:
        return []
    items = list(updates.items()) if isinstance(updates, dict) else list(updates)
    pairs = []
    seen = set()
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"updates must be (shared variable, expression) pairs, got {item!r}")
        target, value = item
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


def default_updates(computed: list[Variable], explicit: list, no_default_updates: Any
                     ) -> list[tuple[SharedVariable, TensorVariable]]:
    """(shared, default_update) for the shared variables the graph uses that have one,
    unless updated explicitly or excluded by `no_default_updates` (True or a list)."""
    if no_default_updates is True:
        return []
    excluded = {id(v) for v in (no_default_updates or ())}
    excluded |= {id(t) for t, _ in explicit}
    found = []
    for v in graph_inputs(computed):
        update = getattr(v, "default_update", None)
        if isinstance(v, SharedVariable) and update is not None and id(v) not in excluded:
            found.append((v, update))
            excluded.add(id(v))
    return update_pairs(found)
