"""The Scan op: a loop over `n_steps` of a step graph."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from cgraph.codegen.lower import Lowered
from cgraph.codegen.plan import Plan
from cgraph.graph.basic import Apply, UniqueOp, Variable
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.interpret import Interpreter
from cgraph.kernel import register_kernel
from cgraph.scan.dynamic import plan_for
from cgraph.scan.gradient import scan_grad
from cgraph.scan.inner import check_steps
from cgraph.scan.lowering import (
    ScanKernel,
    gather_symbolic_ints,
    lower_step,
    step_plan,
    step_plans,
    step_value_args,
)
from cgraph.scan.slices import windows_as_gathers
from cgraph.tensor.type import TensorType, as_tensor_variable

#: per-step plans a scan keeps: for this many shapes and values other than the rows,
#: and this many rows of each (past either, they are dropped)
MAX_STEP_PLANS = (64, 1 << 16)


class Scan(UniqueOp):
    """A loop over `n_steps` of a step graph.

    Inputs: n_steps (int64), sequences, initial states, non-sequences. Outputs: for
    each state, then each plain output, the stacked values of all steps. With
    `steps_given` False, the n_steps input is ignored and the loop runs over the
    shortest sequence; otherwise a negative n_steps raises ValueError.
    `truncate_gradient` (-1: all steps) is how many steps back the gradient goes;
    `backward` marks the loop of a gradient, which needs at least one step.
    `per_step` holds the positions of the sequences whose rows the step's shapes
    depend on (a slice x[:t] of the step index t): their values are value inputs, and
    mode "C" plans each step with its rows (`plans`). `dynamic` holds the states they
    depend on (x[:h] with h computed by the previous step): mode "C" plans those steps
    while the loop runs (`cgraph.scan.dynamic`).
    """

    value_inputs = (0,)

    def __init__(self, inner_inputs: list[Variable], inner_outputs: list[Variable],
                 n_seqs: int, n_states: int, steps_given: bool = True,
                 truncate_gradient: int = -1, backward: bool = False):
        self.steps_given = steps_given
        self.backward = backward
        self.truncate_gradient = truncate_gradient
        self.fgraph = FunctionGraph(inner_inputs, inner_outputs)
        self.n_seqs, self.n_states = n_seqs, n_states
        self.n_plain = len(inner_outputs) - n_states
        self._step_graph: FunctionGraph | None = None  # None: the step lowered is `fgraph`
        self._prepare(self.fgraph)

    def _prepare(self, step: FunctionGraph) -> None:
        """Make `step` computable in C (per-step windows and symbolic int indices as
        gathers) and read from it which inputs' values its shapes depend on."""
        first_rest = self.n_seqs + self.n_states
        windows_as_gathers(step, first_rest)
        gather_symbolic_ints(step)
        # n_steps, and the sequences and non-sequences the step's shapes depend on
        # (its slice bounds); a sequence's rows give each step its own plan
        self.shaping = step_value_args(step)
        self.per_step = tuple(i for i in self.shaping if i < self.n_seqs)
        # states the step's shapes depend on: planned while the loop runs (`dynamic`)
        self.dynamic = tuple(i for i in self.shaping if self.n_seqs <= i < first_rest)
        self.value_inputs = (0, *[1 + i for i in self.shaping])
        self._reset()

    def _reset(self) -> None:
        """Forget the step's program, interpreter and plans (made when next needed)."""
        self._lowered: Lowered | None = None
        self._interpreter: Interpreter | None = None
        self._plans: tuple | None = None  # the last per-step plans, with their key
        # per-step plans for the shapes and values other than the rows -> rows -> plan
        self._step_plans: dict[tuple, dict[bytes, Plan]] = {}
        self._token: int | None = None  # the op's name to the loop's callback (dynamic)
        self._dynamic_plans: dict[tuple, Plan] = {}  # plans made while a loop runs

    @property
    def step(self) -> FunctionGraph:
        """The step graph mode "C" lowers (see the class docstring)."""
        return getattr(self, "_step_graph", None) or self.fgraph

    def with_step(self, step: FunctionGraph) -> Scan:
        """A copy of this op that lowers `step`, a rewritten copy of `fgraph` (the same
        inputs and outputs, in order and meaning). Its value inputs are read from
        `step`: a rewrite may have removed a dependence of shapes on values."""
        op = copy.copy(self)
        op._step_graph = step
        op._prepare(step)
        return op

    def __getstate__(self) -> dict:
        """Pickle the step's graph and settings; the step's program and interpreter
        (keyed by the ids of the step's nodes, which a pickle does not keep) are made
        again when first needed."""
        state = dict(vars(self))
        state["_lowered"] = state["_interpreter"] = state["_plans"] = None
        state["_step_plans"], state["_dynamic_plans"], state["_token"] = {}, {}, None
        return state

    def __str__(self) -> str:
        return "scan"

    @property
    def lowered(self) -> Lowered:
        """The step's inner program (lowered once, when first needed)."""
        if self._lowered is None:
            self._lowered = lower_step(self.step)
        return self._lowered

    def make_node(self, n_steps: Any, *args: Any) -> Apply:
        n_steps = as_tensor_variable(n_steps)
        outer = [as_tensor_variable(a) for a in args]
        outs = []
        for v in self.fgraph.outputs:
            outs.append(TensorType(v.type.dtype, (None, *v.type.shape)).make_variable())
        return Apply(self, [n_steps, *outer], outs)

    # ----------------------------------------------------------------- shapes

    def steps(self, shapes: list, n_steps: Any) -> int:
        """The number of steps for these input shapes and n_steps value; ValueError
        when negative or past a sequence's rows."""
        n = int(n_steps)
        lengths = [shapes[1 + j][0] for j in range(self.n_seqs)]
        if not self.steps_given:
            if not lengths:
                raise ValueError("scan: give n_steps when there are no sequences")
            n = min(lengths)
        check_steps(n)
        if n == 0 and self.backward:
            raise ValueError("scan: no gradient through a loop of zero steps (Theano's "
                             "scan refuses zero steps); give the loop at least one step")
        for j, length in enumerate(lengths):
            if length < n:
                raise ValueError(f"scan: sequence {j} has {length} rows, fewer than the "
                                 f"{n} steps")
        return n

    def inner_shapes(self, shapes: list) -> tuple:
        """Shapes of the step's inputs: a row of each sequence, states, non-sequences."""
        seqs = [tuple(s[1:]) for s in shapes[1:1 + self.n_seqs]]
        return tuple(seqs + [tuple(s) for s in shapes[1 + self.n_seqs:]])

    def plans(self, shapes: list, values: list) -> tuple[int, list[Plan]]:
        """The number of steps and the steps' plans for these input shapes and values
        (at `value_inputs`): one plan for all steps, or one per step (`per_step`)."""
        n = self.steps(shapes, values[0])
        inner = self.inner_shapes(shapes)
        if self.dynamic:  # step 0's plan: the others are made while the loop runs
            return n, [plan_for(self, inner, self._first_rows(values[1:]))]
        if not self.per_step:
            return n, [step_plan(self.lowered, inner, values[1:])]
        key = (inner, n, *[_value_key(values[i]) for i in self.value_inputs[1:]])
        if self._plans is None or self._plans[0] != key:
            rows = {1 + i for i in self.per_step}
            others = (inner, *[_value_key(values[i]) for i in self.value_inputs[1:]
                               if i not in rows])
            if len(self._step_plans) > MAX_STEP_PLANS[0]:
                self._step_plans.clear()
            known = self._step_plans.setdefault(others, {})
            if len(known) > MAX_STEP_PLANS[1]:
                known.clear()
            plans = step_plans(self.lowered, inner, values[1:], self.per_step, n, known)
            self._plans = (key, plans or [step_plan(self.lowered, inner,
                                                    self._first_rows(values[1:]))])
        return n, self._plans[1]

    def _first_rows(self, values: list) -> list:
        """The values of step 0's shaping inputs (a plan that gives the shapes of the
        outputs' rows): each sequence's first row, or zeros when it has none."""
        at = list(values)
        for i in self.per_step:
            rows = np.asarray(values[i])
            at[i] = rows[0] if len(rows) else np.zeros(rows.shape[1:], rows.dtype)
        return at

    def infer_shape(self, node: Apply, shapes: list, values: list) -> list:
        n, plans = self.plans(shapes, values)
        plan = plans[0]
        states = shapes[1 + self.n_seqs:1 + self.n_seqs + self.n_states]
        for k, (init, new) in enumerate(zip(states, plan.out_shapes)):
            if tuple(init) != tuple(new):
                raise ValueError(f"scan: state {k} starts with shape {tuple(init)} but the "
                                 f"step returns shape {tuple(new)}")
        return [(n, *s) for s in plan.out_shapes]

    # ----------------------------------------------------------------- reference

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        shapes = [np.shape(a) for a in inputs]
        n = self.steps(shapes, inputs[0])
        seqs = inputs[1:1 + self.n_seqs]
        states = list(inputs[1 + self.n_seqs:1 + self.n_seqs + self.n_states])
        rest = inputs[1 + self.n_seqs + self.n_states:]
        results: list[list[np.ndarray]] = [[] for _ in self.fgraph.outputs]
        for t in range(n):
            outs = self._step([q[t] for q in seqs] + states + list(rest))
            for k, o in enumerate(outs):
                results[k].append(o)
            states = outs[:self.n_states]
        return [np.stack(r).astype(v.type.dtype) if r else
                np.empty((0, *self._row_shape(shapes, inputs, k)), v.type.dtype)
                for k, (r, v) in enumerate(zip(results, self.fgraph.outputs))]

    def _step(self, args: list[np.ndarray]) -> list[np.ndarray]:
        """One step with the ops' numpy references (the step's graph scheduled once)."""
        if self._interpreter is None:
            self._interpreter = Interpreter(self.fgraph.inputs, self.fgraph.outputs)
        return self._interpreter.run(args)

    def _row_shape(self, shapes: list, inputs: list, k: int) -> tuple:
        values = [a if i in self.value_inputs else None for i, a in enumerate(inputs)]
        return self.plans(shapes, values)[1][0].out_shapes[k]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        """Backpropagation through the loop (`cgraph.scan.gradient`)."""
        return scan_grad(self, inputs, output_grads)


def plans_in_python(nodes: Any) -> bool:
    """Whether a scan among `nodes`, or inside their steps, plans steps while its loop
    runs: its C calls into Python (`cgraph.scan.dynamic`), so it runs only inside
    this process."""
    return any(isinstance(node.op, Scan)
               and (bool(node.op.dynamic) or plans_in_python(node.op.step.toposort()))
               for node in nodes)


def _value_key(value: Any) -> tuple:
    a = np.ascontiguousarray(value)
    return a.shape, a.dtype.str, a.tobytes()


register_kernel(ScanKernel(), Scan)
