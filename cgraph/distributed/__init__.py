"""Synchronous data-parallel SGD of a compiled training step on Dask.

    from cgraph.distributed import sgd_step, train, run_local
    step = sgd_step([x, y], cost, params, learning_rate=0.1)
    result = train(step, client, [(x0, y0), (x1, y1)], rounds=10, batch_size=128)

Each round, every shard runs `step.loop` over its minibatches from the round's
parameters; the driver adds the shards' example-weighted parameter deltas in a fixed
tree order by shard index and sends the new parameters back. The result depends on
the data, the shard count and the settings only: `run_local` (one process) gives the
same bits as `train` on any cluster. See `train` for the arguments, `rounds` for the
algorithm and `dask_backend` for what travels over the wire. `train` needs the
`[dask]` extra (`pip install "cgraph[dask]"`); the rest needs only numpy.
"""

from cgraph.distributed.dask_backend import RoundTimeout, train
from cgraph.distributed.driver import RoundReport, TrainResult, run_local, sgd_step
from cgraph.distributed.rounds import Schedule, ShardError, tree_sum

__all__ = ["RoundReport", "RoundTimeout", "Schedule", "ShardError", "TrainResult",
           "run_local", "sgd_step", "train", "tree_sum"]
