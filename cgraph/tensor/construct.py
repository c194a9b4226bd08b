"""Tensors built from Python structure: `stacklists` (nested lists of tensors) and the
index grids `mgrid` / `ogrid`, with Theano's names and results."""

from __future__ import annotations

from typing import Any

from cgraph.tensor.basic_ops import alloc
from cgraph.tensor.extra_ops import arange, stack
from cgraph.tensor.shape import dimshuffle
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["mgrid", "ogrid", "stacklists"]


def stacklists(arg: Any) -> TensorVariable:
    """Stack nested lists of tensors (or numbers) into one tensor, as Theano does:
    `stacklists([[a, b], [c, d]])` of four scalars is a 2x2 matrix, and of four
    matrices a 4-d tensor. Every leaf must have the same shape."""
    if isinstance(arg, (list, tuple)):
        if not arg:
            raise ValueError("stacklists: an empty list has no shape to stack")
        return stack([stacklists(item) for item in arg])
    return as_tensor_variable(arg)


class _Grid:
    """`mgrid[0:n, 0:m]` / `ogrid[...]`: index grids with symbolic or static bounds.

    As in Theano (unlike numpy, which stacks them in one array), the result is a list
    of tensors, one per slice; a single slice gives one 1-d tensor. `mgrid` gives each
    the full shape; `ogrid` gives the i-th a shape of 1s with its length on axis i,
    broadcastable on the others. Slices take ints or scalars; a complex step
    (numpy's point count, `0:1:5j`) is not supported.
    """

    def __init__(self, sparse: bool):
        self.sparse = sparse

    def __repr__(self) -> str:
        return "ogrid" if self.sparse else "mgrid"

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self._ranges((key,))[0]
        if not isinstance(key, tuple) or not all(isinstance(k, slice) for k in key):
            raise TypeError(f"{self!r}[...] takes slices (start:stop:step), got {key!r}")
        ranges = self._ranges(key)
        ndim = len(ranges)
        placed = [dimshuffle(r, ["x"] * i + [0] + ["x"] * (ndim - 1 - i))
                  for i, r in enumerate(ranges)]
        if self.sparse:
            return placed
        lengths = [r.shape[0] for r in ranges]
        return [alloc(p, *lengths) for p in placed]

    def _ranges(self, key: tuple) -> list[TensorVariable]:
        ranges = []
        for sl in key:
            if isinstance(sl.step, complex) or sl.stop is None:
                raise NotImplementedError(f"{self!r}: each slice needs a stop and a real "
                                          f"step, got {sl}")
            ranges.append(arange(0 if sl.start is None else sl.start, sl.stop,
                                 1 if sl.step is None else sl.step))
        return ranges


#: Dense index grids: `mgrid[0:3, 0:4]` is two int64 3x4 matrices (row and column index).
mgrid = _Grid(sparse=False)
#: Open index grids: `ogrid[0:3, 0:4]` is a (3, 1) column and a (1, 4) row.
ogrid = _Grid(sparse=True)
