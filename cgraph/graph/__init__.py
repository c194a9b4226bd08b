"""The graph IR: variables, ops, traversal, FunctionGraph and reverse-mode grad."""

from cgraph.graph.basic import (
    Apply,
    Constant,
    NullGradient,
    Op,
    Type,
    Variable,
    ancestors,
    clone_replace,
    graph_inputs,
    toposort,
)
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.grad import grad

__all__ = [
    "Apply", "Constant", "FunctionGraph", "NullGradient", "Op", "Type", "Variable",
    "ancestors", "clone_replace", "grad", "graph_inputs", "toposort",
]
