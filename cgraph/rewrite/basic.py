"""Merge (common subexpressions), constant folding, and the no-op rules.

Dead code needs no pass of its own: a FunctionGraph holds exactly the nodes its
outputs depend on (every traversal starts from the outputs), so a node that a
rewrite disconnects is gone. `dce` only reports how many nodes remain.
"""

from __future__ import annotations

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import run_node
from cgraph.rewrite.driver import Rule, RuleTable, input_of, scalar_name
from cgraph.tensor.elemwise import Elemwise
from cgraph.tensor.reduce import Sum
from cgraph.tensor.shape import DimShuffle
from cgraph.tensor.type import TensorConstant

#: constant folding keeps results with more elements than this symbolic (alloc & co).
MAX_FOLDED_SIZE = 100_000

# --------------------------------------------------------------------------- merge


def merge(fgraph: FunctionGraph) -> dict[str, int]:
    """Compute identical subgraphs once: equal ops on the same inputs, and equal
    constants (same type and value), become one variable.

    One pass in topological order is enough: by the time a node is looked at, its
    inputs have already been merged.
    """
    alias: dict[int, Variable] = {}
    constants: dict[object, Variable] = {}
    seen: dict[tuple, Apply] = {}
    merged = 0
    for node in fgraph.toposort():
        inputs = []
        for v in node.inputs:
            v = alias.get(id(v), v)
            if isinstance(v, Constant):
                first = constants.setdefault(v.signature(), v)
                if first is not v:
                    alias[id(v)] = first
                    merged += 1
                v = first
            inputs.append(v)
        node.inputs = inputs
        key = (node.op, tuple(id(v) for v in inputs))
        other = seen.setdefault(key, node)
        if other is not node:
            for old, new in zip(node.outputs, other.outputs):
                alias[id(old)] = new
            merged += 1
    fgraph.outputs = [alias.get(id(v), v) for v in fgraph.outputs]
    return {"merge": merged} if merged else {}


def dce(fgraph: FunctionGraph) -> dict[str, int]:
    """Dead code is already gone (see the module docstring): nothing to do."""
    return {}


# --------------------------------------------------------------------------- constant folding


def _fold(node: Apply) -> list[Variable] | None:
    """All inputs constant: compute the outputs now, with the op's numpy reference (in
    the interpreter that mode "PY" runs)."""
    if not node.inputs or not all(isinstance(v, Constant) for v in node.inputs):
        return None
    if all(isinstance(v, Constant) for v in node.outputs):
        return None
    values = [np.asarray(v.data) for v in node.inputs]
    extra = ([[a if i in node.op.value_inputs else None for i, a in enumerate(values)]]
             if node.op.value_inputs else [])
    try:
        shapes = node.op.infer_shape(node, [a.shape for a in values], *extra)
        if any(int(np.prod(s, dtype=np.int64)) > MAX_FOLDED_SIZE for s in shapes):
            return None
        with np.errstate(all="ignore"):
            results = run_node(node, values)
    except (NotImplementedError, ValueError, TypeError, IndexError):
        return None  # left for run time, where the error (if any) is reported
    out = []
    for var, value in zip(node.outputs, results):
        value = np.array(value, dtype=var.type.dtype)
        try:
            out.append(TensorConstant(var.type, value))
        except (TypeError, ValueError):
            return None
    return out


CONSTANT_FOLDING = RuleTable("constant_folding", [Rule("constant_fold", None, _fold)])

# --------------------------------------------------------------------------- no-ops


def is_constant(v: Variable, value: float) -> bool:
    """Whether `v` is a constant equal to `value` everywhere, with only length-1 axes
    (so that it never changes the shape of what it is combined with)."""
    if not isinstance(v, Constant):
        return False
    data = np.asarray(v.data)
    return data.size == 1 and bool(np.all(data == value))


def _neutral(value: float, left: bool = True, right: bool = True):
    """x op c -> x (and c op x -> x) for a neutral constant c."""
    def rule(node: Apply) -> Variable | None:
        x, y = node.inputs
        if right and is_constant(y, value):
            return x
        if left and is_constant(x, value):
            return y
        return None
    return rule


def _double_neg(node: Apply) -> Variable | None:
    return input_of(node.inputs[0], "neg")


def _same_dtype_cast(node: Apply) -> Variable | None:
    if not (scalar_name(node) or "").startswith("cast_"):
        return None
    (x,) = node.inputs
    return x if x.type == node.outputs[0].type else None


def _identity(node: Apply) -> Variable | None:
    return node.inputs[0]


def _covers(big: Variable, small: Variable) -> bool:
    """Whether `small` broadcast against `big` certainly has `big`'s shape at run time."""
    if big is small:
        return True
    return all(s == 1 or (s is not None and s == b)
               for b, s in zip(big.type.shape, small.type.shape))


def _second(node: Apply) -> Variable | None:
    """second(x, y) -> y when broadcasting against x cannot change y's shape."""
    x, y = node.inputs
    return y if _covers(y, x) else None


def _identity_dimshuffle(node: Apply) -> Variable | None:
    op = node.op
    return node.inputs[0] if op.new_order == tuple(range(op.input_ndim)) else None


def dimshuffle_of_dimshuffle(node: Apply) -> Variable | None:
    """Two views in a row become one (a double transpose becomes the identity)."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    order = [a if a == "x" else inner.op.new_order[a] for a in node.op.new_order]
    x = inner.inputs[0]
    if order == list(range(x.ndim)):
        return x
    try:
        return DimShuffle(x.ndim, order)(x)
    except ValueError:
        return None


def _empty_sum(node: Apply) -> Variable | None:
    return node.inputs[0] if not node.op.axis else None


NOOPS = RuleTable("noop", [
    Rule("mul_by_one", "mul", _neutral(1)),
    Rule("add_zero", "add", _neutral(0)),
    Rule("sub_zero", "sub", _neutral(0, left=False)),
    Rule("div_by_one", "true_div", _neutral(1, left=False)),
    Rule("pow_one", "pow", _neutral(1, left=False)),
    Rule("neg_neg", "neg", _double_neg),
    Rule("identity", "identity", _identity),
    Rule("second_same_shape", "second", _second),
    Rule("identity_dimshuffle", DimShuffle, _identity_dimshuffle),
    Rule("dimshuffle_dimshuffle", DimShuffle, dimshuffle_of_dimshuffle),
    Rule("sum_no_axes", Sum, _empty_sum),
    Rule("cast_same_dtype", Elemwise, _same_dtype_cast),
])
