"""Theano's and PyTensor's `tensor.nlinalg` path: the functions of `cgraph.tensor.linalg`
that numpy.linalg has (inverse, determinants, eig, eigh, qr, svd, pinv,
lstsq, norm, matrix_power, kron, tensorsolve, tensorinv)."""

from cgraph.tensor.linalg import (
    QR,
    SVD,
    Det,
    Eig,
    Eigh,
    MatrixInverse,
    SLogDet,
    as_complex,
    det,
    eig,
    eigh,
    eigvalsh,
    inv,
    kron,
    lstsq,
    matrix_inverse,
    matrix_power,
    norm,
    pinv,
    qr,
    slogdet,
    svd,
    tensorinv,
    tensorsolve,
)

__all__ = ["QR", "SVD", "Det", "Eig", "Eigh", "MatrixInverse", "SLogDet", "as_complex", "det",
           "eig", "eigh", "eigvalsh",
           "inv", "kron", "lstsq", "matrix_inverse", "matrix_power", "norm", "pinv", "qr",
           "slogdet", "svd", "tensorinv", "tensorsolve"]
