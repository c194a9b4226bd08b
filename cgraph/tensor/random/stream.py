"""PyTensor's `RandomStream`: `srng.normal(loc, scale, size=...)` and the other
distributions of `pytensor.tensor.random`, drawn in C with the Philox generator.

Parameters may be tensors (symbolic or not). With `size`, each parameter's batch
dimensions (all of them but a vector parameter's last axis, a matrix's last two)
broadcast to `size`, numpy's rule, and the sample has the shape `size` (followed by
the core dimension for dirichlet, multinomial and multivariate_normal); with
`size=None` the sample takes the broadcast shape of the parameters. Continuous draws
have dtype floatX unless `dtype` says float32 or float64; discrete ones int64 unless
`dtype` names another integer dtype. A parameter out of its domain raises ValueError
when drawn (modes C and PY), see `cgraph.tensor.random.variable`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.elemwise import cast
from cgraph.tensor.random.streams import RandomDraw, RandomStreams, _as_sizes, _float
from cgraph.tensor.random.variable import DISTS, RandomVariable
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["RandomStream"]


def _int_dtype(dtype: Any) -> str:
    dtype = str(np.dtype(dtype))
    if dtype[0] not in "iu":
        raise TypeError(f"random: discrete draws have an integer dtype, not {dtype}")
    return dtype


class RandomStream(RandomStreams):
    """PyTensor's random stream: distribution parameters first, `size` and `dtype` as
    keywords. Every draw gets its own state (a shared int64 vector: seed, draw number,
    counter) with a `default_update`, so a function gives new numbers at each call and
    `srng.seed(n)` restarts every draw; a seed gives the same numbers in modes C and PY
    and on every machine. `uniform` and `normal` with scalar parameters draw the
    numbers of the Theano-style `RandomStreams` of the same seed (normal to the last
    bit: that kernel may use libmvec's vector log and cos)."""

    def _rv(self, dist: str, params: list[Any], size: Any, dtype: str) -> TensorVariable:
        return draw_rv(self, dist, params, size, dtype)

    def _cont(self, dist: str, params: list[Any], size: Any, dtype: Any) -> TensorVariable:
        return self._rv(dist, params, size, _float(dtype))

    def _disc(self, dist: str, params: list[Any], size: Any, dtype: Any) -> TensorVariable:
        return self._rv(dist, params, size, _int_dtype(dtype))

    # ----------------------------------------------------------------- continuous
    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None,  # type: ignore[override]
                dtype: Any = None) -> TensorVariable:
        """Uniform on [low, high) (53 random bits; 24 for float32, computed in float32)."""
        return self._cont("uniform", [low, high], size, dtype)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,  # type: ignore[override]
               dtype: Any = None) -> TensorVariable:
        """Normal of mean `loc` and standard deviation `scale` >= 0 (Box-Muller)."""
        return self._cont("normal", [loc, scale], size, dtype)

    def gamma(self, shape: Any, rate: Any = None, scale: Any = None, size: Any = None,
              dtype: Any = None) -> TensorVariable:
        """Gamma of shape `shape` >= 0 and `scale` >= 0, or `rate` = 1 / scale (give one
        of them, as PyTensor asks); Marsaglia and Tsang's method."""
        if rate is not None and scale is not None:
            raise ValueError("gamma: give scale or rate, not both")
        if rate is None and scale is None:
            raise ValueError("gamma: give scale or rate")
        if rate is not None:
            scale = 1.0 / as_tensor_variable(rate)
        return self._cont("gamma", [shape, scale], size, dtype)

    def beta(self, alpha: Any, beta: Any, size: Any = None, dtype: Any = None
             ) -> TensorVariable:
        """Beta(alpha > 0, beta > 0), from two gamma draws (in logs: small shapes keep
        their tiny values)."""
        return self._cont("beta", [alpha, beta], size, dtype)

    def exponential(self, scale: Any = 1.0, size: Any = None, dtype: Any = None
                    ) -> TensorVariable:
        """Exponential of scale (mean) `scale` >= 0."""
        return self._cont("exponential", [scale], size, dtype)

    def lognormal(self, mean: Any = 0.0, sigma: Any = 1.0, size: Any = None,
                  dtype: Any = None) -> TensorVariable:
        """exp of a normal of mean `mean` and standard deviation `sigma` >= 0."""
        return self._cont("lognormal", [mean, sigma], size, dtype)

    def laplace(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
                dtype: Any = None) -> TensorVariable:
        """Laplace (double exponential) of location `loc`, scale `scale` >= 0."""
        return self._cont("laplace", [loc, scale], size, dtype)

    def logistic(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
                 dtype: Any = None) -> TensorVariable:
        """Logistic of location `loc`, scale `scale` >= 0."""
        return self._cont("logistic", [loc, scale], size, dtype)

    def cauchy(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
               dtype: Any = None) -> TensorVariable:
        """Cauchy of location `loc`, scale `scale` >= 0."""
        return self._cont("cauchy", [loc, scale], size, dtype)

    def halfnormal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
                   dtype: Any = None) -> TensorVariable:
        """loc + scale * abs(z) for a standard normal z (scale >= 0)."""
        return self._cont("halfnormal", [loc, scale], size, dtype)

    def halfcauchy(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
                   dtype: Any = None) -> TensorVariable:
        """loc + scale * abs(c) for a standard Cauchy c (scale >= 0)."""
        return self._cont("halfcauchy", [loc, scale], size, dtype)

    def t(self, df: Any, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
          dtype: Any = None) -> TensorVariable:
        """Student's t with `df` > 0 degrees of freedom, location `loc`, scale >= 0."""
        return self._cont("t", [df, loc, scale], size, dtype)

    def chisquare(self, df: Any, size: Any = None, dtype: Any = None) -> TensorVariable:
        """Chi-square with `df` > 0 degrees of freedom (2 Gamma(df / 2))."""
        return self._cont("chisquare", [df], size, dtype)

    def weibull(self, shape: Any, size: Any = None, dtype: Any = None) -> TensorVariable:
        """Weibull of shape `shape` >= 0 and scale 1 (numpy's weibull; 0 for shape 0)."""
        return self._cont("weibull", [shape], size, dtype)

    def standard_normal(self, size: Any = None, dtype: Any = None) -> TensorVariable:
        """Normal of mean 0 and standard deviation 1."""
        return self._cont("normal", [0.0, 1.0], size, dtype)

    def gumbel(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = None
               ) -> TensorVariable:
        """Gumbel (of maxima, scipy's gumbel_r) of location `loc`, scale >= 0."""
        return self._cont("gumbel", [loc, scale], size, dtype)

    def pareto(self, b: Any, scale: Any = 1.0, size: Any = None, dtype: Any = None
               ) -> TensorVariable:
        """Pareto of shape `b` > 0 on [scale, inf) (scipy's pareto; scale > 0)."""
        return self._cont("pareto", [b, scale], size, dtype)

    def invgamma(self, shape: Any, scale: Any, size: Any = None, dtype: Any = None
                 ) -> TensorVariable:
        """Inverse gamma, scale / Gamma(shape) (shape > 0, scale > 0)."""
        return self._cont("invgamma", [shape, scale], size, dtype)

    def triangular(self, left: Any, mode: Any, right: Any, size: Any = None,
                   dtype: Any = None) -> TensorVariable:
        """Triangular on [left, right] with its peak at `mode` (left <= mode <= right,
        left < right), by inversion."""
        return self._cont("triangular", [left, mode, right], size, dtype)

    def wald(self, mean: Any, scale: Any, size: Any = None, dtype: Any = None
             ) -> TensorVariable:
        """Wald (inverse Gaussian) of mean `mean` > 0 and scale (shape) `scale` > 0,
        numpy's transformation method (a normal and a uniform)."""
        return self._cont("wald", [mean, scale], size, dtype)

    def truncexpon(self, b: Any, loc: Any = 0.0, scale: Any = 1.0, size: Any = None,
                   dtype: Any = None) -> TensorVariable:
        """Exponential truncated to [0, b] (b > 0), shifted by `loc`, times `scale` >= 0
        (scipy's truncexpon), by inversion."""
        return self._cont("truncexpon", [b, loc, scale], size, dtype)

    def gengamma(self, alpha: Any = 1.0, p: Any = 1.0, lambd: Any = 1.0, size: Any = None,
                 dtype: Any = None) -> TensorVariable:
        """Generalized gamma: lambd * Gamma(alpha / p)^(1 / p) (all > 0; scipy's
        gengamma(alpha / p, p, scale=lambd))."""
        return self._cont("gengamma", [alpha, p, lambd], size, dtype)

    def vonmises(self, mu: Any, kappa: Any, size: Any = None, dtype: Any = None
                 ) -> TensorVariable:
        """von Mises angles in [-pi, pi] about `mu` with concentration `kappa` >= 0
        (numpy's method: Best and Fisher's rejection)."""
        return self._cont("vonmises", [mu, kappa], size, dtype)

    def dirichlet(self, alphas: Any, size: Any = None, dtype: Any = None) -> TensorVariable:
        """Dirichlet with concentrations `alphas` (> 0) along the last axis: the sample
        has shape batch + (k,) and each row sums to 1."""
        return self._cont("dirichlet", [alphas], size, dtype)

    def multivariate_normal(self, mean: Any, cov: Any, size: Any = None, dtype: Any = None,
                            method: str = "cholesky") -> TensorVariable:
        """Normal vectors of mean `mean` (..., k) and covariance `cov` (..., k, k),
        mean + L z with L the lower Cholesky factor of cov (its lower triangle is read).
        A cov that is not positive definite raises numpy.linalg.LinAlgError."""
        if method != "cholesky":
            raise NotImplementedError(f"multivariate_normal: method {method!r}: only "
                                      "'cholesky'")
        return self._cont("multivariate_normal", [mean, cov], size, dtype)

    # ------------------------------------------------------------------- discrete
    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = "int64"
                 ) -> TensorVariable:
        """Integers in [low, high) (numpy's Generator.integers; [0, low) when `high` is
        None); `low` and `high` are integers, low < high (ValueError when drawn
        otherwise), constant bounds within the range of `dtype`."""
        if high is None:
            low, high = 0, low
        bounds = []
        for name, b in (("low", low), ("high", high)):
            b = as_tensor_variable(b)
            if b.dtype[0] not in "iub":
                raise TypeError(f"integers: {name} must be an integer, got {b.type}")
            bounds.append(b if b.dtype == "int64" else cast(b, "int64"))
        info = np.iinfo(_int_dtype(dtype))
        for name, b, lim in (("low", bounds[0], info.min), ("high", bounds[1], info.max + 1)):
            data = getattr(b, "data", None)
            if data is not None and np.any((data < lim) if name == "low" else (data > lim)):
                raise ValueError(f"integers: {name} is out of the bounds of {info.dtype}")
        return self._disc("integers", bounds, size, dtype)

    def bernoulli(self, p: Any, size: Any = None, dtype: Any = "int64") -> TensorVariable:
        """1 with probability `p` in [0, 1], else 0."""
        return self._disc("bernoulli", [p], size, dtype)

    def binomial(self, n: Any = 1, p: Any = 0.5, size: Any = None,  # type: ignore[override]
                 dtype: Any = "int64") -> TensorVariable:
        """Successes in `n` >= 0 trials of probability `p` in [0, 1] (a float n is
        truncated, as numpy does); inversion for n min(p, 1 - p) < 10, BTRS above."""
        return self._disc("binomial", [_trials(n), p], size, dtype)

    def betabinom(self, n: Any, a: Any, b: Any, size: Any = None, dtype: Any = "int64"
                  ) -> TensorVariable:
        """Beta-binomial: Binomial(n, p) with p drawn from Beta(a > 0, b > 0)."""
        return self._disc("betabinom", [_trials(n), a, b], size, dtype)

    def hypergeometric(self, ngood: Any, nbad: Any, nsample: Any, size: Any = None,
                       dtype: Any = "int64") -> TensorVariable:
        """Good items among `nsample` drawn without replacement from `ngood` good and
        `nbad` bad ones (integers >= 0, nsample <= ngood + nbad); one uniform number per
        item drawn (of the smaller of nsample and its complement)."""
        return self._disc("hypergeometric", [_trials(ngood), _trials(nbad), _trials(nsample)],
                          size, dtype)

    def poisson(self, lam: Any = 1.0, size: Any = None, dtype: Any = "int64"
                ) -> TensorVariable:
        """Poisson of mean `lam` >= 0 (up to 1e18); inversion below 10, PTRS above."""
        return self._disc("poisson", [lam], size, dtype)

    def negative_binomial(self, n: Any, p: Any, size: Any = None, dtype: Any = "int64"
                          ) -> TensorVariable:
        """Failures before the n-th success (n > 0, may be real) with success
        probability p in (0, 1]: Poisson(Gamma(n, (1 - p) / p)), numpy's method."""
        return self._disc("negative_binomial", [n, p], size, dtype)

    def geometric(self, p: Any, size: Any = None, dtype: Any = "int64") -> TensorVariable:
        """Trials up to the first success (>= 1), success probability p in (0, 1]."""
        return self._disc("geometric", [p], size, dtype)

    def categorical(self, p: Any, size: Any = None, dtype: Any = "int64") -> TensorVariable:
        """Category index drawn with the probabilities `p` along the last axis (values in
        [0, 1]; a sum below 1 leaves the missing mass to the last category)."""
        return self._disc("categorical", [p], size, dtype)

    def multinomial(self, n: Any, p: Any, size: Any = None, dtype: Any = "int64"
                    ) -> TensorVariable:
        """Counts of `n` trials over the categories of `p` (last axis; values in [0, 1],
        sum(p[:-1]) <= 1, the last category takes the rest): shape batch + (k,)."""
        return self._disc("multinomial", [_trials(n), p], size, dtype)

    def choice(self, a: Any = 2, size: Any = None, replace: bool = True,  # type: ignore[override]
               p: Any = None, dtype: Any = "int64") -> TensorVariable:
        """Values drawn from `a` (an integer n: range(n); a vector: its elements), with
        probabilities `p` (a vector of the population's length, default uniform), with
        replacement, or without it (`replace=False`: distinct positions, as numpy's
        Generator.choice). With replacement and p, the draw is a categorical one: a p
        summing to less than 1 leaves the rest to the last position."""
        return _choice(self, a, size, replace, p, dtype)

    def permutation(self, x: Any, dtype: Any = "int64") -> TensorVariable:  # type: ignore[override]
        """A random permutation of range(x) for an integer x, or of the rows (first
        axis) of the array x (Fisher-Yates)."""
        x = as_tensor_variable(x)
        if x.ndim == 0:
            return super().permutation(x, dtype)
        return x[super().permutation(x.shape[0], "int64")]


def draw_rv(srng: RandomStreams, dist: str, params: list[Any], size: Any, dtype: str
            ) -> TensorVariable:
    """A `RandomVariable` draw of `dist` by `srng`'s new state: the parameters' batch
    dimensions padded to the size's rank (or to the largest), dtype `dtype`."""
    spec = DISTS[dist]
    params = [as_tensor_variable(a) for a in params]
    sizes = None if size is None else _as_sizes(size)
    ranks = []
    for i, (name, a) in enumerate(zip(spec.params, params)):
        if a.ndim < spec.core_of(i):
            raise TypeError(f"{dist}: {name} needs at least {spec.core_of(i)} "
                            f"dimensions, got {a.type}")
        ranks.append(a.ndim - spec.core_of(i))
    nb = len(sizes) if sizes is not None else max(ranks, default=0)
    for name, r in zip(spec.params, ranks):
        if r > nb:
            raise ValueError(f"{dist}: {name} has {r} batch dimensions, more than "
                             f"the size's {nb}")
    params = [a.dimshuffle(*["x"] * (nb - r), *range(a.ndim)) if r < nb else a
              for a, r in zip(params, ranks)]
    state = srng._new_state()
    op = RandomVariable(dist, dtype, -1 if sizes is None else len(sizes))
    new_state, sample = op(state, *(sizes or []), *params)
    state.default_update = new_state
    return sample


def _trials(n: Any) -> TensorVariable:
    n = as_tensor_variable(n)
    return n if n.dtype[0] in "iu" else cast(n, "int64")


def _choice(srng: RandomStream, a: Any, size: Any, replace: bool, p: Any, dtype: Any
            ) -> TensorVariable:
    from cgraph.tensor.random.choice import without_replacement  # noqa: PLC0415

    a = as_tensor_variable(a)
    if a.ndim > 1:
        raise NotImplementedError(f"choice: a must be an integer or a vector, got {a.type}")
    count = a if a.ndim == 0 else a.shape[0]
    if not replace:
        idx = without_replacement(srng, count, size, p)
    elif p is None:
        state_size = () if size is None else size
        sizes = _as_sizes(state_size)
        state = srng._new_state()
        new_state, idx = RandomDraw("choice", "int64", len(sizes))(state, *sizes, count)
        state.default_update = new_state
    else:
        p = as_tensor_variable(p)
        if p.ndim != 1:
            raise TypeError(f"choice: p must be a vector, got {p.type}")
        known = int(a.data) if a.ndim == 0 and hasattr(a, "data") else a.type.shape[0]
        if known is not None and p.type.shape[0] not in (None, known):
            raise ValueError(f"choice: p has {p.type.shape[0]} probabilities for a "
                             f"population of {known}")
        idx = srng.categorical(p, size=() if size is None else size)
    out = idx if a.ndim == 0 else a[idx]
    if a.ndim == 0:
        out = cast(out, _int_dtype(dtype)) if str(np.dtype(dtype)) != "int64" else out
    return out
