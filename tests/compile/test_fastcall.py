"""The C call path (csrc/cg_fastcall.h) against the Python one (config.c_call=False):
same results, same updates, same errors, no leaked references."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet


def xor_pair():
    """The tutorial's cost function, built twice: C call path and Python call path."""
    fns = []
    for c_call in (True, False):
        with cgraph.config.change_flags(c_call=c_call):
            x, y = T.dvector("x"), T.dscalar("y")
            t1 = cgraph.shared(np.linspace(-1, 1, 9).reshape(3, 3), name="t1")
            t2 = cgraph.shared(np.linspace(0.5, -0.5, 4).reshape(4, 1), name="t2")

            def layer(v, w):
                return nnet.sigmoid(T.dot(w.T, T.concatenate([v, np.array([1.0])])))

            fc = (T.sum(layer(layer(x, t1), t2)) - y) ** 2
            f = cgraph.function([x, y], fc, updates=[(t1, t1 - 0.1 * T.grad(fc, t1)),
                                                     (t2, t2 - 0.1 * T.grad(fc, t2))])
            fns.append((f, t1, t2))
    return fns


def test_the_c_path_is_used():
    (fast, *_), (slow, *_) = xor_pair()
    assert type(fast._call).__name__ == "builtin_function_or_method"
    assert type(slow._call).__name__ == "function"


@pytest.mark.parametrize("kind", ["float64", "int64 arrays", "lists", "numpy scalars",
                                  "strided", "big-endian"])
def test_same_values_and_updates_as_the_python_path(kind):
    (fast, f1, f2), (slow, s1, s2) = xor_pair()
    xs = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    ys = np.array([1, 1, 0, 0])
    for step in range(40):
        x, y = xs[step % 4], ys[step % 4]
        if kind == "float64":
            x, y = x.astype(np.float64), float(y)
        elif kind == "lists":
            x, y = x.tolist(), int(y)
        elif kind == "numpy scalars":
            x, y = x.astype(np.float32), np.float32(y)
        elif kind == "strided":
            x, y = np.repeat(x.astype(np.float64), 2)[::2], np.float64(y)
        elif kind == "big-endian":  # the same dtype number as float64: must be swapped
            x, y = x.astype(">f8"), np.array(y, dtype=">f8")
        a, b = fast(x, y), slow(x, y)
        assert type(a) is np.ndarray and a.shape == () and a.dtype == np.float64
        assert a.tobytes() == b.tobytes()  # bitwise: the same kernels ran
    assert f1.get_value().tobytes() == s1.get_value().tobytes()
    assert f2.get_value().tobytes() == s2.get_value().tobytes()


@pytest.mark.slow
def test_several_outputs_lists_and_none():
    x = T.dmatrix("x")
    k = T.iscalar("k")
    w = cgraph.shared(np.zeros(3), name="w")
    f = cgraph.function([x, k], [x.sum(axis=0) * k, T.max(x)])
    g = cgraph.function([x], [], updates=[(w, w + x.sum(axis=0))])
    h = cgraph.function([x], x * 2.0)  # a single output, not a list
    data = np.arange(6.0).reshape(2, 3)
    a, b = f(data, 3)
    np.testing.assert_array_equal(a, data.sum(axis=0) * 3)
    assert float(b) == 5.0
    assert g(data) == [] and g(data) == []
    np.testing.assert_array_equal(w.get_value(), 2 * data.sum(axis=0))
    np.testing.assert_array_equal(h(data), data * 2.0)
    with pytest.raises(TypeError, match="input 1"):
        f(data, 2.5)  # a float for an int input: the converter's error
    with pytest.raises(TypeError):
        f(data)


def test_errors_match_the_python_path_and_leave_shared_values():
    fns = []
    for c_call in (True, False):
        with cgraph.config.change_flags(c_call=c_call):
            v, i = T.dvector("v"), T.lscalar("i")
            w = cgraph.shared(np.ones(3), name="w")
            f = cgraph.function([v, i], v[i], updates=[(w, w * 2.0)])
            fns.append((f, w))
    messages = []
    for f, w in fns:
        assert float(f(np.arange(3.0), 1)) == 1.0
        with pytest.raises(IndexError) as info:
            f(np.arange(3.0), 7)
        messages.append(str(info.value))
        np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])
        with pytest.raises((TypeError, ValueError), match="input 0"):
            f(np.ones((2, 2)), 0)
    assert messages[0] == messages[1] and "7" in messages[0]


def test_a_shape_changing_update_and_new_shapes_fall_back_to_python():
    x = T.dvector("x")
    w = cgraph.shared(np.zeros(2), name="w")
    f = cgraph.function([x], w.sum(), updates=[(w, T.concatenate([w, x]))])
    for n in (1, 2, 3):
        f(np.full(n, float(n)))
    np.testing.assert_array_equal(w.get_value(), [0, 0, 1, 2, 2, 3, 3, 3])
    assert float(f(np.zeros(0))) == 14.0


def test_no_reference_is_leaked():
    (fast, t1, _), _ = xor_pair()
    x, y = np.array([0.0, 1.0]), np.float64(1.0)
    ints = np.array([1, 0])
    fast(x, y)
    before = [sys.getrefcount(v) for v in (x, y, ints, t1.get_value())]
    for _ in range(1000):
        out = fast(x, y)
        fast(ints, 0)
        fast([1, 1], 0.5)
    after = [sys.getrefcount(v) for v in (x, y, ints, t1.get_value())]
    assert before == after
    assert sys.getrefcount(out) == 2  # `out` and getrefcount's argument


def test_set_value_from_another_thread_during_calls():
    """A call holds the shared storage it read: replacing it concurrently is safe."""
    (fast, t1, t2), _ = xor_pair()
    stop = threading.Event()

    def replace():
        while not stop.is_set():
            t2.set_value(np.full((4, 1), 0.25))

    thread = threading.Thread(target=replace)
    thread.start()
    try:
        for _ in range(2000):
            out = fast(np.array([1.0, 0.0]), 1.0)
            assert np.isfinite(out)
    finally:
        stop.set()
        thread.join()


def test_a_function_is_freed_with_its_caller():
    """The C caller refers back to the Function (its fallback): the cycle must be one
    the garbage collector sees, or every Function would live forever."""
    import gc
    import weakref

    (fast, *_), _ = xor_pair()
    fast(np.array([1.0, 0.0]), 1.0)
    ref = weakref.ref(fast)
    del fast
    gc.collect()
    assert ref() is None
