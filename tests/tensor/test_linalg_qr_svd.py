"""cgraph.tensor.linalg.qr and svd against numpy.linalg in modes C and PY: every mode,
tall, wide, square and empty matrices, batches, float32/float64, strided inputs; the
gradients against central differences (verify_grad)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.tensor import linalg as la

SHAPES = ((5, 3), (3, 5), (4, 4), (1, 1), (3, 0), (0, 3), (2, 5, 3), (2, 3, 2, 4),
          (0, 2, 2))
TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-10, atol=1e-11)}


def strided(x):
    wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


def run(build, reference, dtype, mode, shapes=SHAPES):
    for shape in shapes:
        x = T.TensorType(dtype, (None,) * len(shape))("x")
        out = build(x)
        out = list(out) if isinstance(out, tuple) else [out]
        f = cgraph.function([x], out, mode=mode)
        a = rng_for("qrsvd", shape, dtype).normal(size=shape).astype(dtype)
        want = reference(a)
        want = list(want) if isinstance(want, tuple) else [want]
        for value in (a, strided(a)):
            got = f(value)
            for g, w in zip(got, want):
                assert g.dtype == dtype and g.shape == w.shape, (shape, g.shape, w.shape)
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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 3)])
@pytest.mark.parametrize("qr_mode", ["reduced", "r"])
def test_qr_grad(mode, shape, qr_mode):
    rng = rng_for("qr-grad", shape, qr_mode)
    a = rng.normal(size=shape)
    ref = np.linalg.qr(a, qr_mode)
    ref = [ref] if qr_mode == "r" else list(ref)
    cost = projection([rng.normal(size=r.shape) for r in ref])
    verify_grad(lambda x: cost(la.qr(x, qr_mode)), [a], rng=np.random.default_rng(1),
                mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 3)])
@pytest.mark.parametrize("uv", [True, False])
def test_svd_grad(mode, shape, uv):
    rng = rng_for("svd-grad", shape, uv)
    a = rng.normal(size=shape)
    if uv:  # singular vectors move continuously (no sign flip) near a point
        ref = np.linalg.svd(a, full_matrices=False)
        cost = projection([rng.normal(size=r.shape) for r in ref])

        def fn(x):
            return cost(la.svd(x, full_matrices=False))
    else:
        def fn(x):
            return la.svd(x, compute_uv=False)
    verify_grad(fn, [a], rng=np.random.default_rng(1), mode=mode)


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
