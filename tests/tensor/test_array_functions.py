"""numpy's array functions (cgraph/tensor/arrayfns*.py, einsum.py) in modes C and PY
against numpy, their gradients against central differences, and their errors.

Each test compiles one function with many outputs (one per case) and compares every
output's values, shape and dtype with numpy's.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad

X = np.arange(12.0).reshape(3, 4) / 7 - 0.5
V = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, -0.0])
N = 3


def _fill_diagonal(a, val, offset=0):
    out = a.copy()
    rows = np.arange(a.shape[0])
    cols = rows + offset
    keep = (cols >= 0) & (cols < a.shape[1])
    out[rows[keep], cols[keep]] = val
    return out


#: label -> (cgraph expression of a matrix x, a vector v, an int n; numpy's value).
CASES = {
    "tril": (lambda x, v, n: T.tril(x, 1), np.tril(X, 1)),
    "triu": (lambda x, v, n: T.triu(x, -1), np.triu(X, -1)),
    "tril_sym_k": (lambda x, v, n: T.tril(x, n - 4), np.tril(X, -1)),
    "tril_vector": (lambda x, v, n: T.tril(v), np.tril(V)),
    "triu_3d": (lambda x, v, n: T.triu(T.stack([x, -x])), np.triu(np.stack([X, -X]))),
    "tril_indices": (lambda x, v, n: T.stack(T.tril_indices(n, 0, 4)),
                     np.stack(np.tril_indices(3, 0, 4))),
    "triu_indices": (lambda x, v, n: T.stack(T.triu_indices(n, 1)),
                     np.stack(np.triu_indices(3, 1))),
    "tril_indices_from": (lambda x, v, n: T.stack(T.tril_indices_from(x, -1)),
                          np.stack(np.tril_indices_from(X, -1))),
    "triu_indices_from": (lambda x, v, n: T.stack(T.triu_indices_from(x)),
                          np.stack(np.triu_indices_from(X))),
    "linspace": (lambda x, v, n: T.linspace(0.0, 1.0, n), np.linspace(0, 1, 3)),
    "linspace_ints": (lambda x, v, n: T.linspace(2, 7, 5, endpoint=False),
                      np.linspace(2, 7, 5, endpoint=False)),
    "linspace_1": (lambda x, v, n: T.linspace(2.0, 7.0, 1), np.linspace(2, 7, 1)),
    "linspace_0": (lambda x, v, n: T.linspace(2.0, 7.0, 0), np.linspace(2, 7, 0)),
    "linspace_arrays": (lambda x, v, n: T.linspace(x[0], x[1], 4, axis=1),
                        np.linspace(X[0], X[1], 4, axis=1)),
    "linspace_int_dtype": (lambda x, v, n: T.linspace(-3, 7, 6, dtype="int64"),
                           np.linspace(-3, 7, 6, dtype="int64")),
    "logspace": (lambda x, v, n: T.logspace(0.0, 2.0, 5, base=2), np.logspace(0, 2, 5, base=2)),
    "geomspace": (lambda x, v, n: T.geomspace(1.0, 1000.0, 4), np.geomspace(1, 1000, 4)),
    "geomspace_neg": (lambda x, v, n: T.geomspace(-1.0, -1000.0, 5, endpoint=False),
                      np.geomspace(-1, -1000, 5, endpoint=False)),
    "broadcast_to": (lambda x, v, n: T.broadcast_to(v, (2, v.shape[0])),
                     np.broadcast_to(V, (2, 6))),
    "broadcast_arrays": (lambda x, v, n: T.broadcast_arrays(x, x[:, :1], 2.0)[1],
                         np.broadcast_arrays(X, X[:, :1], 2.0)[1]),
    "take_along_axis": (lambda x, v, n: T.take_along_axis(x, T.argsort(x, 1), 1),
                        np.take_along_axis(X, np.argsort(X, 1), 1)),
    "take_along_axis0": (lambda x, v, n: T.take_along_axis(x, T.argsort(-x, 0)[:1], 0),
                         np.take_along_axis(X, np.argsort(-X, 0)[:1], 0)),
    "take_along_none": (lambda x, v, n: T.take_along_axis(x, T.arange(3) - 1, None),
                        np.take_along_axis(X, np.arange(3) - 1, None)),
    "moveaxis": (lambda x, v, n: T.moveaxis(T.stack([x, x + 1]), 0, -1),
                 np.moveaxis(np.stack([X, X + 1]), 0, -1)),
    "moveaxis2": (lambda x, v, n: T.moveaxis(T.stack([x, x + 1]), [0, 1], [2, 0]),
                  np.moveaxis(np.stack([X, X + 1]), [0, 1], [2, 0])),
    "atleast_1d": (lambda x, v, n: T.atleast_1d(x[0, 0]), np.atleast_1d(X[0, 0])),
    "atleast_2d": (lambda x, v, n: T.atleast_2d(v), np.atleast_2d(V)),
    "atleast_3d_v": (lambda x, v, n: T.atleast_3d(v), np.atleast_3d(V)),
    "atleast_3d_m": (lambda x, v, n: T.atleast_3d(x), np.atleast_3d(X)),
    "flip": (lambda x, v, n: T.flip(x), np.flip(X)),
    "flip1": (lambda x, v, n: T.flip(x, 1), np.flip(X, 1)),
    "ptp": (lambda x, v, n: T.ptp(x, 0), np.ptp(X, 0)),
    "ptp_all": (lambda x, v, n: T.ptp(x, keepdims=True), np.ptp(X, keepdims=True)),
    "isclose": (lambda x, v, n: T.isclose(v, v + 1e-9), np.isclose(V, V + 1e-9)),
    "isclose_nan": (lambda x, v, n: T.isclose(v, v, equal_nan=True),
                    np.isclose(V, V, equal_nan=True)),
    "isclose_tol": (lambda x, v, n: T.isclose(x, x * 1.01, rtol=0.0, atol=0.004),
                    np.isclose(X, X * 1.01, rtol=0.0, atol=0.004)),
    "allclose": (lambda x, v, n: T.allclose(x, x + 1e-3), np.allclose(X, X + 1e-3)),
    "allclose_true": (lambda x, v, n: T.allclose(x, x + 1e-9), np.allclose(X, X + 1e-9)),
    "nan_to_num": (lambda x, v, n: T.nan_to_num(v), np.nan_to_num(V)),
    "nan_to_num_args": (lambda x, v, n: T.nan_to_num(v, 1.0, 2.0, 3.0),
                        np.nan_to_num(V, nan=1.0, posinf=2.0, neginf=3.0)),
    "nan_to_num_f32": (lambda x, v, n: T.nan_to_num(T.cast(v, "float32")),
                       np.nan_to_num(V.astype("float32"))),
    "fill_diagonal": (lambda x, v, n: T.fill_diagonal(x, 7), _fill_diagonal(X, 7)),
    "fill_diagonal_tall": (lambda x, v, n: T.fill_diagonal(x.T, n), _fill_diagonal(X.T, 3)),
    "fill_diagonal_3d": (lambda x, v, n: T.fill_diagonal(T.stack([x[:, :2], x[:, 1:3]])[:, :2], -1),
                         None),
    "fill_diagonal_offset": (lambda x, v, n: T.fill_diagonal_offset(x, 7, 1),
                             _fill_diagonal(X, 7, 1)),
    "fill_diagonal_offset_neg": (lambda x, v, n: T.fill_diagonal_offset(x, 7, 1 - n),
                                 _fill_diagonal(X, 7, -2)),
    "pad_constant": (lambda x, v, n: T.pad(x, ((1, 2), (0, 3)), constant_values=5),
                     np.pad(X, ((1, 2), (0, 3)), constant_values=5)),
    "pad_constant_pairs": (lambda x, v, n: T.pad(x, 1, constant_values=((1, 2), (3, 4))),
                           np.pad(X, 1, constant_values=((1, 2), (3, 4)))),
    "pad_edge": (lambda x, v, n: T.pad(x, 2, "edge"), np.pad(X, 2, "edge")),
    "pad_reflect": (lambda x, v, n: T.pad(x, ((7, 5), (2, 9)), "reflect"),
                    np.pad(X, ((7, 5), (2, 9)), "reflect")),
    "pad_symmetric": (lambda x, v, n: T.pad(x, ((7, 5), (2, 9)), "symmetric"),
                      np.pad(X, ((7, 5), (2, 9)), "symmetric")),
    "pad_wrap": (lambda x, v, n: T.pad(x, ((7, 5), (2, 9)), "wrap"),
                 np.pad(X, ((7, 5), (2, 9)), "wrap")),
    "pad_reflect_1": (lambda x, v, n: T.pad(x[:1], 3, "reflect"), np.pad(X[:1], 3, "reflect")),
    "pad_empty": (lambda x, v, n: T.pad(x[:0], (1, 2)), np.pad(X[:0], (1, 2))),
}
_d3 = np.stack([X[:, :2], X[:, 1:3]])[:, :2].copy()
_d3[0, 0, 0] = _d3[1, 1, 1] = -1
CASES["fill_diagonal_3d"] = (CASES["fill_diagonal_3d"][0], _d3)


@pytest.mark.parametrize("mode", MODES)
def test_array_functions_against_numpy(mode):
    x, v, n = T.dmatrix("x"), T.dvector("v"), T.lscalar("n")
    outs = [build(x, v, n) for build, _ in CASES.values()]
    f = cgraph.function([x, v, n], outs, mode=mode, on_unused_input="ignore")
    for name, got, (_, want) in zip(CASES, f(X, V, N), CASES.values()):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, (name, got, want)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_array_functions_on_layouts(mode):
    """Transposed and negatively strided inputs, and float32."""
    x = T.fmatrix("x")
    outs = [T.tril(x), T.pad(x, (2, 1), "reflect"), T.flip(x, 0), T.nan_to_num(x),
            T.take_along_axis(x, T.argsort(x, 0), 0), T.ptp(x, 1)]
    f = cgraph.function([x], outs, mode=mode)
    a = np.asarray(X, "float32")
    for arr in (a.T, a[::-1, ::-2], a[:0]):
        want = [np.tril(arr), np.pad(arr, (2, 1), "reflect") if arr.size else None,
                np.flip(arr, 0), np.nan_to_num(arr),
                np.take_along_axis(arr, np.argsort(arr, 0, kind="stable"), 0),
                np.ptp(arr, 1) if arr.size else None]
        if not arr.size:
            f = cgraph.function([x], [outs[0], outs[2], outs[3]], mode=mode)
            want = [want[0], want[2], want[3]]
        for got, w in zip(f(arr), want):
            assert got.dtype == w.dtype
            np.testing.assert_array_equal(got, w)


GRADS = {
    "tril": lambda x: T.tril(x, 1),
    "triu": lambda x: T.triu(x),
    "linspace": lambda x: T.linspace(x[0], x[1], 5),
    "geomspace": lambda x: T.geomspace(T.exp(x[0]), T.exp(x[1]) + 1, 4),
    "broadcast_to": lambda x: T.broadcast_to(x[0], (3, x.shape[1])),
    "take_along_axis": lambda x: T.take_along_axis(x, T.argsort(x, 1)[:, :2], 1),
    "moveaxis": lambda x: T.moveaxis(x, 0, 1) * T.arange(3),
    "flip": lambda x: T.flip(x) * T.arange(4),
    "ptp": lambda x: T.ptp(x, 1),
    "nan_to_num": lambda x: T.nan_to_num(T.log(x)),
    "fill_diagonal": lambda x: T.fill_diagonal(x, T.sum(x)),
    "pad_reflect": lambda x: T.pad(x, ((3, 1), (2, 4)), "reflect"),
    "pad_symmetric": lambda x: T.pad(x, 2, "symmetric"),
    "pad_constant": lambda x: T.pad(x, 2, "constant", constant_values=3),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_array_function_gradients(name):
    point = np.random.default_rng(5).uniform(0.5, 2.0, (3, 4))
    verify_grad(GRADS[name], [point])


def test_array_function_errors():
    x, v = T.dmatrix(), T.dvector()
    with pytest.raises(TypeError, match="tril"):
        T.tril(T.dscalar())
    with pytest.raises(ValueError, match="pad"):
        T.pad(x, 1, "maximum")
    with pytest.raises(ValueError, match="negative"):
        T.pad(x, -1)
    with pytest.raises(ValueError, match="pad_width"):
        T.pad(x, ((1, 2, 3),))
    with pytest.raises(TypeError, match="scalar"):
        T.fill_diagonal(x, v)
    with pytest.raises(TypeError, match="2-d"):
        T.fill_diagonal(v, 1)
    with pytest.raises(ValueError, match="same number"):
        T.moveaxis(x, [0, 1], [0])
    with pytest.raises(ValueError, match="repeated"):
        T.moveaxis(x, [0, 0], [0, 1])
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.take_along_axis(x, T.lvector(), 1)
    with pytest.raises(TypeError, match="integers"):
        T.take_along_axis(x, x, 1)
    with pytest.raises(ValueError, match="zero"):
        T.geomspace(0.0, 1.0, 3)
    with pytest.raises(ValueError, match="non-negative"):
        T.linspace(0.0, 1.0, -1)
    with pytest.raises(ValueError):
        T.broadcast_to(x, (3,))
    f = cgraph.function([x], T.broadcast_to(x, (2, 5)))
    with pytest.raises(ValueError):
        f(X)
