"""Slices with symbolic bounds inside a scan step, against numpy loops."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad
from cgraph.scan import scan


def windows(t, v):
    return v[t:t + 3].sum() + v[t + 1:t + 3].prod() + v[t - 2:t].sum()


@pytest.mark.parametrize("mode", MODES)
def test_windows_that_move_with_the_step(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(windows, sequences=T.arange(2, n), non_sequences=x)
    f = cgraph.function([x, n], out, mode=mode)
    data = rng_for("windows").normal(size=9)
    want = [data[t:t + 3].sum() + data[t + 1:t + 3].prod() + data[t - 2:t].sum()
            for t in range(2, 7)]
    np.testing.assert_allclose(f(data, 7), want, rtol=1e-14)
    # A window past the end would be shorter in numpy: the loop's shapes cannot change.
    with pytest.raises(IndexError, match="out of bounds"):
        f(data, 9)


@pytest.mark.parametrize("mode", MODES)
def test_a_window_of_a_non_sequence_length_on_a_matrix(mode):
    M, n, k, r = T.dmatrix("M"), T.lscalar("n"), T.lscalar("k"), T.lscalar("r")
    out, _ = scan(lambda t, A, kk, row: A[:, t:t + kk] * 2 + A[row, t:t + kk],
                  sequences=T.arange(n), non_sequences=[M, k, r])
    f = cgraph.function([M, n, k, r], out, mode=mode)
    data = rng_for("window matrix").normal(size=(3, 6))
    for steps, length, row in [(4, 2, 1), (2, 4, -1)]:  # a new length: a new plan
        want = [data[:, t:t + length] * 2 + data[row, t:t + length] for t in range(steps)]
        np.testing.assert_allclose(f(data, steps, length, row), np.stack(want), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_bounds_given_as_non_sequences_follow_numpy(mode):
    x, n, i, j = T.dvector("x"), T.lscalar("n"), T.lscalar("i"), T.lscalar("j")
    out, _ = scan(lambda t, v, a, b: v[a:b] * t + v[b:].sum(), sequences=T.arange(n),
                  non_sequences=[x, i, j])
    f = cgraph.function([x, n, i, j], out, mode=mode)
    data = np.arange(10.0) ** 2
    for a, b in [(2, 5), (-3, 100), (7, 3)]:  # clipped and empty slices as numpy's
        want = [data[a:b] * t + data[b:].sum() for t in range(3)]
        np.testing.assert_array_equal(f(data, 3, a, b), np.stack(want))


@pytest.mark.parametrize("mode", MODES)
def test_gradient_through_windows(mode):
    x, n = T.dvector("x"), T.lscalar("n")
    out, _ = scan(lambda t, v: (v[t:t + 3] ** 2).sum() * v[t - 1:t + 1].sum(),
                  sequences=T.arange(1, n), non_sequences=x)
    cost = (out * T.arange(1.0, 5.0)).sum()
    f = cgraph.function([x, n], cgraph.grad(cost, x), mode=mode)
    value = cgraph.function([x, n], cost, mode="PY")
    data = rng_for("window grad").normal(size=7)
    numeric = numeric_grad(lambda v: float(value(v, 5)), [data], 1e-6)[0]
    np.testing.assert_allclose(f(data, 5), numeric, rtol=1e-6, atol=1e-8)

