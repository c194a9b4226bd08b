"""Gradients: `grad` (reverse mode), gradient-shaping ops, products with the Jacobian
and Hessian, and `verify_grad` (symbolic vs numeric check)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.compile.function import function
from cgraph.graph.basic import Constant, Variable, clone_replace, graph_inputs
from cgraph.graph.grad import (
    DisconnectedType,
    NullType,
    UndefinedGradientError,
    grad,
)
from cgraph.scan import scan
from cgraph.tensor import math as tm
from cgraph.tensor.elemwise import Elemwise, ScalarOp
from cgraph.tensor.extra_ops import arange
from cgraph.tensor.math import sum as tensor_sum
from cgraph.tensor.math import upcast
from cgraph.tensor.shape import shape_i
from cgraph.tensor.type import TensorType, TensorVariable, as_tensor_variable

__all__ = [
    "DisconnectedType", "GradientError", "Lop", "NullType", "Rop", "UndefinedGradientError",
    "disconnected_grad", "grad", "grad_clip", "grad_scale", "hessian",
    "hessian_vector_product", "jacobian", "numeric_grad", "stop_gradient", "verify_grad",
    "zero_grad",
]

# --------------------------------------------------------------------------- gradient shaping
# Identity in the forward pass (C: a copy, which fusion absorbs); only the gradient
# rule differs.


def _copy(x: np.ndarray) -> np.ndarray:
    return np.array(x, copy=True)


_zero_grad = Elemwise(ScalarOp("zero_grad", 1, "{0}", _copy, upcast,
                               lambda x, o, gz: [tm.zeros_like(gz)]))
_disconnected_grad = Elemwise(ScalarOp("disconnected_grad", 1, "{0}", _copy, upcast,
                                       lambda x, o, gz: [None]))


def zero_grad(x: Any) -> TensorVariable:
    """`x`, through which the gradient is zero (the inputs stay connected)."""
    return _zero_grad(x)


def disconnected_grad(x: Any) -> TensorVariable:
    """`x`, through which no gradient flows: what lies behind it is disconnected."""
    return _disconnected_grad(x)


stop_gradient = disconnected_grad


def grad_scale_op(k: float) -> ScalarOp:
    """The identity whose gradient is multiplied by `k`."""
    return ScalarOp(f"grad_scale_{k!r}", 1, "{0}", _copy, upcast, lambda x, o, gz: [gz * k],
                    recipe=(grad_scale_op, (k,)))


def grad_clip_op(lo: float, hi: float) -> ScalarOp:
    """The identity whose gradient is clipped to [lo, hi]."""
    return ScalarOp(f"grad_clip_{lo!r}_{hi!r}", 1, "{0}", _copy, upcast,
                    lambda x, o, gz: [tm.clip(gz, lo, hi)], recipe=(grad_clip_op, (lo, hi)))


def grad_scale(x: Any, multiplier: float) -> TensorVariable:
    """`x`, whose gradient is multiplied by `multiplier` on the way back."""
    return Elemwise(grad_scale_op(float(multiplier)))(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float) -> TensorVariable:
    """`x`, whose gradient is clipped to [lower_bound, upper_bound] on the way back."""
    if lower_bound > upper_bound:
        raise ValueError(f"grad_clip: lower bound {lower_bound} > upper bound {upper_bound}")
    return Elemwise(grad_clip_op(float(lower_bound), float(upper_bound)))(x)


# --------------------------------------------------------------------------- products


def _as_list(x: Any) -> tuple[list, bool]:
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def Lop(f: Any, wrt: Any, eval_points: Any) -> Any:
    """Vector-Jacobian product `v^T (df/dwrt)` (reverse mode), Theano's Lop.

    `f` and `eval_points` are a variable or matching lists; `wrt` a variable or list.
    """
    fs, _ = _as_list(f)
    vs, _ = _as_list(eval_points)
    if len(fs) != len(vs):
        raise ValueError(f"Lop: {len(fs)} expressions but {len(vs)} eval points")
    known = {}
    for fi, vi in zip(fs, vs):
        vi = as_tensor_variable(vi)
        if vi.ndim != fi.ndim:
            raise TypeError(f"Lop: eval point {vi!r} has type {vi.type}, expected {fi.type}")
        known[fi] = vi.astype(fi.dtype) if vi.dtype != fi.dtype else vi
    return grad(None, wrt, known_grads=known, disconnected_inputs="ignore")


def Rop(f: Any, wrt: Any, eval_points: Any) -> Any:
    """Jacobian-vector product `(df/dwrt) v` (forward mode), Theano's Rop.

    Computed by reverse mode twice: `u -> Lop(f, wrt, u)` is linear in `u`, and
    its gradient, dotted with `v`, is `J v`. Every gradient rule is itself made of
    differentiable ops, so this needs no per-op forward rules.
    """
    fs, f_list = _as_list(f)
    ws, _ = _as_list(wrt)
    vs, _ = _as_list(eval_points)
    if len(ws) != len(vs):
        raise ValueError(f"Rop: {len(ws)} wrt variables but {len(vs)} eval points")
    dummies = [fi.type.make_variable(f"u{i}") for i, fi in enumerate(fs)]
    pullbacks = _as_list(Lop(fs, ws, dummies))[0]
    inner = None
    for g, v in zip(pullbacks, vs):
        term = tensor_sum(g * as_tensor_variable(v))
        inner = term if inner is None else inner + term
    results = grad(inner, dummies, disconnected_inputs="ignore")
    # J v does not depend on u (the pullback is linear): any value of u will do.
    results = clone_replace(results, {u: tm.zeros_like(fi) for u, fi in zip(dummies, fs)})
    return results if f_list else results[0]


def hessian_vector_product(cost: Variable, wrt: Any, vectors: Any) -> Any:
    """`H v` for the Hessian of the scalar `cost`, without forming H."""
    ws, many = _as_list(wrt)
    vs, _ = _as_list(vectors)
    grads = grad(cost, ws, disconnected_inputs="ignore")
    inner = None
    for g, v in zip(grads, vs):
        term = tensor_sum(g * as_tensor_variable(v))
        inner = term if inner is None else inner + term
    result = grad(inner, ws, disconnected_inputs="ignore")
    return result if many else result[0]


def jacobian(expression: Any, wrt: Any, disconnected_inputs: str = "raise") -> Any:
    """The Jacobian of a vector (or scalar) `expression` wrt each of `wrt`.

    The result for `wrt` of shape S has shape (len(expression),) + S: row i is the
    vector-Jacobian product of `expression` with the i-th basis vector. When the length
    is static, the rows are built one by one and stacked; when it is known only at call
    time, a `cgraph.scan` over i computes them (the loop runs in C, as Theano's
    scan-built Jacobian does). An integer or bool `expression` has a zero Jacobian,
    as `grad` of an integer cost is zero.
    """
    expression = as_tensor_variable(expression)
    ws, many = _as_list(wrt)
    if expression.ndim == 0:
        out = grad(expression, ws, disconnected_inputs=disconnected_inputs)
        return out if many else out[0]
    if expression.ndim != 1:
        raise TypeError(f"jacobian: expression must be a scalar or vector, got {expression.type}")
    n = expression.type.shape[0]
    if n is None:
        out = [_jacobian_by_scan(expression, w, disconnected_inputs) for w in ws]
        return out if many else out[0]
    dtype = expression.dtype
    out = []
    for w in ws:
        rows = []
        for i in range(n):
            one_hot = np.zeros(n, dtype=dtype)
            one_hot[i] = 1
            row = grad(None, w, known_grads={expression: as_tensor_variable(one_hot)},
                       disconnected_inputs=disconnected_inputs)
            rows.append(row.dimshuffle("x", *range(row.ndim)))
        out.append(tm.concatenate(rows, axis=0))
    return out if many else out[0]


def _jacobian_by_scan(expression: TensorVariable, w: Variable,
                      disconnected_inputs: str) -> TensorVariable:
    """The Jacobian rows of a vector of run-time length, one scan step per row.

    The step rebuilds `expression` (and `w`, which may be an intermediate) from the
    graph's leaves, passed to the scan as non-sequences, and returns the product of
    the basis vector e_i = (arange(n) == i) with the Jacobian.
    """
    leaves = [v for v in graph_inputs([expression, w]) if not isinstance(v, Constant)]

    def row(i: TensorVariable, *inner: TensorVariable) -> TensorVariable:
        y, x = clone_replace([expression, w], dict(zip(leaves, inner)))
        basis = tm.eq(arange(shape_i(y, 0)), i).astype(y.dtype)
        return grad(None, x, known_grads={y: basis}, disconnected_inputs=disconnected_inputs)

    rows, _ = scan(row, sequences=arange(shape_i(expression, 0)), non_sequences=leaves)
    return rows


def hessian(cost: Variable, wrt: Any, disconnected_inputs: str = "raise") -> Any:
    """The Hessian of the scalar `cost` wrt each vector of `wrt`: the Jacobian of its
    gradient (a scan over the rows when the length is known only at call time)."""
    ws, many = _as_list(wrt)
    out = [jacobian(grad(cost, w, disconnected_inputs=disconnected_inputs), w,
                    disconnected_inputs=disconnected_inputs) for w in ws]
    return out if many else out[0]


class GradientError(AssertionError):
    """The symbolic gradient disagrees with central differences."""


def numeric_grad(fn: Callable[..., float], args: Sequence[np.ndarray], eps: float
                 ) -> list[np.ndarray]:
    """Central-difference gradient of the scalar `fn` at `args` (float64 copies)."""
    args = [np.array(a, dtype=np.float64, order="C") for a in args]  # flat views below
    grads = []
    for a in args:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            hi = fn(*args)
            flat[i] = orig - eps
            lo = fn(*args)
            flat[i] = orig
            gflat[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


def verify_grad(fun: Callable[..., Any], pt: Sequence[Any], n_tests: int = 1,
                rng: np.random.Generator | None = None, eps: float | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None,
                mode: str | None = None) -> None:
    """Check the symbolic gradient of `fun` at `pt` against central differences.

    `fun` takes symbolic tensors (one per array in `pt`, an axis of length 1 in the
    array a broadcastable one) and returns a tensor; its output is projected on a
    random direction to make a scalar cost, as Theano's verify_grad does.

    Raises
    ------
    GradientError
        When symbolic and numeric gradients differ beyond the tolerances, naming
        the input and the largest error.
    """
    rng = rng or np.random.default_rng(42)
    pt = [np.asarray(p) for p in pt]
    floats32 = any(p.dtype == np.float32 for p in pt)
    eps = eps or (1e-3 if floats32 else 1e-6)
    abs_tol = abs_tol if abs_tol is not None else (1e-2 if floats32 else 1e-6)
    rel_tol = rel_tol if rel_tol is not None else (1e-2 if floats32 else 1e-6)
    # As Theano's: an axis of length 1 in the point is a broadcastable one (static 1)
    variables = [TensorType(p.dtype, tuple(1 if n == 1 else None for n in p.shape)
                            ).make_variable(f"x{i}") for i, p in enumerate(pt)]
    out = fun(*variables)
    shape = _eval_shape(out, variables, pt)
    for _ in range(n_tests):
        direction = rng.uniform(-1, 1, size=shape)
        cost = tensor_sum(out * direction.astype(out.dtype))
        symbolic = function(variables, grad(cost, variables, disconnected_inputs="ignore"),
                            mode=mode, on_unused_input="ignore")
        cost_fn = function(variables, cost, mode=mode, on_unused_input="ignore")

        def f64(*args: np.ndarray) -> float:
            return float(cost_fn(*[a.astype(p.dtype) for a, p in zip(args, pt)]))

        numeric = numeric_grad(f64, pt, eps)
        compare_gradients(symbolic(*pt), numeric, abs_tol, rel_tol, "verify_grad")


def compare_gradients(symbolic: Sequence[np.ndarray], numeric: Sequence[np.ndarray],
                      abs_tol: float, rel_tol: float, what: str) -> None:
    """Raise GradientError, naming `what`, the input and the worst element, where a
    symbolic gradient differs from its numeric one by more than abs_tol + rel_tol |n|."""
    for i, (s, n) in enumerate(zip(symbolic, numeric)):
        err = np.abs(s - n)
        bound = abs_tol + rel_tol * np.abs(n)
        if np.any(err > bound):
            k = int(np.argmax(err - bound))
            raise GradientError(
                f"{what}: gradient wrt input {i} differs: at flat index {k} "
                f"symbolic {s.reshape(-1)[k]!r} vs numeric {n.reshape(-1)[k]!r} "
                f"(abs error {err.reshape(-1)[k]:.3g})")


def _eval_shape(out: Any, variables: list, pt: list[np.ndarray]) -> tuple[int, ...]:
    """The output's shape at `pt`, from the numpy reference (mode "PY"): compiling a
    third module only for it cost a third of every check in mode C."""
    return np.shape(function(variables, out, mode="PY", on_unused_input="ignore")(*pt))
