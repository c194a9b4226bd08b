"""cgraph.tensor.linalg.eig against numpy.linalg.eig in modes C and PY, float32 and
float64, batched, orders 0, 1, 2, 5: the eigenvalue sets (matched to numpy's, not
relying on LAPACK's order), A v = v diag(w) in complex arithmetic, unit columns; the
(real, imag) pair layout and as_complex; bad input; the gradient through w against
central differences on matrices with real and with complex-conjugate eigenvalues."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

ORDERS = (0, 1, 2, 5)
BATCHES = ((), (3,), (2, 3))
TOL = {"float32": 2e-4, "float64": 1e-10}


def matched(got, want, tol):
    """Assert that the complex vectors hold the same values up to order (each of `got`
    paired with the nearest unused value of `want`)."""
    left = list(want)
    for z in got:
        k = int(np.argmin([abs(z - u) for u in left]))
        assert abs(z - left[k]) <= tol * max(1.0, abs(left[k])), (got, want)
        left.pop(k)


def check_one(a, w, v, dtype):
    """w (n, 2), v (n, n, 2) of the matrix a against numpy.linalg.eig."""
    n = a.shape[-1]
    assert w.shape == (n, 2) and v.shape == (n, n, 2) and w.dtype == v.dtype == dtype
    wc, vc = la.as_complex(w), la.as_complex(v)
    tol = TOL[dtype] * max(1.0, np.abs(a).max(initial=0))
    matched(wc, np.linalg.eig(a.astype(np.float64))[0], tol * n)
    ac = a.astype(np.complex128)
    np.testing.assert_allclose(ac @ vc, vc * wc[None, :], atol=tol * 10)
    np.testing.assert_allclose(np.linalg.norm(vc, axis=0), 1, atol=TOL[dtype] * 10)
    for j in np.flatnonzero(wc.imag > 0):  # conjugate pairs are adjacent, positive first
        assert wc[j + 1] == np.conj(wc[j]) and np.array_equal(vc[:, j + 1], np.conj(vc[:, j]))


def special(n, dtype):
    """Matrices with known structure: the identity (a repeated eigenvalue), zeros, a
    rotation (purely imaginary pairs), a Jordan block (defective)."""
    rot = np.zeros((n, n))
    for i in range(0, n - 1, 2):
        rot[i:i + 2, i:i + 2] = [[0, -1], [1, 0]]
    jordan = 2 * np.eye(n) + np.eye(n, k=1)
    return np.stack([np.eye(n), np.zeros((n, n)), rot, jordan]).astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_eig_against_numpy(mode, dtype):
    xs = [T.tensor(dtype, shape=(None,) * (len(b) + 2), name=f"x{len(b)}") for b in BATCHES]
    outs = [o for x in xs for o in la.eig(x)]
    f = cgraph.function(xs, outs, mode=mode)
    rng = rng_for("eig", mode, dtype)
    for n in ORDERS:
        values = [rng.normal(size=(*b, n, n)).astype(dtype) for b in BATCHES]
        values[1] = special(n, dtype)[:3]
        for view in (False, True):  # a strided input: every other column of a wider array
            args = values
            if view:
                args = [np.repeat(v, 2, axis=-1)[..., ::2] for v in values]
            got = f(*args)
            for k, a in enumerate(values):
                w, v = got[2 * k], got[2 * k + 1]
                assert w.shape == a.shape[:-1] + (2,) and v.shape == a.shape + (2,)
                count = int(np.prod(a.shape[:-2]))
                for i, m in enumerate(a.reshape(count, n, n)):
                    check_one(m, w.reshape(count, n, 2)[i], v.reshape(count, n, n, 2)[i],
                              dtype)


@pytest.mark.parametrize("mode", MODES)
def test_eig_special_matrices(mode):
    x = T.dtensor3("x")
    f = cgraph.function([x], list(la.eig(x)), mode=mode)
    for n in (1, 2, 5):
        batch = special(n, "float64")
        w, v = f(batch)
        for a, wi, vi in zip(batch, w, v):
            check_one(a, wi, vi, "float64")
        np.testing.assert_array_equal(w[0], np.stack([np.ones(n), np.zeros(n)], -1))
        if n >= 2:  # the rotation's eigenvalues: +-i
            np.testing.assert_allclose(np.sort(la.as_complex(w[2]).imag)[-1], 1, rtol=1e-12)


def test_eig_names_and_types():
    assert T.nlinalg.eig is la.eig and T.nlinalg.as_complex is la.as_complex
    w, v = la.eig(T.tensor("float32", shape=(4, 3, 3)))
    assert (w.dtype, w.type.shape, v.type.shape) == ("float32", (4, 3, 2), (4, 3, 3, 2))


def test_as_complex():
    rng = rng_for("as_complex")
    z = rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    pairs = np.stack([z.real, z.imag], -1)
    c = la.as_complex(pairs)
    assert c.dtype == np.complex128 and np.shares_memory(c, pairs)
    np.testing.assert_array_equal(c, z)
    c32 = la.as_complex(pairs.astype(np.float32))
    assert c32.dtype == np.complex64 and c32.shape == (3, 4)
    np.testing.assert_array_equal(la.as_complex(pairs[:, ::2]), z[:, ::2])  # strided
    np.testing.assert_array_equal(la.as_complex(np.swapaxes(pairs, 0, 1)), z.T)
    with pytest.raises(ValueError, match="length 2"):
        la.as_complex(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="length 2"):
        la.as_complex(np.float64(1.0))
    with pytest.raises(TypeError, match="float32 or float64"):
        la.as_complex(np.zeros((3, 2), dtype=np.int64))


def test_eig_bad_types():
    with pytest.raises(ValueError, match="square"):
        la.eig(T.tensor("float64", shape=(2, 3)))
    with pytest.raises(TypeError, match="matrix"):
        la.eig(T.dvector("v"))
    with pytest.raises(TypeError, match="float32 or float64"):
        la.eig(T.imatrix("i"))
    w, _ = la.eig(T.cast(T.imatrix("i"), "float64"))
    assert w.dtype == "float64"


@pytest.mark.parametrize("mode", MODES)
def test_eig_bad_values(mode):
    x = T.dtensor3("x")
    f = cgraph.function([x], list(la.eig(x)), mode=mode)
    with pytest.raises(ValueError, match="square"):
        f(np.zeros((2, 3, 4)))
    for bad in (np.nan, np.inf):
        a = np.stack([np.eye(3), np.eye(3)])
        a[1, 0, 2] = bad
        with pytest.raises(np.linalg.LinAlgError, match="NaN or infinity") as info:
            f(a)
        text = str(info.value)
        assert "Eig" in text and "test_linalg_eig.py" in text, text


def with_eigenvalues(rng, batch, blocks):
    """S B S^-1 with S well conditioned and B block diagonal: a real eigenvalue r for a
    block (r,), the pair a +- ib for a block (a, b)."""
    n = sum(len(b) for b in blocks)
    core = np.zeros((n, n))
    i = 0
    for b in blocks:
        if len(b) == 1:
            core[i, i] = b[0]
        else:
            core[i:i + 2, i:i + 2] = [[b[0], -b[1]], [b[1], b[0]]]
        i += len(b)
    s = rng.normal(size=(*batch, n, n)) + 3 * np.eye(n)
    return s @ core @ np.linalg.inv(s)


@pytest.mark.parametrize("mode", MODES)
def test_eig_grad_of_eigenvalues(mode):
    cases = {}
    for batch in ((), (2,)):
        rng = rng_for("eig grad", batch)
        real = with_eigenvalues(rng, batch, [(1.0,), (-2.0,), (3.0,), (0.5,)])
        pairs = with_eigenvalues(rng, batch, [(1.0, 2.0), (-1.0,), (0.5, 1.0)])
        cases[f"{batch} real"] = (lambda x: la.eig(x)[0], [real])
        cases[f"{batch} pairs"] = (lambda x: la.eig(x)[0], [pairs])
        cases[f"{batch} real parts"] = (lambda x: la.eig(x)[0][..., 0], [pairs])
    verify_grad_cases(cases, mode, rng=np.random.default_rng(2))


def test_eig_grad_of_eigenvectors_is_not_implemented():
    x = T.dmatrix("x")
    with pytest.raises(NotImplementedError, match="eigenvectors"):
        cgraph.grad(la.eig(x)[1].sum(), x)
    w, v = la.eig(x)
    g = cgraph.grad(w.sum(), x)  # w alone: defined
    np.testing.assert_allclose(cgraph.function([x], g, mode="PY")(np.diag([1.0, 2.0])),
                               np.eye(2))
