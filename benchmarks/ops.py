"""Everyday ops against numpy: a sweep for the cliffs a model meets one op at a time.

Each case is one op (or a short idiom: a channel's bias and tanh, a batch norm's
variance) on arrays of a small model's size, compiled alone and timed against the
same expression in numpy, float32 and float64. A ratio above about 1.5 is a cliff worth
a look (a loop that does not vectorize, an index computed per element); on 2026-12-06 it found
ten at 4-62x this way (reductions over (0, 2, 3), max over channels, reductions of
transposed or sliced views, argmax, clip, softplus, sort, a bias over short image rows)
and the table shows them fixed.

Run: `python -m benchmarks.ops [--quick] [--json PATH]`. Prints one markdown table:
median microseconds per call (cgraph and numpy take turns, round by round) and
cgraph's time over numpy's (< 1: cgraph is faster). Each result is checked against
numpy's first. `--quick`: float32 only, few rounds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved
from benchmarks.results import run_main
from cgraph.tensor import nnet

IMAGES = (64, 32, 14, 14)  # a convnet layer's activations (N, C, H, W)
ROWS = (512, 1000)  # a minibatch of a 1000-unit layer


def _softmax(a: np.ndarray) -> np.ndarray:
    z = np.exp(a - a.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _set_first_columns(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out[:, :10] = 0
    return out


#: name -> (input shapes, cgraph expression of the inputs, numpy expression)
CASES: dict[str, tuple[tuple, Callable, Callable]] = {
    "tanh(x + channel bias)": (
        (IMAGES, IMAGES[1:2]), lambda x, c: T.tanh(x + c.dimshuffle("x", 0, "x", "x")),
        lambda x, c: np.tanh(x + c[None, :, None, None])),
    "sum over (0, 2, 3)": (
        (IMAGES,), lambda x: x.sum(axis=[0, 2, 3]), lambda x: x.sum(axis=(0, 2, 3))),
    "batch-norm variance": (
        (IMAGES,), lambda x: T.sqr(x - x.mean(axis=[0, 2, 3], keepdims=True)).mean(
            axis=[0, 2, 3]), lambda x: x.var(axis=(0, 2, 3))),
    "max over channels": ((IMAGES,), lambda x: x.max(axis=1), lambda x: x.max(axis=1)),
    "sum of a (C, N, H, W) view": (
        (IMAGES,), lambda x: x.dimshuffle(1, 0, 2, 3).sum(axis=[1, 2, 3]),
        lambda x: x.transpose(1, 0, 2, 3).sum(axis=(1, 2, 3))),
    "transpose to NHWC": (
        (IMAGES,), lambda x: x.dimshuffle(0, 2, 3, 1) * 1,
        lambda x: np.ascontiguousarray(x.transpose(0, 2, 3, 1))),
    "relu(x + row bias)": (
        (ROWS, ROWS[1:]), lambda x, b: T.maximum(x + b, 0), lambda x, b: np.maximum(x + b, 0)),
    "softmax": ((ROWS,), nnet.softmax, _softmax),
    "log(sum(exp(x), 1))": (
        (ROWS,), lambda x: T.log(T.exp(x).sum(axis=1)), lambda x: np.log(np.exp(x).sum(1))),
    "sum over rows": ((ROWS,), lambda x: x.sum(axis=0), lambda x: x.sum(axis=0)),
    "x.T.sum(axis=1)": ((ROWS,), lambda x: x.T.sum(axis=1), lambda x: x.T.sum(axis=1)),
    "x[:, ::2].sum(axis=0)": (
        (ROWS,), lambda x: x[:, ::2].sum(axis=0), lambda x: x[:, ::2].sum(axis=0)),
    "argmax over a row": ((ROWS,), lambda x: T.argmax(x, axis=1), lambda x: x.argmax(1)),
    "argmin over a column": ((ROWS,), lambda x: T.argmin(x, axis=0), lambda x: x.argmin(0)),
    "clip": ((ROWS,), lambda x: T.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    "sigmoid": ((ROWS,), nnet.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": ((ROWS,), nnet.softplus,
                 lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))),
    "sort a row": ((ROWS,), lambda x: T.sort(x, axis=1), lambda x: np.sort(x, axis=1)),
    "cumsum over a row": ((ROWS,), lambda x: T.cumsum(x, axis=1), lambda x: np.cumsum(x, 1)),
    "x + y.T": (
        (ROWS, ROWS[::-1]), lambda x, y: x + y.T, lambda x, y: x + y.T),
    "concatenate": (
        (ROWS,), lambda x: T.concatenate([x, x], axis=1), lambda x: np.concatenate([x, x], 1)),
    "set_subtensor": (
        (ROWS,), lambda x: T.set_subtensor(x[:, :10], 0), _set_first_columns),
    "leaky relu (switch)": (
        (ROWS,), lambda x: T.switch(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, x, 0.01 * x)),
}


def case_functions(name: str, dtype: str) -> tuple[Callable, Callable, list[np.ndarray]]:
    """cgraph's compiled function, numpy's, and the arguments, for one case."""
    shapes, expression, numpy_version = CASES[name]
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    variables = [T.tensor(dtype=dtype, shape=(None,) * len(shape)) for shape in shapes]
    compiled = cgraph.function(variables, expression(*variables))
    return compiled, numpy_version, args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="float32, few rounds")
    args = parser.parse_args(argv)
    rounds, calls = (3, 2) if args.quick else (9, 10)
    print("| op | dtype | cgraph (µs) | numpy (µs) | cgraph / numpy |")
    print("| --- | --- | ---: | ---: | ---: |")
    for dtype in ("float32",) if args.quick else ("float32", "float64"):
        for name in CASES:
            compiled, numpy_version, values = case_functions(name, dtype)
            tol = 2e-4 if dtype == "float32" else 1e-10
            np.testing.assert_allclose(compiled(*values), numpy_version(*values), rtol=tol,
                                       atol=tol, err_msg=f"{name} {dtype}")
            times = interleaved({"cgraph": lambda: compiled(*values),
                                 "numpy": lambda: numpy_version(*values)}, rounds, calls)
            print(f"| {name} | {dtype} | {times['cgraph'] * 1e6:.1f} | "
                  f"{times['numpy'] * 1e6:.1f} | {times['cgraph'] / times['numpy']:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    run_main(main)
