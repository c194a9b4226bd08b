"""choice(replace=False): distinct positions of a population, drawn in C.

Each position i of the population gets a key from block `counter + i` of the stream:
a uniform number, or with probabilities p, an exponential number divided by p[i]
(an exponential race: the first key is position i with probability p[i], the next
among the others in proportion to theirs, which is numpy's successive sampling). The
sample is the positions of the m smallest keys, smallest first (ties, of probability
zero, by position). Mode "PY" sorts the same keys with numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Op, Variable
from cgraph.kernel import Kernel, KernelBuilder, ParamLayout, register_kernel
from cgraph.tensor.random.samplers import Blocks, u01, u01_open
from cgraph.tensor.random.streams import _as_sizes
from cgraph.tensor.shape import checked_size
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable


class ChoiceWithoutReplacement(Op):
    """Distinct positions in range(count), `ndim_size` sizes; `weighted`: drawn with
    the probabilities p (a vector of length count). Inputs: the state, the sizes,
    count, [p]. Outputs: the next state and the int64 positions."""

    __props__ = ("ndim_size", "weighted")

    def __init__(self, ndim_size: int, weighted: bool):
        self.ndim_size, self.weighted = ndim_size, weighted
        self.value_inputs = tuple(range(1, 2 + ndim_size))

    def __str__(self) -> str:
        return "random_choice_without_replacement"

    def make_node(self, state: Any, *args: Any) -> Apply:
        state = as_tensor_variable(state)
        sizes = [as_tensor_variable(s) for s in args[:self.ndim_size]]
        count = as_tensor_variable(args[self.ndim_size])
        rest = [as_tensor_variable(a) for a in args[self.ndim_size + 1:]]
        if count.ndim != 0 or count.dtype[0] not in "iu":
            raise TypeError(f"choice: a must be an integer scalar, got {count.type}")
        if len(rest) != int(self.weighted) or (rest and (rest[0].ndim != 1 or
                                                       rest[0].dtype[0] != "f")):
            raise TypeError("choice: p must be a float vector")
        static = tuple(int(s.data) if hasattr(s, "data") else None for s in sizes)
        outs = [TensorType("int64", (3,)).make_variable(),
                TensorType("int64", static).make_variable()]
        return Apply(self, [state, *sizes, count, *rest], outs)

    def counts(self, size: tuple[int, ...], count: int, p_len: int | None
               ) -> tuple[int, int]:
        """The population N and the sample's m; ValueError when they do not fit."""
        m = int(np.prod(size, dtype=np.int64))
        if count < 0:
            raise ValueError(f"choice: a must be >= 0, got {count}")
        if p_len is not None and p_len != count:
            raise ValueError(f"choice: p has {p_len} probabilities for a population of "
                             f"{count}")
        if m > count:
            raise ValueError(f"choice: cannot take {m} values out of {count} without "
                             "replacement (replace=False)")
        return count, m

    def infer_shape(self, node: Apply, shapes: list, values: list | None = None) -> list:
        size = tuple(int(v) for v in (values or [])[1:1 + self.ndim_size])
        if any(n < 0 for n in size):
            raise ValueError(f"{self}: negative size {size}")
        count = int((values or [])[1 + self.ndim_size])
        self.counts(size, count, shapes[-1][0] if self.weighted else None)
        checked_size(size, "int64", f"{self}: the sample")
        return [(3,), size]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        key, stream, counter = (int(v) & 0xFFFFFFFFFFFFFFFF for v in inputs[0])
        size = tuple(int(v) for v in inputs[1:1 + self.ndim_size])
        count = int(inputs[1 + self.ndim_size])
        p = np.asarray(inputs[-1], dtype=np.float64) if self.weighted else None
        n, m = self.counts(size, count, None if p is None else len(p))
        b = Blocks(key, stream, counter, n).next(np.arange(n))
        if p is None:
            keys = u01(b, 0)
        else:
            bad = ~((p >= 0.0) & (p <= 1.0))
            if bad.any():
                raise ValueError(f"choice: 0 <= p <= 1 is needed, got p={p[bad][0]:g}")
            if np.count_nonzero(p) < m:
                raise ValueError(f"choice: fewer than {m} nonzero probabilities in p "
                                 "(replace=False)")
            with np.errstate(divide="ignore"):
                keys = -np.log(u01_open(b, 0)) / p
        order = np.argsort(keys, kind="stable")[:m]
        new_state = np.array([key, stream, counter + n], dtype=np.uint64).view(np.int64)
        return [new_state, order.astype(np.int64).reshape(size)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list:
        return [None] * len(inputs)


class ChoiceKernel(KernelBuilder):
    """ChoiceWithoutReplacement: the keys sorted by qsort (templates/random_choice.c.j2)."""

    family = "random_choice"

    def lower(self, node: Apply, name: str, comment: str, outs: list, ins: list) -> Kernel:
        op = node.op
        return Kernel(self.family, name, comment, tuple(outs), tuple(ins),
                      ParamLayout(self.family, count=1, m=1, p_stride=1),
                      context={"n_size": op.ndim_size, "weighted": op.weighted})

    def params(self, kernel: Kernel, node: Apply, out_layouts: list, in_layouts: list,
               in_shapes: list, values: list | None) -> list[int]:
        """The population, the sample's size and p's stride."""
        op = node.op
        size = tuple(out_layouts[1][0])
        count = int(values[1 + op.ndim_size]) if values is not None else 0
        n, m = op.counts(size, count, in_shapes[-1][0] if op.weighted else None)
        stride = in_layouts[-1][1][0] if op.weighted else 0
        return kernel.layout.build(count=n, m=m, p_stride=stride)


register_kernel(ChoiceKernel(), ChoiceWithoutReplacement)


def without_replacement(srng: Any, count: Any, size: Any, p: Any) -> TensorVariable:
    """Distinct positions in range(count) of shape `size` (None: one), drawn with the
    probabilities `p` (None: uniform) by `srng`'s new state."""
    sizes = _as_sizes(() if size is None else size)
    count = as_tensor_variable(count)
    if count.dtype != "int64":
        count = count.astype("int64")
    extra = []
    if p is not None:
        p = as_tensor_variable(p)
        if p.ndim != 1:
            raise TypeError(f"choice: p must be a vector, got {p.type}")
        extra = [p if p.dtype[0] == "f" else p.astype("float64")]
    state = srng._new_state()
    new_state, sample = ChoiceWithoutReplacement(len(sizes), p is not None)(
        state, *sizes, count, *extra)
    state.default_update = new_state
    return sample
