"""Concurrent calls of one compiled function from several threads (cffi drops the GIL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import cgraph
import cgraph.tensor as T


def test_concurrent_calls_give_each_thread_its_result():
    x, y = T.dvector("x"), T.dmatrix("y")
    f = cgraph.function([x, y], [T.exp(T.sin(x)) * 2.0, T.dot(y, x).sum()])
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal(n), rng.standard_normal((3, n))) for n in (1000, 20000, 5)]

    def work(k: int) -> bool:
        xs, ys = cases[k % len(cases)]
        for _ in range(50):
            a, b = f(xs, ys)
            np.testing.assert_allclose(a, np.exp(np.sin(xs)) * 2.0, rtol=1e-14)
            np.testing.assert_allclose(b, (ys @ xs).sum(), rtol=1e-10)
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(work, range(12)))


def test_concurrent_threads_compile_the_same_graph():
    def build(k: int):
        x = T.dvector("x")
        f = cgraph.function([x], x * 3.0 - 0.125)
        return f(np.arange(4.0))

    with ThreadPoolExecutor(max_workers=4) as pool:
        for out in pool.map(build, range(8)):
            np.testing.assert_array_equal(out, np.arange(4.0) * 3.0 - 0.125)
