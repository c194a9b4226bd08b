"""Mode "DebugMode" (also "DEBUG_MODE"): the compiled C checked against the numpy
reference on every call.

The function is compiled as in mode "C", and the graph as the user built it (before
any rewrite: what mode "PY" runs) is kept beside it. Each call runs the reference
in the numpy interpreter on the same arguments and shared values, then the C, and
compares every output and every shared variable's new value. The updates are
applied once, from the C.

Values agree when they have the same shape and, for integers and booleans, equal
elements; for floats, elements within Theano's tolerances (`TOLERANCES`: relative
1e-5 and absolute 1e-8 for float64, 1e-5 and 1e-5 for float32, 1e-3 for float16),
NaN equal to NaN. Where the reference is infinite or NaN and the C finite, the C is
accepted: that is what a stabilizing rewrite (`log(sigmoid(x))` -> `-softplus(-x)`)
is for, and Theano's DebugMode accepted it too.

On a disagreement, `DebugModeError` names the output or update, shows both values,
and says where it starts: the rewritten graph is evaluated node by node in the
interpreter, and the first node whose value disagrees with the reference value of
the variable it stands for (`TracedGraph`: the variable it replaced, for a node made
by a rewrite; the same node before rewrites, for the others) is named with its
`[id X]` label in `debugprint(f)`, its op, its inputs and the user's line. When the
rewritten graph agrees with the reference in numpy, the rewrites are right and the
node whose C computes the output is named instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.codegen.plan import describe
from cgraph.compile.pymode import interpreter
from cgraph.compile.signature import Signature
from cgraph.graph.basic import Apply, Constant, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.labels import node_labels

__all__ = ["TOLERANCES", "DebugModeError", "TracedGraph", "agree", "make_call"]

#: float dtype -> (relative, absolute) tolerance of a comparison (Theano's values).
TOLERANCES = {np.dtype("float16"): (1e-3, 1e-3), np.dtype("float32"): (1e-5, 1e-5),
              np.dtype("float64"): (1e-5, 1e-8)}
#: elements of a value shown in a message.
_SHOWN = 6


class DebugModeError(Exception):
    """The compiled C and the numpy reference disagree (mode "DebugMode")."""


class TracedGraph(FunctionGraph):
    """A copy of `reference` for the rewrites, that knows, for the variables the
    rewrites keep or make, the variable of `reference` whose value each must have.

    A node cloned from the reference stands for the node it was cloned from, and each
    of its inputs (rewrites swap them only for variables of equal value) for the
    reference node's input at the same position; a variable that `replace` puts in
    place of another stands for what that one stood for; output k for output k.
    """

    def __init__(self, reference: FunctionGraph):
        super().__init__(reference.inputs, reference.outputs)
        self.reference = reference
        self.clones: list[tuple[Apply, Apply]] = list(zip(self.toposort(),
                                                          reference.toposort()))
        self.traced: list[tuple[Variable, Variable]] = list(zip(self.inputs,
                                                                reference.inputs))
        for mine, theirs in self.clones:
            self.traced += zip(mine.outputs, theirs.outputs)
        self._index: dict[int, Variable] | None = None

    def _traced(self) -> dict[int, Variable]:
        if self._index is None:
            self._index = {}
            for mine, theirs in self.traced:
                self._index.setdefault(id(mine), theirs)
        return self._index

    def replace(self, old: Variable, new: Variable) -> None:
        super().replace(old, new)
        index = self._traced()
        if id(old) in index and id(new) not in index:
            self.traced.append((new, index[id(old)]))
            index[id(new)] = index[id(old)]

    def origins(self) -> dict[int, Variable]:
        """id(variable of this graph) -> the reference variable it stands for."""
        found = dict(self._traced())
        for mine, theirs in zip(self.outputs, self.reference.outputs):
            found.setdefault(id(mine), theirs)
        for mine, theirs in self.clones:
            if mine.op == theirs.op and len(mine.inputs) == len(theirs.inputs):
                for v, r in zip(mine.inputs, theirs.inputs):
                    found.setdefault(id(v), r)
        return found

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_index"] = None  # keyed by id(): rebuilt after unpickling
        return state


def agree(expected: Any, got: Any, dtype: np.dtype) -> bool:
    """Whether `got` (the C) agrees with `expected` (the reference), as the module
    docstring says."""
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        return False
    if dtype not in TOLERANCES:
        return bool(np.array_equal(expected, got))
    rtol, atol = TOLERANCES[dtype]
    with np.errstate(all="ignore"):
        close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        stabilized = ~np.isfinite(expected) & np.isfinite(got)
    return bool(np.all(close | stabilized))


def _show(value: Any) -> str:
    a = np.asarray(value)
    flat = a.ravel()
    items = np.array2string(flat[:_SHOWN], precision=17, separator=", ")
    more = f" ... ({a.size} elements)" if a.size > _SHOWN else ""
    return f"{a.dtype}{list(a.shape)} {items}{more}"


def _difference(expected: Any, got: Any) -> str:
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        return f"shapes differ: {got.shape} against {expected.shape}"
    if not expected.size:
        return ""
    with np.errstate(all="ignore"):
        gap = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    gap = np.where(np.isnan(gap), np.inf, gap)
    where = np.unravel_index(int(np.argmax(gap)), gap.shape)
    return f"largest difference {gap[where]:.6g} at index {tuple(int(i) for i in where)}"


def make_call(call: Callable[[tuple], Any], fgraph: FunctionGraph, reference: FunctionGraph,
              signature: Signature, label: str) -> Callable[[tuple], Any]:
    """Mode "DebugMode"'s call path around the C one (`call`): see the module docstring.

    `fgraph` is the compiled (rewritten) graph, a `TracedGraph` of `reference` (the
    graph before rewrites) for the node to be named; `label` names the function."""
    run_reference = interpreter(reference).run
    check, storages = signature.check, signature.storages
    n_out, updated = signature.n_outputs, signature.update_index
    names = [_output_name(reference, k) for k in range(n_out)]
    names += [f"the update of {target!r}" for target in signature.updates]

    def debug_call(args: tuple) -> Any:
        arrays = check(args) + storages()
        expected = run_reference(arrays)
        before = list(arrays)
        for k in updated:  # the C may update them in place
            before[len(args) + k] = np.array(arrays[len(args) + k], copy=True)
        result = call(args)
        got = _as_list(result, signature) + [t.get_value(borrow=True)
                                             for t in signature.updates]
        for k, (want, have) in enumerate(zip(expected, got)):
            dtype = signature.out_dtypes[k]
            if not agree(want, have, dtype):
                raise DebugModeError(_report(label, names[k], want, have, k, fgraph,
                                             reference, before))
        return result

    return debug_call


def _output_name(graph: FunctionGraph, k: int) -> str:
    v = graph.outputs[k]
    return f"output {k} ({v.name})" if v.name else f"output {k}"


def _as_list(result: Any, signature: Signature) -> list:
    if signature.return_list:
        return list(result)
    return [result] if signature.n_outputs == 1 else []


def _report(label: str, name: str, want: Any, have: Any, k: int, fgraph: FunctionGraph,
            reference: FunctionGraph, arrays: Sequence[Any]) -> str:
    text = (f"DebugMode: {label}: {name} of the C disagrees with the numpy reference (the "
            f"graph before rewrites)\n  C:         {_show(have)}\n  reference: {_show(want)}"
            f"\n  {_difference(want, have)}")
    return text + "\n" + _first_disagreement(fgraph, reference, arrays, k)


def _first_disagreement(fgraph: FunctionGraph, reference: FunctionGraph,
                        arrays: Sequence[Any], k: int) -> str:
    """Where the rewritten graph, run in numpy, first departs from the reference."""
    if not isinstance(fgraph, TracedGraph):
        return "  (the rewritten graph is not traced: no node can be named)"
    want = interpreter(reference).values(arrays)
    try:
        got = interpreter(fgraph).values(arrays)
    except Exception as err:  # noqa: BLE001 - reported, with the node it names
        return f"  the rewritten graph fails in numpy where the reference does not:\n  {err}"
    where = _Where(fgraph, reference, want)
    for v in fgraph.variables():
        if isinstance(v, Constant):
            text = where.check(v, v.data)
            if text:
                return text
    for node in fgraph.toposort():
        for out in node.outputs:
            if id(out) in got:
                text = where.check(out, got[id(out)])
                if text:
                    return text
    out = fgraph.outputs[k]
    node = (f"[id {where.labels.get(id(out.owner), '?')}] {describe(out.owner)}"
            if out.owner is not None else repr(out))
    return ("  the rewritten graph agrees with the reference in numpy: the rewrites are "
            f"right, the C computing it is not; it is computed by node {node}")


class _Where:
    """Compares the rewritten graph's values with the reference values they stand for."""

    def __init__(self, fgraph: TracedGraph, reference: FunctionGraph, want: dict):
        self.fgraph, self.want = fgraph, want
        self.origins = fgraph.origins()
        self.labels = node_labels(fgraph.outputs)
        self.ref_labels = node_labels(reference.outputs)

    def check(self, v: Variable, value: Any) -> str:
        """A message when `v` (of value `value`) disagrees with what it stands for."""
        origin = self.origins.get(id(v))
        if origin is None or id(origin) not in self.want or origin.owner is None:
            return ""
        expected = self.want[id(origin)]
        if agree(expected, value, np.dtype(v.type.dtype)):
            return ""
        ref_node = (f"[id {self.ref_labels.get(id(origin.owner), '?')}] "
                    f"{describe(origin.owner)}")
        if v.owner is None:
            head = f"  the first rewritten value that disagrees: the constant {v!r}, folded from"
        else:
            head = ("  the first rewritten node whose value disagrees: "
                    f"[id {self.labels.get(id(v.owner), '?')}] {describe(v.owner)}\n"
                    "    in place of")
        text = (f"{head} {ref_node} of the graph before rewrites\n"
                f"    its value: {_show(value)}\n    expected:  {_show(expected)}")
        made = ([] if v.owner is None else
                [f"[id {self.labels.get(id(u.owner), '?')}] {describe(u.owner)}"
                 for u in v.owner.inputs if u.owner is not None and id(u) not in self.origins])
        if made:
            text += ("\n    computed from nodes made by rewrites, which stand for no node "
                     "of the graph before rewrites: " + "; ".join(made))
        return text
