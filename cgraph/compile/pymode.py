"""Mode "PY": a function's graph evaluated with each op's numpy reference.

No compiler is needed. The graph is the one the user built (with `givens` applied
and the updates' expressions as outputs), never rewritten: mode "PY" is an oracle
independent of the rewrites that mode "C" compiles. It runs in the numpy
interpreter (`cgraph.graph.interpret`): lazy ops (ifelse) evaluate only the branch
their condition takes; an error names the node, its `[id X]` label in
`debugprint(f)`, the user's line and the input shapes; the results have the dtypes
the compiled module would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cgraph.codegen import ShapeError
from cgraph.compile.signature import Signature
from cgraph.graph.basic import Apply
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import Interpreter
from cgraph.tensor.shape import checked_size

__all__ = ["check_shapes", "interpreter", "make_call"]


def make_call(fgraph: FunctionGraph, signature: Signature, trust_input: bool
              ) -> Callable[[tuple], Any]:
    """The call path of mode "PY": `call(args)` checks the arguments (unless
    `trust_input`), evaluates `fgraph`, writes the updates back and returns the result."""
    check, storages = signature.check, signature.storages
    write_back, pack = signature.write_back, signature.pack
    n_out = signature.n_outputs
    run = interpreter(fgraph).run

    def call(args: tuple) -> Any:
        arrays = list(args) if trust_input else check(args)
        arrays += storages()
        outs = run(arrays)
        write_back(outs[n_out:])
        return pack(outs)

    return call


def interpreter(fgraph: FunctionGraph) -> Interpreter:
    """The interpreter of a function's graph, checking each node's shapes first."""
    return Interpreter(fgraph.inputs, fgraph.outputs, check=check_shapes)


def check_shapes(node: Apply, inputs: list) -> None:
    """Before a node runs: its shape rule holds for these inputs and its results are
    within numpy's size limit; a ShapeError saying what does not fit otherwise (the
    interpreter adds the node and the shapes)."""
    op = node.op
    extra = ([[a if i in op.value_inputs else None for i, a in enumerate(inputs)]]
             if op.value_inputs else [])
    try:
        out_shapes = op.infer_shape(node, [np.shape(a) for a in inputs], *extra)
        for out, shape in zip(node.outputs, out_shapes):
            checked_size(shape, out.type.dtype, "the result")
    except ValueError as err:
        raise ShapeError(str(err)) from None
    except NotImplementedError:
        pass  # no shape rule: perform alone checks its inputs
