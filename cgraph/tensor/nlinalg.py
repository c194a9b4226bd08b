"""Theano's and PyTensor's `tensor.nlinalg` path: the functions of `cgraph.tensor.linalg`
that numpy.linalg has (inverse, determinants, eigh)."""

from cgraph.tensor.linalg import (
    Det,
    Eigh,
    MatrixInverse,
    SLogDet,
    det,
    eigh,
    eigvalsh,
    inv,
    matrix_inverse,
    slogdet,
)

__all__ = ["Det", "Eigh", "MatrixInverse", "SLogDet", "det", "eigh", "eigvalsh", "inv",
           "matrix_inverse", "slogdet"]
