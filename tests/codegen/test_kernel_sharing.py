"""Kernels with the same code share one C function: the C of a deep model grows with
its distinct kernels, not with its layers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import TABLE_STEPS


def mlp_step(layers: int, mode: str = "C"):
    rng = np.random.default_rng(0)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    ws = [cgraph.shared(rng.standard_normal((8, 8)) * 0.3, name=f"W{i}") for i in range(layers)]
    bs = [cgraph.shared(np.zeros(8), name=f"b{i}") for i in range(layers)]
    h = x
    for w, b in zip(ws, bs):
        h = T.tanh(T.dot(h, w) + b)
    loss = T.mean((h - y) ** 2)
    params = ws + bs
    grads = cgraph.grad(loss, params)
    f = cgraph.function([x, y], loss, mode=mode,
                        updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
    return f, params


def functions_in(source: str) -> set[str]:
    return set(re.findall(r"(?m)^CG_KERNEL int (k\d+)\(", source))


def called_in(source: str) -> list[str]:
    """The function each step calls: a direct call, or a row of a long body's table."""
    return [a or b for a, b in re.findall(r"\(rc = (k\d+)\(P \+|^    \{(k\d+)_t, ",
                                           source, flags=re.M)]


@pytest.mark.slow
def test_deep_model_has_as_many_functions_as_a_shallow_one():
    shallow, _ = mlp_step(2)
    deep, _ = mlp_step(12)
    steps = len(deep._lowered.program.steps)
    defined = functions_in(deep.c_source)
    assert len(called_in(deep.c_source)) == steps   # every node is still called
    assert set(called_in(deep.c_source)) == defined  # through the functions defined
    assert len(defined) == len(functions_in(shallow.c_source))
    assert len(defined) < steps / 4
    assert "the same code computes" in deep.c_source
    assert len(deep.c_source) < 2.5 * len(shallow.c_source)


@pytest.mark.slow
def test_c_grows_linearly_with_the_layers():
    """Each layer adds the same number of bytes (calls and declarations), however many
    shared variables the others have (no check written per pair of arguments)."""
    steps = [mlp_step(n)[0] for n in (16, 24, 32)]
    # All with a table body (past TABLE_STEPS kernels): a direct body has another size.
    assert min(len(f._lowered.program.steps) for f in steps) > TABLE_STEPS
    sizes = [len(f.c_source) for f in steps]
    per_layer = [(sizes[1] - sizes[0]) / 8, (sizes[2] - sizes[1]) / 8]
    assert per_layer[1] < 1.1 * per_layer[0]


def test_shared_kernels_compute_each_node_with_its_own_data():
    """Twelve layers through shared functions against the numpy reference mode, over
    three training steps (so the updates too)."""
    rng = np.random.default_rng(1)
    xv, yv = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    f, params = mlp_step(12)
    g, ref_params = mlp_step(12, mode="PY")
    for _ in range(3):
        np.testing.assert_allclose(f(xv, yv), g(xv, yv), rtol=1e-12)
    for p, q in zip(params, ref_params):
        np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-12, atol=1e-15)


def test_a_failing_shared_kernel_names_its_own_node():
    """Two gathers share one function; a bad index names the gather that read it."""
    x, i, j = T.dvector("x"), T.lvector("i"), T.lvector("j")
    f = cgraph.function([x, i, j], [x[i] * 2, x[j] * 3])
    gathers = [k for k in f._lowered.program.steps if "AdvancedSubtensor" in k.kernel.comment]
    assert len(gathers) == 2
    assert called_in(f.c_source).count(gathers[0].kernel.name) == 2
    xv = np.arange(5.0)
    for got, want in zip(f(xv, [1, 2], [3, 4]), [xv[[1, 2]] * 2, xv[[3, 4]] * 3]):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(IndexError, match=r"index 9 is out of bounds[\s\S]*\(x: .*, j: "):
        f(xv, [1, 2], [3, 9])
    with pytest.raises(IndexError, match=r"index 7 is out of bounds[\s\S]*\(x: .*, i: "):
        f(xv, [7, 2], [3, 4])
