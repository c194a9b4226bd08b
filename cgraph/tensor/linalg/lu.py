"""LU factorization with partial pivoting (LAPACK getrf) and its solve (getrs), batched
over leading axes: scipy.linalg's `lu` and `lu_factor` (m x n matrices; the kernel is
lapack_rect.c.j2's) and `lu_solve` (square).

A singular matrix is no error here (as in scipy): its U has a zero on the diagonal, and
only `lu_solve` (a division by it) gives inf/NaN. The pivots are scipy's: 0-based row
interchanges, int32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.graph.basic import Apply
from cgraph.tensor.elemwise import cast
from cgraph.tensor.linalg.base import LapackOp, _broadcast, swap
from cgraph.tensor.linalg.rect import RectLapackOp, _kmin
from cgraph.tensor.linalg.solve import SolveTriangular
from cgraph.tensor.linalg.tri import fit, mm, mT, outer_last, tri
from cgraph.tensor.shape import pad_left
from cgraph.tensor.type import TensorType, as_tensor_variable


def getrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy reference of getrf on a stack of m x n matrices: (lu, piv), lu holding L
    (unit diagonal, below) and U, piv (min(m, n) of them) the 0-based row swapped with
    row i at step i (the first largest abs(pivot), as LAPACK's idamax)."""
    lu = np.array(a, copy=True)
    m, n = lu.shape[-2:]
    k = min(m, n)
    count = int(np.prod(lu.shape[:-2]))
    piv = np.zeros(lu.shape[:-2] + (k,), np.int32)
    flat, fpiv = lu.reshape(count, m, n), piv.reshape(count, k)
    rows = np.arange(count)
    for i in range(k):
        p = i + np.argmax(np.abs(flat[:, i:, i]), axis=1)
        fpiv[:, i] = p
        top = flat[rows, i].copy()
        flat[rows, i] = flat[rows, p]
        flat[rows, p] = top
        d = flat[:, i, i]
        # a zero pivot leaves a zero column below it (the pivot is its largest entry)
        flat[:, i + 1:, i] /= np.where(d == 0, 1, d)[:, None]
        flat[:, i + 1:, i + 1:] -= flat[:, i + 1:, i, None] * flat[:, i, None, i + 1:]
    return lu, piv


def permutation(piv: np.ndarray, m: int | None = None) -> np.ndarray:
    """The row order `perm` (A[perm] = L U) of m rows from a stack of getrf pivots."""
    k = piv.shape[-1]
    m = k if m is None else m
    flat = piv.reshape(int(np.prod(piv.shape[:-1])), k)
    perm = np.tile(np.arange(m), (flat.shape[0], 1))
    rows = np.arange(flat.shape[0])
    for i in range(k):
        top = perm[rows, i].copy()
        perm[rows, i] = perm[rows, flat[:, i]]
        perm[rows, flat[:, i]] = top
    return perm.reshape(piv.shape[:-1] + (m,))


def _factors(lu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, U) of getrf's m x n result: L m x k with ones on its diagonal, U k x n."""
    m, n = lu.shape[-2:]
    k = min(m, n)
    return (np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=lu.dtype),
            np.triu(lu[..., :k, :]))


class LU(RectLapackOp):
    """scipy.linalg.lu of each m x n matrix: A = P L U, P (m, m), L (m, k) unit lower
    triangular, U (k, n) upper, k = min(m, n) (LAPACK getrf). `permute_l`: (P L, U);
    `p_indices`: (p, L, U) with int32 row indices p such that A = L[p] U. A singular
    matrix is factored too (U has a zero on its diagonal), as in scipy. For a matrix
    without columns P is the identity (scipy returns an empty P there)."""

    __props__ = ("permute_l", "p_indices")
    name = kernel_name = "lu"

    def __init__(self, permute_l: bool = False, p_indices: bool = False):
        self.permute_l, self.p_indices = bool(permute_l), bool(p_indices)
        self.out_ranks = (2, 2) if self.permute_l else ((1, 2, 2) if self.p_indices
                                                        else (2, 2, 2))

    def kernel_flags(self):
        return {"mode": "permute_l" if self.permute_l else
                ("p_indices" if self.p_indices else "")}

    def out_dtype(self, i, dtype):
        return "int32" if i == 0 and self.p_indices and not self.permute_l else dtype

    def out_core(self, m, n):
        k = _kmin(m, n)
        if self.permute_l:
            return [(m, k), (k, n)]
        return [(m,) if self.p_indices else (m, m), (m, k), (k, n)]

    def workspace(self, m, n):
        return 0, m + min(m, n)

    def perform(self, node, inputs):
        (a,) = inputs
        lu, piv = getrf(a)
        low, up = _factors(lu)
        n = a.shape[-2]
        perm = permutation(piv, n)
        inverse = np.argsort(perm, axis=-1).astype(np.int32)   # A = L[inverse] U
        if self.permute_l:
            pl = np.take_along_axis(low, inverse[..., None], axis=-2)
            return [pl.astype(a.dtype), up.astype(a.dtype)]
        if self.p_indices:
            return [inverse, low.astype(a.dtype), up.astype(a.dtype)]
        p = (inverse[..., :, None] == np.arange(n)).astype(a.dtype)   # P[i, inv[i]] = 1
        return [p, low.astype(a.dtype), up.astype(a.dtype)]

    def grad(self, inputs, output_grads):
        (a,) = inputs
        _square_only(self, a)
        p, low, up = LU()(a)
        if self.permute_l:
            lbar, ubar = mm(mT(p), output_grads[0]), output_grads[1]
        else:
            lbar, ubar = output_grads[1], output_grads[2]
        return [_lu_grad(p, low, up, lbar, ubar)]


def _square_only(op: Any, a: Any) -> None:
    m, n = a.type.shape[-2:]
    if m is not None and n is not None and m != n:
        raise NotImplementedError(f"{op.name}: the gradient is implemented for square "
                                  f"matrices only, got {a.type}")


def _lu_grad(p: Any, low: Any, up: Any, lbar: Any, ubar: Any) -> Any:
    # A = P L U: dA = P (dL U + L dU), so with F = tril(L^T Lbar, -1) + triu(Ubar U^T),
    # Abar = P L^-T F U^-T (Walter and Lehmann 2018, "Algorithmic differentiation of
    # linear algebra functions", sec. 3.2).
    f = tri(mm(mT(low), lbar), True, -1) + tri(mm(ubar, mT(up)), False)
    x = SolveTriangular(lower=True, trans=1, unit_diagonal=True)(low, f)    # L^-T F
    y = mT(SolveTriangular(lower=False, trans=0)(up, mT(x)))               # X U^-T
    return mm(p, y)


def lu(a: Any, permute_l: bool = False, *, check_finite: bool = False,
       overwrite_a: bool = False, p_indices: bool = False) -> tuple:
    """scipy.linalg.lu of each matrix of a (..., m, n): (P, L, U) with A = P L U;
    (P L, U) with `permute_l`; (p, L, U), p int32 with A = L[p] U, with `p_indices`.
    float32/float64; the gradient flows through L and U (and P L), for square
    matrices (NotImplementedError for shapes known not square; a rectangular matrix
    met at run time fails in the gradient's triangular solves)."""
    return tuple(LU(permute_l, p_indices)(a))


class LUFactor(RectLapackOp):
    """scipy.linalg.lu_factor of each m x n matrix: (LU, piv), LU holding L below its
    diagonal (unit diagonal implied) and U, piv the min(m, n) 0-based int32 row
    interchanges (LAPACK getrf). A singular matrix is factored (no error), as in
    scipy."""

    name = kernel_name = "lu_factor"
    out_ranks = (2, 1)

    def out_dtype(self, i, dtype):
        return "int32" if i == 1 else dtype

    def out_core(self, m, n):
        return [(m, n), (_kmin(m, n),)]

    def workspace(self, m, n):
        return 0, min(m, n)

    def perform(self, node, inputs):
        (a,) = inputs
        lu_, piv = getrf(a)
        return [lu_.astype(a.dtype, copy=False), piv]

    def grad(self, inputs, output_grads):
        (a,), (g, _) = inputs, output_grads
        _square_only(self, a)
        p, low, up = LU()(a)
        return [_lu_grad(p, low, up, tri(g, True, -1), tri(g, False))]


def lu_factor(a: Any, *, check_finite: bool = False, overwrite_a: bool = False) -> tuple:
    """scipy.linalg.lu_factor of each matrix of a (..., m, n): (LU, piv), piv the
    min(m, n) int32 0-based pivots; the gradient flows through LU (square matrices)."""
    return tuple(LUFactor()(a))


class LUSolve(LapackOp):
    """scipy.linalg.lu_solve((lu, piv), b, trans): x with A x = b (trans 0) or A^T x = b
    (trans 1 or 2) for A = P L U given by lu_factor (LAPACK getrs). b is (..., n) or
    (..., n, k) (`b_ndim`); batch axes of lu, piv and b broadcast. A pivot outside
    [0, n) raises ValueError; a zero on U's diagonal gives inf/NaN, as in scipy."""

    __props__ = ("trans", "b_ndim")
    name = kernel_name = "lu_solve"

    def __init__(self, trans: Any = 0, b_ndim: int = 2):
        # scipy's 0/1/2/'N'/'T'/'C', and PyTensor's False/True
        trans = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}.get(trans, None)
        if trans is None or b_ndim not in (1, 2):
            raise ValueError("lu_solve: trans must be 0, 1, 2, 'N', 'T' or 'C' and b_ndim "
                             f"1 or 2, got {trans!r}, {b_ndim!r}")
        self.trans, self.b_ndim = trans, b_ndim
        self.core_ranks = (2, 1, b_ndim)
        self.out_ranks = (b_ndim,)

    def kernel_flags(self):
        return {"trans": self.trans}

    def make_node(self, lu_: Any, piv: Any, b: Any) -> Apply:
        lu_, b = as_tensor_variable(lu_), as_tensor_variable(b)
        piv = as_tensor_variable(piv)
        if not piv.dtype.startswith(("int", "uint")) or piv.ndim < 1:
            raise TypeError(f"lu_solve: the pivots must be an integer vector (or a stack), "
                            f"got {piv.type}")
        lu_, b = self._inputs(lu_, b)
        piv = piv if piv.dtype == "int32" else cast(piv, "int32")
        args = [lu_, piv, b]
        nb = max(x.ndim - r for x, r in zip(args, self.core_ranks))
        args = [pad_left(x, nb + r) for x, r in zip(args, self.core_ranks)]
        batch = _broadcast([x.type.shape[:nb] for x in args], self.name)
        n, rows = args[0].type.shape[-1], args[2].type.shape[nb]
        if n is not None and rows is not None and rows != n:
            raise ValueError(f"lu_solve: the right-hand side {args[2].type} has {rows} rows "
                             f"for a {n} x {n} matrix")
        core = args[2].type.shape[nb:]
        out = TensorType(args[0].dtype, batch + core).make_variable()
        return Apply(self, args, [out])

    def _inputs(self, *inputs):
        self.core_ranks, saved = (2, self.b_ndim), self.core_ranks
        try:
            return super()._inputs(*inputs)
        finally:
            self.core_ranks = saved

    def _sizes(self, shapes):
        sa, sp, sb = (tuple(s) for s in shapes)
        nb = len(sa) - 2
        n = sa[-1]
        if sa[-2] != n:
            raise ValueError(f"lu_solve: expected square matrices, got shape {sa}")
        if sp[nb] != n or sb[nb] != n:
            raise ValueError(f"lu_solve: pivots of shape {sp} and a right-hand side of "
                             f"shape {sb} for a {n} x {n} matrix")
        k = sb[-1] if self.b_ndim == 2 else 1
        batch = _broadcast([s[:nb] for s in (sa, sp, sb)], self.name)
        return nb, batch, n, k

    def infer_shape(self, node, shapes, values=None):
        nb, batch, n, k = self._sizes(shapes)
        return [batch + tuple(shapes[2][nb:])]

    def workspace(self, n, k):
        return 0, n

    def perform(self, node, inputs):
        lu_, piv, b = inputs
        nb = lu_.ndim - 2
        col = b if self.b_ndim == 2 else b[..., None]
        n = lu_.shape[-1]
        if piv.size and (piv.min() < 0 or piv.max() >= n):
            raise ValueError(f"lu_solve: a pivot is outside [0, {n})")
        batch = np.broadcast_shapes(lu_.shape[:nb], piv.shape[:nb], col.shape[:nb])
        lu_ = np.broadcast_to(lu_, batch + lu_.shape[nb:])
        perm = permutation(np.broadcast_to(piv, batch + piv.shape[nb:]))[..., None]
        col = np.broadcast_to(col, batch + col.shape[nb:])
        if self.trans:   # U^T L^T P^T x = b: P^T x = L^-T U^-T b, x = P (that)
            z = _subst(swap(lu_), _subst(swap(lu_), col, True, False), False, True)
            x = np.take_along_axis(z, np.argsort(perm, axis=-2), axis=-2)
        else:            # L U x = P^T b = b[perm]
            pb = np.take_along_axis(col, perm, axis=-2)
            x = _subst(lu_, _subst(lu_, pb, True, True), False, False)
        x = x if self.b_ndim == 2 else x[..., 0]
        return [np.ascontiguousarray(x, dtype=lu_.dtype)]

    def grad(self, inputs, output_grads):
        # A = P L U. For A x = b, Abar = -gb x^T with gb = A^-T xbar; for A^T x = b,
        # Abar = -x gb^T with gb = A^-1 xbar. Through A = P L U with c = P^T Abar:
        # Lbar = tril(c U^T, -1), Ubar = triu(L^T c), and P^T gb = L^-T U^-T xbar,
        # P^T x = L^-T U^-T b need no P.
        (lu_, piv, b), (g,) = inputs, output_grads
        x = self(lu_, piv, b)
        gb = LUSolve(1 - self.trans, self.b_ndim)(lu_, piv, g)
        low, up = tri(lu_, True, -1), tri(lu_, False)

        def lt_ut(v):   # L^-T U^-T v
            col = v if self.b_ndim == 2 else v.dimshuffle(*range(v.ndim), "x")
            y = SolveTriangular(lower=False, trans=1)(up, col)
            return SolveTriangular(lower=True, trans=1, unit_diagonal=True)(lu_, y)

        if self.b_ndim == 2:
            c = -(mm(lt_ut(g), mT(x)) if not self.trans else mm(lt_ut(b), mT(gb)))
        else:
            c = -(outer_last(lt_ut(g)[..., 0], x) if not self.trans
                  else outer_last(lt_ut(b)[..., 0], gb))
        glu = tri(mm(c, mT(up)), True, -1) + tri(mm(mT(low + _eye_like(lu_)), c), False)
        return [fit(glu, lu_), None, fit(gb, b)]


def _eye_like(x: Any) -> Any:
    from cgraph.tensor.linalg.tri import tri_mask  # noqa: PLC0415

    return tri_mask(x, True) * tri_mask(x, False)


def _subst(t: np.ndarray, b: np.ndarray, lower: bool, unit: bool) -> np.ndarray:
    """t^-1 b by substitution, t's lower (or upper) triangle, ones on its diagonal when
    `unit`; a zero on the diagonal gives inf/NaN (as LAPACK's trsm), no error."""
    n = t.shape[-1]
    x = np.zeros(np.broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:],
                 np.result_type(t, b))
    with np.errstate(all="ignore"):
        for i in range(n) if lower else range(n - 1, -1, -1):
            row = t[..., i, :i] if lower else t[..., i, i + 1:]
            done = x[..., :i, :] if lower else x[..., i + 1:, :]
            r = b[..., i, :] - np.einsum("...j,...jk->...k", row, done)
            x[..., i, :] = r if unit else r / t[..., i, i, None]
    return x


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: Any = 0, *,
             overwrite_b: bool = False, check_finite: bool = False,
             b_ndim: int | None = None) -> Any:
    """scipy.linalg.lu_solve((lu, piv), b, trans): x with A x = b (trans 0) or A^T x = b
    (1, 2) from lu_factor's (lu, piv), for b (..., n) or (..., n, k). The gradient
    flows to lu and b (not to the integer pivots)."""
    lu_, piv = lu_and_piv
    b = as_tensor_variable(b)
    nd = b_ndim if b_ndim is not None else (1 if b.ndim == 1 else 2)
    return LUSolve(trans, nd)(lu_, piv, b)


__all__ = ["LU", "LUFactor", "LUSolve", "lu", "lu_factor", "lu_solve"]
