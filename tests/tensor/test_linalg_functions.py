"""The linalg functions built from other ops (pinv, lstsq, matrix_power, kron,
block_diag, tensorsolve, tensorinv, norm) against numpy / scipy in modes C and PY, and
their gradients against central differences (verify_grad)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

TOL = dict(rtol=1e-10, atol=1e-11)


def close(got, want):
    np.testing.assert_allclose(got, want, **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_pinv_and_lstsq(mode):
    rng = rng_for("pinv", mode)
    x, y, v = T.dmatrix("x"), T.dmatrix("y"), T.dvector("v")
    xs, res, rank, s = la.lstsq(x, y)
    xv, resv, _, _ = la.lstsq(x, v)
    f = cgraph.function([x, y, v], [la.pinv(x), xs, res, rank, s, xv, resv], mode=mode)
    for shape in ((5, 3), (3, 5), (4, 4)):
        a, b, c = rng.normal(size=shape), rng.normal(size=(shape[0], 2)), \
            rng.normal(size=shape[0])
        p, got_x, got_res, got_rank, got_s, got_xv, got_resv = f(a, b, c)
        close(p, np.linalg.pinv(a))
        want = np.linalg.lstsq(a, b, rcond=None)
        close(got_x, want[0])
        close(got_xv, np.linalg.lstsq(a, c, rcond=None)[0])
        assert got_rank == want[2] and got_rank.dtype == np.int64
        close(got_s, want[3])
        if shape[0] > shape[1]:  # numpy's residuals exist for a full-rank tall a
            close(got_res, want[1])
            close(got_resv, np.linalg.lstsq(a, c, rcond=None)[1])
        else:
            close(got_res, np.zeros(2))
    # a rank-deficient matrix: the cutoff zeroes the tiny singular value
    a = np.outer(rng.normal(size=4), rng.normal(size=3))
    p, got_x, _, got_rank, *_ = f(a, rng.normal(size=(4, 2)), rng.normal(size=4))
    close(p, np.linalg.pinv(a))
    assert got_rank == 1


def test_pinv_batched_and_float32():
    x = T.ftensor3("x")
    f = cgraph.function([x], la.pinv(x))
    a = rng_for("pinv32").normal(size=(3, 4, 2)).astype("float32")
    got = f(a)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.linalg.pinv(a), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_matrix_power(mode):
    x, i = T.dtensor3("x"), T.imatrix("i")
    powers = (0, 1, 2, 3, 6, -1, -3)
    f = cgraph.function([x, i], [la.matrix_power(x, n) for n in powers] +
                        [la.matrix_power(i, 3), la.matrix_power(i, 0)], mode=mode)
    a = rng_for("mpow").normal(size=(2, 4, 4)) + 2 * np.eye(4)
    b = np.arange(9, dtype=np.int32).reshape(3, 3)
    got = f(a, b)
    for g, n in zip(got, powers):
        np.testing.assert_allclose(g, np.linalg.matrix_power(a, n), rtol=1e-9)
    np.testing.assert_array_equal(got[-2], np.linalg.matrix_power(b, 3))
    assert got[-2].dtype == np.int32 and got[-1].dtype == np.int32
    np.testing.assert_array_equal(got[-1], np.eye(3))
    with pytest.raises(TypeError, match="integer"):
        la.matrix_power(x, 1.5)
    g = cgraph.function([i], la.matrix_power(i, -1), mode=mode)
    c = np.array([[2, 1], [1, 1]], np.int32)
    np.testing.assert_allclose(g(c), np.linalg.matrix_power(c, -1))
    assert g(c).dtype == np.float64


@pytest.mark.parametrize("mode", MODES)
def test_kron_and_block_diag(mode):
    rng = rng_for("kron", mode)
    x, y, v, s = T.dmatrix("x"), T.dmatrix("y"), T.dvector("v"), T.dscalar("s")
    t3, i = T.dtensor3("t3"), T.imatrix("i")
    f = cgraph.function([x, y, v, s, t3, i],
                        [la.kron(x, y), la.kron(x, v), la.kron(v, v), la.kron(t3, x),
                         la.kron(i, x), la.block_diag(x, y, v, s), la.block_diag(x),
                         la.block_diag(i, x)], mode=mode)
    a, b, c = rng.normal(size=(2, 3)), rng.normal(size=(4, 1)), rng.normal(size=3)
    d, e = rng.normal(size=(2, 2, 3)), np.arange(4, dtype=np.int32).reshape(2, 2)
    got = f(a, b, c, 1.5, d, e)
    want = [np.kron(a, b), np.kron(a, c), np.kron(c, c), np.kron(d, a), np.kron(e, a),
            sl.block_diag(a, b, c, 1.5), sl.block_diag(a), sl.block_diag(e, a)]
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        close(g, w)
    with pytest.raises(ValueError, match="at most 2"):
        la.block_diag(x, t3)


@pytest.mark.parametrize("mode", MODES)
def test_tensorsolve_and_tensorinv(mode):
    rng = rng_for("tensorsolve", mode)
    a4, b2, a3, c2 = T.dtensor4("a4"), T.dmatrix("b2"), T.dtensor3("a3"), T.dmatrix("c2")
    f = cgraph.function([a4, b2, a3, c2], [la.tensorsolve(a4, b2), la.tensorinv(a4),
                                           la.tensorinv(a3, ind=1),
                                           la.tensorsolve(a4, c2, axes=(1,))], mode=mode)
    a = rng.normal(size=(2, 3, 3, 2)) + 0.0
    b = rng.normal(size=(2, 3))
    c = rng.normal(size=(6, 2, 3))
    b3 = rng.normal(size=(2, 3))
    got = f(a, b, c, b3)
    close(got[0], np.linalg.tensorsolve(a, b))
    close(got[1], np.linalg.tensorinv(a))
    close(got[2], np.linalg.tensorinv(c, ind=1))
    close(got[3], np.linalg.tensorsolve(a, b3, axes=(1,)))
    with pytest.raises(np.linalg.LinAlgError):
        f(np.zeros_like(a), b, c, b3)


NORMS = [(None, None), (None, 1), (2, 0), (np.inf, 2), (-np.inf, 1), (0, 1), (1, 0),
         (3.5, 2), (-1.5, 0), ("fro", (0, 1)), ("nuc", (1, 2)), (np.inf, (2, 0)),
         (-np.inf, (0, 1)), (1, (1, 2)), (-1, (2, 1)), (2, (0, 2)), (-2, (1, 2)),
         (None, (-1, -2)), (3, (1,)), (None, (0,))]


@pytest.mark.parametrize("mode", MODES)
def test_norm(mode):
    x, m, v, i = T.dtensor3("x"), T.dmatrix("m"), T.dvector("v"), T.ivector("i")
    outs, refs = [], []
    a = rng_for("norm").normal(size=(2, 3, 4))
    for ordv, axis in NORMS:
        for keep in (False, True):
            outs.append(la.norm(x, ordv, axis, keep))
            refs.append(np.linalg.norm(a, ordv, axis, keep))
    b, c, d = a[0], a[1, 0], np.array([3, -4, 0], np.int32)
    for ordv in (None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2):
        outs.append(la.norm(m, ordv))
        refs.append(np.linalg.norm(b, ordv))
    for ordv in (None, 2, np.inf, -np.inf, 0, 1, 3):
        outs += [la.norm(v, ordv), la.norm(i, ordv)]
        refs += [np.linalg.norm(c, ordv), np.linalg.norm(d, ordv)]
    f = cgraph.function([x, m, v, i], outs, mode=mode)
    for k, (g, w) in enumerate(zip(f(a, b, c, d), refs)):
        assert g.shape == np.shape(w) and g.dtype == np.float64, k
        close(g, w)


def test_norm_bad_orders():
    with pytest.raises(ValueError, match="for vectors"):
        la.norm(T.dvector(), "fro")
    with pytest.raises(ValueError, match="for matrices"):
        la.norm(T.dmatrix(), 3)
    with pytest.raises(ValueError, match="needs a vector or a matrix"):
        la.norm(T.dtensor3(), 2)


def check(cases, mode):
    """verify_grad of each case (label -> (fn, points)), one compiled module in mode C."""
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))


@pytest.mark.parametrize("mode", MODES)
def test_gradients(mode):
    rng = rng_for("fn-grad", mode)
    a = rng.normal(size=(4, 3))
    sq = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    cases = {
        "pinv": (la.pinv, [a]),
        "lstsq": (lambda x, y: la.lstsq(x, y)[0], [a, rng.normal(size=(4, 2))]),
        "matrix_power 3": (lambda x: la.matrix_power(x, 3), [sq]),
        "matrix_power -2": (lambda x: la.matrix_power(x, -2), [sq]),
        "kron": (la.kron, [a, rng.normal(size=(2, 2))]),
        "block_diag": (lambda x, y: la.block_diag(x, y), [a, sq]),
        "tensorinv": (la.tensorinv, [rng.normal(size=(2, 3, 6)) + 0]),
        "tensorsolve": (la.tensorsolve, [rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 3))]),
    }
    for ordv, axis in [(None, None), (1, 0), (np.inf, 1), (3, 1), ("fro", None),
                       ("nuc", None), (2, None), (-2, None), (1, None), (np.inf, None)]:
        cases[f"norm {ordv} {axis}"] = (lambda x, o=ordv, ax=axis: la.norm(x, o, ax), [a])
    check(cases, mode)


@pytest.mark.parametrize("mode", MODES)
def test_pinv_edges_and_gradient_at_repeated_singular_values(mode):
    x = T.dmatrix("x")
    f = cgraph.function([x], la.pinv(x), mode=mode)
    assert f(np.zeros((3, 0))).shape == (0, 3)
    assert la.pinv(x, True).owner.op.rcond == 1e-15  # PyTensor's pinv(x, hermitian)
    np.testing.assert_array_equal(f(np.zeros((2, 3))), np.zeros((3, 2)))  # rank 0
    with pytest.raises(np.linalg.LinAlgError, match="did not converge"):
        f(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    q = np.linalg.qr(rng_for("orth").normal(size=(4, 4)))[0]
    cases = {}
    for k, a in enumerate((np.eye(3), q, np.diag([2.0, 2.0, 1.0])[:, :2])):  # repeated values
        cases[f"pinv {k}"] = (la.pinv, [a])
        cases[f"lstsq {k}"] = (lambda x, n=a.shape[0]: la.lstsq(x, np.ones((n, 2)))[0], [a])
    check(cases, mode)
    # a rank-deficient matrix keeps its rank under small changes along itself: the
    # gradient along the matrix's own row and column spaces
    g = cgraph.function([x], T.grad((la.pinv(x) * np.arange(6.0).reshape(3, 2)).sum(), x),
                        mode=mode)
    low_rank = np.outer([1.0, 2.0], [1.0, 0.5, -1.0])
    assert np.isfinite(g(low_rank)).all()
