"""Linear algebra: dot, matmul (`@`), outer, tensordot, batched_dot, batched_tensordot.

Two ops compute every product (`cgraph.tensor.blas_ops`, with their kernels):

- `Dot`: numpy.dot of 1-d and 2-d operands of one dtype;
- `MatMul`: stacks of matrices, (..., M, K) @ (..., K, N), operands of equal rank
  (at least 3) whose batch axes broadcast as numpy's.

A third, `Gemm` (alpha * dot(a, b) + beta * c, one BLAS call with beta), is made by the
`specialize` rewrite (cgraph/rewrite/specialize.py) from a Dot and the elementwise ops
around it.

The user-facing functions reduce every other case to these two with views
(dimshuffle) and reshapes, and promote mixed dtypes as numpy does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply, Variable, ViewOp
from cgraph.tensor.basic_ops import reshape
from cgraph.tensor.blas_ops import Dot, Gemm, MatMul, _broadcast_batch
from cgraph.tensor.elemwise import cast
from cgraph.tensor.shape import DimShuffle, pad_left, shape_i, transpose
from cgraph.tensor.type import TensorVariable, as_tensor_variable

__all__ = ["Dot", "Gemm", "MatMul", "SummedAxes", "batched_dot", "batched_tensordot", "dot",
           "matmul", "outer", "tensordot"]


# --------------------------------------------------------------------------- SummedAxes


class SummedAxes(ViewOp):
    """`a` itself (a view), once the lengths of its axes `axes_a` are checked equal to
    those of `b`'s axes `axes_b` (`what` starts the error message): the axes a tensordot
    sums over, which it merges into one before the product (where unequal lengths of
    equal products would go unseen), or repeat's counts against the repeated axis.
    """

    __props__ = ("axes_a", "axes_b", "what")

    def __init__(self, axes_a: Sequence[int], axes_b: Sequence[int], what: str):
        self.axes_a, self.axes_b, self.what = tuple(axes_a), tuple(axes_b), what

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        return Apply(self, [a, b], [a.type.make_variable()])

    def check(self, sa: Sequence[int], sb: Sequence[int]) -> None:
        """Raise ValueError naming both shapes if a summed pair of axes differs."""
        for i, j in zip(self.axes_a, self.axes_b):
            if sa[i] != sb[j]:
                raise ValueError(f"{self.what}: axis {i} of shape "
                                 f"{tuple(sa)} has length {sa[i]}, axis {j} of shape "
                                 f"{tuple(sb)} has length {sb[j]}")

    def infer_shape(self, node: Apply, shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        self.check(*shapes)
        return [tuple(shapes[0])]

    def view_layout(self, shapes: list[tuple[int, ...]], strides: Sequence[int]) -> tuple:
        """Output (shape, element strides, element offset): `a` unchanged."""
        self.check(*shapes)
        return tuple(shapes[0]), tuple(strides), 0

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.check(inputs[0].shape, inputs[1].shape)
        return [inputs[0]]

    def grad(self, inputs: list[Variable], output_grads: list[Variable]) -> list[Variable | None]:
        return [output_grads[0], None]


# --------------------------------------------------------------------------- helpers


def _promote(a: Any, b: Any) -> tuple[TensorVariable, TensorVariable]:
    """Both operands as tensors of numpy's result dtype (int32 @ float32 -> float64)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    dtype = np.result_type(a.dtype, b.dtype).name
    return cast(a, dtype), cast(b, dtype)


def _length(x: TensorVariable, axes: Sequence[int]) -> Any:
    """The product of the lengths of `axes` of `x`: an int when static, else a scalar."""
    static = [x.type.shape[a] for a in axes]
    if None not in static:
        return int(np.prod(static, dtype=np.int64))
    parts = [shape_i(x, a) for a in axes]
    total = parts[0]
    for part in parts[1:]:
        total = total * part
    return total


def _lengths(x: TensorVariable, axes: Sequence[int]) -> list[Any]:
    return [x.type.shape[a] if x.type.shape[a] is not None else shape_i(x, a) for a in axes]


def _drop(x: TensorVariable, axes: Sequence[int]) -> TensorVariable:
    """`x` without its (length-1) `axes`."""
    if not axes:
        return x
    return DimShuffle(x.ndim, [a for a in range(x.ndim) if a not in axes])(x)


def _normalize_axes(axes: Any, ndim: int, what: str) -> list[int]:
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    result = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}: axis {a} is out of range for a {ndim}-d operand")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{what}: repeated axis in {axes}")
    return result


def _check_summed(a: TensorVariable, b: TensorVariable, axes_a: Sequence[int],
                  axes_b: Sequence[int], what: str) -> None:
    if len(axes_a) != len(axes_b):
        raise ValueError(f"{what}: axes {list(axes_a)} and {list(axes_b)} differ in number")
    for i, j in zip(axes_a, axes_b):
        n, m = a.type.shape[i], b.type.shape[j]
        if n is not None and m is not None and n != m:
            raise ValueError(f"{what}: shape-mismatch for sum: axis {i} of {a.type} has length "
                             f"{n}, axis {j} of {b.type} has length {m}")


def _batch_shape(x: TensorVariable, other_ndim: int) -> tuple:
    """x's static batch shape in matmul with an operand of rank `other_ndim`, padded."""
    batch = x.type.shape[:-2]
    return (1,) * (max(x.ndim, other_ndim, 2) - 2 - len(batch)) + batch


def _check_aligned(a: TensorVariable, b: TensorVariable, what: str) -> None:
    """ValueError naming the operands' types if their static summed lengths differ."""
    ka, kb = a.type.shape[-1], b.type.shape[-2 if b.ndim > 1 else 0]
    if ka is not None and kb is not None and ka != kb:
        raise ValueError(f"{what}: shapes {a.type} and {b.type} are not aligned ({ka} != {kb})")


# --------------------------------------------------------------------------- user functions


def dot(a: Any, b: Any) -> TensorVariable:
    """numpy.dot of tensors of any ranks; mixed dtypes promote as numpy's.

    0-d operands multiply elementwise; 1-d and 2-d operands give the vector/matrix
    products; an N-d `a` is contracted over its last axis with the second-to-last
    axis of `b` (its only axis when 1-d).

    Raises
    ------
    ValueError
        When static lengths of the summed axes differ (at build time), or the lengths
        at call time do (when the function is called).
    """
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b  # TensorVariable's `*` (cgraph.tensor.methods): an elementwise mul
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    _check_aligned(a, b, "dot")
    if b.ndim <= 2:  # numpy.dot and numpy.matmul agree here
        return matmul(a, b)
    return tensordot(a, b, [[a.ndim - 1], [b.ndim - 2]])


def matmul(a: Any, b: Any) -> TensorVariable:
    """numpy.matmul (`a @ b`): products of the last two axes, batch axes broadcast.

    A 1-d `a` is a row (its axis removed from the result), a 1-d `b` a column.

    Raises
    ------
    ValueError
        For 0-d operands, and when the summed lengths or the batch shapes do not
        match (statically at build time, else when the function is called).
    """
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one axis, got {a.type} and "
                         f"{b.type} (use * to multiply by a scalar)")
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    _check_aligned(a, b, "matmul")
    _broadcast_batch(_batch_shape(a, b.ndim), _batch_shape(b, a.ndim),
                     f"matmul of {a.type} and {b.type}")
    a2 = DimShuffle(1, ("x", 0))(a) if a.ndim == 1 else a
    b2 = DimShuffle(1, (0, "x"))(b) if b.ndim == 1 else b
    ndim = max(a2.ndim, b2.ndim)
    out = MatMul()(pad_left(a2, ndim), pad_left(b2, ndim))
    dropped = ([ndim - 2] if a.ndim == 1 else []) + ([ndim - 1] if b.ndim == 1 else [])
    return _drop(out, dropped)


def outer(a: Any, b: Any) -> TensorVariable:
    """numpy.outer: `a` and `b` flattened, out[i, j] = a[i] * b[j]."""
    a, b = _promote(a, b)
    a = a if a.ndim == 1 else reshape(a, [-1])
    b = b if b.ndim == 1 else reshape(b, [-1])
    return DimShuffle(1, (0, "x"))(a) * DimShuffle(1, ("x", 0))(b)


def _tensordot_axes(a: TensorVariable, b: TensorVariable, axes: Any, what: str,
                    first: int = 0) -> tuple[list[int], list[int]]:
    """The summed axes of `a` and `b` (`first` axes of each are batch axes, not summed)."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim - first or n > b.ndim - first:
            raise ValueError(f"{what}: cannot sum over {n} axes of {a.type} and {b.type}")
        axes_a = list(range(a.ndim - n, a.ndim))
        axes_b = list(range(first, first + n))
    else:
        try:
            spec_a, spec_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"{what}: axes must be an int or a pair of axis lists, "
                            f"got {axes!r}") from None
        axes_a = _normalize_axes(spec_a, a.ndim, what)
        axes_b = _normalize_axes(spec_b, b.ndim, what)
    if first and (0 in axes_a or 0 in axes_b):
        raise ValueError(f"{what}: axis 0 is the batch axis; it cannot be summed over")
    _check_summed(a, b, axes_a, axes_b, what)
    return axes_a, axes_b


def _checked(a: TensorVariable, b: TensorVariable, axes_a: list[int], axes_b: list[int],
             what: str) -> TensorVariable:
    """`a`, checked when called to share the lengths of the summed axes with `b` (unless
    that is static)."""
    static = all(a.type.shape[i] is not None and b.type.shape[j] is not None
                 for i, j in zip(axes_a, axes_b))
    return a if static else SummedAxes(axes_a, axes_b, f"{what}: shape-mismatch for sum")(a, b)


def _permute(x: TensorVariable, order: list[int]) -> TensorVariable:
    return x if order == list(range(x.ndim)) else transpose(x, order)


def _as_matrix(x: TensorVariable, rows: list[int], cols: list[int]) -> TensorVariable:
    """`x` with its axes `rows` merged into one, then `cols` (a view when each group has
    at most one axis, else a reshaped copy); an empty group is no axis at all."""
    view = _permute(x, rows + cols)
    groups = [g for g in (rows, cols) if g]
    if all(len(g) == 1 for g in groups):
        return view
    return reshape(view, [_length(x, g) for g in groups])


def _as_stack(x: TensorVariable, rows: list[int], cols: list[int]) -> TensorVariable:
    """`x` as a 3-d stack: axis 0, then `rows` merged, then `cols` merged (an empty
    group is an axis of length 1); a view when no group has several axes."""
    view = _permute(x, [0] + rows + cols)
    if len(rows) <= 1 and len(cols) <= 1:
        pattern = [0, 1 if rows else "x", 1 + len(rows) if cols else "x"]
        return DimShuffle(view.ndim, pattern)(view)
    return reshape(view, [_length(x, [0]), _length(x, rows), _length(x, cols)])


def tensordot(a: Any, b: Any, axes: Any = 2) -> TensorVariable:
    """numpy.tensordot: sum products over `axes` of `a` and `b`.

    `axes` is an int n (the last n axes of `a` with the first n of `b`) or a pair of
    axis sequences. The result has the remaining axes of `a`, then those of `b`.

    Raises
    ------
    ValueError
        When the summed axes differ in length (statically at build time, else when
        the function is called) or are out of range.
    """
    a, b = _promote(a, b)
    axes_a, axes_b = _tensordot_axes(a, b, axes, "tensordot")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    if not axes_a:  # nothing summed: an outer product keeping the shapes
        out = pad_left(b, a.ndim + b.ndim)
        pattern = list(range(a.ndim)) + ["x"] * b.ndim
        return DimShuffle(a.ndim, pattern)(a) * out
    A = _as_matrix(_checked(a, b, axes_a, axes_b, "tensordot"), free_a, axes_a)
    B = _as_matrix(b, axes_b, free_b)
    out = Dot()(A, B)
    if len(free_a) <= 1 and len(free_b) <= 1:
        return out
    return reshape(out, _lengths(a, free_a) + _lengths(b, free_b))


def batched_dot(a: Any, b: Any) -> TensorVariable:
    """Theano's batched_dot: out[i] = dot(a[i], b[i]) along the first (batch) axis.

    1-d operands multiply elementwise along the batch; 2-d and 3-d operands give
    batched matrix/vector products (one BLAS call per item); higher ranks go
    through `batched_tensordot`.

    Raises
    ------
    TypeError
        For 0-d operands.
    """
    a, b = _promote(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise TypeError(f"batched_dot: operands need a batch axis, got {a.type} and {b.type}")
    if a.ndim == 1:
        return DimShuffle(1, [0] + ["x"] * (b.ndim - 1))(a) * b
    if b.ndim == 1:
        return a * DimShuffle(1, [0] + ["x"] * (a.ndim - 1))(b)
    if a.ndim > 3 or b.ndim > 3:
        return batched_tensordot(a, b, [[a.ndim - 1], [max(1, b.ndim - 2)]])
    a3 = DimShuffle(2, (0, "x", 1))(a) if a.ndim == 2 else a
    b3 = DimShuffle(2, (0, 1, "x"))(b) if b.ndim == 2 else b
    out = MatMul()(a3, b3)
    return _drop(out, ([1] if a.ndim == 2 else []) + ([2] if b.ndim == 2 else []))


def batched_tensordot(a: Any, b: Any, axes: Any = 2) -> TensorVariable:
    """Theano's batched_tensordot: out[i] = tensordot(a[i], b[i], axes) for each i.

    `axes` counts the batch axis: an int n sums the last n axes of `a` with axes
    1..n of `b`; a pair of sequences names the axes of each (never axis 0).

    Raises
    ------
    ValueError
        When the summed axes differ in length or include the batch axis.
    """
    a, b = _promote(a, b)
    if a.ndim < 1 or b.ndim < 1:
        raise TypeError(f"batched_tensordot: operands need a batch axis, got {a.type} and "
                        f"{b.type}")
    axes_a, axes_b = _tensordot_axes(a, b, axes, "batched_tensordot", first=1)
    free_a = [i for i in range(1, a.ndim) if i not in axes_a]
    free_b = [i for i in range(1, b.ndim) if i not in axes_b]
    a = _checked(a, b, axes_a, axes_b, "batched_tensordot")
    out = MatMul()(_as_stack(a, free_a, axes_a), _as_stack(b, axes_b, free_b))
    if len(free_a) <= 1 and len(free_b) <= 1:
        return _drop(out, ([] if free_a else [1]) + ([] if free_b else [2]))
    return reshape(out, [shape_i(out, 0)] + _lengths(a, free_a) + _lengths(b, free_b))
