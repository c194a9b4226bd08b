"""cgraph.tensor.random.RandomStream's distributions: the same numbers in modes C and PY
(bitwise), reproducible by seed, the right distribution (KS and chi-square tests at
fixed seeds against scipy.stats, moments), tensor parameters broadcasting against the
size, and parameters out of their domain raising clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from helpers import MODES, assert_same_draws

import cgraph
import cgraph.tensor as T
from cgraph.tensor.random import RandomStream
from cgraph.tensor.shared_randomstreams import RandomStreams

N = 20000
#: name -> (method, args, scipy distribution or None: discrete ones are chi-square tested)
CONTINUOUS = {
    "uniform": ("uniform", (-1.0, 3.0), st.uniform(-1.0, 4.0)),
    "normal": ("normal", (1.0, 2.0), st.norm(1.0, 2.0)),
    "gamma_small": ("gamma", (0.3,), st.gamma(0.3, scale=2.0)),
    "gamma_one": ("gamma", (1.0,), st.gamma(1.0, scale=2.0)),
    "gamma_big": ("gamma", (7.5,), st.gamma(7.5, scale=2.0)),
    "beta": ("beta", (0.5, 0.5), st.beta(0.5, 0.5)),
    "beta_skew": ("beta", (2.0, 5.0), st.beta(2.0, 5.0)),
    "exponential": ("exponential", (2.0,), st.expon(scale=2.0)),
    "lognormal": ("lognormal", (0.5, 0.75), st.lognorm(0.75, scale=np.exp(0.5))),
    "laplace": ("laplace", (1.0, 0.5), st.laplace(1.0, 0.5)),
    "logistic": ("logistic", (-1.0, 2.0), st.logistic(-1.0, 2.0)),
    "cauchy": ("cauchy", (0.5, 1.5), st.cauchy(0.5, 1.5)),
    "halfnormal": ("halfnormal", (1.0, 2.0), st.halfnorm(1.0, 2.0)),
    "halfcauchy": ("halfcauchy", (0.0, 3.0), st.halfcauchy(0.0, 3.0)),
    "t": ("t", (3.5, 1.0, 2.0), st.t(3.5, 1.0, 2.0)),
    "chisquare_small": ("chisquare", (1.0,), st.chi2(1.0)),
    "chisquare": ("chisquare", (12.0,), st.chi2(12.0)),
    "weibull": ("weibull", (0.7,), st.weibull_min(0.7)),
    "gumbel": ("gumbel", (1.0, 2.0), st.gumbel_r(1.0, 2.0)),
    "pareto": ("pareto", (2.5, 1.5), st.pareto(2.5, scale=1.5)),
    "invgamma": ("invgamma", (3.0, 2.0), st.invgamma(3.0, scale=2.0)),
    "triangular": ("triangular", (-1.0, 0.5, 3.0), st.triang(0.375, -1.0, 4.0)),
    "wald": ("wald", (1.5, 2.0), st.invgauss(1.5 / 2.0, scale=2.0)),
    "truncexpon": ("truncexpon", (2.0, 1.0, 0.5), st.truncexpon(2.0, 1.0, 0.5)),
    "gengamma": ("gengamma", (1.5, 2.5, 2.0), st.gengamma(1.5 / 2.5, 2.5, scale=2.0)),
    "gengamma_small": ("gengamma", (0.2, 0.5, 1.0), st.gengamma(0.4, 0.5)),
}
DISCRETE = {
    "integers": ("integers", (-3, 9), st.randint(-3, 9)),
    "bernoulli": ("bernoulli", (0.3,), st.bernoulli(0.3)),
    "binomial_inversion": ("binomial", (20, 0.2), st.binom(20, 0.2)),
    "binomial_flipped": ("binomial", (12, 0.85), st.binom(12, 0.85)),
    "binomial_btrs": ("binomial", (200, 0.3), st.binom(200, 0.3)),
    "binomial_btrs_flipped": ("binomial", (1000, 0.9), st.binom(1000, 0.9)),
    "poisson_small": ("poisson", (3.5,), st.poisson(3.5)),
    "poisson_ptrs": ("poisson", (45.0,), st.poisson(45.0)),
    "poisson_big": ("poisson", (2500.0,), st.poisson(2500.0)),
    "negative_binomial": ("negative_binomial", (3.5, 0.4), st.nbinom(3.5, 0.4)),
    "geometric": ("geometric", (0.2,), st.geom(0.2)),
    "betabinom": ("betabinom", (15, 2.0, 0.7), st.betabinom(15, 2.0, 0.7)),
    "hypergeometric": ("hypergeometric", (30, 20, 12), st.hypergeom(50, 30, 12)),
    "hypergeometric_complement": ("hypergeometric", (8, 40, 45), st.hypergeom(48, 8, 45)),
    "categorical": ("categorical", (np.array([0.1, 0.2, 0.3, 0.4]),),
                    st.rv_discrete(values=(range(4), [0.1, 0.2, 0.3, 0.4]))),
}


def _draws(srng, table):
    out = {}
    for name, (method, args, _) in table.items():
        kwargs = {"scale": 2.0} if method == "gamma" else {}
        out[name] = getattr(srng, method)(*args, size=(N,), **kwargs)
    return out


def _run(mode, table, seed=11, calls=1):
    srng = RandomStream(seed=seed)
    draws = _draws(srng, table)
    f = cgraph.function([], list(draws.values()), mode=mode)
    results = [dict(zip(draws, f())) for _ in range(calls)]
    return srng, f, results


@pytest.fixture(scope="module")
def samples():
    """The draws of both tables in modes C and PY, two calls each."""
    return {mode: _run(mode, {**CONTINUOUS, **DISCRETE}, calls=2)[2] for mode in MODES}


def test_c_and_py_draw_the_same_numbers(samples):
    for name in {**CONTINUOUS, **DISCRETE}:
        for call in range(2):
            c, py = samples["C"][call][name], samples["PY"][call][name]
            assert c.shape == (N,), name
            assert_same_draws(c, py, err_msg=name)
        assert not np.array_equal(samples["C"][0][name], samples["C"][1][name]), name


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_draws_pass_kolmogorov_smirnov(samples, name):
    x = samples["C"][0][name]
    assert x.dtype == np.float64
    assert st.kstest(x, CONTINUOUS[name][2].cdf).pvalue > 1e-3, name


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_discrete_draws_pass_chi_square(samples, name):
    x = samples["C"][0][name]
    dist = DISCRETE[name][2]
    assert x.dtype == np.int64
    lo, hi = dist.ppf(1e-4), dist.ppf(1 - 1e-4)
    assert x.min() >= dist.support()[0] and x.max() <= dist.support()[1]
    edges = np.unique(np.round(np.linspace(lo, hi + 1, 30)))
    edges = np.concatenate([[-np.inf], edges[1:-1], [np.inf]])
    observed = np.histogram(x, bins=edges)[0]
    expected = np.diff(dist.cdf(edges - 1)) * N  # bin [a, b) of integers
    assert st.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
    assert abs(x.mean() - dist.mean()) < 5 * dist.std() / np.sqrt(N)


def test_seed_reproduces_and_the_theano_streams_agree():
    srng, f, (first,) = _run("C", {k: CONTINUOUS[k] for k in ("uniform", "gamma_small")})
    srng.seed(11)
    again = dict(zip(first, f()))
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    # uniform and normal with scalar parameters: the Theano-style streams' numbers (their
    # normal kernel may be vectorized with libmvec's cos and log: to the last bit)
    pt, th = RandomStream(seed=4), RandomStreams(seed=4)
    g = cgraph.function([], [pt.uniform(-1, 2, size=(5,)), pt.normal(1, 3, size=(2, 3)),
                             th.uniform((5,), -1, 2), th.normal((2, 3), 1, 3)])
    u, z, u2, z2 = g()
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_allclose(z, z2, rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_multivariate_draws(mode):
    srng = RandomStream(seed=3)
    n = 20000
    alphas = np.array([0.2, 1.0, 4.0])
    pvals = np.array([0.2, 0.5, 0.3])
    mean = np.array([[1.0, -2.0], [0.0, 3.0]])
    cov = np.array([[[2.0, 0.6], [0.6, 1.0]], [[1.0, -0.9], [-0.9, 1.0]]])
    f = cgraph.function([], [srng.dirichlet(alphas, size=(n,)),
                             srng.multinomial(7, pvals, size=(n,)),
                             srng.multivariate_normal(mean, cov, size=(n, 2))], mode=mode)
    d, m, x = f()
    assert d.shape == (n, 3) and m.shape == (n, 3) and x.shape == (n, 2, 2)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, rtol=1e-12)
    ref = st.dirichlet(alphas)
    np.testing.assert_allclose(d.mean(axis=0), ref.mean(), atol=4 * np.sqrt(ref.var().max() / n))
    for i, a in enumerate(alphas):  # the marginals are Beta(alpha_i, sum - alpha_i)
        assert st.kstest(d[:, i], st.beta(a, alphas.sum() - a).cdf).pvalue > 1e-3, i
    assert m.dtype == np.int64 and (m.sum(axis=1) == 7).all() and m.min() >= 0
    np.testing.assert_allclose(m.mean(axis=0), 7 * pvals, atol=0.03)
    np.testing.assert_allclose(np.cov(m.T), st.multinomial(7, pvals).cov(), atol=0.05)
    for b in range(2):
        np.testing.assert_allclose(x[:, b].mean(axis=0), mean[b], atol=0.05)
        np.testing.assert_allclose(np.cov(x[:, b].T), cov[b], atol=0.05)


def test_multivariate_draws_agree_between_modes():
    out = {}
    for mode in MODES:
        srng = RandomStream(seed=8)
        cov = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
        f = cgraph.function([], [srng.dirichlet(np.array([[0.05, 0.5, 2.0]]), size=(50, 1)),
                                 srng.multinomial(np.array([0, 5, 300]), np.array([0.3, 0.3, 0.4])),
                                 srng.multivariate_normal(np.zeros(3), cov, size=(40,)),
                                 srng.categorical(np.array([[0.5, 0.5], [0.9, 0.1]]), size=(3, 2))],
                             mode=mode)
        out[mode] = f()
    for c, py in zip(out["C"], out["PY"]):
        assert c.shape == py.shape and c.dtype == py.dtype
        np.testing.assert_allclose(c, py, rtol=1e-12, atol=1e-12)
    assert (out["C"][1].sum(axis=1) == [0, 5, 300]).all()


@pytest.mark.parametrize("mode", MODES)
def test_tensor_parameters_broadcast_against_the_size(mode):
    srng = RandomStream(seed=5)
    loc, scale = T.dvector("loc"), T.dmatrix("scale")
    lam = T.dvector("lam")
    f = cgraph.function([loc, scale, lam], [srng.normal(loc, scale),
                                            srng.normal(loc, scale, size=(4000, 2, 3)),
                                            srng.poisson(lam, size=(5000, 2)),
                                            srng.gamma(lam[::2], scale=0.5, size=(3000, 1))],
                        mode=mode)
    a, b, c, g = f(np.array([-10.0, 0.0, 10.0]), np.array([[1.0], [0.0]]),
                   np.array([2.0, 30.0]))
    assert a.shape == (2, 3) and b.shape == (4000, 2, 3) and c.shape == (5000, 2)
    np.testing.assert_array_equal(a[1], [-10.0, 0.0, 10.0])  # scale 0
    np.testing.assert_array_equal(b[:, 1], np.broadcast_to([-10.0, 0.0, 10.0], (4000, 3)))
    np.testing.assert_allclose(b[:, 0].mean(axis=0), [-10.0, 0.0, 10.0], atol=0.06)
    np.testing.assert_allclose(c.mean(axis=0), [2.0, 30.0], rtol=0.03)
    assert g.shape == (3000, 1) and abs(g.mean() - 1.0) < 0.06  # lam[::2] = [2.0]


def test_broadcast_draws_agree_between_modes():
    out = {}
    for mode in MODES:
        srng = RandomStream(seed=9)
        p, n = T.dmatrix("p"), T.lvector("n")
        f = cgraph.function([p, n], [srng.binomial(n, p), srng.beta(p + 0.1, 2.0, size=(2, 4, 3)),
                                     srng.integers(n, 1000, size=(3, 3)),
                                     srng.uniform(p.T[0], 2.0, dtype="float32")], mode=mode)
        pv = np.array([[0.1, 0.5, 0.95], [0.3, 0.0, 1.0], [0.6, 0.2, 0.05], [0.9, 0.4, 0.7]])
        out[mode] = f(pv, np.array([3, 50, 700]))
    for c, py in zip(out["C"], out["PY"]):
        assert c.shape == py.shape and c.dtype == py.dtype
        np.testing.assert_array_equal(c, py)
    b = out["C"][0]
    assert b.shape == (4, 3) and b[1, 1] == 0 and b[1, 2] == 700
    assert out["C"][3].dtype == np.float32 and out["C"][3].shape == (4,)


def test_shapes_and_bad_broadcasts():
    srng = RandomStream(seed=1)
    assert srng.normal().ndim == 0
    assert srng.dirichlet(np.ones((2, 3))).type.shape == (2, 3)
    assert srng.multivariate_normal(np.zeros(2), np.eye(2), size=(5,)).type.shape == (5, 2)
    f = cgraph.function([], [srng.normal(), srng.exponential(size=())])
    assert all(np.shape(v) == () for v in f())
    with pytest.raises(ValueError, match="batch dimensions"):
        srng.normal(np.zeros((2, 3)), size=(3,))
    x = T.dvector("x")
    g = cgraph.function([x], srng.normal(x, size=(2, 3)))
    with pytest.raises(ValueError, match="broadcast"):
        g(np.zeros(4))
    with pytest.raises(TypeError, match="at least 1"):
        srng.dirichlet(2.0)
    with pytest.raises(ValueError, match="scale or rate"):
        srng.gamma(2.0, rate=1.0, scale=1.0)
    with pytest.raises(TypeError, match="integer"):
        srng.integers(0.5, 3)
    with pytest.raises(ValueError, match="high is out of the bounds of int8"):
        srng.integers(0, 1000, dtype="int8")
    assert srng.integers(-128, 128, dtype="int8").dtype == "int8"


BAD = [
    ("normal", (0.0, -1.0), ValueError, "normal: scale >= 0 is needed, got scale=-1"),
    ("binomial", (3, 1.5), ValueError, "binomial: p <= 1 is needed, got p=1.5"),
    ("bernoulli", (np.nan,), ValueError, "bernoulli: p >= 0 is needed, got p=nan"),
    ("poisson", (-2.0,), ValueError, "poisson: lam >= 0"),
    ("beta", (0.0, 1.0), ValueError, "beta: alpha > 0"),
    ("exponential", (-1.0,), ValueError, "exponential: scale >= 0"),
    ("geometric", (0.0,), ValueError, "geometric: p > 0"),
    ("t", (-1.0,), ValueError, "t: df > 0"),
    ("integers", (5, 5), ValueError, "integers: low < high is needed"),
    ("triangular", (0.0, 2.0, 1.0), ValueError, "triangular: mode <= right is needed, got "
     "mode=2, right=1"),
    ("wald", (1.0, 0.0), ValueError, "wald: scale > 0"),
    ("negative_binomial", (5.0, 1e-30), ValueError, "negative_binomial: the Poisson mean"),
    ("hypergeometric", (2, 3, 6), ValueError, "hypergeometric: nsample <= ngood [+] nbad"),
    ("categorical", (np.array([0.5, -0.1, 0.6]),), ValueError, "categorical: p >= 0"),
    ("multinomial", (3, np.array([0.8, 0.7, 0.0])), ValueError, r"multinomial: sum\(p\[:-1\]\)"),
    ("dirichlet", (np.array([1.0, 0.0]),), ValueError, "dirichlet: alphas > 0"),
    ("multivariate_normal", (np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]])),
     np.linalg.LinAlgError, "multivariate_normal: cov is not positive definite"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method,args,error,message", BAD, ids=[b[0] for b in BAD])
def test_parameters_out_of_their_domain_raise(mode, method, args, error, message):
    srng = RandomStream(seed=2)
    f = cgraph.function([], getattr(srng, method)(*args, size=(3,)), mode=mode)
    with pytest.raises(error, match=message):
        f()


# PY's 300 calls run in the slow set only; the quick run compares the modes' choices
# (test_choice_agrees_between_modes_and_checks_its_sizes).
@pytest.mark.parametrize("mode", ["C", pytest.param("PY", marks=pytest.mark.slow)])
def test_choice_and_permutation(mode):
    srng = RandomStream(seed=6)
    a = np.array([10.0, 20.0, 30.0, 40.0])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    rows = np.arange(12.0).reshape(4, 3)
    f = cgraph.function([], [srng.choice(4, size=(6000,), p=p),
                             srng.choice(a, size=(2, 3)),
                             srng.choice(a, size=(3,), replace=False),
                             srng.choice(4, size=(1,), replace=False, p=p),
                             srng.permutation(rows), srng.permutation(6)], mode=mode)
    weighted, picked, distinct, first = [], [], [], []
    for _ in range(300):
        w, c, d, one, perm_rows, perm = f()
        weighted.append(w)
        picked.append(c)
        distinct.append(d)
        first.append(one[0])
        assert set(c.ravel()) <= set(a) and c.shape == (2, 3)
        assert len(set(d)) == 3 and set(d) <= set(a)
        assert sorted(perm) == list(range(6))
        np.testing.assert_array_equal(np.sort(perm_rows[:, 0]), rows[:, 0])
        np.testing.assert_array_equal(perm_rows[:, 1:] - perm_rows[:, :1], [[1, 2]] * 4)
    w = np.concatenate(weighted)
    assert st.chisquare(np.bincount(w, minlength=4), len(w) * p).pvalue > 1e-3
    # replace=False with p: the first position is drawn with probability p
    assert st.chisquare(np.bincount(first, minlength=4), 300 * p).pvalue > 1e-3
    picks = np.concatenate([x.ravel() for x in distinct])
    assert st.chisquare(np.unique(picks, return_counts=True)[1]).pvalue > 1e-3


def test_choice_agrees_between_modes_and_checks_its_sizes():
    out = {}
    for mode in MODES:
        srng = RandomStream(seed=12)
        p = np.array([0.0, 0.5, 0.25, 0.25, 0.0])
        f = cgraph.function([], [srng.choice(5, size=(3,), replace=False, p=p),
                                 srng.choice(100, size=(4, 5), replace=False),
                                 srng.choice(7, size=(9,), p=np.full(7, 1 / 7))], mode=mode)
        out[mode] = [f(), f()]
        assert 0 not in out[mode][0][0] and 4 not in out[mode][0][0]
        assert len(set(out[mode][0][1].ravel())) == 20
        too_many = cgraph.function([], srng.choice(3, size=(4,), replace=False), mode=mode)
        with pytest.raises(ValueError, match="cannot take 4 values out of 3"):
            too_many()
        zeros = cgraph.function([], srng.choice(5, size=(4,), replace=False, p=p), mode=mode)
        with pytest.raises(ValueError, match="fewer than 4 nonzero"):
            zeros()
    for c_call, py_call in zip(out["C"], out["PY"]):
        for c, py in zip(c_call, py_call):
            np.testing.assert_array_equal(c, py)


def test_every_method_has_its_dtype_and_shape():
    """Each method as users call it: floatX (or the dtype asked) for continuous draws,
    int64 for discrete ones, the size's shape (and the core length)."""
    srng = RandomStream(seed=0)
    p3 = np.array([0.2, 0.3, 0.5])
    draws = {
        "uniform": srng.uniform(size=(2,)), "normal": srng.normal(size=(2,)),
        "gamma": srng.gamma(2.0, rate=0.5, size=(2,)), "beta": srng.beta(1.0, 2.0, size=(2,)),
        "exponential": srng.exponential(size=(2,)), "lognormal": srng.lognormal(size=(2,)),
        "laplace": srng.laplace(size=(2,)), "logistic": srng.logistic(size=(2,)),
        "cauchy": srng.cauchy(size=(2,)), "halfnormal": srng.halfnormal(size=(2,)),
        "halfcauchy": srng.halfcauchy(size=(2,)), "t": srng.t(4.0, size=(2,)),
        "chisquare": srng.chisquare(2.0, size=(2,)), "weibull": srng.weibull(2.0, size=(2,)),
        "standard_normal": srng.standard_normal(size=(2,)), "gumbel": srng.gumbel(size=(2,)),
        "pareto": srng.pareto(3.0, size=(2,)), "invgamma": srng.invgamma(2.0, 1.0, size=(2,)),
        "triangular": srng.triangular(0.0, 1.0, 2.0, size=(2,)),
        "wald": srng.wald(1.0, 1.0, size=(2,)), "truncexpon": srng.truncexpon(1.0, size=(2,)),
        "betabinom": srng.betabinom(5, 1.0, 1.0, size=(2,)),
        "gengamma": srng.gengamma(size=(2,)), "vonmises": srng.vonmises(0.0, 1.0, size=(2,)),
        "hypergeometric": srng.hypergeometric(3, 4, 5, size=(2,)),
        "dirichlet": srng.dirichlet(p3, size=(2,)),
        "multivariate_normal": srng.multivariate_normal(np.zeros(3), np.eye(3), size=(2,)),
        "integers": srng.integers(5, size=(2,)), "bernoulli": srng.bernoulli(0.5, size=(2,)),
        "binomial": srng.binomial(4, 0.5, size=(2,)), "poisson": srng.poisson(size=(2,)),
        "negative_binomial": srng.negative_binomial(2, 0.5, size=(2,)),
        "geometric": srng.geometric(0.5, size=(2,)), "categorical": srng.categorical(p3, size=(2,)),
        "multinomial": srng.multinomial(4, p3, size=(2,)),
        "choice": srng.choice(5, size=(2,)), "permutation": srng.permutation(2),
    }
    f32 = srng.normal(size=(2,), dtype="float32")
    values = cgraph.function([], [*draws.values(), f32])()
    for (name, var), value in zip(draws.items(), values):
        core = (3,) if name in ("dirichlet", "multivariate_normal", "multinomial") else ()
        assert value.shape == (2, *core), name
        discrete = name in ("integers", "bernoulli", "binomial", "poisson", "negative_binomial",
                            "betabinom", "hypergeometric",
                            "geometric", "categorical", "multinomial", "choice", "permutation")
        assert value.dtype == ("int64" if discrete else cgraph.config.floatX), name
        assert var.dtype == value.dtype, name
    assert values[-1].dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        srng.normal(dtype="int32")
    with pytest.raises(TypeError, match="integer dtype"):
        srng.poisson(dtype="float64")
