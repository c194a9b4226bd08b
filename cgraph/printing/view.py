"""What the printers show of an object: its outputs, their notes, node labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cgraph.compile.function import Function
from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.labels import node_labels
from cgraph.tensor.elemwise import Composite, FusedElemwise, FusedSum
from cgraph.tensor.sharedvar import SharedVariable


@dataclass
class GraphView:
    """What the printers show of an object: its outputs with their notes ("output 0",
    "update of w"), the labels of its nodes, and which leaves are shared variables."""

    outputs: list[Variable]
    notes: list[str]
    shared: set[int] = field(default_factory=set)
    labels: dict[int, str] = field(default_factory=dict)

    def kind(self, v: Variable) -> str:
        """The kind of `v`: one of "input", "shared", "constant", "computed"."""
        if v.owner is not None:
            return "computed"
        if isinstance(v, Constant):
            return "constant"
        return "shared" if id(v) in self.shared or isinstance(v, SharedVariable) else "input"


def graph_view(obj: Any) -> GraphView:
    """The outputs, notes and labels of a Function, FunctionGraph, Variable, Apply or
    list of Variables (raises TypeError for anything else)."""
    if isinstance(obj, Function):
        fg = obj.fgraph
        sig = obj.signature
        notes = [f"output {i}" for i in range(sig.n_outputs)]
        notes += [f"update of {t!r}" for t in sig.updates]
        view = GraphView(list(fg.outputs), notes, {id(v) for v in fg.inputs[len(sig.args):]})
    elif isinstance(obj, FunctionGraph):
        view = GraphView(list(obj.outputs), [f"output {i}" for i in range(len(obj.outputs))])
    elif isinstance(obj, Variable):
        view = GraphView([obj], [""])
    elif isinstance(obj, Apply):
        view = GraphView(list(obj.outputs), [""] * len(obj.outputs))
    elif isinstance(obj, Sequence) and obj and all(isinstance(o, Variable) for o in obj):
        view = GraphView(list(obj), [""] * len(obj))
    else:
        raise TypeError(f"debugprint takes a Function, a FunctionGraph, a Variable or a list "
                        f"of Variables, got {type(obj).__name__}")
    view.labels = node_labels(view.outputs)
    return view


def composite_lines(comp: Composite) -> list[str]:
    """The statements of a fused node, one per original op: `t2 = exp(t1)`."""
    names = [f"x{i}" for i in range(comp.nin)] + [f"t{k}" for k in range(len(comp.steps))]
    lines = []
    for k, step in enumerate(comp.steps):
        args = ", ".join(names[a] for a in step.args)
        note = f"  ({step.note})" if step.note and step.note != step.op.name else ""
        lines.append(f"t{k} = {step.op.name}({args})  {step.dtype}{note}")
    lines.append("outputs: " + ", ".join(names[v] for v in comp.outputs))
    return lines


def fused_parts(node: Apply) -> Composite | None:
    """The Composite of a fused elementwise node (FusedElemwise, FusedSum), or None."""
    return node.op.scalar_op if isinstance(node.op, (FusedElemwise, FusedSum)) else None


