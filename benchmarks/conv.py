"""Convolution and pooling layers: cgraph's conv2d and conv3d (im2col + BLAS gemm)
against an im2col + numpy reference and, when installed, PyTorch (CPU) and JAX (jit).

Run: `python -m benchmarks.conv [--quick] [--dtype float64]`. For each layer, forward
(conv2d) and forward+backward (the output and the gradients wrt the input and the
filters, as in a training step), the median time
per call (backends interleaved round by round), the ratio to cgraph and cgraph's
GFLOP/s; then 2x2 max pooling against numpy and a copy of the same bytes (the memory
floor). Each backend's result is checked against numpy's before timing.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.common import interleaved, optional, table
from benchmarks.results import run_main

#: name: (input shape, filter shape, border mode)
LAYERS = {
    "LeNet conv1 (64x1x28x28, 20x1x5x5)": ((64, 1, 28, 28), (20, 1, 5, 5), "valid"),
    "LeNet conv2 (64x20x12x12, 50x20x5x5)": ((64, 20, 12, 12), (50, 20, 5, 5), "valid"),
    "mid (64x32x32x32, 64x32x3x3, half)": ((64, 32, 32, 32), (64, 32, 3, 3), "half"),
    "3-D (8x16x16x32x32, 32x16x3x3x3, half)": ((8, 16, 16, 32, 32), (32, 16, 3, 3, 3),
                                               "half"),
}


def _pad(border: str, kernel: tuple) -> tuple[int, ...]:
    return tuple(k // 2 if border == "half" else 0 for k in kernel)


def _flip(w: np.ndarray) -> np.ndarray:
    """The filters flipped along their spatial axes (conv2d/conv3d flip them)."""
    return np.flip(w, axis=tuple(range(2, w.ndim)))


def numpy_conv(border: str) -> tuple[Callable, Callable]:
    """im2col (a strided window view) + tensordot (numpy's BLAS), 2-D or 3-D: forward,
    and backward (dx by the transposed product scattered back tap by tap, dw by one
    product)."""

    def windows(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
        pad = _pad(border, w.shape[2:])
        xp = np.pad(x, ((0, 0), (0, 0), *[(p, p) for p in pad]))
        axes = tuple(range(2, x.ndim))
        return xp, sliding_window_view(xp, w.shape[2:], axis=axes), pad  # n c *out *taps

    def forward(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        nd = w.ndim - 2
        _, cols, _ = windows(x, w)
        taps = list(range(2 + nd, 2 + 2 * nd))
        out = np.tensordot(cols, _flip(w), axes=([1, *taps], list(range(1, nd + 2))))
        return np.ascontiguousarray(np.moveaxis(out, -1, 1))

    def backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray) -> tuple:
        """y, then the gradients of sum(y * gy) wrt x and w."""
        nd = w.ndim - 2
        y = forward(x, w)
        xp, cols, pad = windows(x, w)
        spatial = [0, *range(2, 2 + nd)]
        dwf = np.tensordot(gy, cols, axes=(spatial, spatial))
        wf = _flip(w)
        dxp = np.zeros_like(xp)
        for tap in itertools.product(*[range(k) for k in w.shape[2:]]):
            part = np.tensordot(gy, wf[(slice(None), slice(None), *tap)], axes=([1], [0]))
            where = tuple(slice(t, t + o) for t, o in zip(tap, gy.shape[2:]))
            dxp[(slice(None), slice(None), *where)] += np.moveaxis(part, -1, 1)
        inner = tuple(slice(p, p + n) for p, n in zip(pad, x.shape[2:]))
        return y, dxp[(slice(None), slice(None), *inner)], _flip(dwf)

    return forward, backward


def cgraph_conv(border: str, dtype: str, nd: int) -> tuple[Callable, Callable]:
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.nnet import conv2d, conv3d

    x, w, gy = (T.tensor(dtype, shape=(None,) * (nd + 2), name=name) for name in ("x", "w", "gy"))
    y = (conv3d if nd == 3 else conv2d)(x, w, border_mode=border)
    forward = cgraph.function([x, w], y)
    backward = cgraph.function([x, w, gy], [y, *cgraph.grad((y * gy).sum(), [x, w])])
    return forward, backward


def torch_conv(torch, border: str, nd: int) -> tuple[Callable, Callable]:
    torch.set_grad_enabled(True)
    conv = torch.nn.functional.conv3d if nd == 3 else torch.nn.functional.conv2d

    def forward(x, w):
        with torch.no_grad():
            return conv(x, w, padding=_pad(border, w.shape[2:]))

    def backward(x, w, gy):
        y = conv(x, w, padding=_pad(border, w.shape[2:]))
        return (y, *torch.autograd.grad(y, [x, w], gy))

    return forward, backward


def jax_conv(jax, border: str) -> tuple[Callable, Callable]:
    def conv(x, w):
        pad = _pad(border, w.shape[2:])
        return jax.lax.conv_general_dilated(x, w, (1,) * len(pad), [(p, p) for p in pad])

    forward = jax.jit(conv)
    def both(x, w, gy):
        y, pullback = jax.vjp(conv, x, w)
        return (y, *pullback(gy))

    backward = jax.jit(both)
    return forward, backward


def _block(value):
    """Wait for a JAX result (its calls return before the work is done)."""
    for v in value if isinstance(value, (tuple, list)) else [value]:
        getattr(v, "block_until_ready", lambda: None)()
    return value


def _array(value) -> np.ndarray:
    """A backend's result as a numpy array (torch tensors detached first)."""
    value = _block(value)
    return np.asarray(value.detach() if hasattr(value, "detach") else value)


def conv_layer(name: str, dtype: str, rounds: int, calls: int, torch, jax) -> None:
    xs, ws, border = LAYERS[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    np_fwd, np_bwd = numpy_conv(border)
    gy = rng.standard_normal(np_fwd(x, w).shape).astype(dtype)
    want_y, want_g = np_fwd(x, w), np_bwd(x, w, gy)
    fwd, bwd = {}, {}
    nd = len(xs) - 2
    fwd["cgraph"], bwd["cgraph"] = cgraph_conv(border, dtype, nd)
    fwd["numpy im2col"], bwd["numpy im2col"] = np_fwd, np_bwd
    args = {name: (x, w, gy) for name in fwd}
    tol = 1e-3 if dtype == "float32" else 1e-9
    if torch is not None:
        tx, tw, tgy = (torch.from_numpy(a) for a in (x, _flip(w).copy(), gy))
        tx.requires_grad_(True)
        tw.requires_grad_(True)
        fwd["torch"], bwd["torch"] = torch_conv(torch, border, nd)
        args["torch"] = (tx, tw, tgy)
    if jax is not None:
        jx, jw, jgy = (jax.numpy.asarray(a) for a in (x, _flip(w).copy(), gy))
        fwd["jax"], bwd["jax"] = jax_conv(jax, border)
        args["jax"] = (jx, jw, jgy)
    for backend in fwd:
        a = args[backend]
        got_y, got_dx = _array(fwd[backend](*a[:2])), _array(bwd[backend](*a)[1])
        np.testing.assert_allclose(got_y, want_y, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(got_dx, want_g[1], rtol=tol, atol=tol * 10)
    flops = 2 * want_y.size * int(np.prod(ws[1:]))
    for what, fns, work in (("forward", fwd, flops), ("forward+backward", bwd, 3 * flops)):
        calls_of = {b: (lambda f=f, a=args[b], k=2 if what == "forward" else 3:
                        _block(f(*a[:k]))) for b, f in fns.items()}
        times = interleaved(calls_of, rounds, calls)
        print(table(f"{name} {what}, {dtype}", "ms", times, 1e3))
        print(f"cgraph: {work / times['cgraph'] / 1e9:.1f} GFLOP/s\n")


def pooling(dtype: str, rounds: int, calls: int) -> None:
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.signal import pool

    x = np.random.default_rng(1).standard_normal((64, 32, 32, 32)).astype(dtype)
    v = T.tensor4("x", dtype=dtype)
    f = cgraph.function([v], pool.pool_2d(v, (2, 2)))

    def numpy_pool() -> np.ndarray:
        return x.reshape(64, 32, 16, 2, 16, 2).max(axis=(3, 5))

    np.testing.assert_array_equal(f(x), numpy_pool())
    out = np.empty_like(x)
    times = interleaved({"cgraph": lambda: f(x), "numpy": numpy_pool,
                         "copy (memory floor)": lambda: np.copyto(out, x)}, rounds, calls)
    print(table(f"max pool 2x2 of (64, 32, 32, 32), {dtype}", "ms", times, 1e3))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds, no optional backends")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    rounds, calls = (3, 1) if args.quick else (7, 3)
    torch, jax = optional("torch", args.quick), optional("jax", args.quick)
    for name in LAYERS:
        conv_layer(name, args.dtype, rounds, calls, torch, jax)
    pooling(args.dtype, rounds, calls)


if __name__ == "__main__":
    run_main(main)
