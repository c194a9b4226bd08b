"""The worker's side of `train`: a `ShardRunner` per worker (a Dask actor) keeps the
run's step and the worker's shards, so a round sends only its parameters."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgraph.distributed.rounds import Schedule, ShardResult, run_shard

__all__ = ["Published", "ShardRunner"]


@dataclass(frozen=True)
class Published:
    """A shard held on the cluster: entry `shard` of the dataset `name` published on
    the scheduler (a list, per shard, of the futures of its arrays)."""

    name: str
    shard: int


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"


class ShardRunner:
    """One worker's part of a run of `train`: its unpickled copy of the step (loaded
    from the disk cache its machine shares), its schedule and its shards.

    Dask runs an actor's methods one at a time on the worker's actor thread, so the
    step is never used by two rounds at once.
    """

    def __init__(self) -> None:
        self.fn: Any = None
        self.schedule = Schedule()
        self.shards: dict[int, tuple[np.ndarray, ...]] = {}
        self.kept: list[np.ndarray] | None = None  # its last result, when of one shard
        self.worker = _worker_address()

    def setup(self, step: bytes, schedule: Schedule) -> str:
        """Unpickle the step (its graph and settings; the module comes from the disk
        cache) and keep the schedule. Returns this worker's address."""
        self.fn, self.schedule = pickle.loads(step), schedule
        return self.worker

    def load(self, shards: dict[int, Any]) -> list[int]:
        """Keep shards by index: each a tuple of arrays, or a `Published` one (a
        dask-array shard computed on the cluster), fetched here. Returns the indices
        held."""
        for index, arrays in shards.items():
            if isinstance(arrays, Published):
                from distributed import get_client

                client = get_client()
                arrays = client.gather(client.get_dataset(arrays.name)[arrays.shard])
            self.shards[index] = tuple(np.asarray(a) for a in arrays)
        return sorted(self.shards)

    def run(self, round: int, params: list[np.ndarray] | None, indices: Sequence[int]
            ) -> list[ShardResult]:
        """Round `round` of the shards `indices` from `params` (see `run_shard`).

        `params` None: the parameters this runner returned when it last ran one shard
        (a run of one shard has them as its next round's parameters, to the bit, so
        the driver need not send them back)."""
        if params is None:
            if self.kept is None:
                raise RuntimeError(f"runner on {self.worker}: round {round} refers to "
                                   "parameters this runner did not return")
            params = self.kept
        results = [run_shard(self.fn, params, self.shards[i], i, round, self.schedule,
                             self.worker) for i in indices]
        self.kept = results[0].params if len(results) == 1 else None
        return results
