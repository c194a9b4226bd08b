"""Matrix products: cgraph's `A @ B` vs numpy's, n x n at n = 64, 256, 1024, float32/64.

Run: `python -m benchmarks.dot [--quick] [--threshold | --narrow | --tiles]`. Prints a
markdown table of the median time per call over interleaved rounds, as GFLOP/s (2 n^3
flops a product), the ratio cgraph / numpy (> 1: cgraph is faster), and the rate of
cgraph's C kernel alone (its profile timers; the rest of a call is the Python call
path). Each result is checked against numpy before timing. Both call OpenBLAS (cgraph:
scipy-openblas32; numpy: its own copy), each with its own thread pool (the header line
says how many threads); rounds are separated by a pause of SETTLE seconds, the time
numpy's idle OpenBLAS workers keep spinning. Two-thread products are sensitive to other
processes on the machine: a product whose second thread waits for a core takes scheduler
ticks (4 ms) instead of 0.2 ms, whichever library runs it.

`--threshold` times the tiny products that decide `BLAS_MIN_WORK`
(cgraph/tensor/blas_ops.py): the generated loop against a BLAS call, for gemm
(n x n x n), gemv ((n, n) x (n,), (n,) x (n, n)) and dot ((n,) x (n,)) shapes.
`--narrow` times the narrow path (at most 16 columns: a model's classification head)
against cgraph's BLAS gemm and numpy, to set `NARROW_N` and `NARROW_MIN_A`; `--tiles`
the tiles path (mid-size float products on AVX-512) likewise, to set `TILES_*`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.results import run_main
from cgraph.tensor import blas_ops

SIZES = (64, 256, 1024)
#: Seconds between the two libraries' rounds. Each OpenBLAS keeps its idle workers
#: spinning for a while after a product (numpy's: 2**28 cycles, about 0.1 s; cgraph sets
#: its own to 2**20 cycles, see cgraph/backend/build.py): without a pause, one library
#: would be timed while the other's workers still take a core.
SETTLE = 0.25
DTYPES = ("float32", "float64")
TOLERANCE = {"float32": 1e-4, "float64": 1e-11}


def _seconds(fn: Callable, args: tuple, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls


def interleaved(functions: dict[str, Callable], args: tuple, rounds: int, calls: int,
                settle: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each function, the functions alternating each round,
    with a pause of `settle` seconds (untimed) before each function's turn."""
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            time.sleep(settle)
            fn(*args)  # warm: caches, pages, the BLAS threads
            samples[name].append(_seconds(fn, args, calls))
    return {name: statistics.median(times) for name, times in samples.items()}


def blas_threads() -> str:
    """How many threads cgraph's OpenBLAS uses (numpy's sizes its pool the same way:
    one thread per CPU this process may use)."""
    import scipy_openblas32  # noqa: PLC0415  (only to find the library cgraph links)

    path = os.path.join(scipy_openblas32.get_lib_dir(),
                        f"lib{scipy_openblas32.get_library()}.so")
    threads = ctypes.CDLL(path).scipy_openblas_get_num_threads()
    return (f"scipy-openblas32 {scipy_openblas32.__version__}: {threads} threads; "
            f"{len(os.sched_getaffinity(0))} CPUs; numpy {np.__version__}")


def measure(dtype: str, n: int, rounds: int) -> tuple[float, float, float]:
    """(cgraph, numpy, cgraph's C kernel alone) seconds per n x n product.

    The kernel's time comes from a profiled twin of the function (its C timers), over
    all of its calls: the difference to the call's time is cgraph's Python call path.
    """
    A, B = T.matrix("A", dtype=dtype), T.matrix("B", dtype=dtype)
    f = cgraph.function([A, B], A @ B)
    profiled = cgraph.function([A, B], A @ B, profile=True)
    rng = np.random.default_rng(n)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    np.testing.assert_allclose(f(a, b), a @ b, rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype] * n)
    calls = max(2, int(4e7 / n**3))
    profiled.profile.reset()  # the module (and its timers) is shared by earlier sizes
    functions = {"cgraph": f, "numpy": np.matmul, "profiled": profiled}
    times = interleaved(functions, (a, b), rounds, calls, SETTLE)
    row = profiled.profile.rows()[0]
    return times["cgraph"], times["numpy"], row["seconds"] / row["calls"]


def _replan(f: cgraph.Function) -> None:
    """Forget `f`'s call plans (Python's and the C fast path's): the path of a product
    is chosen when a call shape is planned."""
    f._plans.clear()
    f.compiled.c_plans.clear()


#: Products chained in one compiled call by --threshold, so that the per-call cost of
#: Python is spread over many kernels.
CHAIN = 32


def threshold_table(rounds: int) -> None:
    """Loop vs BLAS for tiny products: microseconds per product, over CHAIN products
    chained in one call (the same module; only the planned path differs)."""
    print("| product | M*N*K | loop us | BLAS us | loop / BLAS |")
    print("| --- | ---: | ---: | ---: | ---: |")
    saved = blas_ops.BLAS_MIN_WORK
    A, X, v = T.dmatrix("A"), T.dmatrix("X"), T.dvector("v")
    cases = {"gemm": (X, lambda n: (n, n), lambda n: n**3),
             "gemv_a": (v, lambda n: (n,), lambda n: n * n),
             "gemv_b": (v, lambda n: (n,), lambda n: n * n),
             "dot": (v, lambda n: (n,), lambda n: n)}
    try:
        for label, (x, x_shape, work) in cases.items():
            out = x
            for _ in range(CHAIN):  # x <- A x or x A (scaled to stay finite), x.x * x
                if label == "dot":
                    out = T.dot(out, out) * out
                else:
                    out = (T.dot(out, A) if label == "gemv_b" else T.dot(A, out)) * 0.5
            f = cgraph.function([A, x], out, on_unused_input="ignore")
            f.trust_input = True
            sizes = (2, 3, 4, 5, 6, 8, 12, 16) if label != "dot" else (4, 8, 16, 32, 64, 256)
            for n in sizes:
                rng = np.random.default_rng(n)
                args = (rng.random((n, n)) / n, rng.random(x_shape(n)) / n)
                timed = {}
                for mode, min_work in (("loop", 2**62), ("blas", 0)):
                    blas_ops.BLAS_MIN_WORK = dict.fromkeys(saved, min_work)
                    _replan(f)
                    timed[mode] = interleaved({mode: f}, args, rounds, 500)[mode] / CHAIN
                print(f"| {label} n={n} | {work(n)} | {timed['loop'] * 1e6:.3f} | "
                      f"{timed['blas'] * 1e6:.3f} | {timed['loop'] / timed['blas']:.2f} |",
                      flush=True)
    finally:
        blas_ops.BLAS_MIN_WORK = saved


#: Narrow products (M, K, N, layout) of classic models: the logistic regression
#: tutorial's step (forward NN, weight gradient TN), an MLP's classification head
#: (batch 128, 256 hidden units, 10 classes: forward NN, weight gradient TN), then
#: bigger batches.
NARROW = ((600, 784, 10, "NN"), (784, 600, 10, "TN"), (128, 256, 10, "NN"),
          (256, 128, 10, "TN"), (128, 784, 10, "NN"), (784, 128, 10, "TN"),
          (6000, 784, 10, "NN"), (784, 6000, 10, "TN"), (60000, 784, 10, "NN"),
          (784, 60000, 10, "TN"))


def _narrow_case(m: int, k: int, n: int, layout: str, dtype: str) -> tuple:
    """A compiled a @ b (a: m x k, b: k x n, each the transposed view of a contiguous
    input where `layout` says T), its contiguous inputs and numpy's a @ b of them."""
    rng = np.random.default_rng(m * n + k)
    shapes = ((k, m) if layout[0] == "T" else (m, k)), ((n, k) if layout[1] == "T" else (k, n))
    args = tuple(rng.standard_normal(shape).astype(dtype) for shape in shapes)
    A, B = T.matrix("A", dtype=dtype), T.matrix("B", dtype=dtype)
    a, b = (x.T if t == "T" else x for x, t in zip((A, B), layout))
    f = cgraph.function([A, B], a @ b)
    f.trust_input = True
    views = [x.T if t == "T" else x for x, t in zip(args, layout)]
    return f, args, lambda x, y: np.dot(x.T if layout[0] == "T" else x,
                                        y.T if layout[1] == "T" else y), views


#: --tiles: the MLP's two big products (784-256 layer, batch 128: forward NN, weight
#: gradient TN), their transposes, the backward product through the layer (NT, which
#: keeps BLAS: b's rows are strided), square sizes and long or short K.
TILES = ((128, 784, 256, "NN"), (784, 128, 256, "TN"), (128, 256, 784, "NN"),
         (256, 128, 784, "TN"), (600, 784, 256, "NN"), (784, 600, 256, "TN"),
         (64, 256, 64, "NN"), (128, 128, 128, "NN"), (256, 256, 256, "NN"),
         (512, 512, 512, "NN"), (512, 512, 512, "TN"), (1000, 1000, 1000, "NN"),
         (32, 1024, 1024, "NN"), (2048, 64, 2048, "NN"), (4096, 16, 512, "NN"))

#: What --narrow and --tiles compare: the planner's knob that forces each path, its
#: value for the path and for BLAS, and the products timed.
PATHS = {"narrow": ("NARROW_MIN_A", 0, 2**62, NARROW),
         "tiles": ("TILES_MIN_WORK", 0, 2**62, TILES)}


def path_table(path: str, rounds: int, quick: bool) -> None:
    """A path of `blas_ops` (the narrow one: N <= 16; the tiles) against cgraph's BLAS
    gemm (each forced by the path's knob; BLAS threads chosen as for any product) and
    numpy's: GFLOP/s of whole calls, the path's ratio to each, and what the planner
    picks."""
    knob, on, off, cases = PATHS[path]
    print(f"| A @ B (M x K x N) | {path} GFLOP/s | cgraph BLAS GFLOP/s | numpy GFLOP/s | "
          f"{path} / BLAS | {path} / numpy | planned |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    saved = getattr(blas_ops, knob)
    try:
        for dtype in DTYPES:
            for m, k, n, layout in cases[:4] if quick else cases:
                f, args, numpy_dot, views = _narrow_case(m, k, n, layout, dtype)
                # 10 calls at least: the first calls after the pause wake the threads
                calls = max(10, int(2e7 / (m * n * k)))
                timed = {}
                for mode, least in ((path, on), ("blas", off)):
                    setattr(blas_ops, knob, least)
                    _replan(f)
                    np.testing.assert_allclose(f(*args), np.dot(*views), rtol=TOLERANCE[dtype],
                                               atol=TOLERANCE[dtype] * k)
                    timed[mode] = interleaved({mode: f}, args, rounds, calls, SETTLE)[mode]
                timed["numpy"] = interleaved({"numpy": numpy_dot}, args, rounds, calls,
                                             SETTLE)["numpy"]
                setattr(blas_ops, knob, saved)
                strides = (k, 1) if layout[0] == "N" else (1, m)
                b_strides = (n, 1) if layout[1] == "N" else (1, k)
                planned_path = blas_ops.product_params(m, n, k, (*strides, *b_strides), True,
                                                       dtype)[blas_ops.PRODUCT.slots().path]
                planned = {v: name for name, v in blas_ops.DOT_PATHS.items()}[planned_path]
                gflops = 2 * m * n * k / 1e9
                print(f"| {dtype} {m}x{k}x{n} {layout} | {gflops / timed[path]:.1f} | "
                      f"{gflops / timed['blas']:.1f} | {gflops / timed['numpy']:.1f} | "
                      f"{timed['blas'] / timed[path]:.2f}x | "
                      f"{timed['numpy'] / timed[path]:.2f}x | {planned} |", flush=True)
    finally:
        setattr(blas_ops, knob, saved)


def main(argv: list[str] | None = None) -> None:
    """Print the table (or, with --threshold, the loop-vs-BLAS table)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    parser.add_argument("--threshold", action="store_true",
                        help="time the generated loop against BLAS for tiny products")
    parser.add_argument("--narrow", action="store_true",
                        help="time the narrow path (N <= 16) against BLAS and numpy")
    parser.add_argument("--tiles", action="store_true",
                        help="time the tiles path (mid-size float products) against BLAS")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 21
    if args.threshold:
        threshold_table(rounds)
        return
    if args.narrow or args.tiles:
        print(blas_threads() + "\n")
        path_table("narrow" if args.narrow else "tiles", rounds, args.quick)
        return
    print(blas_threads() + "\n")
    print("| A @ B | cgraph GFLOP/s | numpy GFLOP/s | cgraph / numpy | cgraph C kernel "
          "GFLOP/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for dtype in DTYPES:
        for n in SIZES:
            ours, theirs, kernel = measure(dtype, n, rounds)
            gflops = 2 * n**3 / 1e9
            print(f"| {dtype} {n}x{n} | {gflops / ours:.1f} | {gflops / theirs:.1f} | "
                  f"{theirs / ours:.2f}x | {gflops / kernel:.1f} |", flush=True)


if __name__ == "__main__":
    run_main(main)
