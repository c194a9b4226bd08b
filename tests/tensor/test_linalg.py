"""cgraph.tensor.linalg: each op in modes C and PY against scipy.linalg / numpy.linalg,
matrix by matrix, for batch shapes (), (3,), (2, 3), orders 1, 2, 5, 17, float32 and
float64, strided inputs and empty batches. Gradients: tests/tensor/test_linalg_grad.py;
failures and bad input: tests/tensor/test_linalg_errors.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sl
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

ORDERS = (1, 2, 5, 17)
BATCHES = ((), (3,), (2, 3))
TOL = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-10)}


def spd(rng, batch, n, dtype):
    """Well-conditioned symmetric positive-definite matrices: A A^T + n I."""
    a = rng.normal(size=(*batch, n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def general(rng, batch, n, dtype):
    """Well-conditioned general matrices (random plus n I)."""
    return (rng.normal(size=(*batch, n, n)) + n * np.eye(n)).astype(dtype)


def strided(x):
    """The same values as a non-contiguous view (every other column of a wider array)."""
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def per_matrix(fn, *arrays):
    """fn applied to each matrix of the (broadcast) batch, stacked."""
    nb = arrays[0].ndim - 2
    batch = np.broadcast_shapes(*(a.shape[:nb] for a in arrays))
    arrays = [np.broadcast_to(a, batch + a.shape[nb:]) for a in arrays]
    outs = [fn(*(a[idx] for a in arrays)) for idx in itertools.product(*map(range, batch))]
    if not batch:
        return outs[0]
    if isinstance(outs[0], tuple):
        return tuple(np.array([o[i] for o in outs]).reshape(batch + np.shape(outs[0][i]))
                     for i in range(len(outs[0])))
    return np.array(outs).reshape(batch + np.shape(outs[0]))


def run_batches(mode, dtype, *specs):
    """One function over inputs of each batch rank for every spec (build, Inputs,
    reference[, compare]): one compiled module for all of them; every order and a strided
    input."""
    rng = rng_for("batches", mode, dtype, len(specs))
    xs, outs, checks = [], [], []
    for k, (build, make, reference, *compare) in enumerate(specs):
        compare = compare[0] if compare else (
            lambda got, want: np.testing.assert_allclose(got, want, **TOL[dtype]))
        for batch in BATCHES:
            args = make.variables(len(batch), dtype)
            xs.extend(args)
            out = build(*args)
            outs.extend(out if isinstance(out, (list, tuple)) else [out])
            checks.append((make, batch, reference, compare, f"spec {k}, batch {batch}"))
    f = cgraph.function(xs, outs, mode=mode)
    for n in ORDERS:
        values = [make.values(rng, batch, n, dtype) for make, batch, *_ in checks]
        for view in (False, True):
            got = iter(f(*[strided(v) if view else v for vs in values for v in vs]))
            for (_, _, reference, compare, label), vs in zip(checks, values):
                want = per_matrix(reference, *vs)
                for w in (want if isinstance(want, tuple) else (want,)):
                    g = next(got)
                    where = f"{label}, order {n}, strided {view}"
                    assert g.dtype == dtype, where
                    try:
                        compare(g, np.asarray(w))
                    except AssertionError as e:
                        raise AssertionError(f"{where}: {e}") from None
            assert next(got, None) is None


class Inputs:
    """Symbolic inputs and their values for one op: `kinds` per input ("spd", "gen",
    "tri_l", "tri_u", "rhs" a matrix of 2 columns, "vec" a vector)."""

    def __init__(self, *kinds):
        self.kinds = kinds
        self.count = len(kinds)

    def variables(self, nb, dtype):
        out = []
        for kind in self.kinds:
            rank = nb + (1 if kind == "vec" else 2)
            out.append(T.TensorType(dtype, (None,) * rank).make_variable(kind))
        return out

    def values(self, rng, batch, n, dtype):
        out = []
        for kind in self.kinds:
            if kind == "spd":
                out.append(spd(rng, batch, n, dtype))
            elif kind == "gen":
                out.append(general(rng, batch, n, dtype))
            elif kind in ("tri_l", "tri_u"):
                m = general(rng, batch, n, dtype)
                out.append(m)  # the op reads one triangle only
            elif kind == "rhs":
                out.append(rng.normal(size=(*batch, n, 2)).astype(dtype))
            else:
                out.append(rng.normal(size=(*batch, n)).astype(dtype))
        return out


DTYPES = ("float64", "float32")


def b_ndim(rhs):
    """The core rank of the right-hand side (PyTensor's b_ndim: a stack of vectors must
    say so, else it is a matrix)."""
    return 1 if rhs == "vec" else 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_cholesky(mode, dtype):
    run_batches(mode, dtype, *[(lambda a, lower=lower: la.cholesky(a, lower=lower),
                                Inputs("spd"), lambda a, lower=lower: sl.cholesky(a, lower=lower))
                               for lower in (True, False)])


def _solve_spec(assume_a, lower, rhs):
    kind = "gen" if assume_a == "gen" else "spd"

    def ref(a, b):
        if assume_a != "gen":  # scipy reads the same triangle
            a = np.tril(a) if lower else np.triu(a)
        return sl.solve(a, b, assume_a=assume_a, lower=lower)

    def build(a, b):
        if assume_a != "gen":
            a = la.tri.tri(a, lower)  # the other triangle zero: what LAPACK must ignore
        return la.solve(a, b, assume_a=assume_a, lower=lower, b_ndim=b_ndim(rhs))

    return build, Inputs(kind, rhs), ref


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_solve(mode, dtype):
    run_batches(mode, dtype, *[_solve_spec(*case) for case in [
        ("gen", False, "rhs"), ("gen", False, "vec"), ("sym", True, "rhs"),
        ("sym", False, "vec"), ("pos", True, "vec"), ("pos", False, "rhs")]])


def _solve_triangular_spec(lower, trans, unit, rhs):
    return (lambda a, b: la.solve_triangular(a, b, lower=lower, trans=trans,
                                             unit_diagonal=unit, b_ndim=b_ndim(rhs)),
            Inputs("tri_l" if lower else "tri_u", rhs),
            lambda a, b: sl.solve_triangular(a, b, lower=lower, trans=trans,
                                             unit_diagonal=unit))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_solve_triangular(mode, dtype):
    run_batches(mode, dtype, *[_solve_triangular_spec(*case) for case in [
        (True, 0, False, "rhs"), (False, 1, False, "vec"), (True, "T", True, "vec"),
        (False, 2, True, "rhs")]])


def _cho_solve_spec(lower, rhs):
    def build(a, b):
        return la.cho_solve((la.cholesky(a, lower=lower), lower), b, b_ndim=b_ndim(rhs))

    return (build, Inputs("spd", rhs),
            lambda a, b: sl.cho_solve((sl.cholesky(a, lower=lower), lower), b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_cho_solve(mode, dtype):
    run_batches(mode, dtype, _cho_solve_spec(True, "rhs"), _cho_solve_spec(False, "vec"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_inv_det_slogdet(mode, dtype):
    def build(a):
        sign, logdet = la.slogdet(a)
        return [la.inv(a), la.det(a), sign, logdet, la.matrix_inverse(a)]

    def ref(a):
        sign, logdet = np.linalg.slogdet(a.astype(np.float64))
        return sl.inv(a), sl.det(a), sign, logdet, sl.inv(a)

    tol = TOL[dtype]

    def compare(got, want):  # det of order 17 is large: relative
        np.testing.assert_allclose(got, want, rtol=tol["rtol"] * 10, atol=tol["atol"])

    run_batches(mode, dtype, (build, Inputs("gen"), ref, compare))


def _sign_fixed(v):
    """Eigenvectors (columns) with the sign making each column's largest entry positive."""
    idx = np.argmax(np.abs(v), axis=-2)
    signs = np.sign(np.take_along_axis(v, idx[..., None, :], axis=-2))
    return v * signs


def _eigh_spec(uplo, dtype):
    def build(a):
        w, v = la.eigh(a, uplo)
        return [w, v, la.eigvalsh(a, UPLO=uplo)]

    def ref(a):
        w, v = sl.eigh(a, lower=uplo == "L")
        return w, v, w

    tol = TOL[dtype]

    def compare(got, want):
        if got.ndim == want.ndim and got.shape[-2:] == want.shape[-2:] and got.ndim >= 2 \
                and got.shape[-1] == got.shape[-2] and got.shape[-1] > 0:
            got, want = _sign_fixed(got), _sign_fixed(want)
        np.testing.assert_allclose(got, want, rtol=tol["rtol"] * 100, atol=tol["atol"] * 100)

    return build, Inputs("spd"), ref, compare


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_eigh(mode, dtype):
    run_batches(mode, dtype, _eigh_spec("L", dtype), _eigh_spec("U", dtype))


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_and_broadcast(mode):
    a = T.dtensor3("a")
    b = T.dmatrix("b")  # one right-hand side matrix shared by every matrix of a's batch
    f = cgraph.function([a, b], [la.cholesky(a), la.solve(a, b), la.det(a)], mode=mode)
    l0, x0, d0 = f(np.zeros((0, 4, 4)), np.ones((4, 2)))
    assert l0.shape == (0, 4, 4) and x0.shape == (0, 4, 2) and d0.shape == (0,)
    rng = rng_for("broadcast", mode)
    av, bv = spd(rng, (3,), 4, "float64"), rng.normal(size=(4, 2))
    _, x, d = f(av, bv)
    np.testing.assert_allclose(x, np.linalg.solve(av, bv), rtol=1e-10)
    np.testing.assert_allclose(d, np.linalg.det(av), rtol=1e-10)
    # the order 0: det 1 (numpy's empty product)
    _, x, d = f(np.zeros((2, 0, 0)), np.zeros((0, 2)))
    assert x.shape == (2, 0, 2) and list(d) == [1.0, 1.0]


def test_theano_paths_and_types():
    from cgraph.tensor import nlinalg, slinalg

    assert slinalg.cholesky is la.cholesky and nlinalg.matrix_inverse is la.matrix_inverse
    assert T.linalg is la
    x = T.fmatrix()
    y = T.dmatrix()
    assert la.solve(x, y).dtype == "float64"  # upcast as PyTensor
    assert la.det(x).ndim == 0 and la.eigh(T.ftensor3())[0].ndim == 2
