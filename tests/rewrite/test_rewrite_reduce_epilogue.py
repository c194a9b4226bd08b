"""Reduction epilogues: an elementwise loop that only transforms a reduction's result
(a logsumexp's `log(sum) + max`, a mean's division, a bias's SGD update from its
gradient's sum) runs in the reduction's kernel, over its result. One kernel fewer;
results equal the unrewritten graph's, float32 and float64, in modes C and PY, with
empty and strided inputs; Theano's rule still checked for the loop's operands; not
applied where the loop reads a view of its size or the result has another reader."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from helpers import MODES, reference

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir
from cgraph.graph.interpret import evaluate
from cgraph.tensor.reduce_epilogue import ReduceEpilogue

RNG = np.random.default_rng(1919)
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def epilogues(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, ReduceEpilogue)]


def check(f, ref, args, dtype):
    for got, want in zip(f(*args), ref(*args)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", MODES)
def test_logsumexp_mean_and_bias_update(mode, dtype):
    z = T.matrix("z", dtype=dtype)
    b, g = T.vector("b", dtype=dtype), T.matrix("g", dtype=dtype)
    m = T.max(z, axis=1, keepdims=True)
    lse = T.log(T.sum(T.exp(z - m), axis=1, keepdims=True)) + m
    loss = T.mean(T.sum(z - lse, axis=1))
    b_new = b - 0.1 * T.sum(g * 2, axis=0)
    outs = [lse, loss, b_new, T.sum(g, axis=1) * 3]
    f = cgraph.function([z, b, g], outs, mode=mode)
    ref = reference([z, b, g], outs)
    if mode == "C":
        # The mean, the bias update and the scaled row sum; not logsumexp's log(sum) + m,
        # whose m is a view (the max's dimshuffle), nor the max, which two loops read.
        assert len(epilogues(f)) == 3
    for n, k in ((5, 3), (1, 1), (0, 4), (3, 0)):
        args = [RNG.standard_normal((n, k)).astype(dtype), RNG.standard_normal(k).astype(dtype),
                RNG.standard_normal((n, k)).astype(dtype)]
        if n == 0 or k == 0:  # max of an empty row raises, as numpy's
            continue
        check(f, ref, args, dtype)
    zt = RNG.standard_normal((4, 6)).astype(dtype).T  # strided
    args = [zt, RNG.standard_normal(4).astype(dtype), RNG.standard_normal((6, 4)).astype(dtype)]
    check(f, ref, args, dtype)
    if mode == "C":
        values = {id(v): a for v, a in zip(f.fgraph.inputs, args)}
        for got, want in zip(evaluate(f.fgraph.outputs, values), ref(*args)):
            np.testing.assert_allclose(got, want, **TOL[dtype])


def test_the_loops_operands_keep_theanos_rule():
    g, b = T.dmatrix("g"), T.dvector("b")
    f = cgraph.function([g, b], b - T.sum(g, axis=0))
    assert epilogues(f)
    with pytest.raises(ValueError, match="axis 0"):
        f(RNG.standard_normal((3, 4)), RNG.standard_normal(5))


def test_loops_that_stay_apart():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    s = T.sum(x, axis=0)
    cases = [[s * y[0]],            # a view of the loop's size: read strided
             [y * s],               # the loop is bigger than the result
             [s * T.cumsum(s)]]     # an operand computed from the result
    for outs in cases:
        f = cgraph.function([x, y], outs, on_unused_input="ignore")
        assert epilogues(f) == []
        ref = reference([x, y], outs, on_unused_input="ignore")
        args = [RNG.uniform(1, 2, (3, 4)), RNG.uniform(1, 2, (3, 4))]
        check(f, ref, args, "float64")


def test_a_result_read_elsewhere_is_still_stored():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    s = T.sum(x, axis=0)
    for outs in ([T.exp(s), s], [T.exp(s), T.sum(s)], [T.exp(s), y * s]):
        f = cgraph.function([x, y], outs, on_unused_input="ignore")
        assert len(epilogues(f)) == 1
        ref = reference([x, y], outs, on_unused_input="ignore")
        args = [RNG.uniform(1, 2, (3, 4)), RNG.uniform(1, 2, (3, 4))]
        check(f, ref, args, "float64")


def test_epilogue_compiles_without_warnings(tmp_path):
    z, c = T.fmatrix("z"), T.fscalar("c")
    out = T.log(T.sum(T.exp(z), axis=1)) * c + T.sum(z, axis=1)
    f = cgraph.function([z, c], [out, T.mean(z) + 1])
    assert epilogues(f)
    source = tmp_path / "epilogue.c"
    source.write_text(f.c_source)
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", f"-I{csrc_dir()}", str(source)], check=True)
