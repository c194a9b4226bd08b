"""Function.loop(specialize=True): the steps run in a module compiled for the loop's
plan (every kernel inlined, shapes and strides constants), with the results of the
general module, compiled once per machine and plan."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import import_test_module

import cgraph
import cgraph.tensor as T
from cgraph import backend

loops = import_test_module("test_loop")


def test_xor_loop_specialized_equals_the_general_loop():
    cost, shared, init = loops.xor_step()
    general = cost.loop(loops.INPUTS, loops.TARGETS, epochs=50, record_every=1)
    after = [s.get_value() for s in shared]
    loops.reset(shared, init)
    before = backend.stats.compiles
    fast = cost.loop(loops.INPUTS, loops.TARGETS, epochs=50, record_every=1, specialize=True)
    assert backend.stats.compiles == before + 1
    np.testing.assert_array_equal(fast, general)
    for s, want in zip(shared, after):
        np.testing.assert_array_equal(s.get_value(), want)
    # the same plan again: the module is reused, in this process and the next function
    cost.loop(loops.INPUTS, loops.TARGETS, epochs=1, specialize=True)
    again, _, _ = loops.xor_step()
    again.loop(loops.INPUTS, loops.TARGETS, epochs=1, specialize=True)
    assert backend.stats.compiles == before + 1


def test_minibatches_that_divide_the_rows_are_specialized():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 3)).astype(np.float32)
    Y = rng.standard_normal(12).astype(np.float32)
    w = cgraph.shared(np.zeros(3, np.float32), name="w")
    x, y = T.fmatrix("x"), T.fvector("y")
    err = T.mean((T.dot(x, w) - y) ** 2)
    step = cgraph.function([x, y], err, updates=[(w, w - np.float32(0.1) * cgraph.grad(err, w))])
    general = step.loop(X, Y, epochs=4, batch_size=4, record_every=1)
    w_general = w.get_value()
    w.set_value(np.zeros(3, np.float32))
    fast = step.loop(X, Y, epochs=4, batch_size=4, record_every=1, specialize=True)
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_array_equal(w.get_value(), w_general)


def test_loops_it_cannot_serve_warn_and_run_the_general_module():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal(10)
    w = cgraph.shared(np.zeros(3), name="w")
    x, y = T.dmatrix("x"), T.dvector("y")
    err = T.mean((T.dot(x, w) - y) ** 2)
    step = cgraph.function([x, y], err, updates=[(w, w - 0.1 * cgraph.grad(err, w))])
    general = step.loop(X, Y, batch_size=4, record_every=1)
    w.set_value(np.zeros(3))
    with pytest.warns(UserWarning, match="last batch is shorter"):
        fast = step.loop(X, Y, batch_size=4, record_every=1, specialize=True)
    np.testing.assert_array_equal(fast, general)


def test_errors_in_a_specialized_step_name_the_step():
    i = T.lvector("i")
    v = cgraph.shared(np.arange(3.0), name="v")
    step = cgraph.function([i], v[i].sum())
    rows = np.array([[0, 1], [2, 2], [7, 0], [1, 1]])
    with pytest.raises(IndexError, match="at loop step 2"):
        step.loop(rows, specialize=True)
    np.testing.assert_array_equal(step.loop(rows[:2], record_every=1, specialize=True),
                                  [1.0, 4.0])


def test_the_specialized_module_runs_only_its_plan():
    cost, _, _ = loops.xor_step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cost.loop(loops.INPUTS, loops.TARGETS, specialize=True)
    compiled = cost.compiled
    (plan,) = compiled.plans.values()
    module = compiled.specialized(plan.P)
    err = module.ffi.new("char[512]")
    A = module.ffi.new("void *[8]")
    rc = getattr(module.lib, compiled.program.entry + "_argv")(plan.P, err, module.ffi.NULL, A)
    assert rc != 0 and b"specialized to one plan" in module.ffi.string(err)


@pytest.mark.slow
def test_the_loop_example_runs(tmp_path):
    """examples/xor_loop.py: the Python loop, the C loop and the specialized C loop train
    the same weights."""
    import subprocess
    import sys

    from helpers import REPO, child_env

    done = subprocess.run([sys.executable, str(REPO / "examples" / "xor_loop.py")],
                          capture_output=True, text=True, timeout=600,
                          env=child_env(CGRAPH_CACHE_DIR=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "same weights, bit for bit: True" in done.stdout
    assert "the general loop), same weights: True" in done.stdout
