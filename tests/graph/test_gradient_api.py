"""The gradient API around `grad`: known_grads, disconnected/null policies, gradient
shaping ops, Lop/Rop, Hessian-vector products, jacobian/hessian (static lengths)."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.gradient import (
    DisconnectedType,
    Lop,
    NullType,
    Rop,
    UndefinedGradientError,
    disconnected_grad,
    grad_clip,
    grad_scale,
    hessian,
    hessian_vector_product,
    jacobian,
    numeric_grad,
    stop_gradient,
    zero_grad,
)
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import upcast

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
X0 = RNG.standard_normal(4) * 0.5


def f_np(x: np.ndarray) -> np.ndarray:
    """The test function R^4 -> R^3 and its numpy Jacobian."""
    return np.exp(A @ x) * np.sum(x * x)


def jacobian_np(x: np.ndarray) -> np.ndarray:
    return np.stack([numeric_grad(lambda v, i=i: float(f_np(v)[i]), [x], 1e-6)[0]
                     for i in range(3)])


def f_sym(x):
    return T.exp(T.dot(A, x)) * T.sum(x * x)


@pytest.mark.slow
def test_known_grads_start_backprop_in_the_middle():
    x = T.dvector("x")
    y = f_sym(x)
    gy = RNG.standard_normal(3)
    g = cgraph.grad(None, x, known_grads={y: gy})
    np.testing.assert_allclose(cgraph.function([x], g)(X0), jacobian_np(X0).T @ gy, rtol=1e-6)
    # With a cost as well, both contributions add up.
    both = cgraph.grad(T.sum(x), x, known_grads={y: gy})
    np.testing.assert_allclose(cgraph.function([x], both)(X0), jacobian_np(X0).T @ gy + 1,
                               rtol=1e-6)


def test_return_disconnected_policies():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(x ** 2)
    zero, none, disc = (cgraph.grad(cost, [x, y], disconnected_inputs="ignore",
                                    return_disconnected=r)[1]
                        for r in ("zero", "none", "disconnected"))
    np.testing.assert_array_equal(cgraph.function([y], zero)(np.ones(2)), np.zeros(2))
    assert none is None and isinstance(disc.type, DisconnectedType)
    with pytest.raises(ValueError, match="does not depend on y"):
        cgraph.grad(cost, y)
    with pytest.raises(ValueError, match="return_disconnected"):
        cgraph.grad(cost, x, return_disconnected="maybe")


def test_undefined_gradient_raises_or_returns_null():
    no_rule = Elemwise(ScalarOp("no_rule", 1, "{0}", lambda a: np.array(a), upcast))
    x = T.dvector("x")
    cost = T.sum(no_rule(x) * 2.0)
    with pytest.raises(UndefinedGradientError, match="no_rule has no gradient"):
        cgraph.grad(cost, x)
    g = cgraph.grad(cost, x, null_gradients="return")
    assert isinstance(g.type, NullType) and "no_rule" in str(g.type)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["C", "PY"])
def test_gradient_shaping_ops(mode):
    x = T.dvector("x")
    v = np.array([-2.0, 0.5, 3.0])
    cases = [
        (T.sum(zero_grad(x) * x), v),                   # d/dx of c*x with c = x held: x
        (T.sum(grad_scale(x, 3.0) ** 2), 6 * v),
        (T.sum(grad_clip(x, -1.0, 1.0) ** 2), np.clip(2 * v, -1, 1)),
        (T.sum(stop_gradient(x) * x), v),
    ]
    for cost, expected in cases:
        f = cgraph.function([x], [cost, cgraph.grad(cost, x)], mode=mode)
        value, g = f(v)
        assert value == pytest.approx(float(np.sum(v * v)))
        np.testing.assert_allclose(g, expected, rtol=1e-15)
    with pytest.raises(ValueError, match="does not depend"):
        cgraph.grad(T.sum(disconnected_grad(x) * 2.0), x)


def test_lop_and_rop_match_the_jacobian():
    x = T.dvector("x")
    y = f_sym(x)
    u, w = T.dvector("u"), T.dvector("w")
    f = cgraph.function([x, u, w], [Lop(y, x, u), Rop(y, x, w)])
    uu, ww = RNG.standard_normal(3), RNG.standard_normal(4)
    lop, rop = f(X0, uu, ww)
    J = jacobian_np(X0)
    np.testing.assert_allclose(lop, J.T @ uu, rtol=1e-6)
    np.testing.assert_allclose(rop, J @ ww, rtol=1e-6)


@pytest.mark.slow
def test_hessian_vector_product_and_static_hessian_and_jacobian():
    x = T.tensor("float64", shape=(4,), name="x")
    cost = T.sum(T.exp(T.dot(A, x))) * T.sum(x * x)
    v = T.dvector("v")
    f = cgraph.function([x, v], [hessian_vector_product(cost, x, v), hessian(cost, x),
                                 jacobian(f_sym(x), x)])
    vv = RNG.standard_normal(4)
    hv, H, J = f(X0, vv)

    def grad_np(p):
        return numeric_grad(lambda q: float(np.sum(np.exp(A @ q)) * np.sum(q * q)), [p], 1e-5)[0]

    H_num = np.stack([(grad_np(X0 + 1e-4 * e) - grad_np(X0 - 1e-4 * e)) / 2e-4
                      for e in np.eye(4)])
    np.testing.assert_allclose(H, H_num, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)
    np.testing.assert_allclose(hv, H @ vv, rtol=1e-10)
    np.testing.assert_allclose(J, jacobian_np(X0), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["C", "PY"])
def test_jacobian_and_hessian_of_run_time_length_use_a_scan(mode):
    x = T.dvector("x")
    A = cgraph.shared(np.arange(12.0).reshape(3, 4) / 10, name="A")
    y = T.tanh(T.dot(A, x)) * T.sum(x ** 2)
    cost = T.sum(T.exp(x) * T.sin(x)) + T.sum(x) ** 3
    h = T.exp(x)  # an intermediate as `wrt`
    f = cgraph.function([x], [jacobian(y, x), hessian(cost, x), jacobian(h * 2, h)],
                        mode=mode)
    x0 = np.array([0.1, -0.3, 0.5, 0.2])
    J, H, J2 = f(x0)

    def y_np(v):
        return np.tanh(A.get_value() @ v) * np.sum(v ** 2)

    eps = 1e-6
    J_num = np.stack([(y_np(x0 + eps * e) - y_np(x0 - eps * e)) / (2 * eps)
                      for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(J, J_num, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(H, np.diag(2 * np.exp(x0) * np.cos(x0)) + 6 * x0.sum(),
                               rtol=1e-12)
    np.testing.assert_allclose(J2, 2 * np.eye(4))
    g = cgraph.function([x], jacobian(T.sin(x) * x.sum(), x), mode=mode)
    for v in (np.array([0.7, -0.1]), np.array([0.3, 0.2, -0.5, 1.0, 2.0])):  # any length
        want = np.diag(np.cos(v) * v.sum()) + np.sin(v)[:, None]
        np.testing.assert_allclose(g(v), want, rtol=1e-12)


def test_verify_grad_at_a_non_contiguous_point():
    """A transposed (Fortran-order) or strided point: the central differences move the
    point's own elements (they once moved a copy, and every numeric gradient was 0)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3)).T          # Fortran order
    b = rng.standard_normal((8, 5))[::2, ::2]  # strided, (4, 3)
    cgraph.verify_grad(lambda x, y: (T.tanh(T.dot(x, y)) ** 2).sum(), [a, b], rng=rng)
