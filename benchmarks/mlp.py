"""The MLP training step (784-256-10, tanh, softmax cross-entropy, SGD on 4 shared
variables, batch 128): cgraph (with and without rewrites) vs a hand-written numpy step,
and when installed JAX (the same step under jax.jit) and PyTensor (mode CVM).

Run: `python -m benchmarks.mlp [--quick]`. Prints the median time per step (backends
interleaved round by round) and the ratio to cgraph, for float64 and float32, plus
the number of C kernels with and without rewrites. Before timing, one step of each
backend is checked against the numpy step (loss and updated weights). `--quick`:
cgraph and numpy only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import numpy as np

from benchmarks.common import interleaved, optional
from benchmarks.results import run_main

SIZES = (784, 256, 10)
BATCH = 128
LR = 0.1


def initial_params(dtype: str, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = SIZES
    w1 = (rng.standard_normal((n_in, n_hidden)) * 0.05).astype(dtype)
    w2 = (rng.standard_normal((n_hidden, n_out)) * 0.05).astype(dtype)
    return [w1, np.zeros(n_hidden, dtype), w2, np.zeros(n_out, dtype)]


def numpy_step(dtype: str) -> tuple[Callable, list[np.ndarray]]:
    """A hand-written numpy step (forward, backward, in-place SGD) and its parameters."""
    params = initial_params(dtype)
    lr = np.asarray(LR, dtype)

    def step(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = params
        h = np.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -(y * log_p).sum(axis=1).mean()
        g_logits = (np.exp(log_p) - y) / len(x)
        g_h = (g_logits @ w2.T) * (1 - h * h)
        w2 -= lr * (h.T @ g_logits)
        b2 -= lr * g_logits.sum(axis=0)
        w1 -= lr * (x.T @ g_h)
        b1 -= lr * g_h.sum(axis=0)
        return np.asarray(loss, dtype)

    return step, params


def cgraph_step(dtype: str, optimizer: str) -> tuple[Callable, list, int]:
    """The compiled step, its shared variables and its number of C kernels."""
    import cgraph
    import cgraph.tensor as T
    from cgraph.tensor import nnet

    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    shared = [cgraph.shared(p, name=n) for p, n in zip(initial_params(dtype),
                                                       ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = shared
    h = T.tanh(T.dot(x, w1) + b1)
    loss = T.mean(nnet.categorical_crossentropy(nnet.softmax(T.dot(h, w2) + b2), y))
    grads = cgraph.grad(loss, shared)
    with cgraph.config.change_flags(optimizer=optimizer):
        f = cgraph.function([x, y], loss,
                            updates=[(p, p - LR * g) for p, g in zip(shared, grads)])
    f.trust_input = True
    return f, shared, len(f._lowered.program.steps)


def jax_step(jax, dtype: str) -> tuple[Callable, list]:
    """The same step under jax.jit; returns the step and its (mutable) parameter list."""
    jnp = jax.numpy

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        h = jnp.tanh(x @ w1 + b1)
        log_p = jax.nn.log_softmax(h @ w2 + b2, axis=1)
        return -(y * log_p).sum(axis=1).mean()

    @jax.jit
    def update(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return value, [p - LR * g for p, g in zip(params, grads)]

    params = [jnp.asarray(p) for p in initial_params(dtype)]

    def step(x, y):
        value, params[:] = update(params, x, y)
        return value.block_until_ready()

    return step, params


def pytensor_step(pytensor, dtype: str) -> tuple[Callable, list]:
    """The cgraph graph written with PyTensor, compiled in mode CVM (mode C fails here:
    its Dot22 has no C code without a BLAS configured in blas__ldflags)."""
    pt = pytensor.tensor
    x, y = pt.matrix("x", dtype=dtype), pt.matrix("y", dtype=dtype)
    shared = [pytensor.shared(p, name=n) for p, n in zip(initial_params(dtype),
                                                         ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = shared
    h = pt.tanh(pt.dot(x, w1) + b1)
    log_p = pt.special.log_softmax(pt.dot(h, w2) + b2, axis=1)
    loss = -(y * log_p).sum(axis=1).mean()
    grads = pytensor.grad(loss, shared)
    lr = np.asarray(LR, dtype)
    f = pytensor.function([x, y], loss, mode="CVM",
                          updates=[(p, p - lr * g) for p, g in zip(shared, grads)])
    f.trust_input = True
    return f, shared


def check(dtype: str, backends: dict[str, tuple[Callable, Callable]], x, y) -> None:
    """One step of each backend from the same start gives numpy's loss and weights."""
    reference, ref_params = numpy_step(dtype)
    want = reference(x, y)
    tol = 2e-4 if dtype == "float32" else 1e-10
    for name, (make, values) in backends.items():
        f, state = make()
        np.testing.assert_allclose(np.asarray(f(x, y)), want, rtol=tol, err_msg=name)
        for got, ref in zip(values(state), ref_params):
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds")
    args = parser.parse_args(argv)
    rounds, calls = (3, 3) if args.quick else (9, 20)
    rng = np.random.default_rng(1)
    jax, pytensor = optional("jax", args.quick), optional("pytensor", args.quick)
    print("| dtype | backend | ms per step (median) | ratio to cgraph |")
    print("|---|---|---|---|")
    counts = []
    for dtype in ("float64", "float32"):
        x = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
        y = np.eye(SIZES[2], dtype=dtype)[rng.integers(0, SIZES[2], BATCH)]

        def shared_values(state):
            return [s.get_value() for s in state]

        def arrays(state):
            return [np.asarray(p) for p in state]

        makers = {
            "cgraph": (lambda: cgraph_step(dtype, "fast_run")[:2], shared_values),
            "cgraph (no rewrites)": (lambda: cgraph_step(dtype, "None")[:2], shared_values),
        }
        if jax is not None:
            makers["jax.jit"] = (lambda: jax_step(jax, dtype), arrays)
        if pytensor is not None:
            makers["pytensor CVM"] = (lambda: pytensor_step(pytensor, dtype), shared_values)
        check(dtype, makers, x, y)
        fused, _, n_fused = cgraph_step(dtype, "fast_run")
        plain, _, n_plain = cgraph_step(dtype, "None")
        counts.append(f"{dtype}: {n_fused} C kernels with rewrites, {n_plain} without.")
        functions = {"cgraph": fused, "cgraph (no rewrites)": plain,
                     "numpy": numpy_step(dtype)[0]}
        if jax is not None:
            functions["jax.jit"] = jax_step(jax, dtype)[0]
        if pytensor is not None:
            functions["pytensor CVM"] = pytensor_step(pytensor, dtype)[0]
        times = interleaved({name: partial(f, x, y) for name, f in functions.items()},
                            rounds, calls, settle=0.0 if args.quick else 0.2)
        for name, seconds in times.items():
            print(f"| {dtype} | {name} | {seconds * 1e3:.3f} | "
                  f"{seconds / times['cgraph']:.2f}x |")
    print()
    print("\n".join(counts))


if __name__ == "__main__":
    run_main(main)
