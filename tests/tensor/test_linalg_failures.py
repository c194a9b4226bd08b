"""A matrix LAPACK cannot factor raises numpy.linalg.LinAlgError in both modes (in mode C
through the kernels' CG_ERR_LINALG code), naming the node and the user's line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
NOT_PD = np.array([[1.0, 2.0], [2.0, 1.0]])


def raises_linalg(f, args, node, what):
    with pytest.raises(np.linalg.LinAlgError, match=what) as info:
        f(*args)
    text = str(info.value)
    assert node in text and "test_linalg_failures.py" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_factorization_failures_are_linalg_errors(mode):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    rhs = np.ones((2, 1))
    raises_linalg(cgraph.function([a], la.cholesky(a), mode=mode), [NOT_PD], "Cholesky",
                  "not positive definite")
    raises_linalg(cgraph.function([a], la.inv(a), mode=mode), [SINGULAR], "MatrixInverse",
                  "singular")
    raises_linalg(cgraph.function([a, b], la.solve(a, b), mode=mode), [SINGULAR, rhs],
                  "Solve", "singular")
    raises_linalg(cgraph.function([a, b], la.solve(a, b, assume_a="pos"), mode=mode),
                  [NOT_PD, rhs], "Solve", "not positive definite")
    raises_linalg(cgraph.function([a, b], la.solve_triangular(a, b), mode=mode),
                  [np.zeros((2, 2)), rhs], "SolveTriangular", "singular")


@pytest.mark.parametrize("mode", MODES)
def test_svd_of_nan_does_not_converge(mode):
    """numpy raises LinAlgError for an SVD of a matrix with NaN; gesdd rejects it."""
    a = T.dmatrix("a")
    nan = np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 3.0]])
    raises_linalg(cgraph.function([a], la.svd(a)[1], mode=mode), [nan], "SVD",
                  "did not converge")
    raises_linalg(cgraph.function([a], la.norm(a, 2), mode=mode), [nan], "SVD",
                  "did not converge")
    q, r = cgraph.function([a], list(la.qr(a)), mode=mode)(nan)  # NaN out, as numpy
    assert np.isnan(r).any()
