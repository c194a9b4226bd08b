"""conv3d (cgraph.tensor.nnet.conv3d) and its gradient ops against a reference built on
scipy.signal.correlate, in modes C and PY; gradients by verify_grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for
from scipy import signal

import cgraph
import cgraph.tensor as T
from cgraph.tensor.nnet import abstract_conv, conv3d
from cgraph.tensor.type import TensorType


def tensor5(name, dtype="float64"):
    return TensorType(dtype, (None,) * 5).make_variable(name)


def _pads(border, kernel, dilation):
    dilated = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if border == "valid":
        return (0, 0, 0)
    if border == "full":
        return tuple(k - 1 for k in dilated)
    if border == "half":
        return tuple(k // 2 for k in dilated)
    return (border,) * 3 if isinstance(border, int) else tuple(border)


def reference(x, w, seed, border="valid", stride=(1, 1, 1), dilation=(1, 1, 1), flip=True,
              groups=1):
    """y = conv3d(x, w) through scipy.signal.correlate ('valid') of the padded input with
    the dilated (and flipped) filter, every stride-th point kept; the gradients of
    sum(y * seed): wrt the input the adjoint (scipy.signal.convolve 'full' of the seed
    spread to the strides), wrt the filter the correlation of the input with it."""
    n, c = x.shape[:2]
    f, cg = w.shape[:2]
    pad = _pads(border, w.shape[2:], dilation)
    xp = np.pad(x, ((0, 0), (0, 0), *[(p, p) for p in pad]))
    keff = np.zeros((f, cg, *[(k - 1) * d + 1 for k, d in zip(w.shape[2:], dilation)]))
    taps = tuple(slice(None, None, d) for d in dilation)
    keff[(slice(None), slice(None), *taps)] = w[:, :, ::-1, ::-1, ::-1] if flip else w
    full = [p - k + 1 for p, k in zip(xp.shape[2:], keff.shape[2:])]
    out = tuple(len(range(0, m, s)) for m, s in zip(full, stride))
    keep = tuple(slice(None, None, s) for s in stride)
    y = np.zeros((n, f, *out))
    dxp, dk = np.zeros_like(xp), np.zeros_like(keff)
    for o in range(f):
        group = o // (f // groups)
        for k in range(cg):
            ch = group * cg + k
            for b in range(n):
                y[b, o] += signal.correlate(xp[b, ch], keff[o, k], mode="valid")[keep]
                spread = np.zeros(full)
                spread[keep] = seed[b, o]
                dxp[b, ch] += signal.convolve(spread, keff[o, k], mode="full")
                dk[o, k] += signal.correlate(xp[b, ch], spread, mode="valid")
    inner = tuple(slice(p, p + s) for p, s in zip(pad, x.shape[2:]))
    dw = dk[(slice(None), slice(None), *taps)]
    return y, dxp[(slice(None), slice(None), *inner)], dw[:, :, ::-1, ::-1, ::-1] if flip else dw


CASES = {  # name: (input shape, filter shape, conv3d keywords)
    "valid": ((2, 3, 5, 6, 7), (4, 3, 2, 3, 2), {}),
    "full_odd": ((2, 2, 3, 5, 7), (3, 2, 3, 2, 3), {"border_mode": "full"}),
    "half_stride": ((2, 2, 6, 7, 8), (3, 2, 3, 3, 2),
                    {"border_mode": "half", "subsample": (2, 1, 3)}),
    "int_dilation": ((1, 2, 7, 6, 8), (2, 2, 2, 3, 2),
                     {"border_mode": 1, "filter_dilation": (2, 1, 2)}),
    "triple_no_flip": ((2, 3, 6, 7, 9), (2, 3, 2, 3, 2),
                       {"border_mode": (1, 0, 2), "subsample": (1, 2, 3),
                        "filter_dilation": (2, 2, 1), "filter_flip": False}),
    "groups": ((2, 4, 4, 5, 6), (6, 2, 2, 3, 3), {"num_groups": 2, "border_mode": "half"}),
    "batch1_channel1": ((1, 1, 4, 5, 6), (1, 1, 3, 3, 3), {}),
    "zero_batch": ((0, 2, 4, 4, 4), (3, 2, 2, 2, 2), {}),
    "filter_equals_input": ((2, 2, 3, 4, 5), (3, 2, 3, 4, 5), {}),
    "stride_larger_than_input": ((2, 2, 3, 3, 3), (2, 2, 1, 1, 1), {"subsample": 5}),
    "one_voxel": ((1, 2, 1, 1, 1), (2, 2, 1, 1, 1), {"border_mode": "full"}),
    # many tiles of output rows, their bounds inside a depth (COL_LIMIT elements)
    "tiles": ((1, 8, 5, 37, 40), (2, 8, 3, 3, 3), {"border_mode": "half"}),
}


def _keys(kw):
    def triple(v):
        return (v,) * 3 if isinstance(v, int) else v
    return {"border": kw.get("border_mode", "valid"),
            "stride": triple(kw.get("subsample", (1, 1, 1))),
            "dilation": triple(kw.get("filter_dilation", (1, 1, 1))),
            "flip": kw.get("filter_flip", True), "groups": kw.get("num_groups", 1)}


def _out_shape(xs, ws, kw):
    return abstract_conv.get_conv_output_shape(xs, ws, kw.get("border_mode", "valid"),
                                                kw.get("subsample", 1),
                                                kw.get("filter_dilation", 1))


@pytest.fixture(scope="module")
def conv3d_results():
    """mode -> case -> ((y, dx, dw) computed, (y, dx, dw) of the reference): every case in
    one function per mode (one compiled module, not one per case)."""
    inputs, outputs, values, wants = [], [], [], []
    for case in sorted(CASES):
        xs, ws, kw = CASES[case]
        rng = rng_for("conv3d", case)
        x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
        x, w, seed = tensor5("x"), tensor5("w"), tensor5("seed")
        y = conv3d(x, w, **kw)
        dx, dw = cgraph.grad((y * seed).sum(), [x, w])
        seed_val = rng.standard_normal(_out_shape(xs, ws, kw))
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
def test_conv3d_and_gradients(case, mode, conv3d_results):
    got, want = conv3d_results[mode][case]
    for g, r in zip(got, want, strict=True):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_float32_and_non_contiguous(mode):
    """float32 throughout; the kernel reads strided input and filters (views with rows
    and columns swapped) and a strided output gradient."""
    rng = rng_for("conv3d-32")
    x_val = rng.standard_normal((2, 3, 4, 7, 6)).astype("float32")
    w_val = rng.standard_normal((4, 3, 2, 3, 2)).astype("float32")
    x, w, seed = tensor5("x", "float32"), tensor5("w", "float32"), tensor5("s", "float32")
    swap = (0, 1, 2, 4, 3)
    y = conv3d(x.dimshuffle(*swap), w.dimshuffle(*swap), border_mode=1, subsample=(1, 1, 2))
    dx, dw = cgraph.grad((y * seed.dimshuffle(*swap)).sum(), [x, w])
    f = cgraph.function([x, w, seed], [y, dx, dw], mode=mode)
    xr, wr = x_val.transpose(swap).astype(float), w_val.transpose(swap).astype(float)
    out = _out_shape(xr.shape, wr.shape, {"border_mode": 1, "subsample": (1, 1, 2)})
    seed_val = rng.standard_normal(out).astype("float32")
    want, want_dx, want_dw = reference(xr, wr, seed_val.astype(float), border=1,
                                       stride=(1, 1, 2))
    got = f(x_val, w_val, seed_val.transpose(swap))
    assert all(g.dtype == np.float32 for g in got)
    for g, r in zip(got, (want, want_dx.transpose(swap), want_dw.transpose(swap))):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_ops_of_their_own(mode):
    """conv3d_grad_wrt_inputs / _weights (Theano's signatures) equal the reference's
    gradients."""
    rng = rng_for("conv3d-grad-ops")
    kw = {"border_mode": "half", "subsample": (2, 1, 2), "filter_dilation": (1, 2, 1)}
    xs, ws = (2, 2, 5, 7, 6), (3, 2, 3, 2, 3)
    x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
    seed_val = rng.standard_normal(_out_shape(xs, ws, kw))
    _, want_dx, want_dw = reference(x_val, w_val, seed_val, **_keys(kw))
    x, w, top = tensor5("x"), tensor5("w"), tensor5("top")
    dx = abstract_conv.conv3d_grad_wrt_inputs(top, w, (None, None, 5, 7, 6), **kw)
    dw = abstract_conv.conv3d_grad_wrt_weights(x, top, ws, **kw)
    f = cgraph.function([x, w, top], [dx, dw], mode=mode)
    got_dx, got_dw = f(x_val, w_val, seed_val)
    np.testing.assert_allclose(got_dx, want_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got_dw, want_dw, rtol=1e-10, atol=1e-10)


def test_verify_grad(verify_grads):
    """conv3d and its two gradient ops (their gradients: second order), in one check."""
    rng = rng_for("conv3d-verify")
    kw = {"border_mode": (1, 0, 1), "subsample": (2, 1, 1), "filter_dilation": (1, 1, 2),
          "num_groups": 2}
    x_val, w_val = rng.standard_normal((2, 4, 4, 3, 5)), rng.standard_normal((2, 2, 2, 2, 2))
    top_val = rng.standard_normal(_out_shape(x_val.shape, w_val.shape, kw))
    fns = [lambda x, w: conv3d(x, w, **kw),
           lambda w, top: abstract_conv.conv3d_grad_wrt_inputs(top, w, (None, None, 4, 3, 5),
                                                               **kw),
           lambda x, top: abstract_conv.conv3d_grad_wrt_weights(x, top, (None, None, 2, 2, 2),
                                                                **kw)]
    points = [(0.3 * x_val, 0.3 * w_val), (0.3 * w_val, 0.3 * top_val),
              (0.3 * x_val, 0.3 * top_val)]
    verify_grads(fns, points, rng)


def test_bad_input_at_build_time():
    x = TensorType("float64", (None, 3, 5, 8, 8)).make_variable("x")
    w = TensorType("float64", (4, 2, 3, 3, 3)).make_variable("w")
    with pytest.raises(ValueError, match=r"2 input channels per group x 1 group\(s\) = 2, "
                                         r"but the input \(None, 3, 5, 8, 8\) has 3 channels"):
        conv3d(x, w)
    big = TensorType("float64", (1, 3, 6, 3, 3)).make_variable()
    with pytest.raises(ValueError, match=r"filters \(1, 3, 6, 3, 3\).*larger than the input "
                                         r"\(None, 3, 5, 8, 8\) padded by \(0, 0, 0\)"):
        conv3d(x, big)
    conv3d(x, big, border_mode=(1, 0, 0))  # padded, it fits
    for bad in ((0, 1, 1), (1, -1, 1), -2):
        with pytest.raises(ValueError, match="conv3d: subsample must be >= 1"):
            conv3d(x, tensor5("w"), subsample=bad)
    with pytest.raises(ValueError, match="conv3d: filter_dilation must be >= 1"):
        conv3d(x, tensor5("w"), filter_dilation=(1, 0, 1))
    with pytest.raises(ValueError, match="subsample must be an int or a tuple of 3 ints"):
        conv3d(x, tensor5("w"), subsample=(1, 1))
    with pytest.raises(ValueError, match="border_mode must be one of"):
        conv3d(x, tensor5("w"), border_mode="same")
    with pytest.raises(TypeError, match=r"filters must be a 5-d float32 or float64 tensor, "
                                        r"got float64\[\?,\?,\?,\?\]"):
        conv3d(x, T.tensor4())
    with pytest.raises(TypeError, match="input must be a 5-d"):
        conv3d(T.tensor4(), tensor5("w"))
    with pytest.raises(ValueError, match=r"input_shape must have 5 entries"):
        conv3d(x, w, input_shape=(1, 3, 8, 8))


@pytest.mark.parametrize("mode", MODES)
def test_bad_input_at_call_time(mode):
    x, w = tensor5("x"), tensor5("w")
    f = cgraph.function([x, w], conv3d(x, w, border_mode=(1, 0, 0)), mode=mode)
    with pytest.raises(ValueError, match=r"AbstractConv3d.*\(4, 2, 3, 3, 3\).*"
                                         r"\(1, 3, 5, 8, 8\) has 3 channels"):
        f(np.zeros((1, 3, 5, 8, 8)), np.zeros((4, 2, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"larger than the input \(1, 2, 5, 2, 8\) padded "
                                         r"by \(1, 0, 0\)"):
        f(np.zeros((1, 2, 5, 2, 8)), np.zeros((4, 2, 3, 3, 3)))
    with pytest.raises(ValueError, match="AbstractConv3d_gradInputs: the output gradient"):
        g = cgraph.function([x, w], abstract_conv.conv3d_grad_wrt_inputs(
            x, w, (None, None, 5, 5, 5)), mode=mode)
        g(np.zeros((1, 4, 2, 2, 2)), np.zeros((4, 2, 3, 3, 3)))


def test_conv_kernels_are_warning_free(tmp_path):
    """The C of the convolution kernels (2-D and 3-D, each kind, float32 and float64)
    compiles without warnings (-Wall -Wextra -Werror), with BLAS (CG_BLAS) and without,
    for CPUs with AVX-512, with AVX2 and FMA (the direct kernel's two tiles) and with
    neither."""
    import subprocess

    from cgraph.codegen.render import csrc_dir

    outs, inputs = [], []
    for dtype in ("float32", "float64"):
        for conv, nd in ((T.nnet.conv2d, 2), (conv3d, 3)):
            x, w, seed = (tensor5(n, dtype) if nd == 3 else T.tensor4(n, dtype=dtype)
                          for n in ("x", "w", "seed"))
            y = conv(x, w, border_mode="half")
            outs += [y, *cgraph.grad((y * seed).sum(), [x, w])]
            inputs += [x, w, seed]
    f = cgraph.function(inputs, outs)
    source = tmp_path / "conv.c"
    source.write_text(f.c_source)
    blas = [flag for flag in f.build_options.cflags if flag.startswith(("-I", "-D"))]
    for defines in (blas, []):
        for isa in ([], ["-mavx2", "-mfma"], ["-mavx512f"]):
            subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall",
                            "-Wextra", "-Werror", *isa, f"-I{csrc_dir()}", *defines,
                            str(source)], check=True)


def test_float32_and_float64_convolutions_in_one_module():
    """Kernels of both dtypes share one C file (their common definitions once)."""
    rng = rng_for("conv3d-two-dtypes")
    x32, w32 = tensor5("x32", "float32"), tensor5("w32", "float32")
    x64, w64 = T.tensor4("x64"), T.tensor4("w64")
    f = cgraph.function([x32, w32, x64, w64], [conv3d(x32, w32), T.nnet.conv2d(x64, w64)])
    values = [rng.standard_normal(s) for s in ((1, 2, 3, 4, 5), (2, 2, 2, 2, 2), (2, 3, 5, 4),
                                               (2, 3, 2, 3))]
    values[:2] = [v.astype("float32") for v in values[:2]]
    got32, got64 = f(*values)
    want32 = reference(values[0].astype(float), values[1].astype(float), np.zeros((1, 2, 2, 3, 4)))
    np.testing.assert_allclose(got32, want32[0], rtol=1e-5, atol=1e-5)
    x, w = values[2][:, :, None], values[3][:, :, None]  # a 2-D convolution: depth 1
    np.testing.assert_allclose(got64, reference(x, w, np.zeros((2, 2, 1, 4, 2)))[0][:, :, 0],
                               rtol=1e-10, atol=1e-10)
