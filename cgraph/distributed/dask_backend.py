"""`train`: the rounds of `cgraph.distributed` on a Dask cluster.

What travels, and when:
- the step, once per run: `client.scatter([step], broadcast=True)` pickles its graph,
  settings (with `config.cache_dir`) and shared values once and sends them to every
  worker, which rebuilds the module from the disk cache its machine shares (the driver
  compiled it: no compile on a worker of the same machine, one per other machine).
  No compiled module goes over the wire. A worker keeps the unpickled step for the run
  and sets its parameters at the start of each task.
- the shards, once per run: numpy shards go as the argument of a task pinned (softly)
  to worker i mod n; dask-array shards are computed from their graph on the workers.
  Both can be recomputed when their worker dies (the scheduler keeps the task).
- the round's parameters, once per round (broadcast), and each shard's parameters
  back to the driver. A worker killed before its copy of the round's parameters (or
  of the step) reached another worker loses that data for good; the scheduler then
  cancels the round's tasks and the round is sent again (it is a pure function of
  its inputs), up to three times; a broadcast that a killed receiver left waiting
  starts again after 30 s.

A shard's task is a pure function of (parameters, shard, round): when a worker dies,
Dask reruns its task elsewhere and the rerun returns the same bits; the driver applies
a round only once every shard is in, in shard order, so no update is lost or applied
twice.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from cgraph.distributed.driver import (
    RoundReport,
    TrainResult,
    check_step,
    drive,
    split_data,
)
from cgraph.distributed.rounds import Schedule, ShardResult, run_shard

__all__ = ["RoundTimeout", "train"]

# One lock per unpickled step on a worker: tasks of one worker share its step object.
_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _hold(*arrays: Any) -> tuple:
    """A shard as a task result on a worker (recomputable from its arguments)."""
    return tuple(np.asarray(a) for a in arrays)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def _shard_task(fn: Any, params: list[np.ndarray], shard: tuple, index: int, round: int,
                schedule: Schedule) -> ShardResult:
    """A shard's round on a worker (see `run_shard`)."""
    with _locks_guard:
        lock = _locks.setdefault(fn, threading.Lock())
    with lock:
        return run_shard(fn, params, shard, index, round, schedule, _worker_address())


#: Tries of a round whose scattered data (its parameters, the step) died with a worker
#: before another worker had its copy: the round is a pure function of its inputs, so
#: it is sent again.
_ROUND_ATTEMPTS = 3

#: Seconds a scatter to every worker may take before it starts again (milliseconds
#: are usual; a killed receiver made it wait forever).
_SCATTER_SECONDS = 30.0


def _lost_data(err: BaseException) -> bool:
    """Whether `err` is a task cancelled by the scheduler because data it needed was
    lost with a worker (not by the user or by `train` itself)."""
    try:
        from distributed.client import FutureCancelledError
    except ImportError:
        return False
    return isinstance(err, FutureCancelledError) and "lost" in str(err)


class RoundTimeout(TimeoutError):
    """A round of `train` took longer than its `round_timeout`."""


def _wait_round(r: int, tasks: list, seconds: float) -> None:
    """Wait for the round's shard tasks; RoundTimeout names those still running."""
    from distributed import wait

    try:
        wait(tasks, timeout=seconds)
    except (TimeoutError, asyncio.TimeoutError):
        pending = [i for i, t in enumerate(tasks) if not t.done()]
        kept = f"those of round {r - 1}" if r else "the initial ones"
        raise RoundTimeout(f"round {r}: shard(s) {pending} not finished after {seconds:g} s "
                           f"(round_timeout); the parameters stay {kept}") from None


def _client_class() -> type:
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("cgraph.distributed.train needs Dask distributed: "
                          'pip install "cgraph[dask]"') from None
    return Client


def train(step: Any, client: Any, data: Any, rounds: int, *, batch_size: int | None = None,
          local_steps: int | None = None, shuffle: int | None = None,
          fixed: dict | None = None, callback: Callable[[RoundReport], Any] | None = None,
          progress: bool = False, round_timeout: float | None = None) -> TrainResult:
    """Synchronous data-parallel SGD of a compiled training step on a Dask cluster.

    Parameters
    ----------
    step : Function
        A compiled step (mode C) whose first output is the scalar loss and whose updates
        move the parameters (every updated shared variable is a parameter); `sgd_step`
        builds one from a cost. Its shared variables hold the initial parameters and,
        after each completed round, the round's result.
    client : distributed.Client
        The cluster; only its address changes between a laptop and a real cluster.
    data : list of shards, or tuple of dask arrays
        A shard is a tuple of arrays (one per sequence input of `step`, same rows);
        with dask arrays, each row chunk is a shard. The shard count, not the worker
        count, defines the algorithm.
    rounds : int
        Rounds to run. In a round every shard runs `step.loop` from the round's
        parameters; the new parameters are the round's parameters plus the
        example-weighted deltas of the shards, summed in a fixed tree by shard index.
    batch_size, local_steps, shuffle, fixed
        Which steps a shard runs per round (`Schedule`): one pass over the shard
        (default), or `local_steps` minibatches of `batch_size` rows, cyclically.
    callback : callable, optional
        `callback(report)` after each round (`RoundReport`: round, loss,
        rounds_per_second, seconds, compute_seconds, examples).
    progress : bool
        A one-line progress bar on stderr.
    round_timeout : float, optional
        Seconds a round may take (from sending its parameters to the last shard's
        result). When it passes, the round's tasks are cancelled and `RoundTimeout`
        (a TimeoutError) names the round and the shards still running. None (the
        default) waits as long as the cluster takes, a dead worker's shard included.

    Returns
    -------
    TrainResult
        The parameters after the last round and the reports. The result equals
        `run_local`'s with the same arguments bitwise, whichever worker runs which
        shard. A shard with a NaN/Inf loss or parameter raises `ShardError` naming it
        and its worker; Ctrl-C raises KeyboardInterrupt. In every case the step's
        shared variables hold the last completed round's parameters.
    """
    if round_timeout is not None and not (isinstance(round_timeout, (int, float))
                                          and round_timeout > 0):
        raise ValueError(f"round_timeout must be a number of seconds > 0 or None, "
                         f"got {round_timeout!r}")
    if not isinstance(client, _client_class()):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    check_step(step)
    schedule = Schedule(batch_size, local_steps, shuffle, fixed)
    shards, from_dask = split_data(data)
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise RuntimeError("the Dask cluster has no workers")
    held = []
    with warnings.catch_warnings():  # numpy shards travel in their task: that is the point
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        for i, shard in enumerate(shards):
            if from_dask:
                held.append(client.compute(shard))
            else:
                held.append(client.submit(_hold, *shard, pure=False,
                                          workers=[workers[i % len(workers)]],
                                          allow_other_workers=True))
    def scatter(value: Any) -> Any:
        """`value` on every worker. A worker killed while it receives can leave a
        broadcast waiting for good (seen here under load): past _SCATTER_SECONDS the
        scatter starts again, to the workers alive then."""
        for attempt in range(_ROUND_ATTEMPTS):
            try:
                return client.scatter([value], broadcast=True, hash=False,
                                      timeout=_SCATTER_SECONDS)[0]
            except (TimeoutError, asyncio.TimeoutError):
                if attempt + 1 == _ROUND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    scattered = {"fn": scatter(step)}

    def run_round(r: int, params: list[np.ndarray]) -> list[ShardResult]:
        for attempt in range(_ROUND_ATTEMPTS):
            if scattered["fn"].status != "finished":  # every copy died with its workers
                scattered["fn"] = scatter(step)
            sent = scatter(params)
            tasks = [client.submit(_shard_task, scattered["fn"], sent, shard, i, r, schedule,
                                   pure=False) for i, shard in enumerate(held)]
            try:
                if round_timeout is not None:
                    _wait_round(r, tasks, round_timeout)
                return client.gather(tasks)
            except BaseException as err:  # a ShardError, Ctrl-C: stop the other shards now
                client.cancel([*tasks, sent])
                if not (_lost_data(err) and attempt + 1 < _ROUND_ATTEMPTS):
                    raise
        raise AssertionError("unreachable")

    try:
        return drive(step, run_round, rounds, callback, progress)
    finally:
        client.cancel([scattered["fn"],
                       *(f for h in held for f in (h if isinstance(h, list) else [h]))])
