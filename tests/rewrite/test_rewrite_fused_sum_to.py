"""An elementwise chain over broadcast operands that ends in a sum (full, or SumTo in a
gradient) runs as one loop with no array of the broadcast shape: the contractive
auto-encoder's Jacobian penalty and its gradient."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from helpers import MODES, reference, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir
from cgraph.ifelse import ifelse
from cgraph.tensor.fused_sum_to import FusedSumTo
from cgraph.tensor.reduce_epilogue import ReduceEpilogue

B, V, K = 6, 7, 5


def _sum_ops(f):
    """The FusedSumTo ops of the compiled graph, also those followed by an epilogue."""
    ops = [n.op.inner if isinstance(n.op, ReduceEpilogue) else n.op for n in f.fgraph.toposort()]
    return [op for op in ops if isinstance(op, FusedSumTo)]


def _broadcast_buffers(f, shape):
    """The variables of the compiled graph with `shape`: arrays the plan would store."""
    return [v for n in f.fgraph.toposort() for v in n.outputs if v.type.shape == shape]


def _penalty_graph():
    x = T.dmatrix("x")
    W = T.dmatrix("W")
    h = T.nnet.sigmoid(T.dot(x, W))
    J = T.reshape(h * (1 - h), (B, 1, K)) * T.reshape(W, (1, V, K))
    return x, W, h, T.sum(J ** 2) / B


def _penalty_numpy(xv, Wv):
    h = 1 / (1 + np.exp(-(xv @ Wv)))
    a = h * (1 - h)
    pen = (a[:, None, :] ** 2 * Wv[None, :, :] ** 2).sum() / B
    # d pen / d W: direct term, plus the term through a = h (1 - h), h = sigmoid(x W)
    g_direct = 2 / B * (a ** 2).sum(axis=0)[None, :] * Wv
    g_a = 2 / B * a * (Wv ** 2).sum(axis=0)[None, :]
    g_z = g_a * (1 - 2 * h) * a
    return pen, g_direct + xv.T @ g_z


@pytest.mark.parametrize("mode", MODES)
def test_jacobian_penalty_and_gradient_store_no_broadcast_array(mode):
    x, W, h, pen = _penalty_graph()
    f = cgraph.function([x, W], [pen, T.grad(pen, W)], mode=mode)
    xv, Wv = rng_for("cae", "x").uniform(size=(B, V)), rng_for("cae", "W").normal(size=(V, K))
    want = _penalty_numpy(xv, Wv)
    for got, expected in zip(f(xv, Wv), want):
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    if mode == "C":
        assert _broadcast_buffers(f, (B, V, K)) == []
        assert sorted(op.axes for op in _sum_ops(f)) == [(0,), (1,)]


def test_partial_sums_of_a_broadcast_chain_equal_the_reference():
    """Gradients of a column-by-row chain: SumTo fused with the chain, on strided inputs."""
    col, row = T.dcol("col"), T.drow("row")
    cost = T.sum(T.exp(col * row) * T.tanh(col + row) + 0.5 * col)
    outs = [T.grad(cost, col), T.grad(cost, row)]
    f = cgraph.function([col, row], outs)
    # Three: the chain whose value both partial sums read stores it for the second.
    assert len(_sum_ops(f)) == 3
    ref = reference([col, row], outs)
    cv = rng_for("sumto", "c").normal(size=(9, 2))[:, :1]  # a strided column
    rv = rng_for("sumto", "r").normal(size=(1, 11))
    for got, want in zip(f(cv, rv), ref(cv, rv)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_stored_intermediate_is_not_recomputed():
    """An operand of the broadcast shape that is a function output stays one array."""
    col, row = T.dcol("col"), T.drow("row")
    prod = col * row
    f = cgraph.function([col, row], [prod, T.sum(prod * 2), T.sum(prod * 3)])
    muls = [n for n in f.fgraph.toposort() if "mul" in str(n.op)]
    assert len(_broadcast_buffers(f, (None, None))) >= 1 and muls
    cv, rv = np.arange(3.0)[:, None], np.arange(4.0)[None, :]
    got = f(cv, rv)
    np.testing.assert_allclose(got[0], cv * rv)
    np.testing.assert_allclose(got[1:], [(cv * rv).sum() * 2, (cv * rv).sum() * 3])


def test_sums_over_each_pair_of_axes_of_a_3d_chain():
    """The summed inner axis accumulates in a register (SIMD), a kept one in the output:
    gradients of three operands broadcast along different axes of a 3-d chain."""
    a = T.tensor("float64", shape=(None, 1, 1), name="a")
    b = T.tensor("float64", shape=(1, None, 1), name="b")
    c = T.tensor("float64", shape=(1, 1, None), name="c")
    cost = T.sum(T.exp(-T.sqr(a - b) / (1 + T.sqr(c))) * (a + c))
    outs = T.grad(cost, [a, b, c])
    f = cgraph.function([a, b, c], outs)
    sums = sorted(op.axes for op in _sum_ops(f))
    assert (2,) in sums and any(2 not in axes for axes in sums), sums  # both paths
    ref = reference([a, b, c], outs)
    av = rng_for("sumto3", "a").normal(size=(5, 1, 1))
    bv = rng_for("sumto3", "b").normal(size=(1, 7, 1))
    cv = rng_for("sumto3", "c").normal(size=(1, 1, 33))
    for got, want in zip(f(av, bv, cv), ref(av, bv, cv)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _stored_sums(f):
    return [n for n in f.fgraph.toposort()
            if isinstance(n.op, FusedSumTo) and len(n.outputs) > 1
            or isinstance(n.op, ReduceEpilogue) and isinstance(n.op.inner, FusedSumTo)
            and len(n.op.inner_node(n).outputs) > 1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
def test_a_summed_value_read_elsewhere_is_stored_by_the_same_loop(mode, dtype):
    """A bias gradient's operand (SumTo over the rows) and a softmax's exp (a sum over
    the columns) are read by other nodes too: the summing loop also stores them, and
    the results equal the unrewritten graph's, as outputs or read by later nodes."""
    x = T.matrix("x", dtype=dtype)
    b = T.row("b", dtype=dtype)
    g = T.tanh(x) * (x + b)                     # read by the sum, a product and an output
    e = T.exp(x)
    outs = [T.grad(T.sum(g), b), T.dot(g.T, x), g,
            e / T.sum(e, axis=1, keepdims=True)]
    f = cgraph.function([x, b], outs, mode=mode)
    ref = reference([x, b], outs)
    if mode == "C":
        # One loop sums the exps by rows and stores them, g and tanh(x); then the bias
        # gradient's sum, the Dot and the quotient.
        assert len(_stored_sums(f)) == 1
        assert len(f._lowered.program.steps) == 4
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    rng = rng_for("stored", dtype)
    for shape in ((5, 3), (1, 4), (0, 3)):
        xv = rng.normal(size=shape).astype(dtype)
        bv = rng.normal(size=(1, shape[1])).astype(dtype)
        for got, want in zip(f(xv, bv), ref(xv, bv)):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, **tol)
    xt = rng.normal(size=(4, 6)).astype(dtype).T  # a transposed (strided) operand
    bv = rng.normal(size=(1, 4)).astype(dtype)
    for got, want in zip(f(xt, bv), ref(xt, bv)):
        np.testing.assert_allclose(got, want, **tol)


def test_a_sum_in_a_lazy_branch_stores_nothing_for_the_other():
    """The producer is read outside the branch: it stays its own loop."""
    x, c = T.dmatrix("x"), T.dscalar("c")
    e = T.exp(x)
    out = ifelse(c > 0, T.sum(e, axis=0), T.zeros_like(x[0]))
    outs = [out, e * 2]
    f = cgraph.function([x, c], outs)
    assert _stored_sums(f) == []
    ref = reference([x, c], outs)
    xv = rng_for("lazy", "x").normal(size=(3, 2))
    for cv in (1.0, -1.0):
        for got, want in zip(f(xv, cv), ref(xv, cv)):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_stored_sum_compiles_without_warnings(tmp_path):
    x, b = T.fmatrix("x"), T.frow("b")
    g = T.tanh(x) * (x + b)
    f = cgraph.function([x, b], [T.sum(g, axis=0), g * 2, T.sum(g, axis=1)])
    assert _stored_sums(f)
    source = tmp_path / "stored.c"
    source.write_text(f.c_source)
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", f"-I{csrc_dir()}", str(source)], check=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_row_sums_contiguous_broadcast_and_strided_equal_numpy(dtype):
    """A softmax's middle kernel: exp(x - rowmax) summed along rows and stored. Contiguous
    rows run the vector loop (the row maximum read once a row: it broadcasts by its
    type); a transposed or sliced input, the strided one. Both against numpy, with
    lengths that leave a remainder of any vector width, and a NaN row."""
    x = T.matrix("x", dtype=dtype)
    f = cgraph.function([x], [T.nnet.softmax(x), T.nnet.softmax(x.T), T.nnet.softmax(x[:, ::3])])
    assert any(str(op).startswith("sum_of_fused") for op in map(str, _sum_ops(f)))
    rtol = 1e-12 if dtype == "float64" else 2e-6

    def softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    rng = np.random.default_rng(5)
    for shape in [(3, 4), (37, 53), (2, 1), (1, 67)]:
        a = (rng.standard_normal(shape) * 3).astype(dtype)
        if a.size:
            a[-1, 0] = np.nan
        want = [softmax(a), softmax(a.T), softmax(a[:, ::3])]
        with np.errstate(invalid="ignore"):
            got = f(a)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_column_sums_contiguous_and_strided_equal_numpy_and_each_other(dtype):
    """A bias gradient's kernel: g * (1 - h * h) summed over the rows and stored, with a
    row operand (broadcast down the columns) and a column operand (one value a row).
    Contiguous operands run the column loop (each row added in vector lanes); a
    transposed or sliced copy of the same values, the strided one. Both add the rows in
    order, so they agree bit for bit, and with numpy to rounding; widths leave a
    remainder of any vector width."""
    h, g = T.matrix("h", dtype=dtype), T.matrix("g", dtype=dtype)
    r, c = T.row("r", dtype=dtype), T.col("c", dtype=dtype)
    gh = g * (1 - h * h) * r + c
    f = cgraph.function([h, g, r, c], [T.sum(gh, axis=0), gh * 2])
    assert _stored_sums(f)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    rng = np.random.default_rng(7)
    for rows, cols in [(3, 4), (37, 53), (128, 256), (1, 67), (5, 1)]:
        hv, gv = (rng.standard_normal((2, rows, cols)) * 2).astype(dtype)
        rv = rng.standard_normal((1, cols)).astype(dtype)
        cv = rng.standard_normal((rows, 1)).astype(dtype)
        want = gv * (1 - hv * hv) * rv + cv
        got_sum, got_stored = f(hv, gv, rv, cv)
        np.testing.assert_allclose(got_sum, want.sum(axis=0), rtol=rtol, atol=rtol * rows)
        np.testing.assert_allclose(got_stored, want * 2, rtol=rtol)
        strided = [np.asfortranarray(hv), gv.T.copy().T, rv, cv]
        sliced = [np.repeat(hv, 2, axis=1)[:, ::2], gv, rv, cv]
        for operands in (strided, sliced):
            s, st = f(*operands)
            np.testing.assert_array_equal(s, got_sum)
            np.testing.assert_array_equal(st, got_stored)
