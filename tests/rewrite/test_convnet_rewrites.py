"""The convnet rewrites (cgraph/rewrite/convnet.py): where `pool_first` and
`conv_epilogue` fire and where they must not, the values of the rewritten graphs
against numpy (NaN, ties and saturation for the pool), and gradients by central
differences through the fused forms."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for

import cgraph
import cgraph.tensor as T
from cgraph.graph.basic import Constant, graph_inputs
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite import rewrite_graph
from cgraph.rewrite.convnet import conv_epilogue
from cgraph.tensor.nnet import conv2d, relu
from cgraph.tensor.nnet.conv_epilogue import ConvEpilogue
from cgraph.tensor.signal.pool import pool_2d
from cgraph.tensor.type import TensorType


def _inputs(outputs):
    return [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]


def _bias(b):
    return b.dimshuffle("x", 0, "x", "x")


X, B = T.tensor4("x"), T.vector("b")


@pytest.mark.parametrize("build, fires", [
    (lambda: pool_2d(T.tanh(X + _bias(B)), (2, 2)), 1),          # tanh; not the bias
    (lambda: pool_2d(T.sigmoid(X - _bias(B)), (3, 2), stride=(1, 2)), 1),
    (lambda: pool_2d(T.tanh(X - 2.0), (2, 2)), 2),                # a finite constant
    (lambda: pool_2d(X + np.float64(np.inf), (2, 2)), 0),         # -inf + inf is NaN
    (lambda: pool_2d(T.maximum(X, _bias(B)), (2, 2)), 1),
    (lambda: pool_2d(T.maximum(X, 0.0), (2, 2), ignore_border=False), 1),
    (lambda: pool_2d(T.exp(X), (2, 2), pad=(1, 1)), 1),
    (lambda: pool_2d(relu(X), (2, 2)), 0),                        # relu(NaN) is 0
    (lambda: pool_2d(T.tanh(X), (2, 2), mode="average_inc_pad"), 0),
    (lambda: pool_2d(T.log(X), (2, 2)), 0),                       # NaN for x < 0
    (lambda: pool_2d(_bias(B) - X, (2, 2)), 0),                   # decreasing in x
    (lambda: pool_2d(2.0 - X, (2, 2)), 0),
    (lambda: pool_2d(X + T.tensor4("y"), (2, 2)), 0),             # varies in a window
    (lambda: pool_2d(T.tanh(X), (2, 2)) + T.tanh(X).sum(), 0),    # tanh read twice
])
def test_pool_first_fires_where_it_is_proven(build, fires):
    out = build()
    fgraph = FunctionGraph(_inputs([out]), [out])
    with cgraph.config.change_flags(rewrite_exclude=["fusion"]):
        report = rewrite_graph(fgraph, cgraph.config)  # the pipeline: constants folded
    assert report["convnet"].get("pool_first", 0) == fires


def test_pool_first_values_with_nan_ties_and_saturation():
    """float32 inputs where tanh saturates (ties that z does not have), NaN, infinities
    (also in the bias) and -0.0: the rewritten graph computes what the graph without the
    rewrite computes (NaN at the same places) and numpy's pool of the activation."""
    rng = rng_for("pool-first")
    x = TensorType("float32", (None,) * 4).make_variable("x")
    b = TensorType("float32", (None,)).make_variable("b")
    outs = [pool_2d(T.tanh(x + _bias(b)), (2, 2), ignore_border=False),
            pool_2d(T.sigmoid(x * 1.0 - _bias(b)), (2, 3), stride=(1, 1)),
            pool_2d(T.maximum(x, 0.0) + _bias(b), (2, 2), pad=(1, 1))]
    f = cgraph.function([x, b], outs)
    with cgraph.config.change_flags(rewrite_exclude=["convnet"]):
        plain = cgraph.function([x, b], outs)
    assert f.rewrites["convnet"]["pool_first"] == 2
    xv = rng.standard_normal((2, 3, 7, 6)).astype("float32") * 12
    xv[0, 0, 0, :2] = [np.nan, 1.0]
    xv[0, 1, 2:4, 2:4] = [[np.inf, 3.0], [-np.inf, 0.0]]
    xv[1, 2, :2, :2] = [[-0.0, 0.0], [-1e-30, -0.0]]
    bv = np.array([0.5, -np.inf, 2.0], "float32")
    want = [_np_pool(np.tanh(xv + bv[:, None, None]), (2, 2), ignore_border=False),
            _np_pool(1 / (1 + np.exp(-(xv - bv[:, None, None]))), (2, 3), stride=(1, 1)),
            _np_pool(np.maximum(xv, 0) + bv[:, None, None], (2, 2), pad=(1, 1))]
    with np.errstate(all="ignore"):
        for got, same, ref in zip(f(xv, bv), plain(xv, bv), want):
            np.testing.assert_allclose(got, same, rtol=2e-7, atol=0)
            np.testing.assert_allclose(got, ref, rtol=2e-7, atol=0)


def _np_pool(a, ws, ignore_border=True, stride=None, pad=(0, 0)):
    """Max over each window's part in the image (NaN propagating), as pool_2d."""
    stride = stride or ws
    h, w = a.shape[2:]
    rows = _starts(h, ws[0], stride[0], pad[0], ignore_border)
    cols = _starts(w, ws[1], stride[1], pad[1], ignore_border)
    out = np.empty(a.shape[:2] + (len(rows), len(cols)), a.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            out[:, :, i, j] = np.max(a[:, :, r0:r1, c0:c1], axis=(2, 3))
    return out


def _starts(size, ws, stride, pad, ignore_border):
    padded = size + 2 * pad
    if ignore_border:
        n = (padded - ws) // stride + 1
    else:
        n = ((padded - 1) // stride + 1 if stride >= ws
             else max(0, (padded - 1 - ws) // stride + 1) + 1)
    return [(max(r * stride - pad, 0), min(r * stride + ws - pad, size)) for r in range(n)]


def _chain_ops(f):
    (node,) = [n for n in f.fgraph.toposort() if isinstance(n.op, ConvEpilogue)]
    return [s.op.name for s in node.op.epilogue.steps]


def test_conv_epilogue_fires_where_the_chain_is_the_only_reader():
    x, w, b = T.tensor4("x"), T.tensor4("w"), T.vector("b")
    z = conv2d(x, w) + _bias(b)
    # forward and a tanh training step: the whole chain (tanh's gradient reads its output)
    assert _chain_ops(cgraph.function([x, w, b], T.tanh(z))) == ["add", "tanh"]
    cost = (T.tanh(z) ** 2).sum()
    f = cgraph.function([x, w, b], cgraph.grad(cost, [x, w, b]))
    assert _chain_ops(f) == ["add", "tanh"]
    # relu's gradient reads z > 0: only the bias joins, relu stays in its own loop
    f = cgraph.function([x, w, b], cgraph.grad((relu(z) ** 2).sum(), [w, b]))
    assert _chain_ops(f) == ["add"]
    assert _chain_ops(cgraph.function([x, w, b], relu(z))) == ["add", "gt", "second", "switch"]


@pytest.mark.parametrize("outputs", [
    lambda c, z: [c, T.tanh(z)],                      # the convolution is an output
    lambda c, z: [pool_2d(c, (2, 2))],                # read by a pool
    lambda c, z: [T.tanh(c + T.tensor4("full"))],     # an operand varying in a channel
    lambda c, z: [T.tanh(c) + T.tanh(c * 2.0)],       # two readers not one link
    lambda c, z: [T.tanh(c + _bias(T.dvector("b64")))],  # float32 + float64 -> float64
])
def test_conv_epilogue_does_not_fire(outputs):
    x, w = (TensorType("float32", (None,) * 4).make_variable(n) for n in "xw")
    b = TensorType("float32", (None,)).make_variable("b")
    c = conv2d(x, w)
    outs = outputs(c, c + _bias(b))
    fgraph = FunctionGraph(_inputs(outs), outs)
    assert conv_epilogue(fgraph) == {}


def test_gradients_through_the_fused_forms(verify_grads):
    """verify_grad compiles the forward (ConvEpilogue, pool_first) for its central
    differences and the gradient graph (ConvEpilogue where the chain allows)."""
    rng = rng_for("convnet-rewrites-grad")
    fns = [lambda x, w, b: T.tanh(conv2d(x, w) + _bias(b)),
           lambda x, w, b: T.sigmoid(conv2d(x, w, border_mode="half") - _bias(b)) * 2.0,
           lambda x, w, b: relu(conv2d(x, w, subsample=(2, 1)) + _bias(b)),
           lambda x, w, b: pool_2d(T.tanh(conv2d(x, w) + _bias(b)), (2, 2)),
           lambda x, w, b: pool_2d(T.softplus(conv2d(x, w) + _bias(b)), (3, 2),
                                   ignore_border=False)]
    x_val = 0.5 * rng.standard_normal((2, 3, 7, 6))
    w_val = 0.5 * rng.standard_normal((4, 3, 3, 2))
    b_val = rng.standard_normal(4)
    verify_grads(fns, [(x_val, w_val, b_val)] * len(fns), rng)
