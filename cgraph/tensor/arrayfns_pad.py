"""fill_diagonal, fill_diagonal_offset and pad as graphs of existing ops (masks and
gathers at computed indices), in modes C and PY with the gradients of those ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.arrayfns import _check_matrix
from cgraph.tensor.basic_ops import alloc
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import and_, concatenate, eq, lt, mod, switch
from cgraph.tensor.subtensor import take
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["fill_diagonal", "fill_diagonal_offset", "pad"]


def _diagonal_mask(a: TensorVariable, offset: Any) -> TensorVariable:
    i = arange(a.shape[0]).dimshuffle(0, "x")
    j = arange(a.shape[1]).dimshuffle("x", 0)
    return eq(j - i, offset)


def _fill_value(a: TensorVariable, val: Any, name: str) -> TensorVariable:
    val = as_tensor_variable(val)
    if val.ndim != 0:
        raise TypeError(f"{name}: the value must be a scalar, got {val.ndim} dimensions")
    return cast(val, a.dtype)


def fill_diagonal(a: Any, val: Any) -> TensorVariable:
    """A copy of `a` with its main diagonal set to the scalar `val` (numpy's
    fill_diagonal without wrap, which works in place; PyTensor's returns the copy).

    `a` is a matrix (any shape: min(n, m) elements are set) or an n-d array with equal
    lengths (the elements a[i, i, ..., i]). `val` is cast to `a`'s dtype. Gradients in
    `a` (zero on the diagonal) and `val` (the sum of the diagonal's gradient). Raises
    TypeError for a vector or a non-scalar `val`.
    """
    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: the array must be at least 2-d, got {a.ndim}-d")
    val = _fill_value(a, val, "fill_diagonal")
    if a.ndim == 2:
        mask = _diagonal_mask(a, 0)
    else:
        static = {n for n in a.type.shape if n is not None}
        if len(static) > 1:
            raise ValueError(f"fill_diagonal: all dimensions of the input must have the "
                             f"same length, got {a.type.shape}")
        grids = []
        for d in range(a.ndim):
            pattern = ["x"] * a.ndim
            pattern[d] = 0
            grids.append(arange(a.shape[d]).dimshuffle(*pattern))
        mask = eq(grids[0], grids[1])
        for g in grids[2:]:
            mask = and_(mask, eq(grids[0], g))
    return switch(mask, val, a)


def fill_diagonal_offset(a: Any, val: Any, offset: Any) -> TensorVariable:
    """A copy of the matrix `a` with its `offset`-th diagonal set to the scalar `val`
    (PyTensor's fill_diagonal_offset; offset > 0 above the main diagonal, may be
    symbolic). dtype, gradients and errors as `fill_diagonal` (matrices only)."""
    a = _check_matrix(a, "fill_diagonal_offset")
    return switch(_diagonal_mask(a, offset), _fill_value(a, val, "fill_diagonal_offset"), a)


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    w = np.asarray(pad_width)
    if w.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        w = np.broadcast_to(w, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of "
                         f"{ndim} dimensions") from None
    if (w < 0).any():
        raise ValueError(f"pad: negative pad width in {pad_width!r}")
    return [(int(b), int(e)) for b, e in w]


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(array: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0
        ) -> TensorVariable:
    """`array` padded by `pad_width` elements (numpy's pad).

    `pad_width` is static: an int, (before, after) or one pair per axis. Modes:
    'constant' (`constant_values`, a scalar or per-axis (before, after) pairs, cast to
    the array's dtype), 'edge' (the end values repeated), 'reflect' (mirrored without
    the edge), 'symmetric' (mirrored with the edge), 'wrap' (periodic); widths longer
    than the axis repeat the pattern, as numpy. Keeps the dtype; gradient in `array`.
    Raises ValueError for another mode or negative widths, IndexError at call time when
    a non-constant mode pads an empty axis.
    """
    x = as_tensor_variable(array)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported (one of {_PAD_MODES})")
    widths = _pad_widths(pad_width, x.ndim)
    if mode == "constant":
        cv = np.broadcast_to(np.asarray(constant_values, dtype=object), (x.ndim, 2))
    for d, (before, after) in enumerate(widths):
        if before == after == 0:
            continue
        n = x.shape[d]
        if mode == "constant":
            parts = []
            for count, v in ((before, cv[d][0]), (after, cv[d][1])):
                shape = [x.shape[k] if k != d else count for k in range(x.ndim)]
                parts.append(alloc(cast(as_tensor_variable(v), x.dtype), *shape))
            x = concatenate([parts[0], x, parts[1]], axis=d)
            continue
        idx = arange(-before, n + after)
        if mode == "edge":
            idx = switch(lt(idx, 0), 0, switch(lt(idx, n), idx, n - 1))
        elif mode == "wrap":
            idx = mod(idx, n)
        elif mode == "symmetric":
            m = mod(idx, 2 * n)
            idx = switch(lt(m, n), m, 2 * n - 1 - m)
        else:  # reflect: period 2 (n - 1); an axis of length 1 repeats its element
            period = switch(lt(n, 2), 1, 2 * (n - 1))
            m = mod(idx, period)
            idx = switch(lt(m, n), m, period - m)
        x = take(x, idx, axis=d)
    return x
