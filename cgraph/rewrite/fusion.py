"""Elementwise fusion: each connected group of elementwise nodes becomes one loop (of
at most `MAX_FUSED_OPS` ops).

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

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.lazy import guards
from cgraph.rewrite.driver import scalar_name
from cgraph.rewrite.epilogues import gemm_epilogues, reduce_epilogues
from cgraph.tensor.elemwise import Composite, CompositeStep, FusedElemwise, FusedSum
from cgraph.tensor.fused_sum_to import FusedSumTo
from cgraph.tensor.reduce import Sum, SumTo


def fusable(node: Apply) -> bool:
    """Whether `node` may join a fusion group (a plain, single-output elementwise op)."""
    return scalar_name(node) is not None


class _Graph:
    """Readers, topological positions and reachability of the graph's nodes.

    Reachability is kept as bit matrices over positions (numpy, packed): row i of
    `desc` has the bit of every node that a path from node i reaches, row i of `anc`
    of every node with a path to node i. A group that has been formed counts as one
    node (it will be one fused node): `contract` adds, to every node that reaches a
    member, what the members reach, and the same for ancestors. A convexity test is
    then a few bitwise ANDs of rows instead of a search of the graph.

    The positions are cut in windows of WINDOW consecutive ones, and a row holds the
    bits of its own window only: a path between two nodes of a window passes through
    positions between theirs, so inside a window the rows are exact, and a group
    stays in one window. The matrices take n x WINDOW / 4 bytes rather than n * n / 4
    (36,000 nodes: 18 MB, not 324 MB) and each test costs a window, not the graph.
    """

    #: Positions per window (a multiple of 8).
    WINDOW = 4096

    def __init__(self, fgraph: FunctionGraph):
        self.nodes = fgraph.toposort()
        self.position = {id(n): i for i, n in enumerate(self.nodes)}
        self.clients: dict[int, list[Apply]] = {}
        # (id(v), window) -> v's readers in that window: a group looks for siblings in
        # its own window only (an input that every layer reads, such as the chain's x,
        # has readers in every window: scanning them all per group was quadratic).
        self._window_clients: dict[tuple[int, int], list[Apply]] = {}
        for i, node in enumerate(self.nodes):
            for v in node.inputs:
                self.clients.setdefault(id(v), []).append(node)
                self._window_clients.setdefault((id(v), i // self.WINDOW), []).append(node)
        self._readers = {id(n): [c for v in n.outputs for c in self.clients.get(id(v), ())]
                         for n in self.nodes}
        self.outputs = {id(v) for v in fgraph.outputs}
        # Nodes that a lazy ifelse may skip: fused only with nodes skipped alike.
        self.guards = guards(fgraph.outputs, self.nodes)
        # Nodes whose result only a full sum reads: their groups stay single-output,
        # so that `fuse_sums` can then compute the sum in the same loop.
        self.sum_roots = {id(n) for n in self.nodes if fusable(n) and _summed_only(n, self)}
        n = len(self.nodes)
        self.width = min(n, self.WINDOW)
        self.desc = np.zeros((n, (self.width + 7) // 8), np.uint8)
        self.anc = np.zeros_like(self.desc)
        self._stamp = np.zeros(n, np.int64)  # a row's version: bumped when it changes
        self._desc_rows: dict[int, tuple[int, int]] = {}
        self._anc_rows: dict[int, tuple[int, int]] = {}
        for i in range(n - 1, -1, -1):
            for r in self._readers[id(self.nodes[i])]:
                j = self.position[id(r)]
                if self.window(j) == self.window(i):
                    self.desc[i] |= self.desc[j]
                    self.set_bit(self.desc[i], j % self.WINDOW)
        for i, node in enumerate(self.nodes):
            for v in node.inputs:
                j = self.position.get(id(v.owner), -1) if v.owner is not None else -1
                if j >= 0 and self.window(j) == self.window(i):
                    self.anc[i] |= self.anc[j]
                    self.set_bit(self.anc[i], j % self.WINDOW)

    def window(self, i: int) -> int:
        """The window of position i."""
        return i // self.WINDOW

    def window_of(self, node: Apply) -> int:
        return self.position[id(node)] // self.WINDOW

    def readers(self, node: Apply) -> list[Apply]:
        return self._readers.get(id(node), [])

    def readers_in(self, v: Variable, window: int) -> list[Apply]:
        """The nodes of `window` that read `v`."""
        return self._window_clients.get((id(v), window), [])

    @staticmethod
    def set_bit(row: np.ndarray, i: int) -> None:
        row[i >> 3] |= 1 << (i & 7)

    def bit(self, node: Apply, window: int) -> int:
        """The node's bit in `window`'s bitsets (0 outside it: a node of a later window
        cannot reach back into this one, nor an earlier one be reached from it)."""
        i = self.position[id(node)]
        return 1 << (i % self.WINDOW) if i // self.WINDOW == window else 0

    def _row(self, matrix: np.ndarray, cache: dict, i: int) -> int:
        """Row i of `matrix` as a Python int (cached until `contract` changes the row)."""
        stamp = int(self._stamp[i])
        hit = cache.get(i)
        if hit is None or hit[0] != stamp:
            hit = (stamp, int.from_bytes(matrix[i].tobytes(), "little"))
            cache[i] = hit
        return hit[1]

    def reaches(self, start: list[Apply], targets: int, window: int) -> bool:
        """Whether some node in `start` is, or has a descendant, in the bitset `targets`
        of `window`."""
        for node in start:
            i = self.position[id(node)]
            if i // self.WINDOW != window:
                continue  # a later window: nothing there reaches back
            if (1 << (i % self.WINDOW) | self._row(self.desc, self._desc_rows, i)) & targets:
                return True
        return False

    def reaches_into(self, start: int, node: Apply) -> bool:
        """Whether some node of the bitset `start` (of `node`'s window), other than
        `node`, reaches `node`."""
        i = self.position[id(node)]
        return bool(start & ~(1 << (i % self.WINDOW)) & self._row(self.anc, self._anc_rows, i))

    def contract(self, group: list[Apply]) -> None:
        """Make the formed `group` one node for reachability."""
        rows = np.array([self.position[id(m)] for m in group])
        base = int(rows[0]) // self.WINDOW * self.WINDOW
        if any(int(i) // self.WINDOW != base // self.WINDOW for i in rows):
            raise AssertionError("a fusion group spans two reachability windows")
        members = np.zeros(self.desc.shape[1], np.uint8)
        for i in rows:
            self.set_bit(members, int(i) - base)
        below = members | np.bitwise_or.reduce(self.desc[rows], axis=0)
        above = members | np.bitwise_or.reduce(self.anc[rows], axis=0)
        n = min(len(self.nodes) - base, self.WINDOW)
        reach_members = base + np.flatnonzero(np.unpackbits(above, bitorder="little")[:n])
        reached = base + np.flatnonzero(np.unpackbits(below, bitorder="little")[:n])
        self.desc[reach_members] |= below
        self.anc[reached] |= above
        self._stamp[reach_members] += 1
        self._stamp[reached] += 1


def _sum_to_axes(v: Variable, reader: Apply) -> tuple[int, ...] | None:
    """The axes `reader` = SumTo(v, like) sums, when the types alone decide them (like
    has length 1 there and v's other lengths): the output is v's shape with 1s there."""
    if not isinstance(reader.op, SumTo) or reader.op.runtime or reader.inputs[0] is not v:
        return None
    like = reader.inputs[1].type.shape
    axes = reader.op.static_axes(reader)
    kept = tuple(1 if a in axes else n for a, n in enumerate(v.type.shape))
    return axes if axes and kept == like else None


def _summable(v: Variable, reader: Apply) -> bool:
    """Whether `reader` sums `v` over some of its axes (a Sum, or a SumTo of axes its
    types decide), in v's (float) dtype."""
    if v.dtype not in ("float32", "float64") or reader.outputs[0].dtype != v.dtype:
        return False
    if isinstance(reader.op, Sum):
        return len(reader.op.axis) > 0
    return _sum_to_axes(v, reader) is not None


def _summed_only(node: Apply, graph: _Graph) -> bool:
    out = node.outputs[0]
    readers = graph.clients.get(id(out), [])
    return (id(out) not in graph.outputs and len(readers) == 1
            and _summable(out, readers[0]))


#: The most elementwise ops one fused loop computes. Without a limit a 250-layer
#: elementwise chain with its gradient (5,500 nodes) made three loops, one of 4,000
#: statements and 1.2 MB of C (a group only ends at a reachability window's 4,096
#: positions): gcc took 4.2 s of CPU in one process and the loops ran at 1.5 ns per op
#: and element (200k elements: 1.70 s a call; the loop's values no longer fit in
#: registers). With 64: 77 loops, 3.1 s of gcc CPU over two units, 0.58-0.64 s a call;
#: 32: 1.8 s, 0.51-0.62 s; 16: 1.7 s, 1.03 s (benchmarks/compile_scale.py's elementwise
#: chain, load 4-5). A group this long costs one store and one load per 64 ops.
MAX_FUSED_OPS = 64


def _may_join(candidate: Apply, root: Apply, graph: _Graph, groups: dict) -> bool:
    """The rules that do not change while `root`'s group grows."""
    key = id(candidate)
    return (key not in groups and key not in graph.sum_roots and fusable(candidate)
            and graph.window_of(candidate) == graph.window_of(root)
            and candidate.outputs[0].type.broadcastable == root.outputs[0].type.broadcastable
            and graph.guards.get(key) == graph.guards.get(id(root)))


def _read_inside(candidate: Apply, root: Apply, members: set[int], graph: _Graph) -> bool:
    """A group whose root is summed takes only producers that nothing else reads."""
    return id(root) not in graph.sum_roots or all(
        id(c) in members for c in graph.readers(candidate))


def _grow(root: Apply, graph: _Graph, groups: dict[int, list[Apply]]) -> list[Apply]:
    """The fusion group of `root`: producers (and their other readers) added while
    the rules above allow."""
    pattern = root.outputs[0].type.broadcastable
    members: set[int] = set()
    group: list[Apply] = []
    frontier: list[Apply] = []
    window = graph.window_of(root)
    inside = [0]   # bitset of the members
    outside = [0]  # bitset of the nodes that read a member and are not one

    def add(node: Apply) -> None:
        members.add(id(node))
        group.append(node)
        frontier.append(node)
        inside[0] |= graph.bit(node, window)
        outside[0] &= ~graph.bit(node, window)
        for r in graph.readers(node):
            if id(r) not in members:
                outside[0] |= graph.bit(r, window)

    add(root)

    def convex_with(node: Apply) -> bool:
        """No path node -> outside -> member, nor member -> outside -> node."""
        if graph.reaches([c for c in graph.readers(node) if id(c) not in members], inside[0],
                         window):
            return False
        return not graph.reaches_into(outside[0], node)

    never: set[int] = set()        # candidates the rules that do not change refuse
    refused_at: dict[int, int] = {}  # candidate -> group size when it was last refused
    while frontier:
        node = frontier.pop()
        producers = [v.owner for v in node.inputs if v.owner is not None]
        # Readers of its result, and of the same full-size arrays (siblings).
        shared = [v for v in node.inputs
                  if not isinstance(v, Constant) and v.type.broadcastable == pattern]
        readers = graph.readers(node) + [c for v in shared for c in graph.readers_in(v, window)]
        for candidate in producers + readers:
            key = id(candidate)
            if len(group) >= MAX_FUSED_OPS:
                return group  # full: the rest starts groups of its own
            if key in members or key in never or refused_at.get(key) == len(group):
                continue  # already in, never, or refused by this very group
            if not _may_join(candidate, root, graph, groups):
                never.add(key)
            elif _read_inside(candidate, root, members, graph) and convex_with(candidate):
                add(candidate)
            else:
                refused_at[key] = len(group)
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


#: A broadcast intermediate is recomputed by each reader when it takes at most this many
#: elementwise ops from operands smaller than itself.
MAX_RECOMPUTED_OPS = 8


def _expands(node: Apply) -> bool:
    """Whether some input of `node` broadcasts along an axis its output does not."""
    out = node.outputs[0].type.shape
    return any(any(m == 1 and n != 1 for m, n in zip(v.type.shape, out))
               for v in node.inputs if v.ndim == len(out))


def _recompute_costs(nodes: list[Apply]) -> dict[int, int]:
    """For each elementwise result (by id) that can be recomputed: the number of
    elementwise ops that compute it from operands smaller than it (or constants), at
    most MAX_RECOMPUTED_OPS. Results that read an operand of their own size that is
    stored anyway are left out. `nodes` in topological order."""
    cost: dict[int, int] = {}
    for node in nodes:
        v = node.outputs[0]
        if not fusable(node) or v.dtype == "bool":
            continue
        total = 1
        for u in node.inputs:
            if isinstance(u, Constant) or u.type.shape != v.type.shape:
                continue  # smaller (broadcast) or a constant: read as it is
            if id(u) not in cost:
                break
            total += cost[id(u)]
        else:
            if (_expands(node) or total > 1) and total <= MAX_RECOMPUTED_OPS:
                cost[id(v)] = total  # a plain copy of a stored array saves nothing
    return cost


def recompute_broadcasts(fgraph: FunctionGraph) -> int:
    """Give each reader its own copy of a cheap broadcast intermediate (an elementwise
    result computed in a few ops from operands smaller than it, such as the product
    of a column and a row) when every reader is elementwise or a sum: each reader's
    loop then computes it, and no array of the broadcast shape is stored."""
    outputs = {id(v) for v in fgraph.outputs}
    nodes = fgraph.toposort()
    cost = _recompute_costs(nodes)
    copies = 0
    for node in reversed(nodes):
        clients = fgraph.clients()
        v = node.outputs[0] if len(node.outputs) == 1 else None
        readers = clients.get(id(v), []) if v is not None else []
        if (len(readers) < 2 or id(v) in outputs or id(v) not in cost
                or not all(fusable(r) or _summable(v, r) for r, _ in readers)):
            continue
        distinct = list({id(r): r for r, _ in readers}.values())
        if len(distinct) < 2:
            continue
        for reader in distinct[1:]:  # mul(v, v) reads one copy twice
            copy = node.op.make_node(*node.inputs).outputs[0]
            reader.inputs = [copy if u is v else u for u in reader.inputs]
            copies += 1
        fgraph.changed()
    return copies


def fuse_elementwise(fgraph: FunctionGraph) -> dict[str, int]:
    """Replace every group of two or more connected elementwise nodes by one node,
    then each full sum of an elementwise result by one loop (`fuse_sums`), and give
    each product or reduction read by one elementwise loop that loop as its epilogue
    (`gemm_epilogues`, `reduce_epilogues`). Cheap broadcast intermediates are first
    recomputed by each reader (`recompute_broadcasts`)."""
    copies = recompute_broadcasts(fgraph)
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
        graph.contract(group)
        fused, replaced = _fuse(group, graph)
        for old, new in zip(replaced, fused.outputs):
            if old.type != new.type:  # cannot happen: same broadcasting rule
                raise AssertionError(f"fusion changed the type of {old!r}: {new.type}")
            mapping[id(old)] = new
        new_nodes.append(fused)
        fused_ops += len(group)
    copied = {"recomputed": copies} if copies else {}
    if not mapping:
        return {**copied, **fuse_sums(fgraph), **gemm_epilogues(fgraph),
                **reduce_epilogues(fgraph)}
    for node in graph.nodes + new_nodes:
        node.inputs = [mapping.get(id(v), v) for v in node.inputs]
    fgraph.outputs = [mapping.get(id(v), v) for v in fgraph.outputs]
    _check_acyclic(fgraph)
    return {**copied, "fused_groups": len(new_nodes), "fused_ops": fused_ops,
            **fuse_sums(fgraph), **gemm_epilogues(fgraph),
            **reduce_epilogues(fgraph)}


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


def _summed_composite(v: Variable, node: Apply, clients: dict, outputs: set[int],
                      node_guards: dict) -> tuple[Composite, list[Variable]] | None:
    """The Composite computing `v` (read by the sum `node`) with v's value first, then
    the producer's values read elsewhere, stored by the same loop; and the variables
    those replace. None when the producer is not elementwise, a lazy ifelse may skip
    one of the two and not the other, or a stored value is smaller than the loop."""
    producer = v.owner
    if producer is None or node_guards.get(id(producer)) != node_guards.get(id(node)):
        return None
    if isinstance(producer.op, FusedElemwise):
        comp = producer.op.scalar_op
    elif fusable(producer):
        comp = _single_step(producer)
    else:
        return None
    stored = [(ref, out) for ref, out in zip(comp.outputs, producer.outputs)
              if id(out) in outputs or any(r is not node for r, _ in clients.get(id(out), ()))]
    if any(out.type.broadcastable != v.type.broadcastable for _, out in stored):
        return None
    first = comp.outputs[producer.outputs.index(v)]
    summed = Composite(comp.in_dtypes, comp.steps, (first,) + tuple(r for r, _ in stored))
    return summed, [out for _, out in stored]


def fuse_sums(fgraph: FunctionGraph) -> dict[str, int]:
    """sum(elementwise(...)) over every axis becomes one loop accumulating the sum;
    over some axes, and SumTo(elementwise(...), like), one loop accumulating into each
    output element. The elementwise result is stored only when something else reads it
    too (a partial sum's loop then writes it as a further output), else never."""
    outputs = {id(v) for v in fgraph.outputs}
    node_guards = guards(fgraph.outputs, fgraph.toposort())
    fused = 0
    for node in fgraph.toposort():
        if not isinstance(node.op, (Sum, SumTo)):
            continue
        clients = fgraph.clients()
        v = node.inputs[0]
        if not _summable(v, node) or v.owner is None:
            continue
        found = _summed_composite(v, node, clients, outputs, node_guards)
        if found is None:
            continue
        comp, stored = found
        partial = isinstance(node.op, Sum) and len(node.op.axis) < v.ndim
        axes = node.op.axis if partial else _sum_to_axes(v, node)
        if stored and axes is None:
            continue  # a full sum's loop stores nothing
        if axes is None:
            new = FusedSum(comp).make_node(*v.owner.inputs)
        else:
            new = FusedSumTo(comp, axes, keepdims=not partial).make_node(*v.owner.inputs)
        if any(a.type != b.type for a, b in zip(new.outputs, [node.outputs[0]] + stored)):
            continue
        new.tag = dict(node.tag)
        for old, out in zip([node.outputs[0]] + stored, new.outputs):
            fgraph.replace(old, out)
        fused += 1
    return {"fused_sums": fused} if fused else {}
