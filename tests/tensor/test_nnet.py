"""cgraph.tensor.nnet / special: values vs numpy formulas, stability at +-1000, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor import nnet, special


def _softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(a, axis=-1):
    z = a - a.max(axis=axis, keepdims=True, initial=-np.inf)
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softplus_of_non_finite_values_and_long_arrays(dtype):
    # the loop runs in vector lanes (libmvec's exp and log1p): NaN, infinities and the
    # lanes' remainder as numpy computes them
    x = T.vector(dtype=dtype)
    f = cgraph.function([x], nnet.softplus(x))
    got = f(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype))
    np.testing.assert_array_equal(got, np.array([np.nan, np.inf, 0.0, np.log(2), np.log(2)],
                                                dtype))
    a = np.random.default_rng(3).normal(size=1037).astype(dtype) * 30
    np.testing.assert_allclose(f(a), _softplus(a.astype("float64")),
                               rtol=2e-7 if dtype == "float32" else 1e-14,
                               atol=np.finfo(dtype).tiny)  # float32 subnormals round


def test_one_hot_label_out_of_range():
    lab, p = T.lvector(), T.dmatrix()
    f = cgraph.function([lab, p], nnet.categorical_crossentropy(p, lab))
    with pytest.raises(IndexError, match="out of range"):
        f(np.array([0, 4]), np.full((2, 4), 0.25))
    with pytest.raises(TypeError, match="integer vector"):
        nnet.one_hot(T.dvector(), 3)


@pytest.mark.slow
def test_gradients(verify_grads):
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4))
    probs = _softmax(a)
    target = np.eye(4)[[0, 2, 3]]
    fns = [nnet.softplus, nnet.sigmoid, lambda v: nnet.elu(v, 0.7),
           lambda v: nnet.relu(v, 0.2), nnet.softmax, lambda v: nnet.softmax(v, axis=0),
           nnet.log_softmax, lambda v: nnet.log_softmax(v, axis=0),
           lambda p: nnet.categorical_crossentropy(p, target),
           lambda p: nnet.binary_crossentropy(p, target * 0.8 + 0.1)]
    verify_grads(fns, [a] * 8 + [probs] * 2, rng)



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


def _sp(a):
    return np.logaddexp(0, a)


#: label -> (cgraph expression, numpy reference) of x (logits, 2-d), p (probabilities),
#: t (targets in [0, 1]) and lab (int64 labels, one per row of x).
NNET_TABLE = {
    "sigmoid": (lambda x, p, t, lab: nnet.sigmoid(x), lambda x, p, t, lab: 1 / (1 + np.exp(-x))),
    "softplus": (lambda x, p, t, lab: nnet.softplus(x), lambda x, p, t, lab: _sp(x)),
    "relu": (lambda x, p, t, lab: nnet.relu(x), lambda x, p, t, lab: np.maximum(x, 0)),
    "relu(0.1)": (lambda x, p, t, lab: nnet.relu(x, 0.1),
                  lambda x, p, t, lab: np.where(x > 0, x, x * np.asarray(0.1, x.dtype))),
    "elu": (lambda x, p, t, lab: nnet.elu(x),
            lambda x, p, t, lab: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "softmax": (lambda x, p, t, lab: nnet.softmax(x), lambda x, p, t, lab: _softmax(x)),
    "softmax(axis=0)": (lambda x, p, t, lab: special.softmax(x, axis=0),
                        lambda x, p, t, lab: _softmax(x, 0)),
    "log_softmax": (lambda x, p, t, lab: nnet.log_softmax(x),
                    lambda x, p, t, lab: _log_softmax(x)),
    "log_softmax(axis=0)": (lambda x, p, t, lab: nnet.log_softmax(x, axis=0),
                            lambda x, p, t, lab: _log_softmax(x, 0)),
    "cce(one-hot)": (lambda x, p, t, lab: nnet.categorical_crossentropy(p, t),
                     lambda x, p, t, lab: -(t * np.log(p)).sum(-1)),
    "cce(labels)": (lambda x, p, t, lab: nnet.categorical_crossentropy(p, lab),
                    lambda x, p, t, lab: -np.log(p[np.arange(len(lab)), lab])),
    "cce(softmax(x), labels)": (
        lambda x, p, t, lab: nnet.categorical_crossentropy(nnet.softmax(x), lab),
        lambda x, p, t, lab: -_log_softmax(x)[np.arange(len(lab)), lab]),
    "bce": (lambda x, p, t, lab: nnet.binary_crossentropy(p, t),
            lambda x, p, t, lab: -(t * np.log(p) + (1 - t) * np.log1p(-p))),
    "bce(sigmoid(x))": (lambda x, p, t, lab: nnet.binary_crossentropy(nnet.sigmoid(x), t),
                        lambda x, p, t, lab: t * _sp(-x) + (1 - t) * _sp(x)),
    "sigmoid_bce": (lambda x, p, t, lab: nnet.sigmoid_binary_crossentropy(x, t),
                    lambda x, p, t, lab: t * _sp(-x) + (1 - t) * _sp(x)),
    "one_hot": (lambda x, p, t, lab: nnet.one_hot(lab, 5),
                lambda x, p, t, lab: np.eye(5, dtype=cgraph.config.floatX)[lab]),
}


def _nnet_args(dtype: str, rows: int, layout: str) -> list[np.ndarray]:
    rng = np.random.default_rng(rows)
    x = (rng.normal(size=(rows, 5)) * 4).astype(dtype)
    if rows:
        x[0, :2] = [60.0, -60.0]  # a saturated row: the stable forms stay finite
    p = _softmax(rng.normal(size=(rows, 5))).astype(dtype)
    t = rng.uniform(0, 1, (rows, 5)).astype(dtype)
    lab = rng.integers(0, 5, rows)
    if layout == "transposed":
        x, p, t = (np.ascontiguousarray(a.T).T for a in (x, p, t))
    elif layout == "reversed":
        x, p, t = (np.flip(np.flip(a).copy()) for a in (x, p, t))
        lab = np.flip(np.flip(lab).copy())
    return [x, p, t, lab]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nnet_table_against_numpy(dtype):
    """Every nnet function, C and PY, for float64 and float32, contiguous, transposed,
    reversed (negative strides) and empty (no rows) inputs."""
    x, p, t = (T.matrix(dtype=dtype) for _ in range(3))
    lab = T.lvector()
    labels = list(NNET_TABLE)
    outs = [NNET_TABLE[k][0](x, p, t, lab) for k in labels]
    fns = {mode: cgraph.function([x, p, t, lab], outs, mode=mode) for mode in ("C", "PY")}
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    for layout, rows in [("contiguous", 3), ("transposed", 4), ("reversed", 3), ("empty", 0)]:
        args = _nnet_args(dtype, rows, layout)
        with np.errstate(all="ignore"):
            refs = [np.asarray(NNET_TABLE[k][1](*args)) for k in labels]
        for mode, f in fns.items():
            for label, got, ref in zip(labels, f(*args), refs, strict=True):
                msg = f"{mode} {dtype} {label} [{layout}]"
                assert got.shape == ref.shape, msg
                if label != "one_hot":
                    assert got.dtype == dtype, msg
                if mode == "PY" and dtype == "float32" and not np.all(np.isfinite(got)):
                    # Mode PY runs the graph as written: the saturated row's softmax
                    # underflows in float32 before its log, as in numpy (mode C's
                    # rewrites compute the stable form). The other rows still count.
                    assert np.all(np.isfinite(got[1:])), msg
                    got, ref = got[1:], ref[1:]
                assert np.all(np.isfinite(got)), msg
                np.testing.assert_allclose(got, ref.astype(got.dtype), err_msg=msg, **tol)


def test_bce_of_a_sigmoid_has_a_finite_gradient():
    z = T.dvector()
    target = np.array([0.0, 1.0, 1.0, 0.3, 0.0])
    cost = nnet.binary_crossentropy(nnet.sigmoid(z), target).sum()
    f = cgraph.function([z], [cost, T.grad(cost, z)])
    zv = np.array([1000.0, -1000.0, 50.0, 2.0, -40.0])
    value, grad = f(zv)
    sig = np.exp(-np.logaddexp(0, -zv))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, sig - target, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(value, (target * _sp(-zv) + (1 - target) * _sp(zv)).sum())


def test_labels_of_any_rank():
    """Integer labels of rank k - 1 for a rank-k distribution (a sequence model's
    (batch, time) labels), and one_hot of any rank."""
    p, lab, s = T.dtensor3(), T.lmatrix(), T.lscalar()
    outs = [nnet.categorical_crossentropy(p, lab), nnet.one_hot(lab, 4), nnet.one_hot(s, 3),
            T.grad(nnet.categorical_crossentropy(p, lab).sum(), p)]
    pv = np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 3))
    labv = np.array([[0, 1, 3], [2, 2, 0]])
    onehot = np.eye(4)[labv]
    refs = [-np.log(np.take_along_axis(pv, labv[..., None], -1)[..., 0]), onehot,
            np.eye(3)[2], -onehot / pv]
    for mode in ("C", "PY"):
        got = cgraph.function([p, lab, s], outs, mode=mode)(pv, labv, 2)
        for k, (g, r) in enumerate(zip(got, refs, strict=True)):
            np.testing.assert_allclose(g, r, rtol=1e-12, err_msg=f"{mode} output {k}")
    with pytest.raises(IndexError, match="out of range"):
        cgraph.function([p, lab], outs[0])(pv, labv + 2)
    with pytest.raises(TypeError, match="labels must be integers"):
        nnet.one_hot(T.dmatrix(), 3)


def test_integer_inputs_give_floats():
    v = T.bvector()
    outs = [special.softmax(v), nnet.log_softmax(v), T.logsumexp(v), nnet.sigmoid(v)]
    a = np.array([-128, 127, 0], dtype="int8")  # 127 - (-128) wraps in int8
    f = cgraph.function([v], outs)
    af = a.astype("float32")
    refs = [_softmax(af), _log_softmax(af), np.log(np.exp(af - 127).sum()) + 127,
            np.exp(-np.logaddexp(0, -af))]
    for g, r in zip(f(a), refs, strict=True):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, r, rtol=1e-6)


@pytest.mark.slow
def test_more_gradients(verify_grads):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 4))
    labels = np.array([0, 3, 1])
    target = rng.uniform(0, 1, (3, 4))
    fns = [lambda v: nnet.categorical_crossentropy(nnet.softmax(v), labels),
           lambda v: nnet.categorical_crossentropy(_softmax_sym(v), labels),
           lambda v: nnet.binary_crossentropy(nnet.sigmoid(v), target),
           lambda v: nnet.sigmoid_binary_crossentropy(v, target)]
    verify_grads(fns, [logits, logits, logits * 5, logits * 5], rng)


def _softmax_sym(v):
    e = T.exp(v)
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_of_a_scalar_is_one():
    x = T.dscalar("x")
    f = cgraph.function([x], [nnet.softmax(x), nnet.log_softmax(x),
                              cgraph.grad(nnet.softmax(x), x)])
    assert [float(v) for v in f(3.0)] == [1.0, 0.0, 0.0]
    assert all(np.isnan(v) for v in f(np.nan)[:2])
