"""The vector width gcc may use on an AVX-512 machine: each workload compiled twice in
one process, with the default flags (`-O3 -march=native`: 512-bit vectors where gcc's
tuning allows them) and with `-mprefer-vector-width=256` added, and the two timed in
turns (interleaved rounds, medians). Workloads: the fused elementwise expression
`exp(sin(x**2)) * y + z` (an L2-sized and a memory-sized array), a row softmax, three
reductions and a fused sum(exp) of a 2000x2000 matrix, the MLP training step
(benchmarks/mlp.py), the LeNet-5 training step (benchmarks/convnet.py) and 2x2 max
pooling (forward, and forward+gradient), in float32 and float64 where it applies.

Each pair's results are checked to agree before timing.

Run: `python -m benchmarks.vector_width [--quick]`. Prints a markdown table: ms per
call of each build and the ratio 256-bit / default (< 1: 256-bit vectors are faster).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import interleaved
from benchmarks.results import run_main

#: the two builds: name -> flags added to the default cflags
BUILDS = {"default": "", "256-bit": "-mprefer-vector-width=256"}


def workloads(quick: bool) -> dict[str, Callable[[], tuple[Callable, tuple]]]:
    """name -> a maker of (compiled function, its arguments) under the current flags."""
    import cgraph
    import cgraph.tensor as T
    from benchmarks import convnet, mlp
    from cgraph.tensor import nnet
    from cgraph.tensor.signal import pool

    rng = np.random.default_rng(1)
    cases: dict[str, Callable[[], tuple[Callable, tuple]]] = {}
    for dtype in ("float32", "float64"):
        for n in (100_000,) + (() if quick else (4_000_000,)):
            xyz = tuple(rng.standard_normal(n).astype(dtype) for _ in range(3))

            def elemwise(dtype=dtype, xyz=xyz):
                x, y, z = (T.vector(name, dtype=dtype) for name in "xyz")
                return cgraph.function([x, y, z], T.exp(T.sin(x ** 2)) * y + z), xyz
            cases[f"exp(sin(x**2))*y+z {dtype} n={n:,}"] = elemwise
        m = rng.standard_normal((2000, 2000)).astype(dtype)
        for label, expr in (("sum(x, axis=0)", lambda t: t.sum(axis=0)),
                            ("sum(x, axis=1)", lambda t: t.sum(axis=1)),
                            ("sum(exp(x))", lambda t: T.exp(t).sum()),
                            ("softmax rows", nnet.softmax)):
            def reduction(dtype=dtype, m=m, expr=expr):
                x = T.matrix("x", dtype=dtype)
                return cgraph.function([x], expr(x)), (m,)
            cases[f"{label} 2000x2000 {dtype}"] = reduction
        x_b = rng.standard_normal((mlp.BATCH, mlp.SIZES[0])).astype(dtype)
        y_b = np.eye(mlp.SIZES[2], dtype=dtype)[rng.integers(0, mlp.SIZES[2], mlp.BATCH)]
        cases[f"MLP step {dtype}"] = (
            lambda dtype=dtype, x=x_b, y=y_b: (mlp.cgraph_step(dtype, "fast_run")[0], (x, y)))
    cases["LeNet-5 step float32"] = lambda: (convnet.cgraph_lenet()[0], convnet.lenet_batch())
    shapes = [(64, 20, 24, 24)] + ([] if quick else [(32, 64, 56, 56)])
    for shape in shapes:
        img = rng.standard_normal(shape).astype("float32")
        size = "x".join(map(str, shape))

        def forward(img=img):
            v = T.tensor4("x", dtype="float32")
            return cgraph.function([v], pool.pool_2d(v, (2, 2))), (img,)

        def backward(img=img):
            v = T.tensor4("x", dtype="float32")
            y = pool.pool_2d(v, (2, 2))
            return cgraph.function([v], [y, cgraph.grad((y * y).sum(), v)]), (img,)
        cases[f"2x2 max pool {size} float32"] = forward
        cases[f"2x2 max pool + gradient {size} float32"] = backward
    return cases


def _same(a, b) -> None:
    for u, v in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)


def main(argv: list[str] | None = None) -> None:
    import cgraph

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 15
    base = cgraph.config.cflags
    print("| workload | default (ms) | 256-bit (ms) | 256-bit / default |")
    print("|---|---:|---:|---:|")
    for name, make in workloads(args.quick).items():
        built = {}
        for build, extra in BUILDS.items():
            with cgraph.config.change_flags(cflags=f"{base} {extra}"):
                built[build] = make()
        # steps with updates change their state: compare the first call of each
        _same(*(f(*a) for f, a in built.values()))
        f, a = built["default"]
        start = time.perf_counter()
        f(*a)
        calls = max(1, min(200, int(0.005 / max(time.perf_counter() - start, 1e-7))))
        # the steps call BLAS, whose threads spin on after a call: a pause before each turn
        times = interleaved({b: (lambda f=f, a=a: f(*a)) for b, (f, a) in built.items()},
                            rounds, calls, settle=0.1 if "step" in name else 0.0)
        print(f"| {name} | {times['default'] * 1e3:.4g} | {times['256-bit'] * 1e3:.4g} | "
              f"{times['256-bit'] / times['default']:.2f} |", flush=True)


if __name__ == "__main__":
    run_main(main)
