"""benchmarks.statmodels computes what it times: cgraph's value and gradient of the
Gaussian process and eight-schools models against the numpy/scipy reference, on tiny
sizes (no timing), and the hand-written reference gradients against central
differences of the reference values."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import statmodels


@pytest.mark.parametrize("make,n", [(statmodels.schools_case, 8), (statmodels.gp_case, 5),
                                    (statmodels.gp_case, 17)])
def test_cgraph_matches_reference(make, n):
    functions, args, reference = make(n, np.random.default_rng(1), True)
    assert set(functions) >= {"cgraph"}
    statmodels.check(functions, args, reference)


def _central_difference(value, args, i, eps=1e-6):
    """The derivative of value(*args) along the flat entries of args[i]."""
    base = np.atleast_1d(np.asarray(args[i], dtype=float))
    out = np.empty(base.size)
    for k in range(base.size):
        up, down = base.copy(), base.copy()
        up[k] += eps
        down[k] -= eps
        shape = np.shape(args[i])
        plus = [*args[:i], up.reshape(shape), *args[i + 1:]]
        minus = [*args[:i], down.reshape(shape), *args[i + 1:]]
        out[k] = (value(*plus) - value(*minus)) / (2 * eps)
    return out


def test_reference_gradients_are_the_derivatives():
    rng = np.random.default_rng(2)
    x, y, theta = statmodels.gp_data(12, rng)
    want = _central_difference(lambda *a: statmodels.gp_reference(*a)[0], (x, y, theta), 2)
    np.testing.assert_allclose(statmodels.gp_reference(x, y, theta)[1], want, rtol=1e-6)
    params = (np.array(1.3), np.array(0.4), rng.normal(size=8))
    want = np.concatenate([
        _central_difference(lambda *a: statmodels.schools_reference(*a)[0], params, i)
        for i in range(3)])
    np.testing.assert_allclose(statmodels.schools_reference(*params)[1], want, rtol=1e-6)
