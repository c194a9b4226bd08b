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


def median_round(history) -> tuple[float, float, int]:
    """(median wall seconds, median slowest-shard compute seconds, rows) per round,
    the first round left out."""
    kept = history[1:] or history
    return (statistics.median(r.seconds for r in kept),
            statistics.median(r.compute_seconds for r in kept), kept[0].examples)


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
    rows, rounds = (6_000, 3) if args.quick else (ROWS, 5)
    x, y = make_data(rows)
    step = cgraph_step("float32", "fast_run")[0]
    n_params = sum(s.get_value().size for s in step.signature.updates)
    epoch: dict[str, tuple[float, int]] = {}

    samples = []
    for _ in range(rounds):
        reset(step)
        start = time.perf_counter()
        step.loop(x, y, batch_size=BATCH)
        samples.append(time.perf_counter() - start)
    epoch["loop, one process"] = (statistics.median(samples[1:]), rows)
    reset(step)
    local = run_local(step, split(x, y, 2), rounds, batch_size=BATCH)
    epoch["run_local, 2 shards, one process"] = median_round(local.history)[::2]

    short: dict[str, tuple[float, int]] = {}
    overhead: dict[str, tuple[float, float, float]] = {}  # wall, compute, empty round
    k = max(1, round(0.05 / (epoch["loop, one process"][0] / (rows / BATCH))))
    for n in (1, 2):
        c, client = cluster(n)
        with c, client:
            reset(step)
            got = train(step, client, split(x, y, n), rounds, batch_size=BATCH)
            epoch[f"train, {n} worker(s), {n} shard(s)"] = median_round(got.history)[::2]
            if n == 2:
                same = all(np.array_equal(a, b) for a, b in zip(got.params, local.params))
                print(f"2 workers equal run_local with 2 shards bitwise: {same}")
            reset(step)
            got = train(step, client, split(x, y, n), 2 * rounds, batch_size=BATCH,
                        local_steps=k)
            short[f"train, {n} worker(s), {k} steps per shard"] = median_round(got.history)[::2]
            reset(step)
            got = train(step, client, split(x, y, n), 6 * rounds, batch_size=BATCH,
                        local_steps=1)
            wall, compute, _ = median_round(got.history)
            empty = []
            for _ in range(20):  # the scheduler alone: a round of tasks that do nothing
                start = time.perf_counter()
                client.gather([client.submit(int, i, pure=False) for i in range(n)])
                empty.append(time.perf_counter() - start)
            overhead[f"{n} worker(s)"] = (wall, compute, statistics.median(empty))

    base = epoch["loop, one process"][1] / epoch["loop, one process"][0]
    print(f"\nMLP {SIZES[0]}-{SIZES[1]}-{SIZES[2]} float32, batch {BATCH}, {rows} rows, "
          f"{n_params} parameters ({n_params * 4 / 1e3:.0f} kB); median of {rounds - 1} "
          "rounds\n")
    print("| one epoch per round | ms per round | rows per round | rows/s | vs loop |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, n_rows) in epoch.items():
        print(row(name, seconds, n_rows, base))
    print("\n| short rounds | ms per round | rows per round | rows/s | vs loop |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, n_rows) in short.items():
        print(row(name, seconds, n_rows, base))
    print("\n| per-round overhead (1 step per shard) | round ms | compute ms | overhead ms "
          "| of which scheduler (empty round) ms | transfer + pickling ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (wall, compute, empty) in overhead.items():
        print(f"| {name} | {wall * 1e3:.2f} | {compute * 1e3:.2f} | "
              f"{(wall - compute) * 1e3:.2f} | {empty * 1e3:.2f} | "
              f"{(wall - compute - empty) * 1e3:.2f} |")


if __name__ == "__main__":
    main()
