"""cgraph.tensor.linalg on matrices LAPACK cannot factor, and on bad input: what PyTensor
gives (numpy.linalg.LinAlgError, a ValueError, naming the node and the user's line; NaN
with cholesky's on_error="nan"; 0 and (0, -inf) for det and slogdet), never a crash."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

NOT_PD = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def raises_naming(f, args, op, what):
    """f(*args) raises a ValueError saying `what`, naming the op's node and this file."""
    with pytest.raises(ValueError, match=what) as info:
        f(*args)
    text = str(info.value)
    assert op in text and "test_linalg_errors.py" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_cholesky_not_positive_definite(mode):
    x = T.dtensor3("x")
    f = cgraph.function([x], la.cholesky(x), mode=mode)
    batch = np.stack([np.eye(2), NOT_PD])
    raises_naming(f, [batch], "Cholesky", "not positive definite")
    g = cgraph.function([x], la.cholesky(x, on_error="nan"), mode=mode)
    out = g(batch)
    np.testing.assert_array_equal(out[0], np.eye(2))  # the good matrix is still factored
    assert np.isnan(out[1]).all()


@pytest.mark.parametrize("mode", MODES)
def test_singular_solves_and_inverse(mode):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    rhs = np.ones((2, 1))
    raises_naming(cgraph.function([a, b], la.solve(a, b), mode=mode), [SINGULAR, rhs],
                  "Solve", "singular")
    raises_naming(cgraph.function([a, b], la.solve(a, b, assume_a="sym"), mode=mode),
                  [np.zeros((2, 2)), rhs], "Solve", "singular")
    raises_naming(cgraph.function([a, b], la.solve(a, b, assume_a="pos"), mode=mode),
                  [NOT_PD, rhs], "Solve", "not positive definite")
    raises_naming(cgraph.function([a, b], la.solve_triangular(a, b, lower=True), mode=mode),
                  [np.array([[1.0, 0.0], [3.0, 0.0]]), rhs], "SolveTriangular", "singular")
    raises_naming(cgraph.function([a], la.inv(a), mode=mode), [SINGULAR], "MatrixInverse",
                  "ingular")
    # a zero on the diagonal is no failure when the diagonal is taken as ones
    f = cgraph.function([a, b], la.solve_triangular(a, b, lower=True, unit_diagonal=True),
                        mode=mode)
    np.testing.assert_allclose(f(np.array([[0.0, 0.0], [3.0, 0.0]]), rhs), [[1.0], [-2.0]])


@pytest.mark.parametrize("mode", MODES)
def test_singular_determinants(mode):
    a = T.dtensor3("a")
    sign, logdet = la.slogdet(a)
    f = cgraph.function([a], [la.det(a), sign, logdet], mode=mode)
    d, s, ld = f(np.stack([SINGULAR, np.zeros((2, 2)), np.diag([-2.0, 3.0])]))
    np.testing.assert_array_equal(d, [0.0, 0.0, -6.0])
    np.testing.assert_array_equal(s, [0.0, 0.0, -1.0])
    np.testing.assert_allclose(ld, [-np.inf, -np.inf, np.log(6.0)])


@pytest.mark.parametrize("mode", MODES)
def test_shapes_checked_when_called(mode):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = cgraph.function([a], la.cholesky(a), mode=mode)
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)") as info:
        f(np.ones((2, 3)))
    assert "Cholesky" in str(info.value)
    g = cgraph.function([a, b], la.solve(a, b), mode=mode)
    with pytest.raises(ValueError, match="3 rows for a 2 x 2 matrix") as info:
        g(np.eye(2), np.ones((3, 1)))
    assert "Solve" in str(info.value)


def test_batch_shapes_must_broadcast():
    a = T.dtensor3("a")
    b = T.dtensor3("b")
    for mode in MODES:
        f = cgraph.function([a, b], la.solve(a, b), mode=mode)
        with pytest.raises(ValueError, match="broadcast"):
            f(np.stack([np.eye(2)] * 2), np.ones((3, 2, 1)))


def test_bad_types_at_build_time():
    with pytest.raises(TypeError, match=r"cholesky: input 0 must be float32 or float64.*int"):
        la.cholesky(T.imatrix())
    with pytest.raises(TypeError, match=r"det: input 0 must be a matrix"):
        la.det(T.dvector())
    with pytest.raises(TypeError, match=r"solve: input 1 must be a matrix"):
        la.solve(T.dmatrix(), T.dscalar())
    with pytest.raises(ValueError, match="square"):
        la.inv(T.TensorType("float64", (2, 3)).make_variable())
    with pytest.raises(ValueError, match="3 rows for a 2 x 2 matrix"):
        la.solve(T.TensorType("float64", (2, 2)).make_variable(),
                 T.TensorType("float64", (3,)).make_variable())
    with pytest.raises(ValueError, match="on_error"):
        la.cholesky(T.dmatrix(), on_error="ignore")
    with pytest.raises(ValueError, match="assume_a"):
        la.solve(T.dmatrix(), T.dvector(), assume_a="banded")
    with pytest.raises(ValueError, match="trans"):
        la.solve_triangular(T.dmatrix(), T.dvector(), trans=3)
    with pytest.raises(NotImplementedError, match="generalized"):
        la.eigvalsh(T.dmatrix(), T.dmatrix())
