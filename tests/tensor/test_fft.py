"""cgraph.tensor.fft's rfft and irfft (PyTensor's API: the first axis is the batch, the
others are transformed, complex values as a trailing (real, imag) axis) against
numpy.fft in modes C and PY: power-of-two, prime and composite lengths (Bluestein's
algorithm in C), 1-, 2- and 3-D transforms, the three norms, float32, strided and empty
batches, gradients by central differences, and bad input."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from helpers import MODES, rng_for, verify_grad_cases

import cgraph
import cgraph.tensor as T
from cgraph.tensor import fft

NORMS = (None, "ortho", "no_norm")


def numpy_rfft(x: np.ndarray, norm) -> np.ndarray:
    axes = tuple(range(1, x.ndim))
    y = np.fft.rfftn(x.astype(np.float64), axes=axes, norm="ortho" if norm == "ortho" else None)
    return np.stack([y.real, y.imag], -1)


def numpy_irfft(c: np.ndarray, norm, odd: bool) -> np.ndarray:
    shape = (*c.shape[1:-2], 2 * (c.shape[-2] - 1) + odd)
    z = c[..., 0].astype(np.float64) + 1j * c[..., 1]
    axes = tuple(range(1, c.ndim - 1))
    y = np.fft.irfftn(z, s=shape, axes=axes, norm="ortho" if norm == "ortho" else None)
    return y * np.prod(shape) if norm == "no_norm" else y


@functools.cache
def compiled(dtype: str) -> dict:
    """Per mode, one function of a matrix, a 3-d and a 4-d real input and a 3-d and 4-d
    complex-pair input: rfft of each real one and irfft (both parities) of each complex
    one, in every norm."""
    real = [T.tensor(dtype, (None,) * nd) for nd in (2, 3, 4)]
    cplx = [T.tensor(dtype, (None,) * nd) for nd in (3, 4)]
    outs = [fft.rfft(x, norm) for x in real for norm in NORMS]
    outs += [fft.irfft(c, norm, odd) for c in cplx for norm in NORMS for odd in (False, True)]
    return {mode: cgraph.function(real + cplx, outs, mode=mode) for mode in MODES}


def expected(real: list, cplx: list) -> list:
    outs = [numpy_rfft(x, norm) for x in real for norm in NORMS]
    outs += [numpy_irfft(c, norm, odd) for c in cplx for norm in NORMS for odd in (False, True)]
    return outs


def check(real: list, cplx: list, dtype: str = "float64", rtol: float = 1e-12) -> None:
    want = expected(real, cplx)
    for mode, f in compiled(dtype).items():
        for k, (out, ref) in enumerate(zip(f(*real, *cplx), want)):
            assert out.dtype == dtype and out.shape == ref.shape, (mode, k, out.shape)
            scale = max(np.abs(ref).max(initial=0.0), 1e-300)
            np.testing.assert_allclose(out, ref, rtol=0, atol=rtol * scale,
                                       err_msg=f"{mode}, output {k}")


def arrays(rng, dtype: str, n2: tuple, n3: tuple, n4: tuple, c3: tuple, c4: tuple) -> tuple:
    real = [rng.normal(size=s).astype(dtype) for s in (n2, n3, n4)]
    cplx = [rng.normal(size=(*s, 2)).astype(dtype) for s in (c3, c4)]
    return real, cplx


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 12, 16, 17, 30, 64, 97, 100, 128, 255])
def test_lengths(n):
    # the last axis of every transform has length n (a bins count of n // 2 + 1)
    # and irfft's inputs n // 2 + 1 bins (at least 2: both parities give a signal)
    rng = rng_for("fft lengths", n)
    bins = max(n // 2 + 1, 2)
    real, cplx = arrays(rng, "float64", (3, n), (2, 3, n), (2, 2, 3, n), (3, bins),
                        (2, 5, bins))
    check(real, cplx)


def test_long_transforms():
    # Bluestein's algorithm at a prime length and radix-2 at a long one
    rng = rng_for("fft long")
    for n in (1009, 4096, 3000):
        real, cplx = arrays(rng, "float64", (2, n), (1, 7, n), (1, 2, 3, n), (2, n // 2 + 1),
                            (1, 3, n // 2 + 1))
        check(real, cplx, rtol=1e-13 * np.log2(n))


def test_float32():
    rng = rng_for("fft float32")
    real, cplx = arrays(rng, "float32", (3, 10), (2, 3, 9), (2, 2, 3, 6), (3, 6), (2, 5, 4))
    check(real, cplx, "float32", rtol=1e-6)


def test_strided_and_empty_batches():
    rng = rng_for("fft strided")
    base = rng.normal(size=(6, 4, 18))
    real = [base[::2, 1, ::2], base[:, ::-1, 1::3].transpose(0, 2, 1),
            np.broadcast_to(rng.normal(size=(1, 3, 1, 5)), (2, 3, 4, 5))]
    pairs = rng.normal(size=(2, 9, 4, 5))
    cplx = [pairs[:, :5, 1, ::3][..., :2],  # (2, 5, 2), strided
            pairs[:, ::3, :, 1:3]]  # (2, 3, 4, 2), strided
    check(real, cplx)
    empty_real = [np.zeros((0, 4)), np.zeros((0, 2, 3)), np.zeros((0, 1, 2, 3))]
    empty_cplx = [np.zeros((0, 3, 2)), np.zeros((0, 2, 3, 2))]
    check(empty_real, empty_cplx)


def test_round_trip_and_hermitian_parts_ignored():
    rng = rng_for("fft round trip")
    x = rng.normal(size=(4, 6, 7))
    v = T.tensor3()
    for mode in MODES:
        f = cgraph.function([v], [fft.irfft(fft.rfft(v), is_odd=True),
                                  fft.irfft(fft.rfft(v, "ortho"), "ortho", is_odd=True)],
                            mode=mode)
        for out in f(x):
            np.testing.assert_allclose(out, x, rtol=0, atol=1e-14 * 7, err_msg=mode)
    # the imaginary parts of bin 0 and of bin n/2 (even n) do not change the signal
    c = rng.normal(size=(2, 5, 2))
    d = c.copy()
    d[:, 0, 1] += 3.0
    d[:, -1, 1] -= 2.0
    w = T.tensor3()
    for mode in MODES:
        f = cgraph.function([w], fft.irfft(w), mode=mode)
        np.testing.assert_allclose(f(d), f(c), rtol=0, atol=1e-15, err_msg=mode)


def grad_cases() -> dict:
    rng = rng_for("fft grad")
    cases = {}
    for norm in NORMS:
        for shape in ((2, 6), (2, 7), (2, 3, 4), (1, 3, 5)):
            cases[f"rfft {norm} {shape}"] = (lambda x, norm=norm: fft.rfft(x, norm),
                                             [rng.normal(size=shape)])
        for shape, odd in (((2, 4), False), ((2, 4), True), ((2, 3, 3), False),
                           ((1, 2, 4), True)):
            cases[f"irfft {norm} {shape} {odd}"] = (
                lambda c, norm=norm, odd=odd: fft.irfft(c, norm, odd),
                [rng.normal(size=(*shape, 2))])
    return cases


@pytest.mark.parametrize("mode", MODES)
def test_gradients(mode):
    verify_grad_cases(grad_cases(), mode=mode, rng=rng_for("fft grad directions"))


def test_gradient_through_a_spectrum():
    # a smooth cost of a power spectrum: the gradient against central differences
    x = T.matrix()
    spec = fft.rfft(x)
    cost = T.sum(T.sqr(spec[:, :, 0]) + T.sqr(spec[:, :, 1]) * 0.5)
    a = rng_for("fft spectrum").normal(size=(3, 9))
    for mode in MODES:
        f = cgraph.function([x], [cost, T.grad(cost, x)], mode=mode)
        value, g = f(a)
        num = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[i] = 1e-6
            num[i] = (f(a + e)[0] - f(a - e)[0]) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6, err_msg=mode)


def test_bad_input():
    with pytest.raises(TypeError, match="at least 2 dimensions"):
        fft.rfft(T.vector())
    with pytest.raises(TypeError, match="irfft: the input must be"):
        fft.irfft(T.matrix())
    with pytest.raises(TypeError, match="irfft: the input must be"):
        fft.irfft(T.tensor(shape=(None, None, 3)))
    with pytest.raises(ValueError, match="norm"):
        fft.rfft(T.matrix(), norm="forward")
    with pytest.raises(ValueError, match="norm"):
        fft.irfft(T.tensor3(), norm="backward")
    with pytest.raises(ValueError, match="is_odd"):
        fft.irfft(T.tensor3(), is_odd=3)
    x, c = T.matrix(), T.tensor3()
    for mode in MODES:
        f = cgraph.function([x], fft.rfft(x), mode=mode)
        with pytest.raises(ValueError, match="rfft: a transform of length 0"):
            f(np.zeros((2, 0)))
        g = cgraph.function([c], fft.irfft(c), mode=mode)
        with pytest.raises(ValueError, match="irfft: 1 frequency bins cannot give a signal "
                                             "of length 0"):
            g(np.zeros((2, 1, 2)))
        with pytest.raises(ValueError, match="last axis must hold"):
            g(np.zeros((2, 3, 3)))


def test_integer_input_and_static_shapes():
    x = T.tensor("int32", (3, 8))
    y = fft.rfft(x)
    assert y.dtype == "float64" and y.type.shape == (3, 5, 2)
    z = fft.irfft(y, is_odd=True)
    assert z.type.shape == (3, 9)
    a = np.arange(24, dtype="int32").reshape(3, 8)
    for mode in MODES:
        out = cgraph.function([x], y, mode=mode)(a)
        np.testing.assert_allclose(out, numpy_rfft(a, None), rtol=0, atol=1e-12 * 300)
