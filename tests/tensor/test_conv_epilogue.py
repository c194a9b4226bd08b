"""ConvEpilogue (cgraph/tensor/nnet/conv_epilogue.py): a convolution with its
elementwise consumer in the same kernel, as `cgraph.rewrite.convnet` builds it,
against the numpy reference of test_conv followed by the chain in numpy, in modes C
and PY, float32 and float64; its errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for
from test_conv import reference as conv2d_reference

import cgraph
import cgraph.tensor as T
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.convnet import conv_epilogue
from cgraph.tensor.elemwise import SCALAR_OPS, Composite, CompositeStep
from cgraph.tensor.nnet import conv2d, relu
from cgraph.tensor.nnet.conv_epilogue import ConvEpilogue
from cgraph.tensor.type import TensorType


def _epilogue_nodes(fgraph):
    return [n for n in fgraph.toposort() if isinstance(n.op, ConvEpilogue)]


def _compiled(inputs, outputs, mode, fused):
    """The function of `outputs` with `fused` ConvEpilogue nodes: mode C's rewrites
    make them; mode PY (no rewrites: the oracle) runs the rewrite's graph, so that the
    op's numpy reference computes it."""
    if mode == "C":
        f = cgraph.function(inputs, outputs)
        assert len(_epilogue_nodes(f.fgraph)) == fused
        return f
    fgraph = FunctionGraph(inputs, outputs)
    conv_epilogue(fgraph)
    assert len(_epilogue_nodes(fgraph)) == fused
    return cgraph.function(fgraph.inputs, fgraph.outputs, mode="PY")


def _np_sigmoid(v):
    return 1 / (1 + np.exp(-v))


#: name: (the chain of a convolution's value c and bias b.dimshuffle, its numpy twin)
CHAINS = {
    "bias": (lambda c, b: c + b, lambda c, b: c + b),
    "tanh": (lambda c, b: T.tanh(c + b), lambda c, b: np.tanh(c + b)),
    "sigmoid": (lambda c, b: T.sigmoid(b + c), lambda c, b: _np_sigmoid(c + b)),
    "relu": (lambda c, b: relu(c + b), lambda c, b: np.where(c + b > 0, c + b, 0)),
    "scaled": (lambda c, b: T.tanh(2 * c - b) * 0.5, lambda c, b: np.tanh(2 * c - b) * 0.5),
}

#: (input shape, filter shape, conv2d keywords): several tiles, groups, 1x1 in place
SHAPES = [((2, 3, 9, 11), (4, 3, 3, 2), {}),
          ((1, 4, 70, 40), (6, 2, 5, 5), {"num_groups": 2, "border_mode": "half"}),
          ((2, 5, 6, 7), (3, 5, 1, 1), {}),
          ((0, 3, 5, 5), (2, 3, 3, 3), {"subsample": (2, 2)})]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_chains_against_the_reference(mode, dtype):
    """Every chain over every shape in one compiled function; the rewrite fired on each."""
    rng = rng_for("conv-epilogue", mode, dtype)
    inputs, outputs, expected, values = [], [], [], []
    for k, (xs, ws, kw) in enumerate(SHAPES):
        x = TensorType(dtype, (None,) * 4).make_variable(f"x{k}")
        b = TensorType(dtype, (None,)).make_variable(f"b{k}")
        xv, bv = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws[0]).astype(dtype)
        inputs += [x, b]
        values += [xv, bv]
        for name, (build, twin) in CHAINS.items():  # a convolution each (merge would share)
            w = TensorType(dtype, (None,) * 4).make_variable(f"w{k}_{name}")
            wv = rng.standard_normal(ws).astype(dtype)
            inputs.append(w)
            values.append(wv)
            outputs.append(build(conv2d(x, w, **kw), b.dimshuffle("x", 0, "x", "x")))
            expected.append(twin(_grouped_reference(xv, wv, kw), bv[None, :, None, None]))
    f = _compiled(inputs, outputs, mode, len(outputs))
    tol = 2e-5 if dtype == "float32" else 1e-12
    for k, (got, want) in enumerate(zip(f(*values), expected)):
        assert got.dtype == dtype and got.shape == want.shape, k
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"output {k}")


def _grouped_reference(xv, wv, kw):
    """conv2d by test_conv's reference, in float64."""
    seed = np.zeros((1, wv.shape[0], 1, 1))
    return conv2d_reference(xv.astype("float64"), wv.astype("float64"), seed,
                            border=kw.get("border_mode", "valid"),
                            stride=kw.get("subsample", (1, 1)), groups=kw.get("num_groups", 1))[0]


@pytest.mark.parametrize("mode", MODES)
def test_operands_of_every_layout(mode):
    """The bias strided, a (1, 1, 1, 1) constant, a full-rank (1, F, 1, 1) shared value
    and a transposed input: each read per channel as numpy would."""
    rng = rng_for("conv-epilogue-layouts", mode)
    x, w = T.tensor4("x"), T.tensor4("w")
    b2, b4 = T.vector("b2"), TensorType("float64", (1, None, 1, 1)).make_variable("b4")
    c = conv2d(x, w)
    outs = [T.tanh(c + b2[::2].dimshuffle("x", 0, "x", "x")),
            T.maximum(conv2d(x, w, border_mode="half") * 3.0, b4) - 1.0,
            T.exp(conv2d(x.dimshuffle(0, 1, 3, 2), w) - b4)]
    f = _compiled([x, w, b2, b4], outs, mode, 3)
    xv, wv = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3))
    b2v, b4v = rng.standard_normal(8), rng.standard_normal((1, 4, 1, 1))
    cv = conv2d_reference(xv, wv, np.zeros((1, 4, 1, 1)))[0]
    ct = conv2d_reference(xv.transpose(0, 1, 3, 2), wv, np.zeros((1, 4, 1, 1)))[0]
    ch = conv2d_reference(xv, wv, np.zeros((1, 4, 1, 1)), border="half")[0]
    want = [np.tanh(cv + b2v[::2][None, :, None, None]), np.maximum(ch * 3, b4v) - 1,
            np.exp(ct - b4v)]
    for got, ref in zip(f(xv, wv, b2v, b4v), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_a_bias_of_the_wrong_length_is_a_value_error(mode):
    x, w, b = T.tensor4("x"), T.tensor4("w"), T.vector("b")
    f = _compiled([x, w, b], [T.tanh(conv2d(x, w) + b.dimshuffle("x", 0, "x", "x"))], mode, 1)
    with pytest.raises(ValueError, match="channels|bias|length|shape"):
        f(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(5))


def test_make_node_checks_its_operands():
    comp = Composite(("float64", "float64"),
                     (CompositeStep(SCALAR_OPS["add"], (0, 1), "float64"),), (2,))
    op = ConvEpilogue(2, comp)
    x, w = T.tensor4("x"), T.tensor4("w")
    with pytest.raises(TypeError, match="per-channel"):
        op(x, w, T.tensor4("full"))
    with pytest.raises(TypeError, match="per-channel"):
        op(x, w)
    with pytest.raises(TypeError, match="dtypes"):
        op(x, w, TensorType("float32", (1, None, 1, 1)).make_variable())
    with pytest.raises(NotImplementedError, match="no gradient"):
        cgraph.grad(op(x, w, TensorType("float64", (1, None, 1, 1)).make_variable()).sum(), w)
