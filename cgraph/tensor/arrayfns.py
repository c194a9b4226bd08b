"""numpy's array functions as graphs of existing ops (no kernel of their own).

tril/triu and their index functions, linspace/logspace/geomspace, broadcast_to/
broadcast_arrays, take_along_axis, moveaxis, atleast_1d/2d/3d, flip, ptp,
isclose/allclose, nan_to_num (fill_diagonal and pad are in `arrayfns_pad`). Each one
builds masks, index grids, slices and elementwise ops, so it runs in modes C and PY
and has the gradient of the ops it is made of. Sizes may be symbolic unless a
docstring says otherwise.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.tensor.basic_ops import alloc
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import (
    abs,
    and_,
    eq,
    floor,
    ge,
    isinf,
    isnan,
    le,
    log10,
    logical_not,
    lt,
    or_,
    pow,
    sign,
    switch,
)
from cgraph.tensor.reductions import all as all_
from cgraph.tensor.reductions import max as max_
from cgraph.tensor.reductions import min as min_
from cgraph.tensor.shape import axis_index, transpose
from cgraph.tensor.subtensor import nonzero
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = [
    "allclose", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays", "broadcast_to",
    "flip", "geomspace", "isclose", "linspace",
    "logspace", "moveaxis", "nan_to_num", "ptp", "take_along_axis", "tril",
    "tril_indices", "tril_indices_from", "triu", "triu_indices", "triu_indices_from",
]


def _float_dtype(*dtypes: str) -> str:
    """numpy's result dtype of `dtypes` with a float: float32 stays, ints become float64."""
    dt = np.result_type(*dtypes, np.float16) if dtypes else np.dtype("float64")
    return str(dt) if dt in (np.float32, np.float64) else "float64"


def _zero(x: TensorVariable) -> TensorVariable:
    return cast(as_tensor_variable(0), x.dtype)


# --------------------------------------------------------------------------- triangles

def _tri_mask(n: Any, m: Any, k: Any, lower: bool) -> TensorVariable:
    """The (n, m) boolean mask of j <= i + k (lower) or j >= i + k (upper)."""
    i = arange(n).dimshuffle(0, "x") + k
    j = arange(m).dimshuffle("x", 0)
    return ge(i, j) if lower else le(i, j)


def _tri(x: Any, k: Any, lower: bool, name: str) -> TensorVariable:
    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise TypeError(f"{name}: the input must have at least 1 dimension, got a scalar")
    n = x.shape[-2] if x.ndim > 1 else x.shape[0]
    mask = _tri_mask(n, x.shape[-1], k, lower)
    return switch(mask, x, _zero(x))


def tril(m: Any, k: Any = 0) -> TensorVariable:
    """The lower triangle of `m` (numpy's tril): elements above the k-th diagonal are 0.

    Works on the last two axes of an n-d `m`; a vector `v` gives the (len, len) matrix
    of rows `v` (as numpy). `k` may be symbolic: 0 is the main diagonal, k > 0 keeps
    k diagonals above it. Keeps `m`'s dtype. Gradient: the same mask on the output
    gradient. Raises TypeError for a 0-d `m`.
    """
    return _tri(m, k, True, "tril")


def triu(m: Any, k: Any = 0) -> TensorVariable:
    """The upper triangle of `m` (numpy's triu): elements below the k-th diagonal are 0.

    Same conventions, dtype and errors as `tril`.
    """
    return _tri(m, k, False, "triu")


def tril_indices(n: Any, k: Any = 0, m: Any = None) -> tuple[TensorVariable, TensorVariable]:
    """The (rows, cols) int64 indices of the lower triangle of an (n, m) matrix (numpy's
    tril_indices; `m` defaults to `n`), in row-major order. n, m, k may be symbolic."""
    return tuple(nonzero(_tri_mask(n, n if m is None else m, k, True)))


def triu_indices(n: Any, k: Any = 0, m: Any = None) -> tuple[TensorVariable, TensorVariable]:
    """The (rows, cols) int64 indices of the upper triangle of an (n, m) matrix (numpy's
    triu_indices; `m` defaults to `n`), in row-major order. n, m, k may be symbolic."""
    return tuple(nonzero(_tri_mask(n, n if m is None else m, k, False)))


def _check_matrix(a: Any, name: str) -> TensorVariable:
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise TypeError(f"{name}: the input must be a matrix, got {a.ndim} dimensions")
    return a


def tril_indices_from(a: Any, k: Any = 0) -> tuple[TensorVariable, TensorVariable]:
    """`tril_indices` of the shape of the matrix `a` (TypeError if `a` is not 2-d)."""
    a = _check_matrix(a, "tril_indices_from")
    return tril_indices(a.shape[0], k, a.shape[1])


def triu_indices_from(a: Any, k: Any = 0) -> tuple[TensorVariable, TensorVariable]:
    """`triu_indices` of the shape of the matrix `a` (TypeError if `a` is not 2-d)."""
    a = _check_matrix(a, "triu_indices_from")
    return triu_indices(a.shape[0], k, a.shape[1])


# --------------------------------------------------------------------------- ranges

def linspace(start: Any, stop: Any, num: Any = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced numbers from `start` to `stop` (numpy's linspace).

    `start` and `stop` may be tensors, broadcast together: the samples run along a new
    axis `axis` (0 by default). `num` (>= 0, may be symbolic) counts the samples; with
    `endpoint` the last is exactly `stop`, else the step is (stop - start) / num.
    dtype: float64 for integer inputs, else the float dtype of start and stop, unless
    `dtype` is given (an integer dtype floors, as numpy). `retstep` also returns the
    step. Gradient in start and stop.
    """
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    ft = _float_dtype(start.dtype, stop.dtype)
    start, stop = cast(start, ft), cast(stop, ft)
    if isinstance(num, (int, np.integer)) and num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    num = as_tensor_variable(num)
    div = num - 1 if endpoint else num
    step = (stop - start) / cast(switch(lt(div, 1), 1, div), ft)
    nd = builtins.max(start.ndim, stop.ndim)
    idx = arange(num).dimshuffle(0, *["x"] * nd)
    y = cast(idx, ft) * step + start
    if endpoint:
        y = switch(and_(eq(idx, num - 1), lt(0, idx)), stop, y)
    if axis != 0:
        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = cast(y if np.dtype(dtype).kind == "f" else floor(y), dtype)
    return (y, step) if retstep else y


def logspace(start: Any, stop: Any, num: Any = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> TensorVariable:
    """`base ** linspace(start, stop, num, endpoint)` (numpy's logspace).

    Same conventions and dtype rule as `linspace`; `base` may be a tensor.
    """
    y = linspace(start, stop, num, endpoint, axis=axis)
    y = pow(cast(as_tensor_variable(base), y.dtype), y)
    return y if dtype is None else cast(y, dtype)


def geomspace(start: Any, stop: Any, num: Any = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> TensorVariable:
    """Numbers spaced evenly on a log scale from `start` to `stop` (numpy's geomspace).

    Both ends are exact; negative ends give the negated sequence of their magnitudes.
    Raises ValueError when `start` or `stop` is a constant 0; a symbolic 0, or ends of
    opposite signs (complex in numpy), give NaN. dtype as `linspace`.
    """
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    for v in (start, stop):
        if hasattr(v, "data") and np.any(np.asarray(v.data) == 0):
            raise ValueError("geomspace: a sequence cannot include zero")
    ft = _float_dtype(start.dtype, stop.dtype)
    start, stop = cast(start, ft), cast(stop, ft)
    out_sign = sign(start)
    start, stop = start / out_sign, stop / out_sign
    y = logspace(log10(start), log10(stop), num, endpoint, 10.0)
    idx = arange(as_tensor_variable(num)).dimshuffle(0, *["x"] * (y.ndim - 1))
    y = switch(eq(idx, 0), start, y)
    if endpoint:
        y = switch(and_(eq(idx, as_tensor_variable(num) - 1), lt(0, idx)), stop, y)
    y = y * out_sign
    if axis != 0:
        y = moveaxis(y, 0, axis)
    return y if dtype is None else cast(y, dtype)


# --------------------------------------------------------------------------- broadcasting

def broadcast_to(x: Any, shape: Any) -> TensorVariable:
    """`x` broadcast to `shape` (numpy's broadcast_to; a copy, not a read-only view).

    `shape` is a sequence of ints or integer scalars (or a vector of static length).
    Keeps `x`'s dtype; gradient sums over the broadcast axes. Raises ValueError naming
    the shapes when `x` does not broadcast (at build time when lengths are static).
    """
    x = as_tensor_variable(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if isinstance(shape, TensorVariable):
        if shape.ndim == 0:
            shape = (shape,)
        else:
            n = shape.type.shape[0]
            if n is None:
                raise TypeError("broadcast_to: a shape vector needs a static length")
            shape = [shape[i] for i in range(n)]
    shape = list(shape)
    if len(shape) < x.ndim:
        raise ValueError(f"broadcast_to: cannot broadcast {x.ndim}-d input to the "
                         f"{len(shape)}-d shape {tuple(shape)}")
    return alloc(x, *shape)


def broadcast_shape(*arrays: Any) -> list:
    """The broadcast shape of `arrays` as a list of integer scalars (numpy's rule)."""
    arrays = [as_tensor_variable(a) for a in arrays]
    nd = builtins.max([a.ndim for a in arrays], default=0)
    out = []
    for d in range(nd):
        dim: Any = None
        for a in arrays:
            ax = a.ndim - nd + d
            if ax < 0:
                continue
            static = a.type.shape[ax]
            if static == 1:
                continue
            length = static if static is not None else a.shape[ax]
            dim = length if dim is None else switch(eq(dim, 1), length, dim)
        out.append(1 if dim is None else dim)
    return out


def broadcast_arrays(*arrays: Any) -> list[TensorVariable]:
    """The inputs broadcast against each other (numpy's broadcast_arrays), a list.

    Each keeps its dtype. Raises ValueError naming the shapes when they do not
    broadcast (at build time when lengths are static).
    """
    shape = broadcast_shape(*arrays)
    return [broadcast_to(a, shape) for a in arrays]


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> TensorVariable:
    """Values of `arr` at `indices` along `axis` (numpy's take_along_axis).

    `indices` (integers) has `arr`'s number of dimensions and broadcasts against it in
    the other axes; negative indices count from the end. `axis=None` works on the
    flattened `arr` and a vector of indices. Keeps `arr`'s dtype; gradient in `arr`
    (accumulated at repeated indices). Raises TypeError for float indices or unequal
    ranks, IndexError at call time for an index out of range.
    """
    arr, indices = as_tensor_variable(arr), as_tensor_variable(indices)
    if indices.dtype.startswith(("float", "bool", "complex")):
        raise TypeError(f"take_along_axis: indices must be integers, got {indices.dtype}")
    if axis is None:
        if indices.ndim != 1:
            raise TypeError("take_along_axis: with axis=None the indices must be a vector")
        return arr.flatten()[indices]
    if indices.ndim != arr.ndim:
        raise TypeError(f"take_along_axis: indices and arr must have the same number of "
                        f"dimensions, got {indices.ndim} and {arr.ndim}")
    axis = axis_index(axis, arr.ndim, "take_along_axis")
    key = []
    for d in range(arr.ndim):
        if d == axis:
            key.append(indices)
        else:
            pattern = ["x"] * arr.ndim
            pattern[d] = 0
            key.append(arange(arr.shape[d]).dimshuffle(*pattern))
    return arr[tuple(key)]


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]
             ) -> TensorVariable:
    """`a` with axes `source` moved to `destination` (numpy's moveaxis; a view).

    The other axes keep their order. Raises ValueError for an axis out of range or
    repeated, or when source and destination have different lengths.
    """
    a = as_tensor_variable(a)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number "
                         "of elements")
    src = [axis_index(s, a.ndim, "moveaxis") for s in src]
    dst = [axis_index(s, a.ndim, "moveaxis") for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in {source!r} or {destination!r}")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def _atleast(arys: tuple, n: int, name: str) -> Any:
    out = []
    for a in arys:
        a = as_tensor_variable(a)
        if a.ndim < n:
            pattern: list[Any]
            if n == 3 and a.ndim == 1:
                pattern = ["x", 0, "x"]
            elif n == 3 and a.ndim == 2:
                pattern = [0, 1, "x"]
            else:
                pattern = ["x"] * (n - a.ndim) + list(range(a.ndim))
            a = a.dimshuffle(*pattern)
        out.append(a)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least 1 dimension (numpy's atleast_1d): a scalar becomes (1,).

    One input gives a tensor, several a list. Keeps dtypes (views).
    """
    return _atleast(arys, 1, "atleast_1d")


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least 2 dimensions (numpy's atleast_2d): (N,) becomes (1, N),
    a scalar (1, 1). One input gives a tensor, several a list. Keeps dtypes (views)."""
    return _atleast(arys, 2, "atleast_2d")


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least 3 dimensions (numpy's atleast_3d): (N,) becomes (1, N, 1),
    (M, N) becomes (M, N, 1), a scalar (1, 1, 1). One input gives a tensor, several a
    list. Keeps dtypes (views)."""
    return _atleast(arys, 3, "atleast_3d")


def flip(m: Any, axis: int | Sequence[int] | None = None) -> TensorVariable:
    """`m` reversed along `axis` (all axes when None; numpy's flip; a view).

    Raises ValueError for an axis out of range.
    """
    m = as_tensor_variable(m)
    axes = range(m.ndim) if axis is None else (
        [axis] if isinstance(axis, (int, np.integer)) else axis)
    axes = {axis_index(a, m.ndim, "flip") for a in axes}
    return m[tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(m.ndim))]


def ptp(a: Any, axis: Any = None, keepdims: bool = False) -> TensorVariable:
    """max(a) - min(a) along `axis` (numpy's ptp, "peak to peak").

    Keeps `a`'s dtype (integers wrap around as in numpy). Gradient as max and min's.
    Raises ValueError for an empty reduction, as max does.
    """
    return max_(a, axis, keepdims) - min_(a, axis, keepdims)


# --------------------------------------------------------------------------- comparisons

def _isfinite(x: TensorVariable) -> TensorVariable:
    return logical_not(or_(isnan(x), isinf(x)))


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> TensorVariable:
    """Elementwise abs(a - b) <= atol + rtol * abs(b) (numpy's isclose), a bool tensor.

    Infinities are close only to themselves; NaN is close to nothing unless
    `equal_nan`. Compared in the float dtype of a and b (float64 for integers). Not
    symmetric in a and b, as numpy. Raises ValueError when a and b do not broadcast.
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    ft = _float_dtype(a.dtype, b.dtype)
    a, b = cast(a, ft), cast(b, ft)
    close = le(abs(a - b), cast(atol, ft) + cast(rtol, ft) * abs(b))
    res = switch(and_(_isfinite(a), _isfinite(b)), close, eq(a, b))
    if equal_nan:
        res = or_(res, and_(isnan(a), isnan(b)))
    return res


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> TensorVariable:
    """all(isclose(a, b, rtol, atol, equal_nan)) (numpy's allclose): a bool scalar."""
    return all_(isclose(a, b, rtol, atol, equal_nan))


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> TensorVariable:
    """`x` with NaN replaced by `nan`, +inf by `posinf`, -inf by `neginf` (numpy's
    nan_to_num; the infinities default to the dtype's largest finite values).

    Keeps `x`'s dtype; integers and booleans come back unchanged. Gradient: the output
    gradient where `x` was finite, 0 elsewhere.
    """
    x = as_tensor_variable(x)
    if not x.dtype.startswith("float"):
        return x
    info = np.finfo(x.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf

    def c(v: float) -> TensorVariable:
        return cast(as_tensor_variable(v), x.dtype)
    out = switch(isnan(x), c(nan), x)
    return switch(isinf(x), switch(lt(0, x), c(big), c(small)), out)
