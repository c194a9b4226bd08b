"""The convnet rewrites' layers (#17), forward (inference), float32: a convolution
with a bias and an activation, and max pooling of such a layer, each compiled by
cgraph with the rewrites (`cgraph.rewrite.convnet`: the bias and activation in the
convolution's kernel, the activation after the pool) and without them
(`rewrite_exclude=["convnet"]`), beside PyTorch and JAX computing the same layer.

Part `fused` of `python -m benchmarks.convnet` (its tables go to
docs/results/convnet.json); each backend's result is checked against numpy's first,
and the backends take turns round by round (medians).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.common import interleaved, table

#: name: (input shape, filter shape, border, activation, max-pooled 2x2)
LAYERS = {
    "LeNet conv1 + bias + tanh (64x1x28x28, 20x1x5x5)":
        ((64, 1, 28, 28), (20, 1, 5, 5), "valid", "tanh", False),
    "3x3, 16->16, 32x32 + bias + relu (batch 32, half)":
        ((32, 16, 32, 32), (16, 16, 3, 3), "half", "relu", False),
    "3x3, 64->64, 56x56 + bias + relu (batch 32, half)":
        ((32, 64, 56, 56), (64, 64, 3, 3), "half", "relu", False),
    "LeNet conv1, max-pool(tanh(conv + bias)) (64x1x28x28, 20x1x5x5)":
        ((64, 1, 28, 28), (20, 1, 5, 5), "valid", "tanh", True),
}
QUICK = ["LeNet conv1 + bias + tanh (64x1x28x28, 20x1x5x5)"]


def _numpy_layer(x, w, b, border, act, pooled):
    """The layer by its definition: the convolution tap by tap (filters flipped)."""
    f, _, k, _ = w.shape
    pad = k // 2 if border == "half" else 0
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))).astype(np.float64)
    oh, ow = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    wf = w[:, :, ::-1, ::-1].astype(np.float64)
    y = np.zeros((x.shape[0], f, oh, ow))
    for i in range(k):
        for j in range(k):
            y += np.einsum("nchw,fc->nfhw", xp[:, :, i:i + oh, j:j + ow], wf[:, :, i, j])
    y = y + b[:, None, None]
    y = np.tanh(y) if act == "tanh" else np.maximum(y, 0)
    if pooled:
        n, c, h, wd = y.shape
        y = y.reshape(n, c, h // 2, 2, wd // 2, 2).max(axis=(3, 5))
    return y


def _cgraph(border, act, pooled) -> dict[str, Callable]:
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.nnet import conv2d, relu
    from cgraph.tensor.signal import pool

    x, w = T.tensor4("x", dtype="float32"), T.tensor4("w", dtype="float32")
    b = T.vector("b", dtype="float32")
    z = conv2d(x, w, border_mode=border) + b.dimshuffle("x", 0, "x", "x")
    y = T.tanh(z) if act == "tanh" else relu(z)
    if pooled:
        y = pool.pool_2d(y, (2, 2), ignore_border=True)
    fused = cgraph.function([x, w, b], y)
    assert "convnet" in fused.rewrites, "the convnet rewrites did not fire"
    with cgraph.config.change_flags(rewrite_exclude=["convnet"]):
        plain = cgraph.function([x, w, b], y)
    return {"cgraph": fused, "cgraph without the rewrites": plain}


def _torch(torch, border, act, pooled) -> Callable:
    F = torch.nn.functional

    def layer(x, w, b):
        with torch.no_grad():
            y = F.conv2d(x, w, b, padding=w.shape[-1] // 2 if border == "half" else 0)
            y = torch.tanh(y) if act == "tanh" else F.relu(y)
            return F.max_pool2d(y, 2) if pooled else y
    return layer


def _jax(jax, border, act, pooled) -> Callable:
    jnp, lax = jax.numpy, jax.lax

    def layer(x, w, b):
        pad = w.shape[-1] // 2 if border == "half" else 0
        y = lax.conv_general_dilated(x, w, (1, 1), [(pad, pad), (pad, pad)])
        y = y + b[:, None, None]
        y = jnp.tanh(y) if act == "tanh" else jnp.maximum(y, 0)
        if pooled:
            y = lax.reduce_window(y, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return y
    return jax.jit(layer)


def _ready(value):
    getattr(value, "block_until_ready", lambda: None)()
    return value


def fused_layers(quick: bool, torch, jax) -> None:
    """Print one table per layer: ms per call, cgraph with and without the rewrites,
    PyTorch and JAX."""
    names = QUICK if quick else list(LAYERS)
    for name in names:
        xs, ws, border, act, pooled = LAYERS[name]
        rng = np.random.default_rng(len(name))
        x = rng.standard_normal(xs, dtype=np.float32)
        w = (rng.standard_normal(ws, dtype=np.float32) / np.sqrt(np.prod(ws[1:]))
             ).astype(np.float32)
        b = rng.standard_normal(ws[0], dtype=np.float32)
        calls = {key: (f, (x, w, b)) for key, f in _cgraph(border, act, pooled).items()}
        flipped = w[:, :, ::-1, ::-1].copy()
        if torch is not None:
            calls["torch"] = (_torch(torch, border, act, pooled),
                              tuple(torch.from_numpy(a) for a in (x, flipped, b)))
        if jax is not None:
            calls["jax.jit"] = (_jax(jax, border, act, pooled),
                                tuple(jax.numpy.asarray(a) for a in (x, flipped, b)))
        want = _numpy_layer(x, w, b, border, act, pooled)
        for key, (fn, args) in calls.items():
            got = _ready(fn(*args))
            got = np.asarray(got.detach() if hasattr(got, "detach") else got)
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=key)
        timed = {key: (lambda fn=fn, args=args: _ready(fn(*args)))
                 for key, (fn, args) in calls.items()}
        times = interleaved(timed, 3 if quick else 9, 1 if quick else 3, settle=0.0 if quick
                            else 0.05)
        print(table(f"{name}, float32 forward", "ms per call (median)", times, 1e3))
