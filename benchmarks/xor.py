"""The tutorial's XOR step: cgraph vs a hand-written numpy step, the same step written
by hand in C behind a minimal cffi wrapper (the floor of any Python call path), and,
when installed, PyTensor (modes C, CVM and its default) and JAX (jax.jit).

Run: `python -m benchmarks.xor [--quick]`. Prints markdown tables of median times
per call (interleaved rounds) and of the 40,000-call training loop, with ratios to
cgraph. Each backend's result is checked against numpy before timing. `--quick`
runs cgraph, numpy and the C floor only.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import optional, pytensor_modes, table
from benchmarks.results import run_main

INPUTS = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
TARGETS = np.array([1, 1, 0, 0])


def initial_weights(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((3, 3)), rng.random((4, 1))


def numpy_step() -> tuple[Callable, Callable]:
    """A hand-written numpy version of the tutorial's cost function with updates."""
    t1, t2 = initial_weights()
    state = {"t1": t1.copy(), "t2": t2.copy()}
    one = np.ones(1)

    def cost(x, y):
        x = np.asarray(x, dtype=np.float64)
        y = float(y)
        w1, w2 = state["t1"], state["t2"]
        a0 = np.concatenate([x, one])
        h = 1.0 / (1.0 + np.exp(-(w1.T @ a0)))
        a1 = np.concatenate([h, one])
        o = 1.0 / (1.0 + np.exp(-(w2.T @ a1)))
        out = o.sum()
        d_o = 2.0 * (out - y) * o * (1.0 - o)
        d_h = (w2[:3] @ d_o) * h * (1.0 - h)
        state["t1"] = w1 - 0.1 * np.outer(a0, d_h)
        state["t2"] = w2 - 0.1 * np.outer(a1, d_o)
        return np.array((out - y) ** 2)

    return cost, lambda: state["t1"]


def tutorial_step(lib, **function_kwargs) -> tuple[Callable, Callable]:
    """The tutorial's code against a Theano-like library (cgraph or pytensor)."""
    T, nnet = lib.tensor, lib.tensor.nnet if hasattr(lib.tensor, "nnet") else None
    if nnet is None or not hasattr(nnet, "sigmoid"):
        import pytensor.tensor.math as nnet  # noqa: PLC0415
    x, y = T.dvector(), T.dscalar()
    t1, t2 = initial_weights()
    theta1, theta2 = lib.shared(t1.copy()), lib.shared(t2.copy())

    def layer(x, w):
        b = np.array([1], dtype="float64")
        return nnet.sigmoid(T.dot(w.T, T.concatenate([x, b])))

    out1 = T.sum(layer(layer(x, theta1), theta2))
    fc = (out1 - y) ** 2
    cost = lib.function([x, y], fc, updates=[
        (theta1, theta1 - 0.1 * lib.grad(fc, wrt=theta1)),
        (theta2, theta2 - 0.1 * lib.grad(fc, wrt=theta2))], **function_kwargs)
    return cost, lambda: theta1.get_value()


#: The XOR step written by hand: forward, backward and both updates, one C call.
C_STEP = """
#include <math.h>
static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }
double xor_step(const double *x, double y, double *w1, double *w2)
{
    double a0[3] = {x[0], x[1], 1.0}, a1[4], h[3], dh[3];
    for (int j = 0; j < 3; ++j) {
        double s = 0;
        for (int i = 0; i < 3; ++i)
            s += w1[3 * i + j] * a0[i];
        a1[j] = h[j] = sig(s);
    }
    a1[3] = 1.0;
    double s = 0;
    for (int i = 0; i < 4; ++i)
        s += w2[i] * a1[i];
    const double o = sig(s), d = o - y, d_o = 2.0 * d * o * (1.0 - o);
    for (int j = 0; j < 3; ++j)
        dh[j] = w2[j] * d_o * h[j] * (1.0 - h[j]);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            w1[3 * i + j] -= 0.1 * a0[i] * dh[j];
    for (int i = 0; i < 4; ++i)
        w2[i] -= 0.1 * a1[i] * d_o;
    return d * d;
}

/* The training loop in C: n steps over the rows of X (2 per step) and Y. */
double xor_loop(const double *X, const double *Y, long n, double *w1, double *w2)
{
    double c = 0;
    for (long k = 0; k < n; ++k)
        c = xor_step(X + 2 * k, Y[k], w1, w2);
    return c;
}
"""


def _c_module():
    """The hand-written C step and loop, compiled by cffi."""
    import tempfile  # noqa: PLC0415

    import cffi  # noqa: PLC0415

    ffi = cffi.FFI()
    ffi.cdef("double xor_step(const double *x, double y, double *w1, double *w2);\n"
             "double xor_loop(const double *X, const double *Y, long n, double *w1, "
             "double *w2);")
    ffi.set_source("_cg_bench_xor_c", C_STEP, extra_compile_args=["-O2"])
    with tempfile.TemporaryDirectory() as tmp:
        module = ffi.compile(tmpdir=tmp, verbose=False)
        spec = importlib.util.spec_from_file_location("_cg_bench_xor_c", module)
        lib = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lib)
    return lib


def c_step() -> tuple[Callable, Callable]:
    """The hand-written C step behind the thinnest cffi wrapper: the floor for a call."""
    lib = _c_module()
    t1, t2 = (w.copy() for w in initial_weights())
    step, fb = lib.lib.xor_step, lib.ffi.from_buffer
    p1, p2 = fb("double[]", t1), fb("double[]", t2)
    f64 = np.dtype(np.float64)

    def cost(x, y):
        if x.dtype != f64:
            x = x.astype(f64)
        return step(fb("double[]", x), y, p1, p2)

    return cost, lambda: t1


def jax_step(jax) -> tuple[Callable, Callable]:
    """The same step with jax.jit (value_and_grad), its state kept between calls."""
    jnp = jax.numpy

    def loss(w1, w2, x, y):
        h = jax.nn.sigmoid(w1.T @ jnp.concatenate([x, jnp.ones(1)]))
        o = jax.nn.sigmoid(w2.T @ jnp.concatenate([h, jnp.ones(1)]))
        return (o.sum() - y) ** 2

    @jax.jit
    def step(w1, w2, x, y):
        c, (g1, g2) = jax.value_and_grad(loss, argnums=(0, 1))(w1, w2, x, y)
        return c, w1 - 0.1 * g1, w2 - 0.1 * g2

    state = [jnp.asarray(w) for w in initial_weights()]

    def cost(x, y):
        c, state[0], state[1] = step(state[0], state[1], x, y)
        return c

    return cost, lambda: np.asarray(state[0])


def backends(quick: bool = False) -> dict[str, tuple[Callable, Callable]]:
    import cgraph  # noqa: PLC0415

    found = {"cgraph": tutorial_step(cgraph), "numpy": numpy_step(),
             "hand-written C (cffi)": c_step()}
    pytensor = optional("pytensor", quick)
    for name, mode in pytensor_modes(pytensor).items():
        try:
            found[name] = tutorial_step(pytensor, **({"mode": mode} if mode else {}))
        except NotImplementedError as err:  # mode C without a BLAS: Gemv has no C code
            print(f"({name} cannot compile this step: {err}; it needs blas__ldflags)")
    if (jax := optional("jax", quick)) is not None:
        found["jax.jit"] = jax_step(jax)
    return found


def check(found: dict) -> None:
    """Every backend must agree with numpy on a few steps before it is timed."""
    runs = {}
    for name, (cost, weights) in found.items():
        costs = [float(cost(INPUTS[k], TARGETS[k])) for k in range(4)]
        runs[name] = (costs, weights())
    ref_costs, ref_w = runs["numpy"]
    for name, (costs, w) in runs.items():
        np.testing.assert_allclose(costs, ref_costs, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(w, ref_w, rtol=1e-9, err_msg=name)


def per_call(found: dict, rounds: int, calls: int, as_int: bool) -> dict[str, float]:
    """Median microseconds per call over interleaved rounds."""
    x = INPUTS[0] if as_int else INPUTS[0].astype(np.float64)
    y = TARGETS[0] if as_int else np.float64(TARGETS[0])
    samples: dict[str, list[float]] = {name: [] for name in found}
    for cost, _ in found.values():
        cost(x, y)  # JAX compiles once per argument type
    for _ in range(rounds):
        for name, (cost, _) in found.items():
            t = time.perf_counter()
            for _ in range(calls):
                cost(x, y)
            samples[name].append((time.perf_counter() - t) / calls * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def loop(found: dict, epochs: int) -> dict[str, float]:
    """Seconds for the tutorial's training loop (epochs x 4 calls, int inputs)."""
    result = {}
    for name, (cost, _) in found.items():
        t = time.perf_counter()
        for _ in range(epochs):
            for k in range(4):
                cost(INPUTS[k], TARGETS[k])
        result[name] = time.perf_counter() - t
    return result


def loop_in_c(epochs: int) -> float:
    """Seconds for the same training loop run by `Function.loop` (one C call)."""
    import cgraph

    cost, _ = tutorial_step(cgraph)
    t = time.perf_counter()
    cost.loop(INPUTS, TARGETS, epochs=epochs)
    return time.perf_counter() - t


def whole_loops(quick: bool) -> dict[str, Callable[[int], float]]:
    """Training loops that run every step without Python: each `run(epochs)` returns
    the last cost, after `epochs` passes over the 4 samples."""
    import cgraph  # noqa: PLC0415

    general, _ = tutorial_step(cgraph)
    special, _ = tutorial_step(cgraph)
    found = {"cgraph Function.loop": lambda e: general.loop(INPUTS, TARGETS, epochs=e),
             "cgraph Function.loop(specialize=True)":
                 lambda e: special.loop(INPUTS, TARGETS, epochs=e, specialize=True)}
    lib = _c_module()
    w1, w2 = (w.copy() for w in initial_weights())
    fb = lib.ffi.from_buffer
    p1, p2 = fb("double[]", w1), fb("double[]", w2)

    def c_loop(epochs: int) -> float:
        X = np.tile(INPUTS.astype(np.float64), (epochs, 1))
        Y = np.tile(TARGETS.astype(np.float64), epochs)
        return lib.lib.xor_loop(fb("double[]", X), fb("double[]", Y), len(Y), p1, p2)

    found["hand-written C loop"] = c_loop
    if (jax := optional("jax", quick)) is not None:
        found["jax.lax.scan (jit)"] = jax_scan(jax)
    return found


def jax_scan(jax) -> Callable[[int], float]:
    """The tutorial's loop as one jitted lax.scan over the steps (compiled on first
    use of a length, before timing)."""
    jnp = jax.numpy

    def loss(w1, w2, x, y):
        h = jax.nn.sigmoid(w1.T @ jnp.concatenate([x, jnp.ones(1)]))
        o = jax.nn.sigmoid(w2.T @ jnp.concatenate([h, jnp.ones(1)]))
        return (o.sum() - y) ** 2

    def body(carry, xy):
        w1, w2 = carry
        c, (g1, g2) = jax.value_and_grad(loss, argnums=(0, 1))(w1, w2, xy[0], xy[1])
        return (w1 - 0.1 * g1, w2 - 0.1 * g2), c

    @jax.jit
    def run(w1, w2, X, Y):
        (w1, w2), costs = jax.lax.scan(body, (w1, w2), (X, Y))
        return costs[-1], w1, w2

    state = [jnp.asarray(w) for w in initial_weights()]
    data: dict[int, tuple] = {}

    def scan_loop(epochs: int) -> float:
        if epochs not in data:
            data[epochs] = (jnp.asarray(np.tile(INPUTS.astype(np.float64), (epochs, 1))),
                            jnp.asarray(np.tile(TARGETS.astype(np.float64), epochs)))
            run(state[0], state[1], *data[epochs])[0].block_until_ready()  # compile
        c, state[0], state[1] = run(state[0], state[1], *data[epochs])
        return float(c.block_until_ready())

    return scan_loop


def per_step(loops: dict[str, Callable[[int], float]], epochs: int, rounds: int
             ) -> dict[str, float]:
    """Median nanoseconds per step over interleaved rounds (each loop run once first:
    compiles and the specialized module are not timed)."""
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for run in loops.values():
        run(epochs)
    for _ in range(rounds):
        for name, run in loops.items():
            t = time.perf_counter()
            run(epochs)
            samples[name].append((time.perf_counter() - t) / (4 * epochs) * 1e9)
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (for CI)")
    args = parser.parse_args(argv)
    rounds, calls, epochs = (3, 200, 50) if args.quick else (15, 2000, 10000)
    found = backends(args.quick)
    check(found)
    steps = found["cgraph"][0]._lowered.program.steps
    print(f"cgraph's XOR step: {len(steps)} kernels "
          f"({', '.join(s.kernel.family for s in steps)})\n")
    print(table("XOR cost call, float64 inputs", "µs/call (median)",
                per_call(found, rounds, calls, as_int=False), 1.0))
    print(table("XOR cost call, the tutorial's int inputs", "µs/call (median)",
                per_call(found, rounds, calls, as_int=True), 1.0))
    loops = loop(found, epochs)
    loops["cgraph Function.loop (in C)"] = loop_in_c(epochs)
    print(table(f"XOR training loop, {epochs * 4} calls", "seconds", loops))
    print(table(f"XOR training loop without Python, {epochs * 4} steps",
                "ns/step (median)", per_step(whole_loops(args.quick), epochs, rounds),
                base="cgraph Function.loop"))


if __name__ == "__main__":
    run_main(main)
