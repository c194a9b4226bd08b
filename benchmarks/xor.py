"""The tutorial's XOR step: cgraph vs a hand-written numpy step (vs PyTensor if installed).

Run: `python -m benchmarks.xor [--quick]`. Prints a markdown table of median times
per call (interleaved rounds) and of the 40,000-call training loop, with ratios to
cgraph. Each backend's result is checked against numpy before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

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


def tutorial_step(lib) -> tuple[Callable, Callable]:
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
        (theta2, theta2 - 0.1 * lib.grad(fc, wrt=theta2))])
    return cost, lambda: theta1.get_value()


def backends() -> dict[str, tuple[Callable, Callable]]:
    import cgraph

    found = {"cgraph": tutorial_step(cgraph), "numpy": numpy_step()}
    try:
        import pytensor
    except ImportError:
        print("(PyTensor not installed: skipped; `pip install pytensor` to compare)")
    else:
        with pytensor.config.change_flags(mode="FAST_RUN"):
            found["pytensor (C)"] = tutorial_step(pytensor)
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


def table(title: str, unit: str, values: dict[str, float]) -> str:
    base = values["cgraph"]
    lines = [f"### {title}", "", f"| backend | {unit} | ratio to cgraph |", "|---|---|---|"]
    for name, v in values.items():
        lines.append(f"| {name} | {v:.3g} | {v / base:.3g}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run (for CI)")
    args = parser.parse_args(argv)
    rounds, calls, epochs = (3, 200, 50) if args.quick else (15, 2000, 10000)
    found = backends()
    check(found)
    print(table("XOR cost call, float64 inputs", "µs/call (median)",
                per_call(found, rounds, calls, as_int=False)))
    print(table("XOR cost call, the tutorial's int inputs", "µs/call (median)",
                per_call(found, rounds, calls, as_int=True)))
    loops = loop(found, epochs)
    loops["cgraph Function.loop (in C)"] = loop_in_c(epochs)
    print(table(f"XOR training loop, {epochs * 4} calls", "seconds", loops))


if __name__ == "__main__":
    main()
