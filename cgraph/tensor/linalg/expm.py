"""The matrix exponential (scipy.linalg.expm) of each square matrix of a batch: Higham's
scaling and squaring with the [13/13] Pade approximant, in C (lapack_expm.c.j2: gemm and
gesv of scipy-openblas32) and in numpy (mode PY), with its gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.linalg.base import LapackOp
from cgraph.tensor.linalg.tri import mT, order
from cgraph.tensor.math import concatenate

#: Pade [13/13] coefficients and the 1-norm bound of the scaled matrix (Higham 2005)
PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0,
          1187353796428800.0, 129060195264000.0, 10559470521600.0, 670442572800.0,
          33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
THETA13 = 5.371920351148152


def _expm_one(a: np.ndarray) -> np.ndarray:
    """expm of one matrix, the C kernel's algorithm in numpy."""
    b, n = PADE13, a.shape[-1]
    norm = np.abs(a).sum(axis=0).max() if n else 0.0
    s = int(np.ceil(np.log2(norm / THETA13))) if np.isfinite(norm) and norm > THETA13 else 0
    a = a * a.dtype.type(2.0 ** -s)
    eye = np.eye(n, dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 +
             b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + \
        b[0] * eye
    try:
        r = np.linalg.solve(v - u, v + u)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError("expm: the Pade approximant's denominator is "
                                    "singular") from None
    for _ in range(s):
        r = r @ r
    return r.astype(a.dtype, copy=False)


class Expm(LapackOp):
    """scipy.linalg.expm of each square matrix (..., n, n): scaling and squaring with
    the [13/13] Pade approximant (Higham 2005), as scipy; float32/float64. Infinite or
    NaN entries give NaN."""

    name = kernel_name = "expm"

    def workspace(self, n, k):
        return 7 * n * n, n

    def perform(self, node, inputs):
        (a,) = inputs
        flat = a.reshape(-1, *a.shape[-2:]) if a.size else a.reshape(0, *a.shape[-2:])
        with np.errstate(all="ignore"):
            out = [_expm_one(m) for m in flat]
        return [np.array(out, dtype=a.dtype).reshape(a.shape)]

    def grad(self, inputs, output_grads):
        # the adjoint of the Frechet derivative: Abar = L(A^T, G), the upper right
        # block of expm([[A^T, G], [0, A^T]]) (Najfeld and Havel 1995; Al-Mohy and
        # Higham 2009, "Computing the Frechet derivative of the matrix exponential")
        (a,), (g,) = inputs, output_grads
        at = mT(a)
        last = a.ndim - 1
        block = concatenate([concatenate([at, g], axis=last),
                             concatenate([at * 0, at], axis=last)], axis=last - 1)
        n = order(a)
        return [self(block)[..., :n, n:]]


def expm(a: Any) -> Any:
    """scipy.linalg.expm: the matrix exponential of each square matrix of a (..., n, n),
    float32/float64 (integers: cast first), with its gradient."""
    return Expm()(a)
