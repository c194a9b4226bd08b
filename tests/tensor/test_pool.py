"""pool_2d (cgraph.tensor.signal.pool) and its gradients against a numpy reference
written here from Theano's definition, in modes C and PY; gradients by verify_grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.tensor.signal import pool
from cgraph.tensor.type import TensorType

POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _axis(size, ws, stride, pad, ignore_border):
    """[(start, end) in the image, size in the padded image] of each window."""
    padded = size + 2 * pad
    if ignore_border:
        n = (padded - ws) // stride + 1
    elif stride >= ws:
        n = (padded - 1) // stride + 1
    else:
        n = max(0, (padded - 1 - ws) // stride + 1) + 1
    out = []
    for r in range(n):
        start, end = r * stride, min(r * stride + ws, padded)
        out.append((max(start, pad) - pad, min(end, size + pad) - pad, end - start))
    return out


def reference(x, seed, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
    """pool_2d(x) window by window, and the gradient of sum(pool * seed) wrt x (max: to
    every position equal to the window's maximum)."""
    stride = stride or ws
    rows = _axis(x.shape[2], ws[0], stride[0], pad[0], ignore_border)
    cols = _axis(x.shape[3], ws[1], stride[1], pad[1], ignore_border)
    y = np.zeros(x.shape[:2] + (len(rows), len(cols)))
    seed = np.zeros(y.shape) if seed is None else seed
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i, (r0, r1, rn) in enumerate(rows):
                for j, (c0, c1, cn) in enumerate(cols):
                    region = x[n, c, r0:r1, c0:c1]
                    count = rn * cn if mode == "average_inc_pad" else region.size
                    if mode == "max":
                        y[n, c, i, j] = region.max()
                        dx[n, c, r0:r1, c0:c1] += (region == region.max()) * seed[n, c, i, j]
                    else:
                        scale = 1 if mode == "sum" else count
                        y[n, c, i, j] = region.sum() / scale
                        dx[n, c, r0:r1, c0:c1] += seed[n, c, i, j] / scale
    return y, dx


CONFIGS = {
    "2x2": {"ws": (2, 2)},
    "partial_windows": {"ws": (3, 2), "ignore_border": False, "stride": (2, 3)},
    "overlap_pad": {"ws": (3, 3), "stride": (1, 2), "pad": (1, 2)},
    "stride_beyond_window": {"ws": (2, 1), "ignore_border": False, "stride": (3, 2)},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pool_mode", POOL_MODES)
def test_pool_2d_and_gradient(pool_mode, mode):
    x, seed = T.tensor4("x"), T.tensor4("seed")
    outs, cases = [], []
    for name in sorted(CONFIGS):
        y = pool.pool_2d(x, mode=pool_mode, **CONFIGS[name])
        outs += [y, cgraph.grad((y * seed[:, :, :y.shape[2], :y.shape[3]]).sum(), x)]
        cases.append(name)
    f = cgraph.function([x, seed], outs, mode=mode)
    rng = rng_for("pool", pool_mode)
    for shape in [(2, 3, 7, 8), (1, 1, 5, 4), (0, 2, 6, 6)]:
        # integers: ties in the windows (max sends the gradient to each)
        x_val = rng.integers(-3, 3, size=shape).astype(float)
        seed_val = rng.standard_normal(shape[:2] + (8, 8))
        got = f(x_val, seed_val)
        for k, name in enumerate(cases):
            want_y, _ = reference(x_val, None, **CONFIGS[name], mode=pool_mode)
            trimmed = seed_val[:, :, :want_y.shape[2], :want_y.shape[3]]
            want_y, want_dx = reference(x_val, trimmed, **CONFIGS[name], mode=pool_mode)
            np.testing.assert_allclose(got[2 * k], want_y, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(got[2 * k + 1], want_dx, rtol=1e-12, atol=1e-12)


def test_max_ties_all_get_the_gradient():
    """Theano's MaxPoolGrad: each position equal to the window's maximum gets gz."""
    x = T.tensor4("x")
    g = cgraph.grad(pool.pool_2d(x, (2, 2)).sum(), x)
    x_val = np.array([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]])
    for mode in MODES:
        got = cgraph.function([x], g, mode=mode)(x_val)
        np.testing.assert_array_equal(got, [[[[1, 1, 0, 1], [0, 1, 1, 1]]]])


@pytest.mark.parametrize("mode", MODES)
def test_float32_non_contiguous_and_other_ranks(mode):
    rng = rng_for("pool32")
    x = T.tensor4("x", dtype="float32")
    view = x.dimshuffle(0, 1, 3, 2)  # the kernel reads a strided input
    t3 = T.tensor3("t3")
    outs = [pool.pool_2d(view, (2, 3), mode="average_exc_pad", pad=(1, 1)),
            cgraph.grad(pool.pool_2d(view, (3, 2), stride=(1, 1)).sum(), x),
            pool.pool_2d(t3, (2, 2), ignore_border=False)]
    f = cgraph.function([x, t3], outs, mode=mode)
    x_val = rng.standard_normal((2, 3, 6, 7)).astype("float32")
    t3_val = rng.standard_normal((4, 5, 3))
    got = f(x_val, t3_val)
    xt = x_val.transpose(0, 1, 3, 2).astype(float)
    want0, _ = reference(xt, None, (2, 3), pad=(1, 1),
                         mode="average_exc_pad")
    y1, _ = reference(xt, None, (3, 2), stride=(1, 1))
    _, dx = reference(xt, np.ones(y1.shape), (3, 2), stride=(1, 1))
    want2, _ = reference(t3_val[None], None, (2, 2), ignore_border=False)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], dx.transpose(0, 1, 3, 2), rtol=1e-6)
    np.testing.assert_allclose(got[2], want2[0], rtol=1e-12)


def test_verify_grad(verify_grads):
    """Every mode, padded and strided or past the border, in one compiled check."""
    rng = rng_for("pool-verify")
    # no ties; in [0, 1), so that the summed cost stays small and its central
    # differences exact enough
    x_val = rng.permutation(2 * 2 * 6 * 5).reshape(2, 2, 6, 5) / 120.0
    fns = []
    for pool_mode in POOL_MODES:
        fns += [lambda x, m=pool_mode: pool.pool_2d(x, (3, 2), stride=(2, 1), pad=(1, 1),
                                                    mode=m),
                lambda x, m=pool_mode: pool.pool_2d(x, (2, 3), ignore_border=False, mode=m)]
    verify_grads(fns, [x_val] * len(fns), rng)


def test_bad_input():
    small = TensorType("float64", (None, 3, 2, 5)).make_variable("x")
    with pytest.raises(ValueError, match=r"Pool: the window \(3, 3\) .* does not fit the input "
                                         r"\(None, 3, 2, 5\)"):
        pool.pool_2d(small, (3, 3))
    with pytest.raises(NotImplementedError, match="smaller than the window"):
        pool.pool_2d(small, (2, 2), pad=(2, 0))
    with pytest.raises(ValueError, match="mode must be one of"):
        pool.pool_2d(small, (2, 2), mode="avg")
    x = T.tensor4("x")
    for mode in MODES:
        f = cgraph.function([x], pool.pool_2d(x, (3, 3)), mode=mode)
        with pytest.raises(ValueError, match=r"the window \(3, 3\)(.|\n)*\(1, 2, 2, 9\)"):
            f(np.zeros((1, 2, 2, 9)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_windows_that_tile_the_image(dtype):
    """Max pooling with stride = window and no padding (the kernel's tiled path, and
    the general loop for a strided view of the same values): windows of 1 to 5 columns,
    whole and cut rows and columns, blocks of rows across planes, rows wider than the
    kernel's buffer of 2048 columns, ties, NaN and infinities; the gradient to every
    position equal to its window's maximum (none for a NaN maximum)."""
    rng = rng_for("pool-tiled", dtype)
    x, seed = T.tensor4("x", dtype=dtype), T.tensor4("seed", dtype=dtype)
    cases = [(2, 2), (3, 3), (1, 1), (2, 5), (3, 1), (1, 4)]
    outs = []
    for ws in cases:
        for source in (x, x[:, :, :, ::-1]):  # the reversed view: the general loop
            y = pool.pool_2d(source, ws)
            outs += [y, cgraph.grad((y * seed[:, :, :y.shape[2], :y.shape[3]]).sum(), x)]
    f = cgraph.function([x, seed], outs)
    for shape in [(2, 3, 7, 8), (1, 2, 6, 1030), (1, 1, 6, 2100), (0, 2, 4, 5),
                  (1, 1, 3, 5), (2, 3, 6, 8)]:
        x_val = rng.integers(-3, 3, size=shape).astype(dtype)
        if x_val.size:
            x_val.flat[rng.integers(0, x_val.size, 3)] = [np.nan, np.inf, -np.inf]
        seed_val = rng.standard_normal(shape).astype(dtype)
        got = iter(f(x_val, seed_val))
        for ws in cases:
            for flipped in (False, True):
                xs = x_val[:, :, :, ::-1] if flipped else x_val
                want_y, _ = reference(xs.astype(float), None, ws)
                trimmed = seed_val[:, :, :want_y.shape[2], :want_y.shape[3]]
                _, want_dx = reference(xs.astype(float), trimmed.astype(float), ws)
                if flipped:
                    want_dx = want_dx[:, :, :, ::-1]
                np.testing.assert_array_equal(next(got), want_y.astype(dtype), err_msg=ws)
                np.testing.assert_allclose(next(got), want_dx, rtol=1e-6, err_msg=ws)


def test_2x2_max_pooling_of_dense_and_sliced_batches():
    """2x2 windows covering a dense batch (blocks of rows across its planes) and views
    that are not one dense batch (a slice of the channels, of the images, every other
    row): each as numpy's, NaN propagating; and the gradient of sum(pool(x) ** 2)
    (dense maxima and output gradients) for each, and for x with a cut row and column."""
    rng = rng_for("pool-2x2-dense")
    x = T.tensor4("x", dtype="float32")
    views = [x, x[:, 1:], x[1:], x[:, :, ::2], x[:, :, 1:, 1:]]
    pooled = [pool.pool_2d(v, (2, 2)) for v in views]
    f = cgraph.function([x], pooled + [cgraph.grad((y ** 2).sum(), x) for y in pooled])
    finite = rng.integers(-3, 3, size=(3, 4, 8, 6)).astype("float32")  # with ties
    x_val = rng.standard_normal((3, 4, 8, 6)).astype("float32")
    x_val[1, 2, 3, 4] = np.nan
    x_val[2, 1, 0, 0] = np.inf
    indices = [(), (slice(None), slice(1, None)), (slice(1, None),),
               (slice(None), slice(None), slice(None, None, 2)),
               (slice(None), slice(None), slice(1, None), slice(1, None))]
    got, got_finite = f(x_val), f(finite)
    for k, index in enumerate(indices):
        want, _ = reference(x_val[index].astype(float), None, (2, 2))
        np.testing.assert_array_equal(got[k], want.astype("float32"))
        view = finite[index].astype(float)
        _, want_dx = reference(view, 2 * reference(view, None, (2, 2))[0], (2, 2))
        dx = np.zeros(x_val.shape)
        dx[index] = want_dx
        np.testing.assert_array_equal(got_finite[len(views) + k], dx)


@pytest.mark.parametrize("mode", ["sum", "average_inc_pad", "average_exc_pad"])
def test_sum_and_average_of_windows_that_tile_the_image(mode):
    """Sum and average pooling with stride = window and no padding (the kernel's blocks
    of rows across planes; rows wider than its buffer and strided views take the general
    loop), float32 as numpy's sums of each window."""
    rng = rng_for("pool-tiled-sum", mode)
    x = T.tensor4("x", dtype="float32")
    cases = [(2, 2), (3, 3), (1, 4), (2, 5)]
    f = cgraph.function([x], [pool.pool_2d(v, ws, mode=mode)
                              for ws in cases for v in (x, x[:, :, :, ::-1])])
    for shape in [(2, 3, 7, 8), (3, 5, 12, 12), (1, 1, 3, 4100)]:
        x_val = rng.standard_normal(shape).astype("float32")
        got = iter(f(x_val))
        for ws in cases:
            for view in (x_val, x_val[:, :, :, ::-1]):
                want, _ = reference(view.astype(float), None, ws, mode=mode)
                np.testing.assert_allclose(next(got), want, rtol=2e-6, atol=2e-6,
                                           err_msg=str((shape, ws)))


def test_pool_kernels_are_warning_free(tmp_path):
    """The C of the pooling kernels (every mode, the gradients and the gradient's
    gradient, float32 and float64 in one module) compiles without warnings (-Wall
    -Wextra -Werror)."""
    import subprocess

    from cgraph.codegen.render import csrc_dir

    outs, inputs = [], []
    for dtype in ("float32", "float64"):
        x = T.tensor4("x", dtype=dtype)
        inputs.append(x)
        for pool_mode in POOL_MODES:
            y = pool.pool_2d(x, (2, 2), mode=pool_mode)
            g = cgraph.grad((y * y).sum(), x)
            outs += [y, g, cgraph.grad(g.sum(), x)] if pool_mode == "max" else [y, g]
    f = cgraph.function(inputs, outs)
    source = tmp_path / "pool.c"
    source.write_text(f.c_source)
    assert "cg_pool_tiled_maxgrad_float" in f.c_source
    subprocess.run(["gcc", "-std=c11", "-fopenmp-simd", "-fsyntax-only", "-Wall", "-Wextra",
                    "-Werror", f"-I{csrc_dir()}", str(source)], check=True)
