"""The graph IR: types, variables, constants, applications of ops, and traversal.

This module knows nothing about tensors or C. A graph is a DAG of `Apply` nodes
connected by `Variable` objects; an `Op` says how to build, evaluate and
differentiate one node. Everything here is deterministic: traversal orders follow
input order, never `id()` or hashing, so the same user graph always gives the
same schedule (and so the same generated C bytes).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any


class Type:
    """The static type of a variable; subclasses define what values it holds."""

    def filter(self, value: Any, allow_downcast: bool | None = None) -> Any:
        """Return `value` converted to a valid runtime value, or raise TypeError."""
        raise NotImplementedError

    def make_variable(self, name: str | None = None) -> Variable:
        """Return a new free variable of this type."""
        return Variable(self, name=name)

    def make_constant(self, value: Any, name: str | None = None) -> Constant:
        """Return a constant of this type holding `value`."""
        return Constant(self, value, name=name)

    def __call__(self, name: str | None = None) -> Variable:
        return self.make_variable(name)


_creation_counter = itertools.count()


class Variable:
    """A value in a graph: a free input, or output `index` of the `owner` node.

    Parameters
    ----------
    type : Type
        The static type of the value.
    owner : Apply, optional
        The node computing this variable (None for a graph input).
    index : int, optional
        Which of the owner's outputs this is.
    name : str, optional
        A user-facing name, used in printing and C comments.
    """

    def __init__(self, type: Type, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag: dict[str, Any] = {}
        # A creation stamp gives variables a stable identity for printing.
        self.auto_id = next(_creation_counter)

    def clone(self) -> Variable:
        """Return a new variable of the same type and name, without an owner."""
        cp = type(self)(self.type, name=self.name)
        cp.tag = dict(self.tag)
        return cp

    def __repr__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = str(self.owner.op)
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"


class Constant(Variable):
    """A variable with a fixed value known at graph-build time."""

    def __init__(self, type: Type, data: Any, name: str | None = None):
        super().__init__(type, name=name)
        self.data = type.filter(data)

    def clone(self) -> Constant:
        cp = type(self)(self.type, self.data, name=self.name)
        cp.tag = dict(self.tag)
        return cp

    def signature(self) -> Any:
        """A hashable key: constants with equal signatures are interchangeable."""
        return (self.type, self.data)

    def __repr__(self) -> str:
        return self.name if self.name is not None else f"Constant{{{self.data!r}}}"


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_line() -> str:
    """`file:line` of the innermost caller outside cgraph (where a node was created).

    Error messages name it, as Theano's creation traces did; "" when there is none.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR) and not filename.startswith("<frozen"):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


class Apply:
    """One application of `op` to `inputs`, producing `outputs`."""

    def __init__(self, op: Op, inputs: Sequence[Variable], outputs: Sequence[Variable]):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"output {i} of {op} already belongs to another node")
            out.owner = self
            out.index = i
        self.tag: dict[str, Any] = {}
        trace = user_line()
        if trace:
            self.tag["trace"] = trace

    @property
    def out(self) -> Variable:
        """The single output of this node."""
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs: Sequence[Variable]) -> Apply:
        """Rebuild this node on `inputs` through the op's type rule."""
        node = self.op.make_node(*inputs)
        node.tag = dict(self.tag)
        for old, new in zip(self.outputs, node.outputs):
            new.name = old.name
            new.tag = dict(old.tag)
        return node

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(repr, self.inputs))})"


class Op:
    """An operation. Subclasses define the type rule and the reference semantics.

    An op's parameters are listed in `__props__`; two ops with equal props are
    equal, which is what merging identical subgraphs relies on.
    """

    __props__: tuple[str, ...] = ()
    #: Positions of the inputs whose values (not only shapes) determine the output
    #: shapes or view layouts (e.g. the target shape of a reshape). The planner then
    #: calls `infer_shape(node, shapes, values)` (and `view_layout(shapes, strides,
    #: values)`, `c_params(..., values)`) with `values[i]` a numpy array for each such
    #: input and None for the others.
    value_inputs: tuple[int, ...] = ()
    #: False for ops whose output is computed from their inputs' shapes alone
    #: (Shape_i): they then define `value(shapes)`.
    needs_input_data: bool = True

    def make_node(self, *inputs: Any) -> Apply:
        """Check input types and return an `Apply` with fresh output variables."""
        raise NotImplementedError

    def __call__(self, *inputs: Any) -> Any:
        node = self.make_node(*inputs)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def perform(self, node: Apply, inputs: list[Any]) -> list[Any]:
        """Compute the outputs from numpy inputs (the reference implementation)."""
        raise NotImplementedError(f"{self} has no reference implementation")

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        """Return the gradient wrt each input, given gradients wrt the outputs.

        A None entry means the input is disconnected from the outputs.
        """
        raise NotImplementedError(f"{self} has no gradient rule")

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._props()))

    def __str__(self) -> str:
        name = type(self).__name__
        if not self.__props__:
            return name
        return f"{name}{{{', '.join(str(p) for p in self._props())}}}"

    __repr__ = __str__


class NullGradient(Exception):
    """Raised when a gradient is requested through an op whose gradient is undefined."""


# --------------------------------------------------------------------------- traversal


def toposort(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Apply]:
    """Return the nodes computing `outputs`, each after the nodes it depends on.

    The order is a depth-first post-order that visits inputs left to right, so it
    depends only on the structure of the graph. Variables in `stop` are treated
    as leaves.
    """
    stop_ids = {id(v) for v in stop}
    order: list[Apply] = []
    seen: set[int] = set()
    for out in outputs:
        if id(out) in stop_ids or out.owner is None:
            continue
        # Iterative DFS: a stack of (node, next input index).
        stack = [(out.owner, 0)]
        if id(out.owner) in seen:
            continue
        seen.add(id(out.owner))
        while stack:
            node, i = stack.pop()
            if i < len(node.inputs):
                stack.append((node, i + 1))
                inp = node.inputs[i]
                parent = inp.owner
                if parent is not None and id(inp) not in stop_ids and id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, 0))
            else:
                order.append(node)
    return order


def ancestors(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """Return every variable that `outputs` depend on (themselves included), in order."""
    stop_ids = {id(v) for v in stop}
    result: list[Variable] = []
    seen: set[int] = set()

    def add(v: Variable) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)

    outputs = list(outputs)
    for node in toposort(outputs, stop):
        for v in node.inputs:
            add(v)
        for v in node.outputs:
            add(v)
    for v in outputs:
        add(v)
    del stop_ids
    return result


def graph_inputs(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """Return the leaves (owner-less variables, constants included) feeding `outputs`."""
    stop_ids = {id(v) for v in stop}
    return [v for v in ancestors(outputs, stop) if v.owner is None or id(v) in stop_ids]


def clone_replace(outputs: Sequence[Variable],
                  replace: dict[Variable, Variable] | None = None) -> list[Variable]:
    """Return copies of `outputs` computed with the substitutions in `replace`.

    Nodes that depend on no replaced variable are shared with the original graph;
    only the part of the graph downstream of a replacement is rebuilt (through
    each op's type rule, so a replacement of the wrong type raises there).
    """
    replace = dict(replace or {})
    memo: dict[int, Variable] = {id(k): v for k, v in replace.items()}
    for node in toposort(outputs, stop=list(replace)):
        new_inputs = [memo.get(id(v), v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.clone_with_new_inputs(new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs]
