"""A scan's step rewritten before it is lowered (#19).

A scan's step is a graph of its own, which the rewrites of the function holding the
scan do not enter: without this pass an RNN step written with scan would run one
kernel per node as built (no canonicalization, no stabilization, no elementwise
fusion, no product epilogues). The pass gives each scan node of a function's graph
an op whose `step` is a copy of the step graph rewritten by the same pipeline, under
the function's settings (`config.optimizer`, `rewrite_exclude`): its inputs and
outputs keep their order and meaning (sequences' rows, previous states,
non-sequences; states, then the plain outputs). The step as built stays in the op
the user's graph holds, for the gradient (`cgraph.scan.gradient`) and the reference
(mode "PY" and `perform`).

The rewritten step gets no blocks of whole-step fusion (`cgraph.rewrite.step_fusion`:
its graph marks no updates). A step is already an inner program that the scan's one
kernel calls, with every kernel in the same C unit, so a block would only add a
call: measured at 8 hidden units, 1,000 steps, A/B interleaved (load 5-8, 2 cores),
the XOR training step as a scan (31 kernels as built, 12 rewritten) takes 123-132 ns
a step with its 12 kernels and 130-138 with them in one block (the states inside it
or apart alike), in float32 120 and 126; an LSTM cell with a softmax output (8
kernels) 349-372 and 358-362, within the noise.
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
    rewrite_graph(inner, cfg)
    return inner
