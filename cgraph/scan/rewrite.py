"""A scan's step rewritten before it is lowered (#19).

A scan's step is a graph of its own, which the rewrites of the function holding the
scan do not enter: without this pass an RNN step written with scan would run one
kernel per node as built (no canonicalization, no elementwise fusion, no step
fusion). The pass gives each scan node of a function's graph an op whose `step` is a
copy of the step graph rewritten by the same pipeline, under the function's settings
(`config.optimizer`, `rewrite_exclude`): its inputs and outputs keep their order and
meaning (sequences' rows, previous states, non-sequences; states, then the plain
outputs). The step as built stays in the op the user's graph holds, for the gradient
(`cgraph.scan.gradient`) and the reference (mode "PY" and `perform`).

In the rewritten step, whole-step fusion (`cgraph.rewrite.step_fusion`) treats the
step like a function's training step with no updates kept apart: a function's update
kernels stay out of its blocks so that they may write in place into the shared
storage, but a step writes its states into rows of the loop's outputs whatever
kernel computes them, so the states go into the blocks too.
"""

from __future__ import annotations

from cgraph.configdefaults import Config, config
from cgraph.graph.fg import FunctionGraph


def rewrite_scan_steps(fgraph: FunctionGraph) -> dict[str, int]:
    """The pass: each scan node of `fgraph` gets an op lowering its rewritten step
    (one new op per op, so two nodes of one scan stay one scan). Its settings are
    those `rewrite_graph` runs with (`fgraph.rewrite_config`; the global config when
    the pass runs alone)."""
    from cgraph.scan.op import Scan  # noqa: PLC0415 (the op imports the codegen)

    cfg = getattr(fgraph, "rewrite_config", None) or config
    new_ops: dict[int, Scan] = {}
    for node in fgraph.toposort():
        op = node.op
        if not isinstance(op, Scan) or op._step_graph is not None:
            continue  # not a scan, or its step is rewritten already
        if id(op) not in new_ops:
            new_ops[id(op)] = op.with_step(rewritten_step(op.fgraph, cfg))
        node.op = new_ops[id(op)]  # the graph's own node: the user's keeps its op
    if new_ops:
        fgraph.changed()
    return {"scan_step": len(new_ops)} if new_ops else {}


def rewritten_step(step: FunctionGraph, cfg: Config) -> FunctionGraph:
    """A copy of the step graph `step`, rewritten with the settings of `cfg`."""
    from cgraph.rewrite.pipeline import rewrite_graph  # noqa: PLC0415 (it imports this)

    inner = FunctionGraph(step.inputs, step.outputs)
    inner.scan_step = True  # for step fusion: a step, no updates kept apart
    rewrite_graph(inner, cfg)
    return inner
