"""Epilogues: an elementwise loop that only transforms a product's result runs inside
the product's kernel, over the output BLAS just wrote (`GemmEpilogue`), instead of
as a kernel of its own. Runs at the end of fusion, so that the loop is the whole
fused chain (the forward layer's `tanh(dot(x, W) + b)`)."""

from __future__ import annotations

from cgraph.graph.basic import Apply, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.lazy import guards
from cgraph.rewrite.driver import scalar_name
from cgraph.tensor.blas_ops import Gemm
from cgraph.tensor.elemwise import Composite, CompositeStep, FusedElemwise
from cgraph.tensor.gemm_epilogue import GemmEpilogue


def _composite(node: Apply) -> Composite | None:
    """The node's scalar ops as a Composite of one output, or None."""
    if isinstance(node.op, FusedElemwise):
        comp = node.op.scalar_op
        return comp if len(comp.outputs) == 1 else None
    if scalar_name(node) is None:
        return None
    n = len(node.inputs)
    step = CompositeStep(node.op.scalar_op, tuple(range(n)), node.outputs[0].type.dtype,
                         node.op.scalar_op.name)
    return Composite(tuple(v.type.dtype for v in node.inputs), (step,), (n,))


def _epilogue(gemm: Apply, reader: Apply) -> Variable | None:
    """GemmEpilogue of `gemm` and its one elementwise `reader`, or None when the reader
    reads other operands than single elements or changes the type."""
    comp = _composite(reader)
    value = gemm.outputs[0]
    if comp is None or reader.outputs[0].type != value.type:
        return None
    positions = [k for k, v in enumerate(reader.inputs) if v is value]
    extras = [v for v in reader.inputs if v is not value]
    if len(positions) != 1 or any(any(n != 1 for n in v.type.shape) for v in extras):
        return None
    # Renumber the loop's inputs: the product's value first, then the others in order.
    order = positions + [k for k in range(len(reader.inputs)) if k not in positions]
    new_number = {old: new for new, old in enumerate(order)}
    n = comp.nin

    def number(a: int) -> int:
        return new_number[a] if a < n else a

    steps = tuple(CompositeStep(s.op, tuple(number(a) for a in s.args), s.dtype, s.note)
                  for s in comp.steps)
    epilogue = Composite(tuple(comp.in_dtypes[k] for k in order), steps,
                         tuple(number(v) for v in comp.outputs))
    op = GemmEpilogue(gemm.op.alpha, gemm.op.beta, epilogue)
    try:
        new = op.make_node(*gemm.inputs, *extras)
    except TypeError:
        return None
    new.tag = dict(reader.tag)
    return new.outputs[0]


def gemm_epilogues(fgraph: FunctionGraph) -> dict[str, int]:
    """Give each Gemm read only by one elementwise loop of its type, whose other
    operands hold one element each and that a lazy ifelse skips exactly when it skips
    the Gemm, that loop as its epilogue.

    Returns
    -------
    dict
        {"gemm_epilogues": how many} when some were made, else {}.
    """
    outputs = {id(v) for v in fgraph.outputs}
    nodes = fgraph.toposort()
    node_guards = guards(fgraph.outputs, nodes)
    made = 0
    for node in nodes:
        if type(node.op) is not Gemm or id(node.outputs[0]) in outputs:
            continue
        readers = fgraph.clients().get(id(node.outputs[0]), [])
        if len({id(r) for r, _ in readers}) != 1:
            continue
        reader = readers[0][0]
        if node_guards.get(id(reader)) != node_guards.get(id(node)):
            continue
        out = _epilogue(node, reader)
        if out is not None:
            fgraph.replace(reader.outputs[0], out)
            made += 1
    return {"gemm_epilogues": made} if made else {}
