"""`train`: the rounds of `cgraph.distributed` on a Dask cluster.

What travels, and when:
- once per run and worker: a `ShardRunner` (a Dask actor) is made on each worker that
  gets shards (shard i goes to the i mod n-th worker), and receives the pickled step
  (its graph, settings with `config.cache_dir`, and shared values; never a compiled
  module: the worker loads the module from the disk cache its machine shares) and
  its shards: numpy shards from the driver, dask-array shards computed on the cluster
  and fetched by the runner. The runner keeps them for every round.
- once per round and runner: one call, from the driver straight to the worker (the
  worker RPC that Dask's actor method calls use; through the scheduler only when the
  client was made with `direct_to_workers=False`): the round's parameters go (numpy
  arrays travel as raw frames, not pickled copies), the runner's shards' parameters
  come back. No task goes through the scheduler. With one shard, the new parameters
  are the runner's result itself, which it keeps: from the second round on, only
  they travel, one way.

Faults: a runner is lost when its connection fails or the scheduler reports its
worker gone (checked each second while a round waits). Its shards are loaded into a
runner on another worker (one without shards first, such as a replacement) and run
their part of the round again from the same parameters: a shard's round is a pure
function of (parameters, shard, round), so the rerun returns the same bits. The driver
applies a round only once every shard is in, in shard order, so no update is lost or
applied twice.
"""

from __future__ import annotations

import asyncio
import pickle
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgraph.distributed.driver import (
    RoundReport,
    TrainResult,
    check_step,
    drive,
    split_data,
)
from cgraph.distributed.rounds import Schedule, ShardResult
from cgraph.distributed.runner import Published, ShardRunner

__all__ = ["RoundTimeout", "train"]

#: Runners one round (or the setup) may lose before `train` gives up: this many, or
#: one per shard if there are more shards.
_LOSSES_PER_ROUND = 3

#: Seconds between checks, while a round waits, that its runners' workers are alive.
_WATCH_SECONDS = 1.0


class RoundTimeout(TimeoutError):
    """A round of `train` took longer than its `round_timeout`."""


class _LostRunner(Exception):
    """A runner's worker died or cannot be reached."""


@dataclass
class _Runner:
    """A `ShardRunner` actor on a worker, as the driver sees it."""

    future: Any  # the actor's Dask future: while it is "finished", the actor lives
    shards: list[int] = field(default_factory=list)
    kept: int | None = None  # the round whose result it keeps (one shard in the run)


class _Runners:
    """The run's runners, which shard each holds, and the round's calls to them."""

    def __init__(self, client: Any, step: Any, schedule: Schedule, sources: list[Any]):
        from distributed.actor import ProxyRPC
        from distributed.protocol import to_serialize

        self.client, self.schedule, self.sources = client, schedule, sources
        self.step = pickle.dumps(step)
        self.runners: dict[str, _Runner] = {}
        self.last_loss: BaseException | None = None
        self.rpc = (client.rpc if client.direct_to_workers is not False
                    else lambda address: ProxyRPC(client.scheduler, address))
        self.to_serialize = to_serialize

    def where(self, shard: int) -> str | None:
        return next((a for a, r in self.runners.items() if shard in r.shards), None)

    def close(self) -> None:
        futures = [r.future for r in self.runners.values()]
        self.runners.clear()
        self.client.cancel(futures)

    def drop(self, address: str) -> None:
        runner = self.runners.pop(address, None)
        if runner is not None:
            self.client.cancel([runner.future])

    def _workers(self, deadline: float | None) -> list[str]:
        """The workers alive, sorted; waits for one until `deadline`."""
        while True:
            workers = sorted(self.client.scheduler_info()["workers"])
            if workers:
                return workers
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError("no worker")
            try:
                self.client.wait_for_workers(1, timeout=left)
            except (TimeoutError, asyncio.TimeoutError):
                raise TimeoutError("no worker") from None

    def place(self, shards: list[int], deadline: float | None) -> int:
        """Give the shards runners: on workers without one (sorted, shard k of the list
        on the k mod n-th), else on the runners holding fewest shards. A runner lost
        meanwhile leaves its shards unplaced (the caller tries again). Returns the
        number of runners lost."""
        from distributed import wait

        workers = self._workers(deadline)
        free = [w for w in workers if w not in self.runners]
        if free:
            targets = free[:len(shards)]
        else:
            targets = sorted(self.runners, key=lambda a: (len(self.runners[a].shards), a))
        plan: dict[str, list[int]] = {}
        for k, shard in enumerate(shards):
            plan.setdefault(targets[k % len(targets)], []).append(shard)
        new = {w: self.client.submit(ShardRunner, actor=True, workers=[w], pure=False,
                                     allow_other_workers=True) for w in plan if w in free}
        wait(list(new.values()), timeout=None if deadline is None
             else max(deadline - time.monotonic(), 0.0))
        located = self.client.who_has(list(new.values()))
        moves: dict[str, list[int]] = {}
        for target, indices in plan.items():
            if target in new:  # the actor may have landed on another worker
                homes = located.get(new[target].key) or [target]
                address = homes[0]
                if address in self.runners:  # two runners on one worker: keep one
                    self.client.cancel([new[target]])
                else:
                    self.runners[address] = _Runner(new[target])
                    moves[address] = []
                moves.setdefault(address, []).extend(indices)
            else:
                moves.setdefault(target, []).extend(indices)
        lost = self.client.sync(self._load, moves)
        for address in lost:
            self.drop(address)
        return len(lost)

    def count_losses(self, losses: int, what: str) -> int:
        """`losses`, or RuntimeError when more than _LOSSES_PER_ROUND (or the shards)."""
        if losses > max(_LOSSES_PER_ROUND, len(self.sources)):
            raise RuntimeError(
                f"{what}: {losses} runners lost (their workers died, or this process "
                f"cannot reach them: {self.last_loss!r}); a driver that reaches the "
                "workers only through the scheduler needs a Client made with "
                "direct_to_workers=False")
        return losses

    async def _load(self, moves: dict[str, list[int]]) -> list[str]:
        async def load(address: str, indices: list[int]) -> None:
            runner = self.runners[address]
            if not runner.shards:
                await self.call(address, "setup", self.step, self.schedule)
            await self.call(address, "load", {i: self.sources[i] for i in indices})
            runner.shards = sorted({*runner.shards, *indices})

        outcomes = await asyncio.gather(*(load(a, i) for a, i in moves.items()),
                                        return_exceptions=True)
        lost = []
        for address, outcome in zip(moves, outcomes):
            if isinstance(outcome, _LostRunner):
                lost.append(address)
            elif isinstance(outcome, BaseException):
                raise outcome
        return lost

    async def call(self, address: str, function: str, *args: Any) -> Any:
        """`function(*args)` of the runner on `address`; `_LostRunner` if the worker is
        gone."""
        future = self.runners[address].future
        try:
            reply = await self.rpc(address).actor_execute(
                actor=future.key, function=function,
                args=[self.to_serialize(a) for a in args], kwargs={})
        except Exception as err:
            if isinstance(err, OSError) or future.status != "finished":
                self.last_loss = err
                raise _LostRunner(address) from err  # the connection failed, or the actor
            raise                                    # is gone with its worker
        if reply["status"] != "OK":
            raise reply["exception"]
        return reply["result"]

    async def round(self, r: int, params: list[np.ndarray], shards: list[int],
                    deadline: float | None) -> tuple[dict[int, ShardResult], list[str], bool]:
        """One call per runner holding some of `shards`: (results by shard, runners
        lost, whether the deadline passed)."""
        plan: dict[str, list[int]] = {}
        for shard in shards:
            plan.setdefault(self.where(shard), []).append(shard)
        runners = {a: self.runners[a] for a in plan}  # `close` may clear self.runners
        one = len(self.sources) == 1  # the round's parameters are the last result
        calls = {asyncio.ensure_future(self.call(
            a, "run", r, None if one and runners[a].kept == r - 1 else params, indices)): a
                 for a, indices in plan.items()}
        got: dict[int, ShardResult] = {}
        lost: list[str] = []
        pending = set(calls)
        try:
            while pending:
                wait = _WATCH_SECONDS
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return got, lost, True
                done, pending = await asyncio.wait(pending, timeout=wait,
                                                   return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    try:
                        got.update((s.shard, s) for s in task.result())
                        runners[calls[task]].kept = r
                    except _LostRunner:
                        lost.append(calls[task])
                for task in list(pending):
                    if runners[calls[task]].future.status != "finished":
                        lost.append(calls[task])  # its worker left the cluster
                        pending.discard(task)
        finally:
            for task in calls:
                task.cancel()
        return got, lost, False

    def run_round(self, r: int, params: list[np.ndarray],
                  seconds: float | None) -> list[ShardResult]:
        """Every shard's result of round `r`, placing again the shards of lost runners."""
        deadline = None if seconds is None else time.monotonic() + seconds
        results: dict[int, ShardResult] = {}
        losses = 0
        while len(results) < len(self.sources):
            missing = [i for i in range(len(self.sources)) if i not in results]
            try:
                unplaced = [i for i in missing if self.where(i) is None]
                if unplaced:
                    losses = self.count_losses(losses + self.place(unplaced, deadline),
                                               f"round {r}")
                    continue
                got, lost, late = self.client.sync(self.round, r, params, missing, deadline)
            except TimeoutError:
                late = True
            if late:
                missing = [i for i in range(len(self.sources)) if i not in results]
                kept = f"those of round {r - 1}" if r else "the initial ones"
                raise RoundTimeout(f"round {r}: shard(s) {missing} not finished after "
                                   f"{seconds:g} s (round_timeout); the parameters stay "
                                   f"{kept}")
            results.update(got)
            for address in lost:
                self.drop(address)
            losses = self.count_losses(losses + len(lost), f"round {r}")
        return [results[i] for i in range(len(self.sources))]


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
        result). When it passes, `RoundTimeout` (a TimeoutError) names the round and
        the shards still running. None (the default) waits as long as the cluster
        takes, a dead worker's shard included.

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
    if not client.scheduler_info()["workers"]:
        raise RuntimeError("the Dask cluster has no workers")
    published = f"cgraph-train-{uuid.uuid4().hex}" if from_dask else None
    if published:  # computed on the cluster; each runner fetches its shards
        client.publish_dataset([client.compute(list(s)) for s in shards], name=published)
        sources: list[Any] = [Published(published, i) for i in range(len(shards))]
    else:
        sources = shards
    runners = _Runners(client, step, schedule, sources)
    try:
        losses = 0
        while (unplaced := [i for i in range(len(shards)) if runners.where(i) is None]):
            losses = runners.count_losses(losses + runners.place(unplaced, None), "setup")
        return drive(step, lambda r, params: runners.run_round(r, params, round_timeout),
                     rounds, callback, progress)
    finally:
        runners.close()
        if published:
            client.unpublish_dataset(published)
