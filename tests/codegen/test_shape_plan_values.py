"""Plan values (lower.plan_value): a length or shape the kernels read is written into
the plan by the planner, with no kernel (a mean's element count)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.ifelse import ifelse

render = importlib.import_module("cgraph.codegen.render")
RNG = np.random.default_rng(7)


def families(f) -> list[str]:
    return [s.kernel.family for s in f._lowered.program.steps]


def plan_decls(f) -> list:
    return [d for d in f._lowered.program.decls if d.kind == "plan"]


@pytest.mark.parametrize("table", [False, True])
def test_a_mean_over_an_unknown_length_needs_no_count_kernel(table, monkeypatch):
    if table:  # the body as a table (csrc/cg_table.h's CG_V_PLAN rows)
        monkeypatch.setattr(render, "TABLE_STEPS", 0)
    x = T.dmatrix("x")
    outs = [T.mean(x, axis=0), T.mean(T.exp(x)), x.shape * 2]
    f = cgraph.function([x], outs)
    assert "shape_value" not in families(f) and "shape_vector" not in families(f)
    assert len(plan_decls(f)) == 3  # x's rows, x's size, x's shape
    assert ("CG_V_PLAN" in f.c_source) == table
    for shape in [(4, 3), (1, 5), (7, 3), (4, 3)]:  # new plans, then a cached one
        a = RNG.standard_normal(shape)
        got = f(a)
        np.testing.assert_allclose(got[0], a.mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(got[1], np.exp(a).mean(), rtol=1e-13)
        np.testing.assert_array_equal(got[2], np.array(shape) * 2)
    with np.errstate(invalid="ignore"):
        empty = f(np.zeros((0, 3)))
    assert np.isnan(empty[0]).all() and np.isnan(empty[1])


def test_plan_values_in_a_lazy_branch_and_as_outputs():
    a, x, y = T.dscalar("a"), T.dvector("x"), T.dmatrix("y")
    out = ifelse(T.gt(a, 0), T.mean(x), T.mean(y))
    f = cgraph.function([a, x, y], [out, y.shape[1]])
    ref = cgraph.function([a, x, y], [out, y.shape[1]], mode="PY")
    for args in [(1.0, RNG.random(5), RNG.random((2, 3))),
                 (-1.0, RNG.random(5), RNG.random((4, 6)))]:
        for got, want in zip(f(*args), ref(*args)):
            np.testing.assert_allclose(got, want, rtol=1e-13)
    # an output that is a length stays a kernel's result (the caller gets an array)
    assert families(f).count("shape_value") == 1


def test_loop_over_batches_of_several_sizes_reads_each_plans_count():
    """Function.loop's batches of 4, 4 and 2 rows: each size's plan has its count."""
    X = RNG.standard_normal((10, 3))
    xb = T.dmatrix("xb")
    w = cgraph.shared(np.ones(3), name="w")
    loss = T.mean(T.dot(xb, w) ** 2)
    step = cgraph.function([xb], loss, updates=[(w, w - 0.01 * T.grad(loss, w))])
    assert "shape_value" not in families(step)
    want = []
    w0 = w.get_value()
    for start in range(0, 10, 4):
        want.append(step(X[start:start + 4]))
    final = w.get_value()
    w.set_value(w0)
    got = step.loop(X, epochs=1, batch_size=4, record_every=1)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(w.get_value(), final, rtol=1e-13)
