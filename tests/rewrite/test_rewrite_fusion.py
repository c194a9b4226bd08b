"""Elementwise fusion, the SIMD math header, debugprint, and random expression trees
compiled with and without rewrites (Hypothesis)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cgraph
import cgraph.tensor as T
from cgraph.compile.function import has_libmvec
from cgraph.printing import debugprint
from cgraph.tensor.elemwise import FusedElemwise

RNG = np.random.default_rng(7)


def fused_nodes(f: cgraph.Function) -> list:
    return [n for n in f.fgraph.toposort() if isinstance(n.op, FusedElemwise)]


def assert_matches(f, ref, args, rtol=1e-12):
    for got, want in zip(f(*args), ref(*args)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)


def test_chain_becomes_one_loop_with_one_statement_per_op():
    x, y, z = T.dvectors("x", "y", "z")
    out = T.exp(T.sin(x ** 2)) * y + z
    f = cgraph.function([x, y, z], [out])
    (node,) = f.fgraph.toposort()
    assert [s.op.name for s in node.op.scalar_op.steps] == ["mul", "sin", "exp", "mul", "add"]
    (step,) = f._lowered.program.steps
    assert [s.name for s in step.kernel.statements] == ["t0", "t1", "t2", "t3", "t4"]
    assert "/* sin at test_rewrite_fusion.py:" in f.c_source
    args = [RNG.standard_normal(9) for _ in range(3)]
    assert_matches(f, reference([x, y, z], [out]), args)
    # Non-contiguous (strided) inputs take the general loop.
    strided = [RNG.standard_normal(18)[::2] for _ in range(3)]
    assert_matches(f, reference([x, y, z], [out]), strided)


def test_broadcasting_multiple_outputs_and_mixed_dtypes():
    m, v, i = T.dmatrix("m"), T.dvector("v"), T.ivector("i")
    a = T.exp(m) + v          # v broadcasts along rows (a view with stride 0)
    b = a * 2 - i             # int32 joins a float64 loop
    c = T.tanh(a) > 0.5       # a bool output
    outs = [a, b, c]
    f = cgraph.function([m, v, i], outs)
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 3 and len(f._lowered.program.steps) == 1
    args = [RNG.standard_normal((3, 4)), RNG.standard_normal(4),
            RNG.integers(-5, 5, 4).astype("int32")]
    assert_matches(f, reference([m, v, i], outs), args)
    with pytest.raises(ValueError, match="has length 1 on axis 1"):  # Theano's rule
        f(args[0][:, :1], args[1], args[2])


def test_siblings_sharing_an_input_share_a_loop():
    x = T.dvector("x")
    e = T.exp(x)
    outs = [e * 2, e + 1, T.sin(x)]
    f = cgraph.function([x], outs)
    assert len(fused_nodes(f)) == 1 and len(f.fgraph.toposort()) == 1
    assert_matches(f, reference([x], outs), [RNG.standard_normal(5)])


def test_an_intermediate_output_keeps_the_rule():
    # a = exp(x) is an output and an input of b, in one loop: x and y have the same
    # broadcast pattern, so their lengths must be equal (Theano's rule), as unfused.
    x, y = T.dvectors("x", "y")
    a = T.exp(x)
    outs = [a, a * y]
    f = cgraph.function([x, y], outs)
    assert len(fused_nodes(f)) == 1
    ref = reference([x, y], outs)
    assert_matches(f, ref, [RNG.standard_normal(6), RNG.standard_normal(6)])
    assert_matches(f, ref, [np.zeros(0), np.zeros(0)])
    for g in (f, ref):
        with pytest.raises(ValueError, match="has length 1 on axis 0"):
            g(np.array([0.5]), RNG.standard_normal(6))


def test_no_fusion_across_broadcast_patterns_or_cycles():
    m, r = T.dmatrix("m"), T.drow("r")
    outs = [m * T.exp(r)]     # exp(r) is a row: computing it per element would redo it
    f = cgraph.function([m, r], outs)
    names = [str(n.op) for n in f.fgraph.toposort()]
    assert names == ["exp", "mul"]
    x = T.dvector("x")
    s = T.exp(x)
    cyc = [s * T.sum(s)]      # s -> sum -> mul: fusing exp and mul would need sum inside
    g = cgraph.function([x], cyc)
    assert [str(n.op) for n in g.fgraph.toposort()] == ["exp", "Sum{(0,)}", "DimShuffle{x}", "mul"]
    assert_matches(g, reference([x], cyc), [RNG.standard_normal(4)])


def test_fusion_can_be_excluded():
    x = T.dvector("x")
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        f = cgraph.function([x], T.exp(x) + 1)
    assert fused_nodes(f) == [] and len(f._lowered.program.steps) == 2


@pytest.mark.slow
def test_training_steps_need_few_kernels():
    """The XOR tutorial step: 38 kernels unrewritten, 3 rewritten (Theano's
    broadcasting rule leaves its gradient no SumTo; the weight gradients, outer
    products of a column and a row, are multiplies fused into the updates; the
    squared error runs in the output sum's kernel; the 10 kernels before the updates
    run as one block, rewrite/step_fusion.py)."""
    from benchmarks.xor import tutorial_step

    with cgraph.config.change_flags(optimizer="None"):
        plain, _ = tutorial_step(cgraph)
    fused, _ = tutorial_step(cgraph)
    n_plain = len(plain._lowered.program.steps)
    n_fused = len(fused._lowered.program.steps)
    assert n_plain == 38 and n_fused <= 3
    x = np.array([0.0, 1.0])
    np.testing.assert_allclose(fused(x, 1.0), plain(x, 1.0), rtol=1e-12)


def mlp_step(optimizer: str, seed: int = 0) -> cgraph.Function:
    """784-256-10 with tanh, softmax cross-entropy (written out) and SGD updates."""
    rng = np.random.default_rng(seed)
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    W1 = cgraph.shared(rng.standard_normal((784, 256)) * 0.05, name="W1")
    b1 = cgraph.shared(np.zeros(256), name="b1")
    W2 = cgraph.shared(rng.standard_normal((256, 10)) * 0.05, name="W2")
    b2 = cgraph.shared(np.zeros(10), name="b2")
    h = T.tanh(T.dot(X, W1) + b1)
    e = T.exp(T.dot(h, W2) + b2)
    p = e / T.sum(e, axis=1, keepdims=True)
    loss = -T.mean(T.sum(Y * T.log(p), axis=1))
    params = [W1, b1, W2, b2]
    grads = cgraph.grad(loss, params)
    with cgraph.config.change_flags(optimizer=optimizer):
        return cgraph.function([X, Y], loss,
                               updates=[(w, w - 0.1 * g) for w, g in zip(params, grads)])


@pytest.mark.slow
def test_mlp_step_kernel_count():
    """47 kernels unrewritten; 14 with rewrites (the issue's target: half of 30):
    4 Gemms (the two forward `dot(x, W) + b`, the bias added by BLAS into a copy of
    it, the hidden layer's tanh run over the output in the same kernel (an epilogue);
    the updates `W - 0.1 * dot(...)`, the product added into a copy of W), 1 Dot (the
    gradient through W2), 3 sums in the loop computing what they sum (the
    cross-entropy's row sums, the gradient's sum of exps, which stores the exps too,
    a SumTo in the gradient), 5 reductions followed in their kernel by the elementwise
    loop that only reads their result (the max and its isinf guard, logsumexp's sum
    of exps and log(sum) + max, the loss's sum and the mean's division, each bias
    gradient's SumTo over the rows, storing the values the weight gradient reads, and
    the bias's SGD update) and 1 elementwise loop (the cross-entropy's gradient, read
    by two sums). The mean's count (X's rows) is no kernel: the planner writes it
    into the plan (a plan value, lower.plan_value).
    Theano's broadcasting rule made it 25 (it was 30): the types decide what a
    gradient sums; fusing sums over some axes made it 24, summing loops that store
    their values 21, the Gemm epilogue 20, reduction epilogues 15, the count as a
    plan value 14."""
    plain, fused = mlp_step("None"), mlp_step("fast_run")
    families = [s.kernel.family for s in fused._lowered.program.steps]
    assert len(plain._lowered.program.steps) == 47
    assert len(families) <= 14 and families.count("dot") == 1
    assert "shape_value" not in families
    assert families.count("dot_add") == 4 and families.count("fused_sum_to") == 3
    assert families.count("epilogue") == 5 and families.count("elementwise") <= 1
    x = RNG.standard_normal((16, 784))
    y = np.eye(10)[RNG.integers(0, 10, 16)]
    np.testing.assert_allclose(fused(x, y), plain(x, y), rtol=1e-12)
    for got, want in zip(fused._shared, plain._shared):  # the four updates
        np.testing.assert_allclose(got.get_value(), want.get_value(), rtol=1e-12, atol=1e-15)


@pytest.mark.skipif(not has_libmvec(), reason="needs glibc's libmvec")
def test_simd_math_is_used_and_keeps_nan_and_inf():
    x, y, z = T.dvectors("x", "y", "z")
    f = cgraph.function([x, y, z], T.exp(T.sin(x * x)) * y + z)
    so = next(Path(f.c_path).parent.glob("*.so"))
    symbols = subprocess.run(["nm", "-D", str(so)], capture_output=True, text=True).stdout
    assert "_ZGV" in symbols and "v_exp" in symbols and "v_sin" in symbols
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e-300, 3.0] * 3)
    ones = np.ones_like(special)
    with np.errstate(all="ignore"):
        want = np.exp(np.sin(special * special)) * ones + ones
    got = f(special, ones, ones)
    np.testing.assert_allclose(got, want, rtol=1e-15, equal_nan=True)
    big = RNG.standard_normal(10_001) * 30
    np.testing.assert_allclose(f(big, ones[:1].repeat(10_001), 0 * big),
                               np.exp(np.sin(big * big)), rtol=1e-14)


def test_debugprint_lists_the_fused_parts():
    x, y = T.dvectors("x", "y")
    f = cgraph.function([x, y], [T.exp(x) * y + 1])
    text = debugprint(f, file="str")
    assert text.startswith("fused{exp,mul,add} [id A] float64[?]  <- output 0\n"
                           " > t0 = exp(x0)  float64  (exp at test_rewrite_fusion.py:")
    assert " > outputs: t2\n |x [id B] float64[?]\n |y [id C] float64[?]\n" in text
    w = cgraph.shared(np.ones(3), name="w")
    g = cgraph.function([x], T.sum(w * x), updates=[(w, w - 0.1 * cgraph.grad(T.sum(w * x), w))])
    assert "<- update of w" in debugprint(g, file="str")
    assert debugprint(T.exp(x), file="str") == ("exp [id A] float64[?]\n"
                                                " |x [id B] float64[?]\n")
    assert cgraph.debugprint is debugprint
    with pytest.raises(TypeError, match="debugprint takes"):
        debugprint(3)


# --------------------------------------------------------------------------- hypothesis

UNARY = ["neg", "exp", "sin", "cos", "tanh", "abs", "sigmoid"]
BINARY = ["add", "sub", "mul", "true_div", "maximum", "minimum"]


def expressions(leaves):
    def extend(children):
        unary = st.tuples(st.sampled_from(UNARY), children)
        binary = st.tuples(st.sampled_from(BINARY), children, children)
        return unary | binary
    return st.recursive(st.sampled_from(leaves), extend, max_leaves=8)


def build(tree, env):
    if isinstance(tree, str):
        return env[tree]
    name, *args = tree
    op = T.ELEMENTWISE.get(name)
    if op is None:  # an op another part of the library may not have yet
        op = T.ELEMENTWISE["add"]
    return op(*[build(a, env) for a in args])


@pytest.mark.slow
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tree=expressions(["m", "r", "v", "c", "two"]), dtype=st.sampled_from(["float64",
                                                                             "float32"]))
def test_random_expression_trees_equal_with_and_without_rewrites(tree, dtype):
    m = T.matrix("m", dtype=dtype)
    r = T.row("r", dtype=dtype)
    v = T.vector("v", dtype=dtype)
    c = T.col("c", dtype=dtype)
    env = {"m": m, "r": r, "v": v, "c": c, "two": T.constant(np.asarray(2, dtype=dtype))}
    out = build(tree, env)
    # A second output sharing the tree (tanh, not exp: exp(out) would turn float32's
    # rounding of a large `out` into relative errors far above any fixed tolerance).
    extra = T.tanh(out) * out if out.ndim else out
    inputs = [m, r, v, c]
    total = T.sum(T.tanh(out) * 0.5)  # a sum of the tree, computed in its loop
    # sums over some axes (rows, and columns of a matrix), also in the tree's loop
    partial = [T.sum(T.tanh(out), axis=-1)] if out.ndim else []
    partial += [T.sum(out * 0.5, axis=0)] if out.ndim == 2 else []
    outs = [out, extra, total, *partial]
    f = cgraph.function(inputs, outs, on_unused_input="ignore")
    ref = reference(inputs, outs, on_unused_input="ignore")
    args = [RNG.standard_normal(s).astype(dtype) for s in [(3, 4), (1, 4), (4,), (3, 1)]]
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_matches(f, ref, args, rtol=tol)


def test_fusion_keeps_lazy_branches_lazy():
    from cgraph.ifelse import ifelse

    x, c = T.dvector("x"), T.dscalar("c")
    common = T.exp(x)
    branch = T.sin(common) * 3       # needed only when c > 0
    out = ifelse(T.gt(c, 0), branch, common + 1) * 2
    f = cgraph.function([x, c], out)
    groups = [[s.op.name for s in n.op.scalar_op.steps] for n in fused_nodes(f)]
    assert ["sin", "mul"] in groups and all("exp" not in g or "sin" not in g for g in groups)
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(f(v, 1.0), np.sin(np.exp(v)) * 6, rtol=1e-14)
    np.testing.assert_allclose(f(v, -1.0), (np.exp(v) + 1) * 2, rtol=1e-14)


def test_sum_of_elementwise_is_one_loop_without_a_temporary():
    x, y, m = T.dvector("x"), T.dvector("y"), T.fmatrix("m")
    outs = [T.sum((x - y) ** 2), T.mean(T.exp(m) * 2), T.sum(T.tanh(x))]
    f = cgraph.function([x, y, m], outs)
    ops = [str(n.op) for n in f.fgraph.toposort()]
    assert ops.count("sum_of_fused{sub,mul}") == 1
    # the mean's division runs in its sum's kernel (an epilogue)
    assert "sum_of_fused{exp,mul}+fused{cast_float32,cast_float32,mul,true_div}" in ops
    assert not any(s.kernel.family == "reduce" for s in f._lowered.program.steps)
    assert "reduction(+:acc)" in f.c_source
    ref = reference([x, y, m], outs)
    a, b = RNG.standard_normal(1001), RNG.standard_normal(1001)
    c = RNG.standard_normal((30, 40)).astype("float32")
    for args in [(a, b, c), (a[::2], b[::2], c.T), (a[:0], b[:0], c[:0, :3])]:
        for got, want in zip(f(*args), ref(*args)):
            assert got.dtype == want.dtype and got.shape == want.shape == ()
            np.testing.assert_allclose(got, want, rtol=2e-6 if got.dtype == "float32" else 1e-12,
                                       equal_nan=True)
    # The summed value read elsewhere too: it is stored, and summed by a Sum.
    kept = cgraph.function([x], [T.sum(T.exp(x)), T.exp(x)])
    assert "Sum{(0,)}" in [str(n.op) for n in kept.fgraph.toposort()]


def test_sum_over_some_axes_of_elementwise_is_one_loop():
    """sum(elementwise(...), axis=...) over some axes accumulates in the loop that
    computes the values (a FusedSumTo keeping the summed axes, then a view dropping
    them): rows (the inner axis, summed in a register), columns, and two of three axes;
    a row of zero length sums to 0."""
    m, n = T.dmatrix("m"), T.dmatrix("n")
    t = T.ftensor3("t")
    outs = [T.sum(T.exp(m) * n, axis=1), T.sum(m - n, axis=0),
            T.sum(T.tanh(t) * 2, axis=(0, 2)), -T.sum(m * n, axis=-1).mean()]
    f = cgraph.function([m, n, t], outs)
    families = [s.kernel.family for s in f._lowered.program.steps]
    # one Sum left: the mean's, of the row sums (no elementwise op to fuse with), with
    # the mean's division and negation in its kernel (an epilogue); the mean's count
    # is a plan value (no kernel)
    assert families.count("fused_sum_to") == 4 and families == families[:4] + ["epilogue"]
    ref = reference([m, n, t], outs)
    a, b = RNG.standard_normal((7, 33)), RNG.standard_normal((7, 33))
    c = RNG.standard_normal((3, 5, 17)).astype("float32")
    for args in [(a, b, c), (a[:, ::2], b[:, ::2], c.transpose(2, 1, 0)[:3]),
                 (a[:, :0], b[:, :0], c[:, :, :0])]:
        for got, want in zip(f(*args), ref(*args)):
            assert got.dtype == want.dtype and got.shape == want.shape
            single = got.dtype == "float32"  # 51 terms of either sign: atol too
            np.testing.assert_allclose(got, want, rtol=2e-6 if single else 1e-12,
                                       atol=1e-5 if single else 1e-12)
