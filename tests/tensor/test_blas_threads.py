"""BLAS threads per product (csrc/cg_blas_threads.h): the timing policy on simulated
machines, and the products it runs (results unchanged, thread count restored)."""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from pathlib import Path

import cffi
import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir

POLICY_CDEF = """
int pick(int64_t *state);
void record(int64_t *state, int choice, int64_t ns, int64_t work);
int class_of(int64_t work);
"""

POLICY_SOURCE = """
#include "cg_blas_threads.h"
/* choice = many + 2 * trial + 4 * warmup, so Python sees all three */
int pick(int64_t *state)
{
    cg_bt_choice c = cg_bt_pick((cg_bt_class *)state);
    return c.many + 2 * c.trial + 4 * c.warmup;
}
void record(int64_t *state, int choice, int64_t ns, int64_t work)
{
    cg_bt_choice c = {choice & 1, (choice >> 1) & 1, choice >> 2};
    cg_bt_record((cg_bt_class *)state, c, ns, work);
}
int class_of(int64_t work) { return cg_bt_class_of(work); }
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    """The header's pick/record compiled alone, with a state of one size class."""
    out = tmp_path_factory.mktemp("bt")
    ffi = cffi.FFI()
    ffi.cdef(POLICY_CDEF)
    ffi.set_source("_bt_policy", POLICY_SOURCE, include_dirs=[str(csrc_dir())],
                   extra_compile_args=["-O1"])
    so = ffi.compile(tmpdir=str(out))
    spec = importlib.util.spec_from_file_location("_bt_policy", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Machine:
    """Runs `n` products through the policy on a simulated machine whose products of
    `work` multiply-adds take `cost[many]` ns per multiply-add."""

    def __init__(self, policy):
        self.lib, self.ffi = policy.lib, policy.ffi
        self.state = self.ffi.new("int64_t[6]")
        self.used: list[int] = []

    def run(self, n: int, one: float, many: float, work: int = 1 << 20) -> list[int]:
        used = []
        for _ in range(n):
            choice = self.lib.pick(self.state)
            is_many = choice & 1
            self.lib.record(self.state, choice, int((many if is_many else one) * work), work)
            used.append(is_many)
        self.used += used
        return used


def test_size_class_is_the_power_of_two(policy):
    assert [policy.lib.class_of(w) for w in (1, 2, 3, 4, 1 << 20, (1 << 21) - 1)] == \
        [0, 1, 1, 2, 20, 20]


def test_busy_machine_runs_on_one_thread(policy):
    """All threads 5x slower than one (the other core busy): after two timing calls,
    fewer than 1% of 5000 products still try the threads."""
    m = Machine(policy)
    used = m.run(5000, one=2.0, many=10.0)
    assert used[:2] == [1, 0]  # the library's threads first, then one thread
    assert sum(used[2:]) / len(used) < 0.01


def test_free_machine_keeps_the_threads(policy):
    m = Machine(policy)
    used = m.run(5000, one=1.6, many=1.0)
    assert sum(1 - u for u in used[2:]) / len(used) < 0.01


def test_machine_that_gets_busy_moves_to_one_thread_at_once(policy):
    m = Machine(policy)
    m.run(500, one=1.6, many=1.0)
    busy = m.run(500, one=2.0, many=10.0)
    # the rate in use rises by a quarter of the gap (a sample counting at most double):
    # 1 -> 1.25 -> 1.56 -> 1.95 > 1.6 (one thread's last figure) in three calls
    assert busy[:4] == [1, 1, 1, 0]
    assert busy[1:].count(1) <= 8
    assert busy[-100:].count(1) <= 1


def test_machine_that_gets_free_returns_to_the_threads(policy):
    """The losing setting is tried again after at most max(2^10, 128 * 4 * 4) calls:
    the wait doubles per lost try up to 2^10 calls, and covers 128 times what a try of
    four calls at 5x cost."""
    m = Machine(policy)
    m.run(6000, one=2.0, many=10.0)
    free = m.run(3000, one=1.6, many=1.0)
    first_back = free.index(1)
    assert first_back <= 2048
    assert free[-1000:].count(0) <= 5


def test_noisy_equal_settings_do_not_flap_every_call(policy):
    """Two settings of equal speed with 20% noise: each switch costs at most a few
    calls, and the run stays within 5% of the ideal time."""
    rng = np.random.default_rng(0)
    m = Machine(policy)
    total = 0.0
    for _ in range(2000):
        choice = m.lib.pick(m.state)
        cost = 1.0 * rng.uniform(0.9, 1.1)
        m.lib.record(m.state, choice, int(cost * (1 << 20)), 1 << 20)
        total += cost
    assert total / 2000 < 1.05


def openblas():
    scipy_openblas32 = pytest.importorskip("scipy_openblas32")
    return ctypes.CDLL(str(Path(scipy_openblas32.get_lib_dir())
                           / f"lib{scipy_openblas32.get_library()}.so"))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_products_equal_on_any_thread_choice(dtype):
    """gemm and both gemv paths of a mid-size product (96x200x80) give the same bits
    under auto, library and forced one thread, over enough calls for auto to try both
    settings; the thread count is restored after every product."""
    if sys.platform != "linux":
        pytest.skip("OpenBLAS thread control is checked on Linux")
    lib = openblas()
    threads = lib.scipy_openblas_get_num_threads()
    a, b, v = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype), T.vector("v", dtype=dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 200)).astype(dtype)
    y = rng.standard_normal((200, 80)).astype(dtype)
    z = rng.standard_normal(200).astype(dtype)
    results = {}
    for name, flags in (("auto", {"blas_threads": "auto"}),
                        ("library", {"blas_threads": "library"}),
                        ("one", {"blas_one_thread_below": 2**40})):
        with cgraph.config.change_flags(**flags):
            f = cgraph.function([a, b, v], [T.dot(a, b), T.dot(a, v), T.dot(v, b)])
        assert ("-DCG_BLAS_AUTO=0" in f.build_options.cflags) == (name == "library")
        outs = [f(x, y, z) for _ in range(40)]
        for o in outs[1:]:
            for got, first in zip(o, outs[0]):
                np.testing.assert_array_equal(got, first)
        results[name] = outs[0]
        assert lib.scipy_openblas_get_num_threads() == threads
    for name in ("library", "one"):
        for got, want in zip(results[name], results["auto"]):
            np.testing.assert_array_equal(got, want)
    tol = 1e-10 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(results["auto"][0], x @ y, rtol=tol, atol=tol)
    np.testing.assert_allclose(results["auto"][1], x @ z, rtol=tol, atol=tol)
    np.testing.assert_allclose(results["auto"][2], z @ y, rtol=tol, atol=tol)


def test_tries_of_a_collapsed_setting_cost_little(policy):
    """The library's threads 50x slower than one thread: after the first two calls,
    the tries of the threads add at most 3% to the time of 20000 products."""
    m = Machine(policy)
    used = m.run(20000, one=1.0, many=50.0)[2:]
    spent = sum(50.0 if u else 1.0 for u in used)
    assert spent / len(used) < 1.03


def test_threads_that_wake_slowly_are_still_chosen_when_faster(policy):
    """The library's threads cost 5x on a call after they were idle (waking up) and
    0.6x of one thread when warm: the try's timed call follows a warm-up call, so the
    threads win, and the cold call that follows each try of one thread is not timed, so
    they keep the product once they do."""
    lib, ffi = policy.lib, policy.ffi
    state = ffi.new("int64_t[6]")
    work, last, used = 1 << 20, None, []
    for _ in range(3000):
        choice = lib.pick(state)
        many = choice & 1
        cost = (5.0 if last == 0 else 0.6) if many else 1.0
        lib.record(state, choice, int(cost * work), work)
        last = many
        used.append(many)
    assert sum(used[-1000:]) > 990


def test_a_lone_slow_call_does_not_move_the_product(policy):
    """Threads at 0.6x of one thread, with one call in 200 taking 10x (an interrupt,
    a page fault; a 10x call was seen on this machine): the threads keep the product."""
    m = Machine(policy)
    m.run(100, one=1.0, many=0.6)
    used = []
    for i in range(4000):
        used += m.run(1, one=1.0, many=6.0 if i % 200 == 0 else 0.6)
    assert used.count(0) / len(used) < 0.01


def test_a_setting_that_lost_its_place_by_drift_is_tried_again_soon(policy):
    """The threads win, lose a long run of tries of one thread (the wait grows to
    2^10 calls), then three slow calls in a row move the product to one thread: the
    threads are tried again within 2^3 calls, not 2^10, and take it back."""
    m = Machine(policy)
    m.run(6000, one=1.0, many=0.6)
    m.run(5, one=1.0, many=6.0)
    after = m.run(40, one=1.0, many=0.6)
    assert after.index(0) < 3
    assert after[-10:] == [1] * 10


@pytest.mark.slow
def test_large_products_agree_on_any_thread_count():
    """One thread and the library's threads at the sizes of an MLP step agree to the
    dtype's precision: not always to the last bit (float32 products of this size, and
    float64 ones on a CPU with AVX-512, differ there, as csrc/cg_blas_threads.h says)."""
    if sys.platform != "linux":
        pytest.skip("OpenBLAS thread control is checked on Linux")
    rng = np.random.default_rng(2)
    for dtype, check in (("float64", lambda got, want: np.testing.assert_allclose(
                             got, want, rtol=1e-12, atol=1e-12)),
                         ("float32", lambda got, want: np.testing.assert_allclose(
                             got, want, rtol=1e-4, atol=1e-4))):
        a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
        x = rng.standard_normal((128, 784)).astype(dtype)
        y = rng.standard_normal((784, 256)).astype(dtype)
        outs = []
        for flags in ({"blas_threads": "library"}, {"blas_one_thread_below": 2**40}):
            with cgraph.config.change_flags(**flags):
                outs.append(cgraph.function([a, b], T.dot(a, b))(x, y))
        check(outs[0], outs[1])
