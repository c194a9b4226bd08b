"""`exp(sin(x**2)) * y + z`: cgraph (with and without rewrites) vs numpy (vs PyTensor).

Run: `python -m benchmarks.elemwise [--quick] [--no-pytensor]`. For each size and
dtype, prints the median time per call (interleaved rounds) and the ratio to cgraph,
plus the number of C kernels the expression compiles to with and without rewrites.
Every backend's result is checked against numpy first.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

SIZES = (1_000, 100_000, 10_000_000)
DTYPES = ("float64", "float32")


def numpy_version(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.exp(np.sin(x ** 2)) * y + z


def cgraph_version(dtype: str, optimizer: str) -> tuple[Callable, int]:
    """The compiled expression and its number of C kernels."""
    import cgraph
    import cgraph.tensor as T

    x, y, z = (T.vector(name, dtype=dtype) for name in "xyz")
    with cgraph.config.change_flags(optimizer=optimizer):
        f = cgraph.function([x, y, z], T.exp(T.sin(x ** 2)) * y + z)
    f.trust_input = True
    return f, len(f._lowered.program.steps)


def pytensor_version(dtype: str) -> Callable | None:
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    x, y, z = (pt.vector(name, dtype=dtype) for name in "xyz")
    f = pytensor.function([x, y, z], pt.exp(pt.sin(x ** 2)) * y + z)
    f.trust_input = True
    return f


def median_seconds(functions: dict[str, Callable], args: tuple, rounds: int) -> dict[str, float]:
    """Median seconds per call, the backends interleaved round by round."""
    n = len(args[0])
    calls = max(1, min(1000, 2_000_000 // n))
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, f in functions.items():
            t = time.perf_counter()
            for _ in range(calls):
                f(*args)
            samples[name].append((time.perf_counter() - t) / calls)
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument("--no-pytensor", action="store_true", help="skip PyTensor")
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    rounds = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    print("| dtype | n | backend | time per call | ratio to cgraph |")
    print("|---|---|---|---|---|")
    for dtype in DTYPES:
        fused, n_fused = cgraph_version(dtype, "fast_run")
        plain, n_plain = cgraph_version(dtype, "None")
        functions: dict[str, Callable] = {
            "cgraph": fused, "cgraph (no rewrites)": plain, "numpy": numpy_version}
        if not args.no_pytensor and (pt := pytensor_version(dtype)) is not None:
            functions["pytensor (C)"] = pt
        for n in sizes:
            data = tuple(rng.standard_normal(n).astype(dtype) for _ in range(3))
            expected = numpy_version(*data)
            tol = 1e-5 if dtype == "float32" else 1e-12
            for name, f in functions.items():
                np.testing.assert_allclose(f(*data), expected, rtol=tol, atol=tol, err_msg=name)
            times = median_seconds(functions, data, rounds)
            for name, seconds in times.items():
                print(f"| {dtype} | {n:.0e} | {name} | {seconds * 1e6:.1f} µs | "
                      f"{seconds / times['cgraph']:.2f}x |")
        print(f"\n{dtype}: {n_fused} C kernel(s) with rewrites, {n_plain} without.\n")


if __name__ == "__main__":
    main()
