"""3x3 max pooling at stride 2 with padding 1 (ResNet's stem; AlexNet's pooling
without the padding) for benchmarks/convnet.py's part `pool`: cgraph, numpy, PyTorch
and JAX against a copy of the input, forward and forward + backward."""

from __future__ import annotations

import numpy as np

from benchmarks.common import interleaved, table


def _ready(value):
    """`value` once computed (JAX's arrays are waited for)."""
    for v in value if isinstance(value, (tuple, list)) else [value]:
        getattr(v, "block_until_ready", lambda: None)()
    return value


def _as_numpy(value) -> np.ndarray:
    _ready(value)
    return np.asarray(value.detach() if hasattr(value, "detach") else value)


def np_pool3(x: np.ndarray, gy: np.ndarray | None = None):
    """3x3 max pooling at stride 2 with padding 1 (ResNet's): the maximum of nine
    strided views of the image padded with -inf; with `gy`, also the gradient wrt x
    (gy to every position equal to its window's maximum, as cgraph's MaxPoolGrad)."""
    n, c, h, w = x.shape
    oh, ow = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    xp = np.full((n, c, h + 2, w + 2), -np.inf, dtype=x.dtype)
    xp[:, :, 1:-1, 1:-1] = x
    taps = [(a, b) for a in range(3) for b in range(3)]
    views = [xp[:, :, a:a + 2 * oh - 1:2, b:b + 2 * ow - 1:2] for a, b in taps]
    y = views[0].copy()
    for v in views[1:]:
        np.maximum(y, v, out=y)
    if gy is None:
        return y
    gxp = np.zeros(xp.shape, dtype=x.dtype)
    for (a, b), v in zip(taps, views):
        gxp[:, :, a:a + 2 * oh - 1:2, b:b + 2 * ow - 1:2] += (v == y) * gy
    return y, gxp[:, :, 1:-1, 1:-1]


def overlapping_pooling(quick: bool, torch, jax, batch: int) -> None:
    """3x3 max pooling at stride 2 with padding 1 (ResNet's stem; AlexNet's without the
    padding), forward and forward + backward (the output and the gradient wrt x for an
    output gradient), against a copy of the input (the memory floor of the forward)."""
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor.signal import pool

    v, gv = T.tensor4("x", dtype="float32"), T.tensor4("gy", dtype="float32")
    y = pool.pool_2d(v, (3, 3), ignore_border=True, stride=(2, 2), pad=(1, 1))
    forward = cgraph.function([v], y)
    both = cgraph.function([v, gv], [y, cgraph.grad((y * gv).sum(), v)])
    shape = (2, 8, 28, 28) if quick else (batch, 64, 56, 56)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape, dtype=np.float32)
    want = np_pool3(x)
    gy = rng.standard_normal(want.shape, dtype=np.float32)
    want_gx = np_pool3(x, gy)[1]
    out = np.empty_like(x)
    fwd = {"cgraph": (forward, (x,)), "numpy": (np_pool3, (x,))}
    bwd = {"cgraph": (both, (x, gy)), "numpy": (np_pool3, (x, gy))}
    if torch is not None:
        F = torch.nn.functional
        tx, tg = torch.from_numpy(x), torch.from_numpy(gy)

        def t_both(a, g):
            a = a.detach().requires_grad_(True)
            out = F.max_pool2d(a, 3, 2, 1)
            out.backward(g)
            return out, a.grad

        fwd["torch"] = (lambda a: F.max_pool2d(a, 3, 2, 1), (tx,))
        bwd["torch"] = (t_both, (tx, tg))
    if jax is not None:
        lax = jax.lax

        def j_pool(a):
            return lax.reduce_window(a, -np.inf, lax.max, (1, 1, 3, 3), (1, 1, 2, 2),
                                     ((0, 0), (0, 0), (1, 1), (1, 1)))

        def j_both(a, g):
            out, vjp = jax.vjp(j_pool, a)
            return out, vjp(g)[0]

        jx, jg = jax.numpy.asarray(x), jax.numpy.asarray(gy)
        fwd["jax.jit"] = (jax.jit(j_pool), (jx,))
        bwd["jax.jit"] = (jax.jit(j_both), (jx, jg))
    for name, (fn, args) in fwd.items():
        np.testing.assert_array_equal(_as_numpy(fn(*args)), want, err_msg=name)
    for name, (fn, args) in bwd.items():
        got_y, got_gx = fn(*args)
        np.testing.assert_array_equal(_as_numpy(got_y), want, err_msg=name)
        # ties (none in normal draws) aside, every backend's gradient is numpy's
        np.testing.assert_allclose(_as_numpy(got_gx), want_gx, rtol=1e-6, atol=1e-6,
                                   err_msg=name)
    size = "x".join(map(str, shape))
    for title, calls in (("forward", fwd), ("forward + backward", bwd)):
        timed = {name: (lambda fn=fn, args=args: _ready(fn(*args)))
                 for name, (fn, args) in calls.items()}
        timed["copy (memory floor)"] = lambda: np.copyto(out, x)
        times = interleaved(timed, 3 if quick else 15, 3 if quick else 10)
        print(table(f"3x3 max pooling, stride 2, padding 1, {title}, of {size}, float32 "
                    f"({x.nbytes / 1e6:.1f} MB)", "ms per call (median)", times, 1e3,
                    base="copy (memory floor)"))
