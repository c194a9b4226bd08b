"""sigmoid(z) and sigmoid(-z) in one graph share one exponential.

A sigmoid's gradient is s * sigmoid(-z) once stabilized (`one_minus_sigmoid`), beside
the forward's s = sigmoid(z): two exponentials of the same |z|. This pass computes
e = exp(-|z|) once and both sigmoids from it (`cgraph.tensor.sigmoid_parts`); fusion
then stores e beside s in the forward's loop and the gradient's loop divides instead
of calling exp. The XOR step computes 4 exponentials instead of 8.
"""

from __future__ import annotations

from cgraph.graph.basic import Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.driver import input_of, scalar_name
from cgraph.tensor.sigmoid_parts import exp_neg_abs, sigmoid_given


def share_sigmoid_exps(fgraph: FunctionGraph) -> dict[str, int]:
    """Each float z with both sigmoid(z) and sigmoid(-z) (-z written as neg(z)) in the
    graph: both computed from one e = exp(-|z|)."""
    signs: dict[int, tuple[Variable, list, list]] = {}
    for node in fgraph.toposort():
        if scalar_name(node) != "sigmoid" or not node.outputs[0].dtype.startswith("float"):
            continue
        u = node.inputs[0]
        z = input_of(u, "neg")
        base, side = (u, 1) if z is None else (z, 2)
        if base.dtype != node.outputs[0].dtype:
            continue
        signs.setdefault(id(base), (base, [], []))[side].append(node)
    shared = 0
    for base, plus, minus in signs.values():
        if not plus or not minus:
            continue
        e = exp_neg_abs(base)
        e.owner.tag = dict(plus[0].tag)  # the user's line: the forward sigmoid's
        for node in plus + minus:
            new = sigmoid_given(node.inputs[0], e)
            new.owner.tag = dict(node.tag)
            fgraph.replace(node.outputs[0], new)
        shared += 1
    return {"shared_sigmoid_exps": shared} if shared else {}
