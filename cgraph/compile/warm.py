"""Warm starts that skip the rewrites and the lowering: a record per graph as built.

`function` names the graph the user built (`graph_key`: one linear pass over its nodes,
before any rewrite) and looks up a record (`cgraph.backend.records`) holding what the
rewrites and the lowering made of it last time: the rewritten graph, the `Lowered`
program, the rewrite statistics and the program's name in the module index. A hit
rebuilds them (`restore`) and goes straight to loading the module.

The key holds everything the rewrites and the lowering read: each node's op (its
pickle: class and parameters), the input positions, every variable's type and name
(names reach the C's comments and the error messages), each node's creation trace,
the constants' dtypes, shapes and bytes, the configuration, cgraph's Python sources
and the C generator's digest. Ids never enter it. A record is trusted only after
its payload digest matches (`records`) and the rebuilt graph has the caller's inputs
(by position and type) and outputs (count, dtype and rank); anything else reads as a
miss, and the caller rewrites and lowers as usual (and records again).

The graph is stored flat (variables and nodes as lists of their attributes, linked by
position), so that a deep graph pickles without recursion; the `Lowered` fields keyed
by `id(...)` are stored as (object, value) pairs and keyed again on the rebuilt
objects.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import io
import itertools
import os
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph import backend
from cgraph._version import __version__
from cgraph.backend.identity import source_files, tree_digest
from cgraph.backend.records import read_record, write_record
from cgraph.codegen.lower import Lowered
from cgraph.compile.toolchain import build_options, digest_root, generator_digest
from cgraph.configdefaults import Config
from cgraph.graph.basic import Apply, Constant, Variable, toposort
from cgraph.graph.fg import FunctionGraph
from cgraph.kernel import ParamLayout
from cgraph.tensor.type import TensorType

__all__ = ["Prepared", "graph_key", "restore", "store"]

_PROTOCOL = 5


@dataclasses.dataclass
class Prepared:
    """What a warm start hands `CompiledModule`: the lowered program, and its name in
    the module index with the repr of the build options that name was made with."""

    lowered: Lowered
    index_key: str
    options: str


class _Unsupported(Exception):
    """The graph holds something the key cannot name: no record for it."""


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


def graph_key(inputs: Sequence[Variable], outputs: Sequence[Variable], cfg: Config,
              optimizer: str, profiled: bool, nodes: Sequence[Apply] | None = None
              ) -> str | None:
    """The name of the graph from `inputs` to `outputs` as built, with the settings that
    decide what the rewrites and the lowering make of it; None when some part of it
    cannot be named (a variable that is neither an input nor a constant: the caller's
    usual path reports it). `nodes`: `toposort(outputs, stop=inputs)` when the caller
    has it."""
    number: dict[int, int] = {id(v): k for k, v in enumerate(inputs)}
    # Types by value, numbered: a tensor type by its fields (all plain, so equal fields
    # pickle alike), any other by its pickle. Ops, tags and names go into the one
    # pickle at the end as they are (its memo pickles a shared op once).
    types: dict[Any, int] = {}

    def type_code(t: Any) -> int:
        k = tuple(vars(t).values()) if type(t) is TensorType else pickle.dumps(t, _PROTOCOL)
        return types.setdefault(k, len(types))

    entries: list[Any] = [[(type_code(v.type), v.name) for v in inputs]]

    def constant(v: Variable) -> int:
        if v.owner is not None or not isinstance(v, Constant):
            raise _Unsupported
        k = number[id(v)] = len(number)
        entries.append(("c", type_code(v.type), v.name, _constant_key(v), v.tag))
        return k

    try:
        get = number.get
        for node in toposort(outputs, stop=inputs) if nodes is None else nodes:
            refs = tuple(map(get, map(id, node.inputs)))
            if None in refs:
                refs = tuple(constant(v) if k is None else k for v, k in zip(node.inputs, refs))
            outs = []
            for o in node.outputs:
                number[id(o)] = len(number)
                t = o.type
                code = types.get(tuple(vars(t).values())) if type(t) is TensorType else None
                if code is None:
                    code = type_code(t)
                outs.append((code, o.name, o.tag) if o.name is not None or o.tag else code)
            tag = node.tag  # usually {"trace": "file:line"}: the line alone pickles faster
            entries += (node.op, refs, outs,
                        tag["trace"] if len(tag) == 1 and "trace" in tag else tag)
        entries.append([constant(v) if number.get(id(v)) is None else number[id(v)]
                        for v in outputs])
        named = (_settings(cfg, optimizer, profiled), list(types), entries)
        return hashlib.sha256(pickle.dumps(named, _PROTOCOL)).hexdigest()
    except (_Unsupported, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None


def walk(outputs: Sequence[Variable]) -> tuple[list[Apply], list[Variable]]:
    """The nodes computing `outputs` in `toposort`'s order (what `graph_key` reads) and
    the leaves feeding them in `graph_inputs`' order, from one traversal."""
    nodes = toposort(outputs)
    seen: set[int] = set()
    leaves = []
    for v in itertools.chain.from_iterable(node.inputs for node in nodes):
        if v.owner is None and id(v) not in seen:
            seen.add(id(v))
            leaves.append(v)
    leaves += [v for v in outputs if v.owner is None and id(v) not in seen
               and not seen.add(id(v))]
    return nodes, leaves


# ----------------------------------------------------------------- the record


class _Pickler(pickle.Pickler):
    """Pickles the graph's own variables and nodes as references to the flat table
    (`refs`), layouts from their fields and lowered programs by `_reduce_lowered`."""

    def __init__(self, file: io.BytesIO, refs: dict[int, int]):
        super().__init__(file, _PROTOCOL)
        self.refs = refs

    def persistent_id(self, obj: Any) -> Any:
        return self.refs.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        # A layout is made again from its fields: its derived parts are compared by
        # identity (`kind is _INTS`), which a copy of them would not keep.
        if type(obj) is ParamLayout:
            return _layout, (obj.kernel, obj.fields)
        if type(obj) is Lowered:
            return _reduce_lowered(obj)
        return NotImplemented


@functools.lru_cache(maxsize=4096)
def _layout(kernel: str, fields: tuple) -> ParamLayout:
    return ParamLayout(kernel, **dict(fields))  # immutable: equal layouts are shared


def _reduce_lowered(lowered: Lowered) -> tuple:
    """A `Lowered` (the function's, or a scan step's inside its op) with its fields
    keyed by `id(...)` stored as (object, value) pairs; raises PicklingError when
    ids also appear in its values (a lazy ifelse's guards)."""
    if lowered.guards:
        raise pickle.PicklingError("guards hold node ids")
    fgraph = lowered.fgraph
    objects: dict[int, Any] = {id(v): v for v in fgraph.inputs}
    for node in lowered.nodes:
        objects[id(node)] = node
        for v in (*node.inputs, *node.outputs):
            objects[id(v)] = v
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(lowered):
        value = getattr(lowered, f.name)
        if f.name == "nodes_by_id" and value == {id(n): n for n in lowered.nodes}:
            continue  # made again from the nodes
        if isinstance(value, dict) and value:
            if not all(k in objects for k in value):
                raise pickle.PicklingError(f"Lowered.{f.name} is keyed by something else")
            value = _ById([[objects[k] for k in value], list(value.values())])
        fields[f.name] = value
    return _lowered_from, (fields,)


class _ById(list):
    """A dict keyed by `id(object)`, pickled as [its objects, their values]."""


def _lowered_from(fields: dict) -> Lowered:
    for name, value in fields.items():
        if isinstance(value, _ById):
            fields[name] = dict(zip(map(id, value[0]), value[1]))
    fields.setdefault("nodes_by_id", {id(n): n for n in fields["nodes"]})
    return Lowered(**fields)


def _dump(fgraph: FunctionGraph, prepared: Prepared, rewrites: dict) -> bytes | None:
    """The record of `fgraph` (rewritten and lowered) and `prepared`, or None when
    something in it does not pickle faithfully."""
    lowered = prepared.lowered
    variables: list[Variable] = list(fgraph.inputs)
    seen = {id(v) for v in variables}
    for node in lowered.nodes:
        for v in node.inputs:
            if id(v) not in seen:
                if v.owner is not None or not isinstance(v, Constant):
                    return None
                seen.add(id(v))
                variables.append(v)
        for v in node.outputs:
            seen.add(id(v))
            variables.append(v)
    if any(id(v) not in seen for v in fgraph.outputs):
        return None
    refs = {id(v): k for k, v in enumerate(variables)}
    refs.update({id(n): len(variables) + j for j, n in enumerate(lowered.nodes)})
    n_in = len(fgraph.inputs)
    table = (
        n_in,
        [v.type for v in fgraph.inputs],
        [(type(v), {a: x for a, x in vars(v).items() if a != "owner"})
         for v in variables[n_in:]],
        [(type(n), {a: x for a, x in vars(n).items() if a not in ("inputs", "outputs")},
          [refs[id(v)] for v in n.inputs], [refs[id(v)] for v in n.outputs])
         for n in lowered.nodes],
        [refs[id(v)] for v in fgraph.outputs],
    )
    out = io.BytesIO()
    try:
        _Pickler(out, {}).dump(table)
        refs[id(fgraph)] = len(refs)
        _Pickler(out, refs).dump((lowered, rewrites, prepared.index_key, prepared.options))
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None
    return out.getvalue()


class _Unpickler(pickle.Unpickler):
    """Reads references to the flat table: `objects[k]` for the persistent id k."""

    def __init__(self, file: io.BytesIO, objects: list):
        super().__init__(file)
        self.persistent_load = objects.__getitem__  # no Python frame per reference


def _load(payload: bytes, inputs: Sequence[Variable], outputs: Sequence[Variable]
          ) -> tuple[FunctionGraph, dict, Prepared] | None:
    source = io.BytesIO(payload)
    n_in, in_types, var_states, node_states, out_refs = _Unpickler(source, []).load()
    if n_in != len(inputs) or any(t != v.type for t, v in zip(in_types, inputs)):
        return None
    variables: list[Any] = [v.clone() for v in inputs]
    for cls, state in var_states:
        v = cls.__new__(cls)
        v.__dict__ = state  # a fresh dict of the unpickler's: taken, not copied
        v.owner = None
        variables.append(v)
    nodes = []
    at = variables.__getitem__
    for cls, state, ins, outs in node_states:
        node = cls.__new__(cls)
        node.__dict__ = state
        node.inputs = list(map(at, ins))
        node.outputs = list(map(at, outs))
        for o in node.outputs:
            o.owner = node
        nodes.append(node)
    fgraph = FunctionGraph.__new__(FunctionGraph)
    fgraph.inputs = variables[:n_in]
    fgraph._nodes = set()
    fgraph.outputs = [variables[k] for k in out_refs]
    if len(fgraph.outputs) != len(outputs) or any(
            (a.type.dtype, a.type.ndim) != (b.type.dtype, b.type.ndim)
            for a, b in zip(fgraph.outputs, outputs)):
        return None
    lowered, rewrites, index_key, options = _Unpickler(source, [*variables, *nodes, fgraph]).load()
    if type(lowered) is not Lowered or lowered.fgraph is not fgraph:
        return None
    return fgraph, rewrites, Prepared(lowered, index_key, options)


def _options(cfg: Config) -> backend.BuildOptions:
    return build_options(cfg)


def restore(key: str, inputs: Sequence[Variable], outputs: Sequence[Variable],
            cfg: Config) -> tuple[FunctionGraph, dict, Prepared] | None:
    """The rewritten graph, rewrite statistics and lowered program recorded under
    `key`, rebuilt on clones of `inputs`; None when there is no such record or it does
    not hold together."""
    root = backend.cache_dir(cfg.cache_dir or None)
    payload = read_record(key, _options(cfg), root)
    if payload is None:
        return None
    collecting = gc.isenabled()
    gc.disable()  # the rebuilt objects all live on: collecting them meanwhile is waste
    try:
        return _load(payload, inputs, outputs)
    except Exception:  # noqa: BLE001 - a record that does not rebuild is a miss
        return None
    finally:
        if collecting:
            gc.enable()


def store(key: str, fgraph: FunctionGraph, prepared: Prepared, rewrites: dict,
          cfg: Config) -> None:
    """Record what the rewrites and the lowering made of the graph named `key`."""
    payload = _dump(fgraph, prepared, rewrites)
    if payload is not None:
        root = backend.cache_dir(cfg.cache_dir or None)
        write_record(key, payload, _options(cfg), root)
