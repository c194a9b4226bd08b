"""Convolution and pooling layers: cgraph's conv2d (im2col + BLAS gemm) against an
im2col + numpy reference and, when installed, PyTorch (CPU) and JAX (jit).

Run: `python -m benchmarks.conv [--quick] [--dtype float64]`. For each layer, forward
(conv2d) and forward+backward (the output and the gradients wrt the input and the
filters, as in a training step), the median time
per call (backends interleaved round by round), the ratio to cgraph and cgraph's
GFLOP/s; then 2x2 max pooling against numpy and a copy of the same bytes (the memory
floor). Each backend's result is checked against numpy's before timing.
"""

from __future__ import annotations

import argparse
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
}


def _pad(border: str, kernel: tuple) -> tuple[int, int]:
    return (kernel[0] // 2, kernel[1] // 2) if border == "half" else (0, 0)


def numpy_conv(border: str) -> tuple[Callable, Callable]:
    """im2col (a strided window view) + tensordot (numpy's BLAS): forward, and backward
    (dx by the transposed product scattered back tap by tap, dw by one product)."""

    def forward(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        ph, pw = _pad(border, w.shape[2:])
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cols = sliding_window_view(xp, w.shape[2:], axis=(2, 3))  # n c oh ow kh kw
        out = np.tensordot(cols, w[:, :, ::-1, ::-1], axes=([1, 4, 5], [1, 2, 3]))
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray) -> tuple:
        """y, then the gradients of sum(y * gy) wrt x and w."""
        y = forward(x, w)
        ph, pw = _pad(border, w.shape[2:])
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cols = sliding_window_view(xp, w.shape[2:], axis=(2, 3))
        dwf = np.tensordot(gy, cols, axes=([0, 2, 3], [0, 2, 3]))
        wf = w[:, :, ::-1, ::-1]
        dxp = np.zeros_like(xp)
        oh, ow = gy.shape[2:]
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                part = np.tensordot(gy, wf[:, :, i, j], axes=([1], [0]))
                dxp[:, :, i:i + oh, j:j + ow] += part.transpose(0, 3, 1, 2)
        return y, dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], dwf[:, :, ::-1, ::-1]

    return forward, backward


def cgraph_conv(border: str, dtype: str) -> tuple[Callable, Callable]:
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.nnet import conv2d

    x, w, gy = (T.tensor4(name, dtype=dtype) for name in ("x", "w", "gy"))
    y = conv2d(x, w, border_mode=border)
    forward = cgraph.function([x, w], y)
    backward = cgraph.function([x, w, gy], [y, *cgraph.grad((y * gy).sum(), [x, w])])
    return forward, backward


def torch_conv(torch, border: str) -> tuple[Callable, Callable]:
    torch.set_grad_enabled(True)

    def forward(x, w):
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, w, padding=_pad(border, w.shape[2:]))

    def backward(x, w, gy):
        y = torch.nn.functional.conv2d(x, w, padding=_pad(border, w.shape[2:]))
        return (y, *torch.autograd.grad(y, [x, w], gy))

    return forward, backward


def jax_conv(jax, border: str) -> tuple[Callable, Callable]:
    def conv(x, w):
        pad = _pad(border, w.shape[2:])
        return jax.lax.conv_general_dilated(x, w, (1, 1), [(pad[0], pad[0]), (pad[1], pad[1])])

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
    fwd["cgraph"], bwd["cgraph"] = cgraph_conv(border, dtype)
    fwd["numpy im2col"], bwd["numpy im2col"] = np_fwd, np_bwd
    args = {name: (x, w, gy) for name in fwd}
    tol = 1e-3 if dtype == "float32" else 1e-9
    if torch is not None:
        tx, tw, tgy = (torch.from_numpy(a) for a in (x, w[:, :, ::-1, ::-1].copy(), gy))
        tx.requires_grad_(True)
        tw.requires_grad_(True)
        fwd["torch"], bwd["torch"] = torch_conv(torch, border)
        args["torch"] = (tx, tw, tgy)
    if jax is not None:
        jx, jw, jgy = (jax.numpy.asarray(a) for a in (x, w[:, :, ::-1, ::-1].copy(), gy))
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
