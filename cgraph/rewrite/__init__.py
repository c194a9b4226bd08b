"""Graph rewrites: pattern tables run by one driver, and the pipeline of named passes."""

from cgraph.rewrite.driver import Rule, RuleTable, graph_rewrite, scalar_name
from cgraph.rewrite.pipeline import OPTIMIZERS, PASSES, rewrite_graph

__all__ = ["OPTIMIZERS", "PASSES", "Rule", "RuleTable", "graph_rewrite", "rewrite_graph",
           "scalar_name"]
