"""The gradient of a scan: a second scan, over the steps in reverse.

Its step is the forward step's vector-Jacobian product: from the gradients of a
step's outputs (for a state: the output's own gradient plus what flows back from the
next step) it gives the gradients of the step's inputs; those of the states flow on,
those of the non-sequences accumulate. The backward loop is a scan of the same kind,
so it has a gradient too (second derivatives).

`truncate_gradient=k` follows Theano: the backward loop runs over the last k steps
only, so a sequence's rows before them, and the initial states when there are more
than k steps, get zero gradients, and the gradients of the outputs of those earlier
steps are not propagated.
"""

from __future__ import annotations

from typing import Any

from cgraph.graph.basic import Variable, clone_replace
from cgraph.graph.grad import grad as grad_of
from cgraph.scan.inner import as_list, fed_back, fresh, like, ready, row_of
from cgraph.tensor.math import concatenate, gt, minimum, switch
from cgraph.tensor.shape import shape_i
from cgraph.tensor.subtensor import set_subtensor
from cgraph.tensor.type import TensorVariable


def scan_grad(op: Any, inputs: list[Variable], output_grads: list[Variable]) -> list:
    """The gradients of the inputs of a scan node `op(*inputs)` (None for n_steps)."""
    n_seq, n_states = op.n_seqs, op.n_states
    seqs = inputs[1:1 + n_seq]
    inits = inputs[1 + n_seq:1 + n_seq + n_states]
    rest = inputs[1 + n_seq + n_states:]
    stacked = as_list(op(*inputs))
    # h[t-1] for every step: the initial state, then the states of steps 0..n-2.
    prev = [concatenate([init.dimshuffle("x", *range(init.ndim)), h])
            for init, h in zip(inits, stacked[:n_states])]
    n_steps = shape_i(stacked[0], 0)
    truncated = op.truncate_gradient != -1
    back_steps = minimum(n_steps, op.truncate_gradient) if truncated else n_steps
    # The loop may read only the first n rows of a sequence (n_steps, or sequences of
    # different lengths): those are the rows to reverse, and the others get zeros.
    whole = not op.steps_given and n_seq <= 1 and not truncated
    used = seqs if whole else [v[:n_steps] for v in seqs]
    # Reversed, h[t-1] is one row further down: drop the first row (h of the last step).
    reverse = ([v[::-1] for v in used] + [v[::-1][1:] for v in prev]
               + [g[::-1] for g in output_grads])
    if truncated:
        reverse = [v[:back_steps] for v in reverse]
    zeros = [init.zeros_like() for init in inits] + [r.zeros_like() for r in rest]
    results = _backward_loop(op, reverse, zeros, rest, back_steps)
    d_inits = [r[-1] for r in results[:n_states]]
    if truncated:  # the loop did not reach the initial states
        d_inits = [switch(gt(n_steps, op.truncate_gradient), d.zeros_like(), d)
                   for d in d_inits]
    d_rest = [r[-1] for r in results[n_states:n_states + len(rest)]]
    d_seqs = [r[::-1] for r in results[n_states + len(rest):]]
    if not whole:
        first = n_steps - back_steps if truncated else None
        d_seqs = [set_subtensor(v.zeros_like()[first:n_steps], d) for v, d in zip(seqs, d_seqs)]
    return [None, *d_seqs, *d_inits, *d_rest]


def _backward_loop(op: Any, reverse: list, zeros: list, rest: list,
                   back_steps: Any) -> list[TensorVariable]:
    """The backward scan: sequences (rows, previous states, output gradients reversed),
    states (the states' gradients, then the non-sequences' sums), non-sequences."""
    n_seq, n_states = op.n_seqs, op.n_states
    rows = [row_of(v) for v in reverse]
    carried = [like(z, f"{z.name or 'state'}[t-1]") for z in zeros]
    params = [like(r) for r in rest]
    x_t, h_prev, g_out = rows[:n_seq], rows[n_seq:n_seq + n_states], rows[n_seq + n_states:]
    carry, acc = carried[:n_states], carried[n_states:]
    fresh_ins = x_t + h_prev + params
    outs = clone_replace(op.fgraph.outputs, dict(zip(op.fgraph.inputs, fresh_ins)))
    cotangents = {o: (g + c if j < n_states else g)
                  for j, (o, g, c) in enumerate(zip(outs, g_out, carry + g_out))}
    grads = grad_of(None, fresh_ins, known_grads=cotangents, disconnected_inputs="ignore")
    d_x, d_h = grads[:n_seq], grads[n_seq:n_seq + n_states]
    d_params = grads[n_seq + n_states:]
    fed = [*d_h, *[a + d for a, d in zip(acc, d_params)]]
    fed = [fed_back(new, init, f"gradient {k}") for k, (new, init) in enumerate(zip(fed, zeros))]
    inner_ins = rows + carried + params
    inner_outs = [fresh(o, inner_ins) for o in fed + d_x]
    back = type(op)(inner_ins, inner_outs, len(rows), len(carried), steps_given=True,
                    truncate_gradient=op.truncate_gradient, backward=True)
    return as_list(back(back_steps, *[ready(v) for v in reverse], *[ready(z) for z in zeros],
                        *rest))
