"""Gemm epilogues: an elementwise loop that only transforms a Gemm's result (the
forward layer's `tanh(dot(x, W) + b)`) runs in the Gemm's kernel over the output BLAS
just wrote. One kernel; results equal the unrewritten graph's, float32 and float64,
at BLAS and tiny sizes, empty batches, strided operands; not applied where the loop
reads another full-size operand or the product has another reader."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.codegen.render import csrc_dir
from cgraph.graph.interpret import evaluate
from cgraph.tensor.gemm_epilogue import GemmEpilogue

RNG = np.random.default_rng(1919)
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def both(inputs, outputs):
    with cgraph.config.change_flags(optimizer="None"):
        plain = cgraph.function(inputs, outputs, on_unused_input="ignore")
    return plain, cgraph.function(inputs, outputs, on_unused_input="ignore")


def epilogues(f):
    return [n for n in f.fgraph.toposort() if isinstance(n.op, GemmEpilogue)]


def check(plain, fused, args, dtype):
    got, want = fused(*args), plain(*args)
    for g, w in zip(got if isinstance(got, list) else [got],
                    want if isinstance(want, list) else [want]):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_layer_is_one_kernel(dtype):
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    b, s = T.vector("b", dtype=dtype), T.scalar("s", dtype=dtype)
    out = 1 - s * T.tanh(T.dot(x, W) + b) ** 2
    plain, fused = both([x, W, b, s], out)
    assert len(epilogues(fused)) == 1
    assert [st.kernel.family for st in fused._lowered.program.steps] == ["dot_add"]
    for m, k, n in ((64, 50, 40), (3, 2, 4), (0, 5, 3), (4, 0, 2), (1, 1, 1)):
        args = [RNG.standard_normal((m, k)).astype(dtype),
                RNG.standard_normal((k, n)).astype(dtype),
                RNG.standard_normal(n).astype(dtype), np.asarray(0.7, dtype)]
        check(plain, fused, args, dtype)
    xt = RNG.standard_normal((6, 5)).astype(dtype).T  # a transposed operand
    args = [xt, RNG.standard_normal((6, 3)).astype(dtype), RNG.standard_normal(3).astype(dtype),
            np.asarray(-2.0, dtype)]
    check(plain, fused, args, dtype)
    # The op's numpy implementation (mode PY, constant folding) agrees.
    values = {id(v): a for v, a in zip(fused.fgraph.inputs, args)}
    (want,) = evaluate(fused.fgraph.outputs, values)
    np.testing.assert_allclose(want, plain(*args), **TOL[dtype])


def test_loops_that_stay_apart():
    x, W, y = T.dmatrix("x"), T.dmatrix("W"), T.dmatrix("y")
    b = T.dvector("b")
    z = T.dot(x, W) + b
    # A full-size second operand, a second reader, the product as an output.
    for outs in ([T.tanh(z) * y], [T.tanh(z), T.exp(z)], [T.tanh(z), z]):
        plain, fused = both([x, W, y, b], outs)
        assert epilogues(fused) == []
        args = [RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2)),
                RNG.standard_normal((3, 2)), RNG.standard_normal(2)]
        check(plain, fused, args, "float64")


def test_epilogue_compiles_without_warnings(tmp_path):
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.fvector("b")
    s = T.fscalar("s")
    f = cgraph.function([x, W, b, s], T.tanh(T.dot(x, W) + b) * s)
    assert epilogues(f)
    source = tmp_path / "epilogue.c"
    source.write_text(f.c_source)
    blas = [flag for flag in f.build_options.cflags if flag.startswith(("-I", "-D"))]
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", f"-I{csrc_dir()}", *blas, str(source)], check=True)
