"""Differential fuzzing: random graphs compiled to C against the numpy reference
(mode "PY"), and their C gradients against central differences.

The example count is bounded for CI; `CGRAPH_FUZZ_EXAMPLES=500 python -m pytest
tests/test_fuzz.py` runs a longer search.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T
from cgraph.gradient import numeric_grad

EXAMPLES = int(os.environ.get("CGRAPH_FUZZ_EXAMPLES", "12"))

# Each rule keeps values in a range where the op is smooth and finite.
UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: T.exp(T.tanh(x)),
    "sin": T.sin,
    "cos": T.cos,
    "tanh": T.tanh,
    "sqrt": lambda x: T.sqrt(x * x + 1.0),
    "log": lambda x: T.log(x * x + 0.5),
    "sigmoid": T.nnet.sigmoid,
    "sqr": lambda x: x * x,
    "scale": lambda x: x * 0.5 - 0.25,
    "transpose": lambda x: x.T,
}
BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (y * y + 1.0),
    "pow": lambda x, y: (x * x + 0.5) ** T.tanh(y),
}
REDUCE = {
    "sum0": lambda x: T.sum(x, axis=0, keepdims=True) if x.ndim else x,
    "sum1": lambda x: T.sum(x, axis=-1, keepdims=True) if x.ndim else x,
    "mean": lambda x: T.mean(x) + x * 0.0,
}


@st.composite
def expression(draw, depth: int = 3):
    """(builder, n_leaves): builder(leaves) makes the expression from 2-d leaves."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        k = draw(st.integers(0, 2))
        return (lambda leaves, k=k: leaves[k])
    kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "dot"]))
    if kind == "unary":
        name = draw(st.sampled_from(sorted(UNARY)))
        inner = draw(expression(depth - 1))
        return lambda leaves: UNARY[name](inner(leaves))
    if kind == "reduce":
        name = draw(st.sampled_from(sorted(REDUCE)))
        inner = draw(expression(depth - 1))
        return lambda leaves: REDUCE[name](inner(leaves))
    left, right = draw(expression(depth - 1)), draw(expression(depth - 1))
    if kind == "dot":  # square leaves keep dot's alignment whatever came before
        return lambda leaves: T.dot(left(leaves), right(leaves)) * 0.25
    name = draw(st.sampled_from(sorted(BINARY)))
    return lambda leaves: BINARY[name](left(leaves), right(leaves))


@st.composite
def case(draw):
    n = draw(st.integers(1, 3))
    # Leaf shapes broadcast against (n, n): full, a row, a column.
    shapes = [draw(st.sampled_from([(n, n), (1, n), (n, 1)])) for _ in range(3)]
    builders = [draw(expression()) for _ in range(3)]
    seed = draw(st.integers(0, 2**16))
    return n, shapes, builders, seed


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case())
def test_random_graphs_c_equals_reference_and_gradients(data):
    n, shapes, builders, seed = data
    rng = np.random.default_rng(seed)
    leaves = [T.tensor("float64", shape=tuple(1 if s == 1 else None for s in shape),
                       name=f"x{i}") for i, shape in enumerate(shapes)]
    values = [rng.uniform(-1.5, 1.5, size=shape) for shape in shapes]
    outs = []
    for build in builders:
        try:
            outs.append(build(leaves))
        except (ValueError, TypeError):  # e.g. dot of a row with a row: not a valid graph
            continue
    if not outs:
        return
    cost = sum(T.sum(o * (k + 1.5)) for k, o in enumerate(outs))
    grads = cgraph.grad(cost, leaves, disconnected_inputs="ignore")
    try:
        c_fn = cgraph.function(leaves, [*outs, *grads], on_unused_input="ignore")
        got = c_fn(*values)
    except ValueError:  # shapes that do not align at call time: PY must agree
        py = cgraph.function(leaves, outs, mode="PY", on_unused_input="ignore")
        with pytest.raises(ValueError):
            py(*values)
        return
    py_fn = cgraph.function(leaves, [*outs, *grads], mode="PY", on_unused_input="ignore")
    want = py_fn(*values)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, k
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-11, err_msg=f"output {k}")
    cost_py = cgraph.function(leaves, cost, mode="PY", on_unused_input="ignore")
    numeric = numeric_grad(lambda *v: float(cost_py(*v)), values, 1e-6)
    for i, (g, num) in enumerate(zip(got[len(outs):], numeric)):
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-5, err_msg=f"grad {i}")
