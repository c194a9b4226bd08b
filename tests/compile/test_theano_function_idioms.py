"""Theano idioms of `function` (#16), in modes C and PY: the Print op, givens checked
against the variable they replace, inputs sharing a name, trust_input, and
Function.copy(swap=, delete_updates=)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T
from cgraph.printing import Print


@pytest.mark.parametrize("mode", MODES)
def test_print_prints_after_each_call_and_returns_its_input(mode, capsys):
    x = T.dvector("x")
    shown = Print("x is")(x)
    y = shown * 2
    total = Print("total", attrs=("shape", "sum"))(y).sum()
    f = cgraph.function([x], [y, total], mode=mode)
    got = f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(got[0], [2.0, 4.0])
    assert len(got) == 2 and got[1] == 6.0
    assert capsys.readouterr().out.splitlines() == [
        "x is __str__ = [1. 2.]", "total shape = (2,)", "total sum = 6.0"]
    assert f(np.array([3.0]))[1] == 6.0  # every call prints
    assert "x is __str__ = [3.]" in capsys.readouterr().out
    # a single output, a Print of an input, a nested Print, a gradient through Print
    g = cgraph.function([x], Print("outer")(Print("inner")(x) + 1), mode=mode)
    np.testing.assert_array_equal(g(np.array([1.0])), [2.0])
    assert capsys.readouterr().out.splitlines() == ["inner __str__ = [1.]",
                                                    "outer __str__ = [2.]"]
    dx = cgraph.function([x], cgraph.grad((shown ** 2).sum(), x), mode=mode)
    np.testing.assert_array_equal(dx(np.array([1.0, -3.0])), [2.0, -6.0])
    assert capsys.readouterr().out == "x is __str__ = [ 1. -3.]\n"


def test_print_survives_pickling_and_copies(capsys):
    x = T.dvector("x")
    f = cgraph.function([x], Print("v")(x).sum())
    for twin in (f.copy(), f.copy(share_memory=True)):
        assert twin(np.array([1.0, 2.0])) == 3.0
        assert capsys.readouterr().out == "v __str__ = [1. 2.]\n"
    with pytest.raises(ValueError, match="Print"):
        f.loop(np.ones((3, 2)))


@pytest.mark.parametrize("mode", MODES)
def test_givens_of_another_dtype_or_rank_is_a_clear_type_error(mode):
    fx, d, m = T.fvector("fx"), T.dvector("d"), T.dmatrix("m")
    with pytest.raises(TypeError, match=r"fx \(float32\[\?\]\) is replaced by d .*cast the "
                                        r"replacement \(T.cast\(replacement, 'float32'\)\)"):
        cgraph.function([d], fx * 2, givens={fx: d}, mode=mode)
    with pytest.raises(TypeError, match=r"fx .* by m .*the ranks differ \(1 and 2\)"):
        cgraph.function([m], fx * 2, givens=[(fx, m)], mode=mode)
    # a lossless replacement is cast to the variable's dtype
    i = T.ivector("i")
    f = cgraph.function([i], d * 0.5, givens={d: i}, mode=mode)
    out = f(np.array([1, 3], dtype="int32"))
    assert out.dtype == np.float64 and out.tolist() == [0.5, 1.5]
    # the classic minibatch idiom: a slice of a shared dataset
    data = cgraph.shared(np.arange(12.0, dtype="float32").reshape(6, 2), name="data")
    xb, idx = T.fmatrix("xb"), T.lscalar("idx")
    g = cgraph.function([idx], xb.sum(axis=0), givens={xb: data[idx * 2:(idx + 1) * 2]},
                        mode=mode)
    np.testing.assert_array_equal(g(1), np.arange(12.0).reshape(6, 2)[2:4].sum(axis=0))
    with pytest.raises(TypeError, match="float32 cannot hold float64"):
        cgraph.function([idx], xb.sum(), givens={xb: T.cast(data[idx:], "float64")},
                        mode=mode)
    # a length the variable states is checked at each call
    r = T.drow("r")
    h = cgraph.function([m], r + T.ones((3, 2)), givens={r: m}, mode=mode)
    np.testing.assert_array_equal(h(np.ones((1, 2))), np.full((3, 2), 2.0))
    with pytest.raises(ValueError, match=r"'m' has shape \(2, 2\).*\(1, None\)"):
        h(np.ones((2, 2)))


@pytest.mark.parametrize("mode", MODES)
def test_keyword_naming_two_inputs_is_an_error(mode):
    x, x2, z = T.dvector("x"), T.dvector("x"), T.dvector("z")
    f = cgraph.function([x, x2, z], x - x2 + z, mode=mode)
    np.testing.assert_array_equal(f([5.0], [2.0], z=[1.0]), [4.0])
    with pytest.raises(TypeError, match=r"keyword 'x' is ambiguous: inputs 0 and 1"):
        f(x=[5.0], z=[1.0])
    with pytest.raises(TypeError, match="ambiguous"):
        f([5.0], [2.0], x=[1.0])


@pytest.mark.parametrize("mode", MODES)
def test_trust_input_keyword_never_reads_a_wrong_array(mode):
    x = T.dvector("x")
    f = cgraph.function([x], x * 2, trust_input=True, mode=mode)
    assert f.trust_input
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    # anything else is converted (mode PY, the C call path) or refused, never misread
    for bad, expected in [([1.0, 2.0], [2.0, 4.0]), (np.arange(3), [0.0, 2.0, 4.0]),
                          (np.arange(6.0)[::2], [0.0, 4.0, 8.0])]:
        try:
            out = f(bad)
        except TypeError as err:
            assert "input 0 (x)" in str(err)
        else:
            np.testing.assert_array_equal(out, expected)
    with pytest.raises(TypeError, match="input 0"):
        f(np.ones((2, 2)))
    with pytest.raises(TypeError, match="input 0"):
        f("text")


def test_trust_input_python_path_refuses_conversions():
    x = T.dvector("x")
    with cgraph.config.change_flags(c_call=False):
        f = cgraph.function([x], x + 1, trust_input=True)
    with pytest.raises(TypeError, match=r"trust_input=True .* 1-d ndarray of float64, got "
                                        r"'list'"):
        f([1.0])
    with pytest.raises(TypeError, match="not C-contiguous"):
        f(np.arange(4.0)[::2])
    with pytest.raises(TypeError, match="1-d int64 array"):
        f(np.arange(2))


@pytest.mark.parametrize("mode", MODES)
def test_copy_with_swap_and_delete_updates(mode):
    x = T.dvector("x")
    s1 = cgraph.shared(np.array([1.0, 2.0]), name="s1")
    s2 = cgraph.shared(np.array([10.0, 20.0]), name="s2")
    f = cgraph.function([x], (s1 * x).sum(), updates=[(s1, s1 + x)], mode=mode)
    ones = np.ones(2)
    swapped = f.copy(swap={s1: s2})
    assert swapped(ones) == 30.0
    np.testing.assert_array_equal(s2.get_value(), [11.0, 21.0])
    np.testing.assert_array_equal(s1.get_value(), [1.0, 2.0])
    frozen = f.copy(delete_updates=True, share_memory=True)
    assert frozen(ones) == 3.0 and frozen(ones) == 3.0
    np.testing.assert_array_equal(s1.get_value(), [1.0, 2.0])
    both = f.copy(swap={s1: s2}, delete_updates=True, name="both")
    assert both(ones) == 32.0 and both.name == "both"
    np.testing.assert_array_equal(s2.get_value(), [11.0, 21.0])
    assert f(ones) == 3.0  # the original is untouched
    np.testing.assert_array_equal(s1.get_value(), [2.0, 3.0])
    with pytest.raises(TypeError, match="same type"):
        f.copy(swap={s1: cgraph.shared(np.zeros((2, 2)))})
    with pytest.raises(ValueError, match="not a shared variable of"):
        f.copy(swap={s2: s1})


@pytest.mark.parametrize("mode", MODES)
def test_borrowed_outputs_are_never_overwritten_by_a_later_call(mode):
    """Out(y, borrow=True) is accepted; each call's arrays are its own (an output that
    is an input, too), so keeping one across calls is safe."""
    x = T.dvector("x")
    f = cgraph.function([x], [cgraph.Out(x * 2, borrow=True), cgraph.Out(x, borrow=True)],
                        mode=mode)
    v = np.ones(3)
    first, same = f(v)
    second, _ = f(v * 2)
    np.testing.assert_array_equal(first, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(second, [4.0, 4.0, 4.0])
    assert not np.shares_memory(first, second) and not np.shares_memory(same, v)
