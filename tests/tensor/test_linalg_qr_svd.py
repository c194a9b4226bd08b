"""cgraph.tensor.linalg.qr and svd against numpy.linalg in modes C and PY: every mode,
tall, wide, square and empty matrices, batches, float32/float64, strided inputs; the
gradients against central differences (verify_grad)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import linalg as la

SHAPES = ((5, 3), (3, 5), (4, 4), (1, 1), (3, 0), (0, 3), (2, 5, 3), (2, 3, 2, 4),
          (0, 2, 2))
TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-10, atol=1e-11)}


def strided(x):
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def _listed(out):
    return list(out) if isinstance(out, tuple) else [out]


def run(build, reference, dtype, mode, shapes=SHAPES):
    """build(x) against reference(a) on every shape, plain and strided: one function with
    an input per number of dimensions (one compiled module), called once per round of
    shapes (a shape per number of dimensions)."""
    by_ndim = {}
    for shape in shapes:
        by_ndim.setdefault(len(shape), []).append(shape)
    xs = [T.TensorType(dtype, (None,) * n)(f"x{n}") for n in by_ndim]
    outs = [_listed(build(x)) for x in xs]
    f = cgraph.function(xs, [o for out in outs for o in out], mode=mode)
    for k in range(max(map(len, by_ndim.values()))):
        round_ = [group[k % len(group)] for group in by_ndim.values()]
        values = [rng_for("qrsvd", shape, dtype).normal(size=shape).astype(dtype)
                  for shape in round_]
        wants = [w for a in values for w in _listed(reference(a))]
        for layout in (lambda a: a, strided):
            got = f(*map(layout, values))
            assert len(got) == len(wants)
            for g, w in zip(got, wants):
                assert g.dtype == dtype and g.shape == w.shape, (round_, g.shape, w.shape)
                np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("qr_mode", ["reduced", "complete", "r", "raw"])
def test_qr(mode, dtype, qr_mode):
    run(lambda x: la.qr(x, qr_mode), lambda a: tuple(np.linalg.qr(a, qr_mode))
        if qr_mode != "r" else np.linalg.qr(a, "r"), dtype, mode)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("full,uv", [(True, True), (False, True), (False, False)])
def test_svd(mode, dtype, full, uv):
    def reference(a):
        out = np.linalg.svd(a, full_matrices=full, compute_uv=uv)
        return tuple(out) if uv else out
    run(lambda x: la.svd(x, full, uv), reference, dtype, mode)


def test_svd_reconstructs_and_integer_input_is_refused():
    x = T.dmatrix("x")
    u, s, vh = la.svd(x, full_matrices=False)
    f = cgraph.function([x], (u * s.dimshuffle("x", 0)).dot(vh))
    a = rng_for("svd-rec").normal(size=(6, 4))
    np.testing.assert_allclose(f(a), a, atol=1e-12)
    with pytest.raises(TypeError, match="qr: input 0 must be float32 or float64"):
        la.qr(T.imatrix())
    with pytest.raises(ValueError, match="mode"):
        la.qr(x, "economic")


def projection(weights):
    """A scalar from several outputs: sum of each output times fixed random weights."""
    def cost(outs):
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return sum((o * w).sum() for o, w in zip(outs, weights))
    return cost


GRAD_SHAPES = ((5, 3), (3, 5), (4, 4), (2, 4, 3))


@pytest.mark.parametrize("mode", MODES)
def test_qr_grad(mode):
    cases = {}
    for shape in GRAD_SHAPES:
        for qr_mode in ("reduced", "r"):
            rng = rng_for("qr-grad", shape, qr_mode)
            a = rng.normal(size=shape)
            ref = np.linalg.qr(a, qr_mode)
            ref = [ref] if qr_mode == "r" else list(ref)
            cost = projection([rng.normal(size=r.shape) for r in ref])
            cases[f"{shape} {qr_mode}"] = (
                lambda x, cost=cost, qr_mode=qr_mode: cost(la.qr(x, qr_mode)), [a])
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))  # one compiled module


@pytest.mark.parametrize("mode", MODES)
def test_svd_grad(mode):
    cases = {}
    for shape in GRAD_SHAPES:
        for uv in (True, False):
            rng = rng_for("svd-grad", shape, uv)
            a = rng.normal(size=shape)
            if uv:  # singular vectors move continuously (no sign flip) near a point
                ref = np.linalg.svd(a, full_matrices=False)
                cost = projection([rng.normal(size=r.shape) for r in ref])

                def fn(x, cost=cost):
                    return cost(la.svd(x, full_matrices=False))
            else:
                def fn(x):
                    return la.svd(x, compute_uv=False)
            cases[f"{shape} uv={uv}"] = (fn, [a])
    verify_grad_cases(cases, mode, rng=np.random.default_rng(1))  # one compiled module


def test_no_gradient_where_undefined():
    x = T.dmatrix("x")
    with pytest.raises(NotImplementedError, match="complete"):
        T.grad(la.qr(x, "complete")[0].sum(), x)
    with pytest.raises(NotImplementedError, match="raw"):
        T.grad(la.qr(x, "raw")[0].sum(), x)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        T.grad(la.svd(x)[0].sum(), x)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_of_values_alone_where_they_repeat(mode):
    """svd's s and eigh's w used alone: finite gradients at repeated values (the
    vectors' terms, 0 * inf there, are left out when their gradients are zeros)."""
    x = T.dmatrix("x")
    a = np.diag([2.0, 2.0, 1.0])
    _, s, _ = la.svd(x, full_matrices=False)
    w, _ = la.eigh(x)
    f = cgraph.function([x], [T.grad(s.sum(), x), T.grad(w.sum(), x)], mode=mode)
    gs, gw = f(a)
    np.testing.assert_allclose(gs, np.eye(3), atol=1e-12)  # d sum(s) = U V^T
    np.testing.assert_allclose(gw, np.eye(3), atol=1e-12)  # d trace = I
