"""The direct convolution (templates/conv_direct.c.j2, chosen by
`cgraph.tensor.conv_kernel.takes_direct`), forward and gradient wrt the input, against
the numpy references of test_conv.py and test_conv3d.py: shapes around its register
tile (filter counts around a block of 8, rows around a tile of 48 points), batch 1
(the threads split the filter blocks of one image), every padding, dilation, groups,
flipped or not, strided operands, float32 and float64, 2-D and 3-D, and the epilogue
it applies."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for
from test_conv import _keys as keys2d
from test_conv import reference as reference2d
from test_conv3d import _keys as keys3d
from test_conv3d import reference as reference3d
from test_conv3d import tensor5

import cgraph
import cgraph.tensor as T
from cgraph.tensor import conv_kernel
from cgraph.tensor.conv_kernel import (
    CONV_THREADS,
    Geometry,
    direct_bytes,
    direct_geometry,
    direct_threads,
    takes_direct,
)
from cgraph.tensor.nnet import abstract_conv, conv2d, conv3d, relu

CASES_2D = {  # name: (input shape, filter shape, conv2d keywords)
    "filters_9_rows_47": ((2, 3, 5, 47), (9, 3, 3, 1), {}),
    "filters_17_rows_49": ((3, 2, 4, 51), (17, 2, 2, 3), {}),
    "filters_1_half": ((2, 5, 7, 6), (1, 5, 3, 3), {"border_mode": "half"}),
    "batch1_filters_20": ((1, 4, 13, 11), (20, 4, 5, 5), {"border_mode": "half"}),
    "batch1_channel1_lenet": ((1, 1, 28, 28), (20, 1, 5, 5), {}),
    "full_even_taps": ((2, 3, 6, 9), (10, 3, 2, 4), {"border_mode": "full"}),
    "pair_pad_no_flip": ((2, 3, 8, 7), (12, 3, 3, 2),
                         {"border_mode": (2, 1), "filter_flip": False}),
    "dilation": ((2, 2, 11, 12), (8, 2, 3, 2), {"border_mode": 2, "filter_dilation": (2, 3)}),
    "groups_filters_not_a_block": ((2, 6, 7, 9), (15, 2, 3, 3),
                                   {"num_groups": 3, "border_mode": "half"}),
    "wide_pad": ((1, 2, 3, 3), (3, 2, 3, 3), {"border_mode": (3, 4)}),
    "one_output": ((2, 3, 5, 5), (4, 3, 5, 5), {}),
    # 1x1: points not a whole number of tiles (the gradient wrt the input of 8 channels
    # too: its filters fill a block)
    "one_tap": ((2, 5, 11, 20), (16, 5, 1, 1), {}),
    "one_tap_8_channels": ((2, 8, 9, 30), (16, 8, 1, 1), {}),
    "one_tap_padded": ((2, 3, 12, 20), (16, 3, 1, 1), {"border_mode": 1}),
    # fewer than 4 images: units of one block of filters (threads: see below)
    "batch1_threads": ((1, 4, 40, 37), (20, 4, 5, 5), {"border_mode": "half"}),
    "batch3_threads": ((3, 8, 30, 30), (10, 8, 3, 3), {"border_mode": 1}),
}

CASES_3D = {  # name: (input shape, filter shape, conv3d keywords)
    "half_filters_9": ((2, 3, 4, 5, 6), (9, 3, 3, 3, 2), {"border_mode": "half"}),
    "batch1_dilation": ((1, 2, 6, 5, 7), (5, 2, 2, 2, 3),
                        {"filter_dilation": (2, 1, 2), "border_mode": (1, 0, 2)}),
    "groups_full": ((2, 4, 3, 4, 3), (6, 2, 2, 2, 2), {"num_groups": 2, "border_mode": "full"}),
}


def _want(reference, keys, x_val, w_val, kw):
    """The reference's output (its gradients' seed: zeros of the output's shape)."""
    out = abstract_conv.get_conv_output_shape(x_val.shape, w_val.shape,
                                              kw.get("border_mode", "valid"), 1,
                                              kw.get("filter_dilation", 1))
    return reference(x_val, w_val, np.zeros(out), **keys(kw))[0]


def _direct(op, xs, ws, dtype):
    return takes_direct(op, Geometry.of(op, xs, ws), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_conv2d(dtype):
    """Every 2-D case in one function: each takes the direct kernel and matches the
    reference (float32 to its rounding: the sums are fused multiply-adds in another
    order)."""
    rng = rng_for("conv-direct", dtype)
    inputs, outputs, values, wants = [], [], [], []
    for name in sorted(CASES_2D):
        xs, ws, kw = CASES_2D[name]
        x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
        y = conv2d(x, w, **kw)
        assert _direct(y.owner.op, xs, ws, dtype), name
        x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
        inputs += [x, w]
        outputs.append(y)
        values += [x_val.astype(dtype), w_val.astype(dtype)]
        wants.append(_want(reference2d, keys2d, x_val, w_val, kw))
    got = cgraph.function(inputs, outputs, mode="C")(*values)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name, g, want in zip(sorted(CASES_2D), got, wants, strict=True):
        assert g.shape == want.shape and g.dtype == dtype, name
        np.testing.assert_allclose(g, want, rtol=tol, atol=tol * np.abs(want).max(),
                                   err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_conv3d(dtype):
    rng = rng_for("conv3d-direct", dtype)
    inputs, outputs, values, wants = [], [], [], []
    for name in sorted(CASES_3D):
        xs, ws, kw = CASES_3D[name]
        x, w = tensor5("x", dtype), tensor5("w", dtype)
        y = conv3d(x, w, **kw)
        assert _direct(y.owner.op, xs, ws, dtype), name
        x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
        inputs += [x, w]
        outputs.append(y)
        values += [x_val.astype(dtype), w_val.astype(dtype)]
        wants.append(_want(reference3d, keys3d, x_val, w_val, kw))
    got = cgraph.function(inputs, outputs, mode="C")(*values)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name, g, want in zip(sorted(CASES_3D), got, wants, strict=True):
        np.testing.assert_allclose(g, want, rtol=tol, atol=tol * np.abs(want).max(),
                                   err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_gradient_wrt_the_input(dtype, monkeypatch, fresh_cache):
    """The gradient wrt the input of every 2-D and 3-D case (the direct convolution of
    the output gradient with the filters transposed) against the references' (a
    padding wider than the dilated filter keeps im2col and col2im). The small cases
    would keep im2col too (`DIRECT_GRADI_WASTE`): the limit is lifted here."""
    monkeypatch.setattr(conv_kernel, "DIRECT_GRADI_WASTE", float("inf"))
    rng = rng_for("conv-direct-gradi", dtype)
    inputs, outputs, values, wants, names = [], [], [], [], []
    for nd, cases, reference, keys in ((2, CASES_2D, reference2d, keys2d),
                                       (3, CASES_3D, reference3d, keys3d)):
        grad = abstract_conv.conv2d_grad_wrt_inputs if nd == 2 else \
            abstract_conv.conv3d_grad_wrt_inputs
        tensor = T.tensor4 if nd == 2 else tensor5
        for name in sorted(cases):
            xs, ws, kw = cases[name]
            out = abstract_conv.get_conv_output_shape(xs, ws, kw.get("border_mode", "valid"),
                                                      1, kw.get("filter_dilation", 1))
            w, seed = tensor("w", dtype=dtype), tensor("seed", dtype=dtype)
            dx = grad(seed, w, xs, **kw)
            direct = _direct(dx.owner.op, xs, ws, dtype)
            assert direct == (name not in ("wide_pad", "one_tap_padded")), name
            x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
            seed_val = rng.standard_normal(out)
            inputs += [w, seed]
            outputs.append(dx)
            values += [w_val.astype(dtype), seed_val.astype(dtype)]
            wants.append(reference(x_val, w_val, seed_val, **keys(kw))[1])
            names.append(name)
    got = cgraph.function(inputs, outputs, mode="C")(*values)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name, g, want in zip(names, got, wants, strict=True):
        assert g.shape == want.shape, name
        np.testing.assert_allclose(g, want, rtol=tol, atol=tol * np.abs(want).max(),
                                   err_msg=name)


def test_strided_operands_and_the_epilogue():
    """Views (rows and columns swapped, every other image) are read through their
    strides; a bias and relu after the convolution run in its kernel (ConvEpilogue),
    on each block of filters as it is copied out."""
    rng = rng_for("conv-direct-views")
    x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
    b = T.vector("b", dtype="float32")
    xt, wt = x[::2].dimshuffle(0, 1, 3, 2), w.dimshuffle(0, 1, 3, 2)
    y = relu(conv2d(xt, wt, border_mode="half") + b.dimshuffle("x", 0, "x", "x"))
    f = cgraph.function([x, w, b], y)
    assert any(type(n.op).__name__ == "ConvEpilogue" for n in f.fgraph.toposort())
    x_val = rng.standard_normal((6, 3, 7, 10)).astype("float32")
    w_val = rng.standard_normal((11, 3, 3, 5)).astype("float32")
    b_val = rng.standard_normal(11).astype("float32")
    conv = _want(reference2d, keys2d, x_val[::2].transpose(0, 1, 3, 2).astype(float),
                 w_val.transpose(0, 1, 3, 2).astype(float), {"border_mode": "half"})
    want = np.maximum(conv + b_val[:, None, None], 0)
    np.testing.assert_allclose(f(x_val, w_val, b_val), want, rtol=1e-5, atol=1e-5)


def test_which_convolutions_take_the_direct_kernel():
    """Forward convolutions of stride 1, of floats, whose padded image group fits (1x1
    ones when their blocks of filters waste little); the others keep im2col (strides),
    the 1x1 product or their empty-output path."""
    def op(**kw):
        return abstract_conv.AbstractConv2d(**kw)

    xs, ws = (2, 4, 9, 9), (6, 4, 3, 3)
    assert _direct(op(), xs, ws, "float32") and _direct(op(), xs, ws, "float64")
    assert not _direct(op(subsample=(1, 2)), xs, ws, "float32")
    assert _direct(op(), (2, 64, 56, 56), (64, 64, 1, 1), "float32")
    assert not _direct(op(), xs, (6, 4, 1, 1), "float32")  # 1.58 sums per sum kept
    assert not _direct(op(), (0, 4, 9, 9), ws, "float32")
    assert not _direct(op(border_mode=(0, 2**20)), xs, ws, "float32")
    grad = abstract_conv.AbstractConv2d_gradWeights()
    assert not takes_direct(grad, Geometry.of(grad, xs, ws), "float32")
    # the gradient wrt the input: its padding (dilated filter - 1 - the forward's) >= 0
    grad = abstract_conv.AbstractConv2d_gradInputs
    xs, ws = (32, 16, 32, 32), (16, 16, 3, 3)
    assert _direct(grad(border_mode="full"), xs, ws, "float32")
    assert _direct(grad(border_mode="half"), xs, ws, "float64")
    assert not _direct(grad(border_mode=(1, 3)), xs, ws, "float32")
    assert not _direct(grad(subsample=2), xs, ws, "float32")
    # nor when it would compute over 1.25 sums per sum kept (LeNet's second layer's)
    assert not _direct(grad(), (64, 20, 12, 12), (50, 20, 5, 5), "float32")


def test_the_direct_buffers_are_in_the_workspace():
    """The repacked filters, the taps' offsets and each thread's padded image and sums
    are scratch the planner places in the workspace (room for im2col's column buffer
    too, which a module built without the kernel's vectors runs): the output is the
    function's, so the workspace is that block alone, rounded to the planner's
    alignment."""
    from cgraph.codegen.plan import ALIGN, make_plan

    xs, ws = (2, 3, 9, 10), (4, 3, 3, 2)
    x, w = T.tensor4("x"), T.tensor4("w")
    y = conv2d(x, w, border_mode="half")
    f = cgraph.function([x, w], y)
    geo = Geometry.of(y.owner.op, xs, ws)
    direct = direct_bytes(geo, 1, 8, direct_threads(geo))
    column = 3 * 3 * 2 * 9 * 10 * 8  # depth rows of all 9 output rows of 10 columns
    room = max(direct, column)
    assert make_plan(f._lowered, (xs, ws)).workspace == -(-room // ALIGN) * ALIGN


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_threads_do_not_change_a_bit(dtype):
    """Each output of the direct kernel is summed and written by one thread in one
    order, so one thread and two (OpenBLAS's count bounds them) give the same bits:
    the forward convolution with units of whole images (batch 8) and of blocks of
    filters (batch 1), with an epilogue, and the gradient wrt the input. Convolutions
    from `DIRECT_MIN_THREADED` multiply-adds get the threads, smaller ones one."""
    from cgraph.distributed.rounds import _openblas

    lib = _openblas()
    if lib is None or CONV_THREADS < 2:
        pytest.skip("needs scipy-openblas32 and two CPUs")
    small = Geometry((2, 3, 8, 8), (4, 3, 3, 3), (2, 4, 8, 8), (1, 1))
    assert direct_threads(small) == 1
    rng = rng_for("conv-direct-threads", dtype)
    x, w, gy = (T.tensor4(n, dtype=dtype) for n in ("x", "w", "gy"))
    b = T.vector("b", dtype=dtype)
    y = conv2d(x, w, border_mode="half")
    f = cgraph.function([x, w, b, gy], [relu(y + b.dimshuffle("x", 0, "x", "x")),
                                        cgraph.grad((y * gy).sum(), x)])
    gradi = abstract_conv.AbstractConv2d_gradInputs(border_mode="half")
    before = lib.scipy_openblas_get_num_threads()
    try:
        for xs, ws in (((8, 8, 32, 32), (16, 8, 3, 3)), ((1, 16, 56, 56), (24, 16, 3, 3))):
            geo = Geometry.of(y.owner.op, xs, ws)
            assert direct_threads(geo) == CONV_THREADS >= 2
            assert direct_threads(direct_geometry(gradi, geo)) == CONV_THREADS
            assert _direct(gradi, xs, ws, dtype)
            args = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[0],), geo.top)]
            runs = []
            for threads in (1, 2, 1, 2):
                lib.scipy_openblas_set_num_threads(threads)
                runs.append([np.array(v) for v in f(*args)])
            for got in runs[1:]:
                for g, want in zip(got, runs[0], strict=True):
                    assert np.array_equal(g, want)
    finally:
        lib.scipy_openblas_set_num_threads(before)


def test_the_thread_pool_after_a_fork():
    """The direct kernel's threads are kept between calls, one pool per module: a
    forked child, which has none of the parent's threads, starts its own and gets the
    same result as the parent (it neither waits for a thread that is not there nor
    computes less)."""
    import multiprocessing

    if CONV_THREADS < 2 or "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("needs two CPUs and fork")
    x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
    f = cgraph.function([x, w], conv2d(x, w, border_mode="half"))
    rng = rng_for("conv-direct-fork")
    xv = rng.standard_normal((8, 8, 32, 32)).astype("float32")
    wv = rng.standard_normal((16, 8, 3, 3)).astype("float32")
    assert direct_threads(Geometry.of(f.fgraph.outputs[0].owner.op, xv.shape, wv.shape)) >= 2
    want = f(xv, wv)  # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply(_call_twice, (f, xv, wv))
    for g in got:
        assert np.array_equal(g, want)


def _call_twice(f, xv, wv):
    return [np.array(f(xv, wv)) for _ in range(2)]
