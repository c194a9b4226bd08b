"""The C call path at its size limits and across `os.fork`.

A call of the C path (csrc/cg_fastcall.h) keeps its tables on the stack: a function
at the limits (256 inputs and shared variables, outputs, updates, array constants)
must use them without writing past them, one beyond must keep the Python path, and a
forked child must build and use the C path without the parent's threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import TESTS, sanitizer_runtimes

import cgraph
import cgraph.tensor as T
from cgraph.codegen.lower import MAX_INLINE_CONSTANT

# Hundreds of kernels and forked children: the slow set runs them.
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
# Hundreds of kernels: -O0 keeps the compile to seconds (the values do not change).
QUICK = {"cflags": "-O0"}


def is_c_path(f) -> bool:
    return type(f._call).__name__ == "builtin_function_or_method"


def full_tables(c_call: bool, n: int = 256):
    """`n` shared vectors s_k, outputs s_k + c_k and updates s_k <- s_k * 2, with
    `n` distinct constants c_k too big to be inlined: with n = 256, every table of the
    C path is full (4 * 256 pointers). Returns the function, the shared variables, their
    start values and the constants."""
    rng = np.random.default_rng(13)
    size = MAX_INLINE_CONSTANT + 4
    starts = [rng.standard_normal(size) for _ in range(n)]
    consts = [rng.standard_normal(size) for _ in range(n)]
    shared = [cgraph.shared(v.copy(), name=f"s{k}") for k, v in enumerate(starts)]
    with cgraph.config.change_flags(c_call=c_call, **QUICK):
        f = cgraph.function([], [s + c for s, c in zip(shared, consts)],
                            updates=[(s, s * 2.0) for s in shared])
    assert len(f._lowered.arg_constants) == n
    return f, shared, starts, consts


def check_full_tables(c_call: bool) -> None:
    """Three calls (the first plans in Python, the others run in C when `c_call`)
    against numpy, outputs and updates."""
    f, shared, values, consts = full_tables(c_call)
    assert is_c_path(f) == c_call
    for _ in range(3):
        outs = f()
        assert len(outs) == len(consts)
        for out, v, c in zip(outs, values, consts):
            np.testing.assert_array_equal(out, v + c)
        values = [v * 2.0 for v in values]
        for s, v in zip(shared, values):
            np.testing.assert_array_equal(s.get_value(), v)


@pytest.mark.parametrize("c_call", [True, False], ids=["C path", "Python path"])
def test_full_tables_give_numpys_results(c_call):
    check_full_tables(c_call)


def test_full_tables_are_sanitizer_clean(tmp_path):
    """Under AddressSanitizer and UBSan (the C path built with them too): no write
    past the pointer table, same results as numpy."""
    libs = sanitizer_runtimes()
    if not libs:
        pytest.skip("gcc's sanitizer runtimes are not installed")
    code = (f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(TESTS)!r}]\n"
            "import test_fastcall_limits as t\n"
            "t.check_full_tables(c_call=True)\n"
            "print('checked')\n")
    env = dict(os.environ, LD_PRELOAD=":".join(libs), CGRAPH_FLAGS="sanitize=True",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               CGRAPH_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=900)
    report = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0 and "checked" in proc.stdout, report
    for marker in ("runtime error", "AddressSanitizer", "SUMMARY:"):
        assert marker not in proc.stderr, report


def test_300_inputs_and_300_outputs_use_the_python_path():
    n = 300
    xs = [T.dvector(f"x{k}") for k in range(n)]
    with cgraph.config.change_flags(**QUICK):
        f = cgraph.function(xs, [x * float(k + 1) for k, x in enumerate(xs)])
    assert not is_c_path(f)
    rng = np.random.default_rng(2)
    for length in (3, 3, 5):
        args = [rng.standard_normal(length) for _ in range(n)]
        outs = f(*args)
        assert len(outs) == n
        for k, (out, a) in enumerate(zip(outs, args)):
            np.testing.assert_array_equal(out, a * float(k + 1))


def test_one_constant_too_many_uses_the_python_path():
    """257 array constants: beyond the C path's table, the Python path gives the values."""
    rng = np.random.default_rng(3)
    consts = [rng.standard_normal(MAX_INLINE_CONSTANT + 1) for _ in range(257)]
    x = T.dvector("x")
    with cgraph.config.change_flags(**QUICK):
        f = cgraph.function([x], [T.sum(x * c) for c in consts[:128]]
                            + [T.sum(x + c) for c in consts[128:]])
    assert len(f._lowered.arg_constants) == 257 and not is_c_path(f)
    v = rng.standard_normal(MAX_INLINE_CONSTANT + 1)
    for _ in range(2):
        outs = f(v)
        expected = [np.sum(v * c) for c in consts[:128]] + [np.sum(v + c) for c in consts[128:]]
        np.testing.assert_allclose(outs, expected, rtol=1e-12)


# --------------------------------------------------------------------------- fork

def run_child_process(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CGRAPH_CACHE_DIR=str(tmp_path / "parent"))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "child")], env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and "child ok" in proc.stdout, proc.stdout + proc.stderr
    return proc


# The forked child runs under an alarm: a hang ends it (and the test fails) instead of
# leaving it behind.
CHILD_BUILDS = """
import signal, numpy as np, cgraph, cgraph.tensor as T

def build_and_call():
    signal.alarm(60)
    x = T.dvector("x")
    g = cgraph.function([x], x * 3.0 + 1.0)
    values = [g(np.arange(4.0)) for _ in range(3)]
    assert type(g._call).__name__ == "builtin_function_or_method", "no C path"
    assert all(np.array_equal(v, np.arange(4.0) * 3.0 + 1.0) for v in values), values
    return "child ok"

def fork_build_and_call(cache_dir=None):
    # fork; the child (in cache_dir when given) builds and calls; its exit code
    import os, sys, traceback
    pid = os.fork()
    if pid == 0:
        try:
            if cache_dir is not None:
                cgraph.config.cache_dir = cache_dir
            print(build_and_call(), flush=True)
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
"""


def test_a_forked_child_builds_the_c_path_it_needs(tmp_path):
    """multiprocessing's fork: the parent's pool started (and finished) its build; the
    child needs a factory for another cache folder."""
    code = CHILD_BUILDS + """
import multiprocessing, sys

def in_child():
    cgraph.config.cache_dir = sys.argv[1]  # another cache: a new factory
    return build_and_call()

y = T.dvector("y")
f = cgraph.function([y], y + 1.0)
assert np.array_equal(f(np.zeros(2)), np.ones(2))
with multiprocessing.get_context("fork").Pool(1) as pool:
    print(pool.apply_async(in_child).get(timeout=120))
"""
    run_child_process(code, tmp_path)


def test_a_fork_during_the_build_of_the_c_path(tmp_path):
    """os.fork while the pool's thread compiles the factory (and holds the cache's
    lock for it): the child builds it again for itself."""
    code = CHILD_BUILDS + """
import os, sys, time
from cgraph.backend import cache
from cgraph.compile import fastcall

cfg = cgraph.config
os.environ["CGRAPH_PREBUILT"] = "off"  # built here, not the one compiled at install time
future = fastcall.start(cfg.cc, sys.argv[1], cfg.sanitize)
deadline = time.monotonic() + 60
while not any(lock.locked() for lock in list(cache._key_locks.values())):
    assert time.monotonic() < deadline and not future.done(), "the build took no lock"
    time.sleep(0.001)
status = fork_build_and_call(sys.argv[1])
assert status == 0, f"the child ended with {status}"
assert future.result() is not None
"""
    run_child_process(code, tmp_path)


def test_a_fork_while_another_thread_compiles(tmp_path):
    """A thread compiles a function (and holds the cache's lock for its module) when
    another thread forks: the child compiles the same function for itself."""
    code = CHILD_BUILDS + """
import os, sys, threading, time
from cgraph.backend import cache

y = T.dvector("y")
assert np.array_equal(cgraph.function([y], y - 1.0)(np.ones(2)), np.zeros(2))

def same_function():
    x = T.dvector("x")
    cgraph.function([x], x * 3.0 + 1.0)

thread = threading.Thread(target=same_function)
thread.start()
deadline = time.monotonic() + 60
while not any(lock.locked() for lock in list(cache._key_locks.values())):
    assert time.monotonic() < deadline and thread.is_alive(), "the build took no lock"
    time.sleep(0.001)
status = fork_build_and_call()
thread.join()
assert status == 0, f"the child ended with {status}"
"""
    run_child_process(code, tmp_path)
