"""What a loop's steps write where (#19): without stop_on_nan a step writes its updates
into the state copies itself (no copy by the loop), with stop_on_nan the loop copies
them after checking the outputs; the steps' workspace comes from the module's pool."""

from __future__ import annotations

import warnings

import numpy as np

import cgraph
import cgraph.tensor as T
from cgraph.compile.loop import LoopStopped, loop_buffers


def sgd_step():
    """A least-squares SGD step whose loss blows up with a large learning rate."""
    x, y = T.dvector("x"), T.dscalar("y")
    w = cgraph.shared(np.linspace(-1, 1, 4), name="w")
    loss = (T.dot(T.exp(x), w) - y) ** 2
    lr = T.dscalar("lr")
    step = cgraph.function([x, y, lr], loss, updates=[(w, w - lr * cgraph.grad(loss, w))])
    return step, w


def test_updates_written_by_the_steps_equal_the_calls_and_stop_on_nan_keeps_the_state():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 4)), rng.standard_normal(6)
    step, w = sgd_step()
    init = w.get_value()
    calls = [step(X[k], Y[k], 0.01) for _ in range(3) for k in range(6)]
    after = w.get_value()
    w.set_value(init)
    looped = step.loop(X, Y, epochs=3, record_every=1, fixed={"lr": 0.01})
    np.testing.assert_array_equal(looped, calls)
    np.testing.assert_array_equal(w.get_value(), after)
    # a rate that overflows: the loop stops with w as it was before the step whose
    # loss is not finite (the loop copies the updates itself when it checks)
    w.set_value(init)
    states = []
    for k in range(200):
        loss = step(X[k % 6], Y[k % 6], 50.0)
        if not np.isfinite(loss):
            break
        states.append(w.get_value())
    w.set_value(init)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step.loop(X, Y, epochs=40, stop_on_nan=True, fixed={"lr": 50.0})
    assert any(issubclass(c.category, LoopStopped) for c in caught)
    np.testing.assert_array_equal(w.get_value(), states[-1])


def test_the_steps_workspace_comes_from_the_pool():
    step, w = sgd_step()
    X, Y = np.ones((4, 4)), np.zeros(4)
    pool = loop_buffers(step.compiled)
    asked, given = [], []
    scratch, give = pool.scratch, pool.give
    pool.scratch = lambda n: asked.append(n) or scratch(n)
    pool.give = lambda arrays: given.extend(a.nbytes for a in arrays) or give(arrays)
    step.loop(X, Y, epochs=2, fixed={"lr": 0.01})
    plan = step.compiled.plan(next(iter(step.compiled.plans)), [])
    workspace = int(plan.params[0])
    assert workspace > 0 and workspace in asked and workspace in given
