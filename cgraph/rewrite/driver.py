"""The one rewrite driver: pattern rules applied to a FunctionGraph until nothing changes.

A rule is a plain function `node -> replacement or None`: it looks at one node and
returns the variable(s) that compute the same values more cheaply (or more
stably), or None when it does not apply. Rules are grouped in a `RuleTable` that
indexes them by what they match (an elementwise op's name, an `Op` class, or
anything), and tables compose with `+`. `graph_rewrite` runs a table over the
graph in topological order, again and again, until a sweep changes nothing.

The driver, not the rules, guarantees that a replacement has exactly the type of
what it replaces (dtype and static shape): a rule whose result would change a
type simply does not fire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cgraph.graph.basic import Apply, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.tensor.elemwise import Elemwise, ScalarOp

Replacement = Variable | Sequence[Variable] | None
RuleFn = Callable[[Apply], Replacement]


@dataclass(frozen=True)
class Rule:
    """One pattern: `fn(node)` for nodes matching `match`.

    `match` is the name of an elementwise scalar op ("mul"), an `Op` subclass
    (matched with isinstance), or None for every node.
    """

    name: str
    match: str | type | None
    fn: RuleFn


def scalar_name(node: Apply | None) -> str | None:
    """The scalar op's name of a plain elementwise node (not a fused one), else None."""
    if node is None or not isinstance(node.op, Elemwise):
        return None
    scalar = node.op.scalar_op
    return scalar.name if isinstance(scalar, ScalarOp) else None


def input_of(v: Variable, name: str) -> Variable | None:
    """x when `v` is the output of the elementwise op `name` applied to x, else None."""
    if scalar_name(v.owner) == name:
        return v.owner.inputs[0]
    return None


class RuleTable:
    """An ordered collection of rules, looked up by the node they may match."""

    def __init__(self, name: str, rules: Sequence[Rule]):
        self.name = name
        self.rules = tuple(rules)
        self._by_name: dict[str, list[Rule]] = {}
        self._by_class: list[Rule] = []
        self._any: list[Rule] = []
        # (op class, scalar name) -> the rules that may fire: what rules_for depends on
        self._found: dict[tuple[type, str], tuple[Rule, ...]] = {}
        for r in self.rules:
            if isinstance(r.match, str):
                self._by_name.setdefault(r.match, []).append(r)
            elif r.match is None:
                self._any.append(r)
            else:
                self._by_class.append(r)

    def __add__(self, other: RuleTable) -> RuleTable:
        return RuleTable(f"{self.name}+{other.name}", self.rules + other.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def rules_for(self, node: Apply) -> tuple[Rule, ...]:
        """The rules that may fire on `node`, in table order (found once per op class
        and scalar op: a sweep asks for every node, a rewrite of the 50-layer chain
        8,000 times)."""
        key = (type(node.op), scalar_name(node) or "")
        found = self._found.get(key)
        if found is None:
            found = (*self._by_name.get(key[1], ()),
                     *(r for r in self._by_class if issubclass(key[0], r.match)), *self._any)
            self._found[key] = found
        return found


def _as_list(result: Any) -> list[Variable]:
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _keep_trace(node: Apply, var: Variable, live: set[int]) -> None:
    """A node made by a rule is reported at the user's line of the node it replaces."""
    owner = var.owner
    if owner is not None and id(owner) not in live and "trace" in node.tag:
        owner.tag["trace"] = node.tag["trace"]


def graph_rewrite(fgraph: FunctionGraph, table: RuleTable, max_sweeps: int = 100
                  ) -> dict[str, int]:
    """Apply `table` to `fgraph` in topological order until a sweep changes nothing.

    Returns
    -------
    dict
        How many times each rule fired.
    """
    fired: dict[str, int] = {}
    for _ in range(max_sweeps):
        changed = False
        order = fgraph.toposort()
        live = {id(n) for n in order}
        for node in order:
            if id(node) not in live:  # replaced earlier in this sweep
                continue
            for rule in table.rules_for(node):
                result = rule.fn(node)
                if result is None:
                    continue
                new = _as_list(result)
                if len(new) != len(node.outputs) or any(
                        n.type != o.type for n, o in zip(new, node.outputs)):
                    continue
                for old, var in zip(node.outputs, new):
                    if var is not old:
                        _keep_trace(node, var, live)
                        fgraph.replace(old, var)
                live.discard(id(node))
                fired[rule.name] = fired.get(rule.name, 0) + 1
                changed = True
                break
        if not changed:
            break
    return fired
