"""The index model of `cgraph.tensor.subtensor`: a parsed numpy index and, per call
layout, the region of `x` it selects, with numpy's rules (negative ints wrap, slice
bounds clip, broadcast index arrays replace their axes in place when adjacent in the
index, else come first). Plain Python and numpy: the ops and kernels build on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgraph.tensor.elemwise import broadcast_static

INT, SLICE, NEW, ARRAY = "int", "slice", "new", "array"
#: an int or slice bound given by the op's next scalar input
SYM = "?"
FULL = (SLICE, None, None, None)


@dataclass(frozen=True)
class Index:
    """A numpy index in canonical form, one entry per axis of `x` plus the new axes.

    Entries: `(INT, v)`, `(SLICE, start, stop, step)`, `(NEW,)` or `(ARRAY,)`, where
    `v` and the bounds are ints, None (slice bounds only) or SYM. `adjacent` is
    numpy's rule for the advanced indices (arrays, and ints when there are arrays):
    consecutive in the user's index, the broadcast index axes replace them in place;
    otherwise they come first.
    """

    entries: tuple[tuple, ...]
    adjacent: bool = True

    @property
    def has_arrays(self) -> bool:
        """Whether some entry is an index array (advanced indexing)."""
        return any(e[0] == ARRAY for e in self.entries)

    def input_kinds(self) -> tuple[str, ...]:
        """"scalar" or "array" for each index input, in order."""
        kinds: list[str] = []
        for e in self.entries:
            if e[0] == ARRAY:
                kinds.append("array")
            kinds.extend("scalar" for p in e[1:] if p == SYM)
        return tuple(kinds)

    def array_axes(self) -> tuple[int, ...]:
        """The axis of `x` that each index array indexes."""
        axes, axis = [], 0
        for e in self.entries:
            if e[0] == ARRAY:
                axes.append(axis)
            axis += e[0] != NEW
        return tuple(axes)

    def __str__(self) -> str:
        def part(p: Any) -> str:
            return "" if p is None else str(p)

        items = []
        for e in self.entries:
            if e[0] == SLICE:
                text = ":".join(part(p) for p in e[1:3])
                items.append(text + (f":{e[3]}" if e[3] is not None else ""))
            else:
                items.append({INT: str(e[-1]), NEW: "None", ARRAY: "[]"}[e[0]])
        return ", ".join(items)


@dataclass(frozen=True)
class Region:
    """The part of `x` an index selects, for one call's layout of `x` (element units).

    Element `j` of the region is `x[offset + j . strides + sum_a idx_a[j . a_strides]
    * a_stride]` over the index arrays `a`, given in `arrays` as (x axis, axis length,
    a_stride, a_strides).
    """

    shape: tuple[int, ...]
    offset: int
    strides: tuple[int, ...]
    arrays: tuple[tuple[int, int, int, tuple[int, ...]], ...] = ()


def _wrap(v: int, axis: int, n: int, shape: Sequence[int]) -> int:
    if not -n <= v < n:
        raise IndexError(f"index {v} is out of bounds for axis {axis} with size {n} "
                         f"(indexing an array of shape {tuple(shape)})")
    return v + n if v < 0 else v


def _broadcast_index(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {' '.join(map(str, shapes))}") from None


def _place_arrays(index: Index, shape: list, strides: list, at: int | None,
                  found: list) -> tuple:
    """Insert the broadcast index axes into the region; the index arrays' strides."""
    b = _broadcast_index([f[3] for f in found])
    at = at if index.adjacent else 0
    shape[at:at] = b
    strides[at:at] = [0] * len(b)
    arrays = []
    for axis, n, st, a_shape, a_strides in found:
        per = [0] * len(shape)
        pad = at + len(b) - len(a_shape)
        for d, (m, s) in enumerate(zip(a_shape, a_strides)):
            per[pad + d] = 0 if m == 1 else s
        arrays.append((axis, n, st, tuple(per)))
    return tuple(arrays)


def region(index: Index, x_shape: Sequence[int], x_strides: Sequence[int],
           scalars: Sequence[int], arrays: Sequence[tuple]) -> Region:
    """Resolve `index` for `x` of this layout, with numpy's rules.

    `scalars` are the values of the symbolic ints and bounds, in input order; `arrays`
    the (shape, strides) of the index arrays.

    Raises
    ------
    IndexError
        For an int out of range or index arrays that do not broadcast together.
    ValueError
        For a slice step of zero.
    """
    scalar_values, array_layouts = iter(scalars), iter(arrays)
    shape: list[int] = []
    strides: list[int] = []
    offset, axis, at, found = 0, 0, None, []
    for e in index.entries:
        if e[0] == NEW:
            shape.append(1)
            strides.append(0)
            continue
        n, st = x_shape[axis], x_strides[axis]
        if e[0] == INT:
            v = int(next(scalar_values)) if e[1] == SYM else e[1]
            offset += _wrap(v, axis, n, x_shape) * st
        elif e[0] == SLICE:
            start, stop, step = (int(next(scalar_values)) if p == SYM else p for p in e[1:])
            if step == 0:
                raise ValueError(f"slice step cannot be zero (axis {axis})")
            first, last, step = slice(start, stop, step).indices(n)
            shape.append(len(range(first, last, step)))
            strides.append(step * st)
            offset += first * st if shape[-1] else 0
        else:
            a_shape, a_strides = next(array_layouts)
            found.append((axis, n, st, tuple(a_shape), tuple(a_strides)))
        if at is None and (e[0] == ARRAY or (e[0] == INT and index.has_arrays)):
            at = len(shape)
        axis += 1
    placed = _place_arrays(index, shape, strides, at, found) if found else ()
    if 0 in shape:
        offset = 0
    return Region(tuple(shape), offset, tuple(strides), placed)


def _static_slice_length(e: tuple, n: int | None) -> int | None:
    if SYM in e[1:]:
        return None
    if n is None:
        return None
    if e[3] == 0:
        raise ValueError("slice step cannot be zero")
    return len(range(*slice(*e[1:]).indices(n)))


def static_shape(index: Index, x_shape: Sequence[int | None],
                 array_shapes: Sequence[tuple]) -> tuple[int | None, ...]:
    """The region's static shape (None where it depends on run-time lengths or values);
    raises IndexError for a static int out of static bounds."""
    shape: list[int | None] = []
    axis, at, found = 0, None, list(array_shapes)
    for e in index.entries:
        if e[0] == NEW:
            shape.append(1)
            continue
        n = x_shape[axis]
        if e[0] == INT and e[1] != SYM and n is not None:
            _wrap(e[1], axis, n, ["?" if m is None else m for m in x_shape])
        elif e[0] == SLICE:
            shape.append(_static_slice_length(e, n))
        if at is None and (e[0] == ARRAY or (e[0] == INT and index.has_arrays)):
            at = len(shape)
        axis += 1
    if found:
        nb = max(len(s) for s in found)
        try:
            b = broadcast_static([(1,) * (nb - len(s)) + tuple(s) for s in found], "index")
        except ValueError:
            raise IndexError("shape mismatch: indexing arrays could not be broadcast "
                             f"together with shapes {' '.join(map(str, found))}") from None
        at = at if index.adjacent else 0
        shape[at:at] = b
    return tuple(shape)


def numpy_index(index: Index, values: Sequence[Any], new_axis: Any = None) -> tuple:
    """The index as numpy takes it, from the values of the index inputs (`new_axis`
    stands for each new axis)."""
    it = iter(values)
    items: list[Any] = []
    for e in index.entries:
        if e[0] == INT:
            items.append(int(next(it)) if e[1] == SYM else e[1])
        elif e[0] == SLICE:
            items.append(slice(*(int(next(it)) if p == SYM else p for p in e[1:])))
        else:
            items.append(new_axis if e[0] == NEW else np.asarray(next(it)))
    kinds = [e[0] == ARRAY or (e[0] == INT and index.has_arrays) for e in index.entries]
    if not index.adjacent and any(kinds):
        # An Ellipsis of no axes keeps numpy from treating the advanced indices as
        # adjacent (the user's index had something between them).
        items.insert(kinds.index(True) + 1, Ellipsis)
    return tuple(items)
