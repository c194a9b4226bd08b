"""Which nodes a lazy `ifelse` lets us skip: guards computed from the graph alone.

A node's guard is an OR of ANDs of (ifelse node, branch) pairs: the node must run
when, for one of the AND-sets, every listed ifelse takes the listed branch. A node
needed whatever the conditions (by an output, or by a condition) has no guard. The
planner, which knows each condition's value, evaluates the guards; the C runs a
guarded kernel only when its guard holds, and `mode="PY"` evaluates the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cgraph.graph.basic import Apply, LazyOp, Variable

#: an AND-set: (id of an ifelse node, branch) pairs; the empty set is "always".
Conjunction = frozenset[tuple[int, int]]
_ALWAYS: Conjunction = frozenset()
_MAX_TERMS = 16


def branch_of(node: Apply, position: int) -> int:
    """The branch input `position` of `node` belongs to: the op's `branch_of` for a
    `LazyOp` (0 then, 1 else, -1 the condition), -1 for any other op."""
    return node.op.branch_of(position) if isinstance(node.op, LazyOp) else -1


def guards(outputs: Sequence[Variable], nodes: Sequence[Apply]
           ) -> dict[int, tuple[Conjunction, ...]]:
    """id(node) -> its guard, for the nodes that can be skipped (the others: absent)."""
    if not any(isinstance(n.op, LazyOp) for n in nodes):
        return {}
    reasons: dict[int, set[Conjunction]] = {id(v): {_ALWAYS} for v in outputs}
    result: dict[int, tuple[Conjunction, ...]] = {}
    for node in reversed(nodes):
        mine: set[Conjunction] = set()
        for out in node.outputs:
            mine |= reasons.get(id(out), set())
        if not mine or _ALWAYS in mine:
            mine = {_ALWAYS}
        else:
            result[id(node)] = tuple(sorted(mine, key=sorted))
        for position, v in enumerate(node.inputs):
            branch = branch_of(node, position)
            add = mine if branch < 0 else {r | {(id(node), branch)} for r in mine}
            have = reasons.setdefault(id(v), set())
            have |= add
            if _ALWAYS in have or len(have) > _MAX_TERMS:
                reasons[id(v)] = {_ALWAYS}
    return result


def holds(guard: tuple[Conjunction, ...], taken: Callable[[int], int]) -> bool:
    """Whether a guard holds, given `taken(id(ifelse node)) -> branch`."""
    return any(all(taken(node) == branch for node, branch in term) for term in guard)
