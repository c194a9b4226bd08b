"""The driver's side of data-parallel training: rounds, progress, the result, and
`run_local`, the single-process run of the same synchronous algorithm."""

from __future__ import annotations

import contextlib
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgraph.distributed.rounds import Schedule, ShardResult, combine, run_shard

__all__ = ["RoundReport", "TrainResult", "local_shards", "run_local", "sgd_step"]


@dataclass(frozen=True)
class RoundReport:
    """What the callback receives after each completed round."""

    round: int  # 0-based index of the round just applied
    loss: float  # mean loss over every step of every shard, weighted by rows
    rounds_per_second: float  # completed rounds / seconds since the run started
    seconds: float  # wall time of this round (driver's view)
    compute_seconds: float  # the slowest shard's time inside `loop`
    examples: int  # rows processed in the round, all shards


@dataclass
class TrainResult:
    """The parameters after the last completed round (also in the step's shared
    variables), and one report per round."""

    params: list[np.ndarray]
    history: list[RoundReport] = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [r.loss for r in self.history]


def sgd_step(inputs: Sequence[Any], cost: Any, params: Sequence[Any],
             learning_rate: float) -> Any:
    """A training step for `train`/`run_local`: `cost` (a scalar of `inputs`) as output,
    each shared variable in `params` updated by p - learning_rate * grad(cost, p)."""
    import cgraph

    grads = cgraph.grad(cost, list(params))
    return cgraph.function(list(inputs), cost,
                           updates=[(p, p - learning_rate * g) for p, g in zip(params, grads)])


def check_step(step: Any) -> None:
    """A Function in mode C that updates shared variables."""
    from cgraph.compile.function import Function

    if not isinstance(step, Function):
        raise TypeError(f"the training step must be a compiled cgraph Function, got "
                        f"{type(step).__name__} (build one with sgd_step)")
    if step.compiled is None:
        raise ValueError("the training step runs `loop`: build it with mode='C'")
    if not step.signature.updates:
        raise ValueError(f"{step!r} updates no shared variable: nothing to train")


def _is_dask_array(value: Any) -> bool:
    return type(value).__module__.startswith("dask.array")


def split_data(data: Any) -> tuple[list[Any], bool]:
    """(shards, from_dask): `data` is a list of shards (each a tuple of arrays, one per
    sequence input, with the same number of rows) or a tuple of dask arrays whose row
    chunks are the shards (a dask shard is a tuple of one-chunk dask arrays)."""
    if isinstance(data, tuple) and data and all(_is_dask_array(a) for a in data):
        chunks = {a.chunks[0] for a in data}
        if len(chunks) != 1:
            raise ValueError(f"the dask arrays must have the same row chunks, got "
                             f"{sorted(chunks)}")
        arrays = [a.rechunk({i: -1 for i in range(1, a.ndim)}) if a.ndim > 1 else a
                  for a in data]
        if any(np.isnan(c) for c in arrays[0].chunks[0]):
            raise ValueError("the dask arrays' row chunks must have known sizes")
        return [tuple(a.blocks[i] for a in arrays)
                for i in range(arrays[0].numblocks[0])], True
    if not isinstance(data, (list, tuple)) or not data:
        raise TypeError("data must be a non-empty list of shards (tuples of arrays) or a "
                        f"tuple of dask arrays, got {type(data).__name__}")
    shards = []
    for i, shard in enumerate(data):
        shard = tuple(shard) if isinstance(shard, (list, tuple)) else (shard,)
        rows = {len(a) for a in shard}
        if len(rows) != 1 or 0 in rows:
            raise ValueError(f"shard {i}: its arrays must have the same, nonzero number of "
                             f"rows, got {[len(a) for a in shard]}")
        shards.append(shard)
    return shards, False


def local_shards(data: Any) -> list[tuple[np.ndarray, ...]]:
    """The shards of `data` as numpy arrays in this process."""
    shards, from_dask = split_data(data)
    if from_dask:
        return [tuple(np.asarray(b.compute()) for b in shard) for shard in shards]
    return [tuple(np.asarray(a) for a in shard) for shard in shards]


class ProgressBar:
    """One line on stderr, rewritten after each round."""

    def __init__(self, rounds: int, stream: Any = None):
        self.rounds, self.stream = rounds, stream or sys.stderr

    def __call__(self, report: RoundReport) -> None:
        done = report.round + 1
        width = 20
        filled = width * done // max(self.rounds, 1)
        self.stream.write(f"\rround {done}/{self.rounds} [{'#' * filled:<{width}}] "
                          f"loss {report.loss:.6g}  {report.rounds_per_second:.3g} rounds/s")
        if done == self.rounds:
            self.stream.write("\n")
        self.stream.flush()


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends (in the main thread), so the parameters are
    never left half-written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def drive(step: Any, run_round: Callable[[int, list[np.ndarray]], list[ShardResult]],
          rounds: int, callback: Callable[[RoundReport], Any] | None,
          progress: bool) -> TrainResult:
    """Run `rounds` rounds: `run_round(r, params)` gives every shard's result; each
    round's parameters go into the step's shared variables once all shards are in."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds must be an int >= 0, got {rounds!r}")
    targets = step.signature.updates
    params = [t.get_value() for t in targets]
    result = TrainResult(params)
    bar = ProgressBar(rounds) if progress else None
    started = time.perf_counter()
    for r in range(rounds):
        round_started = time.perf_counter()
        results = run_round(r, params)
        new = combine(params, results)
        with _deferred_interrupt():
            for target, value in zip(targets, new):
                target.set_value(value)
            params = result.params = new
        now = time.perf_counter()
        examples = sum(s.examples for s in results)
        report = RoundReport(r, sum(s.loss_sum for s in results) / examples,
                             (r + 1) / (now - started), now - round_started,
                             max(s.seconds for s in results), examples)
        result.history.append(report)
        if bar is not None:
            bar(report)
        if callback is not None:
            callback(report)
    return result


def run_local(step: Any, data: Any, rounds: int, *, batch_size: int | None = None,
              local_steps: int | None = None, shuffle: int | None = None,
              fixed: dict | None = None, callback: Callable[[RoundReport], Any] | None = None,
              progress: bool = False) -> TrainResult:
    """The same synchronous algorithm as `train`, in this process: the shards run one
    after another on a private copy of `step` (unpickled, as a worker's), and the
    results equal `train`'s to the last bit. Arguments: see `train`."""
    check_step(step)
    schedule = Schedule(batch_size, local_steps, shuffle, fixed)
    shards = local_shards(data)
    worker_fn = pickle.loads(pickle.dumps(step))

    def run_round(r: int, params: list[np.ndarray]) -> list[ShardResult]:
        return [run_shard(worker_fn, params, shard, i, r, schedule)
                for i, shard in enumerate(shards)]

    return drive(step, run_round, rounds, callback, progress)
