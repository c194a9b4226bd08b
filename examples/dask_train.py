"""Train a small classifier by synchronous data-parallel SGD on a local Dask cluster.

Run: `pip install -e ".[dask]" && python examples/dask_train.py`. The data is split
into 4 shards; each round, every shard runs the compiled step's `loop` over its
minibatches from the round's parameters, and the driver averages the shards' changes
(weighted by their rows, summed in a fixed order) and sends the new parameters back.
The result is the same, to the last bit, as `run_local`'s (the same algorithm in one
process), whichever worker ran which shard. On a real cluster only the `Client`
changes: `Client("tcp://scheduler:8786")`.
"""

import numpy as np
from distributed import Client, LocalCluster

import cgraph
import cgraph.tensor as T
from cgraph.distributed import run_local, sgd_step, train
from cgraph.tensor import nnet


def make_step() -> cgraph.Function:
    rng = np.random.default_rng(0)
    x, y = T.matrix("x", dtype="float32"), T.matrix("y", dtype="float32")
    W1 = cgraph.shared((rng.standard_normal((10, 32)) * 0.3).astype("float32"), name="W1")
    b1 = cgraph.shared(np.zeros(32, "float32"), name="b1")
    W2 = cgraph.shared((rng.standard_normal((32, 3)) * 0.3).astype("float32"), name="W2")
    b2 = cgraph.shared(np.zeros(3, "float32"), name="b2")
    p_y = nnet.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)
    cost = T.mean(nnet.categorical_crossentropy(p_y, y))
    return sgd_step([x, y], cost, [W1, b1, W2, b2], learning_rate=0.2)


def make_data(rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, 10)).astype("float32")
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)  # three classes
    return x, np.eye(3, dtype="float32")[labels]


if __name__ == "__main__":
    x, y = make_data()
    shards = [(x[i::4], y[i::4]) for i in range(4)]
    step = make_step()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None, host="127.0.0.1") as cluster, \
            Client(cluster) as client:
        result = train(step, client, shards, rounds=8, batch_size=64, progress=True)
        compiles = client.run(lambda: cgraph.backend.stats.compiles)
    reference = run_local(make_step(), shards, rounds=8, batch_size=64)
    print("loss per round:", " ".join(f"{loss:.4f}" for loss in result.losses))
    print("equal to run_local bitwise:",
          all(np.array_equal(a, b) for a, b in zip(result.params, reference.params)))
    print("compiles on the workers:", compiles)
