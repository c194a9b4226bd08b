"""sort and argsort (templates/lanes.c.j2: a radix sort of each lane's keys, NaNs last)
against numpy's stable sort: every dtype, lanes shorter and longer than the insertion
sort's 32, ties, signed zeros, infinities and NaN, both axes."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T

DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
          "uint32", "uint64"]


def _values(dtype: str, shape: tuple, rng) -> np.ndarray:
    if dtype.startswith("float"):
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, 1e-30, -1e30, 7.0])
        picks = rng.integers(0, len(pool), shape)
        noise = rng.normal(size=shape) * 100
        return np.where(rng.random(shape) < 0.5, pool[picks], noise).astype(dtype)
    info = np.iinfo(dtype)
    extremes = np.array([info.min, info.max, 0, 1], dtype=dtype)
    small = rng.integers(max(info.min, -5), min(info.max, 5) + 1, shape).astype(dtype)
    wide = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    pick = rng.random(shape)
    return np.where(pick < 0.1, extremes[rng.integers(0, 4, shape)],
                    np.where(pick < 0.5, small, wide))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sort_and_argsort_equal_numpy_stable_sort(dtype):
    rng = np.random.default_rng(sum(map(ord, dtype)))
    x = T.matrix("x", dtype=dtype)
    f = cgraph.function([x], [T.sort(x, axis=1), T.argsort(x, axis=1),
                              T.sort(x, axis=0), T.argsort(x, axis=0)])
    for shape in ((3, 31), (2, 32), (4, 33), (3, 700), (1, 0), (0, 5)):
        a = _values(dtype, shape, rng)
        got = f(a)
        want = [np.sort(a, axis=1, kind="stable"), np.argsort(a, axis=1, kind="stable"),
                np.sort(a, axis=0, kind="stable"), np.argsort(a, axis=0, kind="stable")]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w, err_msg=f"{dtype} {shape}")
            if g.dtype.kind == "f":  # -0.0 and 0.0 keep their order, as numpy's
                np.testing.assert_array_equal(np.signbit(g), np.signbit(w))
