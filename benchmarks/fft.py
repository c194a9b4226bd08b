"""Real Fourier transforms: cgraph.tensor.fft's rfft and irfft vs numpy.fft (rfftn and
irfftn over the axes after the first), and when installed JAX (jax.jit of jnp.fft) and
PyTensor (its default mode: its fft ops have no C code and run numpy.fft), float64, for
power-of-two, 5-smooth, prime (Bluestein) and 2-D transforms.

Run: `python -m benchmarks.fft [--quick]`. Prints a markdown table of median times per
call (interleaved rounds) and each backend's time relative to cgraph's (> 1: cgraph is
faster). Each result is checked against numpy before timing. `--quick`: cgraph and
numpy, few rounds.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable

import numpy as np

import cgraph
import cgraph.tensor as T
from benchmarks.common import interleaved, optional
from benchmarks.results import run_main
from cgraph.tensor import fft

#: label -> the real input's shape (the first axis is the batch)
SHAPES = {"64 x 1024": (64, 1024), "64 x 1000": (64, 1000), "64 x 1009": (64, 1009),
          "4 x 65536": (4, 65536), "8 x 128 x 128": (8, 128, 128)}


def _numpy(inverse: bool, shape: tuple) -> Callable:
    axes = tuple(range(1, len(shape)))
    if not inverse:
        def forward(x):
            y = np.fft.rfftn(x, axes=axes)
            return np.stack([y.real, y.imag], -1)
        return forward
    return lambda c: np.fft.irfftn(c[..., 0] + 1j * c[..., 1], s=shape[1:], axes=axes)


def backends(inverse: bool, shape: tuple, quick: bool) -> dict[str, Callable]:
    """The functions of one array compared for one transform and shape."""
    odd = bool(shape[-1] % 2)
    x = T.tensor("float64", (None,) * (len(shape) + inverse))
    out = fft.irfft(x, is_odd=odd) if inverse else fft.rfft(x)
    functions = {"cgraph": cgraph.function([x], out), "numpy": _numpy(inverse, shape)}
    if (jax := optional("jax", quick)) is not None:
        jnp, axes = jax.numpy, tuple(range(1, len(shape)))
        if inverse:
            jitted = jax.jit(lambda c: jnp.fft.irfftn(c[..., 0] + 1j * c[..., 1],
                                                      s=shape[1:], axes=axes))
        else:
            jitted = jax.jit(lambda v: (lambda y: jnp.stack([y.real, y.imag], -1))(
                jnp.fft.rfftn(v, axes=axes)))
        functions["jax.jit"] = lambda v: jitted(v).block_until_ready()
    if (pytensor := optional("pytensor", quick)) is not None:
        from pytensor.tensor import fft as pfft  # noqa: PLC0415 (optional backend)

        xp = pytensor.tensor.tensor(dtype="float64", shape=(None,) * (len(shape) + inverse))
        outp = pfft.irfft(xp, is_odd=odd) if inverse else pfft.rfft(xp)
        with warnings.catch_warnings():  # its default linker says it runs them in Python
            warnings.simplefilter("ignore")
            functions["pytensor"] = pytensor.function([xp], outp)
    return functions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    args = parser.parse_args(argv)
    rounds, calls = (3, 2) if args.quick else (15, 10)
    rng = np.random.default_rng(0)
    print("| transform | backend | ms per call | ratio to cgraph |")
    print("| --- | --- | ---: | ---: |")
    for label, shape in SHAPES.items():
        x = rng.normal(size=shape)
        spectrum = _numpy(False, shape)(x)
        for inverse, arg in ((False, x), (True, spectrum)):
            functions = backends(inverse, shape, args.quick)
            want = functions["numpy"](arg)
            for name, f in functions.items():
                np.testing.assert_allclose(np.asarray(f(arg)), want, rtol=0,
                                           atol=1e-9 * np.abs(want).max(), err_msg=name)
            times = interleaved({k: (lambda f=f: f(arg)) for k, f in functions.items()},
                                rounds, calls)
            what = f"{'irfft' if inverse else 'rfft'} {label}"
            for name, seconds in times.items():
                print(f"| {what} | {name} | {seconds * 1e3:.3f} | "
                      f"{seconds / times['cgraph']:.2f}x |", flush=True)


if __name__ == "__main__":
    run_main(main)
