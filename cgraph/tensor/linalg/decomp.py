"""Factorizations and functions of one matrix: Cholesky, inverse, determinant, signed
log-determinant, symmetric eigendecomposition; batched over leading axes.

Each perform is the numpy reference (mode PY); the kernels are lapack.c.j2's
(potrf, getrf + getri, getrf, syevd of scipy-openblas32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.extra_ops import expand_dims, eye
from cgraph.tensor.linalg.base import LapackOp, from_triangle, swap
from cgraph.tensor.linalg.tri import (
    diag_embed,
    diag_part,
    fit,
    is_zero,
    mm,
    mT,
    order,
    scale,
    tri,
    triangle_grad,
)
from cgraph.tensor.math import eq, where

ON_ERROR = ("raise", "nan")


class Cholesky(LapackOp):
    """The Cholesky factor of each symmetric positive-definite matrix: L with A = L L^T
    (`lower`) or U with A = U^T U, reading only that triangle of A (LAPACK potrf).

    A matrix that is not positive definite raises numpy.linalg.LinAlgError (a
    ValueError) naming the node (`on_error="raise"`), or gives a matrix of NaN
    (`on_error="nan"`), as PyTensor's Cholesky.
    """

    __props__ = ("lower", "on_error")
    name = kernel_name = "cholesky"

    def __init__(self, lower: bool = True, on_error: str = "raise"):
        if on_error not in ON_ERROR:
            raise ValueError(f"cholesky: on_error must be 'raise' or 'nan', got {on_error!r}")
        self.lower, self.on_error = bool(lower), on_error

    def kernel_flags(self) -> dict[str, Any]:
        return {"lower": self.lower, "nan": self.on_error == "nan"}

    def _one(self, a: np.ndarray) -> np.ndarray:
        try:
            factor = np.linalg.cholesky(from_triangle(a, self.lower))
        except np.linalg.LinAlgError:
            if self.on_error == "nan":
                return np.full_like(a, np.nan)
            raise np.linalg.LinAlgError("cholesky: the matrix is not positive definite") \
                from None
        return factor if self.lower else swap(factor)

    def perform(self, node, inputs):
        (a,) = inputs
        if a.ndim == 2 or a.size == 0:
            return [np.ascontiguousarray(self._one(a)).astype(a.dtype, copy=False)]
        try:  # the whole batch at once; matrix by matrix when one fails
            out = np.linalg.cholesky(from_triangle(a, self.lower))
            return [np.ascontiguousarray(out if self.lower else swap(out)).astype(a.dtype)]
        except np.linalg.LinAlgError:
            pass
        flat = a.reshape(-1, *a.shape[-2:])
        out = np.stack([self._one(m) for m in flat]).reshape(a.shape)
        return [out.astype(a.dtype, copy=False)]

    def grad(self, inputs, output_grads):
        # Murray (2016), "Differentiation of the Cholesky decomposition", arXiv:1602.07527,
        # eq. 10: with Phi(X) the lower triangle of X with its diagonal halved,
        # S = L^-T Phi(L^T Lbar) L^-1 is the gradient with respect to the symmetric A;
        # potrf reads one triangle of A, whose entries off the diagonal enter A twice.
        (a,), (g,) = inputs, output_grads
        factor = self(a)
        low = factor if self.lower else mT(factor)
        g_low = g if self.lower else mT(g)
        phi = tri(mm(mT(low), g_low), True)
        phi = phi - 0.5 * diag_embed(diag_part(phi))
        y = _tri_solve(low, phi)                    # L^-T Phi
        s = mT(_tri_solve(low, mT(y)))              # (L^-T Phi) L^-1
        return [triangle_grad(s, self.lower)]


def _tri_solve(low: Any, b: Any) -> Any:
    """L^-T b for lower-triangular L (solve_triangular with trans=1)."""
    from cgraph.tensor.linalg.solve import SolveTriangular  # noqa: PLC0415 (a cycle)

    return SolveTriangular(lower=True, trans=1, unit_diagonal=False, b_ndim=2)(low, b)


def cholesky(x: Any, lower: bool = True, *, check_finite: bool = False,
             overwrite_a: bool = False, on_error: str = "raise") -> Any:
    """PyTensor's cholesky: the lower (or upper) Cholesky factor of each matrix of x
    (..., n, n); `on_error` "raise" or "nan" for a matrix not positive definite."""
    return Cholesky(lower, on_error)(x)


class MatrixInverse(LapackOp):
    """numpy.linalg.inv of each matrix (LAPACK getrf + getri); a singular matrix raises
    numpy.linalg.LinAlgError naming the node, as numpy and PyTensor do."""

    name = kernel_name = "inv"

    def workspace(self, n: int, k: int) -> tuple[int, int]:
        return max(64 * n, 1), n

    def perform(self, node, inputs):
        try:
            out = np.linalg.inv(inputs[0])
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError("inv: the matrix is singular") from None
        return [out.astype(inputs[0].dtype, copy=False)]

    def grad(self, inputs, output_grads):
        # d(A^-1) = -A^-1 dA A^-1, so Abar = -X^T Xbar X^T (Giles 2008, "An extended
        # collection of matrix derivative results", sec. 2.2.3)
        (a,), (g,) = inputs, output_grads
        x = self(a)
        return [-mm(mm(mT(x), g), mT(x))]


def matrix_inverse(x: Any) -> Any:
    """The inverse of each matrix of x (..., n, n)."""
    return MatrixInverse()(x)


inv = matrix_inverse


class Det(LapackOp):
    """numpy.linalg.det of each matrix (LAPACK getrf: the product of U's diagonal and of
    the pivots' signs); a singular matrix gives 0, as numpy."""

    name = kernel_name = "det"
    out_ranks = (0,)

    def out_core(self, n, k):
        return [()]

    def workspace(self, n, k):
        return 0, n

    def perform(self, node, inputs):
        (a,) = inputs
        return [np.asarray(np.linalg.det(a), dtype=a.dtype)]

    def grad(self, inputs, output_grads):
        # d det(A) = det(A) tr(A^-1 dA): Abar = dbar det(A) A^-T (Giles 2008, sec. 2.2.4)
        (a,), (g,) = inputs, output_grads
        return [scale(g * self(a), mT(MatrixInverse()(a)))]


def det(x: Any) -> Any:
    """The determinant of each matrix of x (..., n, n)."""
    return Det()(x)


class SLogDet(LapackOp):
    """numpy.linalg.slogdet: (sign, log(abs(det))) of each matrix (LAPACK getrf); a
    singular matrix gives (0, -inf), as numpy."""

    name = kernel_name = "slogdet"
    out_ranks = (0, 0)

    def out_core(self, n, k):
        return [(), ()]

    def workspace(self, n, k):
        return 0, n

    def perform(self, node, inputs):
        (a,) = inputs
        sign, logdet = np.linalg.slogdet(a)
        return [np.asarray(sign, dtype=a.dtype), np.asarray(logdet, dtype=a.dtype)]

    def grad(self, inputs, output_grads):
        # d log|det A| = tr(A^-1 dA); the sign is piecewise constant (no gradient)
        (a,), (_, g) = inputs, output_grads
        return [scale(g, mT(MatrixInverse()(a)))]


def slogdet(x: Any) -> tuple[Any, Any]:
    """(sign, log(abs(det))) of each matrix of x (..., n, n)."""
    sign, logdet = SLogDet()(x)
    return sign, logdet


class Eigh(LapackOp):
    """numpy.linalg.eigh: the eigenvalues (ascending) and eigenvectors (columns) of each
    symmetric matrix, reading one triangle (`UPLO`); LAPACK syevd. `vectors=False` is
    eigvalsh (one output)."""

    __props__ = ("UPLO", "vectors")
    name = kernel_name = "eigh"

    def __init__(self, UPLO: str = "L", vectors: bool = True):  # noqa: N803 (numpy's name)
        if UPLO not in ("L", "U"):
            raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
        self.UPLO, self.vectors = UPLO, bool(vectors)
        self.out_ranks = (1, 2) if self.vectors else (1,)

    def out_core(self, n, k):
        return [(n,), (n, n)] if self.vectors else [(n,)]

    def kernel_flags(self):
        return {"lower": self.UPLO == "L", "vectors": self.vectors}

    def workspace(self, n, k):
        if self.vectors:
            return 1 + 6 * n + 2 * n * n, 3 + 5 * n
        return 2 * n + 1, 1

    def perform(self, node, inputs):
        (a,) = inputs
        if self.vectors:
            w, v = np.linalg.eigh(a, self.UPLO)
            return [w.astype(a.dtype, copy=False), v.astype(a.dtype, copy=False)]
        return [np.linalg.eigvalsh(a, self.UPLO).astype(a.dtype, copy=False)]

    def grad(self, inputs, output_grads):
        # A = V diag(w) V^T, for a symmetric dA: dw_i = v_i^T dA v_i and
        # dV = V (F o (V^T dA V)), F_ij = 1/(w_j - w_i) off the diagonal (Giles 2008,
        # sec. 3.1); so the gradient with respect to the symmetric matrix is
        # G = V (diag(wbar) + F o (V^T Vbar)) V^T, then the triangle rule (syevd reads
        # one triangle).
        (a,) = inputs
        outs = Eigh(self.UPLO, True)(a)
        w, v = outs
        gw = output_grads[0]
        inner = diag_embed(gw)
        if self.vectors and not is_zero(output_grads[1]):  # else w alone: no 1/(w_j - w_i)
            gv = output_grads[1]
            gaps = expand_dims(w, w.ndim - 1) - expand_dims(w, w.ndim)
            on_diag = eq(eye(order(a), dtype=a.dtype), 1)
            f = where(on_diag, 0, 1 / where(on_diag, 1, gaps))
            inner = inner + f * mm(mT(v), gv)
        g = mm(mm(v, inner), mT(v))
        return [fit(triangle_grad(g, self.UPLO == "L"), a)]


def eigh(a: Any, UPLO: str = "L") -> tuple[Any, Any]:  # noqa: N803
    """(w, v): eigenvalues (ascending) and eigenvectors (columns) of each symmetric
    matrix of a (..., n, n)."""
    w, v = Eigh(UPLO, True)(a)
    return w, v


def eigvalsh(a: Any, b: Any = None, UPLO: str = "L") -> Any:  # noqa: N803
    """The eigenvalues (ascending) of each symmetric matrix of a (..., n, n); the
    generalized problem (b) is not supported."""
    if b is not None:
        raise NotImplementedError("eigvalsh: the generalized problem (b) is not supported")
    return Eigh(UPLO, False)(a)
