"""Float scalar constants reach the kernels as arguments, not C literals: a graph that
differs only in such a number (a learning rate) loads the module already built."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from helpers import MODES, reference, rng_for, run_json_child

import cgraph
import cgraph.tensor as T
from cgraph.codegen.lower import passed_as_value

# An SGD step whose learning rate is the script's argument; reports compiles, the
# results and whether the rate appears in the C.
CHILD = textwrap.dedent("""
    import json
    import numpy as np
    import cgraph, cgraph.tensor as T
    from cgraph import backend
    LR = {lr}
    x = T.dvector("x")
    w = cgraph.shared(np.linspace(0.5, 1.5, 4), name="W")
    cost = T.sum((w * x - 1.0) ** 2)
    f = cgraph.function([x], cost, updates=[(w, w - LR * cgraph.grad(cost, w))])
    data = np.array([0.5, -1.0, 2.0, 0.25])
    costs = [float(f(data)) for _ in range(3)]
    literal = "{{ " + repr(LR) + " }}"  # a static array holding the rate
    print(json.dumps({{"compiles": backend.stats.compiles, "costs": costs,
                      "w": w.get_value().tolist(), "in_c": literal in f.c_source}}))
""")


def sgd_reference(lr: float) -> tuple[list[float], list[float]]:
    w = np.linspace(0.5, 1.5, 4)
    data = np.array([0.5, -1.0, 2.0, 0.25])
    costs = []
    for _ in range(3):
        r = w * data - 1.0
        costs.append(float(np.sum(r ** 2)))
        w = w - lr * (2 * r * data)
    return costs, w.tolist()


@pytest.mark.slow
def test_learning_rate_change_in_a_new_process_is_a_cache_hit(tmp_path):
    first = run_json_child(CHILD.format(lr=0.1), tmp_path)
    changed = run_json_child(CHILD.format(lr=0.05), tmp_path)
    assert first["compiles"] >= 1
    assert changed["compiles"] == 0
    assert not first["in_c"] and not changed["in_c"]
    for got, lr in ((first, 0.1), (changed, 0.05)):
        costs, w = sgd_reference(lr)
        np.testing.assert_allclose(got["costs"], costs, rtol=1e-12)
        np.testing.assert_allclose(got["w"], w, rtol=1e-12)


def test_which_constants_are_values():
    assert passed_as_value(np.array(0.1))
    assert passed_as_value(np.array([0.05], dtype=np.float32))
    assert passed_as_value(np.array(np.nan))
    for kept in (np.array(2.0), np.array(1.0), np.array(0.0), np.array(0.5), np.array(3),
                 np.array([0.1, 0.2]), np.array(True)):
        assert not passed_as_value(kept), kept
    assert not passed_as_value(np.array(0.1), prefix="s0_")  # a scan step inlines all


@pytest.mark.parametrize("mode", MODES)
def test_same_structure_other_numbers_right_results(mode):
    """Two functions that differ only in their float scalars share one module in C and
    each computes with its own numbers (float64 and float32, broadcast and not)."""
    rng = rng_for("constants-as-values")
    for dtype in ("float64", "float32"):
        x = T.vector("x", dtype=dtype)
        data = rng.standard_normal(6).astype(dtype)
        fs = []
        for scale, shift in ((0.37, -0.25), (1.7, 3.5)):
            out = T.exp(x * np.asarray(scale, dtype)) + np.asarray(shift, dtype) * x
            f = cgraph.function([x], out, mode=mode)
            want = reference([x], out)(data)
            np.testing.assert_allclose(f(data), want, rtol=1e-6 if dtype == "float32"
                                       else 1e-14)
            fs.append(f)
        if mode == "C":
            assert fs[0].compiled.module.key == fs[1].compiled.module.key
            assert "{ 0.37 }" not in fs[0].c_source and "{ 1.7 }" not in fs[1].c_source
