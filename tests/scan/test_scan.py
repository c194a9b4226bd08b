"""scan: loops that run inside the function's C, against Python loops."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad
from cgraph.scan import scan


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_sum_and_backwards(mode):
    x = T.dvector("x")
    forward, _ = scan(lambda v, acc: acc + v, sequences=[x], outputs_info=[T.constant(0.0)])
    backward, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0),
                       go_backwards=True)
    f = cgraph.function([x], [forward, backward], mode=mode)
    data = np.array([1.0, 2.0, 3.0, 4.0])
    fw, bw = f(data)
    np.testing.assert_array_equal(fw, np.cumsum(data))
    np.testing.assert_array_equal(bw, np.cumsum(data[::-1]))
    empty_fw, _ = f(np.zeros(0))
    assert empty_fw.shape == (0,)


@pytest.mark.parametrize("mode", MODES)
def test_polynomial_with_plain_outputs(mode):
    # Theano's tutorial: each step computes one term; None: not fed back.
    coefficients = T.dvector("coefficients")
    x = T.dscalar("x")
    powers = T.constant(np.arange(10, dtype="float64"))
    terms, _ = scan(lambda c, p, xv: c * xv ** p, sequences=[coefficients, powers],
                    outputs_info=None, non_sequences=x)
    f = cgraph.function([coefficients, x], terms.sum(), mode=mode)
    c = np.array([1.0, 0.0, 2.0])
    assert f(c, 3.0) == pytest.approx(1 + 2 * 9)


@pytest.mark.parametrize("mode", MODES)
def test_power_iteration_with_n_steps(mode):
    A = T.dmatrix("A")
    v0 = T.dvector("v0")
    k = T.lscalar("k")
    vs, _ = scan(lambda v, M: T.dot(M, v) / T.sqrt(T.sum(T.dot(M, v) ** 2)),
                 outputs_info=v0, non_sequences=A, n_steps=k)
    f = cgraph.function([A, v0, k], [vs, vs[-1]], mode=mode)
    M = np.array([[2.0, 1.0], [1.0, 3.0]])
    out, top = f(M, np.ones(2), 50)
    w, V = np.linalg.eigh(M)
    np.testing.assert_allclose(np.abs(top), np.abs(V[:, -1]), rtol=1e-9)
    np.testing.assert_array_equal(out[-1], top)
    g = cgraph.function([A, v0, k], vs, mode=mode)
    assert g(M, np.ones(2), 0).shape == (0, 2)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_forward_matches_python_loop(mode):
    rng = np.random.default_rng(0)
    Wx, Wh = rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 4)) * 0.5
    X = T.dmatrix("X")
    h0 = T.dvector("h0")
    Wx_s, Wh_s = cgraph.shared(Wx, name="Wx"), cgraph.shared(Wh, name="Wh")
    hs, _ = scan(lambda x_t, h, a, b: T.tanh(T.dot(x_t, a) + T.dot(h, b)),
                 sequences=X, outputs_info=h0, non_sequences=[Wx_s, Wh_s])
    f = cgraph.function([X, h0], hs, mode=mode)
    data = rng.standard_normal((6, 3))
    h = np.zeros(4)
    expected = []
    for x_t in data:
        h = np.tanh(x_t @ Wx + h @ Wh)
        expected.append(h)
    np.testing.assert_allclose(f(data, np.zeros(4)), np.array(expected), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_two_states_fibonacci(mode):
    n = T.lscalar("n")
    (a, b), _ = scan(lambda x, y: [y, x + y],
                     outputs_info=[T.constant(np.int64(0)), T.constant(np.int64(1))], n_steps=n)
    f = cgraph.function([n], [a, b], mode=mode)
    fa, fb = f(10)
    np.testing.assert_array_equal(fa, [1, 1, 2, 3, 5, 8, 13, 21, 34, 55])
    assert fb[-1] == 89


def test_errors():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="taps must be negative"):
        scan(lambda a, b: a + b, sequences=[x], outputs_info=[dict(initial=x, taps=[0])])
    m, h = T.dmatrix("m"), T.dvector("h")
    with pytest.raises(TypeError, match="initial value"):
        scan(lambda v, acc: acc + v, sequences=[m], outputs_info=[T.constant(0.0)])
    grows, _ = scan(lambda v, acc: acc + v, sequences=[m], outputs_info=[h])
    f = cgraph.function([m, h], grows)
    with pytest.raises(ValueError, match=r"h\[t-1\]\) has length 1 on axis 0"):
        f(np.ones((2, 3)), np.ones(1))  # a length 1 does not stretch (Theano's rule)
    grows, _ = scan(lambda v, acc: acc + v, sequences=[m],
                    outputs_info=[T.addbroadcast(h, 0)])
    with pytest.raises(ValueError, match="state 0 starts with shape"):
        cgraph.function([m, h], grows)(np.ones((2, 3)), np.ones(1))


@pytest.mark.parametrize("mode", MODES)
def test_taps_on_sequences_and_outputs(mode):
    x = T.dvector("x")
    second_diff, _ = scan(lambda a, b, c: a - 2 * b + c,
                          sequences=dict(input=x, taps=[-1, 0, 1]))
    lagged, _ = scan(lambda later, now: later * now, sequences=dict(input=x, taps=[2, 0]))
    fib, _ = scan(lambda f2, f1: f1 + f2, n_steps=8,
                  outputs_info=dict(initial=T.constant(np.array([0.0, 1.0])), taps=[-2, -1]))
    # taps [-3, -1]: out[t] = out[t-3] + x[t] * out[t-1]
    mixed, _ = scan(lambda v, o3, o1: o3 + v * o1, sequences=x,
                    outputs_info=dict(initial=T.constant(np.array([1.0, 2.0, 3.0])),
                                      taps=[-3, -1]))
    f = cgraph.function([x], [second_diff, lagged, fib, mixed], mode=mode)
    data = np.array([1.0, 4.0, 9.0, 16.0, 25.0, 36.0])
    d2, lag, fibs, mix = f(data)
    np.testing.assert_array_equal(d2, np.diff(data, 2))
    np.testing.assert_array_equal(lag, data[2:] * data[:-2])
    np.testing.assert_array_equal(fibs, [1, 2, 3, 5, 8, 13, 21, 34])
    ref = [1.0, 2.0, 3.0]
    for v in data:
        ref.append(ref[-3] + v * ref[-1])
    np.testing.assert_allclose(mix, ref[3:], rtol=1e-15)


@pytest.mark.slow
def test_gradients_through_taps_and_go_backwards():
    def cost(v):
        d2, _ = scan(lambda a, b, c: a * b - c, sequences=dict(input=v, taps=[-1, 0, 1]))
        back, _ = scan(lambda s, acc: T.tanh(acc * 0.5 + s), sequences=v,
                       outputs_info=T.constant(0.0), go_backwards=True)
        rec, _ = scan(lambda s, o2, o1: o1 * 0.5 + o2 * s, sequences=v,
                      outputs_info=dict(initial=T.constant(np.array([0.3, -0.2])),
                                        taps=[-2, -1]))
        return (d2 ** 2).sum() + back.sum() + rec.sum()

    cgraph.verify_grad(cost, [np.random.default_rng(3).normal(size=6)])
    x = T.dvector("x")
    back, _ = scan(lambda s, acc: acc + s, sequences=x, outputs_info=T.constant(0.0),
                   go_backwards=True, n_steps=2)
    f = cgraph.function([x], [back, cgraph.grad(back.sum(), x)])
    values, grad = f(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(values, [3.0, 5.0])  # the last rows, reversed
    np.testing.assert_array_equal(grad, [0.0, 1.0, 2.0])


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_symbolic_int_indices_inside_the_step(mode):
    X, n = T.dmatrix("X"), T.lscalar("n")
    rows, _ = scan(lambda i, M: M[i] * 2 + M[i, -1] + M[:, i].sum() + M[-1 - i, None, :][0],
                   sequences=T.arange(n), non_sequences=X)
    f = cgraph.function([X, n], [rows, cgraph.grad(rows.sum(), X)], mode=mode)
    a = np.arange(12.0).reshape(3, 4)
    got, _ = f(a, 3)
    want = [a[i] * 2 + a[i, -1] + a[:, i].sum() + a[-1 - i] for i in range(3)]
    np.testing.assert_array_equal(got, np.stack(want))
    with pytest.raises(IndexError, match="out of bounds"):
        f(a, 5)
    cgraph.verify_grad(lambda M: scan(lambda i, A: A[i] * A[2 - i], sequences=T.arange(3),
                                      non_sequences=M)[0].sum(),
                       [np.random.default_rng(5).normal(size=(3, 2))])
    # per-step bounds run (a plan per step), but stacked rows must keep one shape
    sliced, _ = scan(lambda i, M: M[i:], sequences=T.arange(n), non_sequences=X)
    with pytest.raises(ValueError, match="same shape"):
        cgraph.function([X, n], sliced, mode=mode)(a, 3)


@pytest.mark.slow
def test_shared_variables_read_by_the_step_without_being_passed():
    rng = np.random.default_rng(2)
    Wx = cgraph.shared(rng.normal(size=(3, 4)) * 0.5, name="Wx")
    Wh = cgraph.shared(rng.normal(size=(4, 4)) * 0.5, name="Wh")
    X, h0 = T.dmatrix("X"), T.dvector("h0")
    implicit, _ = scan(lambda x_t, h: T.tanh(T.dot(x_t, Wx) + T.dot(h, Wh)),
                       sequences=X, outputs_info=h0)
    explicit = rnn(X, h0, Wx, Wh)
    grads = cgraph.grad(implicit.sum(), [Wx, Wh])
    f = cgraph.function([X, h0], [implicit, explicit, *grads,
                                  *cgraph.grad(explicit.sum(), [Wx, Wh])])
    xs, start = rng.normal(size=(5, 3)), rng.normal(size=4)
    a, b, ga, gb, ga_ref, gb_ref = f(xs, start)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ga, ga_ref, rtol=1e-14)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-14)


@pytest.mark.parametrize("pass_updates", [True, False])
def test_random_draws_inside_the_step(pass_updates):
    from cgraph.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(7)
    X = T.dmatrix("X")
    h = T.dvector("h")
    noisy, updates = scan(lambda v, acc: acc + v * srng.uniform((3,), low=1.0, high=2.0),
                          sequences=X, outputs_info=h)
    assert len(updates) == 1
    kwargs = {"updates": updates} if pass_updates else {}
    f = cgraph.function([X, h], noisy, **kwargs)
    ref = cgraph.function([X, h], noisy, mode="PY", **kwargs)
    ones, zeros = np.ones((400, 3)), np.zeros(3)
    first, second = f(ones, zeros), f(ones, zeros)
    steps = np.diff(np.vstack([zeros, first]), axis=0)  # the draws themselves
    assert len({tuple(r) for r in steps}) == 400  # a new draw at every step
    assert ((steps >= 1.0) & (steps < 2.0)).all() and abs(steps.mean() - 1.5) < 0.03
    assert not np.array_equal(first, second)  # the stream moved on over the call
    srng.seed(7)
    np.testing.assert_array_equal(ref(ones, zeros), first)  # C and PY: the same numbers
    np.testing.assert_array_equal(f(ones, zeros), second)


def rnn(X, h0, Wx, Wh):
    hs, _ = scan(lambda x_t, h, a, b: T.tanh(T.dot(x_t, a) + T.dot(h, b)),
                 sequences=X, outputs_info=h0, non_sequences=[Wx, Wh])
    return hs


@pytest.mark.parametrize("mode", MODES)
def test_gradient_through_the_recurrence(mode):
    rng = np.random.default_rng(1)
    X, h0, Wx, Wh = T.dmatrix("X"), T.dvector("h0"), T.dmatrix("Wx"), T.dmatrix("Wh")
    hs = rnn(X, h0, Wx, Wh)
    cost = (hs ** 2).sum() + (hs * np.arange(4.0)).sum()
    variables = [X, h0, Wx, Wh]
    f = cgraph.function(variables, cgraph.grad(cost, variables), mode=mode)
    c = cgraph.function(variables, cost, mode="PY")
    values = [rng.standard_normal((5, 3)), rng.standard_normal(4),
              rng.standard_normal((3, 4)) * 0.5, rng.standard_normal((4, 4)) * 0.5]
    numeric = numeric_grad(lambda *v: float(c(*v)), values, 1e-6)
    for got, want in zip(f(*values), numeric):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_cumulative_sum_gradient_and_rnn_training():
    x = T.dvector("x")
    sums, _ = scan(lambda v, acc: acc + v, sequences=[x], outputs_info=[T.constant(0.0)])
    g = cgraph.function([x], cgraph.grad((sums * np.arange(1.0, 5.0)).sum(), x))
    np.testing.assert_array_equal(g(np.ones(4)), [10.0, 9.0, 7.0, 4.0])
    # Train the recurrence to output the running mean sign of its input.
    rng = np.random.default_rng(0)
    Wx = cgraph.shared(rng.standard_normal((1, 6)) * 0.3, name="Wx")
    Wh = cgraph.shared(rng.standard_normal((6, 6)) * 0.3, name="Wh")
    Wo = cgraph.shared(rng.standard_normal((6, 1)) * 0.3, name="Wo")
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    hs = rnn(X, T.sum(Wh, axis=0) * 0.0, Wx, Wh)  # h0: zeros of the hidden size
    loss = T.mean((T.dot(hs, Wo) - Y) ** 2)
    params = [Wx, Wh, Wo]
    grads = cgraph.grad(loss, params)
    train = cgraph.function([X, Y], loss, updates=[(p, p - 0.2 * g) for p, g in
                                                     zip(params, grads)])
    data = rng.choice([-1.0, 1.0], size=(20, 1))
    target = np.sign(np.cumsum(data)).reshape(-1, 1) * 0.5
    first = train(data, target)
    for _ in range(200):
        last = train(data, target)
    assert last < first * 0.5


def test_a_step_in_mode_py_runs_in_the_interpreter():
    """Only the branch an ifelse takes runs in each step, and an error inside the step
    names the step's node."""
    from cgraph.ifelse import ifelse

    x, n = T.dvector("x"), T.lscalar("n")
    picked, _ = scan(lambda i, v: ifelse(T.lt(i, v.shape[0]), v[i], v[0] * 0.0),
                     sequences=T.arange(n), non_sequences=x)
    f = cgraph.function([x, n], picked, mode="PY")
    np.testing.assert_array_equal(f(np.array([1.0, 2.0]), 4), [1.0, 2.0, 0.0, 0.0])
    broken, _ = scan(lambda i, v: v[i] * 2.0, sequences=T.arange(n), non_sequences=x)
    g = cgraph.function([x, n], broken, mode="PY")
    with pytest.raises(IndexError, match=r"(?s)out of bounds.*in node"):
        g(np.array([1.0, 2.0]), 3)
