"""The graph IR: types, variables, constants, applications of ops, and traversal.

This module knows nothing about tensors or C. A graph is a DAG of `Apply` nodes
connected by `Variable` objects; an `Op` says how to build, evaluate and
differentiate one node. Everything here is deterministic: traversal orders follow
input order, never `id()` or hashing, so the same user graph always gives the
same schedule (and so the same generated C bytes).
"""

from __future__ import annotations

import copy
import itertools
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from cgraph.graph.copying import _deepcopy_graph, _prelude, _shell


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

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickle a computed variable after the nodes computing it (`_prelude`), so
        that a graph of any depth pickles without deep recursion."""
        if self.owner is None:
            return super().__reduce_ex__(protocol)
        return _shell, (_prelude(self.owner), type(self)), vars(self)

    def __deepcopy__(self, memo: dict) -> Variable:
        """A copy of the graph computing this variable (`_deepcopy_graph`)."""
        if self.owner is None:
            cp = type(self).__new__(type(self))
            memo[id(self)] = cp
            cp.__dict__.update(copy.deepcopy(vars(self), memo))
            return cp
        _deepcopy_graph(self.owner, memo)
        return memo[id(self)]

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

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickle the node after the nodes it depends on (`_prelude`)."""
        return _shell, (_prelude(self), type(self)), vars(self)

    def __deepcopy__(self, memo: dict) -> Apply:
        """A copy of the graph computing this node (`_deepcopy_graph`)."""
        _deepcopy_graph(self, memo)
        return memo[id(self)]

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(repr, self.inputs))})"


#: hooks only an op of a special kind defines -> that kind (filled below Op).
_KIND_HOOKS: dict[str, type] = {}


class Op:
    """An operation: the type rule, shape rule, numpy reference, gradient and C kernel
    of one kind of node.

    Every hook an op may define is declared here with its default; a subclass
    overrides the ones it needs. `make_node` and `perform` are enough for mode "PY";
    mode "C" also needs `infer_shape` and a kernel builder registered for the op's
    class (`cgraph.kernel.register_kernel`). Two kinds of ops take a mixin:
    `ViewOp` (the output shows an input's memory) and `LazyOp` (only the inputs of
    the branch a condition selects are computed). Test the kind with `isinstance`.

    An op's parameters are listed in `__props__`; two ops with equal props are
    equal, which is what merging identical subgraphs relies on.
    """

    __props__: tuple[str, ...] = ()
    #: Positions of the inputs whose values (not only shapes) determine the output
    #: shapes or view layouts (e.g. the target shape of a reshape). `infer_shape`,
    #: `view_layout` and the kernel builder's `params` then get a `values` argument: a
    #: numpy array at each of these positions, None at the others.
    value_inputs: tuple[int, ...] = ()
    #: False for ops whose output is computed from their inputs' shapes alone
    #: (Shape_i): they define `value(shapes)`, and their inputs' data is never read.
    needs_input_data: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, kind in _KIND_HOOKS.items():
            if name in vars(cls) and not issubclass(cls, kind):
                raise TypeError(f"{cls.__qualname__} defines `{name}`, a hook of "
                                f"{kind.__name__}: inherit {kind.__name__} to declare "
                                "that kind of op")

    def make_node(self, *inputs: Any) -> Apply:
        """Check the input types and return an `Apply` with fresh output variables.

        Raises TypeError naming the op and the offending input when the inputs do not
        fit (wrong rank, dtype, count).
        """
        raise NotImplementedError(f"{type(self).__name__} defines no make_node")

    def __call__(self, *inputs: Any) -> Any:
        node = self.make_node(*inputs)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def perform(self, node: Apply, inputs: list[Any]) -> list[Any]:
        """The reference implementation: a list of output arrays from the input arrays.

        `inputs` are numpy arrays in the order of `node.inputs` (for a `LazyOp`, None
        at the inputs of the branch not taken). The outputs must not share memory
        with the inputs unless the op is a `ViewOp`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no reference implementation "
                                  "(perform)")

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]],
                    values: list[Any] | None = None) -> list[tuple[int, ...]]:
        """The output shapes for these input shapes (and `values` at `value_inputs`).

        Raises ValueError, saying what does not match, when the shapes are
        incompatible; the caller adds the node and the shapes. The default raises
        NotImplementedError: mode "PY" then runs `perform` without checking sizes
        first, and mode "C" cannot plan the node.
        """
        raise NotImplementedError(f"{type(self).__name__} has no shape rule (infer_shape)")

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        """The gradient wrt each input (a graph), given the gradients wrt the outputs.

        A None entry means the input is disconnected from the outputs. Raises
        NotImplementedError (or NullGradient) when the gradient is not defined.
        """
        raise NotImplementedError(f"{self} has no gradient rule")

    def value(self, shapes: list[tuple[int, ...]]) -> Any:
        """The output value computed from the input shapes alone, for an op with
        `needs_input_data = False`."""
        raise NotImplementedError(f"{type(self).__name__} computes no value from shapes "
                                  "(value)")

    def flops(self, in_shapes: Sequence[tuple[int, ...]],
              out_shapes: Sequence[tuple[int, ...]]) -> int:
        """Floating-point operations of one run, for ops whose useful rate is GFLOP/s
        (matrix products); 0 for the others, whose profile reports bytes."""
        return 0

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


class UniqueOp(Op):
    """An op equal only to itself: ops that carry a graph of their own (a scan, a step
    block), which merging must never treat as the same computation."""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class ViewOp(Op):
    """An op whose single output is a view of input `view_of`: no kernel, no copy.

    The code generator gives the output no buffer and no kernel: per call shape,
    `view_layout` places it in the memory of input `view_of`. `perform` may return a
    numpy view of that input.
    """

    #: The input whose memory the output shows.
    view_of: int = 0

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int],
                    values: list[Any] | None = None) -> tuple:
        """(shape, element strides, element offset) of the output, given the input
        shapes and the element strides of input `view_of` (and `values` at
        `value_inputs`). Raises ValueError as `infer_shape` does."""
        raise NotImplementedError(f"{type(self).__name__} defines no view_layout")


class LazyOp(Op):
    """An op that needs only some of its inputs, chosen by a condition (input 0).

    Each other input belongs to a branch (`branch_of`); the nodes only a branch not
    taken needs are skipped, in mode "C" as in mode "PY", and `perform` then gets
    None at that branch's inputs.
    """

    #: Marks the kind; test it with `isinstance(op, LazyOp)`.
    lazy_branches: bool = True

    def branch_of(self, position: int) -> int:
        """The branch input `position` belongs to (0, 1, ...), or -1 for the condition
        and any input every branch reads."""
        raise NotImplementedError(f"{type(self).__name__} defines no branch_of")

    def taken(self, condition: Any) -> int:
        """The branch a value of the condition (a numpy scalar) selects."""
        raise NotImplementedError(f"{type(self).__name__} defines no taken")


_KIND_HOOKS.update(view_of=ViewOp, view_layout=ViewOp,
                   lazy_branches=LazyOp, branch_of=LazyOp, taken=LazyOp)


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
        node = out.owner
        if node is None or id(out) in stop_ids or id(node) in seen:
            continue
        seen.add(id(node))
        # Iterative DFS: a stack of (node, iterator over its inputs not yet visited).
        stack = [(node, iter(node.inputs))]
        while stack:
            node, inputs = stack[-1]
            for inp in inputs:
                parent = inp.owner
                if parent is not None and id(parent) not in seen and id(inp) not in stop_ids:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent.inputs)))
                    break
            else:
                stack.pop()
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


# --------------------------------------------------------------------------- pickling
