"""Gradients: `grad` (reverse mode) and `verify_grad` (symbolic vs numeric check)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cgraph.compile.function import function
from cgraph.graph.grad import grad
from cgraph.tensor.math import sum as tensor_sum
from cgraph.tensor.type import TensorType

__all__ = ["GradientError", "grad", "numeric_grad", "verify_grad"]


class GradientError(AssertionError):
    """The symbolic gradient disagrees with central differences."""


def numeric_grad(fn: Callable[..., float], args: Sequence[np.ndarray], eps: float
                 ) -> list[np.ndarray]:
    """Central-difference gradient of the scalar `fn` at `args` (float64 copies)."""
    args = [np.array(a, dtype=np.float64) for a in args]
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

    `fun` takes symbolic tensors (one per array in `pt`) and returns a tensor; its
    output is projected on a random direction to make a scalar cost, as Theano's
    verify_grad does.

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
    variables = [TensorType(p.dtype, (None,) * p.ndim).make_variable(f"x{i}")
                 for i, p in enumerate(pt)]
    out = fun(*variables)
    for _ in range(n_tests):
        direction = rng.uniform(-1, 1, size=_eval_shape(out, variables, pt, mode))
        cost = tensor_sum(out * direction.astype(out.dtype))
        symbolic = function(variables, grad(cost, variables, disconnected_inputs="ignore"),
                            mode=mode, on_unused_input="ignore")
        cost_fn = function(variables, cost, mode=mode, on_unused_input="ignore")

        def f64(*args: np.ndarray) -> float:
            return float(cost_fn(*[a.astype(p.dtype) for a, p in zip(args, pt)]))

        numeric = numeric_grad(f64, pt, eps)
        for i, (s, n) in enumerate(zip(symbolic(*pt), numeric)):
            err = np.abs(s - n)
            bound = abs_tol + rel_tol * np.abs(n)
            if np.any(err > bound):
                k = int(np.argmax(err - bound))
                raise GradientError(
                    f"verify_grad: gradient wrt input {i} differs: at flat index {k} "
                    f"symbolic {s.reshape(-1)[k]!r} vs numeric {n.reshape(-1)[k]!r} "
                    f"(abs error {err.reshape(-1)[k]:.3g})")


def _eval_shape(out: Any, variables: list, pt: list[np.ndarray], mode: str | None
                ) -> tuple[int, ...]:
    return np.shape(function(variables, out, mode=mode, on_unused_input="ignore")(*pt))
