"""cgraph.tensor.linalg.lu, lu_factor and lu_solve against scipy.linalg in modes C and PY
(batches, square, tall, wide and empty matrices, float32/float64, strided inputs,
singular matrices), and their gradients against central differences (verify_grad)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sl
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

# scipy warns of the singular matrices these tests factor on purpose
pytestmark = pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
TOL = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-10, atol=1e-11)}
SHAPES = ((4, 4), (1, 1), (0, 0), (3, 5, 5), (2, 2, 3, 3), (0, 2, 2), (5, 3), (3, 5),
          (2, 4, 2), (3, 0), (0, 3))


def strided(x):
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def per_matrix(fn, a):
    outs = [fn(a[idx]) for idx in itertools.product(*map(range, a.shape[:-2]))]
    if not a.shape[:-2]:
        return outs[0]
    if not outs:
        return None
    return tuple(np.array([o[i] for o in outs]).reshape(a.shape[:-2] + np.shape(outs[0][i]))
                 for i in range(len(outs[0])))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["plain", "permute_l", "p_indices", "factor"])
def test_lu_against_scipy(mode, dtype, kind):
    """Every shape, plain and strided: one function with an input per number of
    dimensions (one compiled module), called once per round of shapes."""
    if kind == "factor":
        build, ref = la.lu_factor, sl.lu_factor
    else:
        opts = {"permute_l": kind == "permute_l", "p_indices": kind == "p_indices"}
        build, ref = (lambda x: la.lu(x, **opts)), (lambda m: sl.lu(m, **opts))
    by_ndim = {}
    for shape in SHAPES:
        if shape == (3, 0) and kind != "factor":
            continue  # scipy gives P (0, 0) there; cgraph the identity (3, 3): below
        by_ndim.setdefault(len(shape), []).append(shape)
    xs = [T.TensorType(dtype, (None,) * n)(f"x{n}") for n in by_ndim]
    outs = [list(build(x)) for x in xs]
    f = cgraph.function(xs, [o for out in outs for o in out], mode=mode)
    for k in range(max(map(len, by_ndim.values()))):
        round_ = [group[k % len(group)] for group in by_ndim.values()]
        values = []
        for shape in round_:
            a = rng_for("lu", shape, dtype).normal(size=shape).astype(dtype)
            if shape[-2] > 1:
                a[..., 1, :] = a[..., 0, :]  # singular: a zero pivot is factored, no error
            values.append(a)
        wants = [per_matrix(ref, a) for a in values]
        for layout in (lambda a: a, strided):
            got = f(*map(layout, values))
            start = 0
            for shape, out, want in zip(round_, outs, wants):
                part, start = got[start:start + len(out)], start + len(out)
                if want is None:
                    assert all(0 in g.shape for g in part), shape
                    continue
                for g, w in zip(part, want):
                    assert g.shape == w.shape, (shape, g.shape, w.shape)
                    assert g.dtype == (w.dtype if w.dtype.kind == "f" else np.int32)
                    np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=str(shape))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("trans", [0, 1])
def test_lu_solve_against_scipy(mode, dtype, trans):
    rng = rng_for("lu_solve", dtype, trans)
    lu_, piv = T.TensorType(dtype, (None,) * 3)("lu"), T.imatrix("piv")
    b, v = T.TensorType(dtype, (None,) * 3)("b"), T.TensorType(dtype, (None,) * 2)("v")
    f = cgraph.function([lu_, piv, b, v], [la.lu_solve((lu_, piv), b, trans),
                                           la.lu_solve((lu_, piv), v, trans, b_ndim=1)],
                        mode=mode)
    for n in (1, 4, 0):
        a = (rng.normal(size=(3, n, n)) + n * np.eye(n)).astype(dtype)
        factors = [sl.lu_factor(m) for m in a] if n else [(np.zeros((0, 0)), np.zeros(0))] * 3
        lus = np.array([lu for lu, _ in factors], dtype).reshape(3, n, n)
        pivs = np.array([p for _, p in factors], np.int32).reshape(3, n)
        bs, vs = rng.normal(size=(3, n, 2)).astype(dtype), rng.normal(size=(3, n)).astype(dtype)
        got_b, got_v = f(strided(lus), pivs, bs, vs)
        for i in range(3 if n else 0):
            np.testing.assert_allclose(got_b[i], sl.lu_solve(factors[i], bs[i], trans),
                                       **TOL[dtype])
            np.testing.assert_allclose(got_v[i], sl.lu_solve(factors[i], vs[i], trans),
                                       **TOL[dtype])
        assert got_b.shape == (3, n, 2) and got_v.shape == (3, n)


def test_lu_of_a_matrix_without_columns():
    """A (3, 0) matrix: P the identity (A = P L U holds; scipy returns P of shape (0, 0)),
    L (3, 0), U (0, 0)."""
    x = T.dmatrix("x")
    for mode in MODES:
        p, low, up = cgraph.function([x], list(la.lu(x)), mode=mode)(np.zeros((3, 0)))
        np.testing.assert_array_equal(p, np.eye(3))
        assert low.shape == (3, 0) and up.shape == (0, 0)


def test_lu_gradient_of_a_rectangular_matrix_is_refused():
    x = T.TensorType("float64", (3, 2))("x")
    with pytest.raises(NotImplementedError, match="square"):
        T.grad(la.lu(x)[1].sum(), x)
    with pytest.raises(NotImplementedError, match="square"):
        T.grad(la.lu_factor(x)[0].sum(), x)


@pytest.mark.parametrize("mode", MODES)
def test_lu_solve_bad_pivots_and_types(mode):
    lu_, piv, b = T.dmatrix("lu"), T.ivector("piv"), T.dvector("b")
    f = cgraph.function([lu_, piv, b], la.lu_solve((lu_, piv), b), mode=mode)
    with pytest.raises(ValueError, match="outside") as info:
        f(np.eye(2), np.array([0, 2], np.int32), np.ones(2))
    assert "LUSolve" in str(info.value)
    assert la.lu_solve((lu_, piv), b, True).owner.op.trans == 1  # PyTensor's bool
    assert la.lu_solve((lu_, piv), b, "N").owner.op.trans == 0
    with pytest.raises(ValueError, match="trans"):
        la.lu_solve((lu_, piv), b, 3)
    with pytest.raises(TypeError, match="pivots must be an integer"):
        la.lu_solve((lu_, b), b)
    with pytest.raises(ValueError, match="3 rows"):
        la.lu_solve((T.TensorType("float64", (2, 2))("a"), piv),
                    T.TensorType("float64", (3,))("c"))


@pytest.mark.parametrize("mode", MODES)
def test_lu_solve_singular_gives_inf_or_nan(mode):
    lu_, piv, b = T.dmatrix("lu"), T.ivector("piv"), T.dvector("b")
    f = cgraph.function([lu_, piv, b], la.lu_solve((lu_, piv), b), mode=mode)
    factors = sl.lu_factor(np.array([[1.0, 2.0], [2.0, 4.0]]))
    got = f(factors[0], factors[1], np.ones(2))
    assert not np.all(np.isfinite(got))


def weights(rng, outs):
    return [rng.normal(size=o.shape) for o in outs]


@pytest.mark.parametrize("mode", MODES)
def test_lu_grad(mode):
    cases = {}
    for batch in ((), (2,)):
        for kind in ("plain", "permute_l", "factor"):
            rng = rng_for("lu-grad", batch, kind)
            a = rng.normal(size=(*batch, 4, 4))
            if kind == "factor":
                fn, ref = la.lu_factor, per_matrix(sl.lu_factor, a)
            else:
                fn = lambda x, k=kind: la.lu(x, permute_l=k == "permute_l")  # noqa: E731
                ref = per_matrix(lambda m, k=kind: sl.lu(m, permute_l=k == "permute_l"), a)
            w = weights(rng, ref)

            def cost(x, fn=fn, w=w):
                outs = fn(x)
                return sum((o * wi).sum() for o, wi in zip(outs, w) if o.dtype == "float64")
            cases[f"{batch} {kind}"] = (cost, [a])
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))  # one compiled module


@pytest.mark.parametrize("mode", MODES)
def test_lu_solve_grad(mode):
    cases = {}
    for trans in (0, 1):
        for vector in (False, True):
            rng = rng_for("lu-solve-grad", trans, vector)
            a = rng.normal(size=(2, 4, 4)) + 4 * np.eye(4)
            factors = [sl.lu_factor(m) for m in a]
            lus = np.array([f[0] for f in factors])
            pivs = np.array([f[1] for f in factors], np.int32)
            b = rng.normal(size=(2, 4) if vector else (2, 4, 3))
            piv = cgraph.shared(pivs)
            nd = 1 if vector else 2
            cases[f"trans={trans} vector={vector}"] = (
                lambda lu_, rhs, piv=piv, trans=trans, nd=nd:
                la.lu_solve((lu_, piv), rhs, trans, b_ndim=nd), [lus, b])
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))  # one compiled module
