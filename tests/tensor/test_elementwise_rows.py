"""The elementwise row loop with an operand broadcast along the last axis by its type
(a channel's bias over an image: read once a row), against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


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
    for v in (a, a[:, :, ::2], a.transpose(0, 1, 3, 2), a[:, :, :, :0], a[:, :, :, :1]):
        want_b = c[None, :, None, None]
        got = f(v, c)
        for g, w in zip(got, (np.tanh(v + want_b), v * want_b - want_b)):
            assert g.dtype == dtype and g.shape == v.shape
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
