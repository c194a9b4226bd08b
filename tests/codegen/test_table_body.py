"""A long body is a table run by a loop (csrc/cg_table.h, render.TABLE_STEPS): with the
threshold at 0 every body is one, and each function must compute what the straight-line
body computes (and mode PY), fail with the same message, time each kernel when
profiled and keep its updates in place."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.ifelse import ifelse

render = importlib.import_module("cgraph.codegen.render")  # the package exports the function


@pytest.fixture
def tables(monkeypatch):
    """Every body rendered as a table (the cache key knows the threshold)."""
    monkeypatch.setattr(render, "TABLE_STEPS", 0)


def is_table(f) -> bool:
    source = f.c_source
    return "cg_tstep" in source and not re.search(r"\(rc = k\d+\(P \+", source)


def xor_step(mode: str):
    """The tutorial's training step: views (w.T), a join, products, in-place updates."""
    x, y = T.dvector("x"), T.dscalar("y")
    rng = np.random.default_rng(3)
    t1 = cgraph.shared(rng.random((3, 3)), name="theta1")
    t2 = cgraph.shared(rng.random((4, 1)), name="theta2")

    def layer(v, w):
        return T.nnet.sigmoid(T.dot(w.T, T.concatenate([v, np.array([1.0])])))

    out = T.sum(layer(layer(x, t1), t2))
    cost = (out - y) ** 2
    f = cgraph.function([x, y], cost, mode=mode, updates=[
        (t1, t1 - 0.1 * cgraph.grad(cost, t1)), (t2, t2 - 0.1 * cgraph.grad(cost, t2))])
    return f, (t1, t2)


def test_training_step_as_a_table_equals_mode_py(tables):
    f, params = xor_step("C")
    g, ref = xor_step("PY")
    assert is_table(f)
    data = [(np.array([0.0, 1.0]), 1.0), (np.array([1.0, 1.0]), 0.0)] * 3
    for x, y in data:
        np.testing.assert_allclose(f(x, y), g(x, y), rtol=1e-13)
    for p, q in zip(params, ref):
        np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-13)


def test_lazy_branch_rows_run_only_when_taken(tables):
    a, b = T.dscalar("a"), T.dvector("b")
    f = cgraph.function([a, b], ifelse(T.gt(a, 0), T.exp(b).sum(), T.log(b).sum() * 2))
    assert is_table(f)
    np.testing.assert_allclose(f(1.0, np.array([1.0, 2.0])), np.exp([1.0, 2.0]).sum())
    np.testing.assert_allclose(f(-1.0, np.array([1.0, 2.0])), 2 * np.log([1.0, 2.0]).sum())


def test_a_failing_row_names_its_kernel_as_the_direct_call_does(tables, monkeypatch):
    x, i = T.dvector("x"), T.lvector("i")
    expr = x[i] * 2
    f = cgraph.function([x, i], expr)
    assert is_table(f)
    with pytest.raises(IndexError) as table_error:
        f(np.arange(3.0), np.array([0, 7]))
    monkeypatch.setattr(render, "TABLE_STEPS", 10**6)
    g = cgraph.function([x, i], expr)
    assert not is_table(g)
    with pytest.raises(IndexError) as direct_error:
        g(np.arange(3.0), np.array([0, 7]))
    assert "in node" in str(table_error.value)
    assert str(table_error.value) == str(direct_error.value)


def test_profiled_table_counts_every_kernel(tables):
    x = T.dvector("x")
    f = cgraph.function([x], [T.exp(x).sum(), T.dot(x, x)], profile=True)
    assert is_table(f)
    for _ in range(5):
        f(np.ones(4))
    calls = f.profile.counters[1::2]
    assert len(calls) == len(f._lowered.program.steps)
    assert all(c == 5 for c in calls)


def test_scan_step_program_as_a_table(tables):
    x = T.dvector("x")
    ys, _ = cgraph.scan(lambda v, acc: T.tanh(v * acc) + acc, sequences=[x],
                        outputs_info=[T.constant(0.5)])
    f = cgraph.function([x], ys)
    assert is_table(f)
    xv = np.linspace(-1, 1, 7)
    acc, expected = 0.5, []
    for v in xv:
        acc = np.tanh(v * acc) + acc
        expected.append(acc)
    np.testing.assert_allclose(f(xv), expected, rtol=1e-13)


def test_deep_chain_compiles_as_a_table_with_the_default_threshold():
    """Past TABLE_STEPS steps the default body is a table; its numbers equal mode PY."""
    x = T.dvector("x")
    w = cgraph.shared(np.eye(3) * 0.5, name="W")
    y = x
    for _ in range(20):
        y = T.tanh(T.dot(w, y)) + y
    cost = T.sum(y ** 2)
    grad = cgraph.grad(cost, w)
    f = cgraph.function([x], [cost, grad])
    assert len(f._lowered.program.steps) > render.TABLE_STEPS and is_table(f)
    g = cgraph.function([x], [cost, grad], mode="PY")
    for a, b in zip(f(np.ones(3)), g(np.ones(3))):
        np.testing.assert_allclose(a, b, rtol=1e-12)
