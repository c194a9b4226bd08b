"""Slices whose length changes from step to step inside a scan (x[:t], x[t:], x[a:t],
bounds computed in the step): a plan per step in mode C, against numpy loops and
numeric gradients in modes C and PY."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad, verify_grad
from cgraph.scan import scan


def prefix_suffix(t, v):
    return v[:t].sum() + v[t:].prod()


@pytest.mark.parametrize("mode", MODES)
def test_prefix_and_suffix_of_the_step_index(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(prefix_suffix, sequences=T.arange(n), non_sequences=x)
    f = cgraph.function([x, n], out, mode=mode)
    data = rng_for("prefix").normal(size=6)
    for steps in (6, 3, 1, 0):  # a new step count: new plans
        want = [data[:t].sum() + data[t:].prod() for t in range(steps)]
        np.testing.assert_allclose(f(data, steps), np.array(want).reshape(steps),
                                   rtol=1e-14)
    np.testing.assert_allclose(f(data[:4], 4), [data[:4][:t].sum() + data[:4][t:].prod()
                                                for t in range(4)], rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_bounds_computed_in_the_step_from_a_data_sequence(mode):
    """a and the step's bound from int sequences, a - 1 and 2 * t computed in the step,
    negative and past-the-end bounds clipped as numpy clips them."""
    x, starts, stops = T.dvector("x"), T.lvector("starts"), T.lvector("stops")
    out, _ = scan(lambda a, b, v: (v[a - 1:2 * b] ** 2).sum() - v[-b:].mean(),
                  sequences=[starts, stops], non_sequences=x)
    f = cgraph.function([x, starts, stops], out, mode=mode)
    data = rng_for("data bounds").normal(size=9)
    a_rows, b_rows = np.array([1, 3, 0, 5, -2, 2]), np.array([2, 4, 1, 9, 3, 2])
    want = [(data[a - 1:2 * b] ** 2).sum() - data[-b:].mean() for a, b in zip(a_rows, b_rows)]
    np.testing.assert_allclose(f(data, a_rows, b_rows), want, rtol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_columns_of_a_matrix_up_to_the_step_with_a_state(mode):
    """x[:, a:t] of a matrix with a non-sequence start, feeding a recurrent state."""
    M, a, h0 = T.dmatrix("M"), T.lscalar("a"), T.dvector("h0")
    out, _ = scan(lambda t, h, A, lo: T.tanh(A[:, lo:t].sum(axis=1) + h * 0.5),
                  sequences=T.arange(1, 6), outputs_info=h0, non_sequences=[M, a])
    f = cgraph.function([M, a, h0], out, mode=mode)
    data = rng_for("columns").normal(size=(3, 6))
    h, want = np.ones(3), []
    for t in range(1, 6):
        h = np.tanh(data[:, 1:t].sum(axis=1) + h * 0.5)
        want.append(h)
    np.testing.assert_allclose(f(data, 1, np.ones(3)), np.stack(want), rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_attention_over_the_rows_so_far_with_go_backwards(mode):
    """softmax-weighted sum over the rows before the step, the steps taken in reverse."""
    X, n = T.dmatrix("X"), T.lscalar("n")

    def step(t, A):
        seen = A[:t + 1]
        weights = T.exp(T.dot(seen, A[t]))
        return T.dot(weights / weights.sum(), seen)

    out, _ = scan(step, sequences=T.arange(n), non_sequences=X, go_backwards=True)
    f = cgraph.function([X, n], out, mode=mode)
    data = rng_for("attention").normal(size=(5, 3)) * 0.5
    want = []
    for t in reversed(range(5)):
        w = np.exp(data[:t + 1] @ data[t])
        want.append((w / w.sum()) @ data[:t + 1])
    np.testing.assert_allclose(f(data, 5), np.stack(want), rtol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_through_step_slices(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(lambda t, v: (v[:t] ** 2).sum() * v[t:].sum() + v[t - 1:2 * t].prod(),
                  sequences=T.arange(1, n), non_sequences=x)
    cost = (out * T.arange(1.0, 6.0)[:out.shape[0]]).sum()
    grad = cgraph.function([x, n], cgraph.grad(cost, x), mode=mode)
    value = cgraph.function([x, n], cost, mode="PY")
    data = rng_for("step slice grad").normal(size=7)
    numeric = numeric_grad(lambda v: float(value(v, 6)), [data], 1e-6)[0]
    np.testing.assert_allclose(grad(data, 6), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_of_a_prefix_recurrence(mode):
    def cost(x, h0):
        out, _ = scan(lambda t, h, v: T.tanh(v[:t + 1].sum() * h + v[t:].mean()),
                      sequences=T.arange(4), outputs_info=h0, non_sequences=x)
        return out.sum()

    rng = rng_for("verify prefix")
    verify_grad(cost, [rng.normal(size=5), rng.normal(size=())], rng=rng, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_second_derivative_through_step_slices(mode):
    x = T.dvector("x")
    out, _ = scan(lambda t, v: (v[:t] ** 3).sum(), sequences=T.arange(4), non_sequences=x)
    g = cgraph.grad(out.sum(), x)
    hess = cgraph.function([x], cgraph.grad((g * T.arange(1.0, 6.0)).sum(), x), mode=mode)
    data = rng_for("second").normal(size=5)
    # sum_t sum_{i<t} x_i^3: d/dx_i = 3 x_i^2 * (3 - i) for i < 3; weighted, 6 x_i (3 - i) (i + 1)
    want = np.array([6 * data[i] * (3 - i) * (i + 1) if i < 3 else 0.0 for i in range(5)])
    np.testing.assert_allclose(hess(data), want, rtol=1e-12)


def test_outputs_of_changing_shape_are_refused_in_both_modes():
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(lambda t, v: v[:t] * 2, sequences=T.arange(n), non_sequences=x)
    with pytest.raises(ValueError, match=r"step 1 have shapes \[\(1,\)\] but those of step "
                                         r"0 \[\(0,\)\]"):
        cgraph.function([x, n], out, mode="C")(np.arange(4.0), 3)
    with pytest.raises(ValueError):
        cgraph.function([x, n], out, mode="PY")(np.arange(4.0), 3)


@pytest.mark.parametrize("mode", MODES)
def test_bounds_from_a_state_or_from_a_sequence_of_states(mode):
    """The same sums with bounds from a sequence (the states of a first loop) and from
    a state of the loop itself (planned while the loop runs, tests/scan/
    test_scan_state_slices.py)."""
    x, k0 = T.dvector("x"), T.lscalar("k0")
    out, _ = scan(lambda k, v: T.minimum(k + 1, 4), outputs_info=k0, non_sequences=x,
                  n_steps=3)
    sums, _ = scan(lambda k, v: v[:k].sum(), sequences=out, non_sequences=x)
    data = np.arange(1.0, 6.0)
    f = cgraph.function([x, k0], sums, mode=mode)
    np.testing.assert_array_equal(f(data, 1), [3.0, 6.0, 10.0])
    carried, _ = scan(lambda k, v: [T.minimum(k + 1, 4), v[:k].sum()],
                      outputs_info=[k0, None], non_sequences=x, n_steps=3)
    g = cgraph.function([x, k0], carried[1], mode=mode)
    np.testing.assert_array_equal(g(data, 1), [1.0, 3.0, 6.0])


def test_fixed_shape_steps_keep_one_plan():
    """Only shapes that change per step make a plan per step: a scan with fixed
    shapes, windows and bounds from non-sequences keeps its one plan in the fixed slots
    (no plans after them)."""
    x, n, i = T.dvector("x"), T.lscalar("n"), T.lscalar("i")
    out, _ = scan(lambda t, v, a: v[t:t + 2].sum() + v[a:].sum(), sequences=T.arange(n),
                  non_sequences=[x, i])
    f = cgraph.function([x, n, i], out)
    node = [nd for nd in f._lowered.nodes if type(nd.op).__name__ == "Scan"][0]
    assert node.op.per_step == ()
    f(np.arange(6.0), 3, 1)
    (plan,) = f.compiled.plans.values()
    assert len(plan.P) == f._lowered.program.n_slots
    prefix, _ = scan(lambda t, v: v[:t].sum(), sequences=T.arange(n), non_sequences=x)
    g = cgraph.function([x, n], prefix)
    node = [nd for nd in g._lowered.nodes if type(nd.op).__name__ == "Scan"][0]
    assert node.op.per_step == (0,)
    np.testing.assert_array_equal(g(np.arange(6.0), 4), [0.0, 0.0, 1.0, 3.0])
    (plan,) = g.compiled.plans.values()
    assert len(plan.P) > g._lowered.program.n_slots
