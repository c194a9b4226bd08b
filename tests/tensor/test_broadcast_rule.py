"""Theano's broadcasting rule: only an axis whose static length is 1 stretches.

A length 1 met at run time on an axis typed `?` is a ValueError naming the operand,
the axis and how to declare it, in mode C and in mode PY; declared axes broadcast and
their gradients sum back. The types then decide what a gradient sums, so the
gradients of same-shape operations keep no SumTo (found before the rule: the gradient
of sum(a[:, :1] * b[:1, :]) failed in SumTo in mode C, since a rewrite trusted static
shapes that numpy's rule did not back).
"""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.tensor.reduce import BroadcastLike, SumTo

MODES = ["C", "PY"]
RNG = np.random.default_rng(19)


@pytest.mark.parametrize("mode", MODES)
def test_an_undeclared_length_one_does_not_stretch(mode):
    m, v = T.dmatrix("m"), T.dmatrix("v")
    f = cgraph.function([m, v], T.exp(m) * v + 1, mode=mode)
    with pytest.raises(ValueError) as err:
        f(np.ones((2, 3)), np.ones((1, 3)))
    text = str(err.value)
    assert "(v) has length 1 on axis 0" in text
    assert "length 2" in text and "T.addbroadcast(v, 0)" in text
    assert "Theano's rule" in text
    # equal lengths and declared axes still work
    np.testing.assert_allclose(f(np.zeros((2, 3)), np.full((2, 3), 2.0)), np.full((2, 3), 3.0))
    g = cgraph.function([m, v], T.exp(m) * T.addbroadcast(v, 0) + 1, mode=mode)
    mv, vv = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 3))
    np.testing.assert_allclose(g(mv, vv), np.exp(mv) * vv + 1, rtol=1e-14)
    with pytest.raises(ValueError, match="specified shape"):
        g(mv, np.ones((2, 3)))


@pytest.mark.parametrize("mode", MODES)
def test_the_fused_part_that_fails_is_named(mode):
    x, y, z = T.dvectors("x", "y", "z")
    f = cgraph.function([x, y, z], T.sin(x) * y + z, mode=mode)
    with pytest.raises(ValueError, match=r"has length 1 on axis 0") as err:
        f(np.ones(4), np.ones(4), np.ones(1))
    if mode == "C":
        assert "the failing part" in str(err.value)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_of_a_declared_broadcast_product(mode):
    a, b = T.dmatrix("a"), T.dmatrix("b")
    x = T.addbroadcast(a[:, :1], 1)     # (5, 1)
    y = T.addbroadcast(b[:1, :], 0)     # (1, 3)
    ga, gb = cgraph.grad((x * y).sum(), [a, b])
    f = cgraph.function([a, b], [ga, gb], mode=mode)
    av, bv = RNG.standard_normal((5, 4)), RNG.standard_normal((2, 3))
    want_a, want_b = np.zeros_like(av), np.zeros_like(bv)
    want_a[:, 0] = bv[0].sum()
    want_b[0] = av[:, 0].sum()
    got_a, got_b = f(av, bv)
    np.testing.assert_allclose(got_a, want_a, rtol=1e-13)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-13)
    # the same product without the declarations is an error, not a wrong sum (in mode
    # C the rewrites drop the product itself: the gradient's own shapes clash then)
    h = cgraph.function([a, b], cgraph.grad((a[:, :1] * b[:1, :]).sum(), a), mode=mode)
    clash = "addbroadcast" if mode == "PY" else "could not be broadcast"
    with pytest.raises(ValueError, match=clash):
        h(av, bv)


def test_gradients_of_same_shape_operations_keep_no_sum_to():
    x, w = T.dmatrix("x"), T.dmatrix("w")
    b = T.dvector("b")
    cost = (T.tanh(x * w + b) ** 2).sum()
    gx, gw, gb = cgraph.grad(cost, [x, w, b])
    graph = cgraph.graph.basic.toposort([gx, gw, gb])
    summed = [n for n in graph if isinstance(n.op, SumTo)]
    assert len(summed) == 1 and summed[0].outputs[0].type.shape == (1, None)  # b's row
    f = cgraph.function([x, w, b], [gx, gw, gb])
    xv, wv, bv = (RNG.standard_normal(s) for s in [(4, 3), (4, 3), (3,)])
    t = np.tanh(xv * wv + bv)
    d = 2 * t * (1 - t * t)
    got = f(xv, wv, bv)
    for g, want in zip(got, [d * wv, d * xv, d.sum(axis=0)]):
        np.testing.assert_allclose(g, want, rtol=1e-12)


def test_xor_step_keeps_no_sum_to():
    from benchmarks.xor import tutorial_step

    step, _ = tutorial_step(cgraph)
    assert not [n for n in step.fgraph.toposort() if isinstance(n.op, (SumTo, BroadcastLike))]


@pytest.mark.parametrize("mode", MODES)
def test_gemm_bias_follows_the_rule(mode):
    a, b, c = T.dmatrices("a", "b", "c")
    f = cgraph.function([a, b, c], T.dot(a, b) + c, mode=mode)
    av, bv = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))
    with pytest.raises(ValueError, match="axis 0"):
        f(av, bv, np.ones((1, 2)))
    cv = RNG.standard_normal((3, 2))
    np.testing.assert_allclose(f(av, bv, cv), av @ bv + cv, rtol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_unbroadcast_and_patternbroadcast(mode):
    r = T.drow("r")
    m = T.dmatrix("m")
    assert T.unbroadcast(r, 0).type.shape == (None, None)
    assert T.patternbroadcast(m, (True, False)).type.shape == (1, None)
    assert T.patternbroadcast(r, (False, False)).type.shape == (None, None)
    f = cgraph.function([r, m], T.unbroadcast(r, 0) + m, mode=mode)
    with pytest.raises(ValueError, match="input 0"):
        f(np.ones((1, 2)), np.ones((3, 2)))
    np.testing.assert_allclose(f(np.ones((1, 2)), np.ones((1, 2))), np.full((1, 2), 2.0))
    g = cgraph.grad((T.unbroadcast(r, 0) * 3.0).sum(), r)
    np.testing.assert_allclose(cgraph.function([r], g, mode=mode)(np.ones((1, 2))),
                               np.full((1, 2), 3.0))


def test_shared_broadcastable():
    s = cgraph.shared(np.arange(3.0).reshape(1, 3), broadcastable=(True, False), name="s")
    assert s.type.shape == (1, None)
    m = T.dmatrix("m")
    f = cgraph.function([m], m * s)
    np.testing.assert_allclose(f(np.ones((2, 3))), np.tile(np.arange(3.0), (2, 1)))
    with pytest.raises(ValueError, match="broadcastable"):
        cgraph.shared(np.zeros(3), broadcastable=(True, False))


def test_numpy_rule_ops_keep_numpy_rule():
    """alloc's value and set_subtensor's value broadcast by numpy's rule, as in numpy."""
    v, m = T.dvector("v"), T.dmatrix("m")
    f = cgraph.function([v, m], [T.alloc(v, 2, 3), T.set_subtensor(m[:, 1:], v)])
    got_alloc, got_set = f(np.array([5.0]), np.zeros((2, 3)))
    np.testing.assert_allclose(got_alloc, np.full((2, 3), 5.0))
    np.testing.assert_allclose(got_set, [[0, 5, 5], [0, 5, 5]])
    ga = cgraph.function([v], cgraph.grad(T.alloc(v, 2, 3).sum(), v))
    np.testing.assert_allclose(ga(np.array([5.0])), [6.0])


def test_seed_of_a_sum_of_a_same_shape_product_is_still_dropped():
    """sum(exp(x) * x): the seed's BroadcastLike goes, since exp(x) has x's shape."""
    x = T.dvector("x")
    g = cgraph.grad((T.exp(x) * x).sum(), x)
    f = cgraph.function([x], g)
    kept = [n for n in f.fgraph.toposort() if isinstance(n.op, BroadcastLike)]
    assert not kept
    xv = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(xv), np.exp(xv) * (xv + 1), rtol=1e-13)
