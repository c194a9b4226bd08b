"""Convolutional networks (#17): the LeNet-5 training step, a sweep of conv layers and
max pooling, cgraph side by side with PyTorch (CPU), JAX (jit) and an im2col + numpy
reference.

Run: `python -m benchmarks.convnet [--quick] [--json PATH]`. Three parts, float32:

- the LeNet-5 training step of the deeplearning.net tutorial (batch 64 of 1x28x28:
  conv 20x5x5, 2x2 max pool, tanh, conv 50x5x5, pool, tanh, a 500-unit tanh layer, a
  softmax regression; the negative log-likelihood's gradient and an SGD update of
  every parameter), as a Theano user writes it;
- single conv layers (batch 32, 3x3 and 5x5 filters, 16 and 64 channels in and out,
  32x32 and 56x56 images, border 'half'; and 1x1, 64 channels, 56x56), forward and
  forward+backward (the output and the gradients wrt the input and the filters, as in
  a training step; the numpy reference's backward is checked but not timed), cgraph
  and PyTorch also with their threads set to one (the kernels themselves, whatever
  the machine's other work leaves of the second core);
- 2x2 max pooling against a copy of the same bytes (the memory floor), and 3x3 max
  pooling at stride 2 with padding 1, forward and forward + backward
  (benchmarks/pool_overlap.py);
- the convnet rewrites' layers (benchmarks/conv_fusion.py): conv + bias + activation
  and max-pool(tanh(conv + bias)), forward, with and without the rewrites.

Each backend starts from the same parameters and its result (the step's cost and
updated parameters, a layer's output and gradients, the pooled array) is checked
against numpy's before it is timed; the backends take turns round by round (medians).
PyTorch is optional: installed outside the virtual environment, it is found in
/tmp/torchdeps (`pip install --target /tmp/torchdeps torch==2.13.0`) or on the path.
`--quick` (the CI smoke run) times cgraph and numpy on a small part of each workload.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.common import interleaved, optional, table
from benchmarks.conv_fusion import fused_layers
from benchmarks.pool_overlap import overlapping_pooling
from benchmarks.results import run_main
from cgraph.distributed.rounds import _openblas

TORCH_DIR = Path("/tmp/torchdeps")
#: LeNet-5: batch, image side, filters of the two conv layers, hidden units, classes
BATCH, SIDE, NKERNS, HIDDEN, CLASSES = 64, 28, (20, 50), 500, 10
LEARNING_RATE = 0.1
#: the conv layer sweep: (filter side, channels in and out, image side), batch 32; a
#: 1x1 layer too (its own kernel path: no im2col)
SWEEP = [(k, c, s) for s in (32, 56) for k in (3, 5) for c in (16, 64)] + [(1, 64, 56)]
SWEEP_BATCH = 32
QUICK_SWEEP = [(3, 16, 32)]
#: cols of at most this many elements per im2col chunk of the numpy reference
NUMPY_CHUNK = 1 << 22


def load_torch(quick: bool):
    """PyTorch (CPU) from /tmp/torchdeps or the path, or None with a note."""
    if quick:
        return None
    if TORCH_DIR.is_dir() and str(TORCH_DIR) not in sys.path:
        sys.path.append(str(TORCH_DIR))
    try:
        return importlib.import_module("torch")
    except ImportError:
        print(f"(torch not installed: skipped; `pip install --target {TORCH_DIR} "
              "torch==2.13.0` to compare)")
        return None


def flip(w: np.ndarray) -> np.ndarray:
    """The filters flipped along their spatial axes: Theano's conv2d flips them, the
    anchors' convolutions (cross-correlations) take them flipped."""
    return w[:, :, ::-1, ::-1].copy()  # a new array: positive strides (torch needs them)


# ------------------------------------------------------------------ numpy reference


def _chunks(x: np.ndarray, w: np.ndarray, pad: int):
    """Chunks of images and their columns (n, C k k, out rows x out cols)."""
    n, c, h, wd = x.shape
    k = w.shape[-1]
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    step = max(1, NUMPY_CHUNK // (c * k * k * oh * ow))
    for start in range(0, n, step):
        part = x[start:start + step]
        if pad:
            part = np.pad(part, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        view = sliding_window_view(part, (k, k), axis=(2, 3))  # n c oh ow k k
        cols = view.transpose(0, 1, 4, 5, 2, 3).reshape(len(part), c * k * k, oh * ow)
        yield slice(start, start + step), cols, (oh, ow)


def np_conv(x: np.ndarray, w: np.ndarray, pad: int = 0) -> np.ndarray:
    """Theano's conv2d (filters flipped) by im2col and one matrix product per chunk."""
    wm = flip(w).reshape(w.shape[0], -1)
    parts = [(wm @ cols).reshape(len(cols), w.shape[0], *out)
             for _, cols, out in _chunks(x, w, pad)]
    return np.concatenate(parts)


def np_conv_grads(x: np.ndarray, w: np.ndarray, gy: np.ndarray, pad: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of sum(conv(x, w) * gy) wrt x and w: dw from the columns, dx by
    col2im (the columns' gradient added back tap by tap)."""
    f, c, k, _ = w.shape
    wm = flip(w).reshape(f, -1)
    dwm = np.zeros_like(wm)
    dxp = np.zeros((x.shape[0], c, x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), x.dtype)
    for rows, cols, (oh, ow) in _chunks(x, w, pad):
        g = gy[rows].reshape(len(cols), f, oh * ow)
        dwm += np.einsum("nfp,nkp->fk", g, cols, optimize=True)
        dcols = (wm.T @ g).reshape(len(cols), c, k, k, oh, ow)
        target = dxp[rows]
        for i in range(k):
            for j in range(k):
                target[:, :, i:i + oh, j:j + ow] += dcols[:, :, i, j]
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return np.ascontiguousarray(dx), flip(dwm.reshape(w.shape))


def np_pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling (even sides: the maximum of the four strided quarters), and the
    mask of the maxima."""
    n, c, h, w = x.shape
    out = np.maximum(np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                     np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    return out, blocks == out[:, :, :, None, :, None]


def np_unpool(mask: np.ndarray, g: np.ndarray) -> np.ndarray:
    n, c, h, _, w, _ = mask.shape
    return (mask * g[:, :, :, None, :, None]).reshape(n, c, 2 * h, 2 * w)


# ------------------------------------------------------------------------- LeNet-5


def lenet_params(seed: int = 23455) -> list[np.ndarray]:
    """The tutorial's initial parameters, float32: K0, c0, K1, c1, W2, b2, W3, b3
    (conv filters as Theano's conv2d takes them)."""
    rng = np.random.RandomState(seed)
    shapes = [(NKERNS[0], 1, 5, 5), (NKERNS[1], NKERNS[0], 5, 5)]
    out = []
    for fs in shapes:
        fan_in, fan_out = np.prod(fs[1:]), fs[0] * np.prod(fs[2:]) // 4
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        out += [rng.uniform(-bound, bound, fs), np.zeros(fs[0])]
    n_in = NKERNS[1] * 4 * 4
    bound = np.sqrt(6.0 / (n_in + HIDDEN))
    out += [rng.uniform(-bound, bound, (n_in, HIDDEN)), np.zeros(HIDDEN)]
    out += [rng.uniform(-0.05, 0.05, (HIDDEN, CLASSES)), np.zeros(CLASSES)]
    return [p.astype(np.float32) for p in out]


def lenet_batch(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic MNIST-format data: images in [0, 1) and labels 0-9."""
    rng = np.random.default_rng(seed)
    return (rng.random((BATCH, 1, SIDE, SIDE), dtype=np.float32),
            rng.integers(0, CLASSES, BATCH).astype(np.int32))


def numpy_lenet() -> tuple[Callable, Callable]:
    """The step by hand in numpy (im2col convolutions)."""
    params = lenet_params()

    def step(x, y):
        K0, c0, K1, c1, W2, b2, W3, b3 = params
        z0 = np_conv(x, K0)
        m0, mask0 = np_pool(z0)
        h0 = np.tanh(m0 + c0[:, None, None])
        z1 = np_conv(h0, K1)
        m1, mask1 = np_pool(z1)
        h1 = np.tanh(m1 + c1[:, None, None])
        flat = h1.reshape(len(x), -1)
        h2 = np.tanh(flat @ W2 + b2)
        logits = h2 @ W3 + b3
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        cost = -np.log(prob[rows, y]).mean()
        d_logits = prob
        d_logits[rows, y] -= 1
        d_logits /= len(y)
        d_h2 = d_logits @ W3.T * (1 - h2 ** 2)
        d_m1 = (d_h2 @ W2.T).reshape(h1.shape) * (1 - h1 ** 2)
        d_h0, dK1 = np_conv_grads(h0, K1, np_unpool(mask1, d_m1))
        d_m0 = d_h0 * (1 - h0 ** 2)
        _, dK0 = np_conv_grads(x, K0, np_unpool(mask0, d_m0))
        grads = [dK0, d_m0.sum(axis=(0, 2, 3)), dK1, d_m1.sum(axis=(0, 2, 3)),
                 flat.T @ d_h2, d_h2.sum(axis=0), h2.T @ d_logits, d_logits.sum(axis=0)]
        params[:] = [p - np.float32(LEARNING_RATE) * g for p, g in zip(params, grads)]
        return cost

    return step, lambda: params


def cgraph_lenet() -> tuple[Callable, Callable]:
    """The tutorial's model written as a Theano user writes it (conv2d, pool_2d,
    shared parameters, T.grad and updates)."""
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.nnet import conv2d
    from cgraph.tensor.signal import pool

    shared = [cgraph.shared(p.copy()) for p in lenet_params()]
    K0, c0, K1, c1, W2, b2, W3, b3 = shared
    x, y = T.tensor4("x", dtype="float32"), T.ivector("y")

    def conv_pool(inp, K, c, image, filters):
        out = conv2d(inp, K, input_shape=image, filter_shape=filters)
        return T.tanh(pool.pool_2d(out, (2, 2), ignore_border=True)
                      + c.dimshuffle("x", 0, "x", "x"))

    h0 = conv_pool(x, K0, c0, (BATCH, 1, SIDE, SIDE), (NKERNS[0], 1, 5, 5))
    h1 = conv_pool(h0, K1, c1, (BATCH, NKERNS[0], 12, 12), (NKERNS[1], NKERNS[0], 5, 5))
    h2 = T.tanh(T.dot(h1.flatten(2), W2) + b2)
    p_y = T.nnet.softmax(T.dot(h2, W3) + b3)
    cost = -T.mean(T.log(p_y)[T.arange(y.shape[0]), y])
    grads = T.grad(cost, shared)
    lr = np.float32(LEARNING_RATE)
    step = cgraph.function([x, y], cost,
                           updates=[(p, p - lr * g) for p, g in zip(shared, grads)])
    return step, lambda: [p.get_value() for p in shared]


def _anchor_params() -> list[np.ndarray]:
    """The initial parameters with the filters flipped (cross-correlation)."""
    params = lenet_params()
    return [flip(p) if p.ndim == 4 else p for p in params]


def _unflip(params: list) -> list[np.ndarray]:
    out = [np.asarray(p.detach() if hasattr(p, "detach") else p) for p in params]
    return [flip(p) if p.ndim == 4 else p for p in out]


def torch_lenet(torch, threads: int | None = None) -> tuple[Callable, Callable]:
    """The step with torch.nn.functional and autograd, the update in place; with
    `threads`, torch's intra-op threads are set to that many during the step."""
    F = torch.nn.functional
    params = [torch.from_numpy(p.copy()).requires_grad_(True) for p in _anchor_params()]

    def step(x, y):
        K0, c0, K1, c1, W2, b2, W3, b3 = params
        h0 = torch.tanh(F.max_pool2d(F.conv2d(x, K0), 2) + c0[:, None, None])
        h1 = torch.tanh(F.max_pool2d(F.conv2d(h0, K1), 2) + c1[:, None, None])
        h2 = torch.tanh(h1.flatten(1) @ W2 + b2)
        cost = F.cross_entropy(h2 @ W3 + b3, y)
        grads = torch.autograd.grad(cost, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(g, alpha=LEARNING_RATE)
        return cost.detach()

    if threads is None:
        return step, lambda: _unflip(params)

    def step_with_threads(x, y):
        default = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return step(x, y)
        finally:
            torch.set_num_threads(default)

    return step_with_threads, lambda: _unflip(params)


def jax_lenet(jax) -> tuple[Callable, Callable]:
    """The step with jax.jit(value_and_grad), its parameters kept between calls."""
    jnp, lax = jax.numpy, jax.lax

    def pool(v):
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def conv(v, k):
        return lax.conv_general_dilated(v, k, (1, 1), "VALID")

    def loss(params, x, y):
        K0, c0, K1, c1, W2, b2, W3, b3 = params
        h0 = jnp.tanh(pool(conv(x, K0)) + c0[:, None, None])
        h1 = jnp.tanh(pool(conv(h0, K1)) + c1[:, None, None])
        h2 = jnp.tanh(h1.reshape(x.shape[0], -1) @ W2 + b2)
        logp = jax.nn.log_softmax(h2 @ W3 + b3)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    @jax.jit
    def update(params, x, y):
        cost, grads = jax.value_and_grad(loss)(params, x, y)
        return cost, [p - LEARNING_RATE * g for p, g in zip(params, grads)]

    state = [[jnp.asarray(p) for p in _anchor_params()]]

    def step(x, y):
        cost, state[0] = update(state[0], x, y)
        return cost.block_until_ready()

    return step, lambda: _unflip(state[0])


def lenet(quick: bool, torch, jax) -> None:
    x, y = lenet_batch()
    found = {"cgraph": (cgraph_lenet(), (x, y)), "numpy im2col": (numpy_lenet(), (x, y))}
    if torch is not None:
        t_args = (torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)))
        found["torch"] = (torch_lenet(torch), t_args)
        found["torch, 1 thread"] = (torch_lenet(torch, threads=1), t_args)
    if jax is not None:
        found["jax.jit"] = (jax_lenet(jax), tuple(jax.numpy.asarray(a) for a in (x, y)))
    costs = {name: float(step(*args)) for name, ((step, _), args) in found.items()}
    want = found["numpy im2col"][0][1]()
    for name, ((_, params), _) in found.items():
        np.testing.assert_allclose(costs[name], costs["numpy im2col"], rtol=1e-4,
                                   err_msg=name)
        for got, ref in zip(params(), want):
            np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-5, err_msg=name)
    calls = {name: (lambda s=step, a=args: s(*a)) for name, ((step, _), args) in found.items()}
    rounds = 3 if quick else 7
    times = interleaved(calls, rounds, 1 if quick else 2, settle=0.0 if quick else 0.1)
    print(table(f"LeNet-5 training step, batch {BATCH}, float32", "ms per step (median)",
                times, 1e3))


# ------------------------------------------------------------------ conv layer sweep


def layer_backends(k: int, torch, jax) -> dict[str, tuple[Callable, Callable, Callable]]:
    """Per backend: forward(x, w), forward+backward(x, w, gy) -> (y, dx, dw), and the
    conversion of numpy operands to its own (filters flipped for the anchors)."""
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.nnet import conv2d

    pad = k // 2
    x, w, gy = (T.tensor4(name, dtype="float32") for name in ("x", "w", "gy"))
    y = conv2d(x, w, border_mode="half")
    forward = cgraph.function([x, w], y)
    both = cgraph.function([x, w, gy], [y, *cgraph.grad((y * gy).sum(), [x, w])])
    found = {"cgraph": (forward, both, lambda *a: a)}
    lib = _openblas()
    if lib is not None:  # OpenBLAS's count bounds the direct kernel's threads too
        found["cgraph, 1 thread"] = (_one_thread(forward, lib.scipy_openblas_get_num_threads,
                                                 lib.scipy_openblas_set_num_threads),
                                     _one_thread(both, lib.scipy_openblas_get_num_threads,
                                                 lib.scipy_openblas_set_num_threads),
                                     lambda *a: a)
    if torch is not None:
        conv = torch.nn.functional.conv2d

        def t_forward(x, w):
            with torch.no_grad():
                return conv(x, w, padding=pad)

        def t_both(x, w, gy):
            out = conv(x, w, padding=pad)
            return (out, *torch.autograd.grad(out, [x, w], gy))

        def t_args(x, w, *rest):
            return (torch.from_numpy(x).requires_grad_(True),
                    torch.from_numpy(flip(w)).requires_grad_(True),
                    *(torch.from_numpy(r) for r in rest))

        found["torch"] = (t_forward, t_both, t_args)
        found["torch, 1 thread"] = (
            _one_thread(t_forward, torch.get_num_threads, torch.set_num_threads),
            _one_thread(t_both, torch.get_num_threads, torch.set_num_threads), t_args)
    if jax is not None:
        def j_conv(x, w):
            return jax.lax.conv_general_dilated(x, w, (1, 1), [(pad, pad), (pad, pad)])

        def j_both(x, w, gy):
            out, pullback = jax.vjp(j_conv, x, w)
            return (out, *pullback(gy))

        def j_args(x, w, *rest):
            return tuple(jax.numpy.asarray(a) for a in (x, flip(w), *rest))

        found["jax.jit"] = (jax.jit(j_conv), jax.jit(j_both), j_args)
    found["numpy im2col"] = (lambda x, w: np_conv(x, w, pad),
                             lambda x, w, gy: (np_conv(x, w, pad), *np_conv_grads(x, w, gy, pad)),
                             lambda *a: a)
    return found


def _one_thread(fn: Callable, get: Callable, put: Callable) -> Callable:
    """`fn` run with a library's threads (`get`/`put` its count) set to one: a machine
    shared with other work can lend the second core or not, and the one-thread
    columns compare the kernels themselves."""
    def run(*args):
        before = get()
        put(1)
        try:
            return fn(*args)
        finally:
            put(before)
    return run


def _numpy(value) -> np.ndarray:
    """A backend's result as a numpy array (JAX waited for, torch detached)."""
    getattr(value, "block_until_ready", lambda: None)()
    return np.asarray(value.detach() if hasattr(value, "detach") else value)


def _block(value):
    for v in value if isinstance(value, (tuple, list)) else [value]:
        getattr(v, "block_until_ready", lambda: None)()
    return value


def conv_layer(k: int, c: int, side: int, rounds: int, torch, jax, settle: float = 0.2
               ) -> dict[str, dict[str, float]]:
    """Seconds per call of one layer, forward and forward+backward, per backend
    (each checked against numpy's first); each turn starts with a pause of `settle`
    seconds (`interleaved`)."""
    rng = np.random.default_rng(k * 1000 + c + side)
    x = rng.standard_normal((SWEEP_BATCH, c, side, side), dtype=np.float32)
    w = (rng.standard_normal((c, c, k, k), dtype=np.float32) / np.sqrt(c * k * k)
         ).astype(np.float32)
    gy = rng.standard_normal(x.shape[:1] + (c,) + x.shape[2:], dtype=np.float32)
    found = layer_backends(k, torch, jax)
    want_y = np_conv(x, w, k // 2)
    want_dx, want_dw = np_conv_grads(x, w, gy, k // 2)
    times: dict[str, dict[str, float]] = {}
    for mode, n_args in (("forward", 2), ("forward+backward", 3)):
        calls = {}
        for name, (forward, both, convert) in found.items():
            if name == "numpy im2col" and n_args == 3:
                continue  # a reference: its backward (col2im by taps) is not timed
            args = convert(x, w, gy)[:n_args]
            fn = forward if n_args == 2 else both
            got = fn(*args)
            if n_args == 2:
                np.testing.assert_allclose(_numpy(got), want_y, rtol=1e-3, atol=1e-3,
                                           err_msg=name)
            else:
                dw = _numpy(got[2])
                np.testing.assert_allclose(_numpy(got[1]), want_dx, rtol=1e-3, atol=1e-3,
                                           err_msg=name)
                np.testing.assert_allclose(dw if not name.startswith(("torch", "jax"))
                                           else flip(dw), want_dw, rtol=1e-3,
                                           atol=1e-3 * np.abs(want_dw).max(), err_msg=name)
            calls[name] = lambda fn=fn, args=args: _block(fn(*args))
        # settle 0.2 s: numpy's OpenBLAS threads (the im2col reference) spin about
        # 0.1 s after a product and took the second core from the backend after them
        times[mode] = interleaved(calls, rounds, 1, settle=settle)
    return times


def sweep(quick: bool, torch, jax) -> None:
    layers = QUICK_SWEEP if quick else SWEEP
    results = {}
    for k, c, side in layers:
        results[(k, c, side)] = conv_layer(k, c, side, 2 if quick else 3, torch, jax,
                                           settle=0.0 if quick else 0.2)
    for mode, work in (("forward", 1), ("forward+backward", 3)):
        names = list(next(iter(results.values()))[mode])
        anchors = [n for n in ("torch", "jax.jit") if n in names]
        single = [n for n in ("cgraph, 1 thread", "torch, 1 thread") if n in names]
        head = ["layer", *(f"{n} (ms)" for n in names), "cgraph GFLOP/s",
                *(f"cgraph / {n}" for n in anchors)]
        if len(single) == 2:
            head += ["cgraph 1-thread GFLOP/s", "cgraph / torch, 1 thread each"]
        lines = [f"### conv layer {mode}, batch {SWEEP_BATCH}, border 'half', float32", "",
                 "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for (k, c, side), by_mode in results.items():
            t = by_mode[mode]
            flops = work * 2 * SWEEP_BATCH * c * side * side * c * k * k
            cells = [f"{k}x{k}, {c}->{c}, {side}x{side}", *(f"{t[n] * 1e3:.4g}" for n in names),
                     f"{flops / t['cgraph'] / 1e9:.1f}",
                     *(f"{t['cgraph'] / t[n]:.2f}x" for n in anchors)]
            if len(single) == 2:
                cells += [f"{flops / t[single[0]] / 1e9:.1f}",
                          f"{t[single[0]] / t[single[1]]:.2f}x"]
            lines.append("| " + " | ".join(cells) + " |")
        print("\n".join(lines) + "\n")


# ---------------------------------------------------------------------- max pooling


def pooling(quick: bool, torch, jax) -> None:
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.signal import pool

    v = T.tensor4("x", dtype="float32")
    f = cgraph.function([v], pool.pool_2d(v, (2, 2), ignore_border=True))
    shapes = [(BATCH, NKERNS[0], 24, 24)] + ([] if quick else [(SWEEP_BATCH, 64, 56, 56)])
    for shape in shapes:
        x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
        want = np_pool(x)[0]
        out = np.empty_like(x)
        calls = {"cgraph": (f, (x,)), "numpy": (lambda x: np_pool(x)[0], (x,))}
        if torch is not None:
            calls["torch"] = (lambda t: torch.nn.functional.max_pool2d(t, 2),
                              (torch.from_numpy(x),))
        if jax is not None:
            lax = jax.lax
            jpool = jax.jit(lambda a: lax.reduce_window(a, -np.inf, lax.max, (1, 1, 2, 2),
                                                        (1, 1, 2, 2), "VALID"))
            calls["jax.jit"] = (jpool, (jax.numpy.asarray(x),))
        for name, (fn, args) in calls.items():
            np.testing.assert_array_equal(_numpy(fn(*args)), want, err_msg=name)
        timed = {name: (lambda fn=fn, args=args: _block(fn(*args)))
                 for name, (fn, args) in calls.items()}
        timed["copy (memory floor)"] = lambda: np.copyto(out, x)
        times = interleaved(timed, 3 if quick else 15, 5 if quick else 20)
        size = "x".join(map(str, shape))
        print(table(f"2x2 max pooling of {size}, float32 ({x.nbytes / 1e6:.1f} MB)",
                    "ms per call (median)", times, 1e3, base="copy (memory floor)"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (for CI)")
    parser.add_argument("--part", choices=("lenet", "sweep", "pool", "fused"), action="append",
                        help="run only these parts (default: all)")
    args = parser.parse_args(argv)
    torch, jax = load_torch(args.quick), optional("jax", args.quick)
    if jax is not None:
        jax.config.update("jax_enable_x64", False)
    if torch is not None:
        print(f"(torch {torch.__version__}, {torch.get_num_threads()} intra-op threads)")
    parts = args.part or ["lenet", "sweep", "pool", "fused"]
    if "lenet" in parts:
        lenet(args.quick, torch, jax)
    if "sweep" in parts:
        sweep(args.quick, torch, jax)
    if "pool" in parts:
        pooling(args.quick, torch, jax)
    if "fused" in parts:  # benchmarks/conv_fusion.py: the convnet rewrites' layers
        fused_layers(args.quick, torch, jax)
    if "pool" in parts:  # last: docs/benchmarks.md numbers the tables before these
        overlapping_pooling(args.quick, torch, jax, SWEEP_BATCH)


if __name__ == "__main__":
    run_main(main)
