"""The eigendecomposition of general square matrices (numpy.linalg.eig), batched over
leading axes, with complex results stored as (real, imag) pairs on a trailing axis of
length 2: cgraph has no complex dtype, and the pair layout is the one PyTensor's rfft
uses for complex values (cgraph/tensor/fft.py). `as_complex` turns such an array into
numpy's complex view.

The kernel is lapack.c.j2's (lapack_eig.c.j2: geev of scipy-openblas32); perform is
numpy.linalg.eig (mode PY).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cgraph.tensor.extra_ops import expand_dims
from cgraph.tensor.linalg.base import LapackOp
from cgraph.tensor.linalg.solve import Solve
from cgraph.tensor.linalg.tri import is_zero, mT, order
from cgraph.tensor.math import concatenate


def as_complex(a: Any) -> np.ndarray:
    """numpy's complex view of a real array whose last axis (of length 2) holds (real,
    imag) pairs, such as `eig`'s results: shape (..., 2) float64 -> (...) complex128,
    float32 -> complex64. The result shares `a`'s memory when `a`'s last axis is
    contiguous (else it is a copy).

    Raises ValueError if the last axis' length is not 2 and TypeError if `a` is not
    float32 or float64.
    """
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"as_complex: expected a float32 or float64 array, got {a.dtype}")
    if a.ndim == 0 or a.shape[-1] != 2:
        raise ValueError(f"as_complex: the last axis must hold (real, imag) pairs (length "
                         f"2), got shape {a.shape}")
    if a.strides[-1] != a.itemsize or any(s % (2 * a.itemsize) for s in a.strides[:-1]):
        a = np.ascontiguousarray(a)
    kind = np.complex64 if a.dtype == np.float32 else np.complex128
    return a.view(kind)[..., 0]


def _pairs(z: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A complex (or real) array as (real, imag) pairs on a new last axis."""
    return np.stack([z.real, np.imag(z)], axis=-1).astype(dtype)


class Eig(LapackOp):
    """numpy.linalg.eig of each square matrix (..., n, n): the eigenvalues w (..., n, 2)
    and the right eigenvectors v (..., n, n, 2) (columns, unit 2-norm), complex numbers
    stored as (real, imag) pairs on the last axis (`as_complex` gives numpy's complex
    arrays). The order is LAPACK's (geev), as numpy's; a complex-conjugate pair is
    adjacent, the one with positive imaginary part first.

    A matrix with NaN or infinite entries, or whose QR iteration does not converge,
    raises numpy.linalg.LinAlgError naming the node, as numpy. The gradient is defined
    for w where the eigenvalues are distinct; the gradient through v raises
    NotImplementedError.
    """

    name = kernel_name = "eig"
    out_ranks = (1, 2)

    def out_core(self, n, k):
        return [(n, 2), (n, n, 2)]

    def workspace(self, n, k):
        # the eigenvectors (n*n), then geev's work: (2 + a block size of 64) n >= 4n
        return n * n + max(66 * n, 1), 0

    def extra_slots(self):
        return {"pair": 2}

    def extra_params(self, out_layouts, in_layouts):
        return {"pair": [strides[-1] for _, strides in out_layouts]}

    def perform(self, node, inputs):
        (a,) = inputs
        try:
            w, v = np.linalg.eig(a)
        except np.linalg.LinAlgError as e:
            what = ("the matrix contains NaN or infinity" if not np.isfinite(a).all()
                    else f"the eigenvalues did not converge ({e})")
            raise np.linalg.LinAlgError(f"eig: {what}") from None
        return [_pairs(w, a.dtype), _pairs(v, a.dtype)]

    def grad(self, inputs, output_grads):
        # With W = V^-1 (rows: the left eigenvectors scaled so that W V = I),
        # dw_i = (W dA V)_ii, so for a real A and the cotangent g = gr + i gi of w
        # Abar = Re(W^T diag(conj g) V^T) (Giles 2008, "An extended collection of matrix
        # derivative results", sec. 3.1; JAX's eig rule). With X = diag(conj g) V^T,
        # Y = V^-T X solves the complex system as the real block system
        # [[Vr^T, -Vi^T], [Vi^T, Vr^T]] [Yr; Yi] = [Xr; Xi], and Abar = Yr.
        (a,), (gw, gv) = inputs, output_grads
        if not is_zero(gv):
            raise NotImplementedError(
                "eig: no gradient through the eigenvectors v (each is defined only up to "
                "a complex scale, which LAPACK fixes by a normalization cgraph does not "
                "differentiate); the gradient through the eigenvalues w is defined")
        _, v = self(a)
        vr, vi = mT(v[..., 0]), mT(v[..., 1])
        last = a.ndim - 1
        gr = expand_dims(gw[..., 0], last)
        gi = expand_dims(gw[..., 1], last)
        xr = gr * vr + gi * vi
        xi = gr * vi - gi * vr
        block = concatenate([concatenate([vr, -vi], axis=last),
                             concatenate([vi, vr], axis=last)], axis=last - 1)
        y = Solve("gen")(block, concatenate([xr, xi], axis=last - 1))
        return [y[..., :order(a), :]]


def eig(a: Any) -> tuple[Any, Any]:
    """numpy.linalg.eig of each square matrix of a (..., n, n), float32/float64 (cast
    integers first), as real arrays with (real, imag) pairs on a last axis of length 2:
    the eigenvalues w (..., n, 2) and the eigenvectors v (..., n, n, 2), whose column
    j (unit 2-norm) belongs to w[..., j, :]. `as_complex(w)` and `as_complex(v)` give
    numpy's complex arrays of the compiled results. Gradient: through w only."""
    w, v = Eig()(a)
    return w, v
