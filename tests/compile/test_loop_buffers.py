"""Function.loop reuses its buffers between calls, never while someone can read them,
and never shares them between loops running at once."""

from __future__ import annotations

import threading

import numpy as np

import cgraph
import cgraph.tensor as T
from cgraph.compile.loop import loop_buffers


def sgd_step():
    """A least-squares SGD step on a shared (w, b), its loss as output."""
    x, y = T.dmatrix("x"), T.dvector("y")
    w = cgraph.shared(np.linspace(-1, 1, 6), name="w")
    b = cgraph.shared(np.array(0.5), name="b")
    loss = T.mean((T.dot(x, w) + b - y) ** 2)
    gw, gb = cgraph.grad(loss, [w, b])
    fn = cgraph.function([x, y], loss, updates=[(w, w - 0.05 * gw), (b, b - 0.05 * gb)])
    return fn, w, b


def data(seed, rows=40):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 6)), rng.standard_normal(rows)


def python_loop(fn, x, y, batch):
    return np.array([fn(x[k:k + batch], y[k:k + batch]) for k in range(0, len(x), batch)])


def test_a_loop_called_again_writes_into_the_copy_no_one_holds():
    fn, w, b = sgd_step()
    x, y = data(0)
    fn.loop(x, y, batch_size=8)
    first = w.get_value(borrow=True)
    fn.loop(x, y, batch_size=8)
    second = w.get_value(borrow=True)
    assert second is not first
    del first  # now only the pool holds it: the next loop takes it again
    fn.loop(x, y, batch_size=8)
    third = w.get_value(borrow=True)
    assert third is not second
    assert third.base is None and third.flags.writeable and third.flags.c_contiguous
    pool = loop_buffers(fn.compiled)
    assert sum(a.shape == (6,) for a in pool._states) <= 2


def test_reused_buffers_give_the_python_loops_values():
    fn, w, b = sgd_step()
    w0, b0 = w.get_value(), b.get_value()
    x, y = data(1)
    want = python_loop(fn, x, y, 8)
    want_w, want_b = w.get_value(), b.get_value()
    for _ in range(3):
        w.set_value(w0)
        b.set_value(b0)
        np.testing.assert_array_equal(fn.loop(x, y, batch_size=8, record_every=1), want)
        np.testing.assert_array_equal(w.get_value(), want_w)
        np.testing.assert_array_equal(b.get_value(), want_b)
    w.set_value(w0)
    b.set_value(b0)
    assert fn.loop(x, y, batch_size=8) == want[-1]  # the last output, out of a reused buffer


def test_an_array_someone_holds_is_never_written():
    fn, w, _ = sgd_step()
    x, y = data(2)
    fn.loop(x, y, batch_size=8)
    borrowed = w.get_value(borrow=True)
    view = w.get_value(borrow=True)[2:]
    kept = borrowed.copy()
    for _ in range(4):
        fn.loop(x, y, batch_size=8)
    np.testing.assert_array_equal(borrowed, kept)
    np.testing.assert_array_equal(view, kept[2:])
    del borrowed
    fn.loop(x, y, batch_size=8)
    np.testing.assert_array_equal(view, kept[2:])  # the view still holds its base


def test_loops_in_two_threads_at_once_share_no_buffer():
    # No update: each loop's outputs depend on its own data only.
    rng = np.random.default_rng(4)
    x = T.dmatrix("x")
    w = cgraph.shared(rng.standard_normal((64, 64)) / 8, name="w")
    fn = cgraph.function([x], [T.tanh(T.dot(x, w)).sum(axis=1), T.dot(x, w)])
    inputs = [rng.standard_normal((64 * 40, 64)) for _ in range(2)]
    want_records = [np.tanh(a @ w.get_value()).sum(axis=1).reshape(40, 64) for a in inputs]
    want_last = [a[-64:] @ w.get_value() for a in inputs]
    got: dict = {}
    start = threading.Barrier(2)

    def run(k):
        start.wait()
        for rep in range(15):
            records = fn.loop(inputs[k], batch_size=64, record_every=1)[0]
            last = fn.loop(inputs[k], batch_size=64)[1]
            got[k, rep] = records, last

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (k, _), (records, last) in got.items():
        np.testing.assert_allclose(records, want_records[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(last, want_last[k], rtol=1e-12, atol=1e-12)


def test_loops_in_two_threads_update_their_own_copies():
    # s <- s + 1 each step, output s before the step: a loop records consecutive values
    # from the state it started with, whatever the other thread's loop does meanwhile.
    x = T.dmatrix("x")
    s = cgraph.shared(np.zeros(300_000), name="s")
    fn = cgraph.function([x], [s[0] + 0 * x.sum()], updates=[(s, s + 1)])
    steps = 200
    got = []
    start = threading.Barrier(2)

    def run():
        start.wait()
        for _ in range(5):
            got.append(fn.loop(np.zeros((steps, 2)), batch_size=1, record_every=1)[0])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for records in got:
        np.testing.assert_array_equal(records, records[0] + np.arange(steps))
        assert records[0] % steps == 0
    final = s.get_value()
    assert np.all(final == final[0]) and final[0] % steps == 0


def test_a_loop_started_from_a_progress_callback_has_its_own_buffers():
    fn, w, b = sgd_step()
    w0, b0 = w.get_value(), b.get_value()
    x, y = data(5, rows=4000)
    inner_x, inner_y = data(6)
    inner_want = python_loop(fn, inner_x, inner_y, 8)
    w.set_value(w0)
    b.set_value(b0)
    outer_want = python_loop(fn, x, y, 8)
    inner_got = []

    def progress(done, total):
        if not inner_got:
            saved = w.get_value(), b.get_value()
            w.set_value(w0)
            b.set_value(b0)
            inner_got.append(fn.loop(inner_x, inner_y, batch_size=8, record_every=1))
            w.set_value(saved[0])
            b.set_value(saved[1])

    w.set_value(w0)
    b.set_value(b0)
    outer_got = fn.loop(x, y, batch_size=8, record_every=1, progress=progress)
    np.testing.assert_array_equal(inner_got[0], inner_want)
    np.testing.assert_array_equal(outer_got, outer_want)


def test_the_pool_keeps_no_more_than_its_byte_limits(monkeypatch):
    from cgraph.compile.loop import LoopBuffers

    monkeypatch.setattr(LoopBuffers, "STATE_BYTES", 40)  # w (48 bytes) is never kept
    monkeypatch.setattr(LoopBuffers, "SCRATCH_BYTES", 8)
    fn, w, b = sgd_step()
    w0, b0 = w.get_value(), b.get_value()
    x, y = data(7)
    want = python_loop(fn, x, y, 8)
    for _ in range(3):
        w.set_value(w0)
        b.set_value(b0)
        np.testing.assert_array_equal(fn.loop(x, y, batch_size=8, record_every=1), want)
    pool = loop_buffers(fn.compiled)
    assert sum(a.nbytes for a in pool._states) <= 40
    assert all(a.shape != (6,) for a in pool._states)
    assert pool._scratch_bytes <= 8
    assert sum(a.nbytes for spare in pool._scratch.values() for a in spare) <= 8
