"""Elementwise fusion: each connected group of elementwise nodes becomes one loop.

Groups grow from a consumer towards its producers (consumers are visited first),
and from a member to its other readers (siblings sharing an input). A node joins
when

* it is a plain elementwise node (not already in a group),
* its output has the group's broadcast pattern (so that fusing never recomputes a
  small intermediate once per element of a bigger loop),
* a lazy ifelse skips it exactly when it skips the group (same guard), and
* the group stays convex: no path leaves the group and comes back into it
  (that would make the fused node depend on itself).

A member whose result is also read outside the group (or is a function output)
becomes one more output of the fused node. The result is one `FusedElemwise`
node whose `Composite` lists the original ops; codegen turns it into one C loop
with one statement per original op.
"""

from __future__ import annotations

import os

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.lazy import guards
from cgraph.rewrite.driver import scalar_name
from cgraph.tensor.elemwise import Composite, CompositeStep, FusedElemwise, FusedSum
from cgraph.tensor.reduce import Sum


def fusable(node: Apply) -> bool:
    """Whether `node` may join a fusion group (a plain, single-output elementwise op)."""
    return scalar_name(node) is not None


class _Graph:
    """Clients and topological positions of the graph's nodes."""

    def __init__(self, fgraph: FunctionGraph):
        self.nodes = fgraph.toposort()
        self.position = {id(n): i for i, n in enumerate(self.nodes)}
        self.clients: dict[int, list[Apply]] = {}
        for node in self.nodes:
            for v in node.inputs:
                self.clients.setdefault(id(v), []).append(node)
        self.outputs = {id(v) for v in fgraph.outputs}
        # Nodes that a lazy ifelse may skip: fused only with nodes skipped alike.
        self.guards = guards(fgraph.outputs, self.nodes)
        # Nodes whose result only a full sum reads: their groups stay single-output,
        # so that `fuse_sums` can then compute the sum in the same loop.
        self.sum_roots = {id(n) for n in self.nodes if fusable(n) and _summed_only(n, self)}

    def readers(self, node: Apply) -> list[Apply]:
        return [c for v in node.outputs for c in self.clients.get(id(v), ())]

    def reaches(self, start: list[Apply], targets: set[int], groups: dict[int, list[Apply]]
                ) -> bool:
        """Whether some node in `start` has a descendant (or is one) in `targets`.

        Nodes of the groups formed so far count as one node each (`groups` maps a
        member to its group): they will be one fused node, so a path into any of
        them continues from all of them.
        """
        stack = list(start)
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in targets:
                return True
            if id(node) in seen:
                continue
            seen.add(id(node))
            for member in groups.get(id(node), [node]):
                seen.add(id(member))
                stack.extend(self.readers(member))
        return False


def _summable(v: Variable, reader: Apply) -> bool:
    """Whether `reader` sums `v` over every axis, in v's (float) dtype."""
    return (isinstance(reader.op, Sum) and len(reader.op.axis) == v.ndim
            and v.dtype in ("float32", "float64") and reader.outputs[0].dtype == v.dtype)


def _summed_only(node: Apply, graph: _Graph) -> bool:
    out = node.outputs[0]
    readers = graph.clients.get(id(out), [])
    return (id(out) not in graph.outputs and len(readers) == 1
            and _summable(out, readers[0]))


def _joins(candidate: Apply, root: Apply, members: set[int], graph: _Graph, groups: dict
           ) -> bool:
    if id(root) in graph.sum_roots:  # only producers that nothing else reads
        if any(id(c) not in members for c in graph.readers(candidate)):
            return False
    return (id(candidate) not in members and id(candidate) not in groups
            and id(candidate) not in graph.sum_roots
            and fusable(candidate)
            and candidate.outputs[0].type.broadcastable == root.outputs[0].type.broadcastable
            and graph.guards.get(id(candidate)) == graph.guards.get(id(root)))


def _grow(root: Apply, graph: _Graph, groups: dict[int, list[Apply]]) -> list[Apply]:
    """The fusion group of `root`: producers (and their other readers) added while
    the rules above allow."""
    pattern = root.outputs[0].type.broadcastable
    members = {id(root)}
    group = [root]
    frontier = [root]

    def add(node: Apply) -> None:
        members.add(id(node))
        group.append(node)
        frontier.append(node)

    def convex_with(node: Apply) -> bool:
        """No path node -> outside -> member, nor member -> outside -> node."""
        if graph.reaches([c for c in graph.readers(node) if id(c) not in members],
                         members, groups):
            return False
        outside = [r for m in group for r in graph.readers(m)
                   if id(r) not in members and r is not node]
        return not graph.reaches(outside, {id(node)}, groups)

    while frontier:
        node = frontier.pop()
        producers = [v.owner for v in node.inputs if v.owner is not None]
        # Readers of its result, and of the same full-size arrays (siblings).
        shared = [v for v in node.inputs
                  if not isinstance(v, Constant) and v.type.broadcastable == pattern]
        readers = graph.readers(node) + [c for v in shared for c in graph.clients.get(id(v), ())]
        for candidate in producers + readers:
            if _joins(candidate, root, members, graph, groups) and convex_with(candidate):
                add(candidate)
    return group


def _note(node: Apply) -> str:
    trace = node.tag.get("trace", "")
    where = ""
    if trace:
        path, _, line = trace.rpartition(":")
        where = f" at {os.path.basename(path)}:{line}"
    return f"{scalar_name(node)}{where}"


def _fuse(group: list[Apply], graph: _Graph) -> tuple[Apply, list[Variable]]:
    """Build the fused node of `group`; return it and the variables it replaces."""
    group = sorted(group, key=lambda n: graph.position[id(n)])
    members = {id(n) for n in group}
    number: dict[int, int] = {}
    inputs: list[Variable] = []
    for node in group:
        for v in node.inputs:
            if (v.owner is None or id(v.owner) not in members) and id(v) not in number:
                number[id(v)] = len(inputs)
                inputs.append(v)
    steps = []
    for node in group:
        out = node.outputs[0]
        steps.append(CompositeStep(node.op.scalar_op, tuple(number[id(v)] for v in node.inputs),
                                   out.type.dtype, _note(node)))
        number[id(out)] = len(inputs) + len(steps) - 1
    replaced = [n.outputs[0] for n in group
                if id(n.outputs[0]) in graph.outputs
                or any(id(c) not in members for c in graph.readers(n))]
    comp = Composite(tuple(v.type.dtype for v in inputs), tuple(steps),
                     tuple(number[id(v)] for v in replaced))
    return FusedElemwise(comp).make_node(*inputs), replaced


def fuse_elementwise(fgraph: FunctionGraph) -> dict[str, int]:
    """Replace every group of two or more connected elementwise nodes by one node,
    then each full sum of an elementwise result by one loop (`fuse_sums`)."""
    graph = _Graph(fgraph)
    groups: dict[int, list[Apply]] = {}
    mapping: dict[int, Variable] = {}
    new_nodes: list[Apply] = []
    fused_ops = 0
    # Summed results first: their producers then join their single-output groups.
    roots = sorted(reversed(graph.nodes), key=lambda n: id(n) not in graph.sum_roots)
    for node in roots:
        if id(node) in groups or not fusable(node):
            continue
        group = _grow(node, graph, groups)
        for member in group:
            groups[id(member)] = group
        if len(group) < 2:
            continue
        fused, replaced = _fuse(group, graph)
        for old, new in zip(replaced, fused.outputs):
            if old.type != new.type:  # cannot happen: same broadcasting rule
                raise AssertionError(f"fusion changed the type of {old!r}: {new.type}")
            mapping[id(old)] = new
        new_nodes.append(fused)
        fused_ops += len(group)
    if not mapping:
        return fuse_sums(fgraph)
    for node in graph.nodes + new_nodes:
        node.inputs = [mapping.get(id(v), v) for v in node.inputs]
    fgraph.outputs = [mapping.get(id(v), v) for v in fgraph.outputs]
    _check_acyclic(fgraph)
    return {"fused_groups": len(new_nodes), "fused_ops": fused_ops, **fuse_sums(fgraph)}


def _check_acyclic(fgraph: FunctionGraph) -> None:
    """Every node after the nodes it reads (a cycle would break this)."""
    done: set[int] = {id(v) for v in fgraph.inputs}
    for node in fgraph.toposort():
        for v in node.inputs:
            if v.owner is not None and id(v) not in done:
                raise AssertionError(f"fusion made a cycle through {node.op}")
        done.update(id(v) for v in node.outputs)


def _single_step(node: Apply) -> Composite:
    """A plain elementwise node as a one-step Composite."""
    out = node.outputs[0]
    n = len(node.inputs)
    step = CompositeStep(node.op.scalar_op, tuple(range(n)), out.type.dtype, _note(node))
    return Composite(tuple(v.type.dtype for v in node.inputs), (step,), (n,))


def fuse_sums(fgraph: FunctionGraph) -> dict[str, int]:
    """sum(elementwise(...)) over every axis becomes one loop accumulating the sum:
    the elementwise result is never stored."""
    clients = fgraph.clients()
    outputs = {id(v) for v in fgraph.outputs}
    fused = 0
    for node in fgraph.toposort():
        if not isinstance(node.op, Sum):
            continue
        (v,) = node.inputs
        producer = v.owner
        if (producer is None or id(v) in outputs or len(clients.get(id(v), ())) != 1
                or not _summable(v, node)):
            continue
        if isinstance(producer.op, FusedElemwise) and len(producer.outputs) == 1:
            comp = producer.op.scalar_op
        elif fusable(producer):
            comp = _single_step(producer)
        else:
            continue
        new = FusedSum(comp).make_node(*producer.inputs)
        new.tag = dict(node.tag)
        fgraph.replace(node.outputs[0], new.outputs[0])
        fused += 1
    return {"fused_sums": fused} if fused else {}
