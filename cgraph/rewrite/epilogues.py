"""Epilogues: an elementwise loop that only transforms a product's or a reduction's
result runs inside that kernel, over the output it just wrote (`GemmEpilogue`,
`ReduceEpilogue`), instead of as a kernel of its own. Runs at the end of fusion, so
that the loop is the whole fused chain (the forward layer's `tanh(dot(x, W) + b)`,
a logsumexp's `log(sum) + max`, an SGD update of a bias from its gradient's sum)."""

from __future__ import annotations

from cgraph.graph.basic import Apply, Variable, ViewOp
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.lazy import guards
from cgraph.rewrite.driver import scalar_name
from cgraph.tensor.blas_ops import Gemm
from cgraph.tensor.elemwise import Composite, CompositeStep, FusedElemwise, FusedSum
from cgraph.tensor.fused_sum_to import FusedSumTo
from cgraph.tensor.gemm_epilogue import GemmEpilogue
from cgraph.tensor.reduce import CAReduce
from cgraph.tensor.reduce_epilogue import ReduceEpilogue
from cgraph.tensor.shape import DimShuffle


def _composite(node: Apply, outputs: int = 1) -> Composite | None:
    """The node's scalar ops as a Composite (of one output unless `outputs` is 0: any
    number), or None."""
    if isinstance(node.op, FusedElemwise):
        comp = node.op.scalar_op
        return comp if len(comp.outputs) == outputs or not outputs else None
    if scalar_name(node) is None:
        return None
    n = len(node.inputs)
    step = CompositeStep(node.op.scalar_op, tuple(range(n)), node.outputs[0].type.dtype,
                         node.op.scalar_op.name)
    return Composite(tuple(v.type.dtype for v in node.inputs), (step,), (n,))


def _reordered(comp: Composite, reader: Apply, value: Variable) -> Composite | None:
    """`comp` (the loop of `reader`) with `value` as its input 0, the others after it in
    order; None when the reader reads `value` more than once or not at all."""
    positions = [k for k, v in enumerate(reader.inputs) if v is value]
    if len(positions) != 1:
        return None
    order = positions + [k for k in range(len(reader.inputs)) if k not in positions]
    new_number = {old: new for new, old in enumerate(order)}
    n = comp.nin

    def number(a: int) -> int:
        return new_number[a] if a < n else a

    steps = tuple(CompositeStep(s.op, tuple(number(a) for a in s.args), s.dtype, s.note)
                  for s in comp.steps)
    return Composite(tuple(comp.in_dtypes[k] for k in order), steps,
                     tuple(number(v) for v in comp.outputs))


def _single(v: Variable) -> bool:
    return all(n == 1 for n in v.type.shape)


def _epilogue(gemm: Apply, reader: Apply) -> Variable | None:
    """GemmEpilogue of `gemm` and its one elementwise `reader`, or None when the reader
    reads other operands than single elements or changes the type."""
    comp = _composite(reader)
    value = gemm.outputs[0]
    if comp is None or reader.outputs[0].type != value.type:
        return None
    extras = [v for v in reader.inputs if v is not value]
    epilogue = _reordered(comp, reader, value)
    if epilogue is None or not all(_single(v) for v in extras):
        return None
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
        reader = next(iter(readers))[0]
        if node_guards.get(id(reader)) != node_guards.get(id(node)):
            continue
        out = _epilogue(node, reader)
        if out is not None:
            fgraph.replace(reader.outputs[0], out)
            made += 1
    return {"gemm_epilogues": made} if made else {}


#: the reductions whose kernel an epilogue may follow
REDUCTIONS = (CAReduce, FusedSum, FusedSumTo)


def _loop_readers(v: Variable, fgraph: FunctionGraph) -> list[tuple[Variable, Apply]]:
    """(what is read, the reader) for each elementwise loop reading `v`, or a dimshuffle
    of `v` that only adds or drops length-1 axes."""
    found = []
    for reader, _ in fgraph.clients().get(id(v), []):
        if isinstance(reader.op, DimShuffle) and _keeps_order(reader):
            found += [(reader.outputs[0], r)
                      for r, _ in fgraph.clients().get(id(reader.outputs[0]), [])]
        else:
            found.append((v, reader))
    return [(u, r) for u, r in found if _composite(r, outputs=0) is not None]


def _keeps_order(node: Apply) -> bool:
    """A dimshuffle that only adds or drops length-1 axes: the same elements in order."""
    kept = [a for a in node.op.new_order if a != "x"]
    return kept == sorted(kept)


def _depends_on(vs: list[Variable], node: Apply, position: dict[int, int]) -> bool:
    """Whether some variable of `vs` is computed from an output of `node` (walking up
    only through nodes after it in the schedule `position`, or made since)."""
    stack, seen = list(vs), set()
    start = position[id(node)]
    while stack:
        v = stack.pop()
        if v.owner is None or id(v) in seen or position.get(id(v.owner), start + 1) < start:
            continue
        seen.add(id(v))
        if v.owner is node:
            return True
        stack.extend(v.owner.inputs)
    return False


def _reduce_epilogue(node: Apply, fgraph: FunctionGraph, position: dict[int, int],
                     node_guards: dict) -> tuple[Apply, Apply] | None:
    """(the ReduceEpilogue node, the loop it absorbs) for the reduction `node`, or None.
    The reduction's result stays an output of the node: other readers still read it."""
    for value, reader in _loop_readers(node.outputs[0], fgraph):
        found = _with_epilogue(node, value, reader, fgraph, position, node_guards)
        if found is not None:
            return found, reader
    return None


def _with_epilogue(node: Apply, value: Variable, reader: Apply, fgraph: FunctionGraph,
                   position: dict[int, int], node_guards: dict) -> Apply | None:
    """The ReduceEpilogue of `node` and the loop `reader` reading `value`, or None."""
    comp = _composite(reader, outputs=0)
    if node_guards.get(id(reader)) != node_guards.get(id(node)):
        return None
    pattern = value.type.broadcastable
    extras = [v for v in reader.inputs if v is not value]
    if any(o.type.broadcastable != pattern for o in reader.outputs) or not all(
            _single(v) or (v.type.broadcastable == pattern
                           and (v.owner is None or not isinstance(v.owner.op, ViewOp)))
            for v in extras):
        return None
    if _depends_on(extras, node, position):
        return None  # the loop reads what the reduction's outputs feed
    epilogue = _reordered(comp, reader, value)
    if epilogue is None:
        return None
    op = ReduceEpilogue(node.op, len(node.inputs), epilogue, value.type.shape)
    try:
        new = op.make_node(*node.inputs, *extras)
    except TypeError:
        return None
    if any(a.type != b.type for a, b in zip(new.outputs, node.outputs + reader.outputs)):
        return None
    new.tag = dict(node.tag)
    return new


def reduce_epilogues(fgraph: FunctionGraph) -> dict[str, int]:
    """Give each reduction whose result an elementwise loop of its size reads (through
    a dimshuffle adding or dropping length-1 axes, or directly) that loop as its
    epilogue, when the loop's other operands hold one element each or are stored
    arrays of its shape computed without the reduction, and a lazy ifelse skips both
    alike. The result is still stored for its other readers.

    Returns
    -------
    dict
        {"reduce_epilogues": how many} when some were made, else {}.
    """
    nodes = fgraph.toposort()
    position = {id(n): k for k, n in enumerate(nodes)}
    node_guards = guards(fgraph.outputs, nodes)
    made = 0
    for node in nodes:
        if not isinstance(node.op, REDUCTIONS):
            continue
        found = _reduce_epilogue(node, fgraph, position, node_guards)
        if found is None:
            continue
        new, reader = found
        for old, out in zip(node.outputs + reader.outputs, new.outputs):
            fgraph.replace(old, out)
        made += 1
    return {"reduce_epilogues": made} if made else {}
