"""Loops written with scan: a fixed-shape RNN step, the XOR tutorial's training step
(forward, gradient and update) over 1,000 samples (also against JAX's lax.scan of the
same step, when JAX is installed and not --quick), a moving window, and prefix and
suffix slices whose length changes every step (a plan per step in C; or, with the
bound a state, plans asked of Python while the loop runs), against the same loop in
numpy.

Run: `python -m benchmarks.scan [--quick]`. Prints markdown tables of median times
per call (interleaved rounds), each result checked against numpy first, the number
of kernels of each loop's step (the step is rewritten like a function's graph:
`cgraph.scan.rewrite`) and the time of the first call (which plans every step).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved, optional, table
from benchmarks.results import run_main
from benchmarks.xor import INPUTS, TARGETS, initial_weights, jax_scan
from cgraph.scan import scan
from cgraph.scan.op import Scan

STEPS = 1000


def rnn(mode: str = "C"):
    w = cgraph.shared(np.eye(8) * 0.5, name="W")
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    out, _ = scan(lambda r, h: T.tanh(T.dot(w, h) + r), sequences=x, outputs_info=h0)
    f = cgraph.function([x, h0], out[-1], mode=mode)
    xs = np.random.default_rng(0).standard_normal((STEPS, 8))

    def numpy_loop():
        h = np.zeros(8)
        for r in xs:
            h = np.tanh(w.get_value(borrow=True) @ h + r)
        return h

    return (lambda: f(xs, np.zeros(8))), numpy_loop, f


def xor(mode: str = "C"):
    """The XOR tutorial's training step (benchmarks.xor) as a scan over the samples,
    the weights its states: the step's forward pass, gradient and update."""
    x, y = T.dmatrix("x"), T.dvector("y")
    t1, t2 = initial_weights()
    one = np.array([1.0])

    def step(sample, target, w1, w2):
        def layer(a, w):
            return T.nnet.sigmoid(T.dot(w.T, T.concatenate([a, one])))

        cost = (T.sum(layer(layer(sample, w1), w2)) - target) ** 2
        g1, g2 = cgraph.grad(cost, [w1, w2])
        return [w1 - 0.1 * g1, w2 - 0.1 * g2]

    (w1s, w2s), _ = scan(step, sequences=[x, y], outputs_info=[T.constant(t1),
                                                               T.constant(t2)])
    f = cgraph.function([x, y], [w1s[-1], w2s[-1]], mode=mode)
    xs = np.tile(INPUTS, (STEPS // len(INPUTS), 1)).astype(float)
    ys = np.tile(TARGETS, STEPS // len(TARGETS)).astype(float)

    def numpy_loop():
        w1, w2 = t1.copy(), t2.copy()
        for a, target in zip(xs, ys):
            a0 = np.concatenate([a, one])
            h = 1.0 / (1.0 + np.exp(-(w1.T @ a0)))
            a1 = np.concatenate([h, one])
            o = 1.0 / (1.0 + np.exp(-(w2.T @ a1)))
            d_o = 2.0 * (o.sum() - target) * o * (1.0 - o)
            d_h = (w2[:3] @ d_o) * h * (1.0 - h)
            w1, w2 = w1 - 0.1 * np.outer(a0, d_h), w2 - 0.1 * np.outer(a1, d_o)
        return [w1, w2]

    return (lambda: f(xs, ys)), numpy_loop, f


def step_kernels(f) -> list[int]:
    """The number of kernels of the step of each scan of `f`."""
    return [len(node.op.lowered.kernels) for node in f._lowered.nodes
            if isinstance(node.op, Scan)]


def window(mode: str = "C"):
    v, n = T.dvector("v"), T.lscalar("n")
    out, _ = scan(lambda t, v: v[t:t + 3].sum() * v[2:5].sum(), sequences=T.arange(n),
                  non_sequences=v)
    f = cgraph.function([v, n], out, mode=mode)
    data = np.arange(STEPS + 3.0)
    return (lambda: f(data, STEPS)), (
        lambda: np.array([data[t:t + 3].sum() * data[2:5].sum() for t in range(STEPS)])), f


def prefix(mode: str = "C"):
    v, n = T.dvector("v"), T.lscalar("n")
    out, _ = scan(lambda t, v: v[:t].sum() * v[t:].sum(), sequences=T.arange(n),
                  non_sequences=v)
    f = cgraph.function([v, n], out, mode=mode)
    data = np.arange(float(STEPS))
    return (lambda: f(data, STEPS)), (
        lambda: np.array([data[:t].sum() * data[t:].sum() for t in range(STEPS)])), f


def state_prefix(mode: str = "C"):
    """The prefix loop with its bound k a state the step returns: the loop asks
    Python for a step's plan whenever k changes (here at every step)."""
    v, k0 = T.dvector("v"), T.lscalar("k0")
    (_, out), _ = scan(lambda k, v: [k + 1, v[:k].sum() * v[k:].sum()],
                       outputs_info=[k0, None], non_sequences=v, n_steps=STEPS)
    f = cgraph.function([v, k0], out, mode=mode)
    data = np.arange(float(STEPS))
    return (lambda: f(data, 0)), (
        lambda: np.array([data[:t].sum() * data[t:].sum() for t in range(STEPS)])), f


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds, calls = (3, 5) if args.quick else (7, 20)
    for label, make in [("RNN step, fixed shapes", rnn),
                        ("XOR training step (forward, gradient, update)", xor),
                        ("moving window v[t:t+3]", window),
                        ("v[:t].sum() * v[t:].sum(), a plan per step", prefix),
                        ("v[:k].sum() * v[k:].sum(), k a state (plans from Python)",
                         state_prefix)]:
        c_call, numpy_loop, f = make("C")
        started = time.perf_counter()
        got = c_call()
        first = time.perf_counter() - started
        want = numpy_loop()
        for a, b in zip(got, want) if isinstance(got, list) else [(got, want)]:
            np.testing.assert_allclose(a, b, rtol=1e-12)
        others = {}
        if make is xor and (jax := optional("jax", args.quick)) is not None:
            jax_loop = jax_scan(jax)  # the same loop (benchmarks.xor), compiled first
            jax_loop(STEPS // len(INPUTS))
            others["jax.lax.scan (jit)"] = lambda: jax_loop(STEPS // len(INPUTS))
        # XLA's threads spin after a call: a pause before each turn (common.interleaved)
        times = interleaved({"cgraph": c_call, **others, "numpy loop": numpy_loop},
                            rounds, calls, settle=0.2 if others else 0.0)
        print(table(f"{label}, {STEPS} steps", "ms per call", times, 1e3))
        print(f"\n(kernels of the step: {', '.join(map(str, step_kernels(f)))}; first call "
              f"in C, with its plan: {first * 1e3:.1f} ms)\n")


if __name__ == "__main__":
    run_main(main)
