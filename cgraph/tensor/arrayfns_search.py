"""numpy's sorting-based array functions as graphs of existing ops: median, searchsorted,
unique, bincount, and the index conversions ravel_multi_index / unravel_index.

They are built from the stable sort / argsort kernels (`cgraph.tensor.lanes`), gathers,
scatters that accumulate (`inc_subtensor`) and boolean masks, so each runs in modes C
and PY with the gradients of those ops. Shapes that depend on the data (unique's,
bincount's) are computed at call time.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.tensor.arrayfns import moveaxis, take_along_axis
from cgraph.tensor.basic_ops import zeros
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import arange, expand_dims
from cgraph.tensor.ifelse import ifelse
from cgraph.tensor.lanes import argsort, cumsum, diff
from cgraph.tensor.math import (
    and_,
    concatenate,
    eq,
    ge,
    int_div,
    isnan,
    logical_not,
    lt,
    maximum,
    mod,
    or_,
    switch,
)
from cgraph.tensor.median_select import MedianIndices
from cgraph.tensor.reductions import any as any_
from cgraph.tensor.reductions import max as max_
from cgraph.tensor.reductions import min as min_
from cgraph.tensor.searchsorted import SearchSorted
from cgraph.tensor.shape import axis_index
from cgraph.tensor.subtensor import inc_subtensor, nonzero, set_subtensor, take
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["bincount", "median", "ravel_multi_index", "searchsorted", "unique",
           "unravel_index"]


def _int_tensor(x: Any, name: str, what: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"{name}: {what} must be integers, got {x.dtype}")
    return x


def _checked(values: TensorVariable, valid: TensorVariable) -> TensorVariable:
    """`values`, with an IndexError at call time where `valid` is False (a gather of
    index 1 from a length-1 vector: no branch, and no separate check op)."""
    probe = take(zeros((1,), "int64"), cast(logical_not(valid), "int64"))
    return values + cast(probe, values.dtype)


def median(x: Any, axis: int | None = None, keepdims: bool = False) -> TensorVariable:
    """The median of `x` along `axis` (all elements when None; numpy's median).

    The middle element of the sorted lane, or the mean of the two middle ones for an
    even length, found by selection (O(n) per lane, the MedianIndices op), not a sort.
    dtype: float64 for integers and bools, else `x`'s float dtype. A lane holding NaN
    has median NaN (as numpy). Gradient: the output gradient goes to the middle
    element(s) (half each). Raises IndexError at call time for an empty lane (numpy
    warns and returns NaN), ValueError for an axis out of range.
    """
    x = as_tensor_variable(x)
    ft = x.dtype if x.dtype.startswith("float") else "float64"
    src = cast(x, ft)
    if axis is None:
        lanes, ax = src.flatten(), 0
    else:
        ax = axis_index(axis, x.ndim, "median")
        lanes = src
    pair = moveaxis(MedianIndices(ax)(lanes), -1, ax)  # the middle positions, by selection
    vals = take_along_axis(lanes, pair, ax)
    mid = (take(vals, 0, ax) + take(vals, 1, ax)) * cast(0.5, ft)
    mid = switch(any_(isnan(lanes), ax), cast(np.nan, ft), mid)
    if keepdims:
        mid = (mid.reshape([1] * x.ndim) if axis is None else expand_dims(mid, ax))
    return mid


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> TensorVariable:
    """Indices where the values `v` would be inserted in the sorted vector `a` to keep it
    sorted (numpy's searchsorted), int64 with `v`'s shape.

    side='left' gives the first such place (the count of elements < v), 'right' the
    last (the count of elements <= v); NaN sorts last, as numpy. `sorter` (integers)
    puts `a` in order: a[sorter] must be sorted. A binary search per value, O(m log n)
    (the SearchSorted op). a and v are compared in their upcast dtype. No gradient
    (integer result). Raises TypeError when `a` is not a vector, ValueError for another side.
    """
    a, v = as_tensor_variable(a), as_tensor_variable(v)
    if a.ndim != 1:
        raise TypeError(f"searchsorted: a must be a vector, got {a.ndim} dimensions")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if sorter is not None:
        a = a[_int_tensor(sorter, "searchsorted", "sorter")]
    dt = np.result_type(a.dtype, v.dtype).name
    out = SearchSorted(side)(cast(a, dt), cast(v.flatten(), dt))
    return out.reshape(v.shape, ndim=v.ndim) if v.ndim != 1 else out


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None) -> Any:
    """The sorted distinct elements of `ar`, flattened (numpy's unique).

    Optional outputs, in numpy's order: the index of each value's first occurrence
    (int64), the inverse (int64 indices into the result that rebuild `ar`, with `ar`'s
    shape) and the counts (int64). NaNs count as one value (numpy's equal_nan). Keeps
    `ar`'s dtype; the length is known at call time. Raises NotImplementedError for an
    `axis` (unique rows), which is not built.
    """
    if axis is not None:
        raise NotImplementedError("unique: axis is not supported (only the flattened array)")
    ar = as_tensor_variable(ar)
    flat = ar.flatten()
    perm = argsort(flat, 0)
    s = flat[perm]
    n = s.shape[0]
    prev = concatenate([s[:1], s[:-1]])
    same = or_(eq(s, prev), and_(isnan(s), isnan(prev))) if ar.dtype.startswith(
        "float") else eq(s, prev)
    first = or_(eq(arange(n), 0), logical_not(same))
    outs = [s[first]]
    if return_index:
        outs.append(perm[first])
    if return_inverse:
        group = cumsum(cast(first, "int64")) - 1
        inv = set_subtensor(zeros((n,), "int64")[perm], group)
        outs.append(inv.reshape(ar.shape, ndim=ar.ndim) if ar.ndim != 1 else inv)
    if return_counts:
        starts = nonzero(first)[0]
        outs.append(diff(concatenate([starts, cast(n, "int64").dimshuffle("x")])))
    return outs[0] if len(outs) == 1 else tuple(outs)


def bincount(x: Any, weights: Any = None, minlength: Any = 0) -> TensorVariable:
    """The number of occurrences of each value in the non-negative integer vector `x`
    (numpy's bincount), length max(max(x) + 1, minlength).

    With `weights` (same length as x), the sum of the weights at each value instead.
    dtype: int64 counts, float64 weighted sums (numpy's). Gradient in `weights`.
    Raises TypeError for a non-integer or non-vector `x`, IndexError at call time for
    a negative value (numpy: ValueError).
    """
    x = _int_tensor(x, "bincount", "x")
    if x.ndim != 1:
        raise TypeError(f"bincount: x must be a vector, got {x.ndim} dimensions")
    if isinstance(minlength, (int, np.integer)) and minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    idx = cast(x, "int64")
    empty = eq(idx.shape[0], 0)
    top = ifelse(empty, cast(-1, "int64"), max_(idx))
    # the check is a scalar the length depends on: it runs before the scatter
    length = _checked(maximum(top + 1, minlength),
                      ifelse(empty, as_tensor_variable(np.bool_(True)), ge(min_(idx), 0)))
    if weights is None:
        return inc_subtensor(zeros((length,), "int64")[idx], cast(1, "int64"))
    w = cast(as_tensor_variable(weights), "float64")
    return inc_subtensor(zeros((length,), "float64")[idx], w)


def _dims(dims: Any, name: str) -> list:
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    if isinstance(dims, TensorVariable):
        if dims.ndim != 1 or dims.type.shape[0] is None:
            raise TypeError(f"{name}: dims must be a sequence or a vector of static length")
        return [dims[i] for i in range(dims.type.shape[0])]
    dims = list(dims)
    for d in dims:
        if isinstance(d, (int, np.integer)) and d < 0:
            raise ValueError(f"{name}: dimensions must be non-negative, got {tuple(dims)}")
    return dims


def _strides(dims: Sequence[Any], order: str, name: str) -> list:
    if order not in ("C", "F"):
        raise ValueError(f"{name}: order must be 'C' or 'F', got {order!r}")
    idx = range(len(dims) - 1, -1, -1) if order == "C" else range(len(dims))
    strides: list[Any] = [None] * len(dims)
    step: Any = 1
    for i in idx:
        strides[i] = step
        step = step * dims[i]
    return strides


def ravel_multi_index(multi_index: Sequence[Any], dims: Any, mode: str = "raise",
                      order: str = "C") -> TensorVariable:
    """Flat indices of the coordinate arrays `multi_index` in an array of shape `dims`
    (numpy's ravel_multi_index), int64 with the broadcast shape of the coordinates.

    mode 'raise' checks each coordinate (IndexError at call time when one is out of
    range; numpy raises ValueError), 'wrap' wraps it around, 'clip' clips it; one
    mode or one per axis. order 'C' (row-major) or 'F'. Raises TypeError for float
    coordinates, ValueError when their count is not len(dims) or for another mode.
    """
    dims = _dims(dims, "ravel_multi_index")
    coords = [_int_tensor(c, "ravel_multi_index", "coordinates") for c in multi_index]
    if len(coords) != len(dims):
        raise ValueError(f"ravel_multi_index: {len(coords)} coordinate arrays for "
                         f"{len(dims)} dimensions")
    modes = [mode] * len(dims) if isinstance(mode, str) else list(mode)
    if len(modes) != len(dims) or any(m not in ("raise", "wrap", "clip") for m in modes):
        raise ValueError(f"ravel_multi_index: invalid mode {mode!r}")
    out: Any = None
    for c, d, st, m in zip(coords, dims, _strides(dims, order, "ravel_multi_index"), modes):
        c = cast(c, "int64")
        if m == "wrap":
            c = mod(c, d)
        elif m == "clip":
            c = switch(lt(c, 0), 0, switch(lt(c, d), c, d - 1))
        else:
            c = _checked(c, and_(logical_not(lt(c, 0)), lt(c, d)))
        term = c * st
        out = term if out is None else out + term
    return out


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple[TensorVariable, ...]:
    """The coordinate arrays of the flat `indices` in an array of shape `shape` (numpy's
    unravel_index): a tuple of int64 arrays with `indices`' shape.

    order 'C' (row-major) or 'F'. Raises TypeError for float indices, IndexError at
    call time for an index out of range (numpy: ValueError).
    """
    dims = _dims(shape, "unravel_index")
    idx = cast(_int_tensor(indices, "unravel_index", "indices"), "int64")
    size: Any = 1
    for d in dims:
        size = size * d
    idx = _checked(idx, and_(logical_not(lt(idx, 0)), lt(idx, size)))
    strides = _strides(dims, order, "unravel_index")
    return tuple(mod(int_div(idx, st), d) if builtins.len(dims) > 1 else idx
                 for st, d in zip(strides, dims))

