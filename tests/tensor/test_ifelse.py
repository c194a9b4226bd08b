"""ifelse: lazy in C and in mode "PY" (the branch not taken is not computed), values,
several outputs, nesting, conditions from data, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.ifelse import ifelse


@pytest.mark.parametrize("mode", MODES)
def test_values_and_several_outputs(mode):
    a, b = T.dscalars("a", "b")
    x = T.dvector("x")
    small, big = ifelse(T.lt(a, b), [T.exp(x), a * 2.0], [x ** 2,
                                                         b * 3.0])
    f = cgraph.function([a, b, x], [small, big], mode=mode)
    v = np.array([0.5, -1.0, 2.0])
    s, t = f(1.0, 2.0, v)
    np.testing.assert_allclose(s, np.exp(v), rtol=1e-15)
    assert t == 2.0
    s, t = f(3.0, 2.0, v)
    np.testing.assert_array_equal(s, v ** 2)
    assert t == 6.0


@pytest.mark.parametrize("mode", MODES)
def test_branches_of_different_shapes_and_nesting(mode):
    c1, c2 = T.lscalars("c1", "c2")
    m = T.dmatrix("m")
    inner = ifelse(c2, m.sum(axis=0), m.sum(axis=1))
    out = ifelse(c1, inner, T.concatenate([m.sum(axis=0), m.sum(axis=1)]))
    f = cgraph.function([c1, c2, m], out, mode=mode)
    data = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(1, 1, data), data.sum(axis=0))
    np.testing.assert_array_equal(f(1, 0, data), data.sum(axis=1))
    np.testing.assert_array_equal(f(0, 1, data),
                                  np.concatenate([data.sum(axis=0), data.sum(axis=1)]))


@pytest.mark.parametrize("mode", MODES)
def test_branch_not_taken_is_not_computed(mode):
    c = T.lscalar("c")
    m, v = T.dmatrix("m"), T.dvector("v")
    # The true branch cannot be computed for these shapes (dot of 2x3 with a 4-vector).
    out = ifelse(c, T.dot(m, v).sum(), v.sum())
    f = cgraph.function([c, m, v], out, mode=mode)
    assert f(0, np.ones((2, 3)), np.arange(4.0)) == 6.0
    with pytest.raises(ValueError, match="not aligned"):
        f(1, np.ones((2, 3)), np.arange(4.0))


def test_kernels_of_the_other_branch_do_not_run():
    c = T.lscalar("c")
    x = T.dvector("x")
    f = cgraph.function([c, x], ifelse(c, T.exp(x).sum(), T.sin(x).sum()), profile=True)
    for _ in range(5):
        f(1, np.ones(10))
    rows = f.profile.rows()
    exp_calls = [r["calls"] for r in rows if "exp" in r["node"].split("=")[1].split("(")[0]]
    sin_calls = [r["calls"] for r in rows if "sin" in r["node"].split("=")[1].split("(")[0]]
    assert exp_calls and set(exp_calls) == {5}  # (possibly fused with the sum)
    assert sin_calls and set(sin_calls) == {0}


@pytest.mark.parametrize("mode", MODES)
def test_condition_from_array_data(mode):
    x = T.dvector("x")
    out = ifelse(T.gt(x.sum(), 0), x * 2.0, -x)
    f = cgraph.function([x], out, mode=mode)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_array_equal(f(np.array([-1.0, -2.0])), [1.0, 2.0])


@pytest.mark.parametrize("cond", [0, 1])
def test_gradient_through_ifelse(cond):
    c = T.lscalar("c")
    x = T.dvector("x")
    cost = ifelse(c, (x ** 2).sum(), (x ** 3).sum() * 2.0)
    g = cgraph.function([c, x], cgraph.grad(cost, x))
    v = np.array([0.5, -1.5, 2.0])
    expected = 2 * v if cond else 6 * v ** 2
    np.testing.assert_allclose(g(cond, v), expected, rtol=1e-14)


def test_bad_branches():
    x, m = T.dvector("x"), T.dmatrix("m")
    with pytest.raises(TypeError, match="ranks differ"):
        ifelse(T.lscalar(), x, m)
    with pytest.raises(TypeError, match="scalar"):
        ifelse(x, x, x)
    with pytest.raises(ValueError, match="when false"):
        ifelse(T.lscalar(), [x, x], [x])
