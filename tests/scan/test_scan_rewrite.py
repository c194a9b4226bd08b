"""A scan's step is rewritten before it is lowered (cgraph/scan/rewrite.py): numpy's
values and mode PY's in float32 and float64, gradients against numeric ones, the
inner kernel counts, and the user's graph left as built."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for

import cgraph
import cgraph.tensor as T
from cgraph.gradient import verify_grad
from cgraph.scan import scan
from cgraph.scan.op import Scan

H, X = 8, 4


def step_kernels(f) -> list[list[str]]:
    """The kernels of the step of each scan of `f`'s program, by op name."""
    found = []
    for node in f._lowered.nodes:
        if isinstance(node.op, Scan):
            low = node.op.lowered
            found.append([str(n.op) for n in low.nodes if id(n) in low.kernels])
    return found


def weights(dtype: str) -> list[np.ndarray]:
    rng = rng_for("lstm", dtype)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for shape, scale in
            [((4 * H, H), 0.3), ((4 * H, X), 0.3), ((4 * H,), 0.1), ((3, H), 0.3)]]


def lstm(xs, W, U, b, V):
    """An LSTM cell with a softmax output: two small products and a bias (a gemm),
    a chain of elementwise gates (one fused loop), a softmax (reductions)."""
    dtype = xs.dtype

    def step(x, h, c, W, U, b, V):
        z = T.dot(W, h) + T.dot(U, x) + b
        i, f, o = (T.nnet.sigmoid(z[k * H:(k + 1) * H]) for k in range(3))
        c2 = f * c + i * T.tanh(z[3 * H:])
        h2 = o * T.tanh(c2)
        return [h2, c2, T.nnet.softmax(T.dot(V, h2))]

    zeros = T.zeros((H,), dtype=dtype)
    (hs, cs, ys), _ = scan(step, sequences=xs, outputs_info=[zeros, zeros, None],
                           non_sequences=[W, U, b, V])
    return hs, cs, ys


def lstm_numpy(xs, W, U, b, V):
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = c = np.zeros(H)
    hs, cs, ys = [], [], []
    for x in xs:
        z = W @ h + U @ x + b
        i, f, o, g = sig(z[:H]), sig(z[H:2 * H]), sig(z[2 * H:3 * H]), np.tanh(z[3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        e = np.exp(V @ h - (V @ h).max())
        hs.append(h), cs.append(c), ys.append((e / e.sum())[None])
    return [np.array(a) for a in (hs, cs, ys)]


def lstm_function(dtype: str, mode: str = "C", exclude: tuple = ()):
    xs = T.matrix("xs", dtype=dtype)
    W, U, b, V = (T.TensorType(dtype, (None,) * w.ndim)(n) for w, n in
                  zip(weights(dtype), "WUbV"))
    with cgraph.config.change_flags(rewrite_exclude=list(exclude)):
        return cgraph.function([xs, W, U, b, V], list(lstm(xs, W, U, b, V)), mode=mode)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_rewritten_step_equals_numpy_and_mode_py(dtype):
    args = [rng_for("xs", dtype).standard_normal((7, X)).astype(dtype), *weights(dtype)]
    f, py = lstm_function(dtype), lstm_function(dtype, "PY")
    assert step_kernels(f) == [["Dot", "Gemm{1.0, 1.0}", "add", "fused{sigmoid,sigmoid,mul,"
                                "sigmoid,tanh,mul,add,tanh,mul}", "Dot", "MaxShift{(1,)}",
                                "sum_of_fused{sub,exp}{1}", "true_div"]]
    assert len(step_kernels(lstm_function(dtype, exclude=("scan_steps",)))[0]) == 19
    got, ref = f(*args), py(*args)
    want = lstm_numpy(*[a.astype("float64") for a in args])
    tol = 1e-5 if dtype == "float32" else 1e-12
    for g, r, w in zip(got, ref, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)


def test_the_rnn_step_is_one_kernel():
    """benchmarks.scan's RNN step: a product, a sum and a tanh -> one gemm whose
    output pass applies the tanh."""
    w = cgraph.shared(np.eye(8) * 0.5, name="W")
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    out, _ = scan(lambda r, h: T.tanh(T.dot(w, h) + r), sequences=x, outputs_info=h0)
    f = cgraph.function([x, h0], out)
    with cgraph.config.change_flags(rewrite_exclude=["scan_steps"]):
        as_built = cgraph.function([x, h0], out)
    assert step_kernels(as_built) == [["Dot", "add", "tanh"]]
    assert step_kernels(f) == [["Gemm{1.0, 1.0, fused{tanh}}"]]
    assert f.rewrites["scan_steps"] == {"scan_step": 1}
    xs, h = rng_for("rnn").standard_normal((5, 8)), np.ones(8)
    want = []
    for r in xs:
        h = np.tanh(0.5 * h + r)
        want.append(h)
    np.testing.assert_allclose(f(xs, np.ones(8)), want, rtol=1e-12)


def test_the_step_gets_the_functions_settings():
    """rewrite_exclude reaches the step (no fusion: the gates stay apart); the user's
    scan op and its step graph, which the gradient reads, stay as built."""
    no_fusion = lstm_function("float64", exclude=("fusion",))
    assert len(step_kernels(no_fusion)[0]) > 8
    xs = T.dmatrix("xs")
    W, U, b, V = (T.TensorType("float64", (None,) * w.ndim)(n) for w, n in
                  zip(weights("float64"), "WUbV"))
    hs, _, _ = lstm(xs, W, U, b, V)
    op = hs.owner.op
    nodes = [str(n.op) for n in op.fgraph.toposort()]
    cgraph.function([xs, W, U, b, V], hs)
    assert op.step is op.fgraph and [str(n.op) for n in op.fgraph.toposort()] == nodes


def test_gradients_through_rewritten_steps():
    """The gradient is a second scan: both steps rewritten, gradients equal to
    central differences."""
    ws = weights("float64")
    xs = rng_for("grad").standard_normal((4, X))

    def cost(xs, W, U, b, V):
        hs, cs, ys = lstm(xs, W, U, b, V)
        return (hs ** 2).sum() + (ys * T.arange(3)).sum() + cs[-1].sum()

    verify_grad(cost, [xs, *ws], mode="C")
    variables = [T.TensorType("float64", (None,) * a.ndim)() for a in (xs, *ws)]
    grads = cgraph.grad(cost(*variables), variables)
    g = cgraph.function(variables, grads)
    with cgraph.config.change_flags(rewrite_exclude=["scan_steps"]):
        as_built = cgraph.function(variables, grads)
    assert g.rewrites["scan_steps"]["scan_step"] == 2  # the loop and its backward loop
    # the forward step and the backward one (its vector-Jacobian product)
    assert [len(k) for k in step_kernels(as_built)] == [19, 80]
    assert [len(k) for k in step_kernels(g)] == [8, 22]


def test_a_scan_inside_a_step_is_rewritten_too():
    x = T.dmatrix("x")

    def outer(row):
        inner, _ = scan(lambda v, acc: T.exp(v * 1.0) * 2.0 + acc, sequences=row,
                        outputs_info=T.zeros(()))
        return inner[-1]

    out, _ = scan(outer, sequences=x)
    f = cgraph.function([x], out)
    (outer_step,) = [n.op for n in f._lowered.nodes if isinstance(n.op, Scan)]
    (inner_op,) = [n.op for n in outer_step.step.toposort() if isinstance(n.op, Scan)]
    assert inner_op.step is not inner_op.fgraph
    data = rng_for("nested").standard_normal((3, 5))
    np.testing.assert_allclose(f(data), (2 * np.exp(data)).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("mode", ["C", "FAST_COMPILE"])
def test_outputs_the_rewrites_turn_into_inputs_constants_or_views(mode):
    """h * 1.0 is the previous state, r * 0.0 + 2.0 a constant, h[::-1] + 0.0 a view
    once rewritten: each is still written into its output's rows."""
    xs, h0 = T.dmatrix("xs"), T.dvector("h0")
    outs, _ = scan(lambda r, h: [h * 1.0, r * 0.0 + 2.0, h[::-1] + 0.0, h + r * 0.0],
                   sequences=xs, outputs_info=[h0, None, None, None])
    f = cgraph.function([xs, h0], outs, mode=mode)
    assert f.rewrites["scan_steps"] == {"scan_step": 1}
    data, h = rng_for("outputs").standard_normal((5, 3)), np.array([1.0, 2.0, 3.0])
    want = [np.tile(h, (5, 1)), np.full((5, 3), 2.0), np.tile(h[::-1], (5, 1)),
            np.tile(h, (5, 1))]
    for got, w, ref in zip(f(data, h), want, cgraph.function([xs, h0], outs, mode="PY")(data, h)):
        np.testing.assert_array_equal(got, w)
        np.testing.assert_array_equal(got, ref)
