"""Whole-step fusion (#19, cgraph/rewrite/step_fusion.py): the kernels of a small
training step before its updates run as one block, an inner program called by one
kernel, with the results of the unfused step at any size."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.rewrite.step_fusion import LOCAL_BYTES, StepBlock
from cgraph.tensor import nnet

INPUTS = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=np.float64)
TARGETS = np.array([1, 1, 0, 0], dtype=np.float64)


def xor_step(dtype: str = "float64", hidden: int = 3, mode: str | None = None,
             seed: int = 0):
    """The tutorial's XOR step (a `hidden`-unit layer) with SGD updates."""
    rng = np.random.default_rng(seed)
    w1 = cgraph.shared(rng.random((3, hidden)).astype(dtype), name="w1")
    w2 = cgraph.shared(rng.random((hidden + 1, 1)).astype(dtype), name="w2")
    x, y = T.vector("x", dtype=dtype), T.scalar("y", dtype=dtype)
    one = np.ones(1, dtype)

    def layer(a, w):
        return nnet.sigmoid(T.dot(w.T, T.concatenate([a, one])))

    cost = (T.sum(layer(layer(x, w1), w2)) - y) ** 2
    lr = np.asarray(0.1, dtype)
    f = cgraph.function([x, y], cost, mode=mode, updates=[
        (w1, w1 - lr * cgraph.grad(cost, w1)), (w2, w2 - lr * cgraph.grad(cost, w2))])
    return f, (w1, w2)


def families(f) -> list[str]:
    return [s.kernel.family for s in f._lowered.program.steps]


def numpy_step(w1, w2, x, y, lr=0.1):
    """The same step by hand (float64): cost and the updated weights."""
    a0 = np.concatenate([x, [1.0]])
    h = 1 / (1 + np.exp(-(w1.T @ a0)))
    a1 = np.concatenate([h, [1.0]])
    o = 1 / (1 + np.exp(-(w2.T @ a1)))
    d = o.sum() - y
    d_o = 2 * d * o * (1 - o)
    d_h = (w2[:-1] @ d_o) * h * (1 - h)
    return d * d, w1 - lr * np.outer(a0, d_h), w2 - lr * np.outer(a1, d_o)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_xor_step_is_a_block_and_its_two_updates(dtype):
    f, shared = xor_step(dtype)
    g, ref_shared = xor_step(dtype, mode="PY")
    assert families(f) == ["block", "elementwise", "elementwise"]
    (block,) = [n for n in f.fgraph.toposort() if isinstance(n.op, StepBlock)]
    assert str(block.op) == "block{10 kernels}"
    rtol = 1e-12 if dtype == "float64" else 1e-5
    w1, w2 = (s.get_value().astype(np.float64) for s in shared)
    for k in range(8):
        x, y = INPUTS[k % 4].astype(dtype), TARGETS[k % 4].astype(dtype)
        cost, w1, w2 = numpy_step(w1, w2, INPUTS[k % 4], TARGETS[k % 4])
        got, want = f(x, y), g(x, y)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, want, rtol=rtol)
        np.testing.assert_allclose(got, cost, rtol=rtol)
    for s, r, want in zip(shared, ref_shared, (w1, w2)):
        np.testing.assert_allclose(s.get_value(), r.get_value(), rtol=rtol)
        np.testing.assert_allclose(s.get_value(), want, rtol=rtol)


def test_small_then_large_shapes_give_the_unfused_results():
    """The block is planned per call: a hidden layer set to 1000 units after the
    function was built with 3 needs an inner workspace past LOCAL_BYTES (the heap)."""
    f, (w1, w2) = xor_step(hidden=3)
    g, (r1, r2) = xor_step(hidden=3, mode="PY")
    x, y = INPUTS[0], TARGETS[0]
    np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-12)
    rng = np.random.default_rng(1)
    big1, big2 = rng.random((3, 1000)) * 0.01, rng.random((1001, 1)) * 0.01
    for s, v in ((w1, big1), (w2, big2), (r1, big1), (r2, big2)):
        s.set_value(v)
    cost, n1, n2 = numpy_step(big1, big2, x, y)
    np.testing.assert_allclose(f(x, y), cost, rtol=1e-12)
    np.testing.assert_allclose(g(x, y), cost, rtol=1e-12)
    for s, r, want in ((w1, r1, n1), (w2, r2, n2)):
        np.testing.assert_allclose(s.get_value(), want, rtol=1e-12)
        np.testing.assert_allclose(s.get_value(), r.get_value(), rtol=1e-12)
    (block,) = [n for n in f.fgraph.toposort() if isinstance(n.op, StepBlock)]
    shape = {"x": (2,), "y": (), "w1": (3, 1000), "w2": (1001, 1)}
    shapes = [np.shape(u.data) if hasattr(u, "data") else shape[u.name] for u in block.inputs]
    assert int(block.op.plan(shapes).params[0]) > LOCAL_BYTES
    for s in (w1, r1):  # and back to small shapes
        s.set_value(np.full((3, 3), 0.5))
    for s in (w2, r2):
        s.set_value(np.full((4, 1), 0.25))
    np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-12)
    np.testing.assert_allclose(w1.get_value(), r1.get_value(), rtol=1e-12)


def test_the_loop_of_a_fused_step_equals_its_calls():
    f, shared = xor_step()
    init = [s.get_value() for s in shared]
    calls = [f(INPUTS[k], TARGETS[k]) for _ in range(25) for k in range(4)]
    after = [s.get_value() for s in shared]
    for s, v in zip(shared, init):
        s.set_value(v)
    looped = f.loop(INPUTS, TARGETS, epochs=25, record_every=1)
    np.testing.assert_array_equal(looped, calls)
    for s, want in zip(shared, after):
        np.testing.assert_array_equal(s.get_value(), want)
    for s, v in zip(shared, init):
        s.set_value(v)
    fast = f.loop(INPUTS, TARGETS, epochs=25, record_every=1, specialize=True)
    np.testing.assert_allclose(fast, calls, rtol=1e-13)
    for s, want in zip(shared, after):
        np.testing.assert_allclose(s.get_value(), want, rtol=1e-13)


def test_functions_without_state_and_minibatch_steps_keep_their_kernels():
    x = T.dvector("x")
    f = cgraph.function([x], T.sum(T.exp(T.concatenate([x, x]))) * 2 + T.dot(x, x))
    assert "block" not in families(f)
    X = T.dmatrix("X")
    w = cgraph.shared(np.zeros((3, 2)), name="w")
    err = T.sum((T.dot(X, w) - 1) ** 2)
    step = cgraph.function([X], err, updates=[(w, w - 0.1 * cgraph.grad(err, w))])
    assert "block" not in families(step)
    np.testing.assert_allclose(step(np.ones((4, 3))), 8.0)


def test_a_view_made_before_a_run_is_made_again_inside_its_block():
    """The inner program takes C-contiguous inputs: a block reading w.T made outside
    it reads w and transposes it itself."""
    from cgraph.graph.basic import ViewOp
    from cgraph.graph.fg import FunctionGraph
    from cgraph.rewrite.step_fusion import _block

    w, x = T.dmatrix("w"), T.dvector("x")
    fg = FunctionGraph([w, x], [T.exp(T.dot(w.T, x)) + 1])
    _block(fg, [n for n in fg.toposort() if not isinstance(n.op, ViewOp)])
    (node,) = [n for n in fg.toposort() if isinstance(n.op, StepBlock)]
    assert [v.owner for v in node.inputs] == [None, None]
    rng = np.random.default_rng(2)
    wv, xv = rng.standard_normal((3, 2)), rng.standard_normal(3)
    (got,) = node.op.perform(node, [wv, xv] if node.inputs[0] is fg.inputs[0] else [xv, wv])
    np.testing.assert_allclose(got, np.exp(wv.T @ xv) + 1)
    shapes = [(3, 2), (3,)] if node.inputs[0] is fg.inputs[0] else [(3,), (3, 2)]
    assert node.op.plan(shapes).out_shapes == ((2,),)


def test_a_kernel_no_block_holds_splits_the_step_into_two_blocks():
    """A gather (advanced indexing) between two runs: each run is its own block, and
    the second reads what the first and the gather computed."""
    def build(mode=None):
        w = cgraph.shared(np.random.default_rng(4).standard_normal((5, 3)), name="w")
        x, y = T.dvector("x"), T.dscalar("y")
        h = T.tanh(T.dot(w, T.exp(x) + 1))
        cost = (T.sum(T.sin(h[np.array([0, 2, 4])]) * 2 + h[:3]) - y) ** 2
        return cgraph.function([x, y], cost, mode=mode,
                               updates=[(w, w - 0.1 * cgraph.grad(cost, w))]), w

    (step, w), (ref, w_ref) = build(), build("PY")
    assert families(step).count("block") == 2, families(step)
    rng = np.random.default_rng(5)
    for k in range(3):
        xv, yv = rng.standard_normal(3), float(k)
        np.testing.assert_allclose(step(xv, yv), ref(xv, yv), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), w_ref.get_value(), rtol=1e-12)
