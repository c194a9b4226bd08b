"""One round of synchronous data-parallel SGD, without Dask.

A round starts from the parameters theta_r (the values of the step's updated shared
variables). Every shard runs the step's `loop` over its round's minibatches from
theta_r and gives back its parameters theta_s and its example count n_s; the new
parameters are

    theta_{r+1} = theta_r + tree_sum(w_s * (theta_s - theta_r)),  w_s = n_s / sum(n)

with `tree_sum` adding neighbours pairwise by shard index ((0+1)+(2+3))+..., in the
parameters' dtype. (One shard: theta_{r+1} = theta_0's result itself.) A shard's work
is a pure function of (theta_r, shard, round), so whoever runs it, and however often,
returns the same bits, and the order of the sum never depends on who finished first.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Schedule", "ShardError", "ShardResult", "combine", "round_segments",
           "run_shard", "tree_sum"]


class ShardError(RuntimeError):
    """A shard's round gave a NaN or infinite loss or parameter: the round is dropped
    and the parameters stay those of the last completed round.

    Attributes: `shard` (index), `worker` (address, or "local"), `round`.
    """

    def __init__(self, message: str, shard: int, worker: str, round: int):
        super().__init__(message, shard, worker, round)
        self.shard, self.worker, self.round = shard, worker, round

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Schedule:
    """Which minibatches a shard runs in a round.

    Parameters
    ----------
    batch_size : int or None
        Rows per step (None: one row per step, as `Function.loop`).
    local_steps : int or None
        Steps per round; None: one pass over the shard per round. With k, round r
        runs the shard's minibatches r*k ... r*k + k - 1, counted cyclically.
    shuffle : int or None
        A seed; in one-pass rounds, each (round, shard) then visits its rows in a
        permutation drawn from numpy's SeedSequence((shuffle, round, shard)).
    fixed : dict or None
        Inputs that are not sequences (as `Function.loop`'s `fixed`).

    Raises
    ------
    ValueError
        When `batch_size` or `local_steps` is not a positive int, or `shuffle` is
        given with `local_steps` (shuffling applies to one-pass rounds).
    """

    batch_size: int | None = None
    local_steps: int | None = None
    shuffle: int | None = None
    fixed: dict | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        for name in ("batch_size", "local_steps"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.shuffle is not None and self.local_steps is not None:
            raise ValueError("shuffle applies to one-pass rounds (local_steps=None)")


@dataclass
class ShardResult:
    """What a shard sends back after a round."""

    shard: int
    params: list[np.ndarray]
    examples: int
    loss_sum: float  # sum over its steps of loss * rows of the step
    seconds: float  # time spent in `loop`
    worker: str


def round_segments(n_rows: int, schedule: Schedule, round: int
                   ) -> list[tuple[int, int, int | None]]:
    """The row ranges (lo, hi, shuffle seed) that a shard of `n_rows` rows loops over,
    in order, in round `round`. Each range starts on a minibatch boundary and only its
    last minibatch may be short, so `loop(x[lo:hi], batch_size=...)` runs exactly
    those minibatches."""
    if n_rows < 1:
        raise ValueError("a shard has no rows")
    rows = schedule.batch_size or 1
    if schedule.local_steps is None:
        return [(0, n_rows, schedule.shuffle)]
    n_batches = -(-n_rows // rows)
    first = round * schedule.local_steps
    batches = [(first + k) % n_batches for k in range(schedule.local_steps)]
    segments: list[tuple[int, int, int | None]] = []
    for b in batches:
        lo, hi = b * rows, min(n_rows, (b + 1) * rows)
        if segments and segments[-1][1] == lo:
            segments[-1] = (segments[-1][0], hi, None)
        else:
            segments.append((lo, hi, None))
    return segments


def _seed(shuffle: int, round: int, shard: int) -> int:
    return int(np.random.SeedSequence((shuffle, round, shard)).generate_state(1)[0])


def _step_rows(lo: int, hi: int, batch_size: int | None) -> np.ndarray:
    """Rows of each step of a loop over rows lo..hi."""
    if batch_size is None:
        return np.ones(hi - lo)
    n = hi - lo
    rows = np.full(-(-n // batch_size), batch_size, dtype=float)
    rows[-1] = n - batch_size * (len(rows) - 1)
    return rows


@functools.cache
def _openblas() -> ctypes.CDLL | None:
    """scipy-openblas32 (the BLAS cgraph's modules link), or None without it."""
    try:
        import scipy_openblas32 as openblas
    except ImportError:
        return None
    return ctypes.CDLL(os.path.join(openblas.get_lib_dir(), f"lib{openblas.get_library()}.so"))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run matrix products on one BLAS thread (process-wide) in the block.

    OpenBLAS's sums can change in the last bit with its thread count (float32
    784x128 by 128x256 products were seen to here, and cgraph picks the count by
    timing), so a shard's result would depend on the machine's load; on one thread
    it does not. Dask's workers start with one BLAS thread anyway.
    """
    lib = _openblas()
    before = lib.scipy_openblas_get_num_threads() if lib is not None else 1
    if before > 1:
        lib.scipy_openblas_set_num_threads(1)
    try:
        yield
    finally:
        if before > 1:
            lib.scipy_openblas_set_num_threads(before)


def _finite(value: np.ndarray) -> bool:
    """Whether every element of `value` is finite. Its sum is finite unless an element
    is NaN or infinite or the sum overflows, so only a non-finite sum needs the
    element-wise check (whose boolean array, on a Dask worker, costs fresh pages)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(value, axis=None)):
            return True
    return bool(np.isfinite(value).all())


def run_shard(fn: Any, params: Sequence[np.ndarray], shard: Sequence[np.ndarray], index: int,
              round: int, schedule: Schedule, worker: str = "local") -> ShardResult:
    """Run shard `index`'s part of round `round` from `params` on `fn` (a Function that
    no one else calls meanwhile, and only through `run_shard`): a pure function of its
    arguments (its products run on one BLAS thread, see `one_blas_thread`).

    `params` become `fn`'s storages as they are (borrowed, not copied: `loop` runs on
    copies of them and leaves them unchanged). The parameters after the round are
    `fn`'s storages, the copies `loop` made: `fn`'s next loop takes new ones while
    the result holds them, so they stay as returned."""
    targets = fn.signature.updates
    for target, value in zip(targets, params):
        target.set_value(value, borrow=True)
    n_rows = len(shard[0])
    loss_sum, examples, seconds = 0.0, 0, 0.0
    for lo, hi, shuffle in round_segments(n_rows, schedule, round):
        seed = None if shuffle is None else _seed(shuffle, round, index)
        started = time.perf_counter()
        with one_blas_thread():
            out = fn.loop(*(a[lo:hi] for a in shard), batch_size=schedule.batch_size,
                          shuffle=seed, record_every=1, fixed=schedule.fixed)
        seconds += time.perf_counter() - started
        losses = np.asarray(out[0] if isinstance(out, list) else out, dtype=np.float64)
        if losses.ndim != 1:
            raise ValueError(f"the step's first output is its loss and must be a scalar; got "
                             f"shape {losses.shape[1:]}")
        bad = np.flatnonzero(~np.isfinite(losses))
        if len(bad):
            raise ShardError(f"round {round}: shard {index} on worker {worker}: the loss is "
                             f"{losses[bad[0]]} at local step {bad[0]} (rows {lo}..{hi} of "
                             "the shard); the parameters stay those of the last completed "
                             "round", index, worker, round)
        loss_sum += float(np.dot(losses, _step_rows(lo, hi, schedule.batch_size)))
        examples += hi - lo
    after = [t.get_value(borrow=True) for t in targets]
    for target, value in zip(targets, after):
        if not _finite(value):
            raise ShardError(f"round {round}: shard {index} on worker {worker}: parameter "
                             f"{target.name or target!r} is not finite after the round; the "
                             "parameters stay those of the last completed round",
                             index, worker, round)
    return ShardResult(index, after, examples, loss_sum, seconds, worker)


def tree_sum(terms: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Sum lists of arrays pairwise by position: ((t0 + t1) + (t2 + t3)) + t4 ..."""
    level = [list(t) for t in terms]
    if not level:
        raise ValueError("tree_sum of nothing")
    while len(level) > 1:
        pairs = [[a + b for a, b in zip(level[i], level[i + 1])]
                 for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def combine(params: Sequence[np.ndarray], results: Sequence[ShardResult]) -> list[np.ndarray]:
    """The parameters after a round: see the module's docstring. `results` in any order."""
    results = sorted(results, key=lambda r: r.shard)
    if len(results) == 1:
        return [np.array(p, copy=True) for p in results[0].params]
    total = sum(r.examples for r in results)
    terms = [[_scaled_delta(after, before, r.examples / total)
              for after, before in zip(r.params, params)] for r in results]
    new = []
    for before, step in zip(params, tree_sum(terms)):
        step = np.asarray(step)  # a new array (tree_sum of two or more terms adds them)
        new.append(np.add(before, step, out=step).astype(before.dtype, copy=False))
    return new


def _scaled_delta(after: np.ndarray, before: np.ndarray, weight: float) -> np.ndarray:
    """weight * (after - before) in `before`'s dtype, as a new array (computed in place:
    the same bits as the two operations apart, one allocation fewer)."""
    delta = np.asarray(np.subtract(after, before))
    return np.multiply(delta, np.asarray(weight, before.dtype), out=delta)
