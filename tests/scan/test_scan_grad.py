"""Gradients through scan: second derivatives, and truncate_gradient against a numpy
reference of truncated backpropagation through time."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad
from cgraph.scan import scan


def rnn_cost(X, h0, W, C, truncate_gradient=-1):
    """sum_t C[t] . h_t with h_t = tanh(W h_{t-1} + x_t)."""
    hs, _ = scan(lambda x, h, w: T.tanh(T.dot(w, h) + x), sequences=X, outputs_info=h0,
                 non_sequences=W, truncate_gradient=truncate_gradient)
    return (hs * C).sum()


def truncated_bptt(X, h0, W, C, k):
    """The gradients (X, h0, W) of rnn_cost, back through the last k steps only."""
    hs, h = [h0], h0
    for x in X:
        h = np.tanh(W @ h + x)
        hs.append(h)
    n = len(X)
    dX, dW, carry = np.zeros_like(X), np.zeros_like(W), np.zeros_like(h0)
    for t in range(n - 1, max(n - k, 0) - 1, -1):
        da = (C[t] + carry) * (1 - hs[t + 1] ** 2)
        dX[t] = da
        dW += np.outer(da, hs[t])
        carry = W.T @ da
    dh0 = carry if n <= k else np.zeros_like(h0)
    return dX, dh0, dW


def values(n=6):
    rng = rng_for("scan grad", n)
    return [rng.normal(size=(n, 3)), rng.normal(size=3), rng.normal(size=(3, 3)) * 0.6,
            rng.normal(size=(n, 3))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 3, 6, 10])
def test_truncate_gradient_against_truncated_bptt(mode, k):
    X, h0, W, C = T.dmatrix("X"), T.dvector("h0"), T.dmatrix("W"), T.dmatrix("C")
    cost = rnn_cost(X, h0, W, C, truncate_gradient=k)
    f = cgraph.function([X, h0, W, C], cgraph.grad(cost, [X, h0, W]), mode=mode)
    data = values()
    for got, want in zip(f(*data), truncated_bptt(*data, k)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    if k >= 6:  # as many steps as the loop has, or more: the whole gradient
        full = cgraph.function([X, h0, W, C], rnn_cost(X, h0, W, C), mode="PY")
        numeric = numeric_grad(lambda *v: float(full(*v)), data, 1e-6)
        for got, want in zip(f(*data), numeric):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_truncate_gradient_must_be_a_positive_count_or_minus_one():
    x = T.dvector("x")
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="truncate_gradient must be -1"):
            scan(lambda v, a: a + v, sequences=x, outputs_info=T.constant(0.0),
                 truncate_gradient=bad)


@pytest.mark.parametrize("mode", MODES)
def test_hessian_vector_product_through_a_scan(mode):
    X, h0, W, C, V = (T.dmatrix("X"), T.dvector("h0"), T.dmatrix("W"), T.dmatrix("C"),
                      T.dmatrix("V"))
    g = cgraph.grad(rnn_cost(X, h0, W, C) + (rnn_cost(X, h0, W, C) ** 2) * 0.1, W)
    directional = (g * V).sum()
    hv = cgraph.function([X, h0, W, C, V], cgraph.grad(directional, [W, h0]), mode=mode)
    ref = cgraph.function([X, h0, W, C, V], directional, mode="PY")
    data = [*values(5), rng_for("direction").normal(size=(3, 3))]
    numeric = numeric_grad(lambda *v: float(ref(*v)), data, 1e-6)
    got_w, got_h0 = hv(*data)
    np.testing.assert_allclose(got_w, numeric[2], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got_h0, numeric[1], rtol=1e-6, atol=1e-8)


@pytest.mark.slow
def test_hessian_of_a_cumulative_product_by_scan():
    x = T.dvector("x")
    prods, _ = scan(lambda v, acc: acc * v, sequences=x, outputs_info=T.constant(1.0))
    cost = prods.sum()
    hess = cgraph.function([x], cgraph.gradient.hessian(cost, x))
    data = np.array([0.5, -1.5, 2.0, 0.8])

    def value(a):
        return float(np.cumprod(a).sum())

    eps, n = 1e-4, len(data)
    want = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            e_i, e_j = np.eye(n)[i] * eps, np.eye(n)[j] * eps
            want[i, j] = (value(data + e_i + e_j) - value(data + e_i - e_j)
                          - value(data - e_i + e_j) + value(data - e_i - e_j)) / (4 * eps ** 2)
    np.testing.assert_allclose(hess(data), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_a_gradient_through_no_steps_is_a_value_error_naming_it(mode):
    x, w = T.dvector("x"), T.dscalar("w")
    out, _ = scan(lambda v, h, ww: h * ww + v, sequences=x, outputs_info=T.constant(0.0),
                  non_sequences=w)
    f = cgraph.function([x, w], cgraph.grad(out.sum(), [x, w]), mode=mode)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0]), 3.0)[1], 1.0)
    with pytest.raises(ValueError, match="no gradient through a loop of zero steps"):
        f(np.zeros(0), 3.0)
