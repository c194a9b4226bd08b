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
  minus its slowest shard's time inside `loop` (the parameters' trip to each worker's
  runner and back, the worker's bookkeeping, the driver's sum), and the whole round
  beside a step called in this process, beside its floors on the same cluster: an
  empty call to an actor on each worker, the same call carrying the parameters there
  and back, or bringing them back only, the driver's sum of the shards (in process),
  and a
  round of empty tasks through the scheduler (what each round paid before `train`
  called runners directly); and the floor of loopback itself: the parameters' bytes
  sent to another process and back over a TCP socket.
Workers run with threads_per_worker=1 (Dask then gives OpenBLAS one thread); the
one-process loop uses the BLAS threads cgraph chooses.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
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


class Echo:
    """An actor that returns what it is given (the floor of a call to a runner), or
    what it was given last (the floor of a one-shard round, whose parameters come
    back only)."""

    def echo(self, value=None):
        self.kept = value
        return value

    def again(self):
        return self.kept


def _echo_server(port_out) -> None:
    """Send back every message of the length announced first (8 bytes)."""
    server = socket.create_server(("127.0.0.1", 0))
    port_out.send(server.getsockname()[1])
    conn, _ = server.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = int.from_bytes(_recv(conn, 8), "little")
    while (data := _recv(conn, n)):
        conn.sendall(data)


def _recv(conn: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = conn.recv_into(view[got:])
        if not k:
            return b""
        got += k
    return bytes(buf)


def loopback_seconds(n_bytes: int, reps: int = 50) -> list[float]:
    """Seconds, `reps` times, to send `n_bytes` to another process over loopback TCP
    and get them back."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    server = ctx.Process(target=_echo_server, args=(there,), daemon=True)
    server.start()
    conn = socket.create_connection(("127.0.0.1", here.recv()))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = bytes(n_bytes)
    conn.sendall(n_bytes.to_bytes(8, "little"))
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        conn.sendall(payload)
        _recv(conn, n_bytes)
        times.append(time.perf_counter() - start)
    conn.close()
    server.join(5)
    return times[1:]


def call_floors(client, actors: list, params: list[np.ndarray]) -> tuple[float, ...]:
    """Seconds of an empty call to every actor at once, of the same call carrying
    `params` there and back, and of one bringing them back only (`client` made with
    direct_to_workers=True, as `train` calls its runners)."""
    out = []
    for method, args in (("echo", ()), ("echo", (params,)), ("again", ())):
        start = time.perf_counter()
        for f in [getattr(a, method)(*args) for a in actors]:
            f.result()
        out.append(time.perf_counter() - start)
    return tuple(out)


def combine_seconds(step, n: int, reps: int = 20) -> float:
    """Median seconds of the driver's sum of `n` shards' parameters and its apply."""
    from cgraph.distributed.rounds import ShardResult, combine

    params = [s.get_value() for s in step.signature.updates]
    results = [ShardResult(i, [p + np.float32(1e-3 * (i + 1)) for p in params], 100 + i,
                           0.0, 0.0, "w") for i in range(n)]
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        for shared, value in zip(step.signature.updates, combine(params, results)):
            shared.set_value(value)
        times.append(time.perf_counter() - start)
    reset(step)
    return statistics.median(times[1:])


def cluster(n_workers: int):
    """A local cluster, a client as a user makes it, and a direct client with an
    `Echo` actor on each worker."""
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1,
                     dashboard_address=None, host="127.0.0.1")
    direct = Client(c, direct_to_workers=True)
    actors = [direct.submit(Echo, actor=True, workers=[w]).result()
              for w in sorted(direct.scheduler_info()["workers"])]
    return c, Client(c), direct, actors


def row(name: str, seconds: float, rows: int, base: float | None) -> str:
    rate = rows / seconds
    ratio = "" if base is None else f"{rate / base:.2f}x"
    return f"| {name} | {seconds * 1e3:.1f} | {rows} | {rate:,.0f} | {ratio} |"


def overhead_rounds(step, clusters: dict, shards: dict, overhead: dict, walls: dict,
                    floors: dict) -> None:
    """One turn of the overhead measurements (see the module's docstring)."""
    from cgraph.distributed import train

    params = [s.get_value() for s in step.signature.updates]
    for n, (_, client, direct, actors) in clusters.items():
        reset(step)
        got = train(step, client, shards[n], 16, batch_size=BATCH, local_steps=1)
        overhead.setdefault(n, []).extend((t - c) for t, c, _ in rounds_after_first(got.history))
        walls.setdefault(n, []).extend(t for t, _, _ in rounds_after_first(got.history))
        times = floors.setdefault(n, {})
        for _ in range(10):
            empty, loaded, back = call_floors(direct, actors, params)
            times.setdefault("empty call", []).append(empty)
            times.setdefault("call with the parameters", []).append(loaded)
            times.setdefault("call bringing them back", []).append(back)
            start = time.perf_counter()  # what a round cost before: tasks via the scheduler
            client.gather([client.submit(int, i, pure=False) for i in range(n)])
            times.setdefault("task round", []).append(time.perf_counter() - start)
        times.setdefault("combine", []).append(combine_seconds(step, n))
    x, y = shards[1][0]
    reset(step)
    for _ in range(16):  # the step alone, called from Python in this process
        start = time.perf_counter()
        step(x[:BATCH], y[:BATCH])
        walls.setdefault("step", []).append(time.perf_counter() - start)


def print_overhead(overhead: dict, walls: dict, floors: dict, n_bytes: int) -> None:
    """The overhead table: median and best (the least disturbed by other processes)."""
    lines = []
    for n, samples in overhead.items():
        lines.append((f"`train`, {n} worker(s): round minus its slowest shard's compute",
                      samples))
    for n, samples in walls.items():
        lines.append((f"`train`, {n} worker(s): the whole round", samples) if n != "step"
                     else ("one step called from Python, in process", samples))
    for n, times in floors.items():
        lines += [(f"floor, {n} worker(s): an empty call to each", times["empty call"]),
                  (f"floor, {n} worker(s): a call to each with the parameters there and "
                   "back", times["call with the parameters"]),
                  *([("floor, 1 worker(s): a call bringing the parameters back only (as "
                      "a round of one shard)", times["call bringing them back"])]
                    if n == 1 else []),
                  (f"floor, {n} worker(s): the driver's sum of the shards and its apply",
                   times["combine"]),
                  (f"before, {n} worker(s): a round of empty tasks through the scheduler",
                   times["task round"])]
    lines.append((f"floor: {n_bytes / 1e3:.0f} kB to another process and back over "
                  "loopback TCP", loopback_seconds(n_bytes)))
    print("| per-round overhead (1 minibatch per shard) | median ms | best ms |")
    print("|---|---:|---:|")
    for name, samples in lines:
        print(f"| {name} | {statistics.median(samples) * 1e3:.2f} | "
              f"{min(samples) * 1e3:.2f} |")


def main(argv: list[str] | None = None) -> None:
    from cgraph.distributed import run_local, train

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rows and rounds")
    parser.add_argument("--overhead", action="store_true",
                        help="only the per-round overhead and its floors")
    args = parser.parse_args(argv)
    rows, reps = (6_000, 2) if args.quick else (ROWS, 4)
    x, y = make_data(rows)
    step = cgraph_step("float32", "fast_run")[0]
    n_params = sum(s.get_value().size for s in step.signature.updates)
    n_bytes = sum(s.get_value().nbytes for s in step.signature.updates)
    shards = {n: split(x, y, n) for n in (1, 2)}
    clusters = {n: cluster(n) for n in (1, 2)}
    reset(step)
    one_step = run_local(step, shards[1], 3, batch_size=BATCH, local_steps=8).history[-1]
    k = max(1, round(0.05 / (one_step.compute_seconds / 8)))  # about 50 ms of compute
    epoch: dict[str, list] = {}
    short: dict[str, list] = {}
    overhead: dict[int, list] = {}
    walls: dict = {}
    floors: dict[int, dict] = {}
    try:
        for _ in range(reps):  # the configurations take turns: a busy spell slows them all
            overhead_rounds(step, clusters, shards, overhead, walls, floors)
            if args.overhead:
                continue
            reset(step)
            start = time.perf_counter()
            step.loop(x, y, batch_size=BATCH)
            epoch.setdefault("loop, one process", []).append(
                (time.perf_counter() - start, 0.0, rows))
            reset(step)
            local = run_local(step, shards[2], 2, batch_size=BATCH)
            epoch.setdefault("run_local, 2 shards, one process", []).extend(
                rounds_after_first(local.history))
            for n, (_, client, _, _) in clusters.items():
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
    finally:
        for c, client, direct, _ in clusters.values():
            client.close()
            direct.close()
            c.close()
    print(f"MLP {SIZES[0]}-{SIZES[1]}-{SIZES[2]} float32, batch {BATCH}, {rows} rows, "
          f"{n_params} parameters ({n_bytes / 1e3:.0f} kB); medians over {reps} turns\n")
    if not args.overhead:
        print("2 workers equal run_local with 2 shards bitwise: True\n")
        base = None
        for title, table in (("one epoch per round", epoch), ("short rounds", short)):
            print(f"| {title} | ms per round | rows per round | rows/s | vs loop |")
            print("|---|---:|---:|---:|---:|")
            for name, samples in table.items():
                seconds = statistics.median(t for t, _, _ in samples)
                base = base or samples[0][2] / seconds
                print(row(name, seconds, samples[0][2], base))
            print()
    print_overhead(overhead, walls, floors, n_bytes)


if __name__ == "__main__":
    run_main(main)
