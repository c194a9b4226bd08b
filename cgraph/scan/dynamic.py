"""Steps whose shapes depend on a state (`x[:h]`, h returned by the previous step):
planned while the loop runs.

No plan of such a step can be made before the loop: it needs a value that the
previous step computes. The scan kernel (`templates/scan.c.j2`) keeps a copy of the
bytes of the step's inputs that shape it (those states and sequence rows) and, at
step 0 and at each step where they changed, calls `replan` (a C function pointer into
Python, a cffi callback) with pointers to the step's inputs. The callback makes the
step's plan with the numpy planner (`make_plan`), cached on the op by those inputs'
bytes, and copies it into the kernel's own buffer; the kernel grows its workspace to
the plan's. Steps whose values repeat cost a compare of a few bytes.

The kernel's plan tail is a context the callback reads (`context`): the callback's
address, the plan length to reserve, the op's token, the shapes of the step's inputs
and of its outputs at step 0. An error in the callback (a shape the step cannot take,
outputs whose shape changes between steps: they are stacked) comes back as the
kernel's error code with a message naming the step and the state.
"""

from __future__ import annotations

import itertools
import math
import weakref
from typing import Any

import cffi
import numpy as np

from cgraph.codegen.plan import Plan, make_plan

_ffi = cffi.FFI()
#: plans kept per op (by the shapes and bytes of the step's shaping inputs); past this
#: count they are dropped (the kernel holds its own copy of the plan it runs)
MAX_PLANS = 4096
#: kernel return codes (csrc/cgraph.h) of the errors a plan can raise
_CODES = ((IndexError, 2), (MemoryError, 4), (ValueError, 3))
_RUNTIME = 1

_ops: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
#: how many times a loop has asked for a step's plan in this process
callbacks = 0
_tokens = itertools.count(1)


def token_of(op: Any) -> int:
    """The number that names `op` to the callback (assigned on first use)."""
    token = op._token
    if token is None:
        token = op._token = next(_tokens)
        _ops[token] = op
    return token


def plan_for(op: Any, inner: tuple, values: list) -> Plan:
    """The plan of a step of `op` with inputs of shapes `inner`; `values` holds the
    values of the step's shaping inputs (None at the others)."""
    key = (inner, b"".join(np.ascontiguousarray(values[i]).tobytes() for i in op.shaping))
    cache = op._dynamic_plans
    plan = cache.get(key)
    if plan is None:
        if len(cache) >= MAX_PLANS:
            cache.clear()
        plan = cache[key] = make_plan(op.lowered, inner, values)
    return plan


def context(op: Any, inner: tuple, first: Plan) -> np.ndarray:
    """The kernel's plan tail for a loop whose step inputs have shapes `inner` and
    whose step 0 has plan `first`: [callback, plan length, context length, token,
    then the step's input shapes and output shapes, each as (ndim, *dims)]."""
    shapes: list[int] = []
    for group in (inner, first.out_shapes):
        shapes.append(len(group))
        for shape in group:
            shapes += [len(shape), *shape]
    head = [_ADDRESS, first.params.size, 4 + len(shapes), token_of(op)]
    return np.asarray(head + shapes, dtype=np.int64)


class _Loop:
    """What a context says, decoded once: the op's token, the step's input shapes,
    the output shapes of step 0, and per shaping input (position, bytes, dtype)."""

    def __init__(self, ints: tuple):
        self.token = ints[3]
        groups, at = [], 4
        for _ in range(2):
            count, at = ints[at], at + 1
            group = []
            for _ in range(count):
                ndim = ints[at]
                group.append(tuple(ints[at + 1:at + 1 + ndim]))
                at += 1 + ndim
            groups.append(tuple(group))
        self.inner, self.expected = groups
        self.reads: list[tuple[int, int, np.dtype]] = []

    def prepare(self, op: Any) -> None:
        """Fill `reads` from `op`'s step inputs (once)."""
        if not self.reads:
            for i in op.shaping:
                dtype = np.dtype(op.fgraph.inputs[i].type.dtype)
                self.reads.append((i, math.prod(self.inner[i]) * dtype.itemsize, dtype))

    def values(self, raws: list[bytes]) -> list:
        """The `values` argument of `plan_for` from the shaping inputs' bytes."""
        values: list = [None] * len(self.inner)
        for (i, _, dtype), raw in zip(self.reads, raws):
            values[i] = np.frombuffer(raw, dtype).reshape(self.inner[i])
        return values


#: decoded contexts, by their integers (dropped past MAX_PLANS)
_loops: dict[tuple, _Loop] = {}


def _states_text(op: Any, values: list) -> str:
    """`state 0 (h) = 3`: the states that shape the step, with their values."""
    parts = []
    for i in op.dynamic:
        value = np.array2string(np.asarray(values[i]), threshold=8, edgeitems=2)
        parts.append(f"state {i - op.n_seqs} ({op.fgraph.inputs[i]}) = {value}")
    return ", ".join(parts)


def _check_outputs(op: Any, t: int, plan: Plan, expected: tuple, values: list) -> None:
    """ValueError when step t's outputs differ in shape from step 0's."""
    for k, (got, want) in enumerate(zip(plan.out_shapes, expected)):
        if tuple(got) != tuple(want):
            what = f"state {k}" if k < op.n_states else f"output {k - op.n_states}"
            raise ValueError(
                f"{what} has shape {tuple(got)} at step {t} but {tuple(want)} at step 0 "
                "(a step's outputs are stacked: their shapes must be the same at every "
                "step)")


def _message(op: Any, t: int, values: list | None, err: Exception) -> bytes:
    """The kernel's error message for `err` raised while planning step t."""
    where = f"scan: step {t}"
    if values is not None:
        where += f" (its shapes depend on {_states_text(op, values)})"
    return f"{where}: {type(err).__name__}: {err}".encode("utf-8", "replace")


def _code(err: Exception) -> int:
    """The kernel return code whose exception class `err` is (RuntimeError's else)."""
    return next((code for cls, code in _CODES if isinstance(err, cls)), _RUNTIME)


@_ffi.callback("int64_t(const int64_t *, int64_t, void **, int64_t *, int64_t, char *, "
               "int64_t)", error=-_RUNTIME)
def _replan(ctx: Any, t: int, args: Any, plan: Any, cap: int, err: Any, errlen: int) -> int:
    """Step t's plan written to `plan` when its length fits `cap`; returns the length,
    or minus an error code with the message in `err` (of `errlen` bytes)."""
    global callbacks
    callbacks += 1
    op, values = None, None
    try:
        ints = tuple(_ffi.unpack(ctx, ctx[2]))
        loop = _loops.get(ints)
        if loop is None:
            if len(_loops) >= MAX_PLANS:
                _loops.clear()
            loop = _loops[ints] = _Loop(ints)
        op = _ops.get(loop.token)
        if op is None:
            raise RuntimeError("the scan this loop belongs to no longer exists")
        loop.prepare(op)
        raws = [_ffi.buffer(args[i], n)[:] if n else b"" for i, n, _ in loop.reads]
        found = op._dynamic_plans.get((loop.inner, b"".join(raws)))  # plan_for's key
        if found is None or found.out_shapes != loop.expected:
            values = loop.values(raws)
            found = plan_for(op, loop.inner, values)
            _check_outputs(op, t, found, loop.expected, values)
        if found.params.size <= cap:
            _ffi.memmove(plan, found.params, found.params.nbytes)
        return found.params.size
    except Exception as e:  # noqa: BLE001 -- every error goes back to C as a code
        text = _message(op, t, values, e) if op is not None else f"scan: {e}".encode()
        text = text[:errlen - 1] + b"\0"
        _ffi.memmove(err, text, len(text))
        return -_code(e)


_ADDRESS = int(_ffi.cast("intptr_t", _replan))
