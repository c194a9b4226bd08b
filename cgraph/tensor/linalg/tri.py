"""Graph helpers the gradients of the LAPACK ops are built from: batched transposes,
products, triangles and diagonals of the last two axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.blas import matmul
from cgraph.tensor.diagonal import diagonal
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import arange, expand_dims, eye, swapaxes
from cgraph.tensor.math import ge, le
from cgraph.tensor.reduce import sum_to
from cgraph.tensor.shape import DimShuffle
from cgraph.tensor.type import TensorConstant, TensorVariable


def mT(x: TensorVariable) -> TensorVariable:
    """`x` with its last two axes exchanged (a view)."""
    return swapaxes(x, -1, -2)


def mm(a: Any, b: Any) -> TensorVariable:
    """numpy.matmul of stacks (batch axes broadcast)."""
    return matmul(a, b)


def order(x: TensorVariable) -> Any:
    """The length of `x`'s last axis (a symbolic int)."""
    return x.shape[x.ndim - 1]


def tri_mask(x: TensorVariable, lower: bool, k: int = 0) -> TensorVariable:
    """numpy.tril(ones, k) (lower) or triu(ones, k) of the last two axes' size, in x's
    dtype."""
    n = order(x)
    rows = expand_dims(arange(n), 1)
    cols = expand_dims(arange(n), 0) - k
    keep = ge(rows, cols) if lower else le(rows, cols)
    return cast(keep, x.dtype)


def tri(x: TensorVariable, lower: bool, k: int = 0) -> TensorVariable:
    """numpy.tril(x, k) (lower) or triu(x, k) over the last two axes."""
    return x * tri_mask(x, lower, k)


def diag_part(x: TensorVariable) -> TensorVariable:
    """The diagonals of a stack of matrices, (..., n)."""
    return diagonal(x, 0, x.ndim - 2, x.ndim - 1)


def diag_embed(v: TensorVariable) -> TensorVariable:
    """Diagonal matrices (..., n, n) with the vectors `v` (..., n) on their diagonals."""
    return expand_dims(v, v.ndim - 1) * eye(order(v), dtype=v.dtype)


def triangle_grad(g: TensorVariable, lower: bool) -> TensorVariable:
    """The gradient with respect to `a` of a function of the symmetric matrix that LAPACK
    reads from one triangle of `a` (M = tril(a) + tril(a, -1)^T), given the gradient `g`
    with respect to M: a[i, j] off the diagonal enters M twice."""
    return tri(g + mT(g), lower) - diag_embed(diag_part(g))


def outer_last(u: TensorVariable, v: TensorVariable) -> TensorVariable:
    """u v^T of stacks of vectors (..., n) x (..., m) -> (..., n, m)."""
    return expand_dims(u, u.ndim) * expand_dims(v, v.ndim - 1)


def scale(s: TensorVariable, m: TensorVariable) -> TensorVariable:
    """Each matrix of the stack `m` times its scalar of the stack `s`."""
    return expand_dims(expand_dims(s, s.ndim), s.ndim + 1) * m


def fit(g: TensorVariable, x: TensorVariable) -> TensorVariable:
    """`g` summed over the batch axes where `x` was broadcast."""
    return sum_to(g, x, runtime=True)  # batch axes broadcast by numpy's rule


def is_zero(g: Any) -> bool:
    """Whether `g` is known to be all zeros: a zero constant, or zeros_like's
    second(x, 0) (the gradient machinery's stand-in for an unused output), through
    DimShuffles. A gradient rule uses it to skip terms an unused output would make NaN
    (0 * inf where eigenvalues or singular values repeat)."""
    while g.owner is not None and isinstance(g.owner.op, DimShuffle):
        g = g.owner.inputs[0]
    if isinstance(g, TensorConstant):
        return not np.any(g.data)
    owner = g.owner
    if owner is not None and getattr(getattr(owner.op, "scalar_op", None), "name",
                                     None) == "second":
        return is_zero(owner.inputs[1])
    return False
