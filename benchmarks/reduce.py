"""Reductions: cgraph vs numpy for sum(x, axis=0), sum(x, axis=1) and sum(x) of a
2000x2000 C-contiguous matrix (float64 and float32).

Run: `python -m benchmarks.reduce [--quick]`. Prints a markdown table of median times
per call (interleaved rounds) and the ratio numpy / cgraph (> 1: cgraph is faster).
Each result is checked against numpy before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import cgraph
import cgraph.tensor as T

CASES = {"sum(x, axis=0)": 0, "sum(x, axis=1)": 1, "sum(x)": None}


def _median_ms(fn: Callable, arg: np.ndarray, rounds: int, calls: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        times.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(times)


def measure(dtype: str, n: int, rounds: int, calls: int) -> list[tuple[str, float, float]]:
    """(case, cgraph ms, numpy ms) for each sum, interleaved round by round."""
    x = T.matrix(dtype=dtype)
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    rows = []
    for case, axis in CASES.items():
        f = cgraph.function([x], T.sum(x, axis=axis))
        ref = np.sum(a, axis=axis)
        np.testing.assert_allclose(f(a), ref, rtol=1e-4 if dtype == "float32" else 1e-10)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(_median_ms(f, a, 1, calls))
            theirs.append(_median_ms(lambda v, ax=axis: np.sum(v, axis=ax), a, 1, calls))
        rows.append((case, statistics.median(ours), statistics.median(theirs)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    args = parser.parse_args(argv)
    rounds, calls = (3, 2) if args.quick else (15, 10)
    n = 2000
    print(f"| {n}x{n} | cgraph ms | numpy ms | numpy / cgraph |")
    print("| --- | ---: | ---: | ---: |")
    for dtype in ("float64", "float32"):
        for case, ours, theirs in measure(dtype, n, rounds, calls):
            print(f"| {dtype} {case} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
