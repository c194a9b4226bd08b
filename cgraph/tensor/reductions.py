"""Reductions with gradients, as theano.tensor functions: prod, max, min, all, any,
argmax, argmin, var, std, logsumexp (sum and mean live in `cgraph.tensor.math`).

dtypes follow numpy: sum/prod of ints and bools give int64, max/min keep the dtype,
all/any give bool, argmax/argmin give int64; mean/var/std of ints give floatX (Theano).
The C kernels are CAReduce / ArgReduce in `cgraph.tensor.reduce`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.configdefaults import config
from cgraph.graph.basic import Variable
from cgraph.tensor import math as m
from cgraph.tensor.elemwise import cast
from cgraph.tensor.reduce import ArgReduce, CAReduce, broadcast_like, expand_reduced, normalize_axes
from cgraph.tensor.shape import DimShuffle, shape_i
from cgraph.tensor.type import TensorVariable, as_tensor_variable

Axis = int | Sequence[int] | None


def _back(g: TensorVariable, x: TensorVariable, axes: tuple[int, ...]) -> TensorVariable:
    """A reduced-shape `g` broadcast back to the shape of `x`."""
    return broadcast_like(expand_reduced(g, x.ndim, axes), x)


class Prod(CAReduce):
    """Product over `axis`. Its gradient is exact with zeros in the input (Theano's rule):
    no zero: gz * prod / x; one zero: the product of the others at the zero, 0 elsewhere;
    two or more zeros: 0."""

    __props__ = ("axis",)

    def __init__(self, axis: tuple[int, ...]):
        super().__init__("mul", axis)

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (x,), (gz,) = inputs, output_grads
        axes = self.axis
        is_zero = m.eq(x, 0)
        n_zero = _back(CAReduce("add", axes)(is_zero), x, axes)
        prod_nonzero = _back(Prod(axes)(m.switch(is_zero, np.ones((), x.dtype), x)), x, axes)
        g = _back(gz, x, axes)
        no_zero = m.true_div(m.mul(g, prod_nonzero), m.switch(is_zero, np.ones((), x.dtype), x))
        one_zero = m.switch(is_zero, m.mul(g, prod_nonzero), np.zeros((), x.dtype))
        out = m.switch(m.eq(n_zero, 0), no_zero,
                       m.switch(m.eq(n_zero, 1), one_zero, np.zeros((), x.dtype)))
        return [cast(out, x.dtype)]


class MaxMin(CAReduce):
    """max / min over `axis`. The gradient goes to every position equal to the result
    (Theano's rule at ties)."""

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        (x,), (gz,) = inputs, output_grads
        hit = m.eq(x, _back(self(x), x, self.axis))
        return [cast(m.mul(_back(gz, x, self.axis), hit), x.dtype)]


class MaxShift(MaxMin):
    """The maximum over `axis` that logsumexp and softmax subtract for stability: -inf
    (the identity of max) over an empty axis, and no gradient, since their value does
    not depend on the shift."""

    __props__ = ("axis",)

    def __init__(self, axis: tuple[int, ...]):
        super().__init__("max", axis)

    def infer_shape(self, node: Any, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(s for a, s in enumerate(shapes[0]) if a not in self.axis)]

    def perform(self, node: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = inputs
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        return [np.asarray(np.max(x, axis=self.axis, initial=low), dtype=x.dtype)]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [m.zeros_like(inputs[0])]


def max_shift(x: TensorVariable, axes: tuple[int, ...]) -> TensorVariable:
    """The stabilising shift of logsumexp and softmax over `axes`, with kept axes: the
    maximum, or 0 where that is infinite (a slice of -inf must not give -inf - -inf)."""
    xmax = expand_reduced(MaxShift(axes)(x), x.ndim, axes)
    return m.switch(m.isinf(xmax), m.zeros_like(xmax), xmax)


class Logical(CAReduce):
    """all / any over `axis`: no gradient (zero)."""

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [m.zeros_like(inputs[0])]


def _finish(out: TensorVariable, x: TensorVariable, axes: tuple[int, ...],
            keepdims: bool) -> TensorVariable:
    return expand_reduced(out, x.ndim, axes) if keepdims else out


def prod(x: Any, axis: Axis = None, keepdims: bool = False, dtype: Any = None,
         acc_dtype: Any = None) -> TensorVariable:
    """Product over `axis` (None: all), like numpy.prod; ints give int64.

    `dtype` is the dtype of the result and, unless `acc_dtype` (Theano's) says
    otherwise, of the products (numpy's `dtype`).
    """
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    x_acc = x if (acc_dtype or dtype) is None else cast(x, np.dtype(acc_dtype or dtype).name)
    out = Prod(axes)(x_acc)
    if dtype is not None or acc_dtype is not None:
        out = cast(out, np.dtype(dtype).name if dtype is not None else Prod(axes).out_dtype(
            x.dtype))
    return _finish(out, x, axes, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> TensorVariable:
    """Maximum over `axis`, like numpy.max (NaN propagates; an empty axis raises
    ValueError when the function is called)."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    return _finish(MaxMin("max", axes)(x), x, axes, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> TensorVariable:
    """Minimum over `axis`, like numpy.min (the dtype is x's; NaN propagates; an empty
    axis raises ValueError when the function is called)."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    return _finish(MaxMin("min", axes)(x), x, axes, keepdims)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> TensorVariable:
    """Whether every element over `axis` is nonzero (bool), like numpy.all."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    return _finish(Logical("and", axes)(x), x, axes, keepdims)


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> TensorVariable:
    """Whether some element over `axis` is nonzero (bool), like numpy.any."""
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    return _finish(Logical("or", axes)(x), x, axes, keepdims)


def _arg(kind: str, x: Any, axis: int | None, keepdims: bool) -> TensorVariable:
    x = as_tensor_variable(x)
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{kind}: axis must be an int or None, not {axis!r}")
    ax = None if axis is None or x.ndim == 0 else normalize_axes(axis, x.ndim)[0]
    out = ArgReduce(kind, ax)(x)
    axes = tuple(range(x.ndim)) if ax is None else (ax,)
    return _finish(out, x, axes, keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> TensorVariable:
    """Index (int64) of the first maximum along `axis` (None: of the flattened input)."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> TensorVariable:
    """Index (int64) of the first minimum along `axis` (None: of the flattened input)."""
    return _arg("argmin", x, axis, keepdims)


def _count(x: TensorVariable, axes: tuple[int, ...], dtype: str) -> Any:
    static = [x.type.shape[a] for a in axes]
    if None not in static:
        return np.asarray(np.prod(static, dtype="int64"), dtype=dtype)
    count: Any = np.asarray(1, dtype=dtype)
    for a in axes:
        count = m.mul(count, cast(shape_i(x, a), dtype))
    return count


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Variance over `axis` with `ddof` (numpy's default 0); ints give floatX.

    The sum of squared deviations is divided by max(N - ddof, 0), as numpy does: with
    ddof >= N the variance is inf (nan where every deviation is 0), never negative.
    """
    x = as_tensor_variable(x)
    axes = normalize_axes(axis, x.ndim)
    dtype = x.dtype if x.dtype.startswith("float") else config.floatX
    xf = cast(x, dtype)
    centred = m.sub(xf, m.mean(xf, axis=axes, keepdims=True))
    total = m.sum(m.mul(centred, centred), axis=axes, keepdims=keepdims)
    dof = m.sub(_count(x, axes, dtype), np.asarray(ddof, dtype=dtype))
    return m.true_div(total, m.maximum(dof, np.zeros((), dtype=dtype)))


def std(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> TensorVariable:
    """Standard deviation over `axis` with `ddof`: sqrt(var)."""
    return m.sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> TensorVariable:
    """log(sum(exp(x))) over `axis`, computed stably: the maximum is subtracted first
    (an all -inf slice and an empty one give -inf, as scipy does)."""
    x = as_tensor_variable(x)
    x = cast(x, m.to_float([x.dtype]))  # int8 - max(int8) could wrap around
    axes = normalize_axes(axis, x.ndim)
    shift = max_shift(x, axes)
    total = m.sum(m.exp(m.sub(x, shift)), axis=axes, keepdims=True)
    out = m.add(m.log(total), shift)
    if keepdims:
        return out
    kept = [a for a in range(x.ndim) if a not in axes]
    return DimShuffle(x.ndim, kept)(out)


__all__ = ["all", "any", "argmax", "argmin", "logsumexp", "max", "min", "prod", "std", "var"]
