"""BLAS threads on a free and on a busy machine: `config.blas_threads="auto"` (each size
class timed on one thread and on the library's threads) against the library's own
choice and against one thread always, side by side.

Run: `python -m benchmarks.blas_threads [--quick]`. Each workload is compiled three
times (one module per setting, each with its own timings), the three steps take turns
round by round, and the table gives the median time per step and its ratio to the
fastest setting. "busy" runs the same rounds while a spinning process holds one core,
as another user's job would. The target: auto within 10% of the best setting in both
conditions (the library's threads collapse when busy, one thread wastes a free core).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np

from benchmarks.common import interleaved
from benchmarks.results import run_main

SETTINGS = {"auto": {"blas_threads": "auto"},
            "library": {"blas_threads": "library"},
            "one thread": {"blas_one_thread_below": 2**62}}


def mlp_step(sizes: tuple[int, ...], batch: int, dtype: str, flags: dict
             ) -> Callable[[], object]:
    """A tanh MLP training step (squared error, SGD on every weight matrix)."""
    import cgraph
    import cgraph.tensor as T

    rng = np.random.default_rng(0)
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    weights = [cgraph.shared((rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype))
               for a, b in zip(sizes[:-1], sizes[1:])]
    h = x
    for w in weights:
        h = T.tanh(T.dot(h, w))
    loss = T.mean((h - y) ** 2)
    grads = cgraph.grad(loss, weights)
    with cgraph.config.change_flags(**flags):
        f = cgraph.function([x, y], loss,
                            updates=[(w, w - 0.01 * g) for w, g in zip(weights, grads)])
    xv = rng.standard_normal((batch, sizes[0])).astype(dtype)
    yv = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    return lambda: f(xv, yv)


WORKLOADS = {
    "MLP 784-256-10, batch 128, float32": ((784, 256, 10), 128, "float32"),
    "MLP 784-256-10, batch 128, float64": ((784, 256, 10), 128, "float64"),
    "MLP 6 layers of 64, batch 32, float64": ((64,) * 7, 32, "float64"),
    "MLP 3 layers of 512, batch 256, float32": ((512,) * 4, 256, "float32"),
}


@contextlib.contextmanager
def busy_core(busy: bool) -> Iterator[None]:
    """A process spinning on one core while the block runs (bounded to 10 minutes)."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c",
                                "import time\nend = time.time() + 600\n"
                                "while time.time() < end: pass"])
    time.sleep(0.5)
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def run(quick: bool) -> list[str]:
    rounds, budget = (5, 0.05) if quick else (15, 0.3)
    rows = ["| condition | workload | auto ms | library ms | one thread ms | auto / best |",
            "|---|---|---:|---:|---:|---:|"]
    workloads = list(WORKLOADS.items())[:1] if quick else list(WORKLOADS.items())
    for name, (sizes, batch, dtype) in workloads:
        steps = {s: mlp_step(sizes, batch, dtype, flags) for s, flags in SETTINGS.items()}
        for s in steps.values():  # compile, fault in, and let auto time both settings
            for _ in range(20):
                s()
        start = time.perf_counter()
        steps["auto"]()
        calls = max(1, int(budget / max(time.perf_counter() - start, 1e-6) / len(steps)))
        for condition in ("free", "busy"):
            with busy_core(condition == "busy"):
                t = interleaved(steps, rounds, calls)
            best = min(t.values())
            rows.append(f"| {condition} | {name} | {t['auto'] * 1e3:.3f} | "
                        f"{t['library'] * 1e3:.3f} | {t['one thread'] * 1e3:.3f} | "
                        f"{t['auto'] / best:.2f}x |")
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one workload, short rounds")
    args, _ = parser.parse_known_args(argv)
    rows = run(args.quick)
    print("\n### BLAS threads: median time per step\n")
    print("\n".join(rows))


if __name__ == "__main__":
    run_main(main)
