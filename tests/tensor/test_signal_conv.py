"""PyTensor's convolve1d / convolve2d (cgraph.tensor.signal) against scipy.signal's
convolve and convolve2d, in modes C and PY, with gradients by verify_grad."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import MODES, rng_for

import cgraph
import cgraph.tensor as T
from cgraph.tensor import signal as tsignal
from cgraph.tensor.signal import convolve1d, convolve2d

signal = pytest.importorskip("scipy.signal")

MODES_OF_CONV = ("full", "valid", "same")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conv_mode", MODES_OF_CONV)
@pytest.mark.parametrize("sizes", [(7, 4), (8, 3), (5, 5), (1, 1)])
def test_convolve1d(sizes, conv_mode, mode):
    rng = rng_for("convolve1d", sizes, conv_mode)
    x_val, k_val = rng.standard_normal(sizes[0]), rng.standard_normal(sizes[1])
    x, k = T.vector("x"), T.vector("k")
    f = cgraph.function([x, k], tsignal.convolve1d(x, k, conv_mode), mode=mode)
    want = signal.convolve(x_val, k_val, conv_mode)
    got = f(x_val, k_val)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("conv_mode", MODES_OF_CONV)
@pytest.mark.parametrize("shapes", [((6, 7), (3, 4)), ((5, 5), (2, 2)), ((4, 9), (4, 1))])
def test_convolve2d(shapes, conv_mode, mode):
    rng = rng_for("convolve2d", shapes, conv_mode)
    x_val, k_val = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    x, k = T.matrix("x"), T.matrix("k")
    f = cgraph.function([x, k], tsignal.convolve2d(x, k, conv_mode), mode=mode)
    want = signal.convolve2d(x_val, k_val, conv_mode)
    got = f(x_val, k_val)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradients(verify_grads):
    """convolve1d and convolve2d in the three modes, in one compiled check."""
    rng = rng_for("convolve-grad")
    fns, points = [], []
    for conv_mode in MODES_OF_CONV:
        fns += [lambda x, k, m=conv_mode: convolve1d(x, k, m),
                lambda x, k, m=conv_mode: convolve2d(x, k, m)]
        points += [(rng.standard_normal(7), rng.standard_normal(4)),
                   (rng.standard_normal((5, 6)), rng.standard_normal((2, 3)))]
    verify_grads(fns, points, rng)


def test_bad_input():
    with pytest.raises(TypeError, match="convolve1d: in2 must be a 1-d tensor"):
        convolve1d(T.vector(), T.matrix())
    with pytest.raises(TypeError, match="convolve2d: in1 must be a 2-d tensor"):
        convolve2d(T.tensor3(), T.matrix())
    with pytest.raises(ValueError, match="mode must be 'full', 'valid' or 'same'"):
        convolve2d(T.matrix(), T.matrix(), "circular")
    x, k = T.vector("x"), T.vector("k")
    f = cgraph.function([x, k], convolve1d(x, k, "valid"))
    with pytest.raises(ValueError, match="larger than the input"):
        f(np.ones(3), np.ones(5))
