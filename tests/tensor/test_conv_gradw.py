"""The direct gradient of a convolution wrt its filters (templates/conv_gradw.c.j2,
chosen by `cgraph.tensor.conv_gradw.takes_gradw`) against the numpy references of
test_conv.py and test_conv3d.py: shapes around its register tile (filters around a
vector of 16, channels around a block of 8, taps around a block of 3), every padding,
dilation, groups, flipped or not, batches cut into units of unequal sizes, strided
operands, float32 and float64, 2-D and 3-D, its AVX2 tile and the im2col fallback of a
module built without vectors, the memory limits, and the same bits on one thread and
two."""

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
from cgraph.tensor import conv_gradw
from cgraph.tensor.conv_gradw import gradw_bytes, gradw_units, takes_gradw
from cgraph.tensor.conv_kernel import CONV_THREADS, Geometry, direct_threads
from cgraph.tensor.nnet import abstract_conv, conv2d

CASES_2D = {  # name: (input shape, filter shape, conv2d keywords)
    "filters_17_channels_9_taps_15": ((3, 9, 10, 11), (17, 9, 5, 3), {"border_mode": "half"}),
    "filters_33_channels_17": ((2, 17, 6, 7), (33, 17, 3, 3), {"border_mode": "half"}),
    "taps_4_full": ((2, 3, 6, 9), (10, 3, 2, 2), {"border_mode": "full"}),
    "pair_pad_no_flip": ((2, 3, 8, 7), (12, 3, 3, 2),
                         {"border_mode": (2, 1), "filter_flip": False}),
    "dilation": ((2, 2, 11, 12), (8, 2, 3, 2), {"border_mode": 2, "filter_dilation": (2, 3)}),
    "groups": ((2, 6, 7, 9), (15, 2, 3, 3), {"num_groups": 3, "border_mode": "half"}),
    "one_output": ((2, 3, 5, 5), (4, 3, 5, 5), {}),
    "one_tap": ((2, 5, 11, 20), (16, 5, 1, 1), {}),
    "batch1": ((1, 16, 13, 11), (20, 16, 3, 3), {"border_mode": "half"}),
    "batch11_units_of_1_and_2": ((11, 4, 9, 9), (16, 4, 3, 3), {"border_mode": 1}),
    "wide_pad": ((1, 2, 3, 3), (3, 2, 3, 3), {"border_mode": (3, 4)}),
}

CASES_3D = {  # name: (input shape, filter shape, conv3d keywords)
    "half_filters_9": ((2, 3, 4, 5, 6), (9, 3, 3, 3, 2), {"border_mode": "half"}),
    "batch1_dilation": ((1, 2, 6, 5, 7), (5, 2, 2, 2, 3),
                        {"filter_dilation": (2, 1, 2), "border_mode": (1, 0, 2)}),
    "groups_full": ((2, 4, 3, 4, 3), (6, 2, 2, 2, 2), {"num_groups": 2, "border_mode": "full"}),
}


@pytest.fixture
def every_case(monkeypatch):
    """The small cases would keep im2col (`GRADW_WASTE`): the limit lifted."""
    monkeypatch.setattr(conv_gradw, "GRADW_WASTE", float("inf"))


def _graph(cases, nd, dtype, rng, *, check_direct=True):
    """Per case the filters' gradient op on (x, seed), its inputs' values and the
    reference's gradient."""
    grad = abstract_conv.conv2d_grad_wrt_weights if nd == 2 else \
        abstract_conv.conv3d_grad_wrt_weights
    tensor = T.tensor4 if nd == 2 else tensor5
    reference, keys = (reference2d, keys2d) if nd == 2 else (reference3d, keys3d)
    inputs, outputs, values, wants = [], [], [], []
    for name in sorted(cases):
        xs, ws, kw = cases[name]
        out = abstract_conv.get_conv_output_shape(xs, ws, kw.get("border_mode", "valid"), 1,
                                                  kw.get("filter_dilation", 1))
        x, seed = tensor("x", dtype=dtype), tensor("seed", dtype=dtype)
        dw = grad(x, seed, ws, **kw)
        if check_direct:
            assert takes_gradw(dw.owner.op, Geometry.of(dw.owner.op, xs, ws), dtype), name
        x_val, w_val, seed_val = (rng.standard_normal(s) for s in (xs, ws, out))
        inputs += [x, seed]
        outputs.append(dw)
        values += [x_val.astype(dtype), seed_val.astype(dtype)]
        wants.append(reference(x_val, w_val, seed_val, **keys(kw))[2])
    return inputs, outputs, values, wants


def _check(got, wants, names, dtype):
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name, g, want in zip(names, got, wants, strict=True):
        assert g.shape == want.shape and g.dtype == dtype, name
        np.testing.assert_allclose(g, want, rtol=tol, atol=tol * np.abs(want).max(),
                                   err_msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_gradient_wrt_the_filters(dtype, every_case):
    """Every 2-D and 3-D case in one module: each takes the direct kernel and matches the
    reference (float32 to its rounding: the sums are in another order)."""
    rng = rng_for("conv-gradw", dtype)
    inputs, outputs, values, wants = _graph(CASES_2D, 2, dtype, rng)
    more = _graph(CASES_3D, 3, dtype, rng)
    for mine, extra in zip((inputs, outputs, values, wants), more):
        mine += extra
    got = cgraph.function(inputs, outputs, mode="C")(*values)
    _check(got, wants, sorted(CASES_2D) + sorted(CASES_3D), dtype)


@pytest.mark.parametrize("cflags", ["-O2 -march=native -mno-avx512f", "-O2"])
def test_the_avx2_tile_and_a_module_without_vectors(cflags, every_case, fresh_cache):
    """Built for AVX2 and FMA the kernel runs its smaller tile (4 channels, vectors of 8
    float32 or 4 float64); built without either, the plan's direct kernel is not
    there and im2col runs in the same scratch block."""
    import subprocess

    flags = subprocess.run(["gcc", "-march=native", "-Q", "--help=target"], text=True,
                           capture_output=True).stdout
    if "avx2" in cflags and "-mavx2 [enabled]" not in " ".join(flags.split()):
        pytest.skip("needs a CPU with AVX2")
    for dtype in ("float32", "float64"):
        rng = rng_for("conv-gradw-isa", dtype)
        inputs, outputs, values, wants = _graph(CASES_2D, 2, dtype, rng)
        with cgraph.config.change_flags(cflags=cflags):
            got = cgraph.function(inputs, outputs, mode="C")(*values)
        _check(got, wants, sorted(CASES_2D), dtype)


def test_strided_operands_through_conv2d_grad():
    """The input and the output gradient are read through their strides (rows and
    columns swapped, every other image), as cgraph.grad builds the op."""
    rng = rng_for("conv-gradw-views")
    x, w, gy = (T.tensor4(n, dtype="float32") for n in ("x", "w", "gy"))
    xt, gyt = x[::2].dimshuffle(0, 1, 3, 2), gy[::2].dimshuffle(0, 1, 3, 2)
    y = conv2d(xt, w, border_mode="half")
    f = cgraph.function([x, w, gy], cgraph.grad((y * gyt).sum(), w))
    op = next(n.op for n in f.fgraph.toposort() if getattr(n.op, "kind", "") == "gradw")
    xs, ws = (6, 16, 12, 10), (16, 16, 3, 3)
    assert takes_gradw(op, Geometry.of(op, (3, 16, 10, 12), ws), "float32")
    x_val, w_val = rng.standard_normal(xs), rng.standard_normal(ws)
    gy_val = rng.standard_normal((6, 16, 12, 10))
    want = reference2d(x_val[::2].transpose(0, 1, 3, 2), w_val,
                       gy_val[::2].transpose(0, 1, 3, 2), border="half")[2]
    got = f(x_val.astype("float32"), w_val.astype("float32"), gy_val.astype("float32"))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_which_gradients_take_the_direct_kernel():
    """Stride 1, floats, not empty, a thread's buffers within `GRADW_MAX_IMAGE` and at
    most `GRADW_WASTE` sums per sum kept: the conv layers of benchmarks/convnet (16 and
    64 channels, 3x3 and 5x5), not their 1x1 layer (a tap in a block of 3) nor LeNet's
    (1 channel in a block of 8; 50 filters in 64 and 20 channels in 24)."""
    def op(**kw):
        return abstract_conv.AbstractConv2d_gradWeights(**kw)

    def direct(o, xs, ws, dtype="float32"):
        return takes_gradw(o, Geometry.of(o, xs, ws), dtype)

    for c in (16, 64):
        for k in (3, 5):
            for side in (32, 56):
                assert direct(op(border_mode="half"), (32, c, side, side), (c, c, k, k))
    assert direct(op(border_mode="half"), (32, 16, 32, 32), (16, 16, 3, 3), "float64")
    assert not direct(op(border_mode="half"), (32, 16, 32, 32), (16, 16, 3, 3), "float16")
    assert not direct(op(subsample=2), (32, 16, 32, 32), (16, 16, 3, 3))
    assert not direct(op(), (32, 64, 56, 56), (64, 64, 1, 1))
    assert not direct(op(), (64, 1, 28, 28), (20, 1, 5, 5))
    assert not direct(op(), (64, 20, 12, 12), (50, 20, 5, 5))
    assert not direct(op(), (0, 16, 9, 9), (16, 16, 3, 3))
    assert not direct(op(border_mode=(0, 2**20)), (2, 16, 9, 9), (16, 16, 3, 3))


def test_units_and_memory_limits(every_case, monkeypatch):
    """The units are fixed by the shapes: at most 8, one image each at most, fewer when
    their sums would pass `GRADW_PART_BYTES` (one at least; the result is the same); a
    thread's buffers past `GRADW_MAX_IMAGE` elements keep im2col. The scratch block is
    the larger of im2col's column buffer and the direct kernel's buffers."""
    from cgraph.codegen.plan import ALIGN, make_plan

    def geo(xs, ws):
        return Geometry.of(abstract_conv.AbstractConv2d_gradWeights(border_mode="half"),
                           xs, ws)

    assert gradw_units(geo((32, 16, 8, 8), (16, 16, 3, 3)), 1, 4) == 8
    assert gradw_units(geo((3, 16, 8, 8), (16, 16, 3, 3)), 1, 4) == 3
    big = geo((32, 512, 8, 8), (512, 512, 3, 3))  # 9.4 MB of sums a unit
    assert gradw_units(big, 1, 4) == 1
    xs, ws, ys = (5, 4, 9, 8), (16, 4, 3, 3), (5, 16, 9, 8)
    rng = rng_for("conv-gradw-limits")
    x_val, w_val, seed_val = (rng.standard_normal(s) for s in (xs, ws, ys))
    want = reference2d(x_val, w_val, seed_val, border="half")[2]
    x, seed = T.tensor4("x"), T.tensor4("seed")
    for limit, units in ((1 << 23, 5), (2 * 16 * 36 * 8, 2), (1, 1)):
        monkeypatch.setattr(conv_gradw, "GRADW_PART_BYTES", limit)
        assert gradw_units(geo(xs, ws), 1, 8) == units
        dw = abstract_conv.conv2d_grad_wrt_weights(x, seed, ws, border_mode="half")
        f = cgraph.function([x, seed], dw)
        np.testing.assert_allclose(f(x_val, seed_val), want, rtol=1e-12, atol=1e-12)
        room = max(gradw_bytes(geo(xs, ws), 1, 8, direct_threads(geo(xs, ws))),
                   4 * 9 * 9 * 8 * 8)  # im2col: depth rows x all 9 output rows of 8
        assert make_plan(f._lowered, (xs, ys)).workspace == -(-room // ALIGN) * ALIGN
    monkeypatch.setattr(conv_gradw, "GRADW_MAX_IMAGE", 100)
    assert not takes_gradw(dw.owner.op, geo(xs, ws), "float64")
    f = cgraph.function([x, seed], dw)
    np.testing.assert_allclose(f(x_val, seed_val), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_threads_do_not_change_a_bit(dtype):
    """Each unit of images is summed by one thread in one order and the units' sums are
    added in their order, so one thread and two (OpenBLAS's count bounds them) give
    the same bits, with 8 units and with 3."""
    from cgraph.distributed.rounds import _openblas

    lib = _openblas()
    if lib is None or CONV_THREADS < 2:
        pytest.skip("needs scipy-openblas32 and two CPUs")
    rng = rng_for("conv-gradw-threads", dtype)
    x, gy = T.tensor4("x", dtype=dtype), T.tensor4("gy", dtype=dtype)
    ws = (16, 16, 3, 3)
    dw = abstract_conv.conv2d_grad_wrt_weights(x, gy, ws, border_mode="half")
    f = cgraph.function([x, gy], dw)
    before = lib.scipy_openblas_get_num_threads()
    try:
        for xs in ((16, 16, 32, 32), (3, 16, 56, 56)):
            geo = Geometry.of(dw.owner.op, xs, ws)
            assert takes_gradw(dw.owner.op, geo, dtype)
            assert direct_threads(geo) == CONV_THREADS >= 2
            args = [rng.standard_normal(xs).astype(dtype) for _ in range(2)]
            runs = []
            for threads in (1, 2, 1, 2):
                lib.scipy_openblas_set_num_threads(threads)
                runs.append(np.array(f(*args)))
            for got in runs[1:]:
                assert np.array_equal(got, runs[0])
    finally:
        lib.scipy_openblas_set_num_threads(before)
