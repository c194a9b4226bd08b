"""OpenMP loops (config.openmp): the parallel branches of the elementwise, fused-sum and
reduction templates give numpy's values, and sums do not depend on the thread count.

The thresholds are forced to 1 element (-DCG_OMP_MIN_*=1) so that small test arrays
take the parallel branches.
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T

FORCE = " -DCG_OMP_MIN_ELEMWISE=1 -DCG_OMP_MIN_REDUCE=1"


def compiled(inputs, outputs, openmp=True, num_threads=2):
    flags = cgraph.config.cflags + (FORCE if openmp else "")
    with cgraph.config.change_flags(openmp=openmp, num_threads=num_threads, cflags=flags):
        return cgraph.function(inputs, outputs)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_elementwise_dense_rows_and_strided(rng):
    x, r = T.dmatrix(), T.dvector()
    f = compiled([x, r], T.exp(x) * r + x)
    a, b = rng.standard_normal((40, 30)), rng.standard_normal(30)
    for args in ((a, b), (a[:, ::2], b[::2]), (a[::3], b)):  # rows, strided, rows
        np.testing.assert_allclose(f(*args), np.exp(args[0]) * args[1] + args[0])
    g = compiled([x], T.sin(x.T))  # transposed input: the general strided loop
    np.testing.assert_allclose(g(a), np.sin(a.T))


def test_nan_and_inf_pass_through_parallel_loops():
    x = T.dvector()
    f = compiled([x], T.exp(x) + 1)
    a = np.array([np.nan, np.inf, -np.inf, 0.0] * 5)
    np.testing.assert_array_equal(f(a), np.exp(a) + 1)


@pytest.mark.slow
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("op", ["sum", "max", "prod", "argmax"])
def test_reductions_match_numpy(rng, op, axis):
    if op == "argmax" and axis is None:
        pytest.skip("argmax of a whole matrix is flattened first")
    x = T.dmatrix()
    f = compiled([x], getattr(T, op)(x, axis=axis))
    for a in (rng.standard_normal((3, 20000)), rng.standard_normal((300, 70))):
        for view in (a, a[:, ::2]):
            np.testing.assert_allclose(f(view), getattr(np, op)(view, axis=axis), rtol=1e-9)


@pytest.mark.slow
def test_sums_do_not_depend_on_the_number_of_threads(rng):
    x, v = T.dmatrix(), T.dvector()
    a, b = rng.standard_normal((2, 300_001)), rng.standard_normal(200_003)
    results = []
    for openmp, threads in ((False, 0), (True, 1), (True, 2), (True, 3)):
        f = compiled([x, v], [T.sum(x), T.sum(x, axis=1), T.sum(T.exp(v))], openmp, threads)
        results.append([r.tobytes() for r in f(a, b)])
    assert all(r == results[0] for r in results)
    np.testing.assert_allclose(np.frombuffer(results[0][2]), np.exp(b).sum(), rtol=1e-12)
