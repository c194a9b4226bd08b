"""The rewrite pipeline: one ordered list of named passes, run by `rewrite_graph`."""

from __future__ import annotations

from collections.abc import Callable

from cgraph.configdefaults import Config
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.basic import CONSTANT_FOLDING, NOOPS, dce, merge
from cgraph.rewrite.canonical import CANONICALIZE, STABILIZE
from cgraph.rewrite.convnet import convnet_rewrites
from cgraph.rewrite.driver import RuleTable, graph_rewrite
from cgraph.rewrite.fusion import fuse_elementwise
from cgraph.rewrite.shapes import shape_noops
from cgraph.rewrite.sigmoid_exps import share_sigmoid_exps
from cgraph.rewrite.specialize import specialize
from cgraph.rewrite.step_fusion import fuse_small_steps

Pass = Callable[[FunctionGraph], dict[str, int]]


def scan_steps(fgraph: FunctionGraph) -> dict[str, int]:
    """Rewrite the steps of the graph's scans (`cgraph.scan.rewrite`)."""
    from cgraph.scan.rewrite import rewrite_scan_steps  # noqa: PLC0415 (scan imports codegen)

    return rewrite_scan_steps(fgraph)


def table_pass(table: RuleTable) -> Pass:
    """A pass running one rule table to a fixed point."""
    def run(fgraph: FunctionGraph) -> dict[str, int]:
        return graph_rewrite(fgraph, table)
    run.__name__ = table.name
    return run


#: Every pass, in the order it runs. Fusion comes last: it turns groups of
#: elementwise nodes into single nodes that the rules above no longer see.
PASSES: tuple[tuple[str, Pass], ...] = (
    ("merge", merge),
    ("constant_folding", table_pass(CONSTANT_FOLDING)),
    ("noop", table_pass(NOOPS)),
    ("shape_noop", shape_noops),
    ("canonicalize", table_pass(CANONICALIZE + NOOPS)),
    ("stabilize", table_pass(STABILIZE)),
    ("merge2", merge),
    ("constant_folding2", table_pass(CONSTANT_FOLDING)),
    ("dce", dce),
    ("specialize", specialize),
    ("sigmoid_exps", share_sigmoid_exps),
    ("convnet", convnet_rewrites),
    ("scan_steps", scan_steps),  # after the merges: one scan's nodes keep one op
    ("fusion", fuse_elementwise),
    ("step_fusion", fuse_small_steps),
)

#: The passes of each `config.optimizer` setting.
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "fast_run": tuple(name for name, _ in PASSES),
    "fast_compile": ("merge", "constant_folding", "scan_steps"),
    "None": (),
}


def rewrite_graph(fgraph: FunctionGraph, cfg: Config) -> dict[str, dict[str, int]]:
    """Rewrite `fgraph` in place with the passes `cfg.optimizer` selects, minus the
    ones named in `cfg.rewrite_exclude` (e.g. "fusion").

    Returns
    -------
    dict
        pass name -> {rule name: times it fired}, for the passes that ran.
    """
    selected = OPTIMIZERS[cfg.optimizer]
    report: dict[str, dict[str, int]] = {}
    fgraph.rewrite_config = cfg  # the settings "scan_steps" rewrites the steps with
    try:
        for name, run in PASSES:
            if name in selected and name not in cfg.rewrite_exclude:
                report[name] = run(fgraph)
    finally:
        del fgraph.rewrite_config
    fgraph.detach_features()  # the shape feature holds every variable it has seen
    return report
