"""FunctionGraph: a private, editable copy of a graph between fixed inputs and outputs."""

from __future__ import annotations

from collections.abc import Sequence

from cgraph.graph.basic import Apply, Constant, Variable, toposort


class FunctionGraph:
    """A clone of the graph from `inputs` to `outputs` that rewrites may edit.

    Cloning keeps the user's graph untouched. Every variable the outputs depend on
    must be reachable from `inputs` or be a constant; anything else is a missing
    input and raises ValueError naming it.

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
        self.outputs: list[Variable] = []
        for v in outputs:
            if id(v) not in memo:
                if not isinstance(v, Constant):
                    raise ValueError(f"output {v!r} is not computed from the inputs")
                memo[id(v)] = v.clone()
            self.outputs.append(memo[id(v)])

    def toposort(self) -> list[Apply]:
        """The nodes in a deterministic execution order."""
        return toposort(self.outputs, stop=self.inputs)

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

    def clients(self) -> dict[int, list[tuple[Apply, int]]]:
        """Map id(variable) to the (node, input position) pairs that read it."""
        result: dict[int, list[tuple[Apply, int]]] = {}
        for node in self.toposort():
            for i, v in enumerate(node.inputs):
                result.setdefault(id(v), []).append((node, i))
        return result

    def replace(self, old: Variable, new: Variable) -> None:
        """Make every reader of `old` (nodes and outputs) read `new` instead."""
        if old.type != new.type:
            raise TypeError(f"cannot replace {old!r} ({old.type}) by {new!r} ({new.type})")
        for node in self.toposort():
            node.inputs = [new if v is old else v for v in node.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]
