"""Odd and wrong arguments give a correct result or a clear exception, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T


@pytest.fixture(scope="module")
def f():
    x, m = T.dvector("x"), T.dmatrix("m")
    return cgraph.function([x, m], [T.dot(m, x) + 1.0, T.exp(x).sum()])


def reference(x, m):
    return [m @ x + 1.0, np.exp(x).sum()]


def check(f, x, m):
    for got, want in zip(f(x, m), reference(np.asarray(x, float), np.asarray(m, float))):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def misaligned(values: np.ndarray) -> np.ndarray:
    raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=values.dtype, offset=1, count=values.size)
    out = out.reshape(values.shape)
    out[...] = values
    return out


def test_odd_layouts_give_correct_results(f):
    rng = np.random.default_rng(1)
    x, m = rng.standard_normal(4), rng.standard_normal((3, 4))
    check(f, x, m)
    check(f, x[::-1], m[:, ::-1])                       # negative strides
    check(f, np.repeat(x, 2)[::2], np.asfortranarray(m))  # strided, Fortran order
    check(f, misaligned(x), misaligned(m))              # not aligned to 8 bytes
    ro_x, ro_m = x.copy(), m.copy()
    ro_x.flags.writeable = ro_m.flags.writeable = False
    check(f, ro_x, ro_m)                                # read-only
    check(f, [1, 2, 3, 4], m.tolist())                  # lists, ints
    check(f, np.arange(4, dtype=np.int32), m.astype(np.float32))  # lossless dtypes
    empty = f(np.zeros(0), np.zeros((3, 0)))
    np.testing.assert_array_equal(empty[0], np.ones(3))


def test_nan_and_inf_propagate(f):
    x = np.array([np.nan, np.inf, -np.inf, 0.0])
    m = np.abs(np.eye(4)[:3]) + 0.5
    with np.errstate(invalid="ignore"):
        want = reference(x, m)
    for got, expected in zip(f(x, m), want):
        np.testing.assert_array_equal(got, expected)
    y = np.array([np.inf, 1.0, -np.inf, 2.0])
    out, total = f(y, np.eye(4)[:3] * 0 + np.eye(4)[:3])  # 0 * inf is NaN, as in numpy
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out, np.eye(4)[:3] @ y + 1.0)
    assert total == np.inf


@pytest.mark.parametrize("bad, error, fragment", [
    (None, TypeError, r"input 0 \(x\)"),
    (object(), TypeError, r"input 0 \(x\)"),
    ("abc", TypeError, r"input 0 \(x\)"),
    ([[1.0, 2.0]], TypeError, "1-d"),
    (np.ones(4, dtype=complex), TypeError, "complex"),
    (np.ones(3), ValueError, "shape"),
])
def test_wrong_arguments_raise_clearly(f, bad, error, fragment):
    with pytest.raises(error, match=fragment):
        f(bad, np.ones((3, 4)))


def test_failed_call_keeps_shared_values():
    w = cgraph.shared(np.arange(3.0), name="w")
    x = T.dvector("x")
    step = cgraph.function([x], T.dot(w, x), updates=[(w, w + x)])
    step(np.ones(3))
    with pytest.raises(ValueError):
        step(np.ones(4))
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0) + 1)


def test_shape_error_names_the_users_line():
    x, m = T.dvector("x"), T.dmatrix("m")
    out = T.dot(m, x) + x  # the line the error must point at
    line = test_shape_error_names_the_users_line.__code__.co_firstlineno + 2
    f = cgraph.function([x, m], out)
    with pytest.raises(ValueError, match=rf"created at .*test_bad_input.py:{line}") as info:
        f(np.ones(3), np.ones((2, 3)))
    assert "(2,), (3,)" in str(info.value)
