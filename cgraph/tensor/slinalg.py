"""Theano's and PyTensor's `tensor.slinalg` path: the functions of `cgraph.tensor.linalg`
that scipy.linalg has (Cholesky, LU and the solves, qr, svd,
block_diag, kron)."""

from cgraph.tensor.linalg import (
    LU,
    QR,
    SVD,
    Cholesky,
    CholeskySolve,
    LUFactor,
    LUSolve,
    Solve,
    SolveTriangular,
    block_diag,
    cho_solve,
    cholesky,
    eigvalsh,
    kron,
    lu,
    lu_factor,
    lu_solve,
    qr,
    solve,
    solve_triangular,
    svd,
)

__all__ = ["LU", "QR", "SVD", "Cholesky", "CholeskySolve", "LUFactor", "LUSolve", "Solve",
           "SolveTriangular", "block_diag", "cho_solve", "cholesky", "eigvalsh", "kron", "lu",
           "lu_factor", "lu_solve", "qr", "solve", "solve_triangular", "svd"]
