"""Reductions (sum, prod, mean, var, std, max, min, argmax, argmin, all, any, logsumexp):
C and PY results vs numpy over axes, keepdims, dtypes and layouts; gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad


def _lse(a, axis=None, keepdims=False):
    mx = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - mx), axis=axis, keepdims=True)) + mx
    return out if keepdims else np.squeeze(out, axis=axis)


#: name -> (cgraph function, numpy reference, output dtype rule for an input dtype)
REDUCTIONS = {
    "sum": (T.sum, np.sum),
    "prod": (T.prod, np.prod),
    "mean": (T.mean, np.mean),
    "var": (T.var, np.var),
    "std": (T.std, np.std),
    "max": (T.max, np.max),
    "min": (T.min, np.min),
    "all": (T.all, np.all),
    "any": (T.any, np.any),
    "logsumexp": (T.logsumexp, _lse),
}
FLOAT_ONLY = {"logsumexp"}
AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2), ()]


def _expected_dtype(name: str, dtype: str) -> str:
    if name in ("sum", "prod"):
        return "int64" if dtype.startswith("int") or dtype == "bool" else dtype
    if name in ("mean", "var", "std"):
        return dtype if dtype.startswith("float") else cgraph.config.floatX
    if name in ("all", "any"):
        return "bool"
    return dtype


def _data(dtype: str, shape, rng) -> np.ndarray:
    if dtype.startswith("float"):
        return rng.uniform(0.5, 1.5, shape).astype(dtype)
    return rng.integers(-3, 4, shape).astype(dtype)


@pytest.mark.parametrize("mode", ["C", "PY"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_every_reduction_every_axis(mode, dtype, keepdims):
    """One compiled function per (mode, dtype, keepdims): every reduction x every axis."""
    rng = np.random.default_rng(0)
    x = T.tensor(dtype, (None, None, None))
    names = [n for n in REDUCTIONS if dtype.startswith("float") or n not in FLOAT_ONLY]
    cases = [(n, ax) for n in names for ax in AXES]
    outs = [REDUCTIONS[n][0](x, axis=ax, keepdims=keepdims) for n, ax in cases]
    f = cgraph.function([x], outs, mode=mode)
    a = _data(dtype, (3, 4, 5), rng)
    tol = 1e-5 if dtype == "float32" else 1e-10
    for view in (a, a[::-1, :, ::2], a.transpose(2, 0, 1)):
        for (n, ax), got in zip(cases, f(view)):
            ref = np.asarray(REDUCTIONS[n][1](view, axis=ax, keepdims=keepdims))
            assert got.shape == ref.shape, (n, ax)
            assert got.dtype == _expected_dtype(n, dtype), (n, ax, got.dtype)
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=f"{n} {ax}")


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_arg_reductions(mode):
    x = T.dmatrix()
    outs = [x.argmax(), x.argmin(), x.argmax(axis=0), x.argmin(axis=-1),
            T.argmax(x, axis=1, keepdims=True), x.T.argmax(axis=1)]
    f = cgraph.function([x], outs, mode=mode)
    a = np.array([[1.0, 5.0, 5.0, -2.0], [7.0, 0.0, 7.0, -2.0], [3.0, np.nan, 1.0, 0.0]])
    refs = [np.argmax(a), np.argmin(a), np.argmax(a, 0), np.argmin(a, -1),
            np.argmax(a, 1, keepdims=True), np.argmax(a.T, 1)]
    for got, ref in zip(f(a), refs):
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_zero_d_and_empty(mode):
    s, m = T.dscalar(), T.dmatrix()
    f = cgraph.function([s, m], [s.sum(), s.max(), T.argmax(s), m.sum(axis=0), m.prod(axis=0),
                                 m.any(axis=0), m.all(), m.max(axis=1)], mode=mode)
    got = f(2.5, np.zeros((0, 3)))
    refs = [2.5, 2.5, 0, np.zeros(3), np.ones(3), np.zeros(3, bool), True, np.zeros((0,))]
    for g, r in zip(got, refs):
        np.testing.assert_array_equal(g, r)
    g = cgraph.function([m], [m.max(axis=0)], mode=mode)
    with pytest.raises(ValueError, match="empty"):
        g(np.zeros((0, 3)))
    h = cgraph.function([m], [m.argmin()], mode=mode)
    with pytest.raises(ValueError, match="empty"):
        h(np.zeros((2, 0)))


def test_nan_propagates_and_bad_axis():
    x = T.dvector()
    f = cgraph.function([x], [x.max(), x.min(), x.sum()])
    assert all(np.isnan(v) for v in f(np.array([1.0, np.nan, 3.0])))
    with pytest.raises(ValueError, match="out of range"):
        T.max(x, axis=1)
    with pytest.raises(TypeError, match="axis"):
        T.argmax(T.dmatrix(), axis=(0, 1))


def test_float32_sum_accuracy():
    """float32 sums along a dense axis accumulate in double: not worse than numpy's
    pairwise sum."""
    x = T.fvector()
    f = cgraph.function([x], x.sum())
    a = np.full(10_000_000, 0.1, dtype=np.float32)
    exact = np.sum(a, dtype=np.float64)
    assert abs(float(f(a)) - exact) <= abs(float(np.sum(a)) - exact) + 1e-3


def test_gradients():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, (3, 4))
    for fn in [lambda v: T.sum(v, axis=0), lambda v: T.prod(v, axis=1),
               lambda v: T.prod(v), lambda v: T.mean(v, axis=(0, 1), keepdims=True),
               lambda v: T.var(v, axis=1), lambda v: T.std(v, axis=0, ddof=1),
               lambda v: T.max(v, axis=1), lambda v: T.min(v, axis=0, keepdims=True),
               lambda v: T.logsumexp(v, axis=-1)]:
        verify_grad(fn, [a], rng=rng)


def test_prod_grad_with_zeros():
    x = T.dmatrix()
    g = cgraph.function([x], T.grad(T.prod(x, axis=1).sum(), x))
    a = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [2.0, 3.0, 4.0]])
    expected = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [12.0, 8.0, 6.0]])
    np.testing.assert_allclose(g(a), expected)


def test_max_grad_at_ties_and_no_grad_of_args():
    x = T.dmatrix()
    cost = T.max(x, axis=1).sum() + T.min(x)
    g = cgraph.function([x], T.grad(cost, x))
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(g(a), [[0, 1, 1], [1, 1, 1]])
    z = cgraph.function([x], T.grad(T.sum(x * T.argmax(x, axis=1).dimshuffle(0, "x")), x))
    np.testing.assert_array_equal(z(a), [[1, 1, 1], [0, 0, 0]])


def test_logsumexp_stable():
    x = T.dvector()
    f = cgraph.function([x], [T.logsumexp(x), T.special.logsumexp(x)])
    got = f(np.array([1000.0, 1000.0]))
    np.testing.assert_allclose(got, 1000 + np.log(2))
    assert f(np.array([-np.inf, -np.inf]))[0] == -np.inf


@settings(max_examples=12, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3), data=st.data())
def test_property_random_shapes_and_axes(shape, data):
    """sum / max / any over random axes of random shapes (one compiled function per
    rank and axes, served by the cache on reruns)."""
    ndim = len(shape)
    axes = data.draw(st.lists(st.integers(-ndim, ndim - 1), unique_by=lambda a: a % max(ndim, 1),
                              max_size=ndim) if ndim else st.just([]))
    axis = tuple(axes) if axes or data.draw(st.booleans()) else None
    keep = data.draw(st.booleans())
    x = T.tensor("float64", (None,) * ndim)
    f = cgraph.function([x], [T.sum(x, axis=axis, keepdims=keep), T.any(x, axis=axis)])
    a = np.random.default_rng(0).normal(size=shape)
    got = f(a)
    np.testing.assert_allclose(got[0], np.sum(a, axis=axis, keepdims=keep), atol=1e-12)
    np.testing.assert_array_equal(got[1], np.any(a, axis=axis))
