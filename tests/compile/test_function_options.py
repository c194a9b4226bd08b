"""function() options from Theano: In/Out, defaults and keywords, default_update,
no_default_updates, on_unused_input='warn', trust_input, plural constructors."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph import In, Out


@pytest.mark.parametrize("mode", ["C", "PY"])
def test_defaults_and_keywords(mode):
    x, y = T.dscalars("x", "y")
    f = cgraph.function([x, In(y, value=2.5)], x * y + 1, mode=mode)
    assert f(2.0) == 6.0
    assert f(2.0, 3.0) == 7.0
    assert f(x=1.0, y=4.0) == 5.0
    assert f(3.0, y=0.0) == 1.0
    with pytest.raises(TypeError, match="missing input 0"):
        f(y=1.0)
    with pytest.raises(TypeError, match="no input named 'z'"):
        f(1.0, z=2.0)
    with pytest.raises(TypeError, match="twice"):
        f(1.0, x=2.0)
    g = cgraph.function([In(x, name="rate")], x * 2.0, mode=mode)
    assert g(rate=4.0) == 8.0


def test_implicit_input_and_out():
    x, k = T.dvectors("x", "k")
    f = cgraph.function([x, In(k, value=np.array([10.0, 20.0]), implicit=True)],
                        Out(x + k, borrow=True))
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [11.0, 22.0])
    with pytest.raises(TypeError, match="positional"):
        f(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="needs a value"):
        In(k, implicit=True)
    with pytest.raises(NotImplementedError, match="shared"):
        In(k, value=1.0, update=k + 1)


def test_default_update_and_no_default_updates():
    counter = cgraph.shared(np.array(0, dtype="int64"), name="counter")
    counter.default_update = counter + 1
    x = T.dscalar("x")
    f = cgraph.function([x], x * counter)
    assert f(2.0) == 0.0 and f(2.0) == 2.0 and counter.get_value() == 2
    frozen = cgraph.function([x], x * counter, no_default_updates=True)
    frozen(1.0)
    assert counter.get_value() == 2
    listed = cgraph.function([x], x * counter, no_default_updates=[counter])
    listed(1.0)
    assert counter.get_value() == 2
    explicit = cgraph.function([x], x * counter, updates=[(counter, counter + 10)])
    explicit(1.0)
    assert counter.get_value() == 12


def test_unused_input_policies():
    x, y = T.dscalars("x", "y")
    with pytest.warns(UserWarning, match="not used"):
        f = cgraph.function([x, y], x * 2.0, on_unused_input="warn")
    assert f(1.0, 5.0) == 2.0
    with pytest.raises(ValueError, match="on_unused_input"):
        cgraph.function([x], x, on_unused_input="sometimes")


def test_trust_input_skips_checks_for_right_arrays():
    x = T.dvector("x")
    f = cgraph.function([x], x * 2.0)
    f.trust_input = True
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])


def test_plural_constructors():
    a, b = T.dscalars("a", "b")
    m1, m2, m3 = T.fmatrices(3)
    assert (a.name, b.name) == ("a", "b") and a.type == T.dscalar().type
    assert m1.dtype == "float32" and m1.ndim == 2 and m3.name is None
    assert [v.ndim for v in T.lvectors("i", "j")] == [1, 1]
