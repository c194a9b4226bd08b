"""`scan`, as Theano programs call it: taps, go_backwards, implicit non-sequences and
updates returned by the step, all rewritten into one Scan op of rows and states.

A tapped sequence becomes one shifted slice per tap, an output with taps [-k..-1]
becomes k states that shift by one each step, and go_backwards reverses the
sequences; the Scan op itself only knows rows (tap 0) and previous outputs (tap -1).
A shared variable the step updates (an updates dict it returns, or a random stream's
default update) becomes one more state, whose value after the last step comes back in
the returned updates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cgraph.graph.basic import Constant, Variable, clone_replace, graph_inputs
from cgraph.scan.inner import (
    ReverseRows,
    as_list,
    check_steps,
    fed_back,
    fresh,
    like,
    ready,
    row_of,
)
from cgraph.scan.op import Scan
from cgraph.tensor.ifelse import ifelse
from cgraph.tensor.math import gt
from cgraph.tensor.shape import shape_i
from cgraph.tensor.sharedvar import SharedVariable
from cgraph.tensor.type import TensorVariable, as_tensor_variable


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None,
         non_sequences: Any = None, n_steps: Any = None, truncate_gradient: int = -1,
         go_backwards: bool = False, mode: Any = None, name: str | None = None,
         strict: bool = False) -> tuple[Any, dict]:
    """Theano's scan: `fn(*sequence rows, *previous outputs, *non_sequences)` per step.

    A sequence may be `dict(input=x, taps=[-1, 0, 1])` (fn gets x[t-1], x[t], x[t+1];
    the loop runs len(x) - 2 steps) and an output `dict(initial=v, taps=[-2, -1])`
    (fn gets the outputs of two steps back and of the previous step; `v` holds the two
    rows before the first step). `go_backwards` runs over the sequences reversed.
    `n_steps` (an integer scalar, symbolic or not) is the number of steps: a negative
    value raises ValueError (at build time for a constant, at call time otherwise),
    and more steps than a sequence has rows raises too. Without it the loop runs
    over the shortest sequence.

    `fn` returns its outputs, or `(outputs, updates)`, or only `updates`: a dict (or
    list of pairs) from shared variables to their new values, computed from the values
    of the previous step; the loop carries them. `truncate_gradient=k` makes the
    gradient go back through the last k steps only (Theano's truncated
    backpropagation through time); -1, the default, goes through all.

    Returns `(outputs, updates)`: the outputs stacked over the steps (a variable, a
    list when there are several, None when there are none) and a dict giving each
    updated shared variable (and each random stream drawn from in the step) its value
    after the last step, to pass to `function(..., updates=updates)`.
    """
    if isinstance(truncate_gradient, bool) or not isinstance(truncate_gradient, int) or (
            truncate_gradient < 1 and truncate_gradient != -1):
        raise ValueError("scan: truncate_gradient must be -1 (all steps) or a number of "
                         f"steps >= 1, got {truncate_gradient!r}")
    seqs, infos = as_list(sequences), as_list(outputs_info)
    if go_backwards:
        seqs = [dict(s, input=ReverseRows()(s["input"])) if isinstance(s, dict)
                else ReverseRows()(s) for s in seqs]
    flat_seqs: list = []
    for s in seqs:
        x, taps = (s["input"], list(s.get("taps", [0]))) if isinstance(s, dict) else (s, [0])
        flat_seqs.extend(_tapped_rows(as_tensor_variable(x), taps))
    flat_infos, windows = _windows(infos)

    def step(*args: Any) -> tuple[list, dict]:
        rows, args = list(args[:len(flat_seqs)]), list(args[len(flat_seqs):])
        user_args, k = rows, 0
        for taps in windows:
            if taps is not None:
                depth = -min(taps)
                states = args[k:k + depth]
                user_args = user_args + [states[-t - 1] for t in taps]
                k += depth
        outs, updates = split_result(fn(*user_args, *args[k:]))
        if infos and len(outs) != len(infos):
            raise ValueError(f"scan: outputs_info has {len(infos)} entries but the step "
                             f"returns {len(outs)} outputs")
        flat = []
        for j, out in enumerate(outs):
            taps = windows[j] if infos else None
            flat.append(out)
            if taps is not None and -min(taps) > 1:
                depth = -min(taps)
                start = sum(-min(t) for t in windows[:j] if t is not None)
                flat.extend(args[start:start + depth - 1])  # the window moves by one
        return flat, updates

    stacked, updates = _scan_rows(step, flat_seqs, flat_infos, non_sequences, n_steps,
                                  name, truncate_gradient)
    if not infos:
        return _one_or_list(stacked), updates
    picked, k = [], 0
    for taps in windows:
        picked.append(stacked[k])
        k += 1 if taps is None else -min(taps)
    return _one_or_list(picked), updates


def split_result(result: Any) -> tuple[list, dict]:
    """The step's outputs and updates, from what `fn` returned: outputs,
    `(outputs, updates)`, `(updates, outputs)` or updates alone."""
    if _is_updates(result):
        return [], dict(result)
    if isinstance(result, tuple) and len(result) == 2:
        if _is_updates(result[1]):
            return as_list(result[0]), dict(result[1])
        if _is_updates(result[0]):
            return as_list(result[1]), dict(result[0])
    return as_list(result), {}


def _is_updates(x: Any) -> bool:
    if isinstance(x, Mapping):
        return True
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], SharedVariable)
                    for p in x))


def _windows(infos: list) -> tuple[list, list]:
    """The initial states of the loop (one per tap back) and, per user output, its
    taps (None for an output that is not fed back)."""
    flat_infos, windows = [], []
    for info in infos:
        taps = list(info.get("taps", [-1])) if isinstance(info, dict) else [-1]
        if info is None:
            windows.append(None)
            flat_infos.append(None)
            continue
        initial = as_tensor_variable(info["initial"] if isinstance(info, dict) else info)
        if not taps or any(t >= 0 for t in taps):
            raise ValueError(f"scan: output taps must be negative, got {taps}")
        depth = -min(taps)
        windows.append(taps)
        # state j (1..depth) holds the output of j steps back
        flat_infos.extend([initial] if depth == 1 else
                          [initial[depth - j] for j in range(1, depth + 1)])
    return flat_infos, windows


def _tapped_rows(x: TensorVariable, taps: list[int]) -> list[TensorVariable]:
    """One sequence per tap: x[t - lo : len - (hi - t)] gives fn x[step + t]."""
    if not taps:
        raise ValueError("scan: a sequence needs at least one tap")
    lo, hi = min(taps), max(taps)
    if (lo, hi) == (0, 0):
        return [x] * len(taps)
    return [x[t - lo:] if t == hi else x[t - lo:shape_i(x, 0) - (hi - t)] for t in taps]


def _scan_rows(fn: Callable, seqs: list, infos: list, non_sequences: Any, n_steps: Any,
               name: str | None, truncate_gradient: int) -> tuple[list, dict]:
    """The scan of plain rows (tap 0) and previous outputs (tap -1): the stacked
    outputs, in the order fn returns them, and the updates."""
    rest = [as_tensor_variable(v) for v in as_list(non_sequences)]
    outer_seqs = [ready(as_tensor_variable(s)) for s in seqs]
    state_pos = [k for k, info in enumerate(infos) if info is not None]
    states = [ready(as_tensor_variable(infos[k])) for k in state_pos]
    inner_seqs = [row_of(s) for s in outer_seqs]
    inner_states = [like(s, f"{s.name or 'state'}[t-1]") for s in states]
    inner_rest = [like(r) for r in rest]
    inner = inner_seqs + inner_states + inner_rest
    outs, step_updates = split_result(fn(*inner))
    outs = [as_tensor_variable(o) for o in outs]
    if infos and len(infos) != len(outs):
        raise ValueError(f"scan: outputs_info has {len(infos)} entries but the step returns "
                         f"{len(outs)} outputs")
    loop = _Loop(states, inner_states, rest, inner_rest)
    # a key may be the step's placeholder of a shared variable passed as a non-sequence
    outer_of = {id(p): r for p, r in zip(inner_rest, rest)}
    step_updates = {outer_of.get(id(v), v): value for v, value in step_updates.items()}
    updated, outs, values = loop.close_over(outs, _checked_updates(step_updates), inner)
    fed = [fed_back(outs[k], init, f"output {k}") for k, init in zip(state_pos, states)]
    fed += [_update_value(new, v) for new, v in zip(values, updated)]
    plain = [o for k, o in enumerate(outs) if k not in state_pos]
    inner = inner_seqs + loop.inner_states + loop.inner_rest
    op = Scan(inner, [fresh(o, inner) for o in fed + plain], len(outer_seqs),
              len(loop.states), steps_given=n_steps is not None,
              truncate_gradient=truncate_gradient)
    stacked = as_list(op(_steps_input(n_steps, outer_seqs), *outer_seqs, *loop.states,
                         *loop.rest))
    by_position = dict(zip(state_pos, stacked))
    others = iter(stacked[len(loop.states):])
    ordered = [by_position[k] if k in by_position else next(others) for k in range(len(outs))]
    if name:
        for v in ordered:
            v.name = name
    # the value after the last step; after no step at all, the value before
    updates = {v: _last(stacked[len(state_pos) + j], init) for j, (v, init) in
               enumerate(zip(updated, loop.states[len(state_pos):]))}
    for v, last in updates.items():  # a stream moves on without updates passed too
        if v.default_update is not None:
            v.default_update = last
    return ordered, updates


class _Loop:
    """The loop's states and non-sequences (outer variables and the step's
    placeholders), as the step's outer variables join them."""

    def __init__(self, states: list, inner_states: list, rest: list, inner_rest: list):
        self.states, self.inner_states = list(states), list(inner_states)
        self.rest, self.inner_rest = list(rest), list(inner_rest)

    def close_over(self, outs: list, updates: list[tuple], inner: list
                   ) -> tuple[list, list, list]:
        """Make the outer variables the step reads loop inputs: each updated shared
        variable (the step's `updates`, and a random stream drawn from, advanced by its
        default update) a state, every other one a non-sequence, as in Theano.

        Returns the updated shared variables, and `outs` and their new values
        computed from the step's inputs."""
        inner_ids = {id(v) for v in inner}
        pairs = list(updates)
        while True:
            free = [v for v in graph_inputs(outs + [value for _, value in pairs])
                    if id(v) not in inner_ids and not isinstance(v, Constant)]
            known = {id(v) for v, _ in pairs}
            streams = [v for v in free if getattr(v, "default_update", None) is not None
                       and id(v) not in known]
            if not streams:
                break
            pairs += [(v, v.default_update) for v in streams]
        replace: dict[Variable, Variable] = {}
        for v, _ in pairs:
            self._make_state(v, replace)
        known = {id(v) for v, _ in pairs}
        for v in free:
            if id(v) not in known:
                replace[v] = like(v)
                self.rest.append(v)
                self.inner_rest.append(replace[v])
        cloned = clone_replace(outs + [value for _, value in pairs], replace)
        return [v for v, _ in pairs], cloned[:len(outs)], cloned[len(outs):]

    def _make_state(self, v: SharedVariable, replace: dict) -> None:
        for j, r in enumerate(self.rest):
            if r is v:  # passed as a non-sequence: its placeholder becomes a state's
                self.states.append(self.rest.pop(j))
                self.inner_states.append(self.inner_rest.pop(j))
                return
        replace[v] = like(v)
        self.states.append(v)
        self.inner_states.append(replace[v])


def _checked_updates(updates: dict) -> list[tuple]:
    """The step's updates as (shared variable, new value) pairs; TypeError for a key
    that is not a shared variable."""
    pairs = []
    for v, value in updates.items():
        if not isinstance(v, SharedVariable):
            raise TypeError(f"scan: the step's updates must be keyed by shared variables, "
                            f"got {v!r} ({type(v).__name__})")
        pairs.append((v, as_tensor_variable(value)))
    return pairs


def _update_value(new: TensorVariable, v: SharedVariable) -> TensorVariable:
    """The new value of `v` a step gives, in `v`'s dtype: a TypeError for another
    rank or a dtype `v` cannot hold without loss (as `function`'s updates)."""
    if new.ndim != v.ndim:
        raise TypeError(f"scan: the step updates {v!r} ({v.type}) with a value of "
                        f"{new.ndim} dimensions ({new.type})")
    if new.dtype == v.dtype:
        return new
    if not np.can_cast(new.dtype, v.dtype, "safe"):
        raise TypeError(f"scan: the step updates {v!r} ({v.dtype}) with a {new.dtype} value, "
                        f"which {v.dtype} cannot hold without loss; cast it "
                        f"(value.astype('{v.dtype}'))")
    return new.astype(v.dtype)


def _steps_input(n_steps: Any, seqs: list) -> TensorVariable:
    """The scan's n_steps input: an int64 scalar (0 as a placeholder when not given)."""
    if n_steps is None:
        if not seqs:
            raise ValueError("scan: give n_steps when there are no sequences")
        return as_tensor_variable(np.int64(0))
    n = as_tensor_variable(n_steps)
    if n.ndim != 0 or n.dtype[0] not in "iu":
        raise TypeError(f"scan: n_steps must be an integer scalar, got {n.type}")
    if isinstance(n, Constant):
        check_steps(int(n.data))
    return n if n.dtype == "int64" else n.astype("int64")


def _last(stacked: TensorVariable, init: TensorVariable) -> TensorVariable:
    """The last row of a state's stacked values, or `init` when there are no rows."""
    return ifelse(gt(shape_i(stacked, 0), 0), stacked[-1], init)


def _one_or_list(outputs: list) -> Any:
    """Theano's return convention: one variable, a list of several, None for none."""
    if not outputs:
        return None
    return outputs[0] if len(outputs) == 1 else outputs
