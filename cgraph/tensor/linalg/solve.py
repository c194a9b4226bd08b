"""Linear solves, batched over leading axes: `solve` (general, symmetric, positive
definite: LAPACK gesv, sysv, potrf + potrs), `solve_triangular` (trtrs) and
`cho_solve` (potrs). The right-hand side is a vector (..., n) or a matrix (..., n, k)
(`b_ndim`, as PyTensor's); the batch axes of a and b broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.linalg.base import LapackOp, from_triangle, swap
from cgraph.tensor.linalg.tri import fit, mm, mT, outer_last, tri, triangle_grad
from cgraph.tensor.type import as_tensor_variable

ASSUME_A = {"gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
            "pos": "pos", "positive definite": "pos"}
TRANS = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}


def _singular(what: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{what}: the matrix is singular")


class SolveBase(LapackOp):
    """An op solving a x = b with b of `b_ndim` core axes (1 or 2)."""

    b_ndim = 2

    def _b_rank(self, b_ndim: int) -> None:
        if b_ndim not in (1, 2):
            raise ValueError(f"{self.name}: b_ndim must be 1 or 2, got {b_ndim}")
        self.b_ndim = b_ndim
        self.core_ranks = (2, b_ndim)
        self.out_ranks = (b_ndim,)

    def out_core(self, n, k):
        return [(n, k) if self.b_ndim == 2 else (n,)]

    def perform(self, node, inputs):
        a, b = inputs
        col = b if self.b_ndim == 2 else b[..., None]
        nb = a.ndim - 2
        batch = np.broadcast_shapes(a.shape[:nb], col.shape[:nb])
        a = np.broadcast_to(a, batch + a.shape[nb:])
        col = np.broadcast_to(col, batch + col.shape[nb:])
        if a.shape[-1] == 0 or 0 in batch or col.shape[-1] == 0:
            x = np.zeros(col.shape, a.dtype)
        else:
            x = self.solve(a, col)
        x = x if self.b_ndim == 2 else x[..., 0]
        return [np.ascontiguousarray(x, dtype=a.dtype)]

    def _grad(self, a, x, gb, lower: bool | None, trans: int = 0) -> Any:
        """The gradient with respect to a, given b's (gb) and the solution x: -gb x^T for
        a x = b, -x gb^T for a^T x = b (Giles 2008, sec. 2.3.1); masked to what LAPACK
        reads."""
        if self.b_ndim == 2:
            g = -(mm(x, mT(gb)) if trans else mm(gb, mT(x)))
        else:
            g = -(outer_last(x, gb) if trans else outer_last(gb, x))
        return g if lower is None else triangle_grad(g, lower)


class Solve(SolveBase):
    """scipy.linalg.solve of a x = b; `assume_a` "gen" (LU, gesv), "sym" (sysv) or
    "pos" (Cholesky, potrf + potrs), the last two reading one triangle of a (`lower`).

    A singular matrix (or one not positive definite for "pos") raises
    numpy.linalg.LinAlgError (a ValueError) naming the node, as scipy and PyTensor do.
    """

    __props__ = ("assume_a", "lower", "b_ndim")
    name = kernel_name = "solve"

    def __init__(self, assume_a: str = "gen", lower: bool = False, b_ndim: int = 2):
        if assume_a not in ASSUME_A:
            raise ValueError(f"solve: assume_a must be one of 'gen', 'sym', 'pos', got "
                             f"{assume_a!r}")
        self.assume_a, self.lower = ASSUME_A[assume_a], bool(lower)
        self._b_rank(b_ndim)

    def kernel_flags(self):
        return {"assume_a": self.assume_a, "lower": self.lower}

    def workspace(self, n, k):
        return (max(64 * n, 1), n) if self.assume_a == "sym" else (0, n)

    def solve(self, a, b):
        if self.assume_a != "gen":
            a = from_triangle(a, self.lower)
        if self.assume_a == "pos":
            try:
                np.linalg.cholesky(a)
            except np.linalg.LinAlgError:
                raise np.linalg.LinAlgError("solve: the matrix is not positive definite") \
                    from None
        try:
            return np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise _singular("solve") from None

    def grad(self, inputs, output_grads):
        (a, b), (g,) = inputs, output_grads
        x = self(a, b)
        if self.assume_a == "gen":
            gb = Solve("gen", False, self.b_ndim)(mT(a), g)
        else:
            gb = self(a, g)  # a symmetric matrix: a^T = a
        lower = None if self.assume_a == "gen" else self.lower
        return [fit(self._grad(a, x, gb, lower), a), fit(gb, b)]


class SolveTriangular(SolveBase):
    """scipy.linalg.solve_triangular: op(a) x = b for triangular a (`lower`), op by
    `trans` (0 'N', 1 'T', 2 'C'), ones assumed on a's diagonal with `unit_diagonal`
    (LAPACK trtrs). A zero on the diagonal raises numpy.linalg.LinAlgError."""

    __props__ = ("lower", "trans", "unit_diagonal", "b_ndim")
    name = kernel_name = "solve_triangular"

    def __init__(self, lower: bool = False, trans: Any = 0, unit_diagonal: bool = False,
                 b_ndim: int = 2):
        if trans not in TRANS:
            raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                             f"{trans!r}")
        self.lower, self.trans = bool(lower), TRANS[trans]
        self.unit_diagonal = bool(unit_diagonal)
        self._b_rank(b_ndim)

    def kernel_flags(self):
        return {"lower": self.lower, "trans": self.trans, "unit": self.unit_diagonal}

    def solve(self, a, b):
        a = np.tril(a) if self.lower else np.triu(a)
        n = a.shape[-1]
        if self.unit_diagonal:
            a = a.copy()
            a[..., range(n), range(n)] = 1
        elif np.any(a[..., range(n), range(n)] == 0):
            raise _singular("solve_triangular")
        return np.linalg.solve(swap(a) if self.trans else a, b)

    def grad(self, inputs, output_grads):
        (a, b), (g,) = inputs, output_grads
        x = self(a, b)
        gb = SolveTriangular(self.lower, 1 - self.trans, self.unit_diagonal, self.b_ndim)(a, g)
        ga = tri(self._grad(a, x, gb, None, self.trans), self.lower,
                 (-1 if self.lower else 1) if self.unit_diagonal else 0)
        return [fit(ga, a), fit(gb, b)]


class CholeskySolve(SolveBase):
    """scipy.linalg.cho_solve((c, lower), b): A x = b with A = c c^T (`lower`) or c^T c,
    c a Cholesky factor (LAPACK potrs; only c's triangle is read)."""

    __props__ = ("lower", "b_ndim")
    name = kernel_name = "cho_solve"

    def __init__(self, lower: bool = True, b_ndim: int = 2):
        self.lower = bool(lower)
        self._b_rank(b_ndim)

    def kernel_flags(self):
        return {"lower": self.lower}

    def solve(self, c, b):
        low = np.tril(c) if self.lower else swap(np.triu(c))
        try:
            return np.linalg.solve(swap(low), np.linalg.solve(low, b))
        except np.linalg.LinAlgError:
            raise _singular("cho_solve") from None

    def grad(self, inputs, output_grads):
        # x = A^-1 b with A = L L^T: Abar = -gb x^T (as solve's), and dA = dL L^T + L dL^T
        # gives Lbar = (Abar + Abar^T) L (for c = U: Ubar = U (Abar + Abar^T)), of which
        # potrs reads one triangle.
        (c, b), (g,) = inputs, output_grads
        x = self(c, b)
        gb = self(c, g)
        ga = self._grad(c, x, gb, None)
        sym, factor = ga + mT(ga), tri(c, self.lower)  # the factor potrs reads
        gc = tri(mm(sym, factor) if self.lower else mm(factor, sym), self.lower)
        return [fit(gc, c), fit(gb, b)]


def _b_ndim(b: Any, b_ndim: int | None) -> tuple[Any, int]:
    b = as_tensor_variable(b)
    return b, (b_ndim if b_ndim is not None else (1 if b.ndim == 1 else 2))


def solve(a: Any, b: Any, *, assume_a: str = "gen", lower: bool = False,
          check_finite: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          transposed: bool = False, b_ndim: int | None = None) -> Any:
    """PyTensor's solve: x with a x = b (a^T x = b with `transposed`) for each matrix of
    a (..., n, n) and b (..., n) or (..., n, k)."""
    b, nd = _b_ndim(b, b_ndim)
    a = as_tensor_variable(a)
    if transposed:
        a = mT(a)
        lower = not lower
    return Solve(assume_a, lower, nd)(a, b)


def solve_triangular(a: Any, b: Any, *, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False, check_finite: bool = False,
                     b_ndim: int | None = None) -> Any:
    """PyTensor's solve_triangular: x with op(a) x = b for triangular a."""
    b, nd = _b_ndim(b, b_ndim)
    return SolveTriangular(lower, trans, unit_diagonal, nd)(a, b)


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, *, check_finite: bool = False,
              b_ndim: int | None = None) -> Any:
    """PyTensor's cho_solve((c, lower), b): x with A x = b for A = c c^T (lower) or
    c^T c."""
    c, lower = c_and_lower
    b, nd = _b_ndim(b, b_ndim)
    return CholeskySolve(lower, nd)(c, b)
