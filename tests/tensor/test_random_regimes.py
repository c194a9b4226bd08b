"""RandomStream's samplers at the borders of their regimes, von Mises' wrapping, draws
in a scan step and on OpenMP threads, tensor parameters of Theano's RandomStreams: C
and PY draw the same numbers, the right distribution (scipy.stats)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from helpers import MODES, assert_same_draws, import_test_module

import cgraph
import cgraph.tensor as T
from cgraph.tensor.random import RandomStream
from cgraph.tensor.shared_randomstreams import RandomStreams

_distributions = import_test_module("test_random_distributions")
N = _distributions.N
_run = _distributions._run


def test_draws_in_a_scan_step():
    """Draws with tensor parameters inside a scan step: the same numbers in C and PY,
    new numbers at each call (the step's streams advance)."""
    out = {}
    for mode in MODES:
        srng = RandomStream(seed=3)
        x = T.dvector("x")

        def step(xt, acc):
            return acc + srng.gamma(xt, scale=1.0) + srng.poisson(xt * 10.0, size=(2,)).sum()

        sums, updates = cgraph.scan(step, sequences=x, outputs_info=T.constant(0.0))
        f = cgraph.function([x], sums, updates=updates, mode=mode)
        out[mode] = [f(np.array([0.5, 2.0, 3.0])), f(np.array([0.5, 2.0, 3.0]))]
    for c, py in zip(out["C"], out["PY"]):
        np.testing.assert_array_equal(c, py)
    assert not np.array_equal(out["C"][0], out["C"][1])


def test_vonmises_angles_are_wrapped_and_distributed():
    """Angles in [-pi, pi]; centred on mu (mod 2 pi) they follow scipy's vonmises_line,
    in each regime (uniform below kappa 1e-8, Best-Fisher, wrapped normal above 1e6)."""
    cases = [(0.5, 2.0), (3.0, 0.3), (-2.0, 5e-6), (1.0, 1e-9), (3.1, 4e6)]
    out = {}
    for mode in MODES:
        srng = RandomStream(seed=21)
        f = cgraph.function([], [srng.vonmises(mu, kappa, size=(N,)) for mu, kappa in cases],
                            mode=mode)
        out[mode] = f()
    for (mu, kappa), c, py in zip(cases, out["C"], out["PY"]):
        assert_same_draws(c, py)
        assert np.abs(c).max() <= np.pi
        centred = np.mod(c - mu + np.pi, 2 * np.pi) - np.pi
        assert st.kstest(centred, st.vonmises_line(kappa).cdf).pvalue > 1e-3, (mu, kappa)


def test_theano_streams_take_tensor_parameters():
    """Theano's RandomStreams.normal/uniform with tensor avg/std (low/high) that
    broadcast to the size: drawn by RandomStream's op, same numbers in C and PY."""
    out = {}
    for mode in MODES:
        srng = RandomStreams(seed=13)
        avg = T.dvector("avg")
        f = cgraph.function([avg], [srng.normal((3000, 2), avg=avg, std=0.5),
                                    srng.uniform((3000, 2), low=avg, high=avg + 1)], mode=mode)
        out[mode] = f(np.array([-5.0, 5.0]))
    for c, py in zip(out["C"], out["PY"]):
        np.testing.assert_array_equal(c, py)
    z, u = out["C"]
    np.testing.assert_allclose(z.mean(axis=0), [-5.0, 5.0], atol=0.05)
    assert (u[:, 0] >= -5).all() and (u[:, 0] < -4).all() and (u[:, 1] >= 5).all()


BOUNDARIES = {  # the regimes' borders: inversion / PTRS at lam 10, BTRS at n q 10, ...
    "poisson_10": ("poisson", (10.0,), st.poisson(10.0)),
    "poisson_below_10": ("poisson", (9.999,), st.poisson(9.999)),
    "binomial_nq_10": ("binomial", (20, 0.5), st.binom(20, 0.5)),
    "binomial_nq_below_10": ("binomial", (33, 0.3), st.binom(33, 0.3)),
    "binomial_p_1": ("binomial", (7, 1.0), None),
    "gamma_1": ("gamma", (1.0,), st.gamma(1.0, scale=2.0)),
    "gamma_below_1": ("gamma", (0.999,), st.gamma(0.999, scale=2.0)),
}


def test_regime_boundaries():
    """Each sampler where it switches algorithm: the right distribution on both sides,
    the same numbers in C and PY, float32 draws equal to the float64 ones rounded."""
    out = {mode: _run(mode, BOUNDARIES, seed=31)[2][0] for mode in MODES}
    for name, (method, args, dist) in BOUNDARIES.items():
        x = out["C"][name]
        assert_same_draws(x, out["PY"][name], err_msg=name)
        if dist is None:
            assert (x == args[0]).all()
        elif method == "gamma":
            assert st.kstest(x, dist.cdf).pvalue > 1e-3, name
        else:
            ks = np.arange(x.min(), x.max() + 1)
            observed = np.array([(x == k).sum() for k in ks])
            expected = dist.pmf(ks) * N
            keep = expected > 5
            observed, expected = observed[keep], expected[keep]
            assert st.chisquare(observed, expected * observed.sum() / expected.sum()
                                ).pvalue > 1e-3, name
    srng32, srng64 = RandomStream(seed=2), RandomStream(seed=2)
    f = cgraph.function([], [srng32.gamma(0.5, scale=1.0, size=(50,), dtype="float32"),
                             srng64.gamma(0.5, scale=1.0, size=(50,), dtype="float64")])
    g32, g64 = f()
    assert g32.dtype == np.float32
    np.testing.assert_array_equal(g32, g64.astype(np.float32))


def test_streams_of_one_seed_are_independent():
    """Two draws of one stream object use different Philox streams: uncorrelated; and
    the counter advances by the blocks used (n times the longest element sequence)."""
    srng = RandomStream(seed=17)
    a, b = srng.normal(size=(N,)), srng.normal(size=(N,))
    g = srng.gamma(0.5, scale=1.0, size=(N,))
    f = cgraph.function([], [a, b, g])
    x, y, _ = f()
    assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(N)
    states = [s.get_value() for s in srng.state_updates]
    assert [list(s[:2]) for s in states] == [[17, 0], [17, 1], [17, 2]]
    assert states[0][2] == states[1][2] == N  # one block per normal
    assert states[2][2] % N == 0 and states[2][2] >= 3 * N  # gamma(0.5): >= 3 blocks each


# One thread is the narrower case: the quick run has three.
@pytest.mark.parametrize("threads", [pytest.param(1, marks=pytest.mark.slow), 3])
def test_openmp_draws_equal_the_serial_ones(threads):
    """With config.openmp (threshold forced to 1 element), the draws of the threads are
    the serial ones, the counter the same, and a bad parameter still raises."""
    def build(srng):
        p = T.dmatrix("p")
        return p, [srng.gamma(p + 0.2, scale=2.0), srng.binomial(40, p, size=(7, 4, 3)),
                   srng.categorical(T.stack([p[0], 1 - p[0]], axis=1)),
                   srng.poisson(p * 30.0, size=(2, 4, 3)), srng.normal(p, size=(5, 4, 3))]
    pv = np.random.default_rng(0).uniform(size=(4, 3))
    results = []
    for openmp in (False, True):
        srng = RandomStream(seed=19)
        p, outs = build(srng)
        flags = cgraph.config.cflags + (" -DCG_OMP_MIN_RANDOM=1" if openmp else "")
        with cgraph.config.change_flags(openmp=openmp, num_threads=threads, cflags=flags):
            f = cgraph.function([p], outs)
        results.append((f(pv), [s.get_value() for s in srng.state_updates]))
        if openmp:
            with pytest.raises(ValueError, match="binomial: p <= 1"):
                f(pv + 1.0)
    (serial, s_states), (omp, o_states) = results
    for a, b in zip(serial, omp):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s_states, o_states):
        np.testing.assert_array_equal(a, b)


def test_updates_lists_each_state_and_its_next_value():
    srng = RandomStream(seed=1)
    x = srng.normal(size=(2,))
    assert [s for s, _ in srng.updates()] == srng.state_updates
    f = cgraph.function([], x, updates=srng.updates())
    assert not np.array_equal(f(), f())


def test_choice_checks_the_length_of_p():
    srng = RandomStream(seed=1)
    with pytest.raises(ValueError, match="p has 3 probabilities for a population of 4"):
        srng.choice(4, size=(2,), p=np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="p has 2 probabilities for a population of 3"):
        srng.choice(np.arange(3.0), p=np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="p has 3 probabilities for a population of 4"):
        cgraph.function([], srng.choice(4, size=(2,), replace=False, p=np.full(3, 1 / 3)))()
