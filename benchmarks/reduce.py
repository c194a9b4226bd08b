"""Reductions: cgraph vs numpy for sum(x, axis=0), sum(x, axis=1), sum(x) and the fused
sum(exp(x)) of a 2000x2000 C-contiguous matrix (float64 and float32), and when
installed JAX (jax.jit) and PyTensor (mode C).

Run: `python -m benchmarks.reduce [--quick]`. Prints a markdown table of median times
per call (interleaved rounds) and each backend's time relative to cgraph's (> 1:
cgraph is faster). Each result is checked against numpy before timing. `--quick`:
cgraph and numpy, few rounds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved, optional
from benchmarks.results import run_main

#: case -> (the expression of a matrix, for cgraph, PyTensor and JAX alike; numpy's)
CASES: dict[str, tuple[Callable, Callable]] = {
    "sum(x, axis=0)": (lambda t, x: t.sum(x, axis=0), lambda x: np.sum(x, axis=0)),
    "sum(x, axis=1)": (lambda t, x: t.sum(x, axis=1), lambda x: np.sum(x, axis=1)),
    "sum(x)": (lambda t, x: t.sum(x), np.sum),
    "sum(exp(x))": (lambda t, x: t.sum(t.exp(x)), lambda x: np.sum(np.exp(x))),
}


def backends(case: str, dtype: str, quick: bool) -> dict[str, Callable]:
    """The functions of one matrix argument compared for one case."""
    expression, numpy_version = CASES[case]
    x = T.matrix(dtype=dtype)
    functions = {"cgraph": cgraph.function([x], expression(T, x)), "numpy": numpy_version}
    if (jax := optional("jax", quick)) is not None:
        jitted = jax.jit(lambda v: expression(jax.numpy, v))
        functions["jax.jit"] = lambda v: jitted(v).block_until_ready()
    if (pytensor := optional("pytensor", quick)) is not None:
        xp = pytensor.tensor.matrix(dtype=dtype)
        functions["pytensor C"] = pytensor.function([xp], expression(pytensor.tensor, xp),
                                                    mode="C")
    return functions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    args = parser.parse_args(argv)
    rounds, calls = (3, 2) if args.quick else (15, 10)
    n = 2000
    print(f"| {n}x{n} | backend | ms per call | ratio to cgraph |")
    print("| --- | --- | ---: | ---: |")
    for dtype in ("float64", "float32"):
        a = np.random.default_rng(0).random((n, n)).astype(dtype)
        tol = 1e-4 if dtype == "float32" else 1e-10
        for case in CASES:
            functions = backends(case, dtype, args.quick)
            want = CASES[case][1](a)
            for name, f in functions.items():
                np.testing.assert_allclose(np.asarray(f(a)), want, rtol=tol, err_msg=name)
            times = interleaved({k: (lambda f=f: f(a)) for k, f in functions.items()},
                                rounds, calls)
            for name, seconds in times.items():
                print(f"| {dtype} {case} | {name} | {seconds * 1e3:.3f} | "
                      f"{seconds / times['cgraph']:.2f}x |", flush=True)


if __name__ == "__main__":
    run_main(main)
