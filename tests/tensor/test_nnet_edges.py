"""The C kernels of conv2d, conv3d, pool_2d (every mode, first and second order
gradients) and batch normalization on edge shapes: 1x1 images, filters and windows
equal to the input, strides larger than the input, batch 1 and zero batches, against
the references of their own test files.

This file is in the sanitizer selection (tests/backend/test_sanitize.py): every kernel
here runs under AddressSanitizer and UBSan there. Each family is one compiled function
called on several shapes, so that the sanitized run compiles few modules.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for
from test_conv import reference as conv2d_reference
from test_conv3d import reference as conv3d_reference
from test_pool import _axis
from test_pool import reference as pool_reference

import cgraph
import cgraph.tensor as T
from cgraph.tensor.nnet import abstract_conv, bn, conv2d, conv3d, relu
from cgraph.tensor.signal import pool
from cgraph.tensor.type import TensorType

#: (input shape, filter shape) pairs that every configuration below accepts
CONV2D_SHAPES = [((2, 3, 1, 1), (4, 3, 1, 1)),  # 1x1 image and filter
                 ((2, 2, 4, 5), (3, 2, 4, 5)),  # filter equal to the input
                 ((1, 2, 3, 4), (2, 2, 2, 2)),
                 ((1, 1, 1, 7), (1, 1, 1, 3)),  # one row
                 ((0, 2, 3, 3), (2, 2, 3, 3))]  # zero batch
CONV2D_CONFIGS = [{},
                  {"border_mode": "full", "subsample": (2, 3)},
                  {"border_mode": "half", "subsample": (7, 9)},  # stride > the input
                  {"border_mode": (1, 2), "filter_dilation": (1, 2), "filter_flip": False},
                  {"border_mode": "full", "filter_dilation": (2, 1)}]
CONV2D_GROUPS_SHAPES = [((1, 4, 1, 1), (2, 2, 1, 1)), ((2, 4, 3, 3), (4, 2, 3, 3)),
                        ((1, 4, 2, 3), (6, 2, 2, 3))]
CONV2D_GROUPS_CONFIGS = [{"num_groups": 2},
                         {"num_groups": 2, "border_mode": "half", "subsample": (4, 4)}]
CONV3D_SHAPES = [((2, 3, 1, 1, 1), (4, 3, 1, 1, 1)),
                 ((1, 2, 2, 3, 4), (3, 2, 2, 3, 4)),
                 ((1, 1, 3, 1, 5), (2, 1, 2, 1, 3)),
                 ((0, 2, 2, 2, 2), (1, 2, 2, 2, 2))]
CONV3D_CONFIGS = [{},
                  {"border_mode": "full", "subsample": (2, 1, 3)},
                  {"border_mode": "half", "subsample": (4, 5, 6)},
                  {"border_mode": (1, 0, 2), "filter_dilation": (2, 1, 1),
                   "filter_flip": False}]


def _conv_outputs(conv, x, w, seed, configs):
    """y, dx, dw of each configuration; the seed is sliced to each output's shape."""
    outs = []
    for kw in configs:
        y = conv(x, w, **kw)
        window = seed[tuple(slice(0, y.shape[k]) for k in range(y.ndim))]
        outs += [y, *cgraph.grad((y * window).sum(), [x, w])]
    return outs


def _reference_keys(kw, nd):
    def tup(v):
        return (v,) * nd if isinstance(v, int) else v
    return {"border": kw.get("border_mode", "valid"), "stride": tup(kw.get("subsample", 1)),
            "dilation": tup(kw.get("filter_dilation", 1)), "flip": kw.get("filter_flip", True),
            "groups": kw.get("num_groups", 1)}


@pytest.mark.parametrize("family", ["conv2d", "conv2d_groups", "conv3d"])
def test_convolution_edges(family):
    nd = 3 if family == "conv3d" else 2
    conv, reference = (conv3d, conv3d_reference) if nd == 3 else (conv2d, conv2d_reference)
    shapes, configs = {"conv2d": (CONV2D_SHAPES, CONV2D_CONFIGS),
                       "conv2d_groups": (CONV2D_GROUPS_SHAPES, CONV2D_GROUPS_CONFIGS),
                       "conv3d": (CONV3D_SHAPES, CONV3D_CONFIGS)}[family]
    x, w, seed = (TensorType("float64", (None,) * (nd + 2)).make_variable(n)
                  for n in ("x", "w", "seed"))
    f = cgraph.function([x, w, seed], _conv_outputs(conv, x, w, seed, configs), mode="C")
    rng = rng_for("nnet-edges", family)
    for xs, ws in shapes:
        x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
        seed_val = rng.standard_normal(xs[:1] + ws[:1] + (12,) * nd)
        got = f(x_val, w_val, seed_val)
        for k, kw in enumerate(configs):
            out = abstract_conv.get_conv_output_shape(xs, ws, kw.get("border_mode", "valid"),
                                                      kw.get("subsample", 1),
                                                      kw.get("filter_dilation", 1))
            window = seed_val[tuple(slice(0, n) for n in out)]
            want = reference(x_val, w_val, window, **_reference_keys(kw, nd))
            for g, r in zip(got[3 * k:3 * k + 3], want):
                assert g.shape == r.shape, (xs, ws, kw)
                np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10, err_msg=str((xs, kw)))


def test_convolution_epilogue_edges():
    """A bias and an activation run in the convolution's kernel (ConvEpilogue, built by
    cgraph.rewrite.convnet) on the edge shapes: tanh after some configurations, relu
    after the others, 2-D and 3-D, the zero batches among them."""
    outs, nodes = {}, []
    for nd, conv, configs in ((2, conv2d, CONV2D_CONFIGS), (3, conv3d, CONV3D_CONFIGS)):
        x, w = (TensorType("float64", (None,) * (nd + 2)).make_variable(n) for n in "xw")
        b = T.dvector("b")
        bias = b.dimshuffle("x", 0, *("x",) * nd)
        outs[nd] = ([x, w, b], [T.tanh(conv(x, w, **kw) + bias) if k % 2 else
                                relu(conv(x, w, **kw) + bias) for k, kw in enumerate(configs)])
    fns = {nd: cgraph.function(*io, mode="C") for nd, io in outs.items()}
    for f in fns.values():
        nodes += [n for n in f.fgraph.toposort() if type(n.op).__name__ == "ConvEpilogue"]
    assert len(nodes) == len(CONV2D_CONFIGS) + len(CONV3D_CONFIGS)
    rng = rng_for("nnet-edges", "epilogue")
    for nd, shapes, configs, reference in ((2, CONV2D_SHAPES, CONV2D_CONFIGS, conv2d_reference),
                                           (3, CONV3D_SHAPES, CONV3D_CONFIGS, conv3d_reference)):
        for xs, ws in shapes:
            x_val, w_val, b_val = (rng.standard_normal(s) for s in (xs, ws, ws[:1]))
            got = fns[nd](x_val, w_val, b_val)
            seed = np.zeros(xs[:1] + ws[:1] + (1,) * nd)
            for k, kw in enumerate(configs):
                y = reference(x_val, w_val, seed, **_reference_keys(kw, nd))[0]
                y = y + b_val.reshape((1, -1) + (1,) * nd)
                want = np.tanh(y) if k % 2 else np.maximum(y, 0)
                np.testing.assert_allclose(got[k], want, rtol=1e-10, atol=1e-10,
                                           err_msg=str((xs, kw)))


POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")
POOL_SHAPES = [(1, 1, 1, 1), (2, 3, 3, 3), (1, 2, 2, 5), (0, 2, 3, 3)]
POOL_CONFIGS = [{"ws": (1, 1)},
                {"ws": (3, 3), "ignore_border": False},  # the 3x3 image's window
                {"ws": (2, 2), "stride": (5, 4), "ignore_border": False},  # stride > input
                {"ws": (2, 3), "pad": (1, 2)}]


def _pool_gradgrad(x, ggx, mode, ws, ignore_border=True, stride=None, pad=(0, 0)):
    """The gradient wrt the seed of sum(pool gradient * ggx): per window, the sum of
    ggx where the gradient goes (max: where x is the window's maximum), / the count of
    the averages."""
    stride = stride or ws
    rows = _axis(x.shape[2], ws[0], stride[0], pad[0], ignore_border)
    cols = _axis(x.shape[3], ws[1], stride[1], pad[1], ignore_border)
    out = np.zeros(x.shape[:2] + (len(rows), len(cols)))
    for i, (r0, r1, rn) in enumerate(rows):
        for j, (c0, c1, cn) in enumerate(cols):
            region, gg = x[:, :, r0:r1, c0:c1], ggx[:, :, r0:r1, c0:c1]
            if mode == "max":
                hit = region == region.max(axis=(2, 3), keepdims=True)
                out[:, :, i, j] = (hit * gg).sum(axis=(2, 3))
            else:
                count = {"sum": 1, "average_inc_pad": rn * cn,
                         "average_exc_pad": region.shape[2] * region.shape[3]}[mode]
                out[:, :, i, j] = gg.sum(axis=(2, 3)) / count
    return out


def test_pool_edges():
    """Every mode and configuration: the pooled value, its gradient wrt the input and
    the gradient of that wrt the output gradient (MaxPoolGrad's DownsampleFactorMax
    GradGrad, the averages' Pool) in one function; integer inputs, so windows tie."""
    x, seed, ggx = T.tensor4("x"), T.tensor4("seed"), T.tensor4("ggx")
    outs, cases = [], []
    for mode in POOL_MODES:
        for kw in POOL_CONFIGS:
            y = pool.pool_2d(x, mode=mode, **kw)
            window = seed[:, :, :y.shape[2], :y.shape[3]]
            dx = cgraph.grad((y * window).sum(), x)
            outs += [y, dx, cgraph.grad((dx * ggx).sum(), seed)]
            cases.append((mode, kw))
    f = cgraph.function([x, seed, ggx], outs, mode="C")
    rng = rng_for("nnet-edges-pool")
    for shape in POOL_SHAPES:
        x_val = rng.integers(-2, 2, size=shape).astype(float)
        seed_val = rng.standard_normal(shape[:2] + (6, 6))
        ggx_val = rng.standard_normal(shape)
        got = f(x_val, seed_val, ggx_val)
        for k, (mode, kw) in enumerate(cases):
            want_y, _ = pool_reference(x_val, None, mode=mode, **kw)
            window = seed_val[:, :, :want_y.shape[2], :want_y.shape[3]]
            _, want_dx = pool_reference(x_val, window, mode=mode, **kw)
            want_gg = np.zeros(seed_val.shape)
            want_gg[:, :, :want_y.shape[2], :want_y.shape[3]] = _pool_gradgrad(
                x_val, ggx_val, mode, **kw)
            for g, r in zip(got[3 * k:3 * k + 3], (want_y, want_dx, want_gg)):
                assert g.shape == r.shape, (shape, mode, kw)
                np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12,
                                           err_msg=str((shape, mode, kw)))


BN_SHAPES = [(2, 3, 1, 1), (1, 2, 3, 3), (3, 1, 2, 2), (2, 1, 1, 1)]  # count > 1 each


def _bn_reference(x, gamma, beta, seed, axes, eps):
    """Training-mode batch normalization and the gradients of sum(out * seed) wrt x,
    gamma and beta (the closed form)."""
    mean = x.mean(axes, keepdims=True)
    invstd = 1 / np.sqrt(x.var(axes, keepdims=True) + eps)
    xhat = (x - mean) * invstd
    dxhat = seed * gamma
    dx = invstd * (dxhat - dxhat.mean(axes, keepdims=True)
                   - xhat * (dxhat * xhat).mean(axes, keepdims=True))
    return xhat * gamma + beta, dx, (seed * xhat).sum(axes), seed.sum(axes)


def test_batch_normalization_edges():
    """Spatial (parameters per channel), with running averages, and per-activation (the
    input's rows; batch 1 too): the training outputs and their gradients, and the
    inference form, in one function."""
    x, seed = T.tensor4("x"), T.tensor4("seed")
    g, b, rm, rv, g2, b2 = (T.vector(n) for n in ("g", "b", "rm", "rv", "g2", "b2"))
    out, mean, invstd, new_mean, new_var = bn.batch_normalization_train(
        x, g, b, "spatial", epsilon=1e-3, running_average_factor=0.25, running_mean=rm,
        running_var=rv)
    rows, seed_rows = x.flatten(2), seed.flatten(2)
    out2, mean2, invstd2 = bn.batch_normalization_train(rows, g2, b2, epsilon=1e-3)
    outs = [out, mean, invstd, new_mean, new_var, *cgraph.grad((out * seed).sum(), [x, g, b]),
            bn.batch_normalization_test(x, g, b, rm, rv, "spatial", epsilon=1e-3),
            out2, mean2, invstd2, *cgraph.grad((out2 * seed_rows).sum(), [x, g2, b2]),
            bn.batch_normalization_test(rows, g2, b2, g2, T.abs(b2), epsilon=1e-3)]
    f = cgraph.function([x, g, b, rm, rv, g2, b2, seed], outs, mode="C")
    rng = rng_for("nnet-edges-bn")
    for shape in BN_SHAPES:
        n, c = shape[:2]
        x_val, seed_val = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        g_val, b_val, rm_val = (rng.standard_normal(c) for _ in range(3))
        rv_val = rng.uniform(0.5, 2, c)
        g2_val, b2_val = (rng.standard_normal(x_val[0].size) for _ in range(2))
        got = f(x_val, g_val, b_val, rm_val, rv_val, g2_val, b2_val, seed_val)
        axes = (0, 2, 3)
        gb, bb, rmb, rvb = (v[None, :, None, None] for v in (g_val, b_val, rm_val, rv_val))
        y, dx, dg, db = _bn_reference(x_val, gb, bb, seed_val, axes, 1e-3)
        mean, var, count = x_val.mean(axes), x_val.var(axes), x_val.size // c
        want = [y, mean, 1 / np.sqrt(var + 1e-3), 0.75 * rm_val + 0.25 * mean,
                0.75 * rv_val + 0.25 * var * count / (count - 1), dx, dg, db,
                (x_val - rmb) * (gb / np.sqrt(rvb + 1e-3)) + bb]
        xr, sr = x_val.reshape(n, -1), seed_val.reshape(n, -1)
        y2, dx2, dg2, db2 = _bn_reference(xr, g2_val, b2_val, sr, (0,), 1e-3)
        want += [y2, xr.mean(0), 1 / np.sqrt(xr.var(0) + 1e-3), dx2.reshape(shape), dg2, db2,
                 (xr - g2_val) * (g2_val / np.sqrt(np.abs(b2_val) + 1e-3)) + b2_val]
        assert len(got) == len(want)
        for k, (a, r) in enumerate(zip(got, want)):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10, err_msg=str((shape, k)))
