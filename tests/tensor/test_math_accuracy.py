"""tanh and sigmoid in C against an extended-precision reference, in ulps.

Both are computed in csrc/cgraph.h from one vector exp or expm1 (cg_tanh_f64,
cg_sigmoid_f64/f32) rather than libm's tanh or two exps, so their accuracy is pinned
here: over a wide range of arguments (the SIMD loop and its scalar tail), and exactly
at the signed zeros, the infinities, NaN and the arguments where the result saturates.
"""

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


def _arguments(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    tiny = np.finfo(dtype).tiny
    dense = np.linspace(-30.0, 30.0, 60_001)
    small = np.geomspace(tiny, 1.0, 20_000)
    random = rng.standard_normal(20_000) * 4
    edges = np.array([19.0, 19.06, 19.1, 20.0, 9.0, 8.6, 0.55, 0.5493, 1e-8, 745.0, 709.0,
                      88.0, 103.0, 1e300 if dtype == "float64" else 1e30])
    x = np.concatenate([dense, small, -small, random, edges, -edges])
    return x.astype(dtype)[:-1]  # an odd length: the vector loop's scalar tail runs too


def _ulps(got: np.ndarray, want: np.ndarray, dtype: str) -> np.ndarray:
    rounded = want.astype(dtype)
    return np.abs(got.astype(np.longdouble) - want) / np.spacing(np.abs(rounded)).astype(
        np.longdouble)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tanh_within_4_ulp_of_the_extended_reference(dtype):
    x = T.vector("x", dtype=dtype)
    f = cgraph.function([x], T.tanh(x))
    v = _arguments(dtype)
    got = f(v)
    want = np.tanh(v.astype(np.longdouble))
    assert _ulps(got, want, dtype).max() <= 4
    strided = v[::2]  # a strided input: the general loop
    assert _ulps(f(strided), want[::2], dtype).max() <= 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_within_4_ulp_of_the_extended_reference(dtype):
    x = T.vector("x", dtype=dtype)
    f = cgraph.function([x], T.nnet.sigmoid(x))
    v = _arguments(dtype)
    got = f(v)
    want = 1 / (1 + np.exp(-v.astype(np.longdouble)))
    normal = want >= np.finfo(dtype).tiny  # subnormal results: an absolute bound
    assert _ulps(got[normal], want[normal], dtype).max() <= 4
    bound = np.finfo(dtype).smallest_subnormal * 4
    assert np.abs(got[~normal] - want[~normal]).max(initial=0) <= bound


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_special_values(dtype):
    x = T.vector("x", dtype=dtype)
    f = cgraph.function([x], [T.tanh(x), T.nnet.sigmoid(x)])
    v = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 25.0, -25.0, 800.0, -800.0] * 3, dtype)
    th, sg = f(v)
    np.testing.assert_array_equal(th[:9], [0.0, -0.0, 1, -1, np.nan, 1, -1, 1, -1])
    assert np.signbit(th[1]) and not np.signbit(th[0])
    np.testing.assert_array_equal(sg[[0, 1, 2, 3, 4, 7, 8]], [0.5, 0.5, 1, 0, np.nan, 1, 0])
    np.testing.assert_array_equal(th[9:], np.tile(th[:9], 2))
    np.testing.assert_array_equal(sg[9:], np.tile(sg[:9], 2))
