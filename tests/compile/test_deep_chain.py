"""Graph size as an input: a graph far deeper than Python's stack compiles, runs, prints
and starts warm with the recursion limit lowered to a few frames above the caller's,
and the passes that grew faster than the graph (benchmarks/compile_scale.py) stay fixed.
No timings: what is pinned is that nothing recurses per node, and the shapes of the
fixes (a reader dropped in O(1), the cycle collector paused)."""

from __future__ import annotations

import gc
import inspect
import sys
from contextlib import contextmanager

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import graph_inputs
from cgraph.graph.fg import FunctionGraph
from cgraph.printing import debugprint, pprint
from cgraph.printing.text import MAX_PPRINT_CHARS

#: Layers of the residual chain below: about 15 nodes each with the gradient, so the
#: graph is ~20 times deeper than the frames a test may use.
LAYERS = 200
FRAMES = 150


@contextmanager
def shallow_stack(frames: int = FRAMES):
    """Python's recursion limit at `frames` above the current depth, for the block."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def residual_step(n: int, lr: float = 0.05):
    """The residual chain's training step: cost and the SGD update of its weight."""
    w = cgraph.shared(np.eye(4) * 0.3 + 0.01 * np.arange(16).reshape(4, 4), name="W")
    x = T.dvector("x")
    y = x
    for _ in range(n):
        y = T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2) / n
    return x, w, cost, w - lr * cgraph.grad(cost, w)


def numpy_cost(w: np.ndarray, x: np.ndarray, n: int) -> float:
    y = x
    for _ in range(n):
        y = np.tanh(w @ y) + y
    return float(np.sum(y ** 2) / n)


def numeric_grad(w: np.ndarray, x: np.ndarray, n: int, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(w)
    for idx in np.ndindex(*w.shape):
        up, down = w.copy(), w.copy()
        up[idx] += eps
        down[idx] -= eps
        g[idx] = (numpy_cost(up, x, n) - numpy_cost(down, x, n)) / (2 * eps)
    return g


def test_deep_training_step_compiles_runs_and_starts_warm_on_a_shallow_stack():
    x, w, cost, update = residual_step(LAYERS)
    w0 = w.get_value().copy()
    xv = np.linspace(-0.5, 0.5, 4)
    with shallow_stack():
        f = cgraph.function([x], cost, updates=[(w, update)])
        got = f(xv)
        text = debugprint(f, file="str")
        again = cgraph.function([x], cost, updates=[(w, update)])  # the record: warm
        rebuilt = len(again.fgraph.toposort())
    np.testing.assert_allclose(got, numpy_cost(w0, xv, LAYERS), rtol=1e-10)
    np.testing.assert_allclose(w.get_value(), w0 - 0.05 * numeric_grad(w0, xv, LAYERS),
                               rtol=1e-6, atol=1e-9)
    assert rebuilt == len(f.fgraph.toposort())
    assert text.count("\n") >= len(f.fgraph.toposort())


def test_debugprint_and_pprint_of_a_deep_graph_on_a_shallow_stack():
    x = T.dvector("x")
    y = x
    for _ in range(3 * FRAMES):
        y = T.exp(-y)
    with shallow_stack():
        tree = debugprint(y, file="str")
        math = pprint(y)
    lines = tree.splitlines()
    assert len(lines) == 6 * FRAMES + 1  # exp, neg per layer, then x
    assert lines[-1].startswith(" |" * 6 * FRAMES + "x [id ")
    assert math == "exp(-" * (3 * FRAMES) + "x" + ")" * (3 * FRAMES)


def test_pprint_refuses_an_exponentially_long_text():
    """The residual chain reads y twice per layer: its text doubles per layer."""
    x, _, cost, _ = residual_step(40)
    with pytest.raises(ValueError, match="debugprint"):
        pprint(cost)
    assert 2 ** 40 > MAX_PPRINT_CHARS


def test_dropping_a_reader_of_a_much_read_variable_keeps_the_others_in_order():
    """Each variable's readers are the keys of a dict: `replace` drops one in O(1) (a
    list filter per drop made the rewrites of the 4,000-layer chain quadratic)."""
    x, w = T.dvector("x"), T.dmatrix("w")
    outs = [T.dot(w, x * float(k)) for k in range(1, 6)]
    fgraph = FunctionGraph([x, w], outs)
    wi = fgraph.inputs[1]
    readers = fgraph.clients()[id(wi)]
    assert isinstance(readers, dict) and len(readers) == 5
    before = [n for n, _ in readers]
    third = fgraph.outputs[2]
    new = T.dot(wi.T, fgraph.inputs[0])
    fgraph.replace(third, new)
    after = [n for n, _ in fgraph.clients()[id(wi)]]
    assert after == [n for n in before if n is not third.owner] + [new.owner.inputs[0].owner]

def test_grad_and_the_first_call_plan_run_with_the_collector_paused(monkeypatch):
    import cgraph.compile.compiled as compiled  # noqa: PLC0415
    from cgraph.tensor.elemwise import Elemwise  # noqa: PLC0415

    seen = []
    plan, op_grad = compiled.plan_shapes, Elemwise.grad

    def probe_plan(*args, **kwargs):
        seen.append(("plan", gc.isenabled()))
        return plan(*args, **kwargs)

    def probe_grad(self, *args, **kwargs):
        seen.append(("grad", gc.isenabled()))
        return op_grad(self, *args, **kwargs)

    monkeypatch.setattr(compiled, "plan_shapes", probe_plan)
    monkeypatch.setattr(Elemwise, "grad", probe_grad)
    x = T.dvector("x")
    f = cgraph.function([x], cgraph.grad(T.sum(T.exp(x)), x))
    np.testing.assert_allclose(f(np.zeros(3)), np.ones(3))
    assert ("grad", False) in seen and ("plan", False) in seen
    assert all(not enabled for _, enabled in seen) and gc.isenabled()


def test_a_long_elementwise_chain_fuses_into_loops_of_bounded_length():
    """Fusion stops a loop at MAX_FUSED_OPS ops (a loop of thousands of statements took
    gcc minutes and ran slower than short ones); the loops compute what numpy does."""
    from cgraph.rewrite.fusion import MAX_FUSED_OPS  # noqa: PLC0415
    from cgraph.tensor.elemwise import FusedElemwise  # noqa: PLC0415

    x = T.dvector("x")
    y = x
    for _ in range(100):
        y = T.sin(y) * 0.9 + x * 0.1
    f = cgraph.function([x], y)
    loops = [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)]
    sizes = [len(n.op.scalar_op.steps) for n in loops]
    assert max(sizes) <= MAX_FUSED_OPS and sum(sizes) >= 300 and len(loops) >= 300 // 64
    xv = np.linspace(-2, 2, 11)
    want = xv
    for _ in range(100):
        want = np.sin(want) * 0.9 + xv * 0.1
    np.testing.assert_allclose(f(xv), want, rtol=1e-12)


def test_deepcopy_of_a_deep_graph_and_of_a_function():
    """`copy.deepcopy` copies each node and variable once (a variable reached from its
    owner and from outside had two copies, and a copied Function failed its first
    call) and walks the graph without recursion."""
    import copy  # noqa: PLC0415

    x, w, cost, update = residual_step(LAYERS)
    with shallow_stack():
        cost2, update2 = copy.deepcopy([cost, update])
    assert cost2.owner.outputs[0] is cost2 and update2.owner.outputs[0] is update2
    leaves = {id(v) for v in graph_inputs([cost2, update2])}
    assert id(x) not in leaves and id(w) not in leaves
    f = cgraph.function([x], cost, updates=[(w, update)])
    g = copy.deepcopy(f)
    xv = np.linspace(-0.5, 0.5, 4)
    w0 = w.get_value().copy()
    np.testing.assert_allclose(g(xv), numpy_cost(w0, xv, LAYERS), rtol=1e-10)
    np.testing.assert_array_equal(w.get_value(), w0)  # the copy updates its own W
    np.testing.assert_allclose(f(xv), numpy_cost(w0, xv, LAYERS), rtol=1e-10)
