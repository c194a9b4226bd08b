"""Theano's and PyTensor's `tensor.nlinalg` path: the functions of `cgraph.tensor.linalg`
that numpy.linalg has (inverse, determinants, eigh, qr, svd)."""

from cgraph.tensor.linalg import (
    QR,
    SVD,
    Det,
    Eigh,
    MatrixInverse,
    SLogDet,
    det,
    eigh,
    eigvalsh,
    inv,
    matrix_inverse,
    qr,
    slogdet,
    svd,
)

__all__ = ["QR", "SVD", "Det", "Eigh", "MatrixInverse", "SLogDet", "det", "eigh", "eigvalsh",
           "inv", "matrix_inverse", "qr", "slogdet", "svd"]
