"""numpy's array functions (cgraph/tensor/arrayfns*.py, einsum.py) in modes C and PY
against numpy, their gradients against central differences, and their errors.

Each test compiles one function with many outputs (one per case) and compares every
output's values, shape and dtype with numpy's.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, verify_grad_cases

import cgraph
import cgraph.tensor as T

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
    # x[:1]'s length is known only at call time: alloc's gradient sums it back (numpy's rule)
    "broadcast_to_call_time_one": lambda x: T.broadcast_to(x[:1], (2, 3, x.shape[1])),
    "alloc_call_time_one": lambda x: T.alloc(x[:, :1], x.shape[0], 5),
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


def test_array_function_gradients():
    point = np.random.default_rng(5).uniform(0.5, 2.0, (3, 4))
    verify_grad_cases({name: (GRADS[name], [point]) for name in sorted(GRADS)})  # one module


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


# --------------------------------------------------------------------------- sorting-based

Y = np.array([[3.0, 1, 2, 5], [4, 4, 0, 1], [2, 9, 2, 2]])
W = np.array([1.0, np.nan, 3.0, 1.0, np.nan, -2.0])
IDX = np.array([3, 0, 1, 3, 3, 7])
SORTED = np.array([0.0, 1, 1, 2, 5, 7])


def _search_cases():
    """label -> (cgraph expression of a matrix y, a vector w, ints i; numpy's value)."""
    cases = {
        "median": (lambda y, w, i: T.median(y), np.median(Y)),
        "median0": (lambda y, w, i: T.median(y, 0), np.median(Y, 0)),
        "median_keepdims": (lambda y, w, i: T.median(y, 1, True), np.median(Y, 1, keepdims=True)),
        "median_nan": (lambda y, w, i: T.median(w), np.median(W)),
        "median_int": (lambda y, w, i: T.median(i), np.median(IDX)),
        "median_f32": (lambda y, w, i: T.median(T.cast(y, "float32"), -1),
                       np.median(Y.astype("float32"), -1)),
        "searchsorted": (lambda y, w, i: T.searchsorted(SORTED, y), np.searchsorted(SORTED, Y)),
        "searchsorted_right": (lambda y, w, i: T.searchsorted(SORTED, y, "right"),
                               np.searchsorted(SORTED, Y, "right")),
        "searchsorted_nan": (lambda y, w, i: T.searchsorted(np.sort(W), w),
                             np.searchsorted(np.sort(W), W)),
        "searchsorted_sorter": (
            lambda y, w, i: T.searchsorted(w[::-1], w, sorter=T.argsort(w[::-1])),
            np.searchsorted(W[::-1], W, sorter=np.argsort(W[::-1], kind="stable"))),
        "searchsorted_empty": (lambda y, w, i: T.searchsorted(w[:0], w[:2]),
                               np.searchsorted(W[:0], W[:2])),
        "unique": (lambda y, w, i: T.unique(y), np.unique(Y)),
        "unique_nan": (lambda y, w, i: T.unique(w), np.unique(W)),
        "unique_int": (lambda y, w, i: T.unique(i), np.unique(IDX)),
        "unique_empty": (lambda y, w, i: T.unique(i[:0]), np.unique(IDX[:0])),
        "bincount": (lambda y, w, i: T.bincount(i), np.bincount(IDX)),
        "bincount_weights": (lambda y, w, i: T.bincount(i, w, 10), np.bincount(IDX, W, 10)),
        "bincount_empty": (lambda y, w, i: T.bincount(i[:0]), np.bincount(IDX[:0])),
        "ravel_multi_index": (lambda y, w, i: T.ravel_multi_index((i, i[::-1]), (8, 9)),
                              np.ravel_multi_index((IDX, IDX[::-1]), (8, 9))),
        "ravel_multi_index_F": (
            lambda y, w, i: T.ravel_multi_index((i, i[::-1]), (8, 9), order="F"),
            np.ravel_multi_index((IDX, IDX[::-1]), (8, 9), order="F")),
        "ravel_multi_index_modes": (
            lambda y, w, i: T.ravel_multi_index((i, i - 5), (4, 3), mode=("clip", "wrap")),
            np.ravel_multi_index((IDX, IDX - 5), (4, 3), mode=("clip", "wrap"))),
    }
    for flags in ((True, True, True), (False, True, False)):
        for label, data, var in (("y", Y, 0), ("w", W, 1)):
            want = np.unique(data, *flags)
            for k in range(len(want)):
                cases[f"unique_{label}_{flags}_{k}"] = (
                    lambda y, w, i, var=var, flags=flags, k=k: T.unique((y, w)[var], *flags)[k],
                    want[k])
    for order in ("C", "F"):
        for k, want in enumerate(np.unravel_index(IDX * 3, (4, 2, 3), order=order)):
            cases[f"unravel_index_{order}{k}"] = (
                lambda y, w, i, k=k, order=order: T.unravel_index(i * 3, (4, 2, 3), order)[k],
                want)
    return cases


@pytest.mark.parametrize("mode", MODES)
def test_sorting_functions_against_numpy(mode):
    y, w, i = T.dmatrix("y"), T.dvector("w"), T.lvector("i")
    cases = _search_cases()
    f = cgraph.function([y, w, i], [build(y, w, i) for build, _ in cases.values()],
                        mode=mode, on_unused_input="ignore")
    for name, got, (_, want) in zip(cases, f(Y, W, IDX), cases.values()):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, (name, got, want)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_searchsorted_and_unique_random(mode):
    """Many ties and sizes: searchsorted both sides, unique's four outputs."""
    a, v = T.dvector("a"), T.dvector("v")
    uniq = T.unique(v, True, True, True)
    f = cgraph.function([a, v], [T.searchsorted(a, v), T.searchsorted(a, v, "right"), *uniq],
                        mode=mode)
    rng = np.random.default_rng(3)
    for n, m in ((0, 5), (1, 1), (17, 40), (200, 3)):
        av = np.sort(rng.integers(0, 6, n).astype(float))
        vv = rng.integers(-1, 8, m).astype(float)
        got = f(av, vv)
        want = [np.searchsorted(av, vv), np.searchsorted(av, vv, "right"),
                *np.unique(vv, True, True, True)]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_sorting_function_gradients():
    point = np.random.default_rng(8).uniform(0.5, 2.0, (3, 5))
    verify_grad_cases({"median": (lambda x: T.median(x, 1), [point]),
                  "median all": (lambda x: T.median(x[:, :4]), [point]),
                  "bincount": (lambda x: T.bincount(np.array([1, 3, 1, 0, 4]), x[0]), [point])})


def test_sorting_function_errors():
    x, i = T.dmatrix(), T.lvector()
    with pytest.raises(TypeError, match="vector"):
        T.searchsorted(x, x)
    with pytest.raises(ValueError, match="side"):
        T.searchsorted(i, i, "middle")
    with pytest.raises(TypeError, match="integers"):
        T.bincount(T.dvector())
    with pytest.raises(NotImplementedError, match="axis"):
        T.unique(x, axis=0)
    with pytest.raises(ValueError, match="coordinate arrays"):
        T.ravel_multi_index((i,), (2, 3))
    with pytest.raises(ValueError, match="mode"):
        T.ravel_multi_index((i, i), (2, 3), mode="nearest")
    for mode in MODES:
        checks = [(T.bincount(i), [1, -1]), (T.unravel_index(i, (2, 3))[0], [1, 6]),
                  (T.ravel_multi_index((i, i), (2, 3)), [1, 2])]
        for out, bad in checks:
            f = cgraph.function([i], out, mode=mode)
            with pytest.raises(IndexError, match="out of bounds"):
                f(np.array(bad))


# --------------------------------------------------------------------------- einsum

RNG = np.random.default_rng(0)
EA, EB, EV = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5)), RNG.normal(size=4)
EC, ED = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 5))

#: (subscripts, operand numbers among a, b, c, d, v)
EINSUMS = [("ij,jk->ik", "ab"), ("ij,jk", "ab"), ("ij->ji", "a"), ("ij->", "a"),
           ("bij,bjk->bik", "cd"), ("...ij,...jk", "cd"), ("i,i", "vv"), ("i,j->ij", "vv"),
           ("ij,j->i", "av"), ("bij,bjk,bil->blk", "cdc"), ("bij,bkj->bik", "cc"),
           ("ij,ij->i", "aa"), ("...i,...i->...", "cc"), ("i...->...", "c"),
           ("ii->i", "s"), ("ii", "s"), ("i,ij,jk->k", "vsb")]


@pytest.mark.parametrize("mode", MODES)
def test_einsum_against_numpy(mode):
    syms = {k: T.tensor("float64", (None,) * n, name=k)
            for k, n in zip("abcdvs", (2, 2, 3, 3, 1, 2))}
    vals = {"a": EA, "b": EB, "c": EC, "d": ED, "v": EV, "s": EB[:, :4].copy()}
    f = cgraph.function(list(syms.values()),
                        [T.einsum(s, *(syms[o] for o in ops)) for s, ops in EINSUMS],
                        mode=mode, on_unused_input="ignore")
    for (s, ops), got in zip(EINSUMS, f(*vals.values())):
        want = np.einsum(s, *(vals[o] for o in ops))
        assert got.shape == want.shape, s
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=s)


def test_einsum_gradients():
    verify_grad_cases({"bij,bjk->bik": (lambda x, y: T.einsum("bij,bjk->bik", x, y), [EC, ED]),
                  "ij,jk": (lambda x, y: T.einsum("ij,jk", x, y), [EA, EB]),
                  "ii->i": (lambda x: T.einsum("ii->i", x), [EB[:, :4]]),
                  "...i,...i->...": (lambda x, y: T.einsum("...i,...i->...", x, y),
                                     [EC, EC + 1])})


def test_einsum_errors():
    a = T.dmatrix()
    with pytest.raises(ValueError, match="operands"):
        T.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="dimensions"):
        T.einsum("ijk", a)
    with pytest.raises(ValueError, match="in no operand"):
        T.einsum("ij->k", a)
    with pytest.raises(ValueError, match="invalid subscript"):
        T.einsum("i1", a)
    with pytest.raises(ValueError, match="repeat"):
        T.einsum("ij->ii", a)


@pytest.mark.parametrize("mode", MODES)
def test_searchsorted_layouts_and_dtypes(mode):
    """The SearchSorted kernel: strided and reversed views, empty inputs, ints, int32 a
    searched with float values, and a matrix of values."""
    a, v = T.ivector("a"), T.dmatrix("v")
    f = cgraph.function([a, v], [T.searchsorted(a[::-2], v, "right"), T.searchsorted(a, v.T),
                                 T.searchsorted(a[:0], v), T.searchsorted(a, a)], mode=mode)
    av = np.array([9, 7, 7, 4, 3, 3, 1, 0], "int32")[::-1].copy()
    vv = np.array([[-1.0, 3.0, 3.5], [np.nan, 9.0, 7.0]])
    got = f(av, vv)
    want = [np.searchsorted(av[::-2], vv, "right"), np.searchsorted(av, vv.T),
            np.searchsorted(av[:0], vv), np.searchsorted(av, av)]
    for g, w in zip(got, want):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("mode", MODES)
def test_median_selection(mode):
    """The MedianIndices kernel: many ties, NaN, odd and even lanes, strided and
    transposed layouts, float32, empty lanes (an error) and zero lanes."""
    x = T.dmatrix("x")
    outs = [T.median(x, 0), T.median(x[::-1, ::2], 1), T.median(x.T, 1, keepdims=True),
            T.median(T.cast(x, "float32"), 0), T.median(x[:, :0], 0)]
    f = cgraph.function([x], outs, mode=mode)
    rng = np.random.default_rng(4)
    for shape in ((7, 6), (8, 9), (1, 3), (50, 41)):
        xv = rng.integers(0, 4, shape).astype(float)
        xv[rng.random(shape) < 0.05] = np.nan
        want = [np.median(xv, 0), np.median(xv[::-1, ::2], 1),
                np.median(xv.T, 1, keepdims=True), np.median(xv.astype("float32"), 0),
                np.zeros(0)]
        for got, w in zip(f(xv), want):
            assert got.dtype == w.dtype or w.size == 0
            np.testing.assert_array_equal(got, w)
    g = cgraph.function([x], T.median(x, 1), mode=mode)
    with pytest.raises(IndexError, match="length 0"):
        g(np.zeros((2, 0)))
