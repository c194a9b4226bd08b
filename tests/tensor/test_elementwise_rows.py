"""The elementwise row loop with an operand broadcast along the last axis by its type
(a channel's bias over an image: read once a row), against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor.elemwise_kernel import merge_axes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bias_over_rows_equals_numpy_for_any_layout(dtype):
    x, b = T.tensor4("x", dtype=dtype), T.vector("b", dtype=dtype)
    bias = b.dimshuffle("x", 0, "x", "x")
    f = cgraph.function([x, b], [T.tanh(x + bias), x * bias - bias])
    assert "b_i1]" in f.c_source  # the row loop reads the bias once a row
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 5, 7)).astype(dtype)
    c = rng.standard_normal(4).astype(dtype)
    tol = 2e-6 if dtype == "float32" else 1e-14
    for v in (a, a[:, :, ::2], a.transpose(0, 1, 3, 2), a[:, :, :, :0], a[:, :, :, :1],
              a[:, :, :1, :1]):  # rows of one point: the bias steps along the merged axis
        want_b = c[None, :, None, None]
        got = f(v, c)
        for g, w in zip(got, (np.tanh(v + want_b), v * want_b - want_b)):
            assert g.dtype == dtype and g.shape == v.shape
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_merge_axes_joins_axes_every_operand_steps_across_alike():
    # a channel's bias over images: H and W become one row of H*W points
    shape, strides = merge_axes((64, 20, 12, 12), [(2880, 144, 12, 1), (0, 1, 0, 0)])
    assert shape == (1, 64, 20, 144)
    assert strides == [(0, 2880, 144, 1), (0, 0, 1, 0)]
    # a transposed operand keeps its axes apart; length-1 axes go
    shape, strides = merge_axes((3, 1, 4, 5), [(20, 20, 5, 1), (1, 7, 1, 4)])
    assert shape == (1, 3, 4, 5)
    assert strides == [(0, 20, 5, 1), (0, 1, 1, 4)]
    # broadcast along the outer axes only: one flat row for the operand, 0 for the other
    assert merge_axes((2, 3, 4), [(12, 4, 1), (0, 0, 0)]) == ((1, 1, 24), [(0, 0, 1), (0, 0, 0)])
    # nothing to merge, an empty loop, and rank 1 are left alone
    assert merge_axes((3, 4), [(1, 3)]) == ((3, 4), [(1, 3)])
    assert merge_axes((0, 4, 5), [(20, 5, 1)]) == ((0, 4, 5), [(20, 5, 1)])
    assert merge_axes((7,), [(1,)]) == ((7,), [(1,)])


@pytest.mark.parametrize("seed", range(6))
def test_merged_loops_equal_numpy_over_random_broadcast_patterns(seed):
    """Operands broadcast along random axes by their types (Theano's rule), each given
    in a random layout: the merged loop computes what numpy does."""
    rng = np.random.default_rng(100 + seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=4))
    patterns = [tuple(bool(b) for b in rng.integers(0, 2, size=4)) for _ in range(3)]
    variables, values = [], []
    for k, pattern in enumerate(patterns):
        static = tuple(1 if b else None for b in pattern)
        variables.append(T.tensor(dtype="float64", shape=static, name=f"v{k}"))
        value = rng.standard_normal(tuple(1 if b else n for b, n in zip(pattern, shape)))
        if rng.integers(2):
            value = np.asfortranarray(value)
        values.append(value)
    full = T.tensor4("full", dtype="float64")
    a, b, c = variables
    f = cgraph.function([full, *variables], T.exp(T.sin(full * a) + b) - c)
    x = rng.standard_normal(shape)
    for v in (x, x.transpose(0, 2, 1, 3).copy().transpose(0, 2, 1, 3), x[::-1]):
        np.testing.assert_allclose(f(v, *values),
                                   np.exp(np.sin(v * values[0]) + values[1]) - values[2],
                                   rtol=1e-13, atol=1e-13)


def test_merge_axes_keeps_row_operands_broadcast_along_the_last_axis():
    # a bias read once a row over images of one point: merging C with the H, W of
    # length 1 would make the bias step along the row, so the loop stays as it is
    strides = [(3, 1, 1, 1), (0, 1, 0, 0)]
    assert merge_axes((2, 3, 1, 1), strides, rows=[1]) == ((2, 3, 1, 1), strides)
    assert merge_axes((2, 3, 1, 1), strides)[0] == (1, 1, 2, 3)
