"""scan steps that return updates of shared variables, against numpy loops."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.scan import scan


def chain_reference(W, b, start, xs):
    """A persistent chain: the state moves once per step; the step also emits 2*state."""
    state, outs = start.copy(), []
    for x in xs:
        state = np.tanh(W @ state + x + b)
        outs.append(2 * state)
    return np.array(outs), state


@pytest.mark.parametrize("mode", MODES)
def test_a_persistent_chain_carried_by_updates(mode):
    rng = rng_for("scan updates chain")
    W, b, start = rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3), rng.normal(size=3)
    state = cgraph.shared(start.copy(), name="state")
    Ws = cgraph.shared(W, name="W")
    X, bias = T.dmatrix("X"), T.dvector("b")

    def step(x_t, b_):
        new = T.tanh(T.dot(Ws, state) + x_t + b_)
        return new * 2, {state: new}

    outs, updates = scan(step, sequences=X, non_sequences=bias)
    assert list(updates) == [state]
    f = cgraph.function([X, bias], outs, updates=updates, mode=mode)
    xs1, xs2 = rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    want1, end1 = chain_reference(W, b, start, xs1)
    np.testing.assert_allclose(f(xs1, b), want1, rtol=1e-13)
    np.testing.assert_allclose(state.get_value(), end1, rtol=1e-13)
    want2, end2 = chain_reference(W, b, end1, xs2)  # the chain goes on from there
    np.testing.assert_allclose(f(xs2, b), want2, rtol=1e-13)
    np.testing.assert_allclose(state.get_value(), end2, rtol=1e-13)
    assert f(xs2[:0], b).shape == (0, 3)  # no step: the state stays
    np.testing.assert_allclose(state.get_value(), end2, rtol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_a_step_returning_only_updates(mode):
    total = cgraph.shared(np.float64(0.0), name="total")
    count = cgraph.shared(np.int64(0), name="count")
    x = T.dvector("x")
    outs, updates = scan(lambda v: {total: total + v * v, count: count + 1}, sequences=x)
    assert outs is None and list(updates) == [total, count]
    f = cgraph.function([x], [], updates=updates, mode=mode)
    data = np.array([1.0, -2.0, 0.5])
    f(data)
    f(data[:2])
    assert total.get_value() == pytest.approx(2 * (1 + 4) + 0.25, rel=1e-15)
    assert count.get_value() == 5


@pytest.mark.parametrize("mode", MODES)
def test_updates_first_and_a_shared_non_sequence(mode):
    # (updates, outputs) as Theano accepts; the updated variable passed as a non-sequence
    acc = cgraph.shared(np.ones(2), name="acc")
    n = T.lscalar("n")
    for key in ("outer", "inner"):  # keyed by acc or by the step's argument for it
        acc.set_value(np.ones(2))
        outs, updates = scan(lambda a, key=key: ({acc if key == "outer" else a: a * 1.5},
                                                  a.sum()),
                             non_sequences=acc, n_steps=n)
        assert list(updates) == [acc]
        f = cgraph.function([n], outs, updates=updates, mode=mode)
        np.testing.assert_allclose(f(3), [2.0, 3.0, 4.5])
        np.testing.assert_allclose(acc.get_value(), [1.5 ** 3] * 2)


@pytest.mark.parametrize("mode", MODES)
def test_updates_as_a_list_of_pairs_with_outputs_info(mode):
    seen = cgraph.shared(np.float64(0.0), name="seen")
    x = T.dvector("x")
    sums, updates = scan(lambda v, acc: (acc + v, [(seen, T.maximum(seen, v))]),
                         sequences=x, outputs_info=T.constant(0.0))
    f = cgraph.function([x], sums, updates=updates, mode=mode)
    data = np.array([0.5, 3.0, -1.0])
    np.testing.assert_array_equal(f(data), np.cumsum(data))
    assert seen.get_value() == 3.0


def test_random_draws_and_updates_in_one_step():
    from cgraph.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(11)
    walk = cgraph.shared(np.zeros(2), name="walk")
    n = T.lscalar("n")
    steps, updates = scan(lambda: (walk + 0.0, {walk: walk + srng.normal((2,))}), n_steps=n)
    assert len(updates) == 2  # the walk and the stream
    f = cgraph.function([n], steps, updates=updates)
    first = f(50)
    draws = np.diff(np.vstack([first, walk.get_value()]), axis=0)
    assert len({tuple(r) for r in draws}) == 50  # a new draw every step
    np.testing.assert_array_equal(first[0], [0.0, 0.0])
    srng.seed(11)
    walk.set_value(np.zeros(2))
    ref = cgraph.function([n], steps, updates=updates, mode="PY")
    np.testing.assert_array_equal(ref(50), first)  # C and PY: the same numbers


def test_bad_updates_are_type_errors_naming_them():
    x = T.dvector("x")
    s32 = cgraph.shared(np.zeros(2, dtype="float32"), name="s32")
    with pytest.raises(TypeError, match="keyed by shared variables"):
        scan(lambda v: (v, {x: v}), sequences=[x])
    with pytest.raises(TypeError, match=r"updates s32.*float64.*without loss"):
        scan(lambda v: (v, {s32: s32 * v}), sequences=[x])
    with pytest.raises(TypeError, match=r"updates s32.*dimensions"):
        scan(lambda v: (v, {s32: v}), sequences=[x])


@pytest.mark.parametrize("mode", MODES)
def test_a_persistent_gibbs_chain_of_an_rbm(mode):
    """The RBM tutorial's persistent chain: binomial samples in the step, the chain's
    end kept in a shared variable through the returned updates."""
    from cgraph.tensor.nnet import sigmoid
    from cgraph.tensor.shared_randomstreams import RandomStreams

    rng = rng_for("rbm chain")
    W0, vb0, hb0 = rng.normal(size=(5, 4)) * 0.8, rng.normal(size=5), rng.normal(size=4)
    W, vb, hb = (cgraph.shared(a, name=n) for a, n in [(W0, "W"), (vb0, "vb"), (hb0, "hb")])
    persistent = cgraph.shared(np.zeros((6, 4)), name="persistent")
    srng = RandomStreams(3)

    def gibbs_hvh(h0):
        v_mean = sigmoid(T.dot(h0, W.T) + vb)
        v_sample = srng.binomial(size=v_mean.shape, n=1, p=v_mean, dtype="float64")
        h_mean = sigmoid(T.dot(v_sample, W) + hb)
        h_sample = srng.binomial(size=h_mean.shape, n=1, p=h_mean, dtype="float64")
        return [v_mean, v_sample, h_mean, h_sample]

    (v_means, v_samples, h_means, h_samples), updates = scan(
        gibbs_hvh, outputs_info=[None, None, None, persistent], n_steps=15)
    updates[persistent] = h_samples[-1]
    f = cgraph.function([], [v_means, v_samples, h_means, h_samples], updates=updates,
                        mode=mode)

    def sig(a):
        return 1 / (1 + np.exp(-a))

    start = np.zeros((6, 4))
    for _ in range(2):  # the second call goes on from the chain's end
        vm, vs, hm, hs = f()
        h_before = np.concatenate([start[None], hs[:-1]])
        np.testing.assert_allclose(vm, sig(h_before @ W0.T + vb0), rtol=1e-13)
        np.testing.assert_allclose(hm, sig(vs @ W0 + hb0), rtol=1e-13)
        assert set(np.unique(vs)) <= {0.0, 1.0} and set(np.unique(hs)) <= {0.0, 1.0}
        np.testing.assert_array_equal(persistent.get_value(), hs[-1])
        start = hs[-1]
    assert abs((vs - vm).mean()) < 0.1  # samples follow their probabilities


def test_updates_of_an_inner_scan_returned_by_an_outer_step():
    """The RNN-RBM's generation: each step of the outer loop runs a Gibbs chain (an
    inner scan drawing random numbers) and returns the chain's updates."""
    from cgraph.tensor.nnet import sigmoid
    from cgraph.tensor.shared_randomstreams import RandomStreams

    rng = rng_for("rnn-rbm")
    W0, Wu0 = rng.normal(size=(5, 4)), rng.normal(size=(5, 3)) * 0.3
    W, Wu = cgraph.shared(W0, name="W"), cgraph.shared(Wu0, name="Wu")
    srng = RandomStreams(9)

    def gibbs(v):
        h = srng.binomial(size=(4,), n=1, p=sigmoid(T.dot(v, W)), dtype="float64")
        return srng.binomial(size=(5,), n=1, p=sigmoid(T.dot(W, h)), dtype="float64")

    def recurrence(u_tm1):
        chain, updates = scan(gibbs, outputs_info=[sigmoid(T.dot(Wu, u_tm1))], n_steps=3)
        return [chain[-1], T.tanh(T.dot(chain[-1], Wu))], updates

    (vs, us), updates = scan(recurrence, outputs_info=[None, T.zeros(3)], n_steps=6)
    assert len(updates) == 2  # the two streams the inner chain draws from
    results = {}
    for mode in MODES:
        srng.seed(9)
        f = cgraph.function([], [vs, us], updates=updates, mode=mode)
        results[mode] = [f(), f()]
    for (v, u), (v_py, u_py) in zip(results["C"], results["PY"]):
        np.testing.assert_array_equal(v, v_py)  # the same draws in C and PY
        np.testing.assert_allclose(u, np.tanh(v @ Wu0), rtol=1e-14)
        np.testing.assert_allclose(u_py, u, rtol=1e-14)
        assert set(np.unique(v)) <= {0.0, 1.0}
    assert not np.array_equal(results["C"][0][0], results["C"][1][0])  # the streams moved
