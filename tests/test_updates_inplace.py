"""Updates written into the shared variables' own storage, and the aliasing cases."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T

MODES = ["C", "PY"]


@pytest.mark.parametrize("mode", MODES)
def test_swap_and_cross_reads_use_old_values(mode):
    a = cgraph.shared(np.array([1.0, 2.0]), name="a")
    b = cgraph.shared(np.array([10.0, 20.0]), name="b")
    f = cgraph.function([], [a + b], updates=[(a, b * 2.0), (b, a + b)], mode=mode)
    (s,) = f()
    np.testing.assert_array_equal(s, [11.0, 22.0])
    np.testing.assert_array_equal(a.get_value(), [20.0, 40.0])
    np.testing.assert_array_equal(b.get_value(), [11.0, 22.0])


@pytest.mark.parametrize("mode", MODES)
def test_output_that_is_also_an_update(mode):
    w = cgraph.shared(np.arange(3.0), name="w")
    new = w * 2.0
    f = cgraph.function([], [new, w], updates=[(w, new)], mode=mode)
    out, old = f()
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(old, [0.0, 1.0, 2.0])  # the value before the call
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0, 4.0])
    out2, old2 = f()
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])  # earlier results untouched
    np.testing.assert_array_equal(old2, [0.0, 2.0, 4.0])


def test_update_writes_the_same_storage_and_borrow_sees_it():
    w = cgraph.shared(np.zeros(3), name="w")
    inner = w.get_value(borrow=True)
    copy = w.get_value()
    f = cgraph.function([], [], updates=[(w, w + 1.0)])
    f()
    assert w.get_value(borrow=True) is inner  # no new array per call
    np.testing.assert_array_equal(inner, np.ones(3))
    np.testing.assert_array_equal(copy, np.zeros(3))  # a copy is a copy


@pytest.mark.parametrize("mode", MODES)
def test_update_that_changes_the_shape(mode):
    s = cgraph.shared(np.array([1.0]), name="s")
    x = T.dvector("x")
    grow = cgraph.function([x], s.sum(), updates=[(s, T.concatenate([s, x]))], mode=mode)
    grow(np.array([2.0, 3.0]))
    grow(np.array([4.0]))
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0, 3.0, 4.0])
    assert grow(np.array([])) == 10.0


def test_same_shared_read_by_several_functions():
    w = cgraph.shared(np.array([1.0, 1.0]), name="w")
    step = cgraph.function([], [], updates=[(w, w * 3.0)])
    read = cgraph.function([], w.sum())
    step()
    assert read() == 6.0
    w.set_value(np.array([1.0, 2.0, 3.0]))  # a new shape: new storage, new plan
    step()
    assert read() == 18.0


def test_failed_call_leaves_shared_storage_untouched():
    w = cgraph.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = cgraph.function([x], T.dot(w, x), updates=[(w, w + 1.0)])
    with pytest.raises(ValueError):
        f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
