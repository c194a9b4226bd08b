"""Statistical models' value-and-gradient calls, the call a sampler or an optimizer makes
(float64):

- `gp n=200`, `gp n=1000`: a Gaussian process's marginal log-likelihood and its
  gradient with respect to the kernel's three log hyperparameters theta = (log
  amplitude, log length scale, log noise), on 1-d inputs x with observations y:
  `K = a^2 exp(-(x_i - x_j)^2 / (2 l^2)) + s^2 I`, `L = cholesky(K)`,
  `mll = -0.5 |L^-1 y|^2 - sum(log diag L) - n/2 log(2 pi)`; one call takes x, y and
  theta (Cholesky and triangular solve of cgraph.tensor.linalg, LAPACK-bound at
  n = 1000). The reference: scipy's cho_factor/cho_solve and the closed-form gradient
  `0.5 tr((alpha alpha^T - K^-1) dK/dtheta)`.
- `eight schools`: the hierarchical model's log-density and its gradient in the
  non-centred parametrisation, with respect to its parameters mu, log tau and
  theta_tilde[8], given as three inputs: `mu ~ N(0, 5)`, `tau ~ HalfCauchy(5)` (with
  the log transform's Jacobian), `theta_tilde ~ N(0, 1)`, `y ~ N(mu + tau theta_tilde,
  sigma)`, the data constants of the graph. The call returns the value and the gradient
  as one vector of 10, as PyMC's sampler takes it. (The parameters are not one flat
  input vector, as PyMC passes them: PyTensor 3.0.7's C linker fails on the gradient's
  IncSubtensor with numpy 2.4.) The reference: numpy by hand.

Backends, side by side in one run: cgraph (mode C), JAX (`jax.jit` of
`jax.value_and_grad`), PyTensor's C linker and C virtual machine when PyTensor is
importable (`pytensor C` only where every op of the graph has C code: the GP's
Cholesky has none there), and the numpy/scipy reference. cgraph's and PyTensor's
functions run with `trust_input = True`, as PyMC's samplers call them. Each backend's
value and gradient are checked against the reference before it is timed.

Run: `python -m benchmarks.statmodels [--quick] [--json PATH]`. Prints a markdown table of median
times per call (interleaved rounds, microseconds) and each one's time relative to
cgraph's (> 1: cgraph is faster). `--quick`: cgraph and the reference, few rounds.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import scipy.linalg as sl

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved, optional
from benchmarks.results import run_main
from cgraph.tensor import linalg

SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
LOG_2PI = math.log(2 * math.pi)


# ----------------------------------------------------------------- Gaussian process
def gp_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Inputs x on [0, 10], noisy observations y of a smooth curve, and theta."""
    x = np.sort(rng.uniform(0.0, 10.0, size=n))
    y = np.sin(x) + 0.3 * rng.normal(size=n)
    theta = np.log([1.2, 0.8, 0.3])
    return x, y, theta


def gp_mll(tt: Any, la: Any, x: Any, y: Any, theta: Any) -> Any:
    """The marginal log-likelihood, written once for a Theano-like library `tt` (cgraph or
    pytensor's tensor module) with its `linalg` module `la`."""
    amp2, ell2, noise2 = tt.exp(2 * theta[0]), tt.exp(2 * theta[1]), tt.exp(2 * theta[2])
    d2 = tt.sqr(x[:, None] - x[None, :])
    k = amp2 * tt.exp(-0.5 * d2 / ell2) + noise2 * tt.eye(x.shape[0])
    chol = la.cholesky(k, lower=True)
    z = la.solve_triangular(chol, y, lower=True)
    n = tt.cast(x.shape[0], "float64")
    return -0.5 * tt.sum(tt.sqr(z)) - tt.sum(tt.log(tt.diagonal(chol))) - 0.5 * n * LOG_2PI


def gp_reference(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """scipy by hand: the value and the closed-form gradient."""
    amp2, ell2, noise2 = np.exp(2 * theta)
    d2 = np.square(x[:, None] - x[None, :])
    k_se = amp2 * np.exp(-0.5 * d2 / ell2)
    k = k_se + noise2 * np.eye(len(x))
    factor = sl.cho_factor(k, lower=True, check_finite=False)
    alpha = sl.cho_solve(factor, y, check_finite=False)
    mll = (-0.5 * y @ alpha - np.sum(np.log(np.diag(factor[0])))
           - 0.5 * len(x) * LOG_2PI)
    w = np.outer(alpha, alpha) - sl.cho_solve(factor, np.eye(len(x)), check_finite=False)
    grad = 0.5 * np.array([np.sum(w * 2 * k_se), np.sum(w * k_se * d2 / ell2),
                           2 * noise2 * np.trace(w)])
    return mll, grad


def gp_cgraph() -> Callable:
    x, y, theta = T.dvector("x"), T.dvector("y"), T.dvector("theta")
    mll = gp_mll(T, linalg, x, y, theta)
    f = cgraph.function([x, y, theta], [mll, T.grad(mll, theta)])
    f.trust_input = True
    return f


def gp_pytensor(pytensor: ModuleType, mode: str) -> Callable:
    pt = pytensor.tensor
    x, y, theta = pt.dvector("x"), pt.dvector("y"), pt.dvector("theta")
    mll = gp_mll(pt, pt.linalg, x, y, theta)
    f = pytensor.function([x, y, theta], [mll, pytensor.grad(mll, theta)], mode=mode)
    f.trust_input = True
    return f


def gp_jax(jax: ModuleType) -> Callable:
    jnp, jsl = jax.numpy, jax.scipy.linalg

    def mll(x, y, theta):
        amp2, ell2, noise2 = jnp.exp(2 * theta)
        k = amp2 * jnp.exp(-0.5 * jnp.square(x[:, None] - x[None, :]) / ell2)
        chol = jnp.linalg.cholesky(k + noise2 * jnp.eye(x.shape[0]))
        z = jsl.solve_triangular(chol, y, lower=True)
        return (-0.5 * jnp.sum(z * z) - jnp.sum(jnp.log(jnp.diag(chol)))
                - 0.5 * x.shape[0] * LOG_2PI)

    f = jax.jit(jax.value_and_grad(mll, argnums=2))
    return lambda *args: jax.block_until_ready(f(*args))


# ----------------------------------------------------------------- eight schools
def schools_logp(tt: Any, mu: Any, log_tau: Any, theta_tilde: Any) -> Any:
    """The log-density, for a Theano-like `tt` or jax.numpy (the same names)."""
    tau = tt.exp(log_tau)
    theta = mu + tau * theta_tilde
    resid = (SCHOOLS_Y - theta) / SCHOOLS_SIGMA
    return (-0.5 * tt.square(mu / 5.0) - math.log(5.0)
            + math.log(2.0 / (math.pi * 5.0)) - tt.log1p(tt.square(tau / 5.0)) + log_tau
            - 0.5 * tt.sum(tt.square(theta_tilde))
            - 0.5 * tt.sum(tt.square(resid)) - float(np.sum(np.log(SCHOOLS_SIGMA)))
            - 0.5 * (2 + len(SCHOOLS_Y)) * LOG_2PI)


def schools_reference(mu: np.ndarray, log_tau: np.ndarray, theta_tilde: np.ndarray
                      ) -> tuple[float, np.ndarray]:
    """numpy by hand: the value and the gradient (mu, log tau, theta_tilde)."""
    logp = float(schools_logp(np, mu, log_tau, theta_tilde))
    tau = np.exp(log_tau)
    r = (SCHOOLS_Y - (mu + tau * theta_tilde)) / SCHOOLS_SIGMA ** 2
    d_mu = -mu / 25.0 + np.sum(r)
    d_log_tau = tau * (np.sum(r * theta_tilde) - 2 * tau / 25.0 / (1 + (tau / 5.0) ** 2)) + 1
    return logp, np.concatenate([[d_mu, d_log_tau], -theta_tilde + tau * r])


def schools_graph(tt: Any, grad: Callable) -> tuple[list, list]:
    """The inputs and outputs (value, gradient vector) for a Theano-like library."""
    params = [tt.dscalar("mu"), tt.dscalar("log_tau"), tt.dvector("theta_tilde")]
    logp = schools_logp(tt, *params)
    d_mu, d_log_tau, d_theta_tilde = grad(logp, params)
    return params, [logp, tt.concatenate([d_mu.dimshuffle("x"), d_log_tau.dimshuffle("x"),
                                          d_theta_tilde])]


def schools_cgraph() -> Callable:
    f = cgraph.function(*schools_graph(T, T.grad))
    f.trust_input = True
    return f


def schools_pytensor(pytensor: ModuleType, mode: str) -> Callable:
    f = pytensor.function(*schools_graph(pytensor.tensor, pytensor.grad), mode=mode)
    f.trust_input = True
    return f


def schools_jax(jax: ModuleType) -> Callable:
    jnp = jax.numpy
    value_and_grad = jax.value_and_grad(lambda *p: schools_logp(jnp, *p), argnums=(0, 1, 2))

    @jax.jit
    def f(*params):
        value, (d_mu, d_log_tau, d_theta_tilde) = value_and_grad(*params)
        return value, jnp.concatenate([d_mu[None], d_log_tau[None], d_theta_tilde])

    return lambda *params: jax.block_until_ready(f(*params))


# ----------------------------------------------------------------- cases
def _pytensor_functions(pytensor: ModuleType | None, build: Callable) -> dict[str, Callable]:
    """PyTensor's C linker and C VM versions of a model; a mode that cannot compile the
    graph (an op without C code under the C linker) is skipped with a note."""
    functions: dict[str, Callable] = {}
    for name, mode in (("pytensor C", "C"), ("pytensor CVM", "CVM")):
        if pytensor is None:
            continue
        try:
            functions[name] = build(pytensor, mode)
        except (NotImplementedError, TypeError, ValueError) as err:  # no C code for an op
            print(f"({name} cannot compile this graph: {type(err).__name__}: "
                  f"{str(err).splitlines()[0][:100]})")
    return functions


def gp_case(n: int, rng: np.random.Generator, quick: bool
            ) -> tuple[dict[str, Callable], tuple, Callable]:
    """The functions compared for the GP at size n, their arguments and the reference."""
    functions: dict[str, Callable] = {"cgraph": gp_cgraph()}
    if (jax := optional("jax", quick)) is not None:
        functions["jax.jit"] = gp_jax(jax)
    functions.update(_pytensor_functions(optional("pytensor", quick), gp_pytensor))
    functions["scipy"] = gp_reference
    return functions, gp_data(n, rng), gp_reference


def schools_case(n: int, rng: np.random.Generator, quick: bool
                 ) -> tuple[dict[str, Callable], tuple, Callable]:
    """The functions compared for eight schools (n: unused), their argument and the
    reference."""
    functions: dict[str, Callable] = {"cgraph": schools_cgraph()}
    if (jax := optional("jax", quick)) is not None:
        functions["jax.jit"] = schools_jax(jax)
    functions.update(_pytensor_functions(optional("pytensor", quick), schools_pytensor))
    functions["numpy"] = schools_reference
    params = (np.array(4.4), np.array(math.log(3.6)), rng.normal(size=len(SCHOOLS_Y)))
    return functions, params, schools_reference


def check(functions: dict[str, Callable], args: tuple, reference: Callable) -> None:
    """Every backend's value and gradient against the reference (AssertionError naming
    the backend)."""
    want_value, want_grad = reference(*args)
    for name, f in functions.items():
        value, grad = f(*args)
        np.testing.assert_allclose(float(value), want_value, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-7,
                                   atol=1e-9 * np.max(np.abs(want_grad)), err_msg=name)


CASES = (("eight schools", 8, schools_case), ("gp", 200, gp_case), ("gp", 1000, gp_case))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    parsed = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for case, n, make in CASES:
        functions, args, reference = make(n, rng, parsed.quick)
        check(functions, args, reference)
        calls = {8: 2000, 200: 40, 1000: 2}[n] // (20 if parsed.quick else 1)
        times = interleaved({name: (lambda f=f: f(*args)) for name, f in functions.items()},
                            3 if parsed.quick else 15, max(1, calls))
        rows += [(case, n, name, s, s / times["cgraph"]) for name, s in times.items()]
    print("| case | n | backend | us per call | ratio to cgraph |")
    print("| --- | ---: | --- | ---: | ---: |")
    for case, n, name, seconds, ratio in rows:
        print(f"| {case} | {n} | {name} | {seconds * 1e6:.4g} | {ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    run_main(main)
