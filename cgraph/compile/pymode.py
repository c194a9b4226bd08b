"""Mode "PY": a compiled function's graph evaluated with each op's numpy reference.

No compiler is needed. Lazy ops (ifelse) evaluate only the branch their condition
takes; the results have the dtypes the compiled module would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cgraph.codegen import ShapeError
from cgraph.compile.signature import Signature
from cgraph.graph.basic import Apply, toposort
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.lazy import guards, holds
from cgraph.tensor.shape import checked_size

__all__ = ["evaluate", "make_call"]


def make_call(fgraph: FunctionGraph, signature: Signature, trust_input: bool
              ) -> Callable[[tuple], Any]:
    """The call path of mode "PY": `call(args)` checks the arguments (unless
    `trust_input`), evaluates `fgraph`, writes the updates back and returns the result."""
    check, storages = signature.check, signature.storages
    write_back, pack = signature.write_back, signature.pack
    n_out, dtypes = signature.n_outputs, signature.out_dtypes

    def call(args: tuple) -> Any:
        arrays = list(args) if trust_input else check(args)
        arrays += storages()
        outs = evaluate(fgraph, arrays, dtypes)
        write_back(outs[n_out:])
        return pack(outs)

    return call


def evaluate(fgraph: FunctionGraph, arrays: list[np.ndarray], dtypes: tuple[np.dtype, ...]
             ) -> list[np.ndarray]:
    """The values of `fgraph.outputs` (fresh arrays of `dtypes`) for the values
    `arrays` of `fgraph.inputs`."""
    values: dict[int, np.ndarray] = {id(v): a for v, a in zip(fgraph.inputs, arrays)}
    nodes = fgraph.toposort()
    node_guards = guards(fgraph.outputs, nodes)
    by_id = {id(n): n for n in nodes}

    def taken(ifelse_id: int) -> int:  # computes the condition first if need be
        cond = by_id[ifelse_id].inputs[0]
        _run(toposort([cond]), values, {}, taken)
        return by_id[ifelse_id].op.taken(values[id(cond)])

    _run(nodes, values, node_guards, taken)
    results = []
    for v, dtype in zip(fgraph.outputs, dtypes):
        value = values[id(v)] if id(v) in values else v.data
        results.append(np.array(value, dtype=dtype, copy=True))
    return results


def _run(nodes: list[Apply], values: dict, node_guards: dict, taken: Any) -> None:
    """Run the numpy references of `nodes` (skipping lazy branches not taken)."""
    for node in nodes:
        if id(node.outputs[0]) in values:
            continue
        guard = node_guards.get(id(node))
        if guard is not None and not holds(guard, taken):
            continue
        inputs = []
        for v in node.inputs:
            if id(v) not in values:
                values[id(v)] = v.data if hasattr(v, "data") else None  # branch not taken
            inputs.append(values[id(v)])
        extra = ([[a if i in node.op.value_inputs else None for i, a in enumerate(inputs)]]
                 if node.op.value_inputs else [])
        in_shapes = ", ".join(str(np.shape(a)) for a in inputs)
        try:
            out_shapes = node.op.infer_shape(node, [np.shape(a) for a in inputs], *extra)
            for out, shape in zip(node.outputs, out_shapes):
                checked_size(shape, out.type.dtype, "the result")
        except ValueError as err:
            raise ShapeError(f"{err}\n  in node {node.op}\n  input shapes: "
                             f"{in_shapes}") from None
        except NotImplementedError:
            pass  # no shape rule: perform alone checks its inputs
        try:
            results = node.op.perform(node, inputs)
        except MemoryError as err:
            raise MemoryError(f"{err}\n  in node {node.op}\n  input shapes: "
                              f"{in_shapes}") from None
        for out, value in zip(node.outputs, results):
            values[id(out)] = np.asarray(value)
