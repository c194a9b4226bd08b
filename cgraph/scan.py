"""`scan`: Theano's loop, compiled so that the whole loop runs inside the function's C.

The step function `fn` is called once, on symbolic slices, to build the step's graph.
That graph is lowered to its own program (kernels and a `static` entry point, with
prefixed names) inside the outer module; the scan kernel calls it once per step with
pointers to the current rows of the sequences, the previous states and the rows of
the outputs. Its plan (shapes, strides, workspace) is the same for every step and is
stored inside the outer plan.

Supported: sequences and outputs_info with any taps (or None for outputs that are
not fed back), non_sequences, n_steps, go_backwards, and gradients (a second scan
over the steps in reverse, see `Scan.grad`). Taps and go_backwards are rewritten
before the op is built: a tapped sequence becomes one shifted slice per tap, an
output with taps [-k..-1] becomes k states that shift by one each step, and
go_backwards reverses the sequences; the Scan op itself only knows rows (tap 0) and
previous outputs (tap -1), so gradients need nothing more. Random draws in the step
work as in Theano: each stream's state is carried as one more state, and its value
after the last step comes back in the returned updates. Not yet: other updates returned
by `fn`, second derivatives, truncate_gradient (these raise NotImplementedError).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.codegen.kernels import Kernel, contiguous_strides, uses_blas
from cgraph.codegen.lower import Lowered, lower
from cgraph.codegen.plan import make_plan
from cgraph.codegen.render import render_program
from cgraph.graph.basic import Apply, Constant, Op, Variable, ViewOp, clone_replace, graph_inputs
from cgraph.graph.fg import FunctionGraph
from cgraph.graph.grad import grad as grad_of
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import concatenate as T_concat
from cgraph.tensor.math import upcast
from cgraph.tensor.shape import shape_i
from cgraph.tensor.subtensor import AdvancedSubtensor, Subtensor, set_subtensor
from cgraph.tensor.subtensor_index import ARRAY, INT, NEW, SLICE, SYM, Index
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

_contiguous = Elemwise(ScalarOp("scan_contiguous", 1, "{0}", lambda a: np.array(a), upcast,
                                lambda x, o, gz: [gz]))


def _check_steps(n: int) -> None:
    # Theano and PyTensor refuse a negative count too (their old meaning, running
    # backwards, is go_backwards now).
    if n < 0:
        raise ValueError(f"scan: n_steps must be >= 0, got {n} (to run over the "
                             "sequences in reverse, pass go_backwards=True)")


class Scan(Op):
    """A loop over `n_steps` of a step graph.

    Inputs: n_steps (int64), sequences, initial states, non-sequences. Outputs: for
    each state, then each plain output, the stacked values of all steps. With
    `steps_given` False, the n_steps input is ignored and the loop runs over the
    shortest sequence; otherwise a negative n_steps raises ValueError.
    """

    c_family = "scan"
    value_inputs = (0,)

    def __init__(self, inner_inputs: list[Variable], inner_outputs: list[Variable],
                 n_seqs: int, n_states: int, steps_given: bool = True):
        self.steps_given = steps_given
        self.fgraph = FunctionGraph(inner_inputs, inner_outputs)
        gather_symbolic_ints(self.fgraph)
        self.n_seqs, self.n_states = n_seqs, n_states
        self.n_plain = len(inner_outputs) - n_states
        self._lowered: Lowered | None = None
        self._py = None

    # Every scan is its own op: two scans are never merged as equal.
    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return "scan"

    @property
    def lowered(self) -> Lowered:
        if self._lowered is None:
            # Names come from the step's content, so that a function with this scan is
            # the same C in every process (a disk-cache hit), and two different scans
            # in one module never share a name: a draft lowering gives the content.
            draft = lower(self.fgraph, prefix="s_")
            digest = hashlib.sha256(repr(draft.program).encode()).hexdigest()[:12]
            self._lowered = lower(self.fgraph, prefix=f"s{digest}_")
            if self._lowered.value_args:
                raise NotImplementedError(
                    "scan: a step whose shapes depend on values (e.g. a slice x[i:j] with "
                    "symbolic bounds; x[i] works)")
        return self._lowered

    def make_node(self, n_steps: Any, *args: Any) -> Apply:
        n_steps = as_tensor_variable(n_steps)
        outer = [as_tensor_variable(a) for a in args]
        outs = []
        for v in self.fgraph.outputs:
            outs.append(TensorType(v.type.dtype, (None, *v.type.shape)).make_variable())
        return Apply(self, [n_steps, *outer], outs)

    # ----------------------------------------------------------------- shapes

    def _steps(self, shapes: list, n_steps: Any) -> int:
        n = int(n_steps)
        lengths = [shapes[1 + j][0] for j in range(self.n_seqs)]
        if not self.steps_given:
            if not lengths:
                raise ValueError("scan: give n_steps when there are no sequences")
            n = min(lengths)
        _check_steps(n)
        for j, length in enumerate(lengths):
            if length < n:
                raise ValueError(f"scan: sequence {j} has {length} rows, fewer than the "
                                 f"{n} steps")
        return n

    def inner_shapes(self, shapes: list) -> tuple:
        """Shapes of the step's inputs: a row of each sequence, states, non-sequences."""
        seqs = [tuple(s[1:]) for s in shapes[1:1 + self.n_seqs]]
        return tuple(seqs + [tuple(s) for s in shapes[1 + self.n_seqs:]])

    def infer_shape(self, node: Apply, shapes: list, values: list) -> list:
        n = self._steps(shapes, values[0])
        plan = make_plan(self.lowered, self.inner_shapes(shapes))
        states = shapes[1 + self.n_seqs:1 + self.n_seqs + self.n_states]
        for k, (init, new) in enumerate(zip(states, plan.out_shapes)):
            if tuple(init) != tuple(new):
                raise ValueError(f"scan: state {k} starts with shape {tuple(init)} but the "
                                 f"step returns shape {tuple(new)}")
        return [(n, *s) for s in plan.out_shapes]

    # ----------------------------------------------------------------- reference

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        shapes = [np.shape(a) for a in inputs]
        n = self._steps(shapes, inputs[0])
        seqs = inputs[1:1 + self.n_seqs]
        states = list(inputs[1 + self.n_seqs:1 + self.n_seqs + self.n_states])
        rest = inputs[1 + self.n_seqs + self.n_states:]
        results: list[list[np.ndarray]] = [[] for _ in self.fgraph.outputs]
        for t in range(n):
            outs = self._step([q[t] for q in seqs] + states + list(rest))
            for k, o in enumerate(outs):
                results[k].append(o)
            states = outs[:self.n_states]
        return [np.stack(r).astype(v.type.dtype) if r else
                np.empty((0, *self._row_shape(shapes, k)), v.type.dtype)
                for k, (r, v) in enumerate(zip(results, self.fgraph.outputs))]

    def _step(self, args: list[np.ndarray]) -> list[np.ndarray]:
        """One step with the ops' numpy references."""
        values = {id(v): np.asarray(a) for v, a in zip(self.fgraph.inputs, args)}
        for node in self.fgraph.toposort():
            ins = [values[id(v)] if id(v) in values else v.data for v in node.inputs]
            for out, value in zip(node.outputs, node.op.perform(node, ins)):
                values[id(out)] = np.asarray(value)
        return [np.array(values[id(v)], dtype=v.type.dtype) for v in self.fgraph.outputs]

    def _row_shape(self, shapes: list, k: int) -> tuple:
        return make_plan(self.lowered, self.inner_shapes(shapes)).out_shapes[k]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        """Backpropagation through the loop: a second scan, over the steps in reverse.

        Its step is the forward step's vector-Jacobian product: from the gradients of a
        step's outputs (for a state: the output's own gradient plus what flows back
        from the next step) it gives the gradients of the step's inputs; those of the
        states flow on, those of the non-sequences accumulate.
        """
        n_seq, n_states = self.n_seqs, self.n_states
        seqs = inputs[1:1 + n_seq]
        inits = inputs[1 + n_seq:1 + n_seq + n_states]
        rest = inputs[1 + n_seq + n_states:]
        stacked = self(*inputs)
        stacked = stacked if isinstance(stacked, list) else [stacked]
        # h[t-1] for every step: the initial state, then the states of steps 0..n-2.
        prev = [T_concat([init.dimshuffle("x", *range(init.ndim)), h])
                for init, h in zip(inits, stacked[:n_states])]
        n_steps = shape_i(stacked[0], 0) if stacked else inputs[0]

        def step(*args: TensorVariable) -> list[TensorVariable]:
            k = 0
            x_t = list(args[k:k + n_seq]); k += n_seq  # noqa: E702
            h_prev = list(args[k:k + n_states]); k += n_states  # noqa: E702
            g_out = list(args[k:k + len(output_grads)]); k += len(output_grads)  # noqa: E702
            carry = list(args[k:k + n_states]); k += n_states  # noqa: E702
            acc = list(args[k:k + len(rest)]); k += len(rest)  # noqa: E702
            params = list(args[k:])
            fresh = x_t + h_prev + params
            outs = clone_replace(self.fgraph.outputs, dict(zip(self.fgraph.inputs, fresh)))
            cotangents = {o: (g + c if j < n_states else g)
                          for j, (o, g, c) in enumerate(zip(outs, g_out, carry + g_out))}
            grads = grad_of(None, fresh, known_grads=cotangents,
                            disconnected_inputs="ignore")
            d_x, d_h = grads[:n_seq], grads[n_seq:n_seq + n_states]
            d_params = grads[n_seq + n_states:]
            return [*d_h, *[a + d for a, d in zip(acc, d_params)], *d_x]

        zeros_h = [init.zeros_like() for init in inits]
        zeros_p = [r.zeros_like() for r in rest]
        # The loop may read only the first n rows of a sequence (n_steps, or sequences of
        # different lengths): those are the rows to reverse, and the others get zeros.
        whole = not self.steps_given and n_seq <= 1
        used = seqs if whole else [v[:n_steps] for v in seqs]
        # Reversed, h[t-1] is one row further down: drop the first row (h of the last step).
        reverse = [ReverseRows()(v) for v in used]
        reverse += [DropFirstRow()(ReverseRows()(v)) for v in prev]
        reverse += [ReverseRows()(v) for v in output_grads]
        results, _ = scan(step, sequences=reverse, outputs_info=[*zeros_h, *zeros_p,
                                                                 *[None] * n_seq],
                          non_sequences=list(rest), n_steps=n_steps)
        results = results if isinstance(results, list) else [results]
        d_inits = [LastRow()(r) for r in results[:n_states]]
        d_rest = [LastRow()(r) for r in results[n_states:n_states + len(rest)]]
        d_seqs = [ReverseRows()(r) for r in results[n_states + len(rest):]]
        if not whole:
            d_seqs = [set_subtensor(v.zeros_like()[:n_steps], d) for v, d in zip(seqs, d_seqs)]
        return [None, *d_seqs, *d_inits, *d_rest]

    # ----------------------------------------------------------------- C

    def c_kernel(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        program = self.lowered.program
        n_seq, n_states = self.n_seqs, self.n_states
        n_rest = len(node.inputs) - 1 - n_seq - n_states
        n_out = len(node.outputs)
        p_inner = 1 + n_seq + n_out
        return Kernel("scan", name, comment, tuple(outs), tuple(ins),
                      p_inner + program.n_slots,
                      context={"inner": render_program(program), "entry": program.entry,
                               "n_seq": n_seq, "n_states": n_states, "n_rest": n_rest,
                               "n_out": n_out, "p_inner": p_inner,
                               "blas": uses_blas(program.steps)})  # the module links it

    def c_params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
                 in_shapes: list, values: list) -> list[int]:
        for k, (shape, strides) in enumerate(in_layouts[1:], start=1):
            if tuple(strides) != contiguous_strides(shape) and int(np.prod(shape)) > 1:
                raise ValueError(f"scan: input {k} is not contiguous")
        n = self._steps(in_shapes, values[0])
        plan = make_plan(self.lowered, self.inner_shapes(in_shapes))
        row_bytes = []
        for j in range(self.n_seqs):
            shape = in_shapes[1 + j]
            row_bytes.append(int(np.prod(shape[1:], dtype=np.int64))
                             * np.dtype(node.inputs[1 + j].type.dtype).itemsize)
        for k, (shape, _) in enumerate(out_layouts):
            row_bytes.append(int(np.prod(shape[1:], dtype=np.int64))
                             * np.dtype(node.outputs[k].type.dtype).itemsize)
        return [n, *row_bytes, *plan.params.tolist()]


def gather_symbolic_ints(fgraph: FunctionGraph) -> None:
    """Make `x[i]` with a symbolic int `i` computable inside a scan step.

    A step's plan is made once for all steps, so a view whose offset depends on a
    value (basic indexing by a symbolic int) cannot be planned. Such an index becomes
    a gather (integer-array indexing, whose index values C reads at each step) by the
    length-1 array [i], followed by a static [0] on the axis the gather adds. Slices
    with symbolic bounds change the shape, and are left for `lowered` to refuse.
    """
    for node in fgraph.toposort():
        if type(node.op) is not Subtensor or not node.op.value_inputs:
            continue
        entries = node.op.index.entries
        if any(e[0] == SLICE and SYM in e[1:] for e in entries):
            continue
        x, *scalars = node.inputs
        new_entries, arrays, k = [], [], 0
        for e in entries:
            if e[0] == INT and e[1] == SYM:
                new_entries.append((ARRAY,))
                arrays.append(scalars[k].dimshuffle("x"))
                k += 1
            else:
                new_entries.append(e)
        advanced = [p for p, e in enumerate(new_entries) if e[0] in (ARRAY, INT)]
        adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
        # where the gather puts its length-1 axis: in place of the advanced entries when
        # they are adjacent (after the axes of the slices and new axes before them)
        position = sum(e[0] in (SLICE, NEW) for e in new_entries[:advanced[0]]) if adjacent else 0
        gathered = AdvancedSubtensor(Index(tuple(new_entries), adjacent))(x, *arrays)
        out = gathered[(slice(None),) * position + (0,)]
        if out.type == node.outputs[0].type:
            fgraph.replace(node.outputs[0], out)


class LastRow(ViewOp):
    """x[-1] as a view (used by scan's gradient)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape[1:]).make_variable()])

    def infer_shape(self, node: Apply, shapes: list) -> list:
        if shapes[0][0] == 0:
            raise ValueError("scan gradient: no steps to take the last of")
        return [tuple(shapes[0][1:])]

    def view_layout(self, shapes: list, strides: tuple) -> tuple:
        return tuple(shapes[0][1:]), tuple(strides[1:]), (shapes[0][0] - 1) * strides[0]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0][-1]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        raise NotImplementedError("second derivatives through scan")


class DropFirstRow(ViewOp):
    """x[1:] as a view (used by scan's gradient)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (None, *x.type.shape[1:])).make_variable()])

    def infer_shape(self, node: Apply, shapes: list) -> list:
        return [(max(shapes[0][0] - 1, 0), *shapes[0][1:])]

    def view_layout(self, shapes: list, strides: tuple) -> tuple:
        n = shapes[0][0]
        return (max(n - 1, 0), *shapes[0][1:]), tuple(strides), strides[0] if n else 0

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0][1:]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        raise NotImplementedError("second derivatives through scan")


class ReverseRows(ViewOp):
    """x[::-1] as a view (used by scan's gradient)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type.make_variable()])

    def infer_shape(self, node: Apply, shapes: list) -> list:
        return [tuple(shapes[0])]

    def view_layout(self, shapes: list, strides: tuple) -> tuple:
        n = shapes[0][0]
        return tuple(shapes[0]), (-strides[0], *strides[1:]), max(n - 1, 0) * strides[0]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0][::-1]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [ReverseRows()(output_grads[0])]


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

    Returns `(outputs, updates)`: the outputs stacked over the steps (a variable, or a
    list when there are several) and an (empty) updates dict, as Theano does.
    """
    if truncate_gradient != -1:
        raise NotImplementedError("scan: truncate_gradient (only -1, the full gradient)")
    seqs, infos = _as_list(sequences), _as_list(outputs_info)
    if go_backwards:
        seqs = [dict(s, input=ReverseRows()(s["input"])) if isinstance(s, dict)
                else ReverseRows()(s) for s in seqs]
    flat_seqs: list = []
    for s in seqs:
        x, taps = (s["input"], list(s.get("taps", [0]))) if isinstance(s, dict) else (s, [0])
        flat_seqs.extend(_tapped_rows(as_tensor_variable(x), taps))
    flat_infos, windows = [], []  # windows[k]: the taps of user output k (None: plain)
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

    def step(*args: Any) -> list:
        rows, args = list(args[:len(flat_seqs)]), list(args[len(flat_seqs):])
        user_args, k = rows, 0
        for taps in windows:
            if taps is not None:
                depth = -min(taps)
                states = args[k:k + depth]
                user_args = user_args + [states[-t - 1] for t in taps]
                k += depth
        result = fn(*user_args, *args[k:])
        updates = None
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            result, updates = result
        outs = _as_list(result)
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
        return (flat, updates) if updates is not None else flat

    stacked, updates = _scan_rows(step, flat_seqs, flat_infos, non_sequences, n_steps, name)
    if not infos:
        return stacked, updates
    stacked = stacked if isinstance(stacked, list) else [stacked]
    picked, k = [], 0
    for taps in windows:
        picked.append(stacked[k])
        k += 1 if taps is None else -min(taps)
    return (picked[0] if len(picked) == 1 else picked), updates


def _tapped_rows(x: TensorVariable, taps: list[int]) -> list[TensorVariable]:
    """One sequence per tap: x[t - lo : len - (hi - t)] gives fn x[step + t]."""
    if not taps:
        raise ValueError("scan: a sequence needs at least one tap")
    lo, hi = min(taps), max(taps)
    if (lo, hi) == (0, 0):
        return [x] * len(taps)
    return [x[t - lo:] if t == hi else x[t - lo:shape_i(x, 0) - (hi - t)] for t in taps]


def _scan_rows(fn: Callable, seqs: list, infos: list, non_sequences: Any, n_steps: Any,
               name: str | None) -> tuple[Any, dict]:
    """The scan of plain rows (tap 0) and previous outputs (tap -1)."""
    rest = [as_tensor_variable(v) for v in _as_list(non_sequences)]
    outer_seqs = [_ready(as_tensor_variable(s)) for s in seqs]
    states, state_pos = [], []
    for k, info in enumerate(infos):
        if info is None:
            continue
        states.append(_ready(as_tensor_variable(info)))
        state_pos.append(k)
    inner_seqs = [TensorType(s.dtype, s.type.shape[1:]).make_variable(f"{s.name or 'seq'}[t]")
                  for s in outer_seqs]
    inner_states = [TensorType(s.dtype, s.type.shape).make_variable(f"{s.name or 'state'}[t-1]")
                    for s in states]
    inner_rest = [TensorType(r.dtype, r.type.shape).make_variable(r.name) for r in rest]
    result = fn(*inner_seqs, *inner_states, *inner_rest)
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        result, step_updates = result
        if step_updates:
            raise NotImplementedError("scan: updates returned by the step function")
    outs = [as_tensor_variable(o) for o in _as_list(result)]
    # Variables of the outer graph that the step reads without having them passed
    # (shared weights, usually) become non-sequences, as in Theano.
    inner_all = {id(v) for v in inner_seqs + inner_states + inner_rest}
    free = [v for v in graph_inputs(outs)
            if id(v) not in inner_all and not isinstance(v, Constant)]
    # A random stream's state (a shared variable with a default update) becomes one
    # more state of the loop, advanced at each step by its update; its value after the
    # last step is returned in `updates`, to pass to `function`, as in Theano.
    streams = [v for v in free if getattr(v, "default_update", None) is not None]
    advanced: list = []
    if free:
        placeholders = [TensorType(v.type.dtype, v.type.shape).make_variable(v.name)
                        for v in free]
        cloned = clone_replace(outs + [v.default_update for v in streams],
                               dict(zip(free, placeholders)))
        outs, advanced = cloned[:len(outs)], cloned[len(outs):]
        for v, p in zip(free, placeholders):
            if any(v is w for w in streams):
                states.append(v)
                inner_states.append(p)
            else:
                rest.append(v)
                inner_rest.append(p)
    if infos and len(infos) != len(outs):
        raise ValueError(f"scan: outputs_info has {len(infos)} entries but the step returns "
                         f"{len(outs)} outputs")
    fed = [outs[k] for k in state_pos] + advanced
    plain = [o for k, o in enumerate(outs) if k not in state_pos]
    for k, (new, init) in enumerate(zip(fed, states)):
        if new.dtype != init.dtype or new.ndim != init.ndim:
            new = new.astype(init.dtype) if new.ndim == init.ndim else new
            if new.ndim != init.ndim:
                raise TypeError(f"scan: output {state_pos[k]} has {new.type} but its initial "
                                f"value has {init.type}")
            fed[k] = new
    inner_outputs = [_fresh(o, inner_seqs + inner_states + inner_rest) for o in fed + plain]
    op = Scan(inner_seqs + inner_states + inner_rest, inner_outputs, len(outer_seqs),
              len(states), steps_given=n_steps is not None)
    n = _steps_input(n_steps, outer_seqs)
    stacked = op(n, *outer_seqs, *states, *rest)
    stacked = stacked if isinstance(stacked, list) else [stacked]
    by_position: dict[int, TensorVariable] = {}
    for k, pos in enumerate(state_pos):
        by_position[pos] = stacked[k]
    others = iter(stacked[len(states):])
    for k in range(len(outs)):
        if k not in by_position:
            by_position[k] = next(others)
    ordered = [by_position[k] for k in range(len(outs))]
    if name:
        for v in ordered:
            v.name = name
    updates = {v: stacked[len(state_pos) + j][-1] for j, v in enumerate(streams)}
    for v, last in updates.items():  # also without the updates passed to function
        v.default_update = last
    return (ordered[0] if len(ordered) == 1 else ordered), updates


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
        _check_steps(int(n.data))
    return n if n.dtype == "int64" else n.astype("int64")


def _as_list(x: Any) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _ready(v: TensorVariable) -> TensorVariable:
    """A sequence, state or non-sequence the step can read as contiguous rows."""
    if v.owner is not None and isinstance(v.owner.op, ViewOp):
        return _contiguous(v)
    return v


def _fresh(out: TensorVariable, inner_inputs: Sequence[Variable]) -> TensorVariable:
    """A step output that is computed (a copy when fn returns an input or a constant)."""
    if out.owner is None or any(out is v for v in inner_inputs):
        return _contiguous(out)
    return out
