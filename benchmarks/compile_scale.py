"""Compile time as the graph grows: cgraph side by side with JAX (trace + XLA compile).

Run: `python -m benchmarks.compile_scale [--quick]`. Every figure is a fresh Python
process timing only the compile (imports excluded):

- the residual chain `y = tanh(dot(W, y)) + y` of N layers, cost `sum(y**2)`, its
  gradient and an SGD update of W (4x4): building the gradient's graph (`grad`, in
  the warm process), cold (empty cache: `grad` then `function()`, as JAX's trace
  takes the gradient; in wall time and in CPU time, the compiler's processes
  included, which a loaded machine stretches less) and warm (cached, new process:
  `function()` alone, in wall and CPU time, then its first call, whose plan the
  record keeps, then the rewritten graph, which a warm start rebuilds from the
  record on first use: a call of a new shape, an error naming a node or `c_source`
  need it) for N = 50, 100, 200, 400; JAX's `jit(...).lower(...).compile()` of the
  same step when JAX is installed, and the machine's load (1-minute average) when
  the row started: compiles of both share the machine with whatever else runs.
  Each size runs `--rounds` turns (3) of cgraph cold, warm and JAX; each column is
  the median of its turns;
- the training step of a 30-layer and a 2-layer tanh MLP (32 wide): cold time and the
  size of the generated C;
- the rewrite passes alone on a 2,000-node graph (a 400-layer elementwise chain with
  its gradient);
- a 250-layer elementwise chain with its gradient (5,500 nodes, elementwise ops only):
  cold time (wall and the compiler's CPU), fused loops and C size: fusion's loops are
  at most 64 ops (`MAX_FUSED_OPS`; unbounded, gcc took minutes on loops of thousands);
- a learning-rate change (0.1 -> 0.05) in a new process: compiles (0 is a cache hit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from benchmarks.results import run_main

CHAIN = """
import json, os, sys, time
import numpy as np
import cgraph, cgraph.tensor as T
from cgraph import backend
n, lr = int(sys.argv[1]), float(sys.argv[2])
x = T.dvector("x")
w = cgraph.shared(np.eye(4) * 0.5, name="W")
y = x
for _ in range(n):
    y = T.tanh(T.dot(w, y)) + y
cost = T.sum(y ** 2)
t0, c0 = time.perf_counter(), os.times()
update = w - lr * cgraph.grad(cost, w)
t, cpu = time.perf_counter(), time.process_time()
f = cgraph.function([x], cost, updates=[(w, update)])
seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
c1 = os.times()  # the compiler's processes included, grad included
cpu_all = sum(getattr(c1, k) - getattr(c0, k)
              for k in ("user", "system", "children_user", "children_system"))
t1 = time.perf_counter()
f(np.ones(4))
t2 = time.perf_counter()
f.fgraph  # a warm start rebuilds the rewritten graph from its record on first use
print(json.dumps({"seconds": seconds, "cpu": cpu, "cpu_all": cpu_all, "grad": t - t0,
                  "first_call": t2 - t1,
                  "graph": time.perf_counter() - t2,
                  "compiles": backend.stats.compiles, "c_bytes": len(f.c_source)}))
"""

JAX_CHAIN = """
import json, sys, time
import jax, jax.numpy as jnp
n = int(sys.argv[1])
def cost(w, x):
    y = x
    for _ in range(n):
        y = jnp.tanh(w @ y) + y
    return jnp.sum(y ** 2)
def step(w, x):
    c, g = jax.value_and_grad(cost)(w, x)
    return c, w - 0.1 * g
w, x = jnp.eye(4) * 0.5, jnp.ones(4)
t = time.perf_counter()
jax.jit(step).lower(w, x).compile()
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

MLP = """
import json, sys, time
import numpy as np
import cgraph, cgraph.tensor as T
layers = int(sys.argv[1])
rng = np.random.default_rng(0)
x, y = T.dmatrix("x"), T.dmatrix("y")
params = [cgraph.shared(rng.standard_normal((32, 32)) * 0.2) for _ in range(layers)]
params += [cgraph.shared(np.zeros(32)) for _ in range(layers)]
h = x
for w, b in zip(params[:layers], params[layers:]):
    h = T.tanh(T.dot(h, w) + b)
loss = T.mean((h - y) ** 2)
grads = cgraph.grad(loss, params)
t = time.perf_counter()
f = cgraph.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
print(json.dumps({"seconds": time.perf_counter() - t, "c_bytes": len(f.c_source),
                  "kernels": len(f._lowered.program.steps)}))
"""

REWRITE = """
import json, time
import cgraph, cgraph.tensor as T
from cgraph.graph.fg import FunctionGraph
from cgraph.rewrite.pipeline import PASSES
x = T.dvector("x")
y = x
for _ in range(400):
    y = T.exp(y) + x
cost = T.sum(y ** 2)
fgraph = FunctionGraph([x], [cost, cgraph.grad(cost, x)])
before = len(fgraph.toposort())
t = time.perf_counter()
for _, run in PASSES:
    run(fgraph)
print(json.dumps({"seconds": time.perf_counter() - t, "before": before,
                  "after": len(fgraph.toposort())}))
"""


ELEMENTWISE = """
import json, os, sys, time
import numpy as np
import cgraph, cgraph.tensor as T
from cgraph.graph.basic import toposort
n = int(sys.argv[1])
x = T.dvector("x")
y = x
for _ in range(n):
    y = T.exp(-abs(y)) * 0.5 + T.sin(y) - x * 0.25
cost = T.sum(y ** 2)
outputs = [cost, cgraph.grad(cost, x)]
t, c0 = time.perf_counter(), os.times()
f = cgraph.function([x], outputs)
seconds, c1 = time.perf_counter() - t, os.times()
print(json.dumps({"seconds": seconds, "nodes": len(toposort(outputs)),
                  "cc_cpu": c1.children_user + c1.children_system
                  - c0.children_user - c0.children_system,
                  "loops": len(f._lowered.program.steps), "c_bytes": len(f.c_source)}))
"""


def child(script: str, *args: object, cache: str) -> dict:
    env = dict(os.environ, CGRAPH_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def jax_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import jax"], capture_output=True)
    return probe.returncode == 0


def _median_run(runs: list[dict]) -> dict:
    """Each field's median over the runs (runs of one size, in turns with JAX)."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def chain_rows(sizes: list[int], with_jax: bool, rounds: int) -> list[str]:
    """The table's rows: per size, `rounds` turns of cgraph cold, cgraph warm and JAX,
    each in a new process, and each column's median (one sample moved the N = 50
    ratio by 0.2 between runs: JAX's own time there ranged 0.59-0.91 s)."""
    rows = ["| N | grad (s) | cgraph cold (s) | cold CPU (s) | warm (s) | warm CPU (s) "
            "| warm 1st call (s) | warm graph (s) | C (kB) | JAX jit (s) | cold / JAX | load |",
            "|---:" * 12 + "|"]
    for n in sizes:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        colds, warms, jaxes = [], [], []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as cache:
                colds.append(child(CHAIN, n, 0.1, cache=cache))
                warms.append(child(CHAIN, n, 0.1, cache=cache))
            if with_jax:
                jaxes.append(child(JAX_CHAIN, n, cache="")["seconds"])
        for run in colds:  # cold is the gradient's construction too, as JAX's trace
            run["cold"] = run["grad"] + run["seconds"]
        cold, warm = _median_run(colds), _median_run(warms)
        jax = statistics.median(jaxes) if jaxes else None
        ratio = f"{cold['cold'] / jax:.2f}x" if jax else "-"
        rows.append(f"| {n} | {warm['grad']:.3f} | {cold['cold']:.2f} | {cold['cpu_all']:.2f} | "
                    f"{warm['seconds']:.3f} | "
                    f"{warm['cpu']:.3f} | {warm['first_call']:.3f} | {warm['graph']:.3f} | "
                    f"{cold['c_bytes'] / 1e3:.0f} | {f'{jax:.2f}' if jax else '-'} | {ratio} | "
                    f"{load:.1f} |")
        print(rows[-1], file=sys.stderr, flush=True)  # progress; the table is printed whole
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, cgraph only")
    parser.add_argument("--rounds", type=int, default=3,
                        help="turns of each residual-chain measurement (medians)")
    args = parser.parse_args(argv)
    with_jax = not args.quick and jax_available()
    if not args.quick and not with_jax:
        print("(jax not installed: skipped; `pip install -e .[bench]` to compare)")
    sizes = [10, 25] if args.quick else [50, 100, 200, 400]
    print("### Residual chain: compile of the training step (new process)\n")
    rows = chain_rows(sizes, with_jax, 1 if args.quick else args.rounds)
    if not args.quick:  # the larger point: one turn, cgraph alone
        rows += chain_rows([1000], False, 1)[2:]
    print("\n".join(["", *rows, ""]))

    print("### MLP training step, 32 wide\n")
    print("| layers | cold (s) | C (kB) | kernels |\n|---:|---:|---:|---:|")
    for layers in ([2, 4] if args.quick else [2, 30]):
        with tempfile.TemporaryDirectory() as cache:
            r = child(MLP, layers, cache=cache)
        print(f"| {layers} | {r['seconds']:.2f} | {r['c_bytes'] / 1e3:.0f} | {r['kernels']} |")

    with tempfile.TemporaryDirectory() as cache:
        r = child(REWRITE, cache=cache)
    print(f"\n### Rewrites alone: {r['before']} nodes -> {r['after']} in {r['seconds']:.2f} s")

    layers = 50 if args.quick else 250
    with tempfile.TemporaryDirectory() as cache:
        r = child(ELEMENTWISE, layers, cache=cache)
    print(f"\n### Elementwise chain with its gradient, {layers} layers ({r['nodes']:,} nodes): "
          f"cold {r['seconds']:.2f} s (compiler CPU {r['cc_cpu']:.2f} s), {r['loops']} steps, "
          f"{r['c_bytes'] / 1e3:.0f} kB of C")

    with tempfile.TemporaryDirectory() as cache:
        child(CHAIN, 10, 0.1, cache=cache)
        changed = child(CHAIN, 10, 0.05, cache=cache)
    print(f"\n### Learning rate 0.1 -> 0.05 in a new process: {changed['compiles']} compiles "
          f"(0: a cache hit), function() in {changed['seconds']:.3f} s")


if __name__ == "__main__":
    run_main(main)
