"""The name of a graph as the user built it, for the warm-start records (`warm`).

`graph_key` is one linear pass over the nodes before any rewrite. It holds everything
the rewrites and the lowering read: each node's op (its pickle: class and
parameters), the input positions, every variable's type and name (names reach the C's
comments and the error messages), each node's creation trace, the constants' dtypes,
shapes and bytes, which outputs are the function's and which update which input, the
configuration, cgraph's Python sources and the C generator's digest. Ids never enter
it. `walk` is `function`'s one traversal of the graph, whose nodes the key reads.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from array import array
from collections.abc import Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import numpy as np

from cgraph._version import __version__
from cgraph.backend.identity import source_files, tree_digest
from cgraph.compile.toolchain import digest_root, generator_digest
from cgraph.configdefaults import Config
from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.tensor.type import TensorType

__all__ = ["Walk", "code_of", "graph_key", "python_digest", "walk"]

_PROTOCOL = 5


@functools.cache
def python_digest() -> str:
    """sha256 of cgraph's Python sources (once per process, and remembered in the
    cache by the files' stat signature: `backend.tree_digest`)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    named = [(path, path) for path in source_files(package, ".py")]
    return tree_digest("python", named, f"cgraph {__version__}", digest_root())


def _settings(cfg: Config, optimizer: str, profiled: bool) -> str:
    values = {k: v for k, v in vars(cfg).items() if not k.startswith("_")}
    return repr((sorted(values.items()), optimizer, profiled, python_digest(),
                 generator_digest()))


def _constant_key(v: Constant) -> tuple:
    data = v.data
    if isinstance(data, np.ndarray | np.generic):
        data = np.ascontiguousarray(data)
        return (data.dtype.str, data.shape, data.tobytes())
    return ("object", pickle.dumps(data, _PROTOCOL))


class Walk(NamedTuple):
    """`walk`'s result: the nodes computing the outputs in `toposort`'s order, the
    leaves feeding them in `graph_inputs`' order, and the graph's form as `graph_key`
    reads it (None when some part of it cannot be named)."""

    nodes: list[Apply]
    leaves: list[Variable]
    form: _Form | None


class _Form(NamedTuple):
    codes: list[int]  # what `walk` says of each node's inputs and op, in its order
    ops: list[Any]  # by first use
    types: dict[Any, int]  # type (by value) -> code
    type_codes: list[int]  # of every node output, in order
    traces: list[Any]  # per node: its creation line (its whole tag when it has more)
    named: list[tuple]  # (number, name, tag) of named or tagged node outputs
    number: dict[int, int]  # id(variable) -> number (node outputs and leaves, as met)


#: `walk`'s code of a placed node, minus its op's number.
_PLACED = -(1 << 40)


def walk(outputs: Sequence[Variable]) -> Walk:
    """`function`'s one traversal of the graph computing `outputs`: `toposort`'s
    depth-first post-order, each node encoded for `graph_key` as it is visited.

    Each variable gets a number when it is first met (a leaf) or placed (a node's
    outputs). Per node, the codes say for each input its number, or, for an input whose
    node is not placed yet, -1 - its output index followed by that node's codes; then
    `_PLACED` minus the op's number and the count of outputs."""
    order: list[Apply] = []
    leaves: list[Variable] = []
    number: dict[int, int] = {}
    op_code: dict[int, int] = {}
    ops: list[Any] = []
    codes: list[int] = []
    types: list[Any] = []
    traces: list[Any] = []
    named: list[tuple] = []
    append, get = codes.append, number.get
    for out in outputs:
        node = out.owner
        if node is None or id(out) in number:
            continue
        stack = [(node, iter(node.inputs))]
        while stack:
            node, inputs = stack[-1]
            for inp in inputs:
                k = get(id(inp))
                if k is None:
                    parent = inp.owner
                    if parent is not None:  # its node is placed first
                        append(-1 - inp.index)
                        stack.append((parent, iter(parent.inputs)))
                        break
                    k = number[id(inp)] = len(number)
                    leaves.append(inp)
                append(k)
            else:  # every input placed: place the node
                stack.pop()
                order.append(node)
                op = node.op
                c = op_code.get(id(op))
                if c is None:
                    c = op_code[id(op)] = len(ops)
                    ops.append(op)
                outs = node.outputs
                codes += (_PLACED - c, len(outs))
                for o in outs:
                    number[id(o)] = len(number)
                    types.append(o.type)
                    if o.name is not None or o.tag:
                        named.append((len(number) - 1, o.name, o.tag))
                tag = node.tag  # usually {"trace": "file:line"}: the line alone
                traces.append(tag["trace"] if len(tag) == 1 and "trace" in tag else tag)
    for v in outputs:
        if v.owner is None and id(v) not in number:
            number[id(v)] = len(number)
            leaves.append(v)
    try:
        if set(map(type, types)) <= {TensorType}:
            keys = list(map(attrgetter("dtype", "shape"), types))
        else:
            keys = [(t.dtype, t.shape) if type(t) is TensorType else pickle.dumps(t, _PROTOCOL)
                    for t in types]
        codes_of = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        form = _Form(codes, ops, codes_of, list(map(codes_of.__getitem__, keys)), traces,
                     named, number)
    except (pickle.PicklingError, TypeError, AttributeError):
        form = None
    return Walk(order, leaves, form)


def graph_key(inputs: Sequence[Variable], outputs: Sequence[Variable], cfg: Config,
              optimizer: str, profiled: bool, walked: Walk | None = None,
              n_outputs: int | None = None, targets: Sequence[Variable] = ()) -> str | None:
    """The name of the graph from `inputs` to `outputs` as built, with the settings that
    decide what the rewrites and the lowering make of it; None when some part of it
    cannot be named (a leaf that is neither an input nor a constant: the caller's usual
    path reports it). The first `n_outputs` outputs (default: all) are the function's;
    the others are the new values of `targets` (inputs: its updates). `walked`:
    `walk(outputs)` when the caller has it."""
    nodes, leaves, form = walk(outputs) if walked is None else walked
    if form is None:
        return None
    position = {id(v): k for k, v in enumerate(inputs)}
    types = dict(form.types)
    try:
        described = [(code_of(v.type, types), v.name, type(v)) for v in inputs]
        for v in leaves:  # an input by its position, a constant by its value
            k = position.get(id(v))
            if k is not None:
                described.append((form.number[id(v)], k))
            elif v.owner is None and isinstance(v, Constant):
                described.append((form.number[id(v)], code_of(v.type, types), v.name,
                                  _constant_key(v), v.tag))
            else:
                return None
        head = (_settings(cfg, optimizer, profiled),
                len(outputs) if n_outputs is None else n_outputs,
                [position[id(v)] for v in targets], [form.number[id(v)] for v in outputs],
                described, list(types), form.named, form.traces)
        digest = hashlib.sha256(pickle.dumps(head, _PROTOCOL))
        digest.update(array("q", form.codes))
        digest.update(array("q", form.type_codes))
        digest.update(pickle.dumps(form.ops, _PROTOCOL))
        return digest.hexdigest()
    except (pickle.PicklingError, TypeError, AttributeError, KeyError, RecursionError):
        return None


def code_of(t: Any, types: dict[Any, int]) -> int:
    """The code of type `t` in `types` (by value; a new type gets the next code)."""
    k = (t.dtype, t.shape) if type(t) is TensorType else pickle.dumps(t, _PROTOCOL)
    return types.setdefault(k, len(types))
