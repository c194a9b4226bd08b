"""Pickling and deep-copying graphs without recursion (cgraph.graph.basic's `Variable`
and `Apply` call these from `__reduce_ex__` and `__deepcopy__`).

A graph's depth is not bounded by Python's recursion limit: every walk here keeps a
stack of its own. This module imports nothing from cgraph at run time, so
cgraph.graph.basic can import it.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cgraph.graph.basic import Apply, Variable

__all__ = ["producers_first"]


def producers_first(node: Apply, skip: Callable[[Variable], bool]) -> list[Apply]:
    """`node` and the nodes it depends on, each after its inputs' producers, walked
    with a stack of its own (a graph's depth is not bounded by Python's recursion
    limit). The walk does not go past an input `u` for which `skip(u)` is true, nor
    past an input without a producer."""
    order: list[Apply] = []
    seen = {id(node)}
    stack = [(node, 0)]
    while stack:
        n, i = stack.pop()
        if i == len(n.inputs):
            order.append(n)
            continue
        stack.append((n, i + 1))
        u = n.inputs[i]
        parent = u.owner
        if parent is not None and id(parent) not in seen and not skip(u):
            seen.add(id(parent))
            stack.append((parent, 0))
    return order


class _Prelude(list):
    """Nodes to pickle first, producers before readers (see `_prelude`)."""


#: id(node) -> weak reference to the live prelude holding the node (which the prelude
#: keeps alive: no other object can have its id meanwhile)
_covered: dict[int, weakref.ref] = {}
#: id(reference) -> (the reference, its prelude's node ids), to forget them
_members: dict[int, tuple[weakref.ref, list[int]]] = {}


def _prelude(node: Apply) -> _Prelude | None:
    """The nodes `node` depends on (itself included), in `toposort` order, that no
    prelude being pickled holds yet; None when it is held already.

    Pickle saves an object's references before it can refer back to the object, so a
    node pickled with its inputs would nest once per level of the graph (Python's
    recursion limit). A variable or node pickles its prelude first: the nodes in
    order, each of which finds its inputs' producers pickled already, so nothing
    nests. The prelude lives as long as the pickler's memo (one `dumps`); while it
    lives, the nodes it holds pickle without one of their own.
    """
    if _held(node):
        return None
    order = _Prelude(producers_first(node, lambda u: _held(u.owner)))
    ref = weakref.ref(order, _forget)
    _members[id(ref)] = (ref, [id(n) for n in order])
    for n in order:
        _covered[id(n)] = ref
    return order


def _held(node: Apply) -> bool:
    ref = _covered.get(id(node))
    return ref is not None and ref() is not None


def _forget(ref: weakref.ref) -> None:
    for key in _members.pop(id(ref), (ref, []))[1]:
        if _covered.get(key) is ref:
            del _covered[key]


def _deepcopy_graph(node: Apply, memo: dict) -> None:
    """Deep-copy `node` and the nodes it depends on that `memo` has not copied yet.

    `copy.deepcopy` through `__reduce_ex__` would copy a node's inputs before the node,
    once per level (Python's recursion limit), and a variable reached both from its
    owner's outputs and from outside got two copies (`copy.deepcopy(y).owner.outputs[0]
    is not` the copy; a deep-copied Function failed its first call). Here every node
    and output gets its empty copy in `memo` first, then the attributes are copied
    producers first, so each reference finds its copy made."""
    order = producers_first(node, lambda u: id(u.owner) in memo)
    for n in order:
        for obj in (n, *n.outputs):
            memo[id(obj)] = type(obj).__new__(type(obj))
    for n in order:
        for obj in (n, *n.outputs):
            memo[id(obj)].__dict__.update(copy.deepcopy(vars(obj), memo))
    memo.setdefault(id(memo), []).extend(order)  # deepcopy's keep-alive list: ids stay taken


def _shell(prelude: Any, cls: type) -> Any:
    """An empty `cls` object; pickle then sets its attributes."""
    return cls.__new__(cls)
