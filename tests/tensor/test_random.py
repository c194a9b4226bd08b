"""Random streams: Philox draws in C, equal to the numpy reference, reproducible by
seed, statistically right, advancing at each call; dropout in an MLP."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor.random import RandomStream, philox
from cgraph.tensor.shared_randomstreams import RandomStreams


def test_philox_known_answer():
    # Random123's known-answer test for philox4x32-10 with counter 0 and key 0.
    block = philox(0, 0, np.array([0]))[0]
    assert [hex(w) for w in block] == ["0x6627e8d5", "0xe169c58d", "0xbc57ac4c", "0x9b00dbd8"]


def draws(srng):
    x = T.dmatrix("x")
    return x, [srng.uniform((3, 4)), srng.normal(x.shape, avg=1.0, std=2.0),
               srng.binomial((5,), n=3, p=0.25), srng.permutation(7),
               srng.choice((6,), a=4), srng.uniform((4,), low=-1, high=1, dtype="float32")]


def test_c_equals_reference_and_seed_reproduces():
    results = {}
    for mode in ("C", "PY"):
        srng = RandomStreams(seed=1234)
        x, outs = draws(srng)
        f = cgraph.function([x], outs, mode=mode)
        first, second = f(np.zeros((2, 3))), f(np.zeros((2, 3)))
        assert not np.array_equal(first[0], second[0])  # the state advanced
        srng.seed(1234)
        again = f(np.zeros((2, 3)))
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
        results[mode] = first
    for k, (c, py) in enumerate(zip(results["C"], results["PY"])):
        assert c.dtype == py.dtype and c.shape == py.shape, k
        if k == 1:  # normal: through libm's log and cos
            np.testing.assert_allclose(c, py, rtol=1e-14, atol=1e-14)
        else:
            np.testing.assert_array_equal(c, py)
    uniform, normal, binom, perm, choice, u32 = results["C"]
    assert uniform.shape == (3, 4) and normal.shape == (2, 3) and u32.dtype == np.float32
    assert sorted(perm) == list(range(7)) and set(choice) <= set(range(4))
    assert binom.dtype == np.int64 and binom.min() >= 0 and binom.max() <= 3


def test_scalar_draws_with_an_empty_size():
    # size=() makes a draw with no size inputs: its shape rule gets no `values`.
    results = {}
    for mode in ("C", "PY"):
        srng = RandomStreams(seed=5)
        f = cgraph.function([], [srng.uniform(size=()), srng.normal(size=(), avg=1.0),
                                 srng.uniform(size=(2,))], mode=mode)
        results[mode] = [f(), f()]
    for c, py in zip(results["C"], results["PY"]):
        for a, b in zip(c, py):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-14)
    (u, z, _), (u2, _, _) = results["C"]
    assert u.shape == () and 0 <= u < 1 and u != u2 and np.isfinite(z)


def test_statistics_of_a_million_draws():
    srng = RandomStreams(seed=7)
    n = 1_000_000
    f = cgraph.function([], [srng.uniform((n,)), srng.normal((n,), avg=2.0, std=3.0),
                             srng.binomial((n,), n=10, p=0.3), srng.choice((n,), a=5)])
    u, z, b, c = f()
    assert abs(u.mean() - 0.5) < 0.002 and abs(u.var() - 1 / 12) < 0.001
    assert u.min() >= 0 and u.max() < 1
    assert abs(z.mean() - 2.0) < 0.01 and abs(z.std() - 3.0) < 0.01
    assert abs(b.mean() - 3.0) < 0.01 and abs(b.var() - 2.1) < 0.02
    np.testing.assert_allclose(np.bincount(c) / n, 0.2, atol=0.002)


def test_pytensor_spelling_and_errors():
    srng = RandomStream(seed=3)
    p = T.dscalar("p")
    f = cgraph.function([p], [srng.uniform(2.0, 3.0, size=(4,)), srng.binomial(1, p, size=(8,))])
    u, b = f(0.5)
    assert ((u >= 2) & (u < 3)).all() and set(b) <= {0, 1}
    with pytest.raises(ValueError, match="binomial"):
        f(1.5)
    # tensor parameters broadcast against the size (test_random_distributions.py)
    assert srng.normal(T.dvector(), 1.0, size=(3,)).ndim == 1


def test_theano_module_attributes_without_their_imports():
    """Theano's hmc tutorial writes `TT.shared_randomstreams.RandomStreams(seed)` and
    `theano.scalar.upcast(...)` after `import theano; from theano import tensor as TT`
    alone: those modules are loaded with cgraph and cgraph.tensor (a fresh interpreter,
    since this file's imports load them)."""
    import subprocess
    import sys
    code = ("import cgraph as theano; from cgraph import tensor as TT; "
            "s = TT.shared_randomstreams.RandomStreams(1); "
            "print(type(s).__name__, theano.scalar.upcast('bool', 'float32'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["RandomStreams", "float32"]


@pytest.mark.slow
def test_dropout_mlp_trains():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    Y = (X[:, :1] > 0).astype(float)
    srng = RandomStreams(seed=0)
    W1 = cgraph.shared(rng.standard_normal((4, 16)) * 0.5)
    W2 = cgraph.shared(rng.standard_normal((16, 1)) * 0.5)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    h = T.tanh(T.dot(x, W1))
    mask = srng.binomial(h.shape, p=0.8, dtype="float64")
    out = T.nnet.sigmoid(T.dot(h * mask / 0.8, W2))
    loss = T.mean((out - y) ** 2)
    g1, g2 = cgraph.grad(loss, [W1, W2])
    train = cgraph.function([x, y], loss, updates=[(W1, W1 - 0.5 * g1), (W2, W2 - 0.5 * g2)])
    predict = cgraph.function([x], T.nnet.sigmoid(T.dot(T.tanh(T.dot(x, W1)), W2)))
    first = float(train(X, Y))
    for _ in range(300):
        last = float(train(X, Y))
    assert last < first / 2
    assert ((predict(X) > 0.5) == (Y > 0.5)).mean() > 0.9


# --------------------------------------------------------------------------- binomial, array p


def _binomial_array_function(mode, seed=3, n=1, dtype="float64"):
    srng = RandomStreams(seed=seed)
    p = T.dmatrix("p")
    return cgraph.function([p], srng.binomial(size=p.shape, n=n, p=p, dtype=dtype), mode=mode)


# PY draws C's numbers (the test below), so its 4000 calls run in the slow set only.
@pytest.mark.parametrize("mode", ["C", pytest.param("PY", marks=pytest.mark.slow)])
def test_binomial_with_a_probability_array_has_mean_p(mode):
    """An RBM's sample: each element's mean over many draws is its p, within 5 standard
    deviations of the binomial mean (sqrt(p (1 - p) n / draws))."""
    p = np.array([[0.0, 0.05, 0.3], [0.5, 0.9, 1.0]])
    trials, draws = 3, 4000
    f = _binomial_array_function(mode, n=trials)
    samples = np.stack([f(p) for _ in range(draws)])
    assert samples.dtype == np.float64 and set(np.unique(samples)) <= {0, 1, 2, 3}
    mean = samples.mean(axis=0) / trials
    tolerance = 5 * np.sqrt(p * (1 - p) / (trials * draws))
    assert np.all(np.abs(mean - p) <= tolerance)
    assert np.all(samples[:, p == 0] == 0) and np.all(samples[:, p == 1] == trials)


def test_binomial_with_a_probability_array_same_draws_in_c_and_py():
    p = np.random.default_rng(1).uniform(size=(5, 7))
    c, py = _binomial_array_function("C"), _binomial_array_function("PY")
    for _ in range(3):
        np.testing.assert_array_equal(c(p), py(p))
    strided = np.asfortranarray(p)[:, ::2]  # a non-contiguous p
    np.testing.assert_array_equal(c(strided), py(strided))


def test_binomial_probability_array_broadcasts_and_equals_the_scalar_form():
    """p of shape (1, k) broadcasts over the rows; a constant p draws what scalar p draws."""
    row = T.drow("row")
    for mode in ("C", "PY"):
        a, b = RandomStreams(seed=9), RandomStreams(seed=9)
        x = a.binomial(size=(4, 3), n=2, p=row)
        y = b.binomial(size=(4, 3), n=2, p=0.25)
        got = cgraph.function([row], x, mode=mode)(np.full((1, 3), 0.25))
        np.testing.assert_array_equal(got, cgraph.function([], y, mode=mode)())
        assert got.dtype == np.int64


@pytest.mark.parametrize("mode", ["C", "PY"])
@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_binomial_probability_out_of_range_raises(mode, bad):
    """As numpy's binomial (PyTensor's): p out of [0, 1] or NaN is a ValueError."""
    f = _binomial_array_function(mode)
    p = np.full((2, 2), 0.5)
    p[1, 0] = bad
    with pytest.raises(ValueError, match="0 <= p <= 1"):
        f(p)


def test_binomial_probability_array_of_another_rank_or_shape():
    srng = RandomStreams(seed=1)
    v = T.dvector("v")
    s = srng.binomial(size=(2, 3), p=v)  # a vector broadcasts over the rows
    got = cgraph.function([v], s)(np.array([0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(got, [[0, 1, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="does not broadcast"):
        cgraph.function([v], s)(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="float array"):
        srng.binomial(size=(2,), p=T.lvector("k"))
