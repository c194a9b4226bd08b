"""What every scan builder needs: the step's placeholders, its outputs made ready for
the loop, and the checks of the step count.

The user's `scan` (`cgraph.scan.build`) and the gradient's backward loop
(`cgraph.scan.gradient`) both make their step graph with these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable, ViewOp
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.math import upcast
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

#: a copy: a step output that must be computed (not an input, a constant or a view)
contiguous = Elemwise(ScalarOp("scan_contiguous", 1, "{0}", lambda a: np.array(a), upcast,
                               lambda x, o, gz: [gz]))


def check_steps(n: int) -> None:
    """Refuse a negative step count (ValueError), as Theano and PyTensor do: their old
    meaning, running backwards, is `go_backwards` now."""
    if n < 0:
        raise ValueError(f"scan: n_steps must be >= 0, got {n} (to run over the "
                         "sequences in reverse, pass go_backwards=True)")


def as_list(x: Any) -> list:
    """None -> [], a list or tuple -> a list, anything else -> [x]."""
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def row_of(seq: TensorVariable) -> TensorVariable:
    """The step's placeholder for the current row of sequence `seq`."""
    return TensorType(seq.dtype, seq.type.shape[1:]).make_variable(f"{seq.name or 'seq'}[t]")


def like(v: TensorVariable, name: str | None = None) -> TensorVariable:
    """The step's placeholder for a state or a non-sequence `v` (same type)."""
    return TensorType(v.type.dtype, v.type.shape).make_variable(name or v.name)


def ready(v: TensorVariable) -> TensorVariable:
    """A sequence, state or non-sequence the step can read as contiguous rows."""
    if v.owner is not None and isinstance(v.owner.op, ViewOp):
        return contiguous(v)
    return v


def fresh(out: TensorVariable, inner_inputs: Sequence[Variable]) -> TensorVariable:
    """A step output that is computed (a copy when fn returns an input or a constant)."""
    if out.owner is None or any(out is v for v in inner_inputs):
        return contiguous(out)
    return out


def fed_back(new: TensorVariable, init: TensorVariable, what: str) -> TensorVariable:
    """The value a step feeds to the next, in the type of its initial value `init`.

    A dtype change is cast (as Theano's scan does); a rank change is a TypeError
    naming `what` (e.g. "output 2").
    """
    if new.ndim != init.ndim:
        raise TypeError(f"scan: {what} has {new.type} but its initial value has {init.type}")
    return new if new.dtype == init.dtype else new.astype(init.dtype)


class ReverseRows(ViewOp):
    """x[::-1] as a view whose gradient is a view too (go_backwards).

    `x[::-1]` by Subtensor gives the same forward view, but its gradient writes the
    reversed rows into a zero-filled array (a fill and a copy per call); this one's
    gradient is the reversed view of the output gradient.
    """

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError(f"scan: a sequence must have at least one dimension, got {x.type}")
        return Apply(self, [x], [x.type.make_variable()])

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        return [tuple(shapes[0])]

    def view_layout(self, shapes: list, strides: Sequence[int],
                    values: list | None = None) -> tuple:
        n = shapes[0][0]
        return tuple(shapes[0]), (-strides[0], *strides[1:]), max(n - 1, 0) * strides[0]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [inputs[0][::-1]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [ReverseRows()(output_grads[0])]
