"""cgraph.distributed: synchronous data-parallel SGD of a compiled step, in one process
(`run_local`, against numpy) and on a 2-process Dask LocalCluster (`train`, against
`run_local` to the last bit, with a killed worker, a NaN shard and Ctrl-C)."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest
from helpers import rng_for

import cgraph
import cgraph.tensor as T
from cgraph.distributed import ShardError, run_local, sgd_step, train, tree_sum
from cgraph.distributed.rounds import Schedule, _finite, round_segments, run_shard
from cgraph.tensor import nnet

LR = 0.05


def assert_bitwise(a, b):
    assert [x.dtype for x in a] == [y.dtype for y in b]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def linear_step(dtype: str = "float64"):
    """Least squares, mean over the minibatch: a step with a numpy reference."""
    x, y = T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    w = cgraph.shared(np.array([0.5, -1.0, 0.25], dtype), name="w")
    b = cgraph.shared(np.asarray(0.1, dtype), name="b")
    cost = T.mean((T.dot(x, w) + b - y) ** 2)
    return sgd_step([x, y], cost, [w, b], LR)


def linear_data(rows: list[int], key: str = "data") -> list[tuple[np.ndarray, np.ndarray]]:
    rng = rng_for("distributed", key)
    shards = []
    for n in rows:
        x = rng.standard_normal((n, 3))
        shards.append((x, x @ np.array([1.0, 2.0, -1.0]) + 0.3 + 0.1 * rng.standard_normal(n)))
    return shards


def numpy_rounds(shards, rounds: int, batch: int) -> tuple[list[np.ndarray], list[float]]:
    """The algorithm by hand: each shard runs its minibatches from the round's (w, b);
    the new (w, b) add the deltas weighted by the shards' rows."""
    w, b = np.array([0.5, -1.0, 0.25]), 0.1
    losses = []
    for _ in range(rounds):
        ends, loss_sum = [], 0.0
        for x, y in shards:
            sw, sb = w.copy(), b
            for lo in range(0, len(x), batch):
                xb, yb = x[lo:lo + batch], y[lo:lo + batch]
                err = xb @ sw + sb - yb
                loss_sum += np.mean(err ** 2) * len(xb)
                sw, sb = sw - LR * 2 * xb.T @ err / len(xb), sb - LR * 2 * err.mean()
            ends.append((sw, sb, len(x)))
        total = sum(n for _, _, n in ends)
        w = w + sum((sw - w) * n / total for sw, _, n in ends)
        b = b + sum((sb - b) * n / total for _, sb, n in ends)
        losses.append(loss_sum / total)
    return [w, np.asarray(b)], losses


def test_unequal_shards_are_weighted_by_their_examples():
    shards = linear_data([12, 40, 7])
    result = run_local(linear_step(), shards, rounds=3, batch_size=5)
    want, losses = numpy_rounds(shards, 3, 5)
    for got, ref in zip(result.params, want):
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(result.losses, losses, rtol=1e-12)


def test_one_shard_equals_the_plain_loop_bitwise():
    shards = linear_data([50])
    step, twin = linear_step(), linear_step()
    result = run_local(step, shards, rounds=3, batch_size=8)
    twin.loop(*shards[0], batch_size=8, epochs=3)
    for got, shared in zip(result.params, twin.signature.updates):
        assert np.array_equal(got, shared.get_value())
    assert [np.array_equal(s.get_value(), p) for s, p in
            zip(step.signature.updates, result.params)] == [True, True]


def test_tree_sum_adds_neighbours_in_shard_order():
    terms = [[np.float32(v)] for v in (1e8, 1.0, -1e8, 1.0, 3.0)]
    # ((1e8 + 1) + (-1e8 + 1)) + 3 in float32, where 1e8 + 1 rounds to 1e8: 3, while
    # left to right gives 4 and right to left 0.
    assert tree_sum(terms)[0] == np.float32(3.0)
    assert sum(t[0] for t in terms) == np.float32(4.0)


def test_local_steps_cycle_through_the_minibatches():
    schedule = Schedule(batch_size=4, local_steps=3)
    assert round_segments(10, schedule, 0) == [(0, 10, None)]  # batches 0, 1, 2 (short)
    assert round_segments(10, schedule, 1) == [(0, 10, None)]  # 3, 4, 5 = 0, 1, 2
    assert round_segments(11, Schedule(4, 2), 1) == [(8, 11, None), (0, 4, None)]
    with pytest.raises(ValueError, match="local_steps"):
        Schedule(4, 0)


def test_local_steps_equal_the_calls_they_stand_for():
    shards = linear_data([11])
    step, twin = linear_step(), linear_step()
    run_local(step, shards, rounds=3, batch_size=4, local_steps=2)
    x, y = shards[0]
    for b in (0, 1, 2, 0, 1, 2):  # minibatches 0..5 cyclically of a 3-batch shard
        twin(x[4 * b:4 * b + 4], y[4 * b:4 * b + 4])
    for a, b in zip(step.signature.updates, twin.signature.updates):
        assert np.array_equal(a.get_value(), b.get_value())


def test_shuffle_draws_one_permutation_per_round_and_shard():
    from cgraph.distributed.rounds import _seed

    shards = linear_data([30])
    step, twin, plain = linear_step(), linear_step(), linear_step()
    run_local(step, shards, rounds=2, batch_size=4, shuffle=7)
    for r in range(2):
        twin.loop(*shards[0], batch_size=4, shuffle=_seed(7, r, 0))
    run_local(plain, shards, rounds=2, batch_size=4)
    for a, b, c in zip(step.signature.updates, twin.signature.updates,
                       plain.signature.updates):
        assert np.array_equal(a.get_value(), b.get_value())
        assert not np.array_equal(a.get_value(), c.get_value())
    assert _seed(7, 0, 1) != _seed(7, 1, 0) != _seed(7, 0, 0)


def test_nan_shard_stops_the_round_and_keeps_the_parameters():
    shards = linear_data([20, 20])
    shards[1][0][7, 1] = np.nan
    step = linear_step()
    before = [s.get_value() for s in step.signature.updates]
    with pytest.raises(ShardError, match=r"round 0: shard 1 on worker local: the loss is nan"):
        run_local(step, shards, rounds=2, batch_size=5)
    for s, v in zip(step.signature.updates, before):
        assert np.array_equal(s.get_value(), v)


def test_a_shards_result_and_its_parameters_stay_as_they_were():
    # run_shard borrows the round's parameters and returns the step's storages: later
    # rounds on the same step must write neither.
    shards = linear_data([30, 20])
    step = linear_step()
    fn = pickle.loads(pickle.dumps(step))
    schedule = Schedule(batch_size=5)
    params = [s.get_value() for s in step.signature.updates]
    kept_params = [p.copy() for p in params]
    first = [run_shard(fn, params, shard, i, 0, schedule) for i, shard in enumerate(shards)]
    kept = [[p.copy() for p in r.params] for r in first]
    for r in range(1, 4):
        for i, shard in enumerate(shards):
            run_shard(fn, first[i].params, shard, i, r, schedule)
    assert_bitwise(params, kept_params)
    for result, values in zip(first, kept):
        assert_bitwise(result.params, values)
    again = [run_shard(fn, kept_params, shard, i, 0, schedule) for i, shard in enumerate(shards)]
    for result, values in zip(again, kept):
        assert_bitwise(result.params, values)


def test_finite_checks_every_element_even_when_the_sum_overflows():
    assert _finite(np.array([3e38, 3e38], np.float32))
    assert _finite(np.zeros((0, 3)))
    for bad in (np.nan, np.inf, -np.inf):
        value = np.ones((4, 5), np.float32)
        value[2, 3] = bad
        assert not _finite(value)
    assert not _finite(np.array([np.inf, -np.inf]))


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler for the test: a process started in the background by
    a non-interactive shell (as CI may be) inherits SIGINT ignored, and Python then
    keeps ignoring it, so a test's Ctrl-C would never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_interrupt_keeps_the_last_completed_round(ctrl_c):
    shards = linear_data([20, 30])
    step = linear_step()
    first = run_local(linear_step(), shards, rounds=1, batch_size=5).params

    def interrupt(report):
        if report.round == 0:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: raised before round 1 starts

    with pytest.raises(KeyboardInterrupt):
        run_local(step, shards, rounds=3, batch_size=5, callback=interrupt)
    for s, v in zip(step.signature.updates, first):
        assert np.array_equal(s.get_value(), v)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="compiled cgraph Function"):
        run_local(lambda x: x, linear_data([4]), rounds=1)
    x = T.dvector("x")
    with pytest.raises(ValueError, match="updates no shared variable"):
        run_local(cgraph.function([x], x.sum()), [(np.ones(3),)], rounds=1)
    with pytest.raises(ValueError, match="shard 0: its arrays must have the same"):
        run_local(linear_step(), [(np.ones((4, 3)), np.ones(5))], rounds=1)


# ---------------------------------------------------------------- on a Dask cluster

def mlp_step(sizes: tuple[int, int, int] = (20, 32, 4)):
    rng = np.random.default_rng(0)
    n_in, n_hidden, n_out = sizes
    x, y = T.matrix("x", dtype="float32"), T.matrix("y", dtype="float32")
    W1 = cgraph.shared((rng.standard_normal((n_in, n_hidden)) * 0.1).astype("float32"),
                       name="W1")
    b1 = cgraph.shared(np.zeros(n_hidden, "float32"), name="b1")
    W2 = cgraph.shared((rng.standard_normal((n_hidden, n_out)) * 0.1).astype("float32"),
                       name="W2")
    h = T.tanh(T.dot(x, W1) + b1)
    cost = T.mean(nnet.categorical_crossentropy(nnet.softmax(T.dot(h, W2)), y))
    return sgd_step([x, y], cost, [W1, b1, W2], 0.1)


def mlp_data(rows: list[int], n_in: int = 20, n_out: int = 4
             ) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = rng_for("distributed", "mlp")
    out = []
    for n in rows:
        x = rng.standard_normal((n, n_in)).astype("float32")
        out.append((x, np.eye(n_out, dtype="float32")[rng.integers(0, n_out, n)]))
    return out


def test_results_do_not_depend_on_the_blas_thread_count():
    # OpenBLAS's float32 products of this size can change in the last bit with its
    # thread count (which cgraph picks by timing): each shard runs on one thread.
    from cgraph.distributed.rounds import _openblas

    lib = _openblas()
    if lib is None:
        pytest.skip("scipy-openblas32 is not installed")
    shards = mlp_data([768, 768], n_in=784, n_out=10)
    before = lib.scipy_openblas_get_num_threads()
    runs = []
    try:
        for threads in (1, 2, 2):
            lib.scipy_openblas_set_num_threads(threads)
            runs.append(run_local(mlp_step((784, 256, 10)), shards, 2, batch_size=128).params)
            assert lib.scipy_openblas_get_num_threads() == threads  # restored after a shard
    finally:
        lib.scipy_openblas_set_num_threads(before)
    assert_bitwise(runs[1], runs[0])
    assert_bitwise(runs[2], runs[0])


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, host="127.0.0.1") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.mark.slow
def test_distributed_equals_local_bitwise_and_repeats(client):
    shards = mlp_data([300, 170, 230])  # 3 shards of unequal size on 2 workers
    want = run_local(mlp_step(), shards, rounds=3, batch_size=32)
    reports = []
    step = mlp_step()
    got = train(step, client, shards, rounds=3, batch_size=32, callback=reports.append)
    assert_bitwise(got.params, want.params)
    assert_bitwise([s.get_value() for s in step.signature.updates], want.params)
    assert got.losses == want.losses and [r.round for r in reports] == [0, 1, 2]
    assert all(r.rounds_per_second > 0 and r.examples == 700 for r in reports)
    again = train(mlp_step(), client, shards, rounds=3, batch_size=32)
    assert_bitwise(again.params, want.params)
    assert client.run(lambda: cgraph.backend.stats.compiles) == {
        w: 0 for w in client.scheduler_info()["workers"]}  # loaded from the shared cache


@pytest.mark.slow
def test_dask_array_shards_and_local_steps(client):
    da = pytest.importorskip("dask.array")
    x, y = (np.concatenate(a) for a in zip(*mlp_data([250, 250])))
    data = (da.from_array(x, chunks=(150, 20)), da.from_array(y, chunks=(150, 4)))
    want = run_local(mlp_step(), data, rounds=4, batch_size=16, local_steps=5)
    got = train(mlp_step(), client, data, rounds=4, batch_size=16, local_steps=5)
    assert_bitwise(got.params, want.params)
    # 4 shards (150, 150, 150, 50 rows): 5 minibatches of 16 rows, the 50-row shard's
    # being 16, 16, 16, 2, 16.
    assert got.history[0].examples == 3 * 80 + 66


@pytest.mark.slow
def test_killed_worker_run_equals_the_clean_run(client):
    shards = mlp_data([30000, 30000])  # a shard's round: 15,000 steps, about 0.1 s
    assert_kill_changes_nothing(client, shards, sorted(client.run(os.getpid).values())[0])


def assert_kill_changes_nothing(client, shards, victim: int) -> None:
    """Kill worker process `victim` during round 1 of 3: the run equals run_local's
    bit for bit, and the worker did die (and was replaced)."""
    clean = run_local(mlp_step(), shards, rounds=3, batch_size=2)

    timers = []

    def kill_during_next_round(report):
        if report.round == 0:
            timers.append(threading.Timer(0.03, os.kill, (victim, signal.SIGKILL)))
            timers[0].start()

    got = train(mlp_step(), client, shards, rounds=3, batch_size=2,
                callback=kill_during_next_round)
    assert_bitwise(got.params, clean.params)
    assert got.losses == clean.losses
    timers[0].join()
    wait_for_replacement(client, victim)


def wait_for_replacement(client, victim: int, timeout: float = 60.0) -> None:
    """Wait until two workers answer and none is process `victim`. The scheduler may
    still list the killed worker for a while (`wait_for_workers` counts it), and a
    broadcast to it then fails, so the dead one's answer is ignored until it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        pids = client.run(os.getpid, on_error="ignore")
        if len(pids) == 2 and victim not in pids.values():
            return
        assert time.monotonic() < deadline, f"worker {victim} not replaced: {pids}"
        time.sleep(0.1)


@pytest.mark.slow
def test_one_shard_sends_its_parameters_once_and_survives_a_kill(client):
    # With one shard the runner keeps its result as the next round's parameters: the
    # run equals run_local's, and a killed runner's replacement gets them in full.
    short = mlp_data([200])
    want = run_local(mlp_step(), short, rounds=5, batch_size=16, local_steps=2)
    got = train(mlp_step(), client, short, rounds=5, batch_size=16, local_steps=2)
    assert_bitwise(got.params, want.params)
    assert got.losses == want.losses
    long = mlp_data([30000], n_in=20)  # a round: 15,000 steps, about 0.1 s
    pids = client.run(os.getpid)
    # the first worker (sorted by address) gets the shard
    assert_kill_changes_nothing(client, long, pids[sorted(pids)[0]])


@pytest.mark.slow
def test_nan_shard_names_the_worker_and_keeps_the_round(client):
    shards = mlp_data([100, 100, 100])
    shards[2][0][57, 3] = np.nan
    step = mlp_step()
    before = [s.get_value() for s in step.signature.updates]
    with pytest.raises(ShardError, match=r"round 0: shard 2 on worker tcp://127\.0\.0\.1:\d+"
                                         r": the loss is nan at local step 5") as err:
        train(step, client, shards, rounds=2, batch_size=10)
    assert err.value.shard == 2 and err.value.worker in client.scheduler_info()["workers"]
    assert_bitwise([s.get_value() for s in step.signature.updates], before)


@pytest.mark.slow
def test_interrupt_leaves_the_last_completed_round(client, ctrl_c):
    shards = mlp_data([20000, 20000])  # a shard's round: 10,000 steps, about 0.1 s
    # Ctrl-C 30 ms into round 2. On a loaded machine it may be taken only once round 2
    # is in (its parameters applied, then the interrupt raised): the parameters must be
    # those of a whole number of rounds, 2 or 3, never a half-applied round or all 4.
    after = [run_local(mlp_step(), shards, rounds=n, batch_size=2).params for n in (2, 3)]

    def interrupt_during_next_round(report):
        if report.round == 1:
            threading.Timer(0.03, os.kill, (os.getpid(), signal.SIGINT)).start()

    step = mlp_step()
    with pytest.raises(KeyboardInterrupt):
        train(step, client, shards, rounds=4, batch_size=2,
              callback=interrupt_during_next_round)
    got = [s.get_value() for s in step.signature.updates]
    assert any(all(np.array_equal(x, y) for x, y in zip(got, want)) for want in after)
    again = train(mlp_step(), client, shards[:1], rounds=1, batch_size=2000)
    assert len(again.history) == 1  # the cluster still serves the next run


@pytest.mark.slow
def test_rounds_send_no_task_through_the_scheduler(client):
    """A round is one call from the driver to each runner: the scheduler sees the same
    task transitions for a run of 1 round as for a run of 6."""
    def transitions(dask_scheduler):
        return dask_scheduler.transition_counter

    shards = mlp_data([60, 40])
    counts = []
    for rounds in (1, 6):
        before = client.run_on_scheduler(transitions)
        train(mlp_step(), client, shards, rounds=rounds, batch_size=10)
        counts.append(client.run_on_scheduler(transitions) - before)
    assert counts[0] == counts[1]


@pytest.mark.slow
def test_a_client_that_reaches_workers_through_the_scheduler(client):
    """With direct_to_workers=False the rounds' calls go through the scheduler (as
    Dask's actor calls do): the same bits."""
    distributed = pytest.importorskip("distributed")
    shards = mlp_data([90, 70, 50])
    want = run_local(mlp_step(), shards, rounds=2, batch_size=16).params
    with distributed.Client(client.scheduler.address, direct_to_workers=False) as proxied:
        got = train(mlp_step(), proxied, shards, rounds=2, batch_size=16)
    assert_bitwise(got.params, want)


@pytest.mark.slow
def test_workers_get_the_graph_and_the_cache_dir_not_a_module(client, tmp_path):
    with cgraph.config.change_flags(cache_dir=str(tmp_path)):
        step = linear_step()
    blob = pickle.dumps(step)
    assert step.c_source.encode() not in blob and b"\x7fELF" not in blob
    path = client.submit(lambda f: f.c_path, step, pure=False).result()
    assert path.startswith(str(tmp_path))  # the worker loaded the module from tmp_path


@pytest.mark.slow
def test_round_timeout_names_the_round_and_keeps_the_parameters(client):
    """A round that outlasts `round_timeout` is cancelled: RoundTimeout names it and
    its shards, and the parameters stay those of the last completed round."""
    from cgraph.distributed import RoundTimeout

    step = linear_step()
    shards = linear_data([4000, 4000], key="timeout")
    before = [t.get_value() for t in step.signature.updates]
    with pytest.raises(RoundTimeout, match=r"round 0: shard\(s\) \[0, 1\] not finished"):
        train(step, client, shards, rounds=2, batch_size=1, round_timeout=1e-4)
    assert_bitwise([t.get_value() for t in step.signature.updates], before)
    with pytest.raises(ValueError, match="round_timeout"):
        train(step, client, shards, rounds=1, round_timeout=0)
    done = train(step, client, linear_data([30, 20]), rounds=1, batch_size=5,
                 round_timeout=300.0)
    assert len(done.history) == 1


@pytest.mark.slow
def test_workers_the_driver_cannot_reach_are_named_not_tried_forever(client, monkeypatch):
    class Unreachable:
        async def actor_execute(self, **msg):
            raise OSError("Timed out trying to connect")

    monkeypatch.setattr(client, "rpc", lambda address: Unreachable())
    with pytest.raises(RuntimeError, match=r"setup: 4 runners lost .*Timed out trying to "
                                           r"connect.*direct_to_workers=False"):
        train(linear_step(), client, linear_data([20, 20]), rounds=1, batch_size=5)
