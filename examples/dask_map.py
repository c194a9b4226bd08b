"""Map a compiled cgraph function over the chunks of a dask array on a local cluster.

Run: `pip install -e ".[dask]" && python examples/dask_map.py`. The function is
pickled to the workers (its graph, shared values and settings); each worker loads
the compiled module from the disk cache that the machine's processes share, so it
is compiled at most once per machine. On a real cluster, point `Client` at the
scheduler's address; each machine then compiles once into its own cache
(`CGRAPH_CACHE_DIR` on shared storage lets a whole cluster share one).
"""

import numpy as np
from dask import array as da
from distributed import Client, LocalCluster

import cgraph
import cgraph.tensor as T

m = T.dmatrix("m")
f = cgraph.function([m], T.tanh(m) * 2.0 + 1.0)

if __name__ == "__main__":
    data = np.random.default_rng(0).standard_normal((100_000, 8))
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        result = da.from_array(data, chunks=(25_000, 8)).map_blocks(f, dtype=float).compute()
        compiles = client.run(lambda: cgraph.backend.stats.compiles)
    print("equal to the local call:", np.array_equal(result, f(data)))
    print("compiles on the workers:", compiles)
