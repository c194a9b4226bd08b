"""Bugs found by the differential fuzzer (tests/compile/test_fuzz.py), kept as strict xfails
until they are fixed in the op library; the fuzzer steers around them meanwhile.

When one is fixed its test passes, and strict=True turns that into a failure: then
remove the xfail here and the matching exclusion in tests/compile/test_fuzz.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_flatten_of_a_zero_size_array_keeps_the_merged_length(mode):
    x = T.dtensor3("x")
    f = cgraph.function([x], T.flatten(x, 2), mode=mode)
    assert f(np.zeros((0, 2, 3))).shape == (0, 6)  # numpy: reshape(0, 6)


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_set_subtensor_gradient_with_repeated_indices(mode):
    a, y = T.dvector("a"), T.dscalar("y")
    out = T.set_subtensor(a[np.array([0, 0])], y)  # out[0] = y (written twice)
    g = cgraph.function([a, y], cgraph.grad(T.sum(out * 3.0), y), mode=mode)
    assert float(g(np.zeros(3), 1.0)) == 3.0  # d(3 * y)/dy, numerically too
