"""`Function.loop`: run many steps of a compiled function inside C.

A training loop that calls a small compiled step from Python spends most of its
time crossing the Python/C border (the XOR tutorial: 40,000 calls). `run_loop`
instead hands C the whole schedule: which row (or minibatch) of each sequence
argument each step reads, where each update goes, what to record. C runs the steps
in chunks of a few milliseconds, so Ctrl-C and progress callbacks are served between
chunks, always at a step boundary, with the shared variables consistent. When an
update changes a value that the step's plan depends on (an ifelse condition reading a
shared counter), each step is its own C call with the plan its values select, so the
loop still equals the Python loop of calls. The counts (epochs, batch_size,
record_every) must be integers: anything else raises before any step.

The layout of the arrays passed to `cg_loop_run` (csrc/cg_loop.h):

L (int64): a header of CG_L_HEADER values (n_args, n_seq, n_rows, batch, begin, end,
    n_batches, n_out, record_every, stop_on_nan, n_updates, has_perm), then per
    sequence (arg index, row bytes), per recorded output (arg index, bytes of a full
    step, bytes of the short last batch, 8/4 for float64/float32 else 0), per update
    the loop copies (output arg index, shared arg index, bytes): none unless
    stop_on_nan, since the steps otherwise write their updates into the state.
X (void *): the entry's n_args base pointers, a gather buffer per sequence, the
    permutation (or NULL), a record buffer per output, the steps' workspace (or NULL:
    the loop allocates one per call).

A function's loops reuse their buffers (`LoopBuffers`): the copies of the updated
shared variables, the step's output buffers and the gather buffers come from the
module's pool when their sizes match, so a loop called again (a round of
`cgraph.distributed`) writes into pages it already touched instead of fresh ones.
"""

from __future__ import annotations

import math
import operator
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cgraph.codegen.lower import Program
from cgraph.codegen.render import TABLE_STEPS
from cgraph.compile.compiled import ERRBUF_SIZE, CompiledModule
from cgraph.compile.signature import ArgSpec, Signature
from cgraph.graph.basic import Variable

#: seconds of C work between returns to Python (Ctrl-C, progress callbacks).
CHUNK_SECONDS = 0.05
_HEADER = 12


class LoopStopped(RuntimeWarning):
    """`stop_on_nan`: an output became NaN or infinite; the loop stopped before
    applying that step's updates."""


def _refs(arrays: list, k: int) -> int:
    """sys.getrefcount of arrays[k], taken the one way `_ALONE` was calibrated."""
    return sys.getrefcount(arrays[k])


#: What `_refs` gives for an array only its list holds (measured, since interpreters
#: differ in the temporary references they count).
_ALONE = _refs([np.empty(1)], 0)


class LoopBuffers:
    """The arrays a compiled module's loops reuse between calls.

    A loop takes its scratch buffers (step outputs, gather buffers) out of the pool and
    gives them back when it returns, so loops running at once (in two threads, or one
    started from another's progress callback) never share one. The copies of the
    updated shared variables become their storages when a loop ends; such a copy is
    taken again only once no one else holds it (not the shared variable, not a caller
    that borrowed it, not a view), so a loop never writes into an array someone can
    read.
    """

    #: Spare scratch arrays kept per size, and their bytes in all.
    SPARE = 2
    SCRATCH_BYTES = 1 << 26
    #: Bytes of the state copies the pool follows (twice the parameters it serves
    #: in full); past it, the oldest are left to the garbage collector.
    STATE_BYTES = 1 << 27

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scratch: dict[int, list[np.ndarray]] = {}
        self._scratch_bytes = 0
        self._states: list[np.ndarray] = []

    def scratch(self, nbytes: int) -> np.ndarray:
        """A uint8 array of `nbytes` bytes, out of the pool or new."""
        with self._lock:
            spare = self._scratch.get(nbytes)
            if spare:
                self._scratch_bytes -= nbytes
                return spare.pop()
        return np.empty(nbytes, np.uint8)

    def give(self, arrays: Sequence[np.ndarray]) -> None:
        """Return scratch arrays (from `scratch`) to the pool."""
        with self._lock:
            for a in arrays:
                spare = self._scratch.setdefault(a.nbytes, [])
                if (len(spare) < self.SPARE
                        and self._scratch_bytes + a.nbytes <= self.SCRATCH_BYTES):
                    spare.append(a)
                    self._scratch_bytes += a.nbytes

    def state(self, value: np.ndarray, keep: int) -> np.ndarray:
        """A C-contiguous copy of `value`, written into a copy made by an earlier loop
        when no one holds that one any more. The pool follows the `keep` latest copies
        (two per updated shared variable: its storage and a spare), up to
        STATE_BYTES."""
        with self._lock:
            states = self._states
            for k in range(len(states)):
                # Only the list holds it: no one else can read what the loop writes.
                if (states[k].shape == value.shape and states[k].dtype == value.dtype
                        and _refs(states, k) == _ALONE):
                    out = states.pop(k)
                    break
            else:
                out = np.empty(value.shape, value.dtype)
            states.append(out)
            del states[:-keep]
            while sum(a.nbytes for a in states) > self.STATE_BYTES:
                del states[0]
        np.copyto(out, value)
        return out


_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def loop_buffers(compiled: CompiledModule) -> LoopBuffers:
    """The buffer pool of `compiled`'s loops (made on first use, dropped with it)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(compiled)
        if pool is None:
            pool = _POOLS[compiled] = LoopBuffers()
        return pool


def _sequence(spec: ArgSpec, value: Any, batch: int | None) -> np.ndarray:
    """A sequence argument as a C-contiguous array of the input's dtype.

    A list (or any value that is not an array) is converted as an argument is, by the
    input's spec with the axis of rows (so a Python int out of the dtype's range raises,
    with `allow_input_downcast` too); an array of another dtype is cast, when safely
    castable or when `allow_input_downcast` is true.
    """
    label = spec.label
    arr = np.asarray(value)
    want = spec.ndim + (1 if batch is None else 0)
    if arr.ndim != want or arr.ndim == 0:
        what = "one row per step" if batch is None else "rows to batch"
        raise ValueError(f"loop: {label} must be {want}-d ({what}, leading axis = rows), "
                         f"got shape {arr.shape}")
    if not isinstance(value, np.ndarray):
        try:
            return spec.rows(batched=batch is not None).convert(value)
        except (TypeError, ValueError) as err:
            raise type(err)(f"loop: {err}") from None
    if arr.dtype != spec.dtype:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"loop: {label} has dtype {arr.dtype}, expected {spec.dtype}")
        if not (np.can_cast(arr.dtype, spec.dtype, "safe") or spec.allow_downcast):
            raise TypeError(f"loop: {label} has dtype {arr.dtype}; converting it to "
                            f"{spec.dtype} loses precision (pass allow_input_downcast=True "
                            "to function)")
    return np.ascontiguousarray(arr, dtype=spec.dtype)


def run_loop(compiled: CompiledModule, inputs: Sequence[Variable], args: Sequence[Any],
             epochs: int = 1, batch_size: int | None = None, shuffle: int | None = None,
             record_every: int | None = None, stop_on_nan: bool = False,
             fixed: Mapping[Any, Any] | None = None,
             progress: Callable[[int, int], Any] | None = None,
             specialize: bool = False) -> Any:
    """See `Function.loop`: `compiled` is the function's module, `inputs` its input
    variables (as the caller made them: `fixed` names them)."""
    sig = compiled.signature
    epochs = _count("epochs", epochs, 0)
    batch_size = None if batch_size is None else _count("batch_size", batch_size, 1)
    record_every = None if record_every is None else _count("record_every", record_every, 0)
    fixed_pos = _fixed_positions(inputs, fixed or {})
    seq_pos = [i for i in range(len(inputs)) if i not in fixed_pos]
    if len(args) != len(seq_pos):
        raise TypeError(f"loop: {len(seq_pos)} sequence argument(s) expected (inputs not in "
                        f"`fixed`), got {len(args)}")
    if not seq_pos:
        raise TypeError("loop: at least one input must be a sequence")
    if set(compiled.value_args) & set(seq_pos):
        raise NotImplementedError("loop: shapes depend on the values of a sequence argument")
    arrays: list[np.ndarray] = [None] * len(inputs)  # type: ignore[list-item]
    for i, value in fixed_pos.items():
        arrays[i] = sig.args[i].convert(value)
    seqs = {i: _sequence(sig.args[i], a, batch_size) for i, a in zip(seq_pos, args)}
    n_rows = {len(a) for a in seqs.values()}
    if len(n_rows) != 1:
        raise ValueError(f"loop: sequences differ in length: {sorted(n_rows)}")
    n = n_rows.pop()
    if n == 0:
        raise ValueError("loop: the sequences are empty")
    batch = batch_size or 0
    n_batches = n if batch == 0 else -(-n // batch)
    steps = epochs * n_batches
    pool = loop_buffers(compiled)
    # The updated shared variables run on copies (the storages stay as they were until
    # the loop ends or stops); the others are only read.
    updated = set(sig.update_index)
    state_values = [pool.state(v, 2 * len(updated)) if k in updated else v
                    for k, v in enumerate(sig.storages())]

    def shapes(rows: int) -> tuple:
        out = []
        for i, arr in enumerate(arrays):
            if i in seqs:
                out.append(seqs[i].shape[1:] if batch == 0 else (rows,) + seqs[i].shape[1:])
            else:
                out.append(arr.shape)
        return tuple(out) + tuple(v.shape for v in state_values)

    call_args = [seqs[i][0] if i in seqs else a for i, a in enumerate(arrays)] + state_values
    last_rows = n - (n_batches - 1) * batch if batch else 1
    # Without stop_on_nan, a step writes its updates straight into the state copies
    # (as a call does into the shared storage): no copy per update and step.
    direct = not stop_on_nan
    plans = _StepPlans(compiled, shapes, call_args, len(arrays), direct)
    P_full, out_full, params = plans.plan(batch)
    P_last, out_last, params_last = (P_full, out_full, params) \
        if batch == 0 or last_rows == batch else plans.plan(last_rows)
    n_out = sig.n_outputs
    for s, k, shape in zip(sig.updates, sig.update_index, out_full[n_out:]):
        if shape != state_values[k].shape:
            raise ValueError(f"loop: the update of {s!r} changes its shape "
                             f"{state_values[k].shape} to {shape}; a loop needs fixed shapes")
    if record_every and any(a != b for a, b in zip(out_full[:n_out], out_last[:n_out])):
        raise ValueError("loop: the last, short batch gives outputs of another shape; "
                         "record every step only with batches that divide the data, or "
                         "record_every=None")
    itemsizes = [d.itemsize for d in sig.out_dtypes]
    out_bufs = [pool.scratch(max(math.prod(a), math.prod(b)) * size)
                for a, b, size in zip(out_full, out_last, itemsizes)]
    n_in = len(arrays) + len(state_values)
    base = [seqs[i] if i in seqs else a for i, a in enumerate(arrays)] + state_values
    L = [n_in + len(out_bufs) + len(compiled.constants), len(seqs), n, batch, 0, 0, n_batches,
         n_out, record_every or 0, int(stop_on_nan), 0 if direct else len(sig.updates),
         int(shuffle is not None)]
    stages = []
    for i, arr in seqs.items():
        row_bytes = arr[0].nbytes if arr.ndim > 1 else arr.itemsize
        L += [i, row_bytes]
        stages.append(pool.scratch(max(batch, 1) * row_bytes))
    kinds = {np.dtype("float64"): 8, np.dtype("float32"): 4}
    for o in range(n_out):
        nbytes = [math.prod(s[o]) * itemsizes[o] for s in (out_full, out_last)]
        L += [n_in + o, *nbytes, kinds.get(sig.out_dtypes[o], 0)]
    for u, k in enumerate(() if direct else sig.update_index):
        L += [n_in + n_out + u, len(arrays) + k, state_values[k].nbytes]
    n_records = steps // record_every if record_every else 0
    records = [np.empty((n_records, *out_full[o]), sig.out_dtypes[o]) for o in range(n_out)]
    perm = _permutations(shuffle, n, epochs) if shuffle is not None else None
    fb, ffi = compiled.from_buffer, compiled.ffi
    entry = compiled.entry_point("_loop")
    if specialize:
        why = _not_specialized(compiled, plans, P_full, P_last)
        if why:
            warnings.warn(f"loop(specialize=True): {why}; the loop runs the general module",
                          stacklevel=3)
        else:
            module = compiled.specialized(P_full)
            entry = getattr(module.lib, compiled.program.entry + "_loop")
            fb, ffi = module.ffi.from_buffer, module.ffi
            P_full = P_last = fb("int64_t[]", plans.plan(batch)[2])
    # The steps' workspace, from the pool (a loop with a plan per step allocates its own
    # at each call, sized by that step's plan).
    ws_bytes = 0 if plans.per_step else max(int(params[0]), int(params_last[0]))
    workspace = [pool.scratch(ws_bytes)] if ws_bytes else []
    keep = [*base, *out_bufs, *stages, *records, *workspace, plans, P_full]  # during calls
    X = ffi.new("void *[]", [fb(a, require_writable=True) if a.flags.writeable else fb(a)
                             for a in base]
                + [fb(b, require_writable=True) for b in out_bufs] + list(compiled.constants)
                + [fb(b, require_writable=True) for b in stages]
                + [fb(perm) if perm is not None else ffi.NULL]
                + [fb(r, require_writable=True) for r in records]
                + [fb(w, require_writable=True) for w in workspace] + [ffi.NULL] * (not workspace))
    L_arr = np.array(L, dtype=np.int64)
    state = np.zeros(3, dtype=np.int64)
    errbuf = ffi.new(f"char[{ERRBUF_SIZE}]")
    L_ptr = fb("int64_t[]", L_arr)
    state_ptr = fb("int64_t[]", state, require_writable=True)
    done, chunk, reported = 0, 1, time.perf_counter()
    try:
        while done < steps:
            end = min(steps, done + chunk)
            if plans.per_step:  # one step per C call, with the plan its values select
                end = done + 1
                last = batch > 0 and done % n_batches == n_batches - 1
                P_full = P_last = plans.check(done, last_rows if last else batch,
                                              out_last if last else out_full)
            L_arr[4], L_arr[5] = done, end
            started = time.perf_counter()
            rc = entry(P_full, P_last, errbuf, L_ptr, X, state_ptr)
            elapsed = time.perf_counter() - started
            done = int(state[0])
            if rc:
                message = ffi.string(errbuf).decode(errors="replace")
                raise compiled.error(rc, message, None, f" at loop step {done}")
            if state[1]:
                warnings.warn(f"loop stopped at step {done} (epoch {done // n_batches}): "
                              f"output {int(state[2])} is not finite; the shared variables "
                              "hold the values from before that step", LoopStopped,
                              stacklevel=3)
                break
            if progress is not None and (not plans.per_step or done == steps
                                         or time.perf_counter() - reported >= CHUNK_SECONDS):
                progress(done, steps)
                reported = time.perf_counter()
            chunk = max(1, min(chunk * 4, int(chunk * CHUNK_SECONDS / max(elapsed, 1e-6))))
    finally:  # also on Ctrl-C and errors: the state after the last complete step
        sig.set_storages(state_values)
        del keep
    final_is_short = batch > 0 and done > 0 and (done - 1) % n_batches == n_batches - 1
    results = _results(sig, records, out_bufs, out_last if final_is_short else out_full,
                       record_every, done)
    del X  # its buffers no longer point into the scratch arrays
    pool.give(out_bufs + stages + workspace)
    return results


def _not_specialized(compiled: CompiledModule, plans: _StepPlans, P_full: Any,
                     P_last: Any) -> str:
    """Why a loop cannot run a module specialized to its plan ("" when it can)."""
    if plans.per_step:
        return "its plan changes between steps (an update feeds a shape or a branch)"
    if P_last is not P_full:
        return "its last batch is shorter (a batch size that divides the rows allows it)"
    if len(compiled.program.steps) > TABLE_STEPS:
        return (f"its step has {len(compiled.program.steps)} kernels (over {TABLE_STEPS}, "
                "they run from a table)")
    if compiled.profile is not None:
        return "the function is profiled"
    return ""


def _count(name: str, value: Any, least: int) -> int:
    """`value` as an int >= `least`: TypeError for a non-integer (0.5, nan, inf, True),
    ValueError for a smaller one."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"loop: {name} must be an integer, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"loop: {name} must be an integer, got {value!r} "
                        f"({type(value).__name__})") from None
    if count < least:
        raise ValueError(f"loop: {name} must be >= {least}, got {count}")
    return count


class _StepPlans:
    """The plans of the loop's steps, as `cg_loop_run` reads them: with `direct`, the
    call's plans, whose steps write each update into its state copy (in place, or
    copied there once the step's kernels are done); else the updates are left in the
    step's output buffers, for the loop to copy after checking the outputs
    (stop_on_nan).

    A plan depends on the argument shapes and on the values of `value_args` (an
    ifelse condition, a symbolic size). When an update changes one of those values
    (`per_step`), every step looks up the plan its values select, as a call from
    Python would; otherwise one plan serves all steps.
    """

    def __init__(self, compiled: CompiledModule, shapes: Callable[[int], tuple], arrays: list,
                 n_inputs: int, direct: bool = False):
        self.compiled, self.shapes, self.arrays = compiled, shapes, arrays
        self.direct = direct
        updated = {n_inputs + k for k in compiled.signature.update_index}
        self.per_step = bool(updated & set(compiled.value_args))
        self.cache: dict[tuple, tuple] = {}

    def plan(self, rows: int) -> tuple:
        """(P for C, output shapes, P) for a step of `rows` rows (0: one row)."""
        key = self.shapes(rows)
        # The values themselves (bytes): array-valued ones cannot join the Function's key.
        compiled = self.compiled
        key += tuple(self.arrays[i].tobytes() for i in compiled.value_args)
        hit = self.cache.get(key)
        if hit is None:
            found = compiled.plan(key, self.arrays)
            P = found.params if self.direct else _not_in_place(compiled.program,
                                                                found.params)
            hit = self.cache[key] = (compiled.from_buffer("int64_t[]", P), found.out_shapes, P)
        return hit

    def check(self, step: int, rows: int, want: tuple) -> Any:
        """The plan of loop step `step`; ValueError if it changes a shape."""
        P, out_shapes, _ = self.plan(rows)
        if tuple(out_shapes) != tuple(want):
            raise ValueError(f"loop: at step {step} the outputs and updates change shapes "
                             f"from {list(want)} to {list(out_shapes)}; a loop needs fixed "
                             "shapes (call the function from Python instead)")
        return P


def _not_in_place(program: Program, P: np.ndarray) -> np.ndarray:
    """A copy of the plan array `P` with every update left in its output buffer."""
    P = P.copy()
    for u in program.updates:
        P[u.flag_slot] = 0
        if u.inplace_slot >= 0:  # the update was to be written in place: never in a loop
            P[u.inplace_slot] = 0
    return P


def _permutations(seed: int, n: int, epochs: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(n) for _ in range(epochs)]).astype(np.int64)


def _fixed_positions(inputs: list, fixed: Mapping[Any, Any]) -> dict[int, Any]:
    out = {}
    for key, value in fixed.items():
        matches = [i for i, v in enumerate(inputs) if v is key or (v.name and v.name == key)]
        if not matches:
            raise KeyError(f"loop: fixed argument {key!r} is not an input of the function")
        out[matches[0]] = value
    return out


def _results(sig: Signature, records: list[np.ndarray], out_bufs: list[np.ndarray],
             last_shapes: tuple, record_every: int | None, done: int) -> Any:
    n_out = sig.n_outputs
    if record_every:
        outs = [r[:done // record_every] for r in records]
    elif done == 0:
        outs = [None] * n_out
    else:
        outs = [buf[:math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape).copy()
                for buf, shape, dtype in zip(out_bufs, last_shapes, sig.out_dtypes)]
    return sig.pack(outs)
