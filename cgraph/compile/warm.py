"""Warm starts that skip the rewrites, the lowering and the planning: a record per graph.

`function` names the graph the user built (`graph_key`, before any rewrite) and looks
up its record (`cgraph.backend.records`), made of three entries:

- the front, read on every warm start: what the function's front end needs to load its
  module and call it (`Prepared`: the module's name in the index, the entry point, the
  constants passed to each call, the inputs whose values shape a call), the rewrite
  statistics, the input and output types the record was made for and the digest of
  the graph entry;
- the graph, read on first use (`Prepared.load`): the rewritten graph and its
  `Lowered` program, stored flat (variables and nodes as lists of their attributes,
  linked by position) so that a deep graph pickles without recursion; the `Lowered`
  fields keyed by `id(...)` are stored as (object, value) pairs and keyed again on the
  rebuilt objects. A call of a shape no plan exists for, an error naming a node and
  `c_source` need it. When it is gone or is not the one the front names, the graph as
  built is rewritten and lowered again (`Prepared.remake`) and recorded again;
- the plans: the call plans processes made (`Record.add_plan`; at most `MAX_PLANS`, and
  never a plan holding values only its own process can read, such as a scan's
  callback address), so that a new process calls shapes planned before without the
  graph.

A record is trusted only after its digest matches (`records`) and its input types (by
position) and output dtypes and ranks are the caller's; anything else reads as a miss,
and the caller rewrites and lowers as usual (and records again).
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import io
import pickle
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from cgraph import backend
from cgraph.backend.records import read_record, write_record
from cgraph.codegen.lower import Lowered
from cgraph.compile.toolchain import build_options
from cgraph.configdefaults import Config
from cgraph.graph.basic import Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.kernel import ParamLayout

__all__ = ["MAX_PLANS", "GraphFace", "Prepared", "Record", "keep_record", "restore", "store"]

_PROTOCOL = 5
#: The most call plans kept beside a record.
MAX_PLANS = 8


@dataclasses.dataclass
class Prepared:
    """What a compiled function's front end needs from its lowered program: its name in
    the module index (with the repr of the build options it was made with), the entry
    point, whether the module links BLAS, the plan's length, the constants passed to
    each call and the inputs whose values shape a call. `lowered` is None until `load`
    (a warm start's) rebuilds the rewritten graph and its program from the record, or,
    when the record's graph is gone, `remake` rewrites the graph as built again (to be
    lowered); `plans` are call plans made before, as (shapes, P, output shapes,
    updates in place)."""

    index_key: str
    options: str
    entry: str
    blas: bool
    n_slots: int
    arg_constants: list[np.ndarray]
    value_args: tuple[int, ...]
    lowered: Lowered | None = None
    load: Callable[[], tuple[FunctionGraph, Lowered] | None] | None = None
    remake: Callable[[], FunctionGraph] | None = None
    plans: list[tuple] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, lowered: Lowered, index_key: str, options: str, blas: bool) -> Prepared:
        """The front of `lowered`, a program at hand."""
        program = lowered.program
        return cls(index_key, options, program.entry, blas, program.n_slots,
                   list(lowered.arg_constants), tuple(lowered.value_args), lowered)

    def front(self) -> tuple:
        """The fields a record keeps (all but the program and the plans)."""
        return (self.index_key, self.options, self.entry, self.blas, self.n_slots,
                self.arg_constants, self.value_args)


class GraphFace(NamedTuple):
    """The inputs and outputs of a graph a warm start has not rebuilt yet: clones of the
    caller's inputs (the graph's own once it is rebuilt) and the caller's outputs (of
    the graph's outputs' dtypes and ranks)."""

    inputs: list[Variable]
    outputs: list[Variable]


# ----------------------------------------------------------------- the graph part


class _Pickler(pickle.Pickler):
    """Pickles the graph's own variables and nodes as references to the flat table
    (`refs`: id -> position), layouts from their fields and lowered programs by
    `_reduce_lowered`.

    A reference is a call of `_at`, which `_Unpickler` reads as an index into the
    table. (`persistent_id` would do it too, but the pickler calls it for every object,
    ints and strings included: half the time of a large record's pickling.)"""

    def __init__(self, file: io.BytesIO, refs: dict[int, int]):
        super().__init__(file, _PROTOCOL)
        self.refs = refs

    def reducer_override(self, obj: Any) -> Any:
        at = self.refs.get(id(obj))
        if at is not None:
            return _at, (at,)
        # A layout is made again from its fields: its derived parts are compared by
        # identity (`kind is _INTS`), which a copy of them would not keep.
        if type(obj) is ParamLayout:
            return _layout, (obj.kernel, obj.fields)
        if type(obj) is Lowered:
            return _reduce_lowered(obj)
        return NotImplemented


def _at(position: int) -> Any:
    """A reference to a record's flat table, which only `_Unpickler` can read."""
    raise pickle.UnpicklingError(f"a reference to entry {position} of a record's table, "
                                 "read without the table")


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


def _dump_graph(fgraph: FunctionGraph, lowered: Lowered) -> bytes | None:
    """The graph part of a record: `fgraph` (rewritten) and `lowered`, or None when
    something in it does not pickle faithfully."""
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
        _Pickler(out, refs).dump(lowered)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None
    return out.getvalue()


class _Unpickler(pickle.Unpickler):
    """Reads references to the flat table (`_at(k)`) as `objects[k]`."""

    def __init__(self, file: io.BytesIO, objects: list):
        super().__init__(file)
        self.objects = objects

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_at":
            return self.objects.__getitem__  # no Python frame per reference
        return super().find_class(module, name)


def _load_graph(payload: bytes | memoryview, inputs: Sequence[Variable], n_outputs: int
                ) -> tuple[FunctionGraph, Lowered] | None:
    """The graph part rebuilt on `inputs` (the graph's inputs, taken as they are); None
    when it does not hold together."""
    source = io.BytesIO(payload)
    n_in, var_states, node_states, out_refs = _Unpickler(source, []).load()
    if n_in != len(inputs) or len(out_refs) != n_outputs:
        return None
    variables: list[Any] = list(inputs)
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
    lowered = _Unpickler(source, [*variables, *nodes, fgraph]).load()
    if type(lowered) is not Lowered or lowered.fgraph is not fgraph:
        return None
    return fgraph, lowered


# ----------------------------------------------------------------- records


def _root(cfg: Config) -> Any:
    return backend.cache_dir(cfg.cache_dir or None)


def _options(cfg: Config) -> backend.BuildOptions:
    return build_options(cfg)  # records are named on the modules' identity


def _signature(variables: Sequence[Variable]) -> list[tuple[str, int]]:
    return [(v.type.dtype, v.type.ndim) for v in variables]


def _graph_name(key: str) -> str:
    return "graph\0" + key


class GraphDump:
    """The graph part of a function's record, made while its module compiles: called
    with the `Prepared` of the lowering (`CompiledModule`'s `meanwhile`), it pickles the
    rewritten graph then, on the core the compiler leaves (about 10 ms of the residual
    chain's 50 layers), instead of after the compile."""

    def __init__(self, fgraph: FunctionGraph):
        self.fgraph = fgraph
        self.made = False
        self.payload: bytes | None = None

    def __call__(self, prepared: Prepared) -> None:
        self.payload, self.made = _dump_graph(self.fgraph, prepared.lowered), True


def store(key: str, fgraph: FunctionGraph, prepared: Prepared, rewrites: dict,
          cfg: Config, dump: GraphDump | None = None) -> bool:
    """Record what the rewrites and the lowering made of the graph named `key` (its
    graph part from `dump` when made); whether a record was written (not when
    something in it does not pickle)."""
    made = dump is not None and dump.made
    graph = dump.payload if made else _dump_graph(fgraph, prepared.lowered)
    if graph is None:
        return False
    try:
        front = pickle.dumps((len(fgraph.inputs), [v.type for v in fgraph.inputs],
                              _signature(fgraph.outputs), prepared.front(), rewrites,
                              hashlib.sha256(graph).digest()), _PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    options, root = _options(cfg), _root(cfg)
    write_record(_graph_name(key), graph, options, root)  # first: the front names it
    write_record(key, front, options, root)
    return True


def keep_record(key: str, compiled: Any, fgraph: FunctionGraph | None, rewrites: dict,
                cfg: Config, dump: GraphDump | None = None) -> None:
    """After `function` built `compiled` (a `CompiledModule`) for the graph named `key`:
    record its rewritten graph `fgraph` (on a miss; None on a hit) and program, and give
    it its `Record` (`dump`: the graph part, if made meanwhile)."""
    if fgraph is not None and not store(key, fgraph, compiled.prepared, rewrites, cfg, dump):
        return
    compiled.record = Record(key, cfg, compiled.prepared, rewrites)


def restore(key: str, inputs: Sequence[Variable], outputs: Sequence[Variable],
            cfg: Config) -> tuple[GraphFace, dict, Prepared] | None:
    """The record of `key` for a function from `inputs` to `outputs`: a face of its
    graph on clones of `inputs`, its rewrite statistics and its `Prepared` (whose
    `load` rebuilds the graph and its program on those clones, or gives None when the
    graph's part of the record is gone or is not the one the front names); None when
    there is no such record or it does not fit."""
    options, root = _options(cfg), _root(cfg)
    payload = read_record(key, options, root)
    if payload is None:
        return None
    try:
        n_in, in_types, out_types, front, rewrites, digest = pickle.loads(payload)
        prepared = Prepared(*front)
    except Exception:  # noqa: BLE001 - a record that does not read is a miss
        return None
    if (n_in != len(inputs) or any(t != v.type for t, v in zip(in_types, inputs))
            or out_types != _signature(outputs)):
        return None
    face = GraphFace([v.clone() for v in inputs], list(outputs))
    prepared.load = functools.partial(_rebuild, _graph_name(key), digest, options, root,
                                      face.inputs, len(outputs))
    prepared.plans = _read_plans(key, prepared, options, root)
    return face, rewrites, prepared


def _rebuild(name: str, digest: bytes, options: backend.BuildOptions, root: Any,
             inputs: list[Variable], n_outputs: int) -> tuple[FunctionGraph, Lowered] | None:
    graph = read_record(name, options, root)
    if graph is None or hashlib.sha256(graph).digest() != digest:
        return None
    collecting = gc.isenabled()
    gc.disable()  # the rebuilt objects all live on: collecting them meanwhile is waste
    try:
        return _load_graph(graph, inputs, n_outputs)
    except Exception:  # noqa: BLE001 - a graph that does not rebuild is none
        return None
    finally:
        if collecting:
            gc.enable()


# ----------------------------------------------------------------- plans


def _plans_name(key: str) -> str:
    return "plans\0" + key


def _read_plans(key: str, prepared: Prepared, options: backend.BuildOptions, root: Any
                ) -> list[tuple]:
    payload = read_record(_plans_name(key), options, root)
    if payload is None:
        return []
    try:
        index_key, plans = pickle.loads(payload)
        if index_key != prepared.index_key:
            return []
        kept = []
        for shapes, params, out_shapes, in_place in plans[:MAX_PLANS]:
            P = np.frombuffer(params, dtype=np.int64).copy()
            if P.size != prepared.n_slots:
                return []
            kept.append((tuple(map(tuple, shapes)), P, tuple(map(tuple, out_shapes)),
                         tuple(map(bool, in_place))))
        return kept
    except Exception:  # noqa: BLE001 - plans that do not read are none
        return []


class Record:
    """The warm-start record of one function's graph, named `key`, as its module uses it:
    `add_plan` keeps the plan a call made (at most `MAX_PLANS`, and only when its P
    holds just the program's own slots: a plan with a tail holds values of this process,
    such as a scan's callback address); `store_graph` records a graph rewritten and
    lowered again (when the record's graph part was lost)."""

    def __init__(self, key: str, cfg: Config, prepared: Prepared, rewrites: dict):
        self.key = key
        self.cfg = cfg
        self.rewrites = rewrites
        self.index_key = prepared.index_key
        self.n_slots = prepared.n_slots
        self.plans = list(prepared.plans)
        self._options, self._root = _options(cfg), _root(cfg)

    def add_plan(self, shapes: tuple, params: np.ndarray, out_shapes: tuple,
                 in_place: tuple) -> None:
        """Keep the plan of a call with arrays of `shapes` (and record it)."""
        if (len(self.plans) >= MAX_PLANS or params.dtype != np.int64
                or params.size != self.n_slots
                or any(tuple(map(tuple, p[0])) == tuple(map(tuple, shapes))
                       for p in self.plans)):
            return
        self.plans.append((shapes, params, out_shapes, in_place))
        stored = [(s, P.tobytes(), o, i) for s, P, o, i in self.plans]
        write_record(_plans_name(self.key), pickle.dumps((self.index_key, stored), _PROTOCOL),
                     self._options, self._root)

    def store_graph(self, fgraph: FunctionGraph, prepared: Prepared) -> None:
        """Record `fgraph` and its lowered program (`prepared.lowered`) again."""
        store(self.key, fgraph, prepared, self.rewrites, self.cfg)
