"""Reverse-mode gradients of cgraph.tensor.linalg against central differences
(cgraph.gradient.verify_grad), float64, in modes C and PY, on well-conditioned matrices
(SPD: A A^T + n I), unbatched and batched; each test checks its cases with one compiled
module (helpers.verify_grad_cases). The inputs are not symmetric where the op reads one
triangle: the gradient is then that of the triangle read (zero elsewhere), which the
differences see too."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for, verify_grad_cases

import cgraph.tensor as T
from cgraph.tensor import linalg as la


def spd(rng, batch, n):
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def general(rng, batch, n):
    return rng.normal(size=(*batch, n, n)) + n * np.eye(n)


def lopsided(rng, batch, n):
    """SPD in one triangle, noise in the other (what an op reading one triangle must
    ignore)."""
    s = spd(rng, batch, n)
    return np.tril(s) + np.triu(rng.normal(size=s.shape), 1)


BATCHES = ((), (2,))


def check(cases, mode):
    """verify_grad of each case (label -> (fun, inputs)), one compiled module in mode C."""
    cases = {k: (fn, [np.ascontiguousarray(x) for x in inputs])  # perturbed as flat copies
             for k, (fn, inputs) in cases.items()}
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))


@pytest.mark.parametrize("mode", MODES)
def test_cholesky_grad(mode):
    cases = {}
    for batch in BATCHES:
        for lower in (True, False):
            rng = rng_for("chol", batch, lower)
            a = spd(rng, batch, 4)
            if lower:
                a = np.tril(a) + np.triu(rng.normal(size=a.shape), 1)
            cases[f"{batch} lower={lower}"] = (lambda x, lower=lower: la.cholesky(x, lower=lower),
                                               [a])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_solve_grad(mode):
    cases = {}
    for batch in BATCHES:
        for assume_a, lower in [("gen", False), ("sym", True), ("pos", True), ("pos", False)]:
            rng = rng_for("solve", batch, assume_a, lower)
            a = general(rng, batch, 4) if assume_a == "gen" else spd(rng, batch, 4)
            if assume_a != "gen":
                a = (lopsided(rng, batch, 4) if lower
                     else np.swapaxes(lopsided(rng, batch, 4), -1, -2))
            b = rng.normal(size=(*batch, 4, 3))
            cases[f"{batch} {assume_a} lower={lower}"] = (
                lambda x, y, assume_a=assume_a, lower=lower:
                la.solve(x, y, assume_a=assume_a, lower=lower), [a, b])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_solve_vector_and_broadcast_grad(mode):
    rng = rng_for("solve-vec")
    a, b = general(rng, (3,), 4), rng.normal(size=(3, 4))
    check({"vector": (lambda x, y: la.solve(x, y, b_ndim=1), [a, b]),
           # one right-hand side shared by the batch: its gradient sums over the batch
           "shared b": (lambda x, y: la.solve(x, y), [a, rng.normal(size=(4, 2))])}, mode)


@pytest.mark.parametrize("mode", MODES)
def test_solve_triangular_grad(mode):
    cases = {}
    for batch in BATCHES:
        for lower, trans, unit in [(True, 0, False), (False, 1, False), (True, 1, True),
                                   (False, 0, True)]:
            rng = rng_for("tri", batch, lower, trans, unit)
            a = general(rng, batch, 4)
            b = rng.normal(size=(*batch, 4, 2))
            cases[f"{batch} lower={lower} trans={trans} unit={unit}"] = (
                lambda x, y, lower=lower, trans=trans, unit=unit: la.solve_triangular(
                    x, y, lower=lower, trans=trans, unit_diagonal=unit), [a, b])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_cho_solve_grad(mode):
    cases = {}
    for batch in BATCHES:
        for lower in (True, False):
            rng = rng_for("cho_solve", batch, lower)
            c = np.linalg.cholesky(spd(rng, batch, 4))
            c = c if lower else np.swapaxes(c, -1, -2)
            c = c + (np.triu if lower else np.tril)(rng.normal(size=c.shape),
                                                    1 if lower else -1)
            b = rng.normal(size=(*batch, 4, 2))
            cases[f"{batch} lower={lower}"] = (
                lambda x, y, lower=lower: la.cho_solve((x, lower), y), [c, b])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_inv_det_slogdet_grad(mode):
    cases = {}
    for batch in BATCHES:
        a = general(rng_for("inv", batch), batch, 4)
        cases[f"{batch} inv"] = (la.matrix_inverse, [a])
        cases[f"{batch} det"] = (la.det, [a])
        cases[f"{batch} slogdet"] = (lambda x: la.slogdet(x)[1], [a])
        # with a negative determinant (a row swap): log|det| and its gradient still hold
        cases[f"{batch} slogdet swapped"] = (lambda x: la.slogdet(x)[1], [a[..., ::-1, :]])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_eigh_grad(mode):
    cases = {}
    for batch in BATCHES:
        for uplo in ("L", "U"):
            a = lopsided(rng_for("eigh", batch, uplo), batch, 4)
            a = a if uplo == "L" else np.swapaxes(a, -1, -2)
            cases[f"{batch} {uplo} eigvalsh"] = (lambda x, u=uplo: la.eigvalsh(x, UPLO=u), [a])
            cases[f"{batch} {uplo} eigh w"] = (lambda x, u=uplo: la.eigh(x, u)[0], [a])
            # the eigenvectors' signs are arbitrary: their squares (and products) are not
            cases[f"{batch} {uplo} eigh v**2"] = (lambda x, u=uplo: la.eigh(x, u)[1] ** 2, [a])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_gaussian_logp_grad(mode):
    """The log-density of a multivariate normal through cholesky, as a sampler needs it."""
    rng = rng_for("logp")
    s, x = spd(rng, (), 5), rng.normal(size=5)

    def logp(cov, value):
        chol = la.cholesky(cov)
        z = la.solve_triangular(chol, value, lower=True)
        return -0.5 * T.sum(z * z) - T.sum(T.log(T.diagonal(chol)))

    check({"logp": (logp, [np.tril(s), x])}, mode)
