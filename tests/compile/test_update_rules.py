"""Updates as Theano programs write them: accumulators the outputs never read, and
updates whose dtype the shared variable cannot hold."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T


@pytest.mark.parametrize("mode", MODES)
def test_an_update_the_outputs_never_read(mode):
    x = T.dvector("x")
    store = cgraph.shared(np.zeros(3), name="store")
    f = cgraph.function([x], x.sum(), updates=[(store, x * 2)], mode=mode)
    assert float(f([1.0, 2.0, 3.0])) == 6.0
    np.testing.assert_array_equal(store.get_value(), [2.0, 4.0, 6.0])
    f([1.0, 2.0, 5.0])
    np.testing.assert_array_equal(store.get_value(), [2.0, 4.0, 10.0])


@pytest.mark.parametrize("mode", MODES)
def test_rmsprop_keeps_its_accumulator_in_a_shared_variable(mode):
    """The accumulator is read by its own update and the weight's, not by the cost."""
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dvector("y")
    w0 = rng.standard_normal(3)
    w = cgraph.shared(w0.copy(), name="w")
    acc = cgraph.shared(np.zeros(3), name="acc")
    cost = T.mean((T.dot(x, w) - y) ** 2)
    g = cgraph.grad(cost, w)
    new_acc = 0.9 * acc + 0.1 * g ** 2
    f = cgraph.function([x, y], cost, mode=mode,
                        updates=[(acc, new_acc), (w, w - 0.01 * g / T.sqrt(new_acc + 1e-8))])
    xv, yv = rng.standard_normal((5, 3)), rng.standard_normal(5)
    wn, an = w0.copy(), np.zeros(3)
    for _ in range(3):
        f(xv, yv)
        gn = 2 * xv.T @ (xv @ wn - yv) / 5
        an = 0.9 * an + 0.1 * gn ** 2
        wn = wn - 0.01 * gn / np.sqrt(an + 1e-8)
    np.testing.assert_allclose(acc.get_value(), an, rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), wn, rtol=1e-12)


def test_an_update_the_shared_variable_cannot_hold_is_refused():
    """float64 into float32 would round (3e300 becomes inf): a TypeError that names the
    update and says how to cast; a lossless update (int32 into float64) is cast."""
    x = T.dvector("x")
    w = cgraph.shared(np.zeros(2, dtype="float32"), name="w")
    with pytest.raises(TypeError, match=r"update of w .*float64.*T\.cast\(expr, 'float32'\)"):
        cgraph.function([x], x.sum(), updates=[(w, x[:2] * 3e300)])
    v = cgraph.shared(np.zeros(2), name="v")
    i = T.ivector("i")
    f = cgraph.function([i], i.sum(), updates=[(v, i * 2)])
    f(np.array([1, 2], dtype="int32"))
    assert v.get_value().dtype == np.float64
    np.testing.assert_array_equal(v.get_value(), [2.0, 4.0])
    h = cgraph.shared(np.zeros(2, dtype="float32"), name="h")
    g = cgraph.function([x], x.sum(), updates=[(h, T.cast(x[:2] * 0.5, "float32"))])
    g([2.0, 4.0, 1.0])
    np.testing.assert_array_equal(h.get_value(), np.array([1.0, 2.0], dtype="float32"))
