"""Pickling and copying compiled functions; shipping them to Dask workers."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import cgraph
import cgraph.tensor as T
from cgraph.gradient import grad_scale


def make_step():
    x = T.dvector("x")
    w = cgraph.shared(np.array([1.0, -2.0, 0.5]), name="w")
    cost = T.sum(T.exp(T.cast(x, "float32") * 0.5) * grad_scale(w, 2.0))
    step = cgraph.function([x], [cost, T.grad(cost, w)], updates=[(w, w - 0.1 * T.grad(cost, w))])
    return step, w


def test_pickle_round_trip_keeps_graph_state_and_c():
    step, w = make_step()
    step(np.ones(3))
    twin = pickle.loads(pickle.dumps(step))
    assert twin.c_source == step.c_source
    for a, b in zip(twin(np.arange(3.0)), step(np.arange(3.0))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(twin._shared[0].get_value(), w.get_value())
    assert twin._shared[0] is not w  # the pickle carries its own shared variables


def test_unpickled_in_another_process_loads_from_the_cache(tmp_path, fresh_cache):
    # An empty cache and no module in memory, so the step is compiled into the cache the
    # child reads (a module remembered from an earlier test may sit in another folder).
    step, w = make_step()
    blob = tmp_path / "step.pkl"
    blob.write_bytes(pickle.dumps(step))
    want = step(np.arange(3.0))
    code = ("import pickle, sys, numpy as np, cgraph; "
            f"f = pickle.loads(open({str(blob)!r}, 'rb').read()); "
            "out = f(np.arange(3.0)); "
            "print(cgraph.backend.stats.compiles, repr(float(out[0])))")
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    compiles, value = proc.stdout.split()
    assert compiles == "0" and float(value) == float(want[0])


def test_copy_with_and_without_shared_memory():
    step, w = make_step()
    shared = step.copy(share_memory=True)
    shared(np.ones(3))
    after = w.get_value()
    assert not np.array_equal(after, [1.0, -2.0, 0.5])  # the copy updated w
    private = copy.copy(step)
    private(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), after)  # its own w moved instead
    assert not np.array_equal(private._shared[0].get_value(), after)


@pytest.mark.slow
def test_dask_workers_map_a_compiled_function():
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    m = T.dmatrix("m")
    f = cgraph.function([m], T.tanh(m) * 2.0 + 1.0)
    data = np.random.default_rng(0).standard_normal((400, 6))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        arr = da.from_array(data, chunks=(100, 6))
        result = arr.map_blocks(f, dtype=np.float64).compute()
        compiles = client.run(lambda: cgraph.backend.stats.compiles)
    np.testing.assert_array_equal(result, f(data))
    assert len(compiles) == 2 and sum(compiles.values()) == 0  # the disk cache served them
