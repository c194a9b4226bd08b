"""PyTensor's and numpy's remaining tensor names, as graphs of existing ops: numpy's
comparison names, stacking and selection helpers (choose, compress, flatnonzero, ...),
tri, cov, bartlett, the gamma-function compositions (gammau, gammal, chi2sf) and the
small graph utilities of `pytensor.tensor` (get_vector_length, default, ...).

Each one runs in modes C and PY with the gradients of the ops it is made of.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Constant
from cgraph.tensor.arrayfns import (
    _tri_mask,
    broadcast_shape,
    broadcast_to,
    take_along_axis,
)
from cgraph.tensor.arrayfns_search import _checked
from cgraph.tensor.basic_ops import zeros
from cgraph.tensor.blas import matmul
from cgraph.tensor.diagonal import diagonal
from cgraph.tensor.elemwise import cast
from cgraph.tensor.extra_ops import arange, stack, swapaxes
from cgraph.tensor.lanes import argsort
from cgraph.tensor.math import (
    and_,
    concatenate,
    dot,
    eq,
    floor_div,
    ge,
    gt,
    isinf,
    le,
    lt,
    maximum,
    minimum,
    mod,
    neq,
    psi,
    round_half_away_from_zero,
    round_half_to_even,
    switch,
)
from cgraph.tensor.reductions import argmax
from cgraph.tensor.reductions import max as max_
from cgraph.tensor.special_math import gamma, gammainc, gammaincc
from cgraph.tensor.subtensor import nonzero, set_subtensor, take
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = [
    "atleast_Nd", "bartlett", "ceil_intdiv", "chi2sf", "choose", "compress",
    "concat_with_broadcast", "cov", "default", "dense_dot", "digamma", "divmod", "empty",
    "empty_like", "equal", "extract_diag", "flatnonzero", "gammal", "gammau",
    "get_scalar_constant_value", "get_underlying_scalar_constant_value",
    "get_vector_length", "greater", "greater_equal", "horizontal_stack",
    "inverse_permutation", "iround", "is_flat", "isneginf", "isposinf", "largest", "less",
    "less_equal", "matrix_transpose", "max_and_argmax", "nonzero_values", "not_equal",
    "permute_row_elements", "smallest", "tri", "vertical_stack",
    "NotScalarConstantError", "broadcast_shape",
]

# numpy's names of the comparison ops (the same table ops, so the same functions)
equal = eq
not_equal = neq
greater = gt
greater_equal = ge
less = lt
less_equal = le
#: scipy's name of psi
digamma = psi
#: PyTensor's name of dot on dense tensors
dense_dot = dot
#: PyTensor's old name of diagonal
extract_diag = diagonal


def iround(a: Any, mode: str = "half_away_from_zero") -> TensorVariable:
    """`a` rounded to int64 (PyTensor's iround): half away from zero by default, or
    half to even with mode='half_to_even'. Raises ValueError for another mode."""
    if mode == "half_away_from_zero":
        return cast(round_half_away_from_zero(a), "int64")
    if mode == "half_to_even":
        return cast(round_half_to_even(a), "int64")
    raise ValueError(f"iround: mode must be 'half_away_from_zero' or 'half_to_even', "
                     f"got {mode!r}")


def isposinf(x: Any) -> TensorVariable:
    """Elementwise x == +inf (numpy's isposinf), a bool tensor (False for integers)."""
    x = as_tensor_variable(x)
    return and_(isinf(x), gt(x, 0))


def isneginf(x: Any) -> TensorVariable:
    """Elementwise x == -inf (numpy's isneginf), a bool tensor (False for integers)."""
    x = as_tensor_variable(x)
    return and_(isinf(x), lt(x, 0))


def ceil_intdiv(a: Any, b: Any) -> TensorVariable:
    """ceil(a / b) for integers a and b (PyTensor's ceil_intdiv), in their common integer
    dtype: floor_div(a, b) plus 1 where the division leaves a remainder. Division by
    zero gives 0, as floor_div does. No gradient (integer result)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    q = floor_div(a, b)
    return q + cast(neq(mod(a, b), 0), q.dtype)


def divmod(a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
    """(floor_div(a, b), mod(a, b)) (numpy's divmod): the floor quotient and the
    remainder with the sign of b, in the inputs' upcast dtype."""
    return floor_div(a, b), mod(a, b)


def largest(*args: Any) -> TensorVariable:
    """The elementwise maximum of all the arguments (PyTensor's largest), broadcast
    together, in their upcast dtype. Raises ValueError with no argument."""
    if not args:
        raise ValueError("largest: at least one argument is needed")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = maximum(out, a)
    return out


def smallest(*args: Any) -> TensorVariable:
    """The elementwise minimum of all the arguments (PyTensor's smallest), as `largest`."""
    if not args:
        raise ValueError("smallest: at least one argument is needed")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = minimum(out, a)
    return out


def max_and_argmax(a: Any, axis: int | None = None, keepdims: bool = False
                   ) -> tuple[TensorVariable, TensorVariable]:
    """(max(a, axis), argmax(a, axis)) (PyTensor's max_and_argmax); see those functions
    for dtypes and errors."""
    return max_(a, axis, keepdims), argmax(a, axis, keepdims)


def matrix_transpose(x: Any) -> TensorVariable:
    """`x` with its last two axes swapped (numpy's matrix_transpose; a view). Raises
    ValueError for fewer than 2 dimensions."""
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: input must have at least 2 dimensions, "
                         f"got {x.ndim}")
    return swapaxes(x, -1, -2)


def empty(shape: Any, dtype: Any = None) -> TensorVariable:
    """A tensor of `shape` (numpy's empty). cgraph fills it with zeros: a result never
    depends on uninitialized memory. dtype defaults to floatX."""
    return zeros(shape, dtype)


def empty_like(prototype: Any, dtype: Any = None) -> TensorVariable:
    """A tensor shaped like `prototype` (numpy's empty_like), filled with zeros, in
    `dtype` or the prototype's dtype."""
    p = as_tensor_variable(prototype)
    return zeros(p.shape if p.ndim else (), dtype or p.dtype)


def tri(N: Any, M: Any = None, k: Any = 0, dtype: Any = None) -> TensorVariable:
    """The (N, M) matrix with ones at and below the k-th diagonal, zeros above (numpy's
    tri); M defaults to N, dtype to floatX. N, M, k may be symbolic."""
    mask = _tri_mask(N, N if M is None else M, k, True)
    return cast(mask, dtype or config.floatX)


def flatnonzero(a: Any) -> TensorVariable:
    """The int64 indices of the non-zero elements of the flattened `a` (numpy's
    flatnonzero)."""
    return nonzero(as_tensor_variable(a).flatten())[0]


def nonzero_values(a: Any) -> TensorVariable:
    """The non-zero elements of `a`, flattened, in row-major order (PyTensor's
    nonzero_values; numpy's a[a != 0]). Keeps `a`'s dtype; gradient in `a`."""
    flat = as_tensor_variable(a).flatten()
    return flat[nonzero(flat)[0]]


def compress(condition: Any, x: Any, axis: int | None = None) -> TensorVariable:
    """The slices of `x` along `axis` where the boolean vector `condition` is true
    (numpy's compress; `axis=None` works on the flattened `x`). `condition` may be
    shorter than the axis (the rest is dropped). Keeps `x`'s dtype; gradient in `x`.
    Raises TypeError when `condition` is not a vector, IndexError at call time when it
    is longer than the axis and true past its end."""
    condition = as_tensor_variable(condition)
    if condition.ndim != 1:
        raise TypeError(f"compress: condition must be a vector, got {condition.ndim} "
                        "dimensions")
    x = as_tensor_variable(x)
    idx = nonzero(condition)[0]
    return take(x.flatten(), idx) if axis is None else take(x, idx, axis)


def choose(a: Any, choices: Any, mode: str = "raise") -> TensorVariable:
    """The element of choices[a] at each position (numpy's choose): `a` (integers) and
    the choices (a sequence of tensors, or a tensor whose first axis lists them)
    broadcast together. mode 'raise' (IndexError at call time for an index out of
    range; numpy raises ValueError), 'wrap' or 'clip'. dtype: the choices' upcast;
    gradient in the choices. Raises TypeError for float indices, ValueError for
    another mode."""
    a = as_tensor_variable(a)
    if a.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"choose: a must be integers, got {a.dtype}")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if isinstance(choices, (list, tuple)):
        parts = [as_tensor_variable(c) for c in choices]
        shape = broadcast_shape(a, *parts)
        stacked = stack([broadcast_to(c, shape) for c in parts])
    else:
        stacked = as_tensor_variable(choices)
        shape = broadcast_shape(a, stacked[0])
        stacked = broadcast_to(stacked, [stacked.shape[0], *shape])
    n = stacked.shape[0]
    idx = cast(a, "int64")
    if mode == "wrap":
        idx = mod(idx, n)
    elif mode == "clip":
        idx = switch(lt(idx, 0), 0, switch(lt(idx, n), idx, n - 1))
    else:
        idx = _checked(idx, and_(ge(idx, 0), lt(idx, n)))
    idx = broadcast_to(idx, shape)
    return take_along_axis(stacked, idx.dimshuffle("x", *range(len(shape))), 0)[0]


def concat_with_broadcast(tensor_list: Sequence[Any], axis: int = 0) -> TensorVariable:
    """The tensors joined along `axis` after broadcasting their other axes together
    (PyTensor's concat_with_broadcast). Raises TypeError for tensors of different ranks,
    ValueError when the other axes do not broadcast."""
    ts = [as_tensor_variable(t) for t in tensor_list]
    nd = ts[0].ndim
    if any(t.ndim != nd for t in ts):
        raise TypeError(f"concat_with_broadcast: tensors of ranks {[t.ndim for t in ts]}: "
                        "all must have the same number of dimensions")
    ax = axis + nd if axis < 0 else axis
    others = [t[tuple(slice(0, 1) if d == ax else slice(None) for d in range(nd))]
              for t in ts]
    shape = broadcast_shape(*others)
    return concatenate([broadcast_to(t, [t.shape[d] if d == ax else shape[d]
                                         for d in range(nd)]) for t in ts], axis=ax)


def horizontal_stack(*args: Any) -> TensorVariable:
    """The tensors joined along their second axis (numpy's hstack; vectors along the
    first). Ranks must agree (TypeError otherwise, from concatenate)."""
    ts = [as_tensor_variable(t) for t in args]
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1)


def vertical_stack(*args: Any) -> TensorVariable:
    """The tensors joined along their first axis (numpy's vstack: vectors become rows
    first)."""
    ts = [as_tensor_variable(t) for t in args]
    return concatenate([t.dimshuffle("x", 0) if t.ndim == 1 else t for t in ts], axis=0)


def inverse_permutation(perm: Any) -> TensorVariable:
    """The inverse of the permutation vector `perm` (PyTensor's inverse_permutation):
    out[perm[i]] = i, int64. Raises TypeError unless `perm` is an integer vector; its
    values must be a permutation of range(len(perm))."""
    perm = as_tensor_variable(perm)
    if perm.ndim != 1 or perm.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"inverse_permutation: perm must be an integer vector, got {perm.type}")
    n = perm.shape[0]
    return set_subtensor(zeros((n,), "int64")[perm], arange(n))


def permute_row_elements(x: Any, y: Any, inverse: bool = False) -> TensorVariable:
    """Each row (last axis) of `x` permuted by `y` (PyTensor's permute_row_elements):
    out[..., j] = x[..., y[..., j]], `y` (integer permutations) broadcast against `x`'s
    leading axes; with `inverse`, the inverse permutations. Gradient in `x`."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if y.dtype[:3] not in ("int", "uin"):
        raise TypeError(f"permute_row_elements: y must be integers, got {y.dtype}")
    if inverse:
        y = argsort(y, -1)
    nd = builtins.max(x.ndim, y.ndim)
    x = x.dimshuffle(*["x"] * (nd - x.ndim), *range(x.ndim))
    y = y.dimshuffle(*["x"] * (nd - y.ndim), *range(y.ndim))
    shape = broadcast_shape(x[..., :1], y[..., :1])[:-1]
    xb = broadcast_to(x, [*shape, x.shape[-1]])
    yb = broadcast_to(y, [*shape, y.shape[-1]])
    return take_along_axis(xb, yb, -1)


def atleast_Nd(x: Any, n: int = 1, left: bool = True) -> TensorVariable:
    """`x` with length-1 axes added on the left (or the right with left=False) until it
    has `n` dimensions (PyTensor's atleast_Nd; a view)."""
    x = as_tensor_variable(x)
    extra = builtins.max(n - x.ndim, 0)
    pattern = ["x"] * extra + list(range(x.ndim)) if left else list(range(x.ndim)) + [
        "x"] * extra
    return x.dimshuffle(*pattern) if extra else x


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None) -> TensorVariable:
    """The covariance matrix of the variables in `m` (numpy's cov without weights): each
    row a variable and each column an observation (columns with rowvar=False); `y`
    adds variables. Normalised by N - 1, or N with `bias`, or N - ddof. dtype: float64
    for integers, else the float dtype; gradient in `m` and `y`. A 1-d input is one
    variable (a 0-d result)."""
    m = as_tensor_variable(m)
    if m.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions ({m.ndim})")
    ft = m.dtype if m.dtype.startswith("float") else "float64"
    x = cast(m, ft)
    x = x.dimshuffle("x", 0) if x.ndim == 1 else (x if rowvar else x.T)
    if y is not None:
        yv = cast(as_tensor_variable(y), ft)
        yv = yv.dimshuffle("x", 0) if yv.ndim == 1 else (yv if rowvar else yv.T)
        x = concatenate([x, yv], axis=0)
    d = (0 if bias else 1) if ddof is None else ddof
    n = cast(x.shape[1], ft)
    xc = x - x.mean(axis=1, keepdims=True)
    c = matmul(xc, xc.T) / (n - d)
    if m.ndim == 1 and y is None:
        return c[0, 0]
    return c


def bartlett(M: Any) -> TensorVariable:
    """The Bartlett (triangular) window of M points (numpy's bartlett), float64: 1 at
    the centre, 0 at the ends; empty for M < 1, [1.] for M == 1. M may be symbolic."""
    M = as_tensor_variable(M)
    n = cast(arange(1 - M, M, 2), "float64")
    denom = cast(maximum(M - 1, 1), "float64")
    return switch(le(n, 0), 1 + n / denom, 1 - n / denom)


def chi2sf(x: Any, k: Any) -> TensorVariable:
    """The chi-square survival function with k degrees of freedom at x (PyTensor's
    chi2sf, scipy.stats.chi2.sf): gammaincc(k / 2, x / 2). dtype and errors as
    gammaincc; gradient in x (and none in k, as gammaincc's in its first argument:
    a Python or numpy k is halved as a constant)."""
    half_k = np.asarray(k) / 2 if not isinstance(k, TensorVariable) else k / 2
    return gammaincc(half_k, as_tensor_variable(x) / 2)


def gammau(k: Any, x: Any) -> TensorVariable:
    """The upper incomplete gamma function Gamma(k, x) = gammaincc(k, x) * gamma(k),
    not regularised (PyTensor's gammau). Overflows like gamma for large k."""
    return gammaincc(k, x) * gamma(k)


def gammal(k: Any, x: Any) -> TensorVariable:
    """The lower incomplete gamma function gamma(k, x) = gammainc(k, x) * gamma(k), not
    regularised (PyTensor's gammal). Overflows like gamma for large k."""
    return gammainc(k, x) * gamma(k)


# --------------------------------------------------------------------------- graph utilities

class NotScalarConstantError(ValueError):
    """The variable is not a scalar constant (get_scalar_constant_value)."""


def get_scalar_constant_value(v: Any) -> np.ndarray:
    """The value of `v` when it is a constant holding one element (a Python or numpy
    number, or a constant tensor of size 1), as a 0-d numpy array (PyTensor's
    get_scalar_constant_value). Raises NotScalarConstantError otherwise."""
    if isinstance(v, (int, float, bool, np.number, np.bool_)):
        return np.asarray(v)
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.reshape(())
    if isinstance(v, Constant) and np.size(v.data) == 1:
        return np.asarray(v.data).reshape(())
    raise NotScalarConstantError(f"{v!r} is not a scalar constant")


#: PyTensor's name for the same look-up (it also looks through shape ops; cgraph's
#: constant folding does that before a constant is needed)
get_underlying_scalar_constant_value = get_scalar_constant_value


def get_vector_length(v: Any) -> int:
    """The static length of the vector `v` (PyTensor's get_vector_length). Raises
    TypeError for a non-vector, ValueError when the length is not known statically."""
    if isinstance(v, (list, tuple)):
        return len(v)
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length: {v!r} is not a vector ({v.ndim} dimensions)")
    n = v.type.shape[0]
    if n is None:
        raise ValueError(f"get_vector_length: the length of {v!r} is not known statically")
    return int(n)


def is_flat(var: Any, ndim: int = 1) -> bool:
    """True when `var` has exactly `ndim` dimensions (PyTensor's is_flat)."""
    return as_tensor_variable(var).ndim == ndim


def default(x: Any, default: Any) -> Any:
    """`x`, or `default` when `x` is None (PyTensor's default)."""
    return default if x is None else x

