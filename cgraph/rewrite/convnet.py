"""Convnet rewrites: max pooling before a monotone activation, and a convolution's
elementwise consumer run in the convolution's kernel.

`pool_first`: max-pooling `f(z)` gives `f(max-pool(z))` when `f` is nondecreasing and
maps a NaN only to NaN (the pool propagates NaN), so the activation runs on the pooled
(smaller) array: `f` a monotone unary op (tanh, sigmoid, softplus, exp, ...), maximum
or minimum with a value constant over each window (a channel's bias), or adding or
subtracting (second operand) a finite constant. Rounding keeps the order (fl(z + c)
is nondecreasing in z), so these are exact; a libm function agrees to its rounding.
A bias that is not a constant stays before the pool: z + b maps -inf to NaN when b is
+inf, and the pool of the NaN is NaN where b + max-pool(z) is not.
It fires only where the pool is the activation's only reader: a gradient's MaxPoolGrad
routes to the arg-max of the activation, whose ties (saturated tanh, relu's zeros) are
not those of z. Theano's relu, switch(z > 0, z, 0), maps NaN to 0 and is left alone
(max-pool(relu([NaN, 3])) is 3, relu(max-pool([NaN, 3])) is 0).

`conv_epilogue`: a forward convolution whose only reader is an elementwise chain over
per-channel operands (`act(conv2d(x, W) + b.dimshuffle('x', 0, 'x', 'x'))`; relu's
three nodes are one link) becomes one `ConvEpilogue` node computing the chain over
each block of output rows while it is in cache. The chain grows while its value is
read by elementwise nodes only, none of whose other inputs varies within a channel,
and ends at the first value read elsewhere (a gradient) or of another dtype.
"""

from __future__ import annotations

import os

import numpy as np

from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.driver import Rule, RuleTable, graph_rewrite, scalar_name
from cgraph.tensor.conv_ops import _ConvForward
from cgraph.tensor.elemwise import Composite, CompositeStep
from cgraph.tensor.nnet.conv_epilogue import ConvEpilogue, per_channel
from cgraph.tensor.pool import Pool

#: unary ops that are nondecreasing on the reals and give NaN only for NaN
MONOTONE = frozenset({"tanh", "sigmoid", "softplus", "exp", "expm1", "exp2", "sinh",
                      "arcsinh", "arctan", "erf", "cbrt"})
#: binary ops nondecreasing in their first operand (all: in either operand)
MONOTONE_IN = {"add": (0, 1), "sub": (0,), "maximum": (0, 1), "minimum": (0, 1)}


def _is_output(v: Variable, fgraph: FunctionGraph) -> bool:
    return any(v is o for o in fgraph.outputs)


def _finite_constant(v: Variable) -> bool:
    """Whether `v` is a constant of finite values (z + inf maps -inf to NaN)."""
    return isinstance(v, Constant) and bool(np.isfinite(v.data).all())


def _window_constant(v: Variable) -> bool:
    """Whether `v` has one value over every pooling window by its type (length 1 on
    the rows and columns)."""
    return v.type.ndim == 4 and v.type.shape[2] == 1 and v.type.shape[3] == 1


def _pool_first(node: Apply, fgraph: FunctionGraph) -> Variable | None:
    op = node.op
    x = node.inputs[0]
    inner = x.owner
    name = scalar_name(inner)
    if op.mode != "max" or name is None or len(fgraph.clients().get(id(x), ())) != 1 \
            or _is_output(x, fgraph) or not x.dtype.startswith("float"):
        return None
    args = inner.inputs
    if name in MONOTONE:
        return inner.op(_pooled(op, args[0]))
    varying = [k for k, a in enumerate(args) if not _window_constant(a)]
    if name in ("add", "sub") and not all(_finite_constant(a) for k, a in enumerate(args)
                                          if k not in varying):
        return None
    if name in MONOTONE_IN and len(varying) == 1 and varying[0] in MONOTONE_IN[name]:
        k = varying[0]
        new_args = list(args)
        new_args[k] = _pooled(op, args[k])
        return inner.op(*new_args)
    return None


def _pooled(op: Pool, z: Variable) -> Variable:
    return Pool(op.ws, op.ignore_border, op.stride, op.pad, op.mode)(z)


def pool_first(fgraph: FunctionGraph) -> dict[str, int]:
    """Rewrite max-pool(f(z)) as f(max-pool(z)) where the module docstring proves it."""
    table = RuleTable("pool_first", [Rule("pool_first", Pool,
                                          lambda node: _pool_first(node, fgraph))])
    return graph_rewrite(fgraph, table)


def _note(node: Apply) -> str:
    path, _, line = node.tag.get("trace", "").rpartition(":")
    return f"{scalar_name(node)}" + (f" at {os.path.basename(path)}:{line}" if path else "")


def _link(v: Variable, fgraph: FunctionGraph, inside: set[int], nd: int
          ) -> list[Apply] | None:
    """The elementwise readers of `v` when they form one link of the chain: each reads
    only values of the chain, of the link or per-channel operands; exactly one of their
    outputs (the link's value, of v's dtype) is read outside the link. Else None."""
    clients = fgraph.clients()
    readers = list({id(n): n for n, _ in clients.get(id(v), ())}.values())
    if not readers or any(scalar_name(n) is None for n in readers):
        return None
    members = {id(n) for n in readers}
    made = {id(n.outputs[0]) for n in readers}
    for n in readers:
        if not all(id(u) in inside or id(u) in made or per_channel(u, nd) for u in n.inputs):
            return None
    sinks = [n for n in readers
             if _is_output(n.outputs[0], fgraph)
             or any(id(c) not in members for c, _ in clients.get(id(n.outputs[0]), ()))
             or id(n.outputs[0]) not in clients]
    if len(sinks) != 1 or sinks[0].outputs[0].dtype != v.dtype:
        return None
    order = {id(n): k for k, n in enumerate(fgraph.toposort())}
    return sorted(readers, key=lambda n: order[id(n)])


def _epilogue(node: Apply, fgraph: FunctionGraph) -> tuple[Apply, Variable] | None:
    """The ConvEpilogue node replacing the convolution `node` and its chain, and the
    chain's last value; None when no elementwise node can join."""
    v = node.outputs[0]
    nd = node.op.nd
    inside = {id(v)}
    group: list[Apply] = []
    while not _is_output(v, fgraph):
        link = _link(v, fgraph, inside, nd)
        if link is None:
            break
        group += link
        inside |= {id(n.outputs[0]) for n in link}
        v = link[-1].outputs[0]
    if not group:
        return None
    conv = node.outputs[0]
    number = {id(conv): 0}
    extras: list[Variable] = []
    for n in group:
        for u in n.inputs:
            if id(u) not in number and id(u) not in inside:
                number[id(u)] = 1 + len(extras)
                extras.append(u)
    steps = []
    for n in group:
        out = n.outputs[0]
        steps.append(CompositeStep(n.op.scalar_op, tuple(number[id(u)] for u in n.inputs),
                                   out.dtype, _note(n)))
        number[id(out)] = 1 + len(extras) + len(steps) - 1
    comp = Composite((conv.dtype, *[u.dtype for u in extras]), tuple(steps), (number[id(v)],))
    op = ConvEpilogue(nd, comp, **node.op._params())
    return op.make_node(*node.inputs, *extras), v


def conv_epilogue(fgraph: FunctionGraph) -> dict[str, int]:
    """Each forward convolution with an elementwise chain as its only reader: one
    ConvEpilogue node (see the module docstring)."""
    fused = 0
    for node in fgraph.toposort():
        if type(node.op) is ConvEpilogue or not isinstance(node.op, _ConvForward):
            continue
        found = _epilogue(node, fgraph)
        if found is None:
            continue
        new, old = found
        if new.outputs[0].type != old.type:
            continue
        new.tag = dict(node.tag)
        fgraph.replace(old, new.outputs[0])
        fused += 1
    return {"conv_epilogue": fused} if fused else {}


def convnet_rewrites(fgraph: FunctionGraph) -> dict[str, int]:
    """`pool_first`, then `conv_epilogue` (the pipeline runs them before fusion)."""
    return {**pool_first(fgraph), **conv_epilogue(fgraph)}


__all__ = ["MONOTONE", "MONOTONE_IN", "conv_epilogue", "convnet_rewrites", "pool_first"]
