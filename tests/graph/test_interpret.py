"""The numpy interpreter (cgraph/graph/interpret.py): values, the error policy (the
node, its label, the user's line, shapes and dtypes), laziness, on-demand values, and
its users: mode "PY", the planner's values and constant folding."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Apply, Op
from cgraph.graph.interpret import Interpreter, MissingValue, evaluate, run_node
from cgraph.graph.labels import node_labels
from cgraph.ifelse import ifelse
from cgraph.printing import debugprint
from cgraph.tensor.type import TensorType, as_tensor_variable


class Boom(Op):
    """x -> 2x, raising ValueError when any element is negative; counts its runs."""

    runs = 0

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs):
        type(self).runs += 1
        (x,) = inputs
        if np.any(x < 0):
            raise ValueError("boom: a negative element")
        return [x * 2]


@pytest.fixture(autouse=True)
def _count_from_zero():
    Boom.runs = 0


def _line_of(text: str) -> int:
    """The line of this file holding `text`."""
    with open(__file__) as source:
        return next(i for i, line in enumerate(source, 1) if text in line)


def test_run_gives_fresh_arrays_of_the_outputs_dtypes():
    x, y = T.dvector("x"), T.fvector("y")
    out = [T.exp(x) * 2, y + 1, x]
    interp = Interpreter([x, y], out)
    a, b = np.array([0.5, -1.0]), np.array([1, 2], dtype=np.float32)
    got = interp.run([a, b])
    np.testing.assert_allclose(got[0], np.exp(a) * 2, rtol=1e-15)
    assert got[1].dtype == np.float32 and list(got[1]) == [2.0, 3.0]
    assert got[2] is not a and np.array_equal(got[2], a)  # a copy, never the argument
    values = interp.values([a, b])
    assert values[id(x)] is a and id(out[0].owner.inputs[0]) in values


def test_a_free_variable_that_is_not_an_input_is_refused():
    x, y = T.dvectors("x", "y")
    with pytest.raises(ValueError, match="neither an input nor a constant"):
        Interpreter([x], [x + y])


@pytest.mark.parametrize("mode", ["PY", "Interpreter"])
def test_a_failing_perform_names_the_node_its_label_line_shapes_and_dtypes(mode):
    x = T.dvector("x")
    y = T.exp(x)
    bad = Boom()(y * -1.0)
    out = bad + 1.0
    if mode == "PY":
        f = cgraph.function([x], out, mode="PY")
        labels, shown = node_labels(f.fgraph.outputs), debugprint(f, file="str")
        node = f.fgraph.outputs[0].owner.inputs[0].owner
        call = lambda: f(np.array([1.0, 2.0, 3.0]))  # noqa: E731
    else:
        interp = Interpreter([x], [out])
        labels, shown = node_labels([out]), debugprint([out], file="str")
        node = bad.owner
        call = lambda: interp.run([np.array([1.0, 2.0, 3.0])])  # noqa: E731
    assert isinstance(node.op, Boom)
    with pytest.raises(ValueError) as info:
        call()
    text = str(info.value)
    label = labels[id(node)]
    assert text.startswith("boom: a negative element")
    assert f"in node [id {label}] Boom(" in text
    assert re.search(rf"Boom .*\[id {label}\]", shown)  # the label debugprint shows
    assert f"created at {__file__}:" in text  # Boom's make_node, in this file
    assert "input shapes: (3,)" in text and "input dtypes: float64" in text
    assert isinstance(info.value.__cause__, ValueError)  # the original, chained
    assert str(info.value.__cause__) == "boom: a negative element"
    assert info.value.node is node and info.value.input_shapes == ((3,),)


@pytest.mark.parametrize("mode", ["PY", "Interpreter"])
def test_an_error_names_the_line_of_the_users_program(mode):
    x, i = T.dvector("x"), T.lvector("i")
    picked = x[i]  # the line that picks
    out = picked * 2.0
    args = [np.arange(3.0), np.array([0, 7])]
    if mode == "PY":
        f = cgraph.function([x, i], out, mode="PY")
        label = node_labels(f.fgraph.outputs)[id(f.fgraph.outputs[0].owner.inputs[0].owner)]
        call = lambda: f(*args)  # noqa: E731
    else:
        label = node_labels([out])[id(picked.owner)]
        call = lambda: Interpreter([x, i], [out]).run(args)  # noqa: E731
    with pytest.raises(IndexError) as info:
        call()
    text = str(info.value)
    assert f"in node [id {label}] " in text
    assert f"created at {__file__}:{_line_of('# the line that picks')}" in text
    assert "input shapes: (3,), (2,)" in text and "input dtypes: float64, int64" in text
    assert isinstance(info.value.__cause__, IndexError)


def test_an_error_keeps_its_type_when_the_type_takes_a_message():
    class Lookup(Boom):
        def perform(self, node, inputs):
            raise KeyError("no such key")

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")

    class Strange(Boom):
        def perform(self, node, inputs):
            raise Odd(1, 2)

    class Huge(Boom):
        def perform(self, node, inputs):
            return [np.empty((2**25, 2**25))]  # numpy's _ArrayMemoryError(shape, dtype)

    x = T.dvector("x")
    with pytest.raises(LookupError, match="no such key(.|\n)*in node Lookup"):
        run_node(Lookup()(x).owner, [np.zeros(2)])
    with pytest.raises(Exception, match="1/2(.|\n)*in node \\[id Q\\] Strange") as info:
        run_node(Strange()(x).owner, [np.zeros(2)], label="Q")
    assert type(info.value) is Exception and isinstance(info.value.__cause__, Odd)
    with pytest.raises(MemoryError, match="(?s)Unable to allocate.*in node Huge") as info:
        run_node(Huge()(x).owner, [np.zeros(2)])
    assert type(info.value) is MemoryError and isinstance(info.value.__cause__, MemoryError)


def test_the_branch_not_taken_is_never_evaluated_in_mode_py():
    c = T.lscalar("c")
    x = T.dvector("x")
    out = ifelse(c, x * 3.0, Boom()(x) + 1.0)
    f = cgraph.function([c, x], out, mode="PY")
    data = np.array([-1.0, 2.0])  # Boom would raise on it
    np.testing.assert_array_equal(f(1, data), data * 3)
    assert Boom.runs == 0
    with pytest.raises(ValueError, match="boom"):
        f(0, data)
    np.testing.assert_array_equal(f(0, np.abs(data)), np.abs(data) * 2 + 1)
    assert Boom.runs == 2


def test_lazy_branches_in_the_interpreter_and_on_demand():
    c = T.lscalar("c")
    x = T.dvector("x")
    then, other = T.sqrt(x), Boom()(x)
    out = ifelse(T.gt(c, 0), then, other)
    data = np.array([-4.0, 1.0])
    interp = Interpreter([c, x], [out])
    values = interp.values([np.array(1), data])
    assert id(other) not in values and Boom.runs == 0
    assert np.isnan(values[id(out)][0])
    # On demand: the condition first, then only its branch.
    memo = {id(c): np.array(1), id(x): data}
    (got,) = evaluate([out], memo)
    assert Boom.runs == 0 and id(other) not in memo and id(then) in memo
    memo = {id(c): np.array(0), id(x): np.abs(data)}
    np.testing.assert_array_equal(evaluate([out], memo)[0], np.abs(data) * 2)
    assert Boom.runs == 1 and id(then) not in memo


def test_on_demand_values_read_shapes_without_computing_the_data():
    x = T.dvector("x")
    hidden = Boom()(x)
    n = hidden.shape[0] * 2
    memo = {id(x): np.array([-1.0, 1.0, 2.0])}
    (got,) = evaluate([n], memo, shape_of=lambda v: {id(hidden): (3,)}[id(v)])
    assert int(got) == 6 and Boom.runs == 0 and id(hidden) not in memo
    with pytest.raises(MissingValue, match="x"):
        evaluate([x * 2.0], {})


def test_a_deep_chain_evaluates_on_demand_without_recursion():
    x = T.dscalar("x")
    out = x
    for _ in range(3000):
        out = out + 1.0
    (got,) = evaluate([out], {id(x): np.array(0.5)})
    assert float(got) == 3000.5


def test_the_planner_computes_only_the_branch_a_shape_value_takes():
    """A shape that depends on an ifelse whose other branch cannot be computed (an index
    out of range): the planner used to run both branches (mode "C")."""
    x = T.dvector("x")
    k, c = T.lscalar("k"), T.lscalar("c")
    table = T.constant(np.array([1, 2, 3], dtype=np.int64))
    n = ifelse(c, k, table[k])
    f = cgraph.function([x, k, c], T.alloc(0.0, n) + x.sum(), mode="C")
    np.testing.assert_array_equal(f(np.ones(2), 5, 1), np.full(5, 2.0))
    np.testing.assert_array_equal(f(np.ones(2), 1, 0), np.full(2, 2.0))
    with pytest.raises(IndexError):
        f(np.ones(2), 5, 0)


def test_constant_folding_runs_in_the_interpreter(monkeypatch):
    """Folding goes through the interpreter (one evaluator), and an error there leaves
    the node for run time, where mode "C" and "PY" report it."""
    import cgraph.rewrite.basic as basic

    seen = []
    real = basic.run_node

    def spy(node, inputs, *args, **kwargs):
        seen.append(node)
        return real(node, inputs, *args, **kwargs)

    monkeypatch.setattr(basic, "run_node", spy)
    x = T.dvector("x")
    two = T.constant(np.array([1.0, 1.0])) * 2.0
    f = cgraph.function([x], x + two)
    assert seen and any("mul" in str(n.op) for n in seen)
    np.testing.assert_array_equal(f(np.zeros(2)), [2.0, 2.0])
    assert not [n for n in f.fgraph.toposort() if "mul" in str(n.op)]


def test_mode_py_checks_shapes_before_running_a_node():
    a, v = T.dmatrix("a"), T.dvector("v")
    f = cgraph.function([a, v], T.dot(a, v), mode="PY")
    with pytest.raises(ValueError, match=r"(?s)in node \[id A\] .*\(2, 3\), \(4,\)"):
        f(np.ones((2, 3)), np.ones(4))


def test_a_scan_step_fits_the_interpreter_api():
    """What a scan's step needs: the step's graph scheduled once, run per step on its
    row arguments (the states fed back)."""
    h, w = T.dvector("h"), T.dmatrix("w")
    step = Interpreter([h, w], [T.tanh(T.dot(w, h))])
    state, weights = np.array([0.5, -0.25]), np.array([[1.0, 0.5], [-0.5, 2.0]])
    want = state
    for _ in range(4):
        (state,) = step.run([state, weights])
        want = np.tanh(weights @ want)
    np.testing.assert_allclose(state, want, rtol=1e-15)


def test_typed_outputs_from_a_value_op():
    x = TensorType("int32", (None,))("x")
    out = x.shape[0] + x.sum()
    got = Interpreter([x], [out]).run([np.array([1, 2, 3], dtype=np.int32)])[0]
    assert got == 3 + 6 and got.dtype == out.type.dtype
