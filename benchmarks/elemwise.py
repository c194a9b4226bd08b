"""`exp(sin(x**2)) * y + z`: cgraph (with and without rewrites, with OpenMP threads)
vs numpy, and when installed PyTensor (modes C, CVM, default), JAX (jax.jit) and
numexpr; plus the memory-bandwidth floor, a streaming copy of the same bytes
(np.copyto of 2n elements: as many bytes read and written as reading x, y, z and
writing the result).

Run: `python -m benchmarks.elemwise [--quick] [--no-pytensor]`. For each size and
dtype, prints the median time per call (interleaved rounds) and the ratio to cgraph,
plus the number of C kernels the expression compiles to with and without rewrites.
Every backend's result is checked against numpy first. `--quick`: cgraph and numpy
at the two small sizes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from benchmarks.common import interleaved, optional, pytensor_modes
from benchmarks.results import run_main

SIZES = (1_000, 100_000, 10_000_000)
DTYPES = ("float64", "float32")


def numpy_version(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.exp(np.sin(x ** 2)) * y + z


def cgraph_version(dtype: str, optimizer: str, openmp: bool = False) -> tuple[Callable, int]:
    """The compiled expression and its number of C kernels."""
    import cgraph  # noqa: PLC0415
    import cgraph.tensor as T  # noqa: PLC0415

    x, y, z = (T.vector(name, dtype=dtype) for name in "xyz")
    with cgraph.config.change_flags(optimizer=optimizer, openmp=openmp):
        f = cgraph.function([x, y, z], T.exp(T.sin(x ** 2)) * y + z)
    f.trust_input = True
    return f, len(f._lowered.program.steps)


def pytensor_version(pytensor, dtype: str, mode: str | None) -> Callable:
    pt = pytensor.tensor
    x, y, z = (pt.vector(name, dtype=dtype) for name in "xyz")
    f = pytensor.function([x, y, z], pt.exp(pt.sin(x ** 2)) * y + z,
                          **({"mode": mode} if mode else {}))
    f.trust_input = True
    return f


def jax_version(jax) -> Callable:
    jnp = jax.numpy
    f = jax.jit(lambda x, y, z: jnp.exp(jnp.sin(x ** 2)) * y + z)
    return lambda x, y, z: f(x, y, z).block_until_ready()


def numexpr_version(numexpr) -> Callable:
    return lambda x, y, z: numexpr.evaluate("exp(sin(x**2)) * y + z")


def backends(dtype: str, args) -> tuple[dict[str, Callable], str]:
    """The functions compared for one dtype, and a note on kernel counts."""
    fused, n_fused = cgraph_version(dtype, "fast_run")
    plain, n_plain = cgraph_version(dtype, "None")
    functions: dict[str, Callable] = {"cgraph": fused}
    if not args.quick:
        functions["cgraph (openmp)"] = cgraph_version(dtype, "fast_run", openmp=True)[0]
    functions.update({"cgraph (no rewrites)": plain, "numpy": numpy_version})
    pytensor = None if args.no_pytensor else optional("pytensor", args.quick)
    for name, mode in pytensor_modes(pytensor).items():
        functions[name] = pytensor_version(pytensor, dtype, mode)
    if (jax := optional("jax", args.quick)) is not None:
        functions["jax.jit"] = jax_version(jax)
    if (numexpr := optional("numexpr", args.quick)) is not None:
        functions["numexpr"] = numexpr_version(numexpr)
    return functions, f"{dtype}: {n_fused} C kernel(s) with rewrites, {n_plain} without."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument("--no-pytensor", action="store_true", help="skip PyTensor")
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    rounds = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    print("| dtype | n | backend | time per call | ratio to cgraph |")
    print("|---|---|---|---:|---:|")
    notes = []
    for dtype in DTYPES:
        functions, note = backends(dtype, args)
        notes.append(note)
        for n in sizes:
            data = tuple(rng.standard_normal(n).astype(dtype) for _ in range(3))
            expected = numpy_version(*data)
            tol = 1e-5 if dtype == "float32" else 1e-12
            for name, f in functions.items():
                got = np.asarray(f(*data))
                np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=name)
            src, dst = np.empty(2 * n, dtype), np.empty(2 * n, dtype)
            src[:] = 1
            timed = {name: (lambda f=f: f(*data)) for name, f in functions.items()}
            timed["copy floor (np.copyto)"] = lambda: np.copyto(dst, src)
            calls = max(1, min(1000, 2_000_000 // n))
            times = interleaved(timed, rounds, calls)
            for name, seconds in times.items():
                print(f"| {dtype} | {n:.0e} | {name} | {seconds * 1e6:.1f} µs | "
                      f"{seconds / times['cgraph']:.2f}x |", flush=True)
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    run_main(main)
