"""Updates written into the shared variables' own storage, and the aliasing cases."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES

import cgraph
import cgraph.tensor as T


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


def _in_place_flags(f) -> list[int]:
    """Per update: 1 when the latest plan says it goes straight into the storage."""
    plan = list(f._plans.values())[-1]
    return [int(plan[0][u.inplace_slot]) if u.inplace_slot >= 0 else 0
            for u in f._lowered.program.updates]


@pytest.mark.slow
def test_sgd_updates_are_computed_into_the_shared_storage():
    rng = np.random.default_rng(0)
    W = cgraph.shared(rng.standard_normal((4, 3)), name="W")
    b = cgraph.shared(np.zeros(3), name="b")
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    loss = T.mean((T.tanh(T.dot(X, W) + b) - Y) ** 2)
    gW, gb = cgraph.grad(loss, [W, b])
    updates = [(W, W - 0.1 * gW), (b, b - 0.1 * gb)]
    f = cgraph.function([X, Y], loss, updates=updates)
    ref = cgraph.function([X, Y], loss, updates=updates, mode="PY")
    storage = W.get_value(borrow=True)
    xs, ys = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    start = W.get_value(), b.get_value()
    f(xs, ys)
    # W's gemm writes into W; b's update is one of the outputs of its gradient's sum
    # kernel (a reduction epilogue), which writes no update in place: b is copied once
    # every kernel is done.
    assert _in_place_flags(f) == [1, 0]
    assert "written in place" in f.c_source
    assert W.get_value(borrow=True) is storage
    got = W.get_value(), b.get_value()
    W.set_value(start[0])
    b.set_value(start[1])
    ref(xs, ys)
    np.testing.assert_allclose(got[0], W.get_value(), rtol=1e-13)
    np.testing.assert_allclose(got[1], b.get_value(), rtol=1e-13)


def test_no_in_place_where_the_old_value_is_read_out_of_order():
    M = cgraph.shared(np.arange(9.0).reshape(3, 3), name="M")
    v = cgraph.shared(np.arange(3.0), name="v")
    # M's update reads M transposed; v's update is read by M's... and v is read after.
    f = cgraph.function([], [], updates=[(M, M.T * 0.5 + M), (v, v[::-1] + 1.0)])
    f()
    assert _in_place_flags(f) == [0, 0]
    m0 = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(M.get_value(), m0.T * 0.5 + m0)
    np.testing.assert_array_equal(v.get_value(), np.arange(3.0)[::-1] + 1.0)


def test_an_argument_that_is_the_shared_storage_reads_the_old_values():
    w = cgraph.shared(np.arange(4.0), name="w")
    x = T.dvector("x")
    f = cgraph.function([x], T.sum(x * 2.0), updates=[(w, w + x), ])
    alias = w.get_value(borrow=True)
    total = f(alias)  # the argument is the memory the update writes
    assert float(total) == 12.0
    np.testing.assert_array_equal(w.get_value(), np.arange(4.0) * 2)


def test_in_place_update_keeps_all_or_nothing_when_a_later_kernel_fails():
    from cgraph.tensor import nnet

    w = cgraph.shared(np.ones(3), name="w")
    labels = T.lvector("labels")
    out = nnet.one_hot(labels, 3).sum()
    f = cgraph.function([labels], out, updates=[(w, w * 2.0)])
    with pytest.raises(IndexError):
        f(np.array([0, 7]))
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    f(np.array([0, 2]))
    np.testing.assert_array_equal(w.get_value(), np.full(3, 2.0))


def test_a_product_update_whose_operand_is_the_shared_storage():
    W = cgraph.shared(np.arange(9.0).reshape(3, 3) / 10, name="W")
    X = T.dmatrix("X")
    f = cgraph.function([X], [], updates=[(W, W - 0.1 * T.dot(X.T, X))])
    w0 = W.get_value()
    f(W.get_value(borrow=True))  # X is W's own memory: W must not change under BLAS
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * w0.T @ w0, rtol=1e-14)
    other = np.ones((3, 3))
    w1 = W.get_value()
    f(other)
    assert _in_place_flags(f) == [1]
    np.testing.assert_allclose(W.get_value(), w1 - 0.1 * other.T @ other, rtol=1e-14)


def test_embedding_rows_updated_in_place_with_repeats_and_bad_indices():
    """`inc_subtensor(E[idx], ...)` as an update: no copy of E per call (the kernel
    writes into E's storage), repeated rows accumulate, and an out-of-range index
    fails before anything is written."""
    rng = np.random.default_rng(1)
    start = rng.standard_normal((50, 4))
    fns = []
    for mode in ("C", "PY"):
        E = cgraph.shared(start.copy(), name="E")
        idx, g = T.lvector("idx"), T.dmatrix("g")
        f = cgraph.function([idx, g], E[idx].sum(),
                            updates=[(E, T.inc_subtensor(E[idx], -0.5 * g))], mode=mode)
        fns.append((f, E))
    (f, E), (ref, E_ref) = fns
    storage = E.get_value(borrow=True)
    for idx, g in [([3, 7, 3, 49], rng.standard_normal((4, 4))),
                   ([0, -1], rng.standard_normal((2, 4)))]:
        np.testing.assert_allclose(f(idx, g), ref(idx, g), rtol=1e-13)
        np.testing.assert_allclose(E.get_value(), E_ref.get_value(), rtol=1e-13)
    assert _in_place_flags(f) == [1]
    assert E.get_value(borrow=True) is storage
    before = E.get_value()
    with pytest.raises(IndexError, match="50"):
        f([1, 2, 50], np.ones((3, 4)))
    np.testing.assert_array_equal(E.get_value(), before)


@pytest.mark.parametrize("mode", MODES)
def test_set_subtensor_updates_in_place_unless_y_reads_the_storage(mode):
    w = cgraph.shared(np.arange(6.0), name="w")
    v = T.dvector("v")
    f = cgraph.function([v], [], updates=[(w, T.set_subtensor(w[1:4], v))], mode=mode)
    f(np.array([10.0, 11.0, 12.0]))
    np.testing.assert_array_equal(w.get_value(), [0, 10, 11, 12, 4, 5])
    if mode == "C":
        assert _in_place_flags(f) == [1]
    shift = cgraph.function([], [], updates=[(w, T.set_subtensor(w[1:], w[:-1]))], mode=mode)
    shift()  # y is a view of the storage: it must read the old values
    np.testing.assert_array_equal(w.get_value(), [0, 0, 10, 11, 12, 4])
    if mode == "C":
        assert _in_place_flags(shift) == [0]
