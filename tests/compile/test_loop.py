"""Function.loop: many steps in one C call, bitwise equal to the Python loop."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph.compile.loop import LoopStopped

INPUTS = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
TARGETS = np.array([1, 1, 0, 0])


def xor_step():
    rng = np.random.default_rng(3)
    t1, t2 = rng.random((3, 3)), rng.random((4, 1))
    x, y = T.dvector("x"), T.dscalar("y")

    def layer(x, w):
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, np.array([1.0])])))

    theta1, theta2 = cgraph.shared(t1.copy()), cgraph.shared(t2.copy())
    fc = (T.sum(layer(layer(x, theta1), theta2)) - y) ** 2
    cost = cgraph.function([x, y], fc, updates=[
        (theta1, theta1 - 0.1 * T.grad(fc, wrt=theta1)),
        (theta2, theta2 - 0.1 * T.grad(fc, wrt=theta2))])
    return cost, (theta1, theta2), (t1, t2)


def reset(shared, values):
    for s, v in zip(shared, values):
        s.set_value(v.copy())


def test_xor_loop_is_bitwise_the_python_loop():
    cost, shared, init = xor_step()
    costs = [cost(INPUTS[k], TARGETS[k]) for _ in range(300) for k in range(4)]
    after_python = [s.get_value() for s in shared]
    reset(shared, init)
    recorded = cost.loop(INPUTS, TARGETS, epochs=300, record_every=1)
    assert recorded.shape == (1200,) and recorded.dtype == np.float64
    np.testing.assert_array_equal(recorded, np.array(costs))
    for s, want in zip(shared, after_python):
        np.testing.assert_array_equal(s.get_value(), want)
    reset(shared, init)
    last = cost.loop(INPUTS, TARGETS, epochs=300)  # default: the last step's output
    assert last.shape == () and last == costs[-1]
    every = cost.loop(INPUTS, TARGETS, epochs=2, record_every=3)
    assert every.shape == (2,)


@pytest.mark.parametrize("batch_size", [3, 5])
def test_shuffled_minibatches_with_fixed_learning_rate(batch_size):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    w0 = np.zeros(3)
    w = cgraph.shared(w0.copy(), name="w")
    xb, yb, lr = T.dmatrix("xb"), T.dvector("yb"), T.dscalar("lr")
    loss = T.mean((T.dot(xb, w) - yb) ** 2)
    step = cgraph.function([xb, lr, yb], loss, updates=[(w, w - lr * T.grad(loss, w))])
    # The Python loop, in the order loop() documents: a fresh permutation per epoch.
    order_rng = np.random.default_rng(11)
    losses = []
    for _ in range(4):
        perm = order_rng.permutation(10)
        for start in range(0, 10, batch_size):
            rows = perm[start:start + batch_size]
            losses.append(step(X[rows], 0.05, Y[rows]))
    want = w.get_value()
    w.set_value(w0.copy())
    got = step.loop(X, Y, epochs=4, batch_size=batch_size, shuffle=11, fixed={lr: 0.05},
                    record_every=None)
    np.testing.assert_array_equal(w.get_value(), want)
    assert got == losses[-1]
    if 10 % batch_size == 0:
        w.set_value(w0.copy())
        rec = step.loop(X, Y, epochs=4, batch_size=batch_size, shuffle=11,
                        fixed={"lr": 0.05}, record_every=1)
        np.testing.assert_array_equal(rec, np.array(losses))


def test_stop_on_nan_keeps_the_last_finite_state():
    w = cgraph.shared(np.array([2.5]), name="w")
    x = T.dvector("x")
    out = T.sum(T.log(w) * x)
    step = cgraph.function([x], out, updates=[(w, w - 1.0)])
    with pytest.warns(LoopStopped, match="stopped at step 3"):
        rec = step.loop(np.ones((10, 1)), epochs=1, record_every=1, stop_on_nan=True)
    # log(2.5), log(1.5), log(0.5) are finite; log(-0.5) is NaN at step 3.
    np.testing.assert_allclose(rec, np.log([2.5, 1.5, 0.5]), rtol=1e-15)
    np.testing.assert_array_equal(w.get_value(), [-0.5])


def test_progress_and_interrupt_leave_consistent_state():
    cost, shared, init = xor_step()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cost.loop(INPUTS, TARGETS, epochs=20000, progress=progress)
    done = seen[-1][0]
    assert 0 < done < 80000 and seen[-1][1] == 80000
    interrupted = [s.get_value() for s in shared]
    reset(shared, init)
    for step in range(done):
        cost(INPUTS[step % 4], TARGETS[step % 4])
    for s, want in zip(shared, interrupted):
        np.testing.assert_array_equal(s.get_value(), want)


def test_loop_argument_errors():
    cost, _, _ = xor_step()
    with pytest.raises(TypeError, match="2 sequence argument"):
        cost.loop(INPUTS)
    with pytest.raises(ValueError, match="differ in length"):
        cost.loop(INPUTS, TARGETS[:3])
    with pytest.raises(ValueError, match="2-d"):
        cost.loop(INPUTS[0], TARGETS)
    with pytest.raises(KeyError, match="not an input"):
        cost.loop(INPUTS, fixed={"nope": 1.0})
    x = T.dvector("x")
    with pytest.raises(ValueError, match="mode='C'"):
        cgraph.function([x], x * 2, mode="PY").loop(np.ones((2, 2)))


@pytest.mark.parametrize("batch_size", [None, 2])
def test_list_sequences_are_range_checked_like_arguments(batch_size):
    """A sequence given as a list is converted as a call's argument: with
    allow_input_downcast=True too, a Python int out of a uint8 input's range raises (it
    used to wrap, 300 -> 44) and the shared state is untouched."""
    x = T.tensor("uint8", shape=(None,) if batch_size else (), name="x")
    total = cgraph.shared(np.uint64(0), name="total")
    step = cgraph.function([x], T.sum(x), updates=[(total, total + T.sum(x))],
                           allow_input_downcast=True)
    with pytest.raises(TypeError, match=r"loop: .*input 0 \(x\).*300 is out of bounds"):
        step.loop([300, 1], batch_size=batch_size)
    assert total.get_value() == 0
    with pytest.raises(TypeError, match="-1 is out of bounds"):
        step.loop([1, -1, 2], batch_size=batch_size)
    # In range, a list gives what the Python loop of calls gives.
    rows = [255, 1, 7, 0]
    recorded = step.loop(rows, batch_size=batch_size, record_every=1)
    want = ([step(r) for r in rows] if batch_size is None
            else [step(rows[k:k + 2]) for k in range(0, 4, 2)])
    np.testing.assert_array_equal(recorded, np.array(want))
    assert total.get_value() == 2 * sum(rows)


def test_list_sequences_take_the_calls_conversions():
    """Lists of ints for a float32 input and of integral floats for an int input are
    accepted by a call (no allow_input_downcast needed): so they are by the loop."""
    x = T.tensor("float32", shape=(), name="x")
    step = cgraph.function([x], x * 2)
    np.testing.assert_array_equal(step.loop([1, 2, 3], record_every=1),
                                  np.array([2, 4, 6], dtype=np.float32))
    n = T.tensor("int32", shape=(), name="n")
    twice = cgraph.function([n], n * 2)
    np.testing.assert_array_equal(twice.loop([1.0, 5.0], record_every=1), [2, 10])
    with pytest.raises(TypeError, match="input 0 \\(n\\)"):
        twice.loop([1.5, 2.0])
