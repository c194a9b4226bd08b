"""Linear-algebra functions built from other ops (no kernel of their own): `pinv` and
`lstsq` (from svd), `norm`, `kron`, `matrix_power`, `block_diag`, `tensorsolve`,
`tensorinv`, with numpy's / scipy's semantics. Their gradients are those of the ops
they are made of.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.tensor.basic_ops import alloc, reshape
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import expand_dims, eye
from cgraph.tensor.linalg.decomp import matrix_inverse
from cgraph.tensor.linalg.rect import PInv, svd
from cgraph.tensor.linalg.solve import Solve
from cgraph.tensor.linalg.tri import mm
from cgraph.tensor.math import abs as abs_
from cgraph.tensor.math import concatenate, gt, maximum, neq, sqrt
from cgraph.tensor.math import sum as sum_
from cgraph.tensor.reductions import max as max_
from cgraph.tensor.reductions import min as min_
from cgraph.tensor.shape import dimshuffle, pad_left
from cgraph.tensor.type import as_tensor_variable


def _float(x: Any) -> Any:
    """x as a tensor, integers and bools cast to float64 (numpy.linalg's rule)."""
    x = as_tensor_variable(x)
    return x if x.dtype in ("float32", "float64") else cast(x, "float64")


def pinv(a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    """numpy.linalg.pinv: the Moore-Penrose pseudo-inverse of each matrix of a (..., m,
    n), an (..., n, m) result, from its SVD; singular values at most rcond * the
    largest count as zero (numpy's default 1e-15). Integers become float64.
    `hermitian` is accepted and ignored (the general SVD is used). The gradient is
    Golub and Pereyra's, finite at repeated singular values (as long as the rank does
    not change). A bool in rcond's place is PyTensor's pinv(x, hermitian)."""
    if isinstance(rcond, (bool, np.bool_)):  # hermitian, ignored as the keyword is
        rcond = 1e-15
    return PInv(rcond)(_float(a))


def lstsq(a: Any, b: Any, rcond: float | None = None) -> tuple[Any, Any, Any, Any]:
    """numpy.linalg.lstsq: (x, residuals, rank, s) for a (m, n) and b (m,) or (m, k);
    x minimizes norm(b - a x), from a's SVD, with singular values at most rcond * the
    largest taken as zero (rcond None: machine precision times max(m, n), as numpy);
    x = pinv(a, rcond) b, whose gradient is finite at repeated singular values.
    rank is int64; residuals are the squared 2-norms of b - a x per column, shape (k,)
    ((1,) for a vector b), always: numpy gives an empty array when rank < n or m <= n
    (a shape depending on the values, which a graph cannot have). The gradient flows
    through x, residuals and s."""
    a, b = _float(a), _float(b)
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise ValueError(f"lstsq: a must be a matrix and b a vector or a matrix, got "
                         f"{a.type} and {b.type}")
    if a.dtype != b.dtype:
        a, b = cast(a, "float64"), cast(b, "float64")
    s = svd(a, compute_uv=False)
    cutoff = (rcond if rcond is not None else
              float(np.finfo(a.dtype).eps) * cast(maximum(a.shape[0], a.shape[1]), a.dtype))
    col = b if b.ndim == 2 else expand_dims(b, 1)
    x = mm(PInv(rcond)(a), col)
    r = col - mm(a, x)
    residuals = sum_(r * r, axis=0)
    rank = sum_(cast(gt(s, cutoff * max_(s)), "int64"))
    return (x if b.ndim == 2 else x[:, 0]), residuals, rank, s


def matrix_power(m: Any, n: int) -> Any:
    """numpy.linalg.matrix_power: m (..., k, k) to the integer power n by repeated
    squaring; n = 0 gives the identity (in m's dtype), n < 0 the power of the inverse
    (in float64 for integers, as numpy; a singular one raises numpy.linalg.LinAlgError)."""
    m = as_tensor_variable(m)
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    if m.ndim < 2:
        raise ValueError(f"matrix_power: expected a matrix or a stack of them, got {m.type}")
    n = int(n)
    if n == 0:
        return eye(m.shape[m.ndim - 1], dtype=m.dtype) + m * 0
    if n < 0:  # integers: the inverse in float64, as numpy
        m, n = matrix_inverse(_float(m)), -n
    result, base = None, m
    while n:
        if n & 1:
            result = base if result is None else mm(result, base)
        n >>= 1
        if n:
            base = mm(base, base)
    return result


def kron(a: Any, b: Any) -> Any:
    """numpy.kron: the Kronecker product; the operand with fewer axes gets leading axes
    of length 1, and the result's shape is the product of the shapes, axis by axis.
    Its dtype is the product's (numpy's upcast)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    nd = max(a.ndim, b.ndim)
    if nd == 0:
        return a * b
    a, b = pad_left(a, nd), pad_left(b, nd)
    wide = dimshuffle(a, *[p for i in range(nd) for p in (i, "x")]) * \
        dimshuffle(b, *[p for i in range(nd) for p in ("x", i)])
    return reshape(wide, [a.shape[i] * b.shape[i] for i in range(nd)])


def block_diag(*matrices: Any) -> Any:
    """scipy.linalg.block_diag: the matrices on the diagonal of one matrix of zeros (a
    vector counts as one row, a scalar as 1 x 1, as in scipy); the dtype is their
    common (upcast) dtype."""
    if not matrices:
        raise ValueError("block_diag: at least one matrix is needed")
    mats = [as_tensor_variable(x) for x in matrices]
    for i, x in enumerate(mats):
        if x.ndim > 2:
            raise ValueError(f"block_diag: argument {i} has {x.ndim} axes (at most 2), "
                             f"got {x.type}")
    mats = [pad_left(x, 2) for x in mats]
    dtype = np.result_type(*[np.dtype(x.dtype) for x in mats]).name
    mats = [x if x.dtype == dtype else cast(x, dtype) for x in mats]
    total = functools.reduce(operator.add, [x.shape[1] for x in mats])
    rows, before = [], 0
    for x in mats:
        after = total - before - x.shape[1]
        rows.append(concatenate([alloc(np.asarray(0, dtype), x.shape[0], before), x,
                                 alloc(np.asarray(0, dtype), x.shape[0], after)], axis=1))
        before = before + x.shape[1]
    return rows[0] if len(rows) == 1 else concatenate(rows, axis=0)


def _product(lengths: Sequence[Any]) -> Any:
    return functools.reduce(operator.mul, lengths) if lengths else 1


def tensorsolve(a: Any, b: Any, axes: Sequence[int] | None = None) -> Any:
    """numpy.linalg.tensorsolve: x with tensordot(a, x, x.ndim) = b, x's shape being
    a's trailing axes past b.ndim (`axes`: a's axes moved to the end first). a's
    leading axes must hold as many elements as its trailing ones (else ValueError at
    the call); a singular system raises numpy.linalg.LinAlgError."""
    a, b = _float(a), _float(b)
    if axes is not None:
        axes = [ax % a.ndim for ax in axes]
        rest = [i for i in range(a.ndim) if i not in axes]
        a = dimshuffle(a, *rest, *axes)
    if b.ndim >= a.ndim:
        raise ValueError(f"tensorsolve: a must have more axes than b, got {a.type} and "
                         f"{b.type}")
    xshape = [a.shape[i] for i in range(b.ndim, a.ndim)]
    n = _product(xshape)
    square = reshape(a, [_product([b.shape[i] for i in range(b.ndim)]), n])
    x = Solve("gen", False, 1)(square, reshape(b, [n]))
    return reshape(x, xshape)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """numpy.linalg.tensorinv: the inverse of a with respect to tensordot over `ind`
    axes; shape a.shape[ind:] + a.shape[:ind]. The leading `ind` axes must hold as
    many elements as the others; a singular one raises numpy.linalg.LinAlgError."""
    a = _float(a)
    if not 0 < ind < a.ndim + 1 or not isinstance(ind, int):
        raise ValueError(f"tensorinv: ind must be a positive integer up to a.ndim, got "
                         f"{ind!r}")
    lead = [a.shape[i] for i in range(ind)]
    trail = [a.shape[i] for i in range(ind, a.ndim)]
    inv = matrix_inverse(reshape(a, [_product(lead), _product(trail)]))
    return reshape(inv, trail + lead)


_VECTOR_ORDS = (None, 2, np.inf, -np.inf, 0, 1)
_MATRIX_ORDS = (None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2)


def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Any:  # noqa: A002
    ax = abs_(x)
    if ord is None or ord == 2:
        return sqrt(sum_(x * x, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return max_(ax, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min_(ax, axis=axis, keepdims=keepdims)
    if ord == 0:
        return sum_(cast(neq(x, 0), x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum_(ax, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    p = float(ord)
    return sum_(ax ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _matrix_norm(x: Any, ord: Any, row: int, col: int, keepdims: bool) -> Any:  # noqa: A002
    if ord not in _MATRIX_ORDS:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices (one of None, "
                         "'fro', 'nuc', inf, -inf, 1, -1, 2, -2)")
    if ord in (None, "fro"):
        out = sqrt(sum_(x * x, axis=(row, col)))
    elif ord in (1, -1, np.inf, -np.inf):
        along, across = (row, col) if ord in (1, -1) else (col, row)
        sums = sum_(abs_(x), axis=along)
        across = across - 1 if across > along else across
        out = (max_ if ord > 0 else min_)(sums, axis=across)
    else:  # 2, -2, 'nuc': the singular values of the matrices moved to the last axes
        rest = [i for i in range(x.ndim) if i not in (row, col)]
        s = svd(dimshuffle(x, *rest, row, col), compute_uv=False)
        last = s.ndim - 1
        out = (sum_(s, axis=last) if ord == "nuc" else
               max_(s, axis=last) if ord == 2 else min_(s, axis=last))
    if keepdims:
        for ax in sorted((row, col)):
            out = expand_dims(out, ax)
    return out


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """numpy.linalg.norm. Vector norms (one axis, or a vector with axis None): ord None
    or 2 (Euclidean), inf, -inf, 0 (count of nonzeros), 1, or any other number p
    (sum abs(x)^p)^(1/p). Matrix norms (two axes, or a matrix with axis None): None/'fro',
    'nuc' (sum of singular values), inf/-inf (max/min row sum of abs(x)), 1/-1 (max/min
    column sum), 2/-2 (largest/smallest singular value). axis None with ord None is the
    2-norm of all elements, whatever the rank. Integers become float64. An invalid ord,
    or ord given with axis None on more than 2 axes, raises ValueError."""
    x = _float(x)
    if axis is None:
        if ord is None:
            out = sqrt(sum_(x * x))
            return reshape(out, [1] * x.ndim) if keepdims else out
        if x.ndim == 1:
            axis = 0
        elif x.ndim == 2:
            axis = (0, 1)
        else:
            raise ValueError(f"norm: ord {ord!r} needs a vector or a matrix (or axis), got "
                             f"{x.type}")
    if isinstance(axis, (int, np.integer)):
        return _vector_norm(x, ord, int(axis) % x.ndim, keepdims)
    axis = tuple(int(a) % x.ndim for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) != 2 or axis[0] == axis[1]:
        raise ValueError(f"norm: axis must be an int or two different axes, got {axis}")
    return _matrix_norm(x, ord, axis[0], axis[1], keepdims)
