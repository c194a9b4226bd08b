"""Slices whose bounds come from a state (x[:h], h returned by the previous step): in
mode C the loop asks Python for a step's plan when those values change
(`cgraph.scan.dynamic`). Against numpy loops and numeric gradients in modes C and
PY; errors name the step and the state."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.compile.export import export_c
from cgraph.gradient import numeric_grad, verify_grad
from cgraph.scan import dynamic, scan


def growing_prefix(n_steps: int):
    """k <- min(k + 1, 4) and the sum of squares of v[:k], for v and k0."""
    x, k0 = T.dvector("x"), T.lscalar("k0")
    out, _ = scan(lambda k, v: [T.minimum(k + 1, 4), (v[:k] ** 2).sum() * v[k:].sum()],
                  outputs_info=[k0, None], non_sequences=x, n_steps=n_steps)
    return x, k0, out


def numpy_prefix(data: np.ndarray, k: int, n_steps: int) -> tuple[list, list]:
    ks, sums = [], []
    for _ in range(n_steps):
        sums.append((data[:k] ** 2).sum() * data[k:].sum())
        k = min(k + 1, 4)
        ks.append(k)
    return ks, sums


@pytest.mark.parametrize("mode", MODES)
def test_a_prefix_whose_length_is_a_state(mode):
    x, k0, out = growing_prefix(6)
    f = cgraph.function([x, k0], out, mode=mode)
    data = rng_for("state prefix").normal(size=6)
    for start in (1, 0, 3, -2, 9, 1):  # new starts, negative and past the end, repeated
        ks, sums = f(data, start)
        want_ks, want_sums = numpy_prefix(data, start, 6)
        np.testing.assert_array_equal(ks, want_ks)
        np.testing.assert_allclose(sums, want_sums, rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_attention_over_a_growing_number_of_rows(mode):
    """A query state attends to the first h rows of M, h a state that grows by 2
    (clipped), with a data sequence added to the query: a matrix slice of a state,
    states of two dtypes, and the gradients of M and the initial query."""
    M, q0, h0, xs = T.dmatrix("M"), T.dvector("q0"), T.lscalar("h0"), T.dmatrix("xs")

    def step(x, h, q, m):
        rows = m[:h]
        w = T.nnet.softmax(T.dot(rows, q).dimshuffle("x", 0))[0]
        return [T.minimum(h + 2, m.shape[0]), T.tanh(T.dot(w, rows) + x)]

    (hs, qs), _ = scan(step, sequences=xs, outputs_info=[h0, q0], non_sequences=M)
    cost = (qs * T.arange(1.0, 6.0).dimshuffle(0, "x")).sum()
    f = cgraph.function([M, q0, h0, xs], [hs, qs, cost] + cgraph.grad(cost, [M, q0]),
                        mode=mode)
    rng = rng_for("attention state")
    m, q, x = rng.normal(size=(7, 3)), rng.normal(size=3), rng.normal(size=(5, 3))

    def numpy_cost(m, q, h=1):
        qs_np = []
        for row in x:
            s = m[:h] @ q
            w = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            q = np.tanh(w @ m[:h] + row)
            h = min(h + 2, len(m))
            qs_np.append(q)
        return np.stack(qs_np), (np.stack(qs_np) * np.arange(1.0, 6.0)[:, None]).sum()

    got_h, got_q, got_cost, d_m, d_q = f(m, q, 1, x)
    want_q, want_cost = numpy_cost(m, q)
    np.testing.assert_array_equal(got_h, [3, 5, 7, 7, 7])
    np.testing.assert_allclose(got_q, want_q, rtol=1e-13)
    np.testing.assert_allclose(got_cost, want_cost, rtol=1e-13)
    num_m, num_q = numeric_grad(lambda a, b: numpy_cost(a, b)[1], [m, q], 1e-6)
    np.testing.assert_allclose(d_m, num_m, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d_q, num_q, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_bounds_from_a_state_and_a_sequence_going_backwards(mode):
    """v[a:h] with a from a sequence read backwards and h a state."""
    v, starts, h0 = T.dvector("v"), T.lvector("starts"), T.lscalar("h0")
    (hs, sums), _ = scan(lambda a, h, x: [h + 1, x[a:h].sum() + h], sequences=starts,
                         outputs_info=[h0, None], non_sequences=v, go_backwards=True)
    f = cgraph.function([v, starts, h0], [hs, sums], mode=mode)
    data = rng_for("backwards state").normal(size=8)
    a_rows = np.array([0, 2, 1, 1, 4])
    h, want = 2, []
    for a in a_rows[::-1]:
        want.append(data[a:h].sum() + h)
        h += 1
    got_h, got = f(data, a_rows, 2)
    np.testing.assert_array_equal(got_h, np.arange(3, 8))
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_and_second_derivative_with_state_bounds(mode):
    x, k0, (ks, sums) = growing_prefix(5)
    cost = (sums * T.arange(1.0, 6.0)).sum()
    value = cgraph.function([x, k0], cost, mode="PY")
    grad = cgraph.grad(cost, x)
    g = cgraph.function([x, k0], grad, mode=mode)
    data = rng_for("state grad").normal(size=6)
    numeric = numeric_grad(lambda d: float(value(d, 1)), [data], 1e-6)[0]
    np.testing.assert_allclose(g(data, 1), numeric, rtol=1e-6, atol=1e-8)
    # the gradient's own gradient, against central differences of the gradient
    hess_v = cgraph.function([x, k0], cgraph.grad((grad * T.arange(1.0, 7.0)).sum(), x),
                             mode=mode)
    weighted = cgraph.function([x, k0], (grad * T.arange(1.0, 7.0)).sum(), mode="PY")
    numeric = numeric_grad(lambda d: float(weighted(d, 1)), [data], 1e-6)[0]
    np.testing.assert_allclose(hess_v(data, 1), numeric, rtol=1e-5, atol=1e-7)

    def prefix_cost(v, h0):
        (_, out), _ = scan(lambda k, q, w: [T.minimum(k + 1, 3), T.tanh(w[:k].sum() * q)],
                           outputs_info=[T.constant(np.int64(1)), h0], non_sequences=v,
                           n_steps=4)
        return out.sum()

    rng = rng_for("verify state")
    verify_grad(prefix_cost, [rng.normal(size=5), rng.normal(size=())], rng=rng, mode=mode)


def test_outputs_whose_shape_changes_name_the_step_and_the_state():
    x, k0 = T.dvector("x"), T.lscalar("k0")
    (_, out), _ = scan(lambda k, v: [k + 1, v[:k] * 2], outputs_info=[k0, None],
                       non_sequences=x, n_steps=3)
    f = cgraph.function([x, k0], out, mode="C")
    with pytest.raises(ValueError, match=r"scan: step 1 \(its shapes depend on state 0 "
                                         r"\(k0\[t-1\]\) = 2\).*shape \(2,\) at step 1 but "
                                         r"\(1,\) at step 0"):
        f(np.arange(4.0), 1)
    with pytest.raises(ValueError):
        cgraph.function([x, k0], out, mode="PY")(np.arange(4.0), 1)
    np.testing.assert_array_equal(f(np.arange(4.0), 4), [[0, 2, 4, 6]] * 3)  # clipped


def test_a_step_shape_error_and_a_raising_callback_come_back_as_exceptions(monkeypatch):
    x, k0 = T.dvector("x"), T.lscalar("k0")
    (_, out), _ = scan(lambda k, v: [k + 1, (v[:k] + v[:2]).sum()],
                       outputs_info=[k0, None], non_sequences=x, n_steps=3)
    f = cgraph.function([x, k0], out, mode="C")
    data = np.arange(5.0)
    with pytest.raises(ValueError, match=r"step 1 \(its shapes depend on state 0 .* = 3\)"
                                         r": ShapeError: .*do not broadcast"):
        f(data, 2)
    plan_for = dynamic.plan_for

    def failing(op, inner, values):
        if int(values[op.dynamic[0]]) == 4:
            raise RuntimeError("no plan today")
        return plan_for(op, inner, values)

    # a new loop: its step 0 is planned before the loop, steps from 1 by the callback
    (_, out), _ = scan(lambda k, v: [k + 1, v[:k].sum()], outputs_info=[k0, None],
                       non_sequences=x, n_steps=4)
    g = cgraph.function([x, k0], out, mode="C")
    monkeypatch.setattr(dynamic, "plan_for", failing)
    with pytest.raises(RuntimeError, match=r"step 2 \(its shapes depend on state 0 "
                                           r".* = 4\): RuntimeError: no plan today"):
        g(data, 2)
    monkeypatch.setattr(dynamic, "plan_for", plan_for)
    np.testing.assert_array_equal(g(data, 2), [1.0, 3.0, 6.0, 10.0])


def test_the_callback_runs_only_when_the_shaping_values_change():
    x, k0, (_, sums) = growing_prefix(10)
    f = cgraph.function([x, k0], sums, mode="C")
    data = rng_for("calls").normal(size=6)
    f(data, 1)
    before = dynamic.callbacks
    np.testing.assert_allclose(f(data, 1), numpy_prefix(data, 1, 10)[1], rtol=1e-14)
    assert dynamic.callbacks - before == 4  # k = 1, 2, 3, then 4 for the other 7 steps


def test_threads_share_a_function_with_state_bounds():
    x, k0, (_, sums) = growing_prefix(8)
    f = cgraph.function([x, k0], sums, mode="C")
    data = rng_for("threads").normal(size=6)
    errors = []

    def work(start):
        try:
            for _ in range(30):
                np.testing.assert_allclose(f(data, start), numpy_prefix(data, start, 8)[1],
                                           rtol=1e-14)
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_a_function_with_state_bounds_pickles():
    x, k0, (_, sums) = growing_prefix(5)
    f = cgraph.function([x, k0], sums, mode="C")
    data = rng_for("pickle state").normal(size=6)
    copy = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(copy(data, 2), numpy_prefix(data, 2, 5)[1], rtol=1e-14)
    np.testing.assert_allclose(f(data, 2), numpy_prefix(data, 2, 5)[1], rtol=1e-14)


def test_export_refuses_a_loop_planned_in_python(tmp_path):
    """Its C calls into this process: an exported library could not run it."""
    x = T.dvector("x")
    (_, out), _ = scan(lambda k, v: [T.minimum(k + 1, 3), v[:k].sum()],
                       outputs_info=[T.constant(np.int64(1)), None], non_sequences=x,
                       n_steps=4)
    f = cgraph.function([x], out, mode="C")
    np.testing.assert_array_equal(f(np.arange(5.0)), [0.0, 1.0, 3.0, 3.0])
    with pytest.raises(NotImplementedError, match="planned in Python"):
        export_c(f, tmp_path / "lib", input_shapes=[(5,)])


@pytest.mark.parametrize("mode", MODES)
def test_a_loop_with_state_bounds_inside_a_loop(mode):
    """The inner loop's first bound comes from the outer loop's step index; the outer
    step's plan holds the inner loop's context."""
    x = T.dvector("x")

    def outer(t, acc, v):
        (_, sums), _ = scan(lambda k, w: [T.minimum(k + 1, 5), w[:k].sum()],
                            outputs_info=[t, None], non_sequences=v, n_steps=3)
        return acc + sums.sum()

    out, _ = scan(outer, sequences=T.arange(4), outputs_info=T.constant(0.0),
                  non_sequences=x)
    f = cgraph.function([x], [out, cgraph.grad(out.sum(), x)], mode=mode)
    data = rng_for("nested state").normal(size=6)
    acc, want, counts = 0.0, [], np.zeros(6)
    for t in range(4):
        k = t
        for _ in range(3):
            acc += data[:k].sum()
            counts[:k] += 4 - t  # the sums of steps t..3 of the outer loop hold it
            k = min(k + 1, 5)
        want.append(acc)
    got, grad = f(data)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(grad, counts, rtol=1e-14)


def test_state_bounds_inside_function_loop():
    """Function.loop runs the calls in C; the scan's callback still plans its steps."""
    x, k0 = T.dvector("x"), T.lscalar("k0")
    acc = cgraph.shared(0.0, name="acc")
    (_, out), _ = scan(lambda k, v: [T.minimum(k + 1, 4), v[:k].sum()],
                       outputs_info=[k0, None], non_sequences=x, n_steps=5)
    f = cgraph.function([x, k0], out, updates=[(acc, acc + out.sum())])
    rows = rng_for("loop state").normal(size=(6, 5))
    last = f.loop(rows, fixed={k0: 1})
    sums = [numpy_state_sums(r, 1) for r in rows]
    np.testing.assert_allclose(last, sums[-1], rtol=1e-14)
    np.testing.assert_allclose(acc.get_value(), np.sum(sums), rtol=1e-13)


def numpy_state_sums(data: np.ndarray, k: int) -> list[float]:
    sums = []
    for _ in range(5):
        sums.append(data[:k].sum())
        k = min(k + 1, 4)
    return sums


@pytest.mark.parametrize("mode", MODES)
def test_a_step_whose_plan_grows_with_the_state(mode):
    """The step holds a loop of k steps with a plan per step, k a state: each step's plan
    is longer than the last (the kernel grows its buffer and asks again)."""
    x, k0 = T.dvector("x"), T.lscalar("k0")

    def step(k, v):
        inner, _ = scan(lambda t, w: (w[:t] ** 2).sum(), sequences=T.arange(k),
                        non_sequences=v)
        return [k + 1, inner.sum()]

    (_, out), _ = scan(step, outputs_info=[k0, None], non_sequences=x, n_steps=5)
    f = cgraph.function([x, k0], [out, cgraph.grad(out.sum(), x)], mode=mode)
    data = rng_for("growing plan").normal(size=7)
    want, counts = [], np.zeros(7)
    for k in range(1, 6):
        want.append(sum((data[:t] ** 2).sum() for t in range(k)))
        for t in range(k):
            counts[:t] += 1
    got, grad = f(data, 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(grad, 2 * data * counts, rtol=1e-14)
