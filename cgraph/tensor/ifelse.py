"""`ifelse(cond, then, else)`: lazy choice between two computations.

Only the taken branch is computed, in C as in mode "PY": the nodes that only a
branch needs carry a guard (cgraph.graph.lazy), which the planner evaluates with
the condition's value; the C skips the kernels whose guard does not hold. The
condition's value is needed when planning: a condition computed from scalar
arguments keys the plan cache; one computed from array data is evaluated (with
numpy) at every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, LazyOp, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.elemwise import cast
from cgraph.tensor.type import TensorType, as_tensor_variable


class IfElse(LazyOp):
    """Choose `n` outputs from the `then` or the `else` inputs, by a scalar condition."""

    __props__ = ("n",)
    value_inputs = (0,)

    def __init__(self, n: int):
        self.n = n

    def __str__(self) -> str:
        return "ifelse"

    def branch_of(self, position: int) -> int:
        """-1 for the condition, 0 for a `then` input, 1 for an `else` input."""
        return -1 if position == 0 else 0 if position <= self.n else 1

    def make_node(self, cond: Any, *branches: Any) -> Apply:
        cond = as_tensor_variable(cond)
        if cond.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar, got {cond.type}")
        if len(branches) != 2 * self.n:
            raise TypeError(f"ifelse: expected {self.n} then and {self.n} else values")
        pairs = []
        outs = []
        for k in range(self.n):
            a, b = as_tensor_variable(branches[k]), as_tensor_variable(branches[self.n + k])
            if a.ndim != b.ndim:
                raise TypeError(f"ifelse: branch {k} has {a.type} when true and {b.type} "
                                "when false: ranks differ")
            dtype = np.result_type(a.dtype, b.dtype).name
            a, b = cast(a, dtype), cast(b, dtype)
            shape = tuple(m if m == n else None for m, n in zip(a.type.shape, b.type.shape))
            pairs.append((a, b))
            outs.append(TensorType(dtype, shape).make_variable())
        inputs = [cond, *[a for a, _ in pairs], *[b for _, b in pairs]]
        return Apply(self, inputs, outs)

    def taken(self, cond: np.ndarray) -> int:
        """The branch a condition value selects: 0 (then) when true."""
        return 0 if bool(np.asarray(cond)) else 1

    def infer_shape(self, node: Apply, shapes: list, values: list) -> list:
        first = 1 + self.n * self.taken(values[0])
        return [tuple(s) for s in shapes[first:first + self.n]]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        first = 1 + self.n * self.taken(inputs[0])
        return [np.array(v, copy=True) for v in inputs[first:first + self.n]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        cond = inputs[0]
        zeros = [g.zeros_like() for g in output_grads]
        then_grads = _as_list(IfElse(self.n)(cond, *output_grads, *zeros))
        else_grads = _as_list(IfElse(self.n)(cond, *zeros, *output_grads))
        return [None, *then_grads, *else_grads]


class IfElseKernel(KernelBuilder):
    """IfElse: each output copied from the branch the plan says was taken (the other
    branch's kernels did not run)."""

    family = "ifelse"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        ndims = tuple(o.type.ndim for o in node.outputs)
        fields = {f"out{k}": ParamLayout("ifelse output", shape=nd, src_strides=nd,
                                         out_strides=nd) for k, nd in enumerate(ndims)}
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      ParamLayout(self.family, taken=1, **fields),
                      context={"n": node.op.n, "ndims": ndims})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        branch = node.op.taken(values[0])
        first = 1 + branch * node.op.n
        fields = {f"out{k}": {"shape": shape, "src_strides": in_layouts[first + k][1],
                              "out_strides": strides}
                  for k, (shape, strides) in enumerate(out_layouts)}
        return kernel.layout.build(taken=branch, **fields)


register_kernel(IfElseKernel(), IfElse)


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None
           ) -> Any:
    """`then_branch` if `condition` (a scalar) is true, else `else_branch`, computing only
    the branch taken. The branches are a variable each, or lists of equal length."""
    many = isinstance(then_branch, (list, tuple))
    thens = list(then_branch) if many else [then_branch]
    elses = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: {len(thens)} values when true but {len(elses)} when false")
    outs = _as_list(IfElse(len(thens))(condition, *thens, *elses))
    if name:
        for o in outs:
            o.name = name
    return outs if many else outs[0]


__all__ = ["IfElse", "ifelse"]
