"""conv2d (cgraph.tensor.nnet.conv2d) and its gradient ops against a numpy reference
written here from the definition, in modes C and PY; gradients by verify_grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.tensor.nnet import abstract_conv, conv2d
from cgraph.tensor.type import TensorType


def _pads(border, kernel, dilation):
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if border == "valid":
        return 0, 0
    if border == "full":
        return dilated[0] - 1, dilated[1] - 1
    if border == "half":
        return dilated[0] // 2, dilated[1] // 2
    return (border, border) if isinstance(border, int) else border


def reference(x, w, seed, border="valid", stride=(1, 1), dilation=(1, 1), flip=True,
              groups=1):
    """y = conv2d(x, w) by its definition, one filter tap at a time, and the gradients
    of sum(y * seed) wrt x and w."""
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    (ph, pw), (sh, sw), (dh, dw) = _pads(border, (kh, kw), dilation), stride, dilation
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - (kh - 1) * dh - 1) // sh + 1
    ow = (wd + 2 * pw - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((n, f, oh, ow))
    dxp, dw_ = np.zeros_like(xp), np.zeros(w.shape)
    for o in range(f):
        group = o // (f // groups)
        for k in range(cg):
            ch = group * cg + k
            for i in range(kh):
                for j in range(kw):
                    ti, tj = (kh - 1 - i, kw - 1 - j) if flip else (i, j)
                    rows = slice(ti * dh, ti * dh + (oh - 1) * sh + 1, sh)
                    cols = slice(tj * dw, tj * dw + (ow - 1) * sw + 1, sw)
                    y[:, o] += w[o, k, i, j] * xp[:, ch, rows, cols]
                    dxp[:, ch, rows, cols] += w[o, k, i, j] * seed[:, o]
                    dw_[o, k, i, j] += (xp[:, ch, rows, cols] * seed[:, o]).sum()
    return y, dxp[:, :, ph:ph + h, pw:pw + wd], dw_


CASES = {  # name: (input shape, filter shape, conv2d keywords)
    "lenet_batch1_channel1": ((1, 1, 12, 12), (2, 1, 5, 5), {}),
    "full_nonsquare": ((2, 3, 7, 9), (4, 3, 2, 3), {"border_mode": "full"}),
    "half_stride": ((2, 2, 8, 7), (3, 2, 3, 3), {"border_mode": "half", "subsample": (2, 1)}),
    "half_even_kernel": ((1, 2, 6, 5), (2, 2, 4, 2), {"border_mode": "half"}),
    "int_dilation": ((2, 2, 9, 8), (3, 2, 2, 3), {"border_mode": 1, "filter_dilation": (2, 1)}),
    "pair_no_flip": ((2, 3, 10, 11), (2, 3, 3, 2),
                     {"border_mode": (0, 2), "subsample": (2, 3), "filter_dilation": (1, 2),
                      "filter_flip": False}),
    "groups": ((2, 4, 6, 7), (6, 2, 3, 3), {"num_groups": 2, "border_mode": "full"}),
    "zero_batch": ((0, 2, 5, 5), (3, 2, 3, 3), {}),
    "zero_channels": ((2, 0, 5, 5), (3, 0, 3, 3), {"border_mode": "half"}),
    "tiles": ((1, 8, 70, 64), (2, 8, 5, 5), {"border_mode": "half"}),  # 4 tiles of rows
    # small K (channels x taps), several images, through BLAS
    "small_k": ((5, 2, 12, 12), (8, 2, 3, 3), {}),
    "small_k_wide": ((5, 1, 66, 66), (16, 1, 3, 3), {}),
    "small_k_groups": ((3, 4, 10, 10), (8, 2, 3, 3), {"num_groups": 2, "border_mode": 1}),
    # 1x1 filters: stride 1 without padding reads the image in place (no im2col)
    "pointwise": ((3, 4, 5, 6), (5, 4, 1, 1), {}),
    "pointwise_blas": ((2, 8, 40, 40), (16, 8, 1, 1), {}),
    "pointwise_groups_channel1": ((2, 3, 4, 3), (6, 1, 1, 1), {"num_groups": 3}),
    "pointwise_stride_pad": ((2, 3, 7, 6), (4, 3, 1, 1), {"subsample": (2, 1),
                                                           "border_mode": (0, 1)}),
}


def _keys(kw):
    return {"border": kw.get("border_mode", "valid"), "stride": kw.get("subsample", (1, 1)),
            "dilation": kw.get("filter_dilation", (1, 1)), "flip": kw.get("filter_flip", True),
            "groups": kw.get("num_groups", 1)}


@pytest.fixture(scope="module")
def conv_results():
    """mode -> case -> ((y, dx, dw) computed, (y, dx, dw) of the reference): every case in
    one function per mode (one compiled module, not one per case)."""
    inputs, outputs, values, wants = [], [], [], []
    for case in sorted(CASES):
        xs, ws, kw = CASES[case]
        rng = rng_for("conv", case)
        x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
        x, w, seed = T.tensor4("x"), T.tensor4("w"), T.tensor4("seed")
        y = conv2d(x, w, **kw)
        dx, dw = cgraph.grad((y * seed).sum(), [x, w])
        out_shape = abstract_conv.get_conv_output_shape(xs, ws, kw.get("border_mode", "valid"),
                                                        kw.get("subsample", (1, 1)),
                                                        kw.get("filter_dilation", (1, 1)))
        seed_val = rng.standard_normal(out_shape)
        inputs += [x, w, seed]
        outputs += [y, dx, dw]
        values += [x_val, w_val, seed_val]
        wants.append(reference(x_val, w_val, seed_val, **_keys(kw)))
    results = {}
    for mode in MODES:
        got = cgraph.function(inputs, outputs, mode=mode)(*values)
        results[mode] = {case: (got[3 * k:3 * k + 3], wants[k])
                         for k, case in enumerate(sorted(CASES))}
    return results


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_conv2d_and_gradients(case, mode, conv_results):
    got, want = conv_results[mode][case]
    for g, r in zip(got, want, strict=True):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_float32_and_non_contiguous(mode):
    rng = rng_for("conv32")
    x_val = rng.standard_normal((2, 3, 9, 8)).astype("float32")
    w_val = rng.standard_normal((4, 3, 3, 2)).astype("float32")
    x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
    # views: the kernel reads strided input and filters (rows and columns swapped)
    xt, wt = x.dimshuffle(0, 1, 3, 2), w.dimshuffle(0, 1, 3, 2)
    y = conv2d(xt, wt, border_mode=1, subsample=(1, 2))
    seed = T.tensor4("seed", dtype="float32")
    dx, dw = cgraph.grad((y * seed.dimshuffle(0, 1, 3, 2)).sum(), [x, w])
    f = cgraph.function([x, w, seed], [y, dx, dw], mode=mode)
    xr, wr = x_val.transpose(0, 1, 3, 2).astype(float), w_val.transpose(0, 1, 3, 2).astype(float)
    y_shape = abstract_conv.get_conv_output_shape(xr.shape, wr.shape, 1, (1, 2))
    seed_val = rng.standard_normal(y_shape).astype("float32").transpose(0, 1, 3, 2)
    want, want_dx, want_dw = reference(xr, wr, seed_val.transpose(0, 1, 3, 2).astype(float),
                                       border=1, stride=(1, 2))
    got = f(x_val, w_val, seed_val)
    assert all(g.dtype == np.float32 for g in got)
    for g, r in zip(got, (want, want_dx.transpose(0, 1, 3, 2), want_dw.transpose(0, 1, 3, 2))):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_pointwise_convolutions_of_strided_views():
    """1x1 filters over views: channels apart (read in place, channels further apart
    than an image), every other column (not dense: through im2col), rows and columns
    swapped (idem); both gradients."""
    rng = rng_for("conv-pointwise-views")
    x = T.tensor4("x", dtype="float32")
    w = T.tensor4("w", dtype="float32")
    views = [x[:, ::2], x[:, 1:4, :, ::2], x.dimshuffle(0, 1, 3, 2)[:, :3]]
    outs, seeds = [], []
    for k, view in enumerate(views):
        seed = T.tensor4(f"seed{k}", dtype="float32")
        y = conv2d(view, w)
        outs += [y, *cgraph.grad((y * seed).sum(), [x, w])]
        seeds.append(seed)
    f = cgraph.function([x, w, *seeds], outs)
    x_val = rng.standard_normal((2, 6, 5, 8)).astype("float32")
    w_val = rng.standard_normal((4, 3, 1, 1)).astype("float32")
    numpy_views = [x_val[:, ::2], x_val[:, 1:4, :, ::2], x_val.transpose(0, 1, 3, 2)[:, :3]]
    seed_vals = [rng.standard_normal((2, 4) + v.shape[2:]).astype("float32")
                 for v in numpy_views]
    got = f(x_val, w_val, *seed_vals)
    for k, (xv, sv) in enumerate(zip(numpy_views, seed_vals)):
        want_y, want_dv, want_dw = reference(xv.astype(float), w_val.astype(float), sv)
        want_dx = np.zeros(x_val.shape)
        where = [np.s_[:, ::2], np.s_[:, 1:4, :, ::2], np.s_[:, :3]][k]
        want_dx[where] = want_dv if k < 2 else want_dv.transpose(0, 1, 3, 2)
        for g, r in zip(got[3 * k:3 * k + 3], (want_y, want_dx, want_dw)):
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4, err_msg=str(k))


@pytest.mark.parametrize("mode", MODES)
def test_gradient_ops_of_their_own(mode):
    """conv2d_grad_wrt_inputs / _weights (Theano's signatures) equal the reference's
    gradients; a non-contiguous output gradient is read through its strides."""
    rng = rng_for("conv-grad-ops")
    kw = {"border_mode": "half", "subsample": (2, 2), "filter_dilation": (1, 2)}
    x_val, w_val = rng.standard_normal((2, 2, 9, 10)), rng.standard_normal((3, 2, 3, 3))
    seed_val = rng.standard_normal((2, 3, 5, 5))
    _, want_dx, want_dw = reference(x_val, w_val, seed_val, border="half", stride=(2, 2),
                                    dilation=(1, 2))
    x, w, top = T.tensor4("x"), T.tensor4("w"), T.tensor4("top")
    top_view = top.dimshuffle(0, 1, 3, 2)
    dx = abstract_conv.conv2d_grad_wrt_inputs(top_view, w, (None, None, 9, 10), **kw)
    dw = abstract_conv.conv2d_grad_wrt_weights(x, top_view, (3, 2, 3, 3), **kw)
    f = cgraph.function([x, w, top], [dx, dw], mode=mode)
    got_dx, got_dw = f(x_val, w_val, seed_val.transpose(0, 1, 3, 2).copy())
    np.testing.assert_allclose(got_dx, want_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got_dw, want_dw, rtol=1e-10, atol=1e-10)


VERIFY_GRAD_CASES = [{"border_mode": "full", "subsample": (2, 1)},
                     {"border_mode": (1, 0), "filter_dilation": (2, 1), "filter_flip": False,
                      "num_groups": 2}]


def test_verify_grad(verify_grads):
    """conv2d and its two gradient ops (their gradients: second order, as Theano's) for
    each case, all in one compiled check (six separate checks took 40 s per case)."""
    rng = rng_for("conv-verify")
    fns, points = [], []
    for kw in VERIFY_GRAD_CASES:
        x_val, w_val = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((2, 4 // kw.get(
            "num_groups", 1), 3, 2))
        top_val = rng.standard_normal(abstract_conv.get_conv_output_shape(
            x_val.shape, w_val.shape, kw["border_mode"], kw.get("subsample", (1, 1)),
            kw.get("filter_dilation", (1, 1))))
        fns += [lambda x, w, kw=kw: conv2d(x, w, **kw),
                lambda w, top, kw=kw: abstract_conv.conv2d_grad_wrt_inputs(
                    top, w, (None, None, 6, 5), **kw),
                lambda x, top, kw=kw: abstract_conv.conv2d_grad_wrt_weights(
                    x, top, (None, None, 3, 2), **kw)]
        # small values: the summed cost stays small, its central differences exact
        points += [(0.3 * x_val, 0.3 * w_val), (0.3 * w_val, 0.3 * top_val),
                   (0.3 * x_val, 0.3 * top_val)]
    verify_grads(fns, points, rng)


def test_bad_shapes_at_build_time():
    x = TensorType("float64", (None, 3, 8, 8)).make_variable("x")
    w = TensorType("float64", (4, 2, 3, 3)).make_variable("w")
    with pytest.raises(ValueError, match=r"2 input channels per group x 1 group\(s\) = 2, "
                                         r"but the input \(None, 3, 8, 8\) has 3 channels"):
        conv2d(x, w)
    with pytest.raises(ValueError, match="4 filters .* do not split into 3 groups"):
        conv2d(TensorType("float64", (None, 6, 8, 8)).make_variable(), w, num_groups=3)
    big = TensorType("float64", (1, 2, 9, 9)).make_variable()
    with pytest.raises(ValueError, match=r"larger than the input \(None, 3, 8, 8\)|larger"):
        conv2d(TensorType("float64", (None, 2, 2, 8)).make_variable(), big)
    with pytest.raises(ValueError, match="subsample must be >= 1"):
        conv2d(x, T.tensor4(), subsample=(0, 1))
    with pytest.raises(ValueError, match="border_mode must be one of"):
        conv2d(x, T.tensor4(), border_mode="same")
    with pytest.raises(TypeError, match="filters must be a 4-d"):
        conv2d(x, T.matrix())


@pytest.mark.parametrize("mode", MODES)
def test_bad_shapes_at_call_time(mode):
    x, w = T.tensor4("x"), T.tensor4("w")
    f = cgraph.function([x, w], conv2d(x, w), mode=mode)
    with pytest.raises(ValueError, match=r"AbstractConv2d.*\(4, 2, 3, 3\).*\(1, 3, 8, 8\) has 3 "
                                         r"channels(.|\n)*(node|AbstractConv2d)"):
        f(np.zeros((1, 3, 8, 8)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"larger than the input \(1, 2, 2, 8\)"):
        f(np.zeros((1, 2, 2, 8)), np.zeros((4, 2, 3, 3)))


# ------------------------------------------------------- the column buffer (scratch)


@pytest.mark.parametrize("kind", ["fwd", "gradw", "gradi"])
def test_the_column_buffer_is_in_the_workspace(kind):
    """Each conv kernel's column buffer (depth x ow x a tile of rows) is scratch the
    planner places in the function's workspace: the results are function outputs, so
    the workspace is that block alone, rounded to the planner's alignment. (The
    forward convolution and the gradient wrt the input run the direct kernel at stride
    1: test_conv_direct.py; here they have a stride of 2 along the rows, padded by 3:
    (9 + 6 - 3) // 2 + 1 = 7 output rows.)"""
    from cgraph.codegen.plan import ALIGN, make_plan

    xs, ws = (2, 3, 9, 10), (4, 3, 3, 2)
    x, w, top = T.tensor4("x"), T.tensor4("w"), T.tensor4("top")
    strided = {"subsample": (2, 1), "border_mode": (3, 0)}
    if kind == "fwd":
        out, shapes = conv2d(x, w, **strided), (xs, ws)
        inputs = [x, w]
    elif kind == "gradw":
        out = abstract_conv.conv2d_grad_wrt_weights(x, top, ws)
        inputs, shapes = [x, top], (xs, (2, 4, 7, 9))
    else:
        out = abstract_conv.conv2d_grad_wrt_inputs(top, w, xs, **strided)
        inputs, shapes = [w, top], (ws, (2, 4, 7, 9))
    f = cgraph.function(inputs, out)
    column = 3 * 3 * 2 * 7 * 9 * 8  # depth rows of all 7 output rows of 9 columns
    assert make_plan(f._lowered, shapes).workspace == -(-column // ALIGN) * ALIGN


def test_scratch_lives_only_during_its_kernel():
    """Two convolutions in a row: the second's output reuses the first's column
    buffer."""
    from cgraph.codegen.plan import make_plan

    x, w = T.tensor4("x"), T.tensor4("w")
    f = cgraph.function([x, w], conv2d(conv2d(x, w, border_mode="half"), w,
                                       border_mode="half").sum())
    one = cgraph.function([x, w], conv2d(x, w, border_mode="half").sum())
    shapes = ((2, 8, 8, 8), (8, 8, 3, 3))
    column = 72 * 64 * 8
    assert make_plan(one._lowered, shapes).workspace >= column
    # less than the two outputs (2*8*8*8 doubles each) and two column buffers: the
    # first buffer's block is free once its kernel has run
    assert make_plan(f._lowered, shapes).workspace < 2 * (column + 2 * 8 * 64 * 8)
    rng = rng_for("conv-scratch")
    x_val, w_val = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    once = reference(x_val, w_val, np.zeros((2, 8, 8, 8)), border="half")[0]
    want = reference(once, w_val, np.zeros((2, 8, 8, 8)), border="half")[0].sum()
    np.testing.assert_allclose(f(x_val, w_val), want, rtol=1e-10)


def test_a_column_buffer_that_cannot_be_allocated_is_a_memory_error():
    """A padding of 2**45 columns: the one-row column buffer (512 TiB) makes the
    workspace; the call is a MemoryError naming the scratch, its node and its bytes."""
    x, w = T.tensor4("x"), T.tensor4("w")
    f = cgraph.function([x, w], conv2d(x, w, border_mode=(0, 2**45)))
    with pytest.raises(MemoryError) as info:
        f(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)))
    text = str(info.value)
    nbytes = (2**46 + 1) * 8
    assert "cannot allocate the workspace" in text
    assert f"uint8 ({nbytes},), {nbytes} bytes, the scratch of node" in text
    assert "AbstractConv2d" in text


def test_profile_reports_gflops_per_conv_layer():
    """`profile=True`: each convolution kernel (forward, gradient wrt the filters, wrt
    the input) counts 2 x output points x filter taps x input channels per group
    floating-point operations, and its row shows GFLOP/s."""
    import io

    x, w = T.tensor4("x"), T.tensor4("w")
    y = conv2d(x, w, border_mode=(1, 0), subsample=(2, 1), num_groups=2)
    f = cgraph.function([x, w], [y, *cgraph.grad(y.sum(), [x, w])], profile=True)
    f(np.ones((3, 4, 9, 7)), np.ones((6, 2, 3, 2)))
    rows = [r for r in f.profile.rows() if "AbstractConv2d" in r["node"]]
    assert len(rows) == 3
    out_points = 3 * 6 * ((9 + 2 - 3) // 2 + 1) * (7 - 2 + 1)
    for r in rows:
        assert r["flops"] == 2 * out_points * 2 * 3 * 2 and r["gflops"] > 0, r["node"]
    text = f.profile.summary(file=io.StringIO())
    assert sum("GFLOP/s" in line and "AbstractConv2d" in line
               for line in text.splitlines()) == 3
