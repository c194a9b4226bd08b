"""LAPACK ops per call: cgraph (mode C, scipy-openblas32's LAPACK) against numpy.linalg
and scipy.linalg for n = 4, 32, 256 (float64):

- `cholesky`: the lower factor of an SPD matrix;
- `solve`: a general system with one right-hand side;
- `qr`, `svd`, `lu_factor`, `expm`: a general matrix's reduced QR, reduced SVD, LU
  factors and exponential (against numpy.linalg.qr/svd and scipy.linalg.lu_factor/expm;
  the SVD compared by its singular values and reconstruction);
- `gaussian logp+grad`: the log-density of a multivariate normal and its gradient with
  respect to the value x and the covariance S, the call a sampler makes,
  `logp = -0.5 (x-mu)^T S^-1 (x-mu) - 0.5 log det S` through a Cholesky factor (cgraph:
  one compiled function for the value and both gradients; scipy: the same steps by hand,
  cholesky + cho_solve + the closed-form gradient).

Run: `python -m benchmarks.linalg [--quick]`. Prints a markdown table of median times
per call (interleaved rounds, microseconds) and each one's time relative to cgraph's
(> 1: cgraph is faster). Every result is checked against the reference before timing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved
from benchmarks.results import run_main
from cgraph.tensor import linalg as la

try:
    import scipy.linalg as sl
except ImportError:  # numpy alone
    sl = None

SIZES = (4, 32, 256)


def spd(n: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def cholesky_case(n: int, rng: np.random.Generator) -> tuple[dict[str, Callable], Callable]:
    s = spd(n, rng)
    x = T.dmatrix("s")
    f = cgraph.function([x], la.cholesky(x))
    functions = {"cgraph": lambda: f(s), "numpy": lambda: np.linalg.cholesky(s)}
    if sl is not None:
        functions["scipy"] = lambda: sl.cholesky(s, lower=True, check_finite=False)
    return functions, lambda got: np.testing.assert_allclose(got, np.linalg.cholesky(s),
                                                             rtol=1e-10, atol=1e-10)


def solve_case(n: int, rng: np.random.Generator) -> tuple[dict[str, Callable], Callable]:
    a, b = rng.normal(size=(n, n)) + n * np.eye(n), rng.normal(size=n)
    x, y = T.dmatrix("a"), T.dvector("b")
    f = cgraph.function([x, y], la.solve(x, y))
    functions = {"cgraph": lambda: f(a, b), "numpy": lambda: np.linalg.solve(a, b)}
    if sl is not None:
        functions["scipy"] = lambda: sl.solve(a, b, check_finite=False)
    return functions, lambda got: np.testing.assert_allclose(got, np.linalg.solve(a, b),
                                                             rtol=1e-9)


def logp_graph() -> Callable:
    """cgraph's logp(x; mu, S) with its gradients wrt x and S."""
    x, mu, s = T.dvector("x"), T.dvector("mu"), T.dmatrix("S")
    chol = la.cholesky(s)
    z = la.solve_triangular(chol, x - mu, lower=True)
    logp = -0.5 * T.sum(z * z) - T.sum(T.log(T.diagonal(chol)))
    gx, gs = T.grad(logp, [x, s])
    return cgraph.function([x, mu, s], [logp, gx, gs])


def logp_numpy(x: np.ndarray, mu: np.ndarray, s: np.ndarray) -> tuple:
    """The same by hand with scipy.linalg (numpy.linalg without scipy): the gradient wrt S
    of the lower triangle the factorization reads (as cgraph's)."""
    r = x - mu
    if sl is not None:
        chol = sl.cholesky(s, lower=True, check_finite=False)
        alpha = sl.cho_solve((chol, True), r, check_finite=False)
        s_inv = sl.cho_solve((chol, True), np.eye(len(x)), check_finite=False)
    else:
        chol = np.linalg.cholesky(s)
        alpha = np.linalg.solve(s, r)
        s_inv = np.linalg.inv(s)
    logp = -0.5 * r @ alpha - np.sum(np.log(np.diag(chol)))
    g = 0.5 * (np.outer(alpha, alpha) - s_inv)  # wrt the symmetric S
    g_lower = np.tril(g + g.T) - np.diag(np.diag(g))
    return logp, -alpha, g_lower


def logp_case(n: int, rng: np.random.Generator) -> tuple[dict[str, Callable], Callable]:
    s, x, mu = spd(n, rng), rng.normal(size=n), rng.normal(size=n)
    f = logp_graph()
    name = "scipy" if sl is not None else "numpy"
    want = logp_numpy(x, mu, s)

    def check(got):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10)

    return {"cgraph": lambda: f(x, mu, s), name: lambda: logp_numpy(x, mu, s)}, check


def _one_matrix_case(build: Callable, references: dict[str, Callable],
                     compare: Callable) -> Callable:
    """A case timing cgraph's `build(x)` against references on one general matrix."""
    def make(n: int, rng: np.random.Generator) -> tuple[dict[str, Callable], Callable]:
        a = rng.normal(size=(n, n)) / np.sqrt(n)
        x = T.dmatrix("a")
        out = build(x)
        f = cgraph.function([x], list(out) if isinstance(out, tuple) else out)
        functions = {"cgraph": lambda: f(a)}
        functions.update({name: (lambda r=r: r(a)) for name, r in references.items()
                          if name != "scipy" or sl is not None})
        return functions, lambda got: compare(got, a)
    return make


def _close(got: Any, want: Any) -> None:
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-9)


def _svd_check(got: Any, a: np.ndarray) -> None:
    u, s, vh = got
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((u * s) @ vh, a, atol=1e-9)


CASES = {
    "cholesky": cholesky_case, "solve": solve_case,
    "qr": _one_matrix_case(la.qr, {"numpy": np.linalg.qr},
                           lambda got, a: _close(got, np.linalg.qr(a))),
    "svd": _one_matrix_case(lambda x: la.svd(x, full_matrices=False),
                            {"numpy": lambda a: np.linalg.svd(a, full_matrices=False)},
                            _svd_check),
    "lu_factor": _one_matrix_case(
        la.lu_factor, {"scipy": lambda a: sl.lu_factor(a, check_finite=False)},
        lambda got, a: _close(got, sl.lu_factor(a) if sl is not None else got)),
    "expm": _one_matrix_case(
        la.expm, {"scipy": lambda a: sl.expm(a)},
        lambda got, a: _close([got], [sl.expm(a)] if sl is not None else [got])),
    "gaussian logp+grad": logp_case,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| case | n | backend | us per call | ratio to cgraph |")
    print("| --- | ---: | --- | ---: | ---: |")
    for case, make in CASES.items():
        for n in SIZES:
            functions, check = make(n, rng)
            check(functions["cgraph"]())
            for other in functions.values():
                other()
            calls = max(1, {4: 2000, 32: 500, 256: 10}[n] // (20 if args.quick else 1))
            times = interleaved(functions, 3 if args.quick else 11, calls)
            for name, seconds in times.items():
                print(f"| {case} | {n} | {name} | {seconds * 1e6:.2f} | "
                      f"{seconds / times['cgraph']:.2f}x |", flush=True)


if __name__ == "__main__":
    run_main(main)
