"""PyTensor's and numpy's remaining tensor names (cgraph/tensor/arrayfns_compat.py) in
modes C and PY against numpy/scipy, their gradients, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T

X = np.array([[0.5, -1.0, np.inf], [2.0, -np.inf, 0.0], [-2.5, 1.5, 3.0]])
I = np.array([7, -3, 4, 0, 9])
C3 = np.arange(12.0).reshape(3, 4) / 5 - 1

#: label -> (cgraph expression of a matrix x, an int vector i, a matrix c; numpy's value)
CASES = {
    "equal": (lambda x, i, c: T.equal(x, 0.5), np.equal(X, 0.5)),
    "not_equal": (lambda x, i, c: T.not_equal(x, 0.5), np.not_equal(X, 0.5)),
    "greater": (lambda x, i, c: T.greater(x, 0), np.greater(X, 0)),
    "greater_equal": (lambda x, i, c: T.greater_equal(x, 0), np.greater_equal(X, 0)),
    "less": (lambda x, i, c: T.less(x, 0), np.less(X, 0)),
    "less_equal": (lambda x, i, c: T.less_equal(x, 0), np.less_equal(X, 0)),
    "digamma": (lambda x, i, c: T.digamma(c + 2), sp.digamma(C3 + 2)),
    "dense_dot": (lambda x, i, c: T.dense_dot(c, c.T), C3 @ C3.T),
    "extract_diag": (lambda x, i, c: T.extract_diag(c), np.diagonal(C3)),
    "iround": (lambda x, i, c: T.iround(c * 2.5), np.trunc(C3 * 2.5 + np.sign(C3) * 0.5)
               .astype("int64")),
    "iround_even": (lambda x, i, c: T.iround(c * 2.5, "half_to_even"),
                    np.round(C3 * 2.5).astype("int64")),
    "isposinf": (lambda x, i, c: T.isposinf(x), np.isposinf(X)),
    "isneginf": (lambda x, i, c: T.isneginf(x), np.isneginf(X)),
    "ceil_intdiv": (lambda x, i, c: T.ceil_intdiv(i, 4), -(-I // 4)),
    "divmod_q": (lambda x, i, c: T.divmod(i, -4)[0], np.divmod(I, -4)[0]),
    "divmod_r": (lambda x, i, c: T.divmod(i, -4)[1], np.divmod(I, -4)[1]),
    "largest": (lambda x, i, c: T.largest(c, c[::-1], 0.1),
                np.maximum(np.maximum(C3, C3[::-1]), 0.1)),
    "smallest": (lambda x, i, c: T.smallest(c, -c), np.minimum(C3, -C3)),
    "max_and_argmax_0": (lambda x, i, c: T.max_and_argmax(c, 1)[0], C3.max(1)),
    "max_and_argmax_1": (lambda x, i, c: T.max_and_argmax(c, 1)[1], C3.argmax(1)),
    "matrix_transpose": (lambda x, i, c: T.matrix_transpose(T.stack([c, c])),
                         np.stack([C3, C3]).swapaxes(-1, -2)),
    "empty": (lambda x, i, c: T.empty((2, 3)).shape, np.array([2, 3])),
    "empty_like": (lambda x, i, c: T.empty_like(i, "float32").shape, np.array([5])),
    "tri": (lambda x, i, c: T.tri(3, 4, 1), np.tri(3, 4, 1)),
    "tri_int": (lambda x, i, c: T.tri(i.shape[0], k=-1, dtype="int32"),
                np.tri(5, k=-1, dtype="int32")),
    "flatnonzero": (lambda x, i, c: T.flatnonzero(x), np.flatnonzero(X)),
    "nonzero_values": (lambda x, i, c: T.nonzero_values(x), X[X != 0]),
    "compress": (lambda x, i, c: T.compress(T.gt(i[:3], 0), c, 1),
                 np.compress(I[:3] > 0, C3, 1)),
    "compress_flat": (lambda x, i, c: T.compress(T.gt(i, 0), c), np.compress(I > 0, C3)),
    "choose": (lambda x, i, c: T.choose(T.arange(3) % 2, [c[:, 0], c[0, :3], 7.0]),
               np.choose(np.arange(3) % 2, [C3[:, 0], C3[0, :3], 7.0])),
    "choose_wrap": (lambda x, i, c: T.choose(i, c[:, :1], "wrap"),
                    np.choose(I, C3[:, :1], mode="wrap")),
    "choose_clip": (lambda x, i, c: T.choose(i[:, None], [c[0], -c[0]], "clip"),
                    np.choose(I[:, None], [C3[0], -C3[0]], mode="clip")),
    "concat_with_broadcast": (lambda x, i, c: T.concat_with_broadcast([c, c[:1, :1]], 1),
                              np.concatenate([C3, np.broadcast_to(C3[:1, :1], (3, 1))], 1)),
    "horizontal_stack": (lambda x, i, c: T.horizontal_stack(c, x), np.hstack([C3, X])),
    "vertical_stack": (lambda x, i, c: T.vertical_stack(c[0], c), np.vstack([C3[0], C3])),
    "inverse_permutation": (lambda x, i, c: T.inverse_permutation(T.argsort(i)),
                            np.argsort(np.argsort(I))),
    "permute_row_elements": (lambda x, i, c: T.permute_row_elements(c, [3, 0, 2, 1]),
                             C3[:, [3, 0, 2, 1]]),
    "permute_row_inverse": (
        lambda x, i, c: T.permute_row_elements(c, T.argsort(c, -1), inverse=True),
        np.take_along_axis(C3, np.argsort(np.argsort(C3, -1), -1), -1)),
    "atleast_Nd": (lambda x, i, c: T.atleast_Nd(i, 3), I[None, None]),
    "atleast_Nd_right": (lambda x, i, c: T.atleast_Nd(i, 2, left=False), I[:, None]),
    "specify_broadcastable": (lambda x, i, c: T.specify_broadcastable(c[:1], 0), C3[:1]),
    "cov": (lambda x, i, c: T.cov(c), np.cov(C3)),
    "cov_cols": (lambda x, i, c: T.cov(c, c[:, ::-1] * 2, rowvar=False, bias=True),
                 np.cov(C3, C3[:, ::-1] * 2, rowvar=False, bias=True)),
    "cov_vector": (lambda x, i, c: T.cov(c[0], ddof=0), np.cov(C3[0], ddof=0)),
    "bartlett": (lambda x, i, c: T.bartlett(i.shape[0] + 2), np.bartlett(7)),
    "bartlett_1": (lambda x, i, c: T.bartlett(1), np.bartlett(1)),
    "bartlett_0": (lambda x, i, c: T.bartlett(0), np.bartlett(0)),
    "chi2sf": (lambda x, i, c: T.chi2sf(c + 1.5, 3.0), sp.gammaincc(1.5, (C3 + 1.5) / 2)),
    "gammau": (lambda x, i, c: T.gammau(2.5, c + 1.5), sp.gammaincc(2.5, C3 + 1.5)
               * sp.gamma(2.5)),
    "gammal": (lambda x, i, c: T.gammal(2.5, c + 1.5), sp.gammainc(2.5, C3 + 1.5)
               * sp.gamma(2.5)),
    "broadcast_shape": (lambda x, i, c: T.stack(T.broadcast_shape(c[:, :1], i[:4])),
                        np.array(np.broadcast_shapes((3, 1), (4,)))),
}


@pytest.mark.parametrize("mode", MODES)
def test_compat_functions_against_numpy(mode):
    x, i, c = T.dmatrix("x"), T.lvector("i"), T.dmatrix("c")
    outs = [build(x, i, c) for build, _ in CASES.values()]
    f = cgraph.function([x, i, c], outs, mode=mode, on_unused_input="ignore")
    for name, got, (_, want) in zip(CASES, f(X, I, C3), CASES.values()):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape, (name, got, want)
        if name not in ("empty", "empty_like", "broadcast_shape"):
            assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, err_msg=name)


def test_compat_gradients():
    point = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4))
    verify_grad_cases({  # one compiled module for the five checks
        "cov": (lambda c: T.cov(c), [point]),
        "choose": (lambda c: T.choose(np.array([[0, 1, 1, 0]]), [c, c * c]), [point]),
        "permute_row_elements": (
            lambda c: T.permute_row_elements(c, np.array([2, 0, 3, 1])), [point]),
        "compress": (lambda c: T.compress(np.array([True, False, True]), c, 0), [point]),
        "concat_with_broadcast": (lambda c: T.concat_with_broadcast([c, c[:1]], 1), [point]),
    })


def test_compat_utilities_and_errors():
    v = T.dvector()
    assert T.get_vector_length(T.constant(np.zeros(4))) == 4
    assert T.get_vector_length([1, 2]) == 2
    with pytest.raises(ValueError, match="statically"):
        T.get_vector_length(v)
    with pytest.raises(TypeError, match="vector"):
        T.get_vector_length(T.dmatrix())
    assert T.get_scalar_constant_value(T.constant(3.0)) == 3.0
    assert T.get_underlying_scalar_constant_value(np.array([2])) == 2
    with pytest.raises(T.NotScalarConstantError):
        T.get_scalar_constant_value(v)
    assert T.is_flat(v) and not T.is_flat(T.dmatrix())
    assert T.default(None, 3) == 3 and T.default(v, 3) is v
    with pytest.raises(ValueError, match="2 dimensions"):
        T.matrix_transpose(v)
    with pytest.raises(TypeError, match="integers"):
        T.choose(v, [v])
    with pytest.raises(ValueError, match="mode"):
        T.choose(T.lvector(), [v], "nearest")
    with pytest.raises(TypeError, match="vector"):
        T.compress(T.dmatrix() > 0, v)
    with pytest.raises(TypeError, match="integer vector"):
        T.inverse_permutation(v)
    with pytest.raises(ValueError, match="at least one"):
        T.largest()
    for mode in MODES:
        k = T.lvector("k")
        f = cgraph.function([k], T.choose(k, [np.zeros(2), np.ones(2)]), mode=mode)
        with pytest.raises(IndexError, match="out of bounds"):
            f(np.array([0, 2]))
        g = cgraph.function([v], T.specify_broadcastable(v, 0), mode=mode)
        with pytest.raises(ValueError):
            g(np.zeros(3))
