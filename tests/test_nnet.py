"""cgraph.tensor.nnet / special: values vs numpy formulas, stability at +-1000, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.tensor import nnet, special


def _softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(a, axis=-1):
    z = a - a.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_values_and_stability(mode):
    x, p, t, lab = T.dmatrix(), T.dmatrix(), T.dmatrix(), T.lvector()
    outs = [nnet.sigmoid(x), nnet.softplus(x), nnet.relu(x), nnet.relu(x, 0.1),
            nnet.elu(x, 0.5), nnet.softmax(x), nnet.softmax(x, axis=0),
            nnet.log_softmax(x), special.log_softmax(x, axis=0),
            nnet.categorical_crossentropy(p, t), nnet.categorical_crossentropy(p, lab),
            nnet.binary_crossentropy(p, t), nnet.one_hot(lab, 4), nnet.to_one_hot(lab, 5)]
    f = cgraph.function([x, p, t, lab], outs, mode=mode)
    a = np.array([[1000.0, -1000.0, 0.5, -0.3], [-1000.0, -1000.0, 2.0, 0.0],
                  [3.0, 1.0, -2.0, 1000.0]])
    probs = _softmax(np.arange(12.0).reshape(3, 4) / 7)
    labels = np.array([1, 3, 0])
    onehot = np.eye(4)[labels]
    refs = [1 / (1 + np.exp(-np.clip(a, -700, 700))), _softplus(a), np.maximum(a, 0),
            np.where(a > 0, a, 0.1 * a), np.where(a > 0, a, 0.5 * np.expm1(np.minimum(a, 0))),
            _softmax(a), _softmax(a, 0), _log_softmax(a), _log_softmax(a, 0),
            -(onehot * np.log(probs)).sum(-1), -np.log(probs[np.arange(3), labels]),
            -(onehot * np.log(probs) + (1 - onehot) * np.log(1 - probs)),
            onehot, np.eye(5)[labels]]
    got = f(a, probs, onehot, labels)
    for i, (g, r) in enumerate(zip(got, refs)):
        assert np.all(np.isfinite(g)), i
        assert g.shape == r.shape, i
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12, err_msg=str(i))
    np.testing.assert_allclose(got[1][0, :2], [1000.0, 0.0])


def test_float32_and_3d_softmax():
    x = T.ftensor3()
    f = cgraph.function([x], [nnet.softmax(x), nnet.softplus(x), special.softmax(x, axis=1)])
    a = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32) * 50
    got = f(a)
    assert [g.dtype for g in got] == [np.float32] * 3
    np.testing.assert_allclose(got[0], _softmax(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], _softplus(a), rtol=1e-5)
    np.testing.assert_allclose(got[2], _softmax(a, 1), rtol=1e-5, atol=1e-6)


def test_one_hot_label_out_of_range():
    lab, p = T.lvector(), T.dmatrix()
    f = cgraph.function([lab, p], nnet.categorical_crossentropy(p, lab))
    with pytest.raises(IndexError, match="out of range"):
        f(np.array([0, 4]), np.full((2, 4), 0.25))
    with pytest.raises(TypeError, match="integer vector"):
        nnet.one_hot(T.dvector(), 3)


def test_gradients():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4))
    probs = _softmax(a)
    target = np.eye(4)[[0, 2, 3]]
    for fn in [nnet.softplus, nnet.sigmoid, lambda v: nnet.elu(v, 0.7),
               lambda v: nnet.relu(v, 0.2), nnet.softmax, lambda v: nnet.softmax(v, axis=0),
               nnet.log_softmax, lambda v: nnet.log_softmax(v, axis=0)]:
        verify_grad(fn, [a], rng=rng)
    verify_grad(lambda p: nnet.categorical_crossentropy(p, target), [probs], rng=rng)
    verify_grad(lambda p: nnet.binary_crossentropy(p, target * 0.8 + 0.1), [probs], rng=rng)


def test_softmax_jacobian_vector_product():
    x, v = T.dvector(), T.dvector()
    jvp = cgraph.function([x, v], T.grad(T.sum(nnet.softmax(x) * v), x))
    a, w = np.array([0.3, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    s = _softmax(a)
    np.testing.assert_allclose(jvp(a, w), (np.diag(s) - np.outer(s, s)) @ w, rtol=1e-12)


def test_stable_gradients_at_extremes():
    x = T.dvector()
    g = cgraph.function([x], [T.grad(nnet.softplus(x).sum(), x),
                              T.grad(nnet.log_softmax(x).sum(), x)])
    sp, ls = g(np.array([1000.0, -1000.0, 0.0]))
    np.testing.assert_allclose(sp, [1.0, 0.0, 0.5])
    assert np.all(np.isfinite(ls))
