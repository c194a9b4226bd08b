"""pool_2d's row kernels (templates/pool2d_rows.c.j2): overlapping, padded and
border-cut windows, forward and gradients, against test_pool's numpy reference; the
gradients bit for bit in float64 (the reference adds each window's share in the
general loop's order, as the kernels do)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rng_for
from test_pool import POOL_MODES, reference

import cgraph
import cgraph.tensor as T
from cgraph.tensor.pool import MaxPoolGrad
from cgraph.tensor.signal import pool

#: (ws, stride, pad, ignore_border): AlexNet's and ResNet's 3x3 at stride 2, 'same'
#: 3x3 at stride 1, windows cut by the border, strides past the window, wide windows
WINDOWS = [((3, 3), (2, 2), (0, 0), True), ((3, 3), (2, 2), (1, 1), True),
           ((3, 3), (2, 2), (0, 0), False), ((3, 3), (1, 1), (1, 1), True),
           ((3, 3), (1, 1), (0, 0), False), ((2, 2), (1, 1), (1, 1), True),
           ((3, 2), (1, 2), (2, 1), True), ((2, 3), (3, 4), (0, 0), False),
           ((5, 4), (2, 3), (2, 3), True), ((1, 3), (1, 1), (0, 1), True)]
#: odd sizes, one row or column, inputs smaller than the window, 1x1 outputs, rows
#: longer than the kernels' LANES (16)
SHAPES = [(2, 3, 7, 9), (1, 2, 1, 1), (1, 1, 2, 2), (2, 1, 3, 3), (1, 2, 5, 37),
          (1, 1, 40, 4)]


def _fits(shape, ws, stride, pad, ignore_border):
    return not ignore_border or all(s + 2 * p >= w for s, w, p in zip(shape[2:], ws, pad))


def _values(rng, shape, dtype, nan):
    """Integers (ties in the windows), with inf and, for max, -inf and a NaN."""
    x = rng.integers(-3, 4, size=shape).astype(dtype)
    if x.size > 3:
        x.flat[rng.choice(x.size, 3, replace=False)] = [np.inf] + ([-np.inf, np.nan] if nan
                                                                   else [2.0, 2.0])
    return x


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pool_mode", POOL_MODES)
def test_windows_and_gradients(pool_mode, dtype):
    """Every window of WINDOWS on every shape that it fits, contiguous and through a
    view with reversed columns (the kernels' strided instance): the pooled values, and
    the gradient of sum(pool * seed)."""
    rng = rng_for("pool-rows", pool_mode, dtype)
    x, seed = T.tensor4("x", dtype=dtype), T.tensor4("seed", dtype=dtype)
    small = [w for w in WINDOWS if _fits((1, 1, 1, 1), *w)]
    functions = {}
    for windows in (WINDOWS, small):
        outs = []
        for ws, stride, pad, ib in windows:
            for view in (x, x[:, :, :, ::-1]):
                y = pool.pool_2d(view, ws, ignore_border=ib, stride=stride, pad=pad,
                                 mode=pool_mode)
                outs += [y, cgraph.grad((y * seed[:, :, :y.shape[2], :y.shape[3]]).sum(),
                                        x)]
        functions[len(windows)] = windows, cgraph.function([x, seed], outs)
    exact = dtype == "float64"
    for shape in SHAPES:
        x_val = _values(rng, shape, dtype, nan=pool_mode == "max")
        seed_val = rng.standard_normal(shape[:2] + (48, 48)).astype(dtype)
        fit = all(_fits(shape, *w) for w in WINDOWS)
        windows, fn = functions[len(WINDOWS if fit else small)]
        got = iter(fn(x_val, seed_val))
        for ws, stride, pad, ib in windows:
            for flipped in (False, True):
                xs = (x_val[:, :, :, ::-1] if flipped else x_val).astype(float)
                want_y, _ = reference(xs, None, ws, ib, stride, pad, pool_mode)
                g = seed_val[:, :, :want_y.shape[2], :want_y.shape[3]].astype(float)
                _, want_dx = reference(xs, g, ws, ib, stride, pad, pool_mode)
                if flipped:
                    want_dx = want_dx[:, :, :, ::-1]
                msg = f"{shape} {(ws, stride, pad, ib)} flipped={flipped}"
                y_got, dx_got = next(got), next(got)
                if pool_mode == "max":
                    np.testing.assert_array_equal(y_got, want_y.astype(dtype), msg)
                else:
                    np.testing.assert_allclose(y_got, want_y, rtol=1e-12 if exact else 2e-6,
                                               atol=0 if exact else 1e-5, err_msg=msg)
                if exact:
                    np.testing.assert_array_equal(dx_got, want_dx, msg)
                else:
                    np.testing.assert_allclose(dx_got, want_dx, rtol=1e-5, atol=1e-5,
                                               err_msg=msg)


def test_strided_views_and_pooled_inputs():
    """Rows read every other row, columns strided by a transpose; MaxPoolGrad with
    maxima and output gradients read through reversed views: C as the op's perform."""
    rng = rng_for("pool-rows-views")
    x, m, g = T.tensor4("x"), T.tensor4("m"), T.tensor4("g")
    params = ((3, 3), True, (2, 2), (1, 1), "max")
    outs = [pool.pool_2d(x[:, :, ::2], (3, 3), stride=(2, 2), pad=(1, 1)),
            pool.pool_2d(x.dimshuffle(0, 1, 3, 2), (3, 3), stride=(1, 1), pad=(1, 1),
                         mode="average_exc_pad"),
            MaxPoolGrad(*params)(x, m[:, :, ::-1, ::-1], g[:, ::-1])]
    fc, fp = (cgraph.function([x, m, g], outs, mode=mode) for mode in ("C", "PY"))
    x_val = rng.integers(-3, 4, size=(2, 3, 9, 11)).astype(float)
    pooled = reference(x_val, None, (3, 3), True, (2, 2), (1, 1))[0]
    m_val, g_val = pooled[:, :, ::-1, ::-1].copy(), rng.standard_normal(pooled.shape)
    for got, want in zip(fc(x_val, m_val, g_val), fp(x_val, m_val, g_val)):
        np.testing.assert_array_equal(got, want)
    want0, _ = reference(x_val[:, :, ::2], None, (3, 3), True, (2, 2), (1, 1))
    np.testing.assert_array_equal(fc(x_val, m_val, g_val)[0], want0)


def test_rows_wider_than_the_buffers():
    """Rows of 2100 columns: the general loop (the row kernels' buffers hold 2048),
    the same values."""
    rng = rng_for("pool-rows-wide")
    x = T.tensor4("x")
    y = pool.pool_2d(x, (3, 3), stride=(2, 1), pad=(1, 1), mode="average_inc_pad")
    f = cgraph.function([x], [y, cgraph.grad((y * y).sum(), x)])
    x_val = rng.standard_normal((1, 1, 4, 2100))
    want_y, _ = reference(x_val, None, (3, 3), True, (2, 1), (1, 1), "average_inc_pad")
    _, want_dx = reference(x_val, 2 * want_y, (3, 3), True, (2, 1), (1, 1),
                           "average_inc_pad")
    got = f(x_val)
    np.testing.assert_allclose(got[0], want_y, rtol=1e-12)
    np.testing.assert_allclose(got[1], want_dx, rtol=1e-12)


def test_verify_grad_overlapping(verify_grads):
    """Numeric gradients of 3x3 pooling at strides 2 and 1, padded, every mode."""
    rng = rng_for("pool-rows-verify")
    x_val = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 168.0  # no ties
    fns = []
    for pool_mode in POOL_MODES:
        fns += [lambda x, m=pool_mode: pool.pool_2d(x, (3, 3), stride=(2, 2), pad=(1, 1),
                                                    mode=m),
                lambda x, m=pool_mode: pool.pool_2d(x, (3, 3), stride=(1, 1), pad=(1, 1),
                                                    mode=m),
                lambda x, m=pool_mode: pool.pool_2d(x, (3, 3), ignore_border=False,
                                                    stride=(2, 2), mode=m)]
    verify_grads(fns, [x_val] * len(fns), rng)
