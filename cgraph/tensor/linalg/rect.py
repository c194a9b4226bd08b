"""Factorizations of rectangular matrices (..., m, n), batched over leading axes: `qr`
(LAPACK geqrf + orgqr) and `svd` (gesdd), as numpy.linalg's, with their gradients.

The kernel is lapack.c.j2's (the rectangular branch): the layout's `n` holds the rows m
and `k` the columns n, so the buffer the template allocates holds a copy of the matrix
(m x n), an m x m square and m values besides the routine's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cgraph.graph.basic import Apply
from cgraph.tensor.extra_ops import expand_dims, eye
from cgraph.tensor.linalg.base import _LAPACK_INT_MAX, LapackOp, _broadcast
from cgraph.tensor.linalg.tri import diag_embed, is_zero, mm, mT, order, tri
from cgraph.tensor.math import concatenate, eq, minimum, where
from cgraph.tensor.type import TensorType

QR_MODES = ("reduced", "complete", "r", "raw")


class RectLapackOp(LapackOp):
    """A LAPACK routine on each m x n matrix of a batch (any m, n)."""

    rect = True
    square = False

    def out_core(self, m: Any, n: Any) -> list[tuple]:
        raise NotImplementedError

    def make_node(self, a: Any) -> Apply:
        (a,) = self._inputs(a)
        m, n = a.type.shape[-2:]
        outs = [TensorType(self.out_dtype(i, a.dtype), a.type.shape[:-2] + core).make_variable()
                for i, core in enumerate(self.out_core(m, n))]
        return Apply(self, [a], outs)

    def _sizes(self, shapes: Sequence[tuple]) -> tuple[int, tuple, int, int]:
        """(batch rank, batch shape, rows m, columns n) of one call's input shape."""
        sa = tuple(shapes[0])
        nb = len(sa) - 2
        m, n = sa[-2], sa[-1]
        lwork, liwork = self.workspace(m, n)
        if max(m, n, lwork, liwork, m * n + m * m + m) > _LAPACK_INT_MAX:
            raise ValueError(f"{self.name}: a {m} x {n} matrix is too large for LAPACK's "
                             "32-bit sizes")
        return nb, _broadcast([sa[:nb]], self.name), m, n

    def infer_shape(self, node: Any, shapes: list, values: list | None = None) -> list:
        _, batch, m, n = self._sizes(shapes)
        return [batch + core for core in self.out_core(m, n)]


def _kmin(m: Any, n: Any) -> Any:
    return None if m is None or n is None else min(m, n)


class QR(RectLapackOp):
    """numpy.linalg.qr of each matrix: A = Q R with Q's columns orthonormal and R upper
    triangular (LAPACK geqrf + orgqr, the same signs as numpy). `mode` "reduced": Q
    (m, k) and R (k, n) with k = min(m, n); "complete": Q (m, m) and R (m, n); "r": R
    (k, n) alone; "raw": geqrf's (h, tau), h (n, m) the transposed reflectors and R, tau
    (k,) their scales."""

    __props__ = ("mode",)
    name = kernel_name = "qr"

    def __init__(self, mode: str = "reduced"):
        if mode not in QR_MODES:
            raise ValueError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw', got "
                             f"{mode!r}")
        self.mode = mode
        self.out_ranks = {"r": (2,), "raw": (2, 1)}.get(mode, (2, 2))

    def kernel_flags(self) -> dict[str, Any]:
        return {"mode": self.mode}

    def out_core(self, m, n):
        k = m if self.mode == "complete" else _kmin(m, n)
        if self.mode == "raw":
            return [(n, m), (k,)]
        return [(k, n)] if self.mode == "r" else [(m, k), (k, n)]

    def workspace(self, m, n):
        return 64 * max(m, n, 1) + 1, 0

    def perform(self, node, inputs):
        (a,) = inputs
        if self.mode == "r":
            return [np.linalg.qr(a, "r").astype(a.dtype, copy=False)]
        q, r = np.linalg.qr(a, self.mode)
        return [np.ascontiguousarray(q, dtype=a.dtype), r.astype(a.dtype, copy=False)]

    def grad(self, inputs, output_grads):
        # A = [X | Y] with X its first k = min(m, n) columns and R = [U | V]: X = Q U
        # is a square or tall QR, whose gradient is (Walter and Lehmann 2018, "Algorithmic
        # differentiation of linear algebra functions", sec. 3.3; Seeger et al. 2017)
        # Xbar = (Qbar' + Q copyltu(M)) U^-T, M = U Ubar^T - Qbar'^T Q, with
        # Qbar' = Qbar + Y Vbar^T, since V = Q^T Y gives Ybar = Q Vbar (Liao et al. 2019).
        # copyltu(M) = tril(M) + tril(M, -1)^T. The complete mode's extra columns of Q
        # (m > n) are not determined by A: no gradient there.
        (a,) = inputs
        if self.mode == "complete":
            raise NotImplementedError("qr: no gradient in mode 'complete' (the columns of "
                                      "Q past n are not a function of A); use 'reduced'")
        if self.mode == "raw":
            raise NotImplementedError("qr: no gradient in mode 'raw'; use 'reduced'")
        q, r = QR("reduced")(a)
        qbar = output_grads[0] if self.mode == "reduced" else q.zeros_like()
        rbar = output_grads[-1]
        m, n = a.shape[a.ndim - 2], order(a)
        k = minimum(m, n)
        y, u = a[..., :, k:], r[..., :, :k]
        ubar, vbar = rbar[..., :, :k], rbar[..., :, k:]
        qbar = qbar + mm(y, mT(vbar))
        mm_ = mm(u, mT(ubar)) - mm(mT(qbar), q)
        copyltu = tri(mm_, True) + mT(tri(mm_, True, -1))
        b = qbar + mm(q, copyltu)
        xbar = mT(_solve_upper(u, mT(b)))          # b U^-T
        return [concatenate([xbar, mm(q, vbar)], axis=a.ndim - 1)]


def _solve_upper(u: Any, b: Any) -> Any:
    from cgraph.tensor.linalg.solve import SolveTriangular  # noqa: PLC0415

    return SolveTriangular(lower=False, trans=0, unit_diagonal=False, b_ndim=2)(u, b)


def qr(a: Any, mode: str = "reduced") -> Any:
    """numpy.linalg.qr of each matrix of a (..., m, n): (Q, R) in modes "reduced" (Q
    (..., m, k), R (..., k, n), k = min(m, n)) and "complete" (Q (..., m, m), R (..., m,
    n)), R (..., k, n) alone in mode "r", LAPACK's (h, tau) in mode "raw" (h (..., n,
    m)). float32/float64 (integers: cast first). The gradient exists in modes "reduced"
    and "r" (NotImplementedError in "complete" and "raw")."""
    out = QR(mode)(a)
    return out if mode == "r" else tuple(out)


class SVD(RectLapackOp):
    """numpy.linalg.svd of each matrix: A = U diag(s) Vh, s descending and >= 0 (LAPACK
    gesdd, as numpy). `full_matrices`: U (m, m) and Vh (n, n), else (m, k) and (k, n),
    k = min(m, n); `compute_uv=False`: s alone. No convergence raises
    numpy.linalg.LinAlgError."""

    __props__ = ("full_matrices", "compute_uv")
    name = kernel_name = "svd"

    def __init__(self, full_matrices: bool = True, compute_uv: bool = True):
        self.full_matrices, self.compute_uv = bool(full_matrices), bool(compute_uv)
        self.out_ranks = (2, 1, 2) if self.compute_uv else (1,)

    def kernel_flags(self):
        return {"vectors": self.compute_uv, "full": self.full_matrices}

    def out_core(self, m, n):
        k = _kmin(m, n)
        if not self.compute_uv:
            return [(k,)]
        if self.full_matrices:
            return [(m, m), (k,), (n, n)]
        return [(m, k), (k,), (k, n)]

    def workspace(self, m, n):
        mn, mx = min(m, n), max(m, n)
        if not self.compute_uv:
            return 3 * mn + max(mx, 7 * mn) + 32 * (m + n) + 1, 8 * mn
        # gesdd's minimum for JOBZ 'S'/'A' and blocking room, then room for V^T (n x n)
        return 5 * mn * mn + 8 * mn + mx + 32 * (m + n) + n * n + 1, 8 * mn

    def perform(self, node, inputs):
        (a,) = inputs
        try:
            if not self.compute_uv:
                return [np.linalg.svd(a, compute_uv=False).astype(a.dtype, copy=False)]
            u, s, vh = np.linalg.svd(a, full_matrices=self.full_matrices)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError("svd: the decomposition did not converge") from None
        return [x.astype(a.dtype, copy=False) for x in (u, s, vh)]

    def grad(self, inputs, output_grads):
        # Townsend 2016, "Differentiating the singular value decomposition", for the
        # reduced SVD A = U S V^T (k = min(m, n)), F_ij = 1/(s_j^2 - s_i^2) off the
        # diagonal:
        # Abar = U [(F o (U^T Ubar - Ubar^T U)) S + diag(sbar)
        #           + S (F o (V^T Vbar - Vbar^T V))] V^T
        #        + (I_m - U U^T) Ubar S^-1 V^T + U S^-1 Vbar^T (I_n - V V^T).
        # Repeated or zero singular values have no gradient (inf/NaN), as in PyTensor.
        (a,) = inputs
        if self.compute_uv and self.full_matrices:
            raise NotImplementedError("svd: no gradient with full_matrices=True (the extra "
                                      "singular vectors are not a function of A); use "
                                      "full_matrices=False")
        u, s, vh = SVD(False, True)(a)
        sbar = output_grads[1] if self.compute_uv else output_grads[0]
        inner = diag_embed(sbar)
        g = mm(mm(u, inner), vh)
        ubar, vhbar = (output_grads[0], output_grads[2]) if self.compute_uv else (None, None)
        if not self.compute_uv or (is_zero(ubar) and is_zero(vhbar)):
            return [g]  # s alone: defined where singular values repeat, too
        v, vbar = mT(vh), mT(vhbar)
        s2 = s * s
        gaps = expand_dims(s2, s.ndim - 1) - expand_dims(s2, s.ndim)   # s_j^2 - s_i^2
        on_diag = eq(eye(order(u), dtype=a.dtype), 1)
        f = where(on_diag, 0, 1 / where(on_diag, 1, gaps))
        ut_ub, vt_vb = mm(mT(u), ubar), mm(mT(v), vbar)
        srow = expand_dims(s, s.ndim - 1)   # multiplies columns: X S
        scol = expand_dims(s, s.ndim)       # multiplies rows: S X
        inner = inner + (f * (ut_ub - mT(ut_ub))) * srow + scol * (f * (vt_vb - mT(vt_vb)))
        g = mm(mm(u, inner), vh)
        ub_sinv = ubar / srow                                      # Ubar S^-1
        g = g + mm(ub_sinv - mm(u, mm(mT(u), ub_sinv)), vh)
        vb_sinv = vbar / srow                                      # Vbar S^-1
        g = g + mm(u, mT(vb_sinv - mm(v, mm(mT(v), vb_sinv))))
        return [g]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """numpy.linalg.svd of each matrix of a (..., m, n): (U, s, Vh) with s descending,
    or s alone with `compute_uv=False`. float32/float64. Gradients for compute_uv=False
    and full_matrices=False (NotImplementedError for full U/Vh); they are infinite
    where singular values repeat or vanish, as the decomposition is not differentiable
    there."""
    out = SVD(full_matrices, compute_uv)(a)
    return tuple(out) if compute_uv else out




class PInv(RectLapackOp):
    """numpy.linalg.pinv of each m x n matrix (an n x m result) from gesdd's reduced
    SVD: V diag(1/s) U^T with singular values at most rcond * max(s) taken as 0;
    `rcond=None`: the dtype's machine epsilon times max(m, n) (numpy.linalg.lstsq's
    default). An SVD that does not converge (NaN entries) raises
    numpy.linalg.LinAlgError. The gradient is Golub and Pereyra's (1973), defined
    where the rank does not change, repeated singular values included."""

    __props__ = ("rcond",)
    name = kernel_name = "pinv"

    def __init__(self, rcond: float | None = 1e-15):
        self.rcond = None if rcond is None else float(rcond)

    def kernel_flags(self):
        return {"rcond": self.rcond}

    def out_core(self, m, n):
        return [(n, m)]

    def workspace(self, m, n):
        return SVD(False, True).workspace(m, n)

    def perform(self, node, inputs):
        (a,) = inputs
        m, n = a.shape[-2:]
        if min(m, n) == 0:
            return [np.zeros(a.shape[:-2] + (n, m), a.dtype)]
        rcond = self.rcond
        if rcond is None:
            rcond = float(np.finfo(a.dtype).eps) * max(m, n)
        try:
            u, s, vh = np.linalg.svd(a, full_matrices=False)
        except np.linalg.LinAlgError:
            raise np.linalg.LinAlgError("pinv: the SVD did not converge") from None
        keep = s > rcond * s[..., :1]
        sinv = np.where(keep, 1 / np.where(keep, s, 1), 0)
        out = np.swapaxes(vh, -1, -2) * sinv[..., None, :] @ np.swapaxes(u, -1, -2)
        return [np.ascontiguousarray(out, dtype=a.dtype)]

    def grad(self, inputs, output_grads):
        # Golub and Pereyra 1973, "The differentiation of pseudo-inverses": with P = A+,
        # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, so
        # Abar = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A).
        (a,), (g,) = inputs, output_grads
        p = self(a)
        pt, gt = mT(p), mT(g)
        left = gt - mm(a, mm(p, gt))            # (I - A P) G^T
        right = gt - mm(mm(gt, p), a)           # G^T (I - P A)
        return [-mm(mm(pt, g), pt) + mm(mm(left, p), pt) + mm(mm(pt, p), right)]


__all__ = ["QR", "SVD", "PInv", "qr", "svd"]
