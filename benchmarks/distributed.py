"""Data-parallel training on Dask (`cgraph.distributed.train`) against the same loop in
one process: the MLP training step of benchmarks/mlp.py (784-256-10, float32, batch
128, 203,530 parameters) over 60,000 synthetic rows.

Run: `python -m benchmarks.distributed [--quick]` (needs the `[dask]` extra). Prints:
- one epoch per round: `Function.loop` over all rows in this process; `run_local`
  with 2 shards (the 2-worker algorithm run shard after shard); `train` on 1 worker
  (1 shard) and on 2 workers (2 shards). Median seconds per round (the first round
  is left out), rows per second and the ratio to the one-process loop. The 2-worker
  result is checked bitwise against `run_local`'s.
- rounds of `local_steps` minibatches per shard (about 50 ms of compute), 1 vs 2
  workers;
- the per-round overhead: rounds of one minibatch per shard, the round's wall time
  minus its slowest shard's time inside `loop` (scheduler, pickling, the parameters'
  broadcast and their return), split into the scheduler's part (a round of tasks
  that do nothing) and the rest (transfer and pickling).
Workers run with threads_per_worker=1 (Dask then gives OpenBLAS one thread); the
one-process loop uses the BLAS threads cgraph chooses.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.mlp import BATCH, SIZES, cgraph_step, initial_params
from benchmarks.results import run_main

ROWS = 60_000


def make_data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((rows, SIZES[0]), dtype=np.float32)
    return x, np.eye(SIZES[2], dtype=np.float32)[rng.integers(0, SIZES[2], rows)]


def reset(step) -> None:
    for shared, value in zip(step.signature.updates, initial_params("float32")):
        shared.set_value(value)


def split(x: np.ndarray, y: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    edges = np.linspace(0, len(x), n + 1).astype(int)
    return [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]


def rounds_after_first(history) -> list[tuple[float, float, int]]:
    """(wall seconds, slowest shard's compute seconds, rows) of each round but the first
    (the workers' first `loop` on a new step plans it)."""
    return [(r.seconds, r.compute_seconds, r.examples) for r in history[1:]]


def cluster(n_workers: int):
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                     dashboard_address=None, host="127.0.0.1")
    return c, Client(c)


def row(name: str, seconds: float, rows: int, base: float | None) -> str:
    rate = rows / seconds
    ratio = "" if base is None else f"{rate / base:.2f}x"
    return f"| {name} | {seconds * 1e3:.1f} | {rows} | {rate:,.0f} | {ratio} |"


def main(argv: list[str] | None = None) -> None:
    from cgraph.distributed import run_local, train

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds")
    args = parser.parse_args(argv)
    rows, reps = (6_000, 2) if args.quick else (ROWS, 4)
    x, y = make_data(rows)
    step = cgraph_step("float32", "fast_run")[0]
    n_params = sum(s.get_value().size for s in step.signature.updates)
    shards = {n: split(x, y, n) for n in (1, 2)}
    clusters = {n: cluster(n) for n in (1, 2)}
    reset(step)
    one_step = run_local(step, shards[1], 3, batch_size=BATCH, local_steps=8).history[-1]
    k = max(1, round(0.05 / (one_step.compute_seconds / 8)))  # about 50 ms of compute
    epoch: dict[str, list] = {}
    short: dict[str, list] = {}
    overhead: dict[str, list] = {}
    empty: dict[str, list] = {}
    try:
        for _ in range(reps):  # the configurations take turns: a busy spell slows them all
            reset(step)
            start = time.perf_counter()
            step.loop(x, y, batch_size=BATCH)
            epoch.setdefault("loop, one process", []).append(
                (time.perf_counter() - start, 0.0, rows))
            reset(step)
            local = run_local(step, shards[2], 2, batch_size=BATCH)
            epoch.setdefault("run_local, 2 shards, one process", []).extend(
                rounds_after_first(local.history))
            for n, (_, client) in clusters.items():
                reset(step)
                got = train(step, client, shards[n], 2, batch_size=BATCH)
                epoch.setdefault(f"train, {n} worker(s), {n} shard(s)", []).extend(
                    rounds_after_first(got.history))
                if n == 2 and not all(np.array_equal(a, b)
                                      for a, b in zip(got.params, local.params)):
                    raise AssertionError("2 workers differ from run_local with 2 shards")
                reset(step)
                got = train(step, client, shards[n], 4, batch_size=BATCH, local_steps=k)
                short.setdefault(f"train, {n} worker(s), {k} steps per shard", []).extend(
                    rounds_after_first(got.history))
                reset(step)
                got = train(step, client, shards[n], 8, batch_size=BATCH, local_steps=1)
                overhead.setdefault(f"{n} worker(s)", []).extend(
                    rounds_after_first(got.history))
                for _ in range(5):  # the scheduler alone: a round of tasks that do nothing
                    start = time.perf_counter()
                    client.gather([client.submit(int, i, pure=False) for i in range(n)])
                    empty.setdefault(f"{n} worker(s)", []).append(time.perf_counter() - start)
    finally:
        for c, client in clusters.values():
            client.close()
            c.close()
    print("2 workers equal run_local with 2 shards bitwise: True")
    print(f"\nMLP {SIZES[0]}-{SIZES[1]}-{SIZES[2]} float32, batch {BATCH}, {rows} rows, "
          f"{n_params} parameters ({n_params * 4 / 1e3:.0f} kB); medians over {reps} turns\n")
    base = None
    for title, table in (("one epoch per round", epoch), ("short rounds", short)):
        print(f"| {title} | ms per round | rows per round | rows/s | vs loop |")
        print("|---|---:|---:|---:|---:|")
        for name, samples in table.items():
            seconds = statistics.median(t for t, _, _ in samples)
            base = base or samples[0][2] / seconds
            print(row(name, seconds, samples[0][2], base))
        print()
    print("| per-round overhead (1 step per shard) | round ms | compute ms | overhead ms "
          "| of which scheduler (empty round) ms | transfer + pickling ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, samples in overhead.items():
        wall = statistics.median(t for t, _, _ in samples)
        compute = statistics.median(c for _, c, _ in samples)
        sched = statistics.median(empty[name])
        print(f"| {name} | {wall * 1e3:.2f} | {compute * 1e3:.2f} | "
              f"{(wall - compute) * 1e3:.2f} | {sched * 1e3:.2f} | "
              f"{(wall - compute - sched) * 1e3:.2f} |")


if __name__ == "__main__":
    run_main(main)
