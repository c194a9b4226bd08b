"""FunctionGraph: a private, editable copy of a graph between fixed inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence

from cgraph.graph.basic import Apply, Constant, Variable, toposort
from cgraph.graph.copying import producers_first


class FunctionGraph:
    """A clone of the graph from `inputs` to `outputs` that rewrites may edit.

    Cloning keeps the user's graph untouched. Every variable the outputs depend on
    must be reachable from `inputs` or be a constant; anything else is a missing
    input and raises ValueError naming it.

    The graph keeps an index of who reads each variable, kept up to date by
    `replace` (which imports the nodes of the replacement and drops the nodes left
    unread), so a replacement costs the size of the change, not of the graph. A pass
    that edits `node.inputs` directly calls `changed()` (setting `outputs` does it),
    and the index is rebuilt when next needed.

    A feature (`attach_feature`, e.g. the shape feature of cgraph/rewrite/shapes.py)
    is told of each node a replacement brings in and of each replacement, so what it
    knows of the graph stays valid without a rebuild (Theano's FunctionGraph
    features).

    Parameters
    ----------
    inputs : sequence of Variable
        The free variables of the function, in call order.
    outputs : sequence of Variable
        The variables to compute.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable]):
        memo: dict[int, Variable] = {}
        self.inputs: list[Variable] = []
        for v in inputs:
            cp = v.clone()
            memo[id(v)] = cp
            self.inputs.append(cp)
        for node in toposort(outputs, stop=inputs):
            new_inputs = []
            for v in node.inputs:
                if id(v) not in memo:
                    if not isinstance(v, Constant):
                        raise ValueError(
                            f"the graph depends on {v!r} ({v.type}), which is neither an input "
                            "of the function nor a constant: pass it in `inputs` or `givens`"
                        )
                    memo[id(v)] = v.clone()
                new_inputs.append(memo[id(v)])
            new_outputs = [o.clone() for o in node.outputs]
            new_node = Apply(node.op, new_inputs, new_outputs)
            new_node.tag = dict(node.tag)
            for old, new in zip(node.outputs, new_outputs):
                memo[id(old)] = new
        self._clients: dict[int, dict[tuple[Apply, int], None]] | None = None
        self._features: list = []
        self._nodes: set[int] = set()
        outs: list[Variable] = []
        for v in outputs:
            if id(v) not in memo:
                if not isinstance(v, Constant):
                    raise ValueError(f"output {v!r} is not computed from the inputs")
                memo[id(v)] = v.clone()
            outs.append(memo[id(v)])
        self.outputs = outs

    def __getstate__(self) -> dict:
        """Pickle the graph without its reader index (keyed by ids, which a pickle
        does not keep): it is rebuilt when next needed."""
        state = dict(vars(self))
        state["_clients"], state["_nodes"], state["_order"] = None, set(), None
        state["_features"] = []  # keyed by ids too: attached again when needed
        return state

    def attach_feature(self, feature: object) -> None:
        """Tell `feature` of every later change: `feature.on_import(node)` for each node
        a replacement brings in (producers first), `feature.on_replace(old, new)`
        before the readers of `old` read `new`. Edits made behind `replace` (passes
        that set `node.inputs` and call `changed()`) are not reported: a feature
        must then work out what it needs from the nodes themselves."""
        self._features = [*self.features(), feature]

    def detach_features(self) -> None:
        """Forget the attached features (what they hold: the rewrites are done)."""
        self._features = []

    def features(self, kind: type = object) -> list:
        """The attached features that are instances of `kind`."""
        return [f for f in getattr(self, "_features", ()) if isinstance(f, kind)]

    @property
    def outputs(self) -> list[Variable]:
        """The variables computed, in order (setting them invalidates the index)."""
        return self._outputs

    @outputs.setter
    def outputs(self, value: Sequence[Variable]) -> None:
        self._outputs = list(value)
        self.changed()

    def changed(self) -> None:
        """Say that node inputs were edited directly: the reader index and the node
        order are rebuilt."""
        self._clients = None
        self._order = None

    def toposort(self) -> list[Apply]:
        """The nodes in a deterministic execution order (kept until the graph changes:
        the rewrites ask for it about 30 times per function)."""
        if getattr(self, "_order", None) is None:
            self._order = toposort(self.outputs, stop=self.inputs)
        return list(self._order)

    def variables(self) -> list[Variable]:
        """Every variable in the graph: inputs, then node outputs in schedule order."""
        seen: set[int] = set()
        out: list[Variable] = []
        for v in self.inputs:
            seen.add(id(v))
            out.append(v)
        for node in self.toposort():
            for v in node.inputs + node.outputs:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        for v in self.outputs:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def clients(self) -> dict[int, dict[tuple[Apply, int], None]]:
        """Map id(variable) to the (node, input position) pairs that read it, in the
        order they came (the keys of a dict: iterate them, take `len`, test `in`).

        The mapping is the graph's own index: read it, do not change it. A variable
        nothing reads has no entry. A dict, not a list, so that dropping one reader
        costs O(1): a weight read by every layer of a 4,000-layer chain has 8,000
        readers, and the rewrites drop them one by one (quadratic with a list).
        """
        if self._clients is None:
            self._clients = {}
            self._nodes = set()
            for node in self.toposort():
                self._add_node(node)
        return self._clients

    def _add_node(self, node: Apply) -> None:
        self._nodes.add(id(node))
        for i, v in enumerate(node.inputs):
            self._clients.setdefault(id(v), {})[node, i] = None

    def _import(self, v: Variable) -> None:
        """Index the nodes computing `v` that the graph does not hold yet."""
        inputs = {id(u) for u in self.inputs}
        for node in self._new_nodes(v, inputs):  # producers first
            for u in node.inputs:
                if u.owner is None and id(u) not in inputs and not isinstance(u, Constant):
                    raise ValueError(f"the replacement reads {u!r} ({u.type}), which is "
                                     "neither an input of the function nor a constant")
            self._add_node(node)
            for feature in self.features():
                feature.on_import(node)

    def _new_nodes(self, v: Variable, inputs: set[int]) -> list[Apply]:
        """The nodes computing `v` that are not indexed yet, producers first (the walk
        stops at indexed nodes, so it costs the size of the new part only)."""
        if v.owner is None or id(v) in inputs or id(v.owner) in self._nodes:
            return []
        return producers_first(v.owner,
                               lambda u: id(u) in inputs or id(u.owner) in self._nodes)

    def _drop_unread(self, v: Variable) -> None:
        """Remove the node computing `v` from the index when nothing reads any of its
        outputs any more, and then its producers likewise."""
        stack = [v.owner] if v.owner is not None else []
        outputs = {id(u) for u in self._outputs}
        while stack:
            node = stack.pop()
            if id(node) not in self._nodes or any(
                    id(o) in self._clients or id(o) in outputs for o in node.outputs):
                continue
            self._nodes.discard(id(node))
            for i, u in enumerate(node.inputs):
                readers = self._clients.get(id(u))
                if readers is None:
                    continue
                readers.pop((node, i), None)
                if not readers:
                    del self._clients[id(u)]
                    if u.owner is not None:
                        stack.append(u.owner)

    def replace(self, old: Variable, new: Variable) -> None:
        """Make every reader of `old` (nodes and outputs) read `new` instead."""
        if old.type != new.type:
            raise TypeError(f"cannot replace {old!r} ({old.type}) by {new!r} ({new.type})")
        if old is new:
            return
        clients = self.clients()
        self._order = None
        self._import(new)
        for feature in self.features():
            feature.on_replace(old, new)
        readers = clients.pop(id(old), {})
        for node, i in readers:
            node.inputs[i] = new
        if readers:
            clients.setdefault(id(new), {}).update(readers)
        self._outputs = [new if v is old else v for v in self._outputs]
        self._drop_unread(old)

